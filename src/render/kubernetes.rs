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

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::templates::scripts;
use super::{FilePlan, Header, to_yaml};
use crate::model::{Federation, Method, Source, Spec, Target, TokenDelivery};

/// Mount path of the token file written by the GKE token-refresher sidecar.
pub const GSA_TOKEN_DIR: &str = "/var/run/secrets/crossfed/aws";
/// Mount path of projected tokens for AWS, as the EKS pod-identity webhook mounts them.
pub const AWS_TOKEN_DIR: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
/// Mount path of the AWS config and `credential_process` helper.
pub const AWS_CONFIG_DIR: &str = "/etc/crossfed/aws";
/// Label on every resource crossfed renders.
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "crossfed");

/// A Kubernetes service account and the federations that use it.
struct Workload<'a> {
    service_account: &'a str,
    federations: Vec<&'a Federation>,
}

fn labels() -> Value {
    json!({MANAGED_BY.0: MANAGED_BY.1})
}

fn env(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

/// The STS endpoint of a region in a partition.
#[must_use]
pub fn sts_endpoint(region: &str, partition: crate::model::Partition) -> String {
    format!("https://sts.{region}.{}", partition.dns_suffix())
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

/// A Deployment-shaped strategic-merge patch.
/// The workload shapes a pod patch comes in: the pod template sits at `spec.template` in
/// Deployments (and StatefulSets, DaemonSets, Jobs), and at `spec.jobTemplate.spec.template` in
/// CronJobs.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Deployment,
    CronJob,
}

/// A strategic-merge patch of the given shape.
fn patch(shape: Shape, name: &str, service_account: &str, pod: &Value) -> Value {
    let mut spec = json!({"serviceAccountName": service_account});
    if let (Value::Object(spec), Value::Object(pod)) = (&mut spec, pod) {
        spec.extend(pod.clone());
    }
    let template = json!({"template": {"spec": spec}});
    match shape {
        Shape::Deployment => {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": template})
        }
        Shape::CronJob => {
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name}, "spec": {"jobTemplate": {"spec": template}}})
        }
    }
}

fn app_containers(containers: &[String], env: &[Value], mounts: &[Value]) -> Vec<Value> {
    containers
        .iter()
        .map(|name| json!({"name": name, "env": env, "volumeMounts": mounts}))
        .collect()
}

/// The pod fragment of one federation, or `None` when it needs no pod changes.
fn pod_fragment(
    workload: &Workload<'_>,
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
        } => {
            let token_file = format!("{GSA_TOKEN_DIR}/token");
            let mounts = [
                json!({"name": "crossfed-aws-token", "mountPath": GSA_TOKEN_DIR, "readOnly": true}),
            ];
            Some(json!({
                "initContainers": [{
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
                }],
                "containers": app_containers(containers, &aws_web_identity_env(&f.target, &token_file), &mounts),
                "volumes": [{"name": "crossfed-aws-token", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}],
            }))
        }
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
            let aws_federations = workload
                .federations
                .iter()
                .filter(|f| matches!(f.target, Target::AwsRole { .. }))
                .count();
            if aws_federations == 1 {
                env.push(json!({"name": "AWS_PROFILE", "value": f.name}));
            }
            env.push(json!({"name": "AWS_REGION", "value": region}));
            env.push(json!({"name": "AWS_DEFAULT_REGION", "value": region}));
            let mounts = [
                json!({"name": "crossfed-aws-config", "mountPath": AWS_CONFIG_DIR, "readOnly": true}),
            ];
            Some(json!({
                "containers": app_containers(containers, &env, &mounts),
                "volumes": [{"name": "crossfed-aws-config", "configMap": {"name": credential_process_config, "defaultMode": 0o555}}],
            }))
        }
        Method::AwsOidcProvider {
            audience,
            token_expiration_seconds,
            ..
        } => {
            let mounts =
                [json!({"name": "aws-iam-token", "mountPath": AWS_TOKEN_DIR, "readOnly": true})];
            Some(json!({
                "containers": app_containers(containers, &aws_web_identity_env(&f.target, &format!("{AWS_TOKEN_DIR}/token")), &mounts),
                "volumes": [{
                    "name": "aws-iam-token",
                    "projected": {"sources": [{"serviceAccountToken": {"audience": audience, "expirationSeconds": token_expiration_seconds, "path": "token"}}]},
                }],
            }))
        }
        Method::WorkloadIdentityPool { .. } => super::gcp::pod_fragment(f, containers),
    }
}

