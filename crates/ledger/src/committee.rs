//! Public, integer-only selection functions (SPEC §5–6). Clients call these to reproduce
//! exactly what the ledger decided.

use gradual_types::hash::tags;
use gradual_types::{Hash, Pubkey, TaskId};

/// Seed of the committee for an audit raised against `candidate` (SPEC §5).
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

/// Seed of the committee for distribution attempt `attempt` of `round` (SPEC §6).
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

/// Stakes of the eligible nodes of one task, prepared for drawing committees.
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
        // Excluded intervals as (start, len), ascending.
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
        let left = self.total - skip.iter().map(|(_, l)| l).sum::<u128>();
        if left == 0 {
            return Vec::new();
        }
        // Seats per node index; a map keeps a draw O(K log K), not O(stakers).
        let mut held: std::collections::BTreeMap<usize, u16> = std::collections::BTreeMap::new();
        for j in 0..seats {
            let h = Hash::domain(tags::COMMITTEE_SEAT, &[&seed.0, &j.to_le_bytes()]);
            let mut x = u128::from_le_bytes(h.0[..16].try_into().expect("16 bytes")) % left;
            for (start, len) in &skip {
                if x >= *start {
                    x += len;
                }
            }
            // First node whose cumulative stake exceeds x.
            let i = self.prefix.partition_point(|&p| p <= x);
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

/// Rank distribution candidates (SPEC §6): tier 0 (also submitted in the two previous rounds)
/// before tier 1, each tier by `hash(seed ‖ node)`. Returns the first `take`.
pub fn rank_candidates(seed: &Hash, candidates: &[(Pubkey, u8)], take: usize) -> Vec<Pubkey> {
    let mut keyed: Vec<(u8, Hash, Pubkey)> = candidates
        .iter()
        .map(|(n, tier)| {
            (
                *tier,
                Hash::domain(tags::CANDIDATE_RANK, &[&seed.0, &n.0]),
                *n,
            )
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().take(take).map(|(_, _, n)| n).collect()
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
        let c = vec![(pk(1), 1), (pk(2), 0), (pk(3), 1), (pk(4), 0)];
        let r = rank_candidates(&seed, &c, 4);
        assert_eq!(r.len(), 4);
        assert!(r[..2].contains(&pk(2)) && r[..2].contains(&pk(4)));
        assert_eq!(rank_candidates(&seed, &c, 1), r[..1].to_vec());
    }
}
