//! `insync bench`: wall-clock timings of runs (the simulation itself never reads the clock). Without a scenario
//! it times a fixed set: the model on `bench-replication` (with and without the per-event state checker) and
//! the sweep on `bench-sweep` (seeds per second with 1 and 2 worker threads, and a shrink of a losing seed).

use super::EXIT_BAD_INPUT;
use crate::scenario::{self, Scenario};
use crate::sim;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// The fixed set's scenarios, relative to the working directory (the repository's root).
const MODEL_SCENARIO: &str = "scenarios/bench-replication.toml";
const SWEEP_SCENARIO: &str = "scenarios/bench-sweep.toml";

/// Seeds in each timed sweep, how many times each is timed, and runs a shrink may take.
const SWEEP_SEEDS: u64 = 100;
const SWEEP_ROUNDS: u32 = 3;
const SHRINK_BUDGET: u32 = 300;

/// `insync bench [SCENARIO] [--runs N]`.
pub fn bench(path: Option<&Path>, runs: u32) -> ExitCode {
    let model_path = path.unwrap_or(Path::new(MODEL_SCENARIO));
    let Some(model) = load(model_path) else { return ExitCode::from(EXIT_BAD_INPUT) };
    model_runs(&model, runs);
    if path.is_some() {
        return ExitCode::SUCCESS;
    }
    let Some(small) = load(Path::new(SWEEP_SCENARIO)) else { return ExitCode::from(EXIT_BAD_INPUT) };
    let Ok(text) = std::fs::read_to_string(SWEEP_SCENARIO) else { return ExitCode::from(EXIT_BAD_INPUT) };
    sweeps(&small);
    shrink_one(&small, &text);
    ExitCode::SUCCESS
}

fn load(path: &Path) -> Option<Scenario> {
    match scenario::load_file(path) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

/// Runs the scenario `runs` times without the state checker and as many with it, in turns so that both see
/// the same machine; the wall times of each sorted, and the events of a run.
fn timed_runs(config: &sim::SimConfig, seed: u64, runs: u32) -> ([Vec<u64>; 2], u64) {
    let mut walls_us = [Vec::new(), Vec::new()];
    let mut events = 0;
    let mut config = config.clone();
    for _ in 0..runs.max(1) {
        for (state_check, walls_us) in [false, true].into_iter().zip(&mut walls_us) {
            config.state_check = state_check;
            let started = Instant::now();
            let outcome = sim::run(&config, seed, false);
            walls_us.push(started.elapsed().as_micros() as u64);
            events = outcome.stats.events;
        }
    }
    walls_us.iter_mut().for_each(|w| w.sort_unstable());
    (walls_us, events)
}

/// The model alone, and what the per-event state checker adds.
fn model_runs(scenario: &Scenario, runs: u32) {
    let ([walls_us, checked_us], events) = timed_runs(&scenario.sim, scenario.seed, runs);
    let median_us = walls_us[walls_us.len() / 2];
    let simulated_s = scenario.sim.limits.end.as_us() as f64 / 1e6;
    println!("bench {} ({} runs, seed {})", scenario.name, walls_us.len(), scenario.seed);
    println!(
        "  wall per run: min {:.1} ms, median {:.1} ms, max {:.1} ms",
        walls_us[0] as f64 / 1e3,
        median_us as f64 / 1e3,
        walls_us[walls_us.len() - 1] as f64 / 1e3
    );
    let per_s = events as f64 / (median_us.max(1) as f64 / 1e6);
    println!("  {events} events for {simulated_s:.0} simulated seconds: {:.2} M events/s", per_s / 1e6);
    println!("  {:.0}x faster than real time", simulated_s / (median_us.max(1) as f64 / 1e6));
    let checked_median_us = checked_us[checked_us.len() / 2];
    let added = (checked_median_us as f64 / median_us.max(1) as f64 - 1.0) * 100.0;
    println!("  with the per-event state checker: median {:.1} ms ({added:+.0}%)", checked_median_us as f64 / 1e3);
}

/// Seeds per second of `explore`'s runner (state checker on, as `explore` runs) with 1 and 2 worker threads,
/// and with 1 thread without the checker: each measured `SWEEP_ROUNDS` times in turns, the best kept, so that a
/// slow moment of the machine does not decide a ratio.
fn sweeps(scenario: &Scenario) {
    let seeds: Vec<u64> = (0..SWEEP_SEEDS).collect();
    let mut unchecked = scenario.clone();
    unchecked.sim.state_check = false;
    let ways: [(&Scenario, usize); 3] = [(scenario, 1), (scenario, 2), (&unchecked, 1)];
    let mut best_s = [f64::INFINITY; 3];
    let mut failing = 0;
    for _ in 0..SWEEP_ROUNDS {
        for (best, &(scenario, jobs)) in best_s.iter_mut().zip(&ways) {
            let started = Instant::now();
            let results = crate::sweep::sweep(scenario, &seeds, jobs, |_| {});
            *best = best.min(started.elapsed().as_secs_f64().max(1e-9));
            failing = results.iter().filter(|r| !r.met).count();
        }
    }
    let rate = |i: usize| seeds.len() as f64 / best_s[i];
    println!("bench {} sweep ({} seeds, best of {SWEEP_ROUNDS})", scenario.name, seeds.len());
    println!("  1 job:  {:.2} s, {:.1} seeds/s ({failing} failing [expect])", best_s[0], rate(0));
    println!("  2 jobs: {:.2} s, {:.1} seeds/s: {:.2}x one job", best_s[1], rate(1), rate(1) / rate(0));
    let added = (best_s[0] / best_s[2] - 1.0) * 100.0;
    println!("  1 job without the state checker: {:.1} seeds/s (the checker adds {added:.0}% to a run)", rate(2));
}

/// How long `shrink` takes on the first seed that loses acknowledged writes.
fn shrink_one(scenario: &Scenario, text: &str) {
    let goal = crate::shrink::Goal::Violates("lost-write".to_string());
    let loses = |seed: &u64| {
        let outcome = sim::run(&scenario.sim, *seed, false);
        !crate::check::lost_write::lost_writes(&outcome.history, &outcome.final_logs).is_empty()
    };
    let Some(seed) = (0..SWEEP_SEEDS).find(loses) else {
        println!("  shrink: no seed below {SWEEP_SEEDS} loses a write");
        return;
    };
    let started = Instant::now();
    match crate::shrink::shrink(scenario, text, seed, &goal, SHRINK_BUDGET) {
        Ok(shrunk) => println!(
            "  shrink of seed {seed} (lost-write): {:.2} s, {} runs, {} to {} faults, {} to {} records",
            started.elapsed().as_secs_f64(),
            shrunk.runs,
            shrunk.original_size.faults,
            shrunk.minimal_size.faults,
            shrunk.original_size.records,
            shrunk.minimal_size.records
        ),
        Err(e) => println!("  shrink of seed {seed}: {e}"),
    }
}
