//! Round arithmetic of SPEC §3 lives in `gradual_types::window` (pure arithmetic, so clients
//! and tasks reach it without the ledger); re-exported here for the ledger's own modules.

pub use gradual_types::window::*;
