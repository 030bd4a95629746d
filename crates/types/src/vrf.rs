//! Block randomness (SPEC §1 *Randomness*): a unique-output VRF, schnorrkel's (sr25519, the
//! VRF Polkadot's BABE uses), evaluated by the producing validator on a domain-separated
//! `(chain_id, slot, parent randomness)`.
//!
//! ```text
//!  validator key ──prove(input)──▶ (randomness, VrfProof) ──in the block header──▶ anyone:
//!                                                            verify(vrf key, input, proof)
//!                                                            == randomness, or the block is bad
//! ```
//! A key has exactly one output per input (the output is a function of the secret key and the
//! input alone); the proof shows it. Unlike a plain ed25519 signature, the producer cannot pick
//! a nonce to change it, and no transaction sender can influence it at all.

use crate::hash::Hash;
use crate::keys::{Keypair, Pubkey};
use borsh::{BorshDeserialize, BorshSerialize};
use rand_chacha::rand_core::SeedableRng;
use schnorrkel::vrf::{VRFPreOut, VRFProof};
use schnorrkel::{ExpansionMode, MiniSecretKey};
use std::fmt;

/// Label of the VRF input transcript.
const VRF_CONTEXT: &[u8] = b"gradual/block-randomness/v2";
/// Label under which the VRF output is turned into 32 bytes of randomness.
const VRF_OUTPUT: &[u8] = b"gradual/block-randomness-output/v2";

/// A validator's VRF public key (a Ristretto point, 32 bytes).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize, Default,
)]
pub struct VrfPublicKey(pub [u8; 32]);

impl fmt::Debug for VrfPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VrfPublicKey({})", bs58::encode(self.0).into_string())
    }
}

impl fmt::Display for VrfPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).into_string())
    }
}

/// What a block carries so anyone can check its randomness: the VRF pre-output and the proof.
#[derive(Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct VrfProof {
    pub preout: [u8; 32],
    pub proof: [u8; 64],
}

impl fmt::Debug for VrfProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VrfProof({}…)",
            &bs58::encode(self.preout).into_string()[..8]
        )
    }
}

impl Default for VrfProof {
    fn default() -> Self {
        VrfProof {
            preout: [0; 32],
            proof: [0; 64],
        }
    }
}

/// A validator's identity: its ed25519 key (named in the validator set) and the VRF key
/// derived from the same secret seed, so one key file holds both.
#[derive(Clone)]
pub struct ValidatorKey {
    id: Keypair,
    vrf: schnorrkel::Keypair,
}

impl fmt::Debug for ValidatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValidatorKey({})", self.id.pubkey())
    }
}

impl ValidatorKey {
    pub fn from_keypair(id: Keypair) -> ValidatorKey {
        let seed: [u8; 32] = id.to_bytes64()[..32].try_into().expect("32-byte seed");
        let mini = MiniSecretKey::from_bytes(&seed).expect("32 bytes is a mini secret key");
        // Domain-separate the VRF secret from the ed25519 one: the seed is hashed under a
        // tag first, so the two keys share no scalar.
        let vrf_seed = Hash::domain("gradual/vrf-key/v2", &[&mini.to_bytes()]);
        let vrf = MiniSecretKey::from_bytes(&vrf_seed.0)
            .expect("32 bytes is a mini secret key")
            .expand_to_keypair(ExpansionMode::Uniform);
        ValidatorKey { id, vrf }
    }

    /// The well-known key `Genesis::default()` names. Its secret is public (derived from a
    /// fixed tag): for tests, simulations and throwaway devnets only. `gradual validator`
    /// creates a chain with a fresh identity instead.
    pub fn devnet() -> ValidatorKey {
        ValidatorKey::from_seed(Hash::domain("gradual/devnet-validator/v2", &[]).0)
    }

    /// Deterministic key from a seed (tests, simulations, benchmarks).
    pub fn from_seed(seed: [u8; 32]) -> ValidatorKey {
        ValidatorKey::from_keypair(Keypair::from_seed(seed))
    }

    pub fn id(&self) -> Pubkey {
        self.id.pubkey()
    }

    pub fn keypair(&self) -> &Keypair {
        &self.id
    }

    pub fn vrf_public(&self) -> VrfPublicKey {
        VrfPublicKey(self.vrf.public.to_bytes())
    }

    /// How the validator set names this key.
    pub fn info(&self) -> ValidatorInfo {
        ValidatorInfo {
            id: self.id(),
            vrf_key: self.vrf_public(),
        }
    }

