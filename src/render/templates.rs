//! The Tera templates (shell scripts and the output README), compiled into the binary, and their
//! one filter.
//!
//! Templates only loop, branch and format; everything is computed in Rust (`*Context` structs).
//! Every value a template interpolates goes through `shell_quote`, so no spec value can break out
//! of its word in a generated script.

use std::sync::OnceLock;

use serde::Serialize;
use tera::{Context, Kwargs, State, Tera};

use super::RenderError;

/// `aws/<account>/apply.sh`.
pub const TEMPLATE_AWS_APPLY: &str = "aws-apply.sh";
/// `aws/<account>/revoke.sh`.
pub const TEMPLATE_AWS_REVOKE: &str = "aws-revoke.sh";
/// `gcp/<project>/revoke.sh`.
pub const TEMPLATE_GCP_REVOKE: &str = "gcp-revoke.sh";
/// `kubernetes/<cluster>/revoke.sh`.
pub const TEMPLATE_K8S_REVOKE: &str = "kubernetes-revoke.sh";
/// `gcp/<project>/service-account-grants.sh`.
pub const TEMPLATE_SA_GRANTS: &str = "gcp-service-account-grants.sh";
/// `gcp/<project>/gke-workload-identity.sh`.
pub const TEMPLATE_GKE_BINDINGS: &str = "gke-workload-identity.sh";
/// `gcp/<project>/pools/<pool>/apply.sh`.
pub const TEMPLATE_GCP_POOL: &str = "gcp-pool.sh";
/// `gcp/<project>/pools/<pool>/create-cred-configs.sh`.
pub const TEMPLATE_GCP_CRED_CONFIGS: &str = "gcp-create-cred-configs.sh";
/// `README.md` of the output directory, up to its federation table's rows.
pub const TEMPLATE_SUMMARY_HEAD: &str = "summary-head.md";
/// `README.md` of the output directory, after its federation table's rows.
pub const TEMPLATE_SUMMARY_TAIL: &str = "summary-tail.md";
/// `hosts/gce/<federation>/install.sh`.
pub const TEMPLATE_GCE_INSTALL: &str = "gce-install.sh";
/// `hosts/ec2/<federation>/install.sh`.
pub const TEMPLATE_EC2_INSTALL: &str = "ec2-install.sh";

const TEMPLATES: &[(&str, &str)] = &[
    (
        TEMPLATE_SA_GRANTS,
        include_str!("../../templates/gcp-service-account-grants.sh.tera"),
    ),
    (
        TEMPLATE_AWS_REVOKE,
        include_str!("../../templates/aws-revoke.sh.tera"),
    ),
    (
        TEMPLATE_GCP_REVOKE,
        include_str!("../../templates/gcp-revoke.sh.tera"),
    ),
    (
        TEMPLATE_K8S_REVOKE,
        include_str!("../../templates/kubernetes-revoke.sh.tera"),
    ),
    (
        TEMPLATE_AWS_APPLY,
        include_str!("../../templates/aws-apply.sh.tera"),
    ),
    (
        TEMPLATE_GKE_BINDINGS,
        include_str!("../../templates/gke-workload-identity.sh.tera"),
    ),
    (
        TEMPLATE_GCP_POOL,
        include_str!("../../templates/gcp-pool.sh.tera"),
    ),
    (
        TEMPLATE_GCP_CRED_CONFIGS,
        include_str!("../../templates/gcp-create-cred-configs.sh.tera"),
    ),
    (
        TEMPLATE_SUMMARY_HEAD,
        include_str!("../../templates/summary-head.md.tera"),
    ),
    (
        TEMPLATE_SUMMARY_TAIL,
        include_str!("../../templates/summary-tail.md.tera"),
    ),
    (
        TEMPLATE_GCE_INSTALL,
        include_str!("../../templates/gce-install.sh.tera"),
    ),
    (
        TEMPLATE_EC2_INSTALL,
        include_str!("../../templates/ec2-install.sh.tera"),
    ),
];

/// Whether shellcheck would read `value`, unquoted on the right of an assignment, as a
/// subtraction (SC2100: `project=project-435400` looks like `i=i-2`): a name, one `-`, digits.
fn looks_like_subtraction(value: &str) -> bool {
    value.split_once('-').is_some_and(|(name, digits)| {
        name.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Static helper scripts shipped verbatim (no interpolation: values come as arguments or env).
pub mod scripts {
    /// Native-sidecar loop that keeps a Google ID token file fresh (GKE metadata server).
    pub const GKE_TOKEN_REFRESHER: &str = include_str!("../../templates/gke-token-refresher.sh");
    /// `credential_process` helper: Google ID token → `AssumeRoleWithWebIdentity` → `Version: 1` JSON.
    pub const AWS_CREDENTIAL_PROCESS: &str =
        include_str!("../../templates/aws-credential-process.sh");
}

/// Quotes `value` for POSIX shells: unchanged when it is made only of safe characters,
/// otherwise single-quoted with embedded `'` escaped.
#[must_use]
pub fn shell_quote(value: &str) -> String {
    let safe = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b))
        && !looks_like_subtraction(value);
    if safe {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

fn tera() -> &'static Tera {
    static TERA: OnceLock<Tera> = OnceLock::new();
    TERA.get_or_init(|| {
        let mut tera = Tera::default();
        // We emit shell, not HTML.
        tera.autoescape_on(Vec::<&str>::new());
        tera.register_filter("shell_quote", |value: &str, _: Kwargs, _: &State| {
            shell_quote(value)
        });
        for (name, source) in TEMPLATES {
            tera.add_raw_template(name, source)
                .unwrap_or_else(|e| panic!("template {name} compiles: {e}"));
        }
        tera
    })
}

/// Renders template `name` with `context`.
///
/// # Errors
/// [`RenderError::Template`] when rendering fails (our bug).
pub fn render<C: Serialize>(name: &str, context: &C) -> Result<String, RenderError> {
    let context = Context::from_serialize(context).map_err(|e| RenderError::Template {
        name: name.to_owned(),
        message: e.to_string(),
    })?;
    let mut text = tera()
        .render(name, &context)
        .map_err(|e| RenderError::Template {
            name: name.to_owned(),
            message: format!("{e:?}"),
        })?;
    // Exactly one trailing newline, however the template ends.
    while text.ends_with("\n\n") {
        text.pop();
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let tera = tera();
        for (name, _) in TEMPLATES {
            assert!(tera.get_template_names().any(|n| n == *name));
        }
    }

    #[test]
    fn shell_quote_leaves_safe_words_and_quotes_the_rest() {
        assert_eq!(
            shell_quote("arn:aws:iam::1:role/x"),
            "arn:aws:iam::1:role/x"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        // `project=project-435400` reads as a subtraction to shellcheck (SC2100).
        assert_eq!(shell_quote("project-435400"), "'project-435400'");
        assert_eq!(shell_quote("us-east-1"), "us-east-1");
        assert_eq!(shell_quote("acme-prod"), "acme-prod");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(
            shell_quote("serviceAccount:p.svc.id.goog[ns/ksa]"),
            "'serviceAccount:p.svc.id.goog[ns/ksa]'"
        );
    }
}
