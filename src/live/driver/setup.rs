//! Starting what a live run needs: one redis-server (with a replica, or a
//! whole Redis Cluster) per strategy, or connections to the user's Redis
//! under a private key prefix.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::{Plan, Target};
use crate::live::cluster::RedisCluster;
use crate::live::redis_process::{RedisArgs, RedisProcess};
use crate::live::sentinel::{self, SentinelGroup};
use crate::live::spring_session::{SPRING_NAMESPACE, SpringSessionStore};
use crate::live::{LiveError, persistence_args};
use crate::sim::store::{RedisConfig, StoreConfig};

/// Starts (or connects) the store of every live strategy into `targets`.
/// Servers already started stay in `targets` when a later one fails, so
/// that they are stopped (on drop) all the same.
pub(super) async fn start_targets(
    plan: &Plan<'_>,
    run_tag: u64,
    targets: &mut Vec<Target>,
) -> Result<(), LiveError> {
    let scenario = plan.scenario;
    for &index in &plan.strategies {
        let StoreConfig::Redis(redis) = &scenario.strategies[index].store else {
            continue;
        };
        let ttl_wall =
            Duration::from_secs_f64(scenario.session.ttl.as_secs_f64() / plan.time_scale);
        if redis.shards > 1 {
            let binary = plan
                .binary
                .as_ref()
                .expect("clusters run only on servers lbsim starts");
            let node_timeout_ms =
                ((redis.node_timeout.as_secs_f64() / plan.time_scale) * 1000.0).max(500.0) as u64;
            let cluster = RedisCluster::start(
                binary,
                redis.shards as usize,
                redis.replication.is_some(),
                &node_args(redis, plan.time_scale),
                node_timeout_ms,
            )
            .map_err(|e| LiveError::Failed(format!("cannot start a Redis Cluster: {e}")))?;
            for (k, node) in cluster.nodes.iter().enumerate() {
                crate::say!(
                    "live: started redis-server pid {} on port {} as cluster node {k} for `{}`",
                    node.pid().unwrap_or(0),
                    node.port(),
                    scenario.strategies[index].name
                );
            }
            let store = SpringSessionStore::connect_cluster(
                cluster.urls(),
                SPRING_NAMESPACE.to_string(),
                ttl_wall,
                // The simulator's cluster places sessions by the slots of
                // keys made with the seed: the same users on the same
                // shards. No other run shares these fresh servers.
                scenario.seed,
            )
            .await
            .map_err(|e| LiveError::Failed(format!("cannot connect to the cluster: {e}")))?;
            store.pipeline_saves(redis.pipeline);
            targets.push(Target {
                index,
                store: Rc::new(store),
                process: None,
                replicas: Vec::new(),
                sentinels: None,
                cluster: Some(Rc::new(RefCell::new(cluster))),
            });
            continue;
        }
        let (url, namespace, process, replicas, sentinels) = match (&plan.binary, &plan.url) {
            (Some(binary), _) => {
                let name = &scenario.strategies[index].name;
                let args = RedisArgs {
                    persistence: node_args(redis, plan.time_scale),
                    ..RedisArgs::default()
                };
                let process = RedisProcess::start(binary, args)
                    .map_err(|e| LiveError::Failed(format!("cannot start redis-server: {e}")))?;
                crate::say!(
                    "live: started redis-server pid {} on port {} for `{name}`",
                    process.pid().unwrap_or(0),
                    process.port(),
                );
                let (replicas, sentinels) = match &redis.replication {
                    Some(replication) => {
                        let replicas =
                            start_replicas(binary, redis, plan.time_scale, &process, name)?;
                        let down_after_ms =
                            ((replication.down_after.as_secs_f64() / plan.time_scale) * 1000.0)
                                .max(100.0) as u64;
                        let sentinels = SentinelGroup::start(
                            &sentinel::find_binary(binary),
                            process.port(),
                            replicas.len(),
                            down_after_ms,
                            // Sentinel waits twice this before retrying a
                            // failover that failed; a run is shorter.
                            60_000,
                        )
                        .map_err(|e| LiveError::Failed(format!("cannot start Sentinels: {e}")))?;
                        for s in &sentinels.sentinels {
                            crate::say!(
                                "live: started redis-sentinel pid {} on port {} (quorum {}, \
                                 down-after {down_after_ms} ms) for `{name}`",
                                s.pid().unwrap_or(0),
                                s.port(),
                                sentinel::QUORUM
                            );
                        }
                        (replicas, Some(Rc::new(sentinels)))
                    }
                    None => (Vec::new(), None),
                };
                (
                    process.url(),
                    SPRING_NAMESPACE.to_string(),
                    Some(Rc::new(RefCell::new(process))),
                    replicas,
                    sentinels,
                )
            }
            (None, Some(url)) => {
                let namespace = format!("lbsim:{run_tag:016x}:{index}:{SPRING_NAMESPACE}");
                (url.clone(), namespace, None, Vec::new(), None)
            }
            (None, None) => unreachable!("either a binary or a URL"),
        };
        let store = SpringSessionStore::connect(
            &url,
            scenario.servers.count,
            namespace,
            ttl_wall,
            run_tag ^ index as u64,
        )
        .await
        .map_err(|e| {
            LiveError::Failed(crate::live::auth::scrub(
                &format!("cannot connect to {}: {e}", crate::live::auth::redact(&url)),
                &[&url],
            ))
        })?;
        store.pipeline_saves(redis.pipeline);
        if let Some(replication) = &redis.replication
            && replication.wait_for_replicas > 0
            && process.is_some()
        {
            let timeout = Duration::from_secs_f64(replication.wait_timeout.as_secs_f64());
            store.wait_for_replicas(replication.wait_for_replicas, timeout);
        }
        targets.push(Target {
            index,
            store: Rc::new(store),
            process,
            replicas,
            sentinels,
            cluster: None,
        });
    }
    Ok(())
}

/// The flags of every node of a strategy: persistence, and the real
/// `min-replicas-to-write` on every node (a promoted replica keeps
/// enforcing it). Redis counts the lag in whole seconds, so a compressed
/// `min-replicas-max-lag` is never below 1 s.
fn node_args(redis: &RedisConfig, time_scale: f64) -> Vec<String> {
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
    binary: &std::path::Path,
    redis: &RedisConfig,
    time_scale: f64,
    primary: &RedisProcess,
    name: &str,
) -> Result<Vec<Rc<RefCell<RedisProcess>>>, LiveError> {
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
            .map_err(|e| LiveError::Failed(format!("cannot start a replica: {e}")))?;
        crate::say!(
            "live: started redis-server pid {} on port {} as replica of port {} for `{name}`",
            replica.pid().unwrap_or(0),
            replica.port(),
            primary.port(),
        );
        replicas.push(Rc::new(RefCell::new(replica)));
    }
    Ok(replicas)
}
