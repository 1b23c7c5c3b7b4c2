//! Fault schedules: what happens to which node when. Targets may name a node or a role ("the leader of
//! orders-0"), resolved when the fault fires, from the controller's committed metadata. A fault fires at a time
//! (`at`) or when a condition over the cluster's state starts to hold (`when`, see `trigger`).

pub mod nemesis;
pub mod plan;
pub mod trigger;
pub mod view;

use crate::engine::{NodeId, Ratio, SimRng};
use crate::kafka::cluster::{Cluster, ResetTo};
use crate::kafka::controller::ElectionType;
use crate::kafka::ids::{GroupId, PartitionId, TopicId};
use crate::kafka::log::StorageLoss;
use rand::Rng;
use std::collections::BTreeMap;

/// Whom a fault hits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Node(NodeId),
    /// The partition's leader as the controller has it when the fault fires.
    LeaderOf(PartitionId),
    /// One of the partition's replicas that is not its leader, chosen with the faults' random stream.
    FollowerOf(PartitionId),
    /// The active controller (the metadata quorum's leader) when the fault fires.
    Controller,
    /// The node most recently crashed, shut down or paused by an earlier fault.
    LastStopped,
    /// The member of a group (by index) that owns a partition when the fault fires.
    OwnerOf(GroupId, PartitionId),
    /// One of these nodes that is up, chosen with the faults' random stream (e.g. a member of a group).
    OneOf(Vec<NodeId>),
    /// What the fault's `when` condition saw when it held: the leader of the partition it names...
    ThatLeader,
    /// ...or the broker it is about (named, joining or leaving the ISR, or the previous leader).
    ThatBroker,
    /// The node an earlier fault (by its index in the schedule) hit when it fired: what a restart, a resume or a
    /// repair that ends it acts on. For a cut between sides, the first node of its first side.
    TargetOf(usize),
}

impl FaultAction {
    /// Every target it names, to rewrite (a shrunk schedule renumbers `TargetOf`).
    pub fn targets_mut(&mut self) -> Vec<&mut Target> {
        match self {
            FaultAction::Crash { target, .. }
            | FaultAction::Restart { target }
            | FaultAction::Shutdown { target }
            | FaultAction::Pause { target }
            | FaultAction::Resume { target }
            | FaultAction::Isolate { target }
            | FaultAction::DelayMetadata { target, .. }
            | FaultAction::StopPolling { target }
            | FaultAction::ResumePolling { target }
            | FaultAction::Seek { target, .. } => vec![target],
            FaultAction::Partition { side_a, side_b } | FaultAction::RepairSides { side_a, side_b } => {
                side_a.iter_mut().chain(side_b.iter_mut()).collect()
            }
            FaultAction::CutOneWay { from, to }
            | FaultAction::RepairOneWay { from, to }
            | FaultAction::Hold { from, to }
            | FaultAction::Release { from, to }
            | FaultAction::Degrade { from, to, .. } => vec![from, to],
            FaultAction::Heal | FaultAction::ElectLeaders { .. } | FaultAction::ResetOffsets { .. } => Vec::new(),
        }
    }

    /// Whether it takes its target down (what `last-stopped` then names): a crash, a shutdown or a pause.
    fn stops_its_target(&self) -> bool {
        matches!(self, FaultAction::Crash { .. } | FaultAction::Shutdown { .. } | FaultAction::Pause { .. })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// A hard crash, and what it takes from storage: nothing (kill -9), the unflushed tail of every log (a
    /// power loss), or every log (a lost disk).
    Crash {
        target: Target,
        loss: StorageLoss,
    },
    Restart {
        target: Target,
    },
    /// A controlled shutdown (brokers move leadership away first).
    Shutdown {
        target: Target,
    },
    Pause {
        target: Target,
    },
    Resume {
        target: Target,
    },
    /// Cuts every link between the two sides.
    Partition {
        side_a: Vec<Target>,
        side_b: Vec<Target>,
    },
    Isolate {
        target: Target,
    },
    /// Messages from `from` to `to` are lost; the other direction still works.
    CutOneWay {
        from: Target,
        to: Target,
    },
    /// A broker applies no metadata update for `duration_us` (its metadata path is slow or cut while its other
    /// links work), then catches up at once.
    DelayMetadata {
        target: Target,
        duration_us: u64,
    },
    /// Messages from `from` to `to` get through again, at the normal latency (one direction; `heal` restores
    /// every link).
    RepairOneWay {
        from: Target,
        to: Target,
    },
    /// Both directions between every node of the two sides get through again.
    RepairSides {
        side_a: Vec<Target>,
        side_b: Vec<Target>,
    },
    /// Messages from `from` to `to` wait at the far end until `Release` (or `heal`), then arrive in order.
    Hold {
        from: Target,
        to: Target,
    },
    Release {
        from: Target,
        to: Target,
    },
    /// Messages from `from` to `to` take `extra_latency_us` longer and `loss` of them are lost.
    Degrade {
        from: Target,
        to: Target,
        extra_latency_us: u64,
        loss: Option<Ratio>,
    },
    Heal,
    /// An operator asks the controller for leader elections (kafka-leader-election.sh --election-type, one
    /// partition or all of them).
    ElectLeaders {
        election: ElectionType,
        partition: Option<PartitionId>,
    },
    /// A consumer's application thread stops calling poll() (stuck in a slow call) while its heartbeat thread
    /// goes on: past `max.poll.interval.ms` the member leaves its group.
    StopPolling {
        target: Target,
    },
    /// The application thread comes back: it finishes its batch and polls (rejoining if it left).
    ResumePolling {
        target: Target,
    },
    /// A consumer's application moves its position in a partition it is assigned (KafkaConsumer.seek,
    /// seekToBeginning, seekToEnd, or offsetsForTimes then seek).
    Seek {
        target: Target,
        partition: PartitionId,
        to: ResetTo,
    },
    /// An operator resets a group's committed offsets on a topic (kafka-consumer-groups --reset-offsets).
    ResetOffsets {
        group: GroupId,
        topic: TopicId,
        to: ResetTo,
    },
}

/// A fault's state trigger: the condition, how long after it holds the fault fires, and how many times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct When {
    pub condition: trigger::Condition,
    pub delay_us: u64,
    pub repeat: u32,
}

