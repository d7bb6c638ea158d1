//! The app servers: which are up, how busy they are, their worker queues,
//! and which of them are in service (the farm can grow and shrink).
//!
//! A server's session memory is not here but in the session store (the
//! `local` store keeps one map per server), so that a balancer sees only what
//! a real load balancer sees: which servers answer and how many requests each
//! is handling.

use std::collections::VecDeque;

use super::time::{SimDuration, SimTime};
use super::{ServerId, UserId};

/// Whether the balancer may send a server requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Membership {
    /// Takes new users and pinned ones.
    #[default]
    InService,
    /// Being removed gracefully: only users already pinned to it are still
    /// sent here (connection draining), no new ones.
    Draining,
    /// Removed from the farm for good.
    Retired,
}

/// One app server.
#[derive(Debug, Default)]
pub struct Server {
    /// False from a crash until it has recovered.
    pub up: bool,
    /// In service, draining or retired.
    pub membership: Membership,
    /// Incremented at every crash. A request remembers the epoch it started
    /// in; if the server crashed meanwhile, the request fails, the way a
    /// connection reset does.
    pub epoch: u32,
    /// Requests routed here and not yet completed (running or queued): what
    /// `least_connections` compares.
    pub in_flight: u32,
    /// Requests whose connection here failed and that wait out the
    /// turn-around to retry it here: HAProxy keeps them assigned to the
    /// server (`srv->served` is only dropped by `sess_change_server` when
    /// a retry is redispatched), so `leastconn` counts them as its
    /// connections and steers new requests away from a dead server.
    pub retrying: u32,
    /// Requests holding a worker right now.
    pub busy: u32,
    /// Requests waiting for a worker, oldest first.
    pub waiting: VecDeque<UserId>,
    /// Whether the balancer believes the server is up. Without health
    /// checks it follows `up` at once; with them it changes only after
    /// `fall` failed or `rise` passed checks in a row.
    pub seen_up: bool,
    /// Consecutive checks that disagreed with `seen_up` so far.
    pub checks_disagreeing: u32,
    /// A health check is waiting for its connection to a dead host, which
    /// goes unanswered: it fails when its connect timeout ends
    /// ([`ServerPool::begin_unanswered_check`]).
    pub check_unanswered: bool,
    /// HAProxy starts a checked server UP with its health at `rise`, "up,
    /// but will fall down at first failure" (src/server.c, 2.6), and the
    /// first passed check raises it to `rise + fall - 1` (src/check.c,
    /// `set_server_check_status`): until then one failed check marks it
    /// down. True for the servers of the start, until a check passes.
    pub falls_at_first_failure: bool,
    /// While down: its whole machine died, so connections to it are not
    /// refused but go unanswered (`timeout connect`), instead of the
    /// immediate refusal a dead process gives.
    pub host_down: bool,
}

/// Active health checks, as HAProxy does them (`inter`, `fall`, `rise`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// Time between two checks of a server.
    pub interval: SimDuration,
    /// Failed checks in a row before a server is marked down.
    pub fall: u32,
    /// Passed checks in a row before a server is marked up again.
    pub rise: u32,
}

/// A change of a server's state as the balancer sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detection {
    pub server: ServerId,
    /// True: marked up again; false: marked down.
    pub up: bool,
}

/// All servers of one simulation. Server ids are never reused: a server
/// added by a scale-out gets the next id, a retired one keeps its id.
#[derive(Debug)]
pub struct ServerPool {
    servers: Vec<Server>,
    /// Concurrent requests per server; 0 = unlimited.
    workers: u32,
    /// Servers that are up and in service, in id order: what hashing
    /// balancers map users onto.
    in_service: Vec<ServerId>,
    /// Changes whenever `in_service` changes, so balancers can cache
    /// structures built from it (a consistent-hash ring).
    version: u64,
    /// With health checks the balancer's view lags reality; without, it
    /// knows at once.
    health_check: Option<HealthCheck>,
}

/// What happens to a request that reaches a server.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// A worker is free: start now.
    Start,
    /// All workers are busy: the request waits in the FIFO queue.
    Queued,
}

impl ServerPool {
    /// `count` servers, all up.
    pub fn new(count: u32, workers: u32) -> Self {
        Self::with_health_check(count, workers, None)
    }

