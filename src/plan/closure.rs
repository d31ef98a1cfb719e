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

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use foldhash::fast::FixedState;
use std::fmt;

use super::Plan;
use super::aws::Principal;
use super::gcp::{Binding, GkeBinding, ProviderSource, assumed_role, gke_member};
use crate::model::{Federation, Method, Source, Target, resource_kind};

/// An identity, as the cloud that checks it compares it. Its names are borrowed from the plan
/// where it holds them, and owned where they are derived (a GKE member, an assumed-role ARN, a
/// pool principal): an organisation's graph holds tens of thousands.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node<'p> {
    /// A Kubernetes service account's tokens: (issuer, `system:serviceaccount:NS:KSA`).
    ClusterToken {
        /// Issuer URL.
        issuer: Cow<'p, str>,
        /// `sub` claim.
        subject: Cow<'p, str>,
    },
    /// A GKE Workload Identity member, `serviceAccount:PROJECT.svc.id.goog[NS/KSA]`.
    WorkloadIdentity(Cow<'p, str>),
    /// A Google service account, by email.
    GoogleServiceAccount(Cow<'p, str>),
    /// An EC2 instance role's sessions, `arn:…:sts::ACCOUNT:assumed-role/ROLE`.
    Ec2Role(Cow<'p, str>),
    /// A workload-identity pool principal or principal set (`principal://…`, `principalSet://…`).
    PoolMember(Cow<'p, str>),
    /// An IAM role, by ARN.
    AwsRole(Cow<'p, str>),
    /// A GCP role granted on a project, bucket or topic: (resource name, role), see
    /// [`crate::model::GcpResource::name`].
    Grant(Cow<'p, str>, Cow<'p, str>),
}

impl fmt::Display for Node<'_> {
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

impl Node<'_> {
    /// Whether the node is something a federation may declare as its goal.
    #[must_use]
    pub fn is_target(&self) -> bool {
        matches!(
            self,
            Node::AwsRole(_) | Node::GoogleServiceAccount(_) | Node::Grant(..)
        )
    }
}

/// The artifact that creates a hop, as a reference into the plan: put in words only for a
/// finding, which is rare, so an organisation's graph formats none of its tens of thousands.
#[derive(Debug, Clone, Copy)]
pub enum Why<'p> {
    /// A GKE Workload Identity binding (`gke-workload-identity.sh`).
    GkeBinding(&'p GkeBinding),
    /// A trust statement: the role's ARN and the statement's `Sid`.
    Statement(&'p str, &'p str),
    /// A provider's attribute condition: the provider's id and the pool's.
    Provider(&'p str, &'p str),
    /// `roles/iam.workloadIdentityUser` for a pool principal on a Google service account.
    Impersonation(&'p Binding),
    /// A role granted to a pool principal.
    Grant(&'p Binding),
}

impl fmt::Display for Why<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::GkeBinding(binding) => {
                write!(
                    f,
                    "roles/iam.workloadIdentityUser on `{}` (federation ",
                    binding.service_account
                )?;
                for (i, name) in binding.federations.iter().enumerate() {
                    let comma = if i > 0 { ", " } else { "" };
                    write!(f, "{comma}`{name}`")?;
                }
                f.write_str(")")
            }
            Why::Statement(arn, sid) => {
                write!(f, "the trust policy of `{arn}` (statement `{sid}`)")
            }
            Why::Provider(provider, pool) => write!(
                f,
                "the attribute condition of provider `{provider}` in pool `{pool}`"
            ),
            Why::Impersonation(binding) => write!(
                f,
                "roles/iam.workloadIdentityUser on `{}` (federation `{}`)",
                binding.resource, binding.federation
            ),
            Why::Grant(binding) => write!(
                f,
                "`{}` granted on {} `{}` (federation `{}`)",
                binding.role,
                resource_kind(&binding.resource),
                binding.resource,
                binding.federation
            ),
        }
    }
}

/// One hop: node `to` (an index into the graph's nodes) is reachable from the hop's source
/// because of `why`.
#[derive(Debug, Clone, Copy)]
struct Hop<'p> {
    to: u32,
    why: Why<'p>,
}

/// Every hop the output creates. Each node is stored once and named by its index, so a hop is
/// two words and a search compares no strings.
#[derive(Debug, Default)]
pub struct Graph<'p> {
    ids: HashMap<Node<'p>, u32, FixedState>,
    nodes: Vec<Node<'p>>,
    /// Hops by source node index, sorted by their target node and then by their words, without
    /// repeats once built (the order a search follows, so the path it reports is the same on
    /// every run).
    hops: Vec<Vec<Hop<'p>>>,
}

