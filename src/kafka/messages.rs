//! The requests and responses nodes exchange, named after Kafka's protocol (Produce, Fetch, BrokerHeartbeat,
//! AlterPartition, Metadata) and Kafka's error names.

use super::ids::{BrokerId, GroupId, LeaderEpoch, Offset, PartitionId, TopicId};
use super::log::{FetchedBatches, ProducerStamp, Record};
use crate::engine::{Exchange, MessageKind};
use serde::Serialize;
use std::rc::Rc;

/// A broker's epoch (KIP-903): the model numbers a broker's registrations (its incarnations); Kafka uses the
/// metadata offset of the registration record. Both change exactly when the broker registers anew.
pub type BrokerEpoch = u32;

/// What a ListOffsets asks for (ListOffsetsRequest's timestamp: EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, a time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetSpec {
    Earliest,
    Latest,
    Timestamp(crate::engine::SimTime),
}

/// Kafka's error codes (org.apache.kafka.common.protocol.Errors) that the model produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum KafkaError {
    NOT_LEADER_OR_FOLLOWER,
    NOT_ENOUGH_REPLICAS,
    NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    REQUEST_TIMED_OUT,
    OUT_OF_ORDER_SEQUENCE_NUMBER,
    /// A batch of an older producer epoch than the partition's latest (InvalidProducerEpochException, 2.7+).
    INVALID_PRODUCER_EPOCH,
    FENCED_LEADER_EPOCH,
    UNKNOWN_LEADER_EPOCH,
    OFFSET_OUT_OF_RANGE,
    INVALID_UPDATE_VERSION,
    INELIGIBLE_REPLICA,
    NOT_CONTROLLER,
    INVALID_REQUEST,
    UNKNOWN_TOPIC_OR_PARTITION,
    NOT_COORDINATOR,
    COORDINATOR_NOT_AVAILABLE,
    COORDINATOR_LOAD_IN_PROGRESS,
    MEMBER_ID_REQUIRED,
    UNKNOWN_MEMBER_ID,
    ILLEGAL_GENERATION,
    REBALANCE_IN_PROGRESS,
    INCONSISTENT_GROUP_PROTOCOL,
    /// The client's connection broke or its request got no answer (NetworkException / disconnect).
    NETWORK_EXCEPTION,
    /// Not a wire error: the consumer failed a commit itself, without sending it, because it is not part of an
    /// active group (ConsumerCoordinator.sendOffsetCommitRequest raises CommitFailedException).
    COMMIT_FAILED,
}

impl KafkaError {
    /// Every error the model uses, for reading names back (an `[expect]` scope such as `send-failed:NAME`).
    pub const ALL: [KafkaError; 24] = [
        KafkaError::NOT_LEADER_OR_FOLLOWER,
        KafkaError::NOT_ENOUGH_REPLICAS,
        KafkaError::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        KafkaError::REQUEST_TIMED_OUT,
        KafkaError::OUT_OF_ORDER_SEQUENCE_NUMBER,
        KafkaError::INVALID_PRODUCER_EPOCH,
        KafkaError::FENCED_LEADER_EPOCH,
        KafkaError::UNKNOWN_LEADER_EPOCH,
        KafkaError::OFFSET_OUT_OF_RANGE,
        KafkaError::INVALID_UPDATE_VERSION,
        KafkaError::INELIGIBLE_REPLICA,
        KafkaError::NOT_CONTROLLER,
        KafkaError::INVALID_REQUEST,
        KafkaError::UNKNOWN_TOPIC_OR_PARTITION,
        KafkaError::NOT_COORDINATOR,
        KafkaError::COORDINATOR_NOT_AVAILABLE,
        KafkaError::COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError::MEMBER_ID_REQUIRED,
        KafkaError::UNKNOWN_MEMBER_ID,
        KafkaError::ILLEGAL_GENERATION,
        KafkaError::REBALANCE_IN_PROGRESS,
        KafkaError::INCONSISTENT_GROUP_PROTOCOL,
        KafkaError::NETWORK_EXCEPTION,
        KafkaError::COMMIT_FAILED,
    ];

