//! `run --emit-scenario`: the scenario with its nemesis's faults for one seed written out as an explicit
//! `[[faults]]` schedule, so the seed's run replays without the nemesis (and can be read, edited and shrunk).

use crate::engine::NodeId;
use crate::faults::{FaultAction, ScheduledFault, Target};
use crate::kafka::cluster::ResetTo;
use crate::kafka::controller::ElectionType;
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
    let rewrite = Rewrite { seed, duration_us: None, replace_faults: false, edits: Vec::new() };
    rewrite_scenario(text, &rewrite, cluster, faults)
}

/// How `rewrite_scenario` changes a scenario's text.
pub struct Rewrite {
    pub seed: u64,
    /// A new `duration`, if any.
    pub duration_us: Option<u64>,
    /// Whether the scenario's own `[[faults]]` are commented out too (`faults` then holds every fault).
    pub replace_faults: bool,
    /// Tables dropped or keys set (`insync shrink` cutting producers, records, partitions, brokers).
    pub edits: Vec<TableEdit>,
}

/// A change to one table of a scenario's text. `section` names the table (`producers`, `cluster`); `index` is the
/// element of an array of tables (`[[producers]]`), counted in the text, and 0 for a plain table (`[cluster]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableEdit {
    /// The table and its sub-tables commented out.
    Drop { section: &'static str, index: usize },
    /// `key = value` (value as TOML text) under the table's header, in place of the key's own line; a plain table
    /// the text lacks is appended.
    Set { section: &'static str, index: usize, key: &'static str, value: String },
}

impl TableEdit {
    fn is_set_in(&self, at: &Block) -> bool {
        matches!(self, TableEdit::Set { section, index, .. } if *section == at.section && *index == at.index)
    }
}

/// The table a line of the text belongs to: its section, element index, and whether it is the element's own
/// table (not a sub-table such as `[producers.x]`).
#[derive(Clone, Debug, Default)]
struct Block {
    section: String,
    index: usize,
    main: bool,
}

/// Counts the elements of each array of tables as the text's headers go by.
#[derive(Default)]
struct Blocks {
    seen: std::collections::BTreeMap<String, usize>,
}

impl Blocks {
    /// The block a header line opens, or `None` when the line is not a header (`[[name]]`, `[name.sub]`).
    fn open(&mut self, line: &str) -> Option<Block> {
        let (path, array) = header_path(line)?;
        let (section, sub) = match path.split_once('.') {
            Some((section, _)) => (section, true),
            None => (path, false),
        };
        let count = self.seen.entry(section.to_string()).or_insert(0);
        if array && !sub {
            *count += 1;
        }
        Some(Block { section: section.to_string(), index: count.saturating_sub(1), main: !sub })
    }
}

/// `[[a.b]]` → (`a.b`, true), `[a]` → (`a`, false); anything else (a value line such as `["x"],`) → `None`.
fn header_path(line: &str) -> Option<(&str, bool)> {
    let line = line.trim();
    let (inner, array) = match line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
        Some(inner) => (inner, true),
        None => (line.strip_prefix('[')?.strip_suffix(']')?, false),
    };
    let inner = inner.trim();
    let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    (!inner.is_empty() && inner.chars().all(bare)).then_some((inner, array))
}

/// How many `[[section]]` tables the text holds.
pub fn count_tables(text: &str, section: &str) -> usize {
    let mut blocks = Blocks::default();
    text.lines().filter_map(|line| blocks.open(line)).filter(|b| b.main && b.section == section).count()
}

