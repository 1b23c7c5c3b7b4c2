//! Sharper expectations: `happened` in a scope (a partition, a topic, an error name), timing bounds
//! (`[[expect.within]]`) and exact contents (`[[expect.log]]`, `[[expect.processed]]`).

use crate::support::load;
use insync::check::verdict::{self, ExpectationResult};
use insync::scenario::load_str;
use insync::scenario::{LoadError, Scenario};
use insync::sim::{self, Outcome};

/// The bundled scenario `name` with its `[expect]` replaced by `expect`.
fn with_expect(name: &str, expect: &str) -> Scenario {
    let text = std::fs::read_to_string(crate::support::scenario_path(name)).expect("scenario");
    let cut = text.find("[expect]").expect("has [expect]");
    load_str(&format!("{name}.toml"), &format!("{}[expect]\nliveness = \"0s\"\n{expect}", &text[..cut]))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn judged(s: &Scenario) -> (Outcome, Vec<ExpectationResult>) {
    let outcome = sim::run(&s.sim, s.seed, false);
    let v = verdict::judge(&s.expect, &outcome.evidence());
    (outcome, v.results)
}

fn result<'a>(results: &'a [ExpectationResult], name: &str) -> &'a ExpectationResult {
    results.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no result {name}: {results:?}"))
}

fn count(r: &ExpectationResult) -> u64 {
    r.detail.trim_end_matches(" times").parse().expect("a count")
}

// An error scope counts the occurrences with that error. With two of three brokers down and min.insync.replicas
// 2, produce attempts fail with NOT_ENOUGH_REPLICAS (Partition.appendRecordsToLeader); the error is retriable,
// so the producer retries until delivery.timeout.ms and the sends fail with a timeout, never with it.
#[test]
fn an_error_scope_counts_only_that_error() {
    let s = with_expect(
        "acks-all-min2-two-down",
        "happened = [\"send-failed\", \"send-failed:REQUEST_TIMED_OUT\", \"send-failed:NOT_ENOUGH_REPLICAS\", \
         \"produce-retry:NOT_ENOUGH_REPLICAS\"]\n",
    );
    let (outcome, results) = judged(&s);
    let all = count(result(&results, "send-failed"));
    let timed_out = count(result(&results, "send-failed:REQUEST_TIMED_OUT"));
    assert!(all > 0);
    assert_eq!(timed_out, all, "a retriable error ends in a timeout");
    assert_eq!(count(result(&results, "send-failed:NOT_ENOUGH_REPLICAS")), 0);
    let retries = count(result(&results, "produce-retry:NOT_ENOUGH_REPLICAS"));
    assert!(retries > 0);
    assert_eq!(retries, outcome.stats.produce_errors["NOT_ENOUGH_REPLICAS"]);
}

// A partition or topic scope counts that partition's events; unscoped counts leave `__consumer_offsets` out
// unless it is named, and the two together are every election the run counted.
#[test]
fn partition_and_topic_scopes_split_the_counts() {
    let s = with_expect(
        "acks-all-min2-two-down",
        "happened = [\"leader-election\", \"leader-election:payments\", \"leader-election:payments-0\", \
         \"leader-election:payments-1\", \"leader-election:payments-2\", \"leader-election:__consumer_offsets\"]\n",
    );
    let (outcome, results) = judged(&s);
    let unscoped = count(result(&results, "leader-election"));
    let topic = count(result(&results, "leader-election:payments"));
    let parts: u64 = (0..3).map(|p| count(result(&results, &format!("leader-election:payments-{p}")))).sum();
    let offsets = count(result(&results, "leader-election:__consumer_offsets"));
    assert_eq!(unscoped, topic);
    assert_eq!(topic, parts);
    assert!(offsets > 0, "the offsets partitions moved with the crashes too");
    assert_eq!(unscoped + offsets, outcome.stats.leader_elections);
}

