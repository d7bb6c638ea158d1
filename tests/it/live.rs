//! Live mode against real redis-server processes (never a mock).
//! `scripts/test.sh` installs redis-server when it is missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lbsim::live::redis_process::{self, RedisArgs, RedisProcess};
use lbsim::live::spring_session::{SPRING_NAMESPACE, SpringSessionStore, StoreFailure};
use lbsim::sim::store::Lookup;
use lbsim::sim::{ServerId, SessionId, UserId};

use crate::support::{lbsim, repo, stderr, stdout};

fn redis_server() -> PathBuf {
    redis_process::find_binary(None)
        .expect("redis-server is not on PATH: run scripts/test.sh, which installs it")
}

fn start(persistence: &[&str]) -> RedisProcess {
    let args = RedisArgs {
        persistence: persistence.iter().map(|s| s.to_string()).collect(),
    };
    RedisProcess::start(&redis_server(), args).expect("redis-server starts")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn store(process: &RedisProcess, ttl: Duration) -> SpringSessionStore {
    SpringSessionStore::connect(&process.url(), 2, SPRING_NAMESPACE.to_string(), ttl, 42)
        .await
        .unwrap()
}

/// A plain client, to read back what lbsim wrote the way a teacher would
/// with redis-cli.
fn plain(process: &RedisProcess) -> redis::Connection {
    redis::Client::open(process.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Waits until a restarted server has loaded its data.
async fn until_ready(store: &SpringSessionStore) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.count(true).await.is_none() {
        assert!(Instant::now() < deadline, "redis did not come back");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn sessions_are_stored_in_spring_sessions_layout_with_a_sliding_ttl() {
    let process = start(&["--save", "", "--appendonly", "no"]);
    runtime().block_on(async {
        let ttl = Duration::from_secs(30);
        let store = store(&process, ttl).await;
        store
            .create(ServerId(0), SessionId(1), UserId(7))
            .await
            .unwrap();
        let key = store.key(SessionId(1));
        assert!(key.starts_with("spring:session:sessions:"), "{key}");
        // A UUID, as Spring's UuidSessionIdGenerator makes.
        let id = key.trim_start_matches("spring:session:sessions:");
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);

        let mut redis = plain(&process);
        let fields: std::collections::HashMap<String, String> =
            redis::cmd("HGETALL").arg(&key).query(&mut redis).unwrap();
        for name in [
            "creationTime",
            "lastAccessedTime",
            "maxInactiveInterval",
            "sessionAttr:userId",
            "sessionAttr:roles",
            "sessionAttr:loginTime",
            "sessionAttr:authenticated",
        ] {
            assert!(fields.contains_key(name), "missing {name}: {fields:?}");
        }
        assert_eq!(fields["maxInactiveInterval"], "30");
        assert_eq!(fields["sessionAttr:userId"], "user-7");
        let created: u64 = fields["lastAccessedTime"].parse().unwrap();
        let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut redis).unwrap();
        assert!((28_000..=30_000).contains(&pttl), "ttl {pttl} ms");

        // A request 1.2 s later finds the session and slides its expiry.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(
            store.access(ServerId(1), SessionId(1)).await,
            Ok(Lookup::Found)
        );
        let accessed: u64 = redis::cmd("HGET")
            .arg(&key)
            .arg("lastAccessedTime")
            .query(&mut redis)
            .unwrap();
        assert!(accessed >= created + 1000, "{accessed} vs {created}");
        let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut redis).unwrap();
        assert!(pttl > 29_000, "ttl not refreshed: {pttl} ms");
        let creation: u64 = redis::cmd("HGET")
            .arg(&key)
            .arg("creationTime")
            .query(&mut redis)
            .unwrap();
        assert_eq!(creation, created, "creationTime must not change");

        assert_eq!(
            store.access(ServerId(0), SessionId(99)).await,
            Ok(Lookup::Missing)
        );
    });
}

#[test]
fn a_session_expires_when_its_ttl_runs_out() {
    let process = start(&["--save", "", "--appendonly", "no"]);
    runtime().block_on(async {
        let store = store(&process, Duration::from_millis(300)).await;
        store
            .create(ServerId(0), SessionId(1), UserId(1))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            store.access(ServerId(0), SessionId(1)).await,
            Ok(Lookup::Missing)
        );
    });
}

/// Creates `n` sessions, stops Redis with `stop`, starts it again and
/// returns how many sessions are still found.
fn survivors(persistence: &[&str], n: u64, stop: fn(&mut RedisProcess)) -> u64 {
    let mut process = start(persistence);
    runtime().block_on(async {
        let store = store(&process, Duration::from_secs(600)).await;
        for i in 1..=n {
            store
                .create(ServerId(0), SessionId(i), UserId(i as u32))
                .await
                .unwrap();
        }
        stop(&mut process);
        // While it is down, operations fail: an error, not a logout.
        let down = store.access(ServerId(0), SessionId(1)).await;
        assert!(matches!(down, Err(StoreFailure::Down)), "{down:?}");
        process.restart().unwrap();
        until_ready(&store).await;
        let mut found = 0;
        for i in 1..=n {
            if store.access(ServerId(0), SessionId(i)).await == Ok(Lookup::Found) {
                found += 1;
            }
        }
        found
    })
}

