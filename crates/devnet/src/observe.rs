//! Watching the ledger: what happened to each round of the devnet's task, read over RPC.

use crate::Devnet;
use gradual_client::TaskInfoFlags;
use gradual_rpc::dto::{
    AttemptDto, AttemptOutcomeDto, AuditDto, AuditOutcomeDto, RoundStatusDto, TaskDto, VotingDto,
};
use gradual_types::constants::BPS_DENOMINATOR;
use gradual_types::{Pubkey, Verdict};
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
    /// Whether the burn is unknown. Always `false` now: a rejected list's split (not in the
    /// RPC view) is worked out from the round's terms; kept for readers of `--json`.
    pub burn_unknown: bool,
    /// Every slash of the round: who, how much, why.
    pub slashes: Vec<SlashObs>,
    /// Who received a share of a slash (the accuser, the voters of the winning side).
    pub shares: Vec<ShareObs>,
}

/// One slash: `roe` taken from `node`'s stake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlashObs {
    pub node: String,
    pub roe: u64,
    /// `proof upheld invalid`, `false accusation`, `list rejected` or `missed list turn`.
    pub reason: String,
}

/// One share of a slash, credited to `node`'s pending rewards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareObs {
    pub node: String,
    pub roe: u64,
    /// `accuser` or `voter`.
    pub kind: String,
}

/// `bps` of `amount`, rounded down (the ledger's rule).
fn bps_of(amount: u64, bps: u16) -> u64 {
    (u128::from(amount) * u128::from(bps) / u128::from(BPS_DENOMINATOR)) as u64
}

/// The voters that voted `want`, with their seats (seatless votes earn nothing).
fn seats_voting(v: &VotingDto, want: Verdict) -> Vec<(String, u64)> {
    let Some(c) = &v.committee else {
        return Vec::new();
    };
    v.votes
        .iter()
        .filter(|x| x.verdict == want)
        .map(|x| {
            let seats = (c.seats.iter())
                .filter(|s| s.node == x.node)
                .map(|s| u64::from(s.seats))
                .sum::<u64>();
            (x.node.to_string(), seats)
        })
        .filter(|(_, s)| *s > 0)
        .collect()
}

/// Split `pool` among `voters` per seat (floor), as the ledger does; what each receives.
fn voter_shares(voters: &[(String, u64)], pool: u64) -> Vec<ShareObs> {
    let seats: u64 = voters.iter().map(|(_, s)| s).sum();
    let Some(per_seat) = pool.checked_div(seats) else {
        return Vec::new();
    };
    voters
        .iter()
        .map(|(n, s)| ShareObs {
            node: n.clone(),
            roe: per_seat * s,
            kind: "voter".into(),
        })
        .filter(|x| x.roe > 0)
        .collect()
}

