//! The simulated network: per-message latency from a seeded distribution, FIFO per directed link (like a TCP
//! connection), and a connectivity graph whose missing edges are cut links.

use super::rng::SimRng;
use super::time::SimTime;
use petgraph::graphmap::DiGraphMap;
use rand::Rng;

/// Latency drawn piecewise-uniformly: half of messages in [min, median], 49% in [median, p99], 1% in [p99, max].
/// The defaults model one datacenter: a median of a few hundred microseconds with a tail to a few milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
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

/// A probability as an integer ratio (`numerator` in `denominator`), so that it means the same on every machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    pub numerator: u32,
    pub denominator: u32,
}

impl Ratio {
    pub fn new(numerator: u32, denominator: u32) -> Self {
        assert!(denominator >= 1 && numerator <= denominator, "a ratio from 0/1 to 1/1");
        Ratio { numerator, denominator }
    }

    fn happens(self, rng: &mut SimRng) -> bool {
        rng.random_range(0..self.denominator) < self.numerator
    }
}

/// How one directed link misbehaves besides being cut: extra latency on every message, a share of messages
/// lost, and whether it holds what reaches its far end until released (turmoil's `hold` / `release`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkFaults {
    pub extra_latency_us: u64,
    pub loss: Option<Ratio>,
    pub held: bool,
}

/// Who can reach whom. An edge a→b means messages from a reach b.
pub struct Network {
    links: DiGraphMap<u32, ()>,
    node_count: u32,
    latency: LatencyModel,
    rng: SimRng,
    /// Arrival time of the last message on each directed link, indexed `from * node_count + to`: keeps links FIFO.
    last_arrival: Vec<SimTime>,
    /// Each directed link's degradations, indexed like `last_arrival`.
    faults: Vec<LinkFaults>,
}

impl Network {
    pub fn new(node_count: u32, latency: LatencyModel, rng: SimRng) -> Self {
        let mut net = Network {
            links: DiGraphMap::new(),
            node_count,
            latency,
            rng,
            last_arrival: vec![SimTime::ZERO; (node_count as usize).pow(2)],
            faults: vec![LinkFaults::default(); (node_count as usize).pow(2)],
        };
        net.heal();
        net
    }

    /// The arrival time of a message sent now from `from` to `to`, or `None` if the link is cut (the message is lost).
    pub fn arrival(&mut self, from: u32, to: u32, now: SimTime) -> Option<SimTime> {
        if !self.connected(from, to) {
            return None;
        }
        let slot = self.slot(from, to);
        let faults = self.faults[slot];
        // The loss draw is made only on a lossy link, so that other runs draw exactly as before.
        if faults.loss.is_some_and(|loss| loss.happens(&mut self.rng)) {
            return None;
        }
        let latency_us = self.latency.sample_us(&mut self.rng) + faults.extra_latency_us;
        let at = now.plus_us(latency_us).max(self.last_arrival[slot]);
        self.last_arrival[slot] = at;
        Some(at)
    }

    fn slot(&self, from: u32, to: u32) -> usize {
        (from * self.node_count + to) as usize
    }

    /// Adds `extra_latency_us` to every message from `from` to `to` and loses `loss` of them (replacing what an
    /// earlier degradation of that link set).
    pub fn degrade(&mut self, from: u32, to: u32, extra_latency_us: u64, loss: Option<Ratio>) {
        let slot = self.slot(from, to);
        self.faults[slot].extra_latency_us = extra_latency_us;
        self.faults[slot].loss = loss;
    }

    /// Messages from `from` to `to` wait at the far end, in order, until `release` (the engine keeps them).
    pub fn hold(&mut self, from: u32, to: u32) {
        let slot = self.slot(from, to);
        self.faults[slot].held = true;
    }

    pub fn release(&mut self, from: u32, to: u32) {
        let slot = self.slot(from, to);
        self.faults[slot].held = false;
    }

    pub fn is_held(&self, from: u32, to: u32) -> bool {
        from != to && self.faults[self.slot(from, to)].held
    }

    /// The links that hold messages now, as (from, to).
    pub fn held_links(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let n = self.node_count;
        (0..n * n).filter(|&i| self.faults[i as usize].held).map(move |i| (i / n, i % n))
    }

