//! The simulation core stays pure: no I/O, no clocks, no ambient randomness,
//! no printing. Checked by reading the source, so a violation fails here
//! before it can make a run irreproducible.

use std::fs;
use std::path::Path;

use crate::support::repo;

const FORBIDDEN: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    "std::thread",
    "tokio",
    "Instant",
    "SystemTime",
    "thread_rng",
    "rand::rng()",
    "OsRng",
    "from_entropy",
    "thread_local!",
    "println!",
    "eprintln!",
    "print!(",
    "dbg!(",
    // The `redis` crate; the core's own `store::redis` module is fine.
    "redis::aio",
    "redis::Client",
    "redis::cmd",
    "redis::Cmd",
    "redis::RedisError",
    "redis::Commands",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_simulation_core_does_no_io_and_reads_no_clock() {
    let mut files = Vec::new();
    rust_files(&repo().join("src/sim"), &mut files);
    assert!(files.len() > 10, "found only {files:?}");
    let mut violations = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.trim_start().starts_with("use redis::") {
                violations.push(format!("{}:{}: the redis crate", file.display(), n + 1));
            }
            for word in FORBIDDEN {
                if code.contains(word) {
                    violations.push(format!("{}:{}: {word}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "forbidden in src/sim:\n{}",
        violations.join("\n")
    );
}
