//! The command line as a user meets it.

use std::fs;

use crate::support::{lbsim, repo, stderr, stdout};
use lbsim::report::csv::{EVENTS_COLUMNS, SUMMARY_COLUMNS, TIMESERIES_COLUMNS};

#[test]
fn run_writes_the_three_files_with_their_stable_columns() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/sticky-vs-redis.toml");
    let out = lbsim(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--users",
            "600",
            "--duration",
            "40m",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let results = dir.path().join("results/sticky-vs-redis");
    let header = |file: &str| {
        let text = fs::read_to_string(results.join(file)).unwrap();
        text.lines().next().unwrap().to_string()
    };
    assert_eq!(
        header("summary.csv"),
        "strategy,balancer,store,requests,logins,forced_logouts,expired,errors,users_affected,logout_pct,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,error_p99_ms,error_max_ms,mode,persistence,appendfsync,replicas,shards"
    );
    assert_eq!(header("summary.csv"), SUMMARY_COLUMNS.join(","));
    // The store's settings, one column each, and where the row came from.
    let summary = fs::read_to_string(results.join("summary.csv")).unwrap();
    let tail = |strategy: &str| {
        let line = summary
            .lines()
            .find(|l| l.starts_with(strategy))
            .unwrap_or_else(|| panic!("no {strategy} in {summary}"));
        let mut last: Vec<&str> = line.rsplitn(6, ',').take(5).collect();
        last.reverse();
        last.join(",")
    };
    assert_eq!(tail("sticky + in-memory,"), "sim,,,0,0");
    assert_eq!(tail("\"redis, no persistence\","), "sim,none,,0,1");
    assert_eq!(tail("redis + AOF everysec,"), "sim,aof,everysec,0,1");
    assert_eq!(
        header("timeseries.csv"),
        "strategy,t_s,requests,forced_logouts,errors,active_sessions,p99_ms"
    );
    assert_eq!(header("timeseries.csv"), TIMESERIES_COLUMNS.join(","));
    assert_eq!(
        header("events.csv"),
        "t_s,strategy,event,detail,sessions_destroyed"
    );
    assert_eq!(header("events.csv"), EVENTS_COLUMNS.join(","));
    // No temporary files are left behind; the one hidden file is the
    // manifest of what lbsim wrote.
    for entry in fs::read_dir(&results).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            !name.starts_with('.') || name == lbsim::report::folder::MANIFEST,
            "left over: {name}"
        );
    }

    // The table has a row per strategy and a column per fault.
    let table = stdout(&out);
    for name in [
        "round-robin + in-memory",
        "sticky + in-memory",
        "redis, no persistence",
        "redis + AOF everysec",
    ] {
        assert!(table.contains(name), "{table}");
    }
    assert!(
        table.contains("server_crash @ 00:15:00")
            && table.contains("redis_restart (crash) @ 00:35:00")
    );

    // The summary rows match the time series: totals add up.
    let summary = fs::read_to_string(results.join("summary.csv")).unwrap();
    let series = fs::read_to_string(results.join("timeseries.csv")).unwrap();
    for row in summary.lines().skip(1) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(row.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        let (name, requests): (&str, u64) = (&record[0], record[3].parse().unwrap());
        let mut series_reader = csv::Reader::from_reader(series.as_bytes());
        let sum: u64 = series_reader
            .records()
            .map(|r| r.unwrap())
            .filter(|r| &r[0] == name)
            .map(|r| r[2].parse::<u64>().unwrap())
            .sum();
        assert_eq!(sum, requests, "{name}");
    }
}

#[test]
fn out_flag_and_json_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(
        dir.path(),
        &[
            "run",
            "sticky-crash",
            "--out",
            "here",
            "--format",
            "json",
            "--duration",
            "12m",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("here/summary.csv").exists());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let strategies = json["strategies"].as_array().unwrap();
    assert_eq!(strategies.len(), 3);
    assert_eq!(strategies[0]["strategy"], "sticky + in-memory");
    assert!(
        strategies[0]["faults"][0]["sessions_destroyed"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn list_shows_every_bundled_scenario_with_its_description() {
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(dir.path(), &["list"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for name in [
        "in-memory-problem",
        "sticky-crash",
        "redis-restart",
        "sticky-vs-redis",
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing: {text}"));
        assert!(line.len() > name.len() + 20, "no description: {line}");
    }
}

#[test]
fn every_file_in_scenarios_is_bundled_and_valid() {
    let mut on_disk: Vec<String> = fs::read_dir(repo().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    on_disk.sort();
    let mut bundled: Vec<String> = lbsim::scenario::bundled::BUNDLED
        .iter()
        .map(|b| b.file.to_string())
        .collect();
    bundled.sort();
    assert_eq!(on_disk, bundled);
    for file in on_disk {
        let out = lbsim(&repo(), &["validate", &format!("scenarios/{file}")]);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        let s = lbsim::scenario::load(&repo().join("scenarios").join(&file)).unwrap();
        assert!(!s.description.is_empty(), "{file} has no description");
        assert_eq!(
            format!("{}.toml", s.name),
            file,
            "name matches the file name"
        );
    }
}

#[test]
fn a_long_run_draws_no_progress_bar_when_stderr_is_not_a_terminal() {
    // Long enough (over a second) that a terminal would get bars.
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(
        dir.path(),
        &[
            "run",
            "sticky-vs-redis",
            "--users",
            "100000",
            "--duration",
            "30m",
        ],
    );
    assert!(out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("wrote ") && !err.contains('\x1b'), "{err}");
}

/// Terminal columns of the widest line.
fn widest(text: &str) -> usize {
    text.lines()
        .map(unicode_width::UnicodeWidthStr::width)
        .max()
        .unwrap_or(0)
}

#[test]
fn every_bundled_scenario_fits_80_and_120_columns_and_wide_keeps_every_column() {
    // The full tables are 140 to 370 columns wide; at a terminal's width
    // (COLUMNS here) the same numbers are laid out to fit, with the
    // sessions destroyed per fault and the verdict in tables of their own.
    for scenario in [
        "comparison-table",
        "in-memory-problem",
        "redis-crash-small",
        "redis-restart",
        "sticky-crash",
        "sticky-vs-redis",
    ] {
        for width in [80usize, 120] {
            let dir = tempfile::tempdir().unwrap();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_lbsim"))
                .current_dir(dir.path())
                .env("COLUMNS", width.to_string())
                .args(["run", scenario, "--no-plots", "--quiet"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            let text = stdout(&out);
            assert!(
                widest(&text) <= width,
                "{scenario} at {width}: a line of {} columns\n{text}",
                widest(&text)
            );
            assert!(text.contains("forced logouts"), "{text}");
        }
    }
    // Piped without COLUMNS, and with --wide whatever COLUMNS says: the
    // full layout, one line per strategy with every column.
    let dir = tempfile::tempdir().unwrap();
    let piped = lbsim(dir.path(), &["run", "sticky-vs-redis", "--no-plots"]);
    let wide = std::process::Command::new(env!("CARGO_BIN_EXE_lbsim"))
        .current_dir(dir.path())
        .env("COLUMNS", "80")
        .args(["run", "sticky-vs-redis", "--no-plots", "--wide"])
        .output()
        .unwrap();
    assert_eq!(stdout(&piped), stdout(&wide));
    assert!(widest(&stdout(&wide)) > 200);
    assert!(stdout(&wide).contains("server_crash @ 00:15:00 ┆"));
}
