//! SPEC §2 and §7 task management: create, fund, update, activate, close; limits; who may do
//! what; unknown and closed tasks.

use super::*;
use crate::state::{RoundStatus, RoundTerms, TaskRecord};
use gradual_types::{task_id, DecodeError, ParamError};

fn create_ix(nonce: u64, params: TaskParams, total_bounty: u64) -> Instruction {
    Instruction::CreateTask {
        nonce,
        params,
        total_bounty,
    }
}

#[test]
fn create_task_escrows_the_bounty_and_records_the_task() {
    let mut c = TestChain::new(3, BALANCE);
    c.run_to(4);
    assert_eq!(c.run(1, create_ix(7, params(), 5_000)), Ok(()));
    let id = task_id(&c.pk(1), 7);
    assert_eq!(
        c.ledger.task(&id),
        Some(&TaskRecord {
            manager: c.pk(1),
            params: params(),
            starting_slot: 5,
            total_bounty: 5_000,
            reserved_bounty: 0,
            is_active: true,
            closed: false,
            pending_params: None,
            open_rounds: 0,
            paid_total_roe: 0,
            terms_log: vec![(0, RoundTerms::of(&params(), true))],
            queued_draws: 0,
            queued_draw_seats: 0,
        })
    );
    assert_eq!(c.ledger.balance(&c.pk(1)), BALANCE - 5_000);
    assert_eq!(c.ledger.task_ids(), vec![id]);
    // S0 is the creation slot.
    let clock = c.ledger.clock(&id).unwrap();
    assert_eq!(
        (
            clock.start(0),
            clock.start(1),
            clock.round(14),
            clock.round(15)
        ),
        (5, 15, 0, 1)
    );

    assert_eq!(
        c.run(1, create_ix(7, params(), 1)),
        Err(TxError::TaskExists(id))
    );
    // Same nonce, other creator: another task.
    assert_eq!(c.run(2, create_ix(7, params(), 0)), Ok(()));
    assert!(c.ledger.task(&task_id(&c.pk(2), 7)).is_some());
    assert_eq!(
        c.run(2, create_ix(8, params(), BALANCE + 1)),
        Err(TxError::InsufficientFunds {
            account: c.pk(2),
            needed: BALANCE + 1,
            available: BALANCE
        })
    );
    assert_eq!(c.ledger.task(&task_id(&c.pk(2), 8)), None);
    finish(&c);
}

#[test]
fn create_task_enforces_parameter_limits() {
    let mut c = TestChain::new(2, BALANCE);
    // Rejected by the limits check before the ledger looks at them (docs/protocol.md §2).
    let cases = [
        (
            TaskParams {
                submission_window: 6,
                audit_window: 5,
                ..params()
            },
            ParamError::WindowsExceedRound {
                sw: 6,
                aw: 5,
                rt: 10,
            },
        ),
        (
            TaskParams {
                submission_window: 0,
                ..params()
            },
            ParamError::OutOfRange {
                field: "submission_window".into(),
                got: 0,
                min: 1,
                max: 1 << 32,
            },
        ),
        (
            TaskParams {
                audit_window: 0,
                ..params()
            },
            ParamError::OutOfRange {
                field: "audit_window".into(),
                got: 0,
                min: 1,
                max: 1 << 32,
            },
        ),
        (
            TaskParams {
                name: "n".repeat(25),
                ..params()
            },
            ParamError::TooLong {
                field: "name".into(),
                got: 25,
                max: 24,
            },
        ),
        (
            TaskParams {
                description: "d".repeat(257),
                ..params()
            },
            ParamError::TooLong {
                field: "description".into(),
                got: 257,
                max: 256,
            },
        ),
        (
            TaskParams {
                metadata: vec![0; 1025],
                ..params()
            },
            ParamError::TooLong {
                field: "metadata".into(),
                got: 1025,
                max: 1024,
            },
        ),
        (
            TaskParams {
                accuser_bps: 7_001,
                voter_bps: 3_000,
                ..params()
            },
            ParamError::SharesExceed100 {
                accuser: 7_001,
                voter: 3_000,
            },
        ),
    ];
    for (p, e) in cases {
        assert_eq!(
            c.run(1, create_ix(1, p, 10)),
            Err(TxError::Limits(DecodeError::BadParams(e).to_string()))
        );
    }
    // At the limits: SW + AW == RT, 24-byte name, 256-byte description, 1024-byte metadata.
    let edge = TaskParams {
        name: "n".repeat(24),
        description: "d".repeat(256),
        metadata: vec![0; 1024],
        submission_window: 6,
        audit_window: 4,
        ..params()
    };
    assert_eq!(c.run(1, create_ix(1, edge, 10)), Ok(()));
    assert_eq!(c.ledger.balance(&c.pk(1)), BALANCE - 10);
    finish(&c);
}

