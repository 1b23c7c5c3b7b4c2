//! One simulation run: a cluster, a fault schedule and a seed in; the clients' history, the final state of
//! every partition, counters and the trace (or its digest) out.

use crate::check::expect::{LivenessCheck, PartitionCounts, RunCounts, WithinOutcome};
use crate::check::verdict::{ClusterEvent, Evidence, StateBreach, WITNESSES_SHOWN};
use crate::engine::{LatencyModel, Limits, MessageEntry, NodeId, RunEnd, SimTime, Step, stream};
use crate::faults::nemesis::NemesisSpec;
use crate::faults::plan::{DeadlineWatch, Due, FaultPlan, TriggerReport};
use crate::faults::trigger::{Observed, Seen, Watched};
use crate::faults::view::ClusterView;
use crate::faults::{FaultInjector, ScheduledFault};
use crate::history::{ClientEvent, Entry, FinalLog, History, ReplicaLog};
use crate::kafka::cluster::{Cluster, PartitionSummary};
use crate::kafka::ids::{ClientId, GroupId, PartitionId};
use crate::kafka::messages::ChangeReason;
use crate::kafka::obs::Obs;
use crate::kafka::spec::{ClusterSpec, NodeRole};
use crate::kafka::state_check::StateChecker;
use crate::progress;
use crate::samples::Sampler;
use serde::Serialize;
use std::collections::BTreeMap;

/// Everything a run needs besides the seed.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub cluster: ClusterSpec,
    pub latency: LatencyModel,
    /// The scenario's own time (`duration`) and event bound.
    pub limits: Limits,
    pub faults: Vec<ScheduledFault>,
    /// The seeded nemesis (`[nemesis]`): more faults, drawn per seed and run after `faults`.
    pub nemesis: Option<NemesisSpec>,
    /// The liveness phase: after `limits.end`, every fault is healed and the cluster gets this long to converge.
    pub liveness_us: Option<u64>,
    /// Keep every replica's log for `divergence` (a copy of every record per replica, so only when asked).
    pub keep_replica_logs: bool,
    /// Timing expectations the run watches (`[[expect.within]]`).
    pub watches: Vec<DeadlineWatch>,
    /// Run the per-event state checker (`kafka::state_check`), which stops the run at a breach. On unless a
    /// benchmark measures the model alone.
    pub state_check: bool,
    /// `max_memory`: the run stops early, saying so, once what it retains (history, logs, trace) is estimated
    /// to exceed this many bytes, rather than die when an allocation fails.
    pub max_memory_bytes: u64,
}

impl SimConfig {
    /// Every fault the run at `seed` fires: the scenario's own, then what its nemesis drew for the seed.
    pub fn faults_at(&self, seed: u64) -> Vec<ScheduledFault> {
        let mut faults = self.faults.clone();
        if let Some(nemesis) = &self.nemesis {
            faults.extend(nemesis.schedule(&self.cluster, seed, self.faults.len()).1);
        }
        faults
    }
}

/// One line of the trace: what happened, where, when.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct TraceLine {
    pub time_us: u64,
    pub node: String,
    #[serde(flatten)]
    pub event: TraceEvent,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum TraceEvent {
    Fault { fault: String },
    Node(Obs),
}

/// Counters over a run, for summaries and vacuity checks.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct Stats {
    pub events: u64,
    pub messages_sent: u64,
    pub messages_lost: u64,
    /// Messages sent by each node, indexed by node number (brokers, controllers, producers, consumers).
    pub messages_sent_by_node: Vec<u64>,
    /// The most events ever waiting in the engine's queue.
    pub max_queue_len: u64,
    /// The most timers ever waiting in the queue (dead timeouts would pile up here).
    pub max_timers_queued: u64,
    pub simulated_time_us: u64,
    pub sends_invoked: u64,
    pub sends_acked: u64,
    pub sends_failed: BTreeMap<String, u64>,
    pub produce_errors: BTreeMap<String, u64>,
    pub faults_fired: u64,
    /// Partitions given a leader by the controller (a partition going leaderless is counted in `partitions_offline`).
    pub leader_elections: u64,
    pub unclean_leader_elections: u64,
    pub partitions_offline: u64,
    /// ISR shrinks and expands requested by leaders (AlterPartition), as Kafka's IsrShrinksPerSec counts them.
    pub isr_shrinks: u64,
    pub isr_expands: u64,
    /// Replicas the controller removed from ISRs (fenced or shutting-down brokers).
    pub isr_removals_by_controller: u64,
    pub truncations: u64,
    /// Records processed by consumers, and offset commits that failed.
    pub records_processed: u64,
    pub commits_failed: u64,
    /// Group state changes at coordinators (a rebalance is several).
    pub group_rebalance_steps: u64,
    /// Committed offsets removed by the coordinators' retention checks.
    pub offsets_expired: u64,
    pub offsets_truncated: u64,
    /// True when the run stopped at its event limit before its end time.
    pub hit_event_limit: bool,
    /// True when the run stopped before its end time because what it retains reached `max_memory`.
    #[serde(default)]
    pub hit_memory_limit: bool,
    /// Faults fired by state triggers, and triggered faults whose condition never held.
    pub triggers_fired: u64,
    pub triggers_unfired: u64,
    /// Responses dropped because their node had stopped waiting for them (`stale_delivery` in the trace).
    pub stale_deliveries: u64,
    /// The cluster events above, per partition (by cluster-wide index), for scoped `happened` checks.
    #[serde(skip)]
    pub per_partition: Vec<PartitionCounts>,
}

