//! The reference workload's figures (issue 10): the bare event queue as a floor, the reference run's cost and
//! memory, how its cost scales with the cluster's size and the run's length, and what judging its history costs.
//! Time is the wall clock and, where Linux reports it, this process's CPU time; memory is the peak resident set
//! (reset before each run where Linux allows it).

use crate::engine::SimTime;
use crate::engine::queue::EventQueue;
use crate::engine::runner::Engine;
use crate::kafka::node::Node;
use crate::scenario::emit::{Rewrite, TableEdit, rewrite_scenario};
use crate::scenario::{self, Scenario, overrides::Override};
use crate::sim;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Pushes and pops the floor times, after filling the queue to the reference run's largest depth.
const FLOOR_OPS: u64 = 2_000_000;

/// The scale runs' length (without the reference's faults): long enough for the steady state, short enough for
/// 1,200 partitions.
const SCALE_DURATION_US: u64 = 10_000_000;

/// One timed run.
#[derive(Clone, Debug, Serialize)]
pub struct Timed {
    pub name: String,
    pub wall_s: f64,
    /// This process's user + system time over the run; absent where the OS does not say.
    pub cpu_s: Option<f64>,
    pub events: u64,
    /// The simulated time the run reached (short of its end when stopped by `max_events`).
    pub simulated_s: f64,
    pub end_s: f64,
    /// The peak resident set during the run; absent where the OS does not say.
    pub peak_bytes: Option<u64>,
    /// Sends the producers made: what the run retains a record for.
    pub records: u64,
}

impl Timed {
    fn ns_per_event(&self) -> f64 {
        self.wall_s * 1e9 / self.events.max(1) as f64
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Floor {
    /// The engine's queued event, and the floor's (the next multiple of 64 bytes, at least as large).
    pub event_bytes: usize,
    pub floor_event_bytes: usize,
    pub depth: u64,
    pub ns_per_event: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    pub floor: Floor,
    pub reference: Timed,
    /// The checker's time over the reference run's history, and the entries judged.
    pub checker_s: f64,
    pub history_entries: usize,
    pub small: Timed,
    pub large: Timed,
    pub doubled: Timed,
}

/// Runs the reference, its scale variants and the floor.
/// Runs the reference, its scale variants and the floor: the smaller runs first, so that the peak memory each
/// reports is its own rather than what the allocator kept from a larger one.
pub fn measure(reference: &Scenario, path: &Path) -> Result<Figures, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let small = scaled(reference, &text, "3 brokers x 12 partitions", &[])?;
    let bigger = [("cluster", "brokers", 30), ("topics", "partitions", 1200)];
    let large = scaled(reference, &text, "30 brokers x 1200 partitions", &bigger)?;
    let (timed, outcome) = timed_run("reference", reference);
    let started = Instant::now();
    let found = crate::check::check_all(&outcome.history, Some(&outcome.final_logs));
    let checker_s = started.elapsed().as_secs_f64();
    std::hint::black_box(found);
    let history_entries = outcome.history.entries.len();
    let depth = outcome.stats.max_queue_len;
    drop(outcome);
    let doubled_end = Override::parse(&format!("duration=\"{}us\"", reference.sim.limits.end.as_us() * 2))?;
    let doubled = scenario::load_file_with(path, &[doubled_end]).map_err(|e| e.to_string())?;
    let doubled = timed_run("2x duration", &doubled).0;
    let floor = floor(depth);
    Ok(Figures { floor, reference: timed, checker_s, history_entries, small, large, doubled })
}

/// The reference without its faults, `SCALE_DURATION_US` long, with `sets` (section, key, value) applied, timed.
fn scaled(
    reference: &Scenario,
    text: &str,
    name: &str,
    sets: &[(&'static str, &'static str, u64)],
) -> Result<Timed, String> {
    let edits = sets
        .iter()
        .map(|&(section, key, value)| TableEdit::Set { section, index: 0, key, value: value.to_string() })
        .collect();
    let rewrite = Rewrite { seed: reference.seed, duration_us: Some(SCALE_DURATION_US), replace_faults: true, edits };
    let scaled_text = rewrite_scenario(text, &rewrite, &reference.sim.cluster, &[])?;
    let scenario = scenario::load_str("bench-reference (scaled)", &scaled_text).map_err(|e| e.to_string())?;
    Ok(timed_run(name, &scenario).0)
}

/// One run of `scenario` at its seed, state checker off (the model alone), timed.
fn timed_run(name: &str, scenario: &Scenario) -> (Timed, sim::Outcome) {
    let mut config = scenario.sim.clone();
    config.state_check = false;
    reset_peak_memory();
    let cpu_before = cpu_time_s();
    let started = Instant::now();
    let outcome = sim::run(&config, scenario.seed, false);
    let wall_s = started.elapsed().as_secs_f64();
    let cpu_s = cpu_time_s().zip(cpu_before).map(|(after, before)| after - before);
    let timed = Timed {
        name: name.to_string(),
        wall_s,
        cpu_s,
        events: outcome.stats.events,
        simulated_s: outcome.stats.simulated_time_us as f64 / 1e6,
        end_s: config.limits.end.as_us() as f64 / 1e6,
        peak_bytes: peak_memory_bytes(),
        records: outcome.stats.sends_invoked,
    };
    (timed, outcome)
}

/// The bare event queue with events of the engine's size, at `depth`: what a push and a pop cost with nothing
/// else done, the floor the engine's cost per event is compared with.
fn floor(depth: u64) -> Floor {
    let event_bytes = Engine::<Node>::event_bytes();
    let depth = depth.max(1);
    let ns_per_event = match event_bytes.div_ceil(64) {
        0 | 1 => floor_ns::<8>(depth),
        2 => floor_ns::<16>(depth),
        3 => floor_ns::<24>(depth),
        4 => floor_ns::<32>(depth),
        _ => floor_ns::<64>(depth),
    };
    Floor { event_bytes, floor_event_bytes: event_bytes.next_multiple_of(64).max(64), depth, ns_per_event }
}

/// Nanoseconds per pop and push of `[u64; W]` events in a queue holding `depth`, at pseudo-random times.
fn floor_ns<const W: usize>(depth: u64) -> f64 {
    let mut queue: EventQueue<[u64; W]> = EventQueue::default();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // splitmix64: a fixed sequence, so every run times the same work.
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for _ in 0..depth {
        queue.push(SimTime(next() % 10_000), [0; W]);
    }
    let started = Instant::now();
    for i in 0..FLOOR_OPS {
        let (at, event) = queue.pop_until(SimTime(u64::MAX)).expect("the queue stays at its depth");
        std::hint::black_box(&event);
        queue.push(SimTime(at.0 + 1 + next() % 10_000), [i; W]);
    }
    started.elapsed().as_secs_f64() * 1e9 / FLOOR_OPS as f64
}

/// This process's user + system CPU time (Linux: /proc/self/stat, in clock ticks of 1/100 s).
fn cpu_time_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which is in parentheses and may hold spaces): utime is the 12th, stime
    // the 13th.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Resets the peak resident set to the current one (Linux 4.0+: /proc/self/clear_refs), so the next reading is
