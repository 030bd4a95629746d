//! The validator as a library: start in-process on an ephemeral port, follow slots with the
//! long poll, shut down cleanly, and resume from the last committed block.

use gradual_client::Client;
use gradual_types::{Faucet, Genesis, Instruction, Keypair, Pubkey};
use gradual_validator::{start, ConfigError, ValidatorConfig, ValidatorError};

fn config(dir: &std::path::Path, faucet: &Keypair) -> ValidatorConfig {
    let genesis = Genesis {
        chain_id: "service-test".into(),
        slot_ms: 10,
        faucet: Some(Faucet {
            authority: faucet.pubkey(),
            mint_max_roe: 1_000,
        }),
        ..Genesis::default()
    };
    let mut c = ValidatorConfig::new(dir.to_path_buf(), "127.0.0.1:0".parse().unwrap(), genesis);
    c.faucet_keypair = Some(faucet.clone());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_slots_shuts_down_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let faucet = Keypair::from_seed([3; 32]);
    let v = start(config(dir.path(), &faucet)).await.unwrap();
    let c = Client::new(&v.url());

    let w = c.wait_for_slot(5, 5_000).await.unwrap();
    assert!(w.reached && w.head.slot >= 5);
    // A slot far ahead: the long poll times out and says so.
    let far = c.wait_for_slot(1_000_000, 50).await.unwrap();
    assert!(!far.reached);

    let to = Pubkey([8; 32]);
    let sig = c.request_airdrop(&to, 700).await.unwrap();
    let done = c.confirm(&sig).await.unwrap();
    assert_eq!(c.get_balance(&to).await.unwrap(), 700);
    let st = c.get_signature_status(&sig).await.unwrap().unwrap();
    assert_eq!(st.slot, Some(done.slot));
    let block = c.get_block(done.slot, true).await.unwrap().unwrap();
    let txs = block.transactions.unwrap();
    assert_eq!(txs[0].signature, sig.to_base58());
    assert_eq!(txs[0].instruction, "FaucetMint");

    // A transaction the ledger refuses carries its reason in the status.
    let kp = Keypair::from_seed([4; 32]);
    let e = c
        .send_and_confirm(&kp, Instruction::Transfer { to, amount: 1 })
        .await
        .unwrap_err();
    assert_eq!(e.tx_error_kind().as_deref(), Some("InsufficientFunds"));

    let before = c.get_head().await.unwrap();
    v.shutdown().await.unwrap();
    assert!(c.get_slot().await.is_err(), "nothing serves after shutdown");

    // The same directory resumes the chain; a different faucet key is refused.
    let other = Keypair::from_seed([5; 32]);
    let err = start(config(dir.path(), &other)).await.err().unwrap();
    assert!(matches!(
        err,
        ValidatorError::Config(ConfigError::FaucetMismatch { .. })
    ));
    let v = start(config(dir.path(), &faucet)).await.unwrap();
    let c = Client::new(&v.url());
    let h = c.get_head().await.unwrap();
    assert!(h.height >= before.height);
    let b = c.get_block(before.slot, false).await.unwrap().unwrap();
    assert_eq!(b.hash, before.hash);
    assert_eq!(c.get_balance(&to).await.unwrap(), 700);
    v.shutdown().await.unwrap();
}
