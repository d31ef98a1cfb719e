//! The review summary (`OUT/README.md`: a table of federations and a Mermaid flowchart of the
//! trust chain, which GitHub renders in the pull request) and `crossfed explain NAME`.
//!
//! Both describe the same chain from the same data, so what a reviewer reads matches what was
//! rendered: the hops are computed once, in [`chain`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::hash::BuildHasher as _;

use serde::Serialize;

use super::grants::Grants;
use super::templates::{self, TEMPLATE_SUMMARY_HEAD, TEMPLATE_SUMMARY_TAIL};
use super::{FilePlan, Header, PlannedFile, RenderError, paths};
use crate::model::{
    ClusterKind, Federation, Method, ProviderKind, Source, Spec, Target, TokenDelivery,
    issuer_host_path,
};
use crate::plan::Plan;

/// One hop of a trust chain: `from` is trusted as `to` by `how`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hop {
    /// The identity that presents a credential.
    pub from: String,
    /// The identity it becomes.
    pub to: String,
    /// The mechanism, in a few words.
    pub how: String,
}

fn source_label(source: &Source) -> String {
    match source {
        Source::Kubernetes {
            cluster_kind,
            cluster,
            namespace,
            service_account,
            ..
        } => {
            let kind = match cluster_kind {
                ClusterKind::Gke => "GKE",
                ClusterKind::Eks => "EKS",
            };
            format!("{kind} {cluster}: ServiceAccount {namespace}/{service_account}")
        }
        Source::Gce { service_account } => format!("GCE VM running as {service_account}"),
        Source::Ec2 {
            role_name, account, ..
        } => format!("EC2 instance with role {role_name} ({account})"),
    }
}

fn target_label(target: &Target) -> String {
    match target {
        Target::AwsRole { arn, .. } => format!("AWS role {arn}"),
        Target::GcpServiceAccount { email, .. } => format!("Google SA {email}"),
        Target::GcpRoles {
            project,
            roles,
            grants,
        } => {
            let mut parts = Vec::new();
            if !roles.is_empty() {
                parts.push(format!("{} on project {project}", roles.join(", ")));
            }
            parts.extend(
                grants
                    .iter()
                    .map(|g| format!("{} on {}", g.role, g.resource.name())),
            );
            parts.join("; ")
        }
    }
}

/// The hops of a federation, source first.
#[must_use]
pub fn chain(spec: &Spec, f: &Federation) -> Vec<Hop> {
    let source = source_label(&f.source);
    let target = target_label(&f.target);
    match &f.method {
        Method::GoogleIdToken {
            service_account,
            audience,
            delivery,
            ..
        } => {
            let gsa = format!("Google SA {service_account}");
            let mut hops = Vec::new();
            if let Source::Kubernetes { .. } = f.source {
                hops.push(Hop {
                    from: source,
                    to: gsa.clone(),
                    how: "GKE Workload Identity (roles/iam.workloadIdentityUser)".to_owned(),
                });
            } else {
                hops.push(Hop {
                    from: source,
                    to: gsa.clone(),
                    how: "attached service account".to_owned(),
                });
            }
            let delivery = match delivery {
                TokenDelivery::Sidecar => "token file",
                TokenDelivery::CredentialProcess => "credential_process",
            };
            hops.push(Hop {
                from: gsa,
                to: target,
                how: format!("Google ID token, aud {audience} ({delivery})"),
            });
            hops
        }
        Method::AwsOidcProvider {
            issuer, audience, ..
        } => {
            let provider = format!("IAM OIDC provider {}", issuer_host_path(issuer));
            let subject = f.source.kubernetes_subject().unwrap_or_default();
            vec![
                Hop {
                    from: source,
                    to: provider.clone(),
                    how: format!("projected token, aud {audience}"),
                },
                Hop {
                    from: provider,
                    to: target,
                    how: format!("sub {subject}"),
                },
            ]
        }
        Method::WorkloadIdentityPool {
            pool,
            provider,
            provider_kind,
        } => {
            let node = format!(
                "WIF {}/{provider} ({})",
                pool,
                spec.pools.get(pool).map_or("", |p| p.project.as_str())
            );
            let first = match provider_kind {
                ProviderKind::Oidc { audience, .. } => format!("projected token, aud {audience}"),
                ProviderKind::Aws { .. } => "signed GetCallerIdentity (IMDSv2)".to_owned(),
            };
            let second = match &f.target {
                Target::GcpServiceAccount { .. } => {
                    "impersonation (roles/iam.workloadIdentityUser)".to_owned()
                }
                _ => "roles granted to the federated principal".to_owned(),
            };
            vec![
                Hop {
                    from: source,
                    to: node.clone(),
                    how: first,
                },
                Hop {
                    from: node,
                    to: target,
                    how: second,
                },
            ]
        }
    }
}

