//! A running cluster: the engine with every Kafka node in it, and the operations faults and observers need
//! (crash, restart, controlled shutdown, pause; who leads what; the final state of every replica).

use super::broker::{Broker, Replica, Role};
use super::consumer::Consumer;
use super::controller::{Controller, ElectionType};
use super::coordinator::GroupState;
use super::ids::{BrokerId, ClientId, GroupId, LeaderEpoch, Offset, PartitionId, TopicId};
use super::log::StorageLoss;
use super::messages::{ChangeReason, Msg, OffsetAndEpoch};
use super::node::Node;
use super::producer::Producer;
use super::spec::{ClusterSpec, NodeRole};
use crate::check::expect::LivenessCheck;
use crate::engine::{Engine, LatencyModel, Limits, Network, NodeId, NodeStatus, Ratio, SimTime, Topology, stream};
use serde::Serialize;
use std::rc::Rc;

pub struct Cluster {
    pub spec: Rc<ClusterSpec>,
    pub engine: Engine<Node>,
    /// Clients not created yet: (when, node), in order.
    launches: Vec<(u64, NodeId)>,
}

/// Where `--reset-offsets` moves a group: `--to-earliest`, `--to-latest`, `--to-offset N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub enum ResetTo {
    Earliest,
    Latest,
    Offset(u64),
    /// `--to-datetime`: the first offset whose timestamp is at or after this simulated time (ListOffsets by
    /// timestamp, KIP-79), or the log end if there is none.
    Datetime(SimTime),
}

impl std::fmt::Display for ResetTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResetTo::Earliest => write!(f, "earliest"),
            ResetTo::Latest => write!(f, "latest"),
            ResetTo::Offset(o) => write!(f, "offset {o}"),
            ResetTo::Datetime(t) => write!(f, "datetime {t}"),
        }
    }
}

/// One replica at the end of a run.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ReplicaSummary {
    pub broker: BrokerId,
    pub up: bool,
    pub role: &'static str,
    pub log_end_offset: Offset,
    pub high_watermark: Offset,
}

/// One partition at the end of a run, as the controller has it and as each replica has it.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct PartitionSummary {
    pub partition: String,
    pub leader: Option<BrokerId>,
    pub leader_epoch: LeaderEpoch,
    pub isr: Vec<BrokerId>,
    pub replicas: Vec<ReplicaSummary>,
}

/// The clients created at their `start` rather than at time 0, in (time, node) order: producers and consumers
/// whose workload starts later, a stage's producer with its consumer (one process in Kafka).
fn client_launches(spec: &ClusterSpec) -> Vec<(u64, NodeId)> {
    let mut out = Vec::new();
    for (c, consumer) in spec.consumers.iter().enumerate() {
        if consumer.start_us > 0 {
            out.push((consumer.start_us, spec.consumer_node(c as u32)));
            if let Some(producer) = consumer.stage_producer {
                out.push((consumer.start_us, spec.producer_node(producer)));
            }
        }
    }
    let staged: Vec<ClientId> = spec.consumers.iter().filter_map(|c| c.stage_producer).collect();
    for (p, producer) in spec.producers.iter().enumerate() {
        let id = ClientId(p as u32);
        if producer.start_us > 0 && producer.driven_by.is_none() && !staged.contains(&id) {
            out.push((producer.start_us, spec.producer_node(id)));
        }
    }
    out.sort_unstable();
    out
}

/// The network's links: brokers and controllers talk with every node; clients with them, and a processor stage's
/// consumer with its own producer (`Msg::Forward`).
fn topology(spec: &ClusterSpec) -> Topology {
    let stages = spec.consumers.iter().enumerate().filter_map(|(c, consumer)| {
        consumer.stage_producer.map(|p| (spec.consumer_node(c as u32).0, spec.producer_node(p).0))
    });
    Topology { nodes: spec.node_count(), hubs: spec.broker_count + spec.controller_count, leaf_links: stages.collect() }
}

