//! `redis` with `shards > 1`: a Redis Cluster of several primaries.
//!
//! Each session key lives on the shard that owns its hash slot (CRC16 of
//! the key, `sim::store::slot`); slots are spread over the shards in equal
//! contiguous ranges, as `redis-cli --cluster create` does. Every shard is a
//! [`RedisStore`] of its own, with the scenario's persistence and, when
//! `replicas >= 1`, a replica that takes over once the cluster has declared
//! the primary failed.
//!
//! How the cluster sees a dead primary follows Redis 7.0's `cluster.c`:
//! - Until the others flag it `FAIL`, only its own keys fail (the
//!   connection is refused). A node is `PFAIL` once an unanswered ping to
//!   it is older than `cluster-node-timeout` (`clusterCron`), and `FAIL`
//!   once a majority of primaries report it (`markNodeAsFailingIfNeeded`);
//!   the ping goes out within about a second (clusterCron pings the node
//!   with the oldest PONG once a second) and the reports travel by gossip,
//!   so `FAIL` comes [`FAIL_AFTER_TIMEOUT`] after the node timeout.
//! - While a primary that still owns slots is `FAIL`, every other node is
//!   in `cluster_state:fail` and answers `-CLUSTERDOWN` to any command with
//!   a key, whatever its slot (`cluster-require-full-coverage yes`, the
//!   default; `getNodeByQuery`).
//! - A replica is promoted [`CLUSTER_ELECTION`] after `FAIL` (500 ms plus
//!   up to 500 ms at random, `clusterHandleSlaveFailover`), and its
//!   primary's slots are served again.
//! - Without a replica, a restarted primary's `FAIL` flag is cleared only
//!   when it answers a ping *and* `FAIL` is older than twice the node
//!   timeout (`clearNodeFailureIfNeeded`, `CLUSTER_FAIL_UNDO_TIME_MULT` =
//!   2): the other nodes keep refusing everything for up to
//!   `2 × node_timeout` after `FAIL`, although the node is back. It comes
//!   [`PONG_AFTER_UNDO`] later, when the next ping is answered.
//! - A restarted primary itself refuses commands until
//!   `CLUSTER_WRITABLE_DELAY` (2 s) after it has loaded its data
//!   (`clusterUpdateState`), then serves its own keys while the others may
//!   still refuse theirs.
//!
//! Measured on this machine with redis-server 7.0.15 (3 primaries, no
//! replica, node timeout 6 s, one killed at 30 s and restarted at 40 s;
//! `lbsim run … --live`, one-second time series): only its keys failed
//! until 37.3 s, every key until 42 s, two thirds of them until 50.2 s.

use super::redis::RedisStore;
use super::slot::{SLOTS, key_slot};
use super::spring::session_uuid;
use super::{FaultReply, LostSessions, Reply, SessionStore, StoreFault};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::{ServerId, SessionId, UserId};

/// The key prefix Spring Session uses, so slots are those of real keys.
const KEY_PREFIX: &[u8] = b"spring:session:sessions:";

/// From the node timeout running out to the cluster agreeing on `FAIL`:
/// the unanswered ping that `PFAIL` counts from and a majority's gossip.
/// Measured 1.3 s here (node timeout 6 s); the mechanism gives 0.5–1.5 s.
pub const FAIL_AFTER_TIMEOUT: SimDuration = SimDuration::from_millis(1300);
/// A replica's election after `FAIL`: `500 + random() % 500` ms for the
/// best-ranked replica (`clusterHandleSlaveFailover`), on average.
pub const CLUSTER_ELECTION: SimDuration = SimDuration::from_millis(750);
/// From the end of `2 × node_timeout` after `FAIL` to the PONG that clears
/// it; measured 0.9 s here (one ping a second to the node with the oldest
/// PONG).
pub const PONG_AFTER_UNDO: SimDuration = SimDuration::from_millis(900);
/// `CLUSTER_WRITABLE_DELAY` in `cluster.c`.
pub const WRITABLE_DELAY: SimDuration = SimDuration::from_secs(2);

