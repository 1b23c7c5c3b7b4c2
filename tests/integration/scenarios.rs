//! The bundled scenarios behave as Kafka does. Each test names the Kafka rule its expectation comes from and
//! checks both sides where there is a safe twin: the unsafe setting loses acknowledged writes, the safe one
//! keeps every one under the same faults.

use crate::support::{ack_times, attempt_errors, load, lost, run};
use insync::faults::FaultAction;
use insync::history::ClientEvent;
use insync::kafka::controller::ElectionType;
use insync::kafka::ids::BrokerId;
use insync::kafka::log::StorageLoss;
use insync::kafka::messages::ChangeReason;
use insync::kafka::obs::Obs;
use insync::sim::{Outcome, TraceEvent};

const S: u64 = 1_000_000;

/// The trace's cluster events, with their times.
fn cluster_events(outcome: &Outcome) -> Vec<(u64, &Obs)> {
    let trace = outcome.trace.as_ref().expect("tests keep the trace");
    trace
        .iter()
        .filter_map(|l| match &l.event {
            TraceEvent::Node(obs) if !matches!(obs, Obs::Client(_)) => Some((l.time_us, obs)),
            _ => None,
        })
        .collect()
}

fn first_election_after(outcome: &Outcome, after_us: u64) -> u64 {
    cluster_events(outcome)
        .into_iter()
        .find(|(t, obs)| *t > after_us && matches!(obs, Obs::LeaderElected { leader: Some(_), .. }))
        .map(|(t, _)| t)
        .expect("a leader was elected")
}

// ProducerConfig `acks=1`: the leader answers after its own append, so a leader lost before its followers
// copied the records loses them. The records acknowledged while the leader was cut off (10 s – 12 s) are lost.
#[test]
fn acks1_leader_crash_loses_acknowledged_writes() {
    let (_, outcome) = run("acks1-leader-crash");
    let lost = lost(&outcome);
    assert!(!lost.is_empty(), "acks=1 must lose the writes only the crashed leader had");
    for l in &lost {
        assert!(
            (10 * S..=12 * S).contains(&l.acked_at_us),
            "lost write acked at {} µs, outside the cut",
            l.acked_at_us
        );
    }
}

// acks=all waits for the HW (Partition.checkEnoughReplicasReachOffset): nothing is acknowledged while the
// followers cannot fetch, every acknowledged write survives the crash, and writes resume on the new leader.
#[test]
fn acks_all_min2_keeps_every_acknowledged_write_and_stays_writable() {
    let (_, outcome) = run("acks-all-min2-broker-crash");
    assert!(lost(&outcome).is_empty(), "acks=all with min.insync 2 lost {:?}", &lost(&outcome)[..1]);
    let elected = first_election_after(&outcome, 12 * S);
    let acks = ack_times(&outcome);
    let frozen = 10 * S + 100_000;
    assert!(!acks.iter().any(|&t| t > frozen && t < elected), "acknowledged while the followers could not fetch");
    assert!(acks.iter().any(|&t| t > elected), "no writes acknowledged after the failover");
}

