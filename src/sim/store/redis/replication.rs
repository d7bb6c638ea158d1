//! Asynchronous replication to a replica, and what a failover loses.
//!
//! Redis replication is asynchronous: the primary acknowledges a write and
//! ships it to its replicas afterwards, in order (`replication.c`,
//! `replicationFeedSlaves` appends to the replication backlog after the
//! command ran). A replica promoted after the primary died has exactly the
//! writes that reached it; whatever was still in transit is lost,
//! acknowledged or not.

use std::collections::VecDeque;

use super::connection::SharedConnection;
use super::sessions::Key;
use crate::sim::dist::Dist;
use crate::sim::rng::{Purpose, stream};
use crate::sim::time::{SimDuration, SimTime};

/// A primary with asynchronous replicas, watched by Sentinel.
///
/// Sentinel declares a silent primary down after `down-after-milliseconds`
/// (default 30 s), elects a leader and promotes a replica
/// (`failover_delay`). If the primary comes back before `down_after`, there
/// is no failover: it restarts with whatever its own persistence kept.
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
    /// Redis's `min-replicas-to-write`: the primary refuses writes
    /// (`-NOREPLICAS`) while fewer replicas than this are connected with a
    /// lag of at most `min_replicas_max_lag` (measured from their
    /// once-a-second `REPLCONF ACK`: `refreshGoodSlavesCount` in
    /// `replication.c`). It does not wait for them: a write it accepts is
    /// replicated asynchronously and can be lost on failover exactly as
    /// without it ("This option does not GUARANTEE that N replicas will
    /// accept the write", redis.conf). 0: off, the default.
    pub min_replicas_to_write: u32,
    /// Redis's `min-replicas-max-lag` (default 10 s). In lbsim a replica is
    /// either connected with a lag of milliseconds or gone (promoted, not
    /// back yet), so the value only reaches live mode's real Redis.
    pub min_replicas_max_lag: SimDuration,
    /// The application calls `WAIT n timeout` after each write: its reply
    /// waits until `n` replicas have it, at most `wait_timeout`, after which
    /// the application fails the request. A write that waited is on the
    /// replica when the primary dies, so a failover does not lose it; but
    /// WAIT "does not make Redis a strongly consistent store" (the WAIT
    /// documentation): the write is already on the primary when WAIT starts
    /// and stays there if WAIT times out, and with several replicas Sentinel
    /// may promote one that has not acknowledged it. 0: no WAIT.
    pub wait_for_replicas: u32,
    pub wait_timeout: SimDuration,
}

/// One write on its way to the replica.
#[derive(Clone, Copy, Debug)]
pub(super) struct InTransit {
    /// When it reaches the replica.
    pub arrival: SimTime,
    pub key: Key,
    /// The session's `lastAccessedTime` before the write; `None` for a
    /// creation.
    pub previous: Option<SimTime>,
}

/// What the application's `WAIT` after a write got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct WaitAnswer {
    /// When Redis answered it.
    pub at: SimTime,
    /// Whether enough replicas had the write by then.
    pub acknowledged: bool,
}

/// The replication stream of one primary.
#[derive(Debug)]
pub(super) struct Stream {
    /// Writes not yet on the replica, in stream order.
    in_transit: VecDeque<InTransit>,
    /// When the last write in the stream reaches the replica (arrivals
    /// keep stream order).
    last_arrival: SimTime,
    /// Writes replicated so far: the index of the next lag draw.
    replicated: u64,
    /// Seed of the lag draws.
    seed: u64,
    /// Replicas missing since a failover: the promoted replica left their
    /// ranks and the old primary has not come back as a replica yet.
    replicas_missing: u32,
    /// When each restarted old primary is a replica again
    /// ([`Stream::rejoin`]); each one is missing until then.
    rejoining: Vec<SimTime>,
}

/// How long after an old primary restarts Sentinel makes it a replica of
/// the promoted one. Sentinel asks a returning instance `INFO` at once
/// (it has no answer from it yet), sees it report `role:master`, and
/// converts it only once that role has been reported for more than `4 ×
/// sentinel_publish_period` = 8 s (`sentinelRefreshInstanceInfo` in
/// sentinel.c, Redis 7.0: "Wait some time after the change before going
/// forward", then `+convert-to-slave`), which the next `INFO`, 10 s later
/// (`sentinel_info_period`), finds. Until then the old primary runs as a
/// primary of its own that no client uses.
pub const SENTINEL_CONVERTS_AFTER: SimDuration = SimDuration::from_secs(10);

/// How long a new replica waits for its full sync to begin: the primary
/// holds a diskless transfer back for `repl-diskless-sync-delay` (5 s,
/// with `repl-diskless-sync yes`, both Redis 7.0's defaults, redis.conf)
/// in case more replicas ask; the transfer itself of a session store is
/// quick. An old primary always needs a full sync: it has no data
/// (without persistence) or writes the promoted replica never received,
/// so `PSYNC` cannot continue its stream. Only then does the new primary
/// count it: `WAIT` times out and `min-replicas-to-write` refuses until
/// then. Measured with real Sentinels (live mode and the stack, `WAIT 1`
/// after a failover): writes failed until 15 s after the old primary's
/// restart (10 s + 5 s); the model once failed them only until the
/// restart.
pub const FULL_SYNC_DELAY: SimDuration = SimDuration::from_secs(5);

/// When a primary lost at `lost` for `downtime` restarts, if a replica
/// is promoted at `promoted`: after its downtime, and after the
/// promotion, which it follows as a replica.
pub fn old_primary_back(lost: SimTime, downtime: SimDuration, promoted: SimTime) -> SimTime {
    (lost + downtime).max(promoted + SimDuration::from_nanos(1))
}

