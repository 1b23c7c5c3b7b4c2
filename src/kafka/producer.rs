//! A producer client (KafkaProducer with its RecordAccumulator and Sender): the workload's `send()` calls,
//! batching by `linger.ms` / `batch.size`, one produce request per batch to the partition's leader, at most
//! `max.in.flight.requests.per.connection` per broker, retries until `retries` or `delivery.timeout.ms`,
//! idempotent sequence numbers, and metadata refreshes when leadership moves.

use super::backoff;
use super::config::{Acks, ProducerConfig};
use super::ids::{BrokerId, ClientId, PartitionId};
use super::log::{ProducerStamp, Record};
use super::messages::{KafkaError, LeaderInfo, Msg, ProduceRequest, ProduceResponse};
use super::node::{KafkaCtx, Timer};
use super::obs::Obs;
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
    created: SimTime,
    attempts: u32,
    /// The idempotent stamp, fixed at the first send and kept across retries.
    stamp: Option<ProducerStamp>,
    retry_at: SimTime,
    last_error: Option<KafkaError>,
}

struct InFlight {
    batch: ProducerBatch,
    broker: BrokerId,
    deadline: SimTime,
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
    next_sequence: u32,
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
            created,
            attempts: 0,
            stamp: None,
            retry_at: created,
            last_error: None,
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

pub struct Producer {
    id: ClientId,
    spec: Rc<ClusterSpec>,
    workload: ProducerSpec,
    config: ProducerConfig,
    /// The topic's partitions, in partition-number order.
    partitions: Vec<PartitionId>,
    queues: Vec<PartitionQueue>,
    leaders: Vec<LeaderInfo>,
    in_flight: InFlightRequests,
    in_flight_per_broker: Vec<u32>,
    next_correlation: u64,
    sends: u64,
    /// The idempotent producer's id and epoch (the model assigns ids instead of InitProducerId).
    producer_epoch: u32,
    metadata_request: Option<(u64, SimTime)>,
    metadata_wanted: bool,
    metadata_refreshed_at: SimTime,
    /// When the last metadata request was sent, and how many in a row have failed since the last success.
    metadata_attempted_at: SimTime,
    metadata_failures: u32,
    bootstrap_cursor: u32,
    sticky: Option<usize>,
    sticky_bytes: u64,
    wakeup: Wakeup,
    restarted: bool,
    /// A processor stage's forwards not yet fully acknowledged.
    forwards: Vec<Forwarding>,
    /// Per broker: the connection's state (NetworkClient's ClusterConnectionStates).
    links: Vec<Link>,
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
        let brokers = spec.broker_count as usize;
        let workload = spec.producers[id.index()].clone();
        let partitions: Vec<PartitionId> = spec.topic_partitions(workload.topic).collect();
        let unknown = LeaderInfo { leader: None, leader_epoch: -1 };
        Producer {
            id,
            config: workload.config.clone(),
            queues: partitions.iter().map(|_| PartitionQueue::default()).collect(),
            leaders: vec![unknown; spec.partitions.len()],
            in_flight_per_broker: vec![0; spec.broker_count as usize],
            partitions,
            workload,
            spec,
            in_flight: InFlightRequests::default(),
            next_correlation: 0,
            sends: 0,
            producer_epoch: 0,
            metadata_request: None,
            metadata_wanted: true,
            metadata_refreshed_at: SimTime::ZERO,
            metadata_attempted_at: SimTime::ZERO,
            metadata_failures: 0,
            bootstrap_cursor: 0,
            sticky: None,
            sticky_bytes: 0,
            wakeup: Wakeup::default(),
            restarted: false,
            forwards: Vec::new(),
            links: vec![Link::UP; brokers],
        }
    }

    /// A crash of the producer's process: everything in memory is gone, and the sends it held are never
    /// completed (the application died with them).
    pub fn crash(&mut self) {
        let fresh = Producer::new(self.id, self.spec.clone());
        let sends = self.sends;
        let epoch = self.producer_epoch;
        *self = fresh;
        self.sends = sends;
        // A new producer instance gets a new epoch (InitProducerId), so its sequences start over.
        self.producer_epoch = epoch + 1;
        self.restarted = true;
    }

