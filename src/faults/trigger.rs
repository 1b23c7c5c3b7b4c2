//! State-triggered faults: a condition over the cluster's committed state (the controller's metadata), the
//! brokers' replica state and what clients observed, checked after every event. A trigger fires when its
//! condition starts to hold (a rising edge), once or `repeat` times. Conditions read the cluster only through
//! `StateView`, so they are tested on hand-built states, and they allocate nothing when checked.

use crate::kafka::ids::{BrokerId, GroupId, PartitionId};

type Offset = u64;

/// A set of brokers (ids 1..=64, the loader's limit) as bits: ISRs compared without allocating.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BrokerSet(u64);

impl BrokerSet {
    pub fn of(brokers: &[BrokerId]) -> Self {
        BrokerSet(brokers.iter().fold(0, |bits, b| bits | Self::bit(*b)))
    }

    fn bit(b: BrokerId) -> u64 {
        assert!((1..=64).contains(&b.0), "broker ids run from 1 to 64");
        1 << (b.0 - 1)
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The lowest-numbered broker in `self` and not in `other`.
    fn first_not_in(self, other: BrokerSet) -> Option<BrokerId> {
        let rest = self.0 & !other.0;
        (rest != 0).then(|| BrokerId(rest.trailing_zeros() + 1))
    }
}

/// What a condition reads. `Cluster` + the run's observations implement it; tests hand-build one.
pub trait StateView {
    /// The partition's leader as the controller committed it.
    fn leader(&self, p: PartitionId) -> Option<BrokerId>;
    /// The partition's ISR as the controller committed it.
    fn isr(&self, p: PartitionId) -> BrokerSet;
    /// The high watermark on the partition's leader, if it is running and leads.
    fn high_watermark(&self, p: PartitionId) -> Option<Offset>;
    /// The log end offset of the partition's replica on `b`, if `b` is running.
    fn log_end(&self, p: PartitionId, b: BrokerId) -> Option<Offset>;
    /// The offset `b`'s last fetch asked the partition's leader for (what the leader knows `b` has).
    fn fetched(&self, p: PartitionId, b: BrokerId) -> Option<Offset>;
    /// The active controller (by index), if any.
    fn active_controller(&self) -> Option<u32>;
    /// What clients and coordinators reported, for the observed clauses below.
    fn observed(&self) -> &Observed;

    /// The highest send number (from 0) the producer has seen acknowledged.
    fn acked_send(&self, producer: u32) -> Option<u64> {
        self.observed().acked_send(producer)
    }
    /// The highest offset the producer has seen in an acknowledgement.
    fn acked_offset(&self, producer: u32) -> Option<Offset> {
        self.observed().acked_offset(producer)
    }
    /// The group's generation as its coordinator last reported it.
    fn generation(&self, group: GroupId) -> Option<i32> {
        self.observed().generation(group)
    }
    /// Whether the group is in a rebalance (PreparingRebalance or CompletingRebalance).
    fn rebalancing(&self, group: GroupId) -> bool {
        self.observed().rebalancing(group)
    }
    /// The offset the consumer last committed successfully for the partition.
    fn committed(&self, consumer: u32, p: PartitionId) -> Option<Offset> {
        self.observed().committed_offset(consumer, p)
    }
    /// The highest offset of the partition a member of the group has processed.
    fn processed(&self, group: GroupId, p: PartitionId) -> Option<Offset> {
        self.observed().processed_offset(group, p)
    }
}

/// One part of a condition; `Condition` joins them with `and`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Clause {
    /// A different broker leads than the last one that did (the first leader is not a change).
    LeaderChanged(PartitionId),
    IsrSize(PartitionId, usize),
    /// A broker left the committed ISR at this event.
    IsrShrank(PartitionId),
    /// A broker joined the committed ISR at this event.
    IsrExpanded(PartitionId),
    HighWatermarkAtLeast(PartitionId, Offset),
    LogEndAtLeast(PartitionId, BrokerId, Offset),
    FetchedAtLeast(PartitionId, BrokerId, Offset),
    AckedSendAtLeast(u32, u64),
    AckedOffsetAtLeast(u32, Offset),
    GenerationAtLeast(GroupId, i32),
    Rebalancing(GroupId),
    CommittedAtLeast(u32, PartitionId, Offset),
    /// A member of the group has processed the record at offset X (or later) of the partition.
    ProcessedAtLeast(GroupId, PartitionId, Offset),
    /// A different controller is active than the last one that was.
    ControllerChanged,
}

