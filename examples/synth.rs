//! `cargo run --release --example synth -- --federations N [--seed S] [--org]`: print a
//! synthetic, organisation-scale crossfed spec to stdout, for benchmarks (`bench/run.sh`).
//!
//! `--org` is the organisation scenario: fewer, larger clusters and accounts (each EKS cluster
//! with about 200 service accounts federated into GCP, each AWS account with about 150 EC2 instance
//! roles) and no provider id written by hand, so crossfed's automatic provider sharding does the
//! splitting that the default scenario does in the spec.
//!
//! The spec is what a large organisation could plausibly write: every federation method in
//! fixed proportions (see `MIX`), interleaved, with clusters, projects, accounts, pools and roles
//! that grow with N. The same N and seed give the same bytes.
//!
//! It is built as text, not through crossfed's types, so it keeps working while the library's
//! internals change; it only relies on the spec format. It stays inside the rules crossfed
//! enforces today and, conservatively, inside rules likely to come: every Google service account
//! serves exactly one workload and one AWS role, every federation has its own Kubernetes service
//! account, each GCP project holds at most one GKE cluster, role names are unique, no two EKS
//! clusters share an issuer, a role trusts at most 3 sources, and providers are split before
//! their attribute conditions approach GCP's 4,096 characters.

// An example is a program that prints; clippy.toml bans printing in library code only.
#![allow(clippy::disallowed_macros)]

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;

use clap::Parser;

/// Print a synthetic crossfed spec with N federations.
#[derive(Debug, Parser)]
#[command(name = "synth")]
struct Args {
    /// Number of federations.
    #[arg(long, default_value_t = 1000)]
    federations: usize,
    /// Seed of the pseudo-random choices (names, ids, sizes); the same seed gives the same spec.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The organisation scenario: EKS clusters of ~200 service accounts into GCP, AWS accounts of
    /// ~150 EC2 roles, providers left to crossfed's sharding.
    #[arg(long)]
    org: bool,
}

/// How the organisation is laid out.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// Federations per GKE cluster and per EKS cluster.
    per_cluster: usize,
    /// Federations per AWS account and per shared ("platform") GCP project.
    per_account: usize,
    /// Whether the spec splits providers itself (explicit `via.provider` ids).
    split_providers: bool,
}

impl Shape {
    const DEFAULT: Shape = Shape {
        per_cluster: FEDERATIONS_PER_CLUSTER,
        per_account: FEDERATIONS_PER_ACCOUNT,
        split_providers: true,
    };
    /// 21% of federations are EKS → GCP, so 1,000 per cluster gives each EKS cluster ~210 of
    /// them; 10% are EC2 → GCP, so 1,500 per account gives each account ~150 instance roles.
    const ORG: Shape = Shape {
        per_cluster: 1000,
        per_account: 1500,
        split_providers: false,
    };
}

/// What one federation is: source, method and target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// GKE → AWS role, Google service account ID token, native sidecar.
    GkeGsaSidecar,
    /// GKE → AWS role, Google service account ID token, `credential_process` helper.
    GkeGsaProcess,
    /// GKE → AWS role through an IAM OIDC provider for the cluster issuer.
    GkeOidc,
    /// GCE VM → AWS role, token file refreshed by a systemd timer.
    GceTimer,
    /// GCE VM → AWS role, `credential_process` helper.
    GceProcess,
    /// EKS → AWS role through the cluster's IAM OIDC provider (IRSA shape).
    EksAws,
    /// EKS → GCP, impersonating a Google service account.
    EksImpersonate,
    /// EKS → GCP, roles granted to the federated principal.
    EksDirect,
    /// EC2 instance role → GCP, impersonating a Google service account.
    Ec2Impersonate,
    /// EC2 instance role → GCP, roles granted to the federated principal.
    Ec2Direct,
}

