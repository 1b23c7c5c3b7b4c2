//! `nonmonotonic-poll` (Jepsen's name and meaning): within one consumer's continuous ownership of a partition, a
//! poll started before the previous poll's end, re-reading or going back (a consumer's position only moves
//! forward until a rebalance or a seek). Ownership is defined in `ownership`.

use super::index::Known;
use super::ownership::{Since, for_each_poll_step};
use super::violation::{Names, Violation};
use crate::history::{FinalLog, History};

pub const NAME: &str = "nonmonotonic-poll";

/// One violation per backward step, at the first offset of the poll that went back (with the final log's record
/// there when known), in history order. Needs no final logs.
pub fn check(history: &History, logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let known = Known::new(history, logs.unwrap_or_default());
    let names = Names::without_keys(history);
    let mut out = Vec::new();
    for_each_poll_step(history, |s| {
        if s.now.0 >= s.before.1 {
            return;
        }
        let between = if s.since == Since::Commit { "" } else { " without a rebalance in between" };
        let detail = format!(
            "consumer {} polled offsets {}..={} {}{between}",
            names.consumer(s.consumer),
            s.now.0,
            s.now.1 - 1,
            s.after()
        );
        let v =
            Violation::new(NAME, detail).at(s.partition, Some(s.now.0)).record(known.record_at(s.partition, s.now.0));
        out.push(v.group(s.group).time(s.time_us));
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn polling_again_from_before_the_previous_end_is_nonmonotonic() {
        let h = history(vec![assigned(0, 1, &[0]), polled(0, 1, 0, 0, 3), polled(0, 1, 0, 2, 2)]);
        let v = check(&h, Some(&[log(0, &[(0, 0), (0, 1), (0, 2), (0, 3)])]));
        assert_eq!(v.len(), 1);
        let w = &v[0];
        assert_eq!(
            (w.partition, w.offset, w.witness_record(), w.group, w.time_us),
            (Some(0), Some(2), Some((0, 2)), Some(1), Some(2))
        );
        assert!(w.detail.contains("2..=3 after 0..=2"), "{}", w.detail);
    }

    // An eager rebalance revokes everything (ConsumerCoordinator.onJoinPrepare) and the partition starts again from
    // the committed offset, here none recorded; a cooperative one keeps what stays assigned, with its position.
    #[test]
    fn contiguous_and_forward_polls_are_monotonic_and_a_revoked_partition_may_rewind() {
        let eager = vec![
            assigned(0, 0, &[0]),
            polled(0, 0, 0, 0, 3),
            polled(0, 0, 0, 3, 1),
            polled(0, 0, 0, 9, 1),
            revoked(0, 0, &[0]),
            assigned(0, 0, &[0]),
            polled(0, 0, 0, 0, 1),
        ];
        assert!(check(&history(eager), None).is_empty());
        let retained =
            vec![assigned(0, 0, &[0, 1]), polled(0, 0, 0, 0, 3), revoked(0, 0, &[1]), assigned_at(0, 0, 2, &[0])];
        let mut from_position = retained.clone();
        from_position.push(polled_at(0, 2, 0, 3, 1));
        assert!(check(&history(from_position), None).is_empty());
        let mut rewound = retained;
        rewound.push(polled_at(0, 2, 0, 0, 1));
        let v = check(&history(rewound), None);
        assert_eq!(v.iter().map(|v| v.offset).collect::<Vec<_>>(), [Some(0)]);
    }

    // A reset (auto.offset.reset, a detected truncation) moves the position: the next poll starts there.
    #[test]
    fn a_poll_before_where_a_reset_put_the_position_goes_back() {
        let h = history(vec![assigned(0, 0, &[0]), reset(0, 0, 0, 7), polled(0, 0, 0, 6, 1)]);
        assert!(check(&h, None)[0].detail.contains("after its position was reset to 7"));
    }

    // After an eager rebalance a partition new to its owner starts at the group's committed offset
    // (ConsumerCoordinator.refreshCommittedOffsets): a first poll below the last commit the history saw goes back.
    // A commit made after the assignment is not what the new owner fetched.
    #[test]
    fn a_newly_assigned_partition_polled_below_the_last_commit_goes_back() {
        let handed_over = |first_offset| {
            history(vec![
                assigned_at(1, 0, 1, &[0]),
                polled_at(1, 1, 0, 0, 5),
                committed(0, 1, 0, 5, None),
                revoked(1, 0, &[0]),
                assigned_at(0, 0, 2, &[0]),
                committed(0, 2, 0, 9, None),
                polled_at(0, 2, 0, first_offset, 4),
            ])
        };
        let v = check(&handed_over(3), None);
        assert_eq!(v.iter().map(|v| (v.partition, v.offset)).collect::<Vec<_>>(), [(Some(0), Some(3))]);
        assert!(
            v[0].detail.contains("after it was assigned, below its group's last committed offset 5"),
            "{}",
            v[0].detail
        );
        assert!(!v[0].detail.contains("without a rebalance"), "{}", v[0].detail);
        assert!(check(&handed_over(5), None).is_empty());
        // Version 1 could not record an operator's reset-offsets, so its commits do not say where a partition starts.
        let mut version_1 = handed_over(3);
        version_1.version = 1;
        assert!(check(&version_1, None).is_empty());
        assert!(check(&handed_over(8), None).is_empty());
    }

    #[test]
    fn without_logs_the_witness_is_the_record_seen_there_if_any() {
        let h = history(vec![assigned(0, 0, &[0]), polled(0, 0, 0, 5, 1), polled(0, 0, 0, 5, 1)]);
        let v = check(&h, None);
        assert_eq!((v.len(), v[0].offset, v[0].witness_record()), (1, Some(5), None));
        let h =
            history(vec![acked(1, 3, 0, Some(5)), assigned(0, 0, &[0]), polled(0, 0, 0, 5, 1), polled(0, 0, 0, 5, 1)]);
        assert_eq!(check(&h, None)[0].witness_record(), Some((1, 3)));
    }
}
