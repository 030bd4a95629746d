//! Regression seeds (STYLE §8): every seed that once failed goes here as a named test with the
//! issue it came from, and runs on every CI build. Each test replays the VOPR swarm config the
//! seed derives (`gradual-sim --swarm --seed <seed>`) with the honest checkers on.
//!
//! The first entries are not failures: they are the seeds of the first swarm batch of issue #5
//! (<https://github.com/gradual/gradual/issues/5>) that exercise each adversary strategy with
//! network faults, kept so that a change that breaks one shows up with a seed to replay.

use gradual_sim::{run, SimConfig};

fn swarm(seed: u64) {
    let cfg = SimConfig::swarm(seed);
    let args = cfg.to_args();
    let r = run(cfg);
    assert!(
        r.ok(),
        "reproduce: cargo run -p gradual-sim --release -- {args}\n{:#?}",
        r.violations
    );
    assert_eq!(r.replay_matches, Some(true));
}

/// Colluders and false accusers with lost and delayed transactions (issue #5).
#[test]
fn i5_swarm_0x910a2dec89025cc1_colluders_false_accusers_faults() {
    swarm(0x910a_2dec_8902_5cc1);
}

/// Garbage provers and false accusers with a small audit sample (issue #5).
#[test]
fn i5_swarm_0x5e41ab087439611e_garbage_small_sample() {
    swarm(0x5e41_ab08_7439_611e);
}

/// Garbage provers and bad distributors, K = 64, lost transactions (issue #5).
#[test]
fn i5_swarm_0x348c3d1af8bec8e5_garbage_bad_distributors() {
    swarm(0x348c_3d1a_f8be_c8e5);
}

/// Bad distributors and colluders with faults (issue #5).
#[test]
fn i5_swarm_0xdbda8bf62608e5e7_bad_distributors_colluders() {
    swarm(0xdbda_8bf6_2608_e5e7);
}
