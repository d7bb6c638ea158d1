//! `redis`: one central Redis holding every session, with Redis's own
//! persistence rules deciding what a restart keeps.
//!
//! What Redis keeps depends on the persistence policy and on *how* it went
//! down. The model follows Redis 7's source (`aof.c`, `rdb.c`, `server.c`):
//!
//! - **AOF** (`appendonly yes`). Before Redis replies to a write it appends
//!   the command to the AOF with write(2) (`flushAppendOnlyFile` runs in
//!   `beforeSleep`, before pending replies are sent). With
//!   `appendfsync always` it also fsyncs before replying; with `everysec` a
//!   background thread fsyncs once a second; with `no` it never fsyncs and
//!   leaves it to the kernel, whose flusher wakes every 5 s
//!   (`vm.dirty_writeback_centisecs = 500`) and writes back pages that have
//!   been dirty for more than 30 s (`vm.dirty_expire_centisecs = 3000`).
//!   So a **process crash** (SIGKILL, OOM kill, segfault) loses no
//!   acknowledged write under any `appendfsync`: the data sits in the page
//!   cache and the kernel still writes it out. Only a **host crash** (power
//!   loss, kernel panic) loses what was not on disk: up to ~1 s with
//!   `everysec`, the last 30–35 s with `no`, nothing with `always`.
//!   Simplified: when a background fsync stalls for over 2 s, real Redis
//!   postpones its write(2) and keeps replying, so a process crash can then
//!   lose up to ~2 s of writes; we do not model slow disks.
//! - **RDB** (`save <seconds> <changes>` points). `serverCron` forks a
//!   `BGSAVE` when, for some save point, more than that many seconds have
//!   passed since the last save *and* at least that many writes happened
//!   (Redis checks 10 times a second, we check once per simulated second).
//!   A restart loads the last completed snapshot, so any crash loses every
//!   write since it. Simplified: the snapshot is taken instantly when the
//!   save point fires, where real Redis spends some time writing it (a
//!   crash during that time falls back to the snapshot before).
//! - **None** (`save ""`, `appendonly no`): every restart starts empty.
//! - **SHUTDOWN** (graceful): Redis saves an RDB if save points are set and
//!   fsyncs the AOF if it is on, so it keeps everything, unless persistence
//!   is off, in which case it keeps nothing.
//!
//! After starting, Redis loads its data set and answers `-LOADING` to
//! commands until done; we model loading time as sessions / `loading_rate`.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use super::{Lookup, LostSessions, RestartMode, SessionStore, Stop, Unavailable, is_expired};
use crate::sim::dist::Dist;
use crate::sim::rng::{Purpose, stream};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::{ServerId, SessionId, UserId};

/// Settings of the simulated Redis.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// Round trip of one store operation as the app sees it.
    pub latency: Dist,
    pub persistence: Persistence,
    /// Sessions loaded per second after a restart; Redis answers `LOADING`
    /// (an error for the app) until it is done.
    pub loading_rate: f64,
    /// Asynchronous replicas with Sentinel failover; `None` = a lone primary.
    pub replication: Option<Replication>,
    /// More than 1: a Redis Cluster with this many primaries.
    pub shards: u32,
    /// `cluster-node-timeout`: how long before a silent shard primary is
    /// declared failed and its replica takes over.
    pub node_timeout: SimDuration,
}

/// A primary with asynchronous replicas, watched by Sentinel.
///
/// Redis replication is asynchronous: the primary acknowledges a write and
/// ships it to its replicas afterwards, in order. Sentinel declares a
/// silent primary down after `down-after-milliseconds` (default 30 s),
/// elects a leader and promotes a replica (`failover_delay`). Whatever the
/// replica had not received when the primary died is lost, acknowledged or
/// not. If the primary comes back before `down_after`, there is no
/// failover: it restarts with whatever its own persistence kept.
#[derive(Clone, Debug)]
pub struct Replication {
    /// Number of replicas (at least 1).
    pub replicas: u32,
    /// Delay between a write on the primary and its arrival on the replica.
    pub lag: Dist,
    /// Sentinel's `down-after-milliseconds`.
    pub down_after: SimDuration,
    /// Election and promotion, after `down_after`.
    pub failover_delay: SimDuration,
    /// With 1 or more, every write waits until a replica has it (Redis's
    /// `WAIT`, or `min-replicas-to-write` with a strict lag): no
    /// acknowledged write is lost on failover, and every write pays the
    /// replication lag in latency. 0: asynchronous, Redis's default.
    pub min_replicas_to_write: u32,
}

