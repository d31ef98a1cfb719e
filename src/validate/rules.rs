//! The security rules ([`Rule`]): risks a valid spec may ask for, each an error (or a note)
//! unless the federation accepts it explicitly with a reason (`accept: [{rule, reason}]`).
//!
//! They run on the [`Plan`], after the limits and the trust closure, because one of them
//! (`whole-issuer-or-account`) checks what the renderers will format rather than what the spec
//! says: crossfed never plans a wildcard or a statement without an exact subject, and this rule
//! makes sure a regression in the planner cannot ship one unnoticed.
//!
//! Acceptance is per federation and must match: a finding the federation accepts is dropped (the
//! rendered README lists it with its reason), and an acceptance with no finding to cover is an
//! error of its own (`unused-acceptance`), so acceptances cannot outlive the risk they were
//! written for and silently cover a new one.

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Code, Diagnostic, MAX_QUIET_AWS_SESSION, MAX_QUIET_TOKEN_LIFETIME, Rule};
use crate::model::{ClusterKind, Federation, Method, Source, Target};
use crate::plan::Plan;
use crate::plan::aws::Principal;
use crate::plan::gcp::ProviderSource;

/// A finding of one rule for the federation at spec position `index`.
struct Finding {
    index: usize,
    diagnostic: Diagnostic,
}

/// Every finding the spec does not accept, and every acceptance with nothing to accept.
#[must_use]
pub fn check(plan: &Plan) -> Vec<Diagnostic> {
    let mut findings = Vec::new();
    let users = service_account_users(plan);
    for f in &plan.spec.federations {
        system_namespace(f, &mut findings);
        long_session(plan, f, &mut findings);
        impersonation(&users, f, &mut findings);
        wildcard_permission(plan, f, &mut findings);
    }
    findings.extend(whole_issuer_or_account(plan));
    settle(plan, findings)
}

/// Drops the accepted findings and reports the acceptances that matched none.
fn settle(plan: &Plan, findings: Vec<Finding>) -> Vec<Diagnostic> {
    // (federation position, rule) of every acceptance -> whether a finding matched it.
    let mut accepted: BTreeMap<(usize, Rule), bool> = plan
        .spec
        .federations
        .iter()
        .flat_map(|f| f.accept.iter().map(|a| ((f.index, a.rule), false)))
        .collect();
    let mut out = Vec::new();
    for finding in findings {
        let key = finding.diagnostic.rule.map(|rule| (finding.index, rule));
        match key.and_then(|key| accepted.get_mut(&key)) {
            Some(matched) => *matched = true,
            None => out.push(finding.diagnostic),
        }
    }
    for f in &plan.spec.federations {
        for (k, acceptance) in f.accept.iter().enumerate() {
            if accepted.get(&(f.index, acceptance.rule)) == Some(&false) {
                let rule = acceptance.rule.as_str();
                out.push(
                    Diagnostic::error(
                        Code::UnusedAcceptance,
                        format!("/federations/{}/accept/{k}/rule", f.index),
                        format!(
                            "federation `{}` accepts `{rule}`, but the rule does not fire for it: nothing to accept",
                            f.name
                        ),
                    )
                    .help("remove this entry from `accept`; `crossfed explain RULE` says what each rule flags"),
                );
            }
        }
    }
    out
}

/// `/federations/{i}/{field}` of `f`.
fn at(f: &Federation, field: &str) -> String {
    format!("/federations/{}/{field}", f.index)
}

/// How a finding ends its help: the way to accept it.
fn or_accept(rule: Rule) -> String {
    format!(
        "or, if the risk is intended, accept it for this federation: `accept: [{{rule: {}, reason: \"...\"}}]`",
        rule.as_str()
    )
}

