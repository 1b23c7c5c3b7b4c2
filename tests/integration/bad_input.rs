//! Bad scenario files: each gives one clear error (file, line, column, field path, what was expected) and nothing
//! ever panics, whatever the bytes. Expected positions are counted by hand from the texts below (1-based, in chars).

use insync::kafka::cluster::ResetTo;
use insync::kafka::config::CommitStrategy;
use insync::kafka::ids::{PartitionId, TopicId};
use insync::scenario::{LoadError, Scenario, load_str};
use proptest::collection::vec;
use proptest::prelude::*;
use std::path::PathBuf;
use std::process::{Command, Output};

/// A scenario written twice, as TOML and as JSON (nested dotted keys in one place, quoted in another).
const TWIN_TOML: &str = r#"name = "twin"
seed = 7
duration = "30s"

[cluster]
brokers = 4

[broker]
min.insync.replicas = 2

[[topics]]
name = "orders"
partitions = 3
replication.factor = 3

[[producers]]
name = "svc"
topic = "orders"
rate = 500
acks = "1"
enable.idempotence = false

[[faults]]
at = "10s"
action = "partition"
sides = [["leader of orders-0"], ["broker-2", "controller"]]

[[faults]]
at = "12s"
action = "crash"
target = "a follower of orders-1"
page_cache_lost = true
"#;

const TWIN_JSON: &str = r#"{
  "name": "twin",
  "seed": 7,
  "duration": "30s",
  "cluster": {"brokers": 4},
  "broker": {"min": {"insync": {"replicas": 2}}},
  "topics": [{"name": "orders", "partitions": 3, "replication.factor": 3}],
  "producers": [
    {"name": "svc", "topic": "orders", "rate": 500, "acks": "1", "enable": {"idempotence": false}}
  ],
  "faults": [
    {"at": "10s", "action": "partition", "sides": [["leader of orders-0"], ["broker-2", "controller"]]},
    {"at": "12s", "action": "crash", "target": "a follower of orders-1", "page_cache_lost": true}
  ]
}
"#;

/// The error `text` gives when loaded from `path`; fails the test if it loads.
fn load_err(path: &str, text: &str) -> LoadError {
    match load_str(path, text) {
        Ok(s) => panic!("{path} loaded as {:?} but should not have:\n{text}", s.name),
        Err(e) => e,
    }
}

fn load_ok(path: &str, text: &str) -> Scenario {
    load_str(path, text).unwrap_or_else(|e| panic!("{e}"))
}

/// Checks where the error points and which field it names.
fn assert_at(e: &LoadError, line: usize, column: usize, field: &str) {
    assert_eq!((e.line, e.column, e.field.as_str()), (line, column, field), "{e}");
    assert!(e.to_string().starts_with(&format!("{}:{line}:{column}: ", e.file)), "{e}");
}

#[test]
fn an_unknown_producer_key_suggests_the_known_one() {
    let text = "[[topics]]\nname = \"orders\"\n\n[[producers]]\ntopic = \"orders\"\nlingr.ms = 5\n";
    let e = load_err("bad.toml", text);
    assert_at(&e, 6, 1, "producers[0].lingr.ms");
    assert!(e.expected.contains("did you mean `linger.ms`?"), "{e}");
    assert_eq!(e.found, "unknown field `lingr.ms`");
    assert_eq!(e.file, "bad.toml");
}

#[test]
fn a_string_where_a_number_belongs_names_both() {
    let e = load_err("bad.toml", "[[topics]]\nname = \"orders\"\npartitions = \"six\"\n");
    assert_at(&e, 3, 14, "topics[0].partitions");
    assert_eq!(e.expected, "an integer from 1 to 10000");
    assert_eq!(e.found, "a string \"six\"");
}

#[test]
fn a_replication_factor_above_the_broker_count_gives_the_range() {
    let text = "[cluster]\nbrokers = 3\n\n[[topics]]\nname = \"orders\"\nreplication.factor = 5\n";
    let e = load_err("bad.toml", text);
    assert_at(&e, 6, 22, "topics[0].replication.factor");
    assert_eq!(e.expected, "an integer from 1 to 3");
    assert_eq!(e.found, "5");
}

