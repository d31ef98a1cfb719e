//! Every cloud grant the rendered output creates, as recorded in the manifest, and what a render
//! revokes when the spec no longer grants what an earlier render did.
//!
//! The apply scripts only add: deleting a federation from the spec drops its lines, but the
//! binding, the attached policy or the client id it created stays live. So the manifest records
//! the grants in structured form, keyed the way each script names them, and a render compares
//! them with the previous manifest's: what the previous render granted and this one does not is
//! a revocation, written into a `revoke.sh` per account, project and cluster and listed in the
//! output README. Revocations are carried from render to render (the manifest records them too)
//! until `render --forget-revocations` says they were run; one the spec grants again is dropped
//! at once, so a revoke script never removes a grant the spec holds.
//!
//! Roles, pools, providers and clusters' objects that crossfed created are never deleted here:
//! a role no longer targeted loses every statement crossfed wrote (its trust policy becomes one
//! that denies every principal) and its attached policies; a provider no longer used is
//! disabled, which can be undone, where a deleted provider id cannot be reused for 30 days.
//!
//! The previous manifest comes from the output directory, which anyone can change in a pull
//! request: [`Grants::check`] refuses values that are not plain names before any reaches a script
//! (they are shell-quoted there too), and the revocations show in the diff of the pull request.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{GcpResource, Method, TokenDelivery};
use crate::plan::Plan;
use crate::plan::gcp::ProviderSource;

/// The grants of a rendered tree, by account, project and cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Grants {
    /// By AWS account id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aws: BTreeMap<String, AwsGrants>,
    /// By GCP project id: what that project's scripts grant.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub gcp: BTreeMap<String, GcpGrants>,
    /// By cluster name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kubernetes: BTreeMap<String, KubernetesGrants>,
}

/// What `aws/<account>/apply.sh` grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsGrants {
    /// Client ids (audiences) added to each IAM OIDC provider, by provider ARN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub oidc_client_ids: BTreeMap<String, BTreeSet<String>>,
    /// The statements (by `Sid`) of each role's trust policy, by role ARN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trust_statements: BTreeMap<String, BTreeSet<String>>,
    /// Managed policies attached to each role, by role ARN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attached_policies: BTreeMap<String, BTreeSet<String>>,
    /// Inline policies (by name) of each role, by role ARN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inline_policies: BTreeMap<String, BTreeSet<String>>,
}

/// What the scripts of `gcp/<project>/` grant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcpGrants {
    /// IAM bindings on Google service accounts: email → role → members.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_account_bindings: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// IAM bindings on projects: project → role → members.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub project_bindings: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// IAM bindings on buckets (`gs://NAME`) and Pub/Sub topics (`projects/P/topics/T`):
    /// resource → role → members.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resource_bindings: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// Workload-identity pool providers: pool → provider → kind (`oidc` or `aws`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<String, BTreeMap<String, String>>,
}

/// What `kubernetes/<cluster>/` creates that grants access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesGrants {
    /// ConfigMaps holding credential configs or `credential_process` profiles: namespace → names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config_maps: BTreeMap<String, BTreeSet<String>>,
}

/// The name of the ConfigMap that holds the credential config of federation `name`.
#[must_use]
pub fn gcp_config_map(name: &str) -> String {
    format!("crossfed-gcp-{name}")
}

/// The name of the ConfigMap that holds the `credential_process` profiles of Kubernetes service
/// account `ksa`.
#[must_use]
pub fn aws_config_map(ksa: &str) -> String {
    format!("crossfed-aws-{ksa}")
}

fn add(map: &mut BTreeMap<String, BTreeSet<String>>, key: &str, value: &str) {
    map.entry(key.to_owned())
        .or_default()
        .insert(value.to_owned());
}

fn add_binding(
    map: &mut BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    resource: &str,
    role: &str,
    member: &str,
) {
    add(map.entry(resource.to_owned()).or_default(), role, member);
}

