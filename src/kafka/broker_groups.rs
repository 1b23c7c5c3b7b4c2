//! The broker's side of consumers: FindCoordinator, ListOffsets, consumer fetches (below the high watermark,
//! held until it moves), and the group coordinator for the groups whose `__consumer_offsets` partition this
//! broker leads, with offset commits appended to that partition and answered once replicated.

use super::super::coordinator::{CommittedOffset, Coordinator, Group, GroupState, OffsetRetention, Output};
use super::super::ids::{GroupId, LeaderEpoch, PartitionId};
use super::super::log::{FetchedBatches, Record};
use super::super::messages::{
    ConsumerFetch, FetchedPartition, GroupRequest, GroupResponse, KafkaError, Msg, OffsetAndEpoch, OffsetSpec,
};
use super::super::node::KafkaCtx;
use super::super::obs::Obs;
use super::{Broker, ParkedPartition, ParkedProduce, Replica, Role};
use crate::engine::{NodeId, SimTime};
use rand::Rng;
use std::collections::BTreeMap;
use std::rc::Rc;

/// How long an offset commit may wait for replication (`offsets.commit.timeout.ms`).
pub(super) const OFFSETS_COMMIT_TIMEOUT_US: u64 = 5_000_000;

/// A consumer fetch with less than `fetch.min.bytes` committed to return yet (DelayedFetch).
pub(super) struct ParkedConsumerFetch {
    consumer: NodeId,
    correlation: u64,
    fetch: ConsumerFetch,
    pub(super) deadline: SimTime,
}

#[cfg(test)]
impl ParkedConsumerFetch {
    /// A fetch of `partition` from offset 0 that waits until `deadline`.
    pub(super) fn for_tests(consumer: NodeId, partition: PartitionId, deadline: SimTime) -> Self {
        let fetch = ConsumerFetch {
            partitions: vec![(partition, 0)],
            max_wait_us: 0,
            min_bytes: 1,
            max_bytes: 52_428_800,
            partition_max_bytes: 1_048_576,
        };
        ParkedConsumerFetch { consumer, correlation: 0, fetch, deadline }
    }
}

/// What a read for a consumer fetch found: every partition's result, and whether the fetch is answered now.
struct ConsumerRead {
    partitions: Vec<FetchedPartition>,
    /// ReplicaManager.fetchMessages: at least `fetch.min.bytes` readable (and something), or an error reading a
    /// partition (not its leader, offset out of range), which is answered at once.
    complete: bool,
}

impl Broker {
    pub(super) fn on_group_request(
        &mut self,
        from: NodeId,
        correlation: u64,
        request: GroupRequest,
        ctx: &mut KafkaCtx<'_>,
    ) {
        let response = match request {
            GroupRequest::FindCoordinator { group } => Some(self.find_coordinator(group)),
            GroupRequest::ListOffsets { partition, spec } => Some(self.list_offsets(partition, spec)),
            GroupRequest::OffsetsForLeaderEpoch { partition, current_leader_epoch, leader_epoch } => {
                Some(self.offsets_for_leader_epoch(partition, current_leader_epoch, leader_epoch))
            }
            GroupRequest::Fetch(fetch) => {
                let deadline = ctx.now.plus_us(fetch.max_wait_us);
                self.consumer_fetch(ParkedConsumerFetch { consumer: from, correlation, fetch, deadline }, ctx);
                None
            }
            other => {
                self.coordinate(from, correlation, other, ctx);
                None
            }
        };
        if let Some(response) = response {
            ctx.send(from, Msg::GroupResponse { correlation, response });
        }
    }

    /// FindCoordinator: the leader of the group's `__consumer_offsets` partition, from this broker's metadata.
    fn find_coordinator(&self, group: GroupId) -> GroupResponse {
        let leader = self.spec.offsets_partition_of(group).and_then(|p| self.mem.metadata[p.index()].leader);
        GroupResponse::FindCoordinator { result: leader.ok_or(KafkaError::COORDINATOR_NOT_AVAILABLE) }
    }

