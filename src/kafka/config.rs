//! Typed configuration under Kafka's property names, with Kafka's defaults (3.x/4.x unless the field says otherwise).
//! Times are kept in microseconds internally; the property names keep Kafka's `.ms` spelling in scenario files.

use super::assignor::Assignor;
use super::backoff::ExponentialBackoff;
use crate::engine::time::US_PER_MS;

/// `acks` (ProducerConfig): how many replicas must have a record before the leader answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub enum Acks {
    /// `acks=0`: no response at all.
    None,
    /// `acks=1`: the leader's own append.
    Leader,
    /// `acks=all` (-1): the whole ISR, subject to `min.insync.replicas`.
    All,
}

impl Acks {
    /// The value as ProducerConfig writes it.
    pub fn name(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

/// How a replica that becomes a follower finds the point where its log may diverge from the leader's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub enum TruncationMode {
    /// Leader epochs (KIP-101, KIP-279, KIP-320; truncate-on-fetch since 2.8): truncate only what diverges.
    LeaderEpoch,
    /// Before 0.11: a new follower truncates to its own high watermark, then fetches. Loses committed data
    /// in the cases KIP-101 describes.
    HighWatermark,
    /// KIP-101 as first shipped (0.11 – 1.1, before KIP-279): a new follower asks once for its latest epoch's end
    /// (the start of the leader's next epoch, no epoch in the answer) and truncates to it, without refinement;
    /// a new leader puts its epoch in the cache only with its first append (before KAFKA-7415).
    LeaderEpochV0,
}

/// Broker settings (KafkaConfig) that the model uses, plus the model's historical-mode switches.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct BrokerConfig {
    /// `replica.lag.time.max.ms`, 30000 since 2.5 (KIP-537).
    pub replica_lag_time_max_us: u64,
    /// `replica.fetch.wait.max.ms`, 500.
    pub replica_fetch_wait_max_us: u64,
    /// `replica.fetch.max.bytes`, 1048576: the most a follower fetch returns per partition.
    pub replica_fetch_max_bytes: u64,
    /// `replica.socket.timeout.ms`, 30000: a follower's fetch that gets no answer is sent again after this.
    pub replica_socket_timeout_us: u64,
    /// `replica.high.watermark.checkpoint.interval.ms`, 5000.
    pub replica_high_watermark_checkpoint_interval_us: u64,
    /// `broker.heartbeat.interval.ms`, 2000.
    pub broker_heartbeat_interval_us: u64,
    /// `broker.session.timeout.ms`, 9000.
    pub broker_session_timeout_us: u64,
    /// `log.retention.check.interval.ms`, 300000.
    pub log_retention_check_interval_us: u64,
    /// `log.flush.interval.messages`, Long.MAX_VALUE: Kafka leaves flushing to the OS page cache.
    pub log_flush_interval_messages: u64,
    /// Linux's vm.dirty_expire_centisecs (30 s): dirty pages older than this are written back by the OS
    /// (checked every vm.dirty_writeback_centisecs, 5 s), so a power loss loses only the newer tail.
    pub dirty_expire_us: u64,
    /// `default.replication.factor`, 1: a topic's replication factor when it names none.
    pub default_replication_factor: u32,
    /// The default `min.insync.replicas` for topics, 1.
    pub min_insync_replicas: u32,
    /// The default `unclean.leader.election.enable` for topics, false since 0.11 (KIP-106).
    pub unclean_leader_election_enable: bool,
    /// Model switch: how followers truncate (historical mode: `high-watermark`, before 0.11).
    pub truncation: TruncationMode,
    /// Model switch: KAFKA-15583 (3.7+): the high watermark does not advance while the ISR is below min ISR.
    pub hw_frozen_under_min_isr: bool,
    /// KIP-903 (3.5+): fetches and AlterPartition carry broker epochs, and a stale one keeps a replica out of
    /// the ISR (`[model] alter_partition_broker_epoch`).
    pub alter_partition_broker_epoch: bool,
    /// KAFKA-7164's fix (2.0.1+): a follower told of a new leader epoch becomes follower again (and truncates)
    /// even when the leader is the same broker (`[model] follower_truncates_on_epoch_change`).
    pub follower_truncates_on_epoch_change: bool,
    /// When a follower may join the ISR (`[model] isr_join_checks_epoch_start`, KAFKA-7128).
    pub in_sync_rule: super::partition::InSyncRule,
    /// `auto.leader.rebalance.enable`, true: the controller moves leadership back to preferred replicas.
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds`, 300.
    pub leader_imbalance_check_interval_us: u64,
    /// `leader.imbalance.per.broker.percentage`, 10. Accepted for compatibility: the KRaft controller
    /// (ReplicationControlManager.maybeBalancePartitionLeaders) balances every imbalanced partition regardless.
    pub leader_imbalance_per_broker_percentage: u32,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            replica_lag_time_max_us: 30_000 * US_PER_MS,
            replica_fetch_wait_max_us: 500 * US_PER_MS,
            replica_fetch_max_bytes: 1_048_576,
            replica_socket_timeout_us: 30_000 * US_PER_MS,
            replica_high_watermark_checkpoint_interval_us: 5_000 * US_PER_MS,
            broker_heartbeat_interval_us: 2_000 * US_PER_MS,
            broker_session_timeout_us: 9_000 * US_PER_MS,
            log_retention_check_interval_us: 300_000 * US_PER_MS,
            log_flush_interval_messages: u64::MAX,
            dirty_expire_us: 30_000 * US_PER_MS,
            default_replication_factor: 1,
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
            truncation: TruncationMode::LeaderEpoch,
            hw_frozen_under_min_isr: true,
            alter_partition_broker_epoch: true,
            in_sync_rule: super::partition::InSyncRule::HighWatermarkAndEpochStart,
            follower_truncates_on_epoch_change: true,
            auto_leader_rebalance_enable: true,
            leader_imbalance_check_interval_us: 300_000 * US_PER_MS,
            leader_imbalance_per_broker_percentage: 10,
        }
    }
}

/// A topic and its per-topic overrides.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct TopicConfig {
    pub name: String,
    pub partitions: u32,
    pub replication_factor: u32,
    /// `min.insync.replicas` for this topic (the broker default when absent).
    pub min_insync_replicas: u32,
    /// `unclean.leader.election.enable` for this topic.
    pub unclean_leader_election_enable: bool,
    /// `retention.ms` (7 days by default; `None` is -1, unlimited).
    pub retention_us: Option<u64>,
    /// `retention.bytes` (-1 by default: unlimited).
    pub retention_bytes: Option<u64>,
}

impl TopicConfig {
    /// Kafka uses min(min.insync.replicas, replication factor) (Partition.effectiveMinIsr, 3.7+).
    pub fn effective_min_isr(&self) -> usize {
        self.min_insync_replicas.min(self.replication_factor) as usize
    }
}

/// Producer settings (ProducerConfig).
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ProducerConfig {
    /// `acks`, `all` since 3.0 (KIP-679); `1` before.
    pub acks: Acks,
    /// `enable.idempotence`, true since 3.0 (KIP-679).
    pub enable_idempotence: bool,
    /// `retries`, Integer.MAX_VALUE since 2.1 (KIP-91).
    pub retries: u32,
    /// `delivery.timeout.ms`, 120000.
    pub delivery_timeout_us: u64,
    /// `request.timeout.ms`, 30000.
    pub request_timeout_us: u64,
    /// `linger.ms`, 5 in 4.x (KIP-1030), 0 before.
    pub linger_us: u64,
    /// `batch.size`, 16384 bytes.
    pub batch_size: u64,
    /// `max.in.flight.requests.per.connection`, 5.
    pub max_in_flight_requests_per_connection: u32,
    /// `max.request.size`, 1048576 bytes: a Produce request drains batches up to it (but always its first).
    pub max_request_size: u64,
    /// `retry.backoff.ms`, 100.
    pub retry_backoff_us: u64,
    /// `retry.backoff.max.ms`, 1000 (KIP-580): retries back off exponentially up to it.
    pub retry_backoff_max_us: u64,
    /// `metadata.max.age.ms`, 300000.
    pub metadata_max_age_us: u64,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            enable_idempotence: true,
            retries: i32::MAX as u32,
            delivery_timeout_us: 120_000 * US_PER_MS,
            request_timeout_us: 30_000 * US_PER_MS,
            linger_us: 5 * US_PER_MS,
            batch_size: 16_384,
            max_in_flight_requests_per_connection: 5,
            max_request_size: 1_048_576,
            retry_backoff_us: 100 * US_PER_MS,
            retry_backoff_max_us: 1_000 * US_PER_MS,
            metadata_max_age_us: 300_000 * US_PER_MS,
        }
    }
}

impl ProducerConfig {
    /// `retry.backoff.ms` → `retry.backoff.max.ms` (KIP-580).
    pub fn retry_backoff(&self) -> ExponentialBackoff {
        ExponentialBackoff::new(self.retry_backoff_us, self.retry_backoff_max_us)
    }

    /// The defaults of Kafka 2.x clients, before KIP-679: acks=1, no idempotence, linger.ms=0.
    pub fn pre_3_0() -> Self {
        ProducerConfig { acks: Acks::Leader, enable_idempotence: false, linger_us: 0, ..Self::default() }
    }
}

/// `auto.offset.reset` (ConsumerConfig): where a group with no committed offset starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub enum OffsetReset {
    Earliest,
    /// The default: only records produced after the consumer starts.
    Latest,
    /// Fail (NoOffsetForPartitionException): the model stops consuming that partition.
    None,
}

/// When a consumer commits what it consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub enum CommitStrategy {
    /// `enable.auto.commit=true`: each poll commits what the previous polls returned once
    /// `auto.commit.interval.ms` has passed, and before a rebalance and on close (ConsumerCoordinator).
    Auto,
    /// `commitSync`/`commitAsync` after processing, per record or per poll batch.
    AfterProcessing { sync: bool, per_record: bool },
    /// Commit what a poll returned before processing it (at-most-once).
    BeforeProcessing,
    /// `enable.auto.commit=false` and no commits: positions come from `seek` or `auto.offset.reset` each time.
    Never,
    /// Self-managed offsets: the application stores each batch's results and the offsets after it in its own
    /// database, in one transaction, and on (re)assignment seeks to the stored offsets; nothing is committed to
    /// Kafka. A crash mid-batch rolls the batch back, so each record's processing takes effect once (Kafka's
    /// docs, "Storing Offsets Outside Kafka" in KafkaConsumer's javadoc).
    WithState,
}

impl CommitStrategy {
    pub const ALL: [CommitStrategy; 8] = [
        CommitStrategy::Auto,
        CommitStrategy::AfterProcessing { sync: true, per_record: false },
        CommitStrategy::AfterProcessing { sync: false, per_record: false },
        CommitStrategy::AfterProcessing { sync: true, per_record: true },
        CommitStrategy::AfterProcessing { sync: false, per_record: true },
        CommitStrategy::BeforeProcessing,
        CommitStrategy::Never,
        CommitStrategy::WithState,
    ];

    /// The strategy a scenario file's `commit` value names; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The scenario file's `commit` value for it.
    pub fn name(self) -> &'static str {
        match self {
            CommitStrategy::Auto => "auto",
            CommitStrategy::AfterProcessing { sync: true, per_record: false } => "sync-after-batch",
            CommitStrategy::AfterProcessing { sync: false, per_record: false } => "async-after-batch",
            CommitStrategy::AfterProcessing { sync: true, per_record: true } => "sync-after-each",
            CommitStrategy::AfterProcessing { sync: false, per_record: true } => "async-after-each",
            CommitStrategy::BeforeProcessing => "before-processing",
            CommitStrategy::Never => "none",
            CommitStrategy::WithState => "with-state",
        }
    }
}

/// Consumer settings (ConsumerConfig) plus how the application commits and how long it works per record.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ConsumerConfig {
    /// `group.instance.id` (KIP-345): static membership. Recorded; the model treats members as dynamic.
    pub group_instance_id: Option<String>,
    pub commit: CommitStrategy,
    /// `auto.commit.interval.ms`, 5000.
    pub auto_commit_interval_us: u64,
    /// `auto.offset.reset`, latest.
    pub auto_offset_reset: OffsetReset,
    /// `max.poll.records`, 500.
    pub max_poll_records: u32,
    /// `fetch.max.wait.ms`, 500.
    pub fetch_max_wait_us: u64,
    /// `fetch.min.bytes`, 1.
    pub fetch_min_bytes: u64,
    /// `fetch.max.bytes`, 52428800: the most one fetch response carries, over all its partitions.
    pub fetch_max_bytes: u64,
    /// `max.partition.fetch.bytes`, 1048576: the most one fetch reads for one partition.
    pub max_partition_fetch_bytes: u64,
    /// `heartbeat.interval.ms`, 3000.
    pub heartbeat_interval_us: u64,
    /// `session.timeout.ms`, 45000 since 3.0 (KIP-735).
    pub session_timeout_us: u64,
    /// `max.poll.interval.ms`, 300000; also the rebalance timeout the consumer sends in JoinGroup.
    pub max_poll_interval_us: u64,
    /// `partition.assignment.strategy`, [range, cooperative-sticky]: the first every member supports wins.
    pub assignors: Vec<Assignor>,
    /// `request.timeout.ms`, 30000.
    pub request_timeout_us: u64,
    /// `retry.backoff.ms`, 100.
    pub retry_backoff_us: u64,
    /// `retry.backoff.max.ms`, 1000 (KIP-580).
    pub retry_backoff_max_us: u64,
    /// KIP-320 (Kafka 2.1+): positions and commits carry leader epochs, and a position is validated with
    /// OffsetsForLeaderEpoch after a leader change (`[model] consumer_truncation_detection`).
    pub truncation_detection: bool,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            group_instance_id: None,
            commit: CommitStrategy::Auto,
            auto_commit_interval_us: 5_000 * US_PER_MS,
            auto_offset_reset: OffsetReset::Latest,
            max_poll_records: 500,
            fetch_max_wait_us: 500 * US_PER_MS,
            fetch_min_bytes: 1,
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            heartbeat_interval_us: 3_000 * US_PER_MS,
            session_timeout_us: 45_000 * US_PER_MS,
            max_poll_interval_us: 300_000 * US_PER_MS,
            assignors: vec![Assignor::Range, Assignor::CooperativeSticky],
            request_timeout_us: 30_000 * US_PER_MS,
            retry_backoff_us: 100 * US_PER_MS,
            retry_backoff_max_us: 1_000 * US_PER_MS,
            truncation_detection: true,
        }
    }
}

impl ConsumerConfig {
    /// `retry.backoff.ms` → `retry.backoff.max.ms` (KIP-580).
    pub fn retry_backoff(&self) -> ExponentialBackoff {
        ExponentialBackoff::new(self.retry_backoff_us, self.retry_backoff_max_us)
    }
}

/// Group coordinator settings (GroupCoordinatorConfig) and the offsets topic.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`, 3000: an empty group's first rebalance waits for more members.
    pub initial_rebalance_delay_us: u64,
    /// `offsets.topic.num.partitions`, 50.
    pub offsets_topic_partitions: u32,
    /// `offsets.topic.replication.factor`, 3 (capped at the number of brokers).
    pub offsets_topic_replication_factor: u32,
    /// `offsets.retention.minutes`, 10080 (7 days, KIP-186).
    pub offsets_retention_us: u64,
    /// `offsets.retention.check.interval.ms`, 600000.
    pub offsets_retention_check_interval_us: u64,
    /// KAFKA-13636's bug (`[model] offsets_expire_while_rebalancing`): a rebalancing group's offsets expire.
    pub offsets_expire_while_rebalancing: bool,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay_us: 3_000 * US_PER_MS,
            offsets_topic_partitions: 50,
            offsets_topic_replication_factor: 3,
            offsets_retention_us: 10_080 * 60_000 * US_PER_MS,
            offsets_retention_check_interval_us: 600_000 * US_PER_MS,
            offsets_expire_while_rebalancing: false,
        }
    }
}
