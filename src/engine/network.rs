//! The simulated network: per-message latency from a seeded distribution, FIFO per directed link (like a TCP
//! connection), and a table of which directed links are cut.

use super::rng::SimRng;
use super::time::SimTime;
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

/// Which pairs of nodes have links. Nodes `0..hubs` have a link to and from every node; the other nodes (leaves)
/// reach each other only where `leaf_links` says (both directions). A cluster's servers are its hubs and its
/// clients its leaves: links then grow with clients × servers, not with the square of all nodes.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    pub nodes: u32,
    pub hubs: u32,
    pub leaf_links: Vec<(u32, u32)>,
}

/// Who can reach whom, per directed link: a table indexed by link (`Network::slot`), no hashing on the way of
/// a message.
pub struct Network {
    node_count: u32,
    hub_count: u32,
    /// The directed links between two leaves, sorted, each with its slot after the hub links.
    leaf_links: Vec<((u32, u32), usize)>,
    latency: LatencyModel,
    rng: SimRng,
    /// Whether each directed link is cut.
    cut: Vec<bool>,
    /// Arrival time of the last message on each directed link: keeps links FIFO.
    last_arrival: Vec<SimTime>,
    /// Each directed link's degradations.
    faults: Vec<LinkFaults>,
}

impl Network {
    /// A network where every node has a link to every other.
    pub fn new(node_count: u32, latency: LatencyModel, rng: SimRng) -> Self {
        Self::with_topology(Topology { nodes: node_count, hubs: node_count, leaf_links: Vec::new() }, latency, rng)
    }

    pub fn with_topology(topology: Topology, latency: LatencyModel, rng: SimRng) -> Self {
        let Topology { nodes, hubs, leaf_links } = topology;
        assert!(hubs <= nodes, "{hubs} hubs among {nodes} nodes");
        let hub_slots = nodes as usize * hubs as usize + (nodes - hubs) as usize * hubs as usize;
        let mut pairs: Vec<(u32, u32)> = leaf_links.iter().flat_map(|&(a, b)| [(a, b), (b, a)]).collect();
        pairs.sort_unstable();
        pairs.dedup();
        for &(a, b) in &pairs {
            assert!(a >= hubs && b >= hubs && a < nodes && b < nodes && a != b, "leaf link {a} -> {b}");
        }
        let leaf_links: Vec<_> = pairs.into_iter().enumerate().map(|(i, pair)| (pair, hub_slots + i)).collect();
        // A leaf's link to itself comes last (a hub's is among the links to hubs): FIFO like any other, never cut.
        let slots = hub_slots + leaf_links.len() + (nodes - hubs) as usize;
        Network {
            node_count: nodes,
            hub_count: hubs,
            leaf_links,
            latency,
            rng,
            cut: vec![false; slots],
            last_arrival: vec![SimTime::ZERO; slots],
            faults: vec![LinkFaults::default(); slots],
        }
    }

