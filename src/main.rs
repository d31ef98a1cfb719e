//! The `crossfed` binary: parse arguments, dispatch, map outcomes to exit codes.

// The binary (this file and `cli/`) is the one place that prints; clippy.toml bans printing elsewhere.
#![allow(clippy::disallowed_macros)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

// Planning and rendering an organisation's spec allocate millions of small strings and JSON
// nodes, on several threads; mimalloc does that markedly faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A malformed setting is a usage error before any spec is read, not a silent default.
    if let Err(message) = crossfed::config::load::expansion() {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    let result = match &cli.command {
        Command::Validate(args) => cli::validate::run(args),
        Command::Render(args) => cli::render::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Completions(args) => Ok(cli::completions::run(args)),
        Command::Schema(args) => cli::schema::run(args),
        Command::Init(args) => cli::init::run(args),
        Command::Explain(args) => cli::explain::run(args),
    };
    match result {
        Ok(outcome) => outcome.into(),
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::from(2)
        }
    }
}
