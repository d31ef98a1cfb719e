//! The cross-federation rules: what no single federation shows, because the clouds share one
//! resource between several federations.
//!
//! - A provider id in a pool belongs to one issuer or one account, and has at most
//!   [`MAX_ALLOWED_AUDIENCES`] allowed audiences.
//! - A pod carries one set of `AWS_*` variables: one `AWS_ROLE_ARN` per Kubernetes service account
//!   (unless each role gets its own `credential_process` profile).
//! - A pod has one `GOOGLE_APPLICATION_CREDENTIALS`: one GCP federation per Kubernetes service
//!   account.
//! - A pool-wide `principal://…/subject/system:serviceaccount:NS:KSA` must not match a service
//!   account of the same name in another cluster of the pool.
//! - GKE Workload Identity maps a Kubernetes service account to one Google service account.
//! - A workload named in `from.workloads` runs as one Kubernetes service account.
//!
//! Each rule is one pass over the resolved federations with a map keyed by the shared resource,
//! so the cost stays linear; the first federation to claim a resource wins and every later one
//! that disagrees is reported at its own position. Rules only see federations that resolved: a
//! federation with its own problems is reported for those first.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::TokenDelivery;
use crate::diag::{Code, Diagnostic};
use crate::model::{Federation, Method, ProviderKind, Source, Target};
use crate::validate::semantic::{Checker, Pointer};

/// Most allowed audiences on one workload-identity provider.
pub const MAX_ALLOWED_AUDIENCES: usize = 10;

/// Runs every cross-federation rule over `federations`, in spec order.
pub(super) fn check(c: &mut Checker<'_>, federations: &[Federation]) {
    shared_providers(c, federations);
    one_aws_role_per_pod(c, federations);
    one_gcp_federation_per_pod(c, federations);
    one_google_service_account_per_pod(c, federations);
    one_service_account_per_workload(c, federations);
}

/// A workload runs as one Kubernetes service account: two federations of different service
/// accounts that name the same workload would give it two Components setting
/// `serviceAccountName`, and the last one applied would win.
fn one_service_account_per_workload(c: &mut Checker<'_>, federations: &[Federation]) {
    let mut runs_as: BTreeMap<(&str, &str, crate::model::WorkloadKind, &str), &str> =
        BTreeMap::new();
    for f in federations {
        let Source::Kubernetes {
            cluster,
            namespace,
            service_account,
            workloads,
            ..
        } = &f.source
        else {
            continue;
        };
        for (kind, name) in workloads {
            let key = (cluster.as_str(), namespace.as_str(), *kind, name.as_str());
            match runs_as.get(&key) {
                Some(other) if *other != service_account.as_str() => c.push(
                    Diagnostic::error(
                        Code::Inconsistent,
                        at(f, "from/workloads"),
                        format!(
                            "{} `{namespace}/{name}` in `{cluster}` already runs as service account `{other}`, not `{service_account}`",
                            kind.as_str()
                        ),
                    )
                    .help("a workload runs as one service account: name it in the federations of that service account only"),
                ),
                Some(_) => {}
                None => {
                    runs_as.insert(key, service_account);
                }
            }
        }
    }
}

/// `/federations/{i}/{field}` of federation `f`.
fn at(f: &Federation, field: &str) -> Pointer {
    Pointer::item("federations", f.index).field(field)
}

/// A provider id in a pool belongs to one issuer or one account, and has at most
/// [`MAX_ALLOWED_AUDIENCES`] allowed audiences.
fn shared_providers(c: &mut Checker<'_>, federations: &[Federation]) {
    // (pool, provider) → the first federation using it, and what it trusts.
    let mut providers: BTreeMap<(&str, &str), (&Federation, String)> = BTreeMap::new();
    let mut audiences: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for f in federations {
        let Method::WorkloadIdentityPool {
            pool,
            provider,
            provider_kind,
        } = &f.method
        else {
            continue;
        };
        let identity = match provider_kind {
            ProviderKind::Oidc {
                issuer, audience, ..
            } => {
                audiences
                    .entry((pool, provider))
                    .or_default()
                    .insert(audience);
                format!("OIDC issuer {issuer}")
            }
            ProviderKind::Aws { account } => format!("AWS account {account}"),
        };
        match providers.get(&(pool.as_str(), provider.as_str())) {
            Some((_, other)) if *other != identity => c.push(
                Diagnostic::error(Code::Inconsistent, at(f, "via"), format!("provider `{provider}` in pool `{pool}` would serve both {other} and {identity}"))
                    .help("a provider trusts one issuer or one account: set a distinct `via.provider` for one of them")
                    .at_key(),
            ),
            Some(_) => {}
            None => {
                providers.insert((pool, provider), (f, identity));
            }
        }
    }
    for ((pool, provider), set) in audiences {
        if set.len() > MAX_ALLOWED_AUDIENCES {
            let first = providers[&(pool, provider)].0;
            c.push(
                Diagnostic::error(Code::CloudLimit, at(first, "via"), format!("provider `{provider}` would need {} allowed audiences", set.len()))
                    .help(format!("GCP allows at most {MAX_ALLOWED_AUDIENCES} per provider; share audiences between federations or split the provider"))
                    .at_key(),
            );
        }
    }
}

