//! `reordered-write`: one producer's records of one key stand in the final log in another order than they were
//! sent (send_seq order), as retries with more than one request in flight and no idempotence leave them. Each
//! record counts at its first offset (later copies are `duplicate-write`); records without a key, or of a key sent
//! to two partitions, are compared only within a partition. Jepsen's checker calls this `nonmonotonic-send` (per
//! client and partition rather than per producer and key).

use super::index::{Logs, SendKeys, placed};
use super::violation::{Names, Violation};
use crate::history::{FinalLog, History};

pub const NAME: &str = "reordered-write";

/// One violation per record that landed before a record of the same producer and key sent earlier, at the
/// record, naming the earlier send; in producer, key, partition, send order. Nothing without final logs.
pub fn check(history: &History, logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let Some(logs) = logs else { return Vec::new() };
    let keys = SendKeys::new(history);
    // (producer, key, partition, send_seq, offset), sorted: each run of one (producer, key, partition) in send order.
    let mut sends: Vec<(u32, u32, u32, u64, u64)> = placed(&Logs::new(history, logs))
        .filter_map(|(p, o, (producer, seq))| Some((producer, keys.get((producer, seq))?, p, seq, o)))
        .collect();
    sends.sort_unstable();
    sends.dedup_by_key(|s| (s.0, s.1, s.2, s.3));
    let names = Names::without_keys(history);
    let mut out = Vec::new();
    for run in sends.chunk_by(|a, b| (a.0, a.1, a.2) == (b.0, b.1, b.2)) {
        let mut latest = run[0];
        for &s in &run[1..] {
            if s.4 > latest.4 {
                latest = s;
                continue;
            }
            let detail = format!(
                "sent after {}, but written before it (at {})",
                names.record((latest.0, latest.3)),
                names.location(latest.2, Some(latest.4))
            );
            out.push(Violation::new(NAME, detail).at(s.2, Some(s.4)).record(Some((s.0, s.3))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn sends() -> History {
        history((0..4).map(|s| invoked(0, s, Some((s % 2) as u32), 0)).chain([invoked(1, 0, None, 0)]).collect())
    }

    #[test]
    fn a_later_send_of_a_key_written_first_is_reordered() {
        // Key 0: sends 0 and 2, written 2 then 0.
        let v = check(&sends(), Some(&[log(0, &[(0, 2), (0, 1), (0, 0), (0, 3)])]));
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].partition, v[0].offset, v[0].witness_record()), (Some(0), Some(0), Some((0, 2))));
        assert!(v[0].detail.contains("p0 send #0") && v[0].detail.contains("t-0@2"), "{}", v[0].detail);
    }

    #[test]
    fn other_keys_and_later_copies_do_not_reorder() {
        // Send 1 (key 1) after send 2 (key 0) is fine; the retried copy of send 0 at offset 4 is a duplicate.
        let v = check(&sends(), Some(&[log(0, &[(0, 0), (0, 2), (0, 1), (0, 3), (0, 0), (1, 0)])]));
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn nothing_without_final_logs() {
        assert!(check(&sends(), None).is_empty());
    }
}