/// Redis persistence policy.
#[derive(Clone, Debug, PartialEq)]
pub enum Persistence {
    /// Nothing on disk: `save ""` and `appendonly no`.
    None,
    /// Append-only file with the given `appendfsync`.
    Aof(AppendFsync),
    /// RDB snapshots at the given save points.
    Rdb(Vec<SavePoint>),
}

/// When the AOF is fsynced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendFsync {
    Always,
    EverySec,
    No,
}

/// An RDB save point: snapshot when at least `changes` writes happened and
/// more than `after` has passed since the last snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavePoint {
    pub after: SimDuration,
    pub changes: u64,
}

impl SavePoint {
    /// Redis 7's default `save 3600 1 300 100 60 10000`.
    pub fn redis_defaults() -> Vec<SavePoint> {
        [(3600, 1), (300, 100), (60, 10_000)]
            .into_iter()
            .map(|(secs, changes)| SavePoint {
                after: SimDuration::from_secs(secs),
                changes,
            })
            .collect()
    }
}

impl Persistence {
    /// A short description for tables and reports.
    pub fn describe(&self) -> String {
        match self {
            Persistence::None => "none".into(),
            Persistence::Aof(AppendFsync::Always) => "aof always".into(),
            Persistence::Aof(AppendFsync::EverySec) => "aof everysec".into(),
            Persistence::Aof(AppendFsync::No) => "aof no".into(),
            Persistence::Rdb(points) => {
                let points: Vec<String> = points
                    .iter()
                    .map(|p| format!("{} {}", p.after.as_nanos() / 1_000_000_000, p.changes))
                    .collect();
                format!("rdb, save {}", points.join(" "))
            }
        }
    }

    /// How often to check whether the disk catches up with memory, for
    /// policies where it lags (everysec, no, rdb); `None` where it never
    /// lags (always) or there is no disk (none).
    fn lag_check(&self) -> Option<SimDuration> {
        match self {
            Persistence::Aof(AppendFsync::EverySec | AppendFsync::No) | Persistence::Rdb(_) => {
                Some(SimDuration::from_secs(1))
            }
            Persistence::None | Persistence::Aof(AppendFsync::Always) => None,
        }
    }
}

/// How old a dirty page must be before the kernel writes it back
/// (`vm.dirty_expire_centisecs`): all that `appendfsync no` relies on.
const OS_DIRTY_EXPIRE: SimDuration = SimDuration::from_secs(30);
/// How often the kernel's flusher thread wakes (`vm.dirty_writeback_centisecs`).
const OS_FLUSHER_PERIOD: SimDuration = SimDuration::from_secs(5);

