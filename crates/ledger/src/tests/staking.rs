//! SPEC §4 (who may submit) and §7 (stake, unstake, cooldown, withdraw, claim).

use super::*;
use crate::state::StakeRecord;

fn stake_ix(task: TaskId, amount: u64, url: &str) -> Instruction {
    Instruction::Stake {
        task,
        amount,
        url: url.into(),
        owner: None,
    }
}

#[test]
fn stake_moves_balance_into_the_task() {
    let mut n = Net::new(0);
    let task = n.task;
    assert_eq!(
        n.run(1, stake_ix(task, 0, "http://u")),
        Err(TxError::ZeroAmount)
    );
    assert_eq!(
        n.run(1, stake_ix(task, BALANCE + 1, "http://u")),
        Err(TxError::InsufficientFunds {
            account: n.pk(1),
            needed: BALANCE + 1,
            available: BALANCE
        })
    );
    assert_eq!(n.c.ledger.stake(&task, &n.pk(1)), None);
    assert_eq!(n.run_at(5, 1, stake_ix(task, 500, "http://a")), Ok(()));
    let rec = StakeRecord {
        amount: 500,
        url: "http://a".into(),
        owner: n.pk(1),
        staked_slot: 5,
        unstake_round: None,
        withdraw_round: None,
        // Nothing was staked at the start of round 0 (SPEC §5 [v2] committee weights).
        history: vec![(0, 0)],
        settlement_locks: 0,
    };
    assert_eq!(n.c.ledger.stake(&task, &n.pk(1)), Some(&rec));
    assert_eq!(n.balance(1), BALANCE - 500);
    // Topping up: an empty url keeps the old one; already above the minimum, the staked
    // slot does not move.
    assert_eq!(n.run(1, stake_ix(task, 1, "")), Ok(()));
    assert_eq!(
        n.c.ledger.stake(&task, &n.pk(1)),
        Some(&StakeRecord {
            amount: 501,
            ..rec.clone()
        })
    );
    assert_eq!(n.run(1, stake_ix(task, 1, "http://b")), Ok(()));
    assert_eq!(
        n.c.ledger.stake(&task, &n.pk(1)),
        Some(&StakeRecord {
            amount: 502,
            url: "http://b".into(),
            ..rec
        })
    );
    assert_eq!(n.balance(1), BALANCE - 502);
    n.finish();
}

#[test]
fn submitting_needs_minimum_stake_staked_before_the_round() {
    let mut n = Net::new(0);
    let task = n.task;
    // Key 1: below the minimum. Key 2: reaches the minimum at the last slot of round 0.
    // Key 3: reaches it at the first slot of round 1. Key 4: never staked.
    // SPEC §7 [v2]: a first stake below the minimum is refused, so keys 1 and 2 hold
    // nothing until they stake the minimum.
    let below = Err(TxError::StakeBelowMinimum {
        stake: MIN_STAKE - 1,
        minimum: MIN_STAKE,
    });
    assert_eq!(n.run_at(3, 1, stake_ix(task, MIN_STAKE - 1, "")), below);
    assert_eq!(n.run_at(4, 2, stake_ix(task, MIN_STAKE - 1, "")), below);
    assert_eq!(n.c.ledger.stake(&task, &n.pk(2)), None);
    assert_eq!(
        n.run_at(start(1) - 1, 2, stake_ix(task, MIN_STAKE, "")),
        Ok(())
    );
    assert_eq!(
        n.c.ledger.stake(&task, &n.pk(2)).unwrap().staked_slot,
        start(1) - 1,
        "the stake that lifted the node to the minimum sets staked_slot"
    );
    assert_eq!(n.run_at(start(1), 3, stake_ix(task, MIN_STAKE, "")), Ok(()));

    let open = start(2);
    let txs = (1..=4).map(|w| n.tx(w, n.submit_ix(w, 1))).collect();
    let out = n.block(open, txs);
    assert_eq!(
        results(&out),
        vec![
            Err(TxError::NotStaked { node: n.pk(1) }),
            Ok(()),
            Err(TxError::StakedTooLate {
                staked_slot: start(1),
                round: 1,
                round_start: start(1)
            }),
            Err(TxError::NotStaked { node: n.pk(4) }),
        ]
    );
    assert_eq!(
        n.c.ledger
            .submissions(&task, 1)
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>(),
        vec![n.pk(2)]
    );
    // Key 3 may submit from round 2 on; key 1 after staking the minimum, from the next round.
    assert_eq!(n.run(1, stake_ix(task, MIN_STAKE, "")), Ok(()));
    let topped = n.c.ledger.slot();
    let txs = vec![n.tx(1, n.submit_ix(1, 2)), n.tx(3, n.submit_ix(3, 2))];
    let out = n.block(start(3), txs);
    assert_eq!(
        results(&out),
        vec![
            Err(TxError::StakedTooLate {
                staked_slot: topped,
                round: 2,
                round_start: start(2)
            }),
            Ok(())
        ]
    );
    let txs = vec![n.tx(1, n.submit_ix(1, 3))];
    all_ok(&n.block(start(4), txs));
    n.finish();
}

