//! Every protocol limit and default in one place (TigerBeetle's `constants.zig`).
//!
//! Limits are enforced when bytes are decoded, so nothing larger ever reaches the ledger.
//! Defaults are the SPEC's; genesis-level defaults live in [`crate::Genesis::default`].

/// Version of the protocol rules this build implements (SPEC §1 *Versions*). Genesis names it;
/// a store or block of another version is refused.
pub const PROTOCOL_VERSION: u32 = 2;

/// Fastest slot clock a chain may run (tests use 10–20 ms); the validator refuses a
/// genesis outside `SLOT_MS_MIN..=SLOT_MS_MAX`.
pub const SLOT_MS_MIN: u64 = 10;
/// Slowest slot clock (one minute).
pub const SLOT_MS_MAX: u64 = 60_000;

/// ROE per KOII (SPEC §1: 1 KOII = 1,000,000,000 ROE).
pub const ROE_PER_KOII: u64 = 1_000_000_000;
/// Basis points in 100 % (SPEC §1).
pub const BPS_DENOMINATOR: u64 = 10_000;

/// Largest encoded transaction, signature included (SPEC §1).
pub const TX_BYTES_MAX: usize = 64 * 1024;
/// Most transactions one block may carry; bounds the work of a slot. Genesis
/// `block_max_txs` may lower it, never raise it.
pub const BLOCK_TXS_MAX: usize = 65_536;
/// Largest `block_max_bytes` a genesis may name (SPEC §1 [v2]: blocks are bounded by bytes as
/// well as by count): the encoded transactions of one block.
pub const BLOCK_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Genesis default of `block_max_bytes`: the encoded transactions of one block.
pub const DEFAULT_BLOCK_MAX_BYTES: u64 = 4 * 1024 * 1024;

/// Records end-of-window work and committee draws may write in one block (SPEC §1 [v2]
/// *Bounded settlement*); what does not fit runs in the next block.
pub const SETTLEMENT_RECORDS_PER_BLOCK: u64 = 4_096;
/// Bytes (keys and values) end-of-window work and committee draws may write in one block
/// (SPEC §1 [v2] *Bounded settlement*).
pub const SETTLEMENT_BYTES_PER_BLOCK: u64 = 4 * 1024 * 1024;
/// Entries of the settlement queue's timer that become ready in one block at most (SPEC §1
/// [v2] *Bounded settlement*); the rest become ready in the next blocks, earliest first.
/// Each costs two records of the block's settlement budget. About as many as the cheapest
/// steps a block's task turn can run, so becoming ready is not the slower half of the queue.
pub const PROMOTIONS_PER_BLOCK: u64 = 1_280;
/// [`PROMOTIONS_PER_BLOCK`] in a block whose draw turn has draws waiting: its share stays
/// free.
pub const PROMOTIONS_WITH_DRAWS: u64 = 480;
/// Records the settlement queue's draw turn may write in a block: committee draws keep this
/// share however much other work is due (SPEC §5 *Bounded work*; about 500 draws).
pub const DRAW_SHARE_RECORDS: u64 = 1_536;
/// Bytes the draw turn may write in a block (about 85 draws of 256-seat committees).
pub const DRAW_SHARE_BYTES: u64 = 3 * SETTLEMENT_BYTES_PER_BLOCK / 8;
/// Records one pruning step deletes at most; a round with more is pruned over several steps.
pub const PRUNE_RECORDS_PER_STEP: u64 = 256;
/// Bytes (encoded keys and values) one pruning step deletes at most; a distribution chunk
/// record (the largest) always fits.
pub const PRUNE_BYTES_PER_STEP: u64 = 256 * 1024;
/// Audits one step of a proof audit window's close resolves at most; a round with more
/// audits is resolved over several steps (and blocks).
pub const AUDITS_PER_STEP: u64 = 4;
/// Largest proof value a node may submit (SPEC §4).
pub const PROOF_BYTES_MAX: usize = 512;
/// Task display limits (SPEC §2).
pub const TASK_NAME_BYTES_MAX: usize = 24;
pub const TASK_DESCRIPTION_BYTES_MAX: usize = 256;
pub const TASK_METADATA_BYTES_MAX: usize = 1024;
/// Executable locations: how many URLs a task may list, and how long each may be.
pub const EXECUTABLE_URLS_MAX: usize = 4;
pub const URL_BYTES_MAX: usize = 256;
/// Runtime kind label of a task executable (e.g. `"native"`, `"python3"`); for a task
/// shipped as a directory, the label before `@` in `<label>@<entry>` (`crate::runtime`).
pub const RUNTIME_BYTES_MAX: usize = 32;
/// The entry path of a task shipped as a directory (`python3@<entry>`, `crate::runtime`).
/// `Executable.runtime` is at most `RUNTIME_BYTES_MAX + 1 + TASK_ENTRY_BYTES_MAX` bytes.
pub const TASK_ENTRY_BYTES_MAX: usize = 256;
/// Chain identifier length.
pub const CHAIN_ID_BYTES_MAX: usize = 32;

