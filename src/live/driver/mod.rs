//! The real-time driver: the scenario's users and faults replayed against
//! real Redis, in compressed wall-clock time.
//!
//! It is an IO loop around the same [`World`] the simulator drives: the
//! request lifecycle (`sim::lifecycle`) and the fault plan (`sim::fault`)
//! decide everything; this driver sleeps until each moment, answers store
//! operations by awaiting Redis, and carries out store faults on real
//! processes. Each user is a task that sleeps until the intended time of
//! its next request and measures latency from that intended time, not from
//! when the task got to run: if Redis (or the driver) stalls, the stall
//! shows in the percentiles instead of silently delaying the load (no
//! coordinated omission). App servers are virtual: their service time is
//! drawn from the scenario and added to the measured latency, and a
//! request holds its server's worker (`workers`) until the scenario time
//! its response is done, so requests queue as in the simulator.

mod client;
mod faults;
mod progress;
mod setup;
mod store_faults;
mod user;

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::clock::LiveClock;
use super::cluster::RedisCluster;
use super::redis_process::{self, RedisProcess};
use super::sentinel::SentinelGroup;
use super::spring_session::SpringSessionStore;
use super::{LiveError, LiveRun};
use crate::sim::UserId;
use crate::sim::config::{FaultKind, RestartMode, Scenario};
use crate::sim::metrics::StrategyResult;
use crate::sim::workload::arrivals_before;
use crate::sim::world::World;
use faults::{fault_loop, report_loop};
use user::UserTask;

/// What to run.
pub(super) struct Plan<'a> {
    pub scenario: &'a Scenario,
    /// Indexes of the strategies to run live.
    pub strategies: Vec<usize>,
    pub time_scale: f64,
    /// redis-server to start, or `None` with `url`.
    pub binary: Option<PathBuf>,
    /// An existing server to use instead.
    pub url: Option<String>,
    /// No progress bars.
    pub quiet: bool,
}

/// One live strategy's resources.
#[derive(Clone)]
pub(super) struct Target {
    pub index: usize,
    pub store: Rc<SpringSessionStore>,
    /// The redis-server we own, if any (`None` with `--redis-url`).
    pub process: Option<Rc<RefCell<RedisProcess>>>,
    /// Its replicas, when the strategy has `replicas >= 1`.
    pub replicas: Vec<Rc<RefCell<RedisProcess>>>,
    /// The Sentinels watching them.
    pub sentinels: Option<Rc<SentinelGroup>>,
    /// Or, with `shards > 1`, a whole Redis Cluster.
    pub cluster: Option<Rc<RefCell<RedisCluster>>>,
}

pub(super) async fn run_all(plan: Plan<'_>) -> Result<LiveRun, LiveError> {
    // Listening starts before anything is started.
    let stop = crate::live::child::stop_requested()
        .map_err(|e| LiveError::Failed(format!("cannot listen for signals: {e}")))?;
    let mut targets = Vec::new();
    let outcome = tokio::select! {
        outcome = run_targets(&plan, &mut targets) => outcome,
        () = stop => Err(LiveError::Interrupted),
    };
    // On a user's server, remove our keys whatever happened. Servers we
    // own are stopped when `targets` drops.
    if plan.url.is_some() {
        for target in &targets {
            if let Err(err) = target.store.delete_own_keys().await {
                crate::say!("live: could not delete lbsim's keys: {err}");
            }
        }
    }
    outcome
}

