//! Session stores: where a server finds the session a request names.
//!
//! The engine calls a store in simulated-time order and the store answers
//! synchronously; the live driver answers the same questions by asking a
//! real Redis. Stores also take the faults that concern them (a server crash
//! empties that server's memory; a Redis restart keeps whatever its
//! persistence policy kept) and report which live sessions were destroyed.
//!
//! # Adding a store
//! Write one file implementing [`SessionStore`], add a variant to
//! [`StoreConfig`] with its settings, and one arm to [`StoreConfig::build`].

mod cluster;
mod cookie;
mod local;
mod redis;
pub mod slot;

pub use self::redis::{AppendFsync, Persistence, RedisConfig, RedisStore, Replication, SavePoint};
pub use cookie::CookieStore;
pub use local::LocalStore;

use super::config::RestartMode;
use super::dist::Dist;
use super::time::{SimDuration, SimTime};
use super::{ServerId, SessionId, UserId};

/// What a store says about a session a request names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The session exists and has not expired; its last access is now.
    Found,
    /// No such session here (never created here, destroyed, or expired).
    Missing,
    /// The store cannot be reached (Redis down or still loading).
    Unavailable,
}

/// What a Redis stop did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Redis stopped; it must be started again.
    Stopped,
    /// Redis was already down (an overlapping fault): nothing changed, and
    /// the restart already scheduled stands.
    AlreadyDown,
    /// This store has no Redis.
    NoRedis,
}

/// The store could not be reached, so nothing was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unavailable;

/// Calls back once per live session a fault destroyed, with its owner.
pub type LostSessions<'a> = &'a mut dyn FnMut(UserId, SessionId);

/// A session store, as one simulation sees it.
///
/// Expiry is sliding: a session whose last access is `ttl` or more in the
/// past no longer exists, whether or not the store has swept it yet.
pub trait SessionStore: Send {
    /// Stores a new session created by `server` at login.
    fn create(
        &mut self,
        now: SimTime,
        server: ServerId,
        session: SessionId,
        owner: UserId,
    ) -> Result<(), Unavailable>;

    /// Looks up a session for a request handled by `server`; if found, its
    /// last access becomes `now` (Spring Session and servlet containers
    /// refresh `lastAccessedTime` on every request).
    fn access(&mut self, now: SimTime, server: ServerId, session: SessionId) -> Lookup;

    /// `server` crashed or was retired: sessions in its own memory are gone.
    fn server_memory_lost(&mut self, now: SimTime, server: ServerId, lost: LostSessions<'_>);

    /// A new, empty server joined the farm (ids grow by one each time).
    fn server_added(&mut self, server: ServerId);

    /// Redis stops (`mode`).
    fn redis_stopped(&mut self, now: SimTime, mode: RestartMode, lost: LostSessions<'_>) -> Stop;

    /// How long the last `create`/`access` waited for replicas before
    /// answering (synchronous replication), added to that request's
    /// latency; zero otherwise. Reading it resets it.
    fn take_write_wait(&mut self) -> SimDuration {
        SimDuration::ZERO
    }

    /// Aims the Redis fault calls that follow at one shard of a cluster;
    /// a store that is not a cluster ignores it.
    fn select_shard(&mut self, _shard: u32) {}

    /// With replicas, Sentinel's `(down_after, failover_delay)`; `None` for
    /// a lone primary or no Redis.
    fn failover_after(&self) -> Option<(SimDuration, SimDuration)> {
        None
    }

    /// The primary died and will not be back before Sentinel notices:
    /// Redis is unavailable until [`SessionStore::failover`]. Returns false
    /// if Redis was already down.
    fn primary_lost(&mut self, _now: SimTime) -> bool {
        false
    }

    /// Sentinel promotes a replica; the writes it had not received are
    /// lost. Returns false if there was nothing to fail over.
    fn failover(&mut self, _now: SimTime, _lost: LostSessions<'_>) -> bool {
        false
    }

    /// After a failover, the old primary restarted and is a replica again.
    /// Returns false if no replica was missing.
    fn replica_rejoined(&mut self) -> bool {
        false
    }

    /// The app servers cannot reach Redis until `until` (a network
    /// partition): operations fail, Redis loses nothing. Returns false if
    /// this store has no Redis.
    fn redis_partitioned(&mut self, now: SimTime, until: SimTime) -> bool;

    /// Redis starts again; returns when it will have loaded its data and
    /// answer commands, or `None` if this store has no Redis.
    fn redis_started(&mut self, now: SimTime) -> Option<SimTime>;

    /// How often [`SessionStore::tick`] must run (fsyncs, snapshots), if at all.
    fn tick_interval(&self) -> Option<SimDuration>;

    /// Periodic background work at `now`.
    fn tick(&mut self, now: SimTime);

    /// Drops expired sessions and returns how many live ones remain.
    /// Expiry already hides expired sessions from `access`; sweeping only
    /// frees memory, so how often it runs never changes a result.
    fn sweep_expired(&mut self, now: SimTime) -> u64;
}

/// Where a strategy keeps sessions, with that store's settings.
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

impl StoreConfig {
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
                format!("{what} ({}{replicas})", redis.persistence.describe())
            }
            StoreConfig::Cookie { .. } => "cookie (signed, stateless)".into(),
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

    /// A fresh, empty store for one run.
    pub fn build(&self, ttl: SimDuration, servers: u32, seed: u64) -> Box<dyn SessionStore> {
        match self {
            StoreConfig::Local { .. } => Box::new(LocalStore::new(ttl, servers)),
            StoreConfig::Redis(redis) if redis.shards > 1 => {
                let shards = (0..redis.shards)
                    .map(|i| {
                        // In a cluster, the replica takes over once the
                        // cluster has declared its primary failed.
                        let mut shard = redis.clone();
                        if let Some(replication) = &mut shard.replication {
                            replication.down_after = redis.node_timeout;
                            replication.failover_delay = SimDuration::from_secs(1);
                        }
                        RedisStore::new(ttl, shard, seed ^ (u64::from(i) << 48))
                    })
                    .collect();
                Box::new(cluster::ClusterStore::new(shards, redis.node_timeout))
            }
            StoreConfig::Redis(redis) => Box::new(RedisStore::new(ttl, redis.clone(), seed)),
            StoreConfig::Cookie { .. } => Box::new(CookieStore::new(ttl)),
        }
    }
}

/// True if a session last accessed at `last_access` has expired at `now`.
/// Shared so that every store and the request classifier agree on the edge:
/// at exactly `last_access + ttl` the session is gone, as with a Redis key
/// whose TTL has reached zero.
pub fn is_expired(last_access: SimTime, ttl: SimDuration, now: SimTime) -> bool {
    now >= last_access + ttl
}