/// A fault at a time, or (with `when`) when a condition holds, watched from `at_us` on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledFault {
    pub at_us: u64,
    pub when: Option<When>,
    pub action: FaultAction,
}

/// Applies faults to a cluster, remembering what earlier ones hit.
pub struct FaultInjector {
    rng: SimRng,
    last_stopped: Option<NodeId>,
    /// Per fault (by index), the node it hit when it last fired.
    hit: BTreeMap<usize, NodeId>,
    /// The fault being applied.
    applying: usize,
    /// What the trigger of the fault being applied saw (nothing for a fault at a time).
    seen: trigger::Seen,
    /// Whether the fault being applied takes its node down (`FaultAction::stops_its_target`).
    stops: bool,
}

impl FaultInjector {
    pub fn new(rng: SimRng) -> Self {
        FaultInjector {
            rng,
            last_stopped: None,
            hit: BTreeMap::new(),
            applying: 0,
            seen: trigger::Seen::default(),
            stops: false,
        }
    }

    /// Resolves `target` now; `None` when the role has no holder (a leaderless partition).
    pub fn resolve(&mut self, cluster: &Cluster, target: &Target) -> Option<NodeId> {
        let spec = &cluster.spec;
        match target {
            Target::Node(n) => Some(*n),
            Target::LeaderOf(p) => cluster.leader_of(*p).map(|b| spec.broker_node(b)),
            Target::FollowerOf(p) => {
                let leader = cluster.leader_of(*p);
                let followers: Vec<_> = spec.partition(*p).replicas.iter().filter(|&&b| Some(b) != leader).collect();
                if followers.is_empty() {
                    return None;
                }
                let pick = followers[self.rng.random_range(0..followers.len())];
                Some(spec.broker_node(*pick))
            }
            Target::Controller => cluster.active_controller().map(|i| spec.controller_node(i)),
            Target::LastStopped => self.last_stopped,
            Target::OwnerOf(group, p) => cluster.owner_of(*group, *p),
            Target::OneOf(nodes) => {
                let up: Vec<NodeId> = nodes.iter().copied().filter(|&n| cluster.is_up(n)).collect();
                (!up.is_empty()).then(|| up[self.rng.random_range(0..up.len())])
            }
            Target::ThatLeader => self.seen.leader.map(|b| spec.broker_node(b)),
            Target::ThatBroker => self.seen.broker.map(|b| spec.broker_node(b)),
            Target::TargetOf(fault) => self.hit.get(fault).copied(),
        }
    }

