//! Session stores: where a server finds the session a request names.
//!
//! A store answers the two operations of the request lifecycle (create a
//! session at login, look one up and refresh it on every other request)
//! in simulated-time order and synchronously; the live driver answers the
//! same operations by asking a real Redis. A store also takes the faults
//! aimed at it ([`StoreFault`], handed over by the fault plan: an app
//! server's memory lost, the store's own server stopped or started, a
//! replica promoted) and reports which live sessions a fault destroyed.
//!
//! Network faults between the app servers and the store (a partition, a
//! slow link) are not the store's business: the lifecycle's store link
//! (`sim::link`) answers for it.
//!
//! # Adding a store
//! Write one file with a type implementing [`SessionStore`], add a variant
//! to [`Store`] (and its line in `dispatch!`) and to [`StoreConfig`]
//! (`config.rs`) with its settings and its arm in [`StoreConfig::build`];
//! then the name in `scenario/validate/strategies.rs`.

mod cluster;
mod config;
mod cookie;
mod local;
mod redis;
pub mod slot;
pub mod spring;

pub use self::redis::{
    AppendFsync, DiskPreset, Persistence, RedisConfig, RedisStore, Replication, SavePoint,
    old_primary_back, rejoin_delay,
};
pub use cluster::ClusterStore;
pub use config::{StoreConfig, StoreSettings};
pub use cookie::CookieStore;
pub use local::{LocalStore, Sweeps};

use super::time::{SimDuration, SimTime};
use super::{ServerId, SessionId, UserId};

/// What a store says about a session a request names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The session exists and has not expired; its last access is now (or,
    /// for a creation, the session was stored).
    Found,
    /// No such session here (never created here, destroyed, or expired).
    Missing,
    /// The store cannot be reached: no connection (Redis down, the network
    /// cut).
    Unavailable,
    /// The store answered with an error: connected, but it refuses
    /// (`-LOADING`, `-CLUSTERDOWN`, `-NOREPLICAS`, a `WAIT` that timed
    /// out); or it did not answer within the client's response timeout
    /// (commands queued behind `WAIT`s on a shared connection).
    Refused,
    /// The session was found, but had vanished when the request saved it:
    /// Spring Session's `save` checks that the key still exists and throws
    /// "Session was invalidated", a 500 for the user. Only a real Redis
    /// answers it (live mode): the model answers all of a request's
    /// commands at one instant, so nothing can come between them; the
    /// window is one round trip.
    Invalidated,
}

impl Lookup {
    /// True if the store could not serve the request (no connection, or
    /// an error).
    pub fn failed(self) -> bool {
        matches!(self, Lookup::Unavailable | Lookup::Refused)
    }
}

/// A store's answer to one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    pub lookup: Lookup,
    /// How long the store held the reply back beyond its round trip (a
    /// write waiting for a replica); the lifecycle adds it to the request's
    /// latency. Part of the reply so that no caller can forget it.
    pub waited: SimDuration,
}

impl Reply {
    pub const FOUND: Reply = Reply {
        lookup: Lookup::Found,
        waited: SimDuration::ZERO,
    };
    pub const MISSING: Reply = Reply {
        lookup: Lookup::Missing,
        waited: SimDuration::ZERO,
    };
    pub const UNAVAILABLE: Reply = Reply {
        lookup: Lookup::Unavailable,
        waited: SimDuration::ZERO,
    };
    pub const REFUSED: Reply = Reply {
        lookup: Lookup::Refused,
        waited: SimDuration::ZERO,
    };
}

/// How the store's own server goes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartMode {
    /// The redis-server process dies (SIGKILL, OOM killer, segfault). The
    /// operating system survives, so whatever Redis had already handed to the
    /// kernel with write(2) reaches the disk even if it was never fsynced.
    Crash,
    /// The whole host dies (power loss, kernel panic, VM gone): everything not
    /// yet fsynced is lost. This is where `appendfsync` matters.
    HostCrash,
    /// `SHUTDOWN`: Redis saves (RDB) or fsyncs (AOF) before exiting, if
    /// persistence is on.
    Graceful,
}

impl RestartMode {
    pub fn name(self) -> &'static str {
        match self {
            RestartMode::Crash => "crash",
            RestartMode::HostCrash => "host_crash",
            RestartMode::Graceful => "graceful",
        }
    }
}

/// A fault aimed at the store, as the fault plan hands it over. `shard`
/// names one primary of a sharded store and wraps around; a store with one
/// server ignores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreFault {
    /// `server` crashed or left the farm: what it held in its own memory is
    /// gone.
    ServerMemoryLost(ServerId),
    /// A new, empty server joined the farm (server ids grow by one).
    ServerAdded(ServerId),
    /// The store's server stops the way `mode` says and keeps what its
    /// persistence kept; it answers nothing until [`StoreFault::Start`].
    Stop { shard: u32, mode: RestartMode },
    /// The primary stops the way `mode` says and a replica will be
    /// promoted: nothing is lost yet, but nothing answers until
    /// [`StoreFault::Promote`]. A graceful `SHUTDOWN` first lets the
    /// replicas catch up. The old primary restarts `downtime` later (at
    /// the earliest just after the promotion, [`old_primary_back`]).
    LosePrimary {
        shard: u32,
        mode: RestartMode,
        downtime: SimDuration,
    },
    /// A replica is promoted and answers at once; the writes it had not
    /// received are lost.
    Promote { shard: u32 },
    /// The stopped process runs again: it loads what it kept (answering
    /// `LOADING` meanwhile), or, with `rejoin` (a replica took its place),
    /// comes back as a replica of the promoted one. The fault plan decides
    /// which, not the store.
    Start { shard: u32, rejoin: bool },
}

