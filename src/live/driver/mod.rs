//! The real-time driver: the scenario's users and faults replayed against
//! real Redis, in compressed wall-clock time.
//!
//! Each user is a task that sleeps until the intended time of its next
//! request, sends it, and measures latency from that intended time, not
//! from when the task got to run: if Redis (or the driver) stalls, the
//! stall shows in the percentiles instead of silently delaying the load
//! (no coordinated omission). App servers are virtual: their service time
//! is drawn from the scenario and added to the measured latency rather than
//! slept, and `workers` limits are not applied live.

mod faults;
mod user;

use faults::{fault_loop, health_check_loop, report_loop};
use user::UserTask;

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;
use tokio::time::sleep_until;

use super::clock::LiveClock;
use super::cluster::RedisCluster;
use super::redis_process::{self, RedisArgs, RedisProcess};
use super::spring_session::{SPRING_NAMESPACE, SpringSessionStore, StoreFailure};
use super::{LiveError, LiveRun, persistence_args};
use crate::sim::balancer::{Balancer, BuildContext};
use crate::sim::config::{FaultKind, RestartMode, Scenario};
use crate::sim::fault::{random_crash_delay, target_server};
use crate::sim::metrics::{EventRecord, Recorder, StrategyResult};
use crate::sim::request::{
    ErrorCause, NextStep, OnStoreError, Outcome, RequestKind, UserSession, decide,
};
use crate::sim::rng::{Purpose, stream};
use crate::sim::servers::ServerPool;
use crate::sim::store::{Lookup, StoreConfig};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::workload::{arrival_of, think_time};
use crate::sim::{ServerId, SessionId, UserId};

/// The scenario, shared by every task of a run.
pub(super) type ScenarioRc = Rc<Scenario>;

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
}

/// One live strategy's resources.
#[derive(Clone)]
struct Target {
    index: usize,
    store: Rc<SpringSessionStore>,
    /// The redis-server we own, if any (`None` with `--redis-url`).
    process: Option<Rc<RefCell<RedisProcess>>>,
    /// Its replica, when the strategy has `replicas >= 1`.
    replica: Option<Rc<RefCell<RedisProcess>>>,
    /// Or, with `shards > 1`, a whole Redis Cluster.
    cluster: Option<Rc<RefCell<RedisCluster>>>,
}

