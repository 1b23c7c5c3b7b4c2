//! Lookups the invariants share, each built in O(n log n): the key of each send, the final logs by partition,
//! the topic of a partition.

use crate::history::{ClientEvent, FinalLog, History};
use std::collections::BTreeMap;

/// A hash map for lookups only, with a fixed hash function: no OS randomness in a check, even where the order of
/// a map cannot reach the result.
pub(crate) type FixedHashMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FixedHasher>>;

/// A set for lookups only, with the same fixed hash function.
pub(crate) type FixedHashSet<K> = std::collections::HashSet<K, std::hash::BuildHasherDefault<FixedHasher>>;

/// A multiply-rotate hash of the integers a key is made of (the Fx hash of rustc): the checks' keys are small
/// tuples of ids, and SipHash's resistance to chosen keys buys nothing where nothing iterates the map.
#[derive(Default)]
pub(crate) struct FixedHasher(u64);

impl FixedHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl std::hash::Hasher for FixedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
}

/// A record's identity: `(producer, send_seq)`.
pub(crate) type Record = (u32, u64);

/// The key of each keyed send, by record, from the `SendInvoked` events: for producers the history names and send
/// numbers below `DENSE_KEYED_SENDS`, a table indexed by send number (a lookup per processed record is then one
/// read, not a binary search over every send); any other record (a recorded history may carry one) in a sorted
/// list. A record sent twice keeps its smallest key.
pub(crate) struct SendKeys {
    dense: Vec<Vec<Option<u32>>>,
    sparse: Vec<(Record, u32)>,
}

/// The send numbers of a producer kept in a table: 8 bytes each, at most 128 MiB per producer.
const DENSE_KEYED_SENDS: u64 = 1 << 24;

impl SendKeys {
    pub(crate) const EMPTY: SendKeys = SendKeys { dense: Vec::new(), sparse: Vec::new() };

    pub(crate) fn new(history: &History) -> Self {
        let mut keys = SendKeys { dense: vec![Vec::new(); history.producers.len()], sparse: Vec::new() };
        for entry in &history.entries {
            let ClientEvent::SendInvoked { producer, send_seq, key: Some(k), .. } = entry.event else { continue };
            match keys.dense.get_mut(producer as usize).filter(|_| send_seq < DENSE_KEYED_SENDS) {
                Some(table) => {
                    let at = send_seq as usize;
                    if table.len() <= at {
                        table.resize(at + 1, None);
                    }
                    table[at] = Some(table[at].map_or(k, |held| held.min(k)));
                }
                None => keys.sparse.push(((producer, send_seq), k)),
            }
        }
        keys.sparse.sort_unstable();
        keys.sparse.dedup_by_key(|(r, _)| *r);
        keys
    }

    pub(crate) fn get(&self, (producer, send_seq): Record) -> Option<u32> {
        match self.dense.get(producer as usize).filter(|_| send_seq < DENSE_KEYED_SENDS) {
            Some(table) => table.get(send_seq as usize).copied().flatten(),
            None => {
                let i = self.sparse.binary_search_by_key(&(producer, send_seq), |&(r, _)| r).ok()?;
                Some(self.sparse[i].1)
            }
        }
    }
}

/// Which records each group has processed, to judge only a record's first processing: a bitset per (group,
/// producer) over send numbers, so that a run's millions of processings cost a bit each rather than a tree
/// insertion. Send numbers beyond `DENSE_SENDS` (a recorded history may carry any) go to a tree instead, so a
/// strange file costs time, never memory it cannot have.
#[derive(Default)]
pub(crate) struct FirstProcessing {
    bits: BTreeMap<(u32, u32), Vec<u64>>,
    sparse: std::collections::BTreeSet<(u32, Record)>,
}

/// The send numbers kept in bitsets: 2^26 bits, 8 MiB per (group, producer) at most.
const DENSE_SENDS: u64 = 1 << 26;

