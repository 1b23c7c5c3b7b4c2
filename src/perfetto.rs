//! `run --perfetto FILE`: a run's trace in the Trace Event Format (the JSON that ui.perfetto.dev and
//! chrome://tracing open): a track per node, faults as global instants, each cluster and client event as an
//! instant on its node's track, spans for a broker's leadership of a partition, a coordinator's rebalance of a
//! group and a consumer's ownership of its assignment, counters of acknowledged and processed records per
//! simulated second (one instant per record would bury everything else), and each request in flight as an async
//! span on its sender's track, from its sending to its response's delivery (from the engine's message log).

use crate::engine::{Exchange, MessageEntry, NodeId, Passage};
use crate::history::ClientEvent;
use crate::kafka::ids::PartitionId;
use crate::kafka::obs::Obs;
use crate::kafka::spec::ClusterSpec;
use crate::sim::{TraceEvent, TraceLine};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{self, Write};

const PID: u32 = 1;
/// The nemesis's track, first.
const NEMESIS_TID: u32 = 0;
const COUNTER_US: u64 = 1_000_000;

/// What a Perfetto trace is drawn from: the run's trace lines and message log, and when it ended.
pub struct RunTrace<'a> {
    pub title: &'a str,
    pub spec: &'a ClusterSpec,
    pub trace: &'a [TraceLine],
    pub messages: &'a [MessageEntry],
    pub end_us: u64,
}

/// Writes the trace of a run.
pub fn write(w: &mut dyn Write, run: &RunTrace<'_>) -> io::Result<()> {
    let RunTrace { title, spec, trace, end_us, .. } = *run;
    let mut out = Writer { w, first: true };
    out.start(title)?;
    let tracks = Tracks::of(spec);
    for (name, &tid) in &tracks.by_name {
        out.event(&json!({"ph": "M", "name": "thread_name", "pid": PID, "tid": tid, "args": {"name": name}}))?;
        out.event(
            &json!({"ph": "M", "name": "thread_sort_index", "pid": PID, "tid": tid, "args": {"sort_index": tid}}),
        )?;
    }
    let mut spans = Spans::default();
    for p in (0..spec.partitions.len() as u32).map(PartitionId) {
        let name = spec.partition_name(p);
        if let (false, Some(first)) = (name.starts_with("__"), spec.partition(p).replicas.first()) {
            spans.leaders.insert(p.0, (format!("broker-{}", first.0), 0, format!("{name} (epoch 0)")));
        }
    }
    let mut counters = Counters::default();
    for line in trace {
        counters.flush_before(&mut out, &tracks, line.time_us)?;
        match &line.event {
            TraceEvent::Fault { fault } => {
                let event = json!({"ph": "i", "s": "g", "name": fault, "cat": "fault", "pid": PID,
                    "tid": NEMESIS_TID, "ts": line.time_us});
                out.event(&event)?;
            }
            TraceEvent::Node(Obs::Client(e)) if counters.count(&line.node, e) => {}
            TraceEvent::Node(obs) => {
                let tid = tracks.tid(&line.node);
                spans.observe(&mut out, &tracks, line, obs, spec)?;
                let args = serde_json::to_value(obs).unwrap_or(Value::Null);
                // A client event's own name is its `type` (its `event` is "client").
                let name = args.get("type").or_else(|| args.get("event")).and_then(Value::as_str).unwrap_or("event");
                let event = json!({"ph": "i", "s": "t", "name": name, "cat": category(obs), "pid": PID, "tid": tid,
                    "ts": line.time_us, "args": args});
                out.event(&event)?;
            }
        }
    }
    counters.flush_before(&mut out, &tracks, u64::MAX)?;
    spans.close_all(&mut out, &tracks, end_us)?;
    requests(&mut out, &tracks, spec, run.messages)?;
    out.finish()
}

