//! The seeded nemesis: the safe configuration keeps every acknowledged write over many seeds, the unsafe twin
//! loses some, a seed's drawn faults replay identically without the nemesis, and faults never change the workload.

use crate::support::{load, lost};
use insync::faults::nemesis::{FaultKind, NemesisSpec};
use insync::faults::{FaultAction, ScheduledFault, Target};
use insync::history::ClientEvent;
use insync::sim;
use insync::sweep;

// RF 3, acks=all, min.insync.replicas 2, idempotence, one process or link fault at a time: a clean election
// always finds an ISR member with every acknowledged write (Partition.makeLeader; KIP-101), and idempotence keeps
// each key in order (KIP-98). Over 500 seeds no seed may fail.
#[test]
fn the_safe_configuration_keeps_every_acknowledged_write_over_500_seeds() {
    let scenario = load("production-nemesis");
    let seeds: Vec<u64> = (0..500).collect();
    let results = sweep::sweep(&scenario, &seeds, 2, |_| {});
    let failing: Vec<(u64, &Vec<String>)> = results.iter().filter(|r| !r.met).map(|r| (r.seed, &r.failed)).collect();
    assert!(failing.is_empty(), "failing seeds: {failing:?}");
    // Not vacuous: the nemesis drew faults for every seed.
    assert!(seeds.iter().all(|&seed| scenario.sim.faults_at(seed).len() >= 2));
}

// acks=1 with leader crashes and power losses: a leader acknowledges before any follower has the record, and a
// new leader without it makes the old one truncate it when it returns. Some seeds lose acknowledged writes.
#[test]
fn the_unsafe_twin_loses_acknowledged_writes_at_some_seeds() {
    let scenario = load("unsafe-nemesis");
    let losing = (0..40u64).filter(|&seed| !lost(&sim::run(&scenario.sim, seed, false)).is_empty()).count();
    assert!(losing > 0, "no seed of 40 lost an acknowledged write");
}

// `run --emit-scenario`: the nemesis's faults for a seed written as `[[faults]]` replay the same run, byte for
// byte, without the nemesis.
#[test]
fn a_seeds_drawn_faults_replay_identically_without_the_nemesis() {
    let path = crate::support::scenario_path("production-nemesis");
    let text = std::fs::read_to_string(&path).expect("the bundled scenario");
    let scenario = load("production-nemesis");
    for seed in [3, 16, 4711] {
        let drawn = scenario.sim.faults_at(seed);
        assert!(drawn.len() >= 4, "seed {seed} drew {} faults", drawn.len());
        let emitted = insync::scenario::emit::emit_scenario(&text, seed, &scenario.sim.cluster, &drawn)
            .unwrap_or_else(|e| panic!("{e}"));
        let replay = insync::scenario::load_str("emitted.toml", &emitted).unwrap_or_else(|e| panic!("{e}\n{emitted}"));
        assert!(replay.sim.nemesis.is_none());
        assert_eq!(replay.seed, seed);
        assert_eq!(replay.sim.faults, drawn);
        let digest = |s: &insync::scenario::Scenario| sim::run(&s.sim, seed, true).trace_digest;
        assert_eq!(digest(&replay), digest(&scenario), "seed {seed}");
    }
}

