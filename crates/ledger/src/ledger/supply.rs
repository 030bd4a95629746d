//! Invariants checked after every block in debug builds and tests (SPEC §1: supply changes
//! only by fees burned and faucet mints).

use super::*;

impl Ledger {
    // ----- invariants ------------------------------------------------------------------------

    /// Sum of every ROE held anywhere: balances, stakes, bounties, pending rewards.
    pub fn total_held_roe(&self) -> u128 {
        let balances: u128 = self.accounts.iter().map(|(_, b)| u128::from(*b)).sum();
        let stakes: u128 = self.stakes.iter().map(|(_, s)| u128::from(s.amount)).sum();
        let bounties: u128 = self
            .tasks
            .iter()
            .map(|(_, t)| u128::from(t.total_bounty))
            .sum();
        let rewards: u128 = self.rewards.iter().map(|(_, r)| u128::from(*r)).sum();
        balances + stakes + bounties + rewards
    }

    /// SPEC §1: supply changes only by fees burned and faucet mints.
    pub fn assert_supply_conserved(&self) {
        let m = self.meta();
        let expected = u128::from(m.minted_roe) - u128::from(m.burned_roe);
        assert_eq!(
            self.total_held_roe(),
            expected,
            "supply not conserved at slot {}",
            m.slot
        );
        for (id, t) in self.tasks.iter() {
            assert!(
                t.reserved_bounty <= t.total_bounty,
                "task {id} reserves more than its bounty"
            );
        }
        let mut counted: BTreeMap<TaskId, (u64, u64)> = BTreeMap::new();
        let timer = self.queue.iter().map(|((_, t, w), _)| (t, w));
        let ready = self.ready.iter().map(|((_, t, _, w), _)| (t, w));
        for (task, work) in timer.chain(ready) {
            if let Some(seats) = self.draw_seats(task, work) {
                let c = counted.entry(*task).or_default();
                *c = (c.0 + 1, c.1 + seats);
            }
        }
        for (id, t) in self.tasks.iter() {
            assert_eq!(
                (t.queued_draws, t.queued_draw_seats),
                counted.get(id).copied().unwrap_or_default(),
                "task {id}: queued draw counters disagree with the queue"
            );
        }
    }
}
