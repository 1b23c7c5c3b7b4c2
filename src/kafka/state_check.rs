//! The per-event state checker (TigerBeetle's StateChecker, FoundationDB's invariants): after every event a
//! broker handled, the relations between replicas that Kafka's replication protocol keeps, whatever the faults.
//! A breach is a bug of the model, not a property of a configuration, so it stops the run.
//!
//! Each replica's own relations (log start ≤ high watermark ≤ log end, a monotonic epoch cache, a committed ISR
//! within the replicas) are asserted where they change (`ReplicaLog`, `EpochCache`, `LeaderState::commit_isr`,
//! the controller's `assert_partition_change`); this checker sees them again from outside, and adds what no one
//! node can see:
//! - at most one running broker leads a partition at a given leader epoch (the controller gives each epoch one
//!   leader: ReplicationControlManager);
//! - a leader's high watermark never moves back within its epoch (Partition.maybeIncrementLeaderHW);
//! - the followers in a leader's ISR hold the leader's records below its high watermark (the ISR's definition,
//!   with KIP-101/279's truncation): checked over the range each high-watermark advance commits, on every ISR
//!   member that is running and has reached it.
//!
//! Only what changed is looked at: a replica whose offsets, latest epoch and role are as last seen costs a
//! comparison.

use super::broker::{Replica, Role, Touched};
use super::cluster::Cluster;
use super::config::TruncationMode;
use super::epoch_cache::EpochEntry;
use super::ids::{BrokerId, LeaderEpoch, Offset, PartitionId};
use super::log::ReplicaLog;
use super::partition::InSyncRule;
use super::spec::ClusterSpec;
use std::collections::BTreeMap;

/// The relations the checker keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StateInvariant {
    OffsetsOrdered,
    EpochCacheGrows,
    IsrWithinReplicas,
    OneLeaderPerEpoch,
    LeaderHighWatermarkForward,
    InSyncReplicasAgree,
}

impl StateInvariant {
    pub fn name(self) -> &'static str {
        match self {
            StateInvariant::OffsetsOrdered => "offsets-ordered",
            StateInvariant::EpochCacheGrows => "epoch-cache-grows",
            StateInvariant::IsrWithinReplicas => "isr-within-replicas",
            StateInvariant::OneLeaderPerEpoch => "one-leader-per-epoch",
            StateInvariant::LeaderHighWatermarkForward => "leader-high-watermark-forward",
            StateInvariant::InSyncReplicasAgree => "in-sync-replicas-agree",
        }
    }
}

/// A relation found broken, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breach {
    pub invariant: StateInvariant,
    pub detail: String,
}

/// What a running broker's replica of a partition shows the checker.
#[derive(Clone, Copy, Debug)]
pub struct ReplicaView<'a> {
    pub broker: BrokerId,
    pub partition: PartitionId,
    /// The partition's assigned replicas.
    pub replicas: &'a [BrokerId],
    pub log_start: Offset,
    pub high_watermark: Offset,
    pub log_end: Offset,
    pub epochs: &'a [EpochEntry],
    /// Set when the broker believes it leads the partition.
    pub leads: Option<Leads<'a>>,
    pub log: &'a ReplicaLog,
}

/// A leader's own view: its epoch and the ISR it knows committed.
#[derive(Clone, Copy, Debug)]
pub struct Leads<'a> {
    pub epoch: LeaderEpoch,
    pub partition_epoch: i32,
    pub isr: &'a [BrokerId],
}

/// What was last seen of one replica: enough to tell that something changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    log_start: Offset,
    high_watermark: Offset,
    log_end: Offset,
    latest_epoch: Option<EpochEntry>,
    leads: Option<(LeaderEpoch, i32)>,
}

