//! Simulated and live rows of one lone Redis agree.

use super::*;

#[test]
fn simulated_and_live_forced_logouts_agree() {
    // redis-crash-small: 300 active users, Redis killed at 3 min.
    // - no persistence: every user holds a session and loses it, so both
    //   runs log out all 300 (live timing can only shift a login that was
    //   in flight at the kill, hence 2% slack);
    // - AOF always and everysec: a SIGKILL loses no acknowledged write, so
    //   nobody is logged out, simulated or live (slack of 2 for a write in
    //   flight at the kill).
    // Errors: both rows share the workload (same users, same draws), so they
    // differ only by what the real restart adds to the outage: redis-server's
    // start-up and load (about 30 ms of wall time here, 0.36 s of scenario
    // time at time_scale 12: ~10 more errors at 30 requests a second; a
    // loaded machine may take 150 ms, 54 more) and a few requests around
    // the kill. Measured: 288 simulated, 297 and 298 live. So live is 10
    // below to 60 above.
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
            live_err + 10 >= sim_err && live_err <= sim_err + 60,
            "{name}: errors {sim_err} vs {live_err}"
        );
        // The crash is the only fault and the only cause of a logout: live
        // mode marks what users held at the kill and unmarks what Redis
        // still had once back, so its users logged out are its forced
        // logouts too, and every error is the crash's.
        assert_eq!(
            (sim["mode"].as_str(), live["mode"].as_str()),
            (Some("sim"), Some("live"))
        );
        for (row, out, err) in [(sim, sim_out, sim_err), (live, live_out, live_err)] {
            let fault = &row["faults"][0];
            assert_eq!(num(fault, "forced_logouts"), out, "{name}: {fault}");
            assert_eq!(num(fault, "errors"), err, "{name}: {fault}");
        }
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

const SLOW: &str = r#"
name = "slow"
seed = 3
duration = "2m"
time_scale = 10
[workload]
users = 200
arrival = { ramp = "10s" }
think_time = { dist = "exponential", mean = "5s" }
[servers]
count = 2
service_time = { dist = "constant", value = "1ms" }
[store.redis]
latency = { dist = "constant", value = "300us" }
persistence = "none"
[[strategy]]
name = "redis"
balancer = "round_robin"
store = "redis"
[[fault]]
at = "60s"
kind = "redis_slow"
duration = "20s"
latency = "50ms"
"#;

#[test]
fn a_slow_redis_is_slow_live_as_in_the_simulator() {
    // 200 users thinking 5 s: about 800 requests in the 20 s window out of
    // about 4,800 (16.7%; the window's count is Poisson-like, sd about 28,
    // so between 15% and 18.5%). So in both rows the 90th percentile is a
    // slow request (at least 50 ms) and the median a normal one (a
    // millisecond and a real round trip, well under 10 ms), and nothing
    // fails.
    let run = LiveRun::of("slow.toml", SLOW);
    for name in ["redis", "redis [live]"] {
        let row = run.row(name);
        let ms = |key: &str| row[key].as_f64().unwrap();
        assert!(ms("p90_ms") >= 50.0, "{name}: p90 {}", ms("p90_ms"));
        assert!(ms("p50_ms") < 10.0, "{name}: p50 {}", ms("p50_ms"));
        assert_eq!(row["errors"].as_u64(), Some(0), "{name}");
    }
}

const LETTUCE: &str = r#"
name = "lettuce"
seed = 5
duration = "40s"
time_scale = 1
[workload]
users = 200
arrival = { ramp = "5s" }
think_time = { dist = "exponential", mean = "2s" }
[servers]
count = 2
service_time = { dist = "constant", value = "1ms" }
[store.redis]
latency = { dist = "constant", value = "300us" }
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
redis = { client = "lettuce" }
[[fault]]
at = "15s"
kind = "redis_restart"
mode = "crash"
downtime = "5s"
"#;

#[test]
fn a_real_redis_restart_hangs_a_lettuce_client_as_long_as_the_simulator_says() {
    // Redis killed at 15 s and restarted 5 s later (a few hundred
    // sessions: it loads in milliseconds). Lettuce's attempts fall 4.095 s
    // and 8.191 s after the kill: the real redis-server refuses the first
    // and accepts the second, so requests held from the kill wait 8.19 s,
    // live and simulated. The live wait adds the real restart's jitter
    // only if the restart took over 3 s (it takes milliseconds) and the
    // reconnect's own round trips (a millisecond): 50 ms is the margin,
    // and a model that reconnected when Redis is back (5 s) or at the
    // next attempt (16.4 s) is seconds off. Nothing fails with Lettuce;
    // fail fast has ~500 errors (100 requests a second for 5 s, plus the
    // live restart's real start-up), within 15% of each other.
    let run = LiveRun::of("lettuce.toml", LETTUCE);
    let row = |name: &str| run.row(name);
    let ms = |name: &str, key: &str| row(name)[key].as_f64().unwrap();
    let errors = |name: &str| row(name)["errors"].as_u64().unwrap();
    for name in ["lettuce", "lettuce [live]"] {
        let max = ms(name, "max_ms");
        assert!((max - 8_192.0).abs() < 50.0, "{name}: max {max}");
        assert_eq!(errors(name), 0, "{name}");
    }
    let (sim, live) = (errors("fail fast"), errors("fail fast [live]"));
    assert!((400..=600).contains(&sim), "{sim}");
    assert!(
        live.abs_diff(sim) * 100 <= sim * 15,
        "errors {sim} vs {live}"
    );
    assert!(ms("fail fast [live]", "max_ms") < 100.0);
}

const ONE_WORKER: &str = r#"
name = "one-worker"
seed = 9
duration = "60s"
time_scale = 1
[workload]
users = 30
arrival = { ramp = "2s" }
think_time = { dist = "exponential", mean = "1s" }
[servers]
count = 2
workers = 1
service_time = { dist = "constant", value = "40ms" }
[store.redis]
latency = { dist = "constant", value = "200us" }
persistence = "none"
pipeline = true
[[strategy]]
name = "redis"
balancer = "round_robin"
store = "redis"
"#;

#[test]
fn live_requests_queue_for_their_servers_workers_as_simulated() {
    // One worker per server, about 14 requests a second each, 40.4 ms of
    // work per request (service and two round trips): utilisation 0.58,
    // so many requests wait for the worker and the 90th percentile is
    // well over one service (simulated 70 ms). With unlimited workers, as
    // live mode had, every percentile would be one service and a real
    // round trip (~40.5 ms). Both rows share the workload; the live one
    // adds real round trips (~0.1 ms each) and tokio's 1 ms timer slack
    // per sleep, which lengthen each service by ~3%: measured here, live
    // p50 41.8 / p90 72.6 / p99 104.0 ms against 40.4 / 70.1 / 106.5
    // simulated. 10% at the median and the 90th percentile (1,600
    // requests), 20% at the 99th (it rests on 16 of them).
    let run = LiveRun::of("one.toml", ONE_WORKER);
    let ms = |name: &str, key: &str| run.row(name)[key].as_f64().unwrap();
    let sim_p90 = ms("redis", "p90_ms");
    assert!(sim_p90 > 60.0, "the simulator queues: p90 {sim_p90}");
    for (key, margin) in [("p50_ms", 0.1), ("p90_ms", 0.1), ("p99_ms", 0.2)] {
        let (sim, live) = (ms("redis", key), ms("redis [live]", key));
        assert!((live - sim).abs() <= sim * margin, "{key}: {sim} vs {live}");
    }
}
