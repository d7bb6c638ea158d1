//! `redis` with `shards > 1`: a Redis Cluster of several primaries.
//!
//! Each session key lives on the shard that owns its hash slot (CRC16 of
//! the key, `sim::store::slot`); slots are spread over the shards in equal
//! contiguous ranges, as `redis-cli --cluster create` does. Every shard is a
//! [`RedisStore`] of its own, with the scenario's persistence and, when
//! `replicas >= 1`, a replica that takes over once the cluster has declared
//! the primary failed (`cluster-node-timeout`, then about a second of
//! election). A shard failure touches only the sessions in its slots.

use super::redis::RedisStore;
use super::slot::{SLOTS, key_slot};
use super::{Lookup, LostSessions, RestartMode, SessionStore, Stop, Unavailable};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::{ServerId, SessionId, UserId};

/// The key prefix Spring Session uses, so slots are those of real keys.
const KEY_PREFIX: &[u8] = b"spring:session:sessions:";

pub struct ClusterStore {
    shards: Vec<RedisStore>,
    /// `cluster-node-timeout`: after it, a dead primary is flagged failed.
    node_timeout: SimDuration,
    /// The shard that Redis faults are aimed at (see `select_shard`).
    target: usize,
}

impl ClusterStore {
    pub fn new(shards: Vec<RedisStore>, node_timeout: SimDuration) -> Self {
        debug_assert!(shards.len() > 1);
        ClusterStore {
            shards,
            node_timeout,
            target: 0,
        }
    }

    /// True if some shard's primary has been down for longer than the node
    /// timeout: the cluster has flagged it failed, some slots have no
    /// primary, and with Redis's default `cluster-require-full-coverage
    /// yes` the whole cluster refuses commands (`-CLUSTERDOWN`), not only
    /// for that shard's keys. Before the timeout only that shard's keys
    /// fail; after a replica's promotion, everything works again.
    fn cluster_down(&self, now: SimTime) -> bool {
        self.shards
            .iter()
            .any(|s| s.down_for(now).is_some_and(|d| d >= self.node_timeout))
    }

    /// The shard holding `session`: the slot of its key, without
    /// allocating (the key is built in a stack buffer).
    fn shard_of(&self, session: SessionId) -> usize {
        let mut key = [0u8; 48];
        key[..KEY_PREFIX.len()].copy_from_slice(KEY_PREFIX);
        let mut digits = [0u8; 20];
        let (mut n, mut i) = (session.0, digits.len());
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let len = KEY_PREFIX.len() + digits.len() - i;
        key[KEY_PREFIX.len()..len].copy_from_slice(&digits[i..]);
        usize::from(key_slot(&key[..len])) * self.shards.len() / usize::from(SLOTS)
    }

    fn target(&mut self) -> &mut RedisStore {
        &mut self.shards[self.target]
    }
}

impl SessionStore for ClusterStore {
    fn create(
        &mut self,
        now: SimTime,
        server: ServerId,
        session: SessionId,
        owner: UserId,
    ) -> Result<(), Unavailable> {
        let shard = self.shard_of(session);
        self.shards[shard].create(now, server, session, owner)
    }

    fn access(&mut self, now: SimTime, server: ServerId, session: SessionId) -> Lookup {
        if self.cluster_down(now) {
            return Lookup::Unavailable;
        }
        let shard = self.shard_of(session);
        self.shards[shard].access(now, server, session)
    }

    fn server_memory_lost(&mut self, _: SimTime, _: ServerId, _: LostSessions<'_>) {}

    fn server_added(&mut self, _: ServerId) {}

    fn take_write_wait(&mut self) -> SimDuration {
        self.shards
            .iter_mut()
            .map(|s| s.take_write_wait())
            .fold(SimDuration::ZERO, |a, b| a + b)
    }

    fn select_shard(&mut self, shard: u32) {
        // A fault naming a shard this cluster does not have wraps around.
        self.target = shard as usize % self.shards.len();
    }

    fn redis_stopped(&mut self, now: SimTime, mode: RestartMode, lost: LostSessions<'_>) -> Stop {
        self.target().redis_stopped(now, mode, lost)
    }

    fn failover_after(&self) -> Option<(SimDuration, SimDuration)> {
        self.shards[self.target].failover_after()
    }

    fn primary_lost(&mut self, now: SimTime) -> bool {
        self.target().primary_lost(now)
    }

    fn failover(&mut self, now: SimTime, lost: LostSessions<'_>) -> bool {
        self.target().failover(now, lost)
    }

    fn replica_rejoined(&mut self) -> bool {
        self.target().replica_rejoined()
    }

    fn redis_partitioned(&mut self, now: SimTime, until: SimTime) -> bool {
        for shard in &mut self.shards {
            shard.redis_partitioned(now, until);
        }
        true
    }

    fn redis_started(&mut self, now: SimTime) -> Option<SimTime> {
        self.target().redis_started(now)
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        self.shards[0].tick_interval()
    }

    fn tick(&mut self, now: SimTime) {
        for shard in &mut self.shards {
            shard.tick(now);
        }
    }

    fn sweep_expired(&mut self, now: SimTime) -> u64 {
        self.shards.iter_mut().map(|s| s.sweep_expired(now)).sum()
    }
}
