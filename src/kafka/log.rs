//! One replica's log of one partition: record batches stamped with leader epochs, the leader-epoch cache, the
//! high watermark, what has been flushed to disk, and the idempotent-producer state rebuilt from the log.

use super::epoch_cache::EpochCache;
use super::ids::{ClientId, GroupId, LeaderEpoch, Offset};
use super::messages::OffsetAndEpoch;
use crate::engine::SimTime;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

/// A record as the model knows it: who sent it, which of that producer's sends it was, its key. No payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
pub struct Record {
    pub producer: ClientId,
    /// The producer's send number (its n-th `send()` call), which makes the record unique in the run.
    pub send_seq: u64,
    /// The key as a number; its bytes are the decimal digits (so key 21 hashes as the string "21").
    pub key: Option<u32>,
    pub size_bytes: u32,
}

impl Record {
    /// A `__consumer_offsets` record: key (group, partition), value the committed offset and its leader epoch.
    /// The model carries it in a record's id fields — `producer` holds the group index, `key` the partition,
    /// `send_seq` the offset in its low 40 bits and the leader epoch + 1 (0 for none) above — and only the group
    /// coordinator reads records of that topic.
    pub fn offset_commit(group: GroupId, partition: super::ids::PartitionId, committed: OffsetAndEpoch) -> Record {
        assert!(committed.offset < 1 << OFFSET_BITS, "offset {} beyond the model's range", committed.offset);
        let epoch = committed.leader_epoch.map_or(0, |e| {
            assert!((0..1 << 23).contains(&e), "leader epoch {e} beyond the model's range");
            e as u64 + 1
        });
        let send_seq = committed.offset | epoch << OFFSET_BITS;
        Record { producer: ClientId(group.0), send_seq, key: Some(partition.0), size_bytes: 64 }
    }

    /// A tombstone for (group, partition): the committed offset expired (GroupMetadataManager.cleanupGroupMetadata).
    pub fn offset_tombstone(group: GroupId, partition: super::ids::PartitionId) -> Record {
        Record { producer: ClientId(group.0), send_seq: u64::MAX, key: Some(partition.0), size_bytes: 64 }
    }

    /// The (group, partition, committed offset) of a `__consumer_offsets` record; no offset for a tombstone.
    pub fn as_offset_commit(&self) -> (GroupId, super::ids::PartitionId, Option<OffsetAndEpoch>) {
        let partition = super::ids::PartitionId(self.key.unwrap_or(0));
        if self.send_seq == u64::MAX {
            return (GroupId(self.producer.0), partition, None);
        }
        let offset = self.send_seq & ((1 << OFFSET_BITS) - 1);
        let epoch = self.send_seq >> OFFSET_BITS;
        let leader_epoch = (epoch > 0).then(|| (epoch - 1) as LeaderEpoch);
        (GroupId(self.producer.0), partition, Some(OffsetAndEpoch { offset, leader_epoch }))
    }
}

/// The bits of a `__consumer_offsets` record's `send_seq` that hold the offset.
const OFFSET_BITS: u32 = 40;

/// The idempotent producer's stamp on a batch (RecordBatch producerId / producerEpoch / baseSequence).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProducerStamp {
    pub producer_id: u64,
    pub producer_epoch: u16,
    pub base_sequence: u32,
}

/// A record batch as stored: base offset, the leader epoch it was appended in, its records (shared, not copied).
#[derive(Clone, Debug)]
pub struct Batch {
    pub base_offset: Offset,
    pub epoch: LeaderEpoch,
    pub stamp: Option<ProducerStamp>,
    /// When the leader appended it (the batch's max timestamp, which time-based retention reads).
    pub timestamp: SimTime,
    pub records: Rc<[Record]>,
}

impl Batch {
    pub fn next_offset(&self) -> Offset {
        self.base_offset + self.records.len() as u64
    }

    pub fn size_bytes(&self) -> u64 {
        self.records.iter().map(|r| u64::from(r.size_bytes)).sum()
    }
}

/// Batches read for a fetch. A caught-up follower usually gets one or two, which then need no allocation.
pub type FetchedBatches = smallvec::SmallVec<[Batch; 2]>;

/// What the producer state says of an incoming idempotent batch (ProducerAppendInfo).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    Append,
    /// A retry of one of the last five batches: answer with its original base offset, append nothing.
    Duplicate {
        base_offset: Offset,
    },
    /// A gap, a duplicate older than the retained batches, or a new epoch not starting at sequence 0:
    /// OUT_OF_ORDER_SEQUENCE_NUMBER.
    OutOfOrder,
    /// An epoch older than the producer's latest here: INVALID_PRODUCER_EPOCH.
    StaleEpoch,
}

/// What a hard crash takes from a broker's storage besides its memory (the engine's kinds of crash).
pub use crate::engine::StorageLoss;

/// What a truncation removed: offsets from the log, entries from the epoch cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncation {
    pub offsets_removed: u64,
    pub epochs_removed: usize,
}

/// ProducerStateEntry.NUM_BATCHES_TO_RETAIN.
const PRODUCER_BATCHES_RETAINED: usize = 5;

#[derive(Clone, Copy, Debug)]
struct BatchMetadata {
    first_seq: u32,
    last_seq: u32,
    base_offset: Offset,
}

/// What the log knows of one producer id (ProducerStateEntry): its latest epoch and that epoch's last batches.
#[derive(Clone, Debug)]
struct ProducerStateEntry {
    epoch: u16,
    batches: VecDeque<BatchMetadata>,
}