impl Grants {
    /// The grants the output of `plan` creates.
    #[must_use]
    pub fn of(plan: &Plan) -> Grants {
        let mut grants = Grants::default();
        for (account, aws) in &plan.aws {
            let out = grants.aws.entry(account.clone()).or_default();
            for provider in aws.oidc_providers.values() {
                for client_id in &provider.client_ids {
                    add(&mut out.oidc_client_ids, &provider.arn, client_id);
                }
            }
            for role in aws.roles.values() {
                for statement in &role.statements {
                    add(&mut out.trust_statements, &role.arn, &statement.sid);
                }
                if let Some(declared) = plan.spec.roles.get(&role.arn) {
                    for policy in &declared.managed_policy_arns {
                        add(&mut out.attached_policies, &role.arn, policy);
                    }
                    for name in declared.inline_policies.keys() {
                        add(&mut out.inline_policies, &role.arn, name);
                    }
                }
            }
        }
        gcp_grants(plan, &mut grants);
        for ((cluster, namespace), folder) in &plan.kubernetes {
            let out = grants.kubernetes.entry(cluster.clone()).or_default();
            for workload in folder.workloads.values() {
                for &position in &workload.federations {
                    let f = &plan.spec.federations[position];
                    if crate::render::credential_config(plan, &f.name).is_some() {
                        add(&mut out.config_maps, namespace, &gcp_config_map(&f.name));
                    }
                    if matches!(
                        f.method,
                        Method::GoogleIdToken {
                            delivery: TokenDelivery::CredentialProcess,
                            ..
                        }
                    ) {
                        add(
                            &mut out.config_maps,
                            namespace,
                            &aws_config_map(&workload.service_account),
                        );
                    }
                }
            }
        }
        grants.prune();
        grants
    }

