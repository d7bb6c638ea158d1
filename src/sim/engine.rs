//! The event loop of one strategy's run.
//!
//! `run` builds a fresh world (servers, balancer, store, users) for one
//! strategy and drives it with a single-threaded
//! `while let Some(event) = queue.pop()` over a small `Copy` event enum.
//! Parallelism happens across strategies, never inside a run, so a run is a
//! pure function of the scenario, the strategy and the seed.

use super::balancer::{Balancer, BuildContext};
use super::config::{Scenario, Strategy};
use super::dist::Dist;
use super::metrics::{EventRecord, Recorder, StrategyResult};
use super::queue::EventQueue;
use super::request::{
    ErrorCause, NextStep, OnStoreError, Outcome, RequestKind, UserSession, decide,
};
use super::rng::{Purpose, stream};
use super::servers::{Admission, ServerPool};
use super::store::{Lookup, SessionStore};
use super::time::SimTime;
use super::workload::{arrival_of, think_time};
use super::{ServerId, SessionId, UserId};

/// Something scheduled to happen. Small and `Copy`, so the queue moves
/// 16-byte values and never allocates per event.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event {
    /// A user's first visit; also schedules the next user's arrival.
    Arrive(UserId),
    /// A user sends its next request (a login if it has no session).
    Send(UserId),
    /// A user's request finishes.
    Complete(UserId),
    /// The scenario's fault number `n` (file order) happens.
    Fault(u32),
    /// A crashed server comes back, empty.
    ServerRecover(ServerId),
    /// A server leaves the farm (scale-in, after draining); `fault` is the
    /// scale-in fault's index.
    Retire { server: ServerId, fault: u32 },
    /// A rolling deploy replaces its next server.
    DeployStep { fault: u32 },
    /// A rolling deploy stops a (drained) server and starts its
    /// replacement.
    Replace { server: ServerId, fault: u32 },
    /// A random crash of `server` (its `draw`-th), for a `random_crashes`
    /// fault.
    RandomCrash {
        fault: u32,
        server: ServerId,
        draw: u32,
    },
    /// The recovery that follows a random crash.
    RandomRecover {
        fault: u32,
        server: ServerId,
        draw: u32,
    },
    /// Redis starts again after the restart fault number `fault`.
    RedisStart { fault: u32 },
    /// Sentinel promotes a replica, for the restart fault number `fault`.
    RedisFailover { fault: u32 },
    /// Store background work (fsync, snapshot checks).
    StoreTick,
    /// The balancer checks every server's health.
    HealthCheck,
    /// Close a row of the time series.
    Report,
}

/// Marks a request that never reached a server.
pub(crate) const NO_SERVER: ServerId = ServerId(u32::MAX);

/// Per-user state: about 80 bytes, with no heap allocation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct User {
    /// The user's cookie and its truth about it.
    pub me: UserSession,
    /// Think times drawn so far (the index of the next draw).
    think_draws: u32,
    /// Requests started so far (the index of the next service-time draw).
    requests_started: u32,
    /// The request in flight (a user has at most one).
    request: InFlight,
}

/// The request a user has in flight.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InFlight {
    kind: RequestKind,
    /// Intended send time: latency is measured from here.
    sent_at: SimTime,
    /// When a worker took it (after any queueing).
    started_at: SimTime,
    /// Server handling it, or `NO_SERVER`.
    pub server: ServerId,
    /// The server's epoch when routed; a crash changes it.
    epoch: u32,
    /// Outcome decided by the store operation at start.
    pub outcome: Outcome,
    /// For a login, the session it created.
    new_session: SessionId,
}

/// One strategy's world while it runs.
pub struct Simulation<'a> {
    pub(crate) scenario: &'a Scenario,
    pub(crate) strategy: &'a Strategy,
    pub(crate) now: SimTime,
    /// The run covers `[0, end)`.
    end: SimTime,
    pub(crate) queue: EventQueue<Event>,
    pub(crate) servers: ServerPool,
    balancer: Box<dyn Balancer>,
    pub(crate) store: Box<dyn SessionStore>,
    store_latency: &'a Dist,
    pub(crate) users: Vec<User>,
    /// Last session id handed out.
    last_session: u64,
    recorder: Recorder,
    users_affected: u64,
    users_arrived: u64,
    pub(crate) events: Vec<EventRecord>,
    pub(crate) fault_losses: Vec<Option<u64>>,
    /// For each rolling deploy (by fault index): servers with a lower id
    /// were in service when it began and are to be replaced.
    pub(crate) deploy_boundary: Vec<u32>,
    events_processed: u64,
}

