//! Faults: their exact effect on one strategy's world.
//!
//! - `server_crash`: the server stops at once. Requests waiting for one of
//!   its workers fail now; requests it was running fail when they would have
//!   completed (their connection is reset). Its session memory is gone. The
//!   balancer knows immediately (no health-check delay) and stops routing to
//!   it. After `recover_after` it comes back as a new, empty process.
//! - `redis_restart`: Redis stops; what it keeps is decided by the store's
//!   persistence policy and the mode (see `sim::store::redis`). Store
//!   operations fail until it is back after `downtime` and has loaded its
//!   data. Strategies without Redis are untouched.
//!
//! Each fault records how many *held* sessions it destroyed (sessions a user
//! still carries in its cookie, so each one means a user logged out on its
//! next request), and mentions orphaned ones (left behind on a server by a
//! user who already moved on) in the detail.

use rand::Rng;

use super::config::{FaultKind, ServerChoice};
use super::engine::{Event, Simulation};
use super::request::ErrorCause;
use super::rng::{Purpose, stream};
use super::servers::Membership;
use super::store::Stop;
use super::time::SimDuration;
use super::{ServerId, SessionId, UserId};

impl Simulation<'_> {
    pub(crate) fn apply_fault(&mut self, index: usize) {
        match self.scenario.faults[index].kind {
            FaultKind::ServerCrash {
                server,
                recover_after,
            } => {
                let target = target_server(self.scenario.seed, index, server, self.servers.len());
                let lost = self.crash_server(target);
                self.fault_losses[index] = Some(lost.unwrap_or(0));
                // Only a crash that happened schedules a recovery: a second
                // crash of a server that is already down changes nothing.
                if lost.is_some() {
                    self.queue
                        .push(self.now + recover_after, Event::ServerRecover(target));
                }
            }
            FaultKind::RedisRestart { mode, downtime } => {
                let mut destroyed: Vec<(UserId, SessionId)> = Vec::new();
                let stop = self
                    .store
                    .redis_stopped(self.now, mode, &mut |u, s| destroyed.push((u, s)));
                match stop {
                    Stop::NoRedis => {
                        let detail = format!(
                            "redis {} restart: no effect, sessions are not in Redis",
                            mode.name()
                        );
                        self.record_event("redis_restart", detail, 0);
                        self.fault_losses[index] = Some(0);
                    }
                    Stop::AlreadyDown => {
                        // Overlapping restarts: the first one's restart time
                        // stands; this one changes nothing.
                        let detail =
                            format!("redis {} restart: redis was already down", mode.name());
                        self.record_event("redis_restart", detail, 0);
                        self.fault_losses[index] = Some(0);
                    }
                    Stop::Stopped => {
                        let (held, orphans) = self.split_lost(&destroyed);
                        let detail = format!(
                            "redis stopped ({}) with {}; {held} sessions lost{}",
                            mode.name(),
                            self.strategy.store.describe(),
                            orphan_note(orphans)
                        );
                        self.record_event("redis_down", detail, held);
                        self.fault_losses[index] = Some(held);
                        self.queue.push(self.now + downtime, Event::RedisStart);
                    }
                }
            }
            FaultKind::RedisPartition { duration } => {
                let until = self.now + duration;
                let detail = if self.store.redis_partitioned(self.now, until) {
                    format!(
                        "app servers cut off from Redis for {duration}; Redis itself keeps everything"
                    )
                } else {
                    "redis partition: no effect, sessions are not in Redis".to_string()
                };
                self.record_event("redis_partition", detail, 0);
                self.fault_losses[index] = Some(0);
            }
            FaultKind::ScaleOut { add } => {
                let mut added = Vec::with_capacity(add as usize);
                for _ in 0..add {
                    let server = self.servers.add_server();
                    self.store.server_added(server);
                    added.push(server.0.to_string());
                }
                let detail = format!(
                    "servers {} added, empty ({} in service)",
                    added.join(", "),
                    self.servers.in_service().len()
                );
                self.record_event("scale_out", detail, 0);
                self.fault_losses[index] = Some(0);
            }
            FaultKind::ScaleIn { remove, drain } => {
                // The newest servers go first (as most autoscalers choose),
                // and at least one server always stays.
                let in_service = self.servers.in_service();
                let count = (remove as usize).min(in_service.len().saturating_sub(1));
                let leaving: Vec<ServerId> = in_service.iter().rev().take(count).copied().collect();
                let names: Vec<String> = leaving.iter().map(|s| s.0.to_string()).collect();
                self.fault_losses[index] = Some(0);
                match drain.filter(|d| !d.is_zero()) {
                    Some(drain) => {
                        for &server in &leaving {
                            self.servers.start_draining(server);
                            let retire = Event::Retire {
                                server,
                                fault: index as u32,
                            };
                            self.queue.push(self.now + drain, retire);
                        }
                        let detail = format!(
                            "servers {} draining for {drain}: pinned users still go there, new ones do not",
                            names.join(", ")
                        );
                        self.record_event("scale_in", detail, 0);
                    }
                    None => {
                        let detail = format!("servers {} removed at once", names.join(", "));
                        self.record_event("scale_in", detail, 0);
                        for server in leaving {
                            self.retire_server(server, index);
                        }
                    }
                }
            }
        }
    }

    /// Crashes `server`; returns the held sessions it destroyed, or `None`
    /// if it was already down.
    fn crash_server(&mut self, server: ServerId) -> Option<u64> {
        if !self.servers.is_up(server) {
            let detail = format!("server {} was already down", server.0);
            self.record_event("server_crash", detail, 0);
            return None;
        }
        for waiting in self.servers.crash(server) {
            self.fail_now(waiting, ErrorCause::ServerCrashed);
        }
        let mut destroyed: Vec<(UserId, SessionId)> = Vec::new();
        self.store
            .server_memory_lost(self.now, server, &mut |u, s| destroyed.push((u, s)));
        let (held, orphans) = self.split_lost(&destroyed);
        let detail = format!(
            "server {} crashed; {held} sessions lost{}",
            server.0,
            orphan_note(orphans)
        );
        self.record_event("server_crash", detail, held);
        Some(held)
    }

    /// Removes `server` from the farm for a scale-in fault; the sessions in
    /// its memory are lost and counted against that fault.
    pub(crate) fn retire_server(&mut self, server: ServerId, fault: usize) {
        if self.servers.membership(server) == Membership::Retired {
            return;
        }
        self.servers.retire(server);
        let mut destroyed: Vec<(UserId, SessionId)> = Vec::new();
        self.store
            .server_memory_lost(self.now, server, &mut |u, s| destroyed.push((u, s)));
        let (held, orphans) = self.split_lost(&destroyed);
        *self.fault_losses[fault].get_or_insert(0) += held;
        let detail = format!(
            "server {} left the farm; {held} sessions lost{}",
            server.0,
            orphan_note(orphans)
        );
        self.record_event("server_retired", detail, held);
    }

    /// A round of health checks; records what the balancer detects.
    pub(crate) fn health_checks(&mut self) {
        for detection in self.servers.run_health_checks() {
            let (event, detail) = if detection.up {
                (
                    "server_marked_up",
                    format!(
                        "health checks pass again: server {} back in rotation",
                        detection.server.0
                    ),
                )
            } else {
                (
                    "server_marked_down",
                    format!(
                        "health checks fail: server {} taken out of rotation",
                        detection.server.0
                    ),
                )
            };
            self.record_event(event, detail, 0);
        }
    }

    pub(crate) fn recover_server(&mut self, server: ServerId) {
        self.servers.recover(server);
        self.record_event(
            "server_recovered",
            format!("server {} back, empty", server.0),
            0,
        );
    }

    pub(crate) fn start_redis(&mut self) {
        if let Some(ready) = self.store.redis_started(self.now) {
            let detail = if ready.since(self.now) >= SimDuration::from_millis(1) {
                format!("redis started; answers LOADING until {ready}")
            } else {
                "redis started".to_string()
            };
            self.record_event("redis_up", detail, 0);
        }
    }
}

/// The server a `server_crash` fault hits. A random choice is drawn from
/// the fault's own stream, so every strategy (and the live driver) loses the
/// same server.
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

fn orphan_note(orphans: u64) -> String {
    if orphans == 0 {
        String::new()
    } else {
        format!(" (+{orphans} orphaned sessions no user holds)")
    }
}
