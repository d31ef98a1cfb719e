//! `via`: how the target's cloud comes to trust the workload, resolved into a [`Method`].
//!
//! Three methods exist. Into AWS: a Google service account's ID token (`googleServiceAccount`,
//! for GKE pods and GCE VMs) or the cluster issuer through an IAM OIDC provider
//! (`awsOidcProvider`, for GKE and EKS pods). Into GCP: a workload-identity pool provider
//! (`pool`), OIDC for EKS pods and AWS for EC2 roles. `via` names at most one; left out, the
//! method follows from the source and target where only one fits ([`choose`]). Its other keys
//! each apply to some methods ([`check_fields`]).
//!
//! Every default a method needs (the token audience, the provider id, the pool itself) is
//! resolved here, so the model carries no optional method settings.

use crate::config::{ProviderType, TokenDelivery};
use crate::diag::{Code, Diagnostic};
use crate::model::{self, ClusterKind, Method, ProviderKind, Target};
use crate::validate::semantic::{Checker, keys, quoted};

use super::source::Workload;
use super::target::{Goal, TargetKind};
use super::{Field, Input, OneOf, Reported, one_of};

/// Longest `google.subject` GCP accepts, in bytes.
pub const MAX_GOOGLE_SUBJECT_BYTES: usize = 127;

/// The key of `via` that names the method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MethodKind {
    /// `googleServiceAccount`: AWS trusts a Google service account's ID token.
    GoogleServiceAccount,
    /// `awsOidcProvider`: AWS trusts the cluster's issuer through an IAM OIDC provider.
    AwsOidcProvider,
    /// `pool`: GCP trusts the workload through a workload-identity pool provider.
    Pool,
}

impl Field for MethodKind {
    fn field(self) -> &'static str {
        match self {
            MethodKind::GoogleServiceAccount => "googleServiceAccount",
            MethodKind::AwsOidcProvider => "awsOidcProvider",
            MethodKind::Pool => "pool",
        }
    }
}

/// The method `via` names, if any; `Err` (reported) when it names several.
pub(super) fn named(
    c: &mut Checker<'_>,
    input: &Input<'_>,
) -> Result<Option<MethodKind>, Reported> {
    let via = input.via;
    let rule = OneOf {
        object: "via",
        noun: ("method", "methods"),
        optional: true,
        help: "give exactly one of `googleServiceAccount`, `awsOidcProvider` or `pool`",
    };
    let options = [
        (
            MethodKind::GoogleServiceAccount,
            via.google_service_account.is_some(),
        ),
        (MethodKind::AwsOidcProvider, via.aws_oidc_provider.is_some()),
        (MethodKind::Pool, via.pool.is_some()),
    ];
    one_of(c, input, &rule, &options)
}

/// The method: `named`, or the one that follows from the source and target when the spec leaves
/// it out. `None` when it does not follow (reported: two methods fit a GKE pod into AWS, and a
/// pool must be named unless exactly one is declared).
pub(super) fn choose(
    c: &mut Checker<'_>,
    input: &Input<'_>,
    named: Option<MethodKind>,
    workload: &Workload,
    target_kind: TargetKind,
) -> Option<MethodKind> {
    match (named, workload, target_kind.is_aws()) {
        (Some(kind), _, _) => Some(kind),
        (None, Workload::Gce { .. }, true) => Some(MethodKind::GoogleServiceAccount),
        (
            None,
            Workload::Kubernetes {
                cluster_kind: ClusterKind::Eks,
                ..
            },
            true,
        ) => Some(MethodKind::AwsOidcProvider),
        (
            None,
            Workload::Kubernetes {
                cluster_kind: ClusterKind::Gke,
                ..
            },
            true,
        ) => {
            c.push(
                Diagnostic::error(Code::MissingField, &input.root, "missing field `via`: a GKE workload reaches AWS by one of two methods")
                    .help("add `via: {googleServiceAccount: EMAIL}` (AWS trusts the Google service account's ID token) or `via: {awsOidcProvider: {}}` (AWS trusts the cluster's OIDC issuer)")
                    .at_key(),
            );
            None
        }
        (None, _, false) => {
            // `pool` reads the same `only_pool` when `via.pool` is unset.
            if input.inventory.only_pool().is_some() {
                Some(MethodKind::Pool)
            } else {
                c.push(
                    Diagnostic::error(
                        Code::MissingField,
                        &input.root,
                        "missing field `via`: name the workload-identity pool",
                    )
                    .help(format!(
                        "add `via: {{pool: ID}}` with one of {}",
                        quoted(&keys(&input.inventory.pools))
                    ))
                    .at_key(),
                );
                None
            }
        }
        // EC2 into AWS was reported by the direction check.
        (None, Workload::Ec2 { .. }, true) => None,
    }
}

