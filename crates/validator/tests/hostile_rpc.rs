//! Hostile JSON-RPC from loopback, over real HTTP: every input bounded before it costs
//! anything, clear errors for bad input, and a chain that keeps producing blocks (and honest
//! calls that keep answering) while the door is flooded.
//!
//! Bounds scale with `slot_ms` and leave slack for a loaded 2-core CI machine.

use gradual_client::Client;
use gradual_rpc::limits::*;
use gradual_rpc::{codes, WAIT_TIMEOUT_MS_MAX};
use gradual_types::{Faucet, Genesis, Instruction, Keypair, Pubkey, Transaction};
use gradual_validator::{start, RunningValidator, ValidatorConfig};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SLOT_MS: u64 = 50;
/// The longest an honest call may take while the door is flooded.
const HONEST_MAX: Duration = Duration::from_secs(3);

async fn validator(
    dir: &std::path::Path,
    fee_roe: u64,
    accounts: Vec<(Pubkey, u64)>,
) -> RunningValidator {
    validator_with(dir, fee_roe, accounts, |_| {}).await
}

async fn validator_with(
    dir: &std::path::Path,
    fee_roe: u64,
    accounts: Vec<(Pubkey, u64)>,
    tweak: impl FnOnce(&mut ValidatorConfig),
) -> RunningValidator {
    let faucet = Keypair::from_seed([3; 32]);
    let genesis = Genesis {
        chain_id: "hostile-rpc".into(),
        slot_ms: SLOT_MS,
        fee_roe,
        accounts: {
            let mut a = accounts;
            // The faucet pays the fee of its own mints.
            a.push((faucet.pubkey(), 1_000_000));
            a
        },
        faucet: Some(Faucet::new(faucet.pubkey(), 1_000_000)),
        ..Genesis::default()
    };
    let mut c = ValidatorConfig::new(dir.to_path_buf(), "127.0.0.1:0".parse().unwrap(), genesis);
    c.faucet_keypair = Some(faucet);
    tweak(&mut c);
    start(c).await.unwrap()
}

/// POST a raw body; the HTTP status and the JSON answer.
async fn post(http: &reqwest::Client, url: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let r = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap();
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            )
        })
    };
    (status, v)
}

async fn call(http: &reqwest::Client, url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    post(http, url, body.to_string()).await.1
}

fn code(v: &Value) -> i64 {
    v["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected an error, got {v}"))
}

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or("")
}

