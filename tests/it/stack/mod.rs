//! The real stack against real processes (never a mock): HAProxy from
//! Debian's `haproxy` package, nginx from `nginx-light`, lbsim's own
//! `app-server` processes, and redis-server. `scripts/test.sh` installs
//! them when they are missing.

mod agreement;
mod balancer;
mod crashes;
mod demo;
mod farm;
mod host_crash;
mod nginx;
mod redis_link;
mod replicas;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lbsim::app_server::StoreKind;
use lbsim::live::redis_process::{self, RedisArgs, RedisProcess};
use lbsim::stack::haproxy;
use lbsim::stack::processes::{AppProcess, AppSpec, HaproxyProcess, find_binary};

fn nginx_binary() -> PathBuf {
    find_binary("nginx", None)
        .expect("nginx is not installed: run scripts/test.sh, which installs nginx-light")
}

fn haproxy_binary() -> PathBuf {
    find_binary("haproxy", None)
        .expect("haproxy is not installed: run scripts/test.sh, which installs it")
}

/// A farm of `servers` app servers behind HAProxy, configured from the
/// first strategy of the scenario `toml`, with its Redis if it has one.
struct Farm {
    apps: Vec<AppProcess>,
    haproxy: HaproxyProcess,
    _redis: Option<RedisProcess>,
}

fn farm(toml: &str) -> Farm {
    let scenario = crate::support::scenario(toml);
    let strategy = &scenario.strategies[0];
    let redis = match &strategy.store {
        lbsim::sim::store::StoreConfig::Redis(_) => Some(
            RedisProcess::start(
                &redis_process::find_binary(None).expect("redis-server is installed"),
                RedisArgs::default(),
            )
            .unwrap(),
        ),
        _ => None,
    };
    let spec = AppSpec {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_lbsim")),
        store: match &strategy.store {
            lbsim::sim::store::StoreConfig::Redis(_) => StoreKind::Redis,
            lbsim::sim::store::StoreConfig::Cookie { .. } => StoreKind::Cookie,
            lbsim::sim::store::StoreConfig::Local { .. } => StoreKind::Local,
        },
        redis: redis
            .as_ref()
            .map(|r| lbsim::app_server::RedisAddress::Single(r.url())),
        cookie_key: matches!(
            strategy.store,
            lbsim::sim::store::StoreConfig::Cookie { .. }
        )
        .then(lbsim::app_server::SignedCookies::random_key),
        ttl: Duration::from_secs(600),
        service: Duration::ZERO,
        writes: Default::default(),
    };
    let apps: Vec<AppProcess> = (0..scenario.servers.count)
        .map(|i| AppProcess::start(i, spec.clone()).unwrap())
        .collect();
    let ports: Vec<u16> = apps.iter().map(AppProcess::port).collect();
    let haproxy = HaproxyProcess::start(&haproxy_binary(), None, |frontend, stats, socket| {
        let ports = haproxy::Ports {
            frontend,
            stats,
            servers: &ports,
            spares: 0,
            admin_socket: socket,
        };
        haproxy::config(&scenario, strategy, &ports, 1.0)
    })
    .unwrap();
    Farm {
        apps,
        haproxy,
        _redis: redis,
    }
}

/// What a browser keeps and learns from one response.
#[derive(Debug)]
struct Reply {
    status: u16,
    served_by: String,
    body: String,
}

/// A browser with a cookie jar, speaking HTTP/1.1 over plain sockets.
#[derive(Default)]
struct Browser {
    jar: HashMap<String, String>,
    /// The client address it presents in `X-Real-IP`, as the stack's users
    /// do for nginx (`lbsim::stack::nginx`).
    address: Option<String>,
}

impl Browser {
    fn request(&mut self, port: u16, method: &str, path: &str, form: &str) -> Reply {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Length: {}\r\n",
            form.len()
        );
        if !form.is_empty() {
            head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        }
        if !cookies.is_empty() {
            head.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        if let Some(address) = &self.address {
            head.push_str(&format!("X-Real-IP: {address}\r\n"));
        }
        write!(stream, "{head}\r\n{form}").unwrap();
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut served_by = String::new();
        for line in head.lines().skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("set-cookie") {
                let pair = value.split(';').next().unwrap_or("");
                if let Some((k, v)) = pair.split_once('=') {
                    self.jar.insert(k.trim().to_string(), v.trim().to_string());
                }
            } else if name.eq_ignore_ascii_case("x-served-by") {
                served_by = value.to_string();
            }
        }
        Reply {
            status,
            served_by,
            body: body.to_string(),
        }
    }

    fn login(&mut self, port: u16, user: &str) -> Reply {
        self.jar.remove("SESSION");
        self.request(port, "POST", "/login", &format!("user={user}"))
    }

    fn page(&mut self, port: u16) -> Reply {
        self.request(port, "GET", "/", "")
    }
}

/// Polls HAProxy's runtime API until `server` has the state `up`; returns
/// how long that took.
fn wait_for_state(farm: &Farm, server: &str, up: bool, limit: Duration) -> Duration {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let from = Instant::now();
    loop {
        let states = runtime
            .block_on(lbsim::stack::runtime_api::servers_up(
                &farm.haproxy.admin_socket(),
            ))
            .unwrap_or_default();
        if states
            .iter()
            .any(|(name, state)| name == server && *state == up)
        {
            return from.elapsed();
        }
        assert!(
            from.elapsed() < limit,
            "{server} not marked {} within {limit:?}: {states:?}",
            if up { "up" } else { "down" }
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The index in `app-<index>`.
fn index_of(served_by: &str) -> usize {
    served_by
        .strip_prefix("app-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not an app server: {served_by:?}"))
}

/// A scenario for a farm of three, with one strategy.
fn one_strategy(balancer: &str, store: &str, check: &str) -> String {
    format!(
        "name = \"t\"\nduration = \"1m\"\n[workload]\nusers = 1\narrival = {{ ramp = \"0s\" }}\n\
         think_time = {{ dist = \"constant\", value = \"1s\" }}\n\
         [servers]\ncount = 3\nservice_time = {{ dist = \"constant\", value = \"1ms\" }}\n{check}\n\
         [[strategy]]\nname = \"s\"\nbalancer = \"{balancer}\"\nstore = \"{store}\"\n"
    )
}

/// The children of `pid`, from /proc.
pub(super) fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            let after = stat.rsplit(')').next().unwrap_or("");
            after.split_whitespace().nth(1) == Some(&pid.to_string())
        })
        .collect()
}

pub(super) fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|r| r.split_whitespace().next());
    state.is_some_and(|s| s != "Z" && s != "X")
}

/// Waits until none of `children` (of lbsim `pid`) is alive, and, if
/// `folders`, checks that lbsim removed its private folders.
pub(super) fn assert_all_stopped(pid: u32, children: &[u32], folders: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while children.iter().any(|&c| alive(c)) {
        assert!(Instant::now() < deadline, "a process outlived lbsim");
        std::thread::sleep(Duration::from_millis(20));
    }
    if folders {
        let prefix = format!("lbsim-live-{pid}-");
        let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .collect();
        assert!(left.is_empty(), "folders left: {left:?}");
    }
}
