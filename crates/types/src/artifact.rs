//! Signed artifact uploads: what an uploader signs so a validator's artifact store takes its
//! bytes (docs/operator-guide.md *Artifacts*). The validator checks the signature, that
//! `recent_slot` is recent, and that the uploader holds a minimum balance, before it reads
//! the body; the signature binds the digest and the size, so a signed upload cannot carry
//! other bytes.
//!
//! On the wire the fields travel as HTTP headers of `PUT /artifacts/<digest>`
//! ([`headers`]); the digest is the URL's and the size is the `Content-Length`.

use crate::hash::{tags, Hash};
use crate::keys::{Keypair, Pubkey, Signature};
use borsh::{BorshDeserialize, BorshSerialize};

/// HTTP header names of a signed upload (lower case, as HTTP/2 sends them).
pub mod headers {
    /// The uploader's key, base58.
    pub const UPLOADER: &str = "x-gradual-uploader";
    /// The slot the upload was signed at (decimal).
    pub const RECENT_SLOT: &str = "x-gradual-recent-slot";
    /// ed25519 signature over [`super::ArtifactUpload::signing_bytes`], base58.
    pub const SIGNATURE: &str = "x-gradual-signature";
}

/// The signed statement "`uploader` stores these `size` bytes hashing to `digest` on chain
/// `chain_id`", valid for a while after `recent_slot`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ArtifactUpload {
    pub chain_id: String,
    pub digest: Hash,
    pub size: u64,
    pub recent_slot: u64,
    pub uploader: Pubkey,
}

impl ArtifactUpload {
    /// Domain-separated bytes to sign: the tag, a zero byte, then the borsh encoding (a
    /// transaction's signature can never pass as an upload's, nor the other way round).
    pub fn signing_bytes(&self) -> Vec<u8> {
        tags::signing_bytes(tags::ARTIFACT_UPLOAD, self)
    }

    /// Sign with `keypair`, which must be the `uploader`.
    pub fn sign(&self, keypair: &Keypair) -> Signature {
        keypair.sign(&self.signing_bytes())
    }

    /// Strict ed25519 check against `uploader`.
    pub fn verify(&self, sig: &Signature) -> bool {
        self.uploader.verify_strict(&self.signing_bytes(), sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_signature_binds_every_field() {
        let kp = Keypair::from_seed([5; 32]);
        let up = ArtifactUpload {
            chain_id: "dev".into(),
            digest: Hash([1; 32]),
            size: 10,
            recent_slot: 7,
            uploader: kp.pubkey(),
        };
        let sig = up.sign(&kp);
        assert!(up.verify(&sig));
        let changed = [
            ArtifactUpload {
                chain_id: "other".into(),
                ..up.clone()
            },
            ArtifactUpload {
                digest: Hash([2; 32]),
                ..up.clone()
            },
            ArtifactUpload {
                size: 11,
                ..up.clone()
            },
            ArtifactUpload {
                recent_slot: 8,
                ..up.clone()
            },
            ArtifactUpload {
                uploader: Keypair::from_seed([6; 32]).pubkey(),
                ..up.clone()
            },
        ];
        for c in changed {
            assert!(!c.verify(&sig), "{c:?}");
        }
    }
}