    pub fn from_name(name: &str) -> Option<KafkaError> {
        KafkaError::ALL.into_iter().find(|e| e.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            KafkaError::NOT_LEADER_OR_FOLLOWER => "NOT_LEADER_OR_FOLLOWER",
            KafkaError::NOT_ENOUGH_REPLICAS => "NOT_ENOUGH_REPLICAS",
            KafkaError::NOT_ENOUGH_REPLICAS_AFTER_APPEND => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            KafkaError::REQUEST_TIMED_OUT => "REQUEST_TIMED_OUT",
            KafkaError::OUT_OF_ORDER_SEQUENCE_NUMBER => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            KafkaError::INVALID_PRODUCER_EPOCH => "INVALID_PRODUCER_EPOCH",
            KafkaError::FENCED_LEADER_EPOCH => "FENCED_LEADER_EPOCH",
            KafkaError::UNKNOWN_LEADER_EPOCH => "UNKNOWN_LEADER_EPOCH",
            KafkaError::OFFSET_OUT_OF_RANGE => "OFFSET_OUT_OF_RANGE",
            KafkaError::INVALID_UPDATE_VERSION => "INVALID_UPDATE_VERSION",
            KafkaError::INELIGIBLE_REPLICA => "INELIGIBLE_REPLICA",
            KafkaError::NOT_CONTROLLER => "NOT_CONTROLLER",
            KafkaError::INVALID_REQUEST => "INVALID_REQUEST",
            KafkaError::UNKNOWN_TOPIC_OR_PARTITION => "UNKNOWN_TOPIC_OR_PARTITION",
            KafkaError::NOT_COORDINATOR => "NOT_COORDINATOR",
            KafkaError::COORDINATOR_NOT_AVAILABLE => "COORDINATOR_NOT_AVAILABLE",
            KafkaError::COORDINATOR_LOAD_IN_PROGRESS => "COORDINATOR_LOAD_IN_PROGRESS",
            KafkaError::MEMBER_ID_REQUIRED => "MEMBER_ID_REQUIRED",
            KafkaError::UNKNOWN_MEMBER_ID => "UNKNOWN_MEMBER_ID",
            KafkaError::ILLEGAL_GENERATION => "ILLEGAL_GENERATION",
            KafkaError::REBALANCE_IN_PROGRESS => "REBALANCE_IN_PROGRESS",
            KafkaError::INCONSISTENT_GROUP_PROTOCOL => "INCONSISTENT_GROUP_PROTOCOL",
            KafkaError::NETWORK_EXCEPTION => "NETWORK_EXCEPTION",
            KafkaError::COMMIT_FAILED => "CommitFailedException",
        }
    }

    /// Whether the producer retries it (RetriableException subclasses in the Java client). An idempotent producer
    /// also retries OUT_OF_ORDER_SEQUENCE_NUMBER (TransactionManager.canRetry); the producer decides that.
    pub fn is_retriable(self) -> bool {
        !matches!(
            self,
            KafkaError::OUT_OF_ORDER_SEQUENCE_NUMBER
                | KafkaError::INVALID_PRODUCER_EPOCH
                | KafkaError::INVALID_UPDATE_VERSION
        )
    }

    /// Whether a produce attempt failing with this error was refused before anything was appended, so the
    /// client knows its records are not in the log (librdkafka's NotPersisted): Partition.appendRecordsToLeader
    /// checks min.insync.replicas (NotEnoughReplicasException) and ProducerStateManager the sequence and epoch
    /// before the append. NOT_LEADER_OR_FOLLOWER is not among them: a DelayedProduce waiting on followers also
    /// ends with it when leadership moves after the append; nor are timeouts, lost connections and
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND (PossiblyPersisted).
    pub fn refused_before_append(self) -> bool {
        matches!(
            self,
            KafkaError::NOT_ENOUGH_REPLICAS
                | KafkaError::OUT_OF_ORDER_SEQUENCE_NUMBER
                | KafkaError::INVALID_PRODUCER_EPOCH
                | KafkaError::UNKNOWN_TOPIC_OR_PARTITION
        )
    }
}

