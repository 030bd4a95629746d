//! The devnet faucet's limits (docs/protocol.md *Faucet*): a per-recipient window, a
//! lifetime cap, and mints that pay their own fee on a chain with one.

use super::{finish, BALANCE};
use crate::testkit::TestChain;
use crate::{Ledger, TxError};
use gradual_types::{Faucet, Genesis, Instruction, Pubkey};

fn mint(to: Pubkey, amount: u64) -> Instruction {
    Instruction::FaucetMint { to, amount }
}

/// A chain of `n` keys whose faucet (key 0) has these limits. With `authority_funded`
/// false, key 0 holds nothing, like a real faucet authority.
fn chain(n: u32, fee: u64, faucet: impl Fn(Faucet) -> Faucet, authority_funded: bool) -> TestChain {
    let mut c = TestChain::with_fee(n, BALANCE, fee);
    let g = c.ledger.genesis().clone();
    let authority = c.pk(0);
    let genesis = Genesis {
        faucet: Some(faucet(g.faucet.clone().expect("testkit has a faucet"))),
        accounts: g
            .accounts
            .iter()
            .filter(|(k, _)| authority_funded || *k != authority)
            .copied()
            .collect(),
        ..g
    };
    c.ledger = Ledger::new(genesis);
    c.ledger.paranoid = true;
    c
}

#[test]
fn the_faucet_refuses_past_its_cap() {
    let mut c = chain(
        4,
        0,
        |f| Faucet {
            mint_max_roe: 10,
            recipient_max_roe: 10,
            cap_roe: 25,
            ..f
        },
        true,
    );
    assert_eq!(c.run(0, mint(c.pk(1), 10)), Ok(()));
    assert_eq!(c.run(0, mint(c.pk(2), 10)), Ok(()));
    let before = c.ledger.balance(&c.pk(3));
    assert_eq!(
        c.run(0, mint(c.pk(3), 10)),
        Err(TxError::FaucetCapReached {
            minted: 20,
            cap: 25,
            needed: 10
        })
    );
    assert_eq!(
        c.ledger.balance(&c.pk(3)),
        before,
        "a refused mint changes nothing"
    );
    assert_eq!(c.run(0, mint(c.pk(3), 5)), Ok(()));
    assert_eq!(c.ledger.meta().faucet_minted_roe, 25);
    let err = c.run(0, mint(c.pk(3), 1)).unwrap_err();
    assert_eq!(err.code(), "faucet_cap_reached");
    assert_eq!(
        c.ledger.faucet_check(&c.pk(3), 1, c.ledger.slot() + 1),
        Err(err),
        "the door check agrees with the rule"
    );
    finish(&c);
}

#[test]
fn the_faucet_rate_limits_a_recipient() {
    let mut c = chain(
        3,
        0,
        |f| Faucet {
            mint_max_roe: 10,
            recipient_max_roe: 10,
            recipient_window_slots: 10,
            ..f
        },
        true,
    );
    assert_eq!(c.run(0, mint(c.pk(1), 6)), Ok(()));
    let start = c.ledger.slot();
    let refused = TxError::FaucetRateLimited {
        recipient: c.pk(1),
        received: 6,
        max: 10,
        window_slots: 10,
        next_slot: start + 10,
    };
    assert_eq!(
        c.ledger.faucet_check(&c.pk(1), 5, c.ledger.slot() + 1),
        Err(refused.clone())
    );
    assert_eq!(c.run(0, mint(c.pk(1), 5)), Err(refused));
    // What is left of its window, and another recipient, still pass.
    assert_eq!(c.run(0, mint(c.pk(1), 4)), Ok(()));
    assert_eq!(c.run(0, mint(c.pk(2), 10)), Ok(()));
    assert_eq!(
        c.run(0, mint(c.pk(1), 1)).map_err(|e| e.code()),
        Err("faucet_rate_limited")
    );
    // The window is counted in slots from its first mint: at `start + 10` a new one opens.
    c.run_to(start + 8);
    assert_eq!(
        c.run(0, mint(c.pk(1), 1)).map_err(|e| e.code()),
        Err("faucet_rate_limited"),
        "slot start + 9 is still in the window"
    );
    assert_eq!(c.run(0, mint(c.pk(1), 10)), Ok(()));
    assert_eq!(c.ledger.balance(&c.pk(1)), BALANCE + 20);
    finish(&c);
}

#[test]
fn airdrops_work_on_a_chain_with_a_fee() {
    const FEE: u64 = 10;
    let mut c = chain(2, FEE, |f| f, false);
    assert_eq!(c.ledger.balance(&c.pk(0)), 0, "the authority holds nothing");
    let (minted, burned) = (c.ledger.minted_roe(), c.ledger.burned_roe());
    assert_eq!(c.run(0, mint(c.pk(1), 500)), Ok(()));
    // The recipient gets what was asked; the mint creates the fee too and burns it.
    assert_eq!(c.ledger.balance(&c.pk(1)), BALANCE + 500);
    assert_eq!(c.ledger.balance(&c.pk(0)), 0);
    assert_eq!(c.ledger.minted_roe(), minted + 500 + FEE);
    assert_eq!(c.ledger.burned_roe(), burned + FEE);
    assert_eq!(c.ledger.meta().faucet_minted_roe, 500 + FEE);
    // A refused mint by the authority changes nothing: there is nothing to charge.
    let over = c.ledger.genesis().faucet.as_ref().unwrap().mint_max_roe + 1;
    assert!(matches!(
        c.run(0, mint(c.pk(1), over)),
        Err(TxError::MintTooLarge { .. })
    ));
    assert_eq!(c.ledger.burned_roe(), burned + FEE);
    // Anyone else's FaucetMint pays its fee like any transaction.
    assert_eq!(
        c.run(1, mint(c.pk(1), 5)),
        Err(TxError::NotFaucet { authority: c.pk(0) })
    );
    assert_eq!(c.ledger.balance(&c.pk(1)), BALANCE + 500 - FEE);
    finish(&c);
}

#[test]
fn ended_faucet_windows_are_pruned() {
    let mut c = chain(
        1,
        0,
        |f| Faucet {
            recipient_window_slots: 2,
            ..f
        },
        true,
    );
    for i in 0..40u8 {
        assert_eq!(c.run(0, mint(Pubkey([i + 1; 32]), 1)), Ok(()));
        assert!(
            c.ledger.faucet_windows.len() <= 3 && c.ledger.faucet_expiry.len() <= 3,
            "windows kept after mint {i}: {}",
            c.ledger.faucet_windows.len()
        );
    }
    // A recipient back after its window ended opens a new one, indexed once.
    c.run_to(c.ledger.slot() + 5);
    assert_eq!(c.run(0, mint(Pubkey([1; 32]), 1)), Ok(()));
    assert_eq!(c.run(0, mint(Pubkey([1; 32]), 1)), Ok(()));
    assert!(c.ledger.faucet_windows.contains(&Pubkey([1; 32])));
    finish(&c);
}
