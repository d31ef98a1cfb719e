//! Kubernetes artifacts, per cluster and namespace: ServiceAccounts, ConfigMaps, one
//! strategic-merge patch per federation for the user's workload, and a `kustomization.yaml`.
//!
//! crossfed does not know the user's Deployments, so it cannot apply the patches itself: each
//! patch is a Deployment-shaped fragment (`spec.template.spec`, which also fits StatefulSets,
//! DaemonSets and Jobs), with a CronJob-shaped twin under `cronjob/`, that users list under
//! `patches:` with a `target` naming their workload.
//! Patches of one ServiceAccount touch disjoint volumes and variables, so they compose when a
//! workload federates both ways. The kustomization lists the resources (ServiceAccounts,
//! ConfigMaps), so `kubectl apply -k` works on each namespace folder.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::templates::scripts;
use super::{FilePlan, Header, PlannedFile, credential_process_profile, to_json, to_yaml, yaml};
use crate::model::{Federation, Method, ProviderKind, Source, Target, TokenDelivery, WorkloadKind};
use crate::plan::Plan;
use crate::plan::gcp::GCP_TOKEN_DIR;
use crate::plan::kubernetes::Workload;

/// Mount path of the token file written by the GKE token-refresher sidecar.
pub const GSA_TOKEN_DIR: &str = "/var/run/secrets/crossfed/aws";
/// Mount path of projected tokens for AWS, as the EKS pod-identity webhook mounts them.
pub const AWS_TOKEN_DIR: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
/// Mount path of the AWS config and `credential_process` helper.
pub const AWS_CONFIG_DIR: &str = "/etc/crossfed/aws";
/// Where the credential config for GCP is mounted in EKS pods.
pub const GCP_CONFIG_DIR: &str = "/etc/workload-identity";
/// The credential config's file name.
pub const GCP_CONFIG_FILE: &str = "credential-configuration.json";
/// Label on every resource crossfed renders.
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "crossfed");

fn labels() -> Value {
    json!({MANAGED_BY.0: MANAGED_BY.1})
}

fn env(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

/// `AWS_*` variables for the web-identity credential provider of every AWS SDK.
fn aws_web_identity_env(target: &Target, token_file: &str) -> Vec<Value> {
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
        env("AWS_ROLE_ARN", arn),
        env("AWS_WEB_IDENTITY_TOKEN_FILE", token_file),
        env("AWS_ROLE_SESSION_NAME", session_name),
        env("AWS_STS_REGIONAL_ENDPOINTS", "regional"),
        env("AWS_REGION", region),
        env("AWS_DEFAULT_REGION", region),
    ]
}

/// The workload shapes a pod patch comes in: the pod template sits at `spec.template` in
/// Deployments (and StatefulSets, DaemonSets, Jobs), and at `spec.jobTemplate.spec.template` in
/// CronJobs.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Deployment,
    CronJob,
}

impl Shape {
    /// The keys from a workload of this shape down to its pod spec.
    fn pod_path(self) -> &'static [&'static str] {
        match self {
            Shape::Deployment => &["spec", "template", "spec"],
            Shape::CronJob => &["spec", "jobTemplate", "spec", "template", "spec"],
        }
    }
}

/// A JSON object with `entries` in order. Unlike `json!`, which copies every interpolated value
/// through serde, this moves them: the pod fragments are the bulk of a large tree.
fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// A federation's pod spec: `serviceAccountName` and the pod fragment, and its YAML written once
/// for every patch that holds it (an organisation's tree holds tens of thousands of patches, two
/// or more per federation).
struct PodSpec {
    map: serde_json::Map<String, Value>,
    /// `None` when the spec is not this emitter's to write as a block (see [`yaml::Block`]).
    block: Option<yaml::Block>,
}

impl PodSpec {
    fn new(service_account: &str, pod: serde_json::Map<String, Value>) -> Self {
        let mut map = serde_json::Map::new();
        map.insert("serviceAccountName".to_owned(), json!(service_account));
        map.extend(pod);
        let block = yaml::Block::of(&map);
        PodSpec { map, block }
    }
}