    /// ListOffsets (Partition.fetchOffsetForTimestamp, read_uncommitted): the log start, the high watermark, or
    /// the first offset of a batch appended at or after a time (KIP-79). An offset at or past the high watermark
    /// is not returned for a time; the application then seeks to the end, the high watermark, which this answers
    /// directly.
    fn list_offsets(&self, partition: PartitionId, spec: OffsetSpec) -> GroupResponse {
        let result = match self.replicas.get(partition.index()).and_then(Option::as_ref) {
            Some(Replica { log, role: Role::Leader(_) }) => Ok(match spec {
                OffsetSpec::Earliest => log.log_start_offset(),
                OffsetSpec::Latest => log.high_watermark(),
                OffsetSpec::Timestamp(t) => log.offset_for_time(t).min(log.high_watermark()),
            }),
            _ => Err(KafkaError::NOT_LEADER_OR_FOLLOWER),
        };
        GroupResponse::ListOffsets { partition, result }
    }

    /// OffsetsForLeaderEpoch from a consumer (Partition.lastOffsetForLeaderEpoch, leader only): its current
    /// leader epoch must be the leader's (older: FENCED_LEADER_EPOCH, newer: UNKNOWN_LEADER_EPOCH); the answer is
    /// the largest epoch ≤ the one asked for and where it ends, the log end for the latest
    /// (LeaderEpochFileCache.endOffsetFor).
    fn offsets_for_leader_epoch(
        &self,
        partition: PartitionId,
        current_leader_epoch: LeaderEpoch,
        leader_epoch: LeaderEpoch,
    ) -> GroupResponse {
        let result = match self.replicas.get(partition.index()).and_then(Option::as_ref) {
            Some(Replica { log, role: Role::Leader(ls) }) => match current_leader_epoch.cmp(&ls.leader_epoch) {
                std::cmp::Ordering::Less => Err(KafkaError::FENCED_LEADER_EPOCH),
                std::cmp::Ordering::Greater => Err(KafkaError::UNKNOWN_LEADER_EPOCH),
                std::cmp::Ordering::Equal => Ok(log.end_offset_for_epoch(leader_epoch)),
            },
            _ => Err(KafkaError::NOT_LEADER_OR_FOLLOWER),
        };
        GroupResponse::OffsetsForLeaderEpoch { partition, result }
    }

    fn consumer_fetch(&mut self, parked: ParkedConsumerFetch, ctx: &mut KafkaCtx<'_>) {
        let read = self.read_for_consumer(&parked.fetch);
        if read.complete {
            Self::answer_consumer_fetch(&parked, read.partitions, ctx);
        } else {
            self.park_consumer_fetch(parked, ctx);
        }
    }

    fn answer_consumer_fetch(parked: &ParkedConsumerFetch, partitions: Vec<FetchedPartition>, ctx: &mut KafkaCtx<'_>) {
        let response = GroupResponse::Fetch { partitions };
        ctx.send(parked.consumer, Msg::GroupResponse { correlation: parked.correlation, response });
    }

    /// A consumer fetch waits for `fetch.min.bytes`. One from the same consumer is one the consumer gave up on (it
    /// keeps one fetch in flight per broker, Fetcher's nodesWithPendingFetchRequests): it is dropped, unanswered.
    pub(super) fn park_consumer_fetch(&mut self, fetch: ParkedConsumerFetch, ctx: &mut KafkaCtx<'_>) {
        let horizon = ctx.now.plus_us(self.bounds.consumer_fetch_wait_max_us);
        assert!(fetch.deadline <= horizon, "{} parks a consumer fetch beyond every fetch.max.wait.ms", self.id);
        self.arm(fetch.deadline, ctx);
        let consumer = fetch.consumer;
        self.mem.parked_consumer_fetches.retain(|f| f.consumer != consumer);
        self.mem.parked_consumer_fetches.push(fetch);
        let held = self.mem.parked_consumer_fetches.len();
        assert!(held <= self.bounds.consumer_fetches_max, "{} holds {held} consumer fetches", self.id);
    }

