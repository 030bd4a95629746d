//! Errors for `--json`: every failure becomes `{"error": {"code", "message", ...}}` on
//! stdout (exit status 2, as without `--json`). `code` is stable and meant for programs:
//! a ledger or door refusal keeps the ledger's rule code (`insufficient_funds`,
//! `outside_window`, ...; `TxError::code`), the CLI's own refusals and the other failures
//! have the codes of [`code_of`].

use crate::scaffold::ScaffoldError;
use crate::taskfile::TaskFileError;
use gradual_client::{ClientError, KeyfileError};
use gradual_rpc::codes;
use serde_json::{json, Map, Value};
use std::io::Write;

/// A refusal of the CLI itself, with its stable code (for `--json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub code: &'static str,
    pub message: String,
}

impl CliError {
    pub fn new(code: &'static str, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

fn rpc_code_name(code: i64) -> &'static str {
    match code {
        codes::PARSE_ERROR | codes::INVALID_REQUEST => "invalid_request",
        codes::METHOD_NOT_FOUND => "method_not_found",
        codes::INVALID_PARAMS => "invalid_params",
        codes::TRANSACTION_REJECTED => "transaction_rejected",
        codes::MEMPOOL_FULL => "mempool_full",
        codes::NOT_FOUND => "not_found",
        codes::FAUCET_UNAVAILABLE => "faucet_refused",
        codes::SHUTTING_DOWN => "shutting_down",
        codes::BUSY => "busy",
        codes::TIMEOUT => "timeout",
        _ => "rpc_error",
    }
}

fn client_code(e: &ClientError) -> String {
    if let Some(code) = e.tx_error_code().filter(|c| !c.is_empty()) {
        return code;
    }
    match e {
        ClientError::Unreachable { .. } => "unreachable",
        ClientError::Http { .. } => "http_error",
        ClientError::Rpc { error, .. } => rpc_code_name(error.code),
        ClientError::BadAnswer { .. } => "bad_answer",
        ClientError::TxFailed { .. } => "transaction_failed",
        ClientError::NotConfirmed { .. } => "not_confirmed",
        ClientError::Artifact { .. } => "artifact",
        _ => "client_error",
    }
    .to_string()
}

/// The stable code of a failure: the first error in its chain that has one.
/// `usage` (arguments), `keypair_file`, `task_file`, `scaffold_*`, `io`, the client's
/// (`unreachable`, `not_found`, `faucet_refused`, a ledger rule code, ...), a [`CliError`]'s
/// own (`faucet_limit`, `unstake_has_duties`, `insufficient_funds`, ...), else `error`.
pub fn code_of(e: &anyhow::Error) -> String {
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<CliError>() {
            return c.code.to_string();
        }
        if let Some(c) = cause.downcast_ref::<ClientError>() {
            return client_code(c);
        }
        if cause.downcast_ref::<KeyfileError>().is_some() {
            return "keypair_file".into();
        }
        if cause.downcast_ref::<TaskFileError>().is_some() {
            return "task_file".into();
        }
        if let Some(s) = cause.downcast_ref::<ScaffoldError>() {
            return match s {
                ScaffoldError::BadName { .. } => "scaffold_bad_name",
                ScaffoldError::Exists { .. } => "scaffold_exists",
                ScaffoldError::BadSdkPath { .. } => "scaffold_bad_sdk_path",
                ScaffoldError::Write { .. } => "io",
            }
            .into();
        }
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return "io".into();
        }
    }
    "error".into()
}

/// The error and its causes, `: `-separated, leaving out a cause whose text the one before
/// already quotes (`{e:#}` would print it twice).
pub fn message_of(e: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut last = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !last.contains(&text) {
            if !out.is_empty() {
                out += ": ";
            }
            out += &text;
        }
        last = text;
    }
    out
}

/// `{"error": {"code", "message"}}`, plus `rpc_code` (the validator's JSON-RPC error code)
/// and `kind` (the ledger's refusal, e.g. `OutsideWindow`) when there are.
pub fn error_json(e: &anyhow::Error) -> Value {
    let mut err = Map::new();
    err.insert("code".into(), json!(code_of(e)));
    err.insert("message".into(), json!(message_of(e)));
    if let Some(c) = e.chain().find_map(|c| c.downcast_ref::<ClientError>()) {
        if let Some(r) = c.rpc_error() {
            err.insert("rpc_code".into(), json!(r.code));
        }
        if let Some(kind) = c.tx_error_kind() {
            err.insert("kind".into(), json!(kind));
        }
    }
    json!({ "error": Value::Object(err) })
}

/// A command line that did not parse, as JSON: code `usage`, the message without clap's
/// usage block.
pub fn usage_error(e: &clap::Error) -> Value {
    let text = e.render().to_string();
    let text = text.trim().strip_prefix("error: ").unwrap_or(text.trim());
    let message = text.split("\n\n").next().unwrap_or(text).trim();
    json!({"error": {"code": "usage", "message": message}})
}

/// Print an error object on stdout (where `--json` results go).
pub fn print_error_json(v: &Value) {
    let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    let mut out = std::io::stdout().lock();
    // Nothing better to do when stdout is closed.
    let _ = writeln!(out, "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_come_from_the_first_typed_error_in_the_chain() {
        let e = anyhow::Error::new(CliError::new("faucet_limit", "too much")).context("airdrop");
        assert_eq!(code_of(&e), "faucet_limit");
        let v = error_json(&e);
        assert_eq!(v["error"]["code"], "faucet_limit");
        assert_eq!(v["error"]["message"], "airdrop: too much");
        let e: anyhow::Error = ClientError::Unreachable {
            url: "http://x".into(),
            reason: "refused".into(),
        }
        .into();
        assert_eq!(code_of(&e), "unreachable");
        let e: anyhow::Error = ClientError::Rpc {
            method: "requestAirdrop".into(),
            error: gradual_rpc::RpcError::new(codes::FAUCET_UNAVAILABLE, "no"),
        }
        .into();
        assert_eq!(
            error_json(&e)["error"]["rpc_code"],
            codes::FAUCET_UNAVAILABLE
        );
        assert_eq!(code_of(&e), "faucet_refused");
        let e = std::fs::read("/nonexistent/x")
            .context("reading")
            .unwrap_err();
        assert_eq!(code_of(&e), "io");
        assert_eq!(code_of(&anyhow::anyhow!("plain")), "error");
        // A cause its error already quotes is not repeated.
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e: anyhow::Error = KeyfileError::Read {
            path: "k.json".into(),
            source: io,
        }
        .into();
        let m = message_of(&e);
        assert_eq!(m.matches("gone").count(), 1, "{m}");
    }
}
