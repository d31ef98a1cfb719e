//! Files beneath the output directory, reached through directory handles.
//!
//! The output directory is checked in, so any name in it may be a symlink a pull request
//! planted, and a directory may be swapped for one between a check and a use. Every operation
//! here starts from a handle on the output directory, opens each directory on the way with
//! `O_DIRECTORY | O_NOFOLLOW`, and acts on the last name relative to its parent's handle
//! (`openat` with `O_NOFOLLOW`, `O_CREAT | O_EXCL`, `mkdirat`, `renameat`, `unlinkat`,
//! `fstatat` with `AT_SYMLINK_NOFOLLOW`). A symlink anywhere on the way fails the operation with
//! [`Link`], whenever it appeared; none is ever followed.
//!
//! A [`Walker`] keeps the handles of the directories on the way to the last one it used, so a
//! run of operations on the files of one directory (the order of a sorted plan) opens it once,
//! and the next directory costs one `openat` per name that differs. It is meant for one batch
//! of work on one thread: a handle kept across a change of the tree would act on the directory
//! that was there when it was opened.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// A symlink (or non-directory) where a directory on the way to a file was expected, relative to
/// the output directory. Carried inside an [`io::Error`] of kind `Other`.
#[derive(Debug)]
pub struct Link(pub PathBuf);

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` is a symlink", self.0.display())
    }
}

impl std::error::Error for Link {}

/// The [`Link`] an error carries, if any.
pub fn link_of(error: &io::Error) -> Option<&Path> {
    error
        .get_ref()
        .and_then(|e| e.downcast_ref::<Link>())
        .map(|link| link.0.as_path())
}

/// What a name is, seen without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symlink.
    Link,
    /// A FIFO, socket or device.
    Other,
}

/// A name's kind and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// What it is.
    pub kind: Kind,
    /// Its length in bytes.
    pub len: u64,
}

/// The names of `relative`'s directories and its last name; `None` unless it is made of plain
/// names only (paths read from state files are checked before they get here; this is the last
/// guard).
fn split(relative: &Path) -> Option<(Vec<&OsStr>, &OsStr)> {
    let mut names = Vec::with_capacity(6);
    if !plain_names(relative, &mut |name| names.push(name)) {
        return None;
    }
    let last = names.pop()?;
    Some((names, last))
}

/// Whether `relative` is made only of plain names (no root, prefix, `.` or `..`), handing each
/// to `each`. On Unix a path is split at `/` directly (`Path::components` is slow on tens of
/// thousands of paths), and an empty name (`a//b`) is refused too, where `components` would skip
/// it, as it skips an inner `.`: crossfed writes neither.
pub(super) fn plain_names<'a>(relative: &'a Path, each: &mut dyn FnMut(&'a OsStr)) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        let bytes = relative.as_os_str().as_bytes();
        if bytes.is_empty() {
            return false;
        }
        for name in bytes.split(|b| *b == b'/') {
            if name.is_empty() || name == b"." || name == b".." {
                return false;
            }
            each(OsStr::from_bytes(name));
        }
        true
    }
    #[cfg(not(unix))]
    {
        let mut any = false;
        for component in relative.components() {
            match component {
                std::path::Component::Normal(name) => each(name),
                _ => return false,
            }
            any = true;
        }
        any
    }
}

fn not_plain(relative: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("`{}` is not a plain relative path", relative.display()),
    )
}

#[cfg(unix)]
mod imp {
    use std::os::fd::{AsFd as _, BorrowedFd, OwnedFd};

    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    use rustix::io::Errno;

    use super::{File, Kind, Link, Meta, OsStr, OsString, Path, io, not_plain, split};

