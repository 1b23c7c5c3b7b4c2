//! `insync explore` (a scenario judged at many seeds, on worker threads, or one shard of them) and `insync merge`
//! (shard outputs combined into the table one machine would have printed).

use super::outputs::{Kind, Outputs};
use super::{EXIT_BAD_INPUT, EXIT_EXPECTATION_FAILED, load_scenario, print, reproduce_command};
use crate::scenario::overrides::Override;
use crate::sweep::{self, SeedRange, SeedResult, Shard};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The `--out` file's format version (its first line says it).
const FORMAT_VERSION: u32 = 1;
/// How many reproduce commands each group of failing seeds prints.
const REPRODUCE_SHOWN: usize = 3;
/// The most shard files `merge` reads.
const MERGE_FILES_MAX: usize = 100_000;

/// What `explore` was asked.
pub struct ExploreArgs<'a> {
    pub scenario: &'a Path,
    pub overrides: &'a [Override],
    pub seeds: SeedRange,
    pub jobs: usize,
    pub shard: Shard,
    pub out: Option<&'a Path>,
    pub junit: Option<&'a Path>,
    pub json: bool,
    pub quiet: bool,
}

/// The first line of an `--out` file: which sweep its results belong to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Header {
    insync_explore: u32,
    insync_version: String,
    scenario: String,
    scenario_fnv64: String,
    seeds: String,
    shard: String,
    /// The `--set` overrides of the sweep (`KEY=VALUE`).
    #[serde(default)]
    overrides: Vec<String>,
}

/// A sweep's results with what they came from, as `explore` and `merge` print them.
struct Report<'a> {
    scenario: &'a str,
    scenario_fnv64: &'a str,
    overrides: &'a [String],
    seeds: &'a str,
    /// The shards the results cover (`1/1` for a whole range; `merge` lists what it read).
    shards: String,
    results: &'a [SeedResult],
}

pub fn explore(args: &ExploreArgs<'_>) -> ExitCode {
    let scenario = match load_scenario(args.scenario, args.overrides) {
        Ok(s) => s,
        Err(e) => return bad_input(&e),
    };
    if scenario.expect.is_empty() {
        return bad_input(&format!(
            "{}: explore judges each seed by [expect], and it has none",
            args.scenario.display()
        ));
    }
    let input = (args.scenario != Path::new("-")).then_some(args.scenario);
    let mut outputs = match Outputs::prepare(input, &[(Kind::Explore, args.out), (Kind::Junit, args.junit)]) {
        Ok(o) => o,
        Err(e) => return bad_input(&e),
    };
    let seeds: Vec<u64> = args.shard.seeds(args.seeds).collect();
    let bar = progress_bar(seeds.len() as u64, args.quiet);
    let mut failing = 0u64;
    let results = sweep::sweep(&scenario, &seeds, args.jobs, |r| {
        failing += u64::from(!r.met);
        bar.set_message(format!("{failing} failing"));
        bar.inc(1);
    });
    bar.finish_and_clear();
    let fnv = format!("{:016x}", scenario.source_fnv64);
    let path = args.scenario.display().to_string();
    let (seeds_text, shard) = (args.seeds.to_string(), args.shard.to_string());
    let header = Header {
        insync_explore: FORMAT_VERSION,
        insync_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: path.clone(),
        scenario_fnv64: fnv.clone(),
        seeds: seeds_text.clone(),
        shard: shard.clone(),
        overrides: super::override_words(&scenario),
    };
    let mut written = outputs.write(Kind::Explore, |w| write_results(w, &header, &results));
    if outputs.wants(Kind::Junit) {
        let xml = junit_suite(args, &scenario, &header, &results).map_err(|e| format!("--junit: {e}"));
        written = written.and(xml).and_then(|xml| outputs.write(Kind::Junit, |w| w.write_all(xml.as_bytes())));
    }
    if let Err(e) = written.and_then(|()| outputs.commit()) {
        return bad_input(&e);
    }
    let overrides = &header.overrides;
    let report = Report {
        scenario: &path,
        scenario_fnv64: &fnv,
        overrides,
        seeds: &seeds_text,
        shards: shard,
        results: &results,
    };
    finish(&report, args.json)
}