/// Clauses that all hold at the same event, with the text the scenario wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub clauses: Vec<Clause>,
    pub text: String,
}

/// What a trigger saw when it fired, for targets `that leader` and `that broker`: the leader of the first
/// partition the condition names, and the broker it is about (the one named, the one that left or joined the
/// ISR, or the previous leader).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    pub leader: Option<BrokerId>,
    pub broker: Option<BrokerId>,
}

impl Seen {
    fn or(self, other: Seen) -> Seen {
        Seen { leader: self.leader.or(other.leader), broker: self.broker.or(other.broker) }
    }
}

/// What an edge clause compares with: the last leader, ISR or controller it saw.
#[derive(Clone, Copy, Debug)]
enum Memory {
    Nothing,
    Leader(Option<BrokerId>),
    Isr(BrokerSet),
    Controller(Option<u32>),
}

/// A condition being watched: its edges' memories, whether it held at the last check, and how often it may
/// still fire.
#[derive(Clone, Debug)]
pub struct Trigger {
    pub condition: Condition,
    memory: Vec<Memory>,
    held: bool,
    fires_left: u32,
    pub fired: u32,
}

impl Trigger {
    pub fn new(condition: Condition, repeat: u32) -> Self {
        assert!(repeat >= 1 && !condition.clauses.is_empty());
        let memory = vec![Memory::Nothing; condition.clauses.len()];
        Trigger { condition, memory, held: false, fires_left: repeat, fired: 0 }
    }

    /// Starts watching: edges compare with the state now. A level condition that already holds fires at the
    /// first check.
    pub fn arm(&mut self, view: &dyn StateView) {
        for (clause, memory) in self.condition.clauses.iter().zip(&mut self.memory) {
            *memory = match clause {
                Clause::LeaderChanged(p) => Memory::Leader(view.leader(*p)),
                Clause::IsrShrank(p) | Clause::IsrExpanded(p) => Memory::Isr(view.isr(*p)),
                Clause::ControllerChanged => Memory::Controller(view.active_controller()),
                _ => Memory::Nothing,
            };
        }
        self.held = false;
    }

    pub fn exhausted(&self) -> bool {
        self.fires_left == 0
    }

    /// Checks the condition after an event: `Some` with what it saw when the trigger fires now.
    pub fn check(&mut self, view: &dyn StateView) -> Option<Seen> {
        assert!(!self.exhausted(), "an exhausted trigger is not checked");
        let mut all = true;
        let mut seen = Seen::default();
        // Every clause is evaluated, so that each edge's memory follows the state.
        for (clause, memory) in self.condition.clauses.iter().zip(&mut self.memory) {
            match holds(clause, memory, view) {
                Some(s) => seen = seen.or(s),
                None => all = false,
            }
        }
        let rising = all && !self.held;
        self.held = all;
        if !rising {
            return None;
        }
        self.fires_left -= 1;
        self.fired += 1;
        Some(seen)
    }
}

