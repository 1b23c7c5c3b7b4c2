//! `aborted-read` (Jepsen's aborted read, kafka.clj `g1a-cases`): a record whose send failed *definitely* — the
//! client knew it was not appended (`send_failed` with `definite`, Jepsen's `:fail`) — was read by a consumer, or
//! stands in the final log. An indeterminate failure (a timeout, a lost connection: Jepsen's `:info`) may be in
//! the log and is not judged; neither is a history of version 1, whose failures carry no outcome.

use super::index::{Logs, Record, placed, read};
use super::violation::{Names, Violation};
use crate::history::{ClientEvent, FinalLog, History};
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: &str = "aborted-read";

/// One violation per definitely failed record that was seen: at its first read in history order, or else where
/// the final log holds it. Reads first, then final logs in partition and offset order.
pub fn check(history: &History, logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let failed = definitely_failed(history);
    if failed.is_empty() {
        return Vec::new();
    }
    let names = Names::without_keys(history);
    let mut reported: BTreeSet<Record> = BTreeSet::new();
    let mut out = Vec::new();
    for (entry, r) in history.entries.iter().filter_map(|e| Some((e, read(&e.event)?))) {
        let Some(error) = failed.get(&r.record).filter(|_| reported.insert(r.record)) else { continue };
        let (consumer, verb) = (names.consumer(r.consumer), r.verb.trim_end_matches(','));
        let detail = format!("its send failed with {error}, not appended, yet consumer {consumer} {verb} it");
        let v = Violation::new(NAME, detail).at(r.partition, Some(r.offset)).record(Some(r.record));
        out.push(v.group(r.group).time(entry.time_us));
    }
    let logs = Logs::new(history, logs.unwrap_or_default());
    for (partition, offset, record) in placed(&logs) {
        let Some(error) = failed.get(&record).filter(|_| reported.insert(record)) else { continue };
        let detail = format!("its send failed with {error}, not appended, yet the final log holds it");
        out.push(Violation::new(NAME, detail).at(partition, Some(offset)).record(Some(record)));
    }
    out
}

/// Each record whose send failed definitely, with the error.
fn definitely_failed(history: &History) -> BTreeMap<Record, &str> {
    let mut failed = BTreeMap::new();
    for entry in &history.entries {
        if let ClientEvent::SendFailed { producer, send_seq, ref error, definite: true, .. } = entry.event {
            failed.entry((producer, send_seq)).or_insert(error.as_str());
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn failed(send_seq: u64, definite: bool) -> ClientEvent {
        let error = if definite { "NOT_ENOUGH_REPLICAS" } else { "REQUEST_TIMED_OUT" };
        ClientEvent::SendFailed { producer: 0, send_seq, partition: 0, error: error.into(), definite, offset: None }
    }

    #[test]
    fn a_definite_failure_read_by_a_consumer_is_an_aborted_read() {
        let h = history(vec![invoked(0, 1, None, 0), failed(1, true), processed(0, 0, 0, 4, (0, 1))]);
        let v = check(&h, None);
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].offset, v[0].witness_record(), v[0].group), (Some(4), Some((0, 1)), Some(0)));
        assert!(v[0].detail.contains("NOT_ENOUGH_REPLICAS"), "{}", v[0].detail);
    }

    #[test]
    fn a_definite_failure_in_the_final_log_is_one_too_and_is_reported_once() {
        let h = history(vec![failed(1, true), processed(0, 0, 0, 0, (0, 1))]);
        assert_eq!(check(&h, Some(&[log(0, &[(0, 1)])])).len(), 1, "the read and the log: one record, once");
        let v = check(&history(vec![failed(1, true)]), Some(&[log(0, &[(0, 0), (0, 1)])]));
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].partition, v[0].offset, v[0].time_us), (Some(0), Some(1), None));
    }

    #[test]
    fn an_indeterminate_failure_seen_or_a_definite_one_never_seen_is_fine() {
        let h = history(vec![failed(1, false), processed(0, 0, 0, 0, (0, 1)), failed(2, true)]);
        assert!(check(&h, Some(&[log(0, &[(0, 1)])])).is_empty());
    }
}
