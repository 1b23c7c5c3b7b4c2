//! `insync shrink`: from a failing seed's realized fault schedule (the scenario's own faults and what its nemesis
//! drew), the smallest scenario that still fails the same way. Delta debugging, each step kept only if the run
//! still fails: keep the shortest failing suffix of faults, drop each fault with what ends it, shorten each fault
//! (end it earlier, start it later), cut the simulated time, then cut the workload — producers, consumer groups,
//! consumers, instances, records, partitions, brokers. Every candidate is the scenario's text rewritten and loaded
//! again, so the loader decides what stays valid (a candidate it refuses is skipped) and what is written out is
//! exactly what was run. Bounded by a budget of runs.

use crate::check::verdict;
use crate::faults::{ScheduledFault, Target};
use crate::scenario::doc::{self, Node, Value};
use crate::scenario::emit::{Rewrite, TableEdit, count_tables, rewrite_scenario};
use crate::scenario::{Scenario, Source};
use crate::sim;
use std::collections::BTreeSet;

/// What "still fails" means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Goal {
    /// The same expectations unmet as in the original run (as `explore` names them: `holds durability`).
    Unmet(Vec<String>),
    /// The checker finds at least one violation of this invariant.
    Violates(String),
}

/// A schedule, a duration and the edits to the scenario's tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub faults: Vec<ScheduledFault>,
    pub duration_us: u64,
    pub edits: Vec<TableEdit>,
}

/// How big a scenario is, as `shrink` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub faults: usize,
    /// The records the producers may send: each one's `count`, or its rate over its sending time without one.
    pub records: u64,
    /// Brokers, controllers and clients.
    pub nodes: u32,
    pub duration_us: u64,
}

/// The outcome: the original and the smallest failing candidate, the latter's scenario text, and how many runs
/// it took.
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub original: Candidate,
    pub minimal: Candidate,
    pub original_size: Size,
    pub minimal_size: Size,
    /// The minimal candidate as scenario text (nemesis commented out, every fault explicit, the seed fixed).
    pub minimal_text: String,
    pub runs: u32,
}

/// The shortest duration tried: time for a fault's effect to show.
const MIN_TAIL_US: u64 = 1_000_000;

/// A fault's time is bisected down to this resolution.
const TIME_STEP_US: u64 = 50_000;

struct Search<'a> {
    text: &'a str,
    scenario: &'a Scenario,
    seed: u64,
    goal: &'a Goal,
    runs: u32,
    budget: u32,
}

impl Search<'_> {
    /// The candidate as scenario text.
    fn render(&self, candidate: &Candidate) -> Result<String, String> {
        let rewrite = Rewrite {
            seed: self.seed,
            duration_us: Some(candidate.duration_us),
            replace_faults: true,
            edits: candidate.edits.clone(),
        };
        rewrite_scenario(self.text, &rewrite, &self.scenario.sim.cluster, &candidate.faults)
    }

    /// Loads the candidate's text; `None` when the loader refuses it (an edit left the scenario invalid).
    fn load(&self, candidate: &Candidate) -> Option<Scenario> {
        let text = self.render(candidate).ok()?;
        crate::scenario::load_str("shrunk.toml", &text).ok()
    }

    /// Runs the candidate as written out (no nemesis: its faults are in the schedule) and says whether it fails
    /// as wanted. A candidate the loader refuses does not fail.
    fn fails(&mut self, candidate: &Candidate) -> bool {
        if self.runs >= self.budget {
            return false;
        }
        let Some(loaded) = self.load(candidate) else { return false };
        debug_assert!(loaded.sim.nemesis.is_none(), "the rewrite comments the nemesis out");
        self.runs += 1;
        let outcome = sim::run(&loaded.sim, self.seed, false);
        let judged = verdict::judge(&loaded.expect, &outcome.evidence());
        match self.goal {
            Goal::Unmet(wanted) => unmet(&judged) == *wanted,
            Goal::Violates(name) => judged.violations.get(name.as_str()).is_some_and(|&n| n > 0),
        }
    }

    /// Tries `candidate`; keeps it as `best` when it still fails.
    fn keep_if_fails(&mut self, best: &mut Candidate, candidate: Candidate) -> bool {
        let kept = self.fails(&candidate);
        if kept {
            *best = candidate;
        }
        kept
    }

    fn spent(&self) -> bool {
        self.runs >= self.budget
    }
}

