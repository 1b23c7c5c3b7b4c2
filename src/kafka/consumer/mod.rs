//! A consumer client in a group (KafkaConsumer with its ConsumerCoordinator and Fetcher) and the application
//! around it: the poll loop here; processing, the commit strategy, poison records, a stage's forwarding and a
//! clean close in `app.rs`. The heartbeat runs on its own
//! timer, as Kafka's heartbeat thread does; a rebalance the coordinator announces is joined at the next poll,
//! so a consumer busy processing delays it; one that does not poll within `max.poll.interval.ms` leaves the
//! group while its processing goes on (a zombie).

mod app;

use super::assignor::{self, Assignor, MemberSubscription, TopicPartition};
use super::cluster::ResetTo;
use super::config::{CommitStrategy, OffsetReset};
use super::ids::{BrokerId, GroupId, LeaderEpoch, PartitionId};
use super::log::{Record, StorageLoss};
use super::messages::{
    ConsumerFetch, FetchedPartition, GroupRequest, GroupResponse, JoinMetadata, JoinResult, KafkaError, LeaderInfo,
    Msg, OffsetAndEpoch, OffsetSpec,
};
use super::node::{KafkaCtx, Timer};
use super::obs::{Obs, StaleMessage};
use super::spec::{ClusterSpec, ConsumerSpec, NodeRole, PoisonPolicy};
use crate::engine::{NodeId, SimTime, Wakeup};
use crate::history::ClientEvent;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

/// How long the application's `poll(timeout)` waits before returning empty (a common choice: 100 ms).
const POLL_TIMEOUT_US: u64 = 100_000;

/// A fetched record: its partition, its offset, the record.
type Fetched = (PartitionId, u64, Record);

/// What one poll takes from the fetched records.
#[derive(Default)]
struct Taken {
    /// Returned to the application.
    records: Vec<Fetched>,
    /// Skipped as undeserializable (an error-handling deserializer).
    skipped: Vec<Fetched>,
    /// Passed over: another channel's.
    filtered: Vec<Fetched>,
    /// The record poll throws on (the default deserializer), when it is the first one.
    poison: Option<Fetched>,
    /// Per partition, the offsets the poll moved past: [first, end).
    ranges: BTreeMap<PartitionId, (u64, u64)>,
}

/// Where the member is in the group protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Membership {
    Unjoined,
    Joining,
    Syncing,
    Stable,
}

/// What the application thread is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
enum App {
    /// Inside `poll()`, waiting for records (or for the group to settle).
    Polling,
    /// Processing the records the last poll returned: `finishes[i]` is when `records[i]` is done, for the records
    /// this step works on (the whole batch, or with a per-record commit only the first); the step ends with the
    /// last of them.
    Processing { records: Vec<(PartitionId, u64, Record)>, finishes: Vec<SimTime> },
    /// Blocked in `commitSync` (then it polls again, or processes the batch if it committed first).
    CommittingSync { then_process: Vec<(PartitionId, u64, Record)> },
    /// A processor stage waiting for its producer to acknowledge what it wrote for `done`.
    Forwarding { token: u64, done: Vec<(PartitionId, u64, Record)>, rest: Vec<(PartitionId, u64, Record)> },
}

/// A request in flight and what it was for.
#[derive(Clone, Debug)]
struct Pending {
    correlation: u64,
    deadline: SimTime,
    kind: PendingKind,
    /// The broker's node it went to: a reset of that connection fails it.
    to: NodeId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PendingKind {
    Metadata,
    FindCoordinator,
    Join,
    Sync,
    Heartbeat,
    Commit {
        sync: bool,
    },
    OffsetFetch,
    ListOffsets(PartitionId),
    /// A fetch from this leader (at most one in flight per node).
    Fetch(BrokerId),
    Validate(PartitionId),
}

/// A partition this consumer is assigned.
#[derive(Clone, Debug, Default)]
struct Position {
    /// The next offset to fetch; `None` until the committed offset (or the reset policy) tells.
    fetch: Option<u64>,
    /// The offset after the last record `poll()` returned: what a commit stores.
    consumed: Option<u64>,
    /// No committed offset and `auto.offset.reset=none` (NoOffsetForPartitionException): left unconsumed.
    no_offset: bool,
    /// No committed offset: waiting for `auto.offset.reset` to give a position (SubscriptionState's
    /// AWAIT_RESET), which needs the partition's leader.
    awaiting_reset: bool,
    /// KIP-320: the leader epoch of the record before `consumed` (FetchPosition.offsetEpoch), which a commit
    /// stores with the offset.
    consumed_epoch: Option<LeaderEpoch>,
    /// The epochs of the fetched records not yet consumed, as (first offset, epoch), oldest first.
    fetched_epochs: VecDeque<(u64, LeaderEpoch)>,
    /// The partition leader epoch the position was last validated against (FetchPosition.currentLeader).
    validated_for: Option<LeaderEpoch>,
    /// An OffsetsForLeaderEpoch in flight for this leader epoch (AWAIT_VALIDATION): nothing is fetched meanwhile.
    validating: Option<LeaderEpoch>,
    /// The application asked for this position (seekToBeginning, seekToEnd, offsetsForTimes): the reset uses it
    /// instead of `auto.offset.reset`.
    seek_to: Option<OffsetSpec>,
}

impl Position {
    /// The consumer's position (SubscriptionState.position): the next offset `poll()` returns.
    fn offset(&self) -> Option<u64> {
        self.consumed.or(self.fetch)
    }

    /// A seek to `offset` whose record before it was written in `epoch`: nothing fetched beyond it is kept.
    fn seek(&mut self, offset: u64, epoch: Option<LeaderEpoch>) {
        self.fetch = Some(offset);
        self.consumed = Some(offset);
        self.consumed_epoch = epoch;
        self.fetched_epochs.clear();
    }
}

/// The application's own database (`commit = "with-state"`): per partition, the offset after the last record
/// whose processing it stored, written in the same transaction as the processing's results. It is on disk: a
/// crash of the process keeps it.
#[derive(Clone, Debug, Default)]
struct StateStore {
    next_offsets: BTreeMap<PartitionId, u64>,
}

pub struct Consumer {
    index: u32,
    spec: Rc<ClusterSpec>,
    cfg: ConsumerSpec,
    /// Survives a crash of the process (the application's database, fsynced): only a lost disk takes it.
    store: StateStore,
    /// The process's memory: built afresh at every start, so a crash keeps nothing of it.
    mem: ConsumerMemory,
    /// What each record's processing time is drawn from, with the record (from the seed and the consumer's
    /// name, like its configuration: the same in every incarnation).
    processing_key: u64,
}

/// Everything a consumer's process holds in memory, which a crash or a restart loses whole.
struct ConsumerMemory {
    leaders: Vec<LeaderInfo>,
    coordinator: Option<BrokerId>,
    member_id: String,
    generation: i32,
    membership: Membership,
    rejoin_needed: bool,
    positions: BTreeMap<PartitionId, Position>,
    buffer: VecDeque<(PartitionId, u64, Record)>,
    app: App,
    last_poll: SimTime,
    last_auto_commit: SimTime,
    pending: Vec<Pending>,
    /// `send_fetches`'s scratch: which partitions have records buffered, and which brokers a fetch in flight.
    fetch_busy: Vec<bool>,
    fetching_brokers: Vec<bool>,
    next_correlation: u64,
    bootstrap_cursor: u32,
    started: bool,
    /// After the application died on a poison record, nothing runs before its restart.
    dead_until: SimTime,
    /// Asked to close while processing: close once the batch in hand is done.
    closing: bool,
    poll_wakeup: Wakeup,
    request_wakeup: Wakeup,
    /// The last metadata request's time, and how many in a row have failed (for KIP-580's backoff).
    metadata_attempted_at: Option<SimTime>,
    metadata_failures: u32,
    /// While the coordinator is unknown, when the current poll stops waiting for it.
    coordinator_wait_until: Option<SimTime>,
    /// The application thread is stuck (a slow downstream call): it neither polls nor finishes processing,
    /// while the heartbeat thread goes on beating (`stop-polling` until `resume-polling`).
    polling_stopped: bool,
}

impl ConsumerMemory {
    fn new(index: u32, spec: &ClusterSpec) -> Self {
        ConsumerMemory {
            leaders: vec![LeaderInfo { leader: None, leader_epoch: -1 }; spec.partitions.len()],
            coordinator: None,
            member_id: String::new(),
            generation: -1,
            membership: Membership::Unjoined,
            rejoin_needed: true,
            positions: BTreeMap::new(),
            buffer: VecDeque::new(),
            app: App::Polling,
            last_poll: SimTime::ZERO,
            last_auto_commit: SimTime::ZERO,
            pending: Vec::new(),
            fetch_busy: Vec::new(),
            fetching_brokers: Vec::new(),
            next_correlation: 0,
            bootstrap_cursor: index,
            started: false,
            dead_until: SimTime::ZERO,
            closing: false,
            poll_wakeup: Wakeup::default(),
            request_wakeup: Wakeup::default(),
            metadata_attempted_at: None,
            metadata_failures: 0,
            coordinator_wait_until: None,
            polling_stopped: false,
        }
    }
}

impl Consumer {
    pub fn new(index: u32, spec: Rc<ClusterSpec>, processing_key: u64) -> Self {
        let cfg = spec.consumers[index as usize].clone();
        let mem = ConsumerMemory::new(index, &spec);
        Consumer { index, spec, cfg, store: StateStore::default(), mem, processing_key }
    }

