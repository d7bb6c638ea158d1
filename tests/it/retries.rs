//! What a request to a dead server the balancer has not yet marked down
//! costs: HAProxy's retries, turn-around and redispatch, nginx's next
//! upstream, and the difference between a dead process and a dead host.

use crate::support::{run, strategy};

/// 1,000 active users on 4 servers; server 1 dies at 60 s (its process, or
/// with `host` its machine) for a minute; health checks every 2 s with
/// `fall 3`, so the balancer marks a dead process down at 64.5 s (server 1
/// of 4 is checked at 0.5 s, 2.5 s, ...: the checks at 60.5, 62.5 and
/// 64.5 s fail); a dead host's checks wait for their connection, later.
fn farm(servers_extra: &str, strategies: &str, host: bool) -> String {
    let mode = if host { "host" } else { "process" };
    format!(
        r#"
name = "t"
seed = 12
duration = "3m"
[workload]
users = 1000
arrival = {{ ramp = "10s" }}
think_time = {{ dist = "exponential", mean = "5s" }}
[servers]
count = 4
service_time = {{ dist = "constant", value = "2ms" }}
health_check = {{ interval = "2s", fall = 3, rise = 2 }}
{servers_extra}
[store.redis]
latency = {{ dist = "constant", value = "500us" }}
persistence = "aof"
{strategies}
[[fault]]
at = "60s"
kind = "server_crash"
server = 1
mode = "{mode}"
recover_after = "60s"
"#
    )
}

const STICKY: &str = r#"
[[strategy]]
name = "local"
balancer = "sticky"
store = "local"
[[strategy]]
name = "redis"
balancer = "sticky"
store = "redis"
"#;

/// One round-robin strategy with sessions in Redis.
const RR: &str = r#"
[[strategy]]
name = "rr"
balancer = "round_robin"
store = "redis"
"#;

#[test]
fn a_pinned_user_retries_the_dead_server_and_gets_a_503_without_redispatch() {
    // Sticky users of server 1 (a quarter, 250) are sent there until it is
    // marked down at 64.5 s. Each such request: refused, 1 s turn-around,
    // three retries on the same server (without `option redispatch` the
    // cookie's server is kept, even once marked down), then a 503, 3 s
    // after it was sent. Every pinned user that sends in [60, 64.5) gets
    // one: 250 x (1 - exp(-4.5 s / 5 s)) = ~148 (a second send in the
    // window would need the 3 s of retries and a think to fit in it),
    // binomial sd ~8. After 64.5 s the cookie's server is DOWN, HAProxy
    // ignores the cookie and balances the user elsewhere: nobody waits.
    let results = run(&farm("", STICKY, false));
    let redis = strategy(&results, "redis");
    assert!(
        (120..=180).contains(&redis.totals.errors),
        "{}",
        redis.totals.errors
    );
    assert!(
        (redis.error_latency_ms(50.0) - 3000.0).abs() < 5.0,
        "{}",
        redis.error_latency_ms(50.0)
    );
    assert_eq!(redis.totals.forced_logouts, 0);
    assert!(
        redis.latency_ms(100.0) < 10.0,
        "{}",
        redis.latency_ms(100.0)
    );
}

#[test]
fn with_redispatch_the_last_retry_goes_elsewhere_and_in_memory_users_are_logged_out() {
    // `option redispatch`: the third retry (3 s after the send) goes to
    // another server. A Redis user is served there, 3 s late; an in-memory
    // user finds no session there: a forced logout. No 503.
    let results = run(&farm("redispatch = true", STICKY, false));
    let redis = strategy(&results, "redis");
    assert_eq!(redis.totals.errors, 0, "{:?}", redis.totals);
    assert!(
        redis.latency_ms(100.0) >= 2900.0,
        "{}",
        redis.latency_ms(100.0)
    );
    let local = strategy(&results, "local");
    assert_eq!(local.totals.errors, 0);
}

