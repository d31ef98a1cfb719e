//! The spec as the user writes it: `Raw*` types that derive both `Deserialize` and `JsonSchema`.
//!
//! These types are the single source of the JSON Schema (`crossfed schema`) and of the doc text
//! editors show on hover, so every field carries a `///` doc. They accept anything the schema
//! accepts and nothing more (`deny_unknown_fields`); cross-references, limits that depend on
//! other fields and security rules live in `validate::semantic`, which turns a `RawSpec` into the
//! resolved `model::Spec`.
//!
//! Keys are camelCase, like the Kubernetes manifests and gcloud/AWS JSON our users already write.
//! `from`/`to`/`via` are flat objects with optional keys rather than `oneOf` unions: JSON Schema
//! validators report a failed `oneOf` as "valid under none", which tells nobody what to fix, so
//! the "exactly one of" rules are semantic checks with precise messages instead.

pub mod load;
pub mod patterns;
mod scan;
pub mod span_index;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use patterns as p;

pub use crate::diag::Rule;

/// A crossfed spec: the clouds, identities and federations to render.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "crossfed spec")]
pub struct RawSpec {
    /// Version of the spec format. Always `1`.
    #[schemars(range(min = 1, max = 1), example = 1)]
    pub version: u32,
    /// Google Cloud: projects, service accounts, GKE clusters and workload-identity pools.
    #[serde(default)]
    pub gcp: RawGcp,
    /// AWS: accounts, IAM roles and EKS clusters.
    #[serde(default)]
    pub aws: RawAws,
    /// The federations to render: who (`from`) may act as whom (`to`), and how (`via`).
    #[serde(default)]
    pub federations: Vec<RawFederation>,
    /// How `render` writes the cloud side (IAM roles and OIDC providers, workload-identity
    /// pools, IAM bindings): `aws`/`gcloud` scripts, Terraform modules, or both. Kubernetes
    /// manifests, credential configurations and host files are written either way.
    #[serde(default)]
    pub output: RawOutput,
}

/// How `render` writes the cloud side.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawOutput {
    /// `aws` and `gcloud` scripts (`aws/`, `gcp/`), with the README's runbook and `revoke.sh`
    /// scripts for grants the spec drops. Default `true`.
    #[serde(default = "yes")]
    #[schemars(default = "yes")]
    pub scripts: bool,
    /// Terraform modules in JSON syntax (`terraform/aws/<account>/`, `terraform/gcp/<project>/`)
    /// and a root example that wires them; Terraform's state then revokes what the spec drops.
    /// Default `false`.
    #[serde(default)]
    pub terraform: bool,
}

impl Default for RawOutput {
    fn default() -> Self {
        RawOutput {
            scripts: true,
            terraform: false,
        }
    }
}

fn yes() -> bool {
    true
}

/// Google Cloud resources the federations refer to.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawGcp {
    /// GCP projects, with their numeric project numbers (needed for workload-identity audiences).
    #[serde(default)]
    pub projects: Vec<RawGcpProject>,
    /// Google service accounts that are impersonated or whose ID tokens are trusted by AWS.
    #[serde(default)]
    pub service_accounts: Vec<RawServiceAccount>,
    /// GKE clusters with Workload Identity enabled. The workload pool (`PROJECT.svc.id.goog`) and
    /// the OIDC issuer URL are derived from project, location and name.
    #[serde(default)]
    pub gke_clusters: Vec<RawGkeCluster>,
    /// Workload-identity pools that admit AWS identities (EKS service accounts, EC2 roles).
    #[serde(default)]
    pub workload_identity_pools: Vec<RawPool>,
}

/// A GCP project.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawGcpProject {
    /// The project id, e.g. `acme-prod`.
    #[schemars(regex(pattern = p::GCP_PROJECT_ID), example = "acme-prod")]
    pub id: String,
    /// The numeric project number, quoted: `gcloud projects describe ID --format='value(projectNumber)'`.
    #[schemars(regex(pattern = p::GCP_PROJECT_NUMBER), example = "123456789012")]
    pub number: String,
}

/// A Google service account.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawServiceAccount {
    /// The service account's email.
    #[schemars(regex(pattern = p::GCP_SA_EMAIL), example = "gke-to-aws@acme-prod.iam.gserviceaccount.com")]
    pub email: String,
    /// The 21-digit numeric unique id, quoted: `gcloud iam service-accounts describe EMAIL
    /// --format='value(uniqueId)'`. Required when AWS trusts this account's ID tokens: AWS trust
    /// policies pin the unique id, never the email (an email can be deleted and re-created).
    #[serde(default)]
    #[schemars(regex(pattern = p::GCP_SA_UNIQUE_ID), example = "108840315781302076417")]
    pub unique_id: Option<String>,
    /// Roles the service account itself holds, each on one resource: what a workload that
    /// impersonates it can do. Scope each to the bucket, topic or project it needs.
    #[serde(default)]
    pub grants: Vec<RawGcpGrant>,
}

