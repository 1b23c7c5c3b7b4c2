//! Scenario document layer: parses TOML/JSON scenario files into a spanned value tree and
//! reads it strictly, so every error names file, line, column, field path and what was expected.
//!
//! Layers, bottom up:
//! - [`parse`] turns a [`Source`] into a [`Node`] tree (TOML via `toml`'s spanned `DeTable`,
//!   JSON via a small recursive-descent parser in this module). Table entries keep source order.
//! - [`flatten`] joins nested tables into dotted names (`min.insync.replicas`), so TOML dotted
//!   keys and JSON `"min.insync.replicas"` keys read the same.
//! - [`TableReader`] and the `expect_*` functions map nodes onto a schema. Every getter marks its
//!   key as known; [`TableReader::finish`] rejects unread keys with a "did you mean" suggestion.
//!
//! Nothing in here panics on any input; all failures are [`LoadError`]s.

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

/// A scenario file: its path (for messages and format detection) and full text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: String,
    pub text: String,
}

impl Source {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        Source { path: path.into(), text: text.into() }
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
        LoadError {
            file: src.path.clone(),
            line,
            column,
            field: field.into(),
            expected: expected.into(),
            found: found.into(),
            excerpt: Some(Box::new(src.excerpt(&span))),
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

/// Parses `source.text` as TOML regardless of the path.
pub fn parse_toml(source: &Source) -> Result<Node, LoadError> {
    let root = toml::de::DeTable::parse(&source.text).map_err(|e| toml_error(source, &e))?;
    let entries = toml_table(source, root.get_ref(), "", 0)?;
    Ok(Node { span: 0..source.text.len(), value: Value::Table(entries) })
}

fn toml_error(src: &Source, err: &toml::de::Error) -> LoadError {
    let span = err.span().unwrap_or(0..0);
    let msg = err.message();
    if msg == "duplicate key" {
        let raw = src.text.get(span.clone()).unwrap_or("");
        let key = truncate(raw.lines().next().unwrap_or("").trim(), 60);
        let found = format!("a duplicate key `{key}`");
        return LoadError::at(src, span, key, "each key defined only once per table", found);
    }
    let found = describe_at(&src.text, span.start);
    LoadError::at(src, span, "", format!("valid TOML ({msg})"), found)
}

type TomlValue<'i> = toml::Spanned<toml::de::DeValue<'i>>;

fn toml_table(
    src: &Source,
    table: &toml::de::DeTable<'_>,
    path: &str,
    depth: usize,
) -> Result<Vec<(Key, Node)>, LoadError> {
    let mut entries = Vec::with_capacity(table.len());
    for (key, value) in table.iter() {
        let name = key.get_ref().to_string();
        let node = toml_value(src, value, &join(path, &name), depth + 1)?;
        entries.push((Key { name, span: key.span() }, node));
    }
    // `toml` stores tables sorted by name; restore source order.
    entries.sort_by_key(|(key, _)| key.span.start);
    Ok(entries)
}

fn toml_value(src: &Source, value: &TomlValue<'_>, path: &str, depth: usize) -> Result<Node, LoadError> {
    use toml::de::DeValue;
    let span = value.span();
    if depth > MAX_DEPTH {
        let expected = format!("nesting at most {MAX_DEPTH} levels deep");
        return Err(LoadError::at(src, span, path, expected, "deeper nesting"));
    }
    let err = |expected: &str, found: String| LoadError::at(src, span.clone(), path, expected, found);
    let value = match value.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::Int(n),
            Err(_) => return Err(err("an integer that fits in 64 bits", i.to_string())),
        },
        DeValue::Float(f) => match f.as_str().parse::<f64>() {
            Ok(x) if x.is_finite() => Value::Float(x),
            _ => return Err(err("a finite number", f.to_string())),
        },
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => {
            let expected = "a string, number, boolean, array or table (TOML dates are not supported)";
            return Err(err(expected, format!("the datetime {d}")));
        }
        DeValue::Array(items) => {
            let mut nodes = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                nodes.push(toml_value(src, item, &elem_path(path, i), depth + 1)?);
            }
            Value::Array(nodes)
        }
        DeValue::Table(t) => Value::Table(toml_table(src, t, path, depth)?),
    };
    Ok(Node { span, value })
}

