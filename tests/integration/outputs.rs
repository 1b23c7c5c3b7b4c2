//! What CI systems read: the JUnit file is valid against Jenkins' xunit schema (tests/fixtures/
//! jenkins-xunit-junit-10.xsd) for a passing, a failing and a hostile-named scenario, and for `insync check`.
//! The schema's rules are checked here element by element (so the test needs nothing installed), and by
//! `xmllint --schema` too when it is on the machine.

use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};
use std::path::{Path, PathBuf};
use std::process::Command;

fn temp(name: &str) -> PathBuf {
    crate::support::temp_file("outputs", name)
}

/// A small scenario named `name` (a TOML basic string's contents) with `expect` as its `[expect]` body.
fn scenario(file: &str, name: &str, expect: &str) -> PathBuf {
    let text = format!(
        "name = \"{name}\"\nduration = \"5s\"\n[[topics]]\nname = \"t\"\n[[producers]]\ntopic = \"t\"\nrate = 10\n\
         [expect]\n{expect}\n"
    );
    let path = temp(file);
    std::fs::write(&path, text).expect("write");
    path
}

fn insync(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_insync")).args(args).output().expect("the insync binary runs")
}

/// junit-10.xsd, element by element: (element, attributes it allows, attributes it requires).
const SCHEMA: [(&str, &[&str], &[&str]); 7] = [
    ("testsuites", &["name", "time", "tests", "failures", "errors"], &[]),
    (
        "testsuite",
        &[
            "name",
            "tests",
            "failures",
            "errors",
            "group",
            "time",
            "skipped",
            "timestamp",
            "hostname",
            "id",
            "package",
            "file",
            "log",
            "url",
        ],
        &["name", "tests", "failures", "errors"],
    ),
    ("properties", &[], &[]),
    ("property", &["name", "value"], &["name", "value"]),
    ("testcase", &["name", "time", "classname", "group"], &["name"]),
    ("failure", &["type", "message"], &[]),
    ("system-out", &[], &[]),
];

/// SUREFIRE_TIME: digits (optionally grouped by commas) and an optional fraction; never "NaN".
fn surefire_time(s: &str) -> bool {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    whole.chars().all(|c| c.is_ascii_digit() || c == ',') && fraction.chars().all(|c| c.is_ascii_digit())
}

/// Parses the file as XML (well-formedness) and checks every element against `SCHEMA`; returns the parsed
/// elements with their attributes.
fn validate(path: &Path) -> Vec<(String, Vec<(String, String)>)> {
    let xml = std::fs::read_to_string(path).expect("written");
    let mut reader = Reader::from_str(&xml);
    let mut elements = Vec::new();
    loop {
        let element = match reader.read_event().unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}")) {
            Event::Start(e) | Event::Empty(e) => e,
            Event::Eof => break,
            _ => continue,
        };
        let name = element.name().0.to_string();
        let (_, allowed, required) = SCHEMA.iter().find(|(n, _, _)| *n == name).unwrap_or_else(|| panic!("<{name}>"));
        let attributes: Vec<(String, String)> = element
            .attributes()
            .map(|a| {
                let a = a.expect("a well-formed attribute");
                let value = a.normalized_value(XmlVersion::Implicit1_0).expect("escaped").to_string();
                (a.key.0.to_string(), value)
            })
            .collect();
        for (key, value) in &attributes {
            assert!(allowed.contains(&key.as_str()), "<{name}> may not carry `{key}`\n{xml}");
            if key == "time" {
                assert!(surefire_time(value), "<{name} time=\"{value}\">");
            }
        }
        for key in *required {
            assert!(attributes.iter().any(|(k, _)| k == key), "<{name}> needs `{key}`\n{xml}");
        }
        elements.push((name, attributes));
    }
    assert_eq!(elements.first().map(|e| e.0.as_str()), Some("testsuites"), "the root");
    if Command::new("xmllint").arg("--version").output().is_ok() {
        let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jenkins-xunit-junit-10.xsd");
        let out = Command::new("xmllint").arg("--noout").arg("--schema").arg(schema).arg(path).output().expect("runs");
        assert!(out.status.success(), "xmllint: {}", String::from_utf8_lossy(&out.stderr));
    }
    elements
}

