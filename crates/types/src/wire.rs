//! The string encodings of the wire (feature `serde`), in one place: keys, hashes and signatures are base58,
//! arbitrary bytes are standard base64, verdicts and windows are snake_case names.
//!
//! Records and DTO fields keep their typed values (`Pubkey`, `Hash`, `Verdict`, `Vec<u8>`, ...) and name
//! one of the serde modules below (`#[serde(with = "wire::b58")]`), so the JSON stays the
//! strings every client reads while Rust code never parses them by hand. Text that arrives
//! outside a DTO (a task protocol field, an RPC param) goes through [`parse`] / [`parse_b64`].

use crate::window::Window;
use crate::{Hash, ParseKeyError, Pubkey, Signature, Verdict, VrfPublicKey};
use base64::Engine;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};
use std::borrow::Cow;

/// A fixed-size value written as base58 text.
pub trait Base58: Sized {
    /// What the value is, for error messages ("public key", "32-byte hash", ...).
    const WHAT: &'static str;
    fn to_b58(&self) -> String;
    fn from_b58(s: &str) -> Result<Self, ParseKeyError>;
}

/// The key types print and parse themselves in base58 (`to_base58` and `FromStr`).
macro_rules! base58_keys {
    ($($t:ty => $what:literal),* $(,)?) => {$(
        impl Base58 for $t {
            const WHAT: &'static str = $what;
            fn to_b58(&self) -> String {
                self.to_base58()
            }
            fn from_b58(s: &str) -> Result<Self, ParseKeyError> {
                s.parse()
            }
        }
    )*};
}

base58_keys!(Pubkey => "public key", Hash => "32-byte hash", Signature => "signature");

/// A VRF key is 32 bytes in base58, like a hash.
impl Base58 for VrfPublicKey {
    const WHAT: &'static str = "VRF public key";
    fn to_b58(&self) -> String {
        self.to_string()
    }
    fn from_b58(s: &str) -> Result<Self, ParseKeyError> {
        Hash::from_base58(s).map(|h| VrfPublicKey(h.0))
    }
}

/// A field that is not in the wire's encoding; names the field and cuts the input short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    #[error("{field}: '{input}' is not a base58 {what}: {reason}")]
    BadKey {
        field: String,
        input: String,
        what: &'static str,
        reason: String,
    },
    #[error("{field}: not standard base64: {reason}")]
    BadBase64 { field: String, reason: String },
}

fn short(s: &str) -> String {
    s.chars().take(100).collect()
}

/// Parse a base58 value of field `field`.
pub fn parse<T: Base58>(field: &str, s: &str) -> Result<T, WireError> {
    T::from_b58(s).map_err(|e| WireError::BadKey {
        field: field.to_string(),
        input: short(s),
        what: T::WHAT,
        reason: e.to_string(),
    })
}

pub fn encode_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Parse standard base64 of field `field`.
pub fn parse_b64(field: &str, s: &str) -> Result<Vec<u8>, WireError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| WireError::BadBase64 {
            field: field.to_string(),
            reason: e.to_string(),
        })
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    Cow::<'de, str>::deserialize(d)
}

/// `#[serde(with = "wire::b58")]` for a `Pubkey`, `Hash`, `Signature` or `VrfPublicKey`.
pub mod b58 {
    use super::*;

    pub fn serialize<T: Base58, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_b58())
    }

    pub fn deserialize<'de, T: Base58, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let s = text(d)?;
        T::from_b58(&s).map_err(D::Error::custom)
    }
}

/// `Option<T>` of [`b58`]: `null` or the base58 text.
pub mod b58_opt {
    use super::*;

    pub fn serialize<T: Base58, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&v.to_b58()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Base58, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        match Option::<Cow<'de, str>>::deserialize(d)? {
            Some(s) => T::from_b58(&s).map(Some).map_err(D::Error::custom),
            None => Ok(None),
        }
    }
}

/// `Vec<T>` of [`b58`]: an array of base58 texts.
pub mod b58_vec {
    use super::*;
    use serde::ser::SerializeSeq;

    pub fn serialize<T: Base58, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for x in v {
            seq.serialize_element(&x.to_b58())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, T: Base58, D: Deserializer<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        Vec::<Cow<'de, str>>::deserialize(d)?
            .iter()
            .map(|s| T::from_b58(s).map_err(D::Error::custom))
            .collect()
    }
}

/// `#[serde(with = "wire::b64")]` for bytes (`Vec<u8>` or a fixed-size array).
pub mod b64 {
    use super::*;

    pub fn serialize<T: AsRef<[u8]>, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode_b64(v.as_ref()))
    }

    pub fn deserialize<'de, T: TryFrom<Vec<u8>>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let s = text(d)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(D::Error::custom)?;
        let n = bytes.len();
        T::try_from(bytes).map_err(|_| D::Error::custom(format!("wrong length: {n} bytes")))
    }
}

/// A verdict's wire name.
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "valid",
        Verdict::Invalid => "invalid",
        Verdict::Abstain => "abstain",
    }
}

/// The verdict named `s` (`valid`, `invalid`, `abstain`).
pub fn verdict_of(s: &str) -> Option<Verdict> {
    [Verdict::Valid, Verdict::Invalid, Verdict::Abstain]
        .into_iter()
        .find(|v| verdict_name(*v) == s)
}

/// `#[serde(with = "wire::verdict")]`: `"valid"`, `"invalid"` or `"abstain"`.
pub mod verdict {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Verdict, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(verdict_name(*v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Verdict, D::Error> {
        let s = text(d)?;
        verdict_of(&s).ok_or_else(|| {
            D::Error::custom(format!(
                "verdict '{}', expected valid, invalid or abstain",
                short(&s)
            ))
        })
    }
}

const WINDOWS: [(Window, &str); 4] = [
    (Window::ProofSubmission, "proof_submission"),
    (Window::ProofAudit, "proof_audit"),
    (Window::DistributionSubmission, "distribution_submission"),
    (Window::DistributionAudit, "distribution_audit"),
];

/// A window's wire name (`proof_submission`, ...).
pub fn window_name(w: Window) -> &'static str {
    WINDOWS
        .iter()
        .find(|(x, _)| *x == w)
        .map_or("", |(_, name)| name)
}

/// `#[serde(with = "wire::window")]`: `proof_submission`, `proof_audit`,
/// `distribution_submission`, `distribution_audit`.
pub mod window {
    use super::*;

    pub fn serialize<S: Serializer>(w: &Window, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(window_name(*w))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Window, D::Error> {
        let s = text(d)?;
        WINDOWS
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(w, _)| *w)
            .ok_or_else(|| D::Error::custom(format!("unknown window '{}'", short(&s))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_field_and_what_was_expected() {
        let e = parse::<Pubkey>("candidate", "x0").unwrap_err().to_string();
        assert!(
            e.starts_with("candidate: 'x0' is not a base58 public key"),
            "{e}"
        );
        assert!(parse_b64("value", "!")
            .unwrap_err()
            .to_string()
            .starts_with("value:"));
        assert_eq!(
            parse::<Hash>("h", &Hash([7; 32]).to_base58()),
            Ok(Hash([7; 32]))
        );
    }

    #[test]
    fn names_round_trip() {
        for v in [Verdict::Valid, Verdict::Invalid, Verdict::Abstain] {
            assert_eq!(verdict_of(verdict_name(v)), Some(v));
        }
        for (w, name) in WINDOWS {
            assert_eq!(window_name(w), name);
        }
    }
}