#[test]
fn unstake_cooldown_and_withdraw() {
    let mut n = Net::new(2);
    let task = n.task;
    let (unstake, withdraw) = (
        Instruction::Unstake { task },
        Instruction::Withdraw { task },
    );
    assert_eq!(
        n.run(3, unstake.clone()),
        Err(TxError::NotStaked { node: n.pk(3) })
    );
    assert_eq!(n.run(1, withdraw.clone()), Err(TxError::NotUnstaking));
    // Unstake in round 1; cooldown 3: withdraw from round 4.
    assert_eq!(n.run_at(start(1) + 4, 1, unstake.clone()), Ok(()));
    assert_eq!(
        n.c.ledger.stake(&task, &n.pk(1)).unwrap().unstake_round,
        Some(1)
    );
    assert_eq!(
        n.run(1, unstake.clone()),
        Err(TxError::Unstaking { since_round: 1 })
    );
    assert_eq!(
        n.run(1, stake_ix(task, 5, "")),
        Err(TxError::Unstaking { since_round: 1 })
    );
    // A node in cooldown may not submit, nor raise an audit.
    n.submit_at(start(2), 1, &[2]);
    let ix = n.submit_ix(1, 1);
    assert_eq!(n.run(1, ix), Err(TxError::Unstaking { since_round: 1 }));
    let ix = n.audit_ix(1, 2, Verdict::Invalid);
    assert_eq!(
        n.run_at(start(2) + 3, 1, ix),
        Err(TxError::Unstaking { since_round: 1 })
    );
    // One round early: rejected at the last slot of round 3.
    assert_eq!(
        n.run_at(start(4) - 1, 1, withdraw.clone()),
        Err(TxError::CooldownNotOver {
            unstake_round: 1,
            withdraw_round: 4,
            round: 3
        })
    );
    assert_eq!(n.stake_of(1), STAKE);
    // Exactly unstake_round + cooldown: accepted at the first slot of round 4.
    let before = n.balance(1);
    assert_eq!(n.run_at(start(4), 1, withdraw.clone()), Ok(()));
    assert_eq!(n.balance(1), before + STAKE);
    assert_eq!(n.c.ledger.stake(&task, &n.pk(1)), None);
    assert_eq!(
        n.run(1, withdraw),
        Err(TxError::NotStaked { node: n.pk(1) })
    );
    // Staking again starts afresh.
    assert_eq!(n.run(1, stake_ix(task, 200, "")), Ok(()));
    assert_eq!(
        n.c.ledger.stake(&task, &n.pk(1)).map(|s| s.unstake_round),
        Some(None)
    );
    n.finish();
}

