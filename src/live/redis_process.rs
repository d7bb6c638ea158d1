//! `RedisProcess`: one redis-server that lbsim starts, kills, restarts and
//! always stops.
//!
//! Shaped like redis-rs's `redis-test` `RedisServer`: the supervisor owns the
//! child process, its temporary directory and its port, and stops the server
//! in `Drop`, so an early return or a panic cannot leak it. Three more
//! guarantees make sure no redis-server outlives lbsim:
//! - the child asks the kernel for `SIGKILL` when its parent dies
//!   (`PR_SET_PDEATHSIG`), which covers lbsim being killed with SIGKILL;
//! - the child runs in its own process group, so a Ctrl-C in the terminal
//!   reaches lbsim only, which then stops the child itself (instead of Redis
//!   catching SIGINT and saving on its own schedule);
//! - temporary folders are named after lbsim's pid, and folders left by an
//!   lbsim that was SIGKILLed are removed by the next live run
//!   ([`remove_stale_dirs`]).
//!
//! Linux only (`PR_SET_PDEATHSIG`), like the rest of live mode.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::auth;

/// Prefix of the temporary folders, followed by lbsim's pid.
const DIR_PREFIX: &str = "lbsim-live-";

/// How long a starting redis-server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Redis persistence flags, as passed on the command line.
#[derive(Clone, Debug, Default)]
pub struct RedisArgs {
    /// Extra arguments, e.g. `["--appendonly", "yes", "--appendfsync", "everysec"]`.
    pub persistence: Vec<String>,
    /// For a Sentinel: the text of its configuration file. Sentinel must run
    /// from a file it can rewrite (it records what it learns there), so the
    /// file is written into the process's folder and the process is started
    /// with `--sentinel`.
    pub sentinel_config: Option<String>,
}

/// A redis-server child process on a loopback port, with its data folder.
pub struct RedisProcess {
    binary: PathBuf,
    args: RedisArgs,
    port: u16,
    /// Data folder (AOF, RDB, log); removed when the supervisor drops.
    dir: tempfile::TempDir,
    /// The running process, if any.
    child: Option<Child>,
}

