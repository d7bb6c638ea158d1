//! One strategy's world, as both drivers share it: the users and what each
//! knows of its session, the balancer, the app servers, the store link,
//! and what the run has measured.
//!
//! Owns: every piece of state of a run except the session store itself,
//! and the rules that change it: the request lifecycle (`sim::lifecycle`)
//! and the effects of faults (`sim::fault`), both written as methods of
//! [`World`]. Must not: answer a store operation or carry out a store
//! fault. Those go back to the driver, the simulator (`sim::engine`),
//! which asks its model, or live mode, which asks a real Redis: that is
//! the only difference between a simulated row and a live one.

use std::sync::Arc;

use super::balancer::{Balancer, BuildContext};
use super::client::Client;
use super::config::{Scenario, Strategy};
use super::events::{EventKind, EventRecord};
use super::link::StoreLink;
use super::metrics::{Recorder, StrategyResult};
use super::request::{Outcome, RequestKind, UserSession};
use super::servers::ServerPool;
use super::time::SimTime;
use super::toll::{LostTo, Tolls};
use super::{ServerId, SessionId, UserId};

/// Marks a request that never reached a server.
pub(crate) const NO_SERVER: ServerId = ServerId(u32::MAX);

/// Per-user state: 80 bytes, with no heap allocation. Read on every
/// request of a million users at random, so what only faults need (which
/// fault destroyed the session a user holds) lives in [`World::lost_to`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct User {
    /// The user's cookie and its truth about it.
    pub me: UserSession,
    /// Think times drawn so far (the index of the next draw).
    pub think_draws: u32,
    /// Requests started so far (the index of the next request's draws).
    pub requests_started: u32,
    /// The request in flight (a user has at most one).
    pub request: InFlight,
}

/// What a request does next after a failed connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// No retry pending.
    None,
    /// Try this server again (HAProxy's retries on a direct server).
    Same(ServerId),
    /// Ask the balancer again, avoiding this server (a re-balance, a
    /// redispatch, nginx's next upstream).
    Elsewhere(ServerId),
    /// Every attempt failed: the request fails (503).
    GiveUp,
}

/// The request a user has in flight.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InFlight {
    pub kind: RequestKind,
    /// Intended send time: latency is measured from here.
    pub sent_at: SimTime,
    /// When the store looked the session up and answered: when a worker
    /// took the request (after any queueing), unless the client held the
    /// command (Lettuce while disconnected, or the kernel while the link
    /// is cut), in which case it is when the held command went out or
    /// timed out. The session's TTL is judged and refreshed at this time,
    /// as the store does.
    pub answered_at: SimTime,
    /// Server handling it, or `NO_SERVER`.
    pub server: ServerId,
    /// The server's epoch when routed; a crash changes it.
    pub epoch: u32,
    /// Outcome decided by the store's answer.
    pub outcome: Outcome,
    /// For a login (or a fallback re-authentication), the session it
    /// created.
    pub new_session: SessionId,
    /// Connection attempts that failed so far.
    pub failed_attempts: u8,
    /// The retry waiting, if any.
    pub retry: Retry,
}

