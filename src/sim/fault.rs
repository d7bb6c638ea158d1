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
use super::time::SimTime;
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
            FaultKind::RedisRestart {
                mode,
                downtime,
                shard,
            } => {
                self.store.select_shard(shard);
                // With replicas and an outage longer than Sentinel's
                // patience, a replica takes over instead of a restart.
                if let Some((down_after, failover_delay)) = self.store.failover_after()
                    && downtime > down_after
                {
                    self.fault_losses[index] = Some(0);
                    if !self.store.primary_lost(self.now) {
                        let detail =
                            format!("redis {} restart: redis was already down", mode.name());
                        self.record_event("redis_restart", detail, 0);
                        return;
                    }
                    let promote = self.now + down_after + failover_delay;
                    let detail = format!(
                        "redis primary lost ({}); Sentinel notices after {down_after} and promotes a replica at {promote}",
                        mode.name()
                    );
                    self.record_event("redis_down", detail, 0);
                    self.queue.push(
                        promote,
                        Event::RedisFailover {
                            fault: index as u32,
                        },
                    );
                    // The old primary restarts after its downtime and, the
                    // failover done, comes back as a replica.
                    let back = (self.now + downtime).max(promote + SimDuration::from_nanos(1));
                    self.queue.push(
                        back,
                        Event::RedisStart {
                            fault: index as u32,
                        },
                    );
                    return;
                }
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
                            "redis stopped ({}), persistence {}; {held} sessions lost{}",
                            mode.name(),
                            self.strategy.store.persistence_name(),
                            orphan_note(orphans)
                        );
                        self.record_event("redis_down", detail, held);
                        self.fault_losses[index] = Some(held);
                        self.queue.push(
                            self.now + downtime,
                            Event::RedisStart {
                                fault: index as u32,
                            },
                        );
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
            FaultKind::RollingDeploy { .. } => {
                self.deploy_boundary[index] = self.servers.len();
                self.fault_losses[index] = Some(0);
                let detail = format!(
                    "rolling deploy of {} servers begins, one at a time",
                    self.servers.in_service().len()
                );
                self.record_event("rolling_deploy", detail, 0);
                self.deploy_step(index);
            }
            FaultKind::BlueGreen { grace } => {
                // Green comes up as big as blue, then the balancer switches
                // every request, pinned or not, to green at once.
                let blue: Vec<ServerId> = self.servers.in_service().to_vec();
                for _ in &blue {
                    let server = self.servers.add_server();
                    self.store.server_added(server);
                }
                self.fault_losses[index] = Some(0);
                let detail = format!(
                    "green fleet of {} servers up; the balancer switches to it; blue stops after {grace}",
                    blue.len()
                );
                self.record_event("blue_green", detail, 0);
                // From the users' side blue is gone at the switch: nothing
                // routes to it any more, so its memory is as good as lost.
                for server in blue {
                    self.retire_server(server, index);
                }
            }
            FaultKind::RandomCrashes { mtbf, .. } => {
                self.fault_losses[index] = Some(0);
                let servers = self.servers.in_service().to_vec();
                let detail = format!(
                    "random crashes begin on {} servers (mean time between failures {mtbf})",
                    servers.len()
                );
                self.record_event("random_crashes", detail, 0);
                for server in servers {
                    self.schedule_random_crash(index, server, 0, self.now);
                }
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

    /// The next step of the rolling deploy `fault`: the lowest server still
    /// in service from before the deploy is drained (if asked) and
    /// replaced; the step after comes `pause` later.
    pub(crate) fn deploy_step(&mut self, fault: usize) {
        let FaultKind::RollingDeploy { pause, drain } = self.scenario.faults[fault].kind else {
            return;
        };
        let boundary = self.deploy_boundary[fault];
        let next = self
            .servers
            .in_service()
            .iter()
            .copied()
            .find(|s| s.0 < boundary);
        let Some(server) = next else {
            self.record_event(
                "rolling_deploy",
                "rolling deploy finished: every server replaced".into(),
                0,
            );
            return;
        };
        let drain = drain.unwrap_or(SimDuration::ZERO);
        if drain.is_zero() {
            self.replace_server(server, fault);
        } else {
            self.servers.start_draining(server);
            let detail = format!(
                "server {} draining for {drain} before its replacement",
                server.0
            );
            self.record_event("deploy_drain", detail, 0);
            self.queue.push(
                self.now + drain,
                Event::Replace {
                    server,
                    fault: fault as u32,
                },
            );
        }
        self.queue.push(
            self.now + drain + pause,
            Event::DeployStep {
                fault: fault as u32,
            },
        );
    }

    /// Stops `server` (its memory is lost) and starts a new, empty one.
    pub(crate) fn replace_server(&mut self, server: ServerId, fault: usize) {
        self.retire_server(server, fault);
        let new = self.servers.add_server();
        self.store.server_added(new);
        self.record_event(
            "server_added",
            format!("server {} replaces server {}, empty", new.0, server.0),
            0,
        );
    }

    /// Schedules the `draw`-th random crash of `server`, an exponential
    /// time (mean `mtbf`) after `from`, if before the fault's `until`.
    fn schedule_random_crash(&mut self, fault: usize, server: ServerId, draw: u32, from: SimTime) {
        let FaultKind::RandomCrashes { mtbf, until, .. } = self.scenario.faults[fault].kind else {
            return;
        };
        let at = from + random_crash_delay(self.scenario.seed, fault, server, draw, false, mtbf);
        if at < until {
            self.queue.push(
                at,
                Event::RandomCrash {
                    fault: fault as u32,
                    server,
                    draw,
                },
            );
        }
    }

    pub(crate) fn random_crash(&mut self, fault: usize, server: ServerId, draw: u32) {
        let FaultKind::RandomCrashes { mttr, .. } = self.scenario.faults[fault].kind else {
            return;
        };
        let Some(lost) = self.crash_server(server) else {
            // Already down for another reason: try again later.
            self.schedule_random_crash(fault, server, draw + 1, self.now);
            return;
        };
        *self.fault_losses[fault].get_or_insert(0) += lost;
        let back =
            self.now + random_crash_delay(self.scenario.seed, fault, server, draw, true, mttr);
        self.queue.push(
            back,
            Event::RandomRecover {
                fault: fault as u32,
                server,
                draw,
            },
        );
    }

    pub(crate) fn random_recover(&mut self, fault: usize, server: ServerId, draw: u32) {
        if !self.servers.is_running(server) {
            self.recover_server(server);
        }
        self.schedule_random_crash(fault, server, draw + 1, self.now);
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

    /// Sentinel promotes a replica: Redis answers again at once, without
    /// the writes that had not reached the replica.
    pub(crate) fn failover_redis(&mut self, fault: usize) {
        self.select_fault_shard(fault);
        let mut destroyed: Vec<(UserId, SessionId)> = Vec::new();
        if !self
            .store
            .failover(self.now, &mut |u, s| destroyed.push((u, s)))
        {
            return;
        }
        let (held, orphans) = self.split_lost(&destroyed);
        self.fault_losses[fault] = Some(held);
        let detail = format!(
            "replica promoted; {held} sessions lost (writes not yet replicated){}",
            orphan_note(orphans)
        );
        self.record_event("redis_failover", detail, held);
    }

    /// Aims the store's Redis calls at the shard fault `fault` names.
    fn select_fault_shard(&mut self, fault: usize) {
        if let FaultKind::RedisRestart { shard, .. } = self.scenario.faults[fault].kind {
            self.store.select_shard(shard);
        }
    }

    pub(crate) fn start_redis(&mut self, fault: usize) {
        self.select_fault_shard(fault);
        if self.store.replica_rejoined() {
            let detail = "the old primary is back, as a replica of the new one".to_string();
            self.record_event("redis_replica_back", detail, 0);
            return;
        }
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

fn orphan_note(orphans: u64) -> String {
    if orphans == 0 {
        String::new()
    } else {
        format!(" (+{orphans} orphaned sessions no user holds)")
    }
}
