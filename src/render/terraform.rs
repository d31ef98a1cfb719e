//! The cloud side as Terraform modules in Terraform's JSON syntax (`*.tf.json`): one module per
//! AWS account (`terraform/aws/<account>/`) and per GCP project (`terraform/gcp/<project>/`),
//! and a root example that wires them (`terraform/main.tf.json`).
//!
//! The modules hold no provider or backend configuration: each module states which provider it
//! needs (`required_providers`, a range of major versions) and the root configures one per
//! account and project. Every value comes from the same plan as the scripts; the trust policy of
//! a role is the very text of its `trust-policy.json`.
//!
//! Resource addresses are derived from the names the clouds know, so they stay put as the spec
//! grows: a role's from its name, a pool's from its id, an OIDC provider's from its issuer.
//! Members and policy attachments, of which a module may hold many, are instances of one
//! resource keyed by what they grant (`for_each`), so the key is the grant itself.
//!
//! In Terraform's JSON syntax every string is a template: `${` and `%{` in a value from the spec
//! are escaped ([`literal`]), so a policy variable such as `${aws:username}` reaches IAM as
//! written.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::grants::Grants;
use super::{FilePlan, Header, PlannedFile, to_json};
use crate::model::{Partition, Pool, policy_document, service_account_home};
use crate::plan::Plan;
use crate::plan::aws::Principal;
use crate::plan::gcp::{ProviderPlan, ProviderSource};

/// The folder of the modules, relative to the output directory.
pub const DIR: &str = "terraform";

/// The versions of the AWS provider the modules are written for. An OIDC provider is declared
/// without `thumbprint_list`, as with the AWS CLI: IAM verifies the issuers it knows with its own
/// CAs, and the provider made the argument optional in 5.81.0
/// (hashicorp/terraform-provider-aws#37255). Every argument used exists with the same meaning in
/// 5.x and 6.x; the interop suite runs `terraform validate` with 5.100.
pub const AWS_PROVIDER_VERSIONS: &str = ">= 5.81, < 7.0";

/// The versions of the Google provider the modules are written for; the interop suite checks
/// every resource type, argument and block against the provider's 6.x schema.
pub const GOOGLE_PROVIDER_VERSIONS: &str = ">= 6.0, < 7.0";

/// The root example's path.
#[must_use]
pub fn root_path() -> String {
    format!("{DIR}/main.tf.json")
}

/// The AWS module's path for `account`.
#[must_use]
pub fn aws_module(account: &str) -> String {
    format!("{DIR}/aws/{account}/main.tf.json")
}

/// The GCP module's path for `project`.
#[must_use]
pub fn gcp_module(project: &str) -> String {
    format!("{DIR}/gcp/{project}/main.tf.json")
}

/// `text` as a literal in Terraform's JSON syntax, where every string is a template.
#[must_use]
pub fn literal(text: &str) -> String {
    text.replace("${", "$${").replace("%{", "%%{")
}

/// A resource name (the second label of an address) for a cloud name. Terraform allows
/// letters, digits, `_` and `-`, and no digit or `-` first. A name that needs no change is used
/// as it is; otherwise other characters become `_` and eight hex digits of the name's SHA-256
/// follow, so two names never meet at one address.
#[must_use]
pub fn address(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let starts_well = out
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !starts_well {
        out.insert(0, '_');
    }
    if out != name {
        let digest = crate::output::sha256(name.as_bytes());
        out.push('_');
        out.push_str(&digest[..8]);
    }
    out
}

/// A `required_providers` entry: `hashicorp/<name>` within `versions`.
fn requirement(name: &str, versions: &str) -> Value {
    json!({"source": format!("hashicorp/{name}"), "version": versions})
}

fn header_comment(header: &Header) -> Value {
    Value::String(header.text().trim().trim_start_matches("# ").to_owned())
}

