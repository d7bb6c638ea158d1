//! What the app does when the session store is unreachable, stateless
//! cookies, and network partitions: reasoned expectations.

use crate::support::{run, strategy};

/// 600 active users (5 s think times) on three servers, Redis without
/// persistence, one fault at 3 minutes.
fn scenario(fault: &str) -> String {
    format!(
        r#"
name = "t"
seed = 8
duration = "6m"
[workload]
users = 600
arrival = {{ ramp = "20s" }}
think_time = {{ dist = "exponential", mean = "5s" }}
[servers]
count = 3
service_time = {{ dist = "constant", value = "2ms" }}
[store.redis]
latency = {{ dist = "constant", value = "500us" }}
persistence = "none"
[[strategy]]
name = "fail"
balancer = "round_robin"
store = "redis"
[[strategy]]
name = "logout"
balancer = "round_robin"
store = "redis"
on_store_error = "logout"
[[strategy]]
name = "fallback"
balancer = "round_robin"
store = "redis"
on_store_error = "fallback_auth"
reauth_latency = {{ dist = "constant", value = "40ms" }}
[[strategy]]
name = "cookie"
balancer = "round_robin"
store = "cookie"
[[fault]]
at = "3m"
{fault}
"#
    )
}

const CRASH: &str = "kind = \"redis_restart\"\nmode = \"crash\"\ndowntime = \"20s\"";
const PARTITION: &str = "kind = \"redis_partition\"\nduration = \"20s\"";

#[test]
fn fallback_authentication_turns_an_outage_into_latency_not_logouts() {
    // Redis without persistence crashes for 20 s: every session is lost.
    let results = run(&scenario(CRASH));
    // fail: every request of the 20 s outage fails at once and its user
    // thinks again, so each of the 600 users sends a Poisson number of
    // requests (mean 20 s / 5 s = 4) into it: ~2,400 errors, a Poisson
    // count with sd = sqrt(2,400) ~ 49. Seeds 1 to 8 gave 2,328 to 2,502
    // (sd 56); 4 sd either way. Then every user is logged out exactly once
    // when Redis is back empty.
    let fail = strategy(&results, "fail");
    assert!(
        (2_200..=2_600).contains(&fail.totals.errors),
        "{}",
        fail.totals.errors
    );
    assert_eq!(fail.users_affected, 600);
    assert_eq!(fail.totals.forced_logouts, 600);
    // fallback_auth: no error and no logout at all; the users are
    // re-authenticated from their token during the outage and once more when
    // their lost session is found missing; each re-auth costs 40 ms. In the
    // outage that is the same Poisson count as `fail`'s errors, a little
    // smaller because each re-auth delays its user's next request by 40 ms
    // (600 x 20 s / 5.04 s = ~2,380, sd ~49), plus exactly one per user
    // (600) after: ~2,980. Seeds 1 to 8 gave 2,908 to 3,084, each exactly
    // 600 more than the partition below (which loses nothing); 4 sd.
    let fallback = strategy(&results, "fallback");
    assert_eq!(fallback.totals.errors, 0);
    assert_eq!(fallback.totals.forced_logouts, 0);
    assert!(
        (2_780..=3_180).contains(&fallback.totals.reauths),
        "{}",
        fallback.totals.reauths
    );
    assert!(fallback.latency_ms(99.9) >= 40.0);
}

#[test]
fn the_logout_policy_turns_an_outage_into_logouts_not_errors() {
    // Every request in the outage finds "no session": a forced logout, and
    // the login that follows fails while Redis is down, which is an error.
    // So no user escapes: all 600 are logged out, each exactly once (a user
    // without a session only sends logins, which fail until Redis is back
    // and then create a session that survives the run; every seed from 1 to
    // 8 gave exactly 600).
    let results = run(&scenario(CRASH));
    let logout = strategy(&results, "logout");
    assert_eq!(logout.users_affected, 600);
    assert_eq!(logout.totals.forced_logouts, 600);
}

#[test]
fn signed_cookies_have_nothing_to_lose() {
    let results = run(&scenario(CRASH));
    let cookie = strategy(&results, "cookie");
    assert_eq!(cookie.totals.forced_logouts, 0);
    assert_eq!(cookie.totals.errors, 0);
    assert_eq!(cookie.totals.logins, 600);
}

