//! The AWS side of the plan: per account, the IAM OIDC providers (issuer → client ids) and the
//! managed roles with their trust statements.
//!
//! Trust is the product's main promise, so statements are deliberately narrow: every statement is
//! `sts:AssumeRoleWithWebIdentity` from one federated principal and pins both the token's
//! audience and its subject with `StringEquals` (never `StringLike`, never a wildcard). For
//! Google ID tokens that is `accounts.google.com:aud` = the service account's unique id (AWS
//! matches this key against the token's `azp`), `:oaud` = the audience the token was minted for,
//! and `:sub` = the unique id; for cluster issuers it is `<issuer>:aud` = the client id and
//! `<issuer>:sub` = `system:serviceaccount:NS:KSA`.
//!
//! **Merging.** IAM ORs the values listed for one condition key and ANDs the keys, so statements
//! of one principal that agree on every key but one are exactly one statement listing that key's
//! values. crossfed merges on one key per principal kind, the only one that can vary without
//! widening trust: `<issuer>:sub` for cluster issuers (one statement per provider and audience,
//! listing the subjects) and `accounts.google.com:oaud` for Google ID tokens (one statement per
//! service account, listing the audiences it may present). Statements that differ in two keys are
//! never merged, because the product of two lists would admit pairs the spec did not name.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{
    AwsRole, Federation, Method, Partition, Source, Spec, Target, issuer_host_path,
};

/// IAM's default limit on a role trust policy, in characters excluding whitespace.
pub const MAX_TRUST_POLICY_CHARS: usize = 2048;

/// A trust-policy principal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Principal {
    /// A web-identity provider (`accounts.google.com` or an OIDC provider ARN).
    Federated(String),
    /// The EC2 service, for instance roles.
    Ec2,
}

/// One trust-policy statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustStatement {
    /// `Sid`, unique within the policy.
    pub sid: String,
    /// `Principal.Federated` (or `Principal.Service` for EC2).
    pub principal: Principal,
    /// `StringEquals` conditions: key → accepted values (ORed), sorted and never empty.
    pub conditions: BTreeMap<String, Vec<String>>,
    /// The federations this statement serves.
    pub federations: BTreeSet<String>,
}

/// A role crossfed manages: the target of federations, or an instance-profile role.
#[derive(Debug, Clone)]
pub struct RolePlan {
    /// The role's ARN (key into [`Spec::roles`]).
    pub arn: String,
    /// Statements, sorted by `Sid`.
    pub statements: Vec<TrustStatement>,
    /// Federations that assume the role.
    pub federations: BTreeSet<String>,
    /// Position in the spec of the first federation (by name) that targets the role, for
    /// diagnostics.
    pub first_index: Option<usize>,
    /// The trust policy document, as `trust-policy.json` holds it (pretty JSON and a newline):
    /// built once from `statements`, measured by the size check and written by the renderer.
    pub policy: String,
}

/// An IAM OIDC provider for a cluster issuer.
#[derive(Debug, Clone)]
pub struct OidcProviderPlan {
    /// Issuer URL.
    pub issuer: String,
    /// Provider ARN.
    pub arn: String,
    /// Client ids (the projected tokens' audiences).
    pub client_ids: BTreeSet<String>,
    /// Federations that use it.
    pub federations: BTreeSet<String>,
}

/// Everything crossfed manages in one AWS account.
#[derive(Debug, Clone)]
pub struct AccountPlan {
    /// Account id.
    pub id: String,
    /// Partition.
    pub partition: Partition,
    /// OIDC providers by issuer.
    pub oidc_providers: BTreeMap<String, OidcProviderPlan>,
    /// Roles by ARN.
    pub roles: BTreeMap<String, RolePlan>,
}

impl AccountPlan {
    /// Every federation served by something in the account.
    #[must_use]
    pub fn federations(&self) -> BTreeSet<String> {
        self.roles
            .values()
            .flat_map(|r| r.federations.iter())
            .chain(
                self.oidc_providers
                    .values()
                    .flat_map(|p| p.federations.iter()),
            )
            .cloned()
            .collect()
    }
}

/// The ARN of the IAM OIDC provider for `issuer` in `account`.
#[must_use]
pub fn oidc_provider_arn(partition: Partition, account: &str, issuer: &str) -> String {
    format!(
        "arn:{}:iam::{account}:oidc-provider/{}",
        partition.as_str(),
        issuer_host_path(issuer)
    )
}

