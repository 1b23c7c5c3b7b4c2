//! The one process type the engine runs: a broker, the controller or a producer, with their shared message,
//! timer and output types.

use super::broker::Broker;
use super::consumer::Consumer;
use super::controller::Controller;
use super::messages::Msg;
use super::obs::Obs;
use super::producer::Producer;
use crate::engine::{Ctx, MessageKind, NodeId, Process, StorageLoss};

/// Every timer any node sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    BrokerHeartbeat,
    IsrExpiration,
    HighWatermarkCheckpoint,
    /// The log manager deletes what retention no longer keeps (log.retention.check.interval.ms).
    LogRetentionCheck,
    OffsetsRetentionCheck,
    /// The OS writes dirty pages back (vm.dirty_writeback_centisecs).
    PageCacheWriteback,
    /// The node's earliest deadline (request, fetch and produce timeouts, backoffs, linger) may have passed.
    Wakeup,
    ControllerFenceCheck,
    /// The active controller moves leadership back to preferred replicas (leader.imbalance.check.interval.seconds).
    LeaderImbalanceCheck,
    /// The controller's quorum checks its timeouts (fetch, election, check quorum).
    QuorumTick,
    /// The producer's workload generates the records that fell due.
    ProducerTick,
    /// The consumer application calls poll() (at its start, or after a backoff).
    ConsumerPoll,
    /// The consumer's heartbeat thread wakes.
    ConsumerHeartbeat,
    /// The consumer application finished processing what it was working on.
    ConsumerProcessed,
}

pub type KafkaCtx<'a> = Ctx<'a, Msg, Timer, Obs>;

pub enum Node {
    Broker(Box<Broker>),
    Controller(Box<Controller>),
    Producer(Box<Producer>),
    Consumer(Box<Consumer>),
}

impl Process for Node {
    type Msg = Msg;
    type Timer = Timer;
    type Out = Obs;

    fn message_kind(msg: &Msg) -> MessageKind {
        msg.kind()
    }

    fn on_start(&mut self, ctx: &mut KafkaCtx<'_>) {
        match self {
            Node::Broker(b) => b.on_start(ctx),
            Node::Controller(c) => c.on_start(ctx),
            Node::Producer(p) => p.on_start(ctx),
            Node::Consumer(c) => c.on_start(ctx),
        }
    }

    fn on_message(&mut self, from: NodeId, msg: Msg, ctx: &mut KafkaCtx<'_>) {
        match self {
            Node::Broker(b) => b.on_message(from, msg, ctx),
            Node::Controller(c) => c.on_message(from, msg, ctx),
            Node::Producer(p) => p.on_message(from, msg, ctx),
            Node::Consumer(c) => c.on_message(from, msg, ctx),
        }
    }

    fn on_refused(&mut self, to: NodeId, msg: Msg, ctx: &mut KafkaCtx<'_>) {
        match self {
            Node::Broker(b) => b.on_refused(to, msg, ctx),
            Node::Controller(_) => {}
            Node::Producer(p) => p.on_refused(to, msg, ctx),
            Node::Consumer(c) => c.on_refused(to, msg, ctx),
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut KafkaCtx<'_>) {
        match self {
            Node::Broker(b) => b.on_timer(timer, ctx),
            Node::Controller(c) => c.on_timer(timer, ctx),
            Node::Producer(p) => p.on_timer(timer, ctx),
            Node::Consumer(c) => c.on_timer(timer, ctx),
        }
    }

    /// What survives: a broker's logs and high-watermark checkpoint (as the loss allows), a controller's quorum
    /// log (rebuilt from at `on_start`), a producer's workload position, a consumer application's state store.
    fn on_crash(&mut self, loss: StorageLoss, ctx: &mut KafkaCtx<'_>) -> Option<String> {
        match self {
            Node::Broker(b) => return b.crash(loss),
            Node::Controller(_) => {}
            Node::Producer(p) => p.crash(),
            Node::Consumer(c) => {
                c.report_processed_before_crash(ctx);
                c.report_crash(ctx);
                c.crash(loss);
            }
        }
        None
    }

    /// After a clean exit the memory is still there: a broker and a consumer start from what they keep durably.
    fn on_restart(&mut self) {
        match self {
            Node::Broker(b) => {
                b.crash(StorageLoss::Nothing);
            }
            Node::Consumer(c) => c.crash(StorageLoss::Nothing),
            Node::Controller(_) | Node::Producer(_) => {}
        }
    }
}