impl Cluster {
    /// Builds every node with its own random stream derived from `seed` and its name; nothing runs until `start`.
    pub fn new(spec: ClusterSpec, seed: u64, latency: LatencyModel, limits: Limits) -> Self {
        let spec = Rc::new(spec);
        let count = spec.node_count();
        let nodes = (0..count)
            .map(|n| {
                let node = match spec.role_of(NodeId(n)) {
                    NodeRole::Broker(b) => Node::Broker(Box::new(Broker::new(b, spec.clone()))),
                    NodeRole::Controller(i) => Node::Controller(Box::new(Controller::new(i, spec.clone()))),
                    NodeRole::Producer(c) => Node::Producer(Box::new(Producer::new(c, spec.clone()))),
                    NodeRole::Consumer(c) => {
                        let key =
                            crate::engine::rng::key(seed, &format!("processing {}", spec.node_name(NodeId(n))), 0);
                        Node::Consumer(Box::new(Consumer::new(c, spec.clone(), key)))
                    }
                };
                // Keyed by the node's name, not its engine number: adding a controller or removing a consumer
                // leaves every other node's draws (a producer's keys) as they were.
                (node, stream(seed, &format!("node {}", spec.node_name(NodeId(n))), 0))
            })
            .collect();
        let network = Network::with_topology(topology(&spec), latency, stream(seed, "network", 0));
        let mut engine = Engine::new(nodes, network, limits);
        let launches = client_launches(&spec);
        launches.iter().for_each(|&(_, node)| engine.hold_back(node));
        Cluster { spec, engine, launches }
    }

    /// When the next held-back client is created, if any is left.
    pub fn next_launch_us(&self) -> Option<u64> {
        self.launches.first().map(|(at, _)| *at)
    }

    /// Creates the clients due by `now_us` (their process starts: `on_start`).
    pub fn launch_due(&mut self, now_us: u64) {
        while let Some(&(at, node)) = self.launches.first() {
            if at > now_us {
                break;
            }
            self.launches.remove(0);
            self.engine.restart(node);
        }
    }

    /// Whether `node` is a client that has not been created yet (faults leave it alone).
    fn not_yet_created(&self, node: NodeId) -> bool {
        self.launches.iter().any(|(_, n)| *n == node)
    }

    pub fn broker(&self, b: BrokerId) -> &Broker {
        match self.engine.process(self.spec.broker_node(b)) {
            Node::Broker(broker) => broker,
            _ => unreachable!("node numbering puts brokers first"),
        }
    }

    /// What every broker's logs hold in memory, estimated (`ReplicaLog::retained_bytes`), down brokers' included.
    pub fn retained_log_bytes(&self) -> u64 {
        let replicas = |b| self.broker(b).replicas.iter().flatten().map(|r| r.log.retained_bytes()).sum::<u64>();
        self.spec.brokers().map(replicas).sum()
    }

    /// The replicas of broker `b` borrowed mutably since the state checker last asked.
    pub fn take_touched_replicas(&mut self, b: BrokerId) -> super::broker::Touched {
        match self.engine.process_mut(self.spec.broker_node(b)) {
            Node::Broker(broker) => broker.replicas.take_touched(),
            _ => unreachable!("node numbering puts brokers first"),
        }
    }

    fn controller_at(&self, index: u32) -> &Controller {
        match self.engine.process(self.spec.controller_node(index)) {
            Node::Controller(c) => c,
            _ => unreachable!("node numbering puts the controllers after the brokers"),
        }
    }

    /// The active controller (the quorum leader of the highest epoch among running controllers), if any.
    pub fn active_controller(&self) -> Option<u32> {
        (0..self.spec.controller_count)
            .filter(|&i| self.is_up(self.spec.controller_node(i)) && self.controller_at(i).is_active())
            .max_by_key(|&i| self.controller_at(i).quorum.epoch)
    }

    /// The controller whose committed metadata is the cluster's truth now: the active one, else the one that
    /// has committed the most.
    pub fn controller(&self) -> &Controller {
        let index = self.active_controller().unwrap_or_else(|| {
            (0..self.spec.controller_count).max_by_key(|&i| self.controller_at(i).quorum.high_watermark).unwrap_or(0)
        });
        self.controller_at(index)
    }

