//! `crossfed init`.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;

use super::{DEFAULT_SPEC, Failure, Outcome};

/// Arguments of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the starter spec.
    #[arg(default_value = DEFAULT_SPEC)]
    pub path: PathBuf,
}

/// Writes the starter spec, refusing to replace an existing file.
///
/// # Errors
/// When the file exists or cannot be written.
pub fn run(args: &InitArgs) -> Result<Outcome, Failure> {
    // `create_new` makes "does it exist?" and "create it" one atomic step.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&args.path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Failure::Refused(format!(
                "`{}` already exists; crossfed init never overwrites a file (remove it or pass another path)",
                args.path.display()
            )));
        }
        Err(source) => {
            return Err(Failure::Write {
                path: args.path.clone(),
                source,
            });
        }
    };
    file.write_all(crossfed::STARTER_SPEC.as_bytes())
        .map_err(|source| Failure::Write {
            path: args.path.clone(),
            source,
        })?;
    eprintln!(
        "wrote {}; edit it, then run `crossfed validate {}`",
        args.path.display(),
        args.path.display()
    );
    Ok(Outcome::Success)
}
