//! `key-order`: a group processed a key's records in an order other than their log order.
//!
//! Kafka orders records within a partition, so a group sees a key's records in the order they were written (a
//! key maps to one partition). For each group, partition and key (the key from `SendInvoked`), the records the
//! group processes *for the first time* must come in increasing offset order, the offset being the one the
//! consumer read the record at (the `Processed` event's; `inconsistent-offsets` and `lost-write` judge whether
//! that agrees with the final log). Repeats are left out: redelivery after a rebalance or a crash replays a
//! range the group has seen (that is `duplicate-delivery`), while a first processing below an offset already
//! processed means the application applied an older value of the key after a newer one (a zombie finishing a
//! stale batch, a group that skipped ahead and came back). Jepsen's checker has no per-key check; this is its
//! `nonmonotonic-poll` lifted from one consumer to the whole group, and like Jepsen (which stops comparing a
//! key once a rebalance touched it) it does not count a rebalance's replay. A `truncation_detected` (KIP-320)
//! starts the group's partition afresh from the divergence: the offsets above it now hold other, later records,
//! so offsets read before it and after it are not one order (what the group read there and lost is
//! `lost-write`'s).

use super::index::{FirstProcessing, FixedHashMap, Record, SendKeys};
use super::violation::{Names, Violation, seconds};
use crate::history::{ClientEvent, FinalLog, History};

pub const NAME: &str = "key-order";

#[derive(Clone, Copy)]
struct Highest {
    offset: u64,
    record: Record,
    time_us: u64,
}

/// One violation per record processed (first time) out of order, at that record, naming the highest-offset record
/// of its key processed before it; in history order. Records without a key are not compared. Needs no logs.
pub fn check(history: &History, _logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let keys = SendKeys::new(history);
    let names = Names::without_keys(history);
    let mut seen = FirstProcessing::default();
    // (group, partition, key) -> the highest-offset record processed so far. Looked up, and pruned by `retain`,
    // whose result does not depend on the order it visits: a hash map's order cannot reach the result.
    let mut highest: FixedHashMap<(u32, u32, u32), Highest> = FixedHashMap::default();
    let mut out = Vec::new();
    for entry in &history.entries {
        if let ClientEvent::TruncationDetected { group, partition, divergent_offset, .. } = entry.event {
            let from = divergent_offset.unwrap_or(0);
            highest.retain(|&(g, p, _), top| g != group || p != partition || top.offset < from);
            continue;
        }
        let ClientEvent::Processed { group, partition, offset, producer, send_seq, .. } = entry.event else { continue };
        let record = (producer, send_seq);
        if !seen.insert(group, record) {
            continue;
        }
        let Some(key) = keys.get(record) else { continue };
        let now = Highest { offset, record, time_us: entry.time_us };
        let top = highest.entry((group, partition, key)).or_insert(now);
        if offset >= top.offset {
            *top = now;
            continue;
        }
        let detail = format!(
            "processed after {} from the later offset {}, at {}",
            names.record(top.record),
            top.offset,
            seconds(top.time_us)
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

    fn keyed() -> Vec<ClientEvent> {
        (0..4).map(|s| invoked(0, s, Some((s % 2) as u32), 0)).collect()
    }

    #[test]
    fn a_keys_older_record_processed_after_a_newer_one_breaks_key_order() {
        // Key 0 is sends 0 and 2 at offsets 0 and 2; the group processed 2 then 0.
        let mut events = keyed();
        events.extend([processed(0, 0, 0, 2, (0, 2)), processed(1, 0, 0, 0, (0, 0))]);
        let v = check(&history(events), None);
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].offset, v[0].witness_record(), v[0].group), (Some(0), Some((0, 0)), Some(0)));
        assert!(v[0].detail.contains("p0 send #2"), "{}", v[0].detail);
    }

    #[test]
    fn other_keys_other_groups_and_unkeyed_records_are_not_compared() {
        let mut events = keyed();
        events.push(invoked(1, 0, None, 0));
        events.extend([
            processed(0, 0, 0, 3, (0, 3)),
            processed(0, 0, 0, 0, (0, 0)),
            processed(0, 1, 0, 2, (0, 2)),
            processed(0, 0, 0, 4, (1, 0)),
            processed(0, 0, 0, 1, (1, 0)),
        ]);
        assert!(check(&history(events), None).is_empty());
    }

    #[test]
    fn a_detected_truncation_restarts_the_order_at_the_divergence() {
        // Key 0's send 2 was read at offset 2, then lost; the new leader wrote send 6 at offset 1 (below it).
        let mut events = keyed();
        events.push(invoked(0, 6, Some(0), 0));
        events.extend([processed(0, 0, 0, 2, (0, 2))]);
        let detected = ClientEvent::TruncationDetected {
            consumer: 0,
            group: 0,
            partition: 0,
            offset: 3,
            divergent_offset: Some(1),
            error: None,
        };
        let after = processed(0, 0, 0, 1, (0, 6));
        assert_eq!(check(&history([events.clone(), vec![after.clone()]].concat()), None).len(), 1, "without it");
        events.extend([detected, after]);
        assert!(check(&history(events), None).is_empty());
    }

    #[test]
    fn redelivery_after_a_rebalance_is_not_a_key_order_violation() {
        let mut events = keyed();
        events.extend([
            processed(0, 0, 0, 0, (0, 0)),
            processed(0, 0, 0, 2, (0, 2)),
            // c1 takes over from the committed offset 0 and replays.
            processed(1, 0, 0, 0, (0, 0)),
            processed(1, 0, 0, 2, (0, 2)),
        ]);
        assert!(check(&history(events), None).is_empty());
    }
}