    /// `count` servers, all up, with the balancer's view of them following
    /// `health_check` (`None`: instant knowledge).
    pub fn with_health_check(count: u32, workers: u32, health_check: Option<HealthCheck>) -> Self {
        let servers = (0..count)
            .map(|_| Server {
                up: true,
                seen_up: true,
                falls_at_first_failure: health_check.is_some(),
                ..Server::default()
            })
            .collect();
        let mut pool = ServerPool {
            servers,
            workers,
            in_service: Vec::new(),
            version: 0,
            health_check,
        };
        pool.membership_changed();
        pool
    }

    /// Recomputes the in-service list after any change of state.
    fn membership_changed(&mut self) {
        self.in_service = (0..self.len())
            .map(ServerId)
            .filter(|&s| self.is_up(s))
            .collect();
        self.version += 1;
    }

    /// Servers that are up and in service, in id order.
    pub fn in_service(&self) -> &[ServerId] {
        &self.in_service
    }

    /// Changes whenever the in-service list does.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// True if users already pinned to `server` may still be sent there:
    /// it is up and in service or draining.
    pub fn accepts_pinned(&self, server: ServerId) -> bool {
        let s = &self.servers[server.index()];
        s.seen_up && s.membership != Membership::Retired
    }

    pub fn membership(&self, server: ServerId) -> Membership {
        self.servers[server.index()].membership
    }

    /// Adds a new, empty server in service; returns its id.
    pub fn add_server(&mut self) -> ServerId {
        self.servers.push(Server {
            up: true,
            seen_up: true,
            ..Server::default()
        });
        self.membership_changed();
        ServerId(self.len() - 1)
    }

    /// Stops sending new users to `server`; pinned users still come.
    pub fn start_draining(&mut self, server: ServerId) {
        self.servers[server.index()].membership = Membership::Draining;
        self.membership_changed();
    }

    /// Removes `server` for good. Requests it is running or queueing finish
    /// normally (a graceful shutdown), nothing new is sent to it.
    pub fn retire(&mut self, server: ServerId) {
        self.servers[server.index()].membership = Membership::Retired;
        self.membership_changed();
    }