/// `kubernetes-system-namespace`: `default` and the namespaces Kubernetes reserves (`kube-*`).
fn system_namespace(f: &Federation, out: &mut Vec<Finding>) {
    let Source::Kubernetes {
        namespace,
        service_account,
        ..
    } = &f.source
    else {
        return;
    };
    if namespace != "default" && !namespace.starts_with("kube-") {
        return;
    }
    let rule = Rule::KubernetesSystemNamespace;
    out.push(Finding {
        index: f.index,
        diagnostic: Diagnostic::rule(
            rule,
            at(f, "from/namespace"),
            format!(
                "federation `{}` gives its cloud identity to a service account in the shared namespace `{namespace}`",
                f.name
            ),
        )
        .help(format!(
            "any pod in `{namespace}` running as `{service_account}`, system add-ons included, gets the identity; run the workload in a namespace of its own, {}",
            or_accept(rule)
        )),
    });
}

/// `long-session`: AWS sessions above [`MAX_QUIET_AWS_SESSION`], impersonated tokens above
/// [`MAX_QUIET_TOKEN_LIFETIME`].
/// An inline policy of the federation's target role allows a whole service, every action or
/// any resource.
fn wildcard_permission(plan: &Plan, f: &Federation, out: &mut Vec<Finding>) {
    let rule = Rule::WildcardPermission;
    let Target::AwsRole { arn, .. } = &f.target else {
        return;
    };
    let Some(declared) = plan.spec.roles.get(arn) else {
        return;
    };
    for (name, statements) in &declared.inline_policies {
        let wide = statements.iter().find_map(|s| {
            s.actions
                .iter()
                .find(|a| *a == "*" || a.ends_with(":*"))
                .or_else(|| s.resources.iter().find(|r| *r == "*"))
        });
        if let Some(wide) = wide {
            out.push(Finding {
                index: f.index,
                diagnostic: Diagnostic::rule(
                    rule,
                    at(f, "to/awsRole"),
                    format!(
                        "role `{arn}`, which federation `{}` assumes, allows `{wide}` in its inline policy `{name}`",
                        f.name
                    ),
                )
                .help(format!(
                    "list the actions the workload calls and the ARNs of the resources it touches, {}",
                    or_accept(rule)
                )),
            });
            return;
        }
    }
}

fn long_session(plan: &Plan, f: &Federation, out: &mut Vec<Finding>) {
    let rule = Rule::LongSession;
    let diagnostic = match &f.target {
        Target::AwsRole {
            session_duration: Some(seconds),
            ..
        } if *seconds > MAX_QUIET_AWS_SESSION => Diagnostic::rule(
            rule,
            at(f, "to/sessionDuration"),
            format!(
                "federation `{}` asks for AWS sessions of {seconds} s, longer than {MAX_QUIET_AWS_SESSION} s (4 h)",
                f.name
            ),
        )
        .help(format!(
            "SDKs refresh federated credentials by themselves, so a running workload never needs a long session; drop `sessionDuration` (default 3600) or lower it to at most {MAX_QUIET_AWS_SESSION}, {}",
            or_accept(rule)
        )),
        Target::AwsRole { arn, .. } => {
            let Some(declared) = plan.spec.roles.get(arn) else {
                return;
            };
            let max = declared.max_session_duration;
            if max <= MAX_QUIET_AWS_SESSION {
                return;
            }
            Diagnostic::rule(
                rule,
                at(f, "to/awsRole"),
                format!(
                    "role `{arn}` allows sessions of up to {max} s (`maxSessionDuration`), longer than {MAX_QUIET_AWS_SESSION} s (4 h)"
                ),
            )
            .help(format!(
                "whoever holds the workload's token may ask for the role's maximum; lower the role's `maxSessionDuration` to at most {MAX_QUIET_AWS_SESSION}, {}",
                or_accept(rule)
            ))
        }
        Target::GcpServiceAccount {
            email,
            token_lifetime_seconds: Some(seconds),
        } if *seconds > MAX_QUIET_TOKEN_LIFETIME => Diagnostic::rule(
            rule,
            at(f, "to/tokenLifetimeSeconds"),
            format!(
                "federation `{}` asks for access tokens of `{email}` that live {seconds} s, longer than {MAX_QUIET_TOKEN_LIFETIME} s (1 h)",
                f.name
            ),
        )
        .help(format!(
            "the client library refreshes the token by itself; drop `tokenLifetimeSeconds` (default 3600), {}",
            or_accept(rule)
        )),
        Target::GcpServiceAccount { .. } | Target::GcpRoles { .. } => return,
    };
    out.push(Finding {
        index: f.index,
        diagnostic,
    });
}

