//! Starting what a live run needs: one redis-server (with a replica, or a
//! whole Redis Cluster) per strategy, or connections to the user's Redis
//! under a private key prefix.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::{Plan, Target};
use crate::live::cluster::RedisCluster;
use crate::live::redis_process::{RedisArgs, RedisProcess};
use crate::live::spring_session::{SPRING_NAMESPACE, SpringSessionStore};
use crate::live::{LiveError, persistence_args};
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
                &persistence_args(redis, plan.time_scale),
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
                run_tag ^ index as u64,
            )
            .await
            .map_err(|e| LiveError::Failed(format!("cannot connect to the cluster: {e}")))?;
            targets.push(Target {
                index,
                store: Rc::new(store),
                process: None,
                replica: None,
                cluster: Some(Rc::new(RefCell::new(cluster))),
            });
            continue;
        }
        let mut replica_process = None;
        let (url, namespace, process) = match (&plan.binary, &plan.url) {
            (Some(binary), _) => {
                let args = RedisArgs {
                    persistence: persistence_args(redis, plan.time_scale),
                };
                let process = RedisProcess::start(binary, args)
                    .map_err(|e| LiveError::Failed(format!("cannot start redis-server: {e}")))?;
                crate::say!(
                    "live: started redis-server pid {} on port {} for `{}`",
                    process.pid().unwrap_or(0),
                    process.port(),
                    scenario.strategies[index].name
                );
                if redis.replication.is_some() {
                    let mut args = persistence_args(redis, plan.time_scale);
                    args.extend([
                        "--replicaof".into(),
                        "127.0.0.1".into(),
                        process.port().to_string(),
                    ]);
                    let replica = RedisProcess::start(binary, RedisArgs { persistence: args })
                        .and_then(|r| r.wait_for_replication(Duration::from_secs(20)).map(|()| r))
                        .map_err(|e| LiveError::Failed(format!("cannot start a replica: {e}")))?;
                    crate::say!(
                        "live: started redis-server pid {} on port {} as replica of port {} for `{}`",
                        replica.pid().unwrap_or(0),
                        replica.port(),
                        process.port(),
                        scenario.strategies[index].name
                    );
                    replica_process = Some(Rc::new(RefCell::new(replica)));
                }
                (
                    process.url(),
                    SPRING_NAMESPACE.to_string(),
                    Some(Rc::new(RefCell::new(process))),
                )
            }
            (None, Some(url)) => {
                let namespace = format!("lbsim:{run_tag:016x}:{index}:{SPRING_NAMESPACE}");
                (url.clone(), namespace, None)
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
        .map_err(|e| LiveError::Failed(format!("cannot connect to {url}: {e}")))?;
        if let Some(replication) = &redis.replication
            && replication.min_replicas_to_write > 0
            && process.is_some()
        {
            store.wait_for_replicas(replication.min_replicas_to_write);
        }
        targets.push(Target {
            index,
            store: Rc::new(store),
            process,
            replica: replica_process,
            cluster: None,
        });
    }
    Ok(())
}
