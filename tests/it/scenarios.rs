//! Scenario outcomes checked against values reasoned out in advance, not
//! recorded from a past run. Each test says its reasoning and why its
//! tolerance is what it is.

use crate::support::{run, strategy};

/// A population that is always active: short exponential think times, no
/// session ever reaches the 30-minute TTL, so every missing session is a
/// forced logout and never an expiry.
fn base(servers: u32, users: u32, extra: &str) -> String {
    format!(
        r#"
name = "t"
seed = 5
duration = "20m"
[workload]
users = {users}
arrival = {{ ramp = "30s" }}
think_time = {{ dist = "exponential", mean = "5s" }}
[servers]
count = {servers}
service_time = {{ dist = "constant", value = "2ms" }}
[store.redis]
latency = {{ dist = "constant", value = "500us" }}
{extra}
"#
    )
}

#[test]
fn round_robin_with_local_sessions_logs_out_n_minus_1_over_n() {
    // With many users interleaved, round-robin sends a user's next request
    // to each of the N servers about equally often; only 1 in N is the one
    // holding the session, so (N-1)/N of page requests are forced logouts.
    // ~200k page requests give a binomial standard error under 0.1%; 1.5
    // points of tolerance absorbs the residual correlation of strict rotation.
    for n in [2u32, 4, 8] {
        let text = base(
            n,
            1000,
            "[[strategy]]\nname = \"rr\"\nbalancer = \"round_robin\"\nstore = \"local\"\n",
        );
        let results = run(&text);
        let rr = strategy(&results, "rr");
        let expected = 100.0 * f64::from(n - 1) / f64::from(n);
        let got = rr.totals.logout_pct();
        assert!(
            (got - expected).abs() < 1.5,
            "N={n}: {got:.2}% vs {expected:.2}%"
        );
        assert_eq!(rr.totals.expired, 0);
        assert_eq!(rr.totals.errors, 0);
    }
}

#[test]
fn sticky_sessions_without_faults_never_log_anyone_out() {
    let text = base(
        4,
        1000,
        "[[strategy]]\nname = \"sticky\"\nbalancer = \"sticky\"\nstore = \"local\"\n",
    );
    let results = run(&text);
    let sticky = strategy(&results, "sticky");
    assert_eq!(sticky.totals.forced_logouts, 0);
    assert_eq!(sticky.totals.logins, 1000, "each user logs in exactly once");
}

#[test]
fn a_sticky_crash_of_one_of_n_servers_logs_out_users_over_n() {
    // Users arrive one by one and their first request is placed round-robin,
    // so exactly users/N are pinned to each server. All are active (5 s
    // think times), so when server 1 crashes every one of its users finds
    // its session gone on its next request: exactly users/N affected and
    // lost, and nobody else. Redis behind the same balancer loses nothing.
    let (n, users) = (5u32, 2000u32);
    let extra = r#"
[[strategy]]
name = "sticky"
balancer = "sticky"
store = "local"
[[strategy]]
name = "sticky + redis"
balancer = "sticky"
store = "redis"
redis = { persistence = "none" }
[[fault]]
at = "10m"
kind = "server_crash"
server = 1
recover_after = "1m"
"#;
    let results = run(&base(n, users, extra));
    let sticky = strategy(&results, "sticky");
    assert_eq!(sticky.fault_losses, [Some(u64::from(users / n))]);
    assert_eq!(sticky.users_affected, u64::from(users / n));
    assert_eq!(sticky.totals.forced_logouts, u64::from(users / n));
    let redis = strategy(&results, "sticky + redis");
    assert_eq!(redis.fault_losses, [Some(0)]);
    assert_eq!(redis.totals.forced_logouts, 0);
}

