//! Scenario document layer: parses TOML/JSON scenario files into a spanned value tree and
//! reads it strictly, so every error names file, line, column, field path and what was expected.
//!
//! Layers, bottom up:
//! - [`parse`] turns a [`Source`] into a [`Node`] tree (TOML via `toml`'s spanned `DeTable`,
//!   JSON via a small recursive-descent parser, `json_doc.rs`). Table entries keep source order.
//! - [`flatten`] joins nested tables into dotted names (`min.insync.replicas`), so TOML dotted
//!   keys and JSON `"min.insync.replicas"` keys read the same.
//! - [`TableReader`] and the `expect_*` functions map nodes onto a schema. Every getter marks its
//!   key as known; [`TableReader::finish`] rejects unread keys with a "did you mean" suggestion.
//!
//! Nothing in here panics on any input; all failures are [`LoadError`]s.

mod duration;
mod json_doc;
pub mod schema;
mod table;
mod toml_doc;

pub use duration::{expect_duration_us, expect_ms_as_us, parse_duration_us};
pub use json_doc::parse_json;
pub use table::{
    TableReader, expect_array, expect_bool, expect_f64_in, expect_i64_in, expect_one_of, expect_str, expect_table,
    expect_u64_in,
};
pub use toml_doc::parse_toml;

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

/// Deepest nesting of arrays/tables accepted in a document.
pub const MAX_DEPTH: usize = 128;

/// A value with the byte span it came from in the source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Range<usize>,
    pub value: Value,
}

/// A document value. Tables keep their entries in source order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Table(Vec<(Key, Node)>),
    Array(Vec<Node>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// A table key with the byte span of the key text (quotes included when quoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    pub span: Range<usize>,
}

impl Value {
    /// The kind of value, with an article: "a table", "an integer", ...
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Table(_) => "a table",
            Value::Array(_) => "an array",
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
        }
    }

    /// A short description for the "found" part of an error: `a string "six"`, `-3`, `a table`.
    pub fn describe(&self) -> String {
        match self {
            Value::Str(s) => format!("a string {:?}", truncate(s, 40)),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format!("{f:?}"),
            Value::Bool(b) => b.to_string(),
            Value::Table(_) | Value::Array(_) => self.kind().to_string(),
        }
    }
}

impl Node {
    /// The table entries, if this is a table.
    pub fn as_table(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Table(entries) => Some(entries),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Source and errors
// ---------------------------------------------------------------------------------------------

/// A scenario file: its path (for messages and format detection) and full text. `--set` overrides are appended to
/// the text, one line each after the file's own, so that the values they give carry spans like the file's do;
/// an error inside them names `--set` and the override's number instead of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: String,
    pub text: String,
    /// How long the file's own text is: `text` past it holds the overrides.
    file_len: usize,
}

impl Source {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        Source { path: path.into(), file_len: text.len(), text }
    }

    /// The file's own text, without any overrides.
    pub fn file_text(&self) -> &str {
        &self.text[..self.file_len]
    }

    /// Appends one override line (`KEY=VALUE`); returns the byte offset where it starts.
    pub fn push_override_line(&mut self, line: &str) -> usize {
        self.text.push('\n');
        let start = self.text.len();
        self.text.push_str(line);
        start
    }

    /// Which override (from 1) the byte offset falls in, if it is past the file's own text.
    fn override_number(&self, byte: usize) -> Option<usize> {
        let after = self.text.get(self.file_len..byte.min(self.text.len()))?;
        (byte > self.file_len).then(|| after.bytes().filter(|&c| c == b'\n').count())
    }

    /// 1-based (line, column) of a byte offset; the column counts chars. Offsets past the end
    /// or inside a multi-byte char are clamped.
    pub fn line_col(&self, byte: usize) -> (usize, usize) {
        let mut b = byte.min(self.text.len());
        while b > 0 && !self.text.is_char_boundary(b) {
            b -= 1;
        }
        let before = self.text.get(..b).unwrap_or("");
        let line = before.bytes().filter(|&c| c == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).unwrap_or("").chars().count() + 1;
        (line, column)
    }