/// The sweep as one JUnit suite: a case per group of seeds failing the same expectations (its failure lists the
/// seeds and reproduces the first), and a passing case for the seeds that met every one, so a reporter always
/// finds a result. Times are the simulated seconds of the seeds in the case.
fn junit_suite(
    args: &ExploreArgs<'_>,
    scenario: &crate::scenario::Scenario,
    header: &Header,
    results: &[SeedResult],
) -> std::io::Result<String> {
    let seconds =
        |seeds: &mut dyn Iterator<Item = &SeedResult>| seeds.map(|r| r.simulated_us).sum::<u64>() as f64 / 1e6;
    let mut cases = Vec::new();
    let met = results.iter().filter(|r| r.met).count();
    if met > 0 || results.is_empty() {
        let name = format!("{met} of {} seeds met every expectation", results.len());
        cases.push(super::junit::Case { name, time_s: seconds(&mut results.iter().filter(|r| r.met)), failure: None });
    }
    for (signature, seeds) in sweep::failing_groups(results) {
        let reproduce = reproduce_command(args.scenario, seeds[0], scenario.source_fnv64, &header.overrides);
        let listed: Vec<String> = seeds.iter().take(100).map(u64::to_string).collect();
        let more = if seeds.len() > 100 { format!(" and {} more", seeds.len() - 100) } else { String::new() };
        let message = format!("did not meet {signature} at {} of {} seeds", seeds.len(), results.len());
        let body = format!("{message}: seeds {}{more}\nreproduce the first: {reproduce}", listed.join(", "));
        let failure = super::junit::Failure { kind: "expect", message, body };
        let time_s = seconds(&mut results.iter().filter(|r| seeds.contains(&r.seed)));
        cases.push(super::junit::Case { name: signature, time_s, failure: Some(failure) });
    }
    let mut command = format!("insync explore {} --seeds {}", args.scenario.display(), header.seeds);
    if args.shard != Shard::WHOLE {
        command.push_str(&format!(" --shard {}", header.shard));
    }
    header.overrides.iter().for_each(|o| command.push_str(&format!(" --set {}", super::shell_word(o))));
    let properties = vec![
        ("scenario", header.scenario.clone()),
        ("scenario_fnv64", header.scenario_fnv64.clone()),
        ("seeds", header.seeds.clone()),
        ("shard", header.shard.clone()),
        ("insync_version", header.insync_version.clone()),
        ("time", "simulated seconds".to_string()),
    ];
    let time_s = seconds(&mut results.iter());
    let suite = super::junit::Suite { name: &scenario.name, properties, time_s, cases, reproduce: &command };
    super::junit::write(&suite)
}

/// `insync merge`: the shard files of one sweep (same scenario, same range) as one table.
pub fn merge(files: &[PathBuf], json: bool) -> ExitCode {
    if files.is_empty() || files.len() > MERGE_FILES_MAX {
        return bad_input(&format!("merge: expected 1 to {MERGE_FILES_MAX} files from explore --out"));
    }
    let mut first: Option<Header> = None;
    let mut shards = Vec::new();
    let mut by_seed: BTreeMap<u64, SeedResult> = BTreeMap::new();
    for file in files {
        let (header, results) = match read_results(file) {
            Ok(read) => read,
            Err(e) => return bad_input(&e),
        };
        let base = first.get_or_insert_with(|| header.clone());
        let sweep_of = |h: &Header| (h.scenario_fnv64.clone(), h.seeds.clone(), h.overrides.clone());
        if sweep_of(base) != sweep_of(&header) {
            let set = |h: &Header| h.overrides.iter().map(|o| format!(" --set {o}")).collect::<String>();
            let what = format!("scenario {} seeds {}{}", header.scenario_fnv64, header.seeds, set(&header));
            let expected = format!("scenario {} seeds {}{}", base.scenario_fnv64, base.seeds, set(base));
            return bad_input(&format!("{}: expected a shard of {expected}, found {what}", file.display()));
        }
        shards.push(header.shard);
        for r in results {
            if by_seed.get(&r.seed).is_some_and(|known| *known != r) {
                return bad_input(&format!("{}: seed {} differs from another file's", file.display(), r.seed));
            }
            by_seed.insert(r.seed, r);
        }
    }
    let Some(header) = first else { unreachable!("at least one file was read") };
    let results: Vec<SeedResult> = by_seed.into_values().collect();
    let report = Report {
        scenario: &header.scenario,
        scenario_fnv64: &header.scenario_fnv64,
        overrides: &header.overrides,
        seeds: &header.seeds,
        shards: shards.join(", "),
        results: &results,
    };
    finish(&report, json)
}

fn finish(report: &Report<'_>, json: bool) -> ExitCode {
    let text = if json { report_json(report) } else { report_human(report) };
    if let Err(code) = print(&text, false) {
        return code;
    }
    if report.results.iter().all(|r| r.met) { ExitCode::SUCCESS } else { ExitCode::from(EXIT_EXPECTATION_FAILED) }
}

