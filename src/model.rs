//! The validated, resolved spec: what renderers consume.
//!
//! Every reference is resolved and every default applied, so renderers never look anything up
//! or guess; they cannot receive a spec that has not passed validation, because the only way to
//! build a [`Spec`] is [`crate::validate::validate`]. Collections are `BTreeMap`s and federations
//! are sorted by name, so output order never depends on the order of the spec.
//!
//! Names that several artifacts must agree on (issuer URLs, provider resource names, principal
//! strings) are computed here, in one place, so that an audience in a credential config and the
//! provider that checks it cannot drift apart.

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::config::{Partition, TokenDelivery, WorkloadKind};

/// A Kubernetes workload a federation patches: kind and name.
pub type WorkloadRef = (WorkloadKind, String);
pub use crate::diag::Rule;

/// A validated spec.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    /// GCP projects by id.
    pub gcp_projects: BTreeMap<String, GcpProject>,
    /// Google service accounts by email.
    pub service_accounts: BTreeMap<String, ServiceAccount>,
    /// GKE clusters by name.
    pub gke_clusters: BTreeMap<String, GkeCluster>,
    /// Workload-identity pools by id.
    pub pools: BTreeMap<String, Pool>,
    /// AWS accounts by id.
    pub aws_accounts: BTreeMap<String, AwsAccount>,
    /// IAM roles by ARN.
    pub roles: BTreeMap<String, AwsRole>,
    /// EKS clusters by name.
    pub eks_clusters: BTreeMap<String, EksCluster>,
    /// Federations, sorted by name.
    pub federations: Vec<Federation>,
    /// How the cloud side is written.
    pub outputs: Outputs,
    /// The providers made by splitting a derived one whose attribute condition would be too
    /// long, by `POOL/PROVIDER` (see [`crate::validate`]'s sharding).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub provider_shards: BTreeMap<String, Shard>,
}

/// A provider made by splitting a derived one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shard {
    /// The derived id it was split from.
    pub base: String,
    /// Its position, from 0.
    pub index: usize,
    /// How many shards the base was split into.
    pub count: usize,
}

impl Shard {
    /// The id of shard `index` of `base`: `<base>-<index>`, the base shortened to keep provider
    /// ids within 32 characters.
    #[must_use]
    pub fn id(base: &str, index: usize) -> String {
        let suffix = format!("-{index}");
        let keep = 32usize.saturating_sub(suffix.len()).min(base.len());
        format!("{}{suffix}", base[..keep].trim_end_matches('-'))
    }

    /// The ids of every shard of this one's base, first and last.
    #[must_use]
    pub fn range(&self) -> (String, String) {
        (
            Shard::id(&self.base, 0),
            Shard::id(&self.base, self.count - 1),
        )
    }
}

/// How `render` writes the cloud side (`output` in the spec, `render --outputs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Outputs {
    /// `aws`/`gcloud` scripts and the JSON documents they apply.
    pub scripts: bool,
    /// Terraform modules.
    pub terraform: bool,
}

impl Default for Outputs {
    fn default() -> Self {
        Outputs {
            scripts: true,
            terraform: false,
        }
    }
}

/// A GCP project.
#[derive(Debug, Clone, Serialize)]
pub struct GcpProject {
    /// Project id.
    pub id: String,
    /// Project number.
    pub number: String,
}

/// A Google service account.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccount {
    /// Email.
    pub email: String,
    /// Numeric unique id, when given.
    pub unique_id: Option<String>,
    /// Roles it holds on resources, sorted, without repeats.
    pub grants: Vec<GcpGrant>,
}

/// The project a Google service account belongs to, read from its email:
/// `NAME@PROJECT.iam.gserviceaccount.com`, `PROJECT@appspot.gserviceaccount.com`, or
/// `NUMBER-compute@developer.gserviceaccount.com` (a project of `projects`, by number).
#[must_use]
pub fn service_account_home(
    email: &str,
    projects: &BTreeMap<String, GcpProject>,
) -> Option<String> {
    let (local, domain) = email.split_once('@')?;
    if let Some(project) = domain.strip_suffix(".iam.gserviceaccount.com") {
        return Some(project.to_owned());
    }
    match domain {
        "appspot.gserviceaccount.com" => Some(local.to_owned()),
        "developer.gserviceaccount.com" => {
            let number = local.strip_suffix("-compute")?;
            projects
                .values()
                .find(|p| p.number == number)
                .map(|p| p.id.clone())
        }
        _ => None,
    }
}