/// The scenario text with `[nemesis]` (and with `replace_faults` its `[[faults]]`) commented out, `seed` and
/// `duration` set, the table edits made, and `faults` appended.
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
    let mut set_done = vec![false; rewrite.edits.len()];
    let mut out = String::new();
    let mut commented = false;
    let mut blocks = Blocks::default();
    let mut block: Option<Block> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(opened) = blocks.open(trimmed) {
            if block.is_none() {
                write_missing(&mut out, &top_keys, &mut written);
            }
            commented = opened.section == "nemesis"
                || (rewrite.replace_faults && opened.section == "faults")
                || rewrite.edits.iter().any(|e| {
                    matches!(e, TableEdit::Drop { section, index } if *section == opened.section && *index == opened.index)
                });
            block = Some(opened);
        }
        if commented {
            let _ = writeln!(out, "# {line}");
            continue;
        }
        match &block {
            None => {
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
            Some(at) if at.main => {
                let replaced = rewrite
                    .edits
                    .iter()
                    .any(|e| e.is_set_in(at) && matches!(e, TableEdit::Set { key, .. } if is_key(trimmed, key)));
                if replaced {
                    continue;
                }
                let _ = writeln!(out, "{line}");
                if header_path(trimmed).is_some() {
                    write_sets(&mut out, &rewrite.edits, at, &mut set_done);
                }
                continue;
            }
            Some(_) => {}
        }
        let _ = writeln!(out, "{line}");
    }
    write_missing(&mut out, &top_keys, &mut written);
    append_missing_tables(&mut out, &rewrite.edits, &mut set_done)?;
    let _ = writeln!(out, "\n# The faults of seed {}, written out.", rewrite.seed);
    for fault in faults {
        out.push_str(&fault_toml(fault, cluster)?);
    }
    Ok(out)
}

/// The `key = value` lines of the edits that set keys in `at`, written under its header.
fn write_sets(out: &mut String, edits: &[TableEdit], at: &Block, done: &mut [bool]) {
    for (edit, done) in edits.iter().zip(done.iter_mut()) {
        if let TableEdit::Set { key, value, .. } = edit
            && edit.is_set_in(at)
        {
            let _ = writeln!(out, "{key} = {value}");
            *done = true;
        }
    }
}

/// Plain tables the text lacks, with the keys set in them; an element of an array of tables the text lacks is an
/// error (nothing to set a key in).
fn append_missing_tables(out: &mut String, edits: &[TableEdit], done: &mut [bool]) -> Result<(), String> {
    for i in 0..edits.len() {
        let TableEdit::Set { section, index, .. } = &edits[i] else { continue };
        if done[i] {
            continue;
        }
        if *index > 0 {
            return Err(format!("no [[{section}]] table {index} to set a key in"));
        }
        let _ = writeln!(out, "\n[{section}]");
        let at = Block { section: section.to_string(), index: 0, main: true };
        write_sets(out, edits, &at, done);
    }
    Ok(())
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
        FaultAction::StopPolling { target } => format!("action = \"stop-polling\"\ntarget = {}\n", t(target)?),
        FaultAction::ResumePolling { target } => format!("action = \"resume-polling\"\ntarget = {}\n", t(target)?),
        FaultAction::ResetOffsets { group, topic, to } => format!(
            "action = \"reset-offsets\"\ngroup.id = \"{}\"\ntopic = \"{}\"\n{}",
            cluster.group_name(*group),
            cluster.topic(*topic).name,
            reset_to_toml(*to)
        ),
        FaultAction::Seek { target, partition, to } => format!(
            "action = \"seek\"\ntarget = {}\npartition = \"{}\"\n{}",
            t(target)?,
            cluster.partition_name(*partition),
            reset_to_toml(*to)
        ),
        FaultAction::DelayMetadata { target, duration_us } => {
            format!("action = \"delay-metadata\"\ntarget = {}\nduration = \"{duration_us}us\"\n", t(target)?)
        }
        FaultAction::ElectLeaders { election, partition } => {
            let kind = match election {
                ElectionType::Preferred => "preferred",
                ElectionType::Unclean => "unclean",
            };
            let partition =
                partition.map_or(String::new(), |p| format!("partition = \"{}\"\n", cluster.partition_name(p)));
            format!("action = \"elect-leaders\"\nelection_type = \"{kind}\"\n{partition}")
        }
        FaultAction::Heal => "action = \"heal\"\n".to_string(),
    };
    Ok(format!("\n[[faults]]\nat = \"{}us\"\n{body}", fault.at_us))
}

