//! Issue #4 acceptance, part 3: one `gradual node` process runs two tasks. One task process
//! hangs in its first life, crashes in its second and allocates without bound in its third:
//! the node survives, logs why each time, restarts it with backoff, and keeps working (and
//! getting paid) on the other task. Also checks the node's HTTP surface.

mod common;

use common::BIN;
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
    let (node, ndir, port) = common::funded_node(&client, dir.path(), "key.json").await;
    let config = format!(
        "keypair = \"key.json\"\nrpc_url = \"{}\"\nlisten = \"127.0.0.1:{port}\"\n\n[limits]\nrestart_backoff_ms = 100\ncall_timeout_ms = 1000\nhealth_interval_ms = 300\n\n\
         [[task]]\nid = \"{good}\"\nstake = \"2\"\nauto_stake = true\n\n\
         [[task]]\nid = \"{bad}\"\nstake = \"2\"\nauto_stake = true\nenv = {{ DEMO_TASK_FAULTS = \"hang,crash,oom\" }}\n[task.limits]\nmemory_mb = 64\n",
        v.url()
    );
    let mut child = common::start_node(&ndir, &config);
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
    let exited = common::stop_node(&mut child);
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

/// A task of `BUILTIN_TASK_PY` funded with `bounty` KOII (1 KOII a round).
async fn task_with_bounty(
    client: &gradual_client::Client,
    manager: &Keypair,
    nonce: u64,
    bounty: u64,
) -> (Hash, gradual_types::TaskParams) {
    let code = BUILTIN_TASK_PY.as_bytes();
    let params = common::upload_task_params(client, manager, nonce, code, "python3").await;
    let task = common::create_task_with(client, manager, nonce, params.clone(), bounty).await;
    (task, params)
}

