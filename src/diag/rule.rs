//! The security rules: risks a spec can ask for that crossfed renders faithfully but will not
//! render silently.
//!
//! A code ([`super::Code`]) names a kind of mistake; a rule names one risk, with a stable id a
//! spec can accept for one federation (`accept: [{rule: ID, reason: ...}]`). The checks live in
//! `validate::rules`; the catalog is here, beside the codes, because the text report, the SARIF
//! report, the schema (`accept[].rule`) and `crossfed explain` all list it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Severity;

/// A security rule, by its id (`crossfed explain ID` says what it flags and how to fix it).
// The variants' doc comments are their descriptions in the JSON Schema.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// A Kubernetes source in `default` or a `kube-*` namespace.
    KubernetesSystemNamespace,
    /// An AWS session above 4 h or an impersonated Google token above 1 h.
    LongSession,
    /// Trust of a whole issuer, pool, namespace or account instead of exact subjects.
    WholeIssuerOrAccount,
    /// An EKS/EC2 workload impersonates a Google service account only it uses (a note).
    ImpersonationWhereDirectAccessWouldDo,
    /// An inline policy of the target role allows every action of a service, or any resource.
    WildcardPermission,
}

/// Longest AWS session (`sessionDuration`, or the role's `maxSessionDuration`) that
/// `long-session` lets pass: 4 h.
pub const MAX_QUIET_AWS_SESSION: u32 = 4 * 3600;
/// Longest impersonated access-token lifetime (`tokenLifetimeSeconds`) that `long-session` lets
/// pass: 1 h, Google's default and the most it grants without an org-policy exception.
pub const MAX_QUIET_TOKEN_LIFETIME: u32 = 3600;

