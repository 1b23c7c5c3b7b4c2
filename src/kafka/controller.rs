//! A KRaft controller (QuorumController with ReplicationControlManager): the active one tracks broker liveness
//! by heartbeats, fences, elects leaders, commits ISR changes requested by leaders and runs controlled
//! shutdowns. Its decisions are records in the quorum's metadata log; brokers learn them only once committed,
//! and learn nothing any other way. Standby controllers replicate the log and take over by election.

use super::ids::{BrokerId, PartitionId};
use super::messages::{
    BrokerEpoch, ChangeReason, KafkaError, LeaderRecoveryState, MetadataRecord, Msg, PartitionState,
};
use super::node::{KafkaCtx, Timer};
use super::obs::Obs;
use super::quorum::{Quorum, QuorumConfig, QuorumEffects};
use super::spec::{ClusterSpec, NodeRole};
use crate::engine::{NodeId, SimTime};
use std::rc::Rc;

/// How often the active controller looks for brokers whose session expired (it fences them at most this late).
const FENCE_CHECK_INTERVAL_US: u64 = 250_000;
/// How often the quorum's timeouts are checked.
const QUORUM_TICK_US: u64 = 50_000;

/// An AlterPartition's proposal: the epochs it was made under and the ISR with its members' broker epochs.
struct IsrProposal {
    leader_epoch: i32,
    partition_epoch: i32,
    new_isr: Vec<BrokerId>,
    broker_epochs: Vec<Option<BrokerEpoch>>,
}

/// A broker's registration as the metadata log has it.
#[derive(Clone, Debug, Default)]
struct Registration {
    incarnation: u32,
    fenced: bool,
    in_controlled_shutdown: bool,
    /// The metadata-log offset of the first record of this incarnation (RegisterBrokerRecord's offset).
    registered_at: u64,
}

impl Registration {
    /// ReplicationControlManager.isEligibleReplica: unfenced, not shutting down, and the broker epoch the leader
    /// proposed with (if any) is this registration's.
    fn is_eligible_for_isr(&self, epoch: Option<BrokerEpoch>) -> bool {
        !self.fenced && !self.in_controlled_shutdown && epoch.is_none_or(|e| e == self.incarnation)
    }

    /// BrokerHeartbeatManager.currentBrokerState.
    fn control_state(&self) -> BrokerControlState {
        match (self.fenced, self.in_controlled_shutdown) {
            (true, true) => BrokerControlState::ShutdownNow,
            (true, false) => BrokerControlState::Fenced,
            (false, true) => BrokerControlState::ControlledShutdown,
            (false, false) => BrokerControlState::Unfenced,
        }
    }
}

/// A broker's state at the controller (BrokerControlState).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BrokerControlState {
    Fenced,
    Unfenced,
    ControlledShutdown,
    ShutdownNow,
}

/// BrokerHeartbeatManager.calculateNextBrokerState: a fenced broker that wants to shut down may do so at once (it
/// leads nothing and is in no ISR); it is unfenced once its metadata has caught up with its own registration
/// record. An unfenced broker that wants to shut down enters controlled shutdown while it still leads
/// partitions, and is told to shut down now once it leads none. (Kafka also waits for the active brokers to
/// replay the controlled-shutdown record, and has `wantFence`; the model has neither.)
fn next_broker_state(
    current: BrokerControlState,
    want_shutdown: bool,
    caught_up: bool,
    has_leaderships: bool,
) -> BrokerControlState {
    use BrokerControlState::*;
    match current {
        Fenced if want_shutdown => ShutdownNow,
        Fenced if caught_up => Unfenced,
        Fenced => Fenced,
        Unfenced if !want_shutdown => Unfenced,
        Unfenced | ControlledShutdown if has_leaderships => ControlledShutdown,
        Unfenced | ControlledShutdown | ShutdownNow => ShutdownNow,
    }
}

/// A controller. Its quorum log (with the epoch and vote) is durable; its memory (`mem`) is rebuilt from the log
/// at every start.
pub struct Controller {
    spec: Rc<ClusterSpec>,
    pub quorum: Quorum,
    mem: ControllerMemory,
}

/// What a controller's process holds in memory: views of the metadata log and the active controller's sessions.
struct ControllerMemory {
    /// Partition registrations through the end of the log: what the active controller decides from.
    partitions: Vec<PartitionState>,
    registrations: Vec<Registration>,
    /// Partition registrations through the high watermark: what brokers have been (or can be) told.
    committed_partitions: Vec<PartitionState>,
    committed_fenced: Vec<bool>,
    /// The active controller's broker sessions (BrokerHeartbeatManager): last heartbeat per broker.
    sessions: Vec<SimTime>,
    /// Responses to send once the log commits through the given offset (AlterPartition answers).
    pending_responses: Vec<(u64, NodeId, Msg)>,
    /// The log offset through which committed records have been applied to the committed view.
    published: u64,
}

impl ControllerMemory {
    /// What a controller process builds from its log as it starts: the working view from the whole log, the
    /// committed view from the log through the high watermark.
    fn replayed(spec: &ClusterSpec, quorum: &Quorum) -> Self {
        let mut committed = ControllerMemory::empty(spec);
        committed.replay(spec, quorum.committed(0).iter().map(|(_, r)| r));
        let mut mem = ControllerMemory::empty(spec);
        mem.replay(spec, quorum.entries());
        mem.committed_partitions = committed.partitions;
        mem.committed_fenced = committed.registrations.iter().map(|r| r.fenced).collect();
        mem.published = quorum.high_watermark;
        mem
    }

