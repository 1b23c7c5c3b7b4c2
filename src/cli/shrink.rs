//! `insync shrink`: a failing seed cut down to the fewest faults and the shortest time that still fail the same
//! way, written as a standalone scenario (explicit faults, the seed fixed) that `insync run` replays.

use super::outputs::{Kind, Outputs};
use super::{EXIT_BAD_INPUT, EXIT_EXPECTATION_FAILED, load_scenario, print};
use crate::check;
use crate::shrink::{self, Goal, Size};
use crate::units::Seconds;
use std::path::Path;
use std::process::ExitCode;

/// What `shrink` was asked.
pub struct ShrinkArgs<'a> {
    pub scenario: &'a Path,
    pub seed: u64,
    pub out: &'a Path,
    pub invariant: Option<String>,
    pub budget: u32,
}

pub fn shrink(args: &ShrinkArgs<'_>) -> ExitCode {
    match shrink_to_file(args) {
        Ok(Some(report)) => match print(&report, false) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        },
        Ok(None) => ExitCode::from(EXIT_EXPECTATION_FAILED),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// The report to print, `None` when the seed does not fail (said on stderr), or a bad-input error.
fn shrink_to_file(args: &ShrinkArgs<'_>) -> Result<Option<String>, String> {
    let scenario = load_scenario(args.scenario, &[])?;
    let text = std::fs::read_to_string(args.scenario).map_err(|e| format!("{}: {e}", args.scenario.display()))?;
    let goal = match &args.invariant {
        Some(name) if !check::INVARIANTS.contains(&name.as_str()) => {
            return Err(format!("--invariant {name}: one of {}", check::INVARIANTS.join(", ")));
        }
        Some(name) => Goal::Violates(name.clone()),
        None => {
            let judged = crate::sweep::run_seed(&scenario, args.seed);
            if judged.met {
                eprintln!(
                    "seed {} meets every expectation: nothing to shrink (--invariant NAME to shrink a violation)",
                    args.seed
                );
                return Ok(None);
            }
            Goal::Unmet(judged.failed)
        }
    };
    let mut outputs = Outputs::prepare(Some(args.scenario), &[(Kind::Shrunk, Some(args.out))])?;
    let shrunk = match shrink::shrink(&scenario, &text, args.seed, &goal, args.budget) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(None);
        }
    };
    let what = match &goal {
        Goal::Unmet(failed) => format!("still fails {}", failed.join(" + ")),
        Goal::Violates(name) => format!("still violates {name}"),
    };
    let header = format!(
        "# Shrunk by `insync shrink {} --seed {}` in {} runs: {what}.\n# From {} to {}.\n",
        args.scenario.display(),
        args.seed,
        shrunk.runs,
        size(&shrunk.original_size),
        size(&shrunk.minimal_size)
    );
    let emitted = format!("{header}{}", shrunk.minimal_text);
    let reloaded = crate::scenario::load_str(&args.out.display().to_string(), &emitted)
        .map_err(|e| format!("the shrunk scenario does not load: {e}"))?;
    if reloaded.sim.faults.len() != shrunk.minimal.faults.len() {
        return Err("the shrunk scenario does not hold exactly the shrunk faults".to_string());
    }
    outputs.write(Kind::Shrunk, |w| w.write_all(emitted.as_bytes()))?;
    outputs.commit()?;
    let report = format!(
        "shrunk seed {} of {} in {} runs ({what})\n  before: {}\n  after:  {}\nwritten to {}; replay: insync run {}\n",
        args.seed,
        args.scenario.display(),
        shrunk.runs,
        size(&shrunk.original_size),
        size(&shrunk.minimal_size),
        args.out.display(),
        args.out.display()
    );
    Ok(Some(report))
}

fn size(s: &Size) -> String {
    format!(
        "{} faults, {} records, {} nodes, {} of simulated time",
        s.faults,
        s.records,
        s.nodes,
        Seconds(s.duration_us)
    )
}
