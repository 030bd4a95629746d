//! From ledger records and views to wire shapes. The server uses these; clients only read
//! the shapes.

use crate::dto::*;
use base64::Engine;
use gradual_ledger::query::{RoundView, TaskView};
use gradual_ledger::state::*;
use gradual_ledger::{tally, Block, Receipt, TxError, Window};
use gradual_types::{Pubkey, TaskId, TaskParams, Verdict};

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The variant name of an error, from its `Debug` form (`OutsideWindow { .. }` → `OutsideWindow`).
pub fn error_kind(debug: &str) -> String {
    debug
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or("")
        .to_string()
}

pub fn tx_error(e: &TxError) -> TxErrorDto {
    TxErrorDto {
        kind: error_kind(&format!("{e:?}")),
        message: e.to_string(),
    }
}

pub fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "valid",
        Verdict::Invalid => "invalid",
        Verdict::Abstain => "abstain",
    }
}

pub fn window_str(w: Window) -> &'static str {
    match w {
        Window::ProofSubmission => "proof_submission",
        Window::ProofAudit => "proof_audit",
        Window::DistributionSubmission => "distribution_submission",
        Window::DistributionAudit => "distribution_audit",
    }
}

pub fn block(b: &Block, receipts: &[Receipt], with_txs: bool) -> BlockDto {
    let h = &b.header;
    BlockDto {
        slot: h.slot,
        height: h.height,
        hash: b.hash().to_base58(),
        parent_hash: h.parent_hash.to_base58(),
        tx_root: h.tx_root.to_base58(),
        state_root: h.state_root.to_base58(),
        tx_count: h.tx_count,
        transactions: with_txs.then(|| {
            b.txs
                .iter()
                .map(|tx| {
                    let err = receipts
                        .iter()
                        .find(|r| r.tx == tx.signature)
                        .and_then(|r| r.result.as_ref().err())
                        .map(tx_error);
                    TxDto {
                        signature: tx.signature.to_base58(),
                        signer: tx.message.signer.to_base58(),
                        instruction: tx.message.instruction.name().to_string(),
                        recent_slot: tx.message.recent_slot,
                        fee: tx.message.fee,
                        err,
                    }
                })
                .collect()
        }),
    }
}

pub fn params(p: &TaskParams) -> TaskParamsDto {
    TaskParamsDto {
        name: p.name.clone(),
        description: p.description.clone(),
        metadata: b64(&p.metadata),
        executable: ExecutableDto {
            digest: p.executable.digest.to_base58(),
            urls: p.executable.urls.clone(),
            runtime: p.executable.runtime.clone(),
        },
        bounty_per_round: p.bounty_per_round,
        round_time: p.round_time,
        submission_window: p.submission_window,
        audit_window: p.audit_window,
        minimum_stake: p.minimum_stake,
        allowed_failed_distributions: p.allowed_failed_distributions,
        audit_sample: p.audit_sample,
        committee_size: p.committee_size,
        slash_bps: p.slash_bps,
        accuser_bps: p.accuser_bps,
        voter_bps: p.voter_bps,
        false_accusation_bps: p.false_accusation_bps,
        unstake_cooldown: p.unstake_cooldown,
    }
}

pub fn stake(task: &TaskId, node: &Pubkey, s: &StakeRecord) -> StakeDto {
    StakeDto {
        node: node.to_base58(),
        task: task.to_base58(),
        amount: s.amount,
        url: s.url.clone(),
        staked_slot: s.staked_slot,
        unstake_round: s.unstake_round,
    }
}

pub fn committee(c: &Committee) -> CommitteeDto {
    CommitteeDto {
        seed: c.seed.to_base58(),
        size: c.size,
        seats: c
            .seats
            .iter()
            .map(|(n, s)| SeatDto {
                node: n.to_base58(),
                seats: *s,
            })
            .collect(),
    }
}

pub fn votes(v: &[(Pubkey, Verdict)]) -> Vec<VoteDto> {
    v.iter()
        .map(|(n, v)| VoteDto {
            node: n.to_base58(),
            verdict: verdict_str(*v).to_string(),
        })
        .collect()
}

pub fn tally_of(c: &Option<Committee>, v: &[(Pubkey, Verdict)]) -> TallyDto {
    let (t, _) = tally(c, v);
    TallyDto {
        valid: t.valid,
        invalid: t.invalid,
        abstain: t.abstain,
    }
}

pub fn submission(node: &Pubkey, s: &SubmissionRecord) -> SubmissionDto {
    SubmissionDto {
        node: node.to_base58(),
        value: b64(&s.value),
        slot: s.slot,
        voided: s.voided,
    }
}

pub fn audit(candidate: &Pubkey, a: &AuditRecord) -> AuditDto {
    AuditDto {
        candidate: candidate.to_base58(),
        accuser: a.accuser.to_base58(),
        trigger_slot: a.trigger_slot,
        committee: a.committee.as_ref().map(committee),
        votes: votes(&a.votes),
        tally: tally_of(&a.committee, &a.votes),
        outcome: a.outcome.as_ref().map(|o| match o {
            AuditOutcome::Upheld {
                slashed,
                accuser_reward,
                voter_rewards,
            } => AuditOutcomeDto::Upheld {
                slashed: *slashed,
                accuser_reward: *accuser_reward,
                voter_rewards: *voter_rewards,
            },
            AuditOutcome::Refuted {
                slashed,
                voter_rewards,
            } => AuditOutcomeDto::Refuted {
                slashed: *slashed,
                voter_rewards: *voter_rewards,
            },
            AuditOutcome::Unresolved => AuditOutcomeDto::Unresolved,
        }),
    }
}

