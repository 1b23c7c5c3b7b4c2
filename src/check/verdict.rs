//! Judging a run against its scenario's `[expect]`: each guarantee that must hold, each the scenario exists to
//! show broken, and each thing that must have happened. The checker does the judging; this only compares.

use super::expect::{
    Contents, ContentsOf, Expectations, Happened, Happening, LivenessCheck, PartitionCounts, RunCounts, Scope,
    WithinOutcome,
};
use super::{Names, Violation};
use crate::history::{ClientEvent, FinalLog, History, ReplicaLog};
use crate::units::Seconds;
use serde::Serialize;
use std::collections::BTreeMap;

/// How many witnesses each expectation carries unless asked otherwise (`--witnesses`), and the summary shows.
pub const WITNESSES_SHOWN: usize = 3;

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ExpectationResult {
    /// `holds`, `violated`, `happened`, `within`, `contents`, `converged`, or `state` (a run the per-event
    /// state checker stopped: a bug of the model, whatever the expectations).
    pub kind: &'static str,
    pub name: String,
    pub met: bool,
    /// The number behind the result: violations (holds, violated), times (happened), findings (converged),
    /// records (contents); 0 for within.
    pub count: u64,
    pub detail: String,
    /// What shows it: the violations (holds, violated), the first difference (contents), the findings
    /// (converged); at most the evidence's `witness_limit`.
    pub witnesses: Vec<Witness>,
}

/// One witness, by name: where, which record, which group, when, a sentence, and the events around it.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Witness {
    /// The invariant it breaks, for violations.
    pub invariant: Option<&'static str>,
    pub partition: Option<String>,
    pub offset: Option<u64>,
    pub record: Option<WitnessRecord>,
    pub group: Option<String>,
    pub time_us: Option<u64>,
    /// The whole witness as a sentence, with names (what the summary prints).
    pub text: String,
    /// The causal chain: the partition's state before it, then the faults and events that followed, in order.
    pub explanation: Vec<String>,
}

/// A record by its producer's name and send number.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct WitnessRecord {
    pub producer: String,
    pub send: u64,
}

impl Witness {
    /// A witness that is only a sentence (a liveness finding, a contents difference).
    pub fn said(text: String) -> Self {
        Witness {
            invariant: None,
            partition: None,
            offset: None,
            record: None,
            group: None,
            time_us: None,
            text,
            explanation: Vec::new(),
        }
    }

    fn of(v: &Violation, names: &Names<'_>, events: Events<'_>) -> Self {
        Witness {
            invariant: Some(v.invariant),
            partition: v.partition.map(|p| names.partition(p)),
            offset: v.offset,
            record: v.witness_record().map(|(p, send)| WitnessRecord { producer: names.producer(p), send }),
            group: v.group.map(|g| names.group(g)),
            time_us: v.time_us,
            text: v.named(names).to_string(),
            explanation: explain(v, events),
        }
    }
}