/// SPEC §7 [v2]: the cooldown is at least one round, so no stake escapes a verdict by
/// unstaking and withdrawing in the same round.
#[test]
fn shortest_cooldown_withdraws_in_the_next_round() {
    let zero = TaskParams {
        unstake_cooldown: 0,
        ..params()
    };
    assert!(zero.validate().is_err(), "a zero cooldown is refused");
    let p = TaskParams {
        unstake_cooldown: 1,
        ..params()
    };
    let mut n = Net::with(1, p, STAKE);
    let task = n.task;
    assert_eq!(n.run(1, Instruction::Unstake { task }), Ok(()));
    assert_eq!(
        n.run(1, Instruction::Withdraw { task }),
        Err(TxError::CooldownNotOver {
            unstake_round: 0,
            withdraw_round: 1,
            round: 0
        })
    );
    assert_eq!(
        n.run_at(start(1), 1, Instruction::Withdraw { task }),
        Ok(())
    );
    assert_eq!(n.balance(1), BALANCE);
    n.finish();
}

#[test]
fn claim_moves_pending_rewards() {
    let mut n = Net::new(2);
    let task = n.task;
    let claim = Instruction::Claim { task };
    assert_eq!(n.run(1, claim.clone()), Err(TxError::NothingToClaim));
    n.submit_all(1, &[1, 2]);
    let list = n.fair_list(1);
    n.distribute(1, 0, &list);
    n.c.run_to(start(3) + 6);
    assert_eq!(n.reward_of(1), 500);
    assert_eq!(n.c.ledger.rewards_of(&n.pk(1)), vec![(task, 500)]);
    let before = n.balance(1);
    assert_eq!(n.run(1, claim.clone()), Ok(()));
    assert_eq!(n.balance(1), before + 500);
    assert_eq!(n.reward_of(1), 0);
    assert_eq!(n.run(1, claim), Err(TxError::NothingToClaim));
    n.finish();
}

#[test]
fn stake_stays_slashable_while_unstaking_and_top_up_after_a_slash() {
    // Minimum 5,000 of a 10,000 stake: a 70 % slash leaves 3,000, below the minimum.
    let p = TaskParams {
        minimum_stake: 5_000,
        ..params()
    };
    let mut n = Net::with(6, p, STAKE);
    let task = n.task;
    n.submit_all(1, &[1, 2, 3, 4, 5, 6]);
    // The candidate unstakes right after being accused; it is slashed all the same.
    let open = n.span(Window::ProofAudit, 1, 0).opens;
    let ix = n.audit_ix(1, 1, Verdict::Invalid);
    assert_eq!(n.run_at(open, 2, ix), Ok(()));
    assert_eq!(n.run(1, Instruction::Unstake { task }), Ok(()));
    let c = n.audit_committee(1, 1);
    let txs = c
        .seats
        .iter()
        .map(|(v, _)| n.tx(n.idx(v), n.audit_ix(1, 1, Verdict::Invalid)))
        .collect();
    all_ok(&n.c.next(txs));
    n.c.run_to(start(2) + 6);
    assert_eq!(n.stake_of(1), 3_000);

    // Node 3 is slashed below the minimum in round 2's audit; it must top up, and the top-up
    // counts from the next round only.
    n.submit_all(2, &[2, 3, 4, 5, 6]);
    n.audit_all_vote(2, 3, 2, Verdict::Invalid);
    n.c.run_to(start(3) + 6);
    assert_eq!(n.stake_of(3), 3_000);
    let ix = n.submit_ix(3, 3);
    assert_eq!(
        n.run_at(start(4), 3, ix),
        Err(TxError::StakeBelowMinimum {
            stake: 3_000,
            minimum: 5_000
        })
    );
    assert_eq!(n.run(3, stake_ix(task, 2_000, "")), Ok(()));
    let topped = n.c.ledger.slot();
    let ix = n.submit_ix(3, 3);
    assert_eq!(
        n.run(3, ix),
        Err(TxError::StakedTooLate {
            staked_slot: topped,
            round: 3,
            round_start: start(3)
        })
    );
    let ix = n.submit_ix(3, 4);
    assert_eq!(
        n.run_at(start(5), 3, ix),
        Err(TxError::StakedTooLate {
            staked_slot: topped,
            round: 4,
            round_start: start(4)
        }),
        "the top-up came in round 4"
    );
    let ix = n.submit_ix(3, 5);
    assert_eq!(n.run_at(start(6), 3, ix), Ok(()));
    n.finish();
}
