//! SPEC §1: the transaction envelope (signature, chain, replay protection, fees, limits),
//! accounts and the faucet, and block-level errors.

use super::*;
use crate::{BlockError, CheckedTx, Ledger};
use gradual_types::{DecodeError, Genesis, Message, TX_VERSION};

fn transfer(c: &TestChain, to: usize, amount: u64) -> Instruction {
    Instruction::Transfer {
        to: c.pk(to),
        amount,
    }
}

/// A transaction from key `who` with every envelope field chosen by the test.
fn signed(
    c: &TestChain,
    who: usize,
    chain: &str,
    recent_slot: Slot,
    fee: u64,
    ix: Instruction,
) -> Transaction {
    Transaction::new_signed(&c.keys[who], chain, recent_slot, fee, ix)
}

#[test]
fn bad_signature_is_rejected_and_does_not_use_up_the_signature() {
    let mut c = TestChain::new(3, BALANCE);
    let good = c.tx(1, transfer(&c, 2, 10));
    // Same signature, tampered content: a relay could send this ahead of the real one.
    let mut tampered = good.clone();
    tampered.message.instruction = transfer(&c, 2, 11);
    let mut garbled = good.clone();
    garbled.signature.0[0] ^= 1;
    let out = c.next(vec![tampered, garbled.clone()]);
    let signer = c.pk(1);
    assert_eq!(
        results(&out),
        vec![
            Err(TxError::BadSignature { signer }),
            Err(TxError::BadSignature { signer })
        ]
    );
    assert_eq!(c.ledger.balance(&c.pk(2)), BALANCE);
    // A bad signature proves nothing, so the genuine transaction still goes through.
    assert_eq!(results(&c.next(vec![good])), vec![Ok(())]);
    assert_eq!(c.ledger.balance(&c.pk(2)), BALANCE + 10);
    assert_eq!(c.ledger.balance(&c.pk(1)), BALANCE - 10);
    finish(&c);
}

#[test]
fn wrong_chain_is_rejected() {
    let mut c = TestChain::new(3, BALANCE);
    let tx = signed(&c, 1, "other", 0, 0, transfer(&c, 2, 10));
    assert!(tx.verify(), "the signature itself is good");
    let out = c.next(vec![tx]);
    assert_eq!(
        results(&out),
        vec![Err(TxError::WrongChain {
            got: "other".into(),
            expected: "test".into()
        })]
    );
    assert_eq!(c.ledger.balance(&c.pk(1)), BALANCE);
    finish(&c);
}

#[test]
fn recent_slot_age_boundary() {
    let mut c = TestChain::new(3, BALANCE);
    c.run_to(5);
    let max_age = c.ledger.genesis().tx_max_age_slots;
    assert_eq!(max_age, 600);
    let a = signed(&c, 1, "test", 5, 0, transfer(&c, 2, 1));
    let b = signed(&c, 1, "test", 5, 0, transfer(&c, 2, 2));
    // recent_slot + max_age == slot: still valid (slots are skipped here).
    assert_eq!(results(&c.block_at(5 + max_age, vec![a])), vec![Ok(())]);
    // One slot later it has expired.
    assert_eq!(
        results(&c.block_at(5 + max_age + 1, vec![b])),
        vec![Err(TxError::Expired {
            recent_slot: 5,
            slot: 606,
            max_age: 600
        })]
    );
    assert_eq!(c.ledger.balance(&c.pk(2)), BALANCE + 1);
    finish(&c);
}

#[test]
fn future_recent_slot_is_rejected_and_may_pass_later() {
    let mut c = TestChain::new(3, BALANCE);
    c.run_to(3);
    // Next block is at slot 4.
    let future = signed(&c, 1, "test", 5, 0, transfer(&c, 2, 1));
    let now = signed(&c, 1, "test", 4, 0, transfer(&c, 2, 2));
    assert_eq!(
        results(&c.next(vec![future.clone(), now])),
        vec![
            Err(TxError::FutureSlot {
                recent_slot: 5,
                slot: 4
            }),
            Ok(())
        ],
        "recent_slot equal to the block's slot is not in the future"
    );
    // Not marked as processed: the same transaction is valid at slot 5.
    assert_eq!(results(&c.next(vec![future])), vec![Ok(())]);
    assert_eq!(c.ledger.balance(&c.pk(2)), BALANCE + 3);
    finish(&c);
}

