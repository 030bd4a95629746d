//! HTTP routes: JSON-RPC at `POST /`, the artifact store under `/artifacts`, `/metrics` and
//! `/health`.
//!
//! Artifacts are task executables kept as files named by the base58 blake3 digest of their
//! bytes (the embedded stand-in for what the reference system keeps on IPFS). An upload is
//! `PUT /artifacts/<digest>` with a declared `Content-Length`, signed by a funded account or
//! naming a digest a task already uses (see [`crate::artifacts`]); it is authorized and its
//! size reserved against the quotas before the body is read, and the digest is verified
//! before the file appears; a file is written to a temporary name and renamed, so a reader
//! never sees half of one.

use crate::artifacts::{Payer, QuotaError};
use crate::shared::Shared;
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use gradual_rpc::{codes, paths, ArtifactDto, Id, RpcError};
use gradual_types::artifact::headers as artifact_headers;
use gradual_types::{ArtifactUpload, Hash, Pubkey, Signature};
use std::sync::Arc;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", post(rpc))
        .route(paths::HEALTH, get(health))
        .route(paths::METRICS, get(metrics))
        .route(paths::ARTIFACTS, post(upload_any))
        .route(
            &format!("{}/{{digest}}", paths::ARTIFACTS),
            get(download).put(upload_digest),
        )
        .with_state(shared)
}

fn json_response(status: StatusCode, v: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn text(status: StatusCode, msg: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg + "\n",
    )
        .into_response()
}

fn declared_len(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Read a body of at most `max` bytes; the error says how large it may be.
async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, String> {
    if let Some(n) = declared_len(headers) {
        if n > max as u64 {
            return Err(format!("request body is {n} bytes, the most is {max}"));
        }
    }
    to_bytes(body, max)
        .await
        .map_err(|e| format!("request body is over {max} bytes or could not be read: {e}"))
}

async fn rpc(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    // Bounded before the body is read: a flood of requests is refused, not queued.
    let Ok(_permit) = shared.requests.clone().try_acquire_owned() else {
        let err = RpcError::new(
            codes::BUSY,
            format!(
                "{} requests are already being handled; retry shortly",
                gradual_rpc::limits::REQUESTS_IN_FLIGHT_MAX
            ),
        );
        let resp = gradual_rpc::Response::err(Id::Null, err);
        return json_response(StatusCode::SERVICE_UNAVAILABLE, &serde_json::json!(resp));
    };
    let bytes = match read_body(&headers, body, shared.body_max_bytes).await {
        Ok(b) => b,
        Err(msg) => {
            let err = RpcError::new(
                codes::INVALID_REQUEST,
                format!("{msg}; split the batch or send less"),
            );
            let resp = gradual_rpc::Response::err(Id::Null, err);
            return json_response(StatusCode::PAYLOAD_TOO_LARGE, &serde_json::json!(resp));
        }
    };
    match crate::rpc::handle_body(&shared, &bytes).await {
        Some(v) => json_response(StatusCode::OK, &v),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn health(State(shared): State<Arc<Shared>>) -> Response {
    if shared.stopping.load(std::sync::atomic::Ordering::Relaxed) {
        return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down".into());
    }
    text(StatusCode::OK, "ok".into())
}

async fn metrics() -> Response {
    match crate::metrics::render() {
        Some(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            body,
        )
            .into_response(),
        None => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable in this process".into(),
        ),
    }
}

fn parse_digest(s: &str) -> Result<Hash, String> {
    Hash::from_base58(s).map_err(|e| {
        format!("artifact digest must be the base58 blake3 of the bytes (32 bytes): {e}")
    })
}

/// Longest an upload's body may take to arrive.
const UPLOAD_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Longest value of a signed-upload header: a base58 signature (64 bytes) is at most 88
/// characters; checked before any decoding.
const UPLOAD_HEADER_MAX: usize = 100;

/// A header's value as text, or a clear refusal.
fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) if v.len() > UPLOAD_HEADER_MAX => Err(format!(
            "header {name} is {} bytes, the most is {UPLOAD_HEADER_MAX}",
            v.len()
        )),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| format!("header {name} is not plain text")),
    }
}

