//! `insync validate`: load and check a scenario without running it, and show what it would run — a few lines
//! for people, or (`--json`) the effective configuration with every default filled in.

use super::summary::ScenarioHeader;
use crate::engine::SimTime;
use crate::engine::network::LatencyModel;
use crate::kafka::spec::ClusterSpec;
use crate::scenario::Scenario;
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;

/// The effective configuration as `--json` prints it.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Effective<'a> {
    #[serde(flatten)]
    header: ScenarioHeader<'a>,
    seed: u64,
    duration_us: u64,
    max_events: u64,
    max_memory_bytes: u64,
    liveness_us: Option<u64>,
    latency: &'a LatencyModel,
    cluster: &'a ClusterSpec,
    faults: Vec<EffectiveFault>,
    expect: EffectiveExpect<'a>,
}

/// A fault as loaded: when it fires (or is armed), its condition, and the action with its resolved fields.
#[derive(Serialize, schemars::JsonSchema)]
struct EffectiveFault {
    at_us: u64,
    when: Option<String>,
    delay_us: u64,
    repeat: u32,
    action: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct EffectiveExpect<'a> {
    holds: &'a [String],
    violated: &'a [String],
    happened: Vec<&'a str>,
    within: usize,
    contents: usize,
    unconverged: Vec<&'static str>,
}

pub fn json(scenario: &Scenario, path: &Path) -> String {
    let sim = &scenario.sim;
    let faults = sim
        .faults
        .iter()
        .map(|f| EffectiveFault {
            at_us: f.at_us,
            when: f.when.as_ref().map(|w| w.condition.text.clone()),
            delay_us: f.when.as_ref().map_or(0, |w| w.delay_us),
            repeat: f.when.as_ref().map_or(1, |w| w.repeat),
            action: format!("{:?}", f.action),
        })
        .collect();
    let e = &scenario.expect;
    let expect = EffectiveExpect {
        holds: &e.holds,
        violated: &e.violated,
        happened: e.happened.iter().map(|h| h.name.as_str()).collect(),
        within: e.within.len(),
        contents: e.contents.len(),
        unconverged: e.unconverged.iter().map(|c| c.name()).collect(),
    };
    let effective = Effective {
        header: ScenarioHeader::of(scenario, path),
        seed: scenario.seed,
        duration_us: sim.limits.end.as_us(),
        max_events: sim.limits.max_events,
        max_memory_bytes: sim.max_memory_bytes,
        liveness_us: sim.liveness_us,
        latency: &sim.latency,
        cluster: &sim.cluster,
        faults,
        expect,
    };
    let mut text = serde_json::to_string_pretty(&effective).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    text.push('\n');
    text
}

/// A few lines: what the scenario sets up, what it does to it, what it expects.
pub fn human(scenario: &Scenario, path: &Path) -> String {
    let (sim, c) = (&scenario.sim, &scenario.sim.cluster);
    let mut s = String::new();
    let _ = writeln!(s, "{}: valid scenario {} (fnv64 {:016x})", path.display(), scenario.name, scenario.source_fnv64);
    let liveness = sim.liveness_us.map_or("no liveness phase".to_string(), |us| format!("liveness {}", SimTime(us)));
    let _ = writeln!(s, "  seed {}, duration {}, {liveness}", scenario.seed, sim.limits.end);
    let _ = writeln!(s, "  brokers {}, controllers {}", c.broker_count, c.controller_count);
    for t in c.topics.iter().filter(|t| t.name != crate::kafka::spec::OFFSETS_TOPIC) {
        let _ = writeln!(
            s,
            "  topic {}: {} partitions, replication.factor {}, min.insync.replicas {}, unclean.leader.election.enable {}",
            t.name, t.partitions, t.replication_factor, t.min_insync_replicas, t.unclean_leader_election_enable
        );
    }
    for p in &c.producers {
        let topics: Vec<&str> = p.topics.iter().map(|&t| c.topic(t).name.as_str()).collect();
        let _ = writeln!(
            s,
            "  producer {} -> {}: {} records/s, acks {}, enable.idempotence {}",
            p.name,
            topics.join(", "),
            p.rate_per_s,
            p.config.acks.name(),
            p.config.enable_idempotence
        );
    }
    for k in &c.consumers {
        let reads = match &k.assign {
            Some(ps) => format!("assign {}", ps.iter().map(|&p| c.partition_name(p)).collect::<Vec<_>>().join(", ")),
            None => {
                format!("topics {}", k.topics.iter().map(|&t| c.topic(t).name.as_str()).collect::<Vec<_>>().join(", "))
            }
        };
        let _ = writeln!(
            s,
            "  consumer {} (group {}): {reads}, commit {}",
            k.name,
            c.group_name(k.group),
            k.config.commit.name()
        );
    }
    let triggered = sim.faults.iter().filter(|f| f.when.is_some()).count();
    let _ = writeln!(s, "  {} faults ({triggered} on conditions)", sim.faults.len());
    let e = &scenario.expect;
    let _ = writeln!(
        s,
        "  expect: holds [{}], violated [{}], {} happened, {} within, {} contents",
        e.holds.join(", "),
        e.violated.join(", "),
        e.happened.len(),
        e.within.len(),
        e.contents.len()
    );
    let _ = writeln!(s, "`--json` prints the effective configuration, every default filled in.");
    s
}