#[test]
fn a_producer_on_an_unknown_topic_lists_the_topics() {
    let text = "[[topics]]\nname = \"orders\"\n\n[[topics]]\nname = \"audit\"\n\n[[producers]]\ntopic = \"ordrs\"\n";
    let e = load_err("bad.toml", text);
    assert_at(&e, 8, 9, "producers[0].topic");
    assert_eq!(e.expected, "one of the topics: orders, audit");
    assert_eq!(e.found, "\"ordrs\"");
}

const FAULT_HEAD: &str = "[[topics]]\nname = \"orders\"\n\n[[faults]]\nat = \"5s\"\n";

#[test]
fn an_unknown_fault_action_lists_the_actions() {
    let e = load_err("bad.toml", &format!("{FAULT_HEAD}action = \"explode\"\n"));
    assert_at(&e, 6, 10, "faults[0].action");
    assert!(e.expected.starts_with("one of \"crash\", \"restart\""), "{e}");
    assert!(e.expected.contains("\"heal\""), "{e}");
    assert_eq!(e.found, "a string \"explode\"");
    let e = load_err("bad.toml", &format!("{FAULT_HEAD}action = \"crsh\"\n"));
    assert_at(&e, 6, 10, "faults[0].action");
    assert!(e.expected.ends_with("did you mean \"crash\"?"), "{e}");
}

#[test]
fn a_fault_may_name_only_an_earlier_faults_target() {
    let e = load_err("bad.toml", &format!("{FAULT_HEAD}action = \"restart\"\ntarget = \"the target of fault 0\"\n"));
    assert_at(&e, 7, 10, "faults[0].target");
    assert!(e.expected.contains("an earlier fault's index"), "{e}");
    let text = format!(
        "{FAULT_HEAD}action = \"crash\"\ntarget = \"a broker\"\n\n[[faults]]\nat = \"9s\"\naction = \"restart\"\ntarget = \"the target of fault 0\"\n"
    );
    assert_eq!(load_ok("ok.toml", &text).sim.faults.len(), 2);
}

#[test]
fn a_nemesis_with_an_unknown_kind_lists_the_kinds() {
    let head = "[[topics]]\nname = \"orders\"\n\n[nemesis]\n";
    let e = load_err("bad.toml", &format!("{head}kinds = [\"crash\", \"meteor\"]\n"));
    assert_at(&e, 5, 19, "nemesis.kinds[1]");
    assert!(e.expected.starts_with("a fault kind: one of crash, leader-crash"), "{e}");
    let e = load_err("bad.toml", &format!("{head}interval = \"10ms\"\n"));
    assert_eq!((e.field.as_str(), e.expected.as_str()), ("nemesis.interval", "a mean interval from 1s to 24h"));
    let e = load_err("bad.toml", &format!("{head}quiet = \"70s\"\n"));
    assert_eq!(e.field, "nemesis.quiet");
    assert!(load_ok("ok.toml", &format!("{head}swarm = true\n")).sim.nemesis.is_some());
}

#[test]
fn a_target_naming_an_unknown_partition_explains_targets() {
    let e = load_err("bad.toml", &format!("{FAULT_HEAD}action = \"crash\"\ntarget = \"leader of nope-0\"\n"));
    assert_at(&e, 7, 10, "faults[0].target");
    assert!(e.expected.contains("\"leader of TOPIC-N\""), "{e}");
    assert!(e.expected.contains("broker-1..broker-3"), "{e}");
    assert_eq!(e.found, "\"leader of nope-0\"");
}

#[test]
fn a_bad_node_in_a_partition_side_points_at_that_node() {
    let text = format!("{FAULT_HEAD}action = \"partition\"\nsides = [[\"broker-1\"], [\"broker-9\"]]\n");
    let e = load_err("bad.toml", &text);
    assert_at(&e, 7, 25, "faults[0].sides[1][0]");
    assert!(e.expected.contains("broker-1..broker-3"), "{e}");
    assert_eq!(e.found, "a string \"broker-9\"");
    let e = load_err("bad.toml", &format!("{FAULT_HEAD}action = \"partition\"\nsides = [[\"broker-1\"]]\n"));
    assert_at(&e, 7, 9, "faults[0].sides");
    assert_eq!((e.expected.as_str(), e.found.as_str()), ("exactly two sides", "1 sides"));
}

#[test]
fn a_duration_without_a_known_unit_shows_the_forms() {
    let e = load_err("bad.toml", "duration = \"10 parsecs\"\n");
    assert_at(&e, 1, 12, "duration");
    assert!(e.expected.contains("\"250ms\""), "{e}");
    assert_eq!(e.found, "a string \"10 parsecs\"");
    let e = load_err("bad.toml", "name = \"x\"\nduration = 10\n");
    assert_at(&e, 2, 12, "duration");
    assert!(e.found.contains("add a unit, e.g. \"10ms\""), "{e}");
}

