//! Redis replication with Sentinel failover: reasoned expectations.

use crate::support::run;

/// Users keep arriving (Poisson, 3 per second) so there are always fresh
/// logins; Redis has no persistence; its primary dies at 10 min for
/// `downtime`. Rows of 5 s, so the time series shows the logins of the
/// last 5 s before the crash.
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
report_interval = "5s"
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

/// Logins completed by `secs` into the run. Before the crash nobody is
/// logged out, so that is every user who arrived by then, each holding a
/// session.
fn logins_by(s: &lbsim::sim::metrics::StrategyResult, secs: f64) -> u64 {
    s.timeseries
        .iter()
        .filter(|r| r.t.as_secs_f64() <= secs)
        .map(|r| r.counts.logins)
        .sum()
}

#[test]
fn a_failover_loses_only_the_writes_still_in_transit() {
    // Constant 5 s lag: the promoted replica lacks exactly the writes of the
    // last 5 s before the crash. Among them, the logins are lost sessions;
    // the rest are refreshes, rolled back but still valid. So the loss is
    // the logins of the time series' last row before the crash, give or
    // take a login straddling either end of it (rows count a login when it
    // completes, its write is at its start: one run in ~100 at each end,
    // logins taking 3 ms, 3 a second); seeds 1 to 8 gave exactly that (9 to
    // 23). Their count is Poisson(15), sd 3.9: 3..=30 leaves less than 1e-4
    // in each tail (4 sd would reach below zero).
    let s = failover(
        "replicas = 1\nreplication_lag = { dist = \"constant\", value = \"5s\" }",
        "60s",
    );
    let lost = s.fault_losses[0].unwrap();
    let last_5s = logins_by(&s, 600.0) - logins_by(&s, 595.0);
    assert!(
        (last_5s.saturating_sub(1)..=last_5s + 1).contains(&lost),
        "{lost} lost, {last_5s} logins in the last 5 s"
    );
    assert!((3..=30).contains(&lost), "{lost}");
    assert!(
        s.events
            .iter()
            .any(|e| e.name() == "redis_failover" && e.t.as_secs_f64() == 631.2)
    );
    // Unavailable for down_after (30 s) + failover_delay (1.2 s, the
    // default, measured with real Sentinels), each request failing at once:
    // the N users logged in by the crash (~1,800) send a Poisson number of
    // requests each into the 31.2 s (mean 31.2 / 5 = 6.24), and the ~94
    // arriving during it a login at once plus 3.12 on average:
    // N x 6.24 + 94 x 4.12 = ~11,600 errors. Given N, the count has sd
    // sqrt(N x 6.24 + 2,200 for the arrivals) ~ 116; seeds 1 to 8 (and 17)
    // fell within 1.8 sd of it. 4 sd either way. (Unconditionally the spread
    // is 2.5 times wider, from N's own sd of 42: seeds 1 to 8 gave 11,265
    // to 12,267.)
    let users = logins_by(&s, 600.0) as f64;
    let expected = users * 31.2 / 5.0 + 3.0 * 31.2 * (1.0 + 31.2 / 10.0);
    let errors = s.totals.errors as f64;
    assert!(
        (errors - expected).abs() < 470.0,
        "{errors} errors, {expected:.0} expected"
    );
    // Each lost session is a user logged out exactly once (its new session
    // is on the new primary; seeds 1 to 8 gave exactly `lost`), plus,
    // rarely, a login in flight: one in ~100 runs (3 ms x 3 a second), two
    // in ~10,000.
    assert!(
        (lost..=lost + 1).contains(&s.totals.forced_logouts),
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
    // Every session held at the crash: one per user logged in by then
    // (seeds 1 to 8: 1,751 to 1,877, always exactly that).
    let s = failover("", "60s");
    assert_eq!(s.fault_losses[0], Some(logins_by(&s, 600.0)));
}

#[test]
fn a_primary_back_before_sentinel_notices_restarts_with_its_own_persistence() {
    // 10 s of downtime is under down_after (30 s): no failover. Without
    // persistence the primary comes back empty, and so does everything
    // (its replicas resynchronise from it): the classic trap of replication
    // without persistence and automatic restarts.
    let s = failover("replicas = 1", "10s");
    assert!(!s.events.iter().any(|e| e.name() == "redis_failover"));
    assert_eq!(s.fault_losses[0], Some(logins_by(&s, 600.0)));
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
    // Slots are spread evenly over 3 shards (shard 0 has 5,461 of 16,384),
    // so shard 0 holds about a third of the sessions: 400 of 1,200, binomial
    // sd sqrt(1,200 x 1/3 x 2/3) ~ 16.3 (1.4 points); seeds 1 to 8 gave 368
    // to 432. Back after 5 s (no replica to fail over to) it is empty: those
    // users, and only those, are logged out. 4 sd either way.
    let s = cluster(0, "5s");
    assert!(
        (335..=465).contains(&s.users_affected),
        "{}",
        s.users_affected
    );
    assert_eq!(s.fault_losses[0], Some(s.users_affected));
    // Back before the node timeout (15 s), so the cluster never flags it
    // failed: only requests for shard 0's keys fail, for the 5 s of
    // downtime and the 2 s of CLUSTER_WRITABLE_DELAY after it restarts.
    // Those are the requests of the users just counted: affected x 7 s / 5 s
    // think (~560), a Poisson count given them (sd ~ sqrt(560) ~ 24); seeds
    // 1 to 8 fell 44 below to 32 above. 4 sd either way.
    let expected = s.users_affected as f64 * 7.0 / 5.0;
    let errors = s.totals.errors as f64;
    assert!(
        (errors - expected).abs() < 4.0 * expected.sqrt(),
        "{errors} errors, {expected:.0} expected"
    );
}

#[test]
fn a_shard_replica_takes_over_after_the_node_timeout() {
    // With a replica, a shard down for a minute fails over after
    // cluster-node-timeout (15 s), the cluster's agreement on FAIL (1.3 s)
    // and the election (0.75 s), losing only the writes in transit (lag
    // ~2 ms): refreshes, rolled back but still valid. No session is that
    // young: the 1,200 users all logged in during the 20 s ramp and nobody
    // is logged out before the crash. So nothing at all is lost (every seed
    // from 1 to 8).
    let s = cluster(1, "60s");
    let failover = s
        .events
        .iter()
        .find(|e| e.name() == "redis_failover")
        .expect("a failover");
    assert_eq!(failover.t.as_secs_f64(), 317.05);
    assert_eq!(s.fault_losses[0], Some(0));
    assert_eq!(s.users_affected, 0);
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
    // A page request takes exactly 2 ms + 4 x 0.5 ms (constant
    // distributions), as without the option.
    assert!(
        (s.latency_ms(99.0) - 4.0).abs() < 0.01,
        "{}",
        s.latency_ms(99.0)
    );
    // The same workload up to the crash: the same writes in transit lost.
    assert_eq!(s.fault_losses, asynchronous.fault_losses);
    // After the promotion (631.2 s) the new primary has no replica until
    // the old one, restarted at 660 s, is a replica in sync again: Sentinel
    // converts it 10 s later and its full sync starts 5 s after that
    // (`rejoin_delay`, measured with real Sentinels), so W = 43.8 s of
    // refused writes, and every page request writes. The N users logged
    // in by the crash plus the ~94 who arrived during the outage each send
    // a Poisson number of requests into it (mean W / 5 = 8.76), and the
    // ~131 arriving during it a login at once plus W / 10 = 4.38 on
    // average: (N + 94) x 8.76 + 131 x 5.38 = ~17,000 more errors. Given N
    // the count has sd ~160 (Poisson 16,400 + 3,300 for the arrivals in
    // the window + 8.76^2 x 94 for those in the outage); 650 is 4 sd
    // either way.
    let window = 28.8 + 15.0;
    let users = logins_by(&asynchronous, 600.0) as f64;
    let expected = (users + 3.0 * 31.2) * window / 5.0 + 3.0 * window * (1.0 + window / 10.0);
    let more = s.totals.errors as f64 - asynchronous.totals.errors as f64;
    assert!(
        (more - expected).abs() < 650.0,
        "{more} more errors, {expected:.0} expected"
    );
}

#[test]
fn waiting_for_a_replica_trades_latency_for_no_loss() {
    // The application calls WAIT 1 after each write (200 ms lag, timeout
    // 1 s): nothing acknowledged is lost on failover. Each app server's
    // requests share one connection, which a blocked WAIT holds
    // (`sim::store::redis::connection`): a request arriving while one
    // blocks waits for the rest of it, then its commands run with those of
    // every other request that arrived meanwhile, and the first of their
    // WAITs returns when the replica has all their writes, 200 ms later;
    // the others find them acknowledged. About 140 requests a second per
    // server keep the connection busy, so a request waits the rest of a
    // round (uniform over 0..200 ms) plus a round, plus 4 ms of service
    // and round trips: a median of 304 ms, at most 404 ms. A WAIT on a
    // connection of its own would give a median of 204 ms; WAITs one
    // after the other (each waiting 200 ms for its own write) would leave
    // every request timing out at the client.
    let lag = "replication_lag = { dist = \"constant\", value = \"200ms\" }";
    let s = failover(
        &format!("replicas = 1\nwait_for_replicas = 1\nwait_timeout = \"1s\"\n{lag}"),
        "60s",
    );
    assert_eq!(s.fault_losses[0], Some(0));
    assert_eq!(s.totals.forced_logouts, 0);
    // (The top 0.1 % are requests served at the failover's edges, after
    // waiting behind WAITs that timed out.)
    let (p50, p99) = (s.latency_ms(50.0), s.latency_ms(99.0));
    assert!((290.0..320.0).contains(&p50), "p50 {p50}");
    assert!((390.0..=405.0).contains(&p99), "p99 {p99}");
    // After the failover (631.2 s) the promoted replica has no replica of
    // its own, so each WAIT times out (1 s) and the request fails, until
    // the old primary, restarted at 660 s, is a replica in sync again
    // (675 s: Sentinel converts it, then its full sync). While one WAIT
    // blocks, ~140 requests queue; they all send theirs when it returns,
    // 140 s of WAITs in a row, so nearly every later request times out at
    // the client's 2 s (fail-fast, Jedis's socket timeout) before its
    // first command runs. Errors traded for loss.
    let back = s
        .events
        .iter()
        .find(|e| e.name() == "redis_replica_back")
        .expect("rejoined");
    assert_eq!(back.t.as_secs_f64(), 660.0);
    assert!(
        back.detail().contains(
            "Sentinel makes it a replica of the new one (+convert-to-slave), in sync at 00:11:15"
        ),
        "{}",
        back.detail()
    );
    let error_p50 = s.error_latency_ms(50.0);
    assert!((2000.0..2010.0).contains(&error_p50), "{error_p50}");
    let asynchronous = failover(&format!("replicas = 1\n{lag}"), "60s");
    assert!(
        s.totals.errors > asynchronous.totals.errors + 2000,
        "{} vs {}",
        s.totals.errors,
        asynchronous.totals.errors
    );
}
