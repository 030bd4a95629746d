//! The node's [`LedgerView`]: a snapshot of what the scheduler reads, fetched over RPC once
//! per new head slot (one `getTaskAccountInfo` with every flag per task, one `getBalance`),
//! plus distribution lists fetched only when a committee seat needs them.
//!
//! The RPC answers are DTOs (base58/base64 JSON); this module turns them back into the
//! ledger's record types. Anything malformed is an error for the whole snapshot (the driver
//! keeps the previous one and logs why), never a panic.

use base64::Engine;
use gradual_client::{Client, ClientError, TaskInfoFlags};
use gradual_ledger::state::*;
use gradual_ledger::Clock;
use gradual_node_proto::{LedgerView, TaskInfo};
use gradual_rpc::dto::*;
use gradual_types::{Executable, Hash, Pubkey, Slot, TaskId, TaskParams, Verdict};
use std::collections::BTreeMap;
use std::rc::Rc;

/// Why an RPC answer could not be turned into ledger records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("validator sent a malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
}

fn bad(what: &'static str, reason: impl ToString) -> ViewError {
    ViewError::Malformed {
        what,
        reason: reason.to_string(),
    }
}

fn pk(what: &'static str, s: &str) -> Result<Pubkey, ViewError> {
    s.parse()
        .map_err(|e: gradual_types::ParseKeyError| bad(what, format!("'{s}': {e}")))
}

fn hash(what: &'static str, s: &str) -> Result<Hash, ViewError> {
    Hash::from_base58(s).map_err(|e| bad(what, format!("'{s}': {e}")))
}

fn b64(what: &'static str, s: &str) -> Result<Vec<u8>, ViewError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| bad(what, e))
}

pub fn verdict(s: &str) -> Result<Verdict, ViewError> {
    match s {
        "valid" => Ok(Verdict::Valid),
        "invalid" => Ok(Verdict::Invalid),
        "abstain" => Ok(Verdict::Abstain),
        other => Err(bad(
            "verdict",
            format!("'{other}', expected valid, invalid or abstain"),
        )),
    }
}

pub fn params(p: &TaskParamsDto) -> Result<TaskParams, ViewError> {
    Ok(TaskParams {
        name: p.name.clone(),
        description: p.description.clone(),
        metadata: b64("task metadata", &p.metadata)?,
        executable: executable(&p.executable)?,
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
    })
}

fn executable(e: &ExecutableDto) -> Result<Executable, ViewError> {
    Ok(Executable {
        digest: hash("executable digest", &e.digest)?,
        urls: e.urls.clone(),
        runtime: e.runtime.clone(),
    })
}

pub fn terms(t: &RoundTermsDto) -> Result<RoundTerms, ViewError> {
    Ok(RoundTerms {
        is_active: t.is_active,
        executable: executable(&t.executable)?,
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
    })
}

fn committee(c: &CommitteeDto) -> Result<Committee, ViewError> {
    let mut seats = c
        .seats
        .iter()
        .map(|s| Ok((pk("seat holder", &s.node)?, s.seats)))
        .collect::<Result<Vec<_>, ViewError>>()?;
    // `Committee::seats_of` binary-searches: keep the ledger's order whatever the wire did.
    seats.sort_unstable_by_key(|(n, _)| *n);
    Ok(Committee {
        seed: hash("committee seed", &c.seed)?,
        size: c.size,
        seats,
    })
}

fn votes(v: &[VoteDto]) -> Result<Vec<(Pubkey, Verdict)>, ViewError> {
    v.iter()
        .map(|v| Ok((pk("voter", &v.node)?, verdict(&v.verdict)?)))
        .collect()
}

