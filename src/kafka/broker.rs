//! A broker: it hosts replicas, leads some partitions (produce, follower fetches, ISR changes, high watermark)
//! and follows others (fetching from their leader, truncating on divergence). It learns leadership only from
//! the controller's metadata records, so a broker cut off from the controller keeps believing what it last heard.

use super::config::TruncationMode;
use super::coordinator::Group;
use super::ids::{BrokerId, GroupId, LeaderEpoch, Offset, PartitionId};
use super::log::{ReplicaLog, SequenceCheck, StorageLoss};
use super::messages::{
    BrokerEpoch, FetchRequest, FetchResponse, FetchResult, KafkaError, LeaderInfo, LeaderRecoveryState, MetadataRecord,
    Msg, OffsetAndEpoch, PartitionState, ProduceBatch, ProduceRequest, ProduceResponse,
};
use super::node::{KafkaCtx, Timer};
use super::obs::{Obs, StaleMessage};
use super::partition::{self, HighWatermarkInputs, LeaderState, PendingIsr};
use super::spec::ClusterSpec;
use crate::engine::{NodeId, SimTime, Wakeup};
use std::rc::Rc;

#[path = "broker_groups.rs"]
mod groups;

/// `replica.fetch.backoff.ms`: how long a follower waits after a fetch error.
const REPLICA_FETCH_BACKOFF_US: u64 = 1_000_000;
/// Linux's vm.dirty_writeback_centisecs: how often the OS writes expired dirty pages back.
const PAGE_CACHE_WRITEBACK_INTERVAL_US: u64 = 5_000_000;
/// An AlterPartition without an answer for this long is sent again (the controller channel's retry).
const ALTER_PARTITION_RETRY_US: u64 = 5_000_000;

/// A follower's fetching state for one partition.
#[derive(Clone, Debug)]
pub struct FollowerState {
    pub leader: Option<BrokerId>,
    pub leader_epoch: LeaderEpoch,
    /// The fetch in flight and when it times out (`replica.socket.timeout.ms`).
    in_flight: Option<(u64, SimTime)>,
    backoff_until: Option<SimTime>,
    /// `leader-epoch-v0`: the one OffsetsForLeaderEpoch before the first fetch is still to be answered.
    truncating_v0: bool,
}

#[derive(Clone, Debug)]
pub enum Role {
    /// Not yet told anything by the controller (just started).
    Unknown,
    Leader(LeaderState),
    Follower(FollowerState),
}

/// One replica hosted on this broker.
#[derive(Clone, Debug)]
pub struct Replica {
    pub log: ReplicaLog,
    pub role: Role,
}

/// A broker's replicas by partition index (`Some` where it holds one), read as a slice; each mutable borrow is
/// noted, so that the state checker looks again only at the replicas that may have changed since it last looked,
/// whatever the partition count.
pub struct Replicas {
    slots: Vec<Option<Replica>>,
    /// The slots borrowed mutably since the last `take_touched`, each once, and which those are.
    touched: Vec<u32>,
    is_touched: Vec<bool>,
    /// Every slot was borrowed (`iter_mut`).
    all_touched: bool,
}

/// The replicas that may have changed since the state checker last looked.
#[derive(Debug, PartialEq, Eq)]
pub enum Touched {
    All,
    These(Vec<u32>),
}

impl Replicas {
    fn new(slots: Vec<Option<Replica>>) -> Self {
        Replicas { is_touched: vec![false; slots.len()], slots, touched: Vec::new(), all_touched: false }
    }

    pub fn get_mut(&mut self, p: PartitionId) -> Option<&mut Replica> {
        if !self.is_touched[p.index()] {
            self.is_touched[p.index()] = true;
            self.touched.push(p.0);
        }
        self.slots[p.index()].as_mut()
    }

    /// Every slot, each noted as borrowed.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Option<Replica>> {
        self.all_touched = true;
        self.slots.iter_mut()
    }

    /// The slots borrowed mutably since the last call, and none from now on.
    pub fn take_touched(&mut self) -> Touched {
        for &p in &self.touched {
            self.is_touched[p as usize] = false;
        }
        let touched = std::mem::take(&mut self.touched);
        if std::mem::take(&mut self.all_touched) { Touched::All } else { Touched::These(touched) }
    }
}

impl std::ops::Deref for Replicas {
    type Target = [Option<Replica>];

    fn deref(&self) -> &[Option<Replica>] {
        &self.slots
    }
}

/// An acks=all produce waiting for the high watermark (DelayedProduce in the produce purgatory): answered once
/// no partition of it is pending.
struct ParkedProduce {
    client: NodeId,
    correlation: u64,
    /// The request's partitions in its order, each pending or done (DelayedProduce's ProducePartitionStatus).
    partitions: Vec<ParkedPartition>,
    deadline: SimTime,
    /// Set when this is a group's offset commit to `__consumer_offsets` rather than a client's produce.
    commit: Option<(GroupId, Vec<(PartitionId, OffsetAndEpoch)>)>,
}

/// One partition of a parked produce.
struct ParkedPartition {
    partition: PartitionId,
    base_offset: Offset,
    required_offset: Offset,
    /// `None` while it waits for the high watermark to reach `required_offset`.
    result: Option<Result<Offset, KafkaError>>,
}

impl ParkedPartition {
    /// A partition appended at `base..=last`, waiting for the high watermark to pass `last`.
    fn pending(partition: PartitionId, base: Offset, last: Offset) -> Self {
        ParkedPartition { partition, base_offset: base, required_offset: last + 1, result: None }
    }
}

impl ParkedProduce {
    fn is_done(&self) -> bool {
        self.partitions.iter().all(|p| p.result.is_some())
    }
}

/// A follower fetch with nothing to return yet (DelayedFetch, `replica.fetch.wait.max.ms`).
struct ParkedFetch {
    follower: NodeId,
    request: FetchRequest,
    deadline: SimTime,
}

/// A broker. Its memory (`mem`) is built afresh at every start; each replica's log survives as the crash allows
/// (see ReplicaLog), and its role is forgotten.
/// How many requests the broker's purgatories may hold, from the cluster's configs (DelayedOperationPurgatory
/// keeps a request until it completes or its timeout passes, so each holds only what arrived within the longest
/// timeout its requests carry; a fetch replaces its sender's earlier one for the partition).
struct PurgatoryBounds {
    /// The longest acks timeout a produce may carry (request.timeout.ms) or a group commit waits.
    produce_wait_max_us: u64,
    /// The longest fetch.max.wait.ms of any consumer.
    consumer_fetch_wait_max_us: u64,
    /// Follower fetches: one per partition and follower.
    follower_fetches_max: usize,
    /// Consumer fetches: one per consumer (it keeps one in flight per broker).
    consumer_fetches_max: usize,
}

impl PurgatoryBounds {
    fn of(spec: &ClusterSpec) -> Self {
        let produce = spec.producers.iter().map(|p| p.config.request_timeout_us);
        let followers: usize = spec.partitions.iter().map(|p| p.replicas.len().saturating_sub(1)).sum();
        PurgatoryBounds {
            produce_wait_max_us: produce.max().unwrap_or(0).max(groups::OFFSETS_COMMIT_TIMEOUT_US),
            consumer_fetch_wait_max_us: spec.consumers.iter().map(|c| c.config.fetch_max_wait_us).max().unwrap_or(0),
            follower_fetches_max: followers,
            consumer_fetches_max: spec.consumers.len(),
        }
    }
}

pub struct Broker {
    pub id: BrokerId,
    spec: Rc<ClusterSpec>,
    /// Indexed by partition; `Some` where this broker holds a replica.
    pub replicas: Replicas,
    /// How many times the process has started before (the model's broker epoch).
    incarnation: u32,
    /// Metadata updates are not applied before this time (the `delay-metadata` fault, which outlives a restart).
    metadata_held_until: SimTime,
    bounds: PurgatoryBounds,
    mem: BrokerMemory,
}

