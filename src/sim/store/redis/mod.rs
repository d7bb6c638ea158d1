//! `redis`: one central Redis holding every session, with Redis's own
//! persistence rules deciding what a restart keeps (`persistence`) and,
//! with replicas, what a failover loses (`replication`).
//!
//! This file is the server itself: whether it answers, the session hashes
//! it holds, and how each fault aimed at it changes them. After starting,
//! Redis loads its data set and answers `-LOADING` to commands until done
//! (`loadDataFromDisk` in `server.c` runs before the event loop serves
//! clients); `loading` says how long that takes, `fsync` what the disk
//! costs.

mod connection;
mod fsync;
mod loading;
mod persistence;
mod replication;
mod sessions;

pub use fsync::DiskPreset;
pub use persistence::{AppendFsync, Persistence, SavePoint};
pub use replication::{Replication, old_primary_back, rejoin_delay};

use super::{FaultReply, Lookup, LostSessions, Reply, SessionStore, StoreFault, is_expired};
use crate::sim::dist::Dist;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::{ServerId, SessionId, UserId};
use connection::Connections;
use fsync::Fsyncs;
use persistence::{Disk, Kept};
use replication::Stream;
use sessions::{Entry, Key, Sessions};

use super::spring::{LOGIN_DIRTY, PAGE_DIRTY, WRITE_COMMANDS};

/// Settings of the simulated Redis.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// Round trip of one store operation as the app sees it.
    pub latency: Dist,
    pub persistence: Persistence,
    /// Sessions loaded per second after a restart, if the scenario sets it;
    /// otherwise loading takes what the files hold, at the speed measured
    /// on this machine (`loading`). Redis answers `LOADING` (an error for
    /// the app) until it is done.
    pub loading_rate: Option<f64>,
    /// How long an fsync of the AOF takes on Redis's disk.
    pub fsync_latency: Dist,
    /// Send each request's save commands in one pipeline (one round trip)
    /// instead of one by one, as Spring Session does by default.
    pub pipeline: bool,
    /// Asynchronous replicas with Sentinel failover; `None` = a lone primary.
    pub replication: Option<Replication>,
    /// More than 1: a Redis Cluster with this many primaries.
    pub shards: u32,
    /// `cluster-node-timeout`: how long before a silent shard primary is
    /// declared failed and its replica takes over.
    pub node_timeout: SimDuration,
    /// What the app's Redis client does while Redis cannot be reached.
    pub client: crate::sim::client::ClientPolicy,
}

/// Whether Redis answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Up,
    Down,
    /// Started, answering `-LOADING` until the given time.
    Loading {
        until: SimTime,
    },
}

pub struct RedisStore {
    ttl: SimDuration,
    config: RedisConfig,
    sessions: Sessions,
    state: State,
    /// What the disk has of memory.
    disk: Disk,
    /// The replication stream; only with replication.
    stream: Stream,
    /// When the primary died and for how long, while a failover is
    /// pending.
    primary_lost: Option<(SimTime, SimDuration)>,
    /// The promotion already told the stream when the old primary will be
    /// a replica again: the fault plan's restart time is known then, and
    /// a `WAIT` blocking across that time returns when it is in sync.
    rejoin_known: bool,
    /// Each app server's connection: only `WAIT`s queue on them
    /// (`connection`).
    connections: Connections,
}

impl RedisStore {
    pub fn new(ttl: SimDuration, config: RedisConfig, seed: u64) -> Self {
        let fsyncs = Fsyncs::new(config.fsync_latency.clone(), seed ^ 0x6469_736b);
        let connections = Connections::new(config.client.response_timeout());
        RedisStore {
            ttl,
            config,
            sessions: Sessions::default(),
            state: State::Up,
            disk: Disk::new(fsyncs),
            stream: Stream::new(seed),
            primary_lost: None,
            rejoin_known: false,
            connections,
        }
    }

    /// Makes room for `users` users' sessions up front (on huge pages,
    /// `sim::cache::per_user`), rather than growing the table as users
    /// arrive: a grown table is on small pages, and at a million users a
    /// random lookup then also misses the TLB.
    pub fn with_users(mut self, users: u32) -> Self {
        self.sessions = Sessions::for_users(users);
        self
    }