    /// A crash of the consumer's process: its memory is gone; it will start over as a new member, from the
    /// group's committed offsets. The application's store commits durably (fsync): only a lost disk takes it.
    pub fn crash(&mut self, loss: StorageLoss) {
        self.mem = ConsumerMemory::new(self.index, &self.spec);
        if loss == StorageLoss::Disk {
            self.store = StateStore::default();
        }
    }

    /// A request refused by a broker whose process is down: like a closed connection, it gets no answer;
    /// coordinator requests mark the coordinator dead, others are sent again at the next poll.
    pub fn on_refused(&mut self, _to: NodeId, msg: Msg, ctx: &mut KafkaCtx<'_>) {
        let correlation = match msg {
            Msg::GroupRequest { correlation, .. } | Msg::MetadataRequest { correlation } => correlation,
            // A closing consumer's goodbye to a process that is already down; a forward to a stage that is down
            // stays unanswered, and the batch waits (the model does not retry forwards).
            Msg::ConnectionClosed | Msg::Forward { .. } => return,
            m => unreachable!("a consumer sends no {m:?}"),
        };
        if let Some(kind) = self.take_pending(correlation) {
            self.on_request_failed(kind, ctx);
        }
    }

    /// NetworkClient.handleDisconnections: when a broker's host resets the connection (its process died), every
    /// request in flight on it fails at once (a DisconnectException), as a refused one does, rather than at its
    /// timeout — a JoinGroup's is max.poll.interval.ms away.
    fn on_connection_closed(&mut self, from: NodeId, ctx: &mut KafkaCtx<'_>) {
        let failed: Vec<PendingKind> = self.mem.pending.extract_if(.., |p| p.to == from).map(|p| p.kind).collect();
        for kind in failed {
            self.on_request_failed(kind, ctx);
        }
    }

    /// A request that failed without an answer (refused, or its connection reset).
    fn on_request_failed(&mut self, kind: PendingKind, ctx: &mut KafkaCtx<'_>) {
        if kind == PendingKind::Metadata {
            self.mem.metadata_failures = self.mem.metadata_failures.saturating_add(1);
        }
        if matches!(kind, PendingKind::Join | PendingKind::Sync | PendingKind::Heartbeat | PendingKind::FindCoordinator)
        {
            self.mark_coordinator_dead();
        }
        // NetworkClient: a failed request to a broker asks for new metadata; the partitions it led are fetched
        // again once their leaders are known.
        let stale = match kind {
            PendingKind::ListOffsets(p) => self.mem.leaders[p.index()].leader.is_some(),
            PendingKind::Fetch(b) => self.mem.leaders.iter().any(|l| l.leader == Some(b)),
            _ => false,
        };
        if stale {
            self.mem.leaders.iter_mut().for_each(|l| l.leader = None);
        }
        if kind == (PendingKind::Commit { sync: true }) {
            self.finish_sync_commit(ctx);
        }
        self.abandon_validation(kind);
        if self.mem.app == App::Polling && self.mem.started {
            self.arm_poll(self.cfg.config.retry_backoff_us, ctx);
        }
    }

    pub fn on_start(&mut self, ctx: &mut KafkaCtx<'_>) {
        ctx.set_timer(self.cfg.start_us.saturating_sub(ctx.now.as_us()), Timer::ConsumerPoll);
        ctx.set_timer(self.cfg.config.heartbeat_interval_us, Timer::ConsumerHeartbeat);
    }

    pub fn on_timer(&mut self, timer: Timer, ctx: &mut KafkaCtx<'_>) {
        match timer {
            Timer::ConsumerPoll if ctx.now < self.mem.dead_until => {
                // Wakeups are armed at most a horizon ahead: keep waiting for the restart.
                self.mem.poll_wakeup.fired(ctx.now);
                self.arm_poll(self.mem.dead_until.since_us(ctx.now), ctx);
            }
            Timer::ConsumerPoll => {
                self.mem.poll_wakeup.fired(ctx.now);
                if !self.mem.started {
                    self.mem.started = true;
                    self.mem.last_auto_commit = ctx.now;
                    self.report_subscription(ctx);
                }
                if self.mem.app == App::Polling {
                    self.poll(ctx);
                }
            }
            Timer::ConsumerHeartbeat => {
                self.on_heartbeat_timer(ctx);
                ctx.set_timer(self.cfg.config.heartbeat_interval_us, Timer::ConsumerHeartbeat);
            }
            Timer::ConsumerProcessed => self.on_processed(ctx),
            Timer::Wakeup => {
                self.mem.request_wakeup.fired(ctx.now);
                self.expire_requests(ctx);
                if let Some(next) = self.mem.pending.iter().map(|p| p.deadline).min() {
                    self.arm_request_wakeup(next, ctx);
                }
            }
            Timer::BrokerHeartbeat
            | Timer::IsrExpiration
            | Timer::HighWatermarkCheckpoint
            | Timer::LogRetentionCheck
            | Timer::OffsetsRetentionCheck
            | Timer::PageCacheWriteback
            | Timer::ControllerFenceCheck
            | Timer::LeaderImbalanceCheck
            | Timer::QuorumTick
            | Timer::ProducerTick => unreachable!("a consumer never sets {timer:?}"),
        }
    }

    pub fn on_message(&mut self, from: NodeId, msg: Msg, ctx: &mut KafkaCtx<'_>) {
        match msg {
            Msg::MetadataResponse { correlation, leaders } if self.take_pending(correlation).is_some() => {
                self.mem.leaders.copy_from_slice(&leaders);
                self.mem.metadata_failures = 0;
                self.resume_poll(ctx);
            }
            Msg::GroupResponse { correlation, response } => match self.take_pending(correlation) {
                Some(kind) => self.on_response(kind, response, ctx),
                // A request that timed out, or was abandoned with its coordinator or at a restart.
                None => ctx.emit(Obs::StaleDelivery { message: StaleMessage::GroupResponse }),
            },
            Msg::MetadataResponse { .. } => ctx.emit(Obs::StaleDelivery { message: StaleMessage::MetadataResponse }),
            Msg::Forwarded { token } => self.on_forwarded(token, ctx),
            Msg::ConnectionClosed => self.on_connection_closed(from, ctx),
            m @ (Msg::MetadataRequest { .. }
            | Msg::Produce(_)
            | Msg::ProduceResponse(_)
            | Msg::Fetch(_)
            | Msg::FetchResponse(_)
            | Msg::BrokerHeartbeat { .. }
            | Msg::BrokerHeartbeatResponse { .. }
            | Msg::Quorum(_)
            | Msg::MetadataUpdate { .. }
            | Msg::AlterPartition { .. }
            | Msg::AlterPartitionResponse { .. }
            | Msg::Forward { .. }
            | Msg::GroupRequest { .. }) => {
                unreachable!("a consumer serves nothing and sends nothing answered with {m:?}")
            }
        }
    }

    fn group(&self) -> GroupId {
        self.cfg.group
    }

    fn emit(&self, ctx: &mut KafkaCtx<'_>, event: ClientEvent) {
        ctx.emit(Obs::Client(event));
    }

    // ---- requests ----

    fn send(&mut self, to: BrokerId, kind: PendingKind, request: GroupRequest, ctx: &mut KafkaCtx<'_>) {
        self.mem.next_correlation += 1;
        let correlation = self.mem.next_correlation;
        // A JoinGroup may wait a whole rebalance: its timeout is max.poll.interval.ms + 5 s (ConsumerCoordinator).
        let timeout_us = match kind {
            PendingKind::Join => {
                self.cfg.config.request_timeout_us.max(self.cfg.config.max_poll_interval_us + 5_000_000)
            }
            _ => self.cfg.config.request_timeout_us,
        };
        let deadline = ctx.now.plus_us(timeout_us);
        let to = self.spec.broker_node(to);
        self.mem.pending.push(Pending { correlation, deadline, kind, to });
        ctx.send(to, Msg::GroupRequest { correlation, request });
        self.arm_request_wakeup(deadline, ctx);
    }

    /// One wakeup for every request deadline: armed at the earliest (at most a horizon ahead).
    fn arm_request_wakeup(&mut self, at: SimTime, ctx: &mut KafkaCtx<'_>) {
        if let Some(delay) = self.mem.request_wakeup.arm(at, ctx.now) {
            ctx.set_timer(delay, Timer::Wakeup);
        }
    }

    fn has_pending(&self, kind: PendingKind) -> bool {
        self.mem.pending.iter().any(|p| p.kind == kind)
    }

    fn take_pending(&mut self, correlation: u64) -> Option<PendingKind> {
        let i = self.mem.pending.iter().position(|p| p.correlation == correlation)?;
        Some(self.mem.pending.remove(i).kind)
    }

    /// Requests unanswered for `request.timeout.ms` are given up: the coordinator is presumed dead (and found
    /// again), fetches and metadata are asked again at the next poll.
    fn expire_requests(&mut self, ctx: &mut KafkaCtx<'_>) {
        let now = ctx.now;
        let expired: Vec<Pending> = self.mem.pending.extract_if(.., |p| p.deadline <= now).collect();
        for p in &expired {
            if p.kind == PendingKind::Metadata {
                self.mem.metadata_failures = self.mem.metadata_failures.saturating_add(1);
            }
            if matches!(
                p.kind,
                PendingKind::Join | PendingKind::Sync | PendingKind::Heartbeat | PendingKind::Commit { .. }
            ) {
                self.mark_coordinator_dead();
            }
            if p.kind == (PendingKind::Commit { sync: true }) {
                self.finish_sync_commit(ctx);
            }
            self.abandon_validation(p.kind);
        }
        if !expired.is_empty() {
            self.resume_poll(ctx);
        }
    }

