//! `undelivered`: a record of a partition a group consumed that the group never processed.
//!
//! A group consumed a partition if one of its members subscribed to its topic (`subscribed`, version 2), or was
//! ever assigned it or processed a record from it; it is then held to every partition of that partition's topic
//! (a subscription is to topics) — unless the partition
//! was assigned manually (`assign()`, generation -1: no group generation), which holds it to that partition alone.
//! The records it is held to are those from where the group started in the partition — its first position there:
//! the offset its first `auto.offset.reset` or seek put it at (a group that starts at `latest` is not owed what
//! came before), or its first poll's — to the log's end: every record of the final log (the run's liveness phase, not
//! this check, decides whether the group had time to get there) and the acknowledged records at offsets retention
//! deleted before the log's start (deleted before the group read them: lost to it). A partition without a final
//! log holds the records clients saw there: acknowledged at an offset, or read by anyone (Jepsen's `unseen`, per
//! group). A record counts as processed when the group processed it (same producer and send_seq) at any offset;
//! one it skipped as unreadable (`Poisoned`) does not.

use super::index::{FixedHashSet, Known, Record, topic_of};
use super::violation::{Names, Violation};
use crate::history::{ClientEvent, FinalLog, History};
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: &str = "undelivered";

/// In group, partition and offset order.
pub fn check(history: &History, logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let known = Known::new(history, logs.unwrap_or_default());
    let consumed = Consumed::new(history);
    let owed = owed_records(history, &known);
    let starts = starts(history);
    let processed = processed_records(history);
    let poisoned = poisoned_records(history);
    let names = Names::without_keys(history);
    let mut out = Vec::new();
    for &g in &consumed.groups {
        for (&p, records) in owed.iter().filter(|&(&p, _)| consumed.covers(history, g, p)) {
            let start = starts.get(&(g, p)).copied().unwrap_or(0);
            for &(o, record) in records.iter().filter(|&&(o, _)| o >= start) {
                if processed.contains(&(g, record)) {
                    continue;
                }
                let why = match (poisoned.get(&(g, record)), known.logs.span(p)) {
                    (_, Some((log_start, _))) if o < log_start => {
                        format!("retention deleted it (the log now starts at offset {log_start}) first")
                    }
                    (Some(&c), _) => format!("consumer {} skipped it as unreadable", names.consumer(c)),
                    (None, Some(_)) => "it is in the final log".to_string(),
                    (None, None) => "it was seen there".to_string(),
                };
                let detail = format!("group {} never processed it: {why}", names.group(g));
                out.push(Violation::new(NAME, detail).at(p, Some(o)).record(Some(record)).group(g));
            }
        }
    }
    out
}

/// Per (group, partition), the group's first position there: its first reset's offset or first poll's start.
fn starts(history: &History) -> BTreeMap<(u32, u32), u64> {
    let mut starts = BTreeMap::new();
    for entry in &history.entries {
        let (group, partition, offset) = match entry.event {
            ClientEvent::PositionReset { group, partition, offset, .. }
            | ClientEvent::Seeked { group, partition, offset, .. } => (group, partition, offset),
            ClientEvent::Polled { group, partition, first_offset, count, .. } if count > 0 => {
                (group, partition, first_offset)
            }
            _ => continue,
        };
        starts.entry((group, partition)).or_insert(offset);
    }
    starts
}

/// Per data partition, what a group consuming it is owed, by offset: the final log's records and the
/// acknowledged ones retention deleted before its start, or (without a final log) each record seen there once.
fn owed_records(history: &History, known: &Known<'_>) -> BTreeMap<u32, Vec<(u64, Record)>> {
    let mut owed: BTreeMap<u32, Vec<(u64, Record)>> = BTreeMap::new();
    for entry in &history.entries {
        let ClientEvent::SendAcked { producer, send_seq, partition, offset: Some(o) } = entry.event else { continue };
        if known.logs.span(partition).is_some_and(|(start, _)| o < start) {
            owed.entry(partition).or_default().push((o, (producer, send_seq)));
        }
    }
    for list in owed.values_mut() {
        list.sort_unstable();
        list.dedup_by_key(|(o, _)| *o);
    }
    let mut seen = BTreeSet::new();
    for (p, o, record) in known.placed() {
        if known.is_final(p) || seen.insert((p, record)) {
            owed.entry(p).or_default().push((o, record));
        }
    }
    owed
}

/// Which groups consumed which partitions and topics.
struct Consumed<'h> {
    groups: BTreeSet<u32>,
    partitions: BTreeSet<(u32, u32)>,
    topics: BTreeSet<(u32, &'h str)>,
}

