//! The seed runner: one scenario judged at many seeds, across worker threads. Each seed is one single-threaded,
//! deterministic run, so a seed's result does not depend on which worker ran it or how many there were; results
//! come back in seed order. `explore` prints them; a comparison of settings runs one sweep per cell.

use crate::check::verdict;
use crate::scenario::Scenario;
use crate::sim;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// The most seeds one sweep runs (a shard of a larger range is one sweep).
pub const SEEDS_MAX: u64 = 100_000_000;
/// The most worker threads.
pub const JOBS_MAX: usize = 256;

/// `--seeds A..B` (B excluded) or `--seeds N` (0..N).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    pub start: u64,
    pub end: u64,
}

impl SeedRange {
    pub fn parse(text: &str) -> Result<SeedRange, String> {
        let number =
            |s: &str| s.trim().parse::<u64>().map_err(|_| format!("expected A..B or N (seeds), found `{text}`"));
        let range = match text.split_once("..") {
            Some((a, b)) => SeedRange { start: number(a)?, end: number(b)? },
            None => SeedRange { start: 0, end: number(text)? },
        };
        if range.end <= range.start {
            return Err(format!("expected a non-empty range of seeds, found `{text}`"));
        }
        if range.end - range.start > SEEDS_MAX {
            return Err(format!("expected at most {SEEDS_MAX} seeds in one sweep (use --shard), found `{text}`"));
        }
        Ok(range)
    }
}

impl std::fmt::Display for SeedRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// `--shard K/N`: the K-th of N machines takes every N-th seed of the range, starting at its (K-1)-th.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// From 1.
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    pub fn parse(text: &str) -> Result<Shard, String> {
        let expected = || format!("expected K/N with 1 <= K <= N <= 1000000, found `{text}`");
        let (k, n) = text.split_once('/').ok_or_else(expected)?;
        let (index, count) =
            (k.trim().parse::<u64>().map_err(|_| expected())?, n.trim().parse::<u64>().map_err(|_| expected())?);
        if index == 0 || index > count || count > 1_000_000 {
            return Err(expected());
        }
        Ok(Shard { index, count })
    }

    /// This shard's seeds of `range`, in order.
    pub fn seeds(self, range: SeedRange) -> impl Iterator<Item = u64> {
        (range.start + self.index - 1..range.end).step_by(self.count as usize)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One seed's result, as a sweep keeps it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SeedResult {
    pub seed: u64,
    /// Every `[expect]` entry was met.
    pub met: bool,
    /// The expectations not met (`holds durability`), in the scenario's order.
    pub failed: Vec<String>,
    /// Violations per invariant (only those with some).
    pub violations: std::collections::BTreeMap<String, u64>,
    pub trace_digest: String,
    pub events: u64,
    /// The simulated time the run covered (absent from files of insync before it was recorded: 0).
    #[serde(default)]
    pub simulated_us: u64,
}

impl SeedResult {
    /// What groups failing seeds: the expectations they failed (one bug shows once however many seeds hit it).
    pub fn signature(&self) -> String {
        self.failed.join(" + ")
    }
}

/// How a seed stopped by its memory budget (`max_memory`) fails.
pub const MEMORY_LIMIT_FAILURE: &str = "limit max_memory";

/// Runs and judges one seed.
pub fn run_seed(scenario: &Scenario, seed: u64) -> SeedResult {
    let outcome = sim::run(&scenario.sim, seed, false);
    let verdict = verdict::judge(&scenario.expect, &outcome.evidence());
    let mut failed: Vec<String> =
        verdict.results.iter().filter(|r| !r.met).map(|r| format!("{} {}", r.kind, r.name)).collect();
    // A seed stopped by its memory budget judged only part of its run: it is not a pass.
    if outcome.stats.hit_memory_limit {
        failed.push(MEMORY_LIMIT_FAILURE.to_string());
    }
    SeedResult {
        seed,
        met: failed.is_empty(),
        failed,
        violations: verdict
            .violations
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| (k.to_string(), *n as u64))
            .collect(),
        trace_digest: format!("{:016x}", outcome.trace_digest),
        events: outcome.stats.events,
        simulated_us: outcome.stats.simulated_time_us,
    }
}

/// Runs `seeds` on `jobs` worker threads (each seed on one thread, start to end), calling `done` on the calling
/// thread as each finishes; returns every result in seed order.
pub fn sweep(scenario: &Scenario, seeds: &[u64], jobs: usize, done: impl FnMut(&SeedResult)) -> Vec<SeedResult> {
    in_parallel(seeds, jobs, |&seed| run_seed(scenario, seed), done)
}

/// `work` of every item on `jobs` worker threads (each item on one thread, start to end), calling `done` on the
/// calling thread as each finishes; returns the results in the items' order, whichever thread ran which.
pub fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
    mut done: impl FnMut(&R),
) -> Vec<R> {
    let mut results = Vec::with_capacity(items.len());
    each_in_parallel(items, jobs, work, |index, result| {
        done(&result);
        results.push((index, result));
    });
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, r)| r).collect()
}

/// `work` of every item on `jobs` worker threads, each result handed to `done` on the calling thread with its
/// item's index, in the order they finish (which varies: what `done` builds must not depend on it).
pub fn each_in_parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
    mut done: impl FnMut(usize, R),
) {
    let jobs = jobs.clamp(1, JOBS_MAX).min(items.len().max(1));
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel::<(usize, R)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let (sender, next, work) = (sender.clone(), &next, &work);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else { return };
                    if sender.send((index, work(item))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(sender);
        for (index, result) in receiver {
            done(index, result);
        }
    });
}

/// Failing seeds grouped by signature, the groups in order of their first seed.
pub fn failing_groups(results: &[SeedResult]) -> Vec<(String, Vec<u64>)> {
    let mut groups: Vec<(String, Vec<u64>)> = Vec::new();
    for r in results.iter().filter(|r| !r.met) {
        let signature = r.signature();
        match groups.iter_mut().find(|(s, _)| *s == signature) {
            Some((_, seeds)) => seeds.push(r.seed),
            None => groups.push((signature, vec![r.seed])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_and_counts_parse_and_bad_ones_are_refused() {
        assert_eq!(SeedRange::parse("5..9"), Ok(SeedRange { start: 5, end: 9 }));
        assert_eq!(SeedRange::parse("200"), Ok(SeedRange { start: 0, end: 200 }));
        for bad in ["9..5", "0", "a..b", "1..", "0..100000001"] {
            assert!(SeedRange::parse(bad).is_err(), "{bad}");
        }
    }

    // Every seed of the range belongs to exactly one shard.
    #[test]
    fn shards_partition_the_range() {
        let range = SeedRange { start: 10, end: 47 };
        let mut all: Vec<u64> = (1..=4).flat_map(|k| Shard { index: k, count: 4 }.seeds(range)).collect();
        all.sort_unstable();
        assert_eq!(all, (10..47).collect::<Vec<_>>());
        assert_eq!(Shard::parse("3/64"), Ok(Shard { index: 3, count: 64 }));
        for bad in ["0/4", "5/4", "x/4", "4"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}
