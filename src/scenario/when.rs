//! The `when` conditions of state-triggered faults, read from their text: clauses joined by `and`, each one of
//! the forms in `FORMS`, with names resolved against the cluster (partitions "T-N", brokers "broker-B", and the
//! scenario's producers, consumers and groups).

use crate::faults::trigger::{Clause, Condition};
use crate::kafka::ids::{BrokerId, PartitionId};
use crate::kafka::spec::ClusterSpec;

/// The forms a clause may take, as the error for an unreadable one lists them.
pub const FORMS: &str = "\"leader of T-N changed\", \"isr of T-N has size K\", \"isr of T-N shrank\", \
\"isr of T-N expanded\", \"high watermark of T-N >= X\", \"log end of T-N on broker-B >= X\", \
\"broker-B fetched T-N up to X\", \"producer P acked send >= X\", \"producer P acked offset >= X\", \
\"group G generation >= K\", \"group G rebalancing\", \"group G processed T-N >= X\", \
\"consumer C committed T-N >= X\", \
\"controller changed\", joined by \" and \"";

/// The most clauses one condition may join.
pub const MAX_CLAUSES: usize = 8;

/// Reads a condition; the error says what was expected where the text went wrong.
pub fn parse_condition(text: &str, cluster: &ClusterSpec) -> Result<Condition, String> {
    let parts: Vec<&str> = text.split(" and ").map(str::trim).collect();
    if parts.len() > MAX_CLAUSES {
        return Err(format!("at most {MAX_CLAUSES} clauses joined by \" and \""));
    }
    let clauses = parts.iter().map(|part| parse_clause(part, cluster)).collect::<Result<Vec<_>, _>>()?;
    Ok(Condition { clauses, text: text.trim().to_string() })
}

fn parse_clause(text: &str, cluster: &ClusterSpec) -> Result<Clause, String> {
    let unreadable = || format!("a condition: {FORMS}; \"{text}\" is none of them");
    if text == "controller changed" {
        return Ok(Clause::ControllerChanged);
    }
    if let Some(rest) = text.strip_prefix("leader of ").and_then(|r| r.strip_suffix(" changed")) {
        return Ok(Clause::LeaderChanged(partition(rest, cluster)?));
    }
    if let Some(rest) = text.strip_prefix("isr of ") {
        return isr_clause(rest, cluster).unwrap_or_else(|| Err(unreadable()));
    }
    if let Some(rest) = text.strip_prefix("high watermark of ") {
        let (p, x) = at_least(rest).ok_or_else(unreadable)?;
        return Ok(Clause::HighWatermarkAtLeast(partition(p, cluster)?, number(x)?));
    }
    if let Some(rest) = text.strip_prefix("log end of ") {
        let (subject, x) = at_least(rest).ok_or_else(unreadable)?;
        let (p, b) = subject.split_once(" on ").ok_or_else(unreadable)?;
        return Ok(Clause::LogEndAtLeast(partition(p, cluster)?, broker(b, cluster)?, number(x)?));
    }
    if let Some((b, rest)) = text.split_once(" fetched ") {
        let (p, x) = rest.split_once(" up to ").ok_or_else(unreadable)?;
        return Ok(Clause::FetchedAtLeast(partition(p, cluster)?, broker(b, cluster)?, number(x)?));
    }
    if let Some(rest) = text.strip_prefix("producer ") {
        return producer_clause(rest, cluster).unwrap_or_else(|| Err(unreadable()));
    }
    if let Some(rest) = text.strip_prefix("group ") {
        return group_clause(rest, cluster).unwrap_or_else(|| Err(unreadable()));
    }
    if let Some(rest) = text.strip_prefix("consumer ") {
        let (subject, x) = at_least(rest).ok_or_else(unreadable)?;
        let (c, p) = subject.split_once(" committed ").ok_or_else(unreadable)?;
        let Some(consumer) = cluster.consumers.iter().position(|x| x.name == c.trim()) else {
            return Err(format!("a consumer of the scenario; \"{c}\" is none of them"));
        };
        return Ok(Clause::CommittedAtLeast(consumer as u32, partition(p, cluster)?, number(x)?));
    }
    Err(unreadable())
}

