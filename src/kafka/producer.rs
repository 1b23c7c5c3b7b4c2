//! A producer client (KafkaProducer with its RecordAccumulator and Sender): the workload's `send()` calls,
//! batching by `linger.ms` / `batch.size`, one produce request per batch to the partition's leader, at most
//! `max.in.flight.requests.per.connection` per broker, retries until `retries` or `delivery.timeout.ms`,
//! idempotent sequence numbers, and metadata refreshes when leadership moves.

use super::backoff;
use super::config::{Acks, ProducerConfig};
use super::ids::{BrokerId, ClientId, PartitionId};
use super::log::{ProducerStamp, Record};
use super::messages::{KafkaError, LeaderInfo, Msg, ProduceBatch, ProduceRequest, ProduceResponse};
use super::node::{KafkaCtx, Timer};
use super::obs::{Obs, StaleMessage};
use super::partitioner;
use super::spec::{ClusterSpec, NodeRole, ProducerSpec};
use crate::engine::time::US_PER_MS;
use crate::engine::{NodeId, SimTime, Wakeup};
use crate::history::ClientEvent;
use rand::Rng;
use std::collections::VecDeque;
use std::rc::Rc;

/// A batch on its way (ProducerBatch).
#[derive(Clone, Debug)]
struct ProducerBatch {
    partition: PartitionId,
    records: Rc<[Record]>,
    /// The records' bytes (ProducerBatch.estimatedSizeInBytes, without the batch header).
    bytes: u64,
    created: SimTime,
    attempts: u32,
    /// The idempotent stamp, fixed at the first send and kept across retries (unless an epoch bump for its
    /// partition rewrites it).
    stamp: Option<ProducerStamp>,
    /// An epoch bump rewrote the stamp (ProducerBatch.sequenceHasBeenReset).
    sequence_reset: bool,
    retry_at: SimTime,
    last_error: Option<KafkaError>,
    /// An attempt went out and its records may be in the log (librdkafka's PossiblyPersisted): its answer never
    /// came, or came with an error not known to be raised before the append. A batch failing without it failed
    /// definitely.
    maybe_appended: bool,
}

/// A Produce request awaiting its answer: the batches it carries not yet completed (one expired while in flight
/// leaves it, Sender.getExpiredInflightBatches), at most one per partition.
struct InFlight {
    batches: Vec<ProducerBatch>,
    broker: BrokerId,
    deadline: SimTime,
}

impl InFlight {
    fn carries(&self, partition: PartitionId) -> bool {
        self.batches.iter().any(|b| b.partition == partition)
    }
}

/// The batch still accepting records; its buffer is reused from batch to batch.
#[derive(Default)]
struct OpenBatch {
    records: Vec<Record>,
    bytes: u64,
    created: SimTime,
}

/// The accumulator's state for one of the topic's partitions.
#[derive(Default)]
struct PartitionQueue {
    open: OpenBatch,
    ready: VecDeque<ProducerBatch>,
    sequences: PartitionSequences,
}

/// The idempotent producer's bookkeeping for one partition (TransactionManager's TxnPartitionEntry).
#[derive(Default)]
struct PartitionSequences {
    /// The producer epoch this partition's sequences belong to; it catches up with the producer's epoch only
    /// when none of its batches is outstanding (TransactionManager.maybeUpdateProducerIdAndEpoch).
    epoch: u16,
    next_sequence: u32,
    last_acked_sequence: Option<u32>,
    /// Stamped batches not yet completed, in flight or waiting for a retry (inflightBatchesBySequence).
    outstanding: u32,
    /// A retried batch expired: the partition sends nothing new until its outstanding batches are done and this
    /// sequence follows the last acknowledged one (partitionsWithUnresolvedSequences).
    unresolved: Option<u32>,
    /// The next epoch bump restarts this partition's sequences (partitionsToRewriteSequences).
    rewrite: bool,
}

impl PartitionSequences {
    /// TransactionManager.isNextSequence: `sequence` follows the last acknowledged one.
    fn is_next(&self, sequence: u32) -> bool {
        self.last_acked_sequence.map_or(sequence == 0, |last| last.wrapping_add(1) == sequence)
    }
}

impl PartitionQueue {
    /// Closes the open batch (full, or lingered long enough) into the ready queue.
    fn close_open_batch(&mut self, partition: PartitionId) {
        if self.open.records.is_empty() {
            return;
        }
        let created = self.open.created;
        self.ready.push_back(ProducerBatch {
            partition,
            records: Rc::from(self.open.records.as_slice()),
            bytes: self.open.bytes,
            created,
            attempts: 0,
            stamp: None,
            sequence_reset: false,
            retry_at: created,
            last_error: None,
            maybe_appended: false,
        });
        self.open.records.clear();
        self.open.bytes = 0;
    }
}

/// Requests awaiting an answer, by correlation id: a handful, so a vector beats a map (and never allocates
/// once warm).
#[derive(Default)]
struct InFlightRequests(Vec<(u64, InFlight)>);

impl InFlightRequests {
    fn insert(&mut self, correlation: u64, flight: InFlight) {
        self.0.push((correlation, flight));
    }

    fn remove(&mut self, correlation: &u64) -> Option<InFlight> {
        let i = self.0.iter().position(|(c, _)| c == correlation)?;
        Some(self.0.remove(i).1)
    }

    fn values(&self) -> impl Iterator<Item = &InFlight> {
        self.0.iter().map(|(_, f)| f)
    }

    fn iter(&self) -> impl Iterator<Item = (&u64, &InFlight)> {
        self.0.iter().map(|(c, f)| (c, f))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A producer client. Its memory (`mem`) is lost whole at a crash; the rest survives: the static shape of its
/// workload, the workload's position (send numbers name the history's records, so a restarted producer goes on
/// from them) and the producer ids handed out so far (the model's InitProducerId gives each instance a new one).
pub struct Producer {
    id: ClientId,
    spec: Rc<ClusterSpec>,
    workload: ProducerSpec,
    config: ProducerConfig,
    /// The partitions of the workload's topics, topic by topic, each in partition-number order.
    partitions: Vec<PartitionId>,
    /// Each cluster partition's index in `partitions` (its queue), `u32::MAX` for one not written to.
    queue_of: Vec<u32>,
    /// Per topic (the workload's order): where its partitions start in `partitions`, and how many there are.
    topic_ranges: Vec<(usize, usize)>,
    sends: u64,
    /// The workload's events so far; each is one send per topic (equal to `sends` with one topic).
    events: u64,
    /// The idempotent producer's id, one per process (InitProducerId; the model assigns them).
    producer_id: u64,
    restarted: bool,
    mem: ProducerMemory,
}

/// The partition queues that may hold records: marked on every append and requeue, unmarked once a sender pass
/// finds them empty. The sender's passes visit these, in partition order, instead of every partition of the
/// topics, so that a pass costs what is queued, not the partition count.
struct Holding {
    words: Vec<u64>,
}

impl Holding {
    fn new(queues: usize) -> Self {
        Holding { words: vec![0; queues.div_ceil(64)] }
    }

    fn mark(&mut self, index: usize) {
        self.words[index / 64] |= 1 << (index % 64);
    }

    fn unmark(&mut self, index: usize) {
        self.words[index / 64] &= !(1 << (index % 64));
    }

    /// The first marked queue at or after `from`.
    fn next_from(&self, from: usize) -> Option<usize> {
        let (mut w, bit) = (from / 64, from % 64);
        let mut word = self.words.get(w)? & (u64::MAX << bit);
        loop {
            if word != 0 {
                return Some(w * 64 + word.trailing_zeros() as usize);
            }
            w += 1;
            word = *self.words.get(w)?;
        }
    }

    /// The marked queues, in ascending order.
    fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    w * 64 + bit
                })
            })
        })
    }
}

