//! HTTP routes: JSON-RPC at `POST /`, the artifact store under `/artifacts`, `/metrics` and
//! `/health`.
//!
//! Artifacts are task executables kept as files named by the base58 blake3 digest of their
//! bytes (the embedded stand-in for what the reference system keeps on IPFS). Uploads are
//! size-limited and the digest is verified before the file appears; a file is written to a
//! temporary name and renamed, so a reader never sees half of one.

use crate::shared::Shared;
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use gradual_rpc::{codes, paths, ArtifactDto, Id, RpcError};
use gradual_types::Hash;
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

async fn store_artifact(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
    expected: Option<Hash>,
) -> Response {
    let bytes = match read_body(headers, body, shared.artifact_max_bytes).await {
        Ok(b) => b,
        Err(msg) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("artifact too large: {msg}"),
            )
        }
    };
    if bytes.is_empty() {
        return text(StatusCode::BAD_REQUEST, "artifact is empty".into());
    }
    let digest = Hash(*blake3::hash(&bytes).as_bytes());
    if let Some(want) = expected {
        if want != digest {
            return text(
                StatusCode::BAD_REQUEST,
                format!("artifact bytes hash to {digest}, the URL says {want}; upload the right file or fix the digest"),
            );
        }
    }
    let name = digest.to_base58();
    let path = shared.artifacts_dir.join(&name);
    if !path.exists() {
        let tmp = shared
            .artifacts_dir
            .join(format!(".{name}.{}.tmp", std::process::id()));
        let write = tokio::fs::write(&tmp, &bytes).await;
        let renamed = match write {
            Ok(()) => tokio::fs::rename(&tmp, &path).await,
            Err(e) => Err(e),
        };
        if let Err(e) = renamed {
            let _ = tokio::fs::remove_file(&tmp).await;
            tracing::error!(error = %e, digest = %name, "artifact write failed");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("could not store the artifact: {e}"),
            );
        }
        tracing::info!(digest = %name, size = bytes.len(), "artifact stored");
    }
    let dto = ArtifactDto {
        url: format!("{}{}/{}", shared.public_url, paths::ARTIFACTS, name),
        digest: name,
        size: bytes.len() as u64,
    };
    json_response(StatusCode::OK, &serde_json::json!(dto))
}

async fn upload_any(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    store_artifact(&shared, &headers, body, None).await
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
    store_artifact(&shared, &headers, body, Some(want)).await
}

async fn download(State(shared): State<Arc<Shared>>, Path(digest): Path<String>) -> Response {
    let d = match parse_digest(&digest) {
        Ok(d) => d,
        Err(msg) => return text(StatusCode::BAD_REQUEST, msg),
    };
    let path = shared.artifacts_dir.join(d.to_base58());
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
