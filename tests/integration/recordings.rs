//! `insync check` on histories recorded elsewhere: no final logs, so the checker infers what the partitions hold
//! from what clients saw (Jepsen's black-box inference); an empty recording proves nothing; an invariant's name
//! selects it alone.

use crate::support::{run, scenario_path, temp_file};
use std::path::Path;
use std::process::{Command, Output};

const HEADER: &str = r#"{"version":1,"partitions":["t-0"],"producers":["p"],"consumers":["c"],"groups":["g"]}"#;

fn check(history: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_insync")).arg("check").arg(history).args(args).output().expect("insync check")
}

/// A history file of `HEADER` and these event lines.
fn recording(name: &str, events: &[&str]) -> std::path::PathBuf {
    let path = temp_file("recordings", name);
    std::fs::write(&path, format!("{HEADER}\n{}\n", events.join("\n"))).expect("write history");
    path
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

// A leader that acknowledged records and lost them on an unclean election while its consumer had read them:
// with the final logs stripped, as a recorder of a real cluster would have it, the checker still finds the
// acknowledged writes consumers read past and never read, and says they were judged black-box.
#[test]
fn a_recording_without_final_logs_still_shows_lost_writes_consumers_read_past() {
    let (_, outcome) = run("consumer-truncation-undetected");
    let full = temp_file("recordings", "truncation-full.jsonl");
    let scenario = scenario_path("consumer-truncation-undetected");
    let ran = Command::new(env!("CARGO_BIN_EXE_insync")).arg("run").arg(&scenario).arg("--history").arg(&full).output();
    assert!(ran.expect("insync run").status.code().is_some());
    let written = std::fs::read_to_string(&full).expect("history");
    let kept: Vec<&str> =
        written.lines().filter(|l| !l.starts_with(r#"{"final_log""#) && !l.starts_with(r#"{"replica_log""#)).collect();
    let path = temp_file("recordings", "truncation.jsonl");
    std::fs::write(&path, kept.join("\n")).expect("write");
    let out = check(&path, &["--holds", "durability"]);
    let summary = text(&out);
    assert_eq!(out.status.code(), Some(1), "{summary}");
    assert!(summary.contains("inferred from what clients saw"), "{summary}");
    assert!(summary.contains("FAIL holds durability"), "{summary}");
    let white = insync::check::lost_write::check(&outcome.history, Some(&outcome.final_logs)).len();
    let black = insync::check::lost_write::check(&outcome.history, None).len();
    assert!(black > 0 && black <= white, "black-box {black}, with final logs {white}");
}

// kafka_test.clj `empty-history-test`: a history without sends is invalid. A producer-only recording proves
// nothing about reads either. --allow-empty accepts both.
#[test]
fn an_empty_recording_fails_a_holds_as_vacuous_unless_allowed() {
    let empty = recording(
        "empty.jsonl",
        &[r#"{"time_us":0,"type":"assigned","consumer":0,"group":0,"generation":1,"partitions":[0]}"#],
    );
    let out = check(&empty, &["--holds", "durability"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("vacuous: the history has no sends"), "{}", text(&out));
    assert_eq!(check(&empty, &["--holds", "durability", "--allow-empty"]).status.code(), Some(0));
    let writes = recording(
        "writes.jsonl",
        &[
            r#"{"time_us":0,"type":"send_invoked","producer":0,"send_seq":0,"key":1,"partition":0}"#,
            r#"{"time_us":5,"type":"send_acked","producer":0,"send_seq":0,"partition":0,"offset":0}"#,
        ],
    );
    let out = check(&writes, &["--holds", "reordered-write,key-order"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("FAIL holds key-order: vacuous: the history has no reads"), "{}", text(&out));
    assert!(text(&out).contains("ok   holds reordered-write"), "{}", text(&out));
}

// One producer's two sends of key 1 acknowledged out of order (send 1 at offset 0, send 0 at 1), read in log order.
// `key-order` (the group read the key in log order) holds; `reordered-write` and so the `ordering` guarantee do not
// (nor does `processing-order`: the application saw send 1 first).
#[test]
fn an_invariants_name_selects_it_alone() {
    let reordered = recording(
        "reordered.jsonl",
        &[
            r#"{"time_us":0,"type":"send_invoked","producer":0,"send_seq":0,"key":1,"partition":0}"#,
            r#"{"time_us":1,"type":"send_invoked","producer":0,"send_seq":1,"key":1,"partition":0}"#,
            r#"{"time_us":5,"type":"send_acked","producer":0,"send_seq":1,"partition":0,"offset":0}"#,
            r#"{"time_us":6,"type":"send_acked","producer":0,"send_seq":0,"partition":0,"offset":1}"#,
            r#"{"time_us":7,"type":"assigned","consumer":0,"group":0,"generation":1,"partitions":[0]}"#,
            r#"{"time_us":8,"type":"polled","consumer":0,"group":0,"generation":1,"partition":0,"first_offset":0,"count":2}"#,
            r#"{"time_us":9,"type":"processed","consumer":0,"group":0,"generation":1,"partition":0,"offset":0,"producer":0,"send_seq":1}"#,
            r#"{"time_us":10,"type":"processed","consumer":0,"group":0,"generation":1,"partition":0,"offset":1,"producer":0,"send_seq":0}"#,
        ],
    );
    assert_eq!(check(&reordered, &["--holds", "key-order"]).status.code(), Some(0));
    let out = check(&reordered, &["--holds", "ordering"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("reordered-write: p send #1 (key 1) at t-0@0"), "{}", text(&out));
    // Without --holds: each violated invariant's first witnesses, and a JUnit case per invariant.
    let junit = temp_file("recordings", "reordered.xml");
    let out = check(&reordered, &["--junit", junit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out).contains("  reordered-write        1 violations\n         reordered-write: p send #1"),
        "{}",
        text(&out)
    );
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert_eq!(xml.matches("<testcase ").count(), insync::check::INVARIANTS.len() - 1, "{xml}");
    assert!(xml.contains(r#"name="invariant reordered-write""#) && xml.matches("<failure ").count() == 2, "{xml}");
}

// A history format this insync does not know is refused, not misread: exit 2 naming the file, line and version.
#[test]
fn an_unknown_history_version_is_bad_input() {
    let path = temp_file("recordings", "v9.jsonl");
    std::fs::write(&path, HEADER.replace(r#""version":1"#, r#""version":9"#)).expect("write");
    let out = check(&path, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("v9.jsonl:1: history version 9: expected 1 to 2"), "{stderr}");
}

/// `recording` under a version 2 header.
fn recording_v2(name: &str, events: &[&str]) -> std::path::PathBuf {
    let path = temp_file("recordings", name);
    let header = HEADER.replace(r#""version":1"#, r#""version":2"#);
    std::fs::write(&path, format!("{header}\n{}\n", events.join("\n"))).expect("write history");
    path
}

const SENT: &str = r#"{"time_us":0,"type":"send_invoked","producer":0,"send_seq":0,"key":null,"partition":0}"#;
const READ: &str = r#"{"time_us":9,"type":"processed","consumer":0,"group":0,"generation":1,"partition":0,"offset":0,"producer":0,"send_seq":0}"#;

// kafka.clj `g1a-cases`: a value whose write failed (:fail) read by a poll is an aborted read; one whose outcome
// is unknown (:info) may well be in the log. Version 1 failures carry no outcome: they read as indeterminate.
#[test]
fn a_definite_failure_read_by_a_consumer_is_an_aborted_read_and_an_indeterminate_one_is_not() {
    let failed = |definite: &str| {
        format!(
            r#"{{"time_us":5,"type":"send_failed","producer":0,"send_seq":0,"partition":0,"error":"NOT_ENOUGH_REPLICAS"{definite}}}"#
        )
    };
    let definite = recording_v2("fail.jsonl", &[SENT, &failed(r#","definite":true"#), READ]);
    let out = check(&definite, &["--holds", "aborted-read"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("failed with NOT_ENOUGH_REPLICAS, not appended, yet consumer c processed it"),
        "{}",
        text(&out)
    );
    let info = recording_v2("info.jsonl", &[SENT, &failed(r#","definite":false"#), READ]);
    assert_eq!(check(&info, &["--holds", "aborted-read"]).status.code(), Some(0));
    let v1 = recording("fail-v1.jsonl", &[SENT, &failed(""), READ]);
    assert_eq!(check(&v1, &["--holds", "aborted-read"]).status.code(), Some(0), "{}", text(&check(&v1, &[])));
}

// An :info send nobody ever saw may or may not be in the log: no invariant may count it lost, undelivered or
// anything else. The acknowledged record next to it is read, so the history is not vacuous.
#[test]
fn an_indeterminate_send_never_seen_reports_nothing() {
    let events = [
        SENT,
        r#"{"time_us":1,"type":"send_invoked","producer":0,"send_seq":1,"key":null,"partition":0}"#,
        r#"{"time_us":4,"type":"send_acked","producer":0,"send_seq":0,"partition":0,"offset":0}"#,
        r#"{"time_us":5,"type":"send_failed","producer":0,"send_seq":1,"partition":0,"error":"REQUEST_TIMED_OUT","definite":false}"#,
        r#"{"time_us":6,"type":"subscribed","consumer":0,"group":0,"topics":["t"]}"#,
        r#"{"time_us":7,"type":"poll_invoked","consumer":0,"group":0}"#,
        r#"{"time_us":8,"type":"polled","consumer":0,"group":0,"generation":1,"partition":0,"first_offset":0,"count":1}"#,
        READ,
    ];
    let path = recording_v2("info-unseen.jsonl", &events);
    let out = check(&path, &["--json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let violations = json["verdict"]["violations"].as_object().expect("violations");
    let found: Vec<_> = violations.iter().filter(|(_, n)| n.as_u64().is_some_and(|n| n > 0)).collect();
    assert!(found.is_empty(), "{found:?}");
    assert!(violations.contains_key("aborted-read") && violations.contains_key("lost-write"), "{violations:?}");
}

/// The history `insync run --history` writes for a bundled story, as lines.
fn story_history(name: &str) -> Vec<String> {
    let path = temp_file("recordings", &format!("{name}-v2.jsonl"));
    let ran = Command::new(env!("CARGO_BIN_EXE_insync"))
        .arg("run")
        .arg(scenario_path(name))
        .arg("--history")
        .arg(&path)
        .output()
        .expect("insync run");
    assert!(ran.status.code().is_some());
    std::fs::read_to_string(&path).expect("history").lines().map(String::from).collect()
}

/// A version 2 history as a version 1 recorder would have written it: none of the events version 2 added, no
/// send outcome.
fn as_version_1(lines: &[String]) -> String {
    let added = ["poll_invoked", "subscribed", "seeked", "consumer_crashed", "offsets_reset"];
    let mut out = String::new();
    for line in lines {
        let mut value: serde_json::Value = serde_json::from_str(line).expect("json line");
        if value.get("type").and_then(|t| t.as_str()).is_some_and(|t| added.contains(&t)) {
            continue;
        }
        let object = value.as_object_mut().expect("object");
        object.remove("definite");
        if object.contains_key("version") {
            object.insert("version".into(), 1.into());
        }
        out.push_str(&value.to_string());
        out.push('\n');
    }
    out
}

// A version 1 history still checks as it did: its failures are indeterminate and it lacks the new events. On
// stories whose definite failures nobody read (failed-sends-that-were-written: 2,991 sends expired unsent, 10
// timed out and written) and whose consumers crashed and subscribed (auto-commit-crash), the version 1 form and
// the full version 2 history give the same verdict, with final logs and without.
#[test]
fn a_version_1_history_checks_identically() {
    for story in ["failed-sends-that-were-written", "auto-commit-crash"] {
        let lines = story_history(story);
        assert!(lines[0].contains(r#""version":2"#), "{}", lines[0]);
        let v2 = temp_file("recordings", &format!("{story}-full.jsonl"));
        std::fs::write(&v2, lines.join("\n")).expect("write");
        let v1 = temp_file("recordings", &format!("{story}-v1.jsonl"));
        std::fs::write(&v1, as_version_1(&lines)).expect("write");
        let stripped: Vec<String> = lines.iter().filter(|l| !l.starts_with(r#"{"final_log""#)).cloned().collect();
        let v2_black = temp_file("recordings", &format!("{story}-black.jsonl"));
        std::fs::write(&v2_black, stripped.join("\n")).expect("write");
        let v1_black = temp_file("recordings", &format!("{story}-v1-black.jsonl"));
        std::fs::write(&v1_black, as_version_1(&stripped)).expect("write");
        for (new, old) in [(&v2, &v1), (&v2_black, &v1_black)] {
            let (new, old) = (check(new, &["--json"]), check(old, &["--json"]));
            assert_eq!(new.status.code(), old.status.code(), "{story}");
            assert_eq!(text(&new), text(&old), "{story}");
        }
    }
}

// The README shows the example recorder whole: it must be the committed file, not a copy that drifted.
#[test]
fn the_readmes_example_recorder_is_the_committed_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let script = std::fs::read_to_string(root.join("recorders/confluent_kafka_recorder.py")).expect("recorder");
    let shown = readme.split("```python\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a python block");
    assert_eq!(shown, script);
    for kind in ["send_invoked", "send_acked", "send_failed", "subscribed", "poll_invoked", "polled", "processed"] {
        assert!(script.contains(&format!("emit(\"{kind}\"")), "the recorder writes {kind}");
    }
}

/// The first poll, in `lines`, of a partition newly assigned at a rebalance that starts at the group's last
/// successful commit, above 0: its index and that offset.
fn first_poll_at_a_commit(lines: &[String]) -> Option<(usize, u64)> {
    let events: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).expect("json line")).collect();
    let mut commits = std::collections::BTreeMap::new();
    let mut fresh = std::collections::BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        let field = |name: &str| e.get(name).and_then(serde_json::Value::as_u64);
        match e.get("type").and_then(|t| t.as_str()) {
            Some("committed") if e["error"].is_null() => _ = commits.insert(field("partition"), field("offset")),
            Some("assigned") if field("generation") > Some(1) => {
                for p in e["partitions"].as_array().expect("partitions") {
                    _ = fresh.insert((field("consumer"), p.as_u64()), commits.get(&p.as_u64()).copied().flatten());
                }
            }
            Some("polled") => {
                let at = fresh.remove(&(field("consumer"), field("partition"))).flatten();
                if at.is_some_and(|c| c > 0 && field("first_offset") == Some(c)) {
                    return at.map(|c| (i, c));
                }
            }
            _ => {}
        }
    }
    None
}

// An eager rebalance hands partitions over (ConsumerCoordinator.onJoinPrepare revokes all): each new owner starts at
// the group's committed offset. The recorded history holds; with one new owner's first poll moved a record below
// the commit it is a nonmonotonic poll, black-box as with final logs.
#[test]
fn a_new_owner_starting_below_the_groups_last_commit_is_a_nonmonotonic_poll() {
    let lines = story_history("eager-rebalance");
    let holds = |name: &str, lines: &[String]| {
        let path = temp_file("recordings", name);
        std::fs::write(&path, lines.join("\n")).expect("write");
        check(&path, &["--holds", "nonmonotonic-poll"])
    };
    let recorded = holds("eager-recorded.jsonl", &lines);
    assert_eq!(recorded.status.code(), Some(0), "{}", text(&recorded));
    let (i, commit) = first_poll_at_a_commit(&lines).expect("a partition handed over at a commit");
    let mut moved = lines.clone();
    let mut poll: serde_json::Value = serde_json::from_str(&moved[i]).expect("json");
    poll["first_offset"] = (commit - 1).into();
    poll["count"] = (poll["count"].as_u64().expect("count") + 1).into();
    moved[i] = poll.to_string();
    let out = holds("eager-moved.jsonl", &moved);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let expected = format!("after it was assigned, below its group's last committed offset {commit}");
    assert!(text(&out).contains(&expected), "{}", text(&out));
    let black: Vec<String> = moved.into_iter().filter(|l| !l.starts_with(r#"{"final_log""#)).collect();
    assert_eq!(holds("eager-moved-black.jsonl", &black).status.code(), Some(1));
}