/// Everything a producer's process holds in memory, which a crash loses whole.
struct ProducerMemory {
    queues: Vec<PartitionQueue>,
    /// Which of `queues` may hold records (every queue that does is marked).
    holding: Holding,
    leaders: Vec<LeaderInfo>,
    in_flight: InFlightRequests,
    in_flight_per_broker: Vec<u32>,
    next_correlation: u64,
    /// The producer id's epoch, bumped after a batch failed for good (KIP-360).
    producer_epoch: u16,
    epoch_bump_required: bool,
    metadata_request: Option<(u64, SimTime)>,
    metadata_wanted: bool,
    metadata_refreshed_at: SimTime,
    /// When the last metadata request was sent, and how many in a row have failed since the last success.
    metadata_attempted_at: SimTime,
    metadata_failures: u32,
    bootstrap_cursor: u32,
    /// Per topic: the sticky partitioner's current partition (within the topic) and the bytes sent to it
    /// (BuiltInPartitioner keeps one per topic).
    sticky: Vec<Option<usize>>,
    sticky_bytes: Vec<u64>,
    wakeup: Wakeup,
    /// A processor stage's forwards not yet fully acknowledged.
    forwards: Vec<Forwarding>,
    /// Per broker: the connection's state (NetworkClient's ClusterConnectionStates).
    links: Vec<Link>,
    /// Per broker: the queue its last drain visited last, where its next drain starts (RecordAccumulator's
    /// nodesDrainIndex, so that no partition starves when `max.request.size` cuts a drain short).
    drain_index: Vec<usize>,
    /// Scratch of each sender pass, per broker: the held queues it leads, in queue order, and whether one of them
    /// has a batch ready to go (RecordAccumulator.ready's readyNodes). Kept to reuse their buffers.
    led_queues: Vec<Vec<usize>>,
    ready_brokers: Vec<bool>,
}

impl ProducerMemory {
    fn new(spec: &ClusterSpec, partitions: usize, topics: usize) -> Self {
        let unknown = LeaderInfo { leader: None, leader_epoch: -1 };
        let brokers = spec.broker_count as usize;
        ProducerMemory {
            queues: (0..partitions).map(|_| PartitionQueue::default()).collect(),
            holding: Holding::new(partitions),
            leaders: vec![unknown; spec.partitions.len()],
            in_flight: InFlightRequests::default(),
            in_flight_per_broker: vec![0; brokers],
            next_correlation: 0,
            producer_epoch: 0,
            epoch_bump_required: false,
            metadata_request: None,
            metadata_wanted: true,
            metadata_refreshed_at: SimTime::ZERO,
            metadata_attempted_at: SimTime::ZERO,
            metadata_failures: 0,
            bootstrap_cursor: 0,
            sticky: vec![None; topics],
            sticky_bytes: vec![0; topics],
            wakeup: Wakeup::default(),
            forwards: Vec::new(),
            links: vec![Link::UP; brokers],
            drain_index: vec![0; brokers],
            led_queues: vec![Vec::new(); brokers],
            ready_brokers: vec![false; brokers],
        }
    }
}

/// A connection to one broker: up, or down until a reconnection attempt (a probe) gets an answer.
#[derive(Clone, Copy, Debug)]
struct Link {
    connected: bool,
    /// Consecutive failures since the connection was last up (ClusterConnectionStates' failedAttempts).
    failures: u32,
    retry_at: SimTime,
    /// A reconnection attempt under way: its correlation and its connection-setup deadline (KIP-601).
    probe: Option<(u64, SimTime)>,
}

impl Link {
    const UP: Link = Link { connected: true, failures: 0, retry_at: SimTime::ZERO, probe: None };
}

/// One `Forward` from a processor stage: its sends `first..end`, how many are not yet complete.
struct Forwarding {
    stage: NodeId,
    token: u64,
    first: u64,
    end: u64,
    outstanding: u64,
}

/// The shortest interval between two workload ticks.
const TICK_MIN_US: u64 = US_PER_MS;

impl Producer {
    pub fn new(id: ClientId, spec: Rc<ClusterSpec>) -> Self {
        let workload = spec.producers[id.index()].clone();
        let mut partitions: Vec<PartitionId> = Vec::new();
        let mut topic_ranges = Vec::new();
        for &topic in &workload.topics {
            let start = partitions.len();
            partitions.extend(spec.topic_partitions(topic));
            topic_ranges.push((start, partitions.len() - start));
        }
        let mem = ProducerMemory::new(&spec, partitions.len(), topic_ranges.len());
        let mut queue_of = vec![u32::MAX; spec.partitions.len()];
        for (index, p) in partitions.iter().enumerate().rev() {
            queue_of[p.index()] = index as u32;
        }
        Producer {
            id,
            config: workload.config.clone(),
            workload,
            spec,
            partitions,
            queue_of,
            topic_ranges,
            sends: 0,
            events: 0,
            producer_id: (u64::from(id.0) + 1) << 16,
            restarted: false,
            mem,
        }
    }

    /// A crash of the producer's process: everything in memory is gone, and the sends it held are never
    /// completed (the application died with them).
    pub fn crash(&mut self) {
        self.mem = ProducerMemory::new(&self.spec, self.partitions.len(), self.topic_ranges.len());
        // A new producer instance gets a new producer id (InitProducerId), so its sequences start over.
        self.producer_id += 1;
        self.restarted = true;
    }

    pub fn on_start(&mut self, ctx: &mut KafkaCtx<'_>) {
        self.mem.bootstrap_cursor = self.id.0;
        if self.restarted && self.workload.driven_by.is_none() {
            // The events that fell due while the process was down never happened (nor their send numbers).
            let skipped = self.due_by(ctx.now).saturating_sub(self.events);
            self.events += skipped;
            self.sends += skipped * self.topic_ranges.len() as u64;
        }
        if self.workload.driven_by.is_none() {
            ctx.set_timer(self.workload.start_us.saturating_sub(ctx.now.as_us()), Timer::ProducerTick);
        }
        self.request_metadata(ctx);
    }

    /// A processor stage's records to write: `fan_out` for each input, with the input's key. The stage is told
    /// when all of them are acknowledged (or failed), so it commits its input only after (at-least-once).
    fn on_forward(&mut self, from: NodeId, token: u64, inputs: Vec<(Option<u32>, u32, u64)>, ctx: &mut KafkaCtx<'_>) {
        let first = self.sends;
        for (key, from_producer, from_send_seq) in inputs {
            // A router writes each input to the topic of its type (pattern D); other stages to their one topic.
            let slot = self.workload.route.as_ref().map_or(0, |route| {
                let kind = self.spec.type_of(ClientId(from_producer), from_send_seq);
                kind.map_or(0, |t| route[from_producer as usize][t] as usize)
            });
            for _ in 0..self.workload.fan_out.max(1) {
                let send_seq = self.sends;
                self.send_with_key(key, slot, ctx);
                let derived = ClientEvent::Derived { producer: self.id.0, send_seq, from_producer, from_send_seq };
                ctx.emit(Obs::Client(derived));
            }
        }
        self.mem.forwards.push(Forwarding {
            stage: from,
            token,
            first,
            end: self.sends,
            outstanding: self.sends - first,
        });
        self.answer_done_forwards(ctx);
        self.run_sender(ctx);
    }

    /// Counts completed sends against the stage's forwards and answers those fully done.
    fn note_completed(&mut self, send_seq: u64) {
        if let Some(f) = self.mem.forwards.iter_mut().find(|f| (f.first..f.end).contains(&send_seq)) {
            f.outstanding = f.outstanding.saturating_sub(1);
        }
    }

    fn answer_done_forwards(&mut self, ctx: &mut KafkaCtx<'_>) {
        let done: Vec<Forwarding> = self.mem.forwards.extract_if(.., |f| f.outstanding == 0).collect();
        for f in done {
            ctx.send(f.stage, Msg::Forwarded { token: f.token });
        }
    }

    pub fn on_timer(&mut self, timer: Timer, ctx: &mut KafkaCtx<'_>) {
        match timer {
            Timer::ProducerTick => self.on_tick(ctx),
            Timer::Wakeup => {
                self.mem.wakeup.fired(ctx.now);
                self.expire_requests(ctx);
                self.run_sender(ctx);
            }
            Timer::BrokerHeartbeat
            | Timer::IsrExpiration
            | Timer::HighWatermarkCheckpoint
            | Timer::LogRetentionCheck
            | Timer::OffsetsRetentionCheck
            | Timer::PageCacheWriteback
            | Timer::ControllerFenceCheck
            | Timer::LeaderImbalanceCheck
            | Timer::QuorumTick
            | Timer::ConsumerPoll
            | Timer::ConsumerHeartbeat
            | Timer::ConsumerProcessed => unreachable!("a producer never sets {timer:?}"),
        }
    }

