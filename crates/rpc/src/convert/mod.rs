//! Between ledger records and wire shapes, both directions side by side: `From<&Record> for
//! Dto` (the server encodes) next to `From<&Dto> for Record` (a client decodes; the typed
//! DTO fields already checked every key, so decoding cannot fail). `tests/round_trip.rs`
//! checks `decode(encode(x)) == x` for every pair.
//!
//! One-way only, by design: a block's transactions and instructions (`getBlock` summarises
//! large arguments) and a `TxError` (its `code` is the stable part). Fields the server adds
//! (a genesis hash, a tally, a page cursor) are derived, and decoding ignores them.
//!
//! Records that clients read as the ledger keeps them live in `gradual-types` and serialise
//! themselves (stakes, proofs, rounds, tallies, outcomes, lists, task parameters, round
//! terms, the faucet, validators): their DTO names are aliases, or a DTO adds the record's
//! keys and flattens the record, so there is nothing here to keep in step with them.
//!
//! The ledger's records need the `records` feature; clients read the DTOs without it and
//! still decode task parameters, validator sets and VRF proofs ([`types`] records).

/// `From` both ways between a `(key, value)` pair of the ledger (an item of its lists and
/// maps) and its DTO, which names the two. Both are `Copy`.
#[cfg(feature = "records")]
macro_rules! mirror_pair {
    (($k:ty, $v:ty) <=> $dto:ident { $kf:ident, $vf:ident }) => {
        impl From<&($k, $v)> for $dto {
            fn from(&($kf, $vf): &($k, $v)) -> Self {
                $dto { $kf, $vf }
            }
        }

        impl From<&$dto> for ($k, $v) {
            fn from(d: &$dto) -> Self {
                (d.$kf, d.$vf)
            }
        }
    };
}

#[cfg(feature = "records")]
mod chain;
#[cfg(feature = "records")]
mod round;
#[cfg(feature = "records")]
mod task;
mod types;

#[cfg(feature = "records")]
pub use chain::*;
#[cfg(feature = "records")]
pub use round::*;
#[cfg(feature = "records")]
pub use task::*;
