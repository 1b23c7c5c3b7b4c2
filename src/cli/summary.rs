//! Printers for a run: the human summary, the JSON object, the history as JSON Lines.

use super::reproduce_command;
use crate::check::lost_write::{LostWrite, lost_writes};
use crate::check::verdict::{Verdict, WITNESSES_SHOWN};
use crate::engine::SimTime;
use crate::history::{ClientEvent, FinalLog, History, ReplicaLog};
use crate::kafka::spec::OFFSETS_TOPIC;
use crate::scenario::Scenario;
use crate::sim::Outcome;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// What one producer's sends came to.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
struct ProducerTally {
    name: String,
    sent: u64,
    acked: u64,
    failed: BTreeMap<String, u64>,
    retried_errors: BTreeMap<String, u64>,
}

fn tally(history: &History) -> Vec<ProducerTally> {
    let mut out: Vec<ProducerTally> =
        history.producers.iter().map(|name| ProducerTally { name: name.clone(), ..Default::default() }).collect();
    for entry in &history.entries {
        match &entry.event {
            ClientEvent::SendInvoked { producer, .. } => out[*producer as usize].sent += 1,
            ClientEvent::SendAcked { producer, .. } => out[*producer as usize].acked += 1,
            ClientEvent::SendFailed { producer, error, .. } => {
                *out[*producer as usize].failed.entry(error.clone()).or_default() += 1
            }
            ClientEvent::ProduceAttemptFailed { producer, error, .. } => {
                *out[*producer as usize].retried_errors.entry(error.clone()).or_default() += 1
            }
            _ => {}
        }
    }
    out
}

/// What a run stopped by its memory budget says: how much, and what to change.
pub fn memory_limit_reached(scenario: &Scenario) -> String {
    format!(
        "what the run retains (history, logs, trace) reached its memory budget, max_memory = {} bytes; raise \
         max_memory, shorten duration or lower the rates",
        scenario.sim.max_memory_bytes
    )
}

pub fn human(scenario: &Scenario, path: &Path, outcome: &Outcome, verdict: Option<&Verdict>) -> String {
    let mut s = String::new();
    let st = &outcome.stats;
    let _ = writeln!(s, "scenario {} (seed {})", scenario.name, outcome.seed);
    let _ = writeln!(
        s,
        "simulated {} in {} events, {} messages ({} lost)",
        SimTime(st.simulated_time_us),
        st.events,
        st.messages_sent,
        st.messages_lost
    );
    if st.hit_event_limit {
        let _ = writeln!(s, "stopped early: the run reached its limit of {} events", scenario.sim.limits.max_events);
    }
    if st.hit_memory_limit {
        let _ = writeln!(s, "stopped early: {}", memory_limit_reached(scenario));
    }
    if let Some(b) = &outcome.state_breach {
        let _ = writeln!(s, "stopped early: the per-event state checker found {} broken {}", b.invariant, b.detail);
    }
    write_faults(&mut s, outcome);
    let _ = writeln!(
        s,
        "cluster: {} leader elections ({} unclean), {} times a partition went offline; {} ISR shrinks and {} \
         expands by leaders, {} ISR removals by the controller; {} truncations ({} offsets)",
        st.leader_elections,
        st.unclean_leader_elections,
        st.partitions_offline,
        st.isr_shrinks,
        st.isr_expands,
        st.isr_removals_by_controller,
        st.truncations,
        st.offsets_truncated
    );
    let _ = writeln!(s, "producers:");
    let producers = tally(&outcome.history);
    let width = producers.iter().map(|p| p.name.chars().count()).max().unwrap_or(0);
    for p in producers {
        let _ = writeln!(
            s,
            "  {:<width$} sent {:>9}  acked {:>9}  failed {:>7}",
            p.name,
            p.sent,
            p.acked,
            p.failed.values().sum::<u64>()
        );
        for (error, n) in &p.failed {
            let _ = writeln!(s, "    failed with {error}: {n}");
        }
        for (error, n) in &p.retried_errors {
            let _ = writeln!(s, "    attempts failed with {error}: {n}");
        }
    }
    write_groups(&mut s, outcome);
    write_partitions(&mut s, outcome);
    write_lost(&mut s, &outcome.history, &lost_writes(&outcome.history, &outcome.final_logs));
    if let Some(v) = verdict {
        write_verdict(&mut s, v);
    }
    let _ = writeln!(s, "trace digest {:016x}", outcome.trace_digest);
    let _ = writeln!(
        s,
        "reproduce: {}",
        reproduce_command(path, outcome.seed, scenario.source_fnv64, &super::override_words(scenario))
    );
    s
}

