//! Live store throughput against `redis-benchmark` (issue 11): Redis
//! commands per second that lbsim's live session store sends, next to what
//! `redis-benchmark -c 50` reaches for the same commands on the same
//! redis-server in the same run. The target: a ratio of at least 0.80.
//!
//! Usage: `cargo bench --bench live_store [-- OPTIONS]`, options:
//! - `--seconds S`: how long lbsim's store is driven per round (default 3);
//! - `--rounds K`: rounds of lbsim then redis-benchmark (default 3);
//! - `--requests N`: `redis-benchmark -n` per command per round (100000);
//! - `--tasks T`: concurrent tokio tasks, and `redis-benchmark -c` (50);
//! - `--connections C`: the store's connections, one per virtual app server
//!   (default: the servers of `scenarios/sticky-vs-redis.toml`, 6);
//! - `--sticky`: task `t` always uses connection `t % C` (with
//!   `--connections 50`, one connection per task, as redis-benchmark's
//!   clients); default: round-robin, each request to the next connection
//!   in the order requests start, as the scenario's Redis rows balance;
//! - `--sessions R`: sessions in Redis, each request picks one at random
//!   (default 10000; `redis-benchmark -r R`);
//! - `--pipeline`: the pipelined save (a scenario's `pipeline = true`);
//! - `--redis-server PATH`: the binary (default: the first on `PATH`;
//!   `redis-benchmark` is looked for next to it, then on `PATH`).
//!
//! What is measured, and why so:
//! - lbsim side: the library's own store, `SpringSessionStore::access`
//!   (`findById` = `HGETALL`, then Spring's save: `EXISTS`, `HMSET
//!   lastAccessedTime`, `PEXPIREAT`, one round trip each, or `EXISTS` +
//!   `HMSET` + `PEXPIREAT` in one pipeline with `--pipeline`), over the
//!   connections `SpringSessionStore::connect` opens, on a current-thread
//!   runtime with a `LocalSet`, exactly as `lbsim::live::run` drives it. The
//!   sessions are made first with `SpringSessionStore::create` (a login),
//!   which is not timed: in a live run logins are about 1 % of requests.
//! - Commands are counted by the server (`INFO commandstats`, the calls of
//!   each command between the start and the end), so they are the commands
//!   actually sent, whatever the code path (a `DEL` of an expired session
//!   would show up, and fail the check that lbsim sent only the four
//!   commands of the mix). The client's own count (4 per found session) is
//!   printed next to it as a check.
//! - redis-benchmark side: one run per command of the mix, on keys of the
//!   same shape (`spring:session:sessions:` + 36 characters, the last 12
//!   `__rand_int__`, so `-r R` picks among R keys as lbsim picks among R
//!   sessions) holding the same seven-field hashes, with the same
//!   arguments (a 13-digit `lastAccessedTime`, an expiry an hour ahead).
//!   redis-benchmark cannot send a mix in one run, so its rates are
//!   combined as the time the mix would take: a mix with shares `w_i` of
//!   commands whose rates alone are `r_i` runs at `1 / sum(w_i / r_i)`
//!   commands per second, the harmonic mean weighted by the shares lbsim
//!   actually sent (from the server's counts). That is exact if each
//!   command costs the same alone as in the mix.
//! - Rounds alternate the two sides, so that a shared machine's load
//!   drifting during the run hits both alike; each side's rate is its
//!   commands over its time summed over the rounds, and each round's own
//!   ratio is printed too.
//! - The server runs without persistence (`--save "" --appendonly no`), so
//!   that disk writes do not add noise to either side.
//!
//! Output: one machine-readable line
//! `lbsim_commands_per_s=<x> redis_benchmark_commands_per_s=<x> ratio=<x>`,
//! then a human-readable explanation, with the CPU each process used (on a
//! two-core machine, whichever of client and server is near 100 % of a core
//! is the bottleneck) and the commands redis-server got per `read()` (its
//! `/proc/PID/io` `syscr`): above 1, commands of concurrent requests shared
//! a connection's round trip (the store's connections are multiplexed);
//! redis-benchmark's clients send one command per round trip.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use lbsim::live::redis_process::{self, RedisArgs, RedisProcess};
use lbsim::live::spring_session::{Hold, SPRING_NAMESPACE, SpringSessionStore};
use lbsim::sim::store::Lookup;
use lbsim::sim::{ServerId, SessionId, UserId};