#[test]
fn a_toml_syntax_error_points_at_the_place() {
    let e = load_err("bad.toml", "[cluster]\nbrokers = \n");
    assert_at(&e, 2, 11, "");
    assert!(e.expected.starts_with("valid TOML ("), "{e}");
    assert_eq!(e.found, "end of line");
    let e = load_err("bad.toml", "name = \"x\"\nseed = 1\nname = \"y\"\n");
    assert_at(&e, 3, 1, "name");
    assert_eq!(e.found, "a duplicate key `name`");
}

#[test]
fn a_json_syntax_error_points_at_the_place() {
    let e = load_err("bad.json", "{\n  \"topics\": [\n    {\"name\": \"orders\",}\n  ]\n}\n");
    assert_at(&e, 3, 23, "topics[0]");
    assert_eq!(e.expected, "a string key in double quotes");
    assert_eq!(e.found, "`}`");
    let e = load_err("bad.json", "{\"seed\": 1,\n \"duration\": null}");
    assert_at(&e, 2, 14, "duration");
    assert!(e.expected.contains("null is not allowed"), "{e}");
}

#[test]
fn toml_text_in_a_json_file_is_a_json_error() {
    let e = load_err("scenario.JSON", TWIN_TOML);
    assert_at(&e, 1, 1, "");
    assert_eq!((e.expected.as_str(), e.found.as_str()), ("a JSON value", "`n`"));
}

#[test]
fn the_json_twin_loads_the_same_scenario() {
    let t = load_ok("twin.toml", TWIN_TOML);
    let j = load_ok("twin.json", TWIN_JSON);
    assert_eq!((t.name.as_str(), t.seed), (j.name.as_str(), j.seed));
    assert_eq!((t.sim.limits.end, t.sim.limits.max_events), (j.sim.limits.end, j.sim.limits.max_events));
    let (tc, jc) = (&t.sim.cluster, &j.sim.cluster);
    assert_eq!((tc.broker_count, tc.controller_count), (jc.broker_count, jc.controller_count));
    assert_eq!(tc.broker_config.min_insync_replicas, 2);
    assert_eq!(jc.broker_config.min_insync_replicas, 2);
    let topic = |s: &Scenario| {
        s.sim
            .cluster
            .topics
            .iter()
            .map(|t| (t.name.clone(), t.partitions, t.replication_factor, t.min_insync_replicas))
            .collect::<Vec<_>>()
    };
    assert_eq!(topic(&t), vec![("orders".to_string(), 3, 3, 2)]);
    assert_eq!(topic(&t), topic(&j));
    let replicas = |s: &Scenario| s.sim.cluster.partitions.iter().map(|p| p.replicas.clone()).collect::<Vec<_>>();
    assert_eq!(replicas(&t), replicas(&j));
    let (tp, jp) = (&tc.producers[0], &jc.producers[0]);
    assert_eq!((tp.name.as_str(), tp.rate_per_s, tp.config.acks), (jp.name.as_str(), jp.rate_per_s, jp.config.acks));
    assert!(!tp.config.enable_idempotence && !jp.config.enable_idempotence);
    assert_eq!(t.sim.faults, j.sim.faults);
    assert_eq!(t.sim.faults.len(), 2);
}

#[test]
fn an_empty_file_lacks_topics() {
    for (path, text) in [("empty.toml", ""), ("empty.json", "{}"), ("blank.toml", "\n# nothing\n")] {
        let e = load_err(path, text);
        assert_at(&e, 1, 1, "topics");
        assert_eq!(e.expected, "at least one [[topics]] table", "{e}");
        assert_eq!(e.found, "nothing (the field is missing)");
    }
    let e = load_err("empty.json", "");
    assert_at(&e, 1, 1, "");
    assert_eq!((e.expected.as_str(), e.found.as_str()), ("a JSON value", "end of input"));
}

#[test]
fn max_memory_is_refused_outside_its_range() {
    let e = load_err("m.toml", "max_memory = 1000\n[[topics]]\nname = \"t\"\n");
    assert_at(&e, 1, 14, "max_memory");
    assert_eq!(e.expected, "an integer from 16777216 to 1099511627776", "{e}");
    let s = load_ok("m.toml", "[[topics]]\nname = \"t\"\n");
    assert_eq!(s.sim.max_memory_bytes, 4 << 30, "4 GiB by default");
}