impl Seen {
    /// The same as `of` on the replica's view, without building it: the cost every event pays per replica.
    fn of_replica(r: &Replica) -> Seen {
        let leads = match &r.role {
            Role::Leader(s) => Some((s.leader_epoch, s.partition_epoch)),
            Role::Follower(_) | Role::Unknown => None,
        };
        Seen {
            log_start: r.log.log_start_offset(),
            high_watermark: r.log.high_watermark(),
            log_end: r.log.log_end_offset(),
            latest_epoch: r.log.epoch_cache().latest(),
            leads,
        }
    }

    fn of(v: &ReplicaView<'_>) -> Seen {
        Seen {
            log_start: v.log_start,
            high_watermark: v.high_watermark,
            log_end: v.log_end,
            latest_epoch: v.epochs.last().copied(),
            leads: v.leads.map(|l| (l.epoch, l.partition_epoch)),
        }
    }
}

pub struct StateChecker {
    /// `seen[broker index][partition]`, `None` where the broker holds no replica or has not been seen since it
    /// started.
    seen: Vec<Vec<Option<Seen>>>,
    /// `look_at_all[broker index]`: every replica must be looked at next (the broker started afresh).
    look_at_all: Vec<bool>,
    /// The broker last seen leading each (partition, leader epoch).
    leaders: BTreeMap<(PartitionId, LeaderEpoch), BrokerId>,
    /// Whether ISR members must hold the leader's records: true unless a historical switch lets replicas diverge
    /// (truncation to the high watermark before KIP-101, KIP-101 without KIP-279, KAFKA-7164 or KAFKA-7128
    /// unfixed), which is what those switches show.
    replicas_agree: bool,
}

impl StateChecker {
    pub fn new(brokers: usize, partitions: usize, replicas_agree: bool) -> Self {
        StateChecker {
            seen: vec![vec![None; partitions]; brokers],
            look_at_all: vec![true; brokers],
            leaders: BTreeMap::new(),
            replicas_agree,
        }
    }

    /// The broker stopped or started afresh: what was seen of its previous process says nothing of the next.
    pub fn forget(&mut self, broker: BrokerId) {
        self.seen[broker.index()].iter_mut().for_each(|s| *s = None);
        self.look_at_all[broker.index()] = true;
    }

    /// Looks at one replica after an event; `running` gives another broker's replica of the same partition if
    /// that broker runs.
    pub fn replica<'a>(
        &mut self,
        v: &ReplicaView<'a>,
        running: impl Fn(BrokerId) -> Option<ReplicaView<'a>>,
    ) -> Result<(), Breach> {
        let now = Seen::of(v);
        let before = self.seen[v.broker.index()][v.partition.0 as usize].replace(now);
        if before == Some(now) {
            return Ok(());
        }
        self.changed(v, before, running)
    }

    /// Judges a replica that changed since `before`.
    fn changed<'a>(
        &mut self,
        v: &ReplicaView<'a>,
        before: Option<Seen>,
        running: impl Fn(BrokerId) -> Option<ReplicaView<'a>>,
    ) -> Result<(), Breach> {
        own_relations(v)?;
        let Some(leads) = v.leads else { return Ok(()) };
        let led_before = before.filter(|b| b.leads.map(|l| l.0) == Some(leads.epoch));
        let Some(before) = led_before else {
            // A claim to lead is judged when it is new: the later of two claims finds the earlier.
            return self.one_leader(v, leads, &running);
        };
        if v.high_watermark < before.high_watermark {
            return Err(breach(
                StateInvariant::LeaderHighWatermarkForward,
                format!(
                    "{} leading {:?} at epoch {} moved its high watermark back from {} to {}",
                    v.broker, v.partition, leads.epoch, before.high_watermark, v.high_watermark
                ),
            ));
        }
        if self.replicas_agree && v.high_watermark > before.high_watermark {
            isr_agrees(v, leads, (before.high_watermark, v.high_watermark), &running)?;
        }
        Ok(())
    }

    fn one_leader<'a>(
        &mut self,
        v: &ReplicaView<'a>,
        leads: Leads<'a>,
        running: &impl Fn(BrokerId) -> Option<ReplicaView<'a>>,
    ) -> Result<(), Breach> {
        let was = self.leaders.insert((v.partition, leads.epoch), v.broker);
        let other = was.filter(|&b| b != v.broker);
        if let Some(o) = other.filter(|&o| running(o).and_then(|r| r.leads).is_some_and(|l| l.epoch == leads.epoch)) {
            return Err(breach(
                StateInvariant::OneLeaderPerEpoch,
                format!("{} and {o} both lead {:?} at leader epoch {}", v.broker, v.partition, leads.epoch),
            ));
        }
        Ok(())
    }
}

