//! The controllers' metadata quorum (KRaft, KIP-595): a replicated log of metadata records with epochs, a
//! leader elected by votes, followers that pull from it, and a high watermark that moves once a majority has
//! an entry of the leader's own epoch. A leader that stops hearing from a majority resigns (check quorum), so a
//! controller cut off from the majority cannot act.

use super::messages::{MetadataRecord, QuorumFetchResult, QuorumMsg};
use crate::engine::{SimRng, SimTime};
use rand::Rng;

/// Quorum timings (KRaft's `controller.quorum.*` configs), in microseconds.
#[derive(Clone, Copy, Debug)]
pub struct QuorumConfig {
    /// `controller.quorum.fetch.timeout.ms`, 2000: a follower that has not heard from the leader this long
    /// starts an election; a leader not fetched from by a majority for 1.5 times this long resigns.
    pub fetch_timeout_us: u64,
    /// `controller.quorum.election.timeout.ms`, 1000: a candidate's election lasts this long plus jitter.
    pub election_timeout_us: u64,
    /// How long the leader holds a fetch that has nothing new (KafkaRaftClient's fetch max wait, 500 ms).
    pub fetch_max_wait_us: u64,
}

impl Default for QuorumConfig {
    fn default() -> Self {
        QuorumConfig { fetch_timeout_us: 2_000_000, election_timeout_us: 1_000_000, fetch_max_wait_us: 500_000 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuorumRole {
    Leader,
    Follower { leader: Option<u32> },
    Candidate,
}

/// What a quorum step asks the controller around it to do.
#[derive(Debug, Default)]
pub struct QuorumEffects {
    /// Messages to other voters, by voter index.
    pub sends: Vec<(u32, QuorumMsg)>,
    pub became_leader: bool,
    pub lost_leadership: bool,
    /// The high watermark moved: entries below it are committed.
    pub committed: bool,
}

#[derive(Clone, Debug)]
struct LeaderProgress {
    /// Each voter's log end offset as its last fetch reported it (the leader's own slot is unused).
    end_offsets: Vec<u64>,
    last_fetch: Vec<SimTime>,
    /// Fetches with nothing to return yet: (voter, fetch offset, answer-by time).
    parked: Vec<(u32, u64, SimTime)>,
}

#[derive(Clone, Debug)]
pub struct Quorum {
    pub me: u32,
    voters: u32,
    config: QuorumConfig,
    pub epoch: i32,
    voted_for: Option<u32>,
    pub role: QuorumRole,
    log: Vec<(i32, MetadataRecord)>,
    pub high_watermark: u64,
    last_leader_contact: SimTime,
    progress: Option<LeaderProgress>,
    votes: Vec<bool>,
    election_deadline: SimTime,
    fetch_sent_at: Option<SimTime>,
}

impl Quorum {
    /// A quorum whose log starts with `bootstrap` (committed), led by voter 0 in epoch 1.
    pub fn new(me: u32, voters: u32, config: QuorumConfig, bootstrap: Vec<MetadataRecord>) -> Self {
        let log: Vec<(i32, MetadataRecord)> = bootstrap.into_iter().map(|r| (1, r)).collect();
        let high_watermark = log.len() as u64;
        let mut q = Quorum {
            me,
            voters,
            config,
            epoch: 1,
            voted_for: Some(0),
            role: QuorumRole::Follower { leader: Some(0) },
            log,
            high_watermark,
            last_leader_contact: SimTime::ZERO,
            progress: None,
            votes: Vec::new(),
            election_deadline: SimTime::ZERO,
            fetch_sent_at: None,
        };
        if me == 0 {
            q.role = QuorumRole::Leader;
            q.progress = Some(q.fresh_progress(SimTime::ZERO));
        }
        q
    }

    pub fn is_leader(&self) -> bool {
        self.role == QuorumRole::Leader
    }

    pub fn leader(&self) -> Option<u32> {
        match self.role {
            QuorumRole::Leader => Some(self.me),
            QuorumRole::Follower { leader } => leader,
            QuorumRole::Candidate => None,
        }
    }

    pub fn log_end_offset(&self) -> u64 {
        self.log.len() as u64
    }

    pub fn entries(&self) -> impl Iterator<Item = &MetadataRecord> {
        self.log.iter().map(|(_, r)| r)
    }

    pub fn committed(&self, from: u64) -> &[(i32, MetadataRecord)] {
        let from = (from as usize).min(self.high_watermark as usize);
        &self.log[from..self.high_watermark as usize]
    }

    fn majority(&self) -> usize {
        self.voters as usize / 2 + 1
    }

    fn fresh_progress(&self, now: SimTime) -> LeaderProgress {
        LeaderProgress {
            end_offsets: vec![0; self.voters as usize],
            last_fetch: vec![now; self.voters as usize],
            parked: Vec::new(),
        }
    }

    /// The leader appends a record in its epoch; it commits once a majority has it.
    pub fn append(&mut self, record: MetadataRecord, now: SimTime, fx: &mut QuorumEffects) {
        assert!(self.is_leader(), "only the leader appends");
        self.log.push((self.epoch, record));
        self.answer_parked_fetches(now, fx, true);
        self.advance_high_watermark(fx);
    }

    /// After a restart the voter rejoins as a follower with its durable log and epoch (KRaft's quorum-state file).
    pub fn restart(&mut self, now: SimTime) {
        self.role = QuorumRole::Follower { leader: None };
        self.progress = None;
        self.last_leader_contact = now;
        self.fetch_sent_at = None;
    }

    // ---- time ----

    /// Periodic checks: a follower's fetch timeout, a candidate's election timeout, the leader's check quorum
    /// and its held fetches.
    pub fn tick(&mut self, now: SimTime, rng: &mut SimRng, fx: &mut QuorumEffects) {
        match self.role.clone() {
            QuorumRole::Leader => {
                self.answer_parked_fetches(now, fx, false);
                if self.voters > 1 && !self.majority_fetched_within(now, self.config.fetch_timeout_us * 3 / 2) {
                    self.resign(fx);
                }
            }
            QuorumRole::Follower { leader } => {
                if now.since_us(self.last_leader_contact) > self.config.fetch_timeout_us {
                    self.start_election(now, rng, fx);
                } else if leader.is_some()
                    && self.fetch_sent_at.is_none_or(|t| now.since_us(t) > self.config.fetch_timeout_us)
                {
                    self.send_fetch(now, fx);
                }
            }
            QuorumRole::Candidate => {
                if now >= self.election_deadline {
                    self.start_election(now, rng, fx);
                }
            }
        }
    }

    fn majority_fetched_within(&self, now: SimTime, window_us: u64) -> bool {
        let Some(progress) = &self.progress else { return false };
        let recent = (0..self.voters)
            .filter(|&v| v == self.me || now.since_us(progress.last_fetch[v as usize]) <= window_us)
            .count();
        recent >= self.majority()
    }

    fn resign(&mut self, fx: &mut QuorumEffects) {
        self.role = QuorumRole::Follower { leader: None };
        self.progress = None;
        fx.lost_leadership = true;
    }

    /// KafkaRaftClient.transitionToCandidate: a new epoch, a vote for itself, vote requests to every voter.
    fn start_election(&mut self, now: SimTime, rng: &mut SimRng, fx: &mut QuorumEffects) {
        let was_leader = self.is_leader();
        self.epoch += 1;
        self.voted_for = Some(self.me);
        self.role = QuorumRole::Candidate;
        self.progress = None;
        self.votes = vec![false; self.voters as usize];
        self.votes[self.me as usize] = true;
        let jitter = rng.random_range(0..=self.config.election_timeout_us);
        self.election_deadline = now.plus_us(self.config.election_timeout_us + jitter);
        fx.lost_leadership |= was_leader;
        let (last_epoch, last_offset) = self.last_entry();
        for v in (0..self.voters).filter(|&v| v != self.me) {
            fx.sends.push((v, QuorumMsg::Vote { epoch: self.epoch, candidate: self.me, last_epoch, last_offset }));
        }
        self.maybe_win(now, fx);
    }

    fn last_entry(&self) -> (i32, u64) {
        (self.log.last().map_or(0, |&(e, _)| e), self.log_end_offset())
    }

    fn maybe_win(&mut self, now: SimTime, fx: &mut QuorumEffects) {
        if self.role != QuorumRole::Candidate || self.votes.iter().filter(|&&v| v).count() < self.majority() {
            return;
        }
        self.role = QuorumRole::Leader;
        self.progress = Some(self.fresh_progress(now));
        fx.became_leader = true;
        for v in (0..self.voters).filter(|&v| v != self.me) {
            fx.sends.push((v, QuorumMsg::BeginQuorumEpoch { epoch: self.epoch, leader: self.me }));
        }
        // The new leader writes a LeaderChange control record: entries of earlier epochs commit with it.
        self.append(MetadataRecord::LeaderChange { leader: self.me }, now, fx);
    }

    // ---- messages ----

    pub fn on_message(&mut self, from: u32, msg: QuorumMsg, now: SimTime, fx: &mut QuorumEffects) {
        if msg.epoch() > self.epoch {
            // A higher epoch: whatever we were, we follow now (leader unknown until it speaks).
            let was_leader = self.is_leader();
            self.epoch = msg.epoch();
            self.voted_for = None;
            self.role = QuorumRole::Follower { leader: None };
            self.progress = None;
            // The election timer is not reset by a higher epoch alone (Raft): only a leader's message or a
            // granted vote does, so a stale candidate that keeps raising the epoch cannot stall an election.
            fx.lost_leadership |= was_leader;
        }
        match msg {
            QuorumMsg::Vote { epoch, candidate, last_epoch, last_offset } => {
                let granted = self.grant_vote(epoch, candidate, last_epoch, last_offset);
                if granted {
                    self.last_leader_contact = now;
                }
                fx.sends.push((from, QuorumMsg::VoteResponse { epoch: self.epoch, granted }));
            }
            QuorumMsg::VoteResponse { epoch, granted } => {
                if epoch == self.epoch && granted && self.role == QuorumRole::Candidate {
                    self.votes[from as usize] = true;
                    self.maybe_win(now, fx);
                }
            }
            QuorumMsg::BeginQuorumEpoch { epoch, leader } => {
                if epoch == self.epoch && !self.is_leader() {
                    self.follow(leader, now, fx);
                }
            }
            QuorumMsg::Fetch { epoch, fetch_offset, last_fetched_epoch } => {
                self.on_fetch(from, epoch, fetch_offset, last_fetched_epoch, now, fx);
            }
            QuorumMsg::FetchResponse { epoch, result } => self.on_fetch_response(from, epoch, result, now, fx),
        }
    }

    /// Raft's vote rule: one vote per epoch, only for a candidate whose log is at least as up to date.
    fn grant_vote(&mut self, epoch: i32, candidate: u32, last_epoch: i32, last_offset: u64) -> bool {
        if epoch < self.epoch || self.is_leader() {
            return false;
        }
        let up_to_date = (last_epoch, last_offset) >= self.last_entry();
        let free = self.voted_for.is_none_or(|v| v == candidate);
        if up_to_date && free {
            self.voted_for = Some(candidate);
        }
        up_to_date && free
    }

    fn follow(&mut self, leader: u32, now: SimTime, fx: &mut QuorumEffects) {
        self.role = QuorumRole::Follower { leader: Some(leader) };
        self.last_leader_contact = now;
        self.send_fetch(now, fx);
    }

    fn send_fetch(&mut self, now: SimTime, fx: &mut QuorumEffects) {
        let Some(leader) = self.leader().filter(|&l| l != self.me) else { return };
        self.fetch_sent_at = Some(now);
        let last_fetched_epoch = self.log.last().map(|&(e, _)| e);
        let msg = QuorumMsg::Fetch { epoch: self.epoch, fetch_offset: self.log_end_offset(), last_fetched_epoch };
        fx.sends.push((leader, msg));
    }

    /// The leader serves a voter's fetch: divergence by epoch, then the voter's progress and the high
    /// watermark, then the entries (or hold the fetch until there are some).
    fn on_fetch(
        &mut self,
        from: u32,
        epoch: i32,
        offset: u64,
        last_epoch: Option<i32>,
        now: SimTime,
        fx: &mut QuorumEffects,
    ) {
        if epoch < self.epoch || !self.is_leader() {
            fx.sends.push((from, QuorumMsg::FetchResponse { epoch: self.epoch, result: QuorumFetchResult::NotLeader }));
            return;
        }
        if let Some(last_epoch) = last_epoch {
            let (end_epoch, end_offset) = self.end_offset_for_epoch(last_epoch);
            if end_epoch < last_epoch || end_offset < offset {
                let result = QuorumFetchResult::Diverging { epoch: end_epoch, end_offset };
                fx.sends.push((from, QuorumMsg::FetchResponse { epoch: self.epoch, result }));
                return;
            }
        }
        if let Some(progress) = &mut self.progress {
            progress.end_offsets[from as usize] = offset;
            progress.last_fetch[from as usize] = now;
        }
        self.advance_high_watermark(fx);
        if offset < self.log_end_offset() {
            self.send_entries(from, offset, fx);
        } else if let Some(progress) = &mut self.progress {
            progress.parked.push((from, offset, now.plus_us(self.config.fetch_max_wait_us)));
        }
    }

    fn send_entries(&self, to: u32, from_offset: u64, fx: &mut QuorumEffects) {
        let entries = self.log[from_offset as usize..].to_vec();
        let result = QuorumFetchResult::Entries { from_offset, entries, high_watermark: self.high_watermark };
        fx.sends.push((to, QuorumMsg::FetchResponse { epoch: self.epoch, result }));
    }

    /// Answers held fetches that now have entries (`new_data`) or whose wait is over.
    fn answer_parked_fetches(&mut self, now: SimTime, fx: &mut QuorumEffects, new_data: bool) {
        let Some(progress) = &mut self.progress else { return };
        let due: Vec<(u32, u64, SimTime)> = progress.parked.extract_if(.., |p| new_data || p.2 <= now).collect();
        for (voter, offset, _) in due {
            self.send_entries(voter, offset, fx);
        }
    }

    /// The high watermark: the largest offset a majority (the leader included) has, once an entry of the
    /// leader's own epoch is among them (Raft's commit rule; KRaft's LeaderState.maybeUpdateHighWatermark).
    fn advance_high_watermark(&mut self, fx: &mut QuorumEffects) {
        let Some(progress) = &self.progress else { return };
        let mut ends: Vec<u64> = (0..self.voters)
            .map(|v| if v == self.me { self.log_end_offset() } else { progress.end_offsets[v as usize] })
            .collect();
        ends.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = ends[self.majority() - 1];
        let own_epoch = candidate > 0 && self.log[candidate as usize - 1].0 == self.epoch;
        if candidate > self.high_watermark && own_epoch {
            self.high_watermark = candidate;
            fx.committed = true;
        }
    }

    fn on_fetch_response(
        &mut self,
        from: u32,
        epoch: i32,
        result: QuorumFetchResult,
        now: SimTime,
        fx: &mut QuorumEffects,
    ) {
        if epoch < self.epoch || self.leader() != Some(from) {
            return;
        }
        self.last_leader_contact = now;
        self.fetch_sent_at = None;
        match result {
            QuorumFetchResult::Entries { from_offset, entries, high_watermark } => {
                if from_offset == self.log_end_offset() {
                    self.log.extend(entries);
                }
                let hw = high_watermark.min(self.log_end_offset());
                if hw > self.high_watermark {
                    self.high_watermark = hw;
                    fx.committed = true;
                }
            }
            QuorumFetchResult::Diverging { epoch, end_offset } => {
                let (own_epoch, own_end) = self.end_offset_for_epoch(epoch);
                let cut = if own_epoch == epoch { own_end.min(end_offset) } else { own_end };
                self.log.truncate(cut.max(self.high_watermark) as usize);
            }
            QuorumFetchResult::NotLeader => {
                self.role = QuorumRole::Follower { leader: None };
                return;
            }
        }
        self.send_fetch(now, fx);
    }

    /// Like LeaderEpochFileCache.endOffsetFor over the log's epochs: the largest epoch ≤ `requested` and the
    /// offset where it ended.
    fn end_offset_for_epoch(&self, requested: i32) -> (i32, u64) {
        let end = self.log.iter().position(|&(e, _)| e > requested).unwrap_or(self.log.len());
        let epoch = if end == 0 { requested.min(0) } else { self.log[end - 1].0 };
        (epoch, end as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stream;

    fn quorum(me: u32) -> Quorum {
        Quorum::new(me, 3, QuorumConfig::default(), Vec::new())
    }

    fn record() -> MetadataRecord {
        MetadataRecord::LeaderChange { leader: 0 }
    }

    // Raft: an entry is committed once a majority (2 of 3) has it, and only by counting entries of the
    // leader's own epoch.
    #[test]
    fn leader_commits_on_a_majority() {
        let mut leader = quorum(0);
        let mut fx = QuorumEffects::default();
        leader.append(record(), SimTime(1), &mut fx);
        assert_eq!(leader.high_watermark, 0, "only the leader has it");
        leader.on_message(
            1,
            QuorumMsg::Fetch { epoch: 1, fetch_offset: 1, last_fetched_epoch: Some(1) },
            SimTime(2),
            &mut fx,
        );
        assert_eq!(leader.high_watermark, 1);
    }

    // KIP-595: a follower that hears nothing from the leader for fetch.timeout.ms becomes a candidate; voters
    // grant one vote per epoch to an up-to-date log; a majority makes it leader.
    #[test]
    fn follower_times_out_and_wins_the_election() {
        let mut rng = stream(1, "test", 0);
        let mut f1 = quorum(1);
        let mut f2 = quorum(2);
        let mut fx = QuorumEffects::default();
        f1.tick(SimTime(2_000_001), &mut rng, &mut fx);
        assert_eq!(f1.role, QuorumRole::Candidate);
        assert_eq!(f1.epoch, 2);
        let vote = fx.sends.iter().find(|(to, _)| *to == 2).map(|(_, m)| m.clone()).expect("asks voter 2");
        let mut fx2 = QuorumEffects::default();
        f2.on_message(1, vote, SimTime(2_000_002), &mut fx2);
        let (_, answer) = fx2.sends.pop().expect("answers");
        assert_eq!(answer, QuorumMsg::VoteResponse { epoch: 2, granted: true });
        let mut fx = QuorumEffects::default();
        f1.on_message(2, answer, SimTime(2_000_003), &mut fx);
        assert!(f1.is_leader() && fx.became_leader);
    }

    // A leader that no majority has fetched from for 1.5 × fetch timeout resigns (check quorum).
    #[test]
    fn isolated_leader_resigns() {
        let mut rng = stream(1, "test", 0);
        let mut leader = quorum(0);
        let mut fx = QuorumEffects::default();
        leader.tick(SimTime(2_900_000), &mut rng, &mut fx);
        assert!(leader.is_leader());
        leader.tick(SimTime(3_000_001), &mut rng, &mut fx);
        assert!(!leader.is_leader() && fx.lost_leadership);
    }

    // Raft: a candidate whose log is behind keeps losing, and the raised epochs it sends do not reset the other
    // voters' election timers, so one of them times out, stands and wins.
    #[test]
    fn a_stale_candidate_cannot_stall_elections() {
        let mut rng = stream(1, "test", 0);
        let mut voter = quorum(1);
        voter.log.push((1, record()));
        let mut fx = QuorumEffects::default();
        voter.on_message(
            0,
            QuorumMsg::Vote { epoch: 5, candidate: 0, last_epoch: 0, last_offset: 0 },
            SimTime(1_000_000),
            &mut fx,
        );
        assert_eq!(voter.epoch, 5);
        let mut fx = QuorumEffects::default();
        voter.tick(SimTime(2_000_001), &mut rng, &mut fx);
        assert_eq!(voter.role, QuorumRole::Candidate, "the stale candidate's votes did not reset its timer");
    }

    // Raft's vote rule: a candidate with a shorter log than the voter's last entry gets no vote.
    #[test]
    fn stale_candidate_gets_no_vote() {
        let mut voter = quorum(2);
        voter.log.push((1, record()));
        let mut fx = QuorumEffects::default();
        voter.on_message(
            1,
            QuorumMsg::Vote { epoch: 2, candidate: 1, last_epoch: 0, last_offset: 0 },
            SimTime(1),
            &mut fx,
        );
        assert_eq!(fx.sends.pop().map(|(_, m)| m), Some(QuorumMsg::VoteResponse { epoch: 2, granted: false }));
    }
}
