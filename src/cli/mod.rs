//! The command line: argument parsing, exit codes and printers. Everything else lives in the library.

mod bench;
mod compare;
mod explore;
mod junit;
mod outputs;
pub mod schemas;
mod shrink;
mod summary;
mod validate;

use outputs::{Kind, Outputs};

use crate::check::verdict;
use crate::scenario::{self, overrides::Override};
use crate::sim::{self, Outcome};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "insync", version, about = "A deterministic simulator of Apache Kafka clusters")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario once and report what clients observed and the cluster's final state.
    Run {
        /// The scenario file (TOML, or JSON with the same schema).
        scenario: PathBuf,
        /// Overrides the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Print one JSON object instead of the human summary.
        #[arg(long)]
        json: bool,
        /// Write the trace (JSON Lines, one event a line) to this file.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Write the trace in the Trace Event Format (open it in ui.perfetto.dev or chrome://tracing).
        #[arg(long, value_name = "FILE")]
        perfetto: Option<PathBuf>,
        /// Write the run drawn over time as one self-contained HTML page: each replica's role, ISR membership,
        /// log end and high watermark, the faults, each group's assignments, produce errors, the violations.
        #[arg(long, value_name = "FILE.html")]
        timeline: Option<PathBuf>,
        /// Write the client history (JSON Lines: a header line, then one event a line) to this file.
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
        /// Write the scenario's expectations as JUnit XML (one test case each) to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Refuse to run unless the scenario file's FNV-1a 64 hash is this (hex), as a reproduce line gives it.
        #[arg(long, value_name = "HEX")]
        scenario_fnv64: Option<String>,
        /// How many witnesses each expectation keeps in --json (and lost writes shown): a number, or `all`.
        #[arg(long, value_name = "N|all", default_value = "3", value_parser = parse_witnesses)]
        witnesses: WitnessLimit,
        /// Run the seed twice in this process and compare the traces line by line: exit 0 if they are the same,
        /// 1 with the first line where they differ.
        #[arg(long, conflicts_with_all = ["json", "trace", "perfetto", "timeline", "history", "junit", "emit_scenario"])]
        check_determinism: bool,
        /// Write the scenario with the nemesis's faults for this seed as an explicit `[[faults]]` schedule (and
        /// the seed set): it replays the same run without the nemesis.
        #[arg(long, value_name = "FILE")]
        emit_scenario: Option<PathBuf>,
        /// Override a scenario key (repeatable), checked as the file's keys are: `producers.acks=all`,
        /// `topics.min.insync.replicas=2`, `producers[checkout].linger.ms=5`, `duration=30s`.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
        set: Vec<Override>,
    },
    /// Judge a recorded history (JSON Lines, as `run --history` writes it) without running anything.
    Check {
        history: PathBuf,
        /// The file's format: insync's JSON Lines history, or a Jepsen Kafka workload's `history.edn`.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: HistoryFormat,
        /// Guarantees or invariants that must hold (comma-separated); exit 1 when one is violated.
        #[arg(long, value_delimiter = ',')]
        holds: Vec<String>,
        /// Print one JSON object instead of the human summary.
        #[arg(long)]
        json: bool,
        /// Write the judged guarantees as JUnit XML (one test case each) to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// How many witnesses each expectation keeps in --json: a number, or `all`.
        #[arg(long, value_name = "N|all", default_value = "3", value_parser = parse_witnesses)]
        witnesses: WitnessLimit,
        /// Let a --holds pass on a history with no sends (or no reads, for an invariant about reads), which
        /// otherwise fails it as vacuous.
        #[arg(long)]
        allow_empty: bool,
    },
    /// Load and check a scenario without running it; show what it would run (`--json`: every setting, defaults
    /// filled in).
    Validate {
        /// The scenario file (`-` reads standard input).
        scenario: PathBuf,
        /// Print the effective configuration as JSON.
        #[arg(long)]
        json: bool,
        /// Override a scenario key (repeatable), as `run --set` does.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
        set: Vec<Override>,
    },
    /// Run a scenario at many seeds (on worker threads; each seed is one deterministic run) and judge each by its
    /// `[expect]`: a table of invariants violated and the failing seeds grouped by what they failed.
    Explore {
        /// The scenario file; it must have an `[expect]`.
        scenario: PathBuf,
        /// The seeds: `A..B` (B excluded) or `N` (0..N).
        #[arg(long, value_parser = crate::sweep::SeedRange::parse)]
        seeds: crate::sweep::SeedRange,
        /// Worker threads (default: the machine's cores). Results do not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only the K-th of N shards of the seeds (every N-th seed); `merge` combines the shards' --out files.
        #[arg(long, value_name = "K/N", value_parser = crate::sweep::Shard::parse)]
        shard: Option<crate::sweep::Shard>,
        /// Write every seed's result (JSON Lines, after a header line) to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Write the sweep as JUnit XML: a test case per group of seeds failing the same expectations, and one
        /// for the seeds that met them all.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Override a scenario key (repeatable), as `run --set` does.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
        set: Vec<Override>,
    },
    /// Combine the --out files of one sweep's shards into the table a single machine would print.
    Merge {
        files: Vec<PathBuf>,
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Shrink a failing seed to the fewest faults and the shortest time that still fail the same way, written
    /// out as a standalone scenario.
    Shrink {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// Where to write the shrunk scenario.
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: PathBuf,
        /// What must keep failing: this invariant's violations (e.g. lost-write) instead of the seed's unmet
        /// expectations.
        #[arg(long, value_name = "NAME")]
        invariant: Option<String>,
        /// The most runs the search may make.
        #[arg(long, default_value_t = 300)]
        budget: u32,
    },
    /// Compare settings: run each cell of a comparison matrix (scenarios/compare/*.toml) over the same seeds and
    /// write index.html, report.md, results.json and results.csv to the output folder.
    Compare {
        /// The comparison matrix file (TOML).
        matrix: PathBuf,
        /// The seeds every cell runs: `A..B` or `N` (0..N); default the matrix's `seeds`.
        #[arg(long, value_parser = crate::sweep::SeedRange::parse)]
        seeds: Option<crate::sweep::SeedRange>,
        /// Worker threads (default: the machine's cores). The reports do not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// The folder to write the reports to.
        #[arg(short = 'o', long = "out", value_name = "DIR")]
        out: PathBuf,
        /// Override a key of the base scenario in every cell (before the cell's own), as `run --set` does.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
        set: Vec<Override>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Time runs (wall clock; the simulation itself never reads it): without a scenario, the fixed set — the
    /// model on scenarios/bench-replication.toml, and seeds per second and a shrink on scenarios/bench-sweep.toml.
    Bench {
        /// Time only this scenario's runs.
        scenario: Option<PathBuf>,
        /// How many timed runs.
        #[arg(long, default_value_t = 5)]
        runs: u32,
        /// Print the figures as one JSON object instead.
        #[arg(long)]
        json: bool,
    },
}

/// `--witnesses`: at most this many per expectation, or all (`None`).
#[derive(Clone, Copy, Debug)]
pub struct WitnessLimit(Option<usize>);

fn parse_witnesses(text: &str) -> Result<WitnessLimit, String> {
    match text {
        "all" => Ok(WitnessLimit(None)),
        n => n
            .parse::<usize>()
            .map(|n| WitnessLimit(Some(n)))
            .map_err(|_| format!("expected a number or `all`, found `{n}`")),
    }
}

/// Exit codes: 0 ran (expectations met), 1 an expectation failed, 2 bad input or usage.
pub const EXIT_EXPECTATION_FAILED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
/// The run stopped at its memory budget (`max_memory`); what it printed is its partial result.
pub const EXIT_LIMIT: u8 = 3;

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            let usage_error = e.use_stderr();
            return ExitCode::from(if usage_error { EXIT_BAD_INPUT } else { 0 });
        }
    };
    match cli.command {
        Command::Run {
            scenario,
            seed,
            json,
            trace,
            perfetto,
            timeline,
            history,
            junit,
            scenario_fnv64,
            witnesses,
            check_determinism,
            emit_scenario,
            set,
        } => {
            let files = OutputFiles {
                trace: trace.as_deref(),
                perfetto: perfetto.as_deref(),
                timeline: timeline.as_deref(),
                history: history.as_deref(),
                junit: junit.as_deref(),
                emit_scenario: emit_scenario.as_deref(),
            };
            let fnv64 = scenario_fnv64.as_deref();
            let asked = RunOptions { seed, overrides: set, json, fnv64, witnesses: witnesses.0, check_determinism };
            run(&scenario, &asked, files)
        }
        Command::Check { history, format, holds, json, junit, witnesses, allow_empty } => {
            let junit = junit.as_deref();
            let asked = CheckOptions { format, holds: &holds, json, junit, limit: witnesses.0, allow_empty };
            check_history(&history, &asked)
        }
        Command::Validate { scenario, json, set } => validate_scenario(&scenario, json, &set),
        Command::Explore { scenario, seeds, jobs, shard, out, junit, json, quiet, set } => {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            let shard = shard.unwrap_or(crate::sweep::Shard::WHOLE);
            let jobs = jobs.unwrap_or(cores);
            let (out, junit) = (out.as_deref(), junit.as_deref());
            let args = explore::ExploreArgs {
                scenario: &scenario,
                overrides: &set,
                seeds,
                jobs,
                shard,
                out,
                junit,
                json,
                quiet,
            };
            explore::explore(&args)
        }
        Command::Merge { files, json } => explore::merge(&files, json),
        Command::Shrink { scenario, seed, out, invariant, budget } => {
            shrink::shrink(&shrink::ShrinkArgs { scenario: &scenario, seed, out: &out, invariant, budget })
        }
        Command::Compare { matrix, seeds, jobs, out, set, quiet } => {
            let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
            let args = compare::CompareArgs { matrix: &matrix, seeds, jobs, out: &out, overrides: &set, quiet };
            compare::compare(&args)
        }
        Command::Bench { scenario, runs, json } => bench::bench(scenario.as_deref(), runs, json),
    }
}

