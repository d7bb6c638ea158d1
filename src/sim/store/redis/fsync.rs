//! What an fsync costs, and who waits for it.
//!
//! Redis 7.0's `aof.c` and `server.c`:
//! - `appendfsync always`: `beforeSleep` writes the AOF buffer and fsyncs it
//!   in the main thread *before* sending the replies of that event-loop
//!   iteration (`flushAppendOnlyFile`, then
//!   `handleClientsWithPendingWritesUsingThreads`). One fsync covers every
//!   write of the iteration (group commit), and while it runs the main
//!   thread serves nobody: a write is answered when the fsync that covers
//!   it ends, and any command arriving meanwhile waits too.
//! - `appendfsync everysec`: a background thread fsyncs once a second
//!   (`aof_background_fsync`); replies do not wait. If that fsync is still
//!   running when the next write of the buffer is due, Redis postpones the
//!   write(2) ("Asynchronous AOF fsync is taking too long (disk is
//!   busy?)") for up to 2 s, still replying: those writes are not even in
//!   the page cache, so a process crash loses them. After 2 s it writes
//!   anyway, and the main thread blocks until the disk lets it.
//!
//! The fsync's duration is drawn from the disk's distribution (a preset or
//! the scenario's own), from a stream of its own, the same in every
//! strategy with the same disk.

use crate::sim::dist::Dist;
use crate::sim::rng::{Purpose, stream};
use crate::sim::time::{SimDuration, SimTime};

/// How long Redis postpones the AOF write while a background fsync runs.
pub(super) const MAX_POSTPONE: SimDuration = SimDuration::from_secs(2);

/// Named disks and their fsync latency (of a small append, `fdatasync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskPreset {
    /// The virtio disk of the machine lbsim is developed on (a cloud VM):
    /// measured with 2,000 `write(200 B)` + `fdatasync`, median 0.23 ms,
    /// p99 1.8 ms, p99.9 4.2 ms.
    LocalSsd,
    /// A consumer NVMe SSD with a volatile write cache, which fdatasync
    /// must flush: 1.64 ms per 8 kB fdatasync on a Samsung 990 Pro
    /// (Tanel Poder, "Using Postgres pg_test_fsync for testing low latency
    /// writes", 2025); the spread is assumed (p99 at 4 ms).
    NvmeConsumer,
    /// A cloud block volume built for latency: AWS `io2` Block Express,
    /// "an average latency of under 500 microseconds for 16KiB I/O"
    /// (Amazon EBS user guide, EBS optimization); tail assumed at 1.5 ms.
    CloudIo2,
    /// A 7,200 rpm hard disk: a synchronous append waits for the platter,
    /// one rotation every 8.3 ms, so about 8 ms typically and a seek more
    /// at the tail (25 ms): derived from the rotation, not measured.
    Hdd,
}

impl DiskPreset {
    pub const ALL: [DiskPreset; 4] = [
        DiskPreset::LocalSsd,
        DiskPreset::NvmeConsumer,
        DiskPreset::CloudIo2,
        DiskPreset::Hdd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DiskPreset::LocalSsd => "local_ssd",
            DiskPreset::NvmeConsumer => "nvme_consumer",
            DiskPreset::CloudIo2 => "cloud_io2",
            DiskPreset::Hdd => "hdd",
        }
    }

    /// The fsync latency of this disk.
    pub fn fsync(self) -> Dist {
        let (median_us, p99_us) = match self {
            DiskPreset::LocalSsd => (230, 1_800),
            DiskPreset::NvmeConsumer => (1_640, 4_000),
            DiskPreset::CloudIo2 => (450, 1_500),
            DiskPreset::Hdd => (8_000, 25_000),
        };
        Dist::lognormal(
            SimDuration::from_micros(median_us),
            SimDuration::from_micros(p99_us),
        )
    }
}

/// The fsyncs of one Redis's AOF.
#[derive(Debug)]
pub(super) struct Fsyncs {
    /// How long one takes.
    dist: Dist,
    /// Seed of the draws.
    seed: u64,
    /// Fsyncs drawn so far: the index of the next draw.
    drawn: u64,
    /// `always`: the main thread's fsyncs that have not ended, as `(start,
    /// end)`, in order. Back to back while Redis is busy: each starts when
    /// the one before ends and covers the writes that arrived meanwhile.
    /// Rarely more than three.
    groups: std::collections::VecDeque<(SimTime, SimTime)>,
    /// `everysec`: when the background fsync in progress ends.
    background_until: SimTime,
}

impl Fsyncs {
    pub(super) fn new(dist: Dist, seed: u64) -> Self {
        Fsyncs {
            dist,
            seed,
            drawn: 0,
            groups: std::collections::VecDeque::new(),
            background_until: SimTime::ZERO,
        }
    }

    fn draw(&mut self) -> SimDuration {
        let mut rng = stream(self.seed, Purpose::Disk, 0, self.drawn);
        self.drawn += 1;
        self.dist.sample(&mut rng)
    }

    /// `appendfsync always`: a write arriving at `at` (not before `now`,
    /// the time of the operation asking) is answered when the fsync
    /// covering it ends; returns how long after `at` that is. The fsync in
    /// progress at `at` already took its buffer, so the write joins the
    /// first one that starts at or after `at`, starting one if none does.
    /// `at` may lie ahead of `now` (the second command of a request, sent
    /// when the first is answered): the fsync started for it is one that
    /// writes arriving meanwhile join too.
    pub(super) fn always(&mut self, now: SimTime, at: SimTime) -> SimDuration {
        while self.groups.front().is_some_and(|&(_, end)| end <= now) {
            self.groups.pop_front();
        }
        if let Some(&(_, end)) = self.groups.iter().find(|&&(start, _)| start >= at) {
            return end.since(at);
        }
        let start = self.groups.back().map_or(at, |&(_, end)| end.max(at));
        let end = start + self.draw();
        self.groups.push_back((start, end));
        end.since(at)
    }

    /// `appendfsync always`: how long a command that does not write waits
    /// at `now` for the main thread, busy in an fsync.
    pub(super) fn main_thread_wait(&mut self, now: SimTime) -> SimDuration {
        self.groups
            .iter()
            .find(|&&(start, end)| start <= now && now < end)
            .map_or(SimDuration::ZERO, |&(_, end)| end.since(now))
    }

    /// `everysec`: the once-a-second background fsync is due at `now`.
    /// Starts it and returns true, or returns false if the previous one is
    /// still running (Redis then postpones the write of its buffer).
    pub(super) fn background(&mut self, now: SimTime) -> bool {
        if now < self.background_until {
            return false;
        }
        self.background_until = now + self.draw();
        true
    }

    /// `everysec`: when the background fsync in progress ends.
    pub(super) fn background_until(&self) -> SimTime {
        self.background_until
    }
}
