//! The seed decides everything: the same scenario and seed give the same trace digest; another seed of a
//! scenario with random latency gives another.

use crate::support::{bundled_scenarios, load};
use insync::sim;

#[test]
fn every_bundled_scenario_twice_gives_the_same_digest() {
    for name in bundled_scenarios() {
        let s = load(&name);
        let a = sim::run(&s.sim, s.seed, false);
        let b = sim::run(&s.sim, s.seed, false);
        assert_eq!(a.trace_digest, b.trace_digest, "{name}: same seed, different digest");
        assert_eq!(a.history.entries, b.history.entries, "{name}: same seed, different history");
    }
}

#[test]
fn keeping_the_trace_does_not_change_the_run() {
    let s = load("acks1-leader-crash");
    let without = sim::run(&s.sim, s.seed, false);
    let with = sim::run(&s.sim, s.seed, true);
    assert_eq!(without.trace_digest, with.trace_digest);
}

#[test]
fn different_seeds_give_different_digests() {
    let s = load("acks1-leader-crash");
    let a = sim::run(&s.sim, 1, false);
    let b = sim::run(&s.sim, 2, false);
    assert_ne!(a.trace_digest, b.trace_digest);
}

#[test]
fn the_cli_output_is_byte_identical_across_runs() {
    let bin = env!("CARGO_BIN_EXE_insync");
    let path = crate::support::scenario_path("unclean-election");
    let run = || {
        let out = std::process::Command::new(bin).arg("run").arg(&path).arg("--json").output().expect("runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    assert_eq!(run(), run());
}
