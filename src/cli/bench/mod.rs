//! `insync bench`: wall-clock timings of runs (the simulation itself never reads the clock). Without a scenario
//! it times a fixed set (issue 10): the bare event queue (the floor), the reference workload (`bench-reference`:
//! wall and CPU time, events, peak memory, bytes per record), its scale ratios (30 brokers x 1,200 partitions vs
//! 3 x 12, 2x its duration), the checker over its history, the model on `bench-replication` with and without
//! the per-event state checker, and the sweep on `bench-sweep` (seeds per second with 1 and 2 worker threads,
//! and a shrink of a losing seed). `--json` prints the figures as one object instead.

mod reference;

use super::EXIT_BAD_INPUT;
use crate::scenario::{self, Scenario};
use crate::sim;
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// The fixed set's scenarios, relative to the working directory (the repository's root).
const REFERENCE_SCENARIO: &str = "scenarios/bench-reference.toml";
const MODEL_SCENARIO: &str = "scenarios/bench-replication.toml";
const SWEEP_SCENARIO: &str = "scenarios/bench-sweep.toml";

/// Seeds in each timed sweep, how many times each is timed, and runs a shrink may take.
const SWEEP_SEEDS: u64 = 100;
const SWEEP_ROUNDS: u32 = 3;
const SHRINK_BUDGET: u32 = 300;

/// Everything `insync bench` measured (what it did not run is absent).
#[derive(Debug, Serialize)]
struct Figures {
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<reference::Figures>,
    model: ModelRuns,
    #[serde(skip_serializing_if = "Option::is_none")]
    sweep: Option<Sweep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shrink: Option<ShrinkTime>,
}