/// The commands of one `access`, in the order lbsim sends them.
const MIX: [&str; 4] = ["hgetall", "exists", "hmset", "pexpireat"];

/// Session TTL: long enough that no session expires during the bench.
const TTL: Duration = Duration::from_secs(3600);

struct Options {
    seconds: f64,
    rounds: u32,
    requests: u64,
    tasks: u32,
    connections: u32,
    sticky: bool,
    sessions: u64,
    pipeline: bool,
    redis_server: Option<PathBuf>,
}

fn options() -> Options {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sticky-vs-redis.toml");
    let servers = lbsim::scenario::load(&scenario).map_or(6, |s| s.servers.count);
    let mut o = Options {
        seconds: 3.0,
        rounds: 3,
        requests: 100_000,
        tasks: 50,
        connections: servers,
        sticky: false,
        sessions: 10_000,
        pipeline: false,
        redis_server: None,
    };
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => o.seconds = value().parse().expect("--seconds S"),
            "--rounds" => o.rounds = value().parse().expect("--rounds K"),
            "--requests" => o.requests = value().parse().expect("--requests N"),
            "--tasks" => o.tasks = value().parse().expect("--tasks T"),
            "--connections" => o.connections = value().parse().expect("--connections C"),
            "--sessions" => o.sessions = value().parse().expect("--sessions R"),
            "--redis-server" => o.redis_server = Some(PathBuf::from(value())),
            "--sticky" => o.sticky = true,
            "--pipeline" => o.pipeline = true,
            other => panic!("unknown option {other} (see benches/live_store.rs)"),
        }
    }
    assert!(o.tasks > 0 && o.connections > 0 && o.sessions > 0);
    assert!(o.seconds > 0.0 && o.rounds > 0 && o.requests > 0);
    o
}

/// Calls per command since the server started (`INFO commandstats`).
async fn command_calls(
    connection: &mut redis::aio::MultiplexedConnection,
) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(connection)
        .await
        .expect("INFO commandstats");
    info.lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.strip_prefix("calls=")?.split(',').next()?;
            Some((name.to_string(), calls.parse().ok()?))
        })
        .collect()
}

/// CPU seconds (user + system) of this process, or of its waited-for
/// children.
fn rusage_cpu(who: libc::c_int) -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// What redis-server has used so far: CPU seconds (`/proc/PID/stat`, utime
/// + stime) and `read()` calls (`/proc/PID/io`, `syscr`).
#[derive(Clone, Copy, Default)]
struct ServerUse {
    cpu: f64,
    reads: u64,
}