/// A GCP role on one resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GcpGrant {
    /// Where.
    pub resource: GcpResource,
    /// The role.
    pub role: String,
}

/// A resource that takes IAM bindings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum GcpResource {
    /// A project, by id.
    Project(String),
    /// A Cloud Storage bucket, by name.
    Bucket(String),
    /// A Pub/Sub topic, by full name.
    Topic(String),
}

/// The kind of resource a binding's resource name names: `bucket` (`gs://NAME`), `topic`
/// (`projects/P/topics/T`) or `project` (an id); see [`GcpResource::name`].
#[must_use]
pub fn resource_kind(name: &str) -> &'static str {
    if name.starts_with("gs://") {
        "bucket"
    } else if name.starts_with("projects/") {
        "topic"
    } else {
        "project"
    }
}

impl GcpResource {
    /// How scripts and the manifest name it: the project id, `gs://BUCKET`, or the topic's name.
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            GcpResource::Project(id) | GcpResource::Topic(id) => id.clone(),
            GcpResource::Bucket(name) => format!("gs://{name}"),
        }
    }
}

/// A GKE cluster.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GkeCluster {
    /// Cluster name.
    pub name: String,
    /// Project id.
    pub project: String,
    /// Region or zone.
    pub location: String,
}

impl GkeCluster {
    /// The Workload Identity pool, `PROJECT.svc.id.goog`.
    #[must_use]
    pub fn workload_pool(&self) -> String {
        format!("{}.svc.id.goog", self.project)
    }

    /// The cluster's OIDC issuer URL.
    #[must_use]
    pub fn issuer(&self) -> String {
        format!(
            "https://container.googleapis.com/v1/projects/{}/locations/{}/clusters/{}",
            self.project, self.location, self.name
        )
    }
}

/// A workload-identity pool.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pool {
    /// Pool id.
    pub id: String,
    /// Owning project id.
    pub project: String,
    /// Owning project number.
    pub project_number: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Description.
    pub description: Option<String>,
}

impl Pool {
    /// `projects/NUMBER/locations/global/workloadIdentityPools/POOL`.
    #[must_use]
    pub fn resource(&self) -> String {
        format!(
            "projects/{}/locations/global/workloadIdentityPools/{}",
            self.project_number, self.id
        )
    }

    /// The provider's resource name.
    #[must_use]
    pub fn provider_resource(&self, provider: &str) -> String {
        format!("{}/providers/{provider}", self.resource())
    }

    /// The credential-config `audience`: `//iam.googleapis.com/projects/…/providers/PROVIDER`.
    #[must_use]
    pub fn provider_audience(&self, provider: &str) -> String {
        format!("//iam.googleapis.com/{}", self.provider_resource(provider))
    }

    /// The provider's URL form, Google's default allowed audience for OIDC tokens.
    #[must_use]
    pub fn provider_url(&self, provider: &str) -> String {
        format!(
            "https://iam.googleapis.com/{}",
            self.provider_resource(provider)
        )
    }

    /// `principal://iam.googleapis.com/projects/…/workloadIdentityPools/POOL/subject/SUBJECT`.
    #[must_use]
    pub fn principal(&self, subject: &str) -> String {
        format!(
            "principal://iam.googleapis.com/{}/subject/{subject}",
            self.resource()
        )
    }

    /// `principalSet://iam.googleapis.com/projects/…/workloadIdentityPools/POOL/attribute.NAME/VALUE`.
    #[must_use]
    pub fn principal_set(&self, attribute: &str, value: &str) -> String {
        format!(
            "principalSet://iam.googleapis.com/{}/attribute.{attribute}/{value}",
            self.resource()
        )
    }
}

impl Partition {
    /// The ARN partition string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
        }
    }

    /// The region used when neither the account nor the federation names one.
    #[must_use]
    pub fn default_region(self) -> &'static str {
        match self {
            Partition::Aws => "us-east-1",
            Partition::AwsCn => "cn-north-1",
            Partition::AwsUsGov => "us-gov-west-1",
        }
    }

    /// The DNS suffix of the partition's endpoints.
    #[must_use]
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Partition::AwsCn => "amazonaws.com.cn",
            Partition::Aws | Partition::AwsUsGov => "amazonaws.com",
        }
    }
}

