//! What clients observed, and nothing else: each send invoked, acknowledged (with its offset) or failed (with
//! Kafka's error name), with simulated times. Serialisable, so a history recorded elsewhere can be checked too.

use serde::{Deserialize, Serialize};

/// The history format's version; bump it when a field changes meaning.
pub const HISTORY_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    /// `producer.send()` was called for the record `send_seq` of `producer`, bound for `partition`.
    SendInvoked { producer: u32, send_seq: u64, key: Option<u32>, partition: u32 },
    /// The send's callback reported success; `offset` is absent with acks=0 (the producer never learns it).
    SendAcked { producer: u32, send_seq: u64, partition: u32, offset: Option<u64> },
    /// The send's callback reported a final failure.
    SendFailed { producer: u32, send_seq: u64, partition: u32, error: String },
    /// One produce attempt of a batch failed and the batch will be retried (or failed, see SendFailed).
    ProduceAttemptFailed { producer: u32, partition: u32, first_send_seq: u64, records: u32, error: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub time_us: u64,
    #[serde(flatten)]
    pub event: ClientEvent,
}

/// A run's client history with the names needed to read it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct History {
    pub version: u32,
    /// Partition names (`orders-0`), indexed by the numbers events use.
    pub partitions: Vec<String>,
    /// Producer names, indexed by the numbers events use.
    pub producers: Vec<String>,
    pub entries: Vec<Entry>,
}

impl History {
    pub fn new(partitions: Vec<String>, producers: Vec<String>) -> Self {
        History { version: HISTORY_VERSION, partitions, producers, entries: Vec::new() }
    }

    pub fn push(&mut self, time_us: u64, event: ClientEvent) {
        self.entries.push(Entry { time_us, event });
    }
}

/// One partition's log at the end of a run as `(producer, send_seq)` per offset, from offset 0: the white-box
/// view some checks use. Histories recorded from a real cluster may not have it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalLog {
    pub partition: u32,
    pub records: Vec<(u32, u64)>,
}
