//! GCP artifacts: gcloud scripts for GKE Workload Identity bindings and for workload-identity
//! pools, providers and IAM bindings; `external_account` credential configs.
//!
//! Providers admit only what the spec names: an OIDC provider's attribute condition lists the
//! exact `system:serviceaccount:NS:KSA` subjects of its cluster, an AWS provider's lists the exact
//! assumed-role ARN prefixes (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/`, the trailing `/` so
//! `role` never matches `role2`). AWS roles are bound on `attribute.aws_role`, never on
//! `google.subject`, whose session part (the instance id) changes.
//!
//! Credential configs reproduce, key for key and in gcloud's order, what
//! `gcloud iam workload-identity-pools create-cred-config` writes; the per-pool
//! `create-cred-configs.sh` runs exactly those commands so a reviewer can diff the two. Because
//! google-auth no longer validates endpoint hosts, every config is linted here before it ships.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};

use super::kubernetes::sts_endpoint;
use super::templates::{self, TEMPLATE_GCP_POOL, TEMPLATE_GKE_BINDINGS};
use super::{FilePlan, Header, RenderError, to_json};
use crate::diag::{Code, Diagnostic};
use crate::model::{Federation, GkeCluster, Method, Pool, ProviderKind, Source, Spec, Target};

/// Where the projected token for GCP is mounted in EKS pods.
pub const GCP_TOKEN_DIR: &str = "/var/run/secrets/sts.googleapis.com/serviceaccount";
/// Where the credential config is mounted in EKS pods.
pub const GCP_CONFIG_DIR: &str = "/etc/workload-identity";
/// The credential config's file name.
pub const GCP_CONFIG_FILE: &str = "credential-configuration.json";
/// Google STS token endpoint.
pub const TOKEN_URL: &str = "https://sts.googleapis.com/v1/token";
/// Longest attribute condition GCP accepts.
pub const MAX_CONDITION_CHARS: usize = 4096;
/// EC2 instance metadata (IMDS) base.
const IMDS: &str = "http://169.254.169.254";

/// The mapping Google documents for AWS providers.
const AWS_ROLE_MAPPING: &str = "assertion.arn.contains('assumed-role') ? assertion.arn.extract('{account_arn}assumed-role/') + 'assumed-role/' + assertion.arn.extract('assumed-role/{role_name}/') : assertion.arn";

/// The project a Google service account lives in, from its email, if it is user-managed.
#[must_use]
pub fn service_account_project(email: &str) -> Option<&str> {
    email
        .split_once('@')?
        .1
        .strip_suffix(".iam.gserviceaccount.com")
}

/// The GKE Workload Identity member of a Kubernetes service account.
#[must_use]
pub fn gke_member(cluster: &GkeCluster, namespace: &str, service_account: &str) -> String {
    format!(
        "serviceAccount:{}[{namespace}/{service_account}]",
        cluster.workload_pool()
    )
}

/// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE`: the `attribute.aws_role` of EC2 instances.
fn assumed_role(spec: &Spec, role_arn: &str) -> String {
    let role = &spec.roles[role_arn];
    format!(
        "arn:{}:sts::{}:assumed-role/{}",
        role.partition.as_str(),
        role.account,
        role.name
    )
}

/// The IAM member that stands for the federated workload in a pool.
#[must_use]
pub fn member(spec: &Spec, f: &Federation) -> Option<String> {
    let Method::WorkloadIdentityPool { pool, .. } = &f.method else {
        return None;
    };
    let pool = &spec.pools[pool];
    match &f.source {
        Source::Kubernetes { .. } => Some(pool.principal(f.source.kubernetes_subject()?)),
        Source::Ec2 { role, .. } => Some(pool.principal_set("aws_role", &assumed_role(spec, role))),
        Source::Gce { .. } => None,
    }
}

/// A workload-identity provider, as rendered.
#[derive(Debug, Clone, Serialize)]
struct ProviderContext {
    id: String,
    kind: &'static str,
    /// `--issuer-uri` (OIDC) or `--account-id` (AWS).
    source: String,
    allowed_audiences: String,
    attribute_mapping: String,
    attribute_condition: String,
    federations: String,
}