/// Everything a broker's process holds in memory, which a crash or a clean exit loses whole.
struct BrokerMemory {
    /// The broker's metadata cache: partition registrations, and which brokers may join an ISR.
    metadata: Vec<PartitionState>,
    isr_eligible: Vec<bool>,
    /// Each broker's epoch (its registration) per the metadata, while it is unfenced (KIP-903).
    broker_epochs: Vec<Option<BrokerEpoch>>,
    metadata_offset: u64,
    /// The controller this broker believes active (an index into the quorum), and when it last answered (or,
    /// before it has, when the process started).
    active_controller: u32,
    last_controller_response: SimTime,
    next_fetch_id: u64,
    want_shutdown: bool,
    parked_produces: Vec<ParkedProduce>,
    parked_fetches: Vec<ParkedFetch>,
    /// Consumer fetches waiting for the high watermark to move (DelayedFetch, `fetch.max.wait.ms`).
    parked_consumer_fetches: Vec<groups::ParkedConsumerFetch>,
    /// The consumer groups this broker coordinates: those whose `__consumer_offsets` partition it leads.
    groups: std::collections::BTreeMap<GroupId, Group>,
    /// Admin reset-offsets commits awaiting their answer, by the correlation the admin tool's request carries.
    admin_resets: std::collections::BTreeMap<u64, GroupId>,
    wakeup: Wakeup,
}

impl BrokerMemory {
    fn new(spec: &ClusterSpec) -> Self {
        let broker_count = spec.broker_count as usize;
        BrokerMemory {
            metadata: vec![unknown_partition_state(); spec.partitions.len()],
            isr_eligible: vec![true; broker_count],
            broker_epochs: vec![None; broker_count],
            metadata_offset: 0,
            active_controller: 0,
            last_controller_response: SimTime::ZERO,
            next_fetch_id: 0,
            want_shutdown: false,
            parked_produces: Vec::new(),
            parked_fetches: Vec::new(),
            parked_consumer_fetches: Vec::new(),
            groups: std::collections::BTreeMap::new(),
            admin_resets: std::collections::BTreeMap::new(),
            wakeup: Wakeup::default(),
        }
    }
}

fn unknown_partition_state() -> PartitionState {
    PartitionState {
        leader: None,
        leader_epoch: -1,
        isr: Vec::new(),
        partition_epoch: -1,
        leader_recovery_state: LeaderRecoveryState::Recovered,
    }
}

impl Broker {
    pub fn new(id: BrokerId, spec: Rc<ClusterSpec>) -> Self {
        let replicas = spec
            .partitions
            .iter()
            .map(|p| p.replicas.contains(&id).then(|| Replica { log: ReplicaLog::default(), role: Role::Unknown }))
            .collect();
        let mem = BrokerMemory::new(&spec);
        let bounds = PurgatoryBounds::of(&spec);
        Broker {
            id,
            spec,
            replicas: Replicas::new(replicas),
            incarnation: 0,
            metadata_held_until: SimTime::ZERO,
            bounds,
            mem,
        }
    }

    /// A hard crash: everything in memory is gone; each log keeps what survives (see ReplicaLog). Says what the
    /// logs lost, if anything.
    pub fn crash(&mut self, loss: StorageLoss) -> Option<String> {
        let mut lost = Vec::new();
        for (i, replica) in self.replicas.iter_mut().enumerate() {
            let Some(replica) = replica else { continue };
            let before = replica.log.log_end_offset();
            match loss {
                StorageLoss::Disk => replica.log = ReplicaLog::default(),
                _ => replica.log.recover_after_crash(loss == StorageLoss::PageCache),
            }
            replica.role = Role::Unknown;
            if replica.log.log_end_offset() < before {
                let p = PartitionId(i as u32);
                let name = self.spec.partition_name(p);
                lost.push(format!("{name} lost offsets {}..{before}", replica.log.log_end_offset()));
            }
        }
        self.reset_memory();
        let what = if loss == StorageLoss::Disk { "disk gone" } else { "unwritten page cache gone" };
        (!lost.is_empty()).then(|| format!("{what}: {}", lost.join(", ")))
    }

    fn reset_memory(&mut self) {
        self.mem = BrokerMemory::new(&self.spec);
        self.incarnation += 1;
    }

    fn flush_all(&mut self) {
        for replica in self.replicas.iter_mut().flatten() {
            replica.log.flush_for_shutdown();
        }
    }

    /// A group this broker coordinates: its state and member count.
    pub fn group(&self, g: GroupId) -> Option<(super::coordinator::GroupState, usize)> {
        self.mem.groups.get(&g).map(|group| (group.state, group.member_count()))
    }

    /// Whether a controlled shutdown has begun (the process exits once it completes).
    pub fn is_shutting_down(&self) -> bool {
        self.mem.want_shutdown
    }

    /// Starts a controlled shutdown: ask the controller to move leadership away first.
    pub fn begin_controlled_shutdown(&mut self, ctx: &mut KafkaCtx<'_>) {
        self.mem.want_shutdown = true;
        self.send_heartbeat(ctx);
    }

    pub fn on_start(&mut self, ctx: &mut KafkaCtx<'_>) {
        let cfg = &self.spec.broker_config;
        ctx.set_timer(cfg.replica_lag_time_max_us / 2, Timer::IsrExpiration);
        ctx.set_timer(cfg.replica_high_watermark_checkpoint_interval_us, Timer::HighWatermarkCheckpoint);
        ctx.set_timer(PAGE_CACHE_WRITEBACK_INTERVAL_US, Timer::PageCacheWriteback);
        ctx.set_timer(cfg.log_retention_check_interval_us, Timer::LogRetentionCheck);
        if !self.spec.groups.is_empty() {
            ctx.set_timer(self.spec.group_config.offsets_retention_check_interval_us, Timer::OffsetsRetentionCheck);
        }
        self.mem.last_controller_response = ctx.now;
        self.send_heartbeat(ctx);
        ctx.set_timer(self.spec.broker_config.broker_heartbeat_interval_us, Timer::BrokerHeartbeat);
    }

    pub fn on_timer(&mut self, timer: Timer, ctx: &mut KafkaCtx<'_>) {
        match timer {
            Timer::BrokerHeartbeat => {
                self.send_heartbeat(ctx);
                ctx.set_timer(self.spec.broker_config.broker_heartbeat_interval_us, Timer::BrokerHeartbeat);
            }
            Timer::IsrExpiration => {
                self.check_isr_expiration(ctx);
                ctx.set_timer(self.spec.broker_config.replica_lag_time_max_us / 2, Timer::IsrExpiration);
            }
            Timer::HighWatermarkCheckpoint => {
                for replica in self.replicas.iter_mut().flatten() {
                    replica.log.checkpoint_high_watermark();
                }
                let interval = self.spec.broker_config.replica_high_watermark_checkpoint_interval_us;
                ctx.set_timer(interval, Timer::HighWatermarkCheckpoint);
            }
            Timer::LogRetentionCheck => {
                self.apply_retention(ctx);
                ctx.set_timer(self.spec.broker_config.log_retention_check_interval_us, Timer::LogRetentionCheck);
            }
            Timer::OffsetsRetentionCheck => {
                self.expire_offsets(ctx);
                let interval = self.spec.group_config.offsets_retention_check_interval_us;
                ctx.set_timer(interval, Timer::OffsetsRetentionCheck);
            }
            Timer::PageCacheWriteback => {
                let expire = self.spec.broker_config.dirty_expire_us;
                for replica in self.replicas.iter_mut().flatten() {
                    replica.log.page_cache_writeback(ctx.now, expire);
                }
                ctx.set_timer(PAGE_CACHE_WRITEBACK_INTERVAL_US, Timer::PageCacheWriteback);
            }
            Timer::Wakeup => self.on_wakeup(ctx),
            Timer::ControllerFenceCheck
            | Timer::LeaderImbalanceCheck
            | Timer::QuorumTick
            | Timer::ProducerTick
            | Timer::ConsumerPoll
            | Timer::ConsumerHeartbeat
            | Timer::ConsumerProcessed => unreachable!("{} never sets {timer:?}", self.id),
        }
    }