    /// ReplicaManager.readFromLog for a consumer: each partition in the request's order, within
    /// `max.partition.fetch.bytes` and what is left of `fetch.max.bytes`; the first partition that has records
    /// returns at least one batch, however large (KIP-74's minOneMessage), later ones only whole batches that
    /// fit.
    fn read_for_consumer(&self, fetch: &ConsumerFetch) -> ConsumerRead {
        let (mut left, mut min_one, mut bytes, mut failed) = (fetch.max_bytes, true, 0, false);
        let partitions = fetch
            .partitions
            .iter()
            .map(|&(partition, offset)| {
                let limit = fetch.partition_max_bytes.min(left);
                let result = self.read_partition_for_consumer(partition, offset, limit, min_one);
                match &result {
                    Ok(batches) => {
                        let read: u64 = batches.iter().map(|b| b.size_bytes()).sum();
                        min_one &= read == 0;
                        left = left.saturating_sub(read);
                        bytes += read;
                    }
                    Err(_) => failed = true,
                }
                FetchedPartition { partition, offset, result }
            })
            .collect();
        // The model holds a fetch with nothing to read even at fetch.min.bytes 0, which Kafka answers empty at
        // once (and the consumer asks again).
        ConsumerRead { partitions, complete: failed || (bytes > 0 && bytes >= fetch.min_bytes) }
    }

    /// Records of one partition from `offset` below the high watermark, whole batches within `limit_bytes` (the
    /// first one even beyond it with `min_one`). An offset beyond the log end or before the log start is out of
    /// range (Partition.fetchOffsetSnapshot).
    fn read_partition_for_consumer(
        &self,
        partition: PartitionId,
        offset: u64,
        limit_bytes: u64,
        min_one: bool,
    ) -> Result<FetchedBatches, KafkaError> {
        let Some(Replica { log, role: Role::Leader(_) }) =
            self.replicas.get(partition.index()).and_then(Option::as_ref)
        else {
            return Err(KafkaError::NOT_LEADER_OR_FOLLOWER);
        };
        // Out of range only beyond the log end or before its start; between the high watermark and the log end
        // (a new leader whose high watermark has not caught up yet) there is simply nothing to read yet.
        if offset > log.log_end_offset() || offset < log.log_start_offset() {
            return Err(KafkaError::OFFSET_OUT_OF_RANGE);
        }
        let mut batches = log.read_committed(offset, limit_bytes);
        let mut read = 0;
        let fitting = batches
            .iter()
            .take_while(|b| {
                read += b.size_bytes();
                read <= limit_bytes
            })
            .count();
        batches.truncate(if min_one { fitting.max(1) } else { fitting });
        Ok(batches)
    }

    /// The high watermark of `p` moved: held consumer fetches that read it may be answerable now
    /// (DelayedFetch.tryComplete).
    pub(super) fn complete_consumer_fetches(&mut self, p: PartitionId, ctx: &mut KafkaCtx<'_>) {
        let mut i = 0;
        while i < self.mem.parked_consumer_fetches.len() {
            let fetch = &self.mem.parked_consumer_fetches[i].fetch;
            if fetch.partitions.iter().any(|&(q, _)| q == p) {
                let read = self.read_for_consumer(fetch);
                if read.complete {
                    let parked = self.mem.parked_consumer_fetches.remove(i);
                    Self::answer_consumer_fetch(&parked, read.partitions, ctx);
                    continue;
                }
            }
            i += 1;
        }
    }

    /// Held consumer fetches whose `fetch.max.wait.ms` passed are answered with whatever there is, even less
    /// than `fetch.min.bytes`.
    pub(super) fn expire_consumer_fetches(&mut self, ctx: &mut KafkaCtx<'_>) {
        let now = ctx.now;
        let expired: Vec<ParkedConsumerFetch> =
            self.mem.parked_consumer_fetches.extract_if(.., |f| f.deadline <= now).collect();
        for parked in expired {
            let read = self.read_for_consumer(&parked.fetch);
            Self::answer_consumer_fetch(&parked, read.partitions, ctx);
        }
    }

    // ---- the group coordinator ----