/// A base58 text of `n` characters (all '2's: decodes, slowly, to a long number).
fn long_base58(n: usize) -> String {
    "2".repeat(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_base58_and_base64_params_are_refused_by_length_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let v = validator(dir.path(), 0, vec![]).await;
    let url = v.url();
    let http = reqwest::Client::new();
    let long = long_base58(300_000);
    let cases = [
        ("getBalance", json!([long])),
        ("getAccount", json!([long])),
        ("getSignatureStatus", json!([long])),
        ("getSignatureStatuses", json!([[long]])),
        ("getTaskAccountInfo", json!([long])),
        ("getTaskSubmissionInfo", json!([long, 1])),
        ("getAuditCommittee", json!([long, 1, long])),
        ("getProgramTasks", json!([{"after": long}])),
        ("requestAirdrop", json!([long, 1])),
        ("sendTransaction", json!([long, {"encoding": "base58"}])),
        (
            "sendTransaction",
            json!(["A".repeat(TX_BASE64_CHARS_MAX + 4)]),
        ),
    ];
    for (method, params) in cases {
        let started = Instant::now();
        let r = call(&http, &url, method, params).await;
        let took = started.elapsed();
        assert_eq!(code(&r), codes::INVALID_PARAMS, "{method}: {r}");
        assert!(
            message(&r).contains("characters"),
            "{method}: the error says the length: {}",
            message(&r)
        );
        // Measured before the length checks: 32 s for one 300,000-character base58 param.
        assert!(
            took < Duration::from_secs(1),
            "{method}: refused in {took:?}"
        );
        println!("{method}: 300,000-character param refused in {took:?}");
    }
    // A base58 transaction just over the base58 limit names base64 as the way.
    let r = call(
        &http,
        &url,
        "sendTransaction",
        json!([long_base58(TX_BASE58_CHARS_MAX + 1), {"encoding": "base58"}]),
    )
    .await;
    assert!(message(&r).contains("as base64"), "{r}");
    // Nothing changed: the chain still answers and nothing is pending.
    assert_eq!(
        call(&http, &url, "getHealth", json!([])).await["result"],
        "ok"
    );
    v.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_long_polls_shares_one_deadline_instead_of_running_one_after_another() {
    let dir = tempfile::tempdir().unwrap();
    let v = validator(dir.path(), 0, vec![]).await;
    let url = v.url();
    let http = reqwest::Client::new();
    // 50 long polls of 1 s on a slot that never comes: old code held the connection 50 s.
    let batch: Vec<Value> = (0..50)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "waitForSlot", "params": [u64::MAX, 1_000]}))
        .collect();
    let started = Instant::now();
    let (status, r) = post(&http, &url, json!(batch).to_string()).await;
    let took = started.elapsed();
    assert_eq!(status, 200);
    let answers = r.as_array().unwrap();
    assert_eq!(answers.len(), 50);
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a["id"], i, "answers keep the order of the calls");
        assert_eq!(a["result"]["reached"], false);
    }
    assert!(
        took < Duration::from_secs(5),
        "50 long polls of 1 s took {took:?}"
    );
    println!("batch of 50 waitForSlot(1 s) answered in {took:?}");
    v.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_deep_huge_and_mistyped_requests_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let v = validator(dir.path(), 0, vec![]).await;
    let url = v.url();
    let http = reqwest::Client::new();

    // Body over the limit: HTTP 413 with a JSON-RPC error, decided from the declared length
    // before the body is read (the server may close the connection while it is still being
    // sent, so the client can also see the connection end).
    let big = format!("[\"{}\"]", "x".repeat(BODY_BYTES_DEFAULT + 1));
    match http.post(&url).body(big).send().await {
        Ok(r) => {
            assert_eq!(r.status().as_u16(), 413);
            let v: Value = r.json().await.unwrap();
            assert_eq!(code(&v), codes::INVALID_REQUEST);
            assert!(message(&v).contains("the most is"), "{v}");
        }
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }

    // Nesting deeper than the limit, refused before parsing.
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let (_, r) = post(&http, &url, deep).await;
    assert_eq!(code(&r), codes::INVALID_REQUEST);
    assert!(message(&r).contains("deep"), "{r}");
    let params = (0..JSON_DEPTH_MAX).fold(json!(1), |v, _| json!([v]));
    let r = call(&http, &url, "getSlot", params).await;
    assert_eq!(code(&r), codes::INVALID_REQUEST, "{r}");

    // A batch over the limit, refused by counting before parsing.
    let calls =
        vec![json!({"jsonrpc": "2.0", "id": 1, "method": "getSlot"}); BATCH_CALLS_DEFAULT + 1];
    let (_, r) = post(&http, &url, json!(calls).to_string()).await;
    assert!(message(&r).contains("the most is 100"), "{r}");
    let (_, r) = post(&http, &url, format!("[{}1]", "1,".repeat(200_000))).await;
    assert_eq!(code(&r), codes::INVALID_REQUEST, "{r}");

    // Ids: u64 and strings are echoed; fractions and long strings are refused.
    let (_, r) = post(
        &http,
        &url,
        format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":"getSlot"}}"#,
            u64::MAX
        ),
    )
    .await;
    assert_eq!(r["id"], json!(u64::MAX));
    assert!(r["result"].is_u64());
    let (_, r) = post(
        &http,
        &url,
        r#"{"jsonrpc":"2.0","id":"abc","method":"getSlot"}"#,
    )
    .await;
    assert_eq!(r["id"], "abc");
    let (_, r) = post(
        &http,
        &url,
        r#"{"jsonrpc":"2.0","id":1.5,"method":"getSlot"}"#,
    )
    .await;
    assert_eq!(code(&r), codes::INVALID_REQUEST);
    let long_id = json!({"jsonrpc": "2.0", "id": "i".repeat(10_000), "method": "getSlot"});
    let (_, r) = post(&http, &url, long_id.to_string()).await;
    assert_eq!(code(&r), codes::INVALID_REQUEST);
    assert_eq!(r["id"], Value::Null);

    // A long method name: refused at once, not echoed, no "did you mean" search.
    let started = Instant::now();
    let r = call(&http, &url, &"getSlot".repeat(200_000), json!([])).await;
    assert_eq!(code(&r), codes::METHOD_NOT_FOUND);
    assert!(message(&r).len() < 200, "{}", message(&r).len());
    assert!(started.elapsed() < Duration::from_secs(1));

    // Wrong types and garbage.
    let (_, r) = post(&http, &url, "{not json").await;
    assert_eq!(code(&r), codes::PARSE_ERROR);
    for (method, params) in [
        ("getBlock", json!(["x"])),
        ("getBlock", json!([1, {"limit": 0}])),
        ("getBlock", json!([1, {"limit": BLOCK_TXS_PAGE_MAX + 1}])),
        ("getBlocks", json!([0, BLOCKS_LIMIT_MAX + 1])),
        ("getProgramTasks", json!([{"limit": PAGE_LIMIT_MAX + 1}])),
        ("getProgramTasks", json!([{"after": 5}])),
        (
            "getAccount",
            json!([Pubkey([1; 32]).to_base58(), {"limit": "all"}]),
        ),
        ("waitForSlot", json!([1, WAIT_TIMEOUT_MS_MAX + 1])),
        ("sendTransaction", json!([{"a": 1}])),
        ("sendTransaction", json!(["AAAA", {"encoding": "hex"}])),
        (
            "getSignatureStatuses",
            json!([vec!["x"; SIGNATURE_STATUSES_MAX + 1]]),
        ),
    ] {
        let r = call(&http, &url, method, params.clone()).await;
        assert_eq!(code(&r), codes::INVALID_PARAMS, "{method} {params}: {r}");
    }
    // A transaction that decodes to nothing: rejected with its stable code.
    let r = call(&http, &url, "sendTransaction", json!(["AAAA"])).await;
    assert_eq!(code(&r), codes::TRANSACTION_REJECTED, "{r}");
    assert_eq!(r["error"]["data"]["code"], "decode");
    v.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_block_shows_the_fee_charged_and_the_stable_error_code() {
    let dir = tempfile::tempdir().unwrap();
    let rich = Keypair::from_seed([40; 32]);
    let v = validator(dir.path(), 50, vec![(rich.pubkey(), 1_000)]).await;
    let c = Client::new(&v.url());
    let to = Pubkey([9; 32]);
    let ok = c
        .send_and_confirm(&rich, Instruction::Transfer { to, amount: 1 })
        .await
        .unwrap();
    let bad = c
        .send(
            &rich,
            Instruction::Transfer {
                to,
                amount: 1_000_000,
            },
        )
        .await
        .unwrap();
    let e = c.confirm(&bad).await.unwrap_err();
    assert_eq!(e.tx_error_kind().as_deref(), Some("InsufficientFunds"));
    let block = c.get_block(ok.slot, true).await.unwrap().unwrap();
    let tx = &block.transactions.unwrap()[0];
    assert_eq!((tx.fee, tx.fee_charged, &tx.err), (50, 50, &None));
    let st = c.get_signature_status(&bad).await.unwrap().unwrap();
    let block = c.get_block(st.slot.unwrap(), true).await.unwrap().unwrap();
    let tx = block
        .transactions
        .unwrap()
        .into_iter()
        .find(|t| t.signature == bad.to_base58())
        .unwrap();
    let err = tx.err.unwrap();
    assert_eq!(err.code, "insufficient_funds");
    // What the ledger burned for it, as its balance shows.
    let burned = 1_000 - 1 - 50 - c.get_balance(&rich.pubkey()).await.unwrap();
    assert_eq!(tx.fee_charged, burned);
    v.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_paged_with_cursors_and_capped() {
    let dir = tempfile::tempdir().unwrap();
    let v = validator(dir.path(), 0, vec![]).await;
    let url = v.url();
    let http = reqwest::Client::new();
    let r = call(&http, &url, "getProgramTasks", json!([{"limit": 1}])).await;
    assert_eq!(r["result"], json!({"tasks": [], "next": null}));
    let who = Pubkey([1; 32]).to_base58();
    let r = call(
        &http,
        &url,
        "getAccount",
        json!([who, {"after": Pubkey([2; 32]).to_base58(), "limit": 5}]),
    )
    .await;
    assert_eq!(r["result"]["next"], Value::Null, "{r}");
    let c = Client::new(&url);
    c.wait_for_slot(3, 5_000).await.unwrap();
    let r = call(
        &http,
        &url,
        "getBlock",
        json!([1, {"transactions": true, "offset": 5, "limit": 1}]),
    )
    .await;
    assert_eq!(r["result"]["transactions"], json!([]), "{r}");
    let blocks = c.get_blocks(0, 2, false).await.unwrap();
    assert!(blocks.len() <= 2);
    v.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_with_cursors_and_the_client_collects_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let manager = Keypair::from_seed([30; 32]);
    let nodes: Vec<Keypair> = (0..3).map(|i| Keypair::from_seed([31 + i; 32])).collect();
    let mut accounts = vec![(manager.pubkey(), 10_000_000)];
    accounts.extend(nodes.iter().map(|n| (n.pubkey(), 100_000)));
    let v = validator(dir.path(), 0, accounts).await;
    let url = v.url();
    let c = Client::new(&url);
    let http = reqwest::Client::new();
    // 50 ms slots: the vote window is max(⌈3000/50⌉, AW/3) = 60 slots, so AW ≥ 120.
    let params = gradual_types::TaskParams {
        name: "paged".into(),
        bounty_per_round: 1_000,
        round_time: 1_000,
        submission_window: 100,
        audit_window: 200,
        minimum_stake: 100,
        ..gradual_types::TaskParams::default()
    };
    let mut tasks = Vec::new();
    for nonce in 1..=3 {
        let ix = Instruction::CreateTask {
            nonce,
            params: params.clone(),
            total_bounty: 100_000,
        };
        c.send_and_confirm(&manager, ix).await.unwrap();
        tasks.push(gradual_types::task_id(&manager.pubkey(), nonce));
    }
    let stake = |task| Instruction::Stake {
        task,
        amount: 500,
        url: "http://node.example:8080".into(),
        owner: None,
    };
    for n in &nodes {
        c.send_and_confirm(n, stake(tasks[0])).await.unwrap();
    }
    for t in &tasks[1..] {
        c.send_and_confirm(&nodes[0], stake(*t)).await.unwrap();
    }

    // Tasks, two at a time.
    let r = call(&http, &url, "getProgramTasks", json!([{"limit": 2}])).await;
    let page = &r["result"];
    assert_eq!(page["tasks"].as_array().unwrap().len(), 2, "{r}");
    let next = page["next"].as_str().unwrap().to_string();
    let r = call(
        &http,
        &url,
        "getProgramTasks",
        json!([{"limit": 2, "after": next}]),
    )
    .await;
    assert_eq!(r["result"]["tasks"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["result"]["next"], Value::Null);
    assert_eq!(c.get_program_tasks(false).await.unwrap().len(), 3);

    // A task's stakes, two at a time; the client collects them all.
    let first = tasks[0].to_base58();
    let r = call(
        &http,
        &url,
        "getTaskAccountInfo",
        json!([first, {"stakes": true, "rewards": true, "limit": 2}]),
    )
    .await;
    assert_eq!(r["result"]["stakes"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(r["result"]["stakers"], 3);
    let next = r["result"]["next"].as_str().unwrap().to_string();
    let r = call(
        &http,
        &url,
        "getTaskAccountInfo",
        json!([first, {"stakes": true, "after": next, "limit": 2}]),
    )
    .await;
    assert_eq!(r["result"]["stakes"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["result"]["next"], Value::Null);
    let t = c
        .get_task_account_info(&tasks[0], gradual_client::TaskInfoFlags::ALL)
        .await
        .unwrap();
    assert_eq!(t.stakes.unwrap().len(), 3);

    // An account's stakes across tasks, one task at a time.
    let who = nodes[0].pubkey().to_base58();
    let r = call(&http, &url, "getAccount", json!([who, {"limit": 1}])).await;
    assert_eq!(r["result"]["stakes"].as_array().unwrap().len(), 1, "{r}");
    assert!(r["result"]["next"].is_string(), "{r}");
    assert_eq!(
        c.get_account(&nodes[0].pubkey())
            .await
            .unwrap()
            .stakes
            .len(),
        3
    );
    v.shutdown().await.unwrap();
}

fn task_params() -> gradual_types::TaskParams {
    // 50 ms slots: the vote window is max(⌈3000/50⌉, AW/3) = 60 slots, so AW ≥ 120.
    gradual_types::TaskParams {
        name: "t".into(),
        bounty_per_round: 1_000,
        round_time: 1_000,
        submission_window: 100,
        audit_window: 200,
        minimum_stake: 100,
        ..gradual_types::TaskParams::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_on_one_task_does_not_delay_another_tasks_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let manager = Keypair::from_seed([30; 32]);
    let node = Keypair::from_seed([31; 32]);
    let flooders: Vec<Keypair> = (0..4).map(|i| Keypair::from_seed([40 + i; 32])).collect();
    let mut accounts = vec![(manager.pubkey(), 10_000_000), (node.pubkey(), 100_000)];
    accounts.extend(flooders.iter().map(|f| (f.pubkey(), 1_000_000)));
    // Small blocks: the flood takes many of them to drain.
    let v = validator_with(dir.path(), 0, accounts, |c| c.block_max_txs = 10).await;
    let url = v.url();
    let c = Client::new(&url);
    let http = reqwest::Client::new();
    let (a, b) = (
        gradual_types::task_id(&manager.pubkey(), 1),
        gradual_types::task_id(&manager.pubkey(), 2),
    );
    for nonce in [1, 2] {
        let ix = Instruction::CreateTask {
            nonce,
            params: task_params(),
            total_bounty: 100_000,
        };
        c.send_and_confirm(&manager, ix).await.unwrap();
    }
    // 1,600 transactions on task A (400 per signer, under the quota), sent in batches.
    let g = c.get_genesis().await.unwrap();
    let slot = c.get_slot().await.unwrap();
    let mut flood = Vec::new();
    for (k, f) in flooders.iter().enumerate() {
        for i in 0..400u64 {
            let ix = Instruction::FundTask {
                task: a,
                amount: 1 + i,
            };
            let tx = Transaction::new_signed(f, &g.chain_id, slot, g.fee_roe, ix);
            flood.push((k, tx));
        }
    }
    let last_flood = flood.last().unwrap().1.signature;
    for chunk in flood.chunks(100) {
        let calls: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, (_, tx))| {
                use base64::Engine;
                let b64 = base64::engine::general_purpose::STANDARD.encode(tx.encode());
                json!({"jsonrpc": "2.0", "id": i, "method": "sendTransaction", "params": [b64]})
            })
            .collect();
        let (_, r) = post(&http, &url, json!(calls).to_string()).await;
        for a in r.as_array().unwrap() {
            assert!(a["result"].is_string(), "{a}");
        }
    }
    // An honest transaction on task B lands within a few blocks, ahead of the flood.
    let sent_at = c.get_slot().await.unwrap();
    let done = c
        .send_and_confirm(
            &node,
            Instruction::Stake {
                task: b,
                amount: 500,
                url: "http://node.example:8080".into(),
                owner: None,
            },
        )
        .await
        .unwrap();
    let st = c.get_signature_status(&last_flood).await.unwrap().unwrap();
    assert_eq!(
        st.state,
        gradual_rpc::dto::TxState::Pending,
        "the flood is still waiting"
    );
    // A FIFO would put it behind 1,600 transactions: 160 blocks of 10.
    let waited = done.slot - sent_at;
    println!("honest stake on task B landed {waited} slots after it was sent, ahead of a 1,600-transaction flood on task A");
    assert!(waited <= 40, "waited {waited} slots");
    v.shutdown().await.unwrap();
}

/// One hostile request of each kind (kind 6: an unsigned 1 MiB artifact upload), over and
/// over, until `stop`.
async fn hostile_loop(url: String, kind: usize, stop: tokio::sync::watch::Receiver<bool>) -> usize {
    let http = reqwest::Client::new();
    let mut sent = 0;
    while !*stop.borrow() {
        if kind % 7 == 6 {
            // Upload flood: 1 MiB artifacts nobody signed, under digests no task names.
            let digest = gradual_types::Hash([(sent % 251) as u8; 32]).to_base58();
            let put = format!("{url}{}/{digest}", gradual_rpc::paths::ARTIFACTS);
            let _ = http.put(&put).body(vec![0u8; 1 << 20]).send().await;
            sent += 1;
            continue;
        }
        let body: String = match kind % 6 {
            0 => format!("[\"{}\"]", "x".repeat(BODY_BYTES_DEFAULT + 1)),
            1 => "[".repeat(500_000) + &"]".repeat(500_000),
            2 => json!({"jsonrpc": "2.0", "id": 1, "method": "getBalance", "params": [long_base58(300_000)]}).to_string(),
            3 => json!({"jsonrpc": "2.0", "id": 1, "method": "sendTransaction", "params": ["A".repeat(TX_BASE64_CHARS_MAX)]}).to_string(),
            4 => json!((0..BATCH_CALLS_DEFAULT)
                .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "waitForSlot", "params": [u64::MAX, 2_000]}))
                .collect::<Vec<_>>())
            .to_string(),
            _ => json!((0..BATCH_CALLS_DEFAULT)
                .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "getBlocks", "params": [0, BLOCKS_LIMIT_MAX, {"transactions": true}]}))
                .collect::<Vec<_>>())
            .to_string(),
        };
        let _ = http.post(&url).body(body).send().await.map(|r| r.bytes());
        sent += 1;
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_keeps_producing_and_honest_calls_answer_under_hostile_rpc() {
    let dir = tempfile::tempdir().unwrap();
    let v = validator(dir.path(), 0, vec![]).await;
    let url = v.url();
    let c = Client::new(&url);
    c.wait_for_slot(2, 5_000).await.unwrap();
    let start_head = c.get_head().await.unwrap();

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let attackers: Vec<_> = (0..14)
        .map(|k| tokio::spawn(hostile_loop(url.clone(), k, stop_rx.clone())))
        .collect();

    // Honest traffic while the flood runs: reads, a transfer via the faucet, its status.
    let flood = Duration::from_secs(4);
    let started = Instant::now();
    let mut worst = Duration::ZERO;
    let mut honest = 0;
    let to = Pubkey([7; 32]);
    while started.elapsed() < flood {
        let t = Instant::now();
        c.get_slot().await.unwrap();
        c.get_balance(&to).await.unwrap();
        let sig = c.request_airdrop(&to, 1 + honest).await.unwrap();
        c.get_signature_status(&sig).await.unwrap().unwrap();
        worst = worst.max(t.elapsed());
        honest += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let end_head = c.get_head().await.unwrap();
    stop_tx.send_replace(true);
    let mut hostile = 0;
    for a in attackers {
        hostile += a.await.unwrap();
    }
    let elapsed = started.elapsed();

    // Blocks kept coming: no gap between consecutive blocks longer than the bound.
    let mut blocks = Vec::new();
    let mut from = start_head.slot;
    while from <= end_head.slot {
        let page = c.get_blocks(from, 100, false).await.unwrap();
        let Some(last) = page.last() else { break };
        from = last.slot + 1;
        blocks.extend(page.into_iter().filter(|b| b.slot <= end_head.slot));
    }
    let gap_slots = blocks
        .windows(2)
        .map(|w| w[1].slot - w[0].slot)
        .max()
        .unwrap_or(0);
    // 40 slots = 2 s at 50 ms: generous for a loaded 2-core machine.
    let gap_max = 2_000 / SLOT_MS;
    println!(
        "{hostile} hostile requests, {honest} honest rounds in {elapsed:?}; worst honest round {worst:?}; \
         blocks {} (slots {}..{}), largest slot gap {gap_slots}",
        blocks.len(),
        start_head.slot,
        end_head.slot
    );
    assert!(hostile > 20, "the flood ran ({hostile} requests)");
    assert!(
        gap_slots <= gap_max,
        "block production stalled {gap_slots} slots (bound {gap_max})"
    );
    let expected = flood.as_millis() as u64 / SLOT_MS;
    assert!(
        blocks.len() as u64 >= expected / 4,
        "{} blocks in {flood:?} at {SLOT_MS} ms slots",
        blocks.len()
    );
    assert!(worst < HONEST_MAX, "an honest round took {worst:?}");
    // Not one byte of the upload flood was kept.
    let kept = std::fs::read_dir(dir.path().join(gradual_validator::ARTIFACTS_DIR))
        .unwrap()
        .count();
    assert_eq!(kept, 0, "unsigned uploads left {kept} files");
    // The honest airdrops land.
    let last = c.request_airdrop(&to, 1).await.unwrap();
    c.confirm(&last).await.unwrap();
    v.shutdown().await.unwrap();
}

#[test]
fn transaction_text_limits_fit_the_largest_transaction() {
    let kp = Keypair::from_seed([1; 32]);
    let tx = Transaction::new_signed(
        &kp,
        "c",
        1,
        0,
        Instruction::Transfer {
            to: Pubkey([2; 32]),
            amount: 1,
        },
    );
    let b64 = base64_len(tx.encode().len());
    assert!(b64 <= TX_BASE64_CHARS_MAX);
    assert_eq!(
        base64_len(gradual_types::constants::TX_BYTES_MAX),
        TX_BASE64_CHARS_MAX
    );
    assert!(long_base58(1).len() <= TX_BASE58_CHARS_MAX);
}

fn base64_len(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}
