//! What a strategy's store is, with its settings: the scenario's side of a
//! store, from which each run builds a fresh one.

use super::redis::{AppendFsync, Persistence, RedisConfig, RedisStore};
use super::{ClusterStore, CookieStore, LocalStore, RoundTrips, Store, Sweeps, cluster, spring};
use crate::sim::dist::Dist;
use crate::sim::time::SimDuration;

/// Where a strategy keeps sessions, with that store's settings.
// One per strategy, read once when a run starts: its size costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum StoreConfig {
    /// Each app server's own memory (Tomcat's `StandardManager`, Express's
    /// `MemoryStore`): a session exists only on the server that created it.
    Local { latency: Dist },
    /// One central Redis shared by all servers.
    Redis(RedisConfig),
    /// Stateless signed cookies: the session lives in the browser.
    Cookie { latency: Dist },
}

/// A store's settings as `summary.csv`'s columns have them: empty (or 0)
/// where a setting does not apply to the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreSettings {
    /// `none`, `aof` or `rdb` for Redis; empty for other stores.
    pub persistence: &'static str,
    /// `always`, `everysec` or `no` with AOF; empty otherwise.
    pub appendfsync: &'static str,
    /// Replicas (per shard in a cluster).
    pub replicas: u32,
    /// Primaries: 1 for a lone Redis, more for a cluster; 0 without Redis.
    pub shards: u32,
}

impl StoreConfig {
    /// The settings, one field per setting (`summary.csv`).
    pub fn settings(&self) -> StoreSettings {
        let StoreConfig::Redis(redis) = self else {
            return StoreSettings::default();
        };
        let (persistence, appendfsync) = match &redis.persistence {
            Persistence::None => ("none", ""),
            Persistence::Aof(AppendFsync::Always) => ("aof", "always"),
            Persistence::Aof(AppendFsync::EverySec) => ("aof", "everysec"),
            Persistence::Aof(AppendFsync::No) => ("aof", "no"),
            Persistence::Rdb(_) => ("rdb", ""),
        };
        StoreSettings {
            persistence,
            appendfsync,
            replicas: redis.replication.as_ref().map_or(0, |r| r.replicas),
            shards: redis.shards.max(1),
        }
    }