/// A strategic-merge patch of the given shape, as YAML after `header`.
fn patch(header: &Header, shape: Shape, name: &str, pod: &PodSpec) -> String {
    let (api_version, kind) = match shape {
        Shape::Deployment => ("apps/v1", "Deployment"),
        Shape::CronJob => ("batch/v1", "CronJob"),
    };
    patch_of(header, shape, (api_version, kind), name, pod)
}

/// A strategic-merge patch of the given shape, for a workload of `api_version` and `kind`, as
/// YAML after `header`, with the pod spec's block spliced in (or, without one, the spec itself).
fn patch_of(
    header: &Header,
    shape: Shape,
    (api_version, kind): (&str, &str),
    name: &str,
    pod: &PodSpec,
) -> String {
    let to_pod = shape.pod_path();
    let envelope = |pod_spec: Value| {
        let spec = to_pod[1..]
            .iter()
            .rev()
            .fold(pod_spec, |inner, key| object([(*key, inner)]));
        object([
            ("apiVersion", json!(api_version)),
            ("kind", json!(kind)),
            ("metadata", json!({"name": name})),
            (to_pod[0], spec),
        ])
    };
    if let Some(block) = &pod.block {
        let patch = envelope(Value::Object(serde_json::Map::new()));
        let hole = to_pod.iter().fold(&patch, |node, key| &node[*key]);
        let mut text = header.hash();
        text.reserve(block.len() + 256);
        if yaml::write_with(&patch, hole, block, &mut text) {
            return text;
        }
    }
    // Without a block, or when the rest of the patch is serde-saphyr's to write.
    to_yaml(
        header,
        std::slice::from_ref(&envelope(Value::Object(pod.map.clone()))),
    )
}

fn app_containers(containers: &[String], env: &[Value], mounts: &[Value]) -> Value {
    Value::Array(
        containers
            .iter()
            .map(|name| {
                object([
                    ("name", json!(name)),
                    ("env", Value::Array(env.to_vec())),
                    ("volumeMounts", Value::Array(mounts.to_vec())),
                ])
            })
            .collect(),
    )
}

