//! A federation's pod spec, typed: `serviceAccountName`, then what its method adds to the pod
//! (containers' variables and mounts, volumes, the token sidecar). Serialized field by field in
//! the order written here, which is the order of the files' keys; borrowing the model, so an
//! organisation's tens of thousands of patches are written without building each spec as a JSON
//! value first (see [`yaml::write_serialized`](super::super::yaml::write_serialized)).

use std::borrow::Cow;

use serde::Serialize;

use super::super::templates::scripts;
use super::{AWS_CONFIG_DIR, AWS_TOKEN_DIR, GCP_CONFIG_DIR, GCP_CONFIG_FILE, GSA_TOKEN_DIR};
use crate::model::{Federation, Method, ProviderKind, Source, Target, TokenDelivery};
use crate::plan::gcp::GCP_TOKEN_DIR;

/// The token file the sidecar writes, in [`GSA_TOKEN_DIR`].
const GSA_TOKEN_FILE: &str = "/var/run/secrets/crossfed/aws/token";
/// The projected token for AWS, in [`AWS_TOKEN_DIR`].
const AWS_TOKEN_FILE: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token";
/// The AWS config of `credential_process` profiles, in [`AWS_CONFIG_DIR`].
const AWS_CONFIG_FILE: &str = "/etc/crossfed/aws/config";
/// The credential config for GCP: [`GCP_CONFIG_FILE`] in [`GCP_CONFIG_DIR`].
const GCP_CONFIG_PATH: &str = "/etc/workload-identity/credential-configuration.json";
// Spelled out whole (they are borrowed by every pod spec), and checked to stay the directory
// constants they extend.
const _: () = assert!(const_str_eq(GSA_TOKEN_FILE, GSA_TOKEN_DIR, "/token"));
const _: () = assert!(const_str_eq(AWS_TOKEN_FILE, AWS_TOKEN_DIR, "/token"));
const _: () = assert!(const_str_eq(AWS_CONFIG_FILE, AWS_CONFIG_DIR, "/config"));
const _: () = assert!(const_str_eq(
    GCP_CONFIG_PATH,
    GCP_CONFIG_DIR,
    "/credential-configuration.json"
));
const _: () = assert!(const_str_eq(
    "/credential-configuration.json",
    "/",
    GCP_CONFIG_FILE
));

/// A pod spec as a patch holds it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PodSpec<'a> {
    service_account_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    init_containers: Option<[Sidecar<'a>; 1]>,
    containers: Vec<Container<'a>>,
    volumes: Vec<Volume<'a>>,
}

#[derive(Debug, Clone, Serialize)]
struct EnvVar<'a> {
    name: &'static str,
    value: Cow<'a, str>,
}

