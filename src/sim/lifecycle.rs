//! The request lifecycle, written once for the simulator and live mode.
//!
//! A sans-IO state machine in the style of quinn-proto: the driver tells
//! the [`World`] what happened and when (`now` is always an argument, no
//! clock is read), and the world says what to do next. The only thing a
//! driver does itself is answer store operations: the simulator from its
//! model, live mode by awaiting a real Redis.
//!
//! ```text
//!  send(now, user) ──► balancer picks a server ──► Sent::Failed   (no server, or it is down)
//!                                             ├──► Sent::Queued   (all workers busy: wait)
//!                                             └──► start(now, user)
//!  start ──► draws ──► Step::Store(op) ──► driver answers ──► answered(now, op, reply)
//!                  └─► Step::Respond (the store link dropped the operation)
//!  answered ──► policy + classify ──► Step::Respond(response)
//!                                ├──► Step::Store(op)   (fallback_auth re-creates a session)
//!                                └──► Step::Wait(held)  (a Lettuce client holds the command:
//!                                       retry(now, op) when it can go, timed_out(now, op) at the deadline)
//!  complete(now, user, latency) ──► record, the user's reaction ──► Completion
//!        { next_worker: a queued request takes the freed worker, next_send: when the user sends again }
//! ```
//!
//! # The order of random draws
//! Every draw of a request comes from the stream `(seed, Request, user,
//! n)` where `n` counts the requests the user has *started* (taken by a
//! worker); a request that fails before a worker takes it draws nothing.
//! Within the stream: draw 1 the app's service time, then one round trip
//! per command of the request's full sequence in the store (Spring
//! Session's four for a page request over Redis, two for a login; one for
//! a local store), then (only when a fallback re-authenticates) the
//! re-authentication time. Think times come from `(seed, Think, user, k)`
//! with `k` counting the user's think times. The order is the same whoever
//! answers the store, so a simulated and a live row share their workload.

use rand_xoshiro::SplitMix64;

use super::client::first_retransmission;
use super::link::Verdict;
use super::request::{ErrorCause, NextStep, OnStoreError, Outcome, RequestKind, decide};
use super::rng::{Purpose, stream};
use super::store::{Lookup, MAX_ROUND_TRIPS, Reply};
use super::time::{SimDuration, SimTime};
use super::workload::think_time;
use super::world::{NO_SERVER, Retry, World};
use super::{ServerId, SessionId, UserId};

/// What became of a request the user just sent.
#[derive(Debug)]
pub enum Sent {
    /// It failed before reaching a worker (no server up, or every attempt
    /// to connect failed): the driver completes it at once.
    Failed,
    /// Every worker of its server is busy: it waits in the server's FIFO
    /// queue until a [`Completion::next_worker`] names it.
    Queued,
    /// A worker took it.
    Started(Step),
    /// The connection to a dead server failed and the balancer tries again
    /// (or gives up) at this time: the driver calls [`World::resume`] then.
    Later(SimTime),
}

/// What the driver must do next for a started request.
#[derive(Debug)]
pub enum Step {
    /// Perform this store operation and hand the reply to
    /// [`World::answered`].
    Store(StoreOp),
    /// The client holds the operation while the store cannot be reached
    /// (`sim::client`): the driver keeps it, and the request's worker
    /// stays busy, until it can go ([`World::retry`]) or times out
    /// ([`World::timed_out`]). Boxed: holding is rare (only while the
    /// store cannot be reached), and a `Step` is moved through every call of
    /// a request's path, where its size is copying (issue 11 measured 4% of
    /// a run in `memcpy` with the hold inline).
    Wait(Box<Held>),
    /// The request is answered: the response reaches the user after
    /// `response.total()` (the simulator), and the driver then calls
    /// [`World::complete`].
    Respond(Response),
}

/// What a store operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Store a new session (login).
    Create,
    /// Look the session up and refresh its last access.
    Access,
}

