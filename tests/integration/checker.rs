//! The checker against the bundled scenarios: each unsafe configuration breaks the guarantee its story says it
//! breaks (and the checker names it), each safe twin keeps it, and no scenario breaks what Kafka guarantees in
//! every configuration (offset order within a partition, hence per key).

use crate::support::{bundled_scenarios, lost, run};
use insync::check::{Names, Violation, check_all, expand};
use std::collections::BTreeMap;

/// The violations of every invariant the `guarantees` stand for, from one run of `scenario`, and a few printed.
fn violations(scenario: &str, guarantees: &[&str]) -> (Vec<Violation>, String) {
    let (_, outcome) = run(scenario);
    let wanted: Vec<&str> = guarantees.iter().flat_map(|g| expand(g).expect("a known guarantee")).collect();
    let found: BTreeMap<&str, Vec<Violation>> = check_all(&outcome.history, Some(&outcome.final_logs));
    let broken: Vec<Violation> =
        found.into_iter().filter(|(name, _)| wanted.contains(name)).flat_map(|(_, v)| v).collect();
    let names = Names::new(&outcome.history);
    let sample = broken.iter().take(3).map(|v| v.named(&names).to_string()).collect::<Vec<_>>().join("\n");
    (broken, sample)
}

fn assert_holds(scenario: &str, guarantees: &[&str]) {
    let (broken, sample) = violations(scenario, guarantees);
    assert!(broken.is_empty(), "{scenario} must keep {guarantees:?}, but {} violations:\n{sample}", broken.len());
}

fn assert_broken(scenario: &str, guarantee: &str, invariant: &str) {
    let (broken, sample) = violations(scenario, &[guarantee]);
    assert!(broken.iter().any(|v| v.invariant == invariant), "{scenario} must break {invariant}:\n{sample}");
}

// acks=all with min.insync.replicas=2, a clean ISR-only election, leader epochs (KIP-101) and controlled
// shutdown keep every acknowledged write (ProducerConfig `acks`, `unclean.leader.election.enable`).
#[test]
fn safe_configurations_keep_every_acknowledged_write() {
    for scenario in ["acks-all-min2-broker-crash", "unclean-election-off", "kip101-leader-epoch", "controlled-shutdown"]
    {
        assert_holds(scenario, &["durability"]);
    }
}

// Their unsafe twins lose acknowledged writes: acks=1 with a dying leader, unclean election, legacy truncation to
// the high watermark, and the last replica losing its page cache.
#[test]
fn unsafe_configurations_lose_acknowledged_writes() {
    for scenario in ["acks1-leader-crash", "unclean-election", "legacy-truncation", "lost-page-cache"] {
        assert_broken(scenario, "durability", "lost-write");
    }
}

// KIP-101 "Scenario 2": before leader epochs, the old leader returning after an unclean election truncates only
// to its own high watermark and keeps records where the new leader wrote others; the replicas then differ from
// the offset where the unclean leader's log had ended, which is where the lost writes begin. With leader epochs
// (the same story in unclean-election) it truncates to where the new leader's epoch began and they agree.
#[test]
fn legacy_truncation_after_an_unclean_election_leaves_replicas_diverged() {
    let (_, legacy) = run("legacy-unclean-divergence");
    let replicas = legacy.replica_logs.as_deref().expect("kept: the scenario expects divergence");
    let diverged = insync::check::divergence::check(replicas, &insync::check::Names::new(&legacy.history));
    assert_eq!(diverged.len(), 1, "one partition, two replicas: {diverged:?}");
    let first_lost = lost(&legacy).iter().filter_map(|l| l.offset).min();
    assert!(first_lost.is_some(), "the unclean election lost acknowledged writes");
    assert_eq!(diverged[0].offset, first_lost, "{}", diverged[0].detail);
    assert_eq!(replicas.len(), 2, "both replicas are up at the end");

    let (_, epochs) = run("unclean-election");
    let replicas = epochs.replica_logs.as_deref().expect("kept: the scenario expects divergence to hold");
    assert_eq!(replicas.len(), 2);
    assert!(insync::check::divergence::check(replicas, &insync::check::Names::new(&epochs.history)).is_empty());
    assert!(!lost(&epochs).is_empty(), "the unclean election still loses what broker-2 never had");
}

