//! Semantic checks: everything the schema cannot say, and the resolution of a `RawSpec` into a
//! `model::Spec`.
//!
//! Runs only on a spec that passed the schema, so field formats are known to be right; what is
//! checked here is how fields relate: references resolve, names are unique, a federation's source,
//! target and method fit together, cloud limits that depend on derived values hold, and nothing
//! widens trust. Every check pushes into one list and carries on, so a user sees every problem at
//! once; the resolved spec is returned only when the list stayed empty.
//!
//! The work is three steps, one module each, run in this order because the order of the
//! diagnostics is part of the output (snapshots pin it):
//! 1. `inventory`: the declared projects, accounts, clusters, pools and roles, resolved into maps
//!    keyed the way each cloud compares them;
//! 2. `federation` (with `source`, `target` and `method`): each federation's `from`, `to` and
//!    `via`, resolved against the inventory, one federation at a time;
//! 3. `cross`: the rules that need every federation at once.
//!
//! This module holds what the three share: the `Checker` that collects diagnostics (with the
//! "duplicate" and "unknown reference" reports every step makes) and the `Pointer` builder.

use std::collections::BTreeMap;
use std::fmt;

use crate::config::RawSpec;
use crate::diag::{Code, Diagnostic};
use crate::model::Spec;
use crate::validate::schema::closest;
use crate::validate::{cross, federation, inventory::Inventory, paths, shard};

pub use crate::validate::cross::MAX_ALLOWED_AUDIENCES;
pub use crate::validate::federation::MAX_GOOGLE_SUBJECT_BYTES;

/// Runs every semantic check; returns the resolved spec when none failed.
pub fn check(raw: &RawSpec, diags: &mut Vec<Diagnostic>) -> Option<Spec> {
    let before = diags.len();
    let mut c = Checker::new(diags);

    // The names and paths checks do not need the inventory: beside it, for a large spec.
    let mut beside = Vec::new();
    let (inventory, ()) = crate::par::join(
        raw.federations.len() >= crate::par::MANY_FEDERATIONS,
        || Inventory::build(&mut c, raw),
        || {
            let mut c = Checker::new(&mut beside);
            federation::check_names(&mut c, &raw.federations);
            paths::check(&mut c, raw);
        },
    );
    for d in beside {
        c.push(d);
    }
    let mut federations = resolve_federations(&mut c, &inventory, &raw.federations);
    let shards = shard::split(
        &mut federations,
        &raw.federations,
        &inventory.pools,
        &inventory.roles,
    );
    // The model holds the federations by name: their order is found beside the rules.
    let (order, ()) = crate::par::join(
        raw.federations.len() >= crate::par::MANY_FEDERATIONS,
        || by_name(&federations),
        || cross::check(&mut c, &federations),
    );

    if c.count() > before {
        return None;
    }
    let outputs = crate::model::Outputs {
        scripts: raw.output.scripts,
        terraform: raw.output.terraform,
    };
    Some(inventory.into_spec(in_order(federations, &order), outputs, shards))
}

/// The positions of `federations` in name order (their names are unique once checked).
fn by_name(federations: &[crate::model::Federation]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..federations.len()).collect();
    order.sort_by(|&a, &b| federations[a].name.cmp(&federations[b].name));
    order
}

/// `federations` in `order` (a permutation of their positions). Each is moved once, where
/// sorting them would move each large record many times.
fn in_order(
    federations: Vec<crate::model::Federation>,
    order: &[usize],
) -> Vec<crate::model::Federation> {
    let mut slots: Vec<Option<crate::model::Federation>> =
        federations.into_iter().map(Some).collect();
    // Sized first (see `resolve_federations`).
    let mut ordered = Vec::with_capacity(order.len());
    ordered.extend(order.iter().filter_map(|&i| slots[i].take()));
    ordered
}

/// Resolves every federation against the inventory. Each stands alone, so a large spec is split
/// into one run of federations per core; the diagnostics keep the spec's order.
fn resolve_federations(
    c: &mut Checker<'_>,
    inventory: &Inventory,
    raw: &[crate::config::RawFederation],
) -> Vec<crate::model::Federation> {
    /// Below this many federations per thread, a thread costs more than it saves.
    const PER_THREAD: usize = 1000;
    let threads = crate::par::threads_for(raw.len(), PER_THREAD);
    // Sized first, here and below: the records are large, and a list collected from
    // `filter_map` grows from nothing, copying them again at each doubling.
    let run = |c: &mut Checker<'_>, start: usize, part: &[crate::config::RawFederation]| {
        let mut resolved = Vec::with_capacity(part.len());
        resolved.extend(
            part.iter()
                .enumerate()
                .filter_map(|(i, f)| federation::resolve(c, inventory, start + i, f)),
        );
        resolved
    };
    if threads == 1 {
        return run(c, 0, raw);
    }
    let size = raw.len().div_ceil(threads);
    let parts: Vec<(Vec<_>, Vec<Diagnostic>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = raw
            .chunks(size)
            .enumerate()
            .map(|(k, part)| {
                scope.spawn(move || {
                    let mut diags = Vec::new();
                    let resolved = run(&mut Checker::new(&mut diags), k * size, part);
                    (resolved, diags)
                })
            })
            .collect();
        handles.into_iter().map(crate::par::wait).collect()
    });
    // The first run's list takes the others: only theirs are copied.
    let mut federations = Vec::new();
    for (resolved, diags) in parts {
        if federations.is_empty() {
            federations = resolved;
            federations.reserve(raw.len() - federations.len());
        } else {
            federations.extend(resolved);
        }
        for d in diags {
            c.push(d);
        }
    }
    federations
}

