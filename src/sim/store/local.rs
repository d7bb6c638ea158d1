//! `local`: sessions in each app server's own memory.
//!
//! Like Tomcat's default `StandardManager` or Express's `MemoryStore`: a
//! session lives only in the server that created it, so a request that a
//! balancer sends elsewhere finds nothing, and a crashed server takes its
//! sessions with it. Real containers also persist sessions on a clean
//! shutdown (`SESSIONS.ser`); a crash skips that, which is what we model.

use rustc_hash::FxHashMap;

use super::{FaultReply, LostSessions, Reply, SessionStore, StoreFault, is_expired};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::{ServerId, SessionId, UserId};

/// A session as a server keeps it.
#[derive(Clone, Copy, Debug)]
struct Entry {
    owner: UserId,
    last_access: SimTime,
}

pub struct LocalStore {
    ttl: SimDuration,
    /// One session map per server, indexed by server.
    memory: Vec<FxHashMap<SessionId, Entry>>,
}

impl LocalStore {
    pub fn new(ttl: SimDuration, servers: u32) -> Self {
        LocalStore {
            ttl,
            memory: (0..servers).map(|_| FxHashMap::default()).collect(),
        }
    }

    /// Sessions `server` holds in memory (expired ones not yet swept
    /// included), for tests that look inside a run.
    pub fn sessions_on(&self, server: ServerId) -> usize {
        self.memory.get(server.index()).map_or(0, |m| m.len())
    }
}

impl SessionStore for LocalStore {
    fn create(
        &mut self,
        now: SimTime,
        server: ServerId,
        session: SessionId,
        owner: UserId,
    ) -> Reply {
        self.memory[server.index()].insert(
            session,
            Entry {
                owner,
                last_access: now,
            },
        );
        Reply::FOUND
    }

    fn access(&mut self, now: SimTime, server: ServerId, session: SessionId) -> Reply {
        let map = &mut self.memory[server.index()];
        match map.get_mut(&session) {
            Some(entry) if !is_expired(entry.last_access, self.ttl, now) => {
                entry.last_access = now;
                Reply::FOUND
            }
            Some(_) => {
                map.remove(&session);
                Reply::MISSING
            }
            None => Reply::MISSING,
        }
    }

    fn fault(&mut self, now: SimTime, fault: StoreFault, lost: LostSessions<'_>) -> FaultReply {
        match fault {
            StoreFault::ServerMemoryLost(server) => {
                // Replace the map rather than clear it: the recovered server
                // starts from nothing, as a new process would.
                let memory = std::mem::take(&mut self.memory[server.index()]);
                for (session, entry) in memory {
                    if !is_expired(entry.last_access, self.ttl, now) {
                        lost(entry.owner, session);
                    }
                }
                FaultReply::Done
            }
            StoreFault::ServerAdded(server) => {
                debug_assert_eq!(server.index(), self.memory.len(), "server ids grow by one");
                self.memory.push(FxHashMap::default());
                FaultReply::Done
            }
            // No store server of its own.
            StoreFault::Stop { .. }
            | StoreFault::LosePrimary { .. }
            | StoreFault::Promote { .. }
            | StoreFault::Start { .. } => FaultReply::NotApplicable,
        }
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        None
    }

    fn tick(&mut self, _: SimTime) {}

    fn sweep_expired(&mut self, now: SimTime) -> u64 {
        let ttl = self.ttl;
        self.memory
            .iter_mut()
            .map(|map| {
                map.retain(|_, entry| !is_expired(entry.last_access, ttl, now));
                map.len() as u64
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    #[test]
    fn a_session_exists_only_where_it_was_created() {
        let mut store = LocalStore::new(SimDuration::from_secs(60), 2);
        store.create(secs(0), ServerId(0), SessionId(1), UserId(7));
        assert_eq!(
            store.access(secs(1), ServerId(1), SessionId(1)),
            Reply::MISSING
        );
        assert_eq!(
            store.access(secs(1), ServerId(0), SessionId(1)),
            Reply::FOUND
        );
    }

    #[test]
    fn sliding_ttl_expires_exactly_at_ttl_after_last_access() {
        let mut store = LocalStore::new(SimDuration::from_secs(60), 1);
        store.create(secs(0), ServerId(0), SessionId(1), UserId(0));
        assert_eq!(
            store.access(secs(59), ServerId(0), SessionId(1)),
            Reply::FOUND
        );
        // Refreshed at 59 s, so alive until just before 119 s.
        assert_eq!(store.sweep_expired(secs(118)), 1);
        assert_eq!(
            store.access(secs(119), ServerId(0), SessionId(1)),
            Reply::MISSING
        );
    }

    #[test]
    fn a_crash_loses_that_servers_live_sessions_only() {
        let mut store = LocalStore::new(SimDuration::from_secs(60), 2);
        store.create(secs(0), ServerId(0), SessionId(1), UserId(1));
        store.create(secs(50), ServerId(0), SessionId(2), UserId(2));
        store.create(secs(50), ServerId(1), SessionId(3), UserId(3));
        let mut lost = Vec::new();
        // At 70 s session 1 has already expired: it is not counted as lost.
        let lose = StoreFault::ServerMemoryLost(ServerId(0));
        store.fault(secs(70), lose, &mut |user, session| {
            lost.push((user, session))
        });
        assert_eq!(lost, [(UserId(2), SessionId(2))]);
        assert_eq!(
            store.access(secs(71), ServerId(0), SessionId(2)),
            Reply::MISSING
        );
        assert_eq!(
            store.access(secs(71), ServerId(1), SessionId(3)),
            Reply::FOUND
        );
    }
}
