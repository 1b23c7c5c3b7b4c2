//! A self-rearming deadline timer. Timeouts that are almost always cancelled (request, fetch, produce) are kept
//! as deadlines in the node's own state; the node arms one engine timer at the earliest deadline, so the queue
//! holds at most a few wakeups per node instead of one dead entry per request.

use super::time::SimTime;

#[derive(Clone, Copy, Debug, Default)]
pub struct Wakeup {
    armed_at: Option<SimTime>,
}

impl Wakeup {
    /// Whether an engine timer must be set for `at`: only when nothing earlier (or equal) is already armed.
    pub fn needs_timer(&mut self, at: SimTime) -> bool {
        if self.armed_at.is_some_and(|armed| armed <= at) {
            return false;
        }
        self.armed_at = Some(at);
        true
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
        assert!(w.needs_timer(SimTime(100)));
        assert!(!w.needs_timer(SimTime(150)));
        assert!(w.needs_timer(SimTime(50)));
        w.fired(SimTime(50));
        assert!(w.needs_timer(SimTime(150)));
    }
}