/// One strategy's world while it runs, simulated or live.
pub struct World {
    pub(crate) scenario: Arc<Scenario>,
    /// Index of the strategy in `scenario.strategies`.
    pub(crate) strategy: usize,
    /// The run covers `[0, end)`.
    pub(crate) end: SimTime,
    /// The app servers: up or down, in service or not, busy or idle.
    pub servers: ServerPool,
    pub(crate) balancer: Box<dyn Balancer>,
    /// The network between the app servers and a remote store.
    pub(crate) link: StoreLink,
    /// The app's store client: fails fast, or holds commands and
    /// reconnects (`sim::client`).
    pub(crate) client: Client,
    /// True if the store is a server of its own (Redis), which network and
    /// store faults reach.
    pub(crate) store_is_remote: bool,
    pub(crate) users: Vec<User>,
    /// By user: the fault that destroyed the session the user holds, if
    /// one did: the user's next request finds it gone, and the logout is
    /// that fault's. Read only when a session is found missing, so kept
    /// apart from the records every request reads; empty until a fault
    /// destroys a held session.
    pub(crate) lost_to: Vec<Option<LostTo>>,
    /// Last session id handed out.
    pub(crate) last_session: u64,
    pub(crate) recorder: Recorder,
    pub(crate) users_affected: u64,
    pub(crate) users_arrived: u64,
    pub(crate) events: Vec<EventRecord>,
    /// Sessions destroyed to each scenario fault, in file order; `None` until
    /// the fault happens.
    pub(crate) fault_losses: Vec<Option<u64>>,
    /// What else each fault cost: the logouts and expiries its destroyed
    /// sessions caused, the errors in its window (`sim::toll`).
    pub(crate) tolls: Tolls,
    /// For each rolling deploy (by fault index): servers with a lower id
    /// were in service when it began and are to be replaced.
    pub(crate) deploy_boundary: Vec<u32>,
    /// Copies of the settings every request reads, kept beside the state
    /// they work on rather than behind the scenario's pointers.
    pub(crate) per_request: PerRequest,
}

/// The settings the lifecycle reads on every request.
#[derive(Clone, Debug)]
pub(crate) struct PerRequest {
    pub seed: u64,
    pub ttl: crate::sim::time::SimDuration,
    pub retry: crate::sim::config::RetryPolicy,
    pub service_time: crate::sim::dist::Dist,
    pub store_latency: crate::sim::dist::Dist,
    pub round_trips: crate::sim::store::RoundTrips,
    pub on_store_error: crate::sim::request::OnStoreError,
}

