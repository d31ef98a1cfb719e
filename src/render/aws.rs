//! AWS files, per account: role trust policies, IAM OIDC provider definitions and the `apply.sh`
//! that creates or updates them. The statements themselves are decided in [`crate::plan::aws`].

use serde::Serialize;
use serde_json::json;

use std::collections::BTreeSet;

use super::grants::{AwsGrants, Grants, role_key};
use super::revoke::REVOKED_SID;
use super::templates::{self, TEMPLATE_AWS_APPLY};
use super::{FilePlan, Header, PlannedFile, RenderError, slug, to_json};
use crate::model::{issuer_host_path, policy_document};
use crate::plan::Plan;
use crate::plan::aws::RolePlan;

/// Context of `aws-apply.sh`. Fields are load-bearing: used by templates/aws-apply.sh.tera.
#[derive(Debug, Serialize)]
struct ApplyContext<'a> {
    header: &'a str,
    account: &'a str,
    providers: Vec<ProviderContext<'a>>,
    roles: Vec<RoleContext<'a>>,
}

#[derive(Debug, Serialize)]
struct ProviderContext<'a> {
    arn: &'a str,
    file: String,
    client_ids: Vec<&'a str>,
}

#[derive(Debug, Serialize)]
struct RoleContext<'a> {
    name: &'a str,
    path: &'a str,
    trust_policy_file: String,
    max_session_duration: u32,
    max_session_duration_declared: bool,
    managed_policy_arns: &'a [String],
    instance_profile: bool,
    /// The `Sid`s crossfed writes or wrote into the role's trust policy: its statements now,
    /// those still to be revoked, and the statement of a revoked role's policy.
    owned_sids: Vec<String>,
    /// Inline policies: name and document file.
    inline_policies: Vec<InlinePolicyContext<'a>>,
}

#[derive(Debug, Serialize)]
struct InlinePolicyContext<'a> {
    name: &'a str,
    file: String,
}

/// The `Sid`s of `role`'s trust policy that crossfed owns: see [`RoleContext::owned_sids`].
fn owned_sids(role: &RolePlan, revoked: Option<&AwsGrants>) -> Vec<String> {
    let mut sids: BTreeSet<String> = role.statements.iter().map(|s| s.sid.clone()).collect();
    if let Some(revoked) = revoked {
        for (arn, statements) in &revoked.trust_statements {
            if role_key(arn) == role_key(&role.arn) {
                sids.extend(statements.iter().cloned());
            }
        }
    }
    sids.insert(REVOKED_SID.to_owned());
    sids.into_iter().collect()
}

/// The path of an OIDC provider's definition, relative to its account's folder.
#[must_use]
pub fn oidc_provider_file(issuer: &str) -> String {
    format!("oidc-providers/{}.json", slug(issuer_host_path(issuer)))
}

/// Renders the AWS files of share `share` of the accounts (the `share.0`-th of `share.1` runs
/// of consecutive accounts), so several threads can split the work.
///
/// # Errors
/// On a template bug.
pub fn render(
    plan: &Plan,
    header: &Header,
    revocations: &Grants,
    files: &mut FilePlan,
    share: (usize, usize),
) -> Result<(), RenderError> {
    for (account, account_plan) in super::share_of(&plan.aws, share) {
        let revoked = revocations.aws.get(account);
        let mut context = ApplyContext {
            header: header.text(),
            account,
            providers: Vec::new(),
            roles: Vec::new(),
        };
        for provider in account_plan.oidc_providers.values() {
            let file = oidc_provider_file(&provider.issuer);
            files.insert(
                format!("aws/{account}/{file}"),
                PlannedFile::data(
                    to_json(&json!({"Url": provider.issuer, "ClientIDList": provider.client_ids})),
                    &provider.federations,
                ),
            );
            context.providers.push(ProviderContext {
                arn: &provider.arn,
                file,
                client_ids: provider.client_ids.iter().map(String::as_str).collect(),
            });
        }
        for role_plan in account_plan.roles.values() {
            let role = &plan.spec.roles[&role_plan.arn];
            let file = format!("roles/{}/trust-policy.json", role.name);
            files.insert(
                format!("aws/{account}/{file}"),
                PlannedFile::data(role_plan.policy.clone(), &role_plan.federations),
            );
            context.roles.push(RoleContext {
                name: &role.name,
                path: &role.path,
                trust_policy_file: file,
                max_session_duration: role.max_session_duration,
                max_session_duration_declared: role.max_session_duration_declared,
                managed_policy_arns: &role.managed_policy_arns,
                instance_profile: role.instance_profile,
                owned_sids: owned_sids(role_plan, revoked),
                inline_policies: role
                    .inline_policies
                    .iter()
                    .map(|(name, statements)| {
                        let file = format!("roles/{}/inline-policy-{name}.json", role.name);
                        files.insert(
                            format!("aws/{account}/{file}"),
                            PlannedFile::data(policy_document(statements), &role_plan.federations),
                        );
                        InlinePolicyContext { name, file }
                    })
                    .collect(),
            });
        }
        files.insert(
            super::paths::aws_apply(account),
            PlannedFile::program(
                templates::render(TEMPLATE_AWS_APPLY, &context)?,
                &account_plan.federations(),
            ),
        );
    }
    Ok(())
}
