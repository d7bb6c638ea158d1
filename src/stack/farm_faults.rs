//! The faults that change the farm, carried out on the stack through
//! HAProxy's runtime API (`operations`), at the scenario's times, with the
//! same events as the simulator's `sim::fault::farm`:
//! - `scale_out`: each new server is a new app-server process in a spare
//!   slot of HAProxy's configuration, made `ready`;
//! - `scale_in`: the newest servers in service (one always stays) are set
//!   to `drain` for `drain` (only users whose cookie names them still go
//!   there), then to `maint`, and stopped with their memory;
//! - `rolling_deploy`: each server in service when it begins, lowest first,
//!   is drained, stopped and replaced by a new process in a new slot (a new
//!   name and cookie value), then `pause`;
//! - `blue_green`: as many new processes as are in service (green), each in
//!   a new slot made `ready`; then every old one (blue) is set to `maint`
//!   at once, so nothing, pinned or not, reaches it, and stopped after
//!   `grace` (requests already on it finish).
//!
//! A deploy gives the replacement a new slot, as the model gives it a new
//! server id, rather than restarting the old slot in place. The two differ
//! for sticky sessions, and the stack showed by how much: replaced in
//! place, a user logged out by the deploy still carries a cookie naming
//! the (new) server in that slot, so HAProxy sends the new login there, to
//! a server already deployed; replaced into a new slot, the cookie names a
//! server that is gone, and HAProxy balances the login over every server in
//! service, some of them still to be replaced, which log the user out again
//! (200 users on 4 servers: 201 forced logouts in place, 311 in the model).
//! A fleet of new instances, as an autoscaling group replaces them, is what
//! the model describes; `lbsim demo` restarts in place, as one does by hand.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use tokio::time::sleep_until;

use super::driver::SharedTally;
use super::nginx::NginxProcess;
use super::operations::{self, AdminState};
use super::processes::{AppProcess, AppSpec};
use crate::live::clock::LiveClock;
use crate::sim::ServerId;
use crate::sim::config::{FaultKind, Scenario};
use crate::sim::events::{Counted, EventKind, EventRecord};
use crate::sim::time::{SimDuration, SimTime};

/// A strategy's app servers, which scale-outs add to.
pub(crate) type Apps = Rc<RefCell<Vec<Rc<RefCell<AppProcess>>>>>;

/// What the farm's faults act on.
pub(crate) struct Farm {
    pub apps: Apps,
    /// Servers that left the farm (their slots are in maintenance).
    pub removed: RefCell<BTreeSet<u32>>,
    /// How the balancer is told of a change.
    pub control: Control,
    pub spec: AppSpec,
    /// Server slots in HAProxy's configuration.
    pub slots: u32,
    /// Whether sessions live in the app servers' memory.
    pub local: bool,
}

/// How the farm's faults tell the balancer of a change.
pub(crate) enum Control {
    /// HAProxy's runtime API, at this socket.
    RuntimeApi(PathBuf),
    /// nginx, which has none: the servers of its `upstream` block, by
    /// index, with their ports; each change is a new block and a reload.
    Reload {
        nginx: Rc<RefCell<NginxProcess>>,
        members: RefCell<BTreeMap<u32, u16>>,
    },
}

impl Control {
    /// HAProxy's runtime API socket, if the balancer is HAProxy.
    pub fn admin_socket(&self) -> Option<&Path> {
        match self {
            Control::RuntimeApi(socket) => Some(socket),
            Control::Reload { .. } => None,
        }
    }

    /// Starts app server `index` and puts it in rotation: in a spare
    /// HAProxy slot (`operations::scale_out`), or at the end of nginx's
    /// `upstream` block, as the model appends it.
    async fn add(&self, index: u32, spec: &AppSpec) -> Result<AppProcess, String> {
        match self {
            Control::RuntimeApi(socket) => operations::scale_out(socket, index, spec).await,
            Control::Reload { members, .. } => {
                let app = AppProcess::start(index, spec.clone())
                    .map_err(|e| format!("cannot start app-{index}: {e}"))?;
                members.borrow_mut().insert(index, app.port());
                self.reload().await?;
                Ok(app)
            }
        }
    }

    /// On nginx, starts app server `index` and puts it in the `upstream`
    /// block for the next reload; `None` on HAProxy, where `add` does it.
    fn stage(&self, index: u32, spec: &AppSpec) -> Option<Result<AppProcess, String>> {
        let Control::Reload { members, .. } = self else {
            return None;
        };
        let app = AppProcess::start(index, spec.clone())
            .map_err(|e| format!("cannot start app-{index}: {e}"));
        if let Ok(app) = &app {
            members.borrow_mut().insert(index, app.port());
        }
        Some(app)
    }