/// The expectations a verdict did not meet, as `explore` names them.
pub fn unmet(judged: &verdict::Verdict) -> Vec<String> {
    judged.results.iter().filter(|r| !r.met).map(|r| format!("{} {}", r.kind, r.name)).collect()
}

/// The faults without those in `dropped`, `TargetOf` renumbered; `None` if a kept fault names a dropped one.
pub fn without(faults: &[ScheduledFault], dropped: &BTreeSet<usize>) -> Option<Vec<ScheduledFault>> {
    let mut renumbered = vec![None; faults.len()];
    let mut next = 0;
    for (i, slot) in renumbered.iter_mut().enumerate() {
        if !dropped.contains(&i) {
            *slot = Some(next);
            next += 1;
        }
    }
    let mut kept = Vec::with_capacity(next);
    for (i, fault) in faults.iter().enumerate().filter(|(i, _)| !dropped.contains(i)) {
        let mut fault = fault.clone();
        for target in fault.action.targets_mut() {
            if let Target::TargetOf(j) = target {
                *j = renumbered.get(*j).copied().flatten()?;
            }
        }
        debug_assert_eq!(renumbered[i], Some(kept.len()));
        kept.push(fault);
    }
    Some(kept)
}

/// Fault `i` and every later fault that names it (what ends it), transitively.
fn unit_of(faults: &[ScheduledFault], i: usize) -> BTreeSet<usize> {
    let mut unit = BTreeSet::from([i]);
    for (j, fault) in faults.iter().enumerate().skip(i + 1) {
        let mut action = fault.action.clone();
        let names_unit = action.targets_mut().iter().any(|t| matches!(**t, Target::TargetOf(k) if unit.contains(&k)));
        if names_unit {
            unit.insert(j);
        }
    }
    unit
}

/// Shrinks a failing run at `seed` of `scenario`, whose file text is `text`. Errors when the seed does not fail
/// as `goal` says, when its faults cannot be written out, or when the scenario has timing expectations tied to
/// fault indices (`[[expect.within]]` with `after_fault`).
pub fn shrink(scenario: &Scenario, text: &str, seed: u64, goal: &Goal, budget: u32) -> Result<Shrunk, String> {
    if scenario.sim.watches.iter().any(|w| w.after_fault.is_some()) {
        return Err("the scenario's [[expect.within]] name faults by index; shrinking would renumber them".into());
    }
    let original = Candidate {
        faults: scenario.sim.faults_at(seed),
        duration_us: scenario.sim.limits.end.as_us(),
        edits: Vec::new(),
    };
    let mut search = Search { text, scenario, seed, goal, runs: 0, budget: budget.max(1) };
    let original_text = search.render(&original)?;
    crate::scenario::load_str("shrunk.toml", &original_text)
        .map_err(|e| format!("the scenario written out with its faults does not load: {e}"))?;
    if !search.fails(&original) {
        return Err(format!("seed {seed} does not fail as asked ({goal:?})"));
    }
    let mut best = original.clone();
    keep_a_suffix(&mut search, &mut best);
    drop_faults(&mut search, &mut best);
    shorten_faults(&mut search, &mut best);
    cut_duration(&mut search, &mut best);
    cut_workload(&mut search, &mut best);
    drop_faults(&mut search, &mut best);
    let size = |c: &Candidate| search.load(c).map(|s| size_of(&s, c.faults.len()));
    let original_size = size(&original).ok_or("the original scenario no longer loads")?;
    let minimal_size = size(&best).ok_or("the shrunk scenario does not load")?;
    let minimal_text = search.render(&best)?;
    Ok(Shrunk { original, minimal: best, original_size, minimal_size, minimal_text, runs: search.runs })
}

fn size_of(scenario: &Scenario, faults: usize) -> Size {
    let cluster = &scenario.sim.cluster;
    let end_us = scenario.sim.limits.end.as_us();
    let records = cluster
        .producers
        .iter()
        .map(|p| {
            let sending_us = p.stop_us.min(end_us).saturating_sub(p.start_us);
            let by_rate = p.rate_per_s.saturating_mul(sending_us) / 1_000_000;
            p.max_records.map_or(by_rate, |n| n.min(by_rate.max(1)))
        })
        .sum();
    Size { faults, records, nodes: cluster.node_count(), duration_us: end_us }
}

