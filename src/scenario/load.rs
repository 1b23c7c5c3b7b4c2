//! The scenario schema: reads a parsed document into a typed `Scenario`, filling Kafka's defaults and rejecting
//! anything unknown, mistyped or impossible with the file, line, column and field.

use super::doc::schema::Shape;
use super::doc::{LoadError, Node, Source, TableReader, Value, expect_array, expect_str, expect_table};
use crate::engine::{LatencyModel, Limits, Ratio, SimTime};
use crate::faults::{FaultAction, ScheduledFault, Target, When};
use crate::kafka::cluster::ResetTo;
use crate::kafka::config::{Acks, BrokerConfig, GroupConfig, ProducerConfig, TopicConfig, TruncationMode};
use crate::kafka::controller::ElectionType;
use crate::kafka::ids::{BrokerId, ClientId, TopicId};
use crate::kafka::log::StorageLoss;
use crate::kafka::partition::InSyncRule;
use crate::kafka::spec::{ClusterSpec, ConsumerSpec, PartitionSpec, ProducerSpec, assign_replicas};
use crate::scenario::when::parse_condition;
use crate::sim::SimConfig;

const MAX_BROKERS: u64 = 64;
/// Clients in all — producers, consumer instances and the producers of processor stages — a scenario may hold.
pub(super) const MAX_CLIENTS: usize = 10_000;
const MAX_PARTITIONS: u64 = 10_000;
const MAX_DURATION_US: u64 = 24 * 3_600 * 1_000_000;
const DEFAULT_MAX_EVENTS: u64 = 100_000_000;
/// `max_memory`'s default and range in bytes: 4 GiB, from 16 MiB to 1 TiB.
const DEFAULT_MAX_MEMORY_BYTES: u64 = 4 << 30;
const MAX_MEMORY_BYTES: std::ops::RangeInclusive<u64> = 16 << 20..=1 << 40;
/// Kafka's `.ms` properties accept up to Integer.MAX_VALUE milliseconds.
const MAX_MS_US: u64 = i32::MAX as u64 * 1_000;

/// A loaded, validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    pub sim: SimConfig,
    pub expect: super::expect::Expectations,
    /// FNV-1a 64 of the scenario's text: names exactly which file a result came from.
    pub source_fnv64: u64,
    /// The `--set` overrides applied to the file, in order (part of what reproduces a run).
    pub overrides: Vec<super::overrides::Override>,
}

/// `seed`: an integer, or for seeds above TOML's integers (i64) a decimal string — the full u64 range, as `--seed`
/// takes it.
fn read_seed(top: &mut TableReader<'_>) -> Result<u64, LoadError> {
    let Some(node) = top.node("seed") else { return Ok(1) };
    match &node.value {
        Value::Str(text) => text.parse::<u64>().map_err(|_| {
            top.error_at(
                "seed",
                "an integer from 0 to 18446744073709551615 (a string above i64)",
                format!("\"{text}\""),
            )
        }),
        _ => super::doc::expect_u64_in(top.source(), node, "seed", 0, u64::MAX),
    }
}

/// Reads the whole document.
pub fn read_scenario(src: &Source, root: &Node, default_name: &str) -> Result<Scenario, LoadError> {
    let mut top = TableReader::new(src, root, "", false)?;
    let name = top.str("name")?.unwrap_or(default_name).to_string();
    let seed = read_seed(&mut top)?;
    let end_us = top.duration_us("duration")?.unwrap_or(60_000_000);
    if end_us == 0 || end_us > MAX_DURATION_US {
        return Err(top.error_at("duration", "a duration from 1us to 24h", top.written_or("duration", end_us)));
    }
    let max_events = top.u64_in("max_events", 1, u64::MAX)?.unwrap_or(DEFAULT_MAX_EVENTS);
    let (min_memory, max_memory) = (*MAX_MEMORY_BYTES.start(), *MAX_MEMORY_BYTES.end());
    let max_memory_bytes = top.u64_in("max_memory", min_memory, max_memory)?.unwrap_or(DEFAULT_MAX_MEMORY_BYTES);
    let model = read_model(&mut top)?;
    let (broker_count, controller_count) = read_cluster_size(&mut top)?;
    let (broker_config, mut group_config) = read_broker_config(&mut top, &model, broker_count)?;
    group_config.offsets_expire_while_rebalancing = model.offsets_expire_while_rebalancing;
    let latency = read_network(&mut top)?;
    let (topics, partitions) = read_topics(&mut top, broker_count, &broker_config)?;
    let (mut topics, mut partitions) = (topics, partitions);
    let producers = read_producers(&mut top, &topics, &model, end_us)?;
    let (mut consumers, groups) = super::consumers::read_consumers(&mut top, &topics, &producers)?;
    consumers.iter_mut().for_each(|c| c.0.config.truncation_detection = model.consumer_truncation_detection);
    let (mut producers, consumers) = (producers, consumers);
    let consumers = add_stage_producers(&mut producers, consumers, &model.producer_defaults, end_us);
    if !consumers.is_empty() {
        let min_isr = broker_config.min_insync_replicas;
        super::consumers::add_offsets_topic(&mut topics, &mut partitions, &group_config, broker_count, min_isr);
    }
    let mut cluster = ClusterSpec {
        broker_config,
        broker_count,
        controller_count,
        topics,
        partitions,
        producers,
        consumers,
        groups,
        group_config,
    };
    let faults = read_faults(&mut top, &cluster, end_us)?;
    let nemesis = super::nemesis::read_nemesis(&mut top, end_us)?;
    let (expect, watches) = super::expect::read_expectations(&mut top, &cluster, faults.len())?;
    top.finish()?;
    cluster.producers.shrink_to_fit();
    let limits = Limits { end: SimTime(end_us), max_events };
    let liveness_us = expect.liveness_us;
    let keep_replica_logs = expect.names_invariant(crate::check::divergence::NAME);
    Ok(Scenario {
        source_fnv64: crate::sim::fnv64(src.file_text().as_bytes()),
        overrides: Vec::new(),
        name,
        seed,
        sim: SimConfig {
            cluster,
            latency,
            limits,
            faults,
            nemesis,
            liveness_us,
            keep_replica_logs,
            watches,
            state_check: true,
            max_memory_bytes,
        },
        expect,
    })
}

