//! `duplicate-delivery`: a group processed the same record (producer, send_seq) more than once, whether from the
//! same offset (redelivery after a rebalance or a crash before the commit) or from two offsets (a duplicated
//! write). At-least-once allows it; exactly-once does not. Jepsen's checker has no counterpart (its `duplicate`
//! is about the log: see `duplicate-write`).

use super::index::{FixedHashMap, Record};
use super::violation::{Names, Violation, seconds};
use crate::history::{ClientEvent, FinalLog, History};
use std::collections::hash_map::Entry;

pub const NAME: &str = "duplicate-delivery";

/// A record's first processing by a group.
#[derive(Clone, Copy)]
struct First {
    time_us: u64,
    consumer: u32,
    partition: u32,
    offset: u64,
}

/// One violation per repeated processing, in history order, at the repeat. Needs no final logs.
pub fn check(history: &History, _logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let names = Names::without_keys(history);
    // Looked up, never iterated: a hash map's order cannot reach the result.
    let mut first: FixedHashMap<(u32, Record), First> = FixedHashMap::default();
    let mut out = Vec::new();
    for entry in &history.entries {
        let ClientEvent::Processed { consumer, group, partition, offset, producer, send_seq, .. } = entry.event else {
            continue;
        };
        let record = (producer, send_seq);
        let was = match first.entry((group, record)) {
            Entry::Vacant(slot) => {
                slot.insert(First { time_us: entry.time_us, consumer, partition, offset });
                continue;
            }
            Entry::Occupied(slot) => *slot.get(),
        };
        let detail = format!(
            "processed again by consumer {}; first processed by consumer {} from {} at {}",
            names.consumer(consumer),
            names.consumer(was.consumer),
            names.location(was.partition, Some(was.offset)),
            seconds(was.time_us)
        );
        out.push(
            Violation::new(NAME, detail)
                .at(partition, Some(offset))
                .record(Some(record))
                .group(group)
                .time(entry.time_us),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn processing_a_record_twice_in_one_group_is_a_duplicate_at_the_repeat() {
        let h =
            history(vec![processed(0, 0, 0, 0, (0, 0)), processed(0, 1, 0, 0, (0, 0)), processed(1, 0, 0, 0, (0, 0))]);
        let v = check(&h, None);
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].group, v[0].time_us, v[0].witness_record()), (Some(0), Some(2), Some((0, 0))));
        assert!(v[0].detail.contains("consumer c1") && v[0].detail.contains("consumer c0"), "{}", v[0].detail);
    }

    #[test]
    fn the_same_record_from_two_offsets_is_a_duplicate_too() {
        let h = history(vec![processed(0, 0, 0, 0, (1, 3)), processed(0, 0, 0, 4, (1, 3))]);
        let v = check(&h, None);
        assert_eq!(v.iter().map(|v| v.offset).collect::<Vec<_>>(), [Some(4)]);
    }

    #[test]
    fn different_records_are_not_duplicates() {
        let h = history(vec![processed(0, 0, 0, 0, (0, 0)), processed(0, 0, 0, 1, (0, 1))]);
        assert!(check(&h, None).is_empty());
    }
}
