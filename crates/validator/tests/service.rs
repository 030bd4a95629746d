//! The validator as a library: start in-process on an ephemeral port, follow slots with the
//! long poll, shut down cleanly, and resume from the last committed block.

use gradual_client::{Client, TaskInfoFlags};
use gradual_rpc::dto::{BlockDto, InstructionDto};
use gradual_types::constants::PROTOCOL_VERSION;
use gradual_types::{
    task_id, Faucet, Genesis, Hash, Instruction, Keypair, Pubkey, TaskParams, ValidatorInfo,
    ValidatorKey,
};
use gradual_validator::{
    start, ConfigError, ValidatorConfig, ValidatorError, IDENTITY_FILE, STORE_FILE,
};

fn config(dir: &std::path::Path, faucet: &Keypair) -> ValidatorConfig {
    let genesis = Genesis {
        chain_id: "service-test".into(),
        slot_ms: 10,
        faucet: Some(Faucet::new(faucet.pubkey(), 1_000)),
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
    // Genesis::default() names the public devnet validator: the validator runs with it.
    assert_eq!(block.producer, ValidatorKey::devnet().id());
    let txs = block.transactions.unwrap();
    assert_eq!(txs[0].signature, sig.to_base58());
    assert_eq!(txs[0].instruction, "FaucetMint");
    assert_eq!(
        txs[0].details,
        Some(InstructionDto::FaucetMint { to, amount: 700 })
    );

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

/// Every committed block, paging through `getBlocks` (at most 100 a call).
async fn all_blocks(c: &Client) -> Vec<BlockDto> {
    let mut out: Vec<BlockDto> = Vec::new();
    loop {
        let from = out.last().map_or(0, |b| b.slot + 1);
        let page = c.get_blocks(from, 100, false).await.unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// Check every block's VRF randomness from the genesis on: each is the producer's VRF
/// output on (chain, slot, parent randomness), the first block's parent being the genesis.
fn check_randomness(
    chain_id: &str,
    genesis_hash: Hash,
    producer: &ValidatorInfo,
    blocks: &[BlockDto],
) {
    let mut parent = genesis_hash;
    for b in blocks {
        assert!(
            gradual_client::verify_block_randomness(chain_id, b, parent, producer).unwrap(),
            "block at slot {} has randomness its producer's key does not give",
            b.slot
        );
        parent = b.randomness;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_chain_gets_a_fresh_identity_that_restarts_need() {
    let dir = tempfile::tempdir().unwrap();
    let faucet = Keypair::from_seed([3; 32]);
    let mut cfg = config(dir.path(), &faucet);
    // As `gradual validator` without a genesis file: no validators named.
    cfg.genesis.validators = Vec::new();
    let v = start(cfg.clone()).await.unwrap();
    let id_path = dir.path().join(IDENTITY_FILE);
    let saved = gradual_client::read_keypair_file(&id_path).expect("identity saved as a key file");
    let me = ValidatorKey::from_keypair(saved).info();
    assert_ne!(
        me.id,
        ValidatorKey::devnet().id(),
        "a fresh key, not the devnet one"
    );

    let c = Client::new(&v.url());
    let g = c.get_genesis().await.unwrap();
    assert_eq!(g.protocol_version, PROTOCOL_VERSION);
    assert_eq!(g.admin, None);
    let named: Vec<ValidatorInfo> = g.validators.clone();
    assert_eq!(named, vec![me]);
    // A few blocks (slots may be skipped on a busy machine: count heights, not slots).
    loop {
        let h = c.get_head().await.unwrap();
        if h.height >= 3 {
            break;
        }
        c.wait_for_slot(h.slot + 1, 5_000).await.unwrap();
    }
    let blocks = all_blocks(&c).await;
    assert!(blocks.len() >= 3);
    assert!(blocks.iter().all(|b| b.producer == me.id));
    let genesis_hash = g.hash;
    check_randomness(&g.chain_id, genesis_hash, &me, &blocks);
    // Another key's proof does not verify.
    let devnet = ValidatorKey::devnet().info();
    assert!(!gradual_client::verify_block_randomness(
        &g.chain_id,
        &blocks[0],
        genesis_hash,
        &devnet
    )
    .unwrap());
    v.shutdown().await.unwrap();

    // A restart loads the identity from the data dir and goes on sealing with it.
    let v = start(cfg.clone()).await.unwrap();
    let c = Client::new(&v.url());
    let head = c.get_head().await.unwrap();
    c.wait_for_slot(head.slot + 3, 5_000).await.unwrap();
    let blocks = all_blocks(&c).await;
    check_randomness(&g.chain_id, genesis_hash, &me, &blocks);
    v.shutdown().await.unwrap();

    // Another identity is refused before anything is served.
    let mut wrong = cfg.clone();
    let stranger = Keypair::from_seed([7; 32]);
    wrong.identity = Some(stranger.clone());
    let err = start(wrong).await.err().unwrap();
    assert!(
        matches!(&err, ValidatorError::Config(ConfigError::NotAValidator { id, .. }) if *id == stranger.pubkey()),
        "{err}"
    );
    assert!(
        err.to_string().contains(&me.id.to_base58()),
        "the message lists the set: {err}"
    );

    // Without its identity file the validator cannot start (and makes no new key).
    let aside = dir.path().join("identity.bak");
    std::fs::rename(&id_path, &aside).unwrap();
    let err = start(cfg.clone()).await.err().unwrap();
    assert!(
        matches!(err, ValidatorError::Config(ConfigError::NoIdentity { .. })),
        "{err}"
    );
    assert!(!id_path.exists());
    // The key passed explicitly works as well as the file.
    let mut explicit = cfg.clone();
    explicit.identity = Some(gradual_client::read_keypair_file(&aside).unwrap());
    let v = start(explicit).await.unwrap();
    v.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genesis_naming_validators_needs_one_of_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let faucet = Keypair::from_seed([3; 32]);
    let listed = ValidatorKey::from_seed([21; 32]);
    let mut cfg = config(dir.path(), &faucet);
    cfg.genesis.validators = vec![ValidatorKey::from_seed([20; 32]).info(), listed.info()];
    let err = start(cfg.clone()).await.err().unwrap();
    assert!(
        matches!(err, ValidatorError::Config(ConfigError::NoIdentity { .. })),
        "{err}"
    );
    assert!(
        !dir.path().join(STORE_FILE).exists(),
        "a refused start creates no chain"
    );
    assert!(
        !dir.path().join(IDENTITY_FILE).exists(),
        "and generates no key"
    );
    let mut other = cfg.clone();
    other.identity = Some(Keypair::from_seed([22; 32]));
    assert!(matches!(
        start(other).await.err().unwrap(),
        ValidatorError::Config(ConfigError::NotAValidator { .. })
    ));
    assert!(!dir.path().join(STORE_FILE).exists());

    cfg.identity = Some(listed.keypair().clone());
    let v = start(cfg).await.unwrap();
    let c = Client::new(&v.url());
    c.wait_for_slot(2, 5_000).await.unwrap();
    let b = c.get_blocks(0, 1, false).await.unwrap();
    assert_eq!(b[0].producer, listed.id());
    v.shutdown().await.unwrap();

    // A genesis of another protocol version cannot start a chain.
    let dir = tempfile::tempdir().unwrap();
    let mut old = config(dir.path(), &faucet);
    old.genesis.protocol_version = 1;
    let err = start(old).await.err().unwrap();
    assert!(
        matches!(
            err,
            ValidatorError::Config(ConfigError::ProtocolVersion { got: 1, .. })
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_stake_and_v2_instructions_show_in_the_views() {
    let dir = tempfile::tempdir().unwrap();
    let faucet = Keypair::from_seed([3; 32]);
    let manager = Keypair::from_seed([30; 32]);
    let node = Keypair::from_seed([31; 32]);
    let owner = Keypair::from_seed([32; 32]).pubkey();
    let mut cfg = config(dir.path(), &faucet);
    cfg.genesis.accounts = vec![(manager.pubkey(), 1_000_000), (node.pubkey(), 10_000)];
    let v = start(cfg).await.unwrap();
    let c = Client::new(&v.url());

    // 10 ms slots: the vote window is max(⌈3000/10⌉, AW/3) = 300 slots, so AW ≥ 600.
    let mut params = TaskParams {
        name: "svc".into(),
        bounty_per_round: 1_000,
        round_time: 1_000,
        submission_window: 100,
        audit_window: 599,
        minimum_stake: 100,
        ..TaskParams::default()
    };
    let ix = |params: &TaskParams| Instruction::CreateTask {
        nonce: 1,
        params: params.clone(),
        total_bounty: 100_000,
    };
    let e = c.send_and_confirm(&manager, ix(&params)).await.unwrap_err();
    assert_eq!(e.tx_error_kind().as_deref(), Some("BadParams"));
    assert!(e.to_string().contains("at least 600"), "{e}");
    params.audit_window = 600;
    let created = c.send_and_confirm(&manager, ix(&params)).await.unwrap();
    let task = task_id(&manager.pubkey(), 1);
    let staked = c
        .send_and_confirm(
            &node,
            Instruction::Stake {
                task,
                amount: 500,
                url: "http://node.example:8080".into(),
                owner: Some(owner),
            },
        )
        .await
        .unwrap();
    c.send_and_confirm(
        &node,
        Instruction::SetNodeUrl {
            task,
            url: "https://node.example".into(),
        },
    )
    .await
    .unwrap();

    let t = c
        .get_task_account_info(&task, TaskInfoFlags::ALL)
        .await
        .unwrap();
    assert_eq!(t.params.audit_window, 600);
    assert_eq!(t.params.missed_list_bps, params.missed_list_bps);
    assert_eq!(t.terms_log.len(), 1);
    assert_eq!(t.terms_log[0].from_round, 0);
    assert_eq!(t.terms_log[0].terms.bounty_per_round, 1_000);
    assert_eq!(t.terms_log[0].terms.minimum_stake, 100);
    let stakes = t.stakes.unwrap();
    assert_eq!(stakes.len(), 1);
    let s = &stakes[0];
    assert_eq!(s.node, node.pubkey());
    assert_eq!(s.stake.owner, owner);
    assert_eq!(s.stake.url, "https://node.example");
    assert_eq!(
        (s.stake.withdraw_round, s.stake.settlement_locks),
        (None, 0)
    );

    let b = c.get_block(created.slot, true).await.unwrap().unwrap();
    let tx = &b.transactions.unwrap()[0];
    assert!(
        matches!(&tx.details, Some(InstructionDto::CreateTask { task: t, nonce: 1, params, .. })
            if *t == task && params.audit_window == 600),
        "{:?}",
        tx.details
    );
    let b = c.get_block(staked.slot, true).await.unwrap().unwrap();
    let tx = &b.transactions.unwrap()[0];
    assert_eq!(
        tx.details,
        Some(InstructionDto::Stake {
            task,
            amount: 500,
            url: "http://node.example:8080".into(),
            owner: Some(owner),
        })
    );
    // The same shape as JSON: tagged by instruction name.
    let json = serde_json::to_value(&tx.details).unwrap();
    assert_eq!(json["type"], "Stake");
    assert_eq!(json["owner"], owner.to_base58());
    v.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_that_cannot_pay_the_fee_is_refused_at_the_door() {
    let dir = tempfile::tempdir().unwrap();
    let faucet = Keypair::from_seed([3; 32]);
    let rich = Keypair::from_seed([40; 32]);
    let poor = Keypair::from_seed([41; 32]);
    let mut cfg = config(dir.path(), &faucet);
    cfg.genesis.fee_roe = 50;
    cfg.genesis.accounts = vec![(rich.pubkey(), 1_000), (poor.pubkey(), 49)];
    let v = start(cfg).await.unwrap();
    let c = Client::new(&v.url());
    let to = Pubkey([9; 32]);
    let e = c
        .send(&poor, Instruction::Transfer { to, amount: 1 })
        .await
        .unwrap_err();
    assert_eq!(e.tx_error_kind().as_deref(), Some("InsufficientFunds"));
    assert!(e.rpc_error().is_some(), "refused at the door: {e}");
    c.send_and_confirm(&rich, Instruction::Transfer { to, amount: 1 })
        .await
        .unwrap();
    assert_eq!(c.get_balance(&rich.pubkey()).await.unwrap(), 1_000 - 50 - 1);
    v.shutdown().await.unwrap();
}