/// Tries to keep only the last faults: a failure often needs only the faults just before it, and dropping
/// earlier ones one at a time moves the later ones' effects. The shortest failing suffix is kept.
fn keep_a_suffix(search: &mut Search<'_>, best: &mut Candidate) {
    for start in (1..best.faults.len()).rev() {
        let dropped: BTreeSet<usize> = (0..start).collect();
        let Some(faults) = without(&best.faults, &dropped) else { continue };
        if search.keep_if_fails(best, Candidate { faults, ..best.clone() }) {
            return;
        }
    }
}

/// Tries to drop each fault with what ends it, from the last to the first, until no drop keeps the failure.
fn drop_faults(search: &mut Search<'_>, best: &mut Candidate) {
    loop {
        let mut progressed = false;
        let mut i = best.faults.len();
        while i > 0 {
            i -= 1;
            if i >= best.faults.len() {
                continue;
            }
            let unit = unit_of(&best.faults, i);
            let Some(faults) = without(&best.faults, &unit) else { continue };
            progressed |= search.keep_if_fails(best, Candidate { faults, ..best.clone() });
        }
        if !progressed || search.spent() {
            return;
        }
    }
}

/// Shortens each fault: its end (the first later fault naming it) as early as it still fails, then its start as
/// late; a fault nothing ends is moved as late as it still fails. Times are bisected to `TIME_STEP_US`.
fn shorten_faults(search: &mut Search<'_>, best: &mut Candidate) {
    for i in 0..best.faults.len() {
        let ender = unit_of(&best.faults, i).into_iter().find(|&j| j != i);
        let start_us = best.faults[i].at_us;
        if let Some(j) = ender {
            // The end: fails at its own time; try earlier, down to just after the start.
            let end_us = best.faults[j].at_us;
            bisect_time(search, best, j, start_us.saturating_add(1), end_us, Direction::Earlier);
            let end_us = best.faults[j].at_us;
            bisect_time(search, best, i, start_us, end_us.saturating_sub(1), Direction::Later);
        } else {
            let latest_us = best.duration_us.saturating_sub(MIN_TAIL_US);
            if latest_us > start_us {
                bisect_time(search, best, i, start_us, latest_us, Direction::Later);
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Earlier,
    Later,
}

/// Moves fault `i` within `low_us..=high_us` towards `direction`'s bound, keeping the farthest time that fails
/// (its current time is the side known to fail).
fn bisect_time(
    search: &mut Search<'_>,
    best: &mut Candidate,
    i: usize,
    low_us: u64,
    high_us: u64,
    direction: Direction,
) {
    let (mut failing, mut untried) = match direction {
        Direction::Earlier => (high_us, low_us),
        Direction::Later => (low_us, high_us),
    };
    while failing.abs_diff(untried) > TIME_STEP_US && !search.spent() {
        let mid = failing.min(untried) + failing.abs_diff(untried) / 2;
        let mut candidate = best.clone();
        candidate.faults[i].at_us = mid;
        if search.keep_if_fails(best, candidate) {
            failing = mid;
        } else {
            untried = mid;
        }
    }
}

/// Bisects the duration down towards the last fault's time (plus a second), keeping it where it still fails.
fn cut_duration(search: &mut Search<'_>, best: &mut Candidate) {
    let last_fault = best.faults.iter().map(|f| f.at_us).max().unwrap_or(0);
    let mut low = last_fault.saturating_add(MIN_TAIL_US);
    while low + MIN_TAIL_US < best.duration_us && !search.spent() {
        let mid = low + (best.duration_us - low) / 2;
        if !search.keep_if_fails(best, Candidate { duration_us: mid, ..best.clone() }) {
            low = mid;
        }
    }
}

/// Cuts what the scenario runs: whole producers, whole consumer groups, single consumer tables, then counts
/// (instances, records, partitions, brokers) bisected down.
fn cut_workload(search: &mut Search<'_>, best: &mut Candidate) {
    drop_groups(search, best);
    for section in ["producers", "consumers"] {
        for index in 0..count_tables(search.text, section) {
            try_edits(search, best, vec![TableEdit::Drop { section, index }]);
        }
    }
    for (section, key) in [("consumers", "instances"), ("producers", "count"), ("topics", "partitions")] {
        for index in 0..count_tables(search.text, section) {
            bisect_count(search, best, section, index, key);
        }
    }
    bisect_count(search, best, "cluster", 0, "brokers");
}

/// Tries `edits` added to the best candidate's (a table already dropped is not tried again).
fn try_edits(search: &mut Search<'_>, best: &mut Candidate, edits: Vec<TableEdit>) -> bool {
    if edits.iter().all(|e| best.edits.contains(e)) || search.spent() {
        return false;
    }
    let mut candidate = best.clone();
    for edit in edits {
        candidate.edits.retain(|e| !same_key(e, &edit));
        candidate.edits.push(edit);
    }
    search.keep_if_fails(best, candidate)
}

/// Whether two edits set the same key of the same table (the later replaces the earlier).
fn same_key(a: &TableEdit, b: &TableEdit) -> bool {
    matches!((a, b), (TableEdit::Set { section: s1, index: i1, key: k1, .. },
        TableEdit::Set { section: s2, index: i2, key: k2, .. }) if s1 == s2 && i1 == i2 && k1 == k2)
}

/// Drops every consumer table of one `group.id` at once, for each group with more than one table.
fn drop_groups(search: &mut Search<'_>, best: &mut Candidate) {
    let groups = consumer_tables_by_group(search.text);
    for tables in groups.values().filter(|t| t.len() > 1) {
        let edits = tables.iter().map(|&index| TableEdit::Drop { section: "consumers", index }).collect();
        try_edits(search, best, edits);
    }
}

/// Each `group.id` of the text's `[[consumers]]` tables and the tables' indices.
fn consumer_tables_by_group(text: &str) -> std::collections::BTreeMap<String, Vec<usize>> {
    let mut groups = std::collections::BTreeMap::<String, Vec<usize>>::new();
    let Ok(root) = doc::parse(&Source::new("scenario.toml", text)) else {
        return groups;
    };
    for (index, table) in tables_of(&root, "consumers").iter().enumerate() {
        if let Some(group) = lookup(table, &["group", "id"]).and_then(|n| n.as_str()) {
            groups.entry(group.to_string()).or_default().push(index);
        }
    }
    groups
}

/// The elements of the array of tables `section` (or the one table), in the text's order.
fn tables_of<'a>(root: &'a Node, section: &str) -> Vec<&'a Node> {
    match lookup(root, &[section]).map(|n| &n.value) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Table(_)) => lookup(root, &[section]).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// The value at a dotted path of tables.
fn lookup<'a>(node: &'a Node, path: &[&str]) -> Option<&'a Node> {
    path.iter().try_fold(node, |node, key| node.as_table()?.iter().find(|(k, _)| k.name == *key).map(|(_, n)| n))
}