/// Providers of one pool, from the federations through it.
fn providers(spec: &Spec, pool: &str) -> Vec<(ProviderContext, usize)> {
    let mut grouped: BTreeMap<&str, Vec<&Federation>> = BTreeMap::new();
    for f in &spec.federations {
        if let Method::WorkloadIdentityPool {
            pool: p, provider, ..
        } = &f.method
            && p == pool
        {
            grouped.entry(provider).or_default().push(f);
        }
    }
    grouped
        .into_iter()
        .filter_map(|(id, federations)| {
            let first = federations.first()?;
            let Method::WorkloadIdentityPool { provider_kind, .. } = &first.method else { return None };
            let names = federations.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ");
            let context = match provider_kind {
                ProviderKind::Oidc { issuer, .. } => {
                    let audiences: BTreeSet<&str> = federations
                        .iter()
                        .filter_map(|f| match &f.method {
                            Method::WorkloadIdentityPool { provider_kind: ProviderKind::Oidc { audience, .. }, .. } => Some(audience.as_str()),
                            _ => None,
                        })
                        .collect();
                    let subjects: BTreeSet<String> = federations.iter().filter_map(|f| f.source.kubernetes_subject().map(str::to_owned)).collect();
                    ProviderContext {
                        id: id.to_owned(),
                        kind: "oidc",
                        source: issuer.clone(),
                        allowed_audiences: audiences.into_iter().collect::<Vec<_>>().join(","),
                        attribute_mapping: [
                            "google.subject=assertion.sub",
                            "attribute.namespace=assertion['kubernetes.io']['namespace']",
                            "attribute.service_account_name=assertion['kubernetes.io']['serviceaccount']['name']",
                        ]
                        .join(","),
                        attribute_condition: format!("assertion.sub in [{}]", subjects.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ")),
                        federations: names,
                    }
                }
                ProviderKind::Aws { account } => {
                    let roles: BTreeSet<String> = federations
                        .iter()
                        .filter_map(|f| match &f.source {
                            Source::Ec2 { role, .. } => Some(assumed_role(spec, role)),
                            _ => None,
                        })
                        .collect();
                    ProviderContext {
                        id: id.to_owned(),
                        kind: "aws",
                        source: account.clone(),
                        allowed_audiences: String::new(),
                        attribute_mapping: format!("google.subject=assertion.arn,attribute.aws_role={AWS_ROLE_MAPPING}"),
                        attribute_condition: roles.iter().map(|r| format!("assertion.arn.startsWith('{r}/')")).collect::<Vec<_>>().join(" || "),
                        federations: names,
                    }
                }
            };
            Some((context, first.index))
        })
        .collect()
}

/// The credential config of a federation into GCP, in gcloud's key order.
#[must_use]
pub fn credential_config(spec: &Spec, f: &Federation) -> Option<Value> {
    let Method::WorkloadIdentityPool {
        pool,
        provider,
        provider_kind,
    } = &f.method
    else {
        return None;
    };
    let pool = &spec.pools[pool];
    let (subject_token_type, credential_source) = match (provider_kind, &f.source) {
        (ProviderKind::Oidc { .. }, _) => (
            "urn:ietf:params:oauth:token-type:jwt",
            json!({"file": format!("{GCP_TOKEN_DIR}/token"), "format": {"type": "text"}}),
        ),
        (ProviderKind::Aws { .. }, Source::Ec2 { role, .. }) => {
            let partition = spec.roles[role].partition;
            (
                "urn:ietf:params:aws:token-type:aws4_request",
                json!({
                    "environment_id": "aws1",
                    "region_url": format!("{IMDS}/latest/meta-data/placement/availability-zone"),
                    "url": format!("{IMDS}/latest/meta-data/iam/security-credentials"),
                    "regional_cred_verification_url": format!("{}?Action=GetCallerIdentity&Version=2011-06-15", sts_endpoint("{region}", partition)),
                    "imdsv2_session_token_url": format!("{IMDS}/latest/api/token"),
                }),
            )
        }
        _ => return None,
    };
    let mut config = json!({
        "universe_domain": "googleapis.com",
        "type": "external_account",
        "audience": pool.provider_audience(provider),
        "subject_token_type": subject_token_type,
        "token_url": TOKEN_URL,
        "credential_source": credential_source,
    });
    match &f.target {
        Target::GcpServiceAccount {
            email,
            token_lifetime_seconds,
        } => {
            config["service_account_impersonation_url"] = json!(format!(
                "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{email}:generateAccessToken"
            ));
            if let Some(lifetime) = token_lifetime_seconds {
                config["service_account_impersonation"] =
                    json!({"token_lifetime_seconds": lifetime});
            }
        }
        _ => config["token_info_url"] = json!("https://sts.googleapis.com/v1/introspect"),
    }
    Some(config)
}

/// Checks a credential config for the endpoint mistakes google-auth no longer catches.
/// An empty list means the config is sound.
#[must_use]
pub fn lint_credential_config(config: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let text = |key: &str| config.get(key).and_then(Value::as_str).unwrap_or_default();
    let audience_ok = text("audience").strip_prefix("//iam.googleapis.com/projects/").is_some_and(|rest| {
        let parts: Vec<&str> = rest.split('/').collect();
        let id = |s: &str| (4..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        matches!(parts.as_slice(), [number, "locations", "global", "workloadIdentityPools", pool, "providers", provider]
            if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) && id(pool) && id(provider))
    });
    if !audience_ok {
        problems.push(format!("audience `{}` is not //iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER", text("audience")));
    }
    if text("token_url") != TOKEN_URL {
        problems.push(format!(
            "token_url `{}` is not {TOKEN_URL}",
            text("token_url")
        ));
    }
    if config.get("type").and_then(Value::as_str) != Some("external_account") {
        problems.push("type is not `external_account`".to_owned());
    }
    if let Some(url) = config
        .get("service_account_impersonation_url")
        .and_then(Value::as_str)
    {
        let ok = url
            .strip_prefix("https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/")
            .and_then(|rest| rest.strip_suffix(":generateAccessToken"))
            .is_some_and(|email| email.contains('@') && !email.contains('/'));
        if !ok {
            problems.push(format!("service_account_impersonation_url `{url}` is not the IAM Credentials generateAccessToken URL"));
        }
    }
    let source = config
        .get("credential_source")
        .cloned()
        .unwrap_or(Value::Null);
    if source.get("environment_id").is_some() {
        for key in ["region_url", "url", "imdsv2_session_token_url"] {
            let url = source.get(key).and_then(Value::as_str).unwrap_or_default();
            if !url.starts_with(&format!("{IMDS}/latest/")) {
                problems.push(format!(
                    "credential_source.{key} `{url}` is not on the EC2 metadata address {IMDS}"
                ));
            }
        }
        let verify = source
            .get("regional_cred_verification_url")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !(verify.starts_with("https://sts.{region}.amazonaws.com")
            && verify.ends_with("?Action=GetCallerIdentity&Version=2011-06-15"))
        {
            problems.push(format!("credential_source.regional_cred_verification_url `{verify}` is not the regional STS GetCallerIdentity URL"));
        }
    } else if source.get("file").and_then(Value::as_str).is_none() {
        problems.push("credential_source has neither `environment_id` nor `file`".to_owned());
    }
    problems
}

/// Limits of GCP artifacts that only show once they are built.
#[must_use]
pub fn check_limits(spec: &Spec) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for pool in spec.pools.keys() {
        for (provider, index) in providers(spec, pool) {
            if provider.attribute_condition.len() > MAX_CONDITION_CHARS {
                out.push(
                    Diagnostic::error(Code::CloudLimit, format!("/federations/{index}/via"), format!("the attribute condition of provider `{}` would be {} characters, over GCP's limit of {MAX_CONDITION_CHARS}", provider.id, provider.attribute_condition.len()))
                        .help("spread the federations over several providers (`via.provider`) or pools")
                        .at_key(),
                );
            }
        }
    }
    out
}