impl<'h> Consumed<'h> {
    fn new(history: &'h History) -> Self {
        let (mut partitions, mut subscribed, mut topics) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        for entry in &history.entries {
            let (group, ps, generation) = match &entry.event {
                ClientEvent::Subscribed { group, topics: ts, .. } => {
                    topics.extend(ts.iter().map(|t| (*group, t.as_str())));
                    continue;
                }
                ClientEvent::Assigned { group, partitions: ps, generation, .. } => (*group, &ps[..], *generation),
                ClientEvent::Processed { group, partition, generation, .. } => {
                    (*group, std::slice::from_ref(partition), *generation)
                }
                _ => continue,
            };
            partitions.extend(ps.iter().map(|&p| (group, p)));
            if generation >= 0 {
                subscribed.extend(ps.iter().map(|&p| (group, p)));
            }
        }
        topics.extend(subscribed.iter().filter_map(|&(g, p)| Some((g, topic(history, p)?))));
        let groups = partitions.iter().map(|&(g, _)| g).chain(topics.iter().map(|&(g, _)| g)).collect();
        Consumed { groups, partitions, topics }
    }

    fn covers(&self, history: &History, group: u32, partition: u32) -> bool {
        self.partitions.contains(&(group, partition))
            || topic(history, partition).is_some_and(|t| self.topics.contains(&(group, t)))
    }
}

fn topic(history: &History, partition: u32) -> Option<&str> {
    history.partitions.get(partition as usize).map(|name| topic_of(name))
}

/// (group, record) for each record a group processed: looked up, never iterated.
fn processed_records(history: &History) -> FixedHashSet<(u32, Record)> {
    history
        .entries
        .iter()
        .filter_map(|e| match e.event {
            ClientEvent::Processed { group, producer, send_seq, .. } => Some((group, (producer, send_seq))),
            _ => None,
        })
        .collect()
}

