//! The attribute conditions of rendered workload-identity providers admit exactly the spec's
//! identities. GCP evaluates them as CEL; crossfed emits two shapes only, which this small
//! evaluator understands exactly (anything else fails the test):
//! `assertion.sub in ['a', 'b']` and `assertion.arn.startsWith('x/') || …`.

use std::path::PathBuf;

use crossfed::model::{Method, ProviderKind, Source, Spec};
use crossfed::render::RenderOptions;

/// Evaluates a rendered condition against a token's `sub` or AWS caller `arn`.
fn admits(condition: &str, sub: &str, arn: &str) -> bool {
    if let Some(list) = condition
        .strip_prefix("assertion.sub in [")
        .and_then(|r| r.strip_suffix(']'))
    {
        return list
            .split(", ")
            .map(|item| {
                item.strip_prefix('\'')
                    .and_then(|i| i.strip_suffix('\''))
                    .expect("quoted list item")
            })
            .any(|item| item == sub);
    }
    condition
        .split(" || ")
        .all(|t| t.starts_with("assertion.arn.startsWith('"))
        && condition.split(" || ").any(|term| {
            let prefix = term
                .strip_prefix("assertion.arn.startsWith('")
                .and_then(|t| t.strip_suffix("')"))
                .expect("startsWith term");
            arn.starts_with(prefix)
        })
}

fn spec(name: &str) -> Spec {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/valid")
        .join(name);
    let source = std::fs::read_to_string(path).unwrap();
    crossfed::validate::validate(name, &source).unwrap().spec
}

/// Every file rendered for a validated spec: path → content.
fn render(spec: &Spec) -> std::collections::BTreeMap<String, String> {
    let plan = crossfed::plan::build(spec.clone());
    crossfed::render::render(
        &plan,
        &RenderOptions {
            spec_name: "x".into(),
            ..Default::default()
        },
    )
    .unwrap()
    .into_iter()
    .map(|(path, file)| (path, file.content))
    .collect()
}

/// The `--attribute-condition` of every provider in a rendered tree, by provider id.
fn conditions(spec: &Spec) -> Vec<(String, String)> {
    let plan = render(spec);
    let mut out = Vec::new();
    for (file, content) in plan
        .iter()
        .filter(|(f, _)| f.ends_with("/apply.sh") && f.contains("/pools/"))
    {
        let mut provider = None;
        for line in content.lines() {
            if let Some(id) = line.strip_prefix("provider=") {
                provider = Some(id.to_owned());
            }
            if let Some(quoted) = line.trim().strip_prefix("--attribute-condition=") {
                // Undo shell quoting: '...'\''...'
                let condition = quoted
                    .trim_start_matches('\'')
                    .trim_end_matches('\'')
                    .replace(r"'\''", "'");
                out.push((
                    provider
                        .clone()
                        .unwrap_or_else(|| panic!("{file}: provider before condition")),
                    condition,
                ));
            }
        }
    }
    assert!(!out.is_empty());
    out
}

#[test]
fn oidc_conditions_admit_exactly_the_named_service_accounts() {
    for fixture in [
        "eks-oidc-impersonation.yaml",
        "eks-oidc-direct-access.yaml",
        "both-directions.yaml",
    ] {
        let spec = spec(fixture);
        let named: Vec<String> = spec
            .federations
            .iter()
            .filter(|f| {
                matches!(
                    f.method,
                    Method::WorkloadIdentityPool {
                        provider_kind: ProviderKind::Oidc { .. },
                        ..
                    }
                )
            })
            .filter_map(|f| f.source.kubernetes_subject().map(str::to_owned))
            .collect();
        for (_, condition) in conditions(&spec) {
            for subject in &named {
                assert!(
                    admits(&condition, subject, ""),
                    "{fixture}: {condition} admits {subject}"
                );
                let (prefix, ksa) = subject.rsplit_once(':').unwrap();
                let (base, namespace) = prefix.rsplit_once(':').unwrap();
                for other in [
                    format!("{prefix}:{ksa}-evil"),
                    format!("{prefix}:default"),
                    format!("{base}:{namespace}x:{ksa}"),
                    format!("{base}:default:{ksa}"),
                    subject.to_uppercase(),
                    format!("{subject} "),
                    String::new(),
                ] {
                    assert!(
                        !admits(&condition, &other, ""),
                        "{fixture}: {condition} must reject {other}"
                    );
                }
            }
        }
    }
}