/// Context of `gke-workload-identity.sh`. Fields are load-bearing: used by
/// templates/gke-workload-identity.sh.tera.
#[derive(Debug, Serialize)]
struct GkeBindingsContext<'a> {
    header: &'a str,
    project: &'a str,
    bindings: Vec<GkeBinding>,
}

#[derive(Debug, Clone, Serialize)]
struct GkeBinding {
    service_account: String,
    member: String,
    federations: String,
}

/// Context of `gcp-pool.sh`. Fields are load-bearing: used by templates/gcp-pool.sh.tera.
#[derive(Debug, Serialize)]
struct PoolContext<'a> {
    header: &'a str,
    pool: &'a Pool,
    providers: Vec<ProviderContext>,
    impersonations: Vec<Binding>,
    grants: Vec<Binding>,
    cred_configs: Vec<CredConfigCommand>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct Binding {
    /// The service account (impersonation) or project (grants).
    resource: String,
    role: String,
    member: String,
    federation: String,
}

#[derive(Debug, Serialize)]
struct CredConfigCommand {
    federation: String,
    provider_resource: String,
    source_flags: Vec<String>,
    service_account: Option<String>,
    token_lifetime_seconds: Option<u32>,
}

/// Renders every GCP file.
///
/// # Errors
/// On a template bug, or when a credential config fails its lint (a crossfed bug).
pub fn render(spec: &Spec, header: &Header, files: &mut FilePlan) -> Result<(), RenderError> {
    render_gke_bindings(spec, header, files)?;
    for pool in spec.pools.values() {
        let providers: Vec<ProviderContext> = providers(spec, &pool.id)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        if providers.is_empty() {
            continue;
        }
        let dir = format!("gcp/{}/pools/{}", pool.project, pool.id);
        let mut context = PoolContext {
            header: header.text(),
            pool,
            providers,
            impersonations: Vec::new(),
            grants: Vec::new(),
            cred_configs: Vec::new(),
        };
        for f in &spec.federations {
            let Method::WorkloadIdentityPool {
                pool: p,
                provider,
                provider_kind,
            } = &f.method
            else {
                continue;
            };
            if *p != pool.id {
                continue;
            }
            let Some(member) = member(spec, f) else {
                continue;
            };
            match &f.target {
                Target::GcpServiceAccount { email, .. } => context.impersonations.push(Binding {
                    resource: email.clone(),
                    role: "roles/iam.workloadIdentityUser".to_owned(),
                    member,
                    federation: f.name.clone(),
                }),
                Target::GcpRoles { project, roles } => {
                    for role in roles {
                        context.grants.push(Binding {
                            resource: project.clone(),
                            role: role.clone(),
                            member: member.clone(),
                            federation: f.name.clone(),
                        });
                    }
                }
                Target::AwsRole { .. } => {}
            }
            let Some(config) = credential_config(spec, f) else {
                continue;
            };
            let problems = lint_credential_config(&config);
            if !problems.is_empty() {
                return Err(RenderError::Template {
                    name: format!("credential config of {}", f.name),
                    message: problems.join("; "),
                });
            }
            files.insert(
                format!("{dir}/credential-configs/{}.json", f.name),
                to_json(&config),
            );
            let source_flags = match provider_kind {
                ProviderKind::Oidc { .. } => vec![
                    format!("--credential-source-file={GCP_TOKEN_DIR}/token"),
                    "--credential-source-type=text".to_owned(),
                ],
                ProviderKind::Aws { .. } => vec!["--aws".to_owned(), "--enable-imdsv2".to_owned()],
            };
            let (service_account, token_lifetime_seconds) = match &f.target {
                Target::GcpServiceAccount {
                    email,
                    token_lifetime_seconds,
                } => (Some(email.clone()), *token_lifetime_seconds),
                _ => (None, None),
            };
            context.cred_configs.push(CredConfigCommand {
                federation: f.name.clone(),
                provider_resource: pool.provider_resource(provider),
                source_flags,
                service_account,
                token_lifetime_seconds,
            });
        }
        context.impersonations.sort();
        context.grants.sort();
        files.insert(
            format!("{dir}/apply.sh"),
            templates::render(TEMPLATE_GCP_POOL, &context)?,
        );
        files.insert(
            format!("{dir}/create-cred-configs.sh"),
            templates::render(templates::TEMPLATE_GCP_CRED_CONFIGS, &context)?,
        );
    }
    Ok(())
}