#[test]
fn duplicates_are_rejected_in_the_same_block_later_and_after_a_rejection() {
    let mut c = TestChain::new(3, BALANCE);
    let tx = c.tx(1, transfer(&c, 2, 7));
    let out = c.next(vec![tx.clone(), tx.clone()]);
    assert_eq!(results(&out), vec![Ok(()), Err(TxError::Duplicate)]);
    assert_eq!(
        results(&c.next(vec![tx.clone()])),
        vec![Err(TxError::Duplicate)]
    );
    // Still a duplicate at the last slot the transaction is valid...
    let recent = tx.message.recent_slot;
    assert_eq!(
        results(&c.block_at(recent + 600, vec![tx.clone()])),
        vec![Err(TxError::Duplicate)]
    );
    // ...and expired after it (expiry is checked first, so forgetting the id is safe).
    assert_eq!(
        results(&c.block_at(recent + 601, vec![tx])),
        vec![Err(TxError::Expired {
            recent_slot: recent,
            slot: recent + 601,
            max_age: 600
        })]
    );
    assert_eq!(c.ledger.balance(&c.pk(2)), BALANCE + 7);

    // A transaction rejected for its content is processed once too.
    let too_much = c.tx(1, transfer(&c, 2, BALANCE));
    let available = c.ledger.balance(&c.pk(1));
    assert_eq!(
        results(&c.next(vec![too_much.clone()])),
        vec![Err(TxError::InsufficientFunds {
            account: c.pk(1),
            needed: BALANCE,
            available
        })]
    );
    // Even though it would now succeed (key 1 received funds), it is not re-run.
    assert_eq!(c.run(2, transfer(&c, 1, 100)), Ok(()));
    assert_eq!(
        results(&c.next(vec![too_much])),
        vec![Err(TxError::Duplicate)]
    );
    finish(&c);
}

#[test]
fn fee_is_charged_once_and_burned() {
    let mut c = TestChain::with_fee(3, BALANCE, 10);
    let held = c.ledger.total_held_roe();
    // Offering more than the fee pays the genesis fee only.
    let generous = signed(&c, 1, "test", 0, 25, transfer(&c, 2, 100));
    assert_eq!(results(&c.next(vec![generous])), vec![Ok(())]);
    assert_eq!(c.ledger.balance(&c.pk(1)), BALANCE - 100 - 10);
    assert_eq!(c.ledger.balance(&c.pk(2)), BALANCE + 100);
    assert_eq!(c.ledger.meta().burned_roe, 10);
    assert_eq!(c.ledger.total_held_roe(), held - 10);

    // Too low a fee.
    let cheap = signed(&c, 1, "test", 1, 9, transfer(&c, 2, 100));
    assert_eq!(
        results(&c.next(vec![cheap])),
        vec![Err(TxError::FeeTooLow {
            offered: 9,
            required: 10
        })]
    );
    // A rejected instruction still pays the fee (SPEC §1 [v2]); nothing else changes.
    assert_eq!(c.run(1, transfer(&c, 2, 0)), Err(TxError::ZeroAmount));
    assert_eq!(c.ledger.balance(&c.pk(1)), BALANCE - 120);
    assert_eq!(c.ledger.balance(&c.pk(2)), BALANCE + 100);
    assert_eq!(c.ledger.meta().burned_roe, 20);

    // An account that cannot pay the fee.
    let poor = crate::testkit::key(77);
    assert_eq!(
        c.run(
            1,
            Instruction::Transfer {
                to: poor.pubkey(),
                amount: 15
            }
        ),
        Ok(())
    );
    let tx = Transaction::new_signed(&poor, "test", c.ledger.slot(), 10, transfer(&c, 2, 10));
    // Fee first (15 → 5), then the transfer of 10 fails: the fee stays paid.
    assert_eq!(
        results(&c.next(vec![tx])),
        vec![Err(TxError::InsufficientFunds {
            account: poor.pubkey(),
            needed: 10,
            available: 5
        })]
    );
    assert_eq!(c.ledger.balance(&poor.pubkey()), 5);
    // A signer that cannot pay the fee is refused and nothing changes.
    let tx = Transaction::new_signed(&poor, "test", c.ledger.slot(), 10, transfer(&c, 2, 1));
    assert_eq!(
        results(&c.next(vec![tx])),
        vec![Err(TxError::CannotPayFee {
            account: poor.pubkey(),
            fee: 10,
            available: 5
        })]
    );
    assert_eq!(c.ledger.balance(&poor.pubkey()), 5);
    assert_eq!(c.ledger.meta().burned_roe, 40);
    assert_eq!(c.ledger.total_held_roe(), held - 40);
    finish(&c);
}

