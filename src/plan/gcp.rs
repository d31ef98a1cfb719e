//! The GCP side of the plan: GKE Workload Identity bindings per project, and per
//! workload-identity pool its providers, IAM bindings and credential configs.
//!
//! Providers admit only what the spec names: an OIDC provider's attribute condition lists the
//! exact `system:serviceaccount:NS:KSA` subjects of its cluster, an AWS provider's lists the exact
//! assumed-role ARN prefixes (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/`, the trailing `/` so
//! `role` never matches `role2`). AWS roles are bound on `attribute.aws_role`, never on
//! `google.subject`, whose session part (the instance id) changes.
//!
//! Credential configs reproduce, key for key and in gcloud's order, what
//! `gcloud iam workload-identity-pools create-cred-config` writes. They are data shared by three
//! renderers (the pool's folder, the EKS ConfigMap and the EC2 host files), so they are built
//! here, once per federation. Because google-auth no longer validates endpoint hosts, every
//! config is linted by [`lint_credential_config`] before it ships.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::model::{
    Federation, GcpGrant, GkeCluster, Method, Partition, Pool, ProviderKind, Source, Spec, Target,
    service_account_home,
};

/// Where the projected token for GCP is mounted in EKS pods.
pub const GCP_TOKEN_DIR: &str = "/var/run/secrets/sts.googleapis.com/serviceaccount";
/// Google STS token endpoint.
pub const TOKEN_URL: &str = "https://sts.googleapis.com/v1/token";
/// Longest attribute condition GCP accepts.
pub const MAX_CONDITION_CHARS: usize = 4096;
/// EC2 instance metadata (IMDS) base.
const IMDS: &str = "http://169.254.169.254";

/// The mapping Google documents for AWS providers.
const AWS_ROLE_MAPPING: &str = "assertion.arn.contains('assumed-role') ? assertion.arn.extract('{account_arn}assumed-role/') + 'assumed-role/' + assertion.arn.extract('assumed-role/{role_name}/') : assertion.arn";

/// The project a Google service account lives in, from its email, if it is user-managed.
#[must_use]
pub fn service_account_project(email: &str) -> Option<&str> {
    email
        .split_once('@')?
        .1
        .strip_suffix(".iam.gserviceaccount.com")
}

/// The GKE Workload Identity member of a Kubernetes service account.
#[must_use]
pub fn gke_member(cluster: &GkeCluster, namespace: &str, service_account: &str) -> String {
    format!(
        "serviceAccount:{}[{namespace}/{service_account}]",
        cluster.workload_pool()
    )
}

/// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE`: the `attribute.aws_role` of EC2 instances.
#[must_use]
pub fn assumed_role(spec: &Spec, role_arn: &str) -> String {
    assumed_role_of(&spec.roles[role_arn])
}

/// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE` of `role`.
#[must_use]
pub fn assumed_role_of(role: &crate::model::AwsRole) -> String {
    format!(
        "arn:{}:sts::{}:assumed-role/{}",
        role.partition.as_str(),
        role.account,
        role.name
    )
}

/// The IAM member that stands for the federated workload in a pool.
#[must_use]
pub fn member(spec: &Spec, f: &Federation) -> Option<String> {
    let Method::WorkloadIdentityPool { pool, .. } = &f.method else {
        return None;
    };
    let pool = spec.pools.get(pool)?;
    match &f.source {
        Source::Kubernetes { subject, .. } => Some(pool.principal(subject)),
        Source::Ec2 { role, .. } => Some(pool.principal_set("aws_role", &assumed_role(spec, role))),
        Source::Gce { .. } => None,
    }
}

/// One `roles/iam.workloadIdentityUser` binding of GKE Workload Identity.
#[derive(Debug, Clone)]
pub struct GkeBinding {
    /// The Google service account.
    pub service_account: String,
    /// `serviceAccount:PROJECT.svc.id.goog[NS/KSA]`.
    pub member: String,
    /// The federations that need it.
    pub federations: BTreeSet<String>,
}

