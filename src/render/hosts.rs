//! Files to install on VMs: GCE hosts that call AWS, EC2 instances that call GCP.
//!
//! A GCE VM gets an AWS shared-config profile plus either a systemd service + timer that keep a
//! Google ID token file fresh (`web_identity_token_file`, read natively by every AWS SDK and the
//! CLI) or, with `tokenDelivery: credentialProcess`, the helper that the profile runs. Nothing
//! else has to be installed on the host: curl is on every GCE image.

use serde::Serialize;

use super::templates::{self, TEMPLATE_GCE_INSTALL, scripts};
use super::{FilePlan, Header, PlannedFile, RenderError, credential_process_profile, to_json};
use crate::model::{Federation, Method, Target, TokenDelivery};
use crate::plan::Plan;

/// The credential config's file name on EC2 hosts.
const GCP_CONFIG_FILE: &str = "credential-configuration.json";

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
    token_group: &'a str,
}

/// The group that may read the ID token a GCE host's refresher writes (`install.sh` creates it;
/// the workload's user joins it). The token is a credential for the role: not world-readable.
pub const TOKEN_GROUP: &str = "crossfed";

fn token_service(f: &Federation, audience: &str, unit: &str, header: &Header) -> String {
    let dir = format!("/run/{unit}");
    format!(
        "{header}[Unit]\nDescription=Refresh the Google ID token of crossfed federation {name} for AWS\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\nGroup={TOKEN_GROUP}\nRuntimeDirectory={unit}\nRuntimeDirectoryMode=0750\nRuntimeDirectoryPreserve=yes\nUMask=0027\nExecStart=/usr/bin/curl -sSf --retry 5 --retry-connrefused --max-time 30 -G --data-urlencode {aud} -H \"Metadata-Flavor: Google\" -o {dir}/token.tmp http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity\nExecStart=/bin/mv -f {dir}/token.tmp {dir}/token\n",
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
/// On a template bug, or when a credential config fails its lint (a crossfed bug).
pub fn render(plan: &Plan, header: &Header, files: &mut FilePlan) -> Result<(), RenderError> {
    for &i in &plan.gce_hosts {
        render_gce(&plan.spec.federations[i], header, files)?;
    }
    for &i in &plan.ec2_hosts {
        let f = &plan.spec.federations[i];
        let Some(config) = super::credential_config(plan, &f.name) else {
            continue;
        };
        let dir = format!("hosts/ec2/{}", f.name);
        let path = format!("/etc/crossfed/gcp/{}/{GCP_CONFIG_FILE}", f.name);
        files.insert(
            format!("{dir}/{GCP_CONFIG_FILE}"),
            PlannedFile::data(to_json(config), [&f.name]),
        );
        files.insert(
            format!("{dir}/environment"),
            PlannedFile::data(
                format!("{}# Install {GCP_CONFIG_FILE} at {path}, then load this file (systemd EnvironmentFile=, or `set -a; . ./environment`).\nGOOGLE_APPLICATION_CREDENTIALS={path}\nCLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE={path}\n", header.hash()),
                [&f.name],
            ),
        );
    }
    Ok(())
}

/// A GCE VM's files: the AWS profile, and the token service + timer or the helper.
fn render_gce(f: &Federation, header: &Header, files: &mut FilePlan) -> Result<(), RenderError> {
    let (
        Method::GoogleIdToken {
            audience, delivery, ..
        },
        target @ Target::AwsRole {
            arn,
            session_name,
            region,
            ..
        },
    ) = (&f.method, &f.target)
    else {
        return Ok(());
    };
    let own = [&f.name];
    let dir = format!("hosts/gce/{}", f.name);
    let unit = format!("crossfed-aws-token-{}", f.name);
    let credential_process = *delivery == TokenDelivery::CredentialProcess;
    let profile = if credential_process {
        let Some(profile) = credential_process_profile(&f.name, audience, target, GCE_HELPER)
        else {
            return Ok(());
        };
        files.insert(
            format!("{dir}/aws-credential-process"),
            PlannedFile::program(scripts::AWS_CREDENTIAL_PROCESS.to_owned(), own),
        );
        profile
    } else {
        files.insert(
            format!("{dir}/{unit}.service"),
            PlannedFile::data(token_service(f, audience, &unit, header), own),
        );
        files.insert(
            format!("{dir}/{unit}.timer"),
            PlannedFile::data(token_timer(f, &unit, header), own),
        );
        format!(
            "[profile {}]\nrole_arn = {arn}\nweb_identity_token_file = /run/{unit}/token\nrole_session_name = {session_name}\nregion = {region}\nsts_regional_endpoints = regional\n",
            f.name
        )
    };
    files.insert(
        format!("{dir}/aws-config"),
        PlannedFile::data(format!("{}{profile}", header.hash()), own),
    );
    let context = InstallContext {
        header: header.text(),
        federation: &f.name,
        unit,
        config_dir: format!("/etc/crossfed/aws/{}", f.name),
        credential_process,
        helper: GCE_HELPER,
        token_group: TOKEN_GROUP,
    };
    files.insert(
        format!("{dir}/install.sh"),
        PlannedFile::program(templates::render(TEMPLATE_GCE_INSTALL, &context)?, own),
    );
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
