//! Shared helpers: load a bundled scenario and run it.

use insync::check::lost_write::{LostWrite, lost_writes};
use insync::history::ClientEvent;
use insync::scenario::{self, Scenario};
use insync::sim::{self, Outcome};
use std::path::{Path, PathBuf};

/// `name` in this test process's own directory for `area` under the system's temp dir (created).
pub fn temp_file(area: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("insync-{area}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

pub fn scenario_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.toml"))
}

pub fn load(name: &str) -> Scenario {
    let path = scenario_path(name);
    scenario::load_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

pub fn run(name: &str) -> (Scenario, Outcome) {
    let s = load(name);
    let outcome = sim::run(&s.sim, s.seed, true);
    (s, outcome)
}

pub fn lost(outcome: &Outcome) -> Vec<LostWrite> {
    lost_writes(&outcome.history, &outcome.final_logs)
}

/// Times (µs) at which sends were acknowledged.
pub fn ack_times(outcome: &Outcome) -> Vec<u64> {
    outcome
        .history
        .entries
        .iter()
        .filter(|e| matches!(e.event, ClientEvent::SendAcked { .. }))
        .map(|e| e.time_us)
        .collect()
}

/// Produce attempts that failed with `error`.
pub fn attempt_errors(outcome: &Outcome, error: &str) -> u64 {
    outcome.stats.produce_errors.get(error).copied().unwrap_or(0)
}

/// Every bundled scenario file's name (without extension), sorted.
pub fn bundled_scenarios() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("scenarios/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect();
    names.sort();
    names
}

/// How many times the group named `group` processed each record (producer, send_seq).
pub fn processed_by_group(outcome: &Outcome, group: &str) -> std::collections::BTreeMap<(u32, u64), u32> {
    let g = outcome.history.groups.iter().position(|x| x == group).expect("the group exists") as u32;
    let mut counts = std::collections::BTreeMap::new();
    for e in &outcome.history.entries {
        if let ClientEvent::Processed { group, producer, send_seq, .. } = e.event
            && group == g
        {
            *counts.entry((producer, send_seq)).or_insert(0) += 1;
        }
    }
    counts
}

/// Every send acknowledged with an offset: (producer, send_seq).
pub fn acked_records(outcome: &Outcome) -> Vec<(u32, u64)> {
    outcome
        .history
        .entries
        .iter()
        .filter_map(|e| match e.event {
            ClientEvent::SendAcked { producer, send_seq, offset: Some(_), .. } => Some((producer, send_seq)),
            _ => None,
        })
        .collect()
}

/// Each consumer's assignments: (time, consumer name, generation, partition names).
pub fn assignments(outcome: &Outcome) -> Vec<(u64, String, i32, Vec<String>)> {
    let h = &outcome.history;
    h.entries
        .iter()
        .filter_map(|e| match &e.event {
            ClientEvent::Assigned { consumer, generation, partitions, .. } => Some((
                e.time_us,
                h.consumers[*consumer as usize].clone(),
                *generation,
                partitions.iter().map(|p| h.partitions[*p as usize].clone()).collect(),
            )),
            _ => None,
        })
        .collect()
}
