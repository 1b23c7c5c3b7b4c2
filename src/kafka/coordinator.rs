//! The classic group coordinator (kafka.coordinator.group.GroupCoordinator, the JoinGroup/SyncGroup protocol):
//! group states, the join phase and its delays, generations, the leader, heartbeats and session expiry, offset
//! commits and fetches. It runs on the broker that leads the group's `__consumer_offsets` partition; it is pure
//! (requests and time in, replies and offset records out) and the broker does the I/O.

use super::ids::{GroupId, PartitionId};
use super::messages::{
    GroupRequest, GroupResponse, JoinMetadata, JoinResult, JoinedMember, KafkaError, OffsetAndEpoch,
};
use crate::engine::{NodeId, SimTime};
use std::collections::BTreeMap;

/// A committed offset as the coordinator keeps it (CommitRecordMetadataAndOffset): the offset and epoch, and
/// when the commit was appended (OffsetAndMetadata.commitTimestamp), which offset expiry reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    pub value: OffsetAndEpoch,
    pub commit_time: SimTime,
}

/// `offsets.retention.minutes` and which expiry rule applies (GroupMetadata.removeExpiredOffsets).
#[derive(Clone, Copy, Debug)]
pub struct OffsetRetention {
    pub retention_us: u64,
    /// KAFKA-13636 (before 2.8.2, 3.0.1, 3.1.1, 3.2.0): a rebalancing group's offsets expire by their commit
    /// time as if it subscribed to nothing — the subscriptions of its last generation, which was empty.
    pub expire_while_rebalancing: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

#[derive(Clone, Debug)]
struct Member {
    node: NodeId,
    metadata: JoinMetadata,
    /// Join order, which decides the leader of a new group.
    joined_seq: u64,
    last_heartbeat: SimTime,
    /// A JoinGroup waiting for the join phase to end (its correlation id).
    pending_join: Option<u64>,
    pending_sync: Option<u64>,
    assignment: Vec<PartitionId>,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// When the join phase ends at the latest; the initial delay (an empty group) also ends it.
    join_deadline: Option<SimTime>,
    /// An empty group's first join phase waits `group.initial.rebalance.delay.ms` for more members, at most
    /// until this time (InitialDelayedJoin).
    initial_join_limit: Option<SimTime>,
    pub offsets: BTreeMap<PartitionId, CommittedOffset>,
    /// When the group entered its current state (GroupMetadata.currentStateTimestamp).
    state_since: SimTime,
    /// A member has joined: the group uses the consumer protocol. A group that only ever had commits from
    /// outside (a simple consumer, the reset tool) has no protocol type, and its offsets expire by commit time.
    has_protocol_type: bool,
    /// The last generation had no members, so the subscribed topics Kafka computed from it are none.
    last_generation_empty: bool,
    next_member: u64,
    /// Member ids are this prefix and a counter. Kafka's are a client id and a random UUID, unique across
    /// coordinators; a coordinator that loads the group draws a fresh prefix, so ids never repeat.
    member_id_prefix: String,
}

/// A reply to send, or an offset commit to append (and answer once it is replicated).
#[derive(Debug)]
pub enum Output {
    Reply {
        to: NodeId,
        correlation: u64,
        response: GroupResponse,
    },
    AppendCommit {
        to: NodeId,
        correlation: u64,
        group: GroupId,
        offsets: Vec<(PartitionId, OffsetAndEpoch)>,
    },
    /// A trace-worthy change: a rebalance started or ended.
    Rebalance {
        group: GroupId,
        generation: i32,
        state: GroupState,
        members: usize,
    },
}

impl Group {
    pub fn new(name: String, offsets: BTreeMap<PartitionId, CommittedOffset>, now: SimTime) -> Self {
        Group {
            state: GroupState::Empty,
            generation: 0,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            join_deadline: None,
            initial_join_limit: None,
            offsets,
            state_since: now,
            has_protocol_type: false,
            last_generation_empty: true,
            next_member: 0,
            member_id_prefix: format!("{name}-member"),
            name,
        }
    }

    /// The same group with member ids drawn under `prefix` (see `member_id_prefix`).
    pub fn with_member_id_prefix(mut self, prefix: String) -> Self {
        self.member_id_prefix = prefix;
        self
    }