    /// True if writes are refused because too few replicas are connected.
    fn writes_refused(&self, now: SimTime) -> bool {
        self.config
            .replication
            .as_ref()
            .is_some_and(|r| self.stream.writes_refused(r, now))
    }

    /// Why Redis does not serve commands at `now`, if it does not: down
    /// (the connection is refused) or loading (`-LOADING`).
    fn refusal(&mut self, now: SimTime) -> Option<Reply> {
        match self.state {
            State::Up => None,
            State::Down => Some(Reply::UNAVAILABLE),
            State::Loading { until } if now >= until => {
                self.state = State::Up;
                None
            }
            State::Loading { .. } => Some(Reply::REFUSED),
        }
    }

    /// How many event-loop iterations a request's writes take: Spring's
    /// `HMSET` and `PEXPIREAT` one by one, or both in one pipeline.
    fn write_commands(&self) -> u8 {
        if self.config.pipeline {
            1
        } else {
            WRITE_COMMANDS
        }
    }

    /// When the commands of a request `server` sends at `now` run: at
    /// once, unless `WAIT`s hold its connection. `Err` if they hold it
    /// longer than the client waits for a reply: the request fails then.
    fn runs_at(&mut self, now: SimTime, server: ServerId) -> Result<SimTime, Reply> {
        if self
            .config
            .replication
            .as_ref()
            .is_none_or(|r| r.wait_for_replicas == 0)
        {
            return Ok(now);
        }
        self.connections.runs_at(now, server)
    }

    /// Records a write of session `key` that `server` sent at `now` and
    /// Redis ran at `runs` (`previous`: its `lastAccessedTime` before,
    /// `None` for a creation): memory changes at once, the disk and the
    /// replica catch up later. Returns the reply: found, after any wait
    /// for the disk (`appendfsync always`) and for the connection, and any
    /// `WAIT`; or refused after `WAIT`'s timeout, or the client's.
    fn wrote(
        &mut self,
        now: SimTime,
        runs: SimTime,
        server: ServerId,
        key: Key,
        previous: Option<SimTime>,
    ) -> Reply {
        let dirty = if previous.is_none() {
            LOGIN_DIRTY
        } else {
            PAGE_DIRTY
        };
        let disk_wait = self.disk.wrote(
            &self.config.persistence,
            now,
            key,
            dirty,
            self.write_commands(),
        );
        if matches!(self.config.persistence, Persistence::Aof(_)) {
            let live = self.sessions.len() as u64;
            match previous {
                None => self.disk.aof.login(live),
                Some(_) => self.disk.aof.page(live),
            }
        }
        let queued = runs.since(now);
        let Some(replication) = &self.config.replication else {
            return Reply {
                lookup: Lookup::Found,
                waited: disk_wait + queued,
            };
        };
        let connection = self.connections.of(server);
        let reply = match self
            .stream
            .ship(replication, now, runs, connection, key, previous)
        {
            Some(answer) => self.connections.reply(now, runs, answer),
            None => Reply {
                lookup: Lookup::Found,
                waited: queued,
            },
        };
        Reply {
            waited: disk_wait + reply.waited,
            ..reply
        }
    }

    /// Redis stops the way `mode` says; what survives is what its
    /// persistence kept.
    fn stop(
        &mut self,
        now: SimTime,
        mode: super::RestartMode,
        lost: LostSessions<'_>,
    ) -> FaultReply {
        if self.state == State::Down {
            return FaultReply::AlreadyDown;
        }
        let ttl = self.ttl;
        let mut kept = self.config.persistence.kept_by(mode);
        match mode {
            // What a finished background fsync made durable is on disk; a
            // process crash keeps what was written to the page cache, which
            // is everything unless `everysec` had postponed the write.
            super::RestartMode::HostCrash => {
                if let Some(bound) = self.disk.settle(now) {
                    self.disk
                        .apply_synced(&self.config.persistence, &mut self.sessions, bound);
                }
            }
            super::RestartMode::Crash => {
                if let Some(from) = self.disk.postponed_from(now) {
                    self.disk
                        .apply_synced(&self.config.persistence, &mut self.sessions, from);
                    kept = Kept::OnlyDisk;
                }
            }
            super::RestartMode::Graceful => {}
        }
        match kept {
            Kept::Everything => {}
            Kept::Nothing => self.sessions.retain(|key, entry| {
                if !is_expired(entry.last_access, ttl, now) {
                    lost(key.owner, key.session);
                }
                false
            }),
            Kept::OnlyDisk => self.sessions.retain(|key, entry| {
                let was_alive = !is_expired(entry.last_access, ttl, now);
                match entry.on_disk.filter(|&t| !is_expired(t, ttl, now)) {
                    Some(t) => {
                        // An older lastAccessedTime comes back: still alive,
                        // but it will expire sooner than the user expects.
                        entry.last_access = t;
                        true
                    }
                    None => {
                        if was_alive {
                            lost(key.owner, key.session);
                        }
                        false
                    }
                }
            }),
        }
        // Whatever survived is exactly what is on disk now.
        for entry in self.sessions.values_mut() {
            entry.last_write = entry.last_access;
            entry.on_disk = Some(entry.last_access);
        }
        self.disk.all_synced();
        self.state = State::Down;
        self.connections.closed();
        FaultReply::Done
    }