    pub fn on_message(&mut self, from: NodeId, msg: Msg, ctx: &mut KafkaCtx<'_>) {
        match msg {
            Msg::MetadataResponse { correlation, leaders }
                if self.mem.links.iter().any(|l| l.probe.is_some_and(|(c, _)| c == correlation)) =>
            {
                // The reconnection succeeded (and brought fresh metadata).
                for link in self.mem.links.iter_mut().filter(|l| l.probe.is_some_and(|(c, _)| c == correlation)) {
                    *link = Link::UP;
                }
                self.mem.leaders.copy_from_slice(&leaders);
            }
            Msg::MetadataResponse { correlation, leaders }
                if self.mem.metadata_request.is_some_and(|(c, _)| c == correlation) =>
            {
                self.mem.metadata_request = None;
                self.mem.metadata_wanted = false;
                self.mem.metadata_refreshed_at = ctx.now;
                self.mem.metadata_failures = 0;
                self.mem.leaders.copy_from_slice(&leaders);
            }
            Msg::ProduceResponse(response) => self.on_produce_response(response, ctx),
            Msg::Forward { token, inputs } => self.on_forward(from, token, inputs, ctx),
            Msg::ConnectionClosed => {
                if let NodeRole::Broker(broker) = self.spec.role_of(from) {
                    self.fail_connection(broker, ctx);
                }
            }
            // A reconnection probe or metadata request we gave up on (it timed out).
            Msg::MetadataResponse { .. } => ctx.emit(Obs::StaleDelivery { message: StaleMessage::MetadataResponse }),
            m @ (Msg::MetadataRequest { .. }
            | Msg::Produce(_)
            | Msg::Fetch(_)
            | Msg::FetchResponse(_)
            | Msg::BrokerHeartbeat { .. }
            | Msg::BrokerHeartbeatResponse { .. }
            | Msg::Quorum(_)
            | Msg::MetadataUpdate { .. }
            | Msg::AlterPartition { .. }
            | Msg::AlterPartitionResponse { .. }
            | Msg::Forwarded { .. }
            | Msg::GroupRequest { .. }
            | Msg::GroupResponse { .. }) => {
                unreachable!("a producer serves nothing and sends nothing answered with {m:?}")
            }
        }
        self.run_sender(ctx);
    }

    /// A broker whose process is down refused the connection: the request fails with a network error (and a
    /// metadata refresh), like a connection reset.
    pub fn on_refused(&mut self, to: NodeId, msg: Msg, ctx: &mut KafkaCtx<'_>) {
        if let NodeRole::Broker(broker) = self.spec.role_of(to) {
            self.disconnected(broker, ctx.now);
        }
        match msg {
            Msg::Produce(request) => {
                if let Some(flight) = self.mem.in_flight.remove(&request.correlation) {
                    self.mem.in_flight_per_broker[flight.broker.index()] -= 1;
                    for batch in flight.batches {
                        self.on_batch_error(batch, KafkaError::NETWORK_EXCEPTION, ctx);
                    }
                }
            }
            Msg::MetadataRequest { correlation }
                if self.mem.metadata_request.is_some_and(|(c, _)| c == correlation) =>
            {
                self.metadata_failed();
            }
            // A reconnection probe: the link stays down until the next one.
            Msg::MetadataRequest { .. } => {}
            // A consumer stage that is down: it asks again after its restart.
            Msg::Forwarded { .. } => {}
            // The kernel's reset of a crashed or stopped producer's connections, refused by a peer that is down
            // and handed back to the producer's next incarnation: nothing to do.
            Msg::ConnectionClosed => {}
            m => unreachable!("a producer sends brokers and stages nothing like {m:?}"),
        }
        self.run_sender(ctx);
    }

    /// NetworkClient after a refused, closed or timed-out connection: nothing is sent to that broker until a
    /// reconnection succeeds, tried after `reconnect.backoff.ms` (50 ms) doubling per consecutive failure up to
    /// `reconnect.backoff.max.ms` (1 s); and metadata is refreshed to find where leadership went. Batches for it
    /// wait in the accumulator meanwhile.
    fn disconnected(&mut self, broker: BrokerId, now: SimTime) {
        let link = &mut self.mem.links[broker.index()];
        let failures = if link.connected { 0 } else { link.failures };
        let retry_at = now.plus_us(backoff::RECONNECT.after(failures));
        *link = Link { connected: false, failures: failures + 1, retry_at, probe: None };
        self.mem.metadata_wanted = true;
    }

    /// A metadata request failed (refused or timed out): the next waits `retry.backoff.ms`, doubling per
    /// consecutive failure (KIP-580), measured from this attempt.
    fn metadata_failed(&mut self) {
        self.mem.metadata_request = None;
        self.mem.metadata_wanted = true;
        self.mem.metadata_failures = self.mem.metadata_failures.saturating_add(1);
    }

    /// A reconnection attempt to `broker`: a request that only a running broker answers, given
    /// `socket.connection.setup.timeout.ms` (10 s, doubling per failure up to 30 s, KIP-601) to get through.
    fn probe(&mut self, broker: BrokerId, ctx: &mut KafkaCtx<'_>) {
        self.mem.next_correlation += 1;
        let link = &mut self.mem.links[broker.index()];
        let setup_timeout = backoff::CONNECTION_SETUP_TIMEOUT.after(link.failures.saturating_sub(1));
        let deadline = ctx.now.plus_us(setup_timeout);
        link.probe = Some((self.mem.next_correlation, deadline));
        ctx.send(self.spec.broker_node(broker), Msg::MetadataRequest { correlation: self.mem.next_correlation });
    }

    // ---- the workload: send() calls ----

    /// Makes the `send()` calls that fell due since the last tick, then schedules the next tick.
    fn on_tick(&mut self, ctx: &mut KafkaCtx<'_>) {
        let due = self.due_by(ctx.now);
        while self.events < due {
            self.send(ctx);
        }
        let w = &self.workload;
        let rate = u128::from(w.rate_per_s.max(1));
        let next_due_us = w.start_us + (u128::from(self.events) * 1_000_000 / rate) as u64;
        let finished = w.max_records.is_some_and(|m| self.events >= m) || next_due_us >= w.stop_us;
        if !finished {
            let next = next_due_us.max(ctx.now.as_us() + TICK_MIN_US);
            ctx.set_timer(next - ctx.now.as_us(), Timer::ProducerTick);
        }
        self.run_sender(ctx);
    }

    /// How many `send()` calls the workload has made by `now`: one at the start, then `rate` per second, up to
    /// the stop time and the record count.
    fn due_by(&self, now: SimTime) -> u64 {
        let w = &self.workload;
        if now.as_us() < w.start_us {
            return 0;
        }
        let elapsed = now.as_us().min(w.stop_us).saturating_sub(w.start_us);
        let due = (u128::from(elapsed) * u128::from(w.rate_per_s.max(1)) / 1_000_000) as u64 + 1;
        w.max_records.map_or(due, |max| due.min(max))
    }

    /// One event of the workload: a key drawn from the key space, and a `producer.send()` to each topic.
    fn send(&mut self, ctx: &mut KafkaCtx<'_>) {
        let key = self.workload.key_space.map(|n| ctx.rng.random_range(0..n.max(1)));
        self.events += 1;
        for topic in 0..self.topic_ranges.len() {
            self.send_with_key(key, topic, ctx);
        }
    }

    /// One `producer.send()` to the workload's `topic`-th topic: pick the partition, append to its open batch
    /// (RecordAccumulator.append).
    fn send_with_key(&mut self, key: Option<u32>, topic: usize, ctx: &mut KafkaCtx<'_>) {
        let record =
            Record { producer: self.id, send_seq: self.sends, key, size_bytes: self.workload.record_size_bytes };
        self.sends += 1;
        let record_key = if self.workload.partition_by_key { key } else { None };
        let index = self.choose_partition(record_key, topic, ctx);
        let partition = self.partitions[index];
        ctx.emit(Obs::Client(ClientEvent::SendInvoked {
            producer: self.id.0,
            send_seq: record.send_seq,
            key,
            partition: partition.0,
        }));
        let batch_size = self.config.batch_size;
        self.mem.holding.mark(index);
        let queue = &mut self.mem.queues[index];
        if queue.open.records.is_empty() {
            queue.open.created = ctx.now;
        }
        queue.open.records.push(record);
        queue.open.bytes += u64::from(record.size_bytes);
        if queue.open.bytes >= batch_size {
            queue.close_open_batch(partition);
        }
    }

    /// Keyed records: murmur2 over all partitions. Null keys: stick to one partition until about `batch.size`
    /// bytes went to it, then pick another at random (KIP-794's uniform sticky partitioner).
    fn choose_partition(&mut self, key: Option<u32>, topic: usize, ctx: &mut KafkaCtx<'_>) -> usize {
        let (start, n) = self.topic_ranges[topic];
        if let Some(k) = key {
            let mut buf = [0u8; 10];
            return start + partitioner::partition_for_key(partitioner::key_bytes(k, &mut buf), n as u32) as usize;
        }
        let switch = self.mem.sticky[topic].is_none() || self.mem.sticky_bytes[topic] >= self.config.batch_size;
        if switch {
            let previous = self.mem.sticky[topic];
            let mut next = ctx.rng.random_range(0..n);
            if n > 1 && Some(next) == previous {
                next = (next + 1 + ctx.rng.random_range(0..n - 1)) % n;
            }
            self.mem.sticky[topic] = Some(next);
            self.mem.sticky_bytes[topic] = 0;
        }
        self.mem.sticky_bytes[topic] += u64::from(self.workload.record_size_bytes);
        start + self.mem.sticky[topic].unwrap_or(0)
    }