/// A group state change at its coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupChange {
    pub time_us: u64,
    pub group: String,
    pub generation: i32,
    pub state: &'static str,
    pub members: usize,
}

/// A partition's leadership or ISR as the controller committed it: what recovery times are measured from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadershipChange {
    pub time_us: u64,
    pub partition: u32,
    pub leader: Option<u32>,
    pub isr_len: u32,
}

pub struct Outcome {
    pub seed: u64,
    pub history: History,
    pub partitions: Vec<PartitionSummary>,
    pub final_logs: Vec<FinalLog>,
    /// Every replica on a running broker at the end, for `divergence`, when the config asked for them.
    pub replica_logs: Option<Vec<ReplicaLog>>,
    pub stats: Stats,
    pub trace_digest: u64,
    /// Each fault fired: when, and what it did.
    pub faults: Vec<(u64, String)>,
    /// After the liveness phase, what did not converge: (check name, what was found).
    pub unconverged: Vec<(LivenessCheck, String)>,
    /// Faults and cluster events (elections, ISR changes, truncations, fencing), described, for explaining
    /// violations: (time, partition if it is about one, what happened).
    pub cluster_events: Vec<ClusterEvent>,
    /// Each group state change at a coordinator: (time, group, generation, state, members).
    pub group_changes: Vec<GroupChange>,
    /// Each leader election and ISR change the controller committed, in time order.
    pub leadership: Vec<LeadershipChange>,
    /// The trace, when it was asked for.
    pub trace: Option<Vec<TraceLine>>,
    /// Each triggered fault: its condition and how often it fired.
    pub triggers: Vec<TriggerReport>,
    /// Each `[[expect.within]]` watch: when its clock started and when its condition held.
    pub within: Vec<WithinOutcome>,
    /// Snapshots of the state over the run, when `Observe::samples` asked for them.
    pub samples: Option<Sampler>,
    /// Every message sent and delivered, when `Observe::messages` asked for them.
    pub messages: Option<Vec<MessageEntry>>,
    /// Why writing the trace to `Observe::trace_to` stopped, if it did (the run went on).
    pub trace_error: Option<std::io::Error>,
    /// The relation the per-event state checker found broken, which stopped the run.
    pub state_breach: Option<StateBreach>,
}

use crate::digest::Fnv64;
pub use crate::digest::fnv64;

impl Outcome {
    /// Everything a run knows, for the verdict.
    pub fn evidence(&self) -> Evidence<'_> {
        let s = &self.stats;
        let counts = RunCounts {
            faults_fired: s.faults_fired,
            group_rebalance_steps: s.group_rebalance_steps,
            offsets_expired: s.offsets_expired,
            triggers_fired: s.triggers_fired,
            triggers_unfired: s.triggers_unfired,
            per_partition: s.per_partition.clone(),
        };
        Evidence {
            history: &self.history,
            logs: Some(&self.final_logs),
            replicas: self.replica_logs.as_deref(),
            counts: Some(counts),
            unconverged: &self.unconverged,
            events: &self.cluster_events,
            within: &self.within,
            witness_limit: Some(WITNESSES_SHOWN),
            empty_fails: false,
            state_breach: self.state_breach.as_ref(),
        }
    }
}

pub fn run(config: &SimConfig, seed: u64, keep_trace: bool) -> Outcome {
    run_observed(config, seed, Observe { trace: keep_trace, ..Observe::default() })
}

/// A run with its trace and snapshots of its state (`Outcome::samples`) at a round interval and after each fault,
/// for the timeline. The same run as `run`: sampling only reads the state.
pub fn run_sampled(config: &SimConfig, seed: u64) -> Outcome {
    run_observed(config, seed, Observe { trace: true, samples: true, ..Observe::default() })
}

/// What a run keeps besides its history and counters. Observing changes nothing in the run.
#[derive(Default)]
pub struct Observe<'w> {
    /// The trace lines (`Outcome::trace`).
    pub trace: bool,
    /// Where to write each trace line (JSON Lines) as it happens, so that a long run's trace is never held in
    /// memory (unless `trace` asks for that too).
    pub trace_to: Option<&'w mut dyn std::io::Write>,
    /// Snapshots of the state (`Outcome::samples`).
    pub samples: bool,
    /// The message log (`Outcome::messages`).
    pub messages: bool,
}