    /// A validation that got no answer is asked again at the next poll.
    /// Its leader is presumed gone too: metadata is refreshed before the next attempt.
    fn abandon_validation(&mut self, kind: PendingKind) {
        if let PendingKind::Validate(p) = kind
            && let Some(pos) = self.mem.positions.get_mut(&p)
        {
            pos.validating = None;
            self.mem.leaders[p.index()].leader = None;
        }
    }

    fn mark_coordinator_dead(&mut self) {
        self.mem.coordinator = None;
        if self.mem.membership != Membership::Stable {
            self.mem.membership = Membership::Unjoined;
            self.mem.rejoin_needed = true;
        }
    }

    fn any_broker(&mut self) -> BrokerId {
        self.mem.bootstrap_cursor += 1;
        BrokerId(self.mem.bootstrap_cursor % self.spec.broker_count + 1)
    }

    // ---- poll ----

    /// Continues a `poll()` that was waiting, if the application is in one.
    fn resume_poll(&mut self, ctx: &mut KafkaCtx<'_>) {
        if self.mem.started && self.mem.app == App::Polling {
            self.poll(ctx);
        }
    }

    /// KafkaConsumer.poll: settle the group (coordinator, rejoin), learn positions, auto-commit when due, then
    /// return buffered records or send fetches and wait.
    ///
    /// ClassicKafkaConsumer.poll fetches whatever has a known position even when the group step is not done
    /// (a lost coordinator, a cooperative rejoin) or some positions are still being looked up: only new
    /// positions and auto-commits wait for the group.
    fn poll(&mut self, ctx: &mut KafkaCtx<'_>) {
        if self.mem.polling_stopped {
            // `resume_polling` polls when the application comes back.
            return;
        }
        self.mem.last_poll = ctx.now;
        let group_ready = self.ensure_group(ctx);
        if !group_ready && self.blocked_finding_coordinator(ctx) {
            return;
        }
        // ConsumerCoordinator.poll returning false skips updateFetchPositions and the auto-commit.
        if group_ready {
            self.ensure_positions(ctx);
        }
        if group_ready
            && self.cfg.config.commit == CommitStrategy::Auto
            && ctx.now.since_us(self.mem.last_auto_commit) >= self.cfg.config.auto_commit_interval_us
        {
            self.mem.last_auto_commit = ctx.now;
            self.commit_consumed(false, ctx);
        }
        let taken = self.take_records();
        if let Some(poison) = taken.poison {
            return self.die_on_poison(poison, ctx);
        }
        self.emit_polled(&taken.ranges, ctx);
        for &(p, offset, record) in &taken.skipped {
            self.report_poison(p, offset, record, true, ctx);
        }
        for &(p, offset, record) in &taken.filtered {
            self.report_filtered(p, offset, record, ctx);
        }
        let records = taken.records;
        if records.is_empty() {
            self.send_fetches(ctx);
            return self.wait_in_poll(ctx);
        }
        if self.cfg.config.commit == CommitStrategy::BeforeProcessing {
            self.mem.app = App::CommittingSync { then_process: records };
            self.commit_consumed(true, ctx);
        } else {
            self.start_processing(records, ctx);
        }
    }

    /// ConsumerCoordinator.coordinatorUnknownAndUnreadySync: a member of a subscribed group whose coordinator is
    /// unknown spends the poll's timeout looking it up (unless it is found sooner), and only then collects what
    /// was fetched meanwhile. Manually assigned partitions do not look it up proactively.
    fn blocked_finding_coordinator(&mut self, ctx: &mut KafkaCtx<'_>) -> bool {
        if self.cfg.assign.is_some() || self.mem.coordinator.is_some() {
            self.mem.coordinator_wait_until = None;
            return false;
        }
        let until = *self.mem.coordinator_wait_until.get_or_insert(ctx.now.plus_us(POLL_TIMEOUT_US));
        if ctx.now < until {
            self.arm_poll(until.since_us(ctx.now), ctx);
            return true;
        }
        self.mem.coordinator_wait_until = None;
        false
    }

    /// `poll(timeout)` returns empty after the application's poll timeout and is called again; responses that
    /// arrive sooner wake it earlier.
    fn wait_in_poll(&mut self, ctx: &mut KafkaCtx<'_>) {
        self.arm_poll(POLL_TIMEOUT_US, ctx);
    }

    fn arm_poll(&mut self, delay_us: u64, ctx: &mut KafkaCtx<'_>) {
        if let Some(delay) = self.mem.poll_wakeup.arm(ctx.now.plus_us(delay_us), ctx.now) {
            ctx.set_timer(delay, Timer::ConsumerPoll);
        }
    }

    /// Finds the coordinator and (re)joins when needed; true once the member is stable with an assignment.
    fn ensure_group(&mut self, ctx: &mut KafkaCtx<'_>) -> bool {
        if self.mem.leaders.iter().all(|l| l.leader.is_none()) {
            self.request_metadata(ctx);
        }
        if let Some(partitions) = &self.cfg.assign {
            if self.mem.membership != Membership::Stable {
                let partitions = partitions.clone();
                self.assign_manually(&partitions, ctx);
            }
            // Without a group.id there is nothing to coordinate; with one, committed offsets and commits need
            // the coordinator.
            if self.cfg.without_group_id || self.mem.coordinator.is_some() {
                return true;
            }
        }
        let Some(coordinator) = self.mem.coordinator else {
            if !self.has_pending(PendingKind::FindCoordinator) {
                let group = self.group();
                let broker = self.any_broker();
                self.send(broker, PendingKind::FindCoordinator, GroupRequest::FindCoordinator { group }, ctx);
            }
            return false;
        };
        if self.mem.rejoin_needed && matches!(self.mem.membership, Membership::Unjoined | Membership::Stable) {
            self.prepare_rejoin(ctx);
            self.send_join(coordinator, ctx);
            return false;
        }
        self.mem.membership == Membership::Stable
    }

    /// A metadata request, unless one is in flight or the last was sent less than `retry.backoff.ms` ago (doubling
    /// per consecutive failure, KIP-580); then the poll wakes when it may be sent.
    fn request_metadata(&mut self, ctx: &mut KafkaCtx<'_>) {
        if self.has_pending(PendingKind::Metadata) {
            return;
        }
        // Metadata.timeToNextUpdate: no sooner than the (exponential) refresh backoff after the last attempt,
        // whether it succeeded or not — a refresh that still shows no leader is not repeated at once.
        let backoff_us = self.cfg.config.retry_backoff().after(self.mem.metadata_failures);
        let due = self.mem.metadata_attempted_at.map(|t| t.plus_us(backoff_us));
        if let Some(due) = due.filter(|&due| due > ctx.now) {
            return self.arm_poll(due.since_us(ctx.now), ctx);
        }
        self.mem.metadata_attempted_at = Some(ctx.now);
        self.mem.next_correlation += 1;
        let correlation = self.mem.next_correlation;
        let deadline = ctx.now.plus_us(self.cfg.config.request_timeout_us);
        let broker = self.any_broker();
        let to = self.spec.broker_node(broker);
        self.mem.pending.push(Pending { correlation, deadline, kind: PendingKind::Metadata, to });
        ctx.send(to, Msg::MetadataRequest { correlation });
        self.arm_request_wakeup(deadline, ctx);
    }

    /// Before rejoining (eager protocol): auto-commit what was consumed, then revoke everything
    /// (ConsumerCoordinator.onJoinPrepare).
    /// With the cooperative protocol (KIP-429) a member keeps its partitions while it rejoins, unless its
    /// generation was lost (then they are lost: onPartitionsLost).
    fn prepare_rejoin(&mut self, ctx: &mut KafkaCtx<'_>) {
        if self.mem.positions.is_empty() {
            return;
        }
        if self.cfg.config.commit == CommitStrategy::Auto && self.mem.membership == Membership::Stable {
            self.commit_consumed(false, ctx);
        }
        if self.cooperative() && self.mem.generation >= 0 {
            return;
        }
        let all: Vec<PartitionId> = self.mem.positions.keys().copied().collect();
        self.revoke(&all, ctx);
    }

    /// The rebalance protocol: cooperative only if every configured assignor supports it
    /// (ConsumerCoordinator: the highest protocol common to all of `partition.assignment.strategy`).
    fn cooperative(&self) -> bool {
        self.cfg.config.assignors.iter().all(|a| a.supports_cooperative())
    }

    fn revoke(&mut self, partitions: &[PartitionId], ctx: &mut KafkaCtx<'_>) {
        if partitions.is_empty() {
            return;
        }
        let event = ClientEvent::Revoked {
            consumer: self.index,
            group: self.group().0,
            partitions: partitions.iter().map(|p| p.0).collect(),
        };
        self.emit(ctx, event);
        for p in partitions {
            self.mem.positions.remove(p);
        }
        self.mem.buffer.retain(|(p, _, _)| !partitions.contains(p));
    }

    fn send_join(&mut self, coordinator: BrokerId, ctx: &mut KafkaCtx<'_>) {
        if !self.mem.member_id.is_empty() {
            // A rebalance starts for this member (its JoinGroup); `assigned` marks its end.
            let event = ClientEvent::Joining {
                consumer: self.index,
                group: self.group().0,
                member_id: self.mem.member_id.clone(),
            };
            self.emit(ctx, event);
        }
        self.mem.membership = Membership::Joining;
        let c = &self.cfg.config;
        let metadata = JoinMetadata {
            instance_id: c.group_instance_id.clone(),
            session_timeout_us: c.session_timeout_us,
            rebalance_timeout_us: c.max_poll_interval_us,
            protocols: c.assignors.iter().map(|a| a.name().to_string()).collect(),
            topics: self.cfg.topics.clone(),
            owned: if self.cooperative() { self.mem.positions.keys().copied().collect() } else { Vec::new() },
            owned_generation: self.mem.generation,
        };
        let request = GroupRequest::JoinGroup { group: self.group(), member_id: self.mem.member_id.clone(), metadata };
        self.send(coordinator, PendingKind::Join, request, ctx);
    }