fn breach(invariant: StateInvariant, detail: String) -> Breach {
    Breach { invariant, detail }
}

/// The relations within one replica: offsets in order, a growing epoch cache, a leader's ISR within the replicas.
fn own_relations(v: &ReplicaView<'_>) -> Result<(), Breach> {
    if !(v.log_start <= v.high_watermark && v.high_watermark <= v.log_end) {
        return Err(breach(
            StateInvariant::OffsetsOrdered,
            format!(
                "{}'s replica of {:?}: log start {} ≤ high watermark {} ≤ log end {} broken",
                v.broker, v.partition, v.log_start, v.high_watermark, v.log_end
            ),
        ));
    }
    // LeaderEpochFileCache keeps epochs and their start offsets strictly increasing.
    if let Some(w) = v.epochs.windows(2).find(|w| w[1].epoch <= w[0].epoch || w[1].start_offset <= w[0].start_offset) {
        return Err(breach(
            StateInvariant::EpochCacheGrows,
            format!("{}'s epoch cache of {:?} goes from {:?} to {:?}", v.broker, v.partition, w[0], w[1]),
        ));
    }
    if let Some(l) = v.leads {
        let within = l.isr.iter().all(|b| v.replicas.contains(b));
        if l.isr.is_empty() || !within || !l.isr.contains(&v.broker) {
            return Err(breach(
                StateInvariant::IsrWithinReplicas,
                format!(
                    "{} leads {:?} with ISR {:?}: empty, without it, or outside the replicas {:?}",
                    v.broker, v.partition, l.isr, v.replicas
                ),
            ));
        }
    }
    Ok(())
}

/// Every running ISR member that has reached the new high watermark holds the leader's records in `range`.
fn isr_agrees<'a>(
    v: &ReplicaView<'a>,
    leads: Leads<'a>,
    range: (Offset, Offset),
    running: &impl Fn(BrokerId) -> Option<ReplicaView<'a>>,
) -> Result<(), Breach> {
    for follower in leads.isr.iter().filter(|&&b| b != v.broker).filter_map(|&b| running(b)) {
        // A follower behind the leader's view of it (it restarted and lost its unflushed tail) is not compared.
        if follower.log_end < range.1 || follower.log_start > range.0 {
            continue;
        }
        if let Some(offset) = first_difference(v.log, follower.log, range) {
            return Err(breach(
                StateInvariant::InSyncReplicasAgree,
                format!(
                    "{} leading {:?} at epoch {} committed offset {offset} up to high watermark {}, but ISR member \
                     {} holds another record there",
                    v.broker, v.partition, leads.epoch, range.1, follower.broker
                ),
            ));
        }
    }
    Ok(())
}

