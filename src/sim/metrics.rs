//! What one run measures, and the result it hands to reports.
//!
//! Counters are plain integers, latencies go into HdrHistograms (3
//! significant digits, microsecond units) rather than a `Vec` of samples, so
//! memory stays flat however long the run.

use hdrhistogram::Histogram;

use super::events::EventRecord;
use super::request::{Outcome, RequestKind};
use super::time::{SimDuration, SimTime};
use super::toll::FaultToll;

/// Totals over a whole run (or one interval of it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Completed requests, logins included.
    pub requests: u64,
    /// Login requests, successful or not.
    pub logins: u64,
    /// Page requests whose session was gone while still valid.
    pub forced_logouts: u64,
    /// Page requests whose session had really expired.
    pub expired: u64,
    /// Failed requests (no server, server crash, store unavailable).
    pub errors: u64,
    /// Requests served by re-authenticating from a signed token
    /// (`on_store_error = "fallback_auth"`).
    pub reauths: u64,
}

impl Counts {
    fn add(&mut self, kind: RequestKind, outcome: Outcome) {
        self.requests += 1;
        if kind == RequestKind::Login {
            self.logins += 1;
        }
        match outcome {
            Outcome::ForcedLogout => self.forced_logouts += 1,
            Outcome::Expired => self.expired += 1,
            Outcome::Error(_) => self.errors += 1,
            Outcome::Reauthenticated => self.reauths += 1,
            Outcome::Ok | Outcome::LoggedIn => {}
        }
    }

    /// Forced logouts as a percentage of page requests (requests that are
    /// not logins): the chance that a click throws the user out.
    pub fn logout_pct(&self) -> f64 {
        let pages = self.requests - self.logins;
        if pages == 0 {
            0.0
        } else {
            100.0 * self.forced_logouts as f64 / pages as f64
        }
    }
}

/// One row of the time series: what happened in `(t - interval, t]`.
#[derive(Clone, Debug, PartialEq)]
pub struct IntervalRow {
    /// End of the interval.
    pub t: SimTime,
    pub counts: Counts,
    /// Live (unexpired) sessions held by the store at `t`, orphans included.
    pub active_sessions: u64,
    /// 99th percentile latency of the interval's served requests; 0 if none.
    pub p99: SimDuration,
    /// Requests the balancer routed to each server in the interval, indexed
    /// by server: the load imbalance a balancer creates.
    pub server_requests: Vec<u64>,
    /// Servers in service at `t`, as the balancer sees them.
    pub servers_in_service: u32,
}

impl IntervalRow {
    /// The busiest server's requests over the mean of the servers in
    /// service: 1.0 is perfectly even; `None` without requests.
    pub fn imbalance(&self) -> Option<f64> {
        let total: u64 = self.server_requests.iter().sum();
        if total == 0 || self.servers_in_service == 0 {
            return None;
        }
        let busiest = *self.server_requests.iter().max().unwrap_or(&0) as f64;
        Some(busiest / (total as f64 / f64::from(self.servers_in_service)))
    }
}

/// Everything measured for one strategy.
#[derive(Clone, Debug)]
pub struct StrategyResult {
    pub name: String,
    pub balancer: &'static str,
    pub store: &'static str,
    /// Store settings in words, e.g. `aof everysec`.
    pub store_detail: String,
    /// The same settings one by one.
    pub store_settings: crate::sim::store::StoreSettings,
    /// How the row was produced: `sim`, `live` (real Redis) or `stack`
    /// (real HAProxy, app servers and Redis): `summary.csv`'s `mode`.
    pub mode: &'static str,
    pub totals: Counts,
    /// Distinct users with at least one forced logout.
    pub users_affected: u64,
    /// Users that arrived during the run.
    pub users_arrived: u64,
    /// Latency of every served request (every outcome but an error), in
    /// microseconds: what a user waited for an answer.
    pub latency_us: Histogram<u64>,
    /// Time until a failed request's error reached the user, in
    /// microseconds, apart: an error that comes at once must not make the
    /// served requests' percentiles look fast, nor a slow timeout them slow.
    pub error_latency_us: Histogram<u64>,
    pub timeseries: Vec<IntervalRow>,
    pub events: Vec<EventRecord>,
    /// Sessions lost to each scenario fault, in file order; `None` for a
    /// fault that did not happen (after the end of the run).
    pub fault_losses: Vec<Option<u64>>,
    /// What else each fault cost, in file order: logouts and expiries its
    /// destroyed sessions caused, errors in its window.
    pub fault_tolls: Vec<FaultToll>,
    /// Events the engine processed, for throughput benchmarks.
    pub events_processed: u64,
}

impl StrategyResult {
    /// A latency percentile (0..=100) in milliseconds.
    pub fn latency_ms(&self, percentile: f64) -> f64 {
        if self.latency_us.is_empty() {
            return 0.0;
        }
        self.latency_us.value_at_percentile(percentile) as f64 / 1000.0
    }

