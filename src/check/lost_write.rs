//! `lost-write`: a send acknowledged to its producer is not in its partition's final log (at the offset it was
//! acknowledged with, or anywhere in the partition when acks=0 gave no offset); or a record a consumer processed at
//! (partition, offset), or met there and could not read, is no longer there in the final log; or consumers polled
//! offsets past the final log's end.
//!
//! A partition without a final log is judged black-box, as Jepsen's Kafka checker does (kafka.clj
//! `lost-write-cases`): an acknowledged send (or an indeterminate one whose offset is known: `index::written`) that
//! no consumer ever read is lost when consumers read the partition
//! past it — when a record read there first stands at a higher offset (the highest such offset is the bound) — or
//! when a consumer read another record at its offset. Offsets a poll moved past without a read there (records a
//! consumer that crashed mid-batch never processed) and offsets a consumer's position jumped over (a reset, a
//! seek) prove nothing: what they hold is unknown.

use super::index::{Known, Logs, Read, Record, Spans, read, written};
use super::violation::{Names, Violation, seconds};
use crate::history::{ClientEvent, FinalLog, History};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: &str = "lost-write";

/// One acknowledged write that the final log does not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LostWrite {
    pub producer: u32,
    pub send_seq: u64,
    pub partition: u32,
    pub offset: Option<u64>,
    pub acked_at_us: u64,
    /// What the final log holds at that offset, if anything.
    pub found_instead: Option<(u32, u64)>,
}

/// Acknowledged writes the final logs do not hold. Offsets before a log's start offset were deleted by retention
/// and prove nothing; so does an acks=0 record's absence from a log retention has trimmed.
pub fn lost_writes(history: &History, logs: &[FinalLog]) -> Vec<LostWrite> {
    let by_partition = Logs::new(history, logs);
    // Per partition, the records sorted for lookups of offset-less (acks=0) acknowledgements.
    let sorted: BTreeMap<u32, (u64, Vec<Record>)> = by_partition
        .iter()
        .map(|(p, start, records)| {
            let mut records = records.to_vec();
            records.sort_unstable();
            (p, (start, records))
        })
        .collect();
    let mut lost = Vec::new();
    for entry in &history.entries {
        let ClientEvent::SendAcked { producer, send_seq, partition, offset } = entry.event else { continue };
        let Some((start, sorted)) = sorted.get(&partition) else { continue };
        let record = (producer, send_seq);
        let (present, found_instead) = match offset {
            Some(o) if o < *start => (true, None),
            Some(o) => {
                let at = by_partition.record_at(partition, o);
                (at == Some(record), at)
            }
            None => (*start > 0 || sorted.binary_search(&record).is_ok(), None),
        };
        if !present {
            lost.push(LostWrite { producer, send_seq, partition, offset, acked_at_us: entry.time_us, found_instead });
        }
    }
    lost
}

/// Acknowledged writes missing from the final logs, then records consumers processed that the final log no longer
/// holds where they were read, then polls past a final log's end; each (partition, offset, record) once.
/// Nothing without final logs.
pub fn check(history: &History, logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let names = Names::without_keys(history);
    let mut out = unread_acknowledged(history, &Known::new(history, logs.unwrap_or_default()), &names);
    let Some(logs) = logs else { return out };
    let by_partition = Logs::new(history, logs);
    let mut reported = BTreeSet::new();
    for lost in lost_writes(history, logs) {
        if let Some(o) = lost.offset {
            reported.insert((lost.partition, o, lost.producer, lost.send_seq));
        }
        out.push(acked_violation(&lost, &by_partition, &names));
    }
    out.extend(read_violations(history, &by_partition, &names, &mut reported));
    out.extend(polled_violations(history, &by_partition, &names, &reported));
    out
}