/// A committed offset with the leader epoch of the last record consumed before it (OffsetAndMetadata's
/// leaderEpoch, KIP-320): a consumer resuming from it can tell whether the log was truncated below it since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetAndEpoch {
    pub offset: u64,
    pub leader_epoch: Option<LeaderEpoch>,
}

impl OffsetAndEpoch {
    /// An offset set without a record behind it (the reset tool, `auto.offset.reset`).
    pub fn without_epoch(offset: u64) -> Self {
        OffsetAndEpoch { offset, leader_epoch: None }
    }
}

/// KIP-704's leader recovery state: a leader elected uncleanly is RECOVERING until its first ISR change, which
/// carries RECOVERED (Partition.makeLeader marks it recovered at once; PartitionChangeBuilder writes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub enum LeaderRecoveryState {
    Recovered,
    Recovering,
}

/// A partition's registration as the controller commits it (PartitionRecord / PartitionChangeRecord).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PartitionState {
    pub leader: Option<BrokerId>,
    pub leader_epoch: LeaderEpoch,
    pub isr: Vec<BrokerId>,
    /// Bumped on every change (the KRaft partition epoch); AlterPartition must name the current one.
    pub partition_epoch: i32,
    pub leader_recovery_state: LeaderRecoveryState,
}

/// Why the controller changed a partition's leader or ISR (what the trace and witnesses say after the change).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub enum ChangeReason {
    #[serde(rename = "topic created")]
    TopicCreated,
    /// The leader's AlterPartition removed lagging followers (Partition.maybeShrinkIsr).
    #[serde(rename = "isr shrink")]
    IsrShrink,
    /// The leader's AlterPartition added a caught-up follower (Partition.maybeExpandIsr).
    #[serde(rename = "isr expand")]
    IsrExpand,
    /// The broker missed heartbeats for broker.session.timeout.ms and was fenced.
    #[serde(rename = "broker.session.timeout.ms expired")]
    SessionExpired,
    #[serde(rename = "broker unfenced")]
    BrokerUnfenced,
    #[serde(rename = "controlled shutdown")]
    ControlledShutdown,
    /// A restarted broker registered a new incarnation (KIP-903's broker epoch).
    #[serde(rename = "re-registered after a restart")]
    ReRegistered,
    /// auto.leader.rebalance.enable moved leadership back to a preferred replica.
    #[serde(rename = "auto leader rebalance")]
    AutoLeaderRebalance,
    /// An admin's election (kafka-leader-election.sh).
    #[serde(rename = "kafka-leader-election.sh")]
    LeaderElectionTool,
}

impl ChangeReason {
    pub fn text(self) -> &'static str {
        match self {
            ChangeReason::TopicCreated => "topic created",
            ChangeReason::IsrShrink => "isr shrink",
            ChangeReason::IsrExpand => "isr expand",
            ChangeReason::SessionExpired => "broker.session.timeout.ms expired",
            ChangeReason::BrokerUnfenced => "broker unfenced",
            ChangeReason::ControlledShutdown => "controlled shutdown",
            ChangeReason::ReRegistered => "re-registered after a restart",
            ChangeReason::AutoLeaderRebalance => "auto leader rebalance",
            ChangeReason::LeaderElectionTool => "kafka-leader-election.sh",
        }
    }
}

impl std::fmt::Display for ChangeReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

/// Hashed as its text, as the trace digest always has.
impl std::hash::Hash for ChangeReason {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text().hash(state);
    }
}