/// The integer `key` of table `index` of `section` in the text, bisected down towards 1, keeping the smallest
/// value that still fails. Tables without the key, or already dropped, are left alone.
fn bisect_count(search: &mut Search<'_>, best: &mut Candidate, section: &'static str, index: usize, key: &'static str) {
    if best.edits.contains(&TableEdit::Drop { section, index }) {
        return;
    }
    let in_text = current_count(search.text, best, section, index, key);
    // `[cluster]` may be left out: its brokers are then the loader's default.
    let default = (section == "cluster").then_some(u64::from(search.scenario.sim.cluster.broker_count));
    let Some(mut failing) = in_text.or(default) else { return };
    let mut untried = 0;
    while failing > untried + 1 && !search.spent() {
        let mid = untried + (failing - untried) / 2;
        if try_edits(search, best, vec![TableEdit::Set { section, index, key, value: mid.to_string() }]) {
            failing = mid;
        } else {
            untried = mid;
        }
    }
}

/// The key's value in the best candidate (its own edit, else the text's).
fn current_count(text: &str, best: &Candidate, section: &str, index: usize, key: &str) -> Option<u64> {
    let edited = best.edits.iter().find_map(|e| match e {
        TableEdit::Set { section: s, index: i, key: k, value } if *s == section && *i == index && *k == key => {
            value.parse().ok()
        }
        _ => None,
    });
    if edited.is_some() {
        return edited;
    }
    let root = doc::parse(&Source::new("scenario.toml", text)).ok()?;
    let table = *tables_of(&root, section).get(index)?;
    match lookup(table, &[key])?.value {
        Value::Int(n) => u64::try_from(n).ok(),
        _ => None,
    }
}