    /// Whether it grants nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.aws.is_empty() && self.gcp.is_empty() && self.kubernetes.is_empty()
    }

    /// Drops empty entries, so that equal grants serialize equally.
    fn prune(&mut self) {
        for aws in self.aws.values_mut() {
            prune_sets(&mut aws.oidc_client_ids);
            prune_sets(&mut aws.trust_statements);
            prune_sets(&mut aws.attached_policies);
            prune_sets(&mut aws.inline_policies);
        }
        self.aws.retain(|_, a| *a != AwsGrants::default());
        for gcp in self.gcp.values_mut() {
            prune_bindings(&mut gcp.service_account_bindings);
            prune_bindings(&mut gcp.project_bindings);
            prune_bindings(&mut gcp.resource_bindings);
            gcp.providers.retain(|_, p| !p.is_empty());
        }
        self.gcp.retain(|_, g| *g != GcpGrants::default());
        for k in self.kubernetes.values_mut() {
            prune_sets(&mut k.config_maps);
        }
        self.kubernetes
            .retain(|_, k| *k != KubernetesGrants::default());
    }

    /// What `self` grants and `other` does not. Grants are compared the way each cloud
    /// identifies them: a role by its account and its name without case (whatever the ARN's
    /// path), and an IAM binding wherever it was recorded (a binding on a service account is one
    /// binding, whichever project's script adds it).
    #[must_use]
    pub fn minus(&self, other: &Grants) -> Grants {
        let mut out = Grants::default();
        // What `other` lacks is compared with nothing (borrowed: the grants of a whole
        // organisation are megabytes, and `revocations` takes each side from the other).
        let (no_aws, no_gcp, no_kubernetes) = (
            AwsGrants::default(),
            GcpGrants::default(),
            KubernetesGrants::default(),
        );
        for (account, mine) in &self.aws {
            let theirs = other.aws.get(account).unwrap_or(&no_aws);
            out.aws.insert(
                account.clone(),
                AwsGrants {
                    oidc_client_ids: sets_minus(&mine.oidc_client_ids, &theirs.oidc_client_ids),
                    trust_statements: roles_minus(&mine.trust_statements, &theirs.trust_statements),
                    attached_policies: roles_minus(
                        &mine.attached_policies,
                        &theirs.attached_policies,
                    ),
                    inline_policies: roles_minus(&mine.inline_policies, &theirs.inline_policies),
                },
            );
        }
        let mut their_sa_bindings = BTreeMap::new();
        let mut their_project_bindings = BTreeMap::new();
        let mut their_resource_bindings = BTreeMap::new();
        for theirs in other.gcp.values() {
            bindings_union(&mut their_sa_bindings, &theirs.service_account_bindings);
            bindings_union(&mut their_project_bindings, &theirs.project_bindings);
            bindings_union(&mut their_resource_bindings, &theirs.resource_bindings);
        }
        for (project, mine) in &self.gcp {
            let theirs = other.gcp.get(project).unwrap_or(&no_gcp);
            let mut providers = mine.providers.clone();
            for (pool, kept) in &theirs.providers {
                if let Some(mine) = providers.get_mut(pool) {
                    mine.retain(|id, _| !kept.contains_key(id));
                }
            }
            out.gcp.insert(
                project.clone(),
                GcpGrants {
                    service_account_bindings: bindings_minus(
                        &mine.service_account_bindings,
                        &their_sa_bindings,
                    ),
                    project_bindings: bindings_minus(
                        &mine.project_bindings,
                        &their_project_bindings,
                    ),
                    resource_bindings: bindings_minus(
                        &mine.resource_bindings,
                        &their_resource_bindings,
                    ),
                    providers,
                },
            );
        }
        for (cluster, mine) in &self.kubernetes {
            let theirs = other.kubernetes.get(cluster).unwrap_or(&no_kubernetes);
            out.kubernetes.insert(
                cluster.clone(),
                KubernetesGrants {
                    config_maps: sets_minus(&mine.config_maps, &theirs.config_maps),
                },
            );
        }
        out.prune();
        out
    }

    /// Everything either grants.
    #[must_use]
    pub fn union(&self, other: &Grants) -> Grants {
        let mut out = self.clone();
        for (account, theirs) in &other.aws {
            let mine = out.aws.entry(account.clone()).or_default();
            sets_union(&mut mine.oidc_client_ids, &theirs.oidc_client_ids);
            sets_union(&mut mine.trust_statements, &theirs.trust_statements);
            sets_union(&mut mine.attached_policies, &theirs.attached_policies);
            sets_union(&mut mine.inline_policies, &theirs.inline_policies);
        }
        for (project, theirs) in &other.gcp {
            let mine = out.gcp.entry(project.clone()).or_default();
            bindings_union(
                &mut mine.service_account_bindings,
                &theirs.service_account_bindings,
            );
            bindings_union(&mut mine.project_bindings, &theirs.project_bindings);
            bindings_union(&mut mine.resource_bindings, &theirs.resource_bindings);
            for (pool, providers) in &theirs.providers {
                let kept = mine.providers.entry(pool.clone()).or_default();
                for (id, kind) in providers {
                    kept.entry(id.clone()).or_insert_with(|| kind.clone());
                }
            }
        }
        for (cluster, theirs) in &other.kubernetes {
            let mine = out.kubernetes.entry(cluster.clone()).or_default();
            sets_union(&mut mine.config_maps, &theirs.config_maps);
        }
        out.prune();
        out
    }

    /// The revocations a render of `self` writes after a render that recorded `previous` grants
    /// and `pending` revocations: what was granted before and is not now, plus what was pending,
    /// less anything granted now.
    #[must_use]
    pub fn revocations(&self, previous: &Grants, pending: &Grants) -> Grants {
        // A render into an up-to-date tree finds the grants it recorded: nothing was dropped,
        // which comparing tells without copying an organisation's grants as `minus` does.
        let dropped = if previous == self {
            Grants::default()
        } else {
            previous.minus(self)
        };
        dropped.union(&pending.minus(self))
    }

    /// Checks grants read from a manifest, which anyone can edit: every name is printable ASCII
    /// without spaces or backquotes (shell-quoted in scripts, code in Markdown), and the
    /// account, project and cluster keys are plain path segments.
    ///
    /// # Errors
    /// The first value that is not, described.
    pub fn check(&self) -> Result<(), String> {
        let mut values: Vec<&str> = Vec::new();
        let mut keys: Vec<&str> = Vec::new();
        for (account, aws) in &self.aws {
            keys.push(account);
            for map in [
                &aws.oidc_client_ids,
                &aws.trust_statements,
                &aws.attached_policies,
                &aws.inline_policies,
            ] {
                collect_sets(map, &mut values);
            }
        }
        for (project, gcp) in &self.gcp {
            keys.push(project);
            for map in [
                &gcp.service_account_bindings,
                &gcp.project_bindings,
                &gcp.resource_bindings,
            ] {
                for (resource, roles) in map {
                    values.push(resource);
                    collect_sets(roles, &mut values);
                }
            }
            for (pool, providers) in &gcp.providers {
                keys.push(pool);
                for (id, kind) in providers {
                    keys.push(id);
                    if kind != "oidc" && kind != "aws" {
                        return Err(format!(
                            "provider `{id}` has kind `{kind}`, not `oidc` or `aws`"
                        ));
                    }
                }
            }
        }
        for (cluster, k) in &self.kubernetes {
            keys.push(cluster);
            for (namespace, names) in &k.config_maps {
                keys.push(namespace);
                keys.extend(names.iter().map(String::as_str));
            }
        }
        if let Some(bad) = keys.iter().find(|k| !plain_segment(k)) {
            return Err(format!(
                "`{}` is not a plain name (letters, digits, `.`, `_`, `-`)",
                bad.escape_default()
            ));
        }
        if let Some(bad) = values.iter().find(|v| !plain_value(v)) {
            return Err(format!(
                "`{}` is not a name crossfed writes (printable ASCII, no spaces or backquotes)",
                bad.escape_default()
            ));
        }
        Ok(())
    }
}

