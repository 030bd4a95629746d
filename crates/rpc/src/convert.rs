//! From ledger records and views to wire shapes. The server uses these; clients only read
//! the shapes.

use crate::dto::*;
use base64::Engine;
use gradual_ledger::query::{RoundView, TaskView};
use gradual_ledger::state::*;
use gradual_ledger::{tally, Block, Receipt, TxError, Window};
use gradual_types::{
    task_id, Executable, Genesis, Instruction, Pubkey, TaskId, TaskParams, ValidatorInfo, Verdict,
    VrfProof,
};

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn tx_error(e: &TxError) -> TxErrorDto {
    TxErrorDto {
        kind: e.kind(),
        message: e.to_string(),
        code: e.code().to_string(),
    }
}

/// Which transactions of a block to show: `limit` of them from `offset`, stopping once they
/// hold `max_bytes` (encoded; the first is always shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxPage {
    pub offset: usize,
    pub limit: usize,
    pub max_bytes: usize,
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

pub fn validator(v: &ValidatorInfo) -> ValidatorDto {
    ValidatorDto {
        id: v.id.to_base58(),
        vrf_key: v.vrf_key.to_string(),
    }
}

pub fn vrf_proof(p: &VrfProof) -> VrfProofDto {
    VrfProofDto {
        preout: gradual_types::Hash(p.preout).to_base58(),
        proof: b64(&p.proof),
    }
}

/// The genesis as `getGenesis` shows it; `airdrop_available` is the server's to say.
pub fn genesis(g: &Genesis, airdrop_available: bool) -> GenesisDto {
    GenesisDto {
        protocol_version: g.protocol_version,
        chain_id: g.chain_id.clone(),
        hash: g.hash().to_base58(),
        slot_ms: g.slot_ms,
        fee_roe: g.fee_roe,
        tx_max_age_slots: g.tx_max_age_slots,
        faucet: g.faucet.as_ref().map(|f| FaucetDto {
            authority: f.authority.to_base58(),
            mint_max_roe: f.mint_max_roe,
            recipient_max_roe: f.recipient_max_roe,
            recipient_window_slots: f.recipient_window_slots,
            cap_roe: f.cap_roe,
        }),
        validators: g.validators.iter().map(validator).collect(),
        admin: g.admin.map(|a| a.to_base58()),
        airdrop_available,
    }
}

/// An instruction with its arguments; `signer` names the task a `CreateTask` creates.
pub fn instruction(signer: &Pubkey, ix: &Instruction) -> InstructionDto {
    use InstructionDto as D;
    let t = |task: &TaskId| task.to_base58();
    match ix {
        Instruction::Transfer { to, amount } => D::Transfer {
            to: to.to_base58(),
            amount: *amount,
        },
        Instruction::FaucetMint { to, amount } => D::FaucetMint {
            to: to.to_base58(),
            amount: *amount,
        },
        Instruction::CreateTask {
            nonce,
            params: p,
            total_bounty,
        } => D::CreateTask {
            task: task_id(signer, *nonce).to_base58(),
            nonce: *nonce,
            params: Box::new(params(p)),
            total_bounty: *total_bounty,
        },
        Instruction::FundTask { task, amount } => D::FundTask {
            task: t(task),
            amount: *amount,
        },
        Instruction::UpdateTask { task, params: p } => D::UpdateTask {
            task: t(task),
            params: Box::new(params(p)),
        },
        Instruction::SetActive { task, active } => D::SetActive {
            task: t(task),
            active: *active,
        },
        Instruction::CloseTask { task } => D::CloseTask { task: t(task) },
        Instruction::Stake {
            task,
            amount,
            url,
            owner,
        } => D::Stake {
            task: t(task),
            amount: *amount,
            url: url.clone(),
            owner: owner.map(|o| o.to_base58()),
        },
        Instruction::SetNodeUrl { task, url } => D::SetNodeUrl {
            task: t(task),
            url: url.clone(),
        },
        Instruction::SetStakeOwner { task, node, owner } => D::SetStakeOwner {
            task: t(task),
            node: node.to_base58(),
            owner: owner.to_base58(),
        },
        Instruction::SetValidators {
            validators,
            from_slot,
        } => D::SetValidators {
            validators: validators.iter().map(validator).collect(),
            from_slot: *from_slot,
        },
        Instruction::Unstake { task } => D::Unstake { task: t(task) },
        Instruction::Withdraw { task } => D::Withdraw { task: t(task) },
        Instruction::Claim { task } => D::Claim { task: t(task) },
        Instruction::SubmitProof { task, round, value } => D::SubmitProof {
            task: t(task),
            round: *round,
            value: b64(value),
        },
        Instruction::AuditProof {
            task,
            round,
            candidate,
            verdict,
        } => D::AuditProof {
            task: t(task),
            round: *round,
            candidate: candidate.to_base58(),
            verdict: verdict_str(*verdict).to_string(),
        },
        Instruction::AuditProofs {
            task,
            round,
            votes: v,
        } => D::AuditProofs {
            task: t(task),
            round: *round,
            votes: votes(v),
        },
        Instruction::UploadDistributionChunk {
            task,
            round,
            attempt,
            index,
            entries,
        } => D::UploadDistributionChunk {
            task: t(task),
            round: *round,
            attempt: *attempt,
            index: *index,
            entries: entries.len() as u32,
            total: entries
                .iter()
                .fold(0u64, |sum, (_, r)| sum.saturating_add(*r)),
        },
        Instruction::SubmitDistribution {
            task,
            round,
            attempt,
            digest,
            count,
        } => D::SubmitDistribution {
            task: t(task),
            round: *round,
            attempt: *attempt,
            digest: digest.to_base58(),
            count: *count,
        },
        Instruction::AuditDistribution {
            task,
            round,
            attempt,
            verdict,
        } => D::AuditDistribution {
            task: t(task),
            round: *round,
            attempt: *attempt,
            verdict: verdict_str(*verdict).to_string(),
        },
    }
}

