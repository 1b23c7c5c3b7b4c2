//! Every run has a bound, and timeouts that are almost always cancelled do not pile up in the event queue.

use crate::support::{bundled_scenarios, load};
use insync::sim;

// Request, fetch and produce timeouts live in the nodes as deadlines behind one wakeup each, armed at most a
// short horizon ahead: the queue holds a few dozen events per node plus one fetch in flight per follower
// replica, however long the run.
#[test]
fn the_event_queue_stays_small_in_every_bundled_scenario() {
    for name in bundled_scenarios() {
        let s = load(&name);
        let outcome = sim::run(&s.sim, s.seed, false);
        let nodes = u64::from(s.sim.cluster.node_count());
        let followers: u64 = s.sim.cluster.partitions.iter().map(|p| p.replicas.len() as u64 - 1).sum();
        let bound = 20 * nodes + followers;
        assert!(outcome.stats.max_queue_len <= bound, "{name}: {} events queued", outcome.stats.max_queue_len);
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
    assert_eq!(outcome.stats.simulated_time_us, s.sim.limits.end.as_us());
}