pub(super) fn bad_input(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// Seeds done, seeds per second and failing seeds so far, on stderr; drawn only on a terminal.
pub(super) fn progress_bar(seeds: u64, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(seeds), indicatif::ProgressDrawTarget::stderr());
    let style = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} seeds, {per_sec}, {msg}, eta {eta}");
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar
}

fn write_results(w: &mut dyn Write, header: &Header, results: &[SeedResult]) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, header)?;
    writeln!(w)?;
    for r in results {
        serde_json::to_writer(&mut *w, r)?;
        writeln!(w)?;
    }
    Ok(())
}

fn read_results(path: &Path) -> Result<(Header, Vec<SeedResult>), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: cannot read it: {e}", path.display()))?;
    let mut lines = std::io::BufReader::new(file).lines();
    let at = |line: usize, e: &dyn std::fmt::Display| format!("{}:{line}: {e}", path.display());
    let first = lines.next().transpose().map_err(|e| at(1, &e))?.unwrap_or_default();
    let header: Header =
        serde_json::from_str(&first).map_err(|e| at(1, &format!("expected the header line of explore --out ({e})")))?;
    if header.insync_explore != FORMAT_VERSION {
        return Err(at(1, &format!("expected format {FORMAT_VERSION}, found {}", header.insync_explore)));
    }
    let mut results = Vec::new();
    for (i, line) in lines.enumerate() {
        let line = line.map_err(|e| at(i + 2, &e))?;
        let r: SeedResult =
            serde_json::from_str(&line).map_err(|e| at(i + 2, &format!("expected a seed's result ({e})")))?;
        results.push(r);
    }
    Ok((header, results))
}

/// Seeds and violations per invariant, over every seed.
fn invariant_table(results: &[SeedResult]) -> BTreeMap<&str, (u64, u64)> {
    let mut table: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (name, n) in results.iter().flat_map(|r| &r.violations) {
        let entry = table.entry(name).or_default();
        entry.0 += 1;
        entry.1 += n;
    }
    table
}

fn report_human(report: &Report<'_>) -> String {
    let results = report.results;
    let failed = results.iter().filter(|r| !r.met).count();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "explore {} seeds {} (shard {}): {} seeds, {} met [expect], {failed} did not",
        report.scenario,
        report.seeds,
        report.shards,
        results.len(),
        results.len() - failed
    );
    let table = invariant_table(results);
    if !table.is_empty() {
        let _ = writeln!(s, "\n  {:<24} {:>6} {:>11}", "invariant violated", "seeds", "violations");
        for (name, (seeds, violations)) in &table {
            let _ = writeln!(s, "  {name:<24} {seeds:>6} {violations:>11}");
        }
    }
    let groups = sweep::failing_groups(results);
    if !groups.is_empty() {
        let _ = writeln!(s, "\nfailing seeds, by the expectations they did not meet:");
    }
    let fnv = u64::from_str_radix(report.scenario_fnv64, 16).unwrap_or(0);
    for (signature, seeds) in &groups {
        let listed: Vec<String> = seeds.iter().take(10).map(u64::to_string).collect();
        let more = if seeds.len() > 10 { format!(" and {} more", seeds.len() - 10) } else { String::new() };
        let _ = writeln!(s, "  {signature}: {} seeds ({}{more})", seeds.len(), listed.join(", "));
        for &seed in seeds.iter().take(REPRODUCE_SHOWN) {
            let _ = writeln!(s, "    {}", reproduce_command(Path::new(report.scenario), seed, fnv, report.overrides));
        }
    }
    s
}

fn report_json(report: &Report<'_>) -> String {
    let results = report.results;
    let invariants: BTreeMap<&str, serde_json::Value> = invariant_table(results)
        .into_iter()
        .map(|(name, (seeds, violations))| (name, serde_json::json!({ "seeds": seeds, "violations": violations })))
        .collect();
    let groups: Vec<serde_json::Value> = sweep::failing_groups(results)
        .into_iter()
        .map(|(signature, seeds)| serde_json::json!({ "signature": signature, "seeds": seeds }))
        .collect();
    let object = serde_json::json!({
        "format_version": FORMAT_VERSION,
        "insync_version": env!("CARGO_PKG_VERSION"),
        "scenario": report.scenario,
        "scenario_fnv64": report.scenario_fnv64,
        "overrides": report.overrides,
        "seeds": report.seeds,
        "shards": report.shards,
        "seeds_run": results.len(),
        "seeds_failed": results.iter().filter(|r| !r.met).count(),
        "invariants": invariants,
        "failing_groups": groups,
    });
    let mut text = serde_json::to_string_pretty(&object).unwrap_or_default();
    text.push('\n');
    text
}