// More clients than the model runs within its limits are refused where the count crosses 10,000: at the
// producer table past it, or at the `instances` that take the consumers past it (a stage's instances count
// twice: each brings its producer).
#[test]
fn more_than_ten_thousand_clients_are_refused_at_load() {
    let mut text = String::from("[[topics]]\nname = \"t\"\n");
    for i in 0..100 {
        text.push_str(&format!(
            "[[consumers]]\nname = \"c{i}\"\ninstances = 100\ngroup.id = \"g\"\ntopics = [\"t\"]\n"
        ));
    }
    load_ok("c.toml", &text);
    text.push_str("[[producers]]\ntopic = \"t\"\n");
    let e = load_err("c.toml", &text);
    assert_eq!(e.field, "consumers[99].instances", "{e}");
    assert!(e.expected.starts_with("at most 10000 clients in all") && e.expected.ends_with("not 10001"), "{e}");
    let producers = "[[producers]]\ntopic = \"t\"\n".repeat(10_001);
    let e = load_err("p.toml", &format!("[[topics]]\nname = \"t\"\n{producers}"));
    assert_eq!((e.field.as_str(), e.line), ("producers[10000]", 3 + 2 * 10_000), "{e}");
}

/// A path in the temp dir no other test (or process) uses.
fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("insync-bad-input-{}-{name}", std::process::id()))
}

fn insync_run(path: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_insync")).arg("run").arg(path).output().expect("the insync binary runs")
}

