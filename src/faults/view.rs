//! The running cluster as the conditions of state triggers read it: the controller's committed metadata, the
//! brokers' replicas, and what the recorder has observed of clients and coordinators.

use super::trigger::{BrokerSet, Observed, StateView};
use crate::kafka::cluster::Cluster;
use crate::kafka::ids::{BrokerId, PartitionId};

pub struct ClusterView<'a> {
    pub cluster: &'a Cluster,
    pub observed: &'a Observed,
}

impl StateView for ClusterView<'_> {
    fn leader(&self, p: PartitionId) -> Option<BrokerId> {
        self.cluster.leader_of(p)
    }
    fn isr(&self, p: PartitionId) -> BrokerSet {
        BrokerSet::of(self.cluster.committed_isr(p))
    }
    fn high_watermark(&self, p: PartitionId) -> Option<u64> {
        self.cluster.high_watermark_of(p)
    }
    fn log_end(&self, p: PartitionId, b: BrokerId) -> Option<u64> {
        self.cluster.log_end_on(p, b)
    }
    fn fetched(&self, p: PartitionId, b: BrokerId) -> Option<u64> {
        self.cluster.fetch_offset_of(p, b)
    }
    fn active_controller(&self) -> Option<u32> {
        self.cluster.active_controller()
    }
    fn observed(&self) -> &Observed {
        self.observed
    }
}
