//! The `[[consumers]]` tables: group members, what they subscribe to, how they commit, Kafka's consumer configs
//! under their own names; and the internal `__consumer_offsets` topic that groups need.

use super::doc::{LoadError, Node, TableReader, Value, expect_array, expect_str, expect_table, parse_duration_us};
use crate::engine::SimTime;
use crate::engine::time::US_PER_MS;
use crate::kafka::assignor::Assignor;
use crate::kafka::cluster::ResetTo;
use crate::kafka::config::{CommitStrategy, ConsumerConfig, GroupConfig, OffsetReset, TopicConfig};
use crate::kafka::ids::{GroupId, PartitionId, TopicId};
use crate::kafka::spec::{ConsumerSpec, OFFSETS_TOPIC, PartitionSpec, PoisonPolicy, ProducerSpec, assign_replicas};

const MAX_MS_US: u64 = i32::MAX as u64 * 1_000;

/// A processor stage's output: the topics it writes to, how many records per input, and for a router which
/// topic each input producer's types go to (`produce.*`).
#[derive(Clone, Debug)]
pub struct StageOutput {
    pub topics: Vec<TopicId>,
    pub fan_out: u32,
    pub route: Option<Vec<Vec<u32>>>,
}

/// The consumers (with, for processor stages, what they write), and the group names they use (in order of
/// first appearance).
pub type Consumers = (Vec<(ConsumerSpec, Option<StageOutput>)>, Vec<String>);

pub fn read_consumers(
    top: &mut TableReader<'_>,
    topics: &[TopicConfig],
    producers: &[ProducerSpec],
) -> Result<Consumers, LoadError> {
    let src = top.source();
    let nodes = top.array("consumers")?.unwrap_or(&[]);
    let mut consumers: Vec<(ConsumerSpec, Option<StageOutput>)> = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    let mut own_groups: Vec<(GroupId, usize)> = Vec::new();
    // Each consumer's table index.
    let mut tables: Vec<usize> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let mut t = expect_table(src, node, &format!("consumers[{i}]"), true)?;
        let spec = read_consumer(&mut t, topics, &mut groups, i)?;
        let stage = read_stage_output(&mut t, topics, producers, &spec.topics)?;
        let copies = t.u64_in("instances", 1, 100)?.unwrap_or(1);
        check_with_state(&t, &spec, stage.is_some(), copies)?;
        // Each instance of a processor stage brings its own producer.
        let per_instance = if stage.is_some() { 2 } else { 1 };
        let stages = consumers.iter().filter(|(_, s)| s.is_some()).count();
        let clients = producers.len() + consumers.len() + stages + copies as usize * per_instance;
        if clients > super::load::MAX_CLIENTS {
            let expected = format!(
                "at most {} clients in all (producers, consumer instances and their stages' producers), not {clients}",
                super::load::MAX_CLIENTS
            );
            return Err(t.error_at("instances", expected, copies.to_string()));
        }
        t.finish()?;
        for n in 1..=copies {
            let mut c = spec.clone();
            if copies > 1 {
                c.name = format!("{}-{n}", spec.name);
            }
            if copies > 1
                && let Some(id) = &spec.config.group_instance_id
            {
                c.config.group_instance_id = Some(format!("{id}-{n}"));
            }
            let taken = consumers.iter().any(|(x, _)| x.name == c.name) || producers.iter().any(|p| p.name == c.name);
            if taken || c.name.starts_with("broker-") || c.name.starts_with("controller") {
                return Err(LoadError::at_node(
                    src,
                    node,
                    &format!("consumers[{i}].name"),
                    "a name no other node uses",
                ));
            }
            if c.without_group_id {
                groups.push(c.name.clone());
                c.group = GroupId(groups.len() as u32 - 1);
                own_groups.push((c.group, i));
            }
            consumers.push((c, stage.clone()));
            tables.push(i);
        }
    }
    // With offsets in its own store, a subscribing consumer must be its group's only member: another member
    // given its partitions would not find them.
    for ((c, _), &i) in consumers.iter().zip(&tables) {
        let members = consumers.iter().filter(|(x, _)| x.group == c.group).count();
        if c.config.commit == CommitStrategy::WithState && c.assign.is_none() && members > 1 {
            let expected = "the only member of its group (the state store is the consumer's own), or `assign`";
            return Err(LoadError::at_node(src, &nodes[i], &format!("consumers[{i}].commit"), expected));
        }
    }
    // A consumer without group.id is reported under its own name: no group.id may take it.
    for &(group, i) in &own_groups {
        if consumers.iter().filter(|(c, _)| c.group == group).count() > 1 {
            let expected = "a name no group.id uses (a consumer without group.id is reported under its name)";
            return Err(LoadError::at_node(src, &nodes[i], &format!("consumers[{i}].name"), expected));
        }
    }
    Ok((consumers, groups))
}