    fn empty(spec: &ClusterSpec) -> Self {
        let brokers = spec.broker_count as usize;
        ControllerMemory {
            partitions: Vec::new(),
            registrations: Vec::new(),
            committed_partitions: Vec::new(),
            committed_fenced: vec![false; brokers],
            sessions: vec![SimTime::ZERO; brokers],
            pending_responses: Vec::new(),
            published: 0,
        }
    }

    /// Replays `records`, the log from its start, into the working view.
    fn replay<'a>(&mut self, spec: &ClusterSpec, records: impl Iterator<Item = &'a MetadataRecord>) {
        self.partitions = vec![
            PartitionState {
                leader: None,
                leader_epoch: 0,
                isr: Vec::new(),
                partition_epoch: 0,
                leader_recovery_state: LeaderRecoveryState::Recovered,
            };
            spec.partitions.len()
        ];
        self.registrations = vec![Registration::default(); spec.broker_count as usize];
        for (offset, record) in records.enumerate() {
            self.apply(spec, record, offset as u64);
        }
    }

    /// Applies the record at metadata-log offset `offset` to the working view.
    fn apply(&mut self, spec: &ClusterSpec, record: &MetadataRecord, offset: u64) {
        match record {
            MetadataRecord::Partition { partition, state, .. } => {
                let replicas = &spec.partition(*partition).replicas;
                assert_partition_change(&self.partitions[partition.index()], state, replicas);
                self.partitions[partition.index()] = state.clone();
            }
            MetadataRecord::Broker { broker, incarnation, fenced, in_controlled_shutdown } => {
                let old = &self.registrations[broker.index()];
                let registered_at =
                    if offset > 0 && old.incarnation == *incarnation { old.registered_at } else { offset };
                self.registrations[broker.index()] = Registration {
                    incarnation: *incarnation,
                    fenced: *fenced,
                    in_controlled_shutdown: *in_controlled_shutdown,
                    registered_at,
                };
            }
            MetadataRecord::LeaderChange { .. } => {}
        }
    }
}

/// PartitionChangeBuilder's election types that an operator or the balancer asks for (ElectLeaders, KIP-460).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionType {
    /// The first replica of the assignment, if it is in the ISR and may lead.
    Preferred,
    /// For a partition without a leader: a clean choice if there is one, else any replica that may lead,
    /// whatever the topic's `unclean.leader.election.enable`.
    Unclean,
}

/// Who changes a partition's registration, which decides its leader recovery state (KIP-704).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChangeBy {
    /// The controller on its own (fencing, shutdown, a clean election): the state is kept.
    Controller,
    /// An unclean election: RECOVERING.
    UncleanElection,
    /// The leader's AlterPartition, which carries RECOVERED.
    Leader,
}

impl ChangeBy {
    fn elected(unclean: bool) -> Self {
        if unclean { ChangeBy::UncleanElection } else { ChangeBy::Controller }
    }
}

/// Why a partition's registration is being recomputed.
#[derive(Clone, Copy)]
enum Change {
    RemoveFromIsr(BrokerId),
    ElectIfLeaderless,
}

/// The records of a freshly created cluster: every broker registered, every partition led by the first replica
/// of its assignment with the full assignment as ISR.
fn bootstrap_records(spec: &ClusterSpec) -> Vec<MetadataRecord> {
    let brokers = spec.brokers().map(|broker| MetadataRecord::Broker {
        broker,
        incarnation: 0,
        fenced: false,
        in_controlled_shutdown: false,
    });
    let partitions = spec.partitions.iter().enumerate().map(|(i, p)| MetadataRecord::Partition {
        partition: PartitionId(i as u32),
        state: PartitionState {
            leader: p.replicas.first().copied(),
            leader_epoch: 0,
            isr: p.replicas.clone(),
            partition_epoch: 0,
            leader_recovery_state: LeaderRecoveryState::Recovered,
        },
        reason: ChangeReason::TopicCreated,
        unclean: false,
    });
    brokers.chain(partitions).collect()
}

/// What every partition change keeps (ReplicationControlManager and PartitionChangeBuilder): the ISR is never
/// empty and holds only replicas, a leader is in the ISR, leader and partition epochs never go back, a leader
/// change starts a new leader epoch (one leader per epoch), and the partition epoch moves on every change after
/// the partition's creation.
fn assert_partition_change(before: &PartitionState, after: &PartitionState, replicas: &[BrokerId]) {
    assert!(!after.isr.is_empty(), "empty ISR committed: {after:?}");
    assert!(after.isr.iter().all(|b| replicas.contains(b)), "ISR outside the replicas {replicas:?}: {after:?}");
    assert!(after.leader.is_none_or(|l| after.isr.contains(&l)), "leader outside the ISR: {after:?}");
    assert!(after.leader_epoch >= before.leader_epoch, "leader epoch went back: {before:?} → {after:?}");
    // One leader per epoch: a new leader (or none) always starts a new leader epoch.
    let created = before.isr.is_empty();
    assert!(
        created || after.leader == before.leader || after.leader_epoch > before.leader_epoch,
        "leader changed within leader epoch {}: {before:?} → {after:?}",
        after.leader_epoch
    );
    assert!(
        after.partition_epoch > before.partition_epoch || (created && after.partition_epoch == 0),
        "partition epoch did not move: {before:?} → {after:?}"
    );
}