/// Reports the keys of `via` that belong to another method than `kind`.
pub(super) fn check_fields(c: &mut Checker<'_>, input: &Input<'_>, kind: MethodKind) {
    use MethodKind::{AwsOidcProvider, GoogleServiceAccount, Pool};
    let via = input.via;
    let belonging: [(&str, bool, &[MethodKind]); 6] = [
        ("provider", via.provider.is_some(), &[Pool]),
        ("providerType", via.provider_type.is_some(), &[Pool]),
        (
            "tokenDelivery",
            via.token_delivery.is_some(),
            &[GoogleServiceAccount],
        ),
        (
            "sidecarImage",
            via.sidecar_image.is_some(),
            &[GoogleServiceAccount],
        ),
        (
            "tokenExpirationSeconds",
            via.token_expiration_seconds.is_some(),
            &[AwsOidcProvider, Pool],
        ),
        (
            "audience",
            via.audience.is_some(),
            &[GoogleServiceAccount, Pool],
        ),
    ];
    for (field, set, methods) in belonging {
        if set && !methods.contains(&kind) {
            let help = if field == "audience" && kind == AwsOidcProvider {
                "the audience of this method is the provider's client id: set `awsOidcProvider: {clientId: ...}`".to_owned()
            } else {
                let fields: Vec<&str> = methods.iter().map(|m| m.field()).collect();
                format!("remove `{field}`; it applies only with {}", quoted(&fields))
            };
            c.push(
                Diagnostic::error(
                    Code::ConflictingFields,
                    input.at("via").field(field),
                    format!("`{field}` does not apply to the `{}` method", kind.field()),
                )
                .help(help)
                .at_key(),
            );
        }
    }
    if via.sidecar_image.is_some() && via.token_delivery == Some(TokenDelivery::CredentialProcess) {
        c.push(
            Diagnostic::error(
                Code::ConflictingFields,
                input.at("via/sidecarImage"),
                "`sidecarImage` does not apply with `tokenDelivery: credentialProcess`",
            )
            .help("remove `sidecarImage`")
            .at_key(),
        );
    }
}

/// Resolves method `kind` for `workload` and `goal`; `None` when it does not fit them or does
/// not resolve (reported).
pub(super) fn resolve(
    c: &mut Checker<'_>,
    input: &Input<'_>,
    kind: MethodKind,
    workload: &Workload,
    goal: &Goal,
    target_kind: TargetKind,
) -> Option<Method> {
    let to_aws = target_kind.is_aws();
    match kind {
        MethodKind::GoogleServiceAccount => google_id_token(c, input, workload, goal, to_aws),
        MethodKind::AwsOidcProvider => aws_oidc_provider(c, input, workload, to_aws),
        MethodKind::Pool => pool(c, input, workload, to_aws),
    }
}

fn google_id_token(
    c: &mut Checker<'_>,
    input: &Input<'_>,
    workload: &Workload,
    goal: &Goal,
    to_aws: bool,
) -> Option<Method> {
    let via = input.via;
    let at = input.at("via/googleServiceAccount");
    if !to_aws {
        c.push(
            Diagnostic::error(
                Code::UnsupportedCombination,
                at,
                "the Google-service-account method leads into AWS, but the target is in GCP",
            )
            .help("use `via: {pool: ID}` for targets in GCP"),
        );
        return None;
    }
    if let Workload::Kubernetes {
        cluster_kind: ClusterKind::Eks,
        ..
    } = workload
    {
        c.push(
            Diagnostic::error(Code::UnsupportedCombination, at, "an EKS pod has no Google service account to mint ID tokens with")
                .help("EKS pods reach AWS roles through the cluster's IAM OIDC provider: use `via: {awsOidcProvider: {}}`"),
        );
        return None;
    }
    let (email, pointer) = match (via.google_service_account.as_deref(), workload) {
        (Some(email), Workload::Gce { service_account }) if email != service_account => {
            c.push(
                Diagnostic::error(Code::Inconsistent, at, format!("`{email}` is not the VM's service account `{service_account}`"))
                    .help("a VM mints ID tokens as its attached service account; remove `via` or name the same account"),
            );
            return None;
        }
        (Some(email), _) => (email, at),
        (None, Workload::Gce { service_account }) => {
            (service_account.as_str(), input.at("from/gce"))
        }
        // `choose` implies this method for GCE sources only.
        (None, _) => return None,
    };
    let Some((sa, declared)) = input.inventory.service_account(email) else {
        c.unknown(
            pointer,
            "service account",
            email,
            &keys(&input.inventory.service_accounts),
            "gcp.serviceAccounts",
        );
        return None;
    };
    let Some(unique_id) = sa.unique_id.clone() else {
        c.push(
            Diagnostic::error(Code::MissingField, pointer, format!("service account `{email}` has no `uniqueId`"))
                .help(format!(
                    "AWS trust policies pin the account's numeric unique id (the `azp` and `sub` of its ID tokens), never its email; add `uniqueId` at gcp.serviceAccounts[{declared}]: `gcloud iam service-accounts describe {email} --format='value(uniqueId)'`"
                )),
        );
        return None;
    };
    // Into AWS, the target is a role.
    let Goal::Ready(Target::AwsRole { arn, .. }) = goal else {
        return None;
    };
    Some(Method::GoogleIdToken {
        service_account: email.to_owned(),
        unique_id,
        audience: via.audience.clone().unwrap_or_else(|| arn.clone()),
        delivery: via.token_delivery.unwrap_or_default(),
        sidecar_image: via
            .sidecar_image
            .clone()
            .unwrap_or_else(|| model::DEFAULT_SIDECAR_IMAGE.to_owned()),
    })
}

