//! The adversary switch (`GRADUAL_ADVERSARY`), for test networks: the SDK makes any task
//! misbehave in one of four ways, so that audits, committees and slashing can be watched
//! doing their job.

use gradual_types::Pubkey;

/// How a task misbehaves when `GRADUAL_ADVERSARY` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adversary {
    /// `garbage`: submit 32 random bytes instead of the real proof.
    Garbage,
    /// `false-accuser`: vote `invalid` on every audit.
    FalseAccuser,
    /// `bad-distribution`: give itself more than its share (others get half theirs; the
    /// total stays within the bounty so the ledger accepts the list and the committee must
    /// reject it).
    BadDistribution,
    /// `offline`: never answer submission calls (the node times out: no proof).
    Offline,
}

impl Adversary {
    pub const NAMES: &'static [&'static str] = crate::protocol::ADVERSARY_NAMES;

    pub fn name(self) -> &'static str {
        match self {
            Adversary::Garbage => "garbage",
            Adversary::FalseAccuser => "false-accuser",
            Adversary::BadDistribution => "bad-distribution",
            Adversary::Offline => "offline",
        }
    }

    /// Garbage proof bytes: unpredictable, never a valid proof.
    pub fn garbage(round: u64) -> Vec<u8> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut h = blake3::Hasher::new();
        h.update(b"gradual/adversary-garbage");
        h.update(&nanos.to_le_bytes());
        h.update(&round.to_le_bytes());
        h.update(&std::process::id().to_le_bytes());
        h.finalize().as_bytes().to_vec()
    }

    /// Inflate `me`'s reward in an honest list: everyone else gets half, `me` gets the rest
    /// of `bounty`. A list without `me` is returned as is.
    pub fn inflate(list: Vec<(Pubkey, u64)>, me: &Pubkey, bounty: u64) -> Vec<(Pubkey, u64)> {
        if !list.iter().any(|(n, _)| n == me) {
            return list;
        }
        let others: u64 = list
            .iter()
            .filter(|(n, _)| n != me)
            .map(|(_, r)| r / 2)
            .sum();
        list.into_iter()
            .map(|(n, r)| {
                if n == *me {
                    (n, bounty.saturating_sub(others))
                } else {
                    (n, r / 2)
                }
            })
            .collect()
    }
}

impl std::str::FromStr for Adversary {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "garbage" => Ok(Adversary::Garbage),
            "false-accuser" => Ok(Adversary::FalseAccuser),
            "bad-distribution" => Ok(Adversary::BadDistribution),
            "offline" => Ok(Adversary::Offline),
            _ => Err(format!(
                "expected one of {} (or unset it)",
                Adversary::NAMES.join(", ")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in Adversary::NAMES {
            assert_eq!(n.parse::<Adversary>().unwrap().name(), *n);
        }
        assert!("evil".parse::<Adversary>().unwrap_err().contains("garbage"));
    }

    #[test]
    fn inflate_keeps_total_within_bounty() {
        let k = |i: u8| gradual_types::Keypair::from_seed([i; 32]).pubkey();
        let honest = crate::equal_split(&[k(1), k(2), k(3)], 1000);
        let bad = Adversary::inflate(honest.clone(), &k(2), 1000);
        assert_eq!(bad.iter().map(|(_, r)| r).sum::<u64>(), 1000);
        assert!(bad.iter().find(|(n, _)| *n == k(2)).unwrap().1 > 333);
        assert_ne!(bad, honest);
        assert_eq!(Adversary::inflate(honest.clone(), &k(9), 1000), honest);
        assert_ne!(Adversary::garbage(1), Adversary::garbage(1));
    }
}
