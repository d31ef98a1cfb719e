//! Files to install on VMs: GCE hosts that call AWS, EC2 instances that call GCP.
//!
//! A GCE VM gets an AWS shared-config profile plus either a systemd service + timer that keep a
//! Google ID token file fresh (`web_identity_token_file`, read natively by every AWS SDK and the
//! CLI) or, with `tokenDelivery: credentialProcess`, the helper that the profile runs. Nothing
//! else has to be installed on the host: curl is on every GCE image.

use serde::Serialize;

use super::kubernetes::credential_process_profile;
use super::templates::{self, TEMPLATE_GCE_INSTALL, scripts};
use super::{FilePlan, Header, RenderError};
use crate::model::{Federation, Method, Source, Spec, Target, TokenDelivery};

/// Where the helper is installed on GCE hosts.
pub const GCE_HELPER: &str = "/usr/local/libexec/crossfed/aws-credential-process";

/// Quotes one word for a systemd `ExecStart=` line (`%` and `$` are special there too).
#[must_use]
pub fn systemd_quote(value: &str) -> String {
    let escaped = value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
        .replace('$', "$$");
    format!("\"{escaped}\"")
}

/// Context of `gce-install.sh`. Fields are load-bearing: used by templates/gce-install.sh.tera.
#[derive(Debug, Serialize)]
struct InstallContext<'a> {
    header: &'a str,
    federation: &'a str,
    unit: String,
    config_dir: String,
    credential_process: bool,
    helper: &'a str,
}

fn token_service(f: &Federation, audience: &str, unit: &str, header: &Header) -> String {
    let dir = format!("/run/{unit}");
    format!(
        "{header}[Unit]\nDescription=Refresh the Google ID token of crossfed federation {name} for AWS\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\nRuntimeDirectory={unit}\nRuntimeDirectoryMode=0755\nRuntimeDirectoryPreserve=yes\nUMask=0022\nExecStart=/usr/bin/curl -sSf --retry 5 --retry-connrefused --max-time 30 -G --data-urlencode {aud} -H \"Metadata-Flavor: Google\" -o {dir}/token.tmp http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity\nExecStart=/bin/mv -f {dir}/token.tmp {dir}/token\n",
        header = header.hash(),
        name = f.name,
        aud = systemd_quote(&format!("audience={audience}")),
    )
}

fn token_timer(f: &Federation, unit: &str, header: &Header) -> String {
    format!(
        "{}[Unit]\nDescription=Refresh the Google ID token of crossfed federation {} every 5 minutes (tokens live 1 hour)\n\n[Timer]\nOnBootSec=0\nOnUnitActiveSec=5min\nAccuracySec=30s\nUnit={unit}.service\n\n[Install]\nWantedBy=timers.target\n",
        header.hash(),
        f.name
    )
}

/// Renders every host file.
///
/// # Errors
/// On a template bug.
pub fn render(spec: &Spec, header: &Header, files: &mut FilePlan) -> Result<(), RenderError> {
    for f in &spec.federations {
        match (&f.source, &f.method, &f.target) {
            (
                Source::Gce { .. },
                Method::GoogleIdToken {
                    audience, delivery, ..
                },
                Target::AwsRole {
                    arn,
                    session_name,
                    region,
                    ..
                },
            ) => {
                let dir = format!("hosts/gce/{}", f.name);
                let unit = format!("crossfed-aws-token-{}", f.name);
                let credential_process = *delivery == TokenDelivery::CredentialProcess;
                let profile = if credential_process {
                    files.insert(
                        format!("{dir}/aws-credential-process"),
                        scripts::AWS_CREDENTIAL_PROCESS.to_owned(),
                    );
                    credential_process_profile(f, GCE_HELPER).unwrap_or_default()
                } else {
                    files.insert(
                        format!("{dir}/{unit}.service"),
                        token_service(f, audience, &unit, header),
                    );
                    files.insert(format!("{dir}/{unit}.timer"), token_timer(f, &unit, header));
                    format!(
                        "[profile {}]\nrole_arn = {arn}\nweb_identity_token_file = /run/{unit}/token\nrole_session_name = {session_name}\nregion = {region}\nsts_regional_endpoints = regional\n",
                        f.name
                    )
                };
                files.insert(
                    format!("{dir}/aws-config"),
                    format!("{}{profile}", header.hash()),
                );
                let context = InstallContext {
                    header: header.text(),
                    federation: &f.name,
                    unit,
                    config_dir: format!("/etc/crossfed/aws/{}", f.name),
                    credential_process,
                    helper: GCE_HELPER,
                };
                files.insert(
                    format!("{dir}/install.sh"),
                    templates::render(TEMPLATE_GCE_INSTALL, &context)?,
                );
            }
            (Source::Ec2 { .. }, ..) => super::gcp::render_ec2(spec, f, header, files),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_quote_escapes_specifiers_and_variables() {
        assert_eq!(
            systemd_quote("audience=a%b$c\"d"),
            r#""audience=a%%b$$c\"d""#
        );
    }
}
