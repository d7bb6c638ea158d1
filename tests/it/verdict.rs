//! The verdict table of the bundled comparison scenario: each mark with the
//! reasoning that predicts it.

use std::fs;

use lbsim::report::verdict::{Mark, compute};

use crate::support::{lbsim, repo, stderr, stdout};

#[test]
fn the_comparison_table_marks_what_reasoning_predicts() {
    let scenario = lbsim::scenario::load(&repo().join("scenarios/comparison-table.toml")).unwrap();
    let results = lbsim::runner::run(&scenario);
    let verdict = compute(&scenario, &results);
    let cell = |row: &str, strategy: &str| {
        let (_, cells) = verdict.rows.iter().find(|(name, _)| *name == row).unwrap();
        let i = verdict
            .strategies
            .iter()
            .position(|s| s == strategy)
            .unwrap();
        cells[i].clone()
    };
    // Round-robin + in-memory logs users out with no fault at all.
    assert_eq!(cell("Works", "round-robin + in-memory").mark, Mark::Fail);
    // A sticky crash logs out the users pinned to the crashed server, about
    // a quarter of 3,000.
    let sticky = cell("Fault tolerant", "sticky + in-memory");
    assert_eq!(sticky.mark, Mark::Fail);
    assert!(
        (600.0..=900.0).contains(&sticky.value.unwrap()),
        "{:?}",
        sticky
    );
    // Every user is pinned before the scale-out, so the 2 new servers stay
    // idle and 4 servers carry what 6 could: at least 6/4 = 1.5x the mean.
    let scale = cell("Scalable", "sticky + in-memory");
    assert_eq!(scale.mark, Mark::Fail);
    assert!(scale.value.unwrap() >= 1.45, "{:?}", scale);
    assert_eq!(cell("Scalable", "redis + AOF").mark, Mark::Pass);
    // A Redis crash without persistence and without replica loses every
    // session; AOF, a replica or a cluster replica lose (almost) none.
    assert_eq!(
        cell("Survives Redis restart", "redis, no persistence").mark,
        Mark::Fail
    );
    for strategy in [
        "redis + AOF",
        "redis + replica (Sentinel)",
        "redis cluster (3 shards)",
    ] {
        assert_eq!(
            cell("Survives Redis restart", strategy).mark,
            Mark::Pass,
            "{strategy}"
        );
        // ... but each fails availability: the app waits for Redis.
        assert_eq!(
            cell("Recommended", strategy).text,
            "Available during faults failed",
            "{strategy}"
        );
    }
    // Seconds with errors after the Redis crash. 3,000 users clicking
    // every 10 s send ~300 requests a second, so a second of outage
    // without a failed request has probability e^-300: each count is the
    // outage itself. AOF: Redis is down for the whole minute. Sentinel:
    // `down_after` 30 s, then its failover (~2 s). Cluster: `node_timeout`
    // 15 s, then FAIL spreads and the replica's election (~1-3 s).
    let seconds = |strategy: &str| {
        let c = cell("Available during faults", strategy);
        assert_eq!(c.mark, Mark::Fail, "{strategy}: {c:?}");
        c.value.unwrap()
    };
    assert!((60.0..=62.0).contains(&seconds("redis + AOF")));
    assert!((31.0..=35.0).contains(&seconds("redis + replica (Sentinel)")));
    assert!((16.0..=20.0).contains(&seconds("redis cluster (3 shards)")));
    // An app-server crash costs at most the requests in flight on it.
    let sticky = cell("Available during faults", "sticky + in-memory");
    assert_eq!(sticky.mark, Mark::Pass, "{sticky:?}");
    // In-memory strategies have no Redis to survive.
    assert_eq!(
        cell("Survives Redis restart", "sticky + in-memory").mark,
        Mark::NotMeasured
    );
    assert_eq!(
        cell("Recommended", "redis, no persistence").text,
        "Survives Redis restart, Available during faults failed"
    );
}

#[test]
fn the_verdict_is_printed_and_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(
        dir.path(),
        &["run", "comparison-table", "--no-plots", "--duration", "45m"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Recommended") && text.contains("✅") && text.contains("❌"),
        "{text}"
    );
    let results = dir.path().join("results/comparison-table");
    let csv = fs::read_to_string(results.join("verdict.csv")).unwrap();
    assert_eq!(
        csv.lines().next().unwrap(),
        "row,strategy,mark,value,detail"
    );
    assert_eq!(csv.lines().count(), 1 + 7 * 6);
    let report = fs::read_to_string(results.join("report.md")).unwrap();
    assert!(report.contains("### Verdict"));
    // Without a [verdict] section the table is written but not printed.
    let out = lbsim(
        dir.path(),
        &["run", "sticky-crash", "--no-plots", "--duration", "12m"],
    );
    assert!(!stdout(&out).contains("Recommended"));
    assert!(dir.path().join("results/sticky-crash/verdict.csv").exists());
}

#[test]
fn every_mark_has_a_word_and_the_report_a_class_for_it() {
    // Without an emoji font a browser draws ✅ and ❌ as the same box: the
    // word and the cell's class tell pass from fail anyway.
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(dir.path(), &["run", "comparison-table", "--no-plots"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = fs::read_to_string(dir.path().join("results/comparison-table/report.html")).unwrap();
    assert!(
        html.contains("<td class=\"pass\">✅ pass: "),
        "no pass cell"
    );
    assert!(
        html.contains("<td class=\"fail\">❌ fail: "),
        "no fail cell"
    );
    assert!(
        html.contains("td.fail { color: #cf222e"),
        "no style for fail"
    );
    let md = fs::read_to_string(dir.path().join("results/comparison-table/verdict.md")).unwrap();
    assert!(md.contains("❌ fail: ") && md.contains("✅ pass: "), "{md}");
}
