//! Throughput of the simulation core, single-threaded per strategy.
//!
//! Runs `sticky-vs-redis` with many users for each strategy on one thread
//! and prints simulated requests and events per second of wall time. Usage:
//! `scripts/bench.sh [USERS] [DURATION]` (default 100000 users, 20m).

use std::path::Path;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let users: u32 = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let duration = args.get(1).map(String::as_str).unwrap_or("20m");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sticky-vs-redis.toml");
    let mut scenario = lbsim::scenario::load(&path).expect("bundled scenario is valid");
    scenario.workload.users = users;
    scenario.duration = lbsim::scenario::parse_duration(duration).expect("a duration");
    println!("sticky-vs-redis, {users} users, {duration} simulated, one thread per row");
    println!(
        "{:<26} {:>12} {:>12} {:>9} {:>14} {:>14}",
        "strategy", "requests", "events", "wall s", "requests/s", "events/s"
    );
    let scenario = std::sync::Arc::new(scenario);
    for index in 0..scenario.strategies.len() {
        let start = Instant::now();
        let result = lbsim::sim::engine::run(&scenario, index);
        let wall = start.elapsed().as_secs_f64();
        println!(
            "{:<26} {:>12} {:>12} {:>9.3} {:>14.0} {:>14.0}",
            result.name,
            result.totals.requests,
            result.events_processed,
            wall,
            result.totals.requests as f64 / wall,
            result.events_processed as f64 / wall
        );
    }
}