    pub fn producer_idle(&self, c: ClientId) -> bool {
        match self.engine.process(self.spec.producer_node(c)) {
            Node::Producer(p) => p.is_idle(),
            _ => true,
        }
    }

    pub fn is_up(&self, node: NodeId) -> bool {
        self.engine.status(node) != NodeStatus::Down
    }

    /// A hard crash (kill -9; a power loss; a lost disk). Returns what the logs lost, if anything.
    pub fn crash(&mut self, node: NodeId, loss: StorageLoss) -> Option<String> {
        if !self.is_up(node) {
            return None;
        }
        if let Some(producer) = self.stage_producer_of(node) {
            // A processor stage's producer lives in the same process: it dies with it.
            self.crash(producer, loss);
        }
        let lost = self.engine.crash(node, loss);
        if loss == StorageLoss::Nothing {
            // A process crash leaves the OS running, and it resets the process's connections at once. After a
            // power loss nothing answers: peers wait for their own timeouts.
            self.close_connections(node);
        }
        lost
    }

    fn close_connections(&mut self, node: NodeId) {
        for peer in self.spec.connection_peers(node) {
            self.engine.send_as(node, peer, Msg::ConnectionClosed);
        }
    }

    /// `delay-metadata`: a broker applies no metadata update until `until`; other nodes are not affected.
    pub fn hold_metadata(&mut self, node: NodeId, until: SimTime) {
        self.engine.invoke(node, |n, _| {
            if let Node::Broker(b) = n {
                b.hold_metadata(until);
            }
        });
    }

    /// Starts a stopped node again (a broker recovers its logs and registers anew).
    /// Starts a stopped node again. A broker still in its controlled shutdown is killed first, as an operator
    /// (or systemd's stop timeout) does who stops waiting for it; says so. A node that is up stays as it is.
    pub fn restart(&mut self, node: NodeId) -> Option<String> {
        let shutting_down = matches!(self.spec.role_of(node), NodeRole::Broker(b) if self.is_up(node) && self.broker(b).is_shutting_down());
        if shutting_down {
            self.crash(node, StorageLoss::Nothing);
        }
        if self.is_up(node) || self.not_yet_created(node) {
            return None;
        }
        if let Some(producer) = self.stage_producer_of(node) {
            self.restart(producer);
        }
        self.engine.restart(node);
        shutting_down.then(|| "killed first: its controlled shutdown had not finished".to_string())
    }

    /// Begins a controlled shutdown of a broker; it exits once the controller has moved its leadership away.
    /// Other nodes simply stop.
    pub fn shutdown(&mut self, node: NodeId) {
        if self.engine.status(node) != NodeStatus::Up {
            return;
        }
        match self.spec.role_of(node) {
            NodeRole::Broker(_) => self.engine.invoke(node, |n, ctx| {
                if let Node::Broker(b) = n {
                    b.begin_controlled_shutdown(ctx);
                }
            }),
            NodeRole::Consumer(_) => {
                self.engine.invoke(node, |n, ctx| {
                    if let Node::Consumer(c) = n {
                        c.close(ctx);
                    }
                });
                // A stage's producer stays up: the consumer finishes its batch (and its writes) before closing.
            }
            _ => {
                self.engine.stop(node);
                self.close_connections(node);
            }
        }
    }

    /// The application of consumer `node` seeks its position in partition `p` (it must be assigned it). Says
    /// what happened.
    pub fn seek(&mut self, node: NodeId, p: PartitionId, to: ResetTo) -> String {
        if !matches!(self.spec.role_of(node), NodeRole::Consumer(_)) || self.engine.status(node) != NodeStatus::Up {
            return "not a running consumer".to_string();
        }
        let mut said = String::new();
        self.engine.invoke(node, |n, ctx| {
            if let Node::Consumer(c) = n {
                said = c.seek(p, to, ctx);
            }
        });
        said
    }

