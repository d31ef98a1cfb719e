//! The output directory: the only module that touches it.
//!
//! crossfed owns exactly the files listed in `.crossfed/manifest.json` (path → sha256, plus the
//! crossfed version and the spec's hash). Files that are neither in the plan nor in the manifest
//! are never touched.
//!
//! The directory is checked in, so everything read from it is input from strangers: a path in
//! the manifest, journal or staging list must be relative and made of plain names (no `..`, no
//! root), or the file is reported corrupt; and a symlink is never followed, neither `.crossfed/`
//! itself nor any directory on the way to a file crossfed writes, deletes or shows in a diff
//! (`render` and `check` stop with an error naming it). Every file operation goes through
//! directory handles opened without following a link ([`beneath`]: `openat` with `O_NOFOLLOW`,
//! `mkdirat`, `renameat`, `unlinkat`), so a directory swapped for a link after it was checked is
//! not followed either.
//!
//! # Comparing
//!
//! `render` and `check` share one comparison (`scan`, or [`Held::settle`] while rendering):
//! every planned file is looked up with `fstatat` (not following a link), and read only when it
//! is a regular file of the planned length, then compared byte
//! for byte (a hand edit that keeps the length is still caught). A symlink, FIFO or socket at a
//! planned path is never followed nor read: it simply is not the planned file. The lookups run on
//! a pool of `IO_THREADS` scoped threads. The mode of a file is not compared.
//!
//! # Writing
//!
//! A render, after [`recover`]ing from an interrupted one:
//! 1. refuses, before writing anything, to overwrite a file it does not own (unless the file
//!    already holds exactly the planned bytes, which it then adopts);
//! 2. stops there when nothing is to be written or deleted and the manifest already holds the
//!    planned bytes: an up-to-date tree is not written at all (no journal, no manifest, no
//!    directory or file mtime changes);
//! 3. writes the staging list `.crossfed/staging.json` (the files about to be staged, the
//!    directories about to be created) and makes it durable;
//! 4. creates the missing directories and stages every new or changed file beside its
//!    destination (`.NAME.crossfed-new`, same filesystem, so the later rename is atomic), on the
//!    thread pool and without fsync; then fsyncs, again on the pool, every staged file and every
//!    directory that gained an entry (after one syncfs, when there are many). A failure here (or
//!    `Fault::Stage`) removes what was staged and the directories it created, and leaves the
//!    tree as it was. A render holds only digests, not content, for the files it writes
//!    ([`Held::settle`]): their parts of the tree are rendered again here, a few at a time, and
//!    each file's bytes must hash to the digest the new manifest records, or nothing is
//!    committed ([`OutputError::Rerendered`]). So a render into an empty directory never holds
//!    the whole tree, only the plan, the digests and a few parts;
//! 5. writes the journal `.crossfed/journal.json` (the renames, the deletions and the new
//!    manifest) durably: staged beside itself, fsynced, renamed, `.crossfed/` fsynced. From here
//!    on the commit is decided and only ever rolled forward. The staging list is then dropped;
//! 6. renames the staged files into place (on the pool), deletes the files crossfed wrote and
//!    no longer generates (and the directories that leaves empty), then fsyncs each directory
//!    those renames and deletions touched, and the output directory, once (again after one
//!    syncfs, when there are many);
//! 7. replaces the manifest durably (unless it already holds the planned bytes), removes the
//!    journal and fsyncs `.crossfed/`, so that when `render` returns everything is on disk.
//!
//! Why this shape: on a slow disk an fsync costs milliseconds, so one per file in series
//! dominated a large render. Writing everything first and then fsyncing on a pool lets the
//! filesystem share a journal commit among concurrent fsyncs; and when there are many paths
//! (`SYNCFS_FROM`), one `syncfs(2)` first writes the whole filesystem back in a single batch, so
//! the fsyncs find nothing left to write. syncfs alone would be cheaper still, but it is
//! Linux-only, does not reach a directory mounted from another filesystem, may report another
//! program's error and, before Linux 5.8, reported none: the fsyncs keep the guarantee per file
//! and portable, syncfs only makes them fast. Measured on this project's disk for 10,000 files
//! (`examples/write_bench.rs`), making the staged files and the renames durable took 1.3–2.3 s
//! with fsyncs alone, 0.5–0.7 s with a syncfs first, 0.3–0.4 s with syncfs alone; creating the
//! files, as `cp -r` must too, took 5–12 s of the total on that shared disk.
//!
//! # What a crash leaves behind
//!
//! The next `render` calls [`recover`] first, which looks only at `.crossfed/` (it never walks
//! the tree). `check` never repairs: it reports the state file ([`interrupted`]) and exits 1,
//! since a state file is checked in like the rest of the tree and replaying it is writing:
//!
//! | crash …                                          | on disk                                                                                     | the next run                                                                              |
//! |--------------------------------------------------|---------------------------------------------------------------------------------------------|-------------------------------------------------------------------------------------------|
//! | before the staging list is in place (steps 1–3)  | the previous tree, maybe an empty `.crossfed/` or `.crossfed/.staging.json.crossfed-new`      | removes the half-written state file; the tree is the previous one                         |
//! | while staging (step 4, journal not in place)     | the previous tree (all live files untouched), the staging list, some staged files (complete or not), new directories | rolls back: removes every listed staged file, the listed directories if empty, then the list |
//! | while writing the journal (step 5)               | as above, maybe `.crossfed/.journal.json.crossfed-new`, or the journal if its rename made it | no journal: rolls back as above. Journal: every staged file is durable, so it rolls forward |
//! | after the journal, before or between renames      | the journal, the staged files not yet renamed (complete, durable), the others renamed; a rename done but not yet fsynced may be undone by the crash | rolls forward: renames what is still staged (a missing staged file was renamed already), deletes, fsyncs, manifest, drops the journal |
//! | between deletions                                | the journal, every file renamed, some deleted                                               | rolls forward: deleting is idempotent (a missing file is fine)                              |
//! | before or after the manifest replace             | the journal, the tree complete, the old or the new manifest (maybe `.crossfed/.manifest.json.crossfed-new`) | rolls forward: writes the manifest if it differs, drops the journal and any half-written manifest |
//! | after the journal's removal, before the fsync    | the journal may reappear                                                                    | rolls forward a commit that is complete: nothing is renamed, deleted or rewritten          |
//!
//! `check` repairs this way too before it compares, and says so. A crashed render therefore
//! yields either the previous tree or the new one, never a mix, once the next run has looked at
//! it. Staged files left by crossfed versions before the staging list existed are not searched
//! for; they are replaced when that file is next written.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::pipeline::Previous;
use crate::render::grants::Grants;
use crate::render::{FilePlan, Mode, PlannedFile, RenderError, Settled};

mod beneath;
use beneath::{Kind, Walker};

/// Folder of crossfed's own state inside the output directory.
pub const STATE_DIR: &str = ".crossfed";
/// The manifest of owned files.
pub const MANIFEST: &str = ".crossfed/manifest.json";
const JOURNAL: &str = ".crossfed/journal.json";
const STAGING: &str = ".crossfed/staging.json";
const STAGED_SUFFIX: &str = ".crossfed-new";
/// Threads of the pool that compares, writes and fsyncs files. fsync mostly waits on the
/// device, and concurrent fsyncs share the filesystem's journal commits, so this is more than
/// the cores of a laptop on purpose.
const IO_THREADS: usize = 16;
/// From this many files and directories to make durable, `syncfs(2)` flushes them in one batch
/// first. Below it the fsyncs alone take tens of milliseconds, and a syncfs would make a small
/// render wait for whatever else the machine has not yet written (a build's gigabyte, say).
const SYNCFS_FROM: usize = 1_000;

/// Something went wrong with the output directory.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file operation failed.
    #[error("cannot read or write `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Files crossfed wrote were edited since, and the render would overwrite or delete them.
    #[error("refusing to overwrite files edited by hand since crossfed wrote them: {}", .paths.join(", "))]
    HandEdited {
        /// The edited files, relative to the output directory.
        paths: Vec<String>,
    },
    /// Another crossfed process holds the output directory.
    #[error(
        "`{path}` is in use by another crossfed render (waited {waited_ms} ms); run one render at a time"
    )]
    Busy {
        /// The output directory.
        path: PathBuf,
        /// How long this process waited.
        waited_ms: u64,
    },
    /// A planned file exists and crossfed did not write it.
    #[error("refusing to overwrite `{path}`: crossfed did not write it (it is not in {MANIFEST})")]
    NotOwned {
        /// The file.
        path: PathBuf,
    },
    /// The manifest, journal or staging list cannot be read, or names a path outside the output
    /// directory.
    #[error("cannot read `{path}`: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A directory on the way to a file crossfed would read, write or delete is a symlink.
    #[error(
        "refusing to follow symlink `{path}`: crossfed never reads, writes or deletes through a symlink in the output directory; replace it with a directory"
    )]
    Symlink {
        /// The symlink.
        path: PathBuf,
    },
    /// A fault injected by a test (`CROSSFED_TEST_FAULT`).
    #[error("injected fault: {0}")]
    Injected(String),
    /// Rendering a part of the tree again failed: a crossfed bug.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A file whose content was released, rendered again to be written, came out other than the
    /// first time (or not at all): a crossfed bug, caught before the commit, so the tree is as it
    /// was.
    #[error(
        "`{path}` rendered again is not what was rendered first (this is a crossfed bug, please report it with the spec); nothing was changed"
    )]
    Rerendered {
        /// The file, relative to the output directory.
        path: String,
    },
}

/// Renders again the parts of the tree, as numbered in [`PlannedFile::part`], whose files'
/// content [`Held::settle`] released (see [`crate::pipeline::Rendering::parts`]), in the order
/// asked.
pub type Rerender<'a> = dyn Fn(&[usize]) -> Result<Vec<FilePlan>, RenderError> + Sync + 'a;

/// The [`Rerender`] of a tree whose content was never released.
#[allow(clippy::unnecessary_wraps, reason = "it is a `Rerender`")]
fn nothing_released(_: &[usize]) -> Result<Vec<FilePlan>, RenderError> {
    Ok(Vec::new())
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
    #[serde(deserialize_with = "sorted_map")]
    pub files: BTreeMap<String, String>,
    /// Every cloud grant the tree's scripts and manifests create
    /// ([`crate::render::grants`]).
    #[serde(default, skip_serializing_if = "Grants::is_empty")]
    pub grants: Grants,
    /// What the tree's `revoke.sh` scripts revoke: grants of earlier renders, carried until a
    /// render with `--forget-revocations`.
    #[serde(default, skip_serializing_if = "Grants::is_empty")]
    pub revocations: Grants,
}

/// A JSON object of strings read into a map built in one pass: a manifest lists tens of
/// thousands of paths, written in order, and inserting them one at a time compares each with
/// many others. Of repeated keys the last counts, as when the map is read entry by entry.
fn sorted_map<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    // From a sorted list without repeated keys, `collect` builds the map in one linear pass.
    Ok(sorted_entries(deserializer)?.into_iter().collect())
}