    pub fn connected(&self, from: u32, to: u32) -> bool {
        from == to || self.links.contains_edge(from, to)
    }

    /// Restores every link: no cut, no degradation, nothing held (the engine delivers what was held).
    pub fn heal(&mut self) {
        self.faults.fill(LinkFaults::default());
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

    /// Restores messages from `from` to `to` only (turmoil's `repair` of one direction): the cut and any
    /// degradation are lifted; a hold stays until `release`.
    pub fn repair_one_way(&mut self, from: u32, to: u32) {
        if from != to {
            self.links.add_edge(from, to, ());
            self.degrade(from, to, 0, None);
        }
    }

    /// Cuts both directions between every node of `side_a` and every node of `side_b`.
    pub fn partition(&mut self, side_a: &[u32], side_b: &[u32]) {
        for &a in side_a {
            // A node on both sides keeps its link to itself: only links between two nodes are cut.
            for &b in side_b.iter().filter(|&&b| b != a) {
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

    #[test]
    fn repair_lifts_only_its_own_cut() {
        let mut net = Network::new(4, LatencyModel::fixed(10), stream(1, "network", 0));
        net.partition(&[0, 1], &[2, 3]);
        net.cut_one_way(0, 1);
        net.repair_one_way(0, 2);
        assert!(net.arrival(0, 2, SimTime::ZERO).is_some(), "the repaired direction");
        let still_cut = [(2, 0), (0, 3), (3, 0), (1, 2), (2, 1), (1, 3), (3, 1), (0, 1)];
        for (a, b) in still_cut {
            assert!(net.arrival(a, b, SimTime::ZERO).is_none(), "{a} -> {b} stays cut");
        }
        assert_eq!(net.cut_link_count(), still_cut.len());
    }

    #[test]
    fn extra_latency_is_added_and_links_stay_fifo() {
        let mut net = Network::new(2, LatencyModel::fixed(10), stream(1, "network", 0));
        net.degrade(0, 1, 5_000, None);
        assert_eq!(net.arrival(0, 1, SimTime(100)), Some(SimTime(5_110)));
        assert_eq!(net.arrival(1, 0, SimTime(100)), Some(SimTime(110)), "only that direction");
        net.repair_one_way(0, 1);
        // A message sent after the repair does not overtake the slow one before it.
        assert_eq!(net.arrival(0, 1, SimTime(200)), Some(SimTime(5_110)));
        assert_eq!(net.arrival(0, 1, SimTime(6_000)), Some(SimTime(6_010)));
    }

    // A link losing 1 in 100 messages, 10,000 messages per seed: the count lost is Binomial(10000, 0.01), mean
    // 100 and standard deviation 9.95; every seed lands within 5 deviations and the total over ten seeds
    // (mean 1000, deviation 31.5) within 5 of its own.
    #[test]
    fn a_one_in_a_hundred_loss_link_loses_about_one_percent() {
        let mut total = 0;
        for seed in 1..=10 {
            let mut net = Network::new(2, LatencyModel::default(), stream(seed, "network", 0));
            net.degrade(0, 1, 0, Some(Ratio::new(1, 100)));
            let lost = (0..10_000).filter(|&t| net.arrival(0, 1, SimTime(t)).is_none()).count();
            assert!((50..=150).contains(&lost), "seed {seed}: {lost} lost");
            assert_eq!((0..1000).filter(|&t| net.arrival(1, 0, SimTime(t)).is_none()).count(), 0);
            total += lost;
        }
        assert!((842..=1158).contains(&total), "{total} lost of 100,000");
    }

    #[test]
    fn heal_lifts_degradations_and_holds() {
        let mut net = Network::new(2, LatencyModel::fixed(10), stream(1, "network", 0));
        net.degrade(0, 1, 1_000, Some(Ratio::new(1, 1)));
        net.hold(1, 0);
        assert!(net.arrival(0, 1, SimTime::ZERO).is_none(), "1/1 loses everything");
        assert!(net.is_held(1, 0));
        assert_eq!(net.held_links().collect::<Vec<_>>(), vec![(1, 0)]);
        net.heal();
        assert!(!net.is_held(1, 0));
        assert_eq!(net.arrival(0, 1, SimTime::ZERO), Some(SimTime(10)));
    }
}
