//! The scenario's faults carried out on the stack's real processes, each at
//! its scenario time: `server_crash` is a SIGKILL of that app server's
//! process and `recover_after` a new, empty process on the same port;
//! `redis_restart` kills (or `SHUTDOWN`s) redis-server and starts it again
//! on its folder after `downtime`, as live mode does.

use std::cell::RefCell;
use std::rc::Rc;

use tokio::time::sleep_until;

use super::driver::SharedTally;
use super::farm_faults::{self, Farm};
use super::operations;
use crate::live::clock::LiveClock;
use crate::live::redis_process::RedisProcess;
use crate::live::spring_session::SpringSessionStore;
use crate::sim::ServerId;
use crate::sim::config::{FaultKind, RestartMode, Scenario, ServerChoice};
use crate::sim::events::{Counted, EventKind, EventRecord};
use crate::sim::time::SimTime;

/// The faults the stack can carry out, or the first it cannot, in words.
pub fn unsupported(scenario: &Scenario) -> Option<String> {
    scenario
        .faults
        .iter()
        .enumerate()
        .find_map(|(i, f)| match f.kind {
            FaultKind::ServerCrash {
                server: ServerChoice::Index(_),
                ..
            }
            | FaultKind::RedisRestart { .. }
            | FaultKind::ScaleOut { .. }
            | FaultKind::ScaleIn { .. }
            | FaultKind::RollingDeploy { .. } => None,
            FaultKind::ServerCrash { .. } => Some(format!(
                "fault[{i}] crashes a random server; the stack needs a server number"
            )),
            _ => Some(format!(
                "fault[{i}] ({}) is not carried out on the stack yet",
                crate::sim::fault::words::short_label(f)
            )),
        })
}

/// What the fault loop acts on.
pub(crate) struct FaultTargets {
    /// The app servers, and what scales and deploys need.
    pub farm: Rc<Farm>,
    pub redis: Option<Rc<RefCell<RedisProcess>>>,
    /// lbsim's own connection to the strategy's Redis, to count sessions.
    pub store: Option<Rc<SpringSessionStore>>,
    /// Whether sessions live in the app servers' memory.
    pub local: bool,
    /// `redis.describe()` of the strategy's store, for the event text.
    pub persistence: String,
}

enum Timer {
    Fault(usize),
    Recover(u32),
    RedisBack(usize, RestartMode),
}

