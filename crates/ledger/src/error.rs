//! Why a transaction or a block was refused. Messages are lowercase, name the rule, and say
//! what was got and what was expected.

use crate::window::Window;
use borsh::{BorshDeserialize, BorshSerialize};
use gradual_types::{Hash, ParamError, Pubkey, Slot, TaskId};

/// A rejected transaction: recorded in its receipt; the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, BorshSerialize, BorshDeserialize)]
#[non_exhaustive]
pub enum TxError {
    // --- envelope (SPEC §1) ---
    #[error("signature does not verify (strict ed25519) for signer {signer}")]
    BadSignature { signer: Pubkey },
    #[error("transaction is for chain '{got}', this ledger is '{expected}'")]
    WrongChain { got: String, expected: String },
    #[error("transaction expired: recent_slot {recent_slot} is older than {max_age} slots before slot {slot}; sign it again with a recent slot")]
    Expired {
        recent_slot: Slot,
        slot: Slot,
        max_age: u64,
    },
    #[error("recent_slot {recent_slot} is in the future (current slot {slot})")]
    FutureSlot { recent_slot: Slot, slot: Slot },
    #[error("transaction already processed (duplicate signature)")]
    Duplicate,
    #[error("fee offered is {offered} ROE, the ledger charges {required}")]
    FeeTooLow { offered: u64, required: u64 },
    #[error("cannot pay the fee: the fee is {fee} ROE, account {account} has {available}")]
    CannotPayFee {
        account: Pubkey,
        fee: u64,
        available: u64,
    },
    #[error("insufficient funds: needs {needed} ROE, account {account} has {available}")]
    InsufficientFunds {
        account: Pubkey,
        needed: u64,
        available: u64,
    },
    #[error("amount must be greater than zero")]
    ZeroAmount,
    #[error("amount overflows the ROE supply")]
    Overflow,
    #[error("limits: {0}")]
    Limits(String),
    // --- faucet ---
    #[error("this chain has no faucet")]
    FaucetDisabled,
    #[error("only the faucet authority {authority} may mint")]
    NotFaucet { authority: Pubkey },
    #[error("mint of {got} ROE exceeds the faucet limit of {max} per mint")]
    MintTooLarge { got: u64, max: u64 },
    #[error("{recipient} already received {received} ROE from the faucet in its window; it may receive at most {max} ROE per {window_slots} slots, more from slot {next_slot} on")]
    FaucetRateLimited {
        recipient: Pubkey,
        received: u64,
        max: u64,
        window_slots: u64,
        next_slot: Slot,
    },
    #[error("the faucet has created {minted} ROE of its {cap} ROE cap; this mint needs {needed} ROE more (amount plus fee)")]
    FaucetCapReached { minted: u64, cap: u64, needed: u64 },
    // --- tasks (SPEC §2, §7) ---
    #[error("unknown task {0}")]
    UnknownTask(TaskId),
    #[error("task {0} already exists (pick another nonce)")]
    TaskExists(TaskId),
    #[error("only the task manager {manager} may do this")]
    NotManager { manager: Pubkey },
    #[error("task parameters: {0}")]
    BadParams(ParamError),
    #[error("round_time, submission_window and audit_window are fixed at creation; create a new task to change them")]
    TimingIsFixed,
    #[error("task is not active")]
    TaskInactive,
    #[error("task is closed")]
    TaskClosed,
    #[error("task must be deactivated before it is closed")]
    TaskStillActive,
    #[error("task has {open} rounds not yet settled; close it after they settle")]
    RoundsNotSettled { open: u64 },
    // --- staking (SPEC §7) ---
    #[error("{node} has no stake in this task")]
    NotStaked { node: Pubkey },
    #[error("stake {stake} ROE is below the task minimum {minimum}; stake more first")]
    StakeBelowMinimum { stake: u64, minimum: u64 },
    #[error("stake reached the minimum at slot {staked_slot}, after round {round} started at slot {round_start}; submit from the next round")]
    StakedTooLate {
        staked_slot: Slot,
        round: u64,
        round_start: Slot,
    },
    #[error("node is unstaking (requested in round {since_round})")]
    Unstaking { since_round: u64 },
    #[error("no unstake requested; send Unstake and wait the cooldown first")]
    NotUnstaking,
    #[error("cooldown not over: unstaked in round {unstake_round}, withdraw from round {withdraw_round}, now round {round}")]
    CooldownNotOver {
        unstake_round: u64,
        withdraw_round: u64,
        round: u64,
    },
    #[error("url is {got} bytes, the most is {max}")]
    UrlTooLong { got: usize, max: usize },
    #[error("no pending rewards to claim")]
    NothingToClaim,
    #[error(
        "the stake belongs to owner {owner}, not {got}; the owner changes it with SetStakeOwner"
    )]
    OwnerMismatch { owner: Pubkey, got: Pubkey },
    #[error("only the stake's owner {owner} may do this")]
    NotOwner { owner: Pubkey },
    #[error(
        "stake is held until {rounds} distribution attempt(s) it submitted or voted on settle"
    )]
    LockedUntilSettled { rounds: u32 },
    #[error("round {round} was active when it started and may still take proofs; close the task once it settles")]
    RoundStillActive { round: u64 },
    // --- validators (SPEC §1) ---
    #[error("this chain has no admin; its validator set is fixed")]
    NoAdmin,
    #[error("only the admin {admin} may change the validator set")]
    NotAdmin { admin: Pubkey },
    #[error("a new validator set must start after the current slot {slot}, got {from_slot}")]
    ValidatorsTooSoon { from_slot: Slot, slot: Slot },
    // --- windows (SPEC §3) ---
    #[error("{window} for round {round} is slots {opens}..{closes}, got slot {slot}")]
    OutsideWindow {
        window: Window,
        round: u64,
        slot: Slot,
        opens: Slot,
        closes: Slot,
    },
    // --- proofs and audits (SPEC §4–5) ---
    #[error("{candidate} submitted no proof for round {round}")]
    NoSubmission { candidate: Pubkey, round: u64 },
    #[error("a node cannot audit itself")]
    SelfAudit,
    #[error("no audit is raised against {candidate}; only an Invalid vote raises one")]
    NoAuditRaised { candidate: Pubkey },
    #[error("audits may be raised until slot {last_slot} so the committee has time to vote, got slot {slot}")]
    RaiseTooLate { last_slot: Slot, slot: Slot },
    #[error("{queued} of this task's committee draws are queued ahead of this raise, so its committee would be drawn at slot {draw_slot}, after slot {latest}, the last that leaves it the vote window; raise earlier in the audit window")]
    DrawBacklog {
        queued: u64,
        draw_slot: Slot,
        latest: Slot,
    },
    #[error("this node already raised the {max} audits it may raise this round (audit_sample)")]
    TooManyRaises { max: u16 },
    #[error("committee is drawn at the block after the trigger; votes count from slot {opens}")]
    CommitteeNotDrawn { opens: Slot },
    #[error("{node} holds no seat on this committee")]
    NotOnCommittee { node: Pubkey },
    #[error("{node} already voted")]
    AlreadyVoted { node: Pubkey },
    #[error("candidate {candidate} appears twice in one batch")]
    DuplicateVote { candidate: Pubkey },
    /// Some votes of an `AuditProofs` batch were refused; each vote stands on its own
    /// (SPEC §1 [v2]), so the `applied` others were counted (and the fee paid).
    #[error("{} vote(s) of the batch refused, {applied} counted; first refused: vote {}: {}", refused.len(), refused.first().map_or(0, |r| r.0), refused.first().map_or(String::new(), |r| r.1.to_string()))]
    VotesRefused {
        applied: u32,
        refused: Vec<(u32, TxError)>,
    },
    // --- distribution (SPEC §6) ---
    #[error("round {round} is not distributing ({status})")]
    NotDistributing { round: u64, status: RoundState },
    #[error("attempt {got} is not the current attempt {current} for round {round}")]
    WrongAttempt { round: u64, got: u16, current: u16 },
    #[error("attempt {attempt} belongs to {selected}, not the signer")]
    NotSelected { attempt: u16, selected: Pubkey },
    #[error("the list for this attempt is already submitted")]
    ListAlreadySubmitted,
    #[error("no list was submitted for this attempt")]
    ListNotSubmitted,
    #[error("chunk {index} is missing; chunks must be numbered 0..n without gaps")]
    MissingChunk { index: u32 },
    #[error("list has {got} entries, the submission says {expected}")]
    CountMismatch { got: u32, expected: u32 },
    #[error("list digest is {got}, the submission says {expected}")]
    DigestMismatch { got: Hash, expected: Hash },
    #[error("the uploaded list was sealed by a submission (its digest is {digest}); no more chunks may be added")]
    UploadSealed { digest: Hash },
    #[error("chunk {got} is out of order: the next chunk to upload is {expected}")]
    ChunkOutOfOrder { got: u32, expected: u32 },
    #[error("the list would have more entries than the round's {max} submitters")]
    TooManyEntries { max: u64 },
    #[error("entry {index} is not in strictly ascending node order (no duplicates allowed)")]
    EntriesNotSorted { index: u32 },
    #[error("entry {node} is not a valid submitter of round {round}")]
    NotASubmitter { node: Pubkey, round: u64 },
    #[error("list pays {sum} ROE, the most this round may pay is {limit}")]
    RewardsExceedLimit { sum: u64, limit: u64 },
}