impl Controller {
    pub fn new(index: u32, spec: Rc<ClusterSpec>) -> Self {
        let config = QuorumConfig::default();
        let quorum = Quorum::new(index, spec.controller_count, config, bootstrap_records(&spec));
        let mem = ControllerMemory::replayed(&spec, &quorum);
        Controller { spec, quorum, mem }
    }

    /// Replays the whole log into the working view (on election, the new leader's view).
    fn rebuild_state(&mut self) {
        self.mem.replay(&self.spec, self.quorum.entries());
    }

    /// The partition's registration through the high watermark: what brokers have been (or can be) told.
    pub fn committed_partition(&self, p: PartitionId) -> &PartitionState {
        &self.mem.committed_partitions[p.index()]
    }

    pub fn is_active(&self) -> bool {
        self.quorum.is_leader()
    }

    pub fn on_start(&mut self, ctx: &mut KafkaCtx<'_>) {
        if ctx.now > SimTime::ZERO {
            // A restart: the log and epoch are durable, the rest is rebuilt; it rejoins as a follower.
            self.quorum.restart(ctx.now);
            self.mem = ControllerMemory::replayed(&self.spec, &self.quorum);
        }
        self.reset_sessions(ctx.now);
        ctx.set_timer(FENCE_CHECK_INTERVAL_US, Timer::ControllerFenceCheck);
        ctx.set_timer(QUORUM_TICK_US, Timer::QuorumTick);
        if self.spec.broker_config.auto_leader_rebalance_enable {
            ctx.set_timer(self.spec.broker_config.leader_imbalance_check_interval_us, Timer::LeaderImbalanceCheck);
        }
    }

    /// A new active controller gives every broker a full session timeout to heartbeat to it.
    fn reset_sessions(&mut self, now: SimTime) {
        self.mem.sessions.iter_mut().for_each(|s| *s = now);
    }

    pub fn on_timer(&mut self, timer: Timer, ctx: &mut KafkaCtx<'_>) {
        match timer {
            Timer::ControllerFenceCheck => {
                if self.is_active() {
                    self.fence_expired_sessions(ctx);
                }
                ctx.set_timer(FENCE_CHECK_INTERVAL_US, Timer::ControllerFenceCheck);
            }
            Timer::LeaderImbalanceCheck => {
                if self.is_active() {
                    let all: Vec<PartitionId> = (0..self.mem.partitions.len() as u32).map(PartitionId).collect();
                    self.elect_leaders(ElectionType::Preferred, &all, ChangeReason::AutoLeaderRebalance, ctx);
                }
                ctx.set_timer(self.spec.broker_config.leader_imbalance_check_interval_us, Timer::LeaderImbalanceCheck);
            }
            Timer::QuorumTick => {
                let mut fx = QuorumEffects::default();
                self.quorum.tick(ctx.now, ctx.rng, &mut fx);
                self.after_quorum(fx, ctx);
                ctx.set_timer(QUORUM_TICK_US, Timer::QuorumTick);
            }
            Timer::BrokerHeartbeat
            | Timer::IsrExpiration
            | Timer::HighWatermarkCheckpoint
            | Timer::LogRetentionCheck
            | Timer::OffsetsRetentionCheck
            | Timer::PageCacheWriteback
            | Timer::Wakeup
            | Timer::ProducerTick
            | Timer::ConsumerPoll
            | Timer::ConsumerHeartbeat
            | Timer::ConsumerProcessed => unreachable!("controller {} never sets {timer:?}", self.quorum.me),
        }
    }

    pub fn on_message(&mut self, from: NodeId, msg: Msg, ctx: &mut KafkaCtx<'_>) {
        match msg {
            Msg::Quorum(q) => {
                if let NodeRole::Controller(index) = self.spec.role_of(from) {
                    let mut fx = QuorumEffects::default();
                    self.quorum.on_message(index, q, ctx.now, &mut fx);
                    self.after_quorum(fx, ctx);
                }
            }
            Msg::BrokerHeartbeat { broker, incarnation, metadata_offset, want_shutdown } => {
                if self.spec.role_of(from) != NodeRole::Broker(broker) {
                    return;
                }
                if self.is_active() {
                    self.on_heartbeat(broker, incarnation, metadata_offset, want_shutdown, ctx);
                } else {
                    let leader = self.quorum.leader();
                    let msg = Msg::BrokerHeartbeatResponse {
                        fenced: false,
                        shutdown_now: false,
                        not_controller: true,
                        leader,
                    };
                    ctx.send(from, msg);
                }
            }
            Msg::AlterPartition { broker, partition, leader_epoch, partition_epoch, new_isr, broker_epochs } => {
                let proposal = IsrProposal { leader_epoch, partition_epoch, new_isr, broker_epochs };
                let result = self.alter_partition(broker, partition, proposal, ctx);
                let response = Msg::AlterPartitionResponse { partition, result };
                match result_is_committed_later(&response) {
                    true => self.mem.pending_responses.push((self.quorum.log_end_offset(), from, response)),
                    false => ctx.send(from, response),
                }
                self.flush_pending_responses(ctx);
            }
            // A closing client says goodbye to every node; a controller keeps no client connections.
            Msg::ConnectionClosed => {}
            m @ (Msg::MetadataRequest { .. }
            | Msg::MetadataResponse { .. }
            | Msg::Produce(_)
            | Msg::ProduceResponse(_)
            | Msg::Fetch(_)
            | Msg::FetchResponse(_)
            | Msg::BrokerHeartbeatResponse { .. }
            | Msg::MetadataUpdate { .. }
            | Msg::AlterPartitionResponse { .. }
            | Msg::Forward { .. }
            | Msg::Forwarded { .. }
            | Msg::GroupRequest { .. }
            | Msg::GroupResponse { .. }) => {
                unreachable!("controller {} serves no clients and sends nothing answered with {m:?}", self.quorum.me)
            }
        }
    }

