//! Faults: the plan of what happens when, and its exact effect on one
//! strategy's world. Written once; the simulator and live mode both carry
//! out the same typed [`FaultAction`]s.
//!
//! Each kind of fault (`kind`) becomes a first action at its time
//! ([`plan`]); carrying an action out may schedule follow-ups (a
//! recovery, the next deploy step). Actions on the farm are carried out by
//! the [`World`](super::world::World) itself (`farm`); actions on the
//! store's own server are handed to the driver as a
//! [`StoreFault`](super::store::StoreFault), which the simulator applies
//! to its model and live mode to real redis-server processes, and the
//! driver reports back what happened (`store`). Every kind is put in words
//! in one place (`words`).
//!
//! - `server_crash`: the server stops at once. Requests waiting for one of
//!   its workers fail now; requests it was running fail when they would
//!   have completed (their connection is reset). Its session memory is
//!   gone. The balancer knows immediately (no health-check delay) unless
//!   health checks are configured. After `recover_after` it comes back as
//!   a new, empty process. A crash of a server that is already down
//!   changes nothing and schedules no recovery.
//! - `redis_restart`: Redis stops; what it keeps is decided by the store's
//!   persistence policy and the mode (see `sim::store::redis`). Store
//!   operations fail until it is back after `downtime` and has loaded its
//!   data. With replicas and a `downtime` longer than the failover's
//!   `down_after`, a replica is promoted instead at `down_after +
//!   failover_delay`, losing the writes it had not received, and the old
//!   primary rejoins as a replica after its downtime. Strategies without
//!   Redis are untouched.
//! - `redis_partition`: the app servers cannot reach Redis for `duration`
//!   (the store link drops every operation, `sim::link`); Redis keeps
//!   everything.
//! - `redis_slow`: for `duration`, every store operation takes `latency`
//!   longer (the store link delays it, `sim::link`); nothing is lost. Real
//!   causes: the fork of a `BGSAVE` or AOF rewrite on a large dataset,
//!   which stops Redis's main thread for tens of milliseconds per gigabyte
//!   on a VM (the Redis documentation's "Diagnosing latency issues"), a
//!   noisy neighbour, a saturated network.
//! - `rolling_deploy`: the servers in service when it begins are replaced
//!   one at a time, lowest id first: drained for `drain` if given (only
//!   pinned users still go there), then retired with their memory and
//!   replaced by a new, empty server; the next step comes `pause` later.
//! - `blue_green`: a new fleet as big as the one in service comes up and
//!   the balancer sends everything to it at once; the old fleet is retired
//!   at the switch (its memory is as good as lost to users).
//! - `random_crashes`: every server in service crashes at exponential
//!   times (mean `mtbf`) and recovers after an exponential time (mean
//!   `mttr`), until `until`; the times come from the fault's own stream,
//!   the same for every strategy.
//! - `scale_out`: `add` new, empty servers join the farm.
//! - `scale_in`: the `remove` newest servers in service leave (at least
//!   one stays), at once or after `drain`, with their memory.
//!
//! Each fault records how many *held* sessions it destroyed (sessions a
//! user still carries in its cookie, so each one means a user logged out on
//! its next request), and mentions orphaned ones (left behind on a server
//! by a user who already moved on) in the event's detail.

mod farm;
pub mod kind;
mod store;
pub mod words;

pub use store::Losses;

use rand::Rng;

use super::config::{Fault, FaultKind, ServerChoice, Strategy};
use super::rng::{Purpose, stream};
use super::store::LostSessions;
use super::time::{SimDuration, SimTime};
use super::{ServerId, UserId};

/// One step of a fault, at its time. Small and `Copy`, so the simulator's
/// event queue holds it directly. `fault` is the fault's index in the
/// scenario (file order), where its parameters are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    // Actions on the farm, carried out by the world itself.
    /// A `server_crash` strikes its server.
    CrashServer { fault: u32 },
    /// A crashed server runs again, empty.
    RecoverServer { server: ServerId },
    /// A `rolling_deploy` begins.
    BeginRollingDeploy { fault: u32 },
    /// The deploy replaces its next server.
    DeployStep { fault: u32 },
    /// The deploy stops a (drained) server and starts its replacement.
    ReplaceServer { fault: u32, server: ServerId },
    /// A `blue_green` deploy switches to the new fleet.
    SwitchToGreen { fault: u32 },
    /// `random_crashes` begin.
    BeginRandomCrashes { fault: u32 },
    /// The `draw`-th random crash of `server`.
    RandomCrash {
        fault: u32,
        server: ServerId,
        draw: u32,
    },
    /// The recovery that follows it.
    RandomRecover {
        fault: u32,
        server: ServerId,
        draw: u32,
    },
    /// A `scale_out` adds servers.
    ScaleOut { fault: u32 },
    /// A `scale_in` removes (or starts draining) servers.
    ScaleIn { fault: u32 },
    /// A drained server leaves the farm.
    RetireServer { fault: u32, server: ServerId },
    /// A `redis_partition` cuts the store link.
    CutStoreLink { fault: u32 },
    /// A `redis_slow` slows the store link down.
    SlowStoreLink { fault: u32 },
    // Actions on the store's own server, carried out by the driver.
    /// A `redis_restart` stops Redis.
    StopStore { fault: u32 },
    /// A `redis_restart` kills a primary that a replica will replace.
    LosePrimary { fault: u32 },
    /// The replica is promoted.
    Promote { fault: u32 },
    /// The stopped Redis process runs again: it loads what it kept, or,
    /// with `rejoin` (a replica replaced it), comes back as a replica.
    StartStore { fault: u32, rejoin: bool },
}

