//! `round_robin`: each request goes to the next server that is up.
//!
//! The default of nginx and HAProxy (`balance roundrobin`). It spreads load
//! evenly and knows nothing about users, so with sessions in each server's
//! own memory a user's next request lands, with probability (N-1)/N, on a
//! server that has never seen its session.

use super::{Balancer, BalancerSpec, BuildContext, RetryStyle, next_up};
use crate::sim::servers::ServerPool;
use crate::sim::time::SimTime;
use crate::sim::{ServerId, UserId};

pub const SPEC: BalancerSpec = BalancerSpec {
    name: "round_robin",
    about: "each request to the next server that is up",
    build,
};

fn build(_ctx: &BuildContext) -> Box<dyn Balancer> {
    Box::new(RoundRobin { cursor: 0 })
}

pub struct RoundRobin {
    /// The server the next request tries first.
    cursor: u32,
}

impl Balancer for RoundRobin {
    fn pick(
        &mut self,
        _user: UserId,
        servers: &ServerPool,
        _now: SimTime,
        avoid: Option<ServerId>,
    ) -> Option<ServerId> {
        next_up(&mut self.cursor, servers, avoid)
    }

    /// With `option redispatch`, HAProxy re-balances a `roundrobin` retry at
    /// once to the next server (without it, `sim::lifecycle::retry` keeps
    /// the retry on the same server).
    fn retries(&self) -> RetryStyle {
        RetryStyle::Rebalance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_over_up_servers() {
        let mut pool = ServerPool::new(3, 0);
        let mut lb = build(&BuildContext {
            users: 1,
            servers: 3,
            seed: 1,
        });
        let picks: Vec<u32> = (0..6)
            .map(|u| lb.pick(UserId(u), &pool, SimTime::ZERO, None).unwrap().0)
            .collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        pool.crash(ServerId(1));
        let picks: Vec<u32> = (0..4)
            .map(|u| lb.pick(UserId(u), &pool, SimTime::ZERO, None).unwrap().0)
            .collect();
        assert_eq!(picks, [0, 2, 0, 2]);
    }
}