// The link kinds too: a seed that draws a held or a degraded link writes it out as `hold` / `release` or
// `degrade` / `repair`, and the written file replays with the same digest.
#[test]
fn held_and_degraded_links_replay_identically_without_the_nemesis() {
    let path = crate::support::scenario_path("production-nemesis");
    let text = std::fs::read_to_string(&path).expect("the bundled scenario");
    let scenario = load("production-nemesis");
    let draws = |pick: fn(&FaultAction) -> bool| {
        (0..200).find(|&seed| scenario.sim.faults_at(seed).iter().any(|f| pick(&f.action))).expect("a seed draws it")
    };
    let held = draws(|a| matches!(a, FaultAction::Hold { .. }));
    let degraded = draws(|a| matches!(a, FaultAction::Degrade { .. }));
    for seed in [held, degraded] {
        let drawn = scenario.sim.faults_at(seed);
        let emitted = insync::scenario::emit::emit_scenario(&text, seed, &scenario.sim.cluster, &drawn)
            .unwrap_or_else(|e| panic!("{e}"));
        let replay = insync::scenario::load_str("emitted.toml", &emitted).unwrap_or_else(|e| panic!("{e}\n{emitted}"));
        assert_eq!(replay.sim.faults, drawn, "seed {seed}");
        let digest = |s: &insync::scenario::Scenario| sim::run(&s.sim, seed, true).trace_digest;
        assert_eq!(digest(&replay), digest(&scenario), "seed {seed}");
    }
}

/// Each send's (producer, send number, key, partition), in order.
fn workload(scenario: &insync::scenario::Scenario, seed: u64) -> Vec<(u32, u64, Option<u32>, u32)> {
    let outcome = sim::run(&scenario.sim, seed, false);
    let sends = outcome.history.entries.iter().filter_map(|e| match e.event {
        ClientEvent::SendInvoked { producer, send_seq, key, partition } => Some((producer, send_seq, key, partition)),
        _ => None,
    });
    sends.collect()
}

// Faults draw from their own stream: the producer sends the same keys to the same partitions whatever the
// nemesis does (a fixed `count`, so every send happens).
#[test]
fn the_nemesis_does_not_change_the_workload() {
    let mut scenario = load("production-nemesis");
    let with = workload(&scenario, 9);
    scenario.sim.nemesis = None;
    let without = workload(&scenario, 9);
    assert_eq!(with.len(), 2500);
    assert_eq!(with, without);
}

fn spec(max_active: u32, swarm: bool) -> NemesisSpec {
    NemesisSpec {
        kinds: FaultKind::ALL.to_vec(),
        interval_us: 2_000_000,
        duration_us: 3_000_000,
        max_active,
        quiet_us: 5_000_000,
        heal_at_us: 50_000_000,
        swarm,
    }
}

/// A schedule's episodes: each fault's index, and what ends it (the next fault) unless it is instant (an offsets
/// reset, which nothing ends).
fn episodes_of(faults: &[ScheduledFault]) -> Vec<(usize, Option<usize>)> {
    let mut episodes = Vec::new();
    let mut i = 0;
    while i < faults.len() {
        if matches!(faults[i].action, FaultAction::ResetOffsets { .. }) {
            episodes.push((i, None));
            i += 1;
        } else {
            episodes.push((i, Some(i + 1)));
            i += 2;
        }
    }
    episodes
}

/// Whether `ending` undoes what `fault` (at index `index`) did.
fn ends_its_own(index: usize, fault: &FaultAction, ending: &FaultAction) -> bool {
    match ending {
        FaultAction::Restart { target } | FaultAction::Resume { target } | FaultAction::ResumePolling { target } => {
            *target == Target::TargetOf(index)
        }
        FaultAction::RepairSides { side_a, .. } => side_a == &vec![Target::TargetOf(index)],
        FaultAction::RepairOneWay { from, to } => match fault {
            FaultAction::CutOneWay { from: f, to: t } | FaultAction::Degrade { from: f, to: t, .. } => {
                (f, t) == (from, to)
            }
            _ => false,
        },
        FaultAction::Release { from, to } => {
            matches!(fault, FaultAction::Hold { from: f, to: t } if (f, t) == (from, to))
        }
        other => panic!("an episode ended by {other:?}"),
    }
}

