//! Lattice hash: an incremental, order-independent commitment to a set of records.
//!
//! Each record `(table, key, value)` maps to 1024 16-bit lanes (blake3 in XOF mode); the
//! state's hash is their lane-wise sum modulo 2^16. Changing one record costs one
//! subtraction and one addition, so a block's state root costs O(records it changed),
//! not O(state). The same construction backs Solana's accounts lattice hash.

use gradual_types::hash::tags;
use gradual_types::Hash;

pub const LANES: usize = 1024;

#[derive(Clone, PartialEq, Eq)]
pub struct LtHash(pub Box<[u16; LANES]>);

impl Default for LtHash {
    fn default() -> Self {
        LtHash(Box::new([0; LANES]))
    }
}

impl std::fmt::Debug for LtHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LtHash({})", self.checksum())
    }
}

impl LtHash {
    /// The lanes of one record.
    pub fn element(table: u8, key: &[u8], value: &[u8]) -> LtHash {
        let bytes = Self::element_bytes(table, key, value);
        let mut lanes = Box::new([0u16; LANES]);
        for (lane, pair) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = u16::from_le_bytes([pair[0], pair[1]]);
        }
        LtHash(lanes)
    }

    /// `self.add(&LtHash::element(..))` without building the element.
    pub fn add_element(&mut self, table: u8, key: &[u8], value: &[u8]) {
        let bytes = Self::element_bytes(table, key, value);
        for (a, pair) in self.0.iter_mut().zip(bytes.chunks_exact(2)) {
            *a = a.wrapping_add(u16::from_le_bytes([pair[0], pair[1]]));
        }
    }

    /// `self.sub(&LtHash::element(..))` without building the element.
    pub fn sub_element(&mut self, table: u8, key: &[u8], value: &[u8]) {
        let bytes = Self::element_bytes(table, key, value);
        for (a, pair) in self.0.iter_mut().zip(bytes.chunks_exact(2)) {
            *a = a.wrapping_sub(u16::from_le_bytes([pair[0], pair[1]]));
        }
    }

    /// The XOF output a record's lanes are read from (little-endian u16 pairs).
    fn element_bytes(table: u8, key: &[u8], value: &[u8]) -> [u8; LANES * 2] {
        let mut h = blake3::Hasher::new();
        h.update(tags::STATE_ENTRY.as_bytes());
        h.update(&[table]);
        h.update(&(key.len() as u32).to_le_bytes());
        h.update(key);
        h.update(value);
        let mut bytes = [0u8; LANES * 2];
        h.finalize_xof().fill(&mut bytes);
        bytes
    }

    pub fn add(&mut self, other: &LtHash) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.wrapping_add(*b);
        }
    }

    pub fn sub(&mut self, other: &LtHash) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.wrapping_sub(*b);
        }
    }

    /// 32-byte digest of the lanes: the state root.
    pub fn checksum(&self) -> Hash {
        let mut h = blake3::Hasher::new();
        h.update(tags::STATE_ROOT.as_bytes());
        for lane in self.0.iter() {
            h.update(&lane.to_le_bytes());
        }
        Hash(*h.finalize().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_independent_and_invertible() {
        let a = LtHash::element(1, b"a", b"1");
        let b = LtHash::element(1, b"b", b"2");
        let mut x = LtHash::default();
        x.add(&a);
        x.add(&b);
        let mut y = LtHash::default();
        y.add(&b);
        y.add(&a);
        assert_eq!(x.checksum(), y.checksum());
        x.sub(&a);
        let mut only_b = LtHash::default();
        only_b.add(&b);
        assert_eq!(x.checksum(), only_b.checksum());
        // The in-place forms agree with building the element.
        let mut z = LtHash::default();
        z.add_element(1, b"a", b"1");
        z.add_element(1, b"b", b"2");
        assert_eq!(z, y);
        z.sub_element(1, b"b", b"2");
        let mut only_a = LtHash::default();
        only_a.add(&a);
        assert_eq!(z, only_a);
        assert_ne!(
            LtHash::element(1, b"a", b"1").checksum(),
            LtHash::element(2, b"a", b"1").checksum()
        );
    }
}
