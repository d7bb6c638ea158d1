//! A real Redis Cluster for live mode: `shards` primaries (and a replica
//! each with `replicas >= 1`), started, joined and checked by lbsim.
//!
//! Built the way `redis-cli --cluster create` does it: every node runs with
//! `cluster-enabled yes`; each primary gets an equal contiguous range of
//! the 16384 slots (`CLUSTER ADDSLOTSRANGE`); node 0 meets the others
//! (`CLUSTER MEET`); each replica follows its primary (`CLUSTER
//! REPLICATE`); then lbsim waits for `cluster_state:ok` everywhere. A shard
//! failure is then handled by the cluster itself: after
//! `cluster-node-timeout` the replica is promoted, with no help from lbsim.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use super::redis_process::{RedisArgs, RedisProcess};

/// The nodes of a cluster: primaries first (shard order), then replicas.
pub struct RedisCluster {
    pub nodes: Vec<RedisProcess>,
    pub shards: usize,
}

fn query(node: &RedisProcess, args: &[&str]) -> io::Result<redis::Value> {
    let mut connection = node.connect()?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(&mut connection).map_err(io::Error::other)
}

fn query_string(node: &RedisProcess, args: &[&str]) -> io::Result<String> {
    match query(node, args)? {
        redis::Value::BulkString(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        redis::Value::VerbatimString { text, .. } => Ok(text),
        redis::Value::SimpleString(s) => Ok(s),
        other => Ok(format!("{other:?}")),
    }
}

fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    while !ready() {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the cluster did not form",
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

impl RedisCluster {
    /// Starts and joins a cluster. `persistence` are the usual persistence
    /// flags; `node_timeout_ms` is `cluster-node-timeout`.
    pub fn start(
        binary: &Path,
        shards: usize,
        with_replicas: bool,
        persistence: &[String],
        node_timeout_ms: u64,
    ) -> io::Result<Self> {
        let count = if with_replicas { shards * 2 } else { shards };
        let mut nodes = Vec::with_capacity(count);
        for _ in 0..count {
            let mut args: Vec<String> = persistence.to_vec();
            args.extend(
                [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                ]
                .map(String::from),
            );
            args.extend([
                "--cluster-node-timeout".to_string(),
                node_timeout_ms.to_string(),
            ]);
            nodes.push(RedisProcess::start(
                binary,
                RedisArgs {
                    persistence: args,
                    ..RedisArgs::default()
                },
            )?);
        }
        for (i, node) in nodes.iter().take(shards).enumerate() {
            let lo = i * 16384 / shards;
            let hi = (i + 1) * 16384 / shards - 1;
            query(
                node,
                &["CLUSTER", "ADDSLOTSRANGE", &lo.to_string(), &hi.to_string()],
            )?;
        }
        for node in &nodes[1..] {
            query(
                &nodes[0],
                &["CLUSTER", "MEET", "127.0.0.1", &node.port().to_string()],
            )?;
        }
        wait_until(Duration::from_secs(20), || {
            nodes.iter().all(|n| {
                query_string(n, &["CLUSTER", "NODES"]).is_ok_and(|s| s.lines().count() == count)
            })
        })?;
        for i in 0..(count - shards) {
            let primary_id = query_string(&nodes[i], &["CLUSTER", "MYID"])?;
            query(
                &nodes[shards + i],
                &["CLUSTER", "REPLICATE", primary_id.trim()],
            )?;
        }
        wait_until(Duration::from_secs(30), || {
            nodes.iter().all(|n| {
                query_string(n, &["CLUSTER", "INFO"]).is_ok_and(|s| s.contains("cluster_state:ok"))
            })
        })?;
        if with_replicas {
            for replica in &nodes[shards..] {
                replica.wait_for_replication(Duration::from_secs(20))?;
            }
        }
        Ok(RedisCluster { nodes, shards })
    }

    /// The URLs of every node, for the cluster client to discover from.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisProcess::url).collect()
    }

    /// The cluster node id of node `i` (`CLUSTER MYID`).
    pub fn node_id(&self, i: usize) -> io::Result<String> {
        Ok(query_string(&self.nodes[i], &["CLUSTER", "MYID"])?
            .trim()
            .to_string())
    }

    /// True once a running node has flagged node `id` as failed (`fail`,
    /// not just the `fail?` of a suspicion).
    pub fn marked_failed(&self, id: &str) -> bool {
        self.nodes.iter().filter(|n| n.pid().is_some()).any(|n| {
            query_string(n, &["CLUSTER", "NODES"]).is_ok_and(|nodes| {
                nodes.lines().any(|line| {
                    line.starts_with(id)
                        && line
                            .split_whitespace()
                            .nth(2)
                            .is_some_and(|flags| flags.split(',').any(|f| f == "fail"))
                })
            })
        })
    }

    /// True once every running node reports `cluster_state:ok` with every
    /// slot served (after a failover each node updates its own view, and a
    /// node that has not caught up yet answers `-CLUSTERDOWN`).
    pub fn is_ok(&self) -> bool {
        self.nodes.iter().filter(|n| n.pid().is_some()).all(|n| {
            query_string(n, &["CLUSTER", "INFO"])
                .is_ok_and(|s| s.contains("cluster_state:ok") && s.contains("cluster_slots_fail:0"))
        })
    }
}
