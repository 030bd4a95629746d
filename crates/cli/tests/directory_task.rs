//! Issue #12: a task may be a directory with its own modules and an entry point. A Python
//! task whose entry (`main.py`) imports its code from a module next to it (`helpers.py`, the
//! example task of examples/python-task) is created with `gradual task create` from a
//! task.yml naming the directory and `task_entry`; a `gradual node` fetches the archive,
//! unpacks it, runs `python3 -u <unpacked>/main.py`, and submits proofs. The unpacked
//! directory is read-only for the task where the kernel confines it.

mod common;

use common::BIN;
use gradual_client::write_keypair_file;
use gradual_types::task_id;
use std::time::{Duration, Instant};

const HELPERS_PY: &str = include_str!("../../../examples/python-task/task.py");

/// The entry: all the task's code is in `helpers.py`, found next to this file.
const MAIN_PY: &str = r#"import os
import helpers

here = os.path.dirname(os.path.abspath(__file__))
try:
    with open(os.path.join(here, "written-by-the-task"), "w") as f:
        f.write("x")
    helpers.log("entry directory: writable")
except OSError as e:
    helpers.log(f"entry directory: read-only ({e.strerror})")
helpers.log(f"directory task started from {os.path.basename(__file__)}")
helpers.main()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_task_with_a_module_runs_on_a_node() {
    let dir = tempfile::tempdir().unwrap();
    // A root node runs each task as its own user, which must be able to reach its files.
    let traversable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o711);
    std::fs::set_permissions(dir.path(), traversable).unwrap();
    let (v, client, manager) = common::chain_with_manager(dir.path()).await;

    // The task project: task.yml next to app/ (main.py + helpers.py).
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("app")).unwrap();
    std::fs::write(project.join("app/main.py"), MAIN_PY).unwrap();
    std::fs::write(project.join("app/helpers.py"), HELPERS_PY).unwrap();
    std::fs::write(
        project.join("task.yml"),
        "task_name: directory task\n\
         task_executable: app/\n\
         task_entry: main.py\n\
         round_time: 135\n\
         submission_window: 15\n\
         audit_window: 120\n\
         minimum_stake_amount: 1\n\
         total_bounty_amount: 100\n\
         bounty_amount_per_round: 1\n",
    )
    .unwrap();
    let manager_key = dir.path().join("manager.json");
    write_keypair_file(&manager_key, &manager, false).unwrap();
    let out = tokio::process::Command::new(BIN)
        .arg("--url")
        .arg(v.url())
        .arg("--keypair")
        .arg(&manager_key)
        .args(["task", "create"])
        .arg(project.join("task.yml"))
        .args(["--nonce", "1"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "task create failed: {stderr}");
    assert!(
        stderr.contains("(2 files, 0 directories)") && stderr.contains("nodes run python3@main.py"),
        "{stderr}"
    );
    let task = task_id(&manager.pubkey(), 1);
    let account = client
        .get_task_account_info(&task, Default::default())
        .await
        .unwrap();
    assert_eq!(account.params.executable.runtime, "python3@main.py");
    let digest = account.params.executable.digest;

    // A node for it.
    let (node, ndir, port) = common::funded_node(&client, dir.path(), "key.json").await;
    let config = format!(
        "keypair = \"key.json\"\nrpc_url = \"{}\"\nlisten = \"127.0.0.1:{port}\"\n\n[limits]\nrestart_backoff_ms = 100\ncall_timeout_ms = 1000\n\n\
         [[task]]\nid = \"{task}\"\nstake = \"2\"\nauto_stake = true\n",
        v.url()
    );
    let mut child = common::start_node(&ndir, &config);
    let task_log = ndir.join("node-data/logs").join(format!("{task}.log"));
    let unpacked = ndir
        .join("node-data/artifacts")
        .join(format!("{task}.{}.d", digest.to_base58()));
    let started = Instant::now();
    let mut proof_round = None;
    while started.elapsed() < Duration::from_secs(90) && proof_round.is_none() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(st) = child.try_wait().unwrap() {
            panic!(
                "the node exited ({st}):\n{}",
                std::fs::read_to_string(ndir.join("node.log")).unwrap_or_default()
            );
        }
        let Ok(t) = client
            .get_task_account_info(&task, Default::default())
            .await
        else {
            continue;
        };
        for round in 0..=t.current_round {
            let Ok(info) = client.get_task_submission_info(&task, round).await else {
                continue;
            };
            if info
                .submissions
                .iter()
                .any(|s| s.node == node.pubkey() && !s.submission.voided)
            {
                proof_round = Some(round);
            }
        }
    }
    let info: serde_json::Value = match reqwest::get(format!("http://127.0.0.1:{port}/info")).await
    {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    };
    let exited = common::stop_node(&mut child);
    v.shutdown().await.unwrap();
    let task_text = std::fs::read_to_string(&task_log).unwrap_or_default();
    let node_text = std::fs::read_to_string(ndir.join("node.log")).unwrap_or_default();
    assert!(
        proof_round.is_some(),
        "the node submitted no proof\n--- task log ---\n{task_text}\n--- node log ---\n{node_text}"
    );
    // The archive was unpacked in the cache, for this task, and the entry ran from there.
    let mut files: Vec<String> = std::fs::read_dir(&unpacked)
        .unwrap_or_else(|e| panic!("{}: {e}", unpacked.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "__pycache__")
        .collect();
    files.sort();
    assert!(
        task_text.contains("directory task started from main.py"),
        "{task_text}"
    );
    // Read-only for the task where the kernel confines it (Landlock), as a file artifact is.
    if info["confinement"]["filesystem"] == true {
        assert!(
            task_text.contains("entry directory: read-only"),
            "{task_text}"
        );
        assert_eq!(files, ["helpers.py", "main.py"]);
    } else {
        eprintln!(
            "no filesystem confinement on this machine: {}",
            info["confinement"]
        );
    }
    assert!(exited, "node did not stop on SIGTERM");
}
