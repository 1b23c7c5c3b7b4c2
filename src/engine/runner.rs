//! The run loop: processes (state machines) exchange messages through the network and set timers; handlers are
//! pure in the sense that they only change their own state and push commands, which the engine then applies.

use super::network::Network;
use super::queue::EventQueue;
use super::rng::SimRng;
use super::time::SimTime;
use std::collections::BTreeMap;

/// The most messages one held link keeps; beyond it, messages on that link are lost (counted as lost).
pub const MAX_HELD_PER_LINK: usize = 100_000;

/// The index of a process in the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// What a crash takes from the host's storage besides the process's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageLoss {
    /// kill -9 with the OS up: the page cache survives, so everything written does; the kernel resets the
    /// process's connections.
    Nothing,
    /// A power loss: what was neither flushed nor written back by the OS is gone; nothing answers until restart.
    PageCache,
    /// The disk is gone (replaced): the process restarts with nothing it had written.
    Disk,
}

/// A simulated process. `Out` is what the process reports to the outside world (history, trace).
///
/// A process's state is its memory and what it keeps durably. The engine owns the faults: `Engine::crash` calls
/// `on_crash`, which drops the memory and recovers the durable part as the loss allows; `Engine::restart` calls
/// `on_restart` (the memory a clean exit left behind goes too) and then `on_start`, which rebuilds the rest.
pub trait Process {
    type Msg;
    type Timer;
    type Out;
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self::Msg, Self::Timer, Self::Out>);
    fn on_message(&mut self, from: NodeId, msg: Self::Msg, ctx: &mut Ctx<'_, Self::Msg, Self::Timer, Self::Out>);
    fn on_timer(&mut self, timer: Self::Timer, ctx: &mut Ctx<'_, Self::Msg, Self::Timer, Self::Out>);
    /// A message this process sent to `to` was refused: `to`'s process is stopped but its host is up, so the
    /// connection attempt was rejected (a TCP reset). Messages to a powered-off host are simply lost.
    fn on_refused(&mut self, to: NodeId, msg: Self::Msg, ctx: &mut Ctx<'_, Self::Msg, Self::Timer, Self::Out>) {
        let _ = (to, msg, ctx);
    }
    /// The process dies now, its host losing `loss`: memory is gone, durable state keeps what survives. It may
    /// report what it had finished at that moment (outputs only: a dead process sends nothing and sets no
    /// timer). Says what the crash lost, if anything.
    fn on_crash(&mut self, loss: StorageLoss, ctx: &mut Ctx<'_, Self::Msg, Self::Timer, Self::Out>) -> Option<String>;
    /// A stopped process is about to start again as a new incarnation.
    fn on_restart(&mut self) {}
    /// What `msg` is, for the message log (`Engine::log_messages`): its name and how it pairs with others.
    fn message_kind(msg: &Self::Msg) -> MessageKind {
        let _ = msg;
        MessageKind { name: "message", family: "message", exchange: Exchange::OneWay }
    }
}

/// How a message pairs with another in a trace of requests in flight: a request, and the response that answers
/// it, share a `family` and a `key` (a correlation id, or whatever the protocol pairs them by) between the same
/// two nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exchange {
    Request { key: u64 },
    Response { key: u64 },
    OneWay,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageKind {
    pub name: &'static str,
    pub family: &'static str,
    pub exchange: Exchange,
}

/// What became of a message at one point of its way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Passage {
    /// Sent, and on its way.
    Sent,
    /// Sent over a cut or lossy link: it never arrives.
    LostAtSend,
    /// Handed to its receiver.
    Delivered,
}

/// One line of the message log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageEntry {
    pub time: SimTime,
    pub from: NodeId,
    pub to: NodeId,
    pub kind: MessageKind,
    pub passage: Passage,
}

/// What a handler asks the engine to do.
pub enum Command<M, T, O> {
    Send {
        to: NodeId,
        msg: M,
    },
    Timer {
        after_us: u64,
        timer: T,
    },
    Emit(O),
    /// The process stops itself (a clean exit): like `Engine::stop`, after this handler.
    Exit,
}