// Partition.appendRecordsToLeader: acks=all is refused before append with NOT_ENOUGH_REPLICAS while the ISR is
// below min.insync.replicas. That starts once the second crashed broker is fenced (30 s + broker.session.timeout.ms
// 9 s) and ends once a returning broker is back in the ISR. With one broker down the ISR still has 2 and writes
// go on; nothing acknowledged is lost.
#[test]
fn two_brokers_down_refuses_writes_with_not_enough_replicas() {
    let (_, outcome) = run("acks-all-min2-two-down");
    assert!(lost(&outcome).is_empty());
    assert!(attempt_errors(&outcome, "NOT_ENOUGH_REPLICAS") > 0);
    // Per partition, when a returning broker first rejoins its ISR.
    let rejoined = |p: u32| {
        cluster_events(&outcome)
            .into_iter()
            .find(|(t, obs)| {
                *t > 60 * S
                    && matches!(obs, Obs::IsrChanged { partition, reason: ChangeReason::IsrExpand, .. } if partition.0 == p)
            })
            .map(|(t, _)| t)
            .expect("a returning broker rejoins the ISR")
    };
    for entry in &outcome.history.entries {
        if let ClientEvent::ProduceAttemptFailed { error, partition, .. } = &entry.event
            && error == "NOT_ENOUGH_REPLICAS"
        {
            let window = 39 * S..rejoined(*partition) + 10_000;
            assert!(window.contains(&entry.time_us), "NOT_ENOUGH_REPLICAS at {} µs", entry.time_us);
        }
    }
    let acks = ack_times(&outcome);
    assert!(acks.iter().any(|&t| (20 * S..30 * S).contains(&t)), "one broker down: writes must continue");
    assert!(acks.iter().any(|&t| t > 65 * S), "writes must resume once the brokers return");
    assert!(outcome.stats.sends_failed.contains_key("REQUEST_TIMED_OUT"), "delivery.timeout.ms expires sends");
    // Reads of what was committed continue from the broker left: the `audit` group (consumer 1), started at
    // 35 s, reads the topic from its beginning while writes are refused.
    let reads_while_down = |consumer_index: u32| {
        outcome.history.entries.iter().filter(move |e| {
            matches!(e.event, ClientEvent::Processed { consumer, .. } if consumer == consumer_index)
                && (40 * S..60 * S).contains(&e.time_us)
        })
    };
    assert!(reads_while_down(1).count() > 0, "no reads while two brokers were down");
    // The other side: nothing sent after broker-3's crash is visible before the brokers return. Broker-3 holds
    // the high watermark while it is in the ISR; once fenced, the ISR is below min.insync.replicas and the
    // high watermark stays where it was (KAFKA-15583).
    let sent_at: std::collections::BTreeMap<u64, u64> = outcome
        .history
        .entries
        .iter()
        .filter_map(|e| match e.event {
            ClientEvent::SendInvoked { send_seq, .. } => Some((send_seq, e.time_us)),
            _ => None,
        })
        .collect();
    for consumer in [0, 1] {
        for e in reads_while_down(consumer) {
            let ClientEvent::Processed { send_seq, .. } = e.event else { unreachable!() };
            assert!(sent_at[&send_seq] < 30 * S, "read at {} µs a record sent after the crash", e.time_us);
        }
    }
}

// `unclean.leader.election.enable` (KIP-106): an out-of-sync replica elected leader loses what only the ISR had;
// with it off the partition stays offline until the last ISR member returns, and nothing is lost.
#[test]
fn unclean_election_loses_what_clean_election_keeps() {
    let (_, unclean) = run("unclean-election");
    assert_eq!(unclean.stats.unclean_leader_elections, 1);
    assert!(!lost(&unclean).is_empty(), "the unclean leader's log lacks acknowledged writes");

    let (_, clean) = run("unclean-election-off");
    assert_eq!(clean.stats.unclean_leader_elections, 0);
    assert!(lost(&clean).is_empty());
    let back = first_election_after(&clean, 20 * S);
    assert!(back >= 40 * S, "elected at {back} µs, before the last ISR member returned");
    let acks = ack_times(&clean);
    assert!(!acks.iter().any(|&t| t > 20 * S + 100_000 && t < 40 * S), "acknowledged while offline");
}

// KIP-101 scenario 1: truncating to the high watermark on becoming follower, then a second quick leader change,
// loses committed (acks=all, min.insync 2) writes; leader-epoch truncation keeps them.
#[test]
fn legacy_truncation_loses_committed_data_that_leader_epochs_keep() {
    let (_, legacy) = run("legacy-truncation");
    assert!(!lost(&legacy).is_empty(), "truncating to the HW must lose the committed tail");
    let truncated_by_hw = cluster_events(&legacy)
        .iter()
        .any(|(_, obs)| matches!(obs, Obs::Truncated { broker: BrokerId(3), reason, .. } if reason.contains("high watermark")));
    assert!(truncated_by_hw, "broker-3 should truncate to its high watermark when it becomes a follower");

    let (_, epochs) = run("kip101-leader-epoch");
    assert!(lost(&epochs).is_empty(), "leader epochs must keep every acknowledged write");
}