pub fn run_observed(config: &SimConfig, seed: u64, observe: Observe<'_>) -> Outcome {
    let (keep_trace, sample) = (observe.trace, observe.samples);
    let total_end = config.limits.end.plus_us(config.liveness_us.unwrap_or(0));
    let engine_limits = Limits { end: total_end, max_events: config.limits.max_events };
    let mut cluster = Cluster::new(config.cluster.clone(), seed, config.latency.clone(), engine_limits);
    let mut injector = FaultInjector::new(stream(seed, "faults", 0));
    let faults = config.faults_at(seed);
    let mut plan = FaultPlan::new(&faults, &config.watches);
    let mut recorder = Recorder::new(&cluster, seed, keep_trace, plan.watched());
    recorder.budget.max_bytes = config.max_memory_bytes;
    recorder.trace_to = observe.trace_to;
    recorder.sampler = sample.then(|| Sampler::for_run(&cluster.spec, total_end.as_us()));
    if observe.messages {
        cluster.engine.log_messages();
    }
    let mut watch =
        StateWatch { checker: config.state_check.then(|| StateChecker::for_cluster(&cluster.spec)), breach: None };
    cluster.engine.start();
    recorder.drain(&mut cluster);
    plan.start_watches(None, &ClusterView { cluster: &cluster, observed: &recorder.observed }, 0);
    let mut run = Run { cluster: &mut cluster, recorder: &mut recorder, watch: &mut watch };
    let mut stopped = run_faults(&mut run, &mut plan, &mut injector, config.limits.end);
    let mut unconverged = Vec::new();
    let mut healed_at = None;
    if let (false, Some(_)) = (stopped, config.liveness_us) {
        let healed = run.cluster.heal_everything();
        healed_at = Some(run.cluster.engine.now().as_us());
        run.recorder.phase(run.cluster.engine.now(), format!("liveness phase: {healed}"));
        run.recorder.sample_now(run.cluster);
        stopped = run.after_fault() || run_sampling(&mut run, total_end) == RunEnd::EventLimit;
        run.recorder.drain(run.cluster);
        unconverged = run.cluster.unconverged();
    }
    let hit_limit = stopped && watch.breach.is_none() && !recorder.budget.exceeded;
    if (hit_limit || recorder.budget.exceeded) && config.liveness_us.is_some() {
        // The run never reached its liveness phase: nothing can be said to have converged.
        let limit = if hit_limit { "its event limit" } else { "its memory budget" };
        let why = format!("the run stopped at {limit} before the liveness phase ended");
        unconverged = LivenessCheck::ALL.into_iter().map(|c| (c, why.clone())).collect();
    }
    recorder.sample_now(&cluster);
    recorder.triggers(plan.reports());
    recorder.within = plan.within_reports();
    let over_budget = recorder.budget.exceeded;
    let mut outcome = recorder.finish(&cluster, hit_limit);
    outcome.stats.hit_memory_limit = over_budget;
    outcome.state_breach = watch.breach;
    if let (false, false, Some(healed_us)) = (hit_limit, over_budget, healed_at) {
        let holds_sends = |p: u32| !cluster.producer_idle(ClientId(p));
        unconverged.extend(progress::producer_findings(&outcome.history, healed_us, &holds_sends));
        unconverged.extend(progress::consumer_findings(
            &outcome.history,
            &outcome.final_logs,
            &cluster.spec,
            healed_us,
        ));
        let end_us = outcome.stats.simulated_time_us;
        unconverged.extend(progress::group_settle_findings(&outcome.group_changes, end_us));
    }
    outcome.replica_logs = config.keep_replica_logs.then(|| replica_logs(&cluster));
    outcome.messages = cluster.engine.take_message_log();
    outcome.unconverged = unconverged;
    outcome
}

/// A run in progress: the cluster, what records it, and the per-event state checker.
struct Run<'r, 'w> {
    cluster: &'r mut Cluster,
    recorder: &'r mut Recorder<'w>,
    watch: &'r mut StateWatch,
}

impl Run<'_, '_> {
    /// Runs events up to `until`; with the state checker on, one at a time, each broker looked at after it
    /// handled one. Outputs are drained into the history every `DRAIN_OUTPUTS`, so that the buffer stays small.
    /// Stops early at the event limit, the memory budget or a breach (`RunEnd::EventLimit`, the reason kept).
    fn advance(&mut self, until: SimTime) -> RunEnd {
        if self.watch.checker.is_none() {
            loop {
                if let Some(end) = self.cluster.engine.run_until_outputs(until, DRAIN_OUTPUTS) {
                    return end;
                }
                if self.drain_within_budget() {
                    return RunEnd::EventLimit;
                }
            }
        }
        loop {
            match self.step(until) {
                Step::Ran => {}
                Step::Reached => return RunEnd::Reached,
                Step::EventLimit => return RunEnd::EventLimit,
            }
        }
    }