/// Redis strategies for each persistence policy, restarted by `mode` at
/// 10 min, with users arriving all the time (Poisson, 3 per second) so that
/// there are fresh logins inside every loss window.
fn redis_restart(mode: &str) -> Vec<lbsim::sim::metrics::StrategyResult> {
    let text = format!(
        r#"
name = "t"
seed = 9
duration = "12m"
[workload]
users = 2400
arrival = {{ poisson_rate = 3.0 }}
think_time = {{ dist = "exponential", mean = "5s" }}
[servers]
count = 3
service_time = {{ dist = "constant", value = "2ms" }}
[store.redis]
latency = {{ dist = "constant", value = "500us" }}
[[strategy]]
name = "none"
balancer = "round_robin"
store = "redis"
redis = {{ persistence = "none" }}
[[strategy]]
name = "always"
balancer = "round_robin"
store = "redis"
redis = {{ persistence = "aof", appendfsync = "always" }}
[[strategy]]
name = "everysec"
balancer = "round_robin"
store = "redis"
redis = {{ persistence = "aof", appendfsync = "everysec" }}
[[strategy]]
name = "no"
balancer = "round_robin"
store = "redis"
redis = {{ persistence = "aof", appendfsync = "no" }}
[[strategy]]
name = "rdb"
balancer = "round_robin"
store = "redis"
redis = {{ persistence = "rdb", save = [{{ after = "60s", changes = 1 }}] }}
[[fault]]
at = "10m"
kind = "redis_restart"
mode = "{mode}"
downtime = "5s"
"#
    );
    run(&text)
}

fn lost(results: &[lbsim::sim::metrics::StrategyResult], name: &str) -> u64 {
    strategy(results, name).fault_losses[0].expect("the fault happened")
}

#[test]
fn redis_without_persistence_loses_every_session_on_a_crash() {
    // At 10 min about 1800 users have arrived (3/s) and all are active, so
    // every one of them holds a live session and loses it; each is then
    // logged out exactly once.
    let results = redis_restart("crash");
    let none = strategy(&results, "none");
    let arrived_by_crash = none.fault_losses[0].unwrap();
    assert!(
        (1650..=1950).contains(&arrived_by_crash),
        "{arrived_by_crash}"
    );
    // A login in flight at the crash has created its session but not yet
    // handed the cookie to its user, so it is not counted as held; that
    // user is logged out too. At 3 logins/s taking 2.5 ms, that is rare.
    let forced = none.totals.forced_logouts;
    assert!(
        (arrived_by_crash..=arrived_by_crash + 2).contains(&forced),
        "{forced}"
    );
    assert_eq!(none.users_affected, forced, "each user is logged out once");
}

#[test]
fn a_process_crash_loses_nothing_with_aof_whatever_the_fsync_policy() {
    // Redis write(2)s the AOF before replying, and a killed process does not
    // take the kernel's page cache with it.
    let results = redis_restart("crash");
    for name in ["always", "everysec", "no"] {
        assert_eq!(lost(&results, name), 0, "{name}");
        assert_eq!(strategy(&results, name).totals.forced_logouts, 0, "{name}");
    }
    // RDB loses the logins since the last snapshot (at most 60 s ago, so at
    // most ~180 at 3 per second); there are some with 3 logins a second.
    let rdb = lost(&results, "rdb");
    assert!((1..=300).contains(&rdb), "rdb lost {rdb}");
}

#[test]
fn a_host_crash_loses_what_was_not_fsynced() {
    let results = redis_restart("host_crash");
    // always: fsync before every reply.
    assert_eq!(lost(&results, "always"), 0);
    // everysec: at most the logins of the last second, Poisson with mean 3;
    // P(more than 12) is about 1e-5.
    let everysec = lost(&results, "everysec");
    assert!(everysec <= 12, "everysec lost {everysec}");
    // no: the kernel writes back every 30 s, so up to 30 s of logins are
    // lost (mean about 45 over the window's average age); far more than
    // everysec, far fewer than no persistence.
    let no = lost(&results, "no");
    assert!(
        no > everysec && no <= 150,
        "no lost {no}, everysec {everysec}"
    );
    assert!(lost(&results, "none") > 1500);
    // Every lost session is a user logged out on its next request (plus,
    // rarely, a login that was in flight at the crash).
    for name in ["everysec", "no"] {
        let forced = strategy(&results, name).totals.forced_logouts;
        let lost = lost(&results, name);
        assert!(
            (lost..=lost + 2).contains(&forced),
            "{name}: {forced} vs {lost}"
        );
    }
}

#[test]
fn a_graceful_restart_keeps_everything_if_persistence_is_on() {
    let results = redis_restart("graceful");
    for name in ["always", "everysec", "no", "rdb"] {
        assert_eq!(lost(&results, name), 0, "{name}");
    }
    assert!(lost(&results, "none") > 1500);
}