    pub fn max_latency_ms(&self) -> f64 {
        self.latency_us.max() as f64 / 1000.0
    }

    /// A percentile (0..=100) of the time to an error, in milliseconds; 0
    /// without errors.
    pub fn error_latency_ms(&self, percentile: f64) -> f64 {
        if self.error_latency_us.is_empty() {
            return 0.0;
        }
        self.error_latency_us.value_at_percentile(percentile) as f64 / 1000.0
    }

    /// Share of arrived users with at least one forced logout, in percent.
    pub fn users_affected_pct(&self) -> f64 {
        if self.users_arrived == 0 {
            0.0
        } else {
            100.0 * self.users_affected as f64 / self.users_arrived as f64
        }
    }
}

/// Accumulates counts and latencies while a run goes on (simulated or live).
pub struct Recorder {
    pub totals: Counts,
    interval: Counts,
    /// Latencies of served requests in the intervals closed so far.
    latency_us: Histogram<u64>,
    error_latency_us: Histogram<u64>,
    /// Latencies of served requests in the interval going on.
    interval_latency_us: Histogram<u64>,
    /// Requests routed to each server in the current interval.
    interval_server_requests: Vec<u64>,
    pub timeseries: Vec<IntervalRow>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Recorder {
    /// A recorder for a farm of `servers` app servers.
    pub fn new(servers: u32) -> Self {
        Recorder {
            interval_server_requests: vec![0; servers as usize],
            totals: Counts::default(),
            interval: Counts::default(),
            latency_us: new_histogram(),
            error_latency_us: new_histogram(),
            interval_latency_us: new_histogram(),
            timeseries: Vec::new(),
        }
    }

    /// Records one completed request. No allocation. Latency percentiles
    /// are of served requests; errors go to their own histogram.
    pub fn record(&mut self, kind: RequestKind, outcome: Outcome, latency: SimDuration) {
        self.totals.add(kind, outcome);
        self.interval.add(kind, outcome);
        let us = latency.as_nanos().div_ceil(1000);
        if matches!(outcome, Outcome::Error(_)) {
            self.error_latency_us.saturating_record(us);
        } else {
            // Into the interval's histogram only: it is added to the
            // run's when the interval closes (one record per request
            // instead of two).
            self.interval_latency_us.saturating_record(us);
        }
    }

    /// The balancer sent a request to `server`.
    pub fn routed(&mut self, server: super::ServerId) {
        let i = server.index();
        if i >= self.interval_server_requests.len() {
            // A server added by a scale-out.
            self.interval_server_requests.resize(i + 1, 0);
        }
        self.interval_server_requests[i] += 1;
    }

    /// Closes the interval ending at `t`.
    pub fn close_interval(&mut self, t: SimTime, active_sessions: u64, servers_in_service: u32) {
        let p99 = if self.interval_latency_us.is_empty() {
            SimDuration::ZERO
        } else {
            SimDuration::from_micros(self.interval_latency_us.value_at_percentile(99.0))
        };
        let server_requests = self.interval_server_requests.clone();
        self.interval_server_requests
            .iter_mut()
            .for_each(|c| *c = 0);
        self.timeseries.push(IntervalRow {
            t,
            counts: self.interval,
            active_sessions,
            p99,
            server_requests,
            servers_in_service,
        });
        self.interval = Counts::default();
        self.fold_interval_latencies();
    }

    /// Adds the interval's latencies to the run's and empties them.
    fn fold_interval_latencies(&mut self) {
        self.latency_us
            .add(&self.interval_latency_us)
            .expect("histograms of the same bounds");
        self.interval_latency_us.reset();
    }

    /// Totals, the latencies of served requests, the times to an error, and
    /// the time series.
    pub fn into_parts(mut self) -> (Counts, Histogram<u64>, Histogram<u64>, Vec<IntervalRow>) {
        // Latencies of an interval not closed yet count too.
        self.fold_interval_latencies();
        (
            self.totals,
            self.latency_us,
            self.error_latency_us,
            self.timeseries,
        )
    }
}

/// Largest latency tracked exactly, in microseconds (one hour); longer ones
/// are recorded as one hour.
const MAX_TRACKED_US: u64 = 3_600_000_000;

fn new_histogram() -> Histogram<u64> {
    // Fixed bounds (1 µs to 1 h) with 3 significant digits, 0.1% relative
    // error: about 200 KB, allocated once, so recording never allocates.
    // (`Histogram::new` would start tiny, and `saturating_record` clamps
    // rather than grows, so fixed bounds are both faster and correct.)
    Histogram::new_with_bounds(1, MAX_TRACKED_US, 3).expect("valid bounds and precision")
}
