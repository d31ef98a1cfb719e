//! `from`: the workload that federates, resolved into a [`Workload`].
//!
//! A workload is a Kubernetes service account of a declared GKE or EKS cluster (named by
//! `namespace` + `serviceAccount`), a GCE VM running as a declared Google service account, or an
//! EC2 instance running as a declared IAM role. `from` names exactly one of `gke`, `eks`, `gce`
//! and `ec2`; `namespace`, `serviceAccount` and `containers` only go with `gke` and `eks`.
//!
//! The Kubernetes identity is kept optional in a [`Workload`] so that a source missing its
//! `namespace` or `serviceAccount` (reported here) still lets the target and method be checked;
//! [`Workload::into_source`] builds a [`Source`] only from a complete one, computing its
//! `system:serviceaccount:NS:KSA` subject once.

use crate::config::RawSource;
use crate::diag::{Code, Diagnostic};
use crate::model::{ClusterKind, Source, WorkloadRef, service_account_subject};
use crate::validate::semantic::{Checker, keys};

use super::{Field, Input, OneOf, one_of};

/// Longest Kubernetes `ServiceAccount` name (a DNS-1123 subdomain).
const MAX_KSA_NAME: usize = 253;

/// The key of `from` that names the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SourceKind {
    /// `gke`: a Kubernetes service account in a GKE cluster.
    Gke,
    /// `eks`: a Kubernetes service account in an EKS cluster.
    Eks,
    /// `gce`: a GCE VM's service account.
    Gce,
    /// `ec2`: an EC2 instance's role.
    Ec2,
}

impl Field for SourceKind {
    fn field(self) -> &'static str {
        match self {
            SourceKind::Gke => "gke",
            SourceKind::Eks => "eks",
            SourceKind::Gce => "gce",
            SourceKind::Ec2 => "ec2",
        }
    }
}

impl SourceKind {
    fn is_kubernetes(self) -> bool {
        matches!(self, SourceKind::Gke | SourceKind::Eks)
    }
}

/// A resolved `from`: a [`Source`] whose Kubernetes identity may still be incomplete.
#[derive(Debug)]
pub(super) enum Workload {
    /// A Kubernetes service account.
    Kubernetes {
        /// GKE or EKS.
        cluster_kind: ClusterKind,
        /// Cluster name.
        cluster: String,
        /// The cluster's OIDC issuer URL.
        issuer: String,
        /// `from.namespace`; missing only when reported.
        namespace: Option<String>,
        /// `from.serviceAccount`; missing only when reported.
        service_account: Option<String>,
        /// Containers that get the environment and mounts.
        containers: Vec<String>,
        /// `from.workloads`, sorted, without repeats.
        workloads: Vec<WorkloadRef>,
    },
    /// A GCE VM running as this Google service account (email).
    Gce {
        /// The attached service account's email.
        service_account: String,
    },
    /// An EC2 instance running as an IAM role.
    Ec2 {
        /// The role ARN.
        role: String,
        /// The role name.
        role_name: String,
        /// The role's account.
        account: String,
    },
}

impl Workload {
    /// The `google.subject` a pool provider maps this workload to, `system:serviceaccount:NS:KSA`,
    /// for Kubernetes workloads.
    ///
    /// Only the length limit reads this before [`Workload::into_source`], including for a source
    /// whose `namespace` or `serviceAccount` is missing (already reported): the missing part is
    /// then shown empty, so that the limit is still checked on what was given.
    pub(super) fn subject(&self) -> Option<String> {
        match self {
            Workload::Kubernetes {
                namespace,
                service_account,
                ..
            } => Some(service_account_subject(
                namespace.as_deref().unwrap_or_default(),
                service_account.as_deref().unwrap_or_default(),
            )),
            Workload::Gce { .. } | Workload::Ec2 { .. } => None,
        }
    }

    /// The model's source; `None` for a Kubernetes workload without `namespace` or
    /// `serviceAccount`.
    pub(super) fn into_source(self) -> Option<Source> {
        Some(match self {
            Workload::Kubernetes {
                cluster_kind,
                cluster,
                issuer,
                namespace: Some(namespace),
                service_account: Some(service_account),
                containers,
                workloads,
            } => Source::Kubernetes {
                subject: service_account_subject(&namespace, &service_account),
                cluster_kind,
                cluster,
                issuer,
                namespace,
                service_account,
                containers,
                workloads,
            },
            Workload::Kubernetes { .. } => return None,
            Workload::Gce { service_account } => Source::Gce { service_account },
            Workload::Ec2 {
                role,
                role_name,
                account,
            } => Source::Ec2 {
                role,
                role_name,
                account,
            },
        })
    }
}

/// The workload `from` names; `None` (reported) unless it names exactly one.
pub(super) fn kind(c: &mut Checker<'_>, input: &Input<'_>) -> Option<SourceKind> {
    let from = &input.federation.from;
    let rule = OneOf {
        object: "from",
        noun: ("workload", "workloads"),
        optional: false,
        help: "give exactly one of `gke` or `eks` (with `namespace` and `serviceAccount`), `gce` or `ec2`",
    };
    let options = [
        (SourceKind::Gke, from.gke.is_some()),
        (SourceKind::Eks, from.eks.is_some()),
        (SourceKind::Gce, from.gce.is_some()),
        (SourceKind::Ec2, from.ec2.is_some()),
    ];
    one_of(c, input, &rule, &options).ok().flatten()
}

