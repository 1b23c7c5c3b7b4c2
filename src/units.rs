//! Units shared by modules that must not depend on each other (the engine, the checker).

use std::fmt;

pub const US_PER_MS: u64 = 1_000;
pub const US_PER_S: u64 = 1_000_000;

/// A count of microseconds shown as seconds with millisecond precision, e.g. `12.310s`: how traces, summaries
/// and verdicts show time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seconds(pub u64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / US_PER_S, (self.0 % US_PER_S) / US_PER_MS)
    }
}