// A schedule keeps its bounds: nothing before the quiet period ends, everything ended by heal_at, never more
// faults in effect than max_active, and each episode's end undoes its own fault. A consumer stall lasts at least
// max.poll.interval.ms (here 5 s) unless heal_at cuts it short.
#[test]
fn a_schedule_keeps_its_bounds() {
    let mut cluster = load("production-nemesis").sim.cluster;
    cluster.consumers[0].config.max_poll_interval_us = 5_000_000;
    let mut stalls = 0;
    for (max_active, seed) in [(1, 1), (1, 2), (2, 3), (3, 4)] {
        let (_, faults) = spec(max_active, false).schedule(&cluster, seed, 0);
        assert!(faults.len() >= 10, "{} faults", faults.len());
        let episodes = episodes_of(&faults);
        let spans: Vec<(u64, u64)> = episodes
            .iter()
            .map(|&(f, end)| (faults[f].at_us, end.map_or(faults[f].at_us + 1, |e| faults[e].at_us)))
            .collect();
        for (i, &(start, end)) in spans.iter().enumerate() {
            assert!((5_000_000..50_000_000).contains(&start) && start < end && end <= 50_000_000);
            let in_effect = spans.iter().filter(|&&(s, e)| s <= start && start < e).count();
            assert!(in_effect <= max_active as usize, "episode {i} starts with {in_effect} in effect");
        }
        for &(f, end) in &episodes {
            let Some(e) = end else { continue };
            let (fault, ending) = (&faults[f].action, &faults[e].action);
            assert!(ends_its_own(f, fault, ending), "fault {f}: {fault:?} then {ending:?}");
            if matches!(fault, FaultAction::StopPolling { .. }) {
                stalls += 1;
                let lasted_us = faults[e].at_us - faults[f].at_us;
                assert!(lasted_us > 5_000_000 || faults[e].at_us == 50_000_000, "a stall of {lasted_us} µs");
            }
        }
    }
    assert!(stalls > 0, "no consumer stall drawn");
}

// Swarm testing: seeds draw different mixes of kinds, each within the scenario's kinds, and the same seed draws
// the same schedule.
#[test]
fn swarm_seeds_draw_varied_mixes_within_the_scenarios_kinds() {
    let cluster = load("production-nemesis").sim.cluster;
    let nemesis = spec(1, true);
    let mixes: std::collections::BTreeSet<Vec<FaultKind>> =
        (0..30).map(|seed| nemesis.schedule(&cluster, seed, 0).0.kinds).collect();
    assert!(mixes.len() >= 10, "{} distinct mixes over 30 seeds", mixes.len());
    assert!(mixes.iter().all(|m| !m.is_empty() && m.iter().all(|k| nemesis.kinds.contains(k))));
    assert_eq!(nemesis.schedule(&cluster, 7, 0), nemesis.schedule(&cluster, 7, 0));
}

