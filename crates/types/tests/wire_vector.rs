//! The wire-format test vector of docs/protocol.md §14, checked against this crate's own
//! encoding, so the document cannot drift from the code.
//!
//! The test reads the document itself: the blocks between `<!-- vector:NAME -->` and
//! `<!-- /vector:NAME -->` markers. Each value there must equal what the code computes from
//! the inputs below (which the document lists too); on a mismatch the failure message prints
//! the block as it should read, ready to paste.
//!
//! The block header is encoded here by hand, following the document's table (the
//! `BlockHeader` type lives in gradual-ledger, which this crate cannot depend on);
//! crates/ledger/tests/block_vector.rs checks the ledger's own `BlockHeader` against the same
//! vector.

use gradual_types::hash::tags;
use gradual_types::{
    task_id, Executable, Hash, Instruction, Keypair, Message, Pubkey, TaskParams, Transaction,
    ValidatorInfo, Verdict, VrfPublicKey, TX_VERSION,
};

/// Inputs of the transaction vector.
const SEED: [u8; 32] = [0x01; 32];
const RECIPIENT_SEED: [u8; 32] = [0x02; 32];
const CHAIN_ID: &str = "gradual-devnet";
const RECENT_SLOT: u64 = 1_234;
const FEE_ROE: u64 = 5_000;
/// 1 KOII.
const AMOUNT_ROE: u64 = 1_000_000_000;
const TASK_NONCE: u64 = 7;

/// Inputs of the block header vector (its producer is the vector's signer, its only
/// transaction the vector's transaction).
const SLOT: u64 = 1_240;
const HEIGHT: u64 = 1_100;
const PARENT_HASH: [u8; 32] = [0x11; 32];
const RANDOMNESS: [u8; 32] = [0x22; 32];
const VRF_PREOUT: [u8; 32] = [0x33; 32];
const VRF_PROOF: [u8; 64] = [0x44; 64];
const STATE_ROOT: [u8; 32] = [0x55; 32];

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The text between `<!-- vector:NAME -->` and `<!-- /vector:NAME -->`.
fn section<'a>(doc: &'a str, name: &str) -> &'a str {
    let open = format!("<!-- vector:{name} -->");
    let close = format!("<!-- /vector:{name} -->");
    let start = doc
        .find(&open)
        .unwrap_or_else(|| panic!("docs/protocol.md has no '{open}' marker"))
        + open.len();
    let len = doc[start..]
        .find(&close)
        .unwrap_or_else(|| panic!("docs/protocol.md has no '{close}' marker"));
    &doc[start..start + len]
}

/// `key value` lines of a fenced block; an indented line continues the value above it (long
/// hex and base64 values are wrapped).
fn values(section: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in section.lines() {
        if line.trim().is_empty() || line.starts_with("```") {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            let (_, v) = out
                .last_mut()
                .unwrap_or_else(|| panic!("continuation line with no key: '{line}'"));
            v.push_str(line.trim());
        } else {
            let (k, v) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            out.push((k.to_string(), v.trim().to_string()));
        }
    }
    out
}

/// Rows of a markdown table whose first cell is a number: the trimmed cells, backticks removed.
fn rows(section: &str) -> Vec<Vec<String>> {
    section
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().replace('`', ""))
                .collect::<Vec<_>>()
        })
        .filter(|cells| cells[0].parse::<u64>().is_ok())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 with padding (RFC 4648 §4), the encoding `sendTransaction` takes.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b58(bytes: &[u8]) -> String {
    bs58::encode(bytes).into_string()
}

/// Compare the document's `key value` block with `expected`, key by key, in order.
fn check_block(name: &str, expected: &[(&str, String)]) {
    let doc = doc();
    let got = values(section(&doc, name));
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    // Wrapped values are compared without the whitespace of the wrapping.
    let squash = |v: &[(String, String)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.clone(), v.split_whitespace().collect::<String>()))
            .collect()
    };
    if squash(&got) != squash(&want) {
        let width = want.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 2;
        let mut text = String::from("```text\n");
        for (k, v) in &want {
            let mut first = true;
            let step = 64;
            let chars: Vec<char> = v.chars().collect();
            for piece in chars.chunks(step) {
                let piece: String = piece.iter().collect();
                if first {
                    text.push_str(&format!("{k:width$}{piece}\n"));
                    first = false;
                } else {
                    text.push_str(&format!("{:width$}{piece}\n", ""));
                }
            }
            if v.is_empty() {
                text.push_str(&format!("{k}\n"));
            }
        }
        text.push_str("```\n");
        panic!(
            "docs/protocol.md's vector '{name}' does not match the code.\n\
             document: {got:#?}\n\nIt should read:\n{text}"
        );
    }
}

