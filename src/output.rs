//! The output directory: the only module that touches it.
//!
//! crossfed owns exactly the files listed in `.crossfed/manifest.json` (path → sha256, plus the
//! crossfed version and the spec's hash). A render:
//! 1. refuses, before writing anything, to overwrite a file it does not own (unless the file
//!    already holds exactly the planned bytes, which it then adopts);
//! 2. stages every new or changed file beside its destination (`.NAME.crossfed-new`, same
//!    filesystem, so the later rename is atomic); a failure here removes what was staged and
//!    leaves the tree untouched;
//! 3. writes a journal (`.crossfed/journal.json`, itself renamed into place) listing the renames
//!    and deletions to come, then performs them, writes the manifest and drops the journal.
//!
//! A run interrupted during step 3 leaves the journal behind; the next `render` or `check` finds
//! it and rolls the commit forward (every staged file is complete by then). Stray staged files
//! without a journal come from an interrupted step 2 and are removed. Files that are neither in
//! the plan nor in the manifest are never touched.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::render::{FilePlan, Mode, PlannedFile};

/// Folder of crossfed's own state inside the output directory.
pub const STATE_DIR: &str = ".crossfed";
/// The manifest of owned files.
pub const MANIFEST: &str = ".crossfed/manifest.json";
const JOURNAL: &str = ".crossfed/journal.json";
const STAGED_SUFFIX: &str = ".crossfed-new";

/// Something went wrong with the output directory.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file operation failed.
    #[error("cannot write `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A planned file exists and crossfed did not write it.
    #[error("refusing to overwrite `{path}`: crossfed did not write it (it is not in {MANIFEST})")]
    NotOwned {
        /// The file.
        path: PathBuf,
    },
    /// The manifest or journal cannot be read.
    #[error("cannot read `{path}`: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A fault injected by a test (`CROSSFED_TEST_FAULT`).
    #[error("injected fault: {0}")]
    Injected(String),
}

/// Test-only fault injection: fail while staging file N, or stop dead after N commit renames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fault {
    /// No fault.
    #[default]
    None,
    /// Fail (cleanly) when staging the Nth file (0-based).
    Stage(usize),
    /// Stop after N renames of the commit, leaving the journal, as a crash would.
    Commit(usize),
}

impl Fault {
    /// Parses `stage:N` or `commit:N`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, n) = text.split_once(':')?;
        let n = n.parse().ok()?;
        match kind {
            "stage" => Some(Fault::Stage(n)),
            "commit" => Some(Fault::Commit(n)),
            _ => None,
        }
    }
}

/// `.crossfed/manifest.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// The crossfed version that wrote the tree.
    pub crossfed: String,
    /// The spec, as named on the command line.
    pub spec: String,
    /// sha256 of the spec's bytes.
    pub spec_sha256: String,
    /// Every owned file: path → sha256.
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    renames: Vec<String>,
    deletes: Vec<String>,
    manifest: String,
}

/// Lower-case hex sha256.
#[must_use]
pub fn sha256(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(64);
    for byte in sha2::Sha256::digest(bytes) {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Adds the manifest of `plan` to it (the manifest is itself a planned file, so `check` compares it).
///
/// # Panics
/// Never: a manifest always serializes.
#[must_use]
pub fn with_manifest(mut plan: FilePlan, spec_name: &str, spec_source: &str) -> FilePlan {
    plan.remove(MANIFEST);
    let manifest = Manifest {
        crossfed: env!("CARGO_PKG_VERSION").to_owned(),
        spec: spec_name.to_owned(),
        spec_sha256: sha256(spec_source.as_bytes()),
        files: plan
            .iter()
            .map(|(path, file)| (path.clone(), sha256(file.content.as_bytes())))
            .collect(),
    };
    plan.insert(
        MANIFEST.to_owned(),
        PlannedFile::data(
            crate::render::to_json(
                &serde_json::to_value(&manifest).expect("a manifest serializes"),
            ),
            &std::collections::BTreeSet::new(),
        ),
    );
    plan
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_owned(),
        source,
    }
}

fn staged_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}{STAGED_SUFFIX}"))
}

/// Reads the manifest of `dir`, if there is one.
///
/// # Errors
/// When it exists but cannot be read or parsed.
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>, OutputError> {
    let path = dir.join(MANIFEST);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| OutputError::Corrupt {
                path,
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(OutputError::Io { path, source }),
    }
}

