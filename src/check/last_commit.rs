//! Each group's last committed offset per partition, as far as a history of clients knows it: where the group's
//! next owner of the partition starts (ConsumerCoordinator.refreshCommittedOffsets). `ownership` compares a newly
//! assigned partition's first poll with it.
//!
//! Known after a successful commit or an admin's reset-offsets (`OffsetsReset`). A commit the history did not see
//! succeed may still have been applied: one that failed with an error the coordinator also gives after appending
//! (GroupMetadataManager.storeOffsets maps append failures and timeouts to COORDINATOR_NOT_AVAILABLE and
//! NOT_COORDINATOR; a request timeout), or the last commits of a member that left, crashed or restarted, whose
//! answers may never have come back. Such a commit can land after a later one, so the group's committed offset
//! may go back — but only while the generation it was sent in is current: the coordinator refuses an older
//! generation's commits (GroupCoordinator.handleCommitOffsets: ILLEGAL_GENERATION). So the offset stays unknown
//! until a commit of a later generation succeeds, or an admin reset (which needs an empty group, so refuses every
//! member's commit) sets it. A manual assignment's commits (generation -1) are never refused for their
//! generation: once one is unsure, only a reset makes the offset known again.

use crate::history::ClientEvent;
use std::collections::BTreeMap;

/// Commit errors the coordinator returns without appending anything: GroupCoordinator.handleCommitOffsets's and
/// OffsetMetadataManager.validateOffsetCommit's group, generation and membership checks, a coordinator still
/// loading, metadata too large (per partition), and the client's own refusal outside an active group.
const REFUSED: [&str; 9] = [
    "UNKNOWN_MEMBER_ID",
    "ILLEGAL_GENERATION",
    "REBALANCE_IN_PROGRESS",
    "FENCED_INSTANCE_ID",
    "STALE_MEMBER_EPOCH",
    "GROUP_ID_NOT_FOUND",
    "COORDINATOR_LOAD_IN_PROGRESS",
    "OFFSET_METADATA_TOO_LARGE",
    "CommitFailedException",
];

/// A generation no later commit passes: what a manual assignment's unsure commit leaves.
const FOREVER: i32 = i32::MAX;

#[derive(Default)]
pub(crate) struct LastCommits {
    /// The last committed offset per (group, partition), `None` while an unseen commit may have changed it.
    offsets: BTreeMap<(u32, u32), Option<u64>>,
    /// Per (group, partition), the latest generation one of whose commits may still land unseen.
    unsure_through: BTreeMap<(u32, u32), i32>,
    /// Per group, the same for every partition (a member that left or crashed may have had any in flight).
    group_unsure_through: BTreeMap<u32, i32>,
    /// Per group, the latest generation seen, which a member's departure makes unsure.
    generation: BTreeMap<u32, i32>,
    /// Each consumer's member id at its last join, `None` once it left or crashed: another id is a new process or a
    /// lost membership.
    members: BTreeMap<u32, Option<String>>,
}

impl LastCommits {
    /// Takes in the history's next event.
    pub(crate) fn note(&mut self, event: &ClientEvent) {
        match event {
            &ClientEvent::Committed { group, generation, partition, offset, ref error, .. } => {
                self.saw_generation(group, generation);
                match error {
                    None => self.committed(group, generation, partition, offset),
                    Some(e) if REFUSED.contains(&e.as_str()) => {}
                    Some(_) => self.unsure(group, partition, generation),
                }
            }
            &ClientEvent::OffsetsReset { group, partition, offset } => {
                _ = self.offsets.insert((group, partition), Some(offset));
            }
            &ClientEvent::Assigned { group, generation, .. } | &ClientEvent::Polled { group, generation, .. } => {
                self.saw_generation(group, generation);
            }
            ClientEvent::LeftGroup { consumer, group, .. } | ClientEvent::ConsumerCrashed { consumer, group } => {
                _ = self.members.insert(*consumer, None);
                self.member_gone(*group);
            }
            ClientEvent::Joining { consumer, group, member_id } => {
                let was = self.members.insert(*consumer, Some(member_id.clone())).flatten();
                // A first join without an id, then with the one the coordinator gave (KIP-394), is one process; a
                // process whose end was recorded is already gone.
                if was.is_some_and(|was| !was.is_empty() && was != *member_id) {
                    self.member_gone(*group);
                }
            }
            _ => {}
        }
    }

    /// The group's committed offset for `partition`, if the history knows it.
    pub(crate) fn known(&self, group: u32, partition: u32) -> Option<u64> {
        self.offsets.get(&(group, partition)).copied().flatten()
    }

    fn committed(&mut self, group: u32, generation: i32, partition: u32, offset: u64) {
        let unsure = [self.unsure_through.get(&(group, partition)), self.group_unsure_through.get(&group)];
        let passes = unsure.into_iter().flatten().all(|&u| generation >= 0 && generation > u);
        _ = self.offsets.insert((group, partition), passes.then_some(offset));
    }

