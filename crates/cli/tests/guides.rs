//! The guides, run word for word. Each guide marks its walk-through with
//! `<!-- walk:begin -->` and `<!-- walk:end -->`; the ```sh blocks between them are joined, in
//! order, into one bash script (`set -euo pipefail`) and run in an empty directory laid out like
//! the repository (its `examples/` copied in), with `gradual` on `PATH` and `HOME` inside the
//! directory (so `gradual keygen` never touches the real `~/.config/gradual`). A command
//! that stops working, a flag that changes, an output the guide parses with `awk` — each fails
//! here, with the script's output and the logs it wrote.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gradual");

/// The walk-throughs use the default ports (8899, 8080): one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The ```sh blocks between the walk markers of `doc`, in order.
fn walk_script(doc: &str) -> Result<String, String> {
    let begin = doc
        .find("<!-- walk:begin -->")
        .ok_or("no <!-- walk:begin --> marker")?;
    let end = doc[begin..]
        .find("<!-- walk:end -->")
        .ok_or("no <!-- walk:end --> marker after walk:begin")?;
    let mut script = String::new();
    let mut in_sh = false;
    for line in doc[begin..begin + end].lines() {
        match (in_sh, line.trim_end()) {
            (false, "```sh") => in_sh = true,
            (true, "```") => in_sh = false,
            (true, l) => {
                script.push_str(l);
                script.push('\n');
            }
            _ => {}
        }
    }
    if in_sh {
        return Err("a ```sh block in the walk-through is not closed".into());
    }
    if script.trim().is_empty() {
        return Err("the walk-through has no ```sh block".into());
    }
    Ok(script)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Every `*.log` file under `dir` (the guide sends the validator's and node's output there).
fn logs(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            logs(&p, out);
        } else if p.extension().is_some_and(|x| x == "log") {
            out.push(p);
        }
    }
}

/// Run the walk-through of `guide` (a path under the repository) within `limit`.
fn run_walk(guide: &str, limit: Duration) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let doc = std::fs::read_to_string(repo_root().join(guide)).unwrap();
    let script = walk_script(&doc).unwrap_or_else(|e| panic!("{guide}: {e}"));
    let root = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("examples"), &root.path().join("examples"));
    let home = root.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let script_path = root.path().join("walk.sh");
    std::fs::write(&script_path, format!("set -euo pipefail\nset -x\n{script}")).unwrap();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .arg(&script_path)
        .current_dir(root.path())
        .env("PATH", path)
        .env("HOME", &home)
        .env_remove("GRADUAL_URL")
        .env_remove("GRADUAL_KEYPAIR")
        .env_remove("GRADUAL_ADVERSARY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: the validator and node it starts in the background are
        // stopped with it whatever happens.
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > limit {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Whatever the script left running (it may have stopped it itself already).
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let ok = status.is_some_and(|s| s.success());
    if !ok {
        let mut found = Vec::new();
        logs(root.path(), &mut found);
        let mut report = format!(
            "{guide}: the walk-through {} after {:?}\n--- stdout\n{out}\n--- stderr (commands as run)\n{err}",
            match status {
                Some(s) => format!("failed ({s})"),
                None => "did not finish".to_string(),
            },
            start.elapsed()
        );
        for l in found {
            report.push_str(&format!("\n--- {} (tail)\n{}", l.display(), tail(&l, 40)));
        }
        panic!("{report}");
    }
    eprintln!(
        "{guide}: walk-through passed in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn walk_script_takes_only_the_sh_blocks_between_the_markers() {
    let doc = "```sh\nnot me\n```\n<!-- walk:begin -->\ntext\n```sh\na\nb\n```\n```toml\nx\n```\n```sh\nc\n```\n<!-- walk:end -->\n```sh\nnor me\n```\n";
    assert_eq!(walk_script(doc).unwrap(), "a\nb\nc\n");
    assert!(walk_script("```sh\na\n```").is_err());
    assert!(walk_script("<!-- walk:begin -->\n```sh\na\n<!-- walk:end -->").is_err());
}

#[test]
fn operator_guide_walk_through_runs_word_for_word() {
    run_walk("docs/operator-guide.md", Duration::from_secs(420));
}

/// Scaffold a task outside the repository, run its unit test, build it for release and run a
/// devnet of it: a cold build of the new project's dependencies (a few minutes on 2 cores).
#[test]
fn task_developer_guide_walk_through_runs_word_for_word() {
    run_walk("docs/task-developer-guide.md", Duration::from_secs(1200));
}
