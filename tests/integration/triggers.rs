//! State-triggered faults (`when`): they fire at the event where their condition first holds, once unless
//! `repeat` says otherwise, aim at what the condition saw, are reported when they never fire, and reach
//! published interleavings at every seed (KIP-101 scenario 1, KAFKA-7128).

use crate::support::{lost, run};
use insync::check::verdict;
use insync::history::ClientEvent;
use insync::kafka::messages::ChangeReason;
use insync::kafka::obs::Obs;
use insync::scenario::{LoadError, Scenario, load_str};
use insync::sim::{self, Outcome, TraceEvent};

const HEAD: &str = r#"
duration = "30s"

[[topics]]
name = "orders"
partitions = 1
replication.factor = 3
min.insync.replicas = 2

[[producers]]
name = "p"
topic = "orders"
rate = 500
acks = "all"
"#;

fn scenario(faults: &str) -> Scenario {
    load_str("triggers.toml", &format!("{HEAD}{faults}")).unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(faults: &str) -> LoadError {
    match load_str("bad.toml", &format!("{HEAD}{faults}")) {
        Ok(_) => panic!("loaded but should not have:\n{faults}"),
        Err(e) => e,
    }
}

/// The times of faults whose description starts with `prefix`.
fn fired_at(outcome: &Outcome, prefix: &str) -> Vec<u64> {
    outcome.faults.iter().filter(|(_, f)| f.starts_with(prefix)).map(|(t, _)| *t).collect()
}

fn acks(outcome: &Outcome) -> impl Iterator<Item = (u64, u64, Option<u64>)> + '_ {
    outcome.history.entries.iter().filter_map(|e| match e.event {
        ClientEvent::SendAcked { send_seq, offset, .. } => Some((e.time_us, send_seq, offset)),
        _ => None,
    })
}

// An observed condition holds at the event where the producer receives the acknowledgement, so the fault
// fires at that very microsecond, and only once.
#[test]
fn a_trigger_fires_once_at_the_event_its_condition_first_holds() {
    let s = scenario(
        r#"
[[faults]]
when = "producer p acked send >= 2000"
action = "crash"
target = "p"
"#,
    );
    for seed in 1..=3 {
        let outcome = sim::run(&s.sim, seed, false);
        let first_ack = acks(&outcome).find(|&(_, seq, _)| seq >= 2000).map(|(t, _, _)| t).expect("acked");
        assert_eq!(fired_at(&outcome, "when producer p acked send >= 2000: crash p"), vec![first_ack]);
        assert_eq!(outcome.triggers[0].fired, 1);
        assert_eq!((outcome.stats.triggers_fired, outcome.stats.triggers_unfired), (1, 0));
    }
}

// A state condition holds at the leader's event that moves its high watermark: the acknowledgements sent at
// that event reach the producer after the crash, and none of an offset at or past the threshold came before.
#[test]
fn a_high_watermark_trigger_fires_at_the_leaders_advance() {
    let s = scenario(
        r#"
[[faults]]
when = "high watermark of orders-0 >= 3000"
action = "crash"
target = "that leader"
"#,
    );
    let outcome = sim::run(&s.sim, 5, false);
    let fired = fired_at(&outcome, "when high watermark of orders-0 >= 3000: crash broker-");
    assert_eq!(fired.len(), 1, "{:?}", outcome.faults);
    let at = fired[0];
    // The advance past 3000 acknowledges the record at offset 2999; its acknowledgement was sent at the event
    // the trigger fired at, so it arrives after the crash. No record at or past 3000 was acknowledged before.
    let ack_of = |offset: u64| acks(&outcome).find(|&(_, _, o)| o == Some(offset)).map(|a| a.0);
    assert!(ack_of(2999).is_some_and(|t| t > at), "acked at {:?}, fired at {at}", ack_of(2999));
    assert!(acks(&outcome).all(|(t, _, o)| o.is_none_or(|o| o < 3000) || t > at));
}

