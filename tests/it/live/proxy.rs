//! Live mode through a fault-injecting TCP proxy in front of a real
//! redis-server: a Redis that turns slow, closes every connection, and
//! refuses new ones, mid-run. Errors are counted, the run finishes on
//! time, nothing hangs.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use super::*;

const PASS: u8 = 0;
/// Every chunk in either direction waits [`SLOW_DELAY`] first.
const SLOW: u8 = 1;
/// The listening socket is closed: connecting gets ECONNREFUSED.
const REFUSE: u8 = 2;

/// Longer than the live client's 2 s response timeout
/// (`SpringSessionStore::open`), so every command times out.
const SLOW_DELAY: Duration = Duration::from_millis(2500);

/// A TCP proxy on a loopback port whose behaviour the test switches.
struct FaultyProxy {
    port: u16,
    mode: Arc<AtomicU8>,
    /// Both ends of every connection made so far, to cut them.
    connections: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl FaultyProxy {
    fn start(upstream: u16) -> FaultyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = FaultyProxy {
            port,
            mode: Arc::new(AtomicU8::new(PASS)),
            connections: Arc::default(),
            stop: Arc::default(),
        };
        let (mode, connections, stop) = (
            proxy.mode.clone(),
            proxy.connections.clone(),
            proxy.stop.clone(),
        );
        std::thread::spawn(move || {
            let mut listener = Some(listener);
            while !stop.load(Ordering::Relaxed) {
                let refusing = mode.load(Ordering::Relaxed) == REFUSE;
                match (&listener, refusing) {
                    (Some(_), true) => listener = None,
                    // std sets SO_REUSEADDR, so the port can be bound again
                    // at once.
                    (None, false) => {
                        listener = Some(TcpListener::bind(("127.0.0.1", port)).unwrap())
                    }
                    _ => {}
                }
                let Some(open) = &listener else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                open.set_nonblocking(true).unwrap();
                match open.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                        let mut all = connections.lock().unwrap();
                        all.push(client.try_clone().unwrap());
                        all.push(server.try_clone().unwrap());
                        pump(
                            client.try_clone().unwrap(),
                            server.try_clone().unwrap(),
                            &mode,
                        );
                        pump(server, client, &mode);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        proxy
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::Relaxed);
    }

    /// Closes every open connection, as a Redis restart or a network
    /// reset would.
    fn cut_all(&self) {
        for stream in self.connections.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.cut_all();
    }
}

/// Copies `from` to `to` on a thread, delaying each chunk while slow.
fn pump(mut from: TcpStream, mut to: TcpStream, mode: &Arc<AtomicU8>) {
    let mode = mode.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if mode.load(Ordering::Relaxed) == SLOW {
                std::thread::sleep(SLOW_DELAY);
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// 40 s at time scale 2: 20 s of wall time.
const SCENARIO: &str = r#"
name = "through-proxy"
duration = "40s"
time_scale = 2
[workload]
users = 40
arrival = { ramp = "1s" }
think_time = { dist = "exponential", mean = "2s" }
[servers]
count = 2
service_time = { dist = "constant", value = "1ms" }
[[strategy]]
name = "redis"
balancer = "round_robin"
store = "redis"
"#;

#[test]
fn a_slow_closing_refusing_redis_gives_counted_errors_and_the_run_finishes() {
    let process = start(&["--save", "", "--appendonly", "no"]);
    let proxy = FaultyProxy::start(process.port());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("proxy.toml"), SCENARIO).unwrap();
    let url = format!(
        "redis://:{}@127.0.0.1:{}/",
        lbsim::live::auth::password(),
        proxy.port
    );
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lbsim"))
        .args([
            "run",
            "proxy.toml",
            "--live",
            "--redis-url",
            &url,
            "--format",
            "json",
            "--no-plots",
            "--quiet",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wall-clock plan: 5 s normal; 4 s slow (8 s of scenario time, every
    // command times out); then every connection is cut and new ones are
    // refused for 4 s; then normal again for the last 7 s.
    std::thread::sleep(Duration::from_secs(5));
    proxy.set(SLOW);
    std::thread::sleep(Duration::from_secs(4));
    proxy.set(REFUSE);
    proxy.cut_all();
    std::thread::sleep(Duration::from_secs(4));
    proxy.set(PASS);
    // Nothing may hang: the run is 20 s of wall time; every operation
    // times out within 2.5 s, and the end (deleting lbsim's keys, writing
    // results) takes well under a second here. 30 s more is the bound.
    let deadline = started + Duration::from_secs(50);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("lbsim hung behind a faulty Redis");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = json["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["strategy"] == "redis [live]")
        .expect("a live row")
        .clone();
    let requests = row["requests"].as_u64().unwrap();
    let errors = row["errors"].as_u64().unwrap();
    // 40 users with 2 s mean think: ~20 requests per scenario second, 800
    // in 40 s when nothing goes wrong. The 16 s of scenario time in the
    // slow and refused windows: every user sends at least one request in
    // them (the chance a 2 s-mean think exceeds 16 s is e^-8), and each is
    // an error (a timeout or a refusal): at least 40 errors, more in the
    // refused window where errors come back at once. Outside them (24 s)
    // nothing fails, so at least ~24/40 of a normal run's requests are
    // served; 300 served is far below the ~480 expected (sd ~22).
    assert!(
        errors >= 40,
        "{errors} errors in {requests} requests: {row}"
    );
    assert!(
        requests - errors >= 300,
        "the run did not recover: {errors} errors in {requests} requests"
    );
    // The proxy's faults really happened and Redis itself stayed up: the
    // keys lbsim wrote are gone (it cleaned up through the proxy at the end).
    let mut redis = plain(&process);
    let keys: Vec<String> = redis::cmd("KEYS").arg("lbsim:*").query(&mut redis).unwrap();
    assert!(keys.is_empty(), "{keys:?}");
    drop(proxy);
}