/// Parses `source.text` as JSON regardless of the path. `null` is rejected.
pub fn parse_json(source: &Source) -> Result<Node, LoadError> {
    let mut parser = JsonParser {
        src: source,
        text: &source.text,
        bytes: source.text.as_bytes(),
        pos: 0,
        depth: 0,
        path: Vec::new(),
    };
    parser.document()
}

enum Seg {
    Key(String),
    Index(usize),
}

struct JsonParser<'s> {
    src: &'s Source,
    text: &'s str,
    bytes: &'s [u8],
    pos: usize,
    depth: usize,
    path: Vec<Seg>,
}

type JsonResult<T> = Result<T, LoadError>;

impl JsonParser<'_> {
    fn field(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Seg::Key(k) => out = join(&out, k),
                Seg::Index(i) => out = elem_path(&out, *i),
            }
        }
        out
    }

    fn err_at(&self, at: usize, expected: impl Into<String>, found: impl Into<String>) -> LoadError {
        LoadError::at(self.src, at..at + 1, self.field(), expected, found)
    }

    /// Error at the current position, describing whatever is there.
    fn err_here(&self, expected: impl Into<String>) -> LoadError {
        self.err_at(self.pos, expected, describe_at(self.text, self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn rest_starts_with(&self, s: &str) -> bool {
        self.bytes.get(self.pos..).is_some_and(|r| r.starts_with(s.as_bytes()))
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn document(&mut self) -> JsonResult<Node> {
        self.ws();
        let node = self.value()?;
        self.ws();
        if self.pos < self.bytes.len() {
            return Err(self.err_here("end of input after the JSON value"));
        }
        Ok(node)
    }

    fn value(&mut self) -> JsonResult<Node> {
        let start = self.pos;
        let value = match self.peek() {
            Some(b'{') => return self.object(),
            Some(b'[') => return self.array(),
            Some(b'"') => Value::Str(self.string()?),
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ if self.rest_starts_with("true") => self.literal(4, Value::Bool(true)),
            _ if self.rest_starts_with("false") => self.literal(5, Value::Bool(false)),
            _ if self.rest_starts_with("null") => {
                return Err(self.err_at(start, "a value (null is not allowed)", "null"));
            }
            _ => return Err(self.err_here("a JSON value")),
        };
        Ok(Node { span: start..self.pos, value })
    }

    fn literal(&mut self, len: usize, value: Value) -> Value {
        self.pos += len;
        value
    }

    fn enter(&mut self) -> JsonResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let expected = format!("nesting at most {MAX_DEPTH} levels deep");
            return Err(self.err_at(self.pos, expected, "deeper nesting"));
        }
        self.pos += 1;
        self.ws();
        Ok(())
    }

    fn object(&mut self) -> JsonResult<Node> {
        let start = self.pos;
        self.enter()?;
        let mut entries = Vec::new();
        let mut seen = HashSet::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                let (key, node) = self.member(&mut seen)?;
                entries.push((key, node));
                self.ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.err_here("`,` or `}`")),
                }
                self.ws();
            }
        }
        self.depth -= 1;
        Ok(Node { span: start..self.pos, value: Value::Table(entries) })
    }

    fn member(&mut self, seen: &mut HashSet<String>) -> JsonResult<(Key, Node)> {
        if self.peek() != Some(b'"') {
            return Err(self.err_here("a string key in double quotes"));
        }
        let key_start = self.pos;
        let name = self.string()?;
        let key = Key { span: key_start..self.pos, name };
        self.path.push(Seg::Key(key.name.clone()));
        if !seen.insert(key.name.clone()) {
            let found = format!("a duplicate key `{}`", key.name);
            let expected = "each key defined only once per object";
            return Err(LoadError::at(self.src, key.span, self.field(), expected, found));
        }
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.err_here("`:` after the key"));
        }
        self.pos += 1;
        self.ws();
        let node = self.value()?;
        self.path.pop();
        Ok((key, node))
    }

    fn array(&mut self) -> JsonResult<Node> {
        let start = self.pos;
        self.enter()?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                self.path.push(Seg::Index(items.len()));
                items.push(self.value()?);
                self.path.pop();
                self.ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.err_here("`,` or `]`")),
                }
                self.ws();
            }
        }
        self.depth -= 1;
        Ok(Node { span: start..self.pos, value: Value::Array(items) })
    }

    /// Parses a string starting at the opening quote.
    fn string(&mut self) -> JsonResult<String> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // Runs stop only at ASCII bytes, so both ends are char boundaries.
            out.push_str(self.text.get(run..self.pos).unwrap_or(""));
            match self.peek() {
                None => {
                    let expected = "a closing `\"` for this string";
                    return Err(self.err_at(open, expected, "end of input"));
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => return Err(self.err_here("no raw control characters in a string")),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> JsonResult<()> {
        let at = self.pos;
        self.pos += 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                return self.unicode_escape(at, out);
            }
            _ => {
                let expected = r#"an escape: \" \\ \/ \b \f \n \r \t or \uXXXX"#;
                return Err(self.err_here(expected));
            }
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self, at: usize) -> JsonResult<u32> {
        let digits = self.text.get(self.pos..self.pos + 4);
        let value =
            digits.filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit())).and_then(|d| u32::from_str_radix(d, 16).ok());
        match value {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.err_at(at, r"four hex digits after \u", "an invalid escape")),
        }
    }

    fn unicode_escape(&mut self, at: usize, out: &mut String) -> JsonResult<()> {
        let high = self.hex4(at)?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if !self.rest_starts_with("\\u") {
                let expected = r"a low surrogate \uDC00-\uDFFF after a high surrogate";
                return Err(self.err_at(at, expected, "a lone high surrogate"));
            }
            self.pos += 2;
            let low = self.hex4(at)?;
            if !(0xDC00..0xE000).contains(&low) {
                let expected = r"a low surrogate \uDC00-\uDFFF after a high surrogate";
                return Err(self.err_at(at, expected, format!(r"\u{low:04X}")));
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        match char::from_u32(code) {
            Some(c) => {
                out.push(c);
                Ok(())
            }
            None => Err(self.err_at(at, "a valid unicode scalar value", "a lone low surrogate")),
        }
    }

    fn digits(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn number(&mut self) -> JsonResult<Value> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => _ = self.digits(),
            _ => return Err(self.err_here("a digit")),
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            float = true;
            if !self.digits() {
                return Err(self.err_here("a digit after `.`"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            float = true;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !self.digits() {
                return Err(self.err_here("a digit in the exponent"));
            }
        }
        let literal = self.text.get(start..self.pos).unwrap_or("");
        match (float, literal.parse::<i64>(), literal.parse::<f64>()) {
            (false, Ok(i), _) => Ok(Value::Int(i)),
            (false, Err(_), _) => Err(self.err_at(start, "an integer that fits in 64 bits", literal)),
            (true, _, Ok(f)) if f.is_finite() => Ok(Value::Float(f)),
            (true, _, _) => Err(self.err_at(start, "a finite number", literal)),
        }
    }
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

// ---------------------------------------------------------------------------------------------
// Strict table reader
// ---------------------------------------------------------------------------------------------

struct Entry<'a> {
    key: Key,
    node: &'a Node,
    used: bool,
}

/// Strict reader over one table. Getters return `Ok(None)` for absent keys, an error (at the
/// value, naming the full field path) for present-but-invalid values, and record the key as
/// known. [`finish`](TableReader::finish) rejects any key that was never read.
pub struct TableReader<'a> {
    src: &'a Source,
    node: &'a Node,
    path: String,
    entries: Vec<Entry<'a>>,
    known: Vec<String>,
}

impl<'a> TableReader<'a> {
    /// Reader over `node`, which must be a table; `path` is its field path (`""` for the root).
    /// With `flat`, nested tables are read as dotted names (see [`flatten`]).
    pub fn new(src: &'a Source, node: &'a Node, path: &str, flat: bool) -> Result<Self, LoadError> {
        let Some(table) = node.as_table() else {
            return Err(LoadError::at_node(src, node, path, "a table"));
        };
        let pairs: Vec<(Key, &'a Node)> =
            if flat { flatten(src, node, path)? } else { table.iter().map(|(k, n)| (k.clone(), n)).collect() };
        let entries = pairs.into_iter().map(|(key, node)| Entry { key, node, used: false }).collect();
        Ok(TableReader { src, node, path: path.to_string(), entries, known: Vec::new() })
    }

    /// The source this reader reports errors against.
    pub fn source(&self) -> &'a Source {
        self.src
    }

    /// The table node itself.
    pub fn table_node(&self) -> &'a Node {
        self.node
    }

    /// Field path of `key` in this table, e.g. `topics[0].partitions`.
    pub fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Field path of this table itself.
    pub fn table_path(&self) -> &str {
        &self.path
    }

    /// All key names in source order (flattened names in flat mode). Does not mark them used.
    pub fn keys(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.key.name.clone()).collect()
    }

    /// Whether `key` is present (records it as known, does not mark it used).
    pub fn has(&mut self, key: &str) -> bool {
        self.remember(key);
        self.entries.iter().any(|e| e.key.name == key)
    }

    fn remember(&mut self, key: &str) {
        if !self.known.iter().any(|k| k == key) {
            self.known.push(key.to_string());
        }
    }

    /// Raw access: the value of `key`, marking it used and known.
    pub fn node(&mut self, key: &str) -> Option<&'a Node> {
        self.remember(key);
        let entry = self.entries.iter_mut().find(|e| e.key.name == key)?;
        entry.used = true;
        Some(entry.node)
    }

    fn get<T>(
        &mut self,
        key: &str,
        read: impl FnOnce(&'a Source, &'a Node, &str) -> Result<T, LoadError>,
    ) -> Result<Option<T>, LoadError> {
        match self.node(key) {
            Some(node) => read(self.src, node, &self.path(key)).map(Some),
            None => Ok(None),
        }
    }

    pub fn str(&mut self, key: &str) -> Result<Option<&'a str>, LoadError> {
        self.get(key, expect_str)
    }

    /// An integer in `min..=max`: "expected an integer from MIN to MAX".
    pub fn u64_in(&mut self, key: &str, min: u64, max: u64) -> Result<Option<u64>, LoadError> {
        self.get(key, |s, n, p| expect_u64_in(s, n, p, min, max))
    }

    pub fn i64_in(&mut self, key: &str, min: i64, max: i64) -> Result<Option<i64>, LoadError> {
        self.get(key, |s, n, p| expect_i64_in(s, n, p, min, max))
    }

    /// A number (integer or float) in `min..=max`.
    pub fn f64_in(&mut self, key: &str, min: f64, max: f64) -> Result<Option<f64>, LoadError> {
        self.get(key, |s, n, p| expect_f64_in(s, n, p, min, max))
    }

    pub fn bool(&mut self, key: &str) -> Result<Option<bool>, LoadError> {
        self.get(key, expect_bool)
    }

    /// A string that must be one of `options`.
    pub fn one_of(&mut self, key: &str, options: &[&str]) -> Result<Option<&'a str>, LoadError> {
        self.get(key, |s, n, p| expect_one_of(s, n, p, options))
    }

    /// A duration string ("250ms", "1.5s", "0"), in microseconds. Bare integers are rejected.
    pub fn duration_us(&mut self, key: &str) -> Result<Option<u64>, LoadError> {
        self.get(key, expect_duration_us)
    }

    /// A Kafka `*.ms` property: integer milliseconds or a duration string, in microseconds.
    pub fn ms_as_us(&mut self, key: &str) -> Result<Option<u64>, LoadError> {
        self.get(key, expect_ms_as_us)
    }

    /// A sub-table, read by a new reader whose path is `path(key)`.
    pub fn table(&mut self, key: &str, flat: bool) -> Result<Option<TableReader<'a>>, LoadError> {
        self.get(key, |s, n, p| TableReader::new(s, n, p, flat))
    }

    /// An array; element paths are `elem_path(&reader.path(key), i)`.
    pub fn array(&mut self, key: &str) -> Result<Option<&'a [Node]>, LoadError> {
        self.get(key, expect_array)
    }

    /// Turns an absent required field into a "missing field" error at this table.
    pub fn required<T>(&self, key: &str, value: Option<T>, expected: &str) -> Result<T, LoadError> {
        value.ok_or_else(|| self.missing(key, expected))
    }

    /// A "missing field" error located at this table.
    pub fn missing(&self, key: &str, expected: &str) -> LoadError {
        let found = "nothing (the field is missing)";
        LoadError::at(self.src, self.node.span.clone(), self.path(key), expected, found)
    }

    /// An error at `key`'s value (or at this table if `key` is absent).
    pub fn error_at(&self, key: &str, expected: impl Into<String>, found: impl Into<String>) -> LoadError {
        let span =
            self.entries.iter().find(|e| e.key.name == key).map_or(self.node.span.clone(), |e| e.node.span.clone());
        LoadError::at(self.src, span, self.path(key), expected, found)
    }

    /// `key`'s value as the file wrote it (`"50s"`), or, when the key is absent, `default_us` as a time: what an
    /// error about a duration shows, in the user's unit.
    pub fn written_or(&self, key: &str, default_us: u64) -> String {
        let entry = self.entries.iter().find(|e| e.key.name == key);
        let text = entry.and_then(|e| self.src.text.get(e.node.span.clone())).map(str::trim);
        text.map_or_else(|| format!("{} (the default)", crate::engine::SimTime(default_us)), str::to_string)
    }

    /// An error about this table as a whole.
    pub fn error_here(&self, expected: impl Into<String>, found: impl Into<String>) -> LoadError {
        LoadError::at(self.src, self.node.span.clone(), self.path.clone(), expected, found)
    }

    /// Fails on the first (in source order) key never read, suggesting the closest known key.
    pub fn finish(self) -> Result<(), LoadError> {
        let Some(entry) = self.entries.iter().find(|e| !e.used) else {
            return Ok(());
        };
        let name = &entry.key.name;
        let expected = match closest(name, &self.known) {
            Some(best) => format!("one of the known fields; did you mean `{best}`?"),
            None if self.known.is_empty() => "no fields here".to_string(),
            None => {
                let list: Vec<String> = self.known.iter().map(|k| format!("`{k}`")).collect();
                format!("one of the known fields: {}", list.join(", "))
            }
        };
        let found = format!("unknown field `{name}`");
        let span = entry.key.span.clone();
        Err(LoadError::at(self.src, span, self.path(name), expected, found))
    }
}