/// Wait up to `secs` for `f` to give `Ok`; the last error otherwise.
async fn wait_for<F, Fut>(secs: u64, mut f: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let mut last = Err("not checked yet".to_string());
    while started.elapsed() < Duration::from_secs(secs) {
        last = f().await;
        if last.is_ok() {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    last
}

/// Issue #12, the operator's side: a node started as the guide says (`--config node.toml`
/// from the config's directory, relative `data_dir` and key) runs its tasks; node.log has
/// one line per round event (proof submitted, list submitted, paid); a task whose bounty
/// runs out is paused with the reason shown (in `/info` and `gradual node status`) and
/// resumes when funded; claimed rewards are restaked up to a cap (`restake_rewards`); a task
/// added to the file starts on SIGHUP (`gradual node reload`) and a removed one stops,
/// without a restart; an update that raises the slash makes the node unstake
/// (`unstake_on_worse_terms`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_sees_rounds_pauses_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let traversable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o711);
    std::fs::set_permissions(dir.path(), traversable).unwrap();
    let (v, client, manager) = common::chain_with_manager(dir.path()).await;
    // Two rounds of bounty, then it is exhausted.
    let (short, _) = task_with_bounty(&client, &manager, 1, 2).await;
    let (later, later_params) = task_with_bounty(&client, &manager, 2, 100).await;
    // A task that cannot start: node.log must say why, in the task's own words.
    let broken = common::create_python_task(
        &client,
        &manager,
        3,
        b"import sys\nsys.stderr.write('boom: settings.json not found\\n')\nsys.exit(3)\n",
    )
    .await;
    let (_node, ndir, port) = common::funded_node(&client, dir.path(), "node.json").await;
    let head = format!(
        "keypair = \"node.json\"\nrpc_url = \"{}\"\ndata_dir = \"node-data\"\nlisten = \"127.0.0.1:{port}\"\n\n",
        v.url()
    );
    let entry = |t: &Hash, extra: &str| {
        format!("[[task]]\nid = \"{t}\"\nstake = \"2\"\nauto_stake = true\n{extra}\n")
    };
    // Compounding: claims from 0.5 KOII, restaked up to a stake of 20.
    let compound = "claim_at = \"0.5\"\nrestake_rewards = \"20\"\n";
    std::fs::write(
        ndir.join("node.toml"),
        format!(
            "{head}{}[[task]]\nid = \"{broken}\"\n",
            entry(&short, compound)
        ),
    )
    .unwrap();
    let log_path = ndir.join("node.log");
    let log = std::fs::File::create(&log_path).unwrap();
    // From the config's own directory, by a relative path, as the operator guide does.
    let mut child = Command::new(BIN)
        .current_dir(&ndir)
        .args(["node", "--config", "node.toml"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let node_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let status_of = |t: Hash| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let info: serde_json::Value = http
                .get(format!("{base}/info"))
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            info["tasks"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| x["task"] == t.to_base58())
                .cloned()
                .ok_or_else(|| format!("task {t} not in /info"))
        }
    };
    let stages = async {
        // 1. The task starts and works: proofs, a list, pay, one line each in node.log.
        wait_for(90, || async {
            let text = node_log();
            let s = status_of(short).await?;
            let want = [
                "proof submitted for round",
                "distribution list submitted for round",
                "paid 1 KOII for round",
            ];
            let short = short.to_base58();
            let logged = |w: &str| text.lines().any(|l| l.contains(w) && l.contains(&short));
            let why = "exited with status 3 while starting; its stderr ended with: boom: \
                       settings.json not found";
            let broken = broken.to_base58();
            if !text.lines().any(|l| l.contains(why) && l.contains(&broken)) {
                return Err(format!(
                    "node.log does not say why the broken task fails: {why:?}"
                ));
            }
            match want.iter().find(|w| !logged(w)) {
                Some(w) => Err(format!("node.log lacks {w:?}; status {s}")),
                None if s["last_paid_round"].is_null() || s["last_proof_round"].is_null() => {
                    Err(format!("status lacks the last proof or pay: {s}"))
                }
                None => Ok(()),
            }
        })
        .await
        .map_err(|e| format!("stage 1 (working): {e}"))?;
        // 2. Its bounty runs out: paused, with the reason, in /info and `node status`.
        wait_for(90, || async {
            let s = status_of(short).await?;
            if s["status"] != "paused" || !s["detail"].as_str().unwrap_or("").contains("bounty") {
                return Err(format!("not paused for its bounty: {s}"));
            }
            Ok(())
        })
        .await
        .map_err(|e| format!("stage 2 (exhausted): {e}"))?;
        let out = Command::new(BIN)
            .current_dir(&ndir)
            .args(["node", "status", "--config", "node.toml"])
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&out.stdout).to_string();
        if !(out.status.success() && printed.contains("paused") && printed.contains("bounty")) {
            return Err(format!(
                "`gradual node status` does not show the pause: {printed}{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        if !node_log().contains("task paused") {
            return Err("node.log does not say the task was paused".into());
        }
        let proofs_when_paused = node_log().matches("proof submitted").count();
        // 3. Funded again: it resumes.
        client
            .send_and_confirm(
                &manager,
                gradual_types::Instruction::FundTask {
                    task: short,
                    amount: 20 * ROE_PER_KOII,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        wait_for(60, || async {
            let s = status_of(short).await?;
            let text = node_log();
            if s["status"] != "active" || !text.contains("task resumed") {
                return Err(format!("not resumed: {s}"));
            }
            if text.matches("proof submitted").count() <= proofs_when_paused {
                return Err("no proof since it resumed".into());
            }
            // Compounded: claimed rewards staked on top of the configured 2 KOII.
            if !text.contains("restaking claimed rewards")
                || s["stake_roe"].as_u64().unwrap_or(0) <= 2 * ROE_PER_KOII
            {
                return Err(format!("claimed rewards not restaked: {s}"));
            }
            Ok(())
        })
        .await
        .map_err(|e| format!("stage 3 (funded): {e}"))?;
        // 4. Reload: the file now lists the other task only.
        std::fs::write(
            ndir.join("node.toml"),
            format!("{head}{}", entry(&later, "unstake_on_worse_terms = true\n")),
        )
        .unwrap();
        let out = Command::new(BIN)
            .current_dir(&ndir)
            .args(["node", "reload", "--config", "node.toml"])
            .output()
            .unwrap();
        if !out.status.success() {
            return Err(format!(
                "`gradual node reload` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        wait_for(60, || async {
            if status_of(short).await.is_ok() {
                return Err("the removed task is still listed".into());
            }
            let s = status_of(later).await?;
            if s["status"] != "active" {
                return Err(format!("the added task is not active: {s}"));
            }
            Ok(())
        })
        .await
        .map_err(|e| format!("stage 4 (reload): {e}"))?;
        // 5. The manager raises the slash: the node leaves before it applies.
        let worse = gradual_types::TaskParams {
            slash_bps: (later_params.slash_bps + 1_000).min(10_000),
            ..later_params.clone()
        };
        client
            .send_and_confirm(
                &manager,
                gradual_types::Instruction::UpdateTask {
                    task: later,
                    params: worse,
                },
            )
            .await
            .map_err(|e| format!("stage 5: UpdateTask refused: {e}"))?;
        wait_for(60, || async {
            let s = status_of(later).await?;
            if s["status"] != "cooling_down"
                || !node_log().contains("unstaking (unstake_on_worse_terms)")
            {
                return Err(format!("not leaving on worse terms: {s}"));
            }
            Ok(())
        })
        .await
        .map_err(|e| format!("stage 5 (worse terms): {e}"))
    };
    let result = stages.await;
    let exited_early = child.try_wait().unwrap();
    let exited = common::stop_node(&mut child);
    v.shutdown().await.unwrap();
    if let Err(e) = result {
        panic!(
            "{e}\n(node exited early: {exited_early:?})\n--- node log ---\n{}",
            node_log()
        );
    }
    // Only the broken task failed to start.
    let text = node_log();
    let others = [short.to_base58(), later.to_base58()];
    assert!(
        !text
            .lines()
            .any(|l| l.contains("while starting") && others.iter().any(|t| l.contains(t))),
        "{text}"
    );
    assert!(exited, "node did not stop on SIGTERM");
}
