//! `run --timeline FILE.html`: one run drawn over time, the view that explains a violation. This module turns
//! a sampled run (`sim::run_sampled`) into lanes of spans — each node's faults, each partition's committed
//! leadership and each replica's own view of itself with its log end and high watermark, each group's owners
//! per generation, the produce acknowledgements and errors per bin — and the violations the checker found, at
//! their times; `html` draws them.

mod html;

pub use html::html;

use crate::check::verdict::{ClusterEvent, explain};
use crate::check::{self, Violation};
use crate::engine::{NodeId, NodeStatus};
use crate::history::{ClientEvent, History};
use crate::kafka::ids::{BrokerId, LeaderEpoch, Offset, PartitionId};
use crate::kafka::obs::Obs;
use crate::kafka::spec::ClusterSpec;
use crate::samples::{ReplicaRole, Sampler, StateSample};
use crate::sim::{GroupChange, Outcome, TraceEvent, TraceLine};
use std::collections::BTreeMap;

/// The most violations of one invariant marked on the page (the rest are counted).
pub const MARKED_PER_INVARIANT: usize = 10;
/// The most bins of the produce chart: the bin widens with the run to stay under it.
const MAX_PRODUCE_BINS: u64 = 600;

/// A state that held from `from_us` until `to_us`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span<T> {
    pub from_us: u64,
    pub to_us: u64,
    pub state: T,
}

/// What was wrong with a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trouble {
    Down,
    Paused,
    /// Cut off (in one direction or both) from `peers` of the other nodes.
    CutOff {
        peers: u32,
    },
}

/// What a replica was: its own belief about its role, set against the controller's committed state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaPhase {
    /// Its broker was not running.
    Down,
    /// Running, and not yet told its role.
    Unknown,
    /// It believed it led at `epoch`; `current` is whether the controller's committed leader was it at that epoch
    /// (a stale leader still serving after the controller moved on is not).
    Leader { epoch: LeaderEpoch, current: bool },
    /// A follower, in the committed ISR or not.
    Follower { epoch: LeaderEpoch, in_isr: bool },
}

/// The controller's committed leadership of a partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    pub leader: Option<BrokerId>,
    pub epoch: LeaderEpoch,
    pub isr: Vec<BrokerId>,
}

/// A state from a time on (`None`: no state, a gap).
pub type Point<T> = (u64, Option<T>);

/// A replica's log end and high watermark at a sample, `None` while its broker was down.
pub type OffsetPoint = Point<(Offset, Offset)>;

/// A replica's log cut back from `from` to `to` (its log end before and after).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncation {
    pub at_us: u64,
    pub from: Offset,
    pub to: Offset,
}

/// What a member owned in one generation, by partition name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owned {
    pub generation: i32,
    pub partitions: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct ReplicaLane {
    pub broker: BrokerId,
    pub phases: Vec<Span<ReplicaPhase>>,
    pub offsets: Vec<OffsetPoint>,
    pub truncations: Vec<Truncation>,
}

#[derive(Clone, Debug)]
pub struct PartitionLanes {
    pub partition: PartitionId,
    pub name: String,
    pub committed: Vec<Span<Committed>>,
    pub replicas: Vec<ReplicaLane>,
}

/// One consumer's assignments in a group, one span per generation (what it owned, by partition name).
#[derive(Clone, Debug)]
pub struct MemberLane {
    pub consumer: String,
    pub owned: Vec<Span<Owned>>,
}

#[derive(Clone, Debug)]
pub struct GroupLanes {
    pub name: String,
    pub members: Vec<MemberLane>,
    /// From PreparingRebalance to Stable (or Empty, or Dead), labelled with the generation it reached.
    pub rebalances: Vec<Span<i32>>,
}

/// The produce outcomes in one bin: acknowledged sends, final failures and failed attempts, by Kafka error.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProduceBin {
    pub acked: u64,
    pub failed: BTreeMap<String, u64>,
    pub attempt_errors: BTreeMap<String, u64>,
}

