//! From spec text to a validated [`Spec`], or a [`Report`] of everything wrong with it.
//!
//! Three stages, each only on the output of the one before: YAML parse (syntax), the JSON Schema
//! (the same rules the editor applies), and semantic checks. A later stage does not run when an
//! earlier one failed, because its findings would be noise about a tree we already know is off;
//! within a stage every problem is reported.

mod cross;
mod federation;
mod inventory;
pub mod schema;
pub mod semantic;

use crate::config::RawSpec;
use crate::config::load::parse_yaml;
use crate::diag::{Code, Diagnostic, Report};
use crate::model::Spec;

/// Validates the spec text `source`, read from `file` (used only in messages).
///
/// # Errors
/// A [`Report`] holding every problem found.
pub fn validate(file: &str, source: &str) -> Result<Spec, Report> {
    let (value, index) = match parse_yaml(source) {
        Ok(parsed) => parsed,
        Err(error) => {
            return Err(Report::at(
                file,
                source,
                error.line,
                error.column,
                error.diagnostic,
            ));
        }
    };
    let mut diagnostics = schema::check(&value);
    if !diagnostics.is_empty() {
        return Err(Report::new(file, source, &index, diagnostics));
    }
    let raw: RawSpec = match serde_json::from_value(value) {
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
            return Err(Report::new(file, source, &index, vec![d]));
        }
    };
    match semantic::check(&raw, &mut diagnostics) {
        Some(spec) if diagnostics.is_empty() => {
            // Limits of the rendered artifacts (policy sizes, ...): a spec that validates renders.
            let limits = crate::render::check_limits(&spec);
            if limits.is_empty() {
                Ok(spec)
            } else {
                Err(Report::new(file, source, &index, limits))
            }
        }
        _ => Err(Report::new(file, source, &index, diagnostics)),
    }
}