/// A block as `getBlock` shows it: its header, and with `txs` one page of its transactions,
/// each with its result and the fee the ledger charged for it ([`fee_charged`]).
pub fn block(b: &Block, receipts: &[Receipt], txs: Option<TxPage>) -> BlockDto {
    let h = &b.header;
    let page = txs.map(|p| {
        let from = p.offset.min(b.txs.len());
        let mut to = from;
        let mut bytes = 0usize;
        while to < b.txs.len() && to - from < p.limit {
            bytes = bytes.saturating_add(b.txs[to].encode().len());
            if to > from && bytes > p.max_bytes {
                break;
            }
            to += 1;
        }
        (from, to)
    });
    BlockDto {
        slot: h.slot,
        height: h.height,
        hash: b.hash().to_base58(),
        parent_hash: h.parent_hash.to_base58(),
        producer: h.producer.to_base58(),
        randomness: h.randomness.to_base58(),
        vrf_proof: vrf_proof(&h.vrf_proof),
        tx_root: h.tx_root.to_base58(),
        state_root: h.state_root.to_base58(),
        tx_count: h.tx_count,
        transactions: page.map(|(from, to)| {
            b.txs[from..to]
                .iter()
                .enumerate()
                .map(|(i, tx)| {
                    // One receipt per transaction, in block order.
                    let receipt = receipts
                        .get(from + i)
                        .filter(|r| r.tx == tx.signature)
                        .or_else(|| receipts.iter().find(|r| r.tx == tx.signature));
                    TxDto {
                        signature: tx.signature.to_base58(),
                        signer: tx.message.signer.to_base58(),
                        instruction: tx.message.instruction.name().to_string(),
                        recent_slot: tx.message.recent_slot,
                        fee: tx.message.fee,
                        fee_charged: receipt.map_or(0, |r| r.fee_charged),
                        err: receipt.and_then(|r| r.result.as_ref().err()).map(tx_error),
                        details: Some(instruction(&tx.message.signer, &tx.message.instruction)),
                    }
                })
                .collect()
        }),
        next_tx_offset: page
            .filter(|(_, to)| *to < b.txs.len())
            .map(|(_, to)| to as u32),
    }
}

pub fn executable(e: &Executable) -> ExecutableDto {
    ExecutableDto {
        digest: e.digest.to_base58(),
        urls: e.urls.clone(),
        runtime: e.runtime.clone(),
    }
}

pub fn params(p: &TaskParams) -> TaskParamsDto {
    TaskParamsDto {
        name: p.name.clone(),
        description: p.description.clone(),
        metadata: b64(&p.metadata),
        executable: executable(&p.executable),
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
        missed_list_bps: p.missed_list_bps,
    }
}

pub fn terms(t: &RoundTerms) -> RoundTermsDto {
    RoundTermsDto {
        is_active: t.is_active,
        executable: executable(&t.executable),
        bounty_per_round: t.bounty_per_round,
        minimum_stake: t.minimum_stake,
        audit_sample: t.audit_sample,
        committee_size: t.committee_size,
        slash_bps: t.slash_bps,
        accuser_bps: t.accuser_bps,
        voter_bps: t.voter_bps,
        false_accusation_bps: t.false_accusation_bps,
        allowed_failed_distributions: t.allowed_failed_distributions,
        missed_list_bps: t.missed_list_bps,
    }
}