#[test]
fn fund_task_from_anyone() {
    let mut n = Net::new(0);
    let task = n.task;
    let fund = |amount| Instruction::FundTask { task, amount };
    assert_eq!(n.run(2, fund(500)), Ok(()));
    assert_eq!(n.task_rec().total_bounty, BOUNTY + 500);
    assert_eq!(n.balance(2), BALANCE - 500);
    assert_eq!(n.run(2, fund(0)), Err(TxError::ZeroAmount));
    assert_eq!(
        n.run(2, fund(BALANCE)),
        Err(TxError::InsufficientFunds {
            account: n.pk(2),
            needed: BALANCE,
            available: BALANCE - 500
        })
    );
    assert_eq!(n.task_rec().total_bounty, BOUNTY + 500);
    n.finish();
}

#[test]
fn update_task_takes_effect_at_the_next_round() {
    let mut n = Net::new(0);
    let task = n.task;
    let update = |p: TaskParams| Instruction::UpdateTask { task, params: p };
    let new = TaskParams {
        bounty_per_round: 2_000,
        minimum_stake: 150,
        ..params()
    };
    assert_eq!(
        n.run(1, update(new.clone())),
        Err(TxError::NotManager { manager: n.pk(0) })
    );
    for p in [
        TaskParams {
            round_time: 20,
            ..params()
        },
        TaskParams {
            submission_window: 2,
            ..params()
        },
        TaskParams {
            audit_window: 4,
            ..params()
        },
    ] {
        assert_eq!(n.run(0, update(p)), Err(TxError::TimingIsFixed));
    }
    assert_eq!(
        n.run(
            0,
            update(TaskParams {
                committee_size: 0,
                ..params()
            })
        ),
        Err(TxError::Limits(
            DecodeError::BadParams(ParamError::OutOfRange {
                field: "committee_size".into(),
                got: 0,
                min: 1,
                max: 256
            })
            .to_string()
        ))
    );
    assert_eq!(n.task_rec().pending_params, None);

    // Sent at the last slot of round 0: effective from start(1) = 11.
    assert_eq!(n.run_at(start(1) - 1, 0, update(new.clone())), Ok(()));
    assert_eq!(n.task_rec().params, params());
    assert_eq!(n.task_rec().pending_params, Some(new.clone()));
    n.c.run_to(start(1));
    assert_eq!(n.task_rec().params, new);
    assert_eq!(n.task_rec().pending_params, None);

    // Sent at the first slot of round 1: not before start(2) = 21. The last update wins.
    let newer = TaskParams {
        bounty_per_round: 3_000,
        ..new.clone()
    };
    let newest = TaskParams {
        bounty_per_round: 4_000,
        ..new.clone()
    };
    assert_eq!(n.run(0, update(newer)), Ok(()));
    assert_eq!(n.run_at(start(2) - 1, 0, update(newest.clone())), Ok(()));
    assert_eq!(n.task_rec().params, new);
    n.c.run_to(start(2));
    assert_eq!(n.task_rec().params, newest);
    n.finish();
}

#[test]
fn new_minimum_stake_applies_from_the_next_round() {
    let mut n = Net::with(2, params(), 120);
    let task = n.task;
    let p = TaskParams {
        minimum_stake: 150,
        ..params()
    };
    assert_eq!(
        n.run(0, Instruction::UpdateTask { task, params: p }),
        Ok(())
    );
    n.c.run_to(start(1) - 1);
    assert_eq!(n.task_rec().params.minimum_stake, 100);
    n.c.run_to(start(1));
    assert_eq!(n.task_rec().params.minimum_stake, 150);
    let ix = n.submit_ix(1, 1);
    assert_eq!(
        n.run_at(start(2), 1, ix),
        Err(TxError::StakeBelowMinimum {
            stake: 120,
            minimum: 150
        })
    );
    n.finish();
}

