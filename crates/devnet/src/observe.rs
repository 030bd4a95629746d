//! Watching the ledger: what happened to each round of the devnet's task, read over RPC.

use crate::Devnet;
use gradual_client::TaskInfoFlags;
use gradual_rpc::dto::{AttemptOutcomeDto, AuditOutcomeDto, RoundStatusDto, TaskDto};
use serde::Serialize;
use std::collections::BTreeMap;

/// What the devnet saw of one round.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoundObs {
    pub round: u64,
    pub status: String,
    pub settled: bool,
    pub submitters: Vec<String>,
    pub voided: Vec<String>,
    /// Candidates whose proof was upheld invalid (slashed).
    pub upheld: Vec<String>,
    /// Accusers slashed for a refuted audit.
    pub refuted_accusers: Vec<String>,
    /// Submitters of rejected lists (slashed when the round settled, not vindicated).
    pub rejected_lists: Vec<String>,
    /// Selected submitters that sent no list in their window (slashed `missed_list_bps`).
    pub missed_lists: Vec<String>,
    /// The paid list, once paid.
    pub paid: Option<Vec<(String, u64)>>,
    /// ROE this round's verdicts burned (SPEC §5–6 [v2]: slash remainders not paid out).
    pub burned_roe: u64,
    /// A rejected list was slashed: its split is not in the RPC view, so the burn is unknown.
    pub burn_unknown: bool,
}

impl Devnet {
    /// The task's clock.
    pub fn clock(&self) -> Option<gradual_ledger::Clock> {
        self.last.as_ref().map(gradual_client::task_clock)
    }

    /// Read the ledger and record what happened to each round. Returns the task view.
    pub async fn poll(&mut self) -> Result<TaskDto, String> {
        let t = self
            .client
            .get_task_account_info(&self.task, TaskInfoFlags::ALL)
            .await
            .map_err(|e| e.to_string())?;
        for r in t.rounds.iter().flatten() {
            let obs = self.rounds.entry(r.round).or_insert_with(|| RoundObs {
                round: r.round,
                ..RoundObs::default()
            });
            if obs.paid.is_some() {
                continue;
            }
            obs.status = match &r.status {
                RoundStatusDto::Reviewing => "reviewing",
                RoundStatusDto::Distributing => "distributing",
                RoundStatusDto::Paid { .. } => "paid",
                RoundStatusDto::Failed => "failed",
                RoundStatusDto::NoCandidates => "no candidates",
            }
            .into();
            obs.settled = matches!(
                r.status,
                RoundStatusDto::Paid { .. } | RoundStatusDto::Failed | RoundStatusDto::NoCandidates
            );
            if let Some(subs) = &r.submissions {
                obs.submitters = subs.iter().map(|s| s.node.to_string()).collect();
                obs.voided = subs
                    .iter()
                    .filter(|s| s.voided)
                    .map(|s| s.node.to_string())
                    .collect();
            }
            if let Some(audits) = &r.audits {
                obs.upheld = audits
                    .iter()
                    .filter(|a| matches!(a.outcome, Some(AuditOutcomeDto::Upheld { .. })))
                    .map(|a| a.candidate.to_string())
                    .collect();
                obs.refuted_accusers = audits
                    .iter()
                    .filter(|a| matches!(a.outcome, Some(AuditOutcomeDto::Refuted { .. })))
                    .map(|a| a.accuser.to_string())
                    .collect();
                obs.burned_roe = audits
                    .iter()
                    .map(|a| match a.outcome {
                        Some(AuditOutcomeDto::Upheld {
                            slashed,
                            accuser_reward,
                            voter_rewards,
                        }) => slashed - accuser_reward - voter_rewards,
                        Some(AuditOutcomeDto::Refuted {
                            slashed,
                            voter_rewards,
                        }) => slashed - voter_rewards,
                        _ => 0,
                    })
                    .sum();
            }
            if let Some(atts) = &r.attempts {
                // A rejected list's submitter is slashed when the round settles, unless a
                // later accepted list with the same digest vindicates it (SPEC §6).
                obs.rejected_lists = atts
                    .iter()
                    .filter(|a| {
                        matches!(
                            a.outcome,
                            Some(AttemptOutcomeDto::FailedRejected {
                                slashed: Some(x),
                                ..
                            }) if x > 0
                        )
                    })
                    .map(|a| a.submitter.to_string())
                    .collect();
                // A missed turn's slash is burned whole; a rejection's is split.
                for a in atts {
                    match a.outcome {
                        Some(AttemptOutcomeDto::FailedNotSubmitted { slashed }) => {
                            obs.burned_roe += slashed
                        }
                        Some(AttemptOutcomeDto::FailedRejected {
                            slashed: Some(x), ..
                        }) if x > 0 => obs.burn_unknown = true,
                        _ => {}
                    }
                }
                obs.missed_lists = atts
                    .iter()
                    .filter(|a| {
                        matches!(
                            a.outcome,
                            Some(AttemptOutcomeDto::FailedNotSubmitted { slashed }) if slashed > 0
                        )
                    })
                    .map(|a| a.submitter.to_string())
                    .collect();
            }
            if let RoundStatusDto::Paid { attempt, .. } = r.status {
                let info = self
                    .client
                    .get_task_distribution_info(&self.task, r.round)
                    .await
                    .map_err(|e| e.to_string())?;
                let entries = info
                    .attempts
                    .iter()
                    .find(|a| a.attempt == attempt)
                    .and_then(|a| a.entries.clone())
                    .unwrap_or_default();
                obs.paid = Some(
                    entries
                        .into_iter()
                        .map(|e| (e.node.to_string(), e.reward))
                        .collect(),
                );
            }
        }
        self.last = Some(t.clone());
        Ok(t)
    }

