//! Bad input of every kind gets a specific error and changes nothing (issue #3): malformed
//! JSON-RPC, wrong params, oversized bodies, bad signatures, replays, wrong windows, a full
//! mempool, bad artifacts, bad task.yml files and bad CLI arguments.

mod common;

use base64::Engine;
use common::*;
use gradual_client::{Client, ClientError};
use gradual_rpc::codes;
use gradual_types::{parse_koii, Hash, Instruction, Keypair, Pubkey, Transaction};
use serde_json::{json, Value};

async fn post(url: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Declare a `len`-byte JSON-RPC body, send only its first bytes, read the answer.
fn oversized_post(url: &str, len: usize) -> (u16, Value) {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n{{\"jsonrpc\":"
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("no answer to an oversized body: {e}"),
        }
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            if serde_json::from_slice::<Value>(&buf[i + 4..]).is_ok() {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn code(v: &Value) -> i64 {
    v["error"]["code"].as_i64().unwrap_or(0)
}

fn msg(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_json_rpc_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, faucet) = key(dir.path(), 0);
    let v = Validator::start(dir.path(), &faucet);
    let u = &v.url;

    let (_, r) = post(u, "{bad").await;
    assert_eq!(code(&r), codes::PARSE_ERROR);
    assert!(msg(&r).starts_with("request body is not valid JSON"), "{r}");

    let (_, r) = post(u, "[]").await;
    assert_eq!(code(&r), codes::INVALID_REQUEST);
    assert_eq!(msg(&r), "batch is empty; send at least one call");

    let (_, r) = post(u, "42").await;
    assert_eq!(code(&r), codes::INVALID_REQUEST);
    let (_, r) = post(u, r#"{"jsonrpc":"1.0","id":1,"method":"getSlot"}"#).await;
    assert_eq!(code(&r), codes::INVALID_REQUEST);
    assert_eq!(msg(&r), "jsonrpc must be \"2.0\"");
    assert_eq!(r["id"], 1);

    let (_, r) = post(u, r#"{"jsonrpc":"2.0","id":2,"method":"getSlots"}"#).await;
    assert_eq!(code(&r), codes::METHOD_NOT_FOUND);
    assert_eq!(
        msg(&r),
        "method 'getSlots' not found (did you mean getSlot?)"
    );

    let (_, r) = post(
        u,
        r#"{"jsonrpc":"2.0","id":3,"method":"getBalance","params":["nope"]}"#,
    )
    .await;
    assert_eq!(code(&r), codes::INVALID_PARAMS);
    assert!(
        msg(&r).starts_with("getBalance: param 0 (pubkey) must be a base58 public key (32 bytes)"),
        "{r}"
    );
    let (_, r) = post(
        u,
        r#"{"jsonrpc":"2.0","id":4,"method":"getBalance","params":{"pubky":"x"}}"#,
    )
    .await;
    assert_eq!(
        msg(&r),
        "getBalance has no param 'pubky'; its params are pubkey"
    );
    let task = Hash([1; 32]).to_base58();
    let body =
        json!({"jsonrpc":"2.0","id":5,"method":"getTaskSubmissionInfo","params":[task, "x"]});
    let (_, r) = post(u, body.to_string()).await;
    assert_eq!(
        msg(&r),
        "getTaskSubmissionInfo: param 1 (round) must be a non-negative integer, got \"x\""
    );
    let body = json!({"jsonrpc":"2.0","id":6,"method":"getTaskAccountInfo","params":[task, {"stake": true}]});
    let (_, r) = post(u, body.to_string()).await;
    assert_eq!(code(&r), codes::INVALID_PARAMS);
    assert!(msg(&r).contains("unknown key 'stake'"), "{r}");
    let body = json!({"jsonrpc":"2.0","id":7,"method":"getTaskAccountInfo","params":[task]});
    let (_, r) = post(u, body.to_string()).await;
    assert_eq!(code(&r), codes::NOT_FOUND);
    assert!(msg(&r).starts_with(&format!("unknown task {task}")), "{r}");

    // A batch answers every call with an id, in order; notifications get no answer.
    let batch = r#"[{"jsonrpc":"2.0","id":"a","method":"getHealth"},
                    {"jsonrpc":"2.0","method":"getSlot"},
                    {"jsonrpc":"2.0","id":"b","method":"nope"}]"#;
    let (_, r) = post(u, batch).await;
    let answers = r.as_array().unwrap();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["id"], "a");
    assert_eq!(answers[0]["result"], "ok");
    assert_eq!(answers[1]["id"], "b");
    assert_eq!(code(&answers[1]), codes::METHOD_NOT_FOUND);
    let (status, _) = post(u, r#"{"jsonrpc":"2.0","method":"getSlot"}"#).await;
    assert_eq!(status, 204);

    // An oversized body is refused from its declared length, before it is read or parsed.
    // (Raw TCP: the server answers before the client finishes sending, which would make an
    // HTTP client report a reset instead of the answer.)
    let url = u.clone();
    let (status, r) = tokio::task::spawn_blocking(move || oversized_post(&url, 3 * 1024 * 1024))
        .await
        .unwrap();
    assert_eq!(status, 413);
    assert_eq!(code(&r), codes::INVALID_REQUEST);
    assert!(msg(&r).contains("the most is 2097152"), "{r}");
    assert_eq!(v.client().get_health().await.unwrap(), "ok");
}

fn b64(tx: &Transaction) -> String {
    base64::engine::general_purpose::STANDARD.encode(tx.encode())
}

async fn send_raw(c: &Client, encoded: String) -> ClientError {
    c.call("sendTransaction", json!([encoded]))
        .await
        .expect_err("refused")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_transactions_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, faucet) = key(dir.path(), 0);
    let (a, _) = key(dir.path(), 1);
    let (mgr, mgr_path) = key(dir.path(), 2);
    let v = Validator::start(dir.path(), &faucet);
    let c = v.client();
    c.airdrop_and_confirm(&a.pubkey(), parse_koii("10").unwrap())
        .await
        .unwrap();
    let chain = c.get_genesis().await.unwrap().chain_id;
    let to = Pubkey([7; 32]);
    let transfer = |amount| Instruction::Transfer { to, amount };
    let slot = c.get_slot().await.unwrap();

    // Tampered after signing: bad signature.
    let mut tx = Transaction::new_signed(&a, &chain, slot, 0, transfer(1));
    tx.message.instruction = transfer(1_000);
    let e = send_raw(&c, b64(&tx)).await;
    assert_eq!(e.rpc_error().unwrap().code, codes::TRANSACTION_REJECTED);
    assert_eq!(e.tx_error_kind().as_deref(), Some("BadSignature"));
    assert!(e.to_string().contains("signature does not verify"), "{e}");

    // Signed for another chain.
    let tx = Transaction::new_signed(&a, "other-chain", slot, 0, transfer(1));
    let e = send_raw(&c, b64(&tx)).await;
    assert_eq!(e.tx_error_kind().as_deref(), Some("WrongChain"));

    // Not base64; base64 but not a transaction; over a field limit.
    let e = send_raw(&c, "!!!".into()).await;
    assert_eq!(e.rpc_error().unwrap().code, codes::INVALID_PARAMS);
    assert!(
        e.to_string()
            .contains("param 0 (transaction) is not base64"),
        "{e}"
    );
    let e = send_raw(
        &c,
        base64::engine::general_purpose::STANDARD.encode([1, 2, 3]),
    )
    .await;
    assert_eq!(e.tx_error_kind().as_deref(), Some("Malformed"));
    let big = Transaction::new_signed(
        &a,
        &chain,
        slot,
        0,
        Instruction::SubmitProof {
            task: Hash::ZERO,
            round: 0,
            value: vec![0; 513],
        },
    );
    let e = send_raw(&c, b64(&big)).await;
    assert_eq!(e.tx_error_kind().as_deref(), Some("FieldTooLarge"));
    assert!(
        e.to_string()
            .contains("proof value has 513 items or bytes, the most is 512"),
        "{e}"
    );
    // A recent slot from the future.
    let tx = Transaction::new_signed(&a, &chain, slot + 10_000, 0, transfer(1));
    let e = send_raw(&c, b64(&tx)).await;
    assert_eq!(e.tx_error_kind().as_deref(), Some("FutureSlot"));
    assert_eq!(
        c.get_balance(&a.pubkey()).await.unwrap(),
        parse_koii("10").unwrap()
    );
    assert_eq!(c.get_balance(&to).await.unwrap(), 0);

    // Replay: the same bytes again are refused, the transfer happened once.
    let tx = Transaction::new_signed(&a, &chain, c.get_slot().await.unwrap(), 0, transfer(5));
    let sig = c.send_transaction(&tx).await.unwrap();
    c.confirm(&sig).await.unwrap();
    let e = c.send_transaction(&tx).await.unwrap_err();
    assert_eq!(e.tx_error_kind().as_deref(), Some("Duplicate"));
    assert!(e.to_string().contains("already processed in slot"), "{e}");
    assert_eq!(c.get_balance(&to).await.unwrap(), 5);

    // A ledger-level refusal: a proof outside its window, with the window named.
    c.airdrop_and_confirm(&mgr.pubkey(), parse_koii("200").unwrap())
        .await
        .unwrap();
    let yml = write_task_yml(dir.path(), RT, SW, AW);
    let created = v
        .cli_json(
            Some(&mgr_path),
            &["task", "create", yml.to_str().unwrap(), "--nonce", "3"],
        )
        .await;
    let task = Hash::from_base58(created["task"].as_str().unwrap()).unwrap();
    let e = c
        .send_and_confirm(
            &a,
            Instruction::SubmitProof {
                task,
                round: 5,
                value: vec![1],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.tx_error_kind().as_deref(), Some("OutsideWindow"));
    assert!(
        e.to_string()
            .contains("proof submission window for round 5 is slots"),
        "{e}"
    );
    let e = c.get_task_submission_info(&task, 5).await.unwrap_err();
    assert_eq!(
        e.rpc_error().unwrap().code,
        codes::NOT_FOUND,
        "nothing recorded"
    );

    // The door's refusals are counted by reason.
    let metrics = reqwest::get(format!("{}/metrics", v.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("gradual_tx_rejected_total{reason=\"BadSignature\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("gradual_slot "), "{metrics}");
    assert!(metrics.contains("gradual_block_apply_seconds"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_mempool_and_faucet_limits() {
    let dir = tempfile::tempdir().unwrap();
    let (_, faucet) = key(dir.path(), 0);
    // Slow slots so the mempool stays full while we look.
    let v = Validator::start_with(
        dir.path(),
        &faucet,
        &[
            "--slot-ms",
            "3000",
            "--mempool-max",
            "2",
            "--faucet-mint-max",
            "5",
        ],
    );
    let c = v.client();
    let e = c
        .request_airdrop(&Pubkey([1; 32]), parse_koii("6").unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.rpc_error().unwrap().code, codes::FAUCET_UNAVAILABLE);
    assert!(
        e.to_string()
            .contains("exceeds the faucet limit of 5 KOII per request"),
        "{e}"
    );
    let mut codes_seen = Vec::new();
    for i in 0..3u8 {
        match c.request_airdrop(&Pubkey([i; 32]), 1).await {
            Ok(_) => codes_seen.push(0),
            Err(e) => {
                assert!(
                    e.to_string()
                        .contains("mempool is full (2 transactions waiting)"),
                    "{e}"
                );
                codes_seen.push(e.rpc_error().unwrap().code);
            }
        }
    }
    assert_eq!(codes_seen, vec![0, 0, codes::MEMPOOL_FULL]);
}

/// A signed `PUT /artifacts/<digest>` of `body` (the signature covers `digest` and the
/// body's size, whatever the body holds).
async fn signed_put(v: &Validator, kp: &Keypair, digest: Hash, body: Vec<u8>) -> reqwest::Response {
    use gradual_types::artifact::headers as h;
    let c = v.client();
    let up = gradual_types::ArtifactUpload {
        chain_id: c.genesis().await.unwrap().chain_id.clone(),
        digest,
        size: body.len() as u64,
        recent_slot: c.get_slot().await.unwrap(),
        uploader: kp.pubkey(),
    };
    reqwest::Client::new()
        .put(format!("{}/artifacts/{digest}", v.url))
        .header(h::UPLOADER, kp.pubkey().to_base58())
        .header(h::RECENT_SLOT, up.recent_slot.to_string())
        .header(h::SIGNATURE, up.sign(kp).to_base58())
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_are_signed_digest_checked_and_size_limited() {
    let dir = tempfile::tempdir().unwrap();
    let (_, faucet) = key(dir.path(), 0);
    let (uploader, _) = key(dir.path(), 1);
    let v = Validator::start_with(
        dir.path(),
        &faucet,
        &["--slot-ms", "20", "--artifact-max-bytes", "1000"],
    );
    let http = reqwest::Client::new();
    let bytes = b"task code".to_vec();
    let digest = Hash(*blake3::hash(&bytes).as_bytes());
    // Unsigned, and signed by an account holding nothing: refused.
    let r = http
        .put(format!("{}/artifacts/{digest}", v.url))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.text().await.unwrap().contains("must be signed"));
    let r = signed_put(&v, &uploader, digest, bytes.clone()).await;
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("needs at least"));
    v.client()
        .airdrop_and_confirm(&uploader.pubkey(), parse_koii("1").unwrap())
        .await
        .unwrap();
    let wrong = Hash([9; 32]);
    let r = signed_put(&v, &uploader, wrong, bytes.clone()).await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains(&format!("hash to {digest}, the URL says {wrong}")));
    let r = signed_put(&v, &uploader, digest, vec![0u8; 1001]).await;
    assert_eq!(r.status().as_u16(), 413);
    let r = http
        .get(format!("{}/artifacts/{digest}", v.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        404,
        "nothing stored by the refused uploads"
    );
    let r = http
        .get(format!("{}/artifacts/not-base58!", v.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let art = v
        .client()
        .upload_artifact_signed(&uploader, bytes.clone())
        .await
        .unwrap();
    assert_eq!(art.digest, digest);
    assert_eq!(
        v.client()
            .download_artifact(&art.url, &digest)
            .await
            .unwrap(),
        bytes
    );
    assert!(dir
        .path()
        .join("data/artifacts")
        .join(digest.to_base58())
        .exists());
}

/// Transactions in every block so far.
async fn tx_count(c: &Client) -> u64 {
    let target = c.get_slot().await.unwrap();
    let (mut from, mut n) = (0, 0);
    while from <= target {
        let page = c.get_blocks(from, 100, false).await.unwrap();
        let Some(last) = page.last() else { break };
        from = last.slot + 1;
        n += page.iter().map(|b| u64::from(b.tx_count)).sum::<u64>();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_refuses_bad_files_and_arguments_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, faucet) = key(d, 0);
    let (mgr, mgr_path) = key(d, 2);
    let v = Validator::start(d, &faucet);
    let c = v.client();
    c.airdrop_and_confirm(&mgr.pubkey(), parse_koii("50").unwrap())
        .await
        .unwrap();
    let txs_before = tx_count(&c).await;

    let yml = write_task_yml(d, 20, 12, 9);
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(&yml, text.replace("committee_size", "comittee_size")).unwrap();
    let out = v
        .cli(Some(&mgr_path), &["task", "create", yml.to_str().unwrap()])
        .await;
    out.assert_error("task.yml has 2 problems");
    assert!(
        out.stderr
            .contains("submission_window (12) + audit_window (9) = 21 exceeds round_time (20)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("unknown field 'comittee_size': did you mean 'committee_size'?"),
        "{}",
        out.stderr
    );

    // Windows that fit the round but not this chain's vote window (20 ms slots: V = 150):
    // the ledger's rule, in its words, before anything is uploaded.
    let yml = write_task_yml(d, 30, 12, 12);
    let out = v
        .cli(Some(&mgr_path), &["task", "create", yml.to_str().unwrap()])
        .await;
    out.assert_error("audit_window (12 slots) must be at least twice the vote window (150 slots at 20 ms per slot");
    assert!(
        out.stderr.contains("make audit_window at least 300"),
        "{}",
        out.stderr
    );

    // More bounty than the manager has: refused before any upload or transaction.
    let yml = write_task_yml(d, RT, SW, AW);
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(
        &yml,
        text.replace("total_bounty_amount: 100", "total_bounty_amount: 60"),
    )
    .unwrap();
    let out = v
        .cli(Some(&mgr_path), &["task", "create", yml.to_str().unwrap()])
        .await;
    out.assert_error("insufficient funds: creating this task escrows 60 KOII");
    std::fs::remove_file(d.join("dist/main.sh")).unwrap();
    std::fs::write(
        &yml,
        text.replace("total_bounty_amount: 100", "total_bounty_amount: 10"),
    )
    .unwrap();
    let out = v
        .cli(Some(&mgr_path), &["task", "create", yml.to_str().unwrap()])
        .await;
    out.assert_error("cannot read task_executable");

    assert!(c.get_program_tasks(false).await.unwrap().is_empty());
    assert_eq!(
        c.get_balance(&mgr.pubkey()).await.unwrap(),
        parse_koii("50").unwrap()
    );
    assert_eq!(tx_count(&c).await, txs_before, "no transaction was sent");

    // Arguments and environment.
    let out = v.cli(Some(&mgr_path), &["transfer", "xyz", "1"]).await;
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("expected a base58 address"),
        "{}",
        out.stderr
    );
    let out = v.cli(Some(&d.join("missing.json")), &["address"]).await;
    out.assert_error("cannot read keypair file");
    let out = v
        .cli(
            Some(&mgr_path),
            &["transfer", &Keypair::generate().pubkey().to_string(), "51"],
        )
        .await;
    out.assert_error("insufficient funds");
    let out = std::process::Command::new(BIN)
        .args(["--url", "http://127.0.0.1:1", "slot"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("error: cannot reach the validator at http://127.0.0.1:1"));
}

/// Run the binary with `args`; (exit code, stdout, stderr).
fn run_cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// With `--json` (before or after the command) a failure is one JSON object on stdout,
/// `{"error": {"code", "message", ...}}`, nothing on stderr, exit 2; without it the same
/// failure is `error: ...` on stderr.
#[track_caller]
fn json_error(args: &[&str]) -> Value {
    let (code, stdout, stderr) = run_cli(args);
    assert_eq!(code, Some(2), "{args:?}: {stdout} {stderr}");
    assert_eq!(stderr, "", "{args:?}: nothing on stderr");
    let v: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {stdout}"));
    assert!(v["error"]["code"].is_string(), "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_errors_are_objects_with_stable_codes() {
    // No validator needed: unreachable, usage, key file.
    let down = "http://127.0.0.1:1";
    for args in [
        &["--json", "--url", down, "slot"][..],
        &["slot", "--url", down, "--json"],
        &["--url", down, "slot", "--json"],
    ] {
        let v = json_error(args);
        assert_eq!(v["error"]["code"], "unreachable", "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.starts_with("cannot reach the validator at http://127.0.0.1:1"),
            "{msg}"
        );
    }
    let v = json_error(&["--json", "transfer", "xyz", "1"]);
    assert_eq!(v["error"]["code"], "usage");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expected a base58 address"),
        "{v}"
    );
    // A flag the command does not take is a usage error too.
    let v = json_error(&["keygen", "--url", down, "--json"]);
    assert_eq!(v["error"]["code"], "usage");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let v = json_error(&["address", "--json", "--keypair", missing.to_str().unwrap()]);
    assert_eq!(v["error"]["code"], "keypair_file");
    // Without --json: the human form, unchanged.
    let (code, stdout, stderr) = run_cli(&["--url", down, "slot"]);
    assert_eq!((code, stdout.as_str()), (Some(2), ""));
    assert!(
        stderr.starts_with("error: cannot reach the validator"),
        "{stderr}"
    );
    // --help is still help.
    let (code, stdout, _) = run_cli(&["--json", "--help"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("Usage: gradual"), "{stdout}");

    // Against a validator: the ledger's rule code, the JSON-RPC code, the faucet's limit.
    let (_, faucet) = key(dir.path(), 0);
    let (kp, kp_path) = key(dir.path(), 1);
    let v = Validator::start_with(
        dir.path(),
        &faucet,
        &[
            "--slot-ms",
            &SLOT_MS.to_string(),
            "--faucet-mint-max",
            "1000",
        ],
    );
    let kp_s = kp_path.to_str().unwrap();
    let url = v.url.as_str();
    let e = json_error(&["airdrop", "1100", "--url", url, "--keypair", kp_s, "--json"]);
    assert_eq!(e["error"]["code"], "faucet_limit");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("asked for 1100 KOII") && msg.contains("at most 1000 KOII per request"),
        "{msg}"
    );
    // ... and without --json, the same words on stderr.
    let out = v.cli(Some(&kp_path), &["airdrop", "1100"]).await;
    out.assert_error("ask for at most 1000 KOII at a time");
    v.cli_json(Some(&kp_path), &["airdrop", "10"]).await;
    // The per-address window: the validator refuses, the CLI adds the limits.
    let e = json_error(&["--json", "--url", url, "--keypair", kp_s, "airdrop", "995"]);
    assert_eq!(e["error"]["code"], "faucet_refused", "{e}");
    assert_eq!(e["error"]["rpc_code"], codes::FAUCET_UNAVAILABLE);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1000 KOII per address every 150 slots"),
        "{e}"
    );
    let to = Keypair::generate().pubkey().to_string();
    let e = json_error(&[
        "--json",
        "--url",
        url,
        "--keypair",
        kp_s,
        "transfer",
        &to,
        "11",
    ]);
    assert_eq!(e["error"]["code"], "insufficient_funds", "{e}");
    assert!(e["error"]["kind"].is_string(), "{e}");
    let unknown = Hash::domain("no such task", &[]).to_base58();
    let e = json_error(&["task", "show", &unknown, "--url", url, "--json"]);
    assert_eq!(e["error"]["code"], "not_found", "{e}");
    assert_eq!(e["error"]["rpc_code"], codes::NOT_FOUND);
    assert_eq!(
        v.client().get_balance(&kp.pubkey()).await.unwrap(),
        parse_koii("10").unwrap()
    );
}
