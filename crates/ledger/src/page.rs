//! Paged, read-only queries for servers: each returns at most `limit` items after a cursor,
//! so a reader holding the ledger for one page does work bounded by `limit`, whatever the
//! size of the state. The full-list queries in [`crate::query`] stay for in-process use.

use crate::query::RoundView;
use crate::state::{AuditRecord, NodeRoundKey, StakeRecord, SubmissionRecord, TaskRecord};
use crate::table::Table;
use crate::Ledger;
use gradual_types::{Pubkey, TaskId};
use std::ops::Bound::{Excluded, Unbounded};

/// One page of a list and the cursor of the next (`None`: this was the last page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}

impl<T, C> Default for Page<T, C> {
    fn default() -> Self {
        Page {
            items: Vec::new(),
            next: None,
        }
    }
}

/// The records of one round keyed by node, after `after`, in node order.
fn node_page<V: Clone + PartialEq + borsh::BorshSerialize>(
    table: &Table<NodeRoundKey, V>,
    task: &TaskId,
    round: u64,
    after: Option<Pubkey>,
    limit: usize,
) -> Page<(Pubkey, V), Pubkey> {
    let items = table
        .round_nodes(task, round, after)
        .take(limit.saturating_add(1))
        .map(|(n, v)| (n, v.clone()))
        .collect();
    page(items, limit, |(n, _)| *n)
}

fn page<T, C>(mut items: Vec<T>, limit: usize, cursor: impl Fn(&T) -> C) -> Page<T, C> {
    // `items` holds up to `limit + 1`: the extra one only says that more follow.
    if items.len() > limit {
        items.truncate(limit);
        let next = items.last().map(cursor);
        Page { items, next }
    } else {
        Page { items, next: None }
    }
}

impl Ledger {
    /// Tasks with ids after `after`, in id order.
    pub fn tasks_page(
        &self,
        after: Option<TaskId>,
        limit: usize,
    ) -> Page<(TaskId, TaskRecord), TaskId> {
        let start = after.map_or(Unbounded, Excluded);
        let items = self
            .tasks
            .range((start, Unbounded))
            .take(limit.saturating_add(1))
            .map(|(id, r)| (*id, r.clone()))
            .collect();
        page(items, limit, |(id, _)| *id)
    }

    /// Stakers of `task` and their total stake (one pass, no copies).
    pub fn stake_totals(&self, task: &TaskId) -> (u64, u64) {
        self.stakes
            .task_nodes(task, None)
            .fold((0u64, 0u64), |(n, sum), (_, s)| {
                (n + 1, sum.saturating_add(s.amount))
            })
    }

    /// Stakes of `task` by nodes after `after`, in node order.
    pub fn stakes_page(
        &self,
        task: &TaskId,
        after: Option<Pubkey>,
        limit: usize,
    ) -> Page<(Pubkey, StakeRecord), Pubkey> {
        let items = self
            .stakes
            .task_nodes(task, after)
            .take(limit.saturating_add(1))
            .map(|(n, s)| (n, s.clone()))
            .collect();
        page(items, limit, |(n, _)| *n)
    }

    /// Pending rewards of `task` by nodes after `after`, in node order.
    pub fn rewards_page(
        &self,
        task: &TaskId,
        after: Option<Pubkey>,
        limit: usize,
    ) -> Page<(Pubkey, u64), Pubkey> {
        let items = self
            .rewards
            .task_nodes(task, after)
            .take(limit.saturating_add(1))
            .map(|(n, r)| (n, *r))
            .collect();
        page(items, limit, |(n, _)| *n)
    }

    /// `node`'s stake and pending reward in each of up to `limit` tasks after `after` (tasks
    /// where it has neither are left out, but still count against `limit`).
    pub fn account_page(
        &self,
        node: &Pubkey,
        after: Option<TaskId>,
        limit: usize,
    ) -> Page<(TaskId, Option<StakeRecord>, u64), TaskId> {
        let start = after.map_or(Unbounded, Excluded);
        let mut last = None;
        let mut items = Vec::new();
        let mut more = false;
        for (scanned, (id, _)) in self.tasks.range((start, Unbounded)).enumerate() {
            if scanned == limit {
                more = true;
                break;
            }
            last = Some(*id);
            let stake = self.stakes.get(&(*id, *node)).cloned();
            let reward = self.rewards.get(&(*id, *node)).copied().unwrap_or(0);
            if stake.is_some() || reward > 0 {
                items.push((*id, stake, reward));
            }
        }
        Page {
            items,
            next: if more { last } else { None },
        }
    }

