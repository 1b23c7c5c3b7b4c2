//! The integration tests: one binary, a module per area (scenarios' Kafka behaviour, determinism, properties,
//! bad input). Run in release: `cargo test --release`.

mod bad_input;
mod checker;
mod commit_strategies;
mod compare;
mod determinism;
mod expectations;
mod explore;
mod groups;
mod jepsen;
mod limits;
mod links;
mod nemesis;
mod outputs;
mod overrides;
mod perfetto;
mod properties;
mod recordings;
mod scenarios;
mod schemas;
mod sharper;
mod support;
mod timeline;
mod triggers;