/// What [`Graph::reach`] found: each node reached, in the order reached (breadth first, so each
/// recorded path is a shortest one), with the position in this list of the node it was first
/// reached from and the hop (`None` for a start).
#[derive(Debug)]
pub struct Reach<'p> {
    reached: Vec<(u32, Option<(usize, Why<'p>)>)>,
}

/// A search's scratch space, reused across the searches of one thread: `mark[i] == stamp` when
/// node `i` was reached by the current search.
#[derive(Debug)]
pub struct Searcher {
    stamp: u32,
    mark: Vec<u32>,
}

/// The nodes a federation's workload starts from.
#[must_use]
pub fn sources<'p>(plan: &'p Plan, f: &'p Federation) -> Vec<Node<'p>> {
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
                issuer: Cow::from(issuer.as_str()),
                subject: Cow::from(subject.as_str()),
            }];
            if let Some(gke) = spec.gke_clusters.get(cluster) {
                out.push(Node::WorkloadIdentity(
                    gke_member(gke, namespace, service_account).into(),
                ));
            }
            out
        }
        Source::Gce { service_account } => {
            vec![Node::GoogleServiceAccount(Cow::from(
                service_account.as_str(),
            ))]
        }
        Source::Ec2 { role, .. } => vec![Node::Ec2Role(assumed_role(spec, role).into())],
    }
}

/// What a federation declares its workload may reach: its target, and the Google service
/// account it acts as on the way.
#[must_use]
pub fn declared(f: &Federation) -> Vec<Node<'_>> {
    let mut out = match &f.target {
        Target::AwsRole { arn, .. } => vec![Node::AwsRole(Cow::from(arn.as_str()))],
        Target::GcpServiceAccount { email, .. } => {
            vec![Node::GoogleServiceAccount(Cow::from(email.as_str()))]
        }
        Target::GcpRoles {
            project,
            roles,
            grants,
        } => roles
            .iter()
            .map(|role| Node::Grant(Cow::from(project.as_str()), Cow::from(role.as_str())))
            .chain(
                grants
                    .iter()
                    .map(|g| Node::Grant(g.resource.name().into(), Cow::from(g.role.as_str()))),
            )
            .collect(),
    };
    if let Method::GoogleIdToken {
        service_account, ..
    } = &f.method
    {
        out.push(Node::GoogleServiceAccount(Cow::from(
            service_account.as_str(),
        )));
    }
    out
}

impl<'p> Graph<'p> {
    fn id(&mut self, node: Node<'p>) -> u32 {
        match self.ids.entry(node) {
            std::collections::hash_map::Entry::Occupied(known) => *known.get(),
            std::collections::hash_map::Entry::Vacant(new) => {
                let id = u32::try_from(self.nodes.len()).expect("fewer than 2^32 identities");
                self.nodes.push(new.key().clone());
                new.insert(id);
                self.hops.push(Vec::new());
                id
            }
        }
    }

    fn add(&mut self, from: Node<'p>, to: Node<'p>, why: Why<'p>) {
        let from = self.id(from);
        let to = self.id(to);
        self.hops[from as usize].push(Hop { to, why });
    }

