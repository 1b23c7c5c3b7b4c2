//! Consumer groups behave as Kafka's do: assignment, idle members and failover, fan-out across groups, and what
//! each commit strategy does to delivery when a consumer crashes.

use crate::support::{acked_records, assignments, processed_by_group, run};
use insync::history::ClientEvent;

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

// GroupCoordinator.handleCommitOffsets checks member and generation: a consumer that was paused past
// session.timeout.ms has been removed, so its late commit is refused (UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION)
// and cannot overwrite the new owner's progress; what it processed meanwhile was processed twice.
#[test]
fn a_zombies_late_commit_is_fenced() {
    let (_, outcome) = run("zombie-consumer");
    let h = &outcome.history;
    let paused = outcome.faults.iter().find_map(|(_, f)| f.split_once(": pause ").map(|(_, who)| who.to_string()));
    let paused = paused.expect("a member was paused");
    let zombie = h.consumers.iter().position(|c| *c == paused).expect("a member") as u32;
    let resumed = 50 * S;
    let fenced = h.entries.iter().any(|e| match &e.event {
        ClientEvent::Committed { consumer, error: Some(error), .. } => {
            *consumer == zombie
                && e.time_us >= resumed
                && (error == "UNKNOWN_MEMBER_ID" || error == "ILLEGAL_GENERATION")
        }
        _ => false,
    });
    assert!(fenced, "the zombie's commit after its pause must be refused");
    let processed = processed_by_group(&outcome, "fraud");
    assert!(processed.values().any(|&n| n > 1), "the zombie's batch was processed by the new owner too");
    assert!(acked_records(&outcome).iter().all(|r| processed.contains_key(r)), "nothing is skipped");
}

// Kafka orders records within a partition, and a key always maps to one partition: so each group processes a
// key's records in the order they were written (here without faults, so without redelivery).
#[test]
fn each_group_processes_a_keys_records_in_log_order() {
    let (_, outcome) = run("fan-out-groups");
    let h = &outcome.history;
    let mut keys = std::collections::BTreeMap::new();
    for e in &h.entries {
        if let ClientEvent::SendInvoked { producer, send_seq, key: Some(k), .. } = e.event {
            keys.insert((producer, send_seq), k);
        }
    }
    let mut last: std::collections::BTreeMap<(u32, u32), (u32, u64)> = std::collections::BTreeMap::new();
    let mut checked = 0;
    for e in &h.entries {
        if let ClientEvent::Processed { group, partition, offset, producer, send_seq, .. } = e.event {
            let key = keys[&(producer, send_seq)];
            if let Some(&(p, o)) = last.get(&(group, key)) {
                assert_eq!(p, partition, "a key moved partitions");
                assert!(offset > o, "group {group} key {key}: offset {offset} after {o}");
                checked += 1;
            }
            last.insert((group, key), (partition, offset));
        }
    }
    assert!(checked > 1_000, "too few repeated keys to check ({checked})");
}

/// Revocations after `after_us`: (consumer name, partitions).
fn revocations(outcome: &insync::sim::Outcome, after_us: u64) -> Vec<(String, Vec<u32>)> {
    let h = &outcome.history;
    h.entries
        .iter()
        .filter(|e| e.time_us > after_us)
        .filter_map(|e| match &e.event {
            ClientEvent::Revoked { consumer, partitions, .. } => {
                Some((h.consumers[*consumer as usize].clone(), partitions.clone()))
            }
            _ => None,
        })
        .collect()
}

// KIP-429: with the cooperative protocol members keep their partitions while rejoining and revoke only those
// the assignor moves; the moved partitions reach the newcomer in a follow-up rebalance. With the eager protocol
// every member revokes everything before rejoining.
#[test]
fn cooperative_rebalancing_revokes_only_what_moves_and_hands_over_in_two_steps() {
    let (_, coop) = run("cooperative-rebalance");
    let before: Vec<_> = assignments(&coop).into_iter().filter(|a| a.2 == 1).collect();
    let revoked = revocations(&coop, 20 * S);
    assert!(!revoked.is_empty());
    for (member, partitions) in &revoked {
        let owned = &before.iter().find(|a| &a.1 == member).expect("an original member").3;
        assert!(partitions.len() < owned.len(), "{member} revoked {partitions:?} of {owned:?}: more than what moved");
    }
    let newcomer: Vec<_> = assignments(&coop).into_iter().filter(|a| a.1 == "search-new" && !a.3.is_empty()).collect();
    let first_rebalance_after_join = assignments(&coop).iter().filter(|a| a.0 > 20 * S).map(|a| a.2).min().unwrap_or(0);
    assert!(
        newcomer.first().is_some_and(|a| a.2 > first_rebalance_after_join),
        "handover must take a second rebalance"
    );

    let (_, eager) = run("eager-rebalance");
    let before: Vec<_> = assignments(&eager).into_iter().filter(|a| a.2 == 1).collect();
    for (member, partitions) in revocations(&eager, 20 * S) {
        let owned = &before.iter().find(|a| a.1 == member).expect("an original member").3;
        assert_eq!(partitions.len(), owned.len(), "eager: {member} revokes everything it owned");
    }
}

