//! `crossfed explain`.

use clap::Args;

use crossfed::diag::Code;

use super::{Failure, Outcome};

/// Arguments of `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A diagnostic code such as `unknown-field`; omit to list all codes.
    pub code: Option<String>,
}

/// Prints the explanation of a code, or the list of codes.
///
/// # Errors
/// When the code is unknown.
pub fn run(args: &ExplainArgs) -> Result<Outcome, Failure> {
    match &args.code {
        None => {
            for code in Code::ALL {
                println!("{}", code.as_str());
            }
            Ok(Outcome::Success)
        }
        Some(name) => match Code::ALL.iter().find(|c| c.as_str() == name) {
            Some(code) => {
                println!("{}\n\n{}", code.as_str(), code.explanation());
                Ok(Outcome::Success)
            }
            None => Err(Failure::Refused(format!(
                "unknown code `{name}`; `crossfed explain` lists the codes"
            ))),
        },
    }
}
