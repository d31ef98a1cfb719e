//! Semantic checks: everything the schema cannot say, and the resolution of a `RawSpec` into a
//! `model::Spec`.
//!
//! Runs only on a spec that passed the schema, so field formats are known to be right; what is
//! checked here is how fields relate: references resolve, names are unique, a federation's source,
//! target and method fit together, cloud limits that depend on derived values hold, and nothing
//! widens trust. Every check pushes into one list and carries on, so a user sees every problem at
//! once; the resolved spec is returned only when the list stayed empty.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{ProviderType, RawFederation, RawSpec, RawVia, TokenDelivery};
use crate::diag::{Code, Diagnostic};
use crate::model::{
    self, AwsAccount, AwsRole, ClusterKind, EksCluster, Federation, GcpProject, GkeCluster, Method,
    Partition, Pool, ProviderKind, ServiceAccount, Source, Spec, Target,
};
use crate::validate::schema::closest;

/// Longest `google.subject` GCP accepts, in bytes.
pub const MAX_GOOGLE_SUBJECT_BYTES: usize = 127;
/// Most allowed audiences on one workload-identity provider.
pub const MAX_ALLOWED_AUDIENCES: usize = 10;

struct Checker<'a> {
    raw: &'a RawSpec,
    diags: &'a mut Vec<Diagnostic>,
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Checker<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    /// Reports every item whose key repeats an earlier one.
    fn unique<'k>(&mut self, what: &str, keys: impl IntoIterator<Item = (String, &'k str)>) {
        let mut seen: BTreeMap<&str, String> = BTreeMap::new();
        for (pointer, key) in keys {
            if let Some(first) = seen.get(key) {
                let first = crate::diag::display_path(first);
                self.push(
                    Diagnostic::error(
                        Code::DuplicateName,
                        pointer,
                        format!("duplicate {what} `{key}`"),
                    )
                    .help(format!(
                        "`{key}` is already declared at {first}; remove or rename one of them"
                    )),
                );
            } else {
                seen.insert(key, pointer);
            }
        }
    }

    /// Reports a reference to an undeclared name, suggesting the closest declared one.
    fn unknown(
        &mut self,
        pointer: String,
        what: &str,
        name: &str,
        known: &[&str],
        declare_in: &str,
    ) {
        let help = match closest(name, known.iter().copied()) {
            Some(best) => {
                format!("did you mean `{best}`? or declare `{name}` under `{declare_in}`")
            }
            None if known.is_empty() => format!("declare it under `{declare_in}`"),
            None => format!(
                "declare it under `{declare_in}`, or use one of {}",
                quoted(known)
            ),
        };
        self.push(
            Diagnostic::error(
                Code::UnknownReference,
                pointer,
                format!("unknown {what} `{name}`"),
            )
            .help(help),
        );
    }
}

/// Runs every semantic check; returns the resolved spec when none failed.
pub fn check(raw: &RawSpec, diags: &mut Vec<Diagnostic>) -> Option<Spec> {
    let before = diags.len();
    let mut c = Checker { raw, diags };

    let gcp_projects = projects(&mut c);
    let service_accounts = service_accounts(&mut c);
    let gke_clusters = gke_clusters(&mut c, &gcp_projects);
    let pools = pools(&mut c, &gcp_projects);
    let aws_accounts = aws_accounts(&mut c);
    let roles = roles(&mut c, &aws_accounts);
    let eks_clusters = eks_clusters(&mut c, &aws_accounts);

    c.unique(
        "cluster name",
        raw.gcp
            .gke_clusters
            .iter()
            .enumerate()
            .map(|(i, k)| (format!("/gcp/gkeClusters/{i}/name"), k.name.as_str()))
            .chain(
                raw.aws
                    .eks_clusters
                    .iter()
                    .enumerate()
                    .map(|(i, k)| (format!("/aws/eksClusters/{i}/name"), k.name.as_str())),
            ),
    );
    c.unique(
        "federation name",
        raw.federations
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("/federations/{i}/name"), f.name.as_str())),
    );

    let world = World {
        gcp_projects: &gcp_projects,
        service_accounts: &service_accounts,
        gke_clusters: &gke_clusters,
        pools: &pools,
        aws_accounts: &aws_accounts,
        roles: &roles,
        eks_clusters: &eks_clusters,
    };
    let mut federations = Vec::new();
    for (i, f) in raw.federations.iter().enumerate() {
        if let Some(federation) = federation(&mut c, &world, i, f) {
            federations.push((i, federation));
        }
    }
    cross_federation(&mut c, &federations);

    if c.diags.len() > before {
        return None;
    }
    let mut federations: Vec<Federation> = federations.into_iter().map(|(_, f)| f).collect();
    federations.sort_by(|a, b| a.name.cmp(&b.name));
    Some(Spec {
        gcp_projects,
        service_accounts,
        gke_clusters,
        pools,
        aws_accounts,
        roles,
        eks_clusters,
        federations,
    })
}

struct World<'a> {
    gcp_projects: &'a BTreeMap<String, GcpProject>,
    service_accounts: &'a BTreeMap<String, ServiceAccount>,
    gke_clusters: &'a BTreeMap<String, GkeCluster>,
    pools: &'a BTreeMap<String, Pool>,
    aws_accounts: &'a BTreeMap<String, AwsAccount>,
    roles: &'a BTreeMap<String, AwsRole>,
    eks_clusters: &'a BTreeMap<String, EksCluster>,
}

fn keys<V>(map: &BTreeMap<String, V>) -> Vec<&str> {
    map.keys().map(String::as_str).collect()
}

