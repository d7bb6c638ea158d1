//! Carrying out fault actions on the farm: crashes, recoveries, deploys,
//! scaling. The semantics are those listed in the module docs of
//! `sim::fault`; here is the code that has them, shared by both drivers.

use super::{FaultAction, ServerMemory, Wake, Wakes, random_crash_delay, target_server};
use crate::sim::config::FaultKind;
use crate::sim::events::{EventKind, StoreFaultKind};
use crate::sim::request::ErrorCause;
use crate::sim::servers::Membership;
use crate::sim::store::StoreFault;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::world::World;
use crate::sim::{ServerId, SessionId, UserId};

impl World {
    /// Carries out `action` at `now`. Actions on the farm are done here,
    /// with `memory` hearing of the app servers' memory lost and added;
    /// timers they set go to `wakes`, in order. An action on the store's
    /// own server is returned instead, for the driver to carry out and then
    /// report with [`World::store_fault_done`].
    pub fn fault(
        &mut self,
        now: SimTime,
        action: FaultAction,
        memory: &mut dyn ServerMemory,
        wakes: &mut Wakes,
    ) -> Option<StoreFault> {
        match action {
            FaultAction::CrashServer { fault } => {
                self.crash_fault(now, fault as usize, memory, wakes)
            }
            // A server that runs already (another fault's recovery came
            // first) is left alone.
            FaultAction::RecoverServer { server } => {
                if !self.servers.is_running(server) {
                    self.recover_server(now, server);
                }
            }
            FaultAction::BeginRollingDeploy { fault } => {
                let fault = fault as usize;
                self.deploy_boundary[fault] = self.servers.len();
                self.fault_losses[fault] = Some(0);
                let servers = self.servers.in_service().len() as u32;
                self.record(now, EventKind::DeployBegins { servers }, 0);
                self.deploy_step(now, fault, memory, wakes);
            }
            FaultAction::DeployStep { fault } => {
                self.deploy_step(now, fault as usize, memory, wakes)
            }
            FaultAction::ReplaceServer { fault, server } => {
                self.replace_server(now, server, fault as usize, memory, wakes)
            }
            FaultAction::SwitchToGreen { fault } => {
                let fault = fault as usize;
                let FaultKind::BlueGreen { grace } = self.scenario.faults[fault].kind else {
                    unreachable!("the plan sends SwitchToGreen for blue_green faults only");
                };
                // Green comes up as big as blue, then the balancer switches
                // every request, pinned or not, to green at once.
                let blue: Vec<ServerId> = self.servers.in_service().to_vec();
                for _ in &blue {
                    self.add_server(now, memory, wakes);
                }
                self.fault_losses[fault] = Some(0);
                let servers = blue.len() as u32;
                self.record(now, EventKind::BlueGreen { servers, grace }, 0);
                // From the users' side blue is gone at the switch: nothing
                // routes to it any more, so its memory is as good as lost.
                for server in blue {
                    self.retire_server(now, server, fault, memory);
                }
            }
            FaultAction::BeginRandomCrashes { fault } => {
                let fault = fault as usize;
                let FaultKind::RandomCrashes { mtbf, .. } = self.scenario.faults[fault].kind else {
                    unreachable!("the plan sends BeginRandomCrashes for random_crashes only");
                };
                self.fault_losses[fault] = Some(0);
                let servers = self.servers.in_service().to_vec();
                let begins = EventKind::RandomCrashesBegin {
                    servers: servers.len() as u32,
                    mtbf,
                };
                self.record(now, begins, 0);
                for server in servers {
                    self.schedule_random_crash(fault, server, 0, now, wakes);
                }
            }
            FaultAction::RandomCrash {
                fault,
                server,
                draw,
            } => self.random_crash(now, fault as usize, server, draw, memory, wakes),
            FaultAction::RandomRecover {
                fault,
                server,
                draw,
            } => {
                if !self.servers.is_running(server) {
                    self.recover_server(now, server);
                }
                self.schedule_random_crash(fault as usize, server, draw + 1, now, wakes);
            }
            FaultAction::ScaleOut { fault } => {
                let fault = fault as usize;
                let FaultKind::ScaleOut { add } = self.scenario.faults[fault].kind else {
                    unreachable!("the plan sends ScaleOut for scale_out faults only");
                };
                let added: Vec<ServerId> = (0..add)
                    .map(|_| self.add_server(now, memory, wakes))
                    .collect();
                let in_service = self.servers.in_service().len() as u32;
                self.record(now, EventKind::ScaledOut { added, in_service }, 0);
                self.fault_losses[fault] = Some(0);
            }
            FaultAction::ScaleIn { fault } => self.scale_in(now, fault as usize, memory, wakes),
            FaultAction::RetireServer { fault, server } => {
                self.retire_server(now, server, fault as usize, memory)
            }
            FaultAction::CutStoreLink { fault } => {
                let fault = fault as usize;
                let FaultKind::RedisPartition { duration } = self.scenario.faults[fault].kind
                else {
                    unreachable!("the plan sends CutStoreLink for redis_partition only");
                };
                let kind = if self.store_is_remote {
                    self.link.cut(now, now + duration);
                    EventKind::StoreLinkCut { duration }
                } else {
                    EventKind::NoStoreServer {
                        fault: StoreFaultKind::Partition,
                    }
                };
                self.record(now, kind, 0);
                self.fault_losses[fault] = Some(0);
            }
            FaultAction::SlowStoreLink { fault } => {
                let fault = fault as usize;
                let FaultKind::RedisSlow { duration, latency } = self.scenario.faults[fault].kind
                else {
                    unreachable!("the plan sends SlowStoreLink for redis_slow only");
                };
                let kind = if self.store_is_remote {
                    self.link.slow_down(now, now + duration, latency);
                    EventKind::StoreLinkSlow { duration, latency }
                } else {
                    EventKind::NoStoreServer {
                        fault: StoreFaultKind::Slow,
                    }
                };
                self.record(now, kind, 0);
                self.fault_losses[fault] = Some(0);
            }
            FaultAction::StopStore { .. }
            | FaultAction::LosePrimary { .. }
            | FaultAction::Promote { .. }
            | FaultAction::StartStore { .. } => return Some(self.store_fault_of(action)),
        }
        None
    }

