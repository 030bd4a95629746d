//! The verdict: every settled round paid the eligible honest nodes, the adversary was
//! caught and slashed, no honest node was slashed, and the supply is conserved.

use crate::config::NODE_AIRDROP_KOII;
use crate::observe::{pending_by_node, stakes_by_node, RoundObs};
use crate::short;
use crate::Devnet;
use gradual_types::constants::ROE_PER_KOII;
use gradual_types::{format_koii, Pubkey};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The verdict of a devnet run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub task: String,
    pub rounds: Vec<RoundObs>,
    pub nodes: Vec<NodeSummary>,
    pub settled_rounds: u64,
    /// Each failure in words; empty when the run passed.
    pub failures: Vec<String>,
    /// Slashes of the adversary in settled rounds (the verdict's count).
    pub adversary_slashes: u64,
    /// Slashes of the adversary in rounds not settled yet (the live view counts them too).
    pub adversary_slashes_unsettled: u64,
    pub supply_conserved: bool,
    pub ok: bool,
    /// The bounty the manager funded the task with.
    pub bounty_funded_roe: u64,
    /// Paid out of the bounty to nodes (paid rounds' lists).
    pub bounty_paid_roe: u64,
    /// Left in the bounty (`bounty_reserved_roe` of it promised to a list under audit).
    pub bounty_left_roe: u64,
    pub bounty_reserved_roe: u64,
    /// Taken from stakes by every slash observed (settled rounds or not).
    pub slashed_roe: u64,
    /// Of that, credited to accusers and to voters; the rest burned.
    pub accuser_shares_roe: u64,
    pub voter_shares_roe: u64,
    pub burned_roe: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeSummary {
    pub index: usize,
    pub node: String,
    pub role: String,
    pub stake_roe: u64,
    pub balance_roe: u64,
    pub pending_roe: u64,
    pub rounds_paid: u64,
    pub rewards_roe: u64,
    pub restarts: u32,
    /// Airdropped to the node at the start.
    pub airdrop_roe: u64,
    /// Staked beyond the first stake: the node's auto-stake topping its stake back up after
    /// slashes (`stake + slashed = first stake + restaked`).
    pub restaked_roe: u64,
    /// Taken from its stake, in all, and how many times (settled rounds, and rounds not
    /// settled yet: the verdict counts only the former).
    pub slashed_roe: u64,
    pub slashes: u64,
    pub slashes_unsettled: u64,
    /// Its shares of others' slashes: as the accuser of an upheld audit (or the first
    /// `Invalid` voter on a rejected list), and as a voter on the winning side.
    pub accuser_shares_roe: u64,
    pub voter_shares_roe: u64,
}

impl NodeSummary {
    /// `balance = airdrop − staked + claimed`, where staked is the first stake plus
    /// `restaked_roe`, and claimed is `rewards + shares − pending`: whether this node's
    /// numbers add up (they do unless something the devnet does not observe moved funds).
    pub fn accounts_add_up(&self, first_stake_roe: u64) -> bool {
        let staked = if self.stake_roe + self.slashed_roe == 0 {
            0
        } else {
            first_stake_roe + self.restaked_roe
        };
        let credited = self.rewards_roe + self.accuser_shares_roe + self.voter_shares_roe;
        let has = u128::from(self.balance_roe) + u128::from(staked) + u128::from(self.pending_roe);
        has == u128::from(self.airdrop_roe) + u128::from(credited)
    }
}