pub fn attempt(i: u16, a: &AttemptRecord, entries: Option<Vec<(Pubkey, u64)>>) -> AttemptDto {
    AttemptDto {
        attempt: i,
        submitter: a.submitter.to_base58(),
        list: a.list.as_ref().map(|l| SubmittedListDto {
            digest: l.digest.to_base58(),
            count: l.count,
            chunks: l.chunks,
            total: l.total_roe,
            slot: l.slot,
        }),
        entries: entries.map(|e| {
            e.into_iter()
                .map(|(n, r)| EntryDto {
                    node: n.to_base58(),
                    reward: r,
                })
                .collect()
        }),
        committee: a.committee.as_ref().map(committee),
        votes: votes(&a.votes),
        tally: tally_of(&a.committee, &a.votes),
        outcome: a.outcome.as_ref().map(|o| match o {
            AttemptOutcome::PayoutSuccessful { total_roe } => {
                AttemptOutcomeDto::PayoutSuccessful { total: *total_roe }
            }
            AttemptOutcome::FailedNotSubmitted => AttemptOutcomeDto::FailedNotSubmitted,
            AttemptOutcome::FailedRejected { slashed } => {
                AttemptOutcomeDto::FailedRejected { slashed: *slashed }
            }
        }),
    }
}

pub fn status(s: &RoundStatus) -> RoundStatusDto {
    match s {
        RoundStatus::Reviewing => RoundStatusDto::Reviewing,
        RoundStatus::Distributing => RoundStatusDto::Distributing,
        RoundStatus::Paid { attempt, total_roe } => RoundStatusDto::Paid {
            attempt: *attempt,
            total: *total_roe,
        },
        RoundStatus::Failed => RoundStatusDto::Failed,
        RoundStatus::NoCandidates => RoundStatusDto::NoCandidates,
    }
}

/// A round; `submissions` and `distributions` choose which heavy parts to include.
pub fn round(v: &RoundView, submissions: bool, distributions: bool) -> RoundDto {
    RoundDto {
        round: v.round,
        status: status(&v.record.status),
        submitters: v.record.submitters,
        seed: v.record.seed.map(|s| s.to_base58()),
        candidates: v.record.candidates.iter().map(|c| c.to_base58()).collect(),
        current_attempt: v.record.current_attempt,
        submissions: submissions.then(|| {
            v.submissions
                .iter()
                .map(|(n, s)| submission(n, s))
                .collect()
        }),
        audits: submissions.then(|| v.audits.iter().map(|(n, a)| audit(n, a)).collect()),
        attempts: distributions.then(|| {
            v.attempts
                .iter()
                .map(|(i, a)| attempt(*i, a, None))
                .collect()
        }),
    }
}

/// What to include in a task view (the `getTaskAccountInfo` flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskFlags {
    pub submissions: bool,
    pub distributions: bool,
    pub stakes: bool,
    pub rewards: bool,
}

pub fn task(v: &TaskView, slot: u64, flags: TaskFlags) -> TaskDto {
    let r = &v.record;
    TaskDto {
        id: v.id.to_base58(),
        manager: r.manager.to_base58(),
        params: params(&r.params),
        pending_params: r.pending_params.as_ref().map(params),
        starting_slot: r.starting_slot,
        total_bounty: r.total_bounty,
        reserved_bounty: r.reserved_bounty,
        is_active: r.is_active,
        closed: r.closed,
        open_rounds: r.open_rounds,
        paid_total: r.paid_total_roe,
        slot,
        current_round: v.phase.round,
        open_windows: v
            .phase
            .open
            .iter()
            .map(|(w, round, closes)| OpenWindowDto {
                window: window_str(*w).to_string(),
                round: *round,
                closes: *closes,
            })
            .collect(),
        stakers: v.stakers,
        total_stake: v.total_stake,
        stakes: v
            .stakes
            .as_ref()
            .map(|s| s.iter().map(|(n, s)| stake(&v.id, n, s)).collect()),
        pending_rewards: v.rewards.as_ref().map(|rw| {
            rw.iter()
                .map(|(n, a)| RewardDto {
                    node: n.to_base58(),
                    task: v.id.to_base58(),
                    amount: *a,
                })
                .collect()
        }),
        rounds: v.rounds.as_ref().map(|rs| {
            rs.iter()
                .map(|rv| round(rv, flags.submissions, flags.distributions))
                .collect()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kind_is_the_variant_name() {
        assert_eq!(error_kind("OutsideWindow { window: x }"), "OutsideWindow");
        assert_eq!(error_kind("Duplicate"), "Duplicate");
        assert_eq!(error_kind("UnknownTask(Hash(abc))"), "UnknownTask");
        let e = TxError::NothingToClaim;
        assert_eq!(
            tx_error(&e),
            TxErrorDto {
                kind: "NothingToClaim".into(),
                message: "no pending rewards to claim".into()
            }
        );
    }
}
