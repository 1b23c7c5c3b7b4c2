//! Kafka's client backoffs (org.apache.kafka.common.utils.ExponentialBackoff): each consecutive failure doubles
//! the wait, from an initial value up to a maximum. Used for `retry.backoff.ms` → `retry.backoff.max.ms`
//! (KIP-580, 3.7+), `reconnect.backoff.ms` → `reconnect.backoff.max.ms` (KIP-144) and
//! `socket.connection.setup.timeout.ms` → `socket.connection.setup.timeout.max.ms` (KIP-601). Kafka adds ±20%
//! random jitter; the model does not (the README lists it among the simplifications).

/// An exponential backoff: `initial_us × 2^failures`, capped at `max_us`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExponentialBackoff {
    pub initial_us: u64,
    pub max_us: u64,
}

impl ExponentialBackoff {
    pub const fn new(initial_us: u64, max_us: u64) -> Self {
        ExponentialBackoff { initial_us, max_us }
    }

    /// The wait after `failures` consecutive failures before this one (0 for the first failure).
    pub fn after(self, failures: u32) -> u64 {
        // ExponentialBackoff.backoff: when initial ≥ max the wait is max from the start.
        if self.initial_us >= self.max_us {
            return self.max_us;
        }
        self.initial_us.saturating_mul(1 << failures.min(62)).min(self.max_us)
    }
}

/// `reconnect.backoff.ms` 50 → `reconnect.backoff.max.ms` 1000 (CommonClientConfigs defaults).
pub const RECONNECT: ExponentialBackoff = ExponentialBackoff::new(50_000, 1_000_000);

/// `socket.connection.setup.timeout.ms` 10000 → `socket.connection.setup.timeout.max.ms` 30000 (KIP-601).
pub const CONNECTION_SETUP_TIMEOUT: ExponentialBackoff = ExponentialBackoff::new(10_000_000, 30_000_000);

#[cfg(test)]
mod tests {
    use super::*;

    // KIP-580 / KIP-144: 100 ms, 200, 400, 800, then capped at 1000 ms.
    #[test]
    fn doubles_per_failure_up_to_the_maximum() {
        let retry = ExponentialBackoff::new(100_000, 1_000_000);
        let waits: Vec<u64> = (0..6).map(|f| retry.after(f)).collect();
        assert_eq!(waits, vec![100_000, 200_000, 400_000, 800_000, 1_000_000, 1_000_000]);
        assert_eq!(retry.after(u32::MAX), 1_000_000, "no overflow");
    }

    // KIP-601: the connection setup timeout starts at 10 s and doubles to 30 s.
    #[test]
    fn connection_setup_timeout_grows_to_thirty_seconds() {
        let waits: Vec<u64> = (0..3).map(|f| CONNECTION_SETUP_TIMEOUT.after(f)).collect();
        assert_eq!(waits, vec![10_000_000, 20_000_000, 30_000_000]);
        assert_eq!(RECONNECT.after(0), 50_000);
        assert_eq!(RECONNECT.after(5), 1_000_000);
    }

    // ExponentialBackoff: an initial value at or above the maximum waits the maximum.
    #[test]
    fn an_initial_value_above_the_maximum_waits_the_maximum() {
        assert_eq!(ExponentialBackoff::new(2_000_000, 1_000_000).after(0), 1_000_000);
    }
}
