//! Public, integer-only selection functions (SPEC §5–6). Clients call these to reproduce
//! exactly what the ledger decided.

use crate::state::{Committee, Tally};
use gradual_types::hash::tags;
use gradual_types::{Hash, Pubkey, TaskId, Verdict};

/// Seed of the committee for an audit raised against `candidate` (SPEC §5): from the
/// randomness of the block that contains the trigger.
pub fn audit_seed(trigger_block: &Hash, task: &TaskId, round: u64, candidate: &Pubkey) -> Hash {
    Hash::domain(
        tags::AUDIT_SEED,
        &[
            &trigger_block.0,
            &task.0,
            &round.to_le_bytes(),
            &candidate.0,
        ],
    )
}

/// Seed of the committee for distribution attempt `attempt` of `round` (SPEC §6): from the
/// randomness of the block that contains the submission.
pub fn distribution_seed(submit_block: &Hash, task: &TaskId, round: u64, attempt: u16) -> Hash {
    Hash::domain(
        tags::DISTRIBUTION_SEED,
        &[
            &submit_block.0,
            &task.0,
            &round.to_le_bytes(),
            &attempt.to_le_bytes(),
        ],
    )
}

/// Stakes of the eligible nodes of one task, prepared for drawing committees: the nodes in
/// key order with prefix sums of their stakes, so a seat is a binary search (O(log n)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StakePool {
    nodes: Vec<(Pubkey, u64)>,
    /// `prefix[i]` = total stake of `nodes[..=i]`.
    prefix: Vec<u128>,
    total: u128,
}

impl StakePool {
    /// Nodes in any order; zero stakes are ignored.
    pub fn new(pool: &[(Pubkey, u64)]) -> StakePool {
        let mut nodes: Vec<(Pubkey, u64)> = pool.iter().copied().filter(|(_, s)| *s > 0).collect();
        nodes.sort_unstable_by_key(|(n, _)| *n);
        let mut prefix = Vec::with_capacity(nodes.len());
        let mut total: u128 = 0;
        for (_, stake) in &nodes {
            total += u128::from(*stake);
            prefix.push(total);
        }
        StakePool {
            nodes,
            prefix,
            total,
        }
    }

    /// Draw `seats` seats stake-weighted, with replacement, from the pool minus `exclude`.
    ///
    /// Seat `j` takes `x = u128(hash(seed ‖ j)[..16]) mod T`, where `T` is the stake left
    /// after exclusion, and walks the nodes in key order with the excluded nodes' stake
    /// intervals skipped. Returns `(node, seats held)` sorted by node; empty if nothing is
    /// left to draw from.
    pub fn draw(&self, seed: &Hash, seats: u16, exclude: &[Pubkey]) -> Vec<(Pubkey, u16)> {
        // Seats per node index; a map keeps a draw O(K log K), not O(stakers).
        let mut held: std::collections::BTreeMap<usize, u16> = std::collections::BTreeMap::new();
        for j in 0..seats {
            let h = Hash::domain(tags::COMMITTEE_SEAT, &[&seed.0, &j.to_le_bytes()]);
            let Some(i) = self.pick(&h, exclude) else {
                return Vec::new();
            };
            *held.entry(i).or_default() += 1;
        }
        // Node indices ascend with node keys, so the result is sorted by node.
        held.into_iter()
            .map(|(i, h)| (self.nodes[i].0, h))
            .collect()
    }
}

/// Draw a committee (SPEC §5): `seats` seats from `pool` without the `exclude`d nodes.
/// Anyone holding the same stakes reproduces the ledger's committee with this function.
pub fn draw_committee(
    seed: &Hash,
    pool: &[(Pubkey, u64)],
    exclude: &[Pubkey],
    seats: u16,
) -> Vec<(Pubkey, u16)> {
    StakePool::new(pool).draw(seed, seats, exclude)
}

