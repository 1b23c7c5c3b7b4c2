//! Every run has a bound, and timeouts that are almost always cancelled do not pile up in the event queue.

use crate::support::{bundled_scenarios, load};
use insync::sim;

// Request, fetch and produce timeouts live in the nodes as deadlines behind one wakeup each, armed at most a
// short horizon ahead: however long the run, the queue holds a few timers per node (periodic tasks, wakeups,
// and at most a horizon's worth of superseded wakeups), not one per request.
#[test]
fn timers_do_not_pile_up_in_any_bundled_scenario() {
    for name in bundled_scenarios() {
        let s = load(&name);
        let outcome = sim::run(&s.sim, s.seed, false);
        let nodes = u64::from(s.sim.cluster.node_count());
        let timers = outcome.stats.max_timers_queued;
        assert!(timers <= 20 * nodes, "{name}: {timers} timers queued for {nodes} nodes");
    }
}

#[test]
fn running_out_of_events_is_reported_not_hung() {
    let mut s = load("bench-replication");
    s.sim.limits.max_events = 10_000;
    let outcome = sim::run(&s.sim, s.seed, false);
    assert!(outcome.stats.hit_event_limit);
    assert_eq!(outcome.stats.events, 10_000);
    assert!(outcome.stats.simulated_time_us < s.sim.limits.end.as_us());
}

#[test]
fn a_run_ends_at_its_simulated_end_time() {
    let s = load("acks1-leader-crash");
    let outcome = sim::run(&s.sim, s.seed, false);
    assert!(!outcome.stats.hit_event_limit);
    let liveness = s.sim.liveness_us.unwrap_or(0);
    assert_eq!(
        outcome.stats.simulated_time_us,
        s.sim.limits.end.as_us() + liveness,
        "the duration, then the liveness phase"
    );
}