    pub fn on_start(&mut self, ctx: &mut KafkaCtx<'_>) {
        self.bootstrap_cursor = self.id.0;
        if self.restarted && self.workload.driven_by.is_none() {
            // The sends that fell due while the process was down never happened.
            self.sends = self.sends.max(self.due_by(ctx.now));
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
            for _ in 0..self.workload.fan_out.max(1) {
                let send_seq = self.sends;
                self.send_with_key(key, ctx);
                let derived = ClientEvent::Derived { producer: self.id.0, send_seq, from_producer, from_send_seq };
                ctx.emit(Obs::Client(derived));
            }
        }
        self.forwards.push(Forwarding { stage: from, token, first, end: self.sends, outstanding: self.sends - first });
        self.answer_done_forwards(ctx);
        self.run_sender(ctx);
    }

    /// Counts completed sends against the stage's forwards and answers those fully done.
    fn note_completed(&mut self, send_seq: u64) {
        if let Some(f) = self.forwards.iter_mut().find(|f| (f.first..f.end).contains(&send_seq)) {
            f.outstanding = f.outstanding.saturating_sub(1);
        }
    }

    fn answer_done_forwards(&mut self, ctx: &mut KafkaCtx<'_>) {
        let done: Vec<Forwarding> = self.forwards.extract_if(.., |f| f.outstanding == 0).collect();
        for f in done {
            ctx.send(f.stage, Msg::Forwarded { token: f.token });
        }
    }

    pub fn on_timer(&mut self, timer: Timer, ctx: &mut KafkaCtx<'_>) {
        match timer {
            Timer::ProducerTick => self.on_tick(ctx),
            Timer::Wakeup => {
                self.wakeup.fired(ctx.now);
                self.expire_requests(ctx);
                self.run_sender(ctx);
            }
            _ => {}
        }
    }

