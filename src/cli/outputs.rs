//! The files a command writes (`--trace`, `--history`, `--junit`, `--timeline`…): checked before the run starts — writable, none
//! equal to the input or to another —, each written through a buffer to a temporary file beside it, and renamed
//! into place only once every one of them was written, so a failure or a kill never leaves a truncated or
//! half-updated set. `-` is standard output (then the summary goes to standard error).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// What a file is for, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Trace,
    History,
    Junit,
    /// `explore --out`: one line per seed.
    Explore,
    /// `run --emit-scenario`: the scenario with its nemesis's faults written out.
    Scenario,
    /// `shrink -o`: the shrunk scenario.
    Shrunk,
    /// `compare -o DIR`: its page, its Markdown report, its JSON and CSV results.
    ReportHtml,
    ReportMarkdown,
    ReportJson,
    ReportCsv,
    /// `run --perfetto`: the trace in the Trace Event Format.
    Perfetto,
    /// `run --timeline`: the run drawn over time, one HTML page.
    Timeline,
}

impl Kind {
    fn flag(self) -> &'static str {
        match self {
            Kind::Trace => "--trace",
            Kind::History => "--history",
            Kind::Junit => "--junit",
            Kind::Explore => "--out",
            Kind::Scenario => "--emit-scenario",
            Kind::Shrunk => "--out",
            Kind::ReportHtml | Kind::ReportMarkdown | Kind::ReportJson | Kind::ReportCsv => "-o",
            Kind::Perfetto => "--perfetto",
            Kind::Timeline => "--timeline",
        }
    }
}

/// Where one output goes.
enum Target {
    Stdout(BufWriter<io::Stdout>),
    /// The final path and its temporary file, open for writing.
    File {
        path: PathBuf,
        temp: PathBuf,
        file: Option<BufWriter<File>>,
    },
}

/// The outputs of one command, prepared before it runs.
pub struct Outputs {
    targets: Vec<(Kind, Target)>,
}

impl Outputs {
    /// Checks and opens every requested output: `input` is the file the command reads (`None` for stdin).
    pub fn prepare(input: Option<&Path>, requested: &[(Kind, Option<&Path>)]) -> Result<Outputs, String> {
        // Built as it goes, so that a refusal half-way drops (and removes) the temporary files made so far.
        let mut outputs = Outputs { targets: Vec::new() };
        let targets = &mut outputs.targets;
        let mut seen: Vec<(Kind, PathBuf)> = Vec::new();
        for &(kind, path) in requested {
            let Some(path) = path else { continue };
            if path == Path::new("-") {
                if let Some((other, _)) = targets.iter().find(|(_, t)| matches!(t, Target::Stdout(_))) {
                    return Err(format!(
                        "{} - and {} -: only one output can be standard output",
                        other.flag(),
                        kind.flag()
                    ));
                }
                targets.push((kind, Target::Stdout(BufWriter::new(io::stdout()))));
                continue;
            }
            let resolved = resolve(path);
            if input.is_some_and(|i| resolve(i) == resolved) {
                return Err(format!(
                    "{} {}: that is the input file; it would be overwritten",
                    kind.flag(),
                    path.display()
                ));
            }
            if let Some((other, _)) = seen.iter().find(|(_, p)| *p == resolved) {
                return Err(format!(
                    "{} and {} both name {}: give each its own file",
                    other.flag(),
                    kind.flag(),
                    path.display()
                ));
            }
            seen.push((kind, resolved));
            let temp = temp_path(path);
            let file = File::create(&temp)
                .map_err(|e| format!("{} {}: cannot write there: {e}", kind.flag(), path.display()))?;
            targets.push((kind, Target::File { path: path.to_path_buf(), temp, file: Some(BufWriter::new(file)) }));
        }
        Ok(outputs)
    }

    /// Whether an output takes standard output (so the summary should not).
    pub fn uses_stdout(&self) -> bool {
        self.targets.iter().any(|(_, t)| matches!(t, Target::Stdout(_)))
    }

    /// Whether `kind` was asked for.
    pub fn wants(&self, kind: Kind) -> bool {
        self.targets.iter().any(|(k, _)| *k == kind)
    }

    /// Writes `kind` with `write`, if it was asked for.
    pub fn write(&mut self, kind: Kind, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), String> {
        let Some((_, target)) = self.targets.iter_mut().find(|(k, _)| *k == kind) else { return Ok(()) };
        let result = match target {
            Target::Stdout(out) => quiet_on_closed_pipe(write(out).and_then(|()| out.flush())),
            Target::File { file: Some(file), .. } => write(file).and_then(|()| file.flush()),
            Target::File { file: None, .. } => unreachable!("each output is written once"),
        };
        result.map_err(|e| format!("{}: cannot write: {e}", kind.flag()))
    }

    /// Where `kind` can be written as a command goes (a trace as the run makes it), if it was asked for; then
    /// `streamed` says how that went.
    pub fn stream(&mut self, kind: Kind) -> Option<&mut dyn Write> {
        match self.targets.iter_mut().find(|(k, _)| *k == kind)?.1 {
            Target::Stdout(ref mut out) => Some(out),
            Target::File { file: Some(ref mut file), .. } => Some(file),
            Target::File { file: None, .. } => unreachable!("each output is written once"),
        }
    }

    /// Ends a `stream` of `kind` that stopped with `error` (if it did): standard output is flushed, a closed pipe
    /// is no error (the reader wanted no more), anything else is.
    pub fn streamed(&mut self, kind: Kind, error: Option<&io::Error>) -> Result<(), String> {
        let Some((_, target)) = self.targets.iter_mut().find(|(k, _)| *k == kind) else { return Ok(()) };
        let failed = |e: &io::Error| format!("{}: cannot write: {e}", kind.flag());
        let to_stdout = matches!(target, Target::Stdout(_));
        match error {
            Some(e) if to_stdout && e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Some(e) => Err(failed(e)),
            None => match target {
                Target::Stdout(out) => quiet_on_closed_pipe(out.flush()).map_err(|e| failed(&e)),
                Target::File { .. } => Ok(()),
            },
        }
    }

    /// Every file written: move them into place (a file sync first, so a power loss cannot leave an empty one).
    pub fn commit(mut self) -> Result<(), String> {
        for (kind, target) in &mut self.targets {
            if let Target::File { path, temp, file } = target {
                let file = file.take().map(|f| f.into_inner().map_err(|e| e.into_error()));
                file.transpose()
                    .and_then(|f| f.map_or(Ok(()), |f| f.sync_all()))
                    .and_then(|()| std::fs::rename(&*temp, &*path))
                    .map_err(|e| format!("{} {}: cannot write: {e}", kind.flag(), path.display()))?;
            }
        }
        self.targets.clear();
        Ok(())
    }
}

impl Drop for Outputs {
    /// Not committed (an error on the way): the temporary files go, the final paths stay as they were.
    fn drop(&mut self) {
        for (_, target) in &self.targets {
            if let Target::File { temp, .. } = target {
                let _ = std::fs::remove_file(temp);
            }
        }
    }
}

/// A reader that closed the pipe (`| head`) wanted no more: not an error.
fn quiet_on_closed_pipe(result: io::Result<()>) -> io::Result<()> {
    result.or_else(|e| if e.kind() == io::ErrorKind::BrokenPipe { Ok(()) } else { Err(e) })
}

/// The path made absolute (through symbolic links when it exists), for comparing two names of one file.
fn resolve(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match (std::fs::canonicalize(parent), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

/// `dir/.name.insync-<pid>.tmp`: beside the final file, so the rename stays on one file system.
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.insync-{}.tmp", std::process::id()))
}
