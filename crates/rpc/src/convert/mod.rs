//! Between ledger records and wire shapes, both directions side by side: `From<&Record> for
//! Dto` (the server encodes) next to `From<&Dto> for Record` (a client decodes; the typed
//! DTO fields already checked every key, so decoding cannot fail). `tests/round_trip.rs`
//! checks `decode(encode(x)) == x` for every pair.
//!
//! One-way only, by design: a block's transactions and instructions (`getBlock` summarises
//! large arguments) and a `TxError` (its `code` is the stable part). Fields the server adds
//! (a genesis hash, a tally, a page cursor) are derived, and decoding ignores them.
//!
//! The ledger's records need the `records` feature; clients read the DTOs without it and
//! still decode task parameters, validator sets and VRF proofs ([`types`] records).

/// `From` both ways between a record and its DTO whose fields have the same names: the
/// field list is written once. Plain fields are cloned as they are (the DTO's serde does the
/// encoding); `renamed` fields are cloned
/// under the DTO's name, written `record_name: dto_name` (the DTO drops `_roe` suffixes).
macro_rules! mirror {
    // One direction; the other is the same with the names swapped.
    (@one $a:ident => $b:ident { $($f:ident),* } { $($af:ident : $bf:ident),* }) => {
        impl From<&$a> for $b {
            fn from(x: &$a) -> Self {
                $b {
                    $($f: Clone::clone(&x.$f),)*
                    $($bf: Clone::clone(&x.$af),)*
                }
            }
        }
    };
    ($rec:ident <=> $dto:ident { $($f:ident),* $(,)? }
        $(renamed { $($rf:ident : $df:ident),* })?) => {
        mirror!(@one $rec => $dto { $($f),* } { $($($rf: $df),*)? });
        mirror!(@one $dto => $rec { $($f),* } { $($($df: $rf),*)? });
    };
}

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

/// `From` both ways between a record enum and its DTO enum, variant by variant; each field
/// is written `record_name: dto_name` (the DTO drops the `_roe` suffixes). Fields are `Copy`.
#[cfg(feature = "records")]
macro_rules! mirror_enum {
    ($rec:ident <=> $dto:ident {
        $($v:ident { $($rf:ident : $df:ident),* $(,)? }),* $(,)?
    }) => {
        impl From<&$rec> for $dto {
            fn from(r: &$rec) -> Self {
                match *r {
                    $($rec::$v { $($rf),* } => $dto::$v { $($df: $rf),* },)*
                }
            }
        }

        impl From<&$dto> for $rec {
            fn from(d: &$dto) -> Self {
                match *d {
                    $($dto::$v { $($df),* } => $rec::$v { $($rf: $df),* },)*
                }
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
