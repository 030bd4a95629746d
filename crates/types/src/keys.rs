//! ed25519 keys and signatures, shown as base58, verified strictly.

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use std::fmt;
use std::str::FromStr;

/// An account or node address: an ed25519 public key.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Pubkey(pub [u8; 32]);

/// An ed25519 signature; a transaction's id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

impl Default for Signature {
    fn default() -> Self {
        Signature([0; 64])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseKeyError {
    #[error("'{input}' is not base58: {reason}")]
    NotBase58 { input: String, reason: String },
    #[error("'{input}…' is {len} bytes long; the base58 text of {bytes} bytes has at most {max} characters")]
    TooLong {
        input: String,
        len: usize,
        bytes: usize,
        max: usize,
    },
    #[error("'{input}' decodes to {got} bytes, expected {expected}")]
    WrongLength {
        input: String,
        got: usize,
        expected: usize,
    },
}

/// The longest base58 text of `n` bytes (`⌈n · log 256 / log 58⌉`: 44 for 32, 88 for 64).
pub const fn base58_chars_max(n: usize) -> usize {
    (n * 1_366).div_ceil(1_000)
}

/// Decode exactly `N` bytes of base58. Text longer than `N` bytes can be is refused before
/// decoding: base58 decoding is quadratic, and keys arrive from peers and task processes.
pub(crate) fn decode_fixed<const N: usize>(s: &str) -> Result<[u8; N], ParseKeyError> {
    let max = base58_chars_max(N);
    if s.len() > max {
        return Err(ParseKeyError::TooLong {
            input: s.chars().take(max).collect(),
            len: s.len(),
            bytes: N,
            max,
        });
    }
    let bytes = bs58::decode(s)
        .into_vec()
        .map_err(|e| ParseKeyError::NotBase58 {
            input: s.to_string(),
            reason: e.to_string(),
        })?;
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| ParseKeyError::WrongLength {
            input: s.to_string(),
            got: bytes.len(),
            expected: N,
        })
}

/// Base58 text of a fixed-size byte key: `to_base58`, `FromStr` and `Display`, written once
/// for every key type.
macro_rules! base58_text {
    ($t:ident, $n:literal) => {
        impl $t {
            pub fn to_base58(&self) -> String {
                bs58::encode(self.0).into_string()
            }
        }

        impl FromStr for $t {
            type Err = ParseKeyError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                decode_fixed::<$n>(s).map($t)
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_base58())
            }
        }
    };
}

pub(crate) use base58_text;

base58_text!(Pubkey, 32);
base58_text!(Signature, 64);

impl Pubkey {
    /// Strict ed25519 verification (`verify_strict`: rejects small-order keys and
    /// non-canonical signatures, so signatures are not malleable).
    pub fn verify_strict(&self, message: &[u8], sig: &Signature) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        let sig = ed25519_dalek::Signature::from_bytes(&sig.0);
        key.verify_strict(message, &sig).is_ok()
    }
}

impl fmt::Debug for Pubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.to_base58();
        write!(f, "{}", &s[..s.len().min(8)])
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.to_base58();
        write!(f, "Sig({})", &s[..s.len().min(10)])
    }
}

/// A signing keypair. Its file form is the Solana-style JSON array of 64 bytes
/// (32 secret bytes then 32 public bytes).
#[derive(Clone)]
pub struct Keypair(SigningKey);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeypairError {
    #[error("keypair must be 64 bytes (secret then public), got {0}")]
    WrongLength(usize),
    #[error("keypair's public half does not match its secret half")]
    Mismatch,
}

impl Keypair {
    pub fn generate() -> Keypair {
        Keypair(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// Deterministic keypair from a 32-byte seed (tests and simulations).
    pub fn from_seed(seed: [u8; 32]) -> Keypair {
        Keypair(SigningKey::from_bytes(&seed))
    }

    pub fn from_bytes64(bytes: &[u8]) -> Result<Keypair, KeypairError> {
        let arr: [u8; 64] = bytes
            .try_into()
            .map_err(|_| KeypairError::WrongLength(bytes.len()))?;
        SigningKey::from_keypair_bytes(&arr)
            .map(Keypair)
            .map_err(|_| KeypairError::Mismatch)
    }

    pub fn to_bytes64(&self) -> [u8; 64] {
        self.0.to_keypair_bytes()
    }

    pub fn pubkey(&self) -> Pubkey {
        Pubkey(self.0.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.pubkey())
    }
}

#[cfg(test)]
mod tests {
    /// A million-character "key" from a peer or a task is refused at once, not decoded.
    #[test]
    fn a_huge_base58_key_is_refused_before_decoding() {
        let long = "2".repeat(1_000_000);
        let started = std::time::Instant::now();
        let e = long.parse::<Pubkey>().unwrap_err();
        assert!(
            matches!(
                e,
                ParseKeyError::TooLong {
                    len: 1_000_000,
                    bytes: 32,
                    max: 44,
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string().len() < 200,
            "the message quotes a prefix only: {e}"
        );
        assert!(long.parse::<Signature>().is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // The longest real keys still parse.
        let max = Pubkey([0xff; 32]).to_base58();
        assert_eq!(max.len(), base58_chars_max(32));
        assert_eq!(max.parse::<Pubkey>().unwrap(), Pubkey([0xff; 32]));
        let sig = Signature([0xff; 64]).to_base58();
        assert_eq!(sig.len(), base58_chars_max(64));
        assert_eq!(sig.parse::<Signature>().unwrap(), Signature([0xff; 64]));
    }

    use super::*;

    #[test]
    fn base58_round_trip_and_errors() {
        let kp = Keypair::from_seed([7; 32]);
        let pk = kp.pubkey();
        assert_eq!(pk.to_base58().parse::<Pubkey>().unwrap(), pk);
        assert!(matches!(
            "0OIl".parse::<Pubkey>(),
            Err(ParseKeyError::NotBase58 { .. })
        ));
        assert!(matches!(
            "abc".parse::<Pubkey>(),
            Err(ParseKeyError::WrongLength { expected: 32, .. })
        ));
    }

    #[test]
    fn strict_verification_accepts_good_rejects_bad() {
        let kp = Keypair::from_seed([1; 32]);
        let sig = kp.sign(b"hello");
        assert!(kp.pubkey().verify_strict(b"hello", &sig));
        assert!(!kp.pubkey().verify_strict(b"hellO", &sig));
        let mut bad = sig;
        bad.0[63] ^= 0x80; // non-canonical s
        assert!(!kp.pubkey().verify_strict(b"hello", &bad));
        // The identity point is a small-order key: strict verification refuses it.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(!Pubkey(identity).verify_strict(b"hello", &Signature([0; 64])));
    }

    #[test]
    fn keypair_bytes_round_trip() {
        let kp = Keypair::from_seed([3; 32]);
        let back = Keypair::from_bytes64(&kp.to_bytes64()).unwrap();
        assert_eq!(back.pubkey(), kp.pubkey());
        let mut wrong = kp.to_bytes64();
        wrong[40] ^= 1;
        assert_eq!(
            Keypair::from_bytes64(&wrong).unwrap_err(),
            KeypairError::Mismatch
        );
        assert_eq!(
            Keypair::from_bytes64(&[0; 10]).unwrap_err(),
            KeypairError::WrongLength(10)
        );
    }
}