/// How many federations use each Google service account, by email: as the impersonation target,
/// the ID-token issuer AWS trusts, or the GCE VM's identity. One pass, so the rule stays linear.
fn service_account_users(plan: &Plan) -> BTreeMap<&str, usize> {
    let mut users: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &plan.spec.federations {
        let target = match &f.target {
            Target::GcpServiceAccount { email, .. } => Some(email.as_str()),
            Target::AwsRole { .. } | Target::GcpRoles { .. } => None,
        };
        let method = match &f.method {
            Method::GoogleIdToken {
                service_account, ..
            } => Some(service_account.as_str()),
            Method::AwsOidcProvider { .. } | Method::WorkloadIdentityPool { .. } => None,
        };
        let source = match &f.source {
            Source::Gce { service_account } => Some(service_account.as_str()),
            Source::Kubernetes { .. } | Source::Ec2 { .. } => None,
        };
        let emails: BTreeSet<&str> = [target, method, source].into_iter().flatten().collect();
        for email in emails {
            *users.entry(email).or_default() += 1;
        }
    }
    users
}

/// `impersonation-where-direct-access-would-do`: an EKS/EC2 federation impersonates a Google
/// service account that no other federation uses (see [`service_account_users`]). A note.
fn impersonation(users: &BTreeMap<&str, usize>, f: &Federation, out: &mut Vec<Finding>) {
    let Target::GcpServiceAccount { email, .. } = &f.target else {
        return;
    };
    let from_aws = matches!(
        f.source,
        Source::Ec2 { .. }
            | Source::Kubernetes {
                cluster_kind: ClusterKind::Eks,
                ..
            }
    );
    if !from_aws {
        return;
    }
    if users.get(email.as_str()).copied().unwrap_or_default() > 1 {
        return;
    }
    let rule = Rule::ImpersonationWhereDirectAccessWouldDo;
    out.push(Finding {
        index: f.index,
        diagnostic: Diagnostic::rule(
            rule,
            at(f, "to/gcpServiceAccount"),
            format!(
                "federation `{}` impersonates `{email}`, which no other federation uses",
                f.name
            ),
        )
        .help(format!(
            "grant the roles to the federated principal instead (`to: {{gcpRoles: [...]}}`, direct resource access): no long-lived Google service account to manage; keep impersonation for APIs that do not accept federated principals, {}",
            or_accept(rule)
        )),
    });
}

/// The names of a set of federations, as borrowed strings.
fn names(set: &BTreeSet<String>) -> Vec<&str> {
    set.iter().map(String::as_str).collect()
}

/// Whether `value` is one exact identity: non-empty, no wildcard.
fn exact(value: &str) -> bool {
    !value.is_empty() && !value.contains('*')
}

/// `system:serviceaccount:NS:KSA` with both parts present and no wildcard.
fn exact_kubernetes_subject(subject: &str) -> bool {
    exact(subject)
        && subject
            .strip_prefix("system:serviceaccount:")
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(ns, ksa)| !ns.is_empty() && !ksa.is_empty() && !ksa.contains(':'))
}

/// The `sub` each federation served by a trust statement presents.
fn expected_subject(f: &Federation) -> Option<&str> {
    match &f.method {
        Method::GoogleIdToken { unique_id, .. } => Some(unique_id),
        Method::AwsOidcProvider { .. } => f.source.kubernetes_subject(),
        Method::WorkloadIdentityPool { .. } => None,
    }
}