    pub fn on_message(&mut self, from: NodeId, msg: Msg, ctx: &mut KafkaCtx<'_>) {
        match msg {
            Msg::MetadataUpdate { from_offset, records } => self.apply_metadata(from_offset, &records, ctx),
            Msg::BrokerHeartbeatResponse { shutdown_now, not_controller, leader, .. } => {
                self.on_heartbeat_response(from, shutdown_now, not_controller, leader, ctx)
            }
            Msg::MetadataRequest { correlation } => {
                let leaders: Rc<[LeaderInfo]> = self
                    .mem
                    .metadata
                    .iter()
                    .map(|m| LeaderInfo { leader: m.leader, leader_epoch: m.leader_epoch })
                    .collect();
                ctx.send(from, Msg::MetadataResponse { correlation, leaders });
            }
            Msg::Produce(request) => self.on_produce(from, request, ctx),
            Msg::Fetch(request) => self.on_fetch(from, request, ctx),
            Msg::FetchResponse(response) => self.on_fetch_response(response, ctx),
            Msg::AlterPartitionResponse { partition, result } => {
                self.on_alter_partition_response(partition, result, ctx)
            }
            Msg::ConnectionClosed => self.on_leader_connection_closed(from, ctx),
            Msg::GroupRequest { correlation, request } => self.on_group_request(from, correlation, request, ctx),
            // The answer to an admin tool's request (reset-offsets), which the model makes as the coordinator itself.
            Msg::GroupResponse { correlation, response } if from == ctx.me => {
                self.on_admin_reset_answered(correlation, response, ctx)
            }
            m @ (Msg::MetadataResponse { .. }
            | Msg::ProduceResponse(_)
            | Msg::BrokerHeartbeat { .. }
            | Msg::Quorum(_)
            | Msg::AlterPartition { .. }
            | Msg::Forward { .. }
            | Msg::Forwarded { .. }
            | Msg::GroupResponse { .. }) => unreachable!("{} sends nothing that is answered with {m:?}", self.id),
        }
    }

    /// Heartbeats go to the controller believed active; after two intervals without an answer the broker tries
    /// the next one (a controller that is not active points to the one that is).
    fn send_heartbeat(&mut self, ctx: &mut KafkaCtx<'_>) {
        let silent = ctx.now.since_us(self.mem.last_controller_response)
            > 2 * self.spec.broker_config.broker_heartbeat_interval_us;
        if silent {
            self.mem.active_controller = (self.mem.active_controller + 1) % self.spec.controller_count;
            self.mem.last_controller_response = ctx.now;
        }
        let msg = Msg::BrokerHeartbeat {
            broker: self.id,
            incarnation: self.incarnation,
            metadata_offset: self.mem.metadata_offset,
            want_shutdown: self.mem.want_shutdown,
        };
        ctx.send(self.spec.controller_node(self.mem.active_controller), msg);
    }

    fn on_heartbeat_response(
        &mut self,
        from: NodeId,
        shutdown_now: bool,
        not_controller: bool,
        leader: Option<u32>,
        ctx: &mut KafkaCtx<'_>,
    ) {
        if not_controller {
            if let Some(leader) = leader.filter(|&l| l != self.mem.active_controller) {
                self.mem.active_controller = leader;
                self.send_heartbeat(ctx);
            }
            return;
        }
        if self.spec.controller_node(self.mem.active_controller) == from {
            self.mem.last_controller_response = ctx.now;
        }
        if shutdown_now && self.mem.want_shutdown {
            // Leadership has moved away: flush, checkpoint, close connections and exit (KafkaServer.shutdown).
            self.flush_all();
            ctx.emit(Obs::ShutdownComplete { broker: self.id });
            for peer in self.spec.connection_peers(ctx.me) {
                ctx.send(peer, Msg::ConnectionClosed);
            }
            ctx.exit();
        }
    }

    // ---- metadata: the controller's records decide each replica's role ----

    /// BrokerMetadataPublisher: the records of one update form a delta, applied at once — each partition's role
    /// follows its final state in it (ReplicaManager.applyDelta), not every step on the way.
    fn apply_metadata(&mut self, from_offset: u64, records: &[MetadataRecord], ctx: &mut KafkaCtx<'_>) {
        if from_offset > self.mem.metadata_offset || ctx.now < self.metadata_held_until {
            // A gap, or updates withheld (`delay-metadata`): the next heartbeat asks again from our offset.
            return;
        }
        let skip = (self.mem.metadata_offset - from_offset) as usize;
        let mut changed: Vec<PartitionId> = Vec::new();
        for record in records.iter().skip(skip) {
            self.mem.metadata_offset += 1;
            match record {
                MetadataRecord::Partition { partition: p, state, .. } => {
                    self.mem.metadata[p.index()] = state.clone();
                    changed.push(*p);
                }
                MetadataRecord::Broker { broker, incarnation, fenced, in_controlled_shutdown } => {
                    self.mem.isr_eligible[broker.index()] = !fenced && !in_controlled_shutdown;
                    // KRaftMetadataCache.getAliveBrokerEpoch: a fenced broker has none.
                    self.mem.broker_epochs[broker.index()] = (!fenced).then_some(*incarnation);
                }
                MetadataRecord::LeaderChange { .. } => {}
            }
        }
        // Once per partition, in partition order: a replay at restart touches each partition many times.
        changed.sort_unstable();
        changed.dedup();
        for p in changed {
            self.reconcile(p, ctx);
        }
    }

    /// `delay-metadata`: this broker applies no metadata update until `until` (a slow or partitioned metadata
    /// path), then catches up at once with everything it missed.
    pub fn hold_metadata(&mut self, until: SimTime) {
        self.metadata_held_until = until;
    }

    /// Brings a replica's role in line with the partition's registration (Partition.makeLeader / makeFollower).
    fn reconcile(&mut self, p: PartitionId, ctx: &mut KafkaCtx<'_>) {
        let state = self.mem.metadata[p.index()].clone();
        let Some(replica) = self.replicas.get_mut(p) else {
            return;
        };
        if state.leader == Some(self.id) {
            match &mut replica.role {
                Role::Leader(ls) if ls.leader_epoch == state.leader_epoch => {
                    if state.partition_epoch > ls.partition_epoch {
                        ls.commit_isr(state.isr, state.partition_epoch);
                    }
                }
                _ => self.become_leader(p, &state, ctx),
            }
            self.maybe_advance_high_watermark(p, ctx);
        } else {
            let truncate_on_epoch_change = self.spec.broker_config.follower_truncates_on_epoch_change;
            match &mut replica.role {
                Role::Follower(f) if f.leader == state.leader && f.leader_epoch == state.leader_epoch => {}
                // KAFKA-7164 (before 2.0.1): Partition.makeFollower saw the same leader and skipped becoming
                // follower again — no truncation — whatever the epochs it missed.
                Role::Follower(f) if f.leader == state.leader && !truncate_on_epoch_change => {
                    f.leader_epoch = state.leader_epoch;
                }
                _ => self.become_follower(p, &state, ctx),
            }
        }
    }

    fn become_leader(&mut self, p: PartitionId, state: &PartitionState, ctx: &mut KafkaCtx<'_>) {
        let replicas = &self.spec.partition(p).replicas;
        let Some(replica) = self.replicas.get_mut(p) else {
            return;
        };
        // UnifiedLog.maybeAssignEpochStartOffset at becoming leader (KAFKA-7415, 2.0.1); before it the epoch was
        // cached only with the leader's first append.
        if self.spec.broker_config.truncation != TruncationMode::LeaderEpochV0 {
            replica.log.assign_epoch(state.leader_epoch);
        }
        let epoch_start = replica.log.epoch_start_offset(state.leader_epoch).unwrap_or(replica.log.log_end_offset());
        let ls = LeaderState::new(
            self.id,
            replicas,
            state.isr.clone(),
            state.leader_epoch,
            state.partition_epoch,
            epoch_start,
            ctx.now,
        );
        replica.role = Role::Leader(ls);
        self.load_groups(p, ctx);
    }

    fn become_follower(&mut self, p: PartitionId, state: &PartitionState, ctx: &mut KafkaCtx<'_>) {
        self.fail_parked_produces(p, KafkaError::NOT_LEADER_OR_FOLLOWER, ctx);
        self.unload_groups(p, ctx);
        let mode = self.spec.broker_config.truncation;
        let Some(replica) = self.replicas.get_mut(p) else {
            return;
        };
        let hw = replica.log.high_watermark();
        let no_epoch = replica.log.latest_epoch().is_none();
        if mode == TruncationMode::HighWatermark || (mode == TruncationMode::LeaderEpochV0 && no_epoch) {
            // Before KIP-101 a new follower truncated to its own high watermark before fetching; KIP-101 as first
            // shipped fell back to it for a follower with no epoch to ask about.
            truncate_and_report(self.id, p, &mut replica.log, hw, "truncate to high watermark (pre-KIP-101)", ctx);
        }
        replica.role = Role::Follower(FollowerState {
            leader: state.leader,
            leader_epoch: state.leader_epoch,
            in_flight: None,
            backoff_until: None,
            // ReplicaFetcherThread (1.x): a fetcher added on becoming follower starts in the truncating state.
            truncating_v0: mode == TruncationMode::LeaderEpochV0 && !no_epoch,
        });
        // ReplicaManager.makeFollowers completes the partition's delayed fetches: a held consumer fetch that reads
        // it is answered now, NOT_LEADER_OR_FOLLOWER for it, instead of at its fetch.max.wait.ms.
        self.complete_consumer_fetches(p, ctx);
        if state.leader.is_some_and(|l| l != self.id) {
            self.send_fetch(p, ctx);
        }
    }

