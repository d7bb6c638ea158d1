//! A primary with a replica: a live failover against the simulator.

use super::*;

/// A primary with a replica, and a lone primary, both without persistence;
/// the primary dies at 1 min for 30 s, longer than Sentinel's `down_after`.
const FAILOVER: &str = r#"
name = "failover"
description = "A Redis primary dies; Sentinel-style failover to its replica"
seed = 3
duration = "2m"
time_scale = 4
[workload]
users = 200
arrival = { ramp = "10s" }
think_time = { dist = "exponential", mean = "5s" }
[servers]
count = 2
service_time = { dist = "constant", value = "2ms" }
[store.redis]
persistence = "none"
[[strategy]]
name = "replica"
balancer = "round_robin"
store = "redis"
redis = { replicas = 1, down_after = "8s", failover_delay = "2s" }
[[strategy]]
name = "alone"
balancer = "round_robin"
store = "redis"
[[fault]]
at = "1m"
kind = "redis_restart"
mode = "crash"
downtime = "30s"
"#;

#[test]
fn a_live_failover_promotes_the_replica_and_agrees_with_the_simulator() {
    // 200 active users. With a replica, lbsim kills the primary, promotes
    // the replica (REPLICAOF NO ONE) after down_after + failover_delay =
    // 10 s and switches the app to it: real asynchronous replication on
    // loopback lags well under a millisecond, so (almost) no session is
    // lost, as the simulator says. The lone primary comes back empty: all
    // 200 users are logged out, live and simulated. Errors: ~200 users x
    // 10 s / 5 s think = ~400 during the failover in both.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("failover.toml"), FAILOVER).unwrap();
    let out = lbsim(
        dir.path(),
        &[
            "run",
            "failover.toml",
            "--live",
            "--no-plots",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("as replica of port"));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json["strategies"].as_array().unwrap();
    let row = |name: &str| rows.iter().find(|r| r["strategy"] == name).unwrap().clone();
    let num = |r: &serde_json::Value, k: &str| r[k].as_u64().unwrap();
    let (sim, live) = (row("replica"), row("replica [live]"));
    assert_eq!(num(&sim, "forced_logouts"), 0);
    assert!(num(&live, "forced_logouts") <= 2, "{live}");
    let (sim_err, live_err) = (num(&sim, "errors"), num(&live, "errors"));
    // Within a factor of 2: the live driver shares 2 cores with other tests,
    // and a failover that never happened or never ended would be off by far
    // more (no errors, or errors to the end of the run).
    assert!(
        live_err * 2 >= sim_err && live_err <= sim_err * 2,
        "errors {sim_err} vs {live_err}"
    );
    assert_eq!(num(&row("alone"), "forced_logouts"), 200);
    assert!(num(&row("alone [live]"), "forced_logouts").abs_diff(200) <= 4);
    let events = std::fs::read_to_string(dir.path().join("results/failover/events.csv")).unwrap();
    assert!(
        events
            .lines()
            .any(|l| l.contains("replica [live],redis_failover")),
        "{events}"
    );
}