/// A session hash as Redis holds it.
#[derive(Clone, Copy, Debug)]
struct Entry {
    owner: UserId,
    /// `lastAccessedTime` in memory.
    last_access: SimTime,
    /// `lastAccessedTime` as the disk has it (last fsync, writeback or
    /// snapshot); `None` if the session is not on disk yet. Kept only for
    /// policies where the disk lags memory.
    on_disk: Option<SimTime>,
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

/// What a stop keeps of memory.
enum Kept {
    Everything,
    OnlyDisk,
    Nothing,
}

pub struct RedisStore {
    ttl: SimDuration,
    config: RedisConfig,
    sessions: FxHashMap<SessionId, Entry>,
    state: State,
    /// Writes not yet on disk, oldest first, with their times: the tail of
    /// the AOF still in the page cache, or the writes since the last
    /// snapshot. Kept only for policies where the disk lags memory.
    unsynced: VecDeque<(SimTime, SessionId)>,
    /// When the disk last caught up (fsync, flusher wake-up or snapshot).
    last_on_disk: SimTime,
    /// Writes since the last snapshot (Redis's `server.dirty`), for save points.
    changes_since_save: u64,
    /// The app servers cannot reach Redis before this time (a partition).
    unreachable_until: SimTime,
    /// Writes not yet on the replica, in stream order: when each arrives,
    /// the session, and the session's `lastAccessedTime` before the write
    /// (`None` for a creation). Only with replication.
    in_transit: VecDeque<(SimTime, SessionId, Option<SimTime>)>,
    /// When the last write in the stream reaches the replica (arrivals
    /// keep stream order).
    last_arrival: SimTime,
    /// Writes replicated so far: the index of the next lag draw.
    replicated: u64,
    /// Seed of the lag draws.
    seed: u64,
    /// When the primary died, while a failover is pending.
    primary_lost_at: Option<SimTime>,
    /// How long the last write waited for a replica (synchronous writes).
    write_wait: SimDuration,
    /// Replicas missing since a failover: the promoted replica left their
    /// ranks and the old primary has not come back as a replica yet.
    replicas_missing: u32,
    /// When Redis went down (crash or lost primary), while it is down.
    down_since: Option<SimTime>,
}

impl RedisStore {
    pub fn new(ttl: SimDuration, config: RedisConfig, seed: u64) -> Self {
        RedisStore {
            ttl,
            config,
            sessions: FxHashMap::default(),
            state: State::Up,
            unsynced: VecDeque::new(),
            last_on_disk: SimTime::ZERO,
            changes_since_save: 0,
            unreachable_until: SimTime::ZERO,
            in_transit: VecDeque::new(),
            last_arrival: SimTime::ZERO,
            replicated: 0,
            seed,
            primary_lost_at: None,
            write_wait: SimDuration::ZERO,
            replicas_missing: 0,
            down_since: None,
        }
    }

    /// How long Redis has been down at `now` (zero when up or loading).
    pub fn down_for(&self, now: SimTime) -> Option<SimDuration> {
        match (self.state, self.down_since) {
            (State::Down, Some(since)) => Some(now.since(since)),
            _ => None,
        }
    }

    /// True if writes are refused because fewer replicas are connected
    /// than `min_replicas_to_write` asks for (Redis answers `-NOREPLICAS`).
    fn writes_refused(&self) -> bool {
        self.config.replication.as_ref().is_some_and(|r| {
            r.min_replicas_to_write > r.replicas.saturating_sub(self.replicas_missing)
        })
    }

    /// True if Redis answers commands at `now`.
    fn answers(&mut self, now: SimTime) -> bool {
        if now < self.unreachable_until {
            return false;
        }
        match self.state {
            State::Up => true,
            State::Down => false,
            State::Loading { until } if now >= until => {
                self.state = State::Up;
                true
            }
            State::Loading { .. } => false,
        }
    }

    /// Records a write of `session` at `now` (`previous`: its
    /// `lastAccessedTime` before, `None` for a creation): memory changes at
    /// once, the disk and the replica catch up later.
    fn wrote(&mut self, now: SimTime, session: SessionId, previous: Option<SimTime>) {
        self.changes_since_save += 1;
        if self.config.persistence.lag_check().is_some() {
            self.unsynced.push_back((now, session));
        }
        if let Some(replication) = &self.config.replication {
            // What has arrived by now is safe on the replica.
            while self
                .in_transit
                .front()
                .is_some_and(|&(arrival, _, _)| arrival <= now)
            {
                self.in_transit.pop_front();
            }
            let mut rng = stream(self.seed, Purpose::Replication, 0, self.replicated);
            self.replicated += 1;
            let arrival = (now + replication.lag.sample(&mut rng)).max(self.last_arrival);
            self.last_arrival = arrival;
            if replication.min_replicas_to_write > 0 {
                // The reply waits for the replica: acknowledged means
                // replicated, so nothing is in transit to lose.
                self.write_wait = arrival.since(now);
            } else {
                self.in_transit.push_back((arrival, session, previous));
            }
        }
    }

    /// The disk catches up with every write made at or before `cutoff`: an
    /// fsync or a snapshot (cutoff = now), or a kernel writeback of old pages.
    fn catch_up_disk(&mut self, cutoff: SimTime) {
        while let Some(&(written, session)) = self.unsynced.front() {
            if written > cutoff {
                break;
            }
            self.unsynced.pop_front();
            // A session swept since it was written is simply gone. A write
            // sets lastAccessedTime to its own time, so that is what the disk
            // now holds.
            if let Some(entry) = self.sessions.get_mut(&session) {
                entry.on_disk = Some(written);
            }
        }
    }

