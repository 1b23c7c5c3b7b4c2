//! The order faults fire in: those at a time by (time, file order), triggers armed at their `at` and watched
//! after every event, and a trigger's fault after its `delay`.

use super::ScheduledFault;
use super::trigger::{Seen, StateView, Trigger, watched_commits};
use crate::kafka::ids::PartitionId;
use std::collections::BTreeMap;

/// What is due at a time for a fault (by its index in the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Its trigger starts watching.
    Arm,
    /// It fires, with what its trigger saw.
    Apply(Seen),
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
}

impl<'a> FaultPlan<'a> {
    pub fn new(faults: &'a [ScheduledFault]) -> Self {
        let mut timed = BTreeMap::new();
        for (i, f) in faults.iter().enumerate() {
            let due = if f.when.is_some() { Due::Arm } else { Due::Apply(Seen::default()) };
            timed.insert((f.at_us, i as u64), (i, due));
        }
        let triggers = vec![None; faults.len()];
        FaultPlan { faults, timed, next_order: faults.len() as u64, triggers, watching: Vec::new() }
    }

    pub fn fault(&self, i: usize) -> &'a ScheduledFault {
        &self.faults[i]
    }

    /// Every (consumer, partition) whose committed offset some condition reads.
    pub fn watched_commits(&self) -> Vec<(u32, PartitionId)> {
        let conditions = self.faults.iter().filter_map(|f| f.when.as_ref().map(|w| &w.condition));
        conditions.flat_map(watched_commits).collect()
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

    /// Whether any trigger is being watched (then the run checks after every event).
    pub fn watching(&self) -> bool {
        !self.watching.is_empty()
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
