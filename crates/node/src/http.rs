//! The node's HTTP server (one port):
//!
//! | path | who | what |
//! |---|---|---|
//! | `GET /health` | anyone | `ok` |
//! | `GET /info` | anyone | node key, slot, balance, per-task status (JSON) |
//! | `GET /metrics` | anyone | Prometheus text |
//! | `ANY /task/<task_id>/<path>` | peers | proxied to the task process's own route `/<path>` |
//! | `/node/v1/*` | the node's task processes (bearer token) | the task-service API of `docs/task-protocol.md` §3 |
//!
//! Peers can never reach a task's control routes (`/gradual/...`) through the proxy.

// Handlers return early with a ready error `Response`; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use crate::node::NodeShared;
use crate::outbound::Outbound;
use crate::store::{KV_KEY_BYTES_MAX, KV_VALUE_BYTES_MAX};
use crate::supervisor::read_limited;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use gradual_task_sdk::protocol::{self, limits, paths};
use gradual_types::{format_koii, Pubkey, TaskId};
use serde_json::{json, Value};
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

type Shared = Arc<NodeShared>;

pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/info", get(info))
        .route("/metrics", get(metrics))
        .route("/task/{task}", any(proxy))
        .route("/task/{task}/{*path}", any(proxy))
        .route(paths::NODE_INFO, get(svc_info))
        .route(paths::NODE_SLOT, get(svc_slot))
        .route(
            &format!("{}/{{*key}}", paths::NODE_KV),
            get(kv_get).put(kv_put).delete(kv_delete),
        )
        .route(paths::NODE_SIGN, post(sign))
        .route(paths::NODE_TASK, get(svc_task))
        .route(&format!("{}/{{round}}", paths::NODE_ROUND), get(svc_round))
        .route(paths::NODE_BLOCKS, get(svc_blocks))
        .route(paths::NODE_PEERS, get(svc_peers))
        .route(&format!("{}/{{node}}", paths::NODE_PEER), get(svc_peer))
        .route(
            &format!("{}/{{node}}/{{*path}}", paths::NODE_PEER),
            get(svc_peer),
        )
        .with_state(shared)
}

fn json_resp<T: serde::Serialize + ?Sized>(status: StatusCode, v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the answer: {e}"),
        )
            .into_response(),
    }
}

fn err(status: StatusCode, msg: impl std::fmt::Display) -> Response {
    json_resp(
        status,
        &protocol::ErrorBody {
            error: msg.to_string(),
        },
    )
}

/// Percent-decode a URL path segment (RFC 3986) into bytes.
fn percent_decode(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let byte = match (b.get(i + 1), b.get(i + 2)) {
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    let hex = [*h, *l];
                    std::str::from_utf8(&hex)
                        .ok()
                        .and_then(|x| u8::from_str_radix(x, 16).ok())
                }
                _ => None,
            };
            let Some(byte) = byte else {
                return Err(format!(
                    "'%' at byte {i} is not followed by two hex digits (percent-encode keys)"
                ));
            };
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// The raw (still percent-encoded) rest of `uri`'s path after `prefix` and one `/`.
fn raw_rest<'a>(uri: &'a Uri, prefix: &str) -> &'a str {
    let rest = uri.path().strip_prefix(prefix).unwrap_or("");
    rest.strip_prefix('/').unwrap_or(rest)
}

fn info_json(sh: &NodeShared) -> Value {
    let tasks: Vec<Value> = sh
        .status
        .read()
        .map(|s| {
            s.values()
                .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
                .collect()
        })
        .unwrap_or_default();
    let balance = sh.balance.load(Ordering::Relaxed);
    let stats = sh.stats.read().map(|s| *s).unwrap_or_default();
    json!({
        "node": sh.me.to_base58(),
        "version": env!("CARGO_PKG_VERSION"),
        "url": sh.public_url,
        "rpc_url": sh.client.url(),
        "slot": sh.slot.load(Ordering::Relaxed),
        "balance_roe": balance,
        "balance": format_koii(balance),
        "low_balance": sh.low_balance_warn_roe > 0 && balance < sh.low_balance_warn_roe,
        "stats": {
            "proofs_sent": stats.proofs_sent, "checks_asked": stats.checks_asked,
            "audits_raised": stats.audits_raised, "votes_sent": stats.votes_sent,
            "lists_sent": stats.lists_sent, "list_votes_sent": stats.list_votes_sent,
            "suspect_rounds": stats.suspect_rounds,
        },
        "tasks": tasks,
        "confinement": sh.protections,
    })
}

