//! Background tasks of a live run: the scenario's faults carried out for
//! real (process kills, restarts, failovers, farm changes), health checks
//! and time-series rows.

use super::*;
use crate::live::cluster::RedisCluster;

/// Runs the balancer's health checks every `interval`, as the simulator does.
pub(super) async fn health_check_loop(
    interval: SimDuration,
    clock: LiveClock,
    shared: SharedState,
    end: SimTime,
) {
    let mut t = SimTime::ZERO + interval;
    while t < end {
        sleep_until(clock.wall(t).into()).await;
        let mut state = shared.borrow_mut();
        for detection in state.servers.run_health_checks() {
            let (event, word) = if detection.up {
                ("server_marked_up", "back in")
            } else {
                ("server_marked_down", "out of")
            };
            let detail = format!(
                "health checks: server {} {word} rotation",
                detection.server.0
            );
            state.events.push(EventRecord {
                t,
                event,
                detail,
                sessions_lost: 0,
            });
        }
        drop(state);
        t += interval;
    }
}

/// Closes a row of the time series every `report_interval`.
pub(super) async fn report_loop(
    scenario: ScenarioRc,
    clock: LiveClock,
    store: Rc<SpringSessionStore>,
    owned: bool,
    shared: SharedState,
) {
    let end = SimTime::ZERO + scenario.duration;
    let mut t = SimTime::ZERO + scenario.report_interval;
    while t < end {
        sleep_until(clock.wall(t).into()).await;
        let active = store.count(owned).await.unwrap_or(0);
        let mut state = shared.borrow_mut();
        let in_service = state.servers.in_service().len() as u32;
        state.recorder.close_interval(t, active, in_service);
        drop(state);
        t += scenario.report_interval;
    }
}

/// The primary and (with replication) the replica of a live strategy.
pub(super) type Processes = (
    Option<Rc<RefCell<RedisProcess>>>,
    Option<Rc<RefCell<RedisProcess>>>,
    Option<Rc<RefCell<RedisCluster>>>,
);

