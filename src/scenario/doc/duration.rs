//! Durations as scenarios write them ("250ms", "1.5s"), and Kafka's `*.ms` settings as integers.

use super::*;

const DURATION_FORMS: &str = r#"a duration string with a unit: "100us", "250ms", "1.5s", "2m", "1h" (or "0")"#;

/// A duration string, in microseconds. Integer literals are rejected (the unit is required).
pub fn expect_duration_us(src: &Source, node: &Node, path: &str) -> Result<u64, LoadError> {
    super::schema::note(path, super::schema::Shape::Duration);
    match &node.value {
        Value::Str(s) => parse_duration_us(s).ok_or_else(|| LoadError::at_node(src, node, path, DURATION_FORMS)),
        Value::Int(i) => {
            let found = format!("the bare number {i} (add a unit, e.g. \"{i}ms\")");
            Err(LoadError::at(src, node.span.clone(), path, DURATION_FORMS, found))
        }
        _ => Err(LoadError::at_node(src, node, path, DURATION_FORMS)),
    }
}

/// A Kafka `*.ms` property: a non-negative integer number of milliseconds, or a duration
/// string such as "250ms"; returned in microseconds.
pub fn expect_ms_as_us(src: &Source, node: &Node, path: &str) -> Result<u64, LoadError> {
    super::schema::note(path, super::schema::Shape::Millis);
    let value = match &node.value {
        Value::Int(ms) => u64::try_from(*ms).ok().and_then(|ms| ms.checked_mul(1_000)),
        // A `.ms` property is a whole number of milliseconds in Kafka: "1500us" is not one.
        Value::Str(s) => parse_duration_us(s).filter(|us| us % 1_000 == 0),
        _ => None,
    };
    value.ok_or_else(|| {
        let expected = r#"a whole number of milliseconds (e.g. 250) or a duration string like "250ms" or "1.5s""#;
        LoadError::at_node(src, node, path, expected)
    })
}

// ---------------------------------------------------------------------------------------------
// Durations and suggestions
// ---------------------------------------------------------------------------------------------

/// Parses "100us", "250ms", "30s", "1.5s", "2m", "1h" or "0" into microseconds. Decimals are
/// allowed if the result is a whole number of microseconds; negatives, missing units,
/// whitespace and overflow give `None`.
pub fn parse_duration_us(s: &str) -> Option<u64> {
    if s == "0" {
        return Some(0);
    }
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = s.split_at(split);
    let multiplier: u64 = match unit {
        "us" | "µs" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        _ => return None,
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(frac) || (number.contains('.') && frac.is_empty()) {
        return None;
    }
    let whole_us = whole.parse::<u64>().ok()?.checked_mul(multiplier)?;
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        return Some(whole_us);
    }
    if frac.len() > 18 {
        return None;
    }
    let scale = 10u128.pow(u32::try_from(frac.len()).ok()?);
    let scaled = frac.parse::<u128>().ok()? * u128::from(multiplier);
    if scaled % scale != 0 {
        return None;
    }
    whole_us.checked_add(u64::try_from(scaled / scale).ok()?)
}