/// What a provider verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderSource {
    /// An OIDC issuer.
    Oidc {
        /// Issuer URL.
        issuer: String,
        /// Allowed audiences.
        audiences: BTreeSet<String>,
        /// Admitted `sub` claims.
        subjects: BTreeSet<String>,
    },
    /// An AWS account.
    Aws {
        /// Account id.
        account: String,
        /// Admitted `arn:…:sts::ACCOUNT:assumed-role/ROLE` prefixes.
        roles: BTreeSet<String>,
    },
}

/// A workload-identity pool provider.
#[derive(Debug, Clone)]
pub struct ProviderPlan {
    /// Provider id.
    pub id: String,
    /// What it verifies.
    pub source: ProviderSource,
    /// Federations through it.
    pub federations: BTreeSet<String>,
    /// Position in the spec of its first federation (by name), for diagnostics.
    pub first_index: usize,
}

impl ProviderPlan {
    /// `--attribute-mapping`: [`ProviderPlan::attribute_mapping_pairs`] as gcloud takes them.
    #[must_use]
    pub fn attribute_mapping(&self) -> String {
        self.attribute_mapping_pairs()
            .iter()
            .map(|(attribute, expression)| format!("{attribute}={expression}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The attribute mapping: each Google attribute and the CEL expression that sets it.
    #[must_use]
    pub fn attribute_mapping_pairs(&self) -> Vec<(&'static str, String)> {
        match &self.source {
            ProviderSource::Oidc { .. } => vec![
                ("google.subject", "assertion.sub".to_owned()),
                (
                    "attribute.namespace",
                    "assertion['kubernetes.io']['namespace']".to_owned(),
                ),
                (
                    "attribute.service_account_name",
                    "assertion['kubernetes.io']['serviceaccount']['name']".to_owned(),
                ),
            ],
            ProviderSource::Aws { .. } => vec![
                ("google.subject", "assertion.arn".to_owned()),
                ("attribute.aws_role", AWS_ROLE_MAPPING.to_owned()),
            ],
        }
    }

    /// `--attribute-condition`: exactly the subjects or roles of the spec.
    #[must_use]
    pub fn attribute_condition(&self) -> String {
        match &self.source {
            ProviderSource::Oidc { subjects, .. } => format!(
                "assertion.sub in [{}]",
                subjects
                    .iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ProviderSource::Aws { roles, .. } => roles
                .iter()
                .map(|r| format!("assertion.arn.startsWith('{r}/')"))
                .collect::<Vec<_>>()
                .join(" || "),
        }
    }
}

/// An IAM binding a pool's script adds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Binding {
    /// The service account (impersonation) or project (grants).
    pub resource: String,
    /// The role granted.
    pub role: String,
    /// The federated principal.
    pub member: String,
    /// The federation that needs it.
    pub federation: String,
}

/// Everything crossfed manages in one workload-identity pool.
#[derive(Debug, Clone)]
pub struct PoolPlan {
    /// Pool id (key into [`Spec::pools`]).
    pub id: String,
    /// Providers by id.
    pub providers: BTreeMap<String, ProviderPlan>,
    /// `roles/iam.workloadIdentityUser` on impersonated service accounts, sorted.
    pub impersonations: Vec<Binding>,
    /// Project roles granted to federated principals, sorted.
    pub grants: Vec<Binding>,
    /// Federations with a credential config, by name.
    pub credential_configs: BTreeSet<String>,
    /// Every federation through the pool.
    pub federations: BTreeSet<String>,
}

/// The GCP side of the plan.
#[derive(Debug, Clone, Default)]
pub struct GcpPlan {
    /// GKE Workload Identity bindings per project, by (service account, member).
    pub gke_bindings: BTreeMap<String, BTreeMap<(String, String), GkeBinding>>,
    /// Pools with at least one provider, by id.
    pub pools: BTreeMap<String, PoolPlan>,
    /// The credential config of every federation into GCP, by federation name.
    pub credential_configs: BTreeMap<String, Value>,
    /// The grants of the declared Google service accounts, per project of the accounts: (email,
    /// grant), sorted.
    pub service_account_grants: BTreeMap<String, Vec<(String, GcpGrant)>>,
}

/// Builds the GCP side of the plan in one pass over the federations.
#[must_use]
pub fn build(spec: &Spec) -> GcpPlan {
    let mut plan = GcpPlan {
        service_account_grants: service_account_grants(spec),
        ..GcpPlan::default()
    };
    for f in &spec.federations {
        gke_binding(spec, f, &mut plan);
        let Method::WorkloadIdentityPool {
            pool,
            provider,
            provider_kind,
        } = &f.method
        else {
            continue;
        };
        let pool_plan = plan.pools.entry(pool.clone()).or_insert_with(|| PoolPlan {
            id: pool.clone(),
            providers: BTreeMap::new(),
            impersonations: Vec::new(),
            grants: Vec::new(),
            credential_configs: BTreeSet::new(),
            federations: BTreeSet::new(),
        });
        pool_plan.federations.insert(f.name.clone());
        let provider_plan = pool_plan
            .providers
            .entry(provider.clone())
            .or_insert_with(|| ProviderPlan {
                id: provider.clone(),
                // The first federation (by name) decides what the provider verifies; a second
                // issuer or account on one provider id is a validation error.
                source: match provider_kind {
                    ProviderKind::Oidc { issuer, .. } => ProviderSource::Oidc {
                        issuer: issuer.clone(),
                        audiences: BTreeSet::new(),
                        subjects: BTreeSet::new(),
                    },
                    ProviderKind::Aws { account } => ProviderSource::Aws {
                        account: account.clone(),
                        roles: BTreeSet::new(),
                    },
                },
                federations: BTreeSet::new(),
                first_index: f.index,
            });
        provider_plan.federations.insert(f.name.clone());
        match (&mut provider_plan.source, provider_kind, &f.source) {
            (
                ProviderSource::Oidc {
                    audiences,
                    subjects,
                    ..
                },
                ProviderKind::Oidc { audience, .. },
                Source::Kubernetes { subject, .. },
            ) => {
                audiences.insert(audience.clone());
                subjects.insert(subject.clone());
            }
            (ProviderSource::Aws { roles, .. }, _, Source::Ec2 { role, .. }) => {
                roles.insert(assumed_role(spec, role));
            }
            _ => {}
        }
        let Some(member) = member(spec, f) else {
            continue;
        };
        match &f.target {
            Target::GcpServiceAccount { email, .. } => pool_plan.impersonations.push(Binding {
                resource: email.clone(),
                role: "roles/iam.workloadIdentityUser".to_owned(),
                member,
                federation: f.name.clone(),
            }),
            Target::GcpRoles {
                project,
                roles,
                grants,
            } => {
                let on_project = roles.iter().map(|role| (project.clone(), role));
                let on_resources = grants.iter().map(|g| (g.resource.name(), &g.role));
                for (resource, role) in on_project.chain(on_resources) {
                    pool_plan.grants.push(Binding {
                        resource,
                        role: role.clone(),
                        member: member.clone(),
                        federation: f.name.clone(),
                    });
                }
            }
            Target::AwsRole { .. } => {}
        }
        if let Some(config) = credential_config(spec, f) {
            pool_plan.credential_configs.insert(f.name.clone());
            plan.credential_configs.insert(f.name.clone(), config);
        }
    }
    for pool in plan.pools.values_mut() {
        pool.impersonations.sort();
        pool.grants.sort();
        pool.grants.dedup();
    }
    plan
}

/// The grants of the declared Google service accounts, per project of the accounts.
fn service_account_grants(spec: &Spec) -> BTreeMap<String, Vec<(String, GcpGrant)>> {
    let mut out: BTreeMap<String, Vec<(String, GcpGrant)>> = BTreeMap::new();
    for account in spec.service_accounts.values() {
        // Validation made sure the project of an account with grants is known.
        if let Some(project) = service_account_home(&account.email, &spec.gcp_projects) {
            for grant in &account.grants {
                out.entry(project.clone())
                    .or_default()
                    .push((account.email.clone(), grant.clone()));
            }
        }
    }
    out
}

/// GKE Workload Identity: the Kubernetes service account may act as the Google service account.
fn gke_binding(spec: &Spec, f: &Federation, plan: &mut GcpPlan) {
    let (
        Source::Kubernetes {
            cluster,
            namespace,
            service_account,
            ..
        },
        Method::GoogleIdToken {
            service_account: email,
            ..
        },
    ) = (&f.source, &f.method)
    else {
        return;
    };
    let Some(gke) = spec.gke_clusters.get(cluster) else {
        return;
    };
    let project = service_account_project(email).unwrap_or(&gke.project);
    let member = gke_member(gke, namespace, service_account);
    plan.gke_bindings
        .entry(project.to_owned())
        .or_default()
        .entry((email.clone(), member.clone()))
        .or_insert_with(|| GkeBinding {
            service_account: email.clone(),
            member,
            federations: BTreeSet::new(),
        })
        .federations
        .insert(f.name.clone());
}

/// The STS endpoint of a region in a partition.
#[must_use]
pub fn sts_endpoint(region: &str, partition: crate::model::Partition) -> String {
    format!("https://sts.{region}.{}", partition.dns_suffix())
}

/// The credential config of a federation into GCP, in gcloud's key order.
#[must_use]
pub fn credential_config(spec: &Spec, f: &Federation) -> Option<Value> {
    let Method::WorkloadIdentityPool {
        pool,
        provider,
        provider_kind,
    } = &f.method
    else {
        return None;
    };
    let pool: &Pool = spec.pools.get(pool)?;
    let (subject_token_type, credential_source) = match (provider_kind, &f.source) {
        (ProviderKind::Oidc { .. }, _) => (
            "urn:ietf:params:oauth:token-type:jwt",
            json!({"file": format!("{GCP_TOKEN_DIR}/token"), "format": {"type": "text"}}),
        ),
        (ProviderKind::Aws { .. }, Source::Ec2 { role, .. }) => {
            let partition = spec.roles.get(role)?.partition;
            (
                "urn:ietf:params:aws:token-type:aws4_request",
                json!({
                    "environment_id": "aws1",
                    "region_url": format!("{IMDS}/latest/meta-data/placement/availability-zone"),
                    "url": format!("{IMDS}/latest/meta-data/iam/security-credentials"),
                    "regional_cred_verification_url": format!("{}?Action=GetCallerIdentity&Version=2011-06-15", sts_endpoint("{region}", partition)),
                    "imdsv2_session_token_url": format!("{IMDS}/latest/api/token"),
                }),
            )
        }
        _ => return None,
    };
    let mut config = json!({
        "universe_domain": "googleapis.com",
        "type": "external_account",
        "audience": pool.provider_audience(provider),
        "subject_token_type": subject_token_type,
        "token_url": TOKEN_URL,
        "credential_source": credential_source,
    });
    match &f.target {
        Target::GcpServiceAccount {
            email,
            token_lifetime_seconds,
        } => {
            config["service_account_impersonation_url"] = json!(format!(
                "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{email}:generateAccessToken"
            ));
            if let Some(lifetime) = token_lifetime_seconds {
                config["service_account_impersonation"] =
                    json!({"token_lifetime_seconds": lifetime});
            }
        }
        _ => config["token_info_url"] = json!("https://sts.googleapis.com/v1/introspect"),
    }
    Some(config)
}
/// Checks a credential config for the endpoint mistakes google-auth no longer catches.
/// An empty list means the config is sound.
#[must_use]
pub fn lint_credential_config(config: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let text = |key: &str| config.get(key).and_then(Value::as_str).unwrap_or_default();
    let audience_ok = text("audience").strip_prefix("//iam.googleapis.com/projects/").is_some_and(|rest| {
        let parts: Vec<&str> = rest.split('/').collect();
        let id = |s: &str| (4..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        matches!(parts.as_slice(), [number, "locations", "global", "workloadIdentityPools", pool, "providers", provider]
            if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) && id(pool) && id(provider))
    });
    if !audience_ok {
        problems.push(format!("audience `{}` is not //iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER", text("audience")));
    }
    if text("token_url") != TOKEN_URL {
        problems.push(format!(
            "token_url `{}` is not {TOKEN_URL}",
            text("token_url")
        ));
    }
    if config.get("type").and_then(Value::as_str) != Some("external_account") {
        problems.push("type is not `external_account`".to_owned());
    }
    if let Some(url) = config
        .get("service_account_impersonation_url")
        .and_then(Value::as_str)
    {
        let ok = url
            .strip_prefix("https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/")
            .and_then(|rest| rest.strip_suffix(":generateAccessToken"))
            .is_some_and(|email| email.contains('@') && !email.contains('/'));
        if !ok {
            problems.push(format!("service_account_impersonation_url `{url}` is not the IAM Credentials generateAccessToken URL"));
        }
    }
    let source = config
        .get("credential_source")
        .cloned()
        .unwrap_or(Value::Null);
    if source.get("environment_id").is_some() {
        for key in ["region_url", "url", "imdsv2_session_token_url"] {
            let url = source.get(key).and_then(Value::as_str).unwrap_or_default();
            if !url.starts_with(&format!("{IMDS}/latest/")) {
                problems.push(format!(
                    "credential_source.{key} `{url}` is not on the EC2 metadata address {IMDS}"
                ));
            }
        }
        let verify = source
            .get("regional_cred_verification_url")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // Exactly the URL of one partition: a prefix and suffix check would pass
        // `https://sts.{region}.amazonaws.com.evil.example?Action=…`.
        let expected = [Partition::Aws, Partition::AwsCn].map(|partition| {
            format!(
                "{}?Action=GetCallerIdentity&Version=2011-06-15",
                sts_endpoint("{region}", partition)
            )
        });
        if !expected.iter().any(|url| url == verify) {
            problems.push(format!("credential_source.regional_cred_verification_url `{verify}` is not the regional STS GetCallerIdentity URL"));
        }
    } else if source.get("file").and_then(Value::as_str).is_none() {
        problems.push("credential_source has neither `environment_id` nor `file`".to_owned());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sound() -> Value {
        json!({
            "universe_domain": "googleapis.com",
            "type": "external_account",
            "audience": "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/aws-1",
            "subject_token_type": "urn:ietf:params:aws:token-type:aws4_request",
            "token_url": TOKEN_URL,
            "credential_source": {
                "environment_id": "aws1",
                "region_url": "http://169.254.169.254/latest/meta-data/placement/availability-zone",
                "url": "http://169.254.169.254/latest/meta-data/iam/security-credentials",
                "regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
                "imdsv2_session_token_url": "http://169.254.169.254/latest/api/token",
            },
            "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@b.iam.gserviceaccount.com:generateAccessToken",
        })
    }

    #[test]
    fn lint_accepts_a_sound_config() {
        assert_eq!(lint_credential_config(&sound()), Vec::<String>::new());
    }

    #[test]
    fn lint_catches_the_typos_that_ship() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "/audience",
                "//iam.googleapis.com//projects/123/locations/global/workloadIdentityPools/pool/providers/aws-1",
                "audience",
            ),
            (
                "/token_url",
                "https://sts.googleapis.com.evil.example/v1/token",
                "token_url",
            ),
            (
                "/credential_source/url",
                "http://169.254.169.21/latest/meta-data/iam/security-credentials",
                "169.254.169.254",
            ),
            (
                "/credential_source/regional_cred_verification_url",
                "https://sts.{region}.amazonaws.com.evil.example?Action=GetCallerIdentity&Version=2011-06-15",
                "regional STS GetCallerIdentity URL",
            ),
            (
                "/service_account_impersonation_url",
                "https://iamcredentials.example.com/v1/projects/-/serviceAccounts/a@b:generateAccessToken",
                "IAM Credentials",
            ),
        ];
        for (pointer, bad, expected) in cases {
            let mut config = sound();
            *config.pointer_mut(pointer).unwrap() = json!(bad);
            let problems = lint_credential_config(&config);
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{pointer}: {problems:?}"
            );
        }
    }
}