#[derive(Clone, Debug, Default)]
pub struct ReplicaLog {
    batches: VecDeque<Batch>,
    /// The bytes of every batch in the log, kept as batches come and go (retention reads it on every check).
    size_bytes: u64,
    log_end_offset: Offset,
    /// The first offset still in the log; retention moves it forward.
    log_start_offset: Offset,
    /// The leader-epoch cache (LeaderEpochFileCache).
    epochs: EpochCache,
    /// The high watermark: log start ≤ it ≤ log end (`assert_offsets`); on a leader it only moves forward.
    high_watermark: Offset,
    /// The high watermark as last written to `replication-offset-checkpoint`.
    checkpointed_high_watermark: Offset,
    /// Everything below this offset is on disk: flushed by Kafka, or written back by the OS.
    flushed_offset: Offset,
    /// The log end offset at each OS writeback pass still within the dirty-expire window: (time, offset).
    dirty_samples: VecDeque<(SimTime, Offset)>,
    producers: BTreeMap<u64, ProducerStateEntry>,
    /// The offset of the latest producer-state snapshot on disk, if any.
    producer_snapshot: Option<Offset>,
}

impl ReplicaLog {
    pub fn log_end_offset(&self) -> Offset {
        self.log_end_offset
    }

    pub fn log_start_offset(&self) -> Offset {
        self.log_start_offset
    }

    /// What the log holds in memory, estimated for the run's memory budget: its batches and their records
    /// (counted per replica, although replicas share a batch's records: the estimate errs high).
    pub fn retained_bytes(&self) -> u64 {
        let batches = self.batches.capacity() * std::mem::size_of::<Batch>();
        let records = (self.log_end_offset - self.log_start_offset) as usize * std::mem::size_of::<Record>();
        (batches + records) as u64
    }

    pub fn high_watermark(&self) -> Offset {
        self.high_watermark
    }

    /// The relations every change keeps: log start ≤ high watermark ≤ log end, and nothing is flushed or
    /// checkpointed beyond the log end.
    fn assert_offsets(&self) {
        assert!(
            self.log_start_offset <= self.high_watermark && self.high_watermark <= self.log_end_offset,
            "log start {} ≤ high watermark {} ≤ log end {} broken",
            self.log_start_offset,
            self.high_watermark,
            self.log_end_offset
        );
        assert!(self.flushed_offset <= self.log_end_offset, "flushed {} beyond log end", self.flushed_offset);
        assert!(
            self.checkpointed_high_watermark <= self.log_end_offset,
            "checkpointed high watermark {} beyond log end {}",
            self.checkpointed_high_watermark,
            self.log_end_offset
        );
    }

    /// The leader's high watermark moves to `hw` if that is forward (UnifiedLog.maybeIncrementHighWatermark, which
    /// refuses a high watermark beyond the log end). Returns whether it moved.
    pub fn maybe_increment_high_watermark(&mut self, hw: Offset) -> bool {
        assert!(hw <= self.log_end_offset, "high watermark {hw} beyond log end {}", self.log_end_offset);
        if hw <= self.high_watermark {
            return false;
        }
        self.high_watermark = hw;
        self.assert_offsets();
        true
    }

    /// A follower's high watermark from the leader's (UnifiedLog.maybeUpdateHighWatermark → updateHighWatermark):
    /// bounded below by the log start and above by the log end.
    pub fn update_high_watermark(&mut self, leader_hw: Offset) {
        self.high_watermark = leader_hw.clamp(self.log_start_offset, self.log_end_offset);
        self.assert_offsets();
    }

    /// Writes the high watermark to `replication-offset-checkpoint` (ReplicaManager.checkpointHighWatermarks).
    pub fn checkpoint_high_watermark(&mut self) {
        self.checkpointed_high_watermark = self.high_watermark;
    }

    /// A clean shutdown: the log is flushed, the high watermark checkpointed and a producer snapshot taken
    /// (LogManager.shutdown).
    pub fn flush_for_shutdown(&mut self) {
        self.flushed_offset = self.log_end_offset;
        self.checkpoint_high_watermark();
        self.take_producer_snapshot();
    }

    /// Log retention (LogManager.cleanupLogs / UnifiedLog.deleteOldSegments), with a batch standing for a
    /// segment: deletes the oldest batches that are wholly below the high watermark and either older than
    /// `retention_ms` or beyond `retention_bytes`. Returns the new log start offset if it moved.
    pub fn apply_retention(
        &mut self,
        now: SimTime,
        retention_us: Option<u64>,
        retention_bytes: Option<u64>,
    ) -> Option<Offset> {
        let before = self.log_start_offset;
        while let Some(first) = self.batches.front() {
            let below_hw = first.next_offset() <= self.high_watermark;
            let expired = retention_us.is_some_and(|r| now.since_us(first.timestamp) > r);
            // Kafka deletes a segment by size only if at least retention.bytes remain without it.
            let too_big = retention_bytes.is_some_and(|b| self.size_bytes.saturating_sub(first.size_bytes()) >= b);
            if !below_hw || !(expired || too_big) {
                break;
            }
            self.size_bytes -= first.size_bytes();
            self.log_start_offset = first.next_offset();
            self.batches.pop_front();
        }
        if self.log_start_offset == before {
            return None;
        }
        // UnifiedLog.maybeIncrementLogStartOffset: the epoch cache forgets what lies below the new log start.
        self.epochs.truncate_from_start(self.log_start_offset);
        self.assert_offsets();
        Some(self.log_start_offset)
    }

    /// ListOffsets by timestamp (KIP-79): the first offset of the first batch stamped at or after `t`, or the log
    /// end when every batch is older.
    pub fn offset_for_time(&self, t: SimTime) -> Offset {
        self.batches.iter().find(|b| b.timestamp >= t).map_or(self.log_end_offset, |b| b.base_offset)
    }

    /// A follower whose log ends before the leader's log start starts over there (truncateFullyAndStartAt).
    pub fn truncate_fully_and_start_at(&mut self, offset: Offset) {
        self.batches.clear();
        self.size_bytes = 0;
        self.epochs.clear();
        self.producers.clear();
        self.producer_snapshot = None;
        self.dirty_samples.clear();
        self.log_start_offset = offset;
        self.log_end_offset = offset;
        self.high_watermark = offset;
        self.checkpointed_high_watermark = offset;
        self.flushed_offset = offset;
        self.assert_offsets();
    }