/// A record of the controllers' metadata log, which brokers replay in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataRecord {
    /// A partition's new registration (PartitionRecord / PartitionChangeRecord), with why it changed and whether
    /// the leader was elected uncleanly (Kafka marks such a leader RECOVERING).
    Partition { partition: PartitionId, state: PartitionState, reason: ChangeReason, unclean: bool },
    /// A broker's registration: a new incarnation (RegisterBrokerRecord), fenced or unfenced
    /// (BrokerRegistrationChangeRecord), or entering controlled shutdown.
    Broker { broker: BrokerId, incarnation: u32, fenced: bool, in_controlled_shutdown: bool },
    /// A new quorum leader's first record (KRaft's LeaderChangeMessage control record).
    LeaderChange { leader: u32 },
}

/// What controllers say to each other about the metadata quorum (KIP-595's Vote, BeginQuorumEpoch, Fetch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuorumMsg {
    Vote { epoch: i32, candidate: u32, last_epoch: i32, last_offset: u64 },
    VoteResponse { epoch: i32, granted: bool },
    BeginQuorumEpoch { epoch: i32, leader: u32 },
    Fetch { epoch: i32, fetch_offset: u64, last_fetched_epoch: Option<i32> },
    FetchResponse { epoch: i32, result: QuorumFetchResult },
}

