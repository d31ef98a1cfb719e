//! The command line: one `Args` struct and one `run` per subcommand.
//!
//! Subcommands return an [`Outcome`] (or an I/O-level [`Failure`]); `main` turns them into exit
//! codes. Printing happens here and in `main.rs` only.

pub mod check;
pub mod completions;
pub mod explain;
pub mod init;
pub mod render;
pub mod schema;
pub mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Render cross-cloud workload identity federation (GKE/GCE → AWS, EKS/EC2 → GCP) from one spec.
///
/// crossfed reads a declarative YAML spec of clouds, clusters, service accounts, roles and
/// federations, validates it, and renders every artifact both clouds need: AWS trust policies and
/// OIDC providers, Kubernetes manifests, gcloud/aws scripts and Google credential configs.
///
/// Exit codes: 0 success; 1 the spec is invalid (or output is stale); 2 usage or I/O error.
///
/// Environment: CROSSFED_YAML_EXPANSION=N (1 to 100, default 1) raises the YAML parser's limits
/// N-fold, for a spec whose aliases expand far past its text; the limits already grow with the
/// file's size.
#[derive(Debug, Parser)]
#[command(
    name = "crossfed",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a spec and report every problem with its file, line and column.
    ///
    /// Notes (findings that do not fail validation) are printed too; only errors exit 1.
    ///
    /// Example: `crossfed validate crossfed.yaml --format json` (or `--format sarif`)
    Validate(validate::ValidateArgs),
    /// Render every artifact of a spec into an output directory.
    ///
    /// The tree is built and validated in memory, staged beside its destination and committed
    /// with renames: a failure leaves the previous output untouched. Files crossfed generated
    /// before and no longer generates are removed; files it did not write are never touched.
    ///
    /// Example: `crossfed render crossfed.yaml -o federation/`
    Render(render::RenderArgs),
    /// Check that an output directory is exactly what `render` would write (CI, pre-commit).
    ///
    /// Exits 1 and prints a unified diff per file when it is not.
    ///
    /// Example: `crossfed check crossfed.yaml -o federation/ --format json`
    Check(check::CheckArgs),
    /// Print the JSON Schema of the spec format (for editors and CI).
    ///
    /// Example: `crossfed schema --output schemas/crossfed.schema.json`
    Schema(schema::SchemaArgs),
    /// Write a commented starter spec (never overwrites an existing file).
    ///
    /// Example: `crossfed init` (writes ./crossfed.yaml)
    Init(init::InitArgs),
    /// Explain a federation's trust chain, a diagnostic code or a security rule.
    ///
    /// Example: `crossfed explain billing-s3-reader`, `crossfed explain unknown-field`,
    /// `crossfed explain long-session`; `crossfed explain` lists all codes and rules.
    Explain(explain::ExplainArgs),
    /// Print a shell completion script.
    ///
    /// Example: `crossfed completions bash > /etc/bash_completion.d/crossfed`
    Completions(completions::CompletionsArgs),
}

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable, rustc style.
    #[default]
    Text,
    /// A JSON array, for CI annotations.
    Json,
}

/// The default spec path.
pub const DEFAULT_SPEC: &str = "crossfed.yaml";
/// The default output directory.
pub const DEFAULT_OUTPUT: &str = "crossfed-out";

/// A spec validated into its plan, or the rendered report of why it could not be.
#[derive(Debug)]
pub enum Planned {
    /// The spec is valid.
    Plan(Box<Validated>),
    /// The spec is invalid: every problem, located.
    Invalid(crossfed::diag::Report),
}

/// A valid spec and its plan, ready to render once the output directory is held.
#[derive(Debug)]
pub struct Validated {
    file: String,
    name: String,
    source: String,
    plan: crossfed::plan::Plan,
}

/// A rendering of the cloud side, for `--outputs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputKind {
    /// `aws` and `gcloud` scripts.
    Scripts,
    /// Terraform modules in JSON syntax.
    Terraform,
}

impl Validated {
    /// Writes the cloud side as `kinds` say, instead of as the spec's `output` says.
    pub fn set_outputs(&mut self, kinds: &[OutputKind]) {
        self.plan.spec.outputs = crossfed::model::Outputs {
            scripts: kinds.contains(&OutputKind::Scripts),
            terraform: kinds.contains(&OutputKind::Terraform),
        };
    }