fn sigkill(process: &mut RedisProcess) {
    process.kill();
}

fn shutdown(process: &mut RedisProcess) {
    let mut redis = plain(process);
    let _: Result<(), _> = redis::cmd("SHUTDOWN").query(&mut redis);
    process.wait_for_exit(Duration::from_secs(10));
}

#[test]
fn a_crash_without_persistence_loses_every_session() {
    assert_eq!(
        survivors(&["--save", "", "--appendonly", "no"], 200, sigkill),
        0
    );
}

#[test]
fn a_crash_with_aof_loses_no_session_whatever_the_fsync_policy() {
    // The simulator's claim, checked for real: write(2) happens before the
    // reply, and a SIGKILL does not drop the kernel's page cache.
    for fsync in ["always", "everysec", "no"] {
        let args = ["--save", "", "--appendonly", "yes", "--appendfsync", fsync];
        assert_eq!(survivors(&args, 200, sigkill), 200, "appendfsync {fsync}");
    }
}

#[test]
fn a_graceful_restart_keeps_sessions_only_with_persistence() {
    assert_eq!(
        survivors(&["--save", "", "--appendonly", "no"], 100, shutdown),
        0
    );
    assert_eq!(
        survivors(&["--save", "3600 1", "--appendonly", "no"], 100, shutdown),
        100
    );
}

#[test]
fn loading_is_reported_as_an_error_not_as_a_missing_session() {
    // Two million filler keys take Redis a noticeable time to load from its
    // RDB file; requests in that time get -LOADING.
    let mut process = start(&[
        "--save",
        "",
        "--appendonly",
        "no",
        "--enable-debug-command",
        "yes",
    ]);
    let mut redis = plain(&process);
    let _: () = redis::cmd("DEBUG")
        .arg("POPULATE")
        .arg(2_000_000)
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("SAVE").query(&mut redis).unwrap();
    runtime().block_on(async {
        let store = store(&process, Duration::from_secs(600)).await;
        process.kill();
        process.restart().unwrap(); // returns once it answers, even with -LOADING
        let mut saw_loading = false;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match store.access(ServerId(0), SessionId(1)).await {
                Err(StoreFailure::Loading) => saw_loading = true,
                Ok(Lookup::Missing) => break, // loaded; session 1 never existed
                other => assert!(
                    matches!(other, Err(StoreFailure::Down)),
                    "unexpected answer while loading: {other:?}"
                ),
            }
            assert!(Instant::now() < deadline, "never finished loading");
        }
        assert!(saw_loading, "no -LOADING seen while 2M keys loaded");
    });
}

/// Starts `lbsim run FILE --live` in the background and returns it with the
/// redis-server pids and ports it reported, once all have started.
fn start_live_lbsim(
    dir: &Path,
    file: &str,
    servers: usize,
) -> (std::process::Child, Vec<(u32, u16)>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lbsim"))
        .args(["run", file, "--live", "--out", "out"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut started = Vec::new();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        // "live: started redis-server pid N on port P for `…`"
        if let Some(rest) = line.strip_prefix("live: started redis-server pid ") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            started.push((words[0].parse().unwrap(), words[3].parse().unwrap()));
        }
        if started.len() == servers {
            break;
        }
    }
    assert_eq!(started.len(), servers, "lbsim did not start its servers");
    // Keep reading stderr so that lbsim's last words reach a live pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, started)
}

/// True once the process is gone (or a zombie nobody reaped) and its port
/// refuses connections.
fn is_dead(pid: u32, port: u16) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().next());
    let process_dead = state.is_none_or(|s| s == "Z" || s == "X");
    process_dead && std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