/// The GCP grants of `plan`, into `grants`: GKE bindings, pool providers, impersonation
/// bindings and grants, and the service accounts' own grants.
fn gcp_grants(plan: &Plan, grants: &mut Grants) {
    for (project, bindings) in &plan.gcp.gke_bindings {
        let out = grants.gcp.entry(project.clone()).or_default();
        for binding in bindings.values() {
            add_binding(
                &mut out.service_account_bindings,
                &binding.service_account,
                "roles/iam.workloadIdentityUser",
                &binding.member,
            );
        }
    }
    for pool in plan.gcp.pools.values() {
        let Some(declared) = plan.spec.pools.get(&pool.id) else {
            continue;
        };
        let out = grants.gcp.entry(declared.project.clone()).or_default();
        for provider in pool.providers.values() {
            let kind = match provider.source {
                ProviderSource::Oidc { .. } => "oidc",
                ProviderSource::Aws { .. } => "aws",
            };
            out.providers
                .entry(pool.id.clone())
                .or_default()
                .insert(provider.id.clone(), kind.to_owned());
        }
        for b in &pool.impersonations {
            add_binding(
                &mut out.service_account_bindings,
                &b.resource,
                &b.role,
                &b.member,
            );
        }
        for b in &pool.grants {
            let map = match crate::model::resource_kind(&b.resource) {
                "project" => &mut out.project_bindings,
                _ => &mut out.resource_bindings,
            };
            add_binding(map, &b.resource, &b.role, &b.member);
        }
    }
    for (project, grants_of) in &plan.gcp.service_account_grants {
        let out = grants.gcp.entry(project.clone()).or_default();
        for (email, grant) in grants_of {
            let member = format!("serviceAccount:{email}");
            let map = match grant.resource {
                GcpResource::Project(_) => &mut out.project_bindings,
                GcpResource::Bucket(_) | GcpResource::Topic(_) => &mut out.resource_bindings,
            };
            add_binding(map, &grant.resource.name(), &grant.role, &member);
        }
    }
}

fn plain_segment(text: &str) -> bool {
    (1..=253).contains(&text.len())
        && text != "."
        && text != ".."
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn plain_value(text: &str) -> bool {
    (1..=2048).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic() && b != b'`')
}

fn collect_sets<'a>(map: &'a BTreeMap<String, BTreeSet<String>>, out: &mut Vec<&'a str>) {
    for (key, set) in map {
        out.push(key);
        out.extend(set.iter().map(String::as_str));
    }
}

fn prune_sets(map: &mut BTreeMap<String, BTreeSet<String>>) {
    map.retain(|_, set| !set.is_empty());
}

fn prune_bindings(map: &mut BTreeMap<String, BTreeMap<String, BTreeSet<String>>>) {
    for roles in map.values_mut() {
        prune_sets(roles);
    }
    map.retain(|_, roles| !roles.is_empty());
}