    /// A group reloaded from `__consumer_offsets` with offsets: the model does not persist GroupMetadata, and takes
    /// a group with offsets to be the consumer group it is configured as (Kafka reads its protocol type back).
    pub fn with_consumer_protocol(mut self, known: bool) -> Self {
        self.has_protocol_type = known;
        self
    }

    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    fn enter(&mut self, state: GroupState, now: SimTime) {
        self.state = state;
        self.state_since = now;
    }

    /// GroupMetadata.removeExpiredOffsets under KIP-211: an Empty consumer group's offsets expire once it has
    /// been Empty for the retention period; a group with no protocol type (commits from outside only) expires
    /// each offset by its commit time; a Stable group keeps the offsets of the topics it subscribes to, which in
    /// the model are all of them; a rebalancing group keeps everything (KAFKA-13636), unless the legacy switch
    /// applies the commit-time rule against its last generation's subscriptions.
    pub fn expired_offsets(&self, now: SimTime, rule: OffsetRetention) -> Vec<PartitionId> {
        let expired = |base: SimTime| base.plus_us(rule.retention_us) <= now;
        let by_commit_time = || self.offsets.iter().filter(|(_, c)| expired(c.commit_time)).map(|(&p, _)| p).collect();
        match self.state {
            GroupState::Empty if !self.has_protocol_type => by_commit_time(),
            GroupState::Empty if expired(self.state_since) => self.offsets.keys().copied().collect(),
            GroupState::PreparingRebalance | GroupState::CompletingRebalance
                if rule.expire_while_rebalancing && self.last_generation_empty =>
            {
                by_commit_time()
            }
            _ => Vec::new(),
        }
    }

    /// The earliest moment something may time out here (a session, the join phase).
    pub fn next_deadline(&self) -> Option<SimTime> {
        let sessions = self
            .members
            .values()
            .filter(|m| m.pending_join.is_none())
            .map(|m| m.last_heartbeat.plus_us(m.metadata.session_timeout_us));
        sessions.chain(self.join_deadline).min()
    }
}

/// The coordinator's decisions for one group; `g` is the group's index, `initial_delay_us` the
/// `group.initial.rebalance.delay.ms`.
pub struct Coordinator<'a> {
    pub group: &'a mut Group,
    pub g: GroupId,
    pub now: SimTime,
    pub initial_delay_us: u64,
    pub out: &'a mut Vec<Output>,
}

