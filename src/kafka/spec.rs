//! The static shape of a simulated cluster: configs, topics, replica assignment and which engine node is which.
//! Every node reads it (as every real process reads its own config files); nothing in it changes during a run.

use super::config::{BrokerConfig, ConsumerConfig, GroupConfig, ProducerConfig, TopicConfig};
use super::ids::{BrokerId, ClientId, GroupId, PartitionId, TopicId};
use crate::engine::NodeId;

/// One partition: its topic (an index into `topics`), its number in the topic, its replica assignment.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct PartitionSpec {
    pub topic: TopicId,
    pub number: u32,
    pub replicas: Vec<BrokerId>,
}

/// What a producer sends (the workload) and how (its config).
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ProducerSpec {
    pub name: String,
    /// The topics each event is sent to, one record per topic (pattern C, topic per consumer); usually one.
    pub topics: Vec<TopicId>,
    pub config: ProducerConfig,
    /// Records per second while producing.
    pub rate_per_s: u64,
    /// Stop after this many events (if set): records, times the number of topics.
    pub max_records: Option<u64>,
    pub start_us: u64,
    pub stop_us: u64,
    /// Keys are drawn uniformly from `0..key_space`; `None` sends null keys.
    pub key_space: Option<u32>,
    /// Whether the key is the record key (it picks the partition). When false the key is an id carried in the
    /// value (an order id): the record key is null and the sticky partitioner places the record.
    pub partition_by_key: bool,
    pub record_size_bytes: u32,
    /// Every n-th record this producer sends cannot be deserialized by consumers (a poison pill).
    pub poison_every: Option<u64>,
    /// Set for a processor stage's producer: it sends what that consumer (by index) processed, `fan_out`
    /// records for each, instead of a workload of its own.
    pub driven_by: Option<u32>,
    /// How many records a stage writes for each record it processed (e.g. 2: an SMS and an EMAIL); the n-th of
    /// them is channel n.
    pub fan_out: u32,
    /// The types of the workload's records, with their weights (pattern D's event mix): each record's type is
    /// drawn deterministically from its producer and send number (`ClusterSpec::type_of`). Empty: untyped.
    pub types: Vec<(String, u32)>,
    /// A router stage's producer (pattern D): for an input record of producer `p` and type `t`, the index into
    /// `topics` it is written to, `route[p][t]`.
    pub route: Option<Vec<Vec<u32>>>,
}

/// SplitMix64's finalizer: a fixed, well-mixed hash of a 64-bit number.
fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A consumer: its group, what it subscribes to, how it commits, how long it works on each record.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ConsumerSpec {
    pub name: String,
    pub group: GroupId,
    /// The topics it subscribes to (with `assign`, the topics of the assigned partitions).
    pub topics: Vec<TopicId>,
    /// `assign()`: the partitions it reads, without group membership (manual assignment); `None` subscribes
    /// to `topics` through the group.
    pub assign: Option<Vec<PartitionId>>,
    /// No `group.id` (manual assignment only): no commits and no committed offsets; its events are reported
    /// under a group named after the consumer.
    pub without_group_id: bool,
    /// `seek`: where the application puts each assigned partition right after `assign()` (its startup code,
    /// run again after every restart); otherwise the committed offset, then `auto.offset.reset`.
    pub seek: Option<super::cluster::ResetTo>,
    pub config: ConsumerConfig,
    /// Processing time per record: drawn uniformly from `processing_time_us..=processing_time_max_us` with the
    /// consumer's own random stream (equal bounds: a fixed time).
    pub processing_time_us: u64,
    pub processing_time_max_us: u64,
    pub start_us: u64,
    /// What the application does with a record it cannot deserialize.
    pub on_poison: PoisonPolicy,
    /// A processor stage: the producer (in `producers`) that writes what this consumer processes.
    pub stage_producer: Option<ClientId>,
    /// Process only the records of this channel of a stage's output (others are filtered out unprocessed).
    pub channel: Option<u32>,
    /// How long the application's supervisor waits before restarting it after it died.
    pub restart_delay_us: u64,
}

impl ConsumerSpec {
    /// Whether the consumer reads partition `p` of `topic`: one it is assigned, or one of a topic it subscribes to.
    pub fn reads(&self, p: PartitionId, topic: TopicId) -> bool {
        match &self.assign {
            Some(partitions) => partitions.contains(&p),
            None => self.topics.contains(&topic),
        }
    }
}

