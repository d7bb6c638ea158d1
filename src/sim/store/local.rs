//! `local`: sessions in each app server's own memory.
//!
//! Like Tomcat's default `StandardManager` or Express's `MemoryStore`: a
//! session lives only in the server that created it, so a request that a
//! balancer sends elsewhere finds nothing, and a crashed server takes its
//! sessions with it. Real containers also persist sessions on a clean
//! shutdown (`SESSIONS.ser`); a crash skips that, which is what we model.
//!
//! # Memory that does not grow with requests
//! Under round-robin nearly every request logs its user out and the login
//! that follows leaves the old session behind on its server: an *orphan*
//! nobody will ask for again (the user's cookie now names the new one),
//! held until it expires and a sweep removes it. Orphans are the memory
//! round-robin wastes, a number worth showing, but storing each one would
//! make the model grow with every request (90 million at a million users
//! in 15 minutes). So the store keeps:
//!
//! - per user, the one session it created last ([`Latest`]): the only one
//!   its user can still present, since a user logs in again only after
//!   losing the session it had;
//! - per server, how many sessions it holds by the sweep that will remove
//!   them ([`Ledger`]): counts, not sessions.
//!
//! A server drops expired sessions at its periodic sweep, not the moment
//! they expire (Tomcat's `ManagerBase.backgroundProcess` runs
//! `processExpires` every `processExpiresFrequency` (6) background cycles
//! of `backgroundProcessorDelay` (10 s): once a minute). lbsim sweeps at
//! every report instant and at the end of the run, so a crash destroys the
//! live sessions users hold (named, to log their users out) and the
//! orphans still in memory (counted), expired or not.

use super::{FaultReply, LostSessions, Reply, SessionStore, StoreFault, is_expired};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::{ServerId, SessionId, UserId};

/// Marks a user with no session in any server's memory.
const NOWHERE: ServerId = ServerId(u32::MAX);

/// The session a user created last, where it lives.
#[derive(Clone, Copy, Debug)]
struct Latest {
    session: SessionId,
    last_access: SimTime,
    server: ServerId,
}

const NONE_YET: Latest = Latest {
    session: SessionId::NONE,
    last_access: SimTime::ZERO,
    server: NOWHERE,
};

/// The instants a server's memory is swept: every report instant before
/// the end of the run, then the end. Sweep `k` removes the sessions that
/// expired by its instant; a session expiring after the end is never swept.
#[derive(Clone, Copy, Debug)]
pub struct Sweeps {
    pub every: SimDuration,
    pub end: SimTime,
}

impl Sweeps {
    /// Number of sweeps in the run.
    fn count(self) -> usize {
        let every = self.every.as_nanos().max(1);
        let end = self.end.as_nanos();
        // Report instants k * every for k * every < end, then the end.
        (end.saturating_sub(1) / every + 1) as usize
    }

    /// The instant of sweep `k`.
    fn at(self, k: usize) -> SimTime {
        let t = SimTime::ZERO + SimDuration::from_nanos(self.every.as_nanos() * (k as u64 + 1));
        t.min(self.end)
    }

    /// The sweep that removes a session expiring at `expiry` (the first
    /// sweep at or after it); `count()` if none does.
    fn removing(self, expiry: SimTime) -> usize {
        if expiry > self.end {
            return self.count();
        }
        let every = self.every.as_nanos().max(1);
        let k = expiry.as_nanos().div_ceil(every).saturating_sub(1) as usize;
        k.min(self.count() - 1)
    }
}

/// One server's memory, as counts of sessions by the sweep that will
/// remove them (the last slot: after the end).
#[derive(Clone, Debug)]
struct Ledger {
    by_sweep: Vec<u32>,
}

impl Ledger {
    fn new(sweeps: Sweeps) -> Self {
        Ledger {
            by_sweep: vec![0; sweeps.count() + 1],
        }
    }

    /// Sessions in memory now, given that sweeps before `next` ran.
    fn held(&self, next: usize) -> u64 {
        self.by_sweep[next..].iter().map(|&n| u64::from(n)).sum()
    }
}

pub struct LocalStore {
    ttl: SimDuration,
    sweeps: Sweeps,
    /// The next sweep to run; buckets before it are empty.
    next_sweep: usize,
    /// Per user, indexed by user.
    latest: Vec<Latest>,
    /// One ledger per server, indexed by server.
    memory: Vec<Ledger>,
}