/// Runs one strategy of a scenario to the end and returns what it measured.
pub fn run(scenario: &Scenario, strategy: &Strategy) -> StrategyResult {
    run_with_progress(scenario, strategy, &|_| {})
}

/// How many events pass between two progress reports.
const PROGRESS_EVERY: u64 = 1 << 16;

/// Like [`run`], calling `progress` with the simulated time reached every
/// 65,536 events and once at the end. The callback only observes: the run
/// is the same with or without it.
pub fn run_with_progress(
    scenario: &Scenario,
    strategy: &Strategy,
    progress: &(dyn Fn(SimTime) + Sync),
) -> StrategyResult {
    let mut sim = Simulation::new(scenario, strategy);
    sim.run_to_end(progress);
    progress(sim.end);
    sim.into_result()
}

impl<'a> Simulation<'a> {
    fn new(scenario: &'a Scenario, strategy: &'a Strategy) -> Self {
        let users = scenario.workload.users;
        let servers = scenario.servers.count;
        let idle = User {
            me: UserSession::LOGGED_OUT,
            think_draws: 0,
            requests_started: 0,
            request: InFlight {
                kind: RequestKind::Login,
                sent_at: SimTime::ZERO,
                started_at: SimTime::ZERO,
                server: NO_SERVER,
                epoch: 0,
                outcome: Outcome::Ok,
                new_session: SessionId::NONE,
            },
        };
        let mut sim = Simulation {
            scenario,
            strategy,
            now: SimTime::ZERO,
            end: SimTime::ZERO + scenario.duration,
            queue: EventQueue::with_capacity(users as usize + 16),
            servers: ServerPool::with_health_check(
                servers,
                scenario.servers.workers,
                scenario.servers.health_check,
            ),
            balancer: (strategy.balancer.build)(&BuildContext {
                users,
                servers,
                seed: scenario.seed,
            }),
            store: strategy
                .store
                .build(scenario.session.ttl, servers, scenario.seed),
            store_latency: strategy.store.latency(),
            users: vec![idle; users as usize],
            last_session: 0,
            recorder: Recorder::new(servers),
            users_affected: 0,
            users_arrived: 0,
            events: Vec::new(),
            fault_losses: vec![None; scenario.faults.len()],
            deploy_boundary: vec![0; scenario.faults.len()],
            events_processed: 0,
        };
        sim.schedule_start();
        sim
    }

    fn schedule_start(&mut self) {
        let first = arrival_of(
            &self.scenario.workload,
            self.scenario.seed,
            0,
            SimTime::ZERO,
        );
        self.queue.push(first, Event::Arrive(UserId(0)));
        for (index, fault) in self.scenario.faults.iter().enumerate() {
            self.queue.push(fault.at, Event::Fault(index as u32));
        }
        self.queue
            .push(SimTime::ZERO + self.scenario.report_interval, Event::Report);
        if let Some(interval) = self.store.tick_interval() {
            self.queue.push(SimTime::ZERO + interval, Event::StoreTick);
        }
        if let Some(hc) = self.scenario.servers.health_check {
            self.queue
                .push(SimTime::ZERO + hc.interval, Event::HealthCheck);
        }
    }

