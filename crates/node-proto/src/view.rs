//! What a node reads from the ledger. The node's shell implements it over RPC; the simulator
//! and tests implement it over an in-process [`Ledger`].

use gradual_ledger::state::{
    terms_in_force, AttemptRecord, AuditRecord, RoundRecord, RoundTerms, StakeRecord,
    SubmissionRecord,
};
use gradual_ledger::{Clock, Ledger};
use gradual_types::{Pubkey, Slot, TaskId, TaskParams};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// The parts of a task account the scheduler needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    pub clock: Clock,
    pub params: TaskParams,
    pub is_active: bool,
    pub closed: bool,
    /// Bounty a new list may still use: `total_bounty − reserved_bounty`.
    pub available_bounty: u64,
    /// Round terms by the round they start at, oldest first (SPEC §2 *Round terms*).
    pub terms_log: Vec<(u64, RoundTerms)>,
}

impl TaskInfo {
    /// The terms round `round` runs under; the current parameters if the log is empty.
    pub fn terms_for(&self, round: u64) -> RoundTerms {
        terms_in_force(&self.terms_log, round)
            .cloned()
            .unwrap_or_else(|| RoundTerms::of(&self.params, self.is_active))
    }
}

/// Read-only ledger state, as of the last block the node has seen.
pub trait LedgerView {
    /// Slot of the last block.
    fn slot(&self) -> Slot;
    /// The chain's slot length (genesis `slot_ms`): it sets each task's vote window
    /// (SPEC §5, `constants::vote_window_slots`).
    fn slot_ms(&self) -> u64;
    /// Slots a transaction stays valid after its recent slot (genesis `tx_max_age_slots`):
    /// a `Stake`, which adds up, is sent again only once the last one can no longer land.
    fn tx_max_age_slots(&self) -> u64;
    fn task(&self, task: &TaskId) -> Option<TaskInfo>;
    fn stake(&self, task: &TaskId, node: &Pubkey) -> Option<StakeRecord>;
    fn submission(&self, task: &TaskId, round: u64, node: &Pubkey) -> Option<SubmissionRecord>;
    /// Every submitter of `round`, sorted by key, with whether its proof was voided.
    fn submitters(&self, task: &TaskId, round: u64) -> Rc<Vec<(Pubkey, bool)>>;
    /// Candidates of `round` with an audit raised, sorted by key.
    fn audited(&self, task: &TaskId, round: u64) -> Rc<Vec<Pubkey>>;
    fn audit(&self, task: &TaskId, round: u64, candidate: &Pubkey) -> Option<AuditRecord>;
    /// Candidates of `round` whose audit committee gives `node` a seat, sorted by key.
    ///
    /// The default reads every raised audit. A view shared by many nodes should index the
    /// seats once ([`CachedView`] does): with `A` audits and `N` nodes the default costs
    /// `O(N·A)` record reads per slot, the index `O(A·K)`.
    fn seated_audits(&self, task: &TaskId, round: u64, node: &Pubkey) -> Vec<Pubkey> {
        self.audited(task, round)
            .iter()
            .filter(|c| {
                self.audit(task, round, c)
                    .and_then(|a| a.committee)
                    .is_some_and(|k| k.seats_of(node) > 0)
            })
            .copied()
            .collect()
    }
    fn round_record(&self, task: &TaskId, round: u64) -> Option<RoundRecord>;
    fn attempt(&self, task: &TaskId, round: u64, attempt: u16) -> Option<AttemptRecord>;
    fn distribution_list(&self, task: &TaskId, round: u64, attempt: u16) -> Vec<(Pubkey, u64)>;
    fn pending_reward(&self, task: &TaskId, node: &Pubkey) -> u64;
    fn balance(&self, node: &Pubkey) -> u64;
}

/// A view over an in-process ledger that computes each round's shared lists once, however
/// many nodes ask (the simulator runs thousands of nodes against one view per slot).
pub struct CachedView<'a> {
    ledger: &'a Ledger,
    submitters: RoundCache<Vec<(Pubkey, bool)>>,
    audited: RoundCache<Vec<Pubkey>>,
    /// Per round: seat holder → candidates whose committee seats it (sorted).
    seated: RoundCache<BTreeMap<Pubkey, Vec<Pubkey>>>,
}