/// `commit = "with-state"` keeps offsets in the application's own store, which the model keeps on the
/// consumer's node: so one consumer per group (or a manual assignment), and no stage output, whose writes would
/// need Kafka transactions to join the store's (not modelled).
fn check_with_state(t: &TableReader<'_>, spec: &ConsumerSpec, stage: bool, copies: u64) -> Result<(), LoadError> {
    if spec.config.commit != CommitStrategy::WithState {
        return Ok(());
    }
    if stage {
        let expected = "a consumer that writes nothing (a stage's writes would need Kafka transactions)";
        return Err(t.error_at("commit", expected, "\"with-state\" on a processor stage"));
    }
    if spec.assign.is_none() && copies > 1 {
        let expected = "one instance (the state store is the consumer's own), or `assign`";
        return Err(t.error_at("instances", expected, copies.to_string()));
    }
    Ok(())
}

fn read_consumer(
    t: &mut TableReader<'_>,
    topics: &[TopicConfig],
    groups: &mut Vec<String>,
    i: usize,
) -> Result<ConsumerSpec, LoadError> {
    let name = t.str("name")?.map_or_else(|| format!("consumer-{}", i + 1), str::to_string);
    let assign = read_assignment(t, topics)?;
    let group_value = t.str("group.id")?;
    let without_group_id = group_value.is_none() && assign.is_some();
    let group = match group_value {
        Some(group_name) => GroupId(groups.iter().position(|g| g == group_name).unwrap_or_else(|| {
            groups.push(group_name.to_string());
            groups.len() - 1
        }) as u32),
        // Given its own group name per instance once the instances are named (read_consumers).
        None if without_group_id => GroupId(u32::MAX),
        None => return Err(t.missing("group.id", "the consumer's group.id (or `assign`, for one without a group)")),
    };
    let topic_indexes = match &assign {
        Some(partitions) => assigned_topics(topics, partitions),
        None => read_subscription(t, topics)?,
    };
    let seek = read_initial_seek(t, assign.is_some())?;
    let start_us = t.duration_us("start")?.unwrap_or(1_000_000);
    let processing_time_us = t.duration_us("processing_time")?.unwrap_or(1_000);
    let processing_time_max_us = t.duration_us("processing_time_max")?.unwrap_or(processing_time_us);
    if processing_time_max_us < processing_time_us {
        return Err(t.error_at(
            "processing_time_max",
            "at least processing_time",
            t.written_or("processing_time_max", processing_time_max_us),
        ));
    }
    let config = read_consumer_config(t, without_group_id)?;
    let on_poison = match t.one_of("on_poison", &["fail", "skip"])? {
        Some("skip") => PoisonPolicy::Skip,
        _ => PoisonPolicy::Fail,
    };
    let restart_delay_us = t.duration_us("restart_delay")?.unwrap_or(5_000_000);
    let channel = t.u64_in("channel", 0, 1_000)?.map(|c| c as u32);
    Ok(ConsumerSpec {
        name,
        group,
        topics: topic_indexes,
        assign: assign.map(|ps| ps.into_iter().map(|(p, _)| p).collect()),
        without_group_id,
        seek,
        config,
        processing_time_us,
        processing_time_max_us,
        start_us,
        on_poison,
        restart_delay_us,
        stage_producer: None,
        channel,
    })
}