impl FirstProcessing {
    /// Notes that `group` processed `record`; true the first time.
    pub(crate) fn insert(&mut self, group: u32, (producer, send_seq): Record) -> bool {
        if send_seq >= DENSE_SENDS {
            return self.sparse.insert((group, (producer, send_seq)));
        }
        let words = self.bits.entry((group, producer)).or_default();
        let (word, bit) = ((send_seq / 64) as usize, send_seq % 64);
        if words.len() <= word {
            words.resize(word + 1, 0);
        }
        let first = words[word] & (1 << bit) == 0;
        words[word] |= 1 << bit;
        first
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

/// What each data partition is known to hold: its final log where the history has one; else what clients saw
/// there — the offsets producers were acknowledged with and the records consumers read at offsets (Jepsen's
/// version order, `kafka.clj` `version-orders`: one offset may have been seen holding several records, and an
/// offset nobody saw is unknown, not empty: transaction markers and compaction leave gaps).
pub(crate) struct Known<'a> {
    pub logs: Logs<'a>,
    /// Partitions without a final log: `(partition, offset, record)` each observation once, sorted.
    observed: Vec<(u32, u64, Record)>,
}

impl<'a> Known<'a> {
    pub(crate) fn new(history: &History, logs: &'a [FinalLog]) -> Self {
        let logs = Logs::new(history, logs);
        let data = |p: u32| logs.span(p).is_none() && !history.partitions.get(p as usize).is_some_and(|n| internal(n));
        let mut observed: Vec<(u32, u64, Record)> =
            history.entries.iter().filter_map(|e| observation(&e.event)).filter(|&(p, _, _)| data(p)).collect();
        observed.sort_unstable();
        observed.dedup();
        Known { logs, observed }
    }

    /// Whether the partition's contents come from its final log (else from observations, or nothing).
    pub(crate) fn is_final(&self, partition: u32) -> bool {
        self.logs.span(partition).is_some()
    }

    /// Every known (partition, offset, record), in partition then offset order: a final log's records, or the
    /// records observed at each offset of a partition without one.
    pub(crate) fn placed(&self) -> Vec<(u32, u64, Record)> {
        let mut all: Vec<(u32, u64, Record)> = placed(&self.logs).chain(self.observed.iter().copied()).collect();
        all.sort_by_key(|&(p, o, _)| (p, o));
        all
    }

    /// The record known at `(partition, offset)`: the final log's, or the first one observed there.
    pub(crate) fn record_at(&self, partition: u32, offset: u64) -> Option<Record> {
        if self.is_final(partition) {
            return self.logs.record_at(partition, offset);
        }
        let i = self.observed.partition_point(|&(p, o, _)| (p, o) < (partition, offset));
        self.observed.get(i).filter(|&&(p, o, _)| (p, o) == (partition, offset)).map(|&(_, _, r)| r)
    }

    /// The first offset in `[from, to)` of `partition` known to hold a record (retention-deleted offsets of a
    /// final log hold none).
    pub(crate) fn first_held(&self, partition: u32, (from, to): (u64, u64)) -> Option<u64> {
        match self.logs.span(partition) {
            Some((start, end)) => Some(from.max(start)).filter(|&o| o < to.min(end)),
            None => {
                let i = self.observed.partition_point(|&(p, o, _)| (p, o) < (partition, from));
                self.observed.get(i).filter(|&&(p, o, _)| p == partition && o < to).map(|&(_, o, _)| o)
            }
        }
    }
}

/// Offsets some consumer's position moved past, per partition, as merged `[from, to)` spans: the offsets each poll
/// moved past, and those a position reset jumped over (from the consumer's last known position in the partition,
/// or the log's beginning before it had one).
pub(crate) struct Spans(BTreeMap<u32, Vec<(u64, u64)>>);

impl Spans {
    pub(crate) fn passed(history: &History) -> Self {
        let mut spans: BTreeMap<u32, Vec<(u64, u64)>> = BTreeMap::new();
        let mut position: BTreeMap<(u32, u32), u64> = BTreeMap::new();
        for entry in &history.entries {
            let (consumer, partition, from, to) = match entry.event {
                ClientEvent::Polled { consumer, partition, first_offset, count, .. } => {
                    (consumer, partition, first_offset, first_offset.saturating_add(u64::from(count)))
                }
                ClientEvent::OffsetOutOfRange { consumer, partition, offset, .. } => {
                    (consumer, partition, offset, offset)
                }
                ClientEvent::PositionReset { consumer, partition, offset, .. } => {
                    (consumer, partition, position.get(&(consumer, partition)).copied().unwrap_or(0), offset)
                }
                _ => continue,
            };
            if from < to {
                spans.entry(partition).or_default().push((from, to));
            }
            position.insert((consumer, partition), to);
        }
        for list in spans.values_mut() {
            list.sort_unstable();
            let mut merged: Vec<(u64, u64)> = Vec::with_capacity(list.len());
            for &(from, to) in list.iter() {
                match merged.last_mut() {
                    Some(last) if from <= last.1 => last.1 = last.1.max(to),
                    _ => merged.push((from, to)),
                }
            }
            *list = merged;
        }
        Spans(spans)
    }