#[test]
fn set_active_gates_submissions_only() {
    let mut n = Net::new(3);
    let task = n.task;
    let set = |active| Instruction::SetActive { task, active };
    assert_eq!(
        n.run(1, set(false)),
        Err(TxError::NotManager { manager: n.pk(0) })
    );
    n.submit_at(start(2), 1, &[1, 2]);
    // Deactivated in round 2 (SPEC §2 [v2] round terms): rounds 1 and 2 started active and
    // keep taking proofs; round 3 on takes none.
    assert_eq!(n.run(0, set(false)), Ok(()));
    assert!(!n.task_rec().is_active);
    // Work already under way still settles: round 1 is ranked and paid while inactive.
    let list = n.fair_list(1);
    n.distribute(1, 0, &list);
    let ix = n.submit_ix(3, 2);
    assert_eq!(n.run(3, ix), Ok(()), "round 2 started active");
    n.c.run_to(start(3) + 6);
    assert_eq!(
        n.c.ledger.round_record(&task, 1).unwrap().status,
        RoundStatus::Paid {
            attempt: 0,
            total_roe: 1_000
        }
    );
    // Reactivated in round 3: submissions are accepted again from round 4 on; round 3
    // started inactive.
    assert_eq!(n.run(0, set(true)), Ok(()));
    let ix = n.submit_ix(3, 3);
    assert_eq!(n.run_at(start(4), 3, ix), Err(TxError::TaskInactive));
    let ix = n.submit_ix(3, 4);
    assert_eq!(n.run_at(start(5), 3, ix), Ok(()));
    n.finish();
}

#[test]
fn close_task_needs_inactive_and_settled_then_refunds() {
    let mut n = Net::new(3);
    let task = n.task;
    let close = Instruction::CloseTask { task };
    assert_eq!(
        n.run(1, close.clone()),
        Err(TxError::NotManager { manager: n.pk(0) })
    );
    assert_eq!(n.run(0, close.clone()), Err(TxError::TaskStillActive));
    // Deactivated in round 1: round 1 started active and still takes proofs (SPEC §2 [v2]
    // round terms), rounds 2 on are inactive.
    assert_eq!(
        n.run_at(
            start(1),
            0,
            Instruction::SetActive {
                task,
                active: false
            }
        ),
        Ok(())
    );
    assert_eq!(
        n.run(0, close.clone()),
        Err(TxError::RoundStillActive { round: 0 })
    );
    n.submit_all(1, &[1, 2, 3]);
    assert_eq!(n.task_rec().open_rounds, 1);
    // Round 1 may still take proofs until its submission window closes.
    assert_eq!(
        n.run(0, close.clone()),
        Err(TxError::RoundStillActive { round: 1 })
    );
    let list = n.fair_list(1);
    n.distribute(1, 0, &list);
    // Still open during the distribution audit window...
    assert_eq!(
        n.run_at(start(3) + 5, 0, close.clone()),
        Err(TxError::RoundsNotSettled { open: 1 })
    );
    // ...settled (paid 3 × 333) at its close.
    n.c.run_to(start(3) + 6);
    assert_eq!(n.task_rec().open_rounds, 0);
    assert_eq!(n.task_rec().total_bounty, BOUNTY - 999);
    let manager_before = n.balance(0);
    assert_eq!(n.run(0, close.clone()), Ok(()));
    assert_eq!(n.balance(0), manager_before + BOUNTY - 999);
    let t = n.task_rec().clone();
    assert!(t.closed);
    assert_eq!(t.total_bounty, 0);

    // A closed task refuses every management and work instruction...
    let refused = [
        (0, close.clone()),
        (0, Instruction::SetActive { task, active: true }),
        (
            0,
            Instruction::UpdateTask {
                task,
                params: params(),
            },
        ),
        (2, Instruction::FundTask { task, amount: 5 }),
        (
            2,
            Instruction::Stake {
                task,
                amount: 5,
                url: String::new(),
                owner: None,
            },
        ),
        (1, n.submit_ix(1, 3)),
    ];
    for (who, ix) in refused {
        assert_eq!(n.run(who, ix.clone()), Err(TxError::TaskClosed), "{ix:?}");
    }
    // ...but rewards stay claimable and stakes come back at once, without a cooldown.
    assert_eq!(n.reward_of(1), 333);
    let before = n.balance(1);
    assert_eq!(n.run(1, Instruction::Claim { task }), Ok(()));
    assert_eq!(n.run(1, Instruction::Withdraw { task }), Ok(()));
    assert_eq!(n.balance(1), before + 333 + STAKE);
    assert_eq!(n.c.ledger.stake(&task, &n.pk(1)), None);
    n.finish();
}

