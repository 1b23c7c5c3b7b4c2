//! The leader's view of a partition and Kafka's replication rules over it (kafka.cluster.Partition and
//! kafka.cluster.Replica): follower fetch state, ISR shrink, ISR expand, the high watermark, acks=all checks.
//! Everything here is a pure function of the state passed in; the broker applies the results.

use super::ids::{BrokerId, LeaderEpoch, Offset};
use super::messages::{BrokerEpoch, KafkaError};
use crate::engine::SimTime;

/// What the leader knows of one follower (Replica.ReplicaState).
#[derive(Clone, Debug)]
pub struct FollowerProgress {
    pub broker: BrokerId,
    /// The follower's log end offset as its last fetch reported it; `None` until it fetches from this leader.
    pub log_end_offset: Option<Offset>,
    /// When it was last caught up with the leader; `None` if never under this leader (Kafka starts such a
    /// replica at 0 ms since the epoch: long ago).
    pub last_caught_up_time: Option<SimTime>,
    pub last_fetch_leader_log_end_offset: Option<Offset>,
    pub last_fetch_time: SimTime,
    /// The broker epoch its last fetch carried (KIP-903, ReplicaState.brokerEpoch).
    pub broker_epoch: Option<BrokerEpoch>,
}

/// An ISR change sent to the controller and not yet answered (PendingExpandIsr / PendingShrinkIsr); a retry
/// sends it again as it was, broker epochs included (AlterPartitionManager).
#[derive(Clone, Debug)]
pub struct PendingIsr {
    pub proposed: Vec<BrokerId>,
    pub broker_epochs: Vec<Option<BrokerEpoch>>,
    pub sent_at: SimTime,
}

/// State a broker keeps for a partition it leads.
#[derive(Clone, Debug)]
pub struct LeaderState {
    pub leader: BrokerId,
    pub leader_epoch: LeaderEpoch,
    pub partition_epoch: i32,
    /// The ISR as the controller committed it.
    pub isr: Vec<BrokerId>,
    pub pending: Option<PendingIsr>,
    pub followers: Vec<FollowerProgress>,
    /// The log end offset when this leader's epoch began (the leader-epoch start offset).
    pub epoch_start_offset: Offset,
}

impl LeaderState {
    /// Partition.makeLeader / Replica.resetReplicaState: a new leader forgets follower offsets; ISR members count
    /// as caught up now, the others as never.
    pub fn new(
        leader: BrokerId,
        replicas: &[BrokerId],
        isr: Vec<BrokerId>,
        leader_epoch: LeaderEpoch,
        partition_epoch: i32,
        epoch_start_offset: Offset,
        now: SimTime,
    ) -> Self {
        let followers = replicas
            .iter()
            .filter(|&&b| b != leader)
            .map(|&broker| FollowerProgress {
                broker,
                log_end_offset: None,
                last_caught_up_time: isr.contains(&broker).then_some(now),
                last_fetch_leader_log_end_offset: None,
                last_fetch_time: SimTime::ZERO,
                broker_epoch: None,
            })
            .collect();
        LeaderState { leader, leader_epoch, partition_epoch, isr, pending: None, followers, epoch_start_offset }
    }

    /// The size of the "maximal" ISR (KIP-497): the committed ISR plus a replica whose addition is in flight.
    /// A pending shrink still counts the replicas being removed.
    pub fn maximal_isr_len(&self) -> usize {
        let added = self.pending.as_ref().map_or(0, |p| p.proposed.iter().filter(|b| !self.isr.contains(b)).count());
        self.isr.len() + added
    }

    fn maximal_isr_contains(&self, broker: BrokerId) -> bool {
        self.isr.contains(&broker) || self.pending.as_ref().is_some_and(|p| p.proposed.contains(&broker))
    }

