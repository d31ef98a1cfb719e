//! The Kubernetes side of the plan: the workloads, one per Kubernetes service account, with the
//! federations that use it, grouped by cluster and namespace.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Source, Spec};

/// A Kubernetes service account and the federations that use it.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Cluster name.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// ServiceAccount name.
    pub service_account: String,
    /// Positions in [`Spec::federations`] of the federations that use it, in name order.
    pub federations: Vec<usize>,
}

/// One namespace of one cluster: the folder `kubernetes/<cluster>/<namespace>/`.
#[derive(Debug, Clone, Default)]
pub struct NamespacePlan {
    /// Workloads by ServiceAccount name.
    pub workloads: BTreeMap<String, Workload>,
    /// Every federation from the namespace.
    pub federations: BTreeSet<String>,
}

/// Namespaces by (cluster, namespace), in one pass over the federations.
#[must_use]
pub fn build(spec: &Spec) -> BTreeMap<(String, String), NamespacePlan> {
    let mut out: BTreeMap<(String, String), NamespacePlan> = BTreeMap::new();
    for (position, f) in spec.federations.iter().enumerate() {
        let Source::Kubernetes {
            cluster,
            namespace,
            service_account,
            ..
        } = &f.source
        else {
            continue;
        };
        let ns = out.entry((cluster.clone(), namespace.clone())).or_default();
        ns.federations.insert(f.name.clone());
        ns.workloads
            .entry(service_account.clone())
            .or_insert_with(|| Workload {
                cluster: cluster.clone(),
                namespace: namespace.clone(),
                service_account: service_account.clone(),
                federations: Vec::new(),
            })
            .federations
            .push(position);
    }
    out
}