    /// The primary stops and a replica will take over: Redis is
    /// unavailable until the promotion. A graceful `SHUTDOWN` waits for the
    /// replicas to catch up before exiting (`prepareForShutdown` and
    /// `isReadyToShutdown` in Redis 7's `server.c`, up to
    /// `shutdown-timeout`, 10 s, far more than any lag here), so the replica
    /// then has every write and the promotion loses none.
    fn lose_primary(
        &mut self,
        now: SimTime,
        mode: super::RestartMode,
        downtime: SimDuration,
    ) -> FaultReply {
        if self.config.replication.is_none() {
            return FaultReply::NotApplicable;
        }
        if self.state == State::Down {
            return FaultReply::AlreadyDown;
        }
        self.state = State::Down;
        if mode == super::RestartMode::Graceful {
            self.stream.caught_up();
        }
        self.primary_lost = Some((now, downtime));
        self.connections.closed();
        FaultReply::Done
    }

    /// A replica is promoted; the writes it had not received are undone,
    /// newest first.
    fn promote(&mut self, now: SimTime, lost: LostSessions<'_>) -> FaultReply {
        let Some((crashed, downtime)) = self.primary_lost.take() else {
            return FaultReply::NotApplicable;
        };
        let connected = self
            .config
            .replication
            .as_ref()
            .map_or(0, |r| self.stream.connected(r, now));
        if connected == 0 {
            // Every replica was promoted already and none has rejoined:
            // nothing to promote, the primary stays down until it restarts.
            self.primary_lost = Some((crashed, downtime));
            return FaultReply::NotApplicable;
        }
        let ttl = self.ttl;
        for write in self.stream.unreplicated(crashed, now) {
            match write.previous {
                None => {
                    if let Some(entry) = self.sessions.remove(write.key)
                        && !is_expired(entry.last_access, ttl, now)
                    {
                        lost(write.key.owner, write.key.session);
                    }
                }
                Some(earlier) => {
                    if let Some(entry) = self.sessions.get_mut(write.key) {
                        entry.last_access = earlier;
                    }
                }
            }
        }
        // A replica holds its data in memory: it answers at once, no loading.
        self.state = State::Up;
        // The promoted replica is a replica no more; the old primary will
        // be one again after it restarts, at a time the fault plan knows.
        self.stream.promoted(now);
        let back = replication::old_primary_back(crashed, downtime, now);
        self.stream.rejoin(
            now,
            back + replication::rejoin_delay(self.config.shards > 1),
        );
        self.rejoin_known = true;
        FaultReply::Done
    }

    /// The stopped process runs again: after a failover (`rejoin`) it
    /// comes back as a replica of the promoted one; otherwise it loads what
    /// it kept.
    fn start(&mut self, now: SimTime, rejoin: bool) -> FaultReply {
        if rejoin {
            if !std::mem::take(&mut self.rejoin_known) {
                self.stream
                    .rejoin(now, now + replication::rejoin_delay(self.config.shards > 1));
            }
            return FaultReply::Rejoined;
        }
        self.rejoin_known = false;
        if self.state != State::Down {
            return FaultReply::NotApplicable;
        }
        // Keys that expired while Redis was down are not loaded (a primary
        // skips expired keys when it reads its RDB), so they cost no time.
        self.sweep_expired(now);
        let loading = match (self.config.loading_rate, &self.config.persistence) {
            (Some(rate), _) => SimDuration::from_nanos_f64(self.sessions.len() as f64 / rate * 1e9),
            (None, Persistence::Aof(_)) => self.disk.aof.loading_time(),
            (None, Persistence::Rdb(_)) => loading::rdb_loading_time(self.sessions.len() as u64),
            (None, Persistence::None) => SimDuration::ZERO,
        };
        let ready = now + loading;
        self.state = State::Loading { until: ready };
        self.disk.loaded(now);
        FaultReply::Ready(ready)
    }
}

