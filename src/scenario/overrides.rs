//! `--set KEY=VALUE`: a scenario key overridden from the command line, read by the same schema as the file, so a
//! bad value gets the file's error (field, what was expected, a suggestion for an unknown key), located at the
//! override (`--set:N:COL`, N its place among the overrides).
//!
//! KEY is a section and a property: `duration`, `model.truncation`, `topics.min.insync.replicas` (every topic),
//! `producers[0].acks` or `producers[checkout].acks` (one element of an array of tables, by index or name).
//! VALUE is a TOML value (`2`, `true`, `"1"`, `["a", "b"]`), or else the text itself as a string (`all`, `30s`);
//! replacing a string in the file, it stays a string (`acks=1` where the file has `acks = "1"`).

use super::doc::{Key, LoadError, Node, Source, Value, parse_toml};
use std::ops::Range;

/// The most overrides one command takes.
pub const OVERRIDES_MAX: usize = 1_000;

/// One `KEY=VALUE`, as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub key: String,
    pub value: String,
}

impl Override {
    /// `KEY=VALUE` with a non-empty key (clap's value parser for `--set`).
    pub fn parse(text: &str) -> Result<Override, String> {
        match text.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Ok(Override { key: key.trim().to_string(), value: value.to_string() })
            }
            _ => Err(format!("expected KEY=VALUE (e.g. producers.acks=all), found `{text}`")),
        }
    }
}

impl std::fmt::Display for Override {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// Applies the overrides in order to the parsed document (later ones win), appending each to `source` so errors
/// can point at it.
pub fn apply(source: &mut Source, root: &mut Node, overrides: &[Override]) -> Result<(), LoadError> {
    if overrides.len() > OVERRIDES_MAX {
        let found = format!("{} of them", overrides.len());
        return Err(LoadError::at(source, 0..0, "--set", format!("at most {OVERRIDES_MAX} overrides"), found));
    }
    for o in overrides {
        let start = source.push_override_line(&o.to_string());
        let key_span = start..start + o.key.len();
        let value = Given { node: value_node(&o.value, start + o.key.len() + 1), raw: &o.value };
        set(source, root, &o.key, key_span, &value)?;
    }
    Ok(())
}

/// Whether `text` given as a VALUE reads as that very string (`all`, `30s`; not `2`, `true` or `"x"`).
pub fn reads_as_string(text: &str) -> bool {
    matches!(value_node(text, 0).value, Value::Str(s) if s == text)
}

/// VALUE as a TOML value, or as a string when it is not one; spans at `at` in the source.
fn value_node(text: &str, at: usize) -> Node {
    const PREFIX: &str = "v = ";
    let as_string = Node { span: at..at + text.len(), value: Value::Str(text.to_string()) };
    let Ok(parsed) = parse_toml(&Source::new("--set", format!("{PREFIX}{text}"))) else { return as_string };
    match parsed.value {
        Value::Table(mut entries) if entries.len() == 1 && entries[0].0.name == "v" => {
            let mut node = entries.remove(0).1;
            shift(&mut node, at, PREFIX.len());
            node
        }
        _ => as_string,
    }
}

/// Moves a parsed value's spans from the snippet (`v = VALUE`) to where VALUE sits in the source.
fn shift(node: &mut Node, at: usize, prefix: usize) {
    let moved = |r: &Range<usize>| at + r.start.saturating_sub(prefix)..at + r.end.saturating_sub(prefix);
    node.span = moved(&node.span);
    match &mut node.value {
        Value::Table(entries) => entries.iter_mut().for_each(|(k, n)| {
            k.span = moved(&k.span);
            shift(n, at, prefix);
        }),
        Value::Array(items) => items.iter_mut().for_each(|n| shift(n, at, prefix)),
        _ => {}
    }
}

/// An override's value: parsed, and as written (what a string it replaces becomes).
struct Given<'a> {
    node: Node,
    raw: &'a str,
}

/// `section[selector].rest`: the top-level key, which elements of an array of tables, and the property in them.
struct Path<'k> {
    section: &'k str,
    selector: Option<&'k str>,
    rest: Option<&'k str>,
}

fn split_key(key: &str) -> Option<Path<'_>> {
    let head_end = key.find(['.', '[']).unwrap_or(key.len());
    let (section, mut tail) = key.split_at(head_end);
    let mut selector = None;
    if let Some(after) = tail.strip_prefix('[') {
        let (inside, more) = after.split_once(']')?;
        selector = Some(inside.trim());
        tail = more;
    }
    let rest = match tail {
        "" => None,
        t => Some(t.strip_prefix('.').filter(|r| !r.is_empty())?),
    };
    (!section.is_empty()).then_some(Path { section, selector, rest })
}

