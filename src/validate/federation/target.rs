//! `to`: what the workload becomes, resolved into a [`Goal`].
//!
//! A target is an IAM role to assume (`awsRole`), a Google service account to impersonate
//! (`gcpServiceAccount`), or GCP roles granted to the federated principal itself (`gcpRoles`,
//! "direct resource access"). `to` names exactly one; its other keys each go with one kind.
//!
//! Direct access is granted on `to.project`, by default on the project of the pool the method
//! uses, which is only known after the method step. Rather than build a [`Target`] with an empty
//! project and patch it, the step yields a [`Goal`] that keeps the project optional, and
//! [`Goal::into_target`] resolves it once the method is known.

use std::collections::BTreeSet;

use crate::diag::{Code, Diagnostic};
use crate::model::{GcpGrant, Method, Target};
use crate::validate::inventory::{Inventory, region_in_partition};
use crate::validate::semantic::{Checker, keys};

use super::{Field, Input, OneOf, one_of};

/// Longest AWS role session name.
const MAX_SESSION_NAME: usize = 64;

/// The key of `to` that names the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TargetKind {
    /// `awsRole`: an IAM role.
    AwsRole,
    /// `gcpServiceAccount`: a Google service account.
    GcpServiceAccount,
    /// `gcpRoles`: GCP roles granted directly.
    GcpRoles,
}

impl Field for TargetKind {
    fn field(self) -> &'static str {
        match self {
            TargetKind::AwsRole => "awsRole",
            TargetKind::GcpServiceAccount => "gcpServiceAccount",
            TargetKind::GcpRoles => "gcpRoles",
        }
    }
}

impl TargetKind {
    /// Whether the target is in AWS (else in GCP).
    pub(super) fn is_aws(self) -> bool {
        self == TargetKind::AwsRole
    }
}

/// A resolved `to`: the target, except that direct access may still wait for its project.
#[derive(Debug)]
pub(super) enum Goal {
    /// An IAM role or a Google service account, complete.
    Ready(Target),
    /// GCP roles granted directly.
    GcpRoles {
        /// `to.project`, or `None` for the project of the method's pool.
        project: Option<String>,
        /// Role names, sorted and deduplicated.
        roles: Vec<String>,
        /// `to.gcpGrants`, sorted and deduplicated.
        grants: Vec<GcpGrant>,
    },
}

impl Goal {
    /// The target, once `method` is known. `None` only for direct access through a method other
    /// than a pool, which the method step reports (only a pool leads into GCP).
    pub(super) fn into_target(self, method: &Method, inventory: &Inventory) -> Option<Target> {
        match (self, method) {
            (Goal::Ready(target), _) => Some(target),
            (
                Goal::GcpRoles {
                    project,
                    roles,
                    grants,
                },
                Method::WorkloadIdentityPool { pool, .. },
            ) => Some(Target::GcpRoles {
                project: project.unwrap_or_else(|| inventory.pools[pool.as_str()].project.clone()),
                roles,
                grants,
            }),
            (Goal::GcpRoles { .. }, _) => None,
        }
    }
}

/// The target `to` names; `None` (reported) unless it names exactly one.
pub(super) fn kind(c: &mut Checker<'_>, input: &Input<'_>) -> Option<TargetKind> {
    let to = &input.federation.to;
    let rule = OneOf {
        object: "to",
        noun: ("target", "targets"),
        optional: false,
        help: "give exactly one of `awsRole`, `gcpServiceAccount` or `gcpRoles`; use one federation per target",
    };
    let options = [
        (TargetKind::AwsRole, to.aws_role.is_some()),
        (
            TargetKind::GcpServiceAccount,
            to.gcp_service_account.is_some(),
        ),
        (
            TargetKind::GcpRoles,
            to.gcp_roles.is_some() || to.gcp_grants.is_some(),
        ),
    ];
    one_of(c, input, &rule, &options).ok().flatten()
}

/// Reports the keys of `to` that belong to another kind of target.
pub(super) fn check_fields(c: &mut Checker<'_>, input: &Input<'_>, kind: TargetKind) {
    let to = &input.federation.to;
    let belonging = [
        (
            "sessionName",
            to.session_name.is_some(),
            TargetKind::AwsRole,
        ),
        (
            "sessionDuration",
            to.session_duration.is_some(),
            TargetKind::AwsRole,
        ),
        ("region", to.region.is_some(), TargetKind::AwsRole),
        (
            "tokenLifetimeSeconds",
            to.token_lifetime_seconds.is_some(),
            TargetKind::GcpServiceAccount,
        ),
        ("project", to.project.is_some(), TargetKind::GcpRoles),
        ("gcpGrants", to.gcp_grants.is_some(), TargetKind::GcpRoles),
    ];
    for (field, set, belongs) in belonging {
        if set && belongs != kind {
            c.push(
                Diagnostic::error(
                    Code::ConflictingFields,
                    input.at("to").field(field),
                    format!("`{field}` only applies with `{}`", belongs.field()),
                )
                .help(format!("remove `{field}`"))
                .at_key(),
            );
        }
    }
}

