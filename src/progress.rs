//! The liveness phase's progress checks over what clients observed after the heal: every producer still
//! sending gets writes acknowledged again (`producers-progress`), and every group still behind the log's end
//! consumes again (`consumers-progress`). A wedged client — a connection that never recovers, a request storm
//! that never lets up — passes the cluster's own checks (leaders, ISRs, stable groups) and fails these.

use crate::check::expect::LivenessCheck;
use crate::history::{ClientEvent, FinalLog, History};
use crate::kafka::ids::PartitionId;
use crate::kafka::spec::{ClusterSpec, ConsumerSpec};
use std::collections::{BTreeMap, BTreeSet};

/// `producers-progress`: a producer with sends still outstanding at the end of the run (invoked, neither
/// acknowledged nor failed) and still holding sends in its process (`holds_sends`) had at least one send
/// acknowledged after `healed_us`.
pub fn producer_findings(
    history: &History,
    healed_us: u64,
    holds_sends: &dyn Fn(u32) -> bool,
) -> Vec<(LivenessCheck, String)> {
    let mut outstanding: BTreeSet<(u32, u64)> = BTreeSet::new();
    let mut acked_after_heal: BTreeSet<u32> = BTreeSet::new();
    for e in &history.entries {
        match e.event {
            ClientEvent::SendInvoked { producer, send_seq, .. } => {
                outstanding.insert((producer, send_seq));
            }
            ClientEvent::SendAcked { producer, send_seq, .. } => {
                outstanding.remove(&(producer, send_seq));
                if e.time_us >= healed_us {
                    acked_after_heal.insert(producer);
                }
            }
            ClientEvent::SendFailed { producer, send_seq, .. } => {
                outstanding.remove(&(producer, send_seq));
            }
            _ => {}
        }
    }
    // Sends a crash took with the producer's memory never complete, yet nothing waits for them: a producer
    // whose process holds no send at the end is not stuck.
    let stuck: BTreeSet<u32> =
        outstanding.iter().map(|&(p, _)| p).filter(|p| !acked_after_heal.contains(p) && holds_sends(*p)).collect();
    stuck
        .into_iter()
        .map(|p| {
            let waiting = outstanding.iter().filter(|&&(q, _)| q == p).count();
            let name = history.producers.get(p as usize).map_or("?", String::as_str);
            (
                LivenessCheck::ProducersProgress,
                format!("producer {name} has {waiting} sends outstanding and none acknowledged since the heal"),
            )
        })
        .collect()
}

/// `consumers-progress`: in every partition of its topics where a group's position (polled, reset or
/// committed) ends behind the final log's end, the position moved forward after `healed_us`. A group stuck in
/// one partition (a poison record it dies on) fails it, however well its other partitions go.
pub fn consumer_findings(
    history: &History,
    logs: &[FinalLog],
    spec: &ClusterSpec,
    healed_us: u64,
) -> Vec<(LivenessCheck, String)> {
    // (group, partition) → (position reached before the heal, position reached at the end).
    let mut reached: BTreeMap<(u32, u32), (u64, u64)> = BTreeMap::new();
    for e in &history.entries {
        let (group, partition, end) = match e.event {
            ClientEvent::Polled { group, partition, first_offset, count, .. } => {
                (group, partition, first_offset + u64::from(count))
            }
            ClientEvent::PositionReset { group, partition, offset, .. } => (group, partition, offset),
            ClientEvent::Committed { group, partition, offset, error: None, .. } => (group, partition, offset),
            _ => continue,
        };
        let (before, last) = reached.entry((group, partition)).or_default();
        *last = (*last).max(end);
        if e.time_us < healed_us {
            *before = (*before).max(end);
        }
    }
    let ends: BTreeMap<u32, u64> =
        logs.iter().map(|l| (l.partition, l.start_offset + l.records.len() as u64)).collect();
    let mut out = Vec::new();
    for (g, name) in spec.group_ids().zip(&spec.groups) {
        let members: Vec<&ConsumerSpec> = spec.consumers.iter().filter(|c| c.group == g).collect();
        let read = |p: &u32| members.iter().any(|c| c.reads(PartitionId(*p), spec.partitions[*p as usize].topic));
        for p in (0..spec.partitions.len() as u32).filter(read) {
            let (before, last) = reached.get(&(g.0, p)).copied().unwrap_or_default();
            let end = ends.get(&p).copied().unwrap_or(0);
            if last < end && last <= before {
                let partition = spec.partition_name(PartitionId(p));
                let text = format!("group {name} stays at offset {last} of {partition}, whose log ends at {end}");
                out.push((LivenessCheck::ConsumersProgress, text));
            }
        }
    }
    out
}

