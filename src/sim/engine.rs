//! The simulator: the driver that runs one strategy's [`World`] in
//! simulated time, answering its store operations from the model store.
//!
//! A single-threaded `while let Some(event) = queue.pop()` over a small
//! `Copy` event enum. Parallelism happens across strategies, never inside
//! a run, so a run is a pure function of the scenario, the strategy and the
//! seed. The run can be stepped ([`Simulation::step`],
//! [`Simulation::run_until`]) so tests can jump time and look at the
//! servers and the store between events.

use std::sync::Arc;

use super::config::Scenario;
use super::fault::{self, FaultAction, ServerMemory, Wake, Wakes};
use super::lifecycle::{Held, OpKind, Sent, Step};
use super::metrics::StrategyResult;
use super::queue::EventQueue;
use super::store::{FaultReply, LostSessions, SessionStore, Store, StoreFault, Sweeps};
use super::time::SimTime;
use super::workload::arrival_of;
use super::world::World;
use super::{ServerId, SessionId, UserId};

/// Something scheduled to happen. Small and `Copy`, so the queue moves
/// 8-byte values (16 with the time) and never allocates per event.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event {
    /// A user's first visit; also schedules the next user's arrival.
    Arrive(UserId),
    /// A user sends its next request (a login if it has no session).
    Send(UserId),
    /// A user's request finishes.
    Complete(UserId),
    /// A user's request tries to connect again (or gives up).
    Retry(UserId),
    /// A step of a fault, parked in [`Parked`] (a fault action is 16
    /// bytes; the queue holds a million other events that need 4).
    Fault(ParkedId),
    /// Store background work (fsync, snapshot checks).
    StoreTick,
    /// The balancer checks a server's health.
    HealthCheck(ServerId),
    /// The client's hold on a user's store operation ends: the cut link
    /// delivers it, or its command times out.
    ClientTimer(UserId),
    /// The client tries to reconnect to the store.
    Reconnect,
    /// Close a row of the time series.
    Report,
}

/// The number of a fault action waiting in the queue.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ParkedId(u32);

/// Fault actions waiting in the queue, by number; a number is reused once
/// its action has run, so this holds only the actions pending.
#[derive(Default)]
struct Parked {
    actions: Vec<FaultAction>,
    free: Vec<u32>,
}

impl Parked {
    fn park(&mut self, action: FaultAction) -> ParkedId {
        match self.free.pop() {
            Some(i) => {
                self.actions[i as usize] = action;
                ParkedId(i)
            }
            None => {
                self.actions.push(action);
                ParkedId(self.actions.len() as u32 - 1)
            }
        }
    }

    fn take(&mut self, id: ParkedId) -> FaultAction {
        self.free.push(id.0);
        self.actions[id.0 as usize]
    }
}

/// One strategy's run: the world, the model store and the event queue.
pub struct Simulation {
    world: World,
    store: Store,
    now: SimTime,
    queue: EventQueue<Event>,
    /// The fault actions the queue's `Fault` events name.
    parked: Parked,
    /// Timers fault actions ask for, reused between actions.
    wakes: Wakes,
    /// Store operations the client holds, in the order it took them (at
    /// most one per user; each holds its worker).
    held: Vec<Held>,
    /// The reconnect attempt scheduled, if any.
    reconnect_at: Option<SimTime>,
    events_processed: u64,
}

/// When the client's hold on an operation ends by itself: the link's
/// delivery, or the command timeout, whichever comes first.
fn hold_ends(held: &Held) -> SimTime {
    held.until.map_or(held.deadline, |u| u.min(held.deadline))
}

/// Runs strategy number `strategy` of a scenario to the end and returns
/// what it measured.
pub fn run(scenario: &Arc<Scenario>, strategy: usize) -> StrategyResult {
    run_with_progress(scenario, strategy, &|_| {})
}

/// How many events ahead the engine fetches a user's memory: far enough
/// for the fetch to arrive (a miss takes about as long as a few events'
/// work), near enough that it is still in the cache when used.
const PREFETCH_AHEAD: usize = 8;

/// How many events pass between two progress reports.
const PROGRESS_EVERY: u64 = 1 << 16;

/// Like [`run`], calling `progress` with the simulated time reached every
/// 65,536 events and once at the end. The callback only observes: the run
/// is the same with or without it.
pub fn run_with_progress(
    scenario: &Arc<Scenario>,
    strategy: usize,
    progress: &(dyn Fn(SimTime) + Sync),
) -> StrategyResult {
    let mut sim = Simulation::new(scenario.clone(), strategy);
    let end = sim.world.end();
    while let Some(at) = sim.step() {
        if sim.events_processed.is_multiple_of(PROGRESS_EVERY) {
            progress(at);
        }
    }
    progress(end);
    sim.finish()
}

/// The model store as the app servers' memory: app-server faults reach it
/// through here.
struct Memory<'a>(&'a mut Store);