    // ---- leader: produce ----

    /// ReplicaManager.appendRecords: each partition's batch appended in the request's order; acks=1 answers at
    /// once, acks=all waits in the purgatory when at least one append succeeded (delayedProduceRequestRequired).
    fn on_produce(&mut self, client: NodeId, req: ProduceRequest, ctx: &mut KafkaCtx<'_>) {
        let mut partitions = Vec::with_capacity(req.batches.len());
        for batch in &req.batches {
            let appended = self.append_as_leader(batch, req.acks, ctx.now);
            if appended.is_ok() {
                self.complete_parked_fetches(batch.partition, ctx);
                self.maybe_advance_high_watermark(batch.partition, ctx);
            }
            partitions.push(match appended {
                Ok((base, last)) => ParkedPartition::pending(batch.partition, base, last),
                Err(error) => {
                    ParkedPartition { result: Some(Err(error)), ..ParkedPartition::pending(batch.partition, 0, 0) }
                }
            });
        }
        if req.acks == 0 {
            return;
        }
        let any_appended = partitions.iter().any(|p| p.result.is_none());
        if req.acks == 1 || !any_appended {
            for p in partitions.iter_mut().filter(|p| p.result.is_none()) {
                p.result = Some(Ok(p.base_offset));
            }
            let parked =
                ParkedProduce { client, correlation: req.correlation, partitions, deadline: ctx.now, commit: None };
            return self.answer_parked(parked, ctx);
        }
        let deadline = ctx.now.plus_us(req.timeout_us);
        let parked = ParkedProduce { client, correlation: req.correlation, partitions, deadline, commit: None };
        self.park_produce(parked, ctx);
        for batch in &req.batches {
            self.complete_parked_produces(batch.partition, ctx);
        }
    }

    /// Partition.appendRecordsToLeader: leadership, the acks=all min ISR check, the idempotence check, the append.
    fn append_as_leader(
        &mut self,
        batch: &ProduceBatch,
        acks: i8,
        now: SimTime,
    ) -> Result<(Offset, Offset), KafkaError> {
        let min_isr = self.spec.topic_of(batch.partition).effective_min_isr();
        let flush_interval = self.spec.broker_config.log_flush_interval_messages;
        let Some(replica) = self.replicas.get_mut(batch.partition) else {
            return Err(KafkaError::NOT_LEADER_OR_FOLLOWER);
        };
        let Role::Leader(ls) = &replica.role else {
            return Err(KafkaError::NOT_LEADER_OR_FOLLOWER);
        };
        if acks == -1 && !partition::enough_replicas_to_append(ls, min_isr) {
            return Err(KafkaError::NOT_ENOUGH_REPLICAS);
        }
        if let Some(stamp) = batch.stamp {
            match replica.log.check_sequence(stamp, batch.records.len()) {
                SequenceCheck::Append => {}
                SequenceCheck::Duplicate { base_offset } => {
                    return Ok((base_offset, base_offset + batch.records.len() as u64 - 1));
                }
                SequenceCheck::OutOfOrder => return Err(KafkaError::OUT_OF_ORDER_SEQUENCE_NUMBER),
                SequenceCheck::StaleEpoch => return Err(KafkaError::INVALID_PRODUCER_EPOCH),
            }
        }
        let range = replica.log.append_as_leader(batch.records.clone(), ls.leader_epoch, batch.stamp, now);
        replica.log.maybe_flush(flush_interval);
        Ok(range)
    }

    /// DelayedProduce.tryComplete for one partition: its pending part of each parked request is done once the
    /// high watermark reached it (Partition.checkEnoughReplicasReachOffset); requests with nothing pending left
    /// are answered.
    fn complete_parked_produces(&mut self, p: PartitionId, ctx: &mut KafkaCtx<'_>) {
        let min_isr = self.spec.topic_of(p).effective_min_isr();
        let Some(Replica { log, role: Role::Leader(ls) }) = self.replicas[p.index()].as_ref() else {
            return;
        };
        let hw = log.high_watermark();
        let enough = partition::enough_replicas_after_append(ls, min_isr);
        self.settle_parked_produces(p, ctx, |parked| {
            (parked.required_offset <= hw).then_some(if enough {
                Ok(parked.base_offset)
            } else {
                Err(KafkaError::NOT_ENOUGH_REPLICAS_AFTER_APPEND)
            })
        });
    }

    fn fail_parked_produces(&mut self, p: PartitionId, error: KafkaError, ctx: &mut KafkaCtx<'_>) {
        self.settle_parked_produces(p, ctx, |_| Some(Err(error)));
    }

    /// Gives `p`'s pending part of each parked produce the result `settle` finds (if any), then answers the
    /// produces left with nothing pending, in the order they were parked.
    fn settle_parked_produces(
        &mut self,
        p: PartitionId,
        ctx: &mut KafkaCtx<'_>,
        settle: impl Fn(&ParkedPartition) -> Option<Result<Offset, KafkaError>>,
    ) {
        let mut any_done = false;
        for parked in &mut self.mem.parked_produces {
            for part in parked.partitions.iter_mut().filter(|q| q.partition == p && q.result.is_none()) {
                part.result = settle(part);
            }
            any_done |= parked.is_done();
        }
        if any_done {
            let done: Vec<_> = self.mem.parked_produces.extract_if(.., |pp| pp.is_done()).collect();
            for parked in done {
                self.answer_parked(parked, ctx);
            }
        }
    }

    /// Answers a produce (or a group's offset commit) with nothing pending: its partitions' results in the
    /// request's order.
    fn answer_parked(&mut self, parked: ParkedProduce, ctx: &mut KafkaCtx<'_>) {
        let result_of = |p: &ParkedPartition| match p.result {
            Some(result) => result,
            None => unreachable!("a produce is answered only with nothing pending"),
        };
        if let Some((group, offsets)) = parked.commit {
            let result = result_of(&parked.partitions[0]).map(|_| ());
            self.complete_offset_commit(parked.client, parked.correlation, group, offsets, result, ctx);
            return;
        }
        let partitions = parked.partitions.iter().map(|p| (p.partition, result_of(p))).collect();
        ctx.send(parked.client, Msg::ProduceResponse(ProduceResponse { correlation: parked.correlation, partitions }));
    }

    // ---- leader: follower fetches, ISR expansion, high watermark ----

    fn on_fetch(&mut self, follower: NodeId, req: FetchRequest, ctx: &mut KafkaCtx<'_>) {
        if let Some(result) = self.serve_fetch(&req, ctx) {
            let response = FetchResponse { fetch_id: req.fetch_id, partition: req.partition, result };
            ctx.send(follower, Msg::FetchResponse(response));
        } else {
            let deadline = ctx.now.plus_us(self.spec.broker_config.replica_fetch_wait_max_us);
            self.arm(deadline, ctx);
            self.park_fetch(ParkedFetch { follower, request: req, deadline });
        }
    }

    /// An acks=all produce or a group commit waits in the produce purgatory for the high watermark.
    fn park_produce(&mut self, parked: ParkedProduce, ctx: &mut KafkaCtx<'_>) {
        let horizon = ctx.now.plus_us(self.bounds.produce_wait_max_us);
        assert!(parked.deadline <= horizon, "{} parks a produce beyond every timeout", self.id);
        self.arm(parked.deadline, ctx);
        self.mem.parked_produces.push(parked);
    }

    /// A follower fetch waits in the fetch purgatory. One from the same follower for the same partition is one
    /// the follower gave up on (it keeps one fetch in flight per partition): it is dropped, unanswered.
    fn park_fetch(&mut self, parked: ParkedFetch) {
        let (follower, p) = (parked.follower, parked.request.partition);
        self.mem.parked_fetches.retain(|f| f.follower != follower || f.request.partition != p);
        self.mem.parked_fetches.push(parked);
        let held = self.mem.parked_fetches.len();
        assert!(held <= self.bounds.follower_fetches_max, "{} holds {held} follower fetches", self.id);
    }

