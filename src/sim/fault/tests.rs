//! The exact effect of each fault kind, checked by stepping a simulation
//! to just before and just after each of its actions and looking at the
//! servers and the store.

use std::path::Path;
use std::sync::Arc;

use crate::sim::engine::Simulation;
use crate::sim::events::{EventKind, StoreFaultKind};
use crate::sim::servers::Membership;
use crate::sim::store::{Lookup, SessionStore, Store};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::{ServerId, SessionId, UserId};

/// A run of `users` users on `servers` servers, the given store and
/// balancer, and the given `[[fault]]` tables. Think times are long (10 s)
/// and service short, so that little is in flight at any moment.
fn sim(servers: u32, workers: u32, strategy: &str, faults: &str) -> Simulation {
    sim_with(
        100,
        servers,
        workers,
        "constant\", value = \"1ms",
        strategy,
        faults,
    )
}

fn sim_with(
    users: u32,
    servers: u32,
    workers: u32,
    service: &str,
    strategy: &str,
    faults: &str,
) -> Simulation {
    let text = format!(
        r#"
name = "faults"
duration = "10m"
[workload]
users = {users}
arrival = {{ ramp = "0s" }}
think_time = {{ dist = "constant", value = "10s" }}
[servers]
count = {servers}
workers = {workers}
service_time = {{ dist = "{service}" }}
[store.redis]
latency = {{ dist = "constant", value = "100us" }}
persistence = "none"
[[strategy]]
name = "s"
{strategy}
{faults}
"#
    );
    let scenario =
        crate::scenario::parse(&text, Path::new("faults.toml")).unwrap_or_else(|e| panic!("{e}"));
    Simulation::new(Arc::new(scenario), 0)
}

fn at(secs: f64) -> SimTime {
    SimTime::ZERO + SimDuration::from_nanos_f64(secs * 1e9)
}

/// Sessions the local store holds on `server`.
fn on(sim: &mut Simulation, server: u32) -> usize {
    match sim.store() {
        Store::Local(local) => local.sessions_on(ServerId(server)),
        _ => panic!("a local store"),
    }
}

/// What the store says of session 1 at `t` (and refreshes it if found).
fn probe(sim: &mut Simulation, t: f64) -> Lookup {
    sim.store()
        .access(at(t), ServerId(0), SessionId(1), UserId(0))
        .lookup
}

fn last_event(sim: &Simulation) -> EventKind {
    sim.world().events().last().expect("an event").kind.clone()
}

const STICKY_LOCAL: &str = "balancer = \"sticky\"\nstore = \"local\"";
const RR_REDIS: &str = "balancer = \"round_robin\"\nstore = \"redis\"";

#[test]
fn a_server_crash_empties_that_server_and_it_comes_back_empty() {
    let mut sim = sim(
        2,
        0,
        STICKY_LOCAL,
        r#"[[fault]]
at = "60s"
kind = "server_crash"
server = 1
recover_after = "30s""#,
    );
    sim.run_until(at(60.0));
    // Sticky placed the 100 users alternately: 50 sessions each.
    assert_eq!((on(&mut sim, 0), on(&mut sim, 1)), (50, 50));
    sim.run_until(at(60.0) + SimDuration::from_nanos(1));
    assert!(!sim.world().servers.is_running(ServerId(1)));
    assert_eq!((on(&mut sim, 0), on(&mut sim, 1)), (50, 0));
    let crash = &sim.world().events()[0];
    assert_eq!(crash.t, at(60.0));
    assert_eq!(
        crash.kind,
        EventKind::ServerCrashed {
            server: ServerId(1),
            orphans: 0
        }
    );
    // Every session on the server was held by a logged-in user.
    assert_eq!(crash.sessions_destroyed, 50);
    assert_eq!(sim.world().fault_losses()[0], Some(50));
    sim.run_until(at(90.0));
    assert!(!sim.world().servers.is_running(ServerId(1)));
    sim.run_until(at(90.0) + SimDuration::from_nanos(1));
    assert!(sim.world().servers.is_running(ServerId(1)));
    assert_eq!(
        last_event(&sim),
        EventKind::ServerRecovered {
            server: ServerId(1)
        }
    );
}

#[test]
fn a_crash_fails_the_queued_requests_at_once_and_the_running_one_at_its_end() {
    // One worker per server and 100 ms of service: at 0 s, 50 logins queue
    // on each server. Each takes 100 ms plus the local store's 1 µs, and
    // the next starts when it ends, so the third ends at 0.300003 s. At
    // 0.25 s server 1 has served two, runs the third and has 47 waiting.
    let mut sim = sim_with(
        100,
        2,
        1,
        "constant\", value = \"100ms",
        STICKY_LOCAL,
        r#"[[fault]]
at = "250ms"
kind = "server_crash"
server = 1
recover_after = "30s""#,
    );
    sim.run_until(at(0.25));
    assert_eq!(sim.world().servers.in_flight(ServerId(1)), 48);
    assert_eq!(
        sim.finish_errors_after(at(0.25) + SimDuration::from_nanos(1)),
        47
    );
    assert_eq!(sim.finish_errors_after(at(0.300_003)), 47);
    assert_eq!(sim.finish_errors_after(at(0.300_004)), 48);
}

