//! One virtual user of a live run: the same lifecycle as `sim::engine`,
//! with a real Redis answering.

use super::*;

/// One virtual user: the same lifecycle as `sim::engine`, with a real store.
pub(super) struct UserTask {
    pub(super) scenario: ScenarioRc,
    /// Index of the strategy this user belongs to.
    pub(super) strategy: usize,
    pub(super) user: UserId,
    pub(super) arrival: SimTime,
    pub(super) clock: LiveClock,
    pub(super) store: Rc<SpringSessionStore>,
    pub(super) shared: SharedState,
}

impl UserTask {
    pub(super) async fn run(self) {
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