impl LocalStore {
    pub fn new(ttl: SimDuration, servers: u32, users: u32, sweeps: Sweeps) -> Self {
        LocalStore {
            ttl,
            sweeps,
            next_sweep: 0,
            latest: crate::sim::cache::per_user(NONE_YET, users as usize),
            memory: (0..servers).map(|_| Ledger::new(sweeps)).collect(),
        }
    }

    /// Sessions `server` holds in memory (expired ones not yet swept
    /// included), for tests that look inside a run.
    pub fn sessions_on(&self, server: ServerId) -> usize {
        self.memory
            .get(server.index())
            .map_or(0, |m| m.held(self.next_sweep) as usize)
    }

    /// The sweep that removes a session last accessed at `last_access`.
    fn bucket(&self, last_access: SimTime) -> usize {
        self.sweeps.removing(last_access + self.ttl)
    }

    /// True if no sweep has removed a session last accessed at
    /// `last_access` yet.
    fn unswept(&self, last_access: SimTime) -> bool {
        self.bucket(last_access) >= self.next_sweep
    }

    /// Takes a session out of its server's count, if a sweep has not
    /// already removed it.
    fn forget(&mut self, held: Latest) {
        if self.unswept(held.last_access) {
            let bucket = self.bucket(held.last_access);
            self.memory[held.server.index()].by_sweep[bucket] -= 1;
        }
    }

    fn remember(&mut self, held: Latest) {
        let bucket = self.bucket(held.last_access);
        self.memory[held.server.index()].by_sweep[bucket] += 1;
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
        // The session the owner had stays in its server's memory, an
        // orphan, until a sweep removes it: it stays counted where it is.
        let new = Latest {
            session,
            last_access: now,
            server,
        };
        self.latest[owner.index()] = new;
        self.remember(new);
        Reply::FOUND
    }

    fn access(
        &mut self,
        now: SimTime,
        server: ServerId,
        session: SessionId,
        owner: UserId,
    ) -> Reply {
        let held = self.latest[owner.index()];
        // Any other session (an orphan, or one on another server) is not
        // in this server's memory under that id.
        if held.session != session || held.server != server {
            return Reply::MISSING;
        }
        self.forget(held);
        if is_expired(held.last_access, self.ttl, now) {
            // Found expired: the server drops it on the spot.
            self.latest[owner.index()].server = NOWHERE;
            return Reply::MISSING;
        }
        let refreshed = Latest {
            last_access: now,
            ..held
        };
        self.latest[owner.index()] = refreshed;
        self.remember(refreshed);
        Reply::FOUND
    }

    #[inline]
    fn prefetch(&self, user: UserId) {
        crate::sim::cache::prefetch_at(&self.latest, user.index());
    }