/// A store operation the lifecycle needs answered. It also carries what
/// the lifecycle needs to resume when the answer comes (the request's draws
/// so far), so a driver may hold it across an `await`.
#[derive(Clone, Debug)]
pub struct StoreOp {
    pub user: UserId,
    /// The app server asking (local stores keep one memory per server).
    pub server: ServerId,
    pub kind: OpKind,
    pub session: SessionId,
    /// The round trips the scenario's store model says each command of the
    /// request takes (draws 2 and on; unused ones zero). The simulator's
    /// answer takes as many as the answer needs commands; a live driver
    /// measures the real ones instead.
    pub round_trips: [SimDuration; MAX_ROUND_TRIPS],
    /// How long the store link holds each command of this operation back
    /// (a `redis_slow` fault): a live driver waits this long before each.
    pub delay: SimDuration,
    /// The link's delays of the request's operations answered so far: the
    /// simulator adds them to the round trips.
    delayed: SimDuration,
    /// The app's own time for the request (draw 1).
    service: SimDuration,
    /// Latency added beyond service and store (a re-authentication).
    extra: SimDuration,
    /// The request's random stream, positioned after its draws so far.
    rng: SplitMix64,
    /// True for the re-creation that follows a fallback re-authentication:
    /// its answer changes nothing (if the store refuses it, the user's
    /// next request tries again).
    recreate: bool,
    /// When the command the client holds times out, once held.
    deadline: Option<SimTime>,
    /// True once the client gave up on it (its command timed out).
    timed_out: bool,
}

/// How long the response to a request takes, from when a worker took it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// The app's own work (draw 1).
    pub service: SimDuration,
    /// The store's round trip as modelled (draw 2), plus what the link held
    /// it back and any wait the store reported (a write waiting for a
    /// replica).
    pub store: SimDuration,
    /// Anything else (a fallback re-authentication, draw 3).
    pub extra: SimDuration,
}

impl Response {
    /// The whole time, as the simulator schedules it.
    pub fn total(&self) -> SimDuration {
        self.service + self.store + self.extra
    }

    /// The part a live driver cannot measure, because the app servers are
    /// virtual: the service time and any re-authentication. Live latency is
    /// the measured time from the intended send to the store's answer plus
    /// this.
    pub fn not_measured(&self) -> SimDuration {
        self.service + self.extra
    }
}

/// What follows a completed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// A queued request that takes over the freed worker: the driver calls
    /// [`World::start`] for it (before scheduling `next_send`, so both
    /// drivers order their timers alike).
    pub next_worker: Option<UserId>,
    /// When the user sends its next request; `None` if that is at or after
    /// the end of the run (a forced login again is sent at once, even
    /// then, and the driver drops it at the end).
    pub next_send: Option<SimTime>,
}

impl World {
    /// A user's first visit.
    pub fn arrive(&mut self, _user: UserId) {
        self.users_arrived += 1;
    }

    /// Step 1: the user sends its next request at `now` (a login if it has
    /// no session): the balancer routes it, the server admits or queues it.
    #[inline]
    pub fn send(&mut self, now: SimTime, user: UserId) -> Sent {
        let state = &mut self.users[user.index()];
        let kind = state.me.next_kind();
        state.request.kind = kind;
        state.request.sent_at = now;
        state.request.failed_attempts = 0;
        state.request.retry = Retry::None;
        self.route(now, user, None)
    }

    /// The balancer picks a server (avoiding `avoid` on a retry) and the
    /// request goes there.
    fn route(&mut self, now: SimTime, user: UserId, avoid: Option<ServerId>) -> Sent {
        match self.balancer.pick(user, &self.servers, now, avoid) {
            None => {
                self.fail_now(user, ErrorCause::NoServer);
                Sent::Failed
            }
            Some(server) => self.connect(now, user, server),
        }
    }

    /// The balancer connects to `server` for the request.
    fn connect(&mut self, now: SimTime, user: UserId, server: ServerId) -> Sent {
        self.recorder.routed(server);
        if !self.servers.is_running(server) {
            // A dead server the health checks have not caught yet.
            return self.connection_failed(now, user, server);
        }
        let state = &mut self.users[user.index()];
        state.request.server = server;
        state.request.epoch = self.servers.epoch(server);
        state.request.retry = Retry::None;
        match self.servers.admit(server, user) {
            super::servers::Admission::Start => Sent::Started(self.start(now, user)),
            super::servers::Admission::Queued => Sent::Queued,
        }
    }