    /// A `server_crash` fault strikes.
    fn crash_fault(
        &mut self,
        now: SimTime,
        fault: usize,
        memory: &mut dyn ServerMemory,
        wakes: &mut Wakes,
    ) {
        let FaultKind::ServerCrash {
            server,
            recover_after,
            host,
        } = self.scenario.faults[fault].kind
        else {
            unreachable!("the plan sends CrashServer for server_crash faults only");
        };
        let target = target_server(self.scenario.seed, fault, server, self.servers.len());
        let lost = self.crash_server(now, fault, target, host, memory, wakes);
        self.fault_losses[fault] = Some(lost.unwrap_or(0));
        // Only a crash that happened schedules a recovery: a second crash
        // of a server that is already down changes nothing.
        if lost.is_some() {
            let recover = FaultAction::RecoverServer { server: target };
            wakes.push((now + recover_after, Wake::Fault(recover)));
        }
    }

    /// Crashes `server`; returns the held sessions it destroyed, or `None`
    /// if its process was not running. A crash hits the process whatever
    /// the balancer believes: a draining server, or one the health checks
    /// have not yet marked up again, crashes like any other.
    fn crash_server(
        &mut self,
        now: SimTime,
        fault: usize,
        server: ServerId,
        host: bool,
        memory: &mut dyn ServerMemory,
        wakes: &mut Wakes,
    ) -> Option<u64> {
        if !self.servers.is_running(server)
            || self.servers.membership(server) == Membership::Retired
        {
            self.record(now, EventKind::ServerWasDown { server }, 0);
            return None;
        }
        for waiting in self.servers.crash_as(server, host) {
            self.fail_now(waiting, ErrorCause::ServerCrashed);
            wakes.push((now, Wake::Complete(waiting)));
        }
        let mut destroyed: Vec<(UserId, SessionId)> = Vec::new();
        let unnamed = memory.memory_lost(now, server, &mut |u, s| destroyed.push((u, s)));
        let (held, named_orphans) = self.take_lost(fault as u32, &destroyed);
        let orphans = named_orphans + unnamed;
        self.record(now, EventKind::ServerCrashed { server, orphans }, held);
        Some(held)
    }

    fn recover_server(&mut self, now: SimTime, server: ServerId) {
        self.servers.recover(server);
        self.record(now, EventKind::ServerRecovered { server }, 0);
    }

    /// Removes `server` from the farm for fault `fault`; the sessions in
    /// its memory are lost and counted against that fault.
    fn retire_server(
        &mut self,
        now: SimTime,
        server: ServerId,
        fault: usize,
        memory: &mut dyn ServerMemory,
    ) {
        if self.servers.membership(server) == Membership::Retired {
            return;
        }
        self.servers.retire(server);
        let mut destroyed: Vec<(UserId, SessionId)> = Vec::new();
        let unnamed = memory.memory_lost(now, server, &mut |u, s| destroyed.push((u, s)));
        let (held, named_orphans) = self.take_lost(fault as u32, &destroyed);
        let orphans = named_orphans + unnamed;
        *self.fault_losses[fault].get_or_insert(0) += held;
        self.record(now, EventKind::ServerRetired { server, orphans }, held);
    }