/// Resolves the target `kind` names; `None` when it does not resolve (reported, or the role's
/// account is undeclared, which the inventory reported).
pub(super) fn resolve(c: &mut Checker<'_>, input: &Input<'_>, kind: TargetKind) -> Option<Goal> {
    let to = &input.federation.to;
    let inventory = input.inventory;
    // Each arm reads the key `kind` says is set.
    match kind {
        TargetKind::AwsRole => aws_role(c, input, to.aws_role.as_deref()?).map(Goal::Ready),
        TargetKind::GcpServiceAccount => {
            let email = to.gcp_service_account.as_deref()?;
            if inventory.service_accounts.contains_key(email) {
                Some(Goal::Ready(Target::GcpServiceAccount {
                    email: email.to_owned(),
                    token_lifetime_seconds: to.token_lifetime_seconds,
                }))
            } else {
                c.unknown(
                    input.at("to/gcpServiceAccount"),
                    "service account",
                    email,
                    &keys(&inventory.service_accounts),
                    "gcp.serviceAccounts",
                );
                None
            }
        }
        TargetKind::GcpRoles => Some(gcp_roles(
            c,
            input,
            to.gcp_roles.as_deref().unwrap_or_default(),
        )),
    }
}

fn aws_role(c: &mut Checker<'_>, input: &Input<'_>, reference: &str) -> Option<Target> {
    let to = &input.federation.to;
    let role = input.inventory.role(c, input.at("to/awsRole"), reference)?;
    let account = input.inventory.aws_accounts.get(&role.account)?;
    if let Some(region) = &to.region {
        region_in_partition(c, input.at("to/region"), region, role.partition);
    }
    if let Some(duration) = to.session_duration
        && duration > role.max_session_duration
    {
        c.push(
            Diagnostic::error(
                Code::CloudLimit,
                input.at("to/sessionDuration"),
                format!(
                    "session duration {duration} s exceeds the role's maximum of {} s",
                    role.max_session_duration
                ),
            )
            .help(
                "raise the role's `maxSessionDuration` (up to 43200), or shorten `sessionDuration`",
            ),
        );
    }
    let mut session_name = to
        .session_name
        .clone()
        .unwrap_or_else(|| format!("crossfed-{}", input.federation.name));
    session_name.truncate(MAX_SESSION_NAME);
    Some(Target::AwsRole {
        arn: role.arn.clone(),
        session_name,
        session_duration: to.session_duration,
        region: to.region.clone().unwrap_or_else(|| account.region.clone()),
        partition: role.partition,
    })
}

fn gcp_roles(c: &mut Checker<'_>, input: &Input<'_>, roles: &[String]) -> Goal {
    let to = &input.federation.to;
    let no_grants = to.gcp_grants.as_ref().is_none_or(Vec::is_empty);
    if roles.is_empty() && no_grants {
        let (field, message) = if to.gcp_roles.is_some() {
            ("to/gcpRoles", "`gcpRoles` is empty")
        } else {
            ("to/gcpGrants", "`gcpGrants` is empty")
        };
        c.push(
            Diagnostic::error(Code::MissingField, input.at(field), message).help(
                "list at least one role, e.g. `roles/storage.objectViewer`, on the project (`gcpRoles`) or on one resource (`gcpGrants`)",
            ),
        );
    }
    let mut seen = BTreeSet::new();
    for (j, role) in roles.iter().enumerate() {
        if !seen.insert(role) {
            c.push(
                Diagnostic::error(
                    Code::DuplicateItem,
                    input.at("to/gcpRoles").field(j),
                    format!("role `{role}` is listed twice"),
                )
                .help("remove the repeated role"),
            );
        }
    }
    if let Some(project) = &to.project
        && !input.inventory.gcp_projects.contains_key(project)
    {
        c.unknown(
            input.at("to/project"),
            "project",
            project,
            &keys(&input.inventory.gcp_projects),
            "gcp.projects",
        );
    }
    let grants = crate::validate::inventory::gcp_grants(
        c,
        &input.at("to/gcpGrants"),
        to.gcp_grants.as_deref().unwrap_or_default(),
    );
    Goal::GcpRoles {
        project: to.project.clone(),
        // A `BTreeSet` iterates in order: sorted and deduplicated.
        roles: seen.into_iter().cloned().collect(),
        grants,
    }
}
