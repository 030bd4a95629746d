//! Fuzzing hostile JSON-RPC bodies against a real validator on loopback (issue #9).
//!
//! Each case is one HTTP body: random bytes, random JSON, a request for a real or misspelt
//! method with params of every JSON type and of lengths around every limit (base58 keys of 44
//! and 45 characters, 2,800-character transactions, 100 KB strings), batches of up to 150
//! calls, or nesting thousands of levels deep. A case fails when the validator answers
//! anything but JSON with a client-error or busy status, or drops the connection (which is
//! what a panicking handler does). After the run the validator must still be healthy and
//! still producing blocks.
//!
//! `waitForSlot` timeouts are cut to at most 10 ms so long polls do not dominate the run;
//! their bounds have their own end-to-end test (crates/validator/tests/hostile_rpc.rs).

use gradual_rpc::methods;
use gradual_types::{Faucet, Genesis, Keypair};
use gradual_validator::{start, ValidatorConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Requests in flight at once.
const CONCURRENCY: usize = 16;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RpcFuzzStats {
    pub cases: u64,
    /// Answers by HTTP status class.
    pub ok_200: u64,
    pub client_error_4xx: u64,
    pub busy_503: u64,
    /// Failures: dropped connections, 5xx other than 503, or a non-JSON answer.
    pub failures: u64,
    pub first_failures: Vec<String>,
    /// Slots the chain advanced during the run, and whether it answered `getHealth` after.
    pub slots_advanced: u64,
    pub healthy_after: bool,
}

/// Start a validator in `dir` and send it `cases` fuzzed bodies from `seed`.
pub async fn run_rpc_cases(dir: &std::path::Path, seed: u64, cases: u64) -> RpcFuzzStats {
    let faucet = Keypair::from_seed([7; 32]);
    let genesis = Genesis {
        chain_id: "fuzz-rpc".into(),
        slot_ms: 20,
        faucet: Some(Faucet::new(faucet.pubkey(), 1_000_000_000_000)),
        ..Genesis::default()
    };
    let mut config =
        ValidatorConfig::new(dir.to_path_buf(), "127.0.0.1:0".parse().unwrap(), genesis);
    config.faucet_keypair = Some(faucet);
    let validator = start(config).await.expect("validator starts");
    let url = format!("http://{}/", validator.local_addr());
    let http = reqwest::Client::new();
    let first_slot = get_slot(&http, &url).await;

    let next = Arc::new(AtomicU64::new(0));
    let stats = Arc::new(Mutex::new(RpcFuzzStats::default()));
    let mut workers = Vec::new();
    for w in 0..CONCURRENCY {
        let (next, stats, http, url) = (next.clone(), stats.clone(), http.clone(), url.clone());
        workers.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed ^ (w as u64).wrapping_mul(0x9e37_79b9));
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= cases {
                    break;
                }
                let body = body(&mut rng);
                let verdict = send(&http, &url, body).await;
                let mut s = stats.lock().expect("no panics while held");
                s.cases += 1;
                match verdict {
                    Answer::Ok => s.ok_200 += 1,
                    Answer::ClientError => s.client_error_4xx += 1,
                    Answer::Busy => s.busy_503 += 1,
                    Answer::Failed(why) => {
                        s.failures += 1;
                        if s.first_failures.len() < 5 {
                            s.first_failures
                                .push(format!("case {i} (worker {w}): {why}"));
                        }
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    let mut s = stats.lock().expect("workers done").clone();
    // Give the producer a moment, then check it is still alive and the door still answers.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let last = get_slot(&http, &url).await;
    s.slots_advanced = last.saturating_sub(first_slot);
    s.healthy_after = post_json(
        &http,
        &url,
        &json!({"jsonrpc":"2.0","id":1,"method":"getHealth"}),
    )
    .await["result"]
        == "ok";
    validator.shutdown().await.ok();
    s
}

enum Answer {
    Ok,
    ClientError,
    Busy,
    Failed(String),
}

/// The validator's slot (`getSlot`), 0 when it does not answer.
async fn get_slot(http: &reqwest::Client, url: &str) -> u64 {
    let v = post_json(
        http,
        url,
        &json!({"jsonrpc":"2.0","id":1,"method":"getSlot"}),
    )
    .await;
    v["result"].as_u64().unwrap_or(0)
}

async fn post_json(http: &reqwest::Client, url: &str, v: &Value) -> Value {
    match http
        .post(url)
        .header("content-type", "application/json")
        .body(v.to_string())
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

async fn send(http: &reqwest::Client, url: &str, body: Vec<u8>) -> Answer {
    let r = match http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return Answer::Failed(format!("no answer: {e}")),
    };
    let status = r.status().as_u16();
    let bytes = match r.bytes().await {
        Ok(b) => b,
        Err(e) => return Answer::Failed(format!("answer cut off: {e}")),
    };
    // Every answer is JSON (a notification-only batch gets an empty 200/204).
    if !bytes.is_empty() && serde_json::from_slice::<Value>(&bytes).is_err() {
        return Answer::Failed(format!(
            "status {status}, not JSON: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        ));
    }
    match status {
        200 | 204 => Answer::Ok,
        503 => Answer::Busy,
        400..=499 => Answer::ClientError,
        s => Answer::Failed(format!("status {s}")),
    }
}

/// One hostile body.
fn body(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..20) {
        0 => (0..rng.gen_range(0..2048)).map(|_| rng.gen()).collect(),
        1 => {
            let depth = rng.gen_range(10..20_000);
            let open = if rng.gen() { "[" } else { "{\"a\":" };
            let mut s = open.repeat(depth);
            if rng.gen() {
                s.push_str(&"]".repeat(depth));
            }
            s.into_bytes()
        }
        2 => random_value(rng, 0).to_string().into_bytes(),
        3..=5 => {
            let n = match rng.gen_range(0..4) {
                0 => 0,
                1 => rng.gen_range(100..150),
                _ => rng.gen_range(1..20),
            };
            Value::Array((0..n).map(|_| request(rng)).collect())
                .to_string()
                .into_bytes()
        }
        _ => request(rng).to_string().into_bytes(),
    }
}

fn request(rng: &mut StdRng) -> Value {
    let mut m = Map::new();
    if rng.gen_bool(0.95) {
        m.insert(
            "jsonrpc".into(),
            if rng.gen_bool(0.9) {
                json!("2.0")
            } else {
                random_value(rng, 3)
            },
        );
    }
    if rng.gen_bool(0.9) {
        let id = match rng.gen_range(0..6) {
            0 => json!(u64::MAX),
            1 => json!(i64::MIN),
            2 => json!(1.5),
            3 => json!("x".repeat(rng.gen_range(0..300))),
            4 => Value::Null,
            _ => json!(rng.gen::<u32>()),
        };
        m.insert("id".into(), id);
    }
    let method = if rng.gen_bool(0.85) {
        methods::ALL[rng.gen_range(0..methods::ALL.len())].to_string()
    } else {
        match rng.gen_range(0..3) {
            0 => "getBalanse".into(),
            1 => "g".repeat(rng.gen_range(60..5000)),
            _ => String::new(),
        }
    };
    let params = match rng.gen_range(0..8) {
        0 => random_value(rng, 2),
        1 => Value::Null,
        _ => Value::Array((0..rng.gen_range(0..5)).map(|_| param(rng)).collect()),
    };
    let params = if method == methods::WAIT_FOR_SLOT {
        // Long polls are bounded by their own test; keep them short here.
        json!([rng.gen::<u32>(), rng.gen_range(0..10)])
    } else {
        params
    };
    m.insert("method".into(), json!(method));
    if rng.gen_bool(0.9) {
        m.insert("params".into(), params);
    }
    Value::Object(m)
}

const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn text_of(rng: &mut StdRng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// A param value around the limits the door enforces.
fn param(rng: &mut StdRng) -> Value {
    let len = match rng.gen_range(0..8) {
        0 => 43,
        1 => 44,
        2 => 45,
        3 => 88,
        4 => 2_801,
        5 => rng.gen_range(80_000..100_000),
        _ => rng.gen_range(0..64),
    };
    match rng.gen_range(0..10) {
        0 => json!(text_of(rng, BASE58, len)),
        1 => json!(text_of(rng, BASE64, len)),
        2 => json!(u64::MAX),
        3 => json!(-1),
        4 => json!(rng.gen::<f64>() * 1e300),
        5 => {
            json!({"encoding": "base64", "limit": u64::MAX, "offset": rng.gen::<u32>(), "after": text_of(rng, BASE58, 44)})
        }
        6 => json!({"stakes": true, "rounds": true, "limit": rng.gen_range(0..5000)}),
        7 => json!(rng.gen::<u16>()),
        8 => json!("base58"),
        _ => random_value(rng, 2),
    }
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    let leaf = depth >= 6 || rng.gen_bool(0.5);
    match (leaf, rng.gen_range(0..6)) {
        (_, 0) => Value::Null,
        (_, 1) => json!(rng.gen::<bool>()),
        (_, 2) => json!(rng.gen::<i64>()),
        (true, _) => {
            let len = rng.gen_range(0..50);
            json!(text_of(rng, BASE58, len))
        }
        (false, 3 | 4) => Value::Array(
            (0..rng.gen_range(0..6))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        (false, _) => {
            let mut m = Map::new();
            for _ in 0..rng.gen_range(0..6) {
                m.insert(text_of(rng, BASE58, 6), random_value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}