    /// Becoming leader of a `__consumer_offsets` partition loads its groups' committed offsets from the log
    /// (GroupMetadataManager.loadGroupsAndOffsets). Membership is not persisted in the model: members rejoin.
    pub(super) fn load_groups(&mut self, p: PartitionId, ctx: &mut KafkaCtx<'_>) {
        let spec = self.spec.clone();
        let groups: Vec<GroupId> = spec.groups_in(p).collect();
        if groups.is_empty() {
            return;
        }
        let Some(replica) = self.replicas[p.index()].as_ref() else { return };
        let mut offsets: BTreeMap<GroupId, BTreeMap<PartitionId, CommittedOffset>> = BTreeMap::new();
        for (_, commit_time, record) in replica.log.records_with_time() {
            let (group, partition, committed) = record.as_offset_commit();
            let group_offsets = offsets.entry(group).or_default();
            match committed {
                Some(value) => group_offsets.insert(partition, CommittedOffset { value, commit_time }),
                None => group_offsets.remove(&partition),
            };
        }
        for g in groups {
            let prefix = format!("{}-{:08x}", spec.group_name(g), ctx.rng.random::<u32>());
            let group_offsets = offsets.remove(&g).unwrap_or_default();
            let has_offsets = !group_offsets.is_empty();
            let loaded = Group::new(spec.group_name(g).to_string(), group_offsets, ctx.now)
                .with_member_id_prefix(prefix)
                .with_consumer_protocol(has_offsets);
            self.mem.groups.insert(g, loaded);
        }
    }

    /// The offsets retention check (every `offsets.retention.check.interval.ms`, GroupMetadataManager
    /// .cleanupGroupMetadata): each loaded group's expired offsets are removed and tombstones appended to its
    /// `__consumer_offsets` partition, so they stay gone after a reload.
    pub(super) fn expire_offsets(&mut self, ctx: &mut KafkaCtx<'_>) {
        let config = &self.spec.group_config;
        let rule = OffsetRetention {
            retention_us: config.offsets_retention_us,
            expire_while_rebalancing: config.offsets_expire_while_rebalancing,
        };
        let expired: Vec<(GroupId, Vec<PartitionId>)> = self
            .mem
            .groups
            .iter()
            .map(|(&g, group)| (g, group.expired_offsets(ctx.now, rule)))
            .filter(|(_, expired)| !expired.is_empty())
            .collect();
        // Kafka also skips offsets with a commit still being replicated (pendingOffsetCommits); here such a
        // commit lands after the tombstone and restores the offset.
        for (g, partitions) in expired {
            if let Some(group) = self.mem.groups.get_mut(&g) {
                partitions.iter().for_each(|p| _ = group.offsets.remove(p));
            }
            let tombstones: Rc<[Record]> = partitions.iter().map(|&p| Record::offset_tombstone(g, p)).collect();
            if let Some(p) = self.spec.offsets_partition_of(g)
                && let Some(Replica { log, role: Role::Leader(ls) }) = self.replicas.get_mut(p)
            {
                log.append_as_leader(tombstones, ls.leader_epoch, None, ctx.now);
                self.complete_parked_fetches(p, ctx);
            }
            let group = self.spec.group_name(g).to_string();
            ctx.emit(Obs::OffsetsExpired { group, partitions: partitions.len() as u32 });
        }
    }

    /// Losing leadership of an offsets partition unloads its groups; their members will find the new coordinator.
    pub(super) fn unload_groups(&mut self, p: PartitionId, ctx: &mut KafkaCtx<'_>) {
        let spec = self.spec.clone();
        for g in spec.groups_in(p) {
            if self.mem.groups.remove(&g).is_some() {
                ctx.emit(Obs::GroupRebalance {
                    group: spec.group_name(g).to_string(),
                    generation: -1,
                    state: "Unloaded",
                    members: 0,
                });
            }
        }
    }

    fn coordinate(&mut self, from: NodeId, correlation: u64, request: GroupRequest, ctx: &mut KafkaCtx<'_>) {
        let Some(g) = group_of(&request) else { return };
        let initial_delay_us = self.spec.group_config.initial_rebalance_delay_us;
        let Some(group) = self.mem.groups.get_mut(&g) else {
            let response = not_coordinator(&request);
            ctx.send(from, Msg::GroupResponse { correlation, response });
            return;
        };
        let mut out = Vec::new();
        Coordinator { group, g, now: ctx.now, initial_delay_us, out: &mut out }.handle(from, correlation, request);
        self.apply_coordinator_output(out, ctx);
    }

    pub(super) fn expire_group_sessions(&mut self, ctx: &mut KafkaCtx<'_>) {
        let initial_delay_us = self.spec.group_config.initial_rebalance_delay_us;
        let mut out = Vec::new();
        for (&g, group) in self.mem.groups.iter_mut() {
            if group.next_deadline().is_some_and(|d| d <= ctx.now) {
                Coordinator { group, g, now: ctx.now, initial_delay_us, out: &mut out }.expire();
            }
        }
        self.apply_coordinator_output(out, ctx);
    }

