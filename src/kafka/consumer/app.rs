//! The consumer's application: what it does with what `poll()` returns — processing (its time, poison records,
//! a stage's forwarded writes), the commit strategy after or before processing, a clean close — and what a
//! crash in the middle of it leaves. The client half (group protocol, heartbeats, fetcher, positions) is
//! `mod.rs`.

use super::*;

impl Consumer {
    /// The moment before a crash: the records of the current batch whose processing had finished did their work
    /// (their side effects happened), though nothing will commit them.
    /// With offsets stored with the state, the batch's transaction had not committed: none of it took effect.
    pub(crate) fn report_processed_before_crash(&mut self, ctx: &mut KafkaCtx<'_>) {
        if self.cfg.config.commit == CommitStrategy::WithState {
            return;
        }
        let App::Processing { records, finishes } = &self.mem.app else { return };
        let finished = finishes.iter().take_while(|&&t| t <= ctx.now).count();
        self.report_processed(&records[..finished], ctx);
    }

    /// The process died: a `consumer_crashed` event, after what it had finished processing.
    pub(crate) fn report_crash(&mut self, ctx: &mut KafkaCtx<'_>) {
        let event = ClientEvent::ConsumerCrashed { consumer: self.index, group: self.group().0 };
        ctx.emit(Obs::Client(event));
    }

    /// The application's first `subscribe()`: a `subscribed` event with its topics (none with `assign()`).
    pub(crate) fn report_subscription(&mut self, ctx: &mut KafkaCtx<'_>) {
        if self.cfg.assign.is_some() {
            return;
        }
        let topics = self.cfg.topics.iter().map(|&t| self.spec.topic(t).name.clone()).collect();
        ctx.emit(Obs::Client(ClientEvent::Subscribed { consumer: self.index, group: self.group().0, topics }));
    }

    /// `KafkaConsumer.close()`: commit what was consumed (with auto-commit), leave the group so it rebalances at
    /// once instead of after session.timeout.ms, and exit.
    pub(crate) fn close(&mut self, ctx: &mut KafkaCtx<'_>) {
        if self.mem.app != App::Polling {
            // An application closes its consumer from its poll loop, after the batch in hand (wakeup(), then
            // close()): finish what is being processed first.
            self.mem.closing = true;
            return;
        }
        if let Some(coordinator) = self.mem.coordinator
            && self.mem.membership == Membership::Stable
        {
            if self.cfg.config.commit == CommitStrategy::Auto {
                self.commit_consumed(false, ctx);
            }
            // KIP-345: a static member does not leave on close; its session timeout decides.
            if self.cfg.config.group_instance_id.is_none() {
                self.leave_group(coordinator, "closed", ctx);
            }
        }
        for peer in self.spec.connection_peers(ctx.me) {
            ctx.send(peer, Msg::ConnectionClosed);
        }
        ctx.exit();
    }

    pub(super) fn report_poison(
        &self,
        p: PartitionId,
        offset: u64,
        record: Record,
        skipped: bool,
        ctx: &mut KafkaCtx<'_>,
    ) {
        let event = ClientEvent::Poisoned {
            consumer: self.index,
            group: self.group().0,
            partition: p.0,
            offset,
            producer: record.producer.0,
            send_seq: record.send_seq,
            skipped,
        };
        self.emit(ctx, event);
    }

    pub(super) fn report_filtered(&self, p: PartitionId, offset: u64, record: Record, ctx: &mut KafkaCtx<'_>) {
        let event = ClientEvent::Filtered {
            consumer: self.index,
            group: self.group().0,
            partition: p.0,
            offset,
            producer: record.producer.0,
            send_seq: record.send_seq,
        };
        self.emit(ctx, event);
    }

    /// poll threw on a record it could not deserialize and the application died; its supervisor restarts it after
    /// a delay, as a new member that resumes from the committed offsets (and meets the same record again).
    pub(super) fn die_on_poison(&mut self, (p, offset, record): (PartitionId, u64, Record), ctx: &mut KafkaCtx<'_>) {
        self.report_poison(p, offset, record, false, ctx);
        let next_correlation = self.mem.next_correlation;
        self.crash(StorageLoss::Nothing);
        self.mem.next_correlation = next_correlation;
        self.mem.dead_until = ctx.now.plus_us(self.cfg.restart_delay_us);
        self.arm_poll(self.cfg.restart_delay_us, ctx);
    }

    /// One `processed` event per record, in order.
    pub(super) fn report_processed(&self, records: &[(PartitionId, u64, Record)], ctx: &mut KafkaCtx<'_>) {
        for &(p, offset, record) in records {
            let event = ClientEvent::Processed {
                consumer: self.index,
                group: self.group().0,
                generation: self.mem.generation,
                partition: p.0,
                offset,
                producer: record.producer.0,
                send_seq: record.send_seq,
            };
            self.emit(ctx, event);
        }
    }

    pub(super) fn start_processing(&mut self, records: Vec<(PartitionId, u64, Record)>, ctx: &mut KafkaCtx<'_>) {
        let per_record = matches!(self.cfg.config.commit, CommitStrategy::AfterProcessing { per_record: true, .. });
        let batch = if per_record { 1 } else { records.len() };
        let (low, high) = (self.cfg.processing_time_us, self.cfg.processing_time_max_us);
        let mut took_us = 0;
        // Each record's time is a function of the record (its partition and offset) and this consumer's key,
        // not of the order draws were made in: a shrunk or reshaped scenario changes only what it removed.
        let finishes = records[..batch]
            .iter()
            .map(|&(p, offset, _)| {
                took_us += crate::engine::rng::keyed_draw(self.processing_key, &[u64::from(p.0), offset], low, high);
                ctx.now.plus_us(took_us)
            })
            .collect();
        self.mem.app = App::Processing { records, finishes };
        ctx.set_timer(took_us, Timer::ConsumerProcessed);
    }