fn read_existing(path: &Path) -> Result<Option<Vec<u8>>, OutputError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(OutputError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes `bytes` to `path` durably, creating parents.
fn write_durably(path: &Path, bytes: &[u8], executable: bool) -> Result<(), OutputError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut file = std::fs::File::create(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    set_mode(path, executable).map_err(io(path))
}

/// Writes `bytes` to `path` through a temporary sibling and a rename.
fn replace_atomically(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let staged = staged_path(path);
    write_durably(&staged, bytes, false)?;
    std::fs::rename(&staged, path).map_err(io(path))
}

/// Finishes a commit that was interrupted (journal present) and removes stray staged files.
/// Returns whether anything was repaired.
///
/// # Errors
/// When the journal is unreadable or a rename fails.
pub fn recover(dir: &Path) -> Result<bool, OutputError> {
    let journal_path = dir.join(JOURNAL);
    let mut repaired = false;
    if let Some(bytes) = read_existing(&journal_path)? {
        let journal: Journal =
            serde_json::from_slice(&bytes).map_err(|e| OutputError::Corrupt {
                path: journal_path.clone(),
                message: e.to_string(),
            })?;
        commit(dir, &journal, Fault::None)?;
        repaired = true;
    }
    let mut stray = Vec::new();
    collect_staged(dir, &mut stray);
    for path in stray {
        std::fs::remove_file(&path).map_err(io(&path))?;
        repaired = true;
    }
    Ok(repaired)
}

fn collect_staged(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect_staged(&path, out);
        } else if kind.is_file()
            && entry.file_name().to_string_lossy().starts_with('.')
            && entry.file_name().to_string_lossy().ends_with(STAGED_SUFFIX)
        {
            out.push(path);
        }
    }
}

/// Performs a journaled commit: renames, deletions, manifest, then drops the journal.
/// Idempotent, so it can finish a commit that was interrupted at any point.
fn commit(dir: &Path, journal: &Journal, fault: Fault) -> Result<(), OutputError> {
    for (n, relative) in journal.renames.iter().enumerate() {
        if fault == Fault::Commit(n) {
            return Err(OutputError::Injected(format!(
                "stopped after {n} renames of the commit"
            )));
        }
        let path = dir.join(relative);
        let staged = staged_path(&path);
        if staged.exists() {
            std::fs::rename(&staged, &path).map_err(io(&path))?;
        }
    }
    for relative in &journal.deletes {
        let path = dir.join(relative);
        match std::fs::remove_file(&path) {
            Ok(()) => remove_empty_parents(dir, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(OutputError::Io { path, source }),
        }
    }
    replace_atomically(&dir.join(MANIFEST), journal.manifest.as_bytes())?;
    let journal_path = dir.join(JOURNAL);
    std::fs::remove_file(&journal_path)
        .or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(e)
            }
        })
        .map_err(io(&journal_path))
}

fn remove_empty_parents(dir: &Path, file: &Path) {
    let mut current = file.parent();
    while let Some(parent) = current {
        if parent == dir || std::fs::remove_dir(parent).is_err() {
            break;
        }
        current = parent.parent();
    }
}

/// What a render changed on disk.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Files written (new or changed).
    pub written: Vec<String>,
    /// Files crossfed wrote before and no longer generates, now removed.
    pub removed: Vec<String>,
    /// Files left as they were.
    pub unchanged: usize,
}

