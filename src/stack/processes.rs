//! The stack's processes: lbsim's own app servers (`lbsim app-server`) and
//! HAProxy, each started in a private folder and stopped when dropped, with
//! the same guarantees as the redis-servers of live mode (`live::child`):
//! they die with lbsim and only lbsim's user can read their files.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::dead_host::DeadHost;
use crate::app_server::{COOKIE_KEY_ENV, RedisAddress, StoreKind};
use crate::live::child;
use crate::live::redis_process::{free_port, private_dir};

/// How long a starting process may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How an app server is started.
#[derive(Clone, Debug)]
pub struct AppSpec {
    /// The lbsim binary that runs `app-server` (normally this one).
    pub exe: PathBuf,
    pub store: StoreKind,
    /// Where Redis is (URLs with its password), for `StoreKind::Redis`.
    pub redis: Option<RedisAddress>,
    /// The farm's signing key (hex), for `StoreKind::Cookie`: one for
    /// every app server of a strategy, replacements too, as a real farm
    /// shares its secret across deploys.
    pub cookie_key: Option<String>,
    pub ttl: Duration,
    pub service: Duration,
    /// How the app's Redis client writes, for `StoreKind::Redis`.
    pub writes: RedisWrites,
}

/// How an app server writes to Redis: the strategy's `pipeline` and
/// `wait_for_replicas`, which live mode's client follows too.
#[derive(Clone, Debug, Default)]
pub struct RedisWrites {
    /// Each save's commands in one pipeline.
    pub pipeline: bool,
    /// `WAIT` for this many replicas after each write, with this timeout
    /// (a latency, not compressed, as in live mode); `None` = no `WAIT`.
    pub wait_for_replicas: Option<(u32, Duration)>,
}

/// One `lbsim app-server` child on a loopback port.
pub struct AppProcess {
    pub index: u32,
    port: u16,
    spec: AppSpec,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// While its machine is down (`server_crash` with `mode = "host"`),
    /// what keeps its port unanswering.
    dead_host: Option<DeadHost>,
}

impl AppProcess {
    /// Starts app server `index` on a free port and waits until it answers
    /// `/health`.
    pub fn start(index: u32, spec: AppSpec) -> io::Result<Self> {
        let mut app = AppProcess {
            index,
            port: 0,
            spec,
            dir: private_dir()?,
            child: None,
            dead_host: None,
        };
        let mut last = None;
        // A port free a moment ago may be taken before the server binds it.
        for _ in 0..5 {
            app.port = free_port()?;
            match app.spawn().and_then(|()| app.wait_until_healthy()) {
                Ok(()) => return Ok(app),
                Err(err) => {
                    app.kill();
                    last = Some(err);
                }
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("app server did not start")))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGKILL, as a crash: its in-memory sessions are gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL, and the port then neither accepts nor refuses, as when
    /// the server's machine dies (`dead_host`), until [`AppProcess::restart`].
    pub fn kill_host(&mut self) -> io::Result<()> {
        self.kill();
        self.dead_host = Some(DeadHost::on(self.port)?);
        Ok(())
    }

    /// A new process on the same port, empty (on a machine back up, after
    /// [`AppProcess::kill_host`]); returns once it answers.
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill();
        self.dead_host = None;
        self.spawn()?;
        self.wait_until_healthy()
    }

    fn spawn(&mut self) -> io::Result<()> {
        let log = std::fs::File::create(self.dir.path().join("app-server.log"))?;
        let mut command = Command::new(&self.spec.exe);
        command
            .arg("app-server")
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--index")
            .arg(self.index.to_string())
            .arg("--store")
            .arg(match self.spec.store {
                StoreKind::Local => "local",
                StoreKind::Redis => "redis",
                StoreKind::Cookie => "cookie",
            })
            .arg("--ttl-ms")
            .arg(self.spec.ttl.as_millis().max(1).to_string())
            .arg("--service-us")
            .arg(self.spec.service.as_micros().to_string())
            .args(self.spec.writes.pipeline.then_some("--pipeline"))
            .env_remove(COOKIE_KEY_ENV)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for name in RedisAddress::ALL_ENV {
            command.env_remove(name);
        }
        if let Some(address) = &self.spec.redis {
            // In the environment, which only this user can read, not on
            // the command line, which everyone can.
            let (name, value) = address.env();
            command.env(name, value);
        }
        if let Some(key) = &self.spec.cookie_key {
            command.env(COOKIE_KEY_ENV, key);
        }
        if let Some((replicas, timeout)) = self.spec.writes.wait_for_replicas {
            command
                .arg("--wait-replicas")
                .arg(replicas.to_string())
                .arg("--wait-timeout-ms")
                .arg(timeout.as_millis().max(1).to_string());
        }
        child::guard(&mut command);
        self.child = Some(command.spawn()?);
        Ok(())
    }