/// The entries of a JSON object of strings, sorted by key, the last of repeated keys kept: what
/// [`sorted_map`] holds, as a list.
fn sorted_entries<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(String, String)>, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = Vec<(String, String)>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of paths to digests")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(entry) = map.next_entry()? {
                entries.push(entry);
            }
            Ok(entries)
        }
    }
    let mut entries: Vec<(String, String)> = deserializer.deserialize_map(Entries)?;
    // Written in order, so usually sorted already, which one pass confirms.
    if !entries.is_sorted_by(|a, b| a.0 < b.0) {
        // Stable: of equal keys the last read stays last. `dedup_by` keeps the first of a run,
        // so each later one is swapped into its place before it goes.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
    }
    Ok(entries)
}

/// [`Manifest`] as written: the same fields in the same order, borrowed from the plan. Change
/// the two together (the manifest is read back as a [`Manifest`]).
#[derive(Serialize)]
struct ManifestRecord<'a, F: Serialize> {
    crossfed: &'a str,
    spec: &'a str,
    spec_sha256: String,
    files: F,
    #[serde(skip_serializing_if = "Grants::is_empty")]
    grants: &'a Grants,
    #[serde(skip_serializing_if = "Grants::is_empty")]
    revocations: &'a Grants,
}

/// Path → digest pairs, serialized as a JSON object in the order given (the plan's, sorted).
struct Files<I>(I);

impl<I, K, V> Serialize for Files<I>
where
    I: Iterator<Item = (K, V)> + Clone,
    K: Serialize,
    V: Serialize,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.clone())
    }
}

/// `.crossfed/journal.json`: a decided commit, which recovery finishes.
///
/// Borrowed while writing (an organisation's journal lists tens of thousands of paths, and the
/// manifest it carries is megabytes), owned when read back.
#[derive(Debug, Serialize, Deserialize)]
struct Journal<'a> {
    renames: Cow<'a, [String]>,
    deletes: Cow<'a, [String]>,
    manifest: Cow<'a, str>,
}

/// `.crossfed/staging.json`: a staging in progress, which recovery undoes.
#[derive(Debug, Serialize, Deserialize)]
struct Staging<'a> {
    /// Files whose staged sibling may exist (borrowed from the plan while writing).
    files: Vec<Cow<'a, str>>,
    /// Directories created for them, parents first.
    dirs: Vec<String>,
}

/// Lower-case hex sha256.
#[must_use]
pub fn sha256(bytes: &[u8]) -> String {
    hex(&sha2::Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(2 * digest.len());
    for byte in digest {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    hex
}

/// Adds the manifest of `plan` to it (the manifest is itself a planned file, so `check` compares it).
///
/// # Panics
/// Never: a manifest always serializes.
#[must_use]
pub fn with_manifest(plan: FilePlan, spec_name: &str, spec_source: &str) -> FilePlan {
    with_manifest_recording(
        plan,
        spec_name,
        spec_source,
        &Grants::default(),
        &Grants::default(),
    )
}

/// [`with_manifest`], recording the `grants` the tree creates and the `revocations` its
/// `revoke.sh` scripts hold.
///
/// # Panics
/// Never: a manifest always serializes.
#[must_use]
pub fn with_manifest_recording(
    mut plan: FilePlan,
    spec_name: &str,
    spec_source: &str,
    grants: &Grants,
    revocations: &Grants,
) -> FilePlan {
    plan.remove(MANIFEST);
    // Serialized straight from the plan, in the layout of `render::to_json`: an owned
    // [`Manifest`] of an organisation's tree would copy every path and digest once more.
    let digests: Vec<Cow<'_, str>> = plan
        .values()
        .map(|file| match &file.digest {
            Some(digest) => Cow::Borrowed(digest.as_str()),
            None => Cow::Owned(sha256(file.content.as_bytes())),
        })
        .collect();
    let record = ManifestRecord {
        crossfed: env!("CARGO_PKG_VERSION"),
        spec: spec_name,
        spec_sha256: sha256(spec_source.as_bytes()),
        files: Files(plan.keys().zip(&digests)),
        grants,
        revocations,
    };
    // One pass, into a buffer sized from the paths (about 80 bytes of digest and layout each):
    // `check` builds the manifest too, so the counting pass of `state_text` would be on its
    // critical path.
    let mut text =
        Vec::with_capacity(plan.keys().map(|path| path.len() + 80).sum::<usize>() + 4096);
    serde_json::to_writer_pretty(&mut text, &record).expect("a manifest serializes");
    text.push(b'\n');
    drop(digests);
    let text = String::from_utf8(text).expect("serde_json writes UTF-8");
    plan.insert(
        MANIFEST.to_owned(),
        PlannedFile {
            content: text,
            mode: Mode::Regular,
            federations: Vec::new(),
            digest: None,
            settled: Settled::Kept,
            part: 0,
        },
    );
    plan
}

/// One planned file as this module sees it.
struct Planned<'a> {
    relative: &'a str,
    /// Empty unless `settled` is [`Settled::Kept`].
    content: &'a str,
    executable: bool,
    settled: Settled,
    /// The part that rendered it, to render again when its content was released.
    part: usize,
    digest: Option<&'a str>,
}

/// The only place that reads [`FilePlan`] entries; the mode is the one the plan recorded.
fn planned(plan: &FilePlan) -> Vec<Planned<'_>> {
    plan.iter()
        .map(|(relative, file)| Planned {
            relative,
            content: &file.content,
            executable: file.mode == Mode::Executable,
            settled: file.settled,
            part: file.part,
            digest: file.digest.as_deref(),
        })
        .collect()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_owned(),
        source,
    }
}

/// An I/O error on `relative` beneath `dir`: a symlink met on the way is reported as one.
fn fail<'a>(dir: &'a Path, relative: &'a Path) -> impl FnOnce(std::io::Error) -> OutputError + 'a {
    move |source| match beneath::link_of(&source) {
        Some(link) => OutputError::Symlink {
            path: dir.join(link),
        },
        None => OutputError::Io {
            path: dir.join(relative),
            source,
        },
    }
}

fn not_found(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
}

fn staged_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}{STAGED_SUFFIX}"))
}

/// The directory holding `path` (`.` for a bare relative name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// The directory holding `relative`, relative too (empty for the output directory itself).
fn parent_relative(relative: &Path) -> &Path {
    relative.parent().unwrap_or_else(|| Path::new(""))
}

/// Runs `task` on every item on up to [`IO_THREADS`] scoped threads and returns the results in
/// item order, or the error of the lowest-numbered item that failed. After a failure no new item
/// is started, so which items ran is not deterministic; when only one item can fail (an
/// injected fault), which error is returned is.
fn in_parallel<T: Sync, R: Send>(
    dir: &Path,
    items: &[T],
    task: impl Fn(&mut Walker<'_>, usize, &T) -> Result<R, OutputError> + Sync,
) -> Result<Vec<R>, OutputError> {
    let threads = IO_THREADS.min(items.len());
    if threads <= 1 {
        let mut walker = Walker::new(dir);
        return items
            .iter()
            .enumerate()
            .map(|(n, item)| task(&mut walker, n, item))
            .collect();
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker = || {
        let mut done = Vec::new();
        let mut walker = Walker::new(dir);
        while !failed.load(Ordering::Relaxed) {
            let n = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(n) else { break };
            let result = task(&mut walker, n, item);
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            done.push((n, result));
        }
        done
    };
    let mut done: Vec<(usize, Result<R, OutputError>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
        workers.into_iter().flat_map(crate::par::wait).collect()
    });
    // Without a failure every item ran; with one, the first error in item order wins.
    done.sort_unstable_by_key(|(n, _)| *n);
    done.into_iter().map(|(_, result)| result).collect()
}

/// The manifest's text at `dir`, read without following a link; `None` when there is none.
fn manifest_text(dir: &Path) -> Result<Option<Vec<u8>>, OutputError> {
    not_a_symlink(dir, STATE_DIR)?;
    read_existing(&mut Walker::new(dir), dir, Path::new(MANIFEST))
}

/// The files of the manifest text `bytes` read from `path`, sorted, each path checked as
/// [`read_manifest`] checks them. The rest of the manifest is skipped, not read: a survey starts
/// hashing the files while [`manifest_previous`] reads it.
fn manifest_files(path: &Path, bytes: &[u8]) -> Result<Vec<(String, String)>, OutputError> {
    #[derive(Deserialize)]
    struct Files {
        #[serde(deserialize_with = "sorted_entries")]
        files: Vec<(String, String)>,
    }
    let files: Files = parse_state(path, bytes)?;
    check_paths(path, files.files.iter().map(|(p, _)| p.as_str()))?;
    Ok(files.files)
}

/// What the manifest text `bytes` read from `path` recorded for the next render. With
/// [`manifest_files`], it accepts what [`read_manifest`] accepts: every field of a [`Manifest`]
/// is read as its type there, but the files, which it skips.
fn manifest_previous(path: &Path, bytes: &[u8]) -> Result<Previous, OutputError> {
    /// [`Manifest`] but its files. Guard: change the two together.
    #[derive(Deserialize)]
    struct Rest {
        #[serde(rename = "crossfed")]
        _crossfed: String,
        #[serde(rename = "spec")]
        _spec: String,
        #[serde(rename = "spec_sha256")]
        _spec_sha256: String,
        #[serde(rename = "files")]
        _files: serde::de::IgnoredAny,
        #[serde(default)]
        grants: Grants,
        #[serde(default)]
        revocations: Grants,
    }
    let rest: Rest = parse_state(path, bytes)?;
    for grants in [&rest.grants, &rest.revocations] {
        grants.check().map_err(|message| OutputError::Corrupt {
            path: path.to_owned(),
            message,
        })?;
    }
    Ok(Previous {
        grants: rest.grants,
        pending: rest.revocations,
    })
}

/// Reads the manifest of `dir`, if there is one.
///
/// # Errors
/// When it exists but cannot be read or parsed.
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>, OutputError> {
    let Some(bytes) = manifest_text(dir)? else {
        return Ok(None);
    };
    let path = dir.join(MANIFEST);
    let manifest: Manifest = parse_state(&path, &bytes)?;
    check_paths(&path, manifest.files.keys().map(String::as_str))?;
    for grants in [&manifest.grants, &manifest.revocations] {
        grants.check().map_err(|message| OutputError::Corrupt {
            path: path.clone(),
            message,
        })?;
    }
    Ok(Some(manifest))
}

/// Whether `path` names something inside the output directory: relative, made only of plain
/// names (no `..`, no `.`, no root or prefix).
fn plain_relative(path: &str) -> bool {
    beneath::plain_names(Path::new(path), &mut |_| {})
}

/// The manifest, journal and staging list come from the output directory, which is checked in:
/// a path in them that leaves the directory (`../x`, `/home/x`) is refused, never joined.
fn check_paths<'a>(
    file: &Path,
    paths: impl IntoIterator<Item = &'a str>,
) -> Result<(), OutputError> {
    match paths.into_iter().find(|p| !plain_relative(p)) {
        Some(bad) => Err(OutputError::Corrupt {
            path: file.to_owned(),
            message: format!("`{bad}` is not a relative path inside the output directory"),
        }),
        None => Ok(()),
    }
}

