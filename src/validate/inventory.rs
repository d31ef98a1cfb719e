//! The inventory: what the spec declares (GCP projects, service accounts, GKE clusters and
//! workload-identity pools; AWS accounts, IAM roles and EKS clusters), checked and resolved into
//! the maps federations are looked up in.
//!
//! Each declared thing is keyed the way its cloud compares it: a project by id, a service account
//! by email, a role by its full ARN (so `name` + `account` and `arn` spellings of one role
//! collide), a cluster or pool by name or id. Names must be unique; a duplicate is reported and
//! the later declaration wins in the map, which does not matter because the spec is then invalid.
//!
//! Besides the maps that become the [`Spec`], the inventory keeps two indexes built once, so
//! resolving a federation never scans a list: where each service account is declared (for help
//! texts) and the ARNs of the roles of each name (federations may name a role by name alone).
//! The trade-off is a little memory for validation that stays linear in the number of federations.

use std::collections::BTreeMap;

use crate::config::{RawAwsAccount, RawEksCluster, RawGcp, RawGcpGrant, RawRole, RawSpec};
use crate::diag::{Code, Diagnostic};
use crate::model::{
    AwsAccount, AwsRole, EksCluster, Federation, GcpGrant, GcpProject, GcpResource, GkeCluster,
    Partition, PolicyStatement, Pool, ServiceAccount, Spec, policy_document, service_account_home,
};
use crate::validate::semantic::{Checker, Pointer, keys, quoted};

/// The declared things of a spec, resolved.
pub(super) struct Inventory {
    /// GCP projects by id.
    pub(super) gcp_projects: BTreeMap<String, GcpProject>,
    /// Google service accounts by email.
    pub(super) service_accounts: BTreeMap<String, ServiceAccount>,
    /// GKE clusters by name.
    pub(super) gke_clusters: BTreeMap<String, GkeCluster>,
    /// Workload-identity pools by id (only those whose project is declared).
    pub(super) pools: BTreeMap<String, Pool>,
    /// AWS accounts by id.
    pub(super) aws_accounts: BTreeMap<String, AwsAccount>,
    /// IAM roles by ARN.
    pub(super) roles: BTreeMap<String, AwsRole>,
    /// EKS clusters by name.
    pub(super) eks_clusters: BTreeMap<String, EksCluster>,
    /// The index in `gcp.serviceAccounts` of each email's first declaration.
    service_account_index: BTreeMap<String, usize>,
    /// The ARNs of the declared roles of each name, in ARN order.
    role_arns_by_name: BTreeMap<String, Vec<String>>,
}

