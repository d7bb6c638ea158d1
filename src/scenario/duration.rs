//! Durations as scenario files write them: `90s`, `15m`, `1h30m`, `400us`.

use crate::sim::time::SimDuration;

/// Parses a duration with `humantime`'s grammar (units ns, us, ms, s, m, h,
/// d; several may be combined, as in `1h 30m`). A bare `0` is accepted.
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
    humantime::parse_duration(trimmed)
        .map(SimDuration::from)
        .map_err(|err| {
            format!("`{text}` is not a duration ({err}); write it like 90s, 15m, 1h30m or 400us")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_units_scenarios_use() {
        assert_eq!(parse_duration("1h"), Ok(SimDuration::from_secs(3600)));
        assert_eq!(parse_duration("90s"), Ok(SimDuration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(SimDuration::from_secs(5400)));
        assert_eq!(parse_duration("400us"), Ok(SimDuration::from_micros(400)));
        assert_eq!(parse_duration("3ms"), Ok(SimDuration::from_millis(3)));
        assert_eq!(parse_duration("0"), Ok(SimDuration::ZERO));
    }

    #[test]
    fn rejects_negative_and_garbage() {
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_duration("5").is_err());
    }
}
