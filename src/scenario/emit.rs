//! `run --emit-scenario`: the scenario with its nemesis's faults for one seed written out as an explicit
//! `[[faults]]` schedule, so the seed's run replays without the nemesis (and can be read, edited and shrunk).

use crate::faults::{FaultAction, ScheduledFault, Target};
use crate::kafka::ids::BrokerId;
use crate::kafka::log::StorageLoss;
use crate::kafka::spec::ClusterSpec;
use std::fmt::Write;

/// The scenario text with `[nemesis]` commented out, `seed` set to `seed`, and `faults` (the nemesis's, which
/// follow the scenario's own) appended. Only a TOML file whose `[nemesis]` is a table of its own can be
/// rewritten; anything else is an error naming why.
pub fn emit_scenario(
    text: &str,
    seed: u64,
    cluster: &ClusterSpec,
    faults: &[ScheduledFault],
) -> Result<String, String> {
    let mut out = String::new();
    let mut in_nemesis = false;
    let mut seed_written = false;
    let mut seen_header = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            if !seen_header && !seed_written {
                let _ = writeln!(out, "seed = {}", seed_text(seed));
                seed_written = true;
            }
            seen_header = true;
            in_nemesis = trimmed.trim_end() == "[nemesis]";
            if in_nemesis {
                let _ = writeln!(out, "# {line}    (its faults for seed {seed} are written out below)");
                continue;
            }
        }
        if in_nemesis {
            let _ = writeln!(out, "# {line}");
        } else if !seen_header && is_key(trimmed, "seed") {
            let _ = writeln!(out, "seed = {}", seed_text(seed));
            seed_written = true;
        } else if !seen_header && is_key(trimmed, "nemesis") {
            return Err("`nemesis` is written inline; write it as a `[nemesis]` table to emit its faults".to_string());
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    if !seed_written {
        let _ = writeln!(out, "seed = {}", seed_text(seed));
    }
    let _ = writeln!(out, "\n# The nemesis's faults at seed {seed}.");
    for fault in faults {
        out.push_str(&fault_toml(fault, cluster));
    }
    Ok(out)
}

fn is_key(line: &str, key: &str) -> bool {
    line.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(['=', '.']))
}

/// A seed above TOML's integers is written as a string, as the loader reads it.
fn seed_text(seed: u64) -> String {
    if seed > i64::MAX as u64 { format!("\"{seed}\"") } else { seed.to_string() }
}

fn fault_toml(fault: &ScheduledFault, cluster: &ClusterSpec) -> String {
    let mut out = format!("\n[[faults]]\nat = \"{}us\"\n", fault.at_us);
    let t = |target: &Target| target_text(target, cluster);
    let sides = |a: &[Target], b: &[Target]| {
        let list = |side: &[Target]| side.iter().map(|x| format!("\"{}\"", t(x))).collect::<Vec<_>>().join(", ");
        format!("sides = [[{}], [{}]]\n", list(a), list(b))
    };
    let body = match &fault.action {
        FaultAction::Crash { target, loss } => {
            let loss = match loss {
                StorageLoss::Nothing => "",
                StorageLoss::PageCache => "page_cache_lost = true\n",
                StorageLoss::Disk => "disk_lost = true\n",
            };
            format!("action = \"crash\"\ntarget = \"{}\"\n{loss}", t(target))
        }
        FaultAction::Restart { target } => format!("action = \"restart\"\ntarget = \"{}\"\n", t(target)),
        FaultAction::Shutdown { target } => format!("action = \"shutdown\"\ntarget = \"{}\"\n", t(target)),
        FaultAction::Pause { target } => format!("action = \"pause\"\ntarget = \"{}\"\n", t(target)),
        FaultAction::Resume { target } => format!("action = \"resume\"\ntarget = \"{}\"\n", t(target)),
        FaultAction::Isolate { target } => format!("action = \"isolate\"\ntarget = \"{}\"\n", t(target)),
        FaultAction::Partition { side_a, side_b } => format!("action = \"partition\"\n{}", sides(side_a, side_b)),
        FaultAction::RepairSides { side_a, side_b } => format!("action = \"repair\"\n{}", sides(side_a, side_b)),
        FaultAction::CutOneWay { from, to } => {
            format!("action = \"cut\"\nfrom = \"{}\"\nto = \"{}\"\n", t(from), t(to))
        }
        FaultAction::RepairOneWay { from, to } => {
            format!("action = \"repair\"\nfrom = \"{}\"\nto = \"{}\"\n", t(from), t(to))
        }
        FaultAction::Heal => "action = \"heal\"\n".to_string(),
        other => unreachable!("the nemesis draws no {other:?}"),
    };
    out.push_str(&body);
    out
}

/// The text the loader reads back as `target` (`load::parse_target`).
fn target_text(target: &Target, cluster: &ClusterSpec) -> String {
    let brokers: Vec<_> = (1..=cluster.broker_count).map(|b| cluster.broker_node(BrokerId(b))).collect();
    let consumers: Vec<_> = (0..cluster.consumers.len() as u32).map(|c| cluster.consumer_node(c)).collect();
    match target {
        Target::Node(n) => cluster.node_name(*n),
        Target::LeaderOf(p) => format!("leader of {}", cluster.partition_name(*p)),
        Target::Controller => "the active controller".to_string(),
        Target::OneOf(nodes) if *nodes == brokers => "a broker".to_string(),
        Target::OneOf(nodes) if *nodes == consumers => "a consumer".to_string(),
        Target::TargetOf(i) => format!("the target of fault {i}"),
        other => unreachable!("the nemesis aims at no {other:?}"),
    }
}