/// Carries out the scenario's faults for real.
pub(super) async fn fault_loop(
    scenario: ScenarioRc,
    clock: LiveClock,
    store: Rc<SpringSessionStore>,
    (process, replica, cluster): Processes,
    shared: SharedState,
    strategy: usize,
) {
    let end = SimTime::ZERO + scenario.duration;
    let mut recoveries = JoinSet::new();
    for (index, fault) in scenario.faults.iter().enumerate() {
        if fault.at >= end {
            continue;
        }
        sleep_until(clock.wall(fault.at).into()).await;
        match fault.kind {
            FaultKind::ServerCrash {
                server,
                recover_after,
            } => {
                let target = target_server(scenario.seed, index, server, scenario.servers.count);
                {
                    let mut state = shared.borrow_mut();
                    state.fault_losses[index] = Some(0);
                    if !state.servers.is_running(target) {
                        // Already down: nothing to crash, no recovery to schedule.
                        let detail = format!("server {} was already down", target.0);
                        state.events.push(EventRecord {
                            t: fault.at,
                            event: "server_crash",
                            detail,
                            sessions_lost: 0,
                        });
                        continue;
                    }
                    state.servers.crash(target);
                    state.fault_losses[index] = Some(0);
                    let detail = format!(
                        "server {} crashed; sessions are in Redis, none lost",
                        target.0
                    );
                    state.events.push(EventRecord {
                        t: fault.at,
                        event: "server_crash",
                        detail,
                        sessions_lost: 0,
                    });
                }
                let shared = shared.clone();
                let back = fault.at + recover_after;
                recoveries.spawn_local(async move {
                    sleep_until(clock.wall(back).into()).await;
                    let mut state = shared.borrow_mut();
                    state.servers.recover(target);
                    let detail = format!("server {} back, empty", target.0);
                    state.events.push(EventRecord {
                        t: back,
                        event: "server_recovered",
                        detail,
                        sessions_lost: 0,
                    });
                });
            }
            FaultKind::RedisPartition { duration } => {
                // Emulated on the client side: lbsim's app servers stop
                // talking to Redis (no packet filter is needed, and Redis,
                // like in a real partition, notices nothing).
                let mut state = shared.borrow_mut();
                state.unreachable_until = fault.at + duration;
                state.fault_losses[index] = Some(0);
                let detail = format!(
                    "app servers cut off from Redis for {duration} (emulated in lbsim's client)"
                );
                state.events.push(EventRecord {
                    t: fault.at,
                    event: "redis_partition",
                    detail,
                    sessions_lost: 0,
                });
            }
            // App-server faults change only the balancer's farm here:
            // sessions are in Redis, so nothing is lost.
            FaultKind::RollingDeploy { pause, drain } => {
                shared.borrow_mut().fault_losses[index] = Some(0);
                let shared = shared.clone();
                let at = fault.at;
                recoveries.spawn_local(async move {
                    let old: Vec<ServerId> = shared.borrow().servers.in_service().to_vec();
                    let drain = drain.unwrap_or(SimDuration::ZERO);
                    let mut t = at;
                    for server in old {
                        shared.borrow_mut().servers.start_draining(server);
                        t += drain;
                        sleep_until(clock.wall(t).into()).await;
                        {
                            let mut state = shared.borrow_mut();
                            state.servers.retire(server);
                            let new = state.servers.add_server();
                            let detail = format!("server {} replaces server {}", new.0, server.0);
                            state.events.push(EventRecord {
                                t,
                                event: "server_added",
                                detail,
                                sessions_lost: 0,
                            });
                        }
                        t += pause;
                        sleep_until(clock.wall(t).into()).await;
                    }
                });
            }
            FaultKind::BlueGreen { .. } => {
                let mut state = shared.borrow_mut();
                let blue: Vec<ServerId> = state.servers.in_service().to_vec();
                for &server in &blue {
                    state.servers.add_server();
                    state.servers.retire(server);
                }
                state.fault_losses[index] = Some(0);
                let detail = format!("green fleet of {} servers takes all traffic", blue.len());
                state.events.push(EventRecord {
                    t: fault.at,
                    event: "blue_green",
                    detail,
                    sessions_lost: 0,
                });
            }
            FaultKind::RandomCrashes { mtbf, mttr, until } => {
                shared.borrow_mut().fault_losses[index] = Some(0);
                let servers: Vec<ServerId> = shared.borrow().servers.in_service().to_vec();
                for server in servers {
                    let shared = shared.clone();
                    let (seed, from) = (scenario.seed, fault.at);
                    recoveries.spawn_local(async move {
                        let mut t = from;
                        for draw in 0.. {
                            t += random_crash_delay(seed, index, server, draw, false, mtbf);
                            if t >= until {
                                break;
                            }
                            sleep_until(clock.wall(t).into()).await;
                            if !shared.borrow().servers.is_running(server) {
                                continue;
                            }
                            shared.borrow_mut().servers.crash(server);
                            t += random_crash_delay(seed, index, server, draw, true, mttr);
                            sleep_until(clock.wall(t).into()).await;
                            shared.borrow_mut().servers.recover(server);
                        }
                    });
                }
            }
            FaultKind::ScaleOut { add } => {
                // Sessions are in Redis: new servers need nothing but a place
                // in the balancer's list.
                let mut state = shared.borrow_mut();
                let added: Vec<String> = (0..add)
                    .map(|_| state.servers.add_server().0.to_string())
                    .collect();
                state.fault_losses[index] = Some(0);
                let detail = format!("servers {} added", added.join(", "));
                state.events.push(EventRecord {
                    t: fault.at,
                    event: "scale_out",
                    detail,
                    sessions_lost: 0,
                });
            }
            FaultKind::ScaleIn { remove, drain } => {
                let leaving: Vec<ServerId> = {
                    let mut state = shared.borrow_mut();
                    let in_service = state.servers.in_service();
                    let count = (remove as usize).min(in_service.len().saturating_sub(1));
                    let leaving: Vec<ServerId> =
                        in_service.iter().rev().take(count).copied().collect();
                    state.fault_losses[index] = Some(0);
                    for &server in &leaving {
                        state.servers.start_draining(server);
                    }
                    let names: Vec<String> = leaving.iter().map(|s| s.0.to_string()).collect();
                    let detail = format!(
                        "servers {} leaving; sessions are in Redis, none lost",
                        names.join(", ")
                    );
                    state.events.push(EventRecord {
                        t: fault.at,
                        event: "scale_in",
                        detail,
                        sessions_lost: 0,
                    });
                    leaving
                };
                let shared = shared.clone();
                let gone = fault.at + drain.unwrap_or(SimDuration::ZERO);
                recoveries.spawn_local(async move {
                    sleep_until(clock.wall(gone).into()).await;
                    let mut state = shared.borrow_mut();
                    for server in leaving {
                        state.servers.retire(server);
                    }
                });
            }
            FaultKind::RedisRestart {
                mode,
                downtime,
                shard,
            } => {
                if let Some(cluster) = &cluster {
                    cluster_shard_failure(
                        clock, index, fault.at, downtime, shard, &store, cluster, &shared,
                    )
                    .await;
                    continue;
                }
                let Some(process) = &process else { continue };
                let replication = match &scenario.strategies[strategy].store {
                    StoreConfig::Redis(redis) => redis.replication.clone(),
                    _ => None,
                };
                if let (Some(replica), Some(replication)) = (&replica, replication)
                    && downtime > replication.down_after
                {
                    let promote_at = fault.at + replication.down_after + replication.failover_delay;
                    failover_redis(
                        clock,
                        index,
                        fault.at,
                        promote_at,
                        fault.at + downtime,
                        mode,
                        &store,
                        process,
                        replica,
                        &shared,
                    )
                    .await;
                    continue;
                }
                restart_redis(
                    &scenario, index, mode, downtime, clock, &store, process, &shared,
                )
                .await;
            }
        }
    }
    while recoveries.join_next().await.is_some() {}
}