impl TxError {
    /// The variant's name (`"OutsideWindow"`, `"Duplicate"`, ...), the `kind` clients have
    /// seen on the wire since v1. Derived from [`TxError::code`] (its CamelCase form; a batch
    /// is `"VotesRefused"` whatever its first vote's code), so the two cannot drift; a test
    /// checks it against every variant's name.
    pub fn kind(&self) -> String {
        if matches!(self, TxError::VotesRefused { .. }) {
            return "VotesRefused".into();
        }
        self.code()
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// A stable, machine-readable name of the rule that refused the transaction
    /// (`"outside_window"`, `"insufficient_funds"`, ...). Clients branch on this, never on
    /// the message text. A batch error reports the failing vote's code.
    pub fn code(&self) -> &'static str {
        match self {
            TxError::BadSignature { .. } => "bad_signature",
            TxError::WrongChain { .. } => "wrong_chain",
            TxError::Expired { .. } => "expired",
            TxError::FutureSlot { .. } => "future_slot",
            TxError::Duplicate => "duplicate",
            TxError::FeeTooLow { .. } => "fee_too_low",
            TxError::CannotPayFee { .. } => "cannot_pay_fee",
            TxError::InsufficientFunds { .. } => "insufficient_funds",
            TxError::ZeroAmount => "zero_amount",
            TxError::Overflow => "overflow",
            TxError::Limits(..) => "limits",
            TxError::FaucetDisabled => "faucet_disabled",
            TxError::NotFaucet { .. } => "not_faucet",
            TxError::MintTooLarge { .. } => "mint_too_large",
            TxError::FaucetRateLimited { .. } => "faucet_rate_limited",
            TxError::FaucetCapReached { .. } => "faucet_cap_reached",
            TxError::UnknownTask(..) => "unknown_task",
            TxError::TaskExists(..) => "task_exists",
            TxError::NotManager { .. } => "not_manager",
            TxError::BadParams(..) => "bad_params",
            TxError::TimingIsFixed => "timing_is_fixed",
            TxError::TaskInactive => "task_inactive",
            TxError::TaskClosed => "task_closed",
            TxError::TaskStillActive => "task_still_active",
            TxError::RoundsNotSettled { .. } => "rounds_not_settled",
            TxError::NotStaked { .. } => "not_staked",
            TxError::StakeBelowMinimum { .. } => "stake_below_minimum",
            TxError::StakedTooLate { .. } => "staked_too_late",
            TxError::Unstaking { .. } => "unstaking",
            TxError::NotUnstaking => "not_unstaking",
            TxError::CooldownNotOver { .. } => "cooldown_not_over",
            TxError::UrlTooLong { .. } => "url_too_long",
            TxError::NothingToClaim => "nothing_to_claim",
            TxError::OwnerMismatch { .. } => "owner_mismatch",
            TxError::NotOwner { .. } => "not_owner",
            TxError::LockedUntilSettled { .. } => "locked_until_settled",
            TxError::RoundStillActive { .. } => "round_still_active",
            TxError::NoAdmin => "no_admin",
            TxError::NotAdmin { .. } => "not_admin",
            TxError::ValidatorsTooSoon { .. } => "validators_too_soon",
            TxError::OutsideWindow { .. } => "outside_window",
            TxError::NoSubmission { .. } => "no_submission",
            TxError::SelfAudit => "self_audit",
            TxError::NoAuditRaised { .. } => "no_audit_raised",
            TxError::RaiseTooLate { .. } => "raise_too_late",
            TxError::DrawBacklog { .. } => "draw_backlog",
            TxError::TooManyRaises { .. } => "too_many_raises",
            TxError::CommitteeNotDrawn { .. } => "committee_not_drawn",
            TxError::NotOnCommittee { .. } => "not_on_committee",
            TxError::AlreadyVoted { .. } => "already_voted",
            TxError::DuplicateVote { .. } => "duplicate_vote",
            TxError::VotesRefused { refused, .. } => {
                refused.first().map_or("votes_refused", |(_, e)| e.code())
            }
            TxError::NotDistributing { .. } => "not_distributing",
            TxError::WrongAttempt { .. } => "wrong_attempt",
            TxError::NotSelected { .. } => "not_selected",
            TxError::ListAlreadySubmitted => "list_already_submitted",
            TxError::ListNotSubmitted => "list_not_submitted",
            TxError::MissingChunk { .. } => "missing_chunk",
            TxError::CountMismatch { .. } => "count_mismatch",
            TxError::DigestMismatch { .. } => "digest_mismatch",
            TxError::UploadSealed { .. } => "upload_sealed",
            TxError::ChunkOutOfOrder { .. } => "chunk_out_of_order",
            TxError::TooManyEntries { .. } => "too_many_entries",
            TxError::EntriesNotSorted { .. } => "entries_not_sorted",
            TxError::NotASubmitter { .. } => "not_a_submitter",
            TxError::RewardsExceedLimit { .. } => "rewards_exceed_limit",
        }
    }
}