/// Share of each kind, in percent (sums to 100). GKE → AWS dominates, as it does in
/// organisations that run mostly on GKE with data in S3; every method is represented.
const MIX: [(Kind, u32); 10] = [
    (Kind::GkeGsaSidecar, 23),
    (Kind::GkeGsaProcess, 8),
    (Kind::GkeOidc, 14),
    (Kind::GceTimer, 6),
    (Kind::GceProcess, 3),
    (Kind::EksAws, 15),
    (Kind::EksImpersonate, 10),
    (Kind::EksDirect, 11),
    (Kind::Ec2Impersonate, 4),
    (Kind::Ec2Direct, 6),
];

/// Federations per GKE cluster and per EKS cluster (each gets ~45 resp. ~35 of them).
const FEDERATIONS_PER_CLUSTER: usize = 100;
/// Federations per AWS account and per shared ("platform") GCP project.
const FEDERATIONS_PER_ACCOUNT: usize = 500;
/// Subjects per OIDC provider and roles per AWS provider before a new provider is opened:
/// well under GCP's 4,096-character attribute condition with the longest generated names.
const SUBJECTS_PER_PROVIDER: usize = 30;
const ROLES_PER_PROVIDER: usize = 25;

const TEAMS: &[&str] = &[
    "payments",
    "ledger",
    "billing",
    "checkout",
    "search",
    "catalog",
    "identity",
    "fraud-detection",
    "risk",
    "growth",
    "ads-delivery",
    "analytics",
    "data-platform",
    "ml-platform",
    "recommendations",
    "notifications",
    "messaging",
    "logistics",
    "fulfillment",
    "inventory",
    "pricing",
    "customer-support",
    "compliance",
    "security-eng",
    "observability",
    "media",
    "streaming",
    "maps",
    "partner-api",
    "onboarding",
    "subscriptions",
    "reporting",
    "warehouse",
    "customer-data",
    "mobile-backend",
    "trust-safety",
];

const COMPONENTS: &[&str] = &[
    "ledger",
    "invoice",
    "settlement",
    "order",
    "cart",
    "profile",
    "session",
    "token",
    "event",
    "audit",
    "metrics",
    "feature",
    "model",
    "embedding",
    "report",
    "export",
    "import",
    "snapshot",
    "backup",
    "archive",
    "image",
    "video",
    "thumbnail",
    "email",
    "sms",
    "push",
    "webhook",
    "schedule",
    "quota",
    "price",
    "stock",
    "shipment",
    "refund",
    "dispute",
    "consent",
    "geo",
    "tile",
    "index",
    "query",
    "batch",
];

const AGENTS: &[&str] = &[
    "reconciler",
    "exporter",
    "importer",
    "uploader",
    "downloader",
    "syncer",
    "indexer",
    "scheduler",
    "worker",
    "processor",
    "publisher",
    "subscriber",
    "collector",
    "aggregator",
    "archiver",
    "compactor",
    "replicator",
    "validator",
    "notifier",
    "renderer",
    "transcoder",
    "crawler",
    "scanner",
    "trainer",
    "scorer",
    "loader",
    "writer",
    "reader",
    "gateway",
    "api",
];

/// AWS role name suffix and the managed policy it gets (`None`: a customer policy named after
/// the role, in its account).
const AWS_ACCESS: &[(&str, Option<&str>)] = &[
    ("s3-reader", Some("AmazonS3ReadOnlyAccess")),
    ("s3-writer", None),
    ("dynamodb-reader", Some("AmazonDynamoDBReadOnlyAccess")),
    ("dynamodb-writer", None),
    ("sqs-consumer", None),
    ("sns-publisher", None),
    ("kinesis-producer", None),
    ("secrets-reader", None),
    ("athena-query", Some("AmazonAthenaFullAccess")),
    ("cloudwatch-writer", Some("CloudWatchAgentServerPolicy")),
];

const GCP_ROLES: &[&[&str]] = &[
    &["roles/storage.objectViewer"],
    &["roles/storage.objectCreator"],
    &["roles/bigquery.dataViewer", "roles/bigquery.jobUser"],
    &["roles/pubsub.publisher"],
    &["roles/pubsub.subscriber"],
    &["roles/secretmanager.secretAccessor"],
    &["roles/cloudsql.client"],
    &["roles/spanner.databaseReader"],
    &["roles/logging.logWriter", "roles/monitoring.metricWriter"],
    &["roles/aiplatform.user", "roles/storage.objectViewer"],
];

