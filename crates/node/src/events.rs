//! What happened to this node in a task's rounds, read from the ledger (not from what the
//! node meant to do): its proof landed, it raised or voted on an audit, it submitted or
//! voted on a distribution list, it was paid, it was slashed. The driver logs each event
//! once, at INFO (a slash and a run of unpaid rounds at WARN), and `/info` shows the
//! running totals ([`Tracker`]). A pure function of successive snapshots, tested without a
//! node.

use crate::view::TaskSnap;
use gradual_ledger::state::{AttemptOutcome, AuditOutcome, RoundStatus};
use gradual_types::{format_koii, Pubkey, Verdict};
use std::collections::BTreeSet;

/// One thing that happened to this node in one round of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundEvent {
    ProofSubmitted {
        round: u64,
    },
    AuditRaised {
        round: u64,
        candidate: Pubkey,
    },
    AuditVoted {
        round: u64,
        candidate: Pubkey,
        verdict: Verdict,
    },
    /// An audit this node raised was upheld: its accuser's share.
    AuditUpheld {
        round: u64,
        candidate: Pubkey,
        reward: u64,
    },
    ListSubmitted {
        round: u64,
        attempt: u16,
    },
    ListVoted {
        round: u64,
        attempt: u16,
        verdict: Verdict,
    },
    /// The round settled paid; `amount` is this node's share of the accepted list.
    Paid {
        round: u64,
        amount: u64,
    },
    Slashed {
        round: u64,
        amount: u64,
        reason: String,
    },
    /// A round this node has a proof in was paid by a list no committee audited: no other
    /// staker was eligible for a seat, so nobody checked its amounts.
    UnauditedList {
        round: u64,
        attempt: u16,
    },
    /// `rounds` settled rounds in a row in which this node's proof earned nothing.
    Unpaid {
        round: u64,
        rounds: u64,
    },
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "valid",
        Verdict::Invalid => "invalid",
        Verdict::Abstain => "abstain",
    }
}

impl RoundEvent {
    /// The log line, without the task (the log's `task` field names it).
    pub fn line(&self) -> String {
        match self {
            RoundEvent::ProofSubmitted { round } => format!("proof submitted for round {round}"),
            RoundEvent::AuditRaised { round, candidate } => {
                format!("audit raised against {candidate}'s proof of round {round}")
            }
            RoundEvent::AuditVoted {
                round,
                candidate,
                verdict: v,
            } => format!(
                "audit voted {} on {candidate}'s proof of round {round}",
                verdict(*v)
            ),
            RoundEvent::AuditUpheld {
                round,
                candidate,
                reward,
            } => format!(
                "audit against {candidate}'s proof of round {round} upheld; accuser's share {} KOII",
                format_koii(*reward)
            ),
            RoundEvent::ListSubmitted { round, attempt } => {
                format!("distribution list submitted for round {round} (attempt {attempt})")
            }
            RoundEvent::ListVoted {
                round,
                attempt,
                verdict: v,
            } => format!(
                "distribution list of round {round} (attempt {attempt}) voted {}",
                verdict(*v)
            ),
            RoundEvent::Paid { round, amount } => {
                format!("paid {} KOII for round {round}", format_koii(*amount))
            }
            RoundEvent::Slashed {
                round,
                amount,
                reason,
            } => format!(
                "slashed {} KOII in round {round}: {reason}",
                format_koii(*amount)
            ),
            RoundEvent::UnauditedList { round, attempt } => format!(
                "round {round} was paid by distribution list attempt {attempt}, which no \
                 committee audited (no other staker was eligible for a seat): nobody checked \
                 its amounts; compare your pay with `gradual task round <task> {round}`"
            ),
            RoundEvent::Unpaid { round, rounds } => format!(
                "{rounds} settled rounds in a row (up to round {round}) paid this node nothing \
                 for its proofs; the node keeps working (check the task's log and the rounds' \
                 lists with `gradual task round <task> <round>`)"
            ),
        }
    }

    /// Logged at WARN rather than INFO.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            RoundEvent::Slashed { .. }
                | RoundEvent::Unpaid { .. }
                | RoundEvent::UnauditedList { .. }
        )
    }
}