fn aws_oidc_provider(
    c: &mut Checker<'_>,
    input: &Input<'_>,
    workload: &Workload,
    to_aws: bool,
) -> Option<Method> {
    let via = input.via;
    let Workload::Kubernetes { issuer, .. } = workload else {
        c.push(
            Diagnostic::error(
                Code::UnsupportedCombination,
                input.at("via/awsOidcProvider"),
                "the OIDC-provider method needs a Kubernetes service account as source",
            )
            .help("a GCE VM reaches AWS through its service account's ID token: remove `via`"),
        );
        return None;
    };
    if !to_aws {
        c.push(
            Diagnostic::error(
                Code::UnsupportedCombination,
                input.at("via/awsOidcProvider"),
                "an AWS OIDC provider leads into AWS, but the target is in GCP",
            )
            .help("use `via: {pool: ID}` for targets in GCP"),
        );
        return None;
    }
    Some(Method::AwsOidcProvider {
        issuer: issuer.clone(),
        audience: via
            .aws_oidc_provider
            .as_ref()
            .and_then(|p| p.client_id.clone())
            .unwrap_or_else(|| model::DEFAULT_AWS_AUDIENCE.to_owned()),
        token_expiration_seconds: via
            .token_expiration_seconds
            .unwrap_or(model::DEFAULT_TOKEN_EXPIRATION),
    })
}

/// A workload a pool provider admits, with what the provider trusts.
enum Member<'w> {
    /// An EKS pod: the provider trusts the cluster's OIDC issuer.
    Cluster { cluster: &'w str, issuer: &'w str },
    /// An EC2 role: the provider trusts the AWS account.
    Account(&'w str),
}

fn pool(
    c: &mut Checker<'_>,
    input: &Input<'_>,
    workload: &Workload,
    to_aws: bool,
) -> Option<Method> {
    let via = input.via;
    if to_aws {
        c.push(
            Diagnostic::error(
                Code::UnsupportedCombination,
                input.at("via/pool"),
                "a workload-identity pool leads into GCP, but the target is an AWS role",
            )
            .help("use `googleServiceAccount` or `awsOidcProvider` to reach AWS"),
        );
        return None;
    }
    let member = match workload {
        Workload::Kubernetes {
            cluster, issuer, ..
        } => Member::Cluster { cluster, issuer },
        Workload::Ec2 { account, .. } => Member::Account(account),
        // A GCE VM into GCP was reported by the direction check.
        Workload::Gce { .. } => return None,
    };
    let pool = match via.pool.as_deref() {
        Some(id) => match input.inventory.pools.get(id) {
            Some(pool) => pool,
            None => {
                c.unknown(
                    input.at("via/pool"),
                    "workload-identity pool",
                    id,
                    &keys(&input.inventory.pools),
                    "gcp.workloadIdentityPools",
                );
                return None;
            }
        },
        // `choose` implies this method without a pool only when exactly one is declared.
        None => input.inventory.only_pool()?,
    };
    provider_type(c, input, &member)?;
    let provider = provider_id(c, input, &member);
    let provider_kind = match member {
        Member::Cluster { issuer, .. } => ProviderKind::Oidc {
            issuer: issuer.to_owned(),
            audience: via
                .audience
                .clone()
                .unwrap_or_else(|| pool.provider_url(&provider)),
            token_expiration_seconds: via
                .token_expiration_seconds
                .unwrap_or(model::DEFAULT_TOKEN_EXPIRATION),
        },
        Member::Account(account) => {
            if via.audience.is_some() {
                c.push(
                    Diagnostic::error(Code::ConflictingFields, input.at("via/audience"), "`audience` does not apply to an AWS provider")
                        .help("the AWS provider verifies a signed `GetCallerIdentity` request, whose target resource is always the provider; remove `audience`")
                        .at_key(),
                );
            }
            ProviderKind::Aws {
                account: account.to_owned(),
            }
        }
    };
    check_subject(c, input, workload);
    Some(Method::WorkloadIdentityPool {
        pool: pool.id.clone(),
        provider,
        provider_kind,
    })
}

