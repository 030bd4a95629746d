//! The wire contract holds both ways, for arbitrary values:
//! - every record ↔ DTO pair of `convert`: `decode(encode(x)) == x`;
//! - every DTO type: `from_str(to_string(dto)) == dto` (so a typed field never changes its
//!   JSON into something it cannot read back).
//!
//! `every_dto_has_a_json_round_trip` fails when `dto.rs` gains a type that is not listed
//! here: add it to `json_round_trips` (and, if it has a ledger record, a pair below).

use gradual_ledger::query::{Phase, RoundView, TaskView};
use gradual_ledger::state::*;
use gradual_ledger::{Block, BlockHeader, Receipt, TxError};
use gradual_rpc::convert::{self, TaskFlags, TxPage};
use gradual_rpc::dto::*;
use gradual_types::window::{Clock, Window};
use gradual_types::{
    Executable, Faucet, Genesis, Hash, Instruction, Keypair, Pubkey, Signature, TaskParams,
    Transaction, ValidatorInfo, Verdict, VrfProof, VrfPublicKey,
};
use proptest::prelude::*;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::BTreeSet;
use std::fmt::Debug;

/// Arbitrary values from one proptest seed (xorshift): every field of every record varies,
/// without a strategy per type.
struct G(u64);

impl G {
    fn u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        // Mostly small numbers, sometimes the extremes.
        match self.0 % 8 {
            0 => u64::MAX,
            1 => 0,
            2..=4 => self.0 % 100,
            _ => self.0 >> 3,
        }
    }
    fn u32(&mut self) -> u32 {
        self.u64() as u32
    }
    fn u16(&mut self) -> u16 {
        self.u64() as u16
    }
    fn bool(&mut self) -> bool {
        self.u64().is_multiple_of(2)
    }
    fn b32(&mut self) -> [u8; 32] {
        let mut b = [0u8; 32];
        for (i, x) in b.iter_mut().enumerate() {
            *x = (self.u64() as u8).wrapping_add(i as u8);
        }
        b
    }
    fn pk(&mut self) -> Pubkey {
        Pubkey(self.b32())
    }
    fn hash(&mut self) -> Hash {
        Hash(self.b32())
    }
    fn bytes(&mut self) -> Vec<u8> {
        let n = self.u64() % 40;
        (0..n).map(|_| self.u64() as u8).collect()
    }
    fn text(&mut self) -> String {
        let n = self.u64() % 12;
        (0..n)
            .map(|_| ['a', 'Z', '7', ' ', '"', '\\', 'é', '✓', '\n'][(self.u64() % 9) as usize])
            .collect()
    }
    fn opt<T>(&mut self, f: impl FnOnce(&mut G) -> T) -> Option<T> {
        self.bool().then(|| f(self))
    }
    fn vec<T>(&mut self, mut f: impl FnMut(&mut G) -> T) -> Vec<T> {
        let n = self.u64() % 4;
        (0..n).map(|_| f(self)).collect()
    }
    fn verdict(&mut self) -> Verdict {
        [Verdict::Valid, Verdict::Invalid, Verdict::Abstain][(self.u64() % 3) as usize]
    }
    fn window(&mut self) -> Window {
        [
            Window::ProofSubmission,
            Window::ProofAudit,
            Window::DistributionSubmission,
            Window::DistributionAudit,
        ][(self.u64() % 4) as usize]
    }
    fn executable(&mut self) -> Executable {
        Executable {
            digest: self.hash(),
            urls: self.vec(G::text),
            runtime: self.text(),
        }
    }
    fn params(&mut self) -> TaskParams {
        TaskParams {
            name: self.text(),
            description: self.text(),
            metadata: self.bytes(),
            executable: self.executable(),
            bounty_per_round: self.u64(),
            round_time: self.u64(),
            submission_window: self.u64(),
            audit_window: self.u64(),
            minimum_stake: self.u64(),
            allowed_failed_distributions: self.u16(),
            audit_sample: self.u16(),
            committee_size: self.u16(),
            slash_bps: self.u16(),
            accuser_bps: self.u16(),
            voter_bps: self.u16(),
            false_accusation_bps: self.u16(),
            unstake_cooldown: self.u64(),
            missed_list_bps: self.u16(),
        }
    }
    fn terms(&mut self) -> RoundTerms {
        RoundTerms::of(&self.params(), self.bool())
    }
    fn stake(&mut self) -> StakeRecord {
        StakeRecord {
            amount: self.u64(),
            url: self.text(),
            owner: self.pk(),
            staked_slot: self.u64(),
            unstake_round: self.opt(G::u64),
            withdraw_round: self.opt(G::u64),
            history: self.vec(|g| (g.u64(), g.u64())),
            settlement_locks: self.u32(),
        }
    }
    fn committee(&mut self) -> Committee {
        let mut seats = self.vec(|g| (g.pk(), g.u16()));
        // The ledger keeps seats sorted by node (`seats_of` binary-searches).
        seats.sort_unstable_by_key(|(n, _)| *n);
        Committee {
            seed: self.hash(),
            size: self.u16(),
            seats,
        }
    }
    fn votes(&mut self) -> Vec<(Pubkey, Verdict)> {
        self.vec(|g| (g.pk(), g.verdict()))
    }
    fn audit_outcome(&mut self) -> AuditOutcome {
        match self.u64() % 3 {
            0 => AuditOutcome::Upheld {
                slashed: self.u64(),
                accuser_reward: self.u64(),
                voter_rewards: self.u64(),
            },
            1 => AuditOutcome::Refuted {
                slashed: self.u64(),
                voter_rewards: self.u64(),
            },
            _ => AuditOutcome::Unresolved,
        }
    }
    fn audit(&mut self) -> AuditRecord {
        AuditRecord {
            accuser: self.pk(),
            trigger_slot: self.u64(),
            seed: self.hash(),
            committee: self.opt(G::committee),
            votes: self.votes(),
            outcome: self.opt(G::audit_outcome),
        }
    }
    fn submission(&mut self) -> SubmissionRecord {
        SubmissionRecord {
            value: self.bytes(),
            slot: self.u64(),
            voided: self.bool(),
        }
    }
    fn attempt_outcome(&mut self) -> AttemptOutcome {
        match self.u64() % 4 {
            0 => AttemptOutcome::PayoutSuccessful {
                total_roe: self.u64(),
            },
            1 => AttemptOutcome::FailedNotSubmitted {
                slashed: self.u64(),
            },
            2 => AttemptOutcome::FailedNoCommittee,
            _ => AttemptOutcome::FailedRejected {
                slashed: self.opt(G::u64),
                vindicated: self.bool(),
            },
        }
    }
    fn attempt(&mut self) -> AttemptRecord {
        AttemptRecord {
            submitter: self.pk(),
            upload: UploadProgress {
                chunks: self.u32(),
                entries: self.u32(),
                sum_roe: self.u64(),
                last_node: self.opt(G::pk),
                digest: self.opt(G::hash),
            },
            list: self.opt(|g| SubmittedList {
                digest: g.hash(),
                count: g.u32(),
                chunks: g.u32(),
                total_roe: g.u64(),
                slot: g.u64(),
                seed: g.hash(),
            }),
            committee: self.opt(G::committee),
            votes: self.votes(),
            outcome: self.opt(G::attempt_outcome),
        }
    }
    fn status(&mut self) -> RoundStatus {
        match self.u64() % 5 {
            0 => RoundStatus::Reviewing,
            1 => RoundStatus::Distributing,
            2 => RoundStatus::Paid {
                attempt: self.u16(),
                total_roe: self.u64(),
            },
            3 => RoundStatus::Failed,
            _ => RoundStatus::NoCandidates,
        }
    }
    fn round(&mut self) -> RoundView {
        RoundView {
            round: self.u64(),
            record: RoundRecord {
                status: self.status(),
                terms: self.terms(),
                submitters: self.u64(),
                seed: self.opt(G::hash),
                candidates: self.vec(G::pk),
                current_attempt: self.u16(),
            },
            submissions: self.vec(|g| (g.pk(), g.submission())),
            audits: self.vec(|g| (g.pk(), g.audit())),
            attempts: self.vec(|g| (g.u16(), g.attempt())),
        }
    }
    /// A task view as the ledger builds it: its clock is its params', and the queued-draw
    /// bookkeeping (not on the wire) is zero.
    fn task(&mut self) -> TaskView {
        let params = self.params();
        let starting_slot = self.u64();
        TaskView {
            id: self.hash(),
            clock: Clock::new(starting_slot, &params),
            record: TaskRecord {
                manager: self.pk(),
                params,
                starting_slot,
                total_bounty: self.u64(),
                reserved_bounty: self.u64(),
                is_active: self.bool(),
                closed: self.bool(),
                pending_params: self.opt(G::params),
                open_rounds: self.u64(),
                paid_total_roe: self.u64(),
                terms_log: self.vec(|g| (g.u64(), g.terms())),
                queued_draws: 0,
                queued_draw_seats: 0,
            },
            phase: Phase {
                round: self.u64(),
                open: self.vec(|g| (g.window(), g.u64(), g.u64())),
            },
            stakers: self.u64(),
            total_stake: self.u64(),
            stakes: self.opt(|g| g.vec(|g| (g.pk(), g.stake()))),
            rewards: self.opt(|g| g.vec(|g| (g.pk(), g.u64()))),
            rounds: self.opt(|g| g.vec(G::round)),
        }
    }
    fn validator(&mut self) -> ValidatorInfo {
        ValidatorInfo {
            id: self.pk(),
            vrf_key: VrfPublicKey(self.b32()),
        }
    }
    fn vrf_proof(&mut self) -> VrfProof {
        let mut proof = [0u8; 64];
        proof[..32].copy_from_slice(&self.b32());
        proof[32..].copy_from_slice(&self.b32());
        VrfProof {
            preout: self.b32(),
            proof,
        }
    }
    fn faucet(&mut self) -> Faucet {
        Faucet {
            authority: self.pk(),
            mint_max_roe: self.u64(),
            recipient_max_roe: self.u64(),
            recipient_window_slots: self.u64(),
            cap_roe: self.u64(),
        }
    }
    fn genesis(&mut self) -> Genesis {
        Genesis {
            protocol_version: self.u32(),
            chain_id: self.text(),
            slot_ms: self.u64(),
            fee_roe: self.u64(),
            tx_max_age_slots: self.u64(),
            block_max_bytes: self.u64(),
            block_max_txs: self.u32(),
            faucet: self.opt(G::faucet),
            accounts: self.vec(|g| (g.pk(), g.u64())),
            validators: self.vec(G::validator),
            admin: self.opt(G::pk),
        }
    }
    fn instruction(&mut self) -> Instruction {
        let task = self.hash();
        match self.u64() % 20 {
            0 => Instruction::Transfer {
                to: self.pk(),
                amount: self.u64(),
            },
            1 => Instruction::FaucetMint {
                to: self.pk(),
                amount: self.u64(),
            },
            2 => Instruction::CreateTask {
                nonce: self.u64(),
                params: self.params(),
                total_bounty: self.u64(),
            },
            3 => Instruction::FundTask {
                task,
                amount: self.u64(),
            },
            4 => Instruction::UpdateTask {
                task,
                params: self.params(),
            },
            5 => Instruction::SetActive {
                task,
                active: self.bool(),
            },
            6 => Instruction::CloseTask { task },
            7 => Instruction::Stake {
                task,
                amount: self.u64(),
                url: self.text(),
                owner: self.opt(G::pk),
            },
            8 => Instruction::SetNodeUrl {
                task,
                url: self.text(),
            },
            9 => Instruction::SetStakeOwner {
                task,
                node: self.pk(),
                owner: self.pk(),
            },
            10 => Instruction::SetValidators {
                validators: self.vec(G::validator),
                from_slot: self.u64(),
            },
            11 => Instruction::Unstake { task },
            12 => Instruction::Withdraw { task },
            13 => Instruction::Claim { task },
            14 => Instruction::SubmitProof {
                task,
                round: self.u64(),
                value: self.bytes(),
            },
            15 => Instruction::AuditProof {
                task,
                round: self.u64(),
                candidate: self.pk(),
                verdict: self.verdict(),
            },
            16 => Instruction::AuditProofs {
                task,
                round: self.u64(),
                votes: self.votes(),
            },
            17 => Instruction::UploadDistributionChunk {
                task,
                round: self.u64(),
                attempt: self.u16(),
                index: self.u32(),
                entries: self.vec(|g| (g.pk(), g.u64())),
            },
            18 => Instruction::SubmitDistribution {
                task,
                round: self.u64(),
                attempt: self.u16(),
                digest: self.hash(),
                count: self.u32(),
            },
            _ => Instruction::AuditDistribution {
                task,
                round: self.u64(),
                attempt: self.u16(),
                verdict: self.verdict(),
            },
        }
    }
    fn tx_error(&mut self) -> TxError {
        match self.u64() % 4 {
            0 => TxError::Duplicate,
            1 => TxError::NothingToClaim,
            2 => TxError::BadSignature { signer: self.pk() },
            _ => TxError::FeeTooLow {
                offered: self.u64(),
                required: self.u64(),
            },
        }
    }
    /// A block with signed transactions and their receipts, as `getBlock` shows it.
    fn block(&mut self) -> BlockDto {
        let kp = Keypair::from_seed(self.b32());
        let txs: Vec<Transaction> = self.vec(|g| {
            let ix = g.instruction();
            Transaction::new_signed(&kp, &g.text(), g.u64(), g.u64(), ix)
        });
        let receipts: Vec<Receipt> = txs
            .iter()
            .map(|t| Receipt {
                tx: t.signature,
                result: if self.bool() {
                    Ok(())
                } else {
                    Err(self.tx_error())
                },
                fee_charged: self.u64(),
            })
            .collect();
        let b = Block {
            header: BlockHeader {
                slot: self.u64(),
                height: self.u64(),
                parent_hash: self.hash(),
                producer: self.pk(),
                randomness: self.hash(),
                vrf_proof: self.vrf_proof(),
                tx_root: self.hash(),
                state_root: self.hash(),
                tx_count: txs.len() as u32,
            },
            txs,
        };
        let page = self.opt(|g| TxPage {
            offset: (g.u64() % 4) as usize,
            limit: (g.u64() % 5) as usize,
            max_bytes: usize::MAX,
        });
        convert::block(&b, &receipts, page)
    }
    fn head(&mut self) -> HeadDto {
        HeadDto {
            slot: self.u64(),
            height: self.u64(),
            hash: self.hash(),
            state_root: self.hash(),
        }
    }
    fn flags(&mut self) -> TaskFlags {
        TaskFlags {
            submissions: self.bool(),
            distributions: self.bool(),
            stakes: self.bool(),
            rewards: self.bool(),
        }
    }
    fn tally(&mut self) -> TallyDto {
        TallyDto {
            valid: self.u32(),
            invalid: self.u32(),
            abstain: self.u32(),
        }
    }
}