fn audit(a: &AuditDto) -> Result<(Pubkey, AuditRecord), ViewError> {
    let outcome = a.outcome.as_ref().map(|o| match o {
        AuditOutcomeDto::Upheld {
            slashed,
            accuser_reward,
            voter_rewards,
        } => AuditOutcome::Upheld {
            slashed: *slashed,
            accuser_reward: *accuser_reward,
            voter_rewards: *voter_rewards,
        },
        AuditOutcomeDto::Refuted {
            slashed,
            voter_rewards,
        } => AuditOutcome::Refuted {
            slashed: *slashed,
            voter_rewards: *voter_rewards,
        },
        AuditOutcomeDto::Unresolved => AuditOutcome::Unresolved,
    });
    Ok((
        pk("audit candidate", &a.candidate)?,
        AuditRecord {
            accuser: pk("accuser", &a.accuser)?,
            trigger_slot: a.trigger_slot,
            seed: hash("audit seed", &a.seed)?,
            committee: a.committee.as_ref().map(committee).transpose()?,
            votes: votes(&a.votes)?,
            outcome,
        },
    ))
}

fn attempt(a: &AttemptDto) -> Result<AttemptRecord, ViewError> {
    let list = match &a.list {
        Some(l) => Some(SubmittedList {
            digest: hash("list digest", &l.digest)?,
            count: l.count,
            chunks: l.chunks,
            total_roe: l.total,
            slot: l.slot,
            seed: hash("list seed", &l.seed)?,
        }),
        None => None,
    };
    Ok(AttemptRecord {
        submitter: pk("list submitter", &a.submitter)?,
        upload: UploadProgress {
            chunks: a.upload.chunks,
            entries: a.upload.entries,
            sum_roe: a.upload.total,
            last_node: a
                .upload
                .last_node
                .as_deref()
                .map(|n| pk("last uploaded entry", n))
                .transpose()?,
            digest: a
                .upload
                .digest
                .as_deref()
                .map(|d| hash("upload digest", d))
                .transpose()?,
        },
        list,
        committee: a.committee.as_ref().map(committee).transpose()?,
        votes: votes(&a.votes)?,
        outcome: a.outcome.as_ref().map(|o| match o {
            AttemptOutcomeDto::PayoutSuccessful { total } => {
                AttemptOutcome::PayoutSuccessful { total_roe: *total }
            }
            AttemptOutcomeDto::FailedNotSubmitted { slashed } => {
                AttemptOutcome::FailedNotSubmitted { slashed: *slashed }
            }
            AttemptOutcomeDto::FailedNoCommittee => AttemptOutcome::FailedNoCommittee,
            AttemptOutcomeDto::FailedRejected {
                slashed,
                vindicated,
            } => AttemptOutcome::FailedRejected {
                slashed: *slashed,
                vindicated: *vindicated,
            },
        }),
    })
}

pub fn status(s: &RoundStatusDto) -> RoundStatus {
    match s {
        RoundStatusDto::Reviewing => RoundStatus::Reviewing,
        RoundStatusDto::Distributing => RoundStatus::Distributing,
        RoundStatusDto::Paid { attempt, total } => RoundStatus::Paid {
            attempt: *attempt,
            total_roe: *total,
        },
        RoundStatusDto::Failed => RoundStatus::Failed,
        RoundStatusDto::NoCandidates => RoundStatus::NoCandidates,
    }
}

/// One round as the scheduler reads it.
#[derive(Debug, Clone, Default)]
pub struct RoundSnap {
    pub record: Option<RoundRecord>,
    /// Sorted by node.
    pub submissions: BTreeMap<Pubkey, SubmissionRecord>,
    pub audits: BTreeMap<Pubkey, AuditRecord>,
    pub attempts: BTreeMap<u16, AttemptRecord>,
}

/// One task as the scheduler reads it.
#[derive(Debug, Clone)]
pub struct TaskSnap {
    pub info: TaskInfo,
    pub dto_slot: Slot,
    pub current_round: u64,
    pub stakes: BTreeMap<Pubkey, StakeRecord>,
    pub rewards: BTreeMap<Pubkey, u64>,
    pub rounds: BTreeMap<u64, RoundSnap>,
    /// Uploaded lists, fetched on demand (`(round, attempt)`).
    pub lists: BTreeMap<(u64, u16), Vec<(Pubkey, u64)>>,
}

