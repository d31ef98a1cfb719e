//! The trust closure: every hop the rendered artifacts create, as a graph, and what each source
//! can reach through it.
//!
//! The clouds compare identities their own way, so nodes are keyed the way they do: a GKE
//! workload's Workload Identity member is `PROJECT.svc.id.goog[NS/KSA]`, shared by every cluster
//! of the project; a cluster token is (issuer, `sub`); a Google service account acts as itself
//! wherever it runs and mints ID tokens for any audience it asks for, so an audience pin never
//! separates two workloads that share one account; a pool principal is pool-wide, whichever
//! provider admitted it. Edges come from the plan, the same groupings the renderers format:
//! Workload Identity bindings, trust statements, provider conditions, impersonation bindings
//! and grants. Validation compares what each source reaches with what the spec declares for it.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use super::Plan;
use super::aws::Principal;
use super::gcp::{ProviderSource, assumed_role, gke_member};
use crate::model::{Federation, Method, Source, Target, resource_kind};

/// An identity, as the cloud that checks it compares it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    /// A Kubernetes service account's tokens: (issuer, `system:serviceaccount:NS:KSA`).
    ClusterToken {
        /// Issuer URL.
        issuer: String,
        /// `sub` claim.
        subject: String,
    },
    /// A GKE Workload Identity member, `serviceAccount:PROJECT.svc.id.goog[NS/KSA]`.
    WorkloadIdentity(String),
    /// A Google service account, by email.
    GoogleServiceAccount(String),
    /// An EC2 instance role's sessions, `arn:…:sts::ACCOUNT:assumed-role/ROLE`.
    Ec2Role(String),
    /// A workload-identity pool principal or principal set (`principal://…`, `principalSet://…`).
    PoolMember(String),
    /// An IAM role, by ARN.
    AwsRole(String),
    /// A GCP role granted on a project, bucket or topic: (resource name, role), see
    /// [`crate::model::GcpResource::name`].
    Grant(String, String),
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::ClusterToken { issuer, subject } => write!(f, "`{subject}` of issuer {issuer}"),
            Node::WorkloadIdentity(member) | Node::PoolMember(member) => write!(f, "`{member}`"),
            Node::GoogleServiceAccount(email) => write!(f, "Google service account `{email}`"),
            Node::Ec2Role(role) => write!(f, "EC2 sessions of `{role}`"),
            Node::AwsRole(arn) => write!(f, "AWS role `{arn}`"),
            Node::Grant(resource, role) => {
                write!(f, "`{role}` on {} `{resource}`", resource_kind(resource))
            }
        }
    }
}

impl Node {
    /// Whether the node is something a federation may declare as its goal.
    #[must_use]
    pub fn is_target(&self) -> bool {
        matches!(
            self,
            Node::AwsRole(_) | Node::GoogleServiceAccount(_) | Node::Grant(..)
        )
    }
}

/// One hop: `to` is reachable from the edge's source because of `why`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hop {
    /// Where the hop leads.
    pub to: Node,
    /// The artifact that creates it, in words (shared by every hop the artifact creates: one
    /// trust statement or provider condition admits thousands of subjects in an organisation).
    pub why: Arc<str>,
}

/// Every hop the output creates.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Hops by source node, sorted and without repeats once built (a vector, not a set: most
    /// nodes have one hop, and a set's node would cost ten times as much).
    edges: BTreeMap<Node, Vec<Hop>>,
}

/// The nodes a federation's workload starts from.
#[must_use]
pub fn sources(plan: &Plan, f: &Federation) -> Vec<Node> {
    let spec = &plan.spec;
    match &f.source {
        Source::Kubernetes {
            cluster,
            issuer,
            namespace,
            service_account,
            subject,
            ..
        } => {
            let mut out = vec![Node::ClusterToken {
                issuer: issuer.clone(),
                subject: subject.clone(),
            }];
            if let Some(gke) = spec.gke_clusters.get(cluster) {
                out.push(Node::WorkloadIdentity(gke_member(
                    gke,
                    namespace,
                    service_account,
                )));
            }
            out
        }
        Source::Gce { service_account } => {
            vec![Node::GoogleServiceAccount(service_account.clone())]
        }
        Source::Ec2 { role, .. } => vec![Node::Ec2Role(assumed_role(spec, role))],
    }
}

/// What a federation declares its workload may reach: its target, and the Google service
/// account it acts as on the way.
#[must_use]
pub fn declared(f: &Federation) -> Vec<Node> {
    let mut out = match &f.target {
        Target::AwsRole { arn, .. } => vec![Node::AwsRole(arn.clone())],
        Target::GcpServiceAccount { email, .. } => {
            vec![Node::GoogleServiceAccount(email.clone())]
        }
        Target::GcpRoles {
            project,
            roles,
            grants,
        } => roles
            .iter()
            .map(|role| Node::Grant(project.clone(), role.clone()))
            .chain(
                grants
                    .iter()
                    .map(|g| Node::Grant(g.resource.name(), g.role.clone())),
            )
            .collect(),
    };
    if let Method::GoogleIdToken {
        service_account, ..
    } = &f.method
    {
        out.push(Node::GoogleServiceAccount(service_account.clone()));
    }
    out
}

impl Graph {
    fn add(&mut self, from: Node, to: Node, why: &Arc<str>) {
        self.edges.entry(from).or_default().push(Hop {
            to,
            why: Arc::clone(why),
        });
    }