impl Rule {
    /// All rules, in a stable order.
    pub const ALL: &'static [Rule] = &[
        Rule::KubernetesSystemNamespace,
        Rule::LongSession,
        Rule::WholeIssuerOrAccount,
        Rule::ImpersonationWhereDirectAccessWouldDo,
        Rule::WildcardPermission,
    ];

    /// The stable kebab-case id, as specs and reports spell it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::KubernetesSystemNamespace => "kubernetes-system-namespace",
            Rule::LongSession => "long-session",
            Rule::WholeIssuerOrAccount => "whole-issuer-or-account",
            Rule::ImpersonationWhereDirectAccessWouldDo => {
                "impersonation-where-direct-access-would-do"
            }
            Rule::WildcardPermission => "wildcard-permission",
        }
    }

    /// The rule whose id is `id`.
    #[must_use]
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.as_str() == id)
    }

    /// How bad a finding is when the spec does not accept it. Only an error fails validation.
    #[must_use]
    pub fn severity(self) -> Severity {
        match self {
            Rule::ImpersonationWhereDirectAccessWouldDo => Severity::Note,
            Rule::KubernetesSystemNamespace
            | Rule::LongSession
            | Rule::WholeIssuerOrAccount
            | Rule::WildcardPermission => Severity::Error,
        }
    }

    /// One line: what the rule flags.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Rule::KubernetesSystemNamespace => {
                "A Kubernetes workload in `default` or a `kube-*` namespace gets a cloud identity."
            }
            Rule::LongSession => {
                "Credentials live longer than the workload needs: an AWS session above 4 hours, or an impersonated Google access token above 1 hour."
            }
            Rule::WholeIssuerOrAccount => {
                "Trust admits a whole issuer, pool, namespace or account rather than the exact subjects of the spec."
            }
            Rule::ImpersonationWhereDirectAccessWouldDo => {
                "An EKS or EC2 workload impersonates a Google service account that no other federation uses."
            }
            Rule::WildcardPermission => {
                "An inline policy of the role a federation assumes allows every action (`*`, `s3:*`) or any resource (`*`)."
            }
        }
    }

    /// The risk and the fix, printed by `crossfed explain ID`.
    #[must_use]
    pub fn explanation(self) -> &'static str {
        match self {
            Rule::KubernetesSystemNamespace => {
                "A federation's Kubernetes source is in `default` or a namespace Kubernetes reserves (`kube-system`, `kube-public`, `kube-node-lease`, any `kube-*`). Those namespaces are shared: `default` is where pods land when nobody chose a namespace, and `kube-system` holds the cluster's own add-ons, which run privileged and are managed by the provider or by whoever may administer the cluster. Anyone who can create a pod there with the service account, including a system add-on, gets the cloud identity.\n\nFix: run the workload in a namespace of its own and federate its service account there. If the identity really belongs to a system component, accept the rule for that federation with the reason (`accept: [{rule: kubernetes-system-namespace, reason: ...}]`)."
            }
            Rule::LongSession => {
                "A federation asks for credentials that outlive the workload: an AWS `sessionDuration` above 4 hours (14400 s), a target role whose `maxSessionDuration` is above 4 hours (any holder of the workload's token may ask for that much), or an impersonated Google access token (`tokenLifetimeSeconds`) above 1 hour (3600 s). SDKs refresh federated credentials on their own, so a running workload never needs a long session; a long one only matters once the credentials leave the workload, and neither cloud can revoke one issued session short of revoking every session of the identity. 4 hours leaves room for tools that cannot refresh mid-run; 1 hour is Google's default and the most it grants without the org policy `constraints/iam.allowServiceAccountCredentialLifetimeExtension`.\n\nFix: drop `sessionDuration` and `tokenLifetimeSeconds` (the defaults are 1 hour) and lower the role's `maxSessionDuration`. If a job cannot refresh mid-run, accept the rule for that federation with the reason."
            }
            Rule::WholeIssuerOrAccount => {
                "A trust statement or provider would admit every identity of an issuer, pool, namespace or account: an AWS trust statement without an exact `:sub` condition or with a `*` in a value, a workload-identity provider whose attribute condition does not list exact subjects or roles, or a binding to a whole pool or namespace (`principalSet://...`). crossfed never renders one from a valid spec; this rule guards the renderer, so that a bug widens nothing unnoticed.\n\nFix: report the spec to the crossfed maintainers; accepting this rule is possible but should never be needed."
            }
            Rule::ImpersonationWhereDirectAccessWouldDo => {
                "A note, not an error: an EKS or EC2 workload reaches GCP by impersonating a Google service account that no other federation uses. The service account is a second, long-lived Google identity to manage (its roles, keys policy and impersonators), while direct resource access (`to: {gcpRoles: [...]}`) grants the roles to the federated principal itself, so the access ends with the federation.\n\nFix: use `gcpRoles` instead of `gcpServiceAccount`, unless the Google API the workload calls does not accept federated principals (some do not; see Google's list of products supporting Workload Identity Federation). Accept the rule for that federation with the reason to silence the note."
            }
            Rule::WildcardPermission => {
                "An inline policy (`aws.roles[].inlinePolicies`) of the role a federation assumes has a statement whose action is `*` or a whole service (`s3:*`), or whose resource is `*`. Inline policies exist in the spec to grant least privilege: exactly the actions on exactly the resources the workload needs. A wildcard there grants what nobody reviewed, including actions the service adds later, to every workload the federation admits. (Wildcards inside an ARN, such as `arn:aws:s3:::reports/*` for the objects of one bucket, are not flagged.)\n\nFix: list the actions the workload calls (`s3:GetObject`, `s3:ListBucket`) and the ARNs of the resources it touches. If a wildcard is really meant, accept the rule for the federation with the reason."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_serialize_as_written() {
        let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.as_str()).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n);
        for rule in Rule::ALL {
            let id = rule.as_str();
            assert!(
                id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{id}"
            );
            assert_eq!(serde_json::to_value(rule).unwrap(), id);
            assert_eq!(Rule::from_id(id), Some(*rule));
            assert!(!rule.description().is_empty() && !rule.explanation().is_empty());
            // A rule id never shadows a diagnostic code: `explain ID` must be unambiguous.
            assert!(super::super::Code::ALL.iter().all(|c| c.as_str() != id));
        }
    }
}
