//! What Redis keeps on disk, and what a stop leaves of memory.
//!
//! The model follows Redis 7's source (`aof.c`, `rdb.c`, `server.c`):
//!
//! - **AOF** (`appendonly yes`). Before Redis replies to a write it appends
//!   the command to the AOF with write(2) (`flushAppendOnlyFile` runs in
//!   `beforeSleep`, before pending replies are sent). With
//!   `appendfsync always` it also fsyncs before replying; with `everysec` a
//!   background thread fsyncs once a second; with `no` it never fsyncs and
//!   leaves it to the kernel. The kernel's flusher wakes every 5 s
//!   (`vm.dirty_writeback_centisecs = 500`) and writes back every *inode*
//!   first dirtied more than 30 s ago (`vm.dirty_expire_centisecs = 3000`;
//!   `dirtied_when` is set when a clean inode is dirtied,
//!   `__mark_inode_dirty` in `fs/fs-writeback.c`, and the whole inode is
//!   written back): an AOF appended all the time is flushed whole every
//!   30–35 s. So a **process crash** (SIGKILL, OOM kill, segfault) loses no
//!   acknowledged write under any `appendfsync`: the data sits in the page
//!   cache and the kernel still writes it out, unless a slow disk made
//!   `everysec` postpone its write(2) (`fsync`). Only a **host crash**
//!   (power loss, kernel panic) loses what was not on disk: the last second
//!   or so with `everysec`, anything between 0 and ~35 s with `no`, nothing
//!   with `always`, which instead costs an fsync in every write's latency.
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

use std::collections::VecDeque;

use super::fsync::{Fsyncs, MAX_POSTPONE};
use super::loading::AofLog;
use super::sessions::{Key, Sessions};
use crate::sim::store::RestartMode;
use crate::sim::time::{SimDuration, SimTime};

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
    pub(super) fn lag_check(&self) -> Option<SimDuration> {
        match self {
            Persistence::Aof(AppendFsync::EverySec | AppendFsync::No) | Persistence::Rdb(_) => {
                Some(SimDuration::from_secs(1))
            }
            Persistence::None | Persistence::Aof(AppendFsync::Always) => None,
        }
    }

    /// True if the disk catches up with memory part-way through the writes
    /// (`everysec`: the background fsync covers the writes before it
    /// started), so the model keeps each unsynced write. With `no` and RDB
    /// a writeback or a snapshot covers every write so far, and the writes
    /// need not be kept: memory does not grow with them.
    pub(super) fn logs_writes(&self) -> bool {
        matches!(self, Persistence::Aof(AppendFsync::EverySec))
    }

    /// What a stop the way `mode` says keeps of memory.
    pub(super) fn kept_by(&self, mode: RestartMode) -> Kept {
        match (self, mode) {
            (Persistence::None, _) => Kept::Nothing,
            (_, RestartMode::Graceful) => Kept::Everything,
            (Persistence::Aof(AppendFsync::Always), _) => Kept::Everything,
            (Persistence::Aof(_), RestartMode::Crash) => Kept::Everything,
            (Persistence::Aof(_), RestartMode::HostCrash) => Kept::OnlyDisk,
            (Persistence::Rdb(_), _) => Kept::OnlyDisk,
        }
    }
}

/// How often the kernel's flusher thread wakes (`vm.dirty_writeback_centisecs`).
const OS_FLUSHER_PERIOD: SimDuration = SimDuration::from_secs(5);
/// How long an inode stays dirty before the flusher writes it back
/// (`vm.dirty_expire_centisecs`): all that `appendfsync no` relies on.
const OS_DIRTY_EXPIRE: SimDuration = SimDuration::from_secs(30);

/// What a stop keeps of memory.
pub(super) enum Kept {
    Everything,
    OnlyDisk,
    Nothing,
}

