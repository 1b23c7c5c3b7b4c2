//! `--set KEY=VALUE` from the command line: the override changes what Kafka would do (both sides of one story),
//! the reproduce line carries it and replays the same run, and a bad one is refused as the file's would be.

use std::process::{Command, Output};

fn insync(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_insync")).args(args).output().expect("the insync binary runs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("run --json prints one JSON object")
}

const STORY: &str = "scenarios/acks1-leader-crash.toml";

// acks=1 loses the writes its cut-off leader acknowledged (ProducerConfig `acks`); the same faults with acks=all
// and min.insync.replicas=2 lose none: an acks=all write is acknowledged only once every ISR member has it, and
// the ISR cannot shrink below two (Partition.checkEnoughReplicasReachOffset), so the new leader has it too.
#[test]
fn acks_all_set_on_the_command_line_keeps_what_acks_1_loses() {
    let unsafe_run = json(&insync(&["run", STORY, "--json"]));
    assert!(unsafe_run["lost_writes"]["count"].as_u64().unwrap_or(0) > 0, "acks=1 loses writes in this story");
    let sets = ["--set", "producers.acks=all", "--set", "topics.min.insync.replicas=2"];
    let safe = insync(&[&["run", STORY, "--json"][..], &sets[..]].concat());
    let safe_run = json(&safe);
    assert_eq!(safe_run["lost_writes"]["count"], 0, "acks=all, min.insync.replicas=2 loses nothing");
    assert_eq!(safe_run["overrides"], serde_json::json!(["producers.acks=all", "topics.min.insync.replicas=2"]));
    let reproduce = safe_run["reproduce"].as_str().expect("a reproduce line").to_string();
    assert!(reproduce.ends_with("--set producers.acks=all --set topics.min.insync.replicas=2"), "{reproduce}");
    let words: Vec<&str> = reproduce.split(' ').skip(1).chain(["--json"]).collect();
    let replayed = json(&insync(&words));
    assert_eq!(replayed["trace_digest"], safe_run["trace_digest"], "the reproduce line replays the same run");
    assert_ne!(safe_run["trace_digest"], unsafe_run["trace_digest"]);
}

#[test]
fn a_bad_override_is_refused_with_the_files_message_at_the_override() {
    let out = insync(&["run", STORY, "--set", "duration=30s", "--set", "producers.acks=al"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().next(),
        Some(r#"error: --set:2:16: field `producers[0].acks`: expected one of "all", "-1", "0", "1", found "al""#)
    );
    let out = insync(&["validate", STORY, "--set", "cluster.brokerz=5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `brokers`?"));
    let out = insync(&["run", STORY, "--set", "nothing"]);
    assert_eq!(out.status.code(), Some(2), "KEY=VALUE is required");
    let emitted = crate::support::temp_file("overrides", "emitted.toml");
    let emitted = emitted.to_str().expect("a UTF-8 temp path");
    let out = insync(&["run", STORY, "--set", "seed=3", "--emit-scenario", emitted]);
    assert_eq!(out.status.code(), Some(2), "an emitted scenario could not carry the override");
}

// explore --set: the story expects durability to be violated; with acks=all and min.insync.replicas=2 it is not,
// so every seed fails that expectation, and each failing seed's reproduce line carries the overrides. A shard
// swept with other overrides is not merged with it.
#[test]
fn explore_with_overrides_judges_the_overridden_scenario_and_merge_keeps_sweeps_apart() {
    let (with_sets, without) = (
        crate::support::temp_file("overrides", "explore-set.jsonl"),
        crate::support::temp_file("overrides", "explore-plain.jsonl"),
    );
    let sets = ["--set", "producers.acks=all", "--set", "topics.min.insync.replicas=2"];
    let base = ["explore", STORY, "--seeds", "0..2", "--quiet", "--out"];
    let out = insync(&[&base[..], &[with_sets.to_str().expect("UTF-8")], &sets[..]].concat());
    assert_eq!(out.status.code(), Some(1), "durability holds, so `violated durability` fails at every seed");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("violated durability: 2 seeds"), "{printed}");
    assert!(printed.contains("--set producers.acks=all --set topics.min.insync.replicas=2"), "{printed}");
    let plain = insync(&[&base[..], &[without.to_str().expect("UTF-8")]].concat());
    assert_eq!(plain.status.code(), Some(0), "as written, the story's expectations hold at both seeds");
    let merged = insync(&["merge", with_sets.to_str().expect("UTF-8"), without.to_str().expect("UTF-8")]);
    assert_eq!(merged.status.code(), Some(2), "{}", String::from_utf8_lossy(&merged.stderr));
}