    /// Processes every event before `end`, then closes the last interval, so
    /// the time series adds up exactly to the totals.
    fn run_to_end(&mut self, progress: &(dyn Fn(SimTime) + Sync)) {
        while let Some((at, event)) = self.queue.pop() {
            if at >= self.end {
                break;
            }
            debug_assert!(at >= self.now, "time went backwards");
            self.now = at;
            self.events_processed += 1;
            if self.events_processed.is_multiple_of(PROGRESS_EVERY) {
                progress(at);
            }
            self.handle(event);
        }
        self.now = self.end;
        let active = self.store.sweep_expired(self.end);
        let in_service = self.servers.in_service().len() as u32;
        self.recorder.close_interval(self.end, active, in_service);
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Arrive(user) => self.arrive(user),
            Event::Send(user) => self.send(user),
            Event::Complete(user) => self.complete(user),
            Event::Fault(index) => self.apply_fault(index as usize),
            Event::ServerRecover(server) => self.recover_server(server),
            Event::Retire { server, fault } => self.retire_server(server, fault as usize),
            Event::DeployStep { fault } => self.deploy_step(fault as usize),
            Event::Replace { server, fault } => self.replace_server(server, fault as usize),
            Event::RandomCrash {
                fault,
                server,
                draw,
            } => self.random_crash(fault as usize, server, draw),
            Event::RandomRecover {
                fault,
                server,
                draw,
            } => self.random_recover(fault as usize, server, draw),
            Event::RedisStart { fault } => self.start_redis(fault as usize),
            Event::RedisFailover { fault } => self.failover_redis(fault as usize),
            Event::StoreTick => {
                self.store.tick(self.now);
                if let Some(interval) = self.store.tick_interval() {
                    self.queue.push(self.now + interval, Event::StoreTick);
                }
            }
            Event::HealthCheck => {
                self.health_checks();
                if let Some(hc) = self.scenario.servers.health_check {
                    self.queue.push(self.now + hc.interval, Event::HealthCheck);
                }
            }
            Event::Report => {
                let active = self.store.sweep_expired(self.now);
                let in_service = self.servers.in_service().len() as u32;
                self.recorder.close_interval(self.now, active, in_service);
                self.queue
                    .push(self.now + self.scenario.report_interval, Event::Report);
            }
        }
    }

    fn arrive(&mut self, user: UserId) {
        self.users_arrived += 1;
        let next = user.0 + 1;
        if next < self.scenario.workload.users {
            let at = arrival_of(&self.scenario.workload, self.scenario.seed, next, self.now);
            self.queue.push(at, Event::Arrive(UserId(next)));
        }
        self.send(user);
    }

    /// Step 1 of the lifecycle: route the request.
    fn send(&mut self, user: UserId) {
        let state = &mut self.users[user.index()];
        let kind = state.me.next_kind();
        state.request.kind = kind;
        state.request.sent_at = self.now;
        match self.balancer.pick(user, &self.servers) {
            None => self.fail_now(user, ErrorCause::NoServer),
            // A dead server the health checks have not caught yet: the
            // connection is refused.
            Some(server) if !self.servers.is_running(server) => {
                self.recorder.routed(server);
                self.fail_now(user, ErrorCause::ServerDown);
            }
            Some(server) => {
                self.recorder.routed(server);
                let state = &mut self.users[user.index()];
                state.request.server = server;
                state.request.epoch = self.servers.epoch(server);
                if self.servers.admit(server, user) == Admission::Start {
                    self.start(user);
                }
            }
        }
    }

    /// Ends a user's request at once with an error, without a server.
    pub(crate) fn fail_now(&mut self, user: UserId, cause: ErrorCause) {
        let request = &mut self.users[user.index()].request;
        request.server = NO_SERVER;
        request.outcome = Outcome::Error(cause);
        self.queue.push(self.now, Event::Complete(user));
    }

    /// Step 2: a worker takes the request; the store operation happens now
    /// and decides the outcome; completion follows after service time and
    /// store latency.
    fn start(&mut self, user: UserId) {
        let seed = self.scenario.seed;
        let ttl = self.scenario.session.ttl;
        let now = self.now;
        let state = &mut self.users[user.index()];
        let mut rng = stream(
            seed,
            Purpose::Request,
            u64::from(user.0),
            u64::from(state.requests_started),
        );
        state.requests_started += 1;
        // Same order of draws for every strategy, so the service time of a
        // user's n-th request is common to all of them.
        let service = self.scenario.servers.service_time.sample(&mut rng);
        let store_latency = self.store_latency.sample(&mut rng);

        let request = &mut state.request;
        request.started_at = now;
        let answer = match request.kind {
            RequestKind::Login => {
                self.last_session += 1;
                request.new_session = SessionId(self.last_session);
                match self
                    .store
                    .create(now, request.server, request.new_session, user)
                {
                    Ok(()) => Lookup::Found,
                    Err(_) => Lookup::Unavailable,
                }
            }
            RequestKind::Page => {
                request.new_session = SessionId::NONE;
                self.store.access(now, request.server, state.me.session)
            }
        };
        // Synchronous replication makes the write wait for a replica.
        let write_wait = self.store.take_write_wait();
        let policy = &self.strategy.on_store_error;
        let (outcome, recreate) =
            decide(request.kind, answer, policy, state.me.last_access, ttl, now);
        request.outcome = outcome;
        let mut extra = write_wait;
        if let OnStoreError::FallbackAuth { reauth_latency } = policy
            && outcome == Outcome::Reauthenticated
        {
            // Drawn after the common draws, so it shifts no other number.
            extra = reauth_latency.sample(&mut rng);
            if recreate {
                // The session was gone: the token re-creates one (if the
                // store takes it; if not, the next request tries again).
                self.last_session += 1;
                request.new_session = SessionId(self.last_session);
                let _ = self
                    .store
                    .create(now, request.server, request.new_session, user);
            }
        }
        self.queue
            .push(now + service + store_latency + extra, Event::Complete(user));
    }

    /// Step 3: the response reaches the user, who acts on the outcome.
    fn complete(&mut self, user: UserId) {
        let request = self.users[user.index()].request;
        let mut outcome = request.outcome;
        if request.server != NO_SERVER {
            if self.servers.epoch(request.server) != request.epoch {
                outcome = Outcome::Error(ErrorCause::ServerCrashed);
            } else if let Some(next) = self.servers.finish(request.server, request.epoch) {
                self.start(next);
            }
        }
        self.recorder
            .record(request.kind, outcome, self.now.since(request.sent_at));

        let state = &mut self.users[user.index()];
        let (next, newly_affected) =
            state
                .me
                .apply(outcome, request.started_at, request.new_session);
        if newly_affected {
            self.users_affected += 1;
        }
        match next {
            NextStep::Think => self.think_then_send(user),
            NextStep::LogInNow => self.queue.push(self.now, Event::Send(user)),
        }
    }

    fn think_then_send(&mut self, user: UserId) {
        let state = &mut self.users[user.index()];
        let think = think_time(
            &self.scenario.workload,
            self.scenario.seed,
            user,
            state.think_draws,
        );
        state.think_draws += 1;
        let at = self.now + think;
        // Requests that would start after the end are never sent; skipping
        // them keeps the queue small.
        if at < self.end {
            self.queue.push(at, Event::Send(user));
        }
    }

    pub(crate) fn record_event(&mut self, event: &'static str, detail: String, sessions_lost: u64) {
        self.events.push(EventRecord {
            t: self.now,
            event,
            detail,
            sessions_lost,
        });
    }

    /// Splits destroyed sessions into those a user holds (each one a forced
    /// logout to come) and orphans nobody holds any more. A login whose
    /// store write happened but whose response is still on its way counts
    /// as held: its user is about to adopt the session, unless the request
    /// itself is doomed because its server crashed.
    pub(crate) fn split_lost(&self, lost: &[(UserId, SessionId)]) -> (u64, u64) {
        let held = lost
            .iter()
            .filter(|(owner, session)| {
                let user = &self.users[owner.index()];
                let r = &user.request;
                user.me.session == *session
                    || (r.kind == RequestKind::Login
                        && r.new_session == *session
                        && r.server != NO_SERVER
                        && self.servers.epoch(r.server) == r.epoch)
            })
            .count() as u64;
        (held, lost.len() as u64 - held)
    }

    fn into_result(self) -> StrategyResult {
        let (totals, latency_us, timeseries) = self.recorder.into_parts();
        StrategyResult {
            name: self.strategy.name.clone(),
            balancer: self.strategy.balancer.name,
            store: self.strategy.store.name(),
            store_detail: self.strategy.store.describe(),
            totals,
            users_affected: self.users_affected,
            users_arrived: self.users_arrived,
            latency_us,
            timeseries,
            events: self.events,
            fault_losses: self.fault_losses,
            events_processed: self.events_processed,
        }
    }
}