    // ---- the sender loop ----

    /// Sender.runOnce: refresh metadata if needed, expire old batches, send every ready batch that may go.
    fn run_sender(&mut self, ctx: &mut KafkaCtx<'_>) {
        // Metadata: refreshed when wanted (no more often than `retry.backoff.ms`) and every `metadata.max.age.ms`.
        if ctx.now >= self.next_metadata_at() {
            self.request_metadata(ctx);
        }
        self.expire_batches(ctx);
        if self.config.enable_idempotence {
            // Sender.runOnce: an expiry may have left a partition with nothing outstanding to wait for.
            self.resolve_sequences();
            self.bump_epoch_if_required();
        }
        self.find_ready_brokers(ctx.now);
        for broker in self.spec.brokers() {
            if self.mem.ready_brokers[broker.index()] {
                self.send_to_broker(broker, ctx);
            }
        }
        // Queues the drains emptied.
        for &index in self.mem.led_queues.iter().flatten() {
            let queue = &self.mem.queues[index];
            if queue.open.records.is_empty() && queue.ready.is_empty() {
                self.mem.holding.unmark(index);
            }
        }
        if let Some(delay_us) = self.earliest_deadline(ctx.now).and_then(|next| self.mem.wakeup.arm(next, ctx.now)) {
            ctx.set_timer(delay_us, Timer::Wakeup);
        }
    }

    /// RecordAccumulator.ready: one pass over the held queues closes the batches that lingered long enough,
    /// sorts the queues by leader, and marks ready each broker leading a queue whose first batch may go.
    /// A queue with records and no known leader asks for metadata.
    fn find_ready_brokers(&mut self, now: SimTime) {
        for list in &mut self.mem.led_queues {
            list.clear();
        }
        self.mem.ready_brokers.fill(false);
        let mut next = self.mem.holding.next_from(0);
        while let Some(index) = next {
            next = self.mem.holding.next_from(index + 1);
            self.close_lingering_batch(index, now);
            let queue = &self.mem.queues[index];
            if queue.open.records.is_empty() && queue.ready.is_empty() {
                self.mem.holding.unmark(index);
                continue;
            }
            let Some(leader) = self.mem.leaders[self.partitions[index].index()].leader else {
                self.mem.metadata_wanted = true;
                continue;
            };
            self.mem.led_queues[leader.index()].push(index);
            if self.may_send_front(index, now) {
                self.mem.ready_brokers[leader.index()] = true;
            }
        }
    }

    /// The queue's first batch is closed (full or lingered), out of its retry backoff, and its partition not
    /// muted (RecordAccumulator.partitionReady).
    fn may_send_front(&self, index: usize, now: SimTime) -> bool {
        let front = self.mem.queues[index].ready.front();
        front.is_some_and(|b| b.retry_at <= now && !self.is_muted(b.partition))
    }

    /// Sender.guaranteeMessageOrder (KafkaProducer: max.in.flight.requests.per.connection == 1): a partition with
    /// a batch in flight is muted, whichever broker that batch went to, so a newer batch cannot overtake it
    /// through a new leader while it waits for its answer.
    fn is_muted(&self, partition: PartitionId) -> bool {
        self.config.max_in_flight_requests_per_connection == 1
            && self.mem.in_flight.values().any(|f| f.carries(partition))
    }

    /// Sender.sendProducerData for a ready broker: while its connection is up and has room
    /// (`max.in.flight.requests.per.connection`) and one of its queues has a batch ready, drain a request's worth
    /// and send it. Not connected: the batches wait in the accumulator while a reconnection is tried.
    fn send_to_broker(&mut self, broker: BrokerId, ctx: &mut KafkaCtx<'_>) {
        let link = self.mem.links[broker.index()];
        if !link.connected {
            if link.probe.is_none() && link.retry_at <= ctx.now {
                self.probe(broker, ctx);
            }
            return;
        }
        let max_in_flight = self.config.max_in_flight_requests_per_connection;
        while self.mem.in_flight_per_broker[broker.index()] < max_in_flight {
            let led = &self.mem.led_queues[broker.index()];
            if !led.iter().any(|&index| self.may_send_front(index, ctx.now)) {
                return;
            }
            let batches = self.drain(broker, ctx.now);
            if batches.is_empty() {
                return;
            }
            self.send_request(batches, broker, ctx);
        }
    }

    /// RecordAccumulator.drainBatchesForOneNode: from where the broker's last drain stopped, each queue the
    /// broker leads gives its first batch — closed or still open, as Kafka's deque holds both — unless its
    /// partition is muted or backing off, until the next batch would take the request past `max.request.size`
    /// (the first always goes) or an idempotent partition may not drain (shouldStopDrainBatchesForPartition).
    fn drain(&mut self, broker: BrokerId, now: SimTime) -> Vec<ProducerBatch> {
        let led = std::mem::take(&mut self.mem.led_queues[broker.index()]);
        let start = led.partition_point(|&index| index < self.mem.drain_index[broker.index()]) % led.len().max(1);
        let (mut batches, mut bytes) = (Vec::new(), 0);
        for &index in led[start..].iter().chain(&led[..start]) {
            self.mem.drain_index[broker.index()] = index;
            let queue = &self.mem.queues[index];
            let partition = self.partitions[index];
            let first_bytes = match queue.ready.front() {
                Some(front) if front.retry_at > now => continue,
                Some(front) => front.bytes,
                None if queue.open.records.is_empty() => continue,
                None => queue.open.bytes,
            };
            if self.is_muted(partition) {
                continue;
            }
            if bytes + first_bytes > self.config.max_request_size && !batches.is_empty() {
                break;
            }
            let first_stamp = queue.ready.front().and_then(|front| front.stamp);
            if self.config.enable_idempotence && !self.may_drain_idempotent(index, first_stamp) {
                break;
            }
            let queue = &mut self.mem.queues[index];
            if queue.ready.is_empty() {
                queue.close_open_batch(partition);
            }
            let Some(mut batch) = queue.ready.pop_front() else {
                unreachable!("a queue with records closes its open batch to drain it")
            };
            if self.config.enable_idempotence && batch.stamp.is_none() {
                batch.stamp = Some(self.stamp_new_batch(index, batch.records.len() as u32));
            }
            bytes += batch.bytes;
            batches.push(batch);
        }
        self.mem.led_queues[broker.index()] = led;
        batches
    }

    fn request_metadata(&mut self, ctx: &mut KafkaCtx<'_>) {
        if self.mem.metadata_request.is_some() {
            return;
        }
        self.mem.next_correlation += 1;
        // Ask the brokers in turn (NetworkClient's least-loaded node, simplified to round robin).
        let broker = BrokerId(self.mem.bootstrap_cursor % self.spec.broker_count + 1);
        self.mem.bootstrap_cursor += 1;
        let deadline = ctx.now.plus_us(self.config.request_timeout_us);
        self.mem.metadata_request = Some((self.mem.next_correlation, deadline));
        self.mem.metadata_attempted_at = ctx.now;
        ctx.send(self.spec.broker_node(broker), Msg::MetadataRequest { correlation: self.mem.next_correlation });
    }

    fn close_lingering_batch(&mut self, index: usize, now: SimTime) {
        let queue = &mut self.mem.queues[index];
        if !queue.open.records.is_empty() && now.since_us(queue.open.created) >= self.config.linger_us {
            queue.close_open_batch(self.partitions[index]);
        }
    }

    /// RecordAccumulator.shouldStopDrainBatchesForPartition for an idempotent producer: a retry goes only when it
    /// holds the partition's lowest outstanding sequence; a new batch waits while the partition has batches of an
    /// older epoch outstanding, or an expired retry left its sequences unresolved.
    /// `stamp` is the first batch's, `None` for a batch never sent (the open one too).
    fn may_drain_idempotent(&self, index: usize, stamp: Option<ProducerStamp>) -> bool {
        let sequences = &self.mem.queues[index].sequences;
        match stamp {
            Some(stamp) => {
                let partition = self.partitions[index];
                let in_flight =
                    self.mem.in_flight.values().flat_map(|f| &f.batches).filter(|b| b.partition == partition);
                in_flight.filter_map(|b| b.stamp).all(|s| s.base_sequence > stamp.base_sequence)
            }
            None => {
                let stale = sequences.epoch != self.mem.producer_epoch && sequences.outstanding > 0;
                !stale && sequences.unresolved.is_none()
            }
        }
    }