/// A pod carries one set of `AWS_*` variables: one AWS role per Kubernetes service account
/// through environment variables.
fn one_aws_role_per_pod(c: &mut Checker<'_>, federations: &[Federation]) {
    let mut aws_env: BTreeMap<(&str, &str, &str), &str> = BTreeMap::new();
    for f in federations {
        let (
            Source::Kubernetes {
                cluster,
                namespace,
                service_account,
                ..
            },
            Target::AwsRole { arn, .. },
        ) = (&f.source, &f.target)
        else {
            continue;
        };
        if let Method::GoogleIdToken {
            delivery: TokenDelivery::CredentialProcess,
            ..
        } = f.method
        {
            continue;
        }
        let key = (
            cluster.as_str(),
            namespace.as_str(),
            service_account.as_str(),
        );
        if let Some(other) = aws_env.get(&key) {
            // `credentialProcess` is a delivery of Google ID tokens: offered only where it applies.
            let help = if matches!(f.method, Method::GoogleIdToken { .. }) {
                "a pod has one `AWS_ROLE_ARN`: federate one role per service account, or use `via.tokenDelivery: credentialProcess`, which gives each role its own AWS profile"
            } else {
                "a pod has one `AWS_ROLE_ARN`: federate one role per Kubernetes service account (give this workload a service account of its own), or federate through a Google service account (`via.googleServiceAccount`) with `tokenDelivery: credentialProcess`, which gives each role its own AWS profile"
            };
            c.push(
                Diagnostic::error(Code::Inconsistent, at(f, "to/awsRole"), format!("service account `{namespace}/{service_account}` in `{cluster}` already assumes `{other}` through `AWS_ROLE_ARN`"))
                    .help(help),
            );
        } else {
            aws_env.insert(key, arn);
        }
    }
}

/// A pod has one `GOOGLE_APPLICATION_CREDENTIALS`: one GCP federation per Kubernetes service
/// account. In the same pass, because the two reports interleave by federation: a pool-wide
/// `principal://…/subject/system:serviceaccount:NS:KSA` must not match a service account of the
/// same name in another cluster of the pool.
fn one_gcp_federation_per_pod(c: &mut Checker<'_>, federations: &[Federation]) {
    let mut gcp_of: BTreeMap<(&str, &str, &str), &str> = BTreeMap::new();
    let mut subjects: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for f in federations {
        let (
            Source::Kubernetes {
                cluster,
                namespace,
                service_account,
                subject,
                ..
            },
            Method::WorkloadIdentityPool { pool, .. },
        ) = (&f.source, &f.method)
        else {
            continue;
        };
        let key = (
            cluster.as_str(),
            namespace.as_str(),
            service_account.as_str(),
        );
        if let Some(other) = gcp_of.get(&key) {
            c.push(
                Diagnostic::error(Code::Inconsistent, at(f, "to"), format!("service account `{namespace}/{service_account}` in `{cluster}` already reaches GCP through federation `{other}`"))
                    .help("a pod has one `GOOGLE_APPLICATION_CREDENTIALS`: give each GCP target its own Kubernetes service account, or grant the extra roles to the same target")
                    .at_key(),
            );
        } else {
            gcp_of.insert(key, &f.name);
        }
        match subjects.get(&(pool.as_str(), subject.as_str())) {
            Some(other) if other != cluster => c.push(
                Diagnostic::error(Code::Security, at(f, "from"), format!("`{subject}` is federated from clusters `{other}` and `{cluster}` through the same pool `{pool}`"))
                    .help("IAM bindings on `principal://…/subject/…` are pool-wide, so each cluster could act as the other's service account; put the clusters in separate pools")
                    .at_key(),
            ),
            Some(_) => {}
            None => {
                subjects.insert((pool, subject), cluster);
            }
        }
    }
}

/// A GKE service account impersonates one Google service account.
fn one_google_service_account_per_pod(c: &mut Checker<'_>, federations: &[Federation]) {
    let mut gsa_of: BTreeMap<(&str, &str, &str), &str> = BTreeMap::new();
    for f in federations {
        let (
            Source::Kubernetes {
                cluster,
                namespace,
                service_account,
                ..
            },
            Method::GoogleIdToken {
                service_account: gsa,
                ..
            },
        ) = (&f.source, &f.method)
        else {
            continue;
        };
        let key = (
            cluster.as_str(),
            namespace.as_str(),
            service_account.as_str(),
        );
        match gsa_of.get(&key) {
            Some(other) if other != gsa => c.push(
                Diagnostic::error(Code::Inconsistent, at(f, "via/googleServiceAccount"), format!("service account `{namespace}/{service_account}` in `{cluster}` already acts as `{other}`"))
                    .help("GKE Workload Identity maps a Kubernetes service account to one Google service account (`iam.gke.io/gcp-service-account`); use the same one in every federation of this service account"),
            ),
            Some(_) => {}
            None => {
                gsa_of.insert(key, gsa);
            }
        }
    }
}
