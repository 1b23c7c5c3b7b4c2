//! The seeded nemesis (`[nemesis]`): fault episodes drawn from their own random stream before the run starts and
//! written out as an ordinary fault schedule, so a seed's faults can be printed (`run --emit-scenario`), replayed
//! without the nemesis, and shrunk. Each episode is a fault and, later, what ends it (a restart, a resume, a
//! repair); its targets are roles resolved when it fires ("the leader of orders-2"), and the end names "the
//! target of fault N", so it undoes exactly what its fault did.

use super::{FaultAction, ScheduledFault, Target};
use crate::engine::rng::stream;
use crate::engine::{NodeId, Ratio, SimRng};
use crate::kafka::cluster::ResetTo;
use crate::kafka::ids::{BrokerId, GroupId, PartitionId, TopicId};
use crate::kafka::log::StorageLoss;
use crate::kafka::spec::ClusterSpec;
use rand::Rng;

/// The kinds of fault the nemesis draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// A broker chosen among those up crashes (kill -9), then restarts.
    Crash,
    /// The leader of a partition crashes, then restarts.
    LeaderCrash,
    /// A broker loses power: its page cache (what was not flushed) is gone; then it restarts.
    PowerLoss,
    /// A broker shuts down in a controlled way (leadership moves first), then restarts.
    Shutdown,
    /// A broker stops (a GC pause, a stalled VM) and resumes where it was.
    Pause,
    /// The active controller crashes, then restarts.
    ControllerCrash,
    /// A group's coordinator (the leader of its __consumer_offsets partition) crashes, then restarts.
    CoordinatorCrash,
    /// A consumer's process crashes, then restarts as a new member.
    ConsumerCrash,
    /// A broker is cut off from every other node, then the links are repaired.
    Isolate,
    /// The active controller is cut off from every other node, then the links are repaired.
    IsolateController,
    /// A partition's leader is cut off from the other brokers (not from the controller or clients).
    LeaderCutOff,
    /// A partition's leader is cut off from the other brokers and the controllers, not from the clients: it
    /// goes on serving them while the controller fences it and elects another leader.
    LeaderPartitioned,
    /// Messages from one broker to another are lost; the other direction works.
    CutOneWay,
    /// Messages from one broker to another wait at the far end (a stalled connection), then arrive in order.
    HoldLink,
    /// Messages from one broker to another are slow and some are lost (a flaky link).
    DegradeLink,
    /// A consumer's application stops polling (stuck in a slow call) past `max.poll.interval.ms` while its
    /// heartbeat thread goes on, then polls again.
    ConsumerStall,
    /// An operator resets a group's committed offsets on one of its topics to the earliest (kafka-consumer-groups
    /// --reset-offsets --to-earliest, refused unless the group is empty); nothing ends it.
    ResetOffsets,
}

impl FaultKind {
    pub const ALL: [FaultKind; 17] = [
        FaultKind::Crash,
        FaultKind::LeaderCrash,
        FaultKind::PowerLoss,
        FaultKind::Shutdown,
        FaultKind::Pause,
        FaultKind::ControllerCrash,
        FaultKind::CoordinatorCrash,
        FaultKind::ConsumerCrash,
        FaultKind::Isolate,
        FaultKind::IsolateController,
        FaultKind::LeaderCutOff,
        FaultKind::LeaderPartitioned,
        FaultKind::CutOneWay,
        FaultKind::HoldLink,
        FaultKind::DegradeLink,
        FaultKind::ConsumerStall,
        FaultKind::ResetOffsets,
    ];

