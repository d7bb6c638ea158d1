//! The shape of every output format on a small scenario, as insta
//! snapshots: a changed format shows up as a diff to review (`cargo insta
//! review`), never silently. The simulator is deterministic, so the numbers
//! in the snapshots are exact too.

use std::fs;

use crate::support::{lbsim, stderr, stdout};

const SMALL: &str = r#"
name = "formats"
description = "Sticky in-memory against Redis with AOF, one crash of each"
seed = 11
duration = "5m"
report_interval = "1m"
[workload]
users = 40
arrival = { ramp = "20s" }
think_time = { dist = "exponential", mean = "10s" }
[servers]
count = 2
service_time = { dist = "constant", value = "2ms" }
[store.redis]
latency = { dist = "constant", value = "400us" }
persistence = "aof"
[[strategy]]
name = "sticky + in-memory"
balancer = "sticky"
store = "local"
[[strategy]]
name = "redis + AOF"
balancer = "round_robin"
store = "redis"
[[fault]]
at = "2m"
kind = "server_crash"
server = 0
recover_after = "30s"
[[fault]]
at = "4m"
kind = "redis_restart"
mode = "crash"
downtime = "10s"
[verdict]
"#;

/// Runs `lbsim run` on the small scenario; returns stdout and the folder.
fn run_small(format: &str) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("formats.toml"), SMALL).unwrap();
    let out = lbsim(
        dir.path(),
        &[
            "run",
            "formats.toml",
            "--no-plots",
            "--format",
            format,
            "--out",
            "out",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    (stdout(&out), dir)
}

fn read(dir: &tempfile::TempDir, name: &str) -> String {
    fs::read_to_string(dir.path().join("out").join(name)).unwrap()
}

#[test]
fn the_terminal_table() {
    let (text, _dir) = run_small("table");
    insta::assert_snapshot!("table", text);
}

#[test]
fn the_csv_files_headers_and_summary() {
    let (text, dir) = run_small("csv");
    assert_eq!(
        text,
        read(&dir, "summary.csv"),
        "--format csv is summary.csv"
    );
    let headers: Vec<String> = [
        "summary.csv",
        "timeseries.csv",
        "events.csv",
        "servers.csv",
        "imbalance.csv",
        "verdict.csv",
    ]
    .iter()
    .map(|name| {
        let body = read(&dir, name);
        format!("{name}: {}", body.lines().next().unwrap_or(""))
    })
    .collect();
    insta::assert_snapshot!("csv_headers", headers.join("\n"));
    insta::assert_snapshot!("summary_csv", read(&dir, "summary.csv"));
    insta::assert_snapshot!("events_csv", read(&dir, "events.csv"));
}

#[test]
fn the_verdict_page() {
    let (_, dir) = run_small("table");
    insta::assert_snapshot!("verdict_md", read(&dir, "verdict.md"));
}

#[test]
fn the_markdown_report() {
    let (_, dir) = run_small("table");
    insta::assert_snapshot!("report_md", read(&dir, "report.md"));
}

#[test]
fn the_json_output() {
    let (text, _dir) = run_small("json");
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    insta::assert_snapshot!("json", serde_json::to_string_pretty(&value).unwrap());
}