impl Coordinator<'_> {
    pub fn handle(&mut self, from: NodeId, correlation: u64, request: GroupRequest) {
        let response = match request {
            GroupRequest::JoinGroup { member_id, metadata, .. } => self.join(from, correlation, member_id, metadata),
            GroupRequest::SyncGroup { generation, member_id, assignments, .. } => {
                self.sync(correlation, generation, &member_id, assignments)
            }
            GroupRequest::Heartbeat { generation, member_id, .. } => {
                Some(GroupResponse::Heartbeat { result: self.heartbeat(generation, &member_id) })
            }
            GroupRequest::LeaveGroup { member_id, .. } => {
                self.remove_member(&member_id, "member left");
                Some(GroupResponse::LeaveGroup)
            }
            GroupRequest::OffsetCommit { generation, member_id, offsets, .. } => {
                self.commit(from, correlation, generation, &member_id, offsets)
            }
            GroupRequest::OffsetFetch { partitions, .. } => {
                let found = partitions.iter().map(|p| (*p, self.group.offsets.get(p).map(|c| c.value))).collect();
                Some(GroupResponse::OffsetFetch { result: Ok(found) })
            }
            _ => None,
        };
        if let Some(response) = response {
            self.out.push(Output::Reply { to: from, correlation, response });
        }
    }

    /// JoinGroup (GroupCoordinator.handleJoinGroup): a new member first gets an id (KIP-394); a known member's
    /// join starts a rebalance unless the group is stable and it is a follower with unchanged metadata.
    fn join(
        &mut self,
        from: NodeId,
        correlation: u64,
        member_id: String,
        metadata: JoinMetadata,
    ) -> Option<GroupResponse> {
        let mut member_id = member_id;
        if member_id.is_empty()
            && let Some(instance) = metadata.instance_id.clone()
        {
            match self.replace_static_member(from, &instance, &metadata) {
                Some(response) => return Some(response),
                None => member_id = self.new_member_id(),
            }
        }
        let g = &mut *self.group;
        if member_id.is_empty() {
            g.next_member += 1;
            let id = format!("{}-{}", g.member_id_prefix, g.next_member);
            return Some(GroupResponse::JoinGroup { result: Err(KafkaError::MEMBER_ID_REQUIRED), member_id: id });
        }
        if !self.protocol_compatible(&metadata) {
            return Some(join_error(KafkaError::INCONSISTENT_GROUP_PROTOCOL, member_id));
        }
        let g = &mut *self.group;
        if let Some(m) = g.members.get(&member_id)
            && g.state == GroupState::Stable
            && g.leader.as_deref() != Some(&member_id)
            && m.metadata == metadata
        {
            return Some(GroupResponse::JoinGroup { result: Ok(self.join_result(&member_id, false)), member_id });
        }
        let seq = g.next_member;
        let member = g.members.entry(member_id).or_insert_with(|| Member {
            node: from,
            metadata: metadata.clone(),
            joined_seq: seq,
            last_heartbeat: self.now,
            pending_join: None,
            pending_sync: None,
            assignment: Vec::new(),
        });
        member.node = from;
        member.metadata = metadata;
        member.pending_join = Some(correlation);
        member.last_heartbeat = self.now;
        self.prepare_rebalance("member joined");
        self.maybe_complete_join();
        None
    }

    fn new_member_id(&mut self) -> String {
        self.group.next_member += 1;
        format!("{}-{}", self.group.member_id_prefix, self.group.next_member)
    }

    /// KIP-345: a static member (group.instance.id) rejoining under a new member id takes its old place; a stable
    /// group does not rebalance for it — it gets the current generation back and, at SyncGroup, its old
    /// assignment. `None` when the instance id is new, or the group is rebalancing anyway (join normally).
    fn replace_static_member(
        &mut self,
        from: NodeId,
        instance: &str,
        metadata: &JoinMetadata,
    ) -> Option<GroupResponse> {
        let old_id = self
            .group
            .members
            .iter()
            .find(|(_, m)| m.metadata.instance_id.as_deref() == Some(instance))
            .map(|(id, _)| id.clone())?;
        if self.group.state != GroupState::Stable {
            return None;
        }
        let new_id = self.new_member_id();
        let g = &mut *self.group;
        let mut member = g.members.remove(&old_id)?;
        member.node = from;
        member.metadata = metadata.clone();
        member.last_heartbeat = self.now;
        g.members.insert(new_id.clone(), member);
        if g.leader.as_deref() == Some(old_id.as_str()) {
            g.leader = Some(new_id.clone());
        }
        Some(GroupResponse::JoinGroup { result: Ok(self.join_result(&new_id, false)), member_id: new_id })
    }

    /// GroupMetadata.supportsProtocols: a joining member must name an assignor that every member of the group
    /// supports (else INCONSISTENT_GROUP_PROTOCOL), so the group always has one to choose; any will do for an
    /// empty group.
    fn protocol_compatible(&self, metadata: &JoinMetadata) -> bool {
        supports_protocols(self.group.members.values().map(|m| m.metadata.protocols.as_slice()), &metadata.protocols)
    }

    /// Starts (or extends) the join phase: members must rejoin within their rebalance timeout; an empty group's
    /// first join waits `group.initial.rebalance.delay.ms`, extended by each newcomer (InitialDelayedJoin).
    fn prepare_rebalance(&mut self, _reason: &str) {
        let now = self.now;
        let g = &mut *self.group;
        let rebalance_timeout = g.members.values().map(|m| m.metadata.rebalance_timeout_us).max().unwrap_or(0);
        match g.state {
            GroupState::Empty => {
                g.initial_join_limit = Some(now.plus_us(rebalance_timeout));
                g.join_deadline = Some(now.plus_us(self.initial_delay_us));
            }
            GroupState::PreparingRebalance => {
                if let Some(limit) = g.initial_join_limit {
                    g.join_deadline = Some(now.plus_us(self.initial_delay_us).min(limit));
                }
                return;
            }
            GroupState::Stable | GroupState::CompletingRebalance => {
                g.initial_join_limit = None;
                g.join_deadline = Some(now.plus_us(rebalance_timeout));
                for m in g.members.values_mut() {
                    if let Some(correlation) = m.pending_sync.take() {
                        let response = GroupResponse::SyncGroup { result: Err(KafkaError::REBALANCE_IN_PROGRESS) };
                        self.out.push(Output::Reply { to: m.node, correlation, response });
                    }
                }
            }
        }
        g.has_protocol_type = true;
        g.enter(GroupState::PreparingRebalance, now);
        self.out.push(Output::Rebalance {
            group: self.g,
            generation: g.generation,
            state: g.state,
            members: g.members.len(),
        });
    }

    /// Ends the join phase once every member rejoined (or, for a new group, once the initial delay passed).
    fn maybe_complete_join(&mut self) {
        let g = &*self.group;
        if g.state != GroupState::PreparingRebalance || g.initial_join_limit.is_some() {
            return;
        }
        if g.members.values().all(|m| m.pending_join.is_some()) {
            self.complete_join();
        }
    }

    /// DelayedJoin.onComplete: members that did not rejoin are removed; the generation moves; the protocol is
    /// chosen by vote; the leader is kept or the earliest joiner; every waiting JoinGroup is answered.
    fn complete_join(&mut self) {
        let g = &mut *self.group;
        g.members.retain(|_, m| m.pending_join.is_some());
        g.join_deadline = None;
        g.initial_join_limit = None;
        g.generation += 1;
        g.last_generation_empty = g.members.is_empty();
        if g.members.is_empty() {
            g.enter(GroupState::Empty, self.now);
            g.leader = None;
            g.protocol = None;
            self.out.push(Output::Rebalance { group: self.g, generation: g.generation, state: g.state, members: 0 });
            return;
        }
        g.protocol = select_protocol(g.members.values().map(|m| &m.metadata.protocols));
        if g.leader.as_ref().is_none_or(|l| !g.members.contains_key(l)) {
            g.leader = g.members.iter().min_by_key(|(_, m)| m.joined_seq).map(|(id, _)| id.clone());
        }
        g.enter(GroupState::CompletingRebalance, self.now);
        let leader = g.leader.clone().unwrap_or_default();
        let waiting: Vec<(String, NodeId, u64)> =
            g.members.iter_mut().filter_map(|(id, m)| m.pending_join.take().map(|c| (id.clone(), m.node, c))).collect();
        for (id, node, correlation) in waiting {
            let result = self.join_result(&id, id == leader);
            let response = GroupResponse::JoinGroup { result: Ok(result), member_id: id };
            self.out.push(Output::Reply { to: node, correlation, response });
        }
        let g = &*self.group;
        self.out.push(Output::Rebalance {
            group: self.g,
            generation: g.generation,
            state: g.state,
            members: g.members.len(),
        });
    }

    fn join_result(&self, member_id: &str, with_members: bool) -> JoinResult {
        let g = &*self.group;
        let members = if with_members {
            g.members
                .iter()
                .map(|(id, m)| JoinedMember { member_id: id.clone(), metadata: m.metadata.clone() })
                .collect()
        } else {
            Vec::new()
        };
        JoinResult {
            generation: g.generation,
            member_id: member_id.to_string(),
            leader: g.leader.clone().unwrap_or_default(),
            protocol: g.protocol.clone().unwrap_or_default(),
            members,
        }
    }

    /// SyncGroup (GroupCoordinator.handleSyncGroup): the leader's assignment completes the rebalance; followers
    /// wait for it.
    fn sync(
        &mut self,
        correlation: u64,
        generation: i32,
        member_id: &str,
        assignments: Vec<(String, Vec<PartitionId>)>,
    ) -> Option<GroupResponse> {
        let g = &mut *self.group;
        let reply = |e| Some(GroupResponse::SyncGroup { result: Err(e) });
        let Some(member) = g.members.get_mut(member_id) else { return reply(KafkaError::UNKNOWN_MEMBER_ID) };
        if generation != g.generation {
            return reply(KafkaError::ILLEGAL_GENERATION);
        }
        match g.state {
            GroupState::Empty => reply(KafkaError::UNKNOWN_MEMBER_ID),
            GroupState::PreparingRebalance => reply(KafkaError::REBALANCE_IN_PROGRESS),
            GroupState::Stable => Some(GroupResponse::SyncGroup { result: Ok(member.assignment.clone()) }),
            GroupState::CompletingRebalance => {
                member.pending_sync = Some(correlation);
                member.last_heartbeat = self.now;
                if g.leader.as_deref() == Some(member_id) {
                    self.complete_sync(assignments);
                }
                None
            }
        }
    }

    fn complete_sync(&mut self, assignments: Vec<(String, Vec<PartitionId>)>) {
        let g = &mut *self.group;
        for m in g.members.values_mut() {
            m.assignment.clear();
        }
        for (id, partitions) in assignments {
            if let Some(m) = g.members.get_mut(&id) {
                m.assignment = partitions;
            }
        }
        g.enter(GroupState::Stable, self.now);
        for m in g.members.values_mut() {
            if let Some(correlation) = m.pending_sync.take() {
                let response = GroupResponse::SyncGroup { result: Ok(m.assignment.clone()) };
                self.out.push(Output::Reply { to: m.node, correlation, response });
            }
        }
        self.out.push(Output::Rebalance {
            group: self.g,
            generation: g.generation,
            state: g.state,
            members: g.members.len(),
        });
    }

    /// Heartbeat (GroupCoordinator.handleHeartbeat): keeps the session; tells members to rejoin during a rebalance.
    fn heartbeat(&mut self, generation: i32, member_id: &str) -> Result<(), KafkaError> {
        let g = &mut *self.group;
        let Some(member) = g.members.get_mut(member_id) else { return Err(KafkaError::UNKNOWN_MEMBER_ID) };
        member.last_heartbeat = self.now;
        match g.state {
            GroupState::Empty => Err(KafkaError::UNKNOWN_MEMBER_ID),
            GroupState::PreparingRebalance => Err(KafkaError::REBALANCE_IN_PROGRESS),
            _ if generation != g.generation => Err(KafkaError::ILLEGAL_GENERATION),
            _ => Ok(()),
        }
    }

    /// OffsetCommit (GroupCoordinator.handleCommitOffsets): a current member at the current generation may commit
    /// while the group is Stable or PreparingRebalance (members commit before they rejoin); in
    /// CompletingRebalance the answer is REBALANCE_IN_PROGRESS; an empty group accepts commits from outside
    /// (generation -1, no member id).
    fn commit(
        &mut self,
        from: NodeId,
        correlation: u64,
        generation: i32,
        member_id: &str,
        offsets: Vec<(PartitionId, OffsetAndEpoch)>,
    ) -> Option<GroupResponse> {
        let g = &mut *self.group;
        let simple = generation < 0 && member_id.is_empty() && g.members.is_empty();
        if !simple {
            let error = match g.members.get_mut(member_id) {
                None => Some(KafkaError::UNKNOWN_MEMBER_ID),
                Some(_) if generation != g.generation => Some(KafkaError::ILLEGAL_GENERATION),
                Some(_) if g.state == GroupState::CompletingRebalance => Some(KafkaError::REBALANCE_IN_PROGRESS),
                Some(m) => {
                    m.last_heartbeat = self.now;
                    None
                }
            };
            if let Some(e) = error {
                return Some(GroupResponse::OffsetCommit { offsets, result: Err(e) });
            }
        }
        self.out.push(Output::AppendCommit { to: from, correlation, group: self.g, offsets });
        None
    }

    fn remove_member(&mut self, member_id: &str, reason: &str) {
        if self.group.members.remove(member_id).is_none() {
            return;
        }
        match self.group.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(reason),
            GroupState::PreparingRebalance => self.maybe_complete_join(),
            GroupState::Empty => {}
        }
        if self.group.members.is_empty() && self.group.state == GroupState::PreparingRebalance {
            self.complete_join();
        }
    }

    /// Time passes: sessions expire (removing their members) and the join phase ends at its deadline.
    pub fn expire(&mut self) {
        let now = self.now;
        let expired: Vec<String> = self
            .group
            .members
            .iter()
            .filter(|(_, m)| {
                m.pending_join.is_none() && now.since_us(m.last_heartbeat) >= m.metadata.session_timeout_us
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.remove_member(&id, "session.timeout.ms expired");
        }
        if self.group.join_deadline.is_some_and(|d| d <= now) && self.group.state == GroupState::PreparingRebalance {
            self.complete_join();
        }
    }
}