/// How long a group must have stayed as it is at the end for `groups-stable`: a crash-looping member makes the
/// group Stable for a moment in every cycle, so a single look at the end would be a coin toss.
pub const GROUP_SETTLE_US: u64 = 10_000_000;

/// `groups-stable`, over time: a group whose state changed in the last `GROUP_SETTLE_US` before `end_us` has not
/// settled, even if it is Stable at the end (the end-state check is `Cluster::unconverged`'s).
pub fn group_settle_findings(group_changes: &[crate::sim::GroupChange], end_us: u64) -> Vec<(LivenessCheck, String)> {
    let mut last: BTreeMap<&str, (u64, &'static str)> = BTreeMap::new();
    for change in group_changes {
        last.insert(change.group.as_str(), (change.time_us, change.state));
    }
    let since = end_us.saturating_sub(GROUP_SETTLE_US);
    last.into_iter()
        .filter(|(_, (at, _))| *at > since)
        .map(|(group, (at, state))| {
            let when = crate::engine::SimTime(at);
            (
                LivenessCheck::GroupsStable,
                format!("group {group} was still changing: {state} at {when}, within 10 s of the end"),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sends(invoked: &[u64], acked: &[(u64, u64)]) -> History {
        let mut h = History::new(vec!["orders-0".to_string()], vec!["p".to_string()]);
        for &seq in invoked {
            h.push(seq, ClientEvent::SendInvoked { producer: 0, send_seq: seq, key: None, partition: 0 });
        }
        for &(t, seq) in acked {
            h.push(t, ClientEvent::SendAcked { producer: 0, send_seq: seq, partition: 0, offset: Some(seq) });
        }
        h
    }

    // A producer is stuck when sends are still outstanding, none was acknowledged since the heal, and its
    // process still holds sends; sends a crash took away leave it idle, not stuck.
    #[test]
    fn a_producer_holding_sends_without_an_ack_since_the_heal_is_stuck() {
        let healed = 100;
        let wedged = sends(&[0, 1, 2], &[(10, 0)]);
        let found = producer_findings(&wedged, healed, &|_| true);
        assert_eq!(found.len(), 1);
        assert!(found[0].1.contains("has 2 sends outstanding"), "{found:?}");
        assert!(producer_findings(&wedged, healed, &|_| false).is_empty(), "its sends went with a crash");
        let moving = sends(&[0, 1, 2], &[(10, 0), (150, 1)]);
        assert!(producer_findings(&moving, healed, &|_| true).is_empty(), "acknowledged after the heal");
    }

    // A group's last state change decides: within the settle window of the end it has not settled, whatever
    // that state is; before it, it has.
    #[test]
    fn a_group_that_changed_near_the_end_has_not_settled() {
        let s = 1_000_000;
        let change = |time_us, group: &str, generation, state, members| crate::sim::GroupChange {
            time_us,
            group: group.to_string(),
            generation,
            state,
            members,
        };
        let changes = vec![
            change(5 * s, "calm", 1, "Stable", 2),
            change(60 * s, "looping", 7, "PreparingRebalance", 1),
            change(65 * s, "looping", 8, "Stable", 1),
        ];
        let found = group_settle_findings(&changes, 70 * s);
        assert_eq!(found.len(), 1);
        assert!(found[0].1.starts_with("group looping was still changing: Stable at 65.000s"), "{found:?}");
        assert!(group_settle_findings(&changes, 75 * s + 1).is_empty(), "settled after 10 s without change");
    }
}