/// GCP regions, with a short code for cluster names.
const GCP_REGIONS: &[(&str, &str)] = &[
    ("us-central1", "usc1"),
    ("us-east4", "use4"),
    ("europe-west4", "euw4"),
    ("europe-west1", "euw1"),
    ("asia-northeast1", "ane1"),
    ("australia-southeast1", "ause1"),
];

/// AWS regions, with a short code for cluster names.
const AWS_REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "use1"),
    ("us-west-2", "usw2"),
    ("eu-west-1", "euw1"),
    ("eu-central-1", "euc1"),
    ("ap-northeast-1", "apne1"),
    ("ap-southeast-2", "apse2"),
];

const ENVS: &[&str] = &["prod", "prod", "staging", "dev"];

/// SplitMix64: small, fast and good enough for picking names.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        let n64 = u64::try_from(n).expect("usize fits in u64");
        usize::try_from(self.next_u64() % n64).expect("below n, which is a usize")
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Distinct, random-looking numbers of `digits` digits (first digit non-zero) for `i` = 0, 1, …:
/// an affine map whose multiplier is coprime to 2, 3 and 5, hence to the size of the range
/// (9 × 10^(digits-1)), so it is a bijection on the range.
fn distinct_digits(i: usize, salt: u64, digits: u32) -> String {
    const MULTIPLIER: u128 = 2_862_933_555_777_941_759;
    let low = 10u128.pow(digits - 1);
    let span = 9 * low;
    let i = u128::try_from(i).expect("usize fits in u128");
    let offset = u128::from(salt).wrapping_mul(1_442_695_040_888_963_407);
    let value = low + (i * MULTIPLIER + offset) % span;
    value.to_string()
}

fn base36(mut n: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[n % 36]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII digits")
}

/// `s` cut to at most `max` bytes (ASCII), without a trailing `-`.
fn cut(s: &str, max: usize) -> &str {
    s[..s.len().min(max)].trim_end_matches('-')
}

/// A YAML scalar: plain when it is unambiguously a string, else a double-quoted (JSON) string.
fn q(s: &str) -> String {
    let plain = s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'/' | b'@')
        })
        && !matches!(s, "true" | "false" | "null");
    if plain {
        s.to_owned()
    } else {
        serde_json::to_string(s).expect("a string serializes")
    }
}

struct GcpProject {
    id: String,
    number: String,
}

struct GkeCluster {
    name: String,
    project: usize,
    location: String,
    teams: Vec<&'static str>,
    /// The AWS account its workloads reach (bounds IAM OIDC providers per account).
    account: usize,
}

struct Account {
    id: String,
    region: &'static str,
    /// Index of the pool that admits this account's EKS clusters and EC2 roles.
    pool: usize,
}

struct EksCluster {
    name: String,
    account: usize,
    region: &'static str,
    issuer: String,
    teams: Vec<&'static str>,
}

struct Pool {
    id: String,
    project: usize,
}

struct ServiceAccount {
    email: String,
    /// Only for accounts whose ID tokens AWS trusts (the others need none).
    unique_id: Option<String>,
}

/// How a role is written in `aws.roles` and referenced by federations.
#[derive(Clone, Copy)]
enum RoleStyle {
    Arn,
    NameAccount,
    NameAccountPath,
}

struct Role {
    name: String,
    account: usize,
    style: RoleStyle,
    policy: Option<String>,
    max_session: Option<u32>,
    instance_profile: bool,
    /// Sources this role trusts, and how many it will take.
    sources: usize,
    capacity: usize,
}

impl Role {
    fn path(&self) -> &'static str {
        match self.style {
            RoleStyle::NameAccountPath => "/federated/",
            _ => "/",
        }
    }
}

