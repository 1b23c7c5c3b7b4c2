//! Lookups the invariants share, each built in O(n log n): the key of each send, the final logs by partition,
//! the topic of a partition.

use crate::history::{ClientEvent, FinalLog, History};
use std::collections::BTreeMap;

/// A record's identity: `(producer, send_seq)`.
pub(crate) type Record = (u32, u64);

/// The key of each keyed send, by record, from the `SendInvoked` events (sorted, for binary search).
pub(crate) struct SendKeys(Vec<(Record, u32)>);

impl SendKeys {
    pub(crate) const EMPTY: SendKeys = SendKeys(Vec::new());

    pub(crate) fn new(history: &History) -> Self {
        let mut keys: Vec<(Record, u32)> = history
            .entries
            .iter()
            .filter_map(|e| match e.event {
                ClientEvent::SendInvoked { producer, send_seq, key: Some(k), .. } => Some(((producer, send_seq), k)),
                _ => None,
            })
            .collect();
        keys.sort_unstable();
        keys.dedup_by_key(|(r, _)| *r);
        SendKeys(keys)
    }

    pub(crate) fn get(&self, record: Record) -> Option<u32> {
        self.0.binary_search_by_key(&record, |&(r, _)| r).ok().map(|i| self.0[i].1)
    }
}

/// The final logs of data partitions by partition number (a partition listed twice keeps its last log): each its
/// start offset (retention deleted what was before it) and its records from there. Partitions of internal topics
/// (`__consumer_offsets`) are left out: their records are not producers' sends.
pub(crate) struct Logs<'a>(BTreeMap<u32, (u64, &'a [Record])>);

impl<'a> Logs<'a> {
    pub(crate) fn new(history: &History, logs: &'a [FinalLog]) -> Self {
        let data = logs.iter().filter(|l| !history.partitions.get(l.partition as usize).is_some_and(|n| internal(n)));
        Logs(data.map(|l| (l.partition, (l.start_offset, l.records.as_slice()))).collect())
    }

    /// A partition's offsets in the final log, `[start, end)`.
    pub(crate) fn span(&self, partition: u32) -> Option<(u64, u64)> {
        self.0.get(&partition).map(|&(start, r)| (start, start + r.len() as u64))
    }

    /// What the final log holds at `(partition, offset)`: `None` before its start, past its end or without a log.
    pub(crate) fn record_at(&self, partition: u32, offset: u64) -> Option<Record> {
        let &(start, records) = self.0.get(&partition)?;
        records.get(usize::try_from(offset.checked_sub(start)?).ok()?).copied()
    }

    /// Partitions in increasing order with their start offset and records.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, u64, &'a [Record])> + '_ {
        self.0.iter().map(|(&p, &(start, r))| (p, start, r))
    }
}

/// Every record of the final logs with its place, in partition then offset order.
pub(crate) fn placed(logs: &Logs<'_>) -> impl Iterator<Item = (u32, u64, Record)> {
    logs.iter().flat_map(|(p, start, records)| records.iter().enumerate().map(move |(i, &r)| (p, start + i as u64, r)))
}

/// A record a consumer read at an offset: one it processed, or one it met and could not read (`Poisoned`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Read {
    pub consumer: u32,
    pub group: u32,
    pub partition: u32,
    pub offset: u64,
    pub record: Record,
    /// `processed`, or `met, unreadable,`: for details.
    pub verb: &'static str,
}

pub(crate) fn read(event: &ClientEvent) -> Option<Read> {
    match *event {
        ClientEvent::Processed { consumer, group, partition, offset, producer, send_seq, .. } => {
            Some(Read { consumer, group, partition, offset, record: (producer, send_seq), verb: "processed" })
        }
        ClientEvent::Poisoned { consumer, group, partition, offset, producer, send_seq, .. } => {
            Some(Read { consumer, group, partition, offset, record: (producer, send_seq), verb: "met, unreadable," })
        }
        _ => None,
    }
}

/// Whether a partition belongs to one of Kafka's internal topics (their names start with `__`: Topic.isInternal).
pub(crate) fn internal(partition_name: &str) -> bool {
    partition_name.starts_with("__")
}

/// The topic of a partition named `topic-N`; a name without a number is its own topic.
pub(crate) fn topic_of(partition_name: &str) -> &str {
    match partition_name.rsplit_once('-') {
        Some((topic, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => topic,
        _ => partition_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_is_the_name_before_the_partition_number() {
        assert_eq!(topic_of("orders-0"), "orders");
        assert_eq!(topic_of("my-orders-12"), "my-orders");
        assert_eq!(topic_of("orders"), "orders");
        assert_eq!(topic_of("orders-x"), "orders-x");
    }

    #[test]
    fn offsets_count_from_the_log_start() {
        let logs = [FinalLog { partition: 3, start_offset: 10, records: vec![(0, 5), (0, 6)] }];
        let logs = Logs::new(&History::default(), &logs);
        assert_eq!((logs.record_at(3, 9), logs.record_at(3, 10), logs.record_at(3, 12)), (None, Some((0, 5)), None));
        assert_eq!(logs.span(3), Some((10, 12)));
        assert_eq!(placed(&logs).collect::<Vec<_>>(), [(3, 10, (0, 5)), (3, 11, (0, 6))]);
    }

    #[test]
    fn internal_topics_are_not_data() {
        let h = History::new(vec!["t-0".into(), "__consumer_offsets-0".into()], vec![]);
        let logs = [
            FinalLog { partition: 0, start_offset: 0, records: vec![] },
            FinalLog { partition: 1, start_offset: 0, records: vec![(0, 0)] },
        ];
        assert_eq!(Logs::new(&h, &logs).iter().map(|(p, _, _)| p).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn keys_are_found_by_record() {
        let mut h = History::new(vec!["t-0".into()], vec!["p".into()]);
        h.push(0, ClientEvent::SendInvoked { producer: 0, send_seq: 1, key: Some(9), partition: 0 });
        h.push(0, ClientEvent::SendInvoked { producer: 0, send_seq: 2, key: None, partition: 0 });
        let keys = SendKeys::new(&h);
        assert_eq!(keys.get((0, 1)), Some(9));
        assert_eq!(keys.get((0, 2)), None);
        assert_eq!(keys.get((1, 1)), None);
    }
}