    /// Drains `index`. nginx open source has no drain, and none is needed
    /// for `ip_hash`: a server stays in the block, reached by the users
    /// that hash to it, until it leaves, which is what the model does
    /// with a draining server (`ServerPool::accepts_pinned`).
    async fn drain(&self, index: u32) {
        if let Control::RuntimeApi(socket) = self {
            let _ = operations::set_state(socket, index, AdminState::Drain).await;
        }
    }

    /// Takes `index` out of rotation: `maint`, or out of nginx's block.
    async fn remove(&self, index: u32) {
        match self {
            Control::RuntimeApi(socket) => {
                let _ = operations::set_state(socket, index, AdminState::Maint).await;
            }
            Control::Reload { members, .. } => {
                members.borrow_mut().remove(&index);
                if let Err(why) = self.reload().await {
                    crate::say!("stack: {why}");
                }
            }
        }
    }

    async fn reload(&self) -> Result<(), String> {
        let Control::Reload { nginx, members } = self else {
            return Ok(());
        };
        let ports: Vec<u16> = members.borrow().values().copied().collect();
        let reloading = nginx.borrow_mut().reload(&ports)?;
        reloading.done().await
    }
}

/// The server slots beyond the scenario's servers that its scale-outs and
/// deploys need in HAProxy's configuration: one per server added, and one
/// per server each deploy or blue-green switch may replace (every server
/// there may be by then).
pub fn spares_needed(scenario: &Scenario) -> u32 {
    let mut servers = scenario.servers.count;
    let mut spares = 0;
    let mut faults: Vec<_> = scenario.faults.iter().collect();
    faults.sort_by_key(|f| f.at);
    for fault in faults {
        match fault.kind {
            FaultKind::ScaleOut { add } => {
                servers += add;
                spares += add;
            }
            FaultKind::RollingDeploy { .. } | FaultKind::BlueGreen { .. } => spares += servers,
            _ => {}
        }
    }
    spares
}

impl Farm {
    /// Servers in service now, lowest first: running and not removed.
    pub fn in_service(&self) -> Vec<u32> {
        let removed = self.removed.borrow();
        self.apps
            .borrow()
            .iter()
            .map(|a| a.borrow())
            .filter(|a| a.is_running() && !removed.contains(&a.index))
            .map(|a| a.index)
            .collect()
    }

    pub fn app(&self, index: u32) -> Option<Rc<RefCell<AppProcess>>> {
        self.apps.borrow().get(index as usize).cloned()
    }
}

fn record(tally: &SharedTally, t: SimTime, kind: EventKind, destroyed: u64, before: Option<u64>) {
    let mut tally = tally.borrow_mut();
    let so_far = tally.so_far();
    tally.events.push(EventRecord {
        t,
        kind,
        sessions_destroyed: destroyed,
        counted: before.map(|before| Counted { before }),
        so_far,
    });
}

