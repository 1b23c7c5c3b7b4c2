//! Random valid scenarios: every one loads, runs to its end (or its event limit) without panicking, and two runs
//! with the same seed give the same trace digest.
//!
//! The generators draw raw numbers (indices, per-mille times) and `Gen::to_toml` maps them onto the cluster they
//! belong to (a broker index modulo the broker count, a fault time as a fraction of the duration), so every
//! generated text is valid by construction and shrinks towards small clusters and simple targets.

use insync::scenario::load_str;
use insync::sim;
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use std::fmt::Write;

/// Whom a fault hits, as raw indices.
#[derive(Clone, Debug)]
enum TargetGen {
    Broker(u8),
    ControllerN(u8),
    /// `controller`, `the active controller` or `active controller`.
    ActiveController(u8),
    LeaderOf {
        topic: u8,
        partition: u8,
    },
    FollowerOf {
        topic: u8,
        partition: u8,
    },
    LastStopped,
    Producer(u8),
}

#[derive(Clone, Debug)]
enum ActionGen {
    Crash(TargetGen, Option<bool>),
    Restart(TargetGen),
    Shutdown(TargetGen),
    Pause(TargetGen),
    Resume(TargetGen),
    Isolate(TargetGen),
    Cut(TargetGen, TargetGen),
    Partition(Vec<TargetGen>, Vec<TargetGen>),
    Heal,
}

#[derive(Clone, Debug)]
struct FaultGen {
    /// When it fires, in thousandths of the duration.
    at_permille: u32,
    action: ActionGen,
}

#[derive(Clone, Debug)]
struct TopicGen {
    partitions: u32,
    /// Clamped to the broker count.
    rf: Option<u32>,
    min_isr: Option<u32>,
    unclean: Option<bool>,
}

#[derive(Clone, Debug)]
struct ProducerGen {
    topic: u8,
    /// None: the model's default; 0, 1 or 2 for "0", "1", "all".
    acks: Option<u8>,
    /// Only written with acks "all"; acks 0 and 1 always get `enable.idempotence = false`.
    idempotent: Option<bool>,
    rate: u32,
    keys: Option<u32>,
    start_permille: Option<u32>,
    stop_permille: Option<u32>,
    linger_ms: Option<u32>,
}

#[derive(Clone, Debug)]
struct ClusterGen {
    brokers: u32,
    controllers: Option<u32>,
    high_watermark_truncation: Option<bool>,
    producer_defaults: Option<u8>,
    min_isr: Option<u32>,
    unclean: Option<bool>,
    lag_time_max_ms: Option<u32>,
    /// Sorted to give min <= median <= p99 <= max.
    latency_us: Option<[u32; 4]>,
}

#[derive(Clone, Debug)]
struct Gen {
    seed: u64,
    duration_ms: u64,
    max_events: Option<u64>,
    cluster: ClusterGen,
    topics: Vec<TopicGen>,
    producers: Vec<ProducerGen>,
    faults: Vec<FaultGen>,
}

const TOPIC_NAMES: [&str; 3] = ["orders", "audit-log", "t"];

fn target() -> impl Strategy<Value = TargetGen> {
    prop_oneof![
        any::<u8>().prop_map(TargetGen::Broker),
        any::<u8>().prop_map(TargetGen::ControllerN),
        any::<u8>().prop_map(TargetGen::ActiveController),
        (any::<u8>(), any::<u8>()).prop_map(|(topic, partition)| TargetGen::LeaderOf { topic, partition }),
        (any::<u8>(), any::<u8>()).prop_map(|(topic, partition)| TargetGen::FollowerOf { topic, partition }),
        Just(TargetGen::LastStopped),
        any::<u8>().prop_map(TargetGen::Producer),
    ]
}

fn action() -> impl Strategy<Value = ActionGen> {
    prop_oneof![
        (target(), of(any::<bool>())).prop_map(|(t, lost)| ActionGen::Crash(t, lost)),
        target().prop_map(ActionGen::Restart),
        target().prop_map(ActionGen::Shutdown),
        target().prop_map(ActionGen::Pause),
        target().prop_map(ActionGen::Resume),
        target().prop_map(ActionGen::Isolate),
        (target(), target()).prop_map(|(from, to)| ActionGen::Cut(from, to)),
        (vec(target(), 1..=3), vec(target(), 1..=3)).prop_map(|(a, b)| ActionGen::Partition(a, b)),
        Just(ActionGen::Heal),
    ]
}

fn fault() -> impl Strategy<Value = FaultGen> {
    (0..=1000u32, action()).prop_map(|(at_permille, action)| FaultGen { at_permille, action })
}

fn topic() -> impl Strategy<Value = TopicGen> {
    (1..=8u32, of(1..=5u32), of(1..=3u32), of(any::<bool>())).prop_map(|(partitions, rf, min_isr, unclean)| TopicGen {
        partitions,
        rf,
        min_isr,
        unclean,
    })
}