#[test]
fn a_dead_host_makes_every_attempt_wait_for_timeout_connect() {
    // To a dead host every attempt waits `timeout connect` (5 s by
    // default); a dead process refuses at once. With `option redispatch`
    // round-robin re-balances each failed attempt at once
    // (`stream_choose_redispatch`, HAProxy 2.6): server 1's share of the
    // requests until it is marked down (70.5 s for a dead host) is served
    // 5 s late.
    let host = run(&farm("redispatch = true", RR, true));
    let rr_host = strategy(&host, "rr");
    assert!(rr_host.totals.errors <= 5, "{}", rr_host.totals.errors);
    assert!(
        (rr_host.latency_ms(100.0) - 5002.5).abs() < 10.0,
        "{}",
        rr_host.latency_ms(100.0)
    );
    let process = run(&farm("redispatch = true", RR, false));
    assert!(strategy(&process, "rr").latency_ms(100.0) < 10.0);
}

#[test]
fn without_redispatch_round_robin_retries_the_dead_server_until_a_503() {
    // Without `option redispatch`, HAProxy keeps a round-robin request on
    // the server it was assigned (`stream_choose_redispatch` re-balances
    // only under `PR_O_REDISP`; the real stack measured it,
    // tests/it/stack/agreement.rs). Every request sent to server 1 before
    // it is marked down fails: a dead host after four attempts of `timeout
    // connect` (20 s), a dead process after three 1 s turn-arounds (3 s).
    // A dead process is marked down at 64.5 s; a dead host's checks each
    // wait min(inter, timeout connect) = 2 s for their connection and the
    // next starts 2 s after one ends (`World::health_check`, HAProxy's
    // `process_chk_conn`): 60.5-62.5, 64.5-66.5, 68.5-70.5, marked down
    // at 70.5 s (tests/it/stack/host_crash.rs measured it on HAProxy). A
    // user whose request reaches server 1 waits on it for the rest of the
    // window, so each of the 1,000 users fails at most once: with 0.2
    // requests a second, a quarter of them to server 1, a user fails with
    // probability 1 - exp(-0.05 w) for a window of w seconds: 0.20 (~200)
    // for 4.5 s, 0.41 (~410) for 10.5 s. Binomial sd ~13 and ~16; 4.5 sd
    // either side.
    for (host, wait_ms, errors) in [(true, 20_000.0, 340..=480), (false, 3_000.0, 140..=260)] {
        let results = run(&farm("", RR, host));
        let rr = strategy(&results, "rr");
        assert!(
            errors.contains(&rr.totals.errors),
            "host {host}: {} errors",
            rr.totals.errors
        );
        assert!(
            (rr.error_latency_ms(50.0) - wait_ms).abs() < 10.0,
            "host {host}: {}",
            rr.error_latency_ms(50.0)
        );
        // The requests that reached a live server waited for nothing.
        assert!(rr.latency_ms(100.0) < 10.0, "{}", rr.latency_ms(100.0));
    }
}

#[test]
fn nginx_ip_hash_moves_only_the_dead_servers_users_and_brings_them_back() {
    // nginx's ip_hash hashes over every configured server and rehashes
    // past a failed one: only server 1's users (a quarter) move, to other
    // servers, and back when it returns, each time losing an in-memory
    // session: ~250 users logged out at the crash (their sessions died
    // with the process) and ~250 again when they move back at 122.5 s.
    // HAProxy's map-based `source` remaps most users on both transitions.
    let text = r#"
[[strategy]]
name = "ip_hash"
balancer = "ip_hash"
store = "local"
[[strategy]]
name = "source"
balancer = "source"
store = "local"
"#;
    let results = run(&farm("", text, false));
    let nginx = strategy(&results, "ip_hash");
    // A quarter of 1,000 users, binomial sd ~14; each logged out twice
    // (moved away, moved back).
    assert!(
        (190..=310).contains(&nginx.users_affected),
        "{}",
        nginx.users_affected
    );
    assert!(
        (380..=620).contains(&nginx.totals.forced_logouts),
        "{}",
        nginx.totals.forced_logouts
    );
    let source = strategy(&results, "source");
    // Down from 4 to 3 in the map moves 2/3 of the others' users and all
    // of server 1's: ~750 users; back up moves them all back.
    assert!(source.users_affected >= 650, "{}", source.users_affected);
}
