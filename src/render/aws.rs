//! AWS artifacts: role trust policies, IAM OIDC provider definitions and the `apply.sh` that
//! creates or updates them, per account.
//!
//! Trust is the product's main promise, so the policy builder is deliberately narrow: every
//! statement is `sts:AssumeRoleWithWebIdentity` from one federated principal, and every statement
//! pins both the token's audience and its subject with `StringEquals` (never `StringLike`,
//! never a wildcard). For Google ID tokens that is `accounts.google.com:aud` = the service
//! account's unique id (AWS matches this key against the token's `azp`), `:oaud` = the audience
//! the token was minted for, and `:sub` = the unique id; for cluster issuers it is
//! `<issuer>:aud` = the client id and `<issuer>:sub` = `system:serviceaccount:NS:KSA`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};

use super::templates::{self, TEMPLATE_AWS_APPLY};
use super::{FilePlan, Header, RenderError, slug, to_json};
use crate::diag::{Code, Diagnostic};
use crate::model::{Method, Partition, Spec, Target, issuer_host_path};

/// IAM's default limit on a role trust policy, in characters excluding whitespace.
pub const MAX_TRUST_POLICY_CHARS: usize = 2048;

/// One trust-policy statement, before serialization.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TrustStatement {
    /// `Principal.Federated` (or `Principal.Service` for EC2).
    pub principal: Principal,
    /// `StringEquals` conditions, by key.
    pub conditions: BTreeMap<String, String>,
    /// The federations this statement serves, sorted.
    pub federations: BTreeSet<String>,
}

/// A trust-policy principal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Principal {
    /// A web-identity provider (`accounts.google.com` or an OIDC provider ARN).
    Federated(String),
    /// The EC2 service, for instance roles.
    Ec2,
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

/// The statements of the trust policy of `role_arn`, one per distinct (principal, conditions).
#[must_use]
pub fn trust_statements(spec: &Spec, role_arn: &str) -> Vec<TrustStatement> {
    let Some(role) = spec.roles.get(role_arn) else {
        return Vec::new();
    };
    let mut merged: BTreeMap<(Principal, BTreeMap<String, String>), BTreeSet<String>> =
        BTreeMap::new();
    for f in &spec.federations {
        let Target::AwsRole { arn, .. } = &f.target else {
            continue;
        };
        if arn != role_arn {
            continue;
        }
        let (principal, conditions) = match &f.method {
            Method::GoogleIdToken {
                unique_id,
                audience,
                ..
            } => (
                Principal::Federated("accounts.google.com".to_owned()),
                BTreeMap::from([
                    ("accounts.google.com:aud".to_owned(), unique_id.clone()),
                    ("accounts.google.com:oaud".to_owned(), audience.clone()),
                    ("accounts.google.com:sub".to_owned(), unique_id.clone()),
                ]),
            ),
            Method::AwsOidcProvider {
                issuer, audience, ..
            } => {
                let key = issuer_host_path(issuer);
                let subject = f.source.kubernetes_subject().unwrap_or_default().to_owned();
                (
                    Principal::Federated(oidc_provider_arn(role.partition, &role.account, issuer)),
                    BTreeMap::from([
                        (format!("{key}:aud"), audience.clone()),
                        (format!("{key}:sub"), subject),
                    ]),
                )
            }
            Method::WorkloadIdentityPool { .. } => continue,
        };
        merged
            .entry((principal, conditions))
            .or_default()
            .insert(f.name.clone());
    }
    let mut statements: Vec<TrustStatement> = merged
        .into_iter()
        .map(|((principal, conditions), federations)| TrustStatement {
            principal,
            conditions,
            federations,
        })
        .collect();
    if role.instance_profile {
        statements.push(TrustStatement {
            principal: Principal::Ec2,
            conditions: BTreeMap::new(),
            federations: BTreeSet::new(),
        });
    }
    statements.sort_by_key(sid);
    statements
}

/// `Sid`: the federations' names in PascalCase (IAM allows only `[A-Za-z0-9]`).
fn sid(statement: &TrustStatement) -> String {
    if statement.principal == Principal::Ec2 {
        return "Ec2InstanceProfile".to_owned();
    }
    statement
        .federations
        .iter()
        .flat_map(|name| name.split(|c: char| !c.is_ascii_alphanumeric()))
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
}

