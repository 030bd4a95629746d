//! Test helpers (feature `test-utils`): [`FakeNode`], an in-process stand-in for the node's
//! task-service API with state a test can set and inspect, [`start_task`] to serve an SDK
//! task on an ephemeral port against it, and [`ControlClient`] to make the node's control
//! calls.
//!
//! It is **not** the node: no scheduler, no ledger, no process management. Blocks, the task
//! account and rounds are whatever the test puts in [`FakeState`].

use crate::protocol::{self, paths};
use crate::respond::error as err_json;
use crate::{Context, Task, TaskEnv};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use gradual_rpc::dto::*;
use gradual_types::{Executable, Keypair, Pubkey, TaskId, TaskParams};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Everything the fake node serves; tests change it through [`FakeNode::state`].
#[derive(Debug)]
pub struct FakeState {
    pub task_id: TaskId,
    pub keypair: Keypair,
    pub token: String,
    pub slot: u64,
    pub slot_ms: u64,
    pub kv: BTreeMap<String, Vec<u8>>,
    pub task: TaskDto,
    pub rounds: BTreeMap<u64, SubmissionInfoDto>,
    pub blocks: Vec<BlockDto>,
    pub peers: Vec<protocol::PeerInfo>,
    /// Peer node (base58) → base URL of its task process (the fake relays to it directly).
    pub peer_routes: BTreeMap<String, String>,
    /// `METHOD path` of every authorised call, in order.
    pub calls: Vec<String>,
}

/// A running fake node-service.
#[derive(Debug)]
pub struct FakeNode {
    pub url: String,
    pub state: Arc<Mutex<FakeState>>,
}

/// A task account with the given timing and SPEC defaults elsewhere.
pub fn task_dto(
    task_id: &TaskId,
    starting_slot: u64,
    round_time: u64,
    submission_window: u64,
    audit_window: u64,
) -> TaskDto {
    TaskDto {
        id: *task_id,
        manager: Keypair::from_seed([0xaa; 32]).pubkey(),
        params: TaskParams {
            name: "test".into(),
            executable: Executable {
                runtime: "native".into(),
                ..Executable::default()
            },
            bounty_per_round: 1_000,
            round_time,
            submission_window,
            audit_window,
            minimum_stake: 1,
            ..TaskParams::default()
        },
        pending_params: None,
        starting_slot,
        total_bounty: 100_000,
        reserved_bounty: 0,
        is_active: true,
        closed: false,
        open_rounds: 0,
        paid_total: 0,
        terms_log: vec![],
        slot: starting_slot,
        current_round: 0,
        open_windows: vec![],
        stakers: 0,
        total_stake: 0,
        stakes: None,
        pending_rewards: None,
        rounds: None,
        next: None,
    }
}

/// A block at `slot` carrying `txs` (signature, signer, instruction) that all succeeded.
pub fn block(slot: u64, txs: &[(&str, &str, &str)]) -> BlockDto {
    let hash = gradual_types::Hash::domain("test-block", &[&slot.to_le_bytes()]);
    BlockDto {
        slot,
        height: slot,
        hash,
        parent_hash: gradual_types::Hash::ZERO,
        producer: gradual_types::ValidatorKey::devnet().info().id,
        randomness: gradual_types::Hash::domain("test-randomness", &[&slot.to_le_bytes()]),
        vrf_proof: VrfProofDto {
            preout: gradual_types::Hash::ZERO,
            proof: [0; 64],
        },
        tx_root: gradual_types::Hash::ZERO,
        state_root: gradual_types::Hash::ZERO,
        tx_count: txs.len() as u32,
        transactions: Some(
            txs.iter()
                .map(|(sig, signer, ix)| TxDto {
                    signature: sig.to_string(),
                    signer: signer.to_string(),
                    instruction: ix.to_string(),
                    recent_slot: slot,
                    fee: 0,
                    fee_charged: 0,
                    err: None,
                    details: None,
                })
                .collect(),
        ),
        next_tx_offset: None,
    }
}

fn reply(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert("content-type", v);
    }
    r
}

