//! The modelled Kafka cluster: brokers, the controller, producers, their messages and configs, and the rules of
//! replication. Depends on the engine only for time, messages and timers.

pub mod assignor;
pub mod backoff;
pub mod broker;
pub mod cluster;
pub mod config;
pub mod consumer;
pub mod controller;
pub mod coordinator;
pub mod epoch_cache;
pub mod ids;
pub mod log;
pub mod messages;
pub mod node;
pub mod obs;
pub mod partition;
pub mod partitioner;
pub mod producer;
pub mod quorum;
pub mod spec;
pub mod state_check;