/// A GCP role on one resource: exactly one of `bucket`, `topic` and `project`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawGcpGrant {
    /// The role.
    #[schemars(regex(pattern = p::GCP_ROLE), example = "roles/pubsub.publisher")]
    pub role: String,
    /// A Cloud Storage bucket, by name.
    #[serde(default)]
    #[schemars(regex(pattern = p::GCS_BUCKET), example = "acme-uploads")]
    pub bucket: Option<String>,
    /// A Pub/Sub topic, by full name.
    #[serde(default)]
    #[schemars(regex(pattern = p::PUBSUB_TOPIC), example = "projects/acme-prod/topics/orders")]
    pub topic: Option<String>,
    /// A project, by id.
    #[serde(default)]
    #[schemars(regex(pattern = p::GCP_PROJECT_ID), example = "acme-prod")]
    pub project: Option<String>,
}

/// A GKE cluster with Workload Identity enabled.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawGkeCluster {
    /// The cluster name.
    #[schemars(regex(pattern = p::GKE_CLUSTER_NAME), example = &"prod")]
    pub name: String,
    /// The id of the project the cluster runs in (one of `gcp.projects`).
    #[schemars(regex(pattern = p::GCP_PROJECT_ID), example = "acme-prod")]
    pub project: String,
    /// The cluster's region or zone.
    #[schemars(regex(pattern = p::GCP_LOCATION), example = "us-central1")]
    pub location: String,
}

/// A workload-identity pool.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPool {
    /// The pool id: 4-32 lowercase letters, digits and `-`, not starting with `gcp-`.
    #[schemars(regex(pattern = p::WIF_ID), example = "aws-workloads")]
    pub id: String,
    /// The id of the project that owns the pool (one of `gcp.projects`).
    #[schemars(regex(pattern = p::GCP_PROJECT_ID), example = "acme-prod")]
    pub project: String,
    /// Display name shown in the console (at most 32 characters).
    #[serde(default)]
    #[schemars(length(max = 32))]
    pub display_name: Option<String>,
    /// Description (at most 256 characters).
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub description: Option<String>,
}

/// AWS resources the federations refer to.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAws {
    /// AWS accounts.
    #[serde(default)]
    pub accounts: Vec<RawAwsAccount>,
    /// IAM roles that federated workloads assume, or that EC2 instances run as.
    #[serde(default)]
    pub roles: Vec<RawRole>,
    /// EKS clusters whose service accounts federate into GCP (or AWS).
    #[serde(default)]
    pub eks_clusters: Vec<RawEksCluster>,
}

/// An AWS partition.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Partition {
    /// Commercial regions.
    #[default]
    Aws,
    /// China regions.
    AwsCn,
    /// `GovCloud` (US) regions.
    AwsUsGov,
}

/// An AWS account.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAwsAccount {
    /// The 12-digit account id, quoted.
    #[schemars(regex(pattern = p::AWS_ACCOUNT_ID), example = "281031839323")]
    pub id: String,
    /// The account's partition: `aws` (default), `aws-cn` or `aws-us-gov`.
    #[serde(default)]
    pub partition: Option<Partition>,
    /// Region for STS calls and `AWS_REGION` (default `us-east-1`, `cn-north-1` or
    /// `us-gov-west-1` by partition). Regional STS endpoints are always used.
    #[serde(default)]
    #[schemars(regex(pattern = p::AWS_REGION), example = "us-east-1")]
    pub region: Option<String>,
    /// The account's quota on the length of a role trust policy, when it was raised (Service
    /// Quotas › IAM › "Role trust policy length"; IAM's default is 2048, the most it grants
    /// 4096). crossfed refuses a trust policy longer than this.
    #[serde(default)]
    #[schemars(range(min = 2048, max = 4096), example = 4096)]
    pub trust_policy_quota: Option<u32>,
}

