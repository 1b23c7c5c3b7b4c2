//! TOML documents, through `toml`'s spanned tables.

use super::*;

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
