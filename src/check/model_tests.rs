//! Property tests against a tiny reference model of a correct Kafka: partitions as `Vec`s, producers appending keyed
//! records (key k to partition k mod n) and acknowledged with their offsets, one group whose consumers poll
//! contiguous ranges in order and process each record once, with an optional rebalance that hands partitions on
//! at the committed position; the final logs are the `Vec`s. Every invariant must hold on it. Then one anomaly is
//! injected, at the layer where Kafka would produce it, and exactly the invariants it breaks must fire, with the
//! record as witness.

use super::{Violation, check_all};
use crate::check::testkit::{acked, assigned, invoked, polled, processed, revoked};
use crate::history::{ClientEvent, FinalLog, History};
use proptest::prelude::*;
use std::collections::BTreeMap;

type Record = (u32, u64);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Anomaly {
    None,
    /// The tail of a partition is lost after it was acknowledged and consumed (a truncation).
    DropAcked,
    /// The group never processes one record.
    SkipProcessing,
    /// The group processes one record twice.
    ProcessTwice,
    /// A record is appended a second time at the end of its partition (a retry without idempotence).
    WriteTwice,
    /// The first two records (producer 0, key 0) land in the log in the opposite order.
    SwapSameKey,
    /// A consumer polls one range again.
    PollBackwards,
    /// A poll in the middle of an ownership goes missing: the next one starts past a gap.
    PollGap,
    /// An acknowledgement reports the offset of another record (black box: checked without final logs too).
    DifferentRecord,
    /// A send reported as failed definitely (not appended) is in the log all the same, and read.
    FailedButWritten,
}

#[derive(Clone, Debug)]
struct Run {
    partitions: u32,
    consumers: u32,
    /// (producer, key) per send, in send order; the first two are producer 0, key 0.
    sends: Vec<(u32, u32)>,
    poll_max: u32,
    /// The round of polls before which the group rebalances, if it does.
    rebalance_at: Option<u32>,
    anomaly: Anomaly,
    /// Which record or poll the anomaly hits (modulo how many there are).
    pick: usize,
}

impl Anomaly {
    /// Every anomaly the model injects (`None` aside).
    const INJECTED: [Anomaly; 9] = [
        Anomaly::DropAcked,
        Anomaly::SkipProcessing,
        Anomaly::ProcessTwice,
        Anomaly::WriteTwice,
        Anomaly::SwapSameKey,
        Anomaly::PollBackwards,
        Anomaly::PollGap,
        Anomaly::DifferentRecord,
        Anomaly::FailedButWritten,
    ];
}

fn anomaly() -> impl Strategy<Value = Anomaly> {
    prop::sample::select([Anomaly::None].into_iter().chain(Anomaly::INJECTED).collect::<Vec<_>>())
}

fn run() -> impl Strategy<Value = Run> {
    (1..=3u32, 1..=3u32, prop::collection::vec((0..3u32, 0..5u32), 6..40), 1..=3u32)
        .prop_flat_map(|(partitions, consumers, sends, poll_max)| {
            let rebalance_at = prop::option::of(0..6u32);
            (Just((partitions, consumers, sends, poll_max)), rebalance_at, anomaly(), any::<usize>())
        })
        .prop_map(|((partitions, consumers, sends, poll_max), rebalance_at, anomaly, pick)| Run {
            partitions,
            consumers,
            sends: [(0, 0), (0, 0)].into_iter().chain(sends).collect(),
            poll_max,
            rebalance_at,
            anomaly,
            pick,
        })
}

/// One poll of the model: its entry in the history, what it read, and its ownership (epoch, partition).
#[derive(Clone, Copy, Debug)]
struct Poll {
    entry: usize,
    partition: u32,
    first: u64,
    count: u64,
    ownership: (u32, u32),
}

struct Model {
    history: History,
    logs: Vec<Vec<Record>>,
    polls: Vec<Poll>,
}

/// The records each send wrote, in send order: ((producer, send_seq), key, partition).
fn sends(run: &Run) -> Vec<(Record, u32, u32)> {
    let mut next_seq = [0u64; 3];
    let mut out = Vec::new();
    for &(producer, key) in &run.sends {
        let seq = next_seq[producer as usize];
        next_seq[producer as usize] += 1;
        out.push(((producer, seq), key, key % run.partitions));
    }
    out
}