/// How long after its restart a replaced primary counts as a replica of
/// the promoted one: a cluster node reads its `nodes.conf`, learns of the
/// newer epoch and follows the promoted replica by itself (modelled as at
/// once); behind Sentinel it waits for Sentinel to convert it. Then its
/// full sync.
pub fn rejoin_delay(cluster: bool) -> SimDuration {
    let converted = if cluster {
        SimDuration::ZERO
    } else {
        SENTINEL_CONVERTS_AFTER
    };
    converted + FULL_SYNC_DELAY
}

impl Stream {
    pub(super) fn new(seed: u64) -> Self {
        Stream {
            in_transit: VecDeque::new(),
            last_arrival: SimTime::ZERO,
            replicated: 0,
            seed,
            replicas_missing: 0,
            rejoining: Vec::new(),
        }
    }

    /// Replicas connected at `now`.
    pub(super) fn connected(&self, config: &Replication, now: SimTime) -> u32 {
        let back = self.rejoining.iter().filter(|&&at| at <= now).count() as u32;
        config
            .replicas
            .saturating_sub(self.replicas_missing.saturating_sub(back))
    }

    /// The first time from `from` to `until` at which the replicas a
    /// `WAIT` asks for are connected, as far as the rejoins known now
    /// tell.
    fn enough_replicas_from(
        &self,
        config: &Replication,
        from: SimTime,
        until: SimTime,
    ) -> Option<SimTime> {
        let enough = |at: SimTime| self.connected(config, at) >= config.wait_for_replicas;
        if enough(from) {
            return Some(from);
        }
        let mut rejoins: Vec<SimTime> = self
            .rejoining
            .iter()
            .copied()
            .filter(|&at| at > from && at <= until)
            .collect();
        rejoins.sort_unstable();
        rejoins.into_iter().find(|&at| enough(at))
    }

    /// A replica was promoted: it is a replica no more.
    pub(super) fn promoted(&mut self, now: SimTime) {
        self.settle(now);
        self.replicas_missing += 1;
    }

    /// A replaced primary restarted at `now`; it is a replica again at
    /// `at` (for Sentinel, [`SENTINEL_CONVERTS_AFTER`] later; a cluster
    /// node at once, with its `nodes.conf`).
    pub(super) fn rejoin(&mut self, now: SimTime, at: SimTime) {
        self.settle(now);
        self.rejoining.push(at);
    }

    /// Counts the rejoins done by `now` as connected replicas.
    fn settle(&mut self, now: SimTime) {
        let before = self.rejoining.len();
        self.rejoining.retain(|&at| at > now);
        let back = (before - self.rejoining.len()) as u32;
        self.replicas_missing = self.replicas_missing.saturating_sub(back);
    }

    /// Ships a write that reached the primary at `written` (the
    /// simulation is at `now`, at most `written`); with
    /// `wait_for_replicas`, the application's `WAIT` follows it on
    /// `connection`. Returns when Redis answered that `WAIT`, and whether
    /// enough replicas had acknowledged the write by then; `None` without
    /// `WAIT`.
    pub(super) fn ship(
        &mut self,
        config: &Replication,
        now: SimTime,
        written: SimTime,
        connection: &mut SharedConnection,
        key: Key,
        previous: Option<SimTime>,
    ) -> Option<WaitAnswer> {
        // What has arrived by now is safe on the replica.
        while self.in_transit.front().is_some_and(|w| w.arrival <= now) {
            self.in_transit.pop_front();
        }
        let mut rng = stream(self.seed, Purpose::Replication, 0, self.replicated);
        self.replicated += 1;
        let arrival = (written + config.lag.sample(&mut rng)).max(self.last_arrival);
        self.last_arrival = arrival;
        let in_transit = InTransit {
            arrival,
            key,
            previous,
        };
        if config.wait_for_replicas == 0 {
            self.in_transit.push_back(in_transit);
            return None;
        }
        let mut acknowledged = false;
        let answered = connection.wait(written, |starts| {
            let deadline = starts + config.wait_timeout;
            // A replica that comes back in sync while the WAIT blocks
            // acknowledges it then (it has the write once synced).
            match self.enough_replicas_from(config, starts, deadline) {
                Some(ready) if arrival.max(ready) <= deadline => {
                    acknowledged = true;
                    arrival.max(ready)
                }
                // Nobody to acknowledge, or not in time: WAIT returns
                // after its timeout with fewer replicas than asked, and
                // the application fails.
                _ => deadline,
            }
        });
        if !acknowledged {
            self.in_transit.push_back(in_transit);
        }
        // Acknowledged means replicated: nothing in transit to lose.
        Some(WaitAnswer {
            at: answered,
            acknowledged,
        })
    }

    /// The writes the replica had not received when the primary died at
    /// `crashed`, newest first; the stream is empty afterwards and starts
    /// again from the promoted replica at `now`.
    pub(super) fn unreplicated(
        &mut self,
        crashed: SimTime,
        now: SimTime,
    ) -> impl Iterator<Item = InTransit> + '_ {
        self.last_arrival = now;
        let mut done = false;
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            match self.in_transit.pop_back() {
                Some(w) if w.arrival > crashed => Some(w),
                _ => {
                    done = true;
                    self.in_transit.clear();
                    None
                }
            }
        })
    }

    /// The replicas have everything shipped so far (they caught up before a
    /// graceful shutdown): nothing is in transit any more.
    pub(super) fn caught_up(&mut self) {
        self.in_transit.clear();
    }

    /// True if writes are refused because fewer replicas are connected
    /// than `min_replicas_to_write` asks for (Redis answers `-NOREPLICAS`).
    pub(super) fn writes_refused(&self, config: &Replication, now: SimTime) -> bool {
        config.min_replicas_to_write > self.connected(config, now)
    }
}