pub fn stake(task: &TaskId, node: &Pubkey, s: &StakeRecord) -> StakeDto {
    StakeDto {
        node: node.to_base58(),
        task: task.to_base58(),
        amount: s.amount,
        url: s.url.clone(),
        owner: s.owner.to_base58(),
        staked_slot: s.staked_slot,
        unstake_round: s.unstake_round,
        withdraw_round: s.withdraw_round,
        history: s.history.clone(),
        settlement_locks: s.settlement_locks,
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
        seed: a.seed.to_base58(),
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
        upload: UploadDto {
            chunks: a.upload.chunks,
            entries: a.upload.entries,
            total: a.upload.sum_roe,
            last_node: a.upload.last_node.map(|n| n.to_base58()),
            digest: a.upload.digest.map(|d| d.to_base58()),
        },
        list: a.list.as_ref().map(|l| SubmittedListDto {
            digest: l.digest.to_base58(),
            count: l.count,
            chunks: l.chunks,
            total: l.total_roe,
            slot: l.slot,
            seed: l.seed.to_base58(),
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
            AttemptOutcome::FailedNotSubmitted { slashed } => {
                AttemptOutcomeDto::FailedNotSubmitted { slashed: *slashed }
            }
            AttemptOutcome::FailedNoCommittee => AttemptOutcomeDto::FailedNoCommittee,
            AttemptOutcome::FailedRejected {
                slashed,
                vindicated,
            } => AttemptOutcomeDto::FailedRejected {
                slashed: *slashed,
                vindicated: *vindicated,
            },
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

/// A round; `submissions` and `distributions` choose which heavy parts to include, each
/// list cut at `cap` items (`truncated` then says so).
pub fn round(v: &RoundView, submissions: bool, distributions: bool, cap: usize) -> RoundDto {
    let truncated = (submissions && (v.submissions.len() > cap || v.audits.len() > cap))
        || (distributions && v.attempts.len() > cap);
    RoundDto {
        round: v.round,
        status: status(&v.record.status),
        terms: terms(&v.record.terms),
        submitters: v.record.submitters,
        seed: v.record.seed.map(|s| s.to_base58()),
        candidates: v.record.candidates.iter().map(|c| c.to_base58()).collect(),
        current_attempt: v.record.current_attempt,
        submissions: submissions.then(|| {
            v.submissions
                .iter()
                .take(cap)
                .map(|(n, s)| submission(n, s))
                .collect()
        }),
        audits: submissions.then(|| {
            v.audits
                .iter()
                .take(cap)
                .map(|(n, a)| audit(n, a))
                .collect()
        }),
        attempts: distributions.then(|| {
            v.attempts
                .iter()
                .take(cap)
                .map(|(i, a)| attempt(*i, a, None))
                .collect()
        }),
        truncated,
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

/// A task account. `rounds` lists are cut at `cap` items each; `next` is the cursor of the
/// next page of stakes and rewards.
pub fn task(
    v: &TaskView,
    slot: u64,
    flags: TaskFlags,
    cap: usize,
    next: Option<&Pubkey>,
) -> TaskDto {
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
        terms_log: r
            .terms_log
            .iter()
            .map(|(from, t)| TermsEntryDto {
                from_round: *from,
                terms: terms(t),
            })
            .collect(),
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
                .map(|rv| round(rv, flags.submissions, flags.distributions, cap))
                .collect()
        }),
        next: next.map(|n| n.to_base58()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_types::Transaction;

    #[test]
    fn a_tx_error_travels_with_its_kind_code_and_message() {
        let e = TxError::NothingToClaim;
        assert_eq!(
            tx_error(&e),
            TxErrorDto {
                kind: "NothingToClaim".into(),
                message: "no pending rewards to claim".into(),
                code: "nothing_to_claim".into(),
            }
        );
    }

    #[test]
    fn a_block_page_stops_at_its_limit_and_its_bytes() {
        use gradual_ledger::BlockHeader;
        use gradual_types::{Hash, Keypair};
        let kp = Keypair::from_seed([1; 32]);
        let txs: Vec<Transaction> = (0..5)
            .map(|i| {
                Transaction::new_signed(
                    &kp,
                    "c",
                    i,
                    0,
                    Instruction::Transfer {
                        to: Pubkey([3; 32]),
                        amount: 1,
                    },
                )
            })
            .collect();
        let size = txs[0].encode().len();
        let receipts: Vec<Receipt> = txs
            .iter()
            .map(|t| Receipt {
                tx: t.signature,
                result: Err(TxError::NothingToClaim),
                fee_charged: 3,
            })
            .collect();
        let b = Block {
            header: BlockHeader {
                slot: 1,
                height: 1,
                parent_hash: Hash::ZERO,
                producer: kp.pubkey(),
                randomness: Hash::ZERO,
                vrf_proof: VrfProof {
                    preout: [0; 32],
                    proof: [0; 64],
                },
                tx_root: Hash::ZERO,
                state_root: Hash::ZERO,
                tx_count: 5,
            },
            txs,
        };
        let page = |offset, limit, max_bytes| {
            block(
                &b,
                &receipts,
                Some(TxPage {
                    offset,
                    limit,
                    max_bytes,
                }),
            )
        };
        let p = page(0, 2, usize::MAX);
        assert_eq!(p.transactions.as_ref().unwrap().len(), 2);
        assert_eq!(p.next_tx_offset, Some(2));
        let p = page(1, 10, 2 * size);
        let shown = p.transactions.unwrap();
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[0].signature, b.txs[1].signature.to_base58());
        assert_eq!(shown[0].err.as_ref().unwrap().code, "nothing_to_claim");
        assert_eq!(
            shown[0].fee_charged, 3,
            "the receipt's fee is shown as it is"
        );
        assert_eq!(p.next_tx_offset, Some(3));
        // The first transaction is shown whatever its size; the end has no next offset.
        let p = page(4, 10, 1);
        assert_eq!(p.transactions.unwrap().len(), 1);
        assert_eq!(p.next_tx_offset, None);
        assert_eq!(page(9, 10, 1).transactions.unwrap().len(), 0);
        assert_eq!(block(&b, &receipts, None).transactions, None);
    }

    #[test]
    fn v2_instructions_and_outcomes_have_stable_json() {
        use gradual_types::{Hash, ValidatorKey};
        let signer = Pubkey([1; 32]);
        let task = Hash([2; 32]);
        let owner = Pubkey([3; 32]);
        let j = |ix: &Instruction| serde_json::to_value(instruction(&signer, ix)).unwrap();
        let v = j(&Instruction::Stake {
            task,
            amount: 5,
            url: "http://a".into(),
            owner: Some(owner),
        });
        assert_eq!(v["type"], "Stake");
        assert_eq!(v["owner"], owner.to_base58());
        assert_eq!(v["task"], task.to_base58());
        let v = j(&Instruction::SetNodeUrl {
            task,
            url: "https://b".into(),
        });
        assert_eq!(
            (&v["type"], &v["url"]),
            (&"SetNodeUrl".into(), &"https://b".into())
        );
        let v = j(&Instruction::SetStakeOwner {
            task,
            node: signer,
            owner,
        });
        assert_eq!(v["type"], "SetStakeOwner");
        assert_eq!(v["node"], signer.to_base58());
        let k = ValidatorKey::from_seed([4; 32]);
        let v = j(&Instruction::SetValidators {
            validators: vec![k.info()],
            from_slot: 9,
        });
        assert_eq!(v["type"], "SetValidators");
        assert_eq!(v["from_slot"], 9);
        assert_eq!(v["validators"][0]["id"], k.id().to_base58());
        assert_eq!(v["validators"][0]["vrf_key"], k.vrf_public().to_string());
        let v = j(&Instruction::UploadDistributionChunk {
            task,
            round: 1,
            attempt: 0,
            index: 2,
            entries: vec![(owner, 3), (signer, 4)],
        });
        assert_eq!((&v["entries"], &v["total"]), (&2.into(), &7.into()));

        let o = |o: AttemptOutcome| {
            let a = AttemptRecord {
                submitter: signer,
                upload: UploadProgress::default(),
                list: None,
                committee: None,
                votes: vec![],
                outcome: Some(o),
            };
            serde_json::to_value(attempt(0, &a, None).outcome).unwrap()
        };
        assert_eq!(
            o(AttemptOutcome::FailedNotSubmitted { slashed: 7 }),
            serde_json::json!({"result": "failed_not_submitted", "slashed": 7})
        );
        assert_eq!(
            o(AttemptOutcome::FailedNoCommittee),
            serde_json::json!({"result": "failed_no_committee"})
        );
        assert_eq!(
            o(AttemptOutcome::FailedRejected {
                slashed: None,
                vindicated: true
            }),
            serde_json::json!({"result": "failed_rejected", "slashed": null, "vindicated": true})
        );
    }
}