impl ServerUse {
    fn now(pid: u32) -> Self {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The fields after the command name (in parentheses); utime and
        // stime are the line's 14th and 15th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
        ServerUse {
            cpu: (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / hz,
            reads: io
                .lines()
                .find_map(|l| l.strip_prefix("syscr: ")?.parse().ok())
                .unwrap_or(0),
        }
    }

    fn since(self, before: ServerUse) -> ServerUse {
        ServerUse {
            cpu: self.cpu - before.cpu,
            reads: self.reads.saturating_sub(before.reads),
        }
    }

    fn add(&mut self, other: ServerUse) {
        self.cpu += other.cpu;
        self.reads += other.reads;
    }
}

/// One side's totals over the rounds.
#[derive(Default)]
struct Totals {
    commands: f64,
    seconds: f64,
    client_cpu: f64,
    server: ServerUse,
}

impl Totals {
    fn describe(&self) -> String {
        format!(
            "client CPU {:.0} %, redis-server CPU {:.0} % of a core, {:.1} commands per \
             redis-server read()",
            self.client_cpu / self.seconds * 100.0,
            self.server.cpu / self.seconds * 100.0,
            self.commands / self.server.reads.max(1) as f64
        )
    }
}

/// A small, fast generator for picking sessions.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Logins: every session is created through the store, from `tasks`
/// tasks at once, each to the next server in turn.
async fn create_sessions(store: &Rc<SpringSessionStore>, o: &Options) {
    let next = Rc::new(Cell::new(1u64));
    let mut handles = Vec::new();
    for _ in 0..o.tasks {
        let (store, next, sessions, servers) =
            (store.clone(), next.clone(), o.sessions, o.connections);
        handles.push(tokio::task::spawn_local(async move {
            loop {
                let id = next.get();
                if id > sessions {
                    break;
                }
                next.set(id + 1);
                let server = ServerId((id % u64::from(servers)) as u32);
                store
                    .create(server, SessionId(id), UserId(id as u32), Hold::NONE)
                    .await
                    .expect("create a session");
            }
        }));
    }
    for handle in handles {
        handle.await.expect("a login task");
    }
}

/// Page requests for `seconds`: each task looks up and saves a random
/// session, as fast as the store answers. Returns (found, not found).
async fn requests(store: &Rc<SpringSessionStore>, o: &Options, seconds: f64) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    // Round-robin: the next server for each request in the order they
    // start, like the world's balancer (a per-task counter would instead
    // let tasks that meet on a connection move on together for ever).
    let turn = Rc::new(Cell::new(0u64));
    let mut handles = Vec::new();
    for task in 0..u64::from(o.tasks) {
        let (store, turn) = (store.clone(), turn.clone());
        let (sessions, servers, sticky) = (o.sessions, u64::from(o.connections), o.sticky);
        handles.push(tokio::task::spawn_local(async move {
            let mut random = 0x9e37_79b9_7f4a_7c15 ^ (task + 1).wrapping_mul(0x2545_f491_4f6c_dd1d);
            let (mut found, mut other) = (0u64, 0u64);
            while Instant::now() < deadline {
                let session = SessionId(1 + next_random(&mut random) % sessions);
                let server = if sticky {
                    task % servers
                } else {
                    turn.set(turn.get() + 1);
                    turn.get() % servers
                };
                match store
                    .access(ServerId(server as u32), session, Hold::NONE)
                    .await
                {
                    Ok(Lookup::Found) => found += 1,
                    _ => other += 1,
                }
            }
            (found, other)
        }));
    }
    let (mut found, mut other) = (0, 0);
    for handle in handles {
        let (f, x) = handle.await.expect("a request task");
        found += f;
        other += x;
    }
    (found, other)
}

/// Writes the redis-benchmark keys: the same hashes as lbsim's sessions.
async fn write_benchmark_keys(
    connection: &mut redis::aio::MultiplexedConnection,
    sessions: u64,
    now: u64,
) {
    let mut pipe = redis::pipe();
    for i in 0..sessions {
        pipe.cmd("HMSET")
            .arg(benchmark_key(&format!("{i:012}")))
            .arg(
                &[
                    ("creationTime", now.to_string()),
                    ("lastAccessedTime", now.to_string()),
                    ("maxInactiveInterval", TTL.as_secs().to_string()),
                    ("sessionAttr:userId", format!("user-{i}")),
                    ("sessionAttr:roles", "ROLE_USER".to_string()),
                    ("sessionAttr:loginTime", now.to_string()),
                    ("sessionAttr:authenticated", "true".to_string()),
                ][..],
            )
            .ignore();
        if (i + 1) % 1000 == 0 || i + 1 == sessions {
            let () = pipe.query_async(connection).await.expect("write keys");
            pipe = redis::pipe();
        }
    }
}

/// A key shaped like lbsim's (`spring:session:sessions:` and a UUID),
/// whose last 12 characters are `tail`.
fn benchmark_key(tail: &str) -> String {
    format!("{SPRING_NAMESPACE}sessions:00000000-0000-4000-8000-{tail}")
}

