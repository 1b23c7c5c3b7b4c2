//! Each commit strategy under a consumer crash in the middle of a batch, against what KafkaConsumer's javadoc
//! says of it ("Offsets and Consumer Position", "Manual Offset Control", "Storing Offsets Outside Kafka") and the
//! design docs' delivery semantics: committing after processing is at-least-once (a crash means reprocessing,
//! "there may be duplicates"), committing before processing is at-most-once (the rest of the batch is never
//! processed), and offsets stored atomically with the results process each record once.

use insync::check::{self, Violation};
use insync::history::ClientEvent;
use insync::scenario;
use insync::sim::{self, Outcome};
use std::collections::BTreeMap;

/// A backlog of about 200 records waits for `shipping`, which starts at 10 s and processes at 40 ms a record: its
/// first poll, after the group's 3 s initial rebalance delay, returns them all, and processing them takes from
/// about 13 s to 22.6 s. It crashes at 16 s, some 75 records into that batch, and restarts at 21 s.
fn crash_mid_batch(commit: &str, seed: u64) -> Outcome {
    let text = format!(
        r#"
name = "crash-mid-batch-{commit}"
duration = "60s"

[[topics]]
name = "shipments"
partitions = 1
replication.factor = 3

[[producers]]
name = "shipment-service"
topic = "shipments"
rate = 20
stop = "40s"

[[consumers]]
name = "shipping"
group.id = "shipping"
topics = ["shipments"]
auto.offset.reset = "earliest"
commit = "{commit}"
processing_time = "40ms"
start = "10s"
session.timeout.ms = 10000

[[faults]]
at = "16s"
action = "crash"
target = "shipping"

[[faults]]
at = "21s"
action = "restart"
target = "shipping"
"#
    );
    let s = scenario::load_str("crash-mid-batch.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    sim::run(&s.sim, seed, false)
}

fn violations(outcome: &Outcome) -> BTreeMap<&'static str, Vec<Violation>> {
    check::check_all(&outcome.history, Some(&outcome.final_logs))
}

fn count(found: &BTreeMap<&'static str, Vec<Violation>>, invariant: &str) -> usize {
    found.get(invariant).map_or(0, Vec::len)
}

const SEEDS: [u64; 3] = [1, 2, 3];

/// The crash and the restart fired, the crash fell inside the first batch (it had been polled, and not all of it
/// was processed by 16 s), and the consumer processed again after its restart.
fn assert_crashed_mid_batch_and_resumed(outcome: &Outcome, commit: &str) {
    assert_eq!(outcome.stats.faults_fired, 2, "{commit}: {:?}", outcome.faults);
    let crash_us = 16_000_000;
    let events = &outcome.history.entries;
    let first_batch = events.iter().find_map(|e| match e.event {
        ClientEvent::Polled { count, .. } if e.time_us < crash_us => Some(count),
        _ => None,
    });
    let before_crash = |e: &&insync::history::Entry| e.time_us < crash_us;
    let done = events.iter().filter(before_crash).filter(|e| matches!(e.event, ClientEvent::Processed { .. })).count();
    let batch = first_batch.unwrap_or_else(|| panic!("{commit}: nothing polled before the crash"));
    assert!(done < batch as usize, "{commit}: the whole first batch ({batch}) was processed before the crash");
    let processed = outcome.stats.records_processed;
    assert!(processed > 200, "{commit}: only {processed} records processed");
}

// Committing after processing, by batch or by record, synchronously or not, and auto-commit (which commits what
// earlier polls returned): at-least-once. Nothing is lost; a batch's unprocessed-but-uncommitted part is processed
// again after the restart.
#[test]
fn committing_after_processing_loses_nothing_across_a_crash_mid_batch() {
    for commit in ["sync-after-batch", "async-after-batch", "sync-after-each", "async-after-each", "auto"] {
        for seed in SEEDS {
            let outcome = crash_mid_batch(commit, seed);
            assert_crashed_mid_batch_and_resumed(&outcome, commit);
            let found = violations(&outcome);
            assert_eq!(count(&found, "undelivered"), 0, "{commit} at seed {seed}: {:?}", found["undelivered"]);
        }
    }
}

// A batch committed after processing is processed again from the last commit: the records of the crashed batch
// that were processed before the crash are duplicates (50 of them: the batch was never committed).
#[test]
fn committing_after_the_batch_reprocesses_what_the_crash_interrupted() {
    for commit in ["sync-after-batch", "async-after-batch"] {
        for seed in SEEDS {
            let outcome = crash_mid_batch(commit, seed);
            assert_crashed_mid_batch_and_resumed(&outcome, commit);
            let found = violations(&outcome);
            assert!(count(&found, "duplicate-delivery") >= 50, "{commit} at seed {seed}: {found:?}");
        }
    }
}

// Committing after each record narrows the window to the record in flight: at most one record is processed
// again (an asynchronous commit still in flight at the crash is the one). A crash while a record is in hand
// reports none of the batch's later records as processed.
#[test]
fn committing_after_each_record_reprocesses_at_most_one() {
    for commit in ["sync-after-each", "async-after-each"] {
        for seed in SEEDS {
            let outcome = crash_mid_batch(commit, seed);
            assert_crashed_mid_batch_and_resumed(&outcome, commit);
            let found = violations(&outcome);
            let duplicates = found.get("duplicate-delivery");
            assert!(count(&found, "duplicate-delivery") <= 1, "{commit} at seed {seed}: {duplicates:?}");
        }
    }
}

// Committing before processing: at-most-once. The committed batch's records after the crash point are never
// processed, and none is processed twice.
#[test]
fn committing_before_processing_skips_the_rest_of_the_batch() {
    for seed in SEEDS {
        let outcome = crash_mid_batch("before-processing", seed);
        assert_crashed_mid_batch_and_resumed(&outcome, "before-processing");
        let found = violations(&outcome);
        assert!(count(&found, "undelivered") > 0, "at seed {seed}: nothing lost");
        assert_eq!(count(&found, "duplicate-delivery"), 0, "at seed {seed}: {:?}", found["duplicate-delivery"]);
    }
}

// Offsets stored with the results in one transaction: the crash rolls back the batch's uncommitted part, so every
// record is processed once.
#[test]
fn offsets_stored_with_the_state_process_each_record_once() {
    for seed in SEEDS {
        let outcome = crash_mid_batch("with-state", seed);
        assert_crashed_mid_batch_and_resumed(&outcome, "with-state");
        let found = violations(&outcome);
        assert_eq!(count(&found, "undelivered"), 0, "at seed {seed}: {:?}", found["undelivered"]);
        assert_eq!(count(&found, "duplicate-delivery"), 0, "at seed {seed}: {:?}", found["duplicate-delivery"]);
    }
}

// No commits at all: after the restart the position comes from auto.offset.reset (earliest here), so everything
// is processed again from the start.
#[test]
fn never_committing_starts_over_from_the_reset_policy() {
    for seed in SEEDS {
        let outcome = crash_mid_batch("none", seed);
        assert_crashed_mid_batch_and_resumed(&outcome, "none");
        let found = violations(&outcome);
        assert_eq!(count(&found, "undelivered"), 0, "at seed {seed}");
        assert!(count(&found, "duplicate-delivery") >= 50, "at seed {seed}: {:?}", found.get("duplicate-delivery"));
    }
}
