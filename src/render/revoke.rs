//! `revoke.sh` per AWS account, GCP project and cluster: the revocations of [`super::grants`].

use serde::Serialize;

use super::grants::{Grants, role_key, role_name};
use super::templates::{self, TEMPLATE_AWS_REVOKE, TEMPLATE_GCP_REVOKE, TEMPLATE_K8S_REVOKE};
use super::{FilePlan, Header, PlannedFile, RenderError};
use crate::model::resource_kind;
use crate::plan::Plan;

/// The `Sid` of [`DENY_ALL_TRUST_POLICY`]'s statement.
pub const REVOKED_SID: &str = "CrossfedRevoked";

/// A trust policy that admits no one: what a role crossfed no longer manages keeps.
pub const DENY_ALL_TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"CrossfedRevoked","Effect":"Deny","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:AssumeRoleWithWebIdentity","sts:TagSession"]}]}"#;

#[derive(Serialize)]
struct ClientId<'a> {
    provider: &'a str,
    client_id: &'a str,
}

#[derive(Serialize)]
struct Detach<'a> {
    role: &'a str,
    role_arn: &'a str,
    policy: &'a str,
}

#[derive(Serialize)]
struct Role<'a> {
    arn: &'a str,
    name: &'a str,
    sids: String,
}

#[derive(Serialize)]
struct AwsContext<'a> {
    header: &'a str,
    account: &'a str,
    deny_all: &'static str,
    client_ids: Vec<ClientId<'a>>,
    policies: Vec<Detach<'a>>,
    inline_policies: Vec<Detach<'a>>,
    closed_roles: Vec<Role<'a>>,
    rewritten_roles: Vec<Role<'a>>,
}

#[derive(Serialize)]
struct Binding<'a> {
    resource: &'a str,
    role: &'a str,
    member: &'a str,
}

#[derive(Serialize)]
struct Disable<'a> {
    pool: &'a str,
    provider: &'a str,
    kind: &'a str,
}

#[derive(Serialize)]
struct GcpContext<'a> {
    header: &'a str,
    project: &'a str,
    service_account_bindings: Vec<Binding<'a>>,
    project_bindings: Vec<Binding<'a>>,
    bucket_bindings: Vec<Binding<'a>>,
    topic_bindings: Vec<Binding<'a>>,
    providers: Vec<Disable<'a>>,
}

#[derive(Serialize)]
struct ConfigMap<'a> {
    namespace: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct KubernetesContext<'a> {
    header: &'a str,
    cluster: &'a str,
    config_maps: Vec<ConfigMap<'a>>,
}

/// Adds the script `template` renders from `context` at `path`: a file about the whole tree.
fn script(
    files: &mut FilePlan,
    path: String,
    template: &str,
    context: &impl Serialize,
) -> Result<(), RenderError> {
    let text = templates::render(template, context)?;
    files.insert(
        path,
        PlannedFile::program(text, &std::collections::BTreeSet::new()),
    );
    Ok(())
}

fn sids(set: &std::collections::BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn bindings(
    map: &std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    >,
) -> Vec<Binding<'_>> {
    map.iter()
        .flat_map(|(resource, roles)| {
            roles.iter().flat_map(move |(role, members)| {
                members.iter().map(move |member| Binding {
                    resource,
                    role,
                    member,
                })
            })
        })
        .collect()
}

/// Renders a `revoke.sh` for every account, project and cluster with revocations (a role that
/// `plan` still manages has its revoked statements removed by `apply.sh`).
///
/// # Errors
/// [`RenderError::Template`] on a template bug.
pub fn render(
    revocations: &Grants,
    plan: &Plan,
    header: &Header,
    files: &mut FilePlan,
) -> Result<(), RenderError> {
    render_aws(revocations, plan, header, files)?;
    render_gcp(revocations, header, files)?;
    render_kubernetes(revocations, header, files)
}

fn render_aws(
    revocations: &Grants,
    plan: &Plan,
    header: &Header,
    files: &mut FilePlan,
) -> Result<(), RenderError> {
    for (account, aws) in &revocations.aws {
        let managed = plan.aws.get(account);
        let mut context = AwsContext {
            header: header.text(),
            account,
            deny_all: DENY_ALL_TRUST_POLICY,
            client_ids: Vec::new(),
            policies: Vec::new(),
            inline_policies: Vec::new(),
            closed_roles: Vec::new(),
            rewritten_roles: Vec::new(),
        };
        for (provider, ids) in &aws.oidc_client_ids {
            for client_id in ids {
                context.client_ids.push(ClientId {
                    provider,
                    client_id,
                });
            }
        }
        for (arn, policies) in &aws.attached_policies {
            for policy in policies {
                context.policies.push(Detach {
                    role: role_name(arn),
                    role_arn: arn,
                    policy,
                });
            }
        }
        for (arn, policies) in &aws.inline_policies {
            for policy in policies {
                context.inline_policies.push(Detach {
                    role: role_name(arn),
                    role_arn: arn,
                    policy,
                });
            }
        }
        for (arn, statements) in &aws.trust_statements {
            let role = Role {
                arn,
                name: role_name(arn),
                sids: sids(statements),
            };
            if managed.is_some_and(|m| m.roles.values().any(|r| role_key(&r.arn) == role_key(arn)))
            {
                context.rewritten_roles.push(role);
            } else {
                context.closed_roles.push(role);
            }
        }
        script(
            files,
            super::paths::aws_revoke(account),
            TEMPLATE_AWS_REVOKE,
            &context,
        )?;
    }
    Ok(())
}

fn render_gcp(
    revocations: &Grants,
    header: &Header,
    files: &mut FilePlan,
) -> Result<(), RenderError> {
    for (project, gcp) in &revocations.gcp {
        let (bucket_bindings, topic_bindings) = bindings(&gcp.resource_bindings)
            .into_iter()
            .partition(|b| resource_kind(b.resource) == "bucket");
        let context = GcpContext {
            header: header.text(),
            project,
            service_account_bindings: bindings(&gcp.service_account_bindings),
            project_bindings: bindings(&gcp.project_bindings),
            bucket_bindings,
            topic_bindings,
            providers: gcp
                .providers
                .iter()
                .flat_map(|(pool, providers)| {
                    providers.iter().map(move |(provider, kind)| Disable {
                        pool,
                        provider,
                        kind,
                    })
                })
                .collect(),
        };
        script(
            files,
            super::paths::gcp_revoke(project),
            TEMPLATE_GCP_REVOKE,
            &context,
        )?;
    }
    Ok(())
}

fn render_kubernetes(
    revocations: &Grants,
    header: &Header,
    files: &mut FilePlan,
) -> Result<(), RenderError> {
    for (cluster, k) in &revocations.kubernetes {
        let context = KubernetesContext {
            header: header.text(),
            cluster,
            config_maps: k
                .config_maps
                .iter()
                .flat_map(|(namespace, names)| {
                    names.iter().map(move |name| ConfigMap { namespace, name })
                })
                .collect(),
        };
        script(
            files,
            super::paths::kubernetes_revoke(cluster),
            TEMPLATE_K8S_REVOKE,
            &context,
        )?;
    }
    Ok(())
}