/// The first offset in `[from, to)` where the two logs hold different records (or epochs). Batches the follower
/// copied from the leader share their records and boundaries, so most compare by pointer.
fn first_difference(leader: &ReplicaLog, follower: &ReplicaLog, (from, to): (Offset, Offset)) -> Option<Offset> {
    let mut theirs = follower.batches_from(from).take_while(|b| b.base_offset < to).peekable();
    for mine in leader.batches_from(from).take_while(|b| b.base_offset < to) {
        while theirs.next_if(|t| t.next_offset() <= mine.base_offset).is_some() {}
        let same_batch = theirs.peek().is_some_and(|t| {
            t.base_offset == mine.base_offset
                && t.epoch == mine.epoch
                && (std::rc::Rc::ptr_eq(&t.records, &mine.records) || t.records == mine.records)
        });
        if same_batch {
            continue;
        }
        for offset in mine.base_offset.max(from)..mine.next_offset().min(to) {
            while theirs.next_if(|t| t.next_offset() <= offset).is_some() {}
            let at = |b: &super::log::Batch| (b.epoch, b.records[(offset - b.base_offset) as usize]);
            let held = theirs.peek().filter(|t| t.base_offset <= offset).map(|t| at(t));
            if held != Some(at(mine)) {
                return Some(offset);
            }
        }
    }
    None
}

impl StateChecker {
    /// A checker for the cluster's brokers and partitions, replica agreement judged unless the model runs a
    /// historical switch that lets replicas diverge.
    pub fn for_cluster(spec: &ClusterSpec) -> Self {
        let c = &spec.broker_config;
        let replicas_agree = c.truncation == TruncationMode::LeaderEpoch
            && c.follower_truncates_on_epoch_change
            && c.in_sync_rule == InSyncRule::HighWatermarkAndEpochStart;
        StateChecker::new(spec.broker_count as usize, spec.partitions.len(), replicas_agree)
    }

    /// Looks at every replica of broker `b` borrowed mutably since last time (`touched`), after it handled an
    /// event (or a fault acted on it). An event that borrowed none, such as a consumer's fetch, costs nothing.
    pub fn broker(&mut self, cluster: &Cluster, b: BrokerId, touched: Touched) -> Result<(), Breach> {
        if !cluster.is_up(cluster.spec.broker_node(b)) {
            self.forget(b);
            return Ok(());
        }
        let replicas = &cluster.broker(b).replicas;
        let look_at_all = std::mem::take(&mut self.look_at_all[b.index()]);
        let partitions: Vec<u32> = match touched {
            Touched::These(these) if !look_at_all => these,
            Touched::These(_) | Touched::All => (0..replicas.len() as u32).collect(),
        };
        for p in partitions.into_iter().map(|p| p as usize) {
            let Some(replica) = replicas[p].as_ref() else { continue };
            let seen = Seen::of_replica(replica);
            let before = self.seen[b.index()][p].replace(seen);
            if before == Some(seen) {
                continue;
            }
            let partition = PartitionId(p as u32);
            let mine = view(cluster, b, partition, replica);
            self.changed(&mine, before, |other| {
                let node = cluster.spec.broker_node(other);
                let r = cluster.is_up(node).then(|| cluster.broker(other).replicas[p].as_ref()).flatten()?;
                Some(view(cluster, other, partition, r))
            })?;
        }
        Ok(())
    }
}

