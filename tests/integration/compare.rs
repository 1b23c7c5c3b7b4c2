//! `insync compare` on the bundled matrices: the acks comparison and the durability ladder say what Kafka's
//! documentation and the durability articles say, over the same seeds in every cell; the reports are the same
//! bytes whatever the number of worker threads; a bad cell is refused as a bad `--set` is.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn insync(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_insync")).args(args).output().expect("the insync binary runs")
}

fn compare(matrix: &str, seeds: &str, jobs: &str, out: &Path) -> serde_json::Value {
    let out_text = out.to_str().expect("a UTF-8 temp path");
    let run = insync(&["compare", matrix, "--seeds", seeds, "--jobs", jobs, "-o", out_text, "--quiet"]);
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(out.join("results.json")).expect("results.json");
    serde_json::from_str(&text).expect("results.json is JSON")
}

fn cell<'a>(results: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let cells = results["cells"].as_array().expect("cells");
    cells.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no cell {name}"))
}

fn folder(name: &str) -> PathBuf {
    let path = crate::support::temp_file("compare", name);
    let _ = std::fs::remove_dir_all(&path);
    path
}

const FILES: [&str; 4] = ["index.html", "report.md", "results.json", "results.csv"];

// ProducerConfig `acks`: with acks=1 "the record will be lost if the leader fails immediately after
// acknowledging it but before the followers have replicated it"; with acks=all and min.insync.replicas=2 an
// acknowledged record is on every ISR member, at least two, and a clean election keeps it. The same seeds in
// every cell; the reports are byte-identical with 1 and 2 worker threads.
#[test]
fn acks_all_keeps_every_acknowledged_write_where_acks_1_loses_some_and_reports_do_not_depend_on_jobs() {
    let (one, two) = (folder("acks-1-job"), folder("acks-2-jobs"));
    let results = compare("scenarios/compare/acks.toml", "12", "2", &two);
    let safe = cell(&results, "acks=all min.insync=2");
    assert_eq!(safe["lost"], 0, "acks=all, min.insync.replicas=2 loses no acknowledged write");
    assert!(safe["acked"].as_u64().unwrap_or(0) > 0);
    let unsafe_cell = cell(&results, "acks=1 min.insync=2");
    assert!(unsafe_cell["lost"].as_u64().unwrap_or(0) > 0, "acks=1 loses some: {unsafe_cell}");
    assert!(unsafe_cell["seeds_with_loss"].as_u64().unwrap_or(0) > 0);
    let seeds = |c: &serde_json::Value| -> Vec<u64> {
        c["per_seed"].as_array().expect("per_seed").iter().map(|s| s["seed"].as_u64().expect("seed")).collect()
    };
    assert_eq!(seeds(safe), (0..12).collect::<Vec<_>>());
    assert_eq!(seeds(safe), seeds(unsafe_cell), "paired: every cell ran the same seeds");
    assert_eq!(results["cells"].as_array().map(Vec::len), Some(6));
    compare("scenarios/compare/acks.toml", "12", "1", &one);
    for file in FILES {
        let (a, b) = (std::fs::read(one.join(file)), std::fs::read(two.join(file)));
        assert!(a.is_ok() && a.ok() == b.ok(), "{file} differs between --jobs 1 and --jobs 2");
    }
    let html = std::fs::read_to_string(two.join("index.html")).expect("index.html");
    assert!(html.contains("<svg") && !html.contains("<script"), "inline SVG");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "nothing fetched from elsewhere");
    let csv = std::fs::read_to_string(two.join("results.csv")).expect("results.csv");
    assert_eq!(csv.lines().count(), 7, "a header and a row per cell");
}

// The durability ladder as the articles climb it: development (RF 1, acks=1) loses the most, staging (RF 2,
// acks=1) loses less, production (RF 3, acks=all, min.insync 2) and financial lose nothing, and financial's
// idempotent producer writes nothing twice and keeps send order (KIP-98).
#[test]
fn the_durability_ladders_rungs_are_ordered() {
    let results = compare("scenarios/compare/durability-ladder.toml", "3", "2", &folder("ladder"));
    let figure = |name: &str, key: &str| cell(&results, name)[key].as_f64().expect(key);
    assert!(figure("development", "lost_share_of_acked") > figure("staging", "lost_share_of_acked"));
    assert!(figure("staging", "lost") > 0.0);
    assert_eq!((figure("production", "lost"), figure("financial", "lost")), (0.0, 0.0));
    assert_eq!(figure("financial", "duplicate_writes"), 0.0);
    assert_eq!(figure("financial", "order_violations"), 0.0);
    assert!(figure("development", "seeds_with_loss_share") == 1.0 && figure("staging", "seeds_with_loss_share") == 1.0);
}

#[test]
fn a_bad_cell_is_refused_with_the_field_and_the_cell() {
    let matrix = crate::support::temp_file("compare", "bad.toml");
    let base = std::fs::canonicalize("scenarios/acks1-leader-crash.toml").expect("the story exists");
    let text = format!(
        "base = {:?}\n[[axes]]\nkey = \"producers.acks\"\nvalues = [\"1\", \"al\"]\n",
        base.to_str().expect("UTF-8")
    );
    std::fs::write(&matrix, text).expect("write");
    let out = folder("bad");
    let run = insync(&["compare", matrix.to_str().expect("UTF-8"), "-o", out.to_str().expect("UTF-8"), "--quiet"]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("cell `acks=al`") && stderr.contains("field `producers[0].acks`"), "{stderr}");
    assert!(!out.join("index.html").exists(), "nothing written");
}

// The committed examples under reports/ are what scripts/regenerate-reports.sh writes, byte for byte (so they
// are current, and deterministic across machines).
#[test]
fn the_committed_reports_are_what_the_documented_command_writes() {
    let script = std::fs::read_to_string("scripts/regenerate-reports.sh").expect("the script");
    for line in script.lines().filter(|l| l.contains(" compare ")) {
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        let committed = words.iter().position(|w| *w == "-o").map(|i| words[i + 1]).expect("an -o folder");
        let fresh = folder(&committed.replace('/', "-"));
        let mut args: Vec<&str> = words.clone();
        let at = args.iter().position(|w| *w == "-o").expect("-o") + 1;
        let fresh_text = fresh.to_str().expect("UTF-8").to_string();
        args[at] = &fresh_text;
        let run = insync(&args);
        assert_eq!(run.status.code(), Some(0), "{line}: {}", String::from_utf8_lossy(&run.stderr));
        for file in FILES {
            let (a, b) = (std::fs::read(Path::new(committed).join(file)), std::fs::read(fresh.join(file)));
            assert!(
                a.is_ok() && a.ok() == b.ok(),
                "{committed}/{file} is not what `{line}` writes: run scripts/regenerate-reports.sh"
            );
        }
    }
}
