//! Asynchronous replication to a replica, and what a failover loses.
//!
//! Redis replication is asynchronous: the primary acknowledges a write and
//! ships it to its replicas afterwards, in order (`replication.c`,
//! `replicationFeedSlaves` appends to the replication backlog after the
//! command ran). A replica promoted after the primary died has exactly the
//! writes that reached it; whatever was still in transit is lost,
//! acknowledged or not.

use std::collections::VecDeque;

use crate::sim::SessionId;
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
    /// With 1 or more, every write waits until a replica has it (Redis's
    /// `WAIT`, or `min-replicas-to-write` with a strict lag): no
    /// acknowledged write is lost on failover, and every write pays the
    /// replication lag in latency. 0: asynchronous, Redis's default.
    pub min_replicas_to_write: u32,
}

/// One write on its way to the replica.
#[derive(Clone, Copy, Debug)]
pub(super) struct InTransit {
    /// When it reaches the replica.
    pub arrival: SimTime,
    pub session: SessionId,
    /// The session's `lastAccessedTime` before the write; `None` for a
    /// creation.
    pub previous: Option<SimTime>,
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
    pub replicas_missing: u32,
}

impl Stream {
    pub(super) fn new(seed: u64) -> Self {
        Stream {
            in_transit: VecDeque::new(),
            last_arrival: SimTime::ZERO,
            replicated: 0,
            seed,
            replicas_missing: 0,
        }
    }

    /// Ships a write made at `now`; returns how long the reply waits for
    /// the replica (zero for asynchronous replication).
    pub(super) fn ship(
        &mut self,
        config: &Replication,
        now: SimTime,
        session: SessionId,
        previous: Option<SimTime>,
    ) -> SimDuration {
        // What has arrived by now is safe on the replica.
        while self.in_transit.front().is_some_and(|w| w.arrival <= now) {
            self.in_transit.pop_front();
        }
        let mut rng = stream(self.seed, Purpose::Replication, 0, self.replicated);
        self.replicated += 1;
        let arrival = (now + config.lag.sample(&mut rng)).max(self.last_arrival);
        self.last_arrival = arrival;
        if config.min_replicas_to_write > 0 {
            // The reply waits for the replica: acknowledged means
            // replicated, so nothing is in transit to lose.
            arrival.since(now)
        } else {
            self.in_transit.push_back(InTransit {
                arrival,
                session,
                previous,
            });
            SimDuration::ZERO
        }
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

    /// True if writes are refused because fewer replicas are connected
    /// than `min_replicas_to_write` asks for (Redis answers `-NOREPLICAS`).
    pub(super) fn writes_refused(&self, config: &Replication) -> bool {
        config.min_replicas_to_write > config.replicas.saturating_sub(self.replicas_missing)
    }
}