/// One `redis-benchmark -q` run: its requests per second, its CPU seconds
/// and its wall seconds (with its start-up, connecting every client).
fn redis_benchmark(binary: &Path, port: u16, o: &Options, command: &[String]) -> (f64, f64, f64) {
    let cpu0 = rusage_cpu(libc::RUSAGE_CHILDREN);
    let started = Instant::now();
    let output = Command::new(binary)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        // The server wants lbsim's password (`live::auth`), and
        // redis-benchmark takes it only as an argument: for the seconds it
        // runs, other local accounts could read it in `ps`. This is the
        // benchmark's own server, stopped when the benchmark ends; lbsim's
        // runs never put the password on a command line.
        .args(["-a", lbsim::live::auth::password()])
        .args(["-c", &o.tasks.to_string(), "-n", &o.requests.to_string()])
        .args(["-r", &o.sessions.to_string(), "-q"])
        .args(command)
        .output()
        .expect("run redis-benchmark");
    let wall = started.elapsed().as_secs_f64();
    let cpu = rusage_cpu(libc::RUSAGE_CHILDREN) - cpu0;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "redis-benchmark failed: {text}");
    // The last progress line (they are separated by carriage returns) is the
    // result: `<command>: 123456.79 requests per second, p50=…`.
    let rate = text
        .split(['\r', '\n'])
        .filter_map(|line| {
            line.split_once(" requests per second")?
                .0
                .rsplit(' ')
                .next()
        })
        .filter_map(|number| number.parse::<f64>().ok())
        .next_back()
        .unwrap_or_else(|| panic!("no rate in redis-benchmark's output: {text}"));
    (rate, cpu, wall)
}

fn find_benchmark(server: &Path) -> PathBuf {
    let beside = server.with_file_name("redis-benchmark");
    if beside.is_file() {
        return beside;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("redis-benchmark"))
                .find(|p| p.is_file())
        })
        .expect("redis-benchmark not found (Debian: apt-get install redis-tools)")
}