/// The black-box judgement of partitions without a final log (module doc), in history order of the sends.
fn unread_acknowledged(history: &History, known: &Known<'_>, names: &Names<'_>) -> Vec<Violation> {
    // Only writes to partitions without a final log are judged here: with none, nothing needs indexing.
    if history.entries.iter().filter_map(|e| written(&e.event)).all(|w| known.is_final(w.partition)) {
        return Vec::new();
    }
    let reads: Vec<Read> = history.entries.iter().filter_map(|e| read(&e.event)).collect();
    let read_records: BTreeSet<Record> = reads.iter().map(|r| r.record).collect();
    // (partition, record) -> the first offset it was seen at; then per partition the bound: the highest first
    // offset of a record read there, with the read.
    let mut first: BTreeMap<(u32, Record), u64> = BTreeMap::new();
    for (p, o, r) in known.placed().into_iter().filter(|&(p, _, _)| !known.is_final(p)) {
        first.entry((p, r)).or_insert(o);
    }
    let mut bound: BTreeMap<u32, (u64, Read)> = BTreeMap::new();
    for r in reads.iter().filter(|r| !known.is_final(r.partition)) {
        let o = first.get(&(r.partition, r.record)).copied().unwrap_or(r.offset);
        if bound.get(&r.partition).is_none_or(|&(b, _)| o > b) {
            bound.insert(r.partition, (o, *r));
        }
    }
    let passed = Spans::passed(history);
    // The reads by place, in history order within one place, to find what was read at an offset in O(log n).
    let mut by_place = reads.clone();
    by_place.sort_by_key(|r| (r.partition, r.offset));
    let mut out = Vec::new();
    for entry in &history.entries {
        let Some(w) = written(&entry.event) else { continue };
        let (record, partition, o, how) = (w.record, w.partition, w.offset, w.how());
        if known.is_final(partition) || read_records.contains(&record) {
            continue;
        }
        let from = by_place.partition_point(|r| (r.partition, r.offset) < (partition, o));
        let here = by_place[from..].iter().take_while(|r| (r.partition, r.offset) == (partition, o));
        let instead = here.copied().find(|r| r.record != record);
        let detail = match (instead, bound.get(&partition)) {
            (Some(other), _) => format!(
                "{how} there, but consumer {} read {} there, and no consumer ever read it",
                names.consumer(other.consumer),
                names.record(other.record)
            ),
            _ if passed.contains(partition, o) => continue,
            (None, Some(&(b, by))) if o <= b => format!(
                "{how} there, but no consumer ever read it, though consumer {} read {} at offset {b}",
                names.consumer(by.consumer),
                names.record(by.record)
            ),
            (None, _) => continue,
        };
        out.push(Violation::new(NAME, detail).at(partition, Some(o)).record(Some(record)).time(entry.time_us));
    }
    out
}

fn acked_violation(lost: &LostWrite, logs: &Logs<'_>, names: &Names<'_>) -> Violation {
    let detail = match (lost.offset, lost.found_instead) {
        (None, _) => "acknowledged without an offset (acks=0), but in no offset of the final log".to_string(),
        (Some(_), Some(other)) => {
            format!("acknowledged there, but the final log holds {} instead", names.record(other))
        }
        (Some(_), None) => format!("acknowledged there, but {}", log_end(logs, lost.partition)),
    };
    Violation::new(NAME, detail)
        .at(lost.partition, lost.offset)
        .record(Some((lost.producer, lost.send_seq)))
        .time(lost.acked_at_us)
}

fn log_end(logs: &Logs<'_>, partition: u32) -> String {
    format!("the final log ends at offset {}", logs.span(partition).map_or(0, |(_, end)| end))
}

/// Records a consumer read (processed, or met as unreadable) at an offset where the final log holds something else
/// (or nothing).
fn read_violations(
    history: &History,
    logs: &Logs<'_>,
    names: &Names<'_>,
    reported: &mut BTreeSet<(u32, u64, u32, u64)>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for (entry, r) in history.entries.iter().filter_map(|e| Some((e, read(&e.event)?))) {
        let Some((start, _)) = logs.span(r.partition) else { continue };
        let now = logs.record_at(r.partition, r.offset);
        if r.offset < start
            || now == Some(r.record)
            || !reported.insert((r.partition, r.offset, r.record.0, r.record.1))
        {
            continue;
        }
        let instead = match now {
            Some(other) => format!("the final log holds {} instead", names.record(other)),
            None => log_end(logs, r.partition),
        };
        let detail = format!("{} there by consumer {}, but {instead}", r.verb, names.consumer(r.consumer));
        let v = Violation::new(NAME, detail).at(r.partition, Some(r.offset)).record(Some(r.record));
        out.push(v.group(r.group).time(entry.time_us));
    }
    out
}

