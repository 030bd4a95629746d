//! Issue #10: a task's code is a stranger's. An adversarial task (the built-in demo task with
//! an attack run first in each life) tries to read the node's key and another task's data,
//! write outside its directory, read the node's environment, connect to a port it did not
//! declare, fork without bound and exhaust memory. Every attempt fails, the node and the
//! other task keep running, the task's log says what it tried, and `/info` shows which
//! protections are on.

mod common;

use gradual_client::write_keypair_file;
use gradual_devnet::BUILTIN_TASK_PY;
use gradual_types::Keypair;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs before the demo task's own code, in every life of the process.
const ATTACK_PY: &str = r#"
import os as _os, socket as _socket, time as _time

import errno as _errno

def _attempt(name, fn):
    try:
        fn()
        print(f"[attack] {name}: SUCCEEDED", flush=True)
    except OSError as e:
        # Only a refusal counts: a missing file or a refused connection prove nothing.
        refused = e.errno in (_errno.EACCES, _errno.EPERM, _errno.EAGAIN)
        word = "denied" if refused else "failed"
        print(f"[attack] {name}: {word} ({type(e).__name__})", flush=True)

def _connect():
    _socket.create_connection(("127.0.0.1", int(_os.environ["ATTACK_PORT"])), timeout=2).close()

def _fork_bomb():
    pids = []
    try:
        for _ in range(5000):
            pid = _os.fork()
            if pid == 0:
                _time.sleep(30)
                _os._exit(0)
            pids.append(pid)
    finally:
        for pid in pids:
            try:
                _os.kill(pid, 9)
                _os.waitpid(pid, 0)
            except OSError:
                pass
        print(f"[attack] fork bomb: {len(pids)} processes started", flush=True)

_first_life = not _os.path.exists(_os.path.join(_os.environ["GRADUAL_DATA_DIR"], "lives"))
_attempt("read the node's key", lambda: open(_os.environ["ATTACK_KEY"]).read())
_attempt("read another task's data", lambda: open(_os.environ["ATTACK_OTHER"]).read())
_attempt("read the node's store", lambda: open(_os.environ["ATTACK_STORE"], "rb").read(16))
_attempt("read another task's log", lambda: open(_os.environ["ATTACK_LOG"]).read())
_attempt("write outside its directory", lambda: open(_os.environ["ATTACK_OUTSIDE"], "w").write("x"))
_attempt("read the node's environment", lambda: open(f"/proc/{_os.getppid()}/environ", "rb").read())
_attempt("connect to an undeclared port", _connect)
_attempt("fork without bound", _fork_bomb)
if _first_life and _os.fork() == 0:
    _hog = []
    while True:
        _hog.append(b"x" * (32 << 20))
        _time.sleep(0.02)
"#;

/// A native task (a script the kernel runs) reads the node's store: the first version let a
/// native task read everything next to its artifact, the node's whole data directory.
const NATIVE_ATTACK_SH: &str = r#"#!/bin/sh
if cat "$ATTACK_STORE" > /dev/null 2>&1; then
  echo "[attack] native task reads the node's store: SUCCEEDED"
else
  echo "[attack] native task reads the node's store: denied"
