//! What each fault cost the users, beyond the sessions it destroyed.
//!
//! A fault that destroys a session a user holds does not always log that
//! user out: the user may come back only after the session's TTL (the
//! session would have expired anyway, so the user finds it "expired"), or
//! not before the end of the run. The world marks every destroyed session
//! with the fault that destroyed it; when its user next finds it gone, the
//! forced logout (or the expiry) is that fault's. Errors are the fault's
//! whose window they fall in: from the fault's time to the next fault's.
//!
//! The names, used in every output: **sessions destroyed** (the world's
//! `fault_losses`), **forced logouts** it caused (those the destroyed
//! sessions caused), **expired instead**, **errors** and **seconds with
//! errors** (distinct simulated seconds in which at least one request
//! failed).

use super::SessionId;
use super::time::SimTime;

/// One fault's toll, apart from the sessions it destroyed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FaultToll {
    /// Forced logouts of users whose session this fault destroyed.
    #[serde(rename = "forced_logouts")]
    pub logged_out: u64,
    /// Users whose destroyed session they found only after its TTL: an
    /// expiry, not a logout.
    pub expired_instead: u64,
    /// Failed requests from this fault's time until the next fault's.
    pub errors: u64,
    /// Distinct seconds of that window with at least one failed request.
    pub error_seconds: u64,
}

/// Which fault destroyed the session a user holds (a mark on the user).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LostTo {
    pub fault: u32,
    pub session: SessionId,
}

/// The tolls of a run's faults, and the order of their windows.
#[derive(Clone, Debug)]
pub(crate) struct Tolls {
    /// Faults by time: (time, index in the file).
    windows: Vec<(SimTime, usize)>,
    /// By index in the file.
    pub tolls: Vec<FaultToll>,
    /// The last second counted in `error_seconds`, per fault. Requests
    /// complete in time order, so one number per fault is enough.
    last_error_second: Vec<Option<u64>>,
}

impl Tolls {
    /// `starts` are the faults' times, in file order.
    pub fn new(starts: impl IntoIterator<Item = SimTime>) -> Self {
        let mut windows: Vec<(SimTime, usize)> = starts
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, i))
            .collect();
        windows.sort();
        let n = windows.len();
        Tolls {
            windows,
            tolls: vec![FaultToll::default(); n],
            last_error_second: vec![None; n],
        }
    }

    /// A request failed at `t`: it counts against the latest fault that
    /// began at or before `t` (none before the first fault).
    pub fn error_at(&mut self, t: SimTime) {
        let after = self.windows.partition_point(|(start, _)| *start <= t);
        let Some(&(_, fault)) = after.checked_sub(1).and_then(|i| self.windows.get(i)) else {
            return;
        };
        let toll = &mut self.tolls[fault];
        toll.errors += 1;
        let second = t.as_nanos() / 1_000_000_000;
        if self.last_error_second[fault] != Some(second) {
            self.last_error_second[fault] = Some(second);
            toll.error_seconds += 1;
        }
    }

    /// The user whose session `mark` names found it gone.
    pub fn found_gone(&mut self, mark: LostTo, expired: bool) {
        let toll = &mut self.tolls[mark.fault as usize];
        if expired {
            toll.expired_instead += 1;
        } else {
            toll.logged_out += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::time::SimDuration;

    fn at(s: f64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis((s * 1000.0) as u64)
    }

    #[test]
    fn errors_count_against_the_latest_fault_and_seconds_are_distinct() {
        // Fault 0 at 20 s, fault 1 at 10 s (file order is not time order).
        let mut tolls = Tolls::new([at(20.0), at(10.0)]);
        tolls.error_at(at(5.0)); // before any fault: nobody's
        tolls.error_at(at(10.0));
        tolls.error_at(at(10.5));
        tolls.error_at(at(12.2));
        tolls.error_at(at(20.0));
        assert_eq!(tolls.tolls[1].errors, 3);
        assert_eq!(tolls.tolls[1].error_seconds, 2);
        assert_eq!(tolls.tolls[0].errors, 1);
        assert_eq!(tolls.tolls[0].error_seconds, 1);
    }

    #[test]
    fn a_found_gone_session_is_a_logout_or_an_expiry_of_its_fault() {
        let mut tolls = Tolls::new([at(1.0)]);
        let mark = LostTo {
            fault: 0,
            session: SessionId(7),
        };
        tolls.found_gone(mark, false);
        tolls.found_gone(mark, true);
        tolls.found_gone(mark, false);
        assert_eq!(tolls.tolls[0].logged_out, 2);
        assert_eq!(tolls.tolls[0].expired_instead, 1);
    }
}