// ---------------------------------------------------------------------------------------------
// Typed node readers (usable on array elements)
// ---------------------------------------------------------------------------------------------

/// A reader over a table node (e.g. an array element); same as [`TableReader::new`].
pub fn expect_table<'a>(src: &'a Source, node: &'a Node, path: &str, flat: bool) -> Result<TableReader<'a>, LoadError> {
    TableReader::new(src, node, path, flat)
}

pub fn expect_str<'a>(src: &Source, node: &'a Node, path: &str) -> Result<&'a str, LoadError> {
    node.as_str().ok_or_else(|| LoadError::at_node(src, node, path, "a string"))
}

pub fn expect_array<'a>(src: &Source, node: &'a Node, path: &str) -> Result<&'a [Node], LoadError> {
    match &node.value {
        Value::Array(items) => Ok(items),
        _ => Err(LoadError::at_node(src, node, path, "an array")),
    }
}

pub fn expect_bool(src: &Source, node: &Node, path: &str) -> Result<bool, LoadError> {
    match node.value {
        Value::Bool(b) => Ok(b),
        _ => Err(LoadError::at_node(src, node, path, "true or false")),
    }
}

pub fn expect_i64_in(src: &Source, node: &Node, path: &str, min: i64, max: i64) -> Result<i64, LoadError> {
    match node.value {
        Value::Int(i) if (min..=max).contains(&i) => Ok(i),
        _ => Err(LoadError::at_node(src, node, path, format!("an integer from {min} to {max}"))),
    }
}