    /// Fires fault `index` and describes what it did, for the trace; `seen` is what its trigger saw.
    pub fn apply(&mut self, cluster: &mut Cluster, index: usize, action: &FaultAction, seen: trigger::Seen) -> String {
        self.seen = seen;
        self.applying = index;
        self.stops = action.stops_its_target();
        match action {
            FaultAction::Crash { target, loss } => {
                let verb = match loss {
                    StorageLoss::Nothing => "crash",
                    StorageLoss::PageCache => "power off",
                    StorageLoss::Disk => "crash and lose the disk of",
                };
                self.on_node(cluster, target, verb, |c, n| c.crash(n, *loss))
            }
            FaultAction::Restart { target } => self.on_node(cluster, target, "restart", |c, n| c.restart(n)),
            FaultAction::Shutdown { target } => self.on_node(cluster, target, "shutdown", |c, n| {
                c.shutdown(n);
                None
            }),
            FaultAction::Pause { target } => self.on_node(cluster, target, "pause", |c, n| {
                c.pause(n);
                None
            }),
            FaultAction::Resume { target } => self.on_node(cluster, target, "resume", |c, n| {
                c.resume(n);
                None
            }),
            FaultAction::Isolate { target } => self.on_node(cluster, target, "isolate", |c, n| {
                c.isolate(n);
                None
            }),
            FaultAction::Partition { side_a, side_b } => {
                let a = self.resolve_all(cluster, side_a);
                let b = self.resolve_all(cluster, side_b);
                if let Some(&first) = a.first() {
                    self.hit.insert(self.applying, first);
                }
                cluster.partition(&a, &b);
                format!("partition {} | {}", names(cluster, &a), names(cluster, &b))
            }
            FaultAction::CutOneWay { from, to } => {
                self.on_link(cluster, from, to, "cut", |c, f, t| c.cut_one_way(f, t))
            }
            FaultAction::DelayMetadata { target, duration_us } => {
                let until = cluster.now().plus_us(*duration_us);
                let verb = format!("hold metadata updates for {}ms of", duration_us / 1_000);
                self.on_node(cluster, target, &verb, |c, n| {
                    c.hold_metadata(n, until);
                    None
                })
            }
            FaultAction::RepairOneWay { from, to } => self.on_link(cluster, from, to, "repair", |c, f, t| {
                c.repair_one_way(f, t);
            }),
            FaultAction::RepairSides { side_a, side_b } => {
                let a = self.resolve_all(cluster, side_a);
                let b = self.resolve_all(cluster, side_b);
                for (&x, &y) in a.iter().flat_map(|x| b.iter().map(move |y| (x, y))) {
                    cluster.repair_one_way(x, y);
                    cluster.repair_one_way(y, x);
                }
                format!("repair {} | {}", names(cluster, &a), names(cluster, &b))
            }
            FaultAction::Hold { from, to } => self.on_link(cluster, from, to, "hold", |c, f, t| c.hold(f, t)),
            FaultAction::Release { from, to } => self.on_link(cluster, from, to, "release", |c, f, t| c.release(f, t)),
            FaultAction::Degrade { from, to, extra_latency_us, loss } => {
                let loss_text = loss.map_or(String::new(), |r| format!(", lose {}/{}", r.numerator, r.denominator));
                let verb = format!("degrade (+{}us{loss_text})", extra_latency_us);
                self.on_link(cluster, from, to, &verb, |c, f, t| c.degrade(f, t, *extra_latency_us, *loss))
            }
            FaultAction::ResetOffsets { group, topic, to } => {
                let outcome = cluster.reset_offsets(*group, *topic, *to);
                format!(
                    "reset offsets of group {} on {}: {outcome}",
                    cluster.spec.group_name(*group),
                    cluster.spec.topic(*topic).name
                )
            }
            FaultAction::ElectLeaders { election, partition } => cluster.elect_leaders(*election, *partition),
            FaultAction::Seek { target, partition, to } => {
                self.on_node(cluster, target, "seek", |c, n| Some(c.seek(n, *partition, *to)))
            }
            FaultAction::StopPolling { target } => {
                self.on_node(cluster, target, "stop polling", |c, n| Some(c.set_polling(n, false)))
            }
            FaultAction::ResumePolling { target } => {
                self.on_node(cluster, target, "resume polling", |c, n| Some(c.set_polling(n, true)))
            }
            FaultAction::Heal => {
                cluster.heal_network();
                "heal the network".to_string()
            }
        }
    }

    /// Acts on the directed link between two targets resolved now.
    fn on_link(
        &mut self,
        cluster: &mut Cluster,
        from: &Target,
        to: &Target,
        verb: &str,
        act: impl FnOnce(&mut Cluster, NodeId, NodeId),
    ) -> String {
        match (self.resolve(cluster, from), self.resolve(cluster, to)) {
            (Some(f), Some(t)) => {
                self.hit.insert(self.applying, f);
                act(cluster, f, t);
                format!("{verb} {} -> {}", cluster.spec.node_name(f), cluster.spec.node_name(t))
            }
            _ => format!("{verb}: no such target now"),
        }
    }

    fn on_node(
        &mut self,
        cluster: &mut Cluster,
        target: &Target,
        verb: &str,
        act: impl FnOnce(&mut Cluster, NodeId) -> Option<String>,
    ) -> String {
        let Some(node) = self.resolve(cluster, target) else {
            return format!("{verb}: no node holds {target:?} now");
        };
        self.hit.insert(self.applying, node);
        if self.stops {
            self.last_stopped = Some(node);
        }
        let detail = act(cluster, node);
        let name = cluster.spec.node_name(node);
        match detail {
            Some(detail) => format!("{verb} {name} ({detail})"),
            None => format!("{verb} {name}"),
        }
    }

    fn resolve_all(&mut self, cluster: &Cluster, targets: &[Target]) -> Vec<NodeId> {
        targets.iter().filter_map(|t| self.resolve(cluster, t)).collect()
    }
}

fn names(cluster: &Cluster, nodes: &[NodeId]) -> String {
    nodes.iter().map(|&n| cluster.spec.node_name(n)).collect::<Vec<_>>().join(",")
}