fn build(run: &Run) -> Model {
    let sends = sends(run);
    let mut logs = vec![Vec::new(); run.partitions as usize];
    for &(record, _, p) in &sends {
        logs[p as usize].push(record);
    }
    match run.anomaly {
        Anomaly::SwapSameKey => logs[0].swap(0, 1),
        Anomaly::WriteTwice => {
            let (record, _, p) = sends[run.pick % sends.len()];
            logs[p as usize].push(record);
        }
        _ => {}
    }
    let mut history = History::new(
        (0..run.partitions).map(|p| format!("t-{p}")).collect(),
        (0..3).map(|p| format!("p{p}")).collect(),
    );
    history.consumers = (0..run.consumers).map(|c| format!("c{c}")).collect();
    history.groups = vec!["g0".into()];
    for &(record, key, p) in &sends {
        let offset = logs[p as usize].iter().position(|&r| r == record).map(|o| o as u64);
        push(&mut history, invoked(record.0, record.1, Some(key), p));
        push(&mut history, acked(record.0, record.1, p, offset));
    }
    let mut model = Model { history, logs, polls: Vec::new() };
    consume(run, &mut model);
    model
}

fn push(history: &mut History, event: ClientEvent) {
    let t = history.entries.len() as u64 * 1_000;
    history.push(t, event);
}

/// Group 0 consumes every partition to its end, one poll per partition per round; at `rebalance_at` each consumer
/// is revoked everything and the partitions move to the next consumer, which resumes where processing stopped.
fn consume(run: &Run, m: &mut Model) {
    let owner = |p: u32, epoch: u32| (p + epoch) % run.consumers;
    let assign = |h: &mut History, epoch: u32| {
        for c in 0..run.consumers {
            let mine: Vec<u32> = (0..run.partitions).filter(|&p| owner(p, epoch) == c).collect();
            push(h, assigned(c, 0, &mine));
        }
    };
    let mut position = vec![0u64; run.partitions as usize];
    let (mut epoch, mut round) = (0, 0);
    assign(&mut m.history, epoch);
    while position.iter().zip(&m.logs).any(|(&pos, log)| pos < log.len() as u64) {
        if run.rebalance_at == Some(round) {
            for c in 0..run.consumers {
                let mine: Vec<u32> = (0..run.partitions).filter(|&p| owner(p, epoch) == c).collect();
                push(&mut m.history, revoked(c, 0, &mine));
            }
            epoch += 1;
            assign(&mut m.history, epoch);
        }
        for p in 0..run.partitions {
            let (pos, log) = (&mut position[p as usize], &m.logs[p as usize]);
            let count = (log.len() as u64 - *pos).min(u64::from(run.poll_max));
            if count == 0 {
                continue;
            }
            let c = owner(p, epoch);
            m.polls.push(Poll {
                entry: m.history.entries.len(),
                partition: p,
                first: *pos,
                count,
                ownership: (epoch, p),
            });
            push(&mut m.history, polled(c, 0, p, *pos, count as u32));
            for o in *pos..*pos + count {
                push(&mut m.history, processed(c, 0, p, o, log[o as usize]));
            }
            *pos += count;
        }
        round += 1;
    }
}