    pub fn latest_epoch(&self) -> Option<LeaderEpoch> {
        self.epochs.latest_epoch()
    }

    pub fn epoch_cache(&self) -> &EpochCache {
        &self.epochs
    }

    /// The first offset written in `epoch`, if this log has that epoch.
    pub fn epoch_start_offset(&self, epoch: LeaderEpoch) -> Option<Offset> {
        self.epochs.start_offset_of(epoch)
    }

    /// Records `epoch` as starting at the log end (UnifiedLog.maybeAssignEpochStartOffset, which a new leader
    /// calls before it appends anything, and every append calls for its batch).
    pub fn assign_epoch(&mut self, epoch: LeaderEpoch) {
        self.epochs.assign(epoch, self.log_end_offset);
    }

    /// UnifiedLog.endOffsetForEpoch over the cache (LeaderEpochFileCache.endOffsetFor).
    pub fn end_offset_for_epoch(&self, requested: LeaderEpoch) -> Option<(LeaderEpoch, Offset)> {
        self.epochs.end_offset_for(requested, self.log_end_offset)
    }

    /// The leader's append: stamps `records` with `epoch`, returns the batch's (base offset, last offset).
    pub fn append_as_leader(
        &mut self,
        records: Rc<[Record]>,
        epoch: LeaderEpoch,
        stamp: Option<ProducerStamp>,
        timestamp: SimTime,
    ) -> (Offset, Offset) {
        assert!(!records.is_empty(), "empty batch");
        self.assign_epoch(epoch);
        let batch = Batch { base_offset: self.log_end_offset, epoch, stamp, timestamp, records };
        let range = (batch.base_offset, batch.next_offset() - 1);
        self.push(batch);
        range
    }

    /// A follower's append of batches copied from the leader; they must start at our log end.
    pub fn append_as_follower(&mut self, batches: &[Batch]) {
        for batch in batches {
            if batch.next_offset() <= self.log_end_offset {
                continue; // Already have it (a duplicate response).
            }
            assert!(batch.base_offset <= self.log_end_offset, "follower append with a gap");
            let mut batch = batch.clone();
            if batch.base_offset < self.log_end_offset {
                // We truncated inside this batch: keep only its part beyond our log end.
                let skip = (self.log_end_offset - batch.base_offset) as usize;
                batch.records = Rc::from(&batch.records[skip..]);
                batch.base_offset = self.log_end_offset;
                batch.stamp = None;
            }
            self.assign_epoch(batch.epoch);
            self.push(batch);
        }
    }

    fn push(&mut self, batch: Batch) {
        if let Some(stamp) = batch.stamp {
            self.remember_producer_batch(stamp, &batch);
        }
        self.log_end_offset = batch.next_offset();
        self.size_bytes += batch.size_bytes();
        self.batches.push_back(batch);
    }

    /// ProducerStateEntry.addBatch: a batch of another epoch (higher from a client; on a follower whatever the
    /// leader wrote) starts the entry over with that epoch; the last five batches are kept.
    fn remember_producer_batch(&mut self, stamp: ProducerStamp, batch: &Batch) {
        let entry = self
            .producers
            .entry(stamp.producer_id)
            .or_insert_with(|| ProducerStateEntry { epoch: stamp.producer_epoch, batches: VecDeque::new() });
        if entry.epoch != stamp.producer_epoch {
            entry.epoch = stamp.producer_epoch;
            entry.batches.clear();
        }
        entry.batches.push_back(BatchMetadata {
            first_seq: stamp.base_sequence,
            last_seq: stamp.base_sequence + batch.records.len() as u32 - 1,
            base_offset: batch.base_offset,
        });
        if entry.batches.len() > PRODUCER_BATCHES_RETAINED {
            entry.batches.pop_front();
        }
    }

    /// A client's idempotent batch against the producer's state here, in Kafka's order: a retry of one of the
    /// last five batches of the same epoch is a duplicate (ProducerStateEntry.findDuplicateBatch); an older epoch
    /// is INVALID_PRODUCER_EPOCH (ProducerAppendInfo.checkProducerEpoch); a newer epoch must start at sequence 0,
    /// the same epoch must follow the last sequence (checkSequence).
    pub fn check_sequence(&self, stamp: ProducerStamp, record_count: usize) -> SequenceCheck {
        let last_seq = stamp.base_sequence + record_count as u32 - 1;
        let Some(entry) = self.producers.get(&stamp.producer_id) else {
            // ProducerAppendInfo.checkSequence: a producer with no state here (new to this log, or whose batches a
            // truncation or a failover left none of) has no current epoch, and is accepted at any sequence.
            return SequenceCheck::Append;
        };
        if stamp.producer_epoch == entry.epoch
            && let Some(dup) =
                entry.batches.iter().find(|m| m.first_seq == stamp.base_sequence && m.last_seq == last_seq)
        {
            return SequenceCheck::Duplicate { base_offset: dup.base_offset };
        }
        if stamp.producer_epoch < entry.epoch {
            return SequenceCheck::StaleEpoch;
        }
        let in_sequence = if stamp.producer_epoch > entry.epoch {
            stamp.base_sequence == 0
        } else {
            entry.batches.back().map_or(stamp.base_sequence == 0, |m| m.last_seq.wrapping_add(1) == stamp.base_sequence)
        };
        if in_sequence { SequenceCheck::Append } else { SequenceCheck::OutOfOrder }
    }

    /// Batches starting with the one that holds `from`, up to about `max_bytes` (always at least one batch).
    pub fn read(&self, from: Offset, max_bytes: u64) -> FetchedBatches {
        let start = self.first_batch_ending_after(from);
        let mut out = FetchedBatches::new();
        let mut bytes = 0;
        for batch in self.batches.range(start..) {
            if !out.is_empty() && bytes >= max_bytes {
                break;
            }
            bytes += batch.size_bytes();
            out.push(batch.clone());
        }
        out
    }

