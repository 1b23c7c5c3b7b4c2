//! Judging a run against its scenario's `[expect]`: each guarantee that must hold, each the scenario exists to
//! show broken, and each thing that must have happened. The checker does the judging; this only compares.

use crate::check::{self, Names, Violation};
use crate::history::{ClientEvent, FinalLog, History, ReplicaLog};
use crate::scenario::expect::{Expectations, LIVENESS_CHECKS};
use crate::sim::Stats;
use serde::Serialize;
use std::collections::BTreeMap;

/// How many witnesses each unmet expectation carries in the summary (the JSON output has them all).
pub const WITNESSES_SHOWN: usize = 3;

#[derive(Clone, Debug, Serialize)]
pub struct ExpectationResult {
    /// `holds`, `violated` or `happened`.
    pub kind: &'static str,
    pub name: String,
    pub met: bool,
    pub detail: String,
    /// For `holds` (the violations) and `violated` (what proves it), named records.
    pub witnesses: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Verdict {
    pub results: Vec<ExpectationResult>,
    /// Violations per invariant, whether or not an expectation mentions it.
    pub violations: BTreeMap<&'static str, usize>,
}

impl Verdict {
    pub fn all_met(&self) -> bool {
        self.results.iter().all(|r| r.met)
    }
}

/// What the liveness phase found not converged, for `judge`: (check name, what was found).
pub type Unconverged<'a> = &'a [(&'static str, String)];

/// Cluster events in words, by time, for explaining a violation: (time, partition if about one, what).
pub type Events<'a> = &'a [(u64, Option<u32>, String)];

/// How many events an explanation follows after the violation's time.
const EXPLAINED_EVENTS: usize = 6;

/// The causal chain around a violation: the partition's leadership when the record was acknowledged or read,
/// then the faults and the partition's events that followed.
pub fn explain(v: &Violation, events: Events<'_>) -> Option<String> {
    let (p, t) = (v.partition?, v.time_us?);
    let split = events.partition_point(|e| e.0 <= t); // Events are in time order.
    let before = events[..split].iter().rev().find(|e| e.1 == Some(p));
    let state = before.map(|e| format!("before it, at {}: {}", crate::engine::SimTime(e.0), e.2));
    let mut chain: Vec<String> = state.into_iter().collect();
    let after = events[split..].iter().filter(|e| e.1.is_none_or(|q| q == p)).take(EXPLAINED_EVENTS);
    chain.extend(after.map(|e| format!("{}: {}", crate::engine::SimTime(e.0), e.2)));
    (!chain.is_empty()).then(|| chain.join("; "))
}

/// Runs the checker over the history (and final logs, and with replica logs `divergence`) and compares with the
/// expectations.
pub fn judge(
    expect: &Expectations,
    history: &History,
    logs: Option<&[FinalLog]>,
    replicas: Option<&[ReplicaLog]>,
    stats: Option<&Stats>,
    unconverged: Unconverged<'_>,
    events: Events<'_>,
) -> Verdict {
    let mut found = check::check_all(history, logs);
    if let Some(replicas) = replicas {
        found.insert(check::divergence::NAME, check::divergence::check(replicas));
    }
    let names = Names::new(history);
    let mut results = Vec::new();
    for name in &expect.holds {
        let broken = broken_by(&found, name);
        let detail =
            if broken.is_empty() { "no violation".to_string() } else { format!("{} violations", broken.len()) };
        results.push(result("holds", name, broken.is_empty(), detail, &broken, &names, events));
    }
    for name in &expect.violated {
        let broken = broken_by(&found, name);
        let detail = if broken.is_empty() {
            "held: no violation to show".to_string()
        } else {
            format!("{} violations", broken.len())
        };
        results.push(result("violated", name, !broken.is_empty(), detail, &broken, &names, events));
    }
    for name in &expect.happened {
        let count = happened_count(name, history, stats);
        results.push(ExpectationResult {
            kind: "happened",
            name: name.clone(),
            met: count > 0,
            detail: format!("{count} times"),
            witnesses: Vec::new(),
        });
    }
    if expect.liveness_us.is_some() {
        results.extend(liveness_results(expect, unconverged));
    }
    let violations = found.iter().map(|(&name, v)| (name, v.len())).collect();
    Verdict { results, violations }
}

/// One result per liveness check: met when it converged, or when the scenario says it will not.
fn liveness_results(expect: &Expectations, unconverged: Unconverged<'_>) -> Vec<ExpectationResult> {
    LIVENESS_CHECKS
        .iter()
        .map(|&check| {
            let found: Vec<String> = unconverged.iter().filter(|(n, _)| *n == check).map(|(_, d)| d.clone()).collect();
            let expected_stuck = expect.unconverged.iter().any(|n| n == check);
            let detail = match (found.is_empty(), expected_stuck) {
                (true, false) => "converged".to_string(),
                (true, true) => "converged, though the scenario says it would not".to_string(),
                (false, _) => format!("not converged ({} findings)", found.len()),
            };
            let met = found.is_empty() != expected_stuck;
            ExpectationResult { kind: "converged", name: check.to_string(), met, detail, witnesses: found }
        })
        .collect()
}

fn broken_by<'a>(found: &'a BTreeMap<&'static str, Vec<Violation>>, name: &str) -> Vec<&'a Violation> {
    let invariants = check::expand(name).unwrap_or_default();
    found.iter().filter(|(n, _)| invariants.contains(n)).flat_map(|(_, v)| v).collect()
}

fn result(
    kind: &'static str,
    name: &str,
    met: bool,
    detail: String,
    broken: &[&Violation],
    names: &Names<'_>,
    events: Events<'_>,
) -> ExpectationResult {
    let witnesses = broken
        .iter()
        .map(|v| match explain(v, events) {
            Some(chain) => format!("{}\n           {chain}", v.named(names)),
            None => v.named(names).to_string(),
        })
        .collect();
    ExpectationResult { kind, name: name.to_string(), met, detail, witnesses }
}

/// How often something happened: from the run's counters, or (for a history alone) from its events.
pub fn happened_count(name: &str, history: &History, stats: Option<&Stats>) -> u64 {
    let events = |f: &dyn Fn(&ClientEvent) -> bool| history.entries.iter().filter(|e| f(&e.event)).count() as u64;
    match (name, stats) {
        ("produce-retry", _) => events(&|e| matches!(e, ClientEvent::ProduceAttemptFailed { .. })),
        ("send-failed", _) => events(&|e| matches!(e, ClientEvent::SendFailed { .. })),
        ("commit-failed", _) => events(&|e| matches!(e, ClientEvent::Committed { error: Some(_), .. })),
        ("offset-reset", _) => events(&|e| matches!(e, ClientEvent::OffsetOutOfRange { .. })),
        ("truncation-detected", _) => events(&|e| matches!(e, ClientEvent::TruncationDetected { .. })),
        ("rebalance", None) => events(&|e| matches!(e, ClientEvent::Assigned { .. })),
        (_, None) => 0,
        ("fault", Some(s)) => s.faults_fired,
        ("leader-election", Some(s)) => s.leader_elections,
        ("unclean-election", Some(s)) => s.unclean_leader_elections,
        ("partition-offline", Some(s)) => s.partitions_offline,
        ("isr-shrink", Some(s)) => s.isr_shrinks + s.isr_removals_by_controller,
        ("isr-expand", Some(s)) => s.isr_expands,
        ("truncation", Some(s)) => s.truncations,
        ("rebalance", Some(s)) => s.group_rebalance_steps,
        ("offsets-expired", Some(s)) => s.offsets_expired,
        // Every triggered fault fired: how many firings, or 0 if any condition never held.
        ("triggers-fired", Some(s)) if s.triggers_unfired == 0 => s.triggers_fired,
        _ => 0,
    }
}

/// The verdict as JUnit XML: one test case per expectation.
pub fn junit(suite: &str, verdict: &Verdict, reproduce: &str) -> String {
    let failures = verdict.results.iter().filter(|r| !r.met).count();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n",
        escape(suite),
        verdict.results.len()
    ));
    for r in &verdict.results {
        let case = format!("{} {}", r.kind, r.name);
        xml.push_str(&format!("  <testcase classname=\"{}\" name=\"{}\">", escape(suite), escape(&case)));
        if !r.met {
            let mut body = r.detail.clone();
            for w in r.witnesses.iter().take(WITNESSES_SHOWN) {
                body.push('\n');
                body.push_str(w);
            }
            body.push_str(&format!("\nreproduce: {reproduce}"));
            xml.push_str(&format!("<failure message=\"{}\">{}</failure>", escape(&r.detail), escape(&body)));
        }
        xml.push_str("</testcase>\n");
    }
    xml.push_str("</testsuite>\n");
    xml
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