fn producer() -> impl Strategy<Value = ProducerGen> {
    let workload = (any::<u8>(), 1..=3000u32, of(1..=1000u32));
    let times = (of(0..500u32), of(501..=1000u32), of(0..=50u32));
    (workload, of(0..3u8), of(any::<bool>()), times).prop_map(
        |((topic, rate, keys), acks, idempotent, (start_permille, stop_permille, linger_ms))| ProducerGen {
            topic,
            acks,
            idempotent,
            rate,
            keys,
            start_permille,
            stop_permille,
            linger_ms,
        },
    )
}

fn cluster() -> impl Strategy<Value = ClusterGen> {
    let model = (of(any::<bool>()), of(0..3u8));
    let broker = (of(1..=3u32), of(any::<bool>()), of(1_000..=30_000u32));
    let latency = of([1..=2_000u32, 1..=2_000u32, 1..=20_000u32, 1..=50_000u32]);
    (1..=5u32, of(1..=3u32), model, broker, latency).prop_map(
        |(brokers, controllers, (hwm, defaults), (min_isr, unclean, lag), latency)| ClusterGen {
            brokers,
            controllers,
            high_watermark_truncation: hwm,
            producer_defaults: defaults,
            min_isr,
            unclean,
            lag_time_max_ms: lag,
            latency_us: latency.map(|mut l| {
                l.sort_unstable();
                l
            }),
        },
    )
}

fn scenario() -> impl Strategy<Value = Gen> {
    let run = (0..=i64::MAX as u64, 2_000..=20_000u64, prop::option::weighted(0.2, 1_000..=300_000u64));
    (run, cluster(), vec(topic(), 1..=3), vec(producer(), 0..=3), vec(fault(), 0..=6)).prop_map(
        |((seed, duration_ms, max_events), cluster, topics, producers, faults)| Gen {
            seed,
            duration_ms,
            max_events,
            cluster,
            topics,
            producers,
            faults,
        },
    )
}

/// `key = value` lines for the optional fields that are present.
fn opt_line(out: &mut String, key: &str, value: Option<impl std::fmt::Display>) {
    if let Some(v) = value {
        let _ = writeln!(out, "{key} = {v}");
    }
}

