//! The plan: every grouping, grant and trust edge the output needs, computed once from the
//! validated [`Spec`].
//!
//! Several artifacts describe one thing from different sides (a role's trust statements, the
//! OIDC provider they name, the script that creates both, the README row that lists them), and
//! the cross-artifact limits (trust-policy size, attribute-condition length) depend on those
//! groupings. Computing them here, in one pass over the federations with maps, keeps the cost
//! linear in the size of the spec and gives validation and every renderer the same answer:
//! validation checks limits on the plan, and renderers only format it.
//!
//! The plan owns the spec it was built from, so holding a [`Plan`] proves the spec validated.

pub mod aws;
pub mod closure;
pub mod gcp;
pub mod kubernetes;

use std::collections::BTreeMap;

use crate::model::{Source, Spec};

/// The validated spec and every grouping derived from it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The validated spec.
    pub spec: Spec,
    /// AWS accounts with something to manage, by id.
    pub aws: BTreeMap<String, aws::AccountPlan>,
    /// GKE bindings, pools, providers and credential configs.
    pub gcp: gcp::GcpPlan,
    /// Kubernetes namespaces with federated workloads, by (cluster, namespace).
    pub kubernetes: BTreeMap<(String, String), kubernetes::NamespacePlan>,
    /// Positions in [`Spec::federations`] of the federations from GCE VMs.
    pub gce_hosts: Vec<usize>,
    /// Positions in [`Spec::federations`] of the federations from EC2 instances.
    pub ec2_hosts: Vec<usize>,
    /// Position in [`Spec::federations`] of each federation, by name.
    pub by_name: BTreeMap<String, usize>,
}

/// Builds the plan of a validated spec.
#[must_use]
pub fn build(spec: Spec) -> Plan {
    // The three clouds' groupings only read the spec: built side by side.
    let many = spec.federations.len() >= crate::par::MANY_FEDERATIONS;
    let ((aws, kubernetes), gcp) = crate::par::join(
        many,
        || crate::par::join(many, || aws::build(&spec), || kubernetes::build(&spec)),
        || gcp::build(&spec),
    );
    let mut gce_hosts = Vec::new();
    let mut ec2_hosts = Vec::new();
    let mut by_name = BTreeMap::new();
    for (position, f) in spec.federations.iter().enumerate() {
        by_name.insert(f.name.clone(), position);
        match f.source {
            Source::Gce { .. } => gce_hosts.push(position),
            Source::Ec2 { .. } => ec2_hosts.push(position),
            Source::Kubernetes { .. } => {}
        }
    }
    Plan {
        spec,
        aws,
        gcp,
        kubernetes,
        gce_hosts,
        ec2_hosts,
        by_name,
    }
}

impl Plan {
    /// The federation called `name`.
    #[must_use]
    pub fn federation(&self, name: &str) -> Option<&crate::model::Federation> {
        self.by_name.get(name).map(|&i| &self.spec.federations[i])
    }
}