    /// Operations beneath one output directory; see the module documentation.
    #[derive(Debug)]
    pub struct Walker<'a> {
        root: &'a Path,
        root_fd: Option<OwnedFd>,
        /// The directories opened on the way to the last one used, from the root down: each
        /// name and its handle.
        open: Vec<(OsString, OwnedFd)>,
    }

    const DIR_FLAGS: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);

    impl<'a> Walker<'a> {
        /// A walker beneath `root` (opened on first use; a link in `root`'s own path, as typed,
        /// is followed: that path is the user's, not the tree's).
        #[must_use]
        pub fn new(root: &'a Path) -> Self {
            Walker {
                root,
                root_fd: None,
                open: Vec::new(),
            }
        }

        fn root_fd(&mut self) -> io::Result<BorrowedFd<'_>> {
            if self.root_fd.is_none() {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
                self.root_fd = Some(rustix::fs::open(self.root, flags, Mode::empty())?);
            }
            Ok(self
                .root_fd
                .as_ref()
                .map(OwnedFd::as_fd)
                .expect("opened above"))
        }

        /// The handle of directory `names` beneath the root (the root itself when empty). The
        /// handles of the directories on the way are kept as a stack, so moving to a sibling
        /// directory opens one name, not the whole path again.
        fn dir(&mut self, names: &[&OsStr]) -> io::Result<BorrowedFd<'_>> {
            if names.is_empty() {
                return self.root_fd();
            }
            let kept = self
                .open
                .iter()
                .zip(names)
                .take_while(|((open, _), name)| open.as_os_str() == **name)
                .count();
            self.open.truncate(kept);
            for (depth, name) in names.iter().enumerate().skip(kept) {
                let opened = {
                    let parent = match self.open.last() {
                        Some((_, fd)) => fd.as_fd(),
                        None => self.root_fd()?,
                    };
                    rustix::fs::openat(parent, *name, DIR_FLAGS, Mode::empty())
                };
                let fd = opened.map_err(|e| match e {
                    // A symlink (or a file) where a directory should be.
                    Errno::LOOP | Errno::NOTDIR | Errno::MLINK => {
                        io::Error::other(Link(names[..=depth].iter().collect()))
                    }
                    e => e.into(),
                })?;
                self.open.push(((*name).to_owned(), fd));
            }
            Ok(self
                .open
                .last()
                .map(|(_, fd)| fd.as_fd())
                .expect("names is not empty"))
        }

        /// The handle of the directory holding `relative`, and its last name.
        fn parent<'p>(&mut self, relative: &'p Path) -> io::Result<(BorrowedFd<'_>, &'p OsStr)> {
            let (names, last) = split(relative).ok_or_else(|| not_plain(relative))?;
            Ok((self.dir(&names)?, last))
        }

        /// What `relative` is, without following it.
        ///
        /// # Errors
        /// `NotFound` when nothing is there; [`Link`] for a link on the way.
        pub fn stat(&mut self, relative: &Path) -> io::Result<Meta> {
            let (dir, name) = self.parent(relative)?;
            let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
            let kind = match FileType::from_raw_mode(stat.st_mode) {
                FileType::RegularFile => Kind::File,
                FileType::Directory => Kind::Dir,
                FileType::Symlink => Kind::Link,
                _ => Kind::Other,
            };
            Ok(Meta {
                kind,
                len: u64::try_from(stat.st_size).unwrap_or(0),
            })
        }

        /// Opens the file at `relative` for reading; fails (`ELOOP`) on a link.
        ///
        /// # Errors
        /// As `openat`.
        pub fn open_read(&mut self, relative: &Path) -> io::Result<File> {
            let (dir, name) = self.parent(relative)?;
            let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY;
            Ok(File::from(rustix::fs::openat(
                dir,
                name,
                flags,
                Mode::empty(),
            )?))
        }

        /// Opens the regular file at `relative` for reading and gives its length: one `openat`
        /// and one `fstat` on the handle, where [`Walker::stat`] then [`Walker::open_read`] look
        /// the name up twice. `None` for anything but a regular file. Opened non-blocking, so a
        /// FIFO planted in the tree is seen for what it is instead of waiting for a writer;
        /// fails (`ELOOP`) on a link.
        ///
        /// # Errors
        /// As `openat` and `fstat`.
        pub fn open_regular(&mut self, relative: &Path) -> io::Result<Option<(File, u64)>> {
            let (dir, name) = self.parent(relative)?;
            let flags = OFlags::RDONLY
                | OFlags::NOFOLLOW
                | OFlags::CLOEXEC
                | OFlags::NOCTTY
                | OFlags::NONBLOCK;
            let fd = rustix::fs::openat(dir, name, flags, Mode::empty())?;
            let stat = rustix::fs::fstat(&fd)?;
            if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
                return Ok(None);
            }
            Ok(Some((
                File::from(fd),
                u64::try_from(stat.st_size).unwrap_or(0),
            )))
        }

        /// Creates the file at `relative` for writing, never through an existing name (a link
        /// included): `AlreadyExists` when anything is there. Mode 0600 until the caller sets it.
        ///
        /// # Errors
        /// As `openat`.
        pub fn create_new(&mut self, relative: &Path) -> io::Result<File> {
            let (dir, name) = self.parent(relative)?;
            let flags = OFlags::WRONLY
                | OFlags::CREATE
                | OFlags::EXCL
                | OFlags::NOFOLLOW
                | OFlags::CLOEXEC
                | OFlags::NOCTTY;
            let mode = Mode::RUSR | Mode::WUSR;
            Ok(File::from(rustix::fs::openat(dir, name, flags, mode)?))
        }

        /// Removes the file (or link) at `relative`.
        ///
        /// # Errors
        /// As `unlinkat`.
        pub fn remove_file(&mut self, relative: &Path) -> io::Result<()> {
            let (dir, name) = self.parent(relative)?;
            Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?)
        }

        /// Removes the empty directory at `relative`.
        ///
        /// # Errors
        /// As `unlinkat`.
        pub fn remove_dir(&mut self, relative: &Path) -> io::Result<()> {
            // A kept handle may be this directory's: let them go.
            self.open.clear();
            let (dir, name) = self.parent(relative)?;
            let result = rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR);
            self.open.clear();
            Ok(result?)
        }

        /// Creates the directory at `relative` (mode 0777 less the umask).
        ///
        /// # Errors
        /// As `mkdirat`.
        pub fn create_dir(&mut self, relative: &Path) -> io::Result<()> {
            let (dir, name) = self.parent(relative)?;
            Ok(rustix::fs::mkdirat(
                dir,
                name,
                Mode::from_bits_truncate(0o777),
            )?)
        }

        /// Renames `from` to `to`, two names of one directory.
        ///
        /// # Errors
        /// As `renameat`; `InvalidInput` when they are not in one directory.
        pub fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
            let (_, from_name) = split(from).ok_or_else(|| not_plain(from))?;
            if from.parent() != to.parent() {
                return Err(not_plain(to));
            }
            let (dir, to_name) = self.parent(to)?;
            Ok(rustix::fs::renameat(dir, from_name, dir, to_name)?)
        }

        /// Opens the directory at `relative` (the root when empty), to fsync or lock it.
        ///
        /// # Errors
        /// As `openat`; [`Link`] for a link, there or on the way.
        pub fn open_dir(&mut self, relative: &Path) -> io::Result<File> {
            let names: Vec<&OsStr> = if relative.as_os_str().is_empty() {
                Vec::new()
            } else {
                let (mut names, last) = split(relative).ok_or_else(|| not_plain(relative))?;
                names.push(last);
                names
            };
            let fd = self.dir(&names)?;
            Ok(File::from(fd.try_clone_to_owned()?))
        }
    }
}

