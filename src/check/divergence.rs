//! `divergence`: two replicas of a partition hold different records below their common high watermark, the
//! part of the log both have called committed (KIP-101: legacy truncation to the high watermark lets replicas
//! diverge). Takes the replicas' logs, which a client history does not have, so `check_all` does not run it.

use super::violation::Violation;

pub const NAME: &str = "divergence";

/// One replica's log: `(partition, replica name, records as (producer, send_seq) from offset 0, high watermark)`.
pub type ReplicaLog = (u32, String, Vec<(u32, u64)>, u64);

/// One violation per partition and pair of replicas (in input order) that disagree, at the first offset below
/// both high watermarks where they do (a record one lacks counts as a difference), in partition order.
pub fn check(replicas: &[ReplicaLog]) -> Vec<Violation> {
    let mut order: Vec<usize> = (0..replicas.len()).collect();
    order.sort_by_key(|&i| replicas[i].0);
    let mut out = Vec::new();
    for same in order.chunk_by(|&a, &b| replicas[a].0 == replicas[b].0) {
        for (n, &a) in same.iter().enumerate() {
            for &b in &same[n + 1..] {
                out.extend(compare(&replicas[a], &replicas[b]));
            }
        }
    }
    out
}

fn compare(a: &ReplicaLog, b: &ReplicaLog) -> Option<Violation> {
    let common = a.3.min(b.3);
    let limit = usize::try_from(common).unwrap_or(usize::MAX).min(a.2.len().max(b.2.len()));
    let offset = (0..limit).find(|&o| a.2.get(o) != b.2.get(o))?;
    let (ra, rb) = (a.2.get(offset).copied(), b.2.get(offset).copied());
    let detail = format!(
        "replica {} holds {} and replica {} holds {} below their common high watermark {common}",
        a.1,
        describe(ra),
        b.1,
        describe(rb)
    );
    Some(Violation::new(NAME, detail).at(a.0, Some(offset as u64)).record(ra.or(rb)))
}

fn describe(record: Option<(u32, u64)>) -> String {
    match record {
        Some((p, s)) => format!("producer#{p} send #{s}"),
        None => "nothing".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(partition: u32, name: &str, records: &[(u32, u64)], hw: u64) -> ReplicaLog {
        (partition, name.to_string(), records.to_vec(), hw)
    }

    #[test]
    fn replicas_that_differ_below_both_high_watermarks_diverge() {
        let v = check(&[
            replica(0, "b1", &[(0, 0), (0, 1), (0, 2)], 3),
            replica(1, "b1", &[(0, 9)], 1),
            replica(0, "b2", &[(0, 0), (1, 0)], 2),
        ]);
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].partition, v[0].offset, v[0].witness_record()), (Some(0), Some(1), Some((0, 1))));
        assert!(v[0].detail.contains("b2 holds producer#1 send #0"), "{}", v[0].detail);
    }

    #[test]
    fn differences_at_or_above_the_common_high_watermark_are_allowed() {
        let v = check(&[replica(0, "b1", &[(0, 0), (0, 1)], 2), replica(0, "b2", &[(0, 0), (1, 0)], 1)]);
        assert!(v.is_empty());
    }

    #[test]
    fn a_record_missing_below_the_high_watermark_is_a_divergence() {
        let v = check(&[replica(0, "b1", &[(0, 0), (0, 1)], 2), replica(0, "b2", &[(0, 0)], 2)]);
        assert_eq!((v.len(), v[0].offset, v[0].witness_record()), (1, Some(1), Some((0, 1))));
    }
}
