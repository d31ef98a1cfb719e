//! `crossfed schema`.

use std::path::PathBuf;

use clap::Args;

use super::{Failure, Outcome};

/// Arguments of `schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Write the schema to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Prints (or writes) the JSON Schema.
///
/// # Errors
/// When the output file cannot be written.
pub fn run(args: &SchemaArgs) -> Result<Outcome, Failure> {
    let text = crossfed::validate::schema::json_schema_text();
    match &args.output {
        Some(path) => std::fs::write(path, text).map_err(|source| Failure::Write {
            path: path.clone(),
            source,
        })?,
        None => super::out(format_args!("{text}")),
    }
    Ok(Outcome::Success)
}