/// The disk's lag behind memory: the writes not yet durable, the fsyncs
/// and what is in the files.
#[derive(Debug)]
pub(super) struct Disk {
    /// Writes not yet on disk, oldest first, with their times: the tail of
    /// the AOF still in the page cache. Kept only for `everysec`
    /// ([`Persistence::logs_writes`]), where it spans a second or two.
    unsynced: VecDeque<(SimTime, Key)>,
    /// Sequence number of `unsynced.front()`; writes are numbered in order.
    front_seq: u64,
    /// Writes numbered so far (the sequence number of the next one).
    pushed: u64,
    /// When the disk last caught up (a snapshot), for save points.
    last_on_disk: SimTime,
    /// Redis's `server.dirty`, for save points.
    changes_since_save: u64,
    /// `everysec`: the background fsync in progress makes the writes
    /// numbered below the first value durable at the second.
    pending: Option<(u64, SimTime)>,
    /// `everysec`: from which write on, and since when, Redis postpones the
    /// AOF write because a background fsync is still running: those writes
    /// are not even in the page cache.
    postponed: Option<(u64, SimTime)>,
    /// `everysec`: the main thread blocks until then (a write forced after
    /// 2 s of postponement waits for the disk).
    blocked_until: SimTime,
    /// `no`: when the AOF's inode was first dirtied since its last
    /// writeback.
    dirtied_when: Option<SimTime>,
    /// The fsyncs and their timing.
    pub fsyncs: Fsyncs,
    /// What the AOF holds, for loading.
    pub aof: AofLog,
}

impl Disk {
    /// Marks the unsynced writes numbered below `bound` as on disk in
    /// `sessions`.
    pub(super) fn apply_synced(
        &mut self,
        persistence: &Persistence,
        sessions: &mut Sessions,
        bound: u64,
    ) {
        if !persistence.logs_writes() {
            // A writeback or a snapshot: every write so far is on disk, so
            // each session's last write is what the disk has (the same as
            // replaying the writes in order, without keeping them).
            for entry in sessions.values_mut() {
                entry.on_disk = Some(entry.last_write);
            }
            return;
        }
        // The writes are in time order and their sessions anywhere in the
        // table: fetching a few ahead lets the cache misses overlap (a
        // second of writes at a million users is 200,000 of them).
        const AHEAD: usize = 8;
        while let Some((written, key)) = self.pop_synced_below(bound) {
            if let Some(ahead) = self.unsynced_key(AHEAD) {
                sessions.prefetch(ahead.owner);
            }
            // A session swept since it was written is simply gone. A write
            // sets lastAccessedTime to its own time, so that is what the
            // disk now holds.
            if let Some(entry) = sessions.get_mut(key) {
                entry.on_disk = Some(written);
            }
        }
    }

    pub(super) fn new(fsyncs: Fsyncs) -> Self {
        Disk {
            unsynced: VecDeque::new(),
            front_seq: 0,
            pushed: 0,
            last_on_disk: SimTime::ZERO,
            changes_since_save: 0,
            pending: None,
            postponed: None,
            blocked_until: SimTime::ZERO,
            dirtied_when: None,
            fsyncs,
            aof: AofLog::default(),
        }
    }

    /// Notes a write of session `key` at `now` that adds `dirty` to Redis's
    /// counter; returns how long its reply waits for the disk.
    pub(super) fn wrote(
        &mut self,
        persistence: &Persistence,
        now: SimTime,
        key: Key,
        dirty: u64,
        writes: u8,
    ) -> SimDuration {
        self.changes_since_save += dirty;
        if persistence.lag_check().is_some() {
            if persistence.logs_writes() {
                self.unsynced.push_back((now, key));
            }
            self.pushed += 1;
        }
        match persistence {
            // Commands sent one by one are answered one by one: each write
            // waits for its own fsync, and the next goes out after its reply
            // (the round trip in between is left out).
            Persistence::Aof(AppendFsync::Always) => {
                let mut at = now;
                for _ in 0..writes {
                    at = at + self.fsyncs.always(now, at);
                }
                at.since(now)
            }
            Persistence::Aof(AppendFsync::EverySec) => {
                self.release_postponed(now);
                // `flushAppendOnlyFile` runs after every event-loop
                // iteration; while a background fsync runs it postpones the
                // write, from the first write it could not flush.
                if now < self.fsyncs.background_until() && self.postponed.is_none() {
                    self.postponed = Some((self.pushed - 1, now));
                }
                self.blocked_until.since(now)
            }
            Persistence::Aof(AppendFsync::No) => {
                self.dirtied_when.get_or_insert(now);
                SimDuration::ZERO
            }
            Persistence::Rdb(_) | Persistence::None => SimDuration::ZERO,
        }
    }