    /// One event, then the state checker on the broker that handled it; a breach, or the memory budget
    /// reached, ends the run as the event limit does.
    fn step(&mut self, until: SimTime) -> Step {
        let step = self.cluster.engine.step(until);
        if step == Step::Ran && self.watch.after_event(self.cluster) {
            return Step::EventLimit;
        }
        if self.cluster.engine.outputs_waiting() >= DRAIN_OUTPUTS {
            self.recorder.drain(self.cluster);
        }
        if self.recorder.over_budget(self.cluster) {
            return Step::EventLimit;
        }
        step
    }

    /// Drains the outputs into the history and checks the memory budget. Returns whether the run must stop.
    fn drain_within_budget(&mut self) -> bool {
        self.recorder.drain(self.cluster);
        self.recorder.over_budget(self.cluster)
    }

    /// The state checker on every broker after a fault acted outside any event. Returns whether it found a breach.
    fn after_fault(&mut self) -> bool {
        self.watch.after_fault(self.cluster)
    }
}

/// Runs the scenario's own time: faults at their times in file order, and, while any trigger is watched, one
/// event at a time with the triggers checked after each. Returns whether the run stopped early (at its event
/// limit, or at a breach of the state checker).
fn run_faults(run: &mut Run<'_, '_>, plan: &mut FaultPlan<'_>, injector: &mut FaultInjector, end: SimTime) -> bool {
    let mut fire_now = Vec::new();
    loop {
        let next_fault = plan.next_due().filter(|&at| at <= end.as_us());
        let next_launch = run.cluster.next_launch_us().filter(|&at| at <= end.as_us());
        let next_sample = run.recorder.next_sample_us().filter(|&at| at <= end.as_us());
        let next = next_fault.into_iter().chain(next_launch).chain(next_sample).min();
        let until = next.map_or(end, SimTime);
        if plan.watching() {
            match run.step(until) {
                Step::Ran => {
                    run.recorder.drain(run.cluster);
                    let view = ClusterView { cluster: run.cluster, observed: &run.recorder.observed };
                    plan.check(&view, run.cluster.engine.now().as_us(), &mut fire_now);
                    for (i, seen) in fire_now.drain(..) {
                        if fire(run, plan, injector, i, seen) {
                            return true;
                        }
                    }
                    continue;
                }
                Step::EventLimit => return true,
                Step::Reached => {}
            }
        } else if run.advance(until) == RunEnd::EventLimit {
            run.recorder.drain(run.cluster);
            return true;
        }
        run.recorder.drain(run.cluster);
        if next.is_none() {
            return false;
        }
        // A sample sees the state before any fault or launch due at the same instant.
        if next_sample == next {
            run.recorder.sample_due(run.cluster);
            continue;
        }
        // Clients are created before a fault at the same instant.
        if next_launch == next {
            run.cluster.launch_due(until.as_us());
            continue;
        }
        // One entry at a time: events a fault causes at the same instant run before the next fault.
        let stopped = match plan.pop_due(until.as_us()) {
            Some((i, Due::Arm)) => {
                plan.arm(i, &ClusterView { cluster: run.cluster, observed: &run.recorder.observed });
                false
            }
            Some((i, Due::Apply(seen))) => fire(run, plan, injector, i, seen),
            None => unreachable!("an entry was due at {until:?}"),
        };
        if stopped {
            return true;
        }
    }
}

/// Applies fault `i`; returns whether the state checker then found a breach.
fn fire(run: &mut Run<'_, '_>, plan: &mut FaultPlan<'_>, injector: &mut FaultInjector, i: usize, seen: Seen) -> bool {
    let fault = plan.fault(i);
    let mut description = injector.apply(run.cluster, i, &fault.action, seen);
    if let Some(when) = &fault.when {
        description = format!("when {}: {description}", when.condition.text);
    }
    run.recorder.fault(run.cluster.engine.now(), description);
    run.recorder.drain(run.cluster);
    run.recorder.sample_now(run.cluster);
    let now_us = run.cluster.engine.now().as_us();
    plan.start_watches(Some(i), &ClusterView { cluster: run.cluster, observed: &run.recorder.observed }, now_us);
    run.after_fault()
}

/// Runs to `until`, stopping for each sample due on the way.
fn run_sampling(run: &mut Run<'_, '_>, until: SimTime) -> RunEnd {
    while let Some(at) = run.recorder.next_sample_us().filter(|&at| at <= until.as_us()) {
        if run.advance(SimTime(at)) == RunEnd::EventLimit {
            return RunEnd::EventLimit;
        }
        run.recorder.drain(run.cluster);
        run.recorder.sample_due(run.cluster);
    }
    run.advance(until)
}