    fn kept_by(&self, mode: RestartMode) -> Kept {
        match (&self.config.persistence, mode) {
            (Persistence::None, _) => Kept::Nothing,
            (_, RestartMode::Graceful) => Kept::Everything,
            (Persistence::Aof(AppendFsync::Always), _) => Kept::Everything,
            (Persistence::Aof(_), RestartMode::Crash) => Kept::Everything,
            (Persistence::Aof(_), RestartMode::HostCrash) => Kept::OnlyDisk,
            (Persistence::Rdb(_), _) => Kept::OnlyDisk,
        }
    }
}

impl SessionStore for RedisStore {
    fn create(
        &mut self,
        now: SimTime,
        _server: ServerId,
        session: SessionId,
        owner: UserId,
    ) -> Result<(), Unavailable> {
        if !self.answers(now) || self.writes_refused() {
            return Err(Unavailable);
        }
        let entry = Entry {
            owner,
            last_access: now,
            on_disk: None,
        };
        self.sessions.insert(session, entry);
        self.wrote(now, session, None);
        Ok(())
    }

    fn access(&mut self, now: SimTime, _server: ServerId, session: SessionId) -> Lookup {
        // Every request writes (it refreshes lastAccessedTime), so refused
        // writes fail it.
        if !self.answers(now) || self.writes_refused() {
            return Lookup::Unavailable;
        }
        match self.sessions.get_mut(&session) {
            Some(entry) if !is_expired(entry.last_access, self.ttl, now) => {
                let previous = entry.last_access;
                entry.last_access = now;
                self.wrote(now, session, Some(previous));
                Lookup::Found
            }
            Some(_) => {
                self.sessions.remove(&session);
                Lookup::Missing
            }
            None => Lookup::Missing,
        }
    }

    fn server_memory_lost(&mut self, _: SimTime, _: ServerId, _: LostSessions<'_>) {
        // Sessions live in Redis, not in the app server: nothing to lose.
    }

    fn server_added(&mut self, _: ServerId) {}