fn wait_dead(servers: &[(u32, u16)]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !servers.iter().all(|&(pid, port)| is_dead(pid, port)) {
        assert!(
            Instant::now() < deadline,
            "a redis-server outlived lbsim: {servers:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn temp_dirs_of(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("lbsim-live-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

#[test]
fn ctrl_c_stops_every_redis_server_and_removes_their_folders() {
    let dir = tempfile::tempdir().unwrap();
    let file = repo().join("scenarios/redis-crash-small.toml");
    let (mut child, servers) = start_live_lbsim(dir.path(), file.to_str().unwrap(), 3);
    assert!(!temp_dirs_of(child.id()).is_empty());
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    wait_dead(&servers);
    assert!(temp_dirs_of(child.id()).is_empty());
    assert!(
        !dir.path().join("out").exists(),
        "an interrupted run wrote results"
    );
}

#[test]
fn sigkill_of_lbsim_takes_its_redis_servers_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = repo().join("scenarios/redis-crash-small.toml");
    let (mut child, servers) = start_live_lbsim(dir.path(), file.to_str().unwrap(), 3);
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    // PR_SET_PDEATHSIG kills the servers.
    wait_dead(&servers);
    // Their folders stay until the next live run removes them.
    let left = temp_dirs_of(child.id());
    assert!(!left.is_empty());
    redis_process::remove_stale_dirs();
    assert!(temp_dirs_of(child.id()).is_empty(), "{left:?}");
}

#[test]
fn a_missing_redis_server_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(
        dir.path(),
        &[
            "run",
            "redis-crash-small",
            "--live",
            "--redis-server",
            "/nonexistent/redis-server",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("redis-server not found") && err.contains("apt-get install redis-server"),
        "{err}"
    );
    assert!(!dir.path().join("results").exists());
}

/// A short scenario with no Redis fault, for an external server.
const EXTERNAL: &str = r#"
name = "external"
duration = "40s"
time_scale = 10
[workload]
users = 40
arrival = { ramp = "5s" }
think_time = { dist = "exponential", mean = "3s" }
[servers]
count = 2
service_time = { dist = "constant", value = "1ms" }
[[strategy]]
name = "redis"
balancer = "round_robin"
store = "redis"
[[fault]]
at = "20s"
kind = "server_crash"
server = 0
recover_after = "5s"
"#;

#[test]
fn with_an_external_redis_lbsim_touches_only_its_own_keys() {
    let process = start(&["--save", "", "--appendonly", "no"]);
    let mut redis = plain(&process);
    let _: () = redis::cmd("SET")
        .arg("app:config")
        .arg("keep me")
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg("spring:session:sessions:someone-elses")
        .arg("creationTime")
        .arg("1")
        .query(&mut redis)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("external.toml"), EXTERNAL).unwrap();
    let url = process.url();
    let out = lbsim(
        dir.path(),
        &[
            "run",
            "external.toml",
            "--live",
            "--redis-url",
            &url,
            "--format",
            "csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // lbsim really used the server...
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut redis)
        .unwrap();
    let hset_calls: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_hset:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(hset_calls > 100, "{stats}");
    assert!(stdout(&out).contains("redis [live]"));
    // ...left the other keys as they were and removed its own.
    let keep: String = redis::cmd("GET")
        .arg("app:config")
        .query(&mut redis)
        .unwrap();
    assert_eq!(keep, "keep me");
    let other: Option<String> = redis::cmd("HGET")
        .arg("spring:session:sessions:someone-elses")
        .arg("creationTime")
        .query(&mut redis)
        .unwrap();
    assert_eq!(other.as_deref(), Some("1"));
    let size: u64 = redis::cmd("DBSIZE").query(&mut redis).unwrap();
    assert_eq!(size, 2, "lbsim left keys behind");
    let flushes = stats
        .lines()
        .filter(|l| l.starts_with("cmdstat_flush"))
        .count();
    assert_eq!(flushes, 0, "lbsim must never FLUSHDB/FLUSHALL");

    // A scenario that needs to restart Redis is refused up front.
    let with_restart = format!(
        "{EXTERNAL}\n[[fault]]\nat = \"30s\"\nkind = \"redis_restart\"\ndowntime = \"2s\"\n"
    );
    std::fs::write(dir.path().join("restart.toml"), with_restart).unwrap();
    let out = lbsim(
        dir.path(),
        &["run", "restart.toml", "--live", "--redis-url", &url],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot restart it"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn simulated_and_live_forced_logouts_agree() {
    // redis-crash-small: 300 active users, Redis killed at 3 min.
    // - no persistence: every user holds a session and loses it, so both
    //   runs log out all 300 (live timing can only shift a login that was
    //   in flight at the kill, hence 2% slack);
    // - AOF always and everysec: a SIGKILL loses no acknowledged write, so
    //   nobody is logged out, simulated or live (slack of 2 for a write in
    //   flight at the kill).
    // Errors depend on the wall-clock outage (connection refused, then
    // LOADING), so only their order of magnitude must agree.
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(
        dir.path(),
        &["run", "redis-crash-small", "--live", "--format", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json["strategies"].as_array().unwrap();
    let find = |name: &str| {
        rows.iter()
            .find(|r| r["strategy"] == name)
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    let num = |row: &serde_json::Value, key: &str| row[key].as_u64().unwrap();
    for name in ["no persistence", "AOF always", "AOF everysec"] {
        let (sim, live) = (find(name), find(&format!("{name} [live]")));
        let (sim_out, live_out) = (num(sim, "forced_logouts"), num(live, "forced_logouts"));
        if name == "no persistence" {
            assert_eq!(sim_out, 300);
            assert!(live_out.abs_diff(300) <= 6, "{name}: live {live_out}");
        } else {
            assert_eq!(sim_out, 0, "{name}");
            assert!(live_out <= 2, "{name}: live {live_out}");
        }
        let (sim_err, live_err) = (num(sim, "errors"), num(live, "errors"));
        assert!(
            live_err >= sim_err / 4 && live_err <= sim_err * 4,
            "{name}: errors {sim_err} vs {live_err}"
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("results/redis-crash-small/meta.json")).unwrap(),
    )
    .unwrap();
    let modes: Vec<&str> = meta["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["sim", "live", "sim", "live", "sim", "live"]);
}

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
