//! Invariants over what clients observed (and, for white-box checks, the final logs). Knows nothing of the
//! engine or the model: the same checks can judge a history recorded from a real cluster.
//!
//! One module per invariant, each `check(history, logs) -> Vec<Violation>`, named after Jepsen's Kafka checker
//! (jepsen.tests.kafka) where the meaning matches. Where a partition's final log is known it decides what the
//! partition holds; a partition without one is judged black-box, on what clients saw there (`index::Known`:
//! acknowledged offsets and records read at offsets, Jepsen's version order). Partitions of internal topics
//! (`__consumer_offsets`) are not judged.
//!
//! - `lost-write`: an acknowledged send is not at its offset in the final log (anywhere, for acks=0); a record a
//!   consumer read is no longer where it read it; a poll reached past the log's end. Without a final log: an
//!   acknowledged send no consumer read, though consumers read past it or read another record at its offset.
//! - `undelivered`: a group never processed a record of a topic it consumed, from where it started (the final
//!   log's records, those acknowledged before the log start that retention deleted; without a final log, the
//!   records seen there).
//! - `duplicate-delivery`: a group processed one record twice.
//! - `duplicate-write`: one record at two offsets (Jepsen: `duplicate`).
//! - `key-order`: a group processed a key's record for the first time after a later-offset record of that key.
//! - `reordered-write`: one producer's records of one key (or its unkeyed records of one partition) stand out of
//!   send order (Jepsen: `nonmonotonic-send`).
//! - `nonmonotonic-poll`: within one ownership, a consumer's poll started before the previous poll's end.
//! - `poll-skip`: within one ownership, a consumer's poll jumped over offsets known to hold records.
//! - `int-poll-skip`: within one poll, the application read past a record known to be there.
//! - `inconsistent-offsets`: one (partition, offset) seen holding two records.
//! - `processing-order`: a group processed one producer's records of a key out of send order (the
//!   application's ordering, which Kafka gives only when the key is the record key).
//! - `read-before-send`: a record read before its send was invoked.
//! - `aborted-read`: a record whose send failed definitely (not appended) was read, or is in the final log.
//! - `divergence` (replica logs, so not in `check_all`): two replicas differ below their common high watermark.
//!
//! Guarantees name sets of invariants (`expand`). Every check is O(n log n) in the history and logs.

pub mod aborted_read;
pub mod divergence;
pub mod duplicate_delivery;
pub mod duplicate_write;
pub mod expect;
pub mod inconsistent_offsets;
mod index;
pub mod int_poll_skip;
pub mod key_order;
mod last_commit;
pub mod lost_write;
pub mod nonmonotonic_poll;
mod ownership;
pub mod poll_skip;
pub mod processing_order;
pub mod read_before_send;
pub mod reordered_write;
pub mod undelivered;
pub mod verdict;
mod violation;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod testkit;

pub use violation::{Named, Names, Violation};

use crate::history::{ClientEvent, FinalLog, History};
use std::collections::BTreeMap;

type Check = fn(&History, Option<&[FinalLog]>) -> Vec<Violation>;

/// The invariants judged from a history (and final logs), in the order `check_all` lists them.
const CHECKS: [(&str, Check); 13] = [
    (lost_write::NAME, lost_write::check),
    (undelivered::NAME, undelivered::check),
    (duplicate_delivery::NAME, duplicate_delivery::check),
    (duplicate_write::NAME, duplicate_write::check),
    (key_order::NAME, key_order::check),
    (reordered_write::NAME, reordered_write::check),
    (nonmonotonic_poll::NAME, nonmonotonic_poll::check),
    (poll_skip::NAME, poll_skip::check),
    (int_poll_skip::NAME, int_poll_skip::check),
    (inconsistent_offsets::NAME, inconsistent_offsets::check),
    (processing_order::NAME, processing_order::check),
    (read_before_send::NAME, read_before_send::check),
    (aborted_read::NAME, aborted_read::check),
];

/// Every invariant name: those `check_all` runs, then `divergence` (which needs replica logs).
pub const INVARIANTS: [&str; 14] = [
    lost_write::NAME,
    undelivered::NAME,
    duplicate_delivery::NAME,
    duplicate_write::NAME,
    key_order::NAME,
    reordered_write::NAME,
    nonmonotonic_poll::NAME,
    poll_skip::NAME,
    int_poll_skip::NAME,
    inconsistent_offsets::NAME,
    processing_order::NAME,
    read_before_send::NAME,
    aborted_read::NAME,
    divergence::NAME,
];

/// The invariants about what consumers read: judged on a history with no read, they prove nothing.
pub const READ_INVARIANTS: [&str; 8] = [
    undelivered::NAME,
    duplicate_delivery::NAME,
    key_order::NAME,
    nonmonotonic_poll::NAME,
    poll_skip::NAME,
    int_poll_skip::NAME,
    processing_order::NAME,
    read_before_send::NAME,
];

/// The invariants that judge what consumers read or, when given, the final logs: without final logs they are
/// about reads alone.
const READ_OR_LOG_INVARIANTS: [&str; 2] = [lost_write::NAME, aborted_read::NAME];