/// `assign = ["orders-0", ...]`: partitions that exist, each once, instead of `topics` (KafkaConsumer.assign).
/// Partition ids follow the topics' order, as the cluster numbers them.
fn read_assignment(
    t: &mut TableReader<'_>,
    topics: &[TopicConfig],
) -> Result<Option<Vec<(PartitionId, usize)>>, LoadError> {
    let Some(node) = t.node("assign") else { return Ok(None) };
    if t.has("topics") {
        return Err(t.error_at("topics", "either topics (subscribe) or assign (manual assignment)", "both"));
    }
    let path = t.path("assign");
    let items = expect_array(t.source(), node, &path)?;
    let mut out: Vec<(PartitionId, usize)> = Vec::new();
    for (j, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{j}]");
        let name = expect_str(t.source(), item, &item_path)?;
        let Some(found) = find_partition(topics, name).filter(|found| !out.contains(found)) else {
            let expected = "a partition of the scenario's topics, such as \"orders-0\", listed once";
            return Err(LoadError::at(t.source(), item.span.clone(), item_path, expected, format!("\"{name}\"")));
        };
        out.push(found);
    }
    if out.is_empty() {
        return Err(t.error_at("assign", "at least one partition", "an empty list"));
    }
    Ok(Some(out))
}

/// "T-N" among the user topics: its partition id (partitions are numbered topic by topic) and its topic.
fn find_partition(topics: &[TopicConfig], name: &str) -> Option<(PartitionId, usize)> {
    let (topic_name, number) = name.rsplit_once('-')?;
    let number: u32 = number.parse().ok()?;
    let topic = topics.iter().position(|x| x.name == topic_name && x.name != OFFSETS_TOPIC)?;
    let before: u32 = topics[..topic].iter().map(|x| x.partitions).sum();
    (number < topics[topic].partitions).then_some((PartitionId(before + number), topic))
}

/// The topics of the assigned partitions, each once, in order of first appearance.
fn assigned_topics(topics: &[TopicConfig], partitions: &[(PartitionId, usize)]) -> Vec<TopicId> {
    let mut out: Vec<TopicId> = Vec::new();
    for &(_, topic) in partitions {
        let id = TopicId(topic as u32);
        if !out.contains(&id) && topic < topics.len() {
            out.push(id);
        }
    }
    out
}

/// `seek = "earliest" | "latest" | N | "12s"` (the first offset whose timestamp is at or after that simulated
/// time, offsetsForTimes): where the application seeks each assigned partition after `assign()`.
fn read_initial_seek(t: &mut TableReader<'_>, assigned: bool) -> Result<Option<ResetTo>, LoadError> {
    let Some(node) = t.node("seek") else { return Ok(None) };
    if !assigned {
        let expected = "`assign` partitions to seek in (a group member seeks with a `seek` fault)";
        return Err(t.error_at("seek", expected, "a subscribing consumer"));
    }
    let datetime_us = node.as_str().and_then(parse_duration_us);
    let to = match (&node.value, datetime_us) {
        (_, Some(us)) => ResetTo::Datetime(SimTime(us)),
        (Value::Str(s), _) if s == "earliest" => ResetTo::Earliest,
        (Value::Str(s), _) if s == "latest" => ResetTo::Latest,
        (Value::Int(n), _) if *n >= 0 => ResetTo::Offset(*n as u64),
        (other, _) => {
            let expected = "\"earliest\", \"latest\", an offset >= 0 or a time such as \"12s\"";
            return Err(t.error_at("seek", expected, other.describe()));
        }
    };
    Ok(Some(to))
}