/// An IAM role, named by `arn` or by `name` + `account` (+ `path`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRole {
    /// The role ARN. Give either this or `name` and `account`.
    #[serde(default)]
    #[schemars(regex(pattern = p::AWS_ROLE_ARN), example = "arn:aws:iam::281031839323:role/gke-to-aws-test")]
    pub arn: Option<String>,
    /// The role name (with `account`, instead of `arn`).
    #[serde(default)]
    #[schemars(regex(pattern = p::AWS_ROLE_NAME), example = "gke-to-aws-test")]
    pub name: Option<String>,
    /// The account id that owns the role (with `name`, instead of `arn`).
    #[serde(default)]
    #[schemars(regex(pattern = p::AWS_ACCOUNT_ID), example = "281031839323")]
    pub account: Option<String>,
    /// The IAM path (default `/`).
    #[serde(default)]
    #[schemars(regex(pattern = p::AWS_IAM_PATH), example = "/federated/")]
    pub path: Option<String>,
    /// Managed policies to attach to the role.
    #[serde(default)]
    #[schemars(inner(regex(pattern = p::AWS_POLICY_ARN)), example = ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"])]
    pub managed_policy_arns: Vec<String>,
    /// The role's maximum session duration in seconds, 3600-43200 (AWS default 3600).
    #[serde(default)]
    #[schemars(range(min = 3600, max = 43200), example = 3600)]
    pub max_session_duration: Option<u32>,
    /// Also create an EC2 instance profile of the same name, for roles that EC2 instances run as.
    #[serde(default)]
    pub instance_profile: bool,
    /// Policies embedded in the role, for least privilege: exactly the actions on exactly the
    /// resources the workloads need (`put-role-policy`).
    #[serde(default)]
    pub inline_policies: Vec<RawInlinePolicy>,
}

/// An inline IAM policy of a role.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawInlinePolicy {
    /// The policy's name, unique in the role.
    #[schemars(regex(pattern = p::AWS_POLICY_NAME), example = &"read-reports")]
    pub name: String,
    /// What it allows.
    #[schemars(length(min = 1))]
    pub statements: Vec<RawPolicyStatement>,
}

/// One `Allow` statement of an inline policy.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPolicyStatement {
    /// Actions allowed, e.g. `s3:GetObject`.
    #[schemars(inner(regex(pattern = p::AWS_ACTION)), length(min = 1), example = ["s3:GetObject"])]
    pub actions: Vec<String>,
    /// Resources they are allowed on, by ARN.
    #[schemars(inner(regex(pattern = p::AWS_RESOURCE)), length(min = 1), example = ["arn:aws:s3:::acme-reports/*"])]
    pub resources: Vec<String>,
}

/// An EKS cluster.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawEksCluster {
    /// The cluster name.
    #[schemars(regex(pattern = p::EKS_CLUSTER_NAME), example = &"data")]
    pub name: String,
    /// The id of the account the cluster runs in (one of `aws.accounts`).
    #[schemars(regex(pattern = p::AWS_ACCOUNT_ID), example = "281031839323")]
    pub account: String,
    /// The cluster's region.
    #[schemars(regex(pattern = p::AWS_REGION), example = "us-east-1")]
    pub region: String,
    /// The cluster's OIDC issuer: `aws eks describe-cluster --name NAME --query cluster.identity.oidc.issuer`.
    #[schemars(regex(pattern = p::EKS_OIDC_ISSUER), example = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE")]
    pub oidc_issuer: String,
}

/// One federation: a workload in one cloud acting as an identity in the other.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawFederation {
    /// A unique name (DNS-1123 label). Used in file names and as the default AWS role session name.
    #[schemars(regex(pattern = p::DNS1123_LABEL), example = "billing-s3-reader")]
    pub name: String,
    /// The workload: exactly one of `gke`/`eks` (with `namespace` and `serviceAccount`), `gce` or `ec2`.
    pub from: RawSource,
    /// What the workload becomes: exactly one of `awsRole`, `gcpServiceAccount` or `gcpRoles`.
    pub to: RawTarget,
    /// How trust is established. Optional where only one method fits (`gce`, and `eks`/`ec2` with one pool).
    #[serde(default)]
    pub via: Option<RawVia>,
    /// Security rules this federation knowingly breaks, each with the reason (shown in the
    /// rendered README). Accepting a rule that does not fire for the federation is an error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept: Vec<RawAcceptance>,
}

/// A security rule a federation accepts, and why.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAcceptance {
    /// The id of the rule (`crossfed explain` lists them).
    pub rule: Rule,
    /// Why the risk is acceptable here: one line, for the reviewers of the rendered README.
    #[schemars(regex(pattern = p::ACCEPT_REASON), example = "the node-local DNS cache add-on needs it; owned by platform-team")]
    pub reason: String,
}