/// What an injected anomaly must produce: (invariant, (partition, offset, record)).
type Expected = Vec<(&'static str, (u32, u64, Option<Record>))>;

/// Applies the history-level anomalies (the log-level ones were applied while building) and says what they break.
fn inject(run: &Run, m: &mut Model) -> Expected {
    let entries = &mut m.history.entries;
    match run.anomaly {
        Anomaly::None => vec![],
        Anomaly::DropAcked => {
            let nonempty: Vec<usize> = (0..m.logs.len()).filter(|&p| !m.logs[p].is_empty()).collect();
            let p = nonempty[run.pick % nonempty.len()];
            let record = m.logs[p].pop();
            vec![("lost-write", (p as u32, m.logs[p].len() as u64, record))]
        }
        Anomaly::SkipProcessing | Anomaly::ProcessTwice => {
            let all: Vec<usize> = (0..entries.len()).filter(|&i| is_processed(&entries[i].event)).collect();
            let i = all[run.pick % all.len()];
            let ClientEvent::Processed { partition, offset, producer, send_seq, .. } = entries[i].event else {
                unreachable!()
            };
            let witness = (partition, offset, Some((producer, send_seq)));
            if run.anomaly == Anomaly::SkipProcessing {
                entries.remove(i);
                // Read around within one poll, the record was passed over: an int-poll-skip too.
                let poll =
                    m.polls.iter().find(|q| q.partition == partition && (q.first..q.first + q.count).contains(&offset));
                let inside = poll.is_some_and(|q| offset > q.first && offset + 1 < q.first + q.count);
                let skip = inside.then_some(("int-poll-skip", witness));
                [("undelivered", witness)].into_iter().chain(skip).collect()
            } else {
                entries.insert(i + 1, entries[i].clone());
                vec![("duplicate-delivery", witness)]
            }
        }
        Anomaly::WriteTwice => {
            let (record, _, p) = sends(run)[run.pick % run.sends.len()];
            let witness = (p, m.logs[p as usize].len() as u64 - 1, Some(record));
            vec![("duplicate-write", witness), ("duplicate-delivery", witness)]
        }
        // The group then processes send #1 before send #0 of that key: processing-order fires at send #0.
        Anomaly::SwapSameKey => {
            vec![("reordered-write", (0, 0, Some((0, 1)))), ("processing-order", (0, 1, Some((0, 0))))]
        }
        Anomaly::PollBackwards => {
            let poll = m.polls[run.pick % m.polls.len()];
            entries.insert(poll.entry + 1, entries[poll.entry].clone());
            let record = m.logs[poll.partition as usize][poll.first as usize];
            vec![("nonmonotonic-poll", (poll.partition, poll.first, Some(record)))]
        }
        Anomaly::PollGap => poll_gap(run, m),
        Anomaly::DifferentRecord => {
            // The acknowledgement of send #1 of p0 (at t-0@1) claims offset 0, where send #0 is.
            let ack =
                entries.iter_mut().find(|e| matches!(e.event, ClientEvent::SendAcked { producer: 0, send_seq: 1, .. }));
            let Some(ClientEvent::SendAcked { offset, .. }) = ack.map(|e| &mut e.event) else { unreachable!() };
            *offset = Some(0);
            let witness = (0, 0, Some((0, 1)));
            vec![("inconsistent-offsets", witness), ("lost-write", witness)]
        }
        Anomaly::FailedButWritten => {
            let (record, _, p) = sends(run)[run.pick % run.sends.len()];
            let ack = entries.iter_mut().find(|e| {
                matches!(e.event, ClientEvent::SendAcked { producer, send_seq, .. } if (producer, send_seq) == record)
            });
            let Some(entry) = ack else { unreachable!("every send is acknowledged") };
            let error = "NOT_ENOUGH_REPLICAS".to_string();
            let (producer, send_seq) = record;
            entry.event =
                ClientEvent::SendFailed { producer, send_seq, partition: p, error, definite: true, offset: None };
            let offset = m.logs[p as usize].iter().position(|&r| r == record).expect("in the log") as u64;
            vec![("aborted-read", (p, offset, Some(record)))]
        }
    }
}

fn is_processed(event: &ClientEvent) -> bool {
    matches!(event, ClientEvent::Processed { .. })
}

/// Removes a poll that has a poll before and after it in the same ownership (if there is one): the next poll then
/// skips what it read.
fn poll_gap(run: &Run, m: &mut Model) -> Expected {
    let mut by_ownership: BTreeMap<(u32, u32), Vec<Poll>> = BTreeMap::new();
    for &poll in &m.polls {
        by_ownership.entry(poll.ownership).or_default().push(poll);
    }
    let middle: Vec<Poll> = by_ownership
        .values()
        .filter(|polls| polls.len() >= 3)
        .flat_map(|polls| polls[1..polls.len() - 1].to_vec())
        .collect();
    if middle.is_empty() {
        return vec![];
    }
    let poll = middle[run.pick % middle.len()];
    m.history.entries.remove(poll.entry);
    let record = m.logs[poll.partition as usize][poll.first as usize];
    vec![("poll-skip", (poll.partition, poll.first, Some(record)))]
}

/// Exactly the expected invariants fire, each once with its witness; the rest find nothing.
fn assert_exactly(found: &BTreeMap<&'static str, Vec<Violation>>, expected: &Expected) -> Result<(), TestCaseError> {
    for (name, violations) in found {
        match expected.iter().find(|(n, _)| n == name) {
            Some(&(_, (p, o, record))) => {
                prop_assert_eq!(violations.len(), 1, "{}: {:?}", name, violations);
                let v = &violations[0];
                prop_assert_eq!((v.partition, v.offset, v.witness_record()), (Some(p), Some(o), record), "{}", name);
            }
            None => prop_assert!(violations.is_empty(), "{} fired: {:?}", name, violations),
        }
    }
    Ok(())
}

fn final_logs(m: &Model) -> Vec<FinalLog> {
    m.logs
        .iter()
        .enumerate()
        .map(|(p, records)| FinalLog { partition: p as u32, start_offset: 0, records: records.clone() })
        .collect()
}

/// What the checker must find of an injected anomaly without the final logs, by black-box inference: the same,
/// but for the two anomalies whose evidence differs.
fn black_box(anomaly: Anomaly, with_logs: &Expected) -> Expected {
    match anomaly {
        // Nothing a client saw changed: the record was acknowledged and read where the log then lost it.
        Anomaly::DropAcked => vec![],
        // The acknowledgement at offset 0 and the read at 1 place send #1 at two offsets; it was read, so not lost.
        Anomaly::DifferentRecord => {
            vec![("inconsistent-offsets", (0, 0, Some((0, 1)))), ("duplicate-write", (0, 1, Some((0, 1))))]
        }
        _ => with_logs.clone(),
    }
}

proptest! {
    #[test]
    fn the_reference_model_breaks_no_invariant(run in run()) {
        let run = Run { anomaly: Anomaly::None, ..run };
        let m = build(&run);
        assert_exactly(&check_all(&m.history, Some(&final_logs(&m))), &Expected::new())?;
        assert_exactly(&check_all(&m.history, None), &Expected::new())?;
    }

    #[test]
    fn each_injected_anomaly_fires_exactly_its_invariants(run in run()) {
        let mut m = build(&run);
        let expected = inject(&run, &mut m);
        let logs = final_logs(&m);
        assert_exactly(&check_all(&m.history, Some(&logs)), &expected)?;
        assert_exactly(&check_all(&m.history, None), &black_box(run.anomaly, &expected))?;
    }
}

// The anomalies black-box inference cannot see: only a dropped acknowledged record that consumers had already read
// (what every client saw is what a correct run shows). Every other one is found without the final logs.
#[test]
fn only_a_loss_after_every_read_is_invisible_without_final_logs() {
    let all = Anomaly::INJECTED;
    let witness: Expected = vec![("x", (0, 0, Option::None))];
    let invisible: Vec<Anomaly> = all.into_iter().filter(|&a| black_box(a, &witness).is_empty()).collect();
    assert_eq!(invisible, [Anomaly::DropAcked]);
}

#[test]
fn the_gap_anomaly_is_not_vacuous() {
    // Enough records in one partition for an ownership with three polls.
    let run = Run {
        partitions: 1,
        consumers: 1,
        sends: vec![(0, 0); 6],
        poll_max: 1,
        rebalance_at: None,
        anomaly: Anomaly::PollGap,
        pick: 0,
    };
    let mut m = build(&run);
    let expected = inject(&run, &mut m);
    assert_eq!(expected, [("poll-skip", (0, 1, Some((0, 1))))]);
    let found = check_all(&m.history, Some(&final_logs(&m)));
    assert_eq!(found["poll-skip"].len(), 1);
}

/// A history of about a million entries from the model's pattern (4 partitions, 330,000 keyed records, one group of
/// two consumers polling 100 at a time), with its final logs.
fn large() -> (History, Vec<FinalLog>) {
    let mut h = History::new((0..4).map(|p| format!("t-{p}")).collect(), vec!["p0".into(), "p1".into()]);
    h.consumers = vec!["c0".into(), "c1".into()];
    h.groups = vec!["g0".into()];
    let mut logs = vec![Vec::new(); 4];
    for i in 0..330_000u64 {
        let (producer, key) = ((i % 2) as u32, (i % 1_000) as u32);
        let p = key % 4;
        logs[p as usize].push((producer, i));
        push(&mut h, invoked(producer, i, Some(key), p));
        push(&mut h, acked(producer, i, p, Some(logs[p as usize].len() as u64 - 1)));
    }
    push(&mut h, assigned(0, 0, &[0, 1]));
    push(&mut h, assigned(1, 0, &[2, 3]));
    for (p, log) in logs.iter().enumerate() {
        for (n, chunk) in log.chunks(100).enumerate() {
            let (c, first) = ((p / 2) as u32, n as u64 * 100);
            push(&mut h, polled(c, 0, p as u32, first, chunk.len() as u32));
            for (i, &r) in chunk.iter().enumerate() {
                push(&mut h, processed(c, 0, p as u32, first + i as u64, r));
            }
        }
    }
    let logs =
        logs.into_iter().enumerate().map(|(p, records)| FinalLog { partition: p as u32, start_offset: 0, records });
    (h, logs.collect())
}

// A history of a million entries from a correct run checks clean (its speed is measured by `cargo bench`).
#[test]
fn a_million_entry_history_checks_clean() {
    let (h, logs) = large();
    assert!(h.entries.len() > 990_000);
    let found = check_all(&h, Some(&logs));
    assert!(found.values().all(Vec::is_empty));
}
