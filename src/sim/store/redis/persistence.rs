//! What Redis keeps on disk, and what a stop leaves of memory.
//!
//! The model follows Redis 7's source (`aof.c`, `rdb.c`, `server.c`):
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

use std::collections::VecDeque;

use crate::sim::SessionId;
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

/// How old a dirty page must be before the kernel writes it back
/// (`vm.dirty_expire_centisecs`): all that `appendfsync no` relies on.
const OS_DIRTY_EXPIRE: SimDuration = SimDuration::from_secs(30);
/// How often the kernel's flusher thread wakes (`vm.dirty_writeback_centisecs`).
const OS_FLUSHER_PERIOD: SimDuration = SimDuration::from_secs(5);

/// What a stop keeps of memory.
pub(super) enum Kept {
    Everything,
    OnlyDisk,
    Nothing,
}

/// The disk's lag behind memory: the writes not yet on disk and when the
/// disk last caught up.
#[derive(Debug, Default)]
pub(super) struct Disk {
    /// Writes not yet on disk, oldest first, with their times: the tail of
    /// the AOF still in the page cache, or the writes since the last
    /// snapshot. Kept only for policies where the disk lags memory.
    unsynced: VecDeque<(SimTime, SessionId)>,
    /// When the disk last caught up (fsync, flusher wake-up or snapshot).
    last_on_disk: SimTime,
    /// Writes since the last snapshot (Redis's `server.dirty`), for save points.
    changes_since_save: u64,
}

impl Disk {
    /// Notes a write of `session` at `now`.
    pub(super) fn wrote(&mut self, persistence: &Persistence, now: SimTime, session: SessionId) {
        self.changes_since_save += 1;
        if persistence.lag_check().is_some() {
            self.unsynced.push_back((now, session));
        }
    }

    /// The background work due at `now` (an fsync, a flusher wake-up, a
    /// snapshot): returns the cutoff up to which writes are now on disk,
    /// if any reached it.
    pub(super) fn tick(&mut self, persistence: &Persistence, now: SimTime) -> Option<SimTime> {
        let since = now.since(self.last_on_disk);
        let cutoff = match persistence {
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
        if cutoff.is_some() {
            self.last_on_disk = now;
        }
        cutoff
    }

    /// Takes every unsynced write made at or before `cutoff`, oldest first:
    /// they are on disk now.
    pub(super) fn synced_up_to(
        &mut self,
        cutoff: SimTime,
    ) -> impl Iterator<Item = (SimTime, SessionId)> + '_ {
        std::iter::from_fn(move || {
            let &(written, session) = self.unsynced.front()?;
            if written > cutoff {
                return None;
            }
            self.unsynced.pop_front();
            Some((written, session))
        })
    }

    /// After a stop: whatever survived is exactly what is on disk.
    pub(super) fn all_synced(&mut self) {
        self.unsynced.clear();
    }

    /// After a start: the data set just loaded is the one on disk.
    pub(super) fn loaded(&mut self, now: SimTime) {
        self.last_on_disk = now;
        self.changes_since_save = 0;
    }
}
