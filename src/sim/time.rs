//! Simulated time: integer nanoseconds since the start of a run.
//!
//! The core never reads a wall clock. Every instant is a [`SimTime`] and every
//! span a [`SimDuration`], both plain `u64` nanoseconds, so arithmetic is exact
//! and the same on every machine (no `f64` seconds drifting between runs).
//! `u64` nanoseconds cover about 584 years, far beyond any scenario.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant in simulated time, in nanoseconds since the run started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A length of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);

    /// An instant `nanos` nanoseconds after the start.
    pub const fn from_nanos(nanos: u64) -> Self {
        SimTime(nanos)
    }

    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the start, for reports only (never for arithmetic).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// The time elapsed since `earlier`; zero if `earlier` is later.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

/// 2^52: from here on every f64 is a whole number.
const TWO_TO_52: f64 = 4_503_599_627_370_496.0;

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    pub const fn from_nanos(nanos: u64) -> Self {
        SimDuration(nanos)
    }

    pub const fn from_micros(micros: u64) -> Self {
        SimDuration(micros * 1_000)
    }

    pub const fn from_millis(millis: u64) -> Self {
        SimDuration(millis * 1_000_000)
    }

    pub const fn from_secs(secs: u64) -> Self {
        SimDuration(secs * 1_000_000_000)
    }

    /// Rounds a non-negative number of nanoseconds to the nearest integer.
    /// Used by distributions, whose samples are computed in `f64`.
    #[inline]
    pub fn from_nanos_f64(nanos: f64) -> Self {
        debug_assert!(nanos >= 0.0, "negative duration sample {nanos}");
        // Exactly `nanos.max(0.0).round() as u64` (half away from zero;
        // NaN becomes 0, +inf u64::MAX), without `round`, which is a libm
        // call on baseline x86_64 (2% of a million-user run, issue 11).
        let x = nanos.max(0.0);
        if x < TWO_TO_52 {
            // Below 2^52 the whole part and the fraction are both exact.
            // Through i64: one instruction each way, where u64 takes a
            // dozen on x86_64.
            let whole = x as i64;
            let fraction = x - whole as f64;
            SimDuration(whole as u64 + u64::from(fraction >= 0.5))
        } else {
            // From 2^52 on every f64 is a whole number; `as` saturates.
            SimDuration(x as u64)
        }
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// This duration `n` times over.
    pub const fn times(self, n: u64) -> Self {
        SimDuration(self.0.saturating_mul(n))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}

impl Sub for SimDuration {
    type Output = SimDuration;
    fn sub(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(rhs.0))
    }
}

impl From<std::time::Duration> for SimDuration {
    fn from(d: std::time::Duration) -> Self {
        SimDuration(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

/// Formats as `HH:MM:SS` (with `.mmm` when there are milliseconds), the way
/// the narrated timeline and events show times.
impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total_ms = self.0 / 1_000_000;
        let (h, m, s, ms) = (
            total_ms / 3_600_000,
            total_ms / 60_000 % 60,
            total_ms / 1000 % 60,
            total_ms % 1000,
        );
        if ms == 0 {
            write!(f, "{h:02}:{m:02}:{s:02}")
        } else {
            write!(f, "{h:02}:{m:02}:{s:02}.{ms:03}")
        }
    }
}

/// Formats like the scenario files write durations (`90s`, `15m`, `400us`).
impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            humantime::format_duration(std::time::Duration::from_nanos(self.0))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where rounding goes wrong if done carelessly.
    const EDGES: [f64; 11] = [
        0.0,
        0.5,
        0.49999999999999994,
        1.5,
        2.5,
        1e9 + 0.5,
        TWO_TO_52 - 0.5,
        TWO_TO_52,
        TWO_TO_52 + 1.0,
        1e300,
        f64::INFINITY,
    ];

    #[test]
    fn rounding_a_sample_is_exactly_f64_round() {
        let reference = |x: f64| SimDuration(x.max(0.0).round() as u64);
        for x in EDGES {
            assert_eq!(SimDuration::from_nanos_f64(x), reference(x), "{x}");
        }
        // Every bit pattern class: random doubles spread over all
        // exponents a sample can have, and their neighbours.
        let mut z = 1u64;
        for _ in 0..1_000_000 {
            z = crate::sim::rng::mix(z);
            // Any non-negative finite double, all exponents alike.
            let x = f64::from_bits(z >> 1);
            let x = if x.is_finite() { x } else { 0.0 };
            let y = (z >> 11) as f64 / (1u64 << 20) as f64; // 0 to 2^33, fractions
            for v in [x, y, f64::from_bits(y.to_bits() + 1), y.floor() + 0.5] {
                assert_eq!(SimDuration::from_nanos_f64(v), reference(v), "{v}");
            }
        }
    }

    #[test]
    fn arithmetic_is_exact_and_saturating() {
        let t = SimTime::ZERO + SimDuration::from_secs(90) + SimDuration::from_millis(5);
        assert_eq!(t.as_nanos(), 90_005_000_000);
        assert_eq!(
            t.since(SimTime::from_nanos(5_000_000)),
            SimDuration::from_secs(90)
        );
        assert_eq!(SimTime::ZERO.since(t), SimDuration::ZERO);
        assert_eq!(
            SimTime::from_nanos(u64::MAX) + SimDuration::from_secs(1),
            SimTime::from_nanos(u64::MAX)
        );
    }

    #[test]
    fn display_as_clock_time() {
        assert_eq!(
            (SimTime::ZERO + SimDuration::from_secs(15 * 60)).to_string(),
            "00:15:00"
        );
        assert_eq!(
            (SimTime::ZERO + SimDuration::from_millis(3_723_250)).to_string(),
            "01:02:03.250"
        );
    }
}