/// `to` or `to_datetime`, as `load::read_reset_to` reads them back.
fn reset_to_toml(to: ResetTo) -> String {
    match to {
        ResetTo::Earliest => "to = \"earliest\"\n".to_string(),
        ResetTo::Latest => "to = \"latest\"\n".to_string(),
        ResetTo::Offset(offset) => format!("to = {offset}\n"),
        ResetTo::Datetime(at) => format!("to_datetime = \"{}us\"\n", at.as_us()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name = \"t\"\n\n[[producers]]\nname = \"a\"\ncount = 100\n\n[[producers]]\nname = \"b\"\n\
                        count = 50\n[producers.extra]\nx = 1\n\n[[consumers]]\nname = \"c\"\n";

    /// No fault is written, so any cluster will do.
    fn cluster() -> ClusterSpec {
        let text = "[[topics]]\nname = \"t\"\n";
        crate::scenario::load_str("c.toml", text).expect("a minimal scenario").sim.cluster
    }

    fn edited(edits: Vec<TableEdit>) -> String {
        let rewrite = Rewrite { seed: 7, duration_us: None, replace_faults: true, edits };
        rewrite_scenario(TEXT, &rewrite, &cluster(), &[]).expect("rewritten")
    }

    #[test]
    fn a_dropped_table_is_commented_out_with_its_sub_tables_and_no_other() {
        let out = edited(vec![TableEdit::Drop { section: "producers", index: 1 }]);
        assert!(out.contains("# name = \"b\"\n# count = 50\n# [producers.extra]\n# x = 1\n"), "{out}");
        assert!(out.contains("\nname = \"a\"\ncount = 100\n"), "{out}");
        assert!(out.contains("\n[[consumers]]\nname = \"c\"\n"), "{out}");
        assert_eq!(count_tables(TEXT, "producers"), 2);
    }

    #[test]
    fn a_set_key_replaces_the_tables_own_line_or_adds_a_missing_table() {
        let out = edited(vec![
            TableEdit::Set { section: "producers", index: 0, key: "count", value: "3".into() },
            TableEdit::Set { section: "cluster", index: 0, key: "brokers", value: "2".into() },
        ]);
        assert!(out.contains("[[producers]]\ncount = 3\nname = \"a\"\n\n"), "{out}");
        assert!(out.contains("count = 50"), "{out}");
        assert!(out.contains("\n[cluster]\nbrokers = 2\n"), "{out}");
        let missing = TableEdit::Set { section: "producers", index: 5, key: "count", value: "1".into() };
        let rewrite = Rewrite { seed: 7, duration_us: None, replace_faults: true, edits: vec![missing] };
        assert!(rewrite_scenario(TEXT, &rewrite, &cluster(), &[]).is_err());
    }

    #[test]
    fn a_value_line_opening_with_a_bracket_is_not_a_header() {
        assert_eq!(header_path("[[faults]]"), Some(("faults", true)));
        assert_eq!(header_path("[producers.extra]"), Some(("producers.extra", false)));
        assert_eq!(header_path("[\"a\"], [\"b\"]"), None);
        assert_eq!(header_path("[[\"x\"]],"), None);
    }

    /// Every action the nemesis or a user writes comes back from the loader as it was written out.
    #[test]
    fn faults_written_out_load_back_the_same() {
        let text = "duration = \"60s\"\n[[topics]]\nname = \"t\"\npartitions = 2\n\n[[consumers]]\nname = \"c\"\n\
                    group.id = \"g\"\ntopics = [\"t\"]\n";
        let cluster = crate::scenario::load_str("c.toml", text).expect("the scenario").sim.cluster;
        let consumer = Target::Node(cluster.consumer_node(0));
        let (group, topic) = (GroupId(0), crate::kafka::ids::TopicId(0));
        let partition = crate::kafka::ids::PartitionId(1);
        let actions = [
            FaultAction::StopPolling { target: consumer.clone() },
            FaultAction::ResumePolling { target: Target::TargetOf(0) },
            FaultAction::ResetOffsets { group, topic, to: ResetTo::Earliest },
            FaultAction::ResetOffsets { group, topic, to: ResetTo::Offset(7) },
            FaultAction::Seek { target: consumer, partition, to: ResetTo::Datetime(crate::engine::SimTime(5_000)) },
            FaultAction::DelayMetadata { target: Target::LeaderOf(partition), duration_us: 2_000_000 },
            FaultAction::ElectLeaders { election: ElectionType::Unclean, partition: Some(partition) },
            FaultAction::ElectLeaders { election: ElectionType::Preferred, partition: None },
        ];
        let faults: Vec<ScheduledFault> =
            actions.iter().map(|a| ScheduledFault { at_us: 1_000_000, when: None, action: a.clone() }).collect();
        let rewrite = Rewrite { seed: 3, duration_us: None, replace_faults: true, edits: Vec::new() };
        let written = rewrite_scenario(text, &rewrite, &cluster, &faults).expect("written out");
        let back = crate::scenario::load_str("w.toml", &written).unwrap_or_else(|e| panic!("{e}\n{written}"));
        assert_eq!(back.sim.faults, faults);
    }
}