    /// The source line holding byte `span.start`, with the span's chars on that line marked (at least one).
    pub fn excerpt(&self, span: &Range<usize>) -> Excerpt {
        let (_, column) = self.line_col(span.start);
        let start = span.start.min(self.text.len());
        let line_start = self.text[..floor_boundary(&self.text, start)].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[line_start..].find('\n').map_or(self.text.len(), |i| line_start + i);
        let line = self.text[line_start..line_end].trim_end_matches('\r');
        let on_line = span.end.min(line_start + line.len()).saturating_sub(start);
        let marked = self.text.get(start..start + on_line).map_or(0, |t| t.chars().count());
        let text: String = line.chars().map(|c| if c == '\t' { ' ' } else { c }).collect();
        Excerpt { text: truncate(&text, 200), column, width: marked.clamp(1, 200) }
    }
}

fn floor_boundary(text: &str, byte: usize) -> usize {
    let mut b = byte.min(text.len());
    while b > 0 && !text.is_char_boundary(b) {
        b -= 1;
    }
    b
}

/// A source line under an error, and where on it the caret goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// The line (tabs as spaces, cut at 200 chars).
    pub text: String,
    /// 1-based char column where the marked span starts.
    pub column: usize,
    /// How many chars the carets cover.
    pub width: usize,
}

/// A located load error: `file:line:column: field `path`: expected X, found Y`, then the source line with carets
/// under the value (`excerpt`), for people; editors and CI read the first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Dotted field path (`topics[0].partitions`); empty for document-level syntax errors.
    pub field: String,
    pub expected: String,
    pub found: String,
    /// The source line and the span on it; `None` when there is no position (an unreadable file).
    pub excerpt: Option<Box<Excerpt>>,
}

impl LoadError {
    /// An error located at the start of `span` in `src`.
    pub fn at(
        src: &Source,
        span: Range<usize>,
        field: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        let (line, column) = src.line_col(span.start);
        let (file, line) = match src.override_number(span.start) {
            Some(number) => ("--set".to_string(), number),
            None => (src.path.clone(), line),
        };
        LoadError {
            file,
            line,
            column,
            field: field.into(),
            expected: expected.into(),
            found: found.into(),
            excerpt: Some(Box::new(src.excerpt(&span))),
        }
    }

    /// A file that could not be read (no position in it): `expected` says what it should have been.
    pub fn unreadable(file: String, expected: &str, error: &std::io::Error) -> Self {
        LoadError {
            file,
            line: 0,
            column: 0,
            field: String::new(),
            expected: expected.to_string(),
            found: error.to_string(),
            excerpt: None,
        }
    }

