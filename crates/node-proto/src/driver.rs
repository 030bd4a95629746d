//! The one loop that answers a [`NodeCore`]'s actions, shared by every shell: the node
//! (`gradual-node`), the simulator and the tests.
//!
//! ```text
//!   step(view) ─▶ handle_slot ─▶ poll_action ─▶ Shell::act ─┬─ Some(answer) ─▶ handle_answer
//!                     ▲                                      │   (fed back at once)
//!                     └──── again, while answered, ≤ passes ─┘
//!   answer(a) ─▶ handle_answer ─▶ flush   (answers that arrive later: the node's task calls)
//! ```
//!
//! The re-poll rule is the shell's one choice, `passes`: after answers fed back at once, one
//! more `handle_slot` on the same view sends the votes of fresh checks in the same slot.
//! The simulator takes up to three (its strategies answer at once; `gradual-sim` `PASSES_MAX`);
//! the node takes one (its task calls finish later and come back through [`answer`]; votes
//! on them leave at the next block); the network tests take one.

use crate::core::{Action, ListPurpose, NodeCore};
use crate::view::LedgerView;
use gradual_types::{Pubkey, TaskId, Verdict};

/// A task's answer to one of the core's questions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// To [`Action::MakeProof`]; `None`: no proof this round.
    Proof {
        task: TaskId,
        round: u64,
        value: Option<Vec<u8>>,
    },
    /// To [`Action::CheckProof`].
    Check {
        task: TaskId,
        round: u64,
        candidate: Pubkey,
        verdict: Verdict,
    },
    /// To [`Action::MakeDistribution`].
    List {
        task: TaskId,
        round: u64,
        attempt: u16,
        purpose: ListPurpose,
        list: Vec<(Pubkey, u64)>,
    },
}

/// What a shell does with the core's actions.
pub trait Shell {
    /// Carry out `action`. Return the task's answer when it is ready at once (the simulator,
    /// tests); a shell that asks its task asynchronously returns `None` and later feeds the
    /// answer through [`answer`].
    fn act(&mut self, action: Action) -> Option<Answer>;
}

/// One new view: `handle_slot`, then every action through `shell`, answers fed back as they
/// come. While the shell answered something, look at the same view again, `passes` times
/// at most in all (at least once).
pub fn step(core: &mut NodeCore, view: &dyn LedgerView, shell: &mut impl Shell, passes: usize) {
    for _ in 0..passes.max(1) {
        core.handle_slot(view);
        if !flush(core, view, shell) {
            break;
        }
    }
}

/// An answer that came in after its action: feed it and run whatever it queued.
pub fn answer(core: &mut NodeCore, answer: Answer, view: &dyn LedgerView, shell: &mut impl Shell) {
    core.handle_answer(answer, view);
    flush(core, view, shell);
}

/// Run every queued action through `shell`; true when the shell answered any at once.
pub fn flush(core: &mut NodeCore, view: &dyn LedgerView, shell: &mut impl Shell) -> bool {
    let mut answered = false;
    while let Some(action) = core.poll_action() {
        if let Some(a) = shell.act(action) {
            core.handle_answer(a, view);
            answered = true;
        }
    }
    answered
}