/// Votes one `AuditProofs` transaction may carry (SPEC §5 batching).
pub const AUDIT_VOTES_PER_TX_MAX: usize = 1024;
/// Entries one distribution chunk may carry; 40 bytes each keeps a chunk well under a tx.
pub const DISTRIBUTION_ENTRIES_PER_CHUNK_MAX: usize = 1_500;
/// Chunks one distribution list may have: with the per-chunk limit this allows 1.5 M entries.
pub const DISTRIBUTION_CHUNKS_MAX: u32 = 1_000;

/// Committee seats a task may ask for (SPEC §2 `committee_size` ≤ 256).
pub const COMMITTEE_SIZE_MAX: u16 = 256;
/// Peers a node samples per round (SPEC §2 `audit_sample` ≤ 16).
pub const AUDIT_SAMPLE_MAX: u16 = 16;
/// Validators a validator set may name.
pub const VALIDATORS_MAX: usize = 64;
/// Wall time a committee has at least to vote (SPEC §5 *Vote window*: `V ≥ 3 s` of slots).
pub const VOTE_WINDOW_MS_MIN: u64 = 3_000;
/// Retries of a failed distribution (SPEC §6 `allowed_failed_distributions`).
pub const ALLOWED_FAILED_DISTRIBUTIONS_MAX: u16 = 16;
/// Rounds of unstake cooldown a task may ask for (SPEC §7).
pub const UNSTAKE_COOLDOWN_MAX: u64 = 1_000;
/// Slots per round a task may ask for; bounds every window computation.
pub const ROUND_TIME_MAX: u64 = 1 << 32;

/// SPEC §2 task defaults.
pub const DEFAULT_ALLOWED_FAILED_DISTRIBUTIONS: u16 = 3;
pub const DEFAULT_AUDIT_SAMPLE: u16 = 8;
pub const DEFAULT_COMMITTEE_SIZE: u16 = 64;
pub const DEFAULT_SLASH_BPS: u16 = 7_000;
pub const DEFAULT_ACCUSER_BPS: u16 = 2_000;
pub const DEFAULT_VOTER_BPS: u16 = 3_000;
pub const DEFAULT_FALSE_ACCUSATION_BPS: u16 = 1_000;
pub const DEFAULT_UNSTAKE_COOLDOWN: u64 = 3;
/// SPEC §6 [v2]: share of stake slashed from a selected candidate that submits no list.
pub const DEFAULT_MISSED_LIST_BPS: u16 = 100;
/// SPEC §7 [v2]: the cooldown covers every verdict that can still touch a stake.
pub const UNSTAKE_COOLDOWN_MIN: u64 = 1;

/// The windows of a round fit in it (SPEC §2, §3): `SW + AW ≤ RT`, so a round's proof
/// audit closes before the next round's submissions open. The one copy of the rule; task
/// parameters, task files and simulator configs ask it.
pub fn windows_fit(submission_window: u64, audit_window: u64, round_time: u64) -> bool {
    submission_window
        .checked_add(audit_window)
        .is_some_and(|sum| sum <= round_time)
}

/// Rounds of stake history kept before the current round: enough for every draw and
/// ranking the ledger makes (they look back at most two rounds).
pub const STAKE_HISTORY_ROUNDS: u64 = 3;

/// Rounds kept after a round can no longer change: SPEC §2 allows pruning data older than
/// `allowed_failed_distributions + 3` rounds.
pub const PRUNE_MARGIN_ROUNDS: u64 = 3;

/// The retention horizon of round `r`'s records (SPEC §2): for the rounds up to
/// `r + retention_rounds(a)` its record can still change (one distribution attempt per round
/// after it, `a + 1` of them, their audits and settlement), so the ledger prunes it only
/// after them and nodes keep their working state of `r` as long. The one copy of the margin.
pub const fn retention_rounds(allowed_failed_distributions: u16) -> u64 {
    allowed_failed_distributions as u64 + PRUNE_MARGIN_ROUNDS
}

