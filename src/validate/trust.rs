//! Effective access equals the spec: what each workload can reach through every hop the output
//! creates ([`crate::plan::closure`]) must be what the spec declares for it, and nothing more.
//!
//! A hop the spec did not ask for arises when identities alias: two workloads share one Google
//! service account (each can mint the other's ID tokens), two GKE clusters of one project share
//! one workload pool (`ops/deployer` is the same member in both), or two clusters' subjects meet
//! in one workload-identity pool. Each finding names the path of hops, so the fix is visible.

use std::collections::{BTreeMap, HashMap};

use foldhash::fast::FixedState;

use crate::diag::{Code, Diagnostic};
use crate::model::{Federation, Method, Source};
use crate::plan::Plan;
use crate::plan::closure::{Graph, Node, declared, sources};
use crate::plan::gcp::gke_member;

/// One workload of the spec: its identity and what its federations declare.
struct Workload<'p> {
    /// Sorted, without repeats, once collected (vectors: most hold one or two nodes).
    starts: Vec<Node<'p>>,
    declared: Vec<Node<'p>>,
    first: &'p Federation,
}

/// Every reach the spec did not declare, and every GKE identity declared from two clusters.
#[must_use]
pub fn check(plan: &Plan) -> Vec<Diagnostic> {
    // The graph, the workloads and the GKE identities are three reads of the plan: side by side
    // for a large spec.
    let many = plan.spec.federations.len() >= crate::par::MANY_FEDERATIONS;
    let ((mut out, graph), workloads) = crate::par::join(
        many,
        || crate::par::join(many, || aliased_gke_identities(plan), || Graph::build(plan)),
        || workloads(plan),
    );
    // Each workload's reach is its own: a large spec's are split over the cores.
    let threads = crate::par::threads_for(workloads.len(), 1000);
    let size = workloads.len().div_ceil(threads).max(1);
    // One part (a small spec) runs on this thread: starting one costs more than the check.
    let parts: Vec<&[Workload<'_>]> = workloads.chunks(size).collect();
    let mut found: Vec<(usize, Diagnostic)> =
        crate::par::map(&parts, 1, |part| unreached_grants(&graph, part))
            .into_iter()
            .flatten()
            .collect();
    found.sort_by_key(|(index, _)| *index);
    out.extend(found.into_iter().map(|(_, d)| d));
    out
}

/// The workloads of the spec, in the order of their first federation. Federations of one
/// workload (the same first source node) pool what they declare.
fn workloads(plan: &Plan) -> Vec<Workload<'_>> {
    let mut workloads: HashMap<Node, Workload<'_>, FixedState> = HashMap::default();
    for f in &plan.spec.federations {
        let starts = sources(plan, f);
        let Some(key) = starts.first().cloned() else {
            continue;
        };
        let workload = workloads.entry(key).or_insert_with(|| Workload {
            starts: Vec::new(),
            declared: Vec::new(),
            first: f,
        });
        workload.starts.extend(starts);
        workload.declared.extend(declared(f));
        if f.index < workload.first.index {
            workload.first = f;
        }
    }
    let mut workloads: Vec<Workload<'_>> = workloads.into_values().collect();
    for workload in &mut workloads {
        for nodes in [&mut workload.starts, &mut workload.declared] {
            nodes.sort();
            nodes.dedup();
        }
    }
    workloads.sort_unstable_by_key(|w| w.first.index);
    workloads
}

/// What each of `workloads` reaches and was not granted, with its federation's position.
fn unreached_grants(graph: &Graph<'_>, workloads: &[Workload<'_>]) -> Vec<(usize, Diagnostic)> {
    let mut found = Vec::new();
    let mut searcher = graph.searcher();
    for workload in workloads {
        let reach = graph.reach(&workload.starts, &mut searcher);
        let mut beyond: Vec<(&Node, usize)> = reach
            .nodes()
            .map(|(at, id)| (graph.node(id), at))
            .filter(|(node, _)| {
                node.is_target()
                    && workload.declared.binary_search(node).is_err()
                    && workload.starts.binary_search(node).is_err()
            })
            .collect();
        // In the order of the nodes, whichever order they were reached in.
        beyond.sort_unstable();
        for (node, at) in beyond {
            let f = workload.first;
            let hops = reach.path(graph, at);
            found.push((
                f.index,
                Diagnostic::error(
                    Code::Security,
                    format!("/federations/{}/from", f.index),
                    format!(
                        "the workload of federation `{}` can also reach {node}, which the spec does not grant it",
                        f.name
                    ),
                )
                .help(format!(
                    "{}; give each workload its own Google service account, Kubernetes service account and pool, so that no identity is shared",
                    hops.join("; then ")
                ))
                .at_key(),
            ));
        }
    }
    found
}

/// GKE clusters of one project share the workload pool `PROJECT.svc.id.goog`: a Kubernetes
/// service account acting as a Google service account is one IAM member in all of them.
fn aliased_gke_identities(plan: &Plan) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, &Federation> = BTreeMap::new();
    for f in &plan.spec.federations {
        let (
            Source::Kubernetes {
                cluster,
                namespace,
                service_account,
                ..
            },
            Method::GoogleIdToken { .. },
        ) = (&f.source, &f.method)
        else {
            continue;
        };
        let Some(gke) = plan.spec.gke_clusters.get(cluster) else {
            continue;
        };
        let pool = gke.workload_pool();
        let member = gke_member(gke, namespace, service_account);
        match seen.get(&member) {
            Some(other) => {
                if let Source::Kubernetes {
                    cluster: other_cluster,
                    ..
                } = &other.source
                    && other_cluster != cluster
                {
                    out.push(
                        Diagnostic::error(
                            Code::Security,
                            format!("/federations/{}/from", f.index),
                            format!(
                                "`{namespace}/{service_account}` in cluster `{cluster}` is the same Workload Identity member as in cluster `{other_cluster}` (federation `{}`)",
                                other.name
                            ),
                        )
                        .help(format!(
                            "GKE clusters of project `{}` share the workload pool `{pool}`, so a pod of either cluster can act as the other's Google service account; use another namespace or service account name, or put the clusters in separate projects",
                            gke.project
                        ))
                        .at_key(),
                    );
                }
            }
            None => {
                seen.insert(member, f);
            }
        }
    }
    out
}
