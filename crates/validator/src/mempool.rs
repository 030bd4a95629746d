//! A bounded, fair mempool of transactions waiting for a block (SPEC §1 [v2]: "keep the
//! mempool fair across signers and tasks"). Transactions reach it only after the door checks
//! (decode, limits, signature, fee); the ledger re-checks everything when it applies them.
//!
//! - **Lanes.** Each task has its own FIFO lane (its id is the instruction's task); every
//!   other transaction (transfers, mints, validator-set changes) shares one lane. A block is
//!   filled round-robin across lanes, one transaction per lane per turn, so a flood on one
//!   task cannot delay another task's proofs or votes past its window: with `L` busy lanes a
//!   transaction at position `p` of its lane is in a block within `⌈p·L / block_max_txs⌉`
//!   blocks, whatever the other lanes hold.
//! - **Per-signer quota.** A signer has at most [`SIGNER_PENDING_MAX`] transactions waiting
//!   (or in the block being produced); more are refused at the door.
//! - **Full mempool.** When it is full, a transaction whose lane is shorter than the longest
//!   lane evicts the newest transaction of the longest lane (which then vanishes: its status
//!   becomes unknown and its sender signs it again); otherwise it is refused.

use gradual_types::{task_id, Instruction, Pubkey, Signature, TaskId, Transaction};
use std::collections::{HashMap, HashSet, VecDeque};

/// Transactions one signer may have waiting at once. An honest node's largest burst is one
/// distribution list: up to `DISTRIBUTION_CHUNKS_MAX` (1,000) chunks and its submission.
pub const SIGNER_PENDING_MAX: usize = 1_024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("mempool is full ({max} transactions waiting); retry in a few slots")]
    Full { max: usize },
    #[error("transaction is already waiting in the mempool")]
    AlreadyPending,
    #[error("signer {signer} already has {max} transactions waiting; wait for them to land")]
    SignerQuota { signer: Pubkey, max: usize },
}

/// Which lane a transaction waits in: its task, or `None` for everything else.
pub type Lane = Option<TaskId>;

/// The lane of a transaction: the task its instruction acts on.
pub fn lane_of(tx: &Transaction) -> Lane {
    use Instruction as I;
    match &tx.message.instruction {
        I::Transfer { .. } | I::FaucetMint { .. } | I::SetValidators { .. } => None,
        I::CreateTask { nonce, .. } => Some(task_id(&tx.message.signer, *nonce)),
        I::FundTask { task, .. }
        | I::UpdateTask { task, .. }
        | I::SetActive { task, .. }
        | I::CloseTask { task }
        | I::Stake { task, .. }
        | I::SetNodeUrl { task, .. }
        | I::SetStakeOwner { task, .. }
        | I::Unstake { task }
        | I::Withdraw { task }
        | I::Claim { task }
        | I::SubmitProof { task, .. }
        | I::AuditProof { task, .. }
        | I::AuditProofs { task, .. }
        | I::UploadDistributionChunk { task, .. }
        | I::SubmitDistribution { task, .. }
        | I::AuditDistribution { task, .. } => Some(*task),
    }
}

struct Entry {
    tx: Transaction,
    bytes: usize,
}

pub struct Mempool {
    lanes: HashMap<Lane, VecDeque<Entry>>,
    /// Non-empty lanes in serving order; the front is served next.
    turn: VecDeque<Lane>,
    /// Ids waiting in a lane plus those taken by the block being produced, so a status
    /// query never sees a transaction vanish between the mempool and the store.
    pending: HashSet<Signature>,
    /// Transactions per signer in `pending`.
    per_signer: HashMap<Pubkey, usize>,
    in_flight: Vec<(Signature, Pubkey)>,
    len: usize,
    max: usize,
    /// A signer the quota does not apply to (the validator's own faucet key).
    exempt: Option<Pubkey>,
}

impl Mempool {
    pub fn new(max: usize) -> Mempool {
        assert!(max > 0, "mempool capacity must be positive");
        Mempool {
            lanes: HashMap::new(),
            turn: VecDeque::new(),
            pending: HashSet::new(),
            per_signer: HashMap::new(),
            in_flight: Vec::new(),
            len: 0,
            max,
            exempt: None,
        }
    }

    /// Exempt `signer` from the per-signer quota (the validator's faucet, whose mints
    /// `requestAirdrop` limits by itself).
    pub fn with_exempt(mut self, signer: Option<Pubkey>) -> Mempool {
        self.exempt = signer;
        self
    }

