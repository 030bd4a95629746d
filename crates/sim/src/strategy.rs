//! The in-memory task implementations: what each strategy answers when its node's scheduler
//! asks for a proof, a check or a reward list (SPEC §8 entry points). The scheduler itself is
//! the real [`gradual_node_proto::NodeCore`]; nothing here decides *when* to act.

use crate::config::Strategy;
use gradual_ledger::Ledger;
use gradual_node_proto::equal_split;
use gradual_types::{Hash, Pubkey, TaskId, Verdict};
use std::collections::HashMap;

/// The proof an honest node submits for `round`: it commits to the node's identity
/// (SPEC §4 "hash(result ‖ node ‖ round)"), so a copied proof fails its audit.
pub fn honest_proof(task: &TaskId, node: &Pubkey, round: u64) -> Vec<u8> {
    Hash::domain(
        "gradual-sim/work/v1",
        &[&task.0, &node.0, &round.to_le_bytes()],
    )
    .0
    .to_vec()
}

/// A garbage proof: the right size, but no work behind it.
pub fn garbage_proof(node: &Pubkey, round: u64) -> Vec<u8> {
    Hash::domain("gradual-sim/garbage/v1", &[&node.0, &round.to_le_bytes()])
        .0
        .to_vec()
}

/// A deterministic coin for strategy decisions: `hash(seed ‖ parts) mod m`.
pub fn coin(seed: u64, parts: &[&[u8]], m: u64) -> u64 {
    let mut all: Vec<&[u8]> = Vec::with_capacity(parts.len() + 1);
    let s = seed.to_le_bytes();
    all.push(&s);
    all.extend_from_slice(parts);
    let h = Hash::domain("gradual-sim/coin/v1", &all);
    u64::from_le_bytes(h.0[..8].try_into().expect("8 bytes")) % m.max(1)
}

/// What strategies need to know about the network (shared, read-only).
pub struct Ctx<'a> {
    pub seed: u64,
    pub task: TaskId,
    pub strategy: &'a [Strategy],
    pub index: &'a HashMap<Pubkey, u32>,
}

impl Ctx<'_> {
    pub fn strategy_of(&self, node: &Pubkey) -> Option<Strategy> {
        self.index.get(node).map(|i| self.strategy[*i as usize])
    }
}

/// The proof a node submits; `None` means "not yet" (a copier waits for a peer's proof).
pub fn proof(s: Strategy, ctx: &Ctx, me: &Pubkey, round: u64) -> Option<Vec<u8>> {
    match s {
        Strategy::Garbage | Strategy::Colluder => Some(garbage_proof(me, round)),
        Strategy::Copier => None,
        _ => Some(honest_proof(&ctx.task, me, round)),
    }
}

/// A check of `candidate`'s proof.
pub fn check(s: Strategy, ctx: &Ctx, candidate: &Pubkey, round: u64, value: &[u8]) -> Verdict {
    let exact = || {
        if value == honest_proof(&ctx.task, candidate, round).as_slice() {
            Verdict::Valid
        } else {
            Verdict::Invalid
        }
    };
    match s {
        Strategy::Lazy => Verdict::Valid,
        Strategy::FalseAccuser => Verdict::Invalid,
        Strategy::Colluder => {
            if ctx.strategy_of(candidate) == Some(Strategy::Colluder) {
                Verdict::Valid
            } else {
                Verdict::Invalid
            }
        }
        _ => exact(),
    }
}

/// The list a node submits when selected: `(list, is it the default equal split?)`.
pub fn submit_list(
    s: Strategy,
    ctx: &Ctx,
    me: &Pubkey,
    round: u64,
    submitters: &[Pubkey],
    bounty: u64,
) -> (Vec<(Pubkey, u64)>, bool) {
    let fair = equal_split(submitters, bounty);
    let list = match s {
        Strategy::BadDistributor if submitters.len() > 1 => {
            if coin(ctx.seed, &[&me.0, &round.to_le_bytes(), b"inflate"], 2) == 0 {
                // Inflate: take five shares for itself, the others split what is left.
                let n = submitters.len() as u64;
                let mine = (bounty / n).saturating_mul(5).min(bounty / 2);
                let others = (bounty - mine) / (n - 1);
                submitters
                    .iter()
                    .map(|p| (*p, if p == me { mine } else { others }))
                    .collect()
            } else {
                // Drop about a quarter of the others; the rest (and itself) split the bounty.
                let mut kept: Vec<Pubkey> = submitters
                    .iter()
                    .filter(|p| {
                        *p == me || coin(ctx.seed, &[&me.0, &p.0, &round.to_le_bytes()], 4) != 0
                    })
                    .copied()
                    .collect();
                if kept.len() == submitters.len() {
                    if let Some(victim) = submitters.iter().find(|p| *p != me).copied() {
                        kept.retain(|p| *p != victim);
                    }
                }
                equal_split(&kept, bounty)
            }
        }
        Strategy::Colluder => {
            let ours: Vec<Pubkey> = submitters
                .iter()
                .filter(|p| ctx.strategy_of(p) == Some(Strategy::Colluder))
                .copied()
                .collect();
            if ours.is_empty() {
                fair.clone()
            } else {
                equal_split(&ours, bounty)
            }
        }
        _ => fair.clone(),
    };
    let honest = list == fair;
    (list, honest)
}