/// The per-event state checker, when on, and the breach that stopped the run.
struct StateWatch {
    checker: Option<StateChecker>,
    breach: Option<StateBreach>,
}

impl StateWatch {
    /// Looks at the broker the last event ran on, if any. Returns whether it found a breach.
    fn after_event(&mut self, cluster: &mut Cluster) -> bool {
        let (Some(checker), Some(handled)) = (&mut self.checker, cluster.engine.handled()) else { return false };
        let NodeRole::Broker(b) = cluster.spec.role_of(handled.node) else { return false };
        let touched = cluster.take_touched_replicas(b);
        let Err(breach) = checker.broker(cluster, b, touched) else { return false };
        let event = format!(
            "event {} at {} ({} on {})",
            cluster.engine.stats.events,
            crate::units::Seconds(cluster.engine.now().as_us()),
            handled.what,
            cluster.spec.node_name(handled.node)
        );
        self.stop(breach, event)
    }

    /// Looks at every broker after a fault. Returns whether it found a breach.
    fn after_fault(&mut self, cluster: &mut Cluster) -> bool {
        let Some(checker) = &mut self.checker else { return false };
        for b in cluster.spec.brokers() {
            let touched = cluster.take_touched_replicas(b);
            if let Err(breach) = checker.broker(cluster, b, touched) {
                let at = format!("the fault at {}", crate::units::Seconds(cluster.engine.now().as_us()));
                return self.stop(breach, at);
            }
        }
        false
    }

    fn stop(&mut self, breach: crate::kafka::state_check::Breach, after: String) -> bool {
        let detail = format!("after {after}: {}", breach.detail);
        self.breach = Some(StateBreach { invariant: breach.invariant.name(), detail });
        true
    }
}

/// How many outputs wait before a run drains them into the history and looks at its memory budget.
const DRAIN_OUTPUTS: usize = 4_096;

/// The run's memory budget (`max_memory`) and whether the run reached it.
#[derive(Default)]
struct MemoryBudget {
    max_bytes: u64,
    /// Outputs drained since the estimate was last made: it is made once per `DRAIN_OUTPUTS`.
    drained: usize,
    exceeded: bool,
}

/// Collects what nodes emit into the history, the counters and the trace digest.
struct Recorder<'w> {
    seed: u64,
    history: History,
    stats: Stats,
    digest: Fnv64,
    faults: Vec<(u64, String)>,
    group_changes: Vec<GroupChange>,
    leadership: Vec<LeadershipChange>,
    /// Each partition's leader as the controller last elected it; at first its first replica, which the
    /// controller makes the leader when it creates the partition.
    leaders: Vec<Option<u32>>,
    cluster_events: Vec<ClusterEvent>,
    trace: Option<Vec<TraceLine>>,
    /// What state triggers read of clients and coordinators.
    observed: Observed,
    triggers: Vec<TriggerReport>,
    within: Vec<WithinOutcome>,
    /// The buffer outputs are swapped into, so that draining allocates nothing.
    outputs: Vec<(SimTime, NodeId, Obs)>,
    /// Snapshots of the state, when asked for.
    sampler: Option<Sampler>,
    budget: MemoryBudget,
    /// Where trace lines are written as they happen, and why that stopped.
    trace_to: Option<&'w mut dyn std::io::Write>,
    trace_error: Option<std::io::Error>,
}

impl<'w> Recorder<'w> {
    fn new(cluster: &Cluster, seed: u64, keep_trace: bool, watched: Watched) -> Self {
        let spec = &cluster.spec;
        let partitions = (0..spec.partitions.len() as u32).map(|p| spec.partition_name(PartitionId(p))).collect();
        let producers = spec.producers.iter().map(|p| p.name.clone()).collect();
        let mut history = History::new(partitions, producers);
        history.consumers = spec.consumers.iter().map(|c| c.name.clone()).collect();
        history.groups = spec.groups.clone();
        Recorder {
            seed,
            history,
            stats: Stats { per_partition: vec![PartitionCounts::default(); spec.partitions.len()], ..Stats::default() },
            digest: Fnv64::default(),
            faults: Vec::new(),
            group_changes: Vec::new(),
            leadership: Vec::new(),
            leaders: spec.partitions.iter().map(|p| p.replicas.first().map(|b| b.0)).collect(),
            cluster_events: Vec::new(),
            trace: keep_trace.then(Vec::new),
            observed: Observed::new(spec.producers.len(), spec.groups.len(), watched),
            triggers: Vec::new(),
            within: Vec::new(),
            outputs: Vec::new(),
            sampler: None,
            budget: MemoryBudget::default(),
            trace_to: None,
            trace_error: None,
        }
    }