fn keypair() -> Keypair {
    Keypair::from_seed(SEED)
}

fn recipient() -> Pubkey {
    Keypair::from_seed(RECIPIENT_SEED).pubkey()
}

/// The vector's transaction, built with the crate's own API.
fn vector_tx() -> Transaction {
    Transaction::new_signed(
        &keypair(),
        CHAIN_ID,
        RECENT_SLOT,
        FEE_ROE,
        Instruction::Transfer {
            to: recipient(),
            amount: AMOUNT_ROE,
        },
    )
}

#[test]
fn transaction_vector_matches_the_document() {
    let tx = vector_tx();
    assert_eq!(tx.message.version, TX_VERSION);
    assert!(tx.verify(), "the vector's signature verifies");
    let message = borsh::to_vec(&tx.message).expect("encode message");
    let signed = tx.message.signing_bytes();
    // The signed bytes are the tag, a zero byte, then the message: nothing else.
    assert_eq!(signed, [tags::TX.as_bytes(), &[0], &message].concat());
    let bytes = tx.encode();
    assert_eq!(bytes, [message.as_slice(), &tx.signature.0].concat());
    assert_eq!(Transaction::decode(&bytes).expect("decodes"), tx);
    // ed25519 (RFC 8032) is deterministic: any library signs the same bytes the same way.
    let dalek = ed25519_dalek::SigningKey::from_bytes(&SEED);
    use ed25519_dalek::Signer;
    assert_eq!(dalek.sign(&signed).to_bytes(), tx.signature.0);
    let pk = keypair().pubkey();
    check_block(
        "tx",
        &[
            ("seed", hex(&SEED)),
            ("recipient_seed", hex(&RECIPIENT_SEED)),
            ("chain_id", CHAIN_ID.to_string()),
            ("recent_slot", RECENT_SLOT.to_string()),
            ("fee", FEE_ROE.to_string()),
            ("amount", AMOUNT_ROE.to_string()),
            ("signer", pk.to_base58()),
            ("signer_hex", hex(&pk.0)),
            ("recipient", recipient().to_base58()),
            ("recipient_hex", hex(&recipient().0)),
            ("message_hex", hex(&message)),
            ("signed_hex", hex(&signed)),
            ("signature_hex", hex(&tx.signature.0)),
            ("signature", tx.signature.to_base58()),
            ("tx_len", bytes.len().to_string()),
            ("tx_hex", hex(&bytes)),
            ("tx_base64", base64(&bytes)),
            ("tx_base58", b58(&bytes)),
            ("task_id_nonce_7", task_id(&pk, TASK_NONCE).to_base58()),
        ],
    );
}

