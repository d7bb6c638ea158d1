//! `cookie`: stateless sessions in a signed cookie (Rails' cookie store,
//! Express `cookie-session`, a JWT).
//!
//! The session travels with every request, signed by the server, so there
//! is nothing on the server side to lose: no app-server crash, scale-in or
//! Redis restart can log anyone out. The price, not modelled here beyond a
//! verification latency: larger requests, a 4 KB limit, and no server-side
//! revocation (a stolen cookie stays valid until it expires). The map below
//! stands for what the users' browsers hold; it expires like any sliding
//! session, the signed expiry being refreshed on every response.

use rustc_hash::FxHashMap;

use super::{FaultReply, LostSessions, Reply, SessionStore, StoreFault, is_expired};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::{ServerId, SessionId, UserId};

pub struct CookieStore {
    ttl: SimDuration,
    /// Last access of each session, as its cookie carries it.
    cookies: FxHashMap<SessionId, SimTime>,
}

impl CookieStore {
    pub fn new(ttl: SimDuration) -> Self {
        CookieStore {
            ttl,
            cookies: FxHashMap::default(),
        }
    }
}

impl SessionStore for CookieStore {
    fn create(&mut self, now: SimTime, _: ServerId, session: SessionId, _: UserId) -> Reply {
        self.cookies.insert(session, now);
        Reply::FOUND
    }

    fn access(&mut self, now: SimTime, _: ServerId, session: SessionId, _: UserId) -> Reply {
        match self.cookies.get_mut(&session) {
            Some(last) if !is_expired(*last, self.ttl, now) => {
                *last = now;
                Reply::FOUND
            }
            Some(_) => {
                self.cookies.remove(&session);
                Reply::MISSING
            }
            None => Reply::MISSING,
        }
    }

    /// Nothing on the server side holds a cookie: no fault can touch one.
    fn fault(&mut self, _: SimTime, _: StoreFault, _: LostSessions<'_>) -> FaultReply {
        FaultReply::NotApplicable
    }

    fn tick_interval(&self) -> Option<SimDuration> {
        None
    }

    fn tick(&mut self, _: SimTime) {}

    fn sweep_expired(&mut self, now: SimTime) -> u64 {
        let ttl = self.ttl;
        self.cookies.retain(|_, last| !is_expired(*last, ttl, now));
        self.cookies.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_on_the_server_side_can_lose_a_cookie() {
        let t = |s| SimTime::ZERO + SimDuration::from_secs(s);
        let mut store = CookieStore::new(SimDuration::from_secs(60));
        store.create(t(0), ServerId(0), SessionId(1), UserId(1));
        let mut lost = 0;
        let crash = StoreFault::ServerMemoryLost(ServerId(0));
        store.fault(t(1), crash, &mut |_, _| lost += 1);
        let stop = StoreFault::Stop {
            shard: 0,
            mode: crate::sim::store::RestartMode::Crash,
        };
        store.fault(t(2), stop, &mut |_, _| lost += 1);
        assert_eq!(lost, 0);
        assert_eq!(
            store.access(t(3), ServerId(5), SessionId(1), UserId(0)),
            Reply::FOUND
        );
        assert_eq!(
            store.access(t(100), ServerId(0), SessionId(1), UserId(0)),
            Reply::MISSING
        );
    }
}