    /// Stamps a new batch with the partition's next sequence, first moving the partition to the producer's
    /// current epoch (from sequence 0) if it has nothing outstanding of an older one.
    fn stamp_new_batch(&mut self, index: usize, record_count: u32) -> ProducerStamp {
        let epoch = self.mem.producer_epoch;
        let sequences = &mut self.mem.queues[index].sequences;
        if sequences.epoch != epoch {
            assert_eq!(sequences.outstanding, 0, "a partition changes epoch only with nothing outstanding");
            *sequences = PartitionSequences { epoch, ..PartitionSequences::default() };
        }
        let stamp = ProducerStamp {
            producer_id: self.producer_id,
            producer_epoch: epoch,
            base_sequence: sequences.next_sequence,
        };
        sequences.next_sequence += record_count;
        sequences.outstanding += 1;
        stamp
    }

    /// Sender.sendProduceRequest: one request carrying the drained batches.
    fn send_request(&mut self, batches: Vec<ProducerBatch>, leader: BrokerId, ctx: &mut KafkaCtx<'_>) {
        self.mem.next_correlation += 1;
        let carried =
            batches.iter().map(|b| ProduceBatch { partition: b.partition, stamp: b.stamp, records: b.records.clone() });
        let request = ProduceRequest {
            correlation: self.mem.next_correlation,
            acks: match self.config.acks {
                Acks::None => 0,
                Acks::Leader => 1,
                Acks::All => -1,
            },
            timeout_us: self.config.request_timeout_us,
            batches: carried.collect(),
        };
        ctx.send(self.spec.broker_node(leader), Msg::Produce(request));
        if self.config.acks == Acks::None {
            // acks=0: the send completes when the request is written; the offset is never known.
            for batch in &batches {
                self.complete_batch(batch, None, ctx);
            }
            return;
        }
        self.mem.in_flight_per_broker[leader.index()] += 1;
        // max.in.flight.requests.per.connection bounds the requests awaiting an answer on each connection.
        assert!(
            self.mem.in_flight_per_broker[leader.index()] <= self.config.max_in_flight_requests_per_connection,
            "{} requests in flight to {leader}",
            self.mem.in_flight_per_broker[leader.index()]
        );
        let deadline = ctx.now.plus_us(self.config.request_timeout_us);
        self.mem.in_flight.insert(self.mem.next_correlation, InFlight { batches, broker: leader, deadline });
    }

    /// Sender.handleProduceResponse: each partition's result completes its batch, in the response's order (a
    /// batch that expired while in flight is already done).
    fn on_produce_response(&mut self, response: ProduceResponse, ctx: &mut KafkaCtx<'_>) {
        let Some(mut flight) = self.mem.in_flight.remove(&response.correlation) else {
            // A request that had timed out (delivery.timeout.ms / request.timeout.ms) or failed with its connection.
            ctx.emit(Obs::StaleDelivery { message: StaleMessage::ProduceResponse });
            return;
        };
        self.mem.in_flight_per_broker[flight.broker.index()] -= 1;
        for (partition, result) in response.partitions {
            let Some(i) = flight.batches.iter().position(|b| b.partition == partition) else {
                continue;
            };
            let batch = flight.batches.remove(i);
            match result {
                Ok(base_offset) => self.complete_batch(&batch, Some(base_offset), ctx),
                Err(error) => self.on_batch_error(batch, error, ctx),
            }
        }
        assert!(flight.batches.is_empty(), "a produce response answers every partition of its request");
    }

    fn complete_batch(&mut self, batch: &ProducerBatch, base_offset: Option<u64>, ctx: &mut KafkaCtx<'_>) {
        for (i, record) in batch.records.iter().enumerate() {
            ctx.emit(Obs::Client(ClientEvent::SendAcked {
                producer: self.id.0,
                send_seq: record.send_seq,
                partition: batch.partition.0,
                offset: base_offset.map(|b| b + i as u64),
            }));
            self.note_completed(record.send_seq);
        }
        self.answer_done_forwards(ctx);
        if let Some(stamp) = batch.stamp {
            // TransactionManager.handleCompletedBatch: the last acknowledged sequence moves up.
            let last_sequence = stamp.base_sequence + batch.records.len() as u32 - 1;
            let index = self.queue_index(batch.partition);
            let sequences = &mut self.mem.queues[index].sequences;
            sequences.last_acked_sequence = sequences.last_acked_sequence.max(Some(last_sequence));
            sequences.outstanding -= 1;
        }
    }

    /// Sender.completeBatch with an error: retry retriable errors (with a metadata refresh where the leader may
    /// have moved) until `retries` or `delivery.timeout.ms` runs out; fail the batch otherwise.
    fn on_batch_error(&mut self, mut batch: ProducerBatch, error: KafkaError, ctx: &mut KafkaCtx<'_>) {
        ctx.emit(Obs::Client(ClientEvent::ProduceAttemptFailed {
            producer: self.id.0,
            partition: batch.partition.0,
            first_send_seq: batch.records[0].send_seq,
            records: batch.records.len() as u32,
            error: error.name().to_string(),
        }));
        if matches!(error, KafkaError::NOT_LEADER_OR_FOLLOWER | KafkaError::NETWORK_EXCEPTION) {
            self.mem.metadata_wanted = true;
        }
        batch.last_error = Some(error);
        batch.maybe_appended |= !error.refused_before_append();
        let expired = ctx.now.since_us(batch.created) >= self.config.delivery_timeout_us;
        // Sender.canRetry: within delivery.timeout.ms and `retries`, and an error the client retries.
        if !expired && batch.attempts < self.config.retries && self.can_retry(&batch, error) {
            // KIP-580: each retry of a batch backs off twice as long, up to retry.backoff.max.ms.
            batch.retry_at = ctx.now.plus_us(self.config.retry_backoff().after(batch.attempts));
            batch.attempts += 1;
            self.requeue(batch);
        } else {
            // Sender: sequences are adjusted only for a batch that had retries left; one that ran out may be in
            // the log.
            let adjust_sequences = batch.attempts < self.config.retries;
            self.fail_batch(batch, error, adjust_sequences, ctx);
        }
    }

    /// Retriable errors; for an idempotent producer also OUT_OF_ORDER_SEQUENCE_NUMBER, which
    /// TransactionManager.canRetry always retries, and which means a real gap — calling for an epoch bump of the
    /// partition — when the batch is the one right after the last acknowledged (or unresolved) sequence.
    fn can_retry(&mut self, batch: &ProducerBatch, error: KafkaError) -> bool {
        let Some(stamp) = batch.stamp.filter(|_| error == KafkaError::OUT_OF_ORDER_SEQUENCE_NUMBER) else {
            return error.is_retriable();
        };
        let index = self.queue_index(batch.partition);
        let sequences = &mut self.mem.queues[index].sequences;
        let unresolved = sequences.unresolved;
        if unresolved.is_none() && (batch.sequence_reset || !sequences.is_next(stamp.base_sequence)) {
            return true; // An earlier batch is still to land: this one follows it.
        }
        if unresolved.is_none_or(|next| next == stamp.base_sequence) {
            sequences.rewrite = true;
            self.mem.epoch_bump_required = true;
        }
        true
    }

    /// Puts a batch back: in sequence order for an idempotent producer (RecordAccumulator.insertInSequenceOrder),
    /// at the front otherwise — which is how retries reorder records without idempotence.
    fn requeue(&mut self, batch: ProducerBatch) {
        let index = self.queue_index(batch.partition);
        self.mem.holding.mark(index);
        let ready = &mut self.mem.queues[index].ready;
        let at = match batch.stamp {
            Some(stamp) => ready
                .iter()
                .position(|b| b.stamp.is_none_or(|s| s.base_sequence > stamp.base_sequence))
                .unwrap_or(ready.len()),
            None => 0,
        };
        ready.insert(at, batch);
    }

    fn fail_batch(&mut self, batch: ProducerBatch, error: KafkaError, adjust_sequences: bool, ctx: &mut KafkaCtx<'_>) {
        for record in batch.records.iter() {
            ctx.emit(Obs::Client(ClientEvent::SendFailed {
                producer: self.id.0,
                send_seq: record.send_seq,
                partition: batch.partition.0,
                error: error.name().to_string(),
                definite: !batch.maybe_appended,
                offset: None,
            }));
            self.note_completed(record.send_seq);
        }
        self.answer_done_forwards(ctx);
        if batch.stamp.is_some() {
            self.sequence_failed(&batch, error, adjust_sequences);
        }
    }