// ConsumerGroupCommand --reset-offsets --to-earliest on an empty group: its members, restarted, process the
// topic again from offset 0. A new group with auto.offset.reset=earliest reads the whole history.
#[test]
fn a_reset_to_earliest_replays_and_a_late_group_reads_everything() {
    let (_, outcome) = run("replay-reset-offsets");
    assert!(outcome.faults.iter().any(|(_, f)| f.contains("reset offsets") && !f.contains("refused")));
    let sms = processed_by_group(&outcome, "notification-sms");
    let acked = acked_records(&outcome);
    let before_reset: Vec<_> = outcome
        .history
        .entries
        .iter()
        .filter(|e| e.time_us < 24 * S)
        .filter_map(|e| match e.event {
            ClientEvent::SendAcked { producer, send_seq, .. } => Some((producer, send_seq)),
            _ => None,
        })
        .collect();
    assert!(!before_reset.is_empty());
    assert!(before_reset.iter().all(|r| sms.get(r).is_some_and(|&n| n >= 2)), "records before the reset are replayed");
    let push = processed_by_group(&outcome, "push");
    assert!(acked.iter().all(|r| push.contains_key(r)), "the late group reads the whole history");
}

// KIP-334: poll throws at a record it cannot deserialize and the position stays there, so an application that
// dies on it meets it again after every restart (a crash loop, the partition stuck behind it); with an
// error-handling deserializer the record is skipped and everything else is processed.
#[test]
fn a_poison_record_loops_the_default_consumer_and_is_skipped_by_a_tolerant_one() {
    let (_, outcome) = run("poison-record");
    let h = &outcome.history;
    let group = |name: &str| h.groups.iter().position(|g| g == name).expect("group") as u32;
    let (fulfilment, analytics) = (group("fulfilment"), group("analytics"));
    let deaths: Vec<(u32, u64)> = h
        .entries
        .iter()
        .filter_map(|e| match e.event {
            ClientEvent::Poisoned { group, partition, offset, skipped: false, .. } if group == fulfilment => {
                Some((partition, offset))
            }
            _ => None,
        })
        .collect();
    assert!(deaths.len() >= 3, "the default consumer dies again and again: {deaths:?}");
    // Each partition stops at its first poison record: the deaths are always at one offset per partition.
    let stuck: std::collections::BTreeMap<u32, u64> = deaths.iter().copied().collect();
    for (p, o) in &deaths {
        assert_eq!(stuck.get(p), Some(o), "deaths at different offsets of one partition: {deaths:?}");
    }
    let past_it = h.entries.iter().any(|e| match e.event {
        ClientEvent::Processed { group, partition, offset, .. } => {
            group == fulfilment && stuck.get(&partition).is_some_and(|&at| offset > at)
        }
        _ => false,
    });
    assert!(!past_it, "nothing beyond a partition's poison record is processed");

    let processed = processed_by_group(&outcome, "analytics");
    let skipped = h
        .entries
        .iter()
        .filter(|e| matches!(e.event, ClientEvent::Poisoned { group, skipped: true, .. } if group == analytics))
        .count();
    assert!(skipped > 0);
    let unprocessed = acked_records(&outcome).iter().filter(|r| !processed.contains_key(r)).count();
    assert_eq!(unprocessed, skipped, "the tolerant consumer processes everything but the poison records");
}