/// A handler's view of the world: the time, its own id and random stream, and a buffer for commands.
pub struct Ctx<'a, M, T, O> {
    pub now: SimTime,
    pub me: NodeId,
    pub rng: &'a mut SimRng,
    commands: &'a mut Vec<Command<M, T, O>>,
}

impl<'a, M, T, O> Ctx<'a, M, T, O> {
    /// A context outside a run, for driving one handler directly (state in, commands out) in a test.
    pub fn detached(now: SimTime, me: NodeId, rng: &'a mut SimRng, commands: &'a mut Vec<Command<M, T, O>>) -> Self {
        Ctx { now, me, rng, commands }
    }

    pub fn send(&mut self, to: NodeId, msg: M) {
        self.commands.push(Command::Send { to, msg });
    }

    pub fn set_timer(&mut self, after_us: u64, timer: T) {
        self.commands.push(Command::Timer { after_us, timer });
    }

    pub fn emit(&mut self, out: O) {
        self.commands.push(Command::Emit(out));
    }

    pub fn exit(&mut self) {
        self.commands.push(Command::Exit);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    Up,
    /// Stopped (crashed or shut down): messages to it are lost, its timers never fire.
    Down,
    /// A stopped process (SIGSTOP, a long GC pause): its events wait and run when it resumes.
    Paused,
}

enum Event<M, T> {
    Deliver {
        from: NodeId,
        to: NodeId,
        incarnation: u32,
        msg: M,
    },
    Timer {
        node: NodeId,
        incarnation: u32,
        timer: T,
    },
    /// `msg`, sent by `node` to `peer`, came back refused.
    Refused {
        node: NodeId,
        incarnation: u32,
        peer: NodeId,
        msg: M,
    },
}

impl<M, T> Event<M, T> {
    fn target(&self) -> (NodeId, u32) {
        match self {
            Event::Deliver { to, incarnation, .. } => (*to, *incarnation),
            Event::Timer { node, incarnation, .. } => (*node, *incarnation),
            Event::Refused { node, incarnation, .. } => (*node, *incarnation),
        }
    }
}

struct Slot<P: Process> {
    process: P,
    status: NodeStatus,
    /// Whether the node's host is running while its process is down (then connections to it are refused).
    host_up: bool,
    /// Bumped on every restart so that messages and timers meant for the previous life are dropped.
    incarnation: u32,
    rng: SimRng,
    held: Vec<Event<P::Msg, P::Timer>>,
    /// Messages this node has sent, over all its incarnations.
    messages_sent: u64,
}

/// Bounds on a run: it ends at `end` simulated time or after `max_events`, whichever comes first.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub end: SimTime,
    pub max_events: u64,
}

/// What `step` did: ran one event, found none due by its time, or stopped at the event limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Ran,
    Reached,
    EventLimit,
}

/// Why `run_until` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnd {
    Reached,
    EventLimit,
}

/// Counters the engine keeps about itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct EngineStats {
    pub events: u64,
    pub messages_sent: u64,
    pub messages_lost: u64,
    /// The most events ever waiting in the queue: stays small when timeouts do not pile up as dead entries.
    pub max_queue_len: u64,
    /// Timers waiting in the queue now, and the most ever: stays small when timeouts do not pile up.
    pub timers_queued: u64,
    pub max_timers_queued: u64,
}

/// Messages kept at the far end of held links, per (from, to), in arrival order.
type HeldLinks<M, T> = BTreeMap<(u32, u32), Vec<Event<M, T>>>;

pub struct Engine<P: Process> {
    queue: EventQueue<Event<P::Msg, P::Timer>>,
    pub network: Network,
    slots: Vec<Slot<P>>,
    commands: Vec<Command<P::Msg, P::Timer, P::Out>>,
    outputs: Vec<(SimTime, NodeId, P::Out)>,
    /// Messages that reached the far end of a held link, per (from, to), in arrival order.
    held_messages: HeldLinks<P::Msg, P::Timer>,
    limits: Limits,
    pub stats: EngineStats,
    /// Every message sent and delivered, when asked for: at most two entries per message, and a run's messages
    /// are bounded by its event limit.
    message_log: Option<Vec<MessageEntry>>,
    /// What the last `step` ran, if it ran a handler.
    handled: Option<Handled>,
}

