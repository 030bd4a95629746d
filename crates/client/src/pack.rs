//! A task shipped as a directory (`task_executable: app/` with `task_entry`): packed into a
//! deterministic tar archive, which is uploaded as the task's artifact (its digest is the
//! blake3 of the archive's bytes). The same files give the same bytes, whatever their
//! times, owners or the order the file system lists them in: entries sorted by name, mtime
//! 0, uid/gid 0, no user or group names, mode 0755 for a file with any executable bit (and
//! for directories), else 0644. Only regular files and directories are packed; anything
//! else (a symbolic link, a device, a fifo, a socket) is an error naming it, and nothing is
//! skipped. Nodes unpack it with the same rules ([`crate::unpack`]). `gradual task create`
//! calls [`pack_dir`].

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Why a directory is not packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("cannot read '{path}': {error}")]
    Io { path: String, error: String },
    #[error("task_executable '{0}' is not a directory")]
    NotADirectory(String),
    #[error("task_executable '{0}' holds no file")]
    Empty(String),
    #[error("'{0}' has a name that is not UTF-8; nodes refuse such names, rename it")]
    NotUtf8(String),
    #[error("'{path}' is {what}: a task directory may hold only regular files and directories (copy the file it points to, or remove it)")]
    NotFileOrDir { path: String, what: &'static str },
    #[error("the task directory packs to more than {max} bytes (at '{path}'), the most an artifact may have")]
    TooLarge { path: String, max: usize },
    #[error("the task directory holds more than {max} files and directories (at '{path}'), the most nodes unpack")]
    TooManyEntries { path: String, max: usize },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PackError + '_ {
    move |e| PackError::Io {
        path: path.display().to_string(),
        error: e.to_string(),
    }
}

/// What was packed.
#[derive(Debug)]
pub struct Packed {
    pub bytes: Vec<u8>,
    pub files: usize,
    pub dirs: usize,
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Pack the directory `dir` into a tar archive of at most `max` bytes.
pub fn pack_dir(dir: &Path, max: usize) -> Result<Packed, PackError> {
    let meta = std::fs::symlink_metadata(dir).map_err(io(dir))?;
    if !meta.is_dir() {
        return Err(PackError::NotADirectory(dir.display().to_string()));
    }
    let mut p = Packer {
        builder: tar::Builder::new(Vec::new()),
        max,
        files: 0,
        dirs: 0,
    };
    p.walk(dir, "")?;
    if p.files == 0 {
        return Err(PackError::Empty(dir.display().to_string()));
    }
    let bytes = p.builder.into_inner().map_err(io(dir))?;
    if bytes.len() > max {
        return Err(PackError::TooLarge {
            path: dir.display().to_string(),
            max,
        });
    }
    Ok(Packed {
        bytes,
        files: p.files,
        dirs: p.dirs,
    })
}

struct Packer {
    builder: tar::Builder<Vec<u8>>,
    max: usize,
    files: usize,
    dirs: usize,
}

impl Packer {
    fn check_size(&self, path: &Path, adding: u64) -> Result<(), PackError> {
        let now = self.builder.get_ref().len() as u64;
        if now.saturating_add(adding) > self.max as u64 {
            return Err(PackError::TooLarge {
                path: path.display().to_string(),
                max: self.max,
            });
        }
        Ok(())
    }