impl QuorumMsg {
    pub fn epoch(&self) -> i32 {
        match self {
            QuorumMsg::Vote { epoch, .. }
            | QuorumMsg::VoteResponse { epoch, .. }
            | QuorumMsg::BeginQuorumEpoch { epoch, .. }
            | QuorumMsg::Fetch { epoch, .. }
            | QuorumMsg::FetchResponse { epoch, .. } => *epoch,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuorumFetchResult {
    Entries { from_offset: u64, entries: Vec<(i32, MetadataRecord)>, high_watermark: u64 },
    Diverging { epoch: i32, end_offset: u64 },
    NotLeader,
}

/// A Produce request: one batch per partition, every partition the sender drained for the broker
/// (RecordAccumulator.drain, Sender.sendProduceRequest).
#[derive(Clone, Debug)]
pub struct ProduceRequest {
    pub correlation: u64,
    /// 0, 1 or -1 as in the protocol.
    pub acks: i8,
    pub timeout_us: u64,
    pub batches: Vec<ProduceBatch>,
}

/// One partition's batch in a Produce request.
#[derive(Clone, Debug)]
pub struct ProduceBatch {
    pub partition: PartitionId,
    pub stamp: Option<ProducerStamp>,
    pub records: Rc<[Record]>,
}

/// The answer to a Produce request: one result per batch, in the request's order.
#[derive(Clone, Debug)]
pub struct ProduceResponse {
    pub correlation: u64,
    pub partitions: Vec<(PartitionId, Result<Offset, KafkaError>)>,
}

/// A follower's fetch for one partition (FetchRequest v12+ fields that matter here).
#[derive(Clone, Debug)]
pub struct FetchRequest {
    pub fetch_id: u64,
    pub partition: PartitionId,
    pub replica: BrokerId,
    pub fetch_offset: Offset,
    pub current_leader_epoch: LeaderEpoch,
    /// The epoch of the follower's last batch (KIP-320); absent in the legacy truncation mode.
    pub last_fetched_epoch: Option<LeaderEpoch>,
    /// KIP-903's ReplicaState.ReplicaEpoch: the follower's broker epoch (`None` is -1, not sent).
    pub replica_epoch: Option<BrokerEpoch>,
}

#[derive(Clone, Debug)]
pub enum FetchResult {
    /// OffsetsForLeaderEpoch v0's answer to a follower in the `leader-epoch-v0` mode: where its epoch ends on
    /// the leader (`None`: undefined).
    EpochEndOffsetV0 {
        end_offset: Option<Offset>,
    },
    Records {
        batches: FetchedBatches,
        high_watermark: Offset,
    },
    /// The follower's log diverges: its last fetched epoch ends at `end_offset` on the leader (KIP-320).
    Diverging {
        epoch: LeaderEpoch,
        end_offset: Offset,
    },
    /// The fetch offset is outside the leader's log: beyond its end, or before its start (retention).
    OutOfRange {
        leader_log_start_offset: Offset,
        leader_log_end_offset: Offset,
    },
    Error(KafkaError),
}

#[derive(Clone, Debug)]
pub struct FetchResponse {
    pub fetch_id: u64,
    pub partition: PartitionId,
    pub result: FetchResult,
}

/// One partition's leader as a broker's metadata cache has it (MetadataResponse).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderInfo {
    pub leader: Option<BrokerId>,
    pub leader_epoch: LeaderEpoch,
}

#[derive(Clone, Debug)]
pub enum Msg {
    MetadataRequest {
        correlation: u64,
    },
    MetadataResponse {
        correlation: u64,
        leaders: Rc<[LeaderInfo]>,
    },
    Produce(ProduceRequest),
    ProduceResponse(ProduceResponse),
    Fetch(FetchRequest),
    FetchResponse(FetchResponse),
    /// A broker's heartbeat, which also registers it (a new `incarnation` is a new registration) and asks for
    /// metadata records from `metadata_offset` on.
    BrokerHeartbeat {
        broker: BrokerId,
        incarnation: u32,
        metadata_offset: u64,
        want_shutdown: bool,
    },
    /// `leader` is the responder's idea of the active controller (a controller index); a controller that is not
    /// active answers `not_controller` and nothing else.
    BrokerHeartbeatResponse {
        fenced: bool,
        shutdown_now: bool,
        not_controller: bool,
        leader: Option<u32>,
    },
    Quorum(QuorumMsg),
    /// Metadata records from `from_offset` on, pushed by the controller or sent in answer to a heartbeat.
    MetadataUpdate {
        from_offset: u64,
        records: Rc<[MetadataRecord]>,
    },
    AlterPartition {
        broker: BrokerId,
        partition: PartitionId,
        leader_epoch: LeaderEpoch,
        partition_epoch: i32,
        new_isr: Vec<BrokerId>,
        /// KIP-903's NewIsrWithEpochs: each member's broker epoch as the leader knows it (`None` is -1: unchecked).
        broker_epochs: Vec<Option<BrokerEpoch>>,
    },
    AlterPartitionResponse {
        partition: PartitionId,
        result: Result<PartitionState, KafkaError>,
    },
    /// A processor stage hands what it processed to its producer (in the same process): each input record's key
    /// and identity; the producer answers `Forwarded` once everything it wrote for them is acknowledged (a flush).
    Forward {
        token: u64,
        inputs: Vec<(Option<u32>, u32, u64)>,
    },
    Forwarded {
        token: u64,
    },
    /// A consumer's request to a broker: group coordination, offsets, or a fetch.
    GroupRequest {
        correlation: u64,
        request: GroupRequest,
    },
    GroupResponse {
        correlation: u64,
        response: GroupResponse,
    },
    /// The sender's connections were closed (its process exited, or crashed while its OS stayed up so the
    /// kernel reset them): whatever was in flight to it will get no answer.
    ConnectionClosed,
}

/// What a member tells the coordinator when it joins (JoinGroupRequest's protocol metadata: the consumer's
/// subscription and, for cooperative rebalancing, what it owns now).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinMetadata {
    pub instance_id: Option<String>,
    pub session_timeout_us: u64,
    pub rebalance_timeout_us: u64,
    /// Assignor names in preference order.
    pub protocols: Vec<String>,
    /// Topic indexes.
    pub topics: Vec<TopicId>,
    pub owned: Vec<PartitionId>,
    pub owned_generation: i32,
}

/// One member as the coordinator reports it to the group leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinedMember {
    pub member_id: String,
    pub metadata: JoinMetadata,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinResult {
    pub generation: i32,
    pub member_id: String,
    pub leader: String,
    pub protocol: String,
    /// Every member, for the leader only (it runs the assignor); empty for the others.
    pub members: Vec<JoinedMember>,
}

#[derive(Clone, Debug)]
pub enum GroupRequest {
    FindCoordinator {
        group: GroupId,
    },
    /// An empty `member_id` asks for one (KIP-394: the coordinator answers MEMBER_ID_REQUIRED with it).
    JoinGroup {
        group: GroupId,
        member_id: String,
        metadata: JoinMetadata,
    },
    SyncGroup {
        group: GroupId,
        generation: i32,
        member_id: String,
        assignments: Vec<(String, Vec<PartitionId>)>,
    },
    Heartbeat {
        group: GroupId,
        generation: i32,
        member_id: String,
    },
    LeaveGroup {
        group: GroupId,
        member_id: String,
    },
    OffsetCommit {
        group: GroupId,
        generation: i32,
        member_id: String,
        offsets: Vec<(PartitionId, OffsetAndEpoch)>,
    },
    OffsetFetch {
        group: GroupId,
        partitions: Vec<PartitionId>,
    },
    /// ListOffsets for one partition: its log start, its end for consumers (the high watermark), or the first
    /// offset at or after a time.
    ListOffsets {
        partition: PartitionId,
        spec: OffsetSpec,
    },
    /// KIP-320's position validation: where the leader's log ends for `leader_epoch` (the epoch of the record
    /// before the consumer's position), asked with the consumer's `current_leader_epoch`.
    OffsetsForLeaderEpoch {
        partition: PartitionId,
        current_leader_epoch: LeaderEpoch,
        leader_epoch: LeaderEpoch,
    },
    /// A consumer's fetch from one leader (Fetcher.prepareFetchRequests: one per node), for every fetchable
    /// partition it leads: records from each offset, below the high watermark only.
    Fetch(ConsumerFetch),
}

/// What a consumer's Fetch asks of one broker (FetchRequest, read_uncommitted, without fetch sessions).
#[derive(Clone, Debug)]
pub struct ConsumerFetch {
    /// The partitions and the offset to read each from, in the order the broker reads them.
    pub partitions: Vec<(PartitionId, u64)>,
    /// `fetch.max.wait.ms`: how long the broker may hold the fetch for `min_bytes`.
    pub max_wait_us: u64,
    /// `fetch.min.bytes`: the broker holds the fetch until this much is readable over all its partitions (or
    /// the wait ends).
    pub min_bytes: u64,
    /// `fetch.max.bytes`: the most the whole response carries (the first batch goes in even when larger).
    pub max_bytes: u64,
    /// `max.partition.fetch.bytes`: the most read for one partition.
    pub partition_max_bytes: u64,
}

/// One partition of a consumer's fetch response: the offset it was read from and what was read.
#[derive(Clone, Debug)]
pub struct FetchedPartition {
    pub partition: PartitionId,
    pub offset: u64,
    pub result: Result<FetchedBatches, KafkaError>,
}

#[derive(Clone, Debug)]
pub enum GroupResponse {
    FindCoordinator {
        result: Result<BrokerId, KafkaError>,
    },
    /// On MEMBER_ID_REQUIRED, `member_id` is the id to join with.
    JoinGroup {
        result: Result<JoinResult, KafkaError>,
        member_id: String,
    },
    SyncGroup {
        result: Result<Vec<PartitionId>, KafkaError>,
    },
    Heartbeat {
        result: Result<(), KafkaError>,
    },
    LeaveGroup,
    OffsetCommit {
        offsets: Vec<(PartitionId, OffsetAndEpoch)>,
        result: Result<(), KafkaError>,
    },
    OffsetFetch {
        result: Result<Vec<(PartitionId, Option<OffsetAndEpoch>)>, KafkaError>,
    },
    /// The largest epoch ≤ the one asked for and where it ends; `None` when the leader has no such epoch
    /// (UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET).
    OffsetsForLeaderEpoch {
        partition: PartitionId,
        result: Result<Option<(LeaderEpoch, Offset)>, KafkaError>,
    },
    ListOffsets {
        partition: PartitionId,
        result: Result<u64, KafkaError>,
    },
    /// Every partition of the request, in its order.
    Fetch {
        partitions: Vec<FetchedPartition>,
    },
}

impl Msg {
    /// The message's Kafka API name and how its request and response pair, for the message log (`run
    /// --perfetto`'s requests in flight). Requests pair with their responses by correlation id where Kafka's
    /// protocol has one; a follower's fetch by its fetch id; an AlterPartition by its partition (the leader keeps
    /// one in flight per partition, Partition.pendingState); a broker heartbeat and each KRaft exchange by the
    /// pair of nodes (one in flight at a time: BrokerLifecycleManager, KafkaRaftClient).
    pub fn kind(&self) -> MessageKind {
        let request = |name, family, key| MessageKind { name, family, exchange: Exchange::Request { key } };
        let response = |name, family, key| MessageKind { name, family, exchange: Exchange::Response { key } };
        let one_way = |name| MessageKind { name, family: name, exchange: Exchange::OneWay };
        match self {
            Msg::MetadataRequest { correlation } => request("Metadata", "Metadata", *correlation),
            Msg::MetadataResponse { correlation, .. } => response("MetadataResponse", "Metadata", *correlation),
            Msg::Produce(r) => request("Produce", "Produce", r.correlation),
            Msg::ProduceResponse(r) => response("ProduceResponse", "Produce", r.correlation),
            Msg::Fetch(r) => request("Fetch", "Fetch", r.fetch_id),
            Msg::FetchResponse(r) => response("FetchResponse", "Fetch", r.fetch_id),
            Msg::BrokerHeartbeat { .. } => request("BrokerHeartbeat", "BrokerHeartbeat", 0),
            Msg::BrokerHeartbeatResponse { .. } => response("BrokerHeartbeatResponse", "BrokerHeartbeat", 0),
            Msg::Quorum(QuorumMsg::Vote { .. }) => request("Vote", "Vote", 0),
            Msg::Quorum(QuorumMsg::VoteResponse { .. }) => response("VoteResponse", "Vote", 0),
            Msg::Quorum(QuorumMsg::BeginQuorumEpoch { .. }) => one_way("BeginQuorumEpoch"),
            Msg::Quorum(QuorumMsg::Fetch { .. }) => request("Fetch (metadata quorum)", "QuorumFetch", 0),
            Msg::Quorum(QuorumMsg::FetchResponse { .. }) => {
                response("FetchResponse (metadata quorum)", "QuorumFetch", 0)
            }
            Msg::MetadataUpdate { .. } => one_way("MetadataUpdate"),
            Msg::AlterPartition { partition, .. } => {
                request("AlterPartition", "AlterPartition", u64::from(partition.0))
            }
            Msg::AlterPartitionResponse { partition, .. } => {
                response("AlterPartitionResponse", "AlterPartition", u64::from(partition.0))
            }
            Msg::Forward { token, .. } => request("Forward", "Forward", *token),
            Msg::Forwarded { token } => response("Forwarded", "Forward", *token),
            Msg::GroupRequest { correlation, request: r } => request(r.api_name(), "Group", *correlation),
            Msg::GroupResponse { correlation, .. } => response("GroupResponse", "Group", *correlation),
            Msg::ConnectionClosed => one_way("ConnectionClosed"),
        }
    }
}

impl GroupRequest {
    /// Kafka's API name for the request.
    pub fn api_name(&self) -> &'static str {
        match self {
            GroupRequest::FindCoordinator { .. } => "FindCoordinator",
            GroupRequest::JoinGroup { .. } => "JoinGroup",
            GroupRequest::SyncGroup { .. } => "SyncGroup",
            GroupRequest::Heartbeat { .. } => "Heartbeat",
            GroupRequest::LeaveGroup { .. } => "LeaveGroup",
            GroupRequest::OffsetCommit { .. } => "OffsetCommit",
            GroupRequest::OffsetFetch { .. } => "OffsetFetch",
            GroupRequest::ListOffsets { .. } => "ListOffsets",
            GroupRequest::OffsetsForLeaderEpoch { .. } => "OffsetsForLeaderEpoch",
            GroupRequest::Fetch(_) => "Fetch",
        }
    }
}