/// The pod fragment of a Google-ID-token federation with sidecar delivery: a native sidecar
/// keeps the token file fresh for the AWS SDK's web-identity provider.
fn sidecar_fragment(
    f: &Federation,
    audience: &str,
    sidecar_image: &str,
    containers: &[String],
) -> Value {
    let token_file = format!("{GSA_TOKEN_DIR}/token");
    let mounts =
        [json!({"name": "crossfed-aws-token", "mountPath": GSA_TOKEN_DIR, "readOnly": true})];
    object([
        (
            "initContainers",
            json!([{
                "name": "crossfed-aws-token",
                "image": sidecar_image,
                // A native sidecar (Kubernetes >= 1.29): started before the app, stopped after it.
                "restartPolicy": "Always",
                "command": ["/bin/sh", "-c", scripts::GKE_TOKEN_REFRESHER],
                "env": [env("TOKEN_AUDIENCE", audience), env("TOKEN_FILE", &token_file)],
                // The app starts only once the first token is on disk.
                "startupProbe": {"exec": {"command": ["test", "-s", token_file]}, "periodSeconds": 1, "failureThreshold": 120},
                "resources": {"requests": {"cpu": "5m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                    "runAsNonRoot": true,
                    "runAsUser": 65532,
                    "runAsGroup": 65532,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [{"name": "crossfed-aws-token", "mountPath": GSA_TOKEN_DIR}],
            }]),
        ),
        (
            "containers",
            app_containers(
                containers,
                &aws_web_identity_env(&f.target, &token_file),
                &mounts,
            ),
        ),
        (
            "volumes",
            json!([{"name": "crossfed-aws-token", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}]),
        ),
    ])
}

/// The pod fragment of one federation, or `None` when it needs no pod changes.
fn pod_fragment(
    aws_federations: usize,
    f: &Federation,
    credential_process_config: &str,
) -> Option<Value> {
    let Source::Kubernetes { containers, .. } = &f.source else {
        return None;
    };
    match &f.method {
        Method::GoogleIdToken {
            audience,
            delivery: TokenDelivery::Sidecar,
            sidecar_image,
            ..
        } => Some(sidecar_fragment(f, audience, sidecar_image, containers)),
        Method::GoogleIdToken {
            delivery: TokenDelivery::CredentialProcess,
            ..
        } => {
            let Target::AwsRole { region, .. } = &f.target else {
                return None;
            };
            let mut env = vec![
                env("AWS_CONFIG_FILE", &format!("{AWS_CONFIG_DIR}/config")),
                env("AWS_SDK_LOAD_CONFIG", "1"),
            ];
            // A single AWS federation is the pod's default profile; with several, the app picks one.
            if aws_federations == 1 {
                env.push(json!({"name": "AWS_PROFILE", "value": f.name}));
            }
            env.push(json!({"name": "AWS_REGION", "value": region}));
            env.push(json!({"name": "AWS_DEFAULT_REGION", "value": region}));
            let mounts = [
                json!({"name": "crossfed-aws-config", "mountPath": AWS_CONFIG_DIR, "readOnly": true}),
            ];
            Some(object([
                ("containers", app_containers(containers, &env, &mounts)),
                (
                    "volumes",
                    json!([{"name": "crossfed-aws-config", "configMap": {"name": credential_process_config, "defaultMode": 0o555}}]),
                ),
            ]))
        }
        Method::AwsOidcProvider {
            audience,
            token_expiration_seconds,
            ..
        } => {
            let mounts =
                [json!({"name": "aws-iam-token", "mountPath": AWS_TOKEN_DIR, "readOnly": true})];
            Some(object([
                (
                    "containers",
                    app_containers(
                        containers,
                        &aws_web_identity_env(&f.target, &format!("{AWS_TOKEN_DIR}/token")),
                        &mounts,
                    ),
                ),
                (
                    "volumes",
                    json!([{
                        "name": "aws-iam-token",
                        "projected": {"sources": [{"serviceAccountToken": {"audience": audience, "expirationSeconds": token_expiration_seconds, "path": "token"}}]},
                    }]),
                ),
            ]))
        }
        Method::WorkloadIdentityPool { .. } => gcp_pod_fragment(f, containers),
    }
}

/// The name of the ConfigMap that holds a federation's credential config.
fn gcp_configmap_name(f: &Federation) -> String {
    format!("crossfed-gcp-{}", f.name)
}

/// The pod fragment of a federation into GCP: projected token, credential config, variables.
fn gcp_pod_fragment(f: &Federation, containers: &[String]) -> Option<Value> {
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
    Some(object([
        ("containers", app_containers(containers, &env, &mounts)),
        (
            "volumes",
            json!([
                {
                    "name": "crossfed-gcp-token",
                    "projected": {"sources": [{"serviceAccountToken": {"audience": audience, "expirationSeconds": token_expiration_seconds, "path": "token"}}]},
                },
                {"name": "crossfed-gcp-config", "configMap": {"name": gcp_configmap_name(f)}},
            ]),
        ),
    ]))
}

/// The ServiceAccount of a workload, with the GKE annotation when it acts as a Google SA.
fn service_account(workload: &Workload, federations: &[&Federation]) -> Value {
    let mut annotations = serde_json::Map::new();
    for f in federations {
        if let Method::GoogleIdToken {
            service_account, ..
        } = &f.method
        {
            annotations.insert(
                "iam.gke.io/gcp-service-account".to_owned(),
                json!(service_account),
            );
        }
    }
    let mut metadata = json!({"name": workload.service_account, "namespace": workload.namespace, "labels": labels()});
    if !annotations.is_empty() {
        metadata["annotations"] = Value::Object(annotations);
    }
    json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata})
}

/// A namespace's folder, for the files of its federations.
struct NamespaceFiles<'a> {
    header: &'a Header,
    dir: &'a str,
    namespace: &'a str,
}

