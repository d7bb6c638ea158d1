//! Scaling the farm out and in: reasoned expectations for each balancer.

use lbsim::sim::rng::hash64;

use crate::support::{run, strategy};

/// 2,000 active users (5 s think times, all arrived in the first 20 s) on
/// four servers, sessions in each server's memory unless `store` says
/// otherwise, one scaling fault at 5 minutes.
fn scaled(balancer: &str, store: &str, fault: &str) -> String {
    format!(
        r#"
name = "t"
seed = 12
duration = "8m"
[workload]
users = 2000
arrival = {{ ramp = "20s" }}
think_time = {{ dist = "exponential", mean = "5s" }}
[servers]
count = 4
service_time = {{ dist = "constant", value = "2ms" }}
[[strategy]]
name = "s"
balancer = "{balancer}"
store = "{store}"
[[fault]]
at = "5m"
{fault}
"#
    )
}

const SCALE_OUT: &str = "kind = \"scale_out\"\nadd = 1";

#[test]
fn ip_hash_moves_most_users_on_a_scale_out_and_each_move_is_a_logout() {
    // hash mod 4 -> hash mod 5 keeps a user only when both agree, 1 time in
    // 5: about 4/5 = 1,600 users move and find no session. Hashing spreads
    // 2,000 users with a binomial sd of ~18, so 4% of slack is ~4 sd. (The
    // addresses do not depend on the seed: seeds 1 to 8 all move the same
    // 1,614 users.)
    let results = run(&scaled("ip_hash", "local", SCALE_OUT));
    let s = strategy(&results, "s");
    let share = s.users_affected as f64 / 2000.0;
    assert!((share - 0.8).abs() < 0.04, "{share}");
    // Before the scale-out nobody was logged out: ip_hash is sticky.
    let before: u64 = s
        .timeseries
        .iter()
        .filter(|r| r.t.as_secs_f64() <= 300.0)
        .map(|r| r.counts.forced_logouts)
        .sum();
    assert_eq!(before, 0);
}

#[test]
fn consistent_hashing_moves_only_about_one_user_in_n_plus_1() {
    // The new server takes the arcs just before its 16 points (HAProxy's
    // points for weight 1), about 1/5 of the ring; but 16 of 80 points give
    // it a share with sd ~0.045 (Beta(16, 64)), too wide to test 1/5 with.
    // So the expectation is this ring's own arc share for the new server,
    // with the points placed as lbsim places them, and the users moved are a
    // binomial sample of it: sd sqrt(0.17 x 0.83 / 2,000) ~ 0.0084. The
    // share is 0.1677; the addresses do not depend on the seed, and seeds 1
    // to 8 all move the same 349 users (0.1745, 0.8 sd above). 4 sd either
    // way; map-based hashing (0.8), or moving users between old servers,
    // would fall far outside.
    let mut ring: Vec<(u64, u32)> = (0..5u32)
        .flat_map(|server| {
            (0..16u64).map(move |point| (hash64(&[0x7269_6e67, u64::from(server), point]), server))
        })
        .collect();
    ring.sort_unstable();
    // A user goes to the first point at or after its hash: each point owns
    // the arc from the previous point.
    let new_server_arc: f64 = (0..ring.len())
        .filter(|&i| ring[i].1 == 4)
        .map(|i| {
            let previous = ring[(i + ring.len() - 1) % ring.len()].0;
            ring[i].0.wrapping_sub(previous) as f64 / 2f64.powi(64)
        })
        .sum();
    assert!(
        (new_server_arc - 0.2).abs() < 0.045 * 4.0,
        "{new_server_arc}"
    );
    let results = run(&scaled("consistent_hash", "local", SCALE_OUT));
    let share = strategy(&results, "s").users_affected as f64 / 2000.0;
    let sd = (new_server_arc * (1.0 - new_server_arc) / 2000.0).sqrt();
    assert!(
        (share - new_server_arc).abs() < 4.0 * sd,
        "{share} moved, the new server's arcs hold {new_server_arc}"
    );
}