    /// Whether what the run retains — history, trace, message log, the brokers' logs — is estimated beyond
    /// `max_memory`; once it is, the run stops (`Stats::hit_memory_limit`) with what it has.
    fn over_budget(&mut self, cluster: &Cluster) -> bool {
        if self.budget.drained < DRAIN_OUTPUTS || self.budget.exceeded {
            return self.budget.exceeded;
        }
        self.budget.drained = 0;
        // A trace line's node name and event fields live on the heap: about a line's size again.
        let trace = self.trace.as_ref().map_or(0, |t| t.capacity() * 2 * std::mem::size_of::<TraceLine>());
        let history = self.history.entries.capacity() * std::mem::size_of::<Entry>();
        let retained = (history + trace) as u64 + cluster.engine.message_log_bytes() + cluster.retained_log_bytes();
        self.budget.exceeded |= retained > self.budget.max_bytes;
        self.budget.exceeded
    }

    fn next_sample_us(&self) -> Option<u64> {
        self.sampler.as_ref().map(Sampler::next_due_us)
    }

    fn sample_due(&mut self, cluster: &Cluster) {
        if let Some(sampler) = &mut self.sampler {
            sampler.take_due(cluster);
        }
    }

    fn sample_now(&mut self, cluster: &Cluster) {
        if let Some(sampler) = &mut self.sampler {
            sampler.take(cluster);
        }
    }

    /// How the run's triggered faults fared: counted, and reported in the outcome.
    fn triggers(&mut self, reports: Vec<TriggerReport>) {
        self.stats.triggers_fired = reports.iter().map(|r| u64::from(r.fired)).sum();
        self.stats.triggers_unfired = reports.iter().filter(|r| r.fired == 0).count() as u64;
        self.triggers = reports;
    }

    /// The liveness phase's start: in the fault log and the trace, but not counted as a fault.
    fn phase(&mut self, at: SimTime, description: String) {
        self.fault(at, description);
        self.stats.faults_fired -= 1;
    }

    fn fault(&mut self, at: SimTime, description: String) {
        self.stats.faults_fired += 1;
        self.faults.push((at.as_us(), description.clone()));
        self.cluster_events.push(ClusterEvent { time_us: at.as_us(), partition: None, what: description.clone() });
        let line = TraceLine {
            time_us: at.as_us(),
            node: "nemesis".to_string(),
            event: TraceEvent::Fault { fault: description },
        };
        self.record(line);
    }

    fn drain(&mut self, cluster: &mut Cluster) {
        let spec = cluster.spec.clone();
        let mut outputs = std::mem::take(&mut self.outputs);
        cluster.engine.take_outputs(&mut outputs);
        self.budget.drained += outputs.len();
        for (time, node, obs) in outputs.drain(..) {
            self.count(&obs);
            self.observe(&obs, &spec);
            if let Obs::GroupRebalance { group, generation, state, members } = &obs {
                let (group, generation, state, members) = (group.clone(), *generation, *state, *members);
                self.group_changes.push(GroupChange { time_us: time.as_us(), group, generation, state, members });
            }
            self.leadership_changed(time, &obs);
            if let Some((partition, what)) = describe(&obs, &spec) {
                self.cluster_events.push(ClusterEvent { time_us: time.as_us(), partition, what });
            }
            if let Obs::Client(event) = &obs {
                self.history.push(time.as_us(), event.clone());
                // Client events go into the digest without the cost of a trace line each.
                self.digest.write_canonical(&(time.as_us(), node.0, event));
                if self.trace.is_none() && self.trace_to.is_none() {
                    continue;
                }
            }
            let line = TraceLine { time_us: time.as_us(), node: spec.node_name(node), event: TraceEvent::Node(obs) };
            self.record(line);
        }
        self.outputs = outputs;
    }

    fn leadership_changed(&mut self, time: SimTime, obs: &Obs) {
        let (partition, isr) = match obs {
            Obs::LeaderElected { partition, leader, isr, .. } => {
                self.leaders[partition.index()] = leader.map(|b| b.0);
                (partition, isr)
            }
            // An ISR change keeps the leader.
            Obs::IsrChanged { partition, isr, .. } => (partition, isr),
            _ => return,
        };
        let leader = self.leaders[partition.index()];
        let change =
            LeadershipChange { time_us: time.as_us(), partition: partition.0, leader, isr_len: isr.len() as u32 };
        self.leadership.push(change);
    }

    fn observe(&mut self, obs: &Obs, spec: &ClusterSpec) {
        match obs {
            Obs::Client(ClientEvent::SendAcked { producer, send_seq, offset, .. }) => {
                self.observed.send_acked(*producer, *send_seq, *offset)
            }
            Obs::Client(ClientEvent::Committed { consumer, partition, offset, error: None, .. }) => {
                self.observed.committed(*consumer, PartitionId(*partition), *offset)
            }
            Obs::Client(ClientEvent::Processed { group, partition, offset, .. }) => {
                self.observed.processed(GroupId(*group), PartitionId(*partition), *offset)
            }
            Obs::GroupRebalance { group, generation, state, .. } => {
                let rebalancing = matches!(*state, "PreparingRebalance" | "CompletingRebalance");
                if let Some(g) = spec.groups.iter().position(|name| name == group) {
                    self.observed.group_changed(GroupId(g as u32), *generation, rebalancing);
                }
            }
            _ => {}
        }
    }

