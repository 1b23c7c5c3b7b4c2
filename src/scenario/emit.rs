//! `run --emit-scenario`: the scenario with its nemesis's faults for one seed written out as an explicit
//! `[[faults]]` schedule, so the seed's run replays without the nemesis (and can be read, edited and shrunk).

use crate::engine::NodeId;
use crate::faults::{FaultAction, ScheduledFault, Target};
use crate::kafka::ids::{BrokerId, GroupId};
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
    let rewrite = Rewrite { seed, duration_us: None, replace_faults: false };
    rewrite_scenario(text, &rewrite, cluster, faults)
}

/// How `rewrite_scenario` changes a scenario's text.
pub struct Rewrite {
    pub seed: u64,
    /// A new `duration`, if any.
    pub duration_us: Option<u64>,
    /// Whether the scenario's own `[[faults]]` are commented out too (`faults` then holds every fault).
    pub replace_faults: bool,
}

/// The scenario text with `[nemesis]` (and with `replace_faults` its `[[faults]]`) commented out, `seed` and
/// `duration` set, and `faults` appended.
pub fn rewrite_scenario(
    text: &str,
    rewrite: &Rewrite,
    cluster: &ClusterSpec,
    faults: &[ScheduledFault],
) -> Result<String, String> {
    let mut top_keys = vec![("seed", seed_text(rewrite.seed))];
    if let Some(us) = rewrite.duration_us {
        top_keys.push(("duration", format!("\"{us}us\"")));
    }
    let mut written = vec![false; top_keys.len()];
    let mut out = String::new();
    let mut commented = false;
    let mut seen_header = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            if !seen_header {
                write_missing(&mut out, &top_keys, &mut written);
            }
            seen_header = true;
            let header = trimmed.trim_end();
            commented = header == "[nemesis]" || (rewrite.replace_faults && header == "[[faults]]");
        }
        if commented {
            let _ = writeln!(out, "# {line}");
            continue;
        }
        if !seen_header {
            if let Some(i) = top_keys.iter().position(|(key, _)| is_key(trimmed, key)) {
                let _ = writeln!(out, "{} = {}", top_keys[i].0, top_keys[i].1);
                written[i] = true;
                continue;
            }
            for key in ["nemesis", "faults"] {
                if is_key(trimmed, key) {
                    return Err(format!("`{key}` is written inline; write it as a table to rewrite the scenario"));
                }
            }
        }
        let _ = writeln!(out, "{line}");
    }
    write_missing(&mut out, &top_keys, &mut written);
    let _ = writeln!(out, "\n# The faults of seed {}, written out.", rewrite.seed);
    for fault in faults {
        out.push_str(&fault_toml(fault, cluster)?);
    }
    Ok(out)
}

fn write_missing(out: &mut String, keys: &[(&str, String)], written: &mut [bool]) {
    for ((key, value), done) in keys.iter().zip(written.iter_mut()) {
        if !*done {
            let _ = writeln!(out, "{key} = {value}");
            *done = true;
        }
    }
}

fn is_key(line: &str, key: &str) -> bool {
    line.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(['=', '.']))
}

/// A seed above TOML's integers is written as a string, as the loader reads it.
fn seed_text(seed: u64) -> String {
    if seed > i64::MAX as u64 { format!("\"{seed}\"") } else { seed.to_string() }
}