/// Why judging `invariants` on `history` would prove nothing, if it would: the history has no send, or no read
/// while every one of them is about reads (as `lost-write` and `aborted-read` are without final logs). Jepsen's Kafka checker counts an empty history invalid (kafka_test.clj `empty-history-test`): a
/// recorder that captured nothing must not pass. A guarantee is vacuous only when all its invariants are.
pub fn vacuous(history: &History, with_logs: bool, invariants: &[&str]) -> Option<&'static str> {
    let sent = history
        .entries
        .iter()
        .any(|e| matches!(e.event, ClientEvent::SendInvoked { .. } | ClientEvent::SendAcked { .. }));
    let read = history.entries.iter().any(|e| index::read(&e.event).is_some());
    let about_reads = |i: &&str| READ_INVARIANTS.contains(i) || (!with_logs && READ_OR_LOG_INVARIANTS.contains(i));
    match (sent, read) {
        (false, _) => Some("the history has no sends"),
        (true, false) if !invariants.is_empty() && invariants.iter().all(about_reads) => {
            Some("the history has no reads")
        }
        _ => None,
    }
}

/// Guarantees a user can ask for, each the invariants that together make it.
pub const GUARANTEES: [(&str, &[&str]); 5] = [
    ("durability", &[lost_write::NAME]),
    ("at-least-once", &[lost_write::NAME, undelivered::NAME]),
    ("no-duplicates", &[duplicate_delivery::NAME, duplicate_write::NAME]),
    ("ordering", &[key_order::NAME, reordered_write::NAME, nonmonotonic_poll::NAME]),
    ("exactly-once", &[lost_write::NAME, undelivered::NAME, duplicate_delivery::NAME, duplicate_write::NAME]),
];

/// The invariants a guarantee or invariant name stands for (an invariant's name selects it alone), or `None`
/// for an unknown name.
pub fn expand(name: &str) -> Option<Vec<&'static str>> {
    if let Some(&invariant) = INVARIANTS.iter().find(|&&i| i == name) {
        return Some(vec![invariant]);
    }
    GUARANTEES.iter().find(|(g, _)| *g == name).map(|(_, invariants)| invariants.to_vec())
}

/// Runs one invariant by name; `None` for an unknown name or `divergence` (see `divergence::check`).
pub fn check_one(name: &str, history: &History, logs: Option<&[FinalLog]>) -> Option<Vec<Violation>> {
    CHECKS.iter().find(|(n, _)| *n == name).map(|(_, check)| check(history, logs))
}

/// Every invariant `CHECKS` holds, each with its violations (empty when it held).
pub fn check_all(history: &History, logs: Option<&[FinalLog]>) -> BTreeMap<&'static str, Vec<Violation>> {
    CHECKS.iter().map(|&(name, check)| (name, check(history, logs))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarantees_expand_to_their_invariants() {
        assert_eq!(expand("durability"), Some(vec!["lost-write"]));
        assert_eq!(expand("at-least-once"), Some(vec!["lost-write", "undelivered"]));
        assert_eq!(expand("no-duplicates"), Some(vec!["duplicate-delivery", "duplicate-write"]));
        assert_eq!(expand("ordering"), Some(vec!["key-order", "reordered-write", "nonmonotonic-poll"]));
        assert_eq!(
            expand("exactly-once"),
            Some(vec!["lost-write", "undelivered", "duplicate-delivery", "duplicate-write"])
        );
    }

    #[test]
    fn a_history_without_sends_or_without_reads_for_a_read_invariant_is_vacuous() {
        use crate::check::testkit::*;
        assert_eq!(vacuous(&History::default(), true, &["lost-write"]), Some("the history has no sends"));
        let writes = history(vec![acked(0, 0, 0, Some(0))]);
        assert_eq!(vacuous(&writes, true, &["lost-write", "reordered-write"]), None);
        assert_eq!(vacuous(&writes, false, &["lost-write"]), Some("the history has no reads"));
        assert_eq!(vacuous(&writes, true, &["key-order", "undelivered"]), Some("the history has no reads"));
        assert_eq!(vacuous(&writes, true, &["reordered-write", "key-order"]), None, "a guarantee judged in part");
        let both = history(vec![acked(0, 0, 0, Some(0)), processed(0, 0, 0, 0, (0, 0))]);
        assert_eq!(vacuous(&both, false, &INVARIANTS), None);
    }

    #[test]
    fn no_guarantee_shares_an_invariants_name() {
        assert!(GUARANTEES.iter().all(|(g, _)| !INVARIANTS.contains(g)));
    }

    #[test]
    fn an_invariant_expands_to_itself_and_unknown_names_to_nothing() {
        for name in INVARIANTS {
            assert_eq!(expand(name), Some(vec![name]));
        }
        assert_eq!(expand("exactly-twice"), None);
    }

    #[test]
    fn every_guarantee_names_known_invariants_and_check_all_runs_all_but_divergence() {
        for (_, invariants) in GUARANTEES {
            assert!(invariants.iter().all(|i| INVARIANTS.contains(i)));
        }
        let all = check_all(&History::default(), None);
        assert_eq!(all.len(), INVARIANTS.len() - 1);
        assert!(!all.contains_key(divergence::NAME) && all.values().all(Vec::is_empty));
        assert_eq!(check_one("poll-skip", &History::default(), None), Some(vec![]));
        assert_eq!(check_one("divergence", &History::default(), None), None);
    }
}
