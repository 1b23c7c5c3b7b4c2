//! Small typed identifiers: brokers, partitions, topics, groups, clients. State lives in vectors indexed by them.

use serde::Serialize;
use std::fmt;

/// A broker's `node.id` as Kafka numbers it (1, 2, 3…).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
pub struct BrokerId(pub u32);

/// A partition, numbered across the whole cluster (topic order, then partition number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
pub struct PartitionId(pub u32);

/// A producer (or other client) of the scenario, numbered from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
pub struct ClientId(pub u32);

/// A topic of the scenario, numbered from 0 in the order the scenario lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
pub struct TopicId(pub u32);

/// A consumer group of the scenario (or a group-less consumer's own name), numbered from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
pub struct GroupId(pub u32);

/// A leader epoch (Kafka's `leaderEpoch`), bumped by the controller on every leader change.
pub type LeaderEpoch = i32;

/// An offset in a partition's log.
pub type Offset = u64;

impl fmt::Display for BrokerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broker-{}", self.0)
    }
}

impl BrokerId {
    pub fn index(self) -> usize {
        self.0 as usize - 1
    }
}

impl PartitionId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl TopicId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl GroupId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl ClientId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