    /// Builds the graph of every hop in the plan.
    #[must_use]
    pub fn build(plan: &Plan) -> Self {
        let spec = &plan.spec;
        let mut graph = Graph::default();
        // GKE Workload Identity bindings (gke-workload-identity.sh).
        for binding in plan.gcp.gke_bindings.values().flat_map(BTreeMap::values) {
            graph.add(
                Node::WorkloadIdentity(binding.member.clone()),
                Node::GoogleServiceAccount(binding.service_account.clone()),
                &format!(
                    "roles/iam.workloadIdentityUser on `{}` (federation {})",
                    binding.service_account,
                    binding
                        .federations
                        .iter()
                        .map(|name| format!("`{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
                .into(),
            );
        }
        // Trust statements.
        let by_unique_id: BTreeMap<&str, &str> = spec
            .service_accounts
            .values()
            .filter_map(|s| Some((s.unique_id.as_deref()?, s.email.as_str())))
            .collect();
        for account in plan.aws.values() {
            let issuer_of: BTreeMap<&str, &str> = account
                .oidc_providers
                .values()
                .map(|p| (p.arn.as_str(), p.issuer.as_str()))
                .collect();
            for role in account.roles.values() {
                for statement in &role.statements {
                    let Principal::Federated(principal) = &statement.principal else {
                        continue;
                    };
                    let why: Arc<str> = format!(
                        "the trust policy of `{}` (statement `{}`)",
                        role.arn, statement.sid
                    )
                    .into();
                    let values = |suffix: &str| {
                        statement
                            .conditions
                            .iter()
                            .filter(|(k, _)| k.ends_with(suffix))
                            .flat_map(|(_, v)| v.iter())
                            .cloned()
                            .collect::<Vec<_>>()
                    };
                    if principal == "accounts.google.com" {
                        // A Google service account mints ID tokens for any audience it asks for:
                        // the `oaud` pin does not separate two workloads of one account.
                        for unique_id in values(":aud") {
                            if let Some(email) = by_unique_id.get(unique_id.as_str()) {
                                graph.add(
                                    Node::GoogleServiceAccount((*email).to_owned()),
                                    Node::AwsRole(role.arn.clone()),
                                    &why,
                                );
                            }
                        }
                    } else if let Some(issuer) = issuer_of.get(principal.as_str()) {
                        // A pod picks the audience of its projected token, so the `aud` pin does
                        // not separate subjects either.
                        for subject in values(":sub") {
                            graph.add(
                                Node::ClusterToken {
                                    issuer: (*issuer).to_owned(),
                                    subject,
                                },
                                Node::AwsRole(role.arn.clone()),
                                &why,
                            );
                        }
                    }
                }
            }
        }
        graph.add_pools(plan);
        for hops in graph.edges.values_mut() {
            hops.sort();
            hops.dedup();
        }
        graph
    }

    /// Workload-identity pools: provider conditions, impersonation bindings and grants.
    fn add_pools(&mut self, plan: &Plan) {
        let spec = &plan.spec;
        for pool_plan in plan.gcp.pools.values() {
            let Some(pool) = spec.pools.get(&pool_plan.id) else {
                continue;
            };
            for provider in pool_plan.providers.values() {
                let why: Arc<str> = format!(
                    "the attribute condition of provider `{}` in pool `{}`",
                    provider.id, pool.id
                )
                .into();
                match &provider.source {
                    ProviderSource::Oidc {
                        issuer, subjects, ..
                    } => {
                        for subject in subjects {
                            self.add(
                                Node::ClusterToken {
                                    issuer: issuer.clone(),
                                    subject: subject.clone(),
                                },
                                Node::PoolMember(pool.principal(subject)),
                                &why,
                            );
                        }
                    }
                    ProviderSource::Aws { roles, .. } => {
                        for role in roles {
                            self.add(
                                Node::Ec2Role(role.clone()),
                                Node::PoolMember(pool.principal_set("aws_role", role)),
                                &why,
                            );
                        }
                    }
                }
            }
            for binding in &pool_plan.impersonations {
                self.add(
                    Node::PoolMember(binding.member.clone()),
                    Node::GoogleServiceAccount(binding.resource.clone()),
                    &format!(
                        "roles/iam.workloadIdentityUser on `{}` (federation `{}`)",
                        binding.resource, binding.federation
                    )
                    .into(),
                );
            }
            for binding in &pool_plan.grants {
                self.add(
                    Node::PoolMember(binding.member.clone()),
                    Node::Grant(binding.resource.clone(), binding.role.clone()),
                    &format!(
                        "`{}` granted on {} `{}` (federation `{}`)",
                        binding.role,
                        resource_kind(&binding.resource),
                        binding.resource,
                        binding.federation
                    )
                    .into(),
                );
            }
        }
    }

    /// Everything reachable from `starts`, each with the hop that first reached it (breadth
    /// first, so the recorded path is a shortest one).
    #[must_use]
    pub fn reach(&self, starts: &[Node]) -> BTreeMap<Node, Option<(Node, Arc<str>)>> {
        let mut seen: BTreeMap<Node, Option<(Node, Arc<str>)>> = BTreeMap::new();
        let mut queue: VecDeque<Node> = VecDeque::new();
        for start in starts {
            if seen.insert(start.clone(), None).is_none() {
                queue.push_back(start.clone());
            }
        }
        while let Some(node) = queue.pop_front() {
            for hop in self.edges.get(&node).into_iter().flatten() {
                if !seen.contains_key(&hop.to) {
                    seen.insert(hop.to.clone(), Some((node.clone(), Arc::clone(&hop.why))));
                    queue.push_back(hop.to.clone());
                }
            }
        }
        seen
    }
}

/// The path from a start to `node` in a [`Graph::reach`] result, as lines of words.
#[must_use]
pub fn path(reached: &BTreeMap<Node, Option<(Node, Arc<str>)>>, node: &Node) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = node;
    while let Some(Some((from, why))) = reached.get(current) {
        lines.push(format!("{from} reaches {current} through {why}"));
        current = from;
    }
    lines.reverse();
    lines
}