    fn apply_coordinator_output(&mut self, out: Vec<Output>, ctx: &mut KafkaCtx<'_>) {
        for output in out {
            match output {
                Output::Reply { to, correlation, response } => {
                    ctx.send(to, Msg::GroupResponse { correlation, response })
                }
                Output::AppendCommit { to, correlation, group, offsets } => {
                    self.append_offset_commit(to, correlation, group, offsets, ctx)
                }
                Output::Rebalance { group, generation, state, members } => {
                    let name = self.spec.group_name(group).to_string();
                    ctx.emit(Obs::GroupRebalance { group: name, generation, state: state_name(state), members });
                }
            }
        }
        if let Some(next) = self.mem.groups.values().filter_map(|g| g.next_deadline()).min() {
            self.arm(next, ctx);
        }
    }

    /// An operator's `kafka-consumer-groups --reset-offsets --execute` arriving here: allowed only while the group
    /// has no members (ConsumerGroupCommand refuses an active group), then committed like any offset commit.
    pub fn admin_reset_offsets(
        &mut self,
        group: GroupId,
        offsets: Vec<(PartitionId, OffsetAndEpoch)>,
        ctx: &mut KafkaCtx<'_>,
    ) -> Result<(), String> {
        let Some(loaded) = self.mem.groups.get(&group) else { return Err("NOT_COORDINATOR".to_string()) };
        if loaded.member_count() > 0 {
            return Err(format!("group is {} with {} members", state_name(loaded.state), loaded.member_count()));
        }
        let me = ctx.me;
        let correlation = self.mem.admin_resets.last_key_value().map_or(0, |(&c, _)| c + 1);
        self.mem.admin_resets.insert(correlation, group);
        self.append_offset_commit(me, correlation, group, offsets, ctx);
        Ok(())
    }

    /// The admin tool learns its reset's outcome: committed, it is an `offsets_reset` in the history.
    pub(super) fn on_admin_reset_answered(
        &mut self,
        correlation: u64,
        response: GroupResponse,
        ctx: &mut KafkaCtx<'_>,
    ) {
        let Some(group) = self.mem.admin_resets.remove(&correlation) else { return };
        let (offsets, result) = match response {
            GroupResponse::OffsetCommit { offsets, result } => (offsets, result),
            other => unreachable!("an admin tool asks the coordinator for nothing but commits: {other:?}"),
        };
        if result.is_err() {
            return;
        }
        for (p, o) in offsets {
            ctx.emit(Obs::Client(crate::history::ClientEvent::OffsetsReset {
                group: group.0,
                partition: p.0,
                offset: o.offset,
            }));
        }
    }

    /// Offsets are records in the group's `__consumer_offsets` partition, appended by its leader (this broker) and
    /// acknowledged once replicated like acks=all (GroupMetadataManager.storeOffsets).
    fn append_offset_commit(
        &mut self,
        client: NodeId,
        correlation: u64,
        group: GroupId,
        offsets: Vec<(PartitionId, OffsetAndEpoch)>,
        ctx: &mut KafkaCtx<'_>,
    ) {
        let Some(p) = self.spec.offsets_partition_of(group) else { return };
        let records: Rc<[Record]> = offsets.iter().map(|&(tp, o)| Record::offset_commit(group, tp, o)).collect();
        let Some(Replica { log, role: Role::Leader(ls) }) = self.replicas.get_mut(p) else {
            let response = GroupResponse::OffsetCommit { offsets, result: Err(KafkaError::NOT_COORDINATOR) };
            ctx.send(client, Msg::GroupResponse { correlation, response });
            return;
        };
        let (base, last) = log.append_as_leader(records, ls.leader_epoch, None, ctx.now);
        let deadline = ctx.now.plus_us(OFFSETS_COMMIT_TIMEOUT_US);
        let partitions = vec![ParkedPartition::pending(p, base, last)];
        let parked = ParkedProduce { client, correlation, partitions, deadline, commit: Some((group, offsets)) };
        self.park_produce(parked, ctx);
        self.complete_parked_fetches(p, ctx);
        self.maybe_advance_high_watermark(p, ctx);
    }