/// Renders every module and the root example, for the accounts and projects the plan uses.
pub fn render(plan: &Plan, header: &Header, files: &mut FilePlan) {
    let mut accounts = BTreeMap::new();
    for (account, account_plan) in &plan.aws {
        let module = aws_module_value(plan, account, header);
        files.insert(
            aws_module(account),
            PlannedFile::data(to_json(&module), &account_plan.federations()),
        );
        let partition = plan
            .spec
            .aws_accounts
            .get(account)
            .map_or(Partition::Aws, |a| a.partition);
        accounts.insert(account.clone(), partition);
    }
    let projects = gcp_modules(plan, header, files);
    files.insert(
        root_path(),
        PlannedFile::data(
            to_json(&root(header, &accounts, &projects)),
            &std::collections::BTreeSet::new(),
        ),
    );
}

fn aws_module_value(plan: &Plan, account: &str, header: &Header) -> Value {
    let account_plan = &plan.aws[account];
    let mut resources: BTreeMap<&'static str, Map<String, Value>> = BTreeMap::new();
    let mut provider_arns = Map::new();
    // The address of each OIDC provider, by ARN.
    let mut oidc_addresses = BTreeMap::new();
    for provider in account_plan.oidc_providers.values() {
        let name = address(crate::model::issuer_host_path(&provider.issuer));
        resources
            .entry("aws_iam_openid_connect_provider")
            .or_default()
            .insert(
                name.clone(),
                json!({
                    "url": literal(&provider.issuer),
                    "client_id_list": provider.client_ids.iter().map(|c| literal(c)).collect::<Vec<_>>(),
                }),
            );
        provider_arns.insert(
            literal(&provider.issuer),
            json!(format!("${{aws_iam_openid_connect_provider.{name}.arn}}")),
        );
        oidc_addresses.insert(
            provider.arn.as_str(),
            format!("aws_iam_openid_connect_provider.{name}"),
        );
    }
    let mut role_arns = Map::new();
    for role_plan in account_plan.roles.values() {
        let role = &plan.spec.roles[&role_plan.arn];
        let name = address(&role.name);
        let mut body = json!({
            "name": literal(&role.name),
            "path": literal(&role.path),
            "assume_role_policy": literal(&role_plan.policy),
            "max_session_duration": role.max_session_duration,
        });
        // A trust policy names its OIDC providers by ARN, a literal: they are created first.
        let providers: std::collections::BTreeSet<&String> = role_plan
            .statements
            .iter()
            .filter_map(|s| match &s.principal {
                Principal::Federated(arn) => oidc_addresses.get(arn.as_str()),
                Principal::Ec2 => None,
            })
            .collect();
        if !providers.is_empty() {
            body["depends_on"] = json!(providers);
        }
        resources
            .entry("aws_iam_role")
            .or_default()
            .insert(name.clone(), body);
        role_extras(role, &name, &mut resources);
        role_arns.insert(
            literal(&role.name),
            json!(format!("${{aws_iam_role.{name}.arn}}")),
        );
    }
    let mut output = Map::new();
    output.insert(
        "role_arns".to_owned(),
        json!({"description": "ARN of each role, by name.", "value": role_arns}),
    );
    if !provider_arns.is_empty() {
        output.insert(
            "oidc_provider_arns".to_owned(),
            json!({"description": "ARN of each IAM OIDC provider, by issuer URL.", "value": provider_arns}),
        );
    }
    json!({
        "//": header_comment(header),
        "terraform": {
            "required_providers": {
                "aws": requirement("aws", AWS_PROVIDER_VERSIONS),
            },
        },
        "resource": resources,
        "output": output,
    })
}

/// A role's policy attachments, inline policies and instance profile, at the role's address.
fn role_extras(
    role: &crate::model::AwsRole,
    name: &str,
    resources: &mut BTreeMap<&'static str, Map<String, Value>>,
) {
    let role_ref = format!("${{aws_iam_role.{name}.name}}");
    if !role.managed_policy_arns.is_empty() {
        let arns: Map<String, Value> = role
            .managed_policy_arns
            .iter()
            .map(|arn| (literal(arn), json!(literal(arn))))
            .collect();
        resources
            .entry("aws_iam_role_policy_attachment")
            .or_default()
            .insert(
                name.to_owned(),
                json!({"for_each": arns, "role": role_ref, "policy_arn": "${each.value}"}),
            );
    }
    if !role.inline_policies.is_empty() {
        let policies: Map<String, Value> = role
            .inline_policies
            .iter()
            .map(|(policy, statements)| {
                (
                    literal(policy),
                    json!(literal(policy_document(statements).trim_end())),
                )
            })
            .collect();
        resources.entry("aws_iam_role_policy").or_default().insert(
            name.to_owned(),
            json!({
                "for_each": policies,
                "role": format!("${{aws_iam_role.{name}.id}}"),
                "name": "${each.key}",
                "policy": "${each.value}",
            }),
        );
    }
    if role.instance_profile {
        resources
            .entry("aws_iam_instance_profile")
            .or_default()
            .insert(
                name.to_owned(),
                json!({"name": literal(&role.name), "path": literal(&role.path), "role": role_ref}),
            );
    }
}