#[test]
fn close_task_without_rounds_refunds_once_no_round_takes_proofs() {
    let mut n = Net::new(1);
    let task = n.task;
    assert_eq!(
        n.run(
            0,
            Instruction::SetActive {
                task,
                active: false
            }
        ),
        Ok(())
    );
    // SPEC §2 [v2] round terms: round 0 started active and takes proofs in round 1; from
    // round 2 on no round that can take proofs was active.
    assert_eq!(
        n.run(0, Instruction::CloseTask { task }),
        Err(TxError::RoundStillActive { round: 0 })
    );
    assert_eq!(
        n.run_at(start(1), 0, Instruction::CloseTask { task }),
        Err(TxError::RoundStillActive { round: 0 })
    );
    assert_eq!(
        n.run_at(start(2), 0, Instruction::CloseTask { task }),
        Ok(())
    );
    assert_eq!(n.balance(0), BALANCE);
    n.finish();
}

#[test]
fn unknown_task_for_every_task_instruction() {
    let mut n = Net::new(1);
    let task = Hash([9; 32]);
    let ixs = [
        Instruction::FundTask { task, amount: 1 },
        Instruction::UpdateTask {
            task,
            params: params(),
        },
        Instruction::SetActive { task, active: true },
        Instruction::CloseTask { task },
        Instruction::Stake {
            task,
            amount: 1,
            url: String::new(),
            owner: None,
        },
        Instruction::Unstake { task },
        Instruction::Withdraw { task },
        Instruction::Claim { task },
        Instruction::SubmitProof {
            task,
            round: 0,
            value: vec![1],
        },
        Instruction::AuditProof {
            task,
            round: 0,
            candidate: n.pk(1),
            verdict: Verdict::Invalid,
        },
        Instruction::AuditProofs {
            task,
            round: 0,
            votes: vec![(n.pk(1), Verdict::Invalid)],
        },
        Instruction::UploadDistributionChunk {
            task,
            round: 0,
            attempt: 0,
            index: 0,
            entries: vec![(n.pk(1), 1)],
        },
        Instruction::SubmitDistribution {
            task,
            round: 0,
            attempt: 0,
            digest: Hash::ZERO,
            count: 1,
        },
        Instruction::AuditDistribution {
            task,
            round: 0,
            attempt: 0,
            verdict: Verdict::Valid,
        },
    ];
    for ix in ixs {
        assert_eq!(
            n.run(1, ix.clone()),
            Err(TxError::UnknownTask(task)),
            "{}",
            ix.name()
        );
    }
    n.finish();
}

#[test]
fn an_update_does_not_reach_windows_of_the_old_round() {
    // SW + AW == RT: round 1's proof audit closes exactly at start(3), where an update sent in
    // round 2 takes effect. The close settles under the old parameters.
    let p = TaskParams {
        submission_window: 5,
        audit_window: 5,
        ..params()
    };
    let mut n = Net::with(5, p.clone(), STAKE);
    let task = n.task;
    n.submit_all(1, &[1, 2, 3, 4, 5]);
    n.audit_all_vote(1, 1, 2, Verdict::Invalid);
    let gentle = TaskParams {
        slash_bps: 0,
        ..p.clone()
    };
    let ix = Instruction::UpdateTask {
        task,
        params: gentle.clone(),
    };
    assert_eq!(n.run_at(start(2) + 8, 0, ix), Ok(()));
    assert_eq!(
        n.span(Window::ProofAudit, 1, 0).closes,
        start(3),
        "the close and the update share a slot"
    );
    n.c.run_to(start(3));
    assert_eq!(n.task_rec().params, gentle, "update applied at start(3)");
    let outcome =
        n.c.ledger
            .audit(&task, 1, &n.pk(1))
            .unwrap()
            .outcome
            .clone();
    assert!(
        matches!(
            outcome,
            Some(crate::state::AuditOutcome::Upheld { slashed: 7_000, .. })
        ),
        "old slash_bps applied: {outcome:?}"
    );
    n.finish();
}