    fn record(&mut self, line: TraceLine) {
        if !matches!(line.event, TraceEvent::Node(Obs::Client(_))) {
            self.digest.write_canonical(&line);
        }
        if let (Some(w), None) = (&mut self.trace_to, &self.trace_error) {
            let written = serde_json::to_writer(&mut **w, &line).map_err(std::io::Error::from);
            self.trace_error = written.and_then(|()| w.write_all(b"\n")).err();
        }
        if let Some(trace) = &mut self.trace {
            trace.push(line);
        }
    }

    fn count(&mut self, obs: &Obs) {
        self.count_for_partition(obs);
        let s = &mut self.stats;
        match obs {
            Obs::Client(ClientEvent::SendInvoked { .. }) => s.sends_invoked += 1,
            Obs::Client(ClientEvent::SendAcked { .. }) => s.sends_acked += 1,
            Obs::Client(ClientEvent::SendFailed { error, .. }) => {
                *s.sends_failed.entry(error.clone()).or_default() += 1
            }
            Obs::Client(ClientEvent::ProduceAttemptFailed { error, .. }) => {
                *s.produce_errors.entry(error.clone()).or_default() += 1
            }
            Obs::LeaderElected { leader: None, .. } => s.partitions_offline += 1,
            Obs::LeaderElected { unclean, .. } => {
                s.leader_elections += 1;
                s.unclean_leader_elections += u64::from(*unclean);
            }
            Obs::IsrChanged { reason: ChangeReason::IsrExpand, .. } => s.isr_expands += 1,
            Obs::IsrChanged { reason: ChangeReason::IsrShrink, .. } => s.isr_shrinks += 1,
            Obs::IsrChanged { .. } => s.isr_removals_by_controller += 1,
            Obs::Client(ClientEvent::Processed { .. }) => s.records_processed += 1,
            Obs::Client(ClientEvent::Committed { error: Some(_), .. }) => s.commits_failed += 1,
            Obs::GroupRebalance { .. } => s.group_rebalance_steps += 1,
            Obs::OffsetsExpired { partitions, .. } => s.offsets_expired += u64::from(*partitions),
            Obs::Truncated { from_offset, to_offset, .. } => {
                s.truncations += 1;
                s.offsets_truncated += from_offset - to_offset;
            }
            Obs::StaleDelivery { .. } => s.stale_deliveries += 1,
            _ => {}
        }
    }

    fn count_for_partition(&mut self, obs: &Obs) {
        let partition = match obs {
            Obs::LeaderElected { partition, .. }
            | Obs::IsrChanged { partition, .. }
            | Obs::Truncated { partition, .. } => partition.index(),
            _ => return,
        };
        let c = &mut self.stats.per_partition[partition];
        match obs {
            Obs::LeaderElected { leader: None, .. } => c.offline += 1,
            Obs::LeaderElected { unclean, .. } => {
                c.leader_elections += 1;
                c.unclean_leader_elections += u64::from(*unclean);
            }
            Obs::IsrChanged { reason: ChangeReason::IsrExpand, .. } => c.isr_expands += 1,
            Obs::IsrChanged { .. } => c.isr_shrinks += 1,
            Obs::Truncated { .. } => c.truncations += 1,
            _ => unreachable!("only partition events are counted per partition"),
        }
    }

    fn finish(mut self, cluster: &Cluster, hit_event_limit: bool) -> Outcome {
        let engine_stats = cluster.engine.stats;
        self.stats.events = engine_stats.events;
        self.stats.messages_sent = engine_stats.messages_sent;
        self.stats.messages_lost = engine_stats.messages_lost;
        self.stats.messages_sent_by_node =
            (0..cluster.spec.node_count()).map(|n| cluster.engine.messages_sent_by(NodeId(n))).collect();
        self.stats.max_queue_len = engine_stats.max_queue_len;
        self.stats.max_timers_queued = engine_stats.max_timers_queued;
        self.stats.simulated_time_us = cluster.engine.now().as_us();
        self.stats.hit_event_limit = hit_event_limit;
        Outcome {
            seed: self.seed,
            history: self.history,
            partitions: cluster.summarize(),
            final_logs: final_logs(cluster),
            replica_logs: None,
            stats: self.stats,
            trace_digest: self.digest.finish(),
            faults: self.faults,
            unconverged: Vec::new(),
            group_changes: self.group_changes,
            leadership: self.leadership,
            cluster_events: self.cluster_events,
            trace: self.trace,
            triggers: self.triggers,
            within: self.within,
            samples: self.sampler,
            messages: None,
            trace_error: self.trace_error,
            state_breach: None,
        }
    }
}

