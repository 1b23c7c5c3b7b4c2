//! `processing-order`: a group processed one producer's records of a key in an order other than the order they
//! were sent.
//!
//! This is the application's view of ordering ("each order's events in order"), which Kafka gives only when the
//! key is the record key: records of one key then share a partition, whose order is send order for an
//! idempotent producer. When the key is not the record key (it travels in the value and the partitioner
//! spreads the records), a group's consumers process the key's records from several partitions at their own
//! pace and the order is lost. For each group, producer and key (the key from `SendInvoked`), the records the
//! group processes for the first time must come in increasing send order; repeats (redelivery) are left out,
//! as in `key-order`. Needs no logs.

use super::index::{FirstProcessing, FixedHashMap, SendKeys};
use super::violation::{Names, Violation, seconds};
use crate::history::{ClientEvent, FinalLog, History};

pub const NAME: &str = "processing-order";

/// One violation per record processed (first time) after a later send of the same producer and key, in
/// history order. Records without a key are not compared.
pub fn check(history: &History, _logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let keys = SendKeys::new(history);
    let names = Names::without_keys(history);
    let mut seen = FirstProcessing::default();
    // (group, producer, key) -> the latest send processed so far, and when. Looked up, never iterated: a hash
    // map's order cannot reach the result.
    let mut latest: FixedHashMap<(u32, u32, u32), (u64, u64)> = FixedHashMap::default();
    let mut out = Vec::new();
    for entry in &history.entries {
        let ClientEvent::Processed { group, partition, offset, producer, send_seq, .. } = entry.event else { continue };
        if !seen.insert(group, (producer, send_seq)) {
            continue;
        }
        let Some(key) = keys.get((producer, send_seq)) else { continue };
        let top = latest.entry((group, producer, key)).or_insert((send_seq, entry.time_us));
        if send_seq >= top.0 {
            *top = (send_seq, entry.time_us);
            continue;
        }
        let detail =
            format!("processed after {}, which was sent later, at {}", names.record((producer, top.0)), seconds(top.1));
        out.push(
            Violation::new(NAME, detail)
                .at(partition, Some(offset))
                .record(Some((producer, send_seq)))
                .group(group)
                .time(entry.time_us),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::ClientEvent;

    fn processed(partition: u32, offset: u64, send_seq: u64) -> ClientEvent {
        ClientEvent::Processed { consumer: 0, group: 0, generation: 1, partition, offset, producer: 0, send_seq }
    }

    fn invoked(send_seq: u64, partition: u32) -> ClientEvent {
        ClientEvent::SendInvoked { producer: 0, send_seq, key: Some(7), partition }
    }

    fn history(events: Vec<ClientEvent>) -> History {
        let mut h = History::new(vec!["t-0".into(), "t-1".into()], vec!["p".into()]);
        h.groups = vec!["g".into()];
        h.consumers = vec!["c".into()];
        for (i, e) in events.into_iter().enumerate() {
            h.push(i as u64, e);
        }
        h
    }

    #[test]
    fn a_keys_records_processed_in_send_order_pass_and_out_of_order_fail() {
        let in_order = history(vec![invoked(0, 0), invoked(1, 1), processed(0, 0, 0), processed(1, 0, 1)]);
        assert!(check(&in_order, None).is_empty());
        let reversed = history(vec![invoked(0, 0), invoked(1, 1), processed(1, 0, 1), processed(0, 0, 0)]);
        let v = check(&reversed, None);
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].partition, v[0].send_seq), (Some(0), Some(0)));
    }

    #[test]
    fn redelivery_is_not_reordering() {
        let h = history(vec![invoked(0, 0), invoked(1, 0), processed(0, 0, 0), processed(0, 1, 1), processed(0, 0, 0)]);
        assert!(check(&h, None).is_empty());
    }
}
