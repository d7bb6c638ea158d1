//! The simulator against the real stack on the same scenario: forced
//! logouts and errors of each strategy agree, and `lbsim run --stack`
//! leaves nothing running behind it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use super::*;

/// The stack's agreement scenarios: 200 users for 10 minutes on 3 servers
/// with health checks, small enough for the stack to keep up on two cores
/// at 20x (30 s of wall time), with `rest` (strategies and faults).
pub(super) fn scenario(name: &str, seed: u64, rest: &str) -> String {
    let checks = r#"health_check = { interval = "2s", fall = 2, rise = 2 }"#;
    scenario_with(name, seed, checks, rest)
}

/// [`scenario`] with `servers` (TOML lines: the health checks and any
/// other `[servers]` key) in place of its health checks.
pub(super) fn scenario_with(name: &str, seed: u64, servers: &str, rest: &str) -> String {
    format!(
        r#"
name = "{name}"
seed = {seed}
duration = "10m"
report_interval = "30s"
time_scale = 20

[workload]
users = 200
arrival = {{ ramp = "1m" }}
think_time = {{ dist = "exponential", mean = "10s" }}

[servers]
count = 3
workers = 0
service_time = {{ dist = "constant", value = "2ms" }}
{servers}

[session]
ttl = "30m"
{rest}"#
    )
}

/// One server crash, recovered after a minute.
const CRASH: &str = r#"
[[fault]]
at = "4m"
kind = "server_crash"
server = 1
recover_after = "1m"
"#;

/// The strategies HAProxy runs.
const ON_HAPROXY: &str = r#"
[[strategy]]
name = "round-robin"
balancer = "round_robin"
store = "local"

[[strategy]]
name = "sticky"
balancer = "sticky"
store = "local"

[[strategy]]
name = "source"
balancer = "source"
store = "local"

[[strategy]]
name = "least-connections"
balancer = "least_connections"
store = "local"

[[strategy]]
name = "redis"
balancer = "round_robin"
store = "redis"
"#;

/// The strategies nginx runs. They have a test of their own: six
/// strategies at once are more HTTP than two cores carry at 20x (the
/// round-robin row fell 9 % short, 6,681 forced logouts against 7,315).
const ON_NGINX: &str = r#"
[[strategy]]
name = "ip-hash"
balancer = "ip_hash"
store = "local"

[[strategy]]
name = "ip-hash + redis"
balancer = "ip_hash"
store = "redis"
"#;

/// The crash scenario with `strategies`.
fn with(strategies: &[&str]) -> String {
    scenario(
        "stack-agreement",
        3,
        &format!("{CRASH}{}", strategies.concat()),
    )
}

fn number(row: &serde_json::Value, key: &str) -> f64 {
    row[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no {key} in {row}"))
}

/// Runs `toml` (in a folder of its own) with `--stack`, and returns the
/// folder and the table's rows as JSON.
pub(super) fn run_stack(toml: &str) -> (tempfile::TempDir, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.toml"), toml).unwrap();
    let out = crate::support::lbsim(
        dir.path(),
        &[
            "run",
            "s.toml",
            "--stack",
            "--format",
            "json",
            "-q",
            "--no-plots",
        ],
    );
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json["strategies"]
        .as_array()
        .expect("strategy rows")
        .clone();
    (dir, rows)
}

/// Runs `toml` (in a folder of its own) with `--stack` and checks that the
/// simulated and stack rows of each strategy in `names` agree on forced
/// logouts and errors; returns the results folder, the JSON rows and the
/// figures.
pub(super) fn run_and_compare(
    toml: &str,
    names: &[&str],
) -> (tempfile::TempDir, Vec<serde_json::Value>, String) {
    let (dir, rows) = run_stack(toml);
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["strategy"] == name)
            .unwrap_or_else(|| panic!("no row {name}"))
            .clone()
    };
    let mut report = String::new();
    for &name in names {
        let (sim, stack) = (row(name), row(&format!("{name} [stack]")));
        assert_eq!(stack["mode"], "stack");
        // least-connections agreed only once the model counted a request
        // waiting out its turn-around on a dead server as one of that
        // server's connections, as HAProxy's `srv->served` does (29
        // simulated errors before, 1 after; 5 to 7 on the stack).
        let keys = ["forced_logouts", "errors"];
        for key in keys {
            let (a, b) = (number(&sim, key), number(&stack, key));
            // The two runs share the users and think times but not their
            // timing (real latencies), nor the client addresses `source`
            // hashes, so each count is an independent draw of about the
            // same mean. As counts of rare events each is roughly Poisson:
            // the difference has a standard deviation of about
            // sqrt(a + b); allow four, plus 3 for counts near zero.
            let tolerance = 4.0 * (a + b).sqrt() + 3.0;
            report.push_str(&format!(
                "{name}: {key} sim {a} stack {b} (±{tolerance:.0})\n"
            ));
            assert!(
                (a - b).abs() <= tolerance,
                "{name}: {key}: simulated {a}, stack {b}, tolerance {tolerance:.1}\n{report}"
            );
        }
    }
    (dir, rows, report)
}