fn write_faults(s: &mut String, outcome: &Outcome) {
    let _ = writeln!(s, "faults:");
    for (at_us, fault) in &outcome.faults {
        let _ = writeln!(s, "  {:>10}  {fault}", SimTime(*at_us).to_string());
    }
    for t in outcome.triggers.iter().filter(|t| t.fired == 0) {
        let _ = writeln!(s, "  never fired: faults[{}], when {}", t.fault, t.condition);
    }
}

/// Each group: its generations with who owned what (idle members say so), how long each rebalance took, and
/// what each consumer processed and committed.
fn write_groups(s: &mut String, outcome: &Outcome) {
    let h = &outcome.history;
    for (g, group) in h.groups.iter().enumerate() {
        let _ = writeln!(s, "group {group}:");
        let mut generations: BTreeMap<i32, Vec<(u32, Vec<u32>)>> = BTreeMap::new();
        for e in &h.entries {
            if let ClientEvent::Assigned { consumer, group, generation, partitions } = &e.event
                && *group as usize == g
            {
                generations.entry(*generation).or_default().push((*consumer, partitions.clone()));
            }
        }
        for (generation, members) in &generations {
            let owned: Vec<String> = members
                .iter()
                .map(|(c, ps)| {
                    let names: Vec<&str> = ps.iter().map(|p| h.partitions[*p as usize].as_str()).collect();
                    let idle = if ps.is_empty() { " (idle)" } else { "" };
                    format!("{} [{}]{idle}", h.consumers[*c as usize], names.join(","))
                })
                .collect();
            let label =
                if *generation < 0 { "assigned manually".to_string() } else { format!("generation {generation}") };
            let _ = writeln!(s, "  {label}: {}", owned.join("; "));
        }
        write_rebalances(s, outcome, group);
        write_consumer_counts(s, h, g);
    }
}

/// Rebalance durations: from a group entering PreparingRebalance to it being Stable again.
fn write_rebalances(s: &mut String, outcome: &Outcome, group: &str) {
    let mut started: Option<u64> = None;
    let mut spans = Vec::new();
    for change in &outcome.group_changes {
        let (t, generation) = (change.time_us, change.generation);
        if change.group != group {
            continue;
        }
        match change.state {
            "PreparingRebalance" if started.is_none() => started = Some(t),
            "Empty" => started = None,
            "Stable" => {
                if let Some(t0) = started.take() {
                    spans.push(format!("gen {generation} in {}ms", (t - t0) / 1_000));
                }
            }
            _ => {}
        }
    }
    if !spans.is_empty() {
        let _ = writeln!(s, "  rebalances: {}", spans.join(", "));
    }
}

fn write_consumer_counts(s: &mut String, h: &History, g: usize) {
    let mut counts: BTreeMap<u32, (u64, u64, u64)> = BTreeMap::new();
    for e in &h.entries {
        match &e.event {
            ClientEvent::Processed { consumer, group, .. } if *group as usize == g => {
                counts.entry(*consumer).or_default().0 += 1
            }
            ClientEvent::Committed { consumer, group, error, .. } if *group as usize == g => {
                let c = counts.entry(*consumer).or_default();
                if error.is_some() { c.2 += 1 } else { c.1 += 1 }
            }
            _ => {}
        }
    }
    let width = counts.keys().map(|&c| h.consumers[c as usize].chars().count()).max().unwrap_or(0);
    for (consumer, (processed, committed, failed)) in counts {
        let name = &h.consumers[consumer as usize];
        let _ = writeln!(
            s,
            "  {name:<width$} processed {processed:>9}  commits ok {committed:>7}  commits failed {failed:>5}"
        );
    }
}