/// Starts (or connects) every target, then runs all strategies at once.
async fn run_targets(plan: &Plan<'_>, targets: &mut Vec<Target>) -> Result<LiveRun, LiveError> {
    let scenario = plan.scenario;
    let run_tag = run_tag();
    setup::start_targets(plan, run_tag, targets).await?;
    let redis_version = match &plan.binary {
        Some(binary) => redis_process::version(binary).unwrap_or_else(|| "unknown".into()),
        None => targets[0]
            .store
            .server_version()
            .await
            .unwrap_or_else(|| "unknown".into()),
    };
    let mut notes = compression_notes(scenario, plan.time_scale);
    if plan.url.is_some() {
        notes.push(
            "--redis-url: the server's own persistence settings apply, not the scenario's".into(),
        );
    }

    crate::say!(
        "live: {} of wall time at time_scale {}; a TTL read with redis-cli is the scenario's \
         divided by {} (session ttl {} shows as {})",
        crate::sim::time::SimDuration::from_nanos_f64(
            scenario.duration.as_nanos() as f64 / plan.time_scale
        ),
        plan.time_scale,
        plan.time_scale,
        scenario.session.ttl,
        crate::sim::time::SimDuration::from_nanos_f64(
            scenario.session.ttl.as_nanos() as f64 / plan.time_scale
        )
    );
    let names = targets
        .iter()
        .map(|t| format!("{} [live]", scenario.strategies[t.index].name))
        .collect();
    let bars = Rc::new(crate::progress::RunProgress::named(
        names,
        scenario.duration,
        plan.quiet,
    ));
    let clock = LiveClock::start_now(plan.time_scale);
    let shared_scenario = Arc::new(scenario.clone());
    let mut runs = JoinSet::new();
    for (slot, target) in targets.iter().enumerate() {
        let bar = (bars.clone(), slot);
        runs.spawn_local(run_strategy(
            shared_scenario.clone(),
            target.clone(),
            clock,
            bar,
        ));
    }
    let mut finished = runs.join_all().await;
    bars.finish();
    finished.sort_by_key(|f| f.index);
    let worst_lag = finished.iter().map(|f| f.max_lag).max().unwrap_or_default();
    if worst_lag >= Duration::from_millis(50) {
        notes.push(format!(
            "the live driver fell behind: some requests went out up to {} ms late ({:.1} s of \
             scenario time), so live rows carry less load than intended and their latency (measured \
             from the intended send time) includes the delay; run with a lower --time-scale for \
             numbers to compare",
            worst_lag.as_millis(),
            worst_lag.as_secs_f64() * plan.time_scale
        ));
    }
    for f in &finished {
        if f.loading_errors > 0 {
            notes.push(format!(
                "`{}`: {} requests were answered -LOADING by a restarted Redis still loading \
                 its data (counted as errors)",
                f.result.name, f.loading_errors
            ));
        }
    }
    let results = finished.into_iter().map(|f| (f.index, f.result)).collect();
    Ok(LiveRun {
        results,
        redis_version,
        time_scale: plan.time_scale,
        notes,
        external: plan.url.is_some(),
    })
}

/// What one live strategy produced.
struct Finished {
    index: usize,
    result: StrategyResult,
    /// Worst delay between a request's intended and actual send time.
    max_lag: Duration,
    /// Requests Redis answered `-LOADING`.
    loading_errors: u64,
}

/// Mutable state of one live strategy, shared by its tasks on one thread.
pub(super) struct Shared {
    /// The same world the simulator drives.
    pub(super) world: World,
    /// Requests answered `-LOADING`.
    pub(super) loading_errors: u64,
    /// Worst delay between a request's intended and actual send time.
    pub(super) max_lag: Duration,
    /// Users whose request waits in a server's queue, and how to tell them
    /// it was taken (or failed).
    queued: std::collections::HashMap<UserId, tokio::sync::oneshot::Sender<user::Dequeued>>,
}

pub(super) type SharedState = Rc<RefCell<Shared>>;