/// Carries out every fault of the scenario at its time, until `end`.
pub(crate) async fn fault_loop(
    scenario: Rc<Scenario>,
    clock: LiveClock,
    targets: FaultTargets,
    tally: SharedTally,
) {
    let end = SimTime::ZERO + scenario.duration;
    let ttl = scenario.session.ttl;
    let mut timers: Vec<(SimTime, usize, Timer)> = scenario
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| (f.at, i, Timer::Fault(i)))
        .collect();
    // Session ids held when Redis went down, per fault.
    let mut held_at_stop: std::collections::HashMap<usize, Vec<(usize, String)>> =
        Default::default();
    let mut sequence = timers.len();
    let mut farm_tasks = tokio::task::JoinSet::new();
    loop {
        // Earliest first; file order on a tie, as the simulator's queue.
        timers.sort_by_key(|(t, seq, _)| std::cmp::Reverse((*t, *seq)));
        let Some((at, _, timer)) = timers.pop() else {
            break;
        };
        if at >= end {
            break;
        }
        sleep_until(clock.wall(at).into()).await;
        match timer {
            Timer::Fault(i) => match scenario.faults[i].kind {
                FaultKind::ServerCrash {
                    server: ServerChoice::Index(server),
                    recover_after,
                    ..
                } => {
                    let Some(app) = targets.farm.app(server) else {
                        continue;
                    };
                    let held = operations::crash(&app).await;
                    let in_memory = if targets.local { held } else { 0 };
                    let now = clock.now();
                    let mut t = tally.borrow_mut();
                    let destroyed = if targets.local {
                        t.destroy(i as u32, now, ttl, |u| u.home == Some(server))
                    } else {
                        0
                    };
                    t.fault_losses[i] = Some(destroyed);
                    let so_far = t.so_far();
                    t.events.push(EventRecord {
                        t: at,
                        kind: EventKind::ServerCrashed {
                            server: ServerId(server),
                            orphans: in_memory.saturating_sub(destroyed),
                        },
                        sessions_destroyed: destroyed,
                        counted: targets.local.then_some(Counted { before: in_memory }),
                        so_far,
                    });
                    sequence += 1;
                    timers.push((at + recover_after, sequence, Timer::Recover(server)));
                }
                FaultKind::RedisRestart { mode, downtime, .. } => {
                    let Some(redis) = &targets.redis else {
                        // A strategy without Redis: nothing to restart.
                        tally.borrow_mut().fault_losses[i] = Some(0);
                        continue;
                    };
                    let held: Vec<(usize, String)> = {
                        let t = tally.borrow();
                        let now = clock.now();
                        t.users
                            .iter()
                            .enumerate()
                            .filter(|(_, u)| u.holds_session(now, ttl))
                            .filter_map(|(n, u)| u.session_id.clone().map(|id| (n, id)))
                            .collect()
                    };
                    operations::stop_redis(redis, mode).await;
                    held_at_stop.insert(i, held);
                    sequence += 1;
                    timers.push((at + downtime, sequence, Timer::RedisBack(i, mode)));
                }
                FaultKind::ScaleOut { .. }
                | FaultKind::ScaleIn { .. }
                | FaultKind::RollingDeploy { .. } => {
                    // Drains and deploys take a while: their own tasks,
                    // which end with this loop.
                    farm_tasks.spawn_local(farm_faults::carry_out(
                        scenario.clone(),
                        clock,
                        targets.farm.clone(),
                        tally.clone(),
                        i,
                    ));
                }
                _ => {}
            },
            Timer::Recover(server) => {
                let Some(app) = targets.farm.app(server) else {
                    continue;
                };
                // Blocks this thread until the new process answers
                // /health (tens of milliseconds): the users wait that long.
                let result = app.borrow_mut().restart();
                if result.is_ok() {
                    let mut t = tally.borrow_mut();
                    let so_far = t.so_far();
                    t.events.push(EventRecord {
                        t: at,
                        kind: EventKind::ServerRecovered {
                            server: ServerId(server),
                        },
                        sessions_destroyed: 0,
                        counted: None,
                        so_far,
                    });
                }
            }
            Timer::RedisBack(i, mode) => {
                let Some(redis) = &targets.redis else {
                    continue;
                };
                // Waits (without blocking the users) until it answers.
                operations::start_redis(redis, clock.wall(end)).await;
                let ready = clock.now();
                let held = held_at_stop.remove(&i).unwrap_or_default();
                let ids: Vec<String> = held.iter().map(|(_, id)| id.clone()).collect();
                let found = match &targets.store {
                    Some(store) => store.existing_named(&ids).await,
                    None => None,
                };
                let mut t = tally.borrow_mut();
                let mut destroyed = 0;
                if let Some(found) = found {
                    for ((user, _), exists) in held.iter().zip(found) {
                        let u = &mut t.users[*user];
                        if !exists && !u.session.session.is_none() {
                            u.lost_to = Some(crate::sim::toll::LostTo {
                                fault: i as u32,
                                session: u.session.session,
                            });
                            destroyed += 1;
                        }
                    }
                }
                t.fault_losses[i] = Some(destroyed);
                let so_far = t.so_far();
                t.events.push(EventRecord {
                    t: scenario.faults[i].at,
                    kind: EventKind::StoreStopped {
                        mode,
                        persistence: targets.persistence.clone(),
                        orphans: 0,
                    },
                    sessions_destroyed: destroyed,
                    counted: Some(Counted {
                        before: held.len() as u64,
                    }),
                    so_far,
                });
                t.events.push(EventRecord {
                    t: at,
                    kind: EventKind::StoreStarted { ready },
                    sessions_destroyed: 0,
                    counted: None,
                    so_far,
                });
            }
        }
    }
    // Scales and deploys still under way finish (or end with the run).
    while farm_tasks.join_next().await.is_some() {}
}