    fn unsure(&mut self, group: u32, partition: u32, generation: i32) {
        let through = if generation < 0 { FOREVER } else { generation };
        let u = self.unsure_through.entry((group, partition)).or_insert(through);
        *u = (*u).max(through);
        _ = self.offsets.insert((group, partition), None);
    }

    fn member_gone(&mut self, group: u32) {
        let through = self.generation.get(&group).map_or(0, |&g| if g < 0 { FOREVER } else { g });
        let u = self.group_unsure_through.entry(group).or_insert(through);
        *u = (*u).max(through);
        self.offsets.range_mut((group, 0)..=(group, u32::MAX)).for_each(|(_, o)| *o = None);
    }

    fn saw_generation(&mut self, group: u32, generation: i32) {
        let g = self.generation.entry(group).or_insert(generation);
        // A manual assignment's -1 is remembered over any group generation: its commits are never refused.
        *g = if generation < 0 || *g < 0 { -1 } else { (*g).max(generation) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn known_after(events: &[ClientEvent]) -> Option<u64> {
        let mut c = LastCommits::default();
        events.iter().for_each(|e| c.note(e));
        c.known(1, 0)
    }

    #[test]
    fn a_successful_commit_or_an_admin_reset_is_the_known_offset() {
        assert_eq!(known_after(&[committed(1, 3, 0, 40, None), committed(1, 3, 0, 50, None)]), Some(50));
        assert_eq!(known_after(&[committed(1, 3, 0, 40, None), committed(1, 3, 1, 70, None)]), Some(40));
        assert_eq!(known_after(&[committed(2, 3, 0, 40, None)]), None);
        let reset = ClientEvent::OffsetsReset { group: 1, partition: 0, offset: 5 };
        assert_eq!(known_after(&[committed(1, 3, 0, 40, None), reset]), Some(5));
    }

    // GroupCoordinator.handleCommitOffsets refuses a commit of a stale generation or an unknown member before
    // appending it: the offset stays what it was. A timeout or NOT_COORDINATOR may come after the append.
    #[test]
    fn a_refused_commit_keeps_the_offset_an_indeterminate_one_makes_it_unknown() {
        assert_eq!(
            known_after(&[committed(1, 3, 0, 40, None), committed(1, 2, 0, 90, Some("ILLEGAL_GENERATION"))]),
            Some(40)
        );
        assert_eq!(known_after(&[committed(1, 3, 0, 40, None), committed(1, 3, 0, 90, Some("NOT_COORDINATOR"))]), None);
        assert_eq!(
            known_after(&[committed(1, 3, 0, 40, None), committed(1, 3, 0, 90, Some("REQUEST_TIMED_OUT"))]),
            None
        );
    }

    // The timed-out commit of generation 3 may still land after a later success of generation 3, never after the
    // group moved on to generation 4.
    #[test]
    fn an_unsure_commit_stays_unsure_until_a_later_generation_commits() {
        let unsure = committed(1, 3, 0, 40, Some("REQUEST_TIMED_OUT"));
        assert_eq!(known_after(&[unsure.clone(), committed(1, 3, 0, 50, None)]), None);
        assert_eq!(
            known_after(&[unsure.clone(), committed(1, 3, 0, 50, None), committed(1, 4, 0, 60, None)]),
            Some(60)
        );
        let manual = committed(1, -1, 0, 40, Some("REQUEST_TIMED_OUT"));
        assert_eq!(known_after(&[manual.clone(), committed(1, -1, 0, 50, None)]), None);
        let reset = ClientEvent::OffsetsReset { group: 1, partition: 0, offset: 7 };
        assert_eq!(known_after(&[manual, reset]), Some(7));
    }

    #[test]
    fn a_member_that_left_crashed_or_restarted_makes_the_group_unsure_through_its_generation() {
        let joined = |id: &str| ClientEvent::Joining { consumer: 0, group: 1, member_id: id.into() };
        let before = [joined("a"), assigned_at(0, 1, 3, &[0]), committed(1, 3, 0, 40, None)];
        for gone in [left(0, 1), ClientEvent::ConsumerCrashed { consumer: 0, group: 1 }, joined("b")] {
            let mut events = before.to_vec();
            events.extend([gone, committed(1, 3, 0, 45, None)]);
            assert_eq!(known_after(&events), None, "{:?}", events[3]);
            events.push(committed(1, 4, 0, 50, None));
            assert_eq!(known_after(&events), Some(50), "{:?}", events[3]);
        }
        // The same member rejoining (an eager rebalance) is no new process; a new process after a recorded end
        // changes nothing more: an admin's reset of the empty group in between stays the offset.
        assert_eq!(known_after(&[before.to_vec(), vec![joined("a")]].concat()), Some(40));
        let reset = ClientEvent::OffsetsReset { group: 1, partition: 0, offset: 7 };
        assert_eq!(known_after(&[before.to_vec(), vec![left(0, 1), reset, joined("b")]].concat()), Some(7));
    }
}
