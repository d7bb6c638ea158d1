//! Real Redis Sentinels for live mode: three `redis-sentinel` processes
//! (quorum 2) watching a primary that lbsim started, electing a leader
//! and promoting a replica by themselves when it dies.
//!
//! Configured as `sentinel.conf` documents it (`sentinel monitor <name>
//! <ip> <port> <quorum>`, `down-after-milliseconds`, `failover-timeout`,
//! `parallel-syncs`); each Sentinel runs from its own file, which it
//! rewrites with what it learns (the replicas, the other Sentinels, a new
//! primary). A client finds the primary the way Sentinel-aware clients do,
//! with `SENTINEL get-master-addr-by-name` (Lettuce asks again on every
//! reconnection: `RedisClient.getSocketAddress` → `lookupRedis`), which
//! answers the promoted replica once Sentinel has switched
//! (`sentinelGetCurrentMasterAddress` in `sentinel.c`).

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::redis_process::{RedisArgs, RedisProcess};

/// The name under which the Sentinels monitor lbsim's primary.
pub const MASTER_NAME: &str = "lbsim";

/// How many Sentinels, and how many must agree that the primary is down.
pub const SENTINELS: usize = 3;
pub const QUORUM: usize = 2;

/// The Sentinels of one strategy.
pub struct SentinelGroup {
    pub sentinels: Vec<RedisProcess>,
}

/// Finds `redis-sentinel` on `PATH`, or uses `redis-server --sentinel`
/// (the same program) when only that is installed.
pub fn find_binary(redis_server: &Path) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("redis-sentinel"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| redis_server.to_path_buf())
}

impl SentinelGroup {
    /// Starts the Sentinels watching the primary on `primary_port`, with
    /// Sentinel's `down-after-milliseconds` and `failover-timeout`, and
    /// waits until each knows the other two and `replicas` replicas.
    pub fn start(
        binary: &Path,
        primary_port: u16,
        replicas: usize,
        down_after_ms: u64,
        failover_timeout_ms: u64,
    ) -> io::Result<SentinelGroup> {
        let config = format!(
            "sentinel monitor {MASTER_NAME} 127.0.0.1 {primary_port} {QUORUM}\n\
             sentinel down-after-milliseconds {MASTER_NAME} {down_after_ms}\n\
             sentinel failover-timeout {MASTER_NAME} {failover_timeout_ms}\n\
             sentinel parallel-syncs {MASTER_NAME} 1\n\
             {auth}",
            auth = super::auth::sentinel_config(MASTER_NAME)
        );
        let mut sentinels = Vec::with_capacity(SENTINELS);
        for _ in 0..SENTINELS {
            let args = RedisArgs {
                sentinel_config: Some(config.clone()),
                ..RedisArgs::default()
            };
            sentinels.push(RedisProcess::start(binary, args)?);
        }
        let group = SentinelGroup { sentinels };
        group.wait_until_acquainted(replicas, Duration::from_secs(30))?;
        Ok(group)
    }

    /// Waits until every Sentinel has found the other Sentinels (by their
    /// hello messages, every 2 s) and the replicas (by the primary's
    /// `INFO`, every 10 s at first).
    fn wait_until_acquainted(&self, replicas: usize, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let ready = self.sentinels.iter().all(|s| {
                count(s, "SENTINELS") == Some(SENTINELS - 1)
                    && count(s, "REPLICAS") == Some(replicas)
            });
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the Sentinels did not find each other and the replicas",
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The port of the primary, as the first Sentinel that answers says.
    pub fn master_port(&self) -> Option<u16> {
        self.sentinels.iter().find_map(master_port_from)
    }

    /// The `sentinel` binary's URLs, for an async client.
    pub fn urls(&self) -> Vec<String> {
        self.sentinels.iter().map(RedisProcess::url).collect()
    }
}

/// `SENTINEL get-master-addr-by-name`'s port, from one Sentinel.
fn master_port_from(sentinel: &RedisProcess) -> Option<u16> {
    let client = redis::Client::open(sentinel.url()).ok()?;
    let mut connection = client
        .get_connection_with_timeout(Duration::from_millis(200))
        .ok()?;
    connection
        .set_read_timeout(Some(Duration::from_secs(1)))
        .ok()?;
    let (_, port): (String, u16) = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(MASTER_NAME)
        .query(&mut connection)
        .ok()?;
    Some(port)
}

/// How many `SENTINELS` or `REPLICAS` a Sentinel knows for the primary.
fn count(sentinel: &RedisProcess, what: &str) -> Option<usize> {
    let client = redis::Client::open(sentinel.url()).ok()?;
    let mut connection = client
        .get_connection_with_timeout(Duration::from_millis(200))
        .ok()?;
    connection
        .set_read_timeout(Some(Duration::from_secs(1)))
        .ok()?;
    let entries: Vec<redis::Value> = redis::cmd("SENTINEL")
        .arg(what)
        .arg(MASTER_NAME)
        .query(&mut connection)
        .ok()?;
    Some(entries.len())
}

/// Asks the Sentinels at `urls` for the primary's port, without blocking
/// the live driver's thread.
pub async fn master_port_async(urls: &[String]) -> Option<u16> {
    for url in urls {
        let Ok(client) = redis::Client::open(url.as_str()) else {
            continue;
        };
        let Ok(Ok(mut connection)) = tokio::time::timeout(
            Duration::from_millis(200),
            client.get_multiplexed_async_connection(),
        )
        .await
        else {
            continue;
        };
        let mut command = redis::cmd("SENTINEL");
        command.arg("get-master-addr-by-name").arg(MASTER_NAME);
        let query = command.query_async::<(String, u16)>(&mut connection);
        if let Ok(Ok((_, port))) = tokio::time::timeout(Duration::from_secs(1), query).await {
            return Some(port);
        }
    }
    None
}

/// Keeps `store`'s connections on the primary the Sentinels at `urls`
/// name, as a Sentinel-aware client does: it asks `SENTINEL
/// get-master-addr-by-name` (every 20 ms here; Lettuce asks on every
/// reconnection) and reconnects when the answer changes. Runs until
/// dropped.
pub async fn follow_primary(
    store: std::rc::Rc<super::spring_session::SpringSessionStore>,
    urls: Vec<String>,
) {
    let mut current = None;
    loop {
        if let Some(port) = master_port_async(&urls).await
            && current != Some(port)
            && let Some(url) = urls.first().map(|u| url_on_port(u, port))
            && (current.is_none() || store.switch_to(&url).await.is_ok())
        {
            current = Some(port);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The primary's URL, from a Sentinel's: the same scheme, credentials and
/// host (every server lbsim starts shares them), on `port`.
pub fn url_on_port(sentinel_url: &str, port: u16) -> String {
    let (scheme, rest) = sentinel_url
        .split_once("://")
        .unwrap_or(("redis", sentinel_url));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    // The port follows the last ':' after the credentials' '@'.
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let host = match authority[host_start..].rfind(':') {
        Some(colon) => &authority[..host_start + colon],
        None => authority,
    };
    format!("{scheme}://{host}:{port}{path}")
}

#[cfg(test)]
mod tests {
    use super::url_on_port;

    #[test]
    fn a_primary_url_keeps_the_sentinels_credentials_and_host() {
        assert_eq!(
            url_on_port("redis://:s3c:r@t@127.0.0.1:26379/", 6380),
            "redis://:s3c:r@t@127.0.0.1:6380/"
        );
        assert_eq!(
            url_on_port("redis://127.0.0.1:26379", 7000),
            "redis://127.0.0.1:7000"
        );
    }
}