/// Writes `plan` (which must include its manifest, see [`with_manifest`]) under `dir`.
///
/// # Panics
/// Never: a journal always serializes.
///
/// # Errors
/// [`OutputError::NotOwned`] before anything is written, when a planned file exists and is not
/// crossfed's; I/O errors; injected faults.
pub fn write(dir: &Path, plan: &FilePlan, fault: Fault) -> Result<Summary, OutputError> {
    recover(dir)?;
    let owned: BTreeSet<String> = read_manifest(dir)?
        .map(|m| m.files.into_keys().collect())
        .unwrap_or_default();
    let mut summary = Summary::default();
    let mut to_write: Vec<(&String, &PlannedFile)> = Vec::new();
    for (relative, file) in plan.iter().filter(|(p, _)| p.as_str() != MANIFEST) {
        let path = dir.join(relative);
        match read_existing(&path) {
            Ok(Some(bytes)) if bytes == file.content.as_bytes() => summary.unchanged += 1,
            Ok(Some(_)) if !owned.contains(relative) => return Err(OutputError::NotOwned { path }),
            Ok(_) => to_write.push((relative, file)),
            // A directory where a file should go, or unreadable: not ours to replace.
            Err(_) if path.is_dir() => return Err(OutputError::NotOwned { path }),
            Err(e) => return Err(e),
        }
    }
    let deletes: Vec<String> = owned
        .iter()
        .filter(|p| !plan.contains_key(*p) && dir.join(p).is_file())
        .cloned()
        .collect();

    // Stage.
    let mut staged = Vec::new();
    for (n, (relative, file)) in to_write.iter().enumerate() {
        let target = staged_path(&dir.join(relative));
        let result = if fault == Fault::Stage(n) {
            Err(OutputError::Injected(format!(
                "failed while staging file {n}"
            )))
        } else {
            write_durably(
                &target,
                file.content.as_bytes(),
                file.mode == Mode::Executable,
            )
        };
        if let Err(e) = result {
            for path in staged.iter().chain(std::iter::once(&target)) {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
        staged.push(target);
    }

    // Commit.
    let journal = Journal {
        renames: to_write.iter().map(|(p, _)| (*p).clone()).collect(),
        deletes: deletes.clone(),
        manifest: plan
            .get(MANIFEST)
            .map(|f| f.content.clone())
            .unwrap_or_default(),
    };
    let journal_text = serde_json::to_string_pretty(&journal).expect("a journal serializes");
    replace_atomically(&dir.join(JOURNAL), journal_text.as_bytes())?;
    commit(dir, &journal, fault)?;
    summary.written = journal.renames;
    summary.removed = deletes;
    Ok(summary)
}

/// How a file on disk differs from the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// `render` would add it (it is missing).
    Added,
    /// `render` would remove it (crossfed wrote it and no longer generates it).
    Removed,
    /// `render` would change it.
    Changed,
}

/// One difference between the output directory and the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// Path relative to the output directory.
    pub path: String,
    /// What `render` would do.
    pub kind: ChangeKind,
    /// The file differs from what crossfed last wrote: someone edited it.
    pub hand_edited: bool,
    /// The file exists but crossfed does not own it (`render` will refuse to overwrite it).
    pub not_owned: bool,
    /// Unified diff from disk to plan.
    pub diff: String,
}

/// Compares `dir` with `plan` (including its manifest). Empty when they match.
///
/// # Errors
/// When the manifest or a file cannot be read.
pub fn diff(dir: &Path, plan: &FilePlan) -> Result<Vec<Change>, OutputError> {
    let manifest = read_manifest(dir)?.unwrap_or_default();
    let mut changes = Vec::new();
    for (relative, file) in plan {
        let content = &file.content;
        let path = dir.join(relative);
        let existing = read_existing(&path)?;
        let old = existing
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        if existing.as_deref() == Some(content.as_bytes()) {
            continue;
        }
        let recorded = manifest.files.get(relative);
        changes.push(Change {
            path: relative.clone(),
            kind: if existing.is_some() {
                ChangeKind::Changed
            } else {
                ChangeKind::Added
            },
            hand_edited: existing
                .as_ref()
                .is_some_and(|bytes| recorded.is_some_and(|h| *h != sha256(bytes))),
            not_owned: existing.is_some() && relative != MANIFEST && recorded.is_none(),
            diff: unified(relative, &old, content, existing.is_some()),
        });
    }
    for relative in manifest.files.keys().filter(|p| !plan.contains_key(*p)) {
        let path = dir.join(relative);
        if let Some(bytes) = read_existing(&path)? {
            let old = String::from_utf8_lossy(&bytes);
            changes.push(Change {
                path: relative.clone(),
                kind: ChangeKind::Removed,
                hand_edited: manifest
                    .files
                    .get(relative)
                    .is_some_and(|h| *h != sha256(&bytes)),
                not_owned: false,
                diff: similar::udiff::unified_diff(
                    similar::Algorithm::Patience,
                    &old,
                    "",
                    3,
                    Some((&format!("a/{relative}"), "/dev/null")),
                ),
            });
        }
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

fn unified(relative: &str, old: &str, new: &str, exists: bool) -> String {
    let from = if exists {
        format!("a/{relative}")
    } else {
        "/dev/null".to_owned()
    };
    similar::udiff::unified_diff(
        similar::Algorithm::Patience,
        old,
        new,
        3,
        Some((&from, &format!("b/{relative}"))),
    )
}

#[cfg(unix)]
fn set_mode(path: &Path, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        path,
        std::fs::Permissions::from_mode(if executable { 0o755 } else { 0o644 }),
    )
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: bool) -> std::io::Result<()> {
    Ok(())
}
