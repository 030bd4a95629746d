//! Tasks shipped as a directory (`Executable.runtime` = `<interpreter>@<entry>`,
//! `gradual_types::runtime`): the artifact is a tar archive, which the node unpacks at every
//! start of the task, after its digest is checked, into
//! `<data_dir>/artifacts/<task>.<digest>.d/`, and runs `<interpreter> <that directory>/<entry>`
//! (the entry itself for `native`). Fresh at every start, like a single-file artifact whose
//! digest is checked at every start: whatever a task did to its copy does not outlive it.
//!
//! The archive comes from the task's creator, so it is untrusted: only regular files and
//! directories are unpacked, under relative, UTF-8 names without `..`; links, devices and
//! fifos are refused, as are more than [`UNPACK_ENTRIES_MAX`] entries or more than
//! [`ARTIFACT_BYTES_MAX`] bytes of content (counted while writing: a tar bomb stops at the
//! limit). The node writes into a fresh temporary directory and renames it into place, so
//! the directory exists only complete; leftovers of a crash are removed at the next start.

use crate::artifact::ARTIFACT_BYTES_MAX;
use gradual_types::{Hash, TaskId};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The most entries (files and directories) an archive may have.
pub use gradual_types::constants::TASK_ARCHIVE_ENTRIES_MAX as UNPACK_ENTRIES_MAX;

/// How much one archive may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    pub entries: usize,
    pub bytes: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            entries: UNPACK_ENTRIES_MAX,
            bytes: ARTIFACT_BYTES_MAX as u64,
        }
    }
}

/// Why an archive is not unpacked (or its entry cannot be run).
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("the archive is not a valid tar file: {0}")]
    Corrupt(String),
    #[error("archive entry '{0}' is an absolute path")]
    Absolute(String),
    #[error("archive entry '{0}' has a '..' component")]
    DotDot(String),
    #[error("archive entry {0:?} has a name that is not UTF-8")]
    NotUtf8(String),
    #[error("archive entry '{path}' is a {kind}; only regular files and directories are unpacked")]
    NotFileOrDir { path: String, kind: String },
    #[error("the archive has more than {0} entries")]
    TooManyEntries(usize),
    #[error("the archive unpacks to more than {0} bytes")]
    TooManyBytes(u64),
    #[error("archive entry '{0}' appears twice")]
    Duplicate(String),
    #[error("cannot write '{path}': {error}")]
    Io { path: String, error: String },
    #[error("the archive has no regular file '{0}' (the task's entry)")]
    NoEntry(String),
    #[error("the task's entry '{0}' is not executable (a native entry needs its executable bit)")]
    NotExecutable(String),
}

fn io_error(path: &Path, e: std::io::Error) -> UnpackError {
    UnpackError::Io {
        path: path.display().to_string(),
        error: e.to_string(),
    }
}

/// The interpreter label of a runtime string (`python3` for `python3@main.py`).
pub fn interpreter(runtime: &str) -> &str {
    runtime
        .split_once(gradual_types::runtime::ENTRY_SEPARATOR)
        .map_or(runtime, |(i, _)| i)
}

/// The relative path an archive entry names, checked: UTF-8, not absolute, no `..`. Empty
/// and `.` components are dropped (`./a/` is `a`); `None` for the archive's root itself.
fn entry_path(raw: &[u8]) -> Result<Option<PathBuf>, UnpackError> {
    let name = std::str::from_utf8(raw)
        .map_err(|_| UnpackError::NotUtf8(String::from_utf8_lossy(raw).into_owned()))?;
    if name.starts_with('/') {
        return Err(UnpackError::Absolute(name.to_string()));
    }
    let mut path = PathBuf::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(UnpackError::DotDot(name.to_string())),
            c => path.push(c),
        }
    }
    Ok((!path.as_os_str().is_empty()).then_some(path))
}

