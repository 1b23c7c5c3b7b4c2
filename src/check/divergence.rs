//! `divergence`: two replicas of a partition hold different records below their common high watermark, the
//! part of the log both have called committed (KIP-101: legacy truncation to the high watermark lets replicas
//! diverge). Takes the replicas' logs, which a client history does not have: `check_all` does not run it,
//! `verdict::judge` does when it is given them.

use super::violation::{Names, Violation};
use crate::history::ReplicaLog;

pub const NAME: &str = "divergence";

/// One violation per partition and pair of replicas (in input order) that disagree, at the first offset below
/// both high watermarks and at or above both log start offsets where they do (a record one lacks counts as a
/// difference), in partition order.
pub fn check(replicas: &[ReplicaLog], names: &Names<'_>) -> Vec<Violation> {
    let mut order: Vec<usize> = (0..replicas.len()).collect();
    order.sort_by_key(|&i| replicas[i].partition);
    let mut out = Vec::new();
    for same in order.chunk_by(|&a, &b| replicas[a].partition == replicas[b].partition) {
        for (n, &a) in same.iter().enumerate() {
            for &b in &same[n + 1..] {
                out.extend(compare(&replicas[a], &replicas[b], names));
            }
        }
    }
    out
}

fn compare(a: &ReplicaLog, b: &ReplicaLog, names: &Names<'_>) -> Option<Violation> {
    let common = a.high_watermark.min(b.high_watermark);
    let from = a.start_offset.max(b.start_offset);
    let offset = (from..common).find(|&o| record_at(a, o) != record_at(b, o))?;
    let (ra, rb) = (record_at(a, offset), record_at(b, offset));
    let detail = format!(
        "replica {} holds {} and replica {} holds {} below their common high watermark {common}",
        a.replica,
        describe(ra, names),
        b.replica,
        describe(rb, names)
    );
    Some(Violation::new(NAME, detail).at(a.partition, Some(offset)).record(ra.or(rb)))
}

fn record_at(log: &ReplicaLog, offset: u64) -> Option<(u32, u64)> {
    let index = usize::try_from(offset.checked_sub(log.start_offset)?).ok()?;
    log.records.get(index).copied()
}

fn describe(record: Option<(u32, u64)>, names: &Names<'_>) -> String {
    record.map_or_else(|| "nothing".to_string(), |r| names.record(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::History;

    fn check_unnamed(replicas: &[ReplicaLog]) -> Vec<Violation> {
        check(replicas, &Names::new(&History::default()))
    }

    fn replica(partition: u32, name: &str, records: &[(u32, u64)], hw: u64) -> ReplicaLog {
        let records = records.to_vec();
        ReplicaLog { partition, replica: name.to_string(), start_offset: 0, records, high_watermark: hw }
    }

    #[test]
    fn replicas_that_differ_below_both_high_watermarks_diverge() {
        let v = check_unnamed(&[
            replica(0, "b1", &[(0, 0), (0, 1), (0, 2)], 3),
            replica(1, "b1", &[(0, 9)], 1),
            replica(0, "b2", &[(0, 0), (1, 0)], 2),
        ]);
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].partition, v[0].offset, v[0].witness_record()), (Some(0), Some(1), Some((0, 1))));
        assert!(v[0].detail.contains("b2 holds producer#1 send #0"), "{}", v[0].detail);
        let producers = vec!["orders-api".to_string(), "billing-api".to_string()];
        let history = History { producers, ..Default::default() };
        let named = check(
            &[replica(0, "b1", &[(0, 0), (0, 1)], 2), replica(0, "b2", &[(0, 0), (1, 0)], 2)],
            &Names::new(&history),
        );
        assert!(
            named[0].detail.contains("b1 holds orders-api send #1 and replica b2 holds billing-api send #0"),
            "{}",
            named[0].detail
        );
    }

    #[test]
    fn differences_at_or_above_the_common_high_watermark_are_allowed() {
        let v = check_unnamed(&[replica(0, "b1", &[(0, 0), (0, 1)], 2), replica(0, "b2", &[(0, 0), (1, 0)], 1)]);
        assert!(v.is_empty());
    }

    #[test]
    fn a_record_missing_below_the_high_watermark_is_a_divergence() {
        let v = check_unnamed(&[replica(0, "b1", &[(0, 0), (0, 1)], 2), replica(0, "b2", &[(0, 0)], 2)]);
        assert_eq!((v.len(), v[0].offset, v[0].witness_record()), (1, Some(1), Some((0, 1))));
    }

    #[test]
    fn offsets_are_compared_from_each_log_start_offset() {
        let mut trimmed = replica(0, "b2", &[(0, 2), (0, 9)], 4);
        trimmed.start_offset = 2;
        let full = replica(0, "b1", &[(0, 0), (0, 1), (0, 2), (0, 3)], 4);
        let v = check_unnamed(&[full, trimmed]);
        assert_eq!((v.len(), v[0].offset, v[0].witness_record()), (1, Some(3), Some((0, 3))));
    }
}