    /// Evaluate the VRF on `input`: the randomness and its proof. Deterministic: the proof's
    /// nonce is derived from the secret key and the transcript (schnorrkel's witness with a
    /// fixed extra RNG), so a replayed block is byte-identical.
    pub fn prove(&self, input: &VrfInput) -> (Hash, VrfProof) {
        let t = input.transcript();
        let rng = rand_chacha::ChaCha20Rng::from_seed([0u8; 32]);
        let extra = schnorrkel::context::attach_rng(merlin_vrf_extra(), rng);
        let (inout, proof, _) = self.vrf.vrf_sign_extra(t, extra);
        let out: [u8; 32] = inout.make_bytes(VRF_OUTPUT);
        (
            Hash(out),
            VrfProof {
                preout: inout.to_preout().to_bytes(),
                proof: proof.to_bytes(),
            },
        )
    }
}

/// The "extra" transcript schnorrkel's `vrf_sign`/`vrf_verify` use.
fn merlin_vrf_extra() -> merlin::Transcript {
    merlin::Transcript::new(b"VRF")
}

/// One member of the validator set (SPEC §1: ledger state, genesis names the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ValidatorInfo {
    #[cfg_attr(feature = "serde", serde(with = "crate::wire::b58"))]
    pub id: Pubkey,
    #[cfg_attr(feature = "serde", serde(with = "crate::wire::b58"))]
    pub vrf_key: VrfPublicKey,
}

/// The VRF input of one slot: `(chain_id, slot, parent randomness)`, domain-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrfInput {
    pub chain_id: String,
    pub slot: u64,
    pub parent_randomness: Hash,
}

impl VrfInput {
    fn transcript(&self) -> merlin::Transcript {
        let mut t = merlin::Transcript::new(VRF_CONTEXT);
        t.append_message(b"chain_id", self.chain_id.as_bytes());
        t.append_message(b"slot", &self.slot.to_le_bytes());
        t.append_message(b"parent", &self.parent_randomness.0);
        t
    }

    /// Check `proof` for this input under `key`; the randomness if it holds.
    pub fn verify(&self, key: &VrfPublicKey, proof: &VrfProof) -> Option<Hash> {
        let pk = schnorrkel::PublicKey::from_bytes(&key.0).ok()?;
        let preout = VRFPreOut::from_bytes(&proof.preout).ok()?;
        let p = VRFProof::from_bytes(&proof.proof).ok()?;
        let (inout, _) = pk
            .vrf_verify_extra(self.transcript(), &preout, &p, merlin_vrf_extra())
            .ok()?;
        Some(Hash(inout.make_bytes(VRF_OUTPUT)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(slot: u64) -> VrfInput {
        VrfInput {
            chain_id: "test".into(),
            slot,
            parent_randomness: Hash([7; 32]),
        }
    }

    #[test]
    fn prove_verify_round_trip_and_determinism() {
        let k = ValidatorKey::from_seed([3; 32]);
        let (r, p) = k.prove(&input(5));
        assert_eq!(input(5).verify(&k.vrf_public(), &p), Some(r));
        let (r2, p2) = k.prove(&input(5));
        assert_eq!((r, &p), (r2, &p2), "same key and input: same bytes");
        assert_ne!(k.prove(&input(6)).0, r, "another slot, another value");
    }

    #[test]
    fn wrong_key_input_or_tampered_proof_fails() {
        let k = ValidatorKey::from_seed([3; 32]);
        let other = ValidatorKey::from_seed([4; 32]);
        let (_, p) = k.prove(&input(5));
        assert_eq!(input(5).verify(&other.vrf_public(), &p), None);
        assert_eq!(input(6).verify(&k.vrf_public(), &p), None);
        let mut bad = p.clone();
        bad.preout[0] ^= 1;
        assert_eq!(input(5).verify(&k.vrf_public(), &bad), None);
        let mut bad = p;
        bad.proof[10] ^= 1;
        assert_eq!(input(5).verify(&k.vrf_public(), &bad), None);
    }

    #[test]
    fn output_is_unique_per_input() {
        // Uniqueness: a valid proof with a different pre-output cannot exist for the same key
        // and input; the output is a function of (key, input) only. Proving twice with other
        // nonces still gives the same output.
        let k = ValidatorKey::from_seed([9; 32]);
        let t = input(11).transcript();
        let rng = rand_chacha::ChaCha20Rng::from_seed([1u8; 32]);
        let extra = schnorrkel::context::attach_rng(merlin_vrf_extra(), rng);
        let (inout, proof, _) = k.vrf.vrf_sign_extra(t, extra);
        let other = VrfProof {
            preout: inout.to_preout().to_bytes(),
            proof: proof.to_bytes(),
        };
        let (r, p) = k.prove(&input(11));
        assert_ne!(other.proof, p.proof, "another nonce, another proof");
        assert_eq!(input(11).verify(&k.vrf_public(), &other), Some(r));
    }
}