/// What a round is doing, as an error reports it (a stable code, not a debug string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum RoundState {
    /// No proofs were submitted for it, or it was pruned.
    Unknown,
    Reviewing,
    Paid,
    Failed,
    NoCandidates,
    Distributing,
}

impl RoundState {
    pub fn of(status: &crate::state::RoundStatus) -> RoundState {
        use crate::state::RoundStatus as S;
        match status {
            S::Reviewing => RoundState::Reviewing,
            S::Distributing => RoundState::Distributing,
            S::Paid { .. } => RoundState::Paid,
            S::Failed => RoundState::Failed,
            S::NoCandidates => RoundState::NoCandidates,
        }
    }
}

impl std::fmt::Display for RoundState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RoundState::Unknown => "no proofs were submitted for it, or it was pruned",
            RoundState::Reviewing => "its proofs are still under review",
            RoundState::Paid => "it is paid",
            RoundState::Failed => "every attempt failed",
            RoundState::NoCandidates => "it had no valid submitter",
            RoundState::Distributing => "distributing",
        })
    }
}

/// A block that cannot be applied at all (a bug in the producer or a corrupt log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    #[error("block slot {slot} is not after the last block's slot {head}")]
    SlotNotAfterHead { slot: Slot, head: Slot },
    #[error("block parent is {got}, the last block is {expected}")]
    WrongParent { got: Hash, expected: Hash },
    #[error("block carries {got} transactions, the most is {max}")]
    TooManyTxs { got: usize, max: usize },
    #[error(
        "block carries {got} bytes of transactions, the most is {max} (genesis block_max_bytes)"
    )]
    TooManyBytes { got: u64, max: u64 },
    #[error("block state root is {got}, replay computed {expected}")]
    StateRootMismatch { got: Hash, expected: Hash },
    #[error("block producer {producer} is not in the validator set")]
    UnknownProducer { producer: Pubkey },
    #[error("block randomness proof of {producer} does not verify for this slot and parent")]
    BadRandomness { producer: Pubkey },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_names_and_batches_report_the_inner_code() {
        assert_eq!(TxError::Duplicate.code(), "duplicate");
        assert_eq!(
            TxError::OutsideWindow {
                window: Window::ProofAudit,
                round: 1,
                slot: 2,
                opens: 3,
                closes: 4
            }
            .code(),
            "outside_window"
        );
        let inner = TxError::NotOnCommittee {
            node: Pubkey([1; 32]),
        };
        let batch = TxError::VotesRefused {
            applied: 2,
            refused: vec![(3, inner.clone())],
        };
        assert_eq!(batch.code(), inner.code());
        assert_eq!(batch.kind(), "VotesRefused");
    }

    /// Every variant (decoded from its borsh index with zeroed fields): `kind` is the
    /// variant's name, as its `Debug` form starts, so the wire's `kind` needs no `Debug`
    /// parsing and cannot drift from `code`.
    #[test]
    fn kind_is_the_variant_name_for_every_variant() {
        use borsh::BorshDeserialize;
        let mut seen = 0;
        for index in 0..=255u8 {
            let mut bytes = vec![index];
            bytes.extend([0u8; 256]);
            let Ok(e) = TxError::deserialize(&mut bytes.as_slice()) else {
                continue;
            };
            let debug = format!("{e:?}");
            let name: String = debug
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert_eq!(e.kind(), name, "variant {index}");
            seen += 1;
        }
        assert!(seen >= 60, "only {seen} variants decoded");
    }
}