/// `T-N has size K`, `T-N shrank`, `T-N expanded`; `None` when it is none of these.
fn isr_clause(rest: &str, cluster: &ClusterSpec) -> Option<Result<Clause, String>> {
    if let Some(p) = rest.strip_suffix(" shrank") {
        return Some(partition(p, cluster).map(Clause::IsrShrank));
    }
    if let Some(p) = rest.strip_suffix(" expanded") {
        return Some(partition(p, cluster).map(Clause::IsrExpanded));
    }
    let (p, k) = rest.split_once(" has size ")?;
    Some(partition(p, cluster).and_then(|p| Ok(Clause::IsrSize(p, number(k)? as usize))))
}

/// `P acked send >= X` (or `acknowledged`), `P acked offset >= X`.
fn producer_clause(rest: &str, cluster: &ClusterSpec) -> Option<Result<Clause, String>> {
    let (subject, x) = at_least(rest)?;
    let subject = subject.replace(" acknowledged ", " acked ");
    let (name, what) = subject.split_once(" acked ")?;
    let Some(producer) = cluster.producers.iter().position(|p| p.name == name.trim()) else {
        return Some(Err(format!("a producer of the scenario; \"{name}\" is none of them")));
    };
    let producer = producer as u32;
    Some(match what.trim() {
        "send" => number(x).map(|x| Clause::AckedSendAtLeast(producer, x)),
        "offset" => number(x).map(|x| Clause::AckedOffsetAtLeast(producer, x)),
        _ => return None,
    })
}

/// `G generation >= K`, `G rebalancing`.
fn group_clause(rest: &str, cluster: &ClusterSpec) -> Option<Result<Clause, String>> {
    let group_index = |name: &str| {
        cluster
            .find_group(name.trim())
            .ok_or_else(|| format!("one of the groups ({}); \"{name}\" is none of them", cluster.groups.join(", ")))
    };
    if let Some(name) = rest.strip_suffix(" rebalancing") {
        return Some(group_index(name).map(Clause::Rebalancing));
    }
    if let Some((name, tail)) = rest.split_once(" processed ") {
        let (p, x) = at_least(tail)?;
        return Some(
            group_index(name).and_then(|g| Ok(Clause::ProcessedAtLeast(g, partition(p, cluster)?, number(x)?))),
        );
    }
    let (subject, k) = at_least(rest)?;
    let name = subject.strip_suffix(" generation")?;
    Some(group_index(name).and_then(|g| {
        let k = i32::try_from(number(k)?).map_err(|_| "a generation that fits in an int32".to_string())?;
        Ok(Clause::GenerationAtLeast(g, k))
    }))
}

/// Splits `subject >= X`.
fn at_least(text: &str) -> Option<(&str, &str)> {
    text.split_once(" >= ").map(|(a, b)| (a.trim(), b.trim()))
}

fn number(text: &str) -> Result<u64, String> {
    text.trim().parse().map_err(|_| format!("a whole number >= 0; \"{}\" is not one", text.trim()))
}

fn partition(name: &str, cluster: &ClusterSpec) -> Result<PartitionId, String> {
    cluster.find_partition(name.trim()).ok_or_else(|| format!("a partition such as \"orders-0\"; \"{name}\" is none"))
}

fn broker(name: &str, cluster: &ClusterSpec) -> Result<BrokerId, String> {
    let n = name.trim().strip_prefix("broker-").and_then(|n| n.parse::<u32>().ok());
    match n {
        Some(n) if (1..=cluster.broker_count).contains(&n) => Ok(BrokerId(n)),
        _ => Err(format!("a broker, broker-1..broker-{}; \"{name}\" is none", cluster.broker_count)),
    }
}