    /// Sends what the quorum asked, then follows its transitions: a new leader replays the log and restarts
    /// broker sessions; a committed high watermark is published to brokers.
    fn after_quorum(&mut self, fx: QuorumEffects, ctx: &mut KafkaCtx<'_>) {
        for (voter, msg) in fx.sends {
            ctx.send(self.spec.controller_node(voter), Msg::Quorum(msg));
        }
        if fx.lost_leadership {
            self.mem.pending_responses.clear();
            ctx.emit(Obs::ControllerResigned { epoch: self.quorum.epoch });
        }
        if fx.became_leader {
            ctx.emit(Obs::ControllerElected { epoch: self.quorum.epoch });
            self.rebuild_state();
            self.reset_sessions(ctx.now);
        }
        if fx.committed || fx.became_leader {
            self.publish(ctx);
        }
    }

    /// Everything newly committed: recorded as the committed view, told to brokers and the trace by the active
    /// controller, and answered where an answer waited for it.
    fn publish(&mut self, ctx: &mut KafkaCtx<'_>) {
        let from = self.mem.published;
        let committed: Vec<(i32, MetadataRecord)> = self.quorum.committed(from).to_vec();
        if committed.is_empty() {
            return;
        }
        self.mem.published += committed.len() as u64;
        for (_, record) in &committed {
            self.note_committed(record, ctx);
        }
        if self.is_active() {
            let records: Rc<[MetadataRecord]> = committed.into_iter().map(|(_, r)| r).collect();
            for b in self.spec.brokers() {
                ctx.send(self.spec.broker_node(b), Msg::MetadataUpdate { from_offset: from, records: records.clone() });
            }
            self.flush_pending_responses(ctx);
        }
    }

    /// Keeps the committed view, and (on the active controller) puts what changed in the trace.
    fn note_committed(&mut self, record: &MetadataRecord, ctx: &mut KafkaCtx<'_>) {
        let active = self.is_active();
        match record {
            MetadataRecord::Partition { partition, state, reason, unclean } => {
                let old = &mut self.mem.committed_partitions[partition.index()];
                if active {
                    ctx.emit(partition_obs(*partition, old, state, *reason, *unclean));
                    let recovered = old.leader_recovery_state == LeaderRecoveryState::Recovering
                        && state.leader_recovery_state == LeaderRecoveryState::Recovered;
                    if recovered {
                        ctx.emit(Obs::LeaderRecovered { partition: *partition, leader_epoch: state.leader_epoch });
                    }
                }
                *old = state.clone();
            }
            MetadataRecord::Broker { broker, fenced, .. } => {
                let was = std::mem::replace(&mut self.mem.committed_fenced[broker.index()], *fenced);
                if active && was != *fenced {
                    ctx.emit(if *fenced {
                        Obs::BrokerFenced { broker: *broker }
                    } else {
                        Obs::BrokerUnfenced { broker: *broker }
                    });
                }
            }
            MetadataRecord::LeaderChange { .. } => {}
        }
    }

    fn flush_pending_responses(&mut self, ctx: &mut KafkaCtx<'_>) {
        let hw = self.quorum.high_watermark;
        let ready: Vec<(u64, NodeId, Msg)> =
            self.mem.pending_responses.extract_if(.., |(offset, _, _)| *offset <= hw).collect();
        for (_, to, msg) in ready {
            ctx.send(to, msg);
        }
    }

    /// Appends a record to the metadata log (the active controller only) and applies it to the working state.
    fn append(&mut self, record: MetadataRecord, ctx: &mut KafkaCtx<'_>) {
        self.mem.apply(&self.spec, &record, self.quorum.log_end_offset());
        let mut fx = QuorumEffects::default();
        self.quorum.append(record, ctx.now, &mut fx);
        self.after_quorum(fx, ctx);
    }

    // ---- brokers: heartbeats, registration, fencing ----

    /// Whether the controller would make `broker` a leader or add it to an ISR now.
    fn is_acceptable(&self, broker: BrokerId) -> bool {
        let r = &self.mem.registrations[broker.index()];
        !r.fenced && !r.in_controlled_shutdown
    }

    /// ReplicationControlManager.ineligibleReplicasForIsr: a proposed ISR member must be registered, unfenced and
    /// not shutting down, and (KIP-903) the broker epoch the leader saw must be its current registration's; an
    /// epoch of -1 is not checked.
    fn is_eligible(&self, broker: BrokerId, epoch: Option<BrokerEpoch>) -> bool {
        self.mem.registrations[broker.index()].is_eligible_for_isr(epoch)
    }