/// Rank distribution candidates (SPEC §6 [v2]): tier 0 (also submitted in the two previous
/// rounds) before tier 1; within a tier a stake-weighted order without replacement, so
/// splitting stake over many Sybil nodes buys no extra turns. Returns the first `take`.
///
/// Pick `j` (counted across tiers) takes `x = u128(hash(seed ‖ j)[..16]) mod W`, where `W` is
/// the weight of the tier's candidates not yet picked, and walks them in key order with the
/// picked ones' intervals skipped (as [`StakePool::draw`] does with exclusions).
/// Candidates with zero weight are never picked.
pub fn rank_candidates(seed: &Hash, candidates: &[(Pubkey, u8, u64)], take: usize) -> Vec<Pubkey> {
    let mut out = Vec::with_capacity(take.min(candidates.len()));
    let mut pick: u64 = 0;
    for tier in [0u8, 1] {
        let mut nodes: Vec<(Pubkey, u64)> = candidates
            .iter()
            .filter(|(_, t, w)| *t == tier && *w > 0)
            .map(|(n, _, w)| (*n, *w))
            .collect();
        nodes.sort_unstable();
        nodes.dedup_by_key(|(n, _)| *n);
        let pool = StakePool::new(&nodes);
        let mut taken: Vec<Pubkey> = Vec::new();
        while out.len() < take && taken.len() < pool.nodes.len() {
            let h = Hash::domain(tags::CANDIDATE_RANK, &[&seed.0, &pick.to_le_bytes()]);
            pick += 1;
            let i = pool
                .pick(&h, &taken)
                .expect("a node is left while fewer were taken than exist");
            let n = pool.nodes[i].0;
            taken.push(n);
            out.push(n);
        }
    }
    out
}

impl StakePool {
    /// One stake-weighted pick from the pool minus `exclude`: the index of the node whose
    /// interval holds `u128(h[..16]) mod T`, `T` the stake left. `None` if nothing is left.
    fn pick(&self, h: &Hash, exclude: &[Pubkey]) -> Option<usize> {
        let skip = self.skipped(exclude);
        let left = self.total - skip.iter().map(|(_, l)| l).sum::<u128>();
        if left == 0 {
            return None;
        }
        let mut x = u128::from_le_bytes(h.0[..16].try_into().expect("16 bytes")) % left;
        for (start, len) in &skip {
            if x >= *start {
                x += len;
            }
        }
        Some(self.prefix.partition_point(|&p| p <= x))
    }

    /// Excluded nodes' stake intervals as `(start, len)`, ascending.
    fn skipped(&self, exclude: &[Pubkey]) -> Vec<(u128, u128)> {
        let mut skip: Vec<(u128, u128)> = exclude
            .iter()
            .filter_map(|e| self.nodes.binary_search_by(|(n, _)| n.cmp(e)).ok())
            .map(|i| {
                (
                    self.prefix[i] - u128::from(self.nodes[i].1),
                    u128::from(self.nodes[i].1),
                )
            })
            .collect();
        skip.sort_unstable();
        skip.dedup();
        skip
    }
}

/// The committee drawn with `seed`: `size` seats, or none (size 0) when nobody was eligible.
pub(crate) fn committee_of(seed: Hash, size: u16, seats: Vec<(Pubkey, u16)>) -> Committee {
    let drawn = if seats.is_empty() { 0 } else { size };
    Committee {
        seed,
        size: drawn,
        seats,
    }
}

/// Seats voting each way, and the committee size `K` (0 if no committee).
pub fn tally(committee: &Option<Committee>, votes: &[(Pubkey, Verdict)]) -> (Tally, u16) {
    let Some(c) = committee else {
        return (Tally::default(), 0);
    };
    let mut t = Tally::default();
    for (node, v) in votes {
        let s = u32::from(c.seats_of(node));
        match v {
            Verdict::Valid => t.valid += s,
            Verdict::Invalid => t.invalid += s,
            Verdict::Abstain => t.abstain += s,
        }
    }
    (t, c.size)
}

