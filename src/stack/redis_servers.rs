//! The Redis of one stack strategy, started as live mode starts it: a lone
//! redis-server; a primary with replicas and three Sentinels
//! (`live::replicas`); or a Redis Cluster (`live::cluster`). The app
//! servers are pointed at it the way a Spring Boot app is (one URL, the
//! Sentinels, the cluster's nodes: `app_server::RedisAddress`) and find
//! the primary by themselves after a failover, as Lettuce does.
//!
//! lbsim's own connection (which counts sessions) follows the primary
//! the same way; a fault acts on whichever process is the primary when it
//! strikes ([`RedisServers::primary`]).

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use crate::app_server::RedisAddress;
use crate::live::cluster::RedisCluster;
use crate::live::redis_process::{RedisArgs, RedisProcess};
use crate::live::replicas::{node_args, start_replication};
use crate::live::sentinel::{self, SentinelGroup};
use crate::live::spring_session::{SPRING_NAMESPACE, SpringSessionStore};
use crate::sim::store::RedisConfig;

/// A strategy's Redis processes.
pub(crate) enum RedisServers {
    Single(Rc<RefCell<RedisProcess>>),
    /// The first started primary, then its replicas; any may be the
    /// primary now.
    Replicated {
        nodes: Vec<Rc<RefCell<RedisProcess>>>,
        sentinels: Rc<SentinelGroup>,
    },
    Cluster(Rc<RefCell<RedisCluster>>),
}

/// One process of a strategy's Redis.
#[derive(Clone)]
pub(crate) enum RedisNode {
    Process(Rc<RefCell<RedisProcess>>),
    /// Node `index` of a cluster.
    InCluster(Rc<RefCell<RedisCluster>>, usize),
}

impl RedisNode {
    /// Runs `f` on the process.
    pub fn with<T>(&self, f: impl FnOnce(&mut RedisProcess) -> T) -> T {
        match self {
            RedisNode::Process(p) => f(&mut p.borrow_mut()),
            RedisNode::InCluster(c, i) => f(&mut c.borrow_mut().nodes[*i]),
        }
    }
}

impl RedisServers {
    /// Starts the servers `redis` describes for strategy `name`.
    pub fn start(
        binary: &Path,
        redis: &RedisConfig,
        time_scale: f64,
        name: &str,
    ) -> Result<RedisServers, String> {
        if redis.shards > 1 {
            // Redis counts cluster-node-timeout in milliseconds; below
            // half a second a loaded machine flags healthy nodes.
            let node_timeout_ms =
                ((redis.node_timeout.as_secs_f64() / time_scale) * 1000.0).max(500.0) as u64;
            let cluster = RedisCluster::start(
                binary,
                redis.shards as usize,
                redis.replication.is_some(),
                &node_args(redis, time_scale),
                node_timeout_ms,
            )
            .map_err(|e| format!("cannot start a Redis Cluster: {e}"))?;
            return Ok(RedisServers::Cluster(Rc::new(RefCell::new(cluster))));
        }
        let args = RedisArgs {
            persistence: node_args(redis, time_scale),
            ..RedisArgs::default()
        };
        let primary = RedisProcess::start(binary, args)
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        let (replicas, sentinels) =
            start_replication(binary, redis, time_scale, &primary, name, "stack")?;
        let primary = Rc::new(RefCell::new(primary));
        Ok(match sentinels {
            Some(sentinels) => RedisServers::Replicated {
                nodes: std::iter::once(primary).chain(replicas).collect(),
                sentinels,
            },
            None => RedisServers::Single(primary),
        })
    }

    /// Where the app servers find it.
    pub fn address(&self) -> RedisAddress {
        match self {
            RedisServers::Single(p) => RedisAddress::Single(p.borrow().url()),
            RedisServers::Replicated { sentinels, .. } => RedisAddress::Sentinels(sentinels.urls()),
            RedisServers::Cluster(c) => RedisAddress::Cluster(c.borrow().urls()),
        }
    }

    /// The lone server, the only kind the relay of `redis_link` can stand
    /// in front of.
    pub fn single(&self) -> Option<&Rc<RefCell<RedisProcess>>> {
        match self {
            RedisServers::Single(p) => Some(p),
            _ => None,
        }
    }

    /// lbsim's own connection, to count sessions: it finds the primary as
    /// the app servers do (behind Sentinels, a task on this thread
    /// follows it until the run ends).
    pub async fn counting_store(&self, ttl: Duration) -> Result<SpringSessionStore, String> {
        let namespace = SPRING_NAMESPACE.to_string();
        let store = match self {
            RedisServers::Single(p) => {
                let url = p.borrow().url();
                SpringSessionStore::connect(&url, 1, namespace, ttl, 0).await
            }
            RedisServers::Replicated { nodes, .. } => {
                let url = nodes[0].borrow().url();
                SpringSessionStore::connect(&url, 1, namespace, ttl, 0).await
            }
            RedisServers::Cluster(c) => {
                let urls = c.borrow().urls();
                SpringSessionStore::connect_cluster(urls, namespace, ttl, 0).await
            }
        };
        store.map_err(|e| format!("cannot connect to redis-server: {e}"))
    }

    /// The Sentinels' URLs, when there are Sentinels.
    pub fn sentinel_urls(&self) -> Option<Vec<String>> {
        match self {
            RedisServers::Replicated { sentinels, .. } => Some(sentinels.urls()),
            _ => None,
        }
    }

    /// The process that is the primary (of `shard`, in a cluster) now: the
    /// one the Sentinels name; in a cluster, whichever of the shard's two
    /// nodes says `role:master`. `None` when none can be found (the
    /// shard's primary is down and not yet replaced).
    pub async fn primary(&self, shard: u32) -> Option<RedisNode> {
        match self {
            RedisServers::Single(p) => Some(RedisNode::Process(p.clone())),
            RedisServers::Replicated { nodes, sentinels } => {
                let port = sentinel::master_port_async(&sentinels.urls()).await?;
                nodes
                    .iter()
                    .find(|p| p.borrow().port() == port)
                    .map(|p| RedisNode::Process(p.clone()))
            }
            RedisServers::Cluster(cluster) => {
                let (shards, nodes) = {
                    let c = cluster.borrow();
                    (c.shards, c.nodes.len())
                };
                let first = shard as usize % shards;
                // Primaries first, then each one's replica (`live::cluster`).
                for index in [first, first + shards].into_iter().filter(|&i| i < nodes) {
                    let url = cluster.borrow().nodes[index].url();
                    if says_primary(&url).await {
                        return Some(RedisNode::InCluster(cluster.clone(), index));
                    }
                }
                None
            }
        }
    }
}

/// Whether the server at `url` answers `role:master` to `INFO
/// replication` (within a second).
async fn says_primary(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let asked = async {
        let mut connection = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("INFO")
            .arg("replication")
            .query_async::<String>(&mut connection)
            .await
            .ok()
    };
    match tokio::time::timeout(Duration::from_secs(1), asked).await {
        Ok(Some(info)) => info.lines().any(|l| l.trim() == "role:master"),
        _ => false,
    }
}
