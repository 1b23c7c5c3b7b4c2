//! What Kafka nodes report as they run: client observations (the history) and cluster events (elections, ISR
//! changes, truncations), which make up the trace.

use super::ids::{BrokerId, LeaderEpoch, Offset, PartitionId};
use super::messages::ChangeReason;
use crate::history::ClientEvent;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Obs {
    Client(ClientEvent),
    /// The controller committed a new leader (or none) for a partition.
    LeaderElected {
        partition: PartitionId,
        leader: Option<BrokerId>,
        leader_epoch: LeaderEpoch,
        isr: Vec<BrokerId>,
        unclean: bool,
        reason: ChangeReason,
    },
    /// KIP-704: the uncleanly elected leader's first ISR change marked the partition RECOVERED.
    LeaderRecovered {
        partition: PartitionId,
        leader_epoch: LeaderEpoch,
    },
    /// The controller committed an ISR change that kept the leader.
    IsrChanged {
        partition: PartitionId,
        leader_epoch: LeaderEpoch,
        isr: Vec<BrokerId>,
        reason: ChangeReason,
    },
    BrokerFenced {
        broker: BrokerId,
    },
    /// This controller won the metadata quorum's election for `epoch` and is now the active controller.
    ControllerElected {
        epoch: i32,
    },
    /// This controller stopped being the active one (a higher epoch, or it lost touch with the majority).
    ControllerResigned {
        epoch: i32,
    },
    BrokerUnfenced {
        broker: BrokerId,
    },
    /// A replica removed offsets `to_offset..from_offset` from its log.
    Truncated {
        broker: BrokerId,
        partition: PartitionId,
        from_offset: Offset,
        to_offset: Offset,
        reason: &'static str,
    },
    /// A truncation removed no offsets but took entries off the end of the replica's leader-epoch cache (an
    /// epoch this broker led without appending anything, UnifiedLog.truncateTo).
    EpochCacheTrimmed {
        broker: BrokerId,
        partition: PartitionId,
        log_end_offset: Offset,
        entries_removed: usize,
    },
    /// A group coordinator moved a group to a new state (a rebalance began, its join phase ended, or it completed).
    GroupRebalance {
        group: String,
        generation: i32,
        state: &'static str,
        members: usize,
    },
    /// The coordinator's retention check removed `partitions` committed offsets of `group` (tombstones written).
    OffsetsExpired {
        group: String,
        partitions: u32,
    },
    /// Retention deleted the start of a replica's log: offsets below `log_start_offset` are gone.
    LogStartMoved {
        broker: BrokerId,
        partition: PartitionId,
        log_start_offset: Offset,
    },
    /// A broker finished its controlled shutdown and stops.
    ShutdownComplete {
        broker: BrokerId,
    },
    /// A response arrived after the node stopped waiting for it (it timed out, or leadership or the node's
    /// incarnation moved on) and was dropped, as Kafka's NetworkClient drops a response whose request is gone.
    StaleDelivery {
        message: StaleMessage,
    },
}

/// The kinds of response a node may receive after it gave up on the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaleMessage {
    MetadataResponse,
    ProduceResponse,
    FetchResponse,
    AlterPartitionResponse,
    GroupResponse,
}