    fn on_heartbeat(
        &mut self,
        b: BrokerId,
        incarnation: u32,
        metadata_offset: u64,
        want_shutdown: bool,
        ctx: &mut KafkaCtx<'_>,
    ) {
        if self.mem.registrations[b.index()].incarnation != incarnation {
            self.reregister(b, incarnation, ctx);
        }
        self.mem.sessions[b.index()] = ctx.now;
        let r = &self.mem.registrations[b.index()];
        let current = r.control_state();
        // `metadata_offset` counts the records the broker has replayed: it has replayed its registration.
        let caught_up = metadata_offset > r.registered_at;
        let next = next_broker_state(current, want_shutdown, caught_up, self.leads_anything(b));
        if next != current {
            self.enter_broker_state(b, next, ctx);
        }
        let shutdown_now = next == BrokerControlState::ShutdownNow;
        let node = self.spec.broker_node(b);
        if metadata_offset < self.quorum.high_watermark {
            let records: Rc<[MetadataRecord]> =
                self.quorum.committed(metadata_offset).iter().map(|(_, r)| r.clone()).collect();
            ctx.send(node, Msg::MetadataUpdate { from_offset: metadata_offset, records });
        }
        let fenced = self.mem.registrations[b.index()].fenced;
        let leader = self.quorum.leader();
        ctx.send(node, Msg::BrokerHeartbeatResponse { fenced, shutdown_now, not_controller: false, leader });
    }

    /// ReplicationControlManager.processBrokerHeartbeat: the records of a broker's state change.
    fn enter_broker_state(&mut self, b: BrokerId, next: BrokerControlState, ctx: &mut KafkaCtx<'_>) {
        match next {
            BrokerControlState::Unfenced => {
                self.set_registration(b, false, false, ctx);
                self.update_partitions_of(b, Change::ElectIfLeaderless, ChangeReason::BrokerUnfenced, ctx);
            }
            BrokerControlState::ControlledShutdown => self.begin_controlled_shutdown(b, ctx),
            // handleBrokerFenced, marked as shut down.
            BrokerControlState::ShutdownNow => {
                self.set_registration(b, true, true, ctx);
                self.update_partitions_of(b, Change::RemoveFromIsr(b), ChangeReason::ControlledShutdown, ctx);
            }
            BrokerControlState::Fenced => unreachable!("a heartbeat never fences {b}: session expiry does"),
        }
    }

    /// A new registration (the broker restarted): the old one is fenced first, which removes the broker from
    /// every ISR; it is unfenced again once it has caught up with the metadata log.
    fn reregister(&mut self, b: BrokerId, incarnation: u32, ctx: &mut KafkaCtx<'_>) {
        let was_fenced = self.mem.registrations[b.index()].fenced;
        let record = MetadataRecord::Broker { broker: b, incarnation, fenced: true, in_controlled_shutdown: false };
        self.append(record, ctx);
        assert_eq!(self.mem.registrations[b.index()].registered_at + 1, self.quorum.log_end_offset());
        if !was_fenced {
            self.update_partitions_of(b, Change::RemoveFromIsr(b), ChangeReason::ReRegistered, ctx);
        }
    }

    fn set_registration(&mut self, b: BrokerId, fenced: bool, in_controlled_shutdown: bool, ctx: &mut KafkaCtx<'_>) {
        let incarnation = self.mem.registrations[b.index()].incarnation;
        self.append(MetadataRecord::Broker { broker: b, incarnation, fenced, in_controlled_shutdown }, ctx);
    }

    fn leads_anything(&self, b: BrokerId) -> bool {
        self.mem.partitions.iter().any(|p| p.leader == Some(b))
    }

    fn fence_expired_sessions(&mut self, ctx: &mut KafkaCtx<'_>) {
        let timeout = self.spec.broker_config.broker_session_timeout_us;
        for b in self.spec.brokers() {
            if !self.mem.registrations[b.index()].fenced && ctx.now.since_us(self.mem.sessions[b.index()]) > timeout {
                self.fence(b, ChangeReason::SessionExpired, ctx);
            }
        }
    }

    /// ReplicationControlManager.handleBrokerFenced: the broker leaves every ISR (never emptying one) and loses
    /// its leaderships.
    fn fence(&mut self, b: BrokerId, reason: ChangeReason, ctx: &mut KafkaCtx<'_>) {
        self.set_registration(b, true, false, ctx);
        self.update_partitions_of(b, Change::RemoveFromIsr(b), reason, ctx);
    }

    /// KRaft controlled shutdown: like fencing for ISRs and leadership, while the broker still runs.
    fn begin_controlled_shutdown(&mut self, b: BrokerId, ctx: &mut KafkaCtx<'_>) {
        self.set_registration(b, false, true, ctx);
        self.update_partitions_of(b, Change::RemoveFromIsr(b), ChangeReason::ControlledShutdown, ctx);
    }

    // ---- partitions: elections and ISR changes ----

    fn update_partitions_of(&mut self, b: BrokerId, change: Change, reason: ChangeReason, ctx: &mut KafkaCtx<'_>) {
        for i in 0..self.mem.partitions.len() {
            let p = PartitionId(i as u32);
            if self.spec.partition(p).replicas.contains(&b) {
                self.update_partition(p, change, reason, ctx);
            }
        }
    }