// replica.socket.timeout.ms (30 s): after the partition is repaired, a follower's lost fetch still has to time
// out before it fetches again, so the ISR is whole again after more than 30 s, not within 10 s.
#[test]
fn within_bounds_time_a_condition_after_a_fault() {
    let s = with_expect(
        "leader-cut-off-from-followers",
        "[[expect.within]]\nafter_fault = 1\ncondition = \"isr of events-0 has size 3\"\nwithin = \"45s\"\n\n\
         [[expect.within]]\nafter_fault = 1\ncondition = \"isr of events-0 has size 3\"\nwithin = \"10s\"\n\n\
         [[expect.within]]\nafter_fault = 0\ncondition = \"isr of events-0 has size 1\"\nwithin = \"20s\"\n",
    );
    let (_, results) = judged(&s);
    let within: Vec<&ExpectationResult> = results.iter().filter(|r| r.kind == "within").collect();
    assert_eq!(within.len(), 3);
    assert!(within[0].met, "{:?}", within[0]);
    assert!(within[0].name == "isr of events-0 has size 3 within 45.000s after faults[1]", "{}", within[0].name);
    assert!(!within[1].met && within[1].detail.starts_with("did not hold by"), "{:?}", within[1]);
    // The shrink after the cut: replica.lag.time.max.ms (10 s) plus up to one check period (5 s).
    assert!(within[2].met, "{:?}", within[2]);
}

const SMALL: &str = r#"
duration = "10s"

[[topics]]
name = "orders"
partitions = 1

[[producers]]
name = "p"
topic = "orders"
rate = 1
count = 3

[[consumers]]
name = "c"
group.id = "g"
topics = ["orders"]
auto.offset.reset = "earliest"
"#;

// A final log and a group's processing, record by record: three sends in order, read once each.
#[test]
fn exact_contents_compare_record_by_record() {
    let expect = "[expect]\nliveness = \"0s\"\n\
                  [[expect.log]]\npartition = \"orders-0\"\nrecords = [\"p#0\", \"p#1\", \"p#2\"]\n\
                  [[expect.processed]]\ngroup.id = \"g\"\npartition = \"orders-0\"\nrecords = [\"p#0\", \"p#1\", \"p#2\"]\n\
                  [[expect.log]]\npartition = \"orders-0\"\nrecords = [\"p#0\", \"p#2\", \"p#1\"]\n";
    let s = load_str("small.toml", &format!("{SMALL}{expect}")).unwrap_or_else(|e| panic!("{e}"));
    let (_, results) = judged(&s);
    let contents: Vec<&ExpectationResult> = results.iter().filter(|r| r.kind == "contents").collect();
    // The logs first, then what groups processed.
    assert_eq!(contents.len(), 3);
    assert!(contents[0].met && contents[2].met, "{contents:?}");
    assert_eq!(contents[2].name, "group g processed orders-0");
    assert!(!contents[1].met);
    let witness = &contents[1].witnesses[0].text;
    assert!(
        witness.starts_with("at position 1: expected p send #2") && witness.contains("found p send #1"),
        "{witness}"
    );
}