/// `decode(encode(x)) == x`.
fn pair<R, D>(x: R)
where
    R: Clone + PartialEq + Debug,
    for<'a> D: From<&'a R>,
    for<'a> R: From<&'a D>,
{
    let dto = D::from(&x);
    assert_eq!(R::from(&dto), x);
}

fn json<T: Serialize + DeserializeOwned + PartialEq + Debug>(dto: &T) -> &'static str {
    let text = serde_json::to_string(dto).unwrap();
    let back: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(&back, dto, "{text}");
    std::any::type_name::<T>().rsplit("::").next().unwrap_or("")
}

/// Every record ↔ DTO pair of `convert`.
fn record_pairs(g: &mut G) {
    pair::<_, TermsEntryDto>((g.u64(), g.terms()));
    pair::<_, OpenWindowDto>((g.window(), g.u64(), g.u64()));
    pair::<_, SeatDto>((g.pk(), g.u16()));
    pair::<_, CommitteeDto>(g.committee());
    pair::<_, VoteDto>((g.pk(), g.verdict()));
    pair::<_, EntryDto>((g.pk(), g.u64()));
    pair::<_, VrfProofDto>(g.vrf_proof());
    let a = g.attempt();

    // Keyed records: the key travels inside the DTO.
    let (task, node) = (g.hash(), g.pk());
    let s = g.stake();
    assert_eq!(
        <(Pubkey, StakeRecord)>::from(&convert::stake(&task, &node, &s)),
        (node, s)
    );
    let amount = g.u64();
    let r = RewardDto::from((&task, &node, amount));
    assert_eq!(<(Pubkey, u64)>::from(&r), (node, amount));
    let sub = g.submission();
    assert_eq!(
        <(Pubkey, SubmissionRecord)>::from(&convert::submission(&node, &sub)),
        (node, sub)
    );
    let au = g.audit();
    assert_eq!(
        <(Pubkey, AuditRecord)>::from(&convert::audit(&node, &au)),
        (node, au)
    );
    let i = g.u16();
    let entries = g.opt(|g| g.vec(|g| (g.pk(), g.u64())));
    let dto = convert::attempt(i, &a, entries.clone());
    assert_eq!(<(u16, AttemptRecord)>::from(&dto), (i, a));
    let back: Option<Vec<(Pubkey, u64)>> = dto
        .entries
        .map(|e| e.iter().map(<(Pubkey, u64)>::from).collect());
    assert_eq!(back, entries);

    // Whole rounds and tasks, with every part asked for and no cap.
    let round = g.round();
    assert_eq!(
        RoundView::from(&convert::round(&round, true, true, usize::MAX)),
        round
    );
    let view = g.task();
    let all = TaskFlags {
        submissions: true,
        distributions: true,
        stakes: true,
        rewards: true,
    };
    let dto = convert::task(&view, g.u64(), all, usize::MAX, None);
    assert_eq!(TaskView::from(&dto), view);
}

