//! Kafka's default partitioner for keyed records: partition = toPositive(murmur2(key bytes)) % partitions
//! (Utils.murmur2, BuiltInPartitioner.partitionForKey). Null keys are placed by the producer (sticky, KIP-794).

/// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2): seed 0x9747b28c, 4-byte little-endian blocks,
/// then the tail bytes, then the final mix.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len() as u32;
    let mut h: u32 = SEED ^ length;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = blocks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Utils.toPositive: clears the sign bit (not `abs`, which would fail on i32::MIN).
pub fn to_positive(n: i32) -> u32 {
    (n & 0x7fff_ffff) as u32
}

/// The partition of a keyed record among `partitions` (all of the topic's partitions, led or not).
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    to_positive(murmur2(key)) % partitions
}

/// The bytes of the model's numeric key `k`: its decimal digits, as a string key would be serialized.
pub fn key_bytes(k: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut n = k;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from Kafka's UtilsTest.testMurmur2 / librdkafka's murmur2 test vectors.
    #[test]
    fn murmur2_matches_kafka() {
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
        assert_eq!(murmur2(b"abc"), 479470107);
        assert_eq!(murmur2(b"kafka"), -798503068);
        assert_eq!(murmur2(b""), 275646681);
    }

    // The partition follows from the hashes above: toPositive(h) % n.
    #[test]
    fn keyed_partition_is_positive_hash_mod_partitions() {
        // toPositive(-973932308) = 1173551340; 1173551340 % 6 = 0, % 5 = 0, % 7 = 3.
        assert_eq!(partition_for_key(b"21", 6), 0);
        assert_eq!(partition_for_key(b"21", 5), 0);
        assert_eq!(partition_for_key(b"21", 7), 3);
        // toPositive(-798503068) = 1348980580; % 3 = 1.
        assert_eq!(partition_for_key(b"kafka", 3), 1);
        // toPositive(275646681) = 275646681; % 10 = 1.
        assert_eq!(partition_for_key(b"", 10), 1);
    }

    #[test]
    fn numeric_keys_hash_as_their_decimal_digits() {
        let mut buf = [0u8; 10];
        assert_eq!(key_bytes(21, &mut buf), b"21");
        assert_eq!(key_bytes(0, &mut buf), b"0");
        assert_eq!(key_bytes(u32::MAX, &mut buf), b"4294967295");
    }
}
