//! 32-byte blake3 digests and the domain tags that keep each use of a hash apart.

use crate::keys::{decode_fixed, ParseKeyError};
use borsh::{BorshDeserialize, BorshSerialize};
use std::fmt;
use std::str::FromStr;

/// A blake3 digest. Displayed as base58, like keys.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    pub const ZERO: Hash = Hash([0; 32]);

    /// Hash of `parts` under a domain tag; each part is length-prefixed so that
    /// `("ab","c")` and `("a","bc")` never collide.
    pub fn domain(tag: &str, parts: &[&[u8]]) -> Hash {
        let mut h = blake3::Hasher::new();
        h.update(&(tag.len() as u32).to_le_bytes());
        h.update(tag.as_bytes());
        for p in parts {
            h.update(&(p.len() as u64).to_le_bytes());
            h.update(p);
        }
        Hash(*h.finalize().as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn from_base58(s: &str) -> Result<Hash, crate::ParseKeyError> {
        s.parse()
    }
}

crate::keys::base58_text!(Hash, 32);

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_base58())
    }
}

/// Domain tags. Changing one is a hard fork.
pub mod tags {
    pub const TX: &str = "gradual/tx/v1";
    pub const TASK_ID: &str = "gradual/task-id/v1";
    pub const GENESIS: &str = "gradual/genesis/v1";
    pub const BLOCK: &str = "gradual/block/v2";
    pub const TX_ROOT: &str = "gradual/tx-root/v1";
    pub const STATE_ROOT: &str = "gradual/state-root/v1";
    pub const STATE_ENTRY: &str = "gradual/state-entry/v1";
    pub const AUDIT_SEED: &str = "gradual/audit-seed/v2";
    pub const DISTRIBUTION_SEED: &str = "gradual/distribution-seed/v2";
    pub const COMMITTEE_SEAT: &str = "gradual/committee-seat/v1";
    pub const CANDIDATE_RANK: &str = "gradual/candidate-rank/v2";
    pub const DISTRIBUTION_LIST: &str = "gradual/distribution-list/v1";
    pub const ARTIFACT_UPLOAD: &str = "gradual/artifact-upload/v1";

    /// The bytes a signature covers: the tag, a zero byte, then `value`'s borsh encoding, so
    /// a signature made under one tag never verifies under another.
    pub(crate) fn signing_bytes(tag: &str, value: &impl borsh::BorshSerialize) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(tag.as_bytes());
        out.push(0);
        borsh::to_writer(&mut out, value).expect("writing to a Vec cannot fail");
        out
    }
}
