//! What one run of a comparison cell measured, from what clients observed and what the controller committed, and
//! the figures of a cell over all its seeds. Every duration is simulated time.

use crate::check;
use crate::history::{ClientEvent, History};
use crate::sim::{GroupChange, LeadershipChange, Outcome};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Histograms hold microseconds from 1 µs to 24 h at 3 significant digits (HdrHistogram).
const HISTOGRAM_MAX_US: u64 = 24 * 3_600 * 1_000_000;
/// Consumer lag is sampled once per simulated second (less often in runs over 10 minutes).
pub const LAG_SAMPLE_US: u64 = 1_000_000;
/// The most lag samples a run keeps.
const LAG_SAMPLES_MAX: usize = 600;

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_US, 3).unwrap_or_else(|e| unreachable!("fixed bounds: {e}"))
}

/// One seed of one cell: its figures, kept per seed, and its latency histograms, merged into the cell's as each
/// seed finishes (so memory follows cells, not seeds).
#[derive(Clone, Debug)]
pub struct SeedMetrics {
    pub figures: SeedFigures,
    pub histograms: Histograms,
}

/// The counts of one seed.
#[derive(Clone, Debug, Serialize)]
pub struct SeedFigures {
    pub seed: u64,
    #[serde(serialize_with = "hex")]
    pub trace_digest: u64,
    pub sent: u64,
    pub acked: u64,
    /// Sends that failed for good, by Kafka's error name.
    pub failed: BTreeMap<String, u64>,
    /// Violations per invariant (every checked invariant, 0 when clean; written without the zeros).
    #[serde(serialize_with = "nonzero")]
    pub violations: BTreeMap<&'static str, u64>,
    /// Leader changes after a partition's first leader (clean or unclean).
    pub elections: u64,
    /// Partition-time with no leader (summed over partitions).
    pub offline_us: u64,
    /// ISRs still short at the end.
    pub isr_unrecovered: u64,
    pub rebalances: u64,
    /// Records acknowledged and not yet processed, summed over groups and the partitions each was assigned, at
    /// the end of each `lag_interval_us`.
    #[serde(skip)]
    pub lag: Vec<u64>,
    pub duration_us: u64,
}

fn nonzero<S: serde::Serializer>(counts: &BTreeMap<&'static str, u64>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(counts.iter().filter(|(_, n)| **n > 0))
}

fn hex<S: serde::Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{n:016x}"))
}

impl SeedFigures {
    pub fn violations_of(&self, invariants: &[&str]) -> u64 {
        invariants.iter().map(|i| self.violations.get(i).copied().unwrap_or(0)).sum()
    }

    pub fn lost(&self) -> u64 {
        self.violations_of(&[check::lost_write::NAME])
    }
}

/// The distributions of one seed, or of a cell's seeds merged.
#[derive(Clone, Debug)]
pub struct Histograms {
    /// `send()` to the acknowledgement, of acknowledged sends.
    pub produce_latency: Histogram<u64>,
    /// `send()` to the first time any consumer finished processing the record.
    pub end_to_end: Histogram<u64>,
    /// Each time an ISR fell below the replication factor: how long until it was full again.
    pub isr_recovery: Histogram<u64>,
    /// Each rebalance: from PreparingRebalance to Stable.
    pub rebalance_duration: Histogram<u64>,
}

impl Histograms {
    pub fn new() -> Self {
        Histograms {
            produce_latency: histogram(),
            end_to_end: histogram(),
            isr_recovery: histogram(),
            rebalance_duration: histogram(),
        }
    }

    /// Adds another's counts (the same bounds, so it cannot fail).
    pub fn add(&mut self, other: &Histograms) {
        let pairs = [
            (&mut self.produce_latency, &other.produce_latency),
            (&mut self.end_to_end, &other.end_to_end),
            (&mut self.isr_recovery, &other.isr_recovery),
            (&mut self.rebalance_duration, &other.rebalance_duration),
        ];
        for (into, from) in pairs {
            into.add(from).unwrap_or_else(|e| unreachable!("histograms of the same bounds: {e}"));
        }
    }
}

impl Default for Histograms {
    fn default() -> Self {
        Self::new()
    }
}

/// How often lag is sampled: every second, or for long runs often enough for at most `LAG_SAMPLES_MAX` samples.
pub fn lag_interval_us(duration_us: u64) -> u64 {
    LAG_SAMPLE_US.max(duration_us.div_ceil(LAG_SAMPLES_MAX as u64))
}