#[test]
fn requests_fail_while_redis_is_down_and_nobody_is_logged_out_by_an_outage_alone() {
    // Redis fails every request from the crash until it has loaded its AOF
    // again: 5 s of downtime, then LOADING until the time its `redis_up`
    // event says. The N users holding a session at the crash (what no
    // persistence loses) each send one request per 5 s think on average,
    // errors included, so about N x window / 5 s fail: a Poisson count
    // (sd = its square root, ~45); 4.5 sd of tolerance. With AOF always
    // nobody is logged out.
    let results = redis_restart("crash");
    let always = strategy(&results, "always");
    let users = lost(&results, "none") as f64;
    let ready = always
        .events
        .iter()
        .find_map(|e| match e.kind {
            lbsim::sim::events::EventKind::StoreStarted { ready } => Some(ready),
            _ => None,
        })
        .expect("Redis restarts");
    let window = ready.as_secs_f64() - 600.0;
    assert!((5.0..6.0).contains(&window), "{window}");
    let expected = users * window / 5.0;
    let errors = always.totals.errors as f64;
    assert!(
        (errors - expected).abs() < 4.5 * expected.sqrt(),
        "{errors} errors, {expected:.0} expected"
    );
    assert_eq!(always.totals.forced_logouts, 0);
}

#[test]
fn the_balancer_does_not_matter_with_a_central_store() {
    // Common random numbers: both strategies see the same users, think times
    // and service times, and with sessions in Redis the balancer changes
    // nothing a user can see, so every count must be identical.
    let extra = r#"
[[strategy]]
name = "rr"
balancer = "round_robin"
store = "redis"
[[strategy]]
name = "sticky"
balancer = "sticky"
store = "redis"
"#;
    let results = run(&base(4, 500, extra));
    assert_eq!(
        strategy(&results, "rr").totals,
        strategy(&results, "sticky").totals
    );
}

/// One server with `workers` workers taking 10 ms per request, and users
/// arriving as a Poisson stream of 80 a second who each log in once (they
/// think 1,000 hours): an M/D/1 queue at utilisation 0.8 when there is one
/// worker.
fn md1(workers: u32, seed: u64) -> String {
    format!(
        r#"
name = "t"
seed = {seed}
duration = "10m"
[workload]
users = 48000
arrival = {{ poisson_rate = 80.0 }}
think_time = {{ dist = "exponential", mean = "1000h" }}
[servers]
count = 1
workers = {workers}
service_time = {{ dist = "constant", value = "10ms" }}
[[strategy]]
name = "s"
balancer = "round_robin"
store = "local"
"#
    )
}

#[test]
fn one_worker_queues_requests_as_an_m_d_1_queue() {
    // M/D/1 at rho = 80/s x 10 ms = 0.8: a request finds the worker idle
    // with probability 1 - rho = 0.2 and then takes exactly 10 ms (plus the
    // local store's 1 us); the mean wait is rho x S / (2 (1 - rho)) = 20 ms
    // (Pollaczek-Khinchine), so the mean latency is 30 ms. Over a 10-minute
    // run the waits are strongly correlated (busy periods last 50 ms on
    // average, some seconds), so the spread comes from runs, not from the
    // 48,000 requests: seeds 1 to 8 gave means of 29.5 to 31.1 ms (sd 0.5)
    // and idle shares of 0.196 to 0.203 (sd 0.0022); 2 ms and 0.01 are 4
    // sd. Unlimited workers serve every request in exactly 10.001 ms.
    for seed in [1, 2] {
        let one = &run(&md1(1, seed))[0];
        let mean = one.latency_us.mean() / 1000.0;
        assert!((mean - 30.0).abs() < 2.0, "seed {seed}: mean {mean}");
        let idle =
            one.latency_us.count_between(10_000, 10_002) as f64 / one.latency_us.len() as f64;
        assert!((idle - 0.2).abs() < 0.01, "seed {seed}: idle {idle}");
        let unlimited = &run(&md1(0, seed))[0];
        assert!((unlimited.latency_ms(100.0) - 10.001).abs() < 0.01);
        assert!((unlimited.latency_ms(0.0) - 10.001).abs() < 0.01);
        // Queueing delays requests; it drops none.
        assert_eq!(one.totals.requests, unlimited.totals.requests);
    }
}

