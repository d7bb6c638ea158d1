//! Live mode against real redis-server processes (never a mock), one
//! module per topology. `scripts/test.sh` installs redis-server when it
//! is missing.

mod agreement;
mod cluster;
mod process;
mod proxy;
mod replication;
mod security;
mod store;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lbsim::live::redis_process::{self, RedisArgs, RedisProcess};
use lbsim::live::spring_session::{Hold, SPRING_NAMESPACE, SpringSessionStore, StoreFailure};
use lbsim::sim::store::Lookup;
use lbsim::sim::{ServerId, SessionId, UserId};

use crate::support::{lbsim, repo, stderr, stdout};

fn redis_server() -> PathBuf {
    redis_process::find_binary(None)
        .expect("redis-server is not on PATH: run scripts/test.sh, which installs it")
}

fn start(persistence: &[&str]) -> RedisProcess {
    let args = RedisArgs {
        persistence: persistence.iter().map(|s| s.to_string()).collect(),
        ..RedisArgs::default()
    };
    RedisProcess::start(&redis_server(), args).expect("redis-server starts")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn store(process: &RedisProcess, ttl: Duration) -> SpringSessionStore {
    SpringSessionStore::connect(&process.url(), 2, SPRING_NAMESPACE.to_string(), ttl, 42)
        .await
        .unwrap()
}

/// A plain client, to read back what lbsim wrote the way a teacher would
/// with redis-cli.
fn plain(process: &RedisProcess) -> redis::Connection {
    redis::Client::open(process.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Waits until a restarted server has loaded its data.
async fn until_ready(store: &SpringSessionStore) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.count(true).await.is_none() {
        assert!(Instant::now() < deadline, "redis did not come back");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A live run of scenario `text` (written as `file` in a fresh folder):
/// the folder, the JSON rows of stdout, and stderr.
struct LiveRun {
    dir: tempfile::TempDir,
    rows: Vec<serde_json::Value>,
    stderr: String,
}

impl LiveRun {
    fn of(file: &str, text: &str) -> LiveRun {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(file), text).unwrap();
        let out = lbsim(
            dir.path(),
            &["run", file, "--live", "--no-plots", "--format", "json"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        LiveRun {
            rows: json["strategies"].as_array().unwrap().clone(),
            stderr: stderr(&out),
            dir,
        }
    }

    /// The row named `name`.
    fn row(&self, name: &str) -> &serde_json::Value {
        self.rows
            .iter()
            .find(|r| r["strategy"] == name)
            .unwrap_or_else(|| panic!("no row {name}"))
    }
}
