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

mod service;

use self::service::*;
use crate::shared::NodeShared;
use crate::status::Health;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use gradual_task_sdk::protocol::{self, paths};
use gradual_types::{format_koii, TaskId};
use serde_json::{json, Value};
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

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
        .statuses()
        .iter()
        .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
        .collect();
    let balance = sh.balance();
    let stats = sh.stats();
    json!({
        "node": sh.me().to_base58(),
        "version": env!("CARGO_PKG_VERSION"),
        "url": sh.public_url(),
        "rpc_url": sh.client().url(),
        "slot": sh.slot(),
        "balance_roe": balance,
        "balance": format_koii(balance),
        "low_balance": sh.low_balance(balance),
        "stats": {
            "proofs_sent": stats.proofs_sent, "checks_asked": stats.checks_asked,
            "audits_raised": stats.audits_raised, "votes_sent": stats.votes_sent,
            "lists_sent": stats.lists_sent, "list_votes_sent": stats.list_votes_sent,
            "suspect_rounds": stats.suspect_rounds,
        },
        "tasks": tasks,
        "confinement": sh.protections(),
    })
}

async fn info(State(sh): State<Shared>) -> Response {
    json_resp(StatusCode::OK, &info_json(&sh))
}

async fn metrics(State(sh): State<Shared>) -> Response {
    let mut out = String::new();
    let c = sh.counters();
    let stats = sh.stats();
    let balance = sh.balance();
    let _ = writeln!(
        out,
        "# TYPE gradual_node_slot gauge\ngradual_node_slot {}",
        sh.slot()
    );
    let _ = writeln!(
        out,
        "# TYPE gradual_node_balance_roe gauge\ngradual_node_balance_roe {balance}"
    );
    let low = u8::from(sh.low_balance(balance));
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
    let st = sh.statuses();
    {
        let _ = writeln!(out, "# TYPE gradual_node_task_status gauge");
        for t in &st {
            for s in Health::ALL.map(Health::as_str) {
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
            for t in &st {
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
    let Some(p) = sh.task(&id) else {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
