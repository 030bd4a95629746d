//! How a node runs a task's artifact: `Executable.runtime` (SPEC §2).
//!
//! A task is one file or a directory. For a file, `runtime` is an interpreter label
//! (`"native"`, `"python3"`, `"node"`, ...). For a directory the artifact is a tar archive
//! of it and `runtime` is `<interpreter>@<entry>`, e.g. `python3@main.py` or
//! `native@bin/task`: the node unpacks the archive and runs `<interpreter> <dir>/<entry>`
//! (the entry itself for `native`). [`parse`] is the one place that reads this string; the
//! CLI (task.yml's `task_entry`), the ledger ([`crate::TaskParams::validate`]) and the node
//! all call it, so an entry the node could not use safely never reaches the chain.

use crate::constants::{RUNTIME_BYTES_MAX, TASK_ENTRY_BYTES_MAX};

/// What separates the interpreter from the entry.
pub const ENTRY_SEPARATOR: char = '@';

/// A parsed `Executable.runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime<'a> {
    /// The interpreter label (`native`, `python3`, `node`, `sh`, ...).
    pub interpreter: &'a str,
    /// For an archive: the path of the file to run inside the unpacked directory, relative,
    /// `/`-separated, with no empty, `.` or `..` component.
    pub entry: Option<&'a str>,
}

/// Why a runtime string or an entry path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    #[error("the interpreter label is {got} bytes, the most is {max}")]
    InterpreterTooLong { got: usize, max: usize },
    #[error("the interpreter label before '@' is empty")]
    NoInterpreter,
    #[error("the entry is {got} bytes, the most is {max}")]
    EntryTooLong { got: usize, max: usize },
    #[error("the entry is empty")]
    EmptyEntry,
    #[error("the entry '{0}' is absolute; give a path inside the directory, e.g. main.py")]
    AbsoluteEntry(String),
    #[error("the entry '{0}' has an empty, '.' or '..' component; give a plain path inside the directory")]
    BadComponent(String),
    #[error("the entry has a NUL or control character")]
    ControlCharacter,
}

/// Check an entry path: relative, `/`-separated components that are not empty, `.` or
/// `..`, no control characters, at most [`TASK_ENTRY_BYTES_MAX`] bytes.
pub fn check_entry(entry: &str) -> Result<(), RuntimeError> {
    if entry.len() > TASK_ENTRY_BYTES_MAX {
        return Err(RuntimeError::EntryTooLong {
            got: entry.len(),
            max: TASK_ENTRY_BYTES_MAX,
        });
    }
    if entry.is_empty() {
        return Err(RuntimeError::EmptyEntry);
    }
    if entry.chars().any(char::is_control) {
        return Err(RuntimeError::ControlCharacter);
    }
    if entry.starts_with('/') {
        return Err(RuntimeError::AbsoluteEntry(entry.to_string()));
    }
    if entry
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(RuntimeError::BadComponent(entry.to_string()));
    }
    Ok(())
}

/// Read `Executable.runtime`: `interpreter` or `interpreter@entry` (split at the first `@`).
pub fn parse(runtime: &str) -> Result<Runtime<'_>, RuntimeError> {
    let (interpreter, entry) = match runtime.split_once(ENTRY_SEPARATOR) {
        Some((i, e)) => (i, Some(e)),
        None => (runtime, None),
    };
    if interpreter.len() > RUNTIME_BYTES_MAX {
        return Err(RuntimeError::InterpreterTooLong {
            got: interpreter.len(),
            max: RUNTIME_BYTES_MAX,
        });
    }
    if let Some(e) = entry {
        if interpreter.is_empty() {
            return Err(RuntimeError::NoInterpreter);
        }
        check_entry(e)?;
    }
    Ok(Runtime { interpreter, entry })
}

/// The runtime string of an archive: `interpreter@entry`, checked by [`parse`].
pub fn with_entry(interpreter: &str, entry: &str) -> Result<String, RuntimeError> {
    let s = format!("{interpreter}{ENTRY_SEPARATOR}{entry}");
    parse(&s)?;
    Ok(s)
}

/// The interpreter a file runs with, from its name's extension: `.js`/`.mjs`/`.cjs` → `node`,
/// `.py` → `python3`, `.wasm` → `wasm`, `.sh` → `sh`, anything else `native`. The one rule for
/// the CLI's `task.yml` and `gradual devnet --task`.
pub fn interpreter_for(file_name: &str) -> &'static str {
    match file_name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") | Some("mjs") | Some("cjs") => "node",
        Some("py") => "python3",
        Some("wasm") => "wasm",
        Some("sh") => "sh",
        _ => "native",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_label_has_no_entry() {
        for s in ["native", "python3", "node", "", "wasm"] {
            assert_eq!(
                parse(s),
                Ok(Runtime {
                    interpreter: s,
                    entry: None
                })
            );
        }
        // The old rule for a label is kept: at most 32 bytes.
        assert_eq!(
            parse(&"x".repeat(33)),
            Err(RuntimeError::InterpreterTooLong { got: 33, max: 32 })
        );
    }

    #[test]
    fn good_entries_are_read() {
        for (s, i, e) in [
            ("python3@main.py", "python3", "main.py"),
            ("native@bin/task", "native", "bin/task"),
            ("node@src/app/index.js", "node", "src/app/index.js"),
            ("python3@a@b.py", "python3", "a@b.py"),
            ("python3@.hidden/x.py", "python3", ".hidden/x.py"),
            ("python3@..x/y...py", "python3", "..x/y...py"),
        ] {
            assert_eq!(
                parse(s),
                Ok(Runtime {
                    interpreter: i,
                    entry: Some(e)
                }),
                "{s}"
            );
        }
        let long = format!("python3@{}", "a".repeat(TASK_ENTRY_BYTES_MAX));
        assert!(parse(&long).is_ok());
        assert_eq!(with_entry("node", "a/b.js").unwrap(), "node@a/b.js");
    }

    #[test]
    fn bad_entries_are_refused() {
        let bad = |s: &str| parse(s).unwrap_err();
        assert_eq!(bad("python3@"), RuntimeError::EmptyEntry);
        assert_eq!(bad("@main.py"), RuntimeError::NoInterpreter);
        assert!(matches!(
            bad("python3@/etc/passwd"),
            RuntimeError::AbsoluteEntry(_)
        ));
        for s in [
            "python3@../x.py",
            "python3@a/../../x.py",
            "python3@a/..",
            "python3@./main.py",
            "python3@a//b.py",
            "python3@dir/",
            "python3@.",
        ] {
            assert!(matches!(bad(s), RuntimeError::BadComponent(_)), "{s}");
        }
        assert_eq!(bad("python3@a\0b"), RuntimeError::ControlCharacter);
        assert_eq!(bad("python3@a\nb"), RuntimeError::ControlCharacter);
        let long = format!("python3@{}", "a".repeat(TASK_ENTRY_BYTES_MAX + 1));
        assert_eq!(
            bad(&long),
            RuntimeError::EntryTooLong {
                got: TASK_ENTRY_BYTES_MAX + 1,
                max: TASK_ENTRY_BYTES_MAX
            }
        );
        let long = format!("{}@main.py", "p".repeat(33));
        assert!(matches!(
            bad(&long),
            RuntimeError::InterpreterTooLong { .. }
        ));
        assert!(with_entry("python3", "../x").is_err());
    }
}
