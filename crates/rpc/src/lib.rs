//! The wire contract between the gradual validator and its clients: JSON-RPC 2.0 envelopes,
//! error codes, method names and the JSON shapes (DTOs) of every result.
//!
//! It does **not** do any I/O, hold state, or validate requests; the validator does that,
//! and `gradual-client` speaks it over HTTP. The DTO fields are typed; [`wire`] writes them
//! as the strings below, once. Conversions between ledger records and DTOs, both ways, live
//! in [`convert`] (its ledger records behind the feature `records`) so that both sides agree
//! on one shape.
//!
//! ```text
//!   gradual-client ──Request{method, params}──▶ validator (axum)
//!        ▲                                          │ reads the ledger
//!        └────────Response{result: DTO | error}─────┘
//! ```
//! Conventions: keys and hashes are base58 strings, amounts are integers in ROE, arbitrary
//! bytes are base64.

pub mod convert;
pub mod dto;
pub mod jsonrpc;
pub mod limits;
pub mod suggest;
pub mod wire;

pub use dto::*;
pub use jsonrpc::{codes, Id, Request, Response, RpcError};

/// Method names, as a K2/Solana user would expect them.
pub mod methods {
    pub const GET_HEALTH: &str = "getHealth";
    pub const GET_VERSION: &str = "getVersion";
    pub const GET_GENESIS: &str = "getGenesis";
    pub const GET_SLOT: &str = "getSlot";
    pub const GET_HEAD: &str = "getHead";
    pub const GET_BLOCK: &str = "getBlock";
    pub const GET_BLOCKS: &str = "getBlocks";
    pub const GET_BALANCE: &str = "getBalance";
    pub const GET_ACCOUNT: &str = "getAccount";
    pub const SEND_TRANSACTION: &str = "sendTransaction";
    pub const GET_SIGNATURE_STATUS: &str = "getSignatureStatus";
    pub const GET_SIGNATURE_STATUSES: &str = "getSignatureStatuses";
    pub const GET_TASK_ACCOUNT_INFO: &str = "getTaskAccountInfo";
    pub const GET_TASK_SUBMISSION_INFO: &str = "getTaskSubmissionInfo";
    pub const GET_TASK_DISTRIBUTION_INFO: &str = "getTaskDistributionInfo";
    pub const GET_AUDIT_COMMITTEE: &str = "getAuditCommittee";
    pub const GET_DISTRIBUTION_CANDIDATES: &str = "getDistributionCandidates";
    pub const GET_PROGRAM_TASKS: &str = "getProgramTasks";
    pub const REQUEST_AIRDROP: &str = "requestAirdrop";
    pub const WAIT_FOR_SLOT: &str = "waitForSlot";

    /// Every method the validator serves.
    pub const ALL: &[&str] = &[
        GET_HEALTH,
        GET_VERSION,
        GET_GENESIS,
        GET_SLOT,
        GET_HEAD,
        GET_BLOCK,
        GET_BLOCKS,
        GET_BALANCE,
        GET_ACCOUNT,
        SEND_TRANSACTION,
        GET_SIGNATURE_STATUS,
        GET_SIGNATURE_STATUSES,
        GET_TASK_ACCOUNT_INFO,
        GET_TASK_SUBMISSION_INFO,
        GET_TASK_DISTRIBUTION_INFO,
        GET_AUDIT_COMMITTEE,
        GET_DISTRIBUTION_CANDIDATES,
        GET_PROGRAM_TASKS,
        REQUEST_AIRDROP,
        WAIT_FOR_SLOT,
    ];
}

/// HTTP paths besides JSON-RPC (`POST /`).
pub mod paths {
    /// `PUT /artifacts/<digest>` uploads (signed by a funded account, see
    /// `gradual_types::artifact`); `GET /artifacts/<digest>` downloads. The digest is the
    /// base58 blake3 of the bytes.
    pub const ARTIFACTS: &str = "/artifacts";
    pub const METRICS: &str = "/metrics";
    pub const HEALTH: &str = "/health";
}

/// Longest `waitForSlot` timeout the server honours.
pub const WAIT_TIMEOUT_MS_MAX: u64 = 30_000;