/// Each processor stage gets a producer of its own (named after it, `-out`), driven by what it processes.
fn add_stage_producers(
    producers: &mut Vec<ProducerSpec>,
    consumers: Vec<(ConsumerSpec, Option<super::consumers::StageOutput>)>,
    defaults: &ProducerConfig,
    end_us: u64,
) -> Vec<ConsumerSpec> {
    let mut out = Vec::new();
    for (index, (mut consumer, stage)) in consumers.into_iter().enumerate() {
        if let Some(stage) = stage {
            consumer.stage_producer = Some(ClientId(producers.len() as u32));
            producers.push(ProducerSpec {
                name: format!("{}-out", consumer.name),
                topics: stage.topics,
                config: defaults.clone(),
                rate_per_s: 1,
                max_records: None,
                start_us: 0,
                stop_us: end_us,
                key_space: None,
                partition_by_key: true,
                record_size_bytes: 100,
                poison_every: None,
                driven_by: Some(index as u32),
                fan_out: stage.fan_out,
                types: Vec::new(),
                route: stage.route,
            });
        }
        out.push(consumer);
    }
    out
}

/// Historical-mode switches.
struct Model {
    truncation: TruncationMode,
    dirty_expire_us: u64,
    hw_frozen_under_min_isr: bool,
    producer_defaults: ProducerConfig,
    /// Kafka 4.0's ProducerConfig refuses max.in.flight.requests.per.connection > 5 with idempotence on, even
    /// by default; 3.x turned default idempotence off instead.
    in_flight_over_5_is_an_error: bool,
    /// KIP-320's consumer truncation detection (Kafka 2.1+).
    consumer_truncation_detection: bool,
    /// KIP-903's broker epochs in fetches and AlterPartition (Kafka 3.5+).
    alter_partition_broker_epoch: bool,
    /// KAFKA-7128's fix (2.0.1+): a follower joins the ISR only past the leader epoch's start offset.
    isr_join_checks_epoch_start: bool,
    /// KAFKA-7164's fix (2.0.1+): a new leader epoch makes a follower truncate even under the same leader.
    follower_truncates_on_epoch_change: bool,
    /// KAFKA-13636's bug: a rebalancing group's offsets expire (before 2.8.2 / 3.0.1 / 3.1.1 / 3.2.0).
    offsets_expire_while_rebalancing: bool,
}

fn read_model(top: &mut TableReader<'_>) -> Result<Model, LoadError> {
    let mut model = Model {
        truncation: TruncationMode::LeaderEpoch,
        dirty_expire_us: BrokerConfig::default().dirty_expire_us,
        hw_frozen_under_min_isr: true,
        producer_defaults: ProducerConfig::default(),
        in_flight_over_5_is_an_error: true,
        consumer_truncation_detection: true,
        alter_partition_broker_epoch: true,
        isr_join_checks_epoch_start: true,
        follower_truncates_on_epoch_change: true,
        offsets_expire_while_rebalancing: false,
    };
    let Some(mut t) = top.table("model", false)? else { return Ok(model) };
    if let Some(mode) = t.one_of("truncation", &["leader-epoch", "leader-epoch-v0", "high-watermark"])? {
        model.truncation = match mode {
            "high-watermark" => TruncationMode::HighWatermark,
            "leader-epoch-v0" => TruncationMode::LeaderEpochV0,
            _ => TruncationMode::LeaderEpoch,
        };
    }
    if let Some(us) = t.duration_us("dirty_expire")? {
        if us > MAX_DURATION_US {
            return Err(t.error_at("dirty_expire", "a duration up to 24h", t.written_or("dirty_expire", us)));
        }
        model.dirty_expire_us = us;
    }
    if let Some(frozen) = t.bool("hw_frozen_under_min_isr")? {
        model.hw_frozen_under_min_isr = frozen;
    }
    if let Some(detection) = t.bool("consumer_truncation_detection")? {
        model.consumer_truncation_detection = detection;
    }
    if let Some(truncates) = t.bool("follower_truncates_on_epoch_change")? {
        model.follower_truncates_on_epoch_change = truncates;
    }
    if let Some(checks) = t.bool("isr_join_checks_epoch_start")? {
        model.isr_join_checks_epoch_start = checks;
    }
    if let Some(epochs) = t.bool("alter_partition_broker_epoch")? {
        model.alter_partition_broker_epoch = epochs;
    }
    if let Some(expire) = t.bool("offsets_expire_while_rebalancing")? {
        model.offsets_expire_while_rebalancing = expire;
    }
    if let Some(defaults) = t.one_of("producer_defaults", &["kafka-4", "kafka-3", "kafka-2"])? {
        model.producer_defaults = match defaults {
            "kafka-2" => ProducerConfig::pre_3_0(),
            "kafka-3" => ProducerConfig { linger_us: 0, ..ProducerConfig::default() },
            _ => ProducerConfig::default(),
        };
        model.in_flight_over_5_is_an_error = defaults == "kafka-4";
    }
    t.finish()?;
    Ok(model)
}

/// `[cluster]`: how many brokers and how many controllers (the KRaft quorum's voters).
fn read_cluster_size(top: &mut TableReader<'_>) -> Result<(u32, u32), LoadError> {
    let Some(mut t) = top.table("cluster", false)? else { return Ok((3, 1)) };
    let brokers = t.u64_in("brokers", 1, MAX_BROKERS)?.unwrap_or(3) as u32;
    let controllers = t.u64_in("controllers", 1, 7)?.unwrap_or(1) as u32;
    t.finish()?;
    Ok((brokers, controllers))
}

