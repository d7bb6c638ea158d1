//! The app's Redis client during an outage: `fail_fast` turns it into
//! errors, `lettuce` into requests that hang until the client reconnects
//! or the command times out. The expectations are Lettuce's schedule
//! (`sim::client`): attempts 2^k - 1 ms after the disconnection, capped 30 s
//! apart; a 60 s command timeout; TCP retransmissions 0.2 s x (2^k - 1)
//! after a cut.

use crate::support::{run, strategy};

/// 600 users thinking 5 s on average (120 requests a second), Redis with
/// an AOF fsynced every second, one fault at 3 minutes; the same workload
/// for both clients.
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
persistence = "aof"
appendfsync = "everysec"
[[strategy]]
name = "fail fast"
balancer = "round_robin"
store = "redis"
[[strategy]]
name = "lettuce"
balancer = "round_robin"
store = "redis"
redis = {{ client = "lettuce" }}
[[fault]]
at = "3m"
{fault}
"#
    )
}

#[test]
fn lettuce_holds_requests_through_a_crash_until_it_reconnects_after_redis_is_back() {
    // Redis's process dies for 10 s; the AOF keeps every session. Fail
    // fast: every request in the 10 s is an error (600 users / 5 s x 10 s
    // = 1,200, Poisson sd ~35). Lettuce: none is; each waits for the
    // reconnection, which comes at the first attempt after Redis is back,
    // 16.383 s after the crash (attempt 15; 2^14 - 1 = 8.191 s was too
    // early), and then everything is served. The longest wait is a request
    // held from the crash: 16.383 s + the 2 ms service (constant times, so
    // the only spread is HdrHistogram's 0.1%).
    let results = run(&scenario(
        "kind = \"redis_restart\"\nmode = \"crash\"\ndowntime = \"10s\"",
    ));
    let fail = strategy(&results, "fail fast");
    assert!(
        (1_060..=1_340).contains(&fail.totals.errors),
        "{}",
        fail.totals.errors
    );
    assert!(fail.max_latency_ms() < 10.0, "{}", fail.max_latency_ms());
    let lettuce = strategy(&results, "lettuce");
    assert_eq!(lettuce.totals.errors, 0);
    assert_eq!(lettuce.totals.forced_logouts, 0);
    let max = lettuce.max_latency_ms();
    assert!((max - 16_385.0).abs() < 17.0, "{max}");
    // Every user sends at most one request into the hang (it waits for its
    // answer): the held requests are at most the 600 users, at least the
    // ~1,200 x (1 - e^(-16.4/5))... of them that send within it, and at
    // 43,000 requests in the run the 99th percentile is one of them.
    assert!(
        lettuce.latency_ms(99.0) > 1_000.0,
        "{}",
        lettuce.latency_ms(99.0)
    );
}

#[test]
fn a_command_timeout_ends_a_long_hang_in_an_error_and_the_outage_outlasts_the_downtime() {
    // Down for 90 s: attempts at 32.767 s, 62.767 s, 92.767 s after the
    // crash; Redis is back at 90 s, so the client is back at 92.767 s.
    // Each user's first request into the outage is held 60 s and fails
    // (RedisCommandTimeoutException): its error comes 60 s + 2 ms after it
    // was sent, if it was sent before 32.767 s after the crash (later
    // ones are still waiting at 92.767 s); nearly every one of the 600
    // users sends within the first 32.767 s (P(think > 32.8 s) = e^(-6.6)
    // = 0.14%, about 1 user). The second request of each, sent after its
    // timeout, goes through at 92.767 s.
    let results = run(&scenario(
        "kind = \"redis_restart\"\nmode = \"crash\"\ndowntime = \"90s\"",
    ));
    let lettuce = strategy(&results, "lettuce");
    assert!(
        (590..=600).contains(&lettuce.totals.errors),
        "{}",
        lettuce.totals.errors
    );
    for p in [1.0, 50.0, 100.0] {
        let at = lettuce.error_latency_ms(p);
        assert!((at - 60_002.0).abs() < 61.0, "p{p} {at}");
    }
    assert_eq!(lettuce.totals.forced_logouts, 0);
    // The longest served request was held from after 32.767 s (its
    // deadline falls after the reconnection at 92.767 s), so it waited
    // between 32.767 s and 60 s: the few users who first sent that late.
    let max = lettuce.max_latency_ms();
    assert!((32_767.0..60_000.0).contains(&max), "{max}");
}

#[test]
fn a_partition_holds_requests_until_the_first_retransmission_after_it_heals() {
    // A 20 s cut: the connection stays up and the kernel retransmits
    // 0.2, 0.6, 1.4, ... 12.6, 25.4 s after the cut began; at 25.4 s the
    // held commands arrive and are answered. Fail fast gets ~2,400 errors
    // (sd ~50); Lettuce none, and its longest request waited 25.4 s.
    let results = run(&scenario("kind = \"redis_partition\"\nduration = \"20s\""));
    let fail = strategy(&results, "fail fast");
    assert!(
        (2_200..=2_600).contains(&fail.totals.errors),
        "{}",
        fail.totals.errors
    );
    let lettuce = strategy(&results, "lettuce");
    assert_eq!(lettuce.totals.errors + lettuce.totals.forced_logouts, 0);
    let max = lettuce.max_latency_ms();
    assert!((max - 25_404.0).abs() < 26.0, "{max}");
}

#[test]
fn after_a_host_crash_lettuce_waits_for_a_retransmission_to_be_reset() {
    // The host dies for 10 s: no connection closes, so Lettuce sees
    // nothing and holds every command. When the host is back, the next
    // retransmission (12.6 s after the crash) is answered with a reset;
    // Lettuce reconnects 1 ms later, to a Redis that lost up to the last
    // second of writes (everysec): a few users are logged out, nobody gets
    // an error.
    let results = run(&scenario(
        "kind = \"redis_restart\"\nmode = \"host_crash\"\ndowntime = \"10s\"",
    ));
    let lettuce = strategy(&results, "lettuce");
    assert_eq!(lettuce.totals.errors, 0);
    let max = lettuce.max_latency_ms();
    assert!((max - 12_604.0).abs() < 13.0, "{max}");
    let fail = strategy(&results, "fail fast");
    assert_eq!(
        lettuce.fault_losses, fail.fault_losses,
        "the client changes when requests are answered, not what Redis kept"
    );
}

#[test]
fn lettuce_with_shards_is_refused() {
    let text = scenario("kind = \"redis_partition\"\nduration = \"20s\"").replace(
        "redis = { client = \"lettuce\" }",
        "redis = { client = \"lettuce\", shards = 3 }",
    );
    let err = lbsim::scenario::parse(&text, std::path::Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("strategy[1].redis.client"), "{err}");
    assert!(err.contains("cluster client"), "{err}");
}
