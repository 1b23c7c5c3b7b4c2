//! One broken invariant with its witness, and how to print it with the names a history carries.

use super::index::SendKeys;
use crate::history::History;
use serde::Serialize;
use std::fmt;

/// One witness of a broken invariant: the record (producer, send_seq) at (partition, offset) where known, the
/// group it concerns, when it was observed, and a sentence saying what went wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Violation {
    pub invariant: &'static str,
    pub partition: Option<u32>,
    pub offset: Option<u64>,
    pub producer: Option<u32>,
    pub send_seq: Option<u64>,
    pub group: Option<u32>,
    pub detail: String,
    pub time_us: Option<u64>,
}

impl Violation {
    pub fn new(invariant: &'static str, detail: String) -> Self {
        Violation {
            invariant,
            partition: None,
            offset: None,
            producer: None,
            send_seq: None,
            group: None,
            detail,
            time_us: None,
        }
    }

    /// Where in the logs: a partition and, if known, an offset.
    pub fn at(mut self, partition: u32, offset: Option<u64>) -> Self {
        self.partition = Some(partition);
        self.offset = offset;
        self
    }

    /// Which record, as `(producer, send_seq)`; `None` leaves it unknown.
    pub fn record(mut self, record: Option<(u32, u64)>) -> Self {
        self.producer = record.map(|r| r.0);
        self.send_seq = record.map(|r| r.1);
        self
    }

    pub fn group(mut self, group: u32) -> Self {
        self.group = Some(group);
        self
    }

    pub fn time(mut self, time_us: u64) -> Self {
        self.time_us = Some(time_us);
        self
    }

    /// The record this violation names, when both halves are known.
    pub fn witness_record(&self) -> Option<(u32, u64)> {
        Some((self.producer?, self.send_seq?))
    }

    /// Prints with the producer, partition and group names (and record keys) of `names`.
    pub fn named<'a>(&'a self, names: &'a Names<'a>) -> Named<'a> {
        Named { violation: self, names }
    }
}

/// Without a history's names, ids are printed as numbers (`producer#0`, `partition#2`).
impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.named(&Names::EMPTY).fmt(f)
    }
}

/// The name tables of a history, and the key of each keyed send, for printing.
pub struct Names<'a> {
    partitions: &'a [String],
    producers: &'a [String],
    consumers: &'a [String],
    groups: &'a [String],
    keys: SendKeys,
}

impl<'a> Names<'a> {
    const EMPTY: Names<'static> =
        Names { partitions: &[], producers: &[], consumers: &[], groups: &[], keys: SendKeys::EMPTY };

    /// The names and the key of every send (O(n log n) in the history's length).
    pub fn new(history: &'a History) -> Self {
        Names { keys: SendKeys::new(history), ..Names::without_keys(history) }
    }

    /// Only the name tables, for checks that write details and do not need keys.
    pub(crate) fn without_keys(history: &'a History) -> Self {
        Names {
            partitions: &history.partitions,
            producers: &history.producers,
            consumers: &history.consumers,
            groups: &history.groups,
            keys: SendKeys::EMPTY,
        }
    }

    pub fn partition(&self, p: u32) -> String {
        name(self.partitions, p, "partition")
    }

    pub fn producer(&self, p: u32) -> String {
        name(self.producers, p, "producer")
    }

    pub fn consumer(&self, c: u32) -> String {
        name(self.consumers, c, "consumer")
    }

    pub fn group(&self, g: u32) -> String {
        name(self.groups, g, "group")
    }

    /// `payments-api send #12` and, when the key is known, ` (key 3)`.
    pub fn record(&self, (producer, send_seq): (u32, u64)) -> String {
        match self.keys.get((producer, send_seq)) {
            Some(k) => format!("{} send #{send_seq} (key {k})", self.producer(producer)),
            None => format!("{} send #{send_seq}", self.producer(producer)),
        }
    }

    /// `orders-0@17`, or `orders-0` without an offset.
    pub fn location(&self, partition: u32, offset: Option<u64>) -> String {
        match offset {
            Some(o) => format!("{}@{o}", self.partition(partition)),
            None => self.partition(partition),
        }
    }
}

fn name(names: &[String], i: u32, kind: &str) -> String {
    names.get(i as usize).cloned().unwrap_or_else(|| format!("{kind}#{i}"))
}

/// Simulated time as seconds with microseconds, from integer microseconds.
pub(crate) fn seconds(us: u64) -> String {
    format!("{}.{:06} s", us / 1_000_000, us % 1_000_000)
}

/// A violation printed with a history's names:
/// `lost-write: payments-api send #12 (key 3) at orders-0@17: … (t=1.200000 s)`.
pub struct Named<'a> {
    violation: &'a Violation,
    names: &'a Names<'a>,
}

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (v, n) = (self.violation, self.names);
        let location = v.partition.map(|p| n.location(p, v.offset));
        let subject = match (v.witness_record(), location) {
            (Some(r), Some(at)) => format!("{} at {at}", n.record(r)),
            (Some(r), None) => n.record(r),
            (None, Some(at)) => at,
            (None, None) => "history".to_string(),
        };
        write!(f, "{}: {subject}", v.invariant)?;
        if let Some(g) = v.group {
            write!(f, " (group {})", n.group(g))?;
        }
        write!(f, ": {}", v.detail)?;
        if let Some(t) = v.time_us {
            write!(f, " (t={})", seconds(t))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::ClientEvent;

    #[test]
    fn names_the_record_its_key_partition_and_group() {
        let mut h = History::new(vec!["orders-0".into()], vec!["payments-api".into()]);
        h.groups = vec!["fraud".into()];
        h.push(0, ClientEvent::SendInvoked { producer: 0, send_seq: 12, key: Some(3), partition: 0 });
        let v =
            Violation::new("lost-write", "gone".into()).at(0, Some(17)).record(Some((0, 12))).group(0).time(1_200_000);
        let names = Names::new(&h);
        assert_eq!(
            v.named(&names).to_string(),
            "lost-write: payments-api send #12 (key 3) at orders-0@17 (group fraud): gone (t=1.200000 s)"
        );
    }

    #[test]
    fn without_names_prints_numbers() {
        let v = Violation::new("poll-skip", "skipped".into()).at(2, None);
        assert_eq!(v.to_string(), "poll-skip: partition#2: skipped");
        let v = Violation::new("undelivered", "x".into()).record(Some((1, 4)));
        assert_eq!(v.to_string(), "undelivered: producer#1 send #4: x");
    }

    #[test]
    fn serialises_every_field() {
        let v = Violation::new("duplicate-write", "twice".into()).at(0, Some(3)).record(Some((1, 2)));
        let json = serde_json::to_string(&v).unwrap();
        let expected = concat!(
            r#"{"invariant":"duplicate-write","partition":0,"offset":3,"producer":1,"send_seq":2,"#,
            r#""group":null,"detail":"twice","time_us":null}"#
        );
        assert_eq!(json, expected);
    }
}
