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

/// The last bytes a task wrote to one stream (its stderr): why it failed, in its words.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    bytes: Vec<u8>,
}

impl Tail {
    /// Bytes kept.
    const MAX: usize = 2048;

    pub(crate) fn push(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
        if self.bytes.len() > Self::MAX {
            self.bytes.drain(..self.bytes.len() - Self::MAX);
        }
    }

    /// The last `n` non-empty lines, joined with " | " (at most 600 characters). The
    /// launcher's own notes (`[sandbox] landlock ABI ...`) are left out; its failures
    /// (`[sandbox] cannot ...`) are kept.
    pub(crate) fn last_lines(&self, n: usize) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .filter(|l| !l.starts_with("[sandbox]") || l.contains("cannot"))
            .collect();
        let joined = lines[lines.len().saturating_sub(n)..].join(" | ");
        let chars = joined.chars().count();
        if chars > 600 {
            joined.chars().skip(chars - 600).collect()
        } else {
            joined
        }
    }
}

/// Copy the task's output into its log file until it closes (and into `tail`, if given).
pub(super) async fn pump<R: tokio::io::AsyncRead + Unpin>(
    mut r: R,
    log: Arc<LogFile>,
    tail: Option<Arc<Mutex<Tail>>>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                log.write(&buf[..n]);
                if let Some(Ok(mut t)) = tail.as_ref().map(|t| t.lock()) {
                    t.push(&buf[..n]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Tail;

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let mut t = Tail::default();
        assert_eq!(t.last_lines(3), "");
        t.push(b"one\n\ntwo\nthree\n");
        t.push(b"python3: can't open file '/x/main.py': [Errno 2] No such file or directory\n");
        assert_eq!(
            t.last_lines(2),
            "three | python3: can't open file '/x/main.py': [Errno 2] No such file or directory"
        );
        t.push(b"[sandbox] landlock ABI 7: files on\n");
        assert!(t.last_lines(1).ends_with("No such file or directory"));
        t.push(b"[sandbox] cannot start the task: cannot run 'x': No such file\n");
        assert_eq!(
            t.last_lines(1),
            "[sandbox] cannot start the task: cannot run 'x': No such file"
        );
        t.push(&[b'a'; 5000]);
        assert_eq!(t.last_lines(1).len(), 600);
    }
}