/// What a consumer application does with a record it cannot deserialize.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub enum PoisonPolicy {
    /// Kafka's default: poll throws (RecordDeserializationException) at that record, the application dies, is
    /// restarted, resumes from the committed offset and hits the same record again.
    Fail,
    /// An ErrorHandlingDeserializer: the record comes back without a value and the application skips it.
    Skip,
}

/// The name of the internal topic that holds committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ClusterSpec {
    pub broker_config: BrokerConfig,
    pub broker_count: u32,
    /// Controllers in the KRaft quorum (1, 3 or 5 in practice).
    pub controller_count: u32,
    pub topics: Vec<TopicConfig>,
    pub partitions: Vec<PartitionSpec>,
    pub producers: Vec<ProducerSpec>,
    pub consumers: Vec<ConsumerSpec>,
    /// Consumer group names (`group.id`), indexed by consumers' `group`.
    pub groups: Vec<String>,
    pub group_config: GroupConfig,
}

/// What a node of the engine is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRole {
    Broker(BrokerId),
    /// A controller, by its index in the quorum (0-based; named controller-1, controller-2…).
    Controller(u32),
    Producer(ClientId),
    /// A consumer, by its index in `consumers`.
    Consumer(u32),
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

    pub fn consumer_node(&self, consumer: u32) -> NodeId {
        NodeId(self.broker_count + self.controller_count + self.producers.len() as u32 + consumer)
    }

    pub fn node_count(&self) -> u32 {
        self.broker_count + self.controller_count + (self.producers.len() + self.consumers.len()) as u32
    }

    /// The nodes `node` holds connections to, which see them close when it exits or crashes: a broker or a
    /// controller, every other node; a client, the brokers (clients reach the cluster only through them) and
    /// the other half of its processor stage (a consumer and the producer it drives).
    pub fn connection_peers(&self, node: NodeId) -> Vec<NodeId> {
        let stage_peer = match self.role_of(node) {
            NodeRole::Broker(_) | NodeRole::Controller(_) => {
                return (0..self.node_count()).filter(|&n| n != node.0).map(NodeId).collect();
            }
            NodeRole::Producer(c) => self.producers[c.index()].driven_by.map(|d| self.consumer_node(d)),
            NodeRole::Consumer(c) => self.consumers[c as usize].stage_producer.map(|p| self.producer_node(p)),
        };
        (0..self.broker_count).map(NodeId).chain(stage_peer).collect()
    }

    pub fn role_of(&self, node: NodeId) -> NodeRole {
        let producers_start = self.broker_count + self.controller_count;
        let consumers_start = producers_start + self.producers.len() as u32;
        match node.0 {
            n if n < self.broker_count => NodeRole::Broker(BrokerId(n + 1)),
            n if n < producers_start => NodeRole::Controller(n - self.broker_count),
            n if n < consumers_start => NodeRole::Producer(ClientId(n - producers_start)),
            n => NodeRole::Consumer(n - consumers_start),
        }
    }

    pub fn node_name(&self, node: NodeId) -> String {
        match self.role_of(node) {
            NodeRole::Broker(b) => b.to_string(),
            NodeRole::Controller(i) => format!("controller-{}", i + 1),
            NodeRole::Producer(c) => self.producers[c.index()].name.clone(),
            NodeRole::Consumer(c) => self.consumers[c as usize].name.clone(),
        }
    }

    /// A producer's or consumer's index among its kind (0 for brokers and controllers' own numbering aside).
    pub fn role_index(&self, node: NodeId) -> usize {
        match self.role_of(node) {
            NodeRole::Broker(b) => b.index(),
            NodeRole::Controller(i) | NodeRole::Consumer(i) => i as usize,
            NodeRole::Producer(c) => c.index(),
        }
    }

    /// The `__consumer_offsets` partition that holds `group`'s offsets, whose leader is the group's coordinator:
    /// abs(groupId.hashCode()) % offsets.topic.num.partitions (GroupCoordinator.partitionFor).
    pub fn offsets_partition_of(&self, group: GroupId) -> Option<PartitionId> {
        let topic = self.topics.iter().position(|t| t.name == OFFSETS_TOPIC)?;
        let count = self.topics[topic].partitions;
        let hash = java_string_hash(self.group_name(group));
        let index = if hash == i32::MIN { 0 } else { hash.unsigned_abs() } % count;
        self.topic_partitions(TopicId(topic as u32)).nth(index as usize)
    }

    /// The groups whose offsets live in `partition` (empty unless it is a `__consumer_offsets` partition).
    pub fn groups_in(&self, partition: PartitionId) -> impl Iterator<Item = GroupId> + '_ {
        self.group_ids().filter(move |&g| self.offsets_partition_of(g) == Some(partition))
    }

    pub fn group_ids(&self) -> impl Iterator<Item = GroupId> + use<> {
        (0..self.groups.len() as u32).map(GroupId)
    }

    pub fn find_group(&self, name: &str) -> Option<GroupId> {
        self.groups.iter().position(|g| g == name).map(|g| GroupId(g as u32))
    }

    pub fn find_topic(&self, name: &str) -> Option<TopicId> {
        self.topics.iter().position(|t| t.name == name).map(|t| TopicId(t as u32))
    }

    pub fn group_name(&self, group: GroupId) -> &str {
        &self.groups[group.index()]
    }

    pub fn topic(&self, topic: TopicId) -> &TopicConfig {
        &self.topics[topic.index()]
    }

    pub fn brokers(&self) -> impl Iterator<Item = BrokerId> + use<> {
        (1..=self.broker_count).map(BrokerId)
    }

    pub fn partition(&self, p: PartitionId) -> &PartitionSpec {
        &self.partitions[p.index()]
    }

    pub fn topic_of(&self, p: PartitionId) -> &TopicConfig {
        self.topic(self.partitions[p.index()].topic)
    }

    /// The channel of a record written by a processor stage (its place among the `fan_out` records written for
    /// one input); `None` for other producers' records.
    pub fn channel_of(&self, producer: ClientId, send_seq: u64) -> Option<u32> {
        let spec = self.producers.get(producer.index())?;
        spec.driven_by.map(|_| (send_seq % u64::from(spec.fan_out.max(1))) as u32)
    }

    /// The type (index into the producer's `types`) of `producer`'s `send_seq`-th record: drawn by weight from
    /// a hash of the two, so every node and the checker agree without carrying it; `None` if untyped.
    pub fn type_of(&self, producer: ClientId, send_seq: u64) -> Option<usize> {
        let types = &self.producers.get(producer.index())?.types;
        let total: u64 = types.iter().map(|(_, w)| u64::from(*w)).sum();
        if total == 0 {
            return None;
        }
        let mut pick = mix64((u64::from(producer.0) << 40) ^ send_seq) % total;
        for (i, (_, weight)) in types.iter().enumerate() {
            if pick < u64::from(*weight) {
                return Some(i);
            }
            pick -= u64::from(*weight);
        }
        unreachable!("the pick is below the total weight")
    }

    /// Whether `producer`'s `send_seq`-th record is a poison pill (its bytes are not what consumers expect).
    pub fn is_poison(&self, producer: ClientId, send_seq: u64) -> bool {
        let every = self.producers.get(producer.index()).and_then(|p| p.poison_every);
        every.is_some_and(|n| send_seq % n == n - 1)
    }

    /// Kafka's name for a partition: `orders-0`.
    pub fn partition_name(&self, p: PartitionId) -> String {
        let spec = self.partition(p);
        format!("{}-{}", self.topic(spec.topic).name, spec.number)
    }

    pub fn find_partition(&self, name: &str) -> Option<PartitionId> {
        (0..self.partitions.len() as u32).map(PartitionId).find(|&p| self.partition_name(p) == name)
    }

    /// The partitions of topic `topic`, in partition-number order.
    pub fn topic_partitions(&self, topic: TopicId) -> impl Iterator<Item = PartitionId> + '_ {
        (0..self.partitions.len() as u32).map(PartitionId).filter(move |p| self.partitions[p.index()].topic == topic)
    }
}

/// Java's String.hashCode (s[0]·31^(n-1) + … + s[n-1], over UTF-16 code units, wrapping), which Kafka uses to
/// place a group on an offsets partition.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)))
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
    // java.lang.String.hashCode, as documented in the JDK: "abc" is 96354, "hello" is 99162322; the empty
    // string hashes to 0; a long string wraps around.
    #[test]
    fn java_string_hash_matches_the_jdk() {
        assert_eq!(java_string_hash("abc"), 96354);
        assert_eq!(java_string_hash("hello"), 99162322);
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    }

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