/// Walks, once each, the directories between the output directory and the files crossfed is
/// about to write, delete or show: a symlink among them is refused (followed, it could lead
/// anywhere), and the missing ones are noted for staging to create.
struct Parents<'a> {
    dir: &'a Path,
    walker: Walker<'a>,
    seen: BTreeSet<PathBuf>,
    missing: BTreeSet<PathBuf>,
}

impl<'a> Parents<'a> {
    fn new(dir: &'a Path) -> Self {
        Parents {
            dir,
            walker: Walker::new(dir),
            seen: BTreeSet::new(),
            missing: BTreeSet::new(),
        }
    }

    fn check(&mut self, relative: &str) -> Result<(), OutputError> {
        let mut current = Path::new(relative).parent();
        while let Some(parent) = current.filter(|p| !p.as_os_str().is_empty()) {
            if !self.seen.insert(parent.to_owned()) {
                break;
            }
            match self.walker.stat(parent) {
                Ok(meta) if meta.kind == Kind::Link => {
                    return Err(OutputError::Symlink {
                        path: self.dir.join(parent),
                    });
                }
                Ok(_) => {}
                Err(e) if not_found(&e) => {
                    self.missing.insert(parent.to_owned());
                }
                Err(e) => return Err(fail(self.dir, parent)(e)),
            }
            current = parent.parent();
        }
        Ok(())
    }

    /// The directories that do not exist, relative, parents first (`Path` orders by
    /// components, so a parent sorts before its children).
    fn missing(self) -> Vec<String> {
        self.missing
            .into_iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    }
}

/// Refuses `relative` (beneath `dir`) if it is a symlink.
fn not_a_symlink(dir: &Path, relative: &str) -> Result<(), OutputError> {
    match Walker::new(dir).stat(Path::new(relative)) {
        Ok(meta) if meta.kind == Kind::Link => Err(OutputError::Symlink {
            path: dir.join(relative),
        }),
        _ => Ok(()),
    }
}

/// The largest state file (manifest, journal, staging list) crossfed reads: an organisation's
/// manifest of 50,000 federations is about 30 MB.
const MAX_STATE_READ: u64 = 256 * 1024 * 1024;

/// Reads a state file or a file crossfed wrote, if present. The output directory is checked in,
/// so the path may hold anything: a symlink (to `/proc/self/environ`, say) is refused, not
/// followed; a FIFO, device or directory, or a file past [`MAX_STATE_READ`], is refused, not read.
fn read_existing(
    walker: &mut Walker<'_>,
    dir: &Path,
    relative: &Path,
) -> Result<Option<Vec<u8>>, OutputError> {
    let refuse = |message: &str| {
        Err(OutputError::Corrupt {
            path: dir.join(relative),
            message: message.to_owned(),
        })
    };
    match walker.stat(relative) {
        Ok(meta) if meta.kind == Kind::Link => Err(OutputError::Symlink {
            path: dir.join(relative),
        }),
        Ok(meta) if meta.kind != Kind::File => refuse("it is not a regular file"),
        Ok(meta) if meta.len > MAX_STATE_READ => {
            refuse("it is larger than any file crossfed writes")
        }
        Ok(_) => read_file(walker, dir, relative),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(fail(dir, relative)(e)),
    }
}

/// The bytes of `relative`, already seen by `fstatat` to be a regular file (opened without
/// following a link, in case it was swapped for one since); `None` if it is gone.
fn read_file(
    walker: &mut Walker<'_>,
    dir: &Path,
    relative: &Path,
) -> Result<Option<Vec<u8>>, OutputError> {
    match walker.open_read(relative).and_then(|mut file| {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map(|_| bytes)
    }) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(fail(dir, relative)(e)),
    }
}

/// Reads `path` if it is a regular file; a symlink or special file is never followed nor read.
fn read_regular(
    walker: &mut Walker<'_>,
    dir: &Path,
    relative: &Path,
) -> Result<Option<Vec<u8>>, OutputError> {
    match walker.stat(relative) {
        Ok(meta) if meta.kind == Kind::File && meta.len <= MAX_STATE_READ => {
            read_file(walker, dir, relative)
        }
        Ok(meta) if meta.kind == Kind::File => Err(OutputError::Corrupt {
            path: dir.join(relative),
            message: "it is larger than any file crossfed writes".to_owned(),
        }),
        Ok(_) => Ok(None),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(fail(dir, relative)(e)),
    }
}

fn parse_state<T: for<'de> Deserialize<'de>>(path: &Path, bytes: &[u8]) -> Result<T, OutputError> {
    serde_json::from_slice(bytes).map_err(|e| OutputError::Corrupt {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Removes a file; whether it was there.
fn remove_if_exists(
    walker: &mut Walker<'_>,
    dir: &Path,
    relative: &Path,
) -> Result<bool, OutputError> {
    match walker.remove_file(relative) {
        Ok(()) => Ok(true),
        Err(e) if not_found(&e) => Ok(false),
        Err(e) => Err(fail(dir, relative)(e)),
    }
}

/// Creates `relative` for writing, never through an existing name: `O_EXCL` refuses a symlink
/// too, so a leftover or planted `.NAME.crossfed-new` is removed, not written through.
fn create_staged(
    walker: &mut Walker<'_>,
    dir: &Path,
    relative: &Path,
) -> Result<std::fs::File, OutputError> {
    match walker.create_new(relative) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            walker.remove_file(relative).map_err(fail(dir, relative))?;
            walker.create_new(relative).map_err(fail(dir, relative))
        }
        result => result.map_err(fail(dir, relative)),
    }
}

/// Writes a staged file and sets its mode, without fsync (see [`make_durable`]).
fn write_staged(
    walker: &mut Walker<'_>,
    dir: &Path,
    relative: &Path,
    bytes: &[u8],
    executable: bool,
) -> Result<std::fs::File, OutputError> {
    let mut file = create_staged(walker, dir, relative)?;
    file.write_all(bytes).map_err(fail(dir, relative))?;
    set_mode(&file, executable).map_err(fail(dir, relative))?;
    Ok(file)
}

/// fsyncs a directory, so that the entries created, renamed or removed in it survive a crash.
/// A directory that is gone (removed as empty) needs nothing.
#[cfg(unix)]
fn fsync_dir(walker: &mut Walker<'_>, dir: &Path, relative: &Path) -> Result<(), OutputError> {
    match walker.open_dir(relative) {
        Ok(handle) => handle.sync_all().map_err(fail(dir, relative)),
        Err(e) if not_found(&e) => Ok(()),
        Err(e) => Err(fail(dir, relative)(e)),
    }
}

#[cfg(not(unix))]
fn fsync_dir(_: &mut Walker<'_>, _: &Path, _: &Path) -> Result<(), OutputError> {
    Ok(())
}

/// fsyncs a directory given by its path: the output directory's ancestors (typed by the user,
/// not part of the tree), when crossfed creates them.
#[cfg(unix)]
fn fsync_path(path: &Path) -> Result<(), OutputError> {
    match std::fs::File::open(path) {
        Ok(dir) => dir.sync_all().map_err(io(path)),
        Err(e) if not_found(&e) => Ok(()),
        Err(source) => Err(OutputError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(not(unix))]
fn fsync_path(_: &Path) -> Result<(), OutputError> {
    Ok(())
}

/// fsyncs files and directories (relative to `dir`; the empty path is `dir`), concurrently.
/// Files are reopened, as keeping tens of thousands
/// open would exhaust descriptors; a writeback error nobody has seen yet is still reported to a
/// descriptor opened after it (Linux 4.16 and later). Many paths are first flushed in one batch
/// by [`flush_filesystem`], which leaves the fsyncs little to do.
fn make_durable(
    dir: &Path,
    files: &[PathBuf],
    dirs: &BTreeSet<PathBuf>,
) -> Result<(), OutputError> {
    if files.len() + dirs.len() >= SYNCFS_FROM {
        flush_filesystem(dir);
    }
    let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    in_parallel(dir, files, |walker, _, relative| {
        walker
            .open_read(relative)
            .and_then(|file| file.sync_all())
            .map_err(fail(dir, relative))
    })?;
    in_parallel(dir, &dirs, |walker, _, relative| {
        fsync_dir(walker, dir, relative)
    })?;
    Ok(())
}

/// Writes back the whole filesystem holding `dir` in one pass (`syncfs(2)`, through rustix as
/// this crate forbids `unsafe`). Concurrent fsyncs still cost a journal commit and a device flush
/// per handful of files; one syncfs costs about one. Only an accelerator: the fsyncs that follow
/// are what durability rests on, and they report our files' writeback errors, so the result is
/// ignored (an error here may be another program's).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn flush_filesystem(dir: &Path) {
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = rustix::fs::syncfs(&dir);
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn flush_filesystem(_: &Path) {}

/// How long a render waits for another one to finish before giving up.
const LOCK_WAIT_MS: u64 = 10_000;

/// A lock on the output directory, held until dropped: exclusive for `render`, shared for
/// `check`. It is an advisory `flock` on `.crossfed/` itself (opened without following a link),
/// so it leaves no file behind to be checked in, and the kernel drops it when a process dies.
#[derive(Debug)]
pub struct Lock {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    _dir: rustix::fd::OwnedFd,
}

/// Takes the lock of `dir`, waiting up to [`LOCK_WAIT_MS`] (tests shorten it with
/// `CROSSFED_TEST_LOCK_WAIT_MS`). `None` when `dir` has no `.crossfed/` yet (nothing to protect
/// from a reader).
///
/// # Errors
/// [`OutputError::Busy`] when another process holds it too long; [`OutputError::Symlink`] when
/// `.crossfed` is a link.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn lock(dir: &Path, exclusive: bool) -> Result<Option<Lock>, OutputError> {
    use rustix::fs::{FlockOperation, Mode, OFlags};
    let state = dir.join(STATE_DIR);
    not_a_symlink(dir, STATE_DIR)?;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(&state, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => {
            return Err(OutputError::Io {
                path: state,
                source: e.into(),
            });
        }
    };
    let operation = if exclusive {
        FlockOperation::NonBlockingLockExclusive
    } else {
        FlockOperation::NonBlockingLockShared
    };
    let wait = std::env::var("CROSSFED_TEST_LOCK_WAIT_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(LOCK_WAIT_MS);
    let start = std::time::Instant::now();
    loop {
        match rustix::fs::flock(&fd, operation) {
            Ok(()) => return Ok(Some(Lock { _dir: fd })),
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let waited = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                if waited >= wait {
                    return Err(OutputError::Busy {
                        path: dir.to_owned(),
                        waited_ms: waited,
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => {
                return Err(OutputError::Io {
                    path: state,
                    source: e.into(),
                });
            }
        }
    }
}

/// Elsewhere, no lock (advisory locks on directories are a Linux and BSD feature).
///
/// # Errors
/// Never.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn lock(_: &Path, _: bool) -> Result<Option<Lock>, OutputError> {
    Ok(None)
}

/// Creates directory `path` and its missing ancestors, durably. Returns the ones it created,
/// parents first.
fn create_dir_durably(path: &Path) -> Result<Vec<PathBuf>, OutputError> {
    let mut missing: Vec<PathBuf> = path
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && std::fs::symlink_metadata(p).is_err())
        .map(Path::to_path_buf)
        .collect();
    missing.reverse();
    for dir in &missing {
        match std::fs::create_dir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(OutputError::Io {
                    path: dir.clone(),
                    source: e,
                });
            }
            _ => {}
        }
    }
    for dir in &missing {
        fsync_path(&parent_of(dir))?;
    }
    Ok(missing)
}

/// Writes `bytes` to the state file `relative` (in `.crossfed/`) durably, through a staged
/// sibling and a rename.
fn replace_atomically(dir: &Path, relative: &str, bytes: &[u8]) -> Result<(), OutputError> {
    create_dir_durably(&dir.join(STATE_DIR))?;
    let relative = Path::new(relative);
    let staged = staged_path(relative);
    let mut walker = Walker::new(dir);
    write_staged(&mut walker, dir, &staged, bytes, false)?
        .sync_all()
        .map_err(fail(dir, &staged))?;
    walker
        .rename(&staged, relative)
        .map_err(fail(dir, relative))?;
    fsync_dir(&mut walker, dir, parent_relative(relative))
}

/// The state file an interrupted `render` left (its journal or staging list), if any: `check`
/// reports it and leaves it for `render`, since a state file is checked in with the tree and
/// replaying it is writing. Looks at the names only, without following a link or reading.
///
/// # Errors
/// When `.crossfed` is a symlink.
pub fn interrupted(dir: &Path) -> Result<Option<&'static str>, OutputError> {
    not_a_symlink(dir, STATE_DIR)?;
    let mut walker = Walker::new(dir);
    Ok([JOURNAL, STAGING]
        .into_iter()
        .find(|state| walker.stat(Path::new(state)).is_ok()))
}

/// Finishes a commit that was interrupted (journal present), or undoes a staging that was
/// (staging list present), and removes half-written state files. Looks only at `.crossfed/`.
/// Returns whether anything was repaired.
///
/// # Errors
/// When the journal or staging list is unreadable, or a file operation fails.
pub fn recover(dir: &Path) -> Result<bool, OutputError> {
    let mut repaired = false;
    not_a_symlink(dir, STATE_DIR)?;
    let mut walker = Walker::new(dir);
    let journal_path = dir.join(JOURNAL);
    let staging_path = dir.join(STAGING);
    if let Some(bytes) = read_existing(&mut walker, dir, Path::new(JOURNAL))? {
        // The journal is written only once every staged file is durable: roll forward. A
        // staging list beside it lists files that are renamed by now; it is simply dropped.
        let journal: Journal = parse_state(&journal_path, &bytes)?;
        check_paths(
            &journal_path,
            journal
                .renames
                .iter()
                .chain(journal.deletes.iter())
                .map(String::as_str),
        )?;
        commit(dir, &journal, Fault::None)?;
        remove_if_exists(&mut walker, dir, Path::new(STAGING))?;
        repaired = true;
    } else if let Some(bytes) = read_existing(&mut walker, dir, Path::new(STAGING))? {
        let staging: Staging = parse_state(&staging_path, &bytes)?;
        check_paths(
            &staging_path,
            staging
                .files
                .iter()
                .map(AsRef::as_ref)
                .chain(staging.dirs.iter().map(String::as_str)),
        )?;
        roll_back(dir, &staging)?;
        repaired = true;
    }
    for state in [JOURNAL, STAGING, MANIFEST] {
        repaired |= remove_if_exists(&mut walker, dir, &staged_path(Path::new(state)))?;
    }
    Ok(repaired)
}

/// Undoes a staging: removes the staged files, then the staging list, then the directories it
/// created if they are empty. The list goes only once every staged file is gone, so a failure
/// here leaves it for the next [`recover`].
fn roll_back(dir: &Path, staging: &Staging) -> Result<(), OutputError> {
    let mut parents = Parents::new(dir);
    for relative in staging
        .files
        .iter()
        .map(AsRef::as_ref)
        .chain(staging.dirs.iter().map(String::as_str))
    {
        parents.check(relative)?;
    }
    let mut walker = Walker::new(dir);
    for relative in &staging.files {
        remove_if_exists(&mut walker, dir, &staged_path(Path::new(relative.as_ref())))?;
    }
    remove_if_exists(&mut walker, dir, Path::new(STAGING))?;
    for relative in staging.dirs.iter().rev() {
        // Not empty: someone put a file there since; it stays.
        let _ = walker.remove_dir(Path::new(relative));
    }
    Ok(())
}

/// Performs a journaled commit: renames, deletions, fsyncs, manifest, then drops the journal.
/// Idempotent, so it can finish a commit that was interrupted at any point.
fn commit(dir: &Path, journal: &Journal, fault: Fault) -> Result<(), OutputError> {
    // A journal read back from disk is as untrusted as the rest of the tree.
    let mut parents = Parents::new(dir);
    for relative in journal.renames.iter().chain(journal.deletes.iter()) {
        parents.check(relative)?;
    }
    // Directories whose entries change (relative; the empty path is the output directory).
    // Counted even when the rename or deletion turns out to be done already: a crashed process
    // may have done it without making it durable.
    let mut touched = BTreeSet::from([PathBuf::new()]);
    let rename = |walker: &mut Walker<'_>, _: usize, relative: &String| {
        let path = Path::new(relative);
        match walker.rename(&staged_path(path), path) {
            // Not staged any more: renamed already, before an interruption.
            Err(e) if not_found(&e) => Ok(()),
            result => result.map_err(fail(dir, path)),
        }
    };
    match fault {
        // As a crash would leave it: the first n renames done, the others still staged.
        Fault::Commit(n) if n < journal.renames.len() => {
            let mut walker = Walker::new(dir);
            for (i, relative) in journal.renames[..n].iter().enumerate() {
                rename(&mut walker, i, relative)?;
            }
            return Err(OutputError::Injected(format!(
                "stopped after {n} renames of the commit"
            )));
        }
        // On the pool: a rename over an existing file waits on the filesystem freeing the old
        // one, and those waits overlap.
        _ => in_parallel(dir, &journal.renames, rename)?,
    };
    touched.extend(
        journal
            .renames
            .iter()
            .map(|r| parent_relative(Path::new(r)).to_owned()),
    );
    let mut walker = Walker::new(dir);
    for relative in journal.deletes.iter() {
        let path = Path::new(relative);
        remove_if_exists(&mut walker, dir, path)?;
        touched.insert(parent_relative(path).to_owned());
        remove_empty_parents(&mut walker, path, &mut touched);
    }
    make_durable(dir, &[], &touched)?;
    if read_existing(&mut walker, dir, Path::new(MANIFEST))?.as_deref()
        != Some(journal.manifest.as_bytes())
    {
        replace_atomically(dir, MANIFEST, journal.manifest.as_bytes())?;
    }
    remove_if_exists(&mut walker, dir, Path::new(JOURNAL))?;
    fsync_dir(&mut walker, dir, Path::new(STATE_DIR))
}

