//! Jepsen's Kafka workload histories (`jepsen.tests.kafka`, `history.edn`) read as a `History`, so `insync check`
//! judges them with the same invariants.
//!
//! A Jepsen op is a map with `:type` (`:invoke`, `:ok`, `:fail`, `:info`), `:f`, `:value`, `:process` and `:time`
//! (nanoseconds). How each becomes events:
//!
//! - A key is a partition of its own (`KEY-0`, topic `KEY`): the workload maps keys to topic-partitions one to one.
//! - `:send` micro-ops `[:send k v]`: the invocation is a `send_invoked` per micro-op, with the process as the
//!   producer; the completion `[:send k [offset v]]` an acknowledgement (`:ok`), a definite failure (`:fail`), or an
//!   indeterminate one (`:info`) whose offsets count only when a value it sent was read by an `:ok` poll (kafka.clj
//!   `must-have-committed?`). Values are unique per key: a value read is the record its sender sent.
//! - `:poll`: the invocation is a `poll_invoked`; an `:ok` completion `[:poll {k [[offset v] …]}]` a `polled` range per
//!   key (lowest to highest offset) and a `processed` per pair. `:info` and `:fail` polls read nothing (Jepsen reads
//!   only `:ok` polls). A key in the op's `:rebalance-log` has no `polled` range: the poll's reads of it are not held
//!   to contiguity (as `int-poll-skip+nonmonotonic-cases` skips rebalanced keys).
//! - Every consumer process is in one group, `jepsen`, and starts owning every key (Jepsen compares a process's
//!   polls of a key from its first poll on); `:assign` (manual, generation -1) and `:subscribe` (a new generation,
//!   and `subscribed` to the keys' topics) keep the positions of the keys they list only, completed `:ok` or `:info`
//!   (kafka.clj `poll-skip+nonmonotonic-cases-per-process`). `:seek-to-beginning? true` seeks each key to 0.
//! - `:crash`, and a consumer's `:info` completion, are a `consumer_crashed`: Jepsen then uses a new process.
//! - `:txn` ops are refused: transactions are not modelled, so judging them would misjudge.

use super::{ClientEvent, HISTORY_VERSION, History};
use edn_format::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Nested deeper than this, a form is refused before parsing (the parser recurses; ops nest about five deep).
pub const MAX_DEPTH: usize = 64;

/// Why a Jepsen history could not be read: where (1-based line and column in the file) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdnError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One top-level form of the file: its text and where it starts.
struct Form<'a> {
    text: &'a str,
    line: usize,
    column: usize,
}

/// Reads a Jepsen Kafka history (one op map per top-level form) into a history of version 2.
pub fn read(text: &str) -> Result<History, EdnError> {
    let mut ops = Vec::new();
    for form in forms(text)? {
        let at = |message: String| EdnError { line: form.line, column: form.column, message };
        let value = edn_format::parse_str(form.text).map_err(|e| {
            let column = if e.row <= 1 { form.column + e.col.saturating_sub(1) } else { e.col };
            EdnError { line: form.line + e.row.saturating_sub(1), column, message: e.error.to_string() }
        })?;
        ops.push(Op::of(&value).map_err(at)?.with_place(form.line, form.column));
    }
    Translation::new(&ops)?.run(&ops)
}

