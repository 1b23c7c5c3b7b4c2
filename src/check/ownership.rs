//! Consecutive polls within one consumer's continuous ownership of a partition, for `nonmonotonic-poll` and
//! `poll-skip`, with the position Kafka keeps between them.
//!
//! Ownership of a partition starts at an `Assigned` that lists it and ends at the consumer's next `Revoked` that
//! lists it, an `Assigned` that leaves it out, `LeftGroup`, `ConsumerCrashed`, or a `Joining` under a new member id (empty, or
//! another than the consumer's last: a restarted process, which has no positions, or a lost membership). An `Assigned` of a newer generation that lists a
//! partition the consumer still owns keeps its position (a cooperative rebalance retains it), as does a manual
//! one (KafkaConsumer.assign keeps positions of partitions still assigned: SubscriptionState.assignFromUser); one
//! at the same generation is a restarted static member's (KIP-345), which starts afresh. A poll at another generation than the ownership's is a rebalance
//! nobody recorded: the comparison starts afresh. Polls outside ownership (a zombie still polling after it left)
//! and empty polls are not compared.
//!
//! Where the position comes from when an ownership starts: a `PositionReset` (auto.offset.reset, after
//! OFFSET_OUT_OF_RANGE or without a committed offset; a detected truncation) or the application's `Seeked` sets
//! it, so the next poll must start there. A newly assigned partition starts at the group's committed offset
//! (`last_commit`, where the history knows it): its first poll must not start below it. It may start above it —
//! a commit made at close() whose answer never came, or one that timed out and did apply, moved it unseen — so
//! only `nonmonotonic-poll` compares it, not `poll-skip`. A `polled` event covers every
//! offset the poll moved past, including records it filtered out or skipped as unreadable.

use super::last_commit::LastCommits;
use crate::history::{ClientEvent, History};
use std::collections::BTreeMap;

/// What a poll is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Since {
    /// The previous poll of the ownership.
    Poll,
    /// A position reset.
    Reset,
    /// The application's seek.
    Seek,
    /// The group's last committed offset, where a newly assigned partition starts. Only a start before it is
    /// judged: a commit still being replicated when the new owner fetched, or answered after it started, may leave
    /// the new owner at an older offset than the history's last commit, never a newer one.
    Commit,
}

/// Two successive non-empty polls of one partition by one consumer within one ownership, or a poll and the
/// position a reset put it at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PollStep {
    pub consumer: u32,
    pub group: u32,
    pub partition: u32,
    /// The previous poll's offsets, `[first, end)`; an empty range at a reset's position.
    pub before: (u64, u64),
    /// This poll's offsets, `[first, end)`.
    pub now: (u64, u64),
    pub time_us: u64,
    pub since: Since,
}

impl PollStep {
    /// What the poll came after, in words: `after 3..=5`, `after its position was reset to 7`.
    pub(crate) fn after(&self) -> String {
        match self.since {
            Since::Poll => format!("after {}..={}", self.before.0, self.before.1 - 1),
            Since::Reset => format!("after its position was reset to {}", self.before.1),
            Since::Seek => format!("after it seeked to {}", self.before.1),
            Since::Commit => {
                format!("after it was assigned, below its group's last committed offset {}", self.before.1)
            }
        }
    }
}

/// One owned partition: the ownership's generation, and the position the next poll continues from, if known.
struct Owned {
    generation: i32,
    from: Option<((u64, u64), Since)>,
}