/// A handler an event ran: on which node, and what the event was (a message's kind, `timer`, `refused`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handled {
    pub node: NodeId,
    pub what: &'static str,
}

impl<P: Process> Engine<P> {
    /// What the last `step` ran: `None` when it ran no handler (the event was for a stopped node, held or lost).
    pub fn handled(&self) -> Option<Handled> {
        self.handled
    }

    /// From now on, log every message sent and delivered (for a trace of requests in flight).
    pub fn log_messages(&mut self) {
        self.message_log.get_or_insert_with(Vec::new);
    }

    /// What the message log holds in memory (0 when it was not asked for).
    pub fn message_log_bytes(&self) -> u64 {
        self.message_log.as_ref().map_or(0, |log| (log.capacity() * std::mem::size_of::<MessageEntry>()) as u64)
    }

    /// The message log so far, handed over (`None` when it was not asked for); logging stops.
    pub fn take_message_log(&mut self) -> Option<Vec<MessageEntry>> {
        self.message_log.take()
    }

    fn log_message(&mut self, from: NodeId, to: NodeId, msg: &P::Msg, passage: Passage) {
        if let Some(log) = &mut self.message_log {
            let time = self.queue.now();
            log.push(MessageEntry { time, from, to, kind: P::message_kind(msg), passage });
        }
    }

    /// How many messages `node` has sent so far (for request-rate limits).
    pub fn messages_sent_by(&self, node: NodeId) -> u64 {
        self.slots[node.0 as usize].messages_sent
    }

    /// An engine over `processes` (with one random stream each). Nothing runs until `start`.
    pub fn new(processes: Vec<(P, SimRng)>, network: Network, limits: Limits) -> Self {
        let slots = processes
            .into_iter()
            .map(|(process, rng)| Slot {
                process,
                status: NodeStatus::Up,
                host_up: true,
                incarnation: 0,
                messages_sent: 0,
                rng,
                held: Vec::new(),
            })
            .collect();
        Engine {
            queue: EventQueue::default(),
            network,
            slots,
            commands: Vec::new(),
            outputs: Vec::new(),
            held_messages: BTreeMap::new(),
            limits,
            stats: EngineStats::default(),
            message_log: None,
            handled: None,
        }
    }

