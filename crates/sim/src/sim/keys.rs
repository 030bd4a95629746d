//! Node keys and signing for a run: deterministic per seed, made and used on many threads.

use gradual_types::{Hash, Instruction, Keypair, Slot, Transaction};

/// Deterministic keypair of node `i` of a run.
pub fn node_key(seed: u64, i: u32) -> Keypair {
    Keypair::from_seed(
        Hash::domain(
            "gradual-sim/node-key/v1",
            &[&seed.to_le_bytes(), &i.to_le_bytes()],
        )
        .0,
    )
}

/// Make keys `0..n` on `threads` threads (key generation is a scalar multiplication each).
pub fn make_keys(seed: u64, n: u32, threads: usize) -> Vec<Keypair> {
    let per = (n as usize).div_ceil(threads.max(1)).max(1);
    let ids: Vec<u32> = (0..n).collect();
    std::thread::scope(|s| {
        let hs: Vec<_> = ids
            .chunks(per)
            .map(|part| {
                s.spawn(move || part.iter().map(|i| node_key(seed, *i)).collect::<Vec<_>>())
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().expect("key thread panicked"))
            .collect()
    })
}

/// Sign `(node, instruction)` pairs on `threads` threads; order is kept.
pub fn sign_all(
    keys: &[Keypair],
    items: Vec<(u32, Instruction)>,
    chain_id: &str,
    recent_slot: Slot,
    threads: usize,
) -> Vec<Transaction> {
    let threads = threads.max(1);
    if threads == 1 || items.len() < 64 {
        return items
            .into_iter()
            .map(|(i, ix)| Transaction::new_signed(&keys[i as usize], chain_id, recent_slot, 0, ix))
            .collect();
    }
    let per = items.len().div_ceil(threads);
    let mut parts: Vec<Vec<(u32, Instruction)>> = Vec::new();
    let mut it = items.into_iter();
    loop {
        let part: Vec<_> = it.by_ref().take(per).collect();
        if part.is_empty() {
            break;
        }
        parts.push(part);
    }
    std::thread::scope(|s| {
        let hs: Vec<_> = parts
            .into_iter()
            .map(|part| {
                s.spawn(move || {
                    part.into_iter()
                        .map(|(i, ix)| {
                            Transaction::new_signed(&keys[i as usize], chain_id, recent_slot, 0, ix)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().expect("signing thread panicked"))
            .collect()
    })
}