    /// The index of the first batch that ends after `offset` (`partition_point` of `next_offset() <= offset`),
    /// found by galloping back from the end: reads and replication look near the log end, and a binary search
    /// of the whole log misses the cache at every probe.
    fn first_batch_ending_after(&self, offset: Offset) -> usize {
        let ends_after = |i: usize| self.batches[i].next_offset() > offset;
        let Some(mut high) = self.batches.len().checked_sub(1).filter(|&last| ends_after(last)) else {
            return self.batches.len();
        };
        // `high` ends after `offset`; gallop back until a batch that does not, then bisect between them.
        let mut low = 0;
        let mut step = 1;
        while let Some(probe) = high.checked_sub(step) {
            if !ends_after(probe) {
                low = probe + 1;
                break;
            }
            high = probe;
            step *= 2;
        }
        while low < high {
            let middle = low + (high - low) / 2;
            if ends_after(middle) {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        low
    }

    /// Every batch from the one that holds `from` (or the first after it) to the log end.
    pub fn batches_from(&self, from: Offset) -> impl Iterator<Item = &Batch> + '_ {
        let start = self.first_batch_ending_after(from);
        self.batches.range(start..)
    }

    /// What a consumer may read from `from`: the batches `read` returns, cut at the high watermark.
    pub fn read_committed(&self, from: Offset, max_bytes: u64) -> FetchedBatches {
        let hw = self.high_watermark;
        if from >= hw {
            return FetchedBatches::new();
        }
        let mut batches = self.read(from, max_bytes);
        batches.retain(|b| b.base_offset < hw);
        if let Some(last) = batches.last_mut().filter(|b| b.next_offset() > hw) {
            let keep = (hw - last.base_offset) as usize;
            last.records = Rc::from(&last.records[..keep]);
        }
        batches
    }

    /// Removes everything at and above `offset` (UnifiedLog.truncateTo); the epoch cache, high watermark,
    /// recovery point and producer state follow. A batch is removed whole, as LogSegment.truncateTo cuts the file
    /// at the start of the batch holding `offset`, so the log may end below `offset`. Even when nothing is removed
    /// the epoch cache loses entries that start at the log end: a broker that became leader and appended nothing
    /// before losing leadership has one, and would otherwise send it as its last fetched epoch forever. Below the
    /// first kept batch the log is truncated fully (UnifiedLog.truncateFullyAndStartAt).
    pub fn truncate_to(&mut self, offset: Offset) -> Truncation {
        if offset >= self.log_end_offset {
            let epochs_removed = self.epochs.truncate_from_end(self.log_end_offset);
            return Truncation { offsets_removed: 0, epochs_removed };
        }
        let before = self.log_end_offset;
        if offset < self.log_start_offset {
            let epochs_removed = self.epochs.entries().len();
            self.truncate_fully_and_start_at(offset);
            return Truncation { offsets_removed: before - offset, epochs_removed };
        }
        while self.batches.back().is_some_and(|last| last.next_offset() > offset) {
            self.batches.pop_back();
        }
        let end = self.batches.back().map_or(self.log_start_offset, Batch::next_offset);
        self.log_end_offset = end;
        self.size_bytes = self.batches.iter().map(Batch::size_bytes).sum();
        let epochs_removed = self.epochs.truncate_from_end(end);
        self.high_watermark = self.high_watermark.min(end);
        self.checkpointed_high_watermark = self.checkpointed_high_watermark.min(end);
        self.flushed_offset = self.flushed_offset.min(end);
        self.dirty_samples.iter_mut().for_each(|(_, o)| *o = (*o).min(end));
        self.rebuild_producer_state();
        self.assert_offsets();
        Truncation { offsets_removed: before - end, epochs_removed }
    }

    /// A clean shutdown's producer-state snapshot at the log end (LogManager.shutdown → ProducerStateManager
    /// .takeSnapshot), which keeps only each producer's last batch (writeSnapshot).
    pub fn take_producer_snapshot(&mut self) {
        self.producer_snapshot = Some(self.log_end_offset);
    }

    /// ProducerStateManager.truncateAndReload with UnifiedLog.rebuildProducerState / LogLoader: the state comes
    /// back from the latest snapshot at or below the log end — each producer's last batch before it — and the
    /// batches after it are replayed, up to five per producer. The model's snapshots are those of clean
    /// shutdowns (segments are never rolled: a segment is 1 GiB), so after a crash or a truncation the whole log
    /// is replayed, and after a clean restart a retry of any batch but the last is no longer a duplicate.
    fn rebuild_producer_state(&mut self) {
        self.producers.clear();
        let snapshot = self.producer_snapshot.filter(|&s| s <= self.log_end_offset);
        self.producer_snapshot = snapshot;
        let batches = std::mem::take(&mut self.batches);
        let mut snapshot_loaded = snapshot.is_none();
        for batch in &batches {
            if !snapshot_loaded && snapshot.is_some_and(|s| batch.base_offset >= s) {
                self.keep_only_last_producer_batches();
                snapshot_loaded = true;
            }
            if let Some(stamp) = batch.stamp {
                self.remember_producer_batch(stamp, batch);
            }
        }
        self.batches = batches;
        if !snapshot_loaded {
            self.keep_only_last_producer_batches();
        }
    }

    fn keep_only_last_producer_batches(&mut self) {
        for entry in self.producers.values_mut() {
            let keep_from = entry.batches.len().saturating_sub(1);
            entry.batches.drain(..keep_from);
        }
    }

    /// Applies `log.flush.interval.messages`: flush once that many messages are unflushed.
    pub fn maybe_flush(&mut self, flush_interval_messages: u64) {
        if self.log_end_offset - self.flushed_offset >= flush_interval_messages {
            self.flushed_offset = self.log_end_offset;
        }
    }

    /// The OS's writeback of dirty pages (Linux's flusher, every vm.dirty_writeback_centisecs): whatever has been
    /// dirty for longer than `dirty_expire_us` (vm.dirty_expire_centisecs) reaches the disk without an fsync.
    pub fn page_cache_writeback(&mut self, now: SimTime, dirty_expire_us: u64) {
        self.dirty_samples.push_back((now, self.log_end_offset));
        while let Some(&(at, offset)) = self.dirty_samples.front() {
            if now.since_us(at) < dirty_expire_us {
                break;
            }
            self.flushed_offset = self.flushed_offset.max(offset.min(self.log_end_offset));
            self.dirty_samples.pop_front();
        }
    }

    /// What survives a hard crash: the log (all of it if the page cache survived, else the flushed prefix) and
    /// the checkpointed high watermark; memory-only state is rebuilt from them, as in log recovery.
    pub fn recover_after_crash(&mut self, page_cache_lost: bool) {
        if page_cache_lost {
            let flushed = self.flushed_offset;
            self.truncate_to(flushed);
        }
        // LogLoader.load: the epoch cache (checkpointed on every assign) is trimmed to the recovered log.
        self.epochs.truncate_from_end(self.log_end_offset);
        self.epochs.truncate_from_start(self.log_start_offset);
        self.dirty_samples.clear();
        // UnifiedLog's constructor: updateHighWatermark(the checkpointed one), bounded by log start and end.
        self.high_watermark = self.checkpointed_high_watermark.clamp(self.log_start_offset, self.log_end_offset);
        self.rebuild_producer_state();
        self.assert_offsets();
    }

    /// Every record with its offset and its batch's append time, in offset order.
    pub fn records_with_time(&self) -> impl Iterator<Item = (Offset, SimTime, &Record)> + '_ {
        self.batches.iter().flat_map(|b| (b.base_offset..).zip(b.records.iter()).map(move |(o, r)| (o, b.timestamp, r)))
    }