/// A per-(task, round) value computed once per view.
type RoundCache<T> = RefCell<BTreeMap<(TaskId, u64), Rc<T>>>;

impl<'a> CachedView<'a> {
    pub fn new(ledger: &'a Ledger) -> Self {
        CachedView {
            ledger,
            submitters: RefCell::default(),
            audited: RefCell::default(),
            seated: RefCell::default(),
        }
    }

    pub fn ledger(&self) -> &Ledger {
        self.ledger
    }
}

impl LedgerView for CachedView<'_> {
    fn slot(&self) -> Slot {
        self.ledger.slot()
    }

    fn slot_ms(&self) -> u64 {
        self.ledger.genesis().slot_ms
    }

    fn tx_max_age_slots(&self) -> u64 {
        self.ledger.genesis().tx_max_age_slots
    }

    fn task(&self, task: &TaskId) -> Option<TaskInfo> {
        let t = self.ledger.task(task)?;
        Some(TaskInfo {
            clock: self.ledger.clock(task)?,
            params: t.params.clone(),
            is_active: t.is_active,
            closed: t.closed,
            available_bounty: t.total_bounty - t.reserved_bounty,
            terms_log: t.terms_log.clone(),
        })
    }

    fn stake(&self, task: &TaskId, node: &Pubkey) -> Option<StakeRecord> {
        self.ledger.stake(task, node).cloned()
    }

    fn submission(&self, task: &TaskId, round: u64, node: &Pubkey) -> Option<SubmissionRecord> {
        self.ledger.submission(task, round, node).cloned()
    }

    fn submitters(&self, task: &TaskId, round: u64) -> Rc<Vec<(Pubkey, bool)>> {
        self.submitters
            .borrow_mut()
            .entry((*task, round))
            .or_insert_with(|| {
                Rc::new(
                    self.ledger
                        .submissions(task, round)
                        .into_iter()
                        .map(|(n, s)| (n, s.voided))
                        .collect(),
                )
            })
            .clone()
    }

    fn audited(&self, task: &TaskId, round: u64) -> Rc<Vec<Pubkey>> {
        self.audited
            .borrow_mut()
            .entry((*task, round))
            .or_insert_with(|| {
                Rc::new(
                    self.ledger
                        .audits(task, round)
                        .into_iter()
                        .map(|(n, _)| n)
                        .collect(),
                )
            })
            .clone()
    }

    fn audit(&self, task: &TaskId, round: u64, candidate: &Pubkey) -> Option<AuditRecord> {
        self.ledger.audit(task, round, candidate).cloned()
    }

    fn seated_audits(&self, task: &TaskId, round: u64, node: &Pubkey) -> Vec<Pubkey> {
        let index = self
            .seated
            .borrow_mut()
            .entry((*task, round))
            .or_insert_with(|| {
                let mut index: BTreeMap<Pubkey, Vec<Pubkey>> = BTreeMap::new();
                // `audits` is sorted by candidate, so every list comes out sorted.
                for (cand, audit) in self.ledger.audits(task, round) {
                    for (holder, _) in audit.committee.iter().flat_map(|c| c.seats.iter()) {
                        index.entry(*holder).or_default().push(cand);
                    }
                }
                Rc::new(index)
            })
            .clone();
        index.get(node).cloned().unwrap_or_default()
    }

    fn round_record(&self, task: &TaskId, round: u64) -> Option<RoundRecord> {
        self.ledger.round_record(task, round).cloned()
    }

    fn attempt(&self, task: &TaskId, round: u64, attempt: u16) -> Option<AttemptRecord> {
        self.ledger.attempt(task, round, attempt).cloned()
    }

    fn distribution_list(&self, task: &TaskId, round: u64, attempt: u16) -> Vec<(Pubkey, u64)> {
        self.ledger.distribution_list(task, round, attempt)
    }

    fn pending_reward(&self, task: &TaskId, node: &Pubkey) -> u64 {
        self.ledger.pending_reward(task, node)
    }

    fn balance(&self, node: &Pubkey) -> u64 {
        self.ledger.balance(node)
    }
}