    /// Partition.fetchRecords for a follower: epoch checks, divergence (KIP-320), then the follower's progress,
    /// ISR expansion and the high watermark, then the read. `None` means nothing to read yet: park the fetch.
    fn serve_fetch(&mut self, req: &FetchRequest, ctx: &mut KafkaCtx<'_>) -> Option<FetchResult> {
        let p = req.partition;
        let max_bytes = self.spec.broker_config.replica_fetch_max_bytes;
        let Some(Replica { log, role: Role::Leader(ls) }) = self.replicas.get_mut(p) else {
            return Some(FetchResult::Error(KafkaError::NOT_LEADER_OR_FOLLOWER));
        };
        if req.current_leader_epoch < ls.leader_epoch {
            return Some(FetchResult::Error(KafkaError::FENCED_LEADER_EPOCH));
        }
        if req.current_leader_epoch > ls.leader_epoch {
            return Some(FetchResult::Error(KafkaError::UNKNOWN_LEADER_EPOCH));
        }
        let leo = log.log_end_offset();
        if self.spec.broker_config.truncation == TruncationMode::LeaderEpochV0 {
            if let Some(epoch) = req.last_fetched_epoch {
                let end_offset = log.epoch_cache().end_offset_for_v0(epoch, leo);
                return Some(FetchResult::EpochEndOffsetV0 { end_offset });
            }
        } else if let Some(diverged) = req.last_fetched_epoch.and_then(|e| fetch_divergence(log, e, req.fetch_offset)) {
            return Some(diverged);
        }
        if req.fetch_offset > leo || req.fetch_offset < log.log_start_offset() {
            let start = log.log_start_offset();
            return Some(FetchResult::OutOfRange { leader_log_start_offset: start, leader_log_end_offset: leo });
        }
        let Some(follower) = ls.follower_mut(req.replica) else {
            return Some(FetchResult::Error(KafkaError::NOT_LEADER_OR_FOLLOWER));
        };
        let registered = self.mem.broker_epochs[req.replica.index()];
        if let Err(stale) = partition::record_follower_epoch(follower, req.replica_epoch, registered) {
            return Some(FetchResult::Error(stale));
        }
        partition::record_follower_fetch(follower, req.fetch_offset, leo, ctx.now);
        self.maybe_expand_isr(p, req.replica, ctx);
        self.maybe_advance_high_watermark(p, ctx);
        let log = &self.replicas[p.index()].as_ref()?.log;
        let batches = log.read(req.fetch_offset, max_bytes);
        if batches.is_empty() {
            return None;
        }
        Some(FetchResult::Records { batches, high_watermark: log.high_watermark() })
    }

    /// New data arrived: parked follower fetches for `p` can be answered.
    fn complete_parked_fetches(&mut self, p: PartitionId, ctx: &mut KafkaCtx<'_>) {
        // Served one at a time, without collecting: a fetch that parks again goes to the back, after every
        // fetch that was waiting, so `waiting` bounds the loop.
        let waiting = self.mem.parked_fetches.iter().filter(|f| f.request.partition == p).count();
        for _ in 0..waiting {
            let Some(i) = self.mem.parked_fetches.iter().position(|f| f.request.partition == p) else { break };
            let parked = self.mem.parked_fetches.remove(i);
            self.on_fetch(parked.follower, parked.request, ctx);
        }
    }

    /// Partition.maybeExpandIsr with isReplicaIsrEligible: unfenced, not shutting down, and (KIP-903) fetching
    /// with the broker epoch of its current registration.
    fn maybe_expand_isr(&mut self, p: PartitionId, follower: BrokerId, ctx: &mut KafkaCtx<'_>) {
        let controller = self.spec.controller_node(self.mem.active_controller);
        let check_epoch = self.spec.broker_config.alter_partition_broker_epoch;
        let registered = self.mem.broker_epochs[follower.index()];
        let in_sync_rule = self.spec.broker_config.in_sync_rule;
        let me = self.me_with_epoch();
        let Some(Replica { log, role: Role::Leader(ls) }) = self.replicas.get_mut(p) else {
            return;
        };
        let current = ls.followers.iter().find(|f| f.broker == follower);
        let epoch_ok = !check_epoch || current.is_some_and(|f| partition::broker_epoch_is_current(f, registered));
        let eligible = self.mem.isr_eligible[follower.index()] && epoch_ok;
        if partition::can_join_isr(ls, follower, eligible, log.high_watermark(), in_sync_rule) {
            let mut proposed = ls.isr.clone();
            proposed.push(follower);
            Self::propose_isr(me, controller, p, ls, proposed, ctx);
        }
    }

    /// This broker with its epoch as it goes into an AlterPartition (none without KIP-903).
    fn me_with_epoch(&self) -> (BrokerId, Option<BrokerEpoch>) {
        (self.id, self.spec.broker_config.alter_partition_broker_epoch.then_some(self.incarnation))
    }

    /// Partition.prepareIsrExpand / prepareIsrShrink with addBrokerEpochToIsr: the leader's own epoch, each
    /// follower's from its last fetch (none if it has not fetched, or without KIP-903).
    fn propose_isr(
        (me, my_epoch): (BrokerId, Option<BrokerEpoch>),
        controller: NodeId,
        p: PartitionId,
        ls: &mut LeaderState,
        proposed: Vec<BrokerId>,
        ctx: &mut KafkaCtx<'_>,
    ) {
        let epoch_of = |b: BrokerId| match b == me {
            true => my_epoch,
            false => {
                ls.followers.iter().find(|f| f.broker == b).and_then(|f| f.broker_epoch.filter(|_| my_epoch.is_some()))
            }
        };
        let broker_epochs = proposed.iter().map(|&b| epoch_of(b)).collect();
        Self::send_isr_proposal(me, controller, p, ls, PendingIsr { proposed, broker_epochs, sent_at: ctx.now }, ctx);
    }

    fn send_isr_proposal(
        me: BrokerId,
        controller: NodeId,
        p: PartitionId,
        ls: &mut LeaderState,
        pending: PendingIsr,
        ctx: &mut KafkaCtx<'_>,
    ) {
        let msg = Msg::AlterPartition {
            broker: me,
            partition: p,
            leader_epoch: ls.leader_epoch,
            partition_epoch: ls.partition_epoch,
            new_isr: pending.proposed.clone(),
            broker_epochs: pending.broker_epochs.clone(),
        };
        ctx.send(controller, msg);
        ls.pending = Some(PendingIsr { sent_at: ctx.now, ..pending });
    }

    fn maybe_advance_high_watermark(&mut self, p: PartitionId, ctx: &mut KafkaCtx<'_>) {
        let cfg = &self.spec.broker_config;
        let min_isr = self.spec.topic_of(p).effective_min_isr();
        let eligible = &self.mem.isr_eligible;
        let Some(Replica { log, role: Role::Leader(ls) }) = self.replicas.get_mut(p) else {
            return;
        };
        let inputs = HighWatermarkInputs {
            state: ls,
            leader_leo: log.log_end_offset(),
            current: log.high_watermark(),
            now: ctx.now,
            lag_max_us: cfg.replica_lag_time_max_us,
            effective_min_isr: min_isr,
            frozen_under_min_isr: cfg.hw_frozen_under_min_isr,
            is_eligible: &|b: BrokerId| eligible[b.index()],
        };
        if let Some(hw) = partition::next_high_watermark(&inputs)
            && log.maybe_increment_high_watermark(hw)
        {
            self.complete_parked_produces(p, ctx);
            self.complete_consumer_fetches(p, ctx);
        }
    }

    /// The isr-expiration task (every `replica.lag.time.max.ms` / 2): propose removing lagging followers.
    fn check_isr_expiration(&mut self, ctx: &mut KafkaCtx<'_>) {
        let controller = self.spec.controller_node(self.mem.active_controller);
        let me = self.me_with_epoch();
        let lag_max = self.spec.broker_config.replica_lag_time_max_us;
        for (i, slot) in self.replicas.iter_mut().enumerate() {
            let Some(Replica { log, role: Role::Leader(ls) }) = slot else {
                continue;
            };
            let p = PartitionId(i as u32);
            if let Some(pending) = &ls.pending {
                if ctx.now.since_us(pending.sent_at) >= ALTER_PARTITION_RETRY_US {
                    let again = pending.clone();
                    Self::send_isr_proposal(me.0, controller, p, ls, again, ctx);
                }
                continue;
            }
            let lagging = partition::out_of_sync_followers(ls, log.log_end_offset(), ctx.now, lag_max);
            if !lagging.is_empty() {
                let proposed = ls.isr.iter().copied().filter(|b| !lagging.contains(b)).collect();
                Self::propose_isr(me, controller, p, ls, proposed, ctx);
            }
        }
    }

