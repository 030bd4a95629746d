//! SPEC §6's default distribution policy, here so that the node scheduler and the task SDK
//! (which offers it to task writers) share it without the SDK depending on the scheduler.

use crate::Pubkey;

/// `bounty` split equally among `submitters` (floor division; the remainder stays in the
/// task), sorted by node.
pub fn equal_split(submitters: &[Pubkey], bounty: u64) -> Vec<(Pubkey, u64)> {
    if submitters.is_empty() {
        return Vec::new();
    }
    let share = bounty / submitters.len() as u64;
    let mut list: Vec<(Pubkey, u64)> = submitters.iter().map(|n| (*n, share)).collect();
    list.sort_unstable_by_key(|(n, _)| *n);
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_shares_sorted_by_node() {
        let a = Pubkey([2; 32]);
        let b = Pubkey([1; 32]);
        assert_eq!(equal_split(&[a, b], 7), vec![(b, 3), (a, 3)]);
        assert!(equal_split(&[], 7).is_empty());
    }
}