fi
exec sleep 600
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adversarial_task_cannot_touch_the_operator() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // Tasks of their own users (a root node) must be able to pass through to their files.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let (v, client, manager) = common::chain_with_manager(dir.path()).await;
    let attack = format!("{ATTACK_PY}\n{BUILTIN_TASK_PY}");
    let good = common::create_python_task(&client, &manager, 1, BUILTIN_TASK_PY.as_bytes()).await;
    let bad = common::create_python_task(&client, &manager, 2, attack.as_bytes()).await;
    let native =
        common::create_task(&client, &manager, 3, NATIVE_ATTACK_SH.as_bytes(), "native").await;
    let node = Keypair::generate();
    let ndir = dir.path().join("node");
    std::fs::create_dir_all(&ndir).unwrap();
    let key = ndir.join("key.json");
    write_keypair_file(&key, &node, false).unwrap();
    let data = ndir.join("node-data");
    // A port the task did not declare, with a listener on it.
    let undeclared = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = data.join("node.redb").display().to_string();
    // Something of the other task's that surely exists when the attack runs.
    let other_secret = data
        .join("tasks")
        .join(good.to_base58())
        .join("data/secret");
    std::fs::create_dir_all(other_secret.parent().unwrap()).unwrap();
    std::fs::write(&other_secret, "the other task's data").unwrap();
    let good_log = data.join("logs").join(format!("{good}.log"));
    let good_log = good_log.display();
    let config = format!(
        "keypair = \"key.json\"\nrpc_url = \"{}\"\nlisten = \"127.0.0.1:{port}\"\n\n\
         [limits]\nrestart_backoff_ms = 100\ncall_timeout_ms = 1000\nhealth_interval_ms = 300\n\n\
         [[task]]\nid = \"{good}\"\n\n\
         [[task]]\nid = \"{bad}\"\n\
         env = {{ ATTACK_KEY = \"{}\", ATTACK_OTHER = \"{}\", ATTACK_OUTSIDE = \"{}\", ATTACK_PORT = \"{}\", ATTACK_STORE = \"{store}\", ATTACK_LOG = \"{good_log}\" }}\n\
         [task.limits]\nmemory_mb = 1024\nmax_processes = 64\n\n\
         [[task]]\nid = \"{native}\"\nenv = {{ ATTACK_STORE = \"{store}\" }}\n",
        v.url(),
        key.display(),
        other_secret.display(),
        data.join("evil").display(),
        undeclared.local_addr().unwrap().port(),
    );
    let mut child = common::start_node(&ndir, &config);
    let bad_log = data.join("logs").join(format!("{bad}.log"));
    let native_log = data.join("logs").join(format!("{native}.log"));
    let good_log = data.join("logs").join(format!("{good}.log"));
    let attempts = [
        "read the node's key",
        "read another task's data",
        "read the node's store",
        "read another task's log",
        "write outside its directory",
        "read the node's environment",
        "connect to an undeclared port",
        "fork without bound",
    ];
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut result = Err("not checked yet".to_string());
    let mut info = serde_json::Value::Null;
    while started.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if child.try_wait().unwrap().is_some() {
            result = Err("the node exited".into());
            break;
        }
        let text = std::fs::read_to_string(&bad_log).unwrap_or_default();
        let good_text = std::fs::read_to_string(&good_log).unwrap_or_default();
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/info"))
            .send()
            .await
        {
            info = r.json().await.unwrap_or_default();
        }
        let denied = attempts
            .iter()
            .all(|a| text.contains(&format!("[attack] {a}: denied")));
        let native_text = std::fs::read_to_string(&native_log).unwrap_or_default();
        result = if text.contains("SUCCEEDED") || native_text.contains("SUCCEEDED") {
            Err("an attack succeeded".into())
        } else if !denied {
            Err("not every attempt has been denied yet".into())
        } else if !native_text.contains("[attack] native task reads the node's store: denied") {
            Err("the native task has not tried yet".into())
        } else if !text.contains("of resident memory, over its limit of 1024 MiB; killed") {
            Err("the memory hog was not killed yet".into())
        } else if text.matches("task is healthy").count() < 2 {
            Err("the task did not come back after the kill".into())
        } else if !good_text.contains("task is healthy") {
            Err("the other task is not running".into())
        } else {
            Ok(())
        };
        if result.is_ok() {
            break;
        }
    }
    common::stop_node(&mut child);
    v.shutdown().await.unwrap();
    let bad_text = std::fs::read_to_string(&bad_log).unwrap_or_default();
    if let Err(e) = result {
        panic!(
            "{e}\n--- bad task log ---\n{bad_text}\n--- node log ---\n{}",
            std::fs::read_to_string(ndir.join("node.log")).unwrap_or_default()
        );
    }
    eprintln!("--- adversarial task log ---\n{bad_text}\n--- /info ---\n{info}");
    assert!(!data.join("evil").exists());
    // Processes started by the fork bomb stopped at the limit, far below its 5000.
    let forks: Vec<u64> = bad_text
        .lines()
        .filter_map(|l| l.strip_prefix("[attack] fork bomb: "))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(
        !forks.is_empty() && forks.iter().all(|n| *n < 64),
        "{forks:?}"
    );
    let c = &info["confinement"];
    assert_eq!(c["enabled"], true, "{info}");
    assert_eq!(c["filesystem"], true, "{info}");
    assert_eq!(c["tcp"], true, "{info}");
    let root = nix_root();
    assert_eq!(c["separate_user"], root, "{info}");
}

fn nix_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