/// What a run measured. `replicas` is each partition's replication factor (by cluster-wide index); `internal`
/// says which partitions are Kafka's own (`__consumer_offsets`), left out of recovery and lag.
pub fn measure(outcome: &Outcome, replicas: &[u32], duration_us: u64) -> SeedMetrics {
    let history = &outcome.history;
    let internal: Vec<bool> = history.partitions.iter().map(|p| p.starts_with("__")).collect();
    let violations = check::check_all(history, Some(&outcome.final_logs))
        .into_iter()
        .map(|(name, found)| (name, found.len() as u64))
        .collect();
    let figures = SeedFigures {
        seed: outcome.seed,
        trace_digest: outcome.trace_digest,
        sent: 0,
        acked: 0,
        failed: BTreeMap::new(),
        violations,
        elections: 0,
        offline_us: 0,
        isr_unrecovered: 0,
        rebalances: 0,
        lag: lag(history, &internal, duration_us),
        duration_us,
    };
    let mut metrics = SeedMetrics { figures, histograms: Histograms::new() };
    sends(history, &mut metrics);
    recovery(&outcome.leadership, replicas, &internal, outcome.stats.simulated_time_us, &mut metrics);
    rebalances(&outcome.group_changes, &mut metrics);
    metrics
}

/// Counts, and latencies from each send's invocation (looked up by record; the maps are never iterated).
fn sends(history: &History, m: &mut SeedMetrics) {
    let mut invoked: HashMap<(u32, u64), u64> = HashMap::new();
    let mut processed: HashSet<(u32, u64)> = HashSet::new();
    for entry in &history.entries {
        let at = entry.time_us;
        match &entry.event {
            ClientEvent::SendInvoked { producer, send_seq, .. } => {
                m.figures.sent += 1;
                invoked.insert((*producer, *send_seq), at);
            }
            ClientEvent::SendAcked { producer, send_seq, .. } => {
                m.figures.acked += 1;
                if let Some(&sent) = invoked.get(&(*producer, *send_seq)) {
                    m.histograms.produce_latency.saturating_record((at - sent).max(1));
                }
            }
            ClientEvent::SendFailed { error, .. } => *m.figures.failed.entry(error.clone()).or_insert(0) += 1,
            ClientEvent::Processed { producer, send_seq, .. } => {
                let record = (*producer, *send_seq);
                if let Some(&sent) = invoked.get(&record).filter(|_| processed.insert(record)) {
                    m.histograms.end_to_end.saturating_record((at - sent).max(1));
                }
            }
            _ => {}
        }
    }
}

/// Elections, leaderless time and time back to a full ISR, per partition, as the controller committed them.
fn recovery(changes: &[LeadershipChange], replicas: &[u32], internal: &[bool], end_us: u64, m: &mut SeedMetrics) {
    struct State {
        leader: Option<Option<u32>>,
        offline_since: Option<u64>,
        short_since: Option<u64>,
    }
    let mut states: Vec<State> =
        replicas.iter().map(|_| State { leader: None, offline_since: None, short_since: None }).collect();
    for c in changes.iter().filter(|c| !internal[c.partition as usize]) {
        let s = &mut states[c.partition as usize];
        if s.leader.is_some_and(|before| before != c.leader) && c.leader.is_some() {
            m.figures.elections += 1;
        }
        s.leader = Some(c.leader);
        match (c.leader, s.offline_since) {
            (None, None) => s.offline_since = Some(c.time_us),
            (Some(_), Some(since)) => {
                m.figures.offline_us += c.time_us - since;
                s.offline_since = None;
            }
            _ => {}
        }
        let full = c.isr_len >= replicas[c.partition as usize];
        match (full, s.short_since) {
            (false, None) => s.short_since = Some(c.time_us),
            (true, Some(since)) => {
                m.histograms.isr_recovery.saturating_record((c.time_us - since).max(1));
                s.short_since = None;
            }
            _ => {}
        }
    }
    for s in &states {
        m.figures.offline_us += s.offline_since.map_or(0, |since| end_us.saturating_sub(since));
        m.figures.isr_unrecovered += u64::from(s.short_since.is_some());
    }
}

/// Rebalances per group: each entry into PreparingRebalance, timed until the group is Stable again.
fn rebalances(changes: &[GroupChange], m: &mut SeedMetrics) {
    let mut started: BTreeMap<&str, u64> = BTreeMap::new();
    for c in changes {
        match c.state {
            "PreparingRebalance" if !started.contains_key(c.group.as_str()) => {
                m.figures.rebalances += 1;
                started.insert(&c.group, c.time_us);
            }
            "Stable" => {
                if let Some(since) = started.remove(c.group.as_str()) {
                    m.histograms.rebalance_duration.saturating_record((c.time_us - since).max(1));
                }
            }
            _ => {}
        }
    }
}