    /// The name a scenario file uses.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::LeaderCrash => "leader-crash",
            FaultKind::PowerLoss => "power-loss",
            FaultKind::Shutdown => "shutdown",
            FaultKind::Pause => "pause",
            FaultKind::ControllerCrash => "controller-crash",
            FaultKind::CoordinatorCrash => "coordinator-crash",
            FaultKind::ConsumerCrash => "consumer-crash",
            FaultKind::Isolate => "isolate",
            FaultKind::IsolateController => "isolate-controller",
            FaultKind::LeaderCutOff => "leader-cut-off",
            FaultKind::LeaderPartitioned => "leader-partitioned",
            FaultKind::CutOneWay => "cut-one-way",
            FaultKind::HoldLink => "hold-link",
            FaultKind::DegradeLink => "degrade-link",
            FaultKind::ConsumerStall => "consumer-stall",
            FaultKind::ResetOffsets => "reset-offsets",
        }
    }

    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the cluster has something for this kind to hit.
    fn applies_to(self, cluster: &ClusterSpec) -> bool {
        match self {
            FaultKind::CoordinatorCrash => cluster.group_ids().next().is_some(),
            FaultKind::ConsumerCrash | FaultKind::ConsumerStall => !cluster.consumers.is_empty(),
            FaultKind::ResetOffsets => !group_topics(cluster).is_empty(),
            FaultKind::CutOneWay | FaultKind::LeaderCutOff | FaultKind::HoldLink | FaultKind::DegradeLink => {
                cluster.broker_count >= 2
            }
            _ => true,
        }
    }
}

/// The most episodes one seed's schedule holds; the loader's bounds (an interval of at least 100 ms over at
/// most 24 h) stay below it.
pub const MAX_EPISODES: usize = 1_000_000;

/// `[nemesis]`: what may go wrong, how often, for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NemesisSpec {
    /// The kinds that are on, in `FaultKind::ALL` order, none repeated.
    pub kinds: Vec<FaultKind>,
    /// The mean time from one fault's start to the next (each gap is uniform in ½–1½ of it).
    pub interval_us: u64,
    /// The mean time a fault lasts before it is ended (uniform in ½–1½ of it).
    pub duration_us: u64,
    /// How many faults may be in effect at once.
    pub max_active: u32,
    /// No fault starts before this.
    pub quiet_us: u64,
    /// No fault starts at or after this, and every fault has ended by it.
    pub heal_at_us: u64,
    /// Swarm testing: each seed turns each kind on with probability ½ (at least one stays on) and scales the
    /// interval by ½, 1 or 2.
    pub swarm: bool,
}

/// What one seed's nemesis drew: the kinds it used and its interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draw {
    pub kinds: Vec<FaultKind>,
    pub interval_us: u64,
}

impl NemesisSpec {
    /// The seed's swarm draw (or the spec itself without swarm), from the nemesis's own stream.
    fn draw(&self, rng: &mut SimRng, cluster: &ClusterSpec) -> Draw {
        let usable: Vec<FaultKind> = self.kinds.iter().copied().filter(|k| k.applies_to(cluster)).collect();
        if !self.swarm || usable.is_empty() {
            return Draw { kinds: usable, interval_us: self.interval_us };
        }
        let mut kinds: Vec<FaultKind> = usable.iter().copied().filter(|_| rng.random_range(0..2u32) == 0).collect();
        if kinds.is_empty() {
            kinds.push(usable[rng.random_range(0..usable.len())]);
        }
        let interval_us = match rng.random_range(0..3u32) {
            0 => self.interval_us / 2,
            1 => self.interval_us,
            _ => self.interval_us.saturating_mul(2),
        };
        Draw { kinds, interval_us: interval_us.max(1) }
    }

    /// The seed's fault schedule, to run after the scenario's own faults (`first_index` of them): each
    /// episode's fault, then what ends it.
    pub fn schedule(&self, cluster: &ClusterSpec, seed: u64, first_index: usize) -> (Draw, Vec<ScheduledFault>) {
        let mut rng = stream(seed, "nemesis", 0);
        let draw = self.draw(&mut rng, cluster);
        let mut faults = Vec::new();
        if draw.kinds.is_empty() {
            return (draw, faults);
        }
        let mut active_until: Vec<u64> = Vec::new();
        let mut now = self.quiet_us;
        for _ in 0..MAX_EPISODES {
            now = now.saturating_add(around(&mut rng, draw.interval_us));
            active_until.retain(|&end| end > now);
            if active_until.len() >= self.max_active as usize {
                // Wait for the earliest fault in effect to end.
                now = active_until.iter().copied().min().unwrap_or(now);
                active_until.retain(|&end| end > now);
            }
            if now >= self.heal_at_us {
                break;
            }
            let lasts_us = around(&mut rng, self.duration_us);
            let kind = draw.kinds[rng.random_range(0..draw.kinds.len())];
            let index = first_index + faults.len();
            let episode = episode(kind, cluster, index, &mut rng);
            faults.push(ScheduledFault { at_us: now, when: None, action: episode.fault });
            let Some(ending) = episode.ending else { continue };
            let end = now.saturating_add(episode.at_least_us).saturating_add(lasts_us).min(self.heal_at_us);
            active_until.push(end);
            faults.push(ScheduledFault { at_us: end, when: None, action: ending });
        }
        (draw, faults)
    }
}

