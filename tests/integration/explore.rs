//! `insync explore` and `insync merge`: per-seed results that do not depend on the number of worker threads or on
//! sharding, a failing seed's exit code and reproduce line, and refusals of bad input.

use crate::support::{scenario_path, temp_file};
use std::ffi::OsStr;
use std::process::{Command, Output};

fn insync<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_insync")).args(args).output().expect("the insync binary runs")
}

fn text(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// acks=1 with the leader cut off and crashed: under every seed acknowledged writes are lost, so this variant,
/// which expects durability to hold, fails at every seed.
fn durability_expected_of_acks1() -> std::path::PathBuf {
    let original = text(&scenario_path("acks1-leader-crash"));
    let changed = original.replace("holds = [\"ordering\"]\nviolated = [\"durability\"]", "holds = [\"durability\"]");
    assert_ne!(changed, original, "the story's [expect] has the lines this test replaces");
    let path = temp_file("explore", "acks1-durability.toml");
    std::fs::write(&path, changed).expect("written");
    path
}

// Each seed is one single-threaded run: one worker or two give byte-identical per-seed results.
#[test]
fn results_do_not_depend_on_the_number_of_jobs() {
    let scenario = scenario_path("acks1-leader-crash");
    let (one, two) = (temp_file("explore", "jobs1.jsonl"), temp_file("explore", "jobs2.jsonl"));
    for (jobs, out) in [("1", &one), ("2", &two)] {
        let seeds = ["--seeds", "3..9", "--jobs", jobs, "--quiet", "--out"].map(OsStr::new);
        let mut args = vec![OsStr::new("explore"), scenario.as_os_str()];
        args.extend(seeds);
        args.push(out.as_os_str());
        let o = insync(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let lines = text(&one);
    assert_eq!(lines.lines().count(), 7, "a header and one line per seed 3..9");
    assert_eq!(lines, text(&two));
}

// Shards take every N-th seed; merged, they print what one machine running the whole range prints.
#[test]
fn merged_shards_equal_the_whole_range() {
    let scenario = durability_expected_of_acks1();
    let whole =
        insync(&[OsStr::new("explore"), scenario.as_os_str(), "--seeds".as_ref(), "0..5".as_ref(), "--json".as_ref()]);
    let mut shard_files = Vec::new();
    for k in 1..=3 {
        let out = temp_file("explore", &format!("shard-{k}.jsonl"));
        let shard = format!("{k}/3");
        let args = [
            OsStr::new("explore"),
            scenario.as_os_str(),
            "--seeds".as_ref(),
            "0..5".as_ref(),
            "--shard".as_ref(),
            shard.as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
            "--quiet".as_ref(),
        ];
        assert_eq!(insync(&args).status.code(), Some(1), "every seed fails durability");
        shard_files.push(out);
    }
    let mut args = vec![OsStr::new("merge"), OsStr::new("--json")];
    args.extend(shard_files.iter().map(|p| p.as_os_str()));
    let merged = insync(&args);
    assert_eq!(merged.status.code(), Some(1));
    let parse = |o: &Output| {
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
        v.as_object_mut().map(|m| m.remove("shards"));
        v
    };
    assert_eq!(parse(&whole), parse(&merged));
    let v = parse(&whole);
    assert_eq!((v["seeds_run"].as_u64(), v["seeds_failed"].as_u64()), (Some(5), Some(5)));
    assert_eq!(v["failing_groups"][0]["seeds"], serde_json::json!([0, 1, 2, 3, 4]));
    assert_eq!(v["failing_groups"][0]["signature"], "holds durability");
}

// A failing seed exits 1, is grouped by what it failed, and comes with the command that reproduces it.
#[test]
fn failing_seeds_exit_1_with_a_reproduce_line_that_fails_the_same_way() {
    let scenario = durability_expected_of_acks1();
    let o = insync(&[OsStr::new("explore"), scenario.as_os_str(), "--seeds".as_ref(), "7..9".as_ref()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("2 seeds, 0 met [expect], 2 did not"), "{out}");
    let reproduce = out.lines().map(str::trim).find(|l| l.starts_with("insync run")).expect("a reproduce line");
    assert!(reproduce.contains("--seed 7"), "{reproduce}");
    let words: Vec<&str> = reproduce.split_whitespace().skip(1).collect();
    assert_eq!(insync(&words).status.code(), Some(1), "the reproduced run fails too: {reproduce}");
}

#[test]
fn bad_input_is_refused_with_exit_2() {
    let no_expect = temp_file("explore", "no-expect.toml");
    std::fs::write(&no_expect, "[[topics]]\nname = \"t\"\npartitions = 1\n").expect("written");
    let o = insync(&[OsStr::new("explore"), no_expect.as_os_str(), "--seeds".as_ref(), "3".as_ref()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("[expect]"));
    let scenario = scenario_path("acks1-leader-crash");
    for (flag, value) in [("--seeds", "9..3"), ("--shard", "4/3")] {
        let mut args = vec![OsStr::new("explore"), scenario.as_os_str(), flag.as_ref(), value.as_ref()];
        if flag != "--seeds" {
            args.extend([OsStr::new("--seeds"), OsStr::new("2")]);
        }
        assert_eq!(insync(&args).status.code(), Some(2), "{flag} {value}");
    }
    let not_results = temp_file("explore", "not-results.jsonl");
    std::fs::write(&not_results, "{\"seed\": 1}\n").expect("written");
    let o = insync(&[OsStr::new("merge"), not_results.as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains(":1:"), "names the line");
}
