//! `duplicate-write`: one record (producer, send_seq) stands at more than one offset, as a retry without
//! idempotence leaves it (the first attempt was appended, its response lost). Where the final log is known it
//! decides; a partition without one is judged on what clients saw — the record acknowledged or read at two
//! offsets. Jepsen's checker calls this `duplicate`: one value at more than one offset of its version order.

use super::index::{Known, Record};
use super::violation::{Names, Violation};
use crate::history::{FinalLog, History};

pub const NAME: &str = "duplicate-write";

/// One violation per extra copy, at the copy, naming the first copy (lowest partition, then offset); in record
/// order.
pub fn check(history: &History, logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let known = Known::new(history, logs.unwrap_or_default());
    let mut copies: Vec<(Record, u32, u64)> = known.placed().into_iter().map(|(p, o, r)| (r, p, o)).collect();
    copies.sort_unstable();
    copies.dedup();
    let names = Names::without_keys(history);
    let mut out = Vec::new();
    for run in copies.chunk_by(|a, b| a.0 == b.0) {
        let (record, p0, o0) = run[0];
        for &(_, p, o) in &run[1..] {
            let detail = format!("written {} times: first at {}", run.len(), names.location(p0, Some(o0)));
            out.push(Violation::new(NAME, detail).at(p, Some(o)).record(Some(record)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn a_record_at_two_offsets_is_written_twice() {
        let logs = [log(0, &[(0, 0), (0, 1), (0, 0)]), log(1, &[(0, 2)])];
        let v = check(&history(vec![]), Some(&logs));
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].partition, v[0].offset, v[0].witness_record()), (Some(0), Some(2), Some((0, 0))));
        assert!(v[0].detail.contains("t-0@0"), "{}", v[0].detail);
    }

    #[test]
    fn copies_in_two_partitions_count() {
        let logs = [log(0, &[(1, 1)]), log(1, &[(1, 1)])];
        let v = check(&history(vec![]), Some(&logs));
        assert_eq!(v.iter().map(|v| (v.partition, v.offset)).collect::<Vec<_>>(), [(Some(1), Some(0))]);
    }

    #[test]
    fn nothing_without_copies() {
        assert!(check(&history(vec![]), None).is_empty());
        assert!(check(&history(vec![]), Some(&[log(0, &[(0, 0), (0, 1)])])).is_empty());
        let seen_once_twice =
            vec![acked(0, 0, 0, Some(3)), processed(0, 0, 0, 3, (0, 0)), processed(1, 1, 0, 3, (0, 0))];
        assert!(check(&history(seen_once_twice), None).is_empty());
    }

    // kafka.clj `duplicate-cases`: a value at more than one offset of the version order built from the sends'
    // offsets and the polls' — here acknowledged at 1 and read at 3.
    #[test]
    fn without_a_final_log_an_acknowledgement_and_a_read_at_two_offsets_are_a_duplicate() {
        let h = history(vec![acked(0, 0, 0, Some(1)), polled(0, 0, 0, 2, 2), processed(0, 0, 0, 3, (0, 0))]);
        let v = check(&h, None);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!((v[0].partition, v[0].offset, v[0].witness_record()), (Some(0), Some(3), Some((0, 0))));
        assert!(v[0].detail.contains("first at t-0@1"), "{}", v[0].detail);
    }

    #[test]
    fn a_final_log_overrules_what_was_seen() {
        // Read at 3 after an acknowledgement at 1, but the final log holds it once: lost-write's to judge.
        let h = history(vec![acked(0, 0, 0, Some(1)), processed(0, 0, 0, 3, (0, 0))]);
        assert!(check(&h, Some(&[log(0, &[(1, 0), (0, 0)])])).is_empty());
    }
}
