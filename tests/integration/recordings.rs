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
    assert!(stderr.contains("v9.jsonl:1: history version 9: expected 1"), "{stderr}");
}