fn main() {
    let o = options();
    let binary = redis_process::find_binary(o.redis_server.as_deref())
        .expect("redis-server not found (Debian: apt-get install redis-server)");
    let benchmark = find_benchmark(&binary);
    let version = redis_process::version(&binary).unwrap_or_default();
    // Stopped when `server` drops, also on a panic (and by the kernel if
    // this process is killed: PR_SET_PDEATHSIG).
    let server = RedisProcess::start(
        &binary,
        RedisArgs {
            persistence: ["--save", "", "--appendonly", "no"]
                .map(String::from)
                .to_vec(),
            ..RedisArgs::default()
        },
    )
    .expect("start redis-server");
    let pid = server.pid().expect("running");
    let url = server.url();

    // The same runtime as live mode: one thread, a LocalSet.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let local = tokio::task::LocalSet::new();
    let now = lbsim::live::spring_session::epoch_millis();
    let (store, mut stats, create_seconds) = local.block_on(&runtime, async {
        let store = SpringSessionStore::connect(
            &url,
            o.connections,
            SPRING_NAMESPACE.to_string(),
            TTL,
            0x11be_5c4e,
        )
        .await
        .expect("connect the store");
        store.pipeline_saves(o.pipeline);
        let store = Rc::new(store);
        let started = Instant::now();
        create_sessions(&store, &o).await;
        let create_seconds = started.elapsed().as_secs_f64();
        let client = redis::Client::open(url.as_str()).expect("a URL");
        let mut stats = client
            .get_multiplexed_async_connection()
            .await
            .expect("a stats connection");
        write_benchmark_keys(&mut stats, o.sessions, now).await;
        // Warm-up.
        requests(&store, &o, o.seconds.min(1.0)).await;
        (store, stats, create_seconds)
    });

    let key = benchmark_key("__rand_int__");
    let arguments = |name: &str| -> Vec<String> {
        let rest: Vec<String> = match name {
            "hmset" => vec!["lastAccessedTime".into(), now.to_string()],
            "pexpireat" => vec![(now + TTL.as_millis() as u64).to_string()],
            _ => Vec::new(),
        };
        [vec![name.to_uppercase(), key.clone()], rest].concat()
    };

    let mut lbsim = Totals::default();
    let mut bench = Totals::default();
    let mut per_command: BTreeMap<String, u64> = BTreeMap::new();
    // Per command of the mix: requests and seconds over the rounds.
    let mut bench_runs: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let (mut found, mut other) = (0, 0);
    let mut round_ratios = Vec::new();
    for _ in 0..o.rounds {
        let (before, server0, cpu0) = (
            local.block_on(&runtime, command_calls(&mut stats)),
            ServerUse::now(pid),
            rusage_cpu(libc::RUSAGE_SELF),
        );
        let started = Instant::now();
        let (f, x) = local.block_on(&runtime, requests(&store, &o, o.seconds));
        let seconds = started.elapsed().as_secs_f64();
        let (used, cpu) = (
            ServerUse::now(pid).since(server0),
            rusage_cpu(libc::RUSAGE_SELF),
        );
        let after = local.block_on(&runtime, command_calls(&mut stats));
        found += f;
        other += x;
        let mut commands = 0;
        for (name, calls) in &after {
            let sent = calls - before.get(name).copied().unwrap_or(0);
            // The bench's own INFO (the one that took `before`) is not lbsim's.
            if sent > 0 && name != "info" {
                assert!(
                    MIX.contains(&name.as_str()),
                    "lbsim sent {name}, not in the mix"
                );
                *per_command.entry(name.clone()).or_default() += sent;
                commands += sent;
            }
        }
        lbsim.commands += commands as f64;
        lbsim.seconds += seconds;
        lbsim.client_cpu += cpu - cpu0;
        lbsim.server.add(used);

        // redis-benchmark, each command of this round's mix.
        let mut time_per_command = 0.0;
        for name in MIX {
            let calls = |stats: &BTreeMap<String, u64>| stats.get(name).copied().unwrap_or(0);
            let share = calls(&after) - calls(&before);
            if share == 0 {
                continue;
            }
            let server0 = ServerUse::now(pid);
            let (rate, cpu, wall) =
                redis_benchmark(&benchmark, server.port(), &o, &arguments(name));
            bench.server.add(ServerUse::now(pid).since(server0));
            bench.client_cpu += cpu;
            bench.seconds += wall;
            bench.commands += o.requests as f64;
            let run = bench_runs.entry(name).or_default();
            run.0 += o.requests as f64;
            run.1 += o.requests as f64 / rate;
            time_per_command += share as f64 / commands as f64 / rate;
        }
        round_ratios.push(format!(
            "{:.0}/s vs {:.0}/s = {:.3}",
            commands as f64 / seconds,
            1.0 / time_per_command,
            commands as f64 / seconds * time_per_command
        ));
    }
    let dbsize: u64 = local.block_on(&runtime, async {
        redis::cmd("DBSIZE")
            .query_async(&mut stats)
            .await
            .expect("DBSIZE")
    });
    // lbsim's sessions and the benchmark's keys, nothing else: every
    // redis-benchmark command found one of the keys written for it.
    assert_eq!(dbsize, 2 * o.sessions, "keys in Redis");
    drop(store);

    let total: u64 = per_command.values().sum();
    let lbsim_rate = lbsim.commands / lbsim.seconds;
    let mut time_per_command = 0.0;
    let mut rates = Vec::new();
    for (name, (requests, seconds)) in &bench_runs {
        let share = per_command[*name] as f64 / total as f64;
        let rate = requests / seconds;
        time_per_command += share / rate;
        rates.push(format!(
            "{} {rate:.0}/s ({:.0} %)",
            name.to_uppercase(),
            share * 100.0
        ));
    }
    let bench_rate = 1.0 / time_per_command;
    let ratio = lbsim_rate / bench_rate;
    println!(
        "lbsim_commands_per_s={lbsim_rate:.0} redis_benchmark_commands_per_s={bench_rate:.0} \
         ratio={ratio:.3}"
    );
    println!(
        "lbsim's SpringSessionStore::access ({} save) from {} tasks over {} connection(s) ({}), \
         {} sessions: {total} commands in {:.2} s = {lbsim_rate:.0}/s ({found} requests found, \
         {other} not: {} commands by the client's count; {}; {} logins took {create_seconds:.2} \
         s). redis-benchmark -c {} -n {} -r {} per command: {}; weighted harmonic mean by \
         lbsim's mix {bench_rate:.0}/s ({}). Ratio {ratio:.3} over {} rounds (each round: {}; \
         issue 11: at least 0.80). redis-server {version}, no persistence.",
        if o.pipeline {
            "pipelined"
        } else {
            "one-by-one"
        },
        o.tasks,
        o.connections,
        if o.sticky {
            "each task keeps one"
        } else {
            "round-robin per request"
        },
        o.sessions,
        lbsim.seconds,
        found * 4,
        lbsim.describe(),
        o.sessions,
        o.tasks,
        o.requests,
        o.sessions,
        rates.join(", "),
        bench.describe(),
        o.rounds,
        round_ratios.join(", "),
    );
    drop(server);
}