    /// Every record with its offset, in offset order (for final states and white-box checks).
    pub fn records(&self) -> impl Iterator<Item = (Offset, &Record)> + '_ {
        self.batches.iter().flat_map(|b| (b.base_offset..).zip(b.records.iter()))
    }

    /// The leader epoch of the batch holding `offset`, if it is in the log.
    pub fn epoch_at(&self, offset: Offset) -> Option<LeaderEpoch> {
        let i = self.first_batch_ending_after(offset);
        self.batches.get(i).filter(|b| b.base_offset <= offset).map(|b| b.epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> Rc<[Record]> {
        Rc::from(vec![Record { producer: ClientId(0), send_seq: seq, key: None, size_bytes: 100 }])
    }

    fn log_of(n: u64) -> ReplicaLog {
        let mut log = ReplicaLog::default();
        for seq in 0..n {
            log.append_as_leader(record(seq), 0, None, SimTime::ZERO);
        }
        log
    }

    // The search from the log end finds the batch a binary search of the whole log finds, for every offset and
    // every log length (batches of 1 to 3 records, so that offsets fall inside batches too).
    #[test]
    fn the_search_from_the_end_finds_the_batch_holding_an_offset() {
        for batches in 0..40u64 {
            let mut log = ReplicaLog::default();
            for seq in 0..batches {
                let records: Vec<Record> = (0..1 + seq % 3)
                    .map(|i| Record { producer: ClientId(0), send_seq: seq * 3 + i, key: None, size_bytes: 1 })
                    .collect();
                log.append_as_leader(Rc::from(records), 0, None, SimTime::ZERO);
            }
            for offset in 0..=log.log_end_offset() + 1 {
                let expected = log.batches.partition_point(|b| b.next_offset() <= offset);
                assert_eq!(log.first_batch_ending_after(offset), expected, "{batches} batches, offset {offset}");
            }
        }
    }

    // UnifiedLog.maybeIncrementHighWatermark: a high watermark beyond the log end is an error, and a smaller one
    // leaves the leader's where it is (it only moves forward).
    #[test]
    #[should_panic(expected = "beyond log end")]
    fn a_leader_high_watermark_beyond_the_log_end_trips() {
        log_of(3).maybe_increment_high_watermark(4);
    }

    #[test]
    fn a_leader_high_watermark_never_falls() {
        let mut log = log_of(3);
        assert!(log.maybe_increment_high_watermark(3));
        assert!(!log.maybe_increment_high_watermark(1));
        assert_eq!(log.high_watermark(), 3);
    }

    // UnifiedLog.updateHighWatermark: a follower's high watermark is bounded by its log start and log end.
    #[test]
    fn a_follower_high_watermark_stays_between_log_start_and_end() {
        let mut log = log_of(3);
        log.update_high_watermark(9);
        assert_eq!(log.high_watermark(), 3);
        // Retention deletes the first batch (wholly below the high watermark, older than retention.ms): the log
        // then starts at 1 and ends at 3; a leader's high watermark of 0 is raised to the log start.
        assert_eq!(log.apply_retention(SimTime(10), Some(1), None), Some(3));
        let mut log = log_of(3);
        log.update_high_watermark(1);
        assert_eq!(log.apply_retention(SimTime(10), Some(1), None), Some(1));
        log.update_high_watermark(0);
        assert_eq!(log.high_watermark(), 1);
        log.update_high_watermark(2);
        assert_eq!(log.high_watermark(), 2);
    }

    #[test]
    #[should_panic(expected = "≤ high watermark")]
    fn a_high_watermark_below_the_log_start_trips() {
        let mut log = log_of(3);
        log.log_start_offset = 2;
        log.high_watermark = 1;
        log.assert_offsets();
    }

    #[test]
    #[should_panic(expected = "≤ log end")]
    fn a_high_watermark_beyond_the_log_end_trips() {
        let mut log = log_of(3);
        log.high_watermark = 4;
        log.assert_offsets();
    }

    #[test]
    #[should_panic(expected = "flushed")]
    fn a_flush_beyond_the_log_end_trips() {
        let mut log = log_of(3);
        log.flushed_offset = 4;
        log.assert_offsets();
    }

    #[test]
    #[should_panic(expected = "checkpointed")]
    fn a_checkpoint_beyond_the_log_end_trips() {
        let mut log = log_of(3);
        log.checkpointed_high_watermark = 4;
        log.assert_offsets();
    }

    // Kafka leaves flushing to the OS (log.flush.interval.messages = Long.MAX_VALUE): a process crash keeps the
    // page cache, so the whole log survives; a power loss keeps only what was flushed.
    #[test]
    fn a_crash_keeps_the_page_cache_and_a_power_loss_only_the_flushed_prefix() {
        let mut log = log_of(10);
        log.maybe_flush(4);
        assert_eq!(log.flushed_offset, 10);
        log.append_as_leader(record(10), 0, None, SimTime::ZERO);
        log.append_as_leader(record(11), 0, None, SimTime::ZERO);
        let mut process_crash = log.clone();
        process_crash.recover_after_crash(false);
        assert_eq!(process_crash.log_end_offset(), 12);
        log.recover_after_crash(true);
        assert_eq!(log.log_end_offset(), 10);
    }

    // Without fsync the OS still writes dirty pages back once they are older than vm.dirty_expire_centisecs: a
    // power loss loses only the recent tail.
    #[test]
    fn a_power_loss_keeps_what_the_os_wrote_back() {
        let mut log = log_of(10);
        log.page_cache_writeback(SimTime(0), 30_000_000);
        for seq in 10..15 {
            log.append_as_leader(record(seq), 0, None, SimTime::ZERO);
        }
        log.page_cache_writeback(SimTime(5_000_000), 30_000_000);
        log.page_cache_writeback(SimTime(30_000_000), 30_000_000);
        assert_eq!(log.flushed_offset, 10, "the first 10 records have been dirty for 30 s");
        log.recover_after_crash(true);
        assert_eq!(log.log_end_offset(), 10);
    }

    // The high watermark survives a restart only as far as the last replication-offset-checkpoint
    // (replica.high.watermark.checkpoint.interval.ms), bounded by the recovered log end.
    #[test]
    fn the_high_watermark_is_recovered_from_its_checkpoint() {
        let mut log = log_of(10);
        log.high_watermark = 8;
        log.checkpointed_high_watermark = 5;
        log.recover_after_crash(false);
        assert_eq!(log.high_watermark, 5);
        let mut unflushed = log_of(10);
        unflushed.checkpointed_high_watermark = 9;
        unflushed.recover_after_crash(true);
        assert_eq!(unflushed.high_watermark, 0, "nothing was flushed");
    }

    // ProducerStateEntry: a retry of one of the last five batches is a duplicate (answered with its offset);
    // a gap is OUT_OF_ORDER_SEQUENCE_NUMBER; an older duplicate than the five retained is out of order too.
    #[test]
    fn idempotent_sequences_detect_duplicates_and_gaps() {
        let mut log = ReplicaLog::default();
        let stamp = |seq| Some(ProducerStamp { producer_id: 7, producer_epoch: 0, base_sequence: seq });
        for seq in 0..7u32 {
            assert_eq!(log.check_sequence(stamp(seq).unwrap(), 1), SequenceCheck::Append);
            log.append_as_leader(record(u64::from(seq)), 0, stamp(seq), SimTime::ZERO);
        }
        assert_eq!(log.check_sequence(stamp(6).unwrap(), 1), SequenceCheck::Duplicate { base_offset: 6 });
        assert_eq!(log.check_sequence(stamp(2).unwrap(), 1), SequenceCheck::Duplicate { base_offset: 2 });
        assert_eq!(log.check_sequence(stamp(1).unwrap(), 1), SequenceCheck::OutOfOrder, "older than five batches");
        assert_eq!(log.check_sequence(stamp(9).unwrap(), 1), SequenceCheck::OutOfOrder, "a gap");
    }

    // ProducerAppendInfo.checkSequence: with no entry for the producer (no current producer epoch) any sequence is
    // accepted — after a truncation or failover left none of its batches, the producer goes on where it was.
    #[test]
    fn a_producer_without_state_is_accepted_at_any_sequence() {
        let mut log = ReplicaLog::default();
        let unknown = ProducerStamp { producer_id: 9, producer_epoch: 0, base_sequence: 42 };
        assert_eq!(log.check_sequence(unknown, 3), SequenceCheck::Append);
        log.append_as_leader(record(0), 0, Some(unknown), SimTime::ZERO);
        log.truncate_to(0);
        let next = ProducerStamp { producer_id: 9, producer_epoch: 0, base_sequence: 43 };
        assert_eq!(log.check_sequence(next, 1), SequenceCheck::Append, "its state went with the truncated batch");
    }

    // An offset commit record keeps the offset and its leader epoch (OffsetCommitValue's leader_epoch, KIP-320);
    // a tombstone reads back as no offset.
    #[test]
    fn offset_commit_records_round_trip() {
        let p = super::super::ids::PartitionId(3);
        for committed in [OffsetAndEpoch { offset: 42, leader_epoch: Some(0) }, OffsetAndEpoch::without_epoch(7)] {
            assert_eq!(
                Record::offset_commit(GroupId(2), p, committed).as_offset_commit(),
                (GroupId(2), p, Some(committed))
            );
        }
        assert_eq!(Record::offset_tombstone(GroupId(2), p).as_offset_commit(), (GroupId(2), p, None));
    }

    fn stamp(epoch: u16, seq: u32) -> ProducerStamp {
        ProducerStamp { producer_id: 7, producer_epoch: epoch, base_sequence: seq }
    }

    fn append_stamped(log: &mut ReplicaLog, stamp: ProducerStamp, records: u64) {
        let batch: Vec<Record> = (0..records)
            .map(|i| Record {
                producer: ClientId(0),
                send_seq: u64::from(stamp.base_sequence) + i,
                key: None,
                size_bytes: 10,
            })
            .collect();
        log.append_as_leader(Rc::from(batch), 0, Some(stamp), SimTime::ZERO);
    }

    // ProducerStateManagerTest.testBasicIdMapping: a repeated sequence or a gap is OUT_OF_ORDER_SEQUENCE_NUMBER,
    // a new epoch starts at sequence 0 (a new epoch at another sequence is out of order), and after it the old
    // epoch is INVALID_PRODUCER_EPOCH (ProducerAppendInfo.checkProducerEpoch / checkSequence).
    #[test]
    fn a_new_producer_epoch_starts_at_zero_and_fences_the_old_one() {
        let mut log = ReplicaLog::default();
        append_stamped(&mut log, stamp(0, 0), 1);
        append_stamped(&mut log, stamp(0, 1), 1);
        assert_eq!(log.check_sequence(stamp(0, 5), 1), SequenceCheck::OutOfOrder, "a gap");
        assert_eq!(log.check_sequence(stamp(1, 5), 1), SequenceCheck::OutOfOrder, "a new epoch not at 0");
        assert_eq!(log.check_sequence(stamp(1, 0), 1), SequenceCheck::Append);
        append_stamped(&mut log, stamp(1, 0), 1);
        assert_eq!(log.check_sequence(stamp(0, 2), 1), SequenceCheck::StaleEpoch);
    }

    // ProducerStateEntry.maybeUpdateProducerEpoch clears the batches of the old epoch, and findDuplicateBatch
    // compares the epoch: a retry of an old-epoch batch after the bump is fenced, not answered as a duplicate.
    #[test]
    fn a_bump_forgets_the_old_epochs_batches() {
        let mut log = ReplicaLog::default();
        append_stamped(&mut log, stamp(0, 0), 2);
        assert_eq!(log.check_sequence(stamp(0, 0), 2), SequenceCheck::Duplicate { base_offset: 0 });
        append_stamped(&mut log, stamp(1, 0), 2);
        assert_eq!(log.check_sequence(stamp(0, 0), 2), SequenceCheck::StaleEpoch);
        assert_eq!(log.check_sequence(stamp(1, 0), 2), SequenceCheck::Duplicate { base_offset: 2 });
    }

    // ProducerStateManager.writeSnapshot keeps each producer's last batch only: after a clean shutdown's snapshot
    // and a restart a retry of the last batch is still a duplicate, one of an earlier batch is no longer
    // recognised and is out of order. After a crash LogLoader replays the log since the last snapshot, and the
    // last five batches are known again.
    #[test]
    fn a_clean_restart_remembers_only_each_producers_last_batch() {
        let mut log = ReplicaLog::default();
        for seq in 0..3 {
            append_stamped(&mut log, stamp(0, seq), 1);
        }
        assert_eq!(log.check_sequence(stamp(0, 1), 1), SequenceCheck::Duplicate { base_offset: 1 });
        let mut crashed = log.clone();
        crashed.recover_after_crash(false);
        assert_eq!(crashed.check_sequence(stamp(0, 1), 1), SequenceCheck::Duplicate { base_offset: 1 }, "replayed");
        log.take_producer_snapshot();
        log.recover_after_crash(false);
        assert_eq!(log.check_sequence(stamp(0, 2), 1), SequenceCheck::Duplicate { base_offset: 2 });
        assert_eq!(log.check_sequence(stamp(0, 1), 1), SequenceCheck::OutOfOrder);
        assert_eq!(log.check_sequence(stamp(0, 3), 1), SequenceCheck::Append);
        append_stamped(&mut log, stamp(0, 3), 1);
        append_stamped(&mut log, stamp(0, 4), 1);
        log.recover_after_crash(false);
        assert_eq!(log.check_sequence(stamp(0, 1), 1), SequenceCheck::OutOfOrder, "before the snapshot: its last only");
        assert_eq!(
            log.check_sequence(stamp(0, 3), 1),
            SequenceCheck::Duplicate { base_offset: 3 },
            "replayed after it"
        );
    }

    // LogSegment.truncateTo cuts the file at the start of the batch holding the offset: a truncation inside a
    // batch removes the whole batch, and the producer state is reloaded without it.
    #[test]
    fn truncation_removes_whole_batches() {
        let mut log = ReplicaLog::default();
        append_stamped(&mut log, stamp(0, 0), 3);
        append_stamped(&mut log, stamp(0, 3), 3);
        assert_eq!(log.truncate_to(4), Truncation { offsets_removed: 3, epochs_removed: 0 });
        assert_eq!(log.log_end_offset(), 3);
        assert_eq!(log.check_sequence(stamp(0, 3), 3), SequenceCheck::Append, "the removed batch can come again");
    }

    // UnifiedLog.deleteOldSegments: retention deletes only what is below the high watermark, oldest first, by
    // age (retention.ms) or by size (retention.bytes); the log start moves to the first record kept.
    #[test]
    fn retention_deletes_old_batches_below_the_high_watermark() {
        let mut log = ReplicaLog::default();
        for seq in 0..4 {
            log.append_as_leader(record(seq), 0, None, SimTime(seq * 10_000_000));
        }
        log.high_watermark = 3;
        assert_eq!(log.apply_retention(SimTime(35_000_000), Some(20_000_000), None), Some(2));
        assert_eq!(log.log_start_offset(), 2);
        assert_eq!(log.apply_retention(SimTime(100_000_000), Some(20_000_000), None), Some(3), "stops at the HW");
        let mut by_size = log_of(10);
        by_size.high_watermark = 10;
        assert_eq!(by_size.apply_retention(SimTime(0), None, Some(300)), Some(7), "keeps the newest 300 bytes");
    }

    // ListOffsets by timestamp (KIP-79): the earliest offset whose timestamp is at or after the target.
    #[test]
    fn offset_for_time_finds_the_first_batch_at_or_after() {
        let mut log = ReplicaLog::default();
        for seq in 0..4 {
            log.append_as_leader(record(seq), 0, None, SimTime(seq * 10));
        }
        assert_eq!(log.offset_for_time(SimTime(0)), 0);
        assert_eq!(log.offset_for_time(SimTime(15)), 2);
        assert_eq!(log.offset_for_time(SimTime(99)), 4, "nothing that late: the log end");
    }

    // LeaderEpochFileCache.endOffsetFor: the latest epoch ends at the log end; an earlier one where the next
    // begins; an epoch between two known ones is answered with the largest smaller one.
    #[test]
    fn end_offset_for_epoch_follows_the_leader_epoch_cache() {
        let mut log = ReplicaLog::default();
        log.append_as_leader(record(0), 1, None, SimTime::ZERO);
        log.append_as_leader(record(1), 1, None, SimTime::ZERO);
        log.append_as_leader(record(2), 3, None, SimTime::ZERO);
        assert_eq!(log.end_offset_for_epoch(3), Some((3, 3)));
        assert_eq!(log.end_offset_for_epoch(1), Some((1, 2)));
        assert_eq!(log.end_offset_for_epoch(2), Some((1, 2)));
        assert_eq!(log.end_offset_for_epoch(0), Some((0, 0)));
        assert_eq!(log.end_offset_for_epoch(4), None);
    }

    fn log_with_epochs(epochs: &[(LeaderEpoch, u64)]) -> ReplicaLog {
        let mut log = ReplicaLog::default();
        let mut seq = 0;
        for &(epoch, count) in epochs {
            log.assign_epoch(epoch);
            for _ in 0..count {
                log.append_as_leader(record(seq), epoch, None, SimTime::ZERO);
                seq += 1;
            }
        }
        log
    }

    fn cache_of(log: &ReplicaLog) -> Vec<(LeaderEpoch, Offset)> {
        log.epoch_cache().entries().iter().map(|e| (e.epoch, e.start_offset)).collect()
    }

    // Case (a), UnifiedLog.truncateTo: "always truncate epoch cache since we may have a conflicting epoch entry at
    // the end of the log from the leader" — a broker that became leader of epoch 5 and appended nothing keeps
    // (5, LEO); a truncation to the log end removes no offset but drops that entry.
    #[test]
    fn a_truncation_to_the_log_end_drops_an_epoch_led_without_appending() {
        let mut log = log_with_epochs(&[(1, 3)]);
        log.assign_epoch(5);
        assert_eq!(cache_of(&log), vec![(1, 0), (5, 3)]);
        assert_eq!(log.truncate_to(3), Truncation { offsets_removed: 0, epochs_removed: 1 });
        assert_eq!(cache_of(&log), vec![(1, 0)]);
        assert_eq!(log.latest_epoch(), Some(1));
    }

    // Case (b), LeaderEpochFileCache.assign: a follower appending the new leader's first batch of epoch 6 at the
    // offset where its own empty epoch 5 began replaces that entry.
    #[test]
    fn a_newer_epoch_appended_where_an_empty_one_began_replaces_it() {
        let mut log = log_with_epochs(&[(1, 3)]);
        log.assign_epoch(5);
        let leader = log_with_epochs(&[(1, 3), (6, 2)]);
        log.append_as_follower(&leader.read(3, u64::MAX));
        assert_eq!(cache_of(&log), vec![(1, 0), (6, 3)]);
    }

    // Case (d), UnifiedLog.maybeIncrementLogStartOffset → truncateFromStart: retention to offset 6 over epochs
    // (1,0) (2,4) (3,8) leaves (2,6) (3,8); a follower still in epoch 1 is told epoch 1 ended at 6, the leader's
    // log start, not at 4, and so does not truncate below what the leader still has.
    #[test]
    fn retention_moves_the_first_epoch_entry_to_the_log_start() {
        let mut leader = log_with_epochs(&[(1, 4), (2, 4), (3, 2)]);
        leader.high_watermark = 10;
        let start = leader.apply_retention(SimTime(1), None, Some(400));
        assert_eq!(start, Some(6));
        assert_eq!(cache_of(&leader), vec![(2, 6), (3, 8)]);
        assert_eq!(leader.end_offset_for_epoch(1), Some((1, 6)));
    }

    // Case (e), UnifiedLog.truncateTo: a target below the first kept segment truncates the log fully
    // (truncateFullyAndStartAt), which clears the epoch cache and starts the log at the target.
    #[test]
    fn a_truncation_below_the_log_start_clears_the_log_and_its_epochs() {
        let mut log = log_with_epochs(&[(1, 4), (2, 6)]);
        log.high_watermark = 10;
        log.apply_retention(SimTime(1), None, Some(300));
        assert_eq!(log.log_start_offset(), 7);
        assert_eq!(log.truncate_to(3), Truncation { offsets_removed: 7, epochs_removed: 1 });
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (3, 3));
        assert!(log.epoch_cache().entries().is_empty());
        assert_eq!(log.records().count(), 0);
    }

    // Case (f), LogLoader.load: after recovery the cache is trimmed at the recovered log end
    // (truncateFromEnd(nextOffset)) and at the log start (truncateFromStart(logStartOffsetCheckpoint)), so an
    // epoch led without appending, or one whose records the page cache lost, does not survive a restart.
    #[test]
    fn crash_recovery_trims_the_epoch_cache_to_the_recovered_log() {
        let mut led_empty = log_with_epochs(&[(1, 3)]);
        led_empty.assign_epoch(4);
        led_empty.recover_after_crash(false);
        assert_eq!(cache_of(&led_empty), vec![(1, 0)]);
        let mut unflushed = log_with_epochs(&[(1, 3)]);
        unflushed.maybe_flush(1);
        for seq in 3..5 {
            unflushed.append_as_leader(record(seq), 2, None, SimTime::ZERO);
        }
        unflushed.recover_after_crash(true);
        assert_eq!(unflushed.log_end_offset(), 3);
        assert_eq!(cache_of(&unflushed), vec![(1, 0)]);
    }
}