fn write_partitions(s: &mut String, outcome: &Outcome) {
    let _ = writeln!(
        s,
        "partitions (controller's leader, epoch, ISR; each replica's role, log end offset / high watermark):"
    );
    let shown = |p: &&crate::kafka::cluster::PartitionSummary| {
        !(p.partition.starts_with(OFFSETS_TOPIC) && p.replicas.iter().all(|r| r.log_end_offset == 0))
    };
    let hidden = outcome.partitions.iter().filter(|p| !shown(p)).count();
    let width = outcome.partitions.iter().filter(shown).map(|p| p.partition.chars().count()).max().unwrap_or(0);
    for p in outcome.partitions.iter().filter(shown) {
        let leader = p.leader.map_or("none".to_string(), |b| b.to_string());
        let isr: Vec<String> = p.isr.iter().map(|b| b.0.to_string()).collect();
        let _ = write!(
            s,
            "  {:<width$} leader {:<9} epoch {:<3} isr [{}]",
            p.partition,
            leader,
            p.leader_epoch,
            isr.join(",")
        );
        for r in &p.replicas {
            let _ = write!(s, "  {}:{} {}/{}", r.broker, r.role, r.log_end_offset, r.high_watermark);
        }
        let _ = writeln!(s);
    }
    if hidden > 0 {
        let _ = writeln!(s, "  ({hidden} empty {OFFSETS_TOPIC} partitions not shown)");
    }
}

/// Each expectation, met or not; an unmet one with its first witnesses.
fn write_verdict(s: &mut String, v: &Verdict) {
    let found: Vec<String> =
        v.violations.iter().filter(|(_, n)| **n > 0).map(|(name, n)| format!("{name} {n}")).collect();
    let found = if found.is_empty() { "none".to_string() } else { found.join(", ") };
    let _ = writeln!(s, "violations found by the checker: {found}");
    let met = v.results.iter().filter(|r| r.met).count();
    let _ = writeln!(s, "expectations: {met} of {} met", v.results.len());
    for r in &v.results {
        let mark = if r.met { "ok  " } else { "FAIL" };
        let _ = writeln!(s, "  {mark} {} {}: {}", r.kind, r.name, r.detail);
        if !r.met {
            for w in r.witnesses.iter().take(WITNESSES_SHOWN) {
                let _ = writeln!(s, "         {w}");
            }
        }
    }
}

/// `insync check`'s summary: violations per invariant, then the `--holds` expectations.
pub fn check_human(v: &Verdict, with_logs: bool) -> String {
    let mut s = String::new();
    if !with_logs {
        let _ = writeln!(
            s,
            "no final logs in the file: what the partitions hold is inferred from what clients saw (black-box)"
        );
    }
    if !v.violations.iter().any(|(name, _)| *name == crate::check::divergence::NAME) {
        let _ = writeln!(s, "no replica logs in the file: divergence is not checked");
    }
    for (name, count) in &v.violations {
        let _ = writeln!(s, "  {name:<22} {count} violations");
        if v.results.is_empty() {
            for w in v.witnesses.get(name).into_iter().flatten().take(WITNESSES_SHOWN) {
                let _ = writeln!(s, "         {w}");
            }
        }
    }
    if !v.results.is_empty() {
        write_verdict(&mut s, v);
    }
    s
}

/// `insync check --json`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct CheckJson<'a> {
    format_version: u32,
    insync_version: &'static str,
    final_logs: bool,
    verdict: JsonVerdict<'a>,
    /// The first witnesses (at most `--witnesses`) of each violated invariant, by invariant.
    witnesses: &'a BTreeMap<&'static str, Vec<crate::check::verdict::Witness>>,
}

pub fn check_json(v: &Verdict, with_logs: bool) -> String {
    let json = CheckJson {
        format_version: JSON_FORMAT_VERSION,
        insync_version: env!("CARGO_PKG_VERSION"),
        final_logs: with_logs,
        verdict: JsonVerdict::of(v),
        witnesses: &v.witnesses,
    };
    let mut text = serde_json::to_string(&json).unwrap_or_default();
    text.push('\n');
    text
}

/// A history file as read back: the clients' events, and the white-box logs when the file has them.
pub struct RecordedHistory {
    pub history: History,
    pub final_logs: Option<Vec<FinalLog>>,
    pub replica_logs: Option<Vec<ReplicaLog>>,
}