/// Each federation's files, in path order (a hash map: it is only looked up, once per row).
type FilesOf<'a> = std::collections::HashMap<&'a str, Vec<&'a str>, foldhash::fast::FixedState>;

/// The files of each federation, from what every planned file records it serves.
fn files_by_federation(files: &FilePlan) -> FilesOf<'_> {
    let mut out = FilesOf::default();
    for (path, file) in files {
        for name in &file.federations {
            out.entry(name.as_str()).or_default().push(path.as_str());
        }
    }
    out
}

/// Writes a Mermaid label, quoted, at the end of `out`. Inside the quotes, Mermaid reads `#…;` as
/// an entity and renders `<…>` as HTML, so `#`, `"`, `<` and `>` (an IAM path may hold any of
/// them) are written as entity codes.
fn push_mermaid_label(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            _ => out.push(c),
        }
    }
    out.push('"');
}

/// A Mermaid `flowchart` of `hops` (distinct, each one edge), its nodes and edges in order.
fn mermaid_of(hops: &[&Hop]) -> String {
    let mut hops = hops.to_vec();
    hops.sort_unstable();
    let mut nodes: Vec<&str> = hops
        .iter()
        .flat_map(|h| [h.from.as_str(), h.to.as_str()])
        .collect();
    nodes.sort_unstable();
    nodes.dedup();
    // Each node is named by its place among the labels, in order.
    let id = |label: &str| match nodes.binary_search(&label) {
        Ok(n) | Err(n) => n,
    };
    let mut out = String::from("flowchart LR\n");
    for (n, label) in nodes.iter().enumerate() {
        let _ = write!(out, "  n{n}[");
        push_mermaid_label(&mut out, label);
        out.push_str("]\n");
    }
    for hop in &hops {
        let _ = write!(out, "  n{} -->|", id(&hop.from));
        push_mermaid_label(&mut out, &hop.how);
        let _ = writeln!(out, "| n{}", id(&hop.to));
    }
    out
}

/// A federation as the summary's tables and charts show it, computed once however many pages
/// list it: its table cells (name, source, method, target; labels through [`md_cell`]) and its
/// chain.
#[derive(Debug)]
pub(super) struct Drawn {
    cells: [String; 4],
    hops: Vec<Hop>,
    /// The hash of each hop, for finding the distinct hops of a page ([`hops_of`]).
    keys: Vec<u64>,
}

impl Drawn {
    fn of(spec: &Spec, f: &Federation) -> Self {
        let hops = chain(spec, f);
        // A chain starts at the source's label and ends at the target's.
        let source = hops.first().map_or_else(
            || md_cell(&source_label(&f.source)),
            |hop| md_cell(&hop.from),
        );
        let target = hops
            .last()
            .map_or_else(|| md_cell(&target_label(&f.target)), |hop| md_cell(&hop.to));
        let keys = hops.iter().map(hop_key).collect();
        Drawn {
            cells: [
                f.name.clone(),
                source,
                method_label(&f.method).to_owned(),
                target,
            ],
            hops,
            keys,
        }
    }
}

/// Every federation's [`Drawn`] cells, drawn in shares of [`Drawing::SHARE`] federations: by
/// the render's threads as jobs of their own ([`Drawing::draw`], the last jobs, so that they
/// fill the threads that finish first), and by [`render`] for any share still to draw. They do
/// not depend on the files, which the summary waits for.
#[derive(Debug)]
pub struct Drawing<'a> {
    spec: &'a Spec,
    /// Federations per share ([`Drawing::SHARE`] but in tests).
    size: usize,
    shares: Vec<std::sync::OnceLock<Vec<Drawn>>>,
}

impl<'a> Drawing<'a> {
    /// Federations per share: a millisecond or two of drawing, so that the thread that draws
    /// the last share does not keep the other threads waiting for long.
    const SHARE: usize = 100;

    /// Nothing drawn yet.
    #[must_use]
    pub fn new(spec: &'a Spec) -> Self {
        Self::in_shares_of(spec, Self::SHARE)
    }

    fn in_shares_of(spec: &'a Spec, size: usize) -> Self {
        let shares = spec.federations.len().div_ceil(size);
        Drawing {
            spec,
            size,
            shares: std::iter::repeat_with(std::sync::OnceLock::new)
                .take(shares)
                .collect(),
        }
    }

    /// How many shares there are to draw.
    #[must_use]
    pub fn shares(&self) -> usize {
        self.shares.len()
    }