    /// The controller committed `isr` at `partition_epoch` (Partition.handleAlterPartitionUpdate, or a metadata
    /// update of this leader's epoch). A committed ISR is never empty, holds the leader (a leader only leaves the
    /// ISR by losing leadership) and only replicas of the partition; partition epochs never go back.
    pub fn commit_isr(&mut self, isr: Vec<BrokerId>, partition_epoch: i32) {
        assert!(
            partition_epoch >= self.partition_epoch,
            "partition epoch went back from {} to {partition_epoch}",
            self.partition_epoch
        );
        assert!(isr.contains(&self.leader), "committed ISR {isr:?} without its leader {:?}", self.leader);
        let is_replica = |b: &BrokerId| *b == self.leader || self.followers.iter().any(|f| f.broker == *b);
        assert!(isr.iter().all(is_replica), "committed ISR {isr:?} holds a broker that is not a replica");
        self.isr = isr;
        self.partition_epoch = partition_epoch;
        self.pending = None;
    }

    pub fn follower_mut(&mut self, broker: BrokerId) -> Option<&mut FollowerProgress> {
        self.followers.iter_mut().find(|f| f.broker == broker)
    }
}

/// Replica.updateFetchStateOrThrow: a fetch at `fetch_offset` when the leader's log ended at `leader_leo` catches
/// the follower up now; a fetch that reaches the leader's end as of the previous fetch caught it up back then.
/// Replica.updateFetchStateOrThrow (KIP-903): a fetch carrying an older broker epoch than the follower's
/// registration in the leader's metadata (getAliveBrokerEpoch) is from a previous incarnation and is refused;
/// otherwise its epoch is kept.
pub fn record_follower_epoch(
    f: &mut FollowerProgress,
    epoch: Option<BrokerEpoch>,
    registered: Option<BrokerEpoch>,
) -> Result<(), KafkaError> {
    let Some(epoch) = epoch else { return Ok(()) };
    if registered.is_some_and(|current| current > epoch) {
        return Err(KafkaError::NOT_LEADER_OR_FOLLOWER);
    }
    f.broker_epoch = Some(epoch);
    Ok(())
}

/// Partition.isBrokerEpochIsrEligible (KIP-903): the follower's fetches carried the broker epoch the metadata
/// has for its current registration.
pub fn broker_epoch_is_current(f: &FollowerProgress, registered: Option<BrokerEpoch>) -> bool {
    f.broker_epoch.is_some() && f.broker_epoch == registered
}

pub fn record_follower_fetch(f: &mut FollowerProgress, fetch_offset: Offset, leader_leo: Offset, now: SimTime) {
    if fetch_offset >= leader_leo {
        f.last_caught_up_time = f.last_caught_up_time.max(Some(now));
    } else if f.last_fetch_leader_log_end_offset.is_some_and(|prev| fetch_offset >= prev) {
        f.last_caught_up_time = f.last_caught_up_time.max(Some(f.last_fetch_time));
    }
    f.log_end_offset = Some(fetch_offset);
    f.last_fetch_leader_log_end_offset = Some(f.last_fetch_leader_log_end_offset.unwrap_or(0).max(leader_leo));
    f.last_fetch_time = now;
}

/// ReplicaState.isCaughtUp: at the leader's log end, or caught up within `replica.lag.time.max.ms`.
fn is_caught_up(f: &FollowerProgress, leader_leo: Offset, now: SimTime, lag_max_us: u64) -> bool {
    f.log_end_offset == Some(leader_leo) || f.last_caught_up_time.is_some_and(|t| now.since_us(t) <= lag_max_us)
}

/// ISR shrink (Partition.getOutOfSyncReplicas): the committed ISR's followers that are not caught up. Nothing
/// while an ISR change is in flight. Checked every `replica.lag.time.max.ms` / 2 (ReplicaManager isr-expiration).
pub fn out_of_sync_followers(state: &LeaderState, leader_leo: Offset, now: SimTime, lag_max_us: u64) -> Vec<BrokerId> {
    if state.pending.is_some() {
        return Vec::new();
    }
    state
        .followers
        .iter()
        .filter(|f| state.isr.contains(&f.broker) && !is_caught_up(f, leader_leo, now, lag_max_us))
        .map(|f| f.broker)
        .collect()
}

/// How a follower's log end qualifies it for the ISR (Partition.isFollowerInSync).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub enum InSyncRule {
    /// At the high watermark and the start of the leader's current epoch (KAFKA-7128, 2.0.1+).
    HighWatermarkAndEpochStart,
    /// At the high watermark only (before 2.0.1): a new leader's lagging high watermark lets a follower join
    /// without the committed records above it.
    HighWatermarkOnly,
}

