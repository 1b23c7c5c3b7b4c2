//! The static shape of a simulated cluster: configs, topics, replica assignment and which engine node is which.
//! Every node reads it (as every real process reads its own config files); nothing in it changes during a run.

use super::config::{BrokerConfig, ProducerConfig, TopicConfig};
use super::ids::{BrokerId, ClientId, PartitionId};
use crate::engine::NodeId;

/// One partition: its topic (an index into `topics`), its number in the topic, its replica assignment.
#[derive(Clone, Debug)]
pub struct PartitionSpec {
    pub topic: usize,
    pub number: u32,
    pub replicas: Vec<BrokerId>,
}

/// What a producer sends (the workload) and how (its config).
#[derive(Clone, Debug)]
pub struct ProducerSpec {
    pub name: String,
    pub topic: usize,
    pub config: ProducerConfig,
    /// Records per second while producing.
    pub rate_per_s: u64,
    /// Stop after this many records (if set).
    pub max_records: Option<u64>,
    pub start_us: u64,
    pub stop_us: u64,
    /// Keys are drawn uniformly from `0..key_space`; `None` sends null keys.
    pub key_space: Option<u32>,
    pub record_size_bytes: u32,
}

#[derive(Clone, Debug)]
pub struct ClusterSpec {
    pub broker_config: BrokerConfig,
    pub broker_count: u32,
    /// Controllers in the KRaft quorum (1, 3 or 5 in practice).
    pub controller_count: u32,
    pub topics: Vec<TopicConfig>,
    pub partitions: Vec<PartitionSpec>,
    pub producers: Vec<ProducerSpec>,
}

/// What a node of the engine is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRole {
    Broker(BrokerId),
    /// A controller, by its index in the quorum (0-based; named controller-1, controller-2…).
    Controller(u32),
    Producer(ClientId),
}

impl ClusterSpec {
    // Node numbering: brokers first (node i is broker-(i+1)), then the controllers, then producers.
    pub fn broker_node(&self, broker: BrokerId) -> NodeId {
        NodeId(broker.0 - 1)
    }

    pub fn controller_node(&self, index: u32) -> NodeId {
        NodeId(self.broker_count + index)
    }

    pub fn producer_node(&self, client: ClientId) -> NodeId {
        NodeId(self.broker_count + self.controller_count + client.0)
    }

    pub fn node_count(&self) -> u32 {
        self.broker_count + self.controller_count + self.producers.len() as u32
    }

    pub fn role_of(&self, node: NodeId) -> NodeRole {
        match node.0 {
            n if n < self.broker_count => NodeRole::Broker(BrokerId(n + 1)),
            n if n < self.broker_count + self.controller_count => NodeRole::Controller(n - self.broker_count),
            n => NodeRole::Producer(ClientId(n - self.broker_count - self.controller_count)),
        }
    }

    pub fn node_name(&self, node: NodeId) -> String {
        match self.role_of(node) {
            NodeRole::Broker(b) => b.to_string(),
            NodeRole::Controller(i) => format!("controller-{}", i + 1),
            NodeRole::Producer(c) => self.producers[c.index()].name.clone(),
        }
    }

    pub fn brokers(&self) -> impl Iterator<Item = BrokerId> + use<> {
        (1..=self.broker_count).map(BrokerId)
    }

    pub fn partition(&self, p: PartitionId) -> &PartitionSpec {
        &self.partitions[p.index()]
    }

    pub fn topic_of(&self, p: PartitionId) -> &TopicConfig {
        &self.topics[self.partitions[p.index()].topic]
    }

    /// Kafka's name for a partition: `orders-0`.
    pub fn partition_name(&self, p: PartitionId) -> String {
        let spec = self.partition(p);
        format!("{}-{}", self.topics[spec.topic].name, spec.number)
    }

    pub fn find_partition(&self, name: &str) -> Option<PartitionId> {
        (0..self.partitions.len() as u32).map(PartitionId).find(|&p| self.partition_name(p) == name)
    }

    /// The partitions of topic `topic`, in partition-number order.
    pub fn topic_partitions(&self, topic: usize) -> impl Iterator<Item = PartitionId> + '_ {
        (0..self.partitions.len() as u32).map(PartitionId).filter(move |p| self.partitions[p.index()].topic == topic)
    }
}

/// Kafka's replica assignment without racks (AdminUtils.assignReplicasToBrokersRackUnaware): leaders round robin
/// from `start_index`, followers shifted by a per-round shift so that replica sets differ. The model fixes both
/// the start index and the first shift at 0 so that a scenario's leaders are predictable.
pub fn assign_replicas(broker_count: u32, partitions: u32, replication_factor: u32) -> Vec<Vec<BrokerId>> {
    let n = broker_count as usize;
    let mut shift = 0usize;
    (0..partitions as usize)
        .map(|i| {
            if i > 0 && i % n == 0 {
                shift += 1;
            }
            let first = i % n;
            let followers = (0..replication_factor as usize - 1).map(|j| (first + 1 + (shift + j) % (n - 1)) % n);
            std::iter::once(first).chain(followers).map(|b| BrokerId(b as u32 + 1)).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The expected assignment is AdminZkClientTest.testReplicaAssignment's (brokers 0-4, 10 partitions, RF 3,
    // fixed start index 0), with broker ids shifted by one because the model numbers brokers from 1.
    #[test]
    fn replica_assignment_matches_kafka() {
        let expected: [[u32; 3]; 10] = [
            [0, 1, 2],
            [1, 2, 3],
            [2, 3, 4],
            [3, 4, 0],
            [4, 0, 1],
            [0, 2, 3],
            [1, 3, 4],
            [2, 4, 0],
            [3, 0, 1],
            [4, 1, 2],
        ];
        let got = assign_replicas(5, 10, 3);
        for (p, replicas) in expected.iter().enumerate() {
            let want: Vec<BrokerId> = replicas.iter().map(|&b| BrokerId(b + 1)).collect();
            assert_eq!(got[p], want, "partition {p}");
        }
    }
}