/// Collects the diagnostics of every step, with the reports they share.
pub(super) struct Checker<'a> {
    diags: &'a mut Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(diags: &'a mut Vec<Diagnostic>) -> Self {
        Checker { diags }
    }

    pub(super) fn push(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    /// How many diagnostics were collected so far: a step compares counts to tell whether it
    /// found a problem.
    pub(super) fn count(&self) -> usize {
        self.diags.len()
    }

    /// Reports every item whose key repeats an earlier one.
    pub(super) fn unique<'k>(
        &mut self,
        what: &str,
        keys: impl IntoIterator<Item = (Pointer, &'k str)>,
    ) {
        let mut seen: BTreeMap<&str, Pointer> = BTreeMap::new();
        for (pointer, key) in keys {
            if let Some(first) = seen.get(key) {
                let first = crate::diag::display_path(first.as_str());
                self.push(
                    Diagnostic::error(
                        Code::DuplicateName,
                        pointer,
                        format!("duplicate {what} `{key}`"),
                    )
                    .help(format!(
                        "`{key}` is already declared at {first}; remove or rename one of them"
                    )),
                );
            } else {
                seen.insert(key, pointer);
            }
        }
    }

    /// Reports a reference to an undeclared name, suggesting the closest declared one.
    pub(super) fn unknown(
        &mut self,
        pointer: Pointer,
        what: &str,
        name: &str,
        known: &[&str],
        declare_in: &str,
    ) {
        let help = match closest(name, known.iter().copied()) {
            Some(best) => {
                format!("did you mean `{best}`? or declare `{name}` under `{declare_in}`")
            }
            None if known.is_empty() => format!("declare it under `{declare_in}`"),
            None => format!(
                "declare it under `{declare_in}`, or use one of {}",
                quoted(known)
            ),
        };
        self.push(
            Diagnostic::error(
                Code::UnknownReference,
                pointer,
                format!("unknown {what} `{name}`"),
            )
            .help(help),
        );
    }
}

/// A JSON Pointer into the spec, the way every diagnostic names its place: built from the list
/// item it is about, then one field (or `/`-separated path of fields, or index) at a time, so no
/// step spells `/federations/{i}/…` by hand.
///
/// Keys are written as they appear in the spec and never contain `/` or `~`, so nothing is escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pointer(String);

impl Pointer {
    /// Item `i` of the list at `list` (`"federations"`, `"aws/roles"`).
    pub(super) fn item(list: &str, i: usize) -> Self {
        Pointer(format!("/{list}/{i}"))
    }

    /// `field` below this pointer: a key, a path of keys (`"to/awsRole"`), or an index.
    #[must_use]
    pub(super) fn field(&self, field: impl fmt::Display) -> Self {
        Pointer(format!("{}/{field}", self.0))
    }

    pub(super) fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Pointer> for String {
    fn from(pointer: Pointer) -> Self {
        pointer.0
    }
}

impl From<&Pointer> for String {
    fn from(pointer: &Pointer) -> Self {
        pointer.0.clone()
    }
}

/// `` `a`, `b`, `c` ``: names as messages list them.
pub(super) fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The keys of a map, as the `known` names of [`Checker::unknown`].
pub(super) fn keys<V>(map: &BTreeMap<String, V>) -> Vec<&str> {
    map.keys().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The semantic diagnostics of the spec `json` (which must deserialize), as
    /// `pointer: message` lines.
    fn diagnostics(json: serde_json::Value) -> Vec<String> {
        let raw: RawSpec = serde_json::from_value(json).unwrap();
        let mut diags = Vec::new();
        let spec = check(&raw, &mut diags);
        assert_eq!(spec.is_some(), diags.is_empty());
        diags
            .iter()
            .map(|d| format!("{}: {}", d.pointer, d.message))
            .collect()
    }

    #[test]
    fn pointers_name_list_items_and_their_fields() {
        let at = Pointer::item("federations", 3);
        assert_eq!(String::from(&at), "/federations/3");
        assert_eq!(
            String::from(at.field("to/awsRole")),
            "/federations/3/to/awsRole"
        );
        assert_eq!(
            String::from(at.field("to").field("gcpRoles").field(1)),
            "/federations/3/to/gcpRoles/1"
        );
    }

    #[test]
    fn federations_resolved_on_several_threads_keep_the_spec_order() {
        let n = 2_500;
        let federations: Vec<_> = (0..n)
            .map(|i| {
                // Two mistakes, in different runs of federations.
                let role = if i == 7 || i == 2_100 { "missing" } else { "reader" };
                serde_json::json!({
                    "name": format!("f-{i}"),
                    "from": {"eks": "data", "namespace": format!("ns-{i}"), "serviceAccount": "app"},
                    "to": {"gcpServiceAccount": format!("{role}@acme-prod.iam.gserviceaccount.com")},
                    "via": {"pool": "aws-workloads"},
                })
            })
            .collect();
        let spec = serde_json::json!({
            "version": 1,
            "gcp": {
                "projects": [{"id": "acme-prod", "number": "123456789012"}],
                "serviceAccounts": [{"email": "reader@acme-prod.iam.gserviceaccount.com"}],
                "workloadIdentityPools": [{"id": "aws-workloads", "project": "acme-prod"}],
            },
            "aws": {
                "accounts": [{"id": "281031839323", "region": "us-east-1"}],
                "eksClusters": [{
                    "name": "data", "account": "281031839323", "region": "us-east-1",
                    "oidcIssuer": "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
                }],
            },
            "federations": federations,
        });
        let found = diagnostics(spec);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("/federations/7/"), "{found:?}");
        assert!(found[1].starts_with("/federations/2100/"), "{found:?}");
    }

    #[test]
    fn an_empty_spec_resolves() {
        assert!(diagnostics(serde_json::json!({"version": 1})).is_empty());
    }
}
