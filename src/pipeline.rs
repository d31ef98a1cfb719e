//! The one code path from spec text to the tree that `render` writes and `check` compares:
//! validate (which plans), render, add the manifest. The binary, the tests and the benchmarks all
//! call [`plan_files`], so what is tested is what ships.

use std::path::Path;

use crate::diag::Report;
use crate::plan::Plan;
use crate::render::grants::Grants;
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

/// The name a spec at `path` gets in generated headers and the manifest: its path relative to
/// the `output` directory (`../crossfed.yaml`), so the same spec and output give the same bytes
/// however the paths were typed and from whichever directory crossfed runs. Falls back to the
/// file name when a path cannot be resolved.
#[must_use]
pub fn spec_name(path: &Path, output: &Path) -> String {
    let file_name = || {
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    match (std::fs::canonicalize(path), resolve(output)) {
        (Ok(spec), Some(output)) => relative(&spec, &output),
        _ => file_name(),
    }
}

/// `path` made absolute, with symlinks resolved as far as it exists (an output directory may
/// not exist yet); `None` when a missing part holds `..`.
fn resolve(path: &Path) -> Option<std::path::PathBuf> {
    use std::path::Component;
    let mut existing = path;
    let mut missing = Vec::new();
    loop {
        if let Ok(found) = std::fs::canonicalize(if existing.as_os_str().is_empty() {
            Path::new(".")
        } else {
            existing
        }) {
            let mut resolved = found;
            for part in missing.iter().rev() {
                resolved.push(part);
            }
            return Some(resolved);
        }
        let last = existing.components().next_back()?;
        match last {
            Component::Normal(part) => missing.push(part.to_owned()),
            Component::CurDir => {}
            _ => return None,
        }
        existing = existing.parent()?;
    }
}

/// `to` relative to directory `from` (both absolute), with `/` separators.
fn relative(to: &Path, from: &Path) -> String {
    let to: Vec<_> = to.components().collect();
    let from: Vec<_> = from.components().collect();
    let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// Every file `render` writes for `spec`, manifest included.
///
/// # Errors
/// [`PipelineError::Invalid`] with every problem of an invalid spec; [`PipelineError::Render`]
/// on a crossfed bug.
pub fn plan_files(spec: SpecText<'_>) -> Result<FilePlan, PipelineError> {
    files_of(&plan(spec)?, spec, &Previous::default(), &|_| {})
}

/// What the render before this one recorded in its manifest and this one carries on (see
/// [`crate::render::grants`]): empty for a first render.
#[derive(Debug, Clone, Default)]
pub struct Previous {
    /// The grants it created.
    pub grants: Grants,
    /// The revocations it listed and nobody has marked as run.
    pub pending: Grants,
}

/// Every generated file of `spec`, without the manifest (which only records them).
///
/// # Errors
/// As [`plan_files`].
pub fn render_files(spec: SpecText<'_>) -> Result<FilePlan, PipelineError> {
    Ok(crate::render::render(
        &plan(spec)?,
        &options(spec, Grants::default()),
    )?)
}

/// Validates `spec` into its [`Plan`]: the first half of [`plan_files`], for callers that must
/// do something between validating and rendering (the CLI locks the output directory).
///
/// # Errors
/// [`PipelineError::Invalid`] with every problem of an invalid spec.
pub fn plan(spec: SpecText<'_>) -> Result<Plan, PipelineError> {
    crate::validate::validate(spec.file, spec.source).map_err(PipelineError::Invalid)
}

/// The second half of [`plan_files`]: every file of the validated `plan` of `spec`, manifest
/// included, handing each rendered part to `each_part` (see [`crate::render::render_with`]).
///
/// # Errors
/// [`PipelineError::Render`] on a crossfed bug.
pub fn files_of(
    plan: &Plan,
    spec: SpecText<'_>,
    previous: &Previous,
    each_part: &(dyn Fn(&mut FilePlan) + Sync),
) -> Result<FilePlan, PipelineError> {
    Rendering::new(plan, spec, previous).files(each_part)
}

/// A validated plan on its way to files: the whole tree once ([`Rendering::files`]), and any of
/// its parts again ([`Rendering::parts`]) with the same grants and revocations, for the writer
/// to stage the files whose content was released.
#[derive(Debug)]
pub struct Rendering<'a> {
    plan: &'a Plan,
    spec: SpecText<'a>,
    previous: &'a Previous,
    /// The grants of the tree and the revocations it lists, computed once, by one rendering
    /// thread while the others render what does not need them.
    computed: std::sync::OnceLock<(Grants, Grants)>,
}

impl<'a> Rendering<'a> {
    /// The rendering of `plan`, validated from `spec`, after a render that recorded `previous`.
    #[must_use]
    pub fn new(plan: &'a Plan, spec: SpecText<'a>, previous: &'a Previous) -> Self {
        Rendering {
            plan,
            spec,
            previous,
            computed: std::sync::OnceLock::new(),
        }
    }

    fn grants_and_revocations(&self) -> &(Grants, Grants) {
        self.computed.get_or_init(|| {
            let grants = Grants::of(self.plan);
            let mut revocations = grants.revocations(&self.previous.grants, &self.previous.pending);
            if !self.plan.spec.outputs.scripts {
                // Without scripts the cloud side is Terraform's, whose state revokes what the
                // spec drops.
                revocations.aws.clear();
                revocations.gcp.clear();
            }
            (grants, revocations)
        })
    }

    /// Every file, manifest included, handing each rendered part to `each_part` (see
    /// [`crate::render::render_with`]).
    ///
    /// # Errors
    /// [`PipelineError::Render`] on a crossfed bug.
    pub fn files(
        &self,
        each_part: &(dyn Fn(&mut FilePlan) + Sync),
    ) -> Result<FilePlan, PipelineError> {
        let files = crate::render::render_with(
            self.plan,
            self.spec.name,
            &|| &self.grants_and_revocations().1,
            each_part,
        )?;
        let (grants, revocations) = self.grants_and_revocations();
        Ok(crate::output::with_manifest_recording(
            files,
            self.spec.name,
            self.spec.source,
            grants,
            revocations,
        ))
    }

    /// The parts `which` of `files` (what [`Rendering::files`] returned), rendered again (see
    /// [`crate::render::render_parts`]).
    ///
    /// # Errors
    /// On a crossfed bug.
    pub fn parts(&self, which: &[usize], files: &FilePlan) -> Result<Vec<FilePlan>, RenderError> {
        crate::render::render_parts(
            self.plan,
            self.spec.name,
            &self.grants_and_revocations().1,
            files,
            which,
        )
    }
}

fn options(spec: SpecText<'_>, revocations: Grants) -> RenderOptions {
    RenderOptions {
        spec_name: spec.name.to_owned(),
        revocations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_is_named_relative_to_the_output_however_typed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("infra/specs")).unwrap();
        std::fs::write(root.join("infra/specs/crossfed.yaml"), "").unwrap();
        let spec = root.join("infra/specs/crossfed.yaml");
        let expected = "../specs/crossfed.yaml";
        for (spec, output) in [
            (spec.clone(), root.join("infra/out")),
            (
                root.join("infra/specs/../specs/./crossfed.yaml"),
                root.join("infra/./out"),
            ),
            // The output directory does not exist yet.
            (spec.clone(), root.join("infra/specs/../out")),
        ] {
            assert_eq!(spec_name(&spec, &output), expected, "{spec:?} {output:?}");
        }
        assert_eq!(
            spec_name(&spec, &root.join("infra/specs/out/deeper")),
            "../../crossfed.yaml"
        );
        assert_eq!(spec_name(&spec, &root.join("infra/specs")), "crossfed.yaml");
        assert_eq!(
            spec_name(Path::new("/no/such/spec.yaml"), root),
            "spec.yaml"
        );
    }
}