fn set(src: &Source, root: &mut Node, key: &str, key_span: Range<usize>, value: &Given<'_>) -> Result<(), LoadError> {
    let bad_key = |expected: &str| LoadError::at(src, key_span.clone(), key, expected, format!("`{key}`"));
    let path = split_key(key).ok_or_else(|| bad_key("KEY as section.property or section[index or name].property"))?;
    let Value::Table(entries) = &mut root.value else { unreachable!("a scenario document is a table") };
    let Some(rest) = path.rest else {
        if path.selector.is_some() {
            return Err(bad_key("a property after the element, as in producers[0].acks"));
        }
        put(entries, path.section, key_span, value);
        return Ok(());
    };
    let Some(position) = entries.iter().position(|(k, _)| k.name == path.section) else {
        if path.selector.is_some() {
            return Err(bad_key(&format!("an element of `{}`, which the scenario does not have", path.section)));
        }
        let table = Node { span: key_span.clone(), value: Value::Table(Vec::new()) };
        entries.push((Key { name: path.section.to_string(), span: key_span.clone() }, table));
        let last = entries.len() - 1;
        set_in_table(&mut entries[last].1, rest, key_span, value);
        return Ok(());
    };
    let section = &mut entries[position].1;
    match &mut section.value {
        Value::Table(_) if path.selector.is_none() => {
            set_in_table(section, rest, key_span, value);
            Ok(())
        }
        Value::Array(items) => {
            let chosen = select(items, path.selector);
            if chosen.is_empty() {
                let what = match path.selector {
                    Some(s) => format!("`{s}`: an index below {} or the name of one of them", items.len()),
                    None => "at least one of them in the scenario".to_string(),
                };
                return Err(bad_key(&format!("an element of `{}`: {what}", path.section)));
            }
            for i in chosen {
                set_in_table(&mut items[i], rest, key_span.clone(), value);
            }
            Ok(())
        }
        _ => Err(bad_key(&format!("`{}` to be a table, or an array of tables to pick from", path.section))),
    }
}

/// The elements a selector picks: all, the one at an index, or those whose `name` is it.
fn select(items: &[Node], selector: Option<&str>) -> Vec<usize> {
    let named = |n: &Node, s: &str| {
        n.as_table().is_some_and(|t| t.iter().any(|(k, v)| k.name == "name" && v.as_str() == Some(s)))
    };
    match selector {
        None => (0..items.len()).collect(),
        Some(s) => match s.parse::<usize>() {
            Ok(i) if i < items.len() => vec![i],
            Ok(_) => Vec::new(),
            Err(_) => (0..items.len()).filter(|&i| named(&items[i], s)).collect(),
        },
    }
}

/// Sets `name` in a table; an element that is not a table is left for the schema to refuse in its own words.
fn set_in_table(table: &mut Node, name: &str, key_span: Range<usize>, value: &Given<'_>) {
    if let Value::Table(entries) = &mut table.value {
        put(entries, name, key_span, value);
    }
}

/// Replaces the property `name` wherever the file wrote it (`a.b.c = 1`, `[a.b] c = 1`, `"a.b.c" = 1`), or adds
/// it as one dotted key.
fn put(entries: &mut Vec<(Key, Node)>, name: &str, key_span: Range<usize>, value: &Given<'_>) {
    if !replace(entries, name, value) {
        entries.push((Key { name: name.to_string(), span: key_span }, value.node.clone()));
    }
}

fn replace(entries: &mut [(Key, Node)], name: &str, value: &Given<'_>) -> bool {
    for (key, node) in entries.iter_mut() {
        if key.name == name {
            *node = coerced(node, value);
            return true;
        }
        let inner = name.strip_prefix(key.name.as_str()).and_then(|r| r.strip_prefix('.'));
        if let (Some(inner), Value::Table(sub)) = (inner, &mut node.value)
            && replace(sub, inner, value)
        {
            return true;
        }
    }
    false
}

