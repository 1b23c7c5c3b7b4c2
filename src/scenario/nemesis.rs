//! The `[nemesis]` table: which fault kinds a seeded nemesis draws from, how often and for how long.

use super::doc::{LoadError, TableReader, expect_str};
use crate::faults::nemesis::{FaultKind, NemesisSpec};

/// The shortest mean interval between faults: with swarm testing's ½ and each gap's ½, a fault every 250 ms at
/// the most, so a 24 h scenario stays below `nemesis::MAX_EPISODES`.
const MIN_INTERVAL_US: u64 = 1_000_000;
const MAX_SPAN_US: u64 = 24 * 3_600 * 1_000_000;
const MAX_ACTIVE: u64 = 16;

/// Reads `[nemesis]`, if present; `end_us` is the scenario's duration.
pub fn read_nemesis(top: &mut TableReader<'_>, end_us: u64) -> Result<Option<NemesisSpec>, LoadError> {
    let Some(mut t) = top.table("nemesis", false)? else { return Ok(None) };
    let kinds = read_kinds(&mut t)?;
    let interval_us = t.duration_us("interval")?.unwrap_or(20_000_000);
    if !(MIN_INTERVAL_US..=MAX_SPAN_US).contains(&interval_us) {
        return Err(t.error_at("interval", "a mean interval from 1s to 24h", t.written_or("interval", interval_us)));
    }
    let duration_us = t.duration_us("duration")?.unwrap_or(10_000_000);
    if !(1_000..=MAX_SPAN_US).contains(&duration_us) {
        return Err(t.error_at("duration", "a mean duration from 1ms to 24h", t.written_or("duration", duration_us)));
    }
    let max_active = t.u64_in("max_active", 1, MAX_ACTIVE)?.unwrap_or(1) as u32;
    let quiet_us = t.duration_us("quiet")?.unwrap_or(5_000_000);
    let heal_at_us = t.duration_us("heal_at")?.unwrap_or(end_us);
    if heal_at_us > end_us {
        return Err(t.error_at(
            "heal_at",
            "a time within the scenario's duration",
            t.written_or("heal_at", heal_at_us),
        ));
    }
    if quiet_us >= heal_at_us {
        let found =
            format!("quiet {} with heal_at {}", t.written_or("quiet", quiet_us), t.written_or("heal_at", heal_at_us));
        return Err(t.error_at("quiet", "a quiet period that ends before heal_at", found));
    }
    let swarm = t.bool("swarm")?.unwrap_or(false);
    t.finish()?;
    Ok(Some(NemesisSpec { kinds, interval_us, duration_us, max_active, quiet_us, heal_at_us, swarm }))
}

/// `kinds`: names from `FaultKind::ALL`, each at most once; every kind when absent.
fn read_kinds(t: &mut TableReader<'_>) -> Result<Vec<FaultKind>, LoadError> {
    let path = t.path("kinds");
    let Some(items) = t.array("kinds")? else { return Ok(FaultKind::ALL.to_vec()) };
    let src = t.source();
    let mut kinds = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let name = expect_str(src, item, &item_path)?;
        let choices = || FaultKind::ALL.map(FaultKind::name).join(", ");
        let Some(kind) = FaultKind::from_name(name) else {
            return Err(LoadError::at_node(src, item, &item_path, format!("a fault kind: one of {}", choices())));
        };
        if kinds.contains(&kind) {
            return Err(LoadError::at_node(src, item, &item_path, "each kind at most once"));
        }
        kinds.push(kind);
    }
    if kinds.is_empty() {
        return Err(t.error_at("kinds", "at least one fault kind", "an empty list"));
    }
    kinds.sort();
    Ok(kinds)
}