impl std::fmt::Display for Witness {
    /// The sentence, and the explanation on the next line, indented under it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.text)?;
        if !self.explanation.is_empty() {
            write!(f, "\n           {}", self.explanation.join("; "))?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct Verdict {
    pub results: Vec<ExpectationResult>,
    /// Violations per invariant, whether or not an expectation mentions it.
    pub violations: BTreeMap<&'static str, usize>,
    /// The first witnesses (at most the evidence's `witness_limit`) of each violated invariant.
    pub witnesses: BTreeMap<&'static str, Vec<Witness>>,
}

impl Verdict {
    pub fn all_met(&self) -> bool {
        self.results.iter().all(|r| r.met)
    }
}

/// What the liveness phase found not converged, for `judge`: (check, what was found).
pub type Unconverged<'a> = &'a [(LivenessCheck, String)];

/// A fault or cluster event (an election, an ISR change, a truncation, a fencing) in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterEvent {
    pub time_us: u64,
    /// The partition it is about (cluster-wide index), if any.
    pub partition: Option<u32>,
    pub what: String,
}

/// Cluster events by time, for explaining a violation.
pub type Events<'a> = &'a [ClusterEvent];

/// How many events an explanation follows after the violation's time.
const EXPLAINED_EVENTS: usize = 6;

/// The causal chain around a violation: the partition's leadership when the record was acknowledged or read,
/// then the faults and the partition's events that followed.
pub fn explain(v: &Violation, events: Events<'_>) -> Vec<String> {
    let (Some(p), Some(t)) = (v.partition, v.time_us) else { return Vec::new() };
    let split = events.partition_point(|e| e.time_us <= t); // Events are in time order.
    let before = events[..split].iter().rev().find(|e| e.partition == Some(p));
    let state = before.map(|e| format!("before it, at {}: {}", Seconds(e.time_us), e.what));
    let mut chain: Vec<String> = state.into_iter().collect();
    let after = events[split..].iter().filter(|e| e.partition.is_none_or(|q| q == p)).take(EXPLAINED_EVENTS);
    chain.extend(after.map(|e| format!("{}: {}", Seconds(e.time_us), e.what)));
    chain
}

/// What a verdict is judged on: the clients' history, and what a run adds to it (final logs, replica logs,
/// counts, the liveness findings, cluster events in words, the timing watches). A recorded history alone has
/// only the first (and final logs if recorded).
#[derive(Clone)]
pub struct Evidence<'a> {
    pub history: &'a History,
    pub logs: Option<&'a [FinalLog]>,
    pub replicas: Option<&'a [ReplicaLog]>,
    pub counts: Option<RunCounts>,
    pub unconverged: Unconverged<'a>,
    pub events: Events<'a>,
    pub within: &'a [WithinOutcome],
    /// How many witnesses each expectation keeps (`None`: all).
    pub witness_limit: Option<usize>,
    /// Whether a `holds` judged on no evidence fails (`vacuous`): for a recorded history unless `--allow-empty`;
    /// a run's story says what its clients do.
    pub empty_fails: bool,
    /// What stopped the run, if the per-event state checker did.
    pub state_breach: Option<&'a StateBreach>,
}

/// A relation between replicas the model must keep, found broken after one event: the run stopped there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateBreach {
    /// The relation's name (`one-leader-per-epoch`…).
    pub invariant: &'static str,
    /// What was broken, and by which event.
    pub detail: String,
}

impl<'a> Evidence<'a> {
    /// A history recorded elsewhere, with its final and replica logs if it has them.
    pub fn of_history(history: &'a History, logs: Option<&'a [FinalLog]>, replicas: Option<&'a [ReplicaLog]>) -> Self {
        let witness_limit = Some(WITNESSES_SHOWN);
        Evidence {
            history,
            logs,
            replicas,
            counts: None,
            unconverged: &[],
            events: &[],
            within: &[],
            witness_limit,
            empty_fails: true,
            state_breach: None,
        }
    }
}

/// Runs the checker over the history (and final logs, and with replica logs `divergence`) and compares with the
/// expectations.
pub fn judge(expect: &Expectations, evidence: &Evidence<'_>) -> Verdict {
    let mut found = super::check_all(evidence.history, evidence.logs);
    let names = Names::new(evidence.history);
    if let Some(replicas) = evidence.replicas {
        found.insert(super::divergence::NAME, super::divergence::check(replicas, &names));
    }
    let (events, limit) = (evidence.events, evidence.witness_limit.unwrap_or(usize::MAX));
    let mut results = Vec::new();
    for name in &expect.holds {
        let broken = broken_by(&found, name);
        let invariants = super::expand(name).unwrap_or_default();
        let empty =
            evidence.empty_fails.then(|| super::vacuous(evidence.history, evidence.logs.is_some(), &invariants));
        let (met, detail) = match (broken.is_empty(), empty.flatten()) {
            (true, Some(why)) => (false, format!("vacuous: {why} (--allow-empty accepts it)")),
            (true, None) => (true, "no violation".to_string()),
            (false, _) => (false, format!("{} violations", broken.len())),
        };
        results.push(result("holds", name, met, detail, &broken, &names, (events, limit)));
    }
    for name in &expect.violated {
        let broken = broken_by(&found, name);
        let detail = if broken.is_empty() {
            "held: no violation to show".to_string()
        } else {
            format!("{} violations", broken.len())
        };
        results.push(result("violated", name, !broken.is_empty(), detail, &broken, &names, (events, limit)));
    }
    for happened in &expect.happened {
        let count = happened_count(happened, evidence.history, evidence.counts.as_ref());
        results.push(ExpectationResult {
            kind: "happened",
            name: happened.name.clone(),
            met: count > 0,
            count,
            detail: format!("{count} times"),
            witnesses: Vec::new(),
        });
    }
    results.extend(evidence.within.iter().map(within_result));
    results.extend(expect.contents.iter().map(|c| contents_result(c, evidence, &names)));
    if expect.liveness_us.is_some() {
        results.extend(liveness_results(expect, evidence.unconverged, limit));
    }
    results.extend(evidence.state_breach.map(|b| ExpectationResult {
        kind: "state",
        name: b.invariant.to_string(),
        met: false,
        count: 1,
        detail: b.detail.clone(),
        witnesses: Vec::new(),
    }));
    let violations = found.iter().map(|(&name, v)| (name, v.len())).collect();
    let witnesses = found
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(&name, v)| (name, v.iter().take(limit).map(|v| Witness::of(v, &names, events)).collect()))
        .collect();
    Verdict { results, violations, witnesses }
}

