//! The active controller (KRaft's QuorumController with ReplicationControlManager): broker liveness by
//! heartbeats, fencing, leader election, ISR changes requested by leaders, controlled shutdown. Its decisions
//! are records in a metadata log that brokers replay; a broker learns nothing any other way.

use super::ids::{BrokerId, PartitionId};
use super::messages::{KafkaError, MetadataRecord, Msg, PartitionState};
use super::node::{KafkaCtx, Timer};
use super::obs::Obs;
use super::spec::{ClusterSpec, NodeRole};
use crate::engine::{NodeId, SimTime};
use std::rc::Rc;

/// How often the controller looks for brokers whose session expired (it fences them at most this late).
const FENCE_CHECK_INTERVAL_US: u64 = 250_000;

/// What the controller knows of a broker (BrokerRegistration plus BrokerHeartbeatManager's session).
#[derive(Clone, Debug)]
struct BrokerSession {
    /// The incarnation of the broker's current registration; a different one means the broker restarted.
    incarnation: u32,
    fenced: bool,
    in_controlled_shutdown: bool,
    last_heartbeat: SimTime,
}

pub struct Controller {
    spec: Rc<ClusterSpec>,
    pub partitions: Vec<PartitionState>,
    brokers: Vec<BrokerSession>,
    /// The metadata log: brokers ask for it from their offset on.
    log: Vec<MetadataRecord>,
}

/// Why a partition's registration is being recomputed.
#[derive(Clone, Copy)]
enum Change {
    RemoveFromIsr(BrokerId),
    ElectIfLeaderless,
}

impl Controller {
    /// A controller whose cluster is freshly created: every broker registered, every partition led by the first
    /// replica of its assignment with the full assignment as ISR.
    pub fn new(spec: Rc<ClusterSpec>) -> Self {
        let brokers = spec
            .brokers()
            .map(|_| BrokerSession {
                incarnation: 0,
                fenced: false,
                in_controlled_shutdown: false,
                last_heartbeat: SimTime::ZERO,
            })
            .collect();
        let partitions: Vec<PartitionState> = spec
            .partitions
            .iter()
            .map(|p| PartitionState {
                leader: p.replicas.first().copied(),
                leader_epoch: 0,
                isr: p.replicas.clone(),
                partition_epoch: 0,
            })
            .collect();
        let log = partitions
            .iter()
            .enumerate()
            .map(|(i, s)| MetadataRecord::Partition(PartitionId(i as u32), s.clone()))
            .collect();
        Controller { spec, partitions, brokers, log }
    }

    pub fn on_start(&mut self, ctx: &mut KafkaCtx<'_>) {
        // Sessions restart with the controller: every broker gets a full session timeout to heartbeat.
        for session in &mut self.brokers {
            session.last_heartbeat = ctx.now;
        }
        ctx.set_timer(FENCE_CHECK_INTERVAL_US, Timer::ControllerFenceCheck);
    }

    pub fn on_timer(&mut self, timer: Timer, ctx: &mut KafkaCtx<'_>) {
        if timer == Timer::ControllerFenceCheck {
            self.fence_expired_sessions(ctx);
            ctx.set_timer(FENCE_CHECK_INTERVAL_US, Timer::ControllerFenceCheck);
        }
    }

    pub fn on_message(&mut self, from: NodeId, msg: Msg, ctx: &mut KafkaCtx<'_>) {
        match msg {
            Msg::BrokerHeartbeat { broker, incarnation, metadata_offset, want_shutdown }
                if self.spec.role_of(from) == NodeRole::Broker(broker) =>
            {
                self.on_heartbeat(broker, incarnation, metadata_offset, want_shutdown, ctx);
            }
            Msg::AlterPartition { broker, partition, leader_epoch, partition_epoch, new_isr } => {
                let result = self.alter_partition(broker, partition, leader_epoch, partition_epoch, new_isr, ctx);
                ctx.send(from, Msg::AlterPartitionResponse { partition, result });
            }
            _ => {}
        }
    }

    /// Whether the controller would make `broker` a leader or add it to an ISR now.
    fn is_acceptable(&self, broker: BrokerId) -> bool {
        let session = &self.brokers[broker.index()];
        !session.fenced && !session.in_controlled_shutdown
    }

