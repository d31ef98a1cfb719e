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

use std::collections::{BTreeMap, BTreeSet};

mod pod;
mod resources;

use serde_json::{Value, json};

use super::templates::scripts;
use super::{
    FilePlan, Header, PlannedFile, credential_process_profile, to_json, to_yaml, to_yaml_of, yaml,
};
use crate::model::{Federation, Method, Source, Target, TokenDelivery, WorkloadKind};
use crate::plan::Plan;
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
/// through serde, this moves them: a patch's envelope nests the pod spec (or the hole for its
/// block) under several keys.
fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// A federation's pod spec (`doc`, typed, see [`pod`]), and its YAML written once for every
/// patch that holds it (an organisation's tree holds tens of thousands of patches, two or more
/// per federation).
struct PodSpec<T> {
    doc: T,
    /// `None` when the spec is not this emitter's to write as a block (see [`yaml::Block`]).
    block: Option<yaml::Block>,
}

impl<T: serde::Serialize> PodSpec<T> {
    fn new(doc: T) -> Self {
        let block = yaml::Block::of_serialized(&doc);
        PodSpec { doc, block }
    }
}

/// A strategic-merge patch of the given shape, as YAML after `header`.
fn patch(
    header: &Header,
    shape: Shape,
    name: &str,
    pod: &PodSpec<impl serde::Serialize>,
) -> String {
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
    pod: &PodSpec<impl serde::Serialize>,
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
    let pod = serde_json::to_value(&pod.doc).expect("a pod spec is JSON");
    to_yaml(header, std::slice::from_ref(&envelope(pod)))
}

/// The ServiceAccount of a workload, with the GKE annotation when it acts as a Google SA (the
/// last of its federations' Google service accounts).
fn service_account<'a>(
    workload: &'a Workload,
    federations: &[&'a Federation],
) -> resources::ServiceAccount<'a> {
    let gcp_service_account = federations.iter().rev().find_map(|f| match &f.method {
        Method::GoogleIdToken {
            service_account, ..
        } => Some(service_account.as_str()),
        _ => None,
    });
    resources::ServiceAccount {
        api_version: "v1",
        kind: "ServiceAccount",
        metadata: resources::Metadata {
            name: &workload.service_account,
            namespace: &workload.namespace,
            labels: resources::MANAGED_BY,
            annotations: gcp_service_account.map(|gcp_service_account| resources::Annotations {
                gcp_service_account,
            }),
        },
    }
}

/// A namespace's folder, for the files of its federations.
struct NamespaceFiles<'a> {
    header: &'a Header,
    dir: &'a str,
    namespace: &'a str,
}

impl NamespaceFiles<'_> {
    /// Adds ConfigMap `name` holding `data`, serving `federations`, to the folder's files and
    /// its kustomization's resources.
    fn config_map<'f>(
        &self,
        name: &str,
        data: &impl serde::Serialize,
        federations: impl IntoIterator<Item = &'f String>,
        files: &mut FilePlan,
        resources: &mut Vec<String>,
    ) {
        let configmap = resources::ConfigMap {
            api_version: "v1",
            kind: "ConfigMap",
            metadata: resources::Metadata {
                name,
                namespace: self.namespace,
                labels: resources::MANAGED_BY,
                annotations: None,
            },
            data,
        };
        let file = format!("configmap-{name}.yaml");
        files.insert(
            format!("{}/{file}", self.dir),
            PlannedFile::data(to_yaml_of(self.header, &configmap), federations),
        );
        resources.push(file);
    }
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
        let name = pod::gcp_configmap_name(f);
        let data = BTreeMap::from([(GCP_CONFIG_FILE, to_json(config))]);
        folder.config_map(&name, &data, [&f.name], files, resources);
    }
    let Some(pod) = pod::spec(ksa, aws_federations, f, config_name) else {
        return;
    };
    let pod = PodSpec::new(pod);
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
fn component(
    header: &Header,
    dir: &str,
    f: &Federation,
    pod: &PodSpec<impl serde::Serialize>,
    files: &mut FilePlan,
) {
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

/// The ConfigMap `name` of a service account's `credential_process` profiles, one for each of its
/// `federations` that delivers Google ID tokens that way (none when none does).
fn credential_process_config(
    folder: &NamespaceFiles<'_>,
    name: &str,
    federations: &[&Federation],
    files: &mut FilePlan,
    resources: &mut Vec<String>,
) {
    let with_profile: Vec<(&Federation, &String)> = federations
        .iter()
        .filter_map(|f| match &f.method {
            Method::GoogleIdToken {
                audience,
                delivery: TokenDelivery::CredentialProcess,
                ..
            } => Some((*f, audience)),
            _ => None,
        })
        .collect();
    let helper = format!("{AWS_CONFIG_DIR}/credential-process");
    let profiles: Vec<String> = with_profile
        .iter()
        .filter_map(|(f, audience)| {
            credential_process_profile(&f.name, audience, &f.target, &helper)
        })
        .collect();
    if profiles.is_empty() {
        return;
    }
    let config = format!("{}\n{}", folder.header.hash(), profiles.join("\n"));
    let data = BTreeMap::from([
        ("config", config.as_str()),
        ("credential-process", scripts::AWS_CREDENTIAL_PROCESS),
    ]);
    let federations = with_profile.iter().map(|(f, _)| &f.name);
    folder.config_map(name, &data, federations, files, resources);
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
                    to_yaml_of(header, &service_account(workload, &federations)),
                    names.iter().copied(),
                ),
            );
            resources.push(file);

            // One ConfigMap per service account for its credential_process profiles.
            let config_name = format!("crossfed-aws-{ksa}");
            let folder = NamespaceFiles {
                header,
                dir: &dir,
                namespace,
            };
            credential_process_config(&folder, &config_name, &federations, files, &mut resources);
            let aws_federations = federations
                .iter()
                .filter(|f| matches!(f.target, Target::AwsRole { .. }))
                .count();
            for f in &federations {
                render_federation(
                    plan,
                    &folder,
                    (ksa, &config_name),
                    aws_federations,
                    f,
                    files,
                    &mut resources,
                );
            }
        }
        resources.sort();
        let kustomization = resources::Kustomization {
            api_version: "kustomize.config.k8s.io/v1beta1",
            kind: "Kustomization",
            namespace,
            resources: &resources,
        };
        files.insert(
            format!("{dir}/kustomization.yaml"),
            PlannedFile::data(to_yaml_of(header, &kustomization), &ns.federations),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pod spec with a block and the same spec without one: both paths of [`patch_of`].
    fn both(pod: &Value) -> (PodSpec<Value>, PodSpec<Value>) {
        let spliced = PodSpec::new(pod.clone());
        assert!(spliced.block.is_some());
        let whole = PodSpec {
            doc: pod.clone(),
            block: None,
        };
        (spliced, whole)
    }

    #[test]
    fn a_spliced_patch_is_the_patch_written_whole() {
        let header = Header::new("crossfed.yaml");
        let pod = json!({
            "serviceAccountName": "reader",
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
