//! The processes lbsim starts: stopped on Ctrl-C and with lbsim, a clear
//! error without redis-server, and only its own keys on a user's Redis.

use super::*;

/// Starts `lbsim run FILE --live` in the background and returns it with the
/// pids and ports of the first `servers` redis-servers and Sentinels it
/// reported, once all have started.
pub(super) fn start_live_lbsim(
    dir: &Path,
    file: &str,
    servers: usize,
) -> (std::process::Child, Vec<(u32, u16)>) {
    start_live_lbsim_with_temp(dir, file, servers, &std::env::temp_dir())
}

/// [`start_live_lbsim`] with its temporary folders in `temp`, where no
/// other test's lbsim looks for stale ones.
fn start_live_lbsim_with_temp(
    dir: &Path,
    file: &str,
    servers: usize,
    temp: &Path,
) -> (std::process::Child, Vec<(u32, u16)>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lbsim"))
        .args(["run", file, "--live", "--out", "out"])
        .env("TMPDIR", temp)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut started = Vec::new();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        // "live: started redis-server pid N on port P for `…`", and the
        // same with redis-sentinel.
        if let Some(rest) = line
            .strip_prefix("live: started redis-server pid ")
            .or_else(|| line.strip_prefix("live: started redis-sentinel pid "))
        {
            let words: Vec<&str> = rest.split_whitespace().collect();
            started.push((words[0].parse().unwrap(), words[3].parse().unwrap()));
        }
        if started.len() == servers {
            break;
        }
    }
    assert_eq!(started.len(), servers, "lbsim did not start its servers");
    // Keep reading stderr so that lbsim's last words reach a live pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, started)
}

/// True once the process is gone (or a zombie nobody reaped) and its port
/// refuses connections.
fn is_dead(pid: u32, port: u16) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().next());
    let process_dead = state.is_none_or(|s| s == "Z" || s == "X");
    process_dead && std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

pub(super) fn wait_dead(servers: &[(u32, u16)]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !servers.iter().all(|&(pid, port)| is_dead(pid, port)) {
        assert!(
            Instant::now() < deadline,
            "a redis-server outlived lbsim: {servers:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(super) fn temp_dirs_of(pid: u32) -> Vec<PathBuf> {
    temp_dirs_in(&std::env::temp_dir(), pid)
}

fn temp_dirs_in(temp: &Path, pid: u32) -> Vec<PathBuf> {
    let prefix = format!("lbsim-live-{pid}-");
    std::fs::read_dir(temp)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

#[test]
fn ctrl_c_stops_every_redis_server_and_removes_their_folders() {
    let dir = tempfile::tempdir().unwrap();
    let file = repo().join("scenarios/redis-crash-small.toml");
    let (mut child, servers) = start_live_lbsim(dir.path(), file.to_str().unwrap(), 3);
    assert!(!temp_dirs_of(child.id()).is_empty());
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    wait_dead(&servers);
    assert!(temp_dirs_of(child.id()).is_empty());
    assert!(
        !dir.path().join("out").exists(),
        "an interrupted run wrote results"
    );
}

#[test]
fn sigkill_of_lbsim_takes_its_redis_servers_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = repo().join("scenarios/redis-crash-small.toml");
    // Its own temporary folder: other tests' lbsim runs, which remove stale
    // folders when they start, must not clean up before this test looks.
    let temp = tempfile::tempdir().unwrap();
    let (mut child, servers) =
        start_live_lbsim_with_temp(dir.path(), file.to_str().unwrap(), 3, temp.path());
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    // PR_SET_PDEATHSIG kills the servers.
    wait_dead(&servers);
    // Their folders stay until the next live run removes them.
    let left = temp_dirs_in(temp.path(), child.id());
    assert!(!left.is_empty());
    redis_process::remove_stale_dirs_in(temp.path());
    assert!(temp_dirs_in(temp.path(), child.id()).is_empty(), "{left:?}");
}

#[test]
fn a_missing_redis_server_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(
        dir.path(),
        &[
            "run",
            "redis-crash-small",
            "--live",
            "--redis-server",
            "/nonexistent/redis-server",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("redis-server not found") && err.contains("apt-get install redis-server"),
        "{err}"
    );
    assert!(!dir.path().join("results").exists());
}

/// A short scenario with no Redis fault, for an external server.
pub(super) const EXTERNAL: &str = r#"
name = "external"
duration = "40s"
time_scale = 10
[workload]
users = 40
arrival = { ramp = "5s" }
think_time = { dist = "exponential", mean = "3s" }
[servers]
count = 2
service_time = { dist = "constant", value = "1ms" }
[[strategy]]
name = "redis"
balancer = "round_robin"
store = "redis"
[[fault]]
at = "20s"
kind = "server_crash"
server = 0
recover_after = "5s"
"#;

#[test]
fn with_an_external_redis_lbsim_touches_only_its_own_keys() {
    let process = start(&["--save", "", "--appendonly", "no"]);
    let mut redis = plain(&process);
    let _: () = redis::cmd("SET")
        .arg("app:config")
        .arg("keep me")
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg("spring:session:sessions:someone-elses")
        .arg("creationTime")
        .arg("1")
        .query(&mut redis)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("external.toml"), EXTERNAL).unwrap();
    let url = process.url();
    let out = lbsim(
        dir.path(),
        &[
            "run",
            "external.toml",
            "--live",
            "--redis-url",
            &url,
            "--format",
            "csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // lbsim really used the server...
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut redis)
        .unwrap();
    let hset_calls: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_hmset:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(hset_calls > 100, "{stats}");
    assert!(stdout(&out).contains("redis [live]"));
    // ...left the other keys as they were and removed its own.
    let keep: String = redis::cmd("GET")
        .arg("app:config")
        .query(&mut redis)
        .unwrap();
    assert_eq!(keep, "keep me");
    let other: Option<String> = redis::cmd("HGET")
        .arg("spring:session:sessions:someone-elses")
        .arg("creationTime")
        .query(&mut redis)
        .unwrap();
    assert_eq!(other.as_deref(), Some("1"));
    let size: u64 = redis::cmd("DBSIZE").query(&mut redis).unwrap();
    assert_eq!(size, 2, "lbsim left keys behind");
    let flushes = stats
        .lines()
        .filter(|l| l.starts_with("cmdstat_flush"))
        .count();
    assert_eq!(flushes, 0, "lbsim must never FLUSHDB/FLUSHALL");

    // A scenario that needs to restart Redis is refused up front.
    let with_restart = format!(
        "{EXTERNAL}\n[[fault]]\nat = \"30s\"\nkind = \"redis_restart\"\ndowntime = \"2s\"\n"
    );
    std::fs::write(dir.path().join("restart.toml"), with_restart).unwrap();
    let out = lbsim(
        dir.path(),
        &["run", "restart.toml", "--live", "--redis-url", &url],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot restart it"),
        "{}",
        stderr(&out)
    );
}
