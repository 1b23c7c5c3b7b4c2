//! The scenario file's JSON Schema, learnt from the loader itself: while `record` runs, every key a
//! `TableReader` knows and every value a typed reader reads is noted with its field path and what it must be, so
//! the schema says exactly what the loader accepts (no hand-kept copy to drift). Loading every bundled scenario
//! under `record` visits every table kind; `schemas/scenario.schema.json` is the result, for editors that check
//! TOML against a schema (taplo) and for JSON scenario files.

use serde_json::{Map, Value as Json, json};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// What a value must be.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// A known key whose value the loader reads by hand (several forms): any value.
    Any,
    Str,
    Integer {
        min: i128,
        max: i128,
    },
    Number {
        min: f64,
        max: f64,
    },
    Bool,
    OneOf(Vec<String>),
    /// A duration string with a unit ("250ms").
    Duration,
    /// A Kafka `*.ms` property: whole milliseconds, or a duration string.
    Millis,
    Table,
    Array,
}

#[derive(Default)]
struct Recording {
    /// Per field path (array indexes as `[]`), every shape noted there.
    shapes: BTreeMap<String, Vec<Shape>>,
    /// Tables whose keys under a prefix are names the file chooses (`types.ORDER_PLACED`): `path.prefix`.
    open: Vec<String>,
}

thread_local! {
    static RECORDING: RefCell<Option<Recording>> = const { RefCell::new(None) };
}

/// `path` with every index or element name in brackets as `[]`: `topics[0].partitions` → `topics[].partitions`.
fn normalise(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_brackets = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_brackets = true;
                out.push_str("[]");
            }
            ']' => in_brackets = false,
            _ if in_brackets => {}
            _ => out.push(c),
        }
    }
    out
}

/// Notes that the value at `path` is read as `shape` (nothing unless `record` is running).
pub fn note(path: &str, shape: Shape) {
    RECORDING.with_borrow_mut(|r| {
        if let Some(r) = r {
            let shapes = r.shapes.entry(normalise(path)).or_default();
            if !shapes.contains(&shape) {
                shapes.push(shape);
            }
        }
    });
}

/// Notes that the keys under `path` (a table path and a key prefix, `producers[0].types`) are the file's own.
pub fn note_open(path: &str) {
    RECORDING.with_borrow_mut(|r| {
        if let Some(r) = r {
            let path = normalise(path);
            if !r.open.contains(&path) {
                r.open.push(path);
            }
        }
    });
}

/// Runs `load` while noting what it reads, and returns the schema of everything it read.
pub fn record(load: impl FnOnce()) -> Json {
    RECORDING.with_borrow_mut(|r| *r = Some(Recording::default()));
    load();
    let recording = RECORDING.with_borrow_mut(Option::take).unwrap_or_default();
    schema_of(&recording)
}

/// A tree of field paths: a node's shapes, its properties, its array elements.
#[derive(Default)]
struct Tree {
    shapes: Vec<Shape>,
    properties: BTreeMap<String, Tree>,
    items: Option<Box<Tree>>,
    open: bool,
}

impl Tree {
    fn insert(&mut self, path: &str, shapes: &[Shape]) {
        let mut node = self;
        for segment in path.split('.').filter(|s| !s.is_empty()) {
            let (name, arrays) = (segment.trim_end_matches("[]"), segment.matches("[]").count());
            node = node.properties.entry(name.to_string()).or_default();
            for _ in 0..arrays {
                node = node.items.get_or_insert_with(Box::default);
            }
        }
        for s in shapes {
            if !node.shapes.contains(s) {
                node.shapes.push(s.clone());
            }
        }
    }

    fn mark_open(&mut self, path: &str) {
        let mut probe = Tree::default();
        probe.insert(path, &[]);
        let mut node = self;
        let mut guide = &probe;
        while let Some((name, next)) = guide.properties.iter().next() {
            node = node.properties.entry(name.clone()).or_default();
            guide = next;
            while let (Some(items), Some(guide_items)) = (&mut node.items, &guide.items) {
                node = items;
                guide = guide_items;
            }
        }
        node.open = true;
    }