    /// The cells of share `share` (of [`Drawing::shares`]), drawn unless they are already.
    pub(super) fn draw(&self, share: usize) -> &[Drawn] {
        self.shares.get(share).map_or(&[], |slot| {
            slot.get_or_init(|| {
                let start = share * self.size;
                let end = (start + self.size).min(self.spec.federations.len());
                self.spec.federations[start..end]
                    .iter()
                    .map(|f| Drawn::of(self.spec, f))
                    .collect()
            })
        })
    }

    /// The cells drawn, without the spec they were drawn from: to be freed on another thread.
    pub(super) fn into_cells(self) -> impl Send + 'static {
        self.shares
    }

    /// Every federation's cells, in the spec's order, drawing the shares still to draw side
    /// by side.
    fn all(&self) -> Vec<&Drawn> {
        let shares: Vec<usize> = (0..self.shares()).collect();
        crate::par::map(&shares, 1, |&share| self.draw(share))
            .into_iter()
            .flatten()
            .collect()
    }
}

/// Context of `summary-head.md`. Fields are load-bearing: used by
/// templates/summary-head.md.tera.
#[derive(Debug, Serialize)]
struct SummaryHead<'a> {
    header: &'a str,
}

/// Context of `summary-tail.md`. Fields are load-bearing: used by
/// templates/summary-tail.md.tera.
#[derive(Debug, Serialize)]
struct SummaryTail {
    runbook: Runbook,
    /// Empty unless the spec accepts a security rule: the section is then left out entirely.
    accepted: Vec<AcceptedRow>,
    /// Derived providers crossfed split, one row per pool and base (usually none).
    shards: Vec<ShardRow>,
}

/// A derived provider split into shards. Ids are validated pool and provider ids: safe in
/// Markdown code spans.
#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct ShardRow {
    pool: String,
    base: String,
    count: usize,
    first: String,
    last: String,
}

fn shard_rows(spec: &crate::model::Spec) -> Vec<ShardRow> {
    let rows: BTreeSet<ShardRow> = spec
        .provider_shards
        .iter()
        .map(|(key, shard)| {
            let (first, last) = shard.range();
            ShardRow {
                pool: key.split_once('/').map_or("", |(pool, _)| pool).to_owned(),
                base: shard.base.clone(),
                count: shard.count,
                first,
                last,
            }
        })
        .collect();
    rows.into_iter().collect()
}

/// The apply order of the output README: what to run, where, in which order. Paths are the
/// planned ones (an entry is listed only when its file is in the tree); names are validated as
/// DNS labels, account ids or pool ids, so they are safe in Markdown code spans.
#[derive(Debug, Default, Serialize)]
struct Runbook {
    /// `aws/<account>/apply.sh`.
    aws: Vec<String>,
    /// Per project: `gcp/<project>/gke-workload-identity.sh` and the pools' `apply.sh`.
    gcp: Vec<String>,
    /// Clusters and how many namespace folders each has.
    clusters: Vec<ClusterRow>,
    gce_hosts: usize,
    ec2_hosts: usize,
    /// The `revoke.sh` scripts, per account, project and cluster.
    revoke: Vec<String>,
    /// Whether the Terraform modules were written.
    terraform: bool,
}

/// A cluster of the runbook.
#[derive(Debug, Serialize)]
struct ClusterRow {
    name: String,
    namespaces: usize,
}

impl Runbook {
    fn new(plan: &Plan, files: &FilePlan, revocations: &Grants) -> Self {
        let present = |path: String| files.contains_key(&path).then_some(path);
        let mut gcp: Vec<String> = plan
            .gcp
            .gke_bindings
            .keys()
            .filter_map(|project| present(paths::gke_bindings(project)))
            .collect();
        gcp.extend(
            plan.gcp
                .service_account_grants
                .keys()
                .filter_map(|project| present(paths::service_account_grants(project))),
        );
        gcp.extend(plan.gcp.pools.keys().filter_map(|id| {
            let pool = plan.spec.pools.get(id)?;
            present(paths::pool_apply(pool))
        }));
        gcp.sort();
        let mut clusters: BTreeMap<&str, usize> = BTreeMap::new();
        for (cluster, _) in plan.kubernetes.keys() {
            *clusters.entry(cluster).or_default() += 1;
        }
        Runbook {
            aws: plan
                .aws
                .keys()
                .filter_map(|account| present(paths::aws_apply(account)))
                .collect(),
            gcp,
            clusters: clusters
                .into_iter()
                .map(|(cluster, namespaces)| ClusterRow {
                    name: cluster.to_owned(),
                    namespaces,
                })
                .collect(),
            gce_hosts: plan.gce_hosts.len(),
            ec2_hosts: plan.ec2_hosts.len(),
            terraform: files.contains_key(&super::terraform::root_path()),
            revoke: revocations
                .aws
                .keys()
                .map(|account| paths::aws_revoke(account))
                .chain(revocations.gcp.keys().map(|p| paths::gcp_revoke(p)))
                .chain(
                    revocations
                        .kubernetes
                        .keys()
                        .map(|c| paths::kubernetes_revoke(c)),
                )
                .filter_map(present)
                .collect(),
        }
    }
}

