//! A real Redis Cluster: it forms, fails over by itself, and agrees with
//! the simulator.

use super::*;

#[test]
fn a_real_three_shard_cluster_forms_and_fails_over_by_itself() {
    use lbsim::live::cluster::RedisCluster;
    let persistence: Vec<String> = ["--save", "", "--appendonly", "no"]
        .map(String::from)
        .to_vec();
    let mut cluster =
        RedisCluster::start(&redis_server(), 3, true, &persistence, 1000).expect("cluster forms");
    assert!(cluster.is_ok());
    assert_eq!(cluster.nodes.len(), 6);
    // Sessions written through the cluster client land on all shards, and
    // are counted on every primary.
    let rt = runtime();
    let store = rt.block_on(async {
        SpringSessionStore::connect_cluster(
            cluster.urls(),
            SPRING_NAMESPACE.to_string(),
            Duration::from_secs(600),
            7,
        )
        .await
        .unwrap()
    });
    let cutoff = rt.block_on(async {
        for i in 1..=300 {
            store
                .create(ServerId(0), SessionId(i), UserId(i as u32))
                .await
                .unwrap();
        }
        lbsim::live::spring_session::epoch_millis() + 1
    });
    let counted = rt.block_on(async {
        (
            store.count(true).await,
            store.count_created_before(cutoff).await,
        )
    });
    assert_eq!(counted, (Some(300), Some(300)));
    // Kill shard 0's primary: after cluster-node-timeout (1 s) its replica
    // is promoted by the cluster and every slot is served again.
    let id = cluster.node_id(0).unwrap();
    cluster.nodes[0].kill();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cluster.marked_failed(&id) {
        assert!(Instant::now() < deadline, "the failure was never noticed");
        std::thread::sleep(Duration::from_millis(50));
    }
    while !cluster.is_ok() {
        assert!(Instant::now() < deadline, "no failover");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The promoted replica had shard 0's sessions: all 300 are still there.
    let after = rt.block_on(async { store.count_created_before(cutoff).await });
    assert_eq!(after, Some(300));
}

/// Two 3-shard clusters, with and without replicas; shard 0's primary dies
/// at 1 min for 30 s.
const CLUSTER: &str = r#"
name = "cluster"
description = "One shard of a three-shard Redis Cluster fails"
seed = 4
duration = "2m"
time_scale = 4
[workload]
users = 300
arrival = { ramp = "10s" }
think_time = { dist = "exponential", mean = "5s" }
[servers]
count = 2
service_time = { dist = "constant", value = "2ms" }
[store.redis]
persistence = "none"
[[strategy]]
name = "cluster + replicas"
balancer = "round_robin"
store = "redis"
redis = { shards = 3, replicas = 1, node_timeout = "8s" }
[[strategy]]
name = "cluster, no replica"
balancer = "round_robin"
store = "redis"
redis = { shards = 3 }
[[fault]]
at = "1m"
kind = "redis_restart"
mode = "crash"
shard = 0
downtime = "30s"
"#;

#[test]
fn a_live_cluster_shard_failure_agrees_with_the_simulator() {
    // With replicas the real cluster promotes shard 0's replica by itself:
    // no session lost, live or simulated. Without, shard 0 comes back empty:
    // about a third of the 300 users (its share of slots) are logged out,
    // in both. Binomial sd over 300 users ~ 8, so 30 of slack.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cluster.toml"), CLUSTER).unwrap();
    let out = lbsim(
        dir.path(),
        &[
            "run",
            "cluster.toml",
            "--live",
            "--no-plots",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("as cluster node 5"));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json["strategies"].as_array().unwrap();
    let forced = |name: &str| {
        rows.iter().find(|r| r["strategy"] == name).unwrap()["forced_logouts"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(forced("cluster + replicas"), 0);
    assert!(forced("cluster + replicas [live]") <= 3);
    let (sim, live) = (
        forced("cluster, no replica"),
        forced("cluster, no replica [live]"),
    );
    assert!((70..=130).contains(&sim), "{sim}");
    assert!(live.abs_diff(sim) <= 30, "sim {sim} vs live {live}");
}