/// Calls `f` for each step, in history order.
pub(crate) fn for_each_poll_step(history: &History, mut f: impl FnMut(PollStep)) {
    let mut owned: BTreeMap<u32, BTreeMap<u32, Owned>> = BTreeMap::new();
    let mut members: BTreeMap<u32, &str> = BTreeMap::new();
    let mut commits = LastCommits::default();
    for entry in &history.entries {
        commits.note(&entry.event);
        match &entry.event {
            &ClientEvent::Assigned { consumer, group, generation, ref partitions } => {
                let mut was = owned.remove(&consumer).unwrap_or_default();
                let now = partitions.iter().map(|&p| {
                    // A static member restarted gets its assignment again at the same generation (KIP-345): a new
                    // process, no positions. A manual assignment (-1) keeps them.
                    let kept = was.remove(&p).filter(|o| generation > o.generation || generation < 0);
                    let kept = kept.map(|o| Owned { generation, ..o });
                    // A partition new to the consumer starts at its group's committed offset (ConsumerCoordinator
                    // .refreshCommittedOffsets), where the history knows it.
                    // Version 1 had no `offsets_reset`: an operator's reset is missing, so the commit is not known.
                    let commit = commits.known(group, p).filter(|_| history.version >= 2);
                    let from = commit.map(|o| ((o, o), Since::Commit));
                    (p, kept.unwrap_or(Owned { generation, from }))
                });
                owned.insert(consumer, now.collect());
            }
            ClientEvent::Revoked { consumer, partitions, .. } => {
                if let Some(mine) = owned.get_mut(consumer) {
                    partitions.iter().for_each(|p| _ = mine.remove(p));
                }
            }
            ClientEvent::LeftGroup { consumer, .. } | ClientEvent::ConsumerCrashed { consumer, .. } => {
                _ = owned.remove(consumer);
            }
            ClientEvent::Joining { consumer, member_id, .. } => {
                let renamed = members.insert(*consumer, member_id).is_none_or(|was| was != member_id);
                if renamed || member_id.is_empty() {
                    owned.remove(consumer);
                }
            }
            &ClientEvent::PositionReset { consumer, partition, offset, .. }
            | &ClientEvent::Seeked { consumer, partition, offset, .. } => {
                let since = if matches!(entry.event, ClientEvent::Seeked { .. }) { Since::Seek } else { Since::Reset };
                if let Some(o) = owned_mut(&mut owned, consumer, partition) {
                    o.from = Some(((offset, offset), since));
                }
            }
            &ClientEvent::Polled { consumer, group, generation, partition, first_offset, count } if count > 0 => {
                let Some(o) = owned_mut(&mut owned, consumer, partition) else { continue };
                if o.generation != generation {
                    *o = Owned { generation, from: None };
                }
                let now = (first_offset, first_offset.saturating_add(u64::from(count)));
                if let Some((before, since)) = o.from.replace((now, Since::Poll)) {
                    f(PollStep { consumer, group, partition, before, now, time_us: entry.time_us, since });
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
            assigned_at(0, 0, 2, &[0, 1]),
            polled_at(0, 2, 1, 9, 1),
            reset(0, 0, 1, 3),
            polled_at(0, 2, 1, 3, 1),
            left(0, 0),
            polled_at(0, 2, 1, 20, 1),
        ]);
        // t-1 stays assigned (not revoked) into generation 2: its position is kept, 2 then 9; the reset to 3 is
        // where the next poll must start; after leaving, nothing counts.
        assert_eq!(s, [((0, 1), (1, 2)), ((1, 2), (9, 10)), ((3, 3), (3, 4))]);
    }

    #[test]
    fn a_static_member_given_its_assignment_again_at_the_same_generation_starts_afresh() {
        let s = steps(vec![assigned(0, 0, &[0]), polled(0, 0, 0, 5, 1), assigned(0, 0, &[0]), polled(0, 0, 0, 3, 1)]);
        assert!(s.is_empty(), "{s:?}");
        let manual = |partitions: &[u32]| assigned_at(0, 0, -1, partitions);
        let s = steps(vec![manual(&[0]), polled_at(0, -1, 0, 5, 1), manual(&[0, 1]), polled_at(0, -1, 0, 6, 1)]);
        assert_eq!(s, [((5, 6), (6, 7))], "assign() keeps the positions of partitions it keeps");
    }

    #[test]
    fn a_new_consumer_process_or_another_generation_starts_afresh() {
        let joining = |id: &str| ClientEvent::Joining { consumer: 0, group: 0, member_id: id.into() };
        let other_generation =
            ClientEvent::Polled { consumer: 0, group: 0, generation: 2, partition: 0, first_offset: 0, count: 1 };
        let s = steps(vec![
            joining("m-1"),
            assigned(0, 0, &[0]),
            polled(0, 0, 0, 4, 1),
            joining("m-1"),
            polled(0, 0, 0, 5, 1),
            other_generation,
            polled(0, 0, 0, 7, 1),
            joining("m-2"),
            assigned(0, 0, &[0]),
            polled(0, 0, 0, 0, 1),
            joining(""),
            assigned(0, 0, &[0]),
            polled(0, 0, 0, 0, 1),
        ]);
        // The same member rejoining keeps its position; a restarted one (m-2) or a first join does not.
        assert_eq!(s, [((4, 5), (5, 6))]);
    }

    #[test]
    fn a_seek_sets_the_position_and_a_crash_ends_the_ownership() {
        let seek = ClientEvent::Seeked { consumer: 0, group: 0, partition: 0, offset: 9 };
        let crash = ClientEvent::ConsumerCrashed { consumer: 0, group: 0 };
        let s = steps(vec![
            assigned(0, 0, &[0]),
            polled(0, 0, 0, 0, 2),
            seek,
            polled(0, 0, 0, 9, 1),
            crash,
            polled(0, 0, 0, 3, 1),
            assigned_at(0, 0, 2, &[0]),
            polled_at(0, 2, 0, 3, 1),
        ]);
        // After the crash the process has no positions: its polls are not compared until its next ownership's
        // second poll.
        assert_eq!(s, [((9, 9), (9, 10))]);
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