fn ok_json<T: serde::Serialize>(v: &T) -> Response {
    crate::respond::json(StatusCode::OK, v)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn query(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

async fn handle(
    State(state): State<Arc<Mutex<FakeState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let relay = {
        let Ok(mut st) = state.lock() else {
            return err_json(
                StatusCode::INTERNAL_SERVER_ERROR,
                "fake node state poisoned",
            );
        };
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
        if !protocol::bearer_matches(auth, &st.token) {
            return err_json(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
        }
        st.calls.push(format!("{method} {path}"));
        let rest = path.strip_prefix("/node/v1/").unwrap_or("");
        let (head, tail) = rest.split_once('/').unwrap_or((rest, ""));
        match (method.as_str(), head) {
            ("GET", "info") => {
                return ok_json(&protocol::NodeInfo {
                    node: st.keypair.pubkey().to_base58(),
                    task: st.task_id.to_base58(),
                    slot: st.slot,
                    round: round_of(&st),
                    slot_ms: st.slot_ms,
                })
            }
            ("GET", "slot") => {
                return ok_json(&protocol::SlotInfo {
                    slot: st.slot,
                    round: round_of(&st),
                })
            }
            (m, "kv") => {
                let Some(key) = percent_decode(tail) else {
                    return err_json(StatusCode::BAD_REQUEST, "bad key encoding");
                };
                return match m {
                    "GET" => match st.kv.get(&key) {
                        Some(v) => reply(StatusCode::OK, "application/octet-stream", v.clone()),
                        None => err_json(StatusCode::NOT_FOUND, format!("no key '{key}'")),
                    },
                    "PUT" => {
                        st.kv.insert(key, body.to_vec());
                        reply(StatusCode::NO_CONTENT, "text/plain", vec![])
                    }
                    "DELETE" => {
                        st.kv.remove(&key);
                        reply(StatusCode::NO_CONTENT, "text/plain", vec![])
                    }
                    _ => err_json(StatusCode::METHOD_NOT_ALLOWED, "kv: GET, PUT or DELETE"),
                };
            }
            ("POST", "sign") => {
                let req: protocol::SignRequest = match serde_json::from_slice(&body) {
                    Ok(r) => r,
                    Err(e) => return err_json(StatusCode::BAD_REQUEST, e.to_string()),
                };
                let msg = match protocol::parse_b64("message", &req.message) {
                    Ok(m) => m,
                    Err(e) => return err_json(StatusCode::BAD_REQUEST, e.to_string()),
                };
                let sig = st
                    .keypair
                    .sign(&protocol::task_message_bytes(&st.task_id, &msg));
                return ok_json(&protocol::SignResponse {
                    signer: st.keypair.pubkey().to_base58(),
                    signature: sig.to_base58(),
                });
            }
            ("GET", "task") => return ok_json(&st.task),
            ("GET", "round") => {
                let r: Option<u64> = tail.parse().ok();
                return match r.and_then(|r| st.rounds.get(&r)) {
                    Some(info) => ok_json(info),
                    None => err_json(StatusCode::NOT_FOUND, format!("no round '{tail}'")),
                };
            }
            ("GET", "blocks") => {
                let from: u64 = query(&uri, "from")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let limit: usize = query(&uri, "limit")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(100);
                let with_txs = query(&uri, "transactions").as_deref() == Some("true");
                let blocks: Vec<BlockDto> = st
                    .blocks
                    .iter()
                    .filter(|b| b.slot >= from && b.slot <= st.slot)
                    .take(limit.min(100))
                    .map(|b| {
                        let mut b = b.clone();
                        if !with_txs {
                            b.transactions = None;
                        }
                        b
                    })
                    .collect();
                return ok_json(&blocks);
            }
            ("GET", "peers") => return ok_json(&st.peers),
            ("GET", "peer") => {
                let (peer, sub) = tail.split_once('/').unwrap_or((tail, ""));
                match st.peer_routes.get(peer) {
                    Some(base) => format!("{base}/{sub}"),
                    None => {
                        return err_json(
                            StatusCode::BAD_GATEWAY,
                            format!("peer {peer} is not reachable"),
                        )
                    }
                }
            }
            _ => return err_json(StatusCode::NOT_FOUND, format!("no route {method} {path}")),
        }
    };
    match reqwest::get(&relay).await {
        Ok(r) => {
            let status = StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::OK);
            let body = r.bytes().await.unwrap_or_default().to_vec();
            reply(status, "application/octet-stream", body)
        }
        Err(e) => err_json(StatusCode::BAD_GATEWAY, format!("peer unreachable: {e}")),
    }
}

fn round_of(st: &FakeState) -> u64 {
    st.slot.saturating_sub(st.task.starting_slot) / st.task.params.round_time.max(1)
}

impl FakeNode {
    /// Start a fake node on an ephemeral loopback port.
    pub async fn start(
        task_id: TaskId,
        keypair: Keypair,
        token: &str,
        task: TaskDto,
    ) -> std::io::Result<FakeNode> {
        let state = Arc::new(Mutex::new(FakeState {
            task_id,
            keypair,
            token: token.to_string(),
            slot: task.starting_slot,
            slot_ms: 400,
            kv: BTreeMap::new(),
            task,
            rounds: BTreeMap::new(),
            blocks: Vec::new(),
            peers: Vec::new(),
            peer_routes: BTreeMap::new(),
            calls: Vec::new(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeNode { url, state })
    }

    /// [`FakeNode::start`] with the key `[seed; 32]` and a task of rounds of 10 slots from
    /// slot 100 (submission and audit windows of 3), so round 1 is slots 110..120.
    pub async fn start_seeded(task_id: TaskId, seed: u8, token: &str) -> std::io::Result<FakeNode> {
        let task = task_dto(&task_id, 100, 10, 3, 3);
        FakeNode::start(task_id, Keypair::from_seed([seed; 32]), token, task).await
    }

    pub fn node(&self) -> Pubkey {
        self.with(|s| s.keypair.pubkey())
    }

    /// Run `f` on the state.
    pub fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        let mut g = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    /// The environment a task started by this node would get.
    pub fn env(&self, port: u16, data_dir: &Path) -> TaskEnv {
        self.with(|s| TaskEnv {
            task_id: s.task_id,
            node: s.keypair.pubkey(),
            port,
            node_url: self.url.clone(),
            token: s.token.clone(),
            data_dir: data_dir.to_path_buf(),
            adversary: None,
        })
    }
}

/// Serve `task` on an ephemeral port with `env` (its `port` is replaced); returns the
/// task's base URL and a [`Context`] like the task's own.
pub async fn start_task<T: Task>(task: T, mut env: TaskEnv) -> std::io::Result<(String, Context)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    env.port = addr.port();
    let ctx = Context::new(env.clone()).map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        if let Err(e) = crate::serve(listener, task, env).await {
            eprintln!("test task stopped: {e:#}");
        }
    });
    Ok((format!("http://{addr}"), ctx))
}

/// The node's side of the control calls, for tests: each returns the status and JSON body.
#[derive(Debug, Clone)]
pub struct ControlClient {
    pub url: String,
    pub token: String,
    http: reqwest::Client,
}

impl ControlClient {
    pub fn new(url: &str, token: &str) -> ControlClient {
        ControlClient {
            url: url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .unwrap_or_default(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Result<(u16, serde_json::Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header(protocol::AUTHORIZATION, protocol::bearer(&self.token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        let v = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok((status, v))
    }

    pub async fn health(&self) -> reqwest::Result<(u16, serde_json::Value)> {
        self.call(Method::GET, paths::HEALTH, None).await
    }

    pub async fn task(&self, round: u64) -> reqwest::Result<(u16, serde_json::Value)> {
        self.round_call(paths::TASK, round).await
    }

    pub async fn submission(&self, round: u64) -> reqwest::Result<(u16, serde_json::Value)> {
        self.round_call(paths::SUBMISSION, round).await
    }

    /// `POST path {"round": round}`.
    async fn round_call(
        &self,
        path: &str,
        round: u64,
    ) -> reqwest::Result<(u16, serde_json::Value)> {
        self.post(path, serde_json::json!({ "round": round })).await
    }

    async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> reqwest::Result<(u16, serde_json::Value)> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn audit(
        &self,
        round: u64,
        candidate: &Pubkey,
        value: &[u8],
    ) -> reqwest::Result<(u16, serde_json::Value)> {
        let body = serde_json::json!({
            "round": round,
            "candidate": candidate.to_base58(),
            "value": protocol::b64_encode(value),
        });
        self.post(paths::AUDIT, body).await
    }

    pub async fn distribution(
        &self,
        round: u64,
        submitters: &[Pubkey],
        bounty: u64,
    ) -> reqwest::Result<(u16, serde_json::Value)> {
        let submitters: Vec<String> = submitters.iter().map(|p| p.to_base58()).collect();
        let body = serde_json::json!({
            "round": round,
            "submitters": submitters,
            "bounty": bounty,
        });
        self.post(paths::DISTRIBUTION, body).await
    }

    /// The submission's proof bytes (`None` for `{"value": null}` or a non-2xx answer).
    pub async fn submission_bytes(&self, round: u64) -> reqwest::Result<Option<Vec<u8>>> {
        let (status, v) = self.submission(round).await?;
        if status != 200 {
            return Ok(None);
        }
        Ok(v.get("value")
            .and_then(|x| x.as_str())
            .and_then(|s| protocol::parse_b64("value", s).ok()))
    }

    /// The audit's verdict string, or `"error <status>"`.
    pub async fn verdict(
        &self,
        round: u64,
        candidate: &Pubkey,
        value: &[u8],
    ) -> reqwest::Result<String> {
        let (status, v) = self.audit(round, candidate, value).await?;
        if status != 200 {
            return Ok(format!("error {status}"));
        }
        Ok(v.get("verdict")
            .and_then(|x| x.as_str())
            .unwrap_or("missing")
            .to_string())
    }
}