/// What a store did with a [`StoreFault`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultReply {
    /// The store has no such part (no separate server, no replica):
    /// nothing happened.
    NotApplicable,
    /// The server was already down (an overlapping fault): nothing changed.
    AlreadyDown,
    /// Done.
    Done,
    /// Started; answers from this time on, once loaded.
    Ready(SimTime),
    /// Started, and rejoined as a replica of the promoted one.
    Rejoined,
    /// Done; besides the sessions named to `lost`, this many sessions that
    /// no user could present any more (orphans) were destroyed, counted
    /// rather than named (`local`).
    Orphans(u64),
}

/// Calls back once per live session a fault destroyed, with its owner.
pub type LostSessions<'a> = &'a mut dyn FnMut(UserId, SessionId);

/// A session store, as one simulation sees it.
///
/// Expiry is sliding: a session whose last access is `ttl` or more in the
/// past no longer exists, whether or not the store has swept it yet.
pub trait SessionStore {
    /// Stores a new session created by `server` at login: `Found` when
    /// stored, `Unavailable` when the store cannot be reached.
    fn create(
        &mut self,
        now: SimTime,
        server: ServerId,
        session: SessionId,
        owner: UserId,
    ) -> Reply;

    /// Looks up a session for a request handled by `server`; if found, its
    /// last access becomes `now` (Spring Session and servlet containers
    /// refresh `lastAccessedTime` on every request).
    fn access(
        &mut self,
        now: SimTime,
        server: ServerId,
        session: SessionId,
        owner: UserId,
    ) -> Reply;

    /// Takes a fault aimed at the store; `lost` hears of every live session
    /// it destroyed.
    fn fault(&mut self, now: SimTime, fault: StoreFault, lost: LostSessions<'_>) -> FaultReply;

    /// How often [`SessionStore::tick`] must run (fsyncs, snapshots), if at all.
    fn tick_interval(&self) -> Option<SimDuration>;

    /// Periodic background work at `now`.
    fn tick(&mut self, now: SimTime);

    /// Drops expired sessions and returns how many remain. Expiry already
    /// hides expired sessions from `access`; sweeping frees memory. The
    /// engine sweeps at every report instant and at the end; `local`
    /// counts an app server's expired orphans as held until the sweep, as
    /// a servlet container does (`local.rs`).
    fn sweep_expired(&mut self, now: SimTime) -> u64;

    /// True if a client connecting at `now` gets a connection (a client
    /// that lost its connection tries again; `sim::client`). A store in
    /// the app's own memory is always there.
    fn accepts_connections(&self, _now: SimTime) -> bool {
        true
    }

    /// A hint: `user` is about to make a request, so start fetching what
    /// answering it will read (`sim::cache`). Changes nothing.
    fn prefetch(&self, _user: UserId) {}
}

/// Every store, as one enum: the engine calls a store once or twice per
/// request, and a `match` the compiler can inline costs less than a
/// virtual call through a `Box<dyn SessionStore>`. There is one store per
/// run, so the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Store {
    Local(LocalStore),
    Redis(RedisStore),
    Cluster(ClusterStore),
    Cookie(CookieStore),
}

/// Calls the same method on whichever store `$store` is. Adding a store
/// means adding its variant here.
macro_rules! dispatch {
    ($store:expr, $s:ident => $call:expr) => {
        match $store {
            Store::Local($s) => $call,
            Store::Redis($s) => $call,
            Store::Cluster($s) => $call,
            Store::Cookie($s) => $call,
        }
    };
}

impl SessionStore for Store {
    #[inline]
    fn create(
        &mut self,
        now: SimTime,
        server: ServerId,
        session: SessionId,
        owner: UserId,
    ) -> Reply {
        dispatch!(self, s => s.create(now, server, session, owner))
    }

    #[inline]
    fn access(
        &mut self,
        now: SimTime,
        server: ServerId,
        session: SessionId,
        owner: UserId,
    ) -> Reply {
        dispatch!(self, s => s.access(now, server, session, owner))
    }

    fn fault(&mut self, now: SimTime, fault: StoreFault, lost: LostSessions<'_>) -> FaultReply {
        dispatch!(self, s => s.fault(now, fault, lost))
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        dispatch!(self, s => s.tick_interval())
    }

    fn tick(&mut self, now: SimTime) {
        dispatch!(self, s => s.tick(now))
    }

    fn sweep_expired(&mut self, now: SimTime) -> u64 {
        dispatch!(self, s => s.sweep_expired(now))
    }

    fn accepts_connections(&self, now: SimTime) -> bool {
        dispatch!(self, s => s.accepts_connections(now))
    }

    #[inline]
    fn prefetch(&self, user: UserId) {
        dispatch!(self, s => s.prefetch(user))
    }
}

/// The most round trips one request makes to the store.
pub const MAX_ROUND_TRIPS: usize = 4;

/// How many round trips each kind of request makes to the store, by how
/// it ends (Spring Session's commands for Redis, `spring`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundTrips {
    /// A login: the session written.
    pub login: u8,
    /// A page request whose session was found: read, then saved.
    pub page: u8,
    /// A page request whose session was not found (nothing to save), or
    /// any request whose first command failed.
    pub missing: u8,
    /// A page request whose session vanished before the save: the read and
    /// the existence check.
    pub invalidated: u8,
}

impl RoundTrips {
    /// The round trips drawn for a request of each kind: a page request
    /// draws enough for its worst path, a lookup that finds nothing
    /// followed by a new session written (a fallback's re-creation).
    pub fn drawn(&self, login: bool) -> u8 {
        if login {
            self.login
        } else {
            self.page.max(self.missing + self.login)
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