fn read_broker_config(
    top: &mut TableReader<'_>,
    model: &Model,
    broker_count: u32,
) -> Result<(BrokerConfig, GroupConfig), LoadError> {
    let mut c = BrokerConfig {
        truncation: model.truncation,
        dirty_expire_us: model.dirty_expire_us,
        hw_frozen_under_min_isr: model.hw_frozen_under_min_isr,
        alter_partition_broker_epoch: model.alter_partition_broker_epoch,
        follower_truncates_on_epoch_change: model.follower_truncates_on_epoch_change,
        in_sync_rule: match model.isr_join_checks_epoch_start {
            true => InSyncRule::HighWatermarkAndEpochStart,
            false => InSyncRule::HighWatermarkOnly,
        },
        ..BrokerConfig::default()
    };
    let Some(mut t) = top.table("broker", true)? else {
        let mut group = GroupConfig::default();
        group.offsets_topic_replication_factor = group.offsets_topic_replication_factor.min(broker_count);
        return Ok((c, group));
    };
    let group = super::consumers::read_group_config(&mut t, broker_count)?;
    set_ms(&mut t, "replica.lag.time.max.ms", &mut c.replica_lag_time_max_us)?;
    set_ms(&mut t, "replica.fetch.wait.max.ms", &mut c.replica_fetch_wait_max_us)?;
    set_ms(&mut t, "replica.socket.timeout.ms", &mut c.replica_socket_timeout_us)?;
    set_ms(
        &mut t,
        "replica.high.watermark.checkpoint.interval.ms",
        &mut c.replica_high_watermark_checkpoint_interval_us,
    )?;
    set_ms(&mut t, "broker.heartbeat.interval.ms", &mut c.broker_heartbeat_interval_us)?;
    set_ms(&mut t, "broker.session.timeout.ms", &mut c.broker_session_timeout_us)?;
    set_ms(&mut t, "log.retention.check.interval.ms", &mut c.log_retention_check_interval_us)?;
    // KafkaConfig's validation: replica.fetch.wait.max.ms ≤ replica.socket.timeout.ms ("to prevent unnecessary
    // socket timeouts") and ≤ replica.lag.time.max.ms ("to prevent frequent changes in ISR").
    if c.replica_socket_timeout_us < c.replica_fetch_wait_max_us {
        let found = format!("{}ms", c.replica_socket_timeout_us / 1_000);
        let key = if t.node("replica.socket.timeout.ms").is_some() {
            "replica.socket.timeout.ms"
        } else {
            "replica.fetch.wait.max.ms"
        };
        return Err(t.error_at(
            key,
            "replica.socket.timeout.ms at least replica.fetch.wait.max.ms (KafkaConfig)",
            found,
        ));
    }
    if c.replica_lag_time_max_us < c.replica_fetch_wait_max_us {
        let found = format!("{}ms", c.replica_fetch_wait_max_us / 1_000);
        let expected = "replica.fetch.wait.max.ms at most replica.lag.time.max.ms (KafkaConfig)";
        let key = if t.node("replica.lag.time.max.ms").is_some() {
            "replica.lag.time.max.ms"
        } else {
            "replica.fetch.wait.max.ms"
        };
        return Err(t.error_at(key, expected, found));
    }
    if let Some(v) = t.u64_in("replica.fetch.max.bytes", 1, i32::MAX as u64)? {
        c.replica_fetch_max_bytes = v;
    }
    if let Some(v) = t.u64_in("log.flush.interval.messages", 1, i64::MAX as u64)? {
        c.log_flush_interval_messages = v;
    }
    if let Some(v) = t.u64_in("min.insync.replicas", 1, 1_000)? {
        c.min_insync_replicas = v as u32;
    }
    if let Some(v) = t.u64_in("default.replication.factor", 1, MAX_BROKERS)? {
        c.default_replication_factor = v as u32;
    }
    if let Some(v) = t.bool("auto.leader.rebalance.enable")? {
        c.auto_leader_rebalance_enable = v;
    }
    if let Some(seconds) = t.u64_in("leader.imbalance.check.interval.seconds", 1, 86_400)? {
        c.leader_imbalance_check_interval_us = seconds * 1_000_000;
    }
    if let Some(percent) = t.u64_in("leader.imbalance.per.broker.percentage", 0, 100)? {
        c.leader_imbalance_per_broker_percentage = percent as u32;
    }
    if let Some(v) = t.bool("unclean.leader.election.enable")? {
        c.unclean_leader_election_enable = v;
    }
    t.finish()?;
    Ok((c, group))
}

/// Reads a Kafka `.ms` property (integer milliseconds, or a duration string) into `slot` if present.
fn set_ms(t: &mut TableReader<'_>, key: &str, slot: &mut u64) -> Result<(), LoadError> {
    if let Some(us) = t.ms_as_us(key)? {
        if us == 0 || us > MAX_MS_US {
            return Err(t.error_at(key, "a duration from 1 ms to Integer.MAX_VALUE ms", t.written_or(key, us)));
        }
        *slot = us;
    }
    Ok(())
}

fn read_network(top: &mut TableReader<'_>) -> Result<LatencyModel, LoadError> {
    let mut latency = LatencyModel::default();
    let Some(mut t) = top.table("network", true)? else { return Ok(latency) };
    for (key, slot) in [
        ("latency.min", &mut latency.min_us),
        ("latency.median", &mut latency.median_us),
        ("latency.p99", &mut latency.p99_us),
        ("latency.max", &mut latency.max_us),
    ] {
        if let Some(us) = t.duration_us(key)? {
            *slot = us;
        }
    }
    let ordered =
        latency.min_us <= latency.median_us && latency.median_us <= latency.p99_us && latency.p99_us <= latency.max_us;
    if !ordered || latency.max_us > 60_000_000 {
        let t = &t;
        let shown = |key: &str, us: u64| t.written_or(key, us);
        let found = format!(
            "min {}, median {}, p99 {}, max {}",
            shown("latency.min", latency.min_us),
            shown("latency.median", latency.median_us),
            shown("latency.p99", latency.p99_us),
            shown("latency.max", latency.max_us)
        );
        return Err(t.error_here("latency with min <= median <= p99 <= max <= 60s", found));
    }
    t.finish()?;
    Ok(latency)
}

