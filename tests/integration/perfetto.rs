//! `run --perfetto`: the Trace Event Format as chrome://tracing and ui.perfetto.dev read it (a JSON object with
//! `traceEvents`; phases M, i, X, C; integer microsecond timestamps), a track per node, faults as global
//! instants, leadership spans that change hands when the controller elects a new leader, and requests in flight
//! as async spans that last as long as Kafka makes a client wait.

use std::process::Command;

#[test]
fn a_run_opens_as_a_trace_with_a_track_per_node_and_leadership_spans() {
    let file = crate::support::temp_file("perfetto", "acks1.trace.json");
    let out = Command::new(env!("CARGO_BIN_EXE_insync"))
        .args(["run", "scenarios/acks1-leader-crash.toml", "--perfetto"])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let trace: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).expect("written")).expect("JSON");
    let events = trace["traceEvents"].as_array().expect("a traceEvents array");
    for e in events {
        let phase = e["ph"].as_str().expect("ph");
        assert!(["M", "i", "X", "C", "b", "e"].contains(&phase), "{e}");
        assert!(e["pid"].is_u64() && (phase == "M" || e["ts"].is_u64()), "{e}");
        assert!(phase != "X" || e["dur"].is_u64(), "{e}");
        assert!(phase != "i" || ["g", "t"].contains(&e["s"].as_str().unwrap_or("")), "{e}");
    }
    let threads: Vec<&str> =
        events.iter().filter(|e| e["name"] == "thread_name").filter_map(|e| e["args"]["name"].as_str()).collect();
    for node in ["nemesis", "broker-1", "broker-2", "broker-3", "order-service"] {
        assert!(threads.contains(&node), "a track for {node}: {threads:?}");
    }
    let crash = events.iter().find(|e| e["name"] == "crash broker-1").expect("the crash, as an instant");
    assert_eq!((crash["s"].as_str(), crash["ts"].as_u64()), (Some("g"), Some(12_000_000)));
    let tid_of = |name: &str| events.iter().find(|e| e["args"]["name"] == name).map(|e| e["tid"].clone());
    let spans: Vec<&serde_json::Value> = events.iter().filter(|e| e["cat"] == "leadership").collect();
    assert_eq!(spans.len(), 2, "broker-1 led orders-0, then broker-2");
    assert_eq!((Some(spans[0]["tid"].clone()), spans[0]["ts"].as_u64()), (tid_of("broker-1"), Some(0)));
    let handover = spans[0]["ts"].as_u64().unwrap_or(0) + spans[0]["dur"].as_u64().unwrap_or(0);
    assert_eq!((Some(spans[1]["tid"].clone()), spans[1]["ts"].as_u64()), (tid_of("broker-2"), Some(handover)));
    // The controller fences the crashed leader after broker.session.timeout.ms (9 s, KIP-631) and only then
    // elects broker-2.
    assert!(handover >= 12_000_000 + 9_000_000, "elected at {handover} us");
    // The counters add up to every acknowledgement, and the first is the second the producer starts sending in
    // (a producer's `start` is 1 s by default).
    let counters: Vec<&serde_json::Value> = events.iter().filter(|e| e["ph"] == "C").collect();
    let acked: u64 = counters.iter().filter_map(|e| e["args"]["acked"].as_u64()).sum();
    let summary = Command::new(env!("CARGO_BIN_EXE_insync"))
        .args(["run", "scenarios/acks1-leader-crash.toml", "--json"])
        .output()
        .expect("runs");
    let summary: serde_json::Value = serde_json::from_slice(&summary.stdout).expect("JSON");
    assert_eq!(Some(acked), summary["stats"]["sends_acked"].as_u64());
    assert_eq!(counters.first().and_then(|e| e["ts"].as_u64()), Some(1_000_000));
}

/// `scenarios/acks1-leader-crash.toml`'s Perfetto trace, with `overrides`.
fn trace_of(overrides: &[&str]) -> Vec<serde_json::Value> {
    let file = crate::support::temp_file("perfetto", &format!("requests{}.json", overrides.len()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_insync"));
    command.args(["run", "scenarios/acks1-leader-crash.toml", "--perfetto"]).arg(&file);
    overrides.iter().for_each(|o| {
        command.args(["--set", o]);
    });
    let out = command.output().expect("runs");
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&out.stderr));
    let trace: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).expect("written")).expect("JSON");
    trace["traceEvents"].as_array().expect("traceEvents").clone()
}

/// The durations of the `name` requests sent before `before_us`, from their async begin and end events.
fn request_durations(events: &[serde_json::Value], name: &str, before_us: u64) -> Vec<u64> {
    let mut begun = std::collections::BTreeMap::new();
    let mut durations = Vec::new();
    for e in events.iter().filter(|e| e["cat"] == "request" && e["name"] == name) {
        let (id, ts) = (e["id"].as_u64().expect("an id"), e["ts"].as_u64().expect("ts"));
        match e["ph"].as_str() {
            Some("b") => assert!(begun.insert(id, ts).is_none(), "id {id} begun twice"),
            Some("e") => {
                let from = begun.remove(&id).expect("each end has its begin");
                assert!(ts >= from);
                if from < before_us {
                    durations.push(ts - from);
                }
            }
            _ => {}
        }
    }
    assert!(begun.is_empty(), "each begin has its end");
    durations.sort_unstable();
    durations
}

// ProducerConfig `acks`: with acks=1 the leader answers once it has appended; with acks=all it holds the
// request until the followers have fetched the batch and the high watermark passed it (DelayedProduce), so
// the same producer's requests, before any fault, stay in flight longer.
#[test]
fn produce_requests_are_in_flight_longer_with_acks_all_than_with_acks_1() {
    let one = request_durations(&trace_of(&[]), "Produce → broker-1", 10_000_000);
    let all = request_durations(&trace_of(&["producers.acks=all"]), "Produce → broker-1", 10_000_000);
    assert!(one.len() > 100 && all.len() > 100, "{} and {} requests", one.len(), all.len());
    let median = |d: &[u64]| d[d.len() / 2];
    assert!(median(&all) > median(&one), "acks=all {} us, acks=1 {} us", median(&all), median(&one));
    // A follower's fetch waits at the leader (replica.fetch.wait.max.ms, 500 ms) when there is nothing new:
    // with records arriving every millisecond it is answered far sooner.
    let fetches = request_durations(&trace_of(&[]), "Fetch → broker-1", 10_000_000);
    assert!(!fetches.is_empty() && median(&fetches) < 500_000, "{:?}", fetches.get(fetches.len() / 2));
}
