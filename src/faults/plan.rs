//! The order faults fire in: those at a time by (time, file order), triggers armed at their `at` and watched
//! after every event, and a trigger's fault after its `delay`.

use super::ScheduledFault;
use super::trigger::{Condition, Seen, StateView, Trigger, Watched};
use crate::check::expect::{Within, WithinOutcome};
use std::collections::BTreeMap;

/// What is due at a time for a fault (by its index in the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Its trigger starts watching.
    Arm,
    /// It fires, with what its trigger saw.
    Apply(Seen),
}

/// A timing expectation the run watches: after a fault fires (or from the start), a condition must hold
/// within a bound (`[[expect.within]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadlineWatch {
    /// The fault (index in the scenario's `[[faults]]`) whose first firing starts the clock; `None`: the start.
    pub after_fault: Option<usize>,
    pub condition: Condition,
    pub within_us: u64,
}

impl DeadlineWatch {
    /// The watch as the verdict names it.
    pub fn expectation(&self) -> Within {
        Within { condition: self.condition.text.clone(), within_us: self.within_us, after_fault: self.after_fault }
    }
}

/// A deadline watch during the run.
#[derive(Clone, Debug)]
enum WatchState {
    Waiting,
    Watching { trigger: Trigger, started_at: u64 },
    Held { started_at: u64, at: u64 },
    Missed { started_at: u64 },
}

/// How a triggered fault fared over the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TriggerReport {
    /// The fault's index in the scenario's `[[faults]]`, from 0.
    pub fault: usize,
    pub condition: String,
    pub fired: u32,
}

pub struct FaultPlan<'a> {
    faults: &'a [ScheduledFault],
    /// (time, order) → what is due; the order is the file's for the faults themselves, then creation order.
    timed: BTreeMap<(u64, u64), (usize, Due)>,
    next_order: u64,
    /// Per fault: its trigger, once armed.
    triggers: Vec<Option<Trigger>>,
    /// Faults whose trigger is armed and not exhausted, in file order.
    watching: Vec<usize>,
    watches: Vec<(DeadlineWatch, WatchState)>,
}

impl<'a> FaultPlan<'a> {
    pub fn new(faults: &'a [ScheduledFault], watches: &[DeadlineWatch]) -> Self {
        let mut timed = BTreeMap::new();
        for (i, f) in faults.iter().enumerate() {
            let due = if f.when.is_some() { Due::Arm } else { Due::Apply(Seen::default()) };
            timed.insert((f.at_us, i as u64), (i, due));
        }
        let triggers = vec![None; faults.len()];
        let watches = watches.iter().map(|w| (w.clone(), WatchState::Waiting)).collect();
        FaultPlan { faults, timed, next_order: faults.len() as u64, triggers, watching: Vec::new(), watches }
    }

    /// Starts the clocks of the deadline watches that wait for `after` (a fault's first firing, or the start).
    pub fn start_watches(&mut self, after: Option<usize>, view: &dyn StateView, now_us: u64) {
        for (watch, state) in &mut self.watches {
            if watch.after_fault == after && matches!(state, WatchState::Waiting) {
                let mut trigger = Trigger::new(watch.condition.clone(), 1);
                trigger.arm(view);
                *state = WatchState::Watching { trigger, started_at: now_us };
            }
        }
    }

    /// Checks the running deadline watches after an event at `now_us`.
    fn check_watches(&mut self, view: &dyn StateView, now_us: u64) {
        for (watch, state) in &mut self.watches {
            let WatchState::Watching { trigger, started_at } = state else { continue };
            let started_at = *started_at;
            if now_us > started_at + watch.within_us {
                *state = WatchState::Missed { started_at };
            } else if trigger.check(view).is_some() {
                *state = WatchState::Held { started_at, at: now_us };
            }
        }
    }

    /// How every deadline watch fared (one still running at the end missed its deadline by then).
    pub fn within_reports(&self) -> Vec<WithinOutcome> {
        let report = |(watch, state): &(DeadlineWatch, WatchState)| {
            let (started_at, held_at) = match state {
                WatchState::Waiting => (None, None),
                WatchState::Watching { started_at, .. } | WatchState::Missed { started_at } => {
                    (Some(*started_at), None)
                }
                WatchState::Held { started_at, at } => (Some(*started_at), Some(*at)),
            };
            WithinOutcome { within: watch.expectation(), started_at, held_at }
        };
        self.watches.iter().map(report).collect()
    }

    pub fn fault(&self, i: usize) -> &'a ScheduledFault {
        &self.faults[i]
    }

    /// What conditions (of triggers and deadline watches) read of consumers.
    pub fn watched(&self) -> Watched {
        let mut watched = Watched::default();
        self.faults.iter().filter_map(|f| f.when.as_ref()).for_each(|w| watched.add(&w.condition));
        self.watches.iter().for_each(|(w, _)| watched.add(&w.condition));
        watched
    }

    /// The time of the next fault or arming, if any.
    pub fn next_due(&self) -> Option<u64> {
        self.timed.keys().next().map(|(at, _)| *at)
    }

    /// Takes the first entry due by `now`.
    pub fn pop_due(&mut self, now: u64) -> Option<(usize, Due)> {
        let (&key, _) = self.timed.iter().next().filter(|((at, _), _)| *at <= now)?;
        self.timed.remove(&key)
    }

    /// Whether any trigger or deadline is being watched (then the run checks after every event).
    pub fn watching(&self) -> bool {
        !self.watching.is_empty() || self.watches.iter().any(|(_, s)| matches!(s, WatchState::Watching { .. }))
    }

    pub fn arm(&mut self, i: usize, view: &dyn StateView) {
        let when = self.faults[i].when.as_ref().expect("only a fault with a trigger is armed");
        let mut trigger = Trigger::new(when.condition.clone(), when.repeat);
        trigger.arm(view);
        self.triggers[i] = Some(trigger);
        self.watching.push(i);
        self.watching.sort_unstable();
    }

    /// Checks every watched trigger after an event at `now_us`. The faults to fire now go to `fire_now` (in
    /// file order); those with a delay are scheduled.
    pub fn check(&mut self, view: &dyn StateView, now_us: u64, fire_now: &mut Vec<(usize, Seen)>) {
        self.check_watches(view, now_us);
        let mut k = 0;
        while k < self.watching.len() {
            let i = self.watching[k];
            let trigger = self.triggers[i].as_mut().expect("a watched fault has a trigger");
            if let Some(seen) = trigger.check(view) {
                let delay_us = self.faults[i].when.as_ref().map_or(0, |w| w.delay_us);
                if delay_us == 0 {
                    fire_now.push((i, seen));
                } else {
                    self.timed.insert((now_us + delay_us, self.next_order), (i, Due::Apply(seen)));
                    self.next_order += 1;
                }
            }
            if self.triggers[i].as_ref().is_some_and(Trigger::exhausted) {
                self.watching.remove(k);
            } else {
                k += 1;
            }
        }
    }

    /// Every triggered fault and how often it fired (0 for one never armed).
    pub fn reports(&self) -> Vec<TriggerReport> {
        let triggered = self.faults.iter().enumerate().filter_map(|(i, f)| f.when.as_ref().map(|w| (i, w)));
        triggered
            .map(|(i, w)| TriggerReport {
                fault: i,
                condition: w.condition.text.clone(),
                fired: self.triggers[i].as_ref().map_or(0, |t| t.fired),
            })
            .collect()
    }
}