/// Reads a history written by `run --history`: the header, the events, and the final and replica logs if present.
pub fn read_history_jsonl(path: &Path) -> Result<RecordedHistory, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let at = |n: usize, e: serde_json::Error| format!("{}:{}: {e}", path.display(), n + 1);
    let (n, first) = lines.next().ok_or_else(|| format!("{}: empty history file", path.display()))?;
    let mut history: History = serde_json::from_str(first).map_err(|e| at(n, e))?;
    if !crate::history::HISTORY_VERSIONS_READ.contains(&history.version) {
        let (low, high) = crate::history::HISTORY_VERSIONS_READ.into_inner();
        let v = history.version;
        return Err(format!("{}:{}: history version {v}: expected {low} to {high}", path.display(), n + 1));
    }
    let (mut logs, mut replicas) = (Vec::new(), Vec::new());
    for (n, line) in lines {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| at(n, e))?;
        if let Some(log) = value.get("final_log") {
            logs.push(serde_json::from_value(log.clone()).map_err(|e| at(n, e))?);
        } else if let Some(replica) = value.get("replica_log") {
            replicas.push(serde_json::from_value(replica.clone()).map_err(|e| at(n, e))?);
        } else {
            history.entries.push(serde_json::from_value(value).map_err(|e| at(n, e))?);
        }
    }
    let final_logs = (!logs.is_empty()).then_some(logs);
    let replica_logs = (!replicas.is_empty()).then_some(replicas);
    Ok(RecordedHistory { history, final_logs, replica_logs })
}

/// Reads a Jepsen Kafka workload's `history.edn` (`history::jepsen`): no final or replica logs.
pub fn read_jepsen_edn(path: &Path) -> Result<RecordedHistory, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let history = crate::history::jepsen::read(&text)
        .map_err(|e| format!("{}:{}:{}: {}", path.display(), e.line, e.column, e.message))?;
    Ok(RecordedHistory { history, final_logs: None, replica_logs: None })
}

fn write_lost(s: &mut String, history: &History, lost: &[LostWrite]) {
    let _ = writeln!(s, "acknowledged writes missing from the final logs: {}", lost.len());
    for l in lost.iter().take(5) {
        let offset = l.offset.map_or("?".to_string(), |o| o.to_string());
        let _ = writeln!(
            s,
            "  {} send #{} acked at {} as {}@{}",
            history.producers[l.producer as usize],
            l.send_seq,
            SimTime(l.acked_at_us),
            history.partitions[l.partition as usize],
            offset
        );
    }
}

/// The `--json` object's format: bump it when a field changes meaning or goes away.
pub const JSON_FORMAT_VERSION: u32 = 2;

/// What every `--json` object about a scenario opens with: the format, the version, and which file.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ScenarioHeader<'a> {
    format_version: u32,
    insync_version: &'static str,
    scenario: &'a str,
    scenario_file: String,
    scenario_fnv64: String,
    /// The `--set` overrides applied to the file (`KEY=VALUE`), in order.
    overrides: Vec<String>,
}

impl<'a> ScenarioHeader<'a> {
    pub fn of(scenario: &'a Scenario, path: &Path) -> Self {
        ScenarioHeader {
            format_version: JSON_FORMAT_VERSION,
            insync_version: env!("CARGO_PKG_VERSION"),
            scenario: &scenario.name,
            scenario_file: path.display().to_string(),
            scenario_fnv64: format!("{:016x}", scenario.source_fnv64),
            overrides: super::override_words(scenario),
        }
    }
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct JsonSummary<'a> {
    #[serde(flatten)]
    header: ScenarioHeader<'a>,
    seed: u64,
    trace_digest: String,
    stats: &'a crate::sim::Stats,
    producers: Vec<ProducerTally>,
    partitions: &'a [crate::kafka::cluster::PartitionSummary],
    lost_writes: LostWrites,
    /// How many witnesses each result (and `lost_writes.shown`) keeps; `null`: all.
    witness_limit: Option<usize>,
    verdict: Option<JsonVerdict<'a>>,
    reproduce: String,
}