/// One federation's files in its namespace: its GCP ConfigMap and its two pod patches.
fn render_federation(
    plan: &Plan,
    folder: &NamespaceFiles<'_>,
    (ksa, config_name): (&str, &str),
    aws_federations: usize,
    f: &Federation,
    files: &mut FilePlan,
    resources: &mut Vec<String>,
) {
    let NamespaceFiles {
        header,
        dir,
        namespace,
    } = *folder;
    if let Some(config) = super::credential_config(plan, &f.name) {
        let name = gcp_configmap_name(f);
        let configmap = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels()},
            "data": {GCP_CONFIG_FILE: to_json(config)},
        });
        let file = format!("configmap-{name}.yaml");
        files.insert(
            format!("{dir}/{file}"),
            PlannedFile::data(to_yaml(header, &[configmap]), [&f.name]),
        );
        resources.push(file);
    }
    let Some(Value::Object(pod)) = pod_fragment(aws_federations, f, config_name) else {
        return;
    };
    let pod = PodSpec::new(ksa, pod);
    for (shape, file, kind, example) in [
        (
            Shape::Deployment,
            format!("patch-{}.yaml", f.name),
            "Deployment",
            "YOUR-APP",
        ),
        (
            Shape::CronJob,
            format!("cronjob/patch-{}.yaml", f.name),
            "CronJob",
            "YOUR-JOB",
        ),
    ] {
        let patch_header = Header {
            text: format!(
                "{}\n# Patch for a {kind} that runs as ServiceAccount {namespace}/{ksa} (federation {}). Apply it with\n# kustomize: patches: [{{path: {file}, target: {{kind: {kind}, name: {example}}}}}]",
                header.text(),
                f.name,
            ),
        };
        files.insert(
            format!("{dir}/{file}"),
            PlannedFile::data(patch(&patch_header, shape, ksa, &pod), [&f.name]),
        );
    }
    component(header, dir, f, &pod, files);
}

/// The Kustomize Component of federation `f` when its spec names the workloads it patches:
/// `components/<f>/kustomization.yaml` and one patch per workload, each targeting the workload by
/// group, version, kind and name. An application's kustomization lists the directory under
/// `components:` from wherever it lives: a component is a kustomization root of its own, so
/// kustomize's load restrictor is satisfied.
fn component(header: &Header, dir: &str, f: &Federation, pod: &PodSpec, files: &mut FilePlan) {
    let Source::Kubernetes { workloads, .. } = &f.source else {
        return;
    };
    if workloads.is_empty() {
        return;
    }
    let folder = format!("{dir}/components/{}", f.name);
    let mut patches = Vec::new();
    for (kind, name) in workloads {
        let shape = match kind {
            WorkloadKind::CronJob => Shape::CronJob,
            _ => Shape::Deployment,
        };
        let file = format!("patch-{}-{name}.yaml", kind.as_str().to_lowercase());
        let api_version = format!("{}/v1", kind.group());
        files.insert(
            format!("{folder}/{file}"),
            PlannedFile::data(
                patch_of(header, shape, (&api_version, kind.as_str()), name, pod),
                [&f.name],
            ),
        );
        patches.push(json!({
            "path": file,
            "target": {"group": kind.group(), "version": "v1", "kind": kind.as_str(), "name": name},
        }));
    }
    let kustomization = json!({
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "patches": patches,
    });
    files.insert(
        format!("{folder}/kustomization.yaml"),
        PlannedFile::data(to_yaml(header, &[kustomization]), [&f.name]),
    );
}