#[test]
fn rejected_transactions_change_nothing() {
    // Two chains with the same history; one block carries only failing transactions, the
    // other is empty. The state roots and the records written must be identical.
    let mk = || {
        let mut n = Net::new(3);
        n.submit_all(1, &[1, 2, 3]);
        n.c.run_to(23);
        n
    };
    let mut a = mk();
    let mut b = mk();
    assert_eq!(a.c.ledger.state_root(), b.c.ledger.state_root());
    let task = a.task;
    let failing = vec![
        a.tx(1, transfer(&a.c, 2, BALANCE)),
        a.tx(
            1,
            Instruction::Stake {
                task,
                amount: 0,
                url: String::new(),
                owner: None,
            },
        ),
        a.tx(4, a.submit_ix(4, 1)),
        // A batch whose every vote fails (each vote stands alone: batch_votes_succeed_one_by_one).
        a.tx(
            1,
            Instruction::AuditProofs {
                task,
                round: 1,
                votes: vec![(a.pk(2), Verdict::Valid), (a.pk(1), Verdict::Invalid)],
            },
        ),
        a.tx(0, Instruction::CloseTask { task }),
    ];
    let out_a = a.c.next(failing);
    assert!(out_a.receipts.iter().all(|r| r.result.is_err()));
    let out_b = b.c.next(vec![]);
    assert_eq!(out_a.block.header.state_root, out_b.block.header.state_root);
    assert_eq!(out_a.writes, out_b.writes);
    assert_eq!(a.c.ledger.audit(&task, 1, &a.pk(2)), None);
    a.finish();
    b.finish();
}

#[test]
fn limits_are_enforced_for_blocks_built_in_process() {
    let mut c = TestChain::new(3, BALANCE);
    let empty = c.tx(
        1,
        Instruction::AuditProofs {
            task: Hash::ZERO,
            round: 0,
            votes: vec![],
        },
    );
    assert_eq!(
        results(&c.next(vec![empty.clone()])),
        vec![Err(TxError::Limits(
            DecodeError::Empty { field: "votes" }.to_string()
        ))]
    );
    // Rejected for its content: processed once.
    assert_eq!(results(&c.next(vec![empty])), vec![Err(TxError::Duplicate)]);

    let message = Message {
        version: TX_VERSION + 1,
        chain_id: "test".into(),
        signer: c.pk(1),
        recent_slot: c.ledger.slot(),
        fee: 0,
        instruction: transfer(&c, 2, 1),
    };
    let signature = c.keys[1].sign(&message.signing_bytes());
    let v2 = Transaction { message, signature };
    assert_eq!(
        results(&c.next(vec![v2])),
        vec![Err(TxError::Limits(
            DecodeError::Version {
                got: TX_VERSION + 1,
                expected: TX_VERSION
            }
            .to_string()
        ))]
    );
    let long_url = c.tx(
        1,
        Instruction::Stake {
            task: Hash::ZERO,
            amount: 1,
            url: format!("http://{}", "u".repeat(250)),
            owner: None,
        },
    );
    assert_eq!(
        results(&c.next(vec![long_url])),
        vec![Err(TxError::Limits(
            // SPEC §7 [v2]: node URLs are validated (http/https, host, bounded length).
            DecodeError::BadUrl(gradual_types::UrlError::TooLong { got: 257, max: 256 })
                .to_string()
        ))]
    );
    let big_proof = c.tx(
        1,
        Instruction::SubmitProof {
            task: Hash::ZERO,
            round: 0,
            value: vec![0; 513],
        },
    );
    assert_eq!(
        results(&c.next(vec![big_proof])),
        vec![Err(TxError::Limits(
            DecodeError::FieldTooLarge {
                field: "proof value",
                got: 513,
                max: 512
            }
            .to_string()
        ))]
    );
    assert_eq!(c.ledger.balance(&c.pk(2)), BALANCE);
    finish(&c);
}

#[test]
fn transfers() {
    let mut c = TestChain::new(3, BALANCE);
    assert_eq!(c.run(1, transfer(&c, 2, 0)), Err(TxError::ZeroAmount));
    assert_eq!(
        c.run(1, transfer(&c, 2, BALANCE + 1)),
        Err(TxError::InsufficientFunds {
            account: c.pk(1),
            needed: BALANCE + 1,
            available: BALANCE
        })
    );
    assert_eq!(c.run(1, transfer(&c, 1, 5)), Ok(()), "to oneself");
    assert_eq!(c.ledger.balance(&c.pk(1)), BALANCE);
    assert_eq!(c.run(1, transfer(&c, 2, BALANCE)), Ok(()));
    assert_eq!(c.ledger.balance(&c.pk(1)), 0);
    assert_eq!(c.ledger.balance(&c.pk(2)), 2 * BALANCE);
    // The emptied account is removed from the state.
    assert!(!c.ledger.accounts.contains(&c.pk(1)));
    finish(&c);
}