/// One fault as a `[[faults]]` table; faults with a `when`, and actions the nemesis never draws, are not written
/// (yet): an error says which.
fn fault_toml(fault: &ScheduledFault, cluster: &ClusterSpec) -> Result<String, String> {
    if fault.when.is_some() {
        return Err("a fault with a `when` condition cannot be written out yet".to_string());
    }
    let t = |target: &Target| target_text(target, cluster).map(|text| format!("\"{text}\""));
    let sides = |a: &[Target], b: &[Target]| -> Result<String, String> {
        let list = |side: &[Target]| side.iter().map(t).collect::<Result<Vec<_>, _>>().map(|v| v.join(", "));
        Ok(format!("sides = [[{}], [{}]]\n", list(a)?, list(b)?))
    };
    let body = match &fault.action {
        FaultAction::Crash { target, loss } => {
            let loss = match loss {
                StorageLoss::Nothing => "",
                StorageLoss::PageCache => "page_cache_lost = true\n",
                StorageLoss::Disk => "disk_lost = true\n",
            };
            format!("action = \"crash\"\ntarget = {}\n{loss}", t(target)?)
        }
        FaultAction::Restart { target } => format!("action = \"restart\"\ntarget = {}\n", t(target)?),
        FaultAction::Shutdown { target } => format!("action = \"shutdown\"\ntarget = {}\n", t(target)?),
        FaultAction::Pause { target } => format!("action = \"pause\"\ntarget = {}\n", t(target)?),
        FaultAction::Resume { target } => format!("action = \"resume\"\ntarget = {}\n", t(target)?),
        FaultAction::Isolate { target } => format!("action = \"isolate\"\ntarget = {}\n", t(target)?),
        FaultAction::Partition { side_a, side_b } => format!("action = \"partition\"\n{}", sides(side_a, side_b)?),
        FaultAction::RepairSides { side_a, side_b } => format!("action = \"repair\"\n{}", sides(side_a, side_b)?),
        FaultAction::CutOneWay { from, to } => format!("action = \"cut\"\nfrom = {}\nto = {}\n", t(from)?, t(to)?),
        FaultAction::RepairOneWay { from, to } => {
            format!("action = \"repair\"\nfrom = {}\nto = {}\n", t(from)?, t(to)?)
        }
        FaultAction::Hold { from, to } => format!("action = \"hold\"\nfrom = {}\nto = {}\n", t(from)?, t(to)?),
        FaultAction::Release { from, to } => format!("action = \"release\"\nfrom = {}\nto = {}\n", t(from)?, t(to)?),
        FaultAction::Degrade { from, to, extra_latency_us, loss } => {
            let mut text = format!("action = \"degrade\"\nfrom = {}\nto = {}\n", t(from)?, t(to)?);
            if *extra_latency_us > 0 {
                text.push_str(&format!("latency = \"{extra_latency_us}us\"\n"));
            }
            if let Some(r) = loss {
                text.push_str(&format!("loss = \"{}/{}\"\n", r.numerator, r.denominator));
            }
            text
        }
        FaultAction::Heal => "action = \"heal\"\n".to_string(),
        other => return Err(format!("a fault {other:?} cannot be written out yet")),
    };
    Ok(format!("\n[[faults]]\nat = \"{}us\"\n{body}", fault.at_us))
}

/// The text the loader reads back as `target` (`load::parse_target`).
fn target_text(target: &Target, cluster: &ClusterSpec) -> Result<String, String> {
    let brokers: Vec<_> = (1..=cluster.broker_count).map(|b| cluster.broker_node(BrokerId(b))).collect();
    let consumers: Vec<_> = (0..cluster.consumers.len() as u32).map(|c| cluster.consumer_node(c)).collect();
    let members_of = |g: GroupId| -> Vec<NodeId> {
        (0..cluster.consumers.len() as u32)
            .filter(|&c| cluster.consumers[c as usize].group == g)
            .map(|c| cluster.consumer_node(c))
            .collect()
    };
    Ok(match target {
        Target::Node(n) => cluster.node_name(*n),
        Target::LeaderOf(p) => format!("leader of {}", cluster.partition_name(*p)),
        Target::FollowerOf(p) => format!("a follower of {}", cluster.partition_name(*p)),
        Target::Controller => "the active controller".to_string(),
        Target::LastStopped => "last stopped".to_string(),
        Target::OwnerOf(g, p) => {
            format!("the owner of {} in group {}", cluster.partition_name(*p), cluster.group_name(*g))
        }
        Target::OneOf(nodes) if *nodes == brokers => "a broker".to_string(),
        Target::OneOf(nodes) if *nodes == consumers => "a consumer".to_string(),
        Target::OneOf(nodes) => match cluster.group_ids().find(|&g| members_of(g) == *nodes) {
            Some(g) => format!("a member of group {}", cluster.group_name(g)),
            None => return Err(format!("no target text names the nodes {nodes:?}")),
        },
        Target::TargetOf(i) => format!("the target of fault {i}"),
        Target::ThatLeader | Target::ThatBroker => return Err("\"that leader\" needs its `when`".to_string()),
    })
}