    fn on_heartbeat(
        &mut self,
        b: BrokerId,
        incarnation: u32,
        metadata_offset: u64,
        want_shutdown: bool,
        ctx: &mut KafkaCtx<'_>,
    ) {
        if self.brokers[b.index()].incarnation != incarnation {
            // A new registration (the broker restarted): the old one is fenced first, which removes the
            // broker from every ISR; it is unfenced again once it has caught up with the metadata log.
            if !self.brokers[b.index()].fenced {
                self.fence(b, "re-registered after a restart", ctx);
            }
            let session = &mut self.brokers[b.index()];
            session.incarnation = incarnation;
            session.in_controlled_shutdown = false;
        }
        self.brokers[b.index()].last_heartbeat = ctx.now;
        if want_shutdown && !self.brokers[b.index()].in_controlled_shutdown && !self.brokers[b.index()].fenced {
            self.begin_controlled_shutdown(b, ctx);
        }
        let caught_up = metadata_offset >= self.log.len() as u64;
        if self.brokers[b.index()].fenced && !want_shutdown && caught_up {
            self.unfence(b, ctx);
        }
        let shutdown_now = self.brokers[b.index()].in_controlled_shutdown && !self.leads_anything(b);
        if shutdown_now && !self.brokers[b.index()].fenced {
            self.fence(b, "controlled shutdown complete", ctx);
        }
        let node = self.spec.broker_node(b);
        if metadata_offset < self.log.len() as u64 {
            let records: Rc<[MetadataRecord]> = self.log[metadata_offset as usize..].into();
            ctx.send(node, Msg::MetadataUpdate { from_offset: metadata_offset, records });
        }
        let fenced = self.brokers[b.index()].fenced;
        ctx.send(node, Msg::BrokerHeartbeatResponse { fenced, shutdown_now });
    }

    fn leads_anything(&self, b: BrokerId) -> bool {
        self.partitions.iter().any(|p| p.leader == Some(b))
    }

    fn fence_expired_sessions(&mut self, ctx: &mut KafkaCtx<'_>) {
        let timeout = self.spec.broker_config.broker_session_timeout_us;
        for b in self.spec.brokers() {
            let session = &self.brokers[b.index()];
            if !session.fenced && ctx.now.since_us(session.last_heartbeat) > timeout {
                self.fence(b, "broker.session.timeout.ms expired", ctx);
            }
        }
    }

    /// ReplicationControlManager.handleBrokerFenced: the broker leaves every ISR (never emptying one) and loses
    /// its leaderships.
    fn fence(&mut self, b: BrokerId, reason: &'static str, ctx: &mut KafkaCtx<'_>) {
        self.brokers[b.index()].fenced = true;
        ctx.emit(Obs::BrokerFenced { broker: b, reason });
        self.append_broker_record(b, ctx);
        self.update_partitions_of(b, Change::RemoveFromIsr(b), reason, ctx);
    }

    fn unfence(&mut self, b: BrokerId, ctx: &mut KafkaCtx<'_>) {
        self.brokers[b.index()].fenced = false;
        ctx.emit(Obs::BrokerUnfenced { broker: b });
        self.append_broker_record(b, ctx);
        self.update_partitions_of(b, Change::ElectIfLeaderless, "broker unfenced", ctx);
    }

    /// KRaft controlled shutdown: like fencing for ISRs and leadership, while the broker still runs.
    fn begin_controlled_shutdown(&mut self, b: BrokerId, ctx: &mut KafkaCtx<'_>) {
        self.brokers[b.index()].in_controlled_shutdown = true;
        self.append_broker_record(b, ctx);
        self.update_partitions_of(b, Change::RemoveFromIsr(b), "controlled shutdown", ctx);
    }

    fn append_broker_record(&mut self, b: BrokerId, ctx: &mut KafkaCtx<'_>) {
        let s = &self.brokers[b.index()];
        let record =
            MetadataRecord::Broker { broker: b, fenced: s.fenced, in_controlled_shutdown: s.in_controlled_shutdown };
        self.append(record, ctx);
    }

    fn update_partitions_of(&mut self, b: BrokerId, change: Change, reason: &'static str, ctx: &mut KafkaCtx<'_>) {
        for i in 0..self.partitions.len() {
            let p = PartitionId(i as u32);
            if self.spec.partition(p).replicas.contains(&b) {
                self.update_partition(p, change, reason, ctx);
            }
        }
    }

