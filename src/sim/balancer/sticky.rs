//! `sticky`: a user stays on the server that served its first request.
//!
//! Modelled on a cookie-insert balancer (HAProxy `cookie SERVERID insert`
//! with `option redispatch`, or an AWS ALB's duration-based stickiness): the
//! first request of a user is placed round-robin and the balancer pins the
//! user to that server. If the pinned server is down, the request is
//! redispatched round-robin and the user is pinned to the new server, which
//! it keeps even after the old one recovers (the cookie was rewritten).
//! The pin belongs to the balancer, not to the session, so a user who is
//! logged out keeps its pin.

use super::{Balancer, BalancerSpec, BuildContext, RetryStyle, next_up};
use crate::sim::servers::ServerPool;
use crate::sim::time::SimTime;
use crate::sim::{ServerId, UserId};

pub const SPEC: BalancerSpec = BalancerSpec {
    name: "sticky",
    about: "pins each user to the server of its first request (cookie insert, redispatch)",
    build,
};

/// Marks a user without a pin.
const UNPINNED: u32 = u32::MAX;

fn build(ctx: &BuildContext) -> Box<dyn Balancer> {
    Box::new(Sticky {
        pins: crate::sim::cache::per_user(UNPINNED, ctx.users as usize),
        cursor: 0,
    })
}

pub struct Sticky {
    /// Server each user is pinned to, indexed by user; 4 bytes a user.
    pins: Vec<u32>,
    /// Round-robin cursor for unpinned users and redispatches.
    cursor: u32,
}

impl Balancer for Sticky {
    fn pick(
        &mut self,
        user: UserId,
        servers: &ServerPool,
        _now: SimTime,
        avoid: Option<ServerId>,
    ) -> Option<ServerId> {
        let pin = self.pins[user.index()];
        // A draining server still serves the users pinned to it; a
        // redispatch (`avoid` is the pinned server) breaks the pin.
        if pin != UNPINNED
            && pin < servers.len()
            && servers.accepts_pinned(ServerId(pin))
            && avoid != Some(ServerId(pin))
        {
            return Some(ServerId(pin));
        }
        let chosen = next_up(&mut self.cursor, servers, avoid)?;
        self.pins[user.index()] = chosen.0;
        Some(chosen)
    }

    #[inline]
    fn prefetch(&self, user: UserId) {
        crate::sim::cache::prefetch_at(&self.pins, user.index());
    }

    /// The cookie makes the request go to its server directly
    /// (`SF_DIRECT`): retries stay there until the last, which `option
    /// redispatch` sends elsewhere (and sets a new cookie).
    fn retries(&self) -> RetryStyle {
        RetryStyle::SameServer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_then_redispatches_and_repins() {
        let mut pool = ServerPool::new(3, 0);
        let mut lb = build(&BuildContext {
            users: 3,
            servers: 3,
            seed: 1,
        });
        let first: Vec<u32> = (0..3)
            .map(|u| lb.pick(UserId(u), &pool, SimTime::ZERO, None).unwrap().0)
            .collect();
        assert_eq!(first, [0, 1, 2]);
        // Every later request of a user goes to the same server.
        for _ in 0..5 {
            assert_eq!(
                lb.pick(UserId(1), &pool, SimTime::ZERO, None),
                Some(ServerId(1))
            );
        }
        pool.crash(ServerId(1));
        let moved = lb.pick(UserId(1), &pool, SimTime::ZERO, None).unwrap();
        assert_ne!(moved, ServerId(1));
        pool.recover(ServerId(1));
        // The user stays on its new server after the old one is back.
        assert_eq!(lb.pick(UserId(1), &pool, SimTime::ZERO, None), Some(moved));
        assert_eq!(
            lb.pick(UserId(0), &pool, SimTime::ZERO, None),
            Some(ServerId(0))
        );
    }
}