    /// TransactionManager.handleFailedBatch for an idempotent producer: an OUT_OF_ORDER_SEQUENCE_NUMBER, or a
    /// batch failed while it had retries left, leaves a gap in the partition's sequences, so the epoch is bumped
    /// and the partition's sequences restart (KIP-360). Only that partition's: the others keep their epoch until
    /// their outstanding batches are done.
    fn sequence_failed(&mut self, batch: &ProducerBatch, error: KafkaError, adjust_sequences: bool) {
        let index = self.queue_index(batch.partition);
        let sequences = &mut self.mem.queues[index].sequences;
        sequences.outstanding -= 1;
        if error == KafkaError::OUT_OF_ORDER_SEQUENCE_NUMBER || adjust_sequences {
            sequences.rewrite = true;
            self.mem.epoch_bump_required = true;
        }
    }

    /// TransactionManager.maybeResolveSequences: a partition whose expired retry left its sequences unresolved is
    /// resolved once nothing of it is outstanding — fine if the last acknowledged sequence is the one before the
    /// next, otherwise its epoch is bumped.
    fn resolve_sequences(&mut self) {
        for queue in &mut self.mem.queues {
            let sequences = &mut queue.sequences;
            if sequences.unresolved.is_none() || sequences.outstanding > 0 {
                continue;
            }
            if !sequences.is_next(sequences.next_sequence) {
                sequences.rewrite = true;
                self.mem.epoch_bump_required = true;
            }
            sequences.unresolved = None;
        }
    }

    /// TransactionManager.bumpIdempotentProducerEpoch: the next epoch (a new producer id after Short.MAX_VALUE),
    /// and the partitions that asked for it restart their outstanding batches' sequences from 0 in the new epoch
    /// (startSequencesAtBeginning).
    fn bump_epoch_if_required(&mut self) {
        if !self.mem.epoch_bump_required {
            return;
        }
        self.mem.epoch_bump_required = false;
        if self.mem.producer_epoch == i16::MAX as u16 {
            self.producer_id += 1;
            self.mem.producer_epoch = 0;
        } else {
            self.mem.producer_epoch += 1;
        }
        for index in 0..self.mem.queues.len() {
            if self.mem.queues[index].sequences.rewrite {
                self.restart_sequences(index);
            }
        }
    }

    fn restart_sequences(&mut self, index: usize) {
        let partition = self.partitions[index];
        let (producer_id, producer_epoch) = (self.producer_id, self.mem.producer_epoch);
        let queue = &mut self.mem.queues[index];
        let in_flight = self
            .mem
            .in_flight
            .0
            .iter_mut()
            .flat_map(|(_, f)| f.batches.iter_mut())
            .filter(|b| b.partition == partition);
        let mut outstanding: Vec<&mut ProducerBatch> =
            in_flight.chain(queue.ready.iter_mut()).filter(|b| b.stamp.is_some()).collect();
        outstanding.sort_by_key(|b| b.stamp.map(|s| s.base_sequence));
        let mut next_sequence = 0;
        for batch in outstanding {
            batch.stamp = Some(ProducerStamp { producer_id, producer_epoch, base_sequence: next_sequence });
            batch.sequence_reset = true;
            next_sequence += batch.records.len() as u32;
        }
        let outstanding = queue.sequences.outstanding;
        queue.sequences =
            PartitionSequences { epoch: producer_epoch, next_sequence, outstanding, ..PartitionSequences::default() };
    }

    /// Batches older than `delivery.timeout.ms`, queued or in flight, fail with TimeoutException
    /// (REQUEST_TIMED_OUT's exception) without further retries.
    fn expire_batches(&mut self, ctx: &mut KafkaCtx<'_>) {
        let timeout = self.config.delivery_timeout_us;
        let mut next = self.mem.holding.next_from(0);
        while let Some(index) = next {
            // RecordAccumulator.expiredBatches: each deque from its first batch, up to the first not expired.
            while self.mem.queues[index].ready.front().is_some_and(|b| ctx.now.since_us(b.created) >= timeout) {
                if let Some(batch) = self.mem.queues[index].ready.pop_front() {
                    self.expire_batch(batch, ctx);
                }
            }
            next = self.mem.holding.next_from(index + 1);
        }
        let now = ctx.now;
        let mut expired = Vec::new();
        for (_, flight) in &mut self.mem.in_flight.0 {
            expired.extend(flight.batches.extract_if(.., |b| now.since_us(b.created) >= timeout));
        }
        if !expired.is_empty() {
            // A request whose batches all expired is given up (the model does not keep it on the connection).
            let per_broker = &mut self.mem.in_flight_per_broker;
            self.mem.in_flight.0.retain(|(_, f)| {
                let empty = f.batches.is_empty();
                if empty {
                    per_broker[f.broker.index()] -= 1;
                }
                !empty
            });
        }
        for mut batch in expired {
            // Sent and unanswered: it may have been appended.
            batch.maybe_appended = true;
            self.expire_batch(batch, ctx);
        }
        self.assert_accumulator_bound(ctx.now);
    }

    /// The accumulator's bound: no batch outlives `delivery.timeout.ms`, so the producer holds only what the
    /// workload sent within it (the model has no `buffer.memory`). As RecordAccumulator.expiredBatches, expiry
    /// looks at each queue's first batch: the oldest but for retries without idempotence, which can put up to
    /// `max.in.flight.requests.per.connection` younger batches before it. So the bound is asserted on the fronts,
    /// and in flight; looking at every queued batch on every sender pass cost half a run with a leader down.
    fn assert_accumulator_bound(&self, now: SimTime) {
        let timeout = self.config.delivery_timeout_us;
        let young = |b: &ProducerBatch| now.since_us(b.created) < timeout;
        let queued = self.held_queues().all(|q| q.ready.front().is_none_or(young));
        assert!(
            queued && self.mem.in_flight.values().flat_map(|f| &f.batches).all(young),
            "{:?} kept a batch past delivery.timeout.ms",
            self.id
        );
    }

    /// Sender.sendProducerData's expiry: the batch fails with a TimeoutException without adjusting sequences (it
    /// may be in the log); a batch that was retried leaves its partition's sequences unresolved.
    fn expire_batch(&mut self, batch: ProducerBatch, ctx: &mut KafkaCtx<'_>) {
        let retried = batch.attempts > 0;
        let next = batch.stamp.map(|s| s.base_sequence + batch.records.len() as u32);
        let index = self.queue_index(batch.partition);
        self.fail_batch(batch, KafkaError::REQUEST_TIMED_OUT, false, ctx);
        if let Some(next) = next.filter(|_| retried) {
            let sequences = &mut self.mem.queues[index].sequences;
            sequences.unresolved = sequences.unresolved.max(Some(next));
        }
    }

    /// A request unanswered for `request.timeout.ms` closes its connection (NetworkClient): every request in
    /// flight on it fails with a retriable network error, and metadata is refreshed.
    fn expire_requests(&mut self, ctx: &mut KafkaCtx<'_>) {
        if self.mem.metadata_request.is_some_and(|(_, deadline)| deadline <= ctx.now) {
            self.metadata_failed();
        }
        let timed_out: Vec<BrokerId> = self
            .spec
            .brokers()
            .filter(|b| self.mem.links[b.index()].probe.is_some_and(|(_, deadline)| deadline <= ctx.now))
            .collect();
        for broker in timed_out {
            // NetworkClient: a connection not set up within its timeout is closed and counts as a failure.
            self.disconnected(broker, ctx.now);
        }
        let broken: Vec<BrokerId> =
            self.mem.in_flight.values().filter(|f| f.deadline <= ctx.now).map(|f| f.broker).collect();
        for broker in broken {
            self.fail_connection(broker, ctx);
        }
    }

    /// The connection to `broker` is gone: every request in flight on it fails with a retriable network error.
    fn fail_connection(&mut self, broker: BrokerId, ctx: &mut KafkaCtx<'_>) {
        self.disconnected(broker, ctx.now);
        let on_broker: Vec<u64> =
            self.mem.in_flight.iter().filter(|(_, f)| f.broker == broker).map(|(&c, _)| c).collect();
        for correlation in on_broker {
            if let Some(flight) = self.mem.in_flight.remove(&correlation) {
                self.mem.in_flight_per_broker[broker.index()] -= 1;
                for batch in flight.batches {
                    self.on_batch_error(batch, KafkaError::NETWORK_EXCEPTION, ctx);
                }
            }
        }
        self.mem.metadata_wanted = true;
    }

