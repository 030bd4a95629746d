//! The block test vector of docs/protocol.md §14, checked against the ledger's own
//! `BlockHeader`, `Block` and `tx_root` (crates/types/tests/wire_vector.rs checks the same
//! vector's transaction against gradual-types, and writes the vector when it changes).

use gradual_ledger::{tx_root, Block, BlockHeader};
use gradual_types::{Hash, Pubkey, Transaction, VrfProof};

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The `key value` lines between `<!-- vector:NAME -->` and `<!-- /vector:NAME -->`; an
/// indented line continues the value above it.
fn values(doc: &str, name: &str) -> Vec<(String, String)> {
    let open = format!("<!-- vector:{name} -->");
    let close = format!("<!-- /vector:{name} -->");
    let start = doc.find(&open).expect("open marker") + open.len();
    let end = start + doc[start..].find(&close).expect("close marker");
    let mut out: Vec<(String, String)> = Vec::new();
    for line in doc[start..end].lines() {
        if line.trim().is_empty() || line.starts_with("```") {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            out.last_mut().expect("a key above").1.push_str(line.trim());
        } else {
            let (k, v) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            out.push((k.to_string(), v.trim().to_string()));
        }
    }
    out
}

fn get<'a>(v: &'a [(String, String)], key: &str) -> &'a str {
    v.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("the vector has no '{key}'"))
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn arr<const N: usize>(s: &str) -> [u8; N] {
    unhex(s).try_into().expect("length")
}

#[test]
fn ledger_block_encoding_matches_the_document() {
    let doc = doc();
    let txv = values(&doc, "tx");
    let bv = values(&doc, "block");
    let tx = Transaction::decode(&unhex(get(&txv, "tx_hex"))).expect("the vector's tx decodes");
    assert!(tx.verify());
    let txs = vec![tx];
    let root = tx_root(&txs);
    assert_eq!(root.0, arr::<32>(get(&bv, "tx_root_hex")));
    assert_eq!(root.to_base58(), get(&bv, "tx_root"));
    let header = BlockHeader {
        slot: get(&bv, "slot").parse().expect("slot"),
        height: get(&bv, "height").parse().expect("height"),
        parent_hash: Hash(arr(get(&bv, "parent_hash_hex"))),
        producer: get(&bv, "producer").parse::<Pubkey>().expect("producer"),
        randomness: Hash(arr(get(&bv, "randomness_hex"))),
        vrf_proof: VrfProof {
            preout: arr(get(&bv, "vrf_preout_hex")),
            proof: arr(get(&bv, "vrf_proof_hex")),
        },
        tx_root: root,
        state_root: Hash(arr(get(&bv, "state_root_hex"))),
        tx_count: get(&bv, "tx_count").parse().expect("tx_count"),
    };
    assert_eq!(
        borsh::to_vec(&header).expect("encode"),
        unhex(get(&bv, "header_hex"))
    );
    assert_eq!(header.hash().to_base58(), get(&bv, "block_hash"));
    let block = Block { header, txs };
    assert_eq!(
        borsh::to_vec(&block).expect("encode"),
        unhex(get(&bv, "block_hex"))
    );
}