/// An AWS account.
#[derive(Debug, Clone, Serialize)]
pub struct AwsAccount {
    /// 12-digit id.
    pub id: String,
    /// Partition.
    pub partition: Partition,
    /// Default region.
    pub region: String,
    /// The longest role trust policy the account accepts, in characters (IAM's default quota,
    /// 2048, unless the spec declares a raised one).
    pub trust_policy_quota: usize,
}

/// An IAM role.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsRole {
    /// Full ARN.
    pub arn: String,
    /// Role name.
    pub name: String,
    /// IAM path (`/` by default).
    pub path: String,
    /// Owning account id.
    pub account: String,
    /// Partition of the account.
    pub partition: Partition,
    /// Managed policies to attach, sorted.
    pub managed_policy_arns: Vec<String>,
    /// Maximum session duration in seconds (IAM's default, 3600, when the spec does not say).
    pub max_session_duration: u32,
    /// Whether the spec sets `maxSessionDuration`: only then does `apply.sh` set it on an
    /// existing role (it must not lower a setting made elsewhere).
    #[serde(skip)]
    pub max_session_duration_declared: bool,
    /// Whether to create an instance profile of the same name.
    pub instance_profile: bool,
    /// Inline policies, by name: their `Allow` statements.
    pub inline_policies: BTreeMap<String, Vec<PolicyStatement>>,
}

/// One `Allow` statement of an inline policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyStatement {
    /// `Action`.
    pub actions: Vec<String>,
    /// `Resource`.
    pub resources: Vec<String>,
}

/// The document `put-role-policy` takes for `statements`, as `trust-policy.json` is written
/// (pretty JSON and a newline).
#[must_use]
pub fn policy_document(statements: &[PolicyStatement]) -> String {
    let statements: Vec<serde_json::Value> = statements
        .iter()
        .map(|s| {
            serde_json::json!({"Effect": "Allow", "Action": s.actions, "Resource": s.resources})
        })
        .collect();
    let document = serde_json::json!({"Version": "2012-10-17", "Statement": statements});
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

/// An EKS cluster.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EksCluster {
    /// Cluster name.
    pub name: String,
    /// Account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// OIDC issuer URL.
    pub issuer: String,
}

/// Which kind of Kubernetes cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterKind {
    /// Google Kubernetes Engine.
    Gke,
    /// Amazon EKS.
    Eks,
}

/// The workload that federates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Source {
    /// A Kubernetes service account.
    Kubernetes {
        /// GKE or EKS.
        cluster_kind: ClusterKind,
        /// Cluster name.
        cluster: String,
        /// The cluster's OIDC issuer URL.
        issuer: String,
        /// Namespace.
        namespace: String,
        /// `ServiceAccount` name.
        service_account: String,
        /// The `sub` claim of the pod's tokens, `system:serviceaccount:NS:KSA`: derived from
        /// `namespace` and `service_account` once, at validation (see [`service_account_subject`]).
        #[serde(skip)]
        subject: String,
        /// Containers that get the environment and mounts.
        containers: Vec<String>,
        /// The workloads its Kustomize Component patches, sorted, without repeats.
        workloads: Vec<WorkloadRef>,
    },
    /// A GCE VM (or other Google compute) running as a Google service account.
    Gce {
        /// The attached service account's email.
        service_account: String,
    },
    /// An EC2 instance running as an IAM role.
    Ec2 {
        /// The role ARN.
        role: String,
        /// The role name.
        role_name: String,
        /// The role's account.
        account: String,
    },
}

impl Source {
    /// The Kubernetes `sub` claim, `system:serviceaccount:NS:KSA`, for Kubernetes sources.
    #[must_use]
    pub fn kubernetes_subject(&self) -> Option<&str> {
        match self {
            Source::Kubernetes { subject, .. } => Some(subject),
            Source::Gce { .. } | Source::Ec2 { .. } => None,
        }
    }
}