// A restart of a broker whose controlled shutdown has not finished kills it first (the operator stops waiting):
// it comes back up instead of finishing its shutdown later and staying down.
#[test]
fn a_restart_during_a_controlled_shutdown_brings_the_broker_back() {
    let text = "duration = \"20s\"\n[[topics]]\nname = \"orders\"\npartitions = 3\nreplication.factor = 3\n\n\
                [[producers]]\nname = \"p\"\ntopic = \"orders\"\nrate = 100\n\n\
                [[faults]]\nat = \"5s\"\naction = \"shutdown\"\ntarget = \"broker-2\"\n\n\
                [[faults]]\nat = \"5s\"\naction = \"restart\"\ntarget = \"the target of fault 0\"\n\n\
                [expect]\nholds = [\"durability\"]\n";
    let scenario = insync::scenario::load_str("restart.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let outcome = sim::run(&scenario.sim, 1, false);
    let restart = &outcome.faults[1].1;
    assert!(restart.starts_with("restart broker-2 (killed first"), "{restart}");
    // The liveness phase finds it up: nothing to restart.
    let liveness = &outcome.faults[2].1;
    assert!(liveness.starts_with("liveness phase") && !liveness.contains("restart broker-2"), "{liveness}");
}

// `insync shrink`: every losing seed of the unsafe twin shrinks to fewer faults and no more simulated time, and
// the written scenario, loaded and run as `insync run` would, still loses acknowledged writes.
#[test]
fn shrinking_a_losing_seed_keeps_the_loss_with_fewer_faults() {
    let path = crate::support::scenario_path("unsafe-nemesis");
    let text = std::fs::read_to_string(&path).expect("the bundled scenario");
    let scenario = load("unsafe-nemesis");
    let goal = insync::shrink::Goal::Violates("lost-write".to_string());
    let losing: Vec<u64> = (0..16).filter(|&s| !lost(&sim::run(&scenario.sim, s, false)).is_empty()).collect();
    assert!(losing.len() >= 2, "losing seeds: {losing:?}");
    let mut fewest = usize::MAX;
    for &seed in &losing {
        let shrunk = insync::shrink::shrink(&scenario, &text, seed, &goal, 120).unwrap_or_else(|e| panic!("{e}"));
        assert!(shrunk.minimal.faults.len() < shrunk.original.faults.len(), "seed {seed} did not shrink");
        assert!(shrunk.minimal_size.duration_us <= shrunk.original_size.duration_us);
        assert!(shrunk.minimal_size.records <= shrunk.original_size.records);
        let written = &shrunk.minimal_text;
        let replay = insync::scenario::load_str("shrunk.toml", written).unwrap_or_else(|e| panic!("{e}\n{written}"));
        assert!(replay.sim.nemesis.is_none());
        assert_eq!(replay.sim.faults.len(), shrunk.minimal_size.faults);
        assert!(
            !lost(&sim::run(&replay.sim, replay.seed, false)).is_empty(),
            "seed {seed}: the shrunk scenario lost nothing"
        );
        fewest = fewest.min(shrunk.minimal.faults.len());
    }
    // A leader partitioned from the other brokers and the controller, and maybe what heals it: it acknowledged
    // acks=1 writes that the leader elected meanwhile never had.
    assert!(fewest <= 2, "fewest faults after shrinking: {fewest}");
}

// Shrinking cuts the workload too: of two producers and two consumer groups on the unsafe twin, the shrunk
// scenario keeps one producer (a partitioned acks=1 leader loses whichever producer's writes it acknowledged) and
// fewer consumer tables (lost writes are judged on the final logs, not on what consumers read).
#[test]
fn shrinking_drops_producers_and_consumers_the_loss_does_not_need() {
    let path = crate::support::scenario_path("unsafe-nemesis");
    let mut text = std::fs::read_to_string(&path).expect("the bundled scenario");
    let extra = "\n[[producers]]\nname = \"returns\"\ntopic = \"orders\"\nrate = 100\ncount = 5000\nacks = \"1\"\n\
        max.in.flight.requests.per.connection = 1\n\n[[consumers]]\nname = \"audit\"\ngroup.id = \"audit\"\n\
        topics = [\"orders\"]\n";
    let at = text.find("[nemesis]").expect("the story has a nemesis");
    text.insert_str(at, &format!("{extra}\n"));
    let scenario = insync::scenario::load_str("two-of-each.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.sim.cluster.producers.len(), 2);
    let goal = insync::shrink::Goal::Violates("lost-write".to_string());
    let seed = (0..16).find(|&s| !lost(&sim::run(&scenario.sim, s, false)).is_empty()).expect("a losing seed");
    let shrunk = insync::shrink::shrink(&scenario, &text, seed, &goal, 150).unwrap_or_else(|e| panic!("{e}"));
    let replay = insync::scenario::load_str("shrunk.toml", &shrunk.minimal_text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(replay.sim.cluster.producers.len(), 1, "{}", shrunk.minimal_text);
    assert!(shrunk.minimal_size.nodes < shrunk.original_size.nodes - 1, "{:?}", shrunk.minimal_size);
    assert!(!lost(&sim::run(&replay.sim, replay.seed, false)).is_empty(), "the shrunk scenario lost nothing");
}

// The commands a user types: `run --emit-scenario` writes a file that `run` replays with the same digest;
// `shrink -o` writes a scenario that `run` replays (exit 0, its loss listed); a seed that does not fail is exit 1.
#[test]
fn emit_scenario_and_shrink_write_files_that_run_replays() {
    let bin = env!("CARGO_BIN_EXE_insync");
    let digest_of = |out: &std::process::Output| {
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json output");
        json["trace_digest"].as_str().expect("a digest").to_string()
    };
    let cmd = |args: &[&str]| std::process::Command::new(bin).args(args).output().expect("insync runs");
    let safe = crate::support::scenario_path("production-nemesis").display().to_string();
    let emitted = crate::support::temp_file("nemesis", "emitted.toml").display().to_string();
    let first = cmd(&["run", &safe, "--seed", "21", "--json", "--emit-scenario", &emitted]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let replay = cmd(&["run", &emitted, "--json"]);
    assert_eq!(digest_of(&replay), digest_of(&first));

    let unsafe_twin = load("unsafe-nemesis");
    let seed = (0..40).find(|&s| !lost(&sim::run(&unsafe_twin.sim, s, false)).is_empty()).expect("a losing seed");
    let path = crate::support::scenario_path("unsafe-nemesis").display().to_string();
    let shrunk = crate::support::temp_file("nemesis", "shrunk.toml").display().to_string();
    let seed_text = seed.to_string();
    let args = ["shrink", &path, "--seed", &seed_text, "-o", &shrunk, "--invariant", "lost-write", "--budget", "40"];
    let out = cmd(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("after:"));
    let replay = cmd(&["run", &shrunk]);
    assert!(replay.status.success());
    assert!(!String::from_utf8_lossy(&replay.stdout).contains("acknowledged writes missing from the final logs: 0"));
    // The safe story's seed meets its expectations: nothing to shrink.
    let nothing = cmd(&["shrink", &safe, "--seed", "21", "-o", &shrunk]);
    assert_eq!(nothing.status.code(), Some(1));
}

// The nemesis's `reset-offsets` is the operator's kafka-consumer-groups --reset-offsets --to-earliest: instant,
// nothing ends it. Before its only consumer starts the group has no members, so the reset is accepted
// (ConsumerGroupCommand refuses a group that is not inactive) and the consumer, which would start at the log end
// (auto.offset.reset = latest), starts from the committed offset 0 and processes what was written before it.
#[test]
fn a_nemesis_offsets_reset_commits_the_earliest_offsets_of_an_empty_group() {
    let text = "duration = \"30s\"\n[[topics]]\nname = \"t\"\npartitions = 2\nreplication.factor = 3\n\n\
                [[producers]]\nname = \"p\"\ntopic = \"t\"\nrate = 50\n\n\
                [[consumers]]\nname = \"c\"\ngroup.id = \"g\"\ntopics = [\"t\"]\nstart = \"20s\"\n\
                auto.offset.reset = \"latest\"\n\n\
                [nemesis]\nkinds = [\"reset-offsets\"]\ninterval = \"4s\"\nquiet = \"2s\"\nheal_at = \"15s\"\n";
    let scenario = insync::scenario::load_str("reset.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let faults = scenario.sim.faults_at(5);
    assert!(!faults.is_empty() && faults.iter().all(|f| matches!(f.action, FaultAction::ResetOffsets { .. })));
    let outcome = sim::run(&scenario.sim, 5, false);
    let resets = outcome.history.entries.iter().filter(|e| matches!(e.event, ClientEvent::OffsetsReset { .. }));
    assert!(resets.count() >= 2, "every partition of the topic is reset: {:?}", outcome.faults);
    let processed = crate::support::processed_by_group(&outcome, "g");
    assert!(processed.keys().any(|&(_, send_seq)| send_seq == 0), "the first record sent is processed");

    let mut without = scenario.sim.clone();
    without.nemesis = None;
    let outcome = sim::run(&without, 5, false);
    let processed = crate::support::processed_by_group(&outcome, "g");
    assert!(!processed.contains_key(&(0, 0)), "without the reset, auto.offset.reset = latest skips the backlog");
}
