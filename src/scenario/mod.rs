//! Scenario files: the format (TOML, or JSON with the same schema), its strict validation with precise errors,
//! and the typed `Scenario` a run is built from.

pub mod consumers;
pub mod doc;
pub mod emit;
pub mod expect;
pub mod happened;
pub mod load;
pub mod matrix;
pub mod nemesis;
pub mod overrides;
pub mod when;

pub use doc::{LoadError, Source};
pub use load::Scenario;

use std::path::Path;

/// The scenario file's JSON Schema, learnt from the loader while it loads `files` (the bundled scenarios visit
/// every kind of table): each key any reader knows, with what its value must be.
pub fn schema_from_files(files: &[std::path::PathBuf]) -> Result<serde_json::Value, String> {
    let mut failed = None;
    let schema = doc::schema::record(|| {
        failed = files.iter().find_map(|f| load_file(f).err()).map(|e| e.to_string());
    });
    failed.map_or(Ok(schema), Err)
}

/// Loads and validates a scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, LoadError> {
    load_file_with(path, &[])
}

/// Loads a scenario file with `--set` overrides applied, validated as one document.
pub fn load_file_with(path: &Path, overrides: &[overrides::Override]) -> Result<Scenario, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::unreadable(shown.clone(), "a readable UTF-8 scenario file", &e))?;
    load_str_with(&shown, &text, overrides)
}

/// Loads a scenario from text; `path` decides the format (`.json` is JSON, anything else TOML) and names errors.
pub fn load_str(path: &str, text: &str) -> Result<Scenario, LoadError> {
    load_str_with(path, text, &[])
}

/// Loads a scenario from text with `--set` overrides applied (later ones win).
pub fn load_str_with(path: &str, text: &str, overrides: &[overrides::Override]) -> Result<Scenario, LoadError> {
    let mut source = Source::new(path, text);
    let mut root = doc::parse(&source)?;
    overrides::apply(&mut source, &mut root, overrides)?;
    let stem = Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or("scenario");
    let mut scenario = load::read_scenario(&source, &root, stem)?;
    scenario.overrides = overrides.to_vec();
    Ok(scenario)
}
