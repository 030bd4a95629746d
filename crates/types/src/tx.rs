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

/// Where to fetch a task's executable and how to run it.
#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct Executable {
    /// blake3 digest of the artifact's bytes.
    pub digest: Hash,
    /// Where the artifact can be fetched (artifact store URLs).
    pub urls: Vec<String>,
    /// How to run it (`"native"`, `"python3"`, `"node"`, ...).
    pub runtime: String,
}

/// Everything about a task its manager chooses (SPEC §2). Field names follow the SPEC.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TaskParams {
    pub name: String,
    pub description: String,
    pub metadata: Vec<u8>,
    pub executable: Executable,
    pub bounty_per_round: u64,
    pub round_time: u64,
    pub submission_window: u64,
    pub audit_window: u64,
    pub minimum_stake: u64,
    pub allowed_failed_distributions: u16,
    pub audit_sample: u16,
    pub committee_size: u16,
    pub slash_bps: u16,
    pub accuser_bps: u16,
    pub voter_bps: u16,
    pub false_accusation_bps: u16,
    pub unstake_cooldown: u64,
    /// [v2] Share of stake slashed from a selected candidate that submits no list (SPEC §6).
    pub missed_list_bps: u16,
}

impl Default for TaskParams {
    fn default() -> Self {
        TaskParams {
            name: String::new(),
            description: String::new(),
            metadata: Vec::new(),
            executable: Executable::default(),
            bounty_per_round: 0,
            round_time: 600,
            submission_window: 200,
            audit_window: 200,
            minimum_stake: ROE_PER_KOII,
            allowed_failed_distributions: DEFAULT_ALLOWED_FAILED_DISTRIBUTIONS,
            audit_sample: DEFAULT_AUDIT_SAMPLE,
            committee_size: DEFAULT_COMMITTEE_SIZE,
            slash_bps: DEFAULT_SLASH_BPS,
            accuser_bps: DEFAULT_ACCUSER_BPS,
            voter_bps: DEFAULT_VOTER_BPS,
            false_accusation_bps: DEFAULT_FALSE_ACCUSATION_BPS,
            unstake_cooldown: DEFAULT_UNSTAKE_COOLDOWN,
            missed_list_bps: DEFAULT_MISSED_LIST_BPS,
        }
    }
}

/// A task parameter that is out of range, with what was given and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, BorshSerialize, BorshDeserialize)]
#[non_exhaustive]
pub enum ParamError {
    #[error("{field} is {got} bytes, the most is {max}")]
    TooLong { field: String, got: u64, max: u64 },
    #[error("{field} is {got}, it must be between {min} and {max}")]
    OutOfRange {
        field: String,
        got: u64,
        min: u64,
        max: u64,
    },
    #[error("submission_window ({sw}) + audit_window ({aw}) must not exceed round_time ({rt})")]
    WindowsExceedRound { sw: u64, aw: u64, rt: u64 },
    #[error("accuser_bps ({accuser}) + voter_bps ({voter}) must not exceed 10000")]
    SharesExceed100 { accuser: u16, voter: u16 },
    #[error("audit_window ({aw} slots) must be at least twice the vote window ({v} slots at {slot_ms} ms per slot: committees need at least 3 s to vote); make audit_window at least {min}")]
    AuditWindowTooShort {
        aw: u64,
        v: u64,
        slot_ms: u64,
        min: u64,
    },
}

fn too_long(field: &str, got: usize, max: usize) -> Result<(), ParamError> {
    if got > max {
        return Err(ParamError::TooLong {
            field: field.into(),
            got: got as u64,
            max: max as u64,
        });
    }
    Ok(())
}

fn in_range(field: &str, got: u64, min: u64, max: u64) -> Result<(), ParamError> {
    if got < min || got > max {
        return Err(ParamError::OutOfRange {
            field: field.into(),
            got,
            min,
            max,
        });
    }
    Ok(())
}

impl TaskParams {
    /// Every rule of SPEC §2 on task parameters. Checked at decode and again by the ledger.
    pub fn validate(&self) -> Result<(), ParamError> {
        too_long("name", self.name.len(), TASK_NAME_BYTES_MAX)?;
        too_long(
            "description",
            self.description.len(),
            TASK_DESCRIPTION_BYTES_MAX,
        )?;
        too_long("metadata", self.metadata.len(), TASK_METADATA_BYTES_MAX)?;
        too_long(
            "executable.urls (count)",
            self.executable.urls.len(),
            EXECUTABLE_URLS_MAX,
        )?;
        for url in &self.executable.urls {
            too_long("executable url", url.len(), URL_BYTES_MAX)?;
        }
        too_long(
            "executable.runtime",
            self.executable.runtime.len(),
            RUNTIME_BYTES_MAX,
        )?;
        in_range("round_time", self.round_time, 2, ROUND_TIME_MAX)?;
        in_range(
            "submission_window",
            self.submission_window,
            1,
            ROUND_TIME_MAX,
        )?;
        in_range("audit_window", self.audit_window, 1, ROUND_TIME_MAX)?;
        if self.submission_window + self.audit_window > self.round_time {
            return Err(ParamError::WindowsExceedRound {
                sw: self.submission_window,
                aw: self.audit_window,
                rt: self.round_time,
            });
        }
        in_range("minimum_stake", self.minimum_stake, 1, u64::MAX)?;
        in_range(
            "allowed_failed_distributions",
            self.allowed_failed_distributions.into(),
            0,
            ALLOWED_FAILED_DISTRIBUTIONS_MAX.into(),
        )?;
        in_range(
            "audit_sample",
            self.audit_sample.into(),
            0,
            AUDIT_SAMPLE_MAX.into(),
        )?;
        in_range(
            "committee_size",
            self.committee_size.into(),
            1,
            COMMITTEE_SIZE_MAX.into(),
        )?;
        for (field, v) in [
            ("slash_bps", self.slash_bps),
            ("accuser_bps", self.accuser_bps),
            ("voter_bps", self.voter_bps),
            ("false_accusation_bps", self.false_accusation_bps),
            ("missed_list_bps", self.missed_list_bps),
        ] {
            in_range(field, v.into(), 0, BPS_DENOMINATOR)?;
        }
        if u64::from(self.accuser_bps) + u64::from(self.voter_bps) > BPS_DENOMINATOR {
            return Err(ParamError::SharesExceed100 {
                accuser: self.accuser_bps,
                voter: self.voter_bps,
            });
        }
        in_range(
            "unstake_cooldown",
            self.unstake_cooldown,
            UNSTAKE_COOLDOWN_MIN,
            UNSTAKE_COOLDOWN_MAX,
        )?;
        Ok(())
    }

