//! Shared by the integration tests: start the real `gradual validator` binary on a loopback
//! ephemeral port with fast slots, run CLI commands against it, and stop it with SIGTERM.

#![allow(dead_code)]

use gradual_client::{write_keypair_file, Client};
use gradual_types::Keypair;
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_gradual");
pub const SLOT_MS: u64 = 20;
/// Task timing at [`SLOT_MS`]: the v2 vote window is `V = ⌈3000/20⌉ = 150` slots and a task
/// needs `audit_window ≥ 2·V` (6 s), so rounds are 6.4 s.
pub const RT: u64 = 320;
pub const SW: u64 = 12;
pub const AW: u64 = 300;

pub struct Validator {
    child: Option<Child>,
    pub url: String,
    pub dir: PathBuf,
}

/// Deterministic keypair `i`, written to `<dir>/key<i>.json`.
pub fn key(dir: &Path, i: u8) -> (Keypair, PathBuf) {
    let mut seed = [i; 32];
    seed[0] = 0xa5;
    let kp = Keypair::from_seed(seed);
    let path = dir.join(format!("key{i}.json"));
    if !path.exists() {
        write_keypair_file(&path, &kp, false).expect("write keypair");
    }
    (kp, path)
}

impl Validator {
    /// Start a validator with `faucet` as the devnet faucet key, in `dir`.
    pub fn start(dir: &Path, faucet: &Path) -> Validator {
        Self::start_with(dir, faucet, &["--slot-ms", &SLOT_MS.to_string()])
    }