/// Removes the directories above a deleted `file` (relative) that are left empty, up to the
/// output directory, and notes the directories whose entries that changes.
fn remove_empty_parents(walker: &mut Walker<'_>, file: &Path, touched: &mut BTreeSet<PathBuf>) {
    let mut current = file.parent();
    while let Some(parent) = current.filter(|p| !p.as_os_str().is_empty()) {
        match walker.remove_dir(parent) {
            Ok(()) => {
                touched.insert(parent_relative(parent).to_owned());
            }
            // Removed already, before an interruption: its parent may be empty still.
            Err(e) if not_found(&e) => {}
            Err(_) => break,
        }
        current = parent.parent();
    }
}

/// What a planned path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnDisk {
    /// Nothing.
    Missing,
    /// Exactly the planned bytes.
    Same,
    /// Something else: other bytes, a symlink, a FIFO.
    Differs,
    /// A directory.
    Directory,
}

fn on_disk(
    walker: &mut Walker<'_>,
    dir: &Path,
    relative: &Path,
    content: &[u8],
) -> Result<OnDisk, OutputError> {
    let meta = match walker.stat(relative) {
        Ok(meta) => meta,
        Err(e) if not_found(&e) => return Ok(OnDisk::Missing),
        Err(e) => return Err(fail(dir, relative)(e)),
    };
    if meta.kind == Kind::Dir {
        return Ok(OnDisk::Directory);
    }
    // Only a regular file of the planned length can hold the planned bytes; anything else is
    // decided without reading it.
    if meta.kind != Kind::File || usize::try_from(meta.len).ok() != Some(content.len()) {
        return Ok(OnDisk::Differs);
    }
    holds(walker, relative, content).or_else(|e| {
        if not_found(&e) {
            Ok(OnDisk::Missing)
        } else {
            Err(fail(dir, relative)(e))
        }
    })
}

/// What the path of a file that [`Held::settle`] found not held (and released) holds now:
/// [`OnDisk::Differs`] for anything but nothing or a directory, without reading it.
fn released_on_disk(
    walker: &mut Walker<'_>,
    dir: &Path,
    relative: &Path,
) -> Result<OnDisk, OutputError> {
    match walker.stat(relative) {
        Ok(meta) if meta.kind == Kind::Dir => Ok(OnDisk::Directory),
        Ok(_) => Ok(OnDisk::Differs),
        Err(e) if not_found(&e) => Ok(OnDisk::Missing),
        Err(e) => Err(fail(dir, relative)(e)),
    }
}

/// A file [`hash_file`] opened: hashed, or still to read.
enum Hashing {
    /// Its sha256.
    Done(String),
    /// Not in the page cache yet: opened, and asked for (`posix_fadvise`), to read when the
    /// files after it are hashed. Its length.
    Later(std::fs::File, u64),
}

/// The sha256 of the regular file at `relative` (read through `buffer`, never through a link);
/// an error for anything else. While `nowait` holds, a file whose content is not in the page
/// cache is not waited for: [`Hashing::Later`] (`nowait` is cleared where the system cannot
/// tell).
fn hash_file(
    walker: &mut Walker<'_>,
    relative: &Path,
    buffer: &mut [u8],
    nowait: &mut bool,
) -> std::io::Result<Hashing> {
    let Some((file, len)) = walker.open_regular(relative)? else {
        return Err(std::io::ErrorKind::InvalidData.into());
    };
    if len > MAX_STATE_READ {
        return Err(std::io::ErrorKind::InvalidData.into());
    }
    let mut hasher = sha2::Sha256::new();
    let mut left = usize::try_from(len).unwrap_or(usize::MAX);
    if *nowait && left > 0 {
        let want = left.min(buffer.len());
        match read_cached(&file, &mut buffer[..want]) {
            Cached::Read(0) => left = 0,
            Cached::Read(n) => {
                hasher.update(&buffer[..n]);
                left -= n;
            }
            Cached::NotYet => {
                ask_for(&file);
                return Ok(Hashing::Later(file, len));
            }
            Cached::Unknown => *nowait = false,
            Cached::Failed(e) => return Err(e),
        }
    }
    hash_rest(file, hasher, left, buffer).map(Hashing::Done)
}