// `repeat` fires at each rising edge, up to its count: a leader that changes three times (each new leader
// crashed as it is elected, the crashed ones back 1 s later) fires "leader changed" twice with repeat = 2.
#[test]
fn repeat_fires_at_each_new_edge_up_to_its_count() {
    let s = scenario(
        r#"
[[faults]]
at = "5s"
action = "crash"
target = "leader of orders-0"

[[faults]]
when = "leader of orders-0 changed"
repeat = 2
action = "crash"
target = "that leader"

[[faults]]
when = "leader of orders-0 changed"
repeat = 2
delay = "1s"
action = "restart"
target = "that broker"
"#,
    );
    let outcome = sim::run(&s.sim, 1, true);
    let crashes = fired_at(&outcome, "when leader of orders-0 changed: crash");
    assert_eq!(crashes.len(), 2, "{:?}", outcome.faults);
    // Each crash is of the leader just elected, at the instant the controller committed it.
    let trace = outcome.trace.as_ref().expect("kept");
    for &at in &crashes {
        let (t, leader) = trace
            .iter()
            .rev()
            .find_map(|l| match &l.event {
                TraceEvent::Node(Obs::LeaderElected { leader: Some(b), .. }) if l.time_us <= at => {
                    Some((l.time_us, *b))
                }
                _ => None,
            })
            .expect("an election before the crash");
        assert_eq!(t, at, "the crash is at the election's instant");
        let fault = outcome.faults.iter().find(|(ft, f)| *ft == at && f.contains("crash")).expect("fired");
        assert!(fault.1.ends_with(&format!("crash {leader}")), "{fault:?} after {leader} elected at {t}");
    }
    assert_eq!(outcome.triggers.iter().map(|t| t.fired).collect::<Vec<_>>(), vec![2, 2]);
}

