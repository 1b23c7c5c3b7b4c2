//! insync: a deterministic simulator of Apache Kafka clusters.

pub mod check;
pub mod cli;
pub mod compare;
pub mod engine;
pub mod faults;
pub mod history;
pub mod kafka;
pub mod perfetto;
pub mod progress;
pub mod scenario;
pub mod shrink;
pub mod sim;
pub mod sweep;
pub mod units;