    /// The next moment something may become due: a linger or backoff ending, a timeout, a metadata retry.
    fn earliest_deadline(&self, now: SimTime) -> Option<SimTime> {
        let delivery = self.config.delivery_timeout_us;
        let linger = self
            .held_queues()
            .filter(|q| !q.open.records.is_empty())
            .map(|q| q.open.created.plus_us(self.config.linger_us));
        let fronts = self.held_queues().filter_map(|q| q.ready.front());
        let reconnects = self.mem.links.iter().filter(|l| !l.connected).map(|l| l.probe.map_or(l.retry_at, |(_, d)| d));
        let queued = fronts.flat_map(|b| [b.retry_at, b.created.plus_us(delivery)]).chain(reconnects);
        let oldest = |f: &InFlight| f.batches.iter().map(|b| b.created).min().unwrap_or(f.deadline);
        let requests = self.mem.in_flight.values().map(|f| f.deadline.min(oldest(f).plus_us(delivery)));
        let metadata = match self.mem.metadata_request {
            Some((_, deadline)) => Some(deadline),
            None => Some(self.next_metadata_at()),
        };
        linger.chain(queued).chain(requests).chain(metadata).filter(|&t| t > now).min()
    }

    /// Metadata.timeToNextUpdate: when wanted, `retry.backoff.ms` (exponential over consecutive failures) after
    /// the last attempt; in any case `metadata.max.age.ms` after the last refresh.
    fn next_metadata_at(&self) -> SimTime {
        let expiry = self.mem.metadata_refreshed_at.plus_us(self.config.metadata_max_age_us);
        if !self.mem.metadata_wanted {
            return expiry;
        }
        let backoff = self.config.retry_backoff().after(self.mem.metadata_failures);
        expiry.min(self.mem.metadata_attempted_at.plus_us(backoff))
    }

