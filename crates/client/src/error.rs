//! What a call can fail with, and the refused transaction's reason when it was one.

use gradual_rpc::dto::TxErrorDto;
use gradual_rpc::RpcError;
use gradual_types::Signature;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("cannot reach the validator at {url}: {reason}; is it running, and is --url right?")]
    Unreachable { url: String, reason: String },
    #[error("validator at {url} answered HTTP {status}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{method}: {error}")]
    Rpc { method: String, error: RpcError },
    #[error("{method}: unexpected answer from the validator: {reason}")]
    BadAnswer { method: String, reason: String },
    #[error("transaction {signature} failed: {error}")]
    TxFailed {
        signature: Signature,
        /// Boxed: keeps every `Result` of this crate small.
        error: Box<TxErrorDto>,
    },
    #[error("transaction {signature} was not confirmed within {waited_ms} ms; check it later with `gradual confirm {signature}`")]
    NotConfirmed {
        signature: Signature,
        waited_ms: u64,
    },
    #[error("artifact {digest}: {reason}")]
    Artifact { digest: String, reason: String },
}

impl ClientError {
    /// The JSON-RPC error, if the validator answered with one.
    pub fn rpc_error(&self) -> Option<&RpcError> {
        match self {
            ClientError::Rpc { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Why a transaction was refused: by the ledger in a block (`TxFailed`) or at the
    /// validator's door (a JSON-RPC error whose data is the same [`TxErrorDto`]).
    pub fn tx_error(&self) -> Option<TxErrorDto> {
        match self {
            ClientError::TxFailed { error, .. } => Some((**error).clone()),
            ClientError::Rpc { error, .. } => error
                .data
                .clone()
                .and_then(|d| serde_json::from_value(d).ok()),
            _ => None,
        }
    }

    /// The stable code of the rule that refused a transaction (`"outside_window"`, ...,
    /// `TxError::code`): what programs branch on.
    pub fn tx_error_code(&self) -> Option<String> {
        self.tx_error().map(|e| e.code)
    }

    /// The ledger's or the door's reason for refusing a transaction (`OutsideWindow`, ...).
    pub fn tx_error_kind(&self) -> Option<String> {
        self.tx_error().map(|e| e.kind)
    }
}