    /// Marks a user's request failed, without a server; the driver
    /// completes it at once.
    pub(crate) fn fail_now(&mut self, user: UserId, cause: ErrorCause) {
        let request = &mut self.users[user.index()].request;
        request.server = NO_SERVER;
        request.outcome = Outcome::Error(cause);
    }

    /// Step 2: a worker takes the request at `now`; its draws are made and
    /// its store operation is decided.
    #[inline]
    pub fn start(&mut self, now: SimTime, user: UserId) -> Step {
        let settings = &self.per_request;
        let state = &mut self.users[user.index()];
        let mut rng = stream(
            settings.seed,
            Purpose::Request,
            u64::from(user.0),
            u64::from(state.requests_started),
        );
        state.requests_started += 1;
        // Same order of draws for every strategy, so the service time of a
        // user's n-th request is common to all of them.
        let service = settings.service_time.sample(&mut rng);
        // One round trip per command of the request's longest sequence,
        // drawn whatever the answer, so the draws after them do not move.
        let drawn = settings
            .round_trips
            .drawn(state.request.kind == RequestKind::Login);
        let mut round_trips = [SimDuration::ZERO; MAX_ROUND_TRIPS];
        for rtt in round_trips.iter_mut().take(usize::from(drawn)) {
            *rtt = settings.store_latency.sample(&mut rng);
        }
        let request = &mut state.request;
        let (kind, session) = match request.kind {
            RequestKind::Login => {
                self.last_session += 1;
                request.new_session = SessionId(self.last_session);
                (OpKind::Create, request.new_session)
            }
            RequestKind::Page => {
                request.new_session = SessionId::NONE;
                (OpKind::Access, state.me.session)
            }
        };
        let op = StoreOp {
            user,
            server: request.server,
            kind,
            session,
            round_trips,
            delay: SimDuration::ZERO,
            delayed: SimDuration::ZERO,
            service,
            extra: SimDuration::ZERO,
            rng,
            recreate: false,
            deadline: None,
            timed_out: false,
        };
        self.through_link(now, op)
    }

    /// Sends `op` over the store link: the driver answers it, unless the
    /// link drops it, in which case the lifecycle answers "unavailable"
    /// itself.
    #[inline]
    fn through_link(&mut self, now: SimTime, mut op: StoreOp) -> Step {
        if !self.store_is_remote {
            return Step::Store(op);
        }
        if !self.client.is_open()
            && let Some(timeout) = self.client.command_timeout()
        {
            // Lettuce buffers every command while it has no connection.
            return Self::hold(now, op, None, timeout);
        }
        match self.link.verdict(now) {
            Verdict::Pass => op.delay = SimDuration::ZERO,
            Verdict::Drop => {
                if let (Some(timeout), Some((from, until))) =
                    (self.client.command_timeout(), self.link.cut_at(now))
                {
                    // The connection stays up; the kernel retransmits.
                    let delivered = first_retransmission(from, until);
                    return Self::hold(now, op, Some(delivered), timeout);
                }
                return self.answered(now, op, Reply::UNAVAILABLE);
            }
            Verdict::Delay(delay) => op.delay = delay,
        }
        Step::Store(op)
    }

