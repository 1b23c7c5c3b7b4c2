//! `insync compare`: the cells of a comparison matrix (settings applied to one base scenario with `--set`) each
//! run over the same seeds, paired, so every cell meets the same nemesis draws and workload; per cell, what
//! clients lost, saw twice or out of order, how often sends failed, latencies, recovery and rebalances.

pub mod charts;
pub mod metrics;
pub mod report;

use crate::check;
use crate::scenario::Scenario;
use crate::scenario::matrix::Cell;
use crate::sweep::{self, SeedRange};
use metrics::{Histograms, Percentiles, SeedFigures, SeedMetrics, wilson_95};
use serde::Serialize;
use std::collections::BTreeMap;

/// The format version of `results.json`.
pub const RESULTS_VERSION: u32 = 1;

/// One cell, ready to run: its settings and the scenario they make.
pub struct CellRun {
    pub cell: Cell,
    pub scenario: Scenario,
}

/// What was compared and what each cell measured.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub format_version: u32,
    pub insync_version: &'static str,
    pub name: String,
    pub title: String,
    /// The base scenario as given, and its text's FNV-1a 64.
    pub base: String,
    pub base_fnv64: String,
    /// The seeds every cell ran.
    pub seeds: String,
    pub seed_count: u64,
    pub cells: Vec<CellSummary>,
}

/// A cell's figures over its seeds.
#[derive(Clone, Debug, Serialize)]
pub struct CellSummary {
    pub name: String,
    /// The `--set` overrides that make it from the base.
    pub overrides: Vec<String>,
    pub seeds: u64,
    pub sent: u64,
    pub acked: u64,
    /// Acknowledged writes missing from the final logs (lost-write).
    pub lost: u64,
    pub lost_share_of_acked: f64,
    pub seeds_with_loss: u64,
    pub seeds_with_loss_share: f64,
    /// 95% Wilson interval of the share of seeds with any loss.
    pub seeds_with_loss_ci95: [f64; 2],
    /// Acknowledged records no group processed (undelivered).
    pub undelivered: u64,
    pub seeds_with_undelivered: u64,
    /// Records a log holds twice (duplicate-write: a retry without idempotence).
    pub duplicate_writes: u64,
    pub seeds_with_duplicate_writes: u64,
    /// Records a group processed twice (duplicate-delivery: at-least-once after a crash or rebalance).
    pub duplicate_deliveries: u64,
    pub seeds_with_duplicate_deliveries: u64,
    /// key-order, reordered-write and nonmonotonic-poll violations.
    pub order_violations: u64,
    pub seeds_with_order_violations: u64,
    /// Every invariant's violations, summed over seeds.
    pub violations: BTreeMap<&'static str, u64>,
    /// Sends that failed for good, in all and by Kafka error.
    pub failed: u64,
    pub failed_share_of_sent: f64,
    pub failed_by_error: BTreeMap<String, u64>,
    /// `send()` to acknowledgement, acknowledged sends of every seed.
    pub produce_latency: Option<Percentiles>,
    /// `send()` to the first processing of the record.
    pub end_to_end: Option<Percentiles>,
    /// Acknowledged writes per simulated second of the scenario's duration, on average over seeds.
    pub throughput_per_s: f64,
    pub elections_per_seed: f64,
    /// Partition-seconds without a leader, per seed.
    pub offline_s_per_seed: f64,
    /// Each ISR shortfall: time until full again.
    pub isr_recovery: Option<Percentiles>,
    /// ISRs still short at a run's end, over all seeds.
    pub isr_unrecovered: u64,
    pub rebalances_per_seed: f64,
    pub rebalance_duration: Option<Percentiles>,
    /// Consumer lag (records acknowledged, not yet processed), mean over seeds, every `lag_interval_s`.
    pub lag_interval_s: f64,
    pub lag_mean: Vec<f64>,
    /// The seed that did worst (see `worst`), if any did badly.
    pub worst: Option<WorstSeed>,
    pub per_seed: Vec<SeedFigures>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WorstSeed {
    pub seed: u64,
    pub lost: u64,
    pub order_violations: u64,
    pub duplicate_writes: u64,
    pub duplicate_deliveries: u64,
    pub undelivered: u64,
    pub reproduce: String,
}

impl WorstSeed {
    /// `seed 21: 10995 lost, 2 order violations, 0 written twice, 0 undelivered, 0 processed twice`.
    pub fn described(&self) -> String {
        format!(
            "seed {}: {} lost, {} order violations, {} written twice, {} undelivered, {} processed twice",
            self.seed,
            self.lost,
            self.order_violations,
            self.duplicate_writes,
            self.undelivered,
            self.duplicate_deliveries
        )
    }
}

const DUPLICATE_WRITES: [&str; 1] = [check::duplicate_write::NAME];
const DUPLICATE_DELIVERIES: [&str; 1] = [check::duplicate_delivery::NAME];
const ORDER: [&str; 3] = [check::key_order::NAME, check::reordered_write::NAME, check::nonmonotonic_poll::NAME];

/// What a comparison was asked: the matrix's name and title, the base as shown, the seeds.
pub struct Asked<'a> {
    pub name: &'a str,
    pub title: &'a str,
    pub base: &'a str,
    pub base_fnv64: u64,
    pub seeds: SeedRange,
    pub jobs: usize,
}