/// The JSON-RPC request a client sends (as `gradual_client::Client::send_transaction` builds
/// it: `[<base64>, {"encoding": "base64"}]`, id 1 here).
#[test]
fn json_rpc_request_matches_the_document() {
    let b64 = base64(&vector_tx().encode());
    let want = format!(
        r#"{{"jsonrpc":"2.0","method":"sendTransaction","params":["{b64}",{{"encoding":"base64"}}],"id":1}}"#
    );
    let doc = doc();
    let got: String = section(&doc, "request")
        .lines()
        .filter(|l| !l.starts_with("```"))
        .map(str::trim)
        .collect();
    assert_eq!(got, want, "docs/protocol.md's request should read:\n{want}");
    let sig = vector_tx().signature.to_base58();
    let answer = format!(r#"{{"jsonrpc":"2.0","result":"{sig}","id":1}}"#);
    let got: String = section(&doc, "response")
        .lines()
        .filter(|l| !l.starts_with("```"))
        .map(str::trim)
        .collect();
    assert_eq!(
        got, answer,
        "docs/protocol.md's response should read:\n{answer}"
    );
}

/// The annotated layout table: its offsets add up and its hex column is the transaction.
#[test]
fn layout_table_is_the_transaction_byte_by_byte() {
    let doc = doc();
    let table = rows(section(&doc, "layout"));
    assert!(!table.is_empty(), "the layout table has rows");
    let mut at = 0usize;
    let mut bytes = String::new();
    for row in &table {
        let offset: usize = row[0].parse().expect("offset");
        let len: usize = row[1].parse().expect("length");
        let cell = row.last().expect("hex cell").replace(' ', "");
        assert_eq!(offset, at, "row {row:?}: offset should be {at}");
        assert_eq!(cell.len(), 2 * len, "row {row:?}: {len} bytes of hex");
        at += len;
        bytes.push_str(&cell);
    }
    assert_eq!(bytes, hex(&vector_tx().encode()));
}

/// Every instruction, in declaration order: its borsh tag is its index in the document.
fn samples() -> Vec<Instruction> {
    let (t, k, h) = (Hash([3; 32]), Pubkey([4; 32]), Hash([5; 32]));
    let params = TaskParams {
        name: "n".into(),
        executable: Executable {
            digest: h,
            urls: vec!["http://a".into()],
            runtime: "python3".into(),
        },
        ..TaskParams::default()
    };
    vec![
        Instruction::Transfer { to: k, amount: 1 },
        Instruction::FaucetMint { to: k, amount: 1 },
        Instruction::CreateTask {
            nonce: 1,
            params: params.clone(),
            total_bounty: 1,
        },
        Instruction::FundTask { task: t, amount: 1 },
        Instruction::UpdateTask { task: t, params },
        Instruction::SetActive {
            task: t,
            active: true,
        },
        Instruction::CloseTask { task: t },
        Instruction::Stake {
            task: t,
            amount: 1,
            url: "http://n".into(),
            owner: Some(k),
        },
        Instruction::SetNodeUrl {
            task: t,
            url: "http://n".into(),
        },
        Instruction::SetStakeOwner {
            task: t,
            node: k,
            owner: k,
        },
        Instruction::SetValidators {
            validators: vec![ValidatorInfo {
                id: k,
                vrf_key: VrfPublicKey([6; 32]),
            }],
            from_slot: 9,
        },
        Instruction::Unstake { task: t },
        Instruction::Withdraw { task: t },
        Instruction::Claim { task: t },
        Instruction::SubmitProof {
            task: t,
            round: 1,
            value: vec![1, 2],
        },
        Instruction::AuditProof {
            task: t,
            round: 1,
            candidate: k,
            verdict: Verdict::Invalid,
        },
        Instruction::AuditProofs {
            task: t,
            round: 1,
            votes: vec![(k, Verdict::Valid)],
        },
        Instruction::UploadDistributionChunk {
            task: t,
            round: 1,
            attempt: 0,
            index: 0,
            entries: vec![(k, 5)],
        },
        Instruction::SubmitDistribution {
            task: t,
            round: 1,
            attempt: 0,
            digest: h,
            count: 1,
        },
        Instruction::AuditDistribution {
            task: t,
            round: 1,
            attempt: 0,
            verdict: Verdict::Abstain,
        },
    ]
}

/// An exhaustive match: a new instruction does not compile here until it is added to
/// [`samples`] and to the document's table.
fn position(ix: &Instruction) -> usize {
    match ix {
        Instruction::Transfer { .. } => 0,
        Instruction::FaucetMint { .. } => 1,
        Instruction::CreateTask { .. } => 2,
        Instruction::FundTask { .. } => 3,
        Instruction::UpdateTask { .. } => 4,
        Instruction::SetActive { .. } => 5,
        Instruction::CloseTask { .. } => 6,
        Instruction::Stake { .. } => 7,
        Instruction::SetNodeUrl { .. } => 8,
        Instruction::SetStakeOwner { .. } => 9,
        Instruction::SetValidators { .. } => 10,
        Instruction::Unstake { .. } => 11,
        Instruction::Withdraw { .. } => 12,
        Instruction::Claim { .. } => 13,
        Instruction::SubmitProof { .. } => 14,
        Instruction::AuditProof { .. } => 15,
        Instruction::AuditProofs { .. } => 16,
        Instruction::UploadDistributionChunk { .. } => 17,
        Instruction::SubmitDistribution { .. } => 18,
        Instruction::AuditDistribution { .. } => 19,
    }
}

#[test]
fn instruction_and_verdict_tags_match_the_document() {
    let doc = doc();
    let table = rows(section(&doc, "instructions"));
    let samples = samples();
    assert_eq!(
        table.len(),
        samples.len(),
        "the document lists every instruction once"
    );
    for (i, ix) in samples.iter().enumerate() {
        assert_eq!(position(ix), i);
        let bytes = borsh::to_vec(ix).expect("encode");
        let row = &table[i];
        assert_eq!(
            (row[0].as_str(), row[1].as_str()),
            (bytes[0].to_string().as_str(), ix.name()),
            "row {i} of the instruction table"
        );
        // Every sample is a valid instruction (the decoder's limits accept it).
        ix.check_limits()
            .unwrap_or_else(|e| panic!("{}: {e}", ix.name()));
    }
    let table = rows(section(&doc, "verdicts"));
    let verdicts = [Verdict::Valid, Verdict::Invalid, Verdict::Abstain];
    assert_eq!(table.len(), verdicts.len());
    for (row, v) in table.iter().zip(verdicts) {
        let tag = borsh::to_vec(&v).expect("encode")[0];
        assert_eq!(row[0], tag.to_string(), "{v:?}");
        assert_eq!(row[1], format!("{v:?}"));
    }
}

/// The block header of the vector, encoded field by field as the document's table says.
fn header_bytes(tx_root: &Hash) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&SLOT.to_le_bytes());
    h.extend_from_slice(&HEIGHT.to_le_bytes());
    h.extend_from_slice(&PARENT_HASH);
    h.extend_from_slice(&keypair().pubkey().0);
    h.extend_from_slice(&RANDOMNESS);
    h.extend_from_slice(&VRF_PREOUT);
    h.extend_from_slice(&VRF_PROOF);
    h.extend_from_slice(&tx_root.0);
    h.extend_from_slice(&STATE_ROOT);
    h.extend_from_slice(&1u32.to_le_bytes());
    h
}

