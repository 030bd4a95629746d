//! Records of `gradual-types` (task parameters, the validator set, block randomness): no
//! ledger needed, so clients and tasks have these too.

use crate::dto::*;
use gradual_types::{Executable, Faucet, TaskParams, ValidatorInfo, VrfProof};

mirror!(Executable <=> ExecutableDto { digest, urls, runtime });

mirror!(TaskParams <=> TaskParamsDto {
    name,
    description,
    metadata,
    bounty_per_round,
    round_time,
    submission_window,
    audit_window,
    minimum_stake,
    allowed_failed_distributions,
    audit_sample,
    committee_size,
    slash_bps,
    accuser_bps,
    voter_bps,
    false_accusation_bps,
    unstake_cooldown,
    missed_list_bps,
} nested { executable });

mirror!(ValidatorInfo <=> ValidatorDto { id, vrf_key });

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

mirror!(Faucet <=> FaucetDto {
    authority,
    mint_max_roe,
    recipient_max_roe,
    recipient_window_slots,
    cap_roe,
});

pub fn validator(v: &ValidatorInfo) -> ValidatorDto {
    v.into()
}
