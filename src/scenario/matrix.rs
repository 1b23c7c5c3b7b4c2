//! Comparison matrix files (`scenarios/compare/*.toml`): a base scenario and the settings to compare on it, as
//! named cells (presets such as the rungs of the durability ladder) and axes whose values are crossed. Each cell
//! is a list of `--set` overrides of the base, validated by loading the base with them.

use super::doc::{self, LoadError, Node, Source, TableReader, Value, expect_table};
use super::overrides::Override;
use std::path::{Path, PathBuf};

/// The most cells one matrix makes (axes crossed with presets).
pub const CELLS_MAX: usize = 64;
/// The most seeds a matrix may ask for by default (`--seeds` can ask for more, within the sweep's bounds).
const SEEDS_MAX: u64 = 100_000;
const AXIS_VALUES_MAX: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matrix {
    pub name: String,
    /// One line saying what is compared, for the report's heading.
    pub title: String,
    /// The base scenario, resolved against the matrix file's folder.
    pub base: PathBuf,
    /// How many seeds (0..N) each cell runs unless `--seeds` says otherwise.
    pub seeds: u64,
    pub cells: Vec<Cell>,
}

/// One configuration compared: its name and the overrides that make it from the base.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    pub name: String,
    pub overrides: Vec<Override>,
}

struct Axis {
    name: String,
    key: String,
    /// (value as written for the cell's name, override value)
    values: Vec<(String, String)>,
}

pub fn load_matrix(path: &Path) -> Result<Matrix, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::unreadable(shown.clone(), "a readable UTF-8 comparison matrix file", &e))?;
    let folder = path.parent().unwrap_or(Path::new(""));
    read_matrix(&Source::new(shown, text), folder)
}

pub fn read_matrix(src: &Source, folder: &Path) -> Result<Matrix, LoadError> {
    let root = doc::parse(src)?;
    let mut top = TableReader::new(src, &root, "", false)?;
    let stem = Path::new(&src.path).file_stem().and_then(|s| s.to_str()).unwrap_or("compare").to_string();
    let name = top.str("name")?.map_or(stem, str::to_string);
    let title = top.str("title")?.unwrap_or("").to_string();
    let base = top.str("base")?;
    let base = folder.join(top.required("base", base, "the base scenario's path, relative to this file")?);
    let seeds = top.u64_in("seeds", 1, SEEDS_MAX)?.unwrap_or(100);
    let common = match top.table("set", true)? {
        Some(t) => read_set(t)?,
        None => Vec::new(),
    };
    let presets = read_presets(&mut top)?;
    let axes = read_axes(&mut top)?;
    let cells = cross(&top, common, presets, &axes)?;
    top.finish()?;
    Ok(Matrix { name, title, base, seeds, cells })
}

/// A `set = { "producers.acks" = "all", ... }` table as overrides, in the order written.
fn read_set(mut t: TableReader<'_>) -> Result<Vec<Override>, LoadError> {
    let src = t.source();
    let mut out = Vec::new();
    for key in t.keys() {
        let node = t.node(&key).unwrap_or_else(|| unreachable!("a key the table listed"));
        out.push(Override { value: override_value(src, node), key });
    }
    t.finish()?;
    Ok(out)
}

/// A matrix value as `--set` would take it: a string as its text unless that text would read as another kind
/// (then quoted, so `"true"` stays a string); anything else as written.
fn override_value(src: &Source, node: &Node) -> String {
    match &node.value {
        Value::Str(s) if super::overrides::reads_as_string(s) => s.clone(),
        Value::Str(s) => serde_json::to_string(s).unwrap_or_default(),
        _ => src.text.get(node.span.clone()).unwrap_or("").trim().to_string(),
    }
}

fn read_presets(top: &mut TableReader<'_>) -> Result<Vec<Cell>, LoadError> {
    let src = top.source();
    let path = top.path("cells");
    let mut cells = Vec::new();
    for (i, node) in top.array("cells")?.unwrap_or(&[]).iter().enumerate() {
        let mut t = expect_table(src, node, &doc::elem_path(&path, i), false)?;
        let name = t.str("name")?;
        let name = t.required("name", name, "the cell's name")?.to_string();
        if cells.iter().any(|c: &Cell| c.name == name) {
            return Err(t.error_at("name", "a name no other cell has", format!("\"{name}\"")));
        }
        let overrides = match t.table("set", true)? {
            Some(set) => read_set(set)?,
            None => Vec::new(),
        };
        t.finish()?;
        cells.push(Cell { name, overrides });
    }
    Ok(cells)
}