    /// The arrival time of a message sent now from `from` to `to`, or `None` if the link is cut (the message is lost).
    pub fn arrival(&mut self, from: u32, to: u32, now: SimTime) -> Option<SimTime> {
        let Some(slot) = self.slot(from, to) else {
            unreachable!("node {from} sent to node {to}, and the topology has no link between them")
        };
        if self.cut[slot] {
            return None;
        }
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

    /// The directed link `from` → `to`: to a hub, from a hub to a leaf, between two leaves the topology
    /// links, or a node's to itself; `None` for two leaves it does not link.
    fn slot(&self, from: u32, to: u32) -> Option<usize> {
        debug_assert!(from < self.node_count && to < self.node_count);
        let (n, h) = (self.node_count as usize, self.hub_count as usize);
        if (to as usize) < h {
            Some(from as usize * h + to as usize)
        } else if (from as usize) < h {
            Some(n * h + (to as usize - h) * h + from as usize)
        } else if from == to {
            Some(self.cut.len() - (n - h) + (from as usize - h))
        } else {
            let found = self.leaf_links.binary_search_by_key(&(from, to), |&(pair, _)| pair);
            found.ok().map(|i| self.leaf_links[i].1)
        }
    }

    /// The directed link of `slot`, as (from, to): `slot`'s inverse.
    fn pair(&self, slot: usize) -> (u32, u32) {
        let (n, h) = (self.node_count as usize, self.hub_count as usize);
        let (to_hubs, from_hubs) = (n * h, (n - h) * h);
        let pair = if slot < to_hubs {
            (slot / h, slot % h)
        } else if slot < to_hubs + from_hubs {
            let r = slot - to_hubs;
            (r % h, h + r / h)
        } else if slot < to_hubs + from_hubs + self.leaf_links.len() {
            let (a, b) = self.leaf_links[slot - to_hubs - from_hubs].0;
            (a as usize, b as usize)
        } else {
            let node = h + slot - (self.cut.len() - (n - h));
            (node, node)
        };
        (pair.0 as u32, pair.1 as u32)
    }

    /// Adds `extra_latency_us` to every message from `from` to `to` and loses `loss` of them (replacing what an
    /// earlier degradation of that link set). Two leaves without a link: nothing to degrade.
    pub fn degrade(&mut self, from: u32, to: u32, extra_latency_us: u64, loss: Option<Ratio>) {
        if let Some(slot) = self.link(from, to) {
            self.faults[slot].extra_latency_us = extra_latency_us;
            self.faults[slot].loss = loss;
        }
    }

    /// The slot of the link `from` → `to`, if the two differ and have one.
    fn link(&self, from: u32, to: u32) -> Option<usize> {
        if from == to { None } else { self.slot(from, to) }
    }

    /// Messages from `from` to `to` wait at the far end, in order, until `release` (the engine keeps them).
    pub fn hold(&mut self, from: u32, to: u32) {
        if let Some(slot) = self.link(from, to) {
            self.faults[slot].held = true;
        }
    }

    pub fn release(&mut self, from: u32, to: u32) {
        if let Some(slot) = self.link(from, to) {
            self.faults[slot].held = false;
        }
    }

    pub fn is_held(&self, from: u32, to: u32) -> bool {
        self.link(from, to).is_some_and(|slot| self.faults[slot].held)
    }

    /// The links that hold messages now, as (from, to), in order of `from` then `to`.
    pub fn held_links(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let held = self.faults.iter().enumerate().filter(|(_, f)| f.held);
        let mut pairs: Vec<(u32, u32)> = held.map(|(slot, _)| self.pair(slot)).collect();
        pairs.sort_unstable();
        pairs.into_iter()
    }

    pub fn connected(&self, from: u32, to: u32) -> bool {
        self.slot(from, to).is_some_and(|slot| !self.cut[slot])
    }

    /// Restores every link: no cut, no degradation, nothing held (the engine delivers what was held).
    pub fn heal(&mut self) {
        self.faults.fill(LinkFaults::default());
        self.cut.fill(false);
    }

    /// Cuts messages from `from` to `to` only (a one-way cut). Two leaves without a link: nothing to cut.
    pub fn cut_one_way(&mut self, from: u32, to: u32) {
        if let Some(slot) = self.link(from, to) {
            self.cut[slot] = true;
        }
    }

    /// Restores messages from `from` to `to` only (turmoil's `repair` of one direction): the cut and any
    /// degradation are lifted; a hold stays until `release`.
    pub fn repair_one_way(&mut self, from: u32, to: u32) {
        if let Some(slot) = self.link(from, to) {
            self.cut[slot] = false;
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
        self.cut.iter().filter(|&&c| c).count()
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

    // Hubs 0 and 1; leaves 2, 3 and 4, of which 2 and 3 are linked: links grow with leaves × hubs, and every
    // link the topology has keeps its own FIFO order, cut, degradation and hold.
    #[test]
    fn a_topology_links_leaves_only_to_hubs_and_to_their_named_peers() {
        let topology = Topology { nodes: 5, hubs: 2, leaf_links: vec![(3, 2)] };
        let mut net = Network::with_topology(topology, LatencyModel::fixed(10), stream(1, "network", 0));
        assert_eq!(
            net.cut.len(),
            5 * 2 + 3 * 2 + 2 + 3,
            "to hubs, from hubs, the leaf pair both ways, leaves to themselves"
        );
        for (a, b) in [(0, 1), (1, 0), (2, 0), (0, 4), (4, 1), (2, 3), (3, 2), (4, 4)] {
            assert_eq!(net.arrival(a, b, SimTime::ZERO), Some(SimTime(10)), "{a} -> {b}");
        }
        assert!(!net.connected(2, 4) && !net.connected(4, 3), "unlinked leaves");
        net.isolate(4);
        net.partition(&[2], &[3, 4]);
        assert!(net.arrival(4, 0, SimTime::ZERO).is_none() && net.arrival(1, 4, SimTime::ZERO).is_none());
        assert!(net.arrival(2, 3, SimTime::ZERO).is_none() && net.arrival(3, 2, SimTime::ZERO).is_none());
        assert!(net.arrival(2, 0, SimTime::ZERO).is_some(), "a leaf cut from a leaf still reaches the hubs");
        assert_eq!(net.cut_link_count(), 2 + 2 + 2, "4's links to both hubs and back, and 2 <-> 3");
        net.hold(3, 2);
        net.hold(1, 4);
        net.hold(0, 3);
        net.hold(2, 4);
        assert_eq!(net.held_links().collect::<Vec<_>>(), vec![(0, 3), (1, 4), (3, 2)], "in order, linked only");
        net.heal();
        assert_eq!(net.cut_link_count(), 0);
        assert_eq!(net.held_links().count(), 0);
    }

    #[test]
    fn every_link_slot_maps_back_to_its_pair() {
        let topology = Topology { nodes: 6, hubs: 3, leaf_links: vec![(4, 5)] };
        let net = Network::with_topology(topology, LatencyModel::fixed(10), stream(1, "network", 0));
        let mut slots: Vec<usize> = Vec::new();
        for a in 0..6 {
            for b in 0..6 {
                if let Some(slot) = net.slot(a, b) {
                    assert_eq!(net.pair(slot), (a, b));
                    slots.push(slot);
                }
            }
        }
        slots.sort_unstable();
        assert_eq!(slots, (0..net.cut.len()).collect::<Vec<_>>(), "each slot used once");
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
