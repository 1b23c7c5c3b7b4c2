//! `int-poll-skip` (Jepsen's name and meaning, kafka.clj `int-poll-skip+nonmonotonic-cases`): within what one poll
//! returned, the application read a record and then a later one, passing over an offset between them that is
//! known to hold a record — in the final log, or acknowledged or read elsewhere (a gap alone proves nothing:
//! transaction markers and compaction leave them). A consumer that stops part-way (it crashed, or lost the
//! partition) skips nothing: only a read after the gap shows one. What a poll returned are the reads (`processed`,
//! `poisoned`, `filtered`) its consumer made of that partition at offsets of the poll's range, up to its next
//! poll of the partition, its next `poll_invoked` (version 2: the application called `poll()` again) or its crash.

use super::index::Known;
use super::violation::{Names, Violation};
use crate::history::{ClientEvent, FinalLog, History};
use std::collections::BTreeMap;

pub const NAME: &str = "int-poll-skip";

/// One poll of one partition, and the offsets read from it so far.
struct Poll {
    group: u32,
    range: (u64, u64),
    time_us: u64,
    read: Vec<u64>,
}

/// One violation per skipping pair of reads, at the first known offset between them, in history order of the
/// polls (a poll is judged at its consumer's next poll of the partition, or at the end).
pub fn check(history: &History, logs: Option<&[FinalLog]>) -> Vec<Violation> {
    let known = Known::new(history, logs.unwrap_or_default());
    let names = Names::without_keys(history);
    let mut open: BTreeMap<(u32, u32), Poll> = BTreeMap::new();
    let mut judged: Vec<((u32, u32), Poll)> = Vec::new();
    for entry in &history.entries {
        match entry.event {
            ClientEvent::Polled { consumer, group, partition, first_offset, count, .. } => {
                let range = (first_offset, first_offset.saturating_add(u64::from(count)));
                let poll = Poll { group, range, time_us: entry.time_us, read: Vec::new() };
                if let Some(done) = open.insert((consumer, partition), poll) {
                    judged.push(((consumer, partition), done));
                }
            }
            ClientEvent::PollInvoked { consumer, .. } | ClientEvent::ConsumerCrashed { consumer, .. } => {
                let theirs: Vec<(u32, u32)> =
                    open.range((consumer, 0)..=(consumer, u32::MAX)).map(|(&k, _)| k).collect();
                judged.extend(theirs.into_iter().filter_map(|k| Some((k, open.remove(&k)?))));
            }
            ref e => {
                let Some(r) = super::index::read(e) else { continue };
                let Some(poll) = open.get_mut(&(r.consumer, r.partition)) else { continue };
                if (poll.range.0..poll.range.1).contains(&r.offset) {
                    poll.read.push(r.offset);
                }
            }
        }
    }
    judged.extend(open);
    judged.sort_by_key(|(_, poll)| poll.time_us);
    let mut out = Vec::new();
    for ((consumer, partition), mut poll) in judged {
        poll.read.sort_unstable();
        poll.read.dedup();
        for pair in poll.read.windows(2) {
            let Some(skipped) = known.first_held(partition, (pair[0] + 1, pair[1])) else { continue };
            let detail = format!(
                "consumer {} read offsets {} and {} from one poll ({}..={}), passing over {} between them",
                names.consumer(consumer),
                pair[0],
                pair[1],
                poll.range.0,
                poll.range.1 - 1,
                known.record_at(partition, skipped).map_or("a record".to_string(), |r| names.record(r)),
            );
            let v =
                Violation::new(NAME, detail).at(partition, Some(skipped)).record(known.record_at(partition, skipped));
            out.push(v.group(poll.group).time(poll.time_us));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    // kafka.clj `int-poll-skip-test`: a, b and d sent; a poll returning a at 1 and d at 4 passed over b, which a
    // later poll read at 2.
    #[test]
    fn a_poll_that_read_past_a_known_record_skipped_it() {
        let h = history(vec![
            polled(0, 0, 0, 1, 4),
            processed(0, 0, 0, 1, (0, 0)),
            processed(0, 0, 0, 4, (0, 2)),
            polled(0, 0, 0, 2, 1),
            processed(0, 0, 0, 2, (0, 1)),
        ]);
        let v = check(&h, None);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!((v[0].partition, v[0].offset, v[0].witness_record()), (Some(0), Some(2), Some((0, 1))));
        assert_eq!((v[0].group, v[0].time_us), (Some(0), Some(0)));
        assert!(
            v[0].detail.contains("read offsets 1 and 4 from one poll (1..=4), passing over p0 send #1"),
            "{}",
            v[0].detail
        );
    }

    #[test]
    fn a_gap_nobody_saw_filled_or_a_consumer_that_stopped_skips_nothing() {
        let gap = vec![polled(0, 0, 0, 1, 4), processed(0, 0, 0, 1, (0, 0)), processed(0, 0, 0, 4, (0, 2))];
        assert!(check(&history(gap), None).is_empty(), "offsets 2 and 3 may be transaction markers");
        // Stopped after offset 1 of 1..=3, all three acknowledged.
        let stopped = vec![
            acked(0, 0, 0, Some(1)),
            acked(0, 1, 0, Some(2)),
            acked(0, 2, 0, Some(3)),
            polled(0, 0, 0, 1, 3),
            processed(0, 0, 0, 1, (0, 0)),
        ];
        assert!(check(&history(stopped), None).is_empty());
    }

    #[test]
    fn a_poll_ends_at_its_consumers_next_poll_call_or_crash() {
        let acks = [acked(0, 0, 0, Some(1)), acked(0, 1, 0, Some(2)), acked(0, 2, 0, Some(3))];
        let (invoked, crashed) = (
            ClientEvent::PollInvoked { consumer: 0, group: 0 },
            ClientEvent::ConsumerCrashed { consumer: 0, group: 0 },
        );
        for end in [invoked, crashed] {
            let reads = vec![polled(0, 0, 0, 1, 3), processed(0, 0, 0, 1, (0, 0)), end, processed(0, 0, 0, 3, (0, 2))];
            let h = history(acks.iter().cloned().chain(reads).collect());
            assert!(check(&h, None).is_empty(), "offset 3 was read after the poll of 1..=3 ended");
        }
    }

    #[test]
    fn the_final_log_knows_every_offset_and_another_consumers_reads_are_not_this_polls() {
        let logs = [log(0, &[(0, 0), (0, 1), (0, 2)])];
        let h = history(vec![
            polled(0, 0, 0, 0, 3),
            processed(1, 0, 0, 1, (0, 1)),
            processed(0, 0, 0, 0, (0, 0)),
            processed(0, 0, 0, 2, (0, 2)),
        ]);
        let v = check(&h, Some(&logs));
        assert_eq!(v.iter().map(|v| (v.offset, v.witness_record())).collect::<Vec<_>>(), [(Some(1), Some((0, 1)))]);
    }
}