/// The sha256 of the `left` bytes still to read from `file`, after what `hasher` took.
///
/// Reads the length `fstat` gave and stops: one `read` for most files, instead of a second one
/// to meet the end. The directory is locked against renders; a file that another program grows
/// meanwhile is hashed as it was when opened.
fn hash_rest(
    mut file: std::fs::File,
    mut hasher: sha2::Sha256,
    mut left: usize,
    buffer: &mut [u8],
) -> std::io::Result<String> {
    while left > 0 {
        let want = left.min(buffer.len());
        match file.read(&mut buffer[..want]) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buffer[..n]);
                left -= n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// What a read that does not wait for the disk found.
enum Cached {
    /// This many bytes (from the file's offset, which moved past them).
    Read(usize),
    /// The first bytes are not in the page cache.
    NotYet,
    /// The system cannot read without waiting (an older kernel, another file system).
    Unknown,
    /// Reading failed.
    Failed(std::io::Error),
}

/// Reads into `buffer` what the page cache holds of `file` from its offset (`RWF_NOWAIT`).
#[cfg(target_os = "linux")]
fn read_cached(file: &std::fs::File, buffer: &mut [u8]) -> Cached {
    use rustix::io::{Errno, ReadWriteFlags};
    // `u64::MAX`: from the file's offset, which moves, so that a later `read` goes on from there.
    match rustix::io::preadv2(
        file,
        &mut [std::io::IoSliceMut::new(buffer)],
        u64::MAX,
        ReadWriteFlags::NOWAIT,
    ) {
        Ok(n) => Cached::Read(n),
        Err(Errno::AGAIN | Errno::INTR) => Cached::NotYet,
        Err(Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS) => Cached::Unknown,
        Err(e) => Cached::Failed(e.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn read_cached(_: &std::fs::File, _: &mut [u8]) -> Cached {
    Cached::Unknown
}

/// Asks the system to read all of `file` into the page cache, without waiting for it.
#[cfg(target_os = "linux")]
fn ask_for(file: &std::fs::File) {
    // Only advice: a file it does not take is read all the same.
    let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::WillNeed);
}

#[cfg(not(target_os = "linux"))]
fn ask_for(_: &std::fs::File) {}

/// Whether the file at `path`, already seen by `lstat` to be a regular file of `content`'s
/// length, holds exactly `content`. Compares as it reads, through a small buffer (no allocation
/// the size of the file), and stops at the planned length: one `read` for most files. Opened
/// without following a link, in case the file was swapped for one since the `lstat`.
fn holds(walker: &mut Walker<'_>, relative: &Path, content: &[u8]) -> std::io::Result<OnDisk> {
    let mut file = walker.open_read(relative)?;
    let mut buffer = [0_u8; 16 * 1024];
    let mut offset = 0;
    while offset < content.len() {
        let want = (content.len() - offset).min(buffer.len());
        let n = match file.read(&mut buffer[..want]) {
            // Shorter than its `lstat` said: changed meanwhile.
            Ok(0) => return Ok(OnDisk::Differs),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buffer[..n] != content[offset..offset + n] {
            return Ok(OnDisk::Differs);
        }
        offset += n;
    }
    Ok(OnDisk::Same)
}

/// The output directory compared with a plan: what [`write`] acts on and [`diff`] reports.
struct Scan<'a> {
    /// What the manifest on disk records for each file (empty when there is none).
    recorded: Recorded<'a>,
    /// Every planned file, the manifest included, with what its path holds.
    files: Vec<(Planned<'a>, OnDisk)>,
    /// Files the manifest lists and the plan does not, still there (and not directories).
    stale: Vec<String>,
    /// Directories that files to write need and that do not exist, parents first.
    missing_dirs: Vec<String>,
}

/// The digest the manifest recorded for each file it lists: read from the directory, or kept
/// from [`Held::survey`] (the same file, read under the same lock).
enum Recorded<'a> {
    Read(BTreeMap<String, String>),
    Surveyed(&'a SurveyedFiles),
}

impl Recorded<'_> {
    fn get(&self, relative: &str) -> Option<&String> {
        match self {
            Recorded::Read(files) => files.get(relative),
            Recorded::Surveyed(files) => files.get(relative).map(|s| &s.recorded),
        }
    }

    fn contains_key(&self, relative: &str) -> bool {
        self.get(relative).is_some()
    }

    /// Every path, sorted (a survey keeps the manifest's order, which is sorted).
    fn keys(&self) -> Box<dyn Iterator<Item = &String> + '_> {
        match self {
            Recorded::Read(files) => Box::new(files.keys()),
            Recorded::Surveyed(files) => Box::new(files.keys()),
        }
    }
}

/// Every file the manifest lists, as [`Held::survey`] found it, in the manifest's order (by
/// path), and looked up by hashing: a path compared in a search tree is compared with many that
/// share its long prefix.
#[derive(Debug)]
struct SurveyedFiles {
    files: Vec<(String, Surveyed)>,
    /// The position in `files` of each path.
    index: PathIndex,
}

impl SurveyedFiles {
    fn get(&self, relative: &str) -> Option<&Surveyed> {
        let n = self.index.find(relative, |n| self.files[n].0 == relative)?;
        Some(&self.files[n].1)
    }

    /// Every path, in the manifest's order.
    fn keys(&self) -> impl Iterator<Item = &String> {
        self.files.iter().map(|(relative, _)| relative)
    }
}

/// The positions of the paths of a list, by the hash of each path. Seeded at random: the paths
/// come from the directory's manifest, which anyone can edit, and a fixed seed would let them
/// pick paths that all collide. It is only looked up, never walked, so the seed changes no
/// output.
#[derive(Debug)]
struct PathIndex {
    hasher: foldhash::fast::RandomState,
    table: hashbrown::HashTable<usize>,
}

impl PathIndex {
    /// The index of the paths of `files` (distinct, as [`sorted_entries`] leaves them).
    fn of(files: &[(String, String)]) -> Self {
        let hasher = foldhash::fast::RandomState::default();
        let mut table = hashbrown::HashTable::with_capacity(files.len());
        for (n, (relative, _)) in files.iter().enumerate() {
            table.insert_unique(hasher.hash_one(relative.as_str()), n, |&m| {
                hasher.hash_one(files[m].0.as_str())
            });
        }
        PathIndex { hasher, table }
    }

    /// The position of `relative` in the list the index was built from: the one of the
    /// positions with its hash where `is` finds it.
    fn find(&self, relative: &str, is: impl Fn(usize) -> bool) -> Option<usize> {
        self.table
            .find(self.hasher.hash_one(relative), |&n| is(n))
            .copied()
    }
}

/// A file the manifest lists, as [`Held::survey`] found it.
#[derive(Debug)]
struct Surveyed {
    /// The digest the manifest records.
    recorded: String,
    /// The digest of the regular file at its path, when there is one that could be read.
    actual: Option<String>,
}

fn scan<'a>(
    dir: &Path,
    plan: &'a FilePlan,
    surveyed: Option<&'a SurveyedFiles>,
) -> Result<Scan<'a>, OutputError> {
    let recorded = match surveyed {
        Some(files) => Recorded::Surveyed(files),
        None => Recorded::Read(read_manifest(dir)?.unwrap_or_default().files),
    };
    let files = planned(plan);
    // A held file is the same, as settled under this lock: only the others are looked at, on
    // the pool (none, for an up-to-date tree).
    let others: Vec<usize> = (0..files.len())
        .filter(|&n| files[n].settled != Settled::Held)
        .collect();
    let looked = in_parallel(dir, &others, |walker, _, &n| {
        let file = &files[n];
        let relative = Path::new(file.relative);
        if file.settled == Settled::Released {
            // Not held when it was settled, under this lock: what is there now only decides
            // whether to add, replace or refuse.
            released_on_disk(walker, dir, relative)
        } else {
            on_disk(walker, dir, relative, file.content.as_bytes())
        }
    })?;
    let mut states = vec![OnDisk::Same; files.len()];
    for (n, state) in others.into_iter().zip(looked) {
        states[n] = state;
    }
    // Only the paths that will be written, deleted or shown in a diff: an up-to-date tree
    // costs nothing here.
    let mut parents = Parents::new(dir);
    for (file, state) in files.iter().zip(&states) {
        if *state != OnDisk::Same {
            parents.check(file.relative)?;
        }
    }
    let mut stale = Vec::new();
    for relative in not_in(recorded.keys(), plan.keys()) {
        parents.check(relative)?;
        if parents
            .walker
            .stat(Path::new(relative))
            .is_ok_and(|m| m.kind != Kind::Dir)
        {
            stale.push(relative.clone());
        }
    }
    Ok(Scan {
        recorded,
        files: files.into_iter().zip(states).collect(),
        stale,
        missing_dirs: parents.missing(),
    })
}

/// The paths of `recorded` that `planned` lacks: one pass over both, which are sorted (an
/// organisation's tree has tens of thousands of paths, and looking each up compares many).
fn not_in<'a>(
    recorded: impl Iterator<Item = &'a String>,
    planned: impl Iterator<Item = &'a String>,
) -> impl Iterator<Item = &'a String> {
    let mut planned = planned.peekable();
    recorded.filter(move |path| {
        while planned.next_if(|p| p < path).is_some() {}
        planned.next_if(|p| p == path).is_none()
    })
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

/// Writes `plan` (which must include its manifest, see [`with_manifest`]) under `dir`. Writes
/// nothing at all when `dir` is up to date.
///
/// # Panics
/// Never: a journal always serializes.
///
/// # Errors
/// [`OutputError::NotOwned`] before anything is written, when a planned file exists and is not
/// crossfed's; [`OutputError::HandEdited`], unless `force`, when a file crossfed would overwrite
/// or delete no longer holds what crossfed wrote (its manifest hash); I/O errors; injected faults.
pub fn write(
    dir: &Path,
    plan: &FilePlan,
    fault: Fault,
    force: bool,
) -> Result<Summary, OutputError> {
    Held::for_writing(dir)?.write(plan, &nothing_released, fault, force)
}

/// The output directory under its lock, for as long as this lives: exclusive for writing (after
/// an interrupted render was finished or undone), shared for reading. What [`Held::settle`]
/// finds on disk stays true until it is dropped, since every writer takes the lock.
#[derive(Debug)]
pub struct Held<'a> {
    dir: &'a Path,
    _lock: Option<Lock>,
    /// Each file the manifest lists, with the sha256 of the regular file at its path, read
    /// under this lock by [`Held::survey`] (`None` otherwise).
    surveyed: Option<SurveyedFiles>,
    /// What the manifest read by [`Held::survey`] recorded for the next render.
    previous: Option<Previous>,
    /// Held for writing: [`Held::settle`] releases the content of every file, since the writer
    /// renders again what it writes.
    writing: bool,
}

impl<'a> Held<'a> {
    /// Locks `dir` for writing, creating its state directory (so that there is something to
    /// lock), and finishes or undoes an interrupted render ([`recover`]).
    ///
    /// # Errors
    /// As [`lock`] and [`recover`].
    pub fn for_writing(dir: &'a Path) -> Result<Self, OutputError> {
        create_dir_durably(&dir.join(STATE_DIR))?;
        let lock = lock(dir, true)?;
        recover(dir)?;
        Ok(Held {
            dir,
            _lock: lock,
            surveyed: None,
            previous: None,
            writing: true,
        })
    }

