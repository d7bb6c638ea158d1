//! `lbsim sweep`: the cartesian product of the `--set` values, one row per
//! run, swept values as columns, the same bytes whatever the thread count,
//! bad keys and values refused before anything is written, and the plots.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::support::{lbsim, stderr, stdout};

/// Two strategies and a server crash, small enough that a sweep of a dozen
/// runs takes well under a second.
const SMALL: &str = r#"name = "small"
seed = 3
duration = "5m"
report_interval = "30s"

[workload]
users = 100
arrival = { ramp = "30s" }
think_time = { dist = "exponential", mean = "5s" }

[servers]
count = 3
service_time = { dist = "constant", value = "2ms" }

[[strategy]]
name = "sticky + in-memory"
balancer = "sticky"
store = "local"

[[strategy]]
name = "round-robin + redis"
balancer = "round_robin"
store = "redis"

[[fault]]
at = "2m"
kind = "server_crash"
server = 0
recover_after = "30s"
"#;

/// A fresh folder holding `small.toml`.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("small.toml"), SMALL).unwrap();
    dir
}

/// Runs `lbsim sweep small.toml ARGS --quiet` in `dir` and checks success.
fn sweep(dir: &Path, args: &[&str]) {
    let mut all = vec!["sweep", "small.toml", "--quiet"];
    all.extend_from_slice(args);
    let out = lbsim(dir, &all);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The lines of a CSV file, each split on commas (no value here contains
/// one).
fn csv(path: &Path) -> Vec<Vec<String>> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn one_row_per_point_and_strategy_with_the_swept_values() {
    let dir = folder();
    sweep(
        dir.path(),
        &[
            "--set",
            "workload.users=100,200",
            "--set",
            "servers.count=2,3,4",
            "--out",
            "s",
        ],
    );
    let rows = csv(&dir.path().join("s/sweep.csv"));
    assert_eq!(
        rows[0][..4],
        ["workload.users", "servers.count", "strategy", "balancer"]
    );
    assert_eq!(rows[0].len(), 2 + lbsim::report::csv::SUMMARY_COLUMNS.len());
    // 2 users values × 3 server counts × 2 strategies.
    assert_eq!(rows.len() - 1, 12);
    // The first --set varies slowest, the strategies fastest.
    let mut expected = Vec::new();
    for users in ["100", "200"] {
        for count in ["2", "3", "4"] {
            for strategy in ["sticky + in-memory", "round-robin + redis"] {
                expected.push([users, count, strategy]);
            }
        }
    }
    let got: Vec<[&str; 3]> = rows[1..]
        .iter()
        .map(|r| [r[0].as_str(), r[1].as_str(), r[2].as_str()])
        .collect();
    assert_eq!(got, expected);
    // The values took effect: each user logs in at least once, so twice the
    // users means more logins for every (count, strategy).
    let logins = |r: &Vec<String>| r[2 + 4].parse::<u64>().unwrap();
    for (small, large) in rows[1..7].iter().zip(&rows[7..13]) {
        assert!(logins(large) > logins(small), "{small:?} vs {large:?}");
    }
}

#[test]
fn a_swept_value_gives_the_same_numbers_as_the_same_run() {
    let dir = folder();
    sweep(dir.path(), &["--set", "workload.users=150", "--out", "s"]);
    let out = lbsim(
        dir.path(),
        &[
            "run",
            "small.toml",
            "--users",
            "150",
            "--format",
            "csv",
            "--out",
            "r",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    let swept: Vec<String> = csv(&dir.path().join("s/sweep.csv"))
        .into_iter()
        .map(|r| r[1..].join(","))
        .collect();
    assert_eq!(swept, summary);
}

#[test]
fn same_bytes_with_one_and_two_threads() {
    let dir = folder();
    for threads in ["1", "2"] {
        let out = Command::new(env!("CARGO_BIN_EXE_lbsim"))
            .args(["sweep", "small.toml", "--quiet", "--out", threads])
            .args([
                "--set",
                "servers.count=2,3",
                "--set",
                "workload.users=100,200",
            ])
            .current_dir(dir.path())
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    for file in ["sweep.csv", "sweep.svg", "sweep.png"] {
        let read = |threads: &str| fs::read(dir.path().join(threads).join(file)).unwrap();
        assert_eq!(read("1"), read("2"), "{file}");
    }
}

#[test]
fn bad_keys_values_and_metrics_are_exit_2_and_write_nothing() {
    let cases: [(&[&str], &str); 6] = [
        (
            &["--set", "servers.count=2,0"],
            "--set servers.count=0: field `servers.count`",
        ),
        (&["--set", "servers.cont=2"], "--set servers.cont=2"),
        (&["--set", "strategy[5].name=x"], "no `strategy[5]`"),
        (&["--set", "duration=10"], "--set duration=10"),
        (&["--set", "servers.count"], "KEY=V1,V2"),
        (
            &["--set", "servers.count=2", "--metric", "nope"],
            "forced_logouts, expired",
        ),
    ];
    for (args, expect) in cases {
        let dir = folder();
        let mut all = vec!["sweep", "small.toml"];
        all.extend_from_slice(args);
        let out = lbsim(dir.path(), &all);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(expect),
            "{args:?}: expected `{expect}` in {err}"
        );
        assert!(!dir.path().join("results").exists(), "{args:?} wrote files");
    }
}

#[test]
fn plots_are_written_with_size_legend_and_axis_titles() {
    let dir = folder();
    // Default folder: results/<name>-sweep.
    sweep(
        dir.path(),
        &["--set", "workload.users=100,200", "--metric", "p99_ms"],
    );
    let folder = dir.path().join("results/small-sweep");
    let png = fs::read(folder.join("sweep.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1600, 900));
    let svg = fs::read_to_string(folder.join("sweep.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
    for text in [
        "sticky + in-memory",
        "round-robin + redis",
        "workload.users",
        "p99 latency (ms)",
        // plotters writes each text on its own line.
        "\n100\n</text>",
        "\n200\n</text>",
    ] {
        assert!(svg.contains(text), "`{text}` missing from the SVG");
    }
}

#[test]
fn a_non_numeric_first_key_gets_categories() {
    let dir = folder();
    sweep(
        dir.path(),
        &[
            "--set",
            "strategy[1].redis.persistence=none,aof",
            "--out",
            "s",
        ],
    );
    let rows = csv(&dir.path().join("s/sweep.csv"));
    assert_eq!(rows[0][0], "strategy[1].redis.persistence");
    assert_eq!(rows[3][0], "aof");
    let svg = fs::read_to_string(dir.path().join("s/sweep.svg")).unwrap();
    assert!(svg.contains("\nnone\n</text>") && svg.contains("\naof\n</text>"));
}

#[test]
fn the_table_on_stdout_has_a_row_per_run_with_the_values_of_sweep_csv() {
    let dir = folder();
    let out = lbsim(
        dir.path(),
        &[
            "sweep",
            "small.toml",
            "--quiet",
            "--set",
            "workload.users=100,200",
            "--set",
            "servers.count=2,3,4",
            "--metric",
            "logout_pct",
            "--out",
            "s",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("small: 6 combinations × 2 strategies (--metric logout_pct)\n"),
        "{text}"
    );
    // The table's rows, cut into cells (no value here contains a separator).
    let cells = |line: &str| -> Vec<String> {
        line.trim_matches('│')
            .split('┆')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let mut lines = text.lines().filter(|l| l.starts_with('│'));
    assert_eq!(
        cells(lines.next().unwrap()),
        [
            "workload.users",
            "servers.count",
            "strategy",
            "logout %",
            "forced logouts",
            "errors",
            "p99 ms"
        ]
    );
    let rows: Vec<Vec<String>> = lines.map(cells).collect();
    let csv = csv(&dir.path().join("s/sweep.csv"));
    let column = |name: &str| csv[0].iter().position(|c| c == name).unwrap();
    let number = |row: &[String], name: &str| row[column(name)].parse::<f64>().unwrap();
    // One row per combination × strategy, in sweep.csv's order; counts with
    // thousands separators and two decimals, as the run's table.
    assert_eq!(rows.len(), 12);
    assert_eq!(rows.len(), csv.len() - 1);
    for (row, expected) in rows.iter().zip(&csv[1..]) {
        let count = lbsim::report::table::thousands(number(expected, "forced_logouts") as u64);
        assert_eq!(
            *row,
            [
                expected[0].clone(),
                expected[1].clone(),
                expected[column("strategy")].clone(),
                format!("{:.2}%", number(expected, "logout_pct")),
                count,
                expected[column("errors")].clone(),
                format!("{:.2}", number(expected, "p99_ms")),
            ]
        );
    }
    // The metric is not repeated when it is one of the usual columns.
    let out = lbsim(
        dir.path(),
        &[
            "sweep",
            "small.toml",
            "--quiet",
            "--set",
            "servers.count=2",
            "--out",
            "t",
        ],
    );
    let header = stdout(&out).lines().nth(2).unwrap().to_string();
    assert_eq!(header.matches("forced logouts").count(), 1, "{header}");
}

/// Runs `lbsim ARGS` in `dir` and checks success; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = lbsim(dir, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_sharded_sweep_merges_into_the_bytes_of_the_unsharded_one() {
    let dir = folder();
    let sets = [
        "--set",
        "servers.count=2,3,4",
        "--set",
        "workload.users=100,150",
        "--metric",
        "p99_ms",
    ];
    let mut whole = vec!["sweep", "small.toml", "--quiet", "--out", "whole"];
    whole.extend_from_slice(&sets);
    let table = ok(dir.path(), &whole);
    // 12 runs in 5 shards: uneven slices, one shard per folder as an array
    // job's tasks would write them.
    let parts: Vec<String> = (1..=5).map(|k| format!("part{k}")).collect();
    for (k, part) in parts.iter().enumerate() {
        let shard = format!("{}/5", k + 1);
        let mut args = vec!["sweep", "small.toml", "--quiet", "--out", part];
        args.extend_from_slice(&sets);
        args.extend_from_slice(&["--shard", &shard]);
        ok(dir.path(), &args);
        // A part is not a sweep's result: no sweep.csv until the merge.
        assert!(!dir.path().join(part).join("sweep.csv").exists());
    }
    let mut merge = vec!["sweep", "merge", "--out", "merged"];
    // In a different order than the shards: the merge sorts the runs.
    merge.extend(parts.iter().rev().map(String::as_str));
    assert_eq!(ok(dir.path(), &merge), table);
    for file in ["sweep.csv", "sweep.svg", "sweep.png"] {
        let read = |folder: &str| fs::read(dir.path().join(folder).join(file)).unwrap();
        assert!(read("whole") == read("merged"), "{file} differs");
    }

    // A missing part, a part twice, or a part of another sweep: exit 2,
    // naming the problem, nothing written.
    let other = [
        "sweep",
        "small.toml",
        "--quiet",
        "--out",
        "other",
        "--set",
        "servers.count=2,3",
        "--shard",
        "1/5",
    ];
    ok(dir.path(), &other);
    let cases: [(&[&str], &str); 3] = [
        (
            &["part1", "part2", "part3", "part4"],
            "shard(s) 5 of 5 missing",
        ),
        (
            &[
                "part1",
                "part1/sweep-part-1-of-5.json",
                "part2",
                "part3",
                "part4",
                "part5",
            ],
            "shard 1 again",
        ),
        (
            &["other", "part2", "part3", "part4", "part5"],
            "not a part of the same sweep",
        ),
    ];
    for (dirs, message) in cases {
        let mut args = vec!["sweep", "merge", "--out", "bad"];
        args.extend_from_slice(dirs);
        let out = lbsim(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{dirs:?}");
        assert!(stderr(&out).contains(message), "{dirs:?}: {}", stderr(&out));
        assert!(!dir.path().join("bad").exists());
    }
}