    /// Pack the contents of `dir`, whose path in the archive is `prefix` (empty or ending
    /// in `/`).
    fn walk(&mut self, dir: &Path, prefix: &str) -> Result<(), PackError> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(dir).map_err(io(dir))? {
            let e = e.map_err(io(dir))?;
            let name = e.file_name();
            let Some(name) = name.to_str() else {
                return Err(PackError::NotUtf8(e.path().display().to_string()));
            };
            names.push(name.to_string());
        }
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let in_archive = format!("{prefix}{name}");
            if self.files + self.dirs >= gradual_types::constants::TASK_ARCHIVE_ENTRIES_MAX {
                return Err(PackError::TooManyEntries {
                    path: path.display().to_string(),
                    max: gradual_types::constants::TASK_ARCHIVE_ENTRIES_MAX,
                });
            }
            let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
            let kind = meta.file_type();
            if kind.is_dir() {
                let mut h = header(tar::EntryType::Directory, 0, 0o755);
                self.builder
                    .append_data(&mut h, format!("{in_archive}/"), std::io::empty())
                    .map_err(io(&path))?;
                self.dirs += 1;
                self.walk(&path, &format!("{in_archive}/"))?;
            } else if kind.is_file() {
                self.check_size(&path, meta.len())?;
                let data = std::fs::read(&path).map_err(io(&path))?;
                self.check_size(&path, data.len() as u64)?;
                let mode = if meta.permissions().mode() & 0o111 != 0 {
                    0o755
                } else {
                    0o644
                };
                let mut h = header(tar::EntryType::Regular, data.len() as u64, mode);
                self.builder
                    .append_data(&mut h, &in_archive, data.as_slice())
                    .map_err(io(&path))?;
                self.files += 1;
            } else {
                use std::os::unix::fs::FileTypeExt;
                let what = if kind.is_symlink() {
                    "a symbolic link"
                } else if kind.is_fifo() {
                    "a fifo"
                } else if kind.is_socket() {
                    "a socket"
                } else if kind.is_block_device() || kind.is_char_device() {
                    "a device"
                } else {
                    "not a regular file"
                };
                return Err(PackError::NotFileOrDir {
                    path: path.display().to_string(),
                    what,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    fn digest(bytes: &[u8]) -> String {
        blake3::hash(bytes).to_hex().to_string()
    }

    fn make(dir: &Path) {
        std::fs::create_dir_all(dir.join("lib/sub")).unwrap();
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        std::fs::write(dir.join("main.py"), "import helpers\n").unwrap();
        std::fs::write(dir.join("helpers.py"), "X = 1\n").unwrap();
        std::fs::write(dir.join("lib/sub/data.txt"), "data").unwrap();
        std::fs::write(dir.join("run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
    }

    fn set_mtime(path: &Path, secs: u64) {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    /// A directory nodes would refuse to unpack (too many entries) is refused when packed,
    /// not after the task is created.
    #[test]
    fn a_directory_with_more_entries_than_nodes_unpack_is_refused() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..=gradual_types::constants::TASK_ARCHIVE_ENTRIES_MAX {
            std::fs::write(d.path().join(format!("f{i}")), "").unwrap();
        }
        assert!(matches!(
            pack_dir(d.path(), 64 << 20),
            Err(PackError::TooManyEntries { max, .. })
                if max == gradual_types::constants::TASK_ARCHIVE_ENTRIES_MAX
        ));
    }

    #[test]
    fn packing_is_deterministic_whatever_the_times() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        make(a.path());
        // The same files, written in another order, at other times, other modes.
        std::fs::create_dir_all(b.path().join("empty")).unwrap();
        std::fs::write(b.path().join("run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            b.path().join("run.sh"),
            std::fs::Permissions::from_mode(0o751),
        )
        .unwrap();
        std::fs::create_dir_all(b.path().join("lib/sub")).unwrap();
        std::fs::write(b.path().join("lib/sub/data.txt"), "data").unwrap();
        std::fs::write(b.path().join("helpers.py"), "X = 1\n").unwrap();
        std::fs::write(b.path().join("main.py"), "import helpers\n").unwrap();
        std::fs::set_permissions(
            b.path().join("main.py"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        set_mtime(&b.path().join("main.py"), 1_000_000);
        set_mtime(&b.path().join("lib/sub/data.txt"), 2_000_000);
        let pa = pack_dir(a.path(), MAX).unwrap();
        let pb = pack_dir(b.path(), MAX).unwrap();
        assert_eq!(digest(&pa.bytes), digest(&pb.bytes));
        assert_eq!(
            digest(&pa.bytes),
            digest(&pack_dir(a.path(), MAX).unwrap().bytes)
        );
        assert_eq!((pa.files, pa.dirs), (4, 3));
        // What is inside: sorted, with normalised headers.
        let mut ar = tar::Archive::new(pa.bytes.as_slice());
        let got: Vec<(String, u32, u64, u64)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    h.uid().unwrap() + h.gid().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("empty/", 0o755, 0, 0),
                ("helpers.py", 0o644, 0, 0),
                ("lib/", 0o755, 0, 0),
                ("lib/sub/", 0o755, 0, 0),
                ("lib/sub/data.txt", 0o644, 0, 0),
                ("main.py", 0o644, 0, 0),
                ("run.sh", 0o755, 0, 0),
            ]
            .map(|(p, m, t, u)| (p.to_string(), m, t, u))
        );
        // A changed byte is another artifact.
        std::fs::write(b.path().join("helpers.py"), "X = 2\n").unwrap();
        assert_ne!(
            digest(&pa.bytes),
            digest(&pack_dir(b.path(), MAX).unwrap().bytes)
        );
    }

    #[test]
    fn a_symlink_in_a_task_directory_is_refused() {
        let a = tempfile::tempdir().unwrap();
        make(a.path());
        std::os::unix::fs::symlink("/etc/passwd", a.path().join("lib/passwd")).unwrap();
        let e = pack_dir(a.path(), MAX).unwrap_err().to_string();
        assert!(
            e.contains("lib/passwd' is a symbolic link: a task directory may hold only regular files and directories"),
            "{e}"
        );
    }

    #[test]
    fn a_task_directory_too_large_or_empty_is_refused() {
        let a = tempfile::tempdir().unwrap();
        make(a.path());
        std::fs::write(a.path().join("big"), vec![0u8; 5000]).unwrap();
        let e = pack_dir(a.path(), 4096).unwrap_err().to_string();
        assert!(e.contains("packs to more than 4096 bytes"), "{e}");
        assert!(e.contains("/big')"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        std::fs::create_dir(empty.path().join("d")).unwrap();
        let e = pack_dir(empty.path(), MAX).unwrap_err().to_string();
        assert!(e.contains("holds no file"), "{e}");
    }
}
