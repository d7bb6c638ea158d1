//! Live mode: a scenario's Redis strategies against real redis-server
//! processes.
//!
//! Owns: redis-server processes (`redis_process`), sessions in Spring
//! Session's layout over real connections (`spring_session`), and the
//! real-time driver (`driver`) that replays the scenario's users and faults
//! in compressed wall-clock time. It reuses the core's pieces — workload
//! streams, balancers, servers, the request classifier and the user's
//! reaction to an outcome — so live and simulated rows differ only in the
//! store that answers.
//!
//! Everything runs on one thread (a current-thread Tokio runtime): child
//! processes are spawned from the thread that lives as long as lbsim, which
//! `PR_SET_PDEATHSIG` needs, and shared state needs no locks.

pub mod auth;
pub mod child;
pub mod clock;
pub mod cluster;
mod driver;
pub mod redis_process;
pub(crate) mod replicas;
pub mod sentinel;
pub mod spring_session;

use std::path::PathBuf;

use crate::report::meta::RowOrigin;
use crate::sim::config::{FaultKind, Scenario};
use crate::sim::metrics::StrategyResult;
use crate::sim::store::{AppendFsync, Persistence, RedisConfig, StoreConfig};

/// How to run live.
#[derive(Clone, Debug, Default)]
pub struct LiveOptions {
    /// redis-server binary; `None` = the first on `PATH`.
    pub redis_server: Option<PathBuf>,
    /// Use this existing server instead of starting our own.
    pub redis_url: Option<String>,
    /// Overrides the scenario's `time_scale`.
    pub time_scale: Option<f64>,
    /// No progress bars.
    pub quiet: bool,
}

/// What a live run produced.
pub struct LiveRun {
    /// One result per Redis strategy, named `<strategy> [live]`, with the
    /// index of the scenario strategy it belongs to.
    pub results: Vec<(usize, StrategyResult)>,
    /// `redis-server --version`, or the server's `INFO` version for
    /// `--redis-url`.
    pub redis_version: String,
    pub time_scale: f64,
    /// Plain-language notes on what the live run could not do exactly like
    /// the simulator (time compression, host crashes, …).
    pub notes: Vec<String>,
    /// True if the rows ran on the user's Redis (`--redis-url`).
    pub external: bool,
}

impl LiveRun {
    /// The table's rows: each live row right after the simulated row of its
    /// strategy, so the table shows them side by side; with how each row
    /// was produced, and the notes (the first says which rows are live).
    pub fn merge(
        self,
        scenario: &Scenario,
        simulated: Vec<StrategyResult>,
    ) -> (Vec<StrategyResult>, Vec<RowOrigin>, Vec<String>) {
        let external = self.external;
        let source = if external {
            format!("the Redis at --redis-url (version {})", self.redis_version)
        } else {
            format!(
                "real redis-server {} processes started, killed and restarted by lbsim",
                self.redis_version
            )
        };
        let mut notes = vec![format!(
            "rows marked [live] ran against {source}, at time_scale {} ({} of wall time); \
             the other rows are simulated",
            self.time_scale,
            crate::sim::time::SimDuration::from_nanos_f64(
                scenario.duration.as_nanos() as f64 / self.time_scale
            )
        )];
        notes.extend(self.notes);
        let mut sim_origins = RowOrigin::simulated(&simulated).into_iter();
        let mut live_rows = self.results.into_iter().peekable();
        let mut results = Vec::new();
        let mut origins = Vec::new();
        for (index, result) in simulated.into_iter().enumerate() {
            let strategy = result.name.clone();
            results.push(result);
            origins.extend(sim_origins.next());
            while let Some((_, row)) = live_rows.next_if(|(i, _)| *i == index) {
                origins.push(RowOrigin {
                    name: row.name.clone(),
                    strategy: strategy.clone(),
                    mode: "live",
                    redis_server_version: Some(self.redis_version.clone()),
                    haproxy_version: None,
                    nginx_version: None,
                    balancer_config: None,
                    time_scale: Some(self.time_scale),
                });
                results.push(row);
            }
        }
        (results, origins, notes)
    }
}

/// Why a live run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Exit code 2.
    #[error(
        "redis-server not found{0}; install it (Debian/Ubuntu: sudo apt-get install redis-server) \
         or pass --redis-server PATH"
    )]
    MissingServer(String),
    /// Exit code 2.
    #[error(
        "{0}: with --redis-url lbsim does not control the Redis process, so it cannot \
         restart it; remove the redis_restart faults or drop --redis-url"
    )]
    NeedsProcessControl(String),
    /// Exit code 2.
    #[error("no strategy of this scenario uses Redis, so there is nothing to run live")]
    NothingLive,
    /// Exit code 2.
    #[error("--time-scale must be a positive number, not {0}")]
    BadTimeScale(f64),
    /// Exit code 1.
    #[error("live run failed: {0}")]
    Failed(String),
    /// Exit code 130, like a shell reports a Ctrl-C.
    #[error("interrupted; lbsim stopped the redis-servers it started and removed its keys")]
    Interrupted,
}

