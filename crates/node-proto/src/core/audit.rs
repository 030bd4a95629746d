//! Proof audits (SPEC §5): sample peers, check raised audits where this node holds a seat,
//! let the audit guard judge the task's verdicts, then raise and vote in batches.

use super::{Action, Check, NodeCore, SuspectPolicy, RAISE_MARGIN_SLOTS};
use crate::view::LedgerView;
use gradual_types::constants::AUDIT_VOTES_PER_TX_MAX;
use gradual_types::{Hash, Instruction, Pubkey, Slot, TaskId, Verdict};
use std::collections::BTreeSet;

impl NodeCore {
    /// Proof audit duties for round `r` at slot `at`. `raise_last` is the last slot at which
    /// the ledger accepts a raise; after it the node only votes where it holds a seat.
    pub(super) fn audit_round(
        &mut self,
        id: &TaskId,
        r: u64,
        at: Slot,
        sample: u16,
        raise_last: Slot,
        view: &dyn LedgerView,
    ) {
        let me = self.me;
        let may_raise = at <= raise_last;
        // 1. Sample peers once per round (pointless once no raise can land).
        if self.tasks.get_mut(id).expect("listed").sampled.insert(r) && may_raise {
            let subs = view.submitters(id, r);
            let n = subs.len() as u64;
            let want = usize::from(sample).min(subs.len().saturating_sub(1));
            let mut picked = BTreeSet::new();
            let mut j: u64 = 0;
            while picked.len() < want && j < 8 * u64::from(sample) + 16 {
                let h = Hash::domain(
                    "gradual/node-sample/v1",
                    &[&self.seed.0, &id.0, &r.to_le_bytes(), &j.to_le_bytes()],
                );
                let idx = (u64::from_le_bytes(h.0[..8].try_into().expect("8 bytes")) % n) as usize;
                if subs[idx].0 != me {
                    picked.insert(subs[idx].0);
                }
                j += 1;
            }
            for cand in picked {
                self.ask_check(id, r, cand, true, view);
            }
        }
        // 2. Every raised audit where this node holds a seat must be checked.
        for cand in view.seated_audits(id, r, &me) {
            if self.tasks[id].checks.contains_key(&(r, cand)) || cand == me {
                continue;
            }
            let Some(audit) = view.audit(id, r, &cand) else {
                continue;
            };
            let seated = audit
                .committee
                .as_ref()
                .is_some_and(|c| c.seats_of(&me) > 0);
            if seated && !audit.votes.iter().any(|(n, _)| *n == me) {
                self.ask_check(id, r, cand, false, view);
            }
        }
        let st = self.tasks.get_mut(id).expect("listed");
        // 3. The audit guard judges the task's verdicts on this round's own sample (seat
        //    checks are of accused proofs, so they would bias it) before any `Invalid` leaves:
        //    those are held until the sample is all checked or the raise cutoff is near,
        //    whichever comes first. Once suspect, a round stays suspect.
        let guard = st.config.audit_guard;
        let (mut sampled, mut pending, mut checked, mut invalid) = (0u64, 0u64, 0u64, 0u64);
        for (_, cand) in st.picked.range(of_round(r)) {
            sampled += 1;
            match st.checks.get(&(r, *cand)) {
                Some(Check::Done(Verdict::Invalid)) => {
                    checked += 1;
                    invalid += 1;
                }
                Some(Check::Done(_)) => checked += 1,
                Some(Check::Asked) | None => pending += 1,
            }
        }
        let released =
            !guard.on() || pending == 0 || at >= raise_last.saturating_sub(RAISE_MARGIN_SLOTS);
        if released && !st.suspect.contains(&r) && guard.trips(checked, invalid) {
            let unstake = guard.on_suspect == SuspectPolicy::AbstainAndUnstake;
            st.suspect.insert(r);
            st.suspect_rounds += 1;
            st.leave |= unstake;
            self.stats.suspect_rounds += 1;
            self.out.push_back(Action::SuspectAudits {
                task: *id,
                round: r,
                sampled,
                checked,
                invalid,
                unstake,
            });
        }
        let suspect = st.suspect.contains(&r);

        // 4. Votes from finished checks: raise an audit on an invalid proof nobody has raised
        //    yet; vote where this node holds a seat.
        let mut votes = Vec::new();
        let done: Vec<(Pubkey, Verdict)> = st
            .checks
            .range(of_round(r))
            .filter_map(|((_, c), ch)| match ch {
                Check::Done(v) => Some((*c, *v)),
                Check::Asked => None,
            })
            .collect();
        // Raises already on their way this round (the ledger takes `audit_sample` per node).
        let mut raises_sent = self.tasks[id]
            .votes_sent
            .range(of_round(r))
            .filter(|(_, (_, raise))| *raise)
            .count();
        for (cand, verdict) in done {
            let last = self.tasks[id].votes_sent.get(&(r, cand)).copied();
            let already_raised = matches!(last, Some((_, true)));
            match view.audit(id, r, &cand) {
                None if verdict == Verdict::Invalid
                    && may_raise
                    && released
                    && !suspect
                    && raises_sent < usize::from(sample)
                    && self.due(last.map(|(s, _)| s), at) =>
                {
                    votes.push((cand, Verdict::Invalid, true));
                    self.stats.audits_raised += 1;
                    if !already_raised {
                        raises_sent += 1;
                    }
                }
                None => {}
                Some(audit) => {
                    let Some(c) = audit.committee.as_ref() else {
                        continue;
                    };
                    // A seat owed in a suspect round is still voted, as `Abstain`, so the node
                    // is not counted silent; an `Invalid` waits for the guard's decision.
                    let verdict = match verdict {
                        Verdict::Invalid if suspect => Verdict::Abstain,
                        Verdict::Invalid if !released => continue,
                        v => v,
                    };
                    // A raise that lost the race to another accuser is no seat vote: vote now.
                    let due = matches!(last, None | Some((_, true)))
                        || self.due(last.map(|(s, _)| s), at);
                    if due && c.seats_of(&me) > 0 && !audit.votes.iter().any(|(n, _)| *n == me) {
                        votes.push((cand, verdict, false));
                        self.stats.votes_sent += 1;
                    }
                }
            }
        }
        let st = self.tasks.get_mut(id).expect("listed");
        for (cand, _, raise) in &votes {
            st.votes_sent.insert((r, *cand), (at, *raise));
        }
        // Raises and seat votes travel in separate batches, so that a batch's receipt is about
        // one kind of vote. Each vote of a batch stands or falls on its own, and a raise that
        // loses the race to another accuser in the same block counts as this node's vote
        // (SPEC §1 [v2]).
        let (raises, seat_votes): (Vec<_>, Vec<_>) =
            votes.into_iter().partition(|(_, _, raise)| *raise);
        for group in [raises, seat_votes] {
            let group: Vec<(Pubkey, Verdict)> = group.into_iter().map(|(c, v, _)| (c, v)).collect();
            for batch in group.chunks(AUDIT_VOTES_PER_TX_MAX) {
                let ix = if batch.len() == 1 {
                    Instruction::AuditProof {
                        task: *id,
                        round: r,
                        candidate: batch[0].0,
                        verdict: batch[0].1,
                    }
                } else {
                    Instruction::AuditProofs {
                        task: *id,
                        round: r,
                        votes: batch.to_vec(),
                    }
                };
                self.out.push_back(Action::Send { task: *id, ix });
            }
        }
    }

    /// Ask the task to check `cand`'s proof of round `r` (if it is on the ledger); `sampled`
    /// marks it as one of the round's own sample, which the audit guard judges.
    fn ask_check(
        &mut self,
        id: &TaskId,
        r: u64,
        cand: Pubkey,
        sampled: bool,
        view: &dyn LedgerView,
    ) {
        let Some(sub) = view.submission(id, r, &cand) else {
            return;
        };
        let st = self.tasks.get_mut(id).expect("listed");
        st.checks.insert((r, cand), Check::Asked);
        if sampled {
            st.picked.insert((r, cand));
        }
        self.stats.checks_asked += 1;
        self.out.push_back(Action::CheckProof {
            task: *id,
            round: r,
            candidate: cand,
            value: sub.value,
        });
    }
}

/// Keys `(round, node)` of round `r`, every node.
fn of_round(r: u64) -> std::ops::RangeInclusive<(u64, Pubkey)> {
    (r, Pubkey([0; 32]))..=(r, Pubkey([0xff; 32]))
}
