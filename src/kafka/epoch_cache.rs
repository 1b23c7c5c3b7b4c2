//! The leader-epoch cache of one replica log (Kafka's `LeaderEpochFileCache`): for each leader epoch the first
//! offset written in it. Every operation follows `LeaderEpochFileCache`; the callers (`ReplicaLog`) follow
//! `UnifiedLog.truncateTo`, `UnifiedLog.maybeIncrementLogStartOffset` and `LogLoader.load` in when they call them.
//! The cache is written to its checkpoint file synchronously on `assign`, so it survives a crash as it is; log
//! recovery then trims it to the recovered log (`LogLoader`).

use super::ids::{LeaderEpoch, Offset};

/// One entry: `epoch` began at `start_offset` (Kafka's `EpochEntry`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: LeaderEpoch,
    pub start_offset: Offset,
}

/// The cache: entries with strictly increasing epochs and non-decreasing start offsets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EpochCache {
    entries: Vec<EpochEntry>,
}

impl EpochCache {
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    pub fn latest_epoch(&self) -> Option<LeaderEpoch> {
        self.entries.last().map(|e| e.epoch)
    }

    /// The first offset written in `epoch`, if the cache has that epoch.
    pub fn start_offset_of(&self, epoch: LeaderEpoch) -> Option<Offset> {
        self.entries.iter().find(|e| e.epoch == epoch).map(|e| e.start_offset)
    }

    /// `LeaderEpochFileCache.assign`: a new entry is needed unless the latest one has the same epoch and starts no
    /// later. Before adding it, every entry at the end whose epoch is not below the new one, or whose start offset
    /// is not below the new start, is removed (`maybeTruncateNonMonotonicEntries`): a newer epoch at the same start
    /// offset replaces an epoch in which nothing was written; a lower epoch than the latest removes the later ones.
    /// Returns whether the cache changed.
    pub fn assign(&mut self, epoch: LeaderEpoch, start_offset: Offset) -> bool {
        assert!(epoch >= 0, "invalid leader epoch {epoch}");
        let needed = self.latest().is_none_or(|l| l.epoch != epoch || start_offset < l.start_offset);
        if !needed {
            return false;
        }
        while self.entries.last().is_some_and(|l| l.epoch >= epoch || l.start_offset >= start_offset) {
            self.entries.pop();
        }
        self.entries.push(EpochEntry { epoch, start_offset });
        self.assert_monotonic();
        true
    }

    /// `LeaderEpochFileCache.truncateFromEnd`: removes every entry that starts at or after `end_offset`. Returns
    /// how many were removed.
    pub fn truncate_from_end(&mut self, end_offset: Offset) -> usize {
        let keep = self.entries.partition_point(|e| e.start_offset < end_offset);
        let removed = self.entries.len() - keep;
        self.entries.truncate(keep);
        removed
    }

    /// `LeaderEpochFileCache.truncateFromStart`: removes the entries that start at or before `start_offset`, then
    /// puts the last of them back starting at `start_offset` (the epoch that holds the new log start). Returns
    /// whether the cache changed.
    pub fn truncate_from_start(&mut self, start_offset: Offset) -> bool {
        let removed = self.entries.partition_point(|e| e.start_offset <= start_offset);
        if removed == 0 {
            return false;
        }
        let epoch = self.entries[removed - 1].epoch;
        self.entries.drain(..removed);
        self.entries.insert(0, EpochEntry { epoch, start_offset });
        self.assert_monotonic();
        true
    }

    /// `LeaderEpochFileCache.clearAndFlush` (the log was truncated fully).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// `LeaderEpochFileCache.endOffsetFor`: the largest epoch ≤ `requested` and the offset where it ended (the
    /// next epoch's start, or `log_end_offset` for the latest epoch). An epoch below every entry is answered with
    /// itself and the first entry's start (the data was deleted); `None` (UNDEFINED_EPOCH_OFFSET) when the epoch
    /// is beyond every entry or the cache is empty.
    pub fn end_offset_for(&self, requested: LeaderEpoch, log_end_offset: Offset) -> Option<(LeaderEpoch, Offset)> {
        let latest = self.latest()?;
        if requested == latest.epoch {
            return Some((latest.epoch, log_end_offset));
        }
        let higher = self.entries.iter().position(|e| e.epoch > requested)?;
        let next_start = self.entries[higher].start_offset;
        match higher.checked_sub(1) {
            Some(floor) => Some((self.entries[floor].epoch, next_start)),
            None => Some((requested, next_start)),
        }
    }

    /// `LeaderEpochFileCache.endOffsetFor` before KIP-279 (0.11 – 1.1): the latest epoch ends at the log end;
    /// another ends where the first later epoch starts; `None` (UNDEFINED_EPOCH_OFFSET) when no later epoch is
    /// known or `requested` is below every entry. No epoch is returned with it.
    pub fn end_offset_for_v0(&self, requested: LeaderEpoch, log_end_offset: Offset) -> Option<Offset> {
        let latest = self.latest()?;
        if requested == latest.epoch {
            return Some(log_end_offset);
        }
        if requested < self.entries[0].epoch {
            return None;
        }
        self.entries.iter().find(|e| e.epoch > requested).map(|e| e.start_offset)
    }

