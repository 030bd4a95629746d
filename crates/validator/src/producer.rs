//! The block producer: one OS thread that owns the write side of the ledger. Each slot it
//! takes transactions from the mempool (round-robin across tasks), checks signatures on two
//! threads, applies the block and commits it to the store under the ledger's write lock (so
//! readers only ever see committed state), and publishes the new head.

use crate::clock::{now_ms, SlotClock};
use crate::shared::{head_dto, Shared};
use gradual_ledger::CheckedTx;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Instant;

/// Why block production stopped on its own (anything but a requested shutdown).
#[derive(Debug, thiserror::Error)]
pub enum ProducerError {
    #[error("applying the block at slot {slot} failed: {source}")]
    Apply {
        slot: u64,
        source: gradual_ledger::BlockError,
    },
    #[error("committing the block at slot {slot} failed: {source}")]
    Commit {
        slot: u64,
        source: Box<gradual_store::StoreError>,
    },
    #[error("validator state lock poisoned by an earlier panic")]
    Poisoned,
}

pub fn run(shared: Arc<Shared>, clock: SlotClock, stop: Receiver<()>) -> Result<(), ProducerError> {
    let mut blocks: u64 = 0;
    loop {
        let head_slot = shared.head.borrow().slot;
        let next = head_slot.saturating_add(1).max(clock.slot_at(now_ms()));
        match stop.recv_timeout(clock.until(next, now_ms())) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
            Err(RecvTimeoutError::Timeout) => {}
        }
        // Late wake-ups skip slots rather than pile them up.
        let slot = next.max(clock.slot_at(now_ms()));
        if let Err(e) = produce(&shared, slot) {
            tracing::error!(error = %e, slot, "block production stopped");
            return Err(e);
        }
        blocks += 1;
        if blocks.is_multiple_of(64) {
            crate::metrics::upkeep();
        }
    }
}

fn produce(shared: &Shared, slot: u64) -> Result<(), ProducerError> {
    let txs = {
        let mut m = shared.mempool.lock().map_err(|_| ProducerError::Poisoned)?;
        // The genesis bounds a block by count and by bytes (SPEC §1 [v2]).
        let g = &shared.genesis;
        // (The same limits `Ledger::apply_block` checks.)
        let max_txs = shared.block_max_txs.min(g.block_txs_limit());
        let max_bytes = usize::try_from(g.block_bytes_limit()).unwrap_or(usize::MAX);
        m.take(max_txs, max_bytes)
    };
    let checked = CheckedTx::check_all(txs, 2);
    let started = Instant::now();
    let applied;
    let out = {
        // Held until the block is durable: a reader never sees state the store may lose.
        let mut ledger = shared.ledger.write().map_err(|_| ProducerError::Poisoned)?;
        let parent = ledger.head_hash();
        let seal = ledger.seal(&shared.identity, slot);
        let out = ledger
            .apply_block(slot, parent, seal, checked)
            .map_err(|source| ProducerError::Apply { slot, source })?;
        applied = started.elapsed();
        let mut store = shared.store.write().map_err(|_| ProducerError::Poisoned)?;
        store.commit(&out).map_err(|source| ProducerError::Commit {
            slot,
            source: Box::new(source),
        })?;
        shared
            .durable_slot
            .store(slot, std::sync::atomic::Ordering::SeqCst);
        out
    };
    let committed = started.elapsed();
    let depth = {
        let mut m = shared.mempool.lock().map_err(|_| ProducerError::Poisoned)?;
        m.finish_block();
        m.len()
    };
    let header = &out.block.header;
    assert_eq!(header.slot, slot, "the block is at the slot asked for");
    let head = head_dto(
        header.slot,
        header.height,
        out.block.hash(),
        header.state_root,
    );
    let ok = out.receipts.iter().filter(|r| r.result.is_ok()).count();
    crate::metrics::block(
        &head,
        &out.receipts,
        depth,
        applied.as_secs_f64(),
        committed.as_secs_f64(),
    );
    if !out.receipts.is_empty() || !out.events.is_empty() {
        tracing::info!(
            slot,
            height = header.height,
            txs = out.receipts.len(),
            ok,
            events = out.events.len(),
            apply_ms = applied.as_millis() as u64,
            "block"
        );
    } else {
        tracing::debug!(slot, height = header.height, "empty block");
    }
    for ev in &out.events {
        tracing::info!(slot, event = ?ev, "ledger event");
    }
    crate::metrics::events(&out.events);
    shared.head.send_replace(head);
    Ok(())
}