/// Acknowledged writes the final logs lack: how many, and the first of them by name.
#[derive(Serialize, schemars::JsonSchema)]
struct LostWrites {
    count: usize,
    shown: Vec<NamedLostWrite>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct NamedLostWrite {
    producer: String,
    send: u64,
    partition: String,
    offset: Option<u64>,
    acked_at_us: u64,
    /// The record the final log holds at that offset instead, if any.
    found_instead: Option<crate::check::verdict::WitnessRecord>,
}

/// The verdict with a stable key set: every invariant in `violations`, 0 when clean, `null` when it could not be
/// checked (divergence without replica logs).
#[derive(Serialize, schemars::JsonSchema)]
pub struct JsonVerdict<'a> {
    all_met: bool,
    results: &'a [crate::check::verdict::ExpectationResult],
    violations: BTreeMap<&'static str, Option<usize>>,
}

impl<'a> JsonVerdict<'a> {
    pub fn of(v: &'a Verdict) -> Self {
        let count = |name: &&'static str| (*name, v.violations.get(name).copied());
        let violations = crate::check::INVARIANTS.iter().map(count).collect();
        JsonVerdict { all_met: v.all_met(), results: &v.results, violations }
    }
}

pub fn json(
    scenario: &Scenario,
    path: &Path,
    outcome: &Outcome,
    verdict: Option<&Verdict>,
    witness_limit: Option<usize>,
) -> String {
    let h = &outcome.history;
    let lost = lost_writes(h, &outcome.final_logs);
    let named = |l: &LostWrite| NamedLostWrite {
        producer: h.producers[l.producer as usize].clone(),
        send: l.send_seq,
        partition: h.partitions[l.partition as usize].clone(),
        offset: l.offset,
        acked_at_us: l.acked_at_us,
        found_instead: l
            .found_instead
            .map(|(p, send)| crate::check::verdict::WitnessRecord { producer: h.producers[p as usize].clone(), send }),
    };
    let shown = lost.iter().take(witness_limit.unwrap_or(usize::MAX)).map(named).collect();
    let summary = JsonSummary {
        header: ScenarioHeader::of(scenario, path),
        seed: outcome.seed,
        trace_digest: format!("{:016x}", outcome.trace_digest),
        stats: &outcome.stats,
        producers: tally(h),
        partitions: &outcome.partitions,
        lost_writes: LostWrites { count: lost.len(), shown },
        witness_limit,
        verdict: verdict.map(JsonVerdict::of),
        reproduce: reproduce_command(path, outcome.seed, scenario.source_fnv64, &super::override_words(scenario)),
    };
    let mut text = serde_json::to_string(&summary).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    text.push('\n');
    text
}

/// The history as JSON Lines: a header with the version and names, then one event a line.
/// The history file's first line: its format version and the names its events index.
#[derive(Serialize, schemars::JsonSchema)]
pub struct HistoryHeader<'a> {
    version: u32,
    partitions: &'a [String],
    producers: &'a [String],
    consumers: &'a [String],
    groups: &'a [String],
}

/// A history file's line after the header: an event, a final log, or a replica log.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum HistoryLine<'a> {
    Event(&'a crate::history::Entry),
    FinalLog { final_log: &'a FinalLog },
    ReplicaLog { replica_log: &'a ReplicaLog },
}

/// The history as JSON Lines: a header line, one line per event, then the final logs and replica logs.
pub fn write_history_jsonl(outcome: &Outcome, w: &mut (impl std::io::Write + ?Sized)) -> std::io::Result<()> {
    let h = &outcome.history;
    let header = HistoryHeader {
        version: h.version,
        partitions: &h.partitions,
        producers: &h.producers,
        consumers: &h.consumers,
        groups: &h.groups,
    };
    json_line(w, &header)?;
    for entry in &h.entries {
        json_line(w, &HistoryLine::Event(entry))?;
    }
    for log in &outcome.final_logs {
        json_line(w, &HistoryLine::FinalLog { final_log: log })?;
    }
    for log in outcome.replica_logs.iter().flatten() {
        json_line(w, &HistoryLine::ReplicaLog { replica_log: log })?;
    }
    Ok(())
}

/// One value as a line of JSON.
pub fn json_line(w: &mut (impl std::io::Write + ?Sized), value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, value)?;
    w.write_all(b"\n")
}