fn read_topics(
    top: &mut TableReader<'_>,
    broker_count: u32,
    broker: &BrokerConfig,
) -> Result<(Vec<TopicConfig>, Vec<PartitionSpec>), LoadError> {
    let src = top.source();
    let nodes = top.array("topics")?.unwrap_or(&[]);
    if nodes.is_empty() {
        return Err(top.missing("topics", "at least one [[topics]] table"));
    }
    let mut topics = Vec::new();
    let mut partitions = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let path = format!("topics[{i}]");
        let mut t = expect_table(src, node, &path, true)?;
        let name_value = t_str(&mut t, "name")?;
        let name = t.required("name", name_value, "a topic name")?;
        if name == crate::kafka::spec::OFFSETS_TOPIC {
            return Err(t.error_at(
                "name",
                "a topic name other than the internal __consumer_offsets",
                format!("\"{name}\""),
            ));
        }
        if topics.iter().any(|existing: &TopicConfig| existing.name == name) {
            return Err(t.error_at("name", "a topic name not used before", format!("\"{name}\"")));
        }
        let count = t.u64_in("partitions", 1, MAX_PARTITIONS)?.unwrap_or(1) as u32;
        let rf = t.u64_in("replication.factor", 1, u64::from(broker_count))?;
        let rf = rf.unwrap_or(u64::from(broker.default_replication_factor.min(broker_count))) as u32;
        let retention_us = read_retention_ms(&mut t)?;
        let retention_bytes = t.i64_in("retention.bytes", -1, i64::MAX)?.filter(|&b| b >= 0).map(|b| b as u64);
        let min_isr = t.u64_in("min.insync.replicas", 1, 1_000)?.map_or(broker.min_insync_replicas, |v| v as u32);
        let unclean = t.bool("unclean.leader.election.enable")?.unwrap_or(broker.unclean_leader_election_enable);
        let assignment = match t.array("replicas")? {
            Some(rows) => read_assignment(src, rows, &format!("{path}.replicas"), count, rf, broker_count)?,
            None => assign_replicas(broker_count, count, rf),
        };
        t.finish()?;
        let topic = TopicId(topics.len() as u32);
        for (number, replicas) in assignment.into_iter().enumerate() {
            partitions.push(PartitionSpec { topic, number: number as u32, replicas });
        }
        topics.push(TopicConfig {
            name,
            partitions: count,
            replication_factor: rf,
            min_insync_replicas: min_isr,
            unclean_leader_election_enable: unclean,
            retention_us,
            retention_bytes,
        });
    }
    if partitions.len() as u64 > MAX_PARTITIONS {
        return Err(top.error_at(
            "topics",
            format!("at most {MAX_PARTITIONS} partitions in all"),
            partitions.len().to_string(),
        ));
    }
    Ok((topics, partitions))
}

/// The most record types one producer may declare.
const MAX_TYPES: usize = 64;

/// `types = { ORDER_PLACED = 3, ORDER_SHIPPED = 1 }`: the record types and their weights (1–1000).
fn read_types(t: &mut TableReader<'_>) -> Result<Vec<(String, u32)>, LoadError> {
    let keys = t.keys_under("types.");
    if keys.len() > MAX_TYPES {
        return Err(t.error_at(&keys[0], format!("at most {MAX_TYPES} types"), format!("{}", keys.len())));
    }
    let mut out = Vec::new();
    for key in keys {
        let weight = t.u64_in(&key, 1, 1_000)?.unwrap_or(1) as u32;
        out.push((key["types.".len()..].to_string(), weight));
    }
    Ok(out)
}

/// `topic` (one name) or `topics` (several, each event sent to every one of them: pattern C), not both.
fn read_producer_topics(t: &mut TableReader<'_>, topics: &[TopicConfig]) -> Result<Vec<TopicId>, LoadError> {
    let known: Vec<&str> = topics.iter().map(|x| x.name.as_str()).collect();
    let find = |name: &str| topics.iter().position(|x| x.name == name).map(|i| TopicId(i as u32));
    if t.node("topics").is_some() {
        if t.node("topic").is_some() {
            return Err(t.error_at("topics", "either `topic` or `topics`", "both"));
        }
        let src = t.source();
        let path = t.path("topics");
        let items = t.array("topics")?.unwrap_or(&[]);
        if items.is_empty() || items.len() > 100 {
            return Err(t.error_at("topics", "1 to 100 topic names", format!("{} names", items.len())));
        }
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let name = expect_str(src, item, &item_path)?;
            match find(name) {
                Some(topic) if !out.contains(&topic) => out.push(topic),
                Some(_) => return Err(LoadError::at_node(src, item, &item_path, "a topic not already listed")),
                None => {
                    return Err(LoadError::at_node(
                        src,
                        item,
                        &item_path,
                        format!("one of the topics: {}", known.join(", ")),
                    ));
                }
            }
        }
        return Ok(out);
    }
    let topic_name_value = t_str(t, "topic")?;
    let topic_name = t.required("topic", topic_name_value, "the name of a topic (or `topics`, a list)")?;
    match find(&topic_name) {
        Some(topic) => Ok(vec![topic]),
        None => {
            Err(t.error_at("topic", format!("one of the topics: {}", known.join(", ")), format!("\"{topic_name}\"")))
        }
    }
}

/// `retention.ms`: milliseconds or a duration; -1 means unlimited; Kafka's default is 7 days.
fn read_retention_ms(t: &mut TableReader<'_>) -> Result<Option<u64>, LoadError> {
    const WEEK_US: u64 = 7 * 24 * 3_600 * 1_000_000;
    let Some(node) = t.node("retention.ms") else { return Ok(Some(WEEK_US)) };
    match &node.value {
        Value::Int(-1) => Ok(None),
        Value::Int(ms) if *ms >= 0 => Ok(Some((*ms as u64).saturating_mul(1_000))),
        Value::Str(text) => match super::doc::parse_duration_us(text) {
            Some(us) => Ok(Some(us)),
            None => {
                Err(t.error_at("retention.ms", "milliseconds, a duration like \"30s\", or -1", format!("\"{text}\"")))
            }
        },
        other => Err(t.error_at("retention.ms", "milliseconds, a duration like \"30s\", or -1", other.describe())),
    }
}

fn t_str(t: &mut TableReader<'_>, key: &str) -> Result<Option<String>, LoadError> {
    Ok(t.str(key)?.map(str::to_string))
}

/// An explicit assignment: one list of distinct broker ids per partition, each `replication.factor` long.
fn read_assignment(
    src: &Source,
    rows: &[Node],
    path: &str,
    partitions: u32,
    rf: u32,
    broker_count: u32,
) -> Result<Vec<Vec<BrokerId>>, LoadError> {
    if rows.len() != partitions as usize {
        let span = rows.first().map_or(0..0, |n| n.span.clone());
        return Err(LoadError::at(
            src,
            span,
            path,
            format!("one replica list per partition ({partitions})"),
            format!("{} lists", rows.len()),
        ));
    }
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let row_path = format!("{path}[{i}]");
        let ids = expect_array(src, row, &row_path)?;
        let mut replicas: Vec<BrokerId> = Vec::new();
        for (j, id) in ids.iter().enumerate() {
            let b = super::doc::expect_u64_in(src, id, &format!("{row_path}[{j}]"), 1, u64::from(broker_count))?;
            if replicas.contains(&BrokerId(b as u32)) {
                return Err(LoadError::at_node(src, id, &format!("{row_path}[{j}]"), "a broker not already listed"));
            }
            replicas.push(BrokerId(b as u32));
        }
        if replicas.len() != rf as usize {
            return Err(LoadError::at_node(src, row, &row_path, format!("{rf} brokers (the replication factor)")));
        }
        out.push(replicas);
    }
    Ok(out)
}