fn attribute<'a>(elements: &'a [(String, Vec<(String, String)>)], element: &str, key: &str) -> Vec<&'a str> {
    let of = |(n, attrs): &'a (String, Vec<(String, String)>)| {
        (n == element).then(|| attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())).flatten()
    };
    elements.iter().filter_map(of).collect()
}

#[test]
fn junit_of_a_passing_and_a_failing_run_is_valid_and_counts_right() {
    for (file, expect, code, failures) in [
        ("pass.toml", "holds = [\"at-least-once\"]", 0, "0"),
        ("fail.toml", "happened = [\"leader-election\"]", 1, "1"),
    ] {
        let (path, junit) = (scenario(file, "small", expect), temp(&format!("{file}.xml")));
        let out = insync(&["run".as_ref(), path.as_os_str(), "--junit".as_ref(), junit.as_os_str()]);
        assert_eq!(out.status.code(), Some(code), "{file}");
        let elements = validate(&junit);
        // One case for the expectation, five for the liveness checks run by default.
        assert_eq!(attribute(&elements, "testsuite", "tests"), ["6"], "{file}");
        assert_eq!(attribute(&elements, "testsuite", "failures"), [failures], "{file}");
        assert_eq!(attribute(&elements, "testsuites", "errors"), ["0"], "{file}");
        let seed = elements.iter().any(|(n, a)| n == "property" && a.iter().any(|(_, v)| v == "seed"));
        assert!(seed, "{file}: the seed is a property");
    }
}

