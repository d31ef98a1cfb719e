//! GCP files: gcloud scripts for GKE Workload Identity bindings and for workload-identity
//! pools, providers and IAM bindings; `external_account` credential configs, per pool.
//!
//! The `create-cred-configs.sh` of each pool runs exactly the gcloud commands whose output the
//! credential configs reproduce, so a reviewer can diff the two.

use std::collections::BTreeSet;

use serde::Serialize;

use super::templates::{self, TEMPLATE_GCP_POOL, TEMPLATE_GKE_BINDINGS, TEMPLATE_SA_GRANTS};
use super::{FilePlan, Header, PlannedFile, RenderError, to_json};
use crate::model::GcpResource;
use crate::model::{Method, Pool, ProviderKind, Target};
use crate::plan::Plan;
use crate::plan::gcp::{Binding, GCP_TOKEN_DIR, ProviderPlan, ProviderSource};

/// Context of `gke-workload-identity.sh`. Fields are load-bearing: used by
/// templates/gke-workload-identity.sh.tera.
#[derive(Debug, Serialize)]
struct GkeBindingsContext<'a> {
    header: &'a str,
    project: &'a str,
    bindings: Vec<GkeBinding<'a>>,
}

#[derive(Debug, Serialize)]
struct GkeBinding<'a> {
    service_account: &'a str,
    member: &'a str,
    federations: String,
}

/// Context of `gcp-pool.sh` and `gcp-create-cred-configs.sh`. Fields are load-bearing: used by
/// templates/gcp-pool.sh.tera and templates/gcp-create-cred-configs.sh.tera.
#[derive(Debug, Serialize)]
struct PoolContext<'a> {
    header: &'a str,
    pool: &'a Pool,
    providers: Vec<ProviderContext>,
    impersonations: Vec<BindingContext<'a>>,
    grants: Vec<BindingContext<'a>>,
    cred_configs: Vec<CredConfigCommand>,
}

/// A provider, as its gcloud command needs it.
#[derive(Debug, Serialize)]
struct ProviderContext {
    id: String,
    kind: &'static str,
    /// Issuer URL (OIDC) or account id (AWS).
    source: String,
    allowed_audiences: String,
    attribute_mapping: String,
    attribute_condition: String,
    federations: String,
}

#[derive(Debug, Serialize)]
struct BindingContext<'a> {
    resource: &'a str,
    /// `project`, `bucket` or `topic` ([`crate::model::resource_kind`]).
    kind: &'static str,
    role: &'a str,
    member: &'a str,
    federation: &'a str,
}

#[derive(Debug, Serialize)]
struct CredConfigCommand {
    federation: String,
    provider_resource: String,
    source_flags: Vec<String>,
    service_account: Option<String>,
    token_lifetime_seconds: Option<u32>,
}

fn joined<'a>(names: impl IntoIterator<Item = &'a String>) -> String {
    names
        .into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn provider_context(provider: &ProviderPlan) -> ProviderContext {
    let (kind, source, allowed_audiences) = match &provider.source {
        ProviderSource::Oidc {
            issuer, audiences, ..
        } => (
            "oidc",
            issuer.clone(),
            audiences.iter().cloned().collect::<Vec<_>>().join(","),
        ),
        ProviderSource::Aws { account, .. } => ("aws", account.clone(), String::new()),
    };
    ProviderContext {
        id: provider.id.clone(),
        kind,
        source,
        allowed_audiences,
        attribute_mapping: provider.attribute_mapping(),
        attribute_condition: provider.attribute_condition(),
        federations: joined(&provider.federations),
    }
}

fn binding_context(binding: &Binding) -> BindingContext<'_> {
    BindingContext {
        resource: &binding.resource,
        kind: crate::model::resource_kind(&binding.resource),
        role: &binding.role,
        member: &binding.member,
        federation: &binding.federation,
    }
}