    /// The commit was replicated (or failed): update the group's offsets and answer. Append errors map to the
    /// coordinator errors Kafka returns (GroupMetadataManager: NOT_ENOUGH_REPLICAS and timeouts become
    /// COORDINATOR_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER becomes NOT_COORDINATOR).
    pub(super) fn complete_offset_commit(
        &mut self,
        client: NodeId,
        correlation: u64,
        group: GroupId,
        offsets: Vec<(PartitionId, OffsetAndEpoch)>,
        result: Result<(), KafkaError>,
        ctx: &mut KafkaCtx<'_>,
    ) {
        let result = result.map_err(|e| match e {
            KafkaError::NOT_LEADER_OR_FOLLOWER => KafkaError::NOT_COORDINATOR,
            _ => KafkaError::COORDINATOR_NOT_AVAILABLE,
        });
        if result.is_ok()
            && let Some(g) = self.mem.groups.get_mut(&group)
        {
            let commit_time = ctx.now;
            g.offsets.extend(offsets.iter().map(|&(p, value)| (p, CommittedOffset { value, commit_time })));
        }
        let response = GroupResponse::OffsetCommit { offsets, result };
        ctx.send(client, Msg::GroupResponse { correlation, response });
    }
}

fn group_of(request: &GroupRequest) -> Option<GroupId> {
    match request {
        GroupRequest::JoinGroup { group, .. }
        | GroupRequest::SyncGroup { group, .. }
        | GroupRequest::Heartbeat { group, .. }
        | GroupRequest::LeaveGroup { group, .. }
        | GroupRequest::OffsetCommit { group, .. }
        | GroupRequest::OffsetFetch { group, .. } => Some(*group),
        _ => None,
    }
}

/// The NOT_COORDINATOR answer to a group request sent to the wrong broker.
fn not_coordinator(request: &GroupRequest) -> GroupResponse {
    let e = KafkaError::NOT_COORDINATOR;
    match request {
        GroupRequest::JoinGroup { member_id, .. } => {
            GroupResponse::JoinGroup { result: Err(e), member_id: member_id.clone() }
        }
        GroupRequest::SyncGroup { .. } => GroupResponse::SyncGroup { result: Err(e) },
        GroupRequest::Heartbeat { .. } => GroupResponse::Heartbeat { result: Err(e) },
        GroupRequest::OffsetCommit { offsets, .. } => {
            GroupResponse::OffsetCommit { offsets: offsets.clone(), result: Err(e) }
        }
        GroupRequest::OffsetFetch { .. } => GroupResponse::OffsetFetch { result: Err(e) },
        _ => GroupResponse::LeaveGroup,
    }
}