    fn on_alter_partition_response(
        &mut self,
        p: PartitionId,
        result: Result<PartitionState, KafkaError>,
        ctx: &mut KafkaCtx<'_>,
    ) {
        let Some(Replica { role: Role::Leader(ls), .. }) = self.replicas.get_mut(p) else {
            ctx.emit(Obs::StaleDelivery { message: StaleMessage::AlterPartitionResponse });
            return; // Leadership moved on while the proposal was in flight.
        };
        match result {
            // Partition.handleAlterPartitionUpdate: a newer partition epoch, or the same one (the controller found
            // nothing to change), commits the proposal; an older one or another leader epoch is ignored.
            Ok(state) if state.leader_epoch == ls.leader_epoch && state.partition_epoch >= ls.partition_epoch => {
                ls.commit_isr(state.isr, state.partition_epoch);
            }
            Ok(_) => {}
            Err(_) => ls.pending = None,
        }
        self.maybe_advance_high_watermark(p, ctx);
    }

    // ---- follower ----

    fn send_fetch(&mut self, p: PartitionId, ctx: &mut KafkaCtx<'_>) {
        let mode = self.spec.broker_config.truncation;
        let (with_epoch, incarnation) = (self.spec.broker_config.alter_partition_broker_epoch, self.incarnation);
        let timeout = self.spec.broker_config.replica_socket_timeout_us;
        let Some(Replica { log, role: Role::Follower(f) }) = self.replicas.get_mut(p) else {
            return;
        };
        let Some(leader) = f.leader else { return };
        self.mem.next_fetch_id += 1;
        let request = FetchRequest {
            fetch_id: self.mem.next_fetch_id,
            partition: p,
            replica: self.id,
            fetch_offset: log.log_end_offset(),
            current_leader_epoch: f.leader_epoch,
            last_fetched_epoch: match mode {
                TruncationMode::LeaderEpoch => log.latest_epoch(),
                TruncationMode::LeaderEpochV0 if f.truncating_v0 => log.latest_epoch(),
                _ => None,
            },
            replica_epoch: with_epoch.then_some(incarnation),
        };
        let deadline = ctx.now.plus_us(timeout);
        f.in_flight = Some((request.fetch_id, deadline));
        f.backoff_until = None;
        ctx.send(self.spec.broker_node(leader), Msg::Fetch(request));
        self.arm(deadline, ctx);
    }

    fn on_fetch_response(&mut self, resp: FetchResponse, ctx: &mut KafkaCtx<'_>) {
        let p = resp.partition;
        let flush_interval = self.spec.broker_config.log_flush_interval_messages;
        let Some(Replica { log, role: Role::Follower(f) }) = self
            .replicas
            .get_mut(p)
            .filter(|r| matches!(&r.role, Role::Follower(f) if f.in_flight.map(|(id, _)| id) == Some(resp.fetch_id)))
        else {
            // An answer to a fetch we gave up on (a timeout, a closed connection), or from before we became leader.
            ctx.emit(Obs::StaleDelivery { message: StaleMessage::FetchResponse });
            return;
        };
        f.in_flight = None;
        let truncate_to = match resp.result {
            FetchResult::Records { batches, high_watermark } => {
                log.append_as_follower(&batches);
                log.maybe_flush(flush_interval);
                // The follower's high watermark: the leader's, bounded by its own log end.
                log.update_high_watermark(high_watermark);
                None
            }
            FetchResult::Diverging { epoch, end_offset } => Some(divergence_truncation_offset(log, epoch, end_offset)),
            // ReplicaFetcherThread.maybeTruncate (1.x): once, to min(the answer, our log end); to the high
            // watermark when the leader knows no such epoch. Then plain fetching.
            FetchResult::EpochEndOffsetV0 { end_offset } => {
                f.truncating_v0 = false;
                Some(end_offset.map_or(log.high_watermark(), |end| end.min(log.log_end_offset())))
            }
            // ReplicaFetcherThread.handleOutOfRangeError: a follower ahead of the leader's end truncates to it; one
            // behind the leader's log start (retention deleted what it needs) starts over at that offset.
            FetchResult::OutOfRange { leader_log_start_offset, leader_log_end_offset } => {
                if log.log_end_offset() < leader_log_start_offset {
                    log.truncate_fully_and_start_at(leader_log_start_offset);
                    None
                } else {
                    Some(leader_log_end_offset.min(log.log_end_offset()))
                }
            }
            FetchResult::Error(_) => {
                let until = ctx.now.plus_us(REPLICA_FETCH_BACKOFF_US);
                f.backoff_until = Some(until);
                self.arm(until, ctx);
                return;
            }
        };
        if let Some(offset) = truncate_to {
            truncate_and_report(self.id, p, log, offset, "diverged from the leader's log", ctx);
        }
        self.send_fetch(p, ctx);
    }

    /// A fetch refused by a leader whose process is down fails like a closed connection.
    pub fn on_refused(&mut self, to: NodeId, msg: Msg, ctx: &mut KafkaCtx<'_>) {
        if matches!(msg, Msg::Fetch(_)) {
            self.on_leader_connection_closed(to, ctx);
        }
    }

    /// The fetcher's connection to a leader closed: its fetches failed; retry after `replica.fetch.backoff.ms`.
    fn on_leader_connection_closed(&mut self, from: NodeId, ctx: &mut KafkaCtx<'_>) {
        let until = ctx.now.plus_us(REPLICA_FETCH_BACKOFF_US);
        let mut any = false;
        for replica in self.replicas.iter_mut().flatten() {
            let Role::Follower(f) = &mut replica.role else { continue };
            let to_sender = f.leader.is_some_and(|l| self.spec.broker_node(l) == from);
            if to_sender && f.in_flight.is_some() {
                f.in_flight = None;
                f.backoff_until = Some(until);
                any = true;
            }
        }
        if any {
            self.arm(until, ctx);
        }
    }

    /// The retention check (every `log.retention.check.interval.ms`): each replica deletes, on its own, what its
    /// topic's `retention.ms` / `retention.bytes` no longer keep.
    fn apply_retention(&mut self, ctx: &mut KafkaCtx<'_>) {
        for (i, replica) in self.replicas.iter_mut().enumerate() {
            let Some(replica) = replica else { continue };
            let topic = self.spec.topic_of(PartitionId(i as u32));
            if let Some(start) = replica.log.apply_retention(ctx.now, topic.retention_us, topic.retention_bytes) {
                ctx.emit(Obs::LogStartMoved {
                    broker: self.id,
                    partition: PartitionId(i as u32),
                    log_start_offset: start,
                });
            }
        }
    }

    // ---- deadlines ----

    fn arm(&mut self, at: SimTime, ctx: &mut KafkaCtx<'_>) {
        if let Some(delay_us) = self.mem.wakeup.arm(at, ctx.now) {
            ctx.set_timer(delay_us, Timer::Wakeup);
        }
    }

    fn on_wakeup(&mut self, ctx: &mut KafkaCtx<'_>) {
        self.mem.wakeup.fired(ctx.now);
        let now = ctx.now;
        let expired: Vec<_> = self.mem.parked_produces.extract_if(.., |pp| pp.deadline <= now).collect();
        for mut parked in expired {
            // DelayedProduce.onComplete after its timeout: what is still pending timed out.
            for part in parked.partitions.iter_mut().filter(|p| p.result.is_none()) {
                part.result = Some(Err(KafkaError::REQUEST_TIMED_OUT));
            }
            self.answer_parked(parked, ctx);
        }
        let expired: Vec<_> = self.mem.parked_fetches.extract_if(.., |f| f.deadline <= now).collect();
        for parked in expired {
            self.answer_expired_fetch(parked, ctx);
        }
        self.retry_follower_fetches(ctx);
        self.expire_consumer_fetches(ctx);
        self.expire_group_sessions(ctx);
        if let Some(next) = self.earliest_deadline() {
            self.arm(next, ctx);
        }
    }

