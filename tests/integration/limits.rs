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

// The reference workload retains about 300 bytes per record (history, logs): with a 16 MiB budget it stops
// within a few simulated seconds, says so, and holds no more than its budget; the same run cut to one second
// fits and runs to its end.
#[test]
fn a_run_past_its_memory_budget_stops_early_and_says_so() {
    let mut s = load("bench-reference");
    s.sim.max_memory_bytes = 16 << 20;
    let outcome = sim::run(&s.sim, s.seed, false);
    assert!(outcome.stats.hit_memory_limit && !outcome.stats.hit_event_limit);
    assert!(outcome.stats.simulated_time_us < s.sim.limits.end.as_us());
    let history_bytes = outcome.history.entries.len() * std::mem::size_of::<insync::history::Entry>();
    assert!(history_bytes as u64 <= s.sim.max_memory_bytes, "{history_bytes} bytes of history");
    assert!(!outcome.history.entries.is_empty());
    let result = insync::sweep::run_seed(&s, s.seed);
    assert!(!result.met && result.failed.contains(&insync::sweep::MEMORY_LIMIT_FAILURE.to_string()));

    s.sim.limits.end = insync::engine::SimTime(1_000_000);
    s.sim.liveness_us = None;
    let outcome = sim::run(&s.sim, s.seed, false);
    assert!(!outcome.stats.hit_memory_limit);
    assert_eq!(outcome.stats.simulated_time_us, 1_000_000);
}

#[test]
fn the_cli_exits_3_with_the_partial_result_at_the_memory_budget() {
    let text = std::fs::read_to_string(crate::support::scenario_path("bench-reference")).expect("bundled");
    let text = text.replacen("duration = \"120s\"", "duration = \"120s\"\nmax_memory = 16777216", 1);
    let path = crate::support::temp_file("limits", "budget.toml");
    std::fs::write(&path, text).expect("temp file written");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_insync")).arg("run").arg(&path).output().expect("runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stdout.contains("stopped early:") && stdout.contains("max_memory = 16777216"), "{stdout}");
    assert!(stdout.contains("producers:"), "the partial result is printed: {stdout}");
    assert!(stderr.starts_with(&format!("error: {}: ", path.display())) && stderr.contains("max_memory"), "{stderr}");
}

// 9,901 clients (1 producer, 99 tables of 100 consumer instances) build and run: the network holds links
// between clients and servers, not one per pair of nodes (98 million pairs, gigabytes, here).
#[test]
fn ten_thousand_clients_run_without_a_link_per_pair_of_nodes() {
    let mut text = String::from("duration = \"2s\"\n[[topics]]\nname = \"t\"\npartitions = 3\n");
    text.push_str("[[producers]]\ntopic = \"t\"\nrate = 100\n");
    for i in 0..99 {
        text.push_str(&format!(
            "[[consumers]]\nname = \"c{i}\"\ninstances = 100\ngroup.id = \"g{i}\"\ntopics = [\"t\"]\n"
        ));
    }
    let s = insync::scenario::load_str("many.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.sim.cluster.consumers.len(), 9_900);
    let outcome = sim::run(&s.sim, s.seed, false);
    assert_eq!(outcome.stats.simulated_time_us, 2_000_000);
    assert!(outcome.stats.messages_sent > 9_900, "every consumer looked for its coordinator");
}
