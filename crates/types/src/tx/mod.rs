//! Transactions: canonical borsh encoding, domain-separated signing, limits at decode.
//!
//! ```text
//!  bytes ──decode──▶ Transaction { message, signature } ──verify_strict──▶ ledger
//!           │ size ≤ 64 KiB, no trailing bytes, every field within its limit
//!           ▼
//!        DecodeError (says which limit, got vs max)
//! ```

use crate::constants::*;
use crate::hash::{tags, Hash};
use crate::keys::{Keypair, Pubkey, Signature};
use borsh::{BorshDeserialize, BorshSerialize};

mod fee;
mod params;
pub use params::{terms_in_force, Executable, ParamError, RoundTerms, TaskParams};

/// Current transaction format version.
pub const TX_VERSION: u8 = 2;

/// A task's identity: `blake3(creator ‖ nonce)` under the task-id tag.
pub type TaskId = Hash;

pub fn task_id(creator: &Pubkey, nonce: u64) -> TaskId {
    Hash::domain(tags::TASK_ID, &[&creator.0, &nonce.to_le_bytes()])
}

/// A vote on a proof or a distribution list (SPEC §5).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum Verdict {
    Valid,
    Invalid,
    /// Could not check (e.g. the peer was unreachable); never convicts anyone.
    Abstain,
}

/// One instruction per transaction. Every instruction of SPEC §4–7.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Instruction {
    /// Move ROE between accounts.
    Transfer {
        to: Pubkey,
        amount: u64,
    },
    /// Devnet only: the genesis faucet authority mints new ROE.
    FaucetMint {
        to: Pubkey,
        amount: u64,
    },
    /// Create a task; `task_id = hash(creator ‖ nonce)`. Escrows `total_bounty`.
    CreateTask {
        nonce: u64,
        params: TaskParams,
        total_bounty: u64,
    },
    /// Add ROE to a task's bounty.
    FundTask {
        task: TaskId,
        amount: u64,
    },
    /// Manager only: new parameters from the next round (timing is fixed at creation).
    UpdateTask {
        task: TaskId,
        params: TaskParams,
    },
    /// Manager only: activate or deactivate.
    SetActive {
        task: TaskId,
        active: bool,
    },
    /// Manager only: inactive task with every round settled; returns the bounty.
    CloseTask {
        task: TaskId,
    },
    /// Stake ROE on a task. The first stake must reach `minimum_stake` (SPEC §7 [v2]); a
    /// non-empty `url` replaces the one peers use; `owner` (first stake only, default the
    /// signer) receives withdrawals and claims.
    Stake {
        task: TaskId,
        amount: u64,
        url: String,
        owner: Option<Pubkey>,
    },
    /// [v2] Change the URL peers use, without touching the stake.
    SetNodeUrl {
        task: TaskId,
        url: String,
    },
    /// [v2] The stake's owner (withdraw authority) hands it to another owner.
    SetStakeOwner {
        task: TaskId,
        node: Pubkey,
        owner: Pubkey,
    },
    /// [v2] The genesis admin replaces the validator set from slot `from_slot` (later than
    /// the block that carries this).
    SetValidators {
        validators: Vec<crate::vrf::ValidatorInfo>,
        from_slot: u64,
    },
    Unstake {
        task: TaskId,
    },
    Withdraw {
        task: TaskId,
    },
    Claim {
        task: TaskId,
    },
    SubmitProof {
        task: TaskId,
        round: u64,
        value: Vec<u8>,
    },
    /// One vote; the first `Invalid` on a candidate raises the audit.
    AuditProof {
        task: TaskId,
        round: u64,
        candidate: Pubkey,
        verdict: Verdict,
    },
    /// Many votes at once; all or nothing.
    AuditProofs {
        task: TaskId,
        round: u64,
        votes: Vec<(Pubkey, Verdict)>,
    },
    UploadDistributionChunk {
        task: TaskId,
        round: u64,
        attempt: u16,
        index: u32,
        entries: Vec<(Pubkey, u64)>,
    },
    SubmitDistribution {
        task: TaskId,
        round: u64,
        attempt: u16,
        digest: Hash,
        count: u32,
    },
    AuditDistribution {
        task: TaskId,
        round: u64,
        attempt: u16,
        verdict: Verdict,
    },
}

