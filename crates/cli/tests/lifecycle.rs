//! A task's whole life over real HTTP against the real validator binary (issue #3): the CLI
//! creates the task from a task.yml, stakes, claims, unstakes and withdraws; the client plays
//! the nodes (proofs, an upheld audit, the distribution list). A second test restarts the
//! validator mid-task and checks that no block was lost.

mod common;

use common::*;
use gradual_client::{task_clock, Client, TaskInfoFlags};
use gradual_ledger::{distribution_digest, Window};
use gradual_rpc::dto::*;
use gradual_types::{parse_koii, Hash, Instruction, Keypair, Pubkey, TaskId, Verdict};

fn proof(node: &Pubkey, round: u64) -> Vec<u8> {
    Hash::domain("tests/work", &[&node.0, &round.to_le_bytes()])
        .0
        .to_vec()
}

async fn ok(c: &Client, kp: &Keypair, ix: Instruction) -> u64 {
    let name = ix.name();
    c.send_and_confirm(kp, ix)
        .await
        .unwrap_or_else(|e| panic!("{name} failed: {e}"))
        .slot
}

/// The first round whose work period starts after every stake, and whose proof
/// submission window is still ahead.
async fn next_round(c: &Client, task: &TaskId) -> u64 {
    let t = c
        .get_task_account_info(task, TaskInfoFlags::ALL)
        .await
        .unwrap();
    let clock = task_clock(&t);
    let last_stake = t
        .stakes
        .unwrap()
        .iter()
        .map(|s| s.stake.staked_slot)
        .max()
        .unwrap();
    let now = c.get_slot().await.unwrap();
    let mut r = clock.round(last_stake) + 1;
    // Leave a few slots of margin before the window opens.
    while clock.window(Window::ProofSubmission, r, 0).opens <= now + 2 {
        r += 1;
    }
    r
}

/// `gradual unstake <task> --json` signed by `kp`: refused (exit 2, code
/// `unstake_has_duties`, naming `duty` and --force), and the stake is not unstaking.
async fn unstake_is_refused(c: &Client, kp: &Keypair, task: &TaskId, duty: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    gradual_client::write_keypair_file(&path, kp, false).unwrap();
    let out = tokio::process::Command::new(BIN)
        .args(["unstake", &task.to_base58(), "--json", "--url", c.url()])
        .arg("--keypair")
        .arg(&path)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["error"]["code"], "unstake_has_duties", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(duty) && msg.contains("--force"), "{msg}");
    let acct = c.get_account(&kp.pubkey()).await.unwrap();
    let st = acct.stakes.iter().find(|s| s.task == *task).unwrap();
    assert_eq!(st.stake.unstake_round, None, "nothing was sent");
}