/// `produce.topic` / `produce.fan_out`: a processor stage writes `fan_out` records to `topic` for each record
/// it processes. Or `produce.route = { TYPE = "topic", ... }`: a router writes each record to the topic of its
/// type (pattern D).
fn read_stage_output(
    t: &mut TableReader<'_>,
    topics: &[TopicConfig],
    producers: &[ProducerSpec],
    subscribed: &[TopicId],
) -> Result<Option<StageOutput>, LoadError> {
    let fan_out = t.u64_in("produce.fan_out", 1, 100)?;
    let routed = t.keys_under("produce.route.");
    if !routed.is_empty() {
        if t.node("produce.topic").is_some() || fan_out.is_some() {
            return Err(t.error_at("produce.route", "a route alone (no produce.topic or produce.fan_out)", "both"));
        }
        return read_route(t, &routed, topics, producers, subscribed).map(Some);
    }
    let Some(name) = t.str("produce.topic")? else {
        return match fan_out {
            Some(_) => Err(t.missing("produce.topic", "the topic a processor stage writes to")),
            None => Ok(None),
        };
    };
    let Some(topic) = topics.iter().position(|x| x.name == name && x.name != OFFSETS_TOPIC) else {
        return Err(t.error_at("produce.topic", "the name of a topic", format!("\"{name}\"")));
    };
    Ok(Some(StageOutput { topics: vec![TopicId(topic as u32)], fan_out: fan_out.unwrap_or(1) as u32, route: None }))
}

/// `produce.route.TYPE = "topic"` for every type of every producer writing to the subscribed topics.
fn read_route(
    t: &mut TableReader<'_>,
    keys: &[String],
    topics: &[TopicConfig],
    producers: &[ProducerSpec],
    subscribed: &[TopicId],
) -> Result<StageOutput, LoadError> {
    let mut out_topics: Vec<TopicId> = Vec::new();
    let mut by_type: Vec<(String, u32)> = Vec::new();
    for key in keys {
        let name = t.str(key)?.unwrap_or_default();
        let Some(topic) = topics.iter().position(|x| x.name == name && x.name != OFFSETS_TOPIC) else {
            return Err(t.error_at(key, "the name of a topic", format!("\"{name}\"")));
        };
        let topic = TopicId(topic as u32);
        if !out_topics.contains(&topic) {
            out_topics.push(topic);
        }
        let slot = out_topics.iter().position(|&x| x == topic).unwrap_or(0) as u32;
        by_type.push((key["produce.route.".len()..].to_string(), slot));
    }
    let mut route = Vec::new();
    for p in producers {
        let writes_input = p.topics.iter().any(|x| subscribed.contains(x));
        let mut slots = Vec::new();
        for (kind, _) in &p.types {
            match by_type.iter().find(|(k, _)| k == kind) {
                Some(&(_, slot)) => slots.push(slot),
                None if writes_input => {
                    let expected = format!("a route for every type the stage reads: {} writes {kind}", p.name);
                    return Err(t.error_at(&keys[0], expected, "no route for it"));
                }
                None => slots.push(0),
            }
        }
        if writes_input && p.types.is_empty() {
            let expected = format!("typed records to route: {} writes untyped records (give it `types`)", p.name);
            return Err(t.error_at(&keys[0], expected, "an untyped producer"));
        }
        route.push(slots);
    }
    Ok(StageOutput { topics: out_topics, fan_out: 1, route: Some(route) })
}

/// `topics = ["orders"]` (or a single name): topics that exist.
fn read_subscription(t: &mut TableReader<'_>, topics: &[TopicConfig]) -> Result<Vec<TopicId>, LoadError> {
    let path = t.path("topics");
    let Some(node) = t.node("topics") else { return Err(t.missing("topics", "the topics the consumer subscribes to")) };
    let names: Vec<&Node> = match &node.value {
        Value::Array(items) => items.iter().collect(),
        _ => vec![node],
    };
    let known: Vec<&str> = topics.iter().map(|x| x.name.as_str()).filter(|n| *n != OFFSETS_TOPIC).collect();
    let mut out = Vec::new();
    for (j, item) in names.iter().enumerate() {
        let name = expect_str(t.source(), item, &format!("{path}[{j}]"))?;
        let Some(index) = topics.iter().position(|x| x.name == name && x.name != OFFSETS_TOPIC) else {
            let expected = format!("one of the topics: {}", known.join(", "));
            return Err(LoadError::at(
                t.source(),
                item.span.clone(),
                format!("{path}[{j}]"),
                expected,
                format!("\"{name}\""),
            ));
        };
        out.push(TopicId(index as u32));
    }
    if out.is_empty() {
        return Err(t.error_at("topics", "at least one topic", "an empty list"));
    }
    Ok(out)
}