    /// A consumer's application stops polling, its heartbeat thread going on (`resume` false), or comes back.
    /// Says what happened.
    pub fn set_polling(&mut self, node: NodeId, resume: bool) -> String {
        if !matches!(self.spec.role_of(node), NodeRole::Consumer(_)) || self.engine.status(node) != NodeStatus::Up {
            return "not a running consumer".to_string();
        }
        let mut said = String::new();
        self.engine.invoke(node, |n, ctx| {
            if let Node::Consumer(c) = n {
                said = if resume { c.resume_polling(ctx) } else { c.stop_polling() };
            }
        });
        said
    }

    /// Resets `group`'s committed offsets on `topic` (the consumer-groups tool): earliest (the log start), latest
    /// (each partition's high watermark, as ListOffsets reports it) or a given offset. Says what happened.
    /// kafka-leader-election.sh: ElectLeaders for one partition or all, handled by the active controller.
    pub fn elect_leaders(&mut self, election: ElectionType, partition: Option<PartitionId>) -> String {
        let what = match election {
            ElectionType::Preferred => "preferred",
            ElectionType::Unclean => "unclean",
        };
        let Some(active) = self.active_controller() else {
            return format!("elect {what} leaders: refused, no active controller");
        };
        let partitions: Vec<PartitionId> = match partition {
            Some(p) => vec![p],
            None => (0..self.spec.partitions.len() as u32).map(PartitionId).collect(),
        };
        let mut elected = 0;
        self.engine.invoke(self.spec.controller_node(active), |n, ctx| {
            let Node::Controller(c) = n else { unreachable!("node numbering puts the controllers after the brokers") };
            elected = c.elect_leaders(election, &partitions, ChangeReason::LeaderElectionTool, ctx);
        });
        format!("elect {what} leaders: {elected} of {} partitions got a new leader", partitions.len())
    }

    pub fn reset_offsets(&mut self, group: GroupId, topic: TopicId, to: ResetTo) -> String {
        let Some(coordinator) = self.spec.offsets_partition_of(group).and_then(|p| self.leader_of(p)) else {
            return "refused: the group has no coordinator".to_string();
        };
        let partitions: Vec<PartitionId> = self.spec.topic_partitions(topic).collect();
        let offsets: Vec<(PartitionId, OffsetAndEpoch)> = partitions
            .iter()
            .map(|&p| {
                let offset = match to {
                    ResetTo::Earliest => self.leader_log(p).map_or(0, |log| log.log_start_offset()),
                    // ConsumerGroupCommand.checkOffsetsRange: an offset outside the log moves to its start or end.
                    ResetTo::Offset(o) => {
                        self.leader_log(p).map_or(0, |log| o.clamp(log.log_start_offset(), log.log_end_offset()))
                    }
                    ResetTo::Latest => self.leader_log(p).map_or(0, |log| log.high_watermark()),
                    // Never beyond what consumers may read.
                    ResetTo::Datetime(t) => {
                        self.leader_log(p).map_or(0, |log| log.offset_for_time(t).min(log.high_watermark()))
                    }
                };
                (p, OffsetAndEpoch::without_epoch(offset))
            })
            .collect();
        let mut result = Err("the coordinator is down".to_string());
        let node = self.spec.broker_node(coordinator);
        if self.is_up(node) {
            self.engine.invoke(node, |n, ctx| {
                if let Node::Broker(b) = n {
                    result = b.admin_reset_offsets(group, offsets.clone(), ctx);
                }
            });
        }
        match result {
            Ok(()) => format!("to {to} on {} partitions", offsets.len()),
            Err(why) => format!("refused: {why}"),
        }
    }

    fn leader_log(&self, p: PartitionId) -> Option<&super::log::ReplicaLog> {
        self.leader_of(p).and_then(|b| self.broker(b).replicas[p.index()].as_ref()).map(|r| &r.log)
    }