    /// Records processed: report them; a processor stage hands them to its producer and waits for the
    /// acknowledgements (a flush) before committing; then commit if the strategy says so, and go on.
    pub(super) fn on_processed(&mut self, ctx: &mut KafkaCtx<'_>) {
        if self.mem.polling_stopped {
            // The application is stuck in its batch: `resume_polling` finishes it.
            return;
        }
        let App::Processing { records, finishes } = std::mem::replace(&mut self.mem.app, App::Polling) else { return };
        if finishes.last().is_some_and(|&done_at| done_at > ctx.now) {
            self.mem.app = App::Processing { records, finishes };
            return;
        }
        let per_record = matches!(self.cfg.config.commit, CommitStrategy::AfterProcessing { per_record: true, .. });
        let split = if per_record { 1 } else { records.len() };
        let (done, rest) = (records[..split].to_vec(), records[split..].to_vec());
        self.report_processed(&done, ctx);
        if let Some(producer) = self.cfg.stage_producer {
            self.mem.next_correlation += 1;
            let token = self.mem.next_correlation;
            let inputs = done.iter().map(|(_, _, r)| (r.key, r.producer.0, r.send_seq)).collect();
            ctx.send(self.spec.producer_node(producer), Msg::Forward { token, inputs });
            self.mem.app = App::Forwarding { token, done, rest };
            return;
        }
        self.after_processing(done, rest, ctx);
    }

    /// The stage's producer acknowledged what it wrote for the batch: carry on as after processing.
    pub(super) fn on_forwarded(&mut self, token: u64, ctx: &mut KafkaCtx<'_>) {
        if !matches!(&self.mem.app, App::Forwarding { token: t, .. } if *t == token) {
            return;
        }
        if let App::Forwarding { done, rest, .. } = std::mem::replace(&mut self.mem.app, App::Polling) {
            self.after_processing(done, rest, ctx);
        }
    }

    pub(super) fn after_processing(&mut self, done: Vec<Fetched>, rest: Vec<Fetched>, ctx: &mut KafkaCtx<'_>) {
        match self.cfg.config.commit {
            CommitStrategy::AfterProcessing { sync, .. } => {
                // The position after the last processed record of each partition.
                let mut upto: BTreeMap<PartitionId, u64> = BTreeMap::new();
                for &(p, o, _) in &done {
                    upto.insert(p, o + 1);
                }
                // The record's leader epoch goes with the offset when it is the consumed position's
                // (commitSync with OffsetAndMetadata(offset, record.leaderEpoch())); otherwise none.
                let with_epoch = |(p, offset): (PartitionId, u64)| {
                    let pos = self.mem.positions.get(&p).filter(|pos| pos.consumed == Some(offset));
                    let leader_epoch =
                        pos.and_then(|pos| pos.consumed_epoch).filter(|_| self.cfg.config.truncation_detection);
                    (p, OffsetAndEpoch { offset, leader_epoch })
                };
                let upto: Vec<(PartitionId, OffsetAndEpoch)> = upto.into_iter().map(with_epoch).collect();
                if sync {
                    // Waiting first: a commit the client fails at once (no coordinator, not in the group)
                    // finishes the wait before `commit` returns.
                    self.mem.app = App::CommittingSync { then_process: rest };
                    return self.commit(upto, true, ctx);
                }
                self.commit(upto, false, ctx);
            }
            CommitStrategy::WithState => {
                // One transaction: the batch's results and the offsets after it.
                for &(p, o, _) in &done {
                    self.store.next_offsets.insert(p, o + 1);
                }
            }
            CommitStrategy::Auto | CommitStrategy::BeforeProcessing | CommitStrategy::Never => {}
        }
        self.continue_after(rest, ctx);
    }

    pub(super) fn continue_after(&mut self, rest: Vec<(PartitionId, u64, Record)>, ctx: &mut KafkaCtx<'_>) {
        if self.mem.closing && rest.is_empty() {
            self.mem.app = App::Polling;
            return self.close(ctx);
        }
        if rest.is_empty() {
            self.mem.app = App::Polling;
            self.poll(ctx);
        } else {
            self.start_processing(rest, ctx);
        }
    }

    /// Commits the consumed position of every assigned partition.
    pub(super) fn commit_consumed(&mut self, sync: bool, ctx: &mut KafkaCtx<'_>) {
        let with_epoch = self.cfg.config.truncation_detection;
        let committed = |pos: &Position| {
            let leader_epoch = pos.consumed_epoch.filter(|_| with_epoch);
            pos.consumed.map(|offset| OffsetAndEpoch { offset, leader_epoch })
        };
        let offsets: Vec<(PartitionId, OffsetAndEpoch)> =
            self.mem.positions.iter().filter_map(|(&p, pos)| committed(pos).map(|c| (p, c))).collect();
        if offsets.is_empty() {
            if sync {
                self.finish_sync_commit(ctx);
            }
            return;
        }
        self.commit(offsets, sync, ctx);
    }
}