impl Instruction {
    /// Short name for logs, metrics and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Instruction::Transfer { .. } => "Transfer",
            Instruction::FaucetMint { .. } => "FaucetMint",
            Instruction::CreateTask { .. } => "CreateTask",
            Instruction::FundTask { .. } => "FundTask",
            Instruction::UpdateTask { .. } => "UpdateTask",
            Instruction::SetActive { .. } => "SetActive",
            Instruction::CloseTask { .. } => "CloseTask",
            Instruction::Stake { .. } => "Stake",
            Instruction::SetNodeUrl { .. } => "SetNodeUrl",
            Instruction::SetStakeOwner { .. } => "SetStakeOwner",
            Instruction::SetValidators { .. } => "SetValidators",
            Instruction::Unstake { .. } => "Unstake",
            Instruction::Withdraw { .. } => "Withdraw",
            Instruction::Claim { .. } => "Claim",
            Instruction::SubmitProof { .. } => "SubmitProof",
            Instruction::AuditProof { .. } => "AuditProof",
            Instruction::AuditProofs { .. } => "AuditProofs",
            Instruction::UploadDistributionChunk { .. } => "UploadDistributionChunk",
            Instruction::SubmitDistribution { .. } => "SubmitDistribution",
            Instruction::AuditDistribution { .. } => "AuditDistribution",
        }
    }

    /// The size limits of SPEC §1–6 that do not depend on ledger state.
    pub fn check_limits(&self) -> Result<(), DecodeError> {
        let limit = |field: &'static str, got: usize, max: usize| {
            if got > max {
                Err(DecodeError::FieldTooLarge { field, got, max })
            } else {
                Ok(())
            }
        };
        match self {
            Instruction::CreateTask { params, .. } | Instruction::UpdateTask { params, .. } => {
                params.validate().map_err(DecodeError::BadParams)
            }
            Instruction::Stake { url, .. } | Instruction::SetNodeUrl { url, .. } => {
                crate::url::validate_node_url(url).map_err(DecodeError::BadUrl)
            }
            Instruction::SetValidators { validators, .. } => {
                crate::genesis::validate_validator_set(validators)
                    .map_err(|e| DecodeError::BadValidators(e.to_string()))
            }
            Instruction::SubmitProof { value, .. } => {
                limit("proof value", value.len(), PROOF_BYTES_MAX)
            }
            Instruction::AuditProofs { votes, .. } => {
                if votes.is_empty() {
                    return Err(DecodeError::Empty { field: "votes" });
                }
                limit("votes", votes.len(), AUDIT_VOTES_PER_TX_MAX)
            }
            Instruction::UploadDistributionChunk { entries, index, .. } => {
                if entries.is_empty() {
                    return Err(DecodeError::Empty { field: "entries" });
                }
                limit(
                    "chunk index",
                    *index as usize,
                    DISTRIBUTION_CHUNKS_MAX as usize - 1,
                )?;
                limit("entries", entries.len(), DISTRIBUTION_ENTRIES_PER_CHUNK_MAX)
            }
            _ => Ok(()),
        }
    }
}

/// What the signer signs (SPEC §1 `{version, chain_id, signer, recent_slot, fee, instruction}`).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Message {
    pub version: u8,
    pub chain_id: String,
    pub signer: Pubkey,
    /// A slot the signer saw recently; the tx expires `tx_max_age_slots` after it.
    pub recent_slot: u64,
    /// Most the signer agrees to pay; the ledger charges the genesis fee.
    pub fee: u64,
    pub instruction: Instruction,
}

impl Message {
    /// Bytes that are signed: the tx domain tag, then the canonical message.
    pub fn signing_bytes(&self) -> Vec<u8> {
        tags::signing_bytes(tags::TX, self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Transaction {
    pub message: Message,
    pub signature: Signature,
}

/// Why bytes are not a transaction. Nothing that fails here reaches the ledger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("transaction is {got} bytes, the most is {max}")]
    TooLarge { got: usize, max: usize },
    #[error("transaction bytes are not a valid encoding: {0}")]
    Malformed(String),
    #[error("unsupported transaction version {got}, expected {expected}")]
    Version { got: u8, expected: u8 },
    #[error("chain id is {got} bytes, the most is {max}")]
    ChainIdTooLong { got: usize, max: usize },
    #[error("{field} has {got} items or bytes, the most is {max}")]
    FieldTooLarge {
        field: &'static str,
        got: usize,
        max: usize,
    },
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("task parameters: {0}")]
    BadParams(ParamError),
    #[error("node url: {0}")]
    BadUrl(crate::url::UrlError),
    #[error("validator set: {0}")]
    BadValidators(String),
}

impl DecodeError {
    /// The variant's name (`"TooLarge"`, ...): what the RPC reports as the error's `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "TooLarge",
            DecodeError::Malformed(..) => "Malformed",
            DecodeError::Version { .. } => "Version",
            DecodeError::ChainIdTooLong { .. } => "ChainIdTooLong",
            DecodeError::FieldTooLarge { .. } => "FieldTooLarge",
            DecodeError::Empty { .. } => "Empty",
            DecodeError::BadParams(..) => "BadParams",
            DecodeError::BadUrl(..) => "BadUrl",
            DecodeError::BadValidators(..) => "BadValidators",
        }
    }
}