/// `insync bench [SCENARIO] [--runs N] [--json]`.
pub fn bench(path: Option<&Path>, runs: u32, json: bool) -> ExitCode {
    match measure(path, runs, json) {
        Ok(figures) if json => {
            println!("{}", serde_json::to_string_pretty(&figures).expect("figures serialize"));
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Runs the set (or the one scenario), printing each part as it is measured unless `quiet`.
fn measure(path: Option<&Path>, runs: u32, quiet: bool) -> Result<Figures, String> {
    let reference = match path {
        Some(_) => None,
        None => {
            let figures = reference::measure(&load(Path::new(REFERENCE_SCENARIO))?, Path::new(REFERENCE_SCENARIO))?;
            print_unless(quiet, || reference::print(&figures));
            Some(figures)
        }
    };
    let model = load(path.unwrap_or(Path::new(MODEL_SCENARIO)))?;
    let model = model_runs(&model, runs);
    print_unless(quiet, || model.print());
    if path.is_some() {
        return Ok(Figures { reference, model, sweep: None, shrink: None });
    }
    let small = load(Path::new(SWEEP_SCENARIO))?;
    let text = std::fs::read_to_string(SWEEP_SCENARIO).map_err(|e| format!("{SWEEP_SCENARIO}: {e}"))?;
    let sweep = sweeps(&small);
    print_unless(quiet, || sweep.print());
    let shrink = shrink_one(&small, &text)?;
    print_unless(quiet, || shrink.print());
    Ok(Figures { reference, model, sweep: Some(sweep), shrink: Some(shrink) })
}

fn print_unless(quiet: bool, print: impl FnOnce()) {
    if !quiet {
        print();
    }
}

fn load(path: &Path) -> Result<Scenario, String> {
    scenario::load_file(path).map_err(|e| e.to_string())
}

/// Runs of one scenario without and with the per-event state checker.
#[derive(Debug, Serialize)]
struct ModelRuns {
    name: String,
    seed: u64,
    /// Wall times of each run, sorted.
    walls_ms: Vec<f64>,
    checked_walls_ms: Vec<f64>,
    events: u64,
    simulated_s: f64,
}

impl ModelRuns {
    fn median_ms(walls: &[f64]) -> f64 {
        walls[walls.len() / 2]
    }

    fn print(&self) {
        let median_ms = Self::median_ms(&self.walls_ms);
        println!("bench {} ({} runs, seed {})", self.name, self.walls_ms.len(), self.seed);
        println!(
            "  wall per run: min {:.1} ms, median {median_ms:.1} ms, max {:.1} ms",
            self.walls_ms[0],
            self.walls_ms[self.walls_ms.len() - 1]
        );
        let per_s = self.events as f64 / (median_ms.max(1e-3) / 1e3);
        println!(
            "  {} events for {:.0} simulated seconds: {:.2} M events/s",
            self.events,
            self.simulated_s,
            per_s / 1e6
        );
        println!("  {:.0}x faster than real time", self.simulated_s / (median_ms.max(1e-3) / 1e3));
        let checked_ms = Self::median_ms(&self.checked_walls_ms);
        let added = (checked_ms / median_ms.max(1e-3) - 1.0) * 100.0;
        println!("  with the per-event state checker: median {checked_ms:.1} ms ({added:+.0}%)");
    }
}

/// Runs the scenario `runs` times without the state checker and as many with it, in turns so that both see
/// the same machine.
fn model_runs(scenario: &Scenario, runs: u32) -> ModelRuns {
    let mut walls_ms = [Vec::new(), Vec::new()];
    let mut events = 0;
    let mut simulated_us = 0;
    let mut config = scenario.sim.clone();
    for _ in 0..runs.max(1) {
        for (state_check, walls_ms) in [false, true].into_iter().zip(&mut walls_ms) {
            config.state_check = state_check;
            let started = Instant::now();
            let outcome = sim::run(&config, scenario.seed, false);
            walls_ms.push(started.elapsed().as_secs_f64() * 1e3);
            events = outcome.stats.events;
            simulated_us = outcome.stats.simulated_time_us;
        }
    }
    walls_ms.iter_mut().for_each(|w| w.sort_by(f64::total_cmp));
    let [walls_ms, checked_walls_ms] = walls_ms;
    ModelRuns {
        name: scenario.name.clone(),
        seed: scenario.seed,
        walls_ms,
        checked_walls_ms,
        events,
        simulated_s: simulated_us as f64 / 1e6,
    }
}

/// Seeds per second of `explore`'s runner: with the state checker (as `explore` runs) on 1 and 2 worker threads,
/// and on 1 without it.
#[derive(Debug, Serialize)]
struct Sweep {
    name: String,
    seeds: u64,
    rounds: u32,
    /// The best wall time of each way.
    one_job_s: f64,
    two_jobs_s: f64,
    one_job_unchecked_s: f64,
    failing: usize,
}

impl Sweep {
    fn print(&self) {
        let rate = |s: f64| self.seeds as f64 / s.max(1e-9);
        let (one, two, unchecked) = (rate(self.one_job_s), rate(self.two_jobs_s), rate(self.one_job_unchecked_s));
        println!("bench {} sweep ({} seeds, best of {})", self.name, self.seeds, self.rounds);
        println!("  1 job:  {:.2} s, {one:.1} seeds/s ({} failing [expect])", self.one_job_s, self.failing);
        println!("  2 jobs: {:.2} s, {two:.1} seeds/s: {:.2}x one job", self.two_jobs_s, two / one);
        let added = (self.one_job_s / self.one_job_unchecked_s.max(1e-9) - 1.0) * 100.0;
        println!("  1 job without the state checker: {unchecked:.1} seeds/s (the checker adds {added:.0}% to a run)");
    }
}

/// Each way measured `SWEEP_ROUNDS` times in turns and the best kept, so that a slow moment of the machine does
/// not decide a ratio.
fn sweeps(scenario: &Scenario) -> Sweep {
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
    let [one_job_s, two_jobs_s, one_job_unchecked_s] = best_s;
    Sweep {
        name: scenario.name.clone(),
        seeds: SWEEP_SEEDS,
        rounds: SWEEP_ROUNDS,
        one_job_s,
        two_jobs_s,
        one_job_unchecked_s,
        failing,
    }
}

/// How long `shrink` took on the first seed that loses acknowledged writes (none: no seed lost any).
#[derive(Debug, Serialize)]
struct ShrinkTime {
    seed: Option<u64>,
    wall_s: f64,
    runs: u32,
    faults: (usize, usize),
    records: (u64, u64),
}

impl ShrinkTime {
    fn print(&self) {
        let Some(seed) = self.seed else {
            return println!("  shrink: no seed below {SWEEP_SEEDS} loses a write");
        };
        println!(
            "  shrink of seed {seed} (lost-write): {:.2} s, {} runs, {} to {} faults, {} to {} records",
            self.wall_s, self.runs, self.faults.0, self.faults.1, self.records.0, self.records.1
        );
    }
}

fn shrink_one(scenario: &Scenario, text: &str) -> Result<ShrinkTime, String> {
    let goal = crate::shrink::Goal::Violates("lost-write".to_string());
    let loses = |seed: &u64| {
        let outcome = sim::run(&scenario.sim, *seed, false);
        !crate::check::lost_write::lost_writes(&outcome.history, &outcome.final_logs).is_empty()
    };
    let Some(seed) = (0..SWEEP_SEEDS).find(loses) else {
        return Ok(ShrinkTime { seed: None, wall_s: 0.0, runs: 0, faults: (0, 0), records: (0, 0) });
    };
    let started = Instant::now();
    let shrunk = crate::shrink::shrink(scenario, text, seed, &goal, SHRINK_BUDGET)?;
    Ok(ShrinkTime {
        seed: Some(seed),
        wall_s: started.elapsed().as_secs_f64(),
        runs: shrunk.runs,
        faults: (shrunk.original_size.faults, shrunk.minimal_size.faults),
        records: (shrunk.original_size.records, shrunk.minimal_size.records),
    })
}