    pub fn push(&mut self, tx: Transaction) -> Result<(), PushError> {
        if self.pending.contains(&tx.signature) {
            return Err(PushError::AlreadyPending);
        }
        let signer = tx.message.signer;
        let mine = self.per_signer.get(&signer).copied().unwrap_or(0);
        if mine >= SIGNER_PENDING_MAX && self.exempt != Some(signer) {
            return Err(PushError::SignerQuota {
                signer,
                max: SIGNER_PENDING_MAX,
            });
        }
        let lane = lane_of(&tx);
        if self.len >= self.max {
            let own = self.lanes.get(&lane).map_or(0, VecDeque::len);
            let longest = self
                .lanes
                .iter()
                .max_by_key(|(_, q)| q.len())
                .map(|(l, q)| (*l, q.len()));
            match longest {
                Some((victim, n)) if own + 1 < n => self.evict_newest(victim),
                _ => return Err(PushError::Full { max: self.max }),
            }
        }
        self.pending.insert(tx.signature);
        *self.per_signer.entry(signer).or_insert(0) += 1;
        let bytes = tx.encode().len();
        let q = self.lanes.entry(lane).or_default();
        if q.is_empty() {
            self.turn.push_back(lane);
        }
        q.push_back(Entry { tx, bytes });
        self.len += 1;
        debug_assert!(self.len <= self.max);
        Ok(())
    }

    fn evict_newest(&mut self, lane: Lane) {
        let Some(q) = self.lanes.get_mut(&lane) else {
            return;
        };
        let Some(e) = q.pop_back() else {
            return;
        };
        if q.is_empty() {
            self.lanes.remove(&lane);
            self.turn.retain(|l| *l != lane);
        }
        self.len -= 1;
        self.pending.remove(&e.tx.signature);
        self.release_signer(&e.tx.message.signer);
        tracing::debug!(signature = %e.tx.signature, "mempool: evicted from the longest lane");
    }

    fn release_signer(&mut self, signer: &Pubkey) {
        if let Some(n) = self.per_signer.get_mut(signer) {
            *n -= 1;
            if *n == 0 {
                self.per_signer.remove(signer);
            }
        }
    }

    /// Take up to `n` transactions holding at most `max_bytes` (encoded) for the next block,
    /// one per lane per turn, oldest first within a lane. They count as pending until
    /// [`Mempool::finish_block`].
    pub fn take(&mut self, n: usize, max_bytes: usize) -> Vec<Transaction> {
        assert!(
            self.in_flight.is_empty(),
            "take called twice without finish_block"
        );
        let mut out = Vec::new();
        let mut bytes = 0usize;
        // A lane whose next transaction does not fit in the bytes left is skipped for the
        // rest of this block; stop once every lane was skipped in a row.
        let mut skipped = 0usize;
        while out.len() < n && skipped < self.turn.len() {
            let Some(lane) = self.turn.pop_front() else {
                break;
            };
            let Some(q) = self.lanes.get_mut(&lane) else {
                continue;
            };
            let fits = q
                .front()
                .is_some_and(|e| bytes.saturating_add(e.bytes) <= max_bytes);
            if !fits {
                self.turn.push_back(lane);
                skipped += 1;
                continue;
            }
            skipped = 0;
            let Some(e) = q.pop_front() else {
                continue;
            };
            if q.is_empty() {
                self.lanes.remove(&lane);
            } else {
                self.turn.push_back(lane);
            }
            bytes += e.bytes;
            self.len -= 1;
            self.in_flight.push((e.tx.signature, e.tx.message.signer));
            out.push(e.tx);
        }
        out
    }

    /// The block holding the taken transactions is committed (their status is now in the
    /// store).
    pub fn finish_block(&mut self) {
        for (id, signer) in std::mem::take(&mut self.in_flight) {
            self.pending.remove(&id);
            self.release_signer(&signer);
        }
        debug_assert_eq!(self.pending.len(), self.len);
    }

    pub fn contains(&self, id: &Signature) -> bool {
        self.pending.contains(id)
    }

    /// Transactions waiting (not counting those in the block being produced).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_types::{Hash, Keypair};

    fn transfer(seed: u8, i: u64) -> Transaction {
        Transaction::new_signed(
            &Keypair::from_seed([seed; 32]),
            "t",
            i,
            0,
            Instruction::Transfer {
                to: Pubkey([2; 32]),
                amount: 1,
            },
        )
    }