fn render_gke_bindings(
    spec: &Spec,
    header: &Header,
    files: &mut FilePlan,
) -> Result<(), RenderError> {
    // GKE Workload Identity: the Kubernetes service account may act as the Google service account.
    let mut by_project: BTreeMap<String, BTreeMap<(String, String), BTreeSet<String>>> =
        BTreeMap::new();
    for f in &spec.federations {
        let (
            Source::Kubernetes {
                cluster,
                namespace,
                service_account,
                ..
            },
            Method::GoogleIdToken {
                service_account: email,
                ..
            },
        ) = (&f.source, &f.method)
        else {
            continue;
        };
        let Some(gke) = spec.gke_clusters.get(cluster) else {
            continue;
        };
        let project = service_account_project(email)
            .unwrap_or(&gke.project)
            .to_owned();
        by_project
            .entry(project)
            .or_default()
            .entry((email.clone(), gke_member(gke, namespace, service_account)))
            .or_default()
            .insert(f.name.clone());
    }
    for (project, bindings) in by_project {
        let bindings = bindings
            .into_iter()
            .map(|((service_account, member), names)| GkeBinding {
                service_account,
                member,
                federations: names.into_iter().collect::<Vec<_>>().join(", "),
            })
            .collect();
        let context = GkeBindingsContext {
            header: header.text(),
            project: &project,
            bindings,
        };
        files.insert(
            format!("gcp/{project}/gke-workload-identity.sh"),
            templates::render(TEMPLATE_GKE_BINDINGS, &context)?,
        );
    }
    Ok(())
}

/// The name of the ConfigMap that holds a federation's credential config.
#[must_use]
pub fn configmap_name(f: &Federation) -> String {
    format!("crossfed-gcp-{}", f.name)
}