    /// The node with index `id`.
    #[must_use]
    pub fn node(&self, id: u32) -> &Node<'p> {
        &self.nodes[id as usize]
    }

    /// Builds the graph of every hop in the plan.
    #[must_use]
    pub fn build(plan: &'p Plan) -> Self {
        let spec = &plan.spec;
        // Room for the identities at once (an organisation's spec has about two per federation,
        // sources and targets shared): growing the table rehashes every identity's long name.
        let nodes = spec.federations.len() * 5 / 2;
        let mut graph = Graph {
            ids: HashMap::with_capacity_and_hasher(nodes, FixedState::default()),
            nodes: Vec::with_capacity(nodes),
            hops: Vec::with_capacity(nodes),
        };
        // GKE Workload Identity bindings (gke-workload-identity.sh).
        for binding in plan.gcp.gke_bindings.values().flat_map(BTreeMap::values) {
            graph.add(
                Node::WorkloadIdentity(Cow::from(binding.member.as_str())),
                Node::GoogleServiceAccount(Cow::from(binding.service_account.as_str())),
                Why::GkeBinding(binding),
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
                    let why = Why::Statement(&role.arn, &statement.sid);
                    let values = |suffix: &'static str| {
                        statement
                            .conditions
                            .iter()
                            .filter(move |(k, _)| k.ends_with(suffix))
                            .flat_map(|(_, v)| v.iter())
                    };
                    if principal == "accounts.google.com" {
                        // A Google service account mints ID tokens for any audience it asks for:
                        // the `oaud` pin does not separate two workloads of one account.
                        for unique_id in values(":aud") {
                            if let Some(email) = by_unique_id.get(unique_id.as_str()) {
                                graph.add(
                                    Node::GoogleServiceAccount(Cow::from(*email)),
                                    Node::AwsRole(Cow::from(role.arn.as_str())),
                                    why,
                                );
                            }
                        }
                    } else if let Some(issuer) = issuer_of.get(principal.as_str()) {
                        // A pod picks the audience of its projected token, so the `aud` pin does
                        // not separate subjects either.
                        for subject in values(":sub") {
                            graph.add(
                                Node::ClusterToken {
                                    issuer: Cow::from(*issuer),
                                    subject: Cow::from(subject.as_str()),
                                },
                                Node::AwsRole(Cow::from(role.arn.as_str())),
                                why,
                            );
                        }
                    }
                }
            }
        }
        graph.add_pools(plan);
        let Graph { nodes, hops, .. } = &mut graph;
        for hops in hops.iter_mut() {
            let order = |a: &Hop<'_>, b: &Hop<'_>| {
                nodes[a.to as usize]
                    .cmp(&nodes[b.to as usize])
                    .then_with(|| a.why.to_string().cmp(&b.why.to_string()))
            };
            hops.sort_by(order);
            hops.dedup_by(|a, b| order(a, b).is_eq());
        }
        graph
    }

    /// Workload-identity pools: provider conditions, impersonation bindings and grants.
    fn add_pools(&mut self, plan: &'p Plan) {
        let spec = &plan.spec;
        for pool_plan in plan.gcp.pools.values() {
            let Some(pool) = spec.pools.get(&pool_plan.id) else {
                continue;
            };
            for provider in pool_plan.providers.values() {
                let why = Why::Provider(&provider.id, &pool_plan.id);
                match &provider.source {
                    ProviderSource::Oidc {
                        issuer, subjects, ..
                    } => {
                        for subject in subjects {
                            self.add(
                                Node::ClusterToken {
                                    issuer: Cow::from(issuer.as_str()),
                                    subject: Cow::from(subject.as_str()),
                                },
                                Node::PoolMember(pool.principal(subject).into()),
                                why,
                            );
                        }
                    }
                    ProviderSource::Aws { roles, .. } => {
                        for role in roles {
                            self.add(
                                Node::Ec2Role(Cow::from(role.as_str())),
                                Node::PoolMember(pool.principal_set("aws_role", role).into()),
                                why,
                            );
                        }
                    }
                }
            }
            for binding in &pool_plan.impersonations {
                self.add(
                    Node::PoolMember(Cow::from(binding.member.as_str())),
                    Node::GoogleServiceAccount(Cow::from(binding.resource.as_str())),
                    Why::Impersonation(binding),
                );
            }
            for binding in &pool_plan.grants {
                self.add(
                    Node::PoolMember(Cow::from(binding.member.as_str())),
                    Node::Grant(
                        Cow::from(binding.resource.as_str()),
                        Cow::from(binding.role.as_str()),
                    ),
                    Why::Grant(binding),
                );
            }
        }
    }

    /// Scratch space for [`Graph::reach`]: one per thread.
    #[must_use]
    pub fn searcher(&self) -> Searcher {
        Searcher {
            stamp: 0,
            mark: vec![0; self.nodes.len()],
        }
    }

    /// Everything reachable from `starts` that the graph holds (a start with no hop reaches only
    /// itself, and is left out), each with the hop that first reached it (breadth first, so the
    /// recorded path is a shortest one).
    #[must_use]
    pub fn reach(&self, starts: &[Node<'p>], searcher: &mut Searcher) -> Reach<'p> {
        searcher.stamp = searcher.stamp.wrapping_add(1);
        if searcher.stamp == 0 {
            // Wrapped: forget every earlier search.
            searcher.mark.fill(0);
            searcher.stamp = 1;
        }
        let Searcher { stamp, mark } = searcher;
        let mut reached: Vec<(u32, Option<(usize, Why<'p>)>)> = Vec::new();
        for start in starts {
            if let Some(&id) = self.ids.get(start)
                && mark[id as usize] != *stamp
            {
                mark[id as usize] = *stamp;
                reached.push((id, None));
            }
        }
        let mut next = 0;
        while let Some(&(id, _)) = reached.get(next) {
            let from = next;
            next += 1;
            for hop in &self.hops[id as usize] {
                if mark[hop.to as usize] != *stamp {
                    mark[hop.to as usize] = *stamp;
                    reached.push((hop.to, Some((from, hop.why))));
                }
            }
        }
        Reach { reached }
    }
}

impl Reach<'_> {
    /// The nodes reached, as (position in this result, index into the graph), in the order
    /// reached.
    pub fn nodes(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.reached
            .iter()
            .enumerate()
            .map(|(at, (id, _))| (at, *id))
    }

    /// The path from a start to the node at `position`, as lines of words.
    #[must_use]
    pub fn path(&self, graph: &Graph<'_>, position: usize) -> Vec<String> {
        let mut lines = Vec::new();
        let mut current = position;
        while let (id, Some((from, why))) = &self.reached[current] {
            let from = *from;
            lines.push(format!(
                "{} reaches {} through {why}",
                graph.node(self.reached[from].0),
                graph.node(*id)
            ));
            current = from;
        }
        lines.reverse();
        lines
    }
}
