//! Records of `gradual-types` whose wire shape differs from the record (block randomness):
//! no ledger needed, so clients and tasks have these too. Task parameters, round terms, the
//! faucet and validator set members need no conversion: they serialise themselves.

use crate::dto::*;
use gradual_types::VrfProof;

impl From<&VrfProof> for VrfProofDto {
    fn from(p: &VrfProof) -> Self {
        VrfProofDto {
            preout: gradual_types::Hash(p.preout),
            proof: p.proof,
        }
    }
}

impl From<&VrfProofDto> for VrfProof {
    fn from(p: &VrfProofDto) -> Self {
        VrfProof {
            preout: p.preout.0,
            proof: p.proof,
        }
    }
}