impl Simulation {
    /// Runs until `t` and returns the errors counted so far.
    fn finish_errors_after(&mut self, t: SimTime) -> u64 {
        self.run_until(t);
        self.world().recorder.totals.errors
    }
}

#[test]
fn a_redis_restart_without_persistence_loses_everything_and_answers_again_after_downtime() {
    let mut sim = sim(
        2,
        0,
        RR_REDIS,
        r#"[[fault]]
at = "60s"
kind = "redis_restart"
mode = "crash"
downtime = "10s""#,
    );
    sim.run_until(at(60.0) + SimDuration::from_nanos(1));
    let stop = sim.world().events()[0].clone();
    assert_eq!(stop.t, at(60.0));
    assert!(matches!(stop.kind, EventKind::StoreStopped { .. }));
    assert_eq!(stop.sessions_destroyed, 100);
    assert_eq!(probe(&mut sim, 65.0), Lookup::Unavailable);
    sim.run_until(at(70.0) + SimDuration::from_nanos(1));
    // Nothing to load: it answers at once, and session 1 is gone.
    assert_eq!(
        last_event(&sim),
        EventKind::StoreStarted { ready: at(70.0) }
    );
    assert_eq!(probe(&mut sim, 70.0), Lookup::Missing);
}

#[test]
fn a_failover_promotes_the_replica_after_down_after_and_the_delay() {
    let strategy = "balancer = \"round_robin\"\nstore = \"redis\"\nredis = { replicas = 1, \
                    down_after = \"5s\", failover_delay = \"2s\" }";
    let mut sim = sim(
        2,
        0,
        strategy,
        r#"[[fault]]
at = "60s"
kind = "redis_restart"
mode = "crash"
downtime = "30s""#,
    );
    sim.run_until(at(60.0) + SimDuration::from_nanos(1));
    assert_eq!(
        last_event(&sim),
        EventKind::PrimaryLost {
            mode: crate::sim::store::RestartMode::Crash,
            down_after: SimDuration::from_secs(5),
            promote_at: at(67.0),
            cluster: false,
        }
    );
    assert_eq!(probe(&mut sim, 66.9), Lookup::Unavailable);
    sim.run_until(at(67.0) + SimDuration::from_nanos(1));
    assert!(matches!(last_event(&sim), EventKind::Promoted { .. }));
    // The replica answers at once, with the sessions it had.
    assert_eq!(probe(&mut sim, 67.0), Lookup::Found);
    sim.run_until(at(90.0) + SimDuration::from_nanos(1));
    assert!(matches!(last_event(&sim), EventKind::ReplicaBack { .. }));
}

#[test]
fn a_partition_cuts_the_link_for_its_duration_and_redis_keeps_everything() {
    let fault = r#"[[fault]]
at = "60s"
kind = "redis_partition"
duration = "10s""#;
    let mut sim = sim(2, 0, RR_REDIS, fault);
    sim.run_until(at(60.0) + SimDuration::from_nanos(1));
    assert_eq!(
        last_event(&sim),
        EventKind::StoreLinkCut {
            duration: SimDuration::from_secs(10)
        }
    );
    use crate::sim::link::Verdict;
    assert_eq!(sim.world().link.verdict(at(69.9)), Verdict::Drop);
    assert_eq!(sim.world().link.verdict(at(70.0)), Verdict::Pass);
    // Every user's request in the cut fails; none is logged out after it.
    sim.run_until(at(80.0));
    assert_eq!(sim.world().recorder.totals.forced_logouts, 0);
    assert!(sim.world().recorder.totals.errors >= 100);
    // A strategy without Redis is not touched.
    let mut local = sim_local_partition(fault);
    local.run_until(at(60.0) + SimDuration::from_nanos(1));
    assert_eq!(
        last_event(&local),
        EventKind::NoStoreServer {
            fault: StoreFaultKind::Partition,
        }
    );
    assert_eq!(local.world().link.verdict(at(65.0)), Verdict::Pass);
}

fn sim_local_partition(fault: &str) -> Simulation {
    sim(2, 0, STICKY_LOCAL, fault)
}