/// A security rule a federation accepts. The reason's alphabet is restricted at validation
/// (`patterns::ACCEPT_REASON`), so it is safe in Markdown as written.
#[derive(Debug, Serialize)]
struct AcceptedRow {
    federation: String,
    rule: &'static str,
    reason: String,
}

/// `text` as the content of a Markdown table cell that means only itself: `|` would end the
/// cell, `<` and `&` start HTML (a comment would hide the rest of the page), and `` ` ``, `*`,
/// `_`, `[`, `]` and `\` format or link. An IAM path in a role ARN may hold any of them.
fn md_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' | '`' | '*' | '_' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Appends the federation table's rows to `out`: name, source, method, target, and a link to
/// each file that serves the federation. Written here rather than looped over in a template: an
/// organisation's table has tens of thousands of rows, and a template context and output buffer
/// of that size cost several times the table (measured: 60 MB for a 12 MB table). Labels go
/// through [`md_cell`]; names and paths are validated (DNS labels, role names), and none holds a
/// line break. Reserves room for the rows and `then` more bytes (what follows the table).
fn table_rows(
    federations: &[&Drawn],
    by_federation: &FilesOf<'_>,
    link_prefix: &str,
    keep: &dyn Fn(&str) -> bool,
    out: &mut String,
    then: usize,
) {
    let rows: Vec<_> = federations
        .iter()
        .map(|f| {
            let files: Option<Vec<&str>> = by_federation
                .get(f.cells[0].as_str())
                .map(|files| files.iter().copied().filter(|p| keep(p)).collect());
            (&f.cells, files)
        })
        .collect();
    // The table is most of the README: grow the buffer once, to its exact size.
    let size: usize = rows
        .iter()
        .map(|(cells, files)| {
            let links: usize = files.as_ref().map_or(0, |files| {
                files
                    .iter()
                    .map(|p| 2 * p.len() + link_prefix.len() + 4)
                    .sum::<usize>()
                    + 4 * files.len()
            });
            cells.iter().map(String::len).sum::<usize>() + 16 + links
        })
        .sum();
    out.reserve(size + then);
    // Pieces pushed one by one: `write!` goes through the formatting machinery for each, and
    // the rows are tens of thousands.
    for ([name, source, method, target], files) in rows {
        for piece in [
            "| `", name, "` | ", source, " | ", method, " | ", target, " | ",
        ] {
            out.push_str(piece);
        }
        for (i, file) in files.into_iter().flatten().enumerate() {
            if i > 0 {
                out.push_str("<br>");
            }
            for piece in ["[", file, "](", link_prefix, file, ")"] {
                out.push_str(piece);
            }
        }
        out.push_str(" |\n");
    }
}

fn method_label(method: &Method) -> &'static str {
    match method {
        Method::GoogleIdToken { .. } => "Google ID token (accounts.google.com)",
        Method::AwsOidcProvider { .. } => "IAM OIDC provider for the cluster issuer",
        Method::WorkloadIdentityPool {
            provider_kind: ProviderKind::Oidc { .. },
            ..
        } => "Workload Identity Federation, OIDC provider",
        Method::WorkloadIdentityPool {
            provider_kind: ProviderKind::Aws { .. },
            ..
        } => "Workload Identity Federation, AWS provider",
    }
}

/// Where the summary goes, relative to the output directory.
pub const PATH: &str = "README.md";

/// From this many federations on, `README.md` is an index and each AWS account, GCP project and
/// cluster gets a page of its own: one page of an organisation's tree would be megabytes, more
/// than code-hosting sites render.
pub const PAGED_FROM: usize = 200;

/// Mermaid's defaults (`maxEdges`, `maxTextSize`): a larger chart is not drawn at all.
const MERMAID_MAX_EDGES: usize = 500;
const MERMAID_MAX_TEXT: usize = 50_000;

/// The federation table's head, after a blank line.
const TABLE_HEAD: &str =
    "\n| federation | source | method | target | files |\n|---|---|---|---|---|\n";

/// A page of a paged summary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Page {
    Account(String),
    Project(String),
    Cluster(String),
}

impl Page {
    fn path(&self) -> String {
        match self {
            Page::Account(id) => format!("aws/{id}/README.md"),
            Page::Project(id) => format!("gcp/{id}/README.md"),
            Page::Cluster(name) => format!("kubernetes/{name}/README.md"),
        }
    }

    fn title(&self) -> String {
        match self {
            Page::Account(id) => format!("AWS account {id}"),
            Page::Project(id) => format!("GCP project {id}"),
            Page::Cluster(name) => format!("Cluster {name}"),
        }
    }

    /// The pages `f` is listed on: its target's account or pool project, and its cluster.
    fn of(spec: &Spec, f: &Federation) -> Vec<Page> {
        let mut pages = Vec::new();
        match (&f.target, &f.method) {
            (Target::AwsRole { arn, .. }, _) => {
                if let Some(role) = spec.roles.get(arn) {
                    pages.push(Page::Account(role.account.clone()));
                }
            }
            (_, Method::WorkloadIdentityPool { pool, .. }) => {
                if let Some(pool) = spec.pools.get(pool) {
                    pages.push(Page::Project(pool.project.clone()));
                }
            }
            _ => {}
        }
        if let Source::Kubernetes { cluster, .. } = &f.source {
            pages.push(Page::Cluster(cluster.clone()));
        }
        pages
    }
}

/// The trust-chain section of a page: the chart of `hops`, or why it is left out. Hops are
/// counted first, so that a chart over Mermaid's edge limit (an organisation's account or
/// cluster page) is never drawn only to be left out.
fn chart_section(hops: &[&Hop], out: &mut String) {
    out.push_str("\n## Trust chain\n\n");
    let edges = hops.len();
    if edges > MERMAID_MAX_EDGES {
        let _ = writeln!(
            out,
            "Not drawn: {edges} hops, more than Mermaid renders ({MERMAID_MAX_EDGES} edges). `crossfed explain FEDERATION` prints one federation's chain."
        );
        return;
    }
    let chart = mermaid_of(hops);
    if chart.len() > MERMAID_MAX_TEXT {
        let _ = writeln!(
            out,
            "Not drawn: {edges} hops ({} characters), more than Mermaid renders ({MERMAID_MAX_EDGES} edges, {MERMAID_MAX_TEXT} characters). `crossfed explain FEDERATION` prints one federation's chain.",
            chart.len()
        );
    } else {
        out.push_str("```mermaid\n");
        out.push_str(&chart);
        out.push_str("```\n");
    }
}