fn join_error(error: KafkaError, member_id: String) -> GroupResponse {
    GroupResponse::JoinGroup { result: Err(error), member_id }
}

/// GroupMetadata.selectProtocol: among the assignors every member supports, each member votes for its most
/// preferred; the most votes win (ties go to the first member's preference order).
fn select_protocol<'a>(preferences: impl Iterator<Item = &'a Vec<String>> + Clone) -> Option<String> {
    let first = preferences.clone().next()?;
    let candidates: Vec<&String> =
        first.iter().filter(|p| preferences.clone().all(|prefs| prefs.contains(p))).collect();
    let mut votes: Vec<usize> = vec![0; candidates.len()];
    for prefs in preferences {
        if let Some(i) = prefs.iter().find_map(|p| candidates.iter().position(|c| *c == p)) {
            votes[i] += 1;
        }
    }
    let best = votes.iter().enumerate().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?.0;
    candidates.get(best).map(|c| (*c).clone())
}

/// GroupMetadata.supportsProtocols: whether a member naming `protocols` may join a group whose members name
/// `members`: one of its protocols must be every member's (any non-empty list for an empty group).
fn supports_protocols<'a>(members: impl Iterator<Item = &'a [String]> + Clone, protocols: &[String]) -> bool {
    protocols.iter().any(|p| members.clone().all(|m| m.contains(p)))
}