    /// Number of servers, up or down.
    pub fn len(&self) -> u32 {
        self.servers.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// True if the balancer may send `server` new users: up (as far as it
    /// knows) and in service.
    pub fn is_up(&self, server: ServerId) -> bool {
        let s = &self.servers[server.index()];
        s.seen_up && s.membership == Membership::InService
    }

    /// True if the server process is running (not crashed), whatever its
    /// membership.
    pub fn is_running(&self, server: ServerId) -> bool {
        self.servers[server.index()].up
    }

    /// True if `server` is down because its machine is (connections time
    /// out rather than being refused).
    pub fn host_down(&self, server: ServerId) -> bool {
        let s = &self.servers[server.index()];
        !s.up && s.host_down
    }

    /// Requests routed here and not done: running, queued, or waiting to
    /// retry their connection here (what `least_connections` compares, as
    /// HAProxy's `srv->served` does).
    pub fn in_flight(&self, server: ServerId) -> u32 {
        let s = &self.servers[server.index()];
        s.in_flight + s.retrying
    }

    /// A request will retry its connection to `server` after a turn-around.
    pub fn retry_begins(&mut self, server: ServerId) {
        self.servers[server.index()].retrying += 1;
    }

    /// Its retry is due: it is no longer waiting on `server`.
    pub fn retry_ends(&mut self, server: ServerId) {
        let s = &mut self.servers[server.index()];
        s.retrying = s.retrying.saturating_sub(1);
    }

    pub fn epoch(&self, server: ServerId) -> u32 {
        self.servers[server.index()].epoch
    }

    /// Takes a routed request: it starts now or waits for a worker.
    pub fn admit(&mut self, server: ServerId, user: UserId) -> Admission {
        let workers = self.workers;
        let s = &mut self.servers[server.index()];
        debug_assert!(
            s.up && s.membership != Membership::Retired,
            "routed to a server that is gone"
        );
        s.in_flight += 1;
        if workers == 0 || s.busy < workers {
            s.busy += 1;
            Admission::Start
        } else {
            s.waiting.push_back(user);
            Admission::Queued
        }
    }

    /// A request that started in `epoch` has finished. Frees its worker and
    /// returns the next waiting request, which takes the worker over. A
    /// request from before a crash frees nothing: the crash already did.
    pub fn finish(&mut self, server: ServerId, epoch: u32) -> Option<UserId> {
        let s = &mut self.servers[server.index()];
        if s.epoch != epoch {
            return None;
        }
        s.in_flight -= 1;
        match s.waiting.pop_front() {
            Some(next) => Some(next), // the worker passes straight to it
            None => {
                s.busy -= 1;
                None
            }
        }
    }

    /// Marks a server's process dead and empties it. Returns the requests
    /// that were waiting for a worker; they fail. Running requests fail when
    /// they complete, because the epoch moved on.
    pub fn crash(&mut self, server: ServerId) -> VecDeque<UserId> {
        self.crash_as(server, false)
    }

    /// Like [`ServerPool::crash`]; with `host`, the whole machine died.
    pub fn crash_as(&mut self, server: ServerId, host: bool) -> VecDeque<UserId> {
        let s = &mut self.servers[server.index()];
        s.up = false;
        s.host_down = host;
        if self.health_check.is_none() {
            s.seen_up = false;
        }
        s.checks_disagreeing = 0;
        s.epoch += 1;
        s.in_flight = 0;
        s.busy = 0;
        let waiting = std::mem::take(&mut s.waiting);
        self.membership_changed();
        waiting
    }

    /// Brings a crashed server back. Like turmoil's restarted hosts it is
    /// rebuilt from scratch, so no state from before the crash survives.
    pub fn recover(&mut self, server: ServerId) {
        let s = &mut self.servers[server.index()];
        debug_assert!(!s.up, "recovering a server that is up");
        if s.up {
            return;
        }
        // Requests waiting to retry here still are, and a check whose
        // connection went out while the machine was down still fails.
        let (epoch, membership, retrying, check_unanswered) =
            (s.epoch, s.membership, s.retrying, s.check_unanswered);
        // Without health checks the balancer knows at once; with them it
        // waits for `rise` passed checks.
        let seen_up = self.health_check.is_none();
        *s = Server {
            up: true,
            seen_up,
            epoch,
            membership,
            retrying,
            check_unanswered,
            ..Server::default()
        };
        self.membership_changed();
    }

    /// The health-check settings, if the balancer checks servers.
    pub fn health_check(&self) -> Option<HealthCheck> {
        self.health_check
    }

    /// Whether a health check starting now on `server` must first wait
    /// for its connection: its machine is down, so the connection is
    /// neither accepted nor refused. Marks the check as pending; its
    /// [`ServerPool::run_health_check`] then fails.
    pub fn begin_unanswered_check(&mut self, server: ServerId) -> bool {
        let s = &mut self.servers[server.index()];
        if s.check_unanswered || s.up || !s.host_down {
            return false;
        }
        s.check_unanswered = true;
        true
    }

    /// The health check of one server (each has its own timer, as in
    /// HAProxy) ends: returns what the balancer now sees differently, if
    /// anything. It passes if the server is up, unless its connection went
    /// out while the server's machine was down. A retired server is not
    /// checked any more.
    pub fn run_health_check(&mut self, server: ServerId) -> Option<Detection> {
        let hc = self.health_check?;
        let s = &mut self.servers[server.index()];
        if s.membership == Membership::Retired {
            return None;
        }
        let unanswered = std::mem::take(&mut s.check_unanswered);
        let passed = s.up && !unanswered;
        let fragile = std::mem::replace(&mut s.falls_at_first_failure, false);
        if passed == s.seen_up {
            s.checks_disagreeing = 0;
            return None;
        }
        s.checks_disagreeing += 1;
        let needed = match (passed, fragile) {
            (true, _) => hc.rise,
            (false, true) => 1,
            (false, false) => hc.fall,
        };
        if s.checks_disagreeing < needed {
            return None;
        }
        s.seen_up = passed;
        s.checks_disagreeing = 0;
        self.membership_changed();
        Some(Detection { server, up: passed })
    }

    /// When server `server` (of `count` at the start) is first checked:
    /// HAProxy spreads the first checks of a backend's servers over one
    /// interval by their position (`start_check_task` in `check.c`:
    /// `mininter * srvpos / nbcheck`), and `spread-checks` adds no jitter by
    /// default, so server `i` is checked at `i * inter / count`, then every
    /// `inter`. A server added later is first checked one interval after it
    /// joins.
    pub fn first_check(&self, server: ServerId, count: u32, added_at: SimTime) -> Option<SimTime> {
        let hc = self.health_check?;
        if server.0 < count && added_at == SimTime::ZERO {
            // In u128: an interval of days times thousands of servers
            // overflows u64 before the division brings it back below one
            // interval.
            let offset =
                u128::from(hc.interval.as_nanos()) * u128::from(server.0) / u128::from(count);
            Some(SimTime::ZERO + SimDuration::from_nanos(offset as u64))
        } else {
            Some(added_at + hc.interval)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_drives_the_in_service_list() {
        let mut pool = ServerPool::new(3, 0);
        assert_eq!(pool.in_service(), [ServerId(0), ServerId(1), ServerId(2)]);
        let v = pool.version();
        let added = pool.add_server();
        assert_eq!(added, ServerId(3));
        assert!(pool.version() > v);
        pool.start_draining(ServerId(1));
        assert!(!pool.is_up(ServerId(1)) && pool.accepts_pinned(ServerId(1)));
        pool.crash(ServerId(2));
        assert_eq!(pool.in_service(), [ServerId(0), ServerId(3)]);
        pool.retire(ServerId(1));
        assert!(!pool.accepts_pinned(ServerId(1)));
        pool.recover(ServerId(2));
        assert_eq!(pool.in_service(), [ServerId(0), ServerId(2), ServerId(3)]);
    }

    #[test]
    fn finite_workers_queue_fifo() {
        let mut pool = ServerPool::new(1, 2);
        let s = ServerId(0);
        assert_eq!(pool.admit(s, UserId(1)), Admission::Start);
        assert_eq!(pool.admit(s, UserId(2)), Admission::Start);
        assert_eq!(pool.admit(s, UserId(3)), Admission::Queued);
        assert_eq!(pool.admit(s, UserId(4)), Admission::Queued);
        assert_eq!(pool.in_flight(s), 4);
        assert_eq!(pool.finish(s, 0), Some(UserId(3)));
        assert_eq!(pool.finish(s, 0), Some(UserId(4)));
        assert_eq!(pool.finish(s, 0), None);
        assert_eq!(pool.finish(s, 0), None);
        assert_eq!(pool.in_flight(s), 0);
    }

    #[test]
    fn a_server_falls_at_its_first_failed_check_until_one_has_passed() {
        let checks = HealthCheck {
            interval: SimDuration::from_secs(2),
            fall: 3,
            rise: 2,
        };
        let down_after = |passed_first: u32| {
            let mut pool = ServerPool::with_health_check(1, 0, Some(checks));
            let s = ServerId(0);
            for _ in 0..passed_first {
                assert_eq!(pool.run_health_check(s), None);
            }
            pool.crash(s);
            (1..=5)
                .find(|_| pool.run_health_check(s).is_some())
                .expect("marked down")
        };
        // Crashed before its first check: HAProxy's health is still `rise`.
        assert_eq!(down_after(0), 1);
        // After one passed check it needs `fall` failures.
        assert_eq!(down_after(1), 3);
        assert_eq!(down_after(4), 3);
    }

    #[test]
    fn crash_fails_waiting_and_ignores_stale_finishes() {
        let mut pool = ServerPool::new(2, 1);
        let s = ServerId(1);
        pool.admit(s, UserId(1));
        pool.admit(s, UserId(2));
        let failed = pool.crash(s);
        assert_eq!(failed, [UserId(2)]);
        assert!(!pool.is_up(s));
        // The running request from epoch 0 completes after the crash.
        assert_eq!(pool.finish(s, 0), None);
        pool.recover(s);
        assert!(pool.is_up(s));
        assert_eq!(pool.epoch(s), 1);
        assert_eq!(pool.admit(s, UserId(3)), Admission::Start);
    }
}