    /// Positions for new partitions: the committed offset (OffsetFetch), else `auto.offset.reset` (ListOffsets).
    fn ensure_positions(&mut self, ctx: &mut KafkaCtx<'_>) {
        self.validate_positions_if_needed(ctx);
        // The usual case on every poll: every position is known, and nothing needs collecting.
        if self.mem.positions.values().all(|p| p.fetch.is_some() || p.no_offset) {
            return;
        }
        let unknown: Vec<PartitionId> = self
            .mem
            .positions
            .iter()
            .filter(|(_, p)| p.fetch.is_none() && !p.no_offset && !p.awaiting_reset)
            .map(|(&p, _)| p)
            .collect();
        let resets: Vec<PartitionId> =
            self.mem.positions.iter().filter(|(_, p)| p.fetch.is_none() && p.awaiting_reset).map(|(&p, _)| p).collect();
        let idle: Vec<PartitionId> =
            resets.iter().copied().filter(|&p| !self.has_pending(PendingKind::ListOffsets(p))).collect();
        for p in idle {
            self.reset_position(p, ctx);
        }
        if unknown.is_empty() {
            return;
        }
        if self.cfg.without_group_id {
            // No committed offsets to fetch: `auto.offset.reset` decides.
            for p in unknown {
                self.reset_position(p, ctx);
            }
            return;
        }
        if let Some(coordinator) = self.mem.coordinator
            && !self.has_pending(PendingKind::OffsetFetch)
            && !self.mem.pending.iter().any(|p| matches!(p.kind, PendingKind::ListOffsets(_)))
        {
            let request = GroupRequest::OffsetFetch { group: self.group(), partitions: unknown };
            self.send(coordinator, PendingKind::OffsetFetch, request, ctx);
        }
    }

    // ---- KIP-320: positions validated after a leader change ----

    /// SubscriptionState.maybeValidatePositionForCurrentLeader: a position whose partition has a leader epoch
    /// it was not validated against, and whose record before it has a known epoch, asks the leader with
    /// OffsetsForLeaderEpoch where that epoch ends; nothing of it is fetched (or returned) until the answer. A
    /// position without an epoch is taken as it is.
    fn validate_positions_if_needed(&mut self, ctx: &mut KafkaCtx<'_>) {
        if !self.cfg.config.truncation_detection {
            return;
        }
        let leaders = &self.mem.leaders;
        let due = |(p, pos): (&PartitionId, &Position)| {
            let leader = leaders[p.index()];
            let stale = pos.offset().is_some() && pos.validating.is_none() && leader.leader.is_some();
            (stale && pos.validated_for != Some(leader.leader_epoch)).then_some(*p)
        };
        if !self.mem.positions.iter().any(|entry| due(entry).is_some()) {
            return;
        }
        let partitions: Vec<PartitionId> = self.mem.positions.iter().filter_map(due).collect();
        for p in partitions {
            let LeaderInfo { leader: Some(leader), leader_epoch } = self.mem.leaders[p.index()] else { continue };
            let Some(pos) = self.mem.positions.get_mut(&p) else { continue };
            let Some(epoch) = pos.consumed_epoch else {
                pos.validated_for = Some(leader_epoch);
                continue;
            };
            // FetchCollector: records fetched for a partition that is no longer fetchable are dropped.
            if let Some(offset) = pos.offset() {
                pos.seek(offset, Some(epoch));
            }
            pos.validating = Some(leader_epoch);
            self.mem.buffer.retain(|(b, _, _)| *b != p);
            let request = GroupRequest::OffsetsForLeaderEpoch {
                partition: p,
                current_leader_epoch: leader_epoch,
                leader_epoch: epoch,
            };
            self.send(leader, PendingKind::Validate(p), request, ctx);
        }
    }

    /// SubscriptionState.maybeCompleteValidation: the leader's log ends for our epoch below our position — it
    /// was truncated (an unclean election): with an `auto.offset.reset` policy the position moves back to the
    /// first offset known to diverge, with `none` poll fails with LogTruncationException. A leader without the
    /// epoch leaves the divergence unknown: the reset policy applies. Otherwise the position stands.
    fn on_validation_response(
        &mut self,
        p: PartitionId,
        result: Result<Option<(LeaderEpoch, u64)>, KafkaError>,
        ctx: &mut KafkaCtx<'_>,
    ) {
        let Some(pos) = self.mem.positions.get_mut(&p) else { return self.resume_poll(ctx) };
        let (Some(asked_for), Some(position)) = (pos.validating.take(), pos.offset()) else {
            return self.resume_poll(ctx);
        };
        let end = match result {
            Err(_) => {
                // FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER: refresh metadata, ask again.
                self.mem.leaders[p.index()].leader = None;
                return self.after_backoff_or_poll(true, ctx);
            }
            Ok(Some((_, end_offset))) if end_offset >= position => {
                pos.validated_for = Some(asked_for);
                return self.resume_poll(ctx);
            }
            Ok(end) => end,
        };
        let reset = self.cfg.config.auto_offset_reset != OffsetReset::None;
        let error = (!reset).then(|| "LogTruncationException".to_string());
        let (consumer, group) = (self.index, self.cfg.group.0);
        let divergent_offset = end.map(|(_, o)| o);
        let detected = ClientEvent::TruncationDetected {
            consumer,
            group,
            partition: p.0,
            offset: position,
            divergent_offset,
            error,
        };
        ctx.emit(Obs::Client(detected));
        match end {
            _ if !reset => {
                pos.fetch = None;
                pos.consumed = None;
                pos.no_offset = true;
            }
            Some((epoch, offset)) => {
                pos.seek(offset, Some(epoch));
                pos.validated_for = Some(asked_for);
                self.mem.buffer.retain(|(b, _, _)| *b != p);
                ctx.emit(Obs::Client(ClientEvent::PositionReset { consumer, group, partition: p.0, offset }));
            }
            None => {
                pos.fetch = None;
                pos.consumed = None;
                self.reset_position(p, ctx);
            }
        }
        self.resume_poll(ctx);
    }

    /// Up to `max.poll.records` buffered records, advancing the consumed positions. Records of another channel
    /// are consumed without being returned; a record that cannot be deserialized is skipped (an error-handling
    /// deserializer) or stops the poll there (then poll throws, if nothing came before it).
    fn take_records(&mut self) -> Taken {
        let max = self.cfg.config.max_poll_records as usize;
        let mut taken = Taken::default();
        while taken.records.len() < max {
            let Some((p, offset, record)) = self.mem.buffer.pop_front() else { break };
            let Some(pos) = self.mem.positions.get_mut(&p) else { continue };
            if pos.consumed.is_some_and(|c| offset < c) {
                continue;
            }
            let poison = self.spec.is_poison(record.producer, record.send_seq);
            if poison && self.cfg.on_poison == PoisonPolicy::Fail {
                if taken.records.is_empty() && taken.ranges.is_empty() {
                    taken.poison = Some((p, offset, record));
                } else {
                    self.mem.buffer.push_front((p, offset, record));
                }
                break;
            }
            pos.consumed = Some(offset + 1);
            while pos.fetched_epochs.get(1).is_some_and(|&(first, _)| first <= offset) {
                pos.fetched_epochs.pop_front();
            }
            if let Some(&(_, epoch)) = pos.fetched_epochs.front() {
                pos.consumed_epoch = Some(epoch);
            }
            taken.ranges.entry(p).or_insert((offset, offset)).1 = offset + 1;
            let other_channel =
                self.cfg.channel.is_some_and(|c| self.spec.channel_of(record.producer, record.send_seq) != Some(c));
            if poison {
                taken.skipped.push((p, offset, record));
            } else if other_channel {
                taken.filtered.push((p, offset, record));
            } else {
                taken.records.push((p, offset, record));
            }
        }
        taken
    }

    /// One `polled` event per partition: the offsets this poll moved past (returned, filtered or skipped).
    fn emit_polled(&self, ranges: &BTreeMap<PartitionId, (u64, u64)>, ctx: &mut KafkaCtx<'_>) {
        for (&p, &(first, end)) in ranges {
            let event = ClientEvent::Polled {
                consumer: self.index,
                group: self.group().0,
                generation: self.mem.generation,
                partition: p.0,
                first_offset: first,
                count: (end - first) as u32,
            };
            self.emit(ctx, event);
        }
    }