/// How the rest of the cluster sees one shard's primary.
#[derive(Clone, Copy, Debug, Default)]
struct View {
    /// When its primary died, while it is dead or flagged.
    died_at: Option<SimTime>,
    /// When the others flag it `FAIL`; set with `died_at`.
    fail_at: Option<SimTime>,
    /// When its slots count as covered again (a replica promoted, or the
    /// `FAIL` flag cleared); `None` while neither has happened.
    covered_at: Option<SimTime>,
    /// A restarted primary refuses commands until then.
    writable_at: SimTime,
}

pub struct ClusterStore {
    shards: Vec<RedisStore>,
    /// Derives the session ids whose keys' slots place them.
    key_tag: u64,
    /// `cluster-node-timeout`.
    node_timeout: SimDuration,
    /// Per shard, the cluster's view of its primary.
    views: Vec<View>,
}

impl ClusterStore {
    /// A cluster of `shards`; `key_tag` derives the session ids (live mode
    /// uses the same for a cluster it starts: the scenario's seed).
    pub fn new(shards: Vec<RedisStore>, node_timeout: SimDuration, key_tag: u64) -> Self {
        debug_assert!(shards.len() > 1);
        ClusterStore {
            key_tag,
            views: vec![View::default(); shards.len()],
            shards,
            node_timeout,
        }
    }

    /// True if the node serving `shard` answers `-CLUSTERDOWN` at `now`:
    /// it was restarted less than the writable delay ago, or in its view
    /// another shard's primary is `FAIL` with its slots uncovered.
    fn refuses(&self, shard: usize, now: SimTime) -> bool {
        if now < self.views[shard].writable_at {
            return true;
        }
        self.views.iter().enumerate().any(|(other, view)| {
            other != shard
                && view.fail_at.is_some_and(|fail| now >= fail)
                && view.covered_at.is_none_or(|covered| now < covered)
        })
    }

    /// A primary died (killed, or lost to be replaced by a replica).
    fn died(&mut self, shard: usize, now: SimTime) {
        self.views[shard] = View {
            died_at: Some(now),
            fail_at: Some(now + self.node_timeout + FAIL_AFTER_TIMEOUT),
            covered_at: None,
            writable_at: self.views[shard].writable_at,
        };
    }

    /// The dead primary of `shard` runs again at `now` and has loaded its
    /// data at `ready`.
    fn restarted(&mut self, shard: usize, now: SimTime, ready: SimTime) {
        let node_timeout = self.node_timeout;
        let view = &mut self.views[shard];
        view.writable_at = ready + WRITABLE_DELAY;
        match view.fail_at {
            // Back before anyone flagged it: the failure never showed
            // beyond its own keys.
            Some(fail) if now < fail => {
                view.fail_at = None;
                view.covered_at = None;
            }
            Some(fail) => {
                let undo = fail + node_timeout + node_timeout;
                view.covered_at = Some(now.max(undo) + PONG_AFTER_UNDO);
            }
            None => {}
        }
        view.died_at = None;
    }
    /// The shard holding `session`: the slot of its key (the one live mode
    /// writes with the same tag), without allocating.
    fn shard_of(&self, session: SessionId) -> usize {
        let mut key = [0u8; KEY_PREFIX.len() + 36];
        key[..KEY_PREFIX.len()].copy_from_slice(KEY_PREFIX);
        key[KEY_PREFIX.len()..].copy_from_slice(&session_uuid(self.key_tag, session));
        usize::from(key_slot(&key)) * self.shards.len() / usize::from(SLOTS)
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
        if self.refuses(shard, now) {
            return Reply::REFUSED;
        }
        self.shards[shard].create(now, server, session, owner)
    }

    fn access(
        &mut self,
        now: SimTime,
        server: ServerId,
        session: SessionId,
        owner: UserId,
    ) -> Reply {
        let shard = self.shard_of(session);
        if self.refuses(shard, now) {
            return Reply::REFUSED;
        }
        self.shards[shard].access(now, server, session, owner)
    }