/// Lag at the end of every `lag_interval_us` up to `duration_us`: per group, over the partitions it was ever
/// assigned, the log end of what was acknowledged minus the end of what the group processed.
fn lag(history: &History, internal: &[bool], duration_us: u64) -> Vec<u64> {
    let partitions = history.partitions.len();
    let groups = history.groups.len();
    let interval_us = lag_interval_us(duration_us);
    let samples = duration_us.div_ceil(interval_us) as usize;
    let mut acked_end = vec![0u64; partitions];
    let mut processed_end = vec![0u64; partitions * groups];
    let mut assigned = vec![false; partitions * groups];
    let mut out = Vec::with_capacity(samples);
    let mut entries = history.entries.iter().peekable();
    for sample in 1..=samples as u64 {
        let until = sample * interval_us;
        while let Some(entry) = entries.next_if(|e| e.time_us <= until) {
            match &entry.event {
                ClientEvent::SendAcked { partition, offset: Some(o), .. } => {
                    let end = &mut acked_end[*partition as usize];
                    *end = (*end).max(o + 1);
                }
                ClientEvent::Processed { group, partition, offset, .. } => {
                    let end = &mut processed_end[*group as usize * partitions + *partition as usize];
                    *end = (*end).max(offset + 1);
                }
                ClientEvent::Assigned { group, partitions: ps, .. } => {
                    ps.iter().for_each(|p| assigned[*group as usize * partitions + *p as usize] = true)
                }
                _ => {}
            }
        }
        let lag_of = |g: usize, p: usize| acked_end[p].saturating_sub(processed_end[g * partitions + p]);
        let total = (0..groups)
            .flat_map(|g| (0..partitions).map(move |p| (g, p)))
            .filter(|&(g, p)| assigned[g * partitions + p] && !internal[p])
            .map(|(g, p)| lag_of(g, p))
            .sum();
        out.push(total);
    }
    out
}

/// p50 / p99 / p99.9 / max in milliseconds; `None` when nothing was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    /// HdrHistogram's value at each quantile (the highest value equivalent to it at 3 significant digits).
    pub fn of(h: &Histogram<u64>) -> Option<Percentiles> {
        let ms = |us: u64| us as f64 / 1_000.0;
        (!h.is_empty()).then(|| Percentiles {
            p50_ms: ms(h.value_at_quantile(0.5)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        })
    }
}

