//! `crossfed check`.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;

use crossfed::output::ChangeKind;

use super::{DEFAULT_OUTPUT, DEFAULT_SPEC, Failure, Format, Outcome, Planned, plan_spec_surveying};

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The spec file.
    #[arg(default_value = DEFAULT_SPEC)]
    pub spec: PathBuf,
    /// The output directory to compare.
    #[arg(long, short, default_value = DEFAULT_OUTPUT)]
    pub output: PathBuf,
    /// How to write the cloud side, instead of the spec's `output`: `scripts`, `terraform`, or
    /// both (`--outputs scripts,terraform`).
    #[arg(long, value_enum, value_delimiter = ',', num_args = 1..)]
    pub outputs: Option<Vec<super::OutputKind>>,
    /// Output format of the differences.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Compares the output directory with what `render` would write.
///
/// # Errors
/// When the spec or the output cannot be read.
pub fn run(args: &CheckArgs) -> Result<Outcome, Failure> {
    let (planned, surveyed) = plan_spec_surveying(&args.spec, &args.output, false)?;
    let mut spec = match planned {
        Planned::Plan(spec) => spec,
        Planned::Invalid(report) => {
            // The format asked for, on stdout, whatever went wrong.
            match args.format {
                super::Format::Json => super::out(format_args!("{}", report.to_json())),
                super::Format::Text => eprint!("{}", report.to_text()),
            }
            return Ok(Outcome::Findings);
        }
    };
    if let Some(kinds) = &args.outputs {
        spec.set_outputs(kinds);
    }
    // `check` only reads: an interrupted render's journal is `render`'s to finish (replaying a
    // checked-in state file would let a pull request rename and delete files in CI).
    if let Some(state) =
        crossfed::output::interrupted(&args.output).map_err(|e| Failure::Refused(e.to_string()))?
    {
        eprintln!(
            "{}: a render was interrupted and left `{state}`; run `crossfed render` to finish or undo it, then check again",
            args.output.display()
        );
        return Ok(Outcome::Findings);
    }
    if args.format == super::Format::Text && !args.output.exists() {
        eprintln!(
            "{}: no such directory; run `crossfed render {} -o {}` to create it",
            args.output.display(),
            args.spec.display(),
            args.output.display()
        );
        return Ok(Outcome::Findings);
    }
    // Not in the middle of a render's commit, from before the tree is compared until the end.
    let held = match surveyed {
        Some(held) => held,
        None => crossfed::output::Held::for_reading(&args.output)
            .map_err(|e| Failure::Refused(e.to_string()))?,
    };
    let previous = super::previous(&held, false)?;
    let rendering = spec.rendering(&previous);
    let plan = rendering
        .files(&|part| held.settle(part))
        .map_err(|e| Failure::Refused(e.to_string()))?;
    let changes = held
        .diff(&plan, &|which| rendering.parts(which, &plan))
        .map_err(|e| Failure::Refused(e.to_string()))?;
    super::discard(plan);
    super::discard(rendering);
    super::discard(previous);
    super::discard(spec);
    // With what the survey found (a digest per file): the lock goes with the process.
    super::discard(held);
    if args.format == super::Format::Json {
        super::out_line(format_args!(
            "{}",
            serde_json::to_string_pretty(&changes).unwrap_or_default()
        ));
    } else if !changes.is_empty() {
        // The diff on stdout (for a pager or a file), the verdict on stderr.
        let mut out = String::new();
        for change in &changes {
            let kind = match change.kind {
                ChangeKind::Added => "missing (render would add it)",
                ChangeKind::Removed => "stale (render would remove it)",
                ChangeKind::Changed => "changed",
            };
            let mut notes = Vec::new();
            if change.hand_edited {
                notes.push("edited by hand");
            }
            if change.not_owned {
                notes.push("not written by crossfed: render will refuse to overwrite it");
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            };
            let _ = writeln!(out, "{}: {kind}{notes}", change.path);
            out.push_str(&change.diff);
        }
        super::out(format_args!("{out}"));
        eprintln!(
            "{} {} from what `crossfed render` would write\n  help: run `crossfed render {} -o {}` and commit the result",
            changes.len(),
            if changes.len() == 1 {
                "file differs"
            } else {
                "files differ"
            },
            args.spec.display(),
            args.output.display()
        );
    }
    if changes.is_empty() {
        if args.format == super::Format::Text {
            eprintln!("{}: up to date", args.output.display());
        }
        Ok(Outcome::Success)
    } else {
        Ok(Outcome::Findings)
    }
}
