//! Per-link network faults as scenarios use them: `repair` of a partition's sides, `hold` / `release`, and
//! `degrade` (extra latency, a loss ratio); and their validation.

use crate::support::{load, lost, run};
use insync::history::ClientEvent;
use insync::kafka::messages::ChangeReason;
use insync::kafka::obs::Obs;
use insync::scenario::{LoadError, load_str};
use insync::sim::{self, TraceEvent};
use std::collections::BTreeSet;

// Partition.getOutOfSyncReplicas after a partition; `repair` with the same sides lifts exactly those cuts: the
// followers rejoin (after their lost fetch times out, replica.socket.timeout.ms = 30 s) and no other link was
// touched, so the network is whole again.
#[test]
fn repair_of_a_partitions_sides_lifts_only_that_partition() {
    let (s, outcome) = run("leader-cut-off-from-followers");
    assert_eq!(outcome.faults[1].1, "repair broker-1 | broker-2,broker-3");
    let trace = outcome.trace.as_ref().expect("kept");
    let rejoined = trace.iter().any(|l| {
        l.time_us > 40_000_000
            && l.time_us < s.sim.limits.end.as_us()
            && matches!(&l.event, TraceEvent::Node(Obs::IsrChanged { isr, reason: ChangeReason::IsrExpand, .. }) if isr.len() == 3)
    });
    assert!(rejoined, "the followers rejoin after the repair, before the liveness phase");
}

// KIP-91: a send failed by delivery.timeout.ms may have been written. The held answers arrive after the sends
// were failed; the records of some failed sends are in the final log, at every seed tried, and nothing
// acknowledged is lost.
#[test]
fn a_held_link_lets_sends_fail_whose_records_were_written() {
    let s = load("failed-sends-that-were-written");
    for seed in 1..=4 {
        let outcome = sim::run(&s.sim, seed, false);
        let failed: BTreeSet<(u32, u64)> = outcome
            .history
            .entries
            .iter()
            .filter_map(|e| match e.event {
                ClientEvent::SendFailed { producer, send_seq, .. } => Some((producer, send_seq)),
                _ => None,
            })
            .collect();
        let logged: BTreeSet<(u32, u64)> = outcome.final_logs.iter().flat_map(|l| l.records.iter().copied()).collect();
        let written_yet_failed = failed.intersection(&logged).count();
        assert!(written_yet_failed > 0, "seed {seed}: {} failed, none of them in the log", failed.len());
        assert!(written_yet_failed < failed.len(), "seed {seed}: most failed sends were never sent");
        assert!(lost(&outcome).is_empty(), "seed {seed}");
        assert_eq!(outcome.stats.messages_lost, 0, "seed {seed}: a hold loses nothing");
    }
}

// A follower whose fetch responses are lost 1 time in 20 drops out of the ISR and rejoins, again and again;
// nothing acknowledged is lost. At every seed tried.
#[test]
fn a_lossy_link_makes_the_isr_flap() {
    let s = load("lossy-follower-link");
    for seed in 1..=4 {
        let outcome = sim::run(&s.sim, seed, false);
        assert!(outcome.stats.isr_shrinks >= 2 && outcome.stats.isr_expands >= 2, "seed {seed}: {:?}", outcome.stats);
        assert!(outcome.stats.messages_lost > 0, "seed {seed}");
        assert!(lost(&outcome).is_empty(), "seed {seed}");
    }
}

const HEAD: &str = "[[topics]]\nname = \"orders\"\n\n[[faults]]\nat = \"5s\"\n";

fn load_err(fault: &str) -> LoadError {
    match load_str("bad.toml", &format!("{HEAD}{fault}")) {
        Ok(_) => panic!("loaded but should not have:\n{fault}"),
        Err(e) => e,
    }
}

#[test]
fn link_faults_are_validated() {
    let e = load_err("action = \"degrade\"\nfrom = \"broker-1\"\nto = \"broker-2\"\nloss = \"1/0\"\n");
    assert_eq!((e.line, e.field.as_str()), (9, "faults[0].loss"), "{e}");
    assert!(e.expected.contains("\"N/D\""), "{e}");
    let e = load_err("action = \"degrade\"\nfrom = \"broker-1\"\nto = \"broker-2\"\nloss = \"3/2\"\n");
    assert_eq!(e.field, "faults[0].loss", "{e}");
    let e = load_err("action = \"degrade\"\nfrom = \"broker-1\"\nto = \"broker-2\"\n");
    assert!(e.expected.contains("`latency`") && e.expected.contains("`loss`"), "{e}");
    let e = load_err("action = \"degrade\"\nfrom = \"broker-1\"\nto = \"broker-2\"\nlatency = \"2m\"\n");
    assert_eq!(e.field, "faults[0].latency", "{e}");
    let e = load_err("action = \"hold\"\nfrom = \"broker-1\"\n");
    assert_eq!(e.field, "faults[0].to", "{e}");
    let e = load_err("action = \"repair\"\nsides = [[\"broker-1\"]]\n");
    assert_eq!(e.field, "faults[0].sides", "{e}");
    let ok = load_str(
        "ok.toml",
        &format!(
            "{HEAD}action = \"degrade\"\nfrom = \"broker-1\"\nto = \"broker-2\"\nlatency = \"50ms\"\nloss = \"1/100\"\n"
        ),
    );
    assert!(ok.is_ok(), "{ok:?}");
}
