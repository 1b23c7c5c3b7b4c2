//! The `[expect]` table: what a scenario says must hold, what it exists to show broken, and what must have
//! happened for the run to mean anything (the vacuity guard).

use super::doc::{LoadError, Node, TableReader, expect_str};
use crate::check;

/// What counts as having happened in a run, by name (see `verdict::happened_count`).
pub const HAPPENINGS: [&str; 15] = [
    "fault",
    "leader-election",
    "unclean-election",
    "partition-offline",
    "isr-shrink",
    "isr-expand",
    "truncation",
    "rebalance",
    "produce-retry",
    "send-failed",
    "commit-failed",
    "offset-reset",
    "truncation-detected",
    "offsets-expired",
    "triggers-fired",
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectations {
    /// Guarantees or invariants that must hold.
    pub holds: Vec<String>,
    /// Guarantees or invariants the scenario demonstrates broken: at least one of their invariants must fire.
    pub violated: Vec<String>,
    /// Things that must have happened at least once.
    pub happened: Vec<String>,
    /// The liveness phase: after the scenario's duration, heal everything and give the cluster this long to
    /// converge; then each of `LIVENESS_CHECKS` must pass, except those listed in `unconverged`.
    pub liveness_us: Option<u64>,
    pub unconverged: Vec<String>,
}

/// The longest liveness phase a scenario may ask for (the same bound as `duration`).
pub const MAX_LIVENESS_US: u64 = 24 * 3_600 * 1_000_000;

/// How long the liveness phase gives the cluster to converge unless the scenario says otherwise.
pub const DEFAULT_LIVENESS_US: u64 = 30_000_000;

/// What the liveness phase checks at its end.
pub use crate::sim::LIVENESS_CHECKS;

impl Expectations {
    pub fn is_empty(&self) -> bool {
        self.holds.is_empty() && self.violated.is_empty() && self.happened.is_empty()
    }

    /// Whether `holds` or `violated` asks for `invariant`, by name or through a guarantee.
    pub fn names_invariant(&self, invariant: &str) -> bool {
        let mut names = self.holds.iter().chain(&self.violated);
        names.any(|name| check::expand(name).is_some_and(|invariants| invariants.contains(&invariant)))
    }
}

pub fn read_expectations(top: &mut TableReader<'_>) -> Result<Expectations, LoadError> {
    let Some(mut t) = top.table("expect", false)? else { return Ok(Expectations::default()) };
    let judged = |name: &str| check::expand(name).is_some();
    let expect = Expectations {
        holds: read_names(&mut t, "holds", &judged, "a guarantee or invariant")?,
        violated: read_names(&mut t, "violated", &judged, "a guarantee or invariant")?,
        happened: read_names(&mut t, "happened", &|n| HAPPENINGS.contains(&n), "something that happens")?,
        // The liveness phase runs by default when a scenario states expectations; liveness = "0s" turns it off.
        liveness_us: match t.duration_us("liveness")? {
            Some(0) => None,
            // Bounded like `duration`: every phase of a run has a stated limit.
            Some(us) if us > MAX_LIVENESS_US => {
                return Err(t.error_at("liveness", "a duration up to 24h", format!("{us}us")));
            }
            Some(us) => Some(us),
            None => Some(DEFAULT_LIVENESS_US),
        },
        unconverged: read_names(&mut t, "unconverged", &|n| LIVENESS_CHECKS.contains(&n), "a liveness check")?,
    };
    if expect.liveness_us.is_none() && !expect.unconverged.is_empty() {
        return Err(t.error_at("unconverged", "a liveness phase too (liveness = \"30s\")", "no liveness phase"));
    }
    t.finish()?;
    Ok(expect)
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
    let choices = if key == "happened" {
        HAPPENINGS.join(", ")
    } else if key == "unconverged" {
        LIVENESS_CHECKS.join(", ")
    } else {
        let guarantees = check::GUARANTEES.iter().map(|(g, _)| *g);
        guarantees.chain(check::INVARIANTS.iter().copied()).collect::<Vec<_>>().join(", ")
    };
    LoadError::at_node(src, item, path, format!("{what}: one of {choices}"))
}