/// One federation, already as its YAML lines (`from`, `to`, `via`).
struct Federation {
    name: String,
    from: String,
    to: String,
    via: Option<String>,
}

#[derive(Default)]
struct Spec {
    seed: u64,
    projects: Vec<GcpProject>,
    gke: Vec<GkeCluster>,
    accounts: Vec<Account>,
    eks: Vec<EksCluster>,
    pools: Vec<Pool>,
    service_accounts: Vec<ServiceAccount>,
    roles: Vec<Role>,
    federations: Vec<Federation>,
    /// Workload names, role names and issuers handed out so far (all lowercase).
    taken: HashSet<String>,
    /// The role of each (account, team) that still takes sources.
    open_role: BTreeMap<(usize, &'static str), usize>,
    /// Sources per (pool, cluster or account) so far, to split providers.
    provider_load: BTreeMap<(usize, String), usize>,
}

impl Spec {
    /// A fresh `base`, or `base-2`, `base-3`, … when taken.
    fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut k = 2;
        while !self.taken.insert(name.clone()) {
            name = format!("{base}-{k}");
            k += 1;
        }
        name
    }

    fn project_id(&self, i: usize) -> &str {
        &self.projects[i].id
    }

    fn role_arn(&self, r: usize) -> String {
        let role = &self.roles[r];
        format!(
            "arn:aws:iam::{}:role{}{}",
            self.accounts[role.account].id,
            role.path(),
            role.name
        )
    }

    /// A new Google service account in project `project` for workload `workload` (the
    /// federation index keeps ids unique and within 6-30 characters), with a unique id when
    /// AWS is to trust its ID tokens.
    fn service_account(
        &mut self,
        project: usize,
        workload: &str,
        i: usize,
        trusted_by_aws: bool,
    ) -> String {
        let suffix = base36(i);
        let stem = cut(workload, 29 - suffix.len());
        let email = format!(
            "{stem}-{suffix}@{}.iam.gserviceaccount.com",
            self.project_id(project)
        );
        self.service_accounts.push(ServiceAccount {
            email: email.clone(),
            unique_id: trusted_by_aws
                .then(|| distinct_digits(self.service_accounts.len(), self.seed, 21)),
        });
        email
    }

    /// The role in `account` that takes the next source of `team`: the team's open one, or a
    /// new one trusting 1-3 sources.
    fn target_role(
        &mut self,
        rng: &mut Rng,
        account: usize,
        team: &'static str,
        component: &str,
    ) -> usize {
        if let Some(&r) = self.open_role.get(&(account, team))
            && self.roles[r].sources < self.roles[r].capacity
        {
            self.roles[r].sources += 1;
            return r;
        }
        let (access, managed) = *rng.pick(AWS_ACCESS);
        let name = self.unique(&format!("{team}-{component}-{access}"));
        // Some roles get their permissions as inline policies managed elsewhere.
        let policy = rng.chance(60).then(|| match managed {
            Some(p) => format!("arn:aws:iam::aws:policy/{p}"),
            None => format!("arn:aws:iam::{}:policy/{name}", self.accounts[account].id),
        });
        let style = match rng.below(20) {
            0..=15 => RoleStyle::Arn,
            16..=18 => RoleStyle::NameAccount,
            _ => RoleStyle::NameAccountPath,
        };
        let capacity = match rng.below(10) {
            0..=1 => 1,
            2..=5 => 2,
            _ => 3,
        };
        self.roles.push(Role {
            name,
            account,
            style,
            policy,
            max_session: rng.chance(20).then_some(7200),
            instance_profile: false,
            sources: 1,
            capacity,
        });
        let r = self.roles.len() - 1;
        self.open_role.insert((account, team), r);
        r
    }

    /// How a federation names role `r`: by ARN mostly, by bare name sometimes (names are
    /// unique across the spec, so never ambiguous).
    fn role_ref(&self, rng: &mut Rng, r: usize) -> String {
        if rng.chance(25) {
            q(&self.roles[r].name)
        } else {
            q(&self.role_arn(r))
        }
    }