    /// Start with extra `gradual validator` flags (must include `--slot-ms`).
    pub fn start_with(dir: &Path, faucet: &Path, extra: &[&str]) -> Validator {
        let mut child = Command::new(BIN)
            .args([
                "validator",
                "--rpc-bind",
                "127.0.0.1:0",
                "--log-level",
                "warn",
            ])
            .args(extra)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--faucet-keypair")
            .arg(faucet)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn validator");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            if let Some(Ok(l)) = lines.next() {
                let _ = tx.send(l);
            }
            // Keep draining so the validator never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("validator printed its address");
        let url = line
            .strip_prefix("rpc listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Validator {
            child: Some(child),
            url,
            dir: dir.to_path_buf(),
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success());
        let started = Instant::now();
        loop {
            if let Some(st) = child.try_wait().expect("wait") {
                return st;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "validator did not stop within 20 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Run `gradual --url <this> [--keypair k] args...`.
    pub async fn cli(&self, keypair: Option<&Path>, args: &[&str]) -> Out {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("--url").arg(&self.url);
        if let Some(k) = keypair {
            cmd.arg("--keypair").arg(k);
        }
        let out = cmd.args(args).output().await.expect("run gradual");
        Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Run with `--json`, expect success, parse stdout.
    pub async fn cli_json(&self, keypair: Option<&Path>, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.cli(keypair, &all).await;
        assert_eq!(out.code, Some(0), "gradual {args:?} failed: {}", out.stderr);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("gradual {args:?} printed non-JSON ({e}): {}", out.stdout))
    }
}

impl Drop for Validator {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[derive(Debug)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Assert the command failed the CLI way: exit 2 and `error: <msg>` on stderr.
    pub fn assert_error(&self, contains: &str) {
        assert_eq!(self.code, Some(2), "expected exit 2: {self:?}");
        assert!(
            self.stderr.starts_with("error: "),
            "stderr should start with 'error: ': {self:?}"
        );
        assert!(
            self.stderr.contains(contains),
            "stderr should mention {contains:?}: {}",
            self.stderr
        );
    }
}

pub const EXECUTABLE: &[u8] = b"#!/bin/sh\necho 'the work of a round'\n";

/// A task.yml (reference field names, KOII units) and its executable in `dir`.
pub fn write_task_yml(dir: &Path, round_time: u64, sw: u64, aw: u64) -> PathBuf {
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    std::fs::write(dir.join("dist/main.sh"), EXECUTABLE).unwrap();
    let yml = format!(
        "task_name: lifecycle\n\
         task_description: a task driven over real HTTP\n\
         task_executable: dist/main.sh\n\
         round_time: {round_time}\n\
         submission_window: {sw}\n\
         audit_window: {aw}\n\
         minimum_stake_amount: 5\n\
         total_bounty_amount: 100\n\
         bounty_amount_per_round: 1.5\n\
         allowed_failed_distributions: 1\n\
         committee_size: 3\n\
         unstake_cooldown: 1\n\
         author: tests\n"
    );
    let path = dir.join("task.yml");
    std::fs::write(&path, yml).unwrap();
    path
}

/// A validator in this process (50 ms slots, a faucet) and a task manager funded with
/// 300 KOII: what the node tests start from.
pub async fn chain_with_manager(
    dir: &Path,
) -> (gradual_validator::RunningValidator, Client, Keypair) {
    use gradual_types::constants::ROE_PER_KOII;
    use gradual_types::{Faucet, Genesis};
    let faucet = Keypair::generate();
    let genesis = Genesis {
        slot_ms: 50,
        faucet: Some(Faucet::new(faucet.pubkey(), 10_000 * ROE_PER_KOII)),
        ..Genesis::default()
    };
    let mut vc = gradual_validator::ValidatorConfig::new(
        dir.join("validator"),
        "127.0.0.1:0".parse().expect("address literal"),
        genesis,
    );
    vc.faucet_keypair = Some(faucet);
    let v = gradual_validator::start(vc)
        .await
        .expect("validator starts");
    let client = Client::new(&v.url());
    let manager = Keypair::generate();
    client
        .airdrop_and_confirm(&manager.pubkey(), 300 * ROE_PER_KOII)
        .await
        .expect("airdrop to the manager");
    (v, client, manager)
}

/// A task running `code` (python3), uploaded by `manager`, with rounds that fit 50 ms slots
/// (the v2 vote window needs a 120-slot audit window, 6 s).
pub async fn create_python_task(
    client: &Client,
    manager: &Keypair,
    nonce: u64,
    code: &[u8],
) -> gradual_types::Hash {
    create_task(client, manager, nonce, code, "python3").await
}

/// [`create_python_task`] with another runtime.
pub async fn create_task(
    client: &Client,
    manager: &Keypair,
    nonce: u64,
    code: &[u8],
    runtime: &str,
) -> gradual_types::Hash {
    let params = upload_task_params(client, manager, nonce, code, runtime).await;
    create_task_with(client, manager, nonce, params, 100).await
}

/// The parameters of the tests' tasks: `code` uploaded by `manager`, 1 KOII a round,
/// rounds that fit 50 ms slots.
pub async fn upload_task_params(
    client: &Client,
    manager: &Keypair,
    nonce: u64,
    code: &[u8],
    runtime: &str,
) -> gradual_types::TaskParams {
    use gradual_types::constants::ROE_PER_KOII;
    use gradual_types::{Executable, Hash, TaskParams};
    let art = client
        .upload_artifact_signed(manager, code.to_vec())
        .await
        .expect("upload");
    TaskParams {
        name: format!("t{nonce}"),
        executable: Executable {
            digest: Hash(*blake3::hash(code).as_bytes()),
            urls: vec![art.url],
            runtime: runtime.into(),
        },
        bounty_per_round: ROE_PER_KOII,
        round_time: 135,
        submission_window: 15,
        audit_window: 120,
        minimum_stake: ROE_PER_KOII,
        ..TaskParams::default()
    }
}

/// Create a task with `params`, funded with `bounty_koii`; its id.
pub async fn create_task_with(
    client: &Client,
    manager: &Keypair,
    nonce: u64,
    params: gradual_types::TaskParams,
    bounty_koii: u64,
) -> gradual_types::Hash {
    use gradual_types::constants::ROE_PER_KOII;
    use gradual_types::{task_id, Instruction};
    let ix = Instruction::CreateTask {
        nonce,
        params,
        total_bounty: bounty_koii * ROE_PER_KOII,
    };
    client
        .send_and_confirm(manager, ix)
        .await
        .expect("create task");
    task_id(&manager.pubkey(), nonce)
}

/// A node's key, funded with 10 KOII, written to `<root>/node/<key_file>`, and a free
/// loopback port for it: `(key, node dir, port)`.
#[allow(dead_code)] // not every test binary starts a node
pub async fn funded_node(client: &Client, root: &Path, key_file: &str) -> (Keypair, PathBuf, u16) {
    let node = Keypair::generate();
    client
        .airdrop_and_confirm(&node.pubkey(), 10 * gradual_types::constants::ROE_PER_KOII)
        .await
        .unwrap();
    let ndir = root.join("node");
    std::fs::create_dir_all(&ndir).unwrap();
    write_keypair_file(&ndir.join(key_file), &node, false).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    (node, ndir, port)
}

/// Write `config` to `<ndir>/node.toml` and start `gradual node --config` on it, its stderr
/// in `<ndir>/node.log`.
pub fn start_node(ndir: &Path, config: &str) -> Child {
    std::fs::write(ndir.join("node.toml"), config).unwrap();
    let log = std::fs::File::create(ndir.join("node.log")).unwrap();
    Command::new(BIN)
        .args(["node", "--config"])
        .arg(ndir.join("node.toml"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// SIGTERM to a node, then up to 10 s for it to exit (killed after that); whether it exited
/// by itself.
pub fn stop_node(child: &mut Child) -> bool {
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
    exited
}