    fn answer_expired_fetch(&mut self, parked: ParkedFetch, ctx: &mut KafkaCtx<'_>) {
        let p = parked.request.partition;
        let result = match self.replicas[p.index()].as_ref() {
            Some(Replica { log, role: Role::Leader(_) }) => {
                FetchResult::Records { batches: Default::default(), high_watermark: log.high_watermark() }
            }
            _ => FetchResult::Error(KafkaError::NOT_LEADER_OR_FOLLOWER),
        };
        let response = FetchResponse { fetch_id: parked.request.fetch_id, partition: p, result };
        ctx.send(parked.follower, Msg::FetchResponse(response));
    }

    fn retry_follower_fetches(&mut self, ctx: &mut KafkaCtx<'_>) {
        for i in 0..self.replicas.len() {
            let Some(Replica { role: Role::Follower(f), .. }) = self.replicas[i].as_ref() else {
                continue;
            };
            let timed_out = f.in_flight.is_some_and(|(_, deadline)| deadline <= ctx.now);
            let backed_off = f.backoff_until.is_some_and(|until| until <= ctx.now);
            if timed_out || backed_off {
                self.send_fetch(PartitionId(i as u32), ctx);
            }
        }
    }

    fn earliest_deadline(&self) -> Option<SimTime> {
        let produces = self.mem.parked_produces.iter().map(|p| p.deadline);
        let fetches = self.mem.parked_fetches.iter().map(|f| f.deadline);
        let followers = self.replicas.iter().flatten().filter_map(|r| match &r.role {
            Role::Follower(f) => f.in_flight.map(|(_, d)| d).or(f.backoff_until),
            _ => None,
        });
        let consumers = self.mem.parked_consumer_fetches.iter().map(|f| f.deadline);
        let groups = self.mem.groups.values().filter_map(|g| g.next_deadline());
        produces.chain(fetches).chain(followers).chain(consumers).chain(groups).min()
    }
}

/// Truncates `log` to `offset` and reports what went: offsets (a `Truncated` event) or, when none did, entries
/// of the epoch cache (`EpochCacheTrimmed`).
fn truncate_and_report(
    broker: BrokerId,
    partition: PartitionId,
    log: &mut ReplicaLog,
    offset: Offset,
    reason: &'static str,
    ctx: &mut KafkaCtx<'_>,
) {
    let from_offset = log.log_end_offset();
    let done = log.truncate_to(offset);
    if done.offsets_removed > 0 {
        ctx.emit(Obs::Truncated { broker, partition, from_offset, to_offset: log.log_end_offset(), reason });
    } else if done.epochs_removed > 0 {
        let entries_removed = done.epochs_removed;
        ctx.emit(Obs::EpochCacheTrimmed { broker, partition, log_end_offset: from_offset, entries_removed });
    }
}

/// Partition.validateFetchOffsetAndMaybeGetDivergingEpoch (KIP-320): the leader's answer to a follower that last
/// fetched `last_fetched_epoch` and asks from `fetch_offset`, when its log diverges from the leader's: the epoch
/// and end offset to truncate to, or out of range when the leader knows no such epoch. `None`: no divergence.
pub fn fetch_divergence(
    log: &ReplicaLog,
    last_fetched_epoch: LeaderEpoch,
    fetch_offset: Offset,
) -> Option<FetchResult> {
    match log.end_offset_for_epoch(last_fetched_epoch) {
        None => Some(FetchResult::OutOfRange {
            leader_log_start_offset: log.log_start_offset(),
            leader_log_end_offset: log.log_end_offset(),
        }),
        Some((epoch, end_offset)) if epoch < last_fetched_epoch || end_offset < fetch_offset => {
            Some(FetchResult::Diverging { epoch, end_offset })
        }
        Some(_) => None,
    }
}