#[test]
fn faucet_mints_within_its_limit() {
    let mut c = TestChain::new(3, BALANCE);
    let held = c.ledger.total_held_roe();
    let mint = |to: Pubkey, amount| Instruction::FaucetMint { to, amount };
    let authority = c.pk(0);
    assert_eq!(
        c.run(1, mint(c.pk(1), 5)),
        Err(TxError::NotFaucet { authority })
    );
    assert_eq!(c.run(0, mint(c.pk(1), 0)), Err(TxError::ZeroAmount));
    assert_eq!(
        c.run(0, mint(c.pk(1), 1_000_000_000_001)),
        Err(TxError::MintTooLarge {
            got: 1_000_000_000_001,
            max: 1_000_000_000_000
        })
    );
    assert_eq!(c.run(0, mint(c.pk(1), 1_000_000_000_000)), Ok(()));
    assert_eq!(c.ledger.balance(&c.pk(1)), BALANCE + 1_000_000_000_000);
    assert_eq!(c.ledger.total_held_roe(), held + 1_000_000_000_000);
    assert_eq!(c.ledger.meta().minted_roe as u128, held + 1_000_000_000_000);
    finish(&c);

    // Supply cannot overflow u64: genesis keeps supply + cap_roe within it, and the cap
    // holds.
    let mut c = TestChain::new(1, BALANCE);
    let mut genesis = c.ledger.genesis().clone();
    genesis.accounts = vec![(c.pk(0), u64::MAX - 10)];
    genesis.faucet.as_mut().unwrap().cap_roe = 10;
    c.ledger = Ledger::new(genesis);
    c.ledger.paranoid = true;
    assert_eq!(
        c.run(0, mint(c.pk(0), 11)),
        Err(TxError::FaucetCapReached {
            minted: 0,
            cap: 10,
            needed: 11
        })
    );
    assert_eq!(c.run(0, mint(c.pk(0), 10)), Ok(()));
    assert_eq!(c.ledger.balance(&c.pk(0)), u64::MAX);
    finish(&c);

    // A chain without a faucet.
    let mut c = TestChain::new(2, BALANCE);
    let genesis = Genesis {
        faucet: None,
        ..c.ledger.genesis().clone()
    };
    c.ledger = Ledger::new(genesis);
    c.ledger.paranoid = true;
    assert_eq!(c.run(0, mint(c.pk(0), 1)), Err(TxError::FaucetDisabled));
    finish(&c);
}

#[test]
fn block_errors_leave_the_ledger_untouched() {
    let mut c = TestChain::new(2, BALANCE);
    c.run_to(5);
    let (root, head) = (c.ledger.state_root(), c.ledger.head_hash());
    let t = c.tx(1, transfer(&c, 0, 1));
    let tx = || vec![CheckedTx::check(t.clone())];
    let seal = |slot| c.ledger.seal(&c.validator, slot);
    let (s5, s3, s6) = (seal(5), seal(3), seal(6));
    assert_eq!(
        c.ledger.apply_block(5, head, s5, tx()).unwrap_err(),
        BlockError::SlotNotAfterHead { slot: 5, head: 5 }
    );
    assert_eq!(
        c.ledger.apply_block(3, head, s3, tx()).unwrap_err(),
        BlockError::SlotNotAfterHead { slot: 3, head: 5 }
    );
    assert_eq!(
        c.ledger.apply_block(6, Hash::ZERO, s6, tx()).unwrap_err(),
        BlockError::WrongParent {
            got: Hash::ZERO,
            expected: head
        }
    );
    assert_eq!(c.ledger.slot(), 5);
    assert_eq!(c.ledger.height(), 5);
    assert_eq!(c.ledger.state_root(), root);
    assert_eq!(c.ledger.head_hash(), head);
    assert_eq!(c.ledger.balance(&c.pk(1)), BALANCE);
    // The same transaction still applies in a good block.
    let out = c.block_at(6, vec![t]);
    assert_eq!(results(&out), vec![Ok(())]);
    assert_eq!(out.block.header.parent_hash, head);
    finish(&c);
}