/// Drive round `r` with `submitters` (valid proofs), `garbage` (an invalid proof that
/// `accuser` challenges and the committee upholds), then the distribution. Returns the
/// payout per valid submitter. With `guard`, also checks that `gradual unstake` refuses a
/// seat holder of the open audit and the selected distribution submitter.
async fn play_round(
    c: &Client,
    task: &TaskId,
    r: u64,
    submitters: &[&Keypair],
    garbage: Option<(&Keypair, &Keypair)>,
    guard: bool,
) -> u64 {
    let t = c
        .get_task_account_info(task, TaskInfoFlags::default())
        .await
        .unwrap();
    let clock = task_clock(&t);
    let ps = clock.window(Window::ProofSubmission, r, 0);
    c.wait_until_slot(ps.opens).await.unwrap();
    let mut sigs = Vec::new();
    for kp in submitters {
        let ix = Instruction::SubmitProof {
            task: *task,
            round: r,
            value: proof(&kp.pubkey(), r),
        };
        sigs.push(c.send(kp, ix).await.unwrap());
    }
    if let Some((bad, _)) = garbage {
        let ix = Instruction::SubmitProof {
            task: *task,
            round: r,
            value: b"not the work".to_vec(),
        };
        sigs.push(c.send(bad, ix).await.unwrap());
    }
    for s in &sigs {
        let slot = c.confirm(s).await.unwrap().slot;
        assert!(ps.contains(slot), "proof landed in its window");
    }

    let pa = clock.window(Window::ProofAudit, r, 0);
    if let Some((bad, accuser)) = garbage {
        c.wait_until_slot(pa.opens).await.unwrap();
        // Every honest node checks its peers; the first Invalid vote raises the audit.
        let subs = c.get_task_submission_info(task, r).await.unwrap();
        for s in &subs.submissions {
            let node: Pubkey = s.node;
            let value = s.submission.value.clone();
            assert_eq!(value == proof(&node, r), node != bad.pubkey());
        }
        ok(
            c,
            accuser,
            Instruction::AuditProof {
                task: *task,
                round: r,
                candidate: bad.pubkey(),
                verdict: Verdict::Invalid,
            },
        )
        .await;
        // The committee is drawn in the next block; its seat holders vote.
        let committee = loop {
            let a = c.get_audit_committee(task, r, &bad.pubkey()).await.unwrap();
            if let Some(cm) = a.committee {
                break cm;
            }
            let s = c.get_slot().await.unwrap();
            c.wait_for_slot(s + 1, 2_000).await.unwrap();
        };
        assert!(!committee.seats.is_empty());
        if guard {
            let holder = submitters
                .iter()
                .find(|k| k.pubkey() == committee.seats[0].node)
                .unwrap();
            unstake_is_refused(c, holder, task, "seat(s) on the open committee auditing").await;
        }
        for seat in &committee.seats {
            let voter = submitters
                .iter()
                .find(|k| k.pubkey() == seat.node)
                .expect("seats go to staked honest nodes, never the accused or the accuser");
            ok(
                c,
                voter,
                Instruction::AuditProof {
                    task: *task,
                    round: r,
                    candidate: bad.pubkey(),
                    verdict: Verdict::Invalid,
                },
            )
            .await;
        }
    }

    // Distribution: the top-ranked candidate submits the default list (equal split).
    let ds = clock.window(Window::DistributionSubmission, r, 0);
    c.wait_until_slot(ds.opens).await.unwrap();
    let info = c.get_task_distribution_info(task, r).await.unwrap();
    assert_eq!(info.status, RoundStatusDto::Distributing);
    let selected = info.attempts[0].submitter;
    assert_eq!(selected, info.candidates[0]);
    let mut valid: Vec<Pubkey> = submitters.iter().map(|k| k.pubkey()).collect();
    valid.sort();
    let share = t.params.bounty_per_round / valid.len() as u64;
    let entries: Vec<(Pubkey, u64)> = valid.iter().map(|n| (*n, share)).collect();
    let distributor = submitters
        .iter()
        .find(|k| k.pubkey() == selected)
        .expect("only valid submitters are candidates");
    let up = c
        .send(
            distributor,
            Instruction::UploadDistributionChunk {
                task: *task,
                round: r,
                attempt: 0,
                index: 0,
                entries: entries.clone(),
            },
        )
        .await
        .unwrap();
    let sub = c
        .send(
            distributor,
            Instruction::SubmitDistribution {
                task: *task,
                round: r,
                attempt: 0,
                digest: distribution_digest(&entries),
                count: entries.len() as u32,
            },
        )
        .await
        .unwrap();
    c.confirm(&up).await.unwrap();
    c.confirm(&sub).await.unwrap();
    if guard {
        // Its list is under audit: unstaking now would waste the attempt.
        unstake_is_refused(c, distributor, task, "selected distribution submitter").await;
    }

    // Payout happens at the first block at or after the distribution audit window closes.
    let da = clock.window(Window::DistributionAudit, r, 0);
    c.wait_until_slot(da.closes).await.unwrap();
    let info = c.get_task_distribution_info(task, r).await.unwrap();
    assert_eq!(
        info.status,
        RoundStatusDto::Paid {
            attempt: 0,
            total_roe: share * valid.len() as u64
        }
    );
    share
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_task_lifecycle_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, faucet) = key(d, 0);
    let v = Validator::start(d, &faucet);
    let c = v.client();

    // Keys: the CLI makes the manager's; nodes use fixed test keys.
    let mgr_path = d.join("manager.json");
    let k = v
        .cli_json(None, &["keygen", "--outfile", mgr_path.to_str().unwrap()])
        .await;
    let mgr_pk: Pubkey = k["pubkey"].as_str().unwrap().parse().unwrap();
    let addr = v.cli_json(Some(&mgr_path), &["address"]).await;
    assert_eq!(addr["pubkey"], mgr_pk.to_base58());
    let (a, a_path) = key(d, 1);
    let (b, b_path) = key(d, 2);
    let (bad, bad_path) = key(d, 3);

    let out = v.cli_json(Some(&mgr_path), &["airdrop", "500"]).await;
    assert_eq!(out["balance_roe"], parse_koii("500").unwrap());
    for p in [&a_path, &b_path, &bad_path] {
        v.cli_json(Some(p), &["airdrop", "50"]).await;
    }

    // Create the task from a task.yml: the executable goes to the artifact store.
    let yml = write_task_yml(d, RT, SW, AW);
    let created = v
        .cli_json(
            Some(&mgr_path),
            &["task", "create", yml.to_str().unwrap(), "--nonce", "7"],
        )
        .await;
    let task: TaskId = Hash::from_base58(created["task"].as_str().unwrap()).unwrap();
    assert_eq!(task, gradual_types::task_id(&mgr_pk, 7));
    let exe_url = created["executable_url"].as_str().unwrap();
    let digest = Hash(*blake3::hash(EXECUTABLE).as_bytes());
    assert_eq!(
        c.download_artifact(exe_url, &digest).await.unwrap(),
        EXECUTABLE
    );
    let bal = c.get_balance(&mgr_pk).await.unwrap();
    assert_eq!(bal, parse_koii("400").unwrap(), "100 KOII escrowed");
    let list = v.cli_json(None, &["task", "list"]).await;
    assert_eq!(list[0]["id"], task.to_base58());
    assert_eq!(list[0]["name"], "lifecycle");

    // Stake through the CLI.
    let task_s = task.to_base58();
    for p in [&a_path, &b_path, &bad_path] {
        v.cli_json(
            Some(p),
            &["stake", &task_s, "10", "--node-url", "http://node"],
        )
        .await;
    }
    let t = c
        .get_task_account_info(&task, TaskInfoFlags::ALL)
        .await
        .unwrap();
    assert_eq!(t.stakers, 3);
    assert_eq!(t.total_stake, parse_koii("30").unwrap());

    // One round with two honest nodes and one cheater.
    let r = next_round(&c, &task).await;
    let share = play_round(&c, &task, r, &[&a, &b], Some((&bad, &a)), true).await;
    assert_eq!(share, parse_koii("0.75").unwrap());

    // The cheater was slashed 70 % and the accuser and voter were paid from it.
    let subs = c.get_task_submission_info(&task, r).await.unwrap();
    let audit = &subs.audits[0];
    assert_eq!(audit.candidate, bad.pubkey());
    let slashed = parse_koii("7").unwrap();
    assert_eq!(
        audit.outcome,
        Some(AuditOutcomeDto::Upheld {
            slashed,
            accuser_reward: slashed * 2 / 10,
            voter_rewards: slashed * 3 / 10,
        })
    );
    let bad_acct = c.get_account(&bad.pubkey()).await.unwrap();
    assert_eq!(bad_acct.stakes[0].stake.amount, parse_koii("3").unwrap());

    // `task show` and `task round` describe it for people and for scripts.
    let show = v.cli(None, &["task", "show", &task_s]).await;
    assert_eq!(show.code, Some(0), "{}", show.stderr);
    assert!(
        show.stdout.contains("\"lifecycle\" (active)"),
        "{}",
        show.stdout
    );
    assert!(
        show.stdout
            .contains(&format!("round {r}: paid 1.5 KOII (attempt 0)")),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("3 stakers"), "{}", show.stdout);
    let round = v
        .cli_json(None, &["task", "round", &task_s, &r.to_string()])
        .await;
    assert_eq!(
        round["submissions"]["submissions"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        round["submissions"]["audits"][0]["outcome"]["result"],
        "upheld"
    );
    assert_eq!(
        round["distribution"]["attempts"][0]["outcome"]["result"],
        "payout_successful"
    );
    let text = v
        .cli(None, &["task", "round", &task_s, &r.to_string()])
        .await;
    assert!(text.stdout.contains("VOIDED"), "{}", text.stdout);
    assert!(
        text.stdout.contains("upheld: slashed 7 KOII"),
        "{}",
        text.stdout
    );

    // Rewards and claims: A earned its share plus the accuser's reward; B its share plus
    // the voters' share (B held every seat).
    let rewards = v.cli_json(Some(&a_path), &["rewards"]).await;
    let a_pending = share + slashed * 2 / 10;
    assert_eq!(rewards[0]["amount"], a_pending);
    let before = c.get_balance(&a.pubkey()).await.unwrap();
    v.cli_json(Some(&a_path), &["claim", "--all"]).await;
    assert_eq!(
        c.get_balance(&a.pubkey()).await.unwrap(),
        before + a_pending
    );
    let before = c.get_balance(&b.pubkey()).await.unwrap();
    v.cli_json(Some(&b_path), &["claim", &task_s]).await;
    assert_eq!(
        c.get_balance(&b.pubkey()).await.unwrap(),
        before + share + slashed * 3 / 10
    );
    let again = v.cli(Some(&b_path), &["claim", &task_s]).await;
    again.assert_error("no pending rewards to claim");

    // Unstake at the start of a round, try to withdraw at once (refused), wait the
    // cooldown (1 round), withdraw.
    let t = c
        .get_task_account_info(&task, TaskInfoFlags::default())
        .await
        .unwrap();
    let clock = task_clock(&t);
    c.wait_until_slot(clock.start(t.current_round + 1) + 1)
        .await
        .unwrap();
    let un = v.cli_json(Some(&b_path), &["unstake", &task_s]).await;
    let early = v.cli(Some(&b_path), &["withdraw", &task_s]).await;
    early.assert_error("cooldown not over");
    let unstake_round = clock.round(un["slot"].as_u64().unwrap());
    // The ledger fixed the withdraw round when the Unstake landed (SPEC §7 [v2]).
    assert_eq!(un["unstake_round"], unstake_round);
    assert_eq!(un["withdraw_round"], unstake_round + 1);
    c.wait_until_slot(clock.start(unstake_round + 1))
        .await
        .unwrap();
    let before = c.get_balance(&b.pubkey()).await.unwrap();
    v.cli_json(Some(&b_path), &["withdraw", &task_s]).await;
    assert_eq!(
        c.get_balance(&b.pubkey()).await.unwrap(),
        before + parse_koii("10").unwrap()
    );

    // [v2] A's node URL changes without touching its stake; its withdraw authority moves to
    // the manager, after which A's key can no longer move it.
    v.cli_json(Some(&a_path), &["set-url", &task_s, "http://node-a:8080"])
        .await;
    let mgr_s = mgr_pk.to_base58();
    let a_s = a.pubkey().to_base58();
    v.cli_json(Some(&a_path), &["set-owner", &task_s, &a_s, &mgr_s])
        .await;
    let acct = c.get_account(&a.pubkey()).await.unwrap();
    let st = &acct.stakes[0];
    assert_eq!(st.stake.url, "http://node-a:8080");
    assert_eq!(st.stake.owner, mgr_pk);
    assert_eq!(st.stake.amount, parse_koii("10").unwrap());
    let again = v
        .cli(Some(&a_path), &["set-owner", &task_s, &a_s, &a_s])
        .await;
    again.assert_error("only the stake's owner");
    let show = v.cli(None, &["task", "show", &task_s]).await;
    assert!(
        show.stdout.contains(&format!("owner {mgr_s}")),
        "{}",
        show.stdout
    );

    let status = v.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_task_loses_no_block() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, faucet) = key(d, 0);
    let (mgr, mgr_path) = key(d, 9);
    let (a, a_path) = key(d, 1);
    let v = Validator::start(d, &faucet);
    let c = v.client();
    c.airdrop_and_confirm(&mgr.pubkey(), parse_koii("200").unwrap())
        .await
        .unwrap();
    c.airdrop_and_confirm(&a.pubkey(), parse_koii("20").unwrap())
        .await
        .unwrap();
    let yml = write_task_yml(d, RT, SW, AW);
    let created = v
        .cli_json(
            Some(&mgr_path),
            &["task", "create", yml.to_str().unwrap(), "--nonce", "1"],
        )
        .await;
    let task = Hash::from_base58(created["task"].as_str().unwrap()).unwrap();
    v.cli_json(Some(&a_path), &["stake", &task.to_base58(), "10"])
        .await;
    let before = c.get_head().await.unwrap();

    // Stop mid-task, restart on the same data directory.
    assert!(v.terminate().success());
    let v = Validator::start(d, &faucet);
    let c = v.client();
    let h = c.get_head().await.unwrap();
    assert!(h.height >= before.height);
    let old = c.get_block(before.slot, false).await.unwrap().unwrap();
    assert_eq!(old.hash, before.hash, "the committed block survived");
    c.wait_for_slot(h.slot + 1, 5_000).await.unwrap();

    // Every block from genesis on is there and chains to its parent.
    let genesis = c.get_genesis().await.unwrap();
    let mut parent = genesis.hash;
    let mut from = 0;
    let mut height = 0;
    let target = c.get_slot().await.unwrap();
    while from <= target {
        let page = c.get_blocks(from, 100, false).await.unwrap();
        assert!(!page.is_empty(), "blocks up to slot {target} exist");
        for b in &page {
            height += 1;
            assert_eq!(b.height, height, "no block missing");
            assert_eq!(b.parent_hash, parent, "block at slot {} chains", b.slot);
            parent = b.hash;
            from = b.slot + 1;
        }
    }
    assert!(height > before.height);

    // The task carries on: A's stake is intact and the next round pays A.
    let acct = c.get_account(&a.pubkey()).await.unwrap();
    assert_eq!(acct.stakes[0].stake.amount, parse_koii("10").unwrap());
    let r = next_round(&c, &task).await;
    let share = play_round(&c, &task, r, &[&a], None, false).await;
    assert_eq!(share, parse_koii("1.5").unwrap());
    let rewards = v.cli_json(Some(&a_path), &["rewards"]).await;
    assert_eq!(rewards[0]["amount"], share);
    assert!(v.terminate().success());
}

/// `gradual task new` writes no path of this checkout into the project's `Cargo.toml`, so a
/// copy builds elsewhere. (Building and testing it outside the repository, then a devnet of
/// it, is the task-developer guide's walk-through: `tests/guides.rs`.)
#[test]
fn scaffolded_cargo_toml_names_no_path_of_this_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["task", "new", "my-task"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let cargo_toml = std::fs::read_to_string(tmp.path().join("my-task/Cargo.toml")).unwrap();
    let checkout = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap();
    assert!(
        !cargo_toml.contains(checkout.to_str().unwrap()),
        "no path of this checkout in Cargo.toml: {cargo_toml}"
    );
    assert!(
        cargo_toml.contains("gradual-task-sdk = "),
        "the SDK is named like a published crate: {cargo_toml}"
    );
}