// Committing before processing is at-most-once: a crash in between skips records for the group.
#[test]
fn committing_before_processing_leaves_records_undelivered() {
    assert_broken("commit-before-processing-crash", "at-least-once", "undelivered");
}

// Retention deletes records a lagging group never read (`retention.ms`, OFFSET_OUT_OF_RANGE).
#[test]
fn retention_overtaking_a_lagging_group_leaves_records_undelivered() {
    assert_broken("retention-overtakes-lagging-group", "at-least-once", "undelivered");
}

// At-least-once redelivers: the zombie's batch is processed by the new owner too, and a replay reprocesses.
#[test]
fn redelivery_is_a_duplicate_delivery() {
    assert_broken("zombie-consumer", "no-duplicates", "duplicate-delivery");
    assert_broken("replay-reset-offsets", "no-duplicates", "duplicate-delivery");
}

// Kafka orders records within a partition whatever the configuration: no bundled scenario's group processes a
// key out of order or sees a consumer's polls go back or skip within one assignment.
//
// And black-box inference (Jepsen's, from what clients saw, as `insync check` does on a recording without final
// logs) raises no false alarm on any story: every invariant the final logs clear, the black box clears too — but
// where the cluster lost acknowledged writes, which a recording cannot tell from records still there: then the
// black box also owes groups the lost records (`undelivered`), and sees acknowledgements going back in offset
// order across the truncation (`reordered-write`, as Jepsen's `nonmonotonic-send` does).
#[test]
fn no_scenario_breaks_key_order_or_poll_continuity_nor_alarms_the_black_box_falsely() {
    for scenario in bundled_scenarios().iter().filter(|s| !s.starts_with("bench")) {
        let (_, outcome) = run(scenario);
        let white = check_all(&outcome.history, Some(&outcome.final_logs));
        let black = check_all(&outcome.history, None);
        let names = Names::new(&outcome.history);
        for invariant in ["key-order", "nonmonotonic-poll", "poll-skip", "int-poll-skip"] {
            let found: Vec<String> = white[invariant].iter().take(3).map(|v| v.named(&names).to_string()).collect();
            assert!(found.is_empty(), "{scenario} breaks {invariant}:\n{}", found.join("\n"));
        }
        let lost = !white["lost-write"].is_empty();
        for (invariant, violations) in black.iter().filter(|(_, v)| !v.is_empty()) {
            if white[invariant].is_empty() && !(lost && ["undelivered", "reordered-write"].contains(invariant)) {
                let first = violations[0].named(&names).to_string();
                panic!(
                    "{scenario}: black-box {invariant} ({} violations) where the final logs show none: {first}",
                    violations.len()
                );
            }
        }
    }
}

// The checker judges histories recorded anywhere: it reads the history format and nothing of the simulator.
#[test]
fn the_checker_imports_nothing_of_the_simulator() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/check");
    let forbidden = ["crate::sim", "crate::engine", "crate::scenario", "crate::faults", "crate::kafka", "crate::cli"];
    for entry in std::fs::read_dir(dir).expect("src/check") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("source");
        for module in forbidden {
            assert!(!text.contains(module), "{} uses {module}", path.display());
        }
        // Grouped imports (`use crate::{engine, ..}`) too: the crate's modules it may use are these.
        for line in text.lines().map(str::trim).filter(|l| l.starts_with("use crate::")) {
            let allowed = ["use crate::check", "use crate::history", "use crate::units"];
            assert!(allowed.iter().any(|a| line.starts_with(a)), "{}: {line}", path.display());
        }
    }
}