    pub fn on_message(&mut self, from: NodeId, msg: Msg, ctx: &mut KafkaCtx<'_>) {
        match msg {
            Msg::MetadataResponse { correlation, leaders }
                if let Some(link) = self.links.iter_mut().find(|l| l.probe.is_some_and(|(c, _)| c == correlation)) =>
            {
                // The reconnection succeeded (and brought fresh metadata).
                *link = Link::UP;
                self.leaders.copy_from_slice(&leaders);
            }
            Msg::MetadataResponse { correlation, leaders }
                if self.metadata_request.is_some_and(|(c, _)| c == correlation) =>
            {
                self.metadata_request = None;
                self.metadata_wanted = false;
                self.metadata_refreshed_at = ctx.now;
                self.metadata_failures = 0;
                self.leaders.copy_from_slice(&leaders);
            }
            Msg::ProduceResponse(response) => self.on_produce_response(response, ctx),
            Msg::Forward { token, inputs } => self.on_forward(from, token, inputs, ctx),
            Msg::ConnectionClosed => {
                if let NodeRole::Broker(broker) = self.spec.role_of(from) {
                    self.fail_connection(broker, ctx);
                }
            }
            _ => {}
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
                if let Some(flight) = self.in_flight.remove(&request.correlation) {
                    self.in_flight_per_broker[flight.broker.index()] -= 1;
                    self.on_batch_error(flight.batch, KafkaError::NETWORK_EXCEPTION, ctx);
                }
            }
            Msg::MetadataRequest { correlation } if self.metadata_request.is_some_and(|(c, _)| c == correlation) => {
                self.metadata_failed();
            }
            _ => {}
        }
        self.run_sender(ctx);
    }

    /// NetworkClient after a refused, closed or timed-out connection: nothing is sent to that broker until a
    /// reconnection succeeds, tried after `reconnect.backoff.ms` (50 ms) doubling per consecutive failure up to
    /// `reconnect.backoff.max.ms` (1 s); and metadata is refreshed to find where leadership went. Batches for it
    /// wait in the accumulator meanwhile.
    fn disconnected(&mut self, broker: BrokerId, now: SimTime) {
        let link = &mut self.links[broker.index()];
        let failures = if link.connected { 0 } else { link.failures };
        let retry_at = now.plus_us(backoff::RECONNECT.after(failures));
        *link = Link { connected: false, failures: failures + 1, retry_at, probe: None };
        self.metadata_wanted = true;
    }

    /// A metadata request failed (refused or timed out): the next waits `retry.backoff.ms`, doubling per
    /// consecutive failure (KIP-580), measured from this attempt.
    fn metadata_failed(&mut self) {
        self.metadata_request = None;
        self.metadata_wanted = true;
        self.metadata_failures = self.metadata_failures.saturating_add(1);
    }

    /// A reconnection attempt to `broker`: a request that only a running broker answers, given
    /// `socket.connection.setup.timeout.ms` (10 s, doubling per failure up to 30 s, KIP-601) to get through.
    fn probe(&mut self, broker: BrokerId, ctx: &mut KafkaCtx<'_>) {
        self.next_correlation += 1;
        let link = &mut self.links[broker.index()];
        let setup_timeout = backoff::CONNECTION_SETUP_TIMEOUT.after(link.failures.saturating_sub(1));
        let deadline = ctx.now.plus_us(setup_timeout);
        link.probe = Some((self.next_correlation, deadline));
        ctx.send(self.spec.broker_node(broker), Msg::MetadataRequest { correlation: self.next_correlation });
    }

    // ---- the workload: send() calls ----

    /// Makes the `send()` calls that fell due since the last tick, then schedules the next tick.
    fn on_tick(&mut self, ctx: &mut KafkaCtx<'_>) {
        let due = self.due_by(ctx.now);
        while self.sends < due {
            self.send(ctx);
        }
        let w = &self.workload;
        let rate = u128::from(w.rate_per_s.max(1));
        let next_due_us = w.start_us + (u128::from(self.sends) * 1_000_000 / rate) as u64;
        let finished = w.max_records.is_some_and(|m| self.sends >= m) || next_due_us >= w.stop_us;
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

    /// One `producer.send()` of the workload: a key drawn from the key space.
    fn send(&mut self, ctx: &mut KafkaCtx<'_>) {
        let key = self.workload.key_space.map(|n| ctx.rng.random_range(0..n.max(1)));
        self.send_with_key(key, ctx);
    }

    /// One `producer.send()`: pick the partition, append to its open batch (RecordAccumulator.append).
    fn send_with_key(&mut self, key: Option<u32>, ctx: &mut KafkaCtx<'_>) {
        let record =
            Record { producer: self.id, send_seq: self.sends, key, size_bytes: self.workload.record_size_bytes };
        self.sends += 1;
        let record_key = if self.workload.partition_by_key { key } else { None };
        let index = self.choose_partition(record_key, ctx);
        let partition = self.partitions[index];
        ctx.emit(Obs::Client(ClientEvent::SendInvoked {
            producer: self.id.0,
            send_seq: record.send_seq,
            key,
            partition: partition.0,
        }));
        let batch_size = self.config.batch_size;
        let queue = &mut self.queues[index];
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
    fn choose_partition(&mut self, key: Option<u32>, ctx: &mut KafkaCtx<'_>) -> usize {
        let n = self.partitions.len();
        if let Some(k) = key {
            let mut buf = [0u8; 10];
            return partitioner::partition_for_key(partitioner::key_bytes(k, &mut buf), n as u32) as usize;
        }
        let switch = self.sticky.is_none() || self.sticky_bytes >= self.config.batch_size;
        if switch {
            let previous = self.sticky;
            let mut next = ctx.rng.random_range(0..n);
            if n > 1 && Some(next) == previous {
                next = (next + 1 + ctx.rng.random_range(0..n - 1)) % n;
            }
            self.sticky = Some(next);
            self.sticky_bytes = 0;
        }
        self.sticky_bytes += u64::from(self.workload.record_size_bytes);
        self.sticky.unwrap_or(0)
    }

    // ---- the sender loop ----

    /// Sender.runOnce: refresh metadata if needed, expire old batches, send every ready batch that may go.
    fn run_sender(&mut self, ctx: &mut KafkaCtx<'_>) {
        // Metadata: refreshed when wanted (no more often than `retry.backoff.ms`) and every `metadata.max.age.ms`.
        if ctx.now >= self.next_metadata_at() {
            self.request_metadata(ctx);
        }
        self.expire_batches(ctx);
        for index in 0..self.queues.len() {
            self.close_lingering_batch(index, ctx.now);
            while self.try_send_front(index, ctx) {}
        }
        if let Some(delay_us) = self.earliest_deadline(ctx.now).and_then(|next| self.wakeup.arm(next, ctx.now)) {
            ctx.set_timer(delay_us, Timer::Wakeup);
        }
    }

    fn request_metadata(&mut self, ctx: &mut KafkaCtx<'_>) {
        if self.metadata_request.is_some() {
            return;
        }
        self.next_correlation += 1;
        // Ask the brokers in turn (NetworkClient's least-loaded node, simplified to round robin).
        let broker = BrokerId(self.bootstrap_cursor % self.spec.broker_count + 1);
        self.bootstrap_cursor += 1;
        let deadline = ctx.now.plus_us(self.config.request_timeout_us);
        self.metadata_request = Some((self.next_correlation, deadline));
        self.metadata_attempted_at = ctx.now;
        ctx.send(self.spec.broker_node(broker), Msg::MetadataRequest { correlation: self.next_correlation });
    }

    fn close_lingering_batch(&mut self, index: usize, now: SimTime) {
        let queue = &mut self.queues[index];
        if !queue.open.records.is_empty() && now.since_us(queue.open.created) >= self.config.linger_us {
            queue.close_open_batch(self.partitions[index]);
        }
    }

    /// Sends the partition's first ready batch if its leader is known, its backoff passed, and the connection
    /// has room. An idempotent producer retrying a batch sends nothing else of that partition meanwhile.
    fn try_send_front(&mut self, index: usize, ctx: &mut KafkaCtx<'_>) -> bool {
        let Some(front) = self.queues[index].ready.front() else {
            return false;
        };
        let Some(leader) = self.leaders[front.partition.index()].leader else {
            self.metadata_wanted = true;
            return false;
        };
        let max_in_flight = self.config.max_in_flight_requests_per_connection;
        if front.retry_at > ctx.now || self.in_flight_per_broker[leader.index()] >= max_in_flight {
            return false;
        }
        let link = self.links[leader.index()];
        if !link.connected {
            // Not connected: the batch waits in the accumulator while a reconnection is tried.
            if link.probe.is_none() && link.retry_at <= ctx.now {
                self.probe(leader, ctx);
            }
            return false;
        }
        let partition = front.partition;
        if self.config.enable_idempotence
            && front.attempts > 0
            && self.in_flight.values().any(|f| f.batch.partition == partition)
        {
            return false;
        }
        let Some(mut batch) = self.queues[index].ready.pop_front() else {
            return false;
        };
        if self.config.enable_idempotence && batch.stamp.is_none() {
            let queue = &mut self.queues[index];
            let producer_id = (u64::from(self.id.0) + 1) << 16 | u64::from(self.producer_epoch);
            batch.stamp = Some(ProducerStamp { producer_id, base_sequence: queue.next_sequence });
            queue.next_sequence += batch.records.len() as u32;
        }
        self.send_batch(batch, leader, ctx);
        true
    }

    fn send_batch(&mut self, batch: ProducerBatch, leader: BrokerId, ctx: &mut KafkaCtx<'_>) {
        self.next_correlation += 1;
        let request = ProduceRequest {
            correlation: self.next_correlation,
            partition: batch.partition,
            acks: match self.config.acks {
                Acks::None => 0,
                Acks::Leader => 1,
                Acks::All => -1,
            },
            timeout_us: self.config.request_timeout_us,
            stamp: batch.stamp,
            records: batch.records.clone(),
        };
        ctx.send(self.spec.broker_node(leader), Msg::Produce(request));
        if self.config.acks == Acks::None {
            // acks=0: the send completes when the request is written; the offset is never known.
            self.complete_batch(&batch, None, ctx);
            return;
        }
        self.in_flight_per_broker[leader.index()] += 1;
        let deadline = ctx.now.plus_us(self.config.request_timeout_us);
        self.in_flight.insert(self.next_correlation, InFlight { batch, broker: leader, deadline });
    }

    fn on_produce_response(&mut self, response: ProduceResponse, ctx: &mut KafkaCtx<'_>) {
        let Some(flight) = self.in_flight.remove(&response.correlation) else {
            return;
        };
        self.in_flight_per_broker[flight.broker.index()] -= 1;
        match response.result {
            Ok(base_offset) => self.complete_batch(&flight.batch, Some(base_offset), ctx),
            Err(error) => self.on_batch_error(flight.batch, error, ctx),
        }
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
            self.metadata_wanted = true;
        }
        batch.last_error = Some(error);
        let expired = ctx.now.since_us(batch.created) >= self.config.delivery_timeout_us;
        if self.can_retry(&batch, error) && batch.attempts < self.config.retries && !expired {
            // KIP-580: each retry of a batch backs off twice as long, up to retry.backoff.max.ms.
            batch.retry_at = ctx.now.plus_us(self.config.retry_backoff().after(batch.attempts));
            batch.attempts += 1;
            self.requeue(batch);
        } else {
            self.fail_batch(batch, error.name(), ctx);
        }
    }

    /// Retriable errors, plus OUT_OF_ORDER_SEQUENCE_NUMBER for an idempotent producer whose earlier batch of the
    /// same partition is still unresolved (it will land first, and this one after it).
    fn can_retry(&self, batch: &ProducerBatch, error: KafkaError) -> bool {
        if error != KafkaError::OUT_OF_ORDER_SEQUENCE_NUMBER {
            return error.is_retriable();
        }
        let Some(stamp) = batch.stamp else {
            return false;
        };
        let earlier = |b: &ProducerBatch| {
            b.stamp.is_some_and(|s| s.producer_id == stamp.producer_id && s.base_sequence < stamp.base_sequence)
        };
        let index = self.queue_index(batch.partition);
        self.in_flight.values().any(|f| f.batch.partition == batch.partition && earlier(&f.batch))
            || self.queues[index].ready.iter().any(earlier)
    }

    /// Puts a batch back: in sequence order for an idempotent producer (RecordAccumulator.insertInSequenceOrder),
    /// at the front otherwise — which is how retries reorder records without idempotence.
    fn requeue(&mut self, batch: ProducerBatch) {
        let index = self.queue_index(batch.partition);
        let ready = &mut self.queues[index].ready;
        match batch.stamp {
            Some(stamp) => {
                let at = ready.iter().position(|b| b.stamp.is_none_or(|s| s.base_sequence > stamp.base_sequence));
                ready.insert(at.unwrap_or(ready.len()), batch);
            }
            None => ready.push_front(batch),
        }
    }

    fn fail_batch(&mut self, batch: ProducerBatch, error: &str, ctx: &mut KafkaCtx<'_>) {
        for record in batch.records.iter() {
            ctx.emit(Obs::Client(ClientEvent::SendFailed {
                producer: self.id.0,
                send_seq: record.send_seq,
                partition: batch.partition.0,
                error: error.to_string(),
            }));
            self.note_completed(record.send_seq);
        }
        self.answer_done_forwards(ctx);
        if batch.stamp.is_some() {
            self.bump_epoch();
        }
    }

    /// KIP-360: after an idempotent batch fails for good, the producer bumps its epoch and restarts sequences,
    /// so later batches are not rejected for the gap. Batches not yet sent get new sequences.
    fn bump_epoch(&mut self) {
        self.producer_epoch += 1;
        for queue in &mut self.queues {
            queue.next_sequence = 0;
            queue.ready.iter_mut().for_each(|b| b.stamp = None);
        }
    }

    /// Batches older than `delivery.timeout.ms`, queued or in flight, fail with TimeoutException
    /// (REQUEST_TIMED_OUT's exception) without further retries.
    fn expire_batches(&mut self, ctx: &mut KafkaCtx<'_>) {
        let timeout = self.config.delivery_timeout_us;
        for index in 0..self.queues.len() {
            // The front batch is the oldest (retries go back to the front or in sequence order).
            while self.queues[index].ready.front().is_some_and(|b| ctx.now.since_us(b.created) >= timeout) {
                if let Some(batch) = self.queues[index].ready.pop_front() {
                    self.fail_batch(batch, KafkaError::REQUEST_TIMED_OUT.name(), ctx);
                }
            }
        }
        let expired: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, f)| ctx.now.since_us(f.batch.created) >= timeout)
            .map(|(&c, _)| c)
            .collect();
        for correlation in expired {
            if let Some(flight) = self.in_flight.remove(&correlation) {
                self.in_flight_per_broker[flight.broker.index()] -= 1;
                self.fail_batch(flight.batch, KafkaError::REQUEST_TIMED_OUT.name(), ctx);
            }
        }
    }

    /// A request unanswered for `request.timeout.ms` closes its connection (NetworkClient): every request in
    /// flight on it fails with a retriable network error, and metadata is refreshed.
    fn expire_requests(&mut self, ctx: &mut KafkaCtx<'_>) {
        if self.metadata_request.is_some_and(|(_, deadline)| deadline <= ctx.now) {
            self.metadata_failed();
        }
        let timed_out: Vec<BrokerId> = self
            .spec
            .brokers()
            .filter(|b| self.links[b.index()].probe.is_some_and(|(_, deadline)| deadline <= ctx.now))
            .collect();
        for broker in timed_out {
            // NetworkClient: a connection not set up within its timeout is closed and counts as a failure.
            self.disconnected(broker, ctx.now);
        }
        let broken: Vec<BrokerId> =
            self.in_flight.values().filter(|f| f.deadline <= ctx.now).map(|f| f.broker).collect();
        for broker in broken {
            self.fail_connection(broker, ctx);
        }
    }

    /// The connection to `broker` is gone: every request in flight on it fails with a retriable network error.
    fn fail_connection(&mut self, broker: BrokerId, ctx: &mut KafkaCtx<'_>) {
        self.disconnected(broker, ctx.now);
        let on_broker: Vec<u64> = self.in_flight.iter().filter(|(_, f)| f.broker == broker).map(|(&c, _)| c).collect();
        for correlation in on_broker {
            if let Some(flight) = self.in_flight.remove(&correlation) {
                self.in_flight_per_broker[broker.index()] -= 1;
                self.on_batch_error(flight.batch, KafkaError::NETWORK_EXCEPTION, ctx);
            }
        }
        self.metadata_wanted = true;
    }

    /// The next moment something may become due: a linger or backoff ending, a timeout, a metadata retry.
    fn earliest_deadline(&self, now: SimTime) -> Option<SimTime> {
        let delivery = self.config.delivery_timeout_us;
        let linger = self
            .queues
            .iter()
            .filter(|q| !q.open.records.is_empty())
            .map(|q| q.open.created.plus_us(self.config.linger_us));
        let fronts = self.queues.iter().filter_map(|q| q.ready.front());
        let reconnects = self.links.iter().filter(|l| !l.connected).map(|l| l.probe.map_or(l.retry_at, |(_, d)| d));
        let queued = fronts.flat_map(|b| [b.retry_at, b.created.plus_us(delivery)]).chain(reconnects);
        let requests = self.in_flight.values().map(|f| f.deadline.min(f.batch.created.plus_us(delivery)));
        let metadata = match self.metadata_request {
            Some((_, deadline)) => Some(deadline),
            None => Some(self.next_metadata_at()),
        };
        linger.chain(queued).chain(requests).chain(metadata).filter(|&t| t > now).min()
    }

    /// Metadata.timeToNextUpdate: when wanted, `retry.backoff.ms` (exponential over consecutive failures) after
    /// the last attempt; in any case `metadata.max.age.ms` after the last refresh.
    fn next_metadata_at(&self) -> SimTime {
        let expiry = self.metadata_refreshed_at.plus_us(self.config.metadata_max_age_us);
        if !self.metadata_wanted {
            return expiry;
        }
        let backoff = self.config.retry_backoff().after(self.metadata_failures);
        expiry.min(self.metadata_attempted_at.plus_us(backoff))
    }

    fn queue_index(&self, p: PartitionId) -> usize {
        self.partitions.iter().position(|&q| q == p).unwrap_or(0)
    }

    /// Whether every send has completed (acknowledged or failed).
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty() && self.queues.iter().all(|q| q.open.records.is_empty() && q.ready.is_empty())
    }
}