pub fn expect_u64_in(src: &Source, node: &Node, path: &str, min: u64, max: u64) -> Result<u64, LoadError> {
    match node.value {
        Value::Int(i) if u64::try_from(i).is_ok_and(|u| (min..=max).contains(&u)) => Ok(i.unsigned_abs()),
        _ => Err(LoadError::at_node(src, node, path, format!("an integer from {min} to {max}"))),
    }
}

/// A number (integer or float) in `min..=max`.
pub fn expect_f64_in(src: &Source, node: &Node, path: &str, min: f64, max: f64) -> Result<f64, LoadError> {
    let x = match node.value {
        Value::Int(i) => i as f64,
        Value::Float(f) => f,
        _ => f64::NAN,
    };
    if x >= min && x <= max {
        Ok(x)
    } else {
        Err(LoadError::at_node(src, node, path, format!("a number from {min:?} to {max:?}")))
    }
}

pub fn expect_one_of<'a>(src: &Source, node: &'a Node, path: &str, options: &[&str]) -> Result<&'a str, LoadError> {
    let s = node.as_str();
    if let Some(s) = s.filter(|s| options.contains(s)) {
        return Ok(s);
    }
    let list: Vec<String> = options.iter().map(|o| format!("{o:?}")).collect();
    let mut expected = format!("one of {}", list.join(", "));
    let known: Vec<String> = options.iter().map(|o| o.to_string()).collect();
    if let Some(best) = s.and_then(|s| closest(s, &known)) {
        expected.push_str(&format!("; did you mean {best:?}?"));
    }
    Err(LoadError::at_node(src, node, path, expected))
}