/// The distinct hops of the chains of `federations`, in no particular order. Each hop is hashed
/// once, when its federation is drawn: a federation is listed on one or two pages, and its hops
/// are long labels.
fn hops_of<'a>(federations: &[&'a Drawn]) -> Vec<&'a Hop> {
    // Sized for every hop, so that no hop is hashed again as the table grows.
    let mut distinct: hashbrown::HashTable<&Hop> =
        hashbrown::HashTable::with_capacity(federations.iter().map(|f| f.hops.len()).sum());
    for f in federations {
        for (hop, &key) in f.hops.iter().zip(&f.keys) {
            if let hashbrown::hash_table::Entry::Vacant(entry) =
                distinct.entry(key, |known| *known == hop, |known| hop_key(known))
            {
                entry.insert(hop);
            }
        }
    }
    distinct.into_iter().collect()
}

/// The hash of `hop` that [`hops_of`] finds it by.
fn hop_key(hop: &Hop) -> u64 {
    foldhash::fast::FixedState::default().hash_one(hop)
}

/// The front page of the summary, but its table of federations when it has one.
struct Front<'d> {
    /// Its head; with pages, also the list of pages and the tail.
    index: String,
    /// Its tail, still to add after the table (empty with pages).
    tail: String,
    /// Each page and the federations it lists (none below [`PAGED_FROM`] federations).
    pages: Vec<(Page, Vec<&'d Drawn>)>,
}

