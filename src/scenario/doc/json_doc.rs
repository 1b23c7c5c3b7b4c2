//! JSON documents: a small recursive-descent parser that keeps spans and source order and rejects `null`.

use super::*;

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