/// The source workload of a federation.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSource {
    /// A GKE cluster name (one of `gcp.gkeClusters`); a Kubernetes service account in it.
    #[serde(default)]
    #[schemars(regex(pattern = p::GKE_CLUSTER_NAME), example = &"prod")]
    pub gke: Option<String>,
    /// An EKS cluster name (one of `aws.eksClusters`); a Kubernetes service account in it.
    #[serde(default)]
    #[schemars(regex(pattern = p::EKS_CLUSTER_NAME), example = &"data")]
    pub eks: Option<String>,
    /// A Google service account attached to a GCE VM (or other Google compute), by email.
    #[serde(default)]
    #[schemars(regex(pattern = p::GCP_SA_EMAIL), example = "vm-runner@acme-prod.iam.gserviceaccount.com")]
    pub gce: Option<String>,
    /// An IAM role EC2 instances run as (one of `aws.roles`, by ARN or name).
    #[serde(default)]
    #[schemars(regex(pattern = p::AWS_ROLE_REF), example = "arn:aws:iam::281031839323:role/uploader")]
    pub ec2: Option<String>,
    /// The Kubernetes namespace of the service account (with `gke` or `eks`).
    #[serde(default)]
    #[schemars(regex(pattern = p::DNS1123_LABEL), example = &"billing")]
    pub namespace: Option<String>,
    /// The Kubernetes service account name (with `gke` or `eks`).
    #[serde(default)]
    #[schemars(regex(pattern = p::DNS1123_SUBDOMAIN), example = &"reader")]
    pub service_account: Option<String>,
    /// With `gke`/`eks`: the containers of the pod that call the other cloud and get its
    /// environment variables and token mount. Defaults to `[app]`: a workload whose container
    /// has another name would get a second, imageless container `app` from the patch, so name
    /// them.
    #[serde(default)]
    #[schemars(inner(regex(pattern = p::DNS1123_LABEL)), length(min = 1), example = ["app"])]
    pub containers: Option<Vec<String>>,
    /// With `gke`/`eks`: the workloads of the namespace that run as the service account. Each
    /// federation then gets a Kustomize Component (`kubernetes/<cluster>/<namespace>/components/<federation>`)
    /// that patches exactly these, which the application's kustomization lists under
    /// `components:` from any directory.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub workloads: Option<Vec<RawWorkloadRef>>,
}

/// A Kubernetes workload a federation patches.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawWorkloadRef {
    /// Its kind.
    pub kind: WorkloadKind,
    /// Its name (`metadata.name`), in the federation's namespace.
    #[schemars(regex(pattern = p::DNS1123_SUBDOMAIN), length(max = 253), example = &"billing-api")]
    pub name: String,
}

