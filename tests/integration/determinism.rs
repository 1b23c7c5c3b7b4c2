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

/// A cluster with `controllers` controllers, two keyed producers and, with `consumers`, a group of two readers.
fn shaped(controllers: u32, consumers: bool) -> String {
    let mut text = format!(
        "duration = \"5s\"\n[cluster]\nbrokers = 3\ncontrollers = {controllers}\n\n[[topics]]\nname = \"orders\"\n\
         partitions = 3\n\n[[producers]]\nname = \"a\"\ntopic = \"orders\"\nrate = 200\nkeys = 1000\n\n\
         [[producers]]\nname = \"b\"\ntopic = \"orders\"\nrate = 300\nkeys = 50\n"
    );
    if consumers {
        text.push_str("\n[[consumers]]\nname = \"reader\"\ninstances = 2\ngroup.id = \"g\"\ntopics = [\"orders\"]\n");
    }
    text
}

/// Each producer's (send number, key) of its sends, in order.
fn keys_by_producer(text: &str) -> Vec<Vec<(u64, Option<u32>)>> {
    let s = insync::scenario::load_str("shape.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let outcome = sim::run(&s.sim, 7, false);
    let mut keys = vec![Vec::new(); 2];
    for entry in &outcome.history.entries {
        if let insync::history::ClientEvent::SendInvoked { producer, send_seq, key, .. } = entry.event {
            keys[producer as usize].push((send_seq, key));
        }
    }
    keys
}

// Random streams are keyed by each node's name, not its engine number: a shape change elsewhere in the cluster
// leaves a producer's keys as they were.
#[test]
fn adding_a_controller_or_removing_consumers_leaves_the_producers_keys_unchanged() {
    let base = keys_by_producer(&shaped(1, true));
    assert!(base.iter().all(|k| k.len() > 500), "both producers sent for 5 s");
    assert_eq!(keys_by_producer(&shaped(3, true)), base, "two more controllers");
    assert_eq!(keys_by_producer(&shaped(1, false)), base, "no consumers");
}
