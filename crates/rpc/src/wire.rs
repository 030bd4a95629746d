//! The string encodings of the wire: keys, hashes and signatures are base58, arbitrary bytes
//! are standard base64, verdicts and windows are snake_case names. They live in
//! `gradual_types::wire` (feature `serde`) so that the records of `gradual-types` serialise
//! themselves in the same encodings; DTOs name them as `wire::b58`, `wire::b64`, ...

pub use gradual_types::wire::*;
