//! The Kubernetes objects of a namespace's folder, typed like the pod specs ([`super::pod`]):
//! ServiceAccounts, ConfigMaps and kustomizations, one file each, for every service account and
//! federation of an organisation.

use serde::Serialize;

/// `metadata` of a namespaced object crossfed manages.
#[derive(Debug, Serialize)]
pub(super) struct Metadata<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub labels: ManagedBy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations<'a>>,
}

/// The label on every resource crossfed renders.
#[derive(Debug, Serialize)]
pub(super) struct ManagedBy {
    #[serde(rename = "app.kubernetes.io/managed-by")]
    managed_by: &'static str,
}

/// `app.kubernetes.io/managed-by: crossfed`.
pub(super) const MANAGED_BY: ManagedBy = ManagedBy {
    managed_by: "crossfed",
};

/// A ServiceAccount's annotations: the Google service account it acts as, on GKE.
#[derive(Debug, Serialize)]
pub(super) struct Annotations<'a> {
    #[serde(rename = "iam.gke.io/gcp-service-account")]
    pub gcp_service_account: &'a str,
}

/// A `v1` object without a body: a ServiceAccount.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ServiceAccount<'a> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata<'a>,
}

/// A ConfigMap and its `data`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ConfigMap<'a, D> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata<'a>,
    pub data: D,
}

/// A namespace folder's `kustomization.yaml`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Kustomization<'a> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub namespace: &'a str,
    pub resources: &'a [String],
}