    fn to_json(&self) -> Json {
        let mut alternatives: Vec<Json> = self.shapes.iter().filter_map(leaf).collect();
        if !self.properties.is_empty() || self.open || self.shapes.contains(&Shape::Table) {
            alternatives.retain(|a| a["type"] != "object");
            alternatives.push(self.object());
        }
        if self.items.is_some() || self.shapes.contains(&Shape::Array) {
            alternatives.retain(|a| a["type"] != "array");
            let items = self.items.as_ref().map_or(json!({}), |i| i.to_json());
            alternatives.push(json!({"type": "array", "items": items}));
        }
        match alternatives.len() {
            0 => json!({}),
            1 => alternatives.remove(0),
            _ => json!({ "anyOf": alternatives }),
        }
    }

    fn object(&self) -> Json {
        let mut properties = Map::new();
        for (name, child) in &self.properties {
            properties.insert(name.clone(), child.to_json());
        }
        if self.open {
            // The file names these keys; their values are what the loader read under them.
            let values: Vec<Json> = properties.values().cloned().collect();
            let value = if values.windows(2).all(|w| w[0] == w[1]) { values.first().cloned() } else { None };
            return json!({"type": "object", "additionalProperties": value.unwrap_or(json!({}))});
        }
        json!({"type": "object", "properties": properties, "additionalProperties": false})
    }
}

/// A leaf shape's schema (`None` for those drawn from the tree: tables, arrays, anything).
fn leaf(shape: &Shape) -> Option<Json> {
    const DURATION: &str = r"^(0|[0-9]+(\.[0-9]+)?(us|µs|ms|s|m|h))$";
    Some(match shape {
        Shape::Any | Shape::Table | Shape::Array => return None,
        Shape::Str => json!({"type": "string"}),
        Shape::Integer { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        Shape::Number { min, max } => json!({"type": "number", "minimum": min, "maximum": max}),
        Shape::Bool => json!({"type": "boolean"}),
        Shape::OneOf(options) => json!({"enum": options}),
        Shape::Duration => json!({"type": "string", "pattern": DURATION, "description": "a duration: 250ms, 1.5s, 2m"}),
        Shape::Millis => json!({"anyOf": [
            {"type": "integer", "minimum": 0, "description": "milliseconds"},
            {"type": "string", "pattern": DURATION, "description": "a duration: 250ms, 1.5s, 2m"}
        ]}),
    })
}

fn schema_of(recording: &Recording) -> Json {
    let mut root = Tree::default();
    for (path, shapes) in &recording.shapes {
        root.insert(path, shapes);
    }
    for path in &recording.open {
        root.mark_open(path);
    }
    let mut schema = root.object();
    let fields = schema.as_object_mut().expect("an object");
    let mut head = Map::new();
    // Draft 7: what most editors' TOML and JSON validators read.
    head.insert("$schema".into(), json!("http://json-schema.org/draft-07/schema#"));
    head.insert("title".into(), json!("insync scenario"));
    head.insert(
        "description".into(),
        json!("A scenario file of insync (TOML, or JSON with the same shape), as its loader reads it."),
    );
    head.extend(std::mem::take(fields));
    Json::Object(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_normalised_and_dotted_keys_nest() {
        assert_eq!(normalise("topics[0].replication.factor"), "topics[].replication.factor");
        assert_eq!(normalise("producers[checkout].acks"), "producers[].acks");
        let schema = record(|| {
            note("topics[0].replication.factor", Shape::Integer { min: 1, max: 5 });
            note("topics[1].name", Shape::Str);
            note("duration", Shape::Duration);
            note("producers[0].types", Shape::Any);
            note("producers[0].types.A", Shape::Integer { min: 1, max: 9 });
            note_open("producers[0].types");
        });
        let topic = &schema["properties"]["topics"]["items"];
        assert_eq!(topic["properties"]["replication"]["properties"]["factor"]["maximum"], 5);
        assert_eq!(topic["additionalProperties"], false);
        assert_eq!(schema["properties"]["duration"]["type"], "string");
        let types = &schema["properties"]["producers"]["items"]["properties"]["types"];
        assert_eq!(types["additionalProperties"]["maximum"], 9, "{types}");
        assert!(types.get("properties").is_none(), "the file's own names are not listed: {types}");
    }
}