/// The list a seated node compares with the uploaded one (the scheduler votes `Valid` iff
/// they are equal). Lazy nodes and colluders (for a colluder's list) echo the upload.
pub fn audit_list(
    s: Strategy,
    ctx: &Ctx,
    ledger: &Ledger,
    round: u64,
    attempt: u16,
    submitters: &[Pubkey],
    bounty: u64,
) -> Vec<(Pubkey, u64)> {
    let uploaded = || ledger.distribution_list(&ctx.task, round, attempt);
    match s {
        Strategy::Lazy => uploaded(),
        Strategy::Colluder => {
            let by_colluder = ledger
                .attempt(&ctx.task, round, attempt)
                .is_some_and(|a| ctx.strategy_of(&a.submitter) == Some(Strategy::Colluder));
            if by_colluder {
                uploaded()
            } else {
                Vec::new()
            }
        }
        _ => equal_split(submitters, bounty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk(i: u8) -> Pubkey {
        Pubkey([i; 32])
    }

    #[test]
    fn bad_distributor_lists_differ_and_stay_within_bounty() {
        let subs: Vec<Pubkey> = (1..=10).map(pk).collect();
        let strategy = vec![Strategy::Honest; 10];
        let index: HashMap<Pubkey, u32> = subs
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, i as u32))
            .collect();
        let ctx = Ctx {
            seed: 1,
            task: Hash([9; 32]),
            strategy: &strategy,
            index: &index,
        };
        for round in 0..20 {
            let (list, honest) = submit_list(
                Strategy::BadDistributor,
                &ctx,
                &pk(3),
                round,
                &subs,
                1_000_000,
            );
            assert!(
                !honest,
                "round {round}: a bad distributor's list equals the fair one"
            );
            assert!(list.iter().map(|(_, r)| r).sum::<u64>() <= 1_000_000);
            assert!(list.iter().any(|(p, _)| *p == pk(3)));
            let (fair, honest) =
                submit_list(Strategy::Honest, &ctx, &pk(3), round, &subs, 1_000_000);
            assert!(honest);
            assert_eq!(fair, equal_split(&subs, 1_000_000));
        }
    }

    #[test]
    fn checks_follow_the_strategy() {
        let strategy = vec![Strategy::Honest, Strategy::Colluder];
        let index: HashMap<Pubkey, u32> = [(pk(1), 0), (pk(2), 1)].into_iter().collect();
        let task = Hash([9; 32]);
        let ctx = Ctx {
            seed: 1,
            task,
            strategy: &strategy,
            index: &index,
        };
        let good = honest_proof(&task, &pk(1), 4);
        let junk = garbage_proof(&pk(2), 4);
        assert_eq!(
            check(Strategy::Honest, &ctx, &pk(1), 4, &good),
            Verdict::Valid
        );
        assert_eq!(
            check(Strategy::Honest, &ctx, &pk(2), 4, &junk),
            Verdict::Invalid
        );
        assert_eq!(
            check(Strategy::Honest, &ctx, &pk(2), 4, &good),
            Verdict::Invalid,
            "a copy fails"
        );
        assert_eq!(
            check(Strategy::Lazy, &ctx, &pk(2), 4, &junk),
            Verdict::Valid
        );
        assert_eq!(
            check(Strategy::FalseAccuser, &ctx, &pk(1), 4, &good),
            Verdict::Invalid
        );
        assert_eq!(
            check(Strategy::Colluder, &ctx, &pk(2), 4, &junk),
            Verdict::Valid
        );
        assert_eq!(
            check(Strategy::Colluder, &ctx, &pk(1), 4, &good),
            Verdict::Invalid
        );
    }
}
