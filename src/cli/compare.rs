//! `insync compare`: a comparison matrix run cell by cell over the same seeds, written as `index.html`,
//! `report.md`, `results.json` and `results.csv` in the output folder (each through a temporary file, renamed
//! into place once all four are written).

use super::explore::{bad_input, progress_bar};
use super::outputs::{Kind, Outputs};
use super::{print, reproduce_command};
use crate::compare::{self, Asked, CellRun, report};
use crate::scenario::{self, matrix, overrides::Override};
use crate::sweep::SeedRange;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

pub struct CompareArgs<'a> {
    pub matrix: &'a Path,
    pub seeds: Option<SeedRange>,
    pub jobs: usize,
    pub out: &'a Path,
    pub overrides: &'a [Override],
    pub quiet: bool,
}

pub fn compare(args: &CompareArgs<'_>) -> ExitCode {
    let m = match matrix::load_matrix(args.matrix) {
        Ok(m) => m,
        Err(e) => return bad_input(&e.to_string()),
    };
    let base = lexically_normal(&m.base);
    let cells = match cell_runs(&m, &base, args) {
        Ok(cells) => cells,
        Err(e) => return bad_input(&e),
    };
    let seeds = args.seeds.unwrap_or(SeedRange { start: 0, end: m.seeds });
    let runs = (seeds.end - seeds.start).saturating_mul(cells.len() as u64);
    if runs > crate::sweep::SEEDS_MAX {
        return bad_input(&format!("compare: {runs} runs (cells times seeds), at most {}", crate::sweep::SEEDS_MAX));
    }
    if let Err(e) = std::fs::create_dir_all(args.out) {
        return bad_input(&format!("-o {}: cannot make the folder: {e}", args.out.display()));
    }
    let files = [
        (Kind::ReportHtml, args.out.join("index.html")),
        (Kind::ReportMarkdown, args.out.join("report.md")),
        (Kind::ReportJson, args.out.join("results.json")),
        (Kind::ReportCsv, args.out.join("results.csv")),
    ];
    let requested: Vec<(Kind, Option<&Path>)> = files.iter().map(|(k, p)| (*k, Some(p.as_path()))).collect();
    let mut outputs = match Outputs::prepare(Some(args.matrix), &requested) {
        Ok(o) => o,
        Err(e) => return bad_input(&e),
    };
    let base_shown = base.display().to_string();
    let fnv = cells.first().map_or(0, |c| c.scenario.source_fnv64);
    let asked = Asked { name: &m.name, title: &m.title, base: &base_shown, base_fnv64: fnv, seeds, jobs: args.jobs };
    let bar = progress_bar(runs, args.quiet);
    let reproduce = |cell: &CellRun, seed: u64| {
        let words: Vec<String> = cell.scenario.overrides.iter().map(ToString::to_string).collect();
        reproduce_command(&base, seed, cell.scenario.source_fnv64, &words)
    };
    let comparison = compare::compare(&asked, &cells, reproduce, || bar.inc(1));
    bar.finish_and_clear();
    let html = match compare::charts::html(&comparison) {
        Ok(h) => h,
        Err(e) => return bad_input(&e),
    };
    let texts = [
        (Kind::ReportHtml, html),
        (Kind::ReportMarkdown, report::markdown(&comparison)),
        (Kind::ReportJson, report::json(&comparison)),
        (Kind::ReportCsv, report::csv(&comparison)),
    ];
    for (kind, text) in &texts {
        if let Err(e) = outputs.write(*kind, |w| w.write_all(text.as_bytes())) {
            return bad_input(&e);
        }
    }
    if let Err(e) = outputs.commit() {
        return bad_input(&e);
    }
    let mut summary = format!("{} cells x {} seeds ({seeds})\n", cells.len(), seeds.end - seeds.start);
    for finding in report::findings(&comparison) {
        summary.push_str(&format!("  {}\n", finding.replace('`', "")));
    }
    summary.push_str(&format!("wrote {}/{{index.html,report.md,results.json,results.csv}}\n", args.out.display()));
    match print(&summary, false) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// Each cell's scenario: the base with the command line's overrides, then the cell's own.
fn cell_runs(m: &matrix::Matrix, base: &Path, args: &CompareArgs<'_>) -> Result<Vec<CellRun>, String> {
    let mut runs = Vec::with_capacity(m.cells.len());
    for cell in &m.cells {
        let overrides: Vec<Override> = args.overrides.iter().chain(&cell.overrides).cloned().collect();
        let scenario = scenario::load_file_with(base, &overrides)
            .map_err(|e| format!("{}: cell `{}`: {e}", args.matrix.display(), cell.name))?;
        runs.push(CellRun { cell: cell.clone(), scenario });
    }
    Ok(runs)
}

/// `a/b/../c` as `a/c`, without touching the file system (the reproduce line shows it as a user would write it).
fn lexically_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