/// Runs every cell at every seed on `jobs` threads (`done` after each run) and sums up each cell.
/// `reproduce(cell, seed)` is the command that replays one run.
pub fn compare(
    asked: &Asked<'_>,
    cells: &[CellRun],
    reproduce: impl Fn(&CellRun, u64) -> String,
    mut done: impl FnMut(),
) -> Comparison {
    let seeds: Vec<u64> = (asked.seeds.start..asked.seeds.end).collect();
    let runs: Vec<(usize, u64)> = (0..cells.len()).flat_map(|c| seeds.iter().map(move |&s| (c, s))).collect();
    let mut figures: Vec<Option<SeedFigures>> = vec![None; runs.len()];
    let mut histograms: Vec<Histograms> = cells.iter().map(|_| Histograms::new()).collect();
    let work = |&(c, seed): &(usize, u64)| run_one(&cells[c].scenario, seed);
    // Histogram sums do not depend on the order runs finish in; figures are kept by run.
    sweep::each_in_parallel(&runs, asked.jobs, work, |index, m: SeedMetrics| {
        histograms[runs[index].0].add(&m.histograms);
        figures[index] = Some(m.figures);
        done();
    });
    let mut figures = figures.into_iter().map(|f| f.unwrap_or_else(|| unreachable!("every run reports")));
    let summaries = cells
        .iter()
        .zip(&histograms)
        .map(|(cell, h)| {
            let of_cell: Vec<SeedFigures> = figures.by_ref().take(seeds.len()).collect();
            summarize(cell, of_cell, h, &reproduce)
        })
        .collect();
    Comparison {
        format_version: RESULTS_VERSION,
        insync_version: env!("CARGO_PKG_VERSION"),
        name: asked.name.to_string(),
        title: asked.title.to_string(),
        base: asked.base.to_string(),
        base_fnv64: format!("{:016x}", asked.base_fnv64),
        seeds: asked.seeds.to_string(),
        seed_count: seeds.len() as u64,
        cells: summaries,
    }
}

fn run_one(scenario: &Scenario, seed: u64) -> SeedMetrics {
    let outcome = crate::sim::run(&scenario.sim, seed, false);
    let replicas: Vec<u32> = scenario.sim.cluster.partitions.iter().map(|p| p.replicas.len() as u32).collect();
    metrics::measure(&outcome, &replicas, scenario.sim.limits.end.as_us())
}