// retention.ms deletes old records whether or not a group read them; a consumer whose position fell below the
// log start gets OFFSET_OUT_OF_RANGE and follows auto.offset.reset (earliest: the new log start), so the
// deleted records are lost to that group — and only those.
#[test]
fn retention_overtaking_a_lagging_group_loses_records_for_it() {
    let (_, outcome) = run("retention-overtakes-lagging-group");
    let h = &outcome.history;
    let out_of_range = h.entries.iter().filter(|e| matches!(e.event, ClientEvent::OffsetOutOfRange { .. })).count();
    assert!(out_of_range > 0, "the lagging group must fall behind the log start");
    let processed = processed_by_group(&outcome, "reporting");
    let log_start = outcome
        .final_logs
        .iter()
        .find(|l| h.partitions[l.partition as usize] == "clickstream-0")
        .expect("log")
        .start_offset;
    let mut skipped = 0;
    for e in &h.entries {
        if let ClientEvent::SendAcked { producer, send_seq, offset: Some(o), .. } = e.event
            && !processed.contains_key(&(producer, send_seq))
            && e.time_us < 60 * S
        {
            assert!(o < log_start, "record at offset {o} was never processed though retention kept it");
            skipped += 1;
        }
    }
    assert!(skipped > 0, "records deleted before the group read them are lost to it");
}

// KIP-345: a static member (group.instance.id) restarted within session.timeout.ms takes its old place back:
// no new generation, the same partitions.
#[test]
fn a_static_member_restarted_in_time_keeps_its_partitions_without_a_rebalance() {
    let (_, outcome) = run("static-membership");
    let all = assignments(&outcome);
    assert!(all.iter().all(|a| a.2 == 1), "no rebalance: {all:?}");
    let mine: Vec<_> = all.iter().filter(|a| a.1 == "inventory-1").collect();
    assert_eq!(mine.len(), 2, "assigned at start and again after the restart");
    assert!(mine[1].0 > 25 * S && mine[1].3 == mine[0].3, "the same partitions come back: {mine:?}");
}

// A processor stage that commits its input only after its own writes are acknowledged is at-least-once end to
// end: through a broker crash, every order reaches both the SMS and the EMAIL senders.
#[test]
fn the_notification_pipeline_delivers_every_order_to_both_channels() {
    let (_, outcome) = run("notification-pipeline");
    let h = &outcome.history;
    let order_service = h.producers.iter().position(|p| p == "order-service").expect("producer") as u32;
    let mut outputs: std::collections::BTreeMap<(u32, u64), Vec<(u32, u64)>> = std::collections::BTreeMap::new();
    for e in &h.entries {
        if let ClientEvent::Derived { producer, send_seq, from_producer, from_send_seq } = e.event {
            outputs.entry((from_producer, from_send_seq)).or_default().push((producer, send_seq));
        }
    }
    let sms = processed_by_group(&outcome, "notification-sms");
    let email = processed_by_group(&outcome, "notification-email");
    let orders: Vec<_> = acked_records(&outcome).into_iter().filter(|r| r.0 == order_service).collect();
    assert!(!orders.is_empty());
    for order in &orders {
        let out = outputs.get(order).unwrap_or_else(|| panic!("order {order:?} was never processed by the stage"));
        // The stage writes two records per order: channel 0 (SMS) then channel 1 (EMAIL).
        assert!(out.iter().any(|r| r.1 % 2 == 0 && sms.contains_key(r)), "order {order:?} got no SMS");
        assert!(out.iter().any(|r| r.1 % 2 == 1 && email.contains_key(r)), "order {order:?} got no EMAIL");
    }
}

// ConsumerGroupCommand --to-datetime (ListOffsets by timestamp, KIP-79): after the reset, records written from
// that time on are processed again, earlier ones are not.
#[test]
fn a_reset_to_a_datetime_replays_from_that_time_only() {
    let (_, outcome) = run("replay-from-datetime");
    let processed = processed_by_group(&outcome, "ledger");
    let acked: Vec<(u64, (u32, u64))> = outcome
        .history
        .entries
        .iter()
        .filter_map(|e| match e.event {
            ClientEvent::SendAcked { producer, send_seq, .. } => Some((e.time_us, (producer, send_seq))),
            _ => None,
        })
        .collect();
    for (t, r) in &acked {
        let n = processed.get(r).copied().unwrap_or(0);
        if *t < 19 * S {
            assert_eq!(n, 1, "written at {t} µs, before the reset point: processed once");
        } else if *t > 21 * S && *t < 29 * S {
            assert_eq!(n, 2, "written at {t} µs, after the reset point: processed again");
        }
    }
}