fn view<'a>(cluster: &'a Cluster, broker: BrokerId, partition: PartitionId, r: &'a Replica) -> ReplicaView<'a> {
    let leads = match &r.role {
        Role::Leader(s) => Some(Leads { epoch: s.leader_epoch, partition_epoch: s.partition_epoch, isr: &s.isr }),
        Role::Follower(_) | Role::Unknown => None,
    };
    ReplicaView {
        broker,
        partition,
        replicas: &cluster.spec.partitions[partition.index()].replicas,
        log_start: r.log.log_start_offset(),
        high_watermark: r.log.high_watermark(),
        log_end: r.log.log_end_offset(),
        epochs: r.log.epoch_cache().entries(),
        leads,
        log: &r.log,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimTime;
    use crate::kafka::ids::ClientId;
    use crate::kafka::log::Record;
    use std::rc::Rc;

    const REPLICAS: [BrokerId; 3] = [BrokerId(1), BrokerId(2), BrokerId(3)];
    const ISR: [BrokerId; 3] = REPLICAS;

    fn log_of(send_seqs: &[&[u64]]) -> ReplicaLog {
        let mut log = ReplicaLog::default();
        for batch in send_seqs {
            let records: Vec<Record> = batch
                .iter()
                .map(|&send_seq| Record { producer: ClientId(0), send_seq, key: None, size_bytes: 1 })
                .collect();
            log.append_as_leader(Rc::from(records), 1, None, SimTime::ZERO);
        }
        log
    }

    /// Broker `b`'s replica of partition 0 with `log`, its offsets as given, leading at `epoch` if set.
    fn view<'a>(
        b: u32,
        log: &'a ReplicaLog,
        (start, hw, end): (Offset, Offset, Offset),
        epoch: Option<i32>,
    ) -> ReplicaView<'a> {
        ReplicaView {
            broker: BrokerId(b),
            partition: PartitionId(0),
            replicas: &REPLICAS,
            log_start: start,
            high_watermark: hw,
            log_end: end,
            epochs: &[],
            leads: epoch.map(|epoch| Leads { epoch, partition_epoch: 0, isr: &ISR }),
            log,
        }
    }

    fn nobody<'a>(_: BrokerId) -> Option<ReplicaView<'a>> {
        None
    }

    fn fired(result: Result<(), Breach>) -> Option<StateInvariant> {
        result.err().map(|b| b.invariant)
    }

    #[test]
    fn a_high_watermark_beyond_the_log_end_breaks_offset_order() {
        let log = log_of(&[&[0, 1]]);
        let mut checker = StateChecker::new(3, 1, true);
        assert_eq!(fired(checker.replica(&view(1, &log, (0, 2, 2), None), nobody)), None);
        let breach = checker.replica(&view(1, &log, (0, 3, 2), None), nobody);
        assert_eq!(fired(breach), Some(StateInvariant::OffsetsOrdered));
        let below_start = checker.replica(&view(2, &log, (2, 1, 2), None), nobody);
        assert_eq!(fired(below_start), Some(StateInvariant::OffsetsOrdered));
    }

    // LeaderEpochFileCache: epochs and their start offsets only grow.
    #[test]
    fn an_epoch_cache_that_goes_back_is_a_breach() {
        let log = log_of(&[]);
        let mut checker = StateChecker::new(3, 1, true);
        let growing = [EpochEntry { epoch: 1, start_offset: 0 }, EpochEntry { epoch: 3, start_offset: 5 }];
        let v = ReplicaView { epochs: &growing, ..view(1, &log, (0, 0, 0), None) };
        assert_eq!(fired(checker.replica(&v, nobody)), None);
        let back = [EpochEntry { epoch: 3, start_offset: 0 }, EpochEntry { epoch: 2, start_offset: 5 }];
        let v = ReplicaView { epochs: &back, ..view(2, &log, (0, 0, 0), None) };
        assert_eq!(fired(checker.replica(&v, nobody)), Some(StateInvariant::EpochCacheGrows));
        let same_start = [EpochEntry { epoch: 1, start_offset: 4 }, EpochEntry { epoch: 2, start_offset: 4 }];
        let v = ReplicaView { epochs: &same_start, ..view(3, &log, (0, 0, 0), None) };
        assert_eq!(fired(checker.replica(&v, nobody)), Some(StateInvariant::EpochCacheGrows));
    }

    #[test]
    fn an_isr_outside_the_replicas_or_without_its_leader_is_a_breach() {
        let log = log_of(&[]);
        let with_isr = |b: u32, isr: &'static [BrokerId]| ReplicaView {
            leads: Some(Leads { epoch: b as i32, partition_epoch: 0, isr }),
            ..view(b, &log, (0, 0, 0), None)
        };
        let mut checker = StateChecker::new(3, 1, true);
        assert_eq!(fired(checker.replica(&with_isr(1, &[BrokerId(1), BrokerId(3)]), nobody)), None);
        let outside = checker.replica(&with_isr(2, &[BrokerId(2), BrokerId(4)]), nobody);
        assert_eq!(fired(outside), Some(StateInvariant::IsrWithinReplicas));
        let without_leader = checker.replica(&with_isr(3, &[BrokerId(1)]), nobody);
        assert_eq!(fired(without_leader), Some(StateInvariant::IsrWithinReplicas));
        let mut checker = StateChecker::new(3, 1, true);
        assert_eq!(fired(checker.replica(&with_isr(1, &[]), nobody)), Some(StateInvariant::IsrWithinReplicas));
    }

    // ReplicationControlManager gives each leader epoch one leader; a broker still leading at an epoch that a
    // second one claims is a split brain. A leader at a later epoch, or beside a stopped one, is not.
    #[test]
    fn two_running_leaders_at_one_epoch_are_a_breach() {
        let log = log_of(&[&[0]]);
        let first = view(1, &log, (0, 0, 1), Some(4));
        let running = |b: BrokerId| (b == BrokerId(1)).then_some(first);
        let mut checker = StateChecker::new(3, 1, true);
        assert_eq!(fired(checker.replica(&first, nobody)), None);
        assert_eq!(fired(checker.replica(&view(2, &log, (0, 0, 1), Some(5)), running)), None);
        let split = checker.replica(&view(3, &log, (0, 0, 1), Some(4)), running);
        assert_eq!(fired(split), Some(StateInvariant::OneLeaderPerEpoch));
        let mut checker = StateChecker::new(3, 1, true);
        assert_eq!(fired(checker.replica(&first, nobody)), None);
        assert_eq!(fired(checker.replica(&view(3, &log, (0, 0, 1), Some(4)), nobody)), None, "broker 1 stopped");
    }

    // Partition.maybeIncrementLeaderHW: within its epoch a leader's high watermark only moves forward; a new
    // leader may start lower.
    #[test]
    fn a_leader_high_watermark_moving_back_within_its_epoch_is_a_breach() {
        let log = log_of(&[&[0, 1, 2, 3, 4]]);
        let mut checker = StateChecker::new(3, 1, false);
        assert_eq!(fired(checker.replica(&view(1, &log, (0, 4, 5), Some(1)), nobody)), None);
        assert_eq!(fired(checker.replica(&view(1, &log, (0, 2, 5), Some(2)), nobody)), None);
        let back = checker.replica(&view(1, &log, (0, 1, 5), Some(2)), nobody);
        assert_eq!(fired(back), Some(StateInvariant::LeaderHighWatermarkForward));
    }

    // The ISR's definition: a follower in it holds the leader's records below the high watermark.
    #[test]
    fn an_isr_member_holding_another_record_below_the_high_watermark_is_a_breach() {
        let leader = log_of(&[&[0, 1, 2]]);
        let copied = leader.clone();
        let diverged = log_of(&[&[0], &[7, 2]]);
        for (follower, replicas_agree, expected) in [
            (&copied, true, None),
            (&diverged, true, Some(StateInvariant::InSyncReplicasAgree)),
            (&diverged, false, None),
        ] {
            let mut checker = StateChecker::new(3, 1, replicas_agree);
            let running = |b: BrokerId| (b == BrokerId(2)).then(|| view(2, follower, (0, 0, 3), None));
            assert_eq!(fired(checker.replica(&view(1, &leader, (0, 0, 3), Some(1)), running)), None);
            let advanced = checker.replica(&view(1, &leader, (0, 3, 3), Some(1)), running);
            assert_eq!(fired(advanced), expected, "agreement judged: {replicas_agree}");
        }
        // A diverged record at or above the high watermark is not yet committed: no breach.
        let mut checker = StateChecker::new(3, 1, true);
        let running = |b: BrokerId| (b == BrokerId(2)).then(|| view(2, &diverged, (0, 0, 3), None));
        assert_eq!(fired(checker.replica(&view(1, &leader, (0, 0, 3), Some(1)), running)), None);
        assert_eq!(fired(checker.replica(&view(1, &leader, (0, 1, 3), Some(1)), running)), None);
    }
}