/// The pod fragment of a federation into GCP: projected token, credential config, variables.
#[must_use]
pub fn pod_fragment(f: &Federation, containers: &[String]) -> Option<Value> {
    let Method::WorkloadIdentityPool {
        provider_kind:
            ProviderKind::Oidc {
                audience,
                token_expiration_seconds,
                ..
            },
        ..
    } = &f.method
    else {
        return None;
    };
    let config_path = format!("{GCP_CONFIG_DIR}/{GCP_CONFIG_FILE}");
    let env = [
        json!({"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": config_path}),
        json!({"name": "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE", "value": config_path}),
    ];
    let mounts = [
        json!({"name": "crossfed-gcp-token", "mountPath": GCP_TOKEN_DIR, "readOnly": true}),
        json!({"name": "crossfed-gcp-config", "mountPath": GCP_CONFIG_DIR, "readOnly": true}),
    ];
    Some(json!({
        "containers": containers.iter().map(|name| json!({"name": name, "env": env, "volumeMounts": mounts})).collect::<Vec<_>>(),
        "volumes": [
            {
                "name": "crossfed-gcp-token",
                "projected": {"sources": [{"serviceAccountToken": {"audience": audience, "expirationSeconds": token_expiration_seconds, "path": "token"}}]},
            },
            {"name": "crossfed-gcp-config", "configMap": {"name": configmap_name(f)}},
        ],
    }))
}

/// The ConfigMap holding a federation's credential config, with its file name.
#[must_use]
pub fn configmap(spec: &Spec, f: &Federation, namespace: &str) -> Option<(String, Value)> {
    if !matches!(f.source, Source::Kubernetes { .. }) {
        return None;
    }
    let config = credential_config(spec, f)?;
    let name = configmap_name(f);
    let configmap = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "crossfed"}},
        "data": {GCP_CONFIG_FILE: to_json(&config)},
    });
    Some((format!("configmap-{name}.yaml"), configmap))
}

/// EC2 host files: the credential config to place on the instance, and its environment.
pub fn render_ec2(spec: &Spec, f: &Federation, header: &Header, files: &mut FilePlan) {
    let Some(config) = credential_config(spec, f) else {
        return;
    };
    let dir = format!("hosts/ec2/{}", f.name);
    let path = format!("/etc/crossfed/gcp/{}/{GCP_CONFIG_FILE}", f.name);
    files.insert(format!("{dir}/{GCP_CONFIG_FILE}"), to_json(&config));
    files.insert(
        format!("{dir}/environment"),
        format!("{}# Install {GCP_CONFIG_FILE} at {path}, then load this file (systemd EnvironmentFile=, or `set -a; . ./environment`).\nGOOGLE_APPLICATION_CREDENTIALS={path}\nCLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE={path}\n", header.hash()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sound() -> Value {
        json!({
            "universe_domain": "googleapis.com",
            "type": "external_account",
            "audience": "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/aws-1",
            "subject_token_type": "urn:ietf:params:aws:token-type:aws4_request",
            "token_url": TOKEN_URL,
            "credential_source": {
                "environment_id": "aws1",
                "region_url": "http://169.254.169.254/latest/meta-data/placement/availability-zone",
                "url": "http://169.254.169.254/latest/meta-data/iam/security-credentials",
                "regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
                "imdsv2_session_token_url": "http://169.254.169.254/latest/api/token",
            },
            "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@b.iam.gserviceaccount.com:generateAccessToken",
        })
    }

    #[test]
    fn lint_accepts_a_sound_config() {
        assert_eq!(lint_credential_config(&sound()), Vec::<String>::new());
    }

    #[test]
    fn lint_catches_the_typos_that_ship() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "/audience",
                "//iam.googleapis.com//projects/123/locations/global/workloadIdentityPools/pool/providers/aws-1",
                "audience",
            ),
            (
                "/token_url",
                "https://sts.googleapis.com.evil.example/v1/token",
                "token_url",
            ),
            (
                "/credential_source/url",
                "http://169.254.169.21/latest/meta-data/iam/security-credentials",
                "169.254.169.254",
            ),
            (
                "/service_account_impersonation_url",
                "https://iamcredentials.example.com/v1/projects/-/serviceAccounts/a@b:generateAccessToken",
                "IAM Credentials",
            ),
        ];
        for (pointer, bad, expected) in cases {
            let mut config = sound();
            *config.pointer_mut(pointer).unwrap() = json!(bad);
            let problems = lint_credential_config(&config);
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{pointer}: {problems:?}"
            );
        }
    }
}