/// Uniform in ½–1½ of `mean_us` (integers only, so every platform draws the same).
fn around(rng: &mut SimRng, mean_us: u64) -> u64 {
    let low = (mean_us / 2).max(1);
    rng.random_range(low..=low.saturating_add(mean_us))
}

/// A partition of a topic the scenario declares (not `__consumer_offsets`), chosen uniformly.
fn some_partition(cluster: &ClusterSpec, rng: &mut SimRng) -> PartitionId {
    let user: Vec<PartitionId> = (0..cluster.partitions.len() as u32)
        .map(PartitionId)
        .filter(|&p| !cluster.partition_name(p).starts_with("__"))
        .collect();
    if user.is_empty() {
        return PartitionId(rng.random_range(0..cluster.partitions.len() as u32));
    }
    user[rng.random_range(0..user.len())]
}

/// One episode: a fault, what ends it (none for an instant one, as an offsets reset), and how long it lasts at
/// least before the nemesis's drawn duration (a stall must outlast `max.poll.interval.ms` to matter).
struct Episode {
    fault: FaultAction,
    ending: Option<FaultAction>,
    at_least_us: u64,
}

impl From<(FaultAction, FaultAction)> for Episode {
    fn from((fault, ending): (FaultAction, FaultAction)) -> Self {
        Episode { fault, ending: Some(ending), at_least_us: 0 }
    }
}