/// Per partition, the furthest poll: if it reached past the final log's end and no processed record there was
/// reported already, the records it returned are gone.
fn polled_violations(
    history: &History,
    logs: &Logs<'_>,
    names: &Names<'_>,
    reported: &BTreeSet<(u32, u64, u32, u64)>,
) -> Vec<Violation> {
    // partition -> (end of the furthest poll, its time, consumer, group); the earliest poll wins ties.
    let mut furthest: BTreeMap<u32, (u64, u64, u32, u32)> = BTreeMap::new();
    for entry in &history.entries {
        let ClientEvent::Polled { consumer, group, partition, first_offset, count, .. } = entry.event else { continue };
        let end = first_offset.saturating_add(u64::from(count));
        let best = furthest.entry(partition).or_insert((end, entry.time_us, consumer, group));
        if end > best.0 {
            *best = (end, entry.time_us, consumer, group);
        }
    }
    let mut out = Vec::new();
    for (partition, (end, time_us, consumer, group)) in furthest {
        let Some((_, len)) = logs.span(partition) else { continue };
        if end <= len || reported.range((partition, len, 0, 0)..(partition, end, 0, 0)).next().is_some() {
            continue;
        }
        let detail = format!(
            "consumer {} polled offsets up to {} at {}, but {}",
            names.consumer(consumer),
            end - 1,
            seconds(time_us),
            log_end(logs, partition)
        );
        out.push(Violation::new(NAME, detail).at(partition, Some(len)).group(group).time(time_us));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(events: Vec<ClientEvent>) -> History {
        let mut h = History::new(vec!["t-0".into()], vec!["p".into()]);
        for (i, e) in events.into_iter().enumerate() {
            h.push(i as u64, e);
        }
        h
    }

    #[test]
    fn acknowledged_record_at_its_offset_is_not_lost() {
        let h = history(vec![ClientEvent::SendAcked { producer: 0, send_seq: 7, partition: 0, offset: Some(1) }]);
        let logs = [FinalLog { partition: 0, start_offset: 0, records: vec![(0, 6), (0, 7)] }];
        assert!(lost_writes(&h, &logs).is_empty());
    }

    #[test]
    fn acknowledged_record_replaced_at_its_offset_is_lost() {
        let h = history(vec![ClientEvent::SendAcked { producer: 0, send_seq: 7, partition: 0, offset: Some(1) }]);
        let logs = [FinalLog { partition: 0, start_offset: 0, records: vec![(0, 6), (1, 0)] }];
        let lost = lost_writes(&h, &logs);
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].found_instead, Some((1, 0)));
    }

    #[test]
    fn acks0_record_is_lost_only_if_absent_everywhere() {
        let h = history(vec![
            ClientEvent::SendAcked { producer: 0, send_seq: 1, partition: 0, offset: None },
            ClientEvent::SendAcked { producer: 0, send_seq: 2, partition: 0, offset: None },
        ]);
        let logs = [FinalLog { partition: 0, start_offset: 0, records: vec![(0, 1)] }];
        let lost = lost_writes(&h, &logs);
        assert_eq!(lost.iter().map(|l| l.send_seq).collect::<Vec<_>>(), vec![2]);
    }

    mod check {
        use super::super::*;
        use crate::check::testkit::*;

        // kafka.clj `lost-write-test` "consistent": a@0, b@1 and d@3 acknowledged, c sent without an answer, and
        // the only read is c at 2: a and b are lost (read past, never read), d (above every read) is not.
        #[test]
        fn black_box_an_acknowledged_write_consumers_read_past_is_lost() {
            let h = history(vec![
                acked(0, 0, 0, Some(0)),
                acked(0, 1, 0, Some(1)),
                acked(0, 3, 0, Some(3)),
                polled(0, 0, 0, 2, 1),
                processed(0, 0, 0, 2, (0, 2)),
            ]);
            let v = check(&h, None);
            let lost: Vec<_> = v.iter().map(|v| (v.offset, v.witness_record())).collect();
            assert_eq!(lost, [(Some(0), Some((0, 0))), (Some(1), Some((0, 1)))]);
            assert!(v[0].detail.contains("read p0 send #2 at offset 2"), "{}", v[0].detail);
            assert_eq!(v[0].time_us, Some(0));
        }

        // kafka.clj `lost-write-test` "inconsistent": a and b both acknowledged at 0, c at 2; a poll reads b at 0 and
        // c at 2: a is lost.
        #[test]
        fn black_box_another_record_read_at_the_acknowledged_offset_is_a_loss() {
            let h = history(vec![
                acked(0, 0, 0, Some(0)),
                acked(0, 1, 0, Some(0)),
                acked(0, 2, 0, Some(2)),
                polled(1, 0, 0, 0, 3),
                processed(1, 0, 0, 0, (0, 1)),
                processed(1, 0, 0, 2, (0, 2)),
            ]);
            let v = check(&h, None);
            assert_eq!(v.iter().map(|v| (v.offset, v.witness_record())).collect::<Vec<_>>(), [(Some(0), Some((0, 0)))]);
            assert!(v[0].detail.contains("consumer c1 read p0 send #1 there"), "{}", v[0].detail);
        }

        #[test]
        fn black_box_offsets_passed_unread_or_jumped_over_prove_nothing() {
            // c0 polled 0..=1 and crashed after processing offset 0; c1 then read offset 2.
            let crashed = vec![
                acked(0, 0, 0, Some(0)),
                acked(0, 1, 0, Some(1)),
                acked(0, 2, 0, Some(2)),
                polled(0, 0, 0, 0, 2),
                processed(0, 0, 0, 0, (0, 0)),
                polled(1, 0, 0, 2, 1),
                processed(1, 0, 0, 2, (0, 2)),
            ];
            assert!(check(&history(crashed), None).is_empty());
            // A late group starting at latest (offset 2) never reads 0 and 1; nor does one reset past them after
            // OFFSET_OUT_OF_RANGE at 0.
            for jump in [vec![reset(0, 0, 0, 2)], vec![polled(0, 0, 0, 0, 0), oor(0, 0, 0, 0), reset(0, 0, 0, 2)]] {
                let mut h = vec![acked(0, 0, 0, Some(0)), acked(0, 1, 0, Some(1)), acked(0, 2, 0, Some(2))];
                h.extend(jump);
                h.extend([polled(0, 0, 0, 2, 1), processed(0, 0, 0, 2, (0, 2))]);
                assert!(check(&history(h), None).is_empty());
            }
        }

        #[test]
        fn an_acknowledgement_nobody_read_past_is_not_lost() {
            let h = history(vec![acked(0, 0, 0, Some(0)), acked(0, 1, 0, Some(1)), processed(0, 0, 0, 0, (0, 0))]);
            assert!(check(&h, None).is_empty());
        }

        #[test]
        fn an_acknowledged_write_and_its_processing_at_a_truncated_offset_are_one_violation() {
            let h = history(vec![acked(0, 1, 0, Some(1)), polled(0, 0, 0, 0, 2), processed(0, 0, 0, 1, (0, 1))]);
            let v = check(&h, Some(&[log(0, &[(0, 0)])]));
            assert_eq!(v.len(), 1, "{v:?}");
            assert_eq!((v[0].partition, v[0].offset, v[0].witness_record()), (Some(0), Some(1), Some((0, 1))));
            assert_eq!(v[0].time_us, Some(0));
        }

        #[test]
        fn a_processed_record_replaced_in_the_log_is_lost() {
            let h = history(vec![processed(1, 0, 0, 0, (0, 0))]);
            let v = check(&h, Some(&[log(0, &[(1, 5)])]));
            assert_eq!(v.len(), 1);
            assert_eq!((v[0].group, v[0].witness_record()), (Some(0), Some((0, 0))));
            assert!(v[0].detail.contains("p1 send #5"), "{}", v[0].detail);
        }

        #[test]
        fn polling_past_the_final_logs_end_is_a_loss_at_the_first_missing_offset() {
            let h = history(vec![polled(0, 1, 0, 0, 3), polled(1, 1, 0, 3, 2)]);
            let v = check(&h, Some(&[log(0, &[(0, 0), (0, 1), (0, 2), (0, 3)])]));
            assert_eq!(v.len(), 1);
            assert_eq!((v[0].partition, v[0].offset, v[0].group, v[0].time_us), (Some(0), Some(4), Some(1), Some(1)));
        }

        #[test]
        fn records_deleted_by_retention_are_not_lost() {
            let h = history(vec![
                acked(0, 0, 0, Some(0)),
                acked(0, 9, 0, None),
                polled(0, 0, 0, 0, 2),
                processed(0, 0, 0, 0, (0, 0)),
                processed(0, 0, 0, 1, (0, 1)),
            ]);
            assert!(check(&h, Some(&[log_from(0, 1, &[(0, 1)])])).is_empty());
            let v = check(&h, Some(&[log_from(0, 1, &[(1, 1)])]));
            assert_eq!(v.iter().map(|v| (v.offset, v.witness_record())).collect::<Vec<_>>(), [(Some(1), Some((0, 1)))]);
        }

        #[test]
        fn records_still_where_they_were_read_are_not_lost() {
            let h = history(vec![acked(0, 0, 0, Some(0)), polled(0, 0, 0, 0, 1), processed(0, 0, 0, 0, (0, 0))]);
            assert!(check(&h, Some(&[log(0, &[(0, 0)])])).is_empty());
        }
    }
}
