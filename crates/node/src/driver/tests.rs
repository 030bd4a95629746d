use super::*;
use gradual_types::{Pubkey, Verdict};

fn stake(unstaking: bool) -> StakeRecord {
    StakeRecord {
        amount: 5,
        url: String::new(),
        owner: Pubkey([0; 32]),
        staked_slot: 0,
        unstake_round: unstaking.then_some(3),
        withdraw_round: None,
        history: Vec::new(),
        settlement_locks: 0,
    }
}

/// Issue #12: after `withdraw` the node marks the task withdrawn (not "not staked yet"),
/// and a stake placed again ends it; a node that never staked is not "withdrawn".
#[test]
fn a_stake_seen_unstaking_then_gone_is_withdrawn_until_staked_again() {
    let mut w = Watch::default();
    assert!(!w.follow_stake(None), "never staked");
    assert!(!w.follow_stake(Some(&stake(false))));
    assert!(
        !w.follow_stake(None),
        "gone without an unstake seen (e.g. pruned view)"
    );
    assert!(!w.follow_stake(Some(&stake(true))));
    w.withdrawn = w.follow_stake(None);
    assert!(w.withdrawn);
    assert!(w.follow_stake(None), "stays withdrawn");
    w.withdrawn = w.follow_stake(Some(&stake(false)));
    assert!(!w.withdrawn, "staked again by hand");
    assert!(!w.follow_stake(None));
    // Restarted node: the flag comes from the store.
    let mut w = Watch {
        withdrawn: true,
        ..Watch::default()
    };
    assert!(w.follow_stake(None));
}

#[test]
fn a_held_task_does_no_new_work_but_keeps_its_duties() {
    let task = gradual_types::Hash([4; 32]);
    let send = |ix| Action::Send { task, ix };
    for a in [
        Action::RunTask { task, round: 1 },
        Action::MakeProof { task, round: 1 },
        send(Instruction::SubmitProof {
            task,
            round: 1,
            value: vec![1],
        }),
        send(Instruction::AuditProof {
            task,
            round: 1,
            candidate: Pubkey([2; 32]),
            verdict: Verdict::Invalid,
        }),
        send(Instruction::Stake {
            task,
            amount: 1,
            url: String::new(),
            owner: None,
        }),
    ] {
        assert!(held_back(&a), "{a:?}");
    }
    for a in [
        send(Instruction::Claim { task }),
        send(Instruction::Unstake { task }),
        send(Instruction::AuditDistribution {
            task,
            round: 1,
            attempt: 0,
            verdict: Verdict::Valid,
        }),
    ] {
        assert!(!held_back(&a), "{a:?}");
    }
}