    /// Proofs of a round by nodes after `after`, in node order.
    pub fn submissions_page(
        &self,
        task: &TaskId,
        round: u64,
        after: Option<Pubkey>,
        limit: usize,
    ) -> Page<(Pubkey, SubmissionRecord), Pubkey> {
        node_page(&self.submissions, task, round, after, limit)
    }

    /// Audits of a round against candidates after `after`, in candidate order.
    pub fn audits_page(
        &self,
        task: &TaskId,
        round: u64,
        after: Option<Pubkey>,
        limit: usize,
    ) -> Page<(Pubkey, AuditRecord), Pubkey> {
        node_page(&self.audits, task, round, after, limit)
    }

    /// Up to `limit` uploaded entries of a distribution attempt from entry `offset` on (in
    /// chunk order), and the offset of the next page. Skipping costs one step per chunk.
    pub fn entries_page(
        &self,
        task: &TaskId,
        round: u64,
        attempt: u16,
        offset: u64,
        limit: usize,
    ) -> Page<(Pubkey, u64), u64> {
        let chunks = self
            .chunks
            .range((*task, round, attempt, 0)..=(*task, round, attempt, u32::MAX))
            .map(|(_, c)| c.as_slice());
        entries_of(chunks, offset, limit)
    }

    /// Rounds of `task` the ledger holds a record of, oldest first (a few: rounds are pruned
    /// a few rounds after they settle).
    pub fn round_ids(&self, task: &TaskId) -> Vec<u64> {
        self.rounds
            .range((*task, 0)..=(*task, u64::MAX))
            .map(|((_, r), _)| *r)
            .collect()
    }

    /// A round's view with at most `cap` submissions, audits and attempts (the first by
    /// key), and whether any list was cut.
    pub fn round_view_capped(
        &self,
        task: &TaskId,
        round: u64,
        cap: usize,
    ) -> Option<(RoundView, bool)> {
        let record = self.rounds.get(&(*task, round))?.clone();
        let submissions = self.submissions_page(task, round, None, cap);
        let audits = self.audits_page(task, round, None, cap);
        let mut attempts: Vec<_> = self
            .attempts
            .range((*task, round, 0)..=(*task, round, u16::MAX))
            .take(cap.saturating_add(1))
            .map(|((_, _, i), a)| (*i, a.clone()))
            .collect();
        let cut = submissions.next.is_some() || audits.next.is_some() || attempts.len() > cap;
        attempts.truncate(cap);
        Some((
            RoundView {
                round,
                record,
                submissions: submissions.items,
                audits: audits.items,
                attempts,
            },
            cut,
        ))
    }
}

/// One page of the entries of a list kept in chunks: `limit` from entry `offset` on.
fn entries_of<'a>(
    chunks: impl Iterator<Item = &'a [(Pubkey, u64)]>,
    offset: u64,
    limit: usize,
) -> Page<(Pubkey, u64), u64> {
    let mut skipped = 0u64;
    let mut items = Vec::new();
    let mut more = false;
    for chunk in chunks {
        let len = chunk.len() as u64;
        if skipped + len <= offset {
            skipped += len;
            continue;
        }
        let from = offset.saturating_sub(skipped) as usize;
        skipped += len;
        for e in &chunk[from..] {
            if items.len() == limit {
                more = true;
                break;
            }
            items.push(*e);
        }
        if more {
            break;
        }
    }
    let next = more.then(|| offset + items.len() as u64);
    Page { items, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cut_at_the_limit_and_say_where_to_continue() {
        let e = |i: u8| (Pubkey([i; 32]), u64::from(i));
        // Queries fetch `limit + 1`: the extra one only says that more follow.
        let p = page(vec![0u8, 1], 2, |i| *i);
        assert_eq!((p.items, p.next), (vec![0, 1], None));
        let p = page(vec![0u8, 1, 2], 2, |i| *i);
        assert_eq!((p.items, p.next), (vec![0, 1], Some(1)));

        // Entries in chunks of 2, 3 and 1.
        let chunks = [vec![e(0), e(1)], vec![e(2), e(3), e(4)], vec![e(5)]];
        let get = |offset, limit| entries_of(chunks.iter().map(|c| c.as_slice()), offset, limit);
        let p = get(0, 4);
        assert_eq!(p.items, vec![e(0), e(1), e(2), e(3)]);
        assert_eq!(p.next, Some(4));
        let p = get(4, 4);
        assert_eq!(p.items, vec![e(4), e(5)]);
        assert_eq!(p.next, None);
        let p = get(1, 1);
        assert_eq!((p.items, p.next), (vec![e(1)], Some(2)));
        // Exactly the rest: no next page.
        assert_eq!(get(3, 3).next, None);
        assert!(get(6, 3).items.is_empty());
        assert!(get(u64::MAX, 3).items.is_empty());
    }
}