impl SessionStore for RedisStore {
    fn create(
        &mut self,
        now: SimTime,
        server: ServerId,
        session: SessionId,
        owner: UserId,
    ) -> Reply {
        if let Some(refusal) = self.refusal(now) {
            return refusal;
        }
        let runs = match self.runs_at(now, server) {
            Ok(runs) => runs,
            Err(timed_out) => return timed_out,
        };
        if self.writes_refused(now) {
            return Reply {
                waited: runs.since(now),
                ..Reply::REFUSED
            };
        }
        let key = Key { session, owner };
        let entry = Entry {
            last_access: now,
            last_write: now,
            on_disk: None,
        };
        self.sessions.insert(key, entry);
        self.wrote(now, runs, server, key, None)
    }

    fn access(
        &mut self,
        now: SimTime,
        server: ServerId,
        session: SessionId,
        owner: UserId,
    ) -> Reply {
        let key = Key { session, owner };
        if let Some(refusal) = self.refusal(now) {
            return refusal;
        }
        let runs = match self.runs_at(now, server) {
            Ok(runs) => runs,
            Err(timed_out) => return timed_out,
        };
        let queued = runs.since(now);
        let missing = Reply {
            lookup: Lookup::Missing,
            waited: self.disk.read_wait(&self.config.persistence, now) + queued,
        };
        let refused = self.writes_refused(now);
        match self.sessions.get_mut(key) {
            // The save that follows the lookup (it refreshes
            // lastAccessedTime) is a write: `-NOREPLICAS` fails the request.
            Some(entry) if !is_expired(entry.last_access, self.ttl, now) && refused => {
                let _ = entry;
                Reply {
                    waited: queued,
                    ..Reply::REFUSED
                }
            }
            Some(entry) if !is_expired(entry.last_access, self.ttl, now) => {
                let previous = entry.last_access;
                entry.last_access = now;
                entry.last_write = now;
                self.wrote(now, runs, server, key, Some(previous))
            }
            // Nothing to save: the lookup alone, which Redis still answers.
            Some(_) => {
                self.sessions.remove(key);
                missing
            }
            None => missing,
        }
    }

    fn fault(&mut self, now: SimTime, fault: StoreFault, lost: LostSessions<'_>) -> FaultReply {
        match fault {
            // Sessions live in Redis, not in the app servers.
            StoreFault::ServerMemoryLost(_) | StoreFault::ServerAdded(_) => {
                FaultReply::NotApplicable
            }
            StoreFault::Stop { mode, .. } => self.stop(now, mode, lost),
            StoreFault::LosePrimary { mode, downtime, .. } => {
                self.lose_primary(now, mode, downtime)
            }
            StoreFault::Promote { .. } => self.promote(now, lost),
            StoreFault::Start { rejoin, .. } => self.start(now, rejoin),
        }
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        self.config.persistence.lag_check()
    }

    fn tick(&mut self, now: SimTime) {
        if self.state != State::Up {
            return;
        }
        if let Some(bound) = self.disk.tick(&self.config.persistence, now) {
            self.disk
                .apply_synced(&self.config.persistence, &mut self.sessions, bound);
        }
    }

    fn sweep_expired(&mut self, now: SimTime) -> u64 {
        let ttl = self.ttl;
        self.sessions
            .retain(|_, entry| !is_expired(entry.last_access, ttl, now));
        self.sessions.len() as u64
    }

    #[inline]
    fn prefetch(&self, user: UserId) {
        self.sessions.prefetch(user);
    }

    /// A stopped primary refuses connections (and, with Sentinel, none is
    /// named until the promotion). A loading one accepts them: the
    /// client's handshake (`HELLO`, flagged `LOADING` in
    /// `src/commands/hello.json`) is allowed while loading, and the
    /// commands that follow get `-LOADING`.
    fn accepts_connections(&self, _now: SimTime) -> bool {
        self.state != State::Down
    }
}

#[cfg(test)]
mod tests;
