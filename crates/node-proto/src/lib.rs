//! The task node's round scheduler as a sans-IO state machine (quinn-proto style).
//!
//! It does **not** run processes, speak HTTP, sign, or read clocks. It reads the ledger
//! through [`LedgerView`], tells its shell what to do through [`Action`]s, and takes the
//! task's answers back. The real node (`gradual node`) and the simulator drive this same core
//! through the same loop ([`driver`]), so each node-side rule of SPEC §3–8 lives here once.
//!
//! ```text
//!        ledger view ──▶ handle_slot ─┐
//!   task answers ──▶ handle_answer ───┼─▶ NodeCore ──▶ poll_action(): RunTask | MakeProof |
//!                                     ┘                CheckProof | MakeDistribution | Send
//!        driver::step / driver::answer run this loop through a shell's `Shell::act`
//! ```

mod core;
pub mod driver;
mod policy;
mod view;

pub use crate::core::{equal_split, Action, ListPurpose, ListRequest, NodeCore, NodeStats};
pub use crate::driver::{Answer, Shell};
pub use crate::policy::{AuditGuard, SuspectPolicy, TaskConfig, UnknownPolicy, SUSPECT_MIN_CHECKS};
pub use crate::view::{CachedView, LedgerView, TaskInfo};