/// AbstractFetcherThread.getOffsetTruncationState (truncate-on-fetch, KIP-320): where a follower truncates when
/// the leader says its epoch `leader_epoch` ended at `leader_end_offset`.
pub fn divergence_truncation_offset(log: &ReplicaLog, leader_epoch: LeaderEpoch, leader_end_offset: Offset) -> Offset {
    let leo = log.log_end_offset();
    match log.end_offset_for_epoch(leader_epoch) {
        // Same epoch on both sides: keep what both logs have of it.
        Some((epoch, own_end)) if epoch == leader_epoch => own_end.min(leader_end_offset).min(leo),
        // We only know an earlier epoch: cut back to where that one ended here; the next fetch refines it.
        Some((_, own_end)) => own_end.min(leo),
        None => leader_end_offset.min(leo),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::runner::Command;
    use crate::kafka::ids::ClientId;
    use crate::kafka::log::Record;

    fn log_with_epochs(epochs: &[(LeaderEpoch, usize)]) -> ReplicaLog {
        let mut log = ReplicaLog::default();
        let mut seq = 0;
        for &(epoch, count) in epochs {
            for _ in 0..count {
                let record = Record { producer: ClientId(0), send_seq: seq, key: None, size_bytes: 10 };
                seq += 1;
                log.append_as_leader(Rc::from(vec![record]), epoch, None, SimTime::ZERO);
            }
        }
        log
    }

    /// Broker 1 of a cluster with one partition of replication factor 3, one producer (request.timeout.ms 30 s)
    /// and one consumer group of one consumer (fetch.max.wait.ms 500 ms).
    fn broker_with_one_partition() -> Broker {
        let toml = r#"
[[topics]]
name = "orders"
partitions = 1
replication.factor = 3

[[producers]]
name = "order-service"
topic = "orders"

[[consumers]]
group.id = "billing"
topics = ["orders"]
"#;
        let scenario = crate::scenario::load_str("broker-test.toml", toml).expect("a valid scenario");
        Broker::new(BrokerId(1), Rc::new(scenario.sim.cluster))
    }

    fn with_ctx(broker: &mut Broker, f: impl FnOnce(&mut Broker, &mut KafkaCtx<'_>)) {
        let mut rng = crate::engine::rng::stream(1, "broker-test", 0);
        let mut commands = Vec::new();
        let mut ctx = crate::engine::runner::Ctx::detached(SimTime::ZERO, NodeId(0), &mut rng, &mut commands);
        f(broker, &mut ctx);
    }

    fn follower_fetch(replica: u32) -> FetchRequest {
        FetchRequest {
            fetch_id: 1,
            partition: PartitionId(0),
            replica: BrokerId(replica),
            fetch_offset: 0,
            current_leader_epoch: 0,
            last_fetched_epoch: None,
            replica_epoch: None,
        }
    }

    /// Broker 1 leading both partitions of a two-broker topic (RF 2, min.insync.replicas 1): orders-0 with
    /// itself alone in the ISR, orders-1 with broker 2 too.
    fn leader_of_two_partitions() -> Broker {
        let toml = "[cluster]\nbrokers = 2\n\n[[topics]]\nname = \"orders\"\npartitions = 2\nreplication.factor = 2\n\
                    min.insync.replicas = 1\n\n[[producers]]\nname = \"p\"\ntopic = \"orders\"\n";
        let scenario = crate::scenario::load_str("produce-test.toml", toml).expect("a valid scenario");
        let mut broker = Broker::new(BrokerId(1), Rc::new(scenario.sim.cluster));
        broker.mem.isr_eligible.fill(true);
        for (p, isr) in [(0, vec![BrokerId(1)]), (1, vec![BrokerId(1), BrokerId(2)])] {
            let replica = broker.replicas.get_mut(PartitionId(p)).expect("a replica");
            let replicas = [BrokerId(1), BrokerId(2)];
            replica.role = Role::Leader(LeaderState::new(BrokerId(1), &replicas, isr, 0, 0, 0, SimTime::ZERO));
        }
        broker
    }

    type PartitionResult = (u32, Result<Offset, KafkaError>);

    /// The partitions and results of every ProduceResponse among `commands`.
    fn produce_answers(commands: &[Command<Msg, Timer, Obs>]) -> Vec<Vec<PartitionResult>> {
        let answer = |c: &Command<Msg, Timer, Obs>| match c {
            Command::Send { msg: Msg::ProduceResponse(r), .. } => {
                Some(r.partitions.iter().map(|&(p, result)| (p.0, result)).collect())
            }
            _ => None,
        };
        commands.iter().filter_map(answer).collect()
    }

    // ReplicaManager.appendRecords and DelayedProduce: an acks=all request over two partitions is answered once,
    // when neither is pending: orders-0 (ISR of one) is done at its append, orders-1 waits for its follower,
    // and the leadership it loses (makeFollowers) ends its wait with NOT_LEADER_OR_FOLLOWER. One answer carries
    // both results, in the request's order.
    #[test]
    fn an_acks_all_produce_is_answered_when_no_partition_is_pending() {
        let mut broker = leader_of_two_partitions();
        let record = Record { producer: ClientId(0), send_seq: 0, key: None, size_bytes: 10 };
        let batch = |p| ProduceBatch { partition: PartitionId(p), stamp: None, records: Rc::from(vec![record]) };
        let request =
            ProduceRequest { correlation: 3, acks: -1, timeout_us: 30_000_000, batches: vec![batch(0), batch(1)] };
        let mut rng = crate::engine::rng::stream(1, "produce-test", 0);
        let mut commands = Vec::new();
        let mut ctx = crate::engine::runner::Ctx::detached(SimTime::ZERO, NodeId(9), &mut rng, &mut commands);
        broker.on_produce(NodeId(9), request, &mut ctx);
        assert!(produce_answers(&commands).is_empty(), "orders-1 waits for broker 2");
        let mut ctx = crate::engine::runner::Ctx::detached(SimTime::ZERO, NodeId(9), &mut rng, &mut commands);
        broker.fail_parked_produces(PartitionId(1), KafkaError::NOT_LEADER_OR_FOLLOWER, &mut ctx);
        let expected = vec![(0, Ok(0)), (1, Err(KafkaError::NOT_LEADER_OR_FOLLOWER))];
        assert_eq!(produce_answers(&commands), [expected]);
    }

    #[test]
    #[should_panic(expected = "beyond every timeout")]
    fn a_produce_parked_beyond_every_timeout_trips() {
        let mut broker = broker_with_one_partition();
        let parked = ParkedProduce {
            client: NodeId(9),
            correlation: 0,
            partitions: vec![ParkedPartition::pending(PartitionId(0), 0, 0)],
            deadline: SimTime(31_000_000),
            commit: None,
        };
        with_ctx(&mut broker, |b, ctx| b.park_produce(parked, ctx));
    }

    // A follower keeps one fetch in flight per partition: its new fetch replaces the one it gave up on.
    #[test]
    fn a_followers_new_fetch_replaces_the_one_it_gave_up_on() {
        let mut broker = broker_with_one_partition();
        for _ in 0..3 {
            broker.park_fetch(ParkedFetch { follower: NodeId(2), request: follower_fetch(2), deadline: SimTime(1) });
        }
        assert_eq!(broker.mem.parked_fetches.len(), 1);
    }

    #[test]
    #[should_panic(expected = "follower fetches")]
    fn more_follower_fetches_than_followers_trips() {
        let mut broker = broker_with_one_partition();
        for node in 0..=broker.bounds.follower_fetches_max as u32 {
            let parked = ParkedFetch { follower: NodeId(node), request: follower_fetch(node), deadline: SimTime(1) };
            broker.park_fetch(parked);
        }
    }

    #[test]
    #[should_panic(expected = "beyond every fetch.max.wait.ms")]
    fn a_consumer_fetch_parked_beyond_its_wait_trips() {
        let mut broker = broker_with_one_partition();
        let fetch = groups::ParkedConsumerFetch::for_tests(NodeId(9), PartitionId(0), SimTime(501_000));
        with_ctx(&mut broker, |b, ctx| b.park_consumer_fetch(fetch, ctx));
    }

    #[test]
    #[should_panic(expected = "consumer fetches")]
    fn more_consumer_fetches_than_consumers_trips() {
        let mut broker = broker_with_one_partition();
        for node in 0..=broker.bounds.consumer_fetches_max as u32 {
            let fetch = groups::ParkedConsumerFetch::for_tests(NodeId(node), PartitionId(0), SimTime(1));
            with_ctx(&mut broker, |b, ctx| b.park_consumer_fetch(fetch, ctx));
        }
    }

    // KIP-101 scenario 2 (replica divergence): the follower has epoch 1 up to offset 3, the leader's epoch 1
    // ended at offset 2 (it had fewer records in that epoch). The follower truncates to 2.
    #[test]
    fn follower_truncates_to_the_leaders_end_of_the_shared_epoch() {
        let follower = log_with_epochs(&[(0, 1), (1, 2)]);
        assert_eq!(divergence_truncation_offset(&follower, 1, 2), 2);
    }

    // A follower whose last epoch the leader never had truncates to where its own earlier epoch ended.
    #[test]
    fn follower_with_an_unknown_epoch_cuts_back_to_its_previous_epoch() {
        let follower = log_with_epochs(&[(0, 2), (2, 3)]);
        // Leader says: for epoch 2 you asked, my largest epoch ≤ 2 is 1, which ended at 4.
        assert_eq!(divergence_truncation_offset(&follower, 1, 4), 2);
    }

    /// The follower's side of one fetch round against `leader`: what it sends, what the leader answers, and the
    /// truncation it then makes. Returns whether the leader found the logs diverged.
    fn fetch_round(follower: &mut ReplicaLog, leader: &ReplicaLog) -> bool {
        let last_epoch = follower.latest_epoch().expect("the follower has an epoch");
        match fetch_divergence(leader, last_epoch, follower.log_end_offset()) {
            Some(FetchResult::Diverging { epoch, end_offset }) => {
                let to = divergence_truncation_offset(follower, epoch, end_offset);
                follower.truncate_to(to);
                true
            }
            Some(other) => panic!("unexpected answer {other:?}"),
            None => false,
        }
    }

    // Case (a) end to end, the livelock of the fidelity issue: broker A led epoch 5 without appending (its cache
    // ends with (5, 3)); B leads epoch 6 from the same log end. A's fetch with last epoch 5 diverges at offset 3;
    // UnifiedLog.truncateTo(3) drops (5, 3) although it removes no offset, so the next fetch (last epoch 1) is
    // accepted. Without that the same divergence came back on every fetch.
    #[test]
    fn a_follower_that_led_an_empty_epoch_resyncs_after_one_divergence() {
        let mut follower = log_with_epochs(&[(1, 3)]);
        follower.assign_epoch(5);
        let mut leader = log_with_epochs(&[(1, 3)]);
        leader.assign_epoch(6);
        assert!(fetch_round(&mut follower, &leader), "the first fetch diverges");
        assert_eq!(follower.latest_epoch(), Some(1));
        assert!(!fetch_round(&mut follower, &leader), "the second is accepted");
        assert_eq!(follower.log_end_offset(), 3, "no record was lost");
    }

    // ReplicationTest.logsShouldNotDivergeOnUncleanLeaderElections (KAFKA-6361): the leader holds
    // [0: e0, 1-3: e2, 4-5: e4], the follower [0: e0, 1: e1, 2: e3]. Before KIP-279 the follower asks for e3's
    // end, the leader answers the start of its next epoch (4) without an epoch, and min(4, 3) truncates
    // nothing: the logs differ at offsets 1-2. With KIP-279 the answers carry epochs and the follower refines
    // down to offset 1, where the logs agree.
    #[test]
    fn without_kip_279_successive_unclean_elections_leave_the_logs_diverged() {
        let leader = log_with_epochs(&[(0, 1), (2, 3), (4, 2)]);
        let follower = log_with_epochs(&[(0, 1), (1, 1), (3, 1)]);
        let asked = follower.latest_epoch().expect("an epoch");
        let answer = leader.epoch_cache().end_offset_for_v0(asked, leader.log_end_offset());
        assert_eq!(answer.map(|end| end.min(follower.log_end_offset())), Some(3), "no truncation");
        let mut refined = follower.clone();
        while fetch_round(&mut refined, &leader) {}
        assert_eq!(refined.log_end_offset(), 1);
    }

    // The state checker is handed each slot borrowed mutably since it last asked, once, and then nothing until
    // the next borrow; a borrow of every slot hands over all of them.
    #[test]
    fn replicas_hand_over_the_slots_borrowed_since_last_asked() {
        let mut replicas = Replicas::new((0..4).map(|_| None).collect());
        assert_eq!(replicas.take_touched(), Touched::These(vec![]));
        replicas.get_mut(PartitionId(2));
        replicas.get_mut(PartitionId(0));
        replicas.get_mut(PartitionId(2));
        assert_eq!(replicas.take_touched(), Touched::These(vec![2, 0]));
        assert_eq!(replicas.take_touched(), Touched::These(vec![]));
        replicas.get_mut(PartitionId(2));
        assert_eq!(replicas.take_touched(), Touched::These(vec![2]));
        let _ = replicas.iter_mut();
        assert_eq!(replicas.take_touched(), Touched::All);
        assert_eq!(replicas.take_touched(), Touched::These(vec![]));
    }
}