fn read_producers(
    top: &mut TableReader<'_>,
    topics: &[TopicConfig],
    model: &Model,
    end_us: u64,
) -> Result<Vec<ProducerSpec>, LoadError> {
    let src = top.source();
    let nodes = top.array("producers")?.unwrap_or(&[]);
    let mut producers: Vec<ProducerSpec> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        if i == MAX_CLIENTS {
            let expected = format!("at most {MAX_CLIENTS} clients in all");
            return Err(LoadError::at_node(src, node, &format!("producers[{i}]"), expected));
        }
        let mut t = expect_table(src, node, &format!("producers[{i}]"), true)?;
        let name = t_str(&mut t, "name")?.unwrap_or_else(|| format!("producer-{}", i + 1));
        if producers.iter().any(|p| p.name == name) || name.starts_with("broker-") || name.starts_with("controller") {
            return Err(t.error_at("name", "a name not used by another node", format!("\"{name}\"")));
        }
        let producer_topics = read_producer_topics(&mut t, topics)?;
        let rate_per_s = t.u64_in("rate", 1, 10_000_000)?.unwrap_or(1_000);
        let max_records = t.u64_in("count", 1, 1_000_000_000)?;
        let start_us = t.duration_us("start")?.unwrap_or(1_000_000);
        let stop_us = t.duration_us("stop")?.unwrap_or(end_us);
        if start_us >= stop_us {
            return Err(t.error_at("stop", "a time after `start`", t.written_or("stop", stop_us)));
        }
        let key_space = read_keys(&mut t)?;
        let partition_by_key = t.bool("partition_by_key")?.unwrap_or(true);
        let record_size_bytes = t.u64_in("record_size", 1, 1_048_576)?.unwrap_or(100) as u32;
        let poison_every = t.u64_in("poison_every", 1, u64::MAX)?;
        let types = read_types(&mut t)?;
        let config = read_producer_config(&mut t, model)?;
        if u64::from(record_size_bytes) > config.max_request_size {
            // KafkaProducer.ensureValidRecordSize: every larger record would fail with RecordTooLargeException.
            let expected = format!("at most max.request.size ({} bytes)", config.max_request_size);
            return Err(t.error_at("record_size", &expected, record_size_bytes.to_string()));
        }
        t.finish()?;
        producers.push(ProducerSpec {
            name,
            topics: producer_topics,
            config,
            rate_per_s,
            max_records,
            start_us,
            stop_us,
            key_space,
            partition_by_key,
            record_size_bytes,
            poison_every,
            driven_by: None,
            fan_out: 1,
            types,
            route: None,
        });
    }
    Ok(producers)
}

/// `keys = 1000` (keys drawn from 0..1000) or `keys = "none"` (null keys, the sticky partitioner).
fn read_keys(t: &mut TableReader<'_>) -> Result<Option<u32>, LoadError> {
    let Some(node) = t.node("keys") else { return Ok(Some(1_000)) };
    if node.as_str() == Some("none") {
        return Ok(None);
    }
    let path = t.path("keys");
    let n = super::doc::expect_u64_in(t.source(), node, &path, 1, u64::from(u32::MAX)).map_err(|mut e| {
        e.expected = "a number of distinct keys from 1 to 4294967295, or \"none\" for null keys".to_string();
        e
    })?;
    Ok(Some(n as u32))
}

fn read_producer_config(t: &mut TableReader<'_>, model: &Model) -> Result<ProducerConfig, LoadError> {
    let mut c = model.producer_defaults.clone();
    if let Some(acks) = read_acks(t)? {
        c.acks = acks;
    }
    let idempotence = t.bool("enable.idempotence")?;
    if let Some(v) = t.u64_in("retries", 0, i32::MAX as u64)? {
        c.retries = v as u32;
    }
    let delivery_timeout_set = t.node("delivery.timeout.ms").is_some();
    set_ms(t, "delivery.timeout.ms", &mut c.delivery_timeout_us)?;
    set_ms(t, "request.timeout.ms", &mut c.request_timeout_us)?;
    set_ms(t, "retry.backoff.ms", &mut c.retry_backoff_us)?;
    set_ms(t, "retry.backoff.max.ms", &mut c.retry_backoff_max_us)?;
    set_ms(t, "metadata.max.age.ms", &mut c.metadata_max_age_us)?;
    if let Some(v) = t.ms_as_us("linger.ms")? {
        if v > MAX_MS_US {
            return Err(t.error_at("linger.ms", "at most Integer.MAX_VALUE ms", t.written_or("linger.ms", v)));
        }
        c.linger_us = v;
    }
    if let Some(v) = t.u64_in("batch.size", 1, i32::MAX as u64)? {
        c.batch_size = v;
    }
    if let Some(v) = t.u64_in("max.in.flight.requests.per.connection", 1, 1_000)? {
        c.max_in_flight_requests_per_connection = v as u32;
    }
    if let Some(v) = t.u64_in("max.request.size", 0, i32::MAX as u64)? {
        c.max_request_size = v;
    }
    resolve_idempotence(t, &mut c, idempotence, model.in_flight_over_5_is_an_error)?;
    // KafkaProducer.configureDeliveryTimeout: an explicit delivery.timeout.ms below linger.ms +
    // request.timeout.ms is an error; the default is raised to that sum.
    let floor = c.linger_us + c.request_timeout_us;
    if c.delivery_timeout_us < floor {
        if delivery_timeout_set {
            let found = format!("{}ms", c.delivery_timeout_us / 1000);
            let expected = "at least linger.ms + request.timeout.ms (KafkaProducer.configureDeliveryTimeout)";
            return Err(t.error_at("delivery.timeout.ms", expected, found));
        }
        c.delivery_timeout_us = floor;
    }
    Ok(c)
}

