//! The JSON Schemas under `schemas/` are the ones the output types generate (run with INSYNC_BLESS_SCHEMAS=1 to
//! rewrite them after a change), and real outputs validate against them: `run --json` of every bundled scenario,
//! the history and trace lines of stories with producers, consumers and faults, `check --json`, `validate --json`.

use crate::support::{bundled_scenarios, load, scenario_path};
use insync::cli::schemas;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

fn validator(file: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(schema_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let schema: Value = serde_json::from_str(&text).expect("a schema is JSON");
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{file} is a valid schema: {e}"))
}

fn assert_valid(validator: &jsonschema::Validator, value: &Value, what: &str) {
    let errors: Vec<String> =
        validator.iter_errors(value).take(3).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{what}: {errors:?}");
}

fn temp(name: &str) -> PathBuf {
    crate::support::temp_file("schemas", name)
}

#[test]
fn the_committed_schemas_are_the_generated_ones() {
    let bless = std::env::var_os("INSYNC_BLESS_SCHEMAS").is_some();
    for (file, schema) in schemas::all() {
        let path = schema_dir().join(file);
        let generated = schemas::text(&schema);
        if bless {
            std::fs::create_dir_all(schema_dir()).expect("schemas/");
            std::fs::write(&path, &generated).expect("written");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(committed == generated, "{file} is stale: run the tests with INSYNC_BLESS_SCHEMAS=1 and commit it");
    }
}

#[test]
fn run_json_of_every_bundled_scenario_validates() {
    let run = validator("run.schema.json");
    for name in bundled_scenarios() {
        let s = load(&name);
        let outcome = insync::sim::run(&s.sim, s.seed, false);
        let text = insync::cli::run_json(&s, &scenario_path(&name), &outcome);
        let value: Value = serde_json::from_str(&text).expect("JSON");
        assert_valid(&run, &value, &name);
    }
    // And the schema can fail: a count as a string, a missing field.
    let s = load("acks1-leader-crash");
    let outcome = insync::sim::run(&s.sim, s.seed, false);
    let mut value: Value =
        serde_json::from_str(&insync::cli::run_json(&s, &scenario_path("acks1-leader-crash"), &outcome)).unwrap();
    value["lost_writes"]["count"] = Value::from("4000");
    assert!(!run.is_valid(&value), "a count must be a number");
    value.as_object_mut().unwrap().remove("lost_writes");
    assert!(!run.is_valid(&value), "lost_writes is required");
}

#[test]
fn history_trace_check_and_validate_outputs_validate() {
    let (header, line, trace) = (
        validator("history-header.schema.json"),
        validator("history-line.schema.json"),
        validator("trace-line.schema.json"),
    );
    let bin = env!("CARGO_BIN_EXE_insync");
    for name in ["acks1-leader-crash", "commit-after-processing-crash", "legacy-unclean-divergence"] {
        let (h, t) = (temp(&format!("{name}.history.jsonl")), temp(&format!("{name}.trace.jsonl")));
        let mut run = Command::new(bin);
        run.arg("run").arg(scenario_path(name)).arg("--history").arg(&h).arg("--trace").arg(&t);
        assert!(run.output().expect("runs").status.code().is_some_and(|c| c < 2), "{name}");
        let history = std::fs::read_to_string(&h).expect("history");
        let mut lines = history.lines().map(|l| serde_json::from_str::<Value>(l).expect("JSON"));
        assert_valid(&header, &lines.next().expect("a header"), name);
        lines.for_each(|l| assert_valid(&line, &l, name));
        let traced = std::fs::read_to_string(&t).expect("trace");
        traced
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
            .for_each(|l| assert_valid(&trace, &l, name));

        let checked = Command::new(bin).arg("check").arg(&h).args(["--holds", "durability", "--json"]).output();
        let value: Value = serde_json::from_slice(&checked.expect("runs").stdout).expect("JSON");
        assert_valid(&validator("check.schema.json"), &value, name);
        let validated = Command::new(bin).arg("validate").arg(scenario_path(name)).arg("--json").output();
        let value: Value = serde_json::from_slice(&validated.expect("runs").stdout).expect("JSON");
        assert_valid(&validator("validate.schema.json"), &value, name);
    }
}

/// Every bundled scenario file, and the fixture that covers the loader's branches none of them takes.
fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = bundled_scenarios().iter().map(|n| scenario_path(n)).collect();
    files.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-coverage.toml"));
    files
}

/// A TOML scenario as the JSON value a schema validator (and taplo) sees.
fn as_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("readable");
    toml::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// The scenario file's schema is learnt from the loader (every key a table reader knows, with what it reads the
// value as) while it loads the bundled scenarios; the committed one must be what that gives today.
#[test]
fn the_committed_scenario_schema_is_what_the_loader_reads() {
    let generated = insync::scenario::schema_from_files(&scenario_files()).expect("every bundled scenario loads");
    let mut text = serde_json::to_string_pretty(&generated).expect("JSON");
    text.push('\n');
    let path = schema_dir().join("scenario.schema.json");
    if std::env::var_os("INSYNC_BLESS_SCHEMAS").is_some() {
        std::fs::write(&path, &text).expect("written");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(committed == text, "scenario.schema.json is stale: run the tests with INSYNC_BLESS_SCHEMAS=1");
}

#[test]
fn every_bundled_scenario_validates_against_the_scenario_schema_and_mistakes_do_not() {
    let schema = validator("scenario.schema.json");
    for path in scenario_files() {
        assert_valid(&schema, &as_json(&path), &path.display().to_string());
    }
    // What the loader refuses, the schema refuses too: an unknown key (at the top, and in a producer), a
    // string where a number goes, an acks Kafka does not have, a duration without a unit.
    let base = as_json(&scenario_path("acks1-leader-crash"));
    type Mistake = fn(&mut Value);
    let mistakes: [(&str, Mistake); 5] = [
        ("an unknown top-level key", |v| v["durationn"] = "45s".into()),
        ("an unknown producer key", |v| v["producers"][0]["lingerms"] = 5.into()),
        ("a string for a count", |v| v["topics"][0]["partitions"] = "3".into()),
        ("acks=2", |v| v["producers"][0]["acks"] = "2".into()),
        ("a bare duration", |v| v["duration"] = 45.into()),
    ];
    for (what, mistake) in mistakes {
        let mut value = base.clone();
        mistake(&mut value);
        assert!(!schema.is_valid(&value), "{what} should not validate");
    }
}

/// Whether `schema` has, somewhere, an object with the (dotted) `key` as a nested property.
fn has_property(schema: &Value, key: &[&str]) -> bool {
    let direct = key.iter().try_fold(schema, |node, segment| node.get("properties")?.get(*segment)).is_some();
    let children = schema.as_object().into_iter().flat_map(|o| o.values());
    let listed = schema.as_array().into_iter().flatten();
    direct || children.chain(listed).any(|child| has_property(child, key))
}

// Every key a table reader of the scenario loader names in its source is in the schema (so a branch no bundled
// scenario takes, like an `elect-leaders` fault's `election_type`, is covered by the fixture the schema is also
// learnt from).
#[test]
fn every_key_the_loader_names_is_in_the_scenario_schema() {
    let text = std::fs::read_to_string(schema_dir().join("scenario.schema.json")).expect("committed");
    let schema: Value = serde_json::from_str(&text).expect("JSON");
    let getters = ["str", "u64_in", "i64_in", "f64_in", "bool", "one_of", "duration_us", "ms_as_us", "table", "array"];
    let mut missing = Vec::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/scenario");
    for file in ["load.rs", "consumers.rs", "expect.rs", "nemesis.rs"] {
        let source = std::fs::read_to_string(dir.join(file)).expect("readable");
        for getter in getters.iter().chain(&["node", "has", "shaped"]) {
            for (i, _) in source.match_indices(&format!(".{getter}(\"")) {
                let rest = &source[i + getter.len() + 3..];
                let key = &rest[..rest.find('"').unwrap_or(0)];
                if !key.is_empty() && !has_property(&schema, &key.split('.').collect::<Vec<_>>()) {
                    missing.push(format!("{file}: {key}"));
                }
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "keys the loader reads that the schema lacks: {missing:?}");
}
