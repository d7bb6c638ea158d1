//! The real stack: each strategy that real software can express, run on
//! real processes on this machine: HAProxy (`haproxy`), or nginx for
//! nginx's `ip_hash` (`nginx`), in front of N `lbsim app-server`
//! processes, with sessions in their memory or in a real redis-server, and
//! the scenario's users as real HTTP clients.
//!
//! Owns: the balancer configuration generated from a strategy (`haproxy`,
//! `nginx`; `front` is whichever runs), the start of one strategy's
//! processes (`start`; its Redis in `redis_servers`, the relay that cuts
//! or slows the link to it in `redis_link`), the processes themselves
//! (`processes`), HAProxy's runtime API (`runtime_api`), the HTTP users
//! (`driver`), what can be done to a running stack (`operations`, shared
//! with `lbsim demo`), the faults carried out with it: on processes
//! (`faults`) and on the farm through HAProxy or nginx (`farm_faults`:
//! scale-out, scale-in, deploys, blue-green), and the rows it adds to the
//! table (`rows`). It reuses the core's user behaviour and classifier
//! (`sim::request`), the workload streams (`sim::workload`), the metrics
//! (`sim::metrics`, `sim::toll`), and live mode's redis-server, replica,
//! Sentinel and cluster supervisors and Spring Session store: the rows
//! differ from the simulated ones only in what answers.
//!
//! Everything runs on one thread (a current-thread Tokio runtime), for the
//! same reason as live mode: children are spawned from the thread that
//! lives as long as lbsim (`PR_SET_PDEATHSIG`), and state needs no locks.
//! The one exception is the relay to Redis (`redis_link`), which spawns
//! no process and has a thread of its own (its module says why). Rows are named `<strategy> [stack]`.

mod dead_host;
mod driver;
mod farm_faults;
mod faults;
pub(crate) mod front;
pub mod haproxy;
pub mod nginx;
pub mod operations;
pub mod processes;
pub mod redis_link;
mod redis_servers;
mod rows;
pub mod runtime_api;
mod start;
mod strategy;

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::live::clock::LiveClock;
use crate::live::redis_process;
use crate::sim::client::ClientPolicy;
use crate::sim::config::{FaultKind, Scenario, Strategy};
use crate::sim::metrics::StrategyResult;
use crate::sim::store::StoreConfig;
use crate::sim::time::SimDuration;
use front::Program;
pub(crate) use start::{Stack, start_stack};

/// How to run the stack.
#[derive(Clone, Debug, Default)]
pub struct StackOptions {
    /// haproxy binary; `None` = the first on `PATH` (or /usr/sbin).
    pub haproxy: Option<PathBuf>,
    /// nginx binary, for `ip_hash`; `None` = the first on `PATH` (or
    /// /usr/sbin).
    pub nginx: Option<PathBuf>,
    /// redis-server binary; `None` = the first on `PATH`.
    pub redis_server: Option<PathBuf>,
    /// Overrides the scenario's `time_scale`.
    pub time_scale: Option<f64>,
    /// No progress messages.
    pub quiet: bool,
}

/// Why the stack could not run.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// Exit code 2.
    #[error(
        "{0} not found; install it (Debian/Ubuntu: sudo apt-get install {1}) or pass --{2} PATH"
    )]
    Missing(&'static str, &'static str, &'static str),
    /// Exit code 2.
    #[error("--stack cannot run this scenario: {0}")]
    Unsupported(String),
    /// Exit code 1.
    #[error("stack run failed: {0}")]
    Failed(String),
    /// Exit code 130.
    #[error("interrupted; lbsim stopped every process it started")]
    Interrupted,
}

impl StackError {
    pub fn exit_code(&self) -> u8 {
        match self {
            StackError::Missing(..) | StackError::Unsupported(_) => 2,
            StackError::Failed(_) => 1,
            StackError::Interrupted => 130,
        }
    }
}

/// What a stack run produced.
pub struct StackRun {
    /// One result per strategy run on the stack, with its strategy index.
    pub results: Vec<(usize, StrategyResult)>,
    /// `None` when no strategy ran on it.
    pub haproxy_version: Option<String>,
    pub nginx_version: Option<String>,
    pub redis_version: Option<String>,
    pub time_scale: f64,
    /// Files for the results folder: each strategy's balancer configuration.
    pub files: Vec<(String, Vec<u8>)>,
    /// The configuration file of each result, by strategy index.
    config_names: Vec<(usize, String)>,
    pub notes: Vec<String>,
}