fn projects(c: &mut Checker<'_>) -> BTreeMap<String, GcpProject> {
    let raw = c.raw;
    c.unique(
        "project id",
        raw.gcp
            .projects
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("/gcp/projects/{i}/id"), p.id.as_str())),
    );
    c.unique(
        "project number",
        raw.gcp
            .projects
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("/gcp/projects/{i}/number"), p.number.as_str())),
    );
    raw.gcp
        .projects
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

fn service_accounts(c: &mut Checker<'_>) -> BTreeMap<String, ServiceAccount> {
    let raw = c.raw;
    c.unique(
        "service account",
        raw.gcp
            .service_accounts
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("/gcp/serviceAccounts/{i}/email"), s.email.as_str())),
    );
    c.unique(
        "service-account unique id",
        raw.gcp
            .service_accounts
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                Some((
                    format!("/gcp/serviceAccounts/{i}/uniqueId"),
                    s.unique_id.as_deref()?,
                ))
            }),
    );
    for (i, sa) in raw.gcp.service_accounts.iter().enumerate() {
        let (id, domain) = sa.email.split_once('@').unwrap_or((&sa.email, ""));
        if domain.ends_with(".iam.gserviceaccount.com") && !(6..=30).contains(&id.len()) {
            c.push(
                Diagnostic::error(Code::CloudLimit, format!("/gcp/serviceAccounts/{i}/email"), format!("service-account id `{id}` is {} characters long", id.len()))
                    .help("a user-managed service-account id (the part before `@`) is 6-30 characters; GCP rejects other lengths"),
            );
        }
    }
    raw.gcp
        .service_accounts
        .iter()
        .map(|s| {
            (
                s.email.clone(),
                ServiceAccount {
                    email: s.email.clone(),
                    unique_id: s.unique_id.clone(),
                },
            )
        })
        .collect()
}

fn gke_clusters(
    c: &mut Checker<'_>,
    projects: &BTreeMap<String, GcpProject>,
) -> BTreeMap<String, GkeCluster> {
    let raw = c.raw;
    let known = keys(projects);
    for (i, k) in raw.gcp.gke_clusters.iter().enumerate() {
        if !projects.contains_key(&k.project) {
            c.unknown(
                format!("/gcp/gkeClusters/{i}/project"),
                "project",
                &k.project,
                &known,
                "gcp.projects",
            );
        }
    }
    raw.gcp
        .gke_clusters
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

fn pools(c: &mut Checker<'_>, projects: &BTreeMap<String, GcpProject>) -> BTreeMap<String, Pool> {
    let raw = c.raw;
    c.unique(
        "pool id",
        raw.gcp
            .workload_identity_pools
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("/gcp/workloadIdentityPools/{i}/id"), p.id.as_str())),
    );
    let known = keys(projects);
    let mut out = BTreeMap::new();
    for (i, p) in raw.gcp.workload_identity_pools.iter().enumerate() {
        if p.id.starts_with("gcp-") {
            c.push(
                Diagnostic::error(
                    Code::CloudLimit,
                    format!("/gcp/workloadIdentityPools/{i}/id"),
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
                format!("/gcp/workloadIdentityPools/{i}/project"),
                "project",
                &p.project,
                &known,
                "gcp.projects",
            ),
        }
    }
    out
}