    /// Locks a directory that already holds a rendered tree (exclusively for writing, shared for
    /// reading), and hashes every regular file its manifest lists, so that [`Held::settle`]
    /// compares a rendered file with a digest instead of reading the file: [`Survey::open`],
    /// [`Survey::work`] and [`Survey::finish`] on this thread alone. `None` when either of
    /// [`Survey::open`] and [`Survey::finish`] gives `None`.
    #[must_use]
    pub fn survey(dir: &'a Path, exclusive: bool, stop: &AtomicBool) -> Option<Self> {
        let survey = Survey::open(dir, exclusive)?;
        survey.work(stop);
        survey.finish()
    }

    /// Finishes taking the directory for writing after [`Held::survey`]: removes what an
    /// interrupted write of a state file left (the survey found no journal or staging list, and
    /// none can appear while the lock is held).
    ///
    /// # Errors
    /// As [`recover`].
    pub fn for_writing_after_survey(self) -> Result<Self, OutputError> {
        recover(self.dir)?;
        Ok(self)
    }

    /// Locks `dir` for reading: not in the middle of a render's commit.
    ///
    /// # Errors
    /// As [`lock`].
    pub fn for_reading(dir: &'a Path) -> Result<Self, OutputError> {
        Ok(Held {
            dir,
            _lock: lock(dir, false)?,
            surveyed: None,
            previous: None,
            writing: false,
        })
    }

    /// Hashes every file of `part` and releases the content of those the directory already holds
    /// byte for byte (regular files, compared without following a link), marking them
    /// [`Settled::Held`]. Held for writing, it releases the content of the others too, marking
    /// them [`Settled::Released`]: [`Held::write`] renders their part again when it stages them,
    /// so that an organisation's tree is never whole in memory, even when all of it is written.
    /// Held for reading (`check`), it keeps them, to show their diff. Best effort: a file that
    /// cannot be compared is not held, and the scan of [`Held::write`] or [`Held::diff`] meets
    /// the error again and reports it.
    pub fn settle(&self, part: &mut FilePlan) {
        let mut walker = Walker::new(self.dir);
        for (relative, file) in part.iter_mut() {
            if file.settled != Settled::Kept {
                continue;
            }
            let digest = file
                .digest
                .get_or_insert_with(|| sha256(file.content.as_bytes()));
            let same = if self
                .surveyed
                .as_ref()
                .and_then(|files| files.get(relative)?.actual.as_ref())
                == Some(digest)
            {
                true
            } else {
                plain_relative(relative)
                    && matches!(
                        on_disk(
                            &mut walker,
                            self.dir,
                            Path::new(relative),
                            file.content.as_bytes()
                        ),
                        Ok(OnDisk::Same)
                    )
            };
            if same {
                file.content = String::new();
                file.settled = Settled::Held;
            } else if self.writing {
                file.content = String::new();
                file.settled = Settled::Released;
            }
        }
    }

    /// What the directory's manifest recorded for the next render: the grants of the tree and
    /// its pending revocations (empty without a manifest).
    ///
    /// # Errors
    /// As [`read_manifest`].
    pub fn previous(&self) -> Result<Cow<'_, Previous>, OutputError> {
        // Borrowed from the survey: an organisation's grants are tens of thousands of names.
        if let Some(previous) = &self.previous {
            return Ok(Cow::Borrowed(previous));
        }
        Ok(Cow::Owned(
            read_manifest(self.dir)?
                .map(|m| Previous {
                    grants: m.grants,
                    pending: m.revocations,
                })
                .unwrap_or_default(),
        ))
    }

    /// [`write`], under this lock; `rerender` renders again the parts whose files' content was
    /// released ([`Held::settle`]), as they are staged, a few at a time.
    ///
    /// # Errors
    /// As [`write`]; [`OutputError::Rerendered`] (a crossfed bug) when a file rendered again is
    /// not what was rendered first.
    ///
    /// # Panics
    /// As [`write`].
    pub fn write(
        &self,
        plan: &FilePlan,
        rerender: &Rerender<'_>,
        fault: Fault,
        force: bool,
    ) -> Result<Summary, OutputError> {
        write_held(
            self.dir,
            plan,
            self.surveyed.as_ref(),
            rerender,
            fault,
            force,
        )
    }

    /// [`diff`], under this lock; `rerender` renders again the parts whose files' content was
    /// released.
    ///
    /// # Errors
    /// As [`diff`].
    pub fn diff(
        &self,
        plan: &FilePlan,
        rerender: &Rerender<'_>,
    ) -> Result<Vec<Change>, OutputError> {
        diff_held(self.dir, plan, self.surveyed.as_ref(), rerender, &|_| true)
    }

    /// The changes [`Held::diff`] finds in the files `paths` alone (those a render refused to
    /// overwrite, say): only their parts are rendered again.
    ///
    /// # Errors
    /// As [`diff`].
    pub fn diff_of(
        &self,
        plan: &FilePlan,
        paths: &[String],
        rerender: &Rerender<'_>,
    ) -> Result<Vec<Change>, OutputError> {
        let paths: BTreeSet<&str> = paths.iter().map(String::as_str).collect();
        diff_held(self.dir, plan, self.surveyed.as_ref(), rerender, &|path| {
            paths.contains(path)
        })
    }
}

/// A survey of a rendered tree under way: the directory locked, its manifest read, and its
/// files hashed in chunks by every thread that calls [`Survey::work`]. Meant to start while the
/// spec is validated, on the core validation leaves idle, and to be helped by the validating
/// thread when it is done, so that rendering starts as soon as both are. Writes nothing, not even
/// what [`Held::for_writing`] would repair.
#[derive(Debug)]
pub struct Survey<'a> {
    dir: &'a Path,
    lock: Lock,
    writing: bool,
    /// The manifest's text, until a task reads what it recorded for the next render.
    manifest: std::sync::Mutex<Vec<u8>>,
    /// What the manifest recorded for the next render, once read (`None`: it is corrupt).
    previous: std::sync::OnceLock<Option<Previous>>,
    /// Each file the manifest lists and the digest it records, in the manifest's (sorted) order.
    files: Vec<(String, String)>,
    /// The digests of the files of each chunk of `files`, once a thread hashed them all.
    chunks: Vec<std::sync::OnceLock<Vec<Option<String>>>>,
    /// The index of `files` by path, once built.
    index: std::sync::OnceLock<PathIndex>,
    /// The next task: a chunk to hash, indexing the files, or reading the rest of the manifest
    /// (in the order of [`Survey::work`]).
    next: AtomicUsize,
}

impl<'a> Survey<'a> {
    /// Files hashed per chunk: small enough that the last chunks spread over the threads, large
    /// enough that a thread keeps the directory handles it opened for the previous file.
    const CHUNK: usize = 64;

    /// Locks `dir` (exclusively for writing, shared for reading) and reads the files its
    /// manifest lists. `None`, leaving everything to the usual path, when there is no manifest,
    /// a render was interrupted, or anything cannot be read.
    #[must_use]
    pub fn open(dir: &'a Path, exclusive: bool) -> Option<Self> {
        let lock = lock(dir, exclusive).ok()??;
        if interrupted(dir).ok()?.is_some() {
            return None;
        }
        let manifest = manifest_text(dir).ok()??;
        let files = manifest_files(&dir.join(MANIFEST), &manifest).ok()?;
        let chunks = files.len().div_ceil(Self::CHUNK);
        Some(Survey {
            dir,
            lock,
            writing: exclusive,
            manifest: std::sync::Mutex::new(manifest),
            previous: std::sync::OnceLock::new(),
            files,
            chunks: std::iter::repeat_with(std::sync::OnceLock::new)
                .take(chunks)
                .collect(),
            index: std::sync::OnceLock::new(),
            next: AtomicUsize::new(0),
        })
    }

    /// Hashes chunks of the files, indexes them and reads the rest of the manifest until no
    /// task is left, unless `stop` is set (the spec turned out invalid). Any number of threads
    /// may call it at once; each task is done by one.
    pub fn work(&self, stop: &AtomicBool) {
        let mut walker = Walker::new(self.dir);
        let mut buffer = vec![0_u8; 64 * 1024];
        let mut nowait = true;
        // The first chunk, then indexing the files and reading the rest of the manifest, then
        // the other chunks: the two come early, so that the thread that opened the survey does
        // them while the spec is validated. Left for the end, each would keep one thread busy
        // while the others wait for it. (Task 0 is a chunk that may not exist.)
        let tasks = self.chunks.len().max(1) + 2;
        loop {
            let task = self.next.fetch_add(1, Ordering::Relaxed);
            if task >= tasks || stop.load(Ordering::Relaxed) {
                return;
            }
            // Each task is handed out once, so its slot is empty.
            let chunk = match task {
                1 => {
                    let _ = self.index.set(PathIndex::of(&self.files));
                    continue;
                }
                2 => {
                    let text = self
                        .manifest
                        .lock()
                        .map(|mut text| std::mem::take(&mut *text))
                        .unwrap_or_default();
                    let previous = manifest_previous(&self.dir.join(MANIFEST), &text).ok();
                    let _ = self.previous.set(previous);
                    continue;
                }
                0 => 0,
                n => n - 2,
            };
            let Some(slot) = self.chunks.get(chunk) else {
                continue;
            };
            let start = chunk * Self::CHUNK;
            let end = (start + Self::CHUNK).min(self.files.len());
            let mut digests = Vec::with_capacity(end - start);
            // The files whose content the page cache did not hold yet, asked for: read once
            // the others are hashed, instead of waiting for each in turn (at most a chunk's
            // files are held open).
            let mut later = Vec::new();
            for (relative, _) in &self.files[start..end] {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                // Anything but a readable regular file is left to `settle`'s own comparison.
                let digest =
                    match hash_file(&mut walker, Path::new(relative), &mut buffer, &mut nowait) {
                        Ok(Hashing::Done(digest)) => Some(digest),
                        Ok(Hashing::Later(file, len)) => {
                            later.push((digests.len(), file, len));
                            None
                        }
                        Err(_) => None,
                    };
                digests.push(digest);
            }
            for (n, file, len) in later {
                let left = usize::try_from(len).unwrap_or(usize::MAX);
                digests[n] = hash_rest(file, sha2::Sha256::new(), left, &mut buffer).ok();
            }
            let _ = slot.set(digests);
        }
    }

    /// The directory held, with what the survey found: `None` unless every task was done (it
    /// was stopped, or a thread working on it panicked) and the manifest is sound.
    #[must_use]
    pub fn finish(self) -> Option<Held<'a>> {
        let previous = self.previous.into_inner()??;
        let index = self.index.into_inner()?;
        let mut chunks = Vec::with_capacity(self.chunks.len());
        for chunk in self.chunks {
            chunks.push(chunk.into_inner()?);
        }
        // In the manifest's order, by path: `Recorded::keys` hands them to `not_in` sorted.
        let files = self
            .files
            .into_iter()
            .zip(chunks.into_iter().flatten())
            .map(|((relative, recorded), actual)| (relative, Surveyed { recorded, actual }))
            .collect();
        let surveyed = SurveyedFiles { files, index };
        Some(Held {
            dir: self.dir,
            _lock: Some(self.lock),
            surveyed: Some(surveyed),
            previous: Some(previous),
            writing: self.writing,
        })
    }
}

