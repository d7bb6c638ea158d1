//! Durations as scenario files write them: `90s`, `15m`, `1h30m`, `400us`.
//!
//! Own grammar rather than `humantime`'s, which also reads `M` as months
//! and `y` as years: a scenario's `ttl = "30M"` must be an error that says
//! which units exist, not 30 months.

use crate::sim::time::SimDuration;

/// The units a scenario may use, case-sensitive, with their length in
/// nanoseconds.
const UNITS: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

const HOW: &str = "write it like 90s, 15m, 1h30m or 400us (units: ns, us, ms, s, m, h, d; \
                   lower case: m is minutes)";

/// Parses a duration: one or more whole numbers, each followed by a unit
/// (`ns`, `us`, `ms`, `s`, `m`, `h`, `d`), optionally separated by spaces,
/// as in `1h 30m`. A bare `0` is accepted.
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let trimmed = text.trim();
    if trimmed == "0" {
        return Ok(SimDuration::ZERO);
    }
    if trimmed.starts_with('-') {
        return Err(format!(
            "`{text}` is negative; durations must be zero or more"
        ));
    }
    if trimmed.is_empty() {
        return Err(format!("`{text}` is empty; {HOW}"));
    }
    let mut total: u64 = 0;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!("`{text}` is not a duration; {HOW}"));
        }
        let (number, after) = rest.split_at(digits);
        let unit_len = after.len() - after.trim_start_matches(|c: char| c.is_alphabetic()).len();
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!("`{text}` needs a unit after {number}; {HOW}"));
        }
        let Some(&(_, nanos)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(format!("`{text}`: unknown unit `{unit}`; {HOW}"));
        };
        let value: u64 = number
            .parse()
            .map_err(|_| format!("`{text}` is too long"))?;
        total = value
            .checked_mul(nanos)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| format!("`{text}` is too long (at most about 584 years)"))?;
        rest = after.trim_start();
    }
    Ok(SimDuration::from_nanos(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_units_scenarios_use() {
        assert_eq!(parse_duration("1h"), Ok(SimDuration::from_secs(3600)));
        assert_eq!(parse_duration("90s"), Ok(SimDuration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(SimDuration::from_secs(5400)));
        assert_eq!(parse_duration("1h 30m"), Ok(SimDuration::from_secs(5400)));
        assert_eq!(parse_duration("400us"), Ok(SimDuration::from_micros(400)));
        assert_eq!(parse_duration("3ms"), Ok(SimDuration::from_millis(3)));
        assert_eq!(parse_duration("2d"), Ok(SimDuration::from_secs(172_800)));
        assert_eq!(parse_duration("0"), Ok(SimDuration::ZERO));
    }

    #[test]
    fn rejects_negative_garbage_and_units_that_are_not_ours() {
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_duration("5").unwrap_err().contains("needs a unit"));
        // humantime would read these as 30 months and 2 years.
        let months = parse_duration("30M").unwrap_err();
        assert!(months.contains("unknown unit `M`"), "{months}");
        assert!(months.contains("m is minutes"), "{months}");
        assert!(
            parse_duration("2y")
                .unwrap_err()
                .contains("unknown unit `y`")
        );
        assert!(parse_duration("1.5s").is_err());
        assert!(
            parse_duration("99999999999d")
                .unwrap_err()
                .contains("too long")
        );
    }
}