/// Where `run` writes what it was asked to.
struct OutputFiles<'a> {
    trace: Option<&'a Path>,
    perfetto: Option<&'a Path>,
    timeline: Option<&'a Path>,
    history: Option<&'a Path>,
    junit: Option<&'a Path>,
    emit_scenario: Option<&'a Path>,
}

/// What `run` was asked besides its files.
struct RunOptions<'a> {
    seed: Option<u64>,
    overrides: Vec<Override>,
    json: bool,
    fnv64: Option<&'a str>,
    witnesses: Option<usize>,
    check_determinism: bool,
}

fn run(path: &Path, asked: &RunOptions<'_>, files: OutputFiles<'_>) -> ExitCode {
    let mut scenario = match load_scenario(path, &asked.overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let actual = format!("{:016x}", scenario.source_fnv64);
    if let Some(wanted) = asked.fnv64.filter(|&w| !w.eq_ignore_ascii_case(&actual)) {
        eprintln!(
            "warning: {}: --scenario-fnv64 {wanted}, but the file's hash is {actual}: it changed since that run, \
             so this run may not reproduce it",
            path.display()
        );
    }
    if asked.check_determinism {
        return check_determinism(&scenario, asked.seed.unwrap_or(scenario.seed));
    }
    let requested = [
        (Kind::Trace, files.trace),
        (Kind::Perfetto, files.perfetto),
        (Kind::Timeline, files.timeline),
        (Kind::History, files.history),
        (Kind::Junit, files.junit),
        (Kind::Scenario, files.emit_scenario),
    ];
    let input = (path != Path::new("-")).then_some(path);
    if input.is_none() && files.emit_scenario.is_some() {
        eprintln!("error: --emit-scenario rewrites a scenario file; the scenario came from standard input");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if !asked.overrides.is_empty() && files.emit_scenario.is_some() {
        eprintln!("error: --emit-scenario rewrites the file's own text, which does not hold the --set overrides");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let mut outputs = match Outputs::prepare(input, &requested) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let seed = asked.seed.unwrap_or(scenario.seed);
    // A history file carries the replica logs so that `insync check` can judge divergence.
    scenario.sim.keep_replica_logs |= outputs.wants(Kind::History);
    // The trace file is written as the run goes; the trace is kept in memory only for what draws from it.
    let (timeline, perfetto) = (outputs.wants(Kind::Timeline), outputs.wants(Kind::Perfetto));
    let observe = sim::Observe {
        trace: timeline || perfetto,
        trace_to: outputs.stream(Kind::Trace),
        samples: timeline,
        messages: perfetto,
    };
    let outcome = sim::run_observed(&scenario.sim, seed, observe);
    if let Err(e) = outputs.streamed(Kind::Trace, outcome.trace_error.as_ref()) {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let evidence = verdict::Evidence { witness_limit: asked.witnesses, ..outcome.evidence() };
    // A breach of the state checker is judged even in a story without expectations: it is a bug of the model.
    let judged = !scenario.expect.is_empty() || outcome.state_breach.is_some();
    let verdict = judged.then(|| verdict::judge(&scenario.expect, &evidence));
    let summary_to_stderr = outputs.uses_stdout();
    let written = write_run_outputs(&mut outputs, &scenario, path, &outcome, verdict.as_ref());
    if let Err(e) = written.and_then(|()| outputs.commit()) {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let text = if asked.json {
        summary::json(&scenario, path, &outcome, verdict.as_ref(), asked.witnesses)
    } else {
        summary::human(&scenario, path, &outcome, verdict.as_ref())
    };
    if let Err(code) = print(&text, summary_to_stderr) {
        return code;
    }
    if outcome.stats.hit_memory_limit {
        eprintln!("error: {}: {}", path.display(), summary::memory_limit_reached(&scenario));
        return ExitCode::from(EXIT_LIMIT);
    }
    match verdict {
        Some(v) if !v.all_met() => ExitCode::from(EXIT_EXPECTATION_FAILED),
        _ => ExitCode::SUCCESS,
    }
}

/// `run --check-determinism`: the seed run twice in this process, the traces compared line by line.
fn check_determinism(scenario: &scenario::Scenario, seed: u64) -> ExitCode {
    let lines = || -> Vec<String> {
        let outcome = sim::run(&scenario.sim, seed, true);
        outcome.trace.unwrap_or_default().iter().map(|line| serde_json::to_string(line).unwrap_or_default()).collect()
    };
    let (first, second) = (lines(), lines());
    let (text, code) = match sim::first_divergence(&first, &second) {
        None => (format!("deterministic: seed {seed} ran twice with the same {} trace lines\n", first.len()), 0),
        Some(d) => {
            let line = |l: Option<String>| l.unwrap_or_else(|| "(the run had ended)".to_string());
            let text = format!(
                "NOT deterministic: seed {seed} ran twice and the traces differ from line {}:\n  first run:  {}\n  second run: {}\n",
                d.index + 1,
                line(d.first),
                line(d.second)
            );
            (text, EXIT_EXPECTATION_FAILED)
        }
    };
    match print(&text, false) {
        Ok(()) => ExitCode::from(code),
        Err(code) => code,
    }
}

/// The scenario file, or with `-` standard input (JSON if it starts with `{`, else TOML).
fn load_scenario(path: &Path, overrides: &[Override]) -> Result<scenario::Scenario, String> {
    if path != Path::new("-") {
        return scenario::load_file_with(path, overrides).map_err(|e| e.to_string());
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .map_err(|e| format!("<stdin>: expected a UTF-8 scenario, found {e}"))?;
    let name = if text.trim_start().starts_with('{') { "<stdin>.json" } else { "<stdin>" };
    scenario::load_str_with(name, &text, overrides).map_err(|e| e.to_string())
}

/// The trace, the history and the JUnit file, as asked.
/// The scenario file rewritten with the nemesis's faults at `seed`, checked to load back with every fault.
fn emitted_scenario(scenario: &scenario::Scenario, path: &Path, seed: u64) -> Result<String, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--emit-scenario: reading {}: {e}", path.display()))?;
    if sim::fnv64(text.as_bytes()) != scenario.source_fnv64 {
        return Err(format!("--emit-scenario: {} changed during the run", path.display()));
    }
    let own = scenario.sim.faults.len();
    let drawn = scenario.sim.faults_at(seed).split_off(own);
    let emitted = scenario::emit::emit_scenario(&text, seed, &scenario.sim.cluster, &drawn)
        .map_err(|e| format!("--emit-scenario: {e}"))?;
    let reloaded = scenario::load_str(&path.display().to_string(), &emitted)
        .map_err(|e| format!("--emit-scenario: the rewritten scenario does not load: {e}"))?;
    if reloaded.sim.nemesis.is_some() || reloaded.sim.faults.len() != own + drawn.len() {
        return Err("--emit-scenario: the rewritten scenario does not hold exactly the run's faults".to_string());
    }
    Ok(emitted)
}

fn write_run_outputs(
    outputs: &mut Outputs,
    scenario: &scenario::Scenario,
    path: &Path,
    outcome: &Outcome,
    verdict: Option<&verdict::Verdict>,
) -> Result<(), String> {
    if let Some(lines) = &outcome.trace {
        let title = format!("{} seed {}", scenario.name, outcome.seed);
        let run = crate::perfetto::RunTrace {
            title: &title,
            spec: &scenario.sim.cluster,
            trace: lines,
            messages: outcome.messages.as_deref().unwrap_or_default(),
            end_us: outcome.stats.simulated_time_us,
        };
        outputs.write(Kind::Perfetto, |w| crate::perfetto::write(w, &run))?;
    }
    outputs.write(Kind::History, |w| summary::write_history_jsonl(outcome, w))?;
    if outputs.wants(Kind::Timeline) {
        let title = format!("{} seed {}", scenario.name, outcome.seed);
        let reproduce = reproduce_command(path, outcome.seed, scenario.source_fnv64, &override_words(scenario));
        let timeline = crate::timeline::Timeline::of(title, reproduce, &scenario.sim.cluster, outcome);
        let page = crate::timeline::html(&timeline).map_err(|e| format!("--timeline: {e}"))?;
        outputs.write(Kind::Timeline, |w| w.write_all(page.as_bytes()))?;
    }
    if outputs.wants(Kind::Scenario) {
        let text = emitted_scenario(scenario, path, outcome.seed)?;
        outputs.write(Kind::Scenario, |w| w.write_all(text.as_bytes()))?;
    }
    if outputs.wants(Kind::Junit) {
        let reproduce = reproduce_command(path, outcome.seed, scenario.source_fnv64, &override_words(scenario));
        let properties = vec![
            ("seed", outcome.seed.to_string()),
            ("scenario", path.display().to_string()),
            ("scenario_fnv64", format!("{:016x}", scenario.source_fnv64)),
            ("insync_version", env!("CARGO_PKG_VERSION").to_string()),
            ("time", "simulated seconds".to_string()),
        ];
        let time_s = outcome.stats.simulated_time_us as f64 / 1e6;
        let cases = junit::verdict_cases(verdict, time_s, &reproduce);
        let suite = junit::Suite { name: &scenario.name, properties, time_s, cases, reproduce: &reproduce };
        let xml = junit::write(&suite).map_err(|e| format!("--junit: {e}"))?;
        outputs.write(Kind::Junit, |w| w.write_all(xml.as_bytes()))?;
    }
    Ok(())
}

/// Prints a result. A closed pipe (`| head`) is the reader's choice and ends quietly with the usual exit code;
/// any other failure to write (a full disk) is an error, exit 2, never a silent success.
fn print(text: &str, to_stderr: bool) -> Result<(), ExitCode> {
    let written = if to_stderr {
        std::io::stderr().lock().write_all(text.as_bytes())
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|()| out.flush())
    };
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("error: cannot write the result: {e}");
            Err(ExitCode::from(EXIT_BAD_INPUT))
        }
        _ => Ok(()),
    }
}

/// The formats `insync check` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HistoryFormat {
    /// insync's history: JSON Lines, versions 1 and 2.
    Jsonl,
    /// A Jepsen Kafka workload's history (EDN op maps, jepsen.tests.kafka).
    Jepsen,
}

/// What `insync check` was asked.
struct CheckOptions<'a> {
    format: HistoryFormat,
    holds: &'a [String],
    json: bool,
    junit: Option<&'a Path>,
    limit: Option<usize>,
    allow_empty: bool,
}

