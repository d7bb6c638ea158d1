//! Who can reach the servers lbsim starts, what a signal leaves behind,
//! and passwords kept out of everything lbsim prints and writes.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;

use super::process::{EXTERNAL, start_live_lbsim, temp_dirs_of, wait_dead};
use super::*;

/// Every kind of process live mode starts: a lone primary, a primary with
/// a replica and three Sentinels, and a three-shard cluster: 1 + 5 + 3
/// processes. Ten minutes at time scale 1, so that a signal sent once all
/// have started always arrives mid-run.
const TOPOLOGIES: &str = r#"
name = "topologies"
duration = "600s"
time_scale = 1
[workload]
users = 50
arrival = { ramp = "5s" }
think_time = { dist = "exponential", mean = "2s" }
[servers]
count = 2
service_time = { dist = "constant", value = "1ms" }
[store.redis]
persistence = "none"
[[strategy]]
name = "alone"
balancer = "round_robin"
store = "redis"
[[strategy]]
name = "replica"
balancer = "round_robin"
store = "redis"
redis = { replicas = 1, down_after = "5s" }
[[strategy]]
name = "cluster"
balancer = "round_robin"
store = "redis"
redis = { shards = 3 }
"#;
const PROCESSES: usize = 9;

/// Sends one inline command on a fresh connection, without `AUTH`, and
/// returns the first reply line.
fn unauthenticated(port: u16, command: &str) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    stream
        .write_all(format!("{command}\r\n").as_bytes())
        .unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    while !reply.contains(&b'\n') {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&reply).trim_end().to_string()
}

/// Processes whose working folder is one of `lbsim_pid`'s temporary
/// folders: redis-server and Sentinel `chdir` into their `--dir`, and
/// rewrite their process title, so this finds them even after the folder
/// is gone (the link then ends in " (deleted)").
fn processes_in_folders_of(lbsim_pid: u32) -> Vec<String> {
    let prefix = std::env::temp_dir().join(format!("lbsim-live-{lbsim_pid}-"));
    let prefix = prefix.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_none_or(|state| state == "Z" || state == "X");
        if !zombie && cwd.to_string_lossy().starts_with(&prefix) {
            found.push(format!("{:?} in {}", entry.file_name(), cwd.display()));
        }
    }
    found
}

#[test]
fn a_client_without_the_password_is_refused_by_every_server_lbsim_starts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("topologies.toml"), TOPOLOGIES).unwrap();
    let (mut child, servers) = start_live_lbsim(dir.path(), "topologies.toml", PROCESSES);
    for &(pid, port) in &servers {
        // Nothing is answered without the password...
        let reply = unauthenticated(port, "PING");
        assert!(
            reply.starts_with("-NOAUTH"),
            "pid {pid} port {port} answered PING without a password: {reply}"
        );
        // ...and the attack (CONFIG SET dir + dbfilename, then SAVE) is
        // refused, as unauthenticated or, for CONFIG under its old name
        // (renamed away) and commands a Sentinel lacks, as unknown: Redis
        // looks a command up before it checks authentication
        // (`processCommand` in `server.c`).
        for command in [
            "CONFIG SET dir /tmp",
            "SAVE",
            "SENTINEL masters",
            "FLUSHALL",
        ] {
            let reply = unauthenticated(port, command);
            assert!(
                reply.starts_with("-NOAUTH") || reply.starts_with("-ERR unknown command"),
                "pid {pid} port {port} answered {command:?} without a password: {reply}"
            );
        }
        // The password is in no command line.
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        assert!(!cmdline.contains("requirepass"), "{cmdline}");
    }
    // Each server's folder is private, and so is the file with the secrets.
    let folders = temp_dirs_of(child.id());
    assert_eq!(folders.len(), PROCESSES);
    for folder in &folders {
        let mode = std::fs::metadata(folder).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", folder.display());
        let config = ["redis.conf", "sentinel.conf"]
            .iter()
            .map(|name| folder.join(name))
            .find(|path| path.exists())
            .unwrap_or_else(|| panic!("no configuration file in {}", folder.display()));
        let mode = std::fs::metadata(&config).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "{} is readable by others",
            config.display()
        );
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(child.wait().unwrap().code(), Some(130));
    wait_dead(&servers);
}

