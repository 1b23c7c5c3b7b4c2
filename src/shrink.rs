//! `insync shrink`: from a failing seed's realized fault schedule (the scenario's own faults and what its nemesis
//! drew), the smallest schedule and shortest duration that still fail the same way, found by trying to drop each
//! fault (with the faults that end it) and then cutting the simulated time, each step kept only if the run still
//! fails. Bounded by a budget of runs.

use crate::check::verdict;
use crate::engine::SimTime;
use crate::faults::{ScheduledFault, Target};
use crate::scenario::Scenario;
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

/// A schedule and duration, and how big it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub faults: Vec<ScheduledFault>,
    pub duration_us: u64,
}

/// The outcome: the original and the smallest failing candidate, and how many runs it took.
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub original: Candidate,
    pub minimal: Candidate,
    pub runs: u32,
}

/// The shortest duration tried: time for a fault's effect to show.
const MIN_TAIL_US: u64 = 1_000_000;

struct Search<'a> {
    scenario: &'a Scenario,
    seed: u64,
    goal: &'a Goal,
    runs: u32,
    budget: u32,
}

impl Search<'_> {
    /// Runs the candidate (no nemesis: its faults are in the schedule) and says whether it fails as wanted.
    fn fails(&mut self, candidate: &Candidate) -> bool {
        if self.runs >= self.budget {
            return false;
        }
        self.runs += 1;
        let mut config = self.scenario.sim.clone();
        config.nemesis = None;
        config.faults = candidate.faults.clone();
        config.limits.end = SimTime(candidate.duration_us);
        let outcome = sim::run(&config, self.seed, false);
        let judged = verdict::judge(&self.scenario.expect, &outcome.evidence());
        match self.goal {
            Goal::Unmet(wanted) => unmet(&judged) == *wanted,
            Goal::Violates(name) => judged.violations.get(name.as_str()).is_some_and(|&n| n > 0),
        }
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

/// Shrinks a failing run at `seed`. Errors when the seed does not fail as `goal` says, or the scenario has
/// timing expectations tied to fault indices (`[[expect.within]]` with `after_fault`).
pub fn shrink(scenario: &Scenario, seed: u64, goal: &Goal, budget: u32) -> Result<Shrunk, String> {
    if scenario.sim.watches.iter().any(|w| w.after_fault.is_some()) {
        return Err("the scenario's [[expect.within]] name faults by index; shrinking would renumber them".into());
    }
    let original = Candidate { faults: scenario.sim.faults_at(seed), duration_us: scenario.sim.limits.end.as_us() };
    let mut search = Search { scenario, seed, goal, runs: 0, budget: budget.max(1) };
    if !search.fails(&original) {
        return Err(format!("seed {seed} does not fail as asked ({goal:?})"));
    }
    let mut best = original.clone();
    keep_a_suffix(&mut search, &mut best);
    drop_faults(&mut search, &mut best);
    cut_duration(&mut search, &mut best);
    Ok(Shrunk { original, minimal: best, runs: search.runs })
}

/// Tries to keep only the last faults: a failure often needs only the faults just before it, and dropping
/// earlier ones one at a time moves the later ones' effects. The shortest failing suffix is kept.
fn keep_a_suffix(search: &mut Search<'_>, best: &mut Candidate) {
    for start in (1..best.faults.len()).rev() {
        let dropped: BTreeSet<usize> = (0..start).collect();
        let Some(faults) = without(&best.faults, &dropped) else { continue };
        let candidate = Candidate { faults, duration_us: best.duration_us };
        if search.fails(&candidate) {
            *best = candidate;
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
            let candidate = Candidate { faults, duration_us: best.duration_us };
            if search.fails(&candidate) {
                *best = candidate;
                progressed = true;
            }
        }
        if !progressed || search.runs >= search.budget {
            return;
        }
    }
}

/// Bisects the duration down towards the last fault's time (plus a second), keeping it where it still fails.
fn cut_duration(search: &mut Search<'_>, best: &mut Candidate) {
    let last_fault = best.faults.iter().map(|f| f.at_us).max().unwrap_or(0);
    let mut low = last_fault.saturating_add(MIN_TAIL_US);
    while low + MIN_TAIL_US < best.duration_us && search.runs < search.budget {
        let mid = low + (best.duration_us - low) / 2;
        let candidate = Candidate { faults: best.faults.clone(), duration_us: mid };
        if search.fails(&candidate) {
            *best = candidate;
        } else {
            low = mid;
        }
    }
}
