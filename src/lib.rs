//! crossfed renders cross-cloud workload identity federation (GKE/GCE → AWS, EKS/EC2 → GCP)
//! from one declarative spec.
//!
//! The pipeline is a chain of pure stages, one module each: [`config`] (the spec as written and
//! its YAML loader) → [`validate`] (schema + semantic checks, producing [`model::Spec`], then
//! [`plan`], whose limits it checks) → [`render`] (the plan as in-memory files) → [`output`]
//! (writing). [`pipeline`] chains them. Only the CLI touches the terminal and only the writer
//! touches the disk.

#![deny(missing_docs)]

pub mod config;
pub mod diag;
pub mod model;
pub mod output;
mod par;
pub mod pipeline;
pub mod plan;
pub mod render;
pub mod validate;

/// The commented starter spec that `crossfed init` writes.
pub const STARTER_SPEC: &str = include_str!("../templates/starter.yaml");
