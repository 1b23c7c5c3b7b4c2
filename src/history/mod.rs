//! What clients observed, and nothing else: each send invoked, acknowledged (with its offset) or failed (with
//! Kafka's error name), with simulated times. Serialisable, so a history recorded elsewhere can be checked too.

pub mod jepsen;

use serde::{Deserialize, Serialize};

/// The history format's version; bump it when a field changes meaning. Version 2 added send outcomes
/// (`definite`, `offset` on `send_failed`) and the events `poll_invoked`, `subscribed`, `seeked`,
/// `consumer_crashed`, `offsets_reset`.
pub const HISTORY_VERSION: u32 = 2;

/// The versions `insync check` reads: 1 is read as 2 without the events 2 added, its failures indeterminate.
pub const HISTORY_VERSIONS_READ: std::ops::RangeInclusive<u32> = 1..=HISTORY_VERSION;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    /// `producer.send()` was called for the record `send_seq` of `producer`, bound for `partition`.
    SendInvoked { producer: u32, send_seq: u64, key: Option<u32>, partition: u32 },
    /// The send's callback reported success; `offset` is absent with acks=0 (the producer never learns it).
    SendAcked { producer: u32, send_seq: u64, partition: u32, offset: Option<u64> },
    /// The send's callback reported a final failure (Kafka's error name). `definite`: the record cannot be in the
    /// log (Jepsen's `:fail`: no attempt of its batch could have been appended); otherwise the outcome is
    /// indeterminate (`:info`: a timeout or a lost connection after a request went out). Version 1 has no
    /// `definite`: its failures read as indeterminate. `offset`: where an indeterminate send turned out to be, if
    /// the recorder learned it.
    SendFailed {
        producer: u32,
        send_seq: u64,
        partition: u32,
        error: String,
        #[serde(default)]
        definite: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset: Option<u64>,
    },
    /// A consumer sends JoinGroup: a rebalance starts for it (its `member_id` is empty on a first join).
    Joining { consumer: u32, group: u32, member_id: String },
    /// A consumer's new assignment after a rebalance (onPartitionsAssigned), at `generation`.
    Assigned { consumer: u32, group: u32, generation: i32, partitions: Vec<u32> },
    /// Partitions taken from a consumer before a rebalance (onPartitionsRevoked) or lost with its membership.
    Revoked { consumer: u32, group: u32, partitions: Vec<u32> },
    /// A consumer left its group (`reason` says why: max.poll.interval.ms, close).
    LeftGroup { consumer: u32, group: u32, reason: String },
    /// `poll()` moved past `count` offsets of `partition` from `first_offset`: the records it returned, and any it
    /// filtered out (another channel) or skipped (undeserializable) among them.
    Polled { consumer: u32, group: u32, generation: i32, partition: u32, first_offset: u64, count: u32 },
    /// The application finished processing one record.
    Processed { consumer: u32, group: u32, generation: i32, partition: u32, offset: u64, producer: u32, send_seq: u64 },
    /// The application met a record it cannot deserialize: it skipped it, or died on it (`skipped` false).
    Poisoned { consumer: u32, group: u32, partition: u32, offset: u64, producer: u32, send_seq: u64, skipped: bool },
    /// A processor stage wrote `send_seq` of `producer` for the input record (`from_producer`, `from_send_seq`).
    Derived { producer: u32, send_seq: u64, from_producer: u32, from_send_seq: u64 },
    /// A fetch position was out of range (retention deleted it, or the log was truncated below it).
    OffsetOutOfRange { consumer: u32, group: u32, partition: u32, offset: u64 },
    /// KIP-320: validating its position `offset` after a leader change, the consumer found the log truncated
    /// below it — at `divergent_offset`, or at an unknown point (the leader has no such epoch). With
    /// `auto.offset.reset = none` the poll fails (`error`: LogTruncationException) and the partition stops.
    TruncationDetected {
        consumer: u32,
        group: u32,
        partition: u32,
        offset: u64,
        divergent_offset: Option<u64>,
        error: Option<String>,
    },
    /// `auto.offset.reset` (or a reset after OFFSET_OUT_OF_RANGE) moved a position to `offset`.
    PositionReset { consumer: u32, group: u32, partition: u32, offset: u64 },
    /// An offset commit's outcome for one partition: `error` is absent when it succeeded.
    Committed { consumer: u32, group: u32, generation: i32, partition: u32, offset: u64, error: Option<String> },
    /// One produce attempt of a batch failed and the batch will be retried (or failed, see SendFailed).
    ProduceAttemptFailed { producer: u32, partition: u32, first_send_seq: u64, records: u32, error: String },
    // New variants go last: the trace digest hashes each event's discriminant (its place here).
    /// The application read a record not meant for it (another channel of a stage's output) and passed it over
    /// unprocessed.
    Filtered { consumer: u32, group: u32, partition: u32, offset: u64, producer: u32, send_seq: u64 },
    /// `poll()` was called (version 2): what the consumer reads after it up to its next call is that poll's.
    PollInvoked { consumer: u32, group: u32 },
    /// `subscribe()` to `topics` (version 2): the group is owed every partition of them.
    Subscribed { consumer: u32, group: u32, topics: Vec<String> },
    /// The application's `seek()` moved a position to `offset` (version 2; the simulator writes its seeks as
    /// `position_reset`).
    Seeked { consumer: u32, group: u32, partition: u32, offset: u64 },
    /// The consumer's process died (version 2): its positions and any poll in hand are gone.
    ConsumerCrashed { consumer: u32, group: u32 },
    /// An operator's reset-offsets (`kafka-consumer-groups --reset-offsets --execute`) committed `offset` for the
    /// group's `partition` (version 2): the group's next owner of it starts there.
    OffsetsReset { group: u32, partition: u32, offset: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Entry {
    pub time_us: u64,
    #[serde(flatten)]
    pub event: ClientEvent,
}

/// A run's client history with the names needed to read it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct History {
    pub version: u32,
    /// Partition names (`orders-0`), indexed by the numbers events use.
    pub partitions: Vec<String>,
    /// Producer names, indexed by the numbers events use.
    pub producers: Vec<String>,
    /// Consumer names and group names, indexed by the numbers events use.
    #[serde(default)]
    pub consumers: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub entries: Vec<Entry>,
}

impl History {
    pub fn new(partitions: Vec<String>, producers: Vec<String>) -> Self {
        History {
            version: HISTORY_VERSION,
            partitions,
            producers,
            consumers: Vec::new(),
            groups: Vec::new(),
            entries: Vec::new(),
        }
    }

    pub fn push(&mut self, time_us: u64, event: ClientEvent) {
        self.entries.push(Entry { time_us, event });
    }
}

/// One partition's log at the end of a run as `(producer, send_seq)` per offset, from its start offset: the white-box
/// view some checks use. Histories recorded from a real cluster may not have it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FinalLog {
    pub partition: u32,
    /// The log start offset: `records[0]` is at this offset (retention deletes the records before it).
    #[serde(default)]
    pub start_offset: u64,
    pub records: Vec<(u32, u64)>,
}

/// One replica of a partition at the end of a run, for `divergence`: its records as `(producer, send_seq)` from
/// `start_offset`, and its own high watermark. Histories recorded from a real cluster do not have it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReplicaLog {
    pub partition: u32,
    /// The broker holding the replica.
    pub replica: String,
    pub start_offset: u64,
    pub records: Vec<(u32, u64)>,
    pub high_watermark: u64,
}