/// `[[expect.within]]`: met when the condition held within its bound after its clock started.
fn within_result(r: &WithinOutcome) -> ExpectationResult {
    let w = &r.within;
    let after = w.after_fault.map_or("the start".to_string(), |i| format!("faults[{i}]"));
    let name = format!("{} within {} after {after}", w.condition, Seconds(w.within_us));
    let (met, detail) = match (r.started_at, r.held_at) {
        (None, _) => (false, format!("{after} never fired")),
        (Some(start), Some(at)) => (true, format!("held at {}, {} after {after}", Seconds(at), Seconds(at - start))),
        (Some(start), None) => {
            (false, format!("did not hold by {} ({after} at {})", Seconds(start + w.within_us), Seconds(start)))
        }
    };
    ExpectationResult { kind: "within", name, met, count: 0, detail, witnesses: Vec::new() }
}

/// `[[expect.log]]` / `[[expect.processed]]`: the exact record sequence, with the first difference as witness.
fn contents_result(c: &Contents, evidence: &Evidence<'_>, names: &Names<'_>) -> ExpectationResult {
    let actual: Option<Vec<(u32, u64)>> = match c.of {
        ContentsOf::FinalLog { partition } => {
            evidence.logs.and_then(|logs| logs.iter().find(|l| l.partition == partition)).map(|l| l.records.clone())
        }
        ContentsOf::Processed { group, partition } => Some(
            evidence
                .history
                .entries
                .iter()
                .filter_map(|e| match e.event {
                    ClientEvent::Processed { group: g, partition: p, producer, send_seq, .. }
                        if g == group && p == partition =>
                    {
                        Some((producer, send_seq))
                    }
                    _ => None,
                })
                .collect(),
        ),
    };
    let record = |r: Option<&(u32, u64)>| r.map_or("nothing".to_string(), |&r| names.record(r));
    let count = actual.as_ref().map_or(0, |a| a.len() as u64);
    let (met, detail, witnesses) = match actual {
        None => (false, "no final log to compare".to_string(), Vec::new()),
        Some(actual) if actual == c.records => (true, format!("{} records as expected", actual.len()), Vec::new()),
        Some(actual) => {
            let at = actual.iter().zip(&c.records).take_while(|(a, b)| a == b).count();
            let witness =
                format!("at position {at}: expected {}, found {}", record(c.records.get(at)), record(actual.get(at)));
            (false, format!("{} records, {} expected", actual.len(), c.records.len()), vec![Witness::said(witness)])
        }
    };
    ExpectationResult { kind: "contents", name: c.name.clone(), met, count, detail, witnesses }
}

/// One result per liveness check: met when it converged, or when the scenario says it will not.
fn liveness_results(expect: &Expectations, unconverged: Unconverged<'_>, limit: usize) -> Vec<ExpectationResult> {
    LivenessCheck::ALL
        .into_iter()
        .map(|check| {
            let found: Vec<String> = unconverged.iter().filter(|(n, _)| *n == check).map(|(_, d)| d.clone()).collect();
            let expected_stuck = expect.unconverged.contains(&check);
            let detail = match (found.is_empty(), expected_stuck) {
                (true, false) => "converged".to_string(),
                (true, true) => "converged, though the scenario says it would not".to_string(),
                (false, _) => format!("not converged ({} findings)", found.len()),
            };
            let met = found.is_empty() != expected_stuck;
            let count = found.len() as u64;
            let witnesses = found.into_iter().take(limit).map(Witness::said).collect();
            ExpectationResult { kind: "converged", name: check.name().to_string(), met, count, detail, witnesses }
        })
        .collect()
}