#[test]
fn junit_of_a_hostile_name_is_well_formed_and_keeps_the_name_readable() {
    let (path, junit) =
        (scenario("hostile.toml", "a\\u0001<b> & \\\"c\\\"", "holds = [\"no-duplicates\"]"), temp("h.xml"));
    let out = insync(&["run".as_ref(), path.as_os_str(), "--junit".as_ref(), junit.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let elements = validate(&junit);
    assert_eq!(attribute(&elements, "testsuite", "name"), ["a\\u{1}<b> & \"c\""]);
}

#[test]
fn a_run_without_expectations_and_a_checked_history_write_valid_junit_too() {
    let text = "duration = \"5s\"\n[[topics]]\nname = \"t\"\n[[producers]]\ntopic = \"t\"\nrate = 10\n";
    let path = temp("bare.toml");
    std::fs::write(&path, text).expect("write");
    let (junit, history) = (temp("bare.xml"), temp("bare.jsonl"));
    let out = insync(&[
        "run".as_ref(),
        path.as_os_str(),
        "--junit".as_ref(),
        junit.as_os_str(),
        "--history".as_ref(),
        history.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let elements = validate(&junit);
    assert_eq!(attribute(&elements, "testcase", "name"), ["ran"], "a reporter always finds a case");

    let checked = temp("check.xml");
    let args = ["check".as_ref(), history.as_os_str(), "--holds".as_ref(), "at-least-once".as_ref()];
    let out = insync(&[&args[..], &["--junit".as_ref(), checked.as_os_str()]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let elements = validate(&checked);
    assert_eq!(attribute(&elements, "testcase", "name"), ["holds at-least-once"]);
}

// explore --junit: a case per group of seeds failing the same expectations (the seeds and the first one's
// reproduce line in its failure), and one passing case for the seeds that met every expectation.
#[test]
fn junit_of_a_sweep_has_a_case_per_failing_group_and_one_for_the_seeds_that_passed() {
    for (file, expect, code, cases) in [
        ("sweep-pass.toml", "holds = [\"at-least-once\"]", 0, vec!["3 of 3 seeds met every expectation"]),
        ("sweep-fail.toml", "happened = [\"leader-election\"]", 1, vec!["happened leader-election"]),
    ] {
        let (path, junit) = (scenario(file, "sweep", expect), temp(&format!("{file}.xml")));
        let args = ["explore".as_ref(), path.as_os_str(), "--seeds".as_ref(), "3".as_ref(), "--quiet".as_ref()];
        let out = insync(&[&args[..], &["--junit".as_ref(), junit.as_os_str()]].concat());
        assert_eq!(out.status.code(), Some(code), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        let elements = validate(&junit);
        assert_eq!(attribute(&elements, "testcase", "name"), cases, "{file}");
        assert_eq!(attribute(&elements, "testsuite", "failures"), [(code as usize).to_string().as_str()]);
        let text = std::fs::read_to_string(&junit).expect("written");
        if code == 1 {
            assert!(text.contains("at 3 of 3 seeds: seeds 0, 1, 2"), "{text}");
            assert!(text.contains("reproduce the first: insync run") && text.contains("--seed 0"), "{text}");
        }
        assert!(text.contains("insync explore") && text.contains("--seeds 0..3"), "the sweep's command: {text}");
    }
}

// The reproduce line runs as printed (the binary in place of `insync`) and gives the same output; once the file
// changes, the same line still runs it but warns that it no longer reproduces the first run.
#[test]
fn the_reproduce_line_runs_and_warns_of_a_changed_file() {
    let path = scenario("repro.toml", "repro", "holds = [\"at-least-once\"]");
    let first = insync(&["run".as_ref(), path.as_os_str()]);
    let stdout = String::from_utf8_lossy(&first.stdout).to_string();
    let line = stdout.lines().find_map(|l| l.strip_prefix("reproduce: insync ")).expect("a reproduce line");
    let args: Vec<&std::ffi::OsStr> = line.split(' ').map(std::ffi::OsStr::new).collect();
    let again = insync(&args);
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(String::from_utf8_lossy(&again.stdout), stdout, "the same run");
    let text = std::fs::read_to_string(&path).expect("written").replace("rate = 10", "rate = 11");
    std::fs::write(&path, text).expect("write");
    let changed = insync(&args);
    assert_eq!(changed.status.code(), again.status.code(), "{}", String::from_utf8_lossy(&changed.stderr));
    let warning = String::from_utf8_lossy(&changed.stderr).to_string();
    assert!(warning.starts_with("warning: ") && warning.contains("it changed since that run"), "{warning}");
    assert_ne!(String::from_utf8_lossy(&changed.stdout), stdout, "the edited file runs as edited");
    assert!(String::from_utf8_lossy(&again.stderr).is_empty(), "no warning for the unchanged file");
}

// A reader that stops early (`| head -1`) ends the run quietly with its usual exit code, never a panic.
#[test]
fn a_closed_stdout_ends_quietly() {
    use std::io::{BufRead, BufReader};
    let path = scenario("head.toml", "head", "holds = [\"at-least-once\"]");
    for extra in [&[][..], &["--trace", "-"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_insync"))
            .arg("run")
            .arg(&path)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawns");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut first).expect("one line");
        let out = child.wait_with_output().expect("ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{extra:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {stderr}");
    }
}

// A full disk under stdout is an error (exit 2), not a silent success.
#[test]
fn a_full_disk_under_stdout_is_an_error() {
    let Ok(full) = std::fs::File::create("/dev/full") else { return };
    let path = scenario("full.toml", "full", "holds = [\"at-least-once\"]");
    let out = Command::new(env!("CARGO_BIN_EXE_insync")).arg("run").arg(&path).stdout(full).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the result"));
}

// `--trace -` into a full disk: the trace is written as the run goes, and a write that fails is exit 2.
#[test]
fn a_trace_streamed_into_a_full_disk_is_an_error() {
    let Ok(full) = std::fs::File::create("/dev/full") else { return };
    let path = scenario("full-trace.toml", "full", "holds = [\"at-least-once\"]");
    let out = Command::new(env!("CARGO_BIN_EXE_insync"))
        .args(["run".as_ref(), path.as_os_str(), "--trace".as_ref(), "-".as_ref()])
        .stdout(full)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--trace: cannot write"), "{:?}", out.stderr);
}

// The trace file is written line by line as the run makes it, and holds exactly the run's trace: the lines a
// run that keeps its trace in memory has, in order (the same digest, so the same run).
#[test]
fn the_streamed_trace_is_the_runs_trace() {
    let file = temp("streamed.jsonl");
    let scenario = crate::support::scenario_path("acks1-leader-crash");
    let out = insync(&["run".as_ref(), scenario.as_os_str(), "--trace".as_ref(), file.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, outcome) = crate::support::run("acks1-leader-crash");
    let kept: Vec<String> =
        outcome.trace.expect("kept").iter().map(|l| serde_json::to_string(l).expect("JSON")).collect();
    let streamed = std::fs::read_to_string(&file).expect("written");
    assert_eq!(streamed.lines().count(), kept.len());
    assert!(streamed.lines().zip(&kept).all(|(a, b)| a == b), "line for line");
}

// Outputs are checked before anything runs: an unwritable path, one path for two outputs, or the input itself
// are refused with exit 2, no summary, and no file touched or left behind.
#[test]
fn bad_output_paths_are_refused_before_the_run() {
    let path = scenario("paths.toml", "paths", "holds = [\"at-least-once\"]");
    // Its own directory, so other tests' outputs (and their temporary files) are not counted.
    let own = temp("paths-dir");
    std::fs::create_dir_all(&own).expect("dir");
    let history = own.join("kept.jsonl");
    std::fs::write(&history, "earlier contents").expect("write");
    let missing_dir = temp("no-such-dir").join("trace.jsonl");
    let cases: [(&[&std::ffi::OsStr], &str); 3] = [
        (&["--trace".as_ref(), missing_dir.as_os_str(), "--history".as_ref(), history.as_os_str()], "--trace"),
        (&["--trace".as_ref(), history.as_os_str(), "--history".as_ref(), history.as_os_str()], "both name"),
        (&["--history".as_ref(), history.as_os_str(), "--junit".as_ref(), path.as_os_str()], "the input file"),
    ];
    for (extra, said) in cases {
        let out = insync(&[&["run".as_ref(), path.as_os_str()][..], extra].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(said), "{stderr}");
        assert!(out.stdout.is_empty(), "nothing ran");
        assert_eq!(std::fs::read_to_string(&history).expect("still there"), "earlier contents");
    }
    let dir = history.parent().expect("a directory");
    let leftovers = std::fs::read_dir(dir).expect("lists").filter_map(|e| e.ok());
    let temps: Vec<_> = leftovers.filter(|e| e.file_name().to_string_lossy().ends_with(".tmp")).collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
    assert!(std::fs::read_to_string(&path).expect("input").contains("name = \"paths\""), "the input is intact");
}

// `run -` reads the scenario from standard input; `--trace -` writes the trace to standard output and the summary
// to standard error.
#[test]
fn dash_is_standard_input_and_output() {
    use std::io::Write;
    let text = std::fs::read_to_string(scenario("stdin.toml", "from-stdin", "holds = [\"at-least-once\"]")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_insync"))
        .args(["run", "-", "--trace", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    child.stdin.take().expect("piped").write_all(text.as_bytes()).expect("written");
    let out = child.wait_with_output().expect("ends");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().all(|l| l.starts_with("{\"time_us\":")), "only trace lines on stdout");
    assert!(String::from_utf8_lossy(&out.stderr).contains("scenario from-stdin"), "the summary on stderr");
}

fn json_of(args: &[&str]) -> serde_json::Value {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/acks1-leader-crash.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_insync")).arg("run").arg(scenario).arg("--json").args(args).output();
    serde_json::from_slice(&out.expect("runs").stdout).expect("one JSON object")
}

// `--json`, format 2: versioned, every invariant present (0 when clean, null when not checked), counts as
// numbers, witnesses as objects with names, as many as `--witnesses` asks (3 by default, `all` for all).
#[test]
fn json_is_versioned_with_stable_keys_and_structured_witnesses() {
    let d = json_of(&[]);
    assert_eq!(d["format_version"], 2);
    assert_eq!(d["insync_version"], env!("CARGO_PKG_VERSION"));
    let violations = d["verdict"]["violations"].as_object().expect("a map");
    for name in insync::check::INVARIANTS {
        assert!(violations.contains_key(name), "{name} missing");
    }
    assert_eq!(violations["duplicate-write"], 0, "clean is 0");
    assert!(violations["divergence"].is_null(), "no replica logs: not checked");
    let durability = d["verdict"]["results"].as_array().unwrap().iter().find(|r| r["name"] == "durability").unwrap();
    let count = durability["count"].as_u64().expect("a number");
    assert!(count > 1000);
    let witnesses = durability["witnesses"].as_array().unwrap();
    assert_eq!(witnesses.len(), 3);
    let w = &witnesses[0];
    assert_eq!((w["invariant"].as_str(), w["partition"].as_str()), (Some("lost-write"), Some("orders-0")));
    assert_eq!(w["record"]["producer"], "order-service");
    assert!(w["offset"].is_u64() && w["time_us"].is_u64() && w["explanation"].is_array(), "{w}");
    assert_eq!(d["lost_writes"]["count"].as_u64(), Some(count));
    assert_eq!(d["lost_writes"]["shown"].as_array().unwrap().len(), 3);

    let one = json_of(&["--witnesses", "1"]);
    let results = one["verdict"]["results"].as_array().unwrap();
    assert!(results.iter().all(|r| r["witnesses"].as_array().unwrap().len() <= 1));
    let all = json_of(&["--witnesses", "all"]);
    let durability = all["verdict"]["results"].as_array().unwrap().iter().find(|r| r["name"] == "durability").unwrap();
    assert_eq!(durability["witnesses"].as_array().unwrap().len() as u64, count);
    assert!(all["witness_limit"].is_null());
}

// `insync validate`: every bundled scenario is valid; `--json` shows the effective configuration with Kafka's
// defaults filled in (session.timeout.ms 45 s since KIP-735, acks=all and idempotence on since 3.0, KIP-679); a bad
// file is exit 2 with its error.
#[test]
fn validate_shows_the_effective_configuration_and_refuses_bad_files() {
    for name in crate::support::bundled_scenarios() {
        let path = crate::support::scenario_path(&name);
        let out = insync(&["validate".as_ref(), path.as_os_str()]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let path = scenario("defaults.toml", "defaults", "holds = [\"at-least-once\"]");
    let text = std::fs::read_to_string(&path).unwrap() + "[[consumers]]\ngroup.id = \"g\"\ntopics = [\"t\"]\n";
    let path = temp("defaults-with-consumer.toml");
    std::fs::write(&path, text).unwrap();
    let out = insync(&["validate".as_ref(), path.as_os_str(), "--json".as_ref()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let cluster = &d["cluster"];
    assert_eq!(cluster["consumers"][0]["config"]["session_timeout_us"], 45_000_000);
    assert_eq!(cluster["producers"][0]["config"]["acks"], "All");
    assert_eq!(cluster["producers"][0]["config"]["enable_idempotence"], true);
    let bad = temp("bad-validate.toml");
    std::fs::write(&bad, "duration = \"forever\"\n").unwrap();
    let out = insync(&["validate".as_ref(), bad.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("field `duration`"));
}

// `insync bench FILE --json` times that scenario's runs and prints them as one object: as many runs with the
// per-event state checker as without, the events and the simulated time reached. No timing is asserted (times
// are the machine's); what is asserted is what the object says. A file that does not load is exit 2.
#[test]
fn bench_of_one_scenario_prints_its_runs_as_json() {
    let bin = env!("CARGO_BIN_EXE_insync");
    let path = crate::support::scenario_path("bench-sweep");
    let out = std::process::Command::new(bin)
        .args(["bench", &path.display().to_string(), "--runs", "2", "--json"])
        .output()
        .expect("insync runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let model = &json["model"];
    assert_eq!(model["name"], "bench-sweep");
    assert_eq!(model["walls_ms"].as_array().map(Vec::len), Some(2));
    assert_eq!(model["checked_walls_ms"].as_array().map(Vec::len), Some(2));
    let scenario = crate::support::load("bench-sweep");
    let outcome = insync::sim::run(&scenario.sim, scenario.seed, false);
    assert_eq!(model["events"].as_u64(), Some(outcome.stats.events));
    assert_eq!(model["simulated_s"].as_f64(), Some(30.0));
    assert!(json.get("sweep").is_none() && json.get("reference").is_none(), "one scenario: no fixed set");

    let missing = std::process::Command::new(bin).args(["bench", "no-such.toml"]).output().expect("insync runs");
    assert_eq!(missing.status.code(), Some(2));
}