#[test]
fn simulated_and_stack_rows_agree_on_logouts_and_errors() {
    let names = [
        "round-robin",
        "sticky",
        "source",
        "least-connections",
        "redis",
    ];
    let (dir, _, report) = run_and_compare(&with(&[ON_HAPROXY]), &names);
    eprintln!("{report}");
    // What ran is in the folder: each strategy's HAProxy configuration.
    let folder = dir.path().join("results/stack-agreement");
    let config = std::fs::read_to_string(folder.join("haproxy-sticky.cfg")).unwrap();
    assert!(
        config.contains("cookie SERVERID insert indirect nocache"),
        "{config}"
    );
    assert!(config.contains("inter 100ms fall 2 rise 2"), "{config}");
    let meta = std::fs::read_to_string(folder.join("meta.json")).unwrap();
    assert!(meta.contains("\"haproxy_version\""), "{meta}");
    assert!(meta.contains("haproxy-sticky.cfg"), "{meta}");
}

#[test]
fn ip_hash_on_nginx_agrees_with_the_model() {
    let (dir, rows, report) = run_and_compare(&with(&[ON_NGINX]), &["ip-hash", "ip-hash + redis"]);
    eprintln!("{report}");
    // Each stack user sends the model's address, which nginx hashes
    // (`stack::nginx`): the same users sit on the crashed server, so the
    // same users are logged out, but for the few whose first login came
    // while it was down.
    let affected = |name: &str| {
        let row = rows.iter().find(|r| r["strategy"] == name).unwrap();
        number(row, "users_affected")
    };
    let (sim, stack) = (affected("ip-hash"), affected("ip-hash [stack]"));
    assert!(
        (sim - stack).abs() <= 3.0,
        "users affected: sim {sim}, stack {stack}"
    );
    assert!(sim >= 40.0, "a third of 200 users are on server 1: {sim}");
    let folder = dir.path().join("results/stack-agreement");
    let config = std::fs::read_to_string(folder.join("nginx-ip-hash.conf")).unwrap();
    assert!(config.contains("ip_hash;"), "{config}");
    // 10 s at 20x, in nginx's whole seconds.
    assert!(config.contains("max_fails=1 fail_timeout=1s"), "{config}");
    let meta = std::fs::read_to_string(folder.join("meta.json")).unwrap();
    assert!(meta.contains("\"nginx_version\""), "{meta}");
    assert!(meta.contains("nginx-ip-hash.conf"), "{meta}");
    assert!(!meta.contains("\"haproxy_version\""), "{meta}");
}

fn stop_mid_run(signal: i32) {
    let dir = tempfile::tempdir().unwrap();
    let toml = with(&[ON_HAPROXY, ON_NGINX]);
    std::fs::write(dir.path().join("s.toml"), toml).unwrap();
    let mut lbsim = Command::new(env!("CARGO_BIN_EXE_lbsim"))
        .args(["run", "s.toml", "--stack", "--no-plots"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = lbsim.id();
    let mut lines = BufReader::new(lbsim.stderr.take().unwrap()).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.starts_with("stack: ")),
        "the stack never came up"
    );
    std::thread::spawn(move || lines.for_each(drop));
    std::thread::sleep(Duration::from_secs(2));
    let mut children = children_of(pid);
    // nginx's workers are its master's children.
    let workers: Vec<u32> = children
        .iter()
        .filter(|&&c| {
            std::fs::read_to_string(format!("/proc/{c}/comm"))
                .unwrap_or_default()
                .trim()
                == "nginx"
        })
        .flat_map(|&c| children_of(c))
        .collect();
    assert_eq!(workers.len(), 2, "one worker per nginx");
    // 5 HAProxy, 2 nginx, 21 app servers, 2 redis-servers.
    assert_eq!(children.len(), 30, "children of lbsim: {children:?}");
    children.extend(workers);
    let names: Vec<String> = children
        .iter()
        .map(|c| std::fs::read_to_string(format!("/proc/{c}/comm")).unwrap_or_default())
        .collect();
    for program in ["haproxy", "nginx", "lbsim", "redis-server"] {
        assert!(
            names.iter().any(|n| n.trim() == program),
            "no {program} among {names:?}"
        );
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid as i32, signal) };
    let status = lbsim.wait().unwrap();
    if signal == libc::SIGINT {
        assert_eq!(status.code(), Some(130));
    }
    assert_all_stopped(pid, &children, signal == libc::SIGINT);
}

#[test]
fn ctrl_c_of_a_stack_run_stops_haproxy_nginx_app_servers_and_redis() {
    stop_mid_run(libc::SIGINT);
}

#[test]
fn sigkill_of_a_stack_run_takes_haproxy_nginx_app_servers_and_redis_with_it() {
    stop_mid_run(libc::SIGKILL);
}