/// Something a driver must do later, as an action asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Complete this user's request now (it failed: its server crashed
    /// while it waited for a worker).
    Complete(UserId),
    /// Carry out this fault action.
    Fault(FaultAction),
    /// Start the health checks of a server that joined the farm.
    HealthCheck(ServerId),
}

/// Timers an action schedules, in the order it scheduled them (drivers
/// keep that order, which is what makes equal times deterministic).
pub type Wakes = Vec<(SimTime, Wake)>;

/// The part of a session store that app-server faults reach: each app
/// server's own memory. The simulator's model store keeps sessions there
/// for `store = "local"`; live mode's stores keep none there (sessions are
/// in Redis), so for it a crash of an app server loses no session.
pub trait ServerMemory {
    /// `server` crashed or left: what it held in memory is gone. `lost`
    /// hears of the live sessions users hold; returns how many orphans
    /// (sessions no user can present any more) went with them uncounted
    /// by `lost`.
    fn memory_lost(&mut self, now: SimTime, server: ServerId, lost: LostSessions<'_>) -> u64;
    /// A new, empty server joined.
    fn server_added(&mut self, server: ServerId);
}

/// App servers that keep no sessions in memory (live mode).
pub struct NoServerMemory;

impl ServerMemory for NoServerMemory {
    fn memory_lost(&mut self, _: SimTime, _: ServerId, _: LostSessions<'_>) -> u64 {
        0
    }
    fn server_added(&mut self, _: ServerId) {}
}

/// The fault plan of one strategy: each scenario fault's first action at
/// its time, in file order. Follow-ups come from carrying actions out.
pub fn plan(faults: &[Fault], strategy: &Strategy) -> Vec<(SimTime, FaultAction)> {
    faults
        .iter()
        .enumerate()
        .map(|(index, fault)| (fault.at, first_action(index, fault, strategy)))
        .collect()
}

/// What fault number `index` does first, for this strategy.
fn first_action(index: usize, fault: &Fault, strategy: &Strategy) -> FaultAction {
    let fault_index = index as u32;
    match fault.kind {
        FaultKind::ServerCrash { .. } => FaultAction::CrashServer { fault: fault_index },
        // With replicas and an outage longer than the failover's patience,
        // a replica takes over instead of a restart.
        FaultKind::RedisRestart { downtime, .. } => match strategy.store.failover_timing() {
            Some((down_after, _)) if downtime > down_after => {
                FaultAction::LosePrimary { fault: fault_index }
            }
            _ => FaultAction::StopStore { fault: fault_index },
        },
        FaultKind::RedisPartition { .. } => FaultAction::CutStoreLink { fault: fault_index },
        FaultKind::RedisSlow { .. } => FaultAction::SlowStoreLink { fault: fault_index },
        FaultKind::RollingDeploy { .. } => FaultAction::BeginRollingDeploy { fault: fault_index },
        FaultKind::BlueGreen { .. } => FaultAction::SwitchToGreen { fault: fault_index },
        FaultKind::RandomCrashes { .. } => FaultAction::BeginRandomCrashes { fault: fault_index },
        FaultKind::ScaleOut { .. } => FaultAction::ScaleOut { fault: fault_index },
        FaultKind::ScaleIn { .. } => FaultAction::ScaleIn { fault: fault_index },
    }
}

/// The server a `server_crash` fault hits. A random choice is drawn from
/// the fault's own stream over the servers the farm has had so far, so
/// every strategy (and the live driver) loses the same server.
pub fn target_server(
    seed: u64,
    fault_index: usize,
    choice: ServerChoice,
    servers: u32,
) -> ServerId {
    match choice {
        ServerChoice::Index(i) => ServerId(i),
        ServerChoice::Random => {
            let mut rng = stream(seed, Purpose::Fault, fault_index as u64, 0);
            ServerId(rng.random_range(0..servers))
        }
    }
}

/// For a `random_crashes` fault: the time to the `draw`-th crash of
/// `server` (or, with `recovery`, from that crash to its recovery), drawn
/// exponentially with mean `mean` from the fault's own stream, so every
/// strategy (and the live driver) sees the same crashes.
pub fn random_crash_delay(
    seed: u64,
    fault: usize,
    server: ServerId,
    draw: u32,
    recovery: bool,
    mean: SimDuration,
) -> SimDuration {
    let index = (u64::from(server.0) << 32) | (u64::from(draw) << 1) | u64::from(recovery);
    let u: f64 = stream(seed, Purpose::Fault, fault as u64, index).random();
    SimDuration::from_nanos_f64(-(1.0 - u).ln() * mean.as_nanos() as f64)
}

#[cfg(test)]
mod tests;