impl Inventory {
    /// Checks the declarations of `raw` and resolves them.
    pub(super) fn build(c: &mut Checker<'_>, raw: &RawSpec) -> Self {
        let gcp_projects = projects(c, &raw.gcp);
        let (service_accounts, service_account_index) =
            service_accounts(c, &raw.gcp, &gcp_projects);
        let gke_clusters = gke_clusters(c, &raw.gcp, &gcp_projects);
        let pools = pools(c, &raw.gcp, &gcp_projects);
        let aws_accounts = aws_accounts(c, &raw.aws.accounts);
        let roles = roles(c, &raw.aws.roles, &aws_accounts);
        let eks_clusters = eks_clusters(c, &raw.aws.eks_clusters, &aws_accounts);
        // GKE and EKS clusters share one namespace: a federation's `from` names either.
        c.unique(
            "cluster name",
            raw.gcp
                .gke_clusters
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    (
                        Pointer::item("gcp/gkeClusters", i).field("name"),
                        k.name.as_str(),
                    )
                })
                .chain(raw.aws.eks_clusters.iter().enumerate().map(|(i, k)| {
                    (
                        Pointer::item("aws/eksClusters", i).field("name"),
                        k.name.as_str(),
                    )
                })),
        );
        let mut role_arns_by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for role in roles.values() {
            role_arns_by_name
                .entry(role.name.clone())
                .or_default()
                .push(role.arn.clone());
        }
        Inventory {
            gcp_projects,
            service_accounts,
            gke_clusters,
            pools,
            aws_accounts,
            roles,
            eks_clusters,
            service_account_index,
            role_arns_by_name,
        }
    }

    /// The resolved spec: this inventory and `federations` (in name order).
    pub(super) fn into_spec(
        self,
        federations: Vec<Federation>,
        outputs: crate::model::Outputs,
        provider_shards: std::collections::BTreeMap<String, crate::model::Shard>,
    ) -> Spec {
        Spec {
            gcp_projects: self.gcp_projects,
            service_accounts: self.service_accounts,
            gke_clusters: self.gke_clusters,
            pools: self.pools,
            aws_accounts: self.aws_accounts,
            roles: self.roles,
            eks_clusters: self.eks_clusters,
            federations,
            outputs,
            provider_shards,
        }
    }

    /// The service account of `email` and the index of its (first) declaration in
    /// `gcp.serviceAccounts`.
    pub(super) fn service_account(&self, email: &str) -> Option<(&ServiceAccount, usize)> {
        Some((
            self.service_accounts.get(email)?,
            *self.service_account_index.get(email)?,
        ))
    }

    /// The pool a federation into GCP uses when `via` names none: the only one declared.
    pub(super) fn only_pool(&self) -> Option<&Pool> {
        match self.pools.len() {
            1 => self.pools.values().next(),
            _ => None,
        }
    }

    /// Finds a role by ARN, or by name when exactly one declared role has it; reports a miss at
    /// `pointer`.
    pub(super) fn role(
        &self,
        c: &mut Checker<'_>,
        pointer: Pointer,
        reference: &str,
    ) -> Option<&AwsRole> {
        if let Some(role) = self.roles.get(reference) {
            return Some(role);
        }
        match self.role_arns_by_name.get(reference).map(Vec::as_slice) {
            Some([arn]) => self.roles.get(arn),
            None | Some([]) => {
                let known: Vec<&str> = self
                    .roles
                    .keys()
                    .map(String::as_str)
                    .chain(self.roles.values().map(|r| r.name.as_str()))
                    .collect();
                c.unknown(pointer, "role", reference, &known, "aws.roles");
                None
            }
            Some(arns) => {
                let arns: Vec<&str> = arns.iter().map(String::as_str).collect();
                c.push(
                    Diagnostic::error(
                        Code::Inconsistent,
                        pointer,
                        format!("role name `{reference}` is ambiguous"),
                    )
                    .help(format!(
                        "name the role by its ARN: one of {}",
                        quoted(&arns)
                    )),
                );
                None
            }
        }
    }
}

fn projects(c: &mut Checker<'_>, gcp: &RawGcp) -> BTreeMap<String, GcpProject> {
    let at = |i| Pointer::item("gcp/projects", i);
    c.unique(
        "project id",
        gcp.projects
            .iter()
            .enumerate()
            .map(|(i, p)| (at(i).field("id"), p.id.as_str())),
    );
    c.unique(
        "project number",
        gcp.projects
            .iter()
            .enumerate()
            .map(|(i, p)| (at(i).field("number"), p.number.as_str())),
    );
    gcp.projects
        .iter()
        .map(|p| {
            (
                p.id.clone(),
                GcpProject {
                    id: p.id.clone(),
                    number: p.number.clone(),
                },
            )
        })
        .collect()
}