/// (group, record) -> the consumer that skipped it as unreadable.
fn poisoned_records(history: &History) -> BTreeMap<(u32, Record), u32> {
    history
        .entries
        .iter()
        .filter_map(|e| match e.event {
            ClientEvent::Poisoned { consumer, group, producer, send_seq, skipped: true, .. } => {
                Some(((group, (producer, send_seq)), consumer))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn a_record_the_group_never_processed_is_undelivered() {
        let h = history(vec![assigned(0, 0, &[0]), processed(0, 0, 0, 0, (0, 0))]);
        let v = check(&h, Some(&[log(0, &[(0, 0), (0, 1)])]));
        assert_eq!(v.len(), 1);
        let w = (v[0].partition, v[0].offset, v[0].witness_record(), v[0].group);
        assert_eq!(w, (Some(0), Some(1), Some((0, 1)), Some(0)));
        assert!(v[0].detail.ends_with("it is in the final log"), "{}", v[0].detail);
    }

    #[test]
    fn the_group_is_held_to_every_partition_of_a_topic_it_consumed_and_no_other() {
        // g0 was assigned only t-0, so t-1 counts too (same topic), u-0 does not.
        let h = history(vec![assigned(0, 0, &[0])]);
        let v = check(&h, Some(&[log(0, &[]), log(1, &[(1, 0)]), log(2, &[(1, 1)])]));
        assert_eq!(v.iter().map(|v| (v.partition, v.witness_record())).collect::<Vec<_>>(), [(Some(1), Some((1, 0)))]);
    }

    // KafkaConsumer.assign: a manual assignment is to partitions, not topics (generation -1: no group generation).
    #[test]
    fn a_manual_assignment_holds_the_group_to_its_partitions_alone() {
        let manual = ClientEvent::Assigned { consumer: 0, group: 0, generation: -1, partitions: vec![0] };
        let done = ClientEvent::Processed {
            consumer: 0,
            group: 0,
            generation: -1,
            partition: 0,
            offset: 0,
            producer: 0,
            send_seq: 0,
        };
        let h = history(vec![manual, done]);
        let logs = [log(0, &[(0, 0), (0, 1)]), log(1, &[(1, 0)])];
        let v = check(&h, Some(&logs));
        assert_eq!(v.iter().map(|v| (v.partition, v.offset)).collect::<Vec<_>>(), [(Some(0), Some(1))], "{v:?}");
    }

    #[test]
    fn processing_by_another_group_does_not_count() {
        let h = history(vec![assigned(0, 0, &[2]), processed(1, 1, 2, 0, (0, 0))]);
        let v = check(&h, Some(&[log(2, &[(0, 0)])]));
        assert_eq!(v.iter().map(|v| v.group).collect::<Vec<_>>(), [Some(0)]);
    }

    #[test]
    fn records_retention_deleted_before_the_group_read_them_are_undelivered() {
        let h = history(vec![
            acked(0, 0, 0, Some(0)),
            acked(0, 1, 0, Some(1)),
            assigned(0, 0, &[0]),
            processed(0, 0, 0, 0, (0, 0)),
            processed(0, 0, 0, 2, (0, 2)),
        ]);
        let v = check(&h, Some(&[log_from(0, 2, &[(0, 2)])]));
        assert_eq!(v.iter().map(|v| (v.offset, v.witness_record())).collect::<Vec<_>>(), [(Some(1), Some((0, 1)))]);
        assert!(v[0].detail.contains("retention deleted it"), "{}", v[0].detail);
    }

    #[test]
    fn a_record_skipped_as_poison_is_undelivered_and_says_so() {
        let poisoned = ClientEvent::Poisoned {
            consumer: 1,
            group: 0,
            partition: 0,
            offset: 0,
            producer: 0,
            send_seq: 0,
            skipped: true,
        };
        let h = history(vec![assigned(1, 0, &[0]), poisoned]);
        let v = check(&h, Some(&[log(0, &[(0, 0)])]));
        assert!(v.len() == 1 && v[0].detail.contains("consumer c1 skipped it as unreadable"), "{v:?}");
    }

    // KafkaConsumer with auto.offset.reset=latest and no committed offset starts at the log end
    // (SubscriptionState.resetInitializingPositions): a late group is not owed what came before. A later reset
    // past records it had not read still loses them to it.
    #[test]
    fn a_group_is_owed_records_from_its_first_position() {
        let late = vec![assigned(0, 0, &[2]), reset(0, 0, 2, 2), polled(0, 0, 2, 2, 1), processed(0, 0, 2, 2, (0, 2))];
        let logs = [log(2, &[(0, 0), (0, 1), (0, 2), (0, 3)])];
        let v = check(&history(late.clone()), Some(&logs));
        assert_eq!(v.iter().map(|v| v.offset).collect::<Vec<_>>(), [Some(3)], "{v:?}");
        let mut skipped = late;
        skipped.push(reset(0, 0, 2, 4));
        let logs = [log(2, &[(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)])];
        let v = check(&history(skipped), Some(&logs));
        assert_eq!(v.iter().map(|v| v.offset).collect::<Vec<_>>(), [Some(3), Some(4)], "{v:?}");
        // A recording that starts where the group had committed: its first poll is its start.
        let resumed = vec![assigned(0, 0, &[2]), polled(0, 0, 2, 1, 1), processed(0, 0, 2, 1, (0, 1))];
        assert!(check(&history(resumed), Some(&[log(2, &[(0, 0), (0, 1)])])).is_empty());
    }

    #[test]
    fn without_a_final_log_the_group_is_owed_what_was_acknowledged_or_read() {
        let h = history(vec![
            acked(0, 0, 0, Some(0)),
            acked(0, 1, 0, Some(1)),
            acked(0, 2, 1, None),
            assigned(0, 0, &[0]),
            polled(0, 0, 0, 0, 1),
            processed(0, 0, 0, 0, (0, 0)),
            processed(1, 1, 1, 4, (1, 7)),
        ]);
        let v = check(&h, None);
        let found: Vec<_> = v.iter().map(|v| (v.group, v.partition, v.offset, v.witness_record())).collect();
        // t-1 is t's too: g0 is owed p1's record g1 read there, and g1 (which read t-1) what was acknowledged in
        // t-0; the acks=0 record has no known place.
        let expected = [
            (Some(0), Some(0), Some(1), Some((0, 1))),
            (Some(0), Some(1), Some(4), Some((1, 7))),
            (Some(1), Some(0), Some(0), Some((0, 0))),
            (Some(1), Some(0), Some(1), Some((0, 1))),
        ];
        assert_eq!(found, expected);
        assert!(v[0].detail.ends_with("it was seen there"), "{}", v[0].detail);
    }

    // KafkaConsumer.subscribe is to topics: a group that subscribed is owed their records though none of its
    // members was ever given a partition; a seek is a first position like a reset.
    #[test]
    fn a_subscription_holds_the_group_to_its_topics_and_a_seek_sets_its_start() {
        let subscribed = ClientEvent::Subscribed { consumer: 0, group: 0, topics: vec!["u".into()] };
        let logs = [log(0, &[(0, 0)]), log(2, &[(1, 0), (1, 1)])];
        let v = check(&history(vec![subscribed.clone()]), Some(&logs));
        assert_eq!(
            v.iter().map(|v| (v.partition, v.offset)).collect::<Vec<_>>(),
            [(Some(2), Some(0)), (Some(2), Some(1))]
        );
        let seeked = ClientEvent::Seeked { consumer: 0, group: 0, partition: 2, offset: 1 };
        let v = check(&history(vec![subscribed, seeked]), Some(&logs));
        assert_eq!(v.iter().map(|v| (v.partition, v.offset)).collect::<Vec<_>>(), [(Some(2), Some(1))]);
    }

    #[test]
    fn a_group_that_consumed_nothing_expects_nothing() {
        assert!(check(&history(vec![]), Some(&[log(0, &[(0, 0)])])).is_empty());
        assert!(check(&history(vec![assigned(0, 0, &[0])]), None).is_empty());
    }
}