/// Who pays for an upload of `size` bytes of `digest`: its signer when signed (checked
/// here: signature, recent slot, balance), else nobody, if a task names the digest.
fn authorize(
    shared: &Shared,
    headers: &HeaderMap,
    digest: Hash,
    size: u64,
) -> Result<Payer, (StatusCode, String)> {
    let bad = |msg: String| (StatusCode::BAD_REQUEST, msg);
    let uploader = header_str(headers, artifact_headers::UPLOADER).map_err(bad)?;
    let recent = header_str(headers, artifact_headers::RECENT_SLOT).map_err(bad)?;
    let sig = header_str(headers, artifact_headers::SIGNATURE).map_err(bad)?;
    let ledger = shared.ledger.read().map_err(|_| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "ledger lock poisoned; restart the validator".to_string(),
        )
    })?;
    let (uploader, recent, sig) = match (uploader, recent, sig) {
        (None, None, None) => {
            if shared.artifacts.is_referenced(&ledger, &digest) {
                return Ok(Payer::Referenced);
            }
            return Err((
                StatusCode::UNAUTHORIZED,
                format!(
                    "artifact uploads must be signed by a funded account (headers {}, {}, {}; `gradual task create` and the client's upload_artifact_signed do this), unless a task already names the digest",
                    artifact_headers::UPLOADER,
                    artifact_headers::RECENT_SLOT,
                    artifact_headers::SIGNATURE
                ),
            ));
        }
        (Some(u), Some(r), Some(s)) => (u, r, s),
        _ => {
            return Err(bad(format!(
                "a signed upload needs all of {}, {} and {}",
                artifact_headers::UPLOADER,
                artifact_headers::RECENT_SLOT,
                artifact_headers::SIGNATURE
            )))
        }
    };
    let uploader: Pubkey = uploader
        .parse()
        .map_err(|e| bad(format!("{}: {e}", artifact_headers::UPLOADER)))?;
    let recent_slot: u64 = recent.parse().map_err(|_| {
        bad(format!(
            "{}: '{recent}' is not a slot number",
            artifact_headers::RECENT_SLOT
        ))
    })?;
    let sig: Signature = sig
        .parse()
        .map_err(|e| bad(format!("{}: {e}", artifact_headers::SIGNATURE)))?;
    let g = &shared.genesis;
    let head = shared.head.borrow().slot;
    if recent_slot > head || recent_slot.saturating_add(g.tx_max_age_slots) < head {
        return Err((
            StatusCode::UNAUTHORIZED,
            format!(
                "upload signed at slot {recent_slot}; it must be signed within the last {} slots (head {head}); sign it again",
                g.tx_max_age_slots
            ),
        ));
    }
    let upload = ArtifactUpload {
        chain_id: g.chain_id.clone(),
        digest,
        size,
        recent_slot,
        uploader,
    };
    if !upload.verify(&sig) {
        return Err((
            StatusCode::UNAUTHORIZED,
            format!("upload signature does not verify for {uploader} (chain {}, digest {digest}, {size} bytes, slot {recent_slot})", g.chain_id),
        ));
    }
    let needed = g.fee_roe.max(shared.artifacts.limits.min_balance_roe);
    let balance = ledger.balance(&uploader);
    if balance < needed {
        return Err((
            StatusCode::FORBIDDEN,
            format!("uploader {uploader} holds {balance} ROE; uploading artifacts needs at least {needed} ROE"),
        ));
    }
    Ok(Payer::Uploader(uploader))
}

