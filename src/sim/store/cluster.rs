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
use super::{FaultReply, LostSessions, Reply, SessionStore, StoreFault};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::{ServerId, SessionId, UserId};

/// The key prefix Spring Session uses, so slots are those of real keys.
const KEY_PREFIX: &[u8] = b"spring:session:sessions:";

pub struct ClusterStore {
    shards: Vec<RedisStore>,
    /// `cluster-node-timeout`: after it, a dead primary is flagged failed.
    node_timeout: SimDuration,
}

impl ClusterStore {
    pub fn new(shards: Vec<RedisStore>, node_timeout: SimDuration) -> Self {
        debug_assert!(shards.len() > 1);
        ClusterStore {
            shards,
            node_timeout,
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
}

impl SessionStore for ClusterStore {
    fn create(
        &mut self,
        now: SimTime,
        server: ServerId,
        session: SessionId,
        owner: UserId,
    ) -> Reply {
        let shard = self.shard_of(session);
        self.shards[shard].create(now, server, session, owner)
    }

    fn access(&mut self, now: SimTime, server: ServerId, session: SessionId) -> Reply {
        if self.cluster_down(now) {
            return Reply::UNAVAILABLE;
        }
        let shard = self.shard_of(session);
        self.shards[shard].access(now, server, session)
    }

    fn fault(&mut self, now: SimTime, fault: StoreFault, lost: LostSessions<'_>) -> FaultReply {
        match fault {
            StoreFault::ServerMemoryLost(_) | StoreFault::ServerAdded(_) => {
                FaultReply::NotApplicable
            }
            // A fault naming a shard this cluster does not have wraps around.
            StoreFault::Stop { shard, .. }
            | StoreFault::LosePrimary { shard }
            | StoreFault::Promote { shard }
            | StoreFault::Start { shard } => {
                let n = self.shards.len();
                self.shards[shard as usize % n].fault(now, fault, lost)
            }
        }
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