/// The [`Front`] page of [`render`].
fn front_page<'d>(
    plan: &Plan,
    header: &Header,
    revocations: &Grants,
    files: &FilePlan,
    drawing: &'d Drawing<'_>,
) -> Result<Front<'d>, RenderError> {
    let spec = &plan.spec;
    let accepted = spec
        .federations
        .iter()
        .flat_map(|f| {
            f.accept.iter().map(|a| AcceptedRow {
                federation: f.name.clone(),
                rule: a.rule.as_str(),
                reason: a.reason.clone(),
            })
        })
        .collect();
    let tail = templates::render(
        TEMPLATE_SUMMARY_TAIL,
        &SummaryTail {
            runbook: Runbook::new(plan, files, revocations),
            accepted,
            shards: shard_rows(spec),
        },
    )?;
    let mut index = templates::render(
        TEMPLATE_SUMMARY_HEAD,
        &SummaryHead {
            header: header.text(),
        },
    )?;
    if spec.federations.len() < PAGED_FROM {
        return Ok(Front {
            index,
            tail,
            pages: Vec::new(),
        });
    }
    // Each federation is listed on one or two pages: its cells are drawn once.
    let drawn = drawing.all();
    let mut pages: BTreeMap<Page, Vec<&Drawn>> = BTreeMap::new();
    for (f, drawn) in spec.federations.iter().zip(drawn) {
        for page in Page::of(spec, f) {
            pages.entry(page).or_default().push(drawn);
        }
    }
    let _ = write!(
        index,
        "\n{} federations. Each AWS account, GCP project and cluster has a page listing the federations into or from it, their files and a map of their trust chain.\n\n| page | federations |\n|---|---:|\n",
        spec.federations.len()
    );
    for (page, federations) in &pages {
        let _ = writeln!(
            index,
            "| [{}]({}) | {} |",
            page.title(),
            page.path(),
            federations.len()
        );
    }
    index.push_str(&tail);
    Ok(Front {
        index,
        tail: String::new(),
        pages: pages.into_iter().collect(),
    })
}

/// The summary: `README.md`, and with [`PAGED_FROM`] federations or more a page per account,
/// project and cluster. Each page is handed to `each_page` (as a one-file part, see
/// [`super::render_with`]) on the thread that drew it: an organisation's pages are megabytes.
///
/// # Errors
/// On a template bug.
pub fn render(
    plan: &Plan,
    header: &Header,
    revocations: &Grants,
    files: &FilePlan,
    drawing: &Drawing<'_>,
    each_page: &(dyn Fn(&mut FilePlan) + Sync),
) -> Result<FilePlan, RenderError> {
    let spec = &plan.spec;
    // The files of each federation are gathered from the whole tree (tens of thousands of
    // files, for an organisation) beside the rest of the front page.
    let (by_federation, front) = crate::par::join(
        spec.federations.len() >= crate::par::MANY_FEDERATIONS,
        || files_by_federation(files),
        || front_page(plan, header, revocations, files, drawing),
    );
    let Front {
        mut index,
        tail,
        pages,
    } = front?;
    let mut out = FilePlan::new();
    if spec.federations.len() < PAGED_FROM {
        let all = drawing.all();
        index.push_str(TABLE_HEAD);
        table_rows(&all, &by_federation, "", &|_| true, &mut index, tail.len());
        chart_section(&hops_of(&all), &mut index);
        index.push_str(&tail);
        out.insert(PATH.to_owned(), PlannedFile::data(index, &BTreeSet::new()));
        each_page(&mut out);
        return Ok(out);
    }
    out.insert(PATH.to_owned(), PlannedFile::data(index, &BTreeSet::new()));
    each_page(&mut out);
    // Pages are independent, and an organisation has hundreds: drawn side by side.
    let drawn = crate::par::map(&pages, 8, |(page, federations)| {
        let mut text = format!(
            "<!-- {} -->\n# {}\n\n[All federations](../../README.md)\n",
            header.text(),
            page.title()
        );
        text.push_str(TABLE_HEAD);
        // Each file is listed once: a cluster's page lists the cluster's files, an account's or
        // project's page the rest.
        let cluster_dir = match page {
            Page::Cluster(name) => Some(format!("kubernetes/{name}/")),
            _ => None,
        };
        let keep = |path: &str| match &cluster_dir {
            Some(dir) => path.starts_with(dir.as_str()),
            None => !path.starts_with("kubernetes/"),
        };
        table_rows(federations, &by_federation, "../../", &keep, &mut text, 0);
        chart_section(&hops_of(federations), &mut text);
        let mut page = FilePlan::from([(page.path(), PlannedFile::data(text, &BTreeSet::new()))]);
        each_page(&mut page);
        page
    });
    out.extend(drawn.into_iter().flatten());
    Ok(out)
}

