//! A scenario as typed, already-valid values: what the engine runs.
//!
//! `crate::scenario` builds these from TOML and reports every mistake with a
//! file, line and field; once a `Scenario` exists it cannot be invalid (counts
//! are non-zero, distributions are well-formed, fault targets exist), so the
//! engine has no error paths.

use super::balancer::BalancerSpec;
use super::dist::Dist;
pub use super::fault::kind::{FaultKind, ServerChoice};
use super::request::OnStoreError;
use super::servers::HealthCheck;
pub use super::store::RestartMode;
use super::store::StoreConfig;
use super::time::{SimDuration, SimTime};

/// Everything one run needs.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Short name, also the default output folder `results/<name>/`.
    pub name: String,
    /// One line saying what the scenario teaches.
    pub description: String,
    /// Seed of every random stream (see `sim::rng`).
    pub seed: u64,
    /// Simulated length of the run.
    pub duration: SimDuration,
    /// Width of one row of the time series.
    pub report_interval: SimDuration,
    /// Live mode only: how many times faster than real time the scenario
    /// runs against real Redis (60 = one simulated hour per wall minute).
    /// The simulator ignores it.
    pub time_scale: f64,
    pub workload: Workload,
    pub servers: ServersConfig,
    pub session: SessionConfig,
    /// Strategies to compare, in file order; each runs on a fresh simulation
    /// with the same workload and faults.
    pub strategies: Vec<Strategy>,
    /// Faults in file order.
    pub faults: Vec<Fault>,
    /// Thresholds of the verdict table; `None` if the file has no
    /// `[verdict]` section (the table is then written but not printed).
    pub verdict: Option<VerdictRules>,
}

/// What each mark of the verdict table requires. A row passes when its
/// measured number is at most the threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VerdictRules {
    /// "Works": forced logouts before the first fault.
    pub max_logouts_without_faults: u64,
    /// "Fault tolerant": sessions destroyed to app-server crashes.
    pub max_lost_per_server_crash: u64,
    /// "Survives Redis restart": sessions destroyed to Redis restarts.
    pub max_lost_per_redis_restart: u64,
    /// "Scalable": busiest server's load over the mean after a scale-out.
    pub max_imbalance: f64,
    /// "Cloud ready": sessions destroyed to deploys and autoscaling.
    pub max_lost_per_deploy: u64,
    /// "Available during faults": seconds with failed requests in any one
    /// fault's window.
    pub max_error_seconds_per_fault: u64,
}

impl Default for VerdictRules {
    /// Zero tolerance for logged-out users, a busiest server at most 25%
    /// above the mean, and at most 10 seconds of errors per fault: about
    /// the limit of a user's attention to a page that does not answer
    /// (Nielsen, "Response Times: The 3 Important Limits", 1993), so a
    /// failover or a restart longer than that fails the row.
    fn default() -> Self {
        VerdictRules {
            max_logouts_without_faults: 0,
            max_lost_per_server_crash: 0,
            max_lost_per_redis_restart: 0,
            max_imbalance: 1.25,
            max_lost_per_deploy: 0,
            max_error_seconds_per_fault: 10,
        }
    }
}

/// The user population.
#[derive(Clone, Debug)]
pub struct Workload {
    /// How many users arrive over the run (at least 1).
    pub users: u32,
    pub arrival: Arrival,
    /// Time a user spends on a page before its next request.
    pub think_time: Dist,
}

/// How users arrive.
#[derive(Clone, Copy, Debug)]
pub enum Arrival {
    /// Evenly spaced over the given time: user `i` of `n` arrives at
    /// `i * ramp / n`. Zero means everyone arrives at the start.
    Ramp(SimDuration),
    /// A Poisson process with this many arrivals per second.
    Poisson { per_second: f64 },
}

/// The app servers.
#[derive(Clone, Debug)]
pub struct ServersConfig {
    /// Servers at the start (at least 1).
    pub count: u32,
    /// Concurrent requests per server; 0 means unlimited. With a limit,
    /// further requests wait in a FIFO queue.
    pub workers: u32,
    /// Time the app spends on a request, not counting the store.
    pub service_time: Dist,
    /// How the balancer learns that a server died or came back; `None`
    /// means at once.
    pub health_check: Option<HealthCheck>,
    /// How the balancer retries a connection to a dead server it has not
    /// yet marked down.
    pub retry: RetryPolicy,
}

/// HAProxy's connection retries, with its defaults (`retries 3`, no
/// `option redispatch`) and the scenario's `timeout connect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`retries`, default 3).
    pub retries: u32,
    /// `option redispatch`: the last retry goes to another server.
    pub redispatch: bool,
    /// `timeout connect`: how long an attempt to a dead host waits. HAProxy
    /// has no default (it warns); 5 s is the value of its example
    /// configurations.
    pub timeout_connect: SimDuration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 3,
            redispatch: false,
            timeout_connect: SimDuration::from_secs(5),
        }
    }
}

/// Session settings shared by every store.
#[derive(Clone, Copy, Debug)]
pub struct SessionConfig {
    /// Sliding time to live: a session expires this long after its last
    /// successful request (Tomcat's and Spring Session's default is 30 min).
    pub ttl: SimDuration,
}

/// One row of the comparison: how requests are balanced and where sessions
/// live.
#[derive(Clone, Debug)]
pub struct Strategy {
    /// Name as shown in tables and CSV files (unique within a scenario).
    pub name: String,
    pub balancer: BalancerSpec,
    pub store: StoreConfig,
    /// What the app does when the store cannot be reached.
    pub on_store_error: OnStoreError,
}

/// A fault injected at a given time.
#[derive(Clone, Debug)]
pub struct Fault {
    pub at: SimTime,
    pub kind: FaultKind,
}
