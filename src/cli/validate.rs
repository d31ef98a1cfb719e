//! `crossfed validate`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{DEFAULT_SPEC, Failure, Outcome, read_spec};

/// Arguments of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The spec file.
    #[arg(default_value = DEFAULT_SPEC)]
    pub spec: PathBuf,
    /// Output format of the diagnostics.
    #[arg(long, value_enum, default_value_t)]
    pub format: ValidateFormat,
}

/// How `validate` prints its findings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    /// Human-readable, rustc style, on stderr.
    #[default]
    Text,
    /// A JSON array on stdout, for CI annotations.
    Json,
    /// SARIF 2.1.0 on stdout, for code-scanning tools.
    Sarif,
}

/// Validates the spec and prints what is wrong (or, with `--format json`, `[]` when nothing is).
/// Notes are printed too, but only errors make the exit code 1.
///
/// # Errors
/// When the spec cannot be read.
pub fn run(args: &ValidateArgs) -> Result<Outcome, Failure> {
    let source = read_spec(&args.spec)?;
    let file = args.spec.display().to_string();
    let (report, outcome) = match crossfed::validate::validate_with_notes(&file, &source) {
        Ok((plan, notes)) => {
            super::discard(plan);
            (notes, Outcome::Success)
        }
        Err(report) => (report, Outcome::Findings),
    };
    match args.format {
        ValidateFormat::Text => {
            if !report.is_empty() {
                eprint!("{}", report.to_text());
            }
            if outcome == Outcome::Success {
                eprintln!("{file}: ok");
            }
        }
        ValidateFormat::Json => super::out(format_args!("{}", report.to_json())),
        ValidateFormat::Sarif => super::out(format_args!("{}", report.to_sarif())),
    }
    Ok(outcome)
}
