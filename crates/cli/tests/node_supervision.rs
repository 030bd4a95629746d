//! Issue #4 acceptance, part 3: one `gradual node` process runs two tasks. One task process
//! hangs in its first life, crashes in its second and allocates without bound in its third:
//! the node survives, logs why each time, restarts it with backoff, and keeps working (and
//! getting paid) on the other task. Also checks the node's HTTP surface.

mod common;

use common::BIN;
use gradual_client::write_keypair_file;
use gradual_devnet::BUILTIN_TASK_PY;
use gradual_types::constants::ROE_PER_KOII;
use gradual_types::{Hash, Keypair};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_task_never_takes_the_node_down() {
    let dir = tempfile::tempdir().unwrap();
    // A root node runs each task as its own user, which must be able to reach its files.
    let traversable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o711);
    std::fs::set_permissions(dir.path(), traversable).unwrap();
    let (v, client, manager) = common::chain_with_manager(dir.path()).await;
    let good = common::create_python_task(&client, &manager, 1, BUILTIN_TASK_PY.as_bytes()).await;
    let bad = common::create_python_task(&client, &manager, 2, BUILTIN_TASK_PY.as_bytes()).await;
    let node = Keypair::generate();
    client
        .airdrop_and_confirm(&node.pubkey(), 10 * ROE_PER_KOII)
        .await
        .unwrap();
    let ndir = dir.path().join("node");
    std::fs::create_dir_all(&ndir).unwrap();
    write_keypair_file(&ndir.join("key.json"), &node, false).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "keypair = \"key.json\"\nrpc_url = \"{}\"\nlisten = \"127.0.0.1:{port}\"\n\n[limits]\nrestart_backoff_ms = 100\ncall_timeout_ms = 1000\nhealth_interval_ms = 300\n\n\
         [[task]]\nid = \"{good}\"\nstake = \"2\"\nauto_stake = true\n\n\
         [[task]]\nid = \"{bad}\"\nstake = \"2\"\nauto_stake = true\nenv = {{ DEMO_TASK_FAULTS = \"hang,crash,oom\" }}\n[task.limits]\nmemory_mb = 64\n",
        v.url()
    );
    std::fs::write(ndir.join("node.toml"), config).unwrap();
    let log = std::fs::File::create(ndir.join("node.log")).unwrap();
    let mut child = Command::new(BIN)
        .args(["node", "--config"])
        .arg(ndir.join("node.toml"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let bad_log = ndir.join("node-data/logs").join(format!("{bad}.log"));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut result = Err("not checked yet".to_string());
    while started.elapsed() < Duration::from_secs(100) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if child.try_wait().unwrap().is_some() {
            panic!(
                "the node exited:\n{}",
                std::fs::read_to_string(ndir.join("node.log")).unwrap_or_default()
            );
        }
        let text = std::fs::read_to_string(&bad_log).unwrap_or_default();
        let reasons = [
            "hung: health check",
            "crashed: killed by signal 11 (SIGSEGV)",
            "of resident memory, over its limit of 64 MiB",
        ];
        let missing: Vec<&str> = reasons
            .iter()
            .copied()
            .filter(|r| !text.contains(r))
            .collect();
        let healthy_again = text.matches("task is healthy").count() >= 4;
        let info: serde_json::Value = match http.get(format!("{base}/info")).send().await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => continue,
        };
        let status = |t: &Hash| {
            info["tasks"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| x["task"] == t.to_base58())
                .map(|x| {
                    (
                        x["status"].as_str().unwrap_or("").to_string(),
                        x["restarts"].as_u64().unwrap_or(0),
                    )
                })
        };
        let pending_good = client
            .get_account(&node.pubkey())
            .await
            .map(|a| {
                a.pending_rewards.iter().any(|r| r.task == good)
                    || a.balance > 10 * ROE_PER_KOII - 4 * ROE_PER_KOII
            })
            .unwrap_or(false);
        let paid_good = client
            .get_task_account_info(&good, Default::default())
            .await
            .map(|t| t.paid_total > 0)
            .unwrap_or(false);
        result = if !missing.is_empty() {
            Err(format!("bad task log lacks {missing:?}"))
        } else if !healthy_again {
            Err("bad task not healthy again after its three faults".into())
        } else if status(&bad).is_none_or(|(_, restarts)| restarts < 3) {
            Err(format!("bad task status: {:?}", status(&bad)))
        } else if status(&good).is_none_or(|(s, restarts)| s != "active" || restarts != 0) {
            Err(format!("good task status: {:?}", status(&good)))
        } else if !(paid_good && pending_good) {
            Err("good task not paid yet".into())
        } else {
            Ok(())
        };
        if result.is_ok() {
            break;
        }
    }
    // The HTTP surface: health, metrics, the peer proxy to a task route, control routes hidden.
    let health = http
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let proxied = http
        .get(format!("{base}/task/{good}/proof/3"))
        .send()
        .await
        .unwrap();
    let proxied_status = proxied.status().as_u16();
    let proxied_body = proxied.text().await.unwrap();
    let hidden = http
        .post(format!("{base}/task/{good}/gradual/v1/submission"))
        .body("{\"round\":1}")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let exited = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        child.try_wait().ok().flatten().is_some()
    });
    if !exited {
        let _ = child.kill();
    }
    v.shutdown().await.unwrap();
    if let Err(e) = result {
        let text = std::fs::read_to_string(&bad_log).unwrap_or_default();
        panic!(
            "{e}\n--- bad task log ---\n{text}\n--- node log ---\n{}",
            std::fs::read_to_string(ndir.join("node.log")).unwrap_or_default()
        );
    }
    assert_eq!(health.trim(), "ok");
    assert!(
        metrics.contains("gradual_node_task_restarts_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "gradual_node_task_status{{task=\"{good}\",status=\"active\"}} 1"
        )),
        "{metrics}"
    );
    assert_eq!(proxied_status, 200, "{proxied_body}");
    assert!(proxied_body.contains("\"proof\""), "{proxied_body}");
    assert_eq!(hidden, 403);
    assert!(exited, "node did not stop on SIGTERM");
}
