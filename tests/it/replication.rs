//! Redis replication with Sentinel failover: reasoned expectations.

use crate::support::run;

/// Users keep arriving (Poisson, 3 per second) so there are always fresh
/// logins; Redis has no persistence; its primary dies at 10 min for
/// `downtime`.
fn failover(redis: &str, downtime: &str) -> lbsim::sim::metrics::StrategyResult {
    failover_with_mode(redis, downtime, "crash")
}

fn failover_with_mode(
    redis: &str,
    downtime: &str,
    mode: &str,
) -> lbsim::sim::metrics::StrategyResult {
    let text = format!(
        r#"
name = "t"
seed = 17
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
persistence = "none"
{redis}
[[strategy]]
name = "s"
balancer = "round_robin"
store = "redis"
[[fault]]
at = "10m"
kind = "redis_restart"
mode = "{mode}"
downtime = "{downtime}"
"#
    );
    run(&text).remove(0)
}

#[test]
fn a_failover_loses_only_the_writes_still_in_transit() {
    // Constant 5 s lag: the promoted replica lacks exactly the writes of the
    // last 5 s before the crash. Among them, the logins (3/s, so ~15) are
    // lost sessions; the rest are refreshes, rolled back but still valid.
    // P(Poisson(15) outside 3..=35) is below 1e-4.
    let s = failover(
        "replicas = 1\nreplication_lag = { dist = \"constant\", value = \"5s\" }",
        "60s",
    );
    let lost = s.fault_losses[0].unwrap();
    assert!((3..=35).contains(&lost), "{lost}");
    assert!(
        s.events
            .iter()
            .any(|e| e.name() == "redis_failover" && e.t.as_secs_f64() == 631.2)
    );
    // Unavailable for down_after (30 s) + failover_delay (1.2 s, the
    // default, measured with real Sentinels): ~1,850 active users x 31.2 s
    // / 5 s think = ~11,500 errors.
    assert!(
        (9_000..=16_000).contains(&s.totals.errors),
        "{}",
        s.totals.errors
    );
    // Each lost session is a user logged out (plus, rarely, a login in flight).
    assert!(
        (lost..=lost + 3).contains(&s.totals.forced_logouts),
        "{} vs {lost}",
        s.totals.forced_logouts
    );
}

#[test]
fn a_graceful_shutdown_lets_the_replica_catch_up_and_loses_nothing() {
    // The same failover after a SHUTDOWN instead of a crash: Redis 7 waits
    // for its replicas to reach its replication offset before it exits
    // (`isReadyToShutdown`, up to shutdown-timeout = 10 s, far more than
    // the 5 s lag), so the promoted replica has every write. The crash
    // above loses the ~15 logins of its last 5 s.
    let redis = "replicas = 1\nreplication_lag = { dist = \"constant\", value = \"5s\" }";
    let graceful = failover_with_mode(redis, "60s", "graceful");
    assert_eq!(graceful.fault_losses[0], Some(0));
    assert_eq!(graceful.totals.forced_logouts, 0);
    let crash = failover_with_mode(redis, "60s", "crash");
    assert!(crash.fault_losses[0].unwrap() >= 3);
}

#[test]
fn without_a_replica_the_same_crash_loses_everything() {
    let s = failover("", "60s");
    assert!(s.fault_losses[0].unwrap() > 1500);
}

#[test]
fn a_primary_back_before_sentinel_notices_restarts_with_its_own_persistence() {
    // 10 s of downtime is under down_after (30 s): no failover. Without
    // persistence the primary comes back empty, and so does everything
    // (its replicas resynchronise from it): the classic trap of replication
    // without persistence and automatic restarts.
    let s = failover("replicas = 1", "10s");
    assert!(!s.events.iter().any(|e| e.name() == "redis_failover"));
    assert!(s.fault_losses[0].unwrap() > 1500);
}

/// 1,200 active users, a 3-shard Redis Cluster without persistence, shard
/// 0's primary down at 5 min for `downtime`.
fn cluster(replicas: u32, downtime: &str) -> lbsim::sim::metrics::StrategyResult {
    let text = format!(
        r#"
name = "t"
seed = 23
duration = "8m"
[workload]
users = 1200
arrival = {{ ramp = "20s" }}
think_time = {{ dist = "exponential", mean = "5s" }}
[servers]
count = 3
service_time = {{ dist = "constant", value = "2ms" }}
[store.redis]
latency = {{ dist = "constant", value = "500us" }}
persistence = "none"
shards = 3
replicas = {replicas}
[[strategy]]
name = "s"
balancer = "round_robin"
store = "redis"
[[fault]]
at = "5m"
kind = "redis_restart"
shard = 0
downtime = "{downtime}"
"#
    );
    run(&text).remove(0)
}

