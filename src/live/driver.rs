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

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;
use tokio::time::sleep_until;

use super::clock::LiveClock;
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
            targets.push(Target {
                index,
                store: Rc::new(store),
                process,
                replica: replica_process,
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
struct Shared {
    balancer: Box<dyn Balancer>,
    servers: ServerPool,
    recorder: Recorder,
    users_affected: u64,
    users_arrived: u64,
    last_session: u64,
    events: Vec<EventRecord>,
    fault_losses: Vec<Option<u64>>,
    /// Requests answered `-LOADING`.
    loading_errors: u64,
    /// A `redis_partition` fault cuts the app off from Redis until then.
    unreachable_until: SimTime,
    /// Worst delay between a request's intended and actual send time.
    max_lag: Duration,
}

type SharedState = Rc<RefCell<Shared>>;

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
    let owned = target.process.is_some();

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
        (target.process.clone(), target.replica.clone()),
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

/// The scenario, shared by every task of a run.
type ScenarioRc = Rc<Scenario>;

/// One virtual user: the same lifecycle as `sim::engine`, with a real store.
struct UserTask {
    scenario: ScenarioRc,
    /// Index of the strategy this user belongs to.
    strategy: usize,
    user: UserId,
    arrival: SimTime,
    clock: LiveClock,
    store: Rc<SpringSessionStore>,
    shared: SharedState,
}

impl UserTask {
    async fn run(self) {
        let s = &*self.scenario;
        let end = SimTime::ZERO + s.duration;
        let ttl = s.session.ttl;
        let mut me = UserSession::LOGGED_OUT;
        let (mut think_draws, mut requests_started) = (0u32, 0u32);
        let mut intended = self.arrival;
        self.shared.borrow_mut().users_arrived += 1;
        while intended < end {
            let intended_wall = self.clock.wall(intended);
            sleep_until(intended_wall.into()).await;
            let lag = Instant::now().saturating_duration_since(intended_wall);
            let started = self.clock.now().max(intended);
            let kind = me.next_kind();
            let mut rng = stream(
                s.seed,
                Purpose::Request,
                u64::from(self.user.0),
                u64::from(requests_started),
            );
            requests_started += 1;
            let service = s.servers.service_time.sample(&mut rng);

            let route = {
                let mut state = self.shared.borrow_mut();
                let state = &mut *state;
                state.max_lag = state.max_lag.max(lag);
                let picked = state.balancer.pick(self.user, &state.servers);
                picked.map(|server| {
                    state.recorder.routed(server);
                    // A dead server the health checks have not caught yet
                    // refuses the connection: no admission.
                    let running = state.servers.is_running(server);
                    if running {
                        state.servers.admit(server, self.user);
                    }
                    (server, state.servers.epoch(server), running)
                })
            };
            let mut extra = SimDuration::ZERO;
            let (outcome, new_session) = match route {
                None => (Outcome::Error(ErrorCause::NoServer), SessionId::NONE),
                Some((_, _, false)) => (Outcome::Error(ErrorCause::ServerDown), SessionId::NONE),
                Some((server, epoch, true)) => {
                    let (answer, mut new_session) =
                        self.store_operation(kind, server, me.session).await;
                    let policy = &s.strategies[self.strategy].on_store_error;
                    let (outcome, recreate) =
                        decide(kind, answer, policy, me.last_access, ttl, started);
                    if let OnStoreError::FallbackAuth { reauth_latency } = policy
                        && outcome == Outcome::Reauthenticated
                    {
                        extra = reauth_latency.sample(&mut rng);
                        if recreate {
                            // The token re-creates the session in Redis.
                            let (_, created) = self
                                .store_operation(RequestKind::Login, server, SessionId::NONE)
                                .await;
                            new_session = created;
                        }
                    }
                    let mut state = self.shared.borrow_mut();
                    if state.servers.epoch(server) != epoch {
                        (Outcome::Error(ErrorCause::ServerCrashed), new_session)
                    } else {
                        state.servers.finish(server, epoch);
                        (outcome, new_session)
                    }
                }
            };
            let latency = SimDuration::from(intended_wall.elapsed()) + service + extra;
            let mut state = self.shared.borrow_mut();
            state.recorder.record(kind, outcome, latency);
            let (next, newly_affected) = me.apply(outcome, started, new_session);
            if newly_affected {
                state.users_affected += 1;
            }
            drop(state);
            intended = match next {
                NextStep::Think => {
                    let think = think_time(&s.workload, s.seed, self.user, think_draws);
                    think_draws += 1;
                    self.clock.now() + think
                }
                NextStep::LogInNow => self.clock.now(),
            };
        }
    }

    /// The store operation of a request: create at login, look up otherwise.
    async fn store_operation(
        &self,
        kind: RequestKind,
        server: ServerId,
        session: SessionId,
    ) -> (Lookup, SessionId) {
        let partitioned = self.clock.now() < self.shared.borrow().unreachable_until;
        let (answer, new_session) = match kind {
            RequestKind::Login => {
                let id = {
                    let mut state = self.shared.borrow_mut();
                    state.last_session += 1;
                    SessionId(state.last_session)
                };
                if partitioned {
                    return (Lookup::Unavailable, id);
                }
                (
                    self.store
                        .create(server, id, self.user)
                        .await
                        .map(|()| Lookup::Found),
                    id,
                )
            }
            RequestKind::Page if partitioned => return (Lookup::Unavailable, SessionId::NONE),
            RequestKind::Page => (self.store.access(server, session).await, SessionId::NONE),
        };
        let answer = answer.unwrap_or_else(|failure| {
            if failure == StoreFailure::Loading {
                self.shared.borrow_mut().loading_errors += 1;
            }
            Lookup::Unavailable
        });
        (answer, new_session)
    }
}

/// Runs the balancer's health checks every `interval`, as the simulator does.
async fn health_check_loop(
    interval: SimDuration,
    clock: LiveClock,
    shared: SharedState,
    end: SimTime,
) {
    let mut t = SimTime::ZERO + interval;
    while t < end {
        sleep_until(clock.wall(t).into()).await;
        let mut state = shared.borrow_mut();
        for detection in state.servers.run_health_checks() {
            let (event, word) = if detection.up {
                ("server_marked_up", "back in")
            } else {
                ("server_marked_down", "out of")
            };
            let detail = format!(
                "health checks: server {} {word} rotation",
                detection.server.0
            );
            state.events.push(EventRecord {
                t,
                event,
                detail,
                sessions_lost: 0,
            });
        }
        drop(state);
        t += interval;
    }
}

/// Closes a row of the time series every `report_interval`.
async fn report_loop(
    scenario: ScenarioRc,
    clock: LiveClock,
    store: Rc<SpringSessionStore>,
    owned: bool,
    shared: SharedState,
) {
    let end = SimTime::ZERO + scenario.duration;
    let mut t = SimTime::ZERO + scenario.report_interval;
    while t < end {
        sleep_until(clock.wall(t).into()).await;
        let active = store.count(owned).await.unwrap_or(0);
        let mut state = shared.borrow_mut();
        let in_service = state.servers.in_service().len() as u32;
        state.recorder.close_interval(t, active, in_service);
        drop(state);
        t += scenario.report_interval;
    }
}

/// Carries out the scenario's faults for real.
/// The primary and (with replication) the replica of a live strategy.
type Processes = (
    Option<Rc<RefCell<RedisProcess>>>,
    Option<Rc<RefCell<RedisProcess>>>,
);

async fn fault_loop(
    scenario: ScenarioRc,
    clock: LiveClock,
    store: Rc<SpringSessionStore>,
    (process, replica): Processes,
    shared: SharedState,
    strategy: usize,
) {
    let end = SimTime::ZERO + scenario.duration;
    let mut recoveries = JoinSet::new();
    for (index, fault) in scenario.faults.iter().enumerate() {
        if fault.at >= end {
            continue;
        }
        sleep_until(clock.wall(fault.at).into()).await;
        match fault.kind {
            FaultKind::ServerCrash {
                server,
                recover_after,
            } => {
                let target = target_server(scenario.seed, index, server, scenario.servers.count);
                {
                    let mut state = shared.borrow_mut();
                    state.fault_losses[index] = Some(0);
                    if !state.servers.is_running(target) {
                        // Already down: nothing to crash, no recovery to schedule.
                        let detail = format!("server {} was already down", target.0);
                        state.events.push(EventRecord {
                            t: fault.at,
                            event: "server_crash",
                            detail,
                            sessions_lost: 0,
                        });
                        continue;
                    }
                    state.servers.crash(target);
                    state.fault_losses[index] = Some(0);
                    let detail = format!(
                        "server {} crashed; sessions are in Redis, none lost",
                        target.0
                    );
                    state.events.push(EventRecord {
                        t: fault.at,
                        event: "server_crash",
                        detail,
                        sessions_lost: 0,
                    });
                }
                let shared = shared.clone();
                let back = fault.at + recover_after;
                recoveries.spawn_local(async move {
                    sleep_until(clock.wall(back).into()).await;
                    let mut state = shared.borrow_mut();
                    state.servers.recover(target);
                    let detail = format!("server {} back, empty", target.0);
                    state.events.push(EventRecord {
                        t: back,
                        event: "server_recovered",
                        detail,
                        sessions_lost: 0,
                    });
                });
            }
            FaultKind::RedisPartition { duration } => {
                // Emulated on the client side: lbsim's app servers stop
                // talking to Redis (no packet filter is needed, and Redis,
                // like in a real partition, notices nothing).
                let mut state = shared.borrow_mut();
                state.unreachable_until = fault.at + duration;
                state.fault_losses[index] = Some(0);
                let detail = format!(
                    "app servers cut off from Redis for {duration} (emulated in lbsim's client)"
                );
                state.events.push(EventRecord {
                    t: fault.at,
                    event: "redis_partition",
                    detail,
                    sessions_lost: 0,
                });
            }
            // App-server faults change only the balancer's farm here:
            // sessions are in Redis, so nothing is lost.
            FaultKind::RollingDeploy { pause, drain } => {
                shared.borrow_mut().fault_losses[index] = Some(0);
                let shared = shared.clone();
                let at = fault.at;
                recoveries.spawn_local(async move {
                    let old: Vec<ServerId> = shared.borrow().servers.in_service().to_vec();
                    let drain = drain.unwrap_or(SimDuration::ZERO);
                    let mut t = at;
                    for server in old {
                        shared.borrow_mut().servers.start_draining(server);
                        t += drain;
                        sleep_until(clock.wall(t).into()).await;
                        {
                            let mut state = shared.borrow_mut();
                            state.servers.retire(server);
                            let new = state.servers.add_server();
                            let detail = format!("server {} replaces server {}", new.0, server.0);
                            state.events.push(EventRecord {
                                t,
                                event: "server_added",
                                detail,
                                sessions_lost: 0,
                            });
                        }
                        t += pause;
                        sleep_until(clock.wall(t).into()).await;
                    }
                });
            }
            FaultKind::BlueGreen { .. } => {
                let mut state = shared.borrow_mut();
                let blue: Vec<ServerId> = state.servers.in_service().to_vec();
                for &server in &blue {
                    state.servers.add_server();
                    state.servers.retire(server);
                }
                state.fault_losses[index] = Some(0);
                let detail = format!("green fleet of {} servers takes all traffic", blue.len());
                state.events.push(EventRecord {
                    t: fault.at,
                    event: "blue_green",
                    detail,
                    sessions_lost: 0,
                });
            }
            FaultKind::RandomCrashes { mtbf, mttr, until } => {
                shared.borrow_mut().fault_losses[index] = Some(0);
                let servers: Vec<ServerId> = shared.borrow().servers.in_service().to_vec();
                for server in servers {
                    let shared = shared.clone();
                    let (seed, from) = (scenario.seed, fault.at);
                    recoveries.spawn_local(async move {
                        let mut t = from;
                        for draw in 0.. {
                            t += random_crash_delay(seed, index, server, draw, false, mtbf);
                            if t >= until {
                                break;
                            }
                            sleep_until(clock.wall(t).into()).await;
                            if !shared.borrow().servers.is_running(server) {
                                continue;
                            }
                            shared.borrow_mut().servers.crash(server);
                            t += random_crash_delay(seed, index, server, draw, true, mttr);
                            sleep_until(clock.wall(t).into()).await;
                            shared.borrow_mut().servers.recover(server);
                        }
                    });
                }
            }
            FaultKind::ScaleOut { add } => {
                // Sessions are in Redis: new servers need nothing but a place
                // in the balancer's list.
                let mut state = shared.borrow_mut();
                let added: Vec<String> = (0..add)
                    .map(|_| state.servers.add_server().0.to_string())
                    .collect();
                state.fault_losses[index] = Some(0);
                let detail = format!("servers {} added", added.join(", "));
                state.events.push(EventRecord {
                    t: fault.at,
                    event: "scale_out",
                    detail,
                    sessions_lost: 0,
                });
            }
            FaultKind::ScaleIn { remove, drain } => {
                let leaving: Vec<ServerId> = {
                    let mut state = shared.borrow_mut();
                    let in_service = state.servers.in_service();
                    let count = (remove as usize).min(in_service.len().saturating_sub(1));
                    let leaving: Vec<ServerId> =
                        in_service.iter().rev().take(count).copied().collect();
                    state.fault_losses[index] = Some(0);
                    for &server in &leaving {
                        state.servers.start_draining(server);
                    }
                    let names: Vec<String> = leaving.iter().map(|s| s.0.to_string()).collect();
                    let detail = format!(
                        "servers {} leaving; sessions are in Redis, none lost",
                        names.join(", ")
                    );
                    state.events.push(EventRecord {
                        t: fault.at,
                        event: "scale_in",
                        detail,
                        sessions_lost: 0,
                    });
                    leaving
                };
                let shared = shared.clone();
                let gone = fault.at + drain.unwrap_or(SimDuration::ZERO);
                recoveries.spawn_local(async move {
                    sleep_until(clock.wall(gone).into()).await;
                    let mut state = shared.borrow_mut();
                    for server in leaving {
                        state.servers.retire(server);
                    }
                });
            }
            FaultKind::RedisRestart { mode, downtime, .. } => {
                let Some(process) = &process else { continue };
                let replication = match &scenario.strategies[strategy].store {
                    StoreConfig::Redis(redis) => redis.replication.clone(),
                    _ => None,
                };
                if let (Some(replica), Some(replication)) = (&replica, replication)
                    && downtime > replication.down_after
                {
                    let promote_at = fault.at + replication.down_after + replication.failover_delay;
                    failover_redis(
                        clock, index, fault.at, promote_at, mode, &store, process, replica, &shared,
                    )
                    .await;
                    continue;
                }
                restart_redis(
                    &scenario, index, mode, downtime, clock, &store, process, &shared,
                )
                .await;
            }
        }
    }
    while recoveries.join_next().await.is_some() {}
}

/// Stops the real redis-server the way `mode` says, starts it again after
/// `downtime` on the same folder and port, and measures what came back.
#[allow(clippy::too_many_arguments)]
async fn restart_redis(
    scenario: &Scenario,
    index: usize,
    mode: RestartMode,
    downtime: SimDuration,
    clock: LiveClock,
    store: &SpringSessionStore,
    process: &Rc<RefCell<RedisProcess>>,
    shared: &SharedState,
) {
    let at = scenario.faults[index].at;
    let before = store.count(true).await.unwrap_or(0);
    let stopped_ms = super::spring_session::epoch_millis();
    let how = match mode {
        RestartMode::Crash => {
            process.borrow_mut().kill();
            "SIGKILL".to_string()
        }
        RestartMode::HostCrash => {
            process.borrow_mut().kill();
            "SIGKILL (a live run cannot cut the host's power: the kernel keeps unsynced AOF data, \
             so this behaves as a process crash)"
                .to_string()
        }
        RestartMode::Graceful => {
            let url = process.borrow().url();
            // SHUTDOWN saves (RDB) or fsyncs (AOF) as configured, then closes
            // the connection instead of replying.
            if let Ok(client) = redis::Client::open(url.as_str())
                && let Ok(mut connection) = client.get_connection()
            {
                let _: Result<(), _> = redis::cmd("SHUTDOWN").query(&mut connection);
            }
            process.borrow_mut().wait_for_exit(Duration::from_secs(30));
            "SHUTDOWN".to_string()
        }
    };
    let back = at + downtime;
    sleep_until(clock.wall(back).into()).await;
    let restarted = process.borrow_mut().respawn();
    let started = Instant::now();
    let mut after = None;
    if restarted.is_ok() {
        // Poll until Redis has loaded its data (it answers instead of
        // -LOADING or a refused connection), then count the sessions that
        // came back: those created before the stop. Users logging in again
        // meanwhile create new ones, which must not count as survivors.
        while started.elapsed() < Duration::from_secs(60) {
            if store.count(true).await.is_some() {
                after = store.count_created_before(stopped_ms).await;
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let ready_ms = started.elapsed().as_secs_f64() * 1000.0;
    let after = after.unwrap_or(0);
    let lost = before.saturating_sub(after);
    let mut state = shared.borrow_mut();
    state.fault_losses[index] = Some(lost);
    state.events.push(EventRecord {
        t: at,
        event: "redis_down",
        detail: format!(
            "redis-server stopped with {how}; {lost} of {before} sessions did not come back \
             (counted in Redis before the stop and after loading)"
        ),
        sessions_lost: lost,
    });
    let detail = match restarted {
        Ok(()) => {
            let loading = match state.loading_errors {
                0 => String::new(),
                n => format!("; {n} requests so far got -LOADING"),
            };
            format!(
                "redis-server restarted (pid {}); ready after {ready_ms:.0} ms{loading}",
                process.borrow().pid().unwrap_or(0)
            )
        }
        Err(err) => format!("redis-server failed to restart: {err}"),
    };
    state.events.push(EventRecord {
        t: back,
        event: "redis_up",
        detail,
        sessions_lost: 0,
    });
}

/// Kills the primary, and at `promote_at` promotes the replica the way
/// Sentinel would (`REPLICAOF NO ONE`) and points the app at it; measures
/// which sessions the replica had. The old primary stays down.
#[allow(clippy::too_many_arguments)]
async fn failover_redis(
    clock: LiveClock,
    index: usize,
    at: SimTime,
    promote_at: SimTime,
    mode: RestartMode,
    store: &SpringSessionStore,
    primary: &Rc<RefCell<RedisProcess>>,
    replica: &Rc<RefCell<RedisProcess>>,
    shared: &SharedState,
) {
    let before = store.count(true).await.unwrap_or(0);
    let stopped_ms = super::spring_session::epoch_millis();
    primary.borrow_mut().kill();
    shared.borrow_mut().fault_losses[index] = Some(0);
    sleep_until(clock.wall(promote_at).into()).await;
    let promoted = replica.borrow().promote();
    let replica_url = replica.borrow().url();
    let switched = match &promoted {
        Ok(()) => store
            .switch_to(&replica_url)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let after = match switched {
        Ok(()) => store.count_created_before(stopped_ms).await.unwrap_or(0),
        Err(_) => 0,
    };
    let lost = before.saturating_sub(after);
    let mut state = shared.borrow_mut();
    state.fault_losses[index] = Some(lost);
    let how = if mode == RestartMode::Graceful {
        "stopped"
    } else {
        "killed with SIGKILL"
    };
    state.events.push(EventRecord {
        t: at,
        event: "redis_down",
        detail: format!("redis primary {how}; the replica will be promoted at {promote_at}"),
        sessions_lost: 0,
    });
    let detail = match switched {
        Ok(()) => format!(
            "replica promoted (REPLICAOF NO ONE) and the app switched to it; {lost} of {before} \
             sessions did not come through (counted in Redis before the stop and after promotion)"
        ),
        Err(e) => format!("failover failed: {e}"),
    };
    state.events.push(EventRecord {
        t: promote_at,
        event: "redis_failover",
        detail,
        sessions_lost: lost,
    });
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
