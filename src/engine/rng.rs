//! Seeded random streams: one named generator per purpose, derived from the run's seed.
//!
//! Streams are derived by purpose and index so that, e.g., changing the fault schedule does not reshuffle the
//! workload. ChaCha8 from rand_chacha is used by name because its output is fixed across versions.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub type SimRng = ChaCha8Rng;

/// The generator for `purpose` (e.g. "network", "workload", "faults", "node") and `index` under `seed`.
pub fn stream(seed: u64, purpose: &str, index: u64) -> SimRng {
    ChaCha8Rng::seed_from_u64(key(seed, purpose, index))
}

/// The 64-bit key `stream` seeds its generator with: for draws made as a pure function (`keyed_draw`).
pub fn key(seed: u64, purpose: &str, index: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64; // FNV-1a over the purpose name: stable, no std hasher.
    for b in purpose.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    splitmix64(seed ^ splitmix64(h ^ splitmix64(index)))
}

/// A draw in `low..=high` that is a function of `key` and `parts` alone (e.g. a record's partition and offset),
/// so it does not depend on what was drawn before it. Multiply-shift over a 64-bit mix: the bias is below
/// (high - low + 1) / 2^64.
pub fn keyed_draw(key: u64, parts: &[u64], low: u64, high: u64) -> u64 {
    assert!(low <= high, "a draw from an empty range {low}..={high}");
    let mixed = parts.iter().fold(key, |h, &part| splitmix64(h ^ splitmix64(part)));
    let span = u128::from(high - low) + 1;
    low + ((u128::from(mixed) * span) >> 64) as u64
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn keyed_draws_depend_on_their_parts_alone_and_stay_in_range() {
        let k = key(7, "processing reader", 0);
        let draws: Vec<u64> = (0..1_000).map(|offset| keyed_draw(k, &[0, offset], 1_000, 5_000)).collect();
        assert!(draws.iter().all(|d| (1_000..=5_000).contains(d)));
        assert_eq!(keyed_draw(k, &[0, 42], 1_000, 5_000), draws[42]);
        assert!(draws.iter().any(|&d| d < 1_500) && draws.iter().any(|&d| d > 4_500), "spread over the range");
        assert_ne!(
            keyed_draw(key(8, "processing reader", 0), &[0, 42], 0, u64::MAX),
            keyed_draw(k, &[0, 42], 0, u64::MAX)
        );
        assert_eq!(keyed_draw(k, &[3], 9, 9), 9);
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: u64 = stream(7, "network", 0).random();
        let b: u64 = stream(7, "network", 0).random();
        let c: u64 = stream(7, "workload", 0).random();
        let d: u64 = stream(8, "network", 0).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