// Partition.getOutOfSyncReplicas: followers that have not caught up for replica.lag.time.max.ms (10 s) are
// dropped by the leader's isr-expiration task, which runs every lag/2 (5 s): the shrink lands between 15 s and
// 20 s after the 5 s cut (plus a round trip to the controller). The controller still hears the leader, so no
// election; with min.insync.replicas 1 writes continue.
#[test]
fn leader_cut_off_from_followers_shrinks_the_isr_without_an_election() {
    let (_, outcome) = run("leader-cut-off-from-followers");
    let events = cluster_events(&outcome);
    let shrink = events.iter().find(|(_, obs)| matches!(obs, Obs::IsrChanged { reason: ChangeReason::IsrShrink, .. }));
    let &(at, obs) = shrink.expect("the ISR shrinks");
    assert!((15 * S..=20 * S + 50_000).contains(&at), "shrink at {at} µs");
    assert!(matches!(obs, Obs::IsrChanged { isr, .. } if isr == &vec![BrokerId(1)]));
    assert!(!events.iter().any(|(_, obs)| matches!(obs, Obs::LeaderElected { .. })));
    let acks = ack_times(&outcome);
    assert!(acks.iter().any(|&t| (21 * S..40 * S).contains(&t)), "min.insync 1: writes continue on the leader alone");
    assert!(lost(&outcome).is_empty());
    let final_isr = &outcome.partitions[0].isr;
    assert_eq!(final_isr.len(), 3, "after the heal the followers catch up and rejoin: {final_isr:?}");
}

/// Where (which node) and when the trace shows `pred`.
fn traced(outcome: &Outcome, pred: impl Fn(&Obs) -> bool) -> Vec<(u64, String)> {
    let trace = outcome.trace.as_ref().expect("tests keep the trace");
    trace
        .iter()
        .filter_map(|l| match &l.event {
            TraceEvent::Node(obs) if pred(obs) => Some((l.time_us, l.node.clone())),
            _ => None,
        })
        .collect()
}

// KIP-595: voters that stop hearing from the leader for controller.quorum.fetch.timeout.ms (2 s) elect a new
// one (within an election timeout or two); KIP-631: the new active controller fences a crashed broker after
// broker.session.timeout.ms (9 s) and moves its leadership.
#[test]
fn a_new_active_controller_takes_over_and_keeps_fencing() {
    let (_, outcome) = run("controller-failover");
    let elected = traced(&outcome, |o| matches!(o, Obs::ControllerElected { .. }));
    let &(at, ref by) = elected.first().expect("a controller election");
    assert!((12 * S..15 * S).contains(&at), "controller elected at {at} µs");
    assert_ne!(by, "controller-1", "the crashed controller cannot win");
    let fenced = traced(&outcome, |o| matches!(o, Obs::BrokerFenced { broker: BrokerId(1) }));
    let &(at, ref by) = fenced.first().expect("broker-1 is fenced");
    assert!((29 * S..30 * S).contains(&at), "fenced at {at} µs");
    assert_eq!(by, &elected[0].1);
    assert!(lost(&outcome).is_empty());
    assert!(ack_times(&outcome).iter().any(|&t| t > 31 * S), "writes continue after the failover");
}

// KIP-595: a record commits only on a majority, so the active controller cut off with a minority cannot fence
// anyone (brokers 2 and 3 stay unfenced though it no longer hears them) and resigns; the majority elects a new
// active controller, which fences broker-1, cut off with the old one.
#[test]
fn a_controller_cut_off_from_the_majority_cannot_act() {
    let (_, outcome) = run("controller-minority");
    let resigned = traced(&outcome, |o| matches!(o, Obs::ControllerResigned { .. }));
    assert!(resigned.iter().any(|(t, by)| by == "controller-1" && *t < 14 * S), "{resigned:?}");
    let fenced = traced(&outcome, |o| matches!(o, Obs::BrokerFenced { .. }));
    assert!(!fenced.iter().any(|(_, by)| by == "controller-1"), "the minority controller fenced someone: {fenced:?}");
    let fenced_brokers: Vec<BrokerId> = cluster_events(&outcome)
        .iter()
        .filter_map(|(_, o)| match o {
            Obs::BrokerFenced { broker } => Some(*broker),
            _ => None,
        })
        .collect();
    assert_eq!(fenced_brokers, vec![BrokerId(1)]);
    assert!(lost(&outcome).is_empty());
}