    fn redis_stopped(&mut self, now: SimTime, mode: RestartMode, lost: LostSessions<'_>) -> Stop {
        if self.state == State::Down {
            return Stop::AlreadyDown;
        }
        let ttl = self.ttl;
        match self.kept_by(mode) {
            Kept::Everything => {}
            Kept::Nothing => {
                for (session, entry) in self.sessions.drain() {
                    if !is_expired(entry.last_access, ttl, now) {
                        lost(entry.owner, session);
                    }
                }
            }
            Kept::OnlyDisk => self.sessions.retain(|&session, entry| {
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
                            lost(entry.owner, session);
                        }
                        false
                    }
                }
            }),
        }
        // Whatever survived is exactly what is on disk now.
        for entry in self.sessions.values_mut() {
            entry.on_disk = Some(entry.last_access);
        }
        self.unsynced.clear();
        self.state = State::Down;
        self.down_since = Some(now);
        Stop::Stopped
    }

    fn take_write_wait(&mut self) -> SimDuration {
        std::mem::take(&mut self.write_wait)
    }

    fn failover_after(&self) -> Option<(SimDuration, SimDuration)> {
        self.config
            .replication
            .as_ref()
            .map(|r| (r.down_after, r.failover_delay))
    }

    fn primary_lost(&mut self, now: SimTime) -> bool {
        if self.state == State::Down {
            return false;
        }
        self.state = State::Down;
        self.primary_lost_at = Some(now);
        self.down_since = Some(now);
        true
    }

    fn failover(&mut self, now: SimTime, lost: LostSessions<'_>) -> bool {
        let Some(crashed) = self.primary_lost_at.take() else {
            return false;
        };
        // The promoted replica has every write that arrived before the
        // primary died; undo the rest, newest first.
        let ttl = self.ttl;
        while let Some((arrival, session, previous)) = self.in_transit.pop_back() {
            if arrival <= crashed {
                break;
            }
            match previous {
                None => {
                    if let Some(entry) = self.sessions.remove(&session)
                        && !is_expired(entry.last_access, ttl, now)
                    {
                        lost(entry.owner, session);
                    }
                }
                Some(earlier) => {
                    if let Some(entry) = self.sessions.get_mut(&session) {
                        entry.last_access = earlier;
                    }
                }
            }
        }
        self.in_transit.clear();
        self.last_arrival = now;
        // A replica holds its data in memory: it answers at once, no loading.
        self.state = State::Up;
        // The promoted replica is a replica no more; the old primary will
        // be one again when it restarts.
        self.replicas_missing += 1;
        true
    }

    fn replica_rejoined(&mut self) -> bool {
        if self.replicas_missing == 0 {
            return false;
        }
        self.replicas_missing -= 1;
        true
    }

    fn redis_partitioned(&mut self, _now: SimTime, until: SimTime) -> bool {
        self.unreachable_until = self.unreachable_until.max(until);
        true
    }

    fn redis_started(&mut self, now: SimTime) -> Option<SimTime> {
        // Keys that expired while Redis was down are not loaded (a primary
        // skips expired keys when it reads its RDB), so they cost no time.
        self.sweep_expired(now);
        let loading = if self.config.loading_rate > 0.0 {
            SimDuration::from_nanos_f64(self.sessions.len() as f64 / self.config.loading_rate * 1e9)
        } else {
            SimDuration::ZERO
        };
        let ready = now + loading;
        self.state = State::Loading { until: ready };
        // The data set just loaded is the one on disk.
        self.last_on_disk = now;
        self.changes_since_save = 0;
        Some(ready)
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        self.config.persistence.lag_check()
    }

    fn tick(&mut self, now: SimTime) {
        if self.state != State::Up {
            return;
        }
        let since = now.since(self.last_on_disk);
        let cutoff = match &self.config.persistence {
            // The background fsync covers everything written so far.
            Persistence::Aof(AppendFsync::EverySec) => Some(now),
            // The kernel's flusher wakes every 5 s and writes back the pages
            // that have been dirty for more than 30 s.
            Persistence::Aof(AppendFsync::No) if since >= OS_FLUSHER_PERIOD => {
                Some(SimTime::ZERO + now.since(SimTime::ZERO + OS_DIRTY_EXPIRE))
            }
            Persistence::Rdb(points)
                if points
                    .iter()
                    .any(|p| since > p.after && self.changes_since_save >= p.changes) =>
            {
                self.changes_since_save = 0;
                Some(now)
            }
            _ => None,
        };
        if let Some(cutoff) = cutoff {
            self.catch_up_disk(cutoff);
            self.last_on_disk = now;
        }
    }

    fn sweep_expired(&mut self, now: SimTime) -> u64 {
        let ttl = self.ttl;
        self.sessions
            .retain(|_, entry| !is_expired(entry.last_access, ttl, now));
        self.sessions.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    fn store(persistence: Persistence) -> RedisStore {
        let config = RedisConfig {
            latency: Dist::constant(SimDuration::from_micros(400)),
            persistence,
            loading_rate: 1000.0,
            replication: None,
            shards: 1,
            node_timeout: SimDuration::from_secs(15),
        };
        RedisStore::new(SimDuration::from_secs(1800), config, 1)
    }

    /// Creates sessions 1..=n at times 0..n s, ticking every second as the
    /// engine does, then stops Redis at `stop_at` and returns the number of
    /// sessions lost.
    fn lost_after(persistence: Persistence, n: u64, stop_at: u64, mode: RestartMode) -> usize {
        let mut redis = store(persistence);
        for i in 1..=n {
            redis.tick(at(i - 1));
            redis
                .create(at(i - 1), ServerId(0), SessionId(i), UserId(i as u32))
                .unwrap();
        }
        for t in n..stop_at {
            redis.tick(at(t));
        }
        let mut lost = 0;
        redis.redis_stopped(at(stop_at), mode, &mut |_, _| lost += 1);
        lost
    }

    #[test]
    fn without_persistence_any_stop_loses_everything() {
        for mode in [
            RestartMode::Crash,
            RestartMode::HostCrash,
            RestartMode::Graceful,
        ] {
            assert_eq!(lost_after(Persistence::None, 100, 100, mode), 100);
        }
    }

    #[test]
    fn aof_survives_a_process_crash_whatever_the_fsync_policy() {
        for fsync in [AppendFsync::Always, AppendFsync::EverySec, AppendFsync::No] {
            assert_eq!(
                lost_after(Persistence::Aof(fsync), 100, 100, RestartMode::Crash),
                0
            );
        }
    }

    #[test]
    fn a_host_crash_loses_what_was_not_fsynced() {
        // Sessions are created at 0..=99 s, each just after that second's
        // tick, and the host dies at 100 s.
        // always: fsync before the reply, nothing lost.
        assert_eq!(
            lost_after(
                Persistence::Aof(AppendFsync::Always),
                100,
                100,
                RestartMode::HostCrash
            ),
            0
        );
        // everysec: the tick at 99 s fsynced what came before it; the session
        // created at 99 s (after that tick) is lost.
        assert_eq!(
            lost_after(
                Persistence::Aof(AppendFsync::EverySec),
                100,
                100,
                RestartMode::HostCrash
            ),
            1
        );
        // no: the kernel's flusher wakes every 5 s and writes back what has
        // been dirty for more than 30 s; its last wake-up before the crash is
        // at 95 s, which wrote everything up to 65 s. The sessions created at
        // 66..=99 s, 34 of them, were never written back.
        assert_eq!(
            lost_after(
                Persistence::Aof(AppendFsync::No),
                100,
                100,
                RestartMode::HostCrash
            ),
            34
        );
    }

    #[test]
    fn rdb_loses_everything_since_the_last_snapshot() {
        // One save point, 60 s and 10 changes. Redis saves when *more* than
        // 60 s have passed, so at the tick of 61 s, which comes before the
        // session created at 61 s. Sessions 62..=100 (created at 61..=99 s),
        // 39 of them, are lost, by any kind of crash.
        let points = vec![SavePoint {
            after: SimDuration::from_secs(60),
            changes: 10,
        }];
        for mode in [RestartMode::Crash, RestartMode::HostCrash] {
            assert_eq!(
                lost_after(Persistence::Rdb(points.clone()), 100, 100, mode),
                39
            );
        }
        assert_eq!(
            lost_after(Persistence::Rdb(points), 100, 100, RestartMode::Graceful),
            0
        );
    }

    #[test]
    fn unavailable_while_down_and_loading_then_back() {
        let mut redis = store(Persistence::Aof(AppendFsync::Always));
        for i in 1..=500 {
            redis
                .create(at(0), ServerId(0), SessionId(i), UserId(0))
                .unwrap();
        }
        redis.redis_stopped(at(10), RestartMode::Crash, &mut |_, _| {});
        assert_eq!(
            redis.access(at(11), ServerId(0), SessionId(1)),
            Lookup::Unavailable
        );
        assert_eq!(
            redis.create(at(11), ServerId(0), SessionId(999), UserId(0)),
            Err(Unavailable)
        );
        // 500 sessions at 1000 per second: loading takes 0.5 s.
        let ready = redis.redis_started(at(20)).unwrap();
        assert_eq!(ready, at(20) + SimDuration::from_millis(500));
        assert_eq!(
            redis.access(at(20), ServerId(0), SessionId(1)),
            Lookup::Unavailable
        );
        assert_eq!(
            redis.access(ready, ServerId(0), SessionId(1)),
            Lookup::Found
        );
    }

    #[test]
    fn a_rolled_back_last_access_can_expire_a_session() {
        // RDB snapshot at 61 s holds lastAccessedTime 0 s; the session was
        // refreshed at 100 s in memory only. Crash at 1810 s: restored with
        // last access 0 s it expired at 1800 s, so it is lost, although in
        // memory it was alive until 1900 s.
        let points = vec![SavePoint {
            after: SimDuration::from_secs(60),
            changes: 1,
        }];
        let mut redis = store(Persistence::Rdb(points));
        redis
            .create(at(0), ServerId(0), SessionId(1), UserId(0))
            .unwrap();
        redis.tick(at(61));
        assert_eq!(
            redis.access(at(100), ServerId(0), SessionId(1)),
            Lookup::Found
        );
        let mut lost = 0;
        redis.redis_stopped(at(1810), RestartMode::Crash, &mut |_, _| lost += 1);
        assert_eq!(lost, 1);
    }
}