/// Splits the text into top-level forms, outside strings, characters and comments; refuses one nested deeper
/// than `MAX_DEPTH`.
fn forms(text: &str) -> Result<Vec<Form<'_>>, EdnError> {
    let mut out = Vec::new();
    // The open brackets, each with where it opened.
    let mut open: Vec<(char, usize, usize)> = Vec::new();
    let mut start = None::<(usize, usize, usize)>;
    let (mut line, mut column) = (1usize, 0usize);
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        (line, column) = if c == '\n' { (line + 1, 0) } else { (line, column + 1) };
        let atom_ends = |next: Option<&(usize, char)>| {
            next.is_none_or(|&(_, n)| n.is_whitespace() || n == ',' || "()[]{}\";".contains(n))
        };
        match c {
            // Outside strings (skipped whole below), a ';' starts a comment to the end of the line.
            ';' => {
                while chars.peek().is_some_and(|&(_, n)| n != '\n') {
                    chars.next();
                }
                continue;
            }
            c if (c.is_whitespace() || c == ',') && open.is_empty() => continue,
            _ => {}
        }
        if start.is_none() {
            start = Some((i, line, column));
        }
        match c {
            '"' => skip_string(&mut chars, &mut line, &mut column),
            '\\' => {
                chars.next();
                column += 1;
            }
            '(' | '[' | '{' => {
                if open.len() == MAX_DEPTH {
                    let message = format!("nested deeper than {MAX_DEPTH} levels");
                    return Err(EdnError { line, column, message });
                }
                open.push((c, line, column));
            }
            ')' | ']' | '}' => match open.pop() {
                Some((o, _, _)) if closer(o) == c => {}
                Some((o, l, col)) => {
                    let message = format!("expected '{}' to close the '{o}' at {l}:{col}, found '{c}'", closer(o));
                    return Err(EdnError { line, column, message });
                }
                None => return Err(EdnError { line, column, message: format!("unmatched '{c}'") }),
            },
            _ => {}
        }
        let depth = open.len();
        // A tagged form (`#inst "…"`, `#jepsen.history.Op{…}`, a set `#{…}`) runs on through its tag.
        let tagged = start.is_some_and(|(from, _, _)| text[from..].starts_with('#'));
        let closed = matches!(c, ')' | ']' | '}' | '"');
        let ended = depth == 0 && (closed || (!tagged && atom_ends(chars.peek())));
        if let (true, Some((from, l, col))) = (ended, start) {
            let to = chars.peek().map_or(text.len(), |&(j, _)| j);
            out.push(Form { text: &text[from..to], line: l, column: col });
            start = None;
        }
    }
    match (open.last(), start) {
        (Some(&(o, line, column)), _) => Err(EdnError { line, column, message: format!("'{o}' is never closed") }),
        (None, Some((_, line, column))) => Err(EdnError { line, column, message: "unterminated form".into() }),
        (None, None) => Ok(out),
    }
}

