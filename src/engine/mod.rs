//! The discrete-event engine: simulated time, the event queue, seeded random streams, the network and the run loop.
//! It knows nothing of Kafka: it moves opaque messages between numbered processes.

pub mod network;
pub mod queue;
pub mod rng;
pub mod runner;
pub mod time;
pub mod wakeup;

pub use network::{LatencyModel, LinkFaults, Network, Ratio, Topology};
pub use queue::EventQueue;
pub use rng::{SimRng, stream};
pub use runner::{
    Command, Ctx, Engine, Exchange, Handled, Limits, MessageEntry, MessageKind, NodeId, NodeStatus, Passage, Process,
    RunEnd, Step, StorageLoss,
};
pub use time::SimTime;
pub use wakeup::Wakeup;