    /// Fetcher.prepareFetchRequests: one Fetch per leader node with no fetch in flight
    /// (nodesWithPendingFetchRequests), for every fetchable partition it leads, in assignment order.
    /// Fetchable (Fetcher.fetchablePartitions) leaves out partitions being validated and those whose fetched
    /// records poll has not drained yet, so a slow consumer does not read ahead without bound. A partition whose
    /// leader is unknown asks for a metadata update.
    fn send_fetches(&mut self, ctx: &mut KafkaCtx<'_>) {
        let mut buffered = std::mem::take(&mut self.mem.fetch_busy);
        buffered.clear();
        buffered.resize(self.spec.partitions.len(), false);
        for &(p, _, _) in &self.mem.buffer {
            buffered[p.index()] = true;
        }
        let mut fetching = std::mem::take(&mut self.mem.fetching_brokers);
        fetching.clear();
        fetching.resize(self.spec.broker_count as usize, false);
        for pending in &self.mem.pending {
            if let PendingKind::Fetch(b) = pending.kind {
                fetching[b.index()] = true;
            }
        }
        let mut requests: Vec<(BrokerId, Vec<(PartitionId, u64)>)> = Vec::new();
        let mut leaderless = false;
        for (&p, pos) in &self.mem.positions {
            let Some(offset) = pos.fetch.filter(|_| pos.validating.is_none() && !buffered[p.index()]) else {
                continue;
            };
            let Some(leader) = self.mem.leaders[p.index()].leader else {
                leaderless = true;
                continue;
            };
            match requests.iter_mut().find(|(b, _)| *b == leader) {
                Some((_, partitions)) => partitions.push((p, offset)),
                None if !fetching[leader.index()] => requests.push((leader, vec![(p, offset)])),
                None => {}
            }
        }
        self.mem.fetch_busy = buffered;
        self.mem.fetching_brokers = fetching;
        if leaderless {
            self.request_metadata(ctx);
        }
        let c = &self.cfg.config;
        let (max_wait_us, min_bytes, max_bytes) = (c.fetch_max_wait_us, c.fetch_min_bytes, c.fetch_max_bytes);
        let partition_max_bytes = c.max_partition_fetch_bytes;
        for (leader, partitions) in requests {
            let fetch = ConsumerFetch { partitions, max_wait_us, min_bytes, max_bytes, partition_max_bytes };
            self.send(leader, PendingKind::Fetch(leader), GroupRequest::Fetch(fetch), ctx);
        }
    }

    // ---- processing and commits ----

    fn commit(&mut self, offsets: Vec<(PartitionId, OffsetAndEpoch)>, sync: bool, ctx: &mut KafkaCtx<'_>) {
        let refused = match (self.mem.coordinator, self.mem.membership) {
            (None, _) => Some(KafkaError::COORDINATOR_NOT_AVAILABLE),
            (Some(_), Membership::Stable) => None,
            // ConsumerCoordinator.sendOffsetCommitRequest: with group-managed partitions a commit needs a stable
            // generation; otherwise the client fails it without sending — RebalanceInProgressException while it
            // is rejoining, CommitFailedException once it is out of the group (a zombie after
            // max.poll.interval.ms), whose commit an empty group would otherwise accept.
            (Some(_), Membership::Joining | Membership::Syncing) => Some(KafkaError::REBALANCE_IN_PROGRESS),
            (Some(_), Membership::Unjoined) => Some(KafkaError::COMMIT_FAILED),
        };
        let Some(coordinator) = self.mem.coordinator.filter(|_| refused.is_none()) else {
            self.report_commit(&offsets, refused, ctx);
            if sync {
                self.finish_sync_commit(ctx);
            }
            return;
        };
        let request = GroupRequest::OffsetCommit {
            group: self.group(),
            generation: self.mem.generation,
            member_id: self.mem.member_id.clone(),
            offsets,
        };
        self.send(coordinator, PendingKind::Commit { sync }, request, ctx);
    }

    fn report_commit(
        &self,
        offsets: &[(PartitionId, OffsetAndEpoch)],
        error: Option<KafkaError>,
        ctx: &mut KafkaCtx<'_>,
    ) {
        for &(p, OffsetAndEpoch { offset, .. }) in offsets {
            let event = ClientEvent::Committed {
                consumer: self.index,
                group: self.group().0,
                generation: self.mem.generation,
                partition: p.0,
                offset,
                error: error.map(|e| e.name().to_string()),
            };
            self.emit(ctx, event);
        }
    }

    /// A `commitSync` returned (or gave up): go on with what the application was doing.
    fn finish_sync_commit(&mut self, ctx: &mut KafkaCtx<'_>) {
        if let App::CommittingSync { then_process } = std::mem::replace(&mut self.mem.app, App::Polling) {
            if self.cfg.config.commit == CommitStrategy::BeforeProcessing && !then_process.is_empty() {
                self.start_processing(then_process, ctx);
            } else {
                self.continue_after(then_process, ctx);
            }
        }
    }

    // ---- heartbeats and max.poll.interval.ms ----

    /// The heartbeat thread: beats while a member; leaves the group if the application has not polled within
    /// `max.poll.interval.ms` (AbstractCoordinator.HeartbeatThread; "consumer poll timeout has expired").
    fn on_heartbeat_timer(&mut self, ctx: &mut KafkaCtx<'_>) {
        let Some(coordinator) = self.mem.coordinator else { return };
        if self.mem.membership != Membership::Stable || self.mem.member_id.is_empty() {
            return;
        }
        if self.mem.started && ctx.now.since_us(self.mem.last_poll) > self.cfg.config.max_poll_interval_us {
            self.leave_group(coordinator, "max.poll.interval.ms expired", ctx);
            return;
        }
        if !self.has_pending(PendingKind::Heartbeat) {
            let request = GroupRequest::Heartbeat {
                group: self.group(),
                generation: self.mem.generation,
                member_id: self.mem.member_id.clone(),
            };
            self.send(coordinator, PendingKind::Heartbeat, request, ctx);
        }
    }

    fn leave_group(&mut self, coordinator: BrokerId, reason: &str, ctx: &mut KafkaCtx<'_>) {
        let request =
            GroupRequest::LeaveGroup { group: self.group(), member_id: std::mem::take(&mut self.mem.member_id) };
        self.mem.next_correlation += 1;
        ctx.send(
            self.spec.broker_node(coordinator),
            Msg::GroupRequest { correlation: self.mem.next_correlation, request },
        );
        let event = ClientEvent::LeftGroup { consumer: self.index, group: self.group().0, reason: reason.to_string() };
        self.emit(ctx, event);
        self.mem.generation = -1;
        self.mem.membership = Membership::Unjoined;
        self.mem.rejoin_needed = true;
    }

    // ---- responses ----

    fn on_response(&mut self, kind: PendingKind, response: GroupResponse, ctx: &mut KafkaCtx<'_>) {
        match response {
            GroupResponse::FindCoordinator { result } => {
                self.mem.coordinator = result.ok();
                self.after_backoff_or_poll(result.is_err(), ctx);
            }
            GroupResponse::JoinGroup { result, member_id } => self.on_join_response(result, member_id, ctx),
            GroupResponse::SyncGroup { result } => self.on_sync_response(result, ctx),
            GroupResponse::Heartbeat { result } => self.on_heartbeat_response(result),
            GroupResponse::OffsetCommit { offsets, result } => self.on_commit_response(kind, offsets, result, ctx),
            GroupResponse::OffsetFetch { result } => self.on_offset_fetch_response(result, ctx),
            GroupResponse::ListOffsets { partition, result } => {
                if result.is_err() {
                    self.mem.leaders[partition.index()].leader = None;
                }
                if let Ok(offset) = result {
                    self.reset_position_to(partition, offset, ctx);
                }
                self.resume_poll(ctx);
            }
            GroupResponse::Fetch { partitions } => {
                for FetchedPartition { partition, offset, result } in partitions {
                    self.on_partition_fetched(partition, offset, result, ctx);
                }
                self.resume_poll(ctx);
            }
            GroupResponse::OffsetsForLeaderEpoch { partition, result } => {
                self.on_validation_response(partition, result, ctx)
            }
            GroupResponse::LeaveGroup => {}
        }
    }

    /// Waits `retry.backoff.ms` after an error before polling again; polls at once otherwise.
    fn after_backoff_or_poll(&mut self, failed: bool, ctx: &mut KafkaCtx<'_>) {
        if failed {
            if self.mem.app == App::Polling {
                self.arm_poll(self.cfg.config.retry_backoff_us, ctx);
            }
        } else {
            self.resume_poll(ctx);
        }
    }

    fn on_coordinator_error(&mut self, error: KafkaError) {
        match error {
            KafkaError::NOT_COORDINATOR
            | KafkaError::COORDINATOR_NOT_AVAILABLE
            | KafkaError::COORDINATOR_LOAD_IN_PROGRESS => self.mark_coordinator_dead(),
            KafkaError::UNKNOWN_MEMBER_ID => {
                self.mem.member_id.clear();
                self.mem.generation = -1;
                self.mem.rejoin_needed = true;
            }
            // AbstractCoordinator.resetGenerationOnResponseError: the member id stays, the generation is gone.
            KafkaError::ILLEGAL_GENERATION => {
                self.mem.generation = -1;
                self.mem.rejoin_needed = true;
            }
            _ => self.mem.rejoin_needed = true,
        }
    }

    /// JoinGroup answered: with a member id to use (KIP-394), an error, or the new generation — the leader then
    /// runs the assignor and sends everyone's assignment in its SyncGroup.
    fn on_join_response(&mut self, result: Result<JoinResult, KafkaError>, member_id: String, ctx: &mut KafkaCtx<'_>) {
        self.mem.membership = Membership::Unjoined;
        let joined = match result {
            Err(KafkaError::MEMBER_ID_REQUIRED) => {
                self.mem.member_id = member_id;
                return self.resume_poll(ctx);
            }
            Err(e) => {
                self.on_coordinator_error(e);
                return self.after_backoff_or_poll(true, ctx);
            }
            Ok(joined) => joined,
        };
        self.mem.member_id = joined.member_id.clone();
        self.mem.generation = joined.generation;
        self.mem.rejoin_needed = false;
        let assignments = if joined.leader == joined.member_id { self.assign(&joined) } else { Vec::new() };
        let Some(coordinator) = self.mem.coordinator else { return };
        self.mem.membership = Membership::Syncing;
        let request = GroupRequest::SyncGroup {
            group: self.group(),
            generation: self.mem.generation,
            member_id: self.mem.member_id.clone(),
            assignments,
        };
        self.send(coordinator, PendingKind::Sync, request, ctx);
    }