fn load_err(text: &str) -> LoadError {
    match load_str("bad.toml", text) {
        Ok(_) => panic!("loaded but should not have:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn scopes_and_contents_are_validated() {
    let base = load("acks-all-min2-two-down");
    assert!(!base.expect.happened.is_empty());
    let e = load_err(&format!("{SMALL}[expect]\nhappened = [\"isr-shrink:nope-0\"]\n"));
    assert_eq!(e.field, "expect.happened[0]", "{e}");
    assert!(e.expected.contains("a partition (\"orders-0\") or topic"), "{e}");
    let e = load_err(&format!("{SMALL}[expect]\nhappened = [\"send-failed:NOT_AN_ERROR\"]\n"));
    assert!(e.expected.contains("a Kafka error name"), "{e}");
    let e = load_err(&format!("{SMALL}[expect]\nhappened = [\"rebalance:orders-0\"]\n"));
    assert!(e.expected.contains("without a scope"), "{e}");
    let e = load_err(&format!("{SMALL}[expect]\n[[expect.log]]\npartition = \"orders-0\"\nrecords = [\"q#0\"]\n"));
    assert_eq!(e.field, "expect.log[0].records[0]", "{e}");
    let e = load_err(&format!(
        "{SMALL}[expect]\n[[expect.within]]\nafter_fault = 0\ncondition = \"controller changed\"\nwithin = \"1s\"\n"
    ));
    assert_eq!(e.field, "expect.within[0].after_fault", "{e}");
    let e = load_err(&format!(
        "{SMALL}[expect]\n[[expect.within]]\ncondition = \"isr of orders-0 grew\"\nwithin = \"1s\"\n"
    ));
    assert_eq!(e.field, "expect.within[0].condition", "{e}");
}

/// The offsets of `partition` the group processed after `after_us`, in order, and the position resets then.
fn after_seek(outcome: &Outcome, partition: u32, after_us: u64) -> (Vec<u64>, Vec<(u64, u64)>) {
    use insync::history::ClientEvent;
    let mut processed = Vec::new();
    let mut resets = Vec::new();
    for e in outcome.history.entries.iter().filter(|e| e.time_us >= after_us) {
        match e.event {
            ClientEvent::Processed { partition: p, offset, .. } if p == partition => processed.push(offset),
            ClientEvent::PositionReset { partition: p, offset, .. } if p == partition => {
                resets.push((e.time_us, offset))
            }
            _ => {}
        }
    }
    (processed, resets)
}

// KafkaConsumer.seekToBeginning: the position waits for a ListOffsets (EARLIEST_TIMESTAMP) and the next records
// come from the log start; seek(offset) moves there at once. Records fetched beyond are dropped either way.
#[test]
fn a_seek_moves_the_consumers_position() {
    let s = load("seek-to-beginning-reprocesses");
    let outcome = sim::run(&s.sim, s.seed, false);
    // The batch in the application's hands when it seeks is still processed; what comes after the reset
    // starts at the log start.
    let (_, resets) = after_seek(&outcome, 0, 20_000_000);
    assert_eq!(resets.first().map(|r| r.1), Some(0), "reset to the log start: {resets:?}");
    assert!(resets[0].0 > 20_000_000, "after a ListOffsets round trip");
    let (processed, _) = after_seek(&outcome, 0, resets[0].0);
    assert_eq!(processed.first(), Some(&0));
    assert!(processed.windows(2).all(|w| w[1] == w[0] + 1), "then in order, without gaps");

    let text = std::fs::read_to_string(crate::support::scenario_path("seek-to-beginning-reprocesses")).expect("read");
    let to_offset = text.replace("to = \"earliest\"", "to = 500");
    let s = load_str("seek-500.toml", &to_offset).unwrap_or_else(|e| panic!("{e}"));
    let outcome = sim::run(&s.sim, s.seed, false);
    let (_, resets) = after_seek(&outcome, 0, 20_000_000);
    assert_eq!(resets.first(), Some(&(20_000_000, 500)), "seek(offset) is immediate");
    let (processed, _) = after_seek(&outcome, 0, 20_000_001);
    let first_batch_after = processed.iter().position(|&o| o == 500).expect("500 is processed after the seek");
    assert!(processed[..first_batch_after].iter().all(|&o| o > 500), "only the batch in hand came before it");
    let e = load_err(&text.replace("partition = \"invoices-0\"\n", ""));
    assert_eq!(e.field, "faults[0].partition", "{e}");
    let e = load_err(&text.replace("partition = \"invoices-0\"", "partition = \"invoices-9\""));
    assert!(e.expected.contains("a partition such as"), "{e}");
}

// Pattern C: each event is one send per listed topic, in the list's order and with the same key; the count of
// events bounds both.
#[test]
fn a_producer_with_several_topics_sends_each_event_to_each() {
    use insync::history::ClientEvent;
    let s = load("topic-per-consumer");
    let outcome = sim::run(&s.sim, s.seed, false);
    let h = &outcome.history;
    let topic_of = |p: u32| h.partitions[p as usize].rsplit_once('-').map(|(t, _)| t.to_string()).unwrap_or_default();
    let sends: Vec<(u64, Option<u32>, String)> = h
        .entries
        .iter()
        .filter_map(|e| match e.event {
            ClientEvent::SendInvoked { send_seq, key, partition, .. } => Some((send_seq, key, topic_of(partition))),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len() % 2, 0);
    for pair in sends.chunks(2) {
        assert_eq!(pair[0].0 + 1, pair[1].0, "consecutive send numbers: {pair:?}");
        assert_eq!(pair[0].1, pair[1].1, "the same key: {pair:?}");
        assert_eq!((pair[0].2.as_str(), pair[1].2.as_str()), ("billing-orders", "shipping-orders"));
    }
    let text = std::fs::read_to_string(crate::support::scenario_path("topic-per-consumer")).expect("read");
    let both = text.replace(
        "topics = [\"billing-orders\", \"shipping-orders\"]",
        "topic = \"billing-orders\"\ntopics = [\"shipping-orders\"]",
    );
    assert!(load_err(&both).expected.contains("either `topic` or `topics`"));
    let twice = text.replace(
        "topics = [\"billing-orders\", \"shipping-orders\"]",
        "topics = [\"billing-orders\", \"billing-orders\"]",
    );
    let e = load_err(&twice);
    assert_eq!(e.field, "producers[0].topics[1]", "{e}");
    let unknown =
        text.replace("topics = [\"billing-orders\", \"shipping-orders\"]", "topics = [\"billing-orders\", \"nope\"]");
    assert!(load_err(&unknown).expected.contains("one of the topics"));
}

// Pattern D: the router writes each input to the topic its type is routed to; the types follow the declared
// mix (3:2:1 over 7800 events, within 5 standard deviations of each binomial share).
#[test]
fn a_router_writes_each_record_to_its_types_topic() {
    use insync::history::ClientEvent;
    use insync::kafka::ids::ClientId;
    let s = load("event-router");
    let outcome = sim::run(&s.sim, s.seed, false);
    let h = &outcome.history;
    let spec = &s.sim.cluster;
    let mut partition_of = std::collections::BTreeMap::new();
    for e in &h.entries {
        if let ClientEvent::SendInvoked { producer, send_seq, partition, .. } = e.event {
            partition_of.insert((producer, send_seq), partition);
        }
    }
    let expected_topic = ["order-placed", "order-shipped", "order-cancelled"];
    let mut routed = 0;
    for e in &h.entries {
        if let ClientEvent::Derived { producer, send_seq, from_producer, from_send_seq } = e.event {
            let kind = spec.type_of(ClientId(from_producer), from_send_seq).expect("typed input");
            let p = partition_of[&(producer, send_seq)];
            assert!(h.partitions[p as usize].starts_with(&format!("{}-", expected_topic[kind])), "{kind} in {p}");
            routed += 1;
        }
    }
    assert!(routed >= 7800, "every event routed at least once: {routed}");
    let counts: Vec<u64> =
        (0..3).map(|k| (0..7800).filter(|&n| spec.type_of(ClientId(0), n) == Some(k)).count() as u64).collect();
    for (k, share) in [(0, 3.0_f64 / 6.0), (1, 2.0 / 6.0), (2, 1.0 / 6.0)] {
        let (mean, sd) = (7800.0 * share, (7800.0 * share * (1.0 - share)).sqrt());
        assert!((counts[k] as f64 - mean).abs() < 5.0 * sd, "type {k}: {} of 7800", counts[k]);
    }
    let text = std::fs::read_to_string(crate::support::scenario_path("event-router")).expect("read");
    let missing = text.replace(", ORDER_CANCELLED = \"order-cancelled\" }", " }");
    let e = load_err(&missing);
    assert!(e.expected.contains("order-service writes ORDER_CANCELLED"), "{e}");
    let untyped = text.replace("types = { ORDER_PLACED = 3, ORDER_SHIPPED = 2, ORDER_CANCELLED = 1 }\n", "");
    assert!(load_err(&untyped).expected.contains("untyped"), "untyped input");
    let weight = text.replace("ORDER_PLACED = 3,", "ORDER_PLACED = 0,");
    assert_eq!(load_err(&weight).field, "producers[0].types.ORDER_PLACED");
}