fn summarize(
    run: &CellRun,
    seeds: Vec<SeedFigures>,
    h: &Histograms,
    reproduce: &impl Fn(&CellRun, u64) -> String,
) -> CellSummary {
    let n = seeds.len() as u64;
    let sum = |f: &dyn Fn(&SeedFigures) -> u64| seeds.iter().map(f).sum::<u64>();
    let with = |f: &dyn Fn(&SeedFigures) -> u64| seeds.iter().filter(|s| f(s) > 0).count() as u64;
    let share = |part: u64, whole: u64| if whole == 0 { 0.0 } else { part as f64 / whole as f64 };
    let per_seed = |total: f64| if n == 0 { 0.0 } else { total / n as f64 };
    let undelivered = |s: &SeedFigures| s.violations_of(&[check::undelivered::NAME]);
    let (sent, acked, lost) = (sum(&|s| s.sent), sum(&|s| s.acked), sum(&|s| s.lost()));
    let seeds_with_loss = with(&|s| s.lost());
    let (low, high) = wilson_95(seeds_with_loss, n);
    let mut violations: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut failed_by_error: BTreeMap<String, u64> = BTreeMap::new();
    for s in &seeds {
        s.violations.iter().for_each(|(k, v)| *violations.entry(k).or_insert(0) += v);
        s.failed.iter().for_each(|(k, v)| *failed_by_error.entry(k.clone()).or_insert(0) += v);
    }
    let failed = failed_by_error.values().sum();
    let throughput: f64 = seeds.iter().map(|s| share(s.acked * 1_000_000, s.duration_us)).sum();
    let interval_us = seeds.first().map_or(metrics::LAG_SAMPLE_US, |s| metrics::lag_interval_us(s.duration_us));
    CellSummary {
        name: run.cell.name.clone(),
        overrides: run.cell.overrides.iter().map(ToString::to_string).collect(),
        seeds: n,
        sent,
        acked,
        lost,
        lost_share_of_acked: share(lost, acked),
        seeds_with_loss,
        seeds_with_loss_share: share(seeds_with_loss, n),
        seeds_with_loss_ci95: [low, high],
        undelivered: sum(&undelivered),
        seeds_with_undelivered: with(&undelivered),
        duplicate_writes: sum(&|s| s.violations_of(&DUPLICATE_WRITES)),
        seeds_with_duplicate_writes: with(&|s| s.violations_of(&DUPLICATE_WRITES)),
        duplicate_deliveries: sum(&|s| s.violations_of(&DUPLICATE_DELIVERIES)),
        seeds_with_duplicate_deliveries: with(&|s| s.violations_of(&DUPLICATE_DELIVERIES)),
        order_violations: sum(&|s| s.violations_of(&ORDER)),
        seeds_with_order_violations: with(&|s| s.violations_of(&ORDER)),
        violations,
        failed,
        failed_share_of_sent: share(failed, sent),
        failed_by_error,
        produce_latency: Percentiles::of(&h.produce_latency),
        end_to_end: Percentiles::of(&h.end_to_end),
        throughput_per_s: per_seed(throughput),
        elections_per_seed: per_seed(sum(&|s| s.elections) as f64),
        offline_s_per_seed: per_seed(sum(&|s| s.offline_us) as f64 / 1e6),
        isr_recovery: Percentiles::of(&h.isr_recovery),
        isr_unrecovered: sum(&|s| s.isr_unrecovered),
        rebalances_per_seed: per_seed(sum(&|s| s.rebalances) as f64),
        rebalance_duration: Percentiles::of(&h.rebalance_duration),
        lag_interval_s: interval_us as f64 / 1e6,
        lag_mean: mean_lag(&seeds),
        worst: worst(&seeds).map(|s| WorstSeed {
            seed: s.seed,
            lost: s.lost(),
            order_violations: s.violations_of(&ORDER),
            duplicate_writes: s.violations_of(&DUPLICATE_WRITES),
            duplicate_deliveries: s.violations_of(&DUPLICATE_DELIVERIES),
            undelivered: undelivered(s),
            reproduce: reproduce(run, s.seed),
        }),
        per_seed: seeds,
    }
}

/// The seed with the most lost writes, then order violations, duplicate writes, undelivered records, duplicate
/// deliveries (the first such seed).
fn worst(seeds: &[SeedFigures]) -> Option<&SeedFigures> {
    let badness = |s: &SeedFigures| {
        let undelivered = s.violations_of(&[check::undelivered::NAME]);
        let twice = (s.violations_of(&DUPLICATE_WRITES), undelivered, s.violations_of(&DUPLICATE_DELIVERIES));
        (s.lost(), s.violations_of(&ORDER), twice)
    };
    let mut worst: Option<&SeedFigures> = None;
    for s in seeds.iter().filter(|s| badness(s) != (0, 0, (0, 0, 0))) {
        if worst.is_none_or(|w| badness(s) > badness(w)) {
            worst = Some(s);
        }
    }
    worst
}

fn mean_lag(seeds: &[SeedFigures]) -> Vec<f64> {
    let samples = seeds.iter().map(|s| s.lag.len()).max().unwrap_or(0);
    (0..samples)
        .map(|i| {
            let total: u64 = seeds.iter().map(|s| s.lag.get(i).copied().unwrap_or(0)).sum();
            total as f64 / seeds.len().max(1) as f64
        })
        .collect()
}
