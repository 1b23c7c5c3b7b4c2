//! The simulated network: per-message latency from a seeded distribution, FIFO per directed link (like a TCP
//! connection), and a connectivity graph whose missing edges are cut links.

use super::rng::SimRng;
use super::time::SimTime;
use petgraph::graphmap::DiGraphMap;
use rand::Rng;

/// Latency drawn piecewise-uniformly: half of messages in [min, median], 49% in [median, p99], 1% in [p99, max].
/// The defaults model one datacenter: a median of a few hundred microseconds with a tail to a few milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyModel {
    pub min_us: u64,
    pub median_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Default for LatencyModel {
    fn default() -> Self {
        LatencyModel { min_us: 100, median_us: 300, p99_us: 2_000, max_us: 5_000 }
    }
}

impl LatencyModel {
    /// A model where every message takes exactly `us` (for hand-written tests).
    pub fn fixed(us: u64) -> Self {
        LatencyModel { min_us: us, median_us: us, p99_us: us, max_us: us }
    }

    pub fn sample_us(&self, rng: &mut SimRng) -> u64 {
        let bucket = rng.random_range(0..100u32);
        let (lo, hi) = match bucket {
            0..50 => (self.min_us, self.median_us),
            50..99 => (self.median_us, self.p99_us),
            _ => (self.p99_us, self.max_us),
        };
        if hi <= lo { lo } else { rng.random_range(lo..=hi) }
    }
}

/// Who can reach whom. An edge a→b means messages from a reach b.
pub struct Network {
    links: DiGraphMap<u32, ()>,
    node_count: u32,
    latency: LatencyModel,
    rng: SimRng,
    /// Arrival time of the last message on each directed link, indexed `from * node_count + to`: keeps links FIFO.
    last_arrival: Vec<SimTime>,
}

impl Network {
    pub fn new(node_count: u32, latency: LatencyModel, rng: SimRng) -> Self {
        let mut net = Network {
            links: DiGraphMap::new(),
            node_count,
            latency,
            rng,
            last_arrival: vec![SimTime::ZERO; (node_count as usize).pow(2)],
        };
        net.heal();
        net
    }

    /// The arrival time of a message sent now from `from` to `to`, or `None` if the link is cut (the message is lost).
    pub fn arrival(&mut self, from: u32, to: u32, now: SimTime) -> Option<SimTime> {
        if !self.connected(from, to) {
            return None;
        }
        let slot = (from * self.node_count + to) as usize;
        let at = now.plus_us(self.latency.sample_us(&mut self.rng)).max(self.last_arrival[slot]);
        self.last_arrival[slot] = at;
        Some(at)
    }

    pub fn connected(&self, from: u32, to: u32) -> bool {
        from == to || self.links.contains_edge(from, to)
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        for a in 0..self.node_count {
            for b in 0..self.node_count {
                if a != b {
                    self.links.add_edge(a, b, ());
                }
            }
        }
    }

    /// Cuts messages from `from` to `to` only (a one-way cut).
    pub fn cut_one_way(&mut self, from: u32, to: u32) {
        self.links.remove_edge(from, to);
    }

    /// Restores messages from `from` to `to` only (turmoil's `repair` of one direction).
    pub fn repair_one_way(&mut self, from: u32, to: u32) {
        if from != to {
            self.links.add_edge(from, to, ());
        }
    }

    /// Cuts both directions between every node of `side_a` and every node of `side_b`.
    pub fn partition(&mut self, side_a: &[u32], side_b: &[u32]) {
        for &a in side_a {
            for &b in side_b {
                self.cut_one_way(a, b);
                self.cut_one_way(b, a);
            }
        }
    }

    /// Cuts `node` off from every other node.
    pub fn isolate(&mut self, node: u32) {
        let others: Vec<u32> = (0..self.node_count).filter(|&n| n != node).collect();
        self.partition(&[node], &others);
    }

    /// Number of directed links currently cut (for summaries).
    pub fn cut_link_count(&self) -> usize {
        let all = (self.node_count as usize) * (self.node_count as usize).saturating_sub(1);
        all - self.links.edge_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::stream;

    #[test]
    fn links_are_fifo_even_with_random_latency() {
        let mut net = Network::new(2, LatencyModel::default(), stream(1, "network", 0));
        let mut last = SimTime::ZERO;
        for t in 0..1000 {
            let at = net.arrival(0, 1, SimTime(t)).expect("connected");
            assert!(at >= last);
            last = at;
        }
    }

    #[test]
    fn one_way_cut_drops_only_that_direction() {
        let mut net = Network::new(3, LatencyModel::fixed(10), stream(1, "network", 0));
        net.cut_one_way(0, 1);
        assert!(net.arrival(0, 1, SimTime::ZERO).is_none());
        assert!(net.arrival(1, 0, SimTime::ZERO).is_some());
        net.isolate(2);
        assert!(net.arrival(2, 0, SimTime::ZERO).is_none());
        assert!(net.arrival(1, 2, SimTime::ZERO).is_none());
        net.heal();
        assert!(net.arrival(0, 1, SimTime::ZERO).is_some());
        assert_eq!(net.cut_link_count(), 0);
    }
}