/// The (group, topic) pairs a committed offset may exist for: each subscribing consumer's group and topics.
fn group_topics(cluster: &ClusterSpec) -> Vec<(GroupId, TopicId)> {
    let mut pairs: Vec<(GroupId, TopicId)> = cluster
        .consumers
        .iter()
        .filter(|c| !c.without_group_id)
        .flat_map(|c| c.topics.iter().map(move |&t| (c.group, t)))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// The episode of `kind` at index `index` of the schedule.
fn episode(kind: FaultKind, cluster: &ClusterSpec, index: usize, rng: &mut SimRng) -> Episode {
    match kind {
        FaultKind::ConsumerStall => {
            let consumers = (0..cluster.consumers.len() as u32).map(|c| cluster.consumer_node(c)).collect();
            let poll_timeout_us = cluster.consumers.iter().map(|c| c.config.max_poll_interval_us).max().unwrap_or(0);
            Episode {
                fault: FaultAction::StopPolling { target: Target::OneOf(consumers) },
                ending: Some(FaultAction::ResumePolling { target: Target::TargetOf(index) }),
                at_least_us: poll_timeout_us,
            }
        }
        FaultKind::ResetOffsets => {
            let pairs = group_topics(cluster);
            let (group, topic) = pairs[rng.random_range(0..pairs.len())];
            let fault = FaultAction::ResetOffsets { group, topic, to: ResetTo::Earliest };
            Episode { fault, ending: None, at_least_us: 0 }
        }
        _ => paired_episode(kind, cluster, index, rng).into(),
    }
}

/// A fault and the action that ends it, as soon as the drawn duration is over.
fn paired_episode(
    kind: FaultKind,
    cluster: &ClusterSpec,
    index: usize,
    rng: &mut SimRng,
) -> (FaultAction, FaultAction) {
    let hit = Target::TargetOf(index);
    let brokers: Vec<NodeId> = (1..=cluster.broker_count).map(|b| cluster.broker_node(BrokerId(b))).collect();
    let every_node: Vec<Target> = (0..cluster.node_count()).map(|n| Target::Node(NodeId(n))).collect();
    let crash = |target, loss| FaultAction::Crash { target, loss };
    let restart = FaultAction::Restart { target: hit.clone() };
    let repair = FaultAction::RepairSides { side_a: vec![hit.clone()], side_b: every_node };
    let a_broker = Target::OneOf(brokers.clone());
    match kind {
        FaultKind::Crash => (crash(a_broker, StorageLoss::Nothing), restart),
        FaultKind::LeaderCrash => {
            (crash(Target::LeaderOf(some_partition(cluster, rng)), StorageLoss::Nothing), restart)
        }
        FaultKind::PowerLoss => (crash(a_broker, StorageLoss::PageCache), restart),
        FaultKind::Shutdown => (FaultAction::Shutdown { target: a_broker }, restart),
        FaultKind::Pause => (FaultAction::Pause { target: a_broker }, FaultAction::Resume { target: hit }),
        FaultKind::ControllerCrash => (crash(Target::Controller, StorageLoss::Nothing), restart),
        FaultKind::CoordinatorCrash => {
            let groups: Vec<GroupId> = cluster.group_ids().collect();
            let group: GroupId = groups[rng.random_range(0..groups.len())];
            let offsets = cluster.offsets_partition_of(group).expect("a group has an offsets partition");
            (crash(Target::LeaderOf(offsets), StorageLoss::Nothing), restart)
        }
        FaultKind::ConsumerCrash => {
            let consumers = (0..cluster.consumers.len() as u32).map(|c| cluster.consumer_node(c)).collect();
            (crash(Target::OneOf(consumers), StorageLoss::Nothing), restart)
        }
        FaultKind::Isolate => (FaultAction::Isolate { target: a_broker }, repair),
        FaultKind::IsolateController => (FaultAction::Isolate { target: Target::Controller }, repair),
        FaultKind::LeaderCutOff => {
            let others: Vec<Target> = brokers.iter().map(|&b| Target::Node(b)).collect();
            let cut = FaultAction::Partition {
                side_a: vec![Target::LeaderOf(some_partition(cluster, rng))],
                side_b: others.clone(),
            };
            (cut, FaultAction::RepairSides { side_a: vec![hit], side_b: others })
        }
        FaultKind::LeaderPartitioned => {
            let controllers = (0..cluster.controller_count).map(|c| cluster.controller_node(c));
            let others: Vec<Target> = brokers.iter().copied().chain(controllers).map(Target::Node).collect();
            let cut = FaultAction::Partition {
                side_a: vec![Target::LeaderOf(some_partition(cluster, rng))],
                side_b: others.clone(),
            };
            (cut, FaultAction::RepairSides { side_a: vec![hit], side_b: others })
        }
        FaultKind::CutOneWay => {
            let (from, to) = two_brokers(&brokers, rng);
            let cut = FaultAction::CutOneWay { from: from.clone(), to: to.clone() };
            (cut, FaultAction::RepairOneWay { from, to })
        }
        FaultKind::HoldLink => {
            let (from, to) = two_brokers(&brokers, rng);
            (FaultAction::Hold { from: from.clone(), to: to.clone() }, FaultAction::Release { from, to })
        }
        FaultKind::DegradeLink => {
            let (from, to) = two_brokers(&brokers, rng);
            let extra_latency_us = around(rng, DEGRADED_LATENCY_US);
            let loss = Some(DEGRADED_LOSS);
            let degrade = FaultAction::Degrade { from: from.clone(), to: to.clone(), extra_latency_us, loss };
            (degrade, FaultAction::RepairOneWay { from, to })
        }
        FaultKind::ConsumerStall | FaultKind::ResetOffsets => unreachable!("{kind:?} is not a paired episode"),
    }
}

/// A degraded link's mean extra latency, and the share of its messages lost.
const DEGRADED_LATENCY_US: u64 = 100_000;
const DEGRADED_LOSS: Ratio = Ratio { numerator: 1, denominator: 20 };

/// Two different brokers, drawn uniformly: a link's ends.
fn two_brokers(brokers: &[NodeId], rng: &mut SimRng) -> (Target, Target) {
    let from = rng.random_range(0..brokers.len());
    let to = (from + rng.random_range(1..brokers.len())) % brokers.len();
    (Target::Node(brokers[from]), Target::Node(brokers[to]))
}