/// The AWS shared-config profile of a `credential_process` federation.
#[must_use]
pub fn credential_process_profile(f: &Federation, helper: &str) -> Option<String> {
    let (
        Method::GoogleIdToken { audience, .. },
        Target::AwsRole {
            arn,
            session_name,
            session_duration,
            region,
            partition,
        },
    ) = (&f.method, &f.target)
    else {
        return None;
    };
    let mut command = format!(
        "{helper} {arn} {session_name} {audience} {}",
        sts_endpoint(region, *partition)
    );
    if let Some(duration) = session_duration {
        command = format!("{command} {duration}");
    }
    Some(format!(
        "[profile {}]\ncredential_process = {command}\nregion = {region}\nsts_regional_endpoints = regional\n",
        f.name
    ))
}

/// Renders every Kubernetes file.
#[allow(clippy::too_many_lines)] // render/ is being rewritten on another branch; not split here
pub fn render(spec: &Spec, header: &Header, files: &mut FilePlan) {
    let mut workloads: BTreeMap<(&str, &str, &str), Workload<'_>> = BTreeMap::new();
    for f in &spec.federations {
        let Source::Kubernetes {
            cluster,
            namespace,
            service_account,
            ..
        } = &f.source
        else {
            continue;
        };
        workloads
            .entry((cluster, namespace, service_account))
            .or_insert_with(|| Workload {
                service_account,
                federations: Vec::new(),
            })
            .federations
            .push(f);
    }
    let mut namespaces: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ((cluster, namespace, ksa), workload) in &workloads {
        let dir = format!("kubernetes/{cluster}/{namespace}");
        let resources = namespaces.entry(dir.clone()).or_default();

        let mut annotations = serde_json::Map::new();
        for f in &workload.federations {
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
        let mut metadata = json!({"name": ksa, "namespace": namespace, "labels": labels()});
        if !annotations.is_empty() {
            metadata["annotations"] = Value::Object(annotations);
        }
        let file = format!("serviceaccount-{ksa}.yaml");
        files.insert(
            format!("{dir}/{file}"),
            to_yaml(
                header,
                &[json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata})],
            ),
        );
        resources.push(file);

        // One ConfigMap per service account for its credential_process profiles.
        let config_name = format!("crossfed-aws-{ksa}");
        let profiles: Vec<String> = workload
            .federations
            .iter()
            .filter(|f| {
                matches!(
                    f.method,
                    Method::GoogleIdToken {
                        delivery: TokenDelivery::CredentialProcess,
                        ..
                    }
                )
            })
            .filter_map(|f| {
                credential_process_profile(f, &format!("{AWS_CONFIG_DIR}/credential-process"))
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
            files.insert(format!("{dir}/{file}"), to_yaml(header, &[configmap]));
            resources.push(file);
        }
        for f in &workload.federations {
            if let Some((file, configmap)) = super::gcp::configmap(spec, f, namespace) {
                files.insert(format!("{dir}/{file}"), to_yaml(header, &[configmap]));
                resources.push(file);
            }
            let Some(pod) = pod_fragment(workload, f, &config_name) else {
                continue;
            };
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
                        "{}\n# Patch for a {kind} that runs as ServiceAccount {namespace}/{} (federation {}). Apply it with\n# kustomize: patches: [{{path: {file}, target: {{kind: {kind}, name: {example}}}}}]",
                        header.text(),
                        workload.service_account,
                        f.name,
                    ),
                };
                files.insert(
                    format!("{dir}/{file}"),
                    to_yaml(&patch_header, &[patch(shape, ksa, ksa, &pod)]),
                );
            }
        }
    }
    for (dir, mut resources) in namespaces {
        resources.sort();
        let namespace = dir.rsplit('/').next().unwrap_or_default();
        let kustomization = json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": namespace,
            "resources": resources,
        });
        files.insert(
            format!("{dir}/kustomization.yaml"),
            to_yaml(header, &[kustomization]),
        );
    }
}
