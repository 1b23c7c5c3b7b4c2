//! Snapshots of a run's state at instants, for `run --timeline`: each replica's log start, log end, high
//! watermark and the role it believes it has, and each node's status and cut links. Taking one only reads the
//! state, so a sampled run is the same run as an unsampled one (the same trace digest, tested).

use crate::engine::{NodeId, NodeStatus};
use crate::kafka::broker::Role;
use crate::kafka::cluster::Cluster;
use crate::kafka::ids::{LeaderEpoch, Offset, PartitionId};
use crate::kafka::spec::{ClusterSpec, OFFSETS_TOPIC};

/// The most periodic samples a run takes after the one at its start: the interval grows with the run's length
/// to stay within it.
pub const MAX_PERIODIC_SAMPLES: u64 = 1_000;
/// The intervals a sampler chooses from, shortest first (a round number keeps the page's times readable).
const INTERVALS_US: [u64; 10] =
    [10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000];

/// What a replica believes about itself at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaRole {
    /// Started and not yet told its role by the controller.
    Unknown,
    Leader {
        epoch: LeaderEpoch,
    },
    Follower {
        epoch: LeaderEpoch,
    },
}

/// One replica on a running broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaState {
    pub log_start: Offset,
    pub log_end: Offset,
    pub high_watermark: Offset,
    pub role: ReplicaRole,
}

/// One node: whether it runs, and how many of the other nodes it cannot reach or be reached by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeCondition {
    pub status: NodeStatus,
    pub cut_peers: u32,
}

/// The state at one instant. `replicas[i][r]` is the `r`-th assigned replica of the `i`-th sampled partition
/// (`Sampler::partitions`), `None` while its broker is down; `nodes` is indexed by node number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateSample {
    pub time_us: u64,
    pub nodes: Vec<NodeCondition>,
    pub replicas: Vec<Vec<Option<ReplicaState>>>,
}

/// Takes samples every `every_us` and whenever asked (after each fault), in time order.
#[derive(Clone, Debug)]
pub struct Sampler {
    pub every_us: u64,
    next_us: u64,
    /// The partitions sampled: those of the scenario's topics (`__consumer_offsets` is left out).
    pub partitions: Vec<PartitionId>,
    pub samples: Vec<StateSample>,
}

impl Sampler {
    /// A sampler for a run of `run_us` (the liveness phase included): the shortest round interval that keeps
    /// the periodic samples within `MAX_PERIODIC_SAMPLES`.
    pub fn for_run(spec: &ClusterSpec, run_us: u64) -> Sampler {
        let every_us = interval_us(run_us);
        let partitions = (0..spec.partitions.len() as u32)
            .map(PartitionId)
            .filter(|&p| spec.topic_of(p).name != OFFSETS_TOPIC)
            .collect();
        Sampler { every_us, next_us: 0, partitions, samples: Vec::new() }
    }

    /// When the next periodic sample is due.
    pub fn next_due_us(&self) -> u64 {
        self.next_us
    }

    /// The periodic sample due now: taken, and the next one scheduled.
    pub fn take_due(&mut self, cluster: &Cluster) {
        self.take(cluster);
        self.next_us = cluster.engine.now().as_us() / self.every_us * self.every_us + self.every_us;
    }

    /// A sample of the state now (a later sample at the same instant replaces the earlier one).
    pub fn take(&mut self, cluster: &Cluster) {
        let sample = snapshot(cluster, &self.partitions);
        if let Some(last) = self.samples.last_mut().filter(|s| s.time_us == sample.time_us) {
            *last = sample;
            return;
        }
        assert!(self.samples.last().is_none_or(|s| s.time_us < sample.time_us), "samples go forward in time");
        self.samples.push(sample);
    }
}

/// The shortest of `INTERVALS_US` with at most `MAX_PERIODIC_SAMPLES` in `run_us`, or for a longer run the
/// interval that makes exactly that many.
fn interval_us(run_us: u64) -> u64 {
    let round = INTERVALS_US.into_iter().find(|&i| run_us / i <= MAX_PERIODIC_SAMPLES);
    round.unwrap_or_else(|| run_us.div_ceil(MAX_PERIODIC_SAMPLES))
}

fn snapshot(cluster: &Cluster, partitions: &[PartitionId]) -> StateSample {
    let spec = &cluster.spec;
    let count = spec.node_count();
    let network = &cluster.engine.network;
    let nodes = (0..count)
        .map(|n| {
            let cut = (0..count).filter(|&m| m != n && !(network.connected(n, m) && network.connected(m, n)));
            NodeCondition { status: cluster.engine.status(NodeId(n)), cut_peers: cut.count() as u32 }
        })
        .collect();
    let replicas = partitions
        .iter()
        .map(|&p| {
            let replica_of = |b| {
                let broker = cluster.is_up(spec.broker_node(b)).then(|| cluster.broker(b))?;
                broker.replicas[p.index()].as_ref().map(|r| ReplicaState {
                    log_start: r.log.log_start_offset(),
                    log_end: r.log.log_end_offset(),
                    high_watermark: r.log.high_watermark(),
                    role: match &r.role {
                        Role::Unknown => ReplicaRole::Unknown,
                        Role::Leader(l) => ReplicaRole::Leader { epoch: l.leader_epoch },
                        Role::Follower(f) => ReplicaRole::Follower { epoch: f.leader_epoch },
                    },
                })
            };
            spec.partition(p).replicas.iter().map(|&b| replica_of(b)).collect()
        })
        .collect();
    StateSample { time_us: cluster.engine.now().as_us(), nodes, replicas }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_the_shortest_round_one_within_the_sample_bound() {
        // 10 s at 10 ms: a sample at the start and 1000 more (the last at 10 s); one more sample's worth of run
        // needs the next interval.
        assert_eq!(interval_us(10_009_999), 10_000);
        assert_eq!(interval_us(10_010_000), 20_000);
        assert_eq!(interval_us(120_000_000), 200_000);
        // Past 10 000 s at 10 s: an interval that keeps the count at the bound.
        assert_eq!(interval_us(100_000_000_000), 100_000_000);
    }
}