    /// The provider id to give in `via` (None: the default `eks-<cluster>` / `aws-<account>`),
    /// opening a new provider every `per` sources.
    fn provider(&mut self, pool: usize, key: &str, default: &str, per: usize) -> Option<String> {
        let load = self
            .provider_load
            .entry((pool, key.to_owned()))
            .or_default();
        let chunk = *load / per;
        *load += 1;
        (chunk > 0).then(|| format!("{}-{}", cut(default, 29), base36(chunk + 1)))
    }
}

/// The kind of each federation: a smooth weighted round-robin over `MIX`, so every prefix of
/// the sequence is close to the proportions and every 100 federations hold them exactly.
fn kinds(n: usize) -> Vec<Kind> {
    let total: i64 = MIX.iter().map(|(_, w)| i64::from(*w)).sum();
    let mut current = [0i64; MIX.len()];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        for (c, (_, w)) in current.iter_mut().zip(MIX) {
            *c += i64::from(w);
        }
        let best = (0..MIX.len())
            .max_by_key(|&k| (current[k], std::cmp::Reverse(k)))
            .expect("MIX is not empty");
        current[best] -= total;
        out.push(MIX[best].0);
    }
    out
}

#[allow(clippy::too_many_lines)] // one pass that lays out the whole organisation; its parts share the counters
fn build(n: usize, seed: u64, shape: Shape) -> Spec {
    let mut rng = Rng(seed);
    let mut spec = Spec {
        seed,
        ..Spec::default()
    };
    let clusters = n.div_ceil(shape.per_cluster).max(1);
    let shared = n.div_ceil(shape.per_account).max(1);

    // Shared ("platform") projects: pools, GCE VMs, impersonated service accounts.
    for k in 0..shared {
        spec.projects.push(GcpProject {
            id: format!("acme-platform-{:03}", k + 1),
            number: distinct_digits(spec.projects.len(), seed, 12),
        });
    }
    // AWS accounts, each with its pool in a shared project.
    for k in 0..shared {
        let id = distinct_digits(k, seed.wrapping_add(1), 12);
        spec.pools.push(Pool {
            id: format!("aws-{id}"),
            project: k % shared,
        });
        spec.accounts.push(Account {
            id,
            region: rng.pick(AWS_REGIONS).0,
            pool: k,
        });
    }
    // GKE clusters, one project each; a handful of team namespaces per cluster.
    for k in 0..clusters {
        let env = ENVS[k % ENVS.len()];
        let (region, short) = *rng.pick(GCP_REGIONS);
        let location = if rng.chance(20) {
            format!("{region}-{}", rng.pick(&["a", "b", "c"]))
        } else {
            region.to_owned()
        };
        spec.projects.push(GcpProject {
            id: format!("acme-gke-{env}-{:03}", k + 1),
            number: distinct_digits(spec.projects.len(), seed, 12),
        });
        let teams = (0..4 + rng.below(3))
            .map(|j| TEAMS[(k * 5 + j) % TEAMS.len()])
            .collect();
        spec.gke.push(GkeCluster {
            name: format!("{env}-{short}-gke-{:03}", k + 1),
            project: spec.projects.len() - 1,
            location,
            teams,
            account: k % shared,
        });
    }
    // EKS clusters, spread over the accounts, each with its own issuer.
    for k in 0..clusters {
        let env = ENVS[(k + 1) % ENVS.len()];
        let account = k % shared;
        let (region, short) = if rng.chance(70) {
            *AWS_REGIONS
                .iter()
                .find(|(r, _)| *r == spec.accounts[account].region)
                .expect("account regions come from AWS_REGIONS")
        } else {
            *rng.pick(AWS_REGIONS)
        };
        let issuer = loop {
            let id = format!("{:016X}{:016X}", rng.next_u64(), rng.next_u64());
            let issuer = format!("https://oidc.eks.{region}.amazonaws.com/id/{id}");
            if spec.taken.insert(issuer.clone()) {
                break issuer;
            }
        };
        let teams = (0..4 + rng.below(3))
            .map(|j| TEAMS[(k * 7 + 3 + j) % TEAMS.len()])
            .collect();
        spec.eks.push(EksCluster {
            name: format!("{env}-{short}-eks-{:03}", k + 1),
            account,
            region,
            issuer,
            teams,
        });
    }

    let kinds = kinds(n);
    let (mut gke_next, mut eks_next, mut host_next) = (0usize, 0usize, 0usize);
    for (i, kind) in kinds.into_iter().enumerate() {
        let component = *rng.pick(COMPONENTS);
        let agent = *rng.pick(AGENTS);
        let federation = match kind {
            Kind::GkeGsaSidecar | Kind::GkeGsaProcess | Kind::GkeOidc => {
                let c = gke_next % clusters;
                gke_next += 1;
                let team = *rng.pick(&spec.gke[c].teams);
                let name = spec.unique(&format!("{team}-{component}-{agent}"));
                let ksa = &name[team.len() + 1..];
                let (cluster, project, account) = (
                    spec.gke[c].name.clone(),
                    spec.gke[c].project,
                    spec.gke[c].account,
                );
                let containers = if rng.chance(5) {
                    ", containers: [app, worker]"
                } else {
                    ""
                };
                let from = format!(
                    "{{gke: {cluster}, namespace: {team}, serviceAccount: {ksa}{containers}}}"
                );
                let r = spec.target_role(&mut rng, account, team, component);
                let role = spec.role_ref(&mut rng, r);
                let (to, via) = match kind {
                    Kind::GkeOidc => {
                        let via = if rng.chance(15) {
                            "{awsOidcProvider: {}, tokenExpirationSeconds: 7200}"
                        } else {
                            "{awsOidcProvider: {}}"
                        };
                        (format!("{{awsRole: {role}}}"), via.to_owned())
                    }
                    _ => {
                        let email = spec.service_account(project, ksa, i, true);
                        if kind == Kind::GkeGsaProcess {
                            let to = match spec.roles[r].max_session {
                                Some(max) if rng.chance(50) => {
                                    format!("{{awsRole: {role}, sessionDuration: {max}}}")
                                }
                                _ => format!("{{awsRole: {role}}}"),
                            };
                            (
                                to,
                                format!(
                                    "{{googleServiceAccount: {email}, tokenDelivery: credentialProcess}}"
                                ),
                            )
                        } else {
                            (
                                format!("{{awsRole: {role}}}"),
                                format!("{{googleServiceAccount: {email}}}"),
                            )
                        }
                    }
                };
                Federation {
                    name,
                    from,
                    to,
                    via: Some(via),
                }
            }
            Kind::GceTimer | Kind::GceProcess => {
                let project = host_next % shared;
                let account = rng.below(shared);
                host_next += 1;
                let team = *rng.pick(TEAMS);
                let name = spec.unique(&format!("{team}-{component}-{agent}"));
                let stem = format!("vm-{component}-{agent}");
                let email = spec.service_account(project, &stem, i, true);
                let r = spec.target_role(&mut rng, account, team, component);
                let role = spec.role_ref(&mut rng, r);
                let via = (kind == Kind::GceProcess)
                    .then(|| "{tokenDelivery: credentialProcess}".to_owned());
                Federation {
                    name,
                    from: format!("{{gce: {email}}}"),
                    to: format!("{{awsRole: {role}}}"),
                    via,
                }
            }
            Kind::EksAws | Kind::EksImpersonate | Kind::EksDirect => {
                let c = eks_next % clusters;
                eks_next += 1;
                let team = *rng.pick(&spec.eks[c].teams);
                let name = spec.unique(&format!("{team}-{component}-{agent}"));
                let ksa = name[team.len() + 1..].to_owned();
                let cluster = spec.eks[c].name.clone();
                let account = spec.eks[c].account;
                let from = format!("{{eks: {cluster}, namespace: {team}, serviceAccount: {ksa}}}");
                if kind == Kind::EksAws {
                    let r = spec.target_role(&mut rng, account, team, component);
                    let role = spec.role_ref(&mut rng, r);
                    // The method is implied for EKS → AWS; some specs spell it out.
                    let via = rng.chance(15).then(|| "{awsOidcProvider: {}}".to_owned());
                    Federation {
                        name,
                        from,
                        to: format!("{{awsRole: {role}}}"),
                        via,
                    }
                } else {
                    let pool = spec.accounts[account].pool;
                    let default = format!("eks-{cluster}");
                    let provider = if shape.split_providers {
                        spec.provider(pool, &cluster, &default, SUBJECTS_PER_PROVIDER)
                    } else {
                        None
                    };
                    let mut via = format!("{{pool: {}", spec.pools[pool].id);
                    if let Some(p) = provider {
                        let _ = write!(via, ", provider: {p}");
                    }
                    if rng.chance(10) {
                        via.push_str(", tokenExpirationSeconds: 7200");
                    }
                    via.push('}');
                    let to = gcp_target(
                        &mut spec,
                        &mut rng,
                        kind == Kind::EksImpersonate,
                        pool,
                        &ksa,
                        i,
                    );
                    Federation {
                        name,
                        from,
                        to,
                        via: Some(via),
                    }
                }
            }
            Kind::Ec2Impersonate | Kind::Ec2Direct => {
                let account = host_next % shared;
                host_next += 1;
                let team = *rng.pick(TEAMS);
                let name = spec.unique(&format!("{team}-{component}-{agent}"));
                // The instance role: its own role, with an instance profile.
                let role_name = spec.unique(&format!("{name}-ec2"));
                spec.roles.push(Role {
                    name: role_name,
                    account,
                    style: if rng.chance(50) {
                        RoleStyle::Arn
                    } else {
                        RoleStyle::NameAccount
                    },
                    policy: None,
                    max_session: None,
                    // Some instance roles (and their profiles) are managed by other tooling.
                    instance_profile: rng.chance(60),
                    sources: 0,
                    capacity: 0,
                });
                let r = spec.roles.len() - 1;
                let role = spec.role_ref(&mut rng, r);
                let pool = spec.accounts[account].pool;
                let default = format!("aws-{}", spec.accounts[account].id);
                let provider = if shape.split_providers {
                    spec.provider(
                        pool,
                        &spec.accounts[account].id.clone(),
                        &default,
                        ROLES_PER_PROVIDER,
                    )
                } else {
                    None
                };
                let via = match provider {
                    Some(p) => format!("{{pool: {}, provider: {p}}}", spec.pools[pool].id),
                    None => format!("{{pool: {}}}", spec.pools[pool].id),
                };
                let stem = format!("ec2-{component}-{agent}");
                let to = gcp_target(
                    &mut spec,
                    &mut rng,
                    kind == Kind::Ec2Impersonate,
                    pool,
                    &stem,
                    i,
                );
                Federation {
                    name,
                    from: format!("{{ec2: {role}}}"),
                    to,
                    via: Some(via),
                }
            }
        };
        spec.federations.push(federation);
    }
    spec
}