impl ServerMemory for Memory<'_> {
    fn memory_lost(&mut self, now: SimTime, server: ServerId, lost: LostSessions<'_>) -> u64 {
        match self
            .0
            .fault(now, StoreFault::ServerMemoryLost(server), lost)
        {
            FaultReply::Orphans(orphans) => orphans,
            _ => 0,
        }
    }

    fn server_added(&mut self, server: ServerId) {
        self.0.fault(
            SimTime::ZERO,
            StoreFault::ServerAdded(server),
            &mut |_, _| {},
        );
    }
}

impl Simulation {
    /// A fresh run of strategy number `strategy`, with its first events
    /// scheduled and nothing processed yet.
    pub fn new(scenario: Arc<Scenario>, strategy: usize) -> Self {
        let spec = &scenario.strategies[strategy];
        let store = spec.store.build(
            scenario.session.ttl,
            scenario.servers.count,
            scenario.workload.users,
            scenario.seed,
            Sweeps {
                every: scenario.report_interval,
                end: SimTime::ZERO + scenario.duration,
            },
        );
        let users = scenario.workload.users as usize;
        let plan = fault::plan(&scenario.faults, spec);
        let world = World::new(scenario.clone(), strategy, scenario.servers.workers);
        let mut sim = Simulation {
            world,
            store,
            now: SimTime::ZERO,
            queue: EventQueue::with_capacity(users + 16),
            parked: Parked::default(),
            wakes: Vec::new(),
            held: Vec::new(),
            reconnect_at: None,
            events_processed: 0,
        };
        let first = arrival_of(&scenario.workload, scenario.seed, 0, SimTime::ZERO);
        sim.queue.push(first, Event::Arrive(UserId(0)));
        for (at, action) in plan {
            let id = sim.parked.park(action);
            sim.queue.push(at, Event::Fault(id));
        }
        sim.queue
            .push(SimTime::ZERO + scenario.report_interval, Event::Report);
        if let Some(interval) = sim.store.tick_interval() {
            sim.queue.push(SimTime::ZERO + interval, Event::StoreTick);
        }
        for (at, server) in sim.world.first_checks() {
            sim.queue.push(at, Event::HealthCheck(server));
        }
        sim
    }