    /// How long a command that writes nothing waits at `now` for a main
    /// thread busy with the disk.
    pub(super) fn read_wait(&mut self, persistence: &Persistence, now: SimTime) -> SimDuration {
        match persistence {
            Persistence::Aof(AppendFsync::Always) => self.fsyncs.main_thread_wait(now),
            Persistence::Aof(AppendFsync::EverySec) => self.blocked_until.since(now),
            _ => SimDuration::ZERO,
        }
    }

    /// The background work due at `now` (checked once a simulated second:
    /// an fsync, a flusher wake-up, a snapshot): returns the sequence
    /// number below which writes are now on disk, if that moved.
    pub(super) fn tick(&mut self, persistence: &Persistence, now: SimTime) -> Option<u64> {
        match persistence {
            Persistence::Aof(AppendFsync::EverySec) => {
                let durable = self.settle(now);
                self.release_postponed(now);
                // At most one background fsync at a time, covering what is
                // in the page cache.
                let in_kernel = self.postponed.map_or(self.pushed, |(from, _)| from);
                if self.fsyncs.background(now) {
                    self.pending = Some((in_kernel, self.fsyncs.background_until()));
                }
                durable
            }
            Persistence::Aof(AppendFsync::No) => {
                let wakes = now.as_nanos().is_multiple_of(OS_FLUSHER_PERIOD.as_nanos());
                let expired = self
                    .dirtied_when
                    .is_some_and(|dirtied| now.since(dirtied) > OS_DIRTY_EXPIRE);
                if wakes && expired {
                    // The whole inode goes to disk; the next write dirties it
                    // again.
                    self.dirtied_when = None;
                    Some(self.pushed)
                } else {
                    None
                }
            }
            Persistence::Rdb(points) => {
                let since = now.since(self.last_on_disk);
                let due = points
                    .iter()
                    .any(|p| since > p.after && self.changes_since_save >= p.changes);
                if due {
                    self.changes_since_save = 0;
                    self.last_on_disk = now;
                    Some(self.pushed)
                } else {
                    None
                }
            }
            Persistence::Aof(AppendFsync::Always) | Persistence::None => None,
        }
    }

    /// `everysec`: the background fsync in progress, if it has ended by
    /// `now`, made its writes durable: the bound below which they are.
    pub(super) fn settle(&mut self, now: SimTime) -> Option<u64> {
        match self.pending {
            Some((covered, done)) if done <= now => {
                self.pending = None;
                Some(covered)
            }
            _ => None,
        }
    }

    /// `everysec`: a postponed AOF write is written once the fsync in
    /// progress has ended, or after 2 s of postponement anyway, and then the
    /// main thread waits for the disk (`flushAppendOnlyFile`: "Asynchronous
    /// AOF fsync is taking too long").
    fn release_postponed(&mut self, now: SimTime) {
        let Some((_, since)) = self.postponed else {
            return;
        };
        let fsync_done = self.fsyncs.background_until();
        if now >= fsync_done {
            self.postponed = None;
        } else if now.since(since) >= MAX_POSTPONE {
            self.postponed = None;
            self.blocked_until = self.blocked_until.max(fsync_done);
        }
    }

    /// `everysec`: at `now`, the first write that a process crash would
    /// lose, because Redis has not yet written it to the page cache.
    pub(super) fn postponed_from(&mut self, now: SimTime) -> Option<u64> {
        self.release_postponed(now);
        self.postponed.map(|(from, _)| from)
    }

    /// Takes the oldest unsynced write if it is numbered below `bound`.
    pub(super) fn pop_synced_below(&mut self, bound: u64) -> Option<(SimTime, Key)> {
        if self.front_seq >= bound {
            return None;
        }
        let entry = self.unsynced.pop_front()?;
        self.front_seq += 1;
        Some(entry)
    }

    /// The session of the unsynced write `n` places after the oldest.
    pub(super) fn unsynced_key(&self, n: usize) -> Option<Key> {
        self.unsynced.get(n).map(|&(_, key)| key)
    }

    /// After a stop: whatever survived is exactly what is on disk.
    pub(super) fn all_synced(&mut self) {
        self.front_seq += self.unsynced.len() as u64;
        self.unsynced.clear();
        self.pending = None;
        self.postponed = None;
        self.dirtied_when = None;
    }

    /// After a start: the data set just loaded is the one on disk.
    pub(super) fn loaded(&mut self, now: SimTime) {
        self.last_on_disk = now;
        self.changes_since_save = 0;
    }
}