/// Runs one live strategy; `(bars, slot)` is its progress bar.
async fn run_strategy(
    scenario: Arc<Scenario>,
    target: Target,
    clock: LiveClock,
    (bars, slot): (Rc<crate::progress::RunProgress>, usize),
) -> Finished {
    let strategy = &scenario.strategies[target.index];
    let world = World::new(scenario.clone(), target.index, scenario.servers.workers);
    let end = world.end();
    let shared: SharedState = Rc::new(RefCell::new(Shared {
        world,
        loading_errors: 0,
        max_lag: Duration::ZERO,
        queued: std::collections::HashMap::new(),
    }));
    let owned = target.process.is_some() || target.cluster.is_some();

    // Bumped by the client each time it reconnects: held operations go.
    let (reconnected, reconnections) = tokio::sync::watch::channel(0u64);
    let mut users = JoinSet::new();
    for (user, arrival) in arrivals_before(&scenario.workload, scenario.seed, end) {
        let user = UserTask {
            user,
            arrival,
            clock,
            store: target.store.clone(),
            shared: shared.clone(),
            reconnected: reconnections.clone(),
        };
        users.spawn_local(user.run());
    }
    let mut background = JoinSet::new();
    background.spawn_local(progress::progress_loop(
        scenario.clone(),
        clock,
        shared.clone(),
        bars,
        slot,
    ));
    background.spawn_local(report_loop(
        scenario.clone(),
        clock,
        target.store.clone(),
        owned,
        shared.clone(),
    ));
    if strategy.store.client_policy() != crate::sim::client::ClientPolicy::FailFast {
        background.spawn_local(client::reconnect_loop(
            clock,
            target.clone(),
            shared.clone(),
            reconnected,
        ));
    }
    if let Some(sentinels) = &target.sentinels {
        background.spawn_local(crate::live::sentinel::follow_primary(
            target.store.clone(),
            sentinels.urls(),
        ));
    }
    let mut faults = tokio::task::spawn_local(fault_loop(clock, target.clone(), shared.clone()));
    while users.join_next().await.is_some() {}
    // Users may all be thinking past the end: the time series still runs
    // to it, as in the simulator.
    tokio::time::sleep_until(clock.wall(end).into()).await;
    background.abort_all();
    while background.join_next().await.is_some() {}
    // The fault loop stops at the end of the run, once the losses it is
    // still counting (a Redis loading) are in; it never waits for longer.
    if tokio::time::timeout(Duration::from_secs(90), &mut faults)
        .await
        .is_err()
    {
        faults.abort();
    }

    let active = target.store.count(owned).await.unwrap_or(0);
    let mut state = shared.borrow_mut();
    state.world.close_interval(end, active);
    let (max_lag, loading_errors) = (state.max_lag, state.loading_errors);
    drop(state);
    let store_detail = if owned {
        format!("{}, live", strategy.store.describe())
    } else {
        "redis (the server's own persistence), live".to_string()
    };
    // Aborted tasks may still hold the shared state for a moment, so take
    // the world out rather than unwrap the `Rc`.
    let spare = World::new(scenario.clone(), target.index, 0);
    let world = std::mem::replace(&mut shared.borrow_mut().world, spare);
    Finished {
        index: target.index,
        result: world.into_result(format!("{} [live]", strategy.name), store_detail, true),
        max_lag,
        loading_errors,
    }
}

/// Explains what time compression does to Redis timings that are not
/// compressed (fsync once per real second).
fn compression_notes(scenario: &Scenario, time_scale: f64) -> Vec<String> {
    let mut notes = Vec::new();
    if time_scale != 1.0 {
        let restarts = scenario
            .faults
            .iter()
            .any(|f| matches!(f.kind, FaultKind::RedisRestart { .. }));
        let consequence = if restarts {
            "; a process crash, which is what live mode does, loses no AOF write whatever \
             appendfsync says"
        } else {
            ""
        };
        notes.push(format!(
            "time_scale {time_scale}: every scenario duration (TTL, think time, downtime) runs \
             {time_scale}x faster, but Redis's own timings do not: appendfsync everysec still \
             fsyncs once per real second, which is {:.0} s of scenario time, so a host crash could \
             lose that much{consequence}",
            time_scale
        ));
    }
    if scenario.faults.iter().any(|f| {
        matches!(
            f.kind,
            FaultKind::RedisRestart {
                mode: RestartMode::HostCrash,
                ..
            }
        )
    }) {
        notes.push(
            "host_crash faults are carried out live as a SIGKILL of redis-server (a process crash): \
             cutting the host's power is not possible from inside it; compare with the simulated rows"
                .into(),
        );
    }
    notes
}

/// A tag that makes this run's session ids and key prefix unique.
fn run_tag() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}