/// The kinds of Kubernetes workloads a federation can patch.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
pub enum WorkloadKind {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` `StatefulSet`.
    StatefulSet,
    /// `apps/v1` `DaemonSet`.
    DaemonSet,
    /// `batch/v1` Job.
    Job,
    /// `batch/v1` `CronJob`.
    CronJob,
}

impl WorkloadKind {
    /// The API group of the kind.
    #[must_use]
    pub fn group(self) -> &'static str {
        match self {
            WorkloadKind::Deployment | WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => {
                "apps"
            }
            WorkloadKind::Job | WorkloadKind::CronJob => "batch",
        }
    }

    /// The kind's name as Kubernetes writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
        }
    }
}

/// The target identity of a federation.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTarget {
    /// Direct access: roles granted to the federated principal itself, each on one bucket,
    /// Pub/Sub topic or project (with or instead of `gcpRoles`, which are project-wide).
    #[serde(default)]
    pub gcp_grants: Option<Vec<RawGcpGrant>>,
    /// An IAM role to assume (one of `aws.roles`, by ARN or name).
    #[serde(default)]
    #[schemars(regex(pattern = p::AWS_ROLE_REF), example = "arn:aws:iam::281031839323:role/gke-to-aws-test")]
    pub aws_role: Option<String>,
    /// With `awsRole`: the role session name (default: `crossfed-` and the federation name,
    /// cut to 64 characters).
    #[serde(default)]
    #[schemars(regex(pattern = p::AWS_SESSION_NAME), example = "billing-s3-reader")]
    pub session_name: Option<String>,
    /// With `awsRole`: the session duration in seconds, 900-43200, at most the role's
    /// `maxSessionDuration` (default: the SDK's, 3600).
    #[serde(default)]
    #[schemars(range(min = 900, max = 43200), example = 3600)]
    pub session_duration: Option<u32>,
    /// With `awsRole`: the region for STS and `AWS_REGION` (default: the account's region).
    #[serde(default)]
    #[schemars(regex(pattern = p::AWS_REGION), example = "us-east-1")]
    pub region: Option<String>,
    /// A Google service account to impersonate (one of `gcp.serviceAccounts`, by email).
    #[serde(default)]
    #[schemars(regex(pattern = p::GCP_SA_EMAIL), example = "uploader@acme-prod.iam.gserviceaccount.com")]
    pub gcp_service_account: Option<String>,
    /// With `gcpServiceAccount`: lifetime of the impersonated access token in seconds, 600-43200
    /// (default 3600; above 3600 needs the org policy
    /// `constraints/iam.allowServiceAccountCredentialLifetimeExtension`).
    #[serde(default)]
    #[schemars(range(min = 600, max = 43200), example = 3600)]
    pub token_lifetime_seconds: Option<u32>,
    /// GCP IAM roles granted directly to the federated identity, with no service account
    /// ("direct resource access").
    #[serde(default)]
    #[schemars(inner(regex(pattern = p::GCP_ROLE)), example = ["roles/storage.objectViewer"])]
    pub gcp_roles: Option<Vec<String>>,
    /// With `gcpRoles`: the project the roles are granted on (default: the pool's project).
    #[serde(default)]
    #[schemars(regex(pattern = p::GCP_PROJECT_ID), example = "acme-prod")]
    pub project: Option<String>,
}

/// How a token goes from the pod to AWS, in the Google-service-account method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TokenDelivery {
    /// A native sidecar keeps a token file fresh; SDKs read it through `AWS_WEB_IDENTITY_TOKEN_FILE`.
    #[default]
    Sidecar,
    /// An AWS config profile whose `credential_process` helper fetches a token and calls STS.
    CredentialProcess,
}

/// The kind of workload-identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ProviderType {
    /// An OIDC provider for a Kubernetes cluster's issuer (EKS service accounts).
    Oidc,
    /// An AWS provider for an account (EC2 instance roles).
    Aws,
}

/// The trust method of a federation.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawVia {
    /// GKE/GCE to AWS through this Google service account's ID token (`accounts.google.com`).
    /// The Kubernetes service account impersonates it through GKE Workload Identity.
    #[serde(default)]
    #[schemars(regex(pattern = p::GCP_SA_EMAIL), example = "gke-to-aws@acme-prod.iam.gserviceaccount.com")]
    pub google_service_account: Option<String>,
    /// GKE/EKS to AWS through an IAM OIDC provider for the cluster's issuer, with a projected
    /// service-account token.
    #[serde(default)]
    pub aws_oidc_provider: Option<RawAwsOidcProvider>,
    /// To GCP through this workload-identity pool (one of `gcp.workloadIdentityPools`).
    #[serde(default)]
    #[schemars(regex(pattern = p::WIF_ID), example = "aws-workloads")]
    pub pool: Option<String>,
    /// With `pool`: the provider id (default `eks-<cluster>` for EKS, `aws-<account>` for EC2).
    #[serde(default)]
    #[schemars(regex(pattern = p::WIF_ID), example = "eks-data")]
    pub provider: Option<String>,
    /// With `pool`: the provider type, `oidc` (EKS) or `aws` (EC2). Derived from `from` if omitted.
    #[serde(default)]
    pub provider_type: Option<ProviderType>,
    /// The token audience. Google-service-account method: the `aud` of the ID token, pinned as
    /// `accounts.google.com:oaud` (default: the target role's ARN, so a token minted for one role
    /// cannot be replayed to another). OIDC methods: the projected token's audience (default
    /// `sts.amazonaws.com` for AWS, the provider's resource URL for GCP).
    #[serde(default)]
    #[schemars(regex(pattern = p::AUDIENCE), example = "sts.amazonaws.com")]
    pub audience: Option<String>,
    /// Google-service-account method: how the token reaches the AWS SDK, `sidecar` (default) or
    /// `credentialProcess`.
    #[serde(default)]
    pub token_delivery: Option<TokenDelivery>,
    /// Google-service-account method with `sidecar`: the token-refresher image (default pinned by crossfed).
    #[serde(default)]
    #[schemars(regex(pattern = p::CONTAINER_IMAGE), example = "gcr.io/google.com/cloudsdktool/google-cloud-cli:stable")]
    pub sidecar_image: Option<String>,
    /// OIDC methods: lifetime of the projected service-account token in seconds (min 600, default 3600).
    #[serde(default)]
    #[schemars(range(min = 600, max = 86400), example = 3600)]
    pub token_expiration_seconds: Option<u32>,
}

/// The IAM OIDC provider settings for a cluster issuer.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAwsOidcProvider {
    /// The provider's client id, which is also the projected token's audience (default `sts.amazonaws.com`).
    #[serde(default)]
    #[schemars(regex(pattern = p::AUDIENCE), example = "sts.amazonaws.com")]
    pub client_id: Option<String>,
}
