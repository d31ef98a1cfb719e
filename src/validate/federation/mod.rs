//! One federation: its `from` (the workload), `to` (what the workload becomes) and `via` (how the
//! target's cloud comes to trust the workload), resolved against the
//! [`Inventory`] into a [`model::Federation`](crate::model::Federation).
//!
//! `from`, `to` and `via` are flat objects whose keys partly exclude each other (see
//! [`crate::config`] for why they are not `oneOf` unions): each names exactly one workload, one
//! target, and at most one method, through [`one_of`]; their other keys only apply to some kinds,
//! and each step reports the ones that do not. The kinds are the enums [`SourceKind`],
//! [`TargetKind`] and [`MethodKind`], which also give the key to name in messages.
//!
//! The steps run in a fixed order, because the order of diagnostics is part of the output:
//! [`source`] → [`target`] → the direction check here → [`method`]. A step that finds the rest
//! meaningless (no workload named, or a direction crossfed does not render) stops the federation;
//! any other problem is reported and the later steps still run on what did resolve, so one run
//! shows every problem. The price is that the intermediate results may be incomplete: a
//! [`source::Workload`] may lack its Kubernetes namespace, a [`target::Goal`] its project. Both
//! only become model types at the end, once nothing was reported, so the model never holds a
//! placeholder.

mod method;
mod source;
mod target;

use crate::config::{RawFederation, RawVia};
use crate::diag::{Code, Diagnostic};
use crate::model::{Acceptance, ClusterKind, Federation};
use crate::validate::inventory::Inventory;
use crate::validate::semantic::{Checker, Pointer, quoted};

pub use method::MAX_GOOGLE_SUBJECT_BYTES;
use source::Workload;
use target::TargetKind;

/// Reports every federation whose name repeats an earlier one's.
pub(super) fn check_names(c: &mut Checker<'_>, federations: &[RawFederation]) {
    c.unique(
        "federation name",
        federations.iter().enumerate().map(|(i, f)| {
            (
                Pointer::item("federations", i).field("name"),
                f.name.as_str(),
            )
        }),
    );
}

/// Resolves federation `i`, `f`; `None` when anything about it was reported.
pub(super) fn resolve(
    c: &mut Checker<'_>,
    inventory: &Inventory,
    i: usize,
    f: &RawFederation,
) -> Option<Federation> {
    let default_via = RawVia::default();
    let input = Input {
        inventory,
        federation: f,
        via: f.via.as_ref().unwrap_or(&default_via),
        root: Pointer::item("federations", i),
    };
    let errors_before = c.count();

    let source_kind = source::kind(c, &input)?;
    let workload = source::resolve(c, &input, source_kind);
    let target_kind = target::kind(c, &input)?;
    target::check_fields(c, &input, target_kind);
    direction(c, &input, workload.as_ref(), target_kind)?;
    let goal = target::resolve(c, &input, target_kind);
    let Ok(named_method) = method::named(c, &input) else {
        return None;
    };
    let (workload, goal) = (workload?, goal?);
    let method_kind = method::choose(c, &input, named_method, &workload, target_kind)?;
    method::check_fields(c, &input, method_kind);
    let method = method::resolve(c, &input, method_kind, &workload, &goal, target_kind)?;
    method::check_session_duration(c, &input, &method);
    let target = goal.into_target(&method, inventory)?;
    c.unique(
        "accepted rule",
        f.accept
            .iter()
            .enumerate()
            .map(|(k, a)| (input.at("accept").field(k).field("rule"), a.rule.as_str())),
    );

    if c.count() > errors_before {
        return None;
    }
    // A Kubernetes workload lacks `namespace` or `serviceAccount` only when that was reported,
    // which returned above: this always builds.
    let source = workload.into_source()?;
    Some(Federation {
        index: i,
        name: f.name.clone(),
        source,
        target,
        method,
        accept: f
            .accept
            .iter()
            .map(|a| Acceptance {
                rule: a.rule,
                reason: a.reason.clone(),
            })
            .collect(),
    })
}

/// What every step of one federation reads: the federation as written, where it is, and the
/// inventory it resolves against.
struct Input<'a> {
    inventory: &'a Inventory,
    federation: &'a RawFederation,
    /// `via`, or all defaults when the spec leaves it out.
    via: &'a RawVia,
    /// `/federations/{i}`.
    root: Pointer,
}

impl Input<'_> {
    /// The pointer of `field` (a key or a path such as `"to/awsRole"`) of this federation.
    fn at(&self, field: impl std::fmt::Display) -> Pointer {
        self.root.field(field)
    }
}

/// A key of `from`, `to` or `via` that names what the federation uses.
trait Field: Copy {
    /// The key as written in the spec, e.g. `awsRole`.
    fn field(self) -> &'static str;
}

/// A group of mutually exclusive keys of `from`, `to` or `via`, and how to report a breach.
struct OneOf {
    /// The object holding the keys: `from`, `to` or `via`.
    object: &'static str,
    /// What one key names, singular and plural: ("workload", "workloads").
    noun: (&'static str, &'static str),
    /// Whether naming none is fine (a default applies then).
    optional: bool,
    /// The fix, for both "none" and "several".
    help: &'static str,
}

/// One federation step reported a problem that makes the rest of the federation meaningless.
struct Reported;