#[test]
fn aws_conditions_admit_exactly_the_named_roles() {
    let spec = spec("ec2-to-gcs-impersonation.yaml");
    let roles: Vec<(String, String)> = spec
        .federations
        .iter()
        .filter_map(|f| match &f.source {
            Source::Ec2 {
                role_name, account, ..
            } => Some((account.clone(), role_name.clone())),
            _ => None,
        })
        .collect();
    assert!(!roles.is_empty());
    for (_, condition) in conditions(&spec) {
        for (account, role) in &roles {
            let session = format!("arn:aws:sts::{account}:assumed-role/{role}/i-0123456789abcdef0");
            assert!(
                admits(&condition, "", &session),
                "{condition} admits {session}"
            );
            for other in [
                format!("arn:aws:sts::{account}:assumed-role/{role}2/i-0123456789abcdef0"),
                format!("arn:aws:sts::{account}:assumed-role/x{role}/i-0123456789abcdef0"),
                format!("arn:aws:sts::999999999999:assumed-role/{role}/i-0123456789abcdef0"),
                format!("arn:aws:iam::{account}:user/{role}"),
                format!("arn:aws:sts::{account}:assumed-role/{role}"),
            ] {
                assert!(
                    !admits(&condition, "", &other),
                    "{condition} must reject {other}"
                );
            }
        }
    }
}

#[test]
fn the_evaluator_can_fail() {
    assert!(!admits("assertion.sub in ['a']", "b", ""));
    assert!(admits("assertion.sub in ['a', 'b']", "b", ""));
    assert!(!admits("assertion.arn.startsWith('x/')", "", "y/"));
}

#[test]
fn audiences_agree_between_provider_token_and_config() {
    for fixture in [
        "eks-oidc-impersonation.yaml",
        "eks-oidc-direct-access.yaml",
        "both-directions.yaml",
    ] {
        let spec = spec(fixture);
        let plan = render(&spec);
        for f in &spec.federations {
            let Method::WorkloadIdentityPool {
                pool,
                provider,
                provider_kind: ProviderKind::Oidc { audience, .. },
            } = &f.method
            else {
                continue;
            };
            let pool = &spec.pools[pool];
            let (path, config) = plan
                .iter()
                .find(|(p, _)| p.ends_with(&format!("credential-configs/{}.json", f.name)))
                .unwrap();
            let config: serde_json::Value = serde_json::from_str(config).unwrap();
            assert_eq!(
                config["audience"],
                pool.provider_audience(provider),
                "{path}"
            );
            let pod_patch = plan
                .iter()
                .find(|(p, _)| p.ends_with(&format!("patch-{}.yaml", f.name)))
                .unwrap()
                .1;
            assert!(
                pod_patch.contains(audience.as_str()),
                "the projected token is minted for {audience}"
            );
            let apply = &plan[&format!("gcp/{}/pools/{}/apply.sh", pool.project, pool.id)];
            let allowed = apply
                .lines()
                .find_map(|l| l.trim().strip_prefix("--allowed-audiences="))
                .unwrap();
            assert!(
                allowed
                    .trim_end_matches(" \\")
                    .split(',')
                    .any(|a| a == audience),
                "{allowed} allows {audience}"
            );
            // Exactly the fields gcloud writes for a file source with impersonation or introspection.
            let keys: Vec<&str> = config
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let tail: &[&str] = if config.get("token_info_url").is_some() {
                &["token_info_url"]
            } else {
                &["service_account_impersonation_url"]
            };
            let mut expected = vec![
                "universe_domain",
                "type",
                "audience",
                "subject_token_type",
                "token_url",
                "credential_source",
            ];
            expected.extend(tail);
            assert_eq!(keys, expected, "{path}");
        }
    }
}

#[test]
fn ec2_credential_config_has_exactly_the_gcloud_fields() {
    let spec = spec("ec2-to-gcs-impersonation.yaml");
    let plan = render(&spec);
    let config: serde_json::Value = serde_json::from_str(
        &plan["gcp/acme-data/pools/aws-pool/credential-configs/ec2-gcs-uploader.json"],
    )
    .unwrap();
    let keys: Vec<&str> = config
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "universe_domain",
            "type",
            "audience",
            "subject_token_type",
            "token_url",
            "credential_source",
            "service_account_impersonation_url",
            "service_account_impersonation"
        ]
    );
    let source: Vec<&str> = config["credential_source"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        source,
        [
            "environment_id",
            "region_url",
            "url",
            "regional_cred_verification_url",
            "imdsv2_session_token_url"
        ]
    );
    assert_eq!(
        config["subject_token_type"],
        "urn:ietf:params:aws:token-type:aws4_request"
    );
    // The EC2 host installs that very file (one credential config in the tree, not a copy):
    // install.sh names it relative to its own folder.
    let install = &plan["hosts/ec2/ec2-gcs-uploader/install.sh"];
    let relative = "../../../gcp/acme-data/pools/aws-pool/credential-configs/ec2-gcs-uploader.json";
    assert!(
        install.contains(&format!("install -m 0644 {relative} ")),
        "{install}"
    );
    let mut resolved: Vec<&str> = "hosts/ec2/ec2-gcs-uploader".split('/').collect();
    for part in relative.split('/') {
        if part == ".." {
            resolved.pop();
        } else {
            resolved.push(part);
        }
    }
    assert!(plan.contains_key(&resolved.join("/")));
    assert!(
        plan.keys()
            .all(|path| !(path.starts_with("hosts/") && path.contains("credential"))),
        "no credential config is copied under hosts/"
    );
}