/// the peak of what follows.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The peak resident set since the last reset (Linux: VmHWM in /proc/self/status).
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

pub fn print(f: &Figures) {
    println!(
        "bench floor: a bare event queue of {}-byte events (the engine's are {}) at depth {}: {:.0} ns per push and pop",
        f.floor.floor_event_bytes, f.floor.event_bytes, f.floor.depth, f.floor.ns_per_event
    );
    print_run("bench-reference", &f.reference, f.floor.ns_per_event);
    println!(
        "  the checker judged its {} history entries in {:.2} s ({:.2}x the simulation)",
        f.history_entries,
        f.checker_s,
        f.checker_s / f.reference.wall_s.max(1e-9)
    );
    print_run("  scale", &f.small, f.floor.ns_per_event);
    print_run("  scale", &f.large, f.floor.ns_per_event);
    println!(
        "  scale: {:.2}x the cost per event of {} at {}",
        f.large.ns_per_event() / f.small.ns_per_event().max(1e-9),
        f.large.name,
        f.small.name
    );
    print_run("  length", &f.doubled, f.floor.ns_per_event);
    println!(
        "  length: 2x the duration took {:.2}x the time for {:.2}x the events",
        f.doubled.wall_s / f.reference.wall_s.max(1e-9),
        f.doubled.events as f64 / f.reference.events.max(1) as f64
    );
}

fn print_run(label: &str, t: &Timed, floor_ns: f64) {
    let cpu = t.cpu_s.map_or("CPU n/a".to_string(), |c| format!("CPU {c:.2} s"));
    let real_time = t.simulated_s / t.cpu_s.unwrap_or(t.wall_s).max(1e-9);
    println!(
        "{label} {}: wall {:.2} s, {cpu}; {} events, {:.2} M events/s, {:.0} ns per event ({:.1}x the floor); \
         {:.1} of {:.1} simulated s, {real_time:.0}x real time",
        t.name,
        t.wall_s,
        t.events,
        t.events as f64 / t.wall_s.max(1e-9) / 1e6,
        t.ns_per_event(),
        t.ns_per_event() / floor_ns.max(1e-9),
        t.simulated_s,
        t.end_s
    );
    if let Some(peak) = t.peak_bytes {
        println!(
            "{}  peak memory {:.0} MiB for {} records: {:.0} bytes per record",
            " ".repeat(label.len() - label.trim_start().len()),
            peak as f64 / (1 << 20) as f64,
            t.records,
            peak as f64 / t.records.max(1) as f64
        );
    }
}
