//! The door for transactions: `sendTransaction` and `requestAirdrop` decode, check what can
//! be checked without applying, then queue in the mempool.

use super::common::{internal, RpcResult};
use crate::params::{check_len, clip, Params};
use crate::shared::Shared;
use base64::Engine;
use gradual_ledger::{check_envelope, check_fee_offered, TxError};
use gradual_rpc::convert;
use gradual_rpc::dto::*;
use gradual_rpc::limits::*;
use gradual_rpc::{codes, RpcError};
use gradual_types::{DecodeError, Instruction, Pubkey, Signature, Transaction};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

fn rejected(kind: &str, code: &str, message: String) -> RpcError {
    crate::metrics::tx_rejected(kind);
    RpcError::new(
        codes::TRANSACTION_REJECTED,
        format!("transaction rejected: {message}"),
    )
    .with_data(json!(TxErrorDto {
        kind: kind.to_string(),
        message,
        code: code.to_string(),
    }))
}

fn tx_rejected(e: &TxError) -> RpcError {
    let dto = convert::tx_error(e);
    rejected(&dto.kind, &dto.code, dto.message)
}

/// A duplicate signature, refused at the door with the ledger's own kind and code for it
/// ([`TxError::Duplicate`]) and a message that says where the first copy is.
fn duplicate_rejected(message: String) -> RpcError {
    let e = TxError::Duplicate;
    rejected(&e.kind(), e.code(), message)
}

fn decode_rejected(e: &DecodeError) -> RpcError {
    rejected(e.kind(), "decode", e.to_string())
}

pub(super) fn send_transaction(shared: &Shared, p: Params) -> RpcResult {
    const E: &str = "the transaction's borsh bytes as a base64 (default) or base58 string";
    let encoded = p.string(0, E)?;
    let cfg = p.config(1, &["encoding"])?;
    let encoding = match cfg.get("encoding") {
        None | Some(Value::Null) => "base64",
        Some(Value::String(s)) if s == "base64" || s == "base58" => s.as_str(),
        Some(other) => {
            return Err(RpcError::invalid_params(format!(
                "sendTransaction: param 1 (config) key 'encoding' must be \"base64\" or \"base58\", got {}",
                clip(&other.to_string())
            )))
        }
    };
    // Lengths first: nothing long is ever decoded (base58 decoding is quadratic).
    let bytes = if encoding == "base64" {
        check_len(encoded, TX_BASE64_CHARS_MAX).map_err(|n| {
            RpcError::invalid_params(format!(
                "sendTransaction: param 0 (transaction) is {n} base64 characters; a transaction is at most {} bytes, {TX_BASE64_CHARS_MAX} characters",
                gradual_types::constants::TX_BYTES_MAX
            ))
        })?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| {
                RpcError::invalid_params(format!(
                    "sendTransaction: param 0 (transaction) is not base64: {e}; pass {{\"encoding\":\"base58\"}} for base58"
                ))
            })?
    } else {
        check_len(encoded, TX_BASE58_CHARS_MAX).map_err(|n| {
            RpcError::invalid_params(format!(
                "sendTransaction: param 0 (transaction) is {n} base58 characters, the most is {TX_BASE58_CHARS_MAX} ({TX_BASE58_BYTES_MAX} bytes); send larger transactions as base64"
            ))
        })?;
        bs58::decode(encoded).into_vec().map_err(|e| {
            RpcError::invalid_params(format!(
                "sendTransaction: param 0 (transaction) is not base58: {e}"
            ))
        })?
    };
    let tx = Transaction::decode(&bytes).map_err(|e| decode_rejected(&e))?;
    let sig = admit(shared, tx)?;
    Ok(json!(sig.to_base58()))
}