    /// Step 3: the store answered `op`. The app applies its store-error
    /// policy and classifies the outcome (which the user acts on when the
    /// response arrives).
    #[inline]
    pub fn answered(&mut self, now: SimTime, mut op: StoreOp, reply: Reply) -> Step {
        if reply.lookup == Lookup::Unavailable
            && !op.timed_out
            && let Some(timeout) = self.client.command_timeout()
        {
            // No connection: a Lettuce client holds the command until it
            // reconnects. (Faults tell the client at once when Redis goes;
            // this notices a connection that dropped without one.)
            if self.client.is_open() {
                self.client.closed(now);
            }
            return Self::hold(now, op, None, timeout);
        }
        // The commands this answer took (Spring stops at the first that
        // fails or finds nothing), each held back by the link's delay.
        let trips = self.per_request.round_trips;
        let (commands, total) = match (op.recreate, op.kind, reply.lookup) {
            (true, ..) => (trips.login, trips.missing + trips.login),
            (false, OpKind::Create, Lookup::Found) => (trips.login, trips.login),
            (false, OpKind::Access, Lookup::Found) => (trips.page, trips.page),
            (false, _, Lookup::Invalidated) => (trips.invalidated, trips.invalidated),
            (false, _, Lookup::Missing | Lookup::Unavailable | Lookup::Refused) => {
                (trips.missing, trips.missing)
            }
        };
        op.delayed = op.delayed + op.delay.times(u64::from(commands));
        // A command that timed out never came back.
        let total = if op.timed_out { 0 } else { total };
        let in_store = op.round_trips[..usize::from(total)]
            .iter()
            .fold(SimDuration::ZERO, |sum, &rtt| sum + rtt);
        let respond = |op: &StoreOp, waited: SimDuration, extra: SimDuration| {
            Step::Respond(Response {
                service: op.service,
                store: in_store + op.delayed + waited,
                extra,
            })
        };
        if op.recreate {
            return respond(&op, SimDuration::ZERO, op.extra);
        }
        let ttl = self.per_request.ttl;
        let policy = &self.per_request.on_store_error;
        let state = &mut self.users[op.user.index()];
        let request = &mut state.request;
        // Judged when the store answered, not when the request started: a
        // command the client held for longer than the TTL finds the
        // session expired in the store, and the user's own clock agrees.
        request.answered_at = now;
        let (outcome, recreate) = decide(
            request.kind,
            reply.lookup,
            policy,
            state.me.last_access,
            ttl,
            now,
        );
        request.outcome = outcome;
        if let OnStoreError::FallbackAuth { reauth_latency } = policy
            && outcome == Outcome::Reauthenticated
        {
            // Drawn after the common draws, so it shifts no other number.
            let extra = reauth_latency.sample(&mut op.rng);
            if recreate {
                // The session was gone: the token re-creates one.
                self.last_session += 1;
                request.new_session = SessionId(self.last_session);
                let again = StoreOp {
                    kind: OpKind::Create,
                    session: request.new_session,
                    delay: SimDuration::ZERO,
                    extra,
                    recreate: true,
                    ..op
                };
                return self.through_link(now, again);
            }
            return respond(&op, reply.waited, extra);
        }
        respond(&op, reply.waited, SimDuration::ZERO)
    }

    /// The latency of `user`'s request if its response arrives at `now`,
    /// as the simulator measures it: from the intended send time.
    pub fn latency_at(&self, now: SimTime, user: UserId) -> SimDuration {
        now.since(self.users[user.index()].request.sent_at)
    }

    /// Step 4: the response reaches the user at `now` after `latency`; the
    /// user acts on the outcome.
    #[inline]
    pub fn complete(&mut self, now: SimTime, user: UserId, latency: SimDuration) -> Completion {
        let request = self.users[user.index()].request;
        let mut outcome = request.outcome;
        let mut next_worker = None;
        if request.server != NO_SERVER {
            if self.servers.epoch(request.server) != request.epoch {
                // The server crashed while handling it: connection reset.
                outcome = Outcome::Error(ErrorCause::ServerCrashed);
            } else {
                next_worker = self.servers.finish(request.server, request.epoch);
            }
        }
        self.recorder.record(request.kind, outcome, latency);
        match outcome {
            Outcome::Error(_) => self.tolls.error_at(now),
            Outcome::ForcedLogout | Outcome::Expired => {
                if let Some(mark) = self.take_lost_mark(user)
                    && mark.session == self.users[user.index()].me.session
                {
                    self.tolls.found_gone(mark, outcome == Outcome::Expired);
                }
            }
            _ => {}
        }
        let state = &mut self.users[user.index()];
        let (next, newly_affected) =
            state
                .me
                .apply(outcome, request.answered_at, request.new_session);
        if newly_affected {
            self.users_affected += 1;
        }
        let next_send = match next {
            NextStep::Think => {
                let think = think_time(
                    &self.scenario.workload,
                    self.scenario.seed,
                    user,
                    state.think_draws,
                );
                state.think_draws += 1;
                let at = now + think;
                // Requests that would start after the end are never sent.
                (at < self.end).then_some(at)
            }
            NextStep::LogInNow => Some(now),
        };
        Completion {
            next_worker,
            next_send,
        }
    }
}

mod held;
mod retry;
#[cfg(test)]
mod tests;

pub use held::Held;