fn state_name(state: GroupState) -> &'static str {
    match state {
        GroupState::Empty => "Empty",
        GroupState::PreparingRebalance => "PreparingRebalance",
        GroupState::CompletingRebalance => "CompletingRebalance",
        GroupState::Stable => "Stable",
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::ids::{BrokerId, ClientId};
    use super::super::super::partition::LeaderState;
    use super::*;
    use crate::engine::runner::{Command, Ctx};
    use crate::kafka::node::Timer;

    /// Broker 1 leading `events-0` and `events-1` (replication factor 1), each holding batches of the given
    /// record sizes (one record per batch), all committed.
    fn leader_of(batches: [&[u32]; 2]) -> Broker {
        let toml = "[cluster]\nbrokers = 1\n\n[[topics]]\nname = \"events\"\npartitions = 2\nreplication.factor = 1\n\n\
                    [[consumers]]\ngroup.id = \"readers\"\ntopics = [\"events\"]\n";
        let scenario = crate::scenario::load_str("fetch-test.toml", toml).expect("a valid scenario");
        let mut broker = Broker::new(BrokerId(1), Rc::new(scenario.sim.cluster));
        for (p, sizes) in batches.iter().enumerate() {
            let replica = broker.replicas.get_mut(PartitionId(p as u32)).expect("a replica");
            for (seq, &size_bytes) in sizes.iter().enumerate() {
                let record = Record { producer: ClientId(0), send_seq: seq as u64, key: None, size_bytes };
                replica.log.append_as_leader(Rc::from(vec![record]), 0, None, SimTime::ZERO);
            }
            let end = replica.log.log_end_offset();
            replica.log.maybe_increment_high_watermark(end);
            let ls = LeaderState::new(BrokerId(1), &[BrokerId(1)], vec![BrokerId(1)], 0, 0, 0, SimTime::ZERO);
            replica.role = Role::Leader(ls);
        }
        broker
    }

    fn fetch(partitions: &[(u32, u64)], min_bytes: u64, max_bytes: u64, partition_max_bytes: u64) -> ConsumerFetch {
        let partitions = partitions.iter().map(|&(p, o)| (PartitionId(p), o)).collect();
        ConsumerFetch { partitions, max_wait_us: 500_000, min_bytes, max_bytes, partition_max_bytes }
    }

    /// One partition of an answer: its id and the base offsets read (or the error).
    type PartitionAnswer = (u32, Result<Vec<u64>, KafkaError>);

    /// What the broker answered: per response, per partition, the offsets read (or the error).
    fn answers(commands: &[Command<Msg, Timer, Obs>]) -> Vec<Vec<PartitionAnswer>> {
        let answer = |c: &Command<Msg, Timer, Obs>| match c {
            Command::Send { msg: Msg::GroupResponse { response: GroupResponse::Fetch { partitions }, .. }, .. } => {
                let offsets = |f: &FetchedPartition| {
                    let batches = f.result.as_ref().map_err(|e| *e)?;
                    Ok(batches.iter().map(|b| b.base_offset).collect())
                };
                Some(partitions.iter().map(|f| (f.partition.0, offsets(f))).collect())
            }
            _ => None,
        };
        commands.iter().filter_map(answer).collect()
    }

    fn request(broker: &mut Broker, from: u32, fetch: ConsumerFetch) -> Vec<Command<Msg, Timer, Obs>> {
        let (mut rng, mut commands) = (crate::engine::rng::stream(1, "fetch-test", 0), Vec::new());
        let mut ctx = Ctx::detached(SimTime::ZERO, NodeId(from), &mut rng, &mut commands);
        broker.on_group_request(NodeId(from), 7, GroupRequest::Fetch(fetch), &mut ctx);
        commands
    }

    // ReplicaManager.fetchMessages: one response carries every partition of the request, those with nothing new
    // included (empty), once what is readable over all of them reaches fetch.min.bytes.
    #[test]
    fn one_response_answers_every_partition_of_the_fetch() {
        let mut broker = leader_of([&[100, 100], &[]]);
        let commands = request(&mut broker, 5, fetch(&[(0, 0), (1, 0)], 1, 52_428_800, 1_048_576));
        assert_eq!(answers(&commands), vec![vec![(0, Ok(vec![0, 1])), (1, Ok(vec![]))]]);
        assert!(broker.mem.parked_consumer_fetches.is_empty());
    }

    // KIP-74 (ReplicaManager.readFromLog): fetch.max.bytes bounds the whole response, but the first partition
    // with records returns its first batch even when it alone is larger, so a consumer always makes progress;
    // once the budget is spent, later partitions return nothing.
    #[test]
    fn fetch_max_bytes_bounds_the_response_but_not_its_first_batch() {
        let mut broker = leader_of([&[500, 500], &[100]]);
        let commands = request(&mut broker, 5, fetch(&[(0, 0), (1, 0)], 1, 300, 1_048_576));
        assert_eq!(answers(&commands), vec![vec![(0, Ok(vec![0])), (1, Ok(vec![]))]]);
        // 150 bytes left after the first batch: the second of 500 does not fit, the other partition's 100 does.
        let commands = request(&mut broker, 5, fetch(&[(0, 0), (1, 0)], 1, 650, 1_048_576));
        assert_eq!(answers(&commands), vec![vec![(0, Ok(vec![0])), (1, Ok(vec![0]))]]);
        let commands = request(&mut broker, 5, fetch(&[(0, 0), (1, 0)], 1, 1_100, 1_048_576));
        assert_eq!(answers(&commands), vec![vec![(0, Ok(vec![0, 1])), (1, Ok(vec![0]))]]);
    }

    // max.partition.fetch.bytes: whole batches that fit for each partition; a partition after one that returned
    // records gets none when its first batch does not fit (minOneMessage is only for the first).
    #[test]
    fn max_partition_fetch_bytes_bounds_each_partition() {
        let mut broker = leader_of([&[200, 200, 200], &[300]]);
        let commands = request(&mut broker, 5, fetch(&[(0, 0), (1, 0)], 1, 52_428_800, 450));
        assert_eq!(answers(&commands), vec![vec![(0, Ok(vec![0, 1])), (1, Ok(vec![0]))]]);
        let commands = request(&mut broker, 5, fetch(&[(0, 0), (1, 0)], 1, 52_428_800, 250));
        assert_eq!(answers(&commands), vec![vec![(0, Ok(vec![0])), (1, Ok(vec![]))]]);
        let commands = request(&mut broker, 5, fetch(&[(1, 0), (0, 0)], 1, 52_428_800, 250));
        assert_eq!(answers(&commands), vec![vec![(1, Ok(vec![0])), (0, Ok(vec![0]))]]);
    }

    // DelayedFetch: fetch.min.bytes is counted over all the fetch's partitions; below it the fetch is held, and
    // a newer fetch of the same consumer replaces the held one (it keeps one in flight per broker).
    #[test]
    fn fetch_min_bytes_counts_the_whole_fetch() {
        let mut broker = leader_of([&[100], &[100]]);
        let commands = request(&mut broker, 5, fetch(&[(0, 0), (1, 0)], 200, 52_428_800, 1_048_576));
        assert_eq!(answers(&commands).len(), 1, "200 bytes readable over both partitions");
        let commands = request(&mut broker, 5, fetch(&[(0, 0), (1, 0)], 201, 52_428_800, 1_048_576));
        assert!(answers(&commands).is_empty(), "held below fetch.min.bytes");
        let commands = request(&mut broker, 5, fetch(&[(0, 0)], 201, 52_428_800, 1_048_576));
        assert!(answers(&commands).is_empty());
        assert_eq!(broker.mem.parked_consumer_fetches.len(), 1, "the newer fetch replaced the held one");
    }

    // DelayedFetch.tryComplete: a held fetch is answered when the high watermark of one of its partitions moves
    // far enough, with what every partition then has.
    #[test]
    fn a_held_fetch_is_answered_when_a_high_watermark_moves() {
        let mut broker = leader_of([&[], &[]]);
        assert!(answers(&request(&mut broker, 5, fetch(&[(0, 0), (1, 0)], 1, 52_428_800, 1_048_576))).is_empty());
        let (mut rng, mut commands) = (crate::engine::rng::stream(1, "fetch-test", 0), Vec::new());
        let mut ctx = Ctx::detached(SimTime::ZERO, NodeId(1), &mut rng, &mut commands);
        broker.complete_consumer_fetches(PartitionId(0), &mut ctx);
        assert!(answers(&commands).is_empty(), "still nothing to read");
        let record = Record { producer: ClientId(0), send_seq: 0, key: None, size_bytes: 100 };
        let replica = broker.replicas.get_mut(PartitionId(1)).expect("a replica");
        replica.log.append_as_leader(Rc::from(vec![record]), 0, None, SimTime::ZERO);
        replica.log.maybe_increment_high_watermark(1);
        let mut ctx = Ctx::detached(SimTime::ZERO, NodeId(1), &mut rng, &mut commands);
        broker.complete_consumer_fetches(PartitionId(1), &mut ctx);
        assert_eq!(answers(&commands), vec![vec![(0, Ok(vec![])), (1, Ok(vec![0]))]]);
        assert!(broker.mem.parked_consumer_fetches.is_empty());
    }

    // Any partition that cannot be read (here an offset beyond the log end) answers the fetch at once, with the
    // other partitions' records (ReplicaManager.fetchMessages: errorReadingData).
    #[test]
    fn an_unreadable_partition_answers_the_fetch_at_once() {
        let mut broker = leader_of([&[100], &[]]);
        let commands = request(&mut broker, 5, fetch(&[(0, 0), (1, 9)], 1_000, 52_428_800, 1_048_576));
        assert_eq!(answers(&commands), vec![vec![(0, Ok(vec![0])), (1, Err(KafkaError::OFFSET_OUT_OF_RANGE))]]);
    }
}
