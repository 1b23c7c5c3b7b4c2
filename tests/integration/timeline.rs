//! `run --timeline`: the lanes a timeline is drawn from, checked against what Kafka does in the bundled stories
//! (the controller fences a crashed leader after broker.session.timeout.ms and elects from the ISR; the old
//! leader comes back, truncates to the new leader's epoch start — KIP-101 — and rejoins the ISR), and the page:
//! self-contained, the same bytes for the same run, every violation mark linking to its witness.

use insync::kafka::ids::BrokerId;
use insync::sim;
use insync::timeline::{ReplicaPhase, Span, Timeline, Trouble, Truncation};
use std::process::Command;

const S: u64 = 1_000_000;

fn timeline_of(name: &str) -> (Timeline, sim::Outcome) {
    let s = crate::support::load(name);
    let outcome = sim::run_sampled(&s.sim, s.seed);
    (Timeline::of(name.to_string(), String::new(), &s.sim.cluster, &outcome), outcome)
}

fn node<'a>(t: &'a Timeline, name: &str) -> &'a [Span<Trouble>] {
    &t.nodes.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("a lane for {name}")).1
}

#[test]
fn sampling_a_run_does_not_change_it() {
    for name in ["acks1-leader-crash", "eager-rebalance", "production-nemesis"] {
        let s = crate::support::load(name);
        let plain = sim::run(&s.sim, s.seed, false);
        let sampled = sim::run_sampled(&s.sim, s.seed);
        assert_eq!(plain.trace_digest, sampled.trace_digest, "{name}");
        assert_eq!(plain.stats.events, sampled.stats.events, "{name}");
        let samples = sampled.samples.expect("samples");
        assert!(samples.samples.windows(2).all(|w| w[0].time_us < w[1].time_us), "{name}: samples in time order");
        // Every sampled replica keeps log start ≤ high watermark ≤ log end (UnifiedLog's invariant).
        let replicas = samples.samples.iter().flat_map(|x| x.replicas.iter().flatten().flatten());
        for r in replicas {
            assert!(r.log_start <= r.high_watermark && r.high_watermark <= r.log_end, "{name}: {r:?}");
        }
    }
}

#[test]
fn the_leader_crash_story_reads_as_kafka_tells_it() {
    let (t, _) = timeline_of("acks1-leader-crash");
    // Faults, exactly at their times: broker-1 cut off from its followers at 10 s until the heal at 25 s, down
    // from its crash at 12 s until its restart at 30 s.
    let down: Vec<(u64, u64)> =
        node(&t, "broker-1").iter().filter(|x| x.state == Trouble::Down).map(|x| (x.from_us, x.to_us)).collect();
    assert_eq!(down, vec![(12 * S, 30 * S)]);
    let cut: Vec<(u64, u64)> = node(&t, "broker-2").iter().map(|x| (x.from_us, x.to_us)).collect();
    assert_eq!(cut, vec![(10 * S, 25 * S)]);
    assert_eq!(node(&t, "broker-2")[0].state, Trouble::CutOff { peers: 1 });

    let p = t.partitions.iter().find(|p| p.name == "orders-0").expect("orders-0");
    // Committed: broker-1 at epoch 0 with the full ISR, then broker-2 at epoch 1 elected from the ISR without
    // broker-1, no sooner than broker.session.timeout.ms (9 s) after the crash.
    let first = &p.committed[0];
    assert_eq!((first.state.leader, first.state.epoch, first.from_us), (Some(BrokerId(1)), 0, 0));
    let elected = p.committed.iter().find(|c| c.state.leader == Some(BrokerId(2))).expect("broker-2 elected");
    assert_eq!(elected.state.epoch, 1);
    assert!(!elected.state.isr.contains(&BrokerId(1)), "{:?}", elected.state);
    assert!(elected.from_us >= 21 * S, "elected at {} us", elected.from_us);

    let lane = |b: u32| p.replicas.iter().find(|r| r.broker == BrokerId(b)).expect("replica");
    let b1 = lane(1);
    // A broker knows its role once the controller's metadata reaches it: until then, `Unknown`.
    let known = &b1.phases[usize::from(b1.phases[0].state == ReplicaPhase::Unknown)..];
    let phases: Vec<ReplicaPhase> = known.iter().map(|x| x.state).collect();
    assert_eq!(phases[0], ReplicaPhase::Leader { epoch: 0, current: true });
    assert_eq!(phases[1], ReplicaPhase::Down);
    assert_eq!((known[1].from_us, known[1].to_us), (12 * S, 30 * S));
    // Back at epoch 1 as a follower: out of the ISR until it caught up, then in it.
    assert_eq!(phases.last(), Some(&ReplicaPhase::Follower { epoch: 1, in_isr: true }));
    assert!(phases.contains(&ReplicaPhase::Follower { epoch: 1, in_isr: false }), "{phases:?}");

    // KIP-101: on its return broker-1 truncates its whole log end (a kill -9 keeps the page cache, so that is
    // what it wrote before the crash) to the end of epoch 0 on the new leader: broker-2's log end when elected.
    let &[Truncation { at_us: at, from, to }] = b1.truncations.as_slice() else {
        panic!("one truncation: {:?}", b1.truncations)
    };
    assert!(at >= 30 * S);
    let at_restart = b1.offsets.iter().find(|(t, o)| *t == 30 * S && o.is_some()).expect("sampled at the restart");
    assert_eq!(Some(from), at_restart.1.map(|(log_end, _)| log_end));
    let before_election = lane(2).offsets.iter().rev().find(|(t, _)| *t < elected.from_us).expect("a sample");
    assert_eq!(Some(to), before_election.1.map(|(log_end, _)| log_end));
    assert!(to < from);

    // The lost writes are those broker-1 acknowledged on its own (acks=1) before it crashed: marked there.
    let lost: Vec<_> = t.violations.iter().filter(|m| m.invariant == "lost-write").collect();
    assert!(!lost.is_empty());
    for m in lost {
        let at = m.time_us.expect("a lost write has its acknowledgement's time");
        assert!((9 * S..=12 * S).contains(&at) && m.partition == Some(0), "{m:?}");
    }
}