    pub(crate) fn contains(&self, partition: u32, offset: u64) -> bool {
        let Some(list) = self.0.get(&partition) else { return false };
        let i = list.partition_point(|&(from, _)| from <= offset);
        i > 0 && offset < list[i - 1].1
    }
}

/// Where a client saw a record: a send known written at an offset, or a read.
fn observation(event: &ClientEvent) -> Option<(u32, u64, Record)> {
    match written(event) {
        Some(w) => Some((w.partition, w.offset, w.record)),
        None => read(event).map(|r| (r.partition, r.offset, r.record)),
    }
}

/// A send its producer knows was written at an offset: acknowledged with it, or an indeterminate failure whose
/// offset the recorder learned (Jepsen: an `:info` send of an op proven committed by a read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Written {
    pub record: Record,
    pub partition: u32,
    pub offset: u64,
    /// Acknowledged (else learned).
    pub acked: bool,
}

impl Written {
    /// `acknowledged` or `known written`, for details.
    pub(crate) fn how(&self) -> &'static str {
        if self.acked { "acknowledged" } else { "known written" }
    }
}

pub(crate) fn written(event: &ClientEvent) -> Option<Written> {
    match *event {
        ClientEvent::SendAcked { producer, send_seq, partition, offset: Some(offset) } => {
            Some(Written { record: (producer, send_seq), partition, offset, acked: true })
        }
        ClientEvent::SendFailed { producer, send_seq, partition, definite: false, offset: Some(offset), .. } => {
            Some(Written { record: (producer, send_seq), partition, offset, acked: false })
        }
        _ => None,
    }
}

/// A record a consumer read at an offset: one it processed, met and could not read (`Poisoned`), or passed over as
/// another channel's (`Filtered`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Read {
    pub consumer: u32,
    pub group: u32,
    pub partition: u32,
    pub offset: u64,
    pub record: Record,
    /// `processed`, `met, unreadable,` or `passed over`: for details.
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
        ClientEvent::Filtered { consumer, group, partition, offset, producer, send_seq } => {
            Some(Read { consumer, group, partition, offset, record: (producer, send_seq), verb: "passed over" })
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

    // Producers the history does not name, send numbers too large for a table, and a record sent twice (its
    // smallest key kept) are found all the same.
    #[test]
    fn keys_outside_the_tables_are_found_too() {
        let mut h = History::new(vec!["t-0".into()], vec!["p".into()]);
        let sent =
            |producer, send_seq, key| ClientEvent::SendInvoked { producer, send_seq, key: Some(key), partition: 0 };
        for event in [sent(0, 3, 8), sent(0, 3, 5), sent(4, 1, 7), sent(0, DENSE_KEYED_SENDS, 6), sent(4, 1, 2)] {
            h.push(0, event);
        }
        let keys = SendKeys::new(&h);
        assert_eq!(keys.get((0, 3)), Some(5));
        assert_eq!(keys.get((4, 1)), Some(2));
        assert_eq!(keys.get((0, DENSE_KEYED_SENDS)), Some(6));
        assert_eq!(keys.get((0, 2)), None);
        assert_eq!(keys.get((0, 99)), None);
    }

    // A record counts once per group: its first processing is new, a redelivery is not, another group's is; a
    // send number too large for a bitset (a recorded history may carry one) is judged the same way.
    #[test]
    fn a_record_is_first_processed_once_per_group() {
        let mut seen = FirstProcessing::default();
        for record in [(0, 5), (1, 5), (0, 64), (0, DENSE_SENDS + 3)] {
            assert!(seen.insert(0, record), "{record:?} first time");
            assert!(!seen.insert(0, record), "{record:?} again");
            assert!(seen.insert(1, record), "{record:?} by another group");
        }
        assert!(seen.insert(0, (0, 6)) && seen.insert(0, (0, 63)));
    }
}
