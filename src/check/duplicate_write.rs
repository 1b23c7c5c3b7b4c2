//! `duplicate-write`: one record (producer, send_seq) stands at more than one offset of the final logs, as a
//! retry without idempotence leaves it (the first attempt was appended, its response lost). Jepsen's checker
//! calls this `duplicate`: one value at more than one offset.

use super::index::{Logs, Record, placed};
use super::violation::{Names, Violation};
use crate::history::{FinalLog, History};

pub const NAME: &str = "duplicate-write";

/// One violation per extra copy, at the copy, naming the first copy (lowest partition, then offset); in record
/// order. Nothing without final logs.
pub fn check(history: &History, logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let Some(logs) = logs else { return Vec::new() };
    let mut copies: Vec<(Record, u32, u64)> = placed(&Logs::new(history, logs)).map(|(p, o, r)| (r, p, o)).collect();
    copies.sort_unstable();
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
    fn nothing_without_final_logs_or_copies() {
        assert!(check(&history(vec![]), None).is_empty());
        assert!(check(&history(vec![]), Some(&[log(0, &[(0, 0), (0, 1)])])).is_empty());
    }
}