fn write_held(
    dir: &Path,
    plan: &FilePlan,
    surveyed: Option<&SurveyedFiles>,
    rerender: &Rerender<'_>,
    fault: Fault,
    force: bool,
) -> Result<Summary, OutputError> {
    let scan = scan(dir, plan, surveyed)?;
    let mut summary = Summary::default();
    let mut to_write = Vec::new();
    let mut edited = Vec::new();
    let mut manifest_current = false;
    for (file, state) in &scan.files {
        if file.relative == MANIFEST {
            manifest_current = *state == OnDisk::Same;
            continue;
        }
        match state {
            OnDisk::Same => summary.unchanged += 1,
            OnDisk::Missing => to_write.push(file),
            OnDisk::Differs if scan.recorded.contains_key(file.relative) => {
                if !force && edited_by_hand(dir, file.relative, &scan.recorded)? {
                    edited.push(file.relative.to_owned());
                }
                to_write.push(file);
            }
            // A file someone else wrote, or a directory where a file should go: not ours to replace.
            OnDisk::Differs | OnDisk::Directory => {
                return Err(OutputError::NotOwned {
                    path: dir.join(file.relative),
                });
            }
        }
    }
    if !force {
        for relative in &scan.stale {
            if edited_by_hand(dir, relative, &scan.recorded)? {
                edited.push(relative.clone());
            }
        }
    }
    if !edited.is_empty() {
        edited.sort();
        return Err(OutputError::HandEdited { paths: edited });
    }
    summary.written = to_write.iter().map(|f| f.relative.to_owned()).collect();
    summary.removed = scan.stale;
    let manifest = plan.get(MANIFEST).map_or("", |f| f.content.as_str());
    if to_write.is_empty() && summary.removed.is_empty() {
        // Up to date: touch nothing. Only the manifest changed (another spec name, say): one
        // atomic replace needs no journal.
        if !manifest_current {
            replace_atomically(dir, MANIFEST, manifest.as_bytes())?;
        }
        return Ok(summary);
    }

    if !to_write.is_empty() {
        stage(dir, &to_write, &scan.missing_dirs, rerender, fault)?;
    }
    let journal = Journal {
        renames: Cow::Borrowed(&summary.written),
        deletes: Cow::Borrowed(&summary.removed),
        manifest: Cow::Borrowed(manifest),
    };
    replace_atomically(dir, JOURNAL, &state_text(&journal))?;
    remove_if_exists(&mut Walker::new(dir), dir, Path::new(STAGING))?;
    commit(dir, &journal, fault)?;
    Ok(summary)
}

/// A state file's bytes: pretty JSON, in a buffer sized for it up front (an organisation's is
/// megabytes, and growing it by doubling would hold up to twice that).
fn state_text(state: &impl Serialize) -> Vec<u8> {
    let mut length = Length(0);
    serde_json::to_writer_pretty(&mut length, state).expect("a state file serializes");
    let mut text = Vec::with_capacity(length.0);
    serde_json::to_writer_pretty(&mut text, state).expect("a state file serializes");
    text
}

/// A writer that only counts.
struct Length(usize);

impl std::io::Write for Length {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether the owned file at `relative` no longer holds what crossfed wrote there (the hash its
/// manifest records). Reads only a regular file, never through a link.
fn edited_by_hand(
    dir: &Path,
    relative: &str,
    recorded: &Recorded<'_>,
) -> Result<bool, OutputError> {
    let Some(recorded) = recorded.get(relative) else {
        return Ok(false);
    };
    Ok(
        read_regular(&mut Walker::new(dir), dir, Path::new(relative))?
            .is_some_and(|bytes| sha256(&bytes) != *recorded),
    )
}

/// Stages `files` beside their destinations and makes them durable, under a staging list; or
/// removes what it staged and created.
///
/// # Panics
/// Never: a staging list always serializes.
fn stage(
    dir: &Path,
    files: &[&Planned<'_>],
    new_dirs: &[String],
    rerender: &Rerender<'_>,
    fault: Fault,
) -> Result<(), OutputError> {
    let mut dirs: Vec<String> = create_dir_durably(&dir.join(STATE_DIR))?
        .iter()
        .filter_map(|created| created.strip_prefix(dir).ok())
        .filter(|relative| !relative.as_os_str().is_empty())
        .map(|relative| relative.to_string_lossy().into_owned())
        .collect();
    dirs.extend(new_dirs.iter().cloned());
    let staging = Staging {
        files: files.iter().map(|f| Cow::Borrowed(f.relative)).collect(),
        dirs,
    };
    replace_atomically(dir, STAGING, &state_text(&staging))?;
    stage_files(dir, files, new_dirs, rerender, fault).inspect_err(|_| {
        // Best effort: what is left is listed, and the next run's `recover` removes it.
        let _ = roll_back(dir, &staging);
    })
}

/// Creates `new_dirs`, writes every staged file on the pool, then makes them and every
/// directory that gained an entry durable. The files whose content was released are written a
/// few parts at a time, each part rendered again just before.
fn stage_files(
    dir: &Path,
    files: &[&Planned<'_>],
    new_dirs: &[String],
    rerender: &Rerender<'_>,
    fault: Fault,
) -> Result<(), OutputError> {
    let mut walker = Walker::new(dir);
    for relative in new_dirs {
        let path = Path::new(relative);
        match walker.create_dir(path) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(fail(dir, path)(e));
            }
            _ => {}
        }
    }
    let staged: Vec<PathBuf> = files
        .iter()
        .map(|f| staged_path(Path::new(f.relative)))
        .collect();
    let write = |walker: &mut Walker<'_>, n: usize, content: &str| {
        if fault == Fault::Stage(n) {
            return Err(OutputError::Injected(format!(
                "failed while staging file {n}"
            )));
        }
        write_staged(
            walker,
            dir,
            &staged[n],
            content.as_bytes(),
            files[n].executable,
        )
        .map(drop)
    };
    let (released, kept): (Vec<usize>, Vec<usize>) =
        (0..files.len()).partition(|&n| files[n].settled == Settled::Released);
    in_parallel(dir, &kept, |walker, _, &n| {
        write(walker, n, files[n].content)
    })?;
    let mut by_part: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for n in released {
        by_part.entry(files[n].part).or_default().push(n);
    }
    let parts: Vec<usize> = by_part.keys().copied().collect();
    // As many parts at a time as there are cores to render them: the memory of a few parts.
    for batch in parts.chunks(crate::par::cores()) {
        let rendered = rerender(batch)?;
        let mut contents = Vec::new();
        for &n in batch.iter().flat_map(|number| &by_part[number]) {
            contents.push((n, rendered_again(batch, &rendered, files[n])?));
        }
        in_parallel(dir, &contents, |walker, _, &(n, content)| {
            // The manifest records the digest of the first rendering: the bytes written must be
            // those.
            if files[n].digest != Some(sha256(content.as_bytes()).as_str()) {
                return Err(OutputError::Rerendered {
                    path: files[n].relative.to_owned(),
                });
            }
            write(walker, n, content)
        })?;
    }
    let dirs: BTreeSet<PathBuf> = staged
        .iter()
        .map(|path| parent_relative(path).to_owned())
        .chain(
            new_dirs
                .iter()
                .map(|d| parent_relative(Path::new(d)).to_owned()),
        )
        .collect();
    make_durable(dir, &staged, &dirs)
}

/// The content of `file`, whose content was released, in `rendered`: the parts `asked` (sorted),
/// rendered again in that order. Missing is a crossfed bug.
fn rendered_again<'r>(
    asked: &[usize],
    rendered: &'r [FilePlan],
    file: &Planned<'_>,
) -> Result<&'r str, OutputError> {
    asked
        .binary_search(&file.part)
        .ok()
        .and_then(|i| rendered.get(i)?.get(file.relative))
        .map(|f| f.content.as_str())
        .ok_or_else(|| OutputError::Rerendered {
            path: file.relative.to_owned(),
        })
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
    Held::for_reading(dir)?.diff(plan, &nothing_released)
}

/// The changes between `dir` and `plan` in the files `wanted` picks.
fn diff_held(
    dir: &Path,
    plan: &FilePlan,
    surveyed: Option<&SurveyedFiles>,
    rerender: &Rerender<'_>,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<Change>, OutputError> {
    let scan = scan(dir, plan, surveyed)?;
    let differing: Vec<&(Planned<'_>, OnDisk)> = scan
        .files
        .iter()
        .filter(|(file, state)| *state != OnDisk::Same && wanted(file.relative))
        .collect();
    // The content of the changed files that `settle` released, rendered again.
    let parts: BTreeSet<usize> = differing
        .iter()
        .filter(|(file, _)| file.settled == Settled::Released)
        .map(|(file, _)| file.part)
        .collect();
    let parts: Vec<usize> = parts.into_iter().collect();
    let rendered = if parts.is_empty() {
        Vec::new()
    } else {
        rerender(&parts)?
    };
    let mut walker = Walker::new(dir);
    let mut changes = Vec::new();
    for (file, state) in differing {
        let relative = file.relative;
        let content = if file.settled == Settled::Released {
            rendered_again(&parts, &rendered, file)?
        } else {
            file.content
        };
        let existing = match state {
            OnDisk::Same => continue,
            OnDisk::Differs => read_for_diff(&mut walker, dir, relative)?,
            OnDisk::Missing | OnDisk::Directory => None,
        };
        let exists = *state != OnDisk::Missing;
        let old = existing
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let recorded = scan.recorded.get(relative);
        changes.push(Change {
            path: relative.to_owned(),
            kind: if exists {
                ChangeKind::Changed
            } else {
                ChangeKind::Added
            },
            // A directory or symlink where crossfed wrote a file is an edit too.
            hand_edited: exists
                && recorded.is_some_and(|h| existing.as_deref().is_none_or(|b| *h != sha256(b))),
            not_owned: exists && relative != MANIFEST && recorded.is_none(),
            diff: unified(relative, &old, content, exists),
        });
    }
    for relative in scan.stale.iter().filter(|p| wanted(p)) {
        let existing = read_for_diff(&mut walker, dir, relative)?;
        let old = existing
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        changes.push(Change {
            path: relative.clone(),
            kind: ChangeKind::Removed,
            hand_edited: scan
                .recorded
                .get(relative)
                .is_some_and(|h| existing.as_deref().is_none_or(|b| *h != sha256(b))),
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
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

/// The largest file `check` reads to show a diff: planned files are far smaller (an
/// organisation's README is about 16 MB), and a checked-in file of any size must not exhaust
/// memory. A larger file shows as empty and counts as edited.
const MAX_DIFF_READ: u64 = 64 * 1024 * 1024;

/// The bytes of the regular file at `path`, when it is one and at most [`MAX_DIFF_READ`] long.
fn read_for_diff(
    walker: &mut Walker<'_>,
    dir: &Path,
    relative: &str,
) -> Result<Option<Vec<u8>>, OutputError> {
    let path = Path::new(relative);
    match walker.stat(path) {
        Ok(meta) if meta.kind == Kind::File && meta.len <= MAX_DIFF_READ => {
            read_file(walker, dir, path)
        }
        Ok(_) => Ok(None),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(fail(dir, path)(e)),
    }
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
fn set_mode(file: &std::fs::File, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = if executable { 0o755 } else { 0o644 };
    file.set_permissions(std::fs::Permissions::from_mode(mode & !umask()))
}

/// The process's umask, read once (from `/proc/self/status`, which reading does not change;
/// the `umask` call would set it to read it). 0o022 where it cannot be read. Files get 0644 or
/// 0755, less what a stricter umask takes away (0o077 gives 0600 and 0700).
#[cfg(unix)]
fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("Umask:"))
                    .and_then(|value| u32::from_str_radix(value.trim(), 8).ok())
            })
            .unwrap_or(0o022)
    })
}