const DURATION_FORMS: &str = r#"a duration string with a unit: "100us", "250ms", "1.5s", "2m", "1h" (or "0")"#;

/// A duration string, in microseconds. Integer literals are rejected (the unit is required).
pub fn expect_duration_us(src: &Source, node: &Node, path: &str) -> Result<u64, LoadError> {
    match &node.value {
        Value::Str(s) => parse_duration_us(s).ok_or_else(|| LoadError::at_node(src, node, path, DURATION_FORMS)),
        Value::Int(i) => {
            let found = format!("the bare number {i} (add a unit, e.g. \"{i}ms\")");
            Err(LoadError::at(src, node.span.clone(), path, DURATION_FORMS, found))
        }
        _ => Err(LoadError::at_node(src, node, path, DURATION_FORMS)),
    }
}

/// A Kafka `*.ms` property: a non-negative integer number of milliseconds, or a duration
/// string such as "250ms"; returned in microseconds.
pub fn expect_ms_as_us(src: &Source, node: &Node, path: &str) -> Result<u64, LoadError> {
    let value = match &node.value {
        Value::Int(ms) => u64::try_from(*ms).ok().and_then(|ms| ms.checked_mul(1_000)),
        // A `.ms` property is a whole number of milliseconds in Kafka: "1500us" is not one.
        Value::Str(s) => parse_duration_us(s).filter(|us| us % 1_000 == 0),
        _ => None,
    };
    value.ok_or_else(|| {
        let expected = r#"a whole number of milliseconds (e.g. 250) or a duration string like "250ms" or "1.5s""#;
        LoadError::at_node(src, node, path, expected)
    })
}