/// Every DTO type through JSON; returns the names it checked.
fn json_round_trips(g: &mut G) -> BTreeSet<&'static str> {
    let mut seen = BTreeSet::new();
    let mut add = |name: &'static str| {
        seen.insert(name);
    };
    let view = g.task();
    let flags = g.flags();
    let task = convert::task(&view, g.u64(), flags, 2, g.opt(G::pk).as_ref());
    add(json(&task));
    add(json(&task.params));
    add(json(&task.params.executable));
    for e in &task.terms_log {
        add(json(e));
        add(json(&e.terms));
    }
    let round = convert::round(&g.round(), true, true, 3);
    add(json(&round));
    add(json(&round.record.status));
    add(json(&round.record.terms));
    let a = g.attempt();
    let attempt = convert::attempt(g.u16(), &a, g.opt(|g| g.vec(|g| (g.pk(), g.u64()))));
    add(json(&attempt));
    add(json(&attempt.upload));
    let list = SubmittedList {
        digest: g.hash(),
        count: g.u32(),
        chunks: g.u32(),
        total_roe: g.u64(),
        slot: g.u64(),
        seed: g.hash(),
    };
    add(json(&list));
    add(json(&g.attempt_outcome()));
    add(json(&EntryDto::from(&(g.pk(), g.u64()))));
    let audit = convert::audit(&g.pk(), &g.audit());
    add(json(&audit));
    add(json(&audit.voting));
    add(json(&g.audit_outcome()));
    let committee = convert::committee(&g.committee());
    add(json(&committee));
    add(json(&SeatDto::from(&(g.pk(), g.u16()))));
    add(json(&VoteDto::from(&(g.pk(), g.verdict()))));
    add(json(&g.tally()));
    add(json(&convert::submission(&g.pk(), &g.submission())));
    let stake = convert::stake(&g.hash(), &g.pk(), &g.stake());
    add(json(&stake));
    let reward = RewardDto::from((&g.hash(), &g.pk(), g.u64()));
    add(json(&reward));
    add(json(&OpenWindowDto::from(&(g.window(), g.u64(), g.u64()))));
    let status = g.status();

    let genesis = convert::genesis(&g.genesis(), g.bool());
    add(json(&genesis));
    add(json(&g.faucet()));
    add(json(&g.validator()));
    let block = g.block();
    add(json(&block));
    add(json(&block.vrf_proof));
    let signer = g.pk();
    add(json(&convert::instruction(&signer, &g.instruction())));
    let err = convert::tx_error(&g.tx_error());
    add(json(&err));
    for tx in block.transactions.iter().flatten() {
        add(json(tx));
    }
    add(json(&TxDto {
        signature: Signature([1; 64]).to_base58(),
        signer: signer.to_base58(),
        instruction: g.text(),
        recent_slot: g.u64(),
        fee: g.u64(),
        fee_charged: g.u64(),
        err: g.opt(|_| err.clone()),
        details: g.opt(|g| convert::instruction(&signer, &g.instruction())),
    }));
    let head = g.head();
    add(json(&head));
    add(json(&WaitDto {
        reached: g.bool(),
        head,
    }));
    let state = if g.bool() {
        TxState::Pending
    } else {
        TxState::Processed
    };
    add(json(&state));
    add(json(&SignatureStatusDto {
        signature: Signature([7; 64]),
        state,
        slot: g.opt(G::u64),
        err: g.opt(|_| err.clone()),
    }));
    add(json(&AccountDto {
        pubkey: g.pk(),
        balance: g.u64(),
        stakes: vec![stake],
        pending_rewards: vec![reward],
        next: g.opt(G::hash),
    }));
    let summary = TaskSummaryDto {
        id: g.hash(),
        name: g.text(),
        manager: g.pk(),
        is_active: g.bool(),
        closed: g.bool(),
        total_bounty: g.u64(),
        bounty_per_round: g.u64(),
        round_time: g.u64(),
        current_round: g.u64(),
        stakers: g.u64(),
        total_stake: g.u64(),
    };
    add(json(&summary));
    add(json(&TasksPageDto {
        tasks: vec![summary],
        next: g.opt(G::hash),
    }));
    add(json(&SubmissionInfoDto {
        task: g.hash(),
        round: g.u64(),
        status: status.clone(),
        submissions: round.submissions.clone().unwrap_or_default(),
        audits: vec![audit],
        next: g.opt(G::pk),
    }));
    add(json(&DistributionInfoDto {
        task: g.hash(),
        round: g.u64(),
        status,
        seed: g.opt(G::hash),
        candidates: g.vec(G::pk),
        current_attempt: g.u16(),
        attempts: vec![attempt],
        entries_attempt: g.opt(G::u16),
        next_offset: g.opt(G::u64),
    }));
    add(json(&CandidatesDto {
        task: g.hash(),
        round: g.u64(),
        seed: g.opt(G::hash),
        candidates: g.vec(G::pk),
        current_attempt: g.u16(),
    }));
    add(json(&AuditCommitteeDto {
        task: g.hash(),
        round: g.u64(),
        candidate: g.opt(G::pk),
        attempt: g.opt(G::u16),
        committee: Some(committee),
        votes: convert::votes(&g.votes()),
        tally: g.tally(),
    }));
    add(json(&ArtifactDto {
        digest: g.hash(),
        size: g.u64(),
        url: g.text(),
    }));
    seen
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn records_survive_encode_then_decode(seed in 1..u64::MAX) {
        record_pairs(&mut G(seed));
    }

    #[test]
    fn dtos_survive_json(seed in 1..u64::MAX) {
        json_round_trips(&mut G(seed));
    }
}