impl Devnet {
    /// Judge the run so far.
    pub async fn summary(&mut self) -> Result<Summary, String> {
        let t = self.poll().await?;
        let clock = gradual_client::task_clock(&t);
        let stakes = stakes_by_node(&t);
        let pending = pending_by_node(&t);
        let (mut honest, mut cheaters) = (BTreeSet::new(), BTreeSet::new());
        for n in &self.nodes {
            let side = if n.adversary.is_none() {
                &mut honest
            } else {
                &mut cheaters
            };
            side.insert(n.pubkey().to_base58());
        }
        let mut failures = Vec::new();
        let mut adversary_slashes = 0;
        for r in self.rounds.values().filter(|r| r.settled) {
            let start = clock.start(r.round);
            // Honest nodes that could submit for this round (staked before it started).
            let eligible: Vec<&String> = honest
                .iter()
                .filter(|n| stakes.get(*n).is_some_and(|(_, at)| *at < start))
                .collect();
            match &r.paid {
                Some(list) => {
                    for n in &eligible {
                        if !list.iter().any(|(p, x)| p == *n && *x > 0) {
                            failures.push(format!(
                                "round {}: honest node {} was not paid",
                                r.round,
                                short(n)
                            ));
                        }
                    }
                }
                None if !eligible.is_empty() => failures.push(format!(
                    "round {}: settled as {} with honest nodes eligible",
                    r.round, r.status
                )),
                None => {}
            }
            // A proof upheld invalid, a refuted accusation, a rejected or missed list: each
            // slash must hit the adversary.
            let upheld = r.upheld.iter().map(|n| (n, "was wrongly slashed"));
            let others = (r.refuted_accusers.iter())
                .chain(&r.rejected_lists)
                .chain(&r.missed_lists)
                .map(|n| (n, "was slashed"));
            for (n, what) in upheld.chain(others) {
                if honest.contains(n) {
                    failures.push(format!(
                        "round {}: honest node {} {what}",
                        r.round,
                        short(n)
                    ));
                } else {
                    adversary_slashes += 1;
                }
            }
        }
        for n in &honest {
            if let Some((amount, _)) = stakes.get(n) {
                if *amount < self.stake_roe {
                    failures.push(format!(
                        "honest node {} lost stake: {} left of {}",
                        short(n),
                        format_koii(*amount),
                        format_koii(self.stake_roe)
                    ));
                }
            }
        }
        if self.cfg.adversary.as_deref() == Some("garbage") {
            let cheated = self
                .rounds
                .values()
                .any(|r| r.settled && r.submitters.iter().any(|s| cheaters.contains(s)));
            if cheated && adversary_slashes == 0 {
                failures.push("the garbage node submitted proofs but was never slashed".into());
            }
            for r in self.rounds.values().filter(|r| r.settled) {
                if r.paid
                    .as_ref()
                    .is_some_and(|l| l.iter().any(|(p, x)| cheaters.contains(p) && *x > 0))
                {
                    failures.push(format!("round {}: the garbage node was paid", r.round));
                }
            }
        }
        // Supply: everything minted is in balances, stakes, the bounty or pending rewards.
        let mut accounts: Vec<Pubkey> = self.nodes.iter().map(|n| n.pubkey()).collect();
        accounts.push(self.manager.pubkey());
        accounts.push(self.faucet.pubkey());
        let mut balances = BTreeMap::new();
        let mut total = t.total_bounty;
        for a in &accounts {
            let b = self
                .client
                .get_balance(a)
                .await
                .map_err(|e| e.to_string())?;
            balances.insert(a.to_base58(), b);
            total += b;
        }
        total += stakes.values().map(|(a, _)| a).sum::<u64>() + pending.values().sum::<u64>();
        // Slash remainders are burned (SPEC §5 [v2]); fees are 0 on the devnet.
        let burned: u64 = self.rounds.values().map(|r| r.burned_roe).sum();
        let burn_known = self.rounds.values().all(|r| !r.burn_unknown);
        let supply_conserved = if burn_known {
            total + burned == self.minted_roe
        } else {
            total + burned <= self.minted_roe
        };
        if !supply_conserved {
            failures.push(format!(
                "supply not conserved: {} ROE accounted for and {} burned, {} minted",
                total, burned, self.minted_roe
            ));
        }
        let nodes = self
            .nodes
            .iter()
            .map(|n| {
                let k = n.pubkey().to_base58();
                let paid = self.payouts(&k);
                let stake_roe = stakes.get(&k).map(|s| s.0).unwrap_or(0);
                let (mut slashed_roe, mut slashes, mut slashes_unsettled) = (0, 0, 0);
                let (mut accuser_shares_roe, mut voter_shares_roe) = (0, 0);
                for r in self.rounds.values() {
                    for x in r.slashes.iter().filter(|x| x.node == k) {
                        slashed_roe += x.roe;
                        slashes += 1;
                        slashes_unsettled += u64::from(!r.settled);
                    }
                    for x in r.shares.iter().filter(|x| x.node == k) {
                        match x.kind.as_str() {
                            "accuser" => accuser_shares_roe += x.roe,
                            _ => voter_shares_roe += x.roe,
                        }
                    }
                }
                let staked = stake_roe + slashed_roe;
                NodeSummary {
                    index: n.index,
                    node: k.clone(),
                    role: n.role(),
                    stake_roe,
                    balance_roe: balances.get(&k).copied().unwrap_or(0),
                    pending_roe: pending.get(&k).copied().unwrap_or(0),
                    rounds_paid: paid.len() as u64,
                    rewards_roe: paid.iter().sum(),
                    restarts: n.restarts,
                    airdrop_roe: NODE_AIRDROP_KOII * ROE_PER_KOII,
                    restaked_roe: staked.saturating_sub(self.stake_roe),
                    slashed_roe,
                    slashes,
                    slashes_unsettled,
                    accuser_shares_roe,
                    voter_shares_roe,
                }
            })
            .collect::<Vec<NodeSummary>>();
        let adversary_slashes_unsettled = (self.rounds.values())
            .filter(|r| !r.settled)
            .flat_map(|r| &r.slashes)
            .filter(|x| cheaters.contains(&x.node))
            .count() as u64;
        let all_slashes = || self.rounds.values().flat_map(|r| &r.slashes);
        let all_shares = |kind: &str| {
            (self.rounds.values())
                .flat_map(|r| &r.shares)
                .filter(|x| x.kind == kind)
                .map(|x| x.roe)
                .sum::<u64>()
        };
        let settled_rounds = self.settled();
        if settled_rounds == 0 {
            failures.push("no round settled; run longer (--rounds) or check the node logs".into());
        }
        Ok(Summary {
            task: self.task.to_base58(),
            rounds: self.rounds.values().cloned().collect(),
            nodes,
            settled_rounds,
            ok: failures.is_empty(),
            failures,
            adversary_slashes,
            adversary_slashes_unsettled,
            supply_conserved,
            bounty_funded_roe: self.bounty_roe,
            bounty_paid_roe: t.paid_total,
            bounty_left_roe: t.total_bounty,
            bounty_reserved_roe: t.reserved_bounty,
            slashed_roe: all_slashes().map(|x| x.roe).sum(),
            accuser_shares_roe: all_shares("accuser"),
            voter_shares_roe: all_shares("voter"),
            burned_roe: burned,
        })
    }
}