    fn assert_monotonic(&self) {
        for pair in self.entries.windows(2) {
            assert!(
                pair[0].epoch < pair[1].epoch && pair[0].start_offset <= pair[1].start_offset,
                "epoch cache out of order: {:?}",
                self.entries
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // LeaderEpochFileCache.endOffsetFor as of 1.1 (LeaderEpochFileCacheTest): the latest epoch ends at the log
    // end, an unknown epoch between two known ones at the next one's start, one past the latest or below the
    // first is UNDEFINED_EPOCH_OFFSET; no epoch comes with the answer.
    #[test]
    fn end_offsets_before_kip_279() {
        let mut cache = EpochCache::default();
        cache.assign(0, 0);
        cache.assign(2, 10);
        assert_eq!(cache.end_offset_for_v0(2, 15), Some(15));
        assert_eq!(cache.end_offset_for_v0(0, 15), Some(10));
        assert_eq!(cache.end_offset_for_v0(1, 15), Some(10));
        assert_eq!(cache.end_offset_for_v0(3, 15), None);
        let mut later = EpochCache::default();
        later.assign(2, 5);
        assert_eq!(later.end_offset_for_v0(1, 9), None, "below the first entry");
    }

    fn cache(entries: &[(LeaderEpoch, Offset)]) -> EpochCache {
        let mut c = EpochCache::default();
        for &(epoch, start) in entries {
            c.assign(epoch, start);
        }
        c
    }

    fn pairs(c: &EpochCache) -> Vec<(LeaderEpoch, Offset)> {
        c.entries().iter().map(|e| (e.epoch, e.start_offset)).collect()
    }

    // LeaderEpochFileCache.isUpdateNeeded: once assigned, the same epoch at a later offset is ignored.
    #[test]
    fn an_assigned_epoch_keeps_its_start_offset() {
        let mut c = cache(&[(2, 6)]);
        assert!(!c.assign(2, 10));
        assert_eq!(pairs(&c), vec![(2, 6)]);
    }

    // Case (b), maybeTruncateNonMonotonicEntries: a newer epoch at the same start offset as the latest entry
    // replaces it (no data was written in that epoch).
    #[test]
    fn a_newer_epoch_at_the_same_start_replaces_the_empty_epoch() {
        let mut c = cache(&[(1, 0), (2, 5)]);
        assert!(c.assign(3, 5));
        assert_eq!(pairs(&c), vec![(1, 0), (3, 5)]);
    }

    // Case (c), maybeTruncateNonMonotonicEntries: assigning an epoch lower than the latest removes every entry
    // at the end whose epoch is not below it.
    #[test]
    fn a_lower_epoch_removes_the_later_entries() {
        let mut c = cache(&[(1, 0), (3, 5), (4, 8)]);
        assert!(c.assign(2, 9));
        assert_eq!(pairs(&c), vec![(1, 0), (2, 9)]);
        // And one whose start is not beyond them removes those too.
        let mut c = cache(&[(1, 0), (3, 5), (4, 8)]);
        assert!(c.assign(5, 4));
        assert_eq!(pairs(&c), vec![(1, 0), (5, 4)]);
    }

    // LeaderEpochFileCache.isUpdateNeeded: the same epoch at an earlier offset is an update.
    #[test]
    fn the_same_epoch_at_an_earlier_offset_moves_its_start() {
        let mut c = cache(&[(1, 0), (2, 8)]);
        assert!(c.assign(2, 6));
        assert_eq!(pairs(&c), vec![(1, 0), (2, 6)]);
    }

    // LeaderEpochFileCache.truncateFromEnd removes the entries starting at or after the offset, keeps the rest.
    #[test]
    fn truncate_from_end_removes_entries_at_or_after_the_offset() {
        let mut c = cache(&[(2, 6), (3, 8), (4, 11)]);
        assert_eq!(c.truncate_from_end(9), 1);
        assert_eq!(pairs(&c), vec![(2, 6), (3, 8)]);
        assert_eq!(c.truncate_from_end(8), 1);
        assert_eq!(pairs(&c), vec![(2, 6)]);
        assert_eq!(c.truncate_from_end(100), 0);
    }

    // LeaderEpochFileCache.truncateFromStart (exclusive: the epoch holding the offset is kept, starting there):
    // truncateFromStart(9) over (2,6) (3,8) (4,11) leaves (3,9) (4,11); past every entry only the latest epoch
    // stays, starting at the offset.
    #[test]
    fn truncate_from_start_keeps_the_epoch_holding_the_new_start() {
        let mut c = cache(&[(2, 6), (3, 8), (4, 11)]);
        assert!(c.truncate_from_start(9));
        assert_eq!(pairs(&c), vec![(3, 9), (4, 11)]);
        let mut c = cache(&[(2, 6), (3, 8), (4, 11)]);
        assert!(c.truncate_from_start(15));
        assert_eq!(pairs(&c), vec![(4, 15)]);
        let mut c = cache(&[(2, 6), (3, 8)]);
        assert!(!c.truncate_from_start(5), "no entry starts at or before 5");
        assert_eq!(pairs(&c), vec![(2, 6), (3, 8)]);
    }

    // LeaderEpochFileCache.endOffsetFor, each branch: the latest epoch ends at the log end; an earlier one where
    // the next begins; an epoch between two known ones gets the largest smaller one; an epoch below every entry
    // gets itself and the first start; one beyond every entry, or an empty cache, UNDEFINED.
    #[test]
    fn end_offset_for_follows_each_branch() {
        let c = cache(&[(1, 0), (3, 2)]);
        assert_eq!(c.end_offset_for(3, 3), Some((3, 3)));
        assert_eq!(c.end_offset_for(1, 3), Some((1, 2)));
        assert_eq!(c.end_offset_for(2, 3), Some((1, 2)));
        assert_eq!(c.end_offset_for(0, 3), Some((0, 0)));
        assert_eq!(c.end_offset_for(4, 3), None);
        assert_eq!(EpochCache::default().end_offset_for(0, 0), None);
    }
}