/// The 95% Wilson score interval of `successes` in `trials` (Wilson 1927; Newcombe 1998's method 3): unlike the
/// normal approximation, it stays inside [0, 1] and is not empty at 0 or `trials` successes.
pub fn wilson_95(successes: u64, trials: u64) -> (f64, f64) {
    if trials == 0 {
        return (0.0, 1.0);
    }
    const Z: f64 = 1.959_963_984_540_054;
    let (k, n) = (successes as f64, trials as f64);
    let p = k / n;
    let z2 = Z * Z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3 (Wilson).
    #[test]
    fn wilson_intervals_match_newcombes_table() {
        let cases =
            [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)];
        for (k, n, low, high) in cases {
            let (l, h) = wilson_95(k, n);
            assert!((l - low).abs() < 5e-5 && (h - high).abs() < 5e-5, "{k}/{n}: ({l:.4}, {h:.4})");
        }
        assert_eq!(wilson_95(0, 0), (0.0, 1.0));
    }

    // Nearest rank: the p-th percentile of 1..=1000 is the ceil(p * 1000)-th value; all exact at 3 digits.
    #[test]
    fn percentiles_of_a_known_set() {
        let mut h = histogram();
        (1..=1_000u64).for_each(|v| h.saturating_record(v));
        let p = Percentiles::of(&h).expect("recorded");
        assert_eq!((p.p50_ms, p.p99_ms, p.p999_ms, p.max_ms), (0.5, 0.99, 0.999, 1.0));
        assert_eq!(Percentiles::of(&histogram()), None);
    }

    fn entry(time_us: u64, event: ClientEvent) -> crate::history::Entry {
        crate::history::Entry { time_us, event }
    }

    // Two sends, one acknowledged after 3 ms and processed at 10 ms, one failed: the counts and latencies;
    // a record processed twice counts once, from its first processing.
    #[test]
    fn sends_are_counted_and_timed_from_invocation() {
        let mut history = History::new(vec!["t-0".into()], vec!["p".into()]);
        history.groups = vec!["g".into()];
        let invoked = |seq| ClientEvent::SendInvoked { producer: 0, send_seq: seq, key: None, partition: 0 };
        let processed = ClientEvent::Processed {
            consumer: 0,
            group: 0,
            generation: 1,
            partition: 0,
            offset: 0,
            producer: 0,
            send_seq: 0,
        };
        history.entries = vec![
            entry(1_000, invoked(0)),
            entry(1_000, invoked(1)),
            entry(4_000, ClientEvent::SendAcked { producer: 0, send_seq: 0, partition: 0, offset: Some(0) }),
            entry(
                5_000,
                ClientEvent::SendFailed {
                    producer: 0,
                    send_seq: 1,
                    partition: 0,
                    error: "TIMEOUT".into(),
                    definite: false,
                    offset: None,
                },
            ),
            entry(11_000, processed.clone()),
            entry(50_000, processed),
        ];
        let mut m = empty_metrics(&history);
        sends(&history, &mut m);
        assert_eq!((m.figures.sent, m.figures.acked, m.figures.failed.get("TIMEOUT").copied()), (2, 1, Some(1)));
        let (produce, end_to_end) = (&m.histograms.produce_latency, &m.histograms.end_to_end);
        assert!(produce.len() == 1 && produce.equivalent(produce.max(), 3_000), "3 ms, at 3 significant digits");
        assert!(end_to_end.len() == 1 && end_to_end.equivalent(end_to_end.max(), 10_000), "10 ms, once");
    }

    fn empty_metrics(history: &History) -> SeedMetrics {
        let figures = SeedFigures {
            seed: 0,
            trace_digest: 0,
            sent: 0,
            acked: 0,
            failed: BTreeMap::new(),
            violations: BTreeMap::new(),
            elections: 0,
            offline_us: 0,
            isr_unrecovered: 0,
            rebalances: 0,
            lag: lag(history, &[false], 2_000_000),
            duration_us: 2_000_000,
        };
        SeedMetrics { figures, histograms: Histograms::new() }
    }

    // A partition of RF 3: led by 1, its leader lost at 10 s (offline), broker 2 elected at 12 s with an ISR of
    // one, the ISR full again at 20 s; a second partition short from 5 s to the end.
    #[test]
    fn recovery_is_measured_from_the_controllers_changes() {
        let change = |time_s: u64, partition, leader, isr_len| LeadershipChange {
            time_us: time_s * 1_000_000,
            partition,
            leader,
            isr_len,
        };
        let changes = [
            change(0, 0, Some(1), 3),
            change(0, 1, Some(1), 3),
            change(5, 1, Some(1), 2),
            change(10, 0, None, 1),
            change(12, 0, Some(2), 1),
            change(20, 0, Some(2), 3),
        ];
        let mut m = empty_metrics(&History::default());
        recovery(&changes, &[3, 3], &[false, false], 30_000_000, &mut m);
        assert_eq!((m.figures.elections, m.figures.offline_us, m.figures.isr_unrecovered), (1, 2_000_000, 1));
        assert_eq!(m.histograms.isr_recovery.len(), 1);
        assert!(
            m.histograms.isr_recovery.equivalent(m.histograms.isr_recovery.max(), 10_000_000),
            "10 s, at 3 significant digits"
        );
    }

    // Acknowledged up to offset 4 by 1 s, the group assigned the partition and done with offsets 0 and 1: lag 3;
    // then it processes the rest: lag 0.
    #[test]
    fn lag_is_acknowledged_minus_processed_over_assigned_partitions() {
        let mut history = History::new(vec!["t-0".into()], vec!["p".into()]);
        history.groups = vec!["g".into()];
        let processed = |offset| ClientEvent::Processed {
            consumer: 0,
            group: 0,
            generation: 1,
            partition: 0,
            offset,
            producer: 0,
            send_seq: offset,
        };
        history.entries = vec![
            entry(100, ClientEvent::Assigned { consumer: 0, group: 0, generation: 1, partitions: vec![0] }),
            entry(200, ClientEvent::SendAcked { producer: 0, send_seq: 4, partition: 0, offset: Some(4) }),
            entry(300, processed(1)),
            entry(1_500_000, processed(4)),
        ];
        assert_eq!(lag(&history, &[false], 2_000_000), vec![3, 0]);
        assert_eq!(lag(&history, &[true], 2_000_000), vec![0, 0], "internal partitions are left out");
    }
}
