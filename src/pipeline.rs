//! The one code path from spec text to the tree that `render` writes and `check` compares:
//! validate (which plans), render, add the manifest. The binary, the tests and the benchmarks all
//! call [`plan_files`], so what is tested is what ships.

use std::path::Path;

use crate::diag::Report;
use crate::render::{FilePlan, RenderError, RenderOptions};

/// Why a spec could not be turned into files.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The spec is invalid: every problem, located.
    #[error("the spec is invalid")]
    Invalid(Report),
    /// A renderer failed: a crossfed bug.
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// A spec as read: its text and how to name it.
#[derive(Debug, Clone, Copy)]
pub struct SpecText<'a> {
    /// The path as given, for diagnostics.
    pub file: &'a str,
    /// The name written into headers and the manifest (see [`spec_name`]).
    pub name: &'a str,
    /// The spec's text.
    pub source: &'a str,
}

/// The name a spec at `path` gets in generated headers: the path as given when relative, the
/// file name when absolute (an absolute path would differ from machine to machine).
#[must_use]
pub fn spec_name(path: &Path) -> String {
    if path.is_absolute() {
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    } else {
        path.display().to_string()
    }
}

/// Every file `render` writes for `spec`, manifest included.
///
/// # Errors
/// [`PipelineError::Invalid`] with every problem of an invalid spec; [`PipelineError::Render`]
/// on a crossfed bug.
pub fn plan_files(spec: SpecText<'_>) -> Result<FilePlan, PipelineError> {
    let files = render_files(spec)?;
    Ok(crate::output::with_manifest(files, spec.name, spec.source))
}

/// Every generated file of `spec`, without the manifest (which only records them).
///
/// # Errors
/// As [`plan_files`].
pub fn render_files(spec: SpecText<'_>) -> Result<FilePlan, PipelineError> {
    let plan = crate::validate::validate(spec.file, spec.source).map_err(PipelineError::Invalid)?;
    let options = RenderOptions {
        spec_name: spec.name.to_owned(),
    };
    Ok(crate::render::render(&plan, &options)?)
}
