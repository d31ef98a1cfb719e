//! Writing a [`FilePlan`] to disk: the only module that touches the output directory.
//!
//! Each file is written to a temporary sibling and renamed into place, so a reader never sees a
//! half-written file. Scripts get the executable bit. Files not in the plan are left alone.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::render::FilePlan;

/// A write failure, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write `{path}`: {source}")]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// Whether a generated file is a program (gets mode 0755).
#[must_use]
pub fn is_executable(path: &str) -> bool {
    Path::new(path).extension().is_some_and(|e| e == "sh")
        || path.ends_with("/aws-credential-process")
}

/// Writes every file of `plan` under `dir`.
///
/// # Errors
/// The first file that could not be written.
pub fn write(dir: &Path, plan: &FilePlan) -> Result<(), WriteError> {
    for (relative, content) in plan {
        let path = dir.join(relative);
        write_file(&path, content.as_bytes(), is_executable(relative)).map_err(|source| {
            WriteError {
                path: path.clone(),
                source,
            }
        })?;
    }
    Ok(())
}

fn write_file(path: &Path, content: &[u8], executable: bool) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.crossfed-tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(content)?;
    file.sync_all()?;
    drop(file);
    set_mode(&tmp, executable)?;
    std::fs::rename(&tmp, path)
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
