//! Distribution duties (SPEC §6): the selected submitter uploads its task's reward list,
//! committee members compare it with their own task's list and vote.

use super::{Action, List, ListPurpose, ListRequest, NodeCore};
use crate::view::{LedgerView, TaskInfo};
use gradual_ledger::state::RoundStatus;
use gradual_ledger::{distribution_digest, Window};
use gradual_types::constants::DISTRIBUTION_ENTRIES_PER_CHUNK_MAX;
use gradual_types::{Instruction, Pubkey, Slot, TaskId, Verdict};
use std::collections::VecDeque;

impl NodeCore {
    /// The task answered [`Action::MakeDistribution`] with its reward list.
    pub fn handle_list(
        &mut self,
        task: &TaskId,
        round: u64,
        attempt: u16,
        purpose: ListPurpose,
        mut list: Vec<(Pubkey, u64)>,
        view: &dyn LedgerView,
    ) {
        let at = view.slot() + 1;
        let Some(st) = self.tasks.get_mut(task) else {
            return;
        };
        match purpose {
            ListPurpose::Submit => {
                list.sort_unstable_by_key(|(n, _)| *n);
                send_list(&mut self.out, task, round, attempt, &list, 0);
                self.stats.lists_sent += 1;
                st.lists
                    .insert((round, attempt, true), List::Sent { at, list });
            }
            ListPurpose::Audit => {
                list.sort_unstable_by_key(|(n, _)| *n);
                let uploaded = view.distribution_list(task, round, attempt);
                let verdict = if uploaded == list {
                    Verdict::Valid
                } else {
                    Verdict::Invalid
                };
                self.out.push_back(Action::Send {
                    task: *task,
                    ix: Instruction::AuditDistribution {
                        task: *task,
                        round,
                        attempt,
                        verdict,
                    },
                });
                self.stats.list_votes_sent += 1;
                st.lists
                    .insert((round, attempt, false), List::Voted { at, verdict });
            }
        }
    }

    pub(super) fn distribution_round(
        &mut self,
        id: &TaskId,
        r: u64,
        at: Slot,
        info: &TaskInfo,
        view: &dyn LedgerView,
    ) {
        let me = self.me;
        let resend = self.resend_after_slots;
        let Some(rec) = view.round_record(id, r) else {
            return;
        };
        if rec.status != RoundStatus::Distributing {
            return;
        }
        let i = rec.current_attempt;
        let Some(att) = view.attempt(id, r, i) else {
            return;
        };
        let clock = info.clock;
        let st = self.tasks.get_mut(id).expect("listed");
        let submitters = || -> Vec<Pubkey> {
            view.submitters(id, r)
                .iter()
                .filter(|(_, v)| !v)
                .map(|(n, _)| *n)
                .collect()
        };
        let bpr = rec.terms.bounty_per_round;
        if clock
            .window(Window::DistributionSubmission, r, i)
            .contains(at)
            && att.submitter == me
            && att.list.is_none()
        {
            match st.lists.get(&(r, i, true)) {
                None => {
                    st.lists.insert((r, i, true), List::Asked);
                    let bounty = bpr.min(info.available_bounty);
                    self.out.push_back(Action::MakeDistribution(ListRequest {
                        task: *id,
                        round: r,
                        attempt: i,
                        purpose: ListPurpose::Submit,
                        submitters: submitters(),
                        bounty,
                    }));
                }
                // A missed turn is slashed `missed_list_bps` (SPEC §6 [v2]) and the window is
                // short, so a list is resent every slot until the ledger shows it, from the
                // first chunk the ledger does not have: a lost chunk costs one slot, not the
                // turn, and a resend repeats no chunk that already landed.
                Some(List::Sent { at: sent, list }) if at > *sent => {
                    let list = list.clone();
                    send_list(&mut self.out, id, r, i, &list, att.upload.chunks);
                    st.lists.insert((r, i, true), List::Sent { at, list });
                }
                _ => {}
            }
        }
        let Some(list) = att.list.as_ref() else {
            return;
        };
        if !clock.window(Window::DistributionAudit, r, i).contains(at) {
            return;
        }
        let seated = att.committee.as_ref().is_some_and(|c| c.seats_of(&me) > 0);
        if !seated || att.votes.iter().any(|(n, _)| *n == me) {
            return;
        }
        match st.lists.get(&(r, i, false)) {
            None => {
                st.lists.insert((r, i, false), List::Asked);
                // The list under audit already reserved its own sum: add it back.
                let bounty = bpr.min(info.available_bounty.saturating_add(list.total_roe));
                self.out.push_back(Action::MakeDistribution(ListRequest {
                    task: *id,
                    round: r,
                    attempt: i,
                    purpose: ListPurpose::Audit,
                    submitters: submitters(),
                    bounty,
                }));
            }
            Some(List::Voted { at: sent, verdict }) if at >= sent + resend => {
                let verdict = *verdict;
                self.out.push_back(Action::Send {
                    task: *id,
                    ix: Instruction::AuditDistribution {
                        task: *id,
                        round: r,
                        attempt: i,
                        verdict,
                    },
                });
                st.lists.insert((r, i, false), List::Voted { at, verdict });
            }
            _ => {}
        }
    }
}

/// Upload `list` from chunk `from` on (the chunks before it are on the ledger) and submit it.
fn send_list(
    out: &mut VecDeque<Action>,
    task: &TaskId,
    round: u64,
    attempt: u16,
    list: &[(Pubkey, u64)],
    from: u32,
) {
    let chunks = list.chunks(DISTRIBUTION_ENTRIES_PER_CHUNK_MAX).enumerate();
    for (index, chunk) in chunks.skip(from as usize) {
        out.push_back(Action::Send {
            task: *task,
            ix: Instruction::UploadDistributionChunk {
                task: *task,
                round,
                attempt,
                index: index as u32,
                entries: chunk.to_vec(),
            },
        });
    }
    out.push_back(Action::Send {
        task: *task,
        ix: Instruction::SubmitDistribution {
            task: *task,
            round,
            attempt,
            digest: distribution_digest(list),
            count: list.len() as u32,
        },
    });
}

pub use gradual_types::equal_split;
