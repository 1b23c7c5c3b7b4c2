//! A self-rearming deadline timer. Timeouts that are almost always cancelled (request, fetch, produce) are kept
//! as deadlines in the node's own state; the node arms one engine timer at its earliest deadline. An earlier
//! deadline needs a new timer and leaves the later one in the queue, dead; arming never more than a horizon
//! ahead keeps those dead entries few (at most a horizon's worth per node) at the cost of a wakeup per horizon
//! while something is pending.

use super::time::SimTime;

/// The furthest ahead a wakeup is armed.
pub const WAKEUP_HORIZON_US: u64 = 100_000;

#[derive(Clone, Copy, Debug, Default)]
pub struct Wakeup {
    armed_at: Option<SimTime>,
}

impl Wakeup {
    /// The delay of the engine timer to set for a deadline `at`, if one is needed: only when nothing earlier
    /// (or equal) is already armed. The timer fires at `at` or one horizon from now, whichever is first.
    pub fn arm(&mut self, at: SimTime, now: SimTime) -> Option<u64> {
        let at = at.min(now.plus_us(WAKEUP_HORIZON_US)).max(now);
        if self.armed_at.is_some_and(|armed| armed <= at) {
            return None;
        }
        self.armed_at = Some(at);
        Some(at.since_us(now))
    }

    /// Called when a wakeup timer fires: forgets the armed time if it has passed.
    pub fn fired(&mut self, now: SimTime) {
        if self.armed_at.is_some_and(|armed| armed <= now) {
            self.armed_at = None;
        }
    }

    pub fn reset(&mut self) {
        self.armed_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_earlier_deadlines_need_a_new_timer() {
        let mut w = Wakeup::default();
        let now = SimTime(0);
        assert_eq!(w.arm(SimTime(100), now), Some(100));
        assert_eq!(w.arm(SimTime(150), now), None);
        assert_eq!(w.arm(SimTime(50), now), Some(50));
        w.fired(SimTime(50));
        assert_eq!(w.arm(SimTime(150), SimTime(50)), Some(100));
    }

    #[test]
    fn far_deadlines_are_armed_one_horizon_ahead() {
        let mut w = Wakeup::default();
        assert_eq!(w.arm(SimTime(30_000_000), SimTime(0)), Some(WAKEUP_HORIZON_US));
        assert_eq!(w.arm(SimTime(20_000_000), SimTime(0)), None, "already armed earlier than the horizon");
    }
}
