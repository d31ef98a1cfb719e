//! Property tests of trust: for random valid specs, every trust check crossfed renders admits
//! exactly the spec's identities, and nothing else.
//!
//! Run many cases (the default is 64, for CI):
//!
//! ```sh
//! PROPTEST_CASES=10000 cargo test --release --test trust_properties -- --nocapture
//! ```
//!
//! A proptest strategy draws a [`Blueprint`] (small numbers and indices, so shrinking works),
//! which [`build`] turns into a [`Model`]: projects with several GKE clusters, accounts in the
//! three partitions with mixed-case roles on IAM paths, EKS clusters, pools, and federations of
//! every method. `build` skips a workload that would break a validation rule it knows (one
//! Google service account per workload, one Workload Identity member per project, one
//! `AWS_ROLE_ARN` and one GCP federation per Kubernetes service account, one cluster per subject
//! in a pool, small trust policies), so rejected specs stay rare; they are counted, and the run
//! fails when more than 5 % are rejected.
//!
//! The verdicts come from the rendered text only, never from crossfed's plan:
//! - AWS: every `trust-policy.json` is evaluated by [`iam_allows`], an evaluator with IAM's
//!   semantics for `sts:AssumeRoleWithWebIdentity`, against the spec's tokens and their
//!   mutations (other `azp`/`aud`/`sub`, other issuer, another account's or partition's provider);
//!   the IAM OIDC provider definitions must list exactly the spec's issuers and client ids.
//! - GCP: each pool's `apply.sh` is split into words as a shell does; every provider's
//!   `--attribute-condition` is evaluated by the `cel` crate against OIDC claims or AWS caller
//!   ARNs and their mutations (other namespace, service account, role, `role2`, account), after
//!   the provider's own issuer/audience/account checks. The attribute mapping, also evaluated as
//!   CEL, names the principal, and the `--member`s bound to it must be exactly the federation's
//!   targets. Providers, audiences and bindings must be exactly the spec's.
//!
//! The expected answers come from the [`Model`], the test's own account of the spec. Conditions
//! use standard CEL only; Google's `extract` extension, which the AWS attribute mapping calls, is
//! registered as one small function ([`extract`]). The tests after the property widen or narrow
//! one rendered check on purpose and show that the property then fails.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// The model: what the spec declares, as the test understands it.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Partition {
    Aws,
    Cn,
    Gov,
}

const PARTITIONS: [Partition; 3] = [Partition::Aws, Partition::Cn, Partition::Gov];

impl Partition {
    fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::Cn => "aws-cn",
            Partition::Gov => "aws-us-gov",
        }
    }

    fn regions(self) -> &'static [&'static str] {
        match self {
            Partition::Aws => &["us-east-1", "eu-west-1", "ap-south-1"],
            Partition::Cn => &["cn-north-1", "cn-northwest-1"],
            Partition::Gov => &["us-gov-west-1", "us-gov-east-1"],
        }
    }

    fn eks_domain(self) -> &'static str {
        match self {
            Partition::Cn => "amazonaws.com.cn",
            Partition::Aws | Partition::Gov => "amazonaws.com",
        }
    }
}

#[derive(Debug, Clone)]
struct Project {
    id: String,
    number: String,
    /// Google service accounts that EKS and EC2 workloads impersonate (no unique id).
    impersonated: Vec<String>,
}

#[derive(Debug, Clone)]
struct GkeCluster {
    name: String,
    project: usize,
    location: String,
}

#[derive(Debug, Clone)]
struct Pool {
    id: String,
    project: usize,
}

#[derive(Debug, Clone)]
struct Account {
    id: String,
    partition: Partition,
    region: Option<String>,
}

#[derive(Debug, Clone)]
struct Role {
    account: usize,
    name: String,
    path: String,
    by_arn: bool,
    instance_profile: bool,
}

#[derive(Debug, Clone)]
struct EksCluster {
    name: String,
    account: usize,
    region: String,
    issuer: String,
    /// A second provider id a federation may name instead of the default `eks-<name>`.
    alias: String,
}

/// A Google service account whose ID tokens AWS trusts (one per workload).
#[derive(Debug, Clone)]
struct IdTokenAccount {
    email: String,
    unique_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClusterKind {
    Gke,
    Eks,
}

#[derive(Debug, Clone)]
enum From {
    Kubernetes {
        kind: ClusterKind,
        cluster: usize,
        namespace: String,
        service_account: String,
    },
    Gce {
        account: usize,
    },
    Ec2 {
        role: usize,
    },
}

#[derive(Debug, Clone)]
enum To {
    AwsRole(usize),
    GcpServiceAccount {
        email: String,
        lifetime: Option<u32>,
    },
    GcpRoles {
        roles: Vec<String>,
        project: Option<usize>,
    },
}

#[derive(Debug, Clone)]
enum Via {
    /// GKE or GCE to AWS with a Google service account's ID token.
    GoogleIdToken {
        account: usize,
        audience: Option<String>,
        credential_process: bool,
        /// GCE only: write no `googleServiceAccount` (the VM's account is the default).
        implicit: bool,
    },
    /// GKE or EKS to AWS through an IAM OIDC provider for the cluster issuer.
    AwsOidcProvider {
        client_id: Option<String>,
        /// EKS only: write no `via` at all (the default method).
        implicit: bool,
    },
    /// EKS or EC2 to GCP through a pool.
    Pool {
        pool: usize,
        provider: Option<String>,
        audience: Option<String>,
    },
}

#[derive(Debug, Clone)]
struct Federation {
    name: String,
    from: From,
    to: To,
    via: Via,
}

#[derive(Debug, Clone, Default)]
struct Model {
    projects: Vec<Project>,
    gke: Vec<GkeCluster>,
    pools: Vec<Pool>,
    accounts: Vec<Account>,
    roles: Vec<Role>,
    eks: Vec<EksCluster>,
    id_token_accounts: Vec<IdTokenAccount>,
    federations: Vec<Federation>,
}

fn subject(namespace: &str, service_account: &str) -> String {
    format!("system:serviceaccount:{namespace}:{service_account}")
}

fn host_path(issuer: &str) -> &str {
    issuer.strip_prefix("https://").unwrap_or(issuer)
}

fn oidc_provider_arn(partition: Partition, account: &str, issuer: &str) -> String {
    format!(
        "arn:{}:iam::{account}:oidc-provider/{}",
        partition.as_str(),
        host_path(issuer)
    )
}

fn assumed_role_arn(partition: Partition, account: &str, name: &str) -> String {
    format!(
        "arn:{}:sts::{account}:assumed-role/{name}",
        partition.as_str()
    )
}

/// Google's default provider id for a source: lowercase, other characters as `-`, at most 32.
fn default_provider_id(raw: &str) -> String {
    let mut id: String = raw
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    id.truncate(32);
    id.trim_end_matches('-').to_owned()
}

impl Model {
    fn role_arn(&self, role: usize) -> String {
        let r = &self.roles[role];
        let a = &self.accounts[r.account];
        format!(
            "arn:{}:iam::{}:role{}{}",
            a.partition.as_str(),
            a.id,
            r.path,
            r.name
        )
    }

    /// A role as a federation names it: by name when no other role has it, else by ARN.
    fn role_ref(&self, role: usize) -> String {
        let name = &self.roles[role].name;
        if self.roles.iter().filter(|r| &r.name == name).count() == 1 && role.is_multiple_of(2) {
            name.clone()
        } else {
            self.role_arn(role)
        }
    }

    fn issuer(&self, kind: ClusterKind, cluster: usize) -> String {
        match kind {
            ClusterKind::Gke => {
                let k = &self.gke[cluster];
                format!(
                    "https://container.googleapis.com/v1/projects/{}/locations/{}/clusters/{}",
                    self.projects[k.project].id, k.location, k.name
                )
            }
            ClusterKind::Eks => self.eks[cluster].issuer.clone(),
        }
    }

    fn cluster_name(&self, kind: ClusterKind, cluster: usize) -> &str {
        match kind {
            ClusterKind::Gke => &self.gke[cluster].name,
            ClusterKind::Eks => &self.eks[cluster].name,
        }
    }

    fn pool_resource(&self, pool: usize) -> String {
        let p = &self.pools[pool];
        format!(
            "projects/{}/locations/global/workloadIdentityPools/{}",
            self.projects[p.project].number, p.id
        )
    }

    /// The provider a federation through a pool uses.
    fn provider_of(&self, f: &Federation) -> Option<(usize, String)> {
        let Via::Pool { pool, provider, .. } = &f.via else {
            return None;
        };
        let id = provider.clone().unwrap_or_else(|| match &f.from {
            From::Kubernetes { cluster, .. } => {
                default_provider_id(&format!("eks-{}", self.eks[*cluster].name))
            }
            From::Ec2 { role } => default_provider_id(&format!(
                "aws-{}",
                self.accounts[self.roles[*role].account].id
            )),
            From::Gce { .. } => unreachable!("GCE federates into AWS only"),
        });
        Some((*pool, id))
    }

    /// The audience of a federation's projected token for its pool provider.
    fn pool_audience(&self, f: &Federation) -> Option<String> {
        let (pool, provider) = self.provider_of(f)?;
        let Via::Pool { audience, .. } = &f.via else {
            return None;
        };
        Some(audience.clone().unwrap_or_else(|| {
            format!(
                "https://iam.googleapis.com/{}/providers/{provider}",
                self.pool_resource(pool)
            )
        }))
    }

    /// What the federation's workload may reach in GCP: (resource, role) pairs.
    fn gcp_targets(&self, f: &Federation) -> BTreeSet<(String, String)> {
        match &f.to {
            To::AwsRole(_) => BTreeSet::new(),
            To::GcpServiceAccount { email, .. } => {
                BTreeSet::from([(email.clone(), "roles/iam.workloadIdentityUser".to_owned())])
            }
            To::GcpRoles { roles, project } => {
                let Some((pool, _)) = self.provider_of(f) else {
                    return BTreeSet::new();
                };
                let project = project.unwrap_or(self.pools[pool].project);
                roles
                    .iter()
                    .map(|r| (self.projects[project].id.clone(), r.clone()))
                    .collect()
            }
        }
    }

