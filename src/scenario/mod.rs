//! Scenario files: the format, its strict validation with precise errors, and building a run from it.

pub mod doc;
