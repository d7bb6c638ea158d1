//! The same seed gives byte-identical files; a different seed does not; the
//! number of threads changes nothing.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::support::{lbsim, repo, stderr};

const FILES: [&str; 5] = [
    "summary.csv",
    "timeseries.csv",
    "events.csv",
    "servers.csv",
    "meta.json",
];

fn run_into(dir: &Path, out: &str, extra: &[&str], threads: &str) {
    let scenario = repo().join("scenarios/sticky-vs-redis.toml");
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out,
        "--users",
        "800",
        "--duration",
        "40m",
    ];
    args.extend_from_slice(extra);
    let status = Command::new(env!("CARGO_BIN_EXE_lbsim"))
        .args(&args)
        .current_dir(dir)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", stderr(&status));
}

fn read(dir: &Path, out: &str, file: &str) -> Vec<u8> {
    fs::read(dir.join(out).join(file)).unwrap()
}

#[test]
fn same_seed_same_bytes_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    run_into(dir.path(), "a", &[], "2");
    run_into(dir.path(), "b", &[], "1");
    for file in FILES {
        assert_eq!(
            read(dir.path(), "a", file),
            read(dir.path(), "b", file),
            "{file}"
        );
    }
}

#[test]
fn different_seeds_differ() {
    let dir = tempfile::tempdir().unwrap();
    run_into(dir.path(), "a", &["--seed", "1"], "2");
    run_into(dir.path(), "b", &["--seed", "2"], "2");
    assert_ne!(
        read(dir.path(), "a", "summary.csv"),
        read(dir.path(), "b", "summary.csv")
    );
    assert_ne!(
        read(dir.path(), "a", "timeseries.csv"),
        read(dir.path(), "b", "timeseries.csv")
    );
}

#[test]
fn stdout_csv_is_summary_csv() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/in-memory-problem.toml");
    let out = lbsim(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--format",
            "csv",
            "--duration",
            "2m",
        ],
    );
    assert!(out.status.success());
    let written = fs::read(dir.path().join("results/in-memory-problem/summary.csv")).unwrap();
    assert_eq!(out.stdout, written);
}
