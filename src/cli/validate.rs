//! `crossfed validate`.

use std::path::PathBuf;

use clap::Args;

use super::{DEFAULT_SPEC, Failure, Format, Outcome, read_spec};

/// Arguments of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The spec file.
    #[arg(default_value = DEFAULT_SPEC)]
    pub spec: PathBuf,
    /// Output format of the diagnostics.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Validates the spec and prints what is wrong (or, with `--format json`, `[]` when nothing is).
///
/// # Errors
/// When the spec cannot be read.
pub fn run(args: &ValidateArgs) -> Result<Outcome, Failure> {
    let source = read_spec(&args.spec)?;
    let file = args.spec.display().to_string();
    match (crate_validate(&file, &source), args.format) {
        (Ok(()), Format::Text) => {
            eprintln!("{file}: ok");
            Ok(Outcome::Success)
        }
        (Ok(()), Format::Json) => {
            println!("[]");
            Ok(Outcome::Success)
        }
        (Err(report), Format::Text) => {
            eprint!("{}", report.to_text());
            Ok(Outcome::Findings)
        }
        (Err(report), Format::Json) => {
            print!("{}", report.to_json());
            Ok(Outcome::Findings)
        }
    }
}

fn crate_validate(file: &str, source: &str) -> Result<(), crossfed::diag::Report> {
    crossfed::validate::validate(file, source).map(|_| ())
}