    fn held_queues(&self) -> impl Iterator<Item = &PartitionQueue> + '_ {
        self.mem.holding.indices().map(|i| &self.mem.queues[i])
    }

    /// The queue of a partition this producer writes to: every batch it holds is of one.
    fn queue_index(&self, p: PartitionId) -> usize {
        match self.queue_of.get(p.index()) {
            Some(&index) if index != u32::MAX => index as usize,
            _ => unreachable!("{:?} holds a batch of {p:?}, which none of its topics has", self.id),
        }
    }

    /// Whether every send has completed (acknowledged or failed).
    pub fn is_idle(&self) -> bool {
        self.mem.in_flight.is_empty() && self.held_queues().all(|q| q.open.records.is_empty() && q.ready.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::runner::{Command, Ctx};
    use crate::engine::{rng, time::US_PER_S};

    const TWO_PARTITIONS: &str = r#"
[[topics]]
name = "orders"
partitions = 2
replication.factor = 3

[[producers]]
name = "order-service"
topic = "orders"
acks = "all"
"#;

    /// One idempotent producer driven by hand: both partitions led by broker 1, every produce request it sends
    /// collected in `sent`.
    struct Harness {
        producer: Producer,
        rng: rng::SimRng,
        now: SimTime,
        sent: Vec<ProduceRequest>,
        /// Each failed send's `(send_seq, error, definite)`.
        failed: Vec<(u64, String, bool)>,
    }

    impl Harness {
        fn new() -> Self {
            let h = Harness::with("");
            assert!(h.producer.config.enable_idempotence, "idempotence is the default with acks=all");
            h
        }

        /// The same with more producer keys.
        fn with(producer_keys: &str) -> Self {
            let text = format!("{TWO_PARTITIONS}{producer_keys}");
            let scenario = crate::scenario::load_str("producer-test.toml", &text).expect("a valid scenario");
            let mut producer = Producer::new(ClientId(0), Rc::new(scenario.sim.cluster));
            producer.mem.leaders.fill(LeaderInfo { leader: Some(BrokerId(1)), leader_epoch: 0 });
            producer.mem.metadata_wanted = false;
            let rng = rng::stream(1, "producer-test", 0);
            Harness { producer, rng, now: SimTime::ZERO, sent: Vec::new(), failed: Vec::new() }
        }

        fn run(&mut self, handler: impl FnOnce(&mut Producer, &mut KafkaCtx<'_>)) {
            let mut commands = Vec::new();
            let mut ctx = Ctx::detached(self.now, NodeId(0), &mut self.rng, &mut commands);
            handler(&mut self.producer, &mut ctx);
            for command in commands {
                match command {
                    Command::Send { msg: Msg::Produce(request), .. } => self.sent.push(request),
                    Command::Emit(Obs::Client(ClientEvent::SendFailed { send_seq, error, definite, .. })) => {
                        self.failed.push((send_seq, error, definite));
                    }
                    _ => {}
                }
            }
        }

        /// A one-record batch for the partition at `index`, which the sender then sends if it may.
        fn send_to(&mut self, index: usize) {
            self.append_open(index);
            let partition = self.producer.partitions[index];
            self.producer.mem.queues[index].close_open_batch(partition);
            self.run(|p, ctx| p.run_sender(ctx));
        }

        /// A 100-byte record appended to the open batch of the partition at `index`, which stays open.
        fn append_open(&mut self, index: usize) {
            let record = Record { producer: ClientId(0), send_seq: self.producer.sends, key: None, size_bytes: 100 };
            self.producer.sends += 1;
            self.producer.mem.holding.mark(index);
            let queue = &mut self.producer.mem.queues[index];
            if queue.open.records.is_empty() {
                queue.open.created = self.now;
            }
            queue.open.records.push(record);
            queue.open.bytes += 100;
        }

        /// The partitions the `request`-th request carries, in its order.
        fn partitions(&self, request: usize) -> Vec<u32> {
            self.sent[request].batches.iter().map(|b| b.partition.0).collect()
        }

        /// Answers every partition of the `request`-th request with `result`.
        fn answer(&mut self, request: usize, result: Result<Offset, KafkaError>) {
            let request = &self.sent[request];
            let partitions = request.batches.iter().map(|b| (b.partition, result)).collect();
            let response = ProduceResponse { correlation: request.correlation, partitions };
            self.run(|p, ctx| p.on_message(NodeId(1), Msg::ProduceResponse(response), ctx));
        }

        fn stamp(&self, request: usize) -> (u16, u32) {
            let stamp = self.sent[request].batches[0].stamp.expect("an idempotent batch");
            (stamp.producer_epoch, stamp.base_sequence)
        }

        /// Every batch's stamp in the `request`-th request.
        fn stamps(&self, request: usize) -> Vec<(u16, u32)> {
            let stamp = |b: &ProduceBatch| b.stamp.map(|s| (s.producer_epoch, s.base_sequence));
            self.sent[request].batches.iter().filter_map(stamp).collect()
        }
    }

    use super::super::ids::Offset;

    // librdkafka's persistence status (NotPersisted / PossiblyPersisted): a send fails definitely only when no
    // attempt of its batch could have been appended — none went out, or each was refused before the append
    // (Partition.appendRecordsToLeader's min.insync.replicas check). An attempt unanswered, or answered with an
    // error Kafka also gives after the append (NOT_LEADER_OR_FOLLOWER from a DelayedProduce), makes it
    // indeterminate, even when a later attempt is refused.
    #[test]
    fn a_failed_send_is_definite_only_when_no_attempt_could_have_been_appended() {
        let mut h = Harness::with("retries = 1\n");
        h.send_to(0);
        h.answer(0, Err(KafkaError::NOT_ENOUGH_REPLICAS));
        h.now = SimTime(US_PER_S);
        h.run(|p, ctx| p.run_sender(ctx));
        h.answer(1, Err(KafkaError::NOT_ENOUGH_REPLICAS));
        assert_eq!(h.failed, [(0, "NOT_ENOUGH_REPLICAS".to_string(), true)], "refused twice before the append");
        h.send_to(1);
        h.answer(2, Err(KafkaError::NOT_LEADER_OR_FOLLOWER));
        h.now = SimTime(2 * US_PER_S);
        h.run(|p, ctx| p.run_sender(ctx));
        h.answer(3, Err(KafkaError::NOT_ENOUGH_REPLICAS));
        assert_eq!(h.failed[1], (1, "NOT_ENOUGH_REPLICAS".to_string(), false), "the first attempt may be in the log");
        h.send_to(0);
        h.now = SimTime(h.producer.config.delivery_timeout_us + 3 * US_PER_S);
        h.run(|p, ctx| p.run_sender(ctx));
        assert_eq!(h.failed[2], (2, "REQUEST_TIMED_OUT".to_string(), false), "expired in flight, unanswered");
    }

    #[test]
    fn a_batch_that_expires_before_it_is_sent_fails_definitely() {
        let mut h = Harness::new();
        h.producer.mem.leaders[0] = LeaderInfo { leader: None, leader_epoch: 0 };
        h.send_to(0);
        assert!(h.sent.is_empty(), "no leader: nothing goes");
        h.now = SimTime(h.producer.config.delivery_timeout_us);
        h.run(|p, ctx| p.run_sender(ctx));
        assert_eq!(h.failed, [(0, "REQUEST_TIMED_OUT".to_string(), true)]);
    }

    // Sender.guaranteeMessageOrder: with max.in.flight.requests.per.connection = 1 a partition with a batch in
    // flight is muted, even once its leader moved to another broker (whose connection has room), so the retry of
    // the first batch goes before the second: without idempotence, order rests on this alone.
    #[test]
    fn one_request_in_flight_mutes_the_partition_across_a_leader_change() {
        let mut h = Harness::with("enable.idempotence = false\nmax.in.flight.requests.per.connection = 1\n");
        h.send_to(0);
        h.producer.mem.leaders[0] = LeaderInfo { leader: Some(BrokerId(2)), leader_epoch: 1 };
        h.send_to(0);
        assert_eq!(h.sent.len(), 1, "orders-0 is muted while its first batch is in flight");
        h.producer.mem.leaders[1] = LeaderInfo { leader: Some(BrokerId(3)), leader_epoch: 1 };
        h.send_to(1);
        assert_eq!(h.sent.len(), 2, "orders-1 is not muted by orders-0");
        h.answer(0, Err(KafkaError::NOT_LEADER_OR_FOLLOWER));
        h.now = SimTime(US_PER_S);
        h.run(|p, ctx| p.run_sender(ctx));
        let first_record =
            |r: &ProduceRequest| (r.batches.len(), r.batches[0].partition, r.batches[0].records[0].send_seq);
        assert_eq!(h.sent.len(), 3, "one batch of orders-0 goes");
        assert_eq!(first_record(&h.sent[2]), (1, PartitionId(0), 0), "the retry, first, alone");
    }

    // Sender.sendProducerData expires every batch at delivery.timeout.ms: one still held after it is a broken
    // bound. The batch sent at 0 is still in flight at the timeout, unexpired.
    #[test]
    #[should_panic(expected = "past delivery.timeout.ms")]
    fn a_batch_kept_past_the_delivery_timeout_trips() {
        let mut h = Harness::new();
        h.send_to(0);
        let timeout = h.producer.config.delivery_timeout_us;
        h.producer.assert_accumulator_bound(SimTime(timeout));
    }

    // TransactionManager.handleFailedBatch → requestEpochBumpForPartition, bumpIdempotentProducerEpoch and
    // RecordAccumulator.shouldStopDrainBatchesForPartition: a batch that fails while it had retries left bumps
    // the epoch and restarts only its own partition's sequences; another partition keeps its outstanding batch
    // in the old epoch, holds its new batches until that one completes, and then starts the new epoch at
    // sequence 0 (maybeUpdateProducerIdAndEpoch). The held partition stops the broker's whole drain
    // (drainBatchesForOneNode breaks, and its drain index stays there), so orders-1 waits behind it too.
    #[test]
    fn an_epoch_bump_holds_new_batches_behind_the_old_epochs_outstanding_ones() {
        let mut h = Harness::new();
        h.send_to(0);
        h.send_to(1);
        assert_eq!((h.stamp(0), h.stamp(1)), ((0, 0), (0, 0)));
        h.answer(1, Err(KafkaError::INVALID_PRODUCER_EPOCH));
        h.send_to(0);
        assert_eq!(h.sent.len(), 2, "orders-0 holds its new batch while its epoch-0 batch is in flight");
        h.send_to(1);
        assert_eq!(h.sent.len(), 2, "the drain starts at held orders-0 and stops there");
        h.answer(0, Ok(0));
        assert_eq!(h.sent.len(), 3, "once orders-0's epoch-0 batch completed, one request carries both");
        assert_eq!(h.partitions(2), [0, 1]);
        assert_eq!(h.stamps(2), [(1, 0), (1, 0)], "each starts the new epoch at sequence 0");
    }

    // shouldStopDrainBatchesForPartition applies to the first batch of the deque, the open one too: a partition
    // with an older epoch's batch outstanding stops the drain before its open batch is stamped in the new epoch.
    #[test]
    fn an_open_batch_behind_an_older_epoch_stops_the_drain() {
        let mut h = Harness::new();
        h.send_to(0);
        h.send_to(1);
        h.answer(1, Err(KafkaError::INVALID_PRODUCER_EPOCH));
        h.append_open(0);
        h.send_to(1);
        assert_eq!((h.sent.len(), h.partitions(2)), (3, vec![1]), "orders-1 goes; orders-0's open batch stays");
        assert_eq!(h.stamps(2), [(1, 0)]);
        assert_eq!(h.producer.mem.queues[0].open.records.len(), 1, "still open, unstamped");
    }

    // RecordAccumulator.ready / drainBatchesForOneNode: a broker is ready once one of its partitions has a batch
    // full or lingered; its drain then takes the first batch of every partition it leads, the one still open
    // too, in one Produce request.
    #[test]
    fn a_ready_partition_takes_the_brokers_open_batches_along() {
        let mut h = Harness::new();
        h.append_open(1);
        h.run(|p, ctx| p.run_sender(ctx));
        assert!(h.sent.is_empty(), "an open batch alone, not lingered: the broker is not ready");
        h.send_to(0);
        assert_eq!((h.sent.len(), h.partitions(0)), (1, vec![0, 1]), "orders-0's closed batch takes orders-1's along");
    }

    // drainBatchesForOneNode: a batch that would take the request past max.request.size stays (the first always
    // goes), and the broker's next drain starts at it (nodesDrainIndex keeps the partition visited last), so a
    // partition with many batches does not starve the others: orders-0's second batch waits for orders-1's.
    #[test]
    fn max_request_size_splits_a_drain_and_the_next_starts_where_it_stopped() {
        let mut h = Harness::with("max.request.size = 150\n");
        for index in [0, 0, 1] {
            h.append_open(index);
            let partition = h.producer.partitions[index];
            h.producer.mem.queues[index].close_open_batch(partition);
        }
        h.run(|p, ctx| p.run_sender(ctx));
        let requests: Vec<Vec<u32>> = (0..h.sent.len()).map(|r| h.partitions(r)).collect();
        assert_eq!(requests, [vec![0], vec![1], vec![0]], "each 100-byte batch alone, orders-1 second");
    }

    // The confirmed duplicate of the fidelity issue: a retry whose first attempt may be in the log keeps its
    // stamp (epoch and sequence) when another partition's failure bumps the epoch, so the broker answers it as a
    // duplicate instead of appending it again (Kafka rewrites only partitionsToRewriteSequences).
    #[test]
    fn a_retry_keeps_its_stamp_when_another_partition_bumps_the_epoch() {
        let mut h = Harness::new();
        h.send_to(0);
        h.send_to(1);
        h.answer(0, Err(KafkaError::NOT_ENOUGH_REPLICAS_AFTER_APPEND));
        h.answer(1, Err(KafkaError::INVALID_PRODUCER_EPOCH));
        h.now = SimTime(US_PER_S);
        h.run(|p, ctx| p.run_sender(ctx));
        assert_eq!(h.producer.mem.producer_epoch, 1, "orders-1's failure bumped the epoch");
        assert_eq!(h.sent.len(), 3, "orders-0's batch is retried");
        assert_eq!(h.stamp(2), (0, 0), "with the stamp of its first attempt");
    }

    // Sender.sendProducerData marks a partition unresolved when a retried batch expires (its first attempt may
    // or may not be in the log); TransactionManager.maybeResolveSequences bumps the epoch once nothing of it is
    // outstanding and the last acknowledged sequence is not the one before the next, so the next batch starts
    // the new epoch at sequence 0 instead of leaving a gap the broker would refuse.
    #[test]
    fn an_expired_retry_restarts_its_partitions_sequences_in_a_new_epoch() {
        let mut h = Harness::new();
        h.send_to(0);
        h.answer(0, Err(KafkaError::NOT_ENOUGH_REPLICAS_AFTER_APPEND));
        h.now = SimTime(200 * US_PER_S);
        h.run(|p, ctx| p.run_sender(ctx));
        assert_eq!(h.sent.len(), 1, "the retry expired by delivery.timeout.ms instead of going again");
        let sequences = &h.producer.mem.queues[0].sequences;
        assert_eq!(sequences.unresolved, None, "resolved in the same sender loop: nothing else was outstanding");
        assert_eq!(h.producer.mem.producer_epoch, 1, "and sequence 0 was never acknowledged: an epoch bump");
        h.send_to(0);
        assert_eq!(h.stamp(1), (1, 0), "the next batch starts a new epoch at sequence 0");
    }
}