fn closer(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

/// Moves past a string's characters to its closing quote.
fn skip_string(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, line: &mut usize, column: &mut usize) {
    while let Some((_, c)) = chars.next() {
        (*line, *column) = if c == '\n' { (*line + 1, 0) } else { (*line, *column + 1) };
        match c {
            '\\' => {
                chars.next();
                *column += 1;
            }
            '"' => return,
            _ => {}
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Type {
    Invoke,
    Ok,
    Fail,
    Info,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum F {
    Send,
    Poll,
    Assign,
    Subscribe,
    Crash,
    Txn,
    /// Any other function (a nemesis's, `:debug-topic-partitions`): not a client's observation.
    Other,
}

/// A micro-op: `[:send k v]` (with the offset when the completion knows it) or one key's reads of a `[:poll {…}]`.
#[derive(Clone, Debug)]
enum Mop {
    Send { key: Value, value: Value, offset: Option<u64> },
    Poll { key: Value, reads: Vec<(u64, Value)> },
}

/// One Jepsen op, as far as the checker needs it.
#[derive(Clone, Debug)]
struct Op {
    kind: Type,
    f: F,
    process: Option<i64>,
    time_ns: Option<u64>,
    mops: Vec<Mop>,
    /// The keys of `:assign` / `:subscribe`.
    keys: Vec<Value>,
    seek_to_beginning: bool,
    /// Keys an `:ok` poll's `:rebalance-log` names.
    rebalanced: BTreeSet<Value>,
    error: Option<String>,
    line: usize,
    column: usize,
}

fn field<'v>(map: &'v BTreeMap<Value, Value>, name: &str) -> Option<&'v Value> {
    // A Jepsen Op record may print as `#jepsen.history.Op{…}`, whose keys the reader namespaces: match the name.
    map.iter().find(|(k, _)| matches!(k, Value::Keyword(kw) if kw.name() == name)).map(|(_, v)| v)
}

fn keyword(value: &Value) -> Option<&str> {
    match value {
        Value::Keyword(k) => Some(k.name()),
        _ => None,
    }
}

fn offset(value: &Value, what: &str) -> Result<Option<u64>, String> {
    match value {
        Value::Nil => Ok(None),
        Value::Integer(o) if *o >= 0 => Ok(Some(*o as u64)),
        other => Err(format!("{what}: expected an offset (an integer ≥ 0, or nil), found {other}")),
    }
}

impl Op {
    fn of(value: &Value) -> Result<Op, String> {
        let map = match value {
            Value::Map(m) => m,
            Value::TaggedElement(_, inner) => match inner.as_ref() {
                Value::Map(m) => m,
                _ => return Err(format!("expected an op map {{:type … :f … :value …}}, found {value}")),
            },
            _ => return Err(format!("expected an op map {{:type … :f … :value …}}, found {value}")),
        };
        let kind = match field(map, "type").and_then(keyword) {
            Some("invoke") => Type::Invoke,
            Some("ok") => Type::Ok,
            Some("fail") => Type::Fail,
            Some("info") => Type::Info,
            _ => return Err("op :type: expected :invoke, :ok, :fail or :info".into()),
        };
        let f = match field(map, "f").and_then(keyword) {
            Some("send") => F::Send,
            Some("poll") => F::Poll,
            Some("assign") => F::Assign,
            Some("subscribe") => F::Subscribe,
            Some("crash") => F::Crash,
            Some("txn") => F::Txn,
            _ => F::Other,
        };
        let process = match field(map, "process") {
            Some(Value::Integer(p)) => Some(*p),
            _ => None,
        };
        let time_ns = match field(map, "time") {
            Some(Value::Integer(t)) if *t >= 0 => Some(*t as u64),
            None | Some(Value::Nil) => None,
            Some(other) => return Err(format!("op :time: expected nanoseconds (an integer ≥ 0), found {other}")),
        };
        let value = field(map, "value").unwrap_or(&Value::Nil);
        let mops = match f {
            F::Send | F::Poll => mops(value)?,
            _ => Vec::new(),
        };
        let keys = match (f, value) {
            (F::Assign | F::Subscribe, Value::Vector(ks) | Value::List(ks)) => ks.clone(),
            (F::Assign | F::Subscribe, Value::Set(ks)) => ks.iter().cloned().collect(),
            (F::Assign | F::Subscribe, other) => return Err(format!("{other}: expected a vector of keys")),
            _ => Vec::new(),
        };
        let seek_to_beginning = matches!(field(map, "seek-to-beginning?"), Some(Value::Boolean(true)));
        let rebalanced = rebalanced_keys(field(map, "rebalance-log"));
        let error = field(map, "error").map(edn_format::emit_str);
        Ok(Op { kind, f, process, time_ns, mops, keys, seek_to_beginning, rebalanced, error, line: 0, column: 0 })
    }

    fn with_place(self, line: usize, column: usize) -> Op {
        Op { line, column, ..self }
    }

    fn at(&self, message: String) -> EdnError {
        EdnError { line: self.line, column: self.column, message }
    }
}

/// The keys a `:rebalance-log` (`[{:keys [k …]} …]`) names.
fn rebalanced_keys(log: Option<&Value>) -> BTreeSet<Value> {
    let Some(Value::Vector(events) | Value::List(events)) = log else { return BTreeSet::new() };
    let keys = events.iter().filter_map(|e| match e {
        Value::Map(m) => match field(m, "keys") {
            Some(Value::Vector(ks) | Value::List(ks)) => Some(ks.clone()),
            Some(Value::Set(ks)) => Some(ks.iter().cloned().collect()),
            _ => None,
        },
        _ => None,
    });
    keys.flatten().collect()
}

/// The micro-ops of a `:send` or `:poll` op's `:value`.
fn mops(value: &Value) -> Result<Vec<Mop>, String> {
    let (Value::Vector(list) | Value::List(list)) = value else {
        return Err(format!("op :value: expected a vector of micro-ops, found {value}"));
    };
    let mut out = Vec::new();
    for mop in list {
        let parts = match mop {
            Value::Vector(p) | Value::List(p) => p.as_slice(),
            other => return Err(format!("micro-op {other}: expected [:send key value] or [:poll …]")),
        };
        match (parts.first().and_then(keyword), parts) {
            (Some("send"), [_, key, sent]) => {
                let (offset, value) = match sent {
                    Value::Vector(pair) if pair.len() == 2 => (offset(&pair[0], "[:send k [offset v]]")?, &pair[1]),
                    v => (None, v),
                };
                out.push(Mop::Send { key: key.clone(), value: value.clone(), offset });
            }
            (Some("poll"), [_]) => {}
            (Some("poll"), [_, Value::Map(by_key)]) => {
                for (key, pairs) in by_key {
                    out.push(Mop::Poll { key: key.clone(), reads: poll_pairs(pairs)? });
                }
            }
            _ => {
                return Err(format!(
                    "micro-op {mop}: expected [:send key value] or [:poll {{key [[offset value] …]}}]"
                ));
            }
        }
    }
    Ok(out)
}

fn poll_pairs(pairs: &Value) -> Result<Vec<(u64, Value)>, String> {
    let (Value::Vector(list) | Value::List(list)) = pairs else {
        return Err(format!("{pairs}: expected a vector of [offset value] pairs"));
    };
    let mut out = Vec::with_capacity(list.len());
    for pair in list {
        match pair {
            Value::Vector(p) if p.len() == 2 => match offset(&p[0], "[offset value]")? {
                Some(o) => out.push((o, p[1].clone())),
                None => return Err(format!("{pair}: a polled record needs its offset")),
            },
            other => return Err(format!("{other}: expected an [offset value] pair")),
        }
    }
    Ok(out)
}

/// The tables a translation builds before it writes events: keys, processes, who sent which value.
struct Translation {
    keys: BTreeMap<Value, u32>,
    key_names: Vec<String>,
    producers: BTreeMap<i64, u32>,
    consumers: BTreeMap<i64, u32>,
    /// The values an `:ok` poll read, per key (kafka.clj `reads-by-type` :ok).
    read_ok: BTreeSet<(u32, Value)>,
    /// Per op, the records its sends are, in micro-op order: an invocation's, repeated on its completion.
    sends: Vec<Vec<(u32, u64)>>,
    /// Who sent each (key, value): the first send of it. Values are unique per key in Jepsen's workload.
    writers: BTreeMap<(u32, Value), (u32, u64)>,
    /// How many sends each producer made.
    sent: Vec<u64>,
    /// The send completions whose invocation the history lacks (hand-written histories): invoked there.
    uninvoked: BTreeSet<usize>,
}

impl Translation {
    fn new(ops: &[Op]) -> Result<Self, EdnError> {
        if let Some(txn) = ops.iter().find(|o| o.f == F::Txn) {
            let n = ops.iter().filter(|o| o.f == F::Txn).count();
            let message = format!("{n} :txn ops: transactions are not modelled, so insync does not judge them");
            return Err(txn.at(message));
        }
        let mut t = Translation {
            keys: BTreeMap::new(),
            key_names: Vec::new(),
            producers: BTreeMap::new(),
            consumers: BTreeMap::new(),
            read_ok: BTreeSet::new(),
            sends: Vec::new(),
            writers: BTreeMap::new(),
            sent: Vec::new(),
            uninvoked: BTreeSet::new(),
        };
        for op in ops {
            for key in op.keys.iter().chain(op.mops.iter().map(|m| match m {
                Mop::Send { key, .. } | Mop::Poll { key, .. } => key,
            })) {
                t.key(key);
            }
            let Some(p) = op.process else { continue };
            match op.f {
                F::Send => _ = t.producers.entry(p).or_insert(0),
                F::Poll | F::Assign | F::Subscribe => _ = t.consumers.entry(p).or_insert(0),
                _ => {}
            }
        }
        for (i, index) in t.producers.values_mut().enumerate() {
            *index = i as u32;
        }
        for (i, index) in t.consumers.values_mut().enumerate() {
            *index = i as u32;
        }
        t.number_sends(ops);
        for op in ops.iter().filter(|o| o.kind == Type::Ok) {
            for mop in &op.mops {
                if let Mop::Poll { key, reads } = mop {
                    let k = t.keys[key];
                    t.read_ok.extend(reads.iter().map(|(_, v)| (k, v.clone())));
                }
            }
        }
        Ok(t)
    }

    /// Numbers each producer's sends in invocation order (a completion without an invocation, as hand-written
    /// histories have, numbers its own) and notes who sent each value.
    fn number_sends(&mut self, ops: &[Op]) {
        self.sent = vec![0; self.producers.len()];
        let mut pending: BTreeMap<i64, Vec<(u32, u64)>> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            let mut records = Vec::new();
            if let (F::Send, Some(process)) = (op.f, op.process) {
                let invoked = if op.kind == Type::Invoke { None } else { pending.remove(&process) };
                records = invoked.unwrap_or_else(|| {
                    if op.kind != Type::Invoke {
                        self.uninvoked.insert(i);
                    }
                    self.number(process, op)
                });
                if op.kind == Type::Invoke {
                    pending.insert(process, records.clone());
                }
            }
            self.sends.push(records);
        }
    }

    fn number(&mut self, process: i64, op: &Op) -> Vec<(u32, u64)> {
        let producer = self.producers[&process];
        let mut records = Vec::new();
        for mop in &op.mops {
            let Mop::Send { key, value, .. } = mop else { continue };
            let record = (producer, self.sent[producer as usize]);
            self.sent[producer as usize] += 1;
            self.writers.entry((self.keys[key], value.clone())).or_insert(record);
            records.push(record);
        }
        records
    }

    fn key(&mut self, key: &Value) -> u32 {
        if let Some(&k) = self.keys.get(key) {
            return k;
        }
        let shown = match key {
            Value::Keyword(k) => k.name().to_string(),
            Value::String(s) => s.clone(),
            other => edn_format::emit_str(other),
        };
        let mut name = format!("{shown}-0");
        if self.key_names.contains(&name) {
            name = format!("{}-0", edn_format::emit_str(key));
        }
        let k = self.key_names.len() as u32;
        self.key_names.push(name);
        self.keys.insert(key.clone(), k);
        k
    }

    fn run(self, ops: &[Op]) -> Result<History, EdnError> {
        let mut w = Writer::new(&self);
        for (i, op) in ops.iter().enumerate() {
            if self.uninvoked.contains(&i) {
                w.invoke_sends(op, &self.sends[i]);
            }
            w.op(op, &self.sends[i])?;
        }
        Ok(w.history)
    }
}

struct Writer<'t> {
    t: &'t Translation,
    history: History,
    /// Values read that nobody was seen sending: each a record of "an unknown writer", numbered as first read.
    unknown: BTreeMap<(u32, Value), (u32, u64)>,
    generation: BTreeMap<u32, i32>,
    time_us: u64,
}

impl<'t> Writer<'t> {
    fn new(t: &'t Translation) -> Self {
        let producers = t.producers.keys().map(|p| format!("process {p}")).collect();
        let mut history = History::new(t.key_names.clone(), producers);
        history.version = HISTORY_VERSION;
        history.consumers = t.consumers.keys().map(|p| format!("process {p}")).collect();
        history.groups = vec!["jepsen".into()];
        let mut w = Writer { t, history, unknown: BTreeMap::new(), generation: BTreeMap::new(), time_us: 0 };
        // Jepsen compares a process's polls of a key from its first poll: each consumer owns every key at the start.
        let every_key: Vec<u32> = (0..t.key_names.len() as u32).collect();
        for &consumer in t.consumers.values() {
            w.push(ClientEvent::Assigned { consumer, group: 0, generation: -1, partitions: every_key.clone() });
            w.generation.insert(consumer, -1);
        }
        w
    }

    fn push(&mut self, event: ClientEvent) {
        self.history.push(self.time_us, event);
    }

    fn op(&mut self, op: &Op, records: &[(u32, u64)]) -> Result<(), EdnError> {
        if let Some(t) = op.time_ns {
            self.time_us = self.time_us.max(t / 1_000);
        }
        let Some(process) = op.process else { return Ok(()) };
        // Every process that polls, assigns or subscribes is a consumer (`Translation::new`).
        let consumer = self.t.consumers.get(&process).copied();
        match (op.f, op.kind) {
            (F::Send, Type::Invoke) => self.invoke_sends(op, records),
            (F::Send, _) => self.complete_sends(op, records)?,
            (F::Poll, Type::Invoke) => {
                self.push(ClientEvent::PollInvoked { consumer: self.t.consumers[&process], group: 0 })
            }
            (F::Poll, Type::Ok) => self.polls(self.t.consumers[&process], op)?,
            (F::Assign | F::Subscribe, Type::Ok | Type::Info) => self.assignment(self.t.consumers[&process], op),
            _ => {}
        }
        // Jepsen gives a process whose op ended :info (it may have crashed) a new number; :crash ops crash it.
        let crashed = op.f == F::Crash || op.kind == Type::Info;
        if let (true, Some(consumer)) = (crashed, consumer) {
            self.push(ClientEvent::ConsumerCrashed { consumer, group: 0 });
        }
        Ok(())
    }

    fn invoke_sends(&mut self, op: &Op, records: &[(u32, u64)]) {
        let keys = op.mops.iter().filter_map(|m| match m {
            Mop::Send { key, .. } => Some(self.t.keys[key]),
            Mop::Poll { .. } => None,
        });
        let invoked: Vec<ClientEvent> = keys
            .zip(records)
            .map(|(k, &(producer, send_seq))| ClientEvent::SendInvoked {
                producer,
                send_seq,
                key: Some(k),
                partition: k,
            })
            .collect();
        invoked.into_iter().for_each(|e| self.push(e));
    }

    fn complete_sends(&mut self, op: &Op, records: &[(u32, u64)]) -> Result<(), EdnError> {
        let sends: Vec<(&Value, &Value, Option<u64>)> = op
            .mops
            .iter()
            .filter_map(|m| match m {
                Mop::Send { key, value, offset } => Some((key, value, *offset)),
                Mop::Poll { .. } => None,
            })
            .collect();
        if sends.len() != records.len() {
            let message = format!("this completion has {} sends, its invocation {}", sends.len(), records.len());
            return Err(op.at(message));
        }
        // kafka.clj `must-have-committed?`: an :info send's offsets count when a value it sent was read.
        let committed =
            sends.iter().any(|(key, value, _)| self.t.read_ok.contains(&(self.t.keys[*key], (*value).clone())));
        let error =
            op.error.clone().unwrap_or_else(|| format!(":{}", if op.kind == Type::Fail { "fail" } else { "info" }));
        for (&(producer, send_seq), (key, _, offset)) in records.iter().zip(sends) {
            let partition = self.t.keys[key];
            let event = match op.kind {
                Type::Ok => ClientEvent::SendAcked { producer, send_seq, partition, offset },
                Type::Fail => ClientEvent::SendFailed {
                    producer,
                    send_seq,
                    partition,
                    error: error.clone(),
                    definite: true,
                    offset: None,
                },
                Type::Info | Type::Invoke => {
                    let offset = offset.filter(|_| committed);
                    ClientEvent::SendFailed {
                        producer,
                        send_seq,
                        partition,
                        error: error.clone(),
                        definite: false,
                        offset,
                    }
                }
            };
            self.push(event);
        }
        Ok(())
    }

    /// An `:ok` poll op: per key, one `polled` range over everything its micro-ops read of it (Jepsen judges an
    /// op's reads of a key together), then a `processed` per read.
    fn polls(&mut self, consumer: u32, op: &Op) -> Result<(), EdnError> {
        let generation = self.generation.get(&consumer).copied().unwrap_or(-1);
        let mut by_key: BTreeMap<&Value, Vec<&(u64, Value)>> = BTreeMap::new();
        for mop in &op.mops {
            if let Mop::Poll { key, reads } = mop {
                by_key.entry(key).or_default().extend(reads);
            }
        }
        for (key, reads) in by_key {
            let (Some(low), Some(high)) = (reads.iter().map(|r| r.0).min(), reads.iter().map(|r| r.0).max()) else {
                continue;
            };
            let partition = self.t.keys[key];
            if !op.rebalanced.contains(key) {
                let Ok(count) = u32::try_from(high - low + 1) else {
                    return Err(op.at(format!("a poll of {key} spans offsets {low} to {high}: too many")));
                };
                self.push(ClientEvent::Polled { consumer, group: 0, generation, partition, first_offset: low, count });
            }
            for (offset, value) in reads {
                let (producer, send_seq) = self.writer_of(partition, value);
                let event = ClientEvent::Processed {
                    consumer,
                    group: 0,
                    generation,
                    partition,
                    offset: *offset,
                    producer,
                    send_seq,
                };
                self.push(event);
            }
        }
        Ok(())
    }

    /// The record a read value is: its sender's, or a record of an unknown writer.
    fn writer_of(&mut self, partition: u32, value: &Value) -> (u32, u64) {
        let at = (partition, value.clone());
        if let Some(&record) = self.t.writers.get(&at).or_else(|| self.unknown.get(&at)) {
            return record;
        }
        let writer = self.t.producers.len() as u32;
        if self.unknown.is_empty() {
            self.history.producers.push("an unknown writer".into());
        }
        let record = (writer, self.unknown.len() as u64);
        self.unknown.insert(at, record);
        record
    }

    fn assignment(&mut self, consumer: u32, op: &Op) {
        let partitions: Vec<u32> = op.keys.iter().map(|k| self.t.keys[k]).collect();
        let generation = match op.f {
            F::Subscribe => {
                let topics = partitions.iter().map(|&p| topic(&self.history.partitions[p as usize])).collect();
                self.push(ClientEvent::Subscribed { consumer, group: 0, topics });
                self.generation.get(&consumer).copied().unwrap_or(0).max(0) + 1
            }
            _ => -1,
        };
        self.generation.insert(consumer, generation);
        self.push(ClientEvent::Assigned { consumer, group: 0, generation, partitions: partitions.clone() });
        if op.seek_to_beginning {
            for partition in partitions {
                self.push(ClientEvent::Seeked { consumer, group: 0, partition, offset: 0 });
            }
        }
    }
}

fn topic(partition_name: &str) -> String {
    partition_name.strip_suffix("-0").unwrap_or(partition_name).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn events(text: &str) -> Vec<ClientEvent> {
        read(text).expect("a readable history").entries.into_iter().map(|e| e.event).collect()
    }

    #[test]
    fn forms_split_outside_strings_characters_comments_and_through_tags() {
        let text = "; a comment with a { in it\n{:a \"}\" :b \\] :c 1} #jepsen.history.Op{:x 1}\n#{1 2} :k";
        let forms: Vec<(&str, usize, usize)> =
            forms(text).expect("forms").iter().map(|f| (f.text, f.line, f.column)).collect();
        assert_eq!(
            forms,
            [("{:a \"}\" :b \\] :c 1}", 2, 1), ("#jepsen.history.Op{:x 1}", 2, 21), ("#{1 2}", 3, 1), (":k", 3, 8)]
        );
    }

    #[test]
    fn a_record_printed_op_reads_like_a_map() {
        let e = events(
            "#jepsen.history.Op{:index 0, :time 5000, :type :invoke, :process 3, :f :send, :value [[:send 7 1]]}",
        );
        assert_eq!(e, [ClientEvent::SendInvoked { producer: 0, send_seq: 0, key: Some(0), partition: 0 }]);
    }

    // kafka.clj `int-poll-skip+nonmonotonic-cases`: keys a rebalance touched during the op are not held to
    // contiguity, so they get no `polled` range (their reads are still reads).
    #[test]
    fn a_rebalanced_key_gets_no_poll_range() {
        let e = events(
            "{:type :ok, :f :poll, :process 0, :rebalance-log [{:keys [:x]}], :value [[:poll {:x [[1 :a]] :y [[4 :b]]}]]}",
        );
        let ranges: Vec<u32> = e
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Polled { partition, .. } => Some(*partition),
                _ => None,
            })
            .collect();
        assert_eq!(ranges, [1], "only :y");
        assert_eq!(e.iter().filter(|e| matches!(e, ClientEvent::Processed { .. })).count(), 2);
    }

    #[test]
    fn a_completion_pairs_with_its_processs_invocation_and_an_info_offset_needs_a_read() {
        let h = "{:type :invoke, :f :send, :process 4, :value [[:send :x 1] [:send :x 2]]}\n\
                 {:type :info, :f :send, :process 4, :value [[:send :x [0 1]] [:send :x [1 2]]]}";
        let offsets: Vec<Option<u64>> = events(h)
            .iter()
            .filter_map(|e| match e {
                ClientEvent::SendFailed { definite: false, offset, .. } => Some(*offset),
                _ => None,
            })
            .collect();
        assert_eq!(offsets, [None, None], "nothing read: the crashed op may not have committed");
        let read = format!("{h}\n{{:type :ok, :f :poll, :process 5, :value [[:poll {{:x [[1 2]]}}]]}}");
        let offsets: Vec<Option<u64>> = events(&read)
            .iter()
            .filter_map(|e| match e {
                ClientEvent::SendFailed { offset, .. } => Some(*offset),
                _ => None,
            })
            .collect();
        assert_eq!(offsets, [Some(0), Some(1)]);
    }

    #[test]
    fn a_completion_with_another_number_of_sends_than_its_invocation_is_bad_input() {
        let h = "{:type :invoke, :f :send, :process 4, :value [[:send :x 1]]}\n\
                 {:type :ok, :f :send, :process 4, :value [[:send :x [0 1]] [:send :x [1 2]]]}";
        let e = read(h).expect_err("two sends for one");
        assert_eq!((e.line, e.message.as_str()), (2, "this completion has 2 sends, its invocation 1"));
    }

    proptest! {
        // Whatever the bytes, reading ends in a history or an error with a place, never a panic.
        #[test]
        fn any_text_reads_or_fails_without_panicking(text in "[\\[\\](){}#:;\"\\\\ a-z0-9\n,.-]{0,200}") {
            if let Err(e) = read(&text) {
                prop_assert!(e.line >= 1 && !e.message.is_empty());
            }
        }
    }
}