/// ISR expand (Partition.canAddReplicaToIsr / isFollowerInSync): no change in flight, not yet in the ISR, eligible
/// (not fenced or shutting down, per the broker's metadata), and its log end has reached the high watermark and
/// (KAFKA-7128) the start of the leader's current epoch.
pub fn can_join_isr(
    state: &LeaderState,
    follower: BrokerId,
    eligible: bool,
    high_watermark: Offset,
    rule: InSyncRule,
) -> bool {
    if state.pending.is_some() || state.isr.contains(&follower) || !eligible {
        return false;
    }
    let Some(f) = state.followers.iter().find(|f| f.broker == follower) else {
        return false;
    };
    let past_epoch_start = |leo| rule == InSyncRule::HighWatermarkOnly || leo >= state.epoch_start_offset;
    f.log_end_offset.is_some_and(|leo| leo >= high_watermark && past_epoch_start(leo))
}

/// Partition.maybeIncrementLeaderHW: the new high watermark, if it moves forward. It is the least log end offset
/// over the leader and every follower in the maximal ISR or caught up and eligible to join (3.6+, KAFKA-15021).
/// With `frozen_under_min_isr` (3.7+, KAFKA-15583) it does not move while the committed ISR is below min ISR.
pub struct HighWatermarkInputs<'a> {
    pub state: &'a LeaderState,
    pub leader_leo: Offset,
    pub current: Offset,
    pub now: SimTime,
    pub lag_max_us: u64,
    pub effective_min_isr: usize,
    pub frozen_under_min_isr: bool,
    pub is_eligible: &'a dyn Fn(BrokerId) -> bool,
}

pub fn next_high_watermark(i: &HighWatermarkInputs<'_>) -> Option<Offset> {
    if i.frozen_under_min_isr && i.state.isr.len() < i.effective_min_isr {
        return None;
    }
    let mut hw = i.leader_leo;
    for f in &i.state.followers {
        let holds_back = i.state.maximal_isr_contains(f.broker)
            || (is_caught_up(f, i.leader_leo, i.now, i.lag_max_us) && (i.is_eligible)(f.broker));
        if holds_back {
            hw = hw.min(f.log_end_offset.unwrap_or(0));
        }
    }
    (hw > i.current).then_some(hw)
}

/// acks=all before appending (Partition.appendRecordsToLeader): the committed ISR must have at least
/// min(min.insync.replicas, replication factor) members, else NOT_ENOUGH_REPLICAS and nothing is appended.
pub fn enough_replicas_to_append(state: &LeaderState, effective_min_isr: usize) -> bool {
    state.isr.len() >= effective_min_isr
}

/// acks=all once the high watermark reached the batch (Partition.checkEnoughReplicasReachOffset): OK if the
/// maximal ISR still has min ISR members, else NOT_ENOUGH_REPLICAS_AFTER_APPEND (the records stay in the log).
pub fn enough_replicas_after_append(state: &LeaderState, effective_min_isr: usize) -> bool {
    state.maximal_isr_len() >= effective_min_isr
}

#[cfg(test)]
mod tests {
    use super::*;

    // Replica.updateFetchStateOrThrow (KIP-903): a fetch from an older incarnation than the metadata's is
    // refused; a newer one replaces it; and only a fetch with the registration's current epoch makes the
    // follower eligible for the ISR (Partition.isBrokerEpochIsrEligible).
    #[test]
    fn broker_epochs_of_follower_fetches() {
        let s = LeaderState::new(BrokerId(1), &[BrokerId(1), BrokerId(2)], vec![BrokerId(1)], 0, 0, 0, SimTime::ZERO);
        let mut f = s.followers[0].clone();
        assert!(!broker_epoch_is_current(&f, Some(4)), "no fetch yet");
        assert_eq!(record_follower_epoch(&mut f, Some(4), Some(4)), Ok(()));
        assert!(broker_epoch_is_current(&f, Some(4)));
        assert_eq!(record_follower_epoch(&mut f, Some(3), Some(4)), Err(KafkaError::NOT_LEADER_OR_FOLLOWER));
        assert_eq!(record_follower_epoch(&mut f, Some(5), Some(4)), Ok(()), "the metadata has not caught up");
        assert!(!broker_epoch_is_current(&f, Some(4)), "the metadata still has the old registration");
    }