    /// The leader's assignment (ConsumerCoordinator.onLeaderElected): the group's chosen assignor over every
    /// member's subscription.
    fn assign(&self, joined: &JoinResult) -> Vec<(String, Vec<PartitionId>)> {
        // The coordinator chose among the protocols the members sent, which are assignors' names.
        let Some(assignor) = Assignor::from_name(&joined.protocol) else {
            unreachable!("the group chose protocol {:?}, which no member sent", joined.protocol)
        };
        let topics: BTreeMap<String, u32> = self.spec.topics.iter().map(|t| (t.name.clone(), t.partitions)).collect();
        let members: Vec<MemberSubscription> = joined
            .members
            .iter()
            .map(|m| MemberSubscription {
                member_id: m.member_id.clone(),
                group_instance_id: m.metadata.instance_id.clone(),
                topics: m.metadata.topics.iter().map(|&t| self.spec.topic(t).name.clone()).collect(),
                owned: m.metadata.owned.iter().map(|&p| self.topic_partition(p)).collect(),
                generation: Some(m.metadata.owned_generation),
                rack: None,
            })
            .collect();
        assignor::assign(assignor, &topics, &members)
            .into_iter()
            .map(|(member, tps)| (member, tps.iter().filter_map(|tp| self.partition_id(tp)).collect()))
            .collect()
    }

    fn topic_partition(&self, p: PartitionId) -> TopicPartition {
        let spec = self.spec.partition(p);
        TopicPartition { topic: self.spec.topic(spec.topic).name.clone(), partition: spec.number }
    }

    fn partition_id(&self, tp: &TopicPartition) -> Option<PartitionId> {
        self.spec.find_partition(&format!("{}-{}", tp.topic, tp.partition))
    }

    fn on_sync_response(&mut self, result: Result<Vec<PartitionId>, KafkaError>, ctx: &mut KafkaCtx<'_>) {
        let assignment = match result {
            Ok(a) => a,
            Err(e) => {
                self.mem.membership = Membership::Unjoined;
                self.on_coordinator_error(e);
                return self.after_backoff_or_poll(true, ctx);
            }
        };
        self.mem.membership = Membership::Stable;
        // Cooperative: partitions no longer assigned are revoked now, and a follow-up rebalance lets their new
        // owner have them (ConsumerCoordinator.onJoinComplete); kept partitions keep their positions.
        let revoked: Vec<PartitionId> =
            self.mem.positions.keys().copied().filter(|p| !assignment.contains(p)).collect();
        self.revoke(&revoked, ctx);
        if !revoked.is_empty() && self.cooperative() {
            self.mem.rejoin_needed = true;
        }
        self.take_assignment(&assignment, ctx);
        self.resume_poll(ctx);
    }

    /// The partitions are this consumer's now (onPartitionsAssigned): a position for each new one, an `assigned`
    /// event, then the application's seeks for the new ones.
    fn take_assignment(&mut self, assignment: &[PartitionId], ctx: &mut KafkaCtx<'_>) {
        let added: Vec<PartitionId> =
            assignment.iter().copied().filter(|p| !self.mem.positions.contains_key(p)).collect();
        for &p in &added {
            self.mem.positions.insert(p, Position::default());
        }
        let event = ClientEvent::Assigned {
            consumer: self.index,
            group: self.group().0,
            generation: self.mem.generation,
            partitions: assignment.iter().map(|p| p.0).collect(),
        };
        self.emit(ctx, event);
        for p in added {
            self.seek_on_assignment(p, ctx);
        }
    }

    /// KafkaConsumer.assign: the partitions are this consumer's, outside any group (generation -1 in the history
    /// marks a manual assignment); then the application's startup seeks.
    fn assign_manually(&mut self, partitions: &[PartitionId], ctx: &mut KafkaCtx<'_>) {
        self.mem.membership = Membership::Stable;
        self.mem.rejoin_needed = false;
        self.take_assignment(partitions, ctx);
    }

    /// What the application does with a partition it was just given (onPartitionsAssigned, or after `assign()`):
    /// with offsets in its own store, seek to the stored one (KafkaConsumer's javadoc, "Storing Offsets Outside
    /// Kafka"); else the configured `seek`; else nothing (the committed offset, then `auto.offset.reset`).
    fn seek_on_assignment(&mut self, p: PartitionId, ctx: &mut KafkaCtx<'_>) {
        let stored =
            self.store.next_offsets.get(&p).copied().filter(|_| self.cfg.config.commit == CommitStrategy::WithState);
        let to = match stored {
            Some(offset) => ResetTo::Offset(offset),
            None => match self.cfg.seek {
                Some(to) => to,
                None => return,
            },
        };
        self.seek_position(p, to, ctx);
    }

    fn on_heartbeat_response(&mut self, result: Result<(), KafkaError>) {
        if let Err(e) = result {
            self.on_coordinator_error(e);
        }
    }

    fn on_commit_response(
        &mut self,
        kind: PendingKind,
        offsets: Vec<(PartitionId, OffsetAndEpoch)>,
        result: Result<(), KafkaError>,
        ctx: &mut KafkaCtx<'_>,
    ) {
        self.report_commit(&offsets, result.err(), ctx);
        if let Err(e) = result {
            self.on_coordinator_error(e);
        }
        if kind == (PendingKind::Commit { sync: true }) {
            self.finish_sync_commit(ctx);
        }
    }

    /// Committed offsets become positions; partitions without one follow `auto.offset.reset`.
    fn on_offset_fetch_response(
        &mut self,
        result: Result<Vec<(PartitionId, Option<OffsetAndEpoch>)>, KafkaError>,
        ctx: &mut KafkaCtx<'_>,
    ) {
        let found = match result {
            Ok(found) => found,
            Err(e) => {
                self.on_coordinator_error(e);
                return self.after_backoff_or_poll(true, ctx);
            }
        };
        for (p, committed) in found {
            let Some(pos) = self.mem.positions.get_mut(&p) else { continue };
            match committed {
                // SubscriptionState.seekUnvalidated: a committed offset with an epoch is validated before use.
                Some(OffsetAndEpoch { offset, leader_epoch }) => {
                    pos.seek(offset, leader_epoch);
                    pos.validated_for = None;
                }
                None => self.reset_position(p, ctx),
            }
        }
        self.resume_poll(ctx);
    }

    /// `auto.offset.reset`: earliest or latest through ListOffsets; none leaves the partition unconsumed.
    fn reset_position(&mut self, p: PartitionId, ctx: &mut KafkaCtx<'_>) {
        let asked = self.mem.positions.get(&p).and_then(|pos| pos.seek_to);
        let spec = match (asked, self.cfg.config.auto_offset_reset) {
            (Some(spec), _) => spec,
            (None, OffsetReset::Earliest) => OffsetSpec::Earliest,
            (None, OffsetReset::Latest) => OffsetSpec::Latest,
            (None, OffsetReset::None) => {
                if let Some(pos) = self.mem.positions.get_mut(&p) {
                    pos.no_offset = true;
                }
                return;
            }
        };
        if let Some(pos) = self.mem.positions.get_mut(&p) {
            pos.awaiting_reset = true;
        }
        // Fetcher.resetPositionsIfNeeded: a partition without a known leader waits for a metadata update.
        match self.mem.leaders[p.index()].leader {
            Some(leader) => {
                let request = GroupRequest::ListOffsets { partition: p, spec };
                self.send(leader, PendingKind::ListOffsets(p), request, ctx);
            }
            None => self.request_metadata(ctx),
        }
    }

    /// One partition of a fetch response (Fetcher.handleFetchSuccess, then FetchCollector's initialize).
    fn on_partition_fetched(
        &mut self,
        p: PartitionId,
        offset: u64,
        result: Result<super::log::FetchedBatches, KafkaError>,
        ctx: &mut KafkaCtx<'_>,
    ) {
        // SubscriptionState.isFetchable, and FetchCollector's "discarding stale fetch response": records for a
        // position being validated, or moved since the fetch was sent, are dropped.
        let current = |pos: &&mut Position| pos.fetch == Some(offset) && pos.validating.is_none();
        let Some(pos) = self.mem.positions.get_mut(&p).filter(current) else { return };
        match result {
            Ok(batches) => {
                // The buffer's bound: one fetch response per partition (Fetcher.fetchablePartitions), each read
                // within max.partition.fetch.bytes.
                assert!(
                    !self.mem.buffer.iter().any(|(b, _, _)| *b == p),
                    "consumer {} fetched {p:?} again before draining what it buffered",
                    self.index
                );
                for batch in &batches {
                    let first = batch.base_offset.max(offset);
                    if first < batch.next_offset() && pos.fetched_epochs.back().is_none_or(|&(_, e)| e != batch.epoch) {
                        pos.fetched_epochs.push_back((first, batch.epoch));
                    }
                    for (o, record) in (batch.base_offset..).zip(batch.records.iter()) {
                        if o >= offset {
                            self.mem.buffer.push_back((p, o, *record));
                            pos.fetch = Some(o + 1);
                        }
                    }
                }
            }
            Err(KafkaError::OFFSET_OUT_OF_RANGE) => {
                pos.fetch = None;
                let event = ClientEvent::OffsetOutOfRange {
                    consumer: self.index,
                    group: self.group().0,
                    partition: p.0,
                    offset,
                };
                self.emit(ctx, event);
                self.reset_position(p, ctx);
            }
            Err(_) => {
                self.mem.leaders[p.index()].leader = None;
            }
        }
    }