#[test]
fn sticky_sessions_leave_a_new_server_idle_after_a_scale_out() {
    // Every user is already pinned when server 4 joins and no user arrives
    // later, so the new server gets no request at all: the imbalance that
    // makes sticky farms scale badly. Nobody is logged out.
    let results = run(&scaled("sticky", "local", SCALE_OUT));
    let s = strategy(&results, "s");
    assert_eq!(s.totals.forced_logouts, 0);
    let to_new: u64 = s
        .timeseries
        .iter()
        .map(|r| r.server_requests.get(4).copied().unwrap_or(0))
        .sum();
    assert_eq!(to_new, 0);
    // Round-robin over Redis uses it at once: a fifth of the requests, and
    // exactly so: the rotation gives the five servers, over any stretch of
    // requests, counts that differ by at most one (seeds 1 to 8: always).
    let results = run(&scaled("round_robin", "redis", SCALE_OUT));
    let rr = strategy(&results, "s");
    let after: Vec<u64> = (0..5)
        .map(|i| {
            rr.timeseries
                .iter()
                .filter(|r| r.t.as_secs_f64() > 310.0)
                .map(|r| r.server_requests.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let busiest = after.iter().max().unwrap();
    let idlest = after.iter().min().unwrap();
    assert!(busiest - idlest <= 1, "{after:?}");
    assert_eq!(rr.totals.forced_logouts, 0);
}

#[test]
fn a_scale_in_logs_out_the_users_of_the_removed_server() {
    // Sticky pins users round-robin at their first request, exactly 500 per
    // server; removing one server (the newest, server 3) loses its 500
    // sessions, at once or after draining.
    let at_once = run(&scaled(
        "sticky",
        "local",
        "kind = \"scale_in\"\nremove = 1",
    ));
    let s = strategy(&at_once, "s");
    assert_eq!(s.fault_losses, [Some(500)]);
    assert_eq!(s.users_affected, 500);
    let drained = run(&scaled(
        "sticky",
        "local",
        "kind = \"scale_in\"\nremove = 1\ndrain = \"1m\"",
    ));
    let d = strategy(&drained, "s");
    assert_eq!(d.fault_losses, [Some(500)]);
    // While draining, its users are still served: no logout before 6 min.
    let early: u64 = d
        .timeseries
        .iter()
        .filter(|r| r.t.as_secs_f64() <= 360.0)
        .map(|r| r.counts.forced_logouts)
        .sum();
    assert_eq!(early, 0);
    assert_eq!(d.users_affected, 500);
    // With Redis nobody notices.
    let redis = run(&scaled(
        "sticky",
        "redis",
        "kind = \"scale_in\"\nremove = 1",
    ));
    assert_eq!(strategy(&redis, "s").totals.forced_logouts, 0);
}

#[test]
fn health_checks_detect_a_dead_server_only_after_fall_failed_checks() {
    // Checks every 2 s, fall 3, rise 2. HAProxy spreads the first checks of
    // the 5 servers over one interval by position, so server 1 is checked
    // at 0.4 s, 2.4 s, ... It dies at 60 s; the checks at 60.4, 62.4 and
    // 64.4 s fail and the balancer takes it out at 64.4 s (between (fall-1)
    // and fall intervals after the crash, depending on the phase). It comes
    // back at 120 s; checks at 120.4 and 122.4 s pass: back in rotation at
    // 122.4 s. Meanwhile round-robin still sends it a fifth of the
    // requests, but the connection is refused at once and HAProxy
    // re-balances a round-robin retry at once to the next server: no error
    // and no delay, only the requests the crash cut.
    let text = |health: &str| {
        format!(
            r#"
name = "t"
seed = 2
duration = "4m"
[workload]
users = 1000
arrival = {{ ramp = "20s" }}
think_time = {{ dist = "exponential", mean = "5s" }}
[servers]
count = 5
service_time = {{ dist = "constant", value = "2ms" }}
{health}
[[strategy]]
name = "s"
balancer = "round_robin"
store = "redis"
[[fault]]
at = "60s"
kind = "server_crash"
server = 1
recover_after = "60s"
"#
        )
    };
    let checked = run(&text(
        "health_check = { interval = \"2s\", fall = 3, rise = 2 }",
    ));
    let s = strategy(&checked, "s");
    let at = |event: &str| {
        s.events
            .iter()
            .find(|e| e.name() == event)
            .map(|e| e.t.as_secs_f64())
            .unwrap_or(-1.0)
    };
    assert_eq!(at("server_marked_down"), 64.4);
    assert_eq!(at("server_marked_up"), 122.4);
    // Without `option redispatch`, a request sent to server 1 before it is
    // marked down is retried there and fails (HAProxy 2.6,
    // `stream_choose_redispatch`): 200 requests a second, a fifth to
    // server 1, for 4.4 s: ~176, Poisson sd ~13; 4 sd either side.
    assert!(
        (124..=228).contains(&s.totals.errors),
        "{}",
        s.totals.errors
    );
    // No served request waited for a connect timeout (5 s) or a retry's
    // turn-around (1 s): the slowest took 2 ms and four Redis round trips
    // (each lognormal, median 0.4 ms, p99 2 ms).
    assert!(s.latency_ms(100.0) < 100.0, "{}", s.latency_ms(100.0));
    assert_eq!(s.totals.forced_logouts, 0);
    // Instant knowledge: the crash costs at most the requests in flight.
    let instant = run(&text(""));
    assert!(strategy(&instant, "s").totals.errors <= 2);
}

/// 800 active users on 4 servers, sticky + in-memory and sticky + Redis,
/// one fault at 2 minutes, 12 minutes in all.
fn deploy(fault: &str) -> Vec<lbsim::sim::metrics::StrategyResult> {
    run(&format!(
        r#"
name = "t"
seed = 6
duration = "12m"
[workload]
users = 800
arrival = {{ ramp = "20s" }}
think_time = {{ dist = "exponential", mean = "5s" }}
[servers]
count = 4
service_time = {{ dist = "constant", value = "2ms" }}
[[strategy]]
name = "local"
balancer = "sticky"
store = "local"
[[strategy]]
name = "redis"
balancer = "sticky"
store = "redis"
[[fault]]
at = "2m"
{fault}
"#
    ))
}

#[test]
fn a_rolling_deploy_without_drain_logs_out_every_sticky_in_memory_user() {
    // Each of the 4 servers is stopped in turn with its sessions; every user
    // is pinned to one of them, so every user is logged out at least once
    // (some twice: re-pinned to an old server that is replaced later).
    let results = deploy("kind = \"rolling_deploy\"\npause = \"1m\"");
    let local = strategy(&results, "local");
    assert_eq!(local.users_affected, 800);
    assert!(local.totals.forced_logouts >= 800);
    let replaced = local
        .events
        .iter()
        .filter(|e| e.name() == "server_added")
        .count();
    assert_eq!(replaced, 4);
    assert_eq!(strategy(&results, "redis").totals.forced_logouts, 0);
}

#[test]
fn blue_green_logs_out_every_in_memory_user_exactly_once() {
    // All sessions live on blue; at the switch every user lands on green
    // without its session: 800 forced logouts, one per user, and none after.
    let results = deploy("kind = \"blue_green\"\ngrace = \"5m\"");
    let local = strategy(&results, "local");
    assert_eq!(local.fault_losses, [Some(800)]);
    assert_eq!(local.totals.forced_logouts, 800);
    assert_eq!(local.users_affected, 800);
    assert_eq!(strategy(&results, "redis").totals.forced_logouts, 0);
}

#[test]
fn random_crashes_hit_every_strategy_at_the_same_times() {
    // Each of 4 servers alternates ~3 min up (mtbf) and ~30 s down (mttr)
    // for 9 minutes: about 4 x 9 / 3.5 = 10 crashes. The crash times come
    // from the fault's own stream, so both strategies see the same ones.
    // Ten crashes cannot test the rate (sd ~2.8, see below; 4 sd reaches
    // zero): a long run with one user does, further down.
    let results =
        deploy("kind = \"random_crashes\"\nmtbf = \"3m\"\nmttr = \"30s\"\nuntil = \"11m\"");
    let crashes = |name: &str| -> Vec<(f64, String)> {
        strategy(&results, name)
            .events
            .iter()
            .filter(|e| e.name() == "server_crash")
            .map(|e| {
                (
                    e.t.as_secs_f64(),
                    e.detail().split(';').next().unwrap().to_string(),
                )
            })
            .collect()
    };
    let local = crashes("local");
    assert!(!local.is_empty());
    assert_eq!(local, crashes("redis"));
    assert!(strategy(&results, "local").totals.forced_logouts > 0);
    assert_eq!(strategy(&results, "redis").totals.forced_logouts, 0);
    // The rate, over 658 min (2 min to 11 h) on the same 4 servers: each is
    // an alternating renewal process with cycles C = up + down, E[C] = 3.5
    // min, Var C = 3^2 + 0.5^2 = 9.25 min^2, so 4 x 658 / 3.5 = ~752 crashes
    // (plus 4/49 from starting up), Var ~ 4 x 658 x 9.25 / 3.5^3 = ~568,
    // sd ~24; seeds 1 to 200 gave a mean of 752.4 and an sd of 23.6. 4 sd
    // either way: twice the rate, an mttr ignored (cycles of 3 min: ~877) or
    // crashes counted twice fall outside.
    let long = run(r#"
name = "t"
seed = 6
duration = "12h"
[workload]
users = 1
arrival = { ramp = "1s" }
think_time = { dist = "exponential", mean = "5s" }
[servers]
count = 4
service_time = { dist = "constant", value = "2ms" }
[[strategy]]
name = "s"
balancer = "round_robin"
store = "redis"
[[fault]]
at = "2m"
kind = "random_crashes"
mtbf = "3m"
mttr = "30s"
until = "11h"
"#);
    let count = strategy(&long, "s")
        .events
        .iter()
        .filter(|e| e.name() == "server_crash")
        .count();
    assert!((657..=847).contains(&count), "{count}");
}

#[test]
fn imbalance_after_a_scale_out_is_five_quarters_for_sticky_and_even_for_round_robin() {
    // Sticky: the 4 old servers carry everything while 5 are in service,
    // so the busiest would be at (1/4) / (1/5) = 1.25 times the mean; but
    // each 10 s interval has a Poisson ~1,000 requests per old server (500
    // users x 10 s / 5 s, sd 31.6), and the busiest of four is on average
    // 1.03 sd above 1,000 (the expected maximum of four normals): 1.25 x
    // (1,000 + 32.5) / 1,000 = 1.29. Over the 17 intervals after the
    // scale-out, seeds 1 to 32 gave a mean of 1.2913 with an sd of 0.0061
    // (seed 12: 1.2862); 4 sd either way. The new server taking its share,
    // or not counted as in service, would give about 1.04.
    let mean_after = |results: &[lbsim::sim::metrics::StrategyResult]| {
        let rows: Vec<f64> = strategy(results, "s")
            .timeseries
            .iter()
            .filter(|r| r.t.as_secs_f64() > 310.0)
            .filter_map(|r| r.imbalance())
            .collect();
        rows.iter().sum::<f64>() / rows.len() as f64
    };
    let sticky = mean_after(&run(&scaled("sticky", "local", SCALE_OUT)));
    assert!((1.265..=1.315).contains(&sticky), "{sticky}");
    // Round-robin: in an interval of T requests (~4,000) the rotation gives
    // the five servers counts that differ by at most one, so the busiest is
    // at most 1 + 4 / T = 1.001 times the mean (about 1.0005 on average;
    // seeds 1 to 8 gave 1.0003 to 1.0007). Random choices would give ~1.04.
    let round_robin = mean_after(&run(&scaled("round_robin", "redis", SCALE_OUT)));
    assert!((1.0..=1.0011).contains(&round_robin), "{round_robin}");
}