/// Renders every GCP file; the gcloud scripts only with `scripts` (the credential configs are
/// the workloads' side, written either way).
///
/// # Errors
/// On a template bug, or when a credential config fails its lint (a crossfed bug).
pub fn render(
    plan: &Plan,
    header: &Header,
    scripts: bool,
    files: &mut FilePlan,
) -> Result<(), RenderError> {
    if scripts {
        render_gke_bindings(plan, header, files)?;
        render_service_account_grants(plan, header, files)?;
    }
    for pool_plan in plan.gcp.pools.values() {
        let pool = &plan.spec.pools[&pool_plan.id];
        let dir = super::paths::pool_dir(pool);
        let mut context = PoolContext {
            header: header.text(),
            pool,
            providers: pool_plan.providers.values().map(provider_context).collect(),
            impersonations: pool_plan
                .impersonations
                .iter()
                .map(binding_context)
                .collect(),
            grants: pool_plan.grants.iter().map(binding_context).collect(),
            cred_configs: Vec::new(),
        };
        for name in &pool_plan.credential_configs {
            let Some(config) = super::credential_config(plan, name) else {
                continue;
            };
            let Some(f) = plan.federation(name) else {
                continue;
            };
            let Method::WorkloadIdentityPool {
                provider,
                provider_kind,
                ..
            } = &f.method
            else {
                continue;
            };
            files.insert(
                super::paths::credential_config(pool, name),
                PlannedFile::data(to_json(config), [name]),
            );
            let source_flags = match provider_kind {
                ProviderKind::Oidc { .. } => vec![
                    format!("--credential-source-file={GCP_TOKEN_DIR}/token"),
                    "--credential-source-type=text".to_owned(),
                ],
                ProviderKind::Aws { .. } => vec!["--aws".to_owned(), "--enable-imdsv2".to_owned()],
            };
            let (service_account, token_lifetime_seconds) = match &f.target {
                Target::GcpServiceAccount {
                    email,
                    token_lifetime_seconds,
                } => (Some(email.clone()), *token_lifetime_seconds),
                _ => (None, None),
            };
            context.cred_configs.push(CredConfigCommand {
                federation: name.clone(),
                provider_resource: pool.provider_resource(provider),
                source_flags,
                service_account,
                token_lifetime_seconds,
            });
        }
        if !scripts {
            continue;
        }
        files.insert(
            super::paths::pool_apply(pool),
            PlannedFile::program(
                templates::render(TEMPLATE_GCP_POOL, &context)?,
                &pool_plan.federations,
            ),
        );
        files.insert(
            format!("{dir}/create-cred-configs.sh"),
            PlannedFile::program(
                templates::render(templates::TEMPLATE_GCP_CRED_CONFIGS, &context)?,
                &pool_plan.credential_configs,
            ),
        );
    }
    Ok(())
}

#[derive(Serialize)]
struct SaGrantsContext<'a> {
    header: &'a str,
    project: &'a str,
    grants: Vec<SaGrant>,
}

#[derive(Serialize)]
struct SaGrant {
    member: String,
    role: String,
    kind: &'static str,
    resource: String,
}

/// The Google service accounts' own grants, per project of the accounts
/// (`service-account-grants.sh`), from the plan's grouping.
fn render_service_account_grants(
    plan: &Plan,
    header: &Header,
    files: &mut FilePlan,
) -> Result<(), RenderError> {
    for (project, grants) in &plan.gcp.service_account_grants {
        let context = SaGrantsContext {
            header: header.text(),
            project,
            grants: grants
                .iter()
                .map(|(email, g)| SaGrant {
                    member: format!("serviceAccount:{email}"),
                    role: g.role.clone(),
                    kind: match g.resource {
                        GcpResource::Bucket(_) => "bucket",
                        GcpResource::Topic(_) => "topic",
                        GcpResource::Project(_) => "project",
                    },
                    resource: g.resource.name(),
                })
                .collect(),
        };
        files.insert(
            super::paths::service_account_grants(project),
            PlannedFile::program(
                templates::render(TEMPLATE_SA_GRANTS, &context)?,
                &BTreeSet::new(),
            ),
        );
    }
    Ok(())
}

fn render_gke_bindings(
    plan: &Plan,
    header: &Header,
    files: &mut FilePlan,
) -> Result<(), RenderError> {
    for (project, bindings) in &plan.gcp.gke_bindings {
        let federations: BTreeSet<String> = bindings
            .values()
            .flat_map(|b| b.federations.iter().cloned())
            .collect();
        let context = GkeBindingsContext {
            header: header.text(),
            project,
            bindings: bindings
                .values()
                .map(|b| GkeBinding {
                    service_account: &b.service_account,
                    member: &b.member,
                    federations: joined(&b.federations),
                })
                .collect(),
        };
        files.insert(
            super::paths::gke_bindings(project),
            PlannedFile::program(
                templates::render(TEMPLATE_GKE_BINDINGS, &context)?,
                &federations,
            ),
        );
    }
    Ok(())
}
