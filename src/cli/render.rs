//! `crossfed render`.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;

use crossfed::output::{Fault, Held, OutputError, Rerender};

use super::{DEFAULT_OUTPUT, DEFAULT_SPEC, Failure, Outcome, Planned, plan_spec_surveying};

/// Arguments of `render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The spec file.
    #[arg(default_value = DEFAULT_SPEC)]
    pub spec: PathBuf,
    /// The output directory. crossfed owns only the files it lists in `.crossfed/manifest.json`.
    #[arg(long, short, default_value = DEFAULT_OUTPUT)]
    pub output: PathBuf,
    /// Overwrite (or delete) files crossfed wrote that were edited by hand since. Without it,
    /// `render` refuses, names the files and shows the edits, and writes nothing.
    #[arg(long)]
    pub force: bool,
    /// The `revoke.sh` scripts of the output directory have been run: drop the revocations they
    /// hold (by default they are carried from render to render, so none is lost before it ran).
    #[arg(long)]
    pub forget_revocations: bool,
    /// How to write the cloud side, instead of the spec's `output`: `scripts`, `terraform`, or
    /// both (`--outputs scripts,terraform`).
    #[arg(long, value_enum, value_delimiter = ',', num_args = 1..)]
    pub outputs: Option<Vec<super::OutputKind>>,
    /// Print nothing but errors (by default every file written or removed is listed, then a
    /// count).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Validates, renders in memory, then commits the tree atomically.
///
/// # Errors
/// When the spec cannot be read or the output cannot be written.
pub fn run(args: &RenderArgs) -> Result<Outcome, Failure> {
    // An existing tree is read while the spec is validated.
    let (planned, surveyed) = plan_spec_surveying(&args.spec, &args.output, true)?;
    let mut spec = match planned {
        Planned::Plan(spec) => spec,
        Planned::Invalid(report) => {
            eprint!("{}", report.to_text());
            return Ok(Outcome::Findings);
        }
    };
    if let Some(kinds) = &args.outputs {
        spec.set_outputs(kinds);
    }
    // Tests inject failures while staging or committing; never set outside tests.
    let fault = std::env::var("CROSSFED_TEST_FAULT")
        .ok()
        .and_then(|f| Fault::parse(&f))
        .unwrap_or_default();
    // One writer at a time, from before the tree is compared until it is committed.
    let held = match surveyed {
        Some(held) => held.for_writing_after_survey(),
        None => Held::for_writing(&args.output),
    }
    .map_err(|e| Failure::Refused(e.to_string()))?;
    for (project, what) in spec.deleted_by_terraform(&held) {
        eprintln!(
            "warning: {what} (project `{project}`) is no longer in the spec: Terraform will delete it, and Google keeps a deleted pool or provider for 30 days, during which its id cannot be used again\n  help: if it was renamed by mistake, restore its id; to keep it, remove it from Terraform's state first (`terraform state rm`)"
        );
    }
    let previous = super::previous(&held, args.forget_revocations)?;
    let rendering = spec.rendering(&previous);
    // The content of every file is released as soon as its part is compared with the
    // directory: the writer renders each part again as it stages its files.
    let plan = rendering
        .files(&|part| held.settle(part))
        .map_err(|e| Failure::Refused(e.to_string()))?;
    let rerender = |which: &[usize]| rendering.parts(which, &plan);
    let summary = held.write(&plan, &rerender, fault, args.force).map_err(|e| match e {
            OutputError::NotOwned { .. } => Failure::Refused(format!(
                "{e}\n  help: move the file away, or render into another directory"
            )),
            OutputError::HandEdited { ref paths } => {
                show_edits(&held, &plan, paths, &rerender);
                Failure::Refused(format!(
                    "{e}\n  help: carry the change into the spec (the edits are shown above), or run `crossfed render {} -o {} --force` to discard them",
                    args.spec.display(),
                    args.output.display()
                ))
            }
            other => Failure::Refused(other.to_string()),
        })?;
    super::discard(plan);
    super::discard(rendering);
    super::discard(previous);
    super::discard(spec);
    // With what the survey found (a digest per file): the lock goes with the process.
    super::discard(held);
    if args.quiet {
        return Ok(Outcome::Success);
    }
    let mut listing = String::new();
    for path in &summary.written {
        let _ = writeln!(listing, "wrote   {path}");
    }
    for path in &summary.removed {
        let _ = writeln!(listing, "removed {path}");
    }
    eprint!("{listing}");
    eprintln!(
        "{}: {} written, {} removed, {} unchanged",
        args.output.display(),
        summary.written.len(),
        summary.removed.len(),
        summary.unchanged
    );
    Ok(Outcome::Success)
}

/// Prints, on stdout, what `render` would undo in each of the hand-edited `paths`.
fn show_edits(
    held: &Held<'_>,
    plan: &crossfed::render::FilePlan,
    paths: &[String],
    rerender: &Rerender<'_>,
) {
    let Ok(changes) = held.diff_of(plan, paths, rerender) else {
        return;
    };
    for change in &changes {
        super::out(format_args!("{}", change.diff));
    }
}