#[test]
fn with_the_password_config_is_still_refused() {
    // lbsim never sends CONFIG; a client that has the password (lbsim's
    // own) cannot use it under its usual name either.
    let process = start(&["--save", "", "--appendonly", "no"]);
    assert!(unauthenticated(process.port(), "PING").starts_with("-NOAUTH"));
    let mut redis = plain(&process);
    let pong: String = redis::cmd("PING").query(&mut redis).unwrap();
    assert_eq!(pong, "PONG");
    let err = redis::cmd("CONFIG")
        .arg("GET")
        .arg("dir")
        .query::<redis::Value>(&mut redis)
        .unwrap_err();
    assert!(err.to_string().contains("unknown command"), "{err}");
}

/// Signals `lbsim` once every process of [`TOPOLOGIES`] has started and
/// checks that none of them, and none of their folders, outlives it.
fn signal_mid_run(signal: i32) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("topologies.toml"), TOPOLOGIES).unwrap();
    let (mut child, servers) = start_live_lbsim(dir.path(), "topologies.toml", PROCESSES);
    let pid = child.id();
    // Let the run get under way: users logging in on every topology.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(processes_in_folders_of(pid).len(), PROCESSES);
    unsafe { libc::kill(pid as i32, signal) };
    let status = child.wait().unwrap();
    wait_dead(&servers);
    let left = processes_in_folders_of(pid);
    assert!(left.is_empty(), "outlived lbsim: {left:?}");
    if signal == libc::SIGKILL {
        // No chance to clean up: the folders stay until the next live run
        // finds their lbsim gone.
        assert!(!temp_dirs_of(pid).is_empty());
        redis_process::remove_stale_dirs();
    } else {
        assert_eq!(status.code(), Some(130), "{status}");
    }
    assert!(temp_dirs_of(pid).is_empty(), "{:?}", temp_dirs_of(pid));
    assert!(
        !dir.path().join("out").exists(),
        "a killed run wrote results"
    );
}

#[test]
fn sigint_mid_run_leaves_no_server_sentinel_or_cluster_node_behind() {
    signal_mid_run(libc::SIGINT);
}

#[test]
fn sigterm_mid_run_leaves_no_server_sentinel_or_cluster_node_behind() {
    signal_mid_run(libc::SIGTERM);
}

#[test]
fn sigkill_mid_run_leaves_no_server_sentinel_or_cluster_node_behind() {
    signal_mid_run(libc::SIGKILL);
}

#[test]
fn a_signal_while_servers_are_starting_stops_those_already_started() {
    // SIGTERM as soon as the first server is up, while the Sentinels and
    // the cluster are still to come.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("topologies.toml"), TOPOLOGIES).unwrap();
    let (mut child, servers) = start_live_lbsim(dir.path(), "topologies.toml", 1);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(130));
    wait_dead(&servers);
    let left = processes_in_folders_of(child.id());
    assert!(left.is_empty(), "outlived lbsim: {left:?}");
    assert!(temp_dirs_of(child.id()).is_empty());
}

/// Everything a run printed and wrote, as one text.
fn everything(dir: &Path, out: &std::process::Output) -> String {
    let mut text = format!("{}{}", stdout(out), stderr(out));
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
            }
        }
    }
    text
}

#[test]
fn a_redis_url_with_credentials_works_and_its_password_is_never_shown() {
    // A Redis ACL user, as a shared server would give a class.
    let process = start(&["--save", "", "--appendonly", "no"]);
    let mut redis = plain(&process);
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "alice", "on", ">alice-Secret-42", "~*", "+@all"])
        .query(&mut redis)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("external.toml"), EXTERNAL).unwrap();
    let good = format!(
        "redis://alice:alice-Secret-42@127.0.0.1:{}/",
        process.port()
    );
    let out = lbsim(
        dir.path(),
        &["run", "external.toml", "--live", "--redis-url", &good],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("redis [live]"));
    let written = everything(dir.path(), &out);
    assert!(dir.path().join("results/external/meta.json").exists());
    assert!(!written.contains("alice-Secret-42"), "the password leaked");

    // A wrong password: a clear error that shows the URL redacted.
    let bad = format!("redis://alice:Wrong-Pass-77@127.0.0.1:{}/", process.port());
    let out = lbsim(
        dir.path(),
        &["run", "external.toml", "--live", "--redis-url", &bad],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("redis://***@127.0.0.1:{}/", process.port())),
        "{err}"
    );
    assert!(!err.contains("Wrong-Pass-77"), "{err}");
}