#[test]
fn a_partition_fails_requests_but_loses_no_session() {
    // 20 s in which the app cannot reach Redis: about 2,400 errors with the
    // default policy (each dropped operation fails at once, so the same
    // Poisson count as the crash above, sd ~49; seeds 1 to 8 gave the same
    // 2,328 to 2,502 as the crash, request for request), and afterwards
    // every session is still there: no forced logout at all (Redis itself
    // never went down).
    let results = run(&scenario(PARTITION));
    let fail = strategy(&results, "fail");
    assert!(
        (2_200..=2_600).contains(&fail.totals.errors),
        "{}",
        fail.totals.errors
    );
    assert_eq!(fail.totals.forced_logouts, 0);
    assert_eq!(fail.fault_losses, [Some(0)]);
    let fallback = strategy(&results, "fallback");
    assert_eq!(fallback.totals.errors + fallback.totals.forced_logouts, 0);
}

const SLOW: &str = "kind = \"redis_slow\"\nduration = \"20s\"\nlatency = \"50ms\"";

#[test]
fn a_slow_redis_costs_latency_in_its_window_and_nothing_else() {
    // For 20 s every Redis command takes 50 ms longer. About 600 users x
    // 20 s / 5 s = 2,400 requests fall in the window, out of about 43,000
    // in the run (5.6%): so the 99th percentile of a Redis strategy is a
    // slow page request, whose four commands (HGETALL, EXISTS, HMSET,
    // PEXPIREAT) each pay the delay: 2 ms + 4 x (0.5 + 50) ms = 204 ms;
    // the 90th is a normal one, 2 + 4 x 0.5 = 4 ms (constant
    // distributions; HdrHistogram's 3 digits give 0.1%, 0.2 ms at 204).
    // The cookie strategy has no Redis and is untouched. Nothing fails,
    // nobody is logged out.
    let results = run(&scenario(SLOW));
    for name in ["fail", "logout", "fallback"] {
        let r = strategy(&results, name);
        assert_eq!(r.totals.errors + r.totals.forced_logouts, 0, "{name}");
        assert!(
            (r.latency_ms(99.0) - 204.0).abs() < 0.25,
            "{name}: {}",
            r.latency_ms(99.0)
        );
        assert!(
            (r.latency_ms(90.0) - 4.0).abs() < 0.01,
            "{name}: {}",
            r.latency_ms(90.0)
        );
        assert_eq!(r.events[0].name(), "redis_slow");
    }
    let cookie = strategy(&results, "cookie");
    assert!(cookie.max_latency_ms() < 3.0, "{}", cookie.max_latency_ms());
    assert_eq!(
        cookie.events[0].detail(),
        "redis slowdown: no effect, sessions are not in Redis"
    );
}

#[test]
fn appendfsync_always_puts_an_fsync_in_every_write_and_everysec_does_not() {
    // 600 users thinking 5 s: 120 requests a second. On a 7,200 rpm disk an
    // fsync takes 8 ms typically (lognormal, p99 25 ms): with `always` each
    // write waits for the fsync covering it, one fsync for all the writes
    // that arrive while the previous one runs (group commit), so a write
    // waits at least one fsync and at most about two. Spring sends HMSET
    // and PEXPIREAT one by one, so a page request (2 ms + 4 round trips of
    // 0.5 ms) pays two such waits: its median lies between 4 + 2 x 8 = 20
    // ms and 4 + 4 x 8 = 36 ms. Pipelined (2 round trips, one wait): 3 ms
    // + one to two fsyncs, 11 to 19 ms, so pipelining saves at least one
    // fsync's median. With `everysec` a background thread fsyncs and
    // replies do not wait: every page request takes exactly 4 ms.
    let text = |fsync: &str, pipeline: bool| {
        format!(
            r#"
name = "t"
seed = 8
duration = "3m"
[workload]
users = 600
arrival = {{ ramp = "20s" }}
think_time = {{ dist = "exponential", mean = "5s" }}
[servers]
count = 3
service_time = {{ dist = "constant", value = "2ms" }}
[store.redis]
latency = {{ dist = "constant", value = "500us" }}
persistence = "aof"
appendfsync = "{fsync}"
disk = "hdd"
pipeline = {pipeline}
[[strategy]]
name = "s"
balancer = "round_robin"
store = "redis"
"#
        )
    };
    let always = run(&text("always", false)).remove(0);
    let p50 = always.latency_ms(50.0);
    assert!((20.0..=36.0).contains(&p50), "always p50 {p50}");
    assert!(
        always.latency_ms(99.0) >= 29.0,
        "{}",
        always.latency_ms(99.0)
    );
    let pipelined = run(&text("always", true)).remove(0);
    let piped_p50 = pipelined.latency_ms(50.0);
    assert!(
        (11.0..=19.0).contains(&piped_p50),
        "pipelined p50 {piped_p50}"
    );
    assert!(p50 - piped_p50 >= 8.0, "{p50} vs {piped_p50}");
    let everysec = run(&text("everysec", false)).remove(0);
    assert!(
        (everysec.latency_ms(99.9) - 4.0).abs() < 0.01,
        "{}",
        everysec.latency_ms(99.9)
    );
}