/// Unpack `archive` into `dest`, an empty directory, within `limits`. Files get mode 0755
/// when any executable bit is set in the archive, else 0644; directories 0755.
pub fn unpack_into(
    archive: impl Read,
    dest: &Path,
    limits: UnpackLimits,
) -> Result<(), UnpackError> {
    let mut ar = tar::Archive::new(archive);
    let entries = ar
        .entries()
        .map_err(|e| UnpackError::Corrupt(e.to_string()))?;
    let mut count = 0usize;
    let mut left = limits.bytes;
    for entry in entries {
        let mut entry = entry.map_err(|e| UnpackError::Corrupt(e.to_string()))?;
        count += 1;
        if count > limits.entries {
            return Err(UnpackError::TooManyEntries(limits.entries));
        }
        let raw = entry.path_bytes().into_owned();
        let rel = entry_path(&raw)?;
        let kind = entry.header().entry_type();
        let shown = || String::from_utf8_lossy(&raw).into_owned();
        if kind.is_dir() {
            if let Some(rel) = rel {
                let dir = dest.join(rel);
                std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
            }
            continue;
        }
        if !kind.is_file() && kind != tar::EntryType::Continuous {
            let kind = if kind.is_symlink() {
                "symbolic link".to_string()
            } else if kind.is_hard_link() {
                "hard link".to_string()
            } else if kind.is_character_special() {
                "character device".to_string()
            } else if kind.is_block_special() {
                "block device".to_string()
            } else if kind.is_fifo() {
                "fifo".to_string()
            } else {
                format!("entry of tar type {:?}", kind.as_byte() as char)
            };
            return Err(UnpackError::NotFileOrDir {
                path: shown(),
                kind,
            });
        }
        let Some(rel) = rel else {
            return Err(UnpackError::NotFileOrDir {
                path: shown(),
                kind: "file without a name".into(),
            });
        };
        // The header's size first: a bomb is refused before a byte is written.
        if entry.size() > left {
            return Err(UnpackError::TooManyBytes(limits.bytes));
        }
        let path = dest.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        }
        let executable = entry.header().mode().unwrap_or(0) & 0o111 != 0;
        let mode = if executable { 0o755 } else { 0o644 };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => UnpackError::Duplicate(shown()),
                _ => io_error(&path, e),
            })?;
        // Count what is written, whatever the header said.
        let written = std::io::copy(&mut (&mut entry).take(left + 1), &mut file)
            .map_err(|e| io_error(&path, e))?;
        if written > left {
            return Err(UnpackError::TooManyBytes(limits.bytes));
        }
        left -= written;
        file.flush().map_err(|e| io_error(&path, e))?;
        // Exactly these modes, whatever the node's umask.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| io_error(&path, e))?;
    }
    Ok(())
}

/// Make every directory under `root` (itself included) 0755: readable by a task's own user.
fn open_directories(root: &Path) -> Result<(), UnpackError> {
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| io_error(root, e))?;
    for e in std::fs::read_dir(root).map_err(|e| io_error(root, e))? {
        let e = e.map_err(|e| io_error(root, e))?;
        if e.file_type()
            .map_err(|err| io_error(&e.path(), err))?
            .is_dir()
        {
            open_directories(&e.path())?;
        }
    }
    Ok(())
}

/// Check that `entry` is a regular file of `dir` (executable for a native task).
fn check_entry(dir: &Path, entry: &str, native: bool) -> Result<PathBuf, UnpackError> {
    let path = dir.join(entry);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => {
            if native && m.permissions().mode() & 0o111 == 0 {
                return Err(UnpackError::NotExecutable(entry.to_string()));
            }
            Ok(path)
        }
        _ => Err(UnpackError::NoEntry(entry.to_string())),
    }
}

/// Where task `task`'s archive `digest` is unpacked in the artifact cache `cache` (one copy
/// per task: a restart replaces it while other tasks keep theirs).
pub fn unpacked_path(cache: &Path, digest: &Hash, task: &TaskId) -> PathBuf {
    cache.join(format!("{}.{}.d", task.to_base58(), digest.to_base58()))
}