    fn fault(&mut self, now: SimTime, fault: StoreFault, lost: LostSessions<'_>) -> FaultReply {
        let n = self.shards.len();
        match fault {
            StoreFault::ServerMemoryLost(_) | StoreFault::ServerAdded(_) => {
                FaultReply::NotApplicable
            }
            // A fault naming a shard this cluster does not have wraps around.
            StoreFault::Stop { shard, .. } | StoreFault::LosePrimary { shard, .. } => {
                let shard = shard as usize % n;
                let reply = self.shards[shard].fault(now, fault, lost);
                if reply == FaultReply::Done {
                    self.died(shard, now);
                }
                reply
            }
            StoreFault::Promote { shard } => {
                let shard = shard as usize % n;
                let reply = self.shards[shard].fault(now, fault, lost);
                if reply == FaultReply::Done {
                    // The replica serves the slots: covered again.
                    self.views[shard].covered_at = Some(now);
                    self.views[shard].died_at = None;
                }
                reply
            }
            StoreFault::Start { shard, .. } => {
                let shard = shard as usize % n;
                let reply = self.shards[shard].fault(now, fault, lost);
                if let FaultReply::Ready(ready) = reply {
                    self.restarted(shard, now, ready);
                }
                reply
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::dist::Dist;
    use crate::sim::store::{Persistence, RedisConfig, RestartMode};

    fn secs(s: f64) -> SimTime {
        SimTime::ZERO + SimDuration::from_nanos_f64(s * 1e9)
    }

    /// Whether a request for a key of `shard` is refused at `t`, as a
    /// client would see it (connection refused or CLUSTERDOWN).
    fn down(cluster: &mut ClusterStore, shard: usize, t: f64) -> bool {
        // Find a session id on that shard.
        let session = (1..)
            .map(SessionId)
            .find(|&s| cluster.shard_of(s) == shard)
            .expect("some id maps to every shard");
        cluster
            .create(secs(t), ServerId(0), session, UserId(0))
            .lookup
            .failed()
    }

    fn cluster() -> ClusterStore {
        let config = RedisConfig {
            latency: Dist::constant(SimDuration::from_micros(300)),
            persistence: Persistence::None,
            loading_rate: Some(1e12),
            fsync_latency: Dist::constant(SimDuration::from_micros(200)),
            pipeline: false,
            replication: None,
            shards: 3,
            node_timeout: SimDuration::from_secs(6),
            client: crate::sim::client::ClientPolicy::FailFast,
        };
        let shards = (0..3)
            .map(|i| RedisStore::new(SimDuration::from_secs(1800), config.clone(), i))
            .collect();
        ClusterStore::new(shards, SimDuration::from_secs(6), 1)
    }

    #[test]
    fn a_primary_without_replica_keeps_the_cluster_down_for_twice_the_node_timeout() {
        // Shard 0 killed at 30 s, restarted at 40 s, node timeout 6 s: FAIL
        // at 30 + 6 + 1.3 = 37.3 s; the restarted node serves its own keys
        // from 40 + 2 = 42 s; the others clear FAIL at 37.3 + 12 + 0.9 =
        // 50.2 s. (Live, on this machine: 37.3 s, 42 s and 50.2 s.)
        let mut c = cluster();
        let stop = StoreFault::Stop {
            shard: 0,
            mode: RestartMode::Crash,
        };
        c.fault(secs(30.0), stop, &mut |_, _| {});
        assert!(down(&mut c, 0, 31.0));
        assert!(!down(&mut c, 1, 37.2));
        assert!(down(&mut c, 1, 37.3));
        c.fault(
            secs(40.0),
            StoreFault::Start {
                shard: 0,
                rejoin: false,
            },
            &mut |_, _| {},
        );
        assert!(down(&mut c, 0, 41.9));
        assert!(!down(&mut c, 0, 42.0));
        assert!(down(&mut c, 2, 50.1));
        assert!(!down(&mut c, 2, 50.2));
    }

    #[test]
    fn a_primary_back_before_the_node_timeout_never_takes_the_cluster_down() {
        let mut c = cluster();
        let stop = StoreFault::Stop {
            shard: 1,
            mode: RestartMode::Crash,
        };
        c.fault(secs(10.0), stop, &mut |_, _| {});
        c.fault(
            secs(14.0),
            StoreFault::Start {
                shard: 1,
                rejoin: false,
            },
            &mut |_, _| {},
        );
        assert!(!down(&mut c, 0, 15.0));
        assert!(!down(&mut c, 0, 30.0));
        assert!(
            down(&mut c, 1, 15.9),
            "writable delay of the restarted node"
        );
        assert!(!down(&mut c, 1, 16.0));
    }
}
