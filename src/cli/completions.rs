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
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "crossfed",
        &mut std::io::stdout(),
    );
    Outcome::Success
}