    /// PartitionChangeBuilder: apply `change`, keep a still-acceptable leader, otherwise elect one.
    fn update_partition(&mut self, p: PartitionId, change: Change, reason: ChangeReason, ctx: &mut KafkaCtx<'_>) {
        let current = self.mem.partitions[p.index()].clone();
        let mut isr = current.isr.clone();
        if let Change::RemoveFromIsr(b) = change {
            // The ISR is never emptied: its last member stays, and the partition goes leaderless.
            if isr.len() > 1 {
                isr.retain(|&r| r != b);
            }
        }
        let leader_ok = current.leader.is_some_and(|l| self.is_acceptable(l));
        let allow_unclean = self.spec.topic_of(p).unclean_leader_election_enable;
        let (leader, isr, unclean) =
            if leader_ok { (current.leader, isr, false) } else { self.elect_leader(p, isr, allow_unclean) };
        if leader == current.leader && isr == current.isr {
            return;
        }
        self.commit_partition(p, leader, isr, ChangeBy::elected(unclean), reason, ctx);
    }

    /// Leader election (PartitionChangeBuilder): the first replica in assignment order that is in the ISR and
    /// acceptable; else, if `unclean.leader.election.enable`, the first acceptable replica, whose ISR becomes
    /// just itself; else no leader (offline) and the ISR unchanged.
    fn elect_leader(
        &self,
        p: PartitionId,
        isr: Vec<BrokerId>,
        allow_unclean: bool,
    ) -> (Option<BrokerId>, Vec<BrokerId>, bool) {
        let replicas = &self.spec.partition(p).replicas;
        if let Some(&clean) = replicas.iter().find(|&&r| isr.contains(&r) && self.is_acceptable(r)) {
            return (Some(clean), isr, false);
        }
        if allow_unclean && let Some(&unclean) = replicas.iter().find(|&&r| self.is_acceptable(r)) {
            return (Some(unclean), vec![unclean], true);
        }
        (None, isr, false)
    }

    /// ElectLeaders (ReplicationControlManager.electLeader) and the periodic balance
    /// (maybeBalancePartitionLeaders, every `leader.imbalance.check.interval.seconds` with
    /// `auto.leader.rebalance.enable`; the KRaft controller balances every imbalanced partition, with no
    /// per-broker percentage). A partition whose election is not needed or not possible is left as it is
    /// (ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE). Returns how many
    /// partitions got a new leader. Only the active controller elects.
    pub fn elect_leaders(
        &mut self,
        election: ElectionType,
        partitions: &[PartitionId],
        reason: ChangeReason,
        ctx: &mut KafkaCtx<'_>,
    ) -> usize {
        if !self.is_active() {
            return 0;
        }
        let mut elected = 0;
        for &p in partitions {
            let current = self.mem.partitions[p.index()].clone();
            let (leader, isr, unclean) = match election {
                ElectionType::Preferred => {
                    let preferred = self.spec.partition(p).replicas[0];
                    let possible = current.isr.contains(&preferred) && self.is_acceptable(preferred);
                    if current.leader == Some(preferred) || !possible {
                        continue;
                    }
                    (Some(preferred), current.isr.clone(), false)
                }
                ElectionType::Unclean if current.leader.is_some() => continue,
                ElectionType::Unclean => self.elect_leader(p, current.isr.clone(), true),
            };
            if leader.is_none() {
                continue;
            }
            self.commit_partition(p, leader, isr, ChangeBy::elected(unclean), reason, ctx);
            elected += 1;
        }
        elected
    }

    /// Appends a partition change: the partition epoch always moves, the leader epoch when the leader does
    /// (PartitionRegistration.merge; ISR-only changes keep the leader epoch since metadata version 3.6).
    fn commit_partition(
        &mut self,
        p: PartitionId,
        leader: Option<BrokerId>,
        isr: Vec<BrokerId>,
        by: ChangeBy,
        reason: ChangeReason,
        ctx: &mut KafkaCtx<'_>,
    ) -> PartitionState {
        let current = &self.mem.partitions[p.index()];
        let leader_changed = leader != current.leader;
        // KIP-704 (PartitionChangeBuilder.tryElection): an unclean election makes the leader RECOVERING; the
        // leader's own AlterPartition (`recovered`) marks it RECOVERED; other changes keep the state.
        let leader_recovery_state = match by {
            ChangeBy::UncleanElection => LeaderRecoveryState::Recovering,
            ChangeBy::Leader => LeaderRecoveryState::Recovered,
            ChangeBy::Controller => current.leader_recovery_state,
        };
        let unclean = by == ChangeBy::UncleanElection;
        let state = PartitionState {
            leader,
            leader_epoch: current.leader_epoch + i32::from(leader_changed),
            isr,
            partition_epoch: current.partition_epoch + 1,
            leader_recovery_state,
        };
        self.append(MetadataRecord::Partition { partition: p, state: state.clone(), reason, unclean }, ctx);
        state
    }

    /// AlterPartition from a leader (ReplicationControlManager.alterPartition, validateAlterPartitionData): only the
    /// active controller answers; the checks run in Kafka's order, each with Kafka's error. A request that
    /// changes nothing is accepted without a record (PartitionChangeBuilder.build returns nothing), so no epoch
    /// moves.
    fn alter_partition(
        &mut self,
        broker: BrokerId,
        p: PartitionId,
        proposal: IsrProposal,
        ctx: &mut KafkaCtx<'_>,
    ) -> Result<PartitionState, KafkaError> {
        let IsrProposal { leader_epoch, partition_epoch, new_isr, broker_epochs } = proposal;
        if !self.is_active() {
            return Err(KafkaError::NOT_CONTROLLER);
        }
        let current = self.mem.partitions.get(p.index()).ok_or(KafkaError::UNKNOWN_TOPIC_OR_PARTITION)?;
        let replicas = &self.spec.partition(p).replicas;
        validate_alter_partition(current, replicas, broker, leader_epoch, partition_epoch, &new_isr)?;
        if new_isr
            .iter()
            .zip(broker_epochs.iter().chain(std::iter::repeat(&None)))
            .any(|(&b, &e)| !self.is_eligible(b, e))
        {
            return Err(KafkaError::INELIGIBLE_REPLICA);
        }
        if new_isr == current.isr && current.leader_recovery_state == LeaderRecoveryState::Recovered {
            return Ok(current.clone());
        }
        let reason = if new_isr.len() < current.isr.len() { ChangeReason::IsrShrink } else { ChangeReason::IsrExpand };
        Ok(self.commit_partition(p, Some(broker), new_isr, ChangeBy::Leader, reason, ctx))
    }
}