/// The DTO types declared in the crate's source (structs, enums and records used as DTOs).
fn declared_dtos() -> BTreeSet<String> {
    let src = [
        include_str!("../src/dto.rs"),
        include_str!("../src/dto/task.rs"),
    ];
    src.iter()
        .flat_map(|s| s.lines())
        .filter_map(|l| {
            // A record that is its own DTO (`pub type XDto = gradual_types::X;`) goes by the
            // record's name.
            if let Some(alias) = l.strip_prefix("pub type ") {
                let target = alias.split('=').nth(1)?.trim().trim_end_matches(';');
                return Some(target.rsplit("::").next()?.to_string());
            }
            let rest = l
                .strip_prefix("pub struct ")
                .or_else(|| l.strip_prefix("pub enum "))?;
            Some(rest.split([' ', '{', '(', '<']).next()?.to_string())
        })
        .collect()
}

#[test]
fn every_dto_has_a_json_round_trip() {
    let mut checked = BTreeSet::new();
    // Some shapes appear only for some seeds (optional parts, outcome variants).
    for seed in 1..200 {
        checked.extend(json_round_trips(&mut G(seed)));
    }
    let declared = declared_dtos();
    assert!(declared.len() >= 40, "{declared:?}");
    let missing: Vec<_> = declared
        .iter()
        .filter(|d| !checked.contains(d.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "DTOs without a JSON round trip in json_round_trips: {missing:?}"
    );
}

#[test]
fn the_json_of_typed_fields_is_the_documented_strings() {
    let node = Pubkey([9; 32]);
    let v = serde_json::to_value(VoteDto {
        node,
        verdict: Verdict::Abstain,
    })
    .unwrap();
    assert_eq!(
        v,
        serde_json::json!({"node": node.to_base58(), "verdict": "abstain"})
    );
    let s = convert::submission(
        &node,
        &SubmissionRecord {
            value: vec![0, 1],
            slot: 3,
            voided: false,
        },
    );
    assert_eq!(serde_json::to_value(&s).unwrap()["value"], "AAE=");
    let w = OpenWindowDto::from(&(Window::DistributionAudit, 1, 2));
    assert_eq!(
        serde_json::to_value(&w).unwrap()["window"],
        "distribution_audit"
    );
    let u = UploadDto::default();
    assert_eq!(
        serde_json::to_value(&u).unwrap(),
        serde_json::json!({"chunks": 0, "entries": 0, "total": 0, "last_node": null, "digest": null})
    );
    // Records that are their own DTOs keep the wire's names: amounts without `_roe`,
    // variants tagged in snake case.
    let paid = RoundStatusDto::Paid {
        attempt: 1,
        total_roe: 5,
    };
    assert_eq!(
        serde_json::to_value(&paid).unwrap(),
        serde_json::json!({"status": "paid", "attempt": 1, "total": 5})
    );
    let outcome = AttemptOutcomeDto::PayoutSuccessful { total_roe: 7 };
    assert_eq!(
        serde_json::to_value(&outcome).unwrap(),
        serde_json::json!({"result": "payout_successful", "total": 7})
    );
    let list = SubmittedListDto {
        digest: Hash([1; 32]),
        count: 2,
        chunks: 1,
        total_roe: 9,
        slot: 4,
        seed: Hash([2; 32]),
    };
    assert_eq!(
        serde_json::to_value(&list).unwrap(),
        serde_json::json!({"digest": Hash([1; 32]).to_base58(), "count": 2, "chunks": 1,
            "total": 9, "slot": 4, "seed": Hash([2; 32]).to_base58()})
    );
    // A malformed key is refused when the DTO is read, naming what was expected.
    let e = serde_json::from_value::<SeatDto>(serde_json::json!({"node": "0OIl", "seats": 1}))
        .unwrap_err();
    assert!(e.to_string().contains("base58"), "{e}");
}