/// The seat holders who voted `want`, with their seats.
pub(crate) fn seats_voting(
    committee: &Option<Committee>,
    votes: &[(Pubkey, Verdict)],
    want: Verdict,
) -> Vec<(Pubkey, u16)> {
    let Some(c) = committee else {
        return Vec::new();
    };
    votes
        .iter()
        .filter(|(_, v)| *v == want)
        .map(|(n, _)| (*n, c.seats_of(n)))
        .filter(|(_, s)| *s > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk(i: u8) -> Pubkey {
        Pubkey([i; 32])
    }

    #[test]
    fn committee_is_reproducible_and_stake_weighted() {
        let pool = vec![(pk(1), 1), (pk(2), 0), (pk(3), 1_000_000)];
        let seed = Hash([5; 32]);
        let a = draw_committee(&seed, &pool, &[], 64);
        let mut shuffled = pool.clone();
        shuffled.reverse();
        assert_eq!(
            a,
            draw_committee(&seed, &shuffled, &[], 64),
            "order of the pool does not matter"
        );
        assert_eq!(a.iter().map(|(_, s)| u32::from(*s)).sum::<u32>(), 64);
        assert!(
            a.iter().all(|(n, _)| *n != pk(2)),
            "zero stake holds no seat"
        );
        let heavy = a.iter().find(|(n, _)| *n == pk(3)).map(|x| x.1).unwrap();
        assert!(
            heavy >= 60,
            "a million-to-one stake holds almost every seat, got {heavy}"
        );
        assert!(draw_committee(&seed, &[], &[], 8).is_empty());
        assert_ne!(
            a,
            draw_committee(&Hash([6; 32]), &[(pk(1), 1), (pk(3), 1)], &[], 64)
        );
    }

    #[test]
    fn exclusion_matches_a_pool_without_the_node() {
        let pool: Vec<(Pubkey, u64)> = (1..=20).map(|i| (pk(i), u64::from(i) * 7)).collect();
        for s in 0..20u8 {
            let seed = Hash([s; 32]);
            let ex = [pk(3), pk(11)];
            let a = draw_committee(&seed, &pool, &ex, 32);
            assert!(a.iter().all(|(n, _)| !ex.contains(n)));
            assert_eq!(a.iter().map(|(_, s)| u32::from(*s)).sum::<u32>(), 32);
        }
        assert!(draw_committee(&Hash::ZERO, &[(pk(1), 5)], &[pk(1)], 8).is_empty());
    }

    #[test]
    fn ranking_prefers_tier_zero() {
        let seed = Hash([1; 32]);
        let c = vec![(pk(1), 1, 5), (pk(2), 0, 5), (pk(3), 1, 5), (pk(4), 0, 5)];
        let r = rank_candidates(&seed, &c, 4);
        assert_eq!(r.len(), 4);
        assert!(r[..2].contains(&pk(2)) && r[..2].contains(&pk(4)));
        assert_eq!(rank_candidates(&seed, &c, 1), r[..1].to_vec());
        let mut sorted = r.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 4, "without replacement");
    }

    /// SPEC §6 [v2]: splitting stake over Sybils buys no extra turns. A node with half the
    /// stake of the tier is ranked first about half the time, whether its rivals' stake is
    /// one node or fifty.
    #[test]
    fn ranking_is_stake_weighted_so_sybils_buy_nothing() {
        let honest = pk(200);
        let trials = 2_000u32;
        let firsts = |rivals: &[(Pubkey, u8, u64)]| -> u32 {
            (0..trials)
                .filter(|t| {
                    let seed = Hash::domain("test", &[&t.to_le_bytes()]);
                    let mut c = rivals.to_vec();
                    c.push((honest, 0, 5_000));
                    rank_candidates(&seed, &c, 1)[0] == honest
                })
                .count() as u32
        };
        let one_rival = firsts(&[(pk(1), 0, 5_000)]);
        let sybils: Vec<_> = (1..=50).map(|i| (pk(i), 0u8, 100u64)).collect();
        let fifty = firsts(&sybils);
        // Binomial(2000, 1/2): sd ≈ 22; 5 sd either side.
        for got in [one_rival, fifty] {
            assert!((890..=1110).contains(&got), "honest first {got}/{trials}");
        }
        assert!(rank_candidates(&Hash::ZERO, &[(pk(1), 0, 0)], 3).is_empty());
    }
}