/// One federation's chain in words: who is trusted, by which claim and condition, and how to
/// check it in each cloud.
#[must_use]
#[allow(clippy::too_many_lines)] // one match over the three methods: each arm is a paragraph of the same explanation
pub fn explain(plan: &Plan, name: &str) -> Option<String> {
    let spec = &plan.spec;
    let f = plan.federation(name)?;
    let mut out = format!(
        "federation {name}\n  {} -> {}\n\n",
        source_label(&f.source),
        target_label(&f.target)
    );
    for (i, hop) in chain(spec, f).iter().enumerate() {
        let _ = write!(
            out,
            "{}. {} is trusted as {}\n   by {}\n",
            i + 1,
            hop.from,
            hop.to,
            hop.how
        );
    }
    out.push('\n');
    match (&f.method, &f.target) {
        (
            Method::GoogleIdToken {
                service_account,
                unique_id,
                audience,
                ..
            },
            Target::AwsRole { arn, .. },
        ) => {
            let role = arn.rsplit('/').next().unwrap_or(arn);
            let _ = write!(
                out,
                "Condition: the trust policy of {arn} admits principal accounts.google.com only when\n  accounts.google.com:aud = {unique_id} (the token's azp: {service_account})\n  accounts.google.com:sub = {unique_id}\n  accounts.google.com:oaud = {audience} (the audience the token was minted for)\n"
            );
            // Every member the output binds to the account, not only this federation's: what
            // explain says must never be less than the effective access.
            let members: Vec<&str> = plan
                .gcp
                .gke_bindings
                .values()
                .flat_map(BTreeMap::values)
                .filter(|b| b.service_account == *service_account)
                .map(|b| b.member.as_str())
                .collect();
            if !members.is_empty() {
                let _ = writeln!(
                    out,
                    "and only {} may act as {service_account}.",
                    members.join(", ")
                );
            }
            let _ = write!(
                out,
                "\nVerify:\n  aws iam get-role --role-name {role} --query Role.AssumeRolePolicyDocument\n  gcloud iam service-accounts get-iam-policy {service_account}\n  AWS console: IAM > Roles > {role} > Trust relationships\n"
            );
        }
        (
            Method::AwsOidcProvider {
                issuer, audience, ..
            },
            Target::AwsRole { arn, .. },
        ) => {
            let key = issuer_host_path(issuer);
            let role = arn.rsplit('/').next().unwrap_or(arn);
            let _ = write!(
                out,
                "Condition: the trust policy of {arn} admits the IAM OIDC provider for {issuer} only when\n  {key}:aud = {audience}\n  {key}:sub = {}\n\nVerify:\n  aws iam list-open-id-connect-providers\n  aws iam get-role --role-name {role} --query Role.AssumeRolePolicyDocument\n  AWS console: IAM > Identity providers, and IAM > Roles > {role} > Trust relationships\n",
                f.source.kubernetes_subject().unwrap_or_default()
            );
        }
        (
            Method::WorkloadIdentityPool {
                pool,
                provider,
                provider_kind,
            },
            target,
        ) => {
            let project = spec.pools.get(pool).map_or("", |p| p.project.as_str());
            let member = crate::plan::gcp::member(spec, f).unwrap_or_default();
            let condition = match provider_kind {
                ProviderKind::Oidc {
                    issuer, audience, ..
                } => format!(
                    "provider {provider} trusts issuer {issuer}, accepts tokens with aud {audience}, and its attribute\ncondition admits google.subject = {}",
                    f.source.kubernetes_subject().unwrap_or_default()
                ),
                ProviderKind::Aws { account } => format!(
                    "provider {provider} trusts AWS account {account}, and its attribute condition admits only\nthe assumed-role sessions of the roles named in the spec"
                ),
            };
            let _ = write!(out, "Condition: {condition}.\nMember: {member}\n");
            if let Some(shard) = spec.provider_shards.get(&format!("{pool}/{provider}")) {
                let (first, last) = shard.range();
                let _ = write!(
                    out,
                    "Shard: {provider} is shard {} of {} of the derived provider {}: its subjects are spread over\n  {first} … {last} by hash, so that each attribute condition stays within GCP's 4,096 characters.\n",
                    shard.index + 1,
                    shard.count,
                    shard.base,
                );
            }
            let grant = match target {
                Target::GcpServiceAccount { email, .. } => {
                    format!("  gcloud iam service-accounts get-iam-policy {email}\n")
                }
                Target::GcpRoles {
                    project,
                    roles,
                    grants,
                } => {
                    let mut lines = String::new();
                    if !roles.is_empty() {
                        let _ = writeln!(lines, "  gcloud projects get-iam-policy {project}");
                    }
                    for g in grants {
                        let resource = g.resource.name();
                        let _ = match crate::model::resource_kind(&resource) {
                            "bucket" => writeln!(
                                lines,
                                "  gcloud storage buckets get-iam-policy {resource}"
                            ),
                            "topic" => {
                                writeln!(lines, "  gcloud pubsub topics get-iam-policy {resource}")
                            }
                            _ => writeln!(lines, "  gcloud projects get-iam-policy {resource}"),
                        };
                    }
                    lines
                }
                Target::AwsRole { .. } => String::new(),
            };
            let _ = write!(
                out,
                "\nVerify:\n  gcloud iam workload-identity-pools providers describe {provider} --workload-identity-pool={pool} --location=global --project={project}\n{grant}  GCP console: IAM & Admin > Workload Identity Federation > {pool}\n"
            );
        }
        _ => {}
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{Drawing, Drawn, Hop, chart_section, hops_of, md_cell, push_mermaid_label};

    fn mermaid_label(text: &str) -> String {
        let mut out = String::new();
        push_mermaid_label(&mut out, text);
        out
    }

    #[test]
    fn cells_drawn_in_shares_in_any_order_are_each_federations_in_the_specs_order() {
        let source = include_str!("../../fixtures/valid/both-directions.yaml");
        let plan = crate::validate::validate("spec.yaml", source).unwrap();
        let spec = &plan.spec;
        assert!(spec.federations.len() >= 3, "a spec of several shares");
        let drawing = Drawing::in_shares_of(spec, 2);
        // A later share drawn first, as a render job would; the rest drawn by `all`.
        assert_eq!(drawing.draw(1).len(), (spec.federations.len() - 2).min(2));
        assert!(drawing.draw(99).is_empty(), "no such share");
        let all = drawing.all();
        assert_eq!(all.len(), spec.federations.len());
        for (drawn, f) in all.iter().zip(&spec.federations) {
            let expected = Drawn::of(spec, f);
            assert_eq!(drawn.cells, expected.cells, "{}", f.name);
            assert_eq!(drawn.hops, expected.hops, "{}", f.name);
        }
    }

    #[test]
    fn a_pages_hops_are_each_distinct_hop_of_its_federations_once() {
        let source = include_str!("../../fixtures/valid/both-directions.yaml");
        let plan = crate::validate::validate("spec.yaml", source).unwrap();
        let spec = &plan.spec;
        let drawn: Vec<Drawn> = spec
            .federations
            .iter()
            .map(|f| Drawn::of(spec, f))
            .collect();
        // Every federation twice: each of its hops is still listed once.
        let listed: Vec<&Drawn> = drawn.iter().chain(&drawn).collect();
        let hops = hops_of(&listed);
        let distinct: BTreeSet<&Hop> = drawn.iter().flat_map(|d| &d.hops).collect();
        assert!(distinct.len() > 1, "a spec of several hops");
        assert_eq!(hops.len(), distinct.len());
        assert_eq!(hops.into_iter().collect::<BTreeSet<_>>(), distinct);
    }

    /// `chains` chains of `hops` hops each, every hop with a label of `label_len` characters.
    fn hops(chains: usize, hops: usize, label_len: usize) -> Vec<Hop> {
        (0..chains)
            .flat_map(|chain| {
                (0..hops).map(move |i| Hop {
                    from: format!("{chain}-{i}"),
                    to: format!("{chain}-{}", i + 1),
                    how: "x".repeat(label_len),
                })
            })
            .collect()
    }

    fn section(hops: &[Hop]) -> String {
        let hops: Vec<&Hop> = hops.iter().collect();
        let mut out = String::new();
        chart_section(&hops, &mut out);
        out
    }

    #[test]
    fn a_chart_is_drawn_within_mermaids_limits_and_replaced_by_a_sentence_beyond() {
        assert!(section(&hops(2, 2, 10)).contains("```mermaid\nflowchart LR\n"));
        assert!(section(&hops(250, 2, 1)).contains("```mermaid"));
        let over = section(&hops(167, 3, 1));
        assert!(
            over.contains("Not drawn: 501 hops, more than Mermaid renders (500 edges)."),
            "{over}"
        );
        let long = section(&hops(1, 10, 6_000));
        assert!(
            long.starts_with("\n## Trust chain\n\nNot drawn: 10 hops (")
                && long.contains(
                    " characters), more than Mermaid renders (500 edges, 50000 characters)."
                ),
            "{long}"
        );
    }

    #[test]
    fn mermaid_labels_mean_only_themselves() {
        assert_eq!(
            mermaid_label("role/a\"b#quot;<img src=x>"),
            "\"role/a#quot;b#35;quot;#60;img src=x#62;\""
        );
    }

    #[test]
    fn table_cells_mean_only_themselves() {
        assert_eq!(
            md_cell("AWS role arn:aws:iam::1:role/a|b/<!--x-->/[l](u)/*e*_f_`c`\\/r"),
            "AWS role arn:aws:iam::1:role/a\\|b/&lt;!--x--&gt;/\\[l\\](u)/\\*e\\*\\_f\\_\\`c\\`\\\\/r"
        );
        assert_eq!(
            md_cell("GKE prod: ServiceAccount a/b"),
            "GKE prod: ServiceAccount a/b"
        );
    }
}