#[test]
fn a_cluster_shard_failure_touches_only_its_share_of_sessions() {
    // Slots are spread evenly over 3 shards, so shard 0 holds about a third
    // of the sessions (binomial sd over 1,200 users: ~1.4 points). Back
    // after 5 s (no replica to fail over to) it is empty: those users, and
    // only those, are logged out.
    let s = cluster(0, "5s");
    let share = s.users_affected as f64 / 1200.0;
    assert!((0.28..=0.39).contains(&share), "{share}");
    assert_eq!(s.fault_losses[0], Some(s.users_affected));
    // Back before the node timeout (15 s), so the cluster never flags it
    // failed: only requests for shard 0's keys fail, for the 5 s of
    // downtime and the 2 s of CLUSTER_WRITABLE_DELAY after it restarts.
    // A third of 1,200 users x 7 s / 5 s think = 560, and the count is
    // Poisson-like (sd about 24): 460..=660 is four sd either way.
    assert!(
        (460..=660).contains(&s.totals.errors),
        "{}",
        s.totals.errors
    );
}

#[test]
fn a_shard_replica_takes_over_after_the_node_timeout() {
    // With a replica, a shard down for a minute fails over after
    // cluster-node-timeout (15 s), the cluster's agreement on FAIL (1.3 s)
    // and the election (0.75 s), losing only the writes in transit (lag
    // ~2 ms): nearly nothing.
    let s = cluster(1, "60s");
    let failover = s
        .events
        .iter()
        .find(|e| e.name() == "redis_failover")
        .expect("a failover");
    assert_eq!(failover.t.as_secs_f64(), 317.05);
    assert!(s.fault_losses[0].unwrap() <= 5);
    assert!(s.users_affected <= 5);
}

#[test]
fn min_replicas_to_write_refuses_writes_but_neither_waits_nor_prevents_loss() {
    // Redis's min-replicas-to-write only refuses writes (-NOREPLICAS) while
    // too few replicas are connected; it never waits for them, so latency
    // stays that of asynchronous replication and a failover loses what was
    // in transit exactly as without it (redis.conf: it "does not GUARANTEE
    // that N replicas will accept the write").
    let lag = "replication_lag = { dist = \"constant\", value = \"5s\" }";
    let s = failover(
        &format!("replicas = 1\nmin_replicas_to_write = 1\n{lag}"),
        "60s",
    );
    let asynchronous = failover(&format!("replicas = 1\n{lag}"), "60s");
    assert!(s.latency_ms(99.0) < 10.0, "{}", s.latency_ms(99.0));
    // The same workload up to the crash: the same writes in transit lost.
    assert_eq!(s.fault_losses, asynchronous.fault_losses);
    // After the promotion (631.2 s) the new primary has no replica until
    // the old one is back (660 s): 28.8 s of refused writes. About 1,935
    // users are active then (arrivals at 3/s), each sending a request per
    // 5 s think, plus 3 logins/s: ~11,200 more errors. The count is
    // Poisson-like (sd ~110); 8% either way also covers the rounding of
    // "active" users in this estimate.
    let more = s.totals.errors - asynchronous.totals.errors;
    assert!((10_300..=12_200).contains(&more), "{more}");
}

#[test]
fn waiting_for_a_replica_trades_latency_for_no_loss() {
    // The application calls WAIT 1 after each write (5 s lag, timeout 10 s):
    // nothing acknowledged is lost on failover, and each request that
    // writes (logins and page views refreshing their session) is 5 s
    // slower.
    let lag = "replication_lag = { dist = \"constant\", value = \"5s\" }";
    let s = failover(
        &format!("replicas = 1\nwait_for_replicas = 1\nwait_timeout = \"10s\"\n{lag}"),
        "60s",
    );
    assert_eq!(s.fault_losses[0], Some(0));
    assert_eq!(s.totals.forced_logouts, 0);
    assert!(s.latency_ms(50.0) >= 5000.0, "{}", s.latency_ms(50.0));
    // After the failover (631.2 s) the promoted replica has no replica of
    // its own, so each WAIT times out (10 s) and the request fails, until
    // the old primary is back as a replica (660 s). Errors traded for loss.
    let back = s
        .events
        .iter()
        .find(|e| e.name() == "redis_replica_back")
        .expect("rejoined");
    assert_eq!(back.t.as_secs_f64(), 660.0);
    assert!(
        s.error_latency_ms(99.0) >= 10_000.0,
        "{}",
        s.error_latency_ms(99.0)
    );
    let asynchronous = failover(&format!("replicas = 1\n{lag}"), "60s");
    assert!(
        s.totals.errors > asynchronous.totals.errors + 2000,
        "{} vs {}",
        s.totals.errors,
        asynchronous.totals.errors
    );
}