/// A cluster event in words, for explanations (client events and routine ones are left out).
fn describe(obs: &Obs, spec: &ClusterSpec) -> Option<(Option<u32>, String)> {
    let isr = |isr: &[crate::kafka::ids::BrokerId]| isr.iter().map(|b| b.0.to_string()).collect::<Vec<_>>().join(",");
    let name = |p: &PartitionId| spec.partition_name(*p);
    Some(match obs {
        Obs::LeaderElected { partition, leader: Some(l), leader_epoch, isr: i, unclean, reason } => {
            let how = if *unclean { "uncleanly " } else { "" };
            let text = format!(
                "{l} elected {how}leader of {} (epoch {leader_epoch}, ISR [{}]; {reason})",
                name(partition),
                isr(i)
            );
            (Some(partition.0), text)
        }
        Obs::LeaderElected { partition, leader: None, isr: i, reason, .. } => {
            (Some(partition.0), format!("{} left without a leader (ISR [{}]; {reason})", name(partition), isr(i)))
        }
        Obs::IsrChanged { partition, isr: i, reason, .. } => {
            (Some(partition.0), format!("{} ISR now [{}] ({reason})", name(partition), isr(i)))
        }
        Obs::Truncated { broker, partition, from_offset, to_offset, reason } => (
            Some(partition.0),
            format!("{broker} truncated {} from offset {from_offset} to {to_offset} ({reason})", name(partition)),
        ),
        Obs::EpochCacheTrimmed { broker, partition, log_end_offset, entries_removed } => (
            Some(partition.0),
            format!(
                "{broker} dropped {entries_removed} leader-epoch cache entries of {} starting at its log end \
                 {log_end_offset}",
                name(partition)
            ),
        ),
        Obs::LeaderRecovered { partition, leader_epoch } => (
            Some(partition.0),
            format!("{} leader recovered after its unclean election (epoch {leader_epoch}, KIP-704)", name(partition)),
        ),
        Obs::BrokerFenced { broker } => (None, format!("{broker} fenced")),
        Obs::OffsetsExpired { group, partitions } => {
            (None, format!("{partitions} committed offsets of group {group} expired (offsets.retention.minutes)"))
        }
        Obs::ControllerElected { epoch } => (None, format!("a controller elected for quorum epoch {epoch}")),
        _ => return None,
    })
}

/// Each partition's replicas on running brokers at the end, in partition then assignment order (a stopped
/// broker's high watermark is not one it serves by).
fn replica_logs(cluster: &Cluster) -> Vec<ReplicaLog> {
    let spec = &cluster.spec;
    let mut out = Vec::new();
    for p in (0..spec.partitions.len() as u32).map(PartitionId) {
        for &b in spec.partition(p).replicas.iter().filter(|&&b| cluster.is_up(spec.broker_node(b))) {
            let Some(replica) = cluster.broker(b).replicas[p.index()].as_ref() else { continue };
            out.push(ReplicaLog {
                partition: p.0,
                replica: b.to_string(),
                start_offset: replica.log.log_start_offset(),
                records: replica.log.records().map(|(_, rec)| (rec.producer.0, rec.send_seq)).collect(),
                high_watermark: replica.log.high_watermark(),
            });
        }
    }
    out
}

/// The records of each partition's authoritative replica at the end: the leader, or when there is none the
/// replica the controller would elect first (the first ISR member).
fn final_logs(cluster: &Cluster) -> Vec<FinalLog> {
    let controller = cluster.controller();
    (0..cluster.spec.partitions.len() as u32)
        .map(PartitionId)
        .map(|p| {
            let state = controller.committed_partition(p);
            let holder = state.leader.or_else(|| state.isr.first().copied());
            let replica = holder.and_then(|b| cluster.broker(b).replicas[p.index()].as_ref());
            let start_offset = replica.map_or(0, |r| r.log.log_start_offset());
            let records = replica
                .map(|r| r.log.records().map(|(_, rec)| (rec.producer.0, rec.send_seq)).collect())
                .unwrap_or_default();
            FinalLog { partition: p.0, start_offset, records }
        })
        .collect()
}

/// Where two runs that should have been identical first differ: the index of the first differing line, and each
/// run's line there (`None` where that run had already ended).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    pub index: usize,
    pub first: Option<String>,
    pub second: Option<String>,
}

/// The first line at which two runs' outputs differ (madsim's determinism check), or `None` if they are equal.
pub fn first_divergence(first: &[String], second: &[String]) -> Option<Divergence> {
    let index = first.iter().zip(second).position(|(a, b)| a != b).unwrap_or(first.len().min(second.len()));
    (index < first.len().max(second.len())).then(|| Divergence {
        index,
        first: first.get(index).cloned(),
        second: second.get(index).cloned(),
    })
}