/// Whether one clause holds now (with what it saw), updating its edge memory.
fn holds(clause: &Clause, memory: &mut Memory, view: &dyn StateView) -> Option<Seen> {
    let leader_of = |p: PartitionId| Seen { leader: view.leader(p), broker: None };
    let at_least = |value: Option<u64>, x: u64| value.is_some_and(|v| v >= x);
    match clause {
        Clause::LeaderChanged(p) => {
            let Memory::Leader(last) = memory else { unreachable!("armed with a leader memory") };
            let now = view.leader(*p)?;
            let previous = last.replace(now);
            previous.filter(|&b| b != now).map(|b| Seen { leader: Some(now), broker: Some(b) })
        }
        Clause::IsrShrank(p) | Clause::IsrExpanded(p) => {
            let Memory::Isr(last) = memory else { unreachable!("armed with an ISR memory") };
            let now = view.isr(*p);
            let before = std::mem::replace(last, now);
            let changed = match clause {
                Clause::IsrShrank(_) => before.first_not_in(now),
                _ => now.first_not_in(before),
            };
            changed.map(|b| Seen { leader: view.leader(*p), broker: Some(b) })
        }
        Clause::ControllerChanged => {
            let Memory::Controller(last) = memory else { unreachable!("armed with a controller memory") };
            let now = view.active_controller()?;
            let previous = last.replace(now);
            previous.filter(|&c| c != now).map(|_| Seen::default())
        }
        Clause::IsrSize(p, k) => (view.isr(*p).len() == *k).then(|| leader_of(*p)),
        Clause::HighWatermarkAtLeast(p, x) => at_least(view.high_watermark(*p), *x).then(|| leader_of(*p)),
        Clause::LogEndAtLeast(p, b, x) => {
            at_least(view.log_end(*p, *b), *x).then(|| Seen { leader: view.leader(*p), broker: Some(*b) })
        }
        Clause::FetchedAtLeast(p, b, x) => {
            at_least(view.fetched(*p, *b), *x).then(|| Seen { leader: view.leader(*p), broker: Some(*b) })
        }
        Clause::AckedSendAtLeast(producer, x) => at_least(view.acked_send(*producer), *x).then(Seen::default),
        Clause::AckedOffsetAtLeast(producer, x) => at_least(view.acked_offset(*producer), *x).then(Seen::default),
        Clause::GenerationAtLeast(g, k) => {
            view.generation(*g).is_some_and(|generation| generation >= *k).then(Seen::default)
        }
        Clause::Rebalancing(g) => view.rebalancing(*g).then(Seen::default),
        Clause::CommittedAtLeast(c, p, x) => at_least(view.committed(*c, *p), *x).then(|| leader_of(*p)),
        Clause::ProcessedAtLeast(g, p, x) => at_least(view.processed(*g, *p), *x).then(|| leader_of(*p)),
    }
}

/// What the run's clients and coordinators reported, kept for the conditions that read observations: the
/// recorder feeds it every client event and group change as it drains them.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    acked_send: Vec<Option<u64>>,
    acked_offset: Vec<Option<Offset>>,
    generation: Vec<Option<i32>>,
    rebalancing: Vec<bool>,
    /// (consumer, partition, last committed offset) for the pairs some condition watches.
    committed: Vec<(u32, PartitionId, Option<Offset>)>,
    /// (group, partition, highest offset processed) for the pairs some condition watches.
    processed: Vec<(GroupId, PartitionId, Option<Offset>)>,
}

impl Observed {
    pub fn new(producers: usize, groups: usize, watched: Watched) -> Self {
        Observed {
            acked_send: vec![None; producers],
            acked_offset: vec![None; producers],
            generation: vec![None; groups],
            rebalancing: vec![false; groups],
            committed: watched.commits.into_iter().map(|(c, p)| (c, p, None)).collect(),
            processed: watched.processing.into_iter().map(|(g, p)| (g, p, None)).collect(),
        }
    }

    pub fn processed(&mut self, group: GroupId, p: PartitionId, offset: Offset) {
        for entry in self.processed.iter_mut().filter(|(g, q, _)| *g == group && *q == p) {
            entry.2 = entry.2.max(Some(offset));
        }
    }

    pub fn processed_offset(&self, group: GroupId, p: PartitionId) -> Option<Offset> {
        self.processed.iter().find(|(g, q, _)| *g == group && *q == p).and_then(|e| e.2)
    }