impl TaskSnap {
    pub fn from_dto(t: &TaskDto) -> Result<TaskSnap, ViewError> {
        let p = params(&t.params)?;
        let info = TaskInfo {
            clock: Clock {
                starting_slot: t.starting_slot,
                round_time: t.params.round_time,
                submission_window: t.params.submission_window,
                audit_window: t.params.audit_window,
            },
            params: p,
            is_active: t.is_active,
            closed: t.closed,
            available_bounty: t.total_bounty.saturating_sub(t.reserved_bounty),
            terms_log: t
                .terms_log
                .iter()
                .map(|e| Ok((e.from_round, terms(&e.terms)?)))
                .collect::<Result<_, ViewError>>()?,
        };
        let mut stakes = BTreeMap::new();
        for s in t.stakes.iter().flatten() {
            stakes.insert(
                pk("staker", &s.node)?,
                StakeRecord {
                    amount: s.amount,
                    url: s.url.clone(),
                    owner: pk("stake owner", &s.owner)?,
                    staked_slot: s.staked_slot,
                    unstake_round: s.unstake_round,
                    withdraw_round: s.withdraw_round,
                    history: s.history.clone(),
                    settlement_locks: s.settlement_locks,
                },
            );
        }
        let mut rewards = BTreeMap::new();
        for r in t.pending_rewards.iter().flatten() {
            rewards.insert(pk("reward holder", &r.node)?, r.amount);
        }
        let mut rounds = BTreeMap::new();
        for r in t.rounds.iter().flatten() {
            let mut snap = RoundSnap {
                record: Some(RoundRecord {
                    status: status(&r.status),
                    terms: terms(&r.terms)?,
                    submitters: r.submitters,
                    seed: r
                        .seed
                        .as_deref()
                        .map(|s| hash("round seed", s))
                        .transpose()?,
                    candidates: r
                        .candidates
                        .iter()
                        .map(|c| pk("candidate", c))
                        .collect::<Result<_, _>>()?,
                    current_attempt: r.current_attempt,
                }),
                ..RoundSnap::default()
            };
            for s in r.submissions.iter().flatten() {
                snap.submissions.insert(
                    pk("submitter", &s.node)?,
                    SubmissionRecord {
                        value: b64("proof value", &s.value)?,
                        slot: s.slot,
                        voided: s.voided,
                    },
                );
            }
            for a in r.audits.iter().flatten() {
                let (c, rec) = audit(a)?;
                snap.audits.insert(c, rec);
            }
            for a in r.attempts.iter().flatten() {
                snap.attempts.insert(a.attempt, attempt(a)?);
            }
            rounds.insert(r.round, snap);
        }
        Ok(TaskSnap {
            info,
            dto_slot: t.slot,
            current_round: t.current_round,
            stakes,
            rewards,
            rounds,
            lists: BTreeMap::new(),
        })
    }
}

/// What the scheduler reads, as of one slot. Cheap to query; built by [`Snapshot::fetch`].
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub slot: Slot,
    /// The chain's slot length (genesis): it sets each task's vote window.
    pub slot_ms: u64,
    pub balance: u64,
    pub tasks: BTreeMap<TaskId, TaskSnap>,
}