pub(super) async fn run_all(plan: Plan<'_>) -> Result<LiveRun, LiveError> {
    // Listen for Ctrl-C and SIGTERM before starting anything: a signal that
    // arrives while servers are starting must also lead to a clean stop.
    // (`tokio::signal::ctrl_c()` would only install its handler when first
    // polled.)
    let listen = |kind| {
        signal(kind).map_err(|e| LiveError::Failed(format!("cannot listen for signals: {e}")))
    };
    let (mut interrupt, mut terminate) = (
        listen(SignalKind::interrupt())?,
        listen(SignalKind::terminate())?,
    );
    let mut targets = Vec::new();
    let outcome = tokio::select! {
        outcome = run_targets(&plan, &mut targets) => outcome,
        _ = interrupt.recv() => Err(LiveError::Interrupted),
        _ = terminate.recv() => Err(LiveError::Interrupted),
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
    let mut notes = Vec::new();
    // Start one redis-server per strategy (or share the user's server, each
    // strategy under its own key prefix).
    let setup = async {
        for &index in &plan.strategies {
            let StoreConfig::Redis(redis) = &scenario.strategies[index].store else {
                continue;
            };
            let ttl_wall =
                Duration::from_secs_f64(scenario.session.ttl.as_secs_f64() / plan.time_scale);
            if redis.shards > 1 {
                let binary = plan
                    .binary
                    .as_ref()
                    .expect("clusters run only on servers lbsim starts");
                let node_timeout_ms = ((redis.node_timeout.as_secs_f64() / plan.time_scale)
                    * 1000.0)
                    .max(500.0) as u64;
                let cluster = RedisCluster::start(
                    binary,
                    redis.shards as usize,
                    redis.replication.is_some(),
                    &persistence_args(redis, plan.time_scale),
                    node_timeout_ms,
                )
                .map_err(|e| LiveError::Failed(format!("cannot start a Redis Cluster: {e}")))?;
                for (k, node) in cluster.nodes.iter().enumerate() {
                    crate::say!(
                        "live: started redis-server pid {} on port {} as cluster node {k} for `{}`",
                        node.pid().unwrap_or(0),
                        node.port(),
                        scenario.strategies[index].name
                    );
                }
                let store = SpringSessionStore::connect_cluster(
                    cluster.urls(),
                    SPRING_NAMESPACE.to_string(),
                    ttl_wall,
                    run_tag ^ index as u64,
                )
                .await
                .map_err(|e| LiveError::Failed(format!("cannot connect to the cluster: {e}")))?;
                targets.push(Target {
                    index,
                    store: Rc::new(store),
                    process: None,
                    replica: None,
                    cluster: Some(Rc::new(RefCell::new(cluster))),
                });
                continue;
            }
            let mut replica_process = None;
            let (url, namespace, process) = match (&plan.binary, &plan.url) {
                (Some(binary), _) => {
                    let args = RedisArgs {
                        persistence: persistence_args(redis, plan.time_scale),
                    };
                    let process = RedisProcess::start(binary, args).map_err(|e| {
                        LiveError::Failed(format!("cannot start redis-server: {e}"))
                    })?;
                    crate::say!(
                        "live: started redis-server pid {} on port {} for `{}`",
                        process.pid().unwrap_or(0),
                        process.port(),
                        scenario.strategies[index].name
                    );
                    if redis.replication.is_some() {
                        let mut args = persistence_args(redis, plan.time_scale);
                        args.extend([
                            "--replicaof".into(),
                            "127.0.0.1".into(),
                            process.port().to_string(),
                        ]);
                        let replica = RedisProcess::start(binary, RedisArgs { persistence: args })
                            .and_then(|r| {
                                r.wait_for_replication(Duration::from_secs(20)).map(|()| r)
                            })
                            .map_err(|e| {
                                LiveError::Failed(format!("cannot start a replica: {e}"))
                            })?;
                        crate::say!(
                            "live: started redis-server pid {} on port {} as replica of port {} for `{}`",
                            replica.pid().unwrap_or(0),
                            replica.port(),
                            process.port(),
                            scenario.strategies[index].name
                        );
                        replica_process = Some(Rc::new(RefCell::new(replica)));
                    }
                    (
                        process.url(),
                        SPRING_NAMESPACE.to_string(),
                        Some(Rc::new(RefCell::new(process))),
                    )
                }
                (None, Some(url)) => {
                    let namespace = format!("lbsim:{run_tag:016x}:{index}:{SPRING_NAMESPACE}");
                    (url.clone(), namespace, None)
                }
                (None, None) => unreachable!("either a binary or a URL"),
            };
            let store = SpringSessionStore::connect(
                &url,
                scenario.servers.count,
                namespace,
                ttl_wall,
                run_tag ^ index as u64,
            )
            .await
            .map_err(|e| LiveError::Failed(format!("cannot connect to {url}: {e}")))?;
            if let Some(replication) = &redis.replication
                && replication.min_replicas_to_write > 0
                && process.is_some()
            {
                store.wait_for_replicas(replication.min_replicas_to_write);
            }
            targets.push(Target {
                index,
                store: Rc::new(store),
                process,
                replica: replica_process,
                cluster: None,
            });
        }
        Ok::<(), LiveError>(())
    };
    setup.await?;
    let redis_version = match &plan.binary {
        Some(binary) => redis_process::version(binary).unwrap_or_else(|| "unknown".into()),
        None => server_version(&targets[0].store).await,
    };
    notes.extend(compression_notes(scenario, plan.time_scale));
    if plan.url.is_some() {
        notes.push(
            "--redis-url: the server's own persistence settings apply, not the scenario's".into(),
        );
    }

    let clock = LiveClock::start_now(plan.time_scale);
    let shared_scenario = Rc::new(scenario.clone());
    let mut runs = JoinSet::new();
    for target in targets.iter() {
        runs.spawn_local(run_strategy(shared_scenario.clone(), target.clone(), clock));
    }
    let mut finished = runs.join_all().await;
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
    let results = finished.into_iter().map(|f| (f.index, f.result)).collect();
    Ok(LiveRun {
        results,
        redis_version,
        time_scale: plan.time_scale,
        notes,
    })
}

/// What one live strategy produced.
struct Finished {
    index: usize,
    result: StrategyResult,
    /// Worst delay between a request's intended and actual send time.
    max_lag: Duration,
}

/// Mutable state of one live strategy, shared by its tasks on one thread.
pub(super) struct Shared {
    pub(super) balancer: Box<dyn Balancer>,
    pub(super) servers: ServerPool,
    pub(super) recorder: Recorder,
    pub(super) users_affected: u64,
    pub(super) users_arrived: u64,
    pub(super) last_session: u64,
    pub(super) events: Vec<EventRecord>,
    pub(super) fault_losses: Vec<Option<u64>>,
    /// Requests answered `-LOADING`.
    pub(super) loading_errors: u64,
    /// A `redis_partition` fault cuts the app off from Redis until then.
    pub(super) unreachable_until: SimTime,
    /// Worst delay between a request's intended and actual send time.
    pub(super) max_lag: Duration,
}

pub(super) type SharedState = Rc<RefCell<Shared>>;

async fn run_strategy(scenario: Rc<Scenario>, target: Target, clock: LiveClock) -> Finished {
    let strategy = &scenario.strategies[target.index];
    let shared: SharedState = Rc::new(RefCell::new(Shared {
        balancer: (strategy.balancer.build)(&BuildContext {
            users: scenario.workload.users,
            servers: scenario.servers.count,
            seed: scenario.seed,
        }),
        // Live app servers are virtual and never queue (see module docs).
        servers: ServerPool::with_health_check(
            scenario.servers.count,
            0,
            scenario.servers.health_check,
        ),
        recorder: Recorder::new(scenario.servers.count),
        users_affected: 0,
        users_arrived: 0,
        last_session: 0,
        events: Vec::new(),
        fault_losses: vec![None; scenario.faults.len()],
        loading_errors: 0,
        unreachable_until: SimTime::ZERO,
        max_lag: Duration::ZERO,
    }));
    let end = SimTime::ZERO + scenario.duration;
    let owned = target.process.is_some() || target.cluster.is_some();

    let mut users = JoinSet::new();
    let mut arrival = SimTime::ZERO;
    for u in 0..scenario.workload.users {
        arrival = arrival_of(&scenario.workload, scenario.seed, u, arrival);
        if arrival >= end {
            break;
        }
        let user = UserTask {
            scenario: scenario.clone(),
            strategy: target.index,
            user: UserId(u),
            arrival,
            clock,
            store: target.store.clone(),
            shared: shared.clone(),
        };
        users.spawn_local(user.run());
    }
    let mut background = JoinSet::new();
    background.spawn_local(report_loop(
        scenario.clone(),
        clock,
        target.store.clone(),
        owned,
        shared.clone(),
    ));
    if let Some(hc) = scenario.servers.health_check {
        background.spawn_local(health_check_loop(hc.interval, clock, shared.clone(), end));
    }
    background.spawn_local(fault_loop(
        scenario.clone(),
        clock,
        target.store.clone(),
        (
            target.process.clone(),
            target.replica.clone(),
            target.cluster.clone(),
        ),
        shared.clone(),
        target.index,
    ));
    while users.join_next().await.is_some() {}
    background.abort_all();
    while background.join_next().await.is_some() {}

    let active = target.store.count(owned).await.unwrap_or(0);
    let mut state = shared.borrow_mut();
    let in_service = state.servers.in_service().len() as u32;
    state.recorder.close_interval(end, active, in_service);
    let recorder = std::mem::take(&mut state.recorder);
    let (totals, latency_us, timeseries) = recorder.into_parts();
    let mut events = std::mem::take(&mut state.events);
    events.sort_by_key(|e| e.t);
    let result = StrategyResult {
        name: format!("{} [live]", strategy.name),
        balancer: strategy.balancer.name,
        store: strategy.store.name(),
        store_detail: if owned {
            format!("{}, live", strategy.store.describe())
        } else {
            "redis (the server's own persistence), live".to_string()
        },
        totals,
        users_affected: state.users_affected,
        users_arrived: state.users_arrived,
        latency_us,
        timeseries,
        events,
        fault_losses: state.fault_losses.clone(),
        events_processed: 0,
    };
    Finished {
        index: target.index,
        result,
        max_lag: state.max_lag,
    }
}

/// The version reported by a server we do not own.
async fn server_version(store: &SpringSessionStore) -> String {
    store
        .server_version()
        .await
        .unwrap_or_else(|| "unknown".into())
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