/// Stops the real redis-server the way `mode` says, starts it again after
/// `downtime` on the same folder and port, and measures what came back.
#[allow(clippy::too_many_arguments)]
async fn restart_redis(
    scenario: &Scenario,
    index: usize,
    mode: RestartMode,
    downtime: SimDuration,
    clock: LiveClock,
    store: &SpringSessionStore,
    process: &Rc<RefCell<RedisProcess>>,
    shared: &SharedState,
) {
    let at = scenario.faults[index].at;
    let before = store.count(true).await.unwrap_or(0);
    let stopped_ms = crate::live::spring_session::epoch_millis();
    let how = match mode {
        RestartMode::Crash => {
            process.borrow_mut().kill();
            "SIGKILL".to_string()
        }
        RestartMode::HostCrash => {
            process.borrow_mut().kill();
            "SIGKILL (a live run cannot cut the host's power: the kernel keeps unsynced AOF data, \
             so this behaves as a process crash)"
                .to_string()
        }
        RestartMode::Graceful => {
            let url = process.borrow().url();
            // SHUTDOWN saves (RDB) or fsyncs (AOF) as configured, then closes
            // the connection instead of replying.
            if let Ok(client) = redis::Client::open(url.as_str())
                && let Ok(mut connection) = client.get_connection()
            {
                let _: Result<(), _> = redis::cmd("SHUTDOWN").query(&mut connection);
            }
            process.borrow_mut().wait_for_exit(Duration::from_secs(30));
            "SHUTDOWN".to_string()
        }
    };
    let back = at + downtime;
    sleep_until(clock.wall(back).into()).await;
    let restarted = process.borrow_mut().respawn();
    let started = Instant::now();
    let mut after = None;
    if restarted.is_ok() {
        // Poll until Redis has loaded its data (it answers instead of
        // -LOADING or a refused connection), then count the sessions that
        // came back: those created before the stop. Users logging in again
        // meanwhile create new ones, which must not count as survivors.
        while started.elapsed() < Duration::from_secs(60) {
            if store.count(true).await.is_some() {
                after = store.count_created_before(stopped_ms).await;
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let ready_ms = started.elapsed().as_secs_f64() * 1000.0;
    let after = after.unwrap_or(0);
    let lost = before.saturating_sub(after);
    let mut state = shared.borrow_mut();
    state.fault_losses[index] = Some(lost);
    state.events.push(EventRecord {
        t: at,
        event: "redis_down",
        detail: format!(
            "redis-server stopped with {how}; {lost} of {before} sessions did not come back \
             (counted in Redis before the stop and after loading)"
        ),
        sessions_lost: lost,
    });
    let detail = match restarted {
        Ok(()) => {
            let loading = match state.loading_errors {
                0 => String::new(),
                n => format!("; {n} requests so far got -LOADING"),
            };
            format!(
                "redis-server restarted (pid {}); ready after {ready_ms:.0} ms{loading}",
                process.borrow().pid().unwrap_or(0)
            )
        }
        Err(err) => format!("redis-server failed to restart: {err}"),
    };
    state.events.push(EventRecord {
        t: back,
        event: "redis_up",
        detail,
        sessions_lost: 0,
    });
}

/// Kills the primary, and at `promote_at` promotes the replica the way
/// Sentinel would (`REPLICAOF NO ONE`) and points the app at it; measures
/// which sessions the replica had. The old primary stays down.
#[allow(clippy::too_many_arguments)]
async fn failover_redis(
    clock: LiveClock,
    index: usize,
    at: SimTime,
    promote_at: SimTime,
    back_at: SimTime,
    mode: RestartMode,
    store: &SpringSessionStore,
    primary: &Rc<RefCell<RedisProcess>>,
    replica: &Rc<RefCell<RedisProcess>>,
    shared: &SharedState,
) {
    let before = store.count(true).await.unwrap_or(0);
    let stopped_ms = crate::live::spring_session::epoch_millis();
    primary.borrow_mut().kill();
    shared.borrow_mut().fault_losses[index] = Some(0);
    sleep_until(clock.wall(promote_at).into()).await;
    let promoted = replica.borrow().promote();
    let replica_url = replica.borrow().url();
    let switched = match &promoted {
        Ok(()) => store
            .switch_to(&replica_url)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let after = match switched {
        Ok(()) => store.count_created_before(stopped_ms).await.unwrap_or(0),
        Err(_) => 0,
    };
    let lost = before.saturating_sub(after);
    {
        let mut state = shared.borrow_mut();
        state.fault_losses[index] = Some(lost);
        let how = if mode == RestartMode::Graceful {
            "stopped"
        } else {
            "killed with SIGKILL"
        };
        state.events.push(EventRecord {
            t: at,
            event: "redis_down",
            detail: format!("redis primary {how}; the replica will be promoted at {promote_at}"),
            sessions_lost: 0,
        });
        let detail = match switched {
            Ok(()) => format!(
                "replica promoted (REPLICAOF NO ONE) and the app switched to it; {lost} of {before} \
             sessions did not come through (counted in Redis before the stop and after promotion)"
            ),
            Err(e) => format!("failover failed: {e}"),
        };
        state.events.push(EventRecord {
            t: promote_at,
            event: "redis_failover",
            detail,
            sessions_lost: lost,
        });
    }
    // After its downtime the old primary restarts and, as Sentinel would
    // reconfigure it, becomes a replica of the promoted one.
    let back_at = back_at.max(promote_at);
    sleep_until(clock.wall(back_at).into()).await;
    let replica_port = replica.borrow().port();
    let rejoined = primary.borrow_mut().restart();
    let rejoined = rejoined.and_then(|()| primary.borrow().replicate(replica_port));
    let detail = match rejoined {
        Ok(()) => "the old primary is back, as a replica of the new one".to_string(),
        Err(e) => format!("the old primary could not rejoin: {e}"),
    };
    let event = EventRecord {
        t: back_at,
        event: "redis_replica_back",
        detail,
        sessions_lost: 0,
    };
    shared.borrow_mut().events.push(event);
}

/// Kills the primary of one shard of a real Redis Cluster and lets the
/// cluster handle it: with a replica, the cluster promotes it after
/// `cluster-node-timeout`; without, the shard's slots stay down until the
/// node restarts after `downtime`. Measures which sessions came through.
#[allow(clippy::too_many_arguments)]
async fn cluster_shard_failure(
    clock: LiveClock,
    index: usize,
    at: SimTime,
    downtime: SimDuration,
    shard: u32,
    store: &SpringSessionStore,
    cluster: &Rc<RefCell<RedisCluster>>,
    shared: &SharedState,
) {
    let node = shard as usize % cluster.borrow().shards;
    let id = cluster.borrow().node_id(node).unwrap_or_default();
    let before = store.count(true).await.unwrap_or(0);
    let stopped_ms = crate::live::spring_session::epoch_millis();
    cluster.borrow_mut().nodes[node].kill();
    shared.borrow_mut().fault_losses[index] = Some(0);
    let detail =
        format!("primary of shard {node} killed with SIGKILL; the cluster handles the rest");
    shared.borrow_mut().events.push(EventRecord {
        t: at,
        event: "redis_down",
        detail,
        sessions_lost: 0,
    });
    let back_at = at + downtime;
    // Wait for the cluster to serve every slot again, by its own failover
    // or, without a replica, once the node is back.
    let mut restarted = false;
    let mut noticed = false;
    loop {
        // First the cluster must notice (flag the node `fail` after
        // cluster-node-timeout); only then does "every slot served" mean
        // the failure is over.
        noticed = noticed || cluster.borrow().marked_failed(&id);
        if (noticed || restarted) && cluster.borrow().is_ok() {
            break;
        }
        if !restarted && clock.now() >= back_at {
            let _ = cluster.borrow_mut().nodes[node].restart();
            restarted = true;
        }
        if clock.now() > back_at + downtime + SimDuration::from_secs(600) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ok_at = clock.now();
    let after = store.count_created_before(stopped_ms).await.unwrap_or(0);
    let lost = before.saturating_sub(after);
    {
        let mut state = shared.borrow_mut();
        state.fault_losses[index] = Some(lost);
        let how = if restarted {
            "after the node restarted"
        } else {
            "after the cluster promoted its replica"
        };
        let detail = format!(
            "every slot served again {how}; {lost} of {before} sessions did not come through"
        );
        state.events.push(EventRecord {
            t: ok_at,
            event: "redis_failover",
            detail,
            sessions_lost: lost,
        });
    }
    if !restarted {
        // The old primary comes back after its downtime; with its
        // nodes.conf it rejoins the cluster as a replica.
        sleep_until(clock.wall(back_at).into()).await;
        let detail = match cluster.borrow_mut().nodes[node].restart() {
            Ok(()) => "the old primary is back, as a replica in the cluster".to_string(),
            Err(e) => format!("the old primary could not restart: {e}"),
        };
        shared.borrow_mut().events.push(EventRecord {
            t: back_at,
            event: "redis_replica_back",
            detail,
            sessions_lost: 0,
        });
    }
}