/// What kind of event a seen key is (dedup), with its round first so old ones prune.
type Seen = (u64, u8, Pubkey, u16);
const PROOF: u8 = 0;
const RAISED: u8 = 1;
const VOTED: u8 = 2;
const DECIDED: u8 = 3;
const LIST: u8 = 4;
const LIST_VOTED: u8 = 5;
const ATTEMPT_DONE: u8 = 6;
const SETTLED: u8 = 7;
const UNAUDITED: u8 = 8;

/// Per task: which events were logged, and the totals `/info` shows.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    started: bool,
    seen: BTreeSet<Seen>,
    pub last_proof_round: Option<u64>,
    /// `(round, amount)` of the last settled round that paid this node.
    pub last_paid: Option<(u64, u64)>,
    pub slashes: u64,
    pub slashed_roe: u64,
    pub last_slash: Option<String>,
    /// Settled rounds in a row in which this node's proof earned nothing.
    pub unpaid_rounds: u64,
}

impl Tracker {
    /// Lists `(round, attempt)` the snapshot must hold before [`Tracker::observe`] can say
    /// what this node was paid: paid rounds not reported yet in which it has a standing proof.
    pub fn lists_needed(&self, me: &Pubkey, snap: &TaskSnap) -> Vec<(u64, u16)> {
        if !self.started {
            return Vec::new();
        }
        snap.rounds
            .iter()
            .filter_map(|(r, rs)| match rs.record.as_ref().map(|x| &x.status) {
                Some(RoundStatus::Paid { attempt, .. })
                    if !self.seen.contains(&(*r, SETTLED, Pubkey([0; 32]), 0))
                        && rs.submissions.get(me).is_some_and(|s| !s.voided)
                        && !snap.lists.contains_key(&(*r, *attempt)) =>
                {
                    Some((*r, *attempt))
                }
                _ => None,
            })
            .collect()
    }

