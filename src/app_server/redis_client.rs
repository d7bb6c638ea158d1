//! How an app server reaches its Redis, from its environment (never the
//! command line, which other accounts can read in `/proc`; the URLs hold
//! the password): one server's URL, or the Sentinels that name the
//! primary, or the nodes of a Redis Cluster. These are the three ways a
//! Spring Boot app is pointed at Redis (`spring.data.redis.url`,
//! `spring.data.redis.sentinel.nodes`, `spring.data.redis.cluster.nodes`).

use std::rc::Rc;
use std::time::Duration;

use crate::live::sentinel;
use crate::live::spring_session::SpringSessionStore;

/// One Redis server's URL.
pub const REDIS_URL_ENV: &str = "LBSIM_APP_REDIS_URL";
/// The Sentinels' URLs, separated by spaces.
pub const REDIS_SENTINELS_ENV: &str = "LBSIM_APP_REDIS_SENTINELS";
/// The cluster nodes' URLs, separated by spaces.
pub const REDIS_CLUSTER_ENV: &str = "LBSIM_APP_REDIS_CLUSTER";

/// Where an app server's Redis is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisAddress {
    /// One server (or the relay in front of it).
    Single(String),
    /// Sentinels that name the primary; the app follows their answer.
    Sentinels(Vec<String>),
    /// A Redis Cluster's nodes; the client follows its slot map.
    Cluster(Vec<String>),
}

impl RedisAddress {
    /// The environment variable and value that carry it.
    pub fn env(&self) -> (&'static str, String) {
        match self {
            RedisAddress::Single(url) => (REDIS_URL_ENV, url.clone()),
            RedisAddress::Sentinels(urls) => (REDIS_SENTINELS_ENV, urls.join(" ")),
            RedisAddress::Cluster(urls) => (REDIS_CLUSTER_ENV, urls.join(" ")),
        }
    }

    /// Every variable [`RedisAddress::env`] may set, to clear them first.
    pub const ALL_ENV: [&'static str; 3] = [REDIS_URL_ENV, REDIS_SENTINELS_ENV, REDIS_CLUSTER_ENV];

    /// The address in this process's environment, if any.
    pub fn from_env() -> Option<RedisAddress> {
        let urls = |name| {
            std::env::var(name)
                .ok()
                .map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                .filter(|v| !v.is_empty())
        };
        if let Some(nodes) = urls(REDIS_CLUSTER_ENV) {
            return Some(RedisAddress::Cluster(nodes));
        }
        if let Some(sentinels) = urls(REDIS_SENTINELS_ENV) {
            return Some(RedisAddress::Sentinels(sentinels));
        }
        std::env::var(REDIS_URL_ENV).ok().map(RedisAddress::Single)
    }

    /// Every URL in it, to scrub from messages.
    pub fn urls(&self) -> Vec<String> {
        match self {
            RedisAddress::Single(url) => vec![url.clone()],
            RedisAddress::Sentinels(urls) | RedisAddress::Cluster(urls) => urls.clone(),
        }
    }
}

/// How long an app server waits for the Sentinels to name a primary when
/// it starts (a restarted app server may start in a failover).
const FIND_PRIMARY_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects the app server's session store to `address`. Behind
/// Sentinels, a task keeps the connection on the primary they name
/// (`sentinel::follow_primary`) for as long as the app runs.
pub async fn connect(
    address: &RedisAddress,
    namespace: String,
    ttl: Duration,
) -> Result<Rc<SpringSessionStore>, String> {
    let store = match address {
        RedisAddress::Single(url) => SpringSessionStore::connect(url, 1, namespace, ttl, 0)
            .await
            .map_err(|e| e.to_string())?,
        RedisAddress::Cluster(nodes) => {
            SpringSessionStore::connect_cluster(nodes.clone(), namespace, ttl, 0)
                .await
                .map_err(|e| e.to_string())?
        }
        RedisAddress::Sentinels(sentinels) => {
            let deadline = tokio::time::Instant::now() + FIND_PRIMARY_TIMEOUT;
            let port = loop {
                if let Some(port) = sentinel::master_port_async(sentinels).await {
                    break port;
                }
                if tokio::time::Instant::now() > deadline {
                    return Err("no Sentinel named a primary".into());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            let url = sentinel::url_on_port(&sentinels[0], port);
            SpringSessionStore::connect(&url, 1, namespace, ttl, 0)
                .await
                .map_err(|e| e.to_string())?
        }
    };
    let store = Rc::new(store);
    if let RedisAddress::Sentinels(sentinels) = address {
        tokio::task::spawn_local(sentinel::follow_primary(store.clone(), sentinels.clone()));
    }
    Ok(store)
}