/// The one key of `options` that is set (in the order given, which messages keep), or `None`
/// when none is and `rule` allows that. Naming none when required, or several, is reported.
fn one_of<K: Field>(
    c: &mut Checker<'_>,
    input: &Input<'_>,
    rule: &OneOf,
    options: &[(K, bool)],
) -> Result<Option<K>, Reported> {
    let set: Vec<K> = options
        .iter()
        .filter_map(|&(key, set)| set.then_some(key))
        .collect();
    let message = match set.as_slice() {
        [one] => return Ok(Some(*one)),
        [] if rule.optional => return Ok(None),
        [] => format!("`{}` names no {}", rule.object, rule.noun.0),
        several => {
            let fields: Vec<&str> = several.iter().map(|k| k.field()).collect();
            format!(
                "`{}` names several {}: {}",
                rule.object,
                rule.noun.1,
                quoted(&fields)
            )
        }
    };
    c.push(
        Diagnostic::error(Code::ConflictingFields, input.at(rule.object), message)
            .help(rule.help)
            .at_key(),
    );
    Err(Reported)
}

/// Which directions exist: crossfed renders GKE and GCE workloads into AWS, and EKS and EC2
/// workloads into GCP (EKS into AWS too). `None` when the federation goes another way.
fn direction(
    c: &mut Checker<'_>,
    input: &Input<'_>,
    workload: Option<&Workload>,
    target_kind: TargetKind,
) -> Option<()> {
    match (workload, target_kind.is_aws()) {
        (Some(Workload::Ec2 { .. }), true) => {
            c.push(
                Diagnostic::error(Code::UnsupportedCombination, input.at("to/awsRole"), "an EC2 role reaching another AWS role is not a cross-cloud federation")
                    .help("use IAM role chaining (`sts:AssumeRole`) for AWS to AWS; crossfed renders `ec2` sources into GCP"),
            );
            None
        }
        (
            Some(
                Workload::Kubernetes {
                    cluster_kind: ClusterKind::Gke,
                    ..
                }
                | Workload::Gce { .. },
            ),
            false,
        ) => {
            c.push(
                Diagnostic::error(Code::UnsupportedCombination, input.at("to").field(target_kind.field()), "GKE and GCE workloads reach GCP natively, without federation")
                    .help("grant the roles to the Kubernetes service account through GKE Workload Identity, or to the VM's service account; crossfed renders `gke` and `gce` sources into AWS"),
            );
            None
        }
        _ => Some(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::config::RawSpec;
    use crate::diag::Diagnostic;
    use crate::validate::semantic::check;

    fn messages(federations: &serde_json::Value) -> Vec<(String, String)> {
        let raw: RawSpec = serde_json::from_value(json!({
            "version": 1,
            "gcp": {
                "projects": [{"id": "acme-prod", "number": "123456789012"}],
                "workloadIdentityPools": [{"id": "aws-workloads", "project": "acme-prod"}],
            },
            "aws": {
                "accounts": [{"id": "281031839323"}],
                "roles": [{"arn": "arn:aws:iam::281031839323:role/reader"}],
                "eksClusters": [{
                    "name": "data",
                    "account": "281031839323",
                    "region": "us-east-1",
                    "oidcIssuer": "https://oidc.eks.us-east-1.amazonaws.com/id/AAAA0000AAAA0000AAAA0000AAAA0000",
                }],
            },
            "federations": federations,
        }))
        .unwrap();
        let mut diags: Vec<Diagnostic> = Vec::new();
        let _ = check(&raw, &mut diags);
        diags.into_iter().map(|d| (d.pointer, d.message)).collect()
    }

    #[test]
    fn from_to_and_via_each_name_exactly_one_thing() {
        let eks = json!({"eks": "data", "namespace": "ns", "serviceAccount": "app"});
        let found = messages(&json!([
            {"name": "a", "from": {}, "to": {"awsRole": "reader"}},
            {"name": "b", "from": {"eks": "data", "ec2": "reader"}, "to": {"awsRole": "reader"}},
            {"name": "c", "from": eks, "to": {}},
            {"name": "d", "from": eks, "to": {"awsRole": "reader", "gcpRoles": ["roles/viewer"]}},
            {"name": "e", "from": eks, "to": {"gcpRoles": ["roles/viewer"]},
             "via": {"pool": "aws-workloads", "awsOidcProvider": {}}},
        ]));
        let expected = [
            ("/federations/0/from", "`from` names no workload"),
            (
                "/federations/1/from",
                "`from` names several workloads: `eks`, `ec2`",
            ),
            ("/federations/2/to", "`to` names no target"),
            (
                "/federations/3/to",
                "`to` names several targets: `awsRole`, `gcpRoles`",
            ),
            (
                "/federations/4/via",
                "`via` names several methods: `awsOidcProvider`, `pool`",
            ),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(p, m)| ((*p).to_owned(), (*m).to_owned()))
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn direct_access_defaults_to_the_pools_project() {
        let raw: RawSpec = serde_json::from_value(json!({
            "version": 1,
            "gcp": {
                "projects": [
                    {"id": "acme-prod", "number": "123456789012"},
                    {"id": "acme-data", "number": "123456789013"},
                ],
                "workloadIdentityPools": [{"id": "aws-workloads", "project": "acme-prod"}],
            },
            "aws": {
                "accounts": [{"id": "281031839323"}],
                "roles": [{"arn": "arn:aws:iam::281031839323:role/uploader"}],
            },
            "federations": [
                {"name": "a", "from": {"ec2": "uploader"}, "to": {"gcpRoles": ["roles/viewer"]}},
                {"name": "b", "from": {"ec2": "uploader"},
                 "to": {"gcpRoles": ["roles/viewer"], "project": "acme-data"}},
            ],
        }))
        .unwrap();
        let mut diags = Vec::new();
        let spec = check(&raw, &mut diags).unwrap();
        let projects: Vec<_> = spec
            .federations
            .iter()
            .map(|f| match &f.target {
                crate::model::Target::GcpRoles { project, .. } => project.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(projects, ["acme-prod", "acme-data"]);
    }
}