    fn proof(seed: u8, task: u8, round: u64) -> Transaction {
        Transaction::new_signed(
            &Keypair::from_seed([seed; 32]),
            "t",
            round,
            0,
            Instruction::SubmitProof {
                task: Hash([task; 32]),
                round,
                value: vec![1],
            },
        )
    }

    const ANY: usize = usize::MAX;

    #[test]
    fn bounded_with_dedup_and_in_flight_tracking() {
        let tx = |i| transfer(1, i);
        let mut m = Mempool::new(2);
        m.push(tx(1)).unwrap();
        assert_eq!(m.push(tx(1)), Err(PushError::AlreadyPending));
        m.push(tx(2)).unwrap();
        assert_eq!(m.push(tx(3)), Err(PushError::Full { max: 2 }));
        let taken = m.take(1, ANY);
        assert_eq!(taken, vec![tx(1)]);
        assert!(m.contains(&tx(1).signature), "in flight still counts");
        assert_eq!(m.len(), 1);
        m.push(tx(3)).unwrap();
        m.finish_block();
        assert!(!m.contains(&tx(1).signature));
        assert!(m.contains(&tx(2).signature));
        assert_eq!(m.take(10, ANY).len(), 2);
        m.finish_block();
        assert!(m.is_empty());
    }

    #[test]
    fn signer_quota_refuses_the_signer_over_it_and_frees_on_commit() {
        let mut m = Mempool::new(SIGNER_PENDING_MAX * 2);
        for i in 0..SIGNER_PENDING_MAX as u64 {
            m.push(transfer(1, i)).unwrap();
        }
        let over = transfer(1, SIGNER_PENDING_MAX as u64);
        assert!(matches!(
            m.push(over.clone()),
            Err(PushError::SignerQuota {
                max: SIGNER_PENDING_MAX,
                ..
            })
        ));
        // Another signer is not affected.
        m.push(transfer(2, 0)).unwrap();
        // In flight still counts; committed frees the quota.
        m.take(1, ANY);
        assert!(matches!(
            m.push(over.clone()),
            Err(PushError::SignerQuota { .. })
        ));
        m.finish_block();
        m.push(over).unwrap();
        // The exempt signer (the faucet) has no quota.
        let mut m = Mempool::new(SIGNER_PENDING_MAX * 2)
            .with_exempt(Some(Keypair::from_seed([1; 32]).pubkey()));
        for i in 0..=SIGNER_PENDING_MAX as u64 {
            m.push(transfer(1, i)).unwrap();
        }
    }

    #[test]
    fn a_flooded_task_cannot_delay_another_tasks_proofs() {
        let mut m = Mempool::new(1_000);
        // 900 proofs on task 7 from many signers, then one proof on task 9.
        for i in 0..900u64 {
            m.push(proof((i % 200) as u8, 7, i)).unwrap();
        }
        let honest = proof(250, 9, 1);
        m.push(honest.clone()).unwrap();
        // A block of 10 serves both lanes: the honest proof is in the first block.
        let block = m.take(10, ANY);
        assert_eq!(block.len(), 10);
        assert!(block.contains(&honest), "round-robin serves task 9 at once");
        m.finish_block();
    }

    #[test]
    fn a_full_mempool_evicts_from_the_longest_lane_not_the_short_one() {
        let mut m = Mempool::new(100);
        for i in 0..100u64 {
            m.push(proof((i % 50) as u8, 7, i)).unwrap();
        }
        // The flood fills the pool; its own next transaction is refused...
        assert_eq!(m.push(proof(60, 7, 500)), Err(PushError::Full { max: 100 }));
        // ...but another task's proof gets in, evicting the flood's newest.
        let honest = proof(250, 9, 1);
        let evicted = proof((99 % 50) as u8, 7, 99);
        m.push(honest.clone()).unwrap();
        assert_eq!(m.len(), 100);
        assert!(m.contains(&honest.signature));
        assert!(!m.contains(&evicted.signature));
        assert!(m.take(2, ANY).contains(&honest));
        m.finish_block();
    }

    #[test]
    fn take_respects_the_byte_budget() {
        let mut m = Mempool::new(10);
        let a = transfer(1, 1);
        let size = a.encode().len();
        m.push(a.clone()).unwrap();
        m.push(transfer(1, 2)).unwrap();
        m.push(proof(3, 7, 1)).unwrap();
        let got = m.take(10, size);
        assert_eq!(got, vec![a]);
        m.finish_block();
        assert_eq!(m.len(), 2);
        assert_eq!(m.take(10, 0), vec![]);
        m.finish_block();
    }
}
