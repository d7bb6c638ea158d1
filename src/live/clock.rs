//! The live clock: scenario time mapped onto wall-clock time, compressed by
//! the time scale (60 = one scenario hour per wall minute).
//!
//! This is the "follow the wall clock" side of nexosim's clock split: the
//! simulator jumps from event to event, the live driver sleeps until each
//! event's wall time and reports how far behind it fell.

use std::time::{Duration, Instant};

use crate::sim::time::{SimDuration, SimTime};

#[derive(Clone, Copy, Debug)]
pub struct LiveClock {
    /// Wall time of scenario time zero.
    start: Instant,
    /// Scenario seconds per wall second.
    scale: f64,
}

impl LiveClock {
    pub fn start_now(scale: f64) -> Self {
        LiveClock {
            start: Instant::now(),
            scale,
        }
    }

    /// The wall instant at which scenario time `t` happens.
    pub fn wall(&self, t: SimTime) -> Instant {
        self.start + Duration::from_secs_f64(t.as_secs_f64() / self.scale)
    }

    /// A scenario duration as wall time.
    pub fn wall_duration(&self, d: SimDuration) -> Duration {
        Duration::from_secs_f64(d.as_secs_f64() / self.scale)
    }

    /// Scenario seconds per wall second.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The scenario time now.
    pub fn now(&self) -> SimTime {
        SimTime::from_nanos((self.start.elapsed().as_secs_f64() * self.scale * 1e9) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_time_is_compressed_by_the_scale() {
        let clock = LiveClock::start_now(60.0);
        let hour = SimTime::ZERO + SimDuration::from_secs(3600);
        assert_eq!(
            clock.wall(hour) - clock.wall(SimTime::ZERO),
            Duration::from_secs(60)
        );
        assert_eq!(
            clock.wall_duration(SimDuration::from_secs(30)),
            Duration::from_millis(500)
        );
    }
}
