//! From spec text to a validated [`Spec`] and its [`Plan`], or a [`Report`] of everything wrong
//! with it.
//!
//! Four stages, each only on the output of the one before: YAML parse (syntax), the JSON Schema
//! (the same rules the editor applies), semantic checks, and, on the plan, the cloud limits of the
//! grouped artifacts, the trust closure and the security rules (whose notes do not fail it). A
//! later stage does not run when an earlier one failed, because its findings would be noise about
//! a tree we already know is off; within a stage every problem is reported.

mod cross;
mod federation;
mod inventory;
pub mod limits;
pub mod paths;
pub mod rules;
pub mod schema;
pub mod semantic;
mod shard;
pub mod trust;

use serde::Deserialize as _;

use crate::config::RawSpec;
use crate::config::load::load;
use crate::config::span_index::SpanIndex;
use crate::diag::{Code, Diagnostic, Report, Severity};
use crate::plan::{self, Plan};

/// Validates the spec text `source`, read from `file` (used only in messages), and plans it.
///
/// # Errors
/// A [`Report`] holding every problem found.
pub fn validate(file: &str, source: &str) -> Result<Plan, Report> {
    run(file, source, false).map(|(plan, _notes)| plan)
}

/// As [`validate`], and on success also the findings that do not fail validation (notes of the
/// security rules, [`rules`]), as a report that may be empty.
///
/// # Errors
/// A [`Report`] holding every problem found, notes included.
pub fn validate_with_notes(file: &str, source: &str) -> Result<(Plan, Report), Report> {
    run(file, source, true)
}

/// Validates and plans; with `notes`, places the notes in a report (which needs the span index:
/// built in the same parse when the loader can, since a large spec has notes to place).
fn run(file: &str, source: &str, notes: bool) -> Result<(Plan, Report), Report> {
    let large = source.len() >= crate::par::LARGE_SPEC_BYTES;
    let (loaded, ()) = crate::par::join(large, || load(source, notes), schema::prepare);
    let (value, spans) = match loaded {
        Ok(loaded) => (loaded.value, loaded.spans),
        Err(error) => {
            return Err(Report::at(
                file,
                source,
                error.line,
                error.column,
                &error.diagnostic,
            ));
        }
    };
    let result = checked(file, source, notes, value, spans.as_ref());
    // The index of a large spec is a tree as large as its value: freed off this thread.
    crate::par::drop_aside(large, spans);
    result
}

/// [`run`] from the parsed `value` and its span index, when the loader built one.
fn checked(
    file: &str,
    source: &str,
    notes: bool,
    value: serde_json::Value,
    spans: Option<&SpanIndex>,
) -> Result<(Plan, Report), Report> {
    let large = source.len() >= crate::par::LARGE_SPEC_BYTES;
    // Without the loader's index, building one costs a second parse, so it is built only when
    // there is something to report: a valid spec without notes never needs it.
    let report = |diagnostics: Vec<Diagnostic>| match spans {
        Some(index) => Report::new(file, source, index, &diagnostics),
        None => Report::new(file, source, &SpanIndex::build(source), &diagnostics),
    };
    // The schema check and deserialization both only read the value: side by side. (The
    // deserialized spec is dropped when the schema finds a problem.)
    let (mut diagnostics, (raw, decimals)) = crate::par::join(
        large,
        || schema::check(&value),
        || {
            // JSON Schema counts `1.0` as an integer; no field of the spec takes a fraction.
            // (On the side of the shorter task; reported only when the schema is satisfied.)
            let mut decimals = Vec::new();
            decimal_numbers(&value, &mut Vec::new(), &mut decimals);
            (RawSpec::deserialize(&value), decimals)
        },
    );
    if diagnostics.is_empty() {
        diagnostics = decimals;
    }
    if !diagnostics.is_empty() {
        beyond_schema_errors(&value, &mut diagnostics);
        return Err(report(diagnostics));
    }
    let raw: RawSpec = match raw {
        Ok(raw) => raw,
        // The schema is derived from RawSpec, so this is our bug, not the user's.
        Err(error) => {
            let d = Diagnostic::error(
                Code::WrongType,
                "",
                format!(
                    "internal error: the spec passed the schema but not deserialization: {error}"
                ),
            )
            .help("this is a crossfed bug; please report it with the spec");
            return Err(report(vec![d]));
        }
    };
    // The value is no longer needed: freed beside the semantic checks, off their path.
    let (spec, ()) = crate::par::join(
        large,
        || semantic::check(&raw, &mut diagnostics),
        move || drop(value),
    );
    match spec {
        Some(spec) if diagnostics.is_empty() => {
            // Limits of the grouped artifacts (policy sizes, ...): a spec that validates renders.
            // The raw spec is as large as the model; the plan is built without it, freed beside.
            let (plan, ()) = crate::par::join(large, || plan::build(spec), move || drop(raw));
            let findings = plan_findings(&plan);
            if findings.iter().any(|d| d.severity == Severity::Error) {
                Err(report(findings))
            } else if findings.is_empty() || !notes {
                Ok((plan, Report::new(file, source, &SpanIndex::default(), &[])))
            } else {
                Ok((plan, report(findings)))
            }
        }
        _ => Err(report(diagnostics)),
    }
}

