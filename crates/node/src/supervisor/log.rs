//! A task's log file: its stdout/stderr and the supervisor's notes, rotated by size.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncReadExt;

/// A log file rotated by size: `<name>.log`, `<name>.log.1`, ... `<name>.log.<keep>`.
pub struct LogFile {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    file: Mutex<Option<(std::fs::File, u64)>>,
}

impl LogFile {
    pub fn new(path: PathBuf, max_bytes: u64, keep: u32) -> LogFile {
        LogFile {
            path,
            max_bytes,
            keep,
            file: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append bytes (a failure to log is reported once on stderr, never fatal).
    pub fn write(&self, bytes: &[u8]) {
        let Ok(mut guard) = self.file.lock() else {
            return;
        };
        if guard
            .as_ref()
            .is_some_and(|(_, len)| len + bytes.len() as u64 > self.max_bytes)
        {
            *guard = None;
            for i in (1..self.keep).rev() {
                let _ = std::fs::rename(self.rotated(i), self.rotated(i + 1));
            }
            let _ = std::fs::rename(&self.path, self.rotated(1));
        }
        if guard.is_none() {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
            {
                Ok(f) => {
                    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                    *guard = Some((f, len));
                }
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot open task log file");
                    return;
                }
            }
        }
        if let Some((f, len)) = guard.as_mut() {
            if f.write_all(bytes).is_ok() {
                *len += bytes.len() as u64;
            }
        }
    }

    /// A line from the node itself, stamped.
    pub fn note(&self, msg: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        self.write(
            format!(
                "[node {}.{:03}] {msg}\n",
                now.as_secs(),
                now.subsec_millis()
            )
            .as_bytes(),
        );
    }

    fn rotated(&self, i: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{i}"));
        PathBuf::from(p)
    }
}

/// Copy the task's output into its log file until it closes.
pub(super) async fn pump<R: tokio::io::AsyncRead + Unpin>(mut r: R, log: Arc<LogFile>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => log.write(&buf[..n]),
        }
    }
}