/// The one statement a federation needs on its role, before merging, with the key it may be
/// merged on. `None` when the federation does not target an AWS role.
fn statement_of(
    spec: &Spec,
    f: &Federation,
) -> Option<(Principal, BTreeMap<String, String>, String)> {
    let Target::AwsRole { arn, .. } = &f.target else {
        return None;
    };
    match (&f.source, &f.method) {
        (
            _,
            Method::GoogleIdToken {
                unique_id,
                audience,
                ..
            },
        ) => Some((
            Principal::Federated("accounts.google.com".to_owned()),
            BTreeMap::from([
                ("accounts.google.com:aud".to_owned(), unique_id.clone()),
                ("accounts.google.com:oaud".to_owned(), audience.clone()),
                ("accounts.google.com:sub".to_owned(), unique_id.clone()),
            ]),
            "accounts.google.com:oaud".to_owned(),
        )),
        (
            Source::Kubernetes { subject, .. },
            Method::AwsOidcProvider {
                issuer, audience, ..
            },
        ) => {
            let role = spec.roles.get(arn)?;
            let key = issuer_host_path(issuer);
            Some((
                Principal::Federated(oidc_provider_arn(role.partition, &role.account, issuer)),
                BTreeMap::from([
                    (format!("{key}:aud"), audience.clone()),
                    (format!("{key}:sub"), subject.clone()),
                ]),
                format!("{key}:sub"),
            ))
        }
        _ => None,
    }
}

/// `Sid`: the federations' names in PascalCase (IAM allows only `[A-Za-z0-9]`). A statement that
/// serves many federations is named after its first one and the count of the others, so the
/// `Sid` does not eat the policy's size budget; the first federation belongs to this statement
/// only, so the `Sid` stays unique.
fn sid(principal: &Principal, federations: &BTreeSet<String>) -> String {
    /// Longest `Sid` spelled out in full.
    const MAX_FULL_SID: usize = 64;
    if *principal == Principal::Ec2 {
        return "Ec2InstanceProfile".to_owned();
    }
    let pascal = |name: &str| -> String {
        name.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(|word| {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase())
                    .into_iter()
                    .chain(chars)
                    .collect::<String>()
            })
            .collect()
    };
    let full: String = federations.iter().map(|name| pascal(name)).collect();
    if full.len() <= MAX_FULL_SID || federations.len() < 2 {
        return full;
    }
    let first = federations
        .iter()
        .next()
        .map_or_else(String::new, |n| pascal(n));
    format!("{first}And{}More", federations.len() - 1)
}

/// Builds the AWS side of the plan in one pass over the federations. Accounts share nothing (a
/// role, its statements and the providers it trusts are all in the role's account), so an
/// organisation's accounts are planned side by side.
#[must_use]
pub fn build(spec: &Spec) -> BTreeMap<String, AccountPlan> {
    // Each account's federations, in the spec's order, and its instance-profile roles; an account
    // takes the partition of the first role met in it.
    let mut by_account: BTreeMap<&str, (Partition, Vec<&Federation>, Vec<&AwsRole>)> =
        BTreeMap::new();
    for f in &spec.federations {
        let Target::AwsRole { arn, .. } = &f.target else {
            continue;
        };
        let Some(role) = spec.roles.get(arn) else {
            continue;
        };
        by_account
            .entry(&role.account)
            .or_insert_with(|| (role.partition, Vec::new(), Vec::new()))
            .1
            .push(f);
    }
    for role in spec.roles.values().filter(|r| r.instance_profile) {
        by_account
            .entry(&role.account)
            .or_insert_with(|| (role.partition, Vec::new(), Vec::new()))
            .2
            .push(role);
    }
    let accounts: Vec<_> = by_account.into_iter().collect();
    let threads = if spec.federations.len() >= crate::par::MANY_FEDERATIONS {
        crate::par::cores()
    } else {
        1
    };
    crate::par::map_on(
        threads,
        &accounts,
        |(id, (partition, federations, instance_roles))| {
            let account = build_account(spec, id, *partition, federations, instance_roles);
            ((*id).to_owned(), account)
        },
    )
    .into_iter()
    .collect()
}