impl Snapshot {
    /// Fetch every task in `tasks` (missing ones are left out) and the node's balance.
    pub async fn fetch(
        client: &Client,
        me: &Pubkey,
        tasks: &[TaskId],
    ) -> Result<Snapshot, ViewError> {
        let mut out = Snapshot {
            slot: Slot::MAX,
            ..Snapshot::default()
        };
        for id in tasks {
            match client.get_task_account_info(id, TaskInfoFlags::ALL).await {
                Ok(dto) => {
                    let snap = TaskSnap::from_dto(&dto)?;
                    out.slot = out.slot.min(snap.dto_slot);
                    out.tasks.insert(*id, snap);
                }
                Err(e)
                    if e.rpc_error()
                        .is_some_and(|r| r.code == gradual_rpc::codes::NOT_FOUND) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if out.slot == Slot::MAX {
            out.slot = client.get_slot().await?;
        }
        out.balance = client.get_balance(me).await?;
        out.slot_ms = client.genesis().await?.slot_ms;
        Ok(out)
    }

    /// Fetch the uploaded list of `(round, attempt)` into the snapshot (for a committee check).
    pub async fn fetch_list(
        &mut self,
        client: &Client,
        task: &TaskId,
        round: u64,
        attempt: u16,
    ) -> Result<(), ViewError> {
        let info = client.get_task_distribution_info(task, round).await?;
        let Some(a) = info.attempts.iter().find(|a| a.attempt == attempt) else {
            return Ok(());
        };
        let mut list = Vec::new();
        for e in a.entries.iter().flatten() {
            list.push((pk("list entry", &e.node)?, e.reward));
        }
        list.sort_unstable_by_key(|(n, _)| *n);
        if let Some(t) = self.tasks.get_mut(task) {
            t.lists.insert((round, attempt), list);
        }
        Ok(())
    }

    fn round(&self, task: &TaskId, round: u64) -> Option<&RoundSnap> {
        self.tasks.get(task)?.rounds.get(&round)
    }
}

impl LedgerView for Snapshot {
    fn slot(&self) -> Slot {
        self.slot
    }

    fn slot_ms(&self) -> u64 {
        self.slot_ms
    }

    fn task(&self, task: &TaskId) -> Option<TaskInfo> {
        self.tasks.get(task).map(|t| t.info.clone())
    }

    fn stake(&self, task: &TaskId, node: &Pubkey) -> Option<StakeRecord> {
        self.tasks.get(task)?.stakes.get(node).cloned()
    }

    fn submission(&self, task: &TaskId, round: u64, node: &Pubkey) -> Option<SubmissionRecord> {
        self.round(task, round)?.submissions.get(node).cloned()
    }

    fn submitters(&self, task: &TaskId, round: u64) -> Rc<Vec<(Pubkey, bool)>> {
        let list = self
            .round(task, round)
            .map(|r| r.submissions.iter().map(|(n, s)| (*n, s.voided)).collect())
            .unwrap_or_default();
        Rc::new(list)
    }

    fn audited(&self, task: &TaskId, round: u64) -> Rc<Vec<Pubkey>> {
        Rc::new(
            self.round(task, round)
                .map(|r| r.audits.keys().copied().collect())
                .unwrap_or_default(),
        )
    }

    fn audit(&self, task: &TaskId, round: u64, candidate: &Pubkey) -> Option<AuditRecord> {
        self.round(task, round)?.audits.get(candidate).cloned()
    }

    fn round_record(&self, task: &TaskId, round: u64) -> Option<RoundRecord> {
        self.round(task, round)?.record.clone()
    }

    fn attempt(&self, task: &TaskId, round: u64, attempt: u16) -> Option<AttemptRecord> {
        self.round(task, round)?.attempts.get(&attempt).cloned()
    }

    fn distribution_list(&self, task: &TaskId, round: u64, attempt: u16) -> Vec<(Pubkey, u64)> {
        self.tasks
            .get(task)
            .and_then(|t| t.lists.get(&(round, attempt)).cloned())
            .unwrap_or_default()
    }

    fn pending_reward(&self, task: &TaskId, node: &Pubkey) -> u64 {
        self.tasks
            .get(task)
            .and_then(|t| t.rewards.get(node).copied())
            .unwrap_or(0)
    }

    fn balance(&self, _node: &Pubkey) -> u64 {
        self.balance
    }
}
