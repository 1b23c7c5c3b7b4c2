//! Reading a table strictly: getters that name the field and what was expected, unknown keys refused with a
//! suggestion.

use super::schema::{Shape, note, note_open};
use super::*;

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

    /// The keys starting with `prefix` (`types.`), whose rest the file chooses (a record type's name), in source
    /// order. Does not mark them used.
    pub fn keys_under(&self, prefix: &str) -> Vec<String> {
        note_open(&self.path(prefix.trim_end_matches('.')));
        self.entries.iter().map(|e| e.key.name.clone()).filter(|k| k.starts_with(prefix)).collect()
    }

    /// Whether `key` is present (records it as known, does not mark it used).
    pub fn has(&mut self, key: &str) -> bool {
        self.remember(key);
        self.entries.iter().any(|e| e.key.name == key)
    }

    fn remember(&mut self, key: &str) {
        note(&self.path(key), Shape::Any);
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

    /// Notes what `key`'s value must be, for the scenario file's schema (`schema::record`): the typed getters do
    /// it themselves; a key read by hand (several forms) says its forms with this, one call each.
    pub fn shaped(&mut self, key: &str, shape: Shape) -> &mut Self {
        note(&self.path(key), shape);
        self
    }

    pub fn str(&mut self, key: &str) -> Result<Option<&'a str>, LoadError> {
        self.shaped(key, Shape::Str).get(key, expect_str)
    }

    /// An integer in `min..=max`: "expected an integer from MIN to MAX".
    pub fn u64_in(&mut self, key: &str, min: u64, max: u64) -> Result<Option<u64>, LoadError> {
        let shape = Shape::Integer { min: min.into(), max: max.into() };
        self.shaped(key, shape).get(key, |s, n, p| expect_u64_in(s, n, p, min, max))
    }

    pub fn i64_in(&mut self, key: &str, min: i64, max: i64) -> Result<Option<i64>, LoadError> {
        let shape = Shape::Integer { min: min.into(), max: max.into() };
        self.shaped(key, shape).get(key, |s, n, p| expect_i64_in(s, n, p, min, max))
    }

    /// A number (integer or float) in `min..=max`.
    pub fn f64_in(&mut self, key: &str, min: f64, max: f64) -> Result<Option<f64>, LoadError> {
        self.shaped(key, Shape::Number { min, max }).get(key, |s, n, p| expect_f64_in(s, n, p, min, max))
    }

    pub fn bool(&mut self, key: &str) -> Result<Option<bool>, LoadError> {
        self.shaped(key, Shape::Bool).get(key, expect_bool)
    }

    /// A string that must be one of `options`.
    pub fn one_of(&mut self, key: &str, options: &[&str]) -> Result<Option<&'a str>, LoadError> {
        let shape = Shape::OneOf(options.iter().map(|o| o.to_string()).collect());
        self.shaped(key, shape).get(key, |s, n, p| expect_one_of(s, n, p, options))
    }

    /// A duration string ("250ms", "1.5s", "0"), in microseconds. Bare integers are rejected.
    pub fn duration_us(&mut self, key: &str) -> Result<Option<u64>, LoadError> {
        self.shaped(key, Shape::Duration).get(key, expect_duration_us)
    }

    /// A Kafka `*.ms` property: integer milliseconds or a duration string, in microseconds.
    pub fn ms_as_us(&mut self, key: &str) -> Result<Option<u64>, LoadError> {
        self.shaped(key, Shape::Millis).get(key, expect_ms_as_us)
    }

    /// A sub-table, read by a new reader whose path is `path(key)`.
    pub fn table(&mut self, key: &str, flat: bool) -> Result<Option<TableReader<'a>>, LoadError> {
        self.shaped(key, Shape::Table).get(key, |s, n, p| TableReader::new(s, n, p, flat))
    }

    /// An array; element paths are `elem_path(&reader.path(key), i)`.
    pub fn array(&mut self, key: &str) -> Result<Option<&'a [Node]>, LoadError> {
        self.shaped(key, Shape::Array).get(key, expect_array)
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
    note(path, Shape::Table);
    TableReader::new(src, node, path, flat)
}

pub fn expect_str<'a>(src: &Source, node: &'a Node, path: &str) -> Result<&'a str, LoadError> {
    note(path, Shape::Str);
    node.as_str().ok_or_else(|| LoadError::at_node(src, node, path, "a string"))
}

pub fn expect_array<'a>(src: &Source, node: &'a Node, path: &str) -> Result<&'a [Node], LoadError> {
    note(path, Shape::Array);
    match &node.value {
        Value::Array(items) => Ok(items),
        _ => Err(LoadError::at_node(src, node, path, "an array")),
    }
}

pub fn expect_bool(src: &Source, node: &Node, path: &str) -> Result<bool, LoadError> {
    note(path, Shape::Bool);
    match node.value {
        Value::Bool(b) => Ok(b),
        _ => Err(LoadError::at_node(src, node, path, "true or false")),
    }
}

pub fn expect_i64_in(src: &Source, node: &Node, path: &str, min: i64, max: i64) -> Result<i64, LoadError> {
    note(path, Shape::Integer { min: min.into(), max: max.into() });
    match node.value {
        Value::Int(i) if (min..=max).contains(&i) => Ok(i),
        _ => Err(LoadError::at_node(src, node, path, format!("an integer from {min} to {max}"))),
    }
}

pub fn expect_u64_in(src: &Source, node: &Node, path: &str, min: u64, max: u64) -> Result<u64, LoadError> {
    note(path, Shape::Integer { min: min.into(), max: max.into() });
    match node.value {
        Value::Int(i) if u64::try_from(i).is_ok_and(|u| (min..=max).contains(&u)) => Ok(i.unsigned_abs()),
        _ => Err(LoadError::at_node(src, node, path, format!("an integer from {min} to {max}"))),
    }
}

/// A number (integer or float) in `min..=max`.
pub fn expect_f64_in(src: &Source, node: &Node, path: &str, min: f64, max: f64) -> Result<f64, LoadError> {
    note(path, Shape::Number { min, max });
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
    note(path, Shape::OneOf(options.iter().map(|o| o.to_string()).collect()));
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