impl Gen {
    fn to_toml(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "name = \"random\"\nseed = {}\nduration = \"{}ms\"", self.seed, self.duration_ms);
        opt_line(&mut out, "max_events", self.max_events);
        self.write_cluster(&mut out);
        for (i, t) in self.topics.iter().enumerate() {
            self.write_topic(&mut out, i, t);
        }
        for (i, p) in self.producers.iter().enumerate() {
            self.write_producer(&mut out, i, p);
        }
        for f in &self.faults {
            self.write_fault(&mut out, f);
        }
        out
    }

    fn write_cluster(&self, out: &mut String) {
        let c = &self.cluster;
        out.push_str("\n[model]\n");
        let truncation = c.high_watermark_truncation.map(|h| if h { "\"high-watermark\"" } else { "\"leader-epoch\"" });
        opt_line(out, "truncation", truncation);
        opt_line(out, "producer_defaults", c.producer_defaults.map(|d| format!("\"kafka-{}\"", 4 - d)));
        let _ = writeln!(out, "\n[cluster]\nbrokers = {}", c.brokers);
        opt_line(out, "controllers", c.controllers);
        out.push_str("\n[broker]\n");
        opt_line(out, "min.insync.replicas", c.min_isr);
        opt_line(out, "unclean.leader.election.enable", c.unclean);
        opt_line(out, "replica.lag.time.max.ms", c.lag_time_max_ms);
        if let Some([min, median, p99, max]) = c.latency_us {
            let _ = writeln!(out, "\n[network]\nlatency.min = \"{min}us\"\nlatency.median = \"{median}us\"");
            let _ = writeln!(out, "latency.p99 = \"{p99}us\"\nlatency.max = \"{max}us\"");
        }
    }

    fn write_topic(&self, out: &mut String, i: usize, t: &TopicGen) {
        let _ = writeln!(out, "\n[[topics]]\nname = \"{}\"\npartitions = {}", TOPIC_NAMES[i], t.partitions);
        opt_line(out, "replication.factor", t.rf.map(|rf| rf.min(self.cluster.brokers)));
        opt_line(out, "min.insync.replicas", t.min_isr);
        opt_line(out, "unclean.leader.election.enable", t.unclean);
    }

    fn write_producer(&self, out: &mut String, i: usize, p: &ProducerGen) {
        let topic = TOPIC_NAMES[usize::from(p.topic) % self.topics.len()];
        let _ = writeln!(out, "\n[[producers]]\nname = \"p{i}\"\ntopic = \"{topic}\"\nrate = {}", p.rate);
        let keys = p.keys.map_or("\"none\"".to_string(), |k| k.to_string());
        let _ = writeln!(out, "keys = {keys}");
        opt_line(out, "start", p.start_permille.map(|m| format!("\"{}ms\"", self.ms_at(m))));
        opt_line(out, "stop", p.stop_permille.map(|m| format!("\"{}ms\"", self.ms_at(m).max(1_001))));
        opt_line(out, "linger.ms", p.linger_ms);
        match p.acks {
            Some(2) => {
                out.push_str("acks = \"all\"\n");
                opt_line(out, "enable.idempotence", p.idempotent);
            }
            Some(acks) => {
                let _ = writeln!(out, "acks = \"{acks}\"\nenable.idempotence = false");
            }
            None => {}
        }
    }

    /// Milliseconds at `permille` thousandths of the duration.
    fn ms_at(&self, permille: u32) -> u64 {
        self.duration_ms * u64::from(permille) / 1000
    }

    fn write_fault(&self, out: &mut String, f: &FaultGen) {
        let _ = writeln!(out, "\n[[faults]]\nat = \"{}ms\"", self.ms_at(f.at_permille));
        let one = |out: &mut String, kind: &str, t: &TargetGen| {
            let _ = writeln!(out, "action = \"{kind}\"\ntarget = \"{}\"", self.target(t));
        };
        match &f.action {
            ActionGen::Crash(t, lost) => {
                one(out, "crash", t);
                opt_line(out, "page_cache_lost", *lost);
            }
            ActionGen::Restart(t) => one(out, "restart", t),
            ActionGen::Shutdown(t) => one(out, "shutdown", t),
            ActionGen::Pause(t) => one(out, "pause", t),
            ActionGen::Resume(t) => one(out, "resume", t),
            ActionGen::Isolate(t) => one(out, "isolate", t),
            ActionGen::Cut(from, to) => {
                let _ =
                    writeln!(out, "action = \"cut\"\nfrom = \"{}\"\nto = \"{}\"", self.target(from), self.target(to));
            }
            ActionGen::Partition(a, b) => {
                let _ = writeln!(out, "action = \"partition\"\nsides = [{}, {}]", self.side(a), self.side(b));
            }
            ActionGen::Heal => out.push_str("action = \"heal\"\n"),
        }
    }

    fn side(&self, targets: &[TargetGen]) -> String {
        let names: Vec<String> = targets.iter().map(|t| format!("\"{}\"", self.target(t))).collect();
        format!("[{}]", names.join(", "))
    }

    fn target(&self, t: &TargetGen) -> String {
        let controllers = self.cluster.controllers.unwrap_or(1);
        match *t {
            TargetGen::Broker(n) => format!("broker-{}", u32::from(n) % self.cluster.brokers + 1),
            TargetGen::ControllerN(n) => format!("controller-{}", u32::from(n) % controllers + 1),
            TargetGen::ActiveController(n) => {
                ["controller", "the active controller", "active controller"][usize::from(n) % 3].to_string()
            }
            TargetGen::LeaderOf { topic, partition } => format!("leader of {}", self.partition(topic, partition)),
            TargetGen::FollowerOf { topic, partition } => format!("a follower of {}", self.partition(topic, partition)),
            TargetGen::LastStopped => "last stopped".to_string(),
            TargetGen::Producer(_) if self.producers.is_empty() => "broker-1".to_string(),
            TargetGen::Producer(n) => format!("p{}", usize::from(n) % self.producers.len()),
        }
    }

    /// `TOPIC-N` for raw topic and partition indices.
    fn partition(&self, topic: u8, partition: u8) -> String {
        let i = usize::from(topic) % self.topics.len();
        format!("{}-{}", TOPIC_NAMES[i], u32::from(partition) % self.topics[i].partitions)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn random_valid_scenarios_load_run_to_the_end_and_repeat(g in scenario()) {
        let text = g.to_toml();
        let s = load_str("random.toml", &text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let end_us = g.duration_ms * 1_000;
        prop_assert_eq!(s.sim.limits.end.as_us(), end_us);
        prop_assert_eq!(s.sim.faults.len(), g.faults.len());
        let a = sim::run(&s.sim, s.seed, false);
        let b = sim::run(&s.sim, s.seed, false);
        let reached = a.stats.simulated_time_us;
        prop_assert!(a.stats.hit_event_limit || reached == end_us, "stopped at {}us of {}us\n{}", reached, end_us, text);
        prop_assert!(reached <= end_us, "ran past the end: {}us of {}us\n{}", reached, end_us, text);
        prop_assert_eq!(a.trace_digest, b.trace_digest, "same seed, different digest\n{}", text);
        prop_assert_eq!(a.stats.events, b.stats.events);
        prop_assert_eq!(a.faults, b.faults);
    }
}
