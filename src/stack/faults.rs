//! The scenario's faults carried out on the stack's real processes, each at
//! its scenario time: `server_crash` is a SIGKILL of that app server's
//! process and `recover_after` a new, empty process on the same port;
//! `random_crashes` does the same to each server at the exponential times
//! the simulator draws; `redis_restart` kills (or `SHUTDOWN`s)
//! redis-server and starts it again on its folder after `downtime`, as
//! live mode does; `redis_partition` and `redis_slow` cut or slow the
//! relay between the app servers and Redis (`redis_link`) for their
//! duration.
//!
//! A random server and random crash times come from the fault's own
//! random stream (`sim::fault::target_server`, `random_crash_delay`), the
//! same draws the simulator makes, so the stack crashes the same servers
//! at the same times.

use std::rc::Rc;
use std::time::Duration;

use tokio::time::sleep_until;

use super::driver::SharedTally;
use super::farm_faults::{self, Farm};
use super::operations;
use super::redis_link::RedisLink;
use super::redis_servers::{RedisNode, RedisServers};
use crate::live::clock::LiveClock;
use crate::live::spring_session::SpringSessionStore;
use crate::sim::ServerId;
use crate::sim::config::{FaultKind, RestartMode, Scenario};
use crate::sim::events::{Counted, EventKind, EventRecord, StoreFaultKind};
use crate::sim::fault::{random_crash_delay, target_server};
use crate::sim::time::SimTime;

/// What the fault loop acts on.
pub(crate) struct FaultTargets {
    /// The app servers, and what scales and deploys need.
    pub farm: Rc<Farm>,
    pub redis: Option<Rc<RedisServers>>,
    /// lbsim's own connection to the strategy's Redis, to count sessions.
    pub store: Option<Rc<SpringSessionStore>>,
    /// The app servers' link to Redis, for partitions and slow windows.
    pub link: Option<Rc<RedisLink>>,
    /// Whether sessions live in the app servers' memory.
    pub local: bool,
    /// `redis.describe()` of the strategy's store, for the event text.
    pub persistence: String,
}

enum Timer {
    Fault(usize),
    /// A partition of the link to Redis ends.
    LinkRepaired,
    /// A slow window of the link ends: its delay.
    LinkSpedUp(Duration),
    Recover(u32),
    RedisBack(usize, RestartMode),
    /// The `draw`-th crash of a server by a `random_crashes` fault.
    RandomCrash {
        fault: usize,
        server: u32,
        draw: u32,
    },
    /// Its recovery.
    RandomRecover {
        fault: usize,
        server: u32,
        draw: u32,
    },
}

/// One crash of an app server by a fault.
#[derive(Clone, Copy, Debug)]
struct Crash {
    fault: usize,
    server: u32,
    /// When it is due, in scenario time.
    at: SimTime,
    /// Its machine dies, not only its process (`mode = "host"`).
    host: bool,
}

/// SIGKILL of the crash's app server (and, for a host, its port silenced
/// until it recovers: `stack::dead_host`): its in-memory sessions die
/// with it. Returns the sessions destroyed, or `None` if it was not
/// running.
async fn crash_server(
    targets: &FaultTargets,
    tally: &SharedTally,
    clock: LiveClock,
    ttl: crate::sim::time::SimDuration,
    crash: Crash,
) -> Option<u64> {
    let Crash {
        fault,
        server,
        at,
        host,
    } = crash;
    let app = targets.farm.app(server)?;
    if !app.borrow().is_running() {
        return None;
    }
    let held = if host {
        operations::crash_host(&app).await
    } else {
        operations::crash(&app).await
    };
    let in_memory = if targets.local { held } else { 0 };
    let now = clock.now();
    let mut t = tally.borrow_mut();
    let destroyed = if targets.local {
        t.destroy(fault as u32, now, ttl, |u| u.home == Some(server))
    } else {
        0
    };
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
    Some(destroyed)
}

