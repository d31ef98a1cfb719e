//! `crossfed explain`.

use std::path::PathBuf;

use clap::Args;

use crossfed::diag::Code;

use super::{DEFAULT_SPEC, Failure, Outcome};

/// Arguments of `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A federation name from the spec, or a diagnostic code such as `unknown-field`; omit to
    /// list the codes.
    pub topic: Option<String>,
    /// The spec that declares the federation.
    #[arg(long, default_value = DEFAULT_SPEC)]
    pub spec: PathBuf,
}

/// Explains a federation's trust chain or a diagnostic code.
///
/// # Errors
/// When the topic is neither, or the spec is invalid.
pub fn run(args: &ExplainArgs) -> Result<Outcome, Failure> {
    let Some(topic) = &args.topic else {
        for code in Code::ALL {
            println!(
                "{:<24} {}",
                code.as_str(),
                first_sentence(code.explanation())
            );
        }
        return Ok(Outcome::Success);
    };
    // A federation of the spec wins over a code of the same name: it is what the user is looking at.
    if let Ok(source) = std::fs::read_to_string(&args.spec) {
        let file = args.spec.display().to_string();
        match crossfed::validate::validate(&file, &source) {
            Ok(plan) => {
                if let Some(text) = crossfed::render::summary::explain(&plan, topic) {
                    print!("{text}");
                    return Ok(Outcome::Success);
                }
            }
            Err(report) if Code::ALL.iter().all(|c| c.as_str() != topic) => {
                eprint!("{}", report.to_text());
                return Ok(Outcome::Findings);
            }
            Err(_) => {}
        }
    }
    match Code::ALL.iter().find(|c| c.as_str() == topic) {
        Some(code) => {
            println!("{}\n\n{}", code.as_str(), code.explanation());
            Ok(Outcome::Success)
        }
        None => Err(Failure::Refused(format!(
            "`{topic}` is neither a federation in `{}` nor a diagnostic code; `crossfed explain` lists the codes",
            args.spec.display()
        ))),
    }
}

fn first_sentence(text: &str) -> &str {
    text.split_once(". ").map_or(text, |(first, _)| first)
}