    fn fault(&mut self, now: SimTime, fault: StoreFault, lost: LostSessions<'_>) -> FaultReply {
        match fault {
            StoreFault::ServerMemoryLost(server) => {
                // The recovered server starts from nothing, as a new
                // process would.
                let in_memory = self.memory[server.index()].held(self.next_sweep);
                let mut latest_in_memory = 0;
                for user in 0..self.latest.len() {
                    let held = self.latest[user];
                    if held.server != server {
                        continue;
                    }
                    if self.unswept(held.last_access) {
                        latest_in_memory += 1;
                    }
                    if !is_expired(held.last_access, self.ttl, now) {
                        lost(UserId(user as u32), held.session);
                    }
                    self.latest[user].server = NOWHERE;
                }
                self.memory[server.index()] = Ledger::new(self.sweeps);
                FaultReply::Orphans(in_memory - latest_in_memory)
            }
            StoreFault::ServerAdded(server) => {
                debug_assert_eq!(server.index(), self.memory.len(), "server ids grow by one");
                self.memory.push(Ledger::new(self.sweeps));
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
        while self.next_sweep < self.sweeps.count() && self.sweeps.at(self.next_sweep) <= now {
            for ledger in &mut self.memory {
                ledger.by_sweep[self.next_sweep] = 0;
            }
            self.next_sweep += 1;
        }
        let next = self.next_sweep;
        self.memory.iter().map(|m| m.held(next)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    /// A sweep every second over a 10-minute run.
    fn store(ttl: u64, servers: u32) -> LocalStore {
        let sweeps = Sweeps {
            every: SimDuration::from_secs(1),
            end: secs(600),
        };
        LocalStore::new(SimDuration::from_secs(ttl), servers, 8, sweeps)
    }

    #[test]
    fn a_session_exists_only_where_it_was_created() {
        let mut store = store(60, 2);
        store.create(secs(0), ServerId(0), SessionId(1), UserId(7));
        assert_eq!(
            store.access(secs(1), ServerId(1), SessionId(1), UserId(7)),
            Reply::MISSING
        );
        assert_eq!(
            store.access(secs(1), ServerId(0), SessionId(1), UserId(7)),
            Reply::FOUND
        );
    }

    #[test]
    fn sliding_ttl_expires_exactly_at_ttl_after_last_access() {
        let mut store = store(60, 1);
        store.create(secs(0), ServerId(0), SessionId(1), UserId(0));
        assert_eq!(
            store.access(secs(59), ServerId(0), SessionId(1), UserId(0)),
            Reply::FOUND
        );
        // Refreshed at 59 s, so alive until just before 119 s.
        assert_eq!(store.sweep_expired(secs(118)), 1);
        assert_eq!(store.sweep_expired(secs(119)), 0);
        assert_eq!(
            store.access(secs(119), ServerId(0), SessionId(1), UserId(0)),
            Reply::MISSING
        );
    }

    #[test]
    fn a_crash_loses_that_servers_live_sessions_and_counts_its_orphans() {
        let mut store = store(60, 2);
        store.create(secs(0), ServerId(0), SessionId(1), UserId(1));
        store.create(secs(50), ServerId(0), SessionId(2), UserId(2));
        store.create(secs(50), ServerId(1), SessionId(3), UserId(3));
        // User 3 logs in again on server 0: session 3 stays on server 1, an
        // orphan; user 2 again on server 1, leaving session 2 on server 0.
        store.create(secs(55), ServerId(0), SessionId(4), UserId(3));
        store.create(secs(56), ServerId(1), SessionId(5), UserId(2));
        assert_eq!(store.sessions_on(ServerId(0)), 3);
        let mut lost = Vec::new();
        // At 70 s session 1 has expired: it is not named, and as the sweep
        // at 60 s removed it, not counted either. Session 2 is an orphan
        // still in memory.
        store.sweep_expired(secs(69));
        let lose = StoreFault::ServerMemoryLost(ServerId(0));
        let reply = store.fault(secs(70), lose, &mut |user, session| {
            lost.push((user, session))
        });
        assert_eq!(lost, [(UserId(3), SessionId(4))]);
        assert_eq!(reply, FaultReply::Orphans(1));
        assert_eq!(
            store.access(secs(71), ServerId(0), SessionId(4), UserId(3)),
            Reply::MISSING
        );
        assert_eq!(
            store.access(secs(71), ServerId(1), SessionId(5), UserId(2)),
            Reply::FOUND
        );
        // Server 1 still holds user 2's session 5 and the orphan session 3.
        assert_eq!(store.sessions_on(ServerId(1)), 2);
    }

    #[test]
    fn an_expired_orphan_stays_in_memory_until_the_sweep() {
        let mut store = store(10, 1);
        store.create(secs(0), ServerId(0), SessionId(1), UserId(0));
        store.create(secs(1), ServerId(0), SessionId(2), UserId(0));
        // Session 1 expired at 10 s; without a sweep since, it is held.
        let reply = store.fault(
            secs(10) + SimDuration::from_millis(500),
            StoreFault::ServerMemoryLost(ServerId(0)),
            &mut |_, _| {},
        );
        assert_eq!(reply, FaultReply::Orphans(1));
    }

    #[test]
    fn sweeps_fall_on_report_instants_and_the_end() {
        let sweeps = Sweeps {
            every: SimDuration::from_secs(10),
            end: secs(25),
        };
        assert_eq!(sweeps.count(), 3);
        assert_eq!(
            (0..3).map(|k| sweeps.at(k)).collect::<Vec<_>>(),
            [secs(10), secs(20), secs(25)]
        );
        assert_eq!(sweeps.removing(secs(10)), 0);
        assert_eq!(sweeps.removing(secs(10) + SimDuration::from_nanos(1)), 1);
        assert_eq!(sweeps.removing(secs(25)), 2);
        assert_eq!(sweeps.removing(secs(26)), 3);
    }
}