#[test]
fn block_vector_matches_the_document() {
    let tx = vector_tx().encode();
    // tx_root: blake3 over the tag's bytes (no length prefix), then each transaction as a
    // u32 LE length and its bytes.
    let mut r = blake3::Hasher::new();
    r.update(tags::TX_ROOT.as_bytes());
    r.update(&(tx.len() as u32).to_le_bytes());
    r.update(&tx);
    let tx_root = Hash(*r.finalize().as_bytes());
    let header = header_bytes(&tx_root);
    assert_eq!(header.len(), 276);
    // The block hash, spelled out: blake3(u32 LE len(tag) ‖ tag ‖ u64 LE len(header) ‖ header).
    let mut b = blake3::Hasher::new();
    b.update(&(tags::BLOCK.len() as u32).to_le_bytes());
    b.update(tags::BLOCK.as_bytes());
    b.update(&(header.len() as u64).to_le_bytes());
    b.update(&header);
    let hash = Hash(*b.finalize().as_bytes());
    assert_eq!(hash, Hash::domain(tags::BLOCK, &[&header]));
    let block = [header.as_slice(), &1u32.to_le_bytes(), &tx].concat();
    check_block(
        "block",
        &[
            ("slot", SLOT.to_string()),
            ("height", HEIGHT.to_string()),
            ("parent_hash_hex", hex(&PARENT_HASH)),
            ("producer", keypair().pubkey().to_base58()),
            ("randomness_hex", hex(&RANDOMNESS)),
            ("vrf_preout_hex", hex(&VRF_PREOUT)),
            ("vrf_proof_hex", hex(&VRF_PROOF)),
            ("state_root_hex", hex(&STATE_ROOT)),
            ("tx_count", "1".into()),
            ("tx_root", tx_root.to_base58()),
            ("tx_root_hex", hex(&tx_root.0)),
            ("header_hex", hex(&header)),
            ("block_hash", hash.to_base58()),
            ("block_hex", hex(&block)),
        ],
    );
}