/// Why a strategy cannot run on the stack, or `None` if it can.
pub fn cannot_express(strategy: &Strategy, link_faults: bool) -> Option<String> {
    match &strategy.store {
        StoreConfig::Local { .. } => None,
        StoreConfig::Redis(r) if (r.shards > 1 || r.replication.is_some()) && link_faults => Some(
            "a partition or a slow link to a replicated or clustered Redis is not on the stack \
             (its relay stands in front of one server; live mode runs it)"
                .into(),
        ),
        // The app servers' client fails fast, as live mode's does by
        // default; Lettuce's held commands and reconnect backoff are
        // lbsim's own emulation in live mode (`live::driver`), which the
        // app-server processes do not carry.
        StoreConfig::Redis(r) if matches!(r.client, ClientPolicy::Lettuce { .. }) => Some(
            "`client = \"lettuce\"` is modelled and run live, not on the stack (its app \
             servers' client fails fast)"
                .into(),
        ),
        StoreConfig::Redis(_) => None,
        StoreConfig::Cookie { .. } => None,
    }
}

/// Whether the scenario cuts or slows the link to Redis
/// (`redis_partition`, `redis_slow`), which the stack does with a relay.
pub fn has_link_faults(scenario: &Scenario) -> bool {
    scenario.faults.iter().any(|f| {
        matches!(
            f.kind,
            FaultKind::RedisPartition { .. } | FaultKind::RedisSlow { .. }
        )
    })
}

/// Runs every strategy of `scenario` that the stack can express, all at
/// once, on real processes.
pub fn run(scenario: &Scenario, options: &StackOptions) -> Result<StackRun, StackError> {
    let time_scale = options.time_scale.unwrap_or(scenario.time_scale);
    let mut notes = Vec::new();
    let mut chosen = Vec::new();
    for (i, strategy) in scenario.strategies.iter().enumerate() {
        match cannot_express(strategy, has_link_faults(scenario)) {
            None => chosen.push(i),
            Some(why) => notes.push(format!(
                "`{}` is not run on the stack: {why}",
                strategy.name
            )),
        }
    }
    let on_nginx = chosen
        .iter()
        .any(|&i| Program::for_balancer(scenario.strategies[i].balancer.name) == Program::Nginx);
    if on_nginx && scenario.servers.health_check.is_some() {
        notes.push(
            "nginx open source has no active health checks: its [stack] rows learn of a crash \
             from failed connections only (max_fails=1, fail_timeout=10s compressed, at least \
             1 s of wall time), where the model also applies [servers.health_check]"
                .into(),
        );
    }
    let on_haproxy = chosen
        .iter()
        .any(|&i| Program::for_balancer(scenario.strategies[i].balancer.name) == Program::Haproxy);
    if on_haproxy && let Some(note) = haproxy::connect_timeout_note(scenario) {
        notes.push(note);
    }
    if chosen.is_empty() {
        return Err(StackError::Unsupported(
            "no strategy of this scenario can run on the stack".into(),
        ));
    }
    let needs = |program: Program| {
        chosen
            .iter()
            .any(|&i| Program::for_balancer(scenario.strategies[i].balancer.name) == program)
    };
    let haproxy = if needs(Program::Haproxy) {
        Some(program_binary(
            Program::Haproxy,
            options.haproxy.as_deref(),
        )?)
    } else {
        None
    };
    let nginx = if needs(Program::Nginx) {
        Some(program_binary(Program::Nginx, options.nginx.as_deref())?)
    } else {
        None
    };
    let needs_redis = chosen
        .iter()
        .any(|&i| matches!(scenario.strategies[i].store, StoreConfig::Redis(_)));
    let redis = if needs_redis {
        Some(redis_binary(options.redis_server.as_deref())?)
    } else {
        None
    };
    let plan = Plan {
        scenario,
        chosen,
        time_scale,
        haproxy,
        nginx,
        redis,
        quiet: options.quiet,
        listen: None,
        spares: farm_faults::spares_needed(scenario),
    };
    let mut run = on_one_thread(run_all(plan))??;
    run.notes.splice(0..0, notes);
    Ok(run)
}

/// The binary of a balancer program: `explicit`, or the first on `PATH`
/// (or /usr/sbin).
pub(crate) fn program_binary(
    program: Program,
    explicit: Option<&std::path::Path>,
) -> Result<PathBuf, StackError> {
    let missing = match program {
        Program::Haproxy => StackError::Missing("haproxy", "haproxy", "haproxy"),
        Program::Nginx => StackError::Missing("nginx", "nginx-light", "nginx"),
    };
    processes::find_binary(program.binary(), explicit).ok_or(missing)
}

