//! CI's share of the fuzzing (issue #9): a few thousand hostile transaction byte strings
//! through decode, signature check and the ledger must cause no panic, keep every invariant
//! (paranoid ledger) and replay to the same state roots. The long run is the `fuzz` program.

use gradual_bench::fuzz::run_tx_cases;

#[test]
fn hostile_transaction_bytes_never_panic_the_decoder_or_the_ledger() {
    let s = run_tx_cases(0x5eed, 4_000);
    assert_eq!(s.panics, 0, "{:#?}", s.first_panics);
    // The run must reach the ledger, not bounce off the decoder.
    assert!(s.decoded > s.cases / 3, "{s:?}");
    assert!(s.accepted > 0 && s.accepted < s.applied, "{s:?}");
    assert!(s.replays >= 1, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_rpc_bodies_get_json_answers_and_the_chain_keeps_going() {
    let dir = tempfile::tempdir().unwrap();
    let s = gradual_bench::fuzz_rpc::run_rpc_cases(dir.path(), 0x5eed, 1_500).await;
    assert_eq!(s.failures, 0, "{:#?}", s.first_failures);
    assert!(s.healthy_after, "{s:?}");
    assert!(s.slots_advanced > 0, "{s:?}");
    // The bodies must reach the methods, not only the parser.
    assert!(s.ok_200 > s.cases / 4, "{s:?}");
}