#[cfg(not(unix))]
fn set_mode(_: &std::fs::File, _: bool) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_files_read_in_any_order_and_the_last_of_a_repeated_path_counts() {
        let text = r#"{"crossfed": "0", "spec": "s", "spec_sha256": "x",
            "files": {"b": "2", "a": "1", "c": "3", "a": "4"}}"#;
        let manifest: Manifest = serde_json::from_str(text).unwrap();
        let files: Vec<(&str, &str)> = manifest
            .files
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(files, [("a", "4"), ("b", "2"), ("c", "3")]);
        assert!(
            serde_json::from_str::<Manifest>(
                r#"{"crossfed": "0", "spec": "s", "spec_sha256": "x", "files": ["a"]}"#
            )
            .is_err()
        );
    }

    #[test]
    fn not_in_finds_what_one_sorted_list_lacks() {
        let list =
            |paths: &[&str]| -> Vec<String> { paths.iter().map(|p| (*p).to_owned()).collect() };
        let cases: [(&[&str], &[&str], &[&str]); 5] = [
            (&["a", "b/c", "d"], &["a", "d"], &["b/c"]),
            (&["a", "b"], &[], &["a", "b"]),
            (&[], &["a"], &[]),
            (&["a", "c", "e"], &["b", "c", "d", "f"], &["a", "e"]),
            (&["a/b", "a/c"], &["a/b", "a/c"], &[]),
        ];
        for (recorded, planned, stale) in cases {
            let (recorded, planned) = (list(recorded), list(planned));
            let found: Vec<&String> = not_in(recorded.iter(), planned.iter()).collect();
            assert_eq!(
                found,
                list(stale).iter().collect::<Vec<_>>(),
                "{recorded:?} {planned:?}"
            );
        }
    }

    #[test]
    fn sha256_is_lower_case_hex() {
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    /// A file whose content left the page cache is not waited for: it is asked for and hashed
    /// after the others, to the same digest.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_not_in_the_page_cache_is_hashed_later_to_the_same_digest() {
        let dir = tempfile::tempdir().unwrap();
        let content = "x".repeat(40_000);
        let path = dir.path().join("cold.txt");
        std::fs::write(&path, &content).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        file.sync_all().unwrap();
        // Clean pages, once synced: dropped from the cache.
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        let mut walker = Walker::new(dir.path());
        let mut buffer = vec![0_u8; 16 * 1024];
        let mut nowait = true;
        let hashing = hash_file(&mut walker, Path::new("cold.txt"), &mut buffer, &mut nowait);
        let Ok(Hashing::Later(file, len)) = hashing else {
            panic!("the file was read at once: is the temporary directory on tmpfs?");
        };
        assert!(nowait, "the kernel reads without waiting");
        let left = usize::try_from(len).unwrap();
        let digest = hash_rest(file, sha2::Sha256::new(), left, &mut buffer).unwrap();
        assert_eq!(digest, sha256(content.as_bytes()));
        // Now cached, and more than the buffer: read at once, in pieces.
        let hashing = hash_file(&mut walker, Path::new("cold.txt"), &mut buffer, &mut nowait);
        let Ok(Hashing::Done(again)) = hashing else {
            panic!("the file was read into the page cache");
        };
        assert_eq!(again, digest);
    }

    fn plan(files: &[(&str, &str)]) -> FilePlan {
        let files = files
            .iter()
            .map(|(path, content)| {
                let file = if Path::new(path).extension().is_some_and(|e| e == "sh") {
                    PlannedFile::program((*content).to_owned(), &BTreeSet::new())
                } else {
                    PlannedFile::data((*content).to_owned(), &BTreeSet::new())
                };
                ((*path).to_owned(), file)
            })
            .collect();
        with_manifest(files, "spec.yaml", "spec")
    }

    fn before() -> FilePlan {
        plan(&[
            ("a.txt", "a\n"),
            ("b/run.sh", "#!/bin/sh\n"),
            ("gone/deep/x.json", "{}\n"),
            ("gone/y.json", "[]\n"),
        ])
    }

    fn after() -> FilePlan {
        plan(&[
            ("a.txt", "a, changed\n"),
            ("b/run.sh", "#!/bin/sh\n"),
            ("c/d/e.yaml", "e: 1\n"),
            ("c/f.yaml", "f: 1\n"),
        ])
    }

    /// Every file and directory under `dir`, state included: directories map to `None`.
    fn tree(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
        fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let relative = path.strip_prefix(base).unwrap().display().to_string();
                if path.is_dir() {
                    out.insert(relative, None);
                    walk(base, &path, out);
                } else {
                    out.insert(relative, Some(std::fs::read(&path).unwrap()));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(dir, dir, &mut out);
        out
    }

    /// `plan` written into a fresh directory.
    fn written(plan: &FilePlan) -> (tempfile::TempDir, BTreeMap<String, Option<Vec<u8>>>) {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), plan, Fault::None, false).unwrap();
        let tree = tree(dir.path());
        (dir, tree)
    }

    #[test]
    fn a_crash_while_staging_is_rolled_back() {
        let (old, old_tree) = written(&before());
        let next = after();
        let scan = scan(old.path(), &next, None).unwrap();
        let to_write: Vec<&Planned<'_>> = scan
            .files
            .iter()
            .filter(|(f, state)| f.relative != MANIFEST && *state != OnDisk::Same)
            .map(|(f, _)| f)
            .collect();
        assert_eq!(scan.missing_dirs, ["c", "c/d"]);
        // Everything staged and listed, as at the very end of step 4 …
        stage(
            old.path(),
            &to_write,
            &scan.missing_dirs,
            &nothing_released,
            Fault::None,
        )
        .unwrap();
        assert!(old.path().join("c/d/.e.yaml.crossfed-new").is_file());
        // … one staged file cut short, and a journal that was being written.
        std::fs::write(old.path().join("c/.f.yaml.crossfed-new"), "f:").unwrap();
        std::fs::write(old.path().join(".crossfed/.journal.json.crossfed-new"), "{").unwrap();

        assert!(recover(old.path()).unwrap());
        assert_eq!(tree(old.path()), old_tree, "the previous tree, exactly");
        assert!(!recover(old.path()).unwrap(), "nothing left to repair");
        write(old.path(), &next, Fault::None, false).unwrap();
        assert_eq!(tree(old.path()), written(&next).1);
    }

    /// After the journal, a crash can stop the commit after any of its steps: each rename,
    /// each deletion, the manifest. Whatever was done, `recover` yields the new tree.
    #[test]
    fn a_crash_anywhere_after_the_journal_is_rolled_forward() {
        let (_, expected) = written(&after());
        let mut steps = None;
        for done in 0.. {
            let (dir, _) = written(&before());
            let dir = dir.path();
            write(dir, &after(), Fault::Commit(0), false).unwrap_err();
            let journal: Journal =
                serde_json::from_slice(&std::fs::read(dir.join(JOURNAL)).unwrap()).unwrap();
            let mut step: Vec<Box<dyn Fn()>> = Vec::new();
            for relative in journal.renames.iter() {
                let path = dir.join(relative);
                step.push(Box::new(move || {
                    std::fs::rename(staged_path(&path), &path).unwrap();
                }));
            }
            for relative in journal.deletes.iter() {
                let path = dir.join(relative);
                step.push(Box::new(move || std::fs::remove_file(&path).unwrap()));
            }
            let gone = dir.join("gone/deep");
            step.push(Box::new(move || std::fs::remove_dir(&gone).unwrap()));
            let manifest = journal.manifest.clone();
            step.push(Box::new(move || {
                std::fs::write(dir.join(MANIFEST), manifest.as_bytes()).unwrap();
            }));
            steps = Some(step.len());
            if done > step.len() {
                break;
            }
            for run in &step[..done] {
                run();
            }
            assert!(recover(dir).unwrap(), "after {done} steps");
            assert_eq!(tree(dir), expected, "after {done} steps");
        }
        assert_eq!(
            steps,
            Some(3 + 2 + 1 + 1),
            "renames, deletions, a directory, the manifest"
        );
    }

    #[test]
    fn a_journal_that_outlived_its_commit_changes_nothing() {
        let (dir, _) = written(&before());
        let dir = dir.path();
        write(dir, &after(), Fault::Commit(0), false).unwrap_err();
        let journal = std::fs::read(dir.join(JOURNAL)).unwrap();
        // A staging list beside it (its removal was lost too) lists renamed files by then.
        let staging = Staging {
            files: vec!["c/f.yaml".into()],
            dirs: vec!["c".into()],
        };
        std::fs::write(dir.join(STAGING), serde_json::to_string(&staging).unwrap()).unwrap();
        assert!(recover(dir).unwrap());
        let done = tree(dir);
        let manifest_written = std::fs::metadata(dir.join(MANIFEST))
            .unwrap()
            .modified()
            .unwrap();
        // Coarse filesystem clocks: make sure a rewrite would show in the mtime.
        std::thread::sleep(std::time::Duration::from_millis(50));

        std::fs::write(dir.join(JOURNAL), journal).unwrap();
        std::fs::write(dir.join(STAGING), serde_json::to_string(&staging).unwrap()).unwrap();
        assert!(recover(dir).unwrap());
        assert_eq!(tree(dir), done);
        assert_eq!(
            std::fs::metadata(dir.join(MANIFEST))
                .unwrap()
                .modified()
                .unwrap(),
            manifest_written,
            "the manifest already held the journal's bytes"
        );
    }

    #[test]
    fn a_staged_name_taken_by_a_symlink_is_replaced_not_written_through() {
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "mine\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&victim, dir.path().join("b/.run.sh.crossfed-new")).unwrap();
        write(dir.path(), &before(), Fault::None, false).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "mine\n");
        assert_eq!(tree(dir.path()), written(&before()).1);
    }

    #[test]
    fn the_pool_returns_results_in_order_and_the_first_error() {
        let items: Vec<usize> = (0..1000).collect();
        assert_eq!(
            in_parallel(Path::new("."), &items, |_, n, item| Ok(n * item)).unwrap()[999],
            999 * 999
        );
        for _ in 0..20 {
            let failed = in_parallel(Path::new("."), &items, |_, n, _| {
                if n == 637 {
                    Err(OutputError::Injected(n.to_string()))
                } else {
                    Ok(())
                }
            });
            assert!(matches!(failed, Err(OutputError::Injected(n)) if n == "637"));
        }
    }
}