/// `to` of a federation into GCP: a fresh Google service account to impersonate (in the pool's
/// project), or roles granted directly, sometimes on another project than the pool's.
fn gcp_target(
    spec: &mut Spec,
    rng: &mut Rng,
    impersonate: bool,
    pool: usize,
    stem: &str,
    i: usize,
) -> String {
    let shared = spec.accounts.len();
    if impersonate {
        let project = spec.pools[pool].project;
        let email = spec.service_account(project, stem, i, false);
        if rng.chance(20) {
            format!("{{gcpServiceAccount: {email}, tokenLifetimeSeconds: 1800}}")
        } else {
            format!("{{gcpServiceAccount: {email}}}")
        }
    } else {
        let roles = rng.pick(GCP_ROLES).join(", ");
        if shared > 1 && rng.chance(25) {
            let project = rng.below(shared);
            format!(
                "{{gcpRoles: [{roles}], project: {}}}",
                spec.project_id(project)
            )
        } else {
            format!("{{gcpRoles: [{roles}]}}")
        }
    }
}

fn write_spec(spec: &Spec, n: usize, seed: u64, org: bool) -> String {
    let mut s = String::with_capacity(200 * n + 4096);
    let (scenario, flag) = if org {
        (", organisation scenario", " --org")
    } else {
        ("", "")
    };
    let _ = writeln!(
        s,
        "# Synthetic organisation-scale spec: {n} federations (seed {seed}{scenario}).\n\
         # Generated by `cargo run --release --example synth -- --federations {n} --seed {seed}{flag}`; do not edit.\n\
         version: 1\ngcp:\n  projects:"
    );
    for p in &spec.projects {
        let _ = writeln!(s, "    - {{id: {}, number: {}}}", q(&p.id), q(&p.number));
    }
    s.push_str("  serviceAccounts:\n");
    for a in &spec.service_accounts {
        match &a.unique_id {
            Some(id) => {
                let _ = writeln!(s, "    - {{email: {}, uniqueId: {}}}", q(&a.email), q(id));
            }
            None => {
                let _ = writeln!(s, "    - {{email: {}}}", q(&a.email));
            }
        }
    }
    s.push_str("  gkeClusters:\n");
    for k in &spec.gke {
        let _ = writeln!(
            s,
            "    - {{name: {}, project: {}, location: {}}}",
            q(&k.name),
            q(spec.project_id(k.project)),
            q(&k.location)
        );
    }
    s.push_str("  workloadIdentityPools:\n");
    for p in &spec.pools {
        let _ = writeln!(
            s,
            "    - {{id: {}, project: {}, displayName: {}}}",
            q(&p.id),
            q(spec.project_id(p.project)),
            q(&format!("AWS {}", &p.id[4..]))
        );
    }
    s.push_str("aws:\n  accounts:\n");
    for a in &spec.accounts {
        let _ = writeln!(s, "    - {{id: {}, region: {}}}", q(&a.id), q(a.region));
    }
    s.push_str("  roles:\n");
    for (r, role) in spec.roles.iter().enumerate() {
        let mut line = match role.style {
            RoleStyle::Arn => format!("{{arn: {}", q(&spec.role_arn(r))),
            RoleStyle::NameAccount | RoleStyle::NameAccountPath => format!(
                "{{name: {}, account: {}",
                q(&role.name),
                q(&spec.accounts[role.account].id)
            ),
        };
        if let RoleStyle::NameAccountPath = role.style {
            let _ = write!(line, ", path: {}", q(role.path()));
        }
        if let Some(p) = &role.policy {
            let _ = write!(line, ", managedPolicyArns: [{}]", q(p));
        }
        if let Some(max) = role.max_session {
            let _ = write!(line, ", maxSessionDuration: {max}");
        }
        if role.instance_profile {
            line.push_str(", instanceProfile: true");
        }
        let _ = writeln!(s, "    - {line}}}");
    }
    s.push_str("  eksClusters:\n");
    for k in &spec.eks {
        let _ = writeln!(
            s,
            "    - {{name: {}, account: {}, region: {}, oidcIssuer: {}}}",
            q(&k.name),
            q(&spec.accounts[k.account].id),
            q(k.region),
            q(&k.issuer)
        );
    }
    s.push_str("federations:\n");
    for f in &spec.federations {
        let _ = writeln!(
            s,
            "  - name: {}\n    from: {}\n    to: {}",
            f.name, f.from, f.to
        );
        if let Some(via) = &f.via {
            let _ = writeln!(s, "    via: {via}");
        }
    }
    s
}

fn main() {
    let args = Args::parse();
    let shape = if args.org { Shape::ORG } else { Shape::DEFAULT };
    let spec = build(args.federations, args.seed, shape);
    let text = write_spec(&spec, args.federations, args.seed, args.org);
    let mut out = std::io::stdout().lock();
    if let Err(err) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        eprintln!("synth: cannot write the spec: {err}");
        std::process::exit(2);
    }
}
