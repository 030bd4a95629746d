//! The task node's round scheduler as a sans-IO state machine (quinn-proto style).
//!
//! It does **not** run processes, speak HTTP, sign, or read clocks. It reads the ledger
//! through [`LedgerView`], tells its shell what to do through [`Action`]s, and takes the
//! task's answers back. The real node (`gradual node`) and the simulator drive this same core,
//! so each node-side rule of SPEC §3–8 lives here once.
//!
//! ```text
//!        ledger view ──▶ handle_slot ─┐
//!   task answers ──▶ handle_proof/    ├─▶ NodeCore ──▶ poll_action(): RunTask | MakeProof |
//!                    check/list ──────┘                CheckProof | MakeDistribution | Send
//! ```

mod core;
mod view;

pub use crate::core::{
    equal_split, Action, AuditGuard, ListPurpose, NodeCore, NodeStats, SuspectPolicy, TaskConfig,
    UnknownPolicy, SUSPECT_MIN_CHECKS,
};
pub use crate::view::{CachedView, LedgerView, TaskInfo};
