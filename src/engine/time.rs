//! Simulated time: an integer count of microseconds since the start of the run.

use serde::Serialize;
use std::fmt;

/// A point in simulated time, in microseconds. Never a float, never the wall clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
pub struct SimTime(pub u64);

pub use crate::units::{US_PER_MS, US_PER_S};

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub fn from_ms(ms: u64) -> SimTime {
        SimTime(ms.saturating_mul(US_PER_MS))
    }

    pub fn as_us(self) -> u64 {
        self.0
    }

    /// This time plus a span in microseconds, saturating so a huge timeout never wraps.
    pub fn plus_us(self, span_us: u64) -> SimTime {
        SimTime(self.0.saturating_add(span_us))
    }

    /// Microseconds from `earlier` to this time; zero if `earlier` is later.
    pub fn since_us(self, earlier: SimTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for SimTime {
    /// Seconds with millisecond precision, e.g. `12.310s`: how traces and summaries show time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::units::Seconds(self.0).fmt(f)
    }
}
