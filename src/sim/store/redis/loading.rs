//! How long a restarted Redis loads (answering `-LOADING` meanwhile), from
//! what its files hold.
//!
//! With AOF (`aof-use-rdb-preamble yes`, the default), the file is an RDB
//! base written at the last rewrite plus every command since (the `incr`
//! file); Redis rewrites it when it has grown past `auto-aof-rewrite-min-size`
//! (64 MB) and by `auto-aof-rewrite-percentage` (100%) over the base
//! (`serverCron` in `server.c`). With RDB, the snapshot. Loading time is
//! then a cost per key of the base and per command of the tail.
//!
//! Calibrated with redis-server 7.0.15 on the machine lbsim is developed
//! on (`scripts/calibrate-loading.sh`): 1,000,000 Spring session hashes
//! (7 fields and an expiry each) load from an RDB base in 1.9 s (1.97 s
//! and 1.86 s, two runs); 1,000,000 logins as AOF commands (`HSET` of 7
//! fields, `PEXPIREAT`) in 6.9 s; 1,000,000 page refreshes (`HSET` of one
//! field, `PEXPIREAT`) in 3.8 s. The files took 230, 456 and 220 bytes per
//! session, login and refresh. A faster or slower machine scales them all.

use crate::sim::time::SimDuration;

/// Loading one session hash from an RDB (or an AOF's RDB base).
pub(super) const RDB_KEY_NS: u64 = 1_900;
/// Replaying one login's commands from the AOF.
const AOF_LOGIN_NS: u64 = 6_900;
/// Replaying one page refresh's commands from the AOF.
const AOF_PAGE_NS: u64 = 3_800;
const RDB_KEY_BYTES: u64 = 230;
const AOF_LOGIN_BYTES: u64 = 456;
const AOF_PAGE_BYTES: u64 = 220;
/// `auto-aof-rewrite-min-size`.
const AOF_REWRITE_MIN_SIZE: u64 = 64 * 1024 * 1024;

/// The AOF's content, as loading sees it.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct AofLog {
    /// Keys in the RDB base (written at the last rewrite).
    base_keys: u64,
    base_bytes: u64,
    /// Size of the whole AOF.
    bytes: u64,
    /// Commands since the last rewrite.
    tail_logins: u64,
    tail_pages: u64,
}

impl AofLog {
    /// A login's commands were appended; `live_keys` sessions exist now.
    pub(super) fn login(&mut self, live_keys: u64) {
        self.tail_logins += 1;
        self.bytes += AOF_LOGIN_BYTES;
        self.maybe_rewrite(live_keys);
    }

    /// A page refresh's commands were appended.
    pub(super) fn page(&mut self, live_keys: u64) {
        self.tail_pages += 1;
        self.bytes += AOF_PAGE_BYTES;
        self.maybe_rewrite(live_keys);
    }

    /// Redis's auto-rewrite rule: past the minimum size, and grown by 100%
    /// over the base (a base of 0 counts as 1 byte, as in `serverCron`).
    fn maybe_rewrite(&mut self, live_keys: u64) {
        if self.bytes > AOF_REWRITE_MIN_SIZE && self.bytes >= 2 * self.base_bytes.max(1) {
            self.base_keys = live_keys;
            self.base_bytes = live_keys * RDB_KEY_BYTES;
            self.bytes = self.base_bytes;
            self.tail_logins = 0;
            self.tail_pages = 0;
        }
    }

    /// How long loading this AOF takes.
    pub(super) fn loading_time(&self) -> SimDuration {
        SimDuration::from_nanos(
            self.base_keys * RDB_KEY_NS
                + self.tail_logins * AOF_LOGIN_NS
                + self.tail_pages * AOF_PAGE_NS,
        )
    }
}

/// How long loading an RDB with `keys` sessions takes.
pub(super) fn rdb_loading_time(keys: u64) -> SimDuration {
    SimDuration::from_nanos(keys * RDB_KEY_NS)
}