async fn store_artifact(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
    digest: Hash,
) -> Response {
    let store = &shared.artifacts;
    let max = shared.artifact_max_bytes;
    let Some(size) = declared_len(headers) else {
        return text(
            StatusCode::LENGTH_REQUIRED,
            "an artifact upload must declare its Content-Length".into(),
        );
    };
    if size == 0 {
        return text(StatusCode::BAD_REQUEST, "artifact is empty".into());
    }
    if size > max as u64 {
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("artifact too large: request body is {size} bytes, the most is {max}"),
        );
    }
    let payer = match authorize(shared, headers, digest, size) {
        Ok(p) => p,
        Err((status, msg)) => return text(status, msg),
    };
    let name = digest.to_base58();
    let dto = |size: u64| {
        let dto = ArtifactDto {
            url: format!("{}{}/{}", shared.public_url, paths::ARTIFACTS, name),
            digest,
            size,
        };
        json_response(StatusCode::OK, &serde_json::json!(dto))
    };
    if let Some(stored) = store.stored(&digest) {
        // Already here: nothing to read. Its uploader sending it again restarts its grace.
        if matches!(payer, Payer::Uploader(_)) {
            store.touch(&digest);
        }
        return dto(stored);
    }
    let Ok(_permit) = store.in_flight.try_acquire() else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many artifact uploads in progress; retry in a moment".into(),
        );
    };
    if let Err(e) = store.reserve(payer, size) {
        let status = match e {
            QuotaError::Uploader { .. } => StatusCode::FORBIDDEN,
            QuotaError::Total { .. } => StatusCode::INSUFFICIENT_STORAGE,
        };
        return text(status, e.to_string());
    }
    let result = write_artifact(shared, headers, body, digest, size, payer).await;
    match result {
        Ok(()) => {
            store.commit(digest, payer, size);
            tracing::info!(digest = %name, size, ?payer, "artifact stored");
            dto(size)
        }
        Err(resp) => {
            store.release(payer, size);
            resp
        }
    }
}

/// Read exactly `size` bytes, check them against `digest`, and write the file (and who
/// uploaded it) under a temporary name first.
async fn write_artifact(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
    digest: Hash,
    size: u64,
    payer: Payer,
) -> Result<(), Response> {
    let store = &shared.artifacts;
    let limit = usize::try_from(size).unwrap_or(usize::MAX);
    // A slow sender would hold one of the few upload slots.
    let read = tokio::time::timeout(UPLOAD_READ_TIMEOUT, read_body(headers, body, limit));
    let bytes = match read.await {
        Ok(r) => r.map_err(|msg| {
            text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("artifact too large: {msg}"),
            )
        })?,
        Err(_) => {
            return Err(text(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the artifact body did not arrive within {} s; send it faster or smaller",
                    UPLOAD_READ_TIMEOUT.as_secs()
                ),
            ))
        }
    };
    if bytes.len() as u64 != size {
        return Err(text(
            StatusCode::BAD_REQUEST,
            format!(
                "artifact body is {} bytes, Content-Length said {size}",
                bytes.len()
            ),
        ));
    }
    let got = Hash(*blake3::hash(&bytes).as_bytes());
    if got != digest {
        return Err(text(
            StatusCode::BAD_REQUEST,
            format!("artifact bytes hash to {got}, the URL says {digest}; upload the right file or fix the digest"),
        ));
    }
    let name = digest.to_base58();
    let path = store.dir.join(&name);
    let fail = |e: std::io::Error| {
        tracing::error!(error = %e, digest = %name, "artifact write failed");
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not store the artifact: {e}"),
        )
    };
    if let Payer::Uploader(u) = payer {
        tokio::fs::write(store.uploader_path(&digest), u.to_base58())
            .await
            .map_err(fail)?;
    }
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = store
        .dir
        .join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let written = match tokio::fs::write(&tmp, &bytes).await {
        Ok(()) => tokio::fs::rename(&tmp, &path).await,
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(fail(e));
    }
    Ok(())
}

async fn upload_any() -> Response {
    text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "upload with PUT {}/<base58 blake3 digest>, signed (see the client's upload_artifact_signed)",
            paths::ARTIFACTS
        ),
    )
}

async fn upload_digest(
    State(shared): State<Arc<Shared>>,
    Path(digest): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let want = match parse_digest(&digest) {
        Ok(d) => d,
        Err(msg) => return text(StatusCode::BAD_REQUEST, msg),
    };
    store_artifact(&shared, &headers, body, want).await
}

async fn download(State(shared): State<Arc<Shared>>, Path(digest): Path<String>) -> Response {
    let d = match parse_digest(&digest) {
        Ok(d) => d,
        Err(msg) => return text(StatusCode::BAD_REQUEST, msg),
    };
    let path = shared.artifacts.dir.join(d.to_base58());
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            bytes,
        )
            .into_response(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => text(
            StatusCode::NOT_FOUND,
            format!("no artifact {d} on this validator"),
        ),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not read artifact {d}: {e}"),
        ),
    }
}
