//! The `[expect]` table: what a scenario says must hold, what it exists to show broken, and what must have
//! happened for the run to mean anything (the vacuity guard).

use super::doc::{LoadError, Node, TableReader, expect_str, expect_table};
use super::happened::parse_happened;
use super::when::parse_condition;
use crate::check;
use crate::check::expect::LivenessCheck;
use crate::faults::plan::DeadlineWatch;
use crate::kafka::spec::ClusterSpec;

pub use super::happened::happenings;
pub use crate::check::expect::{Contents, ContentsOf, Expectations, Happened, Scope};

/// The most records one `[[expect.log]]` or `[[expect.processed]]` may list.
pub const MAX_EXPECTED_RECORDS: usize = 10_000;

/// The longest liveness phase a scenario may ask for (the same bound as `duration`).
pub const MAX_LIVENESS_US: u64 = 24 * 3_600 * 1_000_000;

/// How long the liveness phase gives the cluster to converge unless the scenario says otherwise.
pub const DEFAULT_LIVENESS_US: u64 = 30_000_000;

/// Reads `[expect]`, and the deadline watches its `[[expect.within]]` asks the run to keep; `fault_count` bounds
/// `after_fault`.
pub fn read_expectations(
    top: &mut TableReader<'_>,
    cluster: &ClusterSpec,
    fault_count: usize,
) -> Result<(Expectations, Vec<DeadlineWatch>), LoadError> {
    let Some(mut t) = top.table("expect", false)? else { return Ok((Expectations::default(), Vec::new())) };
    let judged = |name: &str| check::expand(name).is_some();
    let mut contents = read_contents(&mut t, "log", cluster)?;
    contents.extend(read_contents(&mut t, "processed", cluster)?);
    let watches = read_within(&mut t, cluster, fault_count)?;
    let expect = Expectations {
        holds: read_names(&mut t, "holds", &judged, "a guarantee or invariant")?,
        violated: read_names(&mut t, "violated", &judged, "a guarantee or invariant")?,
        happened: read_happened(&mut t, cluster)?,
        within: watches.iter().map(DeadlineWatch::expectation).collect(),
        contents,
        // The liveness phase runs by default when a scenario states expectations; liveness = "0s" turns it off.
        liveness_us: match t.duration_us("liveness")? {
            Some(0) => None,
            // Bounded like `duration`: every phase of a run has a stated limit.
            Some(us) if us > MAX_LIVENESS_US => {
                return Err(t.error_at("liveness", "a duration up to 24h", t.written_or("liveness", us)));
            }
            Some(us) => Some(us),
            None => Some(DEFAULT_LIVENESS_US),
        },
        unconverged: read_names(&mut t, "unconverged", &|n| LivenessCheck::from_name(n).is_some(), "a liveness check")?
            .iter()
            .filter_map(|n| LivenessCheck::from_name(n))
            .collect(),
    };
    if expect.liveness_us.is_none() && !expect.unconverged.is_empty() {
        return Err(t.error_at("unconverged", "a liveness phase too (liveness = \"30s\")", "no liveness phase"));
    }
    t.finish()?;
    Ok((expect, watches))
}

fn read_happened(t: &mut TableReader<'_>, cluster: &ClusterSpec) -> Result<Vec<Happened>, LoadError> {
    let path = t.path("happened");
    let Some(items) = t.array("happened")? else { return Ok(Vec::new()) };
    let src = t.source();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let name = expect_str(src, item, &item_path)?;
        out.push(
            parse_happened(name, cluster).map_err(|expected| LoadError::at_node(src, item, &item_path, expected))?,
        );
    }
    Ok(out)
}

/// `[[expect.within]]`: `condition` (as a `when`), `within` (a duration), `after_fault` (an index into
/// `[[faults]]`; the start of the run when absent).
fn read_within(
    t: &mut TableReader<'_>,
    cluster: &ClusterSpec,
    fault_count: usize,
) -> Result<Vec<DeadlineWatch>, LoadError> {
    let src = t.source();
    let path = t.path("within");
    let Some(items) = t.array("within")? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut w = expect_table(src, item, &format!("{path}[{i}]"), true)?;
        let text_value = w.str("condition")?;
        let text = w.required("condition", text_value, "a condition, e.g. \"isr of orders-0 has size 3\"")?;
        let condition = parse_condition(text, cluster)
            .map_err(|expected| w.error_at("condition", expected, format!("\"{text}\"")))?;
        let within_value = w.duration_us("within")?;
        let within_us = w.required("within", within_value, "a duration, e.g. \"120s\"")?;
        if within_us > MAX_LIVENESS_US {
            return Err(w.error_at("within", "a duration up to 24h", w.written_or("within", within_us)));
        }
        if fault_count == 0 && w.node("after_fault").is_some() {
            return Err(w.error_at("after_fault", "a fault to follow (the scenario has none)", "an index"));
        }
        let after_fault = w.u64_in("after_fault", 0, fault_count.saturating_sub(1) as u64)?.map(|v| v as usize);
        w.finish()?;
        out.push(DeadlineWatch { after_fault, condition, within_us });
    }
    Ok(out)
}