fn broken_by<'a>(found: &'a BTreeMap<&'static str, Vec<Violation>>, name: &str) -> Vec<&'a Violation> {
    let invariants = super::expand(name).unwrap_or_default();
    found.iter().filter(|(n, _)| invariants.contains(n)).flat_map(|(_, v)| v).collect()
}

fn result(
    kind: &'static str,
    name: &str,
    met: bool,
    detail: String,
    broken: &[&Violation],
    names: &Names<'_>,
    (events, limit): (Events<'_>, usize),
) -> ExpectationResult {
    let witnesses = broken.iter().take(limit).map(|v| Witness::of(v, names, events)).collect();
    ExpectationResult { kind, name: name.to_string(), met, count: broken.len() as u64, detail, witnesses }
}

/// How often something happened, in its scope: from the run's counts, or (for a history alone) from its
/// events; counts the history cannot give are 0 without a run.
pub fn happened_count(h: &Happened, history: &History, counts: Option<&RunCounts>) -> u64 {
    let in_scope = |partition: u32, error: Option<&str>| match &h.scope {
        Scope::Partitions(ps) => ps.contains(&partition),
        Scope::Error(e) => error == Some(e.as_str()),
        Scope::Everything => true,
    };
    let events = |f: &dyn Fn(&ClientEvent) -> bool| history.entries.iter().filter(|e| f(&e.event)).count() as u64;
    let per_partition = |f: fn(&PartitionCounts) -> u64| {
        let Some(c) = counts else { return 0 };
        let counts = c.per_partition.iter().enumerate();
        counts.filter(|(p, _)| in_scope(*p as u32, None)).map(|(_, c)| f(c)).sum()
    };
    let run = |f: fn(&RunCounts) -> u64| counts.map_or(0, f);
    match h.what {
        Happening::ProduceRetry => events(
            &|e| matches!(e, ClientEvent::ProduceAttemptFailed { partition, error, .. } if in_scope(*partition, Some(error))),
        ),
        Happening::SendFailed => events(
            &|e| matches!(e, ClientEvent::SendFailed { partition, error, .. } if in_scope(*partition, Some(error))),
        ),
        Happening::CommitFailed => events(
            &|e| matches!(e, ClientEvent::Committed { partition, error: Some(error), .. } if in_scope(*partition, Some(error))),
        ),
        Happening::OffsetReset => {
            events(&|e| matches!(e, ClientEvent::OffsetOutOfRange { partition, .. } if in_scope(*partition, None)))
        }
        Happening::TruncationDetected => {
            events(&|e| matches!(e, ClientEvent::TruncationDetected { partition, .. } if in_scope(*partition, None)))
        }
        // A manual assignment (generation -1) is no rebalance.
        Happening::Rebalance if counts.is_none() => {
            events(&|e| matches!(e, ClientEvent::Assigned { generation, .. } if *generation >= 0))
        }
        Happening::Rebalance => run(|c| c.group_rebalance_steps),
        Happening::LeaderElection => per_partition(|c| c.leader_elections),
        Happening::UncleanElection => per_partition(|c| c.unclean_leader_elections),
        Happening::PartitionOffline => per_partition(|c| c.offline),
        Happening::IsrShrink => per_partition(|c| c.isr_shrinks),
        Happening::IsrExpand => per_partition(|c| c.isr_expands),
        Happening::Truncation => per_partition(|c| c.truncations),
        Happening::Fault => run(|c| c.faults_fired),
        Happening::OffsetsExpired => run(|c| c.offsets_expired),
        // Every triggered fault fired: how many firings, or 0 if any condition never held.
        Happening::TriggersFired => run(|c| if c.triggers_unfired == 0 { c.triggers_fired } else { 0 }),
    }
}