    /// The rendering of the spec after the render that recorded `previous`
    /// ([`crossfed::pipeline::Rendering`]).
    #[must_use]
    pub fn rendering<'a>(
        &'a self,
        previous: &'a crossfed::pipeline::Previous,
    ) -> crossfed::pipeline::Rendering<'a> {
        let spec = crossfed::pipeline::SpecText {
            file: &self.file,
            name: &self.name,
            source: &self.source,
        };
        crossfed::pipeline::Rendering::new(&self.plan, spec, previous)
    }

    /// With Terraform on, the pools and providers that the directory's manifest recorded and
    /// the spec dropped, which Terraform will delete ([`crossfed::render::terraform::deleted_identities`]).
    #[must_use]
    pub fn deleted_by_terraform(&self, held: &crossfed::output::Held<'_>) -> Vec<(String, String)> {
        if !self.plan.spec.outputs.terraform {
            return Vec::new();
        }
        let Ok(previous) = held.previous() else {
            return Vec::new();
        };
        crossfed::render::terraform::deleted_identities(
            &previous.grants,
            &crossfed::render::grants::Grants::of(&self.plan),
        )
    }
}

/// What the render before recorded in `held`'s manifest: its revocations are carried on, unless
/// `forget_revocations`.
///
/// # Errors
/// When the manifest cannot be read.
pub fn previous<'h>(
    held: &'h crossfed::output::Held<'_>,
    forget_revocations: bool,
) -> Result<std::borrow::Cow<'h, crossfed::pipeline::Previous>, Failure> {
    let mut previous = held
        .previous()
        .map_err(|e| Failure::Refused(e.to_string()))?;
    if forget_revocations {
        previous.to_mut().pending = crossfed::render::grants::Grants::default();
    }
    Ok(previous)
}

/// [`plan_spec`], while a [`Survey`](crossfed::output::Survey) reads the output directory on
/// another thread, helped by this one once the spec is valid: the directory held, if it could be
/// surveyed.
///
/// # Errors
/// As [`plan_spec`].
pub fn plan_spec_surveying<'a>(
    path: &Path,
    output: &'a Path,
    exclusive: bool,
) -> Result<(Planned, Option<crossfed::output::Held<'a>>), Failure> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = AtomicBool::new(false);
    let survey = std::sync::OnceLock::new();
    let planned = std::thread::scope(|scope| {
        let surveying = scope.spawn(|| {
            if let Some(survey) =
                survey.get_or_init(|| crossfed::output::Survey::open(output, exclusive))
            {
                survey.work(&stop);
            }
        });
        let planned = plan_spec(path, output);
        if matches!(planned, Ok(Planned::Plan(_))) {
            // Rendering waits for the survey: hash what is left of it on this core too.
            if let Some(Some(survey)) = survey.get() {
                survey.work(&stop);
            }
        } else {
            stop.store(true, Ordering::Relaxed);
        }
        // Joined here, so that a panic on the survey's thread only loses the survey.
        let _ = surveying.join();
        planned
    });
    // A survey that was stopped, or whose thread panicked, is not finished: `None`.
    let held = survey
        .into_inner()
        .flatten()
        .and_then(crossfed::output::Survey::finish);
    planned.map(|planned| (planned, held))
}

/// Reads the spec at `path` and validates it into its plan ([`crossfed::pipeline::plan`]),
/// naming the spec relative to the `output` directory ([`crossfed::pipeline::spec_name`]).
///
/// # Errors
/// When the spec cannot be read.
pub fn plan_spec(path: &Path, output: &Path) -> Result<Planned, Failure> {
    let source = read_spec(path)?;
    let file = path.display().to_string();
    let name = crossfed::pipeline::spec_name(path, output);
    let spec = crossfed::pipeline::SpecText {
        file: &file,
        name: &name,
        source: &source,
    };
    match crossfed::pipeline::plan(spec) {
        Ok(plan) => Ok(Planned::Plan(Box::new(Validated {
            file,
            name,
            source,
            plan,
        }))),
        Err(crossfed::pipeline::PipelineError::Invalid(report)) => Ok(Planned::Invalid(report)),
        Err(e) => Err(Failure::Refused(e.to_string())),
    }
}

/// A usage or I/O failure: exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The spec file could not be read.
    #[error("cannot read spec `{path}`: {source}")]
    ReadSpec {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A refused operation, with the reason.
    #[error("{0}")]
    Refused(String),
}

/// What a subcommand found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// All good.
    Success,
    /// Findings (invalid spec, stale output).
    Findings,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Findings => ExitCode::from(1),
        }
    }
}

/// Reads the spec at `path` as UTF-8 text.
///
/// # Errors
/// [`Failure::ReadSpec`] when it cannot be read.
pub fn read_spec(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|source| Failure::ReadSpec {
        path: path.to_owned(),
        source,
    })
}

/// Lets go of a large value without freeing it. The process exits right after the command, and
/// the kernel reclaims the memory at once, while freeing an organisation's plan or file tree node
/// by node takes a noticeable share of the run.
pub fn discard<T>(value: T) {
    std::mem::forget(value);
}

/// Writes to standard output. A reader that went away (`crossfed schema | head -1`) ends the
/// process quietly with success, as it would a shell tool; another write error exits 2.
pub fn out(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {error}");
        std::process::exit(2);
    }
}

/// [`out`], then a line break.
pub fn out_line(args: std::fmt::Arguments<'_>) {
    out(format_args!("{args}\n"));
}
