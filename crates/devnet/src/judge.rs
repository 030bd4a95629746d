//! The verdict: every settled round paid the eligible honest nodes, the adversary was
//! caught and slashed, no honest node was slashed, and the supply is conserved.

use crate::observe::{pending_by_node, stakes_by_node, RoundObs};
use crate::short;
use crate::Devnet;
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
    pub adversary_slashes: u64,
    pub supply_conserved: bool,
    pub ok: bool,
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
                NodeSummary {
                    index: n.index,
                    node: k.clone(),
                    role: n.role(),
                    stake_roe: stakes.get(&k).map(|s| s.0).unwrap_or(0),
                    balance_roe: balances.get(&k).copied().unwrap_or(0),
                    pending_roe: pending.get(&k).copied().unwrap_or(0),
                    rounds_paid: paid.len() as u64,
                    rewards_roe: paid.iter().sum(),
                    restarts: n.restarts,
                }
            })
            .collect();
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
            supply_conserved,
        })
    }
}