/// A new, empty process for crashed app server `server`, at `at`.
fn recover_server(targets: &FaultTargets, tally: &SharedTally, server: u32, at: SimTime) {
    let Some(app) = targets.farm.app(server) else {
        return;
    };
    // Blocks this thread until the new process answers /health (tens of
    // milliseconds): the users wait that long.
    if app.borrow_mut().restart().is_ok() {
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

/// Records fault `fault`'s event at `at`: one that destroys no session.
fn record(tally: &SharedTally, fault: usize, at: SimTime, kind: EventKind) {
    let mut t = tally.borrow_mut();
    t.fault_losses[fault] = Some(0);
    let so_far = t.so_far();
    t.events.push(EventRecord {
        t: at,
        kind,
        sessions_destroyed: 0,
        counted: None,
        so_far,
    });
}

/// How long to wait for Redis to answer lbsim's count after a restart: a
/// cluster refuses keys (`-CLUSTERDOWN`) until its nodes agree the
/// restarted one is back, a few seconds after it answers.
const COUNT_TIMEOUT: Duration = Duration::from_secs(15);

/// Which of the sessions `ids` Redis holds, asked until it answers (or
/// [`COUNT_TIMEOUT`] passes: `None`).
async fn existing_when_served(store: &SpringSessionStore, ids: &[String]) -> Option<Vec<bool>> {
    let deadline = tokio::time::Instant::now() + COUNT_TIMEOUT;
    loop {
        let found = store.existing_named(ids).await;
        if found.is_some() || tokio::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    // The process a restart stopped and the session ids users held then,
    // per fault.
    let mut held_at_stop: std::collections::HashMap<usize, (RedisNode, Vec<(usize, String)>)> =
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
                    server: choice,
                    recover_after,
                    host,
                } => {
                    // Over the servers the farm has had so far, as the
                    // simulator draws it.
                    let servers = targets.farm.apps.borrow().len() as u32;
                    let server = target_server(scenario.seed, i, choice, servers).0;
                    let crash = Crash {
                        fault: i,
                        server,
                        at,
                        host,
                    };
                    let destroyed = crash_server(&targets, &tally, clock, ttl, crash).await;
                    tally.borrow_mut().fault_losses[i] = Some(destroyed.unwrap_or(0));
                    if destroyed.is_some() {
                        sequence += 1;
                        timers.push((at + recover_after, sequence, Timer::Recover(server)));
                    }
                }
                FaultKind::RandomCrashes { mtbf, until, .. } => {
                    let servers = targets.farm.in_service();
                    {
                        let mut t = tally.borrow_mut();
                        t.fault_losses[i] = Some(0);
                        let so_far = t.so_far();
                        t.events.push(EventRecord {
                            t: at,
                            kind: EventKind::RandomCrashesBegin {
                                servers: servers.len() as u32,
                                mtbf,
                            },
                            sessions_destroyed: 0,
                            counted: None,
                            so_far,
                        });
                    }
                    for server in servers {
                        let delay =
                            random_crash_delay(scenario.seed, i, ServerId(server), 0, false, mtbf);
                        if at + delay < until {
                            sequence += 1;
                            let timer = Timer::RandomCrash {
                                fault: i,
                                server,
                                draw: 0,
                            };
                            timers.push((at + delay, sequence, timer));
                        }
                    }
                }
                FaultKind::RedisRestart {
                    mode,
                    downtime,
                    shard,
                } => {
                    // The primary now (of `shard`, in a cluster): after a
                    // failover, the promoted replica.
                    let node = match &targets.redis {
                        Some(servers) => servers.primary(shard).await,
                        None => None,
                    };
                    let Some(node) = node.filter(|n| n.with(|p| p.is_running())) else {
                        // No Redis, or its primary is down already.
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
                    operations::stop_redis(&node, mode).await;
                    held_at_stop.insert(i, (node, held));
                    sequence += 1;
                    timers.push((at + downtime, sequence, Timer::RedisBack(i, mode)));
                }
                FaultKind::RedisPartition { duration } => {
                    let kind = match &targets.link {
                        Some(link) => {
                            link.cut();
                            sequence += 1;
                            timers.push((at + duration, sequence, Timer::LinkRepaired));
                            EventKind::StoreLinkCut { duration }
                        }
                        None => EventKind::NoStoreServer {
                            fault: StoreFaultKind::Partition,
                        },
                    };
                    record(&tally, i, at, kind);
                }
                FaultKind::RedisSlow { duration, latency } => {
                    let kind = match &targets.link {
                        Some(link) => {
                            // A latency: not compressed (`redis_link`).
                            let by = Duration::from_nanos(latency.as_nanos());
                            link.slow_down(by);
                            sequence += 1;
                            timers.push((at + duration, sequence, Timer::LinkSpedUp(by)));
                            EventKind::StoreLinkSlow { duration, latency }
                        }
                        None => EventKind::NoStoreServer {
                            fault: StoreFaultKind::Slow,
                        },
                    };
                    record(&tally, i, at, kind);
                }
                FaultKind::ScaleOut { .. }
                | FaultKind::ScaleIn { .. }
                | FaultKind::RollingDeploy { .. }
                | FaultKind::BlueGreen { .. } => {
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
            },
            Timer::Recover(server) => recover_server(&targets, &tally, server, at),
            Timer::LinkRepaired => {
                if let Some(link) = &targets.link {
                    link.repair();
                }
            }
            Timer::LinkSpedUp(by) => {
                if let Some(link) = &targets.link {
                    link.speed_up(by);
                }
            }
            Timer::RandomCrash {
                fault,
                server,
                draw,
            } => {
                let FaultKind::RandomCrashes { mtbf, mttr, until } = scenario.faults[fault].kind
                else {
                    continue;
                };
                let delay = |draw, recovery, mean| {
                    random_crash_delay(scenario.seed, fault, ServerId(server), draw, recovery, mean)
                };
                sequence += 1;
                let crash = Crash {
                    fault,
                    server,
                    at,
                    host: false,
                };
                match crash_server(&targets, &tally, clock, ttl, crash).await {
                    Some(destroyed) => {
                        *tally.borrow_mut().fault_losses[fault].get_or_insert(0) += destroyed;
                        let back = at + delay(draw, true, mttr);
                        let timer = Timer::RandomRecover {
                            fault,
                            server,
                            draw,
                        };
                        timers.push((back, sequence, timer));
                    }
                    // Already down for another reason: try again later,
                    // as the simulator does.
                    None => {
                        let next = at + delay(draw + 1, false, mtbf);
                        if next < until {
                            let timer = Timer::RandomCrash {
                                fault,
                                server,
                                draw: draw + 1,
                            };
                            timers.push((next, sequence, timer));
                        }
                    }
                }
            }
            Timer::RandomRecover {
                fault,
                server,
                draw,
            } => {
                let FaultKind::RandomCrashes { mtbf, until, .. } = scenario.faults[fault].kind
                else {
                    continue;
                };
                let running = targets
                    .farm
                    .app(server)
                    .is_some_and(|a| a.borrow().is_running());
                if !running {
                    recover_server(&targets, &tally, server, at);
                }
                let next = at
                    + random_crash_delay(
                        scenario.seed,
                        fault,
                        ServerId(server),
                        draw + 1,
                        false,
                        mtbf,
                    );
                if next < until {
                    sequence += 1;
                    let timer = Timer::RandomCrash {
                        fault,
                        server,
                        draw: draw + 1,
                    };
                    timers.push((next, sequence, timer));
                }
            }
            Timer::RedisBack(i, mode) => {
                let Some((node, held)) = held_at_stop.remove(&i) else {
                    continue;
                };
                // Waits (without blocking the users) until it answers.
                // With replicas it comes back as what the Sentinels (or
                // the cluster) made of it: a replica once one was
                // promoted.
                operations::start_redis(&node, clock.wall(end)).await;
                let ready = clock.now();
                let ids: Vec<String> = held.iter().map(|(_, id)| id.clone()).collect();
                let found = match &targets.store {
                    Some(store) => existing_when_served(store, &ids).await,
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
