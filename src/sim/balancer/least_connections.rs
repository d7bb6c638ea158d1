//! `least_connections`: each request goes to the up server with the fewest
//! requests in flight.
//!
//! Like HAProxy's `balance leastconn`, ties are broken by rotation (the scan
//! starts after the previously chosen server); without that, an idle farm
//! would send everything to server 0. It balances load better than
//! round-robin when service times vary, and is just as bad for in-memory
//! sessions.

use super::{Balancer, BalancerSpec, BuildContext, RetryStyle};
use crate::sim::servers::ServerPool;
use crate::sim::time::SimTime;
use crate::sim::{ServerId, UserId};

pub const SPEC: BalancerSpec = BalancerSpec {
    name: "least_connections",
    about: "each request to the up server with the fewest requests in flight",
    build,
};

fn build(_ctx: &BuildContext) -> Box<dyn Balancer> {
    Box::new(LeastConnections { cursor: 0 })
}

pub struct LeastConnections {
    /// Where the next scan starts, for tie-breaking by rotation.
    cursor: u32,
}

impl Balancer for LeastConnections {
    fn pick(
        &mut self,
        _user: UserId,
        servers: &ServerPool,
        _now: SimTime,
        avoid: Option<ServerId>,
    ) -> Option<ServerId> {
        let n = servers.len();
        let mut best: Option<(u32, ServerId)> = None;
        for step in 0..n {
            let candidate = ServerId((self.cursor + step) % n);
            // `fwlc_get_next_server` skips the server to avoid.
            if !servers.is_up(candidate) || Some(candidate) == avoid {
                continue;
            }
            let load = servers.in_flight(candidate);
            if best.is_none_or(|(best_load, _)| load < best_load) {
                best = Some((load, candidate));
            }
        }
        let (_, chosen) = best?;
        self.cursor = (chosen.0 + 1) % n;
        Some(chosen)
    }

    /// HAProxy 2.6 treats `leastconn` as a deterministic algorithm: retries
    /// stay on the server (the re-balance of retries was extended beyond
    /// round-robin kinds only in 2.7).
    fn retries(&self) -> RetryStyle {
        RetryStyle::SameServer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_the_least_loaded_and_rotates_on_ties() {
        let mut pool = ServerPool::new(3, 0);
        let mut lb = build(&BuildContext {
            users: 10,
            servers: 3,
            seed: 1,
        });
        // Idle farm: rotation.
        let picks: Vec<u32> = (0..3)
            .map(|u| lb.pick(UserId(u), &pool, SimTime::ZERO, None).unwrap().0)
            .collect();
        assert_eq!(picks, [0, 1, 2]);
        // Load servers 0 and 2; server 1 must win until it catches up.
        pool.admit(ServerId(0), UserId(0));
        pool.admit(ServerId(0), UserId(1));
        pool.admit(ServerId(2), UserId(2));
        assert_eq!(
            lb.pick(UserId(3), &pool, SimTime::ZERO, None),
            Some(ServerId(1))
        );
        pool.admit(ServerId(1), UserId(3));
        // Now 1 and 2 tie at one each; the scan starts after 1, so 2.
        assert_eq!(
            lb.pick(UserId(4), &pool, SimTime::ZERO, None),
            Some(ServerId(2))
        );
        pool.crash(ServerId(1));
        pool.crash(ServerId(2));
        assert_eq!(
            lb.pick(UserId(5), &pool, SimTime::ZERO, None),
            Some(ServerId(0))
        );
    }
}
