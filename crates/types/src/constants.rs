//! Every protocol limit and default in one place (TigerBeetle's `constants.zig`).
//!
//! Limits are enforced when bytes are decoded, so nothing larger ever reaches the ledger.
//! Defaults are the SPEC's; genesis-level defaults live in [`crate::Genesis::default`].

/// ROE per KOII (SPEC §1: 1 KOII = 1,000,000,000 ROE).
pub const ROE_PER_KOII: u64 = 1_000_000_000;
/// Basis points in 100 % (SPEC §1).
pub const BPS_DENOMINATOR: u64 = 10_000;

/// Largest encoded transaction, signature included (SPEC §1).
pub const TX_BYTES_MAX: usize = 64 * 1024;
/// Most transactions one block may carry; bounds the work of a slot.
pub const BLOCK_TXS_MAX: usize = 65_536;
/// Largest proof value a node may submit (SPEC §4).
pub const PROOF_BYTES_MAX: usize = 512;
/// Task display limits (SPEC §2).
pub const TASK_NAME_BYTES_MAX: usize = 24;
pub const TASK_DESCRIPTION_BYTES_MAX: usize = 256;
pub const TASK_METADATA_BYTES_MAX: usize = 1024;
/// Executable locations: how many URLs a task may list, and how long each may be.
pub const EXECUTABLE_URLS_MAX: usize = 4;
pub const URL_BYTES_MAX: usize = 256;
/// Runtime kind label of a task executable (e.g. `"native"`, `"python3"`).
pub const RUNTIME_BYTES_MAX: usize = 32;
/// Chain identifier length.
pub const CHAIN_ID_BYTES_MAX: usize = 32;

/// Votes one `AuditProofs` transaction may carry (SPEC §5 batching).
pub const AUDIT_VOTES_PER_TX_MAX: usize = 1024;
/// Entries one distribution chunk may carry; 40 bytes each keeps a chunk well under a tx.
pub const DISTRIBUTION_ENTRIES_PER_CHUNK_MAX: usize = 1_500;
/// Chunks one distribution list may have: with the per-chunk limit this allows 1.5 M entries.
pub const DISTRIBUTION_CHUNKS_MAX: u32 = 1_000;

/// Committee seats a task may ask for (SPEC §5 `committee_size`).
pub const COMMITTEE_SIZE_MAX: u16 = 1_024;
/// Peers a node samples per round (SPEC §5 `audit_sample`).
pub const AUDIT_SAMPLE_MAX: u16 = 1_024;
/// Retries of a failed distribution (SPEC §6 `allowed_failed_distributions`).
pub const ALLOWED_FAILED_DISTRIBUTIONS_MAX: u16 = 16;
/// Rounds of unstake cooldown a task may ask for (SPEC §7).
pub const UNSTAKE_COOLDOWN_MAX: u64 = 1_000;
/// Slots per round a task may ask for; bounds every window computation.
pub const ROUND_TIME_MAX: u64 = 1 << 32;

/// SPEC §2 task defaults.
pub const DEFAULT_ALLOWED_FAILED_DISTRIBUTIONS: u16 = 3;
pub const DEFAULT_AUDIT_SAMPLE: u16 = 5;
pub const DEFAULT_COMMITTEE_SIZE: u16 = 32;
pub const DEFAULT_SLASH_BPS: u16 = 7_000;
pub const DEFAULT_ACCUSER_BPS: u16 = 2_000;
pub const DEFAULT_VOTER_BPS: u16 = 3_000;
pub const DEFAULT_FALSE_ACCUSATION_BPS: u16 = 1_000;
pub const DEFAULT_UNSTAKE_COOLDOWN: u64 = 3;

/// Rounds kept after a round can no longer change: SPEC §2 allows pruning data older than
/// `allowed_failed_distributions + 3` rounds.
pub const PRUNE_MARGIN_ROUNDS: u64 = 3;

/// Size of one distribution entry on the wire: a 32-byte key and a u64 reward.
pub const DISTRIBUTION_ENTRY_BYTES: usize = 40;

const _: () =
    assert!(DISTRIBUTION_ENTRIES_PER_CHUNK_MAX * DISTRIBUTION_ENTRY_BYTES + 1024 < TX_BYTES_MAX);
const _: () = assert!(AUDIT_VOTES_PER_TX_MAX * 33 + 1024 < TX_BYTES_MAX);
const _: () = assert!(PROOF_BYTES_MAX + 1024 < TX_BYTES_MAX);
const _: () = assert!(
    TASK_NAME_BYTES_MAX
        + TASK_DESCRIPTION_BYTES_MAX
        + TASK_METADATA_BYTES_MAX
        + EXECUTABLE_URLS_MAX * URL_BYTES_MAX
        + 2048
        < TX_BYTES_MAX
);
const _: () = assert!((DEFAULT_ACCUSER_BPS as u64) + (DEFAULT_VOTER_BPS as u64) <= BPS_DENOMINATOR);
const _: () = assert!((DEFAULT_SLASH_BPS as u64) <= BPS_DENOMINATOR);
