//! The seed decides everything: the same scenario and seed give the same trace digest; another seed of a
//! scenario with random latency gives another.

use crate::support::{bundled_scenarios, load};
use insync::sim;

#[test]
fn every_bundled_scenario_twice_gives_the_same_digest() {
    for name in bundled_scenarios() {
        let s = load(&name);
        let a = sim::run(&s.sim, s.seed, false);
        let b = sim::run(&s.sim, s.seed, false);
        assert_eq!(a.trace_digest, b.trace_digest, "{name}: same seed, different digest");
        assert_eq!(a.history.entries, b.history.entries, "{name}: same seed, different history");
    }
}

#[test]
fn keeping_the_trace_does_not_change_the_run() {
    let s = load("acks1-leader-crash");
    let without = sim::run(&s.sim, s.seed, false);
    let with = sim::run(&s.sim, s.seed, true);
    assert_eq!(without.trace_digest, with.trace_digest);
}

#[test]
fn different_seeds_give_different_digests() {
    let s = load("acks1-leader-crash");
    let a = sim::run(&s.sim, 1, false);
    let b = sim::run(&s.sim, 2, false);
    assert_ne!(a.trace_digest, b.trace_digest);
}

#[test]
fn the_cli_output_is_byte_identical_across_runs() {
    let bin = env!("CARGO_BIN_EXE_insync");
    let path = crate::support::scenario_path("unclean-election");
    let run = || {
        let out = std::process::Command::new(bin).arg("run").arg(&path).arg("--json").output().expect("runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    assert_eq!(run(), run());
}

/// A cluster with `controllers` controllers, two keyed producers and, with `consumers`, a group of two readers.
fn shaped(controllers: u32, consumers: bool) -> String {
    let mut text = format!(
        "duration = \"5s\"\n[cluster]\nbrokers = 3\ncontrollers = {controllers}\n\n[[topics]]\nname = \"orders\"\n\
         partitions = 3\n\n[[producers]]\nname = \"a\"\ntopic = \"orders\"\nrate = 200\nkeys = 1000\n\n\
         [[producers]]\nname = \"b\"\ntopic = \"orders\"\nrate = 300\nkeys = 50\n"
    );
    if consumers {
        text.push_str("\n[[consumers]]\nname = \"reader\"\ninstances = 2\ngroup.id = \"g\"\ntopics = [\"orders\"]\n");
    }
    text
}

/// Each producer's (send number, key) of its sends, in order.
fn keys_by_producer(text: &str) -> Vec<Vec<(u64, Option<u32>)>> {
    let s = insync::scenario::load_str("shape.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let outcome = sim::run(&s.sim, 7, false);
    let mut keys = vec![Vec::new(); 2];
    for entry in &outcome.history.entries {
        if let insync::history::ClientEvent::SendInvoked { producer, send_seq, key, .. } = entry.event {
            keys[producer as usize].push((send_seq, key));
        }
    }
    keys
}

// Random streams are keyed by each node's name, not its engine number: a shape change elsewhere in the cluster
// leaves a producer's keys as they were.
#[test]
fn adding_a_controller_or_removing_consumers_leaves_the_producers_keys_unchanged() {
    let base = keys_by_producer(&shaped(1, true));
    assert!(base.iter().all(|k| k.len() > 500), "both producers sent for 5 s");
    assert_eq!(keys_by_producer(&shaped(3, true)), base, "two more controllers");
    assert_eq!(keys_by_producer(&shaped(1, false)), base, "no consumers");
}

/// A process that breaks the rule: from its third tick on it reports a counter shared by every run in this test
/// process, as code reading a global (or the wall clock) would.
struct LeakyTicker;

static RUNS_SEEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl insync::engine::Process for LeakyTicker {
    type Msg = ();
    type Timer = u32;
    type Out = String;
    fn on_start(&mut self, ctx: &mut insync::engine::Ctx<'_, (), u32, String>) {
        ctx.set_timer(1_000, 1);
    }
    fn on_message(&mut self, _: insync::engine::NodeId, (): (), _: &mut insync::engine::Ctx<'_, (), u32, String>) {}
    fn on_timer(&mut self, tick: u32, ctx: &mut insync::engine::Ctx<'_, (), u32, String>) {
        let leaked = if tick == 3 { RUNS_SEEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) } else { 0 };
        ctx.emit(format!("tick {tick} at {} leaked {leaked}", ctx.now.as_us()));
        if tick < 5 {
            ctx.set_timer(1_000, tick + 1);
        }
    }
    fn on_crash(
        &mut self,
        _: insync::engine::StorageLoss,
        _: &mut insync::engine::Ctx<'_, (), u32, String>,
    ) -> Option<String> {
        None
    }
}

fn leaky_run() -> Vec<String> {
    use insync::engine::{Engine, LatencyModel, Limits, Network, SimTime, stream};
    let network = Network::new(1, LatencyModel::fixed(10), stream(1, "network", 0));
    let limits = Limits { end: SimTime(1_000_000), max_events: 1_000 };
    let mut engine = Engine::new(vec![(LeakyTicker, stream(1, "node", 0))], network, limits);
    engine.start();
    engine.run_until(SimTime(1_000_000));
    let mut outputs = Vec::new();
    engine.take_outputs(&mut outputs);
    outputs.into_iter().map(|(_, _, line)| line).collect()
}

// The determinism check names the first line where two runs of the same seed differ, with both versions of it.
#[test]
fn the_determinism_check_names_the_first_divergence_of_a_nondeterministic_process() {
    let (first, second) = (leaky_run(), leaky_run());
    assert_eq!(first.len(), 5);
    let d = sim::first_divergence(&first, &second).expect("the runs differ");
    assert_eq!(d.index, 2, "ticks 1 and 2 agree, tick 3 leaks");
    assert_ne!(d.first, d.second);
    assert!(d.first.is_some_and(|l| l.starts_with("tick 3 at 3000")), "the line of the third tick");
    assert_eq!(sim::first_divergence(&first, &first), None);
    assert_eq!(sim::first_divergence(&first, &first[..4]).map(|d| (d.index, d.second)), Some((4, None)));
}

#[test]
fn run_check_determinism_passes_a_bundled_story() {
    let path = crate::support::scenario_path("acks1-leader-crash");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_insync"))
        .arg("run")
        .arg(&path)
        .arg("--check-determinism")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("deterministic: seed 42 ran twice"));
}