#[cfg(not(unix))]
mod imp {
    //! Elsewhere, paths checked with `symlink_metadata` first: no handle-relative calls.
    use super::{File, Kind, Link, Meta, Path, io, not_plain, split};

    /// Operations beneath one output directory.
    #[derive(Debug)]
    pub struct Walker<'a> {
        root: &'a Path,
    }

    impl<'a> Walker<'a> {
        /// A walker beneath `root`.
        #[must_use]
        pub fn new(root: &'a Path) -> Self {
            Walker { root }
        }

        fn path(&self, relative: &Path) -> io::Result<std::path::PathBuf> {
            let (names, _) = split(relative).ok_or_else(|| not_plain(relative))?;
            let mut path = self.root.to_path_buf();
            for name in names {
                path.push(name);
                if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
                    return Err(io::Error::other(Link(
                        path.strip_prefix(self.root).unwrap_or(&path).to_owned(),
                    )));
                }
            }
            Ok(self.root.join(relative))
        }

        /// See the Unix implementation.
        pub fn stat(&mut self, relative: &Path) -> io::Result<Meta> {
            let meta = std::fs::symlink_metadata(self.path(relative)?)?;
            let kind = if meta.file_type().is_symlink() {
                Kind::Link
            } else if meta.is_dir() {
                Kind::Dir
            } else if meta.is_file() {
                Kind::File
            } else {
                Kind::Other
            };
            Ok(Meta {
                kind,
                len: meta.len(),
            })
        }

        /// See the Unix implementation.
        pub fn open_read(&mut self, relative: &Path) -> io::Result<File> {
            File::open(self.path(relative)?)
        }

        /// See the Unix implementation.
        pub fn open_regular(&mut self, relative: &Path) -> io::Result<Option<(File, u64)>> {
            let meta = self.stat(relative)?;
            if meta.kind != Kind::File {
                return Ok(None);
            }
            Ok(Some((self.open_read(relative)?, meta.len)))
        }

        /// See the Unix implementation.
        pub fn create_new(&mut self, relative: &Path) -> io::Result<File> {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.path(relative)?)
        }

        /// See the Unix implementation.
        pub fn remove_file(&mut self, relative: &Path) -> io::Result<()> {
            std::fs::remove_file(self.path(relative)?)
        }

        /// See the Unix implementation.
        pub fn remove_dir(&mut self, relative: &Path) -> io::Result<()> {
            std::fs::remove_dir(self.path(relative)?)
        }

        /// See the Unix implementation.
        pub fn create_dir(&mut self, relative: &Path) -> io::Result<()> {
            std::fs::create_dir(self.path(relative)?)
        }

        /// See the Unix implementation.
        pub fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
            std::fs::rename(self.path(from)?, self.path(to)?)
        }

        /// See the Unix implementation.
        pub fn open_dir(&mut self, relative: &Path) -> io::Result<File> {
            if relative.as_os_str().is_empty() {
                return File::open(self.root);
            }
            File::open(self.path(relative)?)
        }
    }
}