/// The IAM member resources a GCP module writes, in order: the resource type and the argument
/// that names the resource the member is on.
const MEMBER_KINDS: [(&str, &str); 4] = [
    ("google_service_account_iam_member", "service_account_id"),
    ("google_project_iam_member", "project"),
    ("google_storage_bucket_iam_member", "bucket"),
    ("google_pubsub_topic_iam_member", "topic"),
];

/// A module's IAM member bindings, by position in [`MEMBER_KINDS`].
#[derive(Default)]
struct Members([Map<String, Value>; 4]);

impl Members {
    /// Adds `member` with `role` on `resource` (a service account's email, or a resource name
    /// as [`crate::model::resource_kind`] reads it), keyed by all three.
    fn add(&mut self, plan: &Plan, resource: &str, role: &str, member: &str) {
        let (kind, name) = if resource.contains('@') {
            // The provider wants the account's full name; gcloud's `projects/-` is not stable.
            let project = service_account_home(resource, &plan.spec.gcp_projects)
                .unwrap_or_else(|| "-".to_owned());
            (0, format!("projects/{project}/serviceAccounts/{resource}"))
        } else {
            match crate::model::resource_kind(resource) {
                "bucket" => (2, resource.trim_start_matches("gs://").to_owned()),
                "topic" => (3, resource.to_owned()),
                _ => (1, resource.to_owned()),
            }
        };
        let field = MEMBER_KINDS[kind].1;
        self.0[kind].insert(
            literal(&format!("{resource} {role} {member}")),
            json!({field: literal(&name), "role": literal(role), "member": literal(member)}),
        );
    }

    fn into_resources(self, resources: &mut Map<String, Value>) {
        for ((kind, field), members) in MEMBER_KINDS.into_iter().zip(self.0) {
            if members.is_empty() {
                continue;
            }
            resources.insert(
                kind.to_owned(),
                json!({"crossfed": {
                    "for_each": members,
                    field: format!("${{each.value.{field}}}"),
                    "role": "${each.value.role}",
                    "member": "${each.value.member}",
                }}),
            );
        }
    }
}

/// One project's module as it is gathered.
#[derive(Default)]
struct GcpModule {
    pools: Map<String, Value>,
    providers: Map<String, Value>,
    members: Members,
    provider_names: Map<String, Value>,
    audiences: Map<String, Value>,
    federations: std::collections::BTreeSet<String>,
}

impl GcpModule {
    fn into_value(self, header: &Header) -> Value {
        let mut resources = Map::new();
        if !self.pools.is_empty() {
            resources.insert(
                "google_iam_workload_identity_pool".to_owned(),
                Value::Object(self.pools),
            );
        }
        if !self.providers.is_empty() {
            resources.insert(
                "google_iam_workload_identity_pool_provider".to_owned(),
                Value::Object(self.providers),
            );
        }
        self.members.into_resources(&mut resources);
        let mut value = json!({
            "//": header_comment(header),
            "terraform": {
                "required_providers": {
                    "google": requirement("google", GOOGLE_PROVIDER_VERSIONS),
                },
            },
            "resource": resources,
        });
        if !self.provider_names.is_empty() {
            value["output"] = json!({
                "provider_names": {
                    "description": "Full resource name of each workload-identity pool provider, by POOL/PROVIDER.",
                    "value": self.provider_names,
                },
                "audiences": {
                    "description": "The audience a credential configuration names for each provider, by POOL/PROVIDER.",
                    "value": self.audiences,
                },
            });
        }
        value
    }
}

fn pool_address(pool: &Pool) -> String {
    address(&pool.id)
}