fn read_consumer_config(t: &mut TableReader<'_>, without_group_id: bool) -> Result<ConsumerConfig, LoadError> {
    let mut c = ConsumerConfig::default();
    // KIP-289: without a group.id, enable.auto.commit defaults to false, and true is an
    // InvalidConfigurationException; commitSync/commitAsync throw InvalidGroupIdException.
    let auto = t.bool("enable.auto.commit")?.unwrap_or(!without_group_id);
    if auto && without_group_id {
        return Err(t.error_at("enable.auto.commit", "false: a consumer without group.id cannot commit", "true"));
    }
    let names = CommitStrategy::ALL.map(CommitStrategy::name);
    let commit = t.one_of("commit", &names)?.and_then(CommitStrategy::from_name);
    c.commit = match commit_strategy(commit, auto) {
        _ if without_group_id && commit.is_none() => CommitStrategy::Never,
        strategy @ (CommitStrategy::Never | CommitStrategy::WithState) => strategy,
        strategy if without_group_id => {
            let expected =
                "\"none\" or \"with-state\": a consumer without group.id cannot commit (InvalidGroupIdException)";
            return Err(t.error_at("commit", expected, format!("\"{}\"", strategy.name())));
        }
        strategy => strategy,
    };
    for (key, slot) in [
        ("auto.commit.interval.ms", &mut c.auto_commit_interval_us),
        ("fetch.max.wait.ms", &mut c.fetch_max_wait_us),
        ("heartbeat.interval.ms", &mut c.heartbeat_interval_us),
        ("session.timeout.ms", &mut c.session_timeout_us),
        ("max.poll.interval.ms", &mut c.max_poll_interval_us),
        ("request.timeout.ms", &mut c.request_timeout_us),
        ("retry.backoff.ms", &mut c.retry_backoff_us),
        ("retry.backoff.max.ms", &mut c.retry_backoff_max_us),
    ] {
        if let Some(us) = t.ms_as_us(key)? {
            if us == 0 || us > MAX_MS_US {
                return Err(t.error_at(key, "a duration from 1 ms to Integer.MAX_VALUE ms", t.written_or(key, us)));
            }
            *slot = us;
        }
    }
    if let Some(reset) = t.one_of("auto.offset.reset", &["earliest", "latest", "none"])? {
        c.auto_offset_reset = match reset {
            "earliest" => OffsetReset::Earliest,
            "none" => OffsetReset::None,
            _ => OffsetReset::Latest,
        };
    }
    if let Some(n) = t.u64_in("fetch.min.bytes", 0, i32::MAX as u64)? {
        c.fetch_min_bytes = n;
    }
    // ConsumerConfig: both at least 0, ints.
    if let Some(n) = t.u64_in("fetch.max.bytes", 0, i32::MAX as u64)? {
        c.fetch_max_bytes = n;
    }
    if let Some(n) = t.u64_in("max.partition.fetch.bytes", 0, i32::MAX as u64)? {
        c.max_partition_fetch_bytes = n;
    }
    if let Some(n) = t.u64_in("max.poll.records", 1, i32::MAX as u64)? {
        c.max_poll_records = n as u32;
    }
    c.group_instance_id = t.str("group.instance.id")?.map(str::to_string);
    if let Some(list) = read_assignors(t)? {
        c.assignors = list;
    }
    if c.heartbeat_interval_us >= c.session_timeout_us {
        return Err(t.error_at(
            "heartbeat.interval.ms",
            "less than session.timeout.ms (ConsumerConfig)",
            format!(
                "{} (session.timeout.ms {})",
                t.written_or("heartbeat.interval.ms", c.heartbeat_interval_us),
                t.written_or("session.timeout.ms", c.session_timeout_us)
            ),
        ));
    }
    Ok(c)
}