/// The request checks of ReplicationControlManager.validateAlterPartitionData, in its order: epochs ahead of the
/// controller's mean this controller is stale (NOT_CONTROLLER); a leader epoch behind is FENCED_LEADER_EPOCH; a
/// sender that is not the leader, or an ISR outside the replicas or without the leader, INVALID_REQUEST; a
/// partition epoch behind, INVALID_UPDATE_VERSION.
fn validate_alter_partition(
    current: &PartitionState,
    replicas: &[BrokerId],
    broker: BrokerId,
    leader_epoch: i32,
    partition_epoch: i32,
    new_isr: &[BrokerId],
) -> Result<(), KafkaError> {
    if leader_epoch > current.leader_epoch || partition_epoch > current.partition_epoch {
        return Err(KafkaError::NOT_CONTROLLER);
    }
    if leader_epoch < current.leader_epoch {
        return Err(KafkaError::FENCED_LEADER_EPOCH);
    }
    if current.leader != Some(broker) {
        return Err(KafkaError::INVALID_REQUEST);
    }
    if partition_epoch < current.partition_epoch {
        return Err(KafkaError::INVALID_UPDATE_VERSION);
    }
    let within_replicas = new_isr.iter().all(|b| replicas.contains(b));
    let distinct = new_isr.iter().enumerate().all(|(i, b)| !new_isr[..i].contains(b));
    if new_isr.is_empty() || !within_replicas || !distinct || !new_isr.contains(&broker) {
        return Err(KafkaError::INVALID_REQUEST);
    }
    Ok(())
}

/// An accepted AlterPartition is answered once its record commits; a rejection at once.
fn result_is_committed_later(response: &Msg) -> bool {
    matches!(response, Msg::AlterPartitionResponse { result: Ok(_), .. })
}

/// What a committed partition change looks like in the trace.
fn partition_obs(
    p: PartitionId,
    old: &PartitionState,
    new: &PartitionState,
    reason: ChangeReason,
    unclean: bool,
) -> Obs {
    if new.leader != old.leader {
        Obs::LeaderElected {
            partition: p,
            leader: new.leader,
            leader_epoch: new.leader_epoch,
            isr: new.isr.clone(),
            unclean,
            reason,
        }
    } else {
        Obs::IsrChanged { partition: p, leader_epoch: new.leader_epoch, isr: new.isr.clone(), reason }
    }
}

#[cfg(test)]
mod tests {
    use super::BrokerControlState::*;
    use super::*;

    fn registration(leader: Option<u32>, leader_epoch: i32, isr: &[u32], partition_epoch: i32) -> PartitionState {
        PartitionState {
            leader: leader.map(BrokerId),
            leader_epoch,
            isr: isr.iter().map(|&b| BrokerId(b)).collect(),
            partition_epoch,
            leader_recovery_state: LeaderRecoveryState::Recovered,
        }
    }

    const REPLICAS: [BrokerId; 3] = [BrokerId(0), BrokerId(1), BrokerId(2)];

    #[test]
    fn partition_changes_that_keep_the_rules() {
        let placeholder = registration(None, 0, &[], 0);
        let created = registration(Some(0), 0, &[0, 1, 2], 0);
        assert_partition_change(&placeholder, &created, &REPLICAS);
        let shrunk = registration(Some(0), 0, &[0, 1], 1);
        assert_partition_change(&created, &shrunk, &REPLICAS);
        // The last ISR member fenced: leaderless, the ISR keeps it (ReplicationControlManager, KIP-841).
        assert_partition_change(&shrunk, &registration(None, 1, &[0], 2), &REPLICAS);
    }

    #[test]
    #[should_panic(expected = "empty ISR")]
    fn an_empty_isr_trips() {
        assert_partition_change(&registration(Some(0), 0, &[0], 0), &registration(None, 1, &[], 1), &REPLICAS);
    }

    #[test]
    #[should_panic(expected = "outside the replicas")]
    fn an_isr_outside_the_replicas_trips() {
        assert_partition_change(&registration(Some(0), 0, &[0], 0), &registration(Some(0), 0, &[0, 5], 1), &REPLICAS);
    }

    #[test]
    #[should_panic(expected = "leader outside the ISR")]
    fn a_leader_outside_the_isr_trips() {
        assert_partition_change(&registration(Some(0), 0, &[0], 0), &registration(Some(1), 1, &[0], 1), &REPLICAS);
    }

    #[test]
    #[should_panic(expected = "leader epoch went back")]
    fn a_leader_epoch_going_back_trips() {
        assert_partition_change(&registration(Some(0), 3, &[0], 4), &registration(Some(0), 2, &[0], 5), &REPLICAS);
    }

