//! One app server's connection to Redis, shared by all its requests, and
//! the `WAIT`s that hold it.
//!
//! Spring Data Redis shares one native Lettuce connection among all of an
//! app's threads (`LettuceConnectionFactory`: `shareNativeConnection`,
//! true by default); lbsim's live driver and the stack's app servers open
//! one multiplexed connection per app server in the same way. Redis runs
//! one client's commands in the order they arrived, and stops reading a
//! blocked client's next ones: `processInputBuffer` breaks on
//! `CLIENT_BLOCKED` (networking.c). `WAIT` blocks its client until enough
//! replicas acknowledged the connection's last write or its timeout passed
//! (`waitCommand`, `blockForReplication` in replication.c). So while one
//! request's `WAIT` times out, every request of that server waits behind
//! it; a second `WAIT` queued behind the first blocks again when its turn
//! comes; and a request whose command waits longer than the client's
//! response timeout fails, while the command itself stays queued in Redis
//! and still blocks the connection when it runs.
//!
//! Only `WAIT`s hold the connection here: every other command takes its
//! round trip (the lifecycle's) and no time in Redis. A request's commands
//! other than its `WAIT` run at one instant, after every `WAIT` sent
//! before the request's first command; its `WAIT` is sent then and runs
//! after every `WAIT` sent before it. Without `wait_for_replicas` nothing
//! is ever queued and the connection costs nothing.

use std::collections::VecDeque;

use super::replication::WaitAnswer;
use crate::sim::ServerId;
use crate::sim::store::{Lookup, Reply};
use crate::sim::time::{SimDuration, SimTime};

/// Every app server's connection, by server id, and how long their
/// client waits for a reply.
#[derive(Clone, Debug)]
pub(super) struct Connections {
    by_server: Vec<SharedConnection>,
    /// The client's response timeout (`ClientPolicy::response_timeout`).
    patience: SimDuration,
}

impl Connections {
    pub(super) fn new(patience: SimDuration) -> Self {
        Connections {
            by_server: Vec::new(),
            patience,
        }
    }

    /// `server`'s connection, opened on its first request.
    pub(super) fn of(&mut self, server: ServerId) -> &mut SharedConnection {
        let index = server.0 as usize;
        if index >= self.by_server.len() {
            self.by_server
                .resize_with(index + 1, SharedConnection::default);
        }
        &mut self.by_server[index]
    }

    /// When the first command of a request `server` sends at `now` runs;
    /// `Err` with the failed reply if it would wait longer than the client
    /// does.
    pub(super) fn runs_at(&mut self, now: SimTime, server: ServerId) -> Result<SimTime, Reply> {
        let runs = self.of(server).runs_at(now, now);
        if runs.since(now) > self.patience {
            return Err(Reply {
                lookup: Lookup::Refused,
                waited: self.patience,
            });
        }
        Ok(runs)
    }

    /// The reply to a request sent at `now` whose commands ran at `runs`
    /// and whose `WAIT`, sent then, got `answer`: found if acknowledged,
    /// refused if not, or if the client stopped waiting first.
    pub(super) fn reply(&self, now: SimTime, runs: SimTime, answer: WaitAnswer) -> Reply {
        let (lookup, waited) = if answer.at.since(runs) > self.patience {
            (Lookup::Refused, runs.since(now) + self.patience)
        } else if answer.acknowledged {
            (Lookup::Found, answer.at.since(now))
        } else {
            (Lookup::Refused, answer.at.since(now))
        };
        Reply { lookup, waited }
    }

    /// Every connection closed (Redis went down, or the app servers moved
    /// to a promoted replica): what was queued on them is gone.
    pub(super) fn closed(&mut self) {
        self.by_server.iter_mut().for_each(SharedConnection::closed);
    }
}

/// A `WAIT` queued or running on the connection.
#[derive(Clone, Copy, Debug)]
struct Blocking {
    /// When the client sent it.
    sent: SimTime,
    /// When Redis answers it and reads the connection's next command.
    returns: SimTime,
}

/// The `WAIT`s on one app server's connection, in the order Redis runs
/// them. Both their send and their return times only grow: a command
/// runs after every `WAIT` sent before it.
#[derive(Clone, Debug, Default)]
pub(super) struct SharedConnection {
    waits: VecDeque<Blocking>,
}

impl SharedConnection {
    /// When a command the client sends at `sent` runs: once every `WAIT`
    /// sent before it has returned. `now` is the simulation's time (at
    /// most `sent`): what returned by then is forgotten.
    pub(super) fn runs_at(&mut self, now: SimTime, sent: SimTime) -> SimTime {
        while self.waits.front().is_some_and(|w| w.returns <= now) {
            self.waits.pop_front();
        }
        // Return times grow with send times: the last one sent before
        // `sent` returns last.
        self.waits
            .iter()
            .rev()
            .find(|w| w.sent < sent)
            .map_or(sent, |w| w.returns.max(sent))
    }

    /// Queues a `WAIT` sent at `sent`: it runs once every `WAIT` queued
    /// before it has returned, and `returns` says, from the time it
    /// starts, when Redis answers it. Returns that answer's time.
    pub(super) fn wait(
        &mut self,
        sent: SimTime,
        returns: impl FnOnce(SimTime) -> SimTime,
    ) -> SimTime {
        let starts = self.waits.back().map_or(sent, |w| w.returns.max(sent));
        let returned = returns(starts);
        self.waits.push_back(Blocking {
            sent,
            returns: returned,
        });
        returned
    }

    /// The connection closed: what was queued on it is gone.
    fn closed(&mut self) {
        self.waits.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    #[test]
    fn a_command_waits_for_the_waits_sent_before_it_and_no_others() {
        let mut c = SharedConnection::default();
        // A WAIT at 0 that times out after 1 s.
        assert_eq!(c.wait(at(0), |s| s + SimDuration::from_secs(1)), at(1000));
        // A request at 300 ms runs at 1 s, and its WAIT, sent then, blocks
        // for the next second.
        let runs = c.runs_at(at(300), at(300));
        assert_eq!(runs, at(1000));
        assert_eq!(c.wait(runs, |s| s + SimDuration::from_secs(1)), at(2000));
        // A request at 600 ms was sent before that second WAIT: it runs at
        // 1 s too, and its own WAIT queues behind the second one.
        let runs = c.runs_at(at(600), at(600));
        assert_eq!(runs, at(1000));
        assert_eq!(c.wait(runs, |s| s + SimDuration::from_secs(1)), at(3000));
        // A request at 1.5 s comes after both: it runs at 3 s.
        assert_eq!(c.runs_at(at(1500), at(1500)), at(3000));
        // At 3 s everything has returned; a WAIT acknowledged at once
        // holds nothing.
        assert_eq!(c.runs_at(at(3000), at(3000)), at(3000));
        assert_eq!(c.wait(at(3000), |s| s), at(3000));
        assert_eq!(c.runs_at(at(3000), at(3001)), at(3001));
    }

    #[test]
    fn a_closed_connection_forgets_its_queue() {
        let mut c = SharedConnection::default();
        c.wait(at(0), |s| s + SimDuration::from_secs(10));
        c.closed();
        assert_eq!(c.runs_at(at(1), at(1)), at(1));
    }
}