/// The slashes, shares and burn of one round's audits and list attempts; `accuser_bps` and
/// `voter_bps` are the round's terms (a rejected list's split is not in the RPC view).
pub(crate) fn slashes_of(
    audits: &[AuditDto],
    attempts: &[AttemptDto],
    accuser_bps: u16,
    voter_bps: u16,
) -> (Vec<SlashObs>, Vec<ShareObs>, u64) {
    let (mut slashes, mut shares, mut burned) = (Vec::new(), Vec::new(), 0u64);
    let mut slash = |node: &Pubkey, roe: u64, reason: &str| {
        slashes.push(SlashObs {
            node: node.to_string(),
            roe,
            reason: reason.into(),
        })
    };
    for a in audits {
        match a.outcome {
            Some(AuditOutcomeDto::Upheld {
                slashed,
                accuser_reward,
                voter_rewards,
            }) if slashed > 0 => {
                slash(&a.candidate, slashed, "proof upheld invalid");
                if accuser_reward > 0 {
                    shares.push(ShareObs {
                        node: a.accuser.to_string(),
                        roe: accuser_reward,
                        kind: "accuser".into(),
                    });
                }
                let voters = seats_voting(&a.voting, Verdict::Invalid);
                shares.extend(voter_shares(&voters, voter_rewards));
                burned += slashed - accuser_reward - voter_rewards;
            }
            Some(AuditOutcomeDto::Refuted {
                slashed,
                voter_rewards,
            }) if slashed > 0 => {
                slash(&a.accuser, slashed, "false accusation");
                let voters = seats_voting(&a.voting, Verdict::Valid);
                shares.extend(voter_shares(&voters, voter_rewards));
                burned += slashed - voter_rewards;
            }
            _ => {}
        }
    }
    for a in attempts {
        match a.outcome {
            // A missed turn's slash is burned whole.
            Some(AttemptOutcomeDto::FailedNotSubmitted { slashed }) if slashed > 0 => {
                slash(&a.submitter, slashed, "missed list turn");
                burned += slashed;
            }
            // A rejection's is split like an upheld audit's: the first `Invalid` voter is
            // the accuser, the `Invalid` seats share the voters' part (SPEC §6).
            Some(AttemptOutcomeDto::FailedRejected {
                slashed: Some(x), ..
            }) if x > 0 => {
                slash(&a.submitter, x, "list rejected");
                let voters = seats_voting(&a.voting, Verdict::Invalid);
                let acc = (a.voting.votes.iter())
                    .find(|v| v.verdict == Verdict::Invalid)
                    .map(|v| (v.node, bps_of(x, accuser_bps)));
                let mut paid = 0;
                if let Some((who, roe)) = acc.filter(|(_, r)| *r > 0) {
                    shares.push(ShareObs {
                        node: who.to_string(),
                        roe,
                        kind: "accuser".into(),
                    });
                    paid += roe;
                }
                let v = voter_shares(&voters, bps_of(x, voter_bps));
                paid += v.iter().map(|s| s.roe).sum::<u64>();
                shares.extend(v);
                burned += x.saturating_sub(paid);
            }
            _ => {}
        }
    }
    (slashes, shares, burned)
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
            obs.status = match &r.record.status {
                RoundStatusDto::Reviewing => "reviewing",
                RoundStatusDto::Distributing => "distributing",
                RoundStatusDto::Paid { .. } => "paid",
                RoundStatusDto::Failed => "failed",
                RoundStatusDto::NoCandidates => "no candidates",
            }
            .into();
            obs.settled = r.record.status.is_settled();
            if let Some(subs) = &r.submissions {
                obs.submitters = keys_of(subs, |_| true, |s| s.node);
                obs.voided = keys_of(subs, |s| s.submission.voided, |s| s.node);
            }
            let audits = r.audits.as_deref().unwrap_or_default();
            let attempts = r.attempts.as_deref().unwrap_or_default();
            obs.upheld = keys_of(
                audits,
                |a| matches!(a.outcome, Some(AuditOutcomeDto::Upheld { .. })),
                |a| a.candidate,
            );
            obs.refuted_accusers = keys_of(
                audits,
                |a| matches!(a.outcome, Some(AuditOutcomeDto::Refuted { .. })),
                |a| a.accuser,
            );
            // A rejected list's submitter is slashed when the round settles, unless a
            // later accepted list with the same digest vindicates it (SPEC §6).
            obs.rejected_lists = keys_of(
                attempts,
                |a| {
                    matches!(a.outcome, Some(AttemptOutcomeDto::FailedRejected {
                        slashed: Some(x), ..
                    }) if x > 0)
                },
                |a| a.submitter,
            );
            obs.missed_lists = keys_of(
                attempts,
                |a| {
                    matches!(a.outcome,
                        Some(AttemptOutcomeDto::FailedNotSubmitted { slashed }) if slashed > 0)
                },
                |a| a.submitter,
            );
            let (slashes, shares, burned) = slashes_of(
                audits,
                attempts,
                r.record.terms.accuser_bps,
                r.record.terms.voter_bps,
            );
            obs.slashes = slashes;
            obs.shares = shares;
            obs.burned_roe = burned;
            obs.burn_unknown = false;
            if let RoundStatusDto::Paid { attempt, .. } = r.record.status {
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
        .map(|s| (s.node.to_string(), (s.stake.amount, s.stake.staked_slot)))
        .collect()
}

/// Each node's pending rewards, by base58 key.
pub fn pending_by_node(t: &TaskDto) -> BTreeMap<String, u64> {
    (t.pending_rewards.iter().flatten())
        .map(|r| (r.node.to_string(), r.amount))
        .collect()
}

/// The keys `key` of the items `keep` selects, as the tables print them.
fn keys_of<T>(items: &[T], keep: impl Fn(&T) -> bool, key: impl Fn(&T) -> Pubkey) -> Vec<String> {
    items
        .iter()
        .filter(|x| keep(x))
        .map(|x| key(x).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_rpc::dto::{CommitteeDto, SeatDto, TallyDto, UploadDto, VoteDto};
    use gradual_types::{Hash, Keypair};

    fn key(seed: u8) -> Pubkey {
        Keypair::from_seed([seed; 32]).pubkey()
    }

    fn voting(seats: &[(u8, u16)], votes: &[(u8, Verdict)]) -> VotingDto {
        VotingDto {
            committee: Some(CommitteeDto {
                seed: Hash([0; 32]),
                size: seats.iter().map(|(_, s)| s).sum(),
                seats: (seats.iter())
                    .map(|(n, s)| SeatDto {
                        node: key(*n),
                        seats: *s,
                    })
                    .collect(),
            }),
            votes: (votes.iter())
                .map(|(n, v)| VoteDto {
                    node: key(*n),
                    verdict: *v,
                })
                .collect(),
            tally: TallyDto {
                valid: 0,
                invalid: 0,
                abstain: 0,
            },
        }
    }

    fn audit(candidate: u8, accuser: u8, v: VotingDto, outcome: AuditOutcomeDto) -> AuditDto {
        AuditDto {
            candidate: key(candidate),
            accuser: key(accuser),
            trigger_slot: 1,
            seed: Hash([0; 32]),
            voting: v,
            outcome: Some(outcome),
        }
    }

    fn attempt(submitter: u8, v: VotingDto, outcome: AttemptOutcomeDto) -> AttemptDto {
        AttemptDto {
            attempt: 0,
            submitter: key(submitter),
            upload: UploadDto::default(),
            list: None,
            entries: None,
            voting: v,
            outcome: Some(outcome),
        }
    }

    fn share(n: u8, roe: u64, kind: &str) -> ShareObs {
        ShareObs {
            node: key(n).to_string(),
            roe,
            kind: kind.into(),
        }
    }

    #[test]
    fn slashes_are_split_among_accuser_and_winning_voters_as_the_ledger_does() {
        use Verdict::*;
        // Node 9 cheated; node 1 accused it; seats 1:1, 2:2, 3:1; 3 voted the wrong way and
        // 4 voted without a seat.
        let v = voting(
            &[(1, 1), (2, 2), (3, 1)],
            &[(1, Invalid), (2, Invalid), (3, Valid), (4, Invalid)],
        );
        let upheld = AuditOutcomeDto::Upheld {
            slashed: 1_000,
            accuser_reward: 100,
            voter_rewards: 300,
        };
        // Node 5 accused node 6 falsely; seats 2 and 3 voted valid.
        let refuted = AuditOutcomeDto::Refuted {
            slashed: 500,
            voter_rewards: 150,
        };
        let audits = vec![
            audit(9, 1, v.clone(), upheld),
            audit(
                6,
                5,
                voting(&[(2, 2), (3, 1)], &[(2, Valid), (3, Valid)]),
                refuted,
            ),
            audit(7, 1, v.clone(), AuditOutcomeDto::Unresolved),
        ];
        // Node 8's list was rejected (3 voted invalid first), node 7 missed its turn.
        let attempts = vec![
            attempt(
                8,
                voting(&[(2, 2), (3, 1)], &[(3, Invalid), (2, Invalid)]),
                AttemptOutcomeDto::FailedRejected {
                    slashed: Some(2_000),
                    vindicated: false,
                },
            ),
            attempt(
                7,
                v.clone(),
                AttemptOutcomeDto::FailedNotSubmitted { slashed: 40 },
            ),
            attempt(
                2,
                v,
                AttemptOutcomeDto::FailedRejected {
                    slashed: None,
                    vindicated: true,
                },
            ),
        ];
        let (slashes, shares, burned) = slashes_of(&audits, &attempts, 1_000, 3_000);
        let who: Vec<(String, u64, &str)> = (slashes.iter())
            .map(|s| (s.node.clone(), s.roe, s.reason.as_str()))
            .collect();
        assert_eq!(
            who,
            vec![
                (key(9).to_string(), 1_000, "proof upheld invalid"),
                (key(5).to_string(), 500, "false accusation"),
                (key(8).to_string(), 2_000, "list rejected"),
                (key(7).to_string(), 40, "missed list turn"),
            ]
        );
        assert_eq!(
            shares,
            vec![
                // upheld: accuser 10 %, then 300 over 3 invalid seats
                share(1, 100, "accuser"),
                share(1, 100, "voter"),
                share(2, 200, "voter"),
                // refuted: 150 over 3 valid seats
                share(2, 100, "voter"),
                share(3, 50, "voter"),
                // rejected list: the first invalid voter accuses (10 % of 2,000), 30 % of
                // 2,000 over 3 invalid seats
                share(3, 200, "accuser"),
                share(3, 200, "voter"),
                share(2, 400, "voter"),
            ]
        );
        // Burned: 1000-100-300 + 500-150 + 2000-200-600 + 40.
        assert_eq!(burned, 600 + 350 + 1_200 + 40);
    }
}