/// Slots of a task's audit window left for the committee to vote (SPEC §5 *Vote window*):
/// `V = max(⌈3000 ms / slot_ms⌉, AW / 3)`. Raises are accepted only in the first `AW − V`
/// slots of the window, and a task needs `AW ≥ 2·V`.
pub const fn vote_window_slots(slot_ms: u64, audit_window: u64) -> u64 {
    let slot_ms = if slot_ms == 0 { 1 } else { slot_ms };
    let by_time = VOTE_WINDOW_MS_MIN.div_ceil(slot_ms);
    let by_share = audit_window / 3;
    if by_time > by_share {
        by_time
    } else {
        by_share
    }
}

/// The last slot at which an audit may be raised in a proof audit window that opens at
/// `opens` (SPEC §5 *Vote window*): `opens + AW − V − 1`, leaving the committee `V` slots.
/// The ledger enforces it; nodes use it to stop raising in time.
pub const fn raise_last_slot(opens: u64, audit_window: u64, slot_ms: u64) -> u64 {
    let v = vote_window_slots(slot_ms, audit_window);
    opens
        .saturating_add(audit_window.saturating_sub(v))
        .saturating_sub(1)
}

/// Size of one distribution entry on the wire: a 32-byte key and a u64 reward.
pub const DISTRIBUTION_ENTRY_BYTES: usize = 40;

const _: () =
    assert!(DISTRIBUTION_ENTRIES_PER_CHUNK_MAX * DISTRIBUTION_ENTRY_BYTES + 1024 < TX_BYTES_MAX);
const _: () = assert!(AUDIT_VOTES_PER_TX_MAX * 33 + 1024 < TX_BYTES_MAX);
const _: () = assert!(PROOF_BYTES_MAX + 1024 < TX_BYTES_MAX);
// Bounded settlement: the largest single step (a payout chunk, one record per entry plus its
// bookkeeping; a batch of audits, each paying at most a full committee) fits in one block's
// budget next to a full block of promotions and a full draw turn, so every block runs at least
// one task step and no block needs an exception to the budget. (Bytes: the largest step, a
// batch of 4 audits of 256 seats, is bounded at about 1.2 MiB; with the draw share's 1.5 MiB
// and at most 240 KiB of promotions it stays under the 4 MiB.)
const LARGEST_STEP_RECORDS: u64 = {
    let payout = DISTRIBUTION_ENTRIES_PER_CHUNK_MAX as u64 + 8;
    let audits = AUDITS_PER_STEP * (COMMITTEE_SIZE_MAX as u64 + 8);
    if payout > audits {
        payout
    } else {
        audits
    }
};
const _: () = assert!(
    LARGEST_STEP_RECORDS + 2 * PROMOTIONS_WITH_DRAWS + DRAW_SHARE_RECORDS
        <= SETTLEMENT_RECORDS_PER_BLOCK
);
const _: () =
    assert!(LARGEST_STEP_RECORDS + 2 * PROMOTIONS_PER_BLOCK <= SETTLEMENT_RECORDS_PER_BLOCK);
const _: () = assert!(PROMOTIONS_WITH_DRAWS <= PROMOTIONS_PER_BLOCK);
const _: () = assert!(PRUNE_RECORDS_PER_STEP <= SETTLEMENT_RECORDS_PER_BLOCK);
const _: () = assert!(PRUNE_BYTES_PER_STEP <= SETTLEMENT_BYTES_PER_BLOCK);
const _: () = assert!(
    (DISTRIBUTION_ENTRIES_PER_CHUNK_MAX * DISTRIBUTION_ENTRY_BYTES) as u64 + 1024
        <= PRUNE_BYTES_PER_STEP
);
const _: () = assert!(DEFAULT_BLOCK_MAX_BYTES <= BLOCK_BYTES_MAX);
const _: () = assert!((TX_BYTES_MAX as u64) <= DEFAULT_BLOCK_MAX_BYTES);
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
const _: () = assert!(DEFAULT_AUDIT_SAMPLE <= AUDIT_SAMPLE_MAX);
const _: () = assert!(DEFAULT_COMMITTEE_SIZE <= COMMITTEE_SIZE_MAX);
const _: () = assert!(DEFAULT_UNSTAKE_COOLDOWN >= UNSTAKE_COOLDOWN_MIN);
const _: () = assert!((DEFAULT_MISSED_LIST_BPS as u64) <= BPS_DENOMINATOR);

/// The most a downloaded executable may weigh (the validator's default cap is 64 MiB): a URL
/// that streams without end must not fill the node's memory.
pub const ARTIFACT_BYTES_MAX: usize = 256 * 1024 * 1024;

/// The most entries (files and directories) a task archive may have: the CLI refuses to pack
/// more, and nodes refuse to unpack more.
pub const TASK_ARCHIVE_ENTRIES_MAX: usize = 10_000;