/// `whole-issuer-or-account`, checked on what the renderers format: every AWS web-identity
/// statement pins `:aud` and `:sub`, its subjects are exactly those of the federations it serves,
/// and no value holds a `*`; every provider's attribute condition lists exact subjects or roles;
/// every IAM binding names one principal (or the `attribute.aws_role` set of one role), never a
/// whole pool or namespace.
fn whole_issuer_or_account(plan: &Plan) -> Vec<Finding> {
    let mut problems = Vec::new();
    wide_trust_statements(plan, &mut problems);
    wide_providers_and_bindings(plan, &mut problems);
    let rule = Rule::WholeIssuerOrAccount;
    let mut out = Vec::new();
    for (federations, message) in problems {
        for f in federations
            .into_iter()
            .filter_map(|name| plan.federation(name))
        {
            out.push(Finding {
                index: f.index,
                diagnostic: Diagnostic::rule(rule, at(f, "via"), message.clone())
                    .help("crossfed must never render this: it is a crossfed bug, please report it with the spec")
                    .at_key(),
            });
        }
    }
    out
}

/// A problem of `whole-issuer-or-account`: the federations it concerns, and what is wrong.
type Problem<'p> = (Vec<&'p str>, String);

/// AWS web-identity statements that do not pin `:aud` and exact `:sub` values.
fn wide_trust_statements<'p>(plan: &'p Plan, problems: &mut Vec<Problem<'p>>) {
    for account in plan.aws.values() {
        for role in account.roles.values() {
            for statement in &role.statements {
                let Principal::Federated(principal) = &statement.principal else {
                    continue;
                };
                let values = |suffix: &str| {
                    statement
                        .conditions
                        .iter()
                        .find(|(key, _)| key.ends_with(suffix))
                        .map(|(_, values)| values.as_slice())
                        .unwrap_or_default()
                };
                let expected: BTreeSet<&str> = statement
                    .federations
                    .iter()
                    .filter_map(|name| plan.federation(name))
                    .filter_map(expected_subject)
                    .collect();
                let subjects: BTreeSet<&str> = values(":sub").iter().map(String::as_str).collect();
                let wildcard = principal.contains('*')
                    || statement.conditions.iter().any(|(key, values)| {
                        // Audiences are matched with `StringEquals`, where `*` is a literal
                        // character a spec may use; subjects never hold one.
                        let literal = key.ends_with(":aud") || key.ends_with(":oaud");
                        key.contains('*')
                            || values
                                .iter()
                                .any(|v| v.is_empty() || (!literal && !exact(v)))
                    });
                let why = if values(":aud").is_empty() {
                    Some("pins no audience (`:aud`)".to_owned())
                } else if subjects.is_empty() {
                    Some("pins no subject (`:sub`)".to_owned())
                } else if wildcard {
                    Some("holds a wildcard `*` or an empty value".to_owned())
                } else if subjects != expected {
                    Some("admits subjects other than those of its federations".to_owned())
                } else {
                    None
                };
                if let Some(why) = why {
                    problems.push((
                        names(&statement.federations),
                        format!(
                            "statement `{}` of the trust policy of `{}` {why}, so it would trust all of `{principal}`",
                            statement.sid, role.arn
                        ),
                    ));
                }
            }
        }
    }
}

