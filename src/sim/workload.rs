//! The random workload: when users arrive and how long they think.
//!
//! Every draw comes from a stream keyed by the user and a per-user counter,
//! never by the strategy (see `sim::rng`), so all strategies of a scenario
//! replay the same population.

use rand::Rng;

use super::UserId;
use super::config::{Arrival, Workload};
use super::rng::{Purpose, stream};
use super::time::{SimDuration, SimTime};

/// When user `next` arrives, given that user `next - 1` arrived at
/// `previous`. Called in arrival order, so Poisson gaps can be drawn one by
/// one without storing every arrival time.
pub fn arrival_of(workload: &Workload, seed: u64, next: u32, previous: SimTime) -> SimTime {
    match workload.arrival {
        Arrival::Ramp(ramp) => {
            // Exact integer spacing: user i of n at i * ramp / n.
            let at = u128::from(ramp.as_nanos()) * u128::from(next) / u128::from(workload.users);
            SimTime::from_nanos(at as u64)
        }
        Arrival::Poisson { per_second } => {
            if next == 0 {
                return SimTime::ZERO;
            }
            // Inverse transform of an exponential gap with mean 1/rate.
            let u: f64 = stream(seed, Purpose::Arrival, u64::from(next), 0).random();
            let gap_secs = -(1.0 - u).ln() / per_second;
            previous + SimDuration::from_nanos_f64(gap_secs * 1e9)
        }
    }
}

/// Every user that arrives before `end`, with its arrival time, in order:
/// what the real-time drivers (live mode, the stack) start a task for.
pub fn arrivals_before(
    workload: &Workload,
    seed: u64,
    end: SimTime,
) -> impl Iterator<Item = (UserId, SimTime)> + '_ {
    let mut previous = SimTime::ZERO;
    (0..workload.users)
        .map(move |u| {
            previous = arrival_of(workload, seed, u, previous);
            (UserId(u), previous)
        })
        .take_while(move |(_, at)| *at < end)
}

/// The `draw`-th think time of `user`.
pub fn think_time(workload: &Workload, seed: u64, user: UserId, draw: u32) -> SimDuration {
    let mut rng = stream(seed, Purpose::Think, u64::from(user.0), u64::from(draw));
    workload.think_time.sample(&mut rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::dist::Dist;

    fn workload(arrival: Arrival, users: u32) -> Workload {
        Workload {
            users,
            arrival,
            think_time: Dist::exponential(SimDuration::from_secs(8)),
        }
    }

    #[test]
    fn ramp_spaces_users_evenly() {
        let w = workload(Arrival::Ramp(SimDuration::from_secs(100)), 4);
        let times: Vec<u64> = (0..4)
            .map(|i| arrival_of(&w, 1, i, SimTime::ZERO).as_nanos() / 1_000_000_000)
            .collect();
        assert_eq!(times, [0, 25, 50, 75]);
    }

    #[test]
    fn poisson_arrivals_have_the_requested_rate() {
        // 20,000 arrivals at 50/s take 400 s on average; the sum of 20,000
        // exponential gaps has relative standard deviation 1/sqrt(20,000) =
        // 0.7%, so 3% is more than four standard deviations.
        let w = workload(Arrival::Poisson { per_second: 50.0 }, 20_000);
        let mut t = SimTime::ZERO;
        for i in 0..20_000 {
            t = arrival_of(&w, 3, i, t);
        }
        assert!((t.as_secs_f64() / 400.0 - 1.0).abs() < 0.03, "{t}");
    }

    #[test]
    fn think_times_depend_only_on_user_and_draw() {
        let w = workload(Arrival::Ramp(SimDuration::ZERO), 10);
        assert_eq!(
            think_time(&w, 5, UserId(3), 7),
            think_time(&w, 5, UserId(3), 7)
        );
        assert_ne!(
            think_time(&w, 5, UserId(3), 7),
            think_time(&w, 5, UserId(3), 8)
        );
        assert_ne!(
            think_time(&w, 5, UserId(3), 7),
            think_time(&w, 6, UserId(3), 7)
        );
    }
}