/// `acks`: "all", "-1", "0" or "1", as a string or a number.
fn read_acks(t: &mut TableReader<'_>) -> Result<Option<Acks>, LoadError> {
    let forms = ["all", "-1", "0", "1"].map(str::to_string).to_vec();
    t.shaped("acks", Shape::OneOf(forms)).shaped("acks", Shape::Integer { min: -1, max: 1 });
    let Some(node) = t.node("acks") else { return Ok(None) };
    let text = match &node.value {
        Value::Str(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        other => return Err(t.error_at("acks", "one of \"all\", \"-1\", \"0\", \"1\"", other.describe())),
    };
    match text.as_str() {
        "all" | "-1" => Ok(Some(Acks::All)),
        "1" => Ok(Some(Acks::Leader)),
        "0" => Ok(Some(Acks::None)),
        _ => Err(t.error_at("acks", "one of \"all\", \"-1\", \"0\", \"1\"", format!("\"{text}\""))),
    }
}

/// Idempotence needs acks=all and at most 5 requests in flight. Set explicitly, a conflict is a ConfigException;
/// left at its default, it is quietly turned off (KafkaProducer since 3.2, KAFKA-13598).
/// ProducerConfig.postProcessAndValidateIdempotenceConfigs: with idempotence on (by default or explicitly),
/// `retries = 0` or `acks` other than all turn default idempotence off and are errors with an explicit
/// `enable.idempotence = true`; `max.in.flight.requests.per.connection` above 5 is an error in Kafka 4.0 even
/// with default idempotence (3.x turned default idempotence off instead).
fn resolve_idempotence(
    t: &TableReader<'_>,
    c: &mut ProducerConfig,
    explicit: Option<bool>,
    in_flight_over_5_is_an_error: bool,
) -> Result<(), LoadError> {
    c.enable_idempotence = explicit.unwrap_or(c.enable_idempotence);
    if !c.enable_idempotence {
        return Ok(());
    }
    let in_flight = c.max_in_flight_requests_per_connection;
    let conflicts = [
        (
            c.retries == 0,
            "retries",
            "non-zero when the producer is idempotent (ProducerConfig)",
            "0".to_string(),
            false,
        ),
        (
            c.acks != Acks::All,
            "acks",
            "acks=all when enable.idempotence=true (ProducerConfig)",
            "another acks".to_string(),
            false,
        ),
        (
            in_flight > 5,
            "max.in.flight.requests.per.connection",
            "at most 5 when the producer is idempotent (ProducerConfig; enable.idempotence = false to allow more)",
            in_flight.to_string(),
            in_flight_over_5_is_an_error,
        ),
    ];
    for (conflict, key, expected, found, always_an_error) in conflicts {
        if !conflict {
            continue;
        }
        if explicit == Some(true) || always_an_error {
            return Err(t.error_at(key, expected, found));
        }
        c.enable_idempotence = false;
    }
    Ok(())
}

fn read_faults(
    top: &mut TableReader<'_>,
    cluster: &ClusterSpec,
    end_us: u64,
) -> Result<Vec<ScheduledFault>, LoadError> {
    let src = top.source();
    let nodes = top.array("faults")?.unwrap_or(&[]);
    let mut faults = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let mut t = expect_table(src, node, &format!("faults[{i}]"), true)?;
        let when = read_when(&mut t, cluster)?;
        let at_us_value = t.duration_us("at")?;
        let at_us = match (at_us_value, &when) {
            // A trigger is watched from `at`, or from the start.
            (None, Some(_)) => 0,
            _ => t.required("at", at_us_value, "the time the fault fires, e.g. \"20s\" (or a `when` condition)")?,
        };
        if at_us > end_us {
            return Err(t.error_at("at", "a time within the scenario's duration", t.written_or("at", at_us)));
        }
        let kinds = [
            "crash",
            "restart",
            "shutdown",
            "pause",
            "resume",
            "isolate",
            "partition",
            "cut",
            "repair",
            "hold",
            "release",
            "degrade",
            "heal",
            "delay-metadata",
            "reset-offsets",
            "seek",
            "stop-polling",
            "resume-polling",
            "elect-leaders",
        ];
        let kind_value = t.one_of("action", &kinds)?;
        let kind = t.required("action", kind_value, "an action")?;
        let action = read_fault_action(&mut t, kind, cluster, FaultRef { triggered: when.is_some(), index: i })?;
        t.finish()?;
        faults.push(ScheduledFault { at_us, when, action });
    }
    Ok(faults)
}

/// The most times one trigger may fire.
const MAX_REPEAT: u64 = 1_000;

/// `when` (a condition, see `scenario::when`), with `delay` (after the condition holds; 0 by default) and
/// `repeat` (how many times it may fire; once by default).
fn read_when(t: &mut TableReader<'_>, cluster: &ClusterSpec) -> Result<Option<When>, LoadError> {
    let Some(text) = t.str("when")? else {
        for key in ["delay", "repeat"] {
            if t.node(key).is_some() {
                return Err(t.error_at(key, "a `when` condition for it to apply to", "no `when`"));
            }
        }
        return Ok(None);
    };
    let condition =
        parse_condition(text, cluster).map_err(|expected| t.error_at("when", expected, format!("\"{text}\"")))?;
    let delay_us = t.duration_us("delay")?.unwrap_or(0);
    if delay_us > MAX_DURATION_US {
        return Err(t.error_at("delay", "a duration up to 24h", t.written_or("delay", delay_us)));
    }
    let repeat = t.u64_in("repeat", 1, MAX_REPEAT)?.unwrap_or(1) as u32;
    Ok(Some(When { condition, delay_us, repeat }))
}

/// Where a fault stands for its targets: whether it has a `when` (for "that leader"), and its index (for "the
/// target of fault N", which must name an earlier one).
#[derive(Clone, Copy)]
struct FaultRef {
    triggered: bool,
    index: usize,
}