async fn info(State(sh): State<Shared>) -> Response {
    json_resp(StatusCode::OK, &info_json(&sh))
}

async fn metrics(State(sh): State<Shared>) -> Response {
    let mut out = String::new();
    let c = &sh.counters;
    let stats = sh.stats.read().map(|s| *s).unwrap_or_default();
    let balance = sh.balance.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "# TYPE gradual_node_slot gauge\ngradual_node_slot {}",
        sh.slot.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# TYPE gradual_node_balance_roe gauge\ngradual_node_balance_roe {balance}"
    );
    let low = u8::from(sh.low_balance_warn_roe > 0 && balance < sh.low_balance_warn_roe);
    let _ = writeln!(
        out,
        "# TYPE gradual_node_low_balance gauge\ngradual_node_low_balance {low}"
    );
    for (name, v) in [
        ("txs_sent", c.txs_sent.load(Ordering::Relaxed)),
        ("txs_refused", c.txs_refused.load(Ordering::Relaxed)),
        ("task_calls_ok", c.calls_ok.load(Ordering::Relaxed)),
        ("task_calls_failed", c.calls_failed.load(Ordering::Relaxed)),
        ("ledger_snapshots", c.snapshots.load(Ordering::Relaxed)),
        (
            "ledger_snapshot_errors",
            c.snapshot_errors.load(Ordering::Relaxed),
        ),
        ("proofs_sent", stats.proofs_sent),
        ("checks_asked", stats.checks_asked),
        ("audits_raised", stats.audits_raised),
        ("votes_sent", stats.votes_sent),
        ("lists_sent", stats.lists_sent),
        ("list_votes_sent", stats.list_votes_sent),
        ("suspect_rounds", stats.suspect_rounds),
    ] {
        let _ = writeln!(
            out,
            "# TYPE gradual_node_{name}_total counter\ngradual_node_{name}_total {v}"
        );
    }
    if let Ok(st) = sh.status.read() {
        let _ = writeln!(out, "# TYPE gradual_node_task_status gauge");
        for t in st.values() {
            for s in [
                "warming_up",
                "active",
                "cooling_down",
                "complete",
                "failing",
            ] {
                let on = u8::from(t.status.as_str() == s);
                let _ = writeln!(
                    out,
                    "gradual_node_task_status{{task=\"{}\",status=\"{s}\"}} {on}",
                    t.task
                );
            }
        }
        for (metric, kind) in [
            ("task_restarts_total", "counter"),
            ("task_stake_roe", "gauge"),
            ("task_pending_rewards_roe", "gauge"),
            ("task_round", "gauge"),
        ] {
            let _ = writeln!(out, "# TYPE gradual_node_{metric} {kind}");
            for t in st.values() {
                let v = match metric {
                    "task_restarts_total" => t.restarts,
                    "task_stake_roe" => t.stake_roe,
                    "task_pending_rewards_roe" => t.pending_rewards_roe,
                    _ => t.round,
                };
                let _ = writeln!(out, "gradual_node_{metric}{{task=\"{}\"}} {v}", t.task);
            }
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// Whether `path_and_query`, once resolved as a URL path (dot segments, percent-encoding),
/// reaches a task's control routes.
fn reaches_control(path_and_query: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(&format!("http://127.0.0.1/{path_and_query}")) else {
        return true;
    };
    let decoded = percent_decode(url.path()).unwrap_or_default();
    let decoded = String::from_utf8_lossy(&decoded).to_ascii_lowercase();
    decoded.starts_with(paths::CONTROL_PREFIX) || decoded.contains("/../")
}

/// `ANY /task/<task>/<path>`: the path is passed on as sent (still percent-encoded).
async fn proxy(
    State(sh): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (task, path) = raw_rest(&uri, "/task")
        .split_once('/')
        .unwrap_or((raw_rest(&uri, "/task"), ""));
    let (task, path) = (task.to_string(), path.to_string());
    let Ok(id) = TaskId::from_base58(&task) else {
        return err(
            StatusCode::BAD_REQUEST,
            format!("'{task}' is not a base58 task id"),
        );
    };
    let Some(p) = sh.tasks.get(&id) else {
        return err(
            StatusCode::NOT_FOUND,
            format!("this node does not run task {task}"),
        );
    };
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    if reaches_control(&pq) {
        return err(
            StatusCode::FORBIDDEN,
            "control routes are not reachable from outside the node",
        );
    }
    let Ok(method) = reqwest::Method::from_bytes(method.as_str().as_bytes()) else {
        return err(StatusCode::METHOD_NOT_ALLOWED, "unsupported method");
    };
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match p.proxy(method, &pq, ct, body.to_vec()).await {
        Ok((status, ct, bytes)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let ct = ct.unwrap_or_else(|| "application/octet-stream".into());
            (status, [(header::CONTENT_TYPE, ct)], bytes).into_response()
        }
        Err(e) => err(StatusCode::BAD_GATEWAY, format!("task {task}: {e}")),
    }
}

/// The task a bearer token belongs to.
fn auth(sh: &NodeShared, headers: &HeaderMap) -> Result<TaskId, Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given.is_none() {
        return Err(err(
            StatusCode::UNAUTHORIZED,
            format!("send Authorization: Bearer <{}>", protocol::env::TASK_TOKEN),
        ));
    }
    sh.tokens
        .iter()
        .find(|(token, _)| protocol::bearer_matches(given, token))
        .map(|(_, task)| *task)
        .ok_or_else(|| err(StatusCode::UNAUTHORIZED, "unknown task token"))
}

async fn svc_info(State(sh): State<Shared>, headers: HeaderMap) -> Response {
    let task = match auth(&sh, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let slot = sh.slot.load(Ordering::Relaxed);
    json_resp(
        StatusCode::OK,
        &protocol::NodeInfo {
            node: sh.me.to_base58(),
            task: task.to_base58(),
            slot,
            round: sh.round_of(&task, slot),
            slot_ms: sh.slot_ms,
        },
    )
}

async fn svc_slot(State(sh): State<Shared>, headers: HeaderMap) -> Response {
    let task = match auth(&sh, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let slot = sh.slot.load(Ordering::Relaxed);
    json_resp(
        StatusCode::OK,
        &protocol::SlotInfo {
            slot,
            round: sh.round_of(&task, slot),
        },
    )
}

/// The key of a `/node/v1/kv/<key>` call: the rest of the path, percent-decoded (keys are
/// bytes).
fn kv_key(uri: &Uri) -> Result<Vec<u8>, Response> {
    let key = percent_decode(raw_rest(uri, paths::NODE_KV))
        .map_err(|e| err(StatusCode::BAD_REQUEST, format!("key: {e}")))?;
    if key.is_empty() || key.len() > KV_KEY_BYTES_MAX {
        return Err(err(
            StatusCode::BAD_REQUEST,
            format!(
                "key must be 1 to {KV_KEY_BYTES_MAX} bytes, got {}",
                key.len()
            ),
        ));
    }
    Ok(key)
}

async fn kv_get(State(sh): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let task = match auth(&sh, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let k = match kv_key(&uri) {
        Ok(k) => k,
        Err(r) => return r,
    };
    match sh.store.kv_get(&task, &k) {
        Ok(Some(v)) => ([(header::CONTENT_TYPE, "application/octet-stream")], v).into_response(),
        Ok(None) => err(
            StatusCode::NOT_FOUND,
            format!("no value for key '{}'", String::from_utf8_lossy(&k)),
        ),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn kv_put(State(sh): State<Shared>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    let task = match auth(&sh, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let k = match kv_key(&uri) {
        Ok(k) => k,
        Err(r) => return r,
    };
    if body.len() > KV_VALUE_BYTES_MAX {
        return err(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "value is {} bytes, the most is {KV_VALUE_BYTES_MAX}",
                body.len()
            ),
        );
    }
    match sh.store.kv_put(&task, &k, &body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn kv_delete(State(sh): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let task = match auth(&sh, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let k = match kv_key(&uri) {
        Ok(k) => k,
        Err(r) => return r,
    };
    match sh.store.kv_delete(&task, &k) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn sign(State(sh): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let task = match auth(&sh, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let req: protocol::SignRequest = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return err(
                StatusCode::BAD_REQUEST,
                format!("body must be {{\"message\": \"<base64>\"}}: {e}"),
            )
        }
    };
    let msg = match protocol::parse_b64("message", &req.message) {
        Ok(b) => b,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    let sig = sh.keypair.sign(&protocol::task_message_bytes(&task, &msg));
    json_resp(
        StatusCode::OK,
        &protocol::SignResponse {
            signer: sh.me.to_base58(),
            signature: sig.to_base58(),
        },
    )
}

fn upstream<T: serde::Serialize>(r: Result<T, gradual_client::ClientError>) -> Response {
    match r {
        Ok(v) => json_resp(StatusCode::OK, &v),
        Err(e)
            if e.rpc_error()
                .is_some_and(|r| r.code == gradual_rpc::codes::NOT_FOUND) =>
        {
            err(StatusCode::NOT_FOUND, e)
        }
        Err(e) => err(StatusCode::BAD_GATEWAY, e),
    }
}

async fn svc_task(State(sh): State<Shared>, headers: HeaderMap) -> Response {
    let task = match auth(&sh, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let flags = gradual_client::TaskInfoFlags {
        stakes: true,
        ..Default::default()
    };
    upstream(sh.client.get_task_account_info(&task, flags).await)
}

async fn svc_round(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Path(round): Path<String>,
) -> Response {
    let task = match auth(&sh, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Ok(round) = round.parse::<u64>() else {
        return err(
            StatusCode::BAD_REQUEST,
            format!("round '{round}' is not a number"),
        );
    };
    upstream(sh.client.get_task_submission_info(&task, round).await)
}

/// The value of query parameter `name`, if present.
fn query<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

fn query_u64(uri: &Uri, name: &str) -> Result<Option<u64>, Response> {
    query(uri, name)
        .map(|v| {
            v.parse().map_err(|_| {
                err(
                    StatusCode::BAD_REQUEST,
                    format!("{name}='{v}' is not a number"),
                )
            })
        })
        .transpose()
}

/// `GET /node/v1/blocks?from=<slot>&limit=<1-100>&transactions=true|false`.
async fn svc_blocks(State(sh): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    if let Err(r) = auth(&sh, &headers) {
        return r;
    }
    let (from, limit) = match (query_u64(&uri, "from"), query_u64(&uri, "limit")) {
        (Ok(f), Ok(l)) => (f.unwrap_or(0), l.unwrap_or(10)),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    if !(1..=limits::BLOCKS_LIMIT_MAX).contains(&limit) {
        return err(
            StatusCode::BAD_REQUEST,
            format!(
                "limit={limit}: ask for 1 to {} blocks",
                limits::BLOCKS_LIMIT_MAX
            ),
        );
    }
    let transactions = match query(&uri, "transactions") {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return err(
                StatusCode::BAD_REQUEST,
                format!("transactions='{other}': use true or false"),
            )
        }
    };
    upstream(sh.client.get_blocks(from, limit, transactions).await)
}

async fn svc_peers(State(sh): State<Shared>, headers: HeaderMap) -> Response {
    let task = match auth(&sh, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let peers: Vec<protocol::PeerInfo> = sh
        .peers
        .read()
        .ok()
        .and_then(|p| p.get(&task).cloned())
        .unwrap_or_default()
        .into_iter()
        .map(|(n, url, stake)| protocol::PeerInfo {
            node: n.to_base58(),
            url,
            stake,
        })
        .collect();
    json_resp(StatusCode::OK, &peers)
}

/// `GET /node/v1/peer/<node>/<path>`: relays `<peer url>/task/<task>/<path>` (the path as
/// sent, still percent-encoded); the peer's status and body come back as they are, and
/// 502 when the peer is unknown, unreachable, redirects, or is at an address the operator
/// does not allow (the URL is the staker's choice: see `outbound.rs`).
async fn svc_peer(State(sh): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let task = match auth(&sh, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let rest = raw_rest(&uri, paths::NODE_PEER);
    let (node, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Ok(node) = node.parse::<Pubkey>() else {
        return err(
            StatusCode::BAD_GATEWAY,
            format!(
                "'{}' is not a base58 node key",
                node.chars().take(100).collect::<String>()
            ),
        );
    };
    let url = sh.peers.read().ok().and_then(|p| {
        p.get(&task).and_then(|l| {
            l.iter()
                .find(|(n, _, _)| *n == node)
                .map(|(_, u, _)| u.clone())
        })
    });
    let Some(base) = url.filter(|u| !u.is_empty()) else {
        return err(
            StatusCode::BAD_GATEWAY,
            format!("node {node} is not a staker of this task with a URL"),
        );
    };
    let mut target = format!(
        "{}/task/{}/{path}",
        base.trim_end_matches('/'),
        task.to_base58(),
    );
    if let Some(q) = uri.query() {
        target.push('?');
        target.push_str(q);
    }
    let timeout = sh
        .tasks
        .get(&task)
        .map(|p| p.limits.call_timeout_ms)
        .unwrap_or(5_000);
    relay(&sh.outbound, &node, &target, Duration::from_millis(timeout)).await
}

/// `GET target` for the peer proxy; the peer's answer, or 502 saying why not.
async fn relay(out: &Outbound, node: &Pubkey, target: &str, timeout: Duration) -> Response {
    let resp = match out.get(target, timeout).await {
        Ok(r) => r,
        Err(e) => return err(StatusCode::BAD_GATEWAY, format!("peer {node}: {e}")),
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    match read_limited(resp, crate::supervisor::TASK_ANSWER_BYTES_MAX).await {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, ct)], bytes).into_response(),
        Err(e) => err(StatusCode::BAD_GATEWAY, format!("peer {node}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_keys_and_paths_are_percent_decoded() {
        assert_eq!(percent_decode("proof%2F7").unwrap(), b"proof/7");
        assert_eq!(percent_decode("a%20b%ff").unwrap(), b"a b\xff");
        assert_eq!(percent_decode("plain-key").unwrap(), b"plain-key");
        assert!(percent_decode("bad%2").is_err());
        assert!(percent_decode("bad%+1").is_err());
        let uri: Uri = "/node/v1/kv/proof%2F7".parse().unwrap();
        assert_eq!(kv_key(&uri).unwrap(), b"proof/7");
        let uri: Uri = "/node/v1/kv/".parse().unwrap();
        assert!(kv_key(&uri).is_err());
    }

    #[test]
    fn peers_cannot_reach_control_routes() {
        assert!(!reaches_control("proof/3"));
        assert!(!reaches_control("index/3?x=gradual/"));
        assert!(reaches_control("gradual/v1/submission"));
        assert!(reaches_control("x/../gradual/v1/audit"));
        assert!(reaches_control("x/%2e%2e/gradual/v1/audit"));
        assert!(reaches_control("%67radual/v1/task"));
        assert!(reaches_control("GRADUAL/v1/task"));
    }

    use crate::outbound::testing::serve;
    use crate::outbound::OutboundPolicy;
    use std::sync::atomic::Ordering as AtomicOrdering;

    async fn relayed(out: &Outbound, target: &str) -> (StatusCode, String) {
        let node = gradual_types::Keypair::from_seed([7; 32]).pubkey();
        let resp = relay(out, &node, target, Duration::from_secs(5)).await;
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn peer_url_pointing_at_loopback_is_refused() {
        // A staker registered a URL on the node's own loopback: a real server answers there.
        let (addr, hits) = serve(200, None, "internal secret").await;
        let target = format!("http://{addr}/task/x/proof/1");
        let (status, body) = relayed(
            &Outbound::guarded(OutboundPolicy::default()).unwrap(),
            &target,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(body.contains("127.0.0.1 is a loopback address"), "{body}");
        assert!(body.contains("[outbound]"), "{body}");
        assert!(!body.contains("internal secret"), "{body}");
        assert_eq!(
            hits.load(AtomicOrdering::SeqCst),
            0,
            "the server was called"
        );
        // The same through a name, and through the cloud metadata address.
        let by_name = format!("http://localhost:{}/task/x/proof/1", addr.port());
        let (status, body) = relayed(
            &Outbound::guarded(OutboundPolicy::default()).unwrap(),
            &by_name,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(body.contains("'localhost'"), "{body}");
        let (status, body) = relayed(
            &Outbound::guarded(OutboundPolicy::default()).unwrap(),
            "http://169.254.169.254/latest/meta-data/",
        )
        .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(body.contains("link-local"), "{body}");
        assert_eq!(hits.load(AtomicOrdering::SeqCst), 0);
        // Allowed explicitly (as the devnet does), the peer is reached.
        let (status, body) = relayed(
            &Outbound::guarded(OutboundPolicy::with_loopback()).unwrap(),
            &target,
        )
        .await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "internal secret"));
        assert_eq!(hits.load(AtomicOrdering::SeqCst), 1);
    }

    #[tokio::test]
    async fn peer_proxy_does_not_follow_redirects() {
        let (inner, inner_hits) = serve(200, None, "internal secret").await;
        let (peer, peer_hits) = serve(302, Some(format!("http://{inner}/secret")), "").await;
        let target = format!("http://{peer}/task/x/proof/1");
        let out = Outbound::guarded(OutboundPolicy::with_loopback()).unwrap();
        let (status, body) = relayed(&out, &target).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(body.contains(&target), "{body}");
        assert!(body.contains("HTTP 302"), "{body}");
        assert!(body.contains("does not follow redirects"), "{body}");
        assert_eq!(peer_hits.load(AtomicOrdering::SeqCst), 1);
        assert_eq!(
            inner_hits.load(AtomicOrdering::SeqCst),
            0,
            "the redirect was followed"
        );
    }
}
