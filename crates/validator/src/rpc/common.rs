//! What every method shares: results, internal errors, and the committed state under a
//! read lock.

use crate::shared::Shared;
use gradual_ledger::Ledger;
use gradual_rpc::limits::BATCH_DEADLINE_MS;
use gradual_rpc::{codes, RpcError};
use gradual_store::Store;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::RwLockReadGuard;

pub(super) type RpcResult = Result<Value, RpcError>;

pub(super) fn internal(what: impl std::fmt::Display) -> RpcError {
    RpcError::new(codes::INTERNAL_ERROR, format!("internal error: {what}"))
}

pub(super) fn to_value<T: serde::Serialize>(v: T) -> RpcResult {
    serde_json::to_value(v).map_err(internal)
}

pub(super) fn timed_out() -> RpcError {
    RpcError::new(
        codes::TIMEOUT,
        format!("the call did not finish within the batch deadline of {BATCH_DEADLINE_MS} ms"),
    )
}

impl Shared {
    /// The ledger for reading. Only committed state: the producer holds the write lock
    /// from applying a block until it is durable; a ledger ahead of the store (a failed
    /// commit) is refused.
    pub(super) fn read_ledger(&self) -> Result<RwLockReadGuard<'_, Ledger>, RpcError> {
        let l = self
            .ledger
            .read()
            .map_err(|_| internal("ledger lock poisoned; restart the validator"))?;
        if l.slot() != self.durable_slot.load(Ordering::SeqCst) {
            return Err(internal(
                "the ledger is ahead of the store (a block commit failed); the validator is stopping",
            ));
        }
        Ok(l)
    }

    pub(super) fn read_store(&self) -> Result<RwLockReadGuard<'_, Store>, RpcError> {
        self.store
            .read()
            .map_err(|_| internal("store lock poisoned; restart the validator"))
    }
}
