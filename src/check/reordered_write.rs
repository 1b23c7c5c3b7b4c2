//! `reordered-write`: one producer's records of one key stand in their partition in another order than they were
//! sent (send_seq order), as retries with more than one request in flight and no idempotence leave them; records
//! without a key are held to send order among one producer's unkeyed records of the partition (Kafka orders a
//! producer's records per partition: `max.in.flight.requests.per.connection`, KIP-98's idempotence). Each record
//! counts at its first offset (later copies are `duplicate-write`). Where the final log is known it decides; a
//! partition without one is judged on the offsets producers were acknowledged with and consumers read records at.
//! Jepsen's checker calls this `nonmonotonic-send` (per client and partition, from the sends' offsets).

use super::index::{Known, SendKeys};
use super::violation::{Names, Violation};
use crate::history::{FinalLog, History};

pub const NAME: &str = "reordered-write";

/// One violation per record that landed before a record of the same producer and key (or unkeyed stream) sent
/// earlier, at the record, naming the earlier send; in producer, key, partition, send order.
pub fn check(history: &History, logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let known = Known::new(history, logs.unwrap_or_default());
    let keys = SendKeys::new(history);
    // (producer, key, partition, send_seq, offset), sorted: each run of one (producer, key, partition) in send
    // order, each record at its first offset.
    let mut sends: Vec<(u32, Option<u32>, u32, u64, u64)> = known
        .placed()
        .into_iter()
        .map(|(p, o, (producer, seq))| (producer, keys.get((producer, seq)), p, seq, o))
        .collect();
    sends.sort_unstable();
    sends.dedup_by_key(|s| (s.0, s.1, s.2, s.3));
    let names = Names::without_keys(history);
    let mut out = Vec::new();
    for run in sends.chunk_by(|a, b| (a.0, a.1, a.2) == (b.0, b.1, b.2)) {
        let mut latest = run[0];
        for &s in &run[1..] {
            // Two records at one offset are inconsistent-offsets', not an order.
            if s.4 >= latest.4 {
                latest = s;
                continue;
            }
            let detail = format!(
                "sent after {}, but written before it (at {})",
                names.record((latest.0, latest.3)),
                names.location(latest.2, Some(latest.4))
            );
            out.push(Violation::new(NAME, detail).at(s.2, Some(s.4)).record(Some((s.0, s.3))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;
    use crate::history::ClientEvent;

    fn sends() -> History {
        history((0..4).map(|s| invoked(0, s, Some((s % 2) as u32), 0)).chain([invoked(1, 0, None, 0)]).collect())
    }

    #[test]
    fn a_later_send_of_a_key_written_first_is_reordered() {
        // Key 0: sends 0 and 2, written 2 then 0.
        let v = check(&sends(), Some(&[log(0, &[(0, 2), (0, 1), (0, 0), (0, 3)])]));
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].partition, v[0].offset, v[0].witness_record()), (Some(0), Some(0), Some((0, 2))));
        assert!(v[0].detail.contains("p0 send #0") && v[0].detail.contains("t-0@2"), "{}", v[0].detail);
    }

    #[test]
    fn other_keys_and_later_copies_do_not_reorder() {
        // Send 1 (key 1) after send 2 (key 0) is fine; the retried copy of send 0 at offset 4 is a duplicate.
        let v = check(&sends(), Some(&[log(0, &[(0, 0), (0, 2), (0, 1), (0, 3), (0, 0), (1, 0)])]));
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn nothing_without_observations() {
        assert!(check(&sends(), None).is_empty());
    }

    // kafka.clj `nonmonotonic-send-cases`: one client's sends to x acknowledged at 3 and 4, then later ones at 1
    // and 2. Here every record is of key 0: each of the later two landed before the one sent before them.
    #[test]
    fn without_a_final_log_acknowledged_offsets_out_of_send_order_are_reordered() {
        let mut events: Vec<ClientEvent> = (0..4).map(|s| invoked(0, s, Some(0), 0)).collect();
        events.extend([
            acked(0, 0, 0, Some(3)),
            acked(0, 1, 0, Some(4)),
            acked(0, 2, 0, Some(1)),
            acked(0, 3, 0, Some(2)),
        ]);
        let v = check(&history(events), None);
        let at: Vec<_> = v.iter().map(|v| (v.offset, v.witness_record())).collect();
        assert_eq!(at, [(Some(1), Some((0, 2))), (Some(2), Some((0, 3)))]);
        assert!(v[0].detail.contains("sent after p0 send #1,") && v[0].detail.contains("t-0@4"), "{}", v[0].detail);
    }

    #[test]
    fn a_producers_unkeyed_records_keep_send_order_within_a_partition() {
        let unkeyed = |seq, p| invoked(1, seq, None, p);
        let h = history(vec![
            unkeyed(0, 0),
            unkeyed(1, 0),
            unkeyed(2, 1),
            acked(1, 0, 0, Some(5)),
            acked(1, 1, 0, Some(2)),
        ]);
        let v = check(&h, None);
        assert_eq!(
            v.iter().map(|v| (v.partition, v.offset, v.witness_record())).collect::<Vec<_>>(),
            [(Some(0), Some(2), Some((1, 1)))]
        );
        // Another partition's unkeyed record is no order: send 2 at t-1@0 after send 0 at t-0@5.
        let h = history(vec![unkeyed(0, 0), unkeyed(2, 1), acked(1, 0, 0, Some(5)), acked(1, 2, 1, Some(0))]);
        assert!(check(&h, None).is_empty());
        let logs = [log(0, &[(1, 1), (1, 0)])];
        assert_eq!(check(&history(vec![unkeyed(0, 0), unkeyed(1, 0)]), Some(&logs)).len(), 1);
    }
}
