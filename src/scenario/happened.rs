//! `happened` names with a scope: `"isr-shrink:orders-0"` (a partition), `"leader-election:orders"` (a topic),
//! `"send-failed:NOT_ENOUGH_REPLICAS"` (an error name). Unscoped, cluster events count over the scenario's own
//! partitions: `__consumer_offsets` only when named.

use crate::kafka::messages::KafkaError;
use crate::kafka::spec::ClusterSpec;

/// What counts as having happened in a run, by name (see `verdict::happened_count`).
pub const HAPPENINGS: [&str; 15] = [
    "fault",
    "leader-election",
    "unclean-election",
    "partition-offline",
    "isr-shrink",
    "isr-expand",
    "truncation",
    "rebalance",
    "produce-retry",
    "send-failed",
    "commit-failed",
    "offset-reset",
    "truncation-detected",
    "offsets-expired",
    "triggers-fired",
];

/// The happenings about one partition: they take a partition or topic scope.
const ABOUT_A_PARTITION: [&str; 11] = [
    "leader-election",
    "unclean-election",
    "partition-offline",
    "isr-shrink",
    "isr-expand",
    "truncation",
    "produce-retry",
    "send-failed",
    "commit-failed",
    "offset-reset",
    "truncation-detected",
];

/// The happenings that carry an error: they take an error-name scope.
const WITH_AN_ERROR: [&str; 3] = ["produce-retry", "send-failed", "commit-failed"];

/// Which occurrences count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Those about these partitions (by cluster-wide index).
    Partitions(Vec<u32>),
    /// Those with this error (a Kafka error name).
    Error(String),
    /// Everything (happenings not about a partition).
    Everything,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Happened {
    /// As the scenario wrote it.
    pub name: String,
    /// The happening (one of `HAPPENINGS`).
    pub what: &'static str,
    pub scope: Scope,
}

/// Reads `name` or `name:scope`; the error says what was expected.
pub fn parse_happened(text: &str, cluster: &ClusterSpec) -> Result<Happened, String> {
    let (base, scope_text) = match text.split_once(':') {
        Some((b, s)) => (b, Some(s)),
        None => (text, None),
    };
    let Some(&what) = HAPPENINGS.iter().find(|&&h| h == base) else {
        return Err(format!("something that happens: one of {}, optionally with \":SCOPE\"", HAPPENINGS.join(", ")));
    };
    let about_a_partition = ABOUT_A_PARTITION.contains(&what);
    let scope = match scope_text {
        None if about_a_partition => Scope::Partitions(own_partitions(cluster)),
        None => Scope::Everything,
        Some(s) if about_a_partition && partitions_named(s, cluster).is_some() => {
            Scope::Partitions(partitions_named(s, cluster).unwrap_or_default())
        }
        Some(s) if WITH_AN_ERROR.contains(&what) && KafkaError::from_name(s).is_some() => Scope::Error(s.to_string()),
        Some(s) => return Err(scope_help(what, s)),
    };
    Ok(Happened { name: text.to_string(), what, scope })
}

fn scope_help(what: &str, scope: &str) -> String {
    let mut forms = Vec::new();
    if ABOUT_A_PARTITION.contains(&what) {
        forms.push("a partition (\"orders-0\") or topic (\"orders\") of the scenario");
    }
    if WITH_AN_ERROR.contains(&what) {
        forms.push("a Kafka error name (\"NOT_ENOUGH_REPLICAS\")");
    }
    if forms.is_empty() {
        return format!("\"{what}\" without a scope (it is not about a partition); \":{scope}\" is one");
    }
    format!("after \"{what}:\", {}; \"{scope}\" is none", forms.join(" or "))
}

/// The scenario's own partitions: all but `__consumer_offsets`.
fn own_partitions(cluster: &ClusterSpec) -> Vec<u32> {
    let offsets = cluster.topics.iter().position(|t| t.name == "__consumer_offsets");
    (0..cluster.partitions.len() as u32).filter(|&p| Some(cluster.partitions[p as usize].topic) != offsets).collect()
}

/// The partition named `name`, or every partition of the topic named `name`.
fn partitions_named(name: &str, cluster: &ClusterSpec) -> Option<Vec<u32>> {
    if let Some(p) = cluster.find_partition(name) {
        return Some(vec![p.0]);
    }
    let topic = cluster.topics.iter().position(|t| t.name == name)?;
    Some(cluster.topic_partitions(topic).map(|p| p.0).collect())
}