fn sets_minus(
    mine: &BTreeMap<String, BTreeSet<String>>,
    theirs: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, BTreeSet<String>> {
    mine.iter()
        .map(|(key, set)| {
            let kept = match theirs.get(key) {
                Some(other) => set.difference(other).cloned().collect(),
                None => set.clone(),
            };
            (key.clone(), kept)
        })
        .collect()
}

fn bindings_minus(
    mine: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    theirs: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    mine.iter()
        .map(|(resource, roles)| {
            let kept = match theirs.get(resource) {
                Some(other) => sets_minus(roles, other),
                None => roles.clone(),
            };
            (resource.clone(), kept)
        })
        .collect()
}

/// `mine` less `theirs`, for maps keyed by role ARN: a role is matched by its name without case
/// (the account is the caller's key), as IAM identifies it.
fn roles_minus(
    mine: &BTreeMap<String, BTreeSet<String>>,
    theirs: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_role: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (arn, set) in theirs {
        by_role
            .entry(role_key(arn))
            .or_default()
            .extend(set.iter().cloned());
    }
    mine.iter()
        .map(|(arn, set)| {
            let kept = match by_role.get(&role_key(arn)) {
                Some(other) => set.difference(other).cloned().collect(),
                None => set.clone(),
            };
            (arn.clone(), kept)
        })
        .collect()
}

/// How IAM tells roles of one account apart: by name, without case.
#[must_use]
pub fn role_key(arn: &str) -> String {
    role_name(arn).to_lowercase()
}

fn bindings_union(
    mine: &mut BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    theirs: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
) {
    for (resource, roles) in theirs {
        sets_union(mine.entry(resource.clone()).or_default(), roles);
    }
}

fn sets_union(
    mine: &mut BTreeMap<String, BTreeSet<String>>,
    theirs: &BTreeMap<String, BTreeSet<String>>,
) {
    for (key, set) in theirs {
        mine.entry(key.clone())
            .or_default()
            .extend(set.iter().cloned());
    }
}

/// The role name of a role ARN (`arn:aws:iam::1:role/path/name` → `name`).
#[must_use]
pub fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(role: &str, sid: &str) -> Grants {
        let mut grants = Grants::default();
        let account = grants.aws.entry("111122223333".to_owned()).or_default();
        add(&mut account.trust_statements, role, sid);
        grants
    }

    fn sa_binding(project: &str, email: &str, member: &str) -> Grants {
        let mut grants = Grants::default();
        let scope = grants.gcp.entry(project.to_owned()).or_default();
        add_binding(
            &mut scope.service_account_bindings,
            email,
            "roles/iam.workloadIdentityUser",
            member,
        );
        grants
    }

    #[test]
    fn a_role_is_one_role_whatever_its_path_and_case() {
        let before = aws("arn:aws:iam::111122223333:role/team/Reader", "Sync");
        let after = aws("arn:aws:iam::111122223333:role/reader", "Sync");
        assert!(before.minus(&after).is_empty());
        let other = aws("arn:aws:iam::111122223333:role/writer", "Sync");
        assert_eq!(before.minus(&other), before);
    }

    #[test]
    fn a_binding_is_kept_whichever_project_now_adds_it() {
        let email = "app@acme-prod.iam.gserviceaccount.com";
        let before = sa_binding("acme-prod", email, "principal://x");
        let moved = sa_binding("acme-ops", email, "principal://x");
        assert!(before.minus(&moved).is_empty());
        assert!(before.revocations(&before, &Grants::default()).is_empty());
        let gone = sa_binding("acme-ops", email, "principal://y");
        assert_eq!(before.minus(&gone), before);
    }

    #[test]
    fn pending_revocations_are_carried_until_granted_again() {
        let old = aws("arn:aws:iam::111122223333:role/a", "Old");
        let now = aws("arn:aws:iam::111122223333:role/a", "New");
        let pending = now.revocations(&old, &Grants::default());
        assert_eq!(pending, old);
        // The next render of the same spec: still pending.
        assert_eq!(now.revocations(&now, &pending), old);
        // The spec grants it again: dropped.
        let both = now.union(&old);
        assert!(both.revocations(&both, &pending).is_empty());
    }

    #[test]
    fn grants_read_from_a_manifest_must_be_plain() {
        assert!(
            aws("arn:aws:iam::111122223333:role/a", "Sid")
                .check()
                .is_ok()
        );
        for bad in ["a b", "a`b", "", "x\ny", "é"] {
            assert!(aws(bad, "Sid").check().is_err(), "{bad:?}");
        }
        let mut traversal = Grants::default();
        traversal
            .aws
            .insert("../../etc".to_owned(), AwsGrants::default());
        assert!(traversal.check().is_err());
        let mut kind = Grants::default();
        kind.gcp
            .entry("acme-prod".to_owned())
            .or_default()
            .providers
            .entry("pool".to_owned())
            .or_default()
            .insert("p".to_owned(), "saml; rm -rf /".to_owned());
        assert!(kind.check().is_err());
    }
}