// KIP-631: a controlled shutdown moves leadership before the broker stops, so the handover takes a round trip
// to the controller, not broker.session.timeout.ms.
#[test]
fn controlled_shutdown_hands_leadership_over_before_stopping() {
    let (_, outcome) = run("controlled-shutdown");
    let moved = first_election_after(&outcome, 10 * S);
    assert!(moved < 10 * S + 50_000, "leadership moved at {moved} µs");
    let stopped = traced(&outcome, |o| matches!(o, Obs::ShutdownComplete { .. }));
    assert!(stopped.first().is_some_and(|&(t, _)| t >= moved), "the broker stops only after the handover");
    assert!(lost(&outcome).is_empty());
    assert_eq!(outcome.stats.sends_failed.values().sum::<u64>(), 0);

    // The hard-crash twin: the controller moves leadership only once broker-1's session expires
    // (broker.session.timeout.ms, 9 s), and acknowledgements of the crashed leader's partition stop meanwhile;
    // after a controlled shutdown they resume within a retry.
    let (_, crashed) = run("leader-hard-crash");
    let crash_at = crashed.faults.iter().find(|(_, f)| f.contains(": crash ")).map(|(t, _)| *t).expect("crashed");
    let moved_after_crash = first_election_after(&crashed, crash_at);
    // BrokerHeartbeatManager: the session ends broker.session.timeout.ms (9 s) after the last heartbeat, which
    // came at most broker.heartbeat.interval.ms (2 s) before the crash.
    let session_expired = crash_at + 9 * S - 2 * S;
    assert!(
        moved_after_crash >= session_expired,
        "leadership moved at {moved_after_crash} µs, before the session expired"
    );
    let longest_ack_gap = |o: &Outcome| {
        let times = ack_times(o);
        times.windows(2).filter(|w| w[0] >= 10 * S && w[0] < 30 * S).map(|w| w[1] - w[0]).max().unwrap_or(0)
    };
    assert!(longest_ack_gap(&outcome) < S, "controlled: acks pause {} µs", longest_ack_gap(&outcome));
}

// Kafka does not fsync (log.flush.interval.messages is unbounded): after a power loss a broker keeps only what
// the OS had written back, pages dirty for more than vm.dirty_expire_centisecs (30 s). The last in-sync replica
// losing power at 40 s loses what it acknowledged after about 10 s; the same crash with the OS up (a process
// crash, page cache intact) loses nothing.
#[test]
fn a_power_loss_of_the_last_in_sync_replica_loses_its_unwritten_tail() {
    let (s, outcome) = run("lost-page-cache");
    let lost = lost(&outcome);
    assert!(!lost.is_empty());
    let written_back_by = 40 * S - 30 * S;
    let oldest = lost.iter().map(|l| l.acked_at_us).min().unwrap_or(0);
    assert!(oldest >= written_back_by - 5 * S, "lost a write acked at {oldest} µs, long written back");

    let mut process_crash = s.sim.clone();
    for fault in &mut process_crash.faults {
        if let FaultAction::Crash { loss, .. } = &mut fault.action {
            *loss = StorageLoss::Nothing;
        }
    }
    let kept = insync::sim::run(&process_crash, s.seed, false);
    assert!(crate::support::lost(&kept).is_empty(), "with the page cache intact nothing acknowledged is lost");
}