/// Schema errors do not hide the rest of the spec. Unknown keys (a typo, usually) are left out of
/// a copy; a federation with any other schema error (a wrong type, a bad format, a missing key)
/// is left out of it whole, since it cannot be read as a model. The semantic checks run on the
/// copy, and their findings are added with their places in the spec as written: a misspelt key
/// or a malformed ARN in one federation does not hide an unknown reference or a duplicate name in
/// another. Left out: what the checks say about the objects holding unknown keys (the typo again:
/// `serviceAcount` makes `serviceAccount` missing). A schema error outside the federations (in
/// the declared accounts, projects or roles that federations refer to) leaves the references
/// unresolvable, and is reported alone.
fn beyond_schema_errors(value: &serde_json::Value, diagnostics: &mut Vec<Diagnostic>) {
    let mut broken = std::collections::BTreeSet::new();
    for d in diagnostics.iter() {
        if d.code == Code::UnknownField {
            continue;
        }
        match federation_of(&d.pointer) {
            Some(index) => {
                broken.insert(index);
            }
            None => return,
        }
    }
    let mut pruned = value.clone();
    for d in diagnostics.iter() {
        if d.code == Code::UnknownField {
            remove_at(&mut pruned, &d.pointer);
        }
    }
    // The federations kept, by their index in the spec as written.
    let mut kept = Vec::new();
    if let Some(serde_json::Value::Array(federations)) = pruned.get_mut("federations") {
        let all = std::mem::take(federations);
        for (index, federation) in all.into_iter().enumerate() {
            if !broken.contains(&index) {
                kept.push(index);
                federations.push(federation);
            }
        }
    }
    let Ok(raw) = RawSpec::deserialize(&pruned) else {
        return;
    };
    let mut more = Vec::new();
    semantic::check(&raw, &mut more);
    for d in &mut more {
        if let Some(index) = federation_of(&d.pointer) {
            let rest = &d.pointer["/federations/".len() + index.to_string().len()..];
            d.pointer = format!("/federations/{}{rest}", kept[index]);
        }
    }
    let about_a_typo = |d: &Diagnostic| {
        diagnostics.iter().any(|unknown| {
            unknown.code == Code::UnknownField
                && (unknown.pointer == d.pointer
                    || unknown
                        .pointer
                        .strip_prefix(d.pointer.as_str())
                        .is_some_and(|rest| rest.starts_with('/')))
        })
    };
    let more: Vec<Diagnostic> = more.into_iter().filter(|d| !about_a_typo(d)).collect();
    diagnostics.extend(more);
}

/// The index of the federation that JSON Pointer `pointer` is in, if any.
fn federation_of(pointer: &str) -> Option<usize> {
    let rest = pointer.strip_prefix("/federations/")?;
    rest.split('/').next()?.parse().ok()
}

/// Removes the member at JSON Pointer `pointer` (whose last token is an object key), if there.
fn remove_at(value: &mut serde_json::Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    if let Some(serde_json::Value::Object(map)) = value.pointer_mut(parent) {
        map.shift_remove(last.replace("~1", "/").replace("~0", "~").as_str());
    }
}

/// The findings on the plan: its cloud limits, the trust closure and the security rules. The
/// three only read the plan, so they run on threads; the order of the result does not depend on
/// which finished first (the report sorts by position).
fn plan_findings(plan: &Plan) -> Vec<Diagnostic> {
    let many = plan.spec.federations.len() >= crate::par::MANY_FEDERATIONS;
    let ((mut findings, trust), rules) = crate::par::join(
        many,
        || crate::par::join(many, || limits::check(plan), || trust::check(plan)),
        || rules::check(plan),
    );
    findings.extend(trust);
    findings.extend(rules);
    findings
}

/// Reports every decimal number in `value` (`path` leads to it from the root): every number in a spec is a whole
/// one, and JSON Schema's `integer` admits `1.0`, which would then fail deserialization with no
/// place to point at.
fn decimal_numbers<'v>(
    value: &'v serde_json::Value,
    path: &mut Vec<Step<'v>>,
    out: &mut Vec<Diagnostic>,
) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => out.push(
            Diagnostic::error(
                Code::WrongType,
                pointer_of(path),
                format!("`{n}` is a decimal number; this field takes a whole number"),
            )
            .help("write it without a decimal point or exponent (`1`, not `1.0`)"),
        ),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Index(i));
                decimal_numbers(item, path, out);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                path.push(Step::Key(key));
                decimal_numbers(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A step down a JSON value: the walk of [`decimal_numbers`] spells its path as a pointer only
/// where it finds something (it visits every node of an organisation's spec).
#[derive(Debug, Clone, Copy)]
enum Step<'v> {
    Index(usize),
    Key(&'v str),
}

fn pointer_of(path: &[Step<'_>]) -> String {
    use std::fmt::Write as _;
    let mut pointer = String::new();
    for step in path {
        match step {
            Step::Index(i) => {
                let _ = write!(pointer, "/{i}");
            }
            Step::Key(key) => {
                pointer.push('/');
                pointer.push_str(&crate::config::span_index::escape_token(key));
            }
        }
    }
    pointer
}