/// The door: everything that can be checked without applying the transaction, then the
/// mempool. A transaction refused here changes nothing.
fn admit(shared: &Shared, tx: Transaction) -> Result<Signature, RpcError> {
    if shared.stopping.load(Ordering::Relaxed) {
        return Err(RpcError::new(
            codes::SHUTTING_DOWN,
            "validator is shutting down; send the transaction again once it is back",
        ));
    }
    let g = &shared.genesis;
    let msg = &tx.message;
    // The ledger's envelope rule: `recent_slot` a slot this validator has seen (its head),
    // not too old for the earliest block the transaction can land in (head + 1).
    let head = shared.head.borrow().slot;
    check_envelope(g, &tx, tx.verify(), head, head.saturating_add(1))
        .and_then(|()| check_fee_offered(g, msg))
        .map_err(|e| tx_rejected(&e))?;
    // SPEC §1 [v2]: a signer that cannot pay the fee is refused here, before it takes
    // mempool or block space (a faucet mint pays its own: docs/protocol.md *Faucet*).
    let fee = g.fee_due(&msg.signer, &msg.instruction);
    if fee > 0 {
        let available = shared.read_ledger()?.balance(&msg.signer);
        if available < fee {
            return Err(tx_rejected(&TxError::InsufficientFunds {
                account: msg.signer,
                needed: fee,
                available,
            }));
        }
    }
    let id = tx.signature;
    let seen = shared.read_store()?.tx_status(&id).map_err(internal)?;
    if let Some((slot, result)) = seen {
        if result.as_ref().err().is_none_or(TxError::marks_seen) {
            return Err(duplicate_rejected(format!(
                "transaction already processed in slot {slot} (duplicate signature); sign a new one"
            )));
        }
    }
    let depth = {
        let mut mp = shared
            .mempool
            .lock()
            .map_err(|_| internal("mempool lock poisoned"))?;
        match mp.push(tx) {
            Ok(()) => mp.len(),
            Err(crate::mempool::PushError::AlreadyPending) => {
                return Err(duplicate_rejected(
                    "transaction is already waiting in the mempool (duplicate signature)".into(),
                ))
            }
            Err(e @ crate::mempool::PushError::SignerQuota { .. }) => {
                return Err(rejected("SignerQuota", "signer_quota", e.to_string()))
            }
            Err(e @ crate::mempool::PushError::Full { .. }) => {
                crate::metrics::tx_rejected("MempoolFull");
                return Err(RpcError::new(codes::MEMPOOL_FULL, e.to_string()));
            }
        }
    };
    crate::metrics::tx_accepted();
    crate::metrics::mempool_depth(depth);
    Ok(id)
}

pub(super) fn request_airdrop(shared: &Shared, p: Params) -> RpcResult {
    let to: Pubkey = p.pubkey(0)?;
    let amount = p.u64(1)?;
    let Some(kp) = &shared.faucet else {
        return Err(RpcError::new(
            codes::FAUCET_UNAVAILABLE,
            "this validator holds no faucet key; airdrops exist only on a devnet started with --faucet-keypair",
        ));
    };
    let Some(f) = &shared.genesis.faucet else {
        return Err(RpcError::new(
            codes::FAUCET_UNAVAILABLE,
            "this chain has no faucet",
        ));
    };
    if amount == 0 {
        return Err(RpcError::invalid_params(
            "requestAirdrop: param 1 (amount) must be more than 0 ROE",
        ));
    }
    if amount > f.mint_max_roe {
        return Err(RpcError::new(
            codes::FAUCET_UNAVAILABLE,
            format!(
                "airdrop of {} KOII exceeds the faucet limit of {} KOII per request; ask for at most that much at a time",
                gradual_types::format_koii(amount),
                gradual_types::format_koii(f.mint_max_roe)
            ),
        ));
    }
    let g = &shared.genesis;
    let head = shared.head.borrow().slot;
    // The ledger's per-recipient window and lifetime cap, checked here so a refused airdrop
    // takes no block space (the ledger checks again when the mint lands).
    shared
        .read_ledger()?
        .faucet_check(&to, amount, head.saturating_add(1))
        .map_err(|e| RpcError::new(codes::FAUCET_UNAVAILABLE, e.to_string()))?;
    // Signatures are deterministic: an identical airdrop in the same slot would repeat one,
    // so step the recent slot back until the signature is fresh.
    let mut last_err = None;
    for back in 0..g.tx_max_age_slots.min(64) {
        let Some(recent) = head.checked_sub(back) else {
            break;
        };
        let tx = Transaction::new_signed(
            kp,
            &g.chain_id,
            recent,
            g.fee_roe,
            Instruction::FaucetMint { to, amount },
        );
        match admit(shared, tx) {
            Ok(sig) => return Ok(json!(sig.to_base58())),
            Err(e) if e.code == codes::TRANSACTION_REJECTED => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        RpcError::new(
            codes::FAUCET_UNAVAILABLE,
            "too many identical airdrops in flight; retry in a few slots",
        )
    }))
}
