//! `poll-skip` (Jepsen's name and meaning): within one consumer's continuous ownership of a partition, a poll
//! started past the previous poll's end, jumping over offsets that exist. An offset exists if the partition's final
//! log holds it (offsets retention deleted do not count); without a final log for the partition, if a producer was
//! acknowledged or a consumer processed a record at it (Kafka leaves offsets empty under transactions and
//! compaction, so a gap alone proves nothing). Ownership, and the position resets that restart it, are defined in
//! `ownership`.

use super::index::Known;
use super::ownership::{PollStep, Since, for_each_poll_step};
use super::violation::{Names, Violation};
use crate::history::{FinalLog, History};

pub const NAME: &str = "poll-skip";

/// One violation per skipping step, at the first existing offset skipped (with the final log's record there when
/// known), in history order. Needs no final logs.
pub fn check(history: &History, logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let known = Known::new(history, logs.unwrap_or_default());
    let names = Names::without_keys(history);
    let mut out = Vec::new();
    for_each_poll_step(history, |s| {
        // A start past the last commit the history shows may be a commit whose answer it lacks.
        if s.since == Since::Commit {
            return;
        }
        if let Some(offset) = known.first_held(s.partition, (s.before.1, s.now.0)) {
            out.push(violation(&s, offset, &known, &names));
        }
    });
    out
}

fn violation(s: &PollStep, offset: u64, known: &Known<'_>, names: &Names<'_>) -> Violation {
    let detail = format!(
        "consumer {} polled offsets {}..={} {} without a rebalance in between, skipping {}",
        names.consumer(s.consumer),
        s.now.0,
        s.now.1 - 1,
        s.after(),
        skipped_count(s.now.0 - s.before.1)
    );
    let v = Violation::new(NAME, detail).at(s.partition, Some(offset)).record(known.record_at(s.partition, offset));
    v.group(s.group).time(s.time_us)
}

fn skipped_count(n: u64) -> String {
    if n == 1 { "1 offset".to_string() } else { format!("{n} offsets") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn jumping_over_offsets_of_the_final_log_is_a_skip() {
        let h = history(vec![assigned(0, 0, &[0]), polled(0, 0, 0, 0, 2), polled(0, 0, 0, 4, 1)]);
        let v = check(&h, Some(&[log(0, &[(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)])]));
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].partition, v[0].offset, v[0].witness_record()), (Some(0), Some(2), Some((0, 2))));
        assert!(v[0].detail.ends_with("skipping 2 offsets"), "{}", v[0].detail);
    }

    #[test]
    fn a_gap_past_the_final_logs_end_is_not_a_skip() {
        let h = history(vec![assigned(0, 0, &[0]), polled(0, 0, 0, 0, 1), polled(0, 0, 0, 3, 1)]);
        assert!(check(&h, Some(&[log(0, &[(0, 0)])])).is_empty());
    }

    #[test]
    fn a_gap_retention_deleted_or_a_position_reset_is_not_a_skip() {
        let h = history(vec![assigned(0, 0, &[0]), polled(0, 0, 0, 0, 1), polled(0, 0, 0, 3, 1)]);
        assert!(check(&h, Some(&[log_from(0, 3, &[(0, 3)])])).is_empty());
        let v = check(&h, Some(&[log_from(0, 2, &[(0, 2), (0, 3)])]));
        assert_eq!((v.len(), v[0].offset, v[0].witness_record()), (1, Some(2), Some((0, 2))));
        let h = history(vec![assigned(0, 0, &[0]), polled(0, 0, 0, 0, 1), reset(0, 0, 0, 3), polled(0, 0, 0, 3, 1)]);
        assert!(check(&h, Some(&[log(0, &[(0, 0), (0, 1), (0, 2), (0, 3)])])).is_empty());
    }

    #[test]
    fn without_a_log_only_observed_offsets_prove_a_skip() {
        let gap = vec![assigned(0, 0, &[0]), polled(0, 0, 0, 0, 1), polled(0, 0, 0, 4, 1)];
        assert!(check(&history(gap.clone()), None).is_empty(), "offsets 1..4 may be transaction markers");
        let mut seen = gap;
        seen.insert(0, acked(1, 0, 0, Some(2)));
        let v = check(&history(seen), None);
        assert_eq!((v.len(), v[0].offset, v[0].witness_record()), (1, Some(2), Some((1, 0))));
    }

    // A new owner starting past the group's last commit the history saw may have fetched a commit whose answer
    // never came (one made at close(), one that timed out and applied): not a skip.
    #[test]
    fn a_newly_assigned_partition_may_start_past_the_last_known_commit() {
        let h = history(vec![
            committed(0, 1, 0, 1, None),
            assigned_at(0, 0, 2, &[0]),
            polled_at(0, 2, 0, 3, 1),
            polled_at(0, 2, 0, 4, 1),
        ]);
        assert!(check(&h, Some(&[log(0, &[(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)])])).is_empty());
    }
}