    /// The simulated time of the last event processed.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The world: servers, users, events, what was measured so far.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The model store.
    pub fn store(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Processes the next event before the end of the run and returns its
    /// time; `None` when none is left (the run is over).
    pub fn step(&mut self) -> Option<SimTime> {
        let (at, event) = self.queue.pop()?;
        if at >= self.world.end() {
            return None;
        }
        if let Some(&upcoming) = self.queue.ahead(PREFETCH_AHEAD) {
            self.prefetch(upcoming);
        }
        debug_assert!(at >= self.now, "time went backwards");
        self.now = at;
        self.events_processed += 1;
        self.handle(event);
        Some(at)
    }

    /// Processes every event before `t` (and before the end of the run).
    pub fn run_until(&mut self, t: SimTime) {
        while self.queue.peek_time().is_some_and(|at| at < t) {
            if self.step().is_none() {
                break;
            }
        }
    }

    /// Processes every event left, closes the last interval (so the time
    /// series adds up exactly to the totals) and returns the result.
    pub fn finish(mut self) -> StrategyResult {
        while self.step().is_some() {}
        let end = self.world.end();
        self.now = end;
        let active = self.store.sweep_expired(end);
        self.world.close_interval(end, active);
        let spec = self.world.strategy();
        let (name, detail) = (spec.name.clone(), spec.store.describe());
        let mut result = self.world.into_result(name, detail, false);
        result.events_processed = self.events_processed;
        result
    }

    /// Starts fetching the memory `event` will touch: its user's record and
    /// the store's entry for it (`sim::cache`).
    #[inline]
    fn prefetch(&self, event: Event) {
        if let Event::Send(user) | Event::Complete(user) | Event::Arrive(user) = event {
            self.world.prefetch_user(user);
            self.store.prefetch(user);
        }
    }

    fn handle(&mut self, event: Event) {
        let now = self.now;
        match event {
            Event::Arrive(user) => {
                self.world.arrive(user);
                let next = user.0 + 1;
                let scenario = self.world.scenario();
                if next < scenario.workload.users {
                    let at = arrival_of(&scenario.workload, scenario.seed, next, now);
                    self.queue.push(at, Event::Arrive(UserId(next)));
                }
                self.send(user);
            }
            Event::Send(user) => self.send(user),
            Event::Complete(user) => {
                let latency = self.world.latency_at(now, user);
                let completion = self.world.complete(now, user, latency);
                if let Some(next) = completion.next_worker {
                    let step = self.world.start(now, next);
                    self.run_request(next, step);
                }
                if let Some(at) = completion.next_send {
                    self.queue.push(at, Event::Send(user));
                }
            }
            Event::Fault(id) => {
                let action = self.parked.take(id);
                self.fault(action);
            }
            Event::StoreTick => {
                self.store.tick(now);
                if let Some(interval) = self.store.tick_interval() {
                    self.queue.push(now + interval, Event::StoreTick);
                }
            }
            Event::HealthCheck(server) => {
                if let Some(next) = self.world.health_check(now, server) {
                    self.queue.push(next, Event::HealthCheck(server));
                }
            }
            Event::Retry(user) => {
                let sent = self.world.resume(now, user);
                self.after_send(user, sent);
            }
            Event::ClientTimer(user) => self.client_timer(user),
            Event::Reconnect => self.reconnect(),
            Event::Report => {
                let active = self.store.sweep_expired(now);
                self.world.close_interval(now, active);
                let interval = self.world.scenario().report_interval;
                self.queue.push(now + interval, Event::Report);
            }
        }
    }

    /// A user sends a request: the lifecycle routes it, and a request that
    /// fails before a worker takes it completes at once.
    fn send(&mut self, user: UserId) {
        let sent = self.world.send(self.now, user);
        self.after_send(user, sent);
    }

    fn after_send(&mut self, user: UserId, sent: Sent) {
        match sent {
            Sent::Failed => self.queue.push(self.now, Event::Complete(user)),
            Sent::Queued => {}
            Sent::Started(step) => self.run_request(user, step),
            Sent::Later(at) => self.queue.push(at, Event::Retry(user)),
        }
    }

    /// Answers a started request's store operations from the model, at
    /// once, and schedules its response.
    fn run_request(&mut self, user: UserId, mut step: Step) {
        let now = self.now;
        loop {
            match step {
                Step::Store(op) => {
                    let reply = match op.kind {
                        OpKind::Create => self.store.create(now, op.server, op.session, op.user),
                        OpKind::Access => self.store.access(now, op.server, op.session, op.user),
                    };
                    step = self.world.answered(now, op, reply);
                }
                Step::Wait(held) => {
                    let timer = hold_ends(&held);
                    self.queue.push(timer, Event::ClientTimer(user));
                    self.held.push(*held);
                    self.schedule_reconnect();
                    return;
                }
                Step::Respond(response) => {
                    self.queue
                        .push(now + response.total(), Event::Complete(user));
                    return;
                }
            }
        }
    }

    /// A user's held operation reaches its timer: it goes out if the link
    /// delivers it before its deadline, else its command times out. A
    /// timer of an operation that went out meanwhile finds nothing.
    fn client_timer(&mut self, user: UserId) {
        let now = self.now;
        let Some(i) = self
            .held
            .iter()
            .position(|h| h.op.user == user && hold_ends(h) == now)
        else {
            return;
        };
        let held = self.held.remove(i);
        let step = if held.until.is_some_and(|u| u < held.deadline) {
            self.world.retry(now, held.op)
        } else {
            self.world.timed_out(now, held.op)
        };
        self.run_request(user, step);
    }

    /// Schedules the client's next reconnect attempt, if one is due and
    /// not scheduled yet.
    fn schedule_reconnect(&mut self) {
        if let Some(at) = self.world.reconnect_due()
            && self.reconnect_at != Some(at)
        {
            self.reconnect_at = Some(at);
            self.queue.push(at, Event::Reconnect);
        }
    }

    /// A reconnect attempt: the model store says whether it would accept
    /// the connection; once connected, the operations held for it go out
    /// in the order they were held.
    fn reconnect(&mut self) {
        let now = self.now;
        if self.world.reconnect_due() != Some(now) {
            return;
        }
        self.reconnect_at = None;
        let accepted = self.store.accepts_connections(now);
        self.world.reconnect_attempted(now, accepted);
        if accepted {
            let (ready, still): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
                .into_iter()
                .partition(|h| h.until.is_none());
            self.held = still;
            for held in ready {
                let user = held.op.user;
                let step = self.world.retry(now, held.op);
                self.run_request(user, step);
            }
        }
        self.schedule_reconnect();
    }

    /// Carries out a fault action: the world does the farm's part; a store
    /// action goes to the model store, whose answer goes back to the world.
    fn fault(&mut self, action: FaultAction) {
        let now = self.now;
        let mut wakes = std::mem::take(&mut self.wakes);
        let store_fault = self
            .world
            .fault(now, action, &mut Memory(&mut self.store), &mut wakes);
        if let Some(store_fault) = store_fault {
            let mut lost: Vec<(UserId, SessionId)> = Vec::new();
            let reply = self
                .store
                .fault(now, store_fault, &mut |u, s| lost.push((u, s)));
            let losses = fault::Losses::Known(&lost);
            self.world
                .store_fault_done(now, action, reply, losses, &mut wakes);
        }
        // A store fault may have cut the client's connection.
        self.schedule_reconnect();
        for (at, wake) in wakes.drain(..) {
            let event = match wake {
                Wake::Complete(user) => Event::Complete(user),
                Wake::Fault(action) => Event::Fault(self.parked.park(action)),
                Wake::HealthCheck(server) => Event::HealthCheck(server),
            };
            self.queue.push(at, event);
        }
        self.wakes = wakes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_record_stays_small() {
        // Touched at random on every request of a million users: every
        // byte is cache traffic (issue 11).
        let size = std::mem::size_of::<crate::sim::world::User>();
        assert!(size <= 80, "{size}");
    }

    #[test]
    fn events_stay_small() {
        // The queue moves events by value: keep them at 8 bytes.
        assert!(
            std::mem::size_of::<Event>() <= 8,
            "{}",
            std::mem::size_of::<Event>()
        );
    }
}
