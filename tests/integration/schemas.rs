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