/// The service accounts by email, and the index of each email's first declaration.
fn service_accounts(
    c: &mut Checker<'_>,
    gcp: &RawGcp,
    projects: &BTreeMap<String, GcpProject>,
) -> (BTreeMap<String, ServiceAccount>, BTreeMap<String, usize>) {
    let at = |i| Pointer::item("gcp/serviceAccounts", i);
    c.unique(
        "service account",
        gcp.service_accounts
            .iter()
            .enumerate()
            .map(|(i, s)| (at(i).field("email"), s.email.as_str())),
    );
    c.unique(
        "service-account unique id",
        gcp.service_accounts
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((at(i).field("uniqueId"), s.unique_id.as_deref()?))),
    );
    for (i, sa) in gcp.service_accounts.iter().enumerate() {
        let (id, domain) = sa.email.split_once('@').unwrap_or((&sa.email, ""));
        if domain.ends_with(".iam.gserviceaccount.com") && !(6..=30).contains(&id.len()) {
            c.push(
                Diagnostic::error(Code::CloudLimit, at(i).field("email"), format!("service-account id `{id}` is {} characters long", id.len()))
                    .help("a user-managed service-account id (the part before `@`) is 6-30 characters; GCP rejects other lengths"),
            );
        }
    }
    let mut accounts = BTreeMap::new();
    let mut index = BTreeMap::new();
    for (i, s) in gcp.service_accounts.iter().enumerate() {
        let grants = gcp_grants(c, &at(i).field("grants"), &s.grants);
        if !grants.is_empty() && service_account_home(&s.email, projects).is_none() {
            c.push(
                Diagnostic::error(
                    Code::UnknownReference,
                    at(i).field("grants"),
                    format!("crossfed cannot tell which project `{}` belongs to, to write its grants there", s.email),
                )
                .help("declare the project whose number the email starts with under `gcp.projects`"),
            );
        }
        accounts.insert(
            s.email.clone(),
            ServiceAccount {
                email: s.email.clone(),
                unique_id: s.unique_id.clone(),
                grants,
            },
        );
        index.entry(s.email.clone()).or_insert(i);
    }
    (accounts, index)
}