#[test]
fn the_cli_exits_2_with_the_position_for_a_bad_file() {
    let path = temp_path("lingr.toml");
    let text = "[[topics]]\nname = \"orders\"\n\n[[producers]]\ntopic = \"orders\"\nlingr.ms = 5\n";
    std::fs::write(&path, text).expect("temp file written");
    let out = insync_run(&path);
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}:6:1: ", path.display())), "{stderr}");
    assert!(stderr.contains("linger.ms"), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn the_cli_exits_2_for_a_missing_file() {
    let path = temp_path("does-not-exist.toml");
    let out = insync_run(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
}

/// Loads `text` as TOML and as JSON; neither may panic, and an error must point inside the text.
fn load_both_ways(text: &str) -> Result<(), TestCaseError> {
    for path in ["fuzz.toml", "fuzz.json"] {
        if let Err(e) = load_str(path, text) {
            let lines = text.split('\n').count();
            prop_assert!(e.line >= 1 && e.line <= lines && e.column >= 1, "{} in {:?}", e, text);
            let prefix = format!("{path}:{}:{}: ", e.line, e.column);
            prop_assert!(e.to_string().starts_with(&prefix), "{} lacks {}", e, prefix);
        }
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Insert(usize, String),
    DuplicateLine(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), "[\\[\\]{}\",:.=#\\\\ \nA-Za-z0-9\u{e9}\u{1F600}-]{1,4}")
            .prop_map(|(at, s)| Mutation::Insert(at, s)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
    ]
}

/// The char boundary at `raw` (modulo the text's length in chars).
fn boundary(text: &str, raw: usize) -> usize {
    let chars = text.chars().count();
    text.char_indices().nth(raw % (chars + 1)).map_or(text.len(), |(i, _)| i)
}

fn apply(text: &mut String, m: &Mutation) {
    match m {
        Mutation::Delete(raw) if !text.is_empty() => {
            let at = boundary(text, raw % text.chars().count());
            text.remove(at);
        }
        Mutation::Delete(_) => {}
        Mutation::Insert(raw, s) => text.insert_str(boundary(text, *raw), s),
        Mutation::DuplicateLine(raw) => {
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            let Some(line) = lines.get(raw % lines.len().max(1)).map(|l| l.to_string()) else { return };
            let at = lines[..raw % lines.len()].concat().len();
            text.insert_str(at, &line);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..400)) {
        load_both_ways(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn syntax_soup_never_panics(text in "[\\[\\]{}\",:.=#\\\\ \n\tA-Za-z0-9_-]{0,300}") {
        load_both_ways(&text)?;
    }

    #[test]
    fn mutated_scenarios_never_panic(json in any::<bool>(), mutations in vec(mutation(), 1..=4)) {
        let mut text = if json { TWIN_JSON } else { TWIN_TOML }.to_string();
        for m in &mutations {
            apply(&mut text, m);
        }
        load_both_ways(&text)?;
    }
}

/// A producer of `orders` with the given extra lines, under `[model] producer_defaults = defaults`.
fn producer_with(defaults: &str, lines: &str) -> String {
    format!(
        "[model]\nproducer_defaults = \"{defaults}\"\n\n[[topics]]\nname = \"orders\"\n\n[[producers]]\ntopic = \"orders\"\n{lines}"
    )
}

// ProducerConfig.postProcessAndValidateIdempotenceConfigs: `retries = 0` turns default idempotence off, and
// contradicts an explicit `enable.idempotence = true` ("Must set retries to non-zero when using the idempotent
// producer").
#[test]
fn retries_zero_turns_default_idempotence_off_and_conflicts_with_an_explicit_one() {
    let s = load_ok("ok.toml", &producer_with("kafka-4", "retries = 0\n"));
    assert!(!s.sim.cluster.producers[0].config.enable_idempotence);
    let e = load_err("bad.toml", &producer_with("kafka-4", "retries = 0\nenable.idempotence = true\n"));
    assert_at(&e, 9, 11, "producers[0].retries");
}

// Kafka 4.0's ProducerConfig: max.in.flight.requests.per.connection above 5 with idempotence on — by default
// too — is a ConfigException; 3.x turned default idempotence off with a warning.
#[test]
fn more_than_five_in_flight_with_default_idempotence_is_an_error_in_kafka_4_only() {
    let e = load_err("bad.toml", &producer_with("kafka-4", "max.in.flight.requests.per.connection = 6\n"));
    assert_at(&e, 9, 41, "producers[0].max.in.flight.requests.per.connection");
    assert!(e.expected.contains("at most 5"), "{e}");
    let s = load_ok("ok.toml", &producer_with("kafka-3", "max.in.flight.requests.per.connection = 6\n"));
    assert!(!s.sim.cluster.producers[0].config.enable_idempotence);
    let s = load_ok(
        "ok.toml",
        &producer_with("kafka-4", "max.in.flight.requests.per.connection = 6\nenable.idempotence = false\n"),
    );
    assert_eq!(s.sim.cluster.producers[0].config.max_in_flight_requests_per_connection, 6);
}

// KafkaProducer.configureDeliveryTimeout: an unset delivery.timeout.ms below linger.ms + request.timeout.ms is
// raised to that sum; an explicit one is an error.
#[test]
fn an_unset_delivery_timeout_is_raised_and_an_explicit_short_one_refused() {
    let s = load_ok("ok.toml", &producer_with("kafka-4", "request.timeout.ms = 150000\n"));
    assert_eq!(s.sim.cluster.producers[0].config.delivery_timeout_us, 150_005_000, "linger.ms 5 + 150000");
    let e =
        load_err("bad.toml", &producer_with("kafka-4", "request.timeout.ms = 150000\ndelivery.timeout.ms = 120000\n"));
    assert_at(&e, 10, 23, "producers[0].delivery.timeout.ms");
}

// A `.ms` property is a whole number of milliseconds in Kafka: 1 µs is not one (and would make a zero-period
// timer).
#[test]
fn a_ms_property_below_a_millisecond_is_refused() {
    let e = load_err("bad.toml", "[broker]\nreplica.lag.time.max.ms = \"1us\"\n\n[[topics]]\nname = \"orders\"\n");
    assert_at(&e, 2, 27, "broker.replica.lag.time.max.ms");
    assert!(e.expected.contains("whole number of milliseconds"), "{e}");
}

// KafkaConfig: "replica.socket.timeout.ms should always be at least replica.fetch.wait.max.ms", and
// "replica.fetch.wait.max.ms should always be less than or equal to replica.lag.time.max.ms".
#[test]
fn replica_timeouts_are_checked_against_each_other_as_kafka_does() {
    let e = load_err("bad.toml", "[broker]\nreplica.socket.timeout.ms = 400\n\n[[topics]]\nname = \"orders\"\n");
    assert_at(&e, 2, 29, "broker.replica.socket.timeout.ms");
    let e = load_err("bad.toml", "[broker]\nreplica.lag.time.max.ms = 300\n\n[[topics]]\nname = \"orders\"\n");
    assert_at(&e, 2, 27, "broker.replica.lag.time.max.ms");
}

// Every phase of a run is bounded: the liveness phase as `duration` is.
#[test]
fn a_liveness_phase_beyond_a_day_is_refused() {
    let e = load_err(
        "bad.toml",
        "[[topics]]\nname = \"orders\"\n\n[expect]\nholds = [\"durability\"]\nliveness = \"25h\"\n",
    );
    assert_at(&e, 6, 12, "expect.liveness");
}

// kafka-leader-election.sh needs --election-type (preferred or unclean); a partition must exist.
#[test]
fn an_elect_leaders_fault_needs_a_known_type_and_partition() {
    let base = "[[topics]]\nname = \"orders\"\n\n[[faults]]\nat = \"1s\"\naction = \"elect-leaders\"\n";
    let e = load_err("bad.toml", &format!("{base}election_type = \"random\"\n"));
    assert_at(&e, 7, 17, "faults[0].election_type");
    let e = load_err("bad.toml", &format!("{base}election_type = \"preferred\"\npartition = \"orders-9\"\n"));
    assert_at(&e, 8, 13, "faults[0].partition");
    load_ok("ok.toml", &format!("{base}election_type = \"unclean\"\npartition = \"orders-0\"\n"));
}

#[test]
fn a_crash_losing_both_page_cache_and_disk_is_refused_at_the_second_key() {
    let text = "[[topics]]\nname = \"orders\"\n\n[[faults]]\nat = \"1s\"\naction = \"crash\"\ntarget = \"broker-1\"\n\
                page_cache_lost = true\ndisk_lost = true\n";
    let e = load_err("bad.toml", text);
    assert_at(&e, 9, 13, "faults[0].disk_lost");
    assert_eq!(e.expected, "at most one of page_cache_lost and disk_lost");
}

#[test]
fn offsets_retention_minutes_is_at_least_one() {
    let e = load_err("bad.toml", "[broker]\noffsets.retention.minutes = 0\n\n[[topics]]\nname = \"orders\"\n");
    assert_at(&e, 2, 29, "broker.offsets.retention.minutes");
}

#[test]
fn delay_metadata_needs_a_duration() {
    let text = "[[topics]]\nname = \"orders\"\n\n[[faults]]\nat = \"1s\"\naction = \"delay-metadata\"\ntarget = \"broker-1\"\n";
    let e = load_err("bad.toml", text);
    assert_eq!(e.field, "faults[0].duration", "{e}");
    assert!(e.expected.contains("how long updates are withheld"), "{e}");
}

/// A topic, then one consumer table whose keys are `consumer` (line 5 on).
fn with_consumer(consumer: &str) -> String {
    format!("[[topics]]\nname = \"audit\"\npartitions = 2\n[[consumers]]\n{consumer}")
}

// KafkaConsumer: a consumer without group.id cannot commit (KIP-289: auto-commit off, InvalidGroupIdException),
// subscribes to nothing and seeks only what it assigned.
#[test]
fn manual_assignment_is_refused_where_kafka_refuses_it() {
    let e = load_err("a.toml", &with_consumer("assign = [\"audit-0\"]\ncommit = \"sync-after-batch\"\n"));
    assert_at(&e, 6, 10, "consumers[0].commit");
    assert!(e.expected.contains("InvalidGroupIdException"), "{e}");
    let e = load_err("a.toml", &with_consumer("assign = [\"audit-0\"]\nenable.auto.commit = true\n"));
    assert_at(&e, 6, 22, "consumers[0].enable.auto.commit");
    let e = load_err("a.toml", &with_consumer("assign = [\"audit-0\"]\ntopics = [\"audit\"]\n"));
    assert_at(&e, 6, 10, "consumers[0].topics");
    let e = load_err("a.toml", &with_consumer("assign = [\"audit-0\", \"audit-2\"]\n"));
    assert_at(&e, 5, 22, "consumers[0].assign[1]");
    assert_eq!(e.found, "\"audit-2\"");
    let e = load_err("a.toml", &with_consumer("assign = [\"audit-0\", \"audit-0\"]\n"));
    assert_at(&e, 5, 22, "consumers[0].assign[1]");
    let e = load_err("a.toml", &with_consumer("group.id = \"g\"\ntopics = [\"audit\"]\nseek = \"earliest\"\n"));
    assert_at(&e, 7, 8, "consumers[0].seek");
    let e = load_err("a.toml", &with_consumer("assign = [\"audit-0\"]\nseek = \"soon\"\n"));
    assert_at(&e, 6, 8, "consumers[0].seek");
    let e = load_err("a.toml", &with_consumer("topics = [\"audit\"]\n"));
    assert_eq!(e.field, "consumers[0].group.id", "{e}");
}

#[test]
fn a_consumer_without_group_id_reads_its_partitions_and_seeks_where_asked() {
    let s = load_ok("a.toml", &with_consumer("name = \"r\"\nassign = [\"audit-1\"]\nseek = 7\n"));
    let c = &s.sim.cluster.consumers[0];
    assert_eq!(
        (c.assign.as_deref(), c.without_group_id, c.topics.as_slice()),
        (Some(&[PartitionId(1)][..]), true, &[TopicId(0)][..])
    );
    assert_eq!((c.config.commit, c.seek), (CommitStrategy::Never, Some(ResetTo::Offset(7))));
    assert_eq!(s.sim.cluster.group_name(c.group), "r", "reported under its own name");
    let s = load_ok("a.toml", &with_consumer("assign = [\"audit-0\"]\nseek = \"12s\"\n"));
    assert_eq!(s.sim.cluster.consumers[0].seek, Some(ResetTo::Datetime(insync::engine::SimTime(12_000_000))));
    // A group.id may not take a group-less consumer's name.
    let text =
        with_consumer("name = \"r\"\nassign = [\"audit-0\"]\n[[consumers]]\ngroup.id = \"r\"\ntopics = [\"audit\"]\n");
    assert_eq!(load_err("a.toml", &text).field, "consumers[0].name");
}

// The state store is the consumer's own: one instance per group, and no stage whose writes would need Kafka
// transactions to join it.
#[test]
fn offsets_with_the_state_are_refused_where_the_store_could_not_hold_them() {
    let e = load_err(
        "a.toml",
        &with_consumer("group.id = \"g\"\ntopics = [\"audit\"]\ncommit = \"with-state\"\ninstances = 2\n"),
    );
    assert_at(&e, 8, 13, "consumers[0].instances");
    let text =
        with_consumer("group.id = \"g\"\ntopics = [\"audit\"]\ncommit = \"with-state\"\nproduce.topic = \"audit\"\n");
    assert_eq!(load_err("a.toml", &text).field, "consumers[0].commit");
    let two = "group.id = \"g\"\ntopics = [\"audit\"]\ncommit = \"with-state\"\n[[consumers]]\ngroup.id = \"g\"\ntopics = [\"audit\"]\n";
    assert_eq!(load_err("a.toml", &with_consumer(two)).field, "consumers[0].commit");
}

// The first line stays `file:line:col: …` for editors and CI; under it, the source line with carets under the
// value, and a duration shown as the file wrote it.
#[test]
fn an_error_shows_its_source_line_with_carets_and_the_value_as_written() {
    let e = load_err("d.toml", "name = \"x\"\nduration = \"50h\"\n");
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "d.toml:2:12: field `duration`: expected a duration from 1us to 24h, found \"50h\"");
    assert_eq!(&lines[1..], ["  |", "2 | duration = \"50h\"", "  |            ^^^^^"], "{text}");
    let e =
        load_err("a.toml", "[[topics]]\nname = \"t\"\n[[producers]]\ntopic = \"t\"\nstart = \"9s\"\nstop = \"2s\"\n");
    assert_eq!(e.found, "\"2s\"", "{e}");
}

#[test]
fn a_missing_file_names_it_without_a_fake_position() {
    let missing = std::env::temp_dir().join("insync-no-such-scenario.toml");
    let e = insync::scenario::load_file(&missing).expect_err("no such file");
    let text = e.to_string();
    assert!(text.starts_with(&format!("{}: expected a readable", missing.display())), "{text}");
    assert!(!text.contains(":0:0"), "{text}");
}

// `--seed` takes any u64; a file can too, as a string above TOML's integers (i64).
#[test]
fn a_seed_above_i64_is_written_as_a_string() {
    let s = load_ok("s.toml", "seed = \"18446744073709551615\"\n[[topics]]\nname = \"t\"\n");
    assert_eq!(s.seed, u64::MAX);
    let e = load_err("s.toml", "seed = \"18446744073709551616\"\n");
    assert_at(&e, 1, 8, "seed");
    let e = load_err("s.toml", "seed = -1\n");
    assert_at(&e, 1, 8, "seed");
}
