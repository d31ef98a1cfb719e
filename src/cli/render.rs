//! `crossfed render`.

use std::path::PathBuf;

use clap::Args;

use crossfed::output::{Fault, OutputError};

use super::{DEFAULT_OUTPUT, DEFAULT_SPEC, Failure, Outcome, Planned, plan_spec};

/// Arguments of `render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The spec file.
    #[arg(default_value = DEFAULT_SPEC)]
    pub spec: PathBuf,
    /// The output directory. crossfed owns only the files it lists in `.crossfed/manifest.json`.
    #[arg(long, short, default_value = DEFAULT_OUTPUT)]
    pub output: PathBuf,
}

/// Validates, renders in memory, then commits the tree atomically.
///
/// # Errors
/// When the spec cannot be read or the output cannot be written.
pub fn run(args: &RenderArgs) -> Result<Outcome, Failure> {
    let plan = match plan_spec(&args.spec)? {
        Planned::Plan(plan) => plan,
        Planned::Invalid(report) => {
            eprint!("{}", report.to_text());
            return Ok(Outcome::Findings);
        }
    };
    // Tests inject failures while staging or committing; never set outside tests.
    let fault = std::env::var("CROSSFED_TEST_FAULT")
        .ok()
        .and_then(|f| Fault::parse(&f))
        .unwrap_or_default();
    let summary = crossfed::output::write(&args.output, &plan, fault).map_err(|e| match e {
        OutputError::NotOwned { .. } => Failure::Refused(format!(
            "{e}\n  help: move the file away, or render into another directory"
        )),
        other => Failure::Refused(other.to_string()),
    })?;
    eprintln!(
        "{}: {} written, {} removed, {} unchanged",
        args.output.display(),
        summary.written.len(),
        summary.removed.len(),
        summary.unchanged
    );
    Ok(Outcome::Success)
}