/// Each request as an async span on its sender's track, from its sending to the delivery of its response; a
/// request lost on the way, or never answered, as an instant at its sending.
fn requests(out: &mut Writer<'_>, tracks: &Tracks, spec: &ClusterSpec, messages: &[MessageEntry]) -> io::Result<()> {
    let name = |n: NodeId| spec.node_name(n);
    // Requests waiting for their response, by (sender, receiver, family, key): when sent, and their name.
    let mut waiting: BTreeMap<(u32, u32, &str, u64), (u64, &str)> = BTreeMap::new();
    let mut unanswered = Vec::new();
    let mut id = 0u64;
    for m in messages {
        let at = m.time.as_us();
        match (m.kind.exchange, m.passage) {
            (Exchange::Request { key }, Passage::Sent) => {
                let replaced = waiting.insert((m.from.0, m.to.0, m.kind.family, key), (at, m.kind.name));
                unanswered.extend(replaced.map(|(sent, what)| (m.from, m.to, sent, what)));
            }
            (Exchange::Request { .. }, Passage::LostAtSend) => unanswered.push((m.from, m.to, at, m.kind.name)),
            (Exchange::Response { key }, Passage::Delivered) => {
                let Some((sent, what)) = waiting.remove(&(m.to.0, m.from.0, m.kind.family, key)) else { continue };
                id += 1;
                let (tid, label) = (tracks.tid(&name(m.to)), format!("{what} → {}", name(m.from)));
                for (phase, ts) in [("b", sent), ("e", at)] {
                    let event = json!({"ph": phase, "name": label, "cat": "request", "id": id, "pid": PID,
                        "tid": tid, "ts": ts});
                    out.event(&event)?;
                }
            }
            _ => {}
        }
    }
    unanswered
        .extend(waiting.into_iter().map(|((from, to, _, _), (sent, what))| (NodeId(from), NodeId(to), sent, what)));
    unanswered.sort_by_key(|&(from, to, sent, _)| (sent, from.0, to.0));
    for (from, to, sent, what) in unanswered {
        let event = json!({"ph": "i", "s": "t", "name": format!("{what} → {}: no response", name(to)),
            "cat": "request", "pid": PID, "tid": tracks.tid(&name(from)), "ts": sent});
        out.event(&event)?;
    }
    Ok(())
}

fn category(obs: &Obs) -> &'static str {
    match obs {
        Obs::Client(_) => "client",
        Obs::GroupRebalance { .. } | Obs::OffsetsExpired { .. } => "group",
        _ => "cluster",
    }
}

/// Thread ids by node name: the nemesis, then every node in the spec's order.
struct Tracks {
    by_name: BTreeMap<String, u32>,
}

impl Tracks {
    fn of(spec: &ClusterSpec) -> Tracks {
        let mut by_name = BTreeMap::from([("nemesis".to_string(), NEMESIS_TID)]);
        for n in 0..spec.node_count() {
            by_name.insert(spec.node_name(NodeId(n)), n + 1);
        }
        Tracks { by_name }
    }

    fn tid(&self, node: &str) -> u32 {
        self.by_name.get(node).copied().unwrap_or(NEMESIS_TID)
    }
}

struct Writer<'a> {
    w: &'a mut dyn Write,
    first: bool,
}

impl Writer<'_> {
    fn start(&mut self, title: &str) -> io::Result<()> {
        let other = json!({"insync_version": env!("CARGO_PKG_VERSION"), "run": title});
        writeln!(self.w, "{{\"displayTimeUnit\":\"ms\",\"otherData\":{other},\"traceEvents\":[")?;
        self.event(&json!({"ph": "M", "name": "process_name", "pid": PID, "args": {"name": title}}))
    }

    fn event(&mut self, event: &Value) -> io::Result<()> {
        if !std::mem::take(&mut self.first) {
            self.w.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut *self.w, event).map_err(io::Error::other)
    }

    fn span(&mut self, tid: u32, name: &str, cat: &str, from_us: u64, to_us: u64) -> io::Result<()> {
        let event = json!({"ph": "X", "name": name, "cat": cat, "pid": PID, "tid": tid, "ts": from_us,
            "dur": to_us.saturating_sub(from_us)});
        self.event(&event)
    }

    fn finish(self) -> io::Result<()> {
        self.w.write_all(b"\n]}\n")
    }
}

/// Spans still open: per partition its leader (node, since, partition name); per group its rebalance (node,
/// since, generation); per consumer its assignment (since, what).
#[derive(Default)]
struct Spans {
    leaders: BTreeMap<u32, (String, u64, String)>,
    rebalances: BTreeMap<String, (String, u64)>,
    assignments: BTreeMap<String, (u64, String)>,
}