    #[test]
    #[should_panic(expected = "leader changed within leader epoch 3")]
    fn two_leaders_in_one_epoch_trip() {
        assert_partition_change(
            &registration(Some(0), 3, &[0, 1], 4),
            &registration(Some(1), 3, &[0, 1], 5),
            &REPLICAS,
        );
    }

    #[test]
    #[should_panic(expected = "partition epoch did not move")]
    fn a_change_without_a_new_partition_epoch_trips() {
        assert_partition_change(&registration(Some(0), 3, &[0], 4), &registration(Some(0), 3, &[0, 1], 4), &REPLICAS);
    }

    // BrokerHeartbeatManager.calculateNextBrokerState: a fenced broker that wants to shut down is told
    // SHUTDOWN_NOW at once (it was restarted, or cut off, and leads nothing), instead of waiting to be unfenced.
    #[test]
    fn a_fenced_broker_asking_to_shut_down_may_at_once() {
        assert_eq!(next_broker_state(Fenced, true, false, false), ShutdownNow);
        assert_eq!(next_broker_state(Fenced, true, true, false), ShutdownNow);
    }

    // calculateNextBrokerState: FENCED → UNFENCED only once the broker's metadata offset has reached its own
    // registration record (and it does not want to shut down).
    #[test]
    fn a_fenced_broker_is_unfenced_once_caught_up_with_its_registration() {
        assert_eq!(next_broker_state(Fenced, false, false, false), Fenced);
        assert_eq!(next_broker_state(Fenced, false, true, false), Unfenced);
    }

    // calculateNextBrokerState: an unfenced broker that wants to shut down enters CONTROLLED_SHUTDOWN while it
    // still leads partitions, and SHUTDOWN_NOW once it leads none (or at once if it never did).
    #[test]
    fn controlled_shutdown_waits_for_leaderships_to_move() {
        assert_eq!(next_broker_state(Unfenced, false, true, true), Unfenced);
        assert_eq!(next_broker_state(Unfenced, true, true, true), ControlledShutdown);
        assert_eq!(next_broker_state(Unfenced, true, true, false), ShutdownNow);
        assert_eq!(next_broker_state(ControlledShutdown, true, true, true), ControlledShutdown);
        assert_eq!(next_broker_state(ControlledShutdown, true, true, false), ShutdownNow);
    }

    fn state(leader: u32, leader_epoch: i32, isr: &[u32], partition_epoch: i32) -> PartitionState {
        let isr = isr.iter().map(|&b| BrokerId(b)).collect();
        PartitionState {
            leader: Some(BrokerId(leader)),
            leader_epoch,
            isr,
            partition_epoch,
            leader_recovery_state: LeaderRecoveryState::Recovered,
        }
    }

    // ReplicationControlManager.validateAlterPartitionData, in Kafka's order: epochs ahead of the controller's are
    // NOT_CONTROLLER (checked before the sender), a leader epoch behind FENCED_LEADER_EPOCH, a sender that is not
    // the leader INVALID_REQUEST, a partition epoch behind INVALID_UPDATE_VERSION, an ISR outside the replicas or
    // without the leader INVALID_REQUEST.
    #[test]
    fn a_stale_broker_epoch_is_ineligible_for_the_isr() {
        // KIP-903 / ReplicationControlManagerTest: a proposed member whose broker epoch is not its current
        // registration's is INELIGIBLE_REPLICA; -1 (none) is not checked; fenced or shutting down never passes.
        let registered = Registration { incarnation: 3, ..Registration::default() };
        assert!(registered.is_eligible_for_isr(Some(3)));
        assert!(registered.is_eligible_for_isr(None), "an epoch of -1 is not checked");
        assert!(!registered.is_eligible_for_isr(Some(2)), "a registration before the disk was replaced");
        let fenced = Registration { fenced: true, ..registered.clone() };
        assert!(!fenced.is_eligible_for_isr(Some(3)));
    }

    #[test]
    fn alter_partition_checks_follow_kafkas_order_and_codes() {
        let current = state(1, 4, &[1, 2, 3], 7);
        let replicas = [BrokerId(1), BrokerId(2), BrokerId(3)];
        let check = |broker: u32, le: i32, pe: i32, isr: &[u32]| {
            let isr: Vec<BrokerId> = isr.iter().map(|&b| BrokerId(b)).collect();
            validate_alter_partition(&current, &replicas, BrokerId(broker), le, pe, &isr)
        };
        assert_eq!(check(2, 5, 7, &[1, 2]), Err(KafkaError::NOT_CONTROLLER), "not the leader, but epoch ahead");
        assert_eq!(check(1, 4, 8, &[1, 2]), Err(KafkaError::NOT_CONTROLLER));
        assert_eq!(check(2, 3, 7, &[2]), Err(KafkaError::FENCED_LEADER_EPOCH), "an old leader");
        assert_eq!(check(2, 4, 7, &[1, 2]), Err(KafkaError::INVALID_REQUEST), "not the leader");
        assert_eq!(check(1, 4, 6, &[1, 2]), Err(KafkaError::INVALID_UPDATE_VERSION));
        assert_eq!(check(1, 4, 7, &[1, 4]), Err(KafkaError::INVALID_REQUEST), "not a replica");
        assert_eq!(check(1, 4, 7, &[2, 3]), Err(KafkaError::INVALID_REQUEST), "without the leader");
        assert_eq!(check(1, 4, 7, &[1, 2]), Ok(()));
    }
}