fn read_fault_action(
    t: &mut TableReader<'_>,
    kind: &str,
    cluster: &ClusterSpec,
    at: FaultRef,
) -> Result<FaultAction, LoadError> {
    let target = |t: &mut TableReader<'_>, key: &str| -> Result<Target, LoadError> {
        let text_value = t.str(key)?;
        let text = t.required(key, text_value, "a node or role, e.g. \"broker-2\" or \"leader of orders-0\"")?;
        fault_target(text, cluster, at).map_err(|expected| t.error_at(key, expected, format!("\"{text}\"")))
    };
    Ok(match kind {
        "crash" => {
            let target = target(t, "target")?;
            let page_cache_lost = t.bool("page_cache_lost")?.unwrap_or(false);
            let disk_lost = t.bool("disk_lost")?.unwrap_or(false);
            if page_cache_lost && disk_lost {
                return Err(t.error_at("disk_lost", "at most one of page_cache_lost and disk_lost", "both"));
            }
            let loss = match (page_cache_lost, disk_lost) {
                (_, true) => StorageLoss::Disk,
                (true, _) => StorageLoss::PageCache,
                _ => StorageLoss::Nothing,
            };
            FaultAction::Crash { target, loss }
        }
        "restart" => FaultAction::Restart { target: target(t, "target")? },
        "shutdown" => FaultAction::Shutdown { target: target(t, "target")? },
        "pause" => FaultAction::Pause { target: target(t, "target")? },
        "resume" => FaultAction::Resume { target: target(t, "target")? },
        "isolate" => FaultAction::Isolate { target: target(t, "target")? },
        "cut" => FaultAction::CutOneWay { from: target(t, "from")?, to: target(t, "to")? },
        "repair" if t.node("sides").is_some() => {
            let sides = t.array("sides")?.unwrap_or(&[]);
            match read_partition_sides(t, sides, cluster, at)? {
                FaultAction::Partition { side_a, side_b } => FaultAction::RepairSides { side_a, side_b },
                other => unreachable!("partition sides read as {other:?}"),
            }
        }
        "repair" => FaultAction::RepairOneWay { from: target(t, "from")?, to: target(t, "to")? },
        "hold" => FaultAction::Hold { from: target(t, "from")?, to: target(t, "to")? },
        "release" => FaultAction::Release { from: target(t, "from")?, to: target(t, "to")? },
        "degrade" => {
            let (from, to) = (target(t, "from")?, target(t, "to")?);
            let extra_latency_us = t.duration_us("latency")?;
            if extra_latency_us.is_some_and(|us| us > MAX_EXTRA_LATENCY_US) {
                return Err(t.error_at("latency", "an extra latency up to 60s", t.written_or("latency", 0)));
            }
            let loss = read_ratio(t, "loss")?;
            if extra_latency_us.is_none() && loss.is_none() {
                return Err(t.missing("latency", "`latency` (extra, e.g. \"50ms\") or `loss` (e.g. \"1/100\") or both"));
            }
            FaultAction::Degrade { from, to, extra_latency_us: extra_latency_us.unwrap_or(0), loss }
        }
        "delay-metadata" => {
            let target = target(t, "target")?;
            let duration_value = t.duration_us("duration")?;
            let duration_us = t.required("duration", duration_value, "how long updates are withheld, e.g. \"20s\"")?;
            if duration_us == 0 || duration_us > MAX_DURATION_US {
                return Err(t.error_at(
                    "duration",
                    "a duration from 1us to 24h",
                    t.written_or("duration", duration_us),
                ));
            }
            FaultAction::DelayMetadata { target, duration_us }
        }
        "reset-offsets" => read_reset_offsets(t, cluster)?,
        "seek" => {
            let target = target(t, "target")?;
            let name_value = t.str("partition")?;
            let name = t.required("partition", name_value, "the partition to seek in, e.g. \"orders-0\"")?;
            let Some(partition) = cluster.find_partition(name) else {
                return Err(t.error_at("partition", "a partition such as \"orders-0\"", format!("\"{name}\"")));
            };
            FaultAction::Seek { target, partition, to: read_reset_to(t)? }
        }
        "stop-polling" => FaultAction::StopPolling { target: target(t, "target")? },
        "resume-polling" => FaultAction::ResumePolling { target: target(t, "target")? },
        "elect-leaders" => read_elect_leaders(t, cluster)?,
        "partition" => {
            let sides_value = t.array("sides")?;
            let sides = t.required(
                "sides",
                sides_value,
                "two lists of nodes, e.g. [[\"broker-1\"], [\"broker-2\", \"controller\"]]",
            )?;
            read_partition_sides(t, sides, cluster, at)?
        }
        _ => FaultAction::Heal,
    })
}

/// The most extra latency a `degrade` may add to a link.
const MAX_EXTRA_LATENCY_US: u64 = 60_000_000;

/// A probability written as "N/D" (integers, 0 ≤ N ≤ D, 1 ≤ D ≤ 1,000,000), so it means the same everywhere.
fn read_ratio(t: &mut TableReader<'_>, key: &str) -> Result<Option<Ratio>, LoadError> {
    let Some(text) = t.str(key)? else { return Ok(None) };
    let parsed =
        text.split_once('/').and_then(|(n, d)| Some((n.trim().parse::<u32>().ok()?, d.trim().parse::<u32>().ok()?)));
    match parsed {
        Some((n, d)) if (1..=1_000_000).contains(&d) && n <= d => Ok(Some(Ratio::new(n, d))),
        _ => Err(t.error_at(
            key,
            "a ratio \"N/D\" with 0 <= N <= D and 1 <= D <= 1000000, e.g. \"1/100\"",
            format!("\"{text}\""),
        )),
    }
}

/// `action = "elect-leaders"` (kafka-leader-election.sh): `election_type` = "preferred" or "unclean", and
/// `partition` = "T-N", or every partition when absent (--all-topic-partitions).
fn read_elect_leaders(t: &mut TableReader<'_>, cluster: &ClusterSpec) -> Result<FaultAction, LoadError> {
    let kind_value = t.one_of("election_type", &["preferred", "unclean"])?;
    let kind = t.required("election_type", kind_value, "\"preferred\" or \"unclean\"")?;
    let election = if kind == "unclean" { ElectionType::Unclean } else { ElectionType::Preferred };
    let partition = match t.str("partition")? {
        None => None,
        Some(name) => match cluster.find_partition(name) {
            Some(p) => Some(p),
            None => return Err(t.error_at("partition", "a partition such as \"orders-0\"", format!("\"{name}\""))),
        },
    };
    Ok(FaultAction::ElectLeaders { election, partition })
}

/// `action = "reset-offsets"`: `group.id`, `topic`, and `to` = "earliest", "latest" or an offset, or
/// `to_datetime` = a simulated time.
fn read_reset_offsets(t: &mut TableReader<'_>, cluster: &ClusterSpec) -> Result<FaultAction, LoadError> {
    let group_name = t.str("group.id")?;
    let group_name = t.required("group.id", group_name, "the group.id to reset")?;
    let Some(group) = cluster.find_group(group_name) else {
        return Err(t.error_at(
            "group.id",
            format!("one of the groups: {}", cluster.groups.join(", ")),
            format!("\"{group_name}\""),
        ));
    };
    let topic_name = t.str("topic")?;
    let topic_name = t.required("topic", topic_name, "the topic whose offsets to reset")?;
    let Some(topic) = cluster.find_topic(topic_name) else {
        return Err(t.error_at("topic", "the name of a topic", format!("\"{topic_name}\"")));
    };
    Ok(FaultAction::ResetOffsets { group, topic, to: read_reset_to(t)? })
}

