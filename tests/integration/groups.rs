//! Consumer groups behave as Kafka's do: assignment, idle members and failover, fan-out across groups, and what
//! each commit strategy does to delivery when a consumer crashes.

use crate::support::{acked_records, assignments, processed_by_group, run};

const S: u64 = 1_000_000;

// RangeAssignor: with 3 members on 2 partitions the third gets nothing and idles. When an owner crashes, the
// coordinator removes it after session.timeout.ms (45 s, KIP-735) and the next rebalance — which members hear of
// at their next heartbeat (heartbeat.interval.ms, 3 s) — gives its partition to the idle member.
#[test]
fn an_idle_member_takes_over_a_crashed_owners_partition() {
    let (_, outcome) = run("idle-consumer-standby");
    let all = assignments(&outcome);
    let first: Vec<_> = all.iter().filter(|a| a.2 == 1).collect();
    assert_eq!(first.len(), 3);
    let idle: Vec<_> = first.iter().filter(|a| a.3.is_empty()).collect();
    assert_eq!(idle.len(), 1, "exactly one member idles: {first:?}");
    let standby = &idle[0].1;
    let crashed_owned = &first.iter().find(|a| a.1 == "ledger-1").expect("ledger-1 was assigned").3;
    let takeover = all.iter().find(|a| &a.1 == standby && a.2 == 2).expect("the standby is assigned at generation 2");
    assert_eq!(&takeover.3, crashed_owned, "the standby gets the crashed member's partitions");
    let bound = 30 * S + 45 * S + 3 * S + 500_000;
    assert!(takeover.0 >= 30 * S + 45 * S && takeover.0 <= bound, "takeover at {} µs", takeover.0);
    let processed = processed_by_group(&outcome, "ledger");
    assert!(acked_records(&outcome).iter().all(|r| processed.contains_key(r)), "a record was never processed");
}

// Each group.id is an independent subscriber: every group receives every record of the topic, however it splits
// the partitions among its members.
#[test]
fn every_group_receives_every_record() {
    let (_, outcome) = run("fan-out-groups");
    let acked = acked_records(&outcome);
    assert!(!acked.is_empty());
    for group in ["email", "crm", "analytics"] {
        let processed = processed_by_group(&outcome, group);
        let missing = acked.iter().filter(|r| !processed.contains_key(r)).count();
        assert_eq!(missing, 0, "{group} never processed {missing} records");
        assert!(processed.values().all(|&n| n == 1), "{group} processed a record twice without any fault");
    }
    let email = assignments(&outcome);
    let email_members = email.iter().filter(|a| a.1.starts_with("email")).count();
    assert_eq!(email_members, 2, "the two email instances share the partitions");
}

// ConsumerCoordinator auto-commit: positions are committed every auto.commit.interval.ms at poll, so a crash
// loses what was processed since the last commit — the next owner processes it again. At-least-once: duplicates,
// never gaps.
#[test]
fn auto_commit_and_a_crash_give_duplicates_but_no_gaps() {
    let (_, outcome) = run("auto-commit-crash");
    let processed = processed_by_group(&outcome, "billing");
    let duplicates = processed.values().filter(|&&n| n > 1).count();
    assert!(duplicates > 0, "records processed since the last auto-commit must be processed again");
    let missing = acked_records(&outcome).iter().filter(|r| !processed.contains_key(r)).count();
    assert_eq!(missing, 0, "auto-commit after processing never skips a record");
}

// Committing before processing is at-most-once (Kafka's design docs, message delivery semantics): a crash after
// the commit and before the processing skips records for good.
#[test]
fn committing_before_processing_and_a_crash_skip_records() {
    let (_, outcome) = run("commit-before-processing-crash");
    let processed = processed_by_group(&outcome, "shipping");
    let missing = acked_records(&outcome).iter().filter(|r| !processed.contains_key(r)).count();
    assert!(missing > 0, "the crashed member's committed but unprocessed records are skipped");
}
