//! The task-service API `/node/v1/*` (docs/task-protocol.md §3): what a node's own task
//! processes may ask of it, each call authenticated by the task's bearer token ([`Caller`]).

use super::{err, json_resp, percent_decode, raw_rest, Shared};
use crate::outbound::Outbound;
use crate::shared::NodeShared;
use crate::store::{KV_KEY_BYTES_MAX, KV_VALUE_BYTES_MAX};
use crate::supervisor::read_limited;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gradual_task_sdk::protocol::{self, limits, paths};
use gradual_types::{Pubkey, TaskId};
use std::time::Duration;

/// The task whose process made the call, from its bearer token; a call without a known
/// token is refused (401) before anything else is read.
pub(super) struct Caller(pub TaskId);

impl FromRequestParts<Shared> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, sh: &Shared) -> Result<Caller, Response> {
        auth(sh, &parts.headers).map(Caller)
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
    sh.task_of_token(given)
        .ok_or_else(|| err(StatusCode::UNAUTHORIZED, "unknown task token"))
}

pub(super) async fn svc_info(State(sh): State<Shared>, Caller(task): Caller) -> Response {
    let slot = sh.slot();
    json_resp(
        StatusCode::OK,
        &protocol::NodeInfo {
            node: sh.me().to_base58(),
            task: task.to_base58(),
            slot,
            round: sh.round_of(&task, slot),
            slot_ms: sh.slot_ms(),
        },
    )
}

pub(super) async fn svc_slot(State(sh): State<Shared>, Caller(task): Caller) -> Response {
    let slot = sh.slot();
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

/// The key of a `/node/v1/kv/<key>` call, read after the [`Caller`].
pub(super) struct KvKey(Vec<u8>);

impl FromRequestParts<Shared> for KvKey {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &Shared) -> Result<KvKey, Response> {
        kv_key(&parts.uri).map(KvKey)
    }
}

/// 204 once a write is stored, 500 saying why not.
fn stored<E: std::fmt::Display>(r: Result<(), E>) -> Response {
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

pub(super) async fn kv_get(
    State(sh): State<Shared>,
    Caller(task): Caller,
    KvKey(k): KvKey,
) -> Response {
    match sh.store().kv_get(&task, &k) {
        Ok(Some(v)) => ([(header::CONTENT_TYPE, "application/octet-stream")], v).into_response(),
        Ok(None) => err(
            StatusCode::NOT_FOUND,
            format!("no value for key '{}'", String::from_utf8_lossy(&k)),
        ),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

pub(super) async fn kv_put(
    State(sh): State<Shared>,
    Caller(task): Caller,
    KvKey(k): KvKey,
    body: Bytes,
) -> Response {
    if body.len() > KV_VALUE_BYTES_MAX {
        return err(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "value is {} bytes, the most is {KV_VALUE_BYTES_MAX}",
                body.len()
            ),
        );
    }
    stored(sh.store().kv_put(&task, &k, &body))
}

pub(super) async fn kv_delete(
    State(sh): State<Shared>,
    Caller(task): Caller,
    KvKey(k): KvKey,
) -> Response {
    stored(sh.store().kv_delete(&task, &k))
}

pub(super) async fn sign(State(sh): State<Shared>, Caller(task): Caller, body: Bytes) -> Response {
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
    let sig = sh
        .keypair()
        .sign(&protocol::task_message_bytes(&task, &msg));
    json_resp(
        StatusCode::OK,
        &protocol::SignResponse {
            signer: sh.me().to_base58(),
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

pub(super) async fn svc_task(State(sh): State<Shared>, Caller(task): Caller) -> Response {
    let flags = gradual_client::TaskInfoFlags {
        stakes: true,
        ..Default::default()
    };
    upstream(sh.client().get_task_account_info(&task, flags).await)
}

pub(super) async fn svc_round(
    State(sh): State<Shared>,
    Caller(task): Caller,
    Path(round): Path<String>,
) -> Response {
    let Ok(round) = round.parse::<u64>() else {
        return err(
            StatusCode::BAD_REQUEST,
            format!("round '{round}' is not a number"),
        );
    };
    upstream(sh.client().get_task_submission_info(&task, round).await)
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
pub(super) async fn svc_blocks(State(sh): State<Shared>, Caller(_): Caller, uri: Uri) -> Response {
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
    upstream(sh.client().get_blocks(from, limit, transactions).await)
}

pub(super) async fn svc_peers(State(sh): State<Shared>, Caller(task): Caller) -> Response {
    let peers: Vec<protocol::PeerInfo> = sh
        .peers(&task)
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
pub(super) async fn svc_peer(State(sh): State<Shared>, Caller(task): Caller, uri: Uri) -> Response {
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
    let url = sh
        .peers(&task)
        .into_iter()
        .find(|(n, _, _)| *n == node)
        .map(|(_, u, _)| u);
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
        .task(&task)
        .map(|p| p.limits.call_timeout_ms)
        .unwrap_or(5_000);
    relay(
        sh.outbound(),
        &node,
        &target,
        Duration::from_millis(timeout),
    )
    .await
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
mod tests;
