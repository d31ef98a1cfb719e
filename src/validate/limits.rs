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
        let quota = plan
            .spec
            .roles
            .get(&role.arn)
            .and_then(|r| plan.spec.aws_accounts.get(&r.account))
            .map_or(MAX_TRUST_POLICY_CHARS, |a| a.trust_policy_quota);
        if size > quota {
            let arn = &role.arn;
            let limit = if quota == MAX_TRUST_POLICY_CHARS {
                format!("IAM's default quota of {quota}")
            } else {
                format!("the account's declared quota of {quota}")
            };
            out.push(
                Diagnostic::error(
                    Code::CloudLimit,
                    format!("/federations/{index}/to/awsRole"),
                    format!("the trust policy of `{arn}` would be {size} characters, over {limit}"),
                )
                .help("federate fewer sources into this role, or split them across several roles (the subjects of one cluster issuer and audience already share one statement); or have the account's quota raised (Service Quotas, IAM \"Role trust policy length\", at most 4096) and declare it as `trustPolicyQuota` on the account"),
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

#[cfg(test)]
mod tests {
    use crate::diag::Code;

    const TOO_LARGE: &str = include_str!("../../fixtures/invalid/trust-policy-too-large.yaml");

    #[test]
    fn a_declared_quota_raises_the_trust_policy_limit() {
        // 2846 characters: over the default 2048, within a raised 4096, over a raised 2500.
        let raised = |quota: u32| {
            TOO_LARGE.replace(
                r#"accounts: [{id: "281031839323"}]"#,
                &format!(r#"accounts: [{{id: "281031839323", trustPolicyQuota: {quota}}}]"#),
            )
        };
        assert!(crate::validate::validate("x", &raised(4096)).is_ok());
        let refused = crate::validate::validate("x", &raised(2500)).unwrap_err();
        assert_eq!(refused.items.len(), 1);
        assert_eq!(refused.items[0].code, Code::CloudLimit);
        assert!(
            refused.items[0]
                .message
                .ends_with("over the account's declared quota of 2500"),
            "{}",
            refused.items[0].message
        );
        let beyond = crate::validate::validate("x", &raised(5000)).unwrap_err();
        assert_eq!(beyond.items[0].code, Code::OutOfRange);
    }
}