/// `commit`: how the application commits. Without it, `enable.auto.commit` decides (auto, or a synchronous
/// commit after each poll's batch).
fn commit_strategy(commit: Option<CommitStrategy>, auto: bool) -> CommitStrategy {
    match commit {
        Some(strategy) => strategy,
        None if auto => CommitStrategy::Auto,
        None => CommitStrategy::AfterProcessing { sync: true, per_record: false },
    }
}

/// `partition.assignment.strategy`: a list of assignor names (Kafka's short names).
fn read_assignors(t: &mut TableReader<'_>) -> Result<Option<Vec<Assignor>>, LoadError> {
    let path = t.path("partition.assignment.strategy");
    let Some(node) = t.node("partition.assignment.strategy") else { return Ok(None) };
    let items: Vec<&Node> = match &node.value {
        Value::Array(items) => items.iter().collect(),
        _ => vec![node],
    };
    let mut out = Vec::new();
    for (j, item) in items.iter().enumerate() {
        let names = Assignor::ALL.map(|a| a.name());
        let name = super::doc::expect_one_of(t.source(), item, &format!("{path}[{j}]"), &names)?;
        out.extend(Assignor::from_name(name));
    }
    if out.is_empty() {
        return Err(LoadError::at_node(t.source(), node, &path, "at least one assignor"));
    }
    Ok(Some(out))
}

/// Group coordinator settings under their Kafka names in `[broker]`.
pub fn read_group_config(t: &mut TableReader<'_>, broker_count: u32) -> Result<GroupConfig, LoadError> {
    let mut g = GroupConfig::default();
    if let Some(us) = t.ms_as_us("group.initial.rebalance.delay.ms")? {
        g.initial_rebalance_delay_us = us;
    }
    if let Some(n) = t.u64_in("offsets.topic.num.partitions", 1, 1_000)? {
        g.offsets_topic_partitions = n as u32;
    }
    if let Some(n) = t.u64_in("offsets.topic.replication.factor", 1, 64)? {
        g.offsets_topic_replication_factor = n as u32;
    }
    g.offsets_topic_replication_factor = g.offsets_topic_replication_factor.min(broker_count);
    // KafkaConfig: offsets.retention.minutes is an int, at least 1; the check interval a long, at least 1 ms.
    if let Some(minutes) = t.u64_in("offsets.retention.minutes", 1, i32::MAX as u64)? {
        g.offsets_retention_us = minutes * 60_000 * US_PER_MS;
    }
    if let Some(us) = t.ms_as_us("offsets.retention.check.interval.ms")? {
        g.offsets_retention_check_interval_us = us;
    }
    Ok(g)
}

/// Adds `__consumer_offsets` (offsets.topic.num.partitions × offsets.topic.replication.factor, capped at the
/// brokers) after the scenario's topics.
pub fn add_offsets_topic(
    topics: &mut Vec<TopicConfig>,
    partitions: &mut Vec<PartitionSpec>,
    group: &GroupConfig,
    broker_count: u32,
    min_insync_replicas: u32,
) {
    let topic = TopicId(topics.len() as u32);
    let rf = group.offsets_topic_replication_factor.min(broker_count);
    for (number, replicas) in assign_replicas(broker_count, group.offsets_topic_partitions, rf).into_iter().enumerate()
    {
        partitions.push(PartitionSpec { topic, number: number as u32, replicas });
    }
    topics.push(TopicConfig {
        name: OFFSETS_TOPIC.to_string(),
        partitions: group.offsets_topic_partitions,
        replication_factor: rf,
        min_insync_replicas,
        unclean_leader_election_enable: false,
        // The offsets topic is compacted, never deleted by time (cleanup.policy=compact).
        retention_us: None,
        retention_bytes: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_commit_value_names_its_strategy_back() {
        for strategy in CommitStrategy::ALL {
            assert_eq!(CommitStrategy::from_name(strategy.name()), Some(strategy));
        }
        assert_eq!(CommitStrategy::from_name("with_state"), None, "no name falls through to a strategy");
        let names: std::collections::BTreeSet<_> = CommitStrategy::ALL.map(CommitStrategy::name).into();
        assert_eq!(names.len(), CommitStrategy::ALL.len(), "one name each");
    }
}