/// `insync check`: the checker over a recorded history (and its final and replica logs, when the file has them).
fn check_history(path: &Path, asked: &CheckOptions<'_>) -> ExitCode {
    let CheckOptions { format, holds, json, junit, limit, allow_empty } = *asked;
    let read = match format {
        HistoryFormat::Jsonl => summary::read_history_jsonl(path),
        HistoryFormat::Jepsen => summary::read_jepsen_edn(path),
    };
    let recorded = match read {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    if let Some(unknown) = holds.iter().find(|h| insync_check_expand(h).is_none()) {
        let names = crate::check::GUARANTEES.iter().map(|(g, _)| *g).chain(crate::check::INVARIANTS.iter().copied());
        let names = names.collect::<Vec<_>>().join(", ");
        eprintln!("error: --holds {unknown}: expected a guarantee or invariant, one of {names}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let invariants: Vec<&str> = holds.iter().flat_map(|h| insync_check_expand(h).unwrap_or_default()).collect();
    if invariants.contains(&crate::check::divergence::NAME) && recorded.replica_logs.is_none() {
        eprintln!("error: --holds: divergence needs the replica logs, which {} does not have", path.display());
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let expect = scenario::expect::Expectations { holds: holds.to_vec(), ..Default::default() };
    let (logs, replicas) = (recorded.final_logs.as_deref(), recorded.replica_logs.as_deref());
    let evidence = verdict::Evidence::of_history(&recorded.history, logs, replicas);
    let v = verdict::judge(&expect, &verdict::Evidence { witness_limit: limit, empty_fails: !allow_empty, ..evidence });
    let mut outputs = match Outputs::prepare(Some(path), &[(Kind::Junit, junit)]) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    if outputs.wants(Kind::Junit) {
        let bytes = std::fs::read(path).unwrap_or_default();
        let properties = vec![
            ("history", path.display().to_string()),
            ("history_fnv64", format!("{:016x}", sim::fnv64(&bytes))),
            ("insync_version", env!("CARGO_PKG_VERSION").to_string()),
        ];
        let reproduce = check_command(path, asked);
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("history");
        let cases = if holds.is_empty() {
            junit::invariant_cases(&v, &reproduce)
        } else {
            junit::verdict_cases(Some(&v), 0.0, &reproduce)
        };
        let suite = junit::Suite { name, properties, time_s: 0.0, cases, reproduce: &reproduce };
        let written = junit::write(&suite).map_err(|e| format!("--junit: {e}"));
        let written = written.and_then(|xml| outputs.write(Kind::Junit, |w| w.write_all(xml.as_bytes())));
        if let Err(e) = written {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    let summary_to_stderr = outputs.uses_stdout();
    if let Err(e) = outputs.commit() {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let text = if json { summary::check_json(&v, logs.is_some()) } else { summary::check_human(&v, logs.is_some()) };
    if let Err(code) = print(&text, summary_to_stderr) {
        return code;
    }
    if v.all_met() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_EXPECTATION_FAILED) }
}

/// The `insync check` command line that judges the history again as asked.
fn check_command(path: &Path, asked: &CheckOptions<'_>) -> String {
    let mut command = format!("insync check {}", shell_word(&path.display().to_string()));
    if asked.format == HistoryFormat::Jepsen {
        command.push_str(" --format jepsen");
    }
    if !asked.holds.is_empty() {
        command.push_str(&format!(" --holds {}", asked.holds.join(",")));
    }
    if asked.allow_empty {
        command.push_str(" --allow-empty");
    }
    command
}

/// `insync validate`: exit 0 with what the scenario sets up, or 2 with the first error.
fn validate_scenario(path: &Path, json: bool, overrides: &[Override]) -> ExitCode {
    let scenario = match load_scenario(path, overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let text = if json { validate::json(&scenario, path) } else { validate::human(&scenario, path) };
    match print(&text, false) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

fn insync_check_expand(name: &str) -> Option<Vec<&'static str>> {
    crate::check::expand(name)
}

/// The `--json` object of a run, as `insync run --json` prints it (for tests that check it against its schema).
pub fn run_json(scenario: &scenario::Scenario, path: &Path, outcome: &Outcome) -> String {
    let judged = !scenario.expect.is_empty() || outcome.state_breach.is_some();
    let verdict = judged.then(|| verdict::judge(&scenario.expect, &outcome.evidence()));
    summary::json(scenario, path, outcome, verdict.as_ref(), Some(verdict::WITNESSES_SHOWN))
}

/// The command that reproduces a run, printed with every result: with the scenario's hash, so that running it warns
/// when the file has changed since.
/// `--set` overrides come after, each quoted for a POSIX shell when it needs to be.
pub fn reproduce_command(path: &Path, seed: u64, scenario_fnv64: u64, overrides: &[String]) -> String {
    let mut command = format!("insync run {} --seed {seed} --scenario-fnv64 {scenario_fnv64:016x}", path.display());
    for o in overrides {
        command.push_str(" --set ");
        command.push_str(&shell_word(o));
    }
    command
}

/// `text` as one POSIX shell word: unchanged when it is plain, else in single quotes.
pub fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._-=/:,+@%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The overrides as `KEY=VALUE` words, as a reproduce line and an `--out` header carry them.
pub fn override_words(scenario: &scenario::Scenario) -> Vec<String> {
    scenario.overrides.iter().map(ToString::to_string).collect()
}