/// Reports a `via.providerType` that does not fit the workload; `None` then.
fn provider_type(c: &mut Checker<'_>, input: &Input<'_>, member: &Member<'_>) -> Option<()> {
    let derived = match member {
        Member::Cluster { .. } => ProviderType::Oidc,
        Member::Account(_) => ProviderType::Aws,
    };
    match input.via.provider_type {
        Some(asked) if asked != derived => {
            let (message, help) = if asked == ProviderType::Aws {
                (
                    "an EKS pod cannot reach GCP through an AWS provider",
                    "Google's AWS credential source signs with credentials from the EC2 metadata service and cannot use IRSA web-identity tokens, so in a pod it would silently act as the node's role; use `providerType: oidc` (the default for `eks`), which trusts the cluster's OIDC issuer",
                )
            } else {
                (
                    "an EC2 role cannot reach GCP through an OIDC provider",
                    "EC2 instances prove their role with signed `GetCallerIdentity` requests: use `providerType: aws` (the default for `ec2`)",
                )
            };
            c.push(
                Diagnostic::error(
                    Code::UnsupportedCombination,
                    input.at("via/providerType"),
                    message,
                )
                .help(help),
            );
            None
        }
        _ => Some(()),
    }
}

/// `via.provider`, or `eks-<cluster>` / `aws-<account>` made a valid provider id where possible;
/// reports an id GCP would reject.
fn provider_id(c: &mut Checker<'_>, input: &Input<'_>, member: &Member<'_>) -> String {
    let provider = input
        .via
        .provider
        .clone()
        .unwrap_or_else(|| default_provider_id(member));
    if provider.len() < 4 || provider.len() > 32 || provider.starts_with("gcp-") {
        let (pointer, what) = if input.via.provider.is_some() {
            (input.at("via/provider"), "provider id")
        } else {
            (input.at("from"), "derived provider id")
        };
        c.push(
            Diagnostic::error(Code::CloudLimit, pointer, format!("the {what} `{provider}` is not a valid provider id"))
                .help("set `via.provider` to 4-32 lowercase letters, digits and `-`, not starting with `gcp-` (GCP reserves that prefix)")
                .at_key(),
        );
    }
    provider
}

/// `eks-<cluster>` or `aws-<account>`, made a valid provider id where possible.
fn default_provider_id(member: &Member<'_>) -> String {
    let raw = match member {
        Member::Cluster { cluster, .. } => format!("eks-{cluster}"),
        Member::Account(account) => format!("aws-{account}"),
    };
    let mut id: String = raw
        .to_lowercase()
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
        .collect();
    id.truncate(32);
    id.trim_end_matches('-').to_owned()
}

/// Reports a Kubernetes subject longer than `google.subject` may be.
fn check_subject(c: &mut Checker<'_>, input: &Input<'_>, workload: &Workload) {
    if let Some(subject) = workload.subject()
        && subject.len() > MAX_GOOGLE_SUBJECT_BYTES
    {
        c.push(
            Diagnostic::error(Code::CloudLimit, input.at("from"), format!("`google.subject` would be `{subject}`, {} bytes long", subject.len()))
                .help(format!("GCP limits `google.subject` to {MAX_GOOGLE_SUBJECT_BYTES} bytes; shorten the namespace or service-account name"))
                .at_key(),
        );
    }
}

/// Reports `to.sessionDuration` with a method that cannot carry it: only an AWS config profile
/// can carry a session duration; the SDKs' environment variables cannot.
pub(super) fn check_session_duration(c: &mut Checker<'_>, input: &Input<'_>, method: &Method) {
    if input.federation.to.session_duration.is_some()
        && !matches!(
            method,
            Method::GoogleIdToken {
                delivery: TokenDelivery::CredentialProcess,
                ..
            }
        )
    {
        c.push(
            Diagnostic::error(Code::ConflictingFields, input.at("to/sessionDuration"), "`sessionDuration` needs `tokenDelivery: credentialProcess`")
                .help("with a token file (`sidecar`, `awsOidcProvider`, GCE timers) the SDK picks the session length itself (1 hour); remove `sessionDuration`, or set `via.tokenDelivery: credentialProcess`")
                .at_key(),
        );
    }
}
