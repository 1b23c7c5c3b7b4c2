//! Consecutive polls within one consumer's continuous ownership of a partition, for `nonmonotonic-poll` and
//! `poll-skip`. Ownership of a partition starts at an `Assigned` that lists it and ends at the consumer's next
//! `Revoked` that lists it, its next `Assigned` (which starts afresh from its list) or `LeftGroup`. Polls outside
//! ownership (a zombie still polling after it left) and empty polls are not compared. A `PositionReset`
//! (auto.offset.reset, after OFFSET_OUT_OF_RANGE or without a committed offset) is a visible seek: the next poll
//! of that partition starts the comparison afresh. Jepsen resets the same way on `assign`/`subscribe`: a new
//! assignment starts from the committed offset, not where polling left off. A `polled` event covers every offset
//! the poll moved past, including records it filtered out or skipped as unreadable.

use crate::history::{ClientEvent, History};
use std::collections::BTreeMap;

/// Two successive non-empty polls of one partition by one consumer within one ownership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PollStep {
    pub consumer: u32,
    pub group: u32,
    pub partition: u32,
    /// The previous poll's offsets, `[first, end)`.
    pub before: (u64, u64),
    /// This poll's offsets, `[first, end)`.
    pub now: (u64, u64),
    pub time_us: u64,
}

/// One owned partition: the last poll's offsets, if any yet.
#[derive(Default)]
struct Owned {
    last: Option<(u64, u64)>,
}

/// Calls `f` for each step, in history order.
pub(crate) fn for_each_poll_step(history: &History, mut f: impl FnMut(PollStep)) {
    let mut owned: BTreeMap<u32, BTreeMap<u32, Owned>> = BTreeMap::new();
    for entry in &history.entries {
        match &entry.event {
            ClientEvent::Assigned { consumer, partitions, .. } => {
                owned.insert(*consumer, partitions.iter().map(|&p| (p, Owned::default())).collect());
            }
            ClientEvent::Revoked { consumer, partitions, .. } => {
                if let Some(mine) = owned.get_mut(consumer) {
                    partitions.iter().for_each(|p| _ = mine.remove(p));
                }
            }
            ClientEvent::LeftGroup { consumer, .. } => _ = owned.remove(consumer),
            &ClientEvent::PositionReset { consumer, partition, .. } => {
                if let Some(o) = owned_mut(&mut owned, consumer, partition) {
                    *o = Owned::default();
                }
            }
            &ClientEvent::Polled { consumer, group, partition, first_offset, count, .. } if count > 0 => {
                let Some(o) = owned_mut(&mut owned, consumer, partition) else { continue };
                let now = (first_offset, first_offset.saturating_add(u64::from(count)));
                if let Some(before) = o.last.replace(now) {
                    f(PollStep { consumer, group, partition, before, now, time_us: entry.time_us });
                }
            }
            _ => {}
        }
    }
}

fn owned_mut(owned: &mut BTreeMap<u32, BTreeMap<u32, Owned>>, consumer: u32, partition: u32) -> Option<&mut Owned> {
    owned.get_mut(&consumer)?.get_mut(&partition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn steps(events: Vec<ClientEvent>) -> Vec<((u64, u64), (u64, u64))> {
        let mut out = Vec::new();
        for_each_poll_step(&history(events), |s| out.push((s.before, s.now)));
        out
    }

    #[test]
    fn polls_pair_up_within_an_ownership() {
        let s =
            steps(vec![assigned(0, 0, &[0, 1]), polled(0, 0, 0, 0, 2), polled(0, 0, 1, 0, 1), polled(0, 0, 0, 2, 3)]);
        assert_eq!(s, [((0, 2), (2, 5))]);
    }

    #[test]
    fn revocation_reassignment_and_leaving_end_an_ownership() {
        let s = steps(vec![
            assigned(0, 0, &[0, 1]),
            polled(0, 0, 0, 0, 1),
            polled(0, 0, 1, 0, 1),
            revoked(0, 0, &[0]),
            polled(0, 0, 0, 5, 1),
            polled(0, 0, 1, 1, 1),
            assigned(0, 0, &[0, 1]),
            polled(0, 0, 1, 9, 1),
            reset(0, 0, 1, 3),
            polled(0, 0, 1, 3, 1),
            left(0, 0),
            polled(0, 0, 1, 20, 1),
        ]);
        assert_eq!(s, [((0, 1), (1, 2))]);
    }

    #[test]
    fn poison_events_do_not_change_poll_ranges() {
        let poison = |offset| ClientEvent::Poisoned {
            consumer: 0,
            group: 0,
            partition: 0,
            offset,
            producer: 0,
            send_seq: offset,
            skipped: true,
        };
        // A poll over 1..4 that skipped the unreadable record at 2 reports the whole range.
        let s = steps(vec![
            assigned(0, 0, &[0]),
            polled(0, 0, 0, 0, 1),
            polled(0, 0, 0, 1, 3),
            poison(2),
            polled(0, 0, 0, 4, 1),
        ]);
        assert_eq!(s, [((0, 1), (1, 4)), ((1, 4), (4, 5))]);
    }

    #[test]
    fn empty_polls_and_other_consumers_do_not_count() {
        let s = steps(vec![
            assigned(0, 0, &[0]),
            assigned(1, 0, &[0]),
            polled(0, 0, 0, 0, 1),
            polled(0, 0, 0, 7, 0),
            polled(1, 0, 0, 0, 4),
            polled(0, 0, 0, 1, 1),
        ]);
        assert_eq!(s, [((0, 1), (1, 2))]);
    }
}
