//! The node↔task contract end to end with the Rust SDK: a devnet of 5 `gradual node`
//! processes running the `gradual-chain-indexer` example task (built here with cargo, as
//! it is another package), one of them submitting garbage. Every settled round pays the
//! honest nodes, the cheater is slashed, supply is conserved.
//!
//! The other devnet tests use the node's built-in Python task; this one checks what only an
//! SDK task exercises: `/node/v1/blocks` with transactions, `/node/v1/slot` as the latest
//! block slot, percent-encoded kv keys, and the bearer token on health checks.

use gradual_devnet::{render_summary, Devnet, DevnetConfig, TaskChoice};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_gradual");
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// Build `gradual-chain-indexer` into the target directory `gradual` was built in (a no-op
/// when it is up to date) and return its path.
fn build_chain_indexer() -> Result<PathBuf, String> {
    let bin = Path::new(BIN);
    let profile_dir = bin.parent().ok_or("gradual binary has no directory")?;
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "build",
        "-p",
        "gradual-task-chain-indexer",
        "--bin",
        "gradual-chain-indexer",
        "--message-format=json-render-diagnostics",
    ]);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    if let Some(target_dir) = profile_dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target_dir);
    }
    let out_file = tempfile::tempfile().map_err(|e| e.to_string())?;
    let mut child = cmd
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(out_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() > BUILD_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "cargo build -p gradual-task-chain-indexer took over {BUILD_TIMEOUT:?}"
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => return Err(format!("waiting for cargo: {e}")),
        }
    };
    if !status.success() {
        return Err(format!(
            "cargo build -p gradual-task-chain-indexer failed: {status}"
        ));
    }
    use std::io::{Read, Seek};
    let mut out = String::new();
    let mut f = out_file;
    f.rewind().map_err(|e| e.to_string())?;
    f.read_to_string(&mut out).map_err(|e| e.to_string())?;
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| m["target"]["name"] == "gradual-chain-indexer")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo did not report the gradual-chain-indexer executable".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_runs_the_chain_indexer_task() {
    let exe = tokio::task::spawn_blocking(build_chain_indexer)
        .await
        .expect("build thread")
        .expect("the chain-indexer builds");
    let dir = tempfile::tempdir().unwrap();
    // A root node runs each task as its own user, which must be able to reach its files.
    let traversable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o711);
    std::fs::set_permissions(dir.path(), traversable).unwrap();
    let mut cfg = DevnetConfig::new(dir.path().join("net"), BIN.into());
    // v2 vote window: at 40 ms slots the audit window needs 150 slots (6 s).
    cfg.set_timing(40, 175);
    cfg.task = TaskChoice::Path(exe);
    cfg.adversary = Some("garbage".into());
    let mut net = Devnet::start(cfg).await.expect("devnet starts");
    let started = Instant::now();
    // Never panic with the nodes running: stop them first, then judge.
    let mut problem = None;
    while net.settled() < 4 {
        if started.elapsed() > Duration::from_secs(120) {
            problem = Some(format!("only {} rounds settled in 120 s", net.settled()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        let _ = net.poll().await;
        if let Some(i) = (0..net.nodes.len()).find(|i| !net.node_alive(*i)) {
            problem = Some(format!("node {} exited; see its node.log", i + 1));
            break;
        }
    }
    net.stop_nodes().await;
    let summary = net.summary().await;
    net.shutdown().await;
    if let Some(p) = problem {
        panic!("{p}; logs in {:?}", dir.keep());
    }
    let summary = summary.expect("summary");
    println!("{}", render_summary(&net, &summary));
    assert!(summary.ok, "{:#?}", summary.failures);
    assert!(summary.settled_rounds >= 4);
    assert!(
        summary.adversary_slashes >= 1,
        "the garbage node was never slashed"
    );
    assert!(summary.supply_conserved);
}