    /// The producer node of a processor stage's consumer node.
    fn stage_producer_of(&self, node: NodeId) -> Option<NodeId> {
        match self.spec.role_of(node) {
            NodeRole::Consumer(c) => self.spec.consumers[c as usize].stage_producer.map(|p| self.spec.producer_node(p)),
            _ => None,
        }
    }

    /// The running member of `group` that owns `p` now, if any.
    pub fn owner_of(&self, group: GroupId, p: PartitionId) -> Option<NodeId> {
        (0..self.spec.consumers.len() as u32).map(|c| self.spec.consumer_node(c)).find(|&node| {
            self.is_up(node)
                && matches!(self.engine.process(node), Node::Consumer(c) if c.owns(p))
                && self.spec.consumers[self.spec.role_index(node)].group == group
        })
    }

    // ---- the fault verbs on processes and links (turmoil's `Sim` verbs), for the fault injector ----

    /// A GC stall or SIGSTOP: the process handles nothing until `resume`.
    pub fn pause(&mut self, node: NodeId) {
        self.engine.pause(node);
    }

    pub fn resume(&mut self, node: NodeId) {
        self.engine.resume(node);
    }

    /// Cuts every link to and from `node`.
    pub fn isolate(&mut self, node: NodeId) {
        self.engine.network.isolate(node.0);
    }

    /// Cuts every link between the two sides, both ways.
    pub fn partition(&mut self, side_a: &[NodeId], side_b: &[NodeId]) {
        let ids = |v: &[NodeId]| v.iter().map(|n| n.0).collect::<Vec<_>>();
        self.engine.network.partition(&ids(side_a), &ids(side_b));
    }

    pub fn cut_one_way(&mut self, from: NodeId, to: NodeId) {
        self.engine.network.cut_one_way(from.0, to.0);
    }

    pub fn repair_one_way(&mut self, from: NodeId, to: NodeId) {
        self.engine.network.repair_one_way(from.0, to.0);
    }

    /// What is sent from `from` to `to` waits at the far end until `release`.
    pub fn hold(&mut self, from: NodeId, to: NodeId) {
        self.engine.network.hold(from.0, to.0);
    }

    pub fn release(&mut self, from: NodeId, to: NodeId) {
        self.engine.release(from, to);
    }

    /// Extra latency and a loss ratio on the link from `from` to `to`.
    pub fn degrade(&mut self, from: NodeId, to: NodeId, extra_latency_us: u64, loss: Option<Ratio>) {
        self.engine.network.degrade(from.0, to.0, extra_latency_us, loss);
    }

    pub fn heal_network(&mut self) {
        self.engine.heal_network();
    }

    pub fn now(&self) -> SimTime {
        self.engine.now()
    }

    /// The liveness phase begins: the network heals, paused processes resume, stopped ones restart.
    pub fn heal_everything(&mut self) -> String {
        self.engine.heal_network();
        let mut restarted = Vec::new();
        for n in 0..self.spec.node_count() {
            let node = NodeId(n);
            match self.engine.status(node) {
                NodeStatus::Paused => self.engine.resume(node),
                NodeStatus::Down => {
                    self.restart(node);
                    restarted.push(self.spec.node_name(node));
                }
                NodeStatus::Up => {}
            }
        }
        match restarted.is_empty() {
            true => "heal the network, resume everything".to_string(),
            false => format!("heal the network, resume everything, restart {}", restarted.join(",")),
        }
    }