    /// The rules that depend on the chain's slot length (SPEC §5 *Vote window*): `AW ≥ 2·V`.
    /// Checked with [`TaskParams::validate`] by the ledger at `CreateTask` and `UpdateTask`.
    pub fn validate_for_chain(&self, slot_ms: u64) -> Result<(), ParamError> {
        self.validate()?;
        let v = vote_window_slots(slot_ms, self.audit_window);
        if self.audit_window < 2 * v {
            // The smallest AW with AW ≥ 2·max(⌈3000/slot_ms⌉, AW/3) is 2·⌈3000/slot_ms⌉.
            let min = 2 * VOTE_WINDOW_MS_MIN.div_ceil(slot_ms.max(1));
            return Err(ParamError::AuditWindowTooShort {
                aw: self.audit_window,
                v,
                slot_ms,
                min,
            });
        }
        Ok(())
    }

    /// The parameters that define the round clock; they are fixed at creation
    /// (changing them would renumber rounds already under way).
    pub fn same_timing(&self, other: &TaskParams) -> bool {
        self.round_time == other.round_time
            && self.submission_window == other.submission_window
            && self.audit_window == other.audit_window
    }
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
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(tags::TX.as_bytes());
        out.push(0);
        borsh::to_writer(&mut out, self).expect("writing to a Vec cannot fail");
        out
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
    fn task_params_rules() {
        let ok = TaskParams {
            name: "x".into(),
            ..TaskParams::default()
        };
        assert!(ok.validate().is_ok());
        let p = TaskParams {
            submission_window: 400,
            audit_window: 201,
            round_time: 600,
            ..ok.clone()
        };
        assert_eq!(
            p.validate().unwrap_err(),
            ParamError::WindowsExceedRound {
                sw: 400,
                aw: 201,
                rt: 600
            }
        );
        let p = TaskParams {
            submission_window: 400,
            audit_window: 200,
            round_time: 600,
            ..ok.clone()
        };
        assert!(p.validate().is_ok(), "SW + AW == RT is allowed");
        let p = TaskParams {
            submission_window: 0,
            ..ok.clone()
        };
        assert!(matches!(p.validate(), Err(ParamError::OutOfRange { .. })));
        let p = TaskParams {
            audit_window: 0,
            ..ok.clone()
        };
        assert!(matches!(p.validate(), Err(ParamError::OutOfRange { .. })));
        let p = TaskParams {
            name: "x".repeat(25),
            ..ok.clone()
        };
        assert!(matches!(p.validate(), Err(ParamError::TooLong { .. })));
        let p = TaskParams {
            accuser_bps: 6000,
            voter_bps: 5000,
            ..ok.clone()
        };
        assert!(matches!(
            p.validate(),
            Err(ParamError::SharesExceed100 { .. })
        ));
        let p = TaskParams {
            slash_bps: 10_001,
            ..ok
        };
        assert!(matches!(p.validate(), Err(ParamError::OutOfRange { .. })));
    }

    /// SPEC §5 *Vote window*: `V = max(⌈3000 / slot_ms⌉, AW / 3)` and `AW ≥ 2·V`.
    #[test]
    fn audit_window_leaves_committees_time_to_vote() {
        assert_eq!(vote_window_slots(400, 15), 8);
        assert_eq!(vote_window_slots(400, 60), 20);
        assert_eq!(vote_window_slots(3000, 6), 2);
        assert_eq!(vote_window_slots(7000, 2), 1);
        let p = |aw: u64| TaskParams {
            round_time: 600,
            submission_window: 10,
            audit_window: aw,
            ..TaskParams::default()
        };
        assert_eq!(
            p(15).validate_for_chain(400),
            Err(ParamError::AuditWindowTooShort {
                aw: 15,
                v: 8,
                slot_ms: 400,
                min: 16
            })
        );
        assert_eq!(p(16).validate_for_chain(400), Ok(()));
        assert_eq!(
            p(59).validate_for_chain(100).unwrap_err(),
            ParamError::AuditWindowTooShort {
                aw: 59,
                v: 30,
                slot_ms: 100,
                min: 60
            }
        );
        assert_eq!(p(60).validate_for_chain(100), Ok(()));
        assert!(
            p(1).validate_for_chain(3000).is_err(),
            "V is at least 1 slot"
        );
        let p0 = TaskParams {
            unstake_cooldown: 0,
            ..TaskParams::default()
        };
        assert!(
            matches!(p0.validate(), Err(ParamError::OutOfRange { .. })),
            "SPEC §7 [v2]: cooldown at least 1 round"
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
