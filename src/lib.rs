//! insync: a deterministic simulator of Apache Kafka clusters.

pub mod check;
pub mod cli;
pub mod compare;
pub mod digest;
pub mod engine;
pub mod faults;
pub mod history;
pub mod kafka;
pub mod page;
pub mod perfetto;
pub mod progress;
pub mod samples;
pub mod scenario;
pub mod shrink;
pub mod sim;
pub mod sweep;
pub mod timeline;
pub mod units;