// KIP-429: under the same storm of joins and leaves, the cooperative protocol revokes far fewer partitions than
// the eager one, which revokes everything at every rebalance.
#[test]
fn a_rebalance_storm_revokes_less_with_the_cooperative_protocol() {
    let revoked = |name: &str| {
        let (_, outcome) = run(name);
        revocations(&outcome, 0).iter().map(|(_, p)| p.len()).sum::<usize>()
    };
    let (eager, cooperative) = (revoked("rebalance-storm-eager"), revoked("rebalance-storm-cooperative"));
    assert!(cooperative * 2 < eager, "eager revoked {eager} partitions, cooperative {cooperative}");
}

/// fan-out-groups with `extra` keys for its `crm` consumer: how many polls `crm` made and how many records its
/// group processed.
fn crm_polls_and_processed(extra: &str) -> (usize, usize) {
    let path = crate::support::scenario_path("fan-out-groups");
    let text = std::fs::read_to_string(path)
        .expect("scenario")
        .replace("name = \"crm\"\n", &format!("name = \"crm\"\n{extra}"));
    let s = insync::scenario::load_str("fan-out.toml", &text).expect("loads");
    let outcome = insync::sim::run(&s.sim, s.seed, false);
    let crm = outcome.history.consumers.iter().position(|c| c == "crm").expect("crm") as u32;
    let polled = outcome
        .history
        .entries
        .iter()
        .filter(|e| matches!(e.event, ClientEvent::Polled { consumer, .. } if consumer == crm))
        .count();
    (polled, processed_by_group(&outcome, "crm").len())
}

// fetch.min.bytes: the broker holds a consumer's fetch until that much is readable (or fetch.max.wait.ms
// passes), so a consumer asking for more makes fewer, larger polls and still gets every record.
#[test]
fn fetch_min_bytes_makes_fewer_larger_fetches() {
    let (default_polls, default_processed) = crm_polls_and_processed("");
    let (big_polls, big_processed) = crm_polls_and_processed("fetch.min.bytes = 20000\n");
    assert!(big_polls * 2 < default_polls, "{big_polls} polls with fetch.min.bytes 20000, {default_polls} with 1");
    assert_eq!(big_processed, default_processed);
}

// KIP-74: fetch.max.bytes and max.partition.fetch.bytes bound what a fetch returns, but the first batch of a
// response is returned even when larger, so a consumer allowed 1 byte still gets every record, in more polls.
#[test]
fn tiny_fetch_limits_still_deliver_every_record() {
    let (default_polls, default_processed) = crm_polls_and_processed("");
    let (tiny_polls, tiny_processed) = crm_polls_and_processed("fetch.max.bytes = 1\nmax.partition.fetch.bytes = 1\n");
    assert!(default_processed > 0);
    assert_eq!(tiny_processed, default_processed, "every record still reaches the group");
    assert!(tiny_polls > default_polls, "{tiny_polls} polls with 1-byte fetches, {default_polls} with the defaults");
}