    pub fn send_acked(&mut self, producer: u32, send_seq: u64, offset: Option<Offset>) {
        let i = producer as usize;
        self.acked_send[i] = self.acked_send[i].max(Some(send_seq));
        self.acked_offset[i] = self.acked_offset[i].max(offset);
    }

    pub fn group_changed(&mut self, group: GroupId, generation: i32, rebalancing: bool) {
        self.generation[group.index()] = Some(generation);
        self.rebalancing[group.index()] = rebalancing;
    }

    pub fn committed(&mut self, consumer: u32, p: PartitionId, offset: Offset) {
        for entry in self.committed.iter_mut().filter(|(c, q, _)| *c == consumer && *q == p) {
            entry.2 = Some(offset);
        }
    }

    pub fn acked_send(&self, producer: u32) -> Option<u64> {
        self.acked_send[producer as usize]
    }

    pub fn acked_offset(&self, producer: u32) -> Option<Offset> {
        self.acked_offset[producer as usize]
    }

    pub fn generation(&self, group: GroupId) -> Option<i32> {
        self.generation[group.index()]
    }

    pub fn rebalancing(&self, group: GroupId) -> bool {
        self.rebalancing[group.index()]
    }

    pub fn committed_offset(&self, consumer: u32, p: PartitionId) -> Option<Offset> {
        self.committed.iter().find(|(c, q, _)| *c == consumer && *q == p).and_then(|e| e.2)
    }
}

/// What conditions watch of consumers: (consumer, partition) commits and (group, partition) processing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Watched {
    pub commits: Vec<(u32, PartitionId)>,
    pub processing: Vec<(GroupId, PartitionId)>,
}