impl RedisProcess {
    /// Starts redis-server on a free loopback port in a fresh temporary
    /// folder and waits until it answers `PING`.
    pub fn start(binary: &Path, args: RedisArgs) -> io::Result<Self> {
        let dir = private_dir()?;
        let mut process = RedisProcess {
            binary: binary.to_path_buf(),
            args,
            port: 0,
            dir,
            child: None,
        };
        // A port found free can be taken by someone else before Redis binds
        // it; try a few times.
        let mut last_error = None;
        for _ in 0..5 {
            process.port = free_port()?;
            match process
                .spawn()
                .and_then(|()| process.wait_until_answering(true))
            {
                Ok(()) => return Ok(process),
                Err(err) => {
                    process.kill();
                    last_error = Some(err);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    /// The port Redis listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://:<password>@127.0.0.1:<port>/`: for clients only; print
    /// [`auth::redact`]ed.
    pub fn url(&self) -> String {
        auth::local_url(self.port)
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server with SIGKILL, as a crash would, and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL on Unix
            let _ = child.wait();
        }
    }

    /// Waits for a server that was told to `SHUTDOWN` to exit (it saves or
    /// fsyncs first), killing it after `timeout`.
    pub fn wait_for_exit(&mut self, timeout: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the server again on the same port and folder, so it loads
    /// whatever it persisted. Returns as soon as it accepts connections,
    /// which may be while it still answers `LOADING`.
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill();
        self.spawn()?;
        self.wait_until_answering(false)
    }

    /// True while the process runs (it has not exited, and was not killed).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// True if the server answers `PING` now (`-LOADING` counts as an
    /// answer unless `ready`), for callers that poll asynchronously.
    pub fn answers(&self, ready: bool) -> bool {
        ping(self.port).is_some_and(|reply| {
            reply.starts_with("+PONG") || (!ready && reply.starts_with("-LOADING"))
        })
    }

    /// Reaps a process that has exited by itself (after `SHUTDOWN`);
    /// returns true once it has.
    pub fn reap_if_exited(&mut self) -> bool {
        let exited = match self.child.as_mut() {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => true,
        };
        if exited {
            self.child = None;
        }
        exited
    }

    /// Starts the server again on the same port and folder without waiting
    /// for it to answer, for callers that poll asynchronously.
    pub fn respawn(&mut self) -> io::Result<()> {
        self.kill();
        self.spawn()
    }

    fn spawn(&mut self) -> io::Result<()> {
        let log = self.dir.path().join("redis.log");
        let mut command = Command::new(&self.binary);
        // The file first (with the secrets: see `auth`), then the flags; a
        // restarted server keeps what it or a Sentinel rewrote into the
        // file (`CONFIG REWRITE`), as a real deployment's would.
        match &self.args.sentinel_config {
            Some(config) => {
                let path = self.dir.path().join("sentinel.conf");
                write_private(&path, config)?;
                command.arg(&path).arg("--sentinel");
            }
            None => {
                let path = self.dir.path().join("redis.conf");
                write_private(&path, &auth::server_config())?;
                command.arg(&path);
            }
        }
        command
            .arg("--port")
            .arg(self.port.to_string())
            .args([
                "--bind",
                "127.0.0.1",
                "--protected-mode",
                "no",
                "--daemonize",
                "no",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .args(&self.args.persistence)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Dies with lbsim, ignores its Ctrl-C; everything the server writes
        // (the configuration a Sentinel or `CONFIG REWRITE` rewrites with
        // the password, RDB and AOF files) is its user's alone.
        super::child::guard(&mut command);
        self.child = Some(command.spawn()?);
        Ok(())
    }

    /// Polls until the server accepts a connection and answers. With
    /// `ready`, waits for `PONG`; without, `-LOADING` is enough.
    fn wait_until_answering(&mut self, ready: bool) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                let log =
                    std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(3).collect();
                return Err(io::Error::other(format!(
                    "redis-server exited ({status}): {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                )));
            }
            if let Some(reply) = ping(self.port)
                && (reply.starts_with("+PONG") || (!ready && reply.starts_with("-LOADING")))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "redis-server did not answer",
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
        // `dir` (a TempDir) removes the folder after this.
    }
}

impl RedisProcess {
    /// A blocking connection with the password, for setting servers up:
    /// every call on it gives up after a few seconds rather than hang on
    /// a server that stopped answering.
    pub fn connect(&self) -> io::Result<redis::Connection> {
        let client = redis::Client::open(self.url()).map_err(io::Error::other)?;
        let connection = client
            .get_connection_with_timeout(Duration::from_secs(2))
            .map_err(io::Error::other)?;
        connection
            .set_read_timeout(Some(Duration::from_secs(5)))
            .and_then(|()| connection.set_write_timeout(Some(Duration::from_secs(5))))
            .map_err(io::Error::other)?;
        Ok(connection)
    }

    /// Waits until this server, started with `--replicaof`, has finished
    /// its initial sync with its primary (`master_link_status:up`).
    pub fn wait_for_replication(&self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(mut connection) = self.connect() {
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query(&mut connection)
                    .unwrap_or_default();
                if info.lines().any(|l| l.trim() == "master_link_status:up") {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the replica did not sync",
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Makes this server a replica of the one on `port` (`REPLICAOF`).
    pub fn replicate(&self, port: u16) -> io::Result<()> {
        let mut connection = self.connect()?;
        redis::cmd("REPLICAOF")
            .arg("127.0.0.1")
            .arg(port)
            .query::<()>(&mut connection)
            .map_err(io::Error::other)
    }

    /// Promotes this replica to primary, as Sentinel does at failover
    /// (`REPLICAOF NO ONE`).
    pub fn promote(&self) -> io::Result<()> {
        let mut connection = self.connect()?;
        redis::cmd("REPLICAOF")
            .arg("NO")
            .arg("ONE")
            .query::<()>(&mut connection)
            .map_err(io::Error::other)
    }
}

/// Writes a configuration file readable by lbsim's user only, unless it
/// exists already (a restart keeps what the server rewrote).
fn write_private(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => file.write_all(text.as_bytes()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

/// Sends inline `AUTH <password>` and `PING` and returns the reply to
/// `PING`, if any. `AUTH` is accepted while Redis loads its data
/// (its command table flags it `loading`), so a loading server answers
/// `-LOADING` to the `PING`.
fn ping(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    stream
        .write_all(format!("AUTH {}\r\nPING\r\n", auth::password()).as_bytes())
        .ok()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 128];
    // Two reply lines: `+OK` to AUTH, then PING's.
    while reply.iter().filter(|&&b| b == b'\n').count() < 2 {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&reply);
    text.split_once("\r\n")
        .map(|(_, second)| second.to_string())
}

/// A fresh temporary folder for one process lbsim starts, named after
/// lbsim's pid (so [`remove_stale_dirs`] can tell a dead run's), mode 0700:
/// the data (sessions) and the configuration (the password) are lbsim's
/// user's alone. `tempfile` would otherwise leave the mode to the umask.
pub fn private_dir() -> io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Finds redis-server: the given path, or the first on `PATH`.
pub fn find_binary(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return path.is_file().then(|| path.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("redis-server"))
            .find(|p| p.is_file())
    })
}

/// The version redis-server reports, e.g. `7.0.15`.
pub fn version(binary: &Path) -> Option<String> {
    let output = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace()
        .find_map(|word| word.strip_prefix("v="))
        .map(str::to_string)
}

/// Removes temporary folders left by live runs whose lbsim process no
/// longer exists (it was killed before it could clean up): only folders
/// named like lbsim's, owned by this user, whose pid is gone. A folder
/// whose pid now belongs to another program stays (kept rather than risk
/// removing a running lbsim's).
pub fn remove_stale_dirs() {
    remove_stale_dirs_in(&std::env::temp_dir());
}

/// [`remove_stale_dirs`] in the folder `temp` (the system's temporary
/// folder, or a test's own).
pub fn remove_stale_dirs_in(temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        // Only a real folder (not a symbolic link someone planted to make
        // lbsim delete elsewhere) that this user owns, as lbsim's folders
        // are (0700, created by `tempfile`); another account's lbsim
        // cleans up its own.
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        // SAFETY: geteuid has no preconditions and cannot fail.
        let mine = meta.is_dir() && meta.uid() == unsafe { libc::geteuid() };
        if mine && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