/// The trust policy document of `role_arn`.
#[must_use]
pub fn trust_policy(spec: &Spec, role_arn: &str) -> Value {
    let statements: Vec<Value> = trust_statements(spec, role_arn)
        .iter()
        .map(|s| match &s.principal {
            Principal::Federated(principal) => json!({
                "Sid": sid(s),
                "Effect": "Allow",
                "Principal": {"Federated": principal},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": s.conditions},
            }),
            Principal::Ec2 => json!({
                "Sid": sid(s),
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }),
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Roles that crossfed manages: targets of federations, and instance-profile roles.
fn managed_roles(spec: &Spec) -> BTreeSet<&str> {
    let mut out: BTreeSet<&str> = spec
        .federations
        .iter()
        .filter_map(|f| match &f.target {
            Target::AwsRole { arn, .. } => Some(arn.as_str()),
            _ => None,
        })
        .collect();
    out.extend(
        spec.roles
            .values()
            .filter(|r| r.instance_profile)
            .map(|r| r.arn.as_str()),
    );
    out
}

/// IAM OIDC providers per account: issuer → client ids.
fn oidc_providers(spec: &Spec) -> BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> {
    let mut out: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for f in &spec.federations {
        let (
            Method::AwsOidcProvider {
                issuer, audience, ..
            },
            Target::AwsRole { arn, .. },
        ) = (&f.method, &f.target)
        else {
            continue;
        };
        let account = spec.roles[arn].account.as_str();
        out.entry(account)
            .or_default()
            .entry(issuer)
            .or_default()
            .insert(audience);
    }
    out
}

/// Trust policies over IAM's size limit.
#[must_use]
pub fn check_limits(spec: &Spec) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for arn in managed_roles(spec) {
        let policy = trust_policy(spec, arn);
        let size = serde_json::to_string(&policy)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .count();
        if size > MAX_TRUST_POLICY_CHARS {
            let index = spec
                .federations
                .iter()
                .find(|f| matches!(&f.target, Target::AwsRole { arn: a, .. } if a == arn))
                .map_or(0, |f| f.index);
            out.push(
                Diagnostic::error(Code::CloudLimit, format!("/federations/{index}/to/awsRole"), format!("the trust policy of `{arn}` would be {size} characters, over IAM's limit of {MAX_TRUST_POLICY_CHARS}"))
                    .help("federate fewer sources into this role (e.g. let workloads share one Google service account, which needs one statement), or split them across several roles"),
            );
        }
    }
    out
}

/// Context of `aws-apply.sh`. Fields are load-bearing: used by templates/aws-apply.sh.tera.
#[derive(Debug, Serialize)]
struct ApplyContext<'a> {
    header: &'a str,
    account: &'a str,
    providers: Vec<ProviderContext>,
    roles: Vec<RoleContext>,
}

#[derive(Debug, Serialize)]
struct ProviderContext {
    arn: String,
    file: String,
    client_ids: Vec<String>,
}

#[derive(Debug, Serialize)]
struct RoleContext {
    name: String,
    path: String,
    trust_policy_file: String,
    max_session_duration: u32,
    managed_policy_arns: Vec<String>,
    instance_profile: bool,
}

/// Renders every AWS file.
///
/// # Errors
/// On a template bug.
pub fn render(spec: &Spec, header: &Header, files: &mut FilePlan) -> Result<(), RenderError> {
    let providers = oidc_providers(spec);
    let roles = managed_roles(spec);
    let accounts: BTreeSet<&str> = roles
        .iter()
        .map(|arn| spec.roles[*arn].account.as_str())
        .chain(providers.keys().copied())
        .collect();
    for account in accounts {
        let partition = spec.aws_accounts[account].partition;
        let mut context = ApplyContext {
            header: header.text(),
            account,
            providers: Vec::new(),
            roles: Vec::new(),
        };
        for (issuer, client_ids) in providers.get(account).into_iter().flatten() {
            let file = format!("oidc-providers/{}.json", slug(issuer_host_path(issuer)));
            files.insert(
                format!("aws/{account}/{file}"),
                to_json(&json!({"Url": issuer, "ClientIDList": client_ids})),
            );
            context.providers.push(ProviderContext {
                arn: oidc_provider_arn(partition, account, issuer),
                file,
                client_ids: client_ids.iter().map(|c| (*c).to_owned()).collect(),
            });
        }
        for arn in roles
            .iter()
            .filter(|arn| spec.roles[**arn].account == account)
        {
            let role = &spec.roles[*arn];
            let file = format!("roles/{}/trust-policy.json", role.name);
            files.insert(
                format!("aws/{account}/{file}"),
                to_json(&trust_policy(spec, arn)),
            );
            context.roles.push(RoleContext {
                name: role.name.clone(),
                path: role.path.clone(),
                trust_policy_file: file,
                max_session_duration: role.max_session_duration,
                managed_policy_arns: role.managed_policy_arns.clone(),
                instance_profile: role.instance_profile,
            });
        }
        files.insert(
            format!("aws/{account}/apply.sh"),
            templates::render(TEMPLATE_AWS_APPLY, &context)?,
        );
    }
    Ok(())
}