    /// The name used in scenario files and in `summary.csv`.
    pub fn name(&self) -> &'static str {
        match self {
            StoreConfig::Local { .. } => "local",
            StoreConfig::Redis(_) => "redis",
            StoreConfig::Cookie { .. } => "cookie",
        }
    }

    /// The store and its settings in words, e.g. `redis (aof everysec)`.
    pub fn describe(&self) -> String {
        match self {
            StoreConfig::Local { .. } => "local (app-server memory)".into(),
            StoreConfig::Redis(redis) => {
                let replicas = match &redis.replication {
                    Some(r) if redis.shards > 1 => format!(", {} replica(s) per shard", r.replicas),
                    Some(r) => format!(", {} replica(s), Sentinel", r.replicas),
                    None => String::new(),
                };
                let what = if redis.shards > 1 {
                    format!("redis cluster of {} shards", redis.shards)
                } else {
                    "redis".to_string()
                };
                let client = match redis.client {
                    crate::sim::client::ClientPolicy::FailFast => "",
                    crate::sim::client::ClientPolicy::Lettuce { .. } => ", lettuce client",
                };
                format!(
                    "{what} ({}{replicas}{client})",
                    redis.persistence.describe()
                )
            }
            StoreConfig::Cookie { .. } => "cookie (signed, stateless)".into(),
        }
    }

    /// Where the store keeps sessions, in words, for the reports.
    pub fn in_words(&self) -> String {
        match self {
            StoreConfig::Local { .. } => {
                "in each app server's own memory: a session exists only on \
                 the server that created it"
                    .to_string()
            }
            StoreConfig::Redis(redis) => {
                let persistence = match &redis.persistence {
                    Persistence::None => "without persistence (a restart empties it)".to_string(),
                    Persistence::Aof(AppendFsync::Always) => {
                        "with an append-only file fsynced after every write".to_string()
                    }
                    Persistence::Aof(AppendFsync::EverySec) => {
                        "with an append-only file fsynced once a second".to_string()
                    }
                    Persistence::Aof(AppendFsync::No) => {
                        "with an append-only file that the operating system flushes when it likes"
                            .to_string()
                    }
                    Persistence::Rdb(_) => format!(
                        "with RDB snapshots ({})",
                        redis.persistence.describe().trim_start_matches("rdb ")
                    ),
                };
                let redis_is = match (&redis.replication, redis.shards) {
                    (None, 1) => "one central Redis shared by all servers".to_string(),
                    (Some(r), 1) => format!(
                        "one central Redis shared by all servers, with {} asynchronous \
                         replica(s) that Sentinel promotes when the primary fails",
                        r.replicas
                    ),
                    (None, shards) => format!(
                        "a Redis Cluster of {shards} primaries, each holding the sessions of \
                         its hash slots, without replicas"
                    ),
                    (Some(r), shards) => format!(
                        "a Redis Cluster of {shards} primaries, each holding the sessions of \
                         its hash slots, with {} replica(s) each that the cluster promotes \
                         by itself",
                        r.replicas
                    ),
                };
                let client = match redis.client {
                    crate::sim::client::ClientPolicy::FailFast => String::new(),
                    crate::sim::client::ClientPolicy::Lettuce { command_timeout } => format!(
                        "; the app's client (Lettuce) holds commands while Redis is away and \
                         gives up on one after {command_timeout}"
                    ),
                };
                format!(
                    "in {redis_is}, {persistence}; a round trip takes {}{client}",
                    redis.latency.in_words()
                )
            }
            StoreConfig::Cookie { .. } => {
                "in a signed cookie in the user's browser: nothing on the \
                 server side to lose, but no way to revoke a session before it expires"
                    .to_string()
            }
        }
    }

    /// The persistence policy in words (`none` for stores without Redis).
    pub fn persistence_name(&self) -> String {
        match self {
            StoreConfig::Redis(redis) => redis.persistence.describe(),
            _ => "none".into(),
        }
    }

    /// Per-operation latency added to each request.
    pub fn latency(&self) -> &Dist {
        match self {
            StoreConfig::Local { latency } => latency,
            StoreConfig::Redis(redis) => &redis.latency,
            StoreConfig::Cookie { latency } => latency,
        }
    }

    /// The round trips of each kind of request: Spring Session's commands
    /// for Redis, one by one, or with the save's commands in one pipeline
    /// when the scenario says `pipeline = true` (then a page request makes
    /// two round trips and a login one); one for a store in the app's own
    /// memory or in a cookie.
    pub fn round_trips(&self) -> RoundTrips {
        match self {
            StoreConfig::Redis(redis) if redis.pipeline => RoundTrips {
                login: 1,
                page: 2,
                missing: 1,
                invalidated: 2,
            },
            StoreConfig::Redis(_) => RoundTrips {
                login: spring::LOGIN_COMMANDS,
                page: spring::PAGE_COMMANDS,
                missing: spring::MISSING_COMMANDS,
                invalidated: spring::INVALIDATED_COMMANDS,
            },
            StoreConfig::Local { .. } | StoreConfig::Cookie { .. } => RoundTrips {
                login: 1,
                page: 1,
                missing: 1,
                invalidated: 1,
            },
        }
    }

    /// What the app's client does while the store cannot be reached; a
    /// store in the app's memory or a cookie is never unreachable.
    pub fn client_policy(&self) -> crate::sim::client::ClientPolicy {
        match self {
            StoreConfig::Redis(redis) => redis.client,
            _ => crate::sim::client::ClientPolicy::FailFast,
        }
    }

    /// True for a Redis Cluster (more than one shard).
    pub fn is_cluster(&self) -> bool {
        matches!(self, StoreConfig::Redis(redis) if redis.shards > 1)
    }

    /// True if the store is a server of its own that the app servers reach
    /// over the network, so that network faults between them apply.
    pub fn is_remote(&self) -> bool {
        matches!(self, StoreConfig::Redis(_))
    }

    /// With replicas, how a dead primary is replaced:
    /// `(down_after, failover_delay)`, the time before the failure is
    /// declared and the time the promotion takes after it. Sentinel's own
    /// settings for a lone primary; for a Redis Cluster, the cluster's
    /// `node_timeout`, then its agreement on `FAIL` and the election
    /// (`sim::store::cluster`). `None` without replicas.
    pub fn failover_timing(&self) -> Option<(SimDuration, SimDuration)> {
        match self {
            StoreConfig::Redis(redis) => redis.replication.as_ref().map(|r| {
                if redis.shards > 1 {
                    let delay = cluster::FAIL_AFTER_TIMEOUT + cluster::CLUSTER_ELECTION;
                    (redis.node_timeout, delay)
                } else {
                    (r.down_after, r.failover_delay)
                }
            }),
            _ => None,
        }
    }

    /// A fresh, empty store for one run.
    /// The store for one run: sessions live `ttl`, on `servers` app
    /// servers, for `users` users; `sweeps` are the instants the engine
    /// sweeps expired sessions.
    pub fn build(
        &self,
        ttl: SimDuration,
        servers: u32,
        users: u32,
        seed: u64,
        sweeps: Sweeps,
    ) -> Store {
        match self {
            StoreConfig::Local { .. } => Store::Local(LocalStore::new(ttl, servers, users, sweeps)),
            StoreConfig::Redis(redis) if redis.shards > 1 => {
                let timing = self.failover_timing();
                let shards = (0..redis.shards)
                    .map(|i| {
                        // In a cluster, the replica takes over once the
                        // cluster has declared its primary failed.
                        let mut shard = redis.clone();
                        if let (Some(replication), Some((down_after, delay))) =
                            (&mut shard.replication, timing)
                        {
                            replication.down_after = down_after;
                            replication.failover_delay = delay;
                        }
                        RedisStore::new(ttl, shard, seed ^ (u64::from(i) << 48)).with_users(users)
                    })
                    .collect();
                Store::Cluster(ClusterStore::new(shards, redis.node_timeout, seed))
            }
            StoreConfig::Redis(redis) => {
                Store::Redis(RedisStore::new(ttl, redis.clone(), seed).with_users(users))
            }
            StoreConfig::Cookie { .. } => Store::Cookie(CookieStore::new(ttl)),
        }
    }
}
