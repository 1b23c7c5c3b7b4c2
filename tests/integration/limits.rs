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

/// How many history events of each client: sends invoked and produce attempts failed per producer; polls and
/// commits per consumer.
fn client_counts(h: &insync::history::History) -> (Vec<u64>, Vec<u64>) {
    use insync::history::ClientEvent;
    let mut producers = vec![0; h.producers.len()];
    let mut consumers = vec![0; h.consumers.len()];
    for e in &h.entries {
        match e.event {
            ClientEvent::SendInvoked { producer, .. } | ClientEvent::ProduceAttemptFailed { producer, .. } => {
                producers[producer as usize] += 1
            }
            ClientEvent::Polled { consumer, .. } | ClientEvent::Committed { consumer, .. } => {
                consumers[consumer as usize] += 1
            }
            _ => {}
        }
    }
    (producers, consumers)
}

// No request storms (KIP-580's exponential retry backoff, KIP-144's reconnect backoff, Fetcher's reset that
// waits for metadata): a producer sends at most one request per send or failed attempt (a request carries at
// least one record; a retry is a new request), a forward's acknowledgement per send, and beyond that only
// metadata refreshes and reconnection attempts, which back off to at most a few a second per broker. A consumer
// sends a fetch per poll it returns records from, a commit per commit, a response-driven re-fetch per partition,
// and otherwise heartbeats, long-polled fetches (every fetch.max.wait.ms, 500 ms) and backed-off metadata. The
// storms this bounds ran at ~700 requests a second per client.
#[test]
fn no_bundled_scenario_has_a_request_storm() {
    for name in bundled_scenarios() {
        let s = load(&name);
        let outcome = sim::run(&s.sim, s.seed, false);
        let seconds = outcome.stats.simulated_time_us.div_ceil(1_000_000);
        let spec = &s.sim.cluster;
        let sent = &outcome.stats.messages_sent_by_node;
        let (producer_events, consumer_events) = client_counts(&outcome.history);
        for (i, &events) in producer_events.iter().enumerate() {
            let node = spec.producer_node(insync::kafka::ids::ClientId(i as u32)).0 as usize;
            let budget = 2 * events + 10 * spec.broker_count as u64 * seconds;
            assert!(sent[node] <= budget, "{name}: producer {i} sent {} messages, budget {budget}", sent[node]);
        }
        for (c, &events) in consumer_events.iter().enumerate() {
            let node = spec.consumer_node(c as u32).0 as usize;
            let topics = &spec.consumers[c].topics;
            let partitions = spec.partitions.iter().filter(|p| topics.contains(&p.topic)).count() as u64;
            let budget = 3 * events + (10 + 4 * partitions) * seconds;
            assert!(sent[node] <= budget, "{name}: consumer {c} sent {} messages, budget {budget}", sent[node]);
        }
    }
}