    /// What has not converged: partitions without a leader or with replicas out of the ISR, groups not stable
    /// with all their running members (the liveness checks' names: partitions-led, isr-full, groups-stable).
    pub fn unconverged(&self) -> Vec<(LivenessCheck, String)> {
        let mut out = Vec::new();
        let controller = self.controller();
        for (i, spec) in self.spec.partitions.iter().enumerate() {
            let p = PartitionId(i as u32);
            let state = controller.committed_partition(p);
            let name = self.spec.partition_name(p);
            if state.leader.is_none() {
                out.push((LivenessCheck::PartitionsLed, format!("{name} has no leader")));
            } else if state.isr.len() < spec.replicas.len() {
                let names = |bs: &[BrokerId]| bs.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ");
                out.push((
                    LivenessCheck::IsrFull,
                    format!("{name} has ISR [{}] of [{}]", names(&state.isr), names(&spec.replicas)),
                ));
            }
        }
        for (g, name) in self.spec.group_ids().zip(&self.spec.groups) {
            // Manually assigned consumers are no members: a group of them alone has nothing to settle.
            let members = self.spec.consumers.iter().filter(|c| c.group == g && c.assign.is_none()).count();
            if members == 0 {
                continue;
            }
            let coordinator = self.spec.offsets_partition_of(g).and_then(|p| self.leader_of(p));
            let group = coordinator.and_then(|b| self.broker(b).group(g));
            match group {
                Some((GroupState::Stable, n)) if n == members => {}
                Some((state, n)) => out.push((
                    LivenessCheck::GroupsStable,
                    format!("group {name} is {state:?} with {n} of {members} members"),
                )),
                None => out.push((LivenessCheck::GroupsStable, format!("group {name} has no coordinator"))),
            }
        }
        out
    }

    /// The partition's leader as the controller last committed it.
    pub fn leader_of(&self, p: PartitionId) -> Option<BrokerId> {
        self.controller().committed_partition(p).leader
    }

    /// The partition's ISR as the controller last committed it.
    pub fn committed_isr(&self, p: PartitionId) -> &[BrokerId] {
        &self.controller().committed_partition(p).isr
    }

    /// The partition's high watermark on its leader, if that broker is running and knows it leads.
    pub fn high_watermark_of(&self, p: PartitionId) -> Option<Offset> {
        let replica = self.running_replica(p, self.leader_of(p)?)?;
        matches!(replica.role, Role::Leader(_)).then_some(replica.log.high_watermark())
    }

    /// The log end offset of the partition's replica on broker `b`, if `b` is running.
    pub fn log_end_on(&self, p: PartitionId, b: BrokerId) -> Option<Offset> {
        self.running_replica(p, b).map(|r| r.log.log_end_offset())
    }

    /// The offset follower `b` last fetched from, as the partition's running leader recorded it.
    pub fn fetch_offset_of(&self, p: PartitionId, b: BrokerId) -> Option<Offset> {
        let replica = self.running_replica(p, self.leader_of(p)?)?;
        let Role::Leader(state) = &replica.role else { return None };
        state.followers.iter().find(|f| f.broker == b)?.log_end_offset
    }

    fn running_replica(&self, p: PartitionId, b: BrokerId) -> Option<&Replica> {
        if !self.is_up(self.spec.broker_node(b)) {
            return None;
        }
        self.broker(b).replicas[p.index()].as_ref()
    }

    pub fn summarize(&self) -> Vec<PartitionSummary> {
        let controller = self.controller();
        (0..self.spec.partitions.len() as u32)
            .map(PartitionId)
            .map(|p| {
                let state = controller.committed_partition(p);
                let replicas = self.spec.partition(p).replicas.iter().map(|&b| self.replica_summary(b, p)).collect();
                PartitionSummary {
                    partition: self.spec.partition_name(p),
                    leader: state.leader,
                    leader_epoch: state.leader_epoch,
                    isr: state.isr.clone(),
                    replicas,
                }
            })
            .collect()
    }

    fn replica_summary(&self, b: BrokerId, p: PartitionId) -> ReplicaSummary {
        let broker = self.broker(b);
        let up = self.is_up(self.spec.broker_node(b));
        let replica = broker.replicas[p.index()].as_ref();
        let role = match replica.map(|r| &r.role) {
            Some(Role::Leader(_)) if up => "leader",
            Some(Role::Follower(_)) if up => "follower",
            _ if !up => "down",
            _ => "unknown",
        };
        ReplicaSummary {
            broker: b,
            up,
            role,
            log_end_offset: replica.map_or(0, |r| r.log.log_end_offset()),
            high_watermark: replica.map_or(0, |r| r.log.high_watermark()),
        }
    }
}