impl Transaction {
    pub fn new_signed(
        keypair: &Keypair,
        chain_id: &str,
        recent_slot: u64,
        fee: u64,
        instruction: Instruction,
    ) -> Self {
        let message = Message {
            version: TX_VERSION,
            chain_id: chain_id.to_string(),
            signer: keypair.pubkey(),
            recent_slot,
            fee,
            instruction,
        };
        let signature = keypair.sign(&message.signing_bytes());
        Transaction { message, signature }
    }

    /// The transaction id (its signature, as on Solana).
    pub fn id(&self) -> Signature {
        self.signature
    }

    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("writing to a Vec cannot fail")
    }

    /// Decode with every size limit enforced; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Transaction, DecodeError> {
        if bytes.len() > TX_BYTES_MAX {
            return Err(DecodeError::TooLarge {
                got: bytes.len(),
                max: TX_BYTES_MAX,
            });
        }
        let tx = Transaction::try_from_slice(bytes)
            .map_err(|e| DecodeError::Malformed(e.to_string()))?;
        tx.check_limits()?;
        Ok(tx)
    }

    /// Limits that do not need the ledger: version, chain id length, field sizes.
    pub fn check_limits(&self) -> Result<(), DecodeError> {
        if self.message.version != TX_VERSION {
            return Err(DecodeError::Version {
                got: self.message.version,
                expected: TX_VERSION,
            });
        }
        if self.message.chain_id.len() > CHAIN_ID_BYTES_MAX {
            return Err(DecodeError::ChainIdTooLong {
                got: self.message.chain_id.len(),
                max: CHAIN_ID_BYTES_MAX,
            });
        }
        self.message.instruction.check_limits()
    }

    /// Strict ed25519 check of the signature over the domain-separated message.
    pub fn verify(&self) -> bool {
        self.message
            .signer
            .verify_strict(&self.message.signing_bytes(), &self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ix: Instruction) -> Transaction {
        Transaction::new_signed(&Keypair::from_seed([9; 32]), "test", 5, 0, ix)
    }

    #[test]
    fn encode_decode_round_trip_and_verify() {
        let tx = sample(Instruction::SubmitProof {
            task: Hash([1; 32]),
            round: 3,
            value: vec![7; 32],
        });
        let bytes = tx.encode();
        let back = Transaction::decode(&bytes).unwrap();
        assert_eq!(back, tx);
        assert!(back.verify());
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let mut tx = sample(Instruction::Transfer {
            to: Pubkey([2; 32]),
            amount: 10,
        });
        tx.message.instruction = Instruction::Transfer {
            to: Pubkey([2; 32]),
            amount: 11,
        };
        assert!(!tx.verify());
        let mut tx = sample(Instruction::Transfer {
            to: Pubkey([2; 32]),
            amount: 10,
        });
        tx.message.chain_id = "other".into();
        assert!(!tx.verify(), "a signature is bound to its chain");
    }

    #[test]
    fn limits_are_enforced_at_decode() {
        let big = sample(Instruction::SubmitProof {
            task: Hash::ZERO,
            round: 0,
            value: vec![0; PROOF_BYTES_MAX + 1],
        });
        assert_eq!(
            Transaction::decode(&big.encode()).unwrap_err(),
            DecodeError::FieldTooLarge {
                field: "proof value",
                got: PROOF_BYTES_MAX + 1,
                max: PROOF_BYTES_MAX
            }
        );
        let ok = sample(Instruction::SubmitProof {
            task: Hash::ZERO,
            round: 0,
            value: vec![0; PROOF_BYTES_MAX],
        });
        assert!(Transaction::decode(&ok.encode()).is_ok());
        let mut bytes = ok.encode();
        bytes.push(0);
        assert!(matches!(
            Transaction::decode(&bytes),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            Transaction::decode(&vec![0; TX_BYTES_MAX + 1]),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(matches!(
            Transaction::decode(&[1, 2, 3]),
            Err(DecodeError::Malformed(_))
        ));
        let empty = sample(Instruction::AuditProofs {
            task: Hash::ZERO,
            round: 0,
            votes: vec![],
        });
        assert_eq!(
            Transaction::decode(&empty.encode()).unwrap_err(),
            DecodeError::Empty { field: "votes" }
        );
    }

    #[test]
    fn task_id_is_deterministic_and_distinct() {
        let a = Pubkey([1; 32]);
        assert_eq!(task_id(&a, 1), task_id(&a, 1));
        assert_ne!(task_id(&a, 1), task_id(&a, 2));
        assert_ne!(task_id(&a, 1), task_id(&Pubkey([2; 32]), 1));
    }
}