impl World {
    /// A fresh world for strategy number `strategy`: every user logged out,
    /// every server up and empty. `workers` is the number of concurrent
    /// requests per server (0: unlimited).
    pub fn new(scenario: Arc<Scenario>, strategy: usize, workers: u32) -> World {
        let users = scenario.workload.users;
        let servers = scenario.servers.count;
        let idle = User {
            me: UserSession::LOGGED_OUT,
            think_draws: 0,
            requests_started: 0,
            request: InFlight {
                kind: RequestKind::Login,
                sent_at: SimTime::ZERO,
                answered_at: SimTime::ZERO,
                server: NO_SERVER,
                epoch: 0,
                outcome: Outcome::Ok,
                new_session: SessionId::NONE,
                failed_attempts: 0,
                retry: Retry::None,
            },
        };
        let spec = &scenario.strategies[strategy];
        World {
            end: SimTime::ZERO + scenario.duration,
            servers: ServerPool::with_health_check(servers, workers, scenario.servers.health_check),
            balancer: (spec.balancer.build)(&BuildContext {
                users,
                servers,
                seed: scenario.seed,
            }),
            link: StoreLink::default(),
            client: Client::new(spec.store.client_policy()),
            store_is_remote: spec.store.is_remote(),
            users: crate::sim::cache::per_user(idle, users as usize),
            lost_to: Vec::new(),
            last_session: 0,
            recorder: Recorder::new(servers),
            users_affected: 0,
            users_arrived: 0,
            events: Vec::new(),
            fault_losses: vec![None; scenario.faults.len()],
            tolls: Tolls::new(scenario.faults.iter().map(|f| f.at)),
            deploy_boundary: vec![0; scenario.faults.len()],
            per_request: PerRequest {
                seed: scenario.seed,
                ttl: scenario.session.ttl,
                retry: scenario.servers.retry,
                service_time: scenario.servers.service_time.clone(),
                store_latency: spec.store.latency().clone(),
                round_trips: spec.store.round_trips(),
                on_store_error: spec.on_store_error.clone(),
            },
            strategy,
            scenario,
        }
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn strategy(&self) -> &Strategy {
        &self.scenario.strategies[self.strategy]
    }

    /// The end of the run.
    pub fn end(&self) -> SimTime {
        self.end
    }

    /// Starts fetching user `user`'s record, and what the balancer keeps for
    /// it, into the cache.
    #[inline]
    pub(crate) fn prefetch_user(&self, user: UserId) {
        crate::sim::cache::prefetch_at(&self.users, user.index());
        crate::sim::cache::prefetch_at(&self.lost_to, user.index());
        self.balancer.prefetch(user);
    }

    /// What user `user` knows of its session.
    pub fn user_session(&self, user: UserId) -> UserSession {
        self.users[user.index()].me
    }

    /// The sessions users hold at `now` and believe valid (by their own
    /// clock), with their owners: what a fault can destroy.
    pub fn held_sessions(&self, now: SimTime) -> Vec<(UserId, SessionId)> {
        let ttl = self.per_request.ttl;
        self.users
            .iter()
            .enumerate()
            .filter(|(_, u)| {
                !u.me.session.is_none()
                    && !crate::sim::store::is_expired(u.me.last_access, ttl, now)
            })
            .map(|(i, u)| (UserId(i as u32), u.me.session))
            .collect()
    }

    /// Events recorded so far.
    pub fn events(&self) -> &[EventRecord] {
        &self.events
    }

    /// Sessions destroyed to each fault so far (`None`: not happened yet).
    pub fn fault_losses(&self) -> &[Option<u64>] {
        &self.fault_losses
    }

    /// Distinct users logged out at least once so far.
    pub fn users_affected(&self) -> u64 {
        self.users_affected
    }

    /// Records an event at `t`.
    pub(crate) fn record(&mut self, t: SimTime, kind: EventKind, sessions_destroyed: u64) {
        let so_far = self.so_far();
        self.events.push(EventRecord {
            t,
            kind,
            sessions_destroyed,
            counted: None,
            so_far,
        });
    }

    /// Records an event whose loss was counted in a real store.
    pub(crate) fn record_counted(&mut self, record: EventRecord) {
        self.events.push(record);
    }

    /// Forced logouts and errors so far.
    pub(crate) fn so_far(&self) -> (u64, u64) {
        let totals = &self.recorder.totals;
        (totals.forced_logouts, totals.errors)
    }

    /// Fault `fault` destroyed sessions `lost`: splits them into those a
    /// user holds (each one a forced logout to come) and orphans nobody
    /// holds any more, and marks each held one with the fault. A login
    /// whose store write happened but whose response is still on its way
    /// counts as held: its user is about to adopt the session, unless the
    /// request itself is doomed because its server crashed.
    pub(crate) fn take_lost(&mut self, fault: u32, lost: &[(UserId, SessionId)]) -> (u64, u64) {
        let mut held = 0;
        for &(owner, session) in lost {
            let user = &self.users[owner.index()];
            let r = &user.request;
            let holds = user.me.session == session
                || (r.kind == RequestKind::Login
                    && r.new_session == session
                    && r.server != NO_SERVER
                    && self.servers.epoch(r.server) == r.epoch);
            if holds {
                held += 1;
                self.mark_lost(owner, LostTo { fault, session });
            }
        }
        (held, lost.len() as u64 - held)
    }

    /// Marks `owner`'s session as destroyed by a fault.
    fn mark_lost(&mut self, owner: UserId, mark: LostTo) {
        if self.lost_to.is_empty() {
            self.lost_to = crate::sim::cache::per_user(None, self.users.len());
        }
        self.lost_to[owner.index()] = Some(mark);
    }

    /// Takes the mark of the fault that destroyed `user`'s session, if any.
    pub(crate) fn take_lost_mark(&mut self, user: UserId) -> Option<LostTo> {
        self.lost_to.get_mut(user.index()).and_then(Option::take)
    }

    /// Live mode: fault `fault` may have destroyed every session in `held`
    /// (what users held when it struck); marks them until a count in Redis
    /// tells the survivors (`survived`).
    pub(crate) fn at_risk(&mut self, fault: u32, held: &[(UserId, SessionId)]) {
        for &(owner, session) in held {
            self.mark_lost(owner, LostTo { fault, session });
        }
    }

    /// Live mode: these sessions were still in Redis after fault `fault`;
    /// their marks go.
    pub(crate) fn survived(&mut self, fault: u32, sessions: &[(UserId, SessionId)]) {
        for &(owner, session) in sessions {
            if let Some(mark) = self.lost_to.get_mut(owner.index())
                && *mark == Some(LostTo { fault, session })
            {
                *mark = None;
            }
        }
    }

    /// The balancer checks `server`'s health at `now`; records what it
    /// detects. Returns when to check it next (`None` once it has left the
    /// farm, or without health checks).
    ///
    /// HAProxy schedules a server's next check `inter` after the last one
    /// *ended* (`process_chk_conn` in src/check.c, 2.6: `t->expire =
    /// tick_add(now_ms, srv_getinter(check))` once the check completes). A
    /// dead process refuses the check's connection at once, so checks stay
    /// `inter` apart; a dead host leaves it unanswered for min(`inter`,
    /// `timeout connect`) (src/tcpcheck.c: with `timeout check` set, as the
    /// stack's configuration does, the connection may take
    /// min(inter, timeout.connect)), so each failed check ends that much
    /// later and the next starts that much later: with `fall = 2` a dead
    /// host is marked down 2·min(inter, timeout connect) later than a dead
    /// process. Here the check's first call starts it and returns when it
    /// ends; the second evaluates it.
    pub fn health_check(&mut self, now: SimTime, server: ServerId) -> Option<SimTime> {
        let hc = self.servers.health_check()?;
        if self.servers.membership(server) == crate::sim::servers::Membership::Retired {
            return None;
        }
        if self.servers.begin_unanswered_check(server) {
            return Some(now + hc.interval.min(self.per_request.retry.timeout_connect));
        }
        if let Some(detection) = self.servers.run_health_check(server) {
            let kind = if detection.up {
                EventKind::MarkedUp { server }
            } else {
                EventKind::MarkedDown { server }
            };
            self.record(now, kind, 0);
        }
        Some(now + hc.interval)
    }

    /// When each server of the farm at the start is first checked.
    pub fn first_checks(&self) -> Vec<(SimTime, ServerId)> {
        let count = self.scenario.servers.count;
        (0..count)
            .filter_map(|i| {
                let server = ServerId(i);
                self.servers
                    .first_check(server, count, SimTime::ZERO)
                    .map(|t| (t, server))
            })
            .collect()
    }

    /// Closes the row of the time series that ends at `t`, with the number
    /// of live sessions the store holds.
    pub fn close_interval(&mut self, t: SimTime, active_sessions: u64) {
        let in_service = self.servers.in_service().len() as u32;
        self.recorder.close_interval(t, active_sessions, in_service);
    }

    /// What the run measured, under the row name `name`.
    /// The result of the run, named `name`; `live` for a row measured
    /// against a real Redis.
    pub fn into_result(self, name: String, store_detail: String, live: bool) -> StrategyResult {
        let (totals, latency_us, error_latency_us, timeseries) = self.recorder.into_parts();
        let spec = &self.scenario.strategies[self.strategy];
        let mut events = self.events;
        // Live mode may record an event after a later one (a loss counted
        // once Redis is back); the simulator records in time order already,
        // and a stable sort keeps the order of events at the same time.
        events.sort_by_key(|e| e.t);
        StrategyResult {
            name,
            balancer: spec.balancer.name,
            store: spec.store.name(),
            store_detail,
            store_settings: spec.store.settings(),
            mode: if live { "live" } else { "sim" },
            totals,
            users_affected: self.users_affected,
            users_arrived: self.users_arrived,
            latency_us,
            error_latency_us,
            timeseries,
            events,
            fault_losses: self.fault_losses,
            fault_tolls: self.tolls.tolls,
            events_processed: 0,
        }
    }
}