    /// What node `key` was paid in each paid round that lists it (a zero entry included).
    pub fn payouts(&self, key: &str) -> Vec<u64> {
        self.rounds
            .values()
            .filter_map(|r| {
                r.paid
                    .as_ref()?
                    .iter()
                    .find(|(p, _)| p == key)
                    .map(|(_, x)| *x)
            })
            .collect()
    }

    /// Rounds observed settled.
    pub fn settled(&self) -> u64 {
        self.rounds.values().filter(|r| r.settled).count() as u64
    }

    /// Successful `SubmitProof` transactions per `(node, round)` over the whole chain.
    pub async fn proof_submissions(&self) -> Result<BTreeMap<(String, u64), u32>, String> {
        let clock = self.clock().ok_or("no task view yet")?;
        let head = self.client.get_slot().await.map_err(|e| e.to_string())?;
        let mut out = BTreeMap::new();
        let mut from = 0;
        while from <= head {
            let blocks = self
                .client
                .get_blocks(from, 100, true)
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = blocks.last().map(|b| b.slot) else {
                break;
            };
            for b in &blocks {
                for tx in b.transactions.iter().flatten() {
                    if tx.instruction == "SubmitProof" && tx.err.is_none() {
                        let round = clock.round(b.slot).saturating_sub(1);
                        *out.entry((tx.signer.clone(), round)).or_default() += 1;
                    }
                }
            }
            from = last + 1;
        }
        Ok(out)
    }
}

/// Each staked node's stake and the slot it staked at, by base58 key.
pub fn stakes_by_node(t: &TaskDto) -> BTreeMap<String, (u64, u64)> {
    (t.stakes.iter().flatten())
        .map(|s| (s.node.to_string(), (s.amount, s.staked_slot)))
        .collect()
}

/// Each node's pending rewards, by base58 key.
pub fn pending_by_node(t: &TaskDto) -> BTreeMap<String, u64> {
    (t.pending_rewards.iter().flatten())
        .map(|r| (r.node.to_string(), r.amount))
        .collect()
}