fn aws_accounts(c: &mut Checker<'_>) -> BTreeMap<String, AwsAccount> {
    let raw = c.raw;
    c.unique(
        "account id",
        raw.aws
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("/aws/accounts/{i}/id"), a.id.as_str())),
    );
    let mut out = BTreeMap::new();
    for (i, a) in raw.aws.accounts.iter().enumerate() {
        let partition = a.partition.unwrap_or_default();
        if let Some(region) = &a.region {
            region_in_partition(c, format!("/aws/accounts/{i}/region"), region, partition);
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

fn region_in_partition(c: &mut Checker<'_>, pointer: String, region: &str, partition: Partition) {
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

fn roles(
    c: &mut Checker<'_>,
    accounts: &BTreeMap<String, AwsAccount>,
) -> BTreeMap<String, AwsRole> {
    let raw = c.raw;
    let known = keys(accounts);
    let mut out = BTreeMap::new();
    let mut arns = Vec::new();
    for (i, r) in raw.aws.roles.iter().enumerate() {
        let at = |field: &str| format!("/aws/roles/{i}{field}");
        // Either `arn`, or `name` + `account` (+ `path`).
        let parsed = match (&r.arn, &r.name, &r.account) {
            (Some(arn), None, None) => parse_role_arn(arn),
            (None, Some(name), Some(account)) => {
                let path = r.path.clone().unwrap_or_else(|| "/".to_owned());
                let partition = accounts
                    .get(account)
                    .map_or(Partition::Aws, |a| a.partition);
                Some((partition, account.clone(), path, name.clone()))
            }
            (Some(_), _, _) => {
                let field = if r.name.is_some() {
                    "/name"
                } else {
                    "/account"
                };
                c.push(
                    Diagnostic::error(
                        Code::ConflictingFields,
                        at(field),
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
                        at(""),
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
                        at(""),
                        "a role named by `name` also needs `account`",
                    )
                    .help("add `account: \"<12-digit id>\"`, or give the full `arn` instead"),
                );
                None
            }
        };
        if r.arn.is_some() && r.path.is_some() {
            c.push(
                Diagnostic::error(
                    Code::ConflictingFields,
                    at("/path"),
                    "`path` goes with `name`; an `arn` already contains the path",
                )
                .help("remove `path`, or put it into the ARN")
                .at_key(),
            );
        }
        let Some((partition, account, path, name)) = parsed else {
            continue;
        };
        let account_field = if r.arn.is_some() { "/arn" } else { "/account" };
        match accounts.get(&account) {
            None => c.unknown(
                at(account_field),
                "account",
                &account,
                &known,
                "aws.accounts",
            ),
            Some(a) if a.partition != partition => c.push(
                Diagnostic::error(
                    Code::Inconsistent,
                    at(account_field),
                    format!(
                        "the role is in partition `{}` but account `{account}` is in `{}`",
                        partition.as_str(),
                        a.partition.as_str()
                    ),
                )
                .help("make the ARN's partition match the account's `partition`"),
            ),
            Some(_) => {}
        }
        for (j, policy) in r.managed_policy_arns.iter().enumerate() {
            if let Some(p) = policy.split(':').nth(1)
                && p != partition.as_str()
            {
                c.push(
                    Diagnostic::error(
                        Code::Inconsistent,
                        at(&format!("/managedPolicyArns/{j}")),
                        format!(
                            "policy `{policy}` is in partition `{p}`, the role in `{}`",
                            partition.as_str()
                        ),
                    )
                    .help("attach policies of the role's own partition"),
                );
            }
        }
        let arn = format!("arn:{}:iam::{account}:role{path}{name}", partition.as_str());
        arns.push((
            at(if r.arn.is_some() { "/arn" } else { "/name" }),
            arn.clone(),
        ));
        let mut managed_policy_arns = r.managed_policy_arns.clone();
        managed_policy_arns.sort();
        managed_policy_arns.dedup();
        out.insert(
            arn.clone(),
            AwsRole {
                arn,
                name,
                path,
                account,
                partition,
                managed_policy_arns,
                max_session_duration: r.max_session_duration.unwrap_or(3600),
                instance_profile: r.instance_profile,
            },
        );
    }
    c.unique("role", arns.iter().map(|(p, a)| (p.clone(), a.as_str())));
    out
}

/// Splits `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME` into its parts.
fn parse_role_arn(arn: &str) -> Option<(Partition, String, String, String)> {
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
    Some((
        partition,
        account.to_owned(),
        path_name[..=split].to_owned(),
        path_name[split + 1..].to_owned(),
    ))
}

fn eks_clusters(
    c: &mut Checker<'_>,
    accounts: &BTreeMap<String, AwsAccount>,
) -> BTreeMap<String, EksCluster> {
    let raw = c.raw;
    let known = keys(accounts);
    let mut out = BTreeMap::new();
    for (i, k) in raw.aws.eks_clusters.iter().enumerate() {
        let issuer_region = k
            .oidc_issuer
            .trim_start_matches("https://oidc.eks.")
            .split('.')
            .next()
            .unwrap_or_default();
        if issuer_region != k.region {
            c.push(
                Diagnostic::error(Code::Inconsistent, format!("/aws/eksClusters/{i}/oidcIssuer"), format!("the issuer is in region `{issuer_region}` but the cluster's `region` is `{}`", k.region))
                    .help("copy the issuer of this cluster: `aws eks describe-cluster --name NAME --region REGION --query cluster.identity.oidc.issuer`"),
            );
        }
        match accounts.get(&k.account) {
            None => c.unknown(
                format!("/aws/eksClusters/{i}/account"),
                "account",
                &k.account,
                &known,
                "aws.accounts",
            ),
            Some(a) => region_in_partition(
                c,
                format!("/aws/eksClusters/{i}/region"),
                &k.region,
                a.partition,
            ),
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

/// Finds a role by ARN, or by name when exactly one declared role has it.
fn resolve_role<'w>(
    c: &mut Checker<'_>,
    world: &'w World<'_>,
    pointer: String,
    reference: &str,
) -> Option<&'w AwsRole> {
    if let Some(role) = world.roles.get(reference) {
        return Some(role);
    }
    let by_name: Vec<&AwsRole> = world
        .roles
        .values()
        .filter(|r| r.name == reference)
        .collect();
    match by_name.as_slice() {
        [one] => Some(one),
        [] => {
            let known: Vec<&str> = world
                .roles
                .keys()
                .map(String::as_str)
                .chain(world.roles.values().map(|r| r.name.as_str()))
                .collect();
            c.unknown(pointer, "role", reference, &known, "aws.roles");
            None
        }
        many => {
            let arns: Vec<&str> = many.iter().map(|r| r.arn.as_str()).collect();
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

#[allow(clippy::too_many_lines)] // one linear walk over a federation reads better than fragments
fn federation(
    c: &mut Checker<'_>,
    world: &World<'_>,
    i: usize,
    f: &RawFederation,
) -> Option<Federation> {
    let at = |field: &str| format!("/federations/{i}{field}");
    let errors_before = c.diags.len();

    // ---- from: exactly one of gke / eks / gce / ec2
    let from = &f.from;
    let chosen: Vec<&str> = [
        ("gke", from.gke.is_some()),
        ("eks", from.eks.is_some()),
        ("gce", from.gce.is_some()),
        ("ec2", from.ec2.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    if chosen.len() != 1 {
        let message = if chosen.is_empty() {
            "`from` names no workload".to_owned()
        } else {
            format!("`from` names several workloads: {}", quoted(&chosen))
        };
        c.push(Diagnostic::error(Code::ConflictingFields, at("/from"), message).help("give exactly one of `gke` or `eks` (with `namespace` and `serviceAccount`), `gce` or `ec2`").at_key());
        return None;
    }
    let is_kubernetes = from.gke.is_some() || from.eks.is_some();
    if is_kubernetes {
        for (field, value) in [
            ("namespace", &from.namespace),
            ("serviceAccount", &from.service_account),
        ] {
            if value.is_none() {
                c.push(
                    Diagnostic::error(
                        Code::MissingField,
                        at("/from"),
                        format!("missing field `{field}`"),
                    )
                    .help(format!(
                        "a Kubernetes source needs `namespace` and `serviceAccount`; add `{field}`"
                    ))
                    .at_key(),
                );
            }
        }
    } else {
        for (field, value) in [
            ("namespace", &from.namespace),
            ("serviceAccount", &from.service_account),
        ] {
            if value.is_some() {
                c.push(
                    Diagnostic::error(
                        Code::ConflictingFields,
                        at(&format!("/from/{field}")),
                        format!("`{field}` only applies to `gke` and `eks` sources"),
                    )
                    .help(format!("remove `{field}`"))
                    .at_key(),
                );
            }
        }
    }
    if let Some(ksa) = &from.service_account
        && ksa.len() > 253
    {
        c.push(
            Diagnostic::error(
                Code::CloudLimit,
                at("/from/serviceAccount"),
                "a Kubernetes ServiceAccount name is at most 253 characters",
            )
            .help("shorten the name"),
        );
    }

    let containers = from
        .containers
        .clone()
        .unwrap_or_else(|| vec!["app".to_owned()]);
    if !is_kubernetes && from.containers.is_some() {
        c.push(
            Diagnostic::error(
                Code::ConflictingFields,
                at("/from/containers"),
                "`containers` only applies to `gke` and `eks` sources",
            )
            .help("remove `containers`")
            .at_key(),
        );
    }
    let kubernetes = |cluster_kind, cluster: &str, issuer: String| Source::Kubernetes {
        cluster_kind,
        cluster: cluster.to_owned(),
        issuer,
        namespace: from.namespace.clone().unwrap_or_default(),
        service_account: from.service_account.clone().unwrap_or_default(),
        containers: containers.clone(),
    };
    let source = if let Some(name) = &from.gke {
        match world.gke_clusters.get(name) {
            Some(k) => Some(kubernetes(ClusterKind::Gke, &k.name, k.issuer())),
            None => {
                c.unknown(
                    at("/from/gke"),
                    "GKE cluster",
                    name,
                    &keys(world.gke_clusters),
                    "gcp.gkeClusters",
                );
                None
            }
        }
    } else if let Some(name) = &from.eks {
        match world.eks_clusters.get(name) {
            Some(k) => Some(kubernetes(ClusterKind::Eks, &k.name, k.issuer.clone())),
            None => {
                c.unknown(
                    at("/from/eks"),
                    "EKS cluster",
                    name,
                    &keys(world.eks_clusters),
                    "aws.eksClusters",
                );
                None
            }
        }
    } else if let Some(email) = &from.gce {
        if world.service_accounts.contains_key(email) {
            Some(Source::Gce {
                service_account: email.clone(),
            })
        } else {
            c.unknown(
                at("/from/gce"),
                "service account",
                email,
                &keys(world.service_accounts),
                "gcp.serviceAccounts",
            );
            None
        }
    } else if let Some(reference) = &from.ec2 {
        resolve_role(c, world, at("/from/ec2"), reference).map(|r| Source::Ec2 {
            role: r.arn.clone(),
            role_name: r.name.clone(),
            account: r.account.clone(),
        })
    } else {
        None
    };

    // ---- to: exactly one of awsRole / gcpServiceAccount / gcpRoles
    let to = &f.to;
    let targets: Vec<&str> = [
        ("awsRole", to.aws_role.is_some()),
        ("gcpServiceAccount", to.gcp_service_account.is_some()),
        ("gcpRoles", to.gcp_roles.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    if targets.len() != 1 {
        let message = if targets.is_empty() {
            "`to` names no target".to_owned()
        } else {
            format!("`to` names several targets: {}", quoted(&targets))
        };
        c.push(Diagnostic::error(Code::ConflictingFields, at("/to"), message).help("give exactly one of `awsRole`, `gcpServiceAccount` or `gcpRoles`; use one federation per target").at_key());
        return None;
    }
    let target_kind = targets[0];
    let misplaced: &[(&str, bool, &str)] = &[
        ("sessionName", to.session_name.is_some(), "awsRole"),
        ("sessionDuration", to.session_duration.is_some(), "awsRole"),
        ("region", to.region.is_some(), "awsRole"),
        (
            "tokenLifetimeSeconds",
            to.token_lifetime_seconds.is_some(),
            "gcpServiceAccount",
        ),
        ("project", to.project.is_some(), "gcpRoles"),
    ];
    for (field, set, belongs) in misplaced {
        if *set && *belongs != target_kind {
            c.push(
                Diagnostic::error(
                    Code::ConflictingFields,
                    at(&format!("/to/{field}")),
                    format!("`{field}` only applies with `{belongs}`"),
                )
                .help(format!("remove `{field}`"))
                .at_key(),
            );
        }
    }

    // Which directions exist.
    let to_aws = target_kind == "awsRole";
    match (&source, to_aws) {
        (Some(Source::Ec2 { .. }), true) => {
            c.push(
                Diagnostic::error(Code::UnsupportedCombination, at("/to/awsRole"), "an EC2 role reaching another AWS role is not a cross-cloud federation")
                    .help("use IAM role chaining (`sts:AssumeRole`) for AWS to AWS; crossfed renders `ec2` sources into GCP"),
            );
            return None;
        }
        (
            Some(
                Source::Kubernetes {
                    cluster_kind: ClusterKind::Gke,
                    ..
                }
                | Source::Gce { .. },
            ),
            false,
        ) => {
            c.push(
                Diagnostic::error(Code::UnsupportedCombination, at(&format!("/to/{target_kind}")), "GKE and GCE workloads reach GCP natively, without federation")
                    .help("grant the roles to the Kubernetes service account through GKE Workload Identity, or to the VM's service account; crossfed renders `gke` and `gce` sources into AWS"),
            );
            return None;
        }
        _ => {}
    }

    let target = if let Some(reference) = &to.aws_role {
        resolve_role(c, world, at("/to/awsRole"), reference).and_then(|role| {
            let account = world.aws_accounts.get(&role.account)?;
            if let Some(region) = &to.region {
                region_in_partition(c, at("/to/region"), region, role.partition);
            }
            if let Some(duration) = to.session_duration
                && duration > role.max_session_duration
            {
                c.push(
                    Diagnostic::error(Code::CloudLimit, at("/to/sessionDuration"), format!("session duration {duration} s exceeds the role's maximum of {} s", role.max_session_duration))
                        .help("raise the role's `maxSessionDuration` (up to 43200), or shorten `sessionDuration`"),
                );
            }
            let mut session_name = to.session_name.clone().unwrap_or_else(|| format!("crossfed-{}", f.name));
            session_name.truncate(64);
            Some(Target::AwsRole {
                arn: role.arn.clone(),
                session_name,
                session_duration: to.session_duration,
                region: to.region.clone().unwrap_or_else(|| account.region.clone()),
                partition: role.partition,
            })
        })
    } else if let Some(email) = &to.gcp_service_account {
        if world.service_accounts.contains_key(email) {
            Some(Target::GcpServiceAccount {
                email: email.clone(),
                token_lifetime_seconds: to.token_lifetime_seconds,
            })
        } else {
            c.unknown(
                at("/to/gcpServiceAccount"),
                "service account",
                email,
                &keys(world.service_accounts),
                "gcp.serviceAccounts",
            );
            None
        }
    } else {
        let roles = to.gcp_roles.clone().unwrap_or_default();
        if roles.is_empty() {
            c.push(
                Diagnostic::error(
                    Code::MissingField,
                    at("/to/gcpRoles"),
                    "`gcpRoles` is empty",
                )
                .help("list at least one role, e.g. `roles/storage.objectViewer`"),
            );
        }
        let mut seen = BTreeSet::new();
        for (j, role) in roles.iter().enumerate() {
            if !seen.insert(role) {
                c.push(
                    Diagnostic::error(
                        Code::DuplicateItem,
                        at(&format!("/to/gcpRoles/{j}")),
                        format!("role `{role}` is listed twice"),
                    )
                    .help("remove the repeated role"),
                );
            }
        }
        let project = to.project.clone();
        if let Some(p) = &project
            && !world.gcp_projects.contains_key(p)
        {
            c.unknown(
                at("/to/project"),
                "project",
                p,
                &keys(world.gcp_projects),
                "gcp.projects",
            );
        }
        let mut roles: Vec<String> = seen.into_iter().cloned().collect();
        roles.sort();
        // The project defaults to the pool's; filled in once the method is known.
        Some(Target::GcpRoles {
            project: project.unwrap_or_default(),
            roles,
        })
    };

    // ---- via
    let default_via = RawVia::default();
    let via = f.via.as_ref().unwrap_or(&default_via);
    let via_at = |field: &str| at(&format!("/via{field}"));
    let methods: Vec<&str> = [
        ("googleServiceAccount", via.google_service_account.is_some()),
        ("awsOidcProvider", via.aws_oidc_provider.is_some()),
        ("pool", via.pool.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    if methods.len() > 1 {
        c.push(
            Diagnostic::error(
                Code::ConflictingFields,
                at("/via"),
                format!("`via` names several methods: {}", quoted(&methods)),
            )
            .help("give exactly one of `googleServiceAccount`, `awsOidcProvider` or `pool`")
            .at_key(),
        );
        return None;
    }
    let (source, target) = (source?, target?);

    // The method follows from the source and target when the spec leaves it out.
    let method_kind: &str = match (methods.first().copied(), &source, to_aws) {
        (Some(m), _, _) => m,
        (None, Source::Gce { .. }, true) => "googleServiceAccount",
        (
            None,
            Source::Kubernetes {
                cluster_kind: ClusterKind::Eks,
                ..
            },
            true,
        ) => "awsOidcProvider",
        (
            None,
            Source::Kubernetes {
                cluster_kind: ClusterKind::Gke,
                ..
            },
            true,
        ) => {
            c.push(
                Diagnostic::error(Code::MissingField, at(""), "missing field `via`: a GKE workload reaches AWS by one of two methods")
                    .help("add `via: {googleServiceAccount: EMAIL}` (AWS trusts the Google service account's ID token) or `via: {awsOidcProvider: {}}` (AWS trusts the cluster's OIDC issuer)")
                    .at_key(),
            );
            return None;
        }
        (None, _, false) => {
            if world.pools.len() == 1 {
                "pool"
            } else {
                c.push(
                    Diagnostic::error(
                        Code::MissingField,
                        at(""),
                        "missing field `via`: name the workload-identity pool",
                    )
                    .help(format!(
                        "add `via: {{pool: ID}}` with one of {}",
                        quoted(&keys(world.pools))
                    ))
                    .at_key(),
                );
                return None;
            }
        }
        (None, Source::Ec2 { .. }, true) => return None,
    };

    // Keys of `via` that belong to another method.
    let via_fields: &[(&str, bool, &[&str])] = &[
        ("provider", via.provider.is_some(), &["pool"]),
        ("providerType", via.provider_type.is_some(), &["pool"]),
        (
            "tokenDelivery",
            via.token_delivery.is_some(),
            &["googleServiceAccount"],
        ),
        (
            "sidecarImage",
            via.sidecar_image.is_some(),
            &["googleServiceAccount"],
        ),
        (
            "tokenExpirationSeconds",
            via.token_expiration_seconds.is_some(),
            &["awsOidcProvider", "pool"],
        ),
        (
            "audience",
            via.audience.is_some(),
            &["googleServiceAccount", "pool"],
        ),
    ];
    for (field, set, methods) in via_fields {
        if *set && !methods.contains(&method_kind) {
            let help = if *field == "audience" && method_kind == "awsOidcProvider" {
                "the audience of this method is the provider's client id: set `awsOidcProvider: {clientId: ...}`".to_owned()
            } else {
                format!("remove `{field}`; it applies only with {}", quoted(methods))
            };
            c.push(
                Diagnostic::error(
                    Code::ConflictingFields,
                    via_at(&format!("/{field}")),
                    format!("`{field}` does not apply to the `{method_kind}` method"),
                )
                .help(help)
                .at_key(),
            );
        }
    }
    if via.sidecar_image.is_some() && via.token_delivery == Some(TokenDelivery::CredentialProcess) {
        c.push(
            Diagnostic::error(
                Code::ConflictingFields,
                via_at("/sidecarImage"),
                "`sidecarImage` does not apply with `tokenDelivery: credentialProcess`",
            )
            .help("remove `sidecarImage`")
            .at_key(),
        );
    }

    let method = match method_kind {
        "googleServiceAccount" => {
            if !to_aws {
                c.push(Diagnostic::error(Code::UnsupportedCombination, via_at("/googleServiceAccount"), "the Google-service-account method leads into AWS, but the target is in GCP").help("use `via: {pool: ID}` for targets in GCP"));
                return None;
            }
            if let Source::Kubernetes {
                cluster_kind: ClusterKind::Eks,
                ..
            } = source
            {
                c.push(
                    Diagnostic::error(Code::UnsupportedCombination, via_at("/googleServiceAccount"), "an EKS pod has no Google service account to mint ID tokens with")
                        .help("EKS pods reach AWS roles through the cluster's IAM OIDC provider: use `via: {awsOidcProvider: {}}`"),
                );
                return None;
            }
            let email = match (&via.google_service_account, &source) {
                (Some(email), Source::Gce { service_account }) if email != service_account => {
                    c.push(
                        Diagnostic::error(Code::Inconsistent, via_at("/googleServiceAccount"), format!("`{email}` is not the VM's service account `{service_account}`"))
                            .help("a VM mints ID tokens as its attached service account; remove `via` or name the same account"),
                    );
                    return None;
                }
                (Some(email), _) => email.clone(),
                (None, Source::Gce { service_account }) => service_account.clone(),
                (None, _) => return None,
            };
            let pointer = if via.google_service_account.is_some() {
                via_at("/googleServiceAccount")
            } else {
                at("/from/gce")
            };
            let Some(sa) = world.service_accounts.get(&email) else {
                c.unknown(
                    pointer,
                    "service account",
                    &email,
                    &keys(world.service_accounts),
                    "gcp.serviceAccounts",
                );
                return None;
            };
            let Some(unique_id) = sa.unique_id.clone() else {
                let declared = World::raw_sa_pointer(c.raw, &email);
                c.push(
                    Diagnostic::error(Code::MissingField, pointer, format!("service account `{email}` has no `uniqueId`"))
                        .help(format!(
                            "AWS trust policies pin the account's numeric unique id (the `azp` and `sub` of its ID tokens), never its email; add `uniqueId` at {declared}: `gcloud iam service-accounts describe {email} --format='value(uniqueId)'`"
                        )),
                );
                return None;
            };
            let Target::AwsRole { arn, .. } = &target else {
                return None;
            };
            Method::GoogleIdToken {
                service_account: email,
                unique_id,
                audience: via.audience.clone().unwrap_or_else(|| arn.clone()),
                delivery: via.token_delivery.unwrap_or_default(),
                sidecar_image: via
                    .sidecar_image
                    .clone()
                    .unwrap_or_else(|| model::DEFAULT_SIDECAR_IMAGE.to_owned()),
            }
        }
        "awsOidcProvider" => {
            let Source::Kubernetes { issuer, .. } = &source else {
                c.push(
                    Diagnostic::error(
                        Code::UnsupportedCombination,
                        via_at("/awsOidcProvider"),
                        "the OIDC-provider method needs a Kubernetes service account as source",
                    )
                    .help(
                        "a GCE VM reaches AWS through its service account's ID token: remove `via`",
                    ),
                );
                return None;
            };
            if !to_aws {
                c.push(
                    Diagnostic::error(
                        Code::UnsupportedCombination,
                        via_at("/awsOidcProvider"),
                        "an AWS OIDC provider leads into AWS, but the target is in GCP",
                    )
                    .help("use `via: {pool: ID}` for targets in GCP"),
                );
                return None;
            }
            Method::AwsOidcProvider {
                issuer: issuer.clone(),
                audience: via
                    .aws_oidc_provider
                    .as_ref()
                    .and_then(|p| p.client_id.clone())
                    .unwrap_or_else(|| model::DEFAULT_AWS_AUDIENCE.to_owned()),
                token_expiration_seconds: via
                    .token_expiration_seconds
                    .unwrap_or(model::DEFAULT_TOKEN_EXPIRATION),
            }
        }
        _ => {
            if to_aws {
                c.push(
                    Diagnostic::error(
                        Code::UnsupportedCombination,
                        via_at("/pool"),
                        "a workload-identity pool leads into GCP, but the target is an AWS role",
                    )
                    .help("use `googleServiceAccount` or `awsOidcProvider` to reach AWS"),
                );
                return None;
            }
            let pool_id = match &via.pool {
                Some(id) => id.clone(),
                None => world.pools.keys().next().cloned().unwrap_or_default(),
            };
            let Some(pool) = world.pools.get(&pool_id) else {
                c.unknown(
                    via_at("/pool"),
                    "workload-identity pool",
                    &pool_id,
                    &keys(world.pools),
                    "gcp.workloadIdentityPools",
                );
                return None;
            };
            let derived = match &source {
                Source::Kubernetes { .. } => ProviderType::Oidc,
                _ => ProviderType::Aws,
            };
            if let Some(asked) = via.provider_type
                && asked != derived
            {
                let (message, help) = if asked == ProviderType::Aws {
                    (
                        "an EKS pod cannot reach GCP through an AWS provider",
                        "Google's AWS credential source signs with credentials from the EC2 metadata service and cannot use IRSA web-identity tokens, so in a pod it would silently act as the node's role; use `providerType: oidc` (the default for `eks`), which trusts the cluster's OIDC issuer",
                    )
                } else {
                    (
                        "an EC2 role cannot reach GCP through an OIDC provider",
                        "EC2 instances prove their role with signed `GetCallerIdentity` requests: use `providerType: aws` (the default for `ec2`)",
                    )
                };
                c.push(
                    Diagnostic::error(
                        Code::UnsupportedCombination,
                        via_at("/providerType"),
                        message,
                    )
                    .help(help),
                );
                return None;
            }
            let provider = via
                .provider
                .clone()
                .unwrap_or_else(|| default_provider_id(&source));
            if provider.len() < 4 || provider.len() > 32 || provider.starts_with("gcp-") {
                let (pointer, what) = if via.provider.is_some() {
                    (via_at("/provider"), "provider id")
                } else {
                    (at("/from"), "derived provider id")
                };
                c.push(
                    Diagnostic::error(Code::CloudLimit, pointer, format!("the {what} `{provider}` is not a valid provider id"))
                        .help("set `via.provider` to 4-32 lowercase letters, digits and `-`, not starting with `gcp-` (GCP reserves that prefix)")
                        .at_key(),
                );
            }
            let provider_kind = match &source {
                Source::Kubernetes { issuer, .. } => ProviderKind::Oidc {
                    issuer: issuer.clone(),
                    audience: via
                        .audience
                        .clone()
                        .unwrap_or_else(|| pool.provider_url(&provider)),
                    token_expiration_seconds: via
                        .token_expiration_seconds
                        .unwrap_or(model::DEFAULT_TOKEN_EXPIRATION),
                },
                Source::Ec2 { account, .. } => {
                    if via.audience.is_some() {
                        c.push(
                            Diagnostic::error(Code::ConflictingFields, via_at("/audience"), "`audience` does not apply to an AWS provider")
                                .help("the AWS provider verifies a signed `GetCallerIdentity` request, whose target resource is always the provider; remove `audience`")
                                .at_key(),
                        );
                    }
                    ProviderKind::Aws {
                        account: account.clone(),
                    }
                }
                Source::Gce { .. } => return None,
            };
            if let Some(subject) = source.kubernetes_subject()
                && subject.len() > MAX_GOOGLE_SUBJECT_BYTES
            {
                c.push(
                    Diagnostic::error(Code::CloudLimit, at("/from"), format!("`google.subject` would be `{subject}`, {} bytes long", subject.len()))
                        .help(format!("GCP limits `google.subject` to {MAX_GOOGLE_SUBJECT_BYTES} bytes; shorten the namespace or service-account name"))
                        .at_key(),
                );
            }
            Method::WorkloadIdentityPool {
                pool: pool.id.clone(),
                provider,
                provider_kind,
            }
        }
    };

    // Only an AWS config profile can carry a session duration; the SDKs' environment variables cannot.
    if to.session_duration.is_some()
        && !matches!(
            method,
            Method::GoogleIdToken {
                delivery: TokenDelivery::CredentialProcess,
                ..
            }
        )
    {
        c.push(
            Diagnostic::error(Code::ConflictingFields, at("/to/sessionDuration"), "`sessionDuration` needs `tokenDelivery: credentialProcess`")
                .help("with a token file (`sidecar`, `awsOidcProvider`, GCE timers) the SDK picks the session length itself (1 hour); remove `sessionDuration`, or set `via.tokenDelivery: credentialProcess`")
                .at_key(),
        );
    }

    // Direct access defaults to the pool's project.
    let target = match (target, &method) {
        (Target::GcpRoles { project, roles }, Method::WorkloadIdentityPool { pool, .. })
            if project.is_empty() =>
        {
            Target::GcpRoles {
                project: world.pools[pool].project.clone(),
                roles,
            }
        }
        (t, _) => t,
    };

    if c.diags.len() > errors_before {
        return None;
    }
    Some(Federation {
        index: i,
        name: f.name.clone(),
        source,
        target,
        method,
    })
}

impl World<'_> {
    fn raw_sa_pointer(raw: &RawSpec, email: &str) -> String {
        raw.gcp
            .service_accounts
            .iter()
            .position(|s| s.email == email)
            .map_or_else(
                || "gcp.serviceAccounts".to_owned(),
                |i| format!("gcp.serviceAccounts[{i}]"),
            )
    }
}

/// `eks-<cluster>` or `aws-<account>`, made a valid provider id where possible.
fn default_provider_id(source: &Source) -> String {
    let raw = match source {
        Source::Kubernetes { cluster, .. } => format!("eks-{cluster}"),
        Source::Ec2 { account, .. } => format!("aws-{account}"),
        Source::Gce { .. } => String::new(),
    };
    let mut id: String = raw
        .to_lowercase()
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
        .collect();
    id.truncate(32);
    id.trim_end_matches('-').to_owned()
}

/// Checks that need every federation at once: shared providers and shared pods.
fn cross_federation(c: &mut Checker<'_>, federations: &[(usize, Federation)]) {
    // A provider id in a pool belongs to one issuer or one account.
    let mut providers: BTreeMap<(&str, &str), (usize, String)> = BTreeMap::new();
    let mut audiences: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for (i, f) in federations {
        let Method::WorkloadIdentityPool {
            pool,
            provider,
            provider_kind,
        } = &f.method
        else {
            continue;
        };
        let identity = match provider_kind {
            ProviderKind::Oidc {
                issuer, audience, ..
            } => {
                audiences
                    .entry((pool, provider))
                    .or_default()
                    .insert(audience);
                format!("OIDC issuer {issuer}")
            }
            ProviderKind::Aws { account } => format!("AWS account {account}"),
        };
        match providers.get(&(pool.as_str(), provider.as_str())) {
            Some((_, other)) if *other != identity => c.push(
                Diagnostic::error(Code::Inconsistent, format!("/federations/{i}/via"), format!("provider `{provider}` in pool `{pool}` would serve both {other} and {identity}"))
                    .help("a provider trusts one issuer or one account: set a distinct `via.provider` for one of them")
                    .at_key(),
            ),
            Some(_) => {}
            None => {
                providers.insert((pool, provider), (*i, identity));
            }
        }
    }
    for ((pool, provider), set) in audiences {
        if set.len() > MAX_ALLOWED_AUDIENCES {
            let i = providers[&(pool, provider)].0;
            c.push(
                Diagnostic::error(Code::CloudLimit, format!("/federations/{i}/via"), format!("provider `{provider}` would need {} allowed audiences", set.len()))
                    .help(format!("GCP allows at most {MAX_ALLOWED_AUDIENCES} per provider; share audiences between federations or split the provider"))
                    .at_key(),
            );
        }
    }

    // A pod carries one set of AWS_* variables: one AWS role per Kubernetes service account
    // through environment variables.
    let mut aws_env: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for (i, f) in federations {
        let (
            Source::Kubernetes {
                cluster,
                namespace,
                service_account,
                ..
            },
            Target::AwsRole { arn, .. },
        ) = (&f.source, &f.target)
        else {
            continue;
        };
        if let Method::GoogleIdToken {
            delivery: TokenDelivery::CredentialProcess,
            ..
        } = f.method
        {
            continue;
        }
        let key = (cluster.clone(), namespace.clone(), service_account.clone());
        if let Some(other) = aws_env.get(&key) {
            c.push(
                Diagnostic::error(Code::Inconsistent, format!("/federations/{i}/to/awsRole"), format!("service account `{namespace}/{service_account}` in `{cluster}` already assumes `{other}` through `AWS_ROLE_ARN`"))
                    .help("a pod has one `AWS_ROLE_ARN`: federate one role per service account, or use `tokenDelivery: credentialProcess`, which gives each role its own AWS profile"),
            );
        } else {
            aws_env.insert(key, arn.clone());
        }
    }
    // A pod has one GOOGLE_APPLICATION_CREDENTIALS: one GCP federation per Kubernetes service account.
    let mut gcp_of: BTreeMap<(String, String, String), String> = BTreeMap::new();
    // A pool-wide `principal://…/subject/system:serviceaccount:NS:KSA` must not match a
    // service account of the same name in another cluster of the pool.
    let mut subjects: BTreeMap<(String, String), String> = BTreeMap::new();
    for (i, f) in federations {
        let (
            Source::Kubernetes {
                cluster,
                namespace,
                service_account,
                ..
            },
            Method::WorkloadIdentityPool { pool, .. },
        ) = (&f.source, &f.method)
        else {
            continue;
        };
        let key = (cluster.clone(), namespace.clone(), service_account.clone());
        if let Some(other) = gcp_of.get(&key) {
            c.push(
                Diagnostic::error(Code::Inconsistent, format!("/federations/{i}/to"), format!("service account `{namespace}/{service_account}` in `{cluster}` already reaches GCP through federation `{other}`"))
                    .help("a pod has one `GOOGLE_APPLICATION_CREDENTIALS`: give each GCP target its own Kubernetes service account, or grant the extra roles to the same target")
                    .at_key(),
            );
        } else {
            gcp_of.insert(key, f.name.clone());
        }
        let subject = format!("system:serviceaccount:{namespace}:{service_account}");
        match subjects.get(&(pool.clone(), subject.clone())) {
            Some(other) if other != cluster => c.push(
                Diagnostic::error(Code::Security, format!("/federations/{i}/from"), format!("`{subject}` is federated from clusters `{other}` and `{cluster}` through the same pool `{pool}`"))
                    .help("IAM bindings on `principal://…/subject/…` are pool-wide, so each cluster could act as the other's service account; put the clusters in separate pools")
                    .at_key(),
            ),
            Some(_) => {}
            None => {
                subjects.insert((pool.clone(), subject), cluster.clone());
            }
        }
    }

    // A GKE service account impersonates one Google service account.
    let mut gsa_of: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for (i, f) in federations {
        let (
            Source::Kubernetes {
                cluster,
                namespace,
                service_account,
                ..
            },
            Method::GoogleIdToken {
                service_account: gsa,
                ..
            },
        ) = (&f.source, &f.method)
        else {
            continue;
        };
        let key = (cluster.clone(), namespace.clone(), service_account.clone());
        match gsa_of.get(&key) {
            Some(other) if other != gsa => c.push(
                Diagnostic::error(Code::Inconsistent, format!("/federations/{i}/via/googleServiceAccount"), format!("service account `{namespace}/{service_account}` in `{cluster}` already acts as `{other}`"))
                    .help("GKE Workload Identity maps a Kubernetes service account to one Google service account (`iam.gke.io/gcp-service-account`); use the same one in every federation of this service account"),
            ),
            Some(_) => {}
            None => {
                gsa_of.insert(key, gsa.clone());
            }
        }
    }
}