#[test]
fn with_every_server_down_requests_fail_and_users_keep_their_sessions() {
    let extra = r#"
[[strategy]]
name = "sticky"
balancer = "sticky"
store = "redis"
[[fault]]
at = "5m"
kind = "server_crash"
server = 0
recover_after = "30s"
"#;
    let results = run(&base(1, 300, extra));
    let s = strategy(&results, "sticky");
    // 300 users at ~1 request per 5 s for 30 s: ~1800 failed requests (the
    // balancer knows at once that its only server is down, so each fails
    // at once and its user thinks again): a Poisson count, sd ~42; seeds 1
    // to 4 gave 1,838, 1,805, 1,668 and 1,824. 4 sd of tolerance.
    assert!(
        (1630..=1970).contains(&s.totals.errors),
        "{}",
        s.totals.errors
    );
    assert_eq!(s.totals.forced_logouts, 0);
}

#[test]
fn latency_percentiles_are_of_served_requests_and_errors_are_timed_apart() {
    // The only server is down from 1 to 19 min of a 20 min run: 90% of the
    // time every request fails at the balancer at once (no server: an
    // error with latency 0). Served requests take exactly 2 ms plus 0.5 ms
    // per Redis command: 3 ms for a login (HMSET, PEXPIREAT), 4 ms for a
    // page request (HGETALL, EXISTS, HMSET, PEXPIREAT). If errors were in
    // the percentiles, the median would be 0.
    let extra = r#"
[[strategy]]
name = "s"
balancer = "round_robin"
store = "redis"
[[fault]]
at = "1m"
kind = "server_crash"
server = 0
recover_after = "18m"
"#;
    let results = run(&base(1, 300, extra));
    let s = strategy(&results, "s");
    assert!(s.totals.errors > s.totals.requests / 2, "{:?}", s.totals);
    // HdrHistogram's 3 significant digits: within 0.005 ms at 3 and 4 ms.
    assert!(
        (s.latency_ms(0.0) - 3.0).abs() < 0.005,
        "min {}",
        s.latency_ms(0.0)
    );
    for p in [50.0, 99.9, 100.0] {
        assert!(
            (s.latency_ms(p) - 4.0).abs() < 0.005,
            "p{p}: {}",
            s.latency_ms(p)
        );
    }
    assert_eq!(s.error_latency_ms(99.0), 0.0);
    assert_eq!(
        s.error_latency_us.len() + s.latency_us.len(),
        s.totals.requests
    );
}

#[test]
fn sessions_expire_when_users_think_longer_than_the_ttl() {
    // Think time is constant 10 min with a 5 min TTL: every page request
    // after the first login finds an expired session, none is "forced".
    let text = r#"
name = "t"
duration = "1h"
[workload]
users = 10
arrival = { ramp = "0" }
think_time = { dist = "constant", value = "10m" }
[servers]
count = 1
service_time = { dist = "constant", value = "1ms" }
[session]
ttl = "5m"
[[strategy]]
name = "s"
balancer = "round_robin"
store = "local"
"#;
    let results = run(text);
    let s = &results[0];
    assert_eq!(s.totals.forced_logouts, 0);
    // Pages at 10, 20, 30, 40, 50 min (plus login latency) per user: 5 each.
    assert_eq!(s.totals.expired, 50);
    assert_eq!(s.totals.logins, 60);
}

/// A base scenario for fault-interaction tests: 600 active users on three
/// servers with four workers each.
fn faults_scenario(store: &str, faults: &str, report_interval: &str) -> String {
    format!(
        r#"
name = "t"
seed = 3
duration = "5m"
report_interval = "{report_interval}"
[workload]
users = 600
arrival = {{ ramp = "20s" }}
think_time = {{ dist = "exponential", mean = "3s" }}
[servers]
count = 3
workers = 4
service_time = {{ dist = "exponential", mean = "5ms" }}
[session]
ttl = "1m"
[store.redis]
latency = {{ dist = "constant", value = "500us" }}
persistence = "aof"
loading_rate = 1000.0
[[strategy]]
name = "s"
balancer = "least_connections"
store = "{store}"
{faults}
"#
    )
}