/// Carries out farm fault `fault` of `scenario`, which is due now.
pub(crate) async fn carry_out(
    scenario: Rc<Scenario>,
    clock: LiveClock,
    farm: Rc<Farm>,
    tally: SharedTally,
    fault: usize,
) {
    let at = scenario.faults[fault].at;
    tally.borrow_mut().fault_losses[fault] = Some(0);
    match scenario.faults[fault].kind {
        FaultKind::ScaleOut { add } => {
            let mut added = Vec::new();
            for _ in 0..add {
                let index = farm.apps.borrow().len() as u32;
                if index >= farm.slots {
                    break;
                }
                match farm.control.add(index, &farm.spec).await {
                    Ok(app) => {
                        farm.apps.borrow_mut().push(Rc::new(RefCell::new(app)));
                        added.push(ServerId(index));
                    }
                    Err(why) => crate::say!("stack: scale_out: {why}"),
                }
            }
            let in_service = farm.in_service().len() as u32;
            record(
                &tally,
                at,
                EventKind::ScaledOut { added, in_service },
                0,
                None,
            );
        }
        FaultKind::ScaleIn { remove, drain } => {
            let in_service = farm.in_service();
            let count = (remove as usize).min(in_service.len().saturating_sub(1));
            let leaving: Vec<u32> = in_service.iter().rev().take(count).copied().collect();
            let drain = drain.filter(|d| !d.is_zero());
            let ids = leaving.iter().map(|&s| ServerId(s)).collect();
            let kind = match drain {
                Some(drain) => EventKind::ScaleInDraining {
                    leaving: ids,
                    drain,
                },
                None => EventKind::ScaleInNow { leaving: ids },
            };
            record(&tally, at, kind, 0, None);
            if let Some(drain) = drain {
                for &server in &leaving {
                    farm.control.drain(server).await;
                }
                sleep_until(clock.wall(at + drain).into()).await;
            }
            let retired_at = at + drain.unwrap_or(SimDuration::ZERO);
            for server in leaving {
                take_out(
                    &scenario, clock, &farm, &tally, fault, retired_at, server, true,
                )
                .await;
                farm.removed.borrow_mut().insert(server);
            }
        }
        FaultKind::RollingDeploy { pause, drain } => {
            let servers = farm.in_service();
            record(
                &tally,
                at,
                EventKind::DeployBegins {
                    servers: servers.len() as u32,
                },
                0,
                None,
            );
            let drain = drain.unwrap_or(SimDuration::ZERO);
            let mut step = at;
            for server in servers {
                if !drain.is_zero() {
                    farm.control.drain(server).await;
                    record(
                        &tally,
                        step,
                        EventKind::DeployDrain {
                            server: ServerId(server),
                            drain,
                        },
                        0,
                        None,
                    );
                    sleep_until(clock.wall(step + drain).into()).await;
                }
                let replaced_at = step + drain;
                let index = farm.apps.borrow().len() as u32;
                // On nginx the replacement joins the block in the same
                // reload that takes the old server out, as the model swaps
                // them at one instant.
                let staged = match index < farm.slots {
                    true => farm.control.stage(index, &farm.spec),
                    false => None,
                };
                take_out(
                    &scenario,
                    clock,
                    &farm,
                    &tally,
                    fault,
                    replaced_at,
                    server,
                    true,
                )
                .await;
                if index < farm.slots {
                    let added = match staged {
                        Some(staged) => staged,
                        None => farm.control.add(index, &farm.spec).await,
                    };
                    match added {
                        Ok(app) => {
                            farm.apps.borrow_mut().push(Rc::new(RefCell::new(app)));
                            let kind = EventKind::ServerReplaced {
                                new: ServerId(index),
                                old: ServerId(server),
                            };
                            record(&tally, replaced_at, kind, 0, None);
                        }
                        Err(why) => crate::say!("stack: rolling_deploy: {why}"),
                    }
                }
                farm.removed.borrow_mut().insert(server);
                step = step + drain + pause;
                sleep_until(clock.wall(step).into()).await;
            }
            record(&tally, step, EventKind::DeployFinished, 0, None);
        }
        FaultKind::BlueGreen { grace } => {
            let blue = farm.in_service();
            for _ in &blue {
                let index = farm.apps.borrow().len() as u32;
                if index >= farm.slots {
                    break;
                }
                match farm.control.add(index, &farm.spec).await {
                    Ok(app) => farm.apps.borrow_mut().push(Rc::new(RefCell::new(app))),
                    Err(why) => crate::say!("stack: blue_green: {why}"),
                }
            }
            let servers = blue.len() as u32;
            record(&tally, at, EventKind::BlueGreen { servers, grace }, 0, None);
            // From the users' side blue is gone at the switch, as in the
            // model: its memory is as good as lost.
            for &server in &blue {
                take_out(&scenario, clock, &farm, &tally, fault, at, server, false).await;
                farm.removed.borrow_mut().insert(server);
            }
            sleep_until(clock.wall(at + grace).into()).await;
            for server in blue {
                if let Some(app) = farm.app(server) {
                    app.borrow_mut().kill();
                }
            }
        }
        _ => {}
    }
}

/// Takes `server` out of rotation (`maint`), and stops it if `stop`:
/// nothing reaches its memory any more, so the sessions there are
/// destroyed, counted against `fault`.
#[allow(clippy::too_many_arguments)]
async fn take_out(
    scenario: &Scenario,
    clock: LiveClock,
    farm: &Farm,
    tally: &SharedTally,
    fault: usize,
    at: SimTime,
    server: u32,
    stop: bool,
) {
    let Some(app) = farm.app(server) else {
        return;
    };
    farm.control.remove(server).await;
    let held = if stop {
        operations::crash(&app).await
    } else {
        let (running, port) = {
            let app = app.borrow();
            (app.is_running(), app.port())
        };
        match running {
            true => super::processes::sessions_held(port).await.unwrap_or(0),
            false => 0,
        }
    };
    let now = clock.now();
    let ttl = scenario.session.ttl;
    let destroyed = if farm.local {
        let mut t = tally.borrow_mut();
        let destroyed = t.destroy(fault as u32, now, ttl, |u| u.home == Some(server));
        *t.fault_losses[fault].get_or_insert(0) += destroyed;
        destroyed
    } else {
        0
    };
    let in_memory = if farm.local { held } else { 0 };
    record(
        tally,
        at,
        EventKind::ServerRetired {
            server: ServerId(server),
            orphans: in_memory.saturating_sub(destroyed),
        },
        destroyed,
        farm.local.then_some(in_memory),
    );
}