    const LAG: u64 = 30_000_000;

    #[test]
    fn a_committed_isr_replaces_the_pending_change() {
        let mut s = leader_with(&[1, 2]);
        s.pending = Some(PendingIsr { proposed: vec![BrokerId(1)], broker_epochs: vec![], sent_at: SimTime::ZERO });
        s.commit_isr(vec![BrokerId(1)], 2);
        assert_eq!((s.isr.clone(), s.partition_epoch, s.pending.is_none()), (vec![BrokerId(1)], 2, true));
    }

    #[test]
    #[should_panic(expected = "without its leader")]
    fn a_committed_isr_without_the_leader_trips() {
        leader_with(&[1, 2]).commit_isr(vec![BrokerId(2)], 2);
    }

    #[test]
    #[should_panic(expected = "not a replica")]
    fn a_committed_isr_with_a_stranger_trips() {
        leader_with(&[1, 2]).commit_isr(vec![BrokerId(1), BrokerId(7)], 2);
    }

    #[test]
    #[should_panic(expected = "partition epoch went back")]
    fn a_committed_isr_of_an_older_partition_epoch_trips() {
        leader_with(&[1, 2]).commit_isr(vec![BrokerId(1)], 0);
    }

    fn leader_with(isr: &[u32]) -> LeaderState {
        let replicas = [BrokerId(1), BrokerId(2), BrokerId(3)];
        let isr = isr.iter().map(|&b| BrokerId(b)).collect();
        LeaderState::new(BrokerId(1), &replicas, isr, 1, 1, 0, SimTime::ZERO)
    }