// BrokerHeartbeatManager.calculateNextBrokerState: a fenced broker that asks to shut down gets SHUTDOWN_NOW at
// once. broker-2, restarted at 20 s and shut down at 20.05 s before it was unfenced, completes its shutdown
// within a heartbeat's round trip, and is not unfenced until the liveness phase restarts it.
#[test]
fn a_broker_shut_down_before_it_was_unfenced_completes_its_shutdown() {
    let (_, outcome) = run("shutdown-before-unfenced");
    let events = cluster_events(&outcome);
    let done = events
        .iter()
        .find(|(t, obs)| *t >= 20 * S && matches!(obs, Obs::ShutdownComplete { broker: BrokerId(2) }))
        .map(|(t, _)| *t)
        .expect("broker-2 completes its controlled shutdown");
    assert!(done < 20 * S + S, "within a second of asking, not after an unfencing (done at {done} µs)");
    let unfenced_before_stop =
        events.iter().any(|(t, obs)| *t > 20 * S && *t < done && matches!(obs, Obs::BrokerUnfenced { .. }));
    assert!(!unfenced_before_stop, "it stops while still fenced");
}

// KIP-601: a reconnection attempt whose answer never comes is abandoned after
// socket.connection.setup.timeout.ms and tried again, so a producer cut off one way from its leader sends to it
// again once the link heals: every send is acknowledged, and the liveness phase finds it making progress.
#[test]
fn a_producer_reconnects_after_a_one_way_cut_heals() {
    let (_, outcome) = run("one-way-cut-leader-to-producer");
    assert!(outcome.unconverged.is_empty(), "{:?}", outcome.unconverged);
    let acks = ack_times(&outcome);
    assert_eq!(acks.len() as u64, outcome.stats.sends_invoked, "every send is acknowledged in the end");
    assert!(acks.iter().any(|&t| t > 25 * S && t < 45 * S), "acknowledged again soon after the heal at 25 s");
    assert!(lost(&outcome).is_empty());
}

/// The leader of `p` in the final state (the controller's committed view), as a broker number.
fn final_leader(outcome: &Outcome, partition: &str) -> Option<u32> {
    let p = outcome.partitions.iter().find(|p| p.partition == partition).expect("the partition exists");
    p.leader.map(|b| b.0)
}

// ReplicationControlManager.maybeBalancePartitionLeaders: with auto.leader.rebalance.enable the controller
// elects the preferred replica (the first of the assignment) again once it is back in the ISR, at the next
// leader.imbalance.check.interval.seconds; with it off leadership stays where the failover put it until an
// operator asks for a preferred election (ElectLeaders, kafka-leader-election.sh).
#[test]
fn the_preferred_leader_gets_leadership_back_by_the_balancer_or_an_operator() {
    let (_, balanced) = run("preferred-leader-returns");
    assert_eq!(final_leader(&balanced, "orders-0"), Some(1), "the balancer moved leadership back to broker-1");
    let back = cluster_events(&balanced).into_iter().find(|(_, o)| {
        matches!(o, Obs::LeaderElected { leader: Some(BrokerId(1)), reason: ChangeReason::AutoLeaderRebalance, .. })
    });
    assert_eq!(back.map(|(t, _)| t), Some(30 * S), "at the first check after broker-1 rejoined");
    assert!(lost(&balanced).is_empty());

    let mut s = load("preferred-leader-returns");
    s.sim.cluster.broker_config.auto_leader_rebalance_enable = false;
    let unbalanced = insync::sim::run(&s.sim, s.seed, true);
    assert_eq!(final_leader(&unbalanced, "orders-0"), Some(2), "without the balancer broker-2 keeps leading");

    let election = FaultAction::ElectLeaders { election: ElectionType::Preferred, partition: None };
    s.sim.faults.push(insync::faults::ScheduledFault { at_us: 40 * S, when: None, action: election });
    let operated = insync::sim::run(&s.sim, s.seed, true);
    assert_eq!(final_leader(&operated, "orders-0"), Some(1), "the operator's preferred election moved it back");
    assert!(lost(&operated).is_empty());
}