#[test]
fn message_fields_are_the_ones_documented() {
    // The message is exactly these fields, in this order (a new field fails to compile here).
    let Message {
        version,
        chain_id,
        signer,
        recent_slot,
        fee,
        instruction,
    } = vector_tx().message;
    assert_eq!(
        (version, chain_id.as_str(), recent_slot, fee),
        (TX_VERSION, CHAIN_ID, RECENT_SLOT, FEE_ROE)
    );
    assert_eq!(signer, keypair().pubkey());
    assert_eq!(instruction.name(), "Transfer");
}

/// `TaskParams`, `Executable` and `ValidatorInfo` are encoded in the order and with the types
/// §14 lists. The destructuring has no `..`: a new field fails to compile here until the
/// document lists it.
#[test]
fn nested_types_are_encoded_as_documented() {
    let p = TaskParams {
        name: "nm".into(),
        description: "d".into(),
        metadata: vec![9, 8],
        executable: Executable {
            digest: Hash([7; 32]),
            urls: vec!["u".into()],
            runtime: "sh".into(),
        },
        bounty_per_round: 1,
        round_time: 2,
        submission_window: 3,
        audit_window: 4,
        minimum_stake: 5,
        allowed_failed_distributions: 6,
        audit_sample: 7,
        committee_size: 8,
        slash_bps: 9,
        accuser_bps: 10,
        voter_bps: 11,
        false_accusation_bps: 12,
        unstake_cooldown: 13,
        missed_list_bps: 14,
    };
    let TaskParams {
        name,
        description,
        metadata,
        executable:
            Executable {
                digest,
                urls,
                runtime,
            },
        bounty_per_round,
        round_time,
        submission_window,
        audit_window,
        minimum_stake,
        allowed_failed_distributions,
        audit_sample,
        committee_size,
        slash_bps,
        accuser_bps,
        voter_bps,
        false_accusation_bps,
        unstake_cooldown,
        missed_list_bps,
    } = p.clone();
    let string = |s: &str| [&(s.len() as u32).to_le_bytes()[..], s.as_bytes()].concat();
    let mut want = Vec::new();
    want.extend(string(&name));
    want.extend(string(&description));
    want.extend((metadata.len() as u32).to_le_bytes());
    want.extend(&metadata);
    want.extend(digest.0);
    want.extend((urls.len() as u32).to_le_bytes());
    for u in &urls {
        want.extend(string(u));
    }
    want.extend(string(&runtime));
    for v in [
        bounty_per_round,
        round_time,
        submission_window,
        audit_window,
        minimum_stake,
    ] {
        want.extend(v.to_le_bytes());
    }
    for v in [
        allowed_failed_distributions,
        audit_sample,
        committee_size,
        slash_bps,
        accuser_bps,
        voter_bps,
        false_accusation_bps,
    ] {
        want.extend(v.to_le_bytes());
    }
    want.extend(unstake_cooldown.to_le_bytes());
    want.extend(missed_list_bps.to_le_bytes());
    assert_eq!(borsh::to_vec(&p).expect("encode"), want);

    let v = ValidatorInfo {
        id: Pubkey([1; 32]),
        vrf_key: VrfPublicKey([2; 32]),
    };
    let ValidatorInfo { id, vrf_key } = v;
    assert_eq!(
        borsh::to_vec(&v).expect("encode"),
        [id.0, vrf_key.0].concat()
    );
    // Option and bool, as in `Stake.owner` and `SetActive.active`.
    let stake = |owner| Instruction::Stake {
        task: Hash([3; 32]),
        amount: 1,
        url: String::new(),
        owner,
    };
    let none = borsh::to_vec(&stake(None)).expect("encode");
    let some = borsh::to_vec(&stake(Some(Pubkey([4; 32])))).expect("encode");
    assert_eq!(none.last(), Some(&0));
    assert_eq!(some[some.len() - 33..], [&[1u8][..], &[4; 32]].concat()[..]);
    let active = borsh::to_vec(&Instruction::SetActive {
        task: Hash([3; 32]),
        active: true,
    })
    .expect("encode");
    assert_eq!(active.last(), Some(&1));
}