    fn inputs<'a>(state: &'a LeaderState, leo: Offset, now: SimTime, min_isr: usize) -> HighWatermarkInputs<'a> {
        HighWatermarkInputs {
            state,
            leader_leo: leo,
            current: 0,
            now,
            lag_max_us: LAG,
            effective_min_isr: min_isr,
            frozen_under_min_isr: true,
            is_eligible: &|_| true,
        }
    }

    // Replica.updateFetchStateOrThrow: fetching at the leader's end catches the follower up at this fetch's time.
    #[test]
    fn fetch_at_leader_end_catches_up_now() {
        let mut s = leader_with(&[1, 2, 3]);
        let f = s.follower_mut(BrokerId(2)).unwrap();
        record_follower_fetch(f, 10, 10, SimTime(5_000));
        assert_eq!(f.last_caught_up_time, Some(SimTime(5_000)));
    }

    // Same rule: reaching the leader's end as of the previous fetch counts from the previous fetch's time.
    #[test]
    fn reaching_previous_leader_end_catches_up_at_previous_fetch() {
        let mut s = leader_with(&[1, 2, 3]);
        let f = s.follower_mut(BrokerId(2)).unwrap();
        record_follower_fetch(f, 5, 10, SimTime(1_000));
        record_follower_fetch(f, 10, 20, SimTime(2_000));
        assert_eq!(f.last_caught_up_time, Some(SimTime(1_000)));
    }

    // Partition.getOutOfSyncReplicas: behind the leader and not caught up for more than replica.lag.time.max.ms.
    #[test]
    fn follower_behind_for_longer_than_lag_time_is_out_of_sync() {
        let mut s = leader_with(&[1, 2, 3]);
        record_follower_fetch(s.follower_mut(BrokerId(2)).unwrap(), 100, 100, SimTime(0));
        record_follower_fetch(s.follower_mut(BrokerId(3)).unwrap(), 100, 100, SimTime(0));
        let just_within = SimTime(LAG);
        assert!(out_of_sync_followers(&s, 150, just_within, LAG).is_empty());
        assert_eq!(out_of_sync_followers(&s, 150, SimTime(LAG + 1), LAG), vec![BrokerId(2), BrokerId(3)]);
        // A follower at the leader's log end is never out of sync, however long ago it caught up.
        assert!(out_of_sync_followers(&s, 100, SimTime(10 * LAG), LAG).is_empty());
    }

    // Partition.getOutOfSyncReplicas returns nothing while an AlterPartition is in flight.
    #[test]
    fn no_shrink_while_an_isr_change_is_pending() {
        let mut s = leader_with(&[1, 2, 3]);
        s.pending = Some(PendingIsr {
            proposed: vec![BrokerId(1), BrokerId(2)],
            broker_epochs: vec![None; 2],
            sent_at: SimTime::ZERO,
        });
        assert!(out_of_sync_followers(&s, 150, SimTime(10 * LAG), LAG).is_empty());
    }

    // Partition.isFollowerInSync: LEO ≥ HW and ≥ the leader epoch's start offset.
    #[test]
    fn follower_joins_isr_only_past_hw_and_epoch_start() {
        let mut s = leader_with(&[1, 2]);
        s.epoch_start_offset = 50;
        record_follower_fetch(s.follower_mut(BrokerId(3)).unwrap(), 40, 60, SimTime(0));
        let rule = InSyncRule::HighWatermarkAndEpochStart;
        assert!(!can_join_isr(&s, BrokerId(3), true, 30, rule), "below the epoch start offset");
        // KAFKA-7128: before 2.0.1 the high watermark alone decided.
        assert!(can_join_isr(&s, BrokerId(3), true, 30, InSyncRule::HighWatermarkOnly));
        record_follower_fetch(s.follower_mut(BrokerId(3)).unwrap(), 55, 60, SimTime(0));
        assert!(can_join_isr(&s, BrokerId(3), true, 55, rule));
        assert!(!can_join_isr(&s, BrokerId(3), true, 56, rule), "below the high watermark");
        assert!(!can_join_isr(&s, BrokerId(3), false, 55, rule), "a fenced broker is not eligible");
    }

    // Partition.maybeIncrementLeaderHW: the least LEO over the maximal ISR.
    #[test]
    fn high_watermark_is_min_leo_over_isr() {
        let mut s = leader_with(&[1, 2, 3]);
        record_follower_fetch(s.follower_mut(BrokerId(2)).unwrap(), 7, 10, SimTime(0));
        record_follower_fetch(s.follower_mut(BrokerId(3)).unwrap(), 9, 10, SimTime(0));
        assert_eq!(next_high_watermark(&inputs(&s, 10, SimTime(0), 1)), Some(7));
    }

    // KAFKA-15583 (3.7+): no HW progress while the committed ISR is smaller than min.insync.replicas.
    #[test]
    fn high_watermark_frozen_under_min_isr() {
        let s = leader_with(&[1]);
        assert_eq!(next_high_watermark(&inputs(&s, 10, SimTime(LAG * 10), 2)), None);
        let mut old = inputs(&s, 10, SimTime(LAG * 10), 2);
        old.frozen_under_min_isr = false;
        assert_eq!(next_high_watermark(&old), Some(10));
    }

    // Replica.resetReplicaState: a replica outside the ISR starts as never caught up, so before it fetches it
    // does not hold the high watermark back, even early in a run.
    #[test]
    fn out_of_sync_replica_that_never_fetched_does_not_hold_the_hw() {
        let mut s = leader_with(&[1, 2]);
        record_follower_fetch(s.follower_mut(BrokerId(2)).unwrap(), 10, 10, SimTime(0));
        assert_eq!(next_high_watermark(&inputs(&s, 10, SimTime(1_000), 1)), Some(10));
    }

    // KIP-497: a follower whose addition is pending already holds the HW back; one being removed still does.
    #[test]
    fn pending_isr_changes_use_the_maximal_isr() {
        let mut s = leader_with(&[1, 2]);
        record_follower_fetch(s.follower_mut(BrokerId(2)).unwrap(), 10, 10, SimTime(0));
        record_follower_fetch(s.follower_mut(BrokerId(3)).unwrap(), 4, 10, SimTime(0));
        s.pending = Some(PendingIsr {
            proposed: vec![BrokerId(1), BrokerId(2), BrokerId(3)],
            broker_epochs: vec![None; 3],
            sent_at: SimTime(0),
        });
        let far = SimTime(LAG * 10);
        assert_eq!(next_high_watermark(&inputs(&s, 10, far, 1)), Some(4));
        assert!(enough_replicas_after_append(&s, 3));
        assert!(!enough_replicas_to_append(&s, 3), "the pre-append check uses the committed ISR");
    }
}