    /// The next step of the rolling deploy `fault`: the lowest server still
    /// in service from before the deploy is drained (if asked) and
    /// replaced; the step after comes `pause` later.
    fn deploy_step(
        &mut self,
        now: SimTime,
        fault: usize,
        memory: &mut dyn ServerMemory,
        wakes: &mut Wakes,
    ) {
        let FaultKind::RollingDeploy { pause, drain } = self.scenario.faults[fault].kind else {
            unreachable!("the plan sends DeployStep for rolling_deploy faults only");
        };
        let boundary = self.deploy_boundary[fault];
        let next = self
            .servers
            .in_service()
            .iter()
            .copied()
            .find(|s| s.0 < boundary);
        let Some(server) = next else {
            self.record(now, EventKind::DeployFinished, 0);
            return;
        };
        let drain = drain.unwrap_or(SimDuration::ZERO);
        let fault_index = fault as u32;
        if drain.is_zero() {
            self.replace_server(now, server, fault, memory, wakes);
        } else {
            self.servers.start_draining(server);
            self.record(now, EventKind::DeployDrain { server, drain }, 0);
            let replace = FaultAction::ReplaceServer {
                fault: fault_index,
                server,
            };
            wakes.push((now + drain, Wake::Fault(replace)));
        }
        let step = FaultAction::DeployStep { fault: fault_index };
        wakes.push((now + drain + pause, Wake::Fault(step)));
    }

    /// Stops `server` (its memory is lost) and starts a new, empty one.
    fn replace_server(
        &mut self,
        now: SimTime,
        server: ServerId,
        fault: usize,
        memory: &mut dyn ServerMemory,
        wakes: &mut Wakes,
    ) {
        self.retire_server(now, server, fault, memory);
        let new = self.add_server(now, memory, wakes);
        self.record(now, EventKind::ServerReplaced { new, old: server }, 0);
    }

    /// A new, empty server joins the farm; its health checks start.
    fn add_server(
        &mut self,
        now: SimTime,
        memory: &mut dyn ServerMemory,
        wakes: &mut Wakes,
    ) -> ServerId {
        let server = self.servers.add_server();
        memory.server_added(server);
        let count = self.scenario.servers.count;
        if let Some(first) = self.servers.first_check(server, count, now) {
            wakes.push((first, Wake::HealthCheck(server)));
        }
        server
    }

    /// A `scale_in`: the newest servers go first (as most autoscalers
    /// choose), and at least one server always stays.
    fn scale_in(
        &mut self,
        now: SimTime,
        fault: usize,
        memory: &mut dyn ServerMemory,
        wakes: &mut Wakes,
    ) {
        let FaultKind::ScaleIn { remove, drain } = self.scenario.faults[fault].kind else {
            unreachable!("the plan sends ScaleIn for scale_in faults only");
        };
        let in_service = self.servers.in_service();
        let count = (remove as usize).min(in_service.len().saturating_sub(1));
        let leaving: Vec<ServerId> = in_service.iter().rev().take(count).copied().collect();
        self.fault_losses[fault] = Some(0);
        match drain.filter(|d| !d.is_zero()) {
            Some(drain) => {
                for &server in &leaving {
                    self.servers.start_draining(server);
                    let retire = FaultAction::RetireServer {
                        fault: fault as u32,
                        server,
                    };
                    wakes.push((now + drain, Wake::Fault(retire)));
                }
                self.record(now, EventKind::ScaleInDraining { leaving, drain }, 0);
            }
            None => {
                self.record(
                    now,
                    EventKind::ScaleInNow {
                        leaving: leaving.clone(),
                    },
                    0,
                );
                for server in leaving {
                    self.retire_server(now, server, fault, memory);
                }
            }
        }
    }

    /// Schedules the `draw`-th random crash of `server`, an exponential
    /// time (mean `mtbf`) after `from`, if before the fault's `until`.
    fn schedule_random_crash(
        &mut self,
        fault: usize,
        server: ServerId,
        draw: u32,
        from: SimTime,
        wakes: &mut Wakes,
    ) {
        let FaultKind::RandomCrashes { mtbf, until, .. } = self.scenario.faults[fault].kind else {
            unreachable!("random crashes are scheduled for random_crashes faults only");
        };
        let at = from + random_crash_delay(self.scenario.seed, fault, server, draw, false, mtbf);
        if at < until {
            let crash = FaultAction::RandomCrash {
                fault: fault as u32,
                server,
                draw,
            };
            wakes.push((at, Wake::Fault(crash)));
        }
    }

    fn random_crash(
        &mut self,
        now: SimTime,
        fault: usize,
        server: ServerId,
        draw: u32,
        memory: &mut dyn ServerMemory,
        wakes: &mut Wakes,
    ) {
        let FaultKind::RandomCrashes { mttr, .. } = self.scenario.faults[fault].kind else {
            unreachable!("random crashes are scheduled for random_crashes faults only");
        };
        let Some(lost) = self.crash_server(now, fault, server, false, memory, wakes) else {
            // Already down for another reason: try again later.
            self.schedule_random_crash(fault, server, draw + 1, now, wakes);
            return;
        };
        *self.fault_losses[fault].get_or_insert(0) += lost;
        let back = now + random_crash_delay(self.scenario.seed, fault, server, draw, true, mttr);
        let recover = FaultAction::RandomRecover {
            fault: fault as u32,
            server,
            draw,
        };
        wakes.push((back, Wake::Fault(recover)));
    }
}