#[test]
fn a_rolling_deploy_replaces_one_server_per_pause_lowest_first() {
    let mut sim = sim(
        3,
        0,
        STICKY_LOCAL,
        r#"[[fault]]
at = "60s"
kind = "rolling_deploy"
pause = "10s""#,
    );
    let in_service = |sim: &Simulation| -> Vec<u32> {
        sim.world()
            .servers
            .in_service()
            .iter()
            .map(|s| s.0)
            .collect()
    };
    let eps = SimDuration::from_nanos(1);
    sim.run_until(at(60.0) + eps);
    assert_eq!(in_service(&sim), [1, 2, 3]);
    assert_eq!(on(&mut sim, 0), 0, "the replaced server's memory is gone");
    sim.run_until(at(70.0) + eps);
    assert_eq!(in_service(&sim), [2, 3, 4]);
    sim.run_until(at(80.0) + eps);
    assert_eq!(in_service(&sim), [3, 4, 5]);
    sim.run_until(at(90.0) + eps);
    assert_eq!(last_event(&sim), EventKind::DeployFinished);
}

#[test]
fn a_rolling_deploy_with_drain_keeps_pinned_users_until_the_replacement() {
    let mut sim = sim(
        3,
        0,
        STICKY_LOCAL,
        r#"[[fault]]
at = "60s"
kind = "rolling_deploy"
pause = "10s"
drain = "5s""#,
    );
    let eps = SimDuration::from_nanos(1);
    sim.run_until(at(60.0) + eps);
    assert_eq!(
        sim.world().servers.membership(ServerId(0)),
        Membership::Draining
    );
    assert!(sim.world().servers.accepts_pinned(ServerId(0)));
    sim.run_until(at(65.0) + eps);
    assert_eq!(
        sim.world().servers.membership(ServerId(0)),
        Membership::Retired
    );
    // Drain and pause: the next server drains at 60 + 5 + 10 s.
    sim.run_until(at(75.0));
    assert_eq!(
        sim.world().servers.membership(ServerId(1)),
        Membership::InService
    );
    sim.run_until(at(75.0) + eps);
    assert_eq!(
        sim.world().servers.membership(ServerId(1)),
        Membership::Draining
    );
}

#[test]
fn blue_green_switches_every_request_to_a_new_fleet_at_once() {
    let mut sim = sim(
        3,
        0,
        STICKY_LOCAL,
        r#"[[fault]]
at = "60s"
kind = "blue_green"
grace = "1m""#,
    );
    sim.run_until(at(60.0));
    let held: usize = (0..3).map(|s| on(&mut sim, s)).sum();
    assert_eq!(held, 100);
    sim.run_until(at(60.0) + SimDuration::from_nanos(1));
    let in_service: Vec<u32> = sim
        .world()
        .servers
        .in_service()
        .iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(in_service, [3, 4, 5]);
    assert_eq!(sim.world().fault_losses()[0], Some(100));
}

#[test]
fn random_crashes_come_at_the_times_of_the_faults_own_stream() {
    let mut sim = sim(
        2,
        0,
        STICKY_LOCAL,
        r#"[[fault]]
at = "60s"
kind = "random_crashes"
mtbf = "60s"
mttr = "10s"
until = "9m""#,
    );
    let seed = sim.world().scenario().seed;
    let (mtbf, mttr) = (SimDuration::from_secs(60), SimDuration::from_secs(10));
    let crash = at(60.0) + super::random_crash_delay(seed, 0, ServerId(0), 0, false, mtbf);
    let back = crash + super::random_crash_delay(seed, 0, ServerId(0), 0, true, mttr);
    sim.run_until(crash);
    assert!(sim.world().servers.is_running(ServerId(0)));
    sim.run_until(crash + SimDuration::from_nanos(1));
    assert!(!sim.world().servers.is_running(ServerId(0)));
    sim.run_until(back + SimDuration::from_nanos(1));
    assert!(sim.world().servers.is_running(ServerId(0)));
}

#[test]
fn scale_out_adds_empty_servers_and_scale_in_drains_the_newest() {
    let mut sim = sim(
        3,
        0,
        STICKY_LOCAL,
        r#"[[fault]]
at = "60s"
kind = "scale_out"
add = 2

[[fault]]
at = "120s"
kind = "scale_in"
remove = 1
drain = "10s""#,
    );
    let eps = SimDuration::from_nanos(1);
    sim.run_until(at(60.0) + eps);
    assert_eq!(sim.world().servers.in_service().len(), 5);
    assert_eq!(on(&mut sim, 3) + on(&mut sim, 4), 0);
    sim.run_until(at(120.0) + eps);
    assert_eq!(
        sim.world().servers.membership(ServerId(4)),
        Membership::Draining
    );
    sim.run_until(at(130.0) + eps);
    assert_eq!(
        sim.world().servers.membership(ServerId(4)),
        Membership::Retired
    );
    assert_eq!(on(&mut sim, 4), 0);
    // Nobody was pinned to the new servers (sticky users keep their
    // first server), so nobody lost a session.
    assert_eq!(sim.world().fault_losses()[1], Some(0));
}