/// The redis-server binary: `explicit`, or the first on `PATH`.
pub(crate) fn redis_binary(explicit: Option<&std::path::Path>) -> Result<PathBuf, StackError> {
    redis_process::find_binary(explicit).ok_or(StackError::Missing(
        "redis-server",
        "redis-server",
        "redis-server",
    ))
}

/// Runs `future` on one thread, where every process of the stack is
/// spawned (see the module docs), after removing stale folders of earlier
/// runs. Every task it spawned is dropped before this returns, and with
/// them the processes they hold.
pub(crate) fn on_one_thread<F: std::future::Future>(future: F) -> Result<F::Output, StackError> {
    redis_process::remove_stale_dirs();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StackError::Failed(format!("cannot start the async runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    let output = local.block_on(&runtime, future);
    drop(local);
    Ok(output)
}

/// What to start: the strategies of a scenario, and how.
pub(crate) struct Plan<'a> {
    pub scenario: &'a Scenario,
    /// The strategies to start, by index.
    pub chosen: Vec<usize>,
    pub time_scale: f64,
    /// The balancers' binaries, for the strategies that need each.
    pub haproxy: Option<PathBuf>,
    pub nginx: Option<PathBuf>,
    pub redis: Option<PathBuf>,
    pub quiet: bool,
    /// The balancer's frontend and (HAProxy's) stats ports, or `None` for
    /// free ones.
    pub listen: Option<(u16, u16)>,
    /// Server slots HAProxy declares beyond the scenario's servers, for
    /// scaling out (`haproxy::Ports::spares`).
    pub spares: u32,
}

async fn run_all(plan: Plan<'_>) -> Result<StackRun, StackError> {
    // Listening starts before anything is started.
    let stop = crate::live::child::stop_requested()
        .map_err(|e| StackError::Failed(format!("cannot listen for signals: {e}")))?;
    let mut stacks = Vec::new();
    tokio::select! {
        outcome = run_stacks(&plan, &mut stacks) => outcome,
        () = stop => Err(StackError::Interrupted),
    }
    // `stacks` drops here: every process stops.
}

async fn run_stacks(plan: &Plan<'_>, stacks: &mut Vec<Stack>) -> Result<StackRun, StackError> {
    let scenario = plan.scenario;
    for &index in &plan.chosen {
        stacks.push(start_stack(plan, index).await?);
    }
    let haproxy_version = plan
        .haproxy
        .as_deref()
        .map(|b| processes::haproxy_version(b).unwrap_or_else(|| "unknown".into()));
    let nginx_version = plan
        .nginx
        .as_deref()
        .map(|b| nginx::version(b).unwrap_or_else(|| "unknown".into()));
    let redis_version = plan.redis.as_deref().and_then(redis_process::version);
    if !plan.quiet {
        crate::say!(
            "stack: {} balancer and {} app-server processes up; running {} of wall time",
            stacks.len(),
            stacks.len() * scenario.servers.count as usize,
            SimDuration::from_nanos_f64(scenario.duration.as_nanos() as f64 / plan.time_scale)
        );
    }
    let shared = Rc::new(scenario.clone());
    let clock = LiveClock::start_now(plan.time_scale);
    let mut runs = JoinSet::new();
    for stack in stacks.iter() {
        runs.spawn_local(strategy::run_one(
            shared.clone(),
            clock,
            strategy::StackHandles::of(
                stack,
                &scenario.strategies[stack.index],
                scenario.servers.count + plan.spares,
            ),
        ));
    }
    let mut finished = runs.join_all().await;
    finished.sort_by_key(|(i, _, _)| *i);
    let mut notes = Vec::new();
    let worst_lag = finished
        .iter()
        .map(|(_, _, lag)| *lag)
        .max()
        .unwrap_or_default();
    if worst_lag >= Duration::from_millis(50) {
        notes.push(format!(
            "the stack's users fell behind: some requests went out up to {} ms late; run with \
             a lower --time-scale or fewer --users for numbers to compare",
            worst_lag.as_millis()
        ));
    }
    let mut files = Vec::new();
    let mut config_names = Vec::new();
    for stack in stacks.iter() {
        let name = start::config_name(&scenario.strategies[stack.index]);
        files.push((name.clone(), stack.front.config().into_bytes()));
        config_names.push((stack.index, name));
    }
    Ok(StackRun {
        results: finished.into_iter().map(|(i, r, _)| (i, r)).collect(),
        haproxy_version,
        nginx_version,
        redis_version,
        time_scale: plan.time_scale,
        files,
        config_names,
        notes,
    })
}