/// The plan of account `id`: its `federations` (in the spec's order) and its instance-profile
/// roles.
fn build_account(
    spec: &Spec,
    id: &str,
    partition: Partition,
    federations: &[&Federation],
    instance_roles: &[&AwsRole],
) -> AccountPlan {
    // (role, principal, conditions without the merge key, merge key) → values of the merge key → federations
    type Group = BTreeMap<String, BTreeSet<String>>;
    let mut groups: BTreeMap<(String, Principal, BTreeMap<String, String>, String), Group> =
        BTreeMap::new();
    let mut account = AccountPlan {
        id: id.to_owned(),
        partition,
        oidc_providers: BTreeMap::new(),
        roles: BTreeMap::new(),
    };
    for f in federations {
        let Target::AwsRole { arn, .. } = &f.target else {
            continue;
        };
        let Some(role) = spec.roles.get(arn) else {
            continue;
        };
        let plan = account
            .roles
            .entry(arn.clone())
            .or_insert_with(|| RolePlan {
                arn: arn.clone(),
                statements: Vec::new(),
                federations: BTreeSet::new(),
                first_index: None,
                policy: String::new(),
            });
        plan.federations.insert(f.name.clone());
        // Federations come in name order: the first one names the role in diagnostics.
        plan.first_index.get_or_insert(f.index);
        if let Method::AwsOidcProvider {
            issuer, audience, ..
        } = &f.method
        {
            let provider = account
                .oidc_providers
                .entry(issuer.clone())
                .or_insert_with(|| OidcProviderPlan {
                    issuer: issuer.clone(),
                    arn: oidc_provider_arn(role.partition, &role.account, issuer),
                    client_ids: BTreeSet::new(),
                    federations: BTreeSet::new(),
                });
            provider.client_ids.insert(audience.clone());
            provider.federations.insert(f.name.clone());
        }
        if let Some((principal, mut conditions, merge_key)) = statement_of(spec, f)
            && let Some(value) = conditions.remove(&merge_key)
        {
            groups
                .entry((arn.clone(), principal, conditions, merge_key))
                .or_default()
                .entry(value)
                .or_default()
                .insert(f.name.clone());
        }
    }
    for role in instance_roles {
        account
            .roles
            .entry(role.arn.clone())
            .or_insert_with(|| RolePlan {
                arn: role.arn.clone(),
                statements: Vec::new(),
                federations: BTreeSet::new(),
                first_index: None,
                policy: String::new(),
            });
    }
    for ((arn, principal, mut conditions_rest, merge_key), values) in groups {
        let federations: BTreeSet<String> = values.values().flatten().cloned().collect();
        let mut conditions: BTreeMap<String, Vec<String>> = conditions_rest
            .iter_mut()
            .map(|(k, v)| (k.clone(), vec![std::mem::take(v)]))
            .collect();
        conditions.insert(merge_key, values.into_keys().collect());
        // The role was planned with its federations, in the loop above.
        if let Some(role) = account.roles.get_mut(&arn) {
            role.statements.push(TrustStatement {
                sid: sid(&principal, &federations),
                principal,
                conditions,
                federations,
            });
        }
    }
    finish_roles(spec, &mut account);
    account
}

/// Adds the EC2 statement of instance-profile roles, orders every role's statements and writes
/// its policy document.
fn finish_roles(spec: &Spec, account: &mut AccountPlan) {
    for role in account.roles.values_mut() {
        if spec.roles[&role.arn].instance_profile {
            role.statements.push(TrustStatement {
                sid: sid(&Principal::Ec2, &BTreeSet::new()),
                principal: Principal::Ec2,
                conditions: BTreeMap::new(),
                federations: BTreeSet::new(),
            });
        }
        role.statements.sort_by(|a, b| a.sid.cmp(&b.sid));
        // Pretty JSON and a newline, as `render::to_json` writes every JSON file (the plan sits
        // below the renderers, so it does not call it).
        role.policy = serde_json::to_string_pretty(&trust_policy(role))
            .expect("a policy document serializes")
            + "\n";
    }
}

/// The trust policy document of a role, serialized in IAM's field order (`Version`, then each
/// statement's `Sid`, `Effect`, `Principal`, `Action` and `Condition`). Typed, and borrowing the
/// plan: an organisation has thousands of roles, and a document built as a JSON value copied
/// every name into it first.
#[derive(serde::Serialize)]
struct TrustPolicy<'a> {
    #[serde(rename = "Version")]
    version: &'static str,
    #[serde(rename = "Statement")]
    statement: Vec<PolicyStatement<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyStatement<'a> {
    sid: &'a str,
    effect: &'static str,
    principal: PolicyPrincipal<'a>,
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<PolicyCondition<'a>>,
}

/// `{"Federated": ...}` or `{"Service": ...}`.
#[derive(serde::Serialize)]
enum PolicyPrincipal<'a> {
    Federated(&'a str),
    Service(&'static str),
}

#[derive(serde::Serialize)]
struct PolicyCondition<'a> {
    #[serde(rename = "StringEquals")]
    string_equals: ConditionValues<'a>,
}

/// The conditions, in key order: one accepted value as a string, several as a list.
struct ConditionValues<'a>(&'a BTreeMap<String, Vec<String>>);

impl serde::Serialize for ConditionValues<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, values) in self.0 {
            match values.as_slice() {
                [one] => map.serialize_entry(key, one)?,
                many => map.serialize_entry(key, many)?,
            }
        }
        map.end()
    }
}

fn trust_policy(role: &RolePlan) -> TrustPolicy<'_> {
    let statement = role
        .statements
        .iter()
        .map(|s| match &s.principal {
            Principal::Federated(principal) => PolicyStatement {
                sid: &s.sid,
                effect: "Allow",
                principal: PolicyPrincipal::Federated(principal),
                action: "sts:AssumeRoleWithWebIdentity",
                condition: Some(PolicyCondition {
                    string_equals: ConditionValues(&s.conditions),
                }),
            },
            Principal::Ec2 => PolicyStatement {
                sid: &s.sid,
                effect: "Allow",
                principal: PolicyPrincipal::Service("ec2.amazonaws.com"),
                action: "sts:AssumeRole",
                condition: None,
            },
        })
        .collect();
    TrustPolicy {
        version: "2012-10-17",
        statement,
    }
}

/// The size IAM counts against its trust-policy quota: characters, whitespace excluded (so the
/// pretty and the compact forms of a document measure the same).
#[must_use]
pub fn policy_size(policy: &str) -> usize {
    policy.chars().filter(|c| !c.is_whitespace()).count()
}
