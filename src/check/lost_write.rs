//! `lost-write`: a send acknowledged to its producer is not in its partition's final log (at the offset it was
//! acknowledged with, or anywhere in the partition when acks=0 gave no offset).

use crate::history::{ClientEvent, FinalLog, History};
use serde::Serialize;

/// One acknowledged write that the final log does not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LostWrite {
    pub producer: u32,
    pub send_seq: u64,
    pub partition: u32,
    pub offset: Option<u64>,
    pub acked_at_us: u64,
    /// What the final log holds at that offset, if anything.
    pub found_instead: Option<(u32, u64)>,
}

pub fn lost_writes(history: &History, logs: &[FinalLog]) -> Vec<LostWrite> {
    // Per partition, the records sorted for lookups of offset-less (acks=0) acknowledgements.
    let sorted: Vec<Vec<(u32, u64)>> = logs
        .iter()
        .map(|log| {
            let mut records = log.records.clone();
            records.sort_unstable();
            records
        })
        .collect();
    let mut lost = Vec::new();
    for entry in &history.entries {
        let ClientEvent::SendAcked { producer, send_seq, partition, offset } = entry.event else { continue };
        let Some(log) = logs.iter().position(|l| l.partition == partition) else { continue };
        let record = (producer, send_seq);
        let start = logs[log].start_offset;
        let (present, found_instead) = match offset {
            // Below the log start, retention deleted it on purpose: not a lost write.
            Some(o) if o < start => (true, None),
            Some(o) => {
                let at = logs[log].records.get((o - start) as usize).copied();
                (at == Some(record), at)
            }
            None => (sorted[log].binary_search(&record).is_ok(), None),
        };
        if !present {
            lost.push(LostWrite { producer, send_seq, partition, offset, acked_at_us: entry.time_us, found_instead });
        }
    }
    lost
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(events: Vec<ClientEvent>) -> History {
        let mut h = History::new(vec!["t-0".into()], vec!["p".into()]);
        for (i, e) in events.into_iter().enumerate() {
            h.push(i as u64, e);
        }
        h
    }

    #[test]
    fn acknowledged_record_at_its_offset_is_not_lost() {
        let h = history(vec![ClientEvent::SendAcked { producer: 0, send_seq: 7, partition: 0, offset: Some(1) }]);
        let logs = [FinalLog { partition: 0, start_offset: 0, records: vec![(0, 6), (0, 7)] }];
        assert!(lost_writes(&h, &logs).is_empty());
    }

    #[test]
    fn acknowledged_record_replaced_at_its_offset_is_lost() {
        let h = history(vec![ClientEvent::SendAcked { producer: 0, send_seq: 7, partition: 0, offset: Some(1) }]);
        let logs = [FinalLog { partition: 0, start_offset: 0, records: vec![(0, 6), (1, 0)] }];
        let lost = lost_writes(&h, &logs);
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].found_instead, Some((1, 0)));
    }

    #[test]
    fn acks0_record_is_lost_only_if_absent_everywhere() {
        let h = history(vec![
            ClientEvent::SendAcked { producer: 0, send_seq: 1, partition: 0, offset: None },
            ClientEvent::SendAcked { producer: 0, send_seq: 2, partition: 0, offset: None },
        ]);
        let logs = [FinalLog { partition: 0, start_offset: 0, records: vec![(0, 1)] }];
        let lost = lost_writes(&h, &logs);
        assert_eq!(lost.iter().map(|l| l.send_seq).collect::<Vec<_>>(), vec![2]);
    }
}