/// Renders the Kubernetes files of share `share` of the namespaces (the `share.0`-th of
/// `share.1` runs of consecutive namespaces), so several threads can split the work.
pub fn render(plan: &Plan, header: &Header, files: &mut FilePlan, share: (usize, usize)) {
    for ((cluster, namespace), ns) in super::share_of(&plan.kubernetes, share) {
        let dir = format!("kubernetes/{cluster}/{namespace}");
        let mut resources = Vec::new();
        for (ksa, workload) in &ns.workloads {
            let federations: Vec<&Federation> = workload
                .federations
                .iter()
                .map(|&i| &plan.spec.federations[i])
                .collect();
            let names: BTreeSet<&String> = federations.iter().map(|f| &f.name).collect();
            let file = format!("serviceaccount-{ksa}.yaml");
            files.insert(
                format!("{dir}/{file}"),
                PlannedFile::data(
                    to_yaml(header, &[service_account(workload, &federations)]),
                    names.iter().copied(),
                ),
            );
            resources.push(file);

            // One ConfigMap per service account for its credential_process profiles.
            let config_name = format!("crossfed-aws-{ksa}");
            let with_profile: Vec<&Federation> = federations
                .iter()
                .copied()
                .filter(|f| {
                    matches!(
                        f.method,
                        Method::GoogleIdToken {
                            delivery: TokenDelivery::CredentialProcess,
                            ..
                        }
                    )
                })
                .collect();
            let helper = format!("{AWS_CONFIG_DIR}/credential-process");
            let profiles: Vec<String> = with_profile
                .iter()
                .filter_map(|f| match &f.method {
                    Method::GoogleIdToken { audience, .. } => {
                        credential_process_profile(&f.name, audience, &f.target, &helper)
                    }
                    _ => None,
                })
                .collect();
            if !profiles.is_empty() {
                let config = format!("{}\n{}", header.hash(), profiles.join("\n"));
                let configmap = json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": config_name, "namespace": namespace, "labels": labels()},
                    "data": {"config": config, "credential-process": scripts::AWS_CREDENTIAL_PROCESS},
                });
                let file = format!("configmap-{config_name}.yaml");
                files.insert(
                    format!("{dir}/{file}"),
                    PlannedFile::data(
                        to_yaml(header, &[configmap]),
                        with_profile.iter().map(|f| &f.name),
                    ),
                );
                resources.push(file);
            }
            let aws_federations = federations
                .iter()
                .filter(|f| matches!(f.target, Target::AwsRole { .. }))
                .count();
            for f in &federations {
                let namespace_files = NamespaceFiles {
                    header,
                    dir: &dir,
                    namespace,
                };
                render_federation(
                    plan,
                    &namespace_files,
                    (ksa, &config_name),
                    aws_federations,
                    f,
                    files,
                    &mut resources,
                );
            }
        }
        resources.sort();
        let kustomization = json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": namespace,
            "resources": resources,
        });
        files.insert(
            format!("{dir}/kustomization.yaml"),
            PlannedFile::data(to_yaml(header, &[kustomization]), &ns.federations),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pod spec with a block and the same spec without one: both paths of [`patch_of`].
    fn both(pod: &Value) -> (PodSpec, PodSpec) {
        let Value::Object(pod) = pod.clone() else {
            unreachable!("a pod fragment is a mapping")
        };
        let spliced = PodSpec::new("reader", pod);
        assert!(spliced.block.is_some());
        let whole = PodSpec {
            map: spliced.map.clone(),
            block: None,
        };
        (spliced, whole)
    }

    #[test]
    fn a_spliced_patch_is_the_patch_written_whole() {
        let header = Header::new("crossfed.yaml");
        let pod = json!({
            "initContainers": [{
                "name": "sidecar",
                "command": ["/bin/sh", "-c", "set -eu\n\nwhile true; do\n  sleep 60\ndone\n"],
                "args": ["a long argument that is well over eighty characters, so that the emitter folds it into lines"],
            }],
            "containers": [{"name": "app", "env": [{"name": "AWS_REGION", "value": "eu-west-1"}]}],
            "volumes": [{"name": "token", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}],
        });
        let (spliced, whole) = both(&pod);
        for (shape, kind) in [
            (Shape::Deployment, ("apps/v1", "Deployment")),
            (Shape::CronJob, ("batch/v1", "CronJob")),
        ] {
            let text = patch_of(&header, shape, kind, "reader", &spliced);
            assert_eq!(text, patch_of(&header, shape, kind, "reader", &whole));
            assert!(text.contains("      serviceAccountName: reader\n"));
        }
    }
}