    /// Whether this consumer is a stable member that owns `p` now.
    /// KafkaConsumer.seek / seekToBeginning / seekToEnd / offsetsForTimes-then-seek by the application, for a
    /// partition it is assigned: what was fetched beyond is dropped, and the next poll starts there. Says what
    /// it did.
    pub fn seek(&mut self, p: PartitionId, to: ResetTo, ctx: &mut KafkaCtx<'_>) -> String {
        let Some(pos) = self.mem.positions.get_mut(&p) else {
            return format!("not assigned {}", self.spec.partition_name(p));
        };
        pos.fetched_epochs.clear();
        pos.validating = None;
        self.mem.buffer.retain(|(q, _, _)| *q != p);
        self.seek_position(p, to, ctx);
        self.resume_poll(ctx);
        format!("{} to {to}", self.spec.partition_name(p))
    }

    /// KafkaConsumer.seek moves the position at once; seekToBeginning, seekToEnd and a seek by time wait for a
    /// ListOffsets (SubscriptionState.requestOffsetReset: AWAIT_RESET).
    fn seek_position(&mut self, p: PartitionId, to: ResetTo, ctx: &mut KafkaCtx<'_>) {
        let spec = match to {
            ResetTo::Offset(offset) => return self.reset_position_to(p, offset, ctx),
            ResetTo::Earliest => OffsetSpec::Earliest,
            ResetTo::Latest => OffsetSpec::Latest,
            ResetTo::Datetime(t) => OffsetSpec::Timestamp(t),
        };
        let Some(pos) = self.mem.positions.get_mut(&p) else { return };
        pos.fetch = None;
        pos.consumed = None;
        pos.awaiting_reset = true;
        pos.seek_to = Some(spec);
    }

    /// The position of `p` is now `offset` (a reset or a seek): recorded as a `position_reset` event.
    fn reset_position_to(&mut self, p: PartitionId, offset: u64, ctx: &mut KafkaCtx<'_>) {
        let Some(pos) = self.mem.positions.get_mut(&p) else { return };
        pos.seek(offset, None);
        pos.awaiting_reset = false;
        pos.seek_to = None;
        let event = ClientEvent::PositionReset { consumer: self.index, group: self.group().0, partition: p.0, offset };
        self.emit(ctx, event);
    }

    /// The application thread stops calling poll() and stops finishing its batch; the heartbeat thread goes on,
    /// so the member stays in the group until `max.poll.interval.ms` passes since its last poll, then leaves it
    /// (KIP-62: the poll timeout is judged apart from the session timeout). Says what happened.
    pub fn stop_polling(&mut self) -> String {
        if self.mem.polling_stopped {
            return "already not polling".to_string();
        }
        self.mem.polling_stopped = true;
        "stop polling".to_string()
    }

    /// The application thread comes back: it finishes the batch in hand if its time has passed, or polls.
    pub fn resume_polling(&mut self, ctx: &mut KafkaCtx<'_>) -> String {
        if !std::mem::take(&mut self.mem.polling_stopped) {
            return "was polling".to_string();
        }
        match &self.mem.app {
            App::Processing { finishes, .. } if finishes.last().is_none_or(|&at| at <= ctx.now) => {
                self.on_processed(ctx);
            }
            App::Polling => self.resume_poll(ctx),
            // Still processing (its timer finishes it), or waiting on a commit or a stage's producer.
            App::Processing { .. } | App::CommittingSync { .. } | App::Forwarding { .. } => {}
        }
        "resume polling".to_string()
    }

    pub fn owns(&self, p: PartitionId) -> bool {
        self.mem.membership == Membership::Stable && self.mem.positions.contains_key(&p)
    }

    /// The application's view, for summaries.
    pub fn member(&self) -> (&str, i32) {
        (&self.mem.member_id, self.mem.generation)
    }

