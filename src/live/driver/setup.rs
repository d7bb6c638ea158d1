//! Starting what a live run needs: one redis-server (with a replica, or a
//! whole Redis Cluster) per strategy, or connections to the user's Redis
//! under a private key prefix.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::{Plan, Target};
use crate::live::LiveError;
use crate::live::cluster::RedisCluster;
use crate::live::redis_process::{RedisArgs, RedisProcess};
use crate::live::replicas::{node_args, start_replication};
use crate::live::spring_session::{SPRING_NAMESPACE, SpringSessionStore};
use crate::sim::store::StoreConfig;

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
                let (replicas, sentinels) =
                    start_replication(binary, redis, plan.time_scale, &process, name, "live")
                        .map_err(LiveError::Failed)?;
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