pub use imp::Walker;

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_names_are_plain() {
        let names = |path: &str| {
            let mut names = Vec::new();
            plain_names(Path::new(path), &mut |n| names.push(n.to_owned())).then_some(names.len())
        };
        assert_eq!(names("a"), Some(1));
        assert_eq!(names("kubernetes/prod/ns/patch-a.yaml"), Some(4));
        assert_eq!(names(".crossfed/manifest.json"), Some(2));
        for bad in ["", "/a", "a/../b", "..", "./a", "a/.", "a//b", "a/", "/"] {
            assert_eq!(names(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_link_anywhere_on_the_way_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("a/link")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), root.join("a/b/file")).unwrap();
        let mut walker = Walker::new(&root);

        let through = Path::new("a/link/secret");
        for error in [
            walker.stat(through).unwrap_err(),
            walker.open_read(through).unwrap_err(),
            walker.create_new(Path::new("a/link/new")).unwrap_err(),
            walker.remove_file(through).unwrap_err(),
            walker.create_dir(Path::new("a/link/d")).unwrap_err(),
            walker.open_dir(Path::new("a/link")).unwrap_err(),
        ] {
            assert_eq!(link_of(&error), Some(Path::new("a/link")), "{error}");
        }
        // The last name is a link: seen as one, never opened or written through.
        assert_eq!(walker.stat(Path::new("a/b/file")).unwrap().kind, Kind::Link);
        assert!(walker.open_read(Path::new("a/b/file")).is_err());
        assert_eq!(
            walker.create_new(Path::new("a/b/file")).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        walker.remove_file(Path::new("a/b/file")).unwrap();
        assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"s");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);

        // Swapped for a link after the walker kept the directory's handle: a new walker sees it.
        walker.create_new(Path::new("a/b/x")).unwrap();
        std::fs::rename(root.join("a/b"), root.join("a/old")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("a/b")).unwrap();
        let error = Walker::new(&root)
            .create_new(Path::new("a/b/y"))
            .unwrap_err();
        assert_eq!(link_of(&error), Some(Path::new("a/b")));
        assert!(!outside.join("y").exists());

        for bad in ["../x", "/etc/passwd", "./a", ""] {
            assert_eq!(
                walker.stat(Path::new(bad)).unwrap_err().kind(),
                io::ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }
}