fn read_axes(top: &mut TableReader<'_>) -> Result<Vec<Axis>, LoadError> {
    let src = top.source();
    let path = top.path("axes");
    let mut axes = Vec::new();
    for (i, node) in top.array("axes")?.unwrap_or(&[]).iter().enumerate() {
        let mut t = expect_table(src, node, &doc::elem_path(&path, i), false)?;
        let key = t.str("key")?;
        let key = t.required("key", key, "the scenario key this axis sets, as --set takes it")?.to_string();
        let short = key.split_once('.').map_or(key.as_str(), |(_, rest)| rest).to_string();
        let name = t.str("name")?.map_or(short, str::to_string);
        let values_path = t.path("values");
        let values = t.array("values")?;
        let values = t.required("values", values, "the values to compare, an array")?;
        if values.is_empty() || values.len() > AXIS_VALUES_MAX {
            let found = format!("{} values", values.len());
            return Err(t.error_at("values", format!("1 to {AXIS_VALUES_MAX} values"), found));
        }
        let values = values
            .iter()
            .enumerate()
            .map(|(j, v)| {
                let shown = match &v.value {
                    Value::Str(s) => s.clone(),
                    Value::Table(_) | Value::Array(_) => {
                        let expected = "a string, number or boolean";
                        return Err(LoadError::at_node(src, v, &doc::elem_path(&values_path, j), expected));
                    }
                    _ => override_value(src, v),
                };
                Ok((shown, override_value(src, v)))
            })
            .collect::<Result<_, _>>()?;
        t.finish()?;
        axes.push(Axis { name, key, values });
    }
    Ok(axes)
}

/// Every preset (or the base alone) crossed with every combination of axis values, the first axis outermost.
fn cross(
    top: &TableReader<'_>,
    common: Vec<Override>,
    presets: Vec<Cell>,
    axes: &[Axis],
) -> Result<Vec<Cell>, LoadError> {
    let count = axes.iter().map(|a| a.values.len()).product::<usize>() * presets.len().max(1);
    if count > CELLS_MAX {
        return Err(
            top.error_here(format!("at most {CELLS_MAX} cells (presets times axis values)"), format!("{count}"))
        );
    }
    let starts = if presets.is_empty() { vec![Cell { name: String::new(), overrides: Vec::new() }] } else { presets };
    let mut cells: Vec<Cell> = starts;
    for axis in axes {
        cells = cells
            .iter()
            .flat_map(|cell| {
                axis.values.iter().map(move |(shown, value)| {
                    let label = format!("{}={shown}", axis.name);
                    let name = if cell.name.is_empty() { label } else { format!("{} {label}", cell.name) };
                    let mut overrides = cell.overrides.clone();
                    overrides.push(Override { key: axis.key.clone(), value: value.clone() });
                    Cell { name, overrides }
                })
            })
            .collect();
    }
    for cell in &mut cells {
        if cell.name.is_empty() {
            cell.name = "base".to_string();
        }
        let own = std::mem::take(&mut cell.overrides);
        cell.overrides = common.iter().cloned().chain(own).collect();
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Matrix, LoadError> {
        read_matrix(&Source::new("m.toml", text), Path::new("scenarios/compare"))
    }

    #[test]
    fn axes_cross_the_presets_in_order() {
        let m = read(
            r#"
base = "../x.toml"
seeds = 20
set = { "producers.enable.idempotence" = false }
[[cells]]
name = "rf3"
set = { topics.replication.factor = 3 }
[[axes]]
key = "producers.acks"
name = "acks"
values = ["1", "all"]
[[axes]]
key = "topics.min.insync.replicas"
values = [1, 2]
"#,
        )
        .expect("loads");
        assert_eq!(m.base, Path::new("scenarios/compare/../x.toml"));
        let names: Vec<&str> = m.cells.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "rf3 acks=1 min.insync.replicas=1",
                "rf3 acks=1 min.insync.replicas=2",
                "rf3 acks=all min.insync.replicas=1",
                "rf3 acks=all min.insync.replicas=2"
            ]
        );
        let sets: Vec<String> = m.cells[1].overrides.iter().map(ToString::to_string).collect();
        assert_eq!(
            sets,
            [
                "producers.enable.idempotence=false",
                "topics.replication.factor=3",
                "producers.acks=\"1\"",
                "topics.min.insync.replicas=2"
            ]
        );
        assert_eq!(m.cells[2].overrides[2].value, "all");
    }

    #[test]
    fn bad_matrices_are_refused_with_the_field() {
        let cases = [
            ("seeds = 3", "base"),
            ("base = \"x\"\n[[axes]]\nkey = \"a.b\"\nvalues = []", "axes[0].values"),
            ("base = \"x\"\n[[cells]]\nset = {}", "cells[0].name"),
            ("base = \"x\"\n[[cells]]\nname = \"a\"\n[[cells]]\nname = \"a\"", "cells[1].name"),
            ("base = \"x\"\nbsae = 1", "bsae"),
            ("base = \"x\"\n[[axes]]\nkey = \"a.b\"\nvalues = [[1]]", "axes[0].values[0]"),
        ];
        for (text, field) in cases {
            let e = read(text).expect_err(text);
            assert_eq!(e.field, field, "{text}: {e}");
        }
        let many = (0..7).map(|i| format!("[[axes]]\nkey = \"k.{i}\"\nvalues = [1, 2]\n")).collect::<String>();
        let e = read(&format!("base = \"x\"\n{many}")).expect_err("128 cells");
        assert!(e.expected.contains("at most 64 cells"), "{e}");
    }
}
