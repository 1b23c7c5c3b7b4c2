//! `read-before-send`: a consumer read a record before its producer called `send()` for it — impossible in any
//! Kafka, so it shows a recorder's clocks disagreeing or records confused for one another (two sends given one
//! identity). Jepsen's checker finds the same through Elle's realtime order; here it is the plain comparison of
//! the read's time with the send's invocation. Records whose send is not in the history are not judged.

use super::index::{Record, read};
use super::violation::{Names, Violation, seconds};
use crate::history::{ClientEvent, FinalLog, History};
use std::collections::BTreeMap;

pub const NAME: &str = "read-before-send";

/// One violation per read earlier than its record's send, at the read, in history order. Needs no final logs.
pub fn check(history: &History, _logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let mut invoked: BTreeMap<Record, u64> = BTreeMap::new();
    for entry in &history.entries {
        if let ClientEvent::SendInvoked { producer, send_seq, .. } = entry.event {
            invoked.entry((producer, send_seq)).or_insert(entry.time_us);
        }
    }
    let names = Names::without_keys(history);
    let mut out = Vec::new();
    for (entry, r) in history.entries.iter().filter_map(|e| Some((e, read(&e.event)?))) {
        let Some(&sent_us) = invoked.get(&r.record).filter(|&&t| t > entry.time_us) else { continue };
        let detail = format!(
            "consumer {} read it at {}, but its send was invoked at {}",
            names.consumer(r.consumer),
            seconds(entry.time_us),
            seconds(sent_us)
        );
        let v = Violation::new(NAME, detail).at(r.partition, Some(r.offset)).record(Some(r.record));
        out.push(v.group(r.group).time(entry.time_us));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn a_read_before_the_send_was_invoked_is_impossible() {
        // testkit times: the read at 0 µs, the send invoked at 1 µs.
        let v = check(&history(vec![processed(0, 0, 0, 0, (1, 4)), invoked(1, 4, None, 0)]), None);
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].offset, v[0].witness_record(), v[0].time_us), (Some(0), Some((1, 4)), Some(0)));
        assert!(v[0].detail.contains("invoked at 0.000001 s"), "{}", v[0].detail);
    }

    #[test]
    fn a_read_after_the_send_or_of_an_unknown_send_is_fine() {
        assert!(check(&history(vec![invoked(1, 4, None, 0), processed(0, 0, 0, 0, (1, 4))]), None).is_empty());
        assert!(check(&history(vec![processed(0, 0, 0, 0, (1, 4))]), None).is_empty());
    }
}
