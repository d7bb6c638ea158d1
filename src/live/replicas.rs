//! A primary's replicas and the Sentinels that watch them, started the
//! same way for live mode and the stack: the replicas follow the primary
//! with `REPLICAOF`, three Sentinels (quorum 2) promote one when it dies.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use super::persistence_args;
use super::redis_process::{RedisArgs, RedisProcess};
use super::sentinel::{self, SentinelGroup};
use crate::sim::store::RedisConfig;

/// A primary's replicas and their Sentinels.
pub(crate) type Replication = (Vec<Rc<RefCell<RedisProcess>>>, Option<Rc<SentinelGroup>>);

/// Starts `redis.replication`'s replicas of `primary` and the Sentinels
/// that watch them (none without replication). `who` begins each message
/// (`live`, `stack`).
pub(crate) fn start_replication(
    binary: &Path,
    redis: &RedisConfig,
    time_scale: f64,
    primary: &RedisProcess,
    name: &str,
    who: &str,
) -> Result<Replication, String> {
    let Some(replication) = &redis.replication else {
        return Ok((Vec::new(), None));
    };
    let replicas = start_replicas(binary, redis, time_scale, primary, name, who)?;
    let down_after_ms =
        ((replication.down_after.as_secs_f64() / time_scale) * 1000.0).max(100.0) as u64;
    let sentinels = SentinelGroup::start(
        &sentinel::find_binary(binary),
        primary.port(),
        replicas.len(),
        down_after_ms,
        // Sentinel waits twice this before retrying a failover that
        // failed; a run is shorter.
        60_000,
    )
    .map_err(|e| format!("cannot start Sentinels: {e}"))?;
    for s in &sentinels.sentinels {
        crate::say!(
            "{who}: started redis-sentinel pid {} on port {} (quorum {}, down-after \
             {down_after_ms} ms) for `{name}`",
            s.pid().unwrap_or(0),
            s.port(),
            sentinel::QUORUM
        );
    }
    Ok((replicas, Some(Rc::new(sentinels))))
}

/// The flags of every node of a strategy: persistence, and the real
/// `min-replicas-to-write` on every node (a promoted replica keeps
/// enforcing it). Redis counts the lag in whole seconds, so a compressed
/// `min-replicas-max-lag` is never below 1 s.
pub(crate) fn node_args(redis: &RedisConfig, time_scale: f64) -> Vec<String> {
    let mut args = persistence_args(redis, time_scale);
    if let Some(replication) = &redis.replication
        && replication.min_replicas_to_write > 0
    {
        let lag = (replication.min_replicas_max_lag.as_secs_f64() / time_scale)
            .round()
            .max(1.0) as u64;
        args.extend([
            "--min-replicas-to-write".into(),
            replication.min_replicas_to_write.to_string(),
            "--min-replicas-max-lag".into(),
            lag.to_string(),
        ]);
    }
    args
}

/// Starts the strategy's replicas and makes each follow the primary
/// (`REPLICAOF` at run time rather than `--replicaof` on the command line,
/// so that a replica promoted later restarts as what it has become, and
/// Sentinel reconfigures it from there).
fn start_replicas(
    binary: &Path,
    redis: &RedisConfig,
    time_scale: f64,
    primary: &RedisProcess,
    name: &str,
    who: &str,
) -> Result<Vec<Rc<RefCell<RedisProcess>>>, String> {
    let count = redis.replication.as_ref().map_or(0, |r| r.replicas);
    let mut replicas = Vec::new();
    for _ in 0..count {
        let args = RedisArgs {
            persistence: node_args(redis, time_scale),
            ..RedisArgs::default()
        };
        let replica = RedisProcess::start(binary, args)
            .and_then(|r| r.replicate(primary.port()).map(|()| r))
            .and_then(|r| r.wait_for_replication(Duration::from_secs(20)).map(|()| r))
            .map_err(|e| format!("cannot start a replica: {e}"))?;
        crate::say!(
            "{who}: started redis-server pid {} on port {} as replica of port {} for `{name}`",
            replica.pid().unwrap_or(0),
            replica.port(),
            primary.port(),
        );
        replicas.push(Rc::new(RefCell::new(replica)));
    }
    Ok(replicas)
}