// ---------------------------------------------------------------------------------------------
// Durations and suggestions
// ---------------------------------------------------------------------------------------------

/// Parses "100us", "250ms", "30s", "1.5s", "2m", "1h" or "0" into microseconds. Decimals are
/// allowed if the result is a whole number of microseconds; negatives, missing units,
/// whitespace and overflow give `None`.
pub fn parse_duration_us(s: &str) -> Option<u64> {
    if s == "0" {
        return Some(0);
    }
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = s.split_at(split);
    let multiplier: u64 = match unit {
        "us" | "µs" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        _ => return None,
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(frac) || (number.contains('.') && frac.is_empty()) {
        return None;
    }
    let whole_us = whole.parse::<u64>().ok()?.checked_mul(multiplier)?;
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        return Some(whole_us);
    }
    if frac.len() > 18 {
        return None;
    }
    let scale = 10u128.pow(u32::try_from(frac.len()).ok()?);
    let scaled = frac.parse::<u128>().ok()? * u128::from(multiplier);
    if scaled % scale != 0 {
        return None;
    }
    whole_us.checked_add(u64::try_from(scaled / scale).ok()?)
}

/// The known name closest to `name` by edit distance, if within 3 edits (and not a total rewrite).
fn closest<'k>(name: &str, known: &'k [String]) -> Option<&'k str> {
    if name.chars().count() > 64 {
        return None;
    }
    known
        .iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d <= 3 && *d < k.chars().count().max(name.chars().count()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
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