    pub fn now(&self) -> SimTime {
        self.queue.now()
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn node_count(&self) -> usize {
        self.slots.len()
    }

    pub fn process(&self, node: NodeId) -> &P {
        &self.slots[node.0 as usize].process
    }

    /// The bytes one queued event takes (what every push and pop moves).
    pub fn event_bytes() -> usize {
        std::mem::size_of::<Event<P::Msg, P::Timer>>()
    }

    /// The process itself, outside any event: for bookkeeping an observer keeps on it, never to change what it
    /// does (that goes through `invoke`, with a context).
    pub fn process_mut(&mut self, node: NodeId) -> &mut P {
        &mut self.slots[node.0 as usize].process
    }

    pub fn status(&self, node: NodeId) -> NodeStatus {
        self.slots[node.0 as usize].status
    }

    /// Calls `on_start` on every process, in id order.
    /// Starts every process not held back.
    pub fn start(&mut self) {
        for i in 0..self.slots.len() {
            if self.slots[i].status != NodeStatus::Down {
                self.invoke(NodeId(i as u32), |p, ctx| p.on_start(ctx));
            }
        }
    }

    /// Before `start`: `node` does not exist yet (its host is off, nothing reaches it); `restart` creates it.
    pub fn hold_back(&mut self, node: NodeId) {
        self.power_off(node);
    }

    /// Runs a handler of `node` from outside (a fault, an operator action) and applies its commands.
    pub fn invoke(&mut self, node: NodeId, handler: impl FnOnce(&mut P, &mut Ctx<'_, P::Msg, P::Timer, P::Out>)) {
        let now = self.queue.now();
        let slot = &mut self.slots[node.0 as usize];
        let mut ctx = Ctx { now, me: node, rng: &mut slot.rng, commands: &mut self.commands };
        handler(&mut slot.process, &mut ctx);
        self.apply_commands(node);
    }

    /// Runs events up to and including `until` (capped at the run's end), then moves the clock there.
    pub fn run_until(&mut self, until: SimTime) -> RunEnd {
        loop {
            if let Some(end) = self.run_until_outputs(until, usize::MAX) {
                return end;
            }
        }
    }

    /// Runs events as `run_until` does, but returns `None` once `max_outputs` outputs wait to be taken: a caller
    /// that takes them and calls again holds a bounded buffer however long the run.
    pub fn run_until_outputs(&mut self, until: SimTime, max_outputs: usize) -> Option<RunEnd> {
        while self.outputs.len() < max_outputs {
            match self.step(until) {
                Step::Ran => {}
                Step::Reached => return Some(RunEnd::Reached),
                Step::EventLimit => return Some(RunEnd::EventLimit),
            }
        }
        None
    }

    /// Outputs waiting to be taken.
    pub fn outputs_waiting(&self) -> usize {
        self.outputs.len()
    }

    /// Runs the next event due by `until` (capped at the run's end), for callers that look at the state after
    /// every event; with none left, the clock moves to `until`.
    pub fn step(&mut self, until: SimTime) -> Step {
        let until = until.min(self.limits.end);
        self.handled = None;
        if self.stats.events >= self.limits.max_events {
            return Step::EventLimit;
        }
        let Some((_, event)) = self.queue.pop_until(until) else {
            self.queue.advance_to(until.max(self.queue.now()));
            return Step::Reached;
        };
        self.stats.events += 1;
        self.stats.max_queue_len = self.stats.max_queue_len.max(self.queue.len() as u64 + 1);
        if matches!(event, Event::Timer { .. }) {
            self.stats.timers_queued -= 1;
        }
        self.dispatch(event);
        Step::Ran
    }

    fn dispatch(&mut self, event: Event<P::Msg, P::Timer>) {
        if let Event::Deliver { from, to, .. } = &event
            && self.network.is_held(from.0, to.0)
        {
            self.hold_message(event);
            return;
        }
        let (node, incarnation) = event.target();
        let slot = &mut self.slots[node.0 as usize];
        if slot.incarnation != incarnation || slot.status == NodeStatus::Down {
            if let Event::Deliver { from, to, msg, .. } = event {
                self.stats.messages_lost += 1;
                // A process that died reset its connections: a message meant for it is refused by its host,
                // whether the host now runs no process or a new incarnation (which knows no such connection).
                if slot.host_up {
                    self.refuse(from, to, msg);
                }
            }
            return;
        }
        if slot.status == NodeStatus::Paused {
            slot.held.push(event);
            return;
        }
        match event {
            Event::Deliver { from, to, msg, .. } => {
                // A link cut while the message was in flight loses it.
                if !self.network.connected(from.0, to.0) {
                    self.stats.messages_lost += 1;
                    return;
                }
                self.log_message(from, to, &msg, Passage::Delivered);
                self.handled = Some(Handled { node, what: P::message_kind(&msg).name });
                self.invoke(node, |p, ctx| p.on_message(from, msg, ctx));
            }
            Event::Timer { timer, .. } => {
                self.handled = Some(Handled { node, what: "timer" });
                self.invoke(node, |p, ctx| p.on_timer(timer, ctx));
            }
            Event::Refused { peer, msg, .. } => {
                self.handled = Some(Handled { node, what: "refused connection" });
                self.invoke(node, |p, ctx| p.on_refused(peer, msg, ctx));
            }
        }
    }

    fn hold_message(&mut self, event: Event<P::Msg, P::Timer>) {
        let Event::Deliver { from, to, .. } = &event else { unreachable!("only messages are held on links") };
        let queue = self.held_messages.entry((from.0, to.0)).or_default();
        if queue.len() >= MAX_HELD_PER_LINK {
            self.stats.messages_lost += 1;
            return;
        }
        queue.push(event);
    }

    /// Ends the hold on `from` → `to`: what it kept arrives now, in order, before anything sent later.
    pub fn release(&mut self, from: NodeId, to: NodeId) {
        self.network.release(from.0, to.0);
        let now = self.queue.now();
        for event in self.held_messages.remove(&(from.0, to.0)).unwrap_or_default() {
            self.queue.push(now, event);
        }
    }

    /// Restores every link (cuts, degradations, holds) and delivers what held links kept, link by link.
    pub fn heal_network(&mut self) {
        let held: Vec<(u32, u32)> = self.network.held_links().collect();
        self.network.heal();
        for (from, to) in held {
            self.release(NodeId(from), NodeId(to));
        }
    }

    /// Messages held on links now (for tests and summaries).
    pub fn held_message_count(&self) -> usize {
        self.held_messages.values().map(Vec::len).sum()
    }

    /// Sends the refusal of `msg` by `to`'s host back to `from`, over the network like any reply.
    fn refuse(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        let now = self.queue.now();
        if let Some(at) = self.network.arrival(to.0, from.0, now) {
            let incarnation = self.slots[from.0 as usize].incarnation;
            self.queue.push(at, Event::Refused { node: from, incarnation, peer: to, msg });
        }
    }

    fn apply_commands(&mut self, node: NodeId) {
        let now = self.queue.now();
        let incarnation = self.slots[node.0 as usize].incarnation;
        let mut commands = std::mem::take(&mut self.commands);
        for command in commands.drain(..) {
            match command {
                Command::Send { to, msg } => {
                    self.stats.messages_sent += 1;
                    self.slots[node.0 as usize].messages_sent += 1;
                    match self.network.arrival(node.0, to.0, now) {
                        Some(at) => {
                            self.log_message(node, to, &msg, Passage::Sent);
                            let incarnation = self.slots[to.0 as usize].incarnation;
                            self.queue.push(at, Event::Deliver { from: node, to, incarnation, msg });
                        }
                        None => {
                            self.log_message(node, to, &msg, Passage::LostAtSend);
                            self.stats.messages_lost += 1
                        }
                    }
                }
                Command::Timer { after_us, timer } => {
                    self.stats.timers_queued += 1;
                    self.stats.max_timers_queued = self.stats.max_timers_queued.max(self.stats.timers_queued);
                    self.queue.push(now.plus_us(after_us), Event::Timer { node, incarnation, timer })
                }
                Command::Emit(out) => self.outputs.push((now, node, out)),
                Command::Exit => {
                    let slot = &mut self.slots[node.0 as usize];
                    slot.status = NodeStatus::Down;
                    slot.held.clear();
                }
            }
        }
        self.commands = commands;
    }

    /// Takes what processes emitted since the last call, in the order it happened.
    pub fn drain_outputs(&mut self) -> std::vec::Drain<'_, (SimTime, NodeId, P::Out)> {
        self.outputs.drain(..)
    }

    /// Hands over what processes emitted since the last call, in the order it happened, by swapping buffers
    /// with `into` (which must be empty), so that draining after every event allocates nothing.
    pub fn take_outputs(&mut self, into: &mut Vec<(SimTime, NodeId, P::Out)>) {
        assert!(into.is_empty(), "the caller's buffer still holds outputs");
        std::mem::swap(&mut self.outputs, into);
    }

    /// Sends `msg` as if `from` had sent it now, even if `from` is down: how the kernel of a crashed process
    /// still resets its connections (the peers see them close).
    pub fn send_as(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        self.commands.push(Command::Send { to, msg });
        self.apply_commands(from);
    }

    /// Stops `node`'s process now (a clean exit, or the second half of `crash`); its host stays up and refuses
    /// connections. Pending events for it are dropped; `restart` calls its `on_restart`.
    pub fn stop(&mut self, node: NodeId) {
        let slot = &mut self.slots[node.0 as usize];
        slot.status = NodeStatus::Down;
        slot.host_up = true;
        slot.held.clear();
    }

    /// Powers `node`'s host off: like `stop`, but nothing answers at all until it restarts.
    pub fn power_off(&mut self, node: NodeId) {
        self.stop(node);
        self.slots[node.0 as usize].host_up = false;
    }

    /// Crashes `node`'s process (its `on_crash`), then stops it, or powers its host off when the loss reaches
    /// the page cache. Says what the crash lost, if anything.
    pub fn crash(&mut self, node: NodeId, loss: StorageLoss) -> Option<String> {
        if self.slots[node.0 as usize].status == NodeStatus::Down {
            return None; // Nothing is running to crash.
        }
        let now = self.queue.now();
        let slot = &mut self.slots[node.0 as usize];
        let mut ctx = Ctx { now, me: node, rng: &mut slot.rng, commands: &mut self.commands };
        let lost = slot.process.on_crash(loss, &mut ctx);
        assert!(
            self.commands.iter().all(|c| matches!(c, Command::Emit(_))),
            "a crashing process only reports what it had done; it sends nothing and sets no timer"
        );
        self.apply_commands(node);
        match loss {
            StorageLoss::Nothing => self.stop(node),
            StorageLoss::PageCache | StorageLoss::Disk => self.power_off(node),
        }
        lost
    }

    /// Starts a stopped node again as a new incarnation: its `on_restart`, then its `on_start`.
    pub fn restart(&mut self, node: NodeId) {
        let slot = &mut self.slots[node.0 as usize];
        if slot.status != NodeStatus::Down {
            return;
        }
        slot.status = NodeStatus::Up;
        slot.host_up = true;
        slot.incarnation += 1;
        slot.process.on_restart();
        self.invoke(node, |p, ctx| p.on_start(ctx));
    }

    pub fn pause(&mut self, node: NodeId) {
        let slot = &mut self.slots[node.0 as usize];
        if slot.status == NodeStatus::Up {
            slot.status = NodeStatus::Paused;
        }
    }

    /// Resumes a paused node: everything that arrived or fell due while it was stopped runs now, in order.
    pub fn resume(&mut self, node: NodeId) {
        let now = self.queue.now();
        let slot = &mut self.slots[node.0 as usize];
        if slot.status != NodeStatus::Paused {
            return;
        }
        slot.status = NodeStatus::Up;
        for event in std::mem::take(&mut slot.held) {
            // A held timer was counted out when it popped; it is queued again.
            self.stats.timers_queued += u64::from(matches!(event, Event::Timer { .. }));
            self.queue.push(now, event);
        }
    }

    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::network::LatencyModel;
    use crate::engine::rng::stream;

    /// A toy process: node 0 pings node 1 on every timer; node 1 echoes; everyone reports what it saw.
    struct Toy;

    #[derive(Debug, PartialEq)]
    enum Seen {
        Ping(u32),
        Pong(u32),
        Refused(u32),
        Tick,
        Crashed,
    }

    type ToyCtx<'a> = Ctx<'a, (bool, u32), (), Seen>;

    impl Process for Toy {
        type Msg = (bool, u32);
        type Timer = ();
        type Out = Seen;
        fn on_start(&mut self, ctx: &mut ToyCtx<'_>) {
            if ctx.me == NodeId(0) {
                ctx.set_timer(1_000, ());
            }
        }
        fn on_message(&mut self, from: NodeId, (is_ping, n): (bool, u32), ctx: &mut ToyCtx<'_>) {
            if is_ping {
                ctx.emit(Seen::Ping(n));
                ctx.send(from, (false, n));
            } else {
                ctx.emit(Seen::Pong(n));
            }
        }
        fn on_timer(&mut self, _: (), ctx: &mut ToyCtx<'_>) {
            ctx.emit(Seen::Tick);
            ctx.send(NodeId(1), (true, ctx.now.as_us() as u32));
            ctx.set_timer(1_000, ());
        }
        fn on_refused(&mut self, _: NodeId, (_, n): (bool, u32), ctx: &mut ToyCtx<'_>) {
            ctx.emit(Seen::Refused(n));
        }
        /// Reports its crash; with a lost disk it misbehaves and tries to send, which the engine forbids.
        fn on_crash(&mut self, loss: StorageLoss, ctx: &mut ToyCtx<'_>) -> Option<String> {
            ctx.emit(Seen::Crashed);
            if loss == StorageLoss::Disk {
                ctx.send(NodeId(0), (true, 0));
            }
            Some(format!("{loss:?}"))
        }
    }

    fn engine() -> Engine<Toy> {
        let procs = vec![(Toy, stream(1, "node", 0)), (Toy, stream(1, "node", 1))];
        let net = Network::new(2, LatencyModel::fixed(100), stream(1, "network", 0));
        let mut e = Engine::new(procs, net, Limits { end: SimTime(1_000_000), max_events: 1_000_000 });
        e.start();
        e
    }

    fn seen(e: &mut Engine<Toy>, node: u32) -> Vec<Seen> {
        e.drain_outputs().filter(|(_, n, _)| n.0 == node).map(|(_, _, s)| s).collect()
    }

    // Engine::crash: the process reports, then stops; a process crash leaves its host refusing connections, a
    // power loss leaves nothing answering.
    #[test]
    fn a_crash_reports_then_stops_the_process() {
        for (loss, refused) in [(StorageLoss::Nothing, true), (StorageLoss::PageCache, false)] {
            let mut e = engine();
            assert_eq!(e.crash(NodeId(1), loss), Some(format!("{loss:?}")));
            assert_eq!(seen(&mut e, 1), vec![Seen::Crashed]);
            assert_eq!(e.status(NodeId(1)), NodeStatus::Down);
            e.run_until(SimTime(2_500));
            assert_eq!(seen(&mut e, 0).iter().any(|s| matches!(s, Seen::Refused(_))), refused, "{loss:?}");
        }
    }

    // The message log: each message sent, lost at its sending (a cut link) or delivered, at its time. The toy's
    // pings are one-way by default (`Process::message_kind`).
    #[test]
    fn the_message_log_has_each_sending_loss_and_delivery() {
        let mut e = engine();
        e.log_messages();
        e.run_until(SimTime(1_500));
        e.network.cut_one_way(0, 1);
        e.run_until(SimTime(2_500));
        let log: Vec<(u64, u32, u32, Passage)> = e
            .take_message_log()
            .expect("asked for")
            .iter()
            .map(|m| (m.time.as_us(), m.from.0, m.to.0, m.passage))
            .collect();
        let want = vec![
            (1_000, 0, 1, Passage::Sent),
            (1_100, 0, 1, Passage::Delivered),
            (1_100, 1, 0, Passage::Sent),
            (1_200, 1, 0, Passage::Delivered),
            (2_000, 0, 1, Passage::LostAtSend),
        ];
        assert_eq!(log, want);
        assert!(e.take_message_log().is_none(), "handed over once; logging stopped");
    }

    #[test]
    #[should_panic(expected = "sends nothing")]
    fn a_crashing_process_that_sends_trips() {
        engine().crash(NodeId(1), StorageLoss::Disk);
    }

    #[test]
    fn a_paused_process_handles_held_messages_in_order_on_resume() {
        let mut e = engine();
        e.pause(NodeId(1));
        e.run_until(SimTime(3_500));
        assert!(seen(&mut e, 1).is_empty(), "a paused process does nothing");
        e.resume(NodeId(1));
        e.run_until(SimTime(3_600));
        assert_eq!(seen(&mut e, 1), vec![Seen::Ping(1_000), Seen::Ping(2_000), Seen::Ping(3_000)]);
    }

    /// What each of the two toy nodes reported since the last call.
    fn seen_by_both(e: &mut Engine<Toy>) -> (Vec<Seen>, Vec<Seen>) {
        let (zero, one): (Vec<_>, Vec<_>) = e.drain_outputs().partition(|(_, n, _)| n.0 == 0);
        let strip = |v: Vec<(SimTime, NodeId, Seen)>| v.into_iter().map(|(_, _, s)| s).collect();
        (strip(zero), strip(one))
    }

    fn pongs(seen: &[Seen]) -> usize {
        seen.iter().filter(|s| matches!(s, Seen::Pong(_))).count()
    }

    // turmoil's hold / release: what reaches the far end of a held link waits there, in order, and arrives at
    // the release, before anything sent afterwards; the other direction is not held.
    #[test]
    fn a_held_link_delivers_everything_in_order_on_release() {
        let mut e = engine();
        e.network.hold(0, 1);
        e.run_until(SimTime(4_500));
        assert!(seen_by_both(&mut e).1.is_empty(), "nothing crosses a held link");
        assert_eq!(e.held_message_count(), 4);
        e.release(NodeId(0), NodeId(1));
        assert_eq!(e.held_message_count(), 0);
        e.run_until(SimTime(4_500));
        let (zero, one) = seen_by_both(&mut e);
        assert_eq!(one, vec![Seen::Ping(1_000), Seen::Ping(2_000), Seen::Ping(3_000), Seen::Ping(4_000)]);
        assert_eq!(pongs(&zero), 0, "the pongs are on their way");
        e.run_until(SimTime(5_200));
        let (zero, one) = seen_by_both(&mut e);
        assert_eq!(one, vec![Seen::Ping(5_000)], "later pings follow");
        assert_eq!(pongs(&zero), 5, "the unheld direction carries every pong");
        assert_eq!(e.stats.messages_lost, 0);
    }

    #[test]
    fn healing_the_network_releases_held_links() {
        let mut e = engine();
        e.network.hold(0, 1);
        e.network.cut_one_way(1, 0);
        e.run_until(SimTime(2_500));
        e.heal_network();
        e.run_until(SimTime(2_700));
        let (zero, one) = seen_by_both(&mut e);
        assert_eq!(one, vec![Seen::Ping(1_000), Seen::Ping(2_000)]);
        assert_eq!(pongs(&zero), 2, "the cut back is healed too");
    }

    #[test]
    fn a_stopped_process_refuses_and_a_powered_off_one_is_silent() {
        let mut e = engine();
        e.stop(NodeId(1));
        e.run_until(SimTime(1_500));
        assert_eq!(seen(&mut e, 0), vec![Seen::Tick, Seen::Refused(1_000)]);
        e.power_off(NodeId(1));
        e.run_until(SimTime(2_500));
        assert_eq!(seen(&mut e, 0), vec![Seen::Tick]);
    }

    #[test]
    fn a_cut_link_loses_messages_and_a_restart_starts_a_new_life() {
        let mut e = engine();
        e.network.cut_one_way(0, 1);
        e.run_until(SimTime(1_500));
        assert_eq!(seen(&mut e, 1), vec![]);
        e.network.heal();
        e.stop(NodeId(0));
        e.restart(NodeId(0));
        e.run_until(SimTime(3_000));
        // The restarted node's old timer (due at 2 000) belonged to its previous life: only the new one fires.
        assert_eq!(seen(&mut e, 0), vec![Seen::Tick, Seen::Pong(2_500)]);
    }

    // A request in flight to a process that restarts before it arrives is not lost silently: the old connection
    // was reset, so the sender learns of it (refused) instead of waiting out its request timeout.
    #[test]
    fn a_message_to_an_earlier_incarnation_comes_back_refused() {
        let mut e = engine();
        e.run_until(SimTime(1_000));
        e.drain_outputs().for_each(drop);
        // The ping sent at 1 000 arrives at 1 100; node 1 restarts in between.
        e.stop(NodeId(1));
        e.restart(NodeId(1));
        e.run_until(SimTime(1_250));
        assert_eq!(seen(&mut e, 0), vec![Seen::Refused(1_000)]);
        assert_eq!(seen(&mut e, 1), vec![], "the new incarnation never sees the old connection's message");
    }
}