/// The grants at `at`: each names exactly one resource. Sorted, without repeats.
pub(super) fn gcp_grants(c: &mut Checker<'_>, at: &Pointer, raw: &[RawGcpGrant]) -> Vec<GcpGrant> {
    let mut out = Vec::new();
    for (j, g) in raw.iter().enumerate() {
        let named: Vec<(&str, GcpResource)> = [
            ("bucket", g.bucket.clone().map(GcpResource::Bucket)),
            ("topic", g.topic.clone().map(GcpResource::Topic)),
            ("project", g.project.clone().map(GcpResource::Project)),
        ]
        .into_iter()
        .filter_map(|(key, r)| r.map(|r| (key, r)))
        .collect();
        match <[_; 1]>::try_from(named) {
            Ok([(_, resource)]) => out.push(GcpGrant {
                resource,
                role: g.role.clone(),
            }),
            Err(named) => {
                let message = if named.is_empty() {
                    format!("grant of `{}` names no resource", g.role)
                } else {
                    format!(
                        "grant of `{}` names several resources: {}",
                        g.role,
                        quoted(&named.iter().map(|(k, _)| *k).collect::<Vec<_>>())
                    )
                };
                c.push(
                    Diagnostic::error(Code::ConflictingFields, at.field(j), message)
                        .help("give each grant exactly one of `bucket`, `topic` and `project`; list a role once per resource"),
                );
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// IAM's limit on the inline policies of one role, together, in characters without whitespace.
pub const MAX_INLINE_POLICY_CHARS: usize = 10_240;

/// The inline policies of role `r` at `at`, by name.
fn inline_policies(
    c: &mut Checker<'_>,
    at: &Pointer,
    r: &RawRole,
) -> BTreeMap<String, Vec<PolicyStatement>> {
    let mut out: BTreeMap<String, Vec<PolicyStatement>> = BTreeMap::new();
    c.unique(
        "inline policy",
        r.inline_policies.iter().enumerate().map(|(j, p)| {
            (
                at.field("inlinePolicies").field(j).field("name"),
                p.name.as_str(),
            )
        }),
    );
    for p in &r.inline_policies {
        out.entry(p.name.clone()).or_insert_with(|| {
            p.statements
                .iter()
                .map(|s| PolicyStatement {
                    actions: s.actions.clone(),
                    resources: s.resources.clone(),
                })
                .collect::<Vec<_>>()
        });
    }
    let size: usize = out
        .values()
        .map(|statements| {
            policy_document(statements)
                .chars()
                .filter(|ch| !ch.is_whitespace())
                .count()
        })
        .sum();
    if size > MAX_INLINE_POLICY_CHARS {
        c.push(
            Diagnostic::error(
                Code::CloudLimit,
                at.field("inlinePolicies"),
                format!("the role's inline policies come to {size} characters; IAM allows {MAX_INLINE_POLICY_CHARS} per role"),
            )
            .help("use wildcards within one service's actions, or move permissions into a managed policy"),
        );
    }
    out
}

fn gke_clusters(
    c: &mut Checker<'_>,
    gcp: &RawGcp,
    projects: &BTreeMap<String, GcpProject>,
) -> BTreeMap<String, GkeCluster> {
    let known = keys(projects);
    for (i, k) in gcp.gke_clusters.iter().enumerate() {
        if !projects.contains_key(&k.project) {
            c.unknown(
                Pointer::item("gcp/gkeClusters", i).field("project"),
                "project",
                &k.project,
                &known,
                "gcp.projects",
            );
        }
    }
    gcp.gke_clusters
        .iter()
        .map(|k| {
            (
                k.name.clone(),
                GkeCluster {
                    name: k.name.clone(),
                    project: k.project.clone(),
                    location: k.location.clone(),
                },
            )
        })
        .collect()
}

fn pools(
    c: &mut Checker<'_>,
    gcp: &RawGcp,
    projects: &BTreeMap<String, GcpProject>,
) -> BTreeMap<String, Pool> {
    let at = |i| Pointer::item("gcp/workloadIdentityPools", i);
    c.unique(
        "pool id",
        gcp.workload_identity_pools
            .iter()
            .enumerate()
            .map(|(i, p)| (at(i).field("id"), p.id.as_str())),
    );
    let known = keys(projects);
    let mut out = BTreeMap::new();
    for (i, p) in gcp.workload_identity_pools.iter().enumerate() {
        if p.id.starts_with("gcp-") {
            c.push(
                Diagnostic::error(
                    Code::CloudLimit,
                    at(i).field("id"),
                    format!("pool id `{}` starts with the reserved prefix `gcp-`", p.id),
                )
                .help("GCP reserves ids starting with `gcp-`; choose another id"),
            );
        }
        match projects.get(&p.project) {
            Some(project) => {
                out.insert(
                    p.id.clone(),
                    Pool {
                        id: p.id.clone(),
                        project: p.project.clone(),
                        project_number: project.number.clone(),
                        display_name: p.display_name.clone(),
                        description: p.description.clone(),
                    },
                );
            }
            None => c.unknown(
                at(i).field("project"),
                "project",
                &p.project,
                &known,
                "gcp.projects",
            ),
        }
    }
    out
}

fn aws_accounts(c: &mut Checker<'_>, accounts: &[RawAwsAccount]) -> BTreeMap<String, AwsAccount> {
    let at = |i| Pointer::item("aws/accounts", i);
    c.unique(
        "account id",
        accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (at(i).field("id"), a.id.as_str())),
    );
    let mut out = BTreeMap::new();
    for (i, a) in accounts.iter().enumerate() {
        let partition = a.partition.unwrap_or_default();
        if let Some(region) = &a.region {
            region_in_partition(c, at(i).field("region"), region, partition);
        }
        let region = a
            .region
            .clone()
            .unwrap_or_else(|| partition.default_region().to_owned());
        out.insert(
            a.id.clone(),
            AwsAccount {
                id: a.id.clone(),
                partition,
                region,
                trust_policy_quota: a
                    .trust_policy_quota
                    .map_or(crate::plan::aws::MAX_TRUST_POLICY_CHARS, |quota| {
                        quota as usize
                    }),
            },
        );
    }
    out
}

fn region_partition(region: &str) -> Partition {
    if region.starts_with("cn-") {
        Partition::AwsCn
    } else if region.starts_with("us-gov-") {
        Partition::AwsUsGov
    } else {
        Partition::Aws
    }
}

/// Reports `region` at `pointer` when it is not in `partition`.
pub(super) fn region_in_partition(
    c: &mut Checker<'_>,
    pointer: Pointer,
    region: &str,
    partition: Partition,
) {
    if region_partition(region) != partition {
        c.push(
            Diagnostic::error(
                Code::Inconsistent,
                pointer,
                format!(
                    "region `{region}` is not in partition `{}`",
                    partition.as_str()
                ),
            )
            .help(format!(
                "use a region of partition `{}` (e.g. `{}`), or set the account's `partition`",
                partition.as_str(),
                partition.default_region()
            )),
        );
    }
}

/// A role's identity, from its `arn` or from `name` + `account` (+ `path`).
struct RoleName {
    partition: Partition,
    account: String,
    path: String,
    name: String,
}

impl RoleName {
    fn arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:role{}{}",
            self.partition.as_str(),
            self.account,
            self.path,
            self.name
        )
    }
}

fn roles(
    c: &mut Checker<'_>,
    raw_roles: &[RawRole],
    accounts: &BTreeMap<String, AwsAccount>,
) -> BTreeMap<String, AwsRole> {
    let known = keys(accounts);
    let mut out = BTreeMap::new();
    let mut arns = Vec::new();
    for (i, r) in raw_roles.iter().enumerate() {
        let at = Pointer::item("aws/roles", i);
        let named = role_name(c, &at, r, accounts);
        if r.arn.is_some() && r.path.is_some() {
            c.push(
                Diagnostic::error(
                    Code::ConflictingFields,
                    at.field("path"),
                    "`path` goes with `name`; an `arn` already contains the path",
                )
                .help("remove `path`, or put it into the ARN")
                .at_key(),
            );
        }
        let Some(named) = named else {
            continue;
        };
        role_account(c, &at, r, &named, accounts, &known);
        for (j, policy) in r.managed_policy_arns.iter().enumerate() {
            if let Some(p) = policy.split(':').nth(1)
                && p != named.partition.as_str()
            {
                c.push(
                    Diagnostic::error(
                        Code::Inconsistent,
                        at.field("managedPolicyArns").field(j),
                        format!(
                            "policy `{policy}` is in partition `{p}`, the role in `{}`",
                            named.partition.as_str()
                        ),
                    )
                    .help("attach policies of the role's own partition"),
                );
            }
        }
        let arn = named.arn();
        arns.push((
            at.field(if r.arn.is_some() { "arn" } else { "name" }),
            arn.clone(),
        ));
        let mut managed_policy_arns = r.managed_policy_arns.clone();
        managed_policy_arns.sort();
        managed_policy_arns.dedup();
        out.insert(
            arn.clone(),
            AwsRole {
                arn,
                name: named.name,
                path: named.path,
                account: named.account,
                partition: named.partition,
                managed_policy_arns,
                max_session_duration: r.max_session_duration.unwrap_or(3600),
                max_session_duration_declared: r.max_session_duration.is_some(),
                instance_profile: r.instance_profile,
                inline_policies: inline_policies(c, &at, r),
            },
        );
    }
    c.unique("role", arns.iter().map(|(p, a)| (p.clone(), a.as_str())));
    same_iam_role(c, &out, &arns);
    out
}

/// IAM compares roles by account and name, ignoring the path and the case of the name: two ARNs
/// that differ only there are one role, whose trust policy and permissions would be the union of
/// both declarations (and `apply.sh` would write one over the other).
fn same_iam_role(
    c: &mut Checker<'_>,
    roles: &BTreeMap<String, AwsRole>,
    arns: &[(Pointer, String)],
) {
    let mut seen: BTreeMap<(Partition, &str, String), (&Pointer, &str)> = BTreeMap::new();
    for (pointer, arn) in arns {
        let Some(role) = roles.get(arn) else {
            continue;
        };
        let key = (
            role.partition,
            role.account.as_str(),
            role.name.to_lowercase(),
        );
        match seen.get(&key) {
            Some((_, first)) if first == arn => {} // an exact repeat: reported as a duplicate
            Some((first_at, first)) => c.push(
                Diagnostic::error(
                    Code::Security,
                    pointer.clone(),
                    format!("`{arn}` is the same IAM role as `{first}`"),
                )
                .help(format!(
                    "IAM role names are unique per account whatever the path, and compared without case, so both declarations (the first at {}) would grant and trust as one role; declare the role once, or give the roles different names",
                    crate::diag::display_path(&String::from((*first_at).clone()))
                )),
            ),
            None => {
                seen.insert(key, (pointer, arn));
            }
        }
    }
}

/// The role's identity: either `arn`, or `name` + `account` (+ `path`), never both.
fn role_name(
    c: &mut Checker<'_>,
    at: &Pointer,
    r: &RawRole,
    accounts: &BTreeMap<String, AwsAccount>,
) -> Option<RoleName> {
    match (&r.arn, &r.name, &r.account) {
        (Some(arn), None, None) => parse_role_arn(arn),
        (None, Some(name), Some(account)) => Some(RoleName {
            partition: accounts
                .get(account)
                .map_or(Partition::Aws, |a| a.partition),
            account: account.clone(),
            path: r.path.clone().unwrap_or_else(|| "/".to_owned()),
            name: name.clone(),
        }),
        (Some(_), _, _) => {
            let field = if r.name.is_some() { "name" } else { "account" };
            c.push(
                Diagnostic::error(
                    Code::ConflictingFields,
                    at.field(field),
                    "a role is named either by `arn` or by `name` and `account`, not both",
                )
                .help("keep `arn` and remove `name`/`account`, or the other way round")
                .at_key(),
            );
            None
        }
        (None, None, _) => {
            c.push(
                Diagnostic::error(
                    Code::MissingField,
                    at,
                    "a role needs `arn`, or `name` and `account`",
                )
                .help("add `arn: arn:aws:iam::<account>:role/<name>`"),
            );
            None
        }
        (None, Some(_), None) => {
            c.push(
                Diagnostic::error(
                    Code::MissingField,
                    at,
                    "a role named by `name` also needs `account`",
                )
                .help("add `account: \"<12-digit id>\"`, or give the full `arn` instead"),
            );
            None
        }
    }
}

/// Reports a role whose account is undeclared or in another partition.
fn role_account(
    c: &mut Checker<'_>,
    at: &Pointer,
    r: &RawRole,
    named: &RoleName,
    accounts: &BTreeMap<String, AwsAccount>,
    known: &[&str],
) {
    let pointer = at.field(if r.arn.is_some() { "arn" } else { "account" });
    match accounts.get(&named.account) {
        None => c.unknown(pointer, "account", &named.account, known, "aws.accounts"),
        Some(a) if a.partition != named.partition => c.push(
            Diagnostic::error(
                Code::Inconsistent,
                pointer,
                format!(
                    "the role is in partition `{}` but account `{}` is in `{}`",
                    named.partition.as_str(),
                    named.account,
                    a.partition.as_str()
                ),
            )
            .help("make the ARN's partition match the account's `partition`"),
        ),
        Some(_) => {}
    }
}

/// Splits `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME` into its parts.
fn parse_role_arn(arn: &str) -> Option<RoleName> {
    let mut parts = arn.splitn(6, ':');
    let (_, partition, _, _, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let partition = match partition {
        "aws" => Partition::Aws,
        "aws-cn" => Partition::AwsCn,
        "aws-us-gov" => Partition::AwsUsGov,
        _ => return None,
    };
    let path_name = resource.strip_prefix("role")?;
    let split = path_name.rfind('/')?;
    Some(RoleName {
        partition,
        account: account.to_owned(),
        path: path_name[..=split].to_owned(),
        name: path_name[split + 1..].to_owned(),
    })
}

fn eks_clusters(
    c: &mut Checker<'_>,
    clusters: &[RawEksCluster],
    accounts: &BTreeMap<String, AwsAccount>,
) -> BTreeMap<String, EksCluster> {
    let known = keys(accounts);
    let mut out = BTreeMap::new();
    // Tokens are told apart by their issuer: two clusters with one issuer are one identity space.
    let mut issuers: BTreeMap<String, (Pointer, &str)> = BTreeMap::new();
    for (i, k) in clusters.iter().enumerate() {
        let at = Pointer::item("aws/eksClusters", i);
        let issuer_key = k.oidc_issuer.trim_end_matches('/').to_lowercase();
        match issuers.get(&issuer_key) {
            Some((first, name)) => c.push(
                Diagnostic::error(
                    Code::Security,
                    at.field("oidcIssuer"),
                    format!("clusters `{name}` and `{}` have the same OIDC issuer", k.name),
                )
                .help(format!(
                    "a service account of one would be trusted as the same service account of the other (the first is declared at {}); copy each cluster's own issuer: `aws eks describe-cluster --name NAME --query cluster.identity.oidc.issuer`",
                    crate::diag::display_path(&String::from(first.clone()))
                )),
            ),
            None => {
                issuers.insert(issuer_key, (at.field("oidcIssuer"), k.name.as_str()));
            }
        }
        let issuer_region = k
            .oidc_issuer
            .trim_start_matches("https://oidc.eks.")
            .split('.')
            .next()
            .unwrap_or_default();
        if issuer_region != k.region {
            c.push(
                Diagnostic::error(Code::Inconsistent, at.field("oidcIssuer"), format!("the issuer is in region `{issuer_region}` but the cluster's `region` is `{}`", k.region))
                    .help("copy the issuer of this cluster: `aws eks describe-cluster --name NAME --region REGION --query cluster.identity.oidc.issuer`"),
            );
        }
        match accounts.get(&k.account) {
            None => c.unknown(
                at.field("account"),
                "account",
                &k.account,
                &known,
                "aws.accounts",
            ),
            Some(a) => region_in_partition(c, at.field("region"), &k.region, a.partition),
        }
        out.insert(
            k.name.clone(),
            EksCluster {
                name: k.name.clone(),
                account: k.account.clone(),
                region: k.region.clone(),
                issuer: k.oidc_issuer.clone(),
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn inventory(json: serde_json::Value) -> (Inventory, Vec<Diagnostic>) {
        let raw: RawSpec = serde_json::from_value(json).unwrap();
        let mut diags = Vec::new();
        let inventory = Inventory::build(&mut Checker::new(&mut diags), &raw);
        (inventory, diags)
    }

    #[test]
    fn roles_resolve_by_arn_or_by_a_name_only_one_role_has() {
        let (inventory, diags) = inventory(json!({
            "version": 1,
            "aws": {
                "accounts": [{"id": "111111111111"}, {"id": "222222222222"}],
                "roles": [
                    {"arn": "arn:aws:iam::222222222222:role/reader"},
                    {"name": "reader", "account": "111111111111"},
                    {"arn": "arn:aws:iam::111111111111:role/team/writer"},
                ],
            },
        }));
        assert!(diags.is_empty(), "{diags:?}");
        let mut diags = Vec::new();
        let mut c = Checker::new(&mut diags);
        let here = Pointer::item("federations", 0).field("to/awsRole");
        let arn = |role: Option<&AwsRole>| role.map(|r| r.arn.clone());
        assert_eq!(
            arn(inventory.role(&mut c, here.clone(), "writer")),
            Some("arn:aws:iam::111111111111:role/team/writer".to_owned())
        );
        assert_eq!(
            arn(inventory.role(
                &mut c,
                here.clone(),
                "arn:aws:iam::222222222222:role/reader"
            )),
            Some("arn:aws:iam::222222222222:role/reader".to_owned())
        );
        assert_eq!(arn(inventory.role(&mut c, here.clone(), "reader")), None);
        assert_eq!(arn(inventory.role(&mut c, here, "readers")), None);
        let messages: Vec<(&str, Option<&str>)> = diags
            .iter()
            .map(|d| (d.message.as_str(), d.help.as_deref()))
            .collect();
        assert_eq!(
            messages,
            [
                (
                    "role name `reader` is ambiguous",
                    Some(
                        "name the role by its ARN: one of `arn:aws:iam::111111111111:role/reader`, `arn:aws:iam::222222222222:role/reader`"
                    )
                ),
                (
                    "unknown role `readers`",
                    Some("did you mean `reader`? or declare `readers` under `aws.roles`")
                ),
            ]
        );
    }

    #[test]
    fn a_service_account_points_at_its_first_declaration() {
        let (inventory, diags) = inventory(json!({
            "version": 1,
            "gcp": {"serviceAccounts": [
                {"email": "first-sa@p.iam.gserviceaccount.com"},
                {"email": "second-sa@p.iam.gserviceaccount.com"},
                {"email": "second-sa@p.iam.gserviceaccount.com", "uniqueId": "100000000000000000001"},
            ]},
        }));
        assert_eq!(diags.len(), 1, "the duplicate is reported");
        let (account, index) = inventory
            .service_account("second-sa@p.iam.gserviceaccount.com")
            .unwrap();
        assert_eq!(index, 1);
        // The later declaration wins in the map; the spec is invalid anyway.
        assert!(account.unique_id.is_some());
        assert!(
            inventory
                .service_account("third-sa@p.iam.gserviceaccount.com")
                .is_none()
        );
    }
}