#[test]
fn crashing_a_server_that_is_already_down_changes_nothing() {
    // The second crash hits server 0 while it is down: it must not schedule
    // a second recovery (which used to reset a live server's queue).
    let crash = |at: &str| {
        format!(
            "[[fault]]\nat = \"{at}\"\nkind = \"server_crash\"\nserver = 0\nrecover_after = \"60s\"\n"
        )
    };
    let once = run(&faults_scenario("redis", &crash("1m"), "10s"));
    // Validation refuses two crashes of server 0 whose down times overlap
    // (the second's recover_after would be ignored, as this test shows), so
    // the second is moved into the first's down time after validation. The
    // engine's rule still matters for what validation cannot see: a
    // "random" server, random_crashes, a server retired by a deploy.
    let mut overlapping = crate::support::scenario(&faults_scenario(
        "redis",
        &format!("{}{}", crash("1m"), crash("3m")),
        "10s",
    ));
    overlapping.faults[1].at = lbsim::sim::time::SimTime::from_nanos(90_000_000_000);
    let twice = lbsim::runner::run(&overlapping);
    let recoveries = twice[0]
        .events
        .iter()
        .filter(|e| e.name() == "server_recovered")
        .count();
    assert_eq!(recoveries, 1);
    assert_eq!(twice[0].fault_losses, [Some(0), Some(0)]);
    // Everything else is as if the second fault had not been there.
    assert_eq!(once[0].totals, twice[0].totals);
}

#[test]
fn a_restart_while_redis_is_already_down_does_not_shorten_or_extend_the_outage() {
    let restart = |at: &str| {
        format!("[[fault]]\nat = \"{at}\"\nkind = \"redis_restart\"\ndowntime = \"60s\"\n")
    };
    let once = run(&faults_scenario("redis", &restart("1m"), "10s"));
    let overlapping = run(&faults_scenario(
        "redis",
        &format!("{}{}", restart("1m"), restart("1m30s")),
        "10s",
    ));
    let ups = overlapping[0]
        .events
        .iter()
        .filter(|e| e.name() == "redis_up")
        .count();
    assert_eq!(ups, 1);
    assert_eq!(once[0].totals, overlapping[0].totals);
}

#[test]
fn loading_time_does_not_depend_on_the_report_interval() {
    // Expired sessions are not loaded after a restart, whether or not a
    // report tick happened to sweep them first.
    let restart = "[[fault]]\nat = \"4m\"\nkind = \"redis_restart\"\ndowntime = \"5s\"\n";
    let fine = run(&faults_scenario("redis", restart, "10s"));
    let coarse = run(&faults_scenario("redis", restart, "5m"));
    assert_eq!(fine[0].totals, coarse[0].totals);
    assert_eq!(fine[0].events, coarse[0].events);
}

#[test]
fn a_login_in_flight_when_redis_dies_counts_as_a_lost_session() {
    // Everyone logs in at time 0 with 10 ms of service time; Redis (no
    // persistence) dies at 5 ms, after every session was written and before
    // any user received its cookie. All 1000 sessions are lost, and each
    // user is logged out on its next request.
    let text = r#"
name = "t"
duration = "2m"
[workload]
users = 1000
arrival = { ramp = "0" }
think_time = { dist = "exponential", mean = "5s" }
[servers]
count = 2
service_time = { dist = "constant", value = "10ms" }
[store.redis]
latency = { dist = "constant", value = "500us" }
persistence = "none"
[[strategy]]
name = "s"
balancer = "round_robin"
store = "redis"
[[fault]]
at = "5ms"
kind = "redis_restart"
downtime = "1s"
"#;
    let results = run(text);
    assert_eq!(results[0].fault_losses, [Some(1000)]);
    assert_eq!(results[0].totals.forced_logouts, 1000);
}

#[test]
fn per_server_load_shows_round_robin_even_and_a_crashed_server_idle() {
    // Round-robin spreads requests evenly over 4 servers; while server 2 is
    // down (5 to 6 min) it gets none and the others share its part.
    let extra = r#"
[[strategy]]
name = "rr"
balancer = "round_robin"
store = "redis"
[[fault]]
at = "5m"
kind = "server_crash"
server = 2
recover_after = "1m"
"#;
    let results = run(&base(4, 800, extra));
    let rr = strategy(&results, "rr");
    let total = |from: u64, to: u64| -> Vec<u64> {
        let mut sums = vec![0u64; 4];
        for row in rr
            .timeseries
            .iter()
            .filter(|r| (from..to).contains(&(r.t.as_nanos() / 1_000_000_000)))
        {
            for (s, n) in row.server_requests.iter().enumerate() {
                sums[s] += n;
            }
        }
        sums
    };
    let before = total(60, 300);
    let max = *before.iter().max().unwrap() as f64;
    let min = *before.iter().min().unwrap() as f64;
    assert!(max / min < 1.01, "uneven round-robin: {before:?}");
    let during = total(310, 360);
    assert_eq!(during[2], 0, "{during:?}");
    assert!(during[0] > 0 && during[1] > 0 && during[3] > 0);
}