/// `to` = "earliest", "latest" or an offset, or `to_datetime` = a simulated time (`reset-offsets`, `seek`).
fn read_reset_to(t: &mut TableReader<'_>) -> Result<ResetTo, LoadError> {
    if let Some(at) = t.duration_us("to_datetime")? {
        return Ok(ResetTo::Datetime(SimTime(at)));
    }
    let Some(node) = t.node("to") else {
        return Err(t.missing("to", "\"earliest\", \"latest\" or an offset (or to_datetime = a time)"));
    };
    Ok(match &node.value {
        Value::Str(s) if s == "earliest" => ResetTo::Earliest,
        Value::Str(s) if s == "latest" => ResetTo::Latest,
        Value::Int(n) if *n >= 0 => ResetTo::Offset(*n as u64),
        other => return Err(t.error_at("to", "\"earliest\", \"latest\" or an offset >= 0", other.describe())),
    })
}

fn read_partition_sides(
    t: &TableReader<'_>,
    sides: &[Node],
    cluster: &ClusterSpec,
    at: FaultRef,
) -> Result<FaultAction, LoadError> {
    let src = t.source();
    let path = t.path("sides");
    if sides.len() != 2 {
        return Err(t.error_at("sides", "exactly two sides", format!("{} sides", sides.len())));
    }
    let mut out = Vec::new();
    for (i, side) in sides.iter().enumerate() {
        let side_path = format!("{path}[{i}]");
        let mut targets = Vec::new();
        for (j, node) in expect_array(src, side, &side_path)?.iter().enumerate() {
            let item_path = format!("{side_path}[{j}]");
            let text = expect_str(src, node, &item_path)?;
            let target = fault_target(text, cluster, at)
                .map_err(|expected| LoadError::at_node(src, node, &item_path, expected))?;
            targets.push(target);
        }
        out.push(targets);
    }
    let side_b = out.pop().unwrap_or_default();
    let side_a = out.pop().unwrap_or_default();
    Ok(FaultAction::Partition { side_a, side_b })
}

/// A fault's target: a node or role, what an earlier fault hit ("the target of fault N", N from 0 in file
/// order), or (for a fault with a `when`) what its condition saw.
fn fault_target(text: &str, cluster: &ClusterSpec, at: FaultRef) -> Result<Target, String> {
    if let Some(n) = text.trim().strip_prefix("the target of fault ") {
        return match n.parse::<usize>() {
            Ok(n) if n < at.index => Ok(Target::TargetOf(n)),
            _ => Err(format!(
                "\"the target of fault N\" with N an earlier fault's index, from 0 to {}",
                at.index.saturating_sub(1)
            )),
        };
    }
    let seen = match text.trim() {
        "that leader" => Some(Target::ThatLeader),
        "that broker" => Some(Target::ThatBroker),
        _ => None,
    };
    match seen {
        Some(target) if at.triggered => Ok(target),
        Some(_) => Err("a node or role: \"that leader\" and \"that broker\" need a `when` condition".to_string()),
        None => parse_target(text, cluster).ok_or_else(|| target_help(cluster)),
    }
}

fn target_help(cluster: &ClusterSpec) -> String {
    format!(
        "a node (broker-1..broker-{}, controller-1..controller-{}, a producer's or consumer's name) or a role (\"leader of TOPIC-N\", \"a follower of TOPIC-N\", \"the active controller\", \"the coordinator of group G\", \"a member of group G\", \"the owner of TOPIC-N in group G\", \"a broker\", \"a consumer\", \"last stopped\", \"the target of fault N\")",
        cluster.broker_count, cluster.controller_count
    )
}

/// Node names and roles: `broker-2`, `controller-1`, `controller` (the active one), a producer's name, `leader of orders-0`,
/// `a follower of orders-0`, `the active controller`, `last stopped`.
pub fn parse_target(text: &str, cluster: &ClusterSpec) -> Option<Target> {
    let text = text.trim();
    if let Some(p) = text.strip_prefix("leader of ").or_else(|| text.strip_prefix("the leader of ")) {
        return cluster.find_partition(p.trim()).map(Target::LeaderOf);
    }
    if let Some(p) = text.strip_prefix("a follower of ") {
        return cluster.find_partition(p.trim()).map(Target::FollowerOf);
    }
    match text {
        "controller" | "the active controller" | "active controller" => return Some(Target::Controller),
        "last stopped" => return Some(Target::LastStopped),
        "a broker" => {
            return Some(Target::OneOf((1..=cluster.broker_count).map(|b| cluster.broker_node(BrokerId(b))).collect()));
        }
        "a consumer" if !cluster.consumers.is_empty() => {
            return Some(Target::OneOf(
                (0..cluster.consumers.len() as u32).map(|c| cluster.consumer_node(c)).collect(),
            ));
        }
        _ => {}
    }
    if let Some(n) = text.strip_prefix("controller-").and_then(|n| n.parse::<u32>().ok()) {
        return (1..=cluster.controller_count).contains(&n).then(|| Target::Node(cluster.controller_node(n - 1)));
    }
    if let Some(n) = text.strip_prefix("broker-").and_then(|n| n.parse::<u32>().ok()) {
        return (1..=cluster.broker_count).contains(&n).then(|| Target::Node(cluster.broker_node(BrokerId(n))));
    }
    if let Some(c) = cluster.consumers.iter().position(|c| c.name == text) {
        return Some(Target::Node(cluster.consumer_node(c as u32)));
    }
    if let Some(group) = text.strip_prefix("the coordinator of group ") {
        return cluster.find_group(group.trim()).and_then(|g| cluster.offsets_partition_of(g)).map(Target::LeaderOf);
    }
    if let Some(rest) = text.strip_prefix("the owner of ")
        && let Some((partition, group)) = rest.split_once(" in group ")
    {
        let g = cluster.find_group(group.trim())?;
        return cluster.find_partition(partition.trim()).map(|p| Target::OwnerOf(g, p));
    }
    if let Some(group) = text.strip_prefix("a member of group ") {
        let members: Vec<_> = (0..cluster.consumers.len() as u32)
            .filter(|&c| cluster.group_name(cluster.consumers[c as usize].group) == group.trim())
            .map(|c| cluster.consumer_node(c))
            .collect();
        return (!members.is_empty()).then_some(Target::OneOf(members));
    }
    let producer = cluster.producers.iter().position(|p| p.name == text)?;
    Some(Target::Node(cluster.producer_node(ClientId(producer as u32))))
}
