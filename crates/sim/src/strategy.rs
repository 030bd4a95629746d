//! The in-memory task implementations: what each strategy answers when its node's scheduler
//! asks for a proof, a check or a reward list (SPEC §8 entry points). The scheduler itself is
//! the real [`gradual_node_proto::NodeCore`]; nothing here decides *when* to act.

use crate::config::Strategy;
use gradual_ledger::{audit_seed, Ledger, StakePool};
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
        Strategy::Garbage | Strategy::Colluder | Strategy::Grinder => {
            Some(garbage_proof(me, round))
        }
        Strategy::Copier => None,
        _ => Some(honest_proof(&ctx.task, me, round)),
    }
}

/// The round from which a `time-bombed` task calls every proof `Invalid`.
pub const TIME_BOMB_ROUND: u64 = 3;

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
        Strategy::FalseAccuser | Strategy::LateAccuser | Strategy::RaiseFlood => Verdict::Invalid,
        Strategy::TimeBombed if round >= TIME_BOMB_ROUND => Verdict::Invalid,
        Strategy::Colluder | Strategy::Grinder => {
            if ctx.strategy_of(candidate) == Some(s) {
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
            bad_list(ctx, me, round, submitters, bounty)
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

/// A bad distribution function: inflate its own reward or drop about a quarter of the
/// others (a coin per node and round picks which).
fn bad_list(
    ctx: &Ctx,
    me: &Pubkey,
    round: u64,
    submitters: &[Pubkey],
    bounty: u64,
) -> Vec<(Pubkey, u64)> {
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
            .filter(|p| *p == me || coin(ctx.seed, &[&me.0, &p.0, &round.to_le_bytes()], 4) != 0)
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

/// The list a seated node compares with the uploaded one (the scheduler votes `Valid` iff
/// they are equal). Lazy nodes and colluders (for a colluder's list) echo the upload. A bad
/// distributor runs its own (bad) distribution function, so it votes `Invalid` on every
/// honest list (and on every other bad one).
#[allow(clippy::too_many_arguments)]
pub fn audit_list(
    s: Strategy,
    ctx: &Ctx,
    me: &Pubkey,
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
        Strategy::BadDistributor if submitters.len() > 1 => {
            bad_list(ctx, me, round, submitters, bounty)
        }
        _ => equal_split(submitters, bounty),
    }
}

/// What a grinder learned from one candidate: how many raise variants it evaluated, how
/// many distinct committees they predicted, and the grinder seats of that prediction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grind {
    pub tries: u64,
    pub distinct: u64,
    pub predicted_seats: u64,
}

/// A grinder's check of a non-grinder candidate (SPEC §5 [v2] says this cannot work; this is
/// the attempt). The committee seed is `audit_seed(randomness of the block that will contain
/// the raise, task, round, candidate)`. The grinder cannot know that block's VRF output, so
/// its best guess is the randomness of the head block it sees. It evaluates `tries` variants
/// of its raise transaction (another `recent_slot`, fee, batch order...): none of those bytes
/// enters the seed, so every variant predicts the same committee (`distinct` = 1 per
/// candidate). It raises (`Invalid`) iff the predicted committee gives grinders more seats
/// than their share of the pool would on average, else it lets the candidate pass (`Valid`).
pub fn grind_check(
    ctx: &Ctx,
    head_randomness: &Hash,
    pool: &GrindPool,
    me: &Pubkey,
    candidate: &Pubkey,
    round: u64,
    tries: u32,
) -> (Verdict, Grind) {
    let mut seeds: Vec<Hash> = (0..tries)
        .map(|_variant| audit_seed(head_randomness, &ctx.task, round, candidate))
        .collect();
    seeds.sort_unstable();
    seeds.dedup();
    let seed = seeds[0];
    let seats = pool.pool.draw(&seed, pool.seats, &[*me, *candidate]);
    let ours: u64 = seats
        .iter()
        .filter(|(n, _)| ctx.strategy_of(n) == Some(Strategy::Grinder))
        .map(|(_, k)| u64::from(*k))
        .sum();
    // Raise iff ours/K > grinder share of the pool, in integers.
    let raise = u128::from(ours) * pool.total > u128::from(pool.seats) * pool.grinder_weight;
    let g = Grind {
        tries: u64::from(tries),
        distinct: seeds.len() as u64,
        predicted_seats: if raise { ours } else { 0 },
    };
    (
        if raise {
            Verdict::Invalid
        } else {
            Verdict::Valid
        },
        g,
    )
}

/// The eligible stake a grinder predicts committees from (built once per slot).
pub struct GrindPool {
    pub pool: StakePool,
    pub seats: u16,
    pub total: u128,
    pub grinder_weight: u128,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk(i: u8) -> Pubkey {
        Pubkey([i; 32])
    }

    /// Ten honest submitters, their strategies and their index.
    fn ten_honest() -> (Vec<Pubkey>, Vec<Strategy>, HashMap<Pubkey, u32>) {
        let subs: Vec<Pubkey> = (1..=10).map(pk).collect();
        let index = subs
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, i as u32))
            .collect();
        (subs, vec![Strategy::Honest; 10], index)
    }

    /// The context of task `[9; 32]` under seed 1.
    fn ctx<'a>(strategy: &'a [Strategy], index: &'a HashMap<Pubkey, u32>) -> Ctx<'a> {
        Ctx {
            seed: 1,
            task: Hash([9; 32]),
            strategy,
            index,
        }
    }

    #[test]
    fn bad_distributor_lists_differ_and_stay_within_bounty() {
        let (subs, strategy, index) = ten_honest();
        let ctx = ctx(&strategy, &index);
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
    fn a_bad_distributor_audits_with_its_own_bad_function() {
        let (subs, strategy, index) = ten_honest();
        let ctx = ctx(&strategy, &index);
        let ledger = Ledger::new(gradual_types::Genesis::default());
        let fair = equal_split(&subs, 1_000_000);
        for round in 0..20 {
            let list = |s| audit_list(s, &ctx, &pk(4), &ledger, round, 0, &subs, 1_000_000);
            assert_ne!(
                list(Strategy::BadDistributor),
                fair,
                "round {round}: it would vote Valid on an honest list"
            );
            assert_eq!(list(Strategy::Honest), fair);
        }
    }

    #[test]
    fn checks_follow_the_strategy() {
        let strategy = vec![Strategy::Honest, Strategy::Colluder];
        let index: HashMap<Pubkey, u32> = [(pk(1), 0), (pk(2), 1)].into_iter().collect();
        let ctx = ctx(&strategy, &index);
        let task = ctx.task;
        let good = honest_proof(&task, &pk(1), 4);
        let junk = garbage_proof(&pk(2), 4);
        // (checker, candidate, its proof, verdict)
        let cases = [
            (Strategy::Honest, 1, &good, Verdict::Valid),
            (Strategy::Honest, 2, &junk, Verdict::Invalid),
            (Strategy::Honest, 2, &good, Verdict::Invalid), // a copy fails
            (Strategy::Lazy, 2, &junk, Verdict::Valid),
            (Strategy::FalseAccuser, 1, &good, Verdict::Invalid),
            (Strategy::Colluder, 2, &junk, Verdict::Valid),
            (Strategy::Colluder, 1, &good, Verdict::Invalid),
        ];
        for (checker, who, proof, verdict) in cases {
            assert_eq!(
                check(checker, &ctx, &pk(who), 4, proof),
                verdict,
                "{checker} checking node {who}"
            );
        }
    }
}
