//! JSON Schemas of what insync writes, generated from the very types that write it (schemars) and committed under
//! `schemas/`: the `--json` objects of `run`, `check` and `validate`, and the lines of a history and of a trace. A
//! test keeps the committed files equal to these and validates real outputs against them.

use super::summary::{CheckJson, HistoryHeader, HistoryLine, JsonSummary};
use super::validate::Effective;
use crate::sim::TraceLine;
use schemars::{Schema, schema_for};

/// Each schema's file name under `schemas/`, and the schema.
pub fn all() -> Vec<(&'static str, Schema)> {
    vec![
        ("run.schema.json", schema_for!(JsonSummary<'static>)),
        ("check.schema.json", schema_for!(CheckJson<'static>)),
        ("validate.schema.json", schema_for!(Effective<'static>)),
        ("history-header.schema.json", schema_for!(HistoryHeader<'static>)),
        ("history-line.schema.json", schema_for!(HistoryLine<'static>)),
        ("trace-line.schema.json", schema_for!(TraceLine)),
    ]
}

/// A schema as committed: pretty JSON with a final newline.
pub fn text(schema: &Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}
