//! The sender: signs the core's instructions with the node's key and sends them in order.
//! A proof is journaled in the node's store before it leaves, and re-sent as it was while
//! still fresh, so a crash neither loses nor doubles one.

use crate::shared::{Counters, NodeShared};
use gradual_types::{Instruction, Slot, Transaction};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What signing needs from genesis.
#[derive(Clone)]
pub(crate) struct Sender {
    pub shared: Arc<NodeShared>,
    pub chain_id: String,
    pub fee: u64,
    pub tx_max_age: u64,
}

impl Sender {
    /// Sign and send each `(instruction, slot it was decided at)` until the channel closes.
    pub(crate) async fn run(self, mut rx: mpsc::UnboundedReceiver<(Instruction, Slot)>) {
        let sh = &self.shared;
        while let Some((ix, slot)) = rx.recv().await {
            let kind = ix.name();
            let sign = |ix: Instruction| {
                Transaction::new_signed(sh.keypair(), &self.chain_id, slot, self.fee, ix)
            };
            let tx = match &ix {
                Instruction::SubmitProof { task, round, .. } => {
                    // Idempotent across crashes: the recorded proof tx is re-sent as is.
                    match sh.store().proof_tx(task, *round) {
                        Ok(Some(tx)) if tx.message.recent_slot + self.tx_max_age > slot + 2 => tx,
                        _ => {
                            let tx = sign(ix.clone());
                            if let Err(e) = sh.store().put_proof_tx(task, *round, &tx) {
                                tracing::error!(error = %e, "cannot record the proof before sending it; not sending");
                                continue;
                            }
                            tx
                        }
                    }
                }
                _ => sign(ix.clone()),
            };
            match sh.client().send_transaction(&tx).await {
                Ok(sig) => {
                    Counters::bump(&sh.counters().txs_sent);
                    tracing::debug!(kind, %sig, "sent");
                }
                Err(e) if e.tx_error_code().as_deref() == Some("duplicate") => {
                    tracing::debug!(kind, "already sent (duplicate)");
                }
                Err(e) => {
                    Counters::bump(&sh.counters().txs_refused);
                    tracing::warn!(kind, error = %e, "transaction refused");
                }
            }
        }
    }
}