fn provider_body(pool: &Pool, provider: &ProviderPlan) -> Value {
    let mapping: Map<String, Value> = provider
        .attribute_mapping_pairs()
        .into_iter()
        .map(|(k, v)| (literal(k), json!(literal(&v))))
        .collect();
    let mut body = json!({
        "project": literal(&pool.project),
        "workload_identity_pool_id": format!("${{google_iam_workload_identity_pool.{}.workload_identity_pool_id}}", pool_address(pool)),
        "workload_identity_pool_provider_id": literal(&provider.id),
        "attribute_mapping": mapping,
        "attribute_condition": literal(&provider.attribute_condition()),
    });
    match &provider.source {
        ProviderSource::Oidc {
            issuer, audiences, ..
        } => {
            body["oidc"] = json!({
                "issuer_uri": literal(issuer),
                "allowed_audiences": audiences.iter().map(|a| literal(a)).collect::<Vec<_>>(),
            });
        }
        ProviderSource::Aws { account, .. } => {
            body["aws"] = json!({"account_id": literal(account)});
        }
    }
    body
}

/// Renders the GCP modules; returns the projects that got one.
fn gcp_modules(plan: &Plan, header: &Header, files: &mut FilePlan) -> Vec<String> {
    let mut modules: BTreeMap<String, GcpModule> = BTreeMap::new();
    for pool_plan in plan.gcp.pools.values() {
        let pool = &plan.spec.pools[&pool_plan.id];
        let module = modules.entry(pool.project.clone()).or_default();
        module
            .federations
            .extend(pool_plan.federations.iter().cloned());
        let mut body = json!({
            "project": literal(&pool.project),
            "workload_identity_pool_id": literal(&pool.id),
        });
        if let Some(name) = &pool.display_name {
            body["display_name"] = json!(literal(name));
        }
        if let Some(description) = &pool.description {
            body["description"] = json!(literal(description));
        }
        module.pools.insert(pool_address(pool), body);
        for provider in pool_plan.providers.values() {
            let name = format!("{}__{}", pool_address(pool), address(&provider.id));
            module
                .providers
                .insert(name.clone(), provider_body(pool, provider));
            let key = literal(&format!("{}/{}", pool.id, provider.id));
            module.provider_names.insert(
                key.clone(),
                json!(format!(
                    "${{google_iam_workload_identity_pool_provider.{name}.name}}"
                )),
            );
            module
                .audiences
                .insert(key, json!(literal(&pool.provider_audience(&provider.id))));
        }
        for binding in pool_plan.impersonations.iter().chain(&pool_plan.grants) {
            module
                .members
                .add(plan, &binding.resource, &binding.role, &binding.member);
        }
    }
    for (project, bindings) in &plan.gcp.gke_bindings {
        let module = modules.entry(project.clone()).or_default();
        for b in bindings.values() {
            module.federations.extend(b.federations.iter().cloned());
            module.members.add(
                plan,
                &b.service_account,
                "roles/iam.workloadIdentityUser",
                &b.member,
            );
        }
    }
    for (project, grants) in &plan.gcp.service_account_grants {
        let module = modules.entry(project.clone()).or_default();
        for (email, grant) in grants {
            module.members.add(
                plan,
                &grant.resource.name(),
                &grant.role,
                &format!("serviceAccount:{email}"),
            );
        }
    }
    let projects = modules.keys().cloned().collect();
    for (project, module) in modules {
        let federations = module.federations.clone();
        files.insert(
            gcp_module(&project),
            PlannedFile::data(to_json(&module.into_value(header)), &federations),
        );
    }
    projects
}

/// The region an AWS provider of `partition` is configured with: IAM is global, the provider
/// still wants one.
fn iam_region(partition: Partition) -> &'static str {
    match partition {
        Partition::Aws => "us-east-1",
        Partition::AwsCn => "cn-north-1",
        Partition::AwsUsGov => "us-gov-west-1",
    }
}