// ReplicationControlManager.electLeader with election type UNCLEAN (kafka-leader-election.sh --election-type
// unclean): an operator forces an out-of-sync replica to lead an offline partition even though the topic keeps
// unclean.leader.election.enable off, and the writes only the last ISR member had are lost — the same loss as
// `unclean-election`, by hand.
#[test]
fn an_operators_unclean_election_loses_what_only_the_isr_had() {
    let mut s = load("unclean-election-off");
    let election = FaultAction::ElectLeaders { election: ElectionType::Unclean, partition: None };
    s.sim.faults.push(insync::faults::ScheduledFault { at_us: 30 * S, when: None, action: election });
    let outcome = insync::sim::run(&s.sim, s.seed, true);
    let unclean = cluster_events(&outcome)
        .into_iter()
        .any(|(t, o)| t >= 30 * S && matches!(o, Obs::LeaderElected { leader: Some(BrokerId(2)), unclean: true, .. }));
    assert!(unclean, "broker-2, out of the ISR, is elected uncleanly");
    assert!(!lost(&outcome).is_empty(), "the writes acknowledged by broker-1 alone are gone");
    let (_, untouched) = run("unclean-election-off");
    assert!(lost(&untouched).is_empty(), "without the operator nothing is lost");
}

// KIP-704: an unclean election leaves the partition RECOVERING (PartitionChangeBuilder.tryElection) until the new
// leader's first AlterPartition, which carries RECOVERED and commits with its ISR change; a clean failover never
// enters the state.
#[test]
fn an_unclean_leader_is_recovering_until_its_first_isr_change() {
    let (_, outcome) = run("unclean-election");
    let events = cluster_events(&outcome);
    let elected = events
        .iter()
        .find(|(_, o)| matches!(o, Obs::LeaderElected { unclean: true, .. }))
        .map(|(t, _)| *t)
        .expect("an unclean election");
    let recovered = events
        .iter()
        .find(|(t, o)| *t > elected && matches!(o, Obs::LeaderRecovered { .. }))
        .map(|(t, _)| *t)
        .expect("the leader recovers");
    let first_isr_change = events
        .iter()
        .find(|(t, o)| *t > elected && matches!(o, Obs::IsrChanged { .. }))
        .map(|(t, _)| *t)
        .expect("the ISR grows again");
    assert_eq!(recovered, first_isr_change, "recovered with the first ISR change");
    let (_, clean) = run("unclean-election-off");
    assert!(!cluster_events(&clean).iter().any(|(_, o)| matches!(o, Obs::LeaderRecovered { .. })));
}

/// Produce requests the one producer of a fault-free 3-broker, 12-partition run sent, and its sends invoked and
/// acknowledged, with `extra` producer keys.
fn produce_requests_and_acks(extra: &str) -> (u64, u64, u64) {
    let text = format!(
        "name = \"drain\"\nduration = \"10s\"\n\n[cluster]\nbrokers = 3\n\n[[topics]]\nname = \"orders\"\n\
         partitions = 12\nreplication.factor = 3\n\n[[producers]]\nname = \"p\"\ntopic = \"orders\"\nrate = 3000\nstop = \"8s\"\n{extra}"
    );
    let s = insync::scenario::load_str("drain.toml", &text).expect("loads");
    let outcome = insync::sim::run(&s.sim, s.seed, false);
    let node = s.sim.cluster.producer_node(insync::kafka::ids::ClientId(0)).0 as usize;
    let stats = &outcome.stats;
    (stats.messages_sent_by_node[node], stats.sends_invoked, stats.sends_acked)
}

// RecordAccumulator.drainBatchesForOneNode: one Produce request carries the first batch of every partition the
// broker leads, up to max.request.size (the first batch always goes). With 12 partitions on 3 leaders a request
// carries several partitions' batches; at max.request.size = one record each batch goes alone, in more requests,
// and every send is still acknowledged.
#[test]
fn a_produce_request_carries_every_partition_of_its_broker_up_to_max_request_size() {
    let (requests, invoked, acked) = produce_requests_and_acks("");
    let (alone_requests, alone_invoked, alone_acked) = produce_requests_and_acks("max.request.size = 100\n");
    let counts = (invoked, acked, alone_invoked, alone_acked);
    assert!(invoked > 15_000 && acked == invoked && alone_invoked == invoked && alone_acked == invoked, "{counts:?}");
    assert!(requests * 2 < alone_requests, "{requests} messages with whole drains, {alone_requests} batch by batch");
}
