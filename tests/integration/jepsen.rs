//! `insync check --format jepsen` on the histories of Jepsen's own Kafka checker tests
//! (`jepsen/test/jepsen/tests/kafka_test.clj`), written as `history.edn` files under `tests/fixtures/jepsen/`: each
//! finds the anomaly the Jepsen test expects, at the key and offset it names, and nothing of it where the test
//! expects nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jepsen").join(name)
}

fn check(path: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_insync"));
    command.args(["check", "--format", "jepsen"]).arg(path).args(args);
    command.output().expect("insync check")
}

/// Each violated invariant's witnesses as `partition@offset`.
fn witnesses(name: &str) -> BTreeMap<String, Vec<String>> {
    let out = check(&fixture(name), &["--json", "--witnesses", "all"]);
    assert_eq!(out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let mut found = BTreeMap::new();
    for (invariant, list) in json["witnesses"].as_object().expect("witnesses") {
        let at = |w: &serde_json::Value| format!("{}@{}", w["partition"].as_str().unwrap_or("?"), w["offset"]);
        found.insert(invariant.clone(), list.as_array().expect("list").iter().map(at).collect());
    }
    found
}

fn of<'a>(found: &'a BTreeMap<String, Vec<String>>, invariant: &str) -> Vec<&'a str> {
    found.get(invariant).map(|l| l.iter().map(String::as_str).collect()).unwrap_or_default()
}

// g1a-test: a value whose send failed (:fail) is read: an aborted read, G1a.
#[test]
fn a_failed_write_read_is_an_aborted_read() {
    assert_eq!(of(&witnesses("g1a.edn"), "aborted-read"), ["x-0@0"]);
}

// lost-write-test: "consistent" (a at 0 and b at 1 never read, c read at 2), "inconsistent" (a acknowledged at 0
// where b was read), "atomic" (a crashed op's send of b to y at 0 counts once a read of its other send proves the
// op committed; c read at 1).
#[test]
fn acknowledged_writes_consumers_read_past_are_lost() {
    assert_eq!(of(&witnesses("lost-write-consistent.edn"), "lost-write"), ["x-0@0", "x-0@1"]);
    let inconsistent = witnesses("lost-write-inconsistent.edn");
    assert_eq!(of(&inconsistent, "lost-write"), ["x-0@0"]);
    assert_eq!(of(&inconsistent, "inconsistent-offsets"), ["x-0@0"]);
    assert_eq!(of(&witnesses("lost-write-atomic.edn"), "lost-write"), ["y-0@0"]);
    assert!(witnesses("lost-write-atomic-unproven.edn").is_empty(), "nothing proves the crashed op committed");
}

// poll-skip-test: process 0 reads 1 2, then 4 (3 was read by process 1), then 7 (6 acknowledged). A subscribe and
// an assign without :x in between forget its position; ones that keep :x do not.
#[test]
fn a_process_whose_polls_jump_over_known_records_skipped_them() {
    assert_eq!(of(&witnesses("poll-skip.edn"), "poll-skip"), ["x-0@3", "x-0@6"]);
    assert_eq!(of(&witnesses("poll-skip-sub-xy.edn"), "poll-skip"), ["x-0@3", "x-0@6"]);
    assert!(of(&witnesses("poll-skip-sub-y.edn"), "poll-skip").is_empty());
}

// nonmonotonic-poll-test: process 0 reads 1 2 3, then 2 3 4; allowed across a subscribe or an assign to :y alone.
#[test]
fn a_process_polling_back_is_nonmonotonic_unless_it_let_go_of_the_key() {
    for name in ["nonmonotonic-poll.edn", "nonmonotonic-poll-sub-xy.edn", "nonmonotonic-poll-assign-xy.edn"] {
        assert_eq!(of(&witnesses(name), "nonmonotonic-poll"), ["x-0@2"], "{name}");
    }
    for name in ["nonmonotonic-poll-sub-y.edn", "nonmonotonic-poll-assign-y.edn"] {
        assert!(of(&witnesses(name), "nonmonotonic-poll").is_empty(), "{name}");
    }
}

// nonmonotonic-send-test: process 0's sends land at 3 and 4, its later ones at 1 and 2 (reported per record).
#[test]
fn a_process_whose_later_sends_land_earlier_reordered_them() {
    assert_eq!(of(&witnesses("nonmonotonic-send.edn"), "reordered-write"), ["x-0@1", "x-0@2"]);
}

// int-poll-skip-test: one poll, and one op of two polls, each read a at 1 and d at 4, passing over b (read at 2).
#[test]
fn reads_of_one_op_passing_over_a_known_record_skipped_it() {
    assert_eq!(of(&witnesses("int-poll-skip.edn"), "int-poll-skip"), ["x-0@2", "x-0@2"]);
}

// duplicate-test "basic": a acknowledged at 1 and read at 3.
#[test]
fn a_value_at_two_offsets_is_a_duplicate() {
    assert_eq!(of(&witnesses("duplicate.edn"), "duplicate-write"), ["x-0@3"]);
}

// inconsistent-offsets-test: a crashed op's offset for x counts only once a read of its send to y proves it
// committed.
#[test]
fn a_crashed_sends_offset_conflicts_only_once_its_op_is_proven_committed() {
    assert!(of(&witnesses("inconsistent-offsets-info.edn"), "inconsistent-offsets").is_empty());
    assert_eq!(of(&witnesses("inconsistent-offsets-proven.edn"), "inconsistent-offsets"), ["x-0@0"]);
}

// unseen-test: everything acknowledged is read in the end: nothing to report.
#[test]
fn a_history_read_to_the_end_reports_nothing() {
    assert!(witnesses("unseen.edn").is_empty());
}

// empty-history-test: a history without sends is not valid.
#[test]
fn a_history_of_assignments_alone_is_vacuous() {
    let out = check(&fixture("empty.edn"), &["--holds", "durability"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("vacuous: the history has no sends"));
}

fn bad(name: &str, text: &str) -> String {
    let path = crate::support::temp_file("jepsen", name);
    std::fs::write(&path, text).expect("write");
    let out = check(&path, &[]);
    assert_eq!(out.status.code(), Some(2), "{name}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// Transactions are not modelled: a history with :txn ops is refused, not misjudged. Bad EDN, a form nested past
// the limit and an op without a :type are bad input too, with the file, line and column.
#[test]
fn transactions_and_bad_edn_are_refused_with_where() {
    let txn = "{:type :invoke, :f :txn, :process 0, :value [[:send :x 1]]}\n";
    let stderr = bad("txn.edn", &format!("{{:type :invoke, :f :poll, :process 1, :value [[:poll]]}}\n{txn}"));
    assert!(stderr.contains("txn.edn:2:1: 1 :txn ops: transactions are not modelled"), "{stderr}");
    let stderr = bad("unclosed.edn", "{:type :ok, :f :poll,\n :value [[:poll {:x [[0 1]}]]}\n");
    assert!(stderr.contains("unclosed.edn:2:27: expected ']' to close the '[' at 2:21, found '}'"), "{stderr}");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let stderr = bad("deep.edn", &deep);
    assert!(stderr.contains("deep.edn:1:65: nested deeper than 64 levels"), "{stderr}");
    let stderr = bad("untyped.edn", "\n  {:f :poll, :process 0, :value [[:poll]]}\n");
    assert!(stderr.contains("untyped.edn:2:3: op :type: expected :invoke, :ok, :fail or :info"), "{stderr}");
}