/// Providers whose attribute condition does not list exact subjects or roles, and bindings to a
/// whole pool or namespace.
fn wide_providers_and_bindings<'p>(plan: &'p Plan, problems: &mut Vec<Problem<'p>>) {
    for pool in plan.gcp.pools.values() {
        for provider in pool.providers.values() {
            let (whole, exact_ones) = match &provider.source {
                ProviderSource::Oidc {
                    issuer, subjects, ..
                } => (
                    format!("issuer `{issuer}`"),
                    !subjects.is_empty() && subjects.iter().all(|s| exact_kubernetes_subject(s)),
                ),
                ProviderSource::Aws { account, roles } => {
                    let prefix = |role: &str| {
                        role.split_once(":sts::")
                            .and_then(|(_, rest)| {
                                rest.strip_prefix(&format!("{account}:assumed-role/"))
                            })
                            .is_some_and(|name| exact(name) && !name.contains('/'))
                    };
                    (
                        format!("AWS account `{account}`"),
                        !roles.is_empty() && roles.iter().all(|r| exact(r) && prefix(r)),
                    )
                }
            };
            if !exact_ones {
                problems.push((
                    names(&provider.federations),
                    format!(
                        "the attribute condition of provider `{}` in pool `{}` does not list exact subjects or roles, so it would admit all of {whole}",
                        provider.id, pool.id
                    ),
                ));
            }
        }
        for binding in pool.impersonations.iter().chain(&pool.grants) {
            let one = |prefix: &str, marker: &str| {
                binding
                    .member
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.split_once(marker))
                    .is_some_and(|(_, value)| exact(value))
            };
            let narrow = exact(&binding.member)
                && (one("principal://iam.googleapis.com/", "/subject/")
                    || one("principalSet://iam.googleapis.com/", "/attribute.aws_role/"));
            if !narrow {
                problems.push((
                    vec![binding.federation.as_str()],
                    format!(
                        "the binding of `{}` on `{}` names `{}`, a whole pool or namespace rather than one principal",
                        binding.role, binding.resource, binding.member
                    ),
                ));
            }
        }
    }
    for bindings in plan.gcp.gke_bindings.values() {
        for binding in bindings.values() {
            if !exact(&binding.member) || !binding.member.ends_with(']') {
                problems.push((
                    names(&binding.federations),
                    format!(
                        "the Workload Identity binding on `{}` names `{}`, not one Kubernetes service account",
                        binding.service_account, binding.member
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::plan::aws::Principal;
    use crate::plan::gcp::ProviderSource;

    fn fixture(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/valid")
            .join(name);
        std::fs::read_to_string(path).unwrap()
    }

    fn plan_of(source: &str) -> Plan {
        crate::validate::validate("spec.yaml", source)
            .unwrap_or_else(|report| panic!("{}", report.to_text()))
    }

    /// `(rule id or code, pointer)` of every diagnostic of `source`, valid or not.
    fn findings(source: &str) -> Vec<(String, String)> {
        let items = match crate::validate::validate_with_notes("spec.yaml", source) {
            Ok((_, notes)) => notes.items,
            Err(report) => report.items,
        };
        items
            .into_iter()
            .map(|i| (i.id().to_owned(), i.path))
            .collect()
    }

    /// A GKE pod into an AWS role through an IAM OIDC provider, with `extra` spliced into the
    /// role and `to`, and `accept` into the federation.
    fn gke_to_aws(role: &str, to: &str, namespace: &str, accept: &str) -> String {
        format!(
            r#"version: 1
gcp:
  projects: [{{id: acme-prod, number: "123456789012"}}]
  serviceAccounts: [{{email: reader-gsa@acme-prod.iam.gserviceaccount.com, uniqueId: "108840315781302076417"}}]
  gkeClusters: [{{name: prod, project: acme-prod, location: us-central1}}]
aws:
  accounts: [{{id: "281031839323"}}]
  roles: [{{name: reader, account: "281031839323"{role}}}]
federations:
  - name: reader
    from: {{gke: prod, namespace: {namespace}, serviceAccount: reader}}
    to: {{awsRole: reader{to}}}
    via: {{googleServiceAccount: reader-gsa@acme-prod.iam.gserviceaccount.com, tokenDelivery: credentialProcess}}
    accept: [{accept}]
"#
        )
    }

    #[test]
    fn long_session_fires_above_4_hours_and_not_at_4() {
        let at = |max: u32, session: u32| {
            findings(&gke_to_aws(
                &format!(", maxSessionDuration: {max}"),
                &format!(", sessionDuration: {session}"),
                "billing",
                "",
            ))
        };
        assert_eq!(at(14400, 14400), []);
        assert_eq!(
            at(14401, 3600),
            [(
                "long-session".to_owned(),
                "federations[0].to.awsRole".to_owned()
            )]
        );
        // The session is what the workload asks for: reported once, there.
        assert_eq!(
            at(43200, 14401),
            [(
                "long-session".to_owned(),
                "federations[0].to.sessionDuration".to_owned()
            )]
        );
    }

    #[test]
    fn long_session_fires_for_impersonated_tokens_above_1_hour() {
        let at = |lifetime: u32| {
            findings(&format!(
                r#"version: 1
gcp:
  projects: [{{id: acme-data, number: "731942065810"}}]
  serviceAccounts: [{{email: uploader@acme-data.iam.gserviceaccount.com}}]
  workloadIdentityPools: [{{id: aws-pool, project: acme-data}}]
aws:
  accounts: [{{id: "281031839323"}}]
  roles: [{{name: uploader, account: "281031839323"}}]
federations:
  - name: up
    from: {{ec2: uploader}}
    to: {{gcpServiceAccount: uploader@acme-data.iam.gserviceaccount.com, tokenLifetimeSeconds: {lifetime}}}
    accept: [{{rule: impersonation-where-direct-access-would-do, reason: the bucket API needs it}}]
"#
            ))
        };
        assert_eq!(at(3600), []);
        assert_eq!(
            at(3601),
            [(
                "long-session".to_owned(),
                "federations[0].to.tokenLifetimeSeconds".to_owned()
            )]
        );
    }

    #[test]
    fn system_namespaces_are_default_and_kube_star() {
        for namespace in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            assert_eq!(
                findings(&gke_to_aws("", "", namespace, "")),
                [(
                    "kubernetes-system-namespace".to_owned(),
                    "federations[0].from.namespace".to_owned()
                )],
                "{namespace}"
            );
        }
        assert_eq!(findings(&gke_to_aws("", "", "kubeflow", "")), []);
    }

    #[test]
    fn an_acceptance_covers_its_finding_and_must_have_one() {
        let accept = "{rule: kubernetes-system-namespace, reason: owned by the platform team}";
        let plan = plan_of(&gke_to_aws("", "", "kube-system", accept));
        assert_eq!(plan.spec.federations[0].accept.len(), 1);
        // Accepted for another federation, or a rule that does not fire: nothing to accept.
        assert_eq!(
            findings(&gke_to_aws("", "", "billing", accept)),
            [(
                "unused-acceptance".to_owned(),
                "federations[0].accept[0].rule".to_owned()
            )]
        );
        // Two acceptances of one rule in one federation.
        let twice = format!("{accept}, {accept}");
        assert_eq!(
            findings(&gke_to_aws("", "", "kube-system", &twice)),
            [(
                "duplicate-name".to_owned(),
                "federations[0].accept[1].rule".to_owned()
            )]
        );
    }

    #[test]
    fn a_note_does_not_fail_validation_and_can_be_accepted() {
        let source = fixture("eks-oidc-impersonation.yaml");
        let (_, notes) = crate::validate::validate_with_notes("spec.yaml", &source).unwrap();
        assert_eq!(notes.items.len(), 1);
        assert_eq!(notes.items[0].severity, crate::diag::Severity::Note);
        assert!(!notes.has_errors());
        let accepted = source.replace(
            "    via: {pool: eks-pool}\n",
            "    via: {pool: eks-pool}\n    accept: [{rule: impersonation-where-direct-access-would-do, reason: the API does not take federated principals}]\n",
        );
        assert_ne!(accepted, source);
        let (_, notes) = crate::validate::validate_with_notes("spec.yaml", &accepted).unwrap();
        assert!(notes.is_empty());
    }

    #[test]
    fn a_service_account_two_federations_impersonate_is_no_note() {
        let source = fixture("eks-oidc-impersonation.yaml");
        let twice = format!(
            "{source}  - name: eks-uploader-2\n    from: {{eks: data, namespace: ingest, serviceAccount: uploader-2}}\n    to: {{gcpServiceAccount: eks-uploader@acme-data.iam.gserviceaccount.com}}\n    via: {{pool: eks-pool}}\n"
        );
        assert_eq!(findings(&source).len(), 1);
        assert_eq!(findings(&twice), []);
    }

    /// Every valid fixture, planned.
    fn valid_plans() -> Vec<(String, Plan)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/valid");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let plan = plan_of(&fixture(&name));
                (name, plan)
            })
            .collect()
    }

    fn wide(plan: &Plan) -> Vec<String> {
        whole_issuer_or_account(plan)
            .into_iter()
            .map(|f| f.diagnostic.message)
            .collect()
    }

    #[test]
    fn whole_issuer_or_account_never_fires_on_what_crossfed_plans() {
        for (name, plan) in valid_plans() {
            assert_eq!(wide(&plan), Vec::<String>::new(), "{name}");
        }
    }

    /// The renderer's regressions the rule must catch, each made by hand on a real plan.
    #[test]
    fn whole_issuer_or_account_catches_a_widened_plan() {
        type Mutation = fn(&mut Plan) -> bool;
        let mutations: &[(&str, Mutation)] = &[
            ("no :sub", |plan| {
                let mut done = false;
                for role in plan.aws.values_mut().flat_map(|a| a.roles.values_mut()) {
                    for s in &mut role.statements {
                        s.conditions.retain(|key, _| !key.ends_with(":sub"));
                        done |= matches!(s.principal, Principal::Federated(_));
                    }
                }
                done
            }),
            ("wildcard :sub", |plan| {
                let mut done = false;
                for role in plan.aws.values_mut().flat_map(|a| a.roles.values_mut()) {
                    for s in &mut role.statements {
                        for (key, values) in &mut s.conditions {
                            if key.ends_with(":sub") {
                                values[0] = "system:serviceaccount:*".to_owned();
                                done = true;
                            }
                        }
                    }
                }
                done
            }),
            ("another subject", |plan| {
                let mut done = false;
                for role in plan.aws.values_mut().flat_map(|a| a.roles.values_mut()) {
                    for s in &mut role.statements {
                        for (key, values) in &mut s.conditions {
                            if key.ends_with(":sub") {
                                values.push("system:serviceaccount:kube-system:default".to_owned());
                                done = true;
                            }
                        }
                    }
                }
                done
            }),
            ("provider admits no subject list", |plan| {
                let mut done = false;
                for provider in plan
                    .gcp
                    .pools
                    .values_mut()
                    .flat_map(|p| p.providers.values_mut())
                {
                    match &mut provider.source {
                        ProviderSource::Oidc { subjects, .. } => subjects.clear(),
                        ProviderSource::Aws { roles, .. } => roles.clear(),
                    }
                    done = true;
                }
                done
            }),
            ("provider admits a wildcard", |plan| {
                let mut done = false;
                for provider in plan
                    .gcp
                    .pools
                    .values_mut()
                    .flat_map(|p| p.providers.values_mut())
                {
                    match &mut provider.source {
                        ProviderSource::Oidc { subjects, .. } => {
                            subjects.insert("system:serviceaccount:ingest:*".to_owned());
                        }
                        ProviderSource::Aws { roles, account } => {
                            roles.insert(format!("arn:aws:sts::{account}:assumed-role/*"));
                        }
                    }
                    done = true;
                }
                done
            }),
            ("binding to the whole pool", |plan| {
                let mut done = false;
                for pool in plan.gcp.pools.values_mut() {
                    for binding in pool.impersonations.iter_mut().chain(&mut pool.grants) {
                        let (base, _) = binding
                            .member
                            .split_once("/subject/")
                            .or_else(|| binding.member.split_once("/attribute."))
                            .unwrap();
                        binding.member =
                            format!("{}/*", base.replace("principal://", "principalSet://"));
                        done = true;
                    }
                }
                done
            }),
            ("binding to a namespace", |plan| {
                let mut done = false;
                for pool in plan.gcp.pools.values_mut() {
                    for binding in pool.impersonations.iter_mut().chain(&mut pool.grants) {
                        if let Some((base, _)) = binding.member.split_once("/subject/") {
                            binding.member = format!(
                                "{}/attribute.namespace/ingest",
                                base.replace("principal://", "principalSet://")
                            );
                            done = true;
                        }
                    }
                }
                done
            }),
        ];
        for (what, mutate) in mutations {
            let mut applied = false;
            for (name, mut plan) in valid_plans() {
                if mutate(&mut plan) {
                    applied = true;
                    assert!(!wide(&plan).is_empty(), "{what} in {name} went unnoticed");
                    // And it is an error of its rule, at the federation.
                    let found = check(&plan);
                    assert!(
                        found
                            .iter()
                            .any(|d| d.rule == Some(Rule::WholeIssuerOrAccount)
                                && d.severity == crate::diag::Severity::Error),
                        "{what} in {name}"
                    );
                }
            }
            assert!(applied, "{what}: no fixture has what it mutates");
        }
    }
}