#[cfg(test)]
mod tests {
    // GroupMetadataTest.testSupportsProtocols: an empty group takes any protocols; then a joiner must name one
    // every member supports.
    #[test]
    fn a_joiner_must_name_a_protocol_every_member_supports() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
        let (member, other) = (names(&["range", "roundrobin"]), names(&["roundrobin", "blah"]));
        assert!(supports_protocols(std::iter::empty(), &names(&["roundrobin", "range"])));
        let one = [member.as_slice()];
        assert!(supports_protocols(one.iter().copied(), &names(&["roundrobin", "foo"])));
        assert!(supports_protocols(one.iter().copied(), &names(&["range", "foo"])));
        assert!(!supports_protocols(one.iter().copied(), &names(&["foo", "bar"])));
        let two = [member.as_slice(), other.as_slice()];
        assert!(supports_protocols(two.iter().copied(), &names(&["roundrobin", "foo"])));
        assert!(!supports_protocols(two.iter().copied(), &names(&["range", "foo"])));
    }

    use super::*;

    fn metadata() -> JoinMetadata {
        JoinMetadata {
            instance_id: None,
            session_timeout_us: 45_000_000,
            rebalance_timeout_us: 300_000_000,
            protocols: vec!["range".into(), "cooperative-sticky".into()],
            topics: vec![crate::kafka::ids::TopicId(0)],
            owned: Vec::new(),
            owned_generation: -1,
        }
    }

    fn run(group: &mut Group, now: u64, from: u32, correlation: u64, request: GroupRequest) -> Vec<Output> {
        let mut out = Vec::new();
        let mut c = Coordinator { group, g: GroupId(0), now: SimTime(now), initial_delay_us: 3_000_000, out: &mut out };
        c.handle(NodeId(from), correlation, request);
        out
    }

    /// The coordinator's deadlines at `now` (µs): what the broker's wakeup runs.
    fn expire(group: &mut Group, now: u64) -> Vec<Output> {
        let mut out = Vec::new();
        Coordinator { group, g: GroupId(0), now: SimTime(now), initial_delay_us: 3_000_000, out: &mut out }.expire();
        out
    }

    fn join(member_id: &str) -> GroupRequest {
        GroupRequest::JoinGroup { group: GroupId(0), member_id: member_id.into(), metadata: metadata() }
    }

    // KIP-394: a join without a member id is answered MEMBER_ID_REQUIRED with the id to use.
    #[test]
    fn first_join_gets_a_member_id() {
        let mut g = Group::new("email".into(), BTreeMap::new(), SimTime::ZERO);
        let out = run(&mut g, 0, 1, 1, join(""));
        assert!(
            matches!(&out[0], Output::Reply { response: GroupResponse::JoinGroup { result: Err(KafkaError::MEMBER_ID_REQUIRED), member_id }, .. } if member_id == "email-member-1")
        );
    }

    // group.initial.rebalance.delay.ms: an empty group's first rebalance waits for more members; then generation
    // 1 starts with the first joiner as leader.
    #[test]
    fn empty_group_waits_the_initial_delay_then_completes() {
        let mut g = Group::new("email".into(), BTreeMap::new(), SimTime::ZERO);
        run(&mut g, 0, 1, 1, join("a"));
        run(&mut g, 1_000_000, 2, 2, join("b"));
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert_eq!(g.next_deadline(), Some(SimTime(4_000_000)), "each joiner extends the delay");
        let out = expire(&mut g, 4_000_000);
        assert_eq!((g.state, g.generation, g.leader.as_deref()), (GroupState::CompletingRebalance, 1, Some("a")));
        let replies = out.iter().filter(|o| matches!(o, Output::Reply { .. })).count();
        assert_eq!(replies, 2);
    }

    fn stable_group_of_one() -> Group {
        let mut g = Group::new("email".into(), BTreeMap::new(), SimTime::ZERO);
        run(&mut g, 0, 1, 1, join("a"));
        expire(&mut g, 3_000_000);
        assert_eq!(g.state, GroupState::CompletingRebalance);
        let sync = GroupRequest::SyncGroup {
            group: GroupId(0),
            generation: 1,
            member_id: "a".into(),
            assignments: vec![("a".into(), vec![PartitionId(0)])],
        };
        run(&mut g, 3_000_001, 1, 2, sync);
        assert_eq!(g.state, GroupState::Stable);
        g
    }

    fn commit(generation: i32) -> GroupRequest {
        GroupRequest::OffsetCommit {
            group: GroupId(0),
            generation,
            member_id: "a".into(),
            offsets: vec![(PartitionId(0), OffsetAndEpoch::without_epoch(5))],
        }
    }

    fn commit_error(out: &[Output]) -> Option<KafkaError> {
        match out.first() {
            Some(Output::Reply { response: GroupResponse::OffsetCommit { result: Err(e), .. }, .. }) => Some(*e),
            _ => None,
        }
    }

    // GroupCoordinator.handleCommitOffsets: a commit from an old generation is ILLEGAL_GENERATION (how a zombie is
    // fenced); during PreparingRebalance the current generation may still commit (members commit before they
    // rejoin); during CompletingRebalance the answer is REBALANCE_IN_PROGRESS.
    #[test]
    fn commits_follow_generation_and_group_state() {
        let mut g = stable_group_of_one();
        assert_eq!(commit_error(&run(&mut g, 3_000_002, 1, 3, commit(0))), Some(KafkaError::ILLEGAL_GENERATION));
        run(&mut g, 3_000_003, 2, 4, join("b"));
        assert_eq!(g.state, GroupState::PreparingRebalance);
        let out = run(&mut g, 3_000_004, 1, 5, commit(1));
        assert!(matches!(out.first(), Some(Output::AppendCommit { .. })), "accepted while preparing: {out:?}");
        run(&mut g, 3_000_005, 1, 6, join("a"));
        assert_eq!(g.state, GroupState::CompletingRebalance);
        assert_eq!(commit_error(&run(&mut g, 3_000_006, 1, 7, commit(2))), Some(KafkaError::REBALANCE_IN_PROGRESS));
        let unknown =
            GroupRequest::OffsetCommit { group: GroupId(0), generation: 2, member_id: "z".into(), offsets: vec![] };
        assert_eq!(commit_error(&run(&mut g, 3_000_007, 3, 8, unknown)), Some(KafkaError::UNKNOWN_MEMBER_ID));
    }

    // GroupCoordinator.handleHeartbeat: a heartbeat during PreparingRebalance is answered REBALANCE_IN_PROGRESS,
    // which tells the member to rejoin; an expired session removes the member and rebalances.
    #[test]
    fn heartbeats_announce_rebalances_and_sessions_expire() {
        let mut g = stable_group_of_one();
        run(&mut g, 3_000_010, 2, 9, join("b"));
        let hb = GroupRequest::Heartbeat { group: GroupId(0), generation: 1, member_id: "a".into() };
        let out = run(&mut g, 3_000_011, 1, 10, hb);
        assert!(matches!(
            out.first(),
            Some(Output::Reply {
                response: GroupResponse::Heartbeat { result: Err(KafkaError::REBALANCE_IN_PROGRESS) },
                ..
            })
        ));
        let mut stable = stable_group_of_one();
        expire(&mut stable, 3_000_001 + 45_000_000);
        assert_eq!(stable.member_count(), 0);
        assert_eq!(stable.state, GroupState::Empty);
    }

    const RETENTION_US: u64 = 50_000_000;

    fn retention(expire_while_rebalancing: bool) -> OffsetRetention {
        OffsetRetention { retention_us: RETENTION_US, expire_while_rebalancing }
    }

    /// The stable group of one with an offset committed at 3.000002 s; then its member leaves at `left_at`.
    fn emptied_group(left_at: u64) -> Group {
        let mut g = stable_group_of_one();
        let committed = CommittedOffset { value: OffsetAndEpoch::without_epoch(37), commit_time: SimTime(3_000_002) };
        g.offsets.insert(PartitionId(0), committed);
        run(&mut g, left_at, 1, 3, GroupRequest::LeaveGroup { group: GroupId(0), member_id: "a".into() });
        assert_eq!(g.state, GroupState::Empty);
        g
    }

    // KIP-211 (GroupMetadataManagerTest.testOffsetExpirationSemantics): an Empty consumer group's offsets expire
    // once the group has been Empty for offsets.retention.minutes, however old the commit; a Stable group's
    // offsets of subscribed topics never do.
    #[test]
    fn an_empty_groups_offsets_expire_a_retention_after_it_became_empty() {
        let stable = stable_group_of_one();
        assert!(stable.expired_offsets(SimTime(10 * RETENTION_US), retention(false)).is_empty());
        let g = emptied_group(100_000_000);
        assert!(g.expired_offsets(SimTime(100_000_000 + RETENTION_US - 1), retention(false)).is_empty());
        assert_eq!(g.expired_offsets(SimTime(100_000_000 + RETENTION_US), retention(false)), vec![PartitionId(0)]);
    }

    // GroupMetadataTest.testOffsetRemovalDuringTransitionFromEmptyToNonEmpty (KAFKA-13636): offsets committed
    // more than a retention ago, the group Empty for less, a member rejoining: nothing expires while it
    // rebalances. Before the fix, the last generation's empty subscriptions let the commit-time rule expire them.
    #[test]
    fn a_rebalancing_group_keeps_its_offsets_unless_kafka_13636() {
        let mut g = emptied_group(3_000_010 + RETENTION_US);
        let now = 3_000_020 + RETENTION_US;
        run(&mut g, now, 1, 4, join("a"));
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert!(g.expired_offsets(SimTime(now), retention(false)).is_empty());
        assert_eq!(g.expired_offsets(SimTime(now), retention(true)), vec![PartitionId(0)]);
    }

    // GroupMetadata.removeExpiredOffsets: a group without a protocol type (commits from outside only: a simple
    // consumer, the reset tool) expires each offset a retention after its commit.
    #[test]
    fn a_group_without_members_ever_expires_offsets_by_commit_time() {
        let mut g = Group::new("email".into(), BTreeMap::new(), SimTime::ZERO);
        g.offsets.insert(
            PartitionId(0),
            CommittedOffset { value: OffsetAndEpoch::without_epoch(1), commit_time: SimTime(10) },
        );
        g.offsets.insert(
            PartitionId(1),
            CommittedOffset { value: OffsetAndEpoch::without_epoch(1), commit_time: SimTime(20) },
        );
        assert_eq!(g.expired_offsets(SimTime(10 + RETENTION_US), retention(false)), vec![PartitionId(0)]);
    }

    // KIP-345: a static member restarting within the session timeout takes its old place under a new member id,
    // without a rebalance, and gets its old assignment back.
    #[test]
    fn a_static_member_rejoins_without_a_rebalance() {
        let mut g = Group::new("email".into(), BTreeMap::new(), SimTime::ZERO);
        let mut static_meta = metadata();
        static_meta.instance_id = Some("email-host-1".into());
        let join =
            GroupRequest::JoinGroup { group: GroupId(0), member_id: String::new(), metadata: static_meta.clone() };
        run(&mut g, 0, 1, 1, join.clone());
        expire(&mut g, 3_000_000);
        let id = g.leader.clone().expect("a leader");
        let sync = GroupRequest::SyncGroup { group: GroupId(0), generation: 1, member_id: id, assignments: vec![] };
        run(&mut g, 3_000_001, 1, 2, sync);
        assert_eq!(g.state, GroupState::Stable);
        let out = run(&mut g, 10_000_000, 1, 3, join);
        assert_eq!(g.state, GroupState::Stable, "no rebalance");
        assert_eq!(g.generation, 1);
        assert!(
            matches!(out.first(), Some(Output::Reply { response: GroupResponse::JoinGroup { result: Ok(r), .. }, .. }) if r.generation == 1)
        );
        assert_eq!(g.member_count(), 1);
    }

    // GroupMetadata.selectProtocol: the protocol all members support that most of them prefer.
    #[test]
    fn protocol_is_chosen_by_vote_among_common_ones() {
        let a = vec!["range".to_string(), "cooperative-sticky".to_string()];
        let b = vec!["cooperative-sticky".to_string(), "range".to_string()];
        let c = vec!["cooperative-sticky".to_string()];
        assert_eq!(select_protocol([&a, &b, &c].into_iter()), Some("cooperative-sticky".to_string()));
        assert_eq!(select_protocol([&a, &a, &b].into_iter()), Some("range".to_string()));
    }
}