/// A scalar replacing a string stays a string, as written (`acks=1` for `acks = "1"`).
fn coerced(old: &Node, new: &Given<'_>) -> Node {
    match (&old.value, &new.node.value) {
        (Value::Str(_), Value::Int(_) | Value::Float(_) | Value::Bool(_)) => {
            Node { span: new.node.span.clone(), value: Value::Str(new.raw.trim().to_string()) }
        }
        _ => new.node.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::config::Acks;
    use crate::scenario::load_str_with;

    const BASE: &str = r#"
[[topics]]
name = "orders"
partitions = 2
replication = { factor = 3 }
min.insync.replicas = 1

[[producers]]
name = "a"
topic = "orders"
acks = "1"
enable.idempotence = false

[[producers]]
name = "b"
topic = "orders"
acks = "1"
enable.idempotence = false
"#;

    fn load(sets: &[&str]) -> Result<crate::scenario::Scenario, LoadError> {
        let overrides: Vec<Override> = sets.iter().map(|s| Override::parse(s).expect("KEY=VALUE")).collect();
        load_str_with("base.toml", BASE, &overrides)
    }

    #[test]
    fn a_property_is_replaced_wherever_the_file_wrote_it() {
        let s = load(&["topics.replication.factor=1", "topics.min.insync.replicas=1", "duration=30s"]).expect("load");
        let spec = &s.sim.cluster;
        assert!(spec.partitions.iter().filter(|p| p.topic.0 == 0).all(|p| p.replicas.len() == 1));
        assert_eq!(s.sim.limits.end.as_us(), 30_000_000);
        assert_eq!(s.overrides.len(), 3);
    }

    // `acks=1` where the file has the string "1" stays the string; every producer, one by index, one by name.
    #[test]
    fn elements_are_chosen_by_index_or_name_and_strings_stay_strings() {
        let acks = |s: &crate::scenario::Scenario| s.sim.cluster.producers.iter().map(|p| p.config.acks).collect();
        let all: Vec<Acks> = acks(&load(&["producers.acks=all"]).expect("all"));
        assert_eq!(all, vec![Acks::All, Acks::All]);
        let one: Vec<Acks> = acks(&load(&["producers.acks=all", "producers[1].acks=0"]).expect("index"));
        assert_eq!(one, vec![Acks::All, Acks::None]);
        let named: Vec<Acks> = acks(&load(&["producers[b].acks=all"]).expect("name"));
        assert_eq!(named, vec![Acks::Leader, Acks::All]);
        assert_eq!(acks(&load(&["producers.acks=1"]).expect("string")), vec![Acks::Leader, Acks::Leader]);
    }

    // The same bad value, in the file and in --set: the same field, expectation and finding, located at each.
    #[test]
    fn a_bad_override_gets_the_files_error_at_the_override() {
        let from_set = load(&["duration=1m", "producers.acks=al"]).expect_err("bad acks");
        let from_file = load_str_with("base.toml", &BASE.replacen("acks = \"1\"", "acks = \"al\"", 1), &[])
            .expect_err("bad acks in the file");
        assert_eq!(
            (&from_set.field, &from_set.expected, &from_set.found),
            (&from_file.field, &from_file.expected, &from_file.found)
        );
        assert_eq!((from_set.file.as_str(), from_set.line, from_set.column), ("--set", 2, 16));
        assert!(from_set.to_string().contains("2 | producers.acks=al"), "{from_set}");
        let unknown = load(&["producers.akcs=all"]).expect_err("unknown key");
        assert!(unknown.expected.contains("did you mean `acks`?"), "{unknown}");
        assert_eq!((unknown.file.as_str(), unknown.line, unknown.column), ("--set", 1, 1));
        let section = load(&["topic.partitions=3"]).expect_err("unknown section");
        assert!(section.expected.contains("did you mean `topics`?"), "{section}");
        for bad in ["producers[7].acks=all", "producers[zed].acks=all", "faults.at=1s", "producers[0]=1"] {
            let e = load(&[bad]).expect_err(bad);
            assert_eq!(e.file, "--set", "{bad}: {e}");
        }
    }

    #[test]
    fn values_are_toml_or_else_text() {
        let node = |text: &str| value_node(text, 100).value;
        assert_eq!(node("2"), Value::Int(2));
        assert_eq!(node("true"), Value::Bool(true));
        assert_eq!(node("\"1\""), Value::Str("1".into()));
        assert_eq!(node("all"), Value::Str("all".into()));
        assert_eq!(node("1.5s"), Value::Str("1.5s".into()));
        let Value::Array(items) = node("[\"a\", \"b\"]") else { panic!("an array") };
        assert_eq!(items[1].span, 106..109);
        assert!(Override::parse("=x").is_err() && Override::parse("x").is_err());
        assert_eq!(Override::parse("a.b=c=d"), Ok(Override { key: "a.b".into(), value: "c=d".into() }));
    }
}