impl LiveError {
    pub fn exit_code(&self) -> u8 {
        match self {
            LiveError::MissingServer(_)
            | LiveError::NeedsProcessControl(_)
            | LiveError::NothingLive
            | LiveError::BadTimeScale(_) => 2,
            LiveError::Failed(_) => 1,
            LiveError::Interrupted => 130,
        }
    }
}

/// The redis-server command-line flags for a persistence policy. RDB save
/// points are compressed by the time scale like every other duration (but
/// Redis counts whole seconds, so never below 1 s).
pub fn persistence_args(redis: &RedisConfig, time_scale: f64) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    let mut push = |a: &str, b: String| {
        args.push(a.to_string());
        args.push(b);
    };
    match &redis.persistence {
        Persistence::None => {
            push("--save", String::new());
            push("--appendonly", "no".into());
        }
        Persistence::Aof(fsync) => {
            push("--save", String::new());
            push("--appendonly", "yes".into());
            let fsync = match fsync {
                AppendFsync::Always => "always",
                AppendFsync::EverySec => "everysec",
                AppendFsync::No => "no",
            };
            push("--appendfsync", fsync.into());
        }
        Persistence::Rdb(points) => {
            push("--appendonly", "no".into());
            let points: Vec<String> = points
                .iter()
                .map(|p| {
                    let secs = (p.after.as_secs_f64() / time_scale).round().max(1.0) as u64;
                    format!("{secs} {}", p.changes)
                })
                .collect();
            push("--save", points.join(" "));
        }
    }
    args
}

/// Runs every Redis strategy of `scenario` live, all at once, and returns
/// their results. Strategies without Redis are not run here (the caller
/// simulates them).
pub fn run(scenario: &Scenario, options: &LiveOptions) -> Result<LiveRun, LiveError> {
    // Whatever a client library or a server says goes through `scrub`: the
    // user's `--redis-url` may hold a password, and so do lbsim's own URLs.
    let user_url = options.redis_url.as_deref().unwrap_or("");
    // `rediss://` connections use rustls with the ring provider, the one
    // built in (an error means one is installed already, which is as good).
    let _ = rustls::crypto::ring::default_provider().install_default();
    run_unscrubbed(scenario, options).map_err(|err| match err {
        LiveError::Failed(message) => LiveError::Failed(auth::scrub(&message, &[user_url])),
        other => other,
    })
}

fn run_unscrubbed(scenario: &Scenario, options: &LiveOptions) -> Result<LiveRun, LiveError> {
    let time_scale = options.time_scale.unwrap_or(scenario.time_scale);
    if !(time_scale.is_finite() && time_scale > 0.0) {
        return Err(LiveError::BadTimeScale(time_scale));
    }
    let is_redis = |i: &usize| matches!(scenario.strategies[*i].store, StoreConfig::Redis(_));
    // Replicas and clusters need servers lbsim starts: on a user's server
    // such strategies keep their simulated row and get no live one (rather
    // than a live row that would silently be a lone primary).
    let external = options.redis_url.is_some();
    let replicated = |i: &usize| {
        matches!(&scenario.strategies[*i].store,
            StoreConfig::Redis(r) if external && (r.shards > 1 || r.replication.is_some()))
    };
    let skipped: Vec<String> = (0..scenario.strategies.len())
        .filter(|i| is_redis(i) && replicated(i))
        .map(|i| scenario.strategies[i].name.clone())
        .collect();
    let live: Vec<usize> = (0..scenario.strategies.len())
        .filter(|i| is_redis(i) && !replicated(i))
        .collect();
    if live.is_empty() {
        return Err(LiveError::NothingLive);
    }
    if options.redis_url.is_some()
        && let Some(fault) = scenario
            .faults
            .iter()
            .find(|f| matches!(f.kind, FaultKind::RedisRestart { .. }))
    {
        return Err(LiveError::NeedsProcessControl(format!(
            "the scenario has a redis_restart fault at {}",
            fault.at
        )));
    }
    let binary = match &options.redis_url {
        Some(_) => None,
        None => {
            let found = redis_process::find_binary(options.redis_server.as_deref());
            let searched = match &options.redis_server {
                Some(path) => format!(" at {}", path.display()),
                None => " on PATH".to_string(),
            };
            Some(found.ok_or(LiveError::MissingServer(searched))?)
        }
    };
    redis_process::remove_stale_dirs();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LiveError::Failed(format!("cannot start the async runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    let plan = driver::Plan {
        scenario,
        strategies: live,
        time_scale,
        binary,
        url: options.redis_url.clone(),
        quiet: options.quiet,
    };
    let mut run = local.block_on(&runtime, driver::run_all(plan))?;
    if !skipped.is_empty() {
        run.notes.push(format!(
            "not run live (replicas and clusters need servers lbsim starts, not --redis-url): {}",
            skipped.join(", ")
        ));
    }
    Ok(run)
}