    /// The events of `snap` not reported yet, oldest round first. The first snapshot of a
    /// task only sets the totals (a restarted node does not re-log the past). `warn_every`:
    /// report a run of unpaid rounds at this many (and every multiple; 0 never).
    pub fn observe(&mut self, me: &Pubkey, snap: &TaskSnap, warn_every: u64) -> Vec<RoundEvent> {
        let quiet = !self.started;
        self.started = true;
        let mut out = Vec::new();
        let nobody = Pubkey([0; 32]);
        for (&round, rs) in &snap.rounds {
            if rs.submissions.contains_key(me) {
                self.last_proof_round = self.last_proof_round.max(Some(round));
                if self.seen.insert((round, PROOF, nobody, 0)) {
                    out.push(RoundEvent::ProofSubmitted { round });
                }
            }
            for (cand, a) in &rs.audits {
                if a.accuser == *me && self.seen.insert((round, RAISED, *cand, 0)) {
                    out.push(RoundEvent::AuditRaised {
                        round,
                        candidate: *cand,
                    });
                }
                if let Some((_, v)) = a.votes.iter().find(|(n, _)| n == me) {
                    if self.seen.insert((round, VOTED, *cand, 0)) {
                        out.push(RoundEvent::AuditVoted {
                            round,
                            candidate: *cand,
                            verdict: *v,
                        });
                    }
                }
                let mine = *cand == *me || a.accuser == *me;
                let Some(outcome) = a.outcome.as_ref().filter(|_| mine) else {
                    continue;
                };
                if !self.seen.insert((round, DECIDED, *cand, 0)) {
                    continue;
                }
                match outcome {
                    AuditOutcome::Upheld { slashed, .. } if *cand == *me => {
                        out.push(RoundEvent::Slashed {
                            round,
                            amount: *slashed,
                            reason: format!(
                                "its proof was judged invalid: the audit raised by {} was upheld \
                                 by its committee",
                                a.accuser
                            ),
                        })
                    }
                    AuditOutcome::Upheld { accuser_reward, .. } => {
                        out.push(RoundEvent::AuditUpheld {
                            round,
                            candidate: *cand,
                            reward: *accuser_reward,
                        })
                    }
                    AuditOutcome::Refuted { slashed, .. } if a.accuser == *me => {
                        out.push(RoundEvent::Slashed {
                            round,
                            amount: *slashed,
                            reason: format!(
                                "false accusation: its audit of {cand}'s proof was refuted by \
                                 the committee"
                            ),
                        })
                    }
                    _ => {}
                }
            }
            for (&attempt, at) in &rs.attempts {
                let mine = at.submitter == *me;
                if mine && at.list.is_some() && self.seen.insert((round, LIST, nobody, attempt)) {
                    out.push(RoundEvent::ListSubmitted { round, attempt });
                }
                if let Some((_, v)) = at.votes.iter().find(|(n, _)| n == me) {
                    if self.seen.insert((round, LIST_VOTED, nobody, attempt)) {
                        out.push(RoundEvent::ListVoted {
                            round,
                            attempt,
                            verdict: *v,
                        });
                    }
                }
                let slash = match &at.outcome {
                    Some(AttemptOutcome::FailedNotSubmitted { slashed }) if mine => Some((
                        *slashed,
                        format!(
                            "it was selected to submit the distribution list (attempt {attempt}) \
                             and submitted none in its window"
                        ),
                    )),
                    Some(AttemptOutcome::FailedRejected {
                        slashed: Some(s), ..
                    }) if mine => Some((
                        *s,
                        format!(
                            "its distribution list (attempt {attempt}) was rejected by the \
                             committee"
                        ),
                    )),
                    _ => None,
                };
                let unaudited = matches!(at.outcome, Some(AttemptOutcome::PayoutSuccessful { .. }))
                    && at.committee.as_ref().is_some_and(|c| c.size == 0);
                if unaudited
                    && rs.submissions.contains_key(me)
                    && self.seen.insert((round, UNAUDITED, nobody, attempt))
                {
                    out.push(RoundEvent::UnauditedList { round, attempt });
                }
                if let Some((amount, reason)) = slash {
                    if self.seen.insert((round, ATTEMPT_DONE, nobody, attempt)) {
                        out.push(RoundEvent::Slashed {
                            round,
                            amount,
                            reason,
                        });
                    }
                }
            }
            // Settlement: what this node's proof earned.
            let Some(status) = rs.record.as_ref().map(|r| &r.status) else {
                continue;
            };
            if !status.is_settled() || self.seen.contains(&(round, SETTLED, nobody, 0)) {
                continue;
            }
            let Some(proof) = rs.submissions.get(me) else {
                self.seen.insert((round, SETTLED, nobody, 0));
                continue;
            };
            let paid = match status {
                RoundStatus::Paid { attempt, .. } if !proof.voided => {
                    match snap.lists.get(&(round, *attempt)) {
                        Some(list) => list.iter().filter(|(n, _)| n == me).map(|(_, a)| *a).sum(),
                        // The past (first look): not reported, not counted.
                        None if quiet => {
                            self.seen.insert((round, SETTLED, nobody, 0));
                            continue;
                        }
                        // Not fetched yet: reported once it is.
                        None => continue,
                    }
                }
                _ => 0,
            };
            self.seen.insert((round, SETTLED, nobody, 0));
            if paid > 0 {
                self.unpaid_rounds = 0;
                out.push(RoundEvent::Paid {
                    round,
                    amount: paid,
                });
            } else {
                self.unpaid_rounds += 1;
                if warn_every > 0 && self.unpaid_rounds.is_multiple_of(warn_every) {
                    out.push(RoundEvent::Unpaid {
                        round,
                        rounds: self.unpaid_rounds,
                    });
                }
            }
        }
        for e in &out {
            match e {
                RoundEvent::Paid { round, amount } => self.last_paid = Some((*round, *amount)),
                RoundEvent::Slashed { amount, reason, .. } => {
                    self.slashes += 1;
                    self.slashed_roe += amount;
                    self.last_slash = Some(format!("{} KOII: {reason}", format_koii(*amount)));
                }
                _ => {}
            }
        }
        // Rounds the ledger no longer shows cannot change.
        if let Some(first) = snap.rounds.keys().next() {
            self.seen = self.seen.split_off(&(*first, 0, nobody, 0));
        }
        if quiet {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests;