// ConsumerCoordinator.sendOffsetCommitRequest: a consumer that is not part of an active group (it left when
// max.poll.interval.ms expired) fails its commit itself with CommitFailedException and sends nothing, so no
// commit of that group ever succeeds, although an empty group would accept a commit without a generation. The
// member rejoins at its next poll and, with nothing committed, processes its first records again.
#[test]
fn a_member_past_max_poll_interval_fails_its_commits_without_sending_them() {
    let (_, outcome) = run("max-poll-interval-exceeded");
    let commits: Vec<Option<String>> = outcome
        .history
        .entries
        .iter()
        .filter_map(|e| match &e.event {
            ClientEvent::Committed { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect();
    assert!(!commits.is_empty(), "the application committed");
    assert!(
        commits.iter().all(|e| e.as_deref() == Some("CommitFailedException")),
        "every commit fails in the client: {commits:?}"
    );
    let processed = processed_by_group(&outcome, "invoicing");
    assert!(processed.values().any(|&n| n > 1), "the first batch is processed again after the rejoin");
}

/// The records of `partition` in the final log, as (producer, send_seq).
fn final_records(outcome: &insync::sim::Outcome, partition: &str) -> Vec<(u32, u64)> {
    let p = outcome.history.partitions.iter().position(|x| x == partition).expect("the partition exists") as u32;
    outcome.final_logs.iter().find(|l| l.partition == p).map(|l| l.records.clone()).unwrap_or_default()
}

// KafkaConsumer.assign + seekToBeginning without a group.id (KIP-289): no coordinator, no commits, no
// rebalance; each start of the application seeks to the beginning again, so a restart reprocesses what it had
// read, and the reader is held to its partition only.
#[test]
fn a_reader_without_a_group_rereads_its_partition_from_the_beginning_after_a_restart() {
    let (_, outcome) = run("log-reader-without-a-group");
    let h = &outcome.history;
    let auditor = h.consumers.iter().position(|c| c == "auditor").unwrap() as u32;
    let mut before_crash = std::collections::BTreeSet::new();
    for e in &h.entries {
        match &e.event {
            ClientEvent::Assigned { consumer, generation, partitions, .. } if *consumer == auditor => {
                assert_eq!((*generation, partitions.as_slice()), (-1, &[1][..]), "assign(), outside any group");
            }
            ClientEvent::Joining { consumer, .. } | ClientEvent::Committed { consumer, .. } => {
                assert_ne!(*consumer, auditor, "a consumer without group.id never joins nor commits")
            }
            ClientEvent::Processed { consumer, partition, producer, send_seq, .. } if *consumer == auditor => {
                assert_eq!(*partition, 1, "only the assigned partition");
                if e.time_us < 20 * S {
                    before_crash.insert((*producer, *send_seq));
                }
            }
            _ => {}
        }
    }
    let processed = processed_by_group(&outcome, "auditor");
    assert!(final_records(&outcome, "invoices-1").iter().all(|r| processed.contains_key(r)), "nothing skipped");
    assert!(!before_crash.is_empty());
    assert!(before_crash.iter().all(|r| processed[r] == 2), "read again from the beginning after the restart");
    assert!(processed_by_group(&outcome, "billing").values().all(|&n| n == 1), "the group never noticed it");
}

// KafkaConsumer's javadoc, "Storing Offsets Outside Kafka": results and offsets in one transaction, and a seek to
// the stored offsets on assignment, make each record's processing take effect once through a crash mid-batch;
// the same crash with offsets committed to Kafka after processing repeats part of the batch.
#[test]
fn offsets_stored_with_the_state_take_effect_once_where_commits_to_kafka_repeat_some() {
    for (story, twice_expected) in [("offsets-with-state-crash", false), ("offsets-in-kafka-crash", true)] {
        let (_, outcome) = run(story);
        let processed = processed_by_group(&outcome, "billing");
        let all: Vec<(u32, u64)> =
            ["invoices-0", "invoices-1"].iter().flat_map(|p| final_records(&outcome, p)).collect();
        assert!(all.iter().all(|r| processed.contains_key(r)), "{story}: nothing skipped");
        let twice = processed.values().filter(|&&n| n > 1).count();
        assert_eq!(twice > 0, twice_expected, "{story}: {twice} records processed twice");
    }
}

// A manually assigned consumer with a group.id is a "simple consumer": it commits at generation -1 with no member
// id, which the coordinator accepts while the group has no members (GroupCoordinator.handleCommitOffsets), and
// after a restart it resumes from that commit (OffsetFetch), not from `auto.offset.reset`.
#[test]
fn a_manually_assigned_consumer_with_a_group_id_commits_and_resumes_from_its_commit() {
    let text = r#"
duration = "40s"
[[topics]]
name = "audit"
partitions = 2
[[producers]]
name = "p"
topic = "audit"
rate = 200
stop = "35s"
[[consumers]]
name = "archiver"
group.id = "archive"
assign = ["audit-0"]
auto.offset.reset = "earliest"
commit = "sync-after-batch"
[[faults]]
at = "15s"
action = "crash"
target = "archiver"
[[faults]]
at = "18s"
action = "restart"
target = "archiver"
"#;
    let s = insync::scenario::load_str("simple-consumer.toml", text).expect("loads");
    let outcome = insync::sim::run(&s.sim, 1, false);
    let mut last_commit_before_crash = None;
    for e in &outcome.history.entries {
        match &e.event {
            ClientEvent::Committed { generation, offset, error, partition, .. } => {
                assert_eq!((*generation, error.as_deref(), *partition), (-1, None, 0), "accepted at generation -1");
                if e.time_us < 15 * S {
                    last_commit_before_crash = Some(*offset);
                }
            }
            ClientEvent::Joining { .. } => panic!("a manual assignment never joins"),
            _ => {}
        }
    }
    let committed = last_commit_before_crash.expect("it committed before the crash");
    assert!(committed > 100);
    let mut seen = std::collections::BTreeMap::new();
    for e in &outcome.history.entries {
        if let ClientEvent::Processed { offset, .. } = e.event {
            *seen.entry(offset).or_insert(0) += 1;
        }
    }
    assert!(seen.iter().all(|(&o, &n)| n == 1 || o >= committed), "only what followed the last commit repeats");
    assert!((0..committed).all(|o| seen.contains_key(&o)), "resumed from its commit, nothing skipped below it");
    let after_restart =
        |e: &&insync::history::Entry| e.time_us > 18 * S && matches!(e.event, ClientEvent::Processed { .. });
    assert!(outcome.history.entries.iter().any(|e| after_restart(&e)), "it went on after the restart");
}

/// Two members of one group on two partitions, and one fault pair on `c-1` at 20 s and at `resume_s`.
fn stalled_member(stop: &str, resume: &str, resume_s: u64) -> insync::sim::Outcome {
    let text = format!(
        "duration = \"90s\"\n[[topics]]\nname = \"t\"\npartitions = 2\nreplication.factor = 3\n\n\
         [[producers]]\nname = \"p\"\ntopic = \"t\"\nrate = 100\n\n\
         [[consumers]]\nname = \"c\"\ninstances = 2\ngroup.id = \"g\"\ntopics = [\"t\"]\n\
         auto.offset.reset = \"earliest\"\nmax.poll.interval.ms = 10000\n\n\
         [[faults]]\nat = \"20s\"\naction = \"{stop}\"\ntarget = \"c-1\"\n\n\
         [[faults]]\nat = \"{resume_s}s\"\naction = \"{resume}\"\ntarget = \"c-1\"\n"
    );
    let scenario = insync::scenario::load_str("stall.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    insync::sim::run(&scenario.sim, scenario.seed, false)
}

/// When `c-2` is first assigned both partitions.
fn takeover_us(outcome: &insync::sim::Outcome) -> u64 {
    let all = assignments(outcome);
    all.iter().find(|a| a.1 == "c-2" && a.3.len() == 2).map(|a| a.0).expect("c-2 takes both partitions")
}

// KIP-62: the heartbeat thread keeps a member whose application stopped polling in the group until
// max.poll.interval.ms (10 s here) has passed since its last poll, then sends LeaveGroup ("consumer poll timeout
// has expired", AbstractCoordinator.HeartbeatThread), long before session.timeout.ms (45 s) would have removed
// it. A paused process sends no heartbeats: the coordinator removes it only after the session timeout. When the
// stalled application polls again it rejoins as a new member.
#[test]
fn a_stalled_application_leaves_on_the_poll_timeout_a_paused_process_on_the_session_timeout() {
    let stalled = stalled_member("stop-polling", "resume-polling", 50);
    let h = &stalled.history;
    let c1 = h.consumers.iter().position(|c| c == "c-1").expect("c-1") as u32;
    let left = h.entries.iter().find_map(|e| match &e.event {
        ClientEvent::LeftGroup { consumer, reason, .. } if *consumer == c1 => Some((e.time_us, reason.clone())),
        _ => None,
    });
    let (left_us, reason) = left.expect("the stalled member leaves its group");
    assert!(reason.contains("max.poll.interval.ms"), "{reason}");
    // Its last poll was at most at 20 s; the heartbeat thread checks every heartbeat.interval.ms (3 s).
    assert!((20 * S..=33 * S + S / 2).contains(&left_us), "left at {left_us} µs");
    assert!(takeover_us(&stalled) < 40 * S, "c-2 took over at {} µs", takeover_us(&stalled));
    let rejoined = assignments(&stalled).iter().any(|a| a.1 == "c-1" && a.0 > 50 * S && !a.3.is_empty());
    assert!(rejoined, "after polling again c-1 rejoins and is assigned a partition");

    let paused = stalled_member("pause", "resume", 80);
    // Its last heartbeat was at most 3 s before the pause: removed no sooner than 17 s + 45 s.
    assert!(takeover_us(&paused) > 62 * S, "c-2 took over a paused member's partition at {} µs", takeover_us(&paused));
}
