//! Shorthands for the checks' unit tests: a history over topics `t` (2 partitions) and `u` (1), producers
//! `p0`/`p1`, consumers `c0`/`c1`, groups `g0`/`g1`; each event one microsecond after the previous one.

use crate::history::{ClientEvent, FinalLog, History};

pub(crate) fn history(events: Vec<ClientEvent>) -> History {
    let mut h = History::new(vec!["t-0".into(), "t-1".into(), "u-0".into()], vec!["p0".into(), "p1".into()]);
    h.consumers = vec!["c0".into(), "c1".into()];
    h.groups = vec!["g0".into(), "g1".into()];
    for (i, e) in events.into_iter().enumerate() {
        h.push(i as u64, e);
    }
    h
}

pub(crate) fn log(partition: u32, records: &[(u32, u64)]) -> FinalLog {
    log_from(partition, 0, records)
}

/// A final log whose first `start_offset` offsets retention deleted.
pub(crate) fn log_from(partition: u32, start_offset: u64, records: &[(u32, u64)]) -> FinalLog {
    FinalLog { partition, start_offset, records: records.to_vec() }
}

pub(crate) fn invoked(producer: u32, send_seq: u64, key: Option<u32>, partition: u32) -> ClientEvent {
    ClientEvent::SendInvoked { producer, send_seq, key, partition }
}

pub(crate) fn acked(producer: u32, send_seq: u64, partition: u32, offset: Option<u64>) -> ClientEvent {
    ClientEvent::SendAcked { producer, send_seq, partition, offset }
}

pub(crate) fn assigned(consumer: u32, group: u32, partitions: &[u32]) -> ClientEvent {
    ClientEvent::Assigned { consumer, group, generation: 1, partitions: partitions.to_vec() }
}

pub(crate) fn revoked(consumer: u32, group: u32, partitions: &[u32]) -> ClientEvent {
    ClientEvent::Revoked { consumer, group, partitions: partitions.to_vec() }
}

pub(crate) fn left(consumer: u32, group: u32) -> ClientEvent {
    ClientEvent::LeftGroup { consumer, group, reason: "close".into() }
}

pub(crate) fn polled(consumer: u32, group: u32, partition: u32, first_offset: u64, count: u32) -> ClientEvent {
    ClientEvent::Polled { consumer, group, generation: 1, partition, first_offset, count }
}

/// A consumer's position in `partition` was reset to `offset` (auto.offset.reset).
pub(crate) fn reset(consumer: u32, group: u32, partition: u32, offset: u64) -> ClientEvent {
    ClientEvent::PositionReset { consumer, group, partition, offset }
}

/// `consumer` of `group` processed `record` read at `(partition, offset)`.
pub(crate) fn processed(consumer: u32, group: u32, partition: u32, offset: u64, record: (u32, u64)) -> ClientEvent {
    ClientEvent::Processed { consumer, group, generation: 1, partition, offset, producer: record.0, send_seq: record.1 }
}

/// A consumer's fetch position `offset` in `partition` was out of range.
pub(crate) fn oor(consumer: u32, group: u32, partition: u32, offset: u64) -> ClientEvent {
    ClientEvent::OffsetOutOfRange { consumer, group, partition, offset }
}

/// `assigned` at another generation than 1 (a later rebalance).
pub(crate) fn assigned_at(consumer: u32, group: u32, generation: i32, partitions: &[u32]) -> ClientEvent {
    ClientEvent::Assigned { consumer, group, generation, partitions: partitions.to_vec() }
}

/// `polled` at another generation than 1.
pub(crate) fn polled_at(consumer: u32, generation: i32, partition: u32, first_offset: u64, count: u32) -> ClientEvent {
    ClientEvent::Polled { consumer, group: 0, generation, partition, first_offset, count }
}

/// Consumer 0's commit of `offset` for the group's `partition`, at `generation`, failed with `error` if given.
pub(crate) fn committed(group: u32, generation: i32, partition: u32, offset: u64, error: Option<&str>) -> ClientEvent {
    ClientEvent::Committed { consumer: 0, group, generation, partition, offset, error: error.map(String::from) }
}