    pub fn role(&self) -> NodeRole {
        NodeRole::Consumer(self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng;
    use crate::engine::runner::{Command, Ctx};

    fn consumer(auto_offset_reset: &str) -> Consumer {
        consumer_with(&format!("auto.offset.reset = \"{auto_offset_reset}\"\n"))
    }

    fn consumer_with(keys: &str) -> Consumer {
        let text = format!(
            "[[topics]]\nname = \"audit\"\npartitions = 1\n\n[[consumers]]\nname = \"reader\"\ngroup.id = \"readers\"\n\
             topics = [\"audit\"]\n{keys}"
        );
        let scenario = crate::scenario::load_str("consumer-test.toml", &text).expect("a valid scenario");
        Consumer::new(0, Rc::new(scenario.sim.cluster), 7)
    }

    fn client_events(commands: Vec<Command<Msg, Timer, Obs>>) -> Vec<ClientEvent> {
        let client = |c: Command<Msg, Timer, Obs>| match c {
            Command::Emit(Obs::Client(event)) => Some(event),
            _ => None,
        };
        commands.into_iter().filter_map(client).collect()
    }

    // Fetcher.fetchablePartitions: a partition with buffered records is not fetched, so a second response for it
    // while its records wait is a broken bound.
    #[test]
    #[should_panic(expected = "before draining what it buffered")]
    fn records_fetched_again_before_the_buffer_drained_trip() {
        let mut c = consumer("earliest");
        let p = PartitionId(0);
        let record = Record { producer: crate::kafka::ids::ClientId(0), send_seq: 0, key: None, size_bytes: 10 };
        c.mem.buffer.push_back((p, 0, record));
        let mut pos = Position::default();
        pos.seek(1, Some(0));
        c.mem.positions.insert(p, pos);
        let batch = crate::kafka::log::Batch {
            base_offset: 1,
            epoch: 0,
            stamp: None,
            timestamp: SimTime::ZERO,
            records: Rc::from(vec![record]),
        };
        let (mut rng, mut commands) = (rng::stream(1, "consumer-test", 0), Vec::new());
        let mut ctx = Ctx::detached(SimTime::ZERO, NodeId(0), &mut rng, &mut commands);
        c.on_partition_fetched(p, 1, Ok(std::iter::once(batch).collect()), &mut ctx);
    }

    // Fetcher.prepareFetchRequests: one Fetch per leader for every fetchable partition it leads, and none to a
    // leader that has one in flight (nodesWithPendingFetchRequests), whatever partitions are waiting for it.
    #[test]
    fn one_fetch_per_leader_and_none_while_one_is_in_flight() {
        let text = "[cluster]\nbrokers = 2\n\n[[topics]]\nname = \"audit\"\npartitions = 3\n\n[[consumers]]\n\
                    name = \"reader\"\ngroup.id = \"readers\"\ntopics = [\"audit\"]\n";
        let scenario = crate::scenario::load_str("consumer-test.toml", text).expect("a valid scenario");
        let mut c = Consumer::new(0, Rc::new(scenario.sim.cluster), 7);
        for (p, leader) in [(0, 1), (1, 2), (2, 1)] {
            c.mem.leaders[p] = LeaderInfo { leader: Some(BrokerId(leader)), leader_epoch: 0 };
            let mut pos = Position::default();
            pos.seek(10 * p as u64, None);
            c.mem.positions.insert(PartitionId(p as u32), pos);
        }
        let fetches = |c: &mut Consumer| {
            let (mut rng, mut commands) = (rng::stream(1, "consumer-test", 0), Vec::new());
            let mut ctx = Ctx::detached(SimTime::ZERO, NodeId(0), &mut rng, &mut commands);
            c.send_fetches(&mut ctx);
            let fetch = |command: Command<Msg, Timer, Obs>| match command {
                Command::Send { to, msg: Msg::GroupRequest { request: GroupRequest::Fetch(f), .. } } => {
                    Some((to.0, f.partitions.iter().map(|&(p, o)| (p.0, o)).collect::<Vec<_>>()))
                }
                _ => None,
            };
            commands.into_iter().filter_map(fetch).collect::<Vec<_>>()
        };
        assert_eq!(fetches(&mut c), vec![(0, vec![(0, 0), (2, 20)]), (1, vec![(1, 10)])]);
        c.mem.positions.insert(PartitionId(2), Position::default());
        c.mem.positions.get_mut(&PartitionId(2)).expect("assigned").seek(21, None);
        assert_eq!(fetches(&mut c), vec![], "both leaders have a fetch in flight");
        c.mem.pending.retain(|p| p.kind != PendingKind::Fetch(BrokerId(1)));
        assert_eq!(fetches(&mut c), vec![(0, vec![(0, 0), (2, 21)])]);
    }

    // ClassicKafkaConsumer.poll: a stable member whose coordinator is lost spends one poll timeout looking for it
    // (ConsumerCoordinator.coordinatorUnknownAndUnreadySync), then hands over what was fetched and fetches on.
    #[test]
    fn a_stable_member_without_its_coordinator_keeps_fetching() {
        let mut c = consumer("earliest");
        let p = PartitionId(0);
        c.mem.started = true;
        c.mem.membership = Membership::Stable;
        c.mem.rejoin_needed = false;
        c.mem.leaders[p.index()] = LeaderInfo { leader: Some(BrokerId(1)), leader_epoch: 0 };
        let mut pos = Position::default();
        pos.seek(1, None);
        c.mem.positions.insert(p, pos);
        let record = Record { producer: crate::kafka::ids::ClientId(0), send_seq: 0, key: None, size_bytes: 10 };
        c.mem.buffer.push_back((p, 1, record));
        let poll_at = |c: &mut Consumer, now: SimTime| {
            let (mut rng, mut commands) = (rng::stream(1, "consumer-test", 0), Vec::new());
            let mut ctx = Ctx::detached(now, NodeId(0), &mut rng, &mut commands);
            c.poll(&mut ctx);
            let requests: Vec<&'static str> = commands
                .iter()
                .filter_map(|command| match command {
                    Command::Send {
                        msg: Msg::GroupRequest { request: GroupRequest::FindCoordinator { .. }, .. },
                        ..
                    } => Some("FindCoordinator"),
                    Command::Send { msg: Msg::GroupRequest { request: GroupRequest::Fetch(_), .. }, .. } => {
                        Some("Fetch")
                    }
                    _ => None,
                })
                .collect();
            (requests, client_events(commands).len())
        };
        // Blocked looking for the coordinator: nothing handed over yet.
        assert_eq!(poll_at(&mut c, SimTime(1_000)), (vec!["FindCoordinator"], 0));
        // The poll timeout has passed: the buffered record is returned (polled + processing starts).
        let (_, events) = poll_at(&mut c, SimTime(1_000 + POLL_TIMEOUT_US));
        assert!(events > 0, "the buffered record is handed over");
        // The next poll with the buffer drained, past another timeout, fetches from the leader.
        c.mem.app = App::Polling;
        poll_at(&mut c, SimTime(2_000 + POLL_TIMEOUT_US));
        let (requests, _) = poll_at(&mut c, SimTime(2_000 + 2 * POLL_TIMEOUT_US));
        assert_eq!(requests, vec!["Fetch"]);
    }

    // NetworkClient.handleDisconnections: the coordinator's host resets the connection when its process dies; the
    // JoinGroup waiting on it (whose own timeout is max.poll.interval.ms + 5 s away) fails at once, the
    // coordinator is marked unknown and looked up again. A reset from another broker leaves it waiting.
    #[test]
    fn a_reset_connection_fails_the_requests_in_flight_on_it() {
        let mut c = consumer("earliest");
        c.mem.started = true;
        c.mem.coordinator = Some(BrokerId(1));
        let (mut rng, mut commands) = (rng::stream(1, "consumer-test", 0), Vec::new());
        let mut ctx = Ctx::detached(SimTime(1_000), NodeId(0), &mut rng, &mut commands);
        c.send_join(BrokerId(1), &mut ctx);
        assert!(c.has_pending(PendingKind::Join));
        let (other, coordinator) = (c.spec.broker_node(BrokerId(2)), c.spec.broker_node(BrokerId(1)));
        c.on_message(other, Msg::ConnectionClosed, &mut ctx);
        assert!(c.has_pending(PendingKind::Join), "another broker's reset leaves the join waiting");
        c.on_message(coordinator, Msg::ConnectionClosed, &mut ctx);
        assert!(!c.has_pending(PendingKind::Join));
        assert_eq!(c.mem.coordinator, None, "the coordinator is looked up again");
    }

    // A record's processing time is a function of the record, not of the batch it came in: read alone or after
    // another record, offset 6 takes as long (issue 11: shrinking a scenario changes only what it removes).
    #[test]
    fn a_records_processing_time_does_not_depend_on_its_batch() {
        let keys = "processing_time = \"1ms\"\nprocessing_time_max = \"9ms\"\n";
        let p = PartitionId(0);
        let record = Record { producer: crate::kafka::ids::ClientId(0), send_seq: 0, key: None, size_bytes: 1 };
        let finishes = |records: Vec<(PartitionId, u64, Record)>| {
            let mut c = consumer_with(keys);
            let (mut rng, mut commands) = (rng::stream(1, "consumer-test", 0), Vec::new());
            let mut ctx = Ctx::detached(SimTime::ZERO, NodeId(0), &mut rng, &mut commands);
            c.start_processing(records, &mut ctx);
            let App::Processing { finishes, .. } = &c.mem.app else { panic!("processing") };
            finishes.iter().map(|t| t.as_us()).collect::<Vec<u64>>()
        };
        let pair = finishes(vec![(p, 5, record), (p, 6, record)]);
        let alone = finishes(vec![(p, 6, record)]);
        assert_eq!(pair[1] - pair[0], alone[0]);
        assert!((1_000..=9_000).contains(&alone[0]));
    }

    // The application's database commits durably: a process crash or a power loss keeps the stored offsets,
    // a lost disk does not; and a batch whose transaction had not committed at the crash took no effect.
    #[test]
    fn offsets_stored_with_the_state_survive_what_the_store_survives() {
        let mut c = consumer_with("commit = \"with-state\"\n");
        let p = PartitionId(0);
        for (loss, kept) in [(StorageLoss::Nothing, true), (StorageLoss::PageCache, true), (StorageLoss::Disk, false)] {
            c.store.next_offsets.insert(p, 5);
            c.crash(loss);
            assert_eq!(c.store.next_offsets.contains_key(&p), kept, "{loss:?}");
        }
        // Two records of 1 ms each, crashed at 1.5 ms: the first one's processing had finished.
        for (commit, took_effect) in [("with-state", 0), ("sync-after-batch", 1)] {
            let mut c = consumer_with(&format!("commit = \"{commit}\"\n"));
            let record = Record { producer: crate::kafka::ids::ClientId(0), send_seq: 0, key: None, size_bytes: 1 };
            let finishes = vec![SimTime(1_000), SimTime(2_000)];
            c.mem.app = App::Processing { records: vec![(p, 0, record), (p, 1, record)], finishes };
            let (mut rng, mut commands) = (rng::stream(1, "consumer-test", 0), Vec::new());
            let mut ctx = Ctx::detached(SimTime(1_500), NodeId(0), &mut rng, &mut commands);
            c.report_processed_before_crash(&mut ctx);
            assert_eq!(client_events(commands).len(), took_effect, "{commit}");
        }
    }

    // With a commit after each record, processing works on one record at a time: a crash while the first of three
    // is in hand reports none of them processed (the other two were never started).
    #[test]
    fn a_crash_during_per_record_processing_reports_only_finished_records() {
        let p = PartitionId(0);
        let record = Record { producer: crate::kafka::ids::ClientId(0), send_seq: 0, key: None, size_bytes: 1 };
        for (now, finished) in [(SimTime(500), 0), (SimTime(1_000), 1)] {
            let mut c = consumer_with("commit = \"sync-after-each\"\n");
            let records = vec![(p, 0, record), (p, 1, record), (p, 2, record)];
            c.mem.app = App::Processing { records, finishes: vec![SimTime(1_000)] };
            let (mut rng, mut commands) = (rng::stream(1, "consumer-test", 0), Vec::new());
            let mut ctx = Ctx::detached(now, NodeId(0), &mut rng, &mut commands);
            c.report_processed_before_crash(&mut ctx);
            assert_eq!(client_events(commands).len(), finished, "at {now}");
        }
    }

    /// A consumer of audit-0 at `offset`, whose last record was written in leader epoch 5, validating against
    /// leader epoch 7; then the leader's answer. Returns the client events emitted.
    fn validate(consumer: &mut Consumer, offset: u64, answer: Option<(LeaderEpoch, u64)>) -> Vec<ClientEvent> {
        let p = PartitionId(0);
        let mut pos = Position::default();
        pos.seek(offset, Some(5));
        pos.validating = Some(7);
        consumer.mem.positions.insert(p, pos);
        let (mut rng, mut commands) = (rng::stream(1, "consumer-test", 0), Vec::new());
        let mut ctx = Ctx::detached(SimTime::ZERO, NodeId(0), &mut rng, &mut commands);
        consumer.on_validation_response(p, Ok(answer), &mut ctx);
        client_events(commands)
    }

    fn detected(events: &[ClientEvent]) -> Option<(Option<u64>, Option<String>)> {
        events.iter().find_map(|e| match e {
            ClientEvent::TruncationDetected { divergent_offset, error, .. } => Some((*divergent_offset, error.clone())),
            _ => None,
        })
    }

    // SubscriptionStateTest.testTruncationDetectionWithResetPolicy: the leader's log ends for our epoch below our
    // position; with a reset policy the position moves to that end offset, with its epoch, and is validated.
    #[test]
    fn a_truncation_below_the_position_moves_it_back_to_the_divergence() {
        let mut c = consumer("earliest");
        let events = validate(&mut c, 10, Some((4, 8)));
        assert_eq!(detected(&events), Some((Some(8), None)));
        let pos = &c.mem.positions[&PartitionId(0)];
        assert_eq!(
            (pos.fetch, pos.consumed, pos.consumed_epoch, pos.validated_for),
            (Some(8), Some(8), Some(4), Some(7))
        );
    }

    // SubscriptionStateTest.testTruncationDetectionWithoutResetPolicy: with auto.offset.reset=none, poll fails with
    // LogTruncationException and the position is not moved.
    #[test]
    fn without_a_reset_policy_a_truncation_is_a_log_truncation_exception() {
        let mut c = consumer("none");
        let events = validate(&mut c, 10, Some((4, 8)));
        assert_eq!(detected(&events), Some((Some(8), Some("LogTruncationException".to_string()))));
        assert!(c.mem.positions[&PartitionId(0)].no_offset);
    }

    // SubscriptionState.maybeCompleteValidation: an end offset at or past the position is no truncation.
    #[test]
    fn a_log_that_ends_past_the_position_validates_it() {
        let mut c = consumer("earliest");
        assert_eq!(detected(&validate(&mut c, 10, Some((5, 12)))), None);
        let pos = &c.mem.positions[&PartitionId(0)];
        assert_eq!((pos.fetch, pos.validated_for, pos.validating), (Some(10), Some(7), None));
    }

    // SubscriptionStateTest.testTruncationDetectionUnknownDivergentOffsetWithResetPolicy: a leader that knows no
    // epoch ≤ ours (UNDEFINED_EPOCH_OFFSET) leaves the divergence unknown; the reset policy applies.
    #[test]
    fn an_unknown_divergence_applies_the_reset_policy() {
        let mut c = consumer("earliest");
        let events = validate(&mut c, 10, None);
        assert_eq!(detected(&events), Some((None, None)));
        let pos = &c.mem.positions[&PartitionId(0)];
        assert!(pos.fetch.is_none() && pos.awaiting_reset, "waiting for auto.offset.reset");
    }
}
