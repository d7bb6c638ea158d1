//! What each fault cost: sessions destroyed, users logged out, expired
//! instead, errors and seconds with errors (`sim::toll`, `faults.csv`).

use lbsim::sim::metrics::StrategyResult;

use crate::support::repo;

fn sticky_vs_redis() -> Vec<StrategyResult> {
    let scenario = lbsim::scenario::load(&repo().join("scenarios/sticky-vs-redis.toml")).unwrap();
    lbsim::runner::run(&scenario)
}

fn row<'a>(results: &'a [StrategyResult], name: &str) -> &'a StrategyResult {
    results.iter().find(|r| r.name == name).unwrap()
}

#[test]
fn every_forced_logout_of_a_sticky_or_central_store_is_its_faults() {
    let results = sticky_vs_redis();
    // Sticky + in-memory: only the server crash (fault 1) destroys
    // sessions, and nothing else logs anyone out; Redis without
    // persistence: only the Redis crash (fault 2). So each fault's users
    // logged out are the strategy's forced logouts, exactly.
    for (name, fault) in [("sticky + in-memory", 0), ("redis, no persistence", 1)] {
        let r = row(&results, name);
        let toll = r.fault_tolls[fault];
        let destroyed = r.fault_losses[fault].unwrap();
        assert_eq!(toll.logged_out, r.totals.forced_logouts, "{name}");
        assert!(toll.logged_out > 0, "{name}");
        // Each destroyed session is found gone at most once: as a logout,
        // as an expiry (its user came back after the 30-minute TTL), or
        // never (not back before the end). With think times up to hours,
        // some users do come back late: the crash at 15 min and the Redis
        // crash at 35 min of a 1 h run both see expiries.
        assert!(toll.expired_instead > 0, "{name}: {toll:?}");
        assert!(toll.expired_instead <= r.totals.expired, "{name}");
        assert!(
            toll.logged_out + toll.expired_instead <= destroyed,
            "{name}: {toll:?} of {destroyed}"
        );
        assert_eq!(r.fault_tolls[1 - fault].logged_out, 0, "{name}");
    }
    // AOF keeps every session: its restart destroys none, logs nobody out.
    let aof = row(&results, "redis + AOF everysec");
    assert_eq!(aof.fault_losses[1], Some(0));
    assert_eq!(aof.fault_tolls[1].logged_out, 0);
}

#[test]
fn errors_are_counted_against_the_fault_they_follow() {
    let results = sticky_vs_redis();
    for r in &results {
        // Nothing fails before the first fault here, so every error is a
        // fault's.
        let summed: u64 = r.fault_tolls.iter().map(|t| t.errors).sum();
        assert_eq!(summed, r.totals.errors, "{}", r.name);
    }
    // Redis is down 8 s. With ~170 requests a second (5,000 users), every
    // second of the outage has failed requests (a second without one has
    // probability e^-170): 8 or 9 distinct seconds (the outage seldom
    // starts on a whole second), plus at most one for a request that
    // reaches Redis as it loads.
    for name in ["redis, no persistence", "redis + AOF everysec"] {
        let toll = row(&results, name).fault_tolls[1];
        assert!((8..=10).contains(&toll.error_seconds), "{name}: {toll:?}");
        assert_eq!(row(&results, name).fault_tolls[0].errors, 0, "{name}");
    }
}

#[test]
fn faults_csv_and_json_give_the_same_toll() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::support::lbsim(
        dir.path(),
        &["run", "sticky-vs-redis", "--no-plots", "--format", "json"],
    );
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let csv =
        std::fs::read_to_string(dir.path().join("results/sticky-vs-redis/faults.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "strategy,fault,kind,t_s,happened,sessions_destroyed,forced_logouts,expired_instead,errors,error_seconds"
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| {
            let mut r = ::csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(l.as_bytes());
            r.records()
                .next()
                .unwrap()
                .unwrap()
                .iter()
                .map(String::from)
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 4 * 2);
    for strategy in json["strategies"].as_array().unwrap() {
        let name = strategy["strategy"].as_str().unwrap();
        for (i, fault) in strategy["faults"].as_array().unwrap().iter().enumerate() {
            let row = rows
                .iter()
                .find(|r| r[0] == name && r[1] == (i + 1).to_string())
                .unwrap();
            for (column, key) in [
                (5, "sessions_destroyed"),
                (6, "forced_logouts"),
                (7, "expired_instead"),
                (8, "errors"),
                (9, "error_seconds"),
            ] {
                assert_eq!(row[column], fault[key].to_string(), "{name} {key}");
            }
        }
    }
}