    /// The IAM member a federation through a pool is bound as.
    fn pool_member(&self, f: &Federation) -> Option<String> {
        let (pool, _) = self.provider_of(f)?;
        let resource = self.pool_resource(pool);
        Some(match &f.from {
            From::Kubernetes {
                namespace,
                service_account,
                ..
            } => format!(
                "principal://iam.googleapis.com/{resource}/subject/{}",
                subject(namespace, service_account)
            ),
            From::Ec2 { role } => {
                let r = &self.roles[*role];
                let a = &self.accounts[r.account];
                format!(
                    "principalSet://iam.googleapis.com/{resource}/attribute.aws_role/{}",
                    assumed_role_arn(a.partition, &a.id, &r.name)
                )
            }
            From::Gce { .. } => return None,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The blueprint (what proptest draws and shrinks) and its build into a model.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Blueprint {
    projects: Vec<ProjectBp>,
    accounts: Vec<AccountBp>,
    workloads: Vec<WorkloadBp>,
}

#[derive(Debug, Clone)]
struct ProjectBp {
    number: u64,
    clusters: Vec<u8>,
    pools: u8,
}

#[derive(Debug, Clone)]
struct AccountBp {
    id: u64,
    partition: u8,
    region: Option<u8>,
    roles: Vec<RoleBp>,
    ec2_roles: u8,
    eks: Vec<EksBp>,
}

#[derive(Debug, Clone)]
struct RoleBp {
    base: u8,
    case_mask: u8,
    path: u8,
    by_arn: bool,
}

#[derive(Debug, Clone)]
struct EksBp {
    region: u8,
    issuer_id: u128,
    name: u8,
}

#[derive(Debug, Clone)]
struct GcpBp {
    pool: Index,
    target: TargetBp,
    audience: Option<u8>,
    alias: bool,
}

#[derive(Debug, Clone)]
enum TargetBp {
    ServiceAccount { account: Index, lifetime: bool },
    Roles { mask: u8, project: Option<Index> },
}

#[derive(Debug, Clone)]
enum WorkloadBp {
    GkeGoogleAccount {
        cluster: Index,
        ksa: Index,
        roles: Vec<Index>,
        credential_process: bool,
        audience: Option<u8>,
    },
    Gce {
        project: Index,
        roles: Vec<Index>,
        audience: Option<u8>,
        explicit: bool,
    },
    GkeOidc {
        cluster: Index,
        ksa: Index,
        role: Index,
        client_id: Option<u8>,
    },
    EksOidc {
        cluster: Index,
        ksa: Index,
        role: Index,
        client_id: Option<u8>,
        implicit: bool,
        also_gcp: Option<GcpBp>,
    },
    EksPool {
        cluster: Index,
        ksa: Index,
        gcp: GcpBp,
    },
    Ec2Pool {
        role: Index,
        gcp: GcpBp,
    },
}

const PROJECT_IDS: [&str; 3] = ["acme-prod", "acme-data", "ml-lab-7"];
const GKE_NAMES: [&str; 3] = ["prod", "batch", "edge"];
const LOCATIONS: [&str; 4] = [
    "us-central1",
    "europe-west4",
    "us-central1-a",
    "asia-east1-b",
];
const EKS_NAMES: [&str; 3] = ["data", "Batch", "ml_jobs"];
/// Role names use every character IAM allows, in mixed case (see `case_mix`).
const ROLE_BASES: [&str; 5] = [
    "reader",
    "s3+writer",
    "data_loader=x",
    "sync.bot@team",
    "etl,job",
];
const IAM_PATHS: [&str; 4] = ["/", "/federated/", "/a/b.c/", "/Team-X/"];
/// Namespaces and service-account names: some are prefixes of others.
const NAMESPACES: [&str; 5] = ["ingest", "web", "ops", "ops-2", "a"];
const SERVICE_ACCOUNTS: [&str; 5] = ["reader", "reader2", "writer", "app", "a.b"];
/// Audiences for Google ID tokens (`None` in the blueprint = the role ARN; `UID` = the unique id).
const GOOGLE_AUDIENCES: [&str; 4] = [
    "sts.amazonaws.com",
    "UID",
    "aws'role*?",
    "https://aws.example/a?b=c",
];
const CLIENT_IDS: [&str; 3] = ["sts.amazonaws.com", "gke.example.com", "aud*?'x"];
const POOL_AUDIENCES: [&str; 3] = [
    "sts.googleapis.com",
    "//iam.googleapis.com/custom",
    "gcp'aud*",
];
const GCP_ROLES: [&str; 3] = [
    "roles/storage.objectViewer",
    "roles/bigquery.dataViewer",
    "projects/acme-data/roles/custom.reader",
];
/// Most federations into one role, so its trust policy stays under IAM's 2,048 characters.
const MAX_FEDERATIONS_PER_ROLE: usize = 3;

fn case_mix(base: &str, mask: u8) -> String {
    base.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask & (1 << (i % 8)) != 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

fn blueprint() -> impl Strategy<Value = Blueprint> {
    let project = (any::<u64>(), prop::collection::vec(0u8..4, 0..=3), 0u8..=2).prop_map(
        |(number, clusters, pools)| ProjectBp {
            number,
            clusters,
            pools,
        },
    );
    let role =
        (0u8..5, any::<u8>(), 0u8..4, any::<bool>()).prop_map(|(base, case_mask, path, by_arn)| {
            RoleBp {
                base,
                case_mask,
                path,
                by_arn,
            }
        });
    let eks = (0u8..3, any::<u128>(), 0u8..3).prop_map(|(region, issuer_id, name)| EksBp {
        region,
        issuer_id,
        name,
    });
    let account = (
        any::<u64>(),
        0u8..3,
        prop::option::of(0u8..3),
        prop::collection::vec(role, 1..=4),
        0u8..=2,
        prop::collection::vec(eks, 0..=2),
    )
        .prop_map(|(id, partition, region, roles, ec2_roles, eks)| AccountBp {
            id,
            partition,
            region,
            roles,
            ec2_roles,
            eks,
        });
    (
        prop::collection::vec(project, 1..=3),
        prop::collection::vec(account, 1..=3),
        prop::collection::vec(workload(), 1..=12),
    )
        .prop_map(|(projects, accounts, workloads)| Blueprint {
            projects,
            accounts,
            workloads,
        })
}

fn gcp_bp() -> impl Strategy<Value = GcpBp> {
    let target = prop_oneof![
        (any::<Index>(), any::<bool>())
            .prop_map(|(account, lifetime)| TargetBp::ServiceAccount { account, lifetime }),
        (1u8..8, prop::option::of(any::<Index>()))
            .prop_map(|(mask, project)| TargetBp::Roles { mask, project }),
    ];
    (
        any::<Index>(),
        target,
        prop::option::of(0u8..3),
        any::<bool>(),
    )
        .prop_map(|(pool, target, audience, alias)| GcpBp {
            pool,
            target,
            audience,
            alias,
        })
}

fn workload() -> impl Strategy<Value = WorkloadBp> {
    prop_oneof![
        3 => (
            any::<Index>(),
            any::<Index>(),
            prop::collection::vec(any::<Index>(), 1..=2),
            any::<bool>(),
            prop::option::of(0u8..4),
        )
            .prop_map(|(cluster, ksa, roles, credential_process, audience)| {
                WorkloadBp::GkeGoogleAccount { cluster, ksa, roles, credential_process, audience }
            }),
        1 => (
            any::<Index>(),
            prop::collection::vec(any::<Index>(), 1..=2),
            prop::option::of(0u8..4),
            any::<bool>(),
        )
            .prop_map(|(project, roles, audience, explicit)| WorkloadBp::Gce {
                project,
                roles,
                audience,
                explicit,
            }),
        2 => (any::<Index>(), any::<Index>(), any::<Index>(), prop::option::of(0u8..3))
            .prop_map(|(cluster, ksa, role, client_id)| WorkloadBp::GkeOidc {
                cluster,
                ksa,
                role,
                client_id,
            }),
        2 => (
            any::<Index>(),
            any::<Index>(),
            any::<Index>(),
            prop::option::of(0u8..3),
            any::<bool>(),
            prop::option::of(gcp_bp()),
        )
            .prop_map(|(cluster, ksa, role, client_id, implicit, also_gcp)| {
                WorkloadBp::EksOidc { cluster, ksa, role, client_id, implicit, also_gcp }
            }),
        3 => (any::<Index>(), any::<Index>(), gcp_bp())
            .prop_map(|(cluster, ksa, gcp)| WorkloadBp::EksPool { cluster, ksa, gcp }),
        2 => (any::<Index>(), gcp_bp()).prop_map(|(role, gcp)| WorkloadBp::Ec2Pool { role, gcp }),
    ]
}

fn pick(index: Index, len: usize) -> Option<usize> {
    (len > 0).then(|| index.index(len))
}

fn ksa(index: Index) -> (String, String) {
    let i = index.index(NAMESPACES.len() * SERVICE_ACCOUNTS.len());
    (
        NAMESPACES[i / SERVICE_ACCOUNTS.len()].to_owned(),
        SERVICE_ACCOUNTS[i % SERVICE_ACCOUNTS.len()].to_owned(),
    )
}

/// What `build` has handed out, to keep the spec within the validation rules.
#[derive(Default)]
struct Claims {
    /// (kind, cluster, namespace, service account): one workload per Kubernetes service account.
    ksas: BTreeSet<(bool, usize, String, String)>,
    /// GKE Workload Identity members (project, namespace, service account) → cluster.
    gke_members: BTreeMap<(usize, String, String), usize>,
    /// (pool, subject) → EKS cluster.
    pool_subjects: BTreeMap<(usize, String), usize>,
    /// Federations per target role.
    role_load: BTreeMap<usize, usize>,
}

impl Claims {
    fn kubernetes(
        &mut self,
        m: &Model,
        kind: ClusterKind,
        cluster: usize,
        ns: &str,
        sa: &str,
    ) -> bool {
        let key = (
            kind == ClusterKind::Gke,
            cluster,
            ns.to_owned(),
            sa.to_owned(),
        );
        if self.ksas.contains(&key) {
            return false;
        }
        if kind == ClusterKind::Gke {
            let member = (m.gke[cluster].project, ns.to_owned(), sa.to_owned());
            if self.gke_members.get(&member).is_some_and(|c| *c != cluster) {
                return false;
            }
            self.gke_members.insert(member, cluster);
        }
        self.ksas.insert(key);
        true
    }

    fn role_has_room(&self, role: usize) -> bool {
        self.role_load.get(&role).copied().unwrap_or(0) < MAX_FEDERATIONS_PER_ROLE
    }
}

fn build_inventory(bp: &Blueprint) -> (Model, Vec<usize>, Vec<usize>) {
    let mut m = Model::default();
    for (p, pb) in bp.projects.iter().enumerate() {
        let id = PROJECT_IDS[p].to_owned();
        m.projects.push(Project {
            number: format!("{}{:011}", p + 1, pb.number % 100_000_000_000),
            impersonated: (0..2)
                .map(|k| format!("gcs-writer-{k}@{id}.iam.gserviceaccount.com"))
                .collect(),
            id,
        });
        for (c, location) in pb.clusters.iter().enumerate() {
            m.gke.push(GkeCluster {
                name: format!("{}-{c}", GKE_NAMES[p]),
                project: p,
                location: LOCATIONS[usize::from(*location)].to_owned(),
            });
        }
        for k in 0..pb.pools {
            m.pools.push(Pool {
                id: format!("wif-{p}-{k}"),
                project: p,
            });
        }
    }
    let (mut target_roles, mut ec2_roles) = (Vec::new(), Vec::new());
    for (a, ab) in bp.accounts.iter().enumerate() {
        let partition = PARTITIONS[usize::from(ab.partition)];
        let regions = partition.regions();
        m.accounts.push(Account {
            id: format!("{}{:011}", a + 1, ab.id % 100_000_000_000),
            partition,
            region: ab
                .region
                .map(|r| regions[usize::from(r) % regions.len()].to_owned()),
        });
        for (k, rb) in ab.roles.iter().enumerate() {
            target_roles.push(m.roles.len());
            m.roles.push(Role {
                account: a,
                name: format!(
                    "{}{k}",
                    case_mix(ROLE_BASES[usize::from(rb.base)], rb.case_mask)
                ),
                path: IAM_PATHS[usize::from(rb.path)].to_owned(),
                by_arn: rb.by_arn,
                instance_profile: false,
            });
        }
        for k in 0..ab.ec2_roles {
            ec2_roles.push(m.roles.len());
            m.roles.push(Role {
                account: a,
                name: format!("Ec2-Host{k}"),
                path: "/".to_owned(),
                by_arn: k % 2 == 0,
                instance_profile: true,
            });
        }
        for (k, eb) in ab.eks.iter().enumerate() {
            let region = regions[usize::from(eb.region) % regions.len()].to_owned();
            m.eks.push(EksCluster {
                name: format!("{}-{a}{k}", EKS_NAMES[usize::from(eb.name)]),
                account: a,
                issuer: format!(
                    "https://oidc.eks.{region}.{}/id/{:032X}",
                    partition.eks_domain(),
                    eb.issuer_id
                ),
                region,
                alias: format!("k8s-{a}{k}"),
            });
        }
    }
    (m, target_roles, ec2_roles)
}

/// The model of a blueprint: inventory, then workloads in order, skipping any that would break
/// a validation rule.
fn build(bp: &Blueprint) -> Model {
    let (mut m, target_roles, ec2_roles) = build_inventory(bp);
    let mut claims = Claims::default();
    for (w, workload) in bp.workloads.iter().enumerate() {
        let federations = Builder {
            m: &mut m,
            claims: &mut claims,
            target_roles: &target_roles,
            ec2_roles: &ec2_roles,
            w,
        }
        .workload(workload);
        for f in &federations {
            if let To::AwsRole(role) = f.to {
                *claims.role_load.entry(role).or_default() += 1;
            }
        }
        m.federations.extend(federations);
    }
    m
}

fn google_audience(choice: Option<u8>, unique_id: &str) -> Option<String> {
    choice.map(|c| match GOOGLE_AUDIENCES[usize::from(c)] {
        "UID" => unique_id.to_owned(),
        other => other.to_owned(),
    })
}

/// The spec's resources a workload draws from, and what is handed out already.
struct Builder<'a> {
    m: &'a mut Model,
    claims: &'a mut Claims,
    target_roles: &'a [usize],
    ec2_roles: &'a [usize],
    w: usize,
}

impl Builder<'_> {
    /// A target role with room for another federation.
    fn role(&self, index: Index) -> Option<usize> {
        pick(index, self.target_roles.len())
            .map(|i| self.target_roles[i])
            .filter(|r| self.claims.role_has_room(*r))
    }

    /// A Kubernetes source no other workload uses (and, on GKE, no other cluster of the project).
    fn kubernetes(&mut self, kind: ClusterKind, cluster: usize, k: Index) -> Option<From> {
        let (namespace, service_account) = ksa(k);
        self.claims
            .kubernetes(self.m, kind, cluster, &namespace, &service_account)
            .then_some(From::Kubernetes {
                kind,
                cluster,
                namespace,
                service_account,
            })
    }

    fn workload(&mut self, workload: &WorkloadBp) -> Vec<Federation> {
        match workload {
            WorkloadBp::GkeGoogleAccount {
                cluster,
                ksa,
                roles,
                credential_process,
                audience,
            } => self
                .gke_google_account(*cluster, *ksa, roles, *credential_process, *audience)
                .unwrap_or_default(),
            WorkloadBp::Gce {
                project,
                roles,
                audience,
                explicit,
            } => self
                .gce(*project, roles, *audience, *explicit)
                .unwrap_or_default(),
            WorkloadBp::GkeOidc {
                cluster,
                ksa,
                role,
                client_id,
            } => self
                .aws_oidc_federation(ClusterKind::Gke, *cluster, *ksa, *role, *client_id, false)
                .map(|(f, _)| vec![f])
                .unwrap_or_default(),
            WorkloadBp::EksOidc {
                cluster,
                ksa,
                role,
                client_id,
                implicit,
                also_gcp,
            } => {
                let Some((f, from)) = self.aws_oidc_federation(
                    ClusterKind::Eks,
                    *cluster,
                    *ksa,
                    *role,
                    *client_id,
                    *implicit,
                ) else {
                    return Vec::new();
                };
                let name = format!("w{}-eks-gcp", self.w);
                let gcp = also_gcp
                    .as_ref()
                    .and_then(|gcp| gcp_federation(self.m, self.claims, name, from, gcp));
                [f].into_iter().chain(gcp).collect()
            }
            WorkloadBp::EksPool { cluster, ksa, gcp } => pick(*cluster, self.m.eks.len())
                .and_then(|cluster| self.kubernetes(ClusterKind::Eks, cluster, *ksa))
                .and_then(|from| {
                    gcp_federation(
                        self.m,
                        self.claims,
                        format!("w{}-eks-gcp", self.w),
                        from,
                        gcp,
                    )
                })
                .into_iter()
                .collect(),
            WorkloadBp::Ec2Pool { role, gcp } => pick(*role, self.ec2_roles.len())
                .map(|i| self.ec2_roles[i])
                .and_then(|role| {
                    let name = format!("w{}-ec2-gcp", self.w);
                    gcp_federation(self.m, self.claims, name, From::Ec2 { role }, gcp)
                })
                .into_iter()
                .collect(),
        }
    }

    fn gke_google_account(
        &mut self,
        cluster: Index,
        k: Index,
        roles: &[Index],
        credential_process: bool,
        audience: Option<u8>,
    ) -> Option<Vec<Federation>> {
        let cluster = pick(cluster, self.m.gke.len())?;
        let mut chosen: Vec<usize> = roles.iter().filter_map(|r| self.role(*r)).collect();
        chosen.dedup();
        if chosen.is_empty() {
            return None;
        }
        let from = self.kubernetes(ClusterKind::Gke, cluster, k)?;
        let account = new_id_token_account(self.m, self.w, self.m.gke[cluster].project);
        let audience = google_audience(audience, &self.m.id_token_accounts[account].unique_id);
        // A pod has one AWS_ROLE_ARN: several roles need one credential_process profile each.
        let credential_process = credential_process || chosen.len() > 1;
        Some(
            chosen
                .into_iter()
                .enumerate()
                .map(|(j, role)| Federation {
                    name: format!("w{}-gke-gsa-{j}", self.w),
                    from: from.clone(),
                    to: To::AwsRole(role),
                    via: Via::GoogleIdToken {
                        account,
                        audience: audience.clone(),
                        credential_process,
                        implicit: false,
                    },
                })
                .collect(),
        )
    }

    fn gce(
        &mut self,
        project: Index,
        roles: &[Index],
        audience: Option<u8>,
        explicit: bool,
    ) -> Option<Vec<Federation>> {
        let project = pick(project, self.m.projects.len())?;
        let mut chosen: Vec<usize> = roles.iter().filter_map(|r| self.role(*r)).collect();
        chosen.dedup();
        if chosen.is_empty() {
            return None;
        }
        let account = new_id_token_account(self.m, self.w, project);
        let audience = google_audience(audience, &self.m.id_token_accounts[account].unique_id);
        // One VM (one Google service account) may assume several roles, a profile each.
        Some(
            chosen
                .into_iter()
                .enumerate()
                .map(|(j, role)| Federation {
                    name: format!("w{}-gce-{j}", self.w),
                    from: From::Gce { account },
                    to: To::AwsRole(role),
                    via: Via::GoogleIdToken {
                        account,
                        audience: audience.clone(),
                        credential_process: false,
                        implicit: !explicit,
                    },
                })
                .collect(),
        )
    }

    /// A GKE or EKS workload into AWS through an IAM OIDC provider, and its source.
    fn aws_oidc_federation(
        &mut self,
        kind: ClusterKind,
        cluster: Index,
        k: Index,
        role: Index,
        client_id: Option<u8>,
        implicit: bool,
    ) -> Option<(Federation, From)> {
        let clusters = match kind {
            ClusterKind::Gke => self.m.gke.len(),
            ClusterKind::Eks => self.m.eks.len(),
        };
        let cluster = pick(cluster, clusters)?;
        let role = self.role(role)?;
        let from = self.kubernetes(kind, cluster, k)?;
        let label = if kind == ClusterKind::Gke {
            "gke"
        } else {
            "eks"
        };
        let f = Federation {
            name: format!("w{}-{label}-oidc", self.w),
            from: from.clone(),
            to: To::AwsRole(role),
            via: Via::AwsOidcProvider {
                client_id: client_id.map(|c| CLIENT_IDS[usize::from(c)].to_owned()),
                implicit: implicit && client_id.is_none(),
            },
        };
        Some((f, from))
    }
}

fn new_id_token_account(m: &mut Model, w: usize, project: usize) -> usize {
    m.id_token_accounts.push(IdTokenAccount {
        email: format!(
            "aws-id-{w}@{}.iam.gserviceaccount.com",
            m.projects[project].id
        ),
        unique_id: format!("1{w:020}"),
    });
    m.id_token_accounts.len() - 1
}

fn gcp_federation(
    m: &Model,
    claims: &mut Claims,
    name: String,
    from: From,
    gcp: &GcpBp,
) -> Option<Federation> {
    let pool = pick(gcp.pool, m.pools.len())?;
    let provider = match &from {
        From::Kubernetes {
            cluster,
            namespace,
            service_account,
            ..
        } => {
            let key = (pool, subject(namespace, service_account));
            if claims.pool_subjects.get(&key).is_some_and(|c| c != cluster) {
                return None;
            }
            claims.pool_subjects.insert(key, *cluster);
            gcp.alias.then(|| m.eks[*cluster].alias.clone())
        }
        From::Ec2 { role } => gcp
            .alias
            .then(|| format!("ec2-{}", m.accounts[m.roles[*role].account].id)),
        From::Gce { .. } => return None,
    };
    let to = match &gcp.target {
        TargetBp::ServiceAccount { account, lifetime } => {
            let all: Vec<&String> = m.projects.iter().flat_map(|p| &p.impersonated).collect();
            To::GcpServiceAccount {
                email: all[account.index(all.len())].clone(),
                // At most an hour: longer impersonated tokens are a security finding (`long-session`).
                lifetime: lifetime.then_some(1800),
            }
        }
        TargetBp::Roles { mask, project } => To::GcpRoles {
            roles: GCP_ROLES
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, r)| (*r).to_owned())
                .collect(),
            project: project.as_ref().map(|p| p.index(m.projects.len())),
        },
    };
    let audience = match from {
        From::Kubernetes { .. } => gcp
            .audience
            .map(|a| POOL_AUDIENCES[usize::from(a)].to_owned()),
        _ => None,
    };
    Some(Federation {
        name,
        from,
        to,
        via: Via::Pool {
            pool,
            provider,
            audience,
        },
    })
}

// ---------------------------------------------------------------------------------------------
// The spec text.
// ---------------------------------------------------------------------------------------------

/// The spec of a model, as JSON text (JSON is YAML 1.2, which crossfed reads).
fn spec_text(m: &Model) -> String {
    let mut service_accounts: Vec<Value> = m
        .id_token_accounts
        .iter()
        .map(|a| json!({"email": a.email, "uniqueId": a.unique_id}))
        .collect();
    service_accounts.extend(
        m.projects
            .iter()
            .flat_map(|p| &p.impersonated)
            .map(|email| json!({"email": email})),
    );
    let roles: Vec<Value> = (0..m.roles.len())
        .map(|i| {
            let r = &m.roles[i];
            let mut role = if r.by_arn {
                json!({"arn": m.role_arn(i)})
            } else {
                let mut role = json!({"name": r.name, "account": m.accounts[r.account].id});
                if r.path != "/" {
                    role["path"] = json!(r.path);
                }
                role
            };
            if r.instance_profile {
                role["instanceProfile"] = json!(true);
            }
            role
        })
        .collect();
    let accounts: Vec<Value> = m
        .accounts
        .iter()
        .map(|a| {
            let mut account = json!({"id": a.id});
            if a.partition != Partition::Aws {
                account["partition"] = json!(a.partition.as_str());
            }
            if let Some(region) = &a.region {
                account["region"] = json!(region);
            }
            account
        })
        .collect();
    let spec = json!({
        "version": 1,
        "gcp": {
            "projects": m.projects.iter().map(|p| json!({"id": p.id, "number": p.number})).collect::<Vec<_>>(),
            "serviceAccounts": service_accounts,
            "gkeClusters": m.gke.iter().map(|k| json!({
                "name": k.name, "project": m.projects[k.project].id, "location": k.location,
            })).collect::<Vec<_>>(),
            "workloadIdentityPools": m.pools.iter().map(|p| json!({
                "id": p.id, "project": m.projects[p.project].id,
            })).collect::<Vec<_>>(),
        },
        "aws": {
            "accounts": accounts,
            "roles": roles,
            "eksClusters": m.eks.iter().map(|k| json!({
                "name": k.name, "account": m.accounts[k.account].id, "region": k.region,
                "oidcIssuer": k.issuer,
            })).collect::<Vec<_>>(),
        },
        "federations": m.federations.iter().map(|f| federation_json(m, f)).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&spec).expect("a JSON value serializes")
}

fn federation_json(m: &Model, f: &Federation) -> Value {
    let from = match &f.from {
        From::Kubernetes {
            kind,
            cluster,
            namespace,
            service_account,
        } => {
            let key = if *kind == ClusterKind::Gke {
                "gke"
            } else {
                "eks"
            };
            json!({key: m.cluster_name(*kind, *cluster), "namespace": namespace, "serviceAccount": service_account})
        }
        From::Gce { account } => json!({"gce": m.id_token_accounts[*account].email}),
        From::Ec2 { role } => json!({"ec2": m.role_ref(*role)}),
    };
    let to = match &f.to {
        To::AwsRole(role) => json!({"awsRole": m.role_ref(*role)}),
        To::GcpServiceAccount { email, lifetime } => {
            let mut to = json!({"gcpServiceAccount": email});
            if let Some(lifetime) = lifetime {
                to["tokenLifetimeSeconds"] = json!(lifetime);
            }
            to
        }
        To::GcpRoles { roles, project } => {
            let mut to = json!({"gcpRoles": roles});
            if let Some(project) = project {
                to["project"] = json!(m.projects[*project].id);
            }
            to
        }
    };
    let via = match &f.via {
        Via::GoogleIdToken {
            account,
            audience,
            credential_process,
            implicit,
        } => {
            let mut via = json!({});
            if !implicit {
                via["googleServiceAccount"] = json!(m.id_token_accounts[*account].email);
            }
            if let Some(audience) = audience {
                via["audience"] = json!(audience);
            }
            if *credential_process {
                via["tokenDelivery"] = json!("credentialProcess");
            }
            via
        }
        Via::AwsOidcProvider {
            client_id,
            implicit,
        } => match (client_id, implicit) {
            (_, true) => Value::Null,
            (Some(client_id), false) => json!({"awsOidcProvider": {"clientId": client_id}}),
            (None, false) => json!({"awsOidcProvider": {}}),
        },
        Via::Pool {
            pool,
            provider,
            audience,
        } => {
            let mut via = json!({"pool": m.pools[*pool].id});
            if let Some(provider) = provider {
                via["provider"] = json!(provider);
            }
            if let Some(audience) = audience {
                via["audience"] = json!(audience);
            }
            via
        }
    };
    let mut out = json!({"name": f.name, "from": from, "to": to});
    if via != Value::Null && via != json!({}) {
        out["via"] = via;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reading the rendered files.
// ---------------------------------------------------------------------------------------------

/// A workload-identity provider as the pool's `apply.sh` creates it.
#[derive(Debug, Clone, Default)]
struct ProviderDef {
    kind: String,
    issuer: Option<String>,
    account: Option<String>,
    audiences: BTreeSet<String>,
    mapping: String,
    condition: String,
}

/// A pool's `apply.sh`: its providers by id, and its IAM bindings (resource, role, member).
#[derive(Debug, Clone, Default)]
struct PoolScript {
    providers: BTreeMap<String, ProviderDef>,
    bindings: BTreeSet<(String, String, String)>,
}

#[derive(Debug, Default)]
struct Rendered {
    /// Trust policies by (account, role name).
    policies: BTreeMap<(String, String), Value>,
    /// IAM OIDC providers: (account, issuer URL, client id).
    oidc_providers: BTreeSet<(String, String, String)>,
    /// Pool scripts by (project, pool).
    pools: BTreeMap<(String, String), PoolScript>,
    /// GKE Workload Identity bindings: (Google service account, role, member).
    gke_bindings: BTreeSet<(String, String, String)>,
}

/// The commands of a shell script, each split into words as the shell would (continuation
/// lines joined, quotes removed). Comments and blank lines are skipped.
fn commands(script: &str) -> Result<Vec<Vec<String>>, String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for raw in script.lines() {
        if let Some(head) = raw.strip_suffix('\\') {
            line.push_str(head);
            continue;
        }
        line.push_str(raw);
        let text = std::mem::take(&mut line);
        if text.trim_start().starts_with('#') || text.trim().is_empty() {
            continue;
        }
        out.push(shlex::split(&text).ok_or_else(|| format!("unbalanced quotes in `{text}`"))?);
    }
    Ok(out)
}

fn flag<'a>(words: &'a [String], name: &str) -> Option<&'a str> {
    words
        .iter()
        .find_map(|w| w.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
}

/// `(resource, role, member)` of an `add-iam-policy-binding` command.
fn binding(words: &[String]) -> Option<(String, String, String)> {
    let resource = match words {
        [g, i, s, a, resource, ..]
            if g == "gcloud"
                && i == "iam"
                && s == "service-accounts"
                && a == "add-iam-policy-binding" =>
        {
            // Named `projects/-/serviceAccounts/EMAIL` (IAM finds the project from the email).
            resource
                .strip_prefix("projects/-/serviceAccounts/")
                .unwrap_or(resource)
        }
        [g, p, a, resource, ..]
            if g == "gcloud" && p == "projects" && a == "add-iam-policy-binding" =>
        {
            resource
        }
        _ => return None,
    };
    Some((
        resource.to_owned(),
        flag(words, "--role")?.to_owned(),
        flag(words, "--member")?.to_owned(),
    ))
}

fn parse_pool_script(script: &str) -> Result<PoolScript, String> {
    let mut out = PoolScript::default();
    let (mut provider, mut action) = (None::<String>, None::<String>);
    for words in commands(script)? {
        if let [only] = words.as_slice() {
            if let Some(id) = only.strip_prefix("provider=") {
                provider = Some(id.to_owned());
            } else if let Some(a) = only.strip_prefix("action=") {
                action = Some(a.to_owned());
            }
            continue;
        }
        if words.len() > 4
            && words[..4] == ["gcloud", "iam", "workload-identity-pools", "providers"]
        {
            let id = match words[5].as_str() {
                "$provider" => provider
                    .clone()
                    .ok_or("provider command before `provider=`")?,
                literal => literal.to_owned(),
            };
            let verb = match words[4].as_str() {
                "$action" => action.clone().ok_or("provider command before `action=`")?,
                literal => literal.to_owned(),
            };
            let kind = verb
                .strip_prefix("create-")
                .or_else(|| verb.strip_prefix("update-"))
                .ok_or_else(|| format!("provider verb `{verb}`"))?;
            let def = ProviderDef {
                kind: kind.to_owned(),
                issuer: flag(&words, "--issuer-uri").map(str::to_owned),
                account: flag(&words, "--account-id").map(str::to_owned),
                audiences: flag(&words, "--allowed-audiences")
                    .map(|a| {
                        a.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                mapping: flag(&words, "--attribute-mapping")
                    .ok_or_else(|| format!("provider `{id}` has no --attribute-mapping"))?
                    .to_owned(),
                condition: flag(&words, "--attribute-condition")
                    .ok_or_else(|| format!("provider `{id}` has no --attribute-condition"))?
                    .to_owned(),
            };
            if out.providers.insert(id.clone(), def).is_some() {
                return Err(format!("provider `{id}` is defined twice"));
            }
        } else if let Some(b) = binding(&words) {
            out.bindings.insert(b);
        }
    }
    Ok(out)
}

fn parse_rendered(files: &BTreeMap<String, String>) -> Result<Rendered, String> {
    let mut out = Rendered::default();
    for (path, content) in files {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["aws", account, "roles", name, "trust-policy.json"] => {
                let policy = serde_json::from_str(content).map_err(|e| format!("{path}: {e}"))?;
                out.policies
                    .insert(((*account).to_owned(), (*name).to_owned()), policy);
            }
            ["aws", account, "oidc-providers", _] => {
                let provider: Value =
                    serde_json::from_str(content).map_err(|e| format!("{path}: {e}"))?;
                let url = provider["Url"].as_str().ok_or(format!("{path}: no Url"))?;
                for client in provider["ClientIDList"]
                    .as_array()
                    .ok_or(format!("{path}: no ClientIDList"))?
                {
                    let client = client.as_str().ok_or(format!("{path}: client id"))?;
                    out.oidc_providers.insert((
                        (*account).to_owned(),
                        url.to_owned(),
                        client.to_owned(),
                    ));
                }
            }
            ["gcp", project, "pools", pool, "apply.sh"] => {
                let script = parse_pool_script(content).map_err(|e| format!("{path}: {e}"))?;
                out.pools
                    .insert(((*project).to_owned(), (*pool).to_owned()), script);
            }
            ["gcp", _, "gke-workload-identity.sh"] => {
                for words in commands(content).map_err(|e| format!("{path}: {e}"))? {
                    out.gke_bindings.extend(binding(&words));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// IAM: an evaluator of role trust policies for `sts:AssumeRoleWithWebIdentity`.
// ---------------------------------------------------------------------------------------------

const WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";
const GOOGLE: &str = "accounts.google.com";

/// A web identity request: the `Federated` principal the token's issuer resolves to in the
/// role's account, and the token's claims.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct WebToken {
    principal: String,
    aud: String,
    azp: Option<String>,
    sub: String,
}

/// The condition keys IAM derives from the token (documented per provider).
fn iam_context(t: &WebToken) -> BTreeMap<String, String> {
    if t.principal == GOOGLE {
        BTreeMap::from([
            (
                format!("{GOOGLE}:aud"),
                t.azp.clone().unwrap_or_else(|| t.aud.clone()),
            ),
            (format!("{GOOGLE}:oaud"), t.aud.clone()),
            (format!("{GOOGLE}:sub"), t.sub.clone()),
        ])
    } else {
        let host_path = t
            .principal
            .split_once(":oidc-provider/")
            .map_or(t.principal.as_str(), |(_, hp)| hp);
        BTreeMap::from([
            (format!("{host_path}:aud"), t.aud.clone()),
            (format!("{host_path}:sub"), t.sub.clone()),
        ])
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` one character, nothing else special.
fn like(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == v[vi])) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn strings(value: &Value, what: &str) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or(format!("{what}: not a string: {i}"))
            })
            .collect(),
        other => Err(format!("{what}: not a string or list: {other}")),
    }
}

fn condition_holds(
    operator: &str,
    key: &str,
    expected: &Value,
    context: &BTreeMap<String, String>,
) -> Result<bool, String> {
    let (qualifier, base) = operator.split_once(':').unwrap_or(("", operator));
    if !["", "ForAnyValue", "ForAllValues"].contains(&qualifier) {
        return Err(format!("unsupported condition operator `{operator}`"));
    }
    let (negated, wildcard) = match base {
        "StringEquals" => (false, false),
        "StringNotEquals" => (true, false),
        "StringLike" => (false, true),
        "StringNotLike" => (true, true),
        _ => return Err(format!("unsupported condition operator `{operator}`")),
    };
    let wanted = strings(expected, key)?;
    // Condition key names are case-insensitive; values are compared case-sensitively.
    let actual = context
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v);
    let Some(actual) = actual else {
        // A key the request lacks never satisfies a positive operator.
        return Ok(negated || qualifier == "ForAllValues");
    };
    let hit = wanted.iter().any(|w| {
        if wildcard {
            like(w, actual)
        } else {
            w == actual
        }
    });
    Ok(hit != negated)
}

fn statement_matches(statement: &Value, token: &WebToken) -> Result<bool, String> {
    let object = statement
        .as_object()
        .ok_or("a statement is not an object")?;
    if let Some(unknown) = object
        .keys()
        .find(|k| !["Sid", "Effect", "Principal", "Action", "Condition"].contains(&k.as_str()))
    {
        return Err(format!("unsupported statement element `{unknown}`"));
    }
    let actions = strings(&statement["Action"], "Action")?;
    if !actions
        .iter()
        .any(|a| like(&a.to_ascii_lowercase(), &WEB_IDENTITY.to_ascii_lowercase()))
    {
        return Ok(false);
    }
    let principal = &statement["Principal"];
    if principal == "*" || principal.get("AWS").is_some_and(|p| p == "*") {
        return Err("`Principal: *` in a trust policy".to_owned());
    }
    let federated = match principal.get("Federated") {
        Some(f) => strings(f, "Principal.Federated")?,
        None => Vec::new(),
    };
    if !federated.contains(&token.principal) {
        return Ok(false);
    }
    let context = iam_context(token);
    if let Some(conditions) = statement.get("Condition") {
        for (operator, keys) in conditions.as_object().ok_or("Condition is not an object")? {
            for (key, expected) in keys
                .as_object()
                .ok_or("a condition operator is not an object")?
            {
                if !condition_holds(operator, key, expected, &context)? {
                    return Ok(false);
                }
            }
        }
    }
    Ok(true)
}

/// Whether IAM lets `token` assume a role whose trust policy is `policy`: no `Deny` statement
/// matches, and an `Allow` statement does. Statements are ORed; within one, condition
/// operators and keys are ANDed and the values listed for a key ORed.
fn iam_allows(policy: &Value, token: &WebToken) -> Result<bool, String> {
    let statements = match &policy["Statement"] {
        Value::Array(items) => items.clone(),
        single @ Value::Object(_) => vec![single.clone()],
        other => return Err(format!("Statement is {other}")),
    };
    let mut allowed = false;
    for statement in &statements {
        let matches = statement_matches(statement, token)?;
        match statement["Effect"].as_str() {
            Some("Deny") if matches => return Ok(false),
            Some("Allow") => allowed |= matches,
            Some("Deny") => {}
            other => return Err(format!("Effect {other:?}")),
        }
    }
    Ok(allowed)
}

// ---------------------------------------------------------------------------------------------
// GCP: provider conditions and attribute mappings, evaluated by a CEL engine.
// ---------------------------------------------------------------------------------------------

/// Google's `extract` CEL extension (used by the AWS attribute mapping): the part of the string
/// that the template's one `{name}` stands for, after the template's literal prefix and before
/// its literal suffix; empty when they are not found.
#[allow(
    clippy::needless_pass_by_value,
    reason = "cel hands function arguments over by value"
)]
fn extract(
    cel::extractors::This(this): cel::extractors::This<Arc<String>>,
    template: Arc<String>,
) -> String {
    let Some((prefix, rest)) = template.split_once('{') else {
        return String::new();
    };
    let suffix = rest.split_once('}').map_or("", |(_, s)| s);
    let Some(at) = this.find(prefix) else {
        return String::new();
    };
    let tail = &this[at + prefix.len()..];
    if suffix.is_empty() {
        return tail.to_owned();
    }
    tail.find(suffix)
        .map_or_else(String::new, |end| tail[..end].to_owned())
}

/// Compiled CEL programs by source, for one spec.
struct Cel {
    env: Arc<cel::Env>,
    programs: BTreeMap<String, cel::Program>,
}

impl Cel {
    fn new() -> Self {
        Cel {
            env: Arc::new(cel::Env::stdlib()),
            programs: BTreeMap::new(),
        }
    }

    fn eval(&mut self, source: &str, assertion: &Value) -> Result<cel::Value, String> {
        if !self.programs.contains_key(source) {
            let program = self
                .env
                .compile(source)
                .map_err(|e| format!("CEL `{source}` does not compile: {e}"))?;
            self.programs.insert(source.to_owned(), program);
        }
        let mut context = cel::Context::with_env(Arc::clone(&self.env));
        context
            .add_function("extract", extract)
            .map_err(|e| format!("registering extract: {e}"))?;
        context
            .add_variable("assertion", assertion)
            .map_err(|e| format!("binding assertion: {e}"))?;
        self.programs[source]
            .execute(&context)
            .map_err(|e| format!("CEL `{source}` failed on {assertion}: {e}"))
    }

    fn condition(&mut self, source: &str, assertion: &Value) -> Result<bool, String> {
        match self.eval(source, assertion)? {
            cel::Value::Bool(b) => Ok(b),
            other => Err(format!("condition `{source}` gave {other:?}, not a bool")),
        }
    }

    /// `--attribute-mapping` applied to a token: target attribute → value.
    fn mapping(
        &mut self,
        mapping: &str,
        assertion: &Value,
    ) -> Result<BTreeMap<String, String>, String> {
        let mut out = BTreeMap::new();
        for entry in mapping.split(',') {
            let (attribute, expression) = entry
                .split_once('=')
                .ok_or_else(|| format!("mapping entry `{entry}`"))?;
            match self.eval(expression, assertion)? {
                cel::Value::String(s) => {
                    out.insert(attribute.to_owned(), s.to_string());
                }
                other => return Err(format!("mapping `{entry}` gave {other:?}")),
            }
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// The property: what the rendered checks admit is exactly what the spec declares.
// ---------------------------------------------------------------------------------------------

/// Every disagreement between the rendered trust and the spec, and how many verdicts agreed.
#[derive(Debug, Default)]
struct Findings {
    wrongful_allows: Vec<String>,
    wrongful_denies: Vec<String>,
    /// Rendered definitions (files, providers, issuers, audiences, bindings) that differ.
    mismatches: Vec<String>,
    /// Verdicts compared.
    verdicts: usize,
    /// Verdicts where the spec's identity was, rightly, admitted.
    admitted: usize,
}

impl Findings {
    fn verdict(&mut self, actual: bool, expected: bool, what: impl FnOnce() -> String) {
        self.verdicts += 1;
        match (actual, expected) {
            (true, true) => self.admitted += 1,
            (true, false) => self.wrongful_allows.push(what()),
            (false, true) => self.wrongful_denies.push(what()),
            _ => {}
        }
    }

    fn same<T: Ord + std::fmt::Debug>(
        &mut self,
        what: &str,
        actual: &BTreeSet<T>,
        expected: &BTreeSet<T>,
    ) {
        for extra in actual.difference(expected) {
            self.mismatches
                .push(format!("{what}: rendered but not in the spec: {extra:?}"));
        }
        for missing in expected.difference(actual) {
            self.mismatches
                .push(format!("{what}: in the spec but not rendered: {missing:?}"));
        }
    }

    fn is_clean(&self) -> bool {
        self.wrongful_allows.is_empty()
            && self.wrongful_denies.is_empty()
            && self.mismatches.is_empty()
    }

    fn summary(&self) -> String {
        let mut lines = vec![format!(
            "{} wrongful allows, {} wrongful denies, {} mismatches",
            self.wrongful_allows.len(),
            self.wrongful_denies.len(),
            self.mismatches.len()
        )];
        for (label, list) in [
            ("wrongful allow", &self.wrongful_allows),
            ("wrongful deny", &self.wrongful_denies),
            ("mismatch", &self.mismatches),
        ] {
            lines.extend(list.iter().take(8).map(|l| format!("  {label}: {l}")));
        }
        lines.join("\n")
    }
}

/// What a federation into AWS makes the role trust, in IAM's terms.
#[derive(Debug, Clone)]
enum AwsIdentity {
    Google {
        unique_id: String,
        audience: String,
    },
    Oidc {
        provider_arn: String,
        audience: String,
        subject: String,
    },
}

impl AwsIdentity {
    fn token(&self) -> WebToken {
        match self {
            AwsIdentity::Google {
                unique_id,
                audience,
            } => WebToken {
                principal: GOOGLE.to_owned(),
                aud: audience.clone(),
                azp: Some(unique_id.clone()),
                sub: unique_id.clone(),
            },
            AwsIdentity::Oidc {
                provider_arn,
                audience,
                subject,
            } => WebToken {
                principal: provider_arn.clone(),
                aud: audience.clone(),
                azp: None,
                sub: subject.clone(),
            },
        }
    }

    /// Whether `token` is this identity, compared the way IAM's condition keys see tokens.
    fn is(&self, token: &WebToken) -> bool {
        match self {
            AwsIdentity::Google {
                unique_id,
                audience,
            } => {
                token.principal == GOOGLE
                    && token.azp.as_ref().unwrap_or(&token.aud) == unique_id
                    && &token.sub == unique_id
                    && &token.aud == audience
            }
            AwsIdentity::Oidc {
                provider_arn,
                audience,
                subject,
            } => {
                &token.principal == provider_arn && &token.aud == audience && &token.sub == subject
            }
        }
    }
}

fn aws_identity(m: &Model, f: &Federation) -> Option<(usize, AwsIdentity)> {
    let To::AwsRole(role) = f.to else {
        return None;
    };
    let identity = match (&f.via, &f.from) {
        (
            Via::GoogleIdToken {
                account, audience, ..
            },
            _,
        ) => AwsIdentity::Google {
            unique_id: m.id_token_accounts[*account].unique_id.clone(),
            audience: audience.clone().unwrap_or_else(|| m.role_arn(role)),
        },
        (
            Via::AwsOidcProvider { client_id, .. },
            From::Kubernetes {
                kind,
                cluster,
                namespace,
                service_account,
            },
        ) => {
            let account = &m.accounts[m.roles[role].account];
            AwsIdentity::Oidc {
                provider_arn: oidc_provider_arn(
                    account.partition,
                    &account.id,
                    &m.issuer(*kind, *cluster),
                ),
                audience: client_id
                    .clone()
                    .unwrap_or_else(|| "sts.amazonaws.com".to_owned()),
                subject: subject(namespace, service_account),
            }
        }
        _ => return None,
    };
    Some((role, identity))
}

/// Every issuer of the spec's clusters.
fn all_issuers(m: &Model) -> Vec<String> {
    (0..m.gke.len())
        .map(|c| m.issuer(ClusterKind::Gke, c))
        .chain((0..m.eks.len()).map(|c| m.issuer(ClusterKind::Eks, c)))
        .collect()
}

/// Subjects near `(ns, sa)`: other namespaces and names, prefixes, case, wildcards.
fn subject_mutations(ns: &str, sa: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = NAMESPACES
        .iter()
        .map(|n| ((*n).to_owned(), sa.to_owned()))
        .chain(
            SERVICE_ACCOUNTS
                .iter()
                .map(|s| (ns.to_owned(), (*s).to_owned())),
        )
        .collect();
    out.extend([
        (ns.to_owned(), format!("{sa}2")),
        (format!("{ns}2"), sa.to_owned()),
        (ns.to_uppercase(), sa.to_owned()),
        (ns.to_owned(), sa.to_uppercase()),
        (sa.to_owned(), ns.to_owned()),
        (ns.to_owned(), "*".to_owned()),
        ("*".to_owned(), sa.to_owned()),
        (format!("{ns}:{sa}"), String::new()),
    ]);
    out.retain(|(n, s)| (n.as_str(), s.as_str()) != (ns, sa));
    out
}

/// A token of the spec and its mutations, for AWS.
fn aws_probes(m: &Model, identity: &AwsIdentity) -> Vec<WebToken> {
    let base = identity.token();
    let mut out = vec![base.clone()];
    let with = |change: &dyn Fn(&mut WebToken)| {
        let mut t = base.clone();
        change(&mut t);
        t
    };
    let mut audiences: Vec<String> = (0..m.roles.len()).map(|r| m.role_arn(r)).collect();
    audiences.extend(
        CLIENT_IDS
            .iter()
            .chain(&GOOGLE_AUDIENCES)
            .map(|s| (*s).to_owned()),
    );
    audiences.extend([
        format!("{}x", base.aud),
        base.aud.to_uppercase(),
        "*".to_owned(),
    ]);
    for aud in &audiences {
        out.push(with(&|t| t.aud.clone_from(aud)));
    }
    let principals: Vec<String> = all_issuers(m)
        .iter()
        .flat_map(|issuer| {
            m.accounts
                .iter()
                .map(move |a| oidc_provider_arn(a.partition, &a.id, issuer))
        })
        .chain([GOOGLE.to_owned()])
        .collect();
    match identity {
        AwsIdentity::Google { unique_id, .. } => {
            let mut others: Vec<String> = m
                .id_token_accounts
                .iter()
                .map(|a| a.unique_id.clone())
                .collect();
            others.extend([format!("2{}", &unique_id[1..]), "*".to_owned()]);
            for other in &others {
                out.push(with(&|t| t.azp = Some(other.clone())));
                out.push(with(&|t| t.sub.clone_from(other)));
            }
            out.push(with(&|t| t.azp = None));
            out.push(with(&|t| t.aud.clone_from(unique_id)));
            out.push(with(&|t| {
                t.azp = None;
                t.aud.clone_from(unique_id);
            }));
        }
        AwsIdentity::Oidc {
            provider_arn,
            subject: sub,
            ..
        } => {
            let (ns, sa) = sub
                .strip_prefix("system:serviceaccount:")
                .and_then(|r| r.split_once(':'))
                .expect("a Kubernetes subject");
            for (n, s) in subject_mutations(ns, sa) {
                out.push(with(&|t| t.sub = subject(&n, &s)));
            }
            out.push(with(&|t| t.sub = format!("{sub}2")));
            out.push(with(&|t| t.sub = format!("system:serviceaccount:{ns}:*")));
            let (_, host_path) = provider_arn
                .split_once(":oidc-provider/")
                .expect("a provider ARN");
            let mut variants = vec![format!("{provider_arn}/x")];
            for p in PARTITIONS {
                for a in m
                    .accounts
                    .iter()
                    .map(|a| a.id.as_str())
                    .chain(["999999999999"])
                {
                    variants.push(format!(
                        "arn:{}:iam::{a}:oidc-provider/{host_path}",
                        p.as_str()
                    ));
                }
            }
            for principal in variants.iter().chain(&principals) {
                out.push(with(&|t| t.principal.clone_from(principal)));
            }
        }
    }
    for principal in &principals {
        out.push(with(&|t| t.principal.clone_from(principal)));
    }
    out.sort();
    out.dedup();
    out
}

fn check_aws(m: &Model, rendered: &Rendered, findings: &mut Findings) {
    let identities: Vec<(usize, AwsIdentity)> = m
        .federations
        .iter()
        .filter_map(|f| aws_identity(m, f))
        .collect();
    // Which role each trust policy belongs to, by the file's (account, role name).
    let mut policies = Vec::new();
    let mut expected_files = BTreeSet::new();
    for (r, role) in m.roles.iter().enumerate() {
        if role.instance_profile || identities.iter().any(|(t, _)| *t == r) {
            expected_files.insert((m.accounts[role.account].id.clone(), role.name.clone()));
        }
    }
    let rendered_files: BTreeSet<(String, String)> = rendered.policies.keys().cloned().collect();
    findings.same("trust policies", &rendered_files, &expected_files);
    for ((account, name), policy) in &rendered.policies {
        if let Some(r) = m
            .roles
            .iter()
            .position(|role| &m.accounts[role.account].id == account && &role.name == name)
        {
            policies.push((r, policy));
        }
    }
    let mut probes: Vec<WebToken> = identities
        .iter()
        .flat_map(|(_, i)| aws_probes(m, i))
        .collect();
    probes.sort();
    probes.dedup();
    for (role, policy) in &policies {
        for token in &probes {
            let expected = identities.iter().any(|(r, i)| r == role && i.is(token));
            match iam_allows(policy, token) {
                Ok(actual) => findings.verdict(actual, expected, || {
                    format!("role `{}` with {token:?}", m.role_arn(*role))
                }),
                Err(e) => findings
                    .mismatches
                    .push(format!("role `{}`: {e}", m.role_arn(*role))),
            }
        }
    }
    // STS accepts a cluster token only when the account has an IAM OIDC provider for its issuer
    // that lists its audience as a client id.
    let mut expected_providers = BTreeSet::new();
    for f in &m.federations {
        if let (
            Via::AwsOidcProvider { client_id, .. },
            From::Kubernetes { kind, cluster, .. },
            To::AwsRole(role),
        ) = (&f.via, &f.from, &f.to)
        {
            expected_providers.insert((
                m.accounts[m.roles[*role].account].id.clone(),
                m.issuer(*kind, *cluster),
                client_id
                    .clone()
                    .unwrap_or_else(|| "sts.amazonaws.com".to_owned()),
            ));
        }
    }
    findings.same(
        "IAM OIDC providers",
        &rendered.oidc_providers,
        &expected_providers,
    );
}

/// A token presented to a workload-identity provider.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum GcpToken {
    /// A Kubernetes projected token.
    Oidc {
        iss: String,
        aud: String,
        namespace: String,
        service_account: String,
    },
    /// A signed `GetCallerIdentity` of an AWS session: the caller's account and ARN, and the
    /// role the ARN is a session of, if it is one.
    Aws {
        account: String,
        arn: String,
        role: Option<(Partition, String, String)>,
    },
}

impl GcpToken {
    fn subject(&self) -> Option<String> {
        match self {
            GcpToken::Oidc {
                namespace,
                service_account,
                ..
            } => Some(subject(namespace, service_account)),
            GcpToken::Aws { .. } => None,
        }
    }

    /// The `assertion` a provider's CEL sees.
    fn assertion(&self) -> Value {
        match self {
            GcpToken::Oidc {
                iss,
                aud,
                namespace,
                service_account,
            } => json!({
                "iss": iss,
                "aud": aud,
                "sub": subject(namespace, service_account),
                "kubernetes.io": {
                    "namespace": namespace,
                    "serviceaccount": {"name": service_account, "uid": "6f3c1a0e-0000-4000-8000-000000000001"},
                    "pod": {"name": format!("{service_account}-5d8f7c9b4-x2x7q"), "uid": "6f3c1a0e-0000-4000-8000-000000000002"},
                },
            }),
            GcpToken::Aws { arn, account, .. } => json!({"arn": arn, "account": account}),
        }
    }
}

fn session(partition: Partition, account: &str, name: &str) -> GcpToken {
    GcpToken::Aws {
        account: account.to_owned(),
        arn: format!(
            "{}/i-0123456789abcdef0",
            assumed_role_arn(partition, account, name)
        ),
        role: Some((partition, account.to_owned(), name.to_owned())),
    }
}

/// A provider as the spec implies it.
#[derive(Debug, Clone, Default)]
struct ExpectedProvider {
    kind: &'static str,
    issuer: Option<String>,
    account: Option<String>,
    audiences: BTreeSet<String>,
    subjects: BTreeSet<String>,
    roles: BTreeSet<(Partition, String, String)>,
}

impl ExpectedProvider {
    /// Whether the provider, as the spec implies it, admits `token`.
    fn admits(&self, token: &GcpToken) -> bool {
        match token {
            GcpToken::Oidc { iss, aud, .. } => {
                self.kind == "oidc"
                    && self.issuer.as_ref() == Some(iss)
                    && self.audiences.contains(aud)
                    && token.subject().is_some_and(|s| self.subjects.contains(&s))
            }
            GcpToken::Aws { account, role, .. } => {
                self.kind == "aws"
                    && self.account.as_ref() == Some(account)
                    && role.as_ref().is_some_and(|r| self.roles.contains(r))
            }
        }
    }

    /// Whether the token reaches the provider's attribute condition at all (right issuer or
    /// account), and if so whether the condition must admit it.
    fn condition_should_admit(&self, token: &GcpToken) -> Option<bool> {
        match token {
            GcpToken::Oidc { iss, .. } if self.issuer.as_ref() == Some(iss) => {
                Some(token.subject().is_some_and(|s| self.subjects.contains(&s)))
            }
            GcpToken::Aws { account, role, .. } if self.account.as_ref() == Some(account) => {
                Some(role.as_ref().is_some_and(|r| self.roles.contains(r)))
            }
            _ => None,
        }
    }
}

/// The providers and bindings of each pool, as the spec implies them.
/// A pool's providers by id and its bindings (resource, role, member), as the spec implies them.
type PoolExpectation = (
    BTreeMap<String, ExpectedProvider>,
    BTreeSet<(String, String, String)>,
);

fn expected_pools(m: &Model) -> BTreeMap<usize, PoolExpectation> {
    let mut out: BTreeMap<usize, (BTreeMap<String, ExpectedProvider>, BTreeSet<_>)> =
        BTreeMap::new();
    for f in &m.federations {
        let Some((pool, id)) = m.provider_of(f) else {
            continue;
        };
        let (providers, bindings) = out.entry(pool).or_default();
        let p = providers.entry(id).or_default();
        match &f.from {
            From::Kubernetes {
                kind,
                cluster,
                namespace,
                service_account,
            } => {
                p.kind = "oidc";
                p.issuer = Some(m.issuer(*kind, *cluster));
                p.audiences.extend(m.pool_audience(f));
                p.subjects.insert(subject(namespace, service_account));
            }
            From::Ec2 { role } => {
                let r = &m.roles[*role];
                let a = &m.accounts[r.account];
                p.kind = "aws";
                p.account = Some(a.id.clone());
                p.roles.insert((a.partition, a.id.clone(), r.name.clone()));
            }
            From::Gce { .. } => {}
        }
        let member = m.pool_member(f).expect("a pool federation has a member");
        for (resource, role) in m.gcp_targets(f) {
            bindings.insert((resource, role, member.clone()));
        }
    }
    out
}

/// Tokens of the spec's workloads into GCP, and their mutations.
fn gcp_probes(m: &Model) -> Vec<GcpToken> {
    let mut out = Vec::new();
    let issuers = all_issuers(m);
    let mut audiences: BTreeSet<String> = m
        .federations
        .iter()
        .filter_map(|f| m.pool_audience(f))
        .collect();
    audiences.extend(POOL_AUDIENCES.iter().map(|s| (*s).to_owned()));
    audiences.extend(["sts.amazonaws.com".to_owned(), "*".to_owned()]);
    for f in &m.federations {
        match (&f.from, m.pool_audience(f)) {
            (
                From::Kubernetes {
                    kind,
                    cluster,
                    namespace,
                    service_account,
                },
                Some(aud),
            ) => {
                let iss = m.issuer(*kind, *cluster);
                let token = |iss: &str, aud: &str, ns: &str, sa: &str| GcpToken::Oidc {
                    iss: iss.to_owned(),
                    aud: aud.to_owned(),
                    namespace: ns.to_owned(),
                    service_account: sa.to_owned(),
                };
                out.push(token(&iss, &aud, namespace, service_account));
                for (ns, sa) in subject_mutations(namespace, service_account) {
                    out.push(token(&iss, &aud, &ns, &sa));
                }
                for other in issuers
                    .iter()
                    .cloned()
                    .chain([format!("{iss}/x"), format!("{iss}x")])
                {
                    out.push(token(&other, &aud, namespace, service_account));
                }
                for other in audiences.iter().cloned().chain([format!("{aud}x")]) {
                    out.push(token(&iss, &other, namespace, service_account));
                }
            }
            (From::Ec2 { role }, _) => ec2_probes(m, *role, &mut out),
            _ => {}
        }
    }
    // Sessions of every other role of the spec.
    for r in &m.roles {
        let a = &m.accounts[r.account];
        out.push(session(a.partition, &a.id, &r.name));
    }
    out.sort();
    out.dedup();
    out
}

/// Sessions of an EC2 role, and of roles and principals near it.
fn ec2_probes(m: &Model, role: usize, out: &mut Vec<GcpToken>) {
    let r = &m.roles[role];
    let a = &m.accounts[r.account];
    out.push(session(a.partition, &a.id, &r.name));
    let mut names = vec![
        format!("{}2", r.name),
        r.name.to_lowercase(),
        r.name.to_uppercase(),
        format!("{}-x", r.name),
    ];
    if let Some(prefix) = r.name.get(..r.name.len() - 1) {
        names.push(prefix.to_owned());
    }
    for name in names {
        out.push(session(a.partition, &a.id, &name));
    }
    for p in PARTITIONS {
        for other in m
            .accounts
            .iter()
            .map(|x| x.id.as_str())
            .chain(["999999999999"])
        {
            out.push(session(p, other, &r.name));
        }
    }
    for (arn, account) in [
        (
            format!("arn:{}:iam::{}:role/{}", a.partition.as_str(), a.id, r.name),
            &a.id,
        ),
        (
            format!(
                "arn:{}:sts::{}:federated-user/{}",
                a.partition.as_str(),
                a.id,
                r.name
            ),
            &a.id,
        ),
        (assumed_role_arn(a.partition, &a.id, &r.name), &a.id),
    ] {
        out.push(GcpToken::Aws {
            account: account.clone(),
            arn,
            role: None,
        });
    }
}

/// What `token` reaches through the rendered pool: the bindings whose member is the principal
/// (or a principal set) that the admitting providers' attribute mappings make of it.
fn rendered_reach(
    m: &Model,
    pool: usize,
    script: &PoolScript,
    token: &GcpToken,
    cel: &mut Cel,
) -> Result<BTreeSet<(String, String)>, String> {
    let resource = m.pool_resource(pool);
    let assertion = token.assertion();
    let mut members = BTreeSet::new();
    for (id, p) in &script.providers {
        let source_ok = match token {
            GcpToken::Oidc { iss, aud, .. } => {
                let audience_ok = if p.audiences.is_empty() {
                    // GCP's default: the provider's own resource name.
                    aud == &format!("https://iam.googleapis.com/{resource}/providers/{id}")
                        || aud == &format!("//iam.googleapis.com/{resource}/providers/{id}")
                } else {
                    p.audiences.contains(aud)
                };
                p.kind == "oidc" && p.issuer.as_ref() == Some(iss) && audience_ok
            }
            GcpToken::Aws { account, .. } => p.kind == "aws" && p.account.as_ref() == Some(account),
        };
        if !source_ok || !cel.condition(&p.condition, &assertion)? {
            continue;
        }
        members.insert(format!("principalSet://iam.googleapis.com/{resource}/*"));
        for (attribute, value) in cel.mapping(&p.mapping, &assertion)? {
            if attribute == "google.subject" {
                members.insert(format!(
                    "principal://iam.googleapis.com/{resource}/subject/{value}"
                ));
            } else if let Some(name) = attribute.strip_prefix("attribute.") {
                members.insert(format!(
                    "principalSet://iam.googleapis.com/{resource}/attribute.{name}/{value}"
                ));
            }
        }
    }
    Ok(script
        .bindings
        .iter()
        .filter(|(_, _, member)| members.contains(member))
        .map(|(resource, role, _)| (resource.clone(), role.clone()))
        .collect())
}

/// What the spec lets `token` reach through `pool`.
fn declared_reach(
    m: &Model,
    pool: usize,
    providers: &BTreeMap<String, ExpectedProvider>,
    token: &GcpToken,
) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for f in &m.federations {
        let Some((p, id)) = m.provider_of(f) else {
            continue;
        };
        if p != pool || !providers[&id].admits(token) {
            continue;
        }
        let same = match (&f.from, token) {
            (
                From::Kubernetes {
                    kind,
                    cluster,
                    namespace,
                    service_account,
                },
                GcpToken::Oidc { iss, .. },
            ) => {
                &m.issuer(*kind, *cluster) == iss
                    && token.subject() == Some(subject(namespace, service_account))
            }
            (From::Ec2 { role }, GcpToken::Aws { role: Some(r), .. }) => {
                let role = &m.roles[*role];
                let a = &m.accounts[role.account];
                (a.partition, &a.id, &role.name) == (r.0, &r.1, &r.2)
            }
            _ => false,
        };
        if same {
            out.extend(m.gcp_targets(f));
        }
    }
    out
}

/// Each rendered provider against the spec's: its definition, and its condition (evaluated by
/// CEL) on every token that passes its issuer or account check.
fn check_providers(
    what: &str,
    providers: &BTreeMap<String, ExpectedProvider>,
    script: &PoolScript,
    probes: &[GcpToken],
    cel: &mut Cel,
    findings: &mut Findings,
) {
    for (id, e) in providers {
        let Some(p) = script.providers.get(id) else {
            continue;
        };
        let definition = |p: &ProviderDef| {
            (
                p.kind.clone(),
                p.issuer.clone(),
                p.account.clone(),
                p.audiences.clone(),
            )
        };
        let e_definition = (
            e.kind.to_owned(),
            e.issuer.clone(),
            e.account.clone(),
            e.audiences.clone(),
        );
        if definition(p) != e_definition {
            findings.mismatches.push(format!(
                "{what} provider `{id}`: rendered {:?}, spec {e_definition:?}",
                definition(p)
            ));
        }
        // The condition alone, on every token that passes the provider's issuer or account.
        for token in probes {
            let Some(should) = e.condition_should_admit(token) else {
                continue;
            };
            match cel.condition(&p.condition, &token.assertion()) {
                Ok(admits) => findings.verdict(admits, should, || {
                    format!(
                        "{what} provider `{id}` condition `{}` with {token:?}",
                        p.condition
                    )
                }),
                Err(e) => findings
                    .mismatches
                    .push(format!("{what} provider `{id}`: {e}")),
            }
        }
    }
}

fn check_gcp(m: &Model, rendered: &Rendered, findings: &mut Findings) {
    let expected = expected_pools(m);
    let pool_key = |pool: usize| {
        (
            m.projects[m.pools[pool].project].id.clone(),
            m.pools[pool].id.clone(),
        )
    };
    let rendered_pools: BTreeSet<(String, String)> = rendered.pools.keys().cloned().collect();
    let expected_keys: BTreeSet<(String, String)> = expected.keys().map(|p| pool_key(*p)).collect();
    findings.same("pools", &rendered_pools, &expected_keys);
    let probes = gcp_probes(m);
    let mut cel = Cel::new();
    for (&pool, (providers, bindings)) in &expected {
        let Some(script) = rendered.pools.get(&pool_key(pool)) else {
            continue;
        };
        let what = format!("pool `{}`", m.pools[pool].id);
        let ids: BTreeSet<&String> = script.providers.keys().collect();
        findings.same(
            &format!("{what} providers"),
            &ids,
            &providers.keys().collect(),
        );
        findings.same(&format!("{what} bindings"), &script.bindings, bindings);
        check_providers(&what, providers, script, &probes, &mut cel, findings);
        // The whole chain: provider checks, condition, mapping, bound members.
        for token in &probes {
            let declared = declared_reach(m, pool, providers, token);
            match rendered_reach(m, pool, script, token, &mut cel) {
                Ok(reached) => {
                    for target in reached.union(&declared) {
                        findings.verdict(
                            reached.contains(target),
                            declared.contains(target),
                            || format!("{what}: {token:?} reaching {target:?}"),
                        );
                    }
                }
                Err(e) => findings.mismatches.push(format!("{what}: {e}")),
            }
        }
    }
    // GKE Workload Identity: exactly each GKE workload's member on its own Google service account.
    let mut gke = BTreeSet::new();
    for f in &m.federations {
        if let (
            From::Kubernetes {
                kind: ClusterKind::Gke,
                cluster,
                namespace,
                service_account,
            },
            Via::GoogleIdToken { account, .. },
        ) = (&f.from, &f.via)
        {
            gke.insert((
                m.id_token_accounts[*account].email.clone(),
                "roles/iam.workloadIdentityUser".to_owned(),
                format!(
                    "serviceAccount:{}.svc.id.goog[{namespace}/{service_account}]",
                    m.projects[m.gke[*cluster].project].id
                ),
            ));
        }
    }
    findings.same(
        "GKE Workload Identity bindings",
        &rendered.gke_bindings,
        &gke,
    );
}

/// Every check of the rendered `files` against the spec of `m`.
fn check(m: &Model, files: &BTreeMap<String, String>) -> Findings {
    let mut findings = Findings::default();
    match parse_rendered(files) {
        Ok(rendered) => {
            check_aws(m, &rendered, &mut findings);
            check_gcp(m, &rendered, &mut findings);
        }
        Err(e) => findings.mismatches.push(e),
    }
    findings
}

/// Renders the spec text through crossfed's one pipeline: path → content, or the report.
fn render(text: &str) -> Result<BTreeMap<String, String>, String> {
    let spec = crossfed::pipeline::SpecText {
        file: "random.yaml",
        name: "random.yaml",
        source: text,
    };
    match crossfed::pipeline::render_files(spec) {
        Ok(files) => Ok(files
            .into_iter()
            .map(|(path, f)| (path, f.content))
            .collect()),
        Err(crossfed::pipeline::PipelineError::Invalid(report)) => Err(report.to_text()),
        Err(e) => panic!("crossfed failed to render a valid spec: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The property test.
// ---------------------------------------------------------------------------------------------

/// What a run covered and found, over all cases.
#[derive(Debug, Default)]
struct Stats {
    cases: usize,
    rejected: usize,
    reject_reasons: Vec<String>,
    verdicts: usize,
    admitted: usize,
    wrongful_allows: usize,
    wrongful_denies: usize,
    mismatches: usize,
    methods: BTreeMap<&'static str, usize>,
    projects_with_several_gke_clusters: usize,
    roles_on_paths: usize,
    partitions: BTreeSet<&'static str>,
}

fn method(f: &Federation) -> &'static str {
    match (&f.from, &f.via, &f.to) {
        (
            From::Kubernetes { .. },
            Via::GoogleIdToken {
                credential_process: false,
                ..
            },
            _,
        ) => "GKE→AWS, Google SA, sidecar",
        (From::Kubernetes { .. }, Via::GoogleIdToken { .. }, _) => {
            "GKE→AWS, Google SA, credentialProcess"
        }
        (From::Gce { .. }, _, _) => "GCE→AWS",
        (
            From::Kubernetes {
                kind: ClusterKind::Gke,
                ..
            },
            Via::AwsOidcProvider {
                client_id: None, ..
            },
            _,
        ) => "GKE→AWS, OIDC provider, default clientId",
        (
            From::Kubernetes {
                kind: ClusterKind::Gke,
                ..
            },
            Via::AwsOidcProvider { .. },
            _,
        ) => "GKE→AWS, OIDC provider, custom clientId",
        (From::Kubernetes { .. }, Via::AwsOidcProvider { implicit: true, .. }, _) => {
            "EKS→AWS, OIDC provider, no `via`"
        }
        (
            From::Kubernetes { .. },
            Via::AwsOidcProvider {
                client_id: None, ..
            },
            _,
        ) => "EKS→AWS, OIDC provider, default clientId",
        (From::Kubernetes { .. }, Via::AwsOidcProvider { .. }, _) => {
            "EKS→AWS, OIDC provider, custom clientId"
        }
        (From::Kubernetes { .. }, _, To::GcpServiceAccount { .. }) => "EKS→GCP, impersonation",
        (From::Kubernetes { .. }, _, _) => "EKS→GCP, direct gcpRoles",
        (From::Ec2 { .. }, _, To::GcpServiceAccount { .. }) => "EC2→GCP, impersonation",
        (From::Ec2 { .. }, _, _) => "EC2→GCP, direct gcpRoles",
    }
}

impl Stats {
    fn record(&mut self, m: &Model, findings: &Findings) {
        self.verdicts += findings.verdicts;
        self.admitted += findings.admitted;
        self.wrongful_allows += findings.wrongful_allows.len();
        self.wrongful_denies += findings.wrongful_denies.len();
        self.mismatches += findings.mismatches.len();
        for f in &m.federations {
            *self.methods.entry(method(f)).or_default() += 1;
            if let To::AwsRole(r) = f.to {
                self.partitions
                    .insert(m.accounts[m.roles[r].account].partition.as_str());
                self.roles_on_paths += usize::from(m.roles[r].path != "/");
            }
        }
        self.projects_with_several_gke_clusters += (0..m.projects.len())
            .filter(|p| m.gke.iter().filter(|k| k.project == *p).count() > 1)
            .count();
    }

    fn report(&self, elapsed: std::time::Duration) -> String {
        let mut lines = vec![
            format!(
                "trust_properties: {} cases in {:.1} s, {} rejected by validation ({:.2} %)",
                self.cases,
                elapsed.as_secs_f64(),
                self.rejected,
                percent(self.rejected, self.cases)
            ),
            format!(
                "  {} verdicts ({} rightful allows): {} wrongful allows, {} wrongful denies, {} mismatched definitions",
                self.verdicts,
                self.admitted,
                self.wrongful_allows,
                self.wrongful_denies,
                self.mismatches
            ),
            format!(
                "  (summed over cases) projects with several GKE clusters: {}; federations into roles on IAM paths: {}; partitions: {:?}",
                self.projects_with_several_gke_clusters, self.roles_on_paths, self.partitions
            ),
        ];
        lines.extend(self.methods.iter().map(|(m, n)| format!("  {n:>7} × {m}")));
        lines.extend(
            self.reject_reasons
                .iter()
                .take(3)
                .map(|r| format!("  rejected:\n{r}")),
        );
        lines.join("\n")
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    // Counts stay far below 2^52, so the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let ratio = part as f64 / whole.max(1) as f64;
    ratio * 100.0
}

#[test]
fn rendered_trust_admits_exactly_the_spec() {
    // `Config::default()` reads PROPTEST_CASES; without it, a CI-sized run.
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 64;
    }
    // A failure prints its shrunk spec; nothing is written into the source tree.
    config.failure_persistence = None;
    let stats = Mutex::new(Stats::default());
    let start = Instant::now();
    let result = TestRunner::new(config).run(&blueprint(), |bp| {
        let m = build(&bp);
        let text = spec_text(&m);
        let mut stats = stats.lock().expect("stats lock");
        stats.cases += 1;
        let files = match render(&text) {
            Ok(files) => files,
            Err(report) => {
                stats.rejected += 1;
                if stats.reject_reasons.len() < 3 {
                    stats.reject_reasons.push(report);
                }
                return Ok(());
            }
        };
        let findings = check(&m, &files);
        stats.record(&m, &findings);
        if findings.is_clean() {
            Ok(())
        } else {
            Err(TestCaseError::fail(format!(
                "{}\n--- spec:\n{text}",
                findings.summary()
            )))
        }
    });
    let stats = stats.into_inner().expect("stats lock");
    // The run's numbers, shown with `--nocapture` (STYLE.md bans printing from library code).
    #[allow(clippy::disallowed_macros, reason = "a test reports its run")]
    {
        eprintln!("{}", stats.report(start.elapsed()));
    }
    if let Err(failure) = result {
        panic!("{failure}");
    }
    assert!(
        stats.rejected * 20 < stats.cases,
        "{} of {} generated specs were rejected: the generator breaks a validation rule\n{}",
        stats.rejected,
        stats.cases,
        stats.reject_reasons.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The checks can fail: widened (or narrowed) rendered trust is caught.
// ---------------------------------------------------------------------------------------------

/// A small spec with one federation of each kind whose trust can be widened.
fn sample() -> Model {
    let role = |name: &str, path: &str, instance_profile| Role {
        account: 0,
        name: name.to_owned(),
        path: path.to_owned(),
        by_arn: true,
        instance_profile,
    };
    Model {
        projects: vec![Project {
            id: "acme-prod".to_owned(),
            number: "123456789012".to_owned(),
            impersonated: vec!["gcs-writer-0@acme-prod.iam.gserviceaccount.com".to_owned()],
        }],
        gke: vec![GkeCluster {
            name: "prod-0".to_owned(),
            project: 0,
            location: "us-central1".to_owned(),
        }],
        pools: vec![Pool {
            id: "wif-0-0".to_owned(),
            project: 0,
        }],
        accounts: vec![Account {
            id: "281031839323".to_owned(),
            partition: Partition::Aws,
            region: None,
        }],
        roles: vec![
            role("Reader0", "/federated/", false),
            role("S3+Writer1", "/", false),
            role("Ec2-Host0", "/", true),
        ],
        eks: vec![EksCluster {
            name: "data-00".to_owned(),
            account: 0,
            region: "us-east-1".to_owned(),
            issuer: "https://oidc.eks.us-east-1.amazonaws.com/id/0000000000000000000000000000ABCD"
                .to_owned(),
            alias: "k8s-00".to_owned(),
        }],
        id_token_accounts: vec![IdTokenAccount {
            email: "aws-id-0@acme-prod.iam.gserviceaccount.com".to_owned(),
            unique_id: "100000000000000000000".to_owned(),
        }],
        federations: sample_federations(),
    }
}

/// The federations of [`sample`]: GKE via a Google service account, two EKS subjects into one
/// role, EKS and EC2 into one pool.
fn sample_federations() -> Vec<Federation> {
    let kubernetes = |kind, namespace: &str, service_account: &str| From::Kubernetes {
        kind,
        cluster: 0,
        namespace: namespace.to_owned(),
        service_account: service_account.to_owned(),
    };
    let oidc = Via::AwsOidcProvider {
        client_id: None,
        implicit: false,
    };
    let pool = Via::Pool {
        pool: 0,
        provider: None,
        audience: None,
    };
    let federation = |name: &str, from, to, via| Federation {
        name: name.to_owned(),
        from,
        to,
        via,
    };
    vec![
        federation(
            "gke-gsa",
            kubernetes(ClusterKind::Gke, "ops", "reader"),
            To::AwsRole(0),
            Via::GoogleIdToken {
                account: 0,
                audience: None,
                credential_process: false,
                implicit: false,
            },
        ),
        federation(
            "eks-oidc-a",
            kubernetes(ClusterKind::Eks, "ingest", "reader"),
            To::AwsRole(1),
            oidc.clone(),
        ),
        federation(
            "eks-oidc-b",
            kubernetes(ClusterKind::Eks, "ingest", "writer"),
            To::AwsRole(1),
            oidc,
        ),
        federation(
            "eks-gcp",
            kubernetes(ClusterKind::Eks, "web", "app"),
            To::GcpRoles {
                roles: vec!["roles/storage.objectViewer".to_owned()],
                project: None,
            },
            pool.clone(),
        ),
        federation(
            "ec2-gcp",
            From::Ec2 { role: 2 },
            To::GcpServiceAccount {
                email: "gcs-writer-0@acme-prod.iam.gserviceaccount.com".to_owned(),
                lifetime: None,
            },
            pool,
        ),
    ]
}

const READER_POLICY: &str = "aws/281031839323/roles/Reader0/trust-policy.json";
const WRITER_POLICY: &str = "aws/281031839323/roles/S3+Writer1/trust-policy.json";
const POOL_SCRIPT: &str = "gcp/acme-prod/pools/wif-0-0/apply.sh";

fn sample_files() -> (Model, BTreeMap<String, String>) {
    let m = sample();
    let files = render(&spec_text(&m))
        .unwrap_or_else(|report| panic!("the sample spec is valid:\n{report}"));
    (m, files)
}

/// `files` with the trust policy at `path` changed by `edit`.
fn edit_policy(
    files: &BTreeMap<String, String>,
    path: &str,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> BTreeMap<String, String> {
    let mut files = files.clone();
    let mut policy: Value = serde_json::from_str(&files[path]).expect("a JSON policy");
    let condition = policy["Statement"][0]["Condition"]
        .as_object_mut()
        .expect("the first statement has a condition");
    edit(condition);
    files.insert(
        path.to_owned(),
        serde_json::to_string_pretty(&policy).expect("JSON"),
    );
    files
}

/// `files` with `from` replaced by `to` in the pool's `apply.sh` (which must contain it).
fn edit_script(files: &BTreeMap<String, String>, from: &str, to: &str) -> BTreeMap<String, String> {
    let mut files = files.clone();
    let script = files.get_mut(POOL_SCRIPT).expect("the pool script");
    assert!(script.contains(from), "`{from}` is not in\n{script}");
    *script = script.replace(from, to);
    files
}

fn remove_key(condition: &mut serde_json::Map<String, Value>, operator: &str, suffix: &str) {
    let keys = condition[operator].as_object_mut().expect("an operator");
    let key = keys
        .keys()
        .find(|k| k.ends_with(suffix))
        .cloned()
        .unwrap_or_else(|| panic!("no key ending in `{suffix}`"));
    keys.remove(&key);
}

#[test]
fn the_sample_renders_trust_that_passes() {
    let (m, files) = sample_files();
    let findings = check(&m, &files);
    assert!(findings.is_clean(), "{}", findings.summary());
    assert!(findings.admitted >= 5, "{findings:?}");
}

#[test]
fn dropping_sub_from_a_trust_statement_is_a_wrongful_allow() {
    let (m, files) = sample_files();
    let widened = edit_policy(&files, WRITER_POLICY, |c| {
        remove_key(c, "StringEquals", ":sub");
    });
    let findings = check(&m, &widened);
    assert!(
        !findings.wrongful_allows.is_empty(),
        "{}",
        findings.summary()
    );
    // Google ID tokens: without `:oaud`, a token minted for any audience would do.
    let widened = edit_policy(&files, READER_POLICY, |c| {
        remove_key(c, "StringEquals", ":oaud");
    });
    let findings = check(&m, &widened);
    assert!(
        !findings.wrongful_allows.is_empty(),
        "{}",
        findings.summary()
    );
}

#[test]
fn a_wildcard_subject_under_string_like_is_a_wrongful_allow() {
    let (m, files) = sample_files();
    let widened = edit_policy(&files, WRITER_POLICY, |c| {
        let mut keys = c.remove("StringEquals").expect("StringEquals");
        let sub = keys
            .as_object()
            .and_then(|k| k.keys().find(|k| k.ends_with(":sub")).cloned())
            .expect("a :sub key");
        keys[&sub] = json!("*");
        c.insert("StringLike".to_owned(), keys);
    });
    let findings = check(&m, &widened);
    assert!(
        !findings.wrongful_allows.is_empty(),
        "{}",
        findings.summary()
    );
}

#[test]
fn a_narrowed_statement_is_a_wrongful_deny() {
    let (m, files) = sample_files();
    let narrowed = edit_policy(&files, WRITER_POLICY, |c| {
        let keys = c["StringEquals"].as_object_mut().expect("StringEquals");
        let sub = keys
            .keys()
            .find(|k| k.ends_with(":sub"))
            .cloned()
            .expect("a :sub key");
        keys[&sub] = json!("system:serviceaccount:ingest:reader");
    });
    let findings = check(&m, &narrowed);
    assert!(
        !findings.wrongful_denies.is_empty(),
        "{}",
        findings.summary()
    );
    assert!(
        findings.wrongful_allows.is_empty(),
        "{}",
        findings.summary()
    );
}

#[test]
fn a_starts_with_without_its_trailing_slash_is_a_wrongful_allow() {
    let (m, files) = sample_files();
    // `assumed-role/Ec2-Host0` (no `/`) also admits the sessions of `Ec2-Host02`.
    let widened = edit_script(
        &files,
        r"assumed-role/Ec2-Host0/'\'')",
        r"assumed-role/Ec2-Host0'\'')",
    );
    let findings = check(&m, &widened);
    assert!(
        findings
            .wrongful_allows
            .iter()
            .any(|f| f.contains("Ec2-Host02") && f.contains("condition")),
        "{}",
        findings.summary()
    );
}

#[test]
fn a_namespace_wide_condition_is_a_wrongful_allow() {
    let (m, files) = sample_files();
    let widened = edit_script(
        &files,
        r"assertion.sub in ['\''system:serviceaccount:web:app'\'']",
        r"assertion.sub.startsWith('\''system:serviceaccount:web:'\'')",
    );
    let findings = check(&m, &widened);
    assert!(
        !findings.wrongful_allows.is_empty(),
        "{}",
        findings.summary()
    );
    // A binding to the whole pool is caught by the reach check too.
    let widened = edit_script(
        &files,
        "--member=principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/wif-0-0/subject/system:serviceaccount:web:app",
        "--member='principalSet://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/wif-0-0/*'",
    );
    let findings = check(&m, &widened);
    assert!(
        !findings.wrongful_allows.is_empty(),
        "{}",
        findings.summary()
    );
}

#[test]
fn the_iam_evaluator_follows_iam_semantics() {
    assert!(like(
        "system:serviceaccount:ns:*",
        "system:serviceaccount:ns:app"
    ));
    assert!(like("a?c", "abc") && !like("a?c", "abbc") && like("*", ""));
    assert!(!like("abc", "ABC"));
    let token = WebToken {
        principal: GOOGLE.to_owned(),
        aud: "audience".to_owned(),
        azp: Some("123".to_owned()),
        sub: "123".to_owned(),
    };
    let policy = |condition: Value| {
        json!({"Statement": [{"Effect": "Allow", "Principal": {"Federated": GOOGLE},
            "Action": WEB_IDENTITY, "Condition": condition}]})
    };
    let allows = |condition: Value| iam_allows(&policy(condition), &token).expect("supported");
    // `:aud` is the azp, `:oaud` the aud.
    assert!(allows(
        json!({"StringEquals": {"accounts.google.com:aud": "123", "accounts.google.com:oaud": "audience"}})
    ));
    assert!(!allows(
        json!({"StringEquals": {"accounts.google.com:aud": "audience"}})
    ));
    // Values of one key are ORed, keys ANDed; a key the token lacks denies.
    assert!(allows(
        json!({"StringEquals": {"accounts.google.com:sub": ["9", "123"]}})
    ));
    assert!(!allows(
        json!({"StringEquals": {"accounts.google.com:sub": "123", "accounts.google.com:oaud": "x"}})
    ));
    assert!(!allows(
        json!({"StringEquals": {"accounts.google.com:email": "a@b"}})
    ));
    assert!(allows(
        json!({"StringNotEquals": {"accounts.google.com:email": "a@b"}})
    ));
    assert!(allows(
        json!({"StringLike": {"accounts.google.com:oaud": "aud*"}})
    ));
    assert!(iam_allows(&policy(json!({"NumericLessThan": {"x": "1"}})), &token).is_err());
}
