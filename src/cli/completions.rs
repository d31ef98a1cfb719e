//! `crossfed completions`.

use clap::{Args, CommandFactory as _};
use clap_complete::Shell;

use super::{Cli, Outcome};

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: Shell,
}

/// Prints the completion script for a shell.
pub fn run(args: &CompletionsArgs) -> Outcome {
    // Into a buffer: clap_complete panics on a write error, and a closed pipe is not a bug.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "crossfed", &mut script);
    super::out(format_args!("{}", String::from_utf8_lossy(&script)));
    Outcome::Success
}