    /// An error at `node`, with `found` describing the node's value.
    pub fn at_node(src: &Source, node: &Node, field: &str, expected: impl Into<String>) -> Self {
        Self::at(src, node.span.clone(), field, expected, node.value.describe())
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.excerpt {
            Some(_) => write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?,
            None => write!(f, "{}: ", self.file)?,
        }
        if !self.field.is_empty() {
            write!(f, "field `{}`: ", self.field)?;
        }
        write!(f, "expected {}, found {}", self.expected, self.found)?;
        if let Some(x) = &self.excerpt {
            let number = self.line.to_string();
            let gutter = " ".repeat(number.len());
            write!(
                f,
                "\n{gutter} |\n{number} | {}\n{gutter} | {}{}",
                x.text,
                " ".repeat(x.column - 1),
                "^".repeat(x.width)
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// Describes the character at byte `pos` of `text` for a syntax error's "found" part.
fn describe_at(text: &str, pos: usize) -> String {
    if pos >= text.len() {
        return "end of input".to_string();
    }
    let mut b = pos;
    while b > 0 && !text.is_char_boundary(b) {
        b -= 1;
    }
    match text.get(b..).and_then(|rest| rest.chars().next()) {
        None => "end of input".to_string(),
        Some('\n') | Some('\r') => "end of line".to_string(),
        Some(c) if c.is_control() => format!("`{}`", c.escape_debug()),
        Some(c) => format!("`{c}`"),
    }
}

/// `path.key`, or just `key` at the top level.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// Field path of element `index` of the array at `path`: `topics[3]`.
pub fn elem_path(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parses a scenario document: JSON if the path ends in `.json`, otherwise TOML.
pub fn parse(source: &Source) -> Result<Node, LoadError> {
    if source.path.to_ascii_lowercase().ends_with(".json") { parse_json(source) } else { parse_toml(source) }
}

// ---------------------------------------------------------------------------------------------
// Flattening
// ---------------------------------------------------------------------------------------------

/// Flattens a table into `(dotted name, leaf)` pairs in source order: nested non-empty tables
/// are joined into dotted names (`min.insync.replicas`); arrays and empty tables are leaves.
/// A leaf key's span covers the whole dotted key when it is written on one line
/// (`min.insync.replicas = 2`), else just the leaf segment. Two spellings of the same dotted
/// name (`a.b` and `"a.b"`) are a duplicate-key error. `path` names the table in errors.
pub fn flatten<'a>(src: &Source, node: &'a Node, path: &str) -> Result<Vec<(Key, &'a Node)>, LoadError> {
    let Some(entries) = node.as_table() else {
        return Err(LoadError::at_node(src, node, path, "a table"));
    };
    let mut out = Vec::new();
    flatten_into(&src.text, "", None, entries, &mut out);
    out.sort_by_key(|(key, _)| key.span.start);
    let mut seen = HashSet::new();
    for (key, _) in &out {
        if !seen.insert(key.name.as_str()) {
            let found = format!("a duplicate key `{}`", key.name);
            let expected = "each property defined only once (dotted and quoted forms are the same)";
            return Err(LoadError::at(src, key.span.clone(), join(path, &key.name), expected, found));
        }
    }
    Ok(out)
}

fn flatten_into<'a>(
    text: &str,
    prefix: &str,
    outer_start: Option<usize>,
    entries: &'a [(Key, Node)],
    out: &mut Vec<(Key, &'a Node)>,
) {
    for (key, node) in entries {
        let name = join(prefix, &key.name);
        // Start of the dotted key: the outermost enclosing key on the same line, if any.
        let start = outer_start
            .filter(|&s| text.get(s..key.span.start).is_some_and(|t| !t.contains('\n')))
            .unwrap_or(key.span.start);
        match &node.value {
            Value::Table(sub) if !sub.is_empty() => flatten_into(text, &name, Some(start), sub, out),
            _ => {
                let span = start..key.span.end.max(start);
                out.push((Key { name, span }, node));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml_src(text: &str) -> Source {
        Source::new("scenario.toml", text)
    }

    fn json_src(text: &str) -> Source {
        Source::new("scenario.json", text)
    }

    fn parse_err(src: &Source) -> LoadError {
        match parse(src) {
            Ok(node) => panic!("expected an error, parsed {node:?}"),
            Err(e) => e,
        }
    }

    /// Flattened (name, value) pairs without spans, for cross-format comparison.
    fn shape(src: &Source, node: &Node) -> Vec<(String, Value)> {
        let flat = flatten(src, node, "").expect("flatten");
        flat.into_iter().map(|(k, n)| (k.name, n.value.clone())).collect()
    }

    #[test]
    fn toml_syntax_error_has_position() {
        let err = parse_err(&toml_src("a = 1\nb = \nc = 3\n"));
        assert_eq!((err.line, err.column), (2, 5), "{err}");
        assert!(err.to_string().starts_with("scenario.toml:2:5: expected valid TOML"), "{err}");
    }

    #[test]
    fn json_syntax_error_has_position_and_field() {
        let err = parse_err(&json_src("{\n  \"a\": 1,\n  \"b\" 2\n}"));
        assert_eq!((err.line, err.column), (3, 7), "{err}");
        assert_eq!(err.field, "b");
        assert_eq!(err.expected, "`:` after the key");
        assert_eq!(err.found, "`2`");
        let err = parse_err(&json_src("{\"t\": [1, 2,]}"));
        assert_eq!((err.line, err.column, err.field.as_str()), (1, 13, "t[2]"), "{err}");
    }

    #[test]
    fn json_rejects_null_and_duplicates() {
        let err = parse_err(&json_src(r#"{"a": {"b": null}}"#));
        assert!(err.expected.contains("null is not allowed"), "{err}");
        assert_eq!((err.field.as_str(), err.column), ("a.b", 13));
        let err = parse_err(&json_src(r#"{"a": 1, "a": 2}"#));
        assert_eq!(err.found, "a duplicate key `a`");
        assert_eq!(err.column, 10);
    }

    #[test]
    fn toml_duplicate_key_is_named() {
        let err = parse_err(&toml_src("a = 1\na = 2\n"));
        assert_eq!((err.line, err.column), (2, 1));
        assert_eq!(err.found, "a duplicate key `a`");
    }

    #[test]
    fn json_strings_and_numbers() {
        let src = json_src(r#"["a\"\\\/\b\f\n\r\t", "\u00e9\ud83d\ude00", -0, 12, -3.5e2, 1E3]"#);
        let node = parse(&src).expect("parse");
        let Value::Array(items) = node.value else { panic!("not an array") };
        let values: Vec<Value> = items.into_iter().map(|n| n.value).collect();
        assert_eq!(
            values,
            vec![
                Value::Str("a\"\\/\u{8}\u{c}\n\r\t".into()),
                Value::Str("é😀".into()),
                Value::Int(0),
                Value::Int(12),
                Value::Float(-350.0),
                Value::Float(1000.0),
            ]
        );
        for bad in [r#""\ud83d""#, r#""\ude00""#, r#""\u12""#, "01", "1.", "-", "1e", "99999999999999999999", "1e999"] {
            assert!(parse(&json_src(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn flat_mode_toml_equals_json() {
        let toml = toml_src(
            "[producer]\nlinger.ms = 5\n\"batch.size\" = 100\nacks = \"all\"\n[producer.retry]\nbackoff.ms = 3\n",
        );
        let json =
            json_src(r#"{"producer": {"linger.ms": 5, "batch.size": 100, "acks": "all", "retry.backoff.ms": 3}}"#);
        let (t, j) = (parse(&toml).expect("toml"), parse(&json).expect("json"));
        assert_eq!(shape(&toml, &t), shape(&json, &j));
        for (src, root) in [(&toml, &t), (&json, &j)] {
            let mut reader = TableReader::new(src, root, "", false).expect("root");
            let mut producer = reader.table("producer", true).expect("ok").expect("some");
            assert_eq!(producer.keys(), ["linger.ms", "batch.size", "acks", "retry.backoff.ms"]);
            assert_eq!(producer.ms_as_us("linger.ms"), Ok(Some(5_000)));
            assert_eq!(producer.u64_in("batch.size", 0, 1 << 30), Ok(Some(100)));
            assert_eq!(producer.one_of("acks", &["0", "1", "all"]), Ok(Some("all")));
            assert_eq!(producer.ms_as_us("retry.backoff.ms"), Ok(Some(3_000)));
            assert_eq!(producer.finish(), Ok(()));
            assert_eq!(reader.finish(), Ok(()));
        }
    }

    #[test]
    fn flat_mode_rejects_same_property_twice() {
        let src = toml_src("a.b = 1\n\"a.b\" = 2\n");
        let root = parse(&src).expect("parse");
        let err = flatten(&src, &root, "cfg").expect_err("duplicate");
        assert_eq!((err.line, err.column, err.field.as_str()), (2, 1, "cfg.a.b"));
        let src = toml_src("[p.retry]\nbackoff.ms = 3\n[p]\nx.y.z = 1\n");
        let root = parse(&src).expect("parse");
        let spans: Vec<(String, &str)> =
            flatten(&src, &root, "").expect("flatten").into_iter().map(|(k, _)| (k.name, &src.text[k.span])).collect();
        let want = [("p.retry.backoff.ms", "backoff.ms"), ("p.x.y.z", "x.y.z")];
        assert_eq!(spans, want.map(|(n, t)| (n.to_string(), t)));
    }

    #[test]
    fn unknown_key_suggests_closest() {
        let src = toml_src("[producer]\nacks = \"all\"\nlingr.ms = 5\n");
        let root = parse(&src).expect("parse");
        let mut reader = TableReader::new(&src, &root, "", false).expect("root");
        let mut producer = reader.table("producer", true).expect("ok").expect("some");
        assert_eq!(producer.ms_as_us("linger.ms"), Ok(None));
        assert_eq!(producer.one_of("acks", &["all"]), Ok(Some("all")));
        let err = producer.finish().expect_err("unknown field");
        assert_eq!(
            err.to_string().lines().next(),
            Some(
                "scenario.toml:3:1: field `producer.lingr.ms`: expected one of the known fields; \
                 did you mean `linger.ms`?, found unknown field `lingr.ms`"
            )
        );
        let src = json_src(r#"{"zzzzzz": 1}"#);
        let root = parse(&src).expect("parse");
        let mut reader = TableReader::new(&src, &root, "", false).expect("root");
        assert_eq!(reader.bool("a"), Ok(None));
        assert_eq!(reader.bool("b"), Ok(None));
        let err = reader.finish().expect_err("unknown");
        assert_eq!(err.expected, "one of the known fields: `a`, `b`");
    }

    #[test]
    fn out_of_range_and_wrong_type_messages() {
        let text = "[[topics]]\nname = \"t\"\npartitions = 0\n[[topics]]\npartitions = \"six\"\n";
        let src = toml_src(text);
        let root = parse(&src).expect("parse");
        let mut reader = TableReader::new(&src, &root, "", false).expect("root");
        let topics = reader.array("topics").expect("ok").expect("some");
        let path = reader.path("topics");
        let mut t0 = expect_table(&src, &topics[0], &elem_path(&path, 0), false).expect("t0");
        assert_eq!(t0.str("name"), Ok(Some("t")));
        let err = t0.u64_in("partitions", 1, 10_000).expect_err("range");
        let shown = err.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(
            lines,
            [
                "scenario.toml:3:14: field `topics[0].partitions`: expected an integer from 1 to 10000, found 0",
                "  |",
                "3 | partitions = 0",
                "  |              ^",
            ]
        );
        let mut t1 = expect_table(&src, &topics[1], &elem_path(&path, 1), false).expect("t1");
        let err = t1.u64_in("partitions", 1, 10_000).expect_err("type");
        assert_eq!((err.line, err.column), (5, 14));
        assert_eq!(err.found, "a string \"six\"");
        let name = t1.str("name").expect("absent is ok");
        let err = t1.required("name", name, "a topic name").expect_err("missing");
        assert_eq!((err.field.as_str(), err.line), ("topics[1].name", 4));
        let err = t1.bool("partitions").expect_err("bool");
        assert_eq!(err.expected, "true or false");
        let err = t1.one_of("partitions", &["sx!!", "six!"]).expect_err("one_of");
        assert!(err.expected.ends_with("did you mean \"six!\"?"), "{err}");
        let err = expect_table(&src, &topics[0], "x", true).and_then(|_| expect_str(&src, &root, "r"));
        assert_eq!(err.err().map(|e| e.found), Some("a table".to_string()));
    }

    #[test]
    fn durations() {
        let cases = [
            ("0", Some(0)),
            ("0s", Some(0)),
            ("100us", Some(100)),
            ("250ms", Some(250_000)),
            ("30s", Some(30_000_000)),
            ("1.5s", Some(1_500_000)),
            ("0.25ms", Some(250)),
            ("2m", Some(120_000_000)),
            ("1h", Some(3_600_000_000)),
            ("1.50s", Some(1_500_000)),
            ("0.5us", None),
            ("-1s", None),
            ("1", None),
            ("s", None),
            (".5s", None),
            ("1.s", None),
            ("1.2.3s", None),
            ("1 s", None),
            ("1sec", None),
            ("", None),
            ("99999999999999999999h", None),
            ("5124095577h", None),
            ("5124095576h", Some(18_446_744_073_600_000_000)),
            ("0.0000000000000000000001s", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration_us(text), want, "{text}");
        }
        let src = toml_src("a = 250\nb = \"250ms\"\nc = 250\nd = \"1.5s\"\ne = -1\n");
        let root = parse(&src).expect("parse");
        let mut r = TableReader::new(&src, &root, "", false).expect("root");
        let err = r.duration_us("a").expect_err("bare int");
        assert!(err.found.contains("250ms"), "{err}");
        assert_eq!(r.duration_us("b"), Ok(Some(250_000)));
        assert_eq!(r.ms_as_us("c"), Ok(Some(250_000)));
        assert_eq!(r.ms_as_us("d"), Ok(Some(1_500_000)));
        assert_eq!(r.ms_as_us("e").err().map(|e| e.found), Some("-1".into()));
    }

    #[test]
    fn line_col_counts_chars() {
        let src = Source::new("x", "é = 1\nab😀c");
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(2), (1, 2));
        assert_eq!(src.line_col(1), (1, 1));
        assert_eq!(src.line_col(7), (2, 1));
        assert_eq!(src.line_col(13), (2, 4));
        assert_eq!(src.line_col(10_000), (2, 5));
    }

    #[test]
    fn nasty_inputs_never_panic() {
        let mut inputs: Vec<String> = [
            "",
            " ",
            "\0",
            "{",
            "}",
            "[",
            "\"",
            "\"\\",
            "\"\\u",
            "\"\\ud800\\u",
            "[1,",
            "{\"a\"",
            "{\"a\":",
            "a = ",
            "a.b.c = [1, {x = 1}]",
            "[[a]]\n[a]",
            "a = 1979-05-27",
            "a = inf",
            "a = nan",
            "a = 0xFFFFFFFFFFFFFFFFFF",
            "\u{feff}a = 1",
            "é\u{301}\"",
            "{\"é\": [tru]}",
            "-",
            "[-",
            "1e+",
            "\r\n\r\n}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        inputs.push("[".repeat(100_000));
        inputs.push("{\"a\":".repeat(10_000));
        inputs.push(format!("a = {}1{}", "[".repeat(5_000), "]".repeat(5_000)));
        inputs.push(format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH)));
        inputs.push(format!("a{} = 1", ".a".repeat(10_000)));
        inputs.push(format!("[{}a]", "a.".repeat(10_000)));
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..200 {
            let bytes: Vec<u8> = (0..64)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    b"{}[]\",:.=\\u0123456789aetrfnl \n#"[(seed % 31) as usize]
                })
                .collect();
            inputs.push(String::from_utf8_lossy(&bytes).into_owned());
        }
        for text in &inputs {
            for path in ["x.toml", "x.json"] {
                let src = Source::new(path, text.as_str());
                if let Ok(root) = parse(&src) {
                    let _ = TableReader::new(&src, &root, "", true).map(TableReader::finish);
                    let _ = flatten(&src, &root, "");
                } else if let Err(e) = parse(&src) {
                    let _ = e.to_string();
                }
            }
        }
        let deep = json_src(&"[".repeat(MAX_DEPTH + 1));
        assert!(parse_err(&deep).expected.contains("nesting"));
    }
}