/// The root example: one provider configuration per account (pinned to it with
/// `allowed_account_ids`) and per project, and each module with its provider.
fn root(header: &Header, accounts: &BTreeMap<String, Partition>, projects: &[String]) -> Value {
    let mut required = Map::new();
    let mut providers = Map::new();
    let mut modules = Map::new();
    if !accounts.is_empty() {
        required.insert("aws".to_owned(), requirement("aws", AWS_PROVIDER_VERSIONS));
        let configs: Vec<Value> = accounts
            .iter()
            .map(|(account, partition)| {
                json!({
                    "alias": format!("account_{account}"),
                    "region": iam_region(*partition),
                    "allowed_account_ids": [account],
                })
            })
            .collect();
        providers.insert("aws".to_owned(), Value::Array(configs));
        for account in accounts.keys() {
            modules.insert(
                format!("aws_{account}"),
                json!({
                    "source": format!("./aws/{account}"),
                    "providers": {"aws": format!("aws.account_{account}")},
                }),
            );
        }
    }
    if !projects.is_empty() {
        required.insert(
            "google".to_owned(),
            requirement("google", GOOGLE_PROVIDER_VERSIONS),
        );
        let configs: Vec<Value> = projects
            .iter()
            .map(|project| json!({"alias": format!("project_{project}"), "project": project}))
            .collect();
        providers.insert("google".to_owned(), Value::Array(configs));
        for project in projects {
            modules.insert(
                format!("gcp_{project}"),
                json!({
                    "source": format!("./gcp/{project}"),
                    "providers": {"google": format!("google.project_{project}")},
                }),
            );
        }
    }
    json!({
        "//": header_comment(header),
        "terraform": {"required_providers": required},
        "provider": providers,
        "module": modules,
    })
}

/// The workload-identity pools and providers that `previous` recorded and `current` no longer
/// holds, by project, as `pool POOL` (the pool and all its providers) or `provider POOL/PROVIDER`.
/// Terraform deletes them, and Google keeps a deleted pool or provider for 30 days, during which
/// its id cannot be used again: the commonest surprise of renaming one.
#[must_use]
pub fn deleted_identities(previous: &Grants, current: &Grants) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (project, before) in &previous.gcp {
        let after = current.gcp.get(project);
        for (pool, providers) in &before.providers {
            let now = after.and_then(|a| a.providers.get(pool));
            match now {
                None => out.push((project.clone(), format!("pool `{pool}`"))),
                Some(now) => out.extend(
                    providers
                        .keys()
                        .filter(|p| !now.contains_key(*p))
                        .map(|p| (project.clone(), format!("provider `{pool}/{p}`"))),
                ),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_name_is_its_own_address_and_others_never_meet() {
        assert_eq!(address("deployer"), "deployer");
        assert_eq!(address("ci-deploy_2"), "ci-deploy_2");
        let dotted = address("deploy.bot");
        let underscored = address("deploy_bot");
        assert!(dotted.starts_with("deploy_bot_"), "{dotted}");
        assert_ne!(dotted, underscored);
        assert_ne!(address("a+b"), address("a=b"));
        // No digit or hyphen first.
        assert!(address("1pool").starts_with("_1pool_"));
        assert!(address("-x").starts_with("_-x_"));
    }

    #[test]
    fn a_dropped_pool_or_provider_is_named_and_a_kept_one_is_not() {
        let grants = |providers: &[(&str, &str)]| {
            let mut g = Grants::default();
            let project = g.gcp.entry("acme".to_owned()).or_default();
            for (pool, provider) in providers {
                project
                    .providers
                    .entry((*pool).to_owned())
                    .or_default()
                    .insert((*provider).to_owned(), "oidc".to_owned());
            }
            g
        };
        let before = grants(&[("a", "one"), ("a", "two"), ("b", "three")]);
        let after = grants(&[("a", "one")]);
        assert_eq!(
            deleted_identities(&before, &after),
            [
                ("acme".to_owned(), "provider `a/two`".to_owned()),
                ("acme".to_owned(), "pool `b`".to_owned())
            ]
        );
        assert!(deleted_identities(&before, &before).is_empty());
    }

    #[test]
    fn template_sequences_are_escaped() {
        assert_eq!(
            literal("arn:aws:s3:::b/${aws:username}/%{x}"),
            "arn:aws:s3:::b/$${aws:username}/%%{x}"
        );
        assert_eq!(literal("plain $ and % and {}"), "plain $ and % and {}");
    }
}