    fn wait_until_healthy(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                let log = std::fs::read_to_string(self.dir.path().join("app-server.log"))
                    .unwrap_or_default();
                return Err(io::Error::other(format!(
                    "app server {} exited ({status}): {}",
                    self.index,
                    log.trim()
                )));
            }
            if http_get(self.port, "/health").is_some_and(|(status, _)| status == 200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("app server {} did not answer /health", self.index),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// HAProxy, from Debian's `haproxy` package (or `--haproxy PATH`).
pub struct HaproxyProcess {
    pub frontend: u16,
    pub stats: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The configuration it runs, for the results folder.
    pub config: String,
}

impl HaproxyProcess {
    /// Starts HAProxy with the configuration `make(frontend, stats,
    /// admin_socket)` returns, in the foreground (`-db`), and waits until
    /// its frontend accepts connections. The frontend and stats ports are
    /// `listen`, or free ones.
    pub fn start(
        binary: &Path,
        listen: Option<(u16, u16)>,
        make: impl Fn(u16, u16, &Path) -> String,
    ) -> io::Result<Self> {
        let dir = private_dir()?;
        let socket = dir.path().join("admin.sock");
        let mut last = None;
        // Ports free a moment ago may be taken before HAProxy binds them;
        // ports asked for are tried once.
        let attempts = if listen.is_some() { 1 } else { 5 };
        for _ in 0..attempts {
            let (frontend, stats) = match listen {
                Some(ports) => ports,
                None => (free_port()?, free_port()?),
            };
            let config = make(frontend, stats, &socket);
            let path = dir.path().join("haproxy.cfg");
            std::fs::write(&path, &config)?;
            let log = std::fs::File::create(dir.path().join("haproxy.log"))?;
            let mut command = Command::new(binary);
            command
                .arg("-db")
                .arg("-f")
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            child::guard(&mut command);
            let mut child = command.spawn()?;
            let log = dir.path().join("haproxy.log");
            match wait_until_listening("haproxy", &mut child, frontend, &log, || socket.exists()) {
                Ok(()) => {
                    return Ok(HaproxyProcess {
                        frontend,
                        stats,
                        dir,
                        child: Some(child),
                        config,
                    });
                }
                Err(err) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let _ = std::fs::remove_file(&socket);
                    last = Some(err);
                }
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("haproxy did not start")))
    }

    /// The runtime API's socket.
    pub fn admin_socket(&self) -> PathBuf {
        self.dir.path().join("admin.sock")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// Waits until the balancer `program` (`child`) accepts connections on
/// `port` and `ready()` holds; if it exits first, the error quotes its
/// `log`.
pub(super) fn wait_until_listening(
    program: &str,
    child: &mut Child,
    port: u16,
    log: &Path,
    ready: impl Fn() -> bool,
) -> io::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            return Err(io::Error::other(format!(
                "{program} exited ({status}): {}",
                log.trim()
            )));
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() && ready() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{program} did not listen"),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for HaproxyProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Finds `name` on `PATH`, or in /usr/sbin (where Debian puts haproxy and
/// nginx, which a non-root `PATH` may lack).
pub fn find_binary(name: &str, explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return path.is_file().then(|| path.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// `haproxy -v`'s version, e.g. `2.6.12-1+deb12u4`.
pub fn haproxy_version(binary: &Path) -> Option<String> {
    let output = Command::new(binary).arg("-v").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .map(str::to_string)
}

/// A blocking `GET path` on a loopback port: the status and body, or
/// `None` if nothing answered within a second.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Some((status, body))
}

/// The number of sessions the app server on `port` holds (`GET /stats`).
pub async fn sessions_held(port: u16) -> Option<u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let get = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        stream
            .write_all(b"GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await.ok()?;
        let (_, rest) = text.split_once("\"sessions\":")?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    tokio::time::timeout(Duration::from_secs(1), get)
        .await
        .ok()
        .flatten()
}
