//! `happened` names with a scope: `"isr-shrink:orders-0"` (a partition), `"leader-election:orders"` (a topic),
//! `"send-failed:NOT_ENOUGH_REPLICAS"` (an error name). Unscoped, cluster events count over the scenario's own
//! partitions: `__consumer_offsets` only when named.

use crate::check::expect::{Happened, Happening, Scope};
use crate::kafka::messages::KafkaError;
use crate::kafka::spec::ClusterSpec;

/// The scopes a happening takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scopes {
    /// None: it is not about a partition.
    Unscoped,
    /// A partition or a topic.
    Partition,
    /// A partition, a topic, or a Kafka error name.
    PartitionOrError,
}

/// The scopes each happening takes (what it counts: `check::verdict::happened_count`).
const KINDS: [(Happening, Scopes); 15] = [
    (Happening::Fault, Scopes::Unscoped),
    (Happening::LeaderElection, Scopes::Partition),
    (Happening::UncleanElection, Scopes::Partition),
    (Happening::PartitionOffline, Scopes::Partition),
    (Happening::IsrShrink, Scopes::Partition),
    (Happening::IsrExpand, Scopes::Partition),
    (Happening::Truncation, Scopes::Partition),
    (Happening::Rebalance, Scopes::Unscoped),
    (Happening::ProduceRetry, Scopes::PartitionOrError),
    (Happening::SendFailed, Scopes::PartitionOrError),
    (Happening::CommitFailed, Scopes::PartitionOrError),
    (Happening::OffsetReset, Scopes::Partition),
    (Happening::TruncationDetected, Scopes::Partition),
    (Happening::OffsetsExpired, Scopes::Unscoped),
    (Happening::TriggersFired, Scopes::Unscoped),
];

/// The names `happened` accepts.
pub fn happenings() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|(what, _)| what.name())
}

/// Reads `name` or `name:scope`; the error says what was expected.
pub fn parse_happened(text: &str, cluster: &ClusterSpec) -> Result<Happened, String> {
    let (base, scope_text) = match text.split_once(':') {
        Some((b, s)) => (b, Some(s)),
        None => (text, None),
    };
    let Some(&(what, scopes)) = KINDS.iter().find(|(h, _)| h.name() == base) else {
        let names: Vec<&str> = happenings().collect();
        return Err(format!("something that happens: one of {}, optionally with \":SCOPE\"", names.join(", ")));
    };
    let about_a_partition = scopes != Scopes::Unscoped;
    let scope = match scope_text {
        None if about_a_partition => Scope::Partitions(own_partitions(cluster)),
        None => Scope::Everything,
        Some(s) if about_a_partition && partitions_named(s, cluster).is_some() => {
            Scope::Partitions(partitions_named(s, cluster).unwrap_or_default())
        }
        Some(s) if scopes == Scopes::PartitionOrError && KafkaError::from_name(s).is_some() => {
            Scope::Error(s.to_string())
        }
        Some(s) => return Err(scope_help(what.name(), scopes, s)),
    };
    Ok(Happened { name: text.to_string(), what, scope })
}

fn scope_help(what: &str, scopes: Scopes, scope: &str) -> String {
    let mut forms = Vec::new();
    if scopes != Scopes::Unscoped {
        forms.push("a partition (\"orders-0\") or topic (\"orders\") of the scenario");
    }
    if scopes == Scopes::PartitionOrError {
        forms.push("a Kafka error name (\"NOT_ENOUGH_REPLICAS\")");
    }
    if forms.is_empty() {
        return format!("\"{what}\" without a scope (it is not about a partition); \":{scope}\" is one");
    }
    format!("after \"{what}:\", {}; \"{scope}\" is none", forms.join(" or "))
}

/// The scenario's own partitions: all but `__consumer_offsets`.
fn own_partitions(cluster: &ClusterSpec) -> Vec<u32> {
    let offsets = cluster.find_topic("__consumer_offsets");
    (0..cluster.partitions.len() as u32).filter(|&p| Some(cluster.partitions[p as usize].topic) != offsets).collect()
}

/// The partition named `name`, or every partition of the topic named `name`.
fn partitions_named(name: &str, cluster: &ClusterSpec) -> Option<Vec<u32>> {
    if let Some(p) = cluster.find_partition(name) {
        return Some(vec![p.0]);
    }
    let topic = cluster.find_topic(name)?;
    Some(cluster.topic_partitions(topic).map(|p| p.0).collect())
}
