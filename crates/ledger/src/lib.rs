//! The K2 ledger of Gradual Consensus: a deterministic, sans-IO state machine.
//!
//! It does **not** do networking, storage, clocks or threads of its own (bar an optional
//! parallel signature check). Give it a slot, the parent hash and signature-checked
//! transactions; it returns the block, one receipt per transaction, what end-of-window work
//! did, and the records that changed, for a store to persist.
//!
//! ```text
//!   (slot, parent_hash, [CheckedTx]) ──▶ Ledger::apply_block ──▶ BlockOutput
//!                                          │   { block (with state_root), receipts,
//!                                          │     events, writes }
//!                    read-only queries ◀───┘
//! ```
//! Rules live here once: rounds and windows (`window`), committees and candidate ranking
//! (`committee`, public so clients reproduce them), the transaction envelope the validator's
//! door asks too (`envelope`), instructions (`exec`), end-of-window work and replay
//! (`ledger`), views for clients (`query`).

pub mod block;
pub mod committee;
mod envelope;
pub mod error;
mod exec;
mod ledger;
pub mod lthash;
pub mod page;
pub mod query;
pub mod state;
mod table;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
#[cfg(test)]
mod tests;
pub mod window;

pub use block::{tx_root, Block, BlockHeader, BlockOutput, LedgerEvent, Receipt};
pub use committee::{
    audit_seed, distribution_seed, draw_committee, rank_candidates, tally, StakePool,
};
pub use envelope::{check_envelope, check_fee_offered, CheckedTx};
pub use error::{BlockError, ReplayError, TxError};
pub use exec::{distribution_digest, DistributionHasher};
pub use ledger::{Ledger, LoadError};
pub use table::StateWrite;
pub use window::{Clock, Span, Window};
