//! JSON answers for a task's HTTP routes (and the SDK's own control calls): a body with
//! `content-type: application/json`, errors as `{"error": "..."}` ([`ErrorBody`]).
//!
//! It does **not** route or check tokens: [`crate::Task::routes`] and the server do that.

use crate::protocol::ErrorBody;
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde::Serialize;

/// `body` (already JSON) with `status`.
pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// `body` encoded as JSON with `status`; an encoding failure is said in the body.
pub fn json<B: Serialize>(status: StatusCode, body: &B) -> Response {
    let bytes = serde_json::to_vec(body)
        .unwrap_or_else(|e| format!(r#"{{"error":"cannot encode the answer: {e}"}}"#).into_bytes());
    json_bytes(status, bytes)
}

/// `{"error": msg}` with `status`.
pub fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    json(status, &ErrorBody { error: msg.into() })
}

/// The round number in a route's path, or the 400 answer that says how to ask (`usage`, e.g.
/// `GET /records/<round>`).
#[allow(clippy::result_large_err)] // the error is the answer, sent at once
pub fn round_param(text: &str, usage: &str) -> Result<u64, Response> {
    text.parse().map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            format!("'{text}' is not a round number; use {usage}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_json_objects_and_rounds_parse() {
        let r = error(StatusCode::NOT_FOUND, "gone");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(round_param("12", "GET /x/<round>").unwrap(), 12);
        let bad = round_param("x", "GET /x/<round>").unwrap_err();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    }
}
