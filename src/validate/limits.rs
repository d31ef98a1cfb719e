//! Cloud limits that only show once federations are grouped: a role's trust policy collects
//! every source that assumes it, a provider's attribute condition every subject or role it
//! admits. They are checked on the [`Plan`], the same groupings the renderers format, so a spec
//! that validates always renders within the clouds' limits.

use crate::diag::{Code, Diagnostic};
use crate::plan::Plan;
use crate::plan::aws::{MAX_TRUST_POLICY_CHARS, policy_size};
use crate::plan::gcp::MAX_CONDITION_CHARS;

/// Every limit the plan exceeds.
#[must_use]
pub fn check(plan: &Plan) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // Reported in ARN order, whatever the account.
    let mut roles: Vec<_> = plan.aws.values().flat_map(|a| a.roles.values()).collect();
    roles.sort_by(|a, b| a.arn.cmp(&b.arn));
    for role in roles {
        // A role no federation targets holds only the EC2 statement, far under the limit.
        let Some(index) = role.first_index else {
            continue;
        };
        let size = policy_size(&role.policy);
        if size > MAX_TRUST_POLICY_CHARS {
            let arn = &role.arn;
            out.push(
                Diagnostic::error(
                    Code::CloudLimit,
                    format!("/federations/{index}/to/awsRole"),
                    format!("the trust policy of `{arn}` would be {size} characters, over IAM's limit of {MAX_TRUST_POLICY_CHARS}"),
                )
                .help("federate fewer sources into this role, or split them across several roles (the subjects of one cluster issuer and audience already share one statement)"),
            );
        }
    }
    for pool in plan.gcp.pools.values() {
        for provider in pool.providers.values() {
            let length = provider.attribute_condition().len();
            if length > MAX_CONDITION_CHARS {
                out.push(
                    Diagnostic::error(
                        Code::CloudLimit,
                        format!("/federations/{}/via", provider.first_index),
                        format!("the attribute condition of provider `{}` would be {length} characters, over GCP's limit of {MAX_CONDITION_CHARS}", provider.id),
                    )
                    .help("spread the federations over several providers (`via.provider`) or pools")
                    .at_key(),
                );
            }
        }
    }
    out
}