/// The `sub` claim of a Kubernetes service account's tokens, `system:serviceaccount:NS:KSA`: what
/// IAM OIDC conditions and `google.subject` compare.
#[must_use]
pub fn service_account_subject(namespace: &str, service_account: &str) -> String {
    format!("system:serviceaccount:{namespace}:{service_account}")
}

/// What the workload becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Target {
    /// An IAM role.
    AwsRole {
        /// Role ARN.
        arn: String,
        /// Role session name.
        session_name: String,
        /// Session duration, when set.
        session_duration: Option<u32>,
        /// Region for STS and the SDK.
        region: String,
        /// Partition of the role.
        partition: Partition,
    },
    /// A Google service account to impersonate.
    GcpServiceAccount {
        /// Email.
        email: String,
        /// Impersonated token lifetime, when set.
        token_lifetime_seconds: Option<u32>,
    },
    /// GCP roles granted to the federated principal itself.
    GcpRoles {
        /// Project the roles are granted on.
        project: String,
        /// Role names, sorted.
        roles: Vec<String>,
        /// Roles granted on single resources (`to.gcpGrants`), sorted, without repeats.
        grants: Vec<GcpGrant>,
    },
}

/// How a workload-identity provider verifies the workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum ProviderKind {
    /// An OIDC provider for a cluster issuer.
    Oidc {
        /// Issuer URL.
        issuer: String,
        /// The projected token's audience (one of the provider's allowed audiences).
        audience: String,
        /// Projected token lifetime in seconds.
        token_expiration_seconds: u32,
    },
    /// An AWS provider for an account.
    Aws {
        /// AWS account id.
        account: String,
    },
}

/// The trust method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Method {
    /// AWS trusts a Google service account's ID token (`accounts.google.com`).
    GoogleIdToken {
        /// The Google service account's email.
        service_account: String,
        /// Its numeric unique id (`azp` and `sub` of its ID tokens).
        unique_id: String,
        /// The `aud` the token is minted for, pinned as `accounts.google.com:oaud`.
        audience: String,
        /// How the token reaches the SDK.
        delivery: TokenDelivery,
        /// The token-refresher image (sidecar delivery).
        sidecar_image: String,
    },
    /// AWS trusts the cluster issuer through an IAM OIDC provider.
    AwsOidcProvider {
        /// Issuer URL.
        issuer: String,
        /// Client id = projected token audience.
        audience: String,
        /// Projected token lifetime in seconds.
        token_expiration_seconds: u32,
    },
    /// GCP trusts the workload through a workload-identity pool provider.
    WorkloadIdentityPool {
        /// Pool id.
        pool: String,
        /// Provider id.
        provider: String,
        /// Provider kind and settings.
        provider_kind: ProviderKind,
    },
}

/// One validated federation.
#[derive(Debug, Clone, Serialize)]
pub struct Federation {
    /// Position in the spec's `federations` list, for diagnostics found after validation.
    #[serde(skip)]
    pub index: usize,
    /// Unique name.
    pub name: String,
    /// The workload.
    pub source: Source,
    /// What it becomes.
    pub target: Target,
    /// How trust is established.
    pub method: Method,
    /// Security rules the federation accepts, in spec order; each one fires for it (validation
    /// checks that).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accept: Vec<Acceptance>,
}

/// A security rule a federation accepts, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acceptance {
    /// The rule.
    pub rule: Rule,
    /// The reason, as written (its alphabet is safe in Markdown).
    pub reason: String,
}

/// The `iam.gke.io`-independent host+path of an issuer, as IAM condition keys spell it.
#[must_use]
pub fn issuer_host_path(issuer: &str) -> &str {
    issuer
        .strip_prefix("https://")
        .unwrap_or(issuer)
        .trim_end_matches('/')
}

/// The default image of the GKE token-refresher sidecar: curl on Alpine, pinned by tag.
pub const DEFAULT_SIDECAR_IMAGE: &str = "curlimages/curl:8.11.1";
/// Default lifetime of projected service-account tokens.
pub const DEFAULT_TOKEN_EXPIRATION: u32 = 3600;
/// Default audience of AWS-bound projected tokens and client id of IAM OIDC providers.
pub const DEFAULT_AWS_AUDIENCE: &str = "sts.amazonaws.com";