// A condition that never holds is reported: in the outcome, the counters, the summary, and as an unmet
// `happened = ["triggers-fired"]`.
#[test]
fn a_trigger_that_never_fires_is_reported() {
    let text = format!(
        "{HEAD}{}",
        r#"
[[faults]]
when = "high watermark of orders-0 >= 1000000000"
action = "crash"
target = "broker-1"

[expect]
happened = ["triggers-fired"]
"#
    );
    let s = load_str("never.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let outcome = sim::run(&s.sim, s.seed, false);
    assert_eq!(outcome.triggers[0].fired, 0);
    assert_eq!((outcome.stats.triggers_fired, outcome.stats.triggers_unfired), (0, 1));
    assert!(outcome.faults.iter().all(|(_, f)| !f.starts_with("when")));
    let path = std::env::temp_dir().join(format!("insync-never-{}.toml", std::process::id()));
    std::fs::write(&path, &text).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_insync")).arg("run").arg(&path).output().expect("runs");
    let summary = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{summary}");
    assert!(summary.contains("never fired: faults[0], when high watermark of orders-0 >= 1000000000"), "{summary}");
    let v = verdict::judge(&s.expect, &outcome.evidence());
    let r = v.results.iter().find(|r| r.name == "triggers-fired").expect("judged");
    assert!(!r.met, "{r:?}");
}

// KIP-101 scenario 1 reached by state triggers: truncating to the high watermark loses acknowledged writes at
// every seed; leader epochs keep them all at the same seeds.
#[test]
fn kip101_scenario_1_loses_under_hw_truncation_and_not_with_epochs_at_every_seed() {
    for (name, loses) in [("legacy-truncation", true), ("kip101-leader-epoch", false)] {
        let s = crate::support::load(name);
        for seed in 1..=20 {
            let outcome = sim::run(&s.sim, seed, false);
            assert_eq!(outcome.stats.triggers_unfired, 0, "{name} seed {seed}");
            assert_eq!(!lost(&outcome).is_empty(), loses, "{name} seed {seed}");
        }
    }
}

// KAFKA-7128: with the ISR join rule before the fix, broker-3 joins broker-2's ISR at broker-2's lagging high
// watermark (5000) and is then elected without the records broker-1 acknowledged above 5000; with the fix it
// never joins, the partition waits offline, and nothing is lost. Both at every seed tried.
#[test]
fn kafka_7128_a_lagging_high_watermark_loses_committed_records_only_before_the_fix() {
    for seed in 1..=10 {
        let before = sim::run(&crate::support::load("follower-joins-isr-below-committed").sim, seed, false);
        let lost_offsets: Vec<u64> = lost(&before).iter().filter_map(|l| l.offset).collect();
        assert!(!lost_offsets.is_empty(), "seed {seed}: the committed records above 5000 are lost");
        assert!(lost_offsets.iter().all(|&o| o >= 5000), "seed {seed}: only records above 5000: {lost_offsets:?}");
        assert_eq!(before.stats.partitions_offline, 0, "seed {seed}: broker-3 is elected cleanly");

        let after = sim::run(&crate::support::load("follower-joins-isr-past-epoch-start").sim, seed, false);
        assert!(lost(&after).is_empty(), "seed {seed}");
        assert!(after.stats.partitions_offline >= 1, "seed {seed}: no ISR member left, so the partition waits");
    }
    let (_, outcome) = run("follower-joins-isr-past-epoch-start");
    let trace = outcome.trace.as_ref().expect("kept");
    let broker3_joined_before_heal = trace.iter().any(|l| {
        l.time_us < 45_000_000 && matches!(&l.event, TraceEvent::Node(Obs::IsrChanged { isr, reason: ChangeReason::IsrExpand, .. }) if isr.iter().any(|b| b.0 == 3))
    });
    assert!(!broker3_joined_before_heal, "below the epoch start offset broker-3 must not join");
}

#[test]
fn a_condition_that_reads_as_none_of_the_forms_lists_them() {
    let e = load_err("[[faults]]\nwhen = \"isr of orders-0 grew\"\naction = \"crash\"\ntarget = \"broker-1\"\n");
    assert_eq!(e.field, "faults[0].when", "{e}");
    assert!(e.expected.contains("\"isr of T-N expanded\"") && e.expected.contains("joined by"), "{e}");
    assert_eq!(e.found, "\"isr of orders-0 grew\"");
    let e = load_err("[[faults]]\nwhen = \"high watermark of orders-9 >= 5\"\naction = \"heal\"\n");
    assert!(e.expected.contains("a partition such as"), "{e}");
    let e = load_err("[[faults]]\nwhen = \"log end of orders-0 on broker-7 >= 5\"\naction = \"heal\"\n");
    assert!(e.expected.contains("broker-1..broker-3"), "{e}");
    let e = load_err("[[faults]]\nwhen = \"producer q acked send >= 5\"\naction = \"heal\"\n");
    assert!(e.expected.contains("a producer of the scenario"), "{e}");
    let e = load_err("[[faults]]\nwhen = \"high watermark of orders-0 >= -1\"\naction = \"heal\"\n");
    assert!(e.expected.contains("a whole number"), "{e}");
}

#[test]
fn trigger_keys_without_a_when_are_refused() {
    let e = load_err("[[faults]]\nat = \"5s\"\naction = \"crash\"\ntarget = \"that leader\"\n");
    assert_eq!(e.field, "faults[0].target", "{e}");
    assert!(e.expected.contains("need a `when` condition"), "{e}");
    let e = load_err("[[faults]]\nat = \"5s\"\ndelay = \"1s\"\naction = \"heal\"\n");
    assert_eq!(e.field, "faults[0].delay", "{e}");
    let e = load_err("[[faults]]\naction = \"heal\"\n");
    assert!(e.expected.contains("or a `when` condition"), "{e}");
    let e = load_err("[[faults]]\nwhen = \"controller changed\"\nrepeat = 0\naction = \"heal\"\n");
    assert_eq!(e.field, "faults[0].repeat", "{e}");
}

// A client with a later `start` does not exist before it: no process, no requests, faults leave it alone; it is
// created at its start and bootstraps then.
#[test]
fn a_client_is_created_at_its_start() {
    use insync::engine::{Limits, NodeStatus, SimTime};
    use insync::kafka::cluster::Cluster;
    use insync::kafka::ids::ClientId;
    let text = r#"
duration = "30s"

[[topics]]
name = "orders"

[[producers]]
name = "early"
topic = "orders"
rate = 10

[[producers]]
name = "fresh"
topic = "orders"
rate = 1
count = 1
start = "20s"

[[faults]]
at = "5s"
action = "restart"
target = "fresh"
"#;
    let s = load_str("late.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let limits = Limits { end: SimTime(30_000_000), max_events: 10_000_000 };
    let mut cluster = Cluster::new(s.sim.cluster.clone(), 1, s.sim.latency.clone(), limits);
    let fresh = cluster.spec.producer_node(ClientId(1));
    cluster.engine.start();
    // `early` starts at 1 s by default: created then, as `sim::run` does at each launch time.
    assert_eq!(cluster.next_launch_us(), Some(1_000_000));
    cluster.engine.run_until(SimTime(1_000_000));
    cluster.launch_due(1_000_000);
    cluster.engine.run_until(SimTime(5_000_000));
    cluster.restart(fresh); // the fault at 5 s: nothing to restart yet
    cluster.engine.run_until(SimTime(19_999_999));
    assert_eq!(cluster.engine.status(fresh), NodeStatus::Down);
    assert_eq!(cluster.engine.messages_sent_by(fresh), 0);
    assert!(cluster.engine.messages_sent_by(cluster.spec.producer_node(ClientId(0))) > 0);
    assert_eq!(cluster.next_launch_us(), Some(20_000_000));
    cluster.launch_due(20_000_000);
    assert_eq!(cluster.engine.status(fresh), NodeStatus::Up);
    // Through a whole run: its one send is invoked at its start and acknowledged.
    let outcome = sim::run(&s.sim, 1, false);
    let sends: Vec<(u64, bool)> = outcome
        .history
        .entries
        .iter()
        .filter_map(|e| match e.event {
            ClientEvent::SendInvoked { producer: 1, .. } => Some((e.time_us, false)),
            ClientEvent::SendAcked { producer: 1, .. } => Some((e.time_us, true)),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 2, "{sends:?}");
    assert_eq!(sends[0], (20_000_000, false));
    assert!(sends[1].1 && sends[1].0 > 20_000_000);
}

/// The bundled story of each trigger family: its expectations hold, its triggers fire, at every seed tried.
#[test]
fn each_trigger_familys_story_meets_its_expectations_at_every_seed() {
    let stories = [
        "acks1-ack-then-cut-off",                 // producer acked
        "isr-shrinks-to-the-leader-then-it-dies", // isr has size
        "commit-then-crash-skips-the-batch",      // consumer committed
        "leader-crash-as-the-controller-changes", // controller changed
        "member-crashes-mid-rebalance",           // group rebalancing, generation
        "offsets-with-state-crash",               // group processed
    ];
    for name in stories {
        let s = crate::support::load(name);
        for seed in 1..=6 {
            let outcome = sim::run(&s.sim, seed, false);
            let v = verdict::judge(&s.expect, &outcome.evidence());
            let failed: Vec<&str> = v.results.iter().filter(|r| !r.met).map(|r| r.name.as_str()).collect();
            assert!(failed.is_empty(), "{name} seed {seed}: {failed:?}");
            assert_eq!(outcome.stats.triggers_unfired, 0, "{name} seed {seed}");
        }
    }
}

// ProducerConfig `acks`: with acks=1 "the record will be lost if the leader fails immediately after acknowledging
// it but before the followers have replicated it": exactly the writes acknowledged between the cut and the crash.
#[test]
fn acks1_loses_exactly_what_the_leader_acknowledged_alone() {
    let (_, outcome) = run("acks1-ack-then-cut-off");
    let cut = fired_at(&outcome, "when producer order-service acked offset >= 5000: partition")[0];
    let crash = fired_at(&outcome, "when producer order-service acked offset >= 5000: crash")[0];
    assert_eq!(crash - cut, 2_000_000);
    let lost = lost(&outcome);
    assert!(lost.len() > 1000, "2 s of acknowledged writes at 2000/s: {}", lost.len());
    assert!(lost.iter().all(|l| cut <= l.acked_at_us && l.acked_at_us <= crash), "only what was acked alone");
    // The batch whose acknowledgement fired the trigger was still on its way to the followers when the cut
    // dropped it: the loss is one run of offsets from there, the tail the old leader truncated.
    let mut offsets: Vec<u64> = lost.iter().filter_map(|l| l.offset).collect();
    offsets.sort_unstable();
    assert!(offsets.windows(2).all(|w| w[1] == w[0] + 1), "one contiguous tail");
    assert!(offsets[0] <= 5000 && 5000 - offsets[0] < 100, "from the batch acknowledged at the cut: {}", offsets[0]);
}

// Jepsen, "Call me maybe: Kafka" (2013): acks=all waits for the ISR, and an ISR of the leader alone makes it
// "the leader has it"; its death and an unclean election lose those writes, and none acknowledged before the cut.
#[test]
fn an_isr_of_the_leader_alone_loses_what_acks_all_acknowledged_through_it() {
    let (_, outcome) = run("isr-shrinks-to-the-leader-then-it-dies");
    let crash = fired_at(&outcome, "when isr of payments-0 has size 1: crash")[0];
    let lost = lost(&outcome);
    assert!(!lost.is_empty());
    assert!(
        lost.iter().all(|l| l.acked_at_us >= crash - 5_000_000 && l.acked_at_us <= crash),
        "acked after the shrink"
    );
    assert_eq!(outcome.stats.unclean_leader_elections, 1);
}
