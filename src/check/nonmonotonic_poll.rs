//! `nonmonotonic-poll` (Jepsen's name and meaning): within one consumer's continuous ownership of a partition, a
//! poll started before the previous poll's end, re-reading or going back (a consumer's position only moves
//! forward until a rebalance or a seek). Ownership is defined in `ownership`.

use super::index::Known;
use super::ownership::for_each_poll_step;
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
        let detail = format!(
            "consumer {} polled offsets {}..={} {} without a rebalance in between",
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