fn env<'a>(name: &'static str, value: impl Into<Cow<'a, str>>) -> EnvVar<'a> {
    EnvVar {
        name,
        value: value.into(),
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct VolumeMount {
    name: &'static str,
    mount_path: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    read_only: Option<bool>,
}

/// One of the user's containers, named in the spec.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Container<'a> {
    name: &'a str,
    env: Vec<EnvVar<'a>>,
    volume_mounts: Vec<VolumeMount>,
}

/// The native sidecar that keeps a Google ID token on disk for the AWS SDK.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Sidecar<'a> {
    name: &'static str,
    image: &'a str,
    /// A native sidecar (Kubernetes >= 1.29): started before the app, stopped after it.
    restart_policy: &'static str,
    command: [&'static str; 3],
    env: [EnvVar<'a>; 2],
    /// The app starts only once the first token is on disk.
    startup_probe: Probe,
    resources: Resources,
    security_context: SecurityContext,
    volume_mounts: [VolumeMount; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    exec: Exec,
    period_seconds: u32,
    failure_threshold: u32,
}

#[derive(Debug, Serialize)]
struct Exec {
    command: [&'static str; 3],
}

#[derive(Debug, Serialize)]
struct Resources {
    requests: Requests,
    limits: Limits,
}

#[derive(Debug, Serialize)]
struct Requests {
    cpu: &'static str,
    memory: &'static str,
}

#[derive(Debug, Serialize)]
struct Limits {
    memory: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SecurityContext {
    allow_privilege_escalation: bool,
    read_only_root_filesystem: bool,
    run_as_non_root: bool,
    run_as_user: u32,
    run_as_group: u32,
    capabilities: Capabilities,
}

#[derive(Debug, Serialize)]
struct Capabilities {
    drop: [&'static str; 1],
}

/// A volume: its name, then its one source.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Volume<'a> {
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    empty_dir: Option<EmptyDir>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config_map: Option<ConfigMapSource<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    projected: Option<Projected<'a>>,
}

impl<'a> Volume<'a> {
    fn empty_dir(name: &'static str) -> Self {
        Volume {
            name,
            empty_dir: Some(EmptyDir {
                medium: "Memory",
                size_limit: "1Mi",
            }),
            config_map: None,
            projected: None,
        }
    }

    fn config_map(name: &'static str, source: ConfigMapSource<'a>) -> Self {
        Volume {
            name,
            empty_dir: None,
            config_map: Some(source),
            projected: None,
        }
    }

    /// A projected service-account token for `audience`, at `token` in the volume.
    fn token(name: &'static str, audience: &'a str, expiration_seconds: u32) -> Self {
        Volume {
            name,
            empty_dir: None,
            config_map: None,
            projected: Some(Projected {
                sources: [TokenSource {
                    service_account_token: TokenProjection {
                        audience,
                        expiration_seconds,
                        path: "token",
                    },
                }],
            }),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EmptyDir {
    medium: &'static str,
    size_limit: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfigMapSource<'a> {
    name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_mode: Option<u32>,
}

#[derive(Debug, Serialize)]
struct Projected<'a> {
    sources: [TokenSource<'a>; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenSource<'a> {
    service_account_token: TokenProjection<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenProjection<'a> {
    audience: &'a str,
    expiration_seconds: u32,
    path: &'static str,
}

/// The name of the ConfigMap that holds a federation's credential config.
pub(super) fn gcp_configmap_name(f: &Federation) -> String {
    format!("crossfed-gcp-{}", f.name)
}

/// Each of `containers` with `env` and `mounts`.
fn containers<'a>(
    containers: &'a [String],
    env: &[EnvVar<'a>],
    mounts: &[VolumeMount],
) -> Vec<Container<'a>> {
    containers
        .iter()
        .map(|name| Container {
            name,
            env: env.to_vec(),
            volume_mounts: mounts.to_vec(),
        })
        .collect()
}

/// `AWS_*` variables for the web-identity credential provider of every AWS SDK.
fn aws_web_identity_env<'a>(target: &'a Target, token_file: &'static str) -> Vec<EnvVar<'a>> {
    let Target::AwsRole {
        arn,
        session_name,
        region,
        ..
    } = target
    else {
        return Vec::new();
    };
    vec![
        env("AWS_ROLE_ARN", arn.as_str()),
        env("AWS_WEB_IDENTITY_TOKEN_FILE", token_file),
        env("AWS_ROLE_SESSION_NAME", session_name.as_str()),
        env("AWS_STS_REGIONAL_ENDPOINTS", "regional"),
        env("AWS_REGION", region.as_str()),
        env("AWS_DEFAULT_REGION", region.as_str()),
    ]
}

/// The pod spec of federation `f`, running as Kubernetes service account `service_account`, or
/// `None` when the federation needs no pod changes. `aws_federations` counts the service
/// account's federations into AWS; `credential_process_config` names the ConfigMap of its
/// `credential_process` profiles.
pub(super) fn spec<'a>(
    service_account: &'a str,
    aws_federations: usize,
    f: &'a Federation,
    credential_process_config: &'a str,
) -> Option<PodSpec<'a>> {
    let Source::Kubernetes {
        containers: names, ..
    } = &f.source
    else {
        return None;
    };
    let (init_containers, containers, volumes) = match &f.method {
        Method::GoogleIdToken {
            audience,
            delivery: TokenDelivery::Sidecar,
            sidecar_image,
            ..
        } => sidecar(names, &f.target, audience, sidecar_image),
        Method::GoogleIdToken {
            delivery: TokenDelivery::CredentialProcess,
            ..
        } => {
            let Target::AwsRole { region, .. } = &f.target else {
                return None;
            };
            let mut env_vars = vec![
                env("AWS_CONFIG_FILE", AWS_CONFIG_FILE),
                env("AWS_SDK_LOAD_CONFIG", "1"),
            ];
            // A single AWS federation is the pod's default profile; with several, the app picks one.
            if aws_federations == 1 {
                env_vars.push(env("AWS_PROFILE", f.name.as_str()));
            }
            env_vars.push(env("AWS_REGION", region.as_str()));
            env_vars.push(env("AWS_DEFAULT_REGION", region.as_str()));
            let mounts = [VolumeMount {
                name: "crossfed-aws-config",
                mount_path: AWS_CONFIG_DIR,
                read_only: Some(true),
            }];
            let config = ConfigMapSource {
                name: Cow::Borrowed(credential_process_config),
                default_mode: Some(0o555),
            };
            (
                None,
                containers(names, &env_vars, &mounts),
                vec![Volume::config_map("crossfed-aws-config", config)],
            )
        }
        Method::AwsOidcProvider {
            audience,
            token_expiration_seconds,
            ..
        } => {
            let mounts = [VolumeMount {
                name: "aws-iam-token",
                mount_path: AWS_TOKEN_DIR,
                read_only: Some(true),
            }];
            let env_vars = aws_web_identity_env(&f.target, AWS_TOKEN_FILE);
            (
                None,
                containers(names, &env_vars, &mounts),
                vec![Volume::token(
                    "aws-iam-token",
                    audience,
                    *token_expiration_seconds,
                )],
            )
        }
        Method::WorkloadIdentityPool {
            provider_kind:
                ProviderKind::Oidc {
                    audience,
                    token_expiration_seconds,
                    ..
                },
            ..
        } => gcp(names, f, audience, *token_expiration_seconds),
        Method::WorkloadIdentityPool { .. } => return None,
    };
    Some(PodSpec {
        service_account_name: service_account,
        init_containers,
        containers,
        volumes,
    })
}

/// A pod spec's parts after its service account: init containers, containers, volumes.
type Parts<'a> = (
    Option<[Sidecar<'a>; 1]>,
    Vec<Container<'a>>,
    Vec<Volume<'a>>,
);

/// A Google-ID-token federation with sidecar delivery: a native sidecar keeps the token file
/// fresh for the AWS SDK's web-identity provider.
fn sidecar<'a>(
    names: &'a [String],
    target: &'a Target,
    audience: &'a str,
    image: &'a str,
) -> Parts<'a> {
    let sidecar = Sidecar {
        name: "crossfed-aws-token",
        image,
        restart_policy: "Always",
        command: ["/bin/sh", "-c", scripts::GKE_TOKEN_REFRESHER],
        env: [
            env("TOKEN_AUDIENCE", audience),
            env("TOKEN_FILE", GSA_TOKEN_FILE),
        ],
        startup_probe: Probe {
            exec: Exec {
                command: ["test", "-s", GSA_TOKEN_FILE],
            },
            period_seconds: 1,
            failure_threshold: 120,
        },
        resources: Resources {
            requests: Requests {
                cpu: "5m",
                memory: "16Mi",
            },
            limits: Limits { memory: "32Mi" },
        },
        security_context: SecurityContext {
            allow_privilege_escalation: false,
            read_only_root_filesystem: true,
            run_as_non_root: true,
            run_as_user: 65532,
            run_as_group: 65532,
            capabilities: Capabilities { drop: ["ALL"] },
        },
        volume_mounts: [VolumeMount {
            name: "crossfed-aws-token",
            mount_path: GSA_TOKEN_DIR,
            read_only: None,
        }],
    };
    let mounts = [VolumeMount {
        name: "crossfed-aws-token",
        mount_path: GSA_TOKEN_DIR,
        read_only: Some(true),
    }];
    (
        Some([sidecar]),
        containers(
            names,
            &aws_web_identity_env(target, GSA_TOKEN_FILE),
            &mounts,
        ),
        vec![Volume::empty_dir("crossfed-aws-token")],
    )
}

/// A federation into GCP: projected token, credential config, variables.
fn gcp<'a>(
    names: &'a [String],
    f: &'a Federation,
    audience: &'a str,
    token_expiration_seconds: u32,
) -> Parts<'a> {
    let env_vars = [
        env("GOOGLE_APPLICATION_CREDENTIALS", GCP_CONFIG_PATH),
        env("CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE", GCP_CONFIG_PATH),
    ];
    let mounts = [
        VolumeMount {
            name: "crossfed-gcp-token",
            mount_path: GCP_TOKEN_DIR,
            read_only: Some(true),
        },
        VolumeMount {
            name: "crossfed-gcp-config",
            mount_path: GCP_CONFIG_DIR,
            read_only: Some(true),
        },
    ];
    let config = ConfigMapSource {
        name: Cow::Owned(gcp_configmap_name(f)),
        default_mode: None,
    };
    (
        None,
        containers(names, &env_vars, &mounts),
        vec![
            Volume::token("crossfed-gcp-token", audience, token_expiration_seconds),
            Volume::config_map("crossfed-gcp-config", config),
        ],
    )
}

/// Whether `whole` is `start` followed by `end`, at compile time: the paths above are spelled
/// out whole, and must stay the directory constants they extend.
const fn const_str_eq(whole: &str, start: &str, end: &str) -> bool {
    let (whole, start, end) = (whole.as_bytes(), start.as_bytes(), end.as_bytes());
    if whole.len() != start.len() + end.len() {
        return false;
    }
    let mut i = 0;
    while i < whole.len() {
        let expected = if i < start.len() {
            start[i]
        } else {
            end[i - start.len()]
        };
        if whole[i] != expected {
            return false;
        }
        i += 1;
    }
    true
}