#[test]
fn an_eager_rebalance_leaves_no_partition_with_two_owners() {
    let (t, outcome) = timeline_of("eager-rebalance");
    let group = &t.groups[0];
    let owned: Vec<(u64, u64, &String)> = group
        .members
        .iter()
        .flat_map(|m| m.owned.iter().flat_map(|x| x.state.partitions.iter().map(move |p| (x.from_us, x.to_us, p))))
        .collect();
    assert!(owned.len() > 1);
    // Eager (RangeAssignor, ConsumerCoordinator): every member revokes everything before it rejoins, so no two
    // spans of one partition overlap, whichever generations they belong to.
    for (i, a) in owned.iter().enumerate() {
        for b in &owned[i + 1..] {
            assert!(a.2 != b.2 || a.1 <= b.0 || b.1 <= a.0, "{a:?} and {b:?} overlap");
        }
    }
    assert!(!group.rebalances.is_empty());
    // The produce bins add up to the history's acknowledgements.
    let acked: u64 = t.produce.iter().map(|b| b.acked).sum();
    assert_eq!(acked, outcome.stats.sends_acked);
}

fn page(scenario: &str, file: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_insync"))
        .args(["run", scenario, "--timeline"])
        .arg(file)
        .output()
        .expect("runs");
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(file).expect("written")
}

#[test]
fn the_page_is_self_contained_deterministic_and_links_each_mark_to_its_witness() {
    let (a, b) = (crate::support::temp_file("timeline", "a.html"), crate::support::temp_file("timeline", "b.html"));
    let html = page("scenarios/acks1-leader-crash.toml", &a);
    assert_eq!(html, page("scenarios/acks1-leader-crash.toml", &b), "the same run, the same bytes");
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("@import"));
    // The only URL is the SVG namespace.
    assert_eq!(html.matches("http").count(), html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count());
    let links: Vec<&str> = html.split("href=\"#violation-").skip(1).filter_map(|s| s.split('"').next()).collect();
    assert!(!links.is_empty(), "the lost writes are marked and linked");
    for n in links {
        assert!(html.contains(&format!("id=\"violation-{n}\"")), "mark {n} links to a witness");
    }
    for heading in ["Nodes and faults", "Consumer groups", "Produce", "Partitions", "Witnesses"] {
        assert!(html.contains(&format!(">{heading}</h2>")), "{heading}");
    }
    assert!(html.contains("insync run scenarios/acks1-leader-crash.toml --seed 42 --scenario-fnv64"), "reproduce");
}

#[test]
fn a_leader_on_the_controllers_minority_side_is_drawn_as_stale_once_the_majority_moves_on() {
    let (t, _) = timeline_of("controller-minority");
    // The partition broker-1 led when the network split at 10 s.
    let p = t.partitions.iter().find(|p| p.committed[0].state.leader == Some(BrokerId(1))).expect("one led by 1");
    let successor = p.committed.iter().find(|c| c.from_us > 10 * S && c.state.leader.is_some()).expect("re-elected");
    assert_ne!(successor.state.leader, Some(BrokerId(1)));
    // KIP-631: the new active controller fenced broker-1 and moved the leadership; broker-1, hearing no
    // metadata from the majority, still believes it leads at its old epoch: a stale leader.
    let b1 = p.replicas.iter().find(|r| r.broker == BrokerId(1)).expect("replica");
    let stale = b1
        .phases
        .iter()
        .find(|x| matches!(x.state, ReplicaPhase::Leader { current: false, .. }))
        .expect("a stale leadership");
    assert_eq!(stale.state, ReplicaPhase::Leader { epoch: p.committed[0].state.epoch, current: false });
    assert_eq!(stale.from_us, successor.from_us, "stale from the moment the controller committed another");
}

// The committed example timeline is what scripts/regenerate-reports.sh writes, byte for byte.
#[test]
fn the_committed_timeline_is_what_the_documented_command_writes() {
    let script = std::fs::read_to_string("scripts/regenerate-reports.sh").expect("the script");
    let line = script.lines().find(|l| l.contains(" --timeline ")).expect("a timeline in the script");
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "--timeline").expect("--timeline") + 1;
    let scenario = words.iter().find(|w| w.ends_with(".toml")).expect("a scenario");
    let fresh = page(scenario, &crate::support::temp_file("timeline", "committed.html"));
    let committed = std::fs::read_to_string(words[at]).unwrap_or_default();
    assert!(committed == fresh, "{} is not what `{line}` writes: run scripts/regenerate-reports.sh", words[at]);
}
