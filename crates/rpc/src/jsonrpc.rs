//! The JSON-RPC 2.0 envelope: requests, responses, error objects and their codes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Error codes. The first five are JSON-RPC 2.0's; the rest are ours (the spec reserves
/// -32000..-32099 for servers).
pub mod codes {
    /// The body is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// JSON, but not a JSON-RPC request (or the body is too large, or the batch is empty).
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// A parameter is missing or has the wrong shape; the message names it.
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// `sendTransaction` refused the transaction at the door (decode, limits, signature,
    /// chain, expiry, duplicate); `data` is a [`crate::TxErrorDto`].
    pub const TRANSACTION_REJECTED: i64 = -32002;
    /// The mempool is full; retry later.
    pub const MEMPOOL_FULL: i64 = -32003;
    /// The thing asked about does not exist (unknown task, round not retained).
    pub const NOT_FOUND: i64 = -32004;
    /// `requestAirdrop` on a validator without a faucet key, or above the mint limit.
    pub const FAUCET_UNAVAILABLE: i64 = -32005;
    /// The validator is shutting down.
    pub const SHUTTING_DOWN: i64 = -32006;
    /// Too many requests or long polls at once (see [`crate::limits`]); retry shortly.
    pub const BUSY: i64 = -32007;
    /// A call of a batch was still running at the batch's deadline
    /// ([`crate::limits::BATCH_DEADLINE_MS`]).
    pub const TIMEOUT: i64 = -32008;
}

/// Request id: an integer (any `i64` or `u64`), a string of at most
/// [`crate::limits::ID_CHARS_MAX`] characters, or null (JSON-RPC 2.0 §4). Fractional ids
/// are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    Num(i64),
    /// An id above `i64::MAX`.
    U64(u64),
    Str(String),
    Null,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> RpcError {
        self.data = Some(data);
        self
    }

    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(codes::INVALID_PARAMS, message)
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub jsonrpc: String,
    pub method: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub params: Value,
    pub id: Id,
}

impl Request {
    pub fn new(id: i64, method: &str, params: Value) -> Request {
        Request {
            jsonrpc: "2.0".into(),
            method: method.into(),
            params,
            id: Id::Num(id),
        }
    }
}

/// A response carries exactly one of `result` and `error`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub jsonrpc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
    pub id: Id,
}

impl Response {
    pub fn ok(id: Id, result: Value) -> Response {
        Response {
            jsonrpc: "2.0".into(),
            result: Some(result),
            error: None,
            id,
        }
    }

    pub fn err(id: Id, error: RpcError) -> Response {
        Response {
            jsonrpc: "2.0".into(),
            result: None,
            error: Some(error),
            id,
        }
    }
}
