//! What lbsim itself asks a live Redis, beside the app's traffic: how
//! many sessions it holds, which of those users held survived a fault,
//! its version, and the cleanup of lbsim's own keys on a user's server.

use redis::RedisError;

use super::{Connection, SpringSessionStore};
use crate::sim::{ServerId, SessionId};

impl SpringSessionStore {
    /// Number of keys of this store: `DBSIZE` on a server lbsim owns, a
    /// `SCAN` of the namespace on a user's server. `None` while Redis is
    /// down.
    pub async fn count(&self, owned: bool) -> Option<u64> {
        let mut total = 0;
        for mut connection in self.key_nodes().await? {
            total += if owned {
                redis::cmd("DBSIZE")
                    .query_async::<u64>(&mut connection)
                    .await
                    .ok()?
            } else {
                self.scan_own_keys(&mut connection).await.ok()?.len() as u64
            };
        }
        Some(total)
    }

    /// Connections that together see every key: the one connection for a
    /// lone Redis; each running primary for a cluster (keys live on the
    /// primary of their slot). `None` if no node answers.
    async fn key_nodes(&self) -> Option<Vec<Connection>> {
        if self.cluster_nodes.is_empty() {
            return Some(vec![self.connection(ServerId(0))]);
        }
        let mut primaries = Vec::new();
        for url in &self.cluster_nodes {
            let Ok(mut opened) = Self::open(url, 1).await else {
                continue;
            };
            let mut connection = opened.remove(0);
            // A node that does not answer (the dead one) holds no key we
            // could count.
            let Ok(info) = redis::cmd("INFO")
                .arg("replication")
                .query_async::<String>(&mut connection)
                .await
            else {
                continue;
            };
            if info.lines().any(|l| l.trim() == "role:master") {
                primaries.push(connection);
            }
        }
        (!primaries.is_empty()).then_some(primaries)
    }

    async fn scan_own_keys(&self, connection: &mut Connection) -> Result<Vec<String>, RedisError> {
        let pattern = format!("{}*", escape_glob(&self.namespace));
        let mut cursor: u64 = 0;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(connection)
                .await?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }

    /// Session hashes whose `creationTime` is before `cutoff_ms` (epoch
    /// ms): after a restart, the sessions that came back from disk, as
    /// opposed to those users created since. `None` while Redis does not
    /// answer.
    pub async fn count_created_before(&self, cutoff_ms: u64) -> Option<u64> {
        let mut count = 0;
        for connection in self.key_nodes().await? {
            count += self.count_created_before_on(connection, cutoff_ms).await?;
        }
        Some(count)
    }

    async fn count_created_before_on(
        &self,
        mut connection: Connection,
        cutoff_ms: u64,
    ) -> Option<u64> {
        let keys = self.scan_own_keys(&mut connection).await.ok()?;
        let mut count = 0;
        for chunk in keys.chunks(500) {
            let mut pipe = redis::pipe();
            for key in chunk {
                pipe.hget(key, "creationTime");
            }
            let created: Vec<Option<u64>> = pipe.query_async(&mut connection).await.ok()?;
            count += created
                .into_iter()
                .flatten()
                .filter(|&t| t < cutoff_ms)
                .count() as u64;
        }
        Some(count)
    }

    /// Which of `sessions` exist in Redis now, in order; `None` while
    /// Redis does not answer. A live run counts what a fault destroyed this
    /// way: the sessions users held before it, looked up once Redis is back
    /// (the simulator's definition of a lost session).
    pub async fn existing(&self, sessions: &[SessionId]) -> Option<Vec<bool>> {
        let keys: Vec<String> = sessions.iter().map(|&s| self.key(s)).collect();
        self.existing_keys(&keys).await
    }

    /// [`Self::existing`] by session id (the cookie's value), for the stack,
    /// whose app servers choose their own ids.
    pub async fn existing_named(&self, ids: &[String]) -> Option<Vec<bool>> {
        let keys: Vec<String> = ids.iter().map(|id| self.key_of(id)).collect();
        self.existing_keys(&keys).await
    }

    async fn existing_keys(&self, keys: &[String]) -> Option<Vec<bool>> {
        // The app's connection may still be the one Redis's stop broke (a
        // client that held its commands sent none since): the first
        // failure makes the connection manager reconnect, so try again.
        for _ in 0..3 {
            if let Some(found) = self.try_existing(keys).await {
                return Some(found);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        None
    }

    async fn try_existing(&self, keys: &[String]) -> Option<Vec<bool>> {
        let mut connection = self.connection(ServerId(0));
        let mut all = Vec::with_capacity(keys.len());
        // A cluster routes each command to its key's node: one key at a
        // time there; a lone Redis takes them in pipelines.
        let chunk = if self.cluster_nodes.is_empty() {
            500
        } else {
            1
        };
        for part in keys.chunks(chunk) {
            let mut pipe = redis::pipe();
            for key in part {
                pipe.exists(key);
            }
            let found: Vec<bool> = pipe.query_async(&mut connection).await.ok()?;
            all.extend(found);
        }
        Some(all)
    }

    /// `redis_version` from `INFO server`.
    pub async fn server_version(&self) -> Option<String> {
        let mut connection = self.connection(ServerId(0));
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut connection)
            .await
            .ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .map(|v| v.trim().to_string())
    }

    /// Deletes every key under this store's namespace, and nothing else
    /// (never `FLUSHDB`/`FLUSHALL`: on a user's server other data lives
    /// beside ours). Returns how many keys were deleted.
    pub async fn delete_own_keys(&self) -> Result<u64, RedisError> {
        let mut connection = self.connection(ServerId(0));
        let keys = self.scan_own_keys(&mut connection).await?;
        for chunk in keys.chunks(500) {
            let _: u64 = redis::cmd("UNLINK")
                .arg(chunk)
                .query_async(&mut connection)
                .await?;
        }
        Ok(keys.len() as u64)
    }
}

/// Escapes glob characters so a namespace matches only itself in `SCAN`.
fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "*?[]\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