impl Watched {
    pub fn add(&mut self, condition: &Condition) {
        for clause in &condition.clauses {
            match clause {
                Clause::CommittedAtLeast(consumer, p, _) => self.commits.push((*consumer, *p)),
                Clause::ProcessedAtLeast(group, p, _) => self.processing.push((*group, *p)),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-built cluster state: one partition (0) on brokers 1–3, one producer, one group, one consumer.
    #[derive(Default)]
    struct State {
        leader: Option<BrokerId>,
        isr: Vec<BrokerId>,
        hw: Option<u64>,
        log_end: [Option<u64>; 3],
        fetched: [Option<u64>; 3],
        observed: Observed,
        controller: Option<u32>,
    }

    impl StateView for State {
        fn leader(&self, _: PartitionId) -> Option<BrokerId> {
            self.leader
        }
        fn isr(&self, _: PartitionId) -> BrokerSet {
            BrokerSet::of(&self.isr)
        }
        fn high_watermark(&self, _: PartitionId) -> Option<u64> {
            self.hw
        }
        fn log_end(&self, _: PartitionId, b: BrokerId) -> Option<u64> {
            self.log_end[b.0 as usize - 1]
        }
        fn fetched(&self, _: PartitionId, b: BrokerId) -> Option<u64> {
            self.fetched[b.0 as usize - 1]
        }
        fn active_controller(&self) -> Option<u32> {
            self.controller
        }
        fn observed(&self) -> &Observed {
            &self.observed
        }
    }

    const P: PartitionId = PartitionId(0);

    fn state() -> State {
        State {
            leader: Some(BrokerId(1)),
            isr: vec![BrokerId(1), BrokerId(2), BrokerId(3)],
            hw: Some(0),
            observed: Observed::new(1, 1, Watched { commits: vec![(0, P)], processing: vec![(GroupId(0), P)] }),
            controller: Some(0),
            ..State::default()
        }
    }

    fn trigger(clauses: Vec<Clause>, repeat: u32, s: &State) -> Trigger {
        let mut t = Trigger::new(Condition { clauses, text: String::new() }, repeat);
        t.arm(s);
        t
    }

    /// Checks `t` after each of `steps` changes to the state; returns the index of each step it fired at.
    fn fires_at(t: &mut Trigger, s: &mut State, steps: &[&dyn Fn(&mut State)]) -> Vec<(usize, Seen)> {
        let mut out = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            step(s);
            if t.exhausted() {
                break;
            }
            if let Some(seen) = t.check(s) {
                out.push((i, seen));
            }
        }
        out
    }

    #[test]
    fn leader_changed_fires_at_a_new_leader_not_the_first_one_nor_an_offline_spell() {
        let mut s = State { leader: None, ..state() };
        let mut t = trigger(vec![Clause::LeaderChanged(P)], 1, &s);
        let fired = fires_at(
            &mut t,
            &mut s,
            &[
                &|s| s.leader = Some(BrokerId(1)), // the first leader: not a change
                &|s| s.leader = None,              // offline
                &|s| s.leader = Some(BrokerId(1)), // the same broker again
                &|s| s.leader = Some(BrokerId(2)), // a new leader
                &|s| s.leader = Some(BrokerId(3)), // fired once already
            ],
        );
        assert_eq!(fired, vec![(3, Seen { leader: Some(BrokerId(2)), broker: Some(BrokerId(1)) })]);
        assert!(t.exhausted());
    }

    #[test]
    fn isr_shrank_and_expanded_name_the_broker_that_left_or_joined() {
        let mut s = state();
        let mut shrank = trigger(vec![Clause::IsrShrank(P)], 2, &s);
        let mut expanded = trigger(vec![Clause::IsrExpanded(P)], 1, &s);
        let steps: [&dyn Fn(&mut State); 4] = [
            &|s| s.hw = Some(5), // nothing about the ISR
            &|s| s.isr = vec![BrokerId(1), BrokerId(2)],
            &|s| s.isr = vec![BrokerId(1)],
            &|s| s.isr = vec![BrokerId(1), BrokerId(3)],
        ];
        let mut shrinks = Vec::new();
        let mut expands = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            step(&mut s);
            shrinks.extend(shrank.check(&s).map(|seen| (i, seen.broker)));
            expands.extend(expanded.check(&s).map(|seen| (i, seen.broker)));
        }
        // Two shrinks on consecutive events are two rising edges only if the condition fell in between; it
        // holds at both, so the second is not a new edge.
        assert_eq!(shrinks, vec![(1, Some(BrokerId(3)))]);
        assert_eq!(expands, vec![(3, Some(BrokerId(3)))]);
    }

    #[test]
    fn a_level_condition_fires_at_the_first_event_it_holds_and_again_only_after_it_fell() {
        let mut s = state();
        let mut t = trigger(vec![Clause::HighWatermarkAtLeast(P, 10)], 2, &s);
        let fired = fires_at(
            &mut t,
            &mut s,
            &[
                &|s| s.hw = Some(9),
                &|s| s.hw = Some(10), // first holds
                &|s| s.hw = Some(11), // still holds: no new edge
                &|s| s.hw = None,     // the leader is gone
                &|s| s.hw = Some(12), // holds again: the second firing
                &|s| s.hw = None,
                &|s| s.hw = Some(13), // repeat = 2 is used up
            ],
        );
        let at: Vec<usize> = fired.iter().map(|(i, _)| *i).collect();
        assert_eq!(at, vec![1, 4]);
        assert_eq!(fired[0].1.leader, Some(BrokerId(1)));
    }

    #[test]
    fn a_condition_that_already_holds_when_armed_fires_at_the_first_check() {
        let s = State { isr: vec![BrokerId(1), BrokerId(2)], ..state() };
        let mut t = trigger(vec![Clause::IsrSize(P, 2)], 1, &s);
        assert!(t.check(&s).is_some());
        assert_eq!(t.fired, 1);
    }

    #[test]
    fn log_end_and_fetched_read_their_broker() {
        let mut s = state();
        let mut log_end = trigger(vec![Clause::LogEndAtLeast(P, BrokerId(2), 100)], 1, &s);
        let mut fetched = trigger(vec![Clause::FetchedAtLeast(P, BrokerId(2), 100)], 1, &s);
        s.log_end[1] = Some(100);
        s.fetched[2] = Some(100); // broker-3's fetch says nothing of broker-2
        assert_eq!(log_end.check(&s).map(|seen| seen.broker), Some(Some(BrokerId(2))));
        assert_eq!(fetched.check(&s), None);
        s.fetched[1] = Some(101);
        assert!(fetched.check(&s).is_some());
    }

    #[test]
    fn observed_conditions_follow_acks_groups_and_commits() {
        let mut s = state();
        let mut send = trigger(vec![Clause::AckedSendAtLeast(0, 5)], 1, &s);
        let mut offset = trigger(vec![Clause::AckedOffsetAtLeast(0, 40)], 1, &s);
        let mut generation = trigger(vec![Clause::GenerationAtLeast(GroupId(0), 2)], 1, &s);
        let mut rebalancing = trigger(vec![Clause::Rebalancing(GroupId(0))], 1, &s);
        let mut committed = trigger(vec![Clause::CommittedAtLeast(0, P, 30)], 1, &s);
        s.observed.send_acked(0, 5, Some(39));
        assert!(send.check(&s).is_some());
        assert!(offset.check(&s).is_none(), "offset 39 < 40");
        s.observed.send_acked(0, 4, Some(40)); // an earlier send acked later: the highest offset counts
        assert!(offset.check(&s).is_some());
        s.observed.group_changed(GroupId(0), 1, true);
        assert!(generation.check(&s).is_none());
        assert!(rebalancing.check(&s).is_some());
        s.observed.group_changed(GroupId(0), 2, false);
        assert!(generation.check(&s).is_some());
        s.observed.committed(1, P, 99); // another consumer
        assert!(committed.check(&s).is_none());
        s.observed.committed(0, P, 30);
        assert!(committed.check(&s).is_some());
        let mut processed = trigger(vec![Clause::ProcessedAtLeast(GroupId(0), P, 250)], 1, &s);
        s.observed.processed(GroupId(0), P, 249);
        assert!(processed.check(&s).is_none());
        s.observed.processed(GroupId(0), P, 250);
        s.observed.processed(GroupId(0), P, 10); // a reprocessed earlier record: the highest counts
        assert!(processed.check(&s).is_some());
    }

    #[test]
    fn controller_changed_fires_at_a_different_active_controller() {
        let mut s = state();
        let mut t = trigger(vec![Clause::ControllerChanged], 1, &s);
        let fired = fires_at(
            &mut t,
            &mut s,
            &[&|s| s.controller = None, &|s| s.controller = Some(0), &|s| s.controller = Some(2)],
        );
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].0, 2);
    }

    #[test]
    fn a_conjunction_holds_when_every_clause_holds_at_the_same_event() {
        let mut s = State { isr: vec![BrokerId(1), BrokerId(2)], ..state() };
        let clauses = vec![Clause::IsrSize(P, 2), Clause::HighWatermarkAtLeast(P, 50)];
        let mut t = trigger(clauses, 1, &s);
        let fired = fires_at(
            &mut t,
            &mut s,
            &[&|s| s.hw = Some(60), &|s| s.isr = vec![BrokerId(1)], &|s| s.isr = vec![BrokerId(1), BrokerId(3)]],
        );
        assert_eq!(fired.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![0]);
        // An edge inside a conjunction keeps following the state while another clause is false.
        let mut s = state();
        let mut t = trigger(vec![Clause::IsrShrank(P), Clause::HighWatermarkAtLeast(P, 50)], 1, &s);
        let fired = fires_at(&mut t, &mut s, &[&|s| s.isr = vec![BrokerId(1), BrokerId(2)], &|s| s.hw = Some(60)]);
        assert!(fired.is_empty(), "the shrink was at an event where the high watermark was below 50");
    }
}