#[test]
fn only_lbsims_own_stale_folders_are_removed() {
    // A pid that is gone: a child that has exited and been reaped.
    let mut exited = Command::new("true").spawn().unwrap();
    exited.wait().unwrap();
    let dead = exited.id();
    let tmp = std::env::temp_dir();
    let stale = tmp.join(format!("lbsim-live-{dead}-stale"));
    let alive = tmp.join(format!("lbsim-live-{}-alive", std::process::id()));
    std::fs::create_dir_all(stale.join("inner")).unwrap();
    std::fs::create_dir_all(&alive).unwrap();
    // A symbolic link with a stale name, planted to make lbsim delete what
    // it points to.
    let victim = tempfile::tempdir().unwrap();
    std::fs::write(victim.path().join("precious"), "keep").unwrap();
    let planted = tmp.join(format!("lbsim-live-{dead}-planted"));
    let _ = std::fs::remove_file(&planted);
    std::os::unix::fs::symlink(victim.path(), &planted).unwrap();

    redis_process::remove_stale_dirs();

    assert!(!stale.exists(), "a folder of a dead lbsim stayed");
    assert!(alive.exists(), "a running lbsim's folder was removed");
    assert!(victim.path().join("precious").exists(), "followed a link");
    std::fs::remove_dir_all(&alive).unwrap();
    std::fs::remove_file(&planted).unwrap();
}

/// A certificate authority and a certificate for `localhost` signed by it,
/// as PEM files in `dir`: `ca.pem`, `server.pem`, `server.key`.
fn certificates(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca, &ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
}

#[test]
fn a_rediss_url_runs_over_verified_tls() {
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    let tls_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let file = |name: &str| certs.path().join(name).to_string_lossy().into_owned();
    // The plain port stays for lbsim's own start-up check; the TLS port is
    // the one under test.
    let tls_port_arg = tls_port.to_string();
    let (cert, key, ca) = (file("server.pem"), file("server.key"), file("ca.pem"));
    let process = start(&[
        "--save",
        "",
        "--appendonly",
        "no",
        "--tls-port",
        &tls_port_arg,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        "no",
    ]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("external.toml"), EXTERNAL).unwrap();
    let password = lbsim::live::auth::password();
    let run = |url: &str, trusted: &str| {
        Command::new(env!("CARGO_BIN_EXE_lbsim"))
            .args([
                "run",
                "external.toml",
                "--live",
                "--no-plots",
                "--redis-url",
                url,
            ])
            .current_dir(dir.path())
            // rustls-native-certs reads the trusted roots from here.
            .env("SSL_CERT_FILE", trusted)
            .output()
            .unwrap()
    };
    let tls_url = format!("rediss://:{password}@localhost:{tls_port}/");
    let out = run(&tls_url, &ca);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("redis [live]"));
    assert!(!everything(dir.path(), &out).contains(password));
    // The sessions went through the TLS port...
    let mut redis = plain(&process);
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut redis)
        .unwrap();
    assert!(stats.contains("cmdstat_hmset:calls="), "{stats}");
    // ...and the server's certificate was checked: with another CA trusted
    // the run fails, as does plain text to the TLS port.
    let other = tempfile::tempdir().unwrap();
    certificates(other.path());
    let untrusted = run(&tls_url, &other.path().join("ca.pem").to_string_lossy());
    assert_eq!(untrusted.status.code(), Some(1), "{}", stderr(&untrusted));
    let err = stderr(&untrusted);
    assert!(err.contains("rediss://***@localhost"), "{err}");
    assert!(!err.contains(password), "{err}");
    let plain_text = run(&format!("redis://:{password}@localhost:{tls_port}/"), &ca);
    assert_eq!(plain_text.status.code(), Some(1), "{}", stderr(&plain_text));
}

#[test]
fn two_live_runs_at_once_share_no_server_folder_or_port() {
    // Both into the same results folder, started together.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("external.toml"), EXTERNAL).unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_lbsim"))
            .args([
                "run",
                "external.toml",
                "--live",
                "--no-plots",
                "--out",
                "out",
            ])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    let ports = |child: std::process::Child| {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out)
            .lines()
            .filter_map(|l| l.strip_prefix("live: started redis-server pid "))
            .map(|rest| rest.split_whitespace().nth(3).unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (a, b) = (ports(first), ports(second));
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_ne!(a, b, "both runs used port {a:?}");
    // The folder holds one run's complete results.
    let summary = std::fs::read_to_string(dir.path().join("out/summary.csv")).unwrap();
    assert!(summary.contains("redis [live]"), "{summary}");
}
