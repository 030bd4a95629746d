//! The records of a round that clients read as the ledger keeps them: the round, a proof,
//! the tally of a committee's vote (and the one majority rule), how a round, an audit and a
//! distribution attempt ended, a submitted list and an upload. With the
//! `serde` feature they serialise themselves in the wire's shape (`gradual_rpc::dto` names
//! them; amounts drop their `_roe` suffix there, as everywhere on the wire).

use crate::hash::Hash;
use crate::keys::Pubkey;
use crate::tx::RoundTerms;
use crate::Slot;
use borsh::{BorshDeserialize, BorshSerialize};

/// A node's proof for a round (SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SubmissionRecord {
    /// The proof value; base64 on the wire.
    #[cfg_attr(feature = "serde", serde(with = "crate::wire::b64"))]
    pub value: Vec<u8>,
    pub slot: Slot,
    /// Set when an audit against it is upheld: no reward for the round.
    pub voided: bool,
}

/// Where a round is; the wire tags it `status` (snake case).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "status", rename_all = "snake_case"))]
pub enum RoundStatus {
    /// Proofs being submitted or audited.
    Reviewing,
    /// Distribution attempt `current_attempt` under way.
    Distributing,
    /// Paid by the list of attempt `attempt`.
    Paid {
        attempt: u16,
        #[cfg_attr(feature = "serde", serde(rename = "total"))]
        total_roe: u64,
    },
    /// Every attempt failed; the bounty stays in the task.
    Failed,
    /// No valid submitter; nothing to pay.
    NoCandidates,
}

impl RoundStatus {
    /// Paid, failed or without candidates: nothing about the round changes any more but
    /// pruning.
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            RoundStatus::Paid { .. } | RoundStatus::Failed | RoundStatus::NoCandidates
        )
    }
}

/// A round of a task: where it is, its terms, and what its distribution draws from.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RoundRecord {
    pub status: RoundStatus,
    /// The terms this round is settled under (SPEC §2 *Round terms*).
    pub terms: RoundTerms,
    pub submitters: u64,
    /// Randomness of the first block after the proof audit window closed (SPEC §6 `seed_r`).
    #[cfg_attr(feature = "serde", serde(default, with = "crate::wire::b58_opt"))]
    pub seed: Option<Hash>,
    /// The top-ranked candidates, one per allowed attempt.
    #[cfg_attr(feature = "serde", serde(with = "crate::wire::b58_vec"))]
    pub candidates: Vec<Pubkey>,
    pub current_attempt: u16,
}

/// Seat counts of the votes cast so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tally {
    pub valid: u32,
    pub invalid: u32,
    pub abstain: u32,
}

impl Tally {
    /// Seats voting `Valid` are a majority of a committee of `k` seats (SPEC §5: `2·seats >
    /// K`); never of an empty committee.
    pub fn valid_majority(&self, k: u16) -> bool {
        majority(self.valid, k)
    }

    /// Seats voting `Invalid` are a majority of a committee of `k` seats.
    pub fn invalid_majority(&self, k: u16) -> bool {
        majority(self.invalid, k)
    }
}

/// The one majority rule (SPEC §5): more than half of `k` seats, and `k > 0`.
fn majority(seats: u32, k: u16) -> bool {
    k > 0 && 2 * u64::from(seats) > u64::from(k)
}

/// How a proof audit ended (SPEC §5); the wire tags it `result` (snake case).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "result", rename_all = "snake_case"))]
pub enum AuditOutcome {
    /// Proof void; candidate slashed.
    Upheld {
        slashed: u64,
        accuser_reward: u64,
        voter_rewards: u64,
    },
    /// Accuser slashed for a false accusation.
    Refuted { slashed: u64, voter_rewards: u64 },
    /// Not enough seats either way: presumption of validity.
    Unresolved,
}

/// A distribution list as submitted (SPEC §6).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SubmittedList {
    #[cfg_attr(feature = "serde", serde(with = "crate::wire::b58"))]
    pub digest: Hash,
    pub count: u32,
    pub chunks: u32,
    #[cfg_attr(feature = "serde", serde(rename = "total"))]
    pub total_roe: u64,
    pub slot: Slot,
    /// Committee seed, fixed by the randomness of the block that contains the submission.
    #[cfg_attr(feature = "serde", serde(with = "crate::wire::b58"))]
    pub seed: Hash,
}

/// What has been uploaded of a list so far; chunks are checked as they come (SPEC §6 [v2]).
#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UploadProgress {
    pub chunks: u32,
    pub entries: u32,
    #[cfg_attr(feature = "serde", serde(rename = "total"))]
    pub sum_roe: u64,
    #[cfg_attr(feature = "serde", serde(default, with = "crate::wire::b58_opt"))]
    pub last_node: Option<Pubkey>,
    /// Digest of the uploaded entries, computed once by the first `SubmitDistribution` whose
    /// count matches; from then on the upload is sealed (no more chunks) and submissions
    /// compare against it, so a list is hashed at most once however often it is submitted.
    #[cfg_attr(feature = "serde", serde(default, with = "crate::wire::b58_opt"))]
    pub digest: Option<Hash>,
}

/// How a distribution attempt ended (SPEC §6); the wire tags it `result` (snake case).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "result", rename_all = "snake_case"))]
pub enum AttemptOutcome {
    PayoutSuccessful {
        #[cfg_attr(feature = "serde", serde(rename = "total"))]
        total_roe: u64,
    },
    /// The selected node submitted nothing in its window; slashed `missed_list_bps`.
    FailedNotSubmitted { slashed: u64 },
    /// A list was submitted but no committee was drawn before its audit window closed:
    /// neither paid nor slashed (SPEC §6 [v2]).
    FailedNoCommittee,
    /// The committee rejected the list. Its submitter's slash waits for the round to settle
    /// (SPEC §6 *Vindication*): `slashed` is set then, unless a later attempt with the same
    /// digest `vindicated` it.
    FailedRejected {
        slashed: Option<u64>,
        vindicated: bool,
    },
}