/// A violation the checker found, numbered for its marker and its anchor on the page.
#[derive(Clone, Debug)]
pub struct Marked {
    pub number: usize,
    pub invariant: &'static str,
    pub partition: Option<u32>,
    pub time_us: Option<u64>,
    pub text: String,
    pub explanation: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Timeline {
    pub title: String,
    pub reproduce: String,
    pub end_us: u64,
    pub sample_every_us: u64,
    pub nodes: Vec<(String, Vec<Span<Trouble>>)>,
    pub faults: Vec<(u64, String)>,
    pub partitions: Vec<PartitionLanes>,
    pub groups: Vec<GroupLanes>,
    pub produce_bin_us: u64,
    pub produce: Vec<ProduceBin>,
    pub violations: Vec<Marked>,
    /// Violations per invariant, marked or not.
    pub violation_counts: BTreeMap<&'static str, usize>,
}

impl Timeline {
    /// The timeline of a run made by `sim::run_sampled` (with its trace and samples).
    pub fn of(title: String, reproduce: String, spec: &ClusterSpec, outcome: &Outcome) -> Timeline {
        let sampler = outcome.samples.as_ref().expect("a timeline needs a sampled run (sim::run_sampled)");
        let trace = outcome.trace.as_deref().expect("a sampled run keeps its trace");
        let end_us = outcome.stats.simulated_time_us;
        let found = check::check_all(&outcome.history, Some(&outcome.final_logs));
        let produce_bin_us = (end_us.div_ceil(MAX_PRODUCE_BINS)).max(1_000_000).next_multiple_of(1_000_000);
        let nodes = node_lanes(spec, &sampler.samples, end_us);
        let mut groups = group_lanes(&outcome.history, &outcome.group_changes, end_us);
        end_ownership_at_crashes(&mut groups, &nodes);
        Timeline {
            title,
            reproduce,
            end_us,
            sample_every_us: sampler.every_us,
            nodes,
            faults: outcome.faults.clone(),
            partitions: partition_lanes(spec, sampler, trace, end_us),
            groups,
            produce_bin_us,
            produce: produce_bins(&outcome.history, produce_bin_us, end_us),
            violation_counts: found.iter().map(|(name, v)| (*name, v.len())).collect(),
            violations: marked(&found, &outcome.cluster_events),
        }
    }
}

/// Spans from a state at each point in time order, each holding until the next point that changes it (the last
/// until `end_us`); `None` states leave gaps.
pub fn spans<T: Clone + PartialEq>(points: impl IntoIterator<Item = Point<T>>, end_us: u64) -> Vec<Span<T>> {
    let mut out: Vec<Span<T>> = Vec::new();
    let mut open: Option<(u64, T)> = None;
    for (at, state) in points {
        if open.as_ref().map(|(_, s)| s) == state.as_ref() {
            continue;
        }
        if let Some((from_us, state)) = open.take() {
            out.push(Span { from_us, to_us: at, state });
        }
        open = state.map(|s| (at, s));
    }
    if let Some((from_us, state)) = open {
        out.push(Span { from_us, to_us: end_us.max(from_us), state });
    }
    out
}

fn node_lanes(spec: &ClusterSpec, samples: &[StateSample], end_us: u64) -> Vec<(String, Vec<Span<Trouble>>)> {
    (0..spec.node_count() as usize)
        .map(|n| {
            // A client is down until it is launched at its `start`: not a fault.
            let started = samples.iter().position(|s| s.nodes[n].status != NodeStatus::Down).unwrap_or(samples.len());
            let troubles = samples[started..].iter().map(|s| {
                let c = s.nodes[n];
                let trouble = match c.status {
                    NodeStatus::Down => Some(Trouble::Down),
                    NodeStatus::Paused => Some(Trouble::Paused),
                    NodeStatus::Up => (c.cut_peers > 0).then_some(Trouble::CutOff { peers: c.cut_peers }),
                };
                (s.time_us, trouble)
            });
            (spec.node_name(NodeId(n as u32)), spans(troubles, end_us))
        })
        .collect()
}

/// Each sampled partition's committed leadership (from the controller's events in the trace, exact) and each
/// replica's phases and offsets (from the samples, at their interval, and at each committed change).
fn partition_lanes(spec: &ClusterSpec, sampler: &Sampler, trace: &[TraceLine], end_us: u64) -> Vec<PartitionLanes> {
    let mut committed: BTreeMap<u32, Vec<(u64, Committed)>> = BTreeMap::new();
    let mut truncations: BTreeMap<(u32, BrokerId), Vec<Truncation>> = BTreeMap::new();
    for line in trace {
        match &line.event {
            TraceEvent::Node(Obs::LeaderElected { partition, leader, leader_epoch, isr, .. }) => {
                let change = Committed { leader: *leader, epoch: *leader_epoch, isr: isr.clone() };
                committed.entry(partition.0).or_default().push((line.time_us, change));
            }
            TraceEvent::Node(Obs::IsrChanged { partition, leader_epoch, isr, .. }) => {
                let changes = committed.entry(partition.0).or_default();
                let leader =
                    changes.last().and_then(|(_, c)| c.leader).or(spec.partition(*partition).replicas.first().copied());
                changes.push((line.time_us, Committed { leader, epoch: *leader_epoch, isr: isr.clone() }));
            }
            TraceEvent::Node(Obs::Truncated { broker, partition, from_offset, to_offset, .. }) => {
                truncations.entry((partition.0, *broker)).or_default().push(Truncation {
                    at_us: line.time_us,
                    from: *from_offset,
                    to: *to_offset,
                });
            }
            _ => {}
        }
    }
    sampler
        .partitions
        .iter()
        .enumerate()
        .map(|(slot, &p)| {
            let replicas = &spec.partition(p).replicas;
            // The controller creates each partition led by its first replica, every replica in sync (epoch 0).
            let initial = Committed { leader: replicas.first().copied(), epoch: 0, isr: replicas.clone() };
            let mut changes = vec![(0, initial)];
            changes.extend(committed.remove(&p.0).unwrap_or_default());
            let lanes = replicas
                .iter()
                .enumerate()
                .map(|(r, &broker)| ReplicaLane {
                    broker,
                    phases: replica_phases(&sampler.samples, (slot, r), broker, &changes, end_us),
                    offsets: sampler
                        .samples
                        .iter()
                        .map(|s| (s.time_us, s.replicas[slot][r].map(|x| (x.log_end, x.high_watermark))))
                        .collect(),
                    truncations: truncations.remove(&(p.0, broker)).unwrap_or_default(),
                })
                .collect();
            let points = changes.into_iter().map(|(t, c)| (t, Some(c)));
            PartitionLanes {
                partition: p,
                name: spec.partition_name(p),
                committed: spans(points, end_us),
                replicas: lanes,
            }
        })
        .collect()
}

/// A replica's phase at each sample and each committed change, in time order (a sample first at a tie: the
/// change is what happened at that instant).
fn replica_phases(
    samples: &[StateSample],
    (slot, r): (usize, usize),
    broker: BrokerId,
    changes: &[(u64, Committed)],
    end_us: u64,
) -> Vec<Span<ReplicaPhase>> {
    let (mut s, mut c) = (0, 0);
    let mut points = Vec::with_capacity(samples.len() + changes.len());
    while s < samples.len() || c < changes.len() {
        let sample_next = c >= changes.len() || (s < samples.len() && samples[s].time_us <= changes[c].0);
        let at = if sample_next { samples[s].time_us } else { changes[c].0 };
        if sample_next {
            s += 1
        } else {
            c += 1
        }
        let (Some(sample), Some((_, committed))) =
            (s.checked_sub(1).map(|i| &samples[i]), c.checked_sub(1).map(|i| &changes[i]))
        else {
            continue;
        };
        let phase = match sample.replicas[slot][r].map(|x| x.role) {
            None => ReplicaPhase::Down,
            Some(ReplicaRole::Unknown) => ReplicaPhase::Unknown,
            Some(ReplicaRole::Leader { epoch }) => {
                ReplicaPhase::Leader { epoch, current: committed.leader == Some(broker) && committed.epoch == epoch }
            }
            Some(ReplicaRole::Follower { epoch }) => {
                ReplicaPhase::Follower { epoch, in_isr: committed.isr.contains(&broker) }
            }
        };
        points.push((at, Some(phase)));
    }
    spans(points, end_us)
}

/// Per group, each member's ownership per generation (from `assigned` to the next `assigned`, `revoked` or
/// `left_group`), and the coordinator's rebalances.
fn group_lanes(history: &History, changes: &[GroupChange], end_us: u64) -> Vec<GroupLanes> {
    // Per (group, consumer): what it owned from each event on (`None`: nothing).
    let mut owned: BTreeMap<(u32, u32), Vec<Point<Owned>>> = BTreeMap::new();
    for e in &history.entries {
        let (consumer, group, owns) = match &e.event {
            ClientEvent::Assigned { consumer, group, generation, partitions } => {
                let names = partitions
                    .iter()
                    .map(|&p| history.partitions.get(p as usize).cloned().unwrap_or_else(|| p.to_string()))
                    .collect();
                (*consumer, *group, Some(Owned { generation: *generation, partitions: names }))
            }
            ClientEvent::Revoked { consumer, group, .. } | ClientEvent::LeftGroup { consumer, group, .. } => {
                (*consumer, *group, None)
            }
            _ => continue,
        };
        owned.entry((group, consumer)).or_default().push((e.time_us, owns));
    }
    history
        .groups
        .iter()
        .enumerate()
        .map(|(g, name)| {
            let members = owned
                .range((g as u32, 0)..=(g as u32, u32::MAX))
                .map(|(&(_, c), points)| MemberLane {
                    consumer: history.consumers.get(c as usize).cloned().unwrap_or_else(|| format!("consumer {c}")),
                    owned: spans(points.iter().cloned(), end_us),
                })
                .collect();
            GroupLanes { name: name.clone(), members, rebalances: rebalances(name, changes, end_us) }
        })
        .collect()
}

/// A consumer that crashed owns nothing from then on (its coordinator may still count it as a member until its
/// session times out, but it processes nothing).
fn end_ownership_at_crashes(groups: &mut [GroupLanes], nodes: &[(String, Vec<Span<Trouble>>)]) {
    for member in groups.iter_mut().flat_map(|g| g.members.iter_mut()) {
        let Some((_, troubles)) = nodes.iter().find(|(name, _)| *name == member.consumer) else { continue };
        let crashes: Vec<u64> = troubles.iter().filter(|t| t.state == Trouble::Down).map(|t| t.from_us).collect();
        for span in &mut member.owned {
            if let Some(&at) = crashes.iter().find(|&&at| span.from_us < at && at < span.to_us) {
                span.to_us = at;
            }
        }
    }
}

fn rebalances(group: &str, changes: &[GroupChange], end_us: u64) -> Vec<Span<i32>> {
    let mut out = Vec::new();
    let mut since = None;
    for c in changes.iter().filter(|c| c.group == group) {
        match c.state {
            "PreparingRebalance" => {
                since.get_or_insert(c.time_us);
            }
            "Stable" | "Empty" | "Dead" => {
                if let Some(from_us) = since.take() {
                    out.push(Span { from_us, to_us: c.time_us, state: c.generation });
                }
            }
            _ => {}
        }
    }
    out.extend(since.map(|from_us| Span { from_us, to_us: end_us, state: -1 }));
    out
}

fn produce_bins(history: &History, bin_us: u64, end_us: u64) -> Vec<ProduceBin> {
    let mut bins = vec![ProduceBin::default(); (end_us / bin_us + 1) as usize];
    for e in &history.entries {
        let bin = &mut bins[(e.time_us / bin_us).min(end_us / bin_us) as usize];
        match &e.event {
            ClientEvent::SendAcked { .. } => bin.acked += 1,
            ClientEvent::SendFailed { error, .. } => *bin.failed.entry(error.clone()).or_default() += 1,
            ClientEvent::ProduceAttemptFailed { error, .. } => {
                *bin.attempt_errors.entry(error.clone()).or_default() += 1
            }
            _ => {}
        }
    }
    bins
}

/// The first `MARKED_PER_INVARIANT` violations of each invariant, numbered from 1, with their explanations.
fn marked(found: &BTreeMap<&'static str, Vec<Violation>>, events: &[ClusterEvent]) -> Vec<Marked> {
    let shown = found.iter().flat_map(|(name, vs)| vs.iter().take(MARKED_PER_INVARIANT).map(move |v| (*name, v)));
    shown
        .enumerate()
        .map(|(i, (invariant, v))| Marked {
            number: i + 1,
            invariant,
            partition: v.partition,
            time_us: v.time_us,
            text: v.detail.clone(),
            explanation: explain(v, events),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_merge_equal_states_and_leave_gaps_for_none() {
        let points = [(0, Some('a')), (5, Some('a')), (10, None), (20, Some('b')), (30, Some('c'))];
        let got = spans(points, 40);
        let want = vec![
            Span { from_us: 0, to_us: 10, state: 'a' },
            Span { from_us: 20, to_us: 30, state: 'b' },
            Span { from_us: 30, to_us: 40, state: 'c' },
        ];
        assert_eq!(got, want);
    }
}