/// `[[expect.log]]` (`partition`, `records`) or `[[expect.processed]]` (`group.id`, `partition`, `records`),
/// records written "PRODUCER#N".
fn read_contents(t: &mut TableReader<'_>, key: &str, cluster: &ClusterSpec) -> Result<Vec<Contents>, LoadError> {
    let src = t.source();
    let path = t.path(key);
    let Some(items) = t.array(key)? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut c = expect_table(src, item, &format!("{path}[{i}]"), true)?;
        let group = if key == "processed" { Some(read_group(&mut c, cluster)?) } else { None };
        let partition_value = c.str("partition")?;
        let partition_name = c.required("partition", partition_value, "a partition such as \"orders-0\"")?;
        let Some(partition) = cluster.find_partition(partition_name) else {
            return Err(c.error_at("partition", "a partition such as \"orders-0\"", format!("\"{partition_name}\"")));
        };
        let records = read_records(&mut c, cluster)?;
        c.finish()?;
        let of = match group {
            Some(group) => ContentsOf::Processed { group, partition: partition.0 },
            None => ContentsOf::FinalLog { partition: partition.0 },
        };
        let name = match group {
            Some(g) => format!("group {} processed {partition_name}", cluster.groups[g as usize]),
            None => format!("final log of {partition_name}"),
        };
        out.push(Contents { of, records, name });
    }
    Ok(out)
}

fn read_group(c: &mut TableReader<'_>, cluster: &ClusterSpec) -> Result<u32, LoadError> {
    let value = c.str("group.id")?;
    let name = c.required("group.id", value, "a consumer group of the scenario")?;
    match cluster.groups.iter().position(|g| g == name) {
        Some(g) => Ok(g as u32),
        None => Err(c.error_at(
            "group.id",
            format!("one of the groups: {}", cluster.groups.join(", ")),
            format!("\"{name}\""),
        )),
    }
}

fn read_records(c: &mut TableReader<'_>, cluster: &ClusterSpec) -> Result<Vec<(u32, u64)>, LoadError> {
    let src = c.source();
    let path = c.path("records");
    let items_value = c.array("records")?;
    let items = c.required("records", items_value, "a list of records, e.g. [\"order-service#0\"]")?;
    if items.len() > MAX_EXPECTED_RECORDS {
        return Err(c.error_at(
            "records",
            format!("at most {MAX_EXPECTED_RECORDS} records"),
            format!("{}", items.len()),
        ));
    }
    let mut out = Vec::new();
    for (j, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{j}]");
        let text = expect_str(src, item, &item_path)?;
        let record = text.rsplit_once('#').and_then(|(name, n)| {
            let producer = cluster.producers.iter().position(|p| p.name == name)?;
            Some((producer as u32, n.parse::<u64>().ok()?))
        });
        let expected = "a record \"PRODUCER#N\": a producer of the scenario and its send number (from 0)";
        out.push(record.ok_or_else(|| LoadError::at_node(src, item, &item_path, expected))?);
    }
    Ok(out)
}

fn read_names(
    t: &mut TableReader<'_>,
    key: &str,
    known: &dyn Fn(&str) -> bool,
    what: &str,
) -> Result<Vec<String>, LoadError> {
    let path = t.path(key);
    let Some(items) = t.array(key)? else { return Ok(Vec::new()) };
    let src = t.source();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let name = expect_str(src, item, &item_path)?;
        if !known(name) {
            return Err(unknown(src, item, &item_path, what, key));
        }
        out.push(name.to_string());
    }
    Ok(out)
}

fn unknown(src: &super::doc::Source, item: &Node, path: &str, what: &str, key: &str) -> LoadError {
    let choices = if key == "unconverged" {
        LivenessCheck::ALL.map(LivenessCheck::name).join(", ")
    } else {
        let guarantees = check::GUARANTEES.iter().map(|(g, _)| *g);
        guarantees.chain(check::INVARIANTS.iter().copied()).collect::<Vec<_>>().join(", ")
    };
    LoadError::at_node(src, item, path, format!("{what}: one of {choices}"))
}