/// Checks the keys of `from` that go with `kind`, and resolves the workload; `None` when it does
/// not resolve (reported).
pub(super) fn resolve(
    c: &mut Checker<'_>,
    input: &Input<'_>,
    kind: SourceKind,
) -> Option<Workload> {
    let from = &input.federation.from;
    check_fields(c, input, from, kind);
    let containers = from
        .containers
        .clone()
        .unwrap_or_else(|| vec!["app".to_owned()]);
    let mut workloads: Vec<WorkloadRef> = from
        .workloads
        .iter()
        .flatten()
        .map(|w| (w.kind, w.name.clone()))
        .collect();
    workloads.sort();
    workloads.dedup();
    let inventory = input.inventory;
    let kubernetes = |cluster_kind, cluster: &str, issuer: String| Workload::Kubernetes {
        cluster_kind,
        cluster: cluster.to_owned(),
        issuer,
        namespace: from.namespace.clone(),
        service_account: from.service_account.clone(),
        containers,
        workloads: workloads.clone(),
    };
    // Each arm reads the key `kind` says is set.
    match kind {
        SourceKind::Gke => {
            let name = from.gke.as_deref()?;
            match inventory.gke_clusters.get(name) {
                Some(k) => Some(kubernetes(ClusterKind::Gke, &k.name, k.issuer())),
                None => {
                    c.unknown(
                        input.at("from/gke"),
                        "GKE cluster",
                        name,
                        &keys(&inventory.gke_clusters),
                        "gcp.gkeClusters",
                    );
                    None
                }
            }
        }
        SourceKind::Eks => {
            let name = from.eks.as_deref()?;
            match inventory.eks_clusters.get(name) {
                Some(k) => Some(kubernetes(ClusterKind::Eks, &k.name, k.issuer.clone())),
                None => {
                    c.unknown(
                        input.at("from/eks"),
                        "EKS cluster",
                        name,
                        &keys(&inventory.eks_clusters),
                        "aws.eksClusters",
                    );
                    None
                }
            }
        }
        SourceKind::Gce => {
            let email = from.gce.as_deref()?;
            if inventory.service_accounts.contains_key(email) {
                Some(Workload::Gce {
                    service_account: email.to_owned(),
                })
            } else {
                c.unknown(
                    input.at("from/gce"),
                    "service account",
                    email,
                    &keys(&inventory.service_accounts),
                    "gcp.serviceAccounts",
                );
                None
            }
        }
        SourceKind::Ec2 => {
            let reference = from.ec2.as_deref()?;
            inventory
                .role(c, input.at("from/ec2"), reference)
                .map(|r| Workload::Ec2 {
                    role: r.arn.clone(),
                    role_name: r.name.clone(),
                    account: r.account.clone(),
                })
        }
    }
}

/// Reports the keys of `from` that are missing for, or do not apply to, `kind`.
fn check_fields(c: &mut Checker<'_>, input: &Input<'_>, from: &RawSource, kind: SourceKind) {
    let identity = [
        ("namespace", &from.namespace),
        ("serviceAccount", &from.service_account),
    ];
    for (field, value) in identity {
        match (kind.is_kubernetes(), value) {
            (true, None) => c.push(
                Diagnostic::error(
                    Code::MissingField,
                    input.at("from"),
                    format!("missing field `{field}`"),
                )
                .help(format!(
                    "a Kubernetes source needs `namespace` and `serviceAccount`; add `{field}`"
                ))
                .at_key(),
            ),
            (false, Some(_)) => c.push(
                Diagnostic::error(
                    Code::ConflictingFields,
                    input.at("from").field(field),
                    format!("`{field}` only applies to `gke` and `eks` sources"),
                )
                .help(format!("remove `{field}`"))
                .at_key(),
            ),
            (true, Some(_)) | (false, None) => {}
        }
    }
    if let Some(ksa) = &from.service_account
        && ksa.len() > MAX_KSA_NAME
    {
        c.push(
            Diagnostic::error(
                Code::CloudLimit,
                input.at("from/serviceAccount"),
                "a Kubernetes ServiceAccount name is at most 253 characters",
            )
            .help("shorten the name"),
        );
    }
    if !kind.is_kubernetes() && from.workloads.is_some() {
        c.push(
            Diagnostic::error(
                Code::ConflictingFields,
                input.at("from/workloads"),
                "`workloads` only applies to `gke` and `eks` sources",
            )
            .help("remove `workloads`")
            .at_key(),
        );
    }
    if !kind.is_kubernetes() && from.containers.is_some() {
        c.push(
            Diagnostic::error(
                Code::ConflictingFields,
                input.at("from/containers"),
                "`containers` only applies to `gke` and `eks` sources",
            )
            .help("remove `containers`")
            .at_key(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(namespace: Option<&str>) -> Workload {
        Workload::Kubernetes {
            cluster_kind: ClusterKind::Eks,
            cluster: "data".to_owned(),
            issuer: "https://oidc.eks.us-east-1.amazonaws.com/id/X".to_owned(),
            namespace: namespace.map(str::to_owned),
            service_account: Some("app".to_owned()),
            containers: vec!["app".to_owned()],
            workloads: Vec::new(),
        }
    }

    #[test]
    fn a_kubernetes_source_needs_its_namespace_and_service_account() {
        assert!(workload(None).into_source().is_none());
        let source = workload(Some("billing")).into_source().unwrap();
        assert_eq!(
            source.kubernetes_subject(),
            Some("system:serviceaccount:billing:app")
        );
    }
}