/// Unpack the archive `bytes` (already checked against `digest`) into a fresh directory for
/// `task`, replacing the one its last start left and any crash leftovers; check the entry.
/// Returns the unpacked directory.
pub fn unpack_artifact(
    cache: &Path,
    digest: &Hash,
    task: &TaskId,
    bytes: &[u8],
    entry: &str,
    native: bool,
    limits: UnpackLimits,
) -> Result<PathBuf, UnpackError> {
    let dir = unpacked_path(cache, digest, task);
    std::fs::create_dir_all(cache).map_err(|e| io_error(cache, e))?;
    // The last start's copy (of this or an earlier digest) and temporary directories a crash
    // left: this task's only (artifact files are named by their digest alone, with no dot).
    let prefix = format!("{}.", task.to_base58());
    for e in std::fs::read_dir(cache)
        .map_err(|e| io_error(cache, e))?
        .flatten()
    {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let p = e.path();
            std::fs::remove_dir_all(&p).map_err(|e| io_error(&p, e))?;
        }
    }
    let tmp = cache.join(format!(
        "{}.{:016x}.tmp",
        dir.file_name().unwrap_or_default().to_string_lossy(),
        rand::random::<u64>()
    ));
    std::fs::create_dir(&tmp).map_err(|e| io_error(&tmp, e))?;
    let done = unpack_into(bytes, &tmp, limits)
        .and_then(|()| open_directories(&tmp))
        .and_then(|()| check_entry(&tmp, entry, native).map(drop));
    if let Err(e) = done {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&tmp, &dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(io_error(&dir, e));
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An archive entry with a raw name (no checks: this is how a hostile archive looks).
    fn raw_entry(b: &mut tar::Builder<Vec<u8>>, name: &[u8], kind: tar::EntryType, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    fn archive(entries: &[(&[u8], tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data) in entries {
            raw_entry(&mut b, name, *kind, data);
        }
        b.into_inner().unwrap()
    }

    fn unpack(bytes: &[u8], limits: UnpackLimits) -> (tempfile::TempDir, Result<(), UnpackError>) {
        let d = tempfile::tempdir().unwrap();
        let r = unpack_into(bytes, d.path(), limits);
        (d, r)
    }

    /// Whatever is in `dir`, recursively (to show nothing was written outside the rules).
    fn listing(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            out.push(e.file_name().to_string_lossy().into_owned());
            if e.file_type().unwrap().is_dir() {
                out.extend(
                    listing(&e.path())
                        .into_iter()
                        .map(|s| format!("{}/{s}", e.file_name().to_string_lossy())),
                );
            }
        }
        out.sort();
        out
    }

    use tar::EntryType::{Directory, Regular, Symlink};

    #[test]
    fn a_good_archive_unpacks_with_its_modes_fresh_at_every_start() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_path("pkg/").unwrap();
        h.set_entry_type(Directory);
        h.set_size(0);
        h.set_mode(0o700);
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
        for (name, mode, data) in [
            ("main.py", 0o600, &b"import helpers\n"[..]),
            ("pkg/helpers.py", 0o644, b"X = 1\n"),
            ("bin/run", 0o700, b"#!/bin/sh\n"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_path(name).unwrap();
            h.set_size(data.len() as u64);
            h.set_mode(mode);
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        let bytes = b.into_inner().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let digest = Hash(*blake3::hash(&bytes).as_bytes());
        let limits = UnpackLimits::default();
        let task = Hash([9; 32]);
        let dir = unpack_artifact(
            cache.path(),
            &digest,
            &task,
            &bytes,
            "main.py",
            false,
            limits,
        )
        .unwrap();
        assert_eq!(dir, unpacked_path(cache.path(), &digest, &task));
        assert_eq!(
            listing(&dir),
            ["bin", "bin/run", "main.py", "pkg", "pkg/helpers.py"]
        );
        let mode = |p: &str| std::fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("main.py"), 0o644);
        assert_eq!(mode("bin/run"), 0o755);
        assert_eq!(mode("pkg"), 0o755, "readable by a task's own user");
        assert_eq!(
            std::fs::read(dir.join("main.py")).unwrap(),
            b"import helpers\n"
        );
        // No temporary directory is left behind.
        assert_eq!(
            listing(cache.path())
                .iter()
                .filter(|n| !n.contains('/'))
                .count(),
            1
        );
        // A native entry needs its executable bit; a missing entry is named.
        assert!(matches!(
            unpack_artifact(
                cache.path(),
                &digest,
                &task,
                &bytes,
                "main.py",
                true,
                limits
            ),
            Err(UnpackError::NotExecutable(_))
        ));
        assert!(unpack_artifact(
            cache.path(),
            &digest,
            &task,
            &bytes,
            "bin/run",
            true,
            limits
        )
        .is_ok());
        let e = unpack_artifact(
            cache.path(),
            &digest,
            &task,
            &bytes,
            "nope.py",
            false,
            limits,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the archive has no regular file 'nope.py' (the task's entry)"
        );
        // A task that changed its copy (or a crash's leftovers) does not outlive a restart.
        unpack_artifact(
            cache.path(),
            &digest,
            &task,
            &bytes,
            "main.py",
            false,
            limits,
        )
        .unwrap();
        std::fs::write(dir.join("main.py"), b"tampered").unwrap();
        std::fs::create_dir(cache.path().join(format!(
            "{}.{}.d.00.tmp",
            task.to_base58(),
            digest.to_base58()
        )))
        .unwrap();
        // ... and so does the copy of the task's previous digest (an `UpdateTask`).
        let old = unpacked_path(cache.path(), &Hash([3; 32]), &task);
        std::fs::create_dir(&old).unwrap();
        unpack_artifact(
            cache.path(),
            &digest,
            &task,
            &bytes,
            "main.py",
            false,
            limits,
        )
        .unwrap();
        assert_eq!(
            std::fs::read(dir.join("main.py")).unwrap(),
            b"import helpers\n"
        );
        assert!(!old.exists(), "the previous digest's copy is removed");
        // An archive that fails leaves nothing in the cache, and another task's copy stays.
        let other = Hash([7; 32]);
        let other_task = Hash([8; 32]);
        let bad = archive(&[(b"../x", Regular, b"x")]);
        assert!(
            unpack_artifact(cache.path(), &other, &other_task, &bad, "x", false, limits).is_err()
        );
        assert!(!unpacked_path(cache.path(), &other, &other_task).exists());
        assert!(dir.exists());
        assert_eq!(
            listing(cache.path())
                .iter()
                .filter(|n| !n.contains('/'))
                .count(),
            1
        );
    }

    #[test]
    fn a_tar_entry_with_dotdot_is_refused() {
        for name in [&b"../evil.py"[..], b"a/../../evil.py", b"a/.."] {
            let (d, r) = unpack(&archive(&[(name, Regular, b"x")]), UnpackLimits::default());
            assert!(matches!(r, Err(UnpackError::DotDot(_))), "{r:?}");
            assert!(listing(d.path()).is_empty());
        }
        assert!(!std::env::temp_dir().join("evil.py").exists());
    }

    #[test]
    fn a_tar_entry_with_an_absolute_path_is_refused() {
        let (d, r) = unpack(
            &archive(&[(b"/tmp/gradual-unpack-abs", Regular, b"x")]),
            UnpackLimits::default(),
        );
        assert!(matches!(r, Err(UnpackError::Absolute(_))), "{r:?}");
        assert!(listing(d.path()).is_empty());
        assert!(!Path::new("/tmp/gradual-unpack-abs").exists());
    }

    #[test]
    fn a_tar_symlink_is_refused() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(Symlink);
        h.set_size(0);
        b.append_link(&mut h, "etc", "/etc").unwrap();
        // ... and the file written through it afterwards would have escaped.
        raw_entry(&mut b, b"etc/evil", Regular, b"x");
        let (d, r) = unpack(&b.into_inner().unwrap(), UnpackLimits::default());
        let e = r.unwrap_err();
        assert_eq!(
            e.to_string(),
            "archive entry 'etc' is a symbolic link; only regular files and directories are unpacked"
        );
        assert!(listing(d.path()).is_empty());
        for (kind, what) in [
            (tar::EntryType::Link, "hard link"),
            (tar::EntryType::Char, "character device"),
            (tar::EntryType::Block, "block device"),
            (tar::EntryType::Fifo, "fifo"),
        ] {
            let (_, r) = unpack(&archive(&[(b"x", kind, b"")]), UnpackLimits::default());
            assert!(r.unwrap_err().to_string().contains(what), "{what}");
        }
    }

    #[test]
    fn a_tar_with_too_many_entries_is_refused() {
        let names: Vec<String> = (0..4).map(|i| format!("f{i}")).collect();
        let entries: Vec<(&[u8], tar::EntryType, &[u8])> = names
            .iter()
            .map(|n| (n.as_bytes(), Regular, &b"x"[..]))
            .collect();
        let limits = UnpackLimits {
            entries: 3,
            bytes: 1 << 20,
        };
        let (d, r) = unpack(&archive(&entries), limits);
        assert!(matches!(r, Err(UnpackError::TooManyEntries(3))), "{r:?}");
        assert_eq!(
            listing(d.path()),
            ["f0", "f1", "f2"],
            "stopped at the limit"
        );
        let (_, r) = unpack(&archive(&entries[..3]), limits);
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(UnpackLimits::default().entries, 10_000);
    }

    #[test]
    fn a_tar_with_too_many_bytes_is_refused_before_writing_them() {
        let limits = UnpackLimits {
            entries: 100,
            bytes: 10,
        };
        let big = vec![b'x'; 11];
        let (d, r) = unpack(
            &archive(&[(b"a", Regular, b"12345"), (b"b", Regular, &big)]),
            limits,
        );
        assert!(matches!(r, Err(UnpackError::TooManyBytes(10))), "{r:?}");
        assert_eq!(listing(d.path()), ["a"], "the bomb itself is never created");
        // The sum counts, not each file alone.
        let (_, r) = unpack(
            &archive(&[(b"a", Regular, b"123456"), (b"b", Regular, b"123456")]),
            limits,
        );
        assert!(matches!(r, Err(UnpackError::TooManyBytes(10))), "{r:?}");
        let (_, r) = unpack(&archive(&[(b"a", Regular, b"1234567890")]), limits);
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(UnpackLimits::default().bytes, ARTIFACT_BYTES_MAX as u64);
    }

    #[test]
    fn a_tar_entry_name_that_is_not_utf8_or_twice_is_refused() {
        let (_, r) = unpack(
            &archive(&[(b"a\xff.py", Regular, b"x")]),
            UnpackLimits::default(),
        );
        assert!(matches!(r, Err(UnpackError::NotUtf8(_))), "{r:?}");
        let (_, r) = unpack(
            &archive(&[(b"a.py", Regular, b"x"), (b"./a.py", Regular, b"y")]),
            UnpackLimits::default(),
        );
        assert!(matches!(r, Err(UnpackError::Duplicate(_))), "{r:?}");
        let (_, r) = unpack(
            b"definitely not a tar archive, just some bytes",
            UnpackLimits::default(),
        );
        assert!(r.is_err());
    }

    #[test]
    fn a_directory_task_runs_its_entry_in_the_unpacked_directory() {
        use crate::supervisor::{runtime_command, Launch};
        let launch = |runtime: &str| Launch {
            artifact: PathBuf::from("/cache/D.d"),
            runtime: runtime.into(),
        };
        assert_eq!(
            runtime_command(&launch("python3@app/main.py")).unwrap(),
            (
                "python3".to_string(),
                vec!["-u".to_string(), "/cache/D.d/app/main.py".to_string()]
            )
        );
        assert_eq!(
            runtime_command(&launch("native@bin/task")).unwrap(),
            ("/cache/D.d/bin/task".to_string(), vec![])
        );
        // A file task is run as before.
        assert_eq!(
            runtime_command(&launch("node")).unwrap(),
            ("node".to_string(), vec!["/cache/D.d".to_string()])
        );
        let e = runtime_command(&launch("python3@../x.py")).unwrap_err();
        assert!(e.contains("'..'"), "{e}");
        let e = runtime_command(&launch("wasm@a.wasm")).unwrap_err();
        assert!(e.contains("runtime 'wasm' is not supported"), "{e}");
    }

    #[test]
    fn the_interpreter_is_the_label_before_the_entry() {
        assert_eq!(interpreter("python3@main.py"), "python3");
        assert_eq!(interpreter("native"), "native");
        assert_eq!(interpreter("native@bin/task"), "native");
    }
}