impl Spans {
    fn observe(
        &mut self,
        out: &mut Writer<'_>,
        tracks: &Tracks,
        line: &TraceLine,
        obs: &Obs,
        spec: &ClusterSpec,
    ) -> io::Result<()> {
        let at = line.time_us;
        match obs {
            Obs::LeaderElected { partition, leader, leader_epoch, .. } => {
                let name = spec.partition_name(*partition);
                if let Some((node, since, label)) = self.leaders.remove(&partition.0) {
                    out.span(tracks.tid(&node), &format!("leads {label}"), "leadership", since, at)?;
                }
                if let (Some(b), false) = (leader, name.starts_with("__")) {
                    let label = format!("{name} (epoch {})", leader_epoch);
                    self.leaders.insert(partition.0, (format!("broker-{}", b.0), at, label));
                }
            }
            Obs::GroupRebalance { group, generation, state, .. } => match *state {
                "PreparingRebalance" if !self.rebalances.contains_key(group) => {
                    self.rebalances.insert(group.clone(), (line.node.clone(), at));
                }
                "Stable" | "Empty" | "Dead" => {
                    if let Some((node, since)) = self.rebalances.remove(group) {
                        let name = format!("rebalance {group} to generation {generation}");
                        out.span(tracks.tid(&node), &name, "group", since, at)?;
                    }
                }
                _ => {}
            },
            Obs::Client(ClientEvent::Assigned { generation, partitions, .. }) => {
                self.end_assignment(out, tracks, &line.node, at)?;
                let names: Vec<String> = partitions.iter().map(|p| spec.partition_name(PartitionId(*p))).collect();
                let what = format!("generation {generation}: {}", names.join(", "));
                self.assignments.insert(line.node.clone(), (at, what));
            }
            Obs::Client(ClientEvent::Revoked { .. } | ClientEvent::LeftGroup { .. }) => {
                self.end_assignment(out, tracks, &line.node, at)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn end_assignment(&mut self, out: &mut Writer<'_>, tracks: &Tracks, node: &str, at: u64) -> io::Result<()> {
        match self.assignments.remove(node) {
            Some((since, what)) => out.span(tracks.tid(node), &what, "assignment", since, at),
            None => Ok(()),
        }
    }

    fn close_all(self, out: &mut Writer<'_>, tracks: &Tracks, end_us: u64) -> io::Result<()> {
        for (node, since, label) in self.leaders.into_values() {
            out.span(tracks.tid(&node), &format!("leads {label}"), "leadership", since, end_us)?;
        }
        for (group, (node, since)) in self.rebalances {
            out.span(tracks.tid(&node), &format!("rebalance {group} (unfinished)"), "group", since, end_us)?;
        }
        for (node, (since, what)) in self.assignments {
            out.span(tracks.tid(&node), &what, "assignment", since, end_us)?;
        }
        Ok(())
    }
}

/// Per node, the records sent, acknowledged and processed in the current simulated second.
#[derive(Default)]
struct Counters {
    second: u64,
    counts: BTreeMap<String, [u64; 3]>,
}

impl Counters {
    /// Counts a high-volume client event (true), or leaves it to be an instant (false).
    fn count(&mut self, node: &str, e: &ClientEvent) -> bool {
        let slot = match e {
            ClientEvent::SendInvoked { .. } => 0,
            ClientEvent::SendAcked { .. } => 1,
            ClientEvent::Processed { .. } => 2,
            ClientEvent::Polled { .. } => return true,
            _ => return false,
        };
        self.counts.entry(node.to_string()).or_default()[slot] += 1;
        true
    }

    /// When `now_us` is past the current second: writes each node's counts of that second at its start, and a
    /// zero at the next second when nothing happened in between (a counter holds its value until the next sample).
    fn flush_before(&mut self, out: &mut Writer<'_>, tracks: &Tracks, now_us: u64) -> io::Result<()> {
        let now_second = now_us / COUNTER_US;
        if now_second <= self.second {
            return Ok(());
        }
        let samples = [(self.second, true), (self.second + 1, now_second > self.second + 1)];
        for (second, due) in samples {
            for (node, counts) in self.counts.iter_mut().filter(|_| due) {
                let [sent, acked, processed] = std::mem::take(counts);
                let args = json!({"sent": sent, "acked": acked, "processed": processed});
                let event = json!({"ph": "C", "name": format!("{node} records/s"), "pid": PID,
                    "tid": tracks.tid(node), "ts": second * COUNTER_US, "args": args});
                out.event(&event)?;
            }
        }
        self.second = now_second;
        Ok(())
    }
}
