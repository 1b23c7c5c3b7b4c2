//! `inconsistent-offsets` (Jepsen's name and meaning): one (partition, offset) seen holding different records.
//! The observers are producers' acknowledgements with an offset, the offsets recorders learned for indeterminate
//! sends (Jepsen's `:info` sends whose offset became known), the records consumers processed (or met and could
//! not read) and, when given, the final log. An offset's reference record is the final log's, else the first
//! observation in history order; each other record observed there is a violation. (Where the final log disagrees
//! with an acknowledgement or a processing, `lost-write` fires too: the record it lost is gone from where it was
//! seen.)

use super::index::{Logs, Record, read, written};
use super::violation::{Names, Violation};
use crate::history::{ClientEvent, FinalLog, History};
use std::collections::BTreeSet;

pub const NAME: &str = "inconsistent-offsets";

/// One observation: where, what, which entry of the history.
struct Seen {
    partition: u32,
    offset: u64,
    record: Record,
    entry: usize,
}

/// One violation per (partition, offset, other record), at its first observation, in partition and offset order.
/// Needs no final logs.
pub fn check(history: &History, logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let logs = Logs::new(history, logs.unwrap_or_default());
    let names = Names::without_keys(history);
    let mut seen = observations(history);
    seen.sort_unstable_by_key(|s| (s.partition, s.offset, s.entry));
    let mut out = Vec::new();
    for at in seen.chunk_by(|a, b| (a.partition, a.offset) == (b.partition, b.offset)) {
        let (partition, offset) = (at[0].partition, at[0].offset);
        let (reference, by) = match logs.record_at(partition, offset) {
            Some(r) => (r, "the final log".to_string()),
            None => (at[0].record, observer(history, at[0].entry, &names)),
        };
        let mut reported: BTreeSet<Record> = BTreeSet::new();
        for s in at.iter().filter(|s| s.record != reference) {
            if !reported.insert(s.record) {
                continue;
            }
            let detail = format!(
                "{} saw it there, but {by} has {} there",
                observer(history, s.entry, &names),
                names.record(reference)
            );
            let v = Violation::new(NAME, detail).at(partition, Some(offset)).record(Some(s.record));
            out.push(with_group(v, history, s.entry).time(history.entries[s.entry].time_us));
        }
    }
    out
}

fn observations(history: &History) -> Vec<Seen> {
    let mut seen = Vec::new();
    for (entry, e) in history.entries.iter().enumerate() {
        let (partition, offset, record) = match (written(&e.event), read(&e.event)) {
            (Some(w), _) => (w.partition, w.offset, w.record),
            (None, Some(r)) => (r.partition, r.offset, r.record),
            (None, None) => continue,
        };
        seen.push(Seen { partition, offset, record, entry });
    }
    seen
}

/// Who made the observation at `entry`, in words.
fn observer(history: &History, entry: usize, names: &Names<'_>) -> String {
    match history.entries[entry].event {
        ClientEvent::SendAcked { producer, .. } => format!("the acknowledgement to {}", names.producer(producer)),
        ClientEvent::SendFailed { producer, .. } => {
            format!("the offset learned for {}'s indeterminate send", names.producer(producer))
        }
        ref event => match read(event) {
            Some(r) => format!("consumer {} (which {} it)", names.consumer(r.consumer), r.verb.trim_end_matches(',')),
            None => "an observer".to_string(),
        },
    }
}

fn with_group(v: Violation, history: &History, entry: usize) -> Violation {
    match read(&history.entries[entry].event) {
        Some(r) => v.group(r.group),
        None => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn two_acknowledgements_of_one_offset_are_inconsistent() {
        let h = history(vec![acked(0, 0, 0, Some(0)), acked(1, 0, 0, Some(0)), processed(0, 0, 0, 0, (0, 0))]);
        let v = check(&h, None);
        assert_eq!(v.len(), 1);
        assert_eq!(
            (v[0].partition, v[0].offset, v[0].witness_record(), v[0].time_us),
            (Some(0), Some(0), Some((1, 0)), Some(1))
        );
        assert!(v[0].detail.contains("acknowledgement to p0 has p0 send #0"), "{}", v[0].detail);
    }

    #[test]
    fn the_final_log_is_the_reference_when_given() {
        let h = history(vec![acked(0, 0, 0, Some(0)), processed(1, 1, 0, 0, (0, 0))]);
        let v = check(&h, Some(&[log(0, &[(1, 7)])]));
        assert_eq!(v.len(), 1, "one violation per record, not per observation");
        assert_eq!((v[0].witness_record(), v[0].group, v[0].time_us), (Some((0, 0)), None, Some(0)));
        assert!(v[0].detail.contains("final log has p1 send #7"), "{}", v[0].detail);
    }

    #[test]
    fn a_record_met_as_unreadable_is_an_observation_too() {
        let poisoned = ClientEvent::Poisoned {
            consumer: 1,
            group: 1,
            partition: 0,
            offset: 0,
            producer: 1,
            send_seq: 0,
            skipped: true,
        };
        let v = check(&history(vec![acked(0, 0, 0, Some(0)), poisoned]), None);
        assert_eq!((v.len(), v[0].witness_record(), v[0].group), (1, Some((1, 0)), Some(1)));
        assert!(v[0].detail.starts_with("consumer c1 (which met, unreadable it)"), "{}", v[0].detail);
    }

    #[test]
    fn an_indeterminate_send_whose_offset_was_learned_is_an_observation() {
        let info = |offset| ClientEvent::SendFailed {
            producer: 1,
            send_seq: 3,
            partition: 0,
            error: "REQUEST_TIMED_OUT".into(),
            definite: false,
            offset,
        };
        let v = check(&history(vec![acked(0, 0, 0, Some(0)), info(Some(0))]), None);
        assert_eq!((v.len(), v[0].witness_record()), (1, Some((1, 3))));
        assert!(v[0].detail.starts_with("the offset learned for p1's indeterminate send"), "{}", v[0].detail);
        assert!(check(&history(vec![acked(0, 0, 0, Some(0)), info(None)]), None).is_empty());
    }

    #[test]
    fn agreeing_observations_are_consistent() {
        let h = history(vec![acked(0, 0, 0, Some(0)), processed(0, 0, 0, 0, (0, 0)), processed(0, 0, 1, 0, (0, 1))]);
        assert!(check(&h, Some(&[log(0, &[(0, 0)])])).is_empty());
        assert!(check(&h, None).is_empty());
    }
}