    /// PartitionChangeBuilder: apply `change`, keep a still-acceptable leader, otherwise elect one.
    fn update_partition(&mut self, p: PartitionId, change: Change, reason: &'static str, ctx: &mut KafkaCtx<'_>) {
        let current = self.partitions[p.index()].clone();
        let mut isr = current.isr.clone();
        if let Change::RemoveFromIsr(b) = change {
            // The ISR is never emptied: its last member stays, and the partition goes leaderless.
            if isr.len() > 1 {
                isr.retain(|&r| r != b);
            }
        }
        let leader_ok = current.leader.is_some_and(|l| self.is_acceptable(l));
        let (leader, isr, unclean) = if leader_ok { (current.leader, isr, false) } else { self.elect_leader(p, isr) };
        if leader == current.leader && isr == current.isr {
            return;
        }
        self.commit_partition(p, leader, isr, unclean, reason, ctx);
    }

    /// Leader election (PartitionChangeBuilder): the first replica in assignment order that is in the ISR and
    /// acceptable; else, if `unclean.leader.election.enable`, the first acceptable replica, whose ISR becomes
    /// just itself; else no leader (offline) and the ISR unchanged.
    fn elect_leader(&self, p: PartitionId, isr: Vec<BrokerId>) -> (Option<BrokerId>, Vec<BrokerId>, bool) {
        let replicas = &self.spec.partition(p).replicas;
        if let Some(&clean) = replicas.iter().find(|&&r| isr.contains(&r) && self.is_acceptable(r)) {
            return (Some(clean), isr, false);
        }
        if self.spec.topic_of(p).unclean_leader_election_enable
            && let Some(&unclean) = replicas.iter().find(|&&r| self.is_acceptable(r))
        {
            return (Some(unclean), vec![unclean], true);
        }
        (None, isr, false)
    }

    /// Commits a partition change: the partition epoch always moves, the leader epoch when the leader does.
    fn commit_partition(
        &mut self,
        p: PartitionId,
        leader: Option<BrokerId>,
        isr: Vec<BrokerId>,
        unclean: bool,
        reason: &'static str,
        ctx: &mut KafkaCtx<'_>,
    ) -> PartitionState {
        let current = &self.partitions[p.index()];
        let leader_changed = leader != current.leader;
        let state = PartitionState {
            leader,
            leader_epoch: current.leader_epoch + i32::from(leader_changed),
            isr: isr.clone(),
            partition_epoch: current.partition_epoch + 1,
        };
        self.partitions[p.index()] = state.clone();
        let obs = if leader_changed {
            Obs::LeaderElected { partition: p, leader, leader_epoch: state.leader_epoch, isr, unclean, reason }
        } else {
            Obs::IsrChanged { partition: p, leader_epoch: state.leader_epoch, isr, reason }
        };
        ctx.emit(obs);
        self.append(MetadataRecord::Partition(p, state.clone()), ctx);
        state
    }

    /// AlterPartition from a leader (ReplicationControlManager.alterPartition): only the current leader at the
    /// current leader and partition epochs may change the ISR, and only to add eligible brokers.
    fn alter_partition(
        &mut self,
        broker: BrokerId,
        p: PartitionId,
        leader_epoch: i32,
        partition_epoch: i32,
        new_isr: Vec<BrokerId>,
        ctx: &mut KafkaCtx<'_>,
    ) -> Result<PartitionState, KafkaError> {
        let Some(current) = self.partitions.get(p.index()) else {
            return Err(KafkaError::NOT_LEADER_OR_FOLLOWER);
        };
        if current.leader != Some(broker) {
            return Err(KafkaError::NOT_LEADER_OR_FOLLOWER);
        }
        if leader_epoch != current.leader_epoch {
            return Err(KafkaError::FENCED_LEADER_EPOCH);
        }
        if partition_epoch != current.partition_epoch {
            return Err(KafkaError::INVALID_UPDATE_VERSION);
        }
        let adds_ineligible = new_isr.iter().any(|b| !current.isr.contains(b) && !self.is_acceptable(*b));
        if adds_ineligible || !new_isr.contains(&broker) {
            return Err(KafkaError::INELIGIBLE_REPLICA);
        }
        let reason = if new_isr.len() < current.isr.len() { "isr shrink" } else { "isr expand" };
        Ok(self.commit_partition(p, Some(broker), new_isr, false, reason, ctx))
    }

    /// Appends one record to the metadata log and pushes it to every broker.
    fn append(&mut self, record: MetadataRecord, ctx: &mut KafkaCtx<'_>) {
        let from_offset = self.log.len() as u64;
        let records: Rc<[MetadataRecord]> = Rc::from(vec![record.clone()]);
        self.log.push(record);
        for b in self.spec.brokers() {
            ctx.send(self.spec.broker_node(b), Msg::MetadataUpdate { from_offset, records: records.clone() });
        }
    }
}
