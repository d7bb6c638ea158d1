//! `power_of_two`: pick two servers at random, send the request to the one
//! with fewer requests in flight.
//!
//! The "power of two choices" (Mitzenmacher): almost as even as
//! least-connections, without scanning every server, and no herd on the
//! single least-loaded one. Like round-robin, it knows nothing of sessions.

use rand::Rng;

use super::{Balancer, BalancerSpec, BuildContext, RetryStyle};
use crate::sim::rng::{Purpose, stream};
use crate::sim::servers::ServerPool;
use crate::sim::time::SimTime;
use crate::sim::{ServerId, UserId};

pub const SPEC: BalancerSpec = BalancerSpec {
    name: "power_of_two",
    about: "two random servers, the one with fewer requests in flight",
    build,
};

fn build(ctx: &BuildContext) -> Box<dyn Balancer> {
    Box::new(PowerOfTwo {
        seed: ctx.seed,
        picks: 0,
    })
}

pub struct PowerOfTwo {
    seed: u64,
    /// Picks so far: the index of the next random draw.
    picks: u64,
}

impl Balancer for PowerOfTwo {
    fn pick(
        &mut self,
        _user: UserId,
        servers: &ServerPool,
        _now: SimTime,
        avoid: Option<ServerId>,
    ) -> Option<ServerId> {
        let list = servers.in_service();
        let n = list.len();
        if n == 0 {
            return None;
        }
        let mut rng = stream(self.seed, Purpose::Balancer, 0, self.picks);
        self.picks += 1;
        let i = rng.random_range(0..n);
        if n == 1 {
            return Some(list[i]);
        }
        // A second, different server: draw among the n - 1 others.
        let mut j = rng.random_range(0..n - 1);
        if j >= i {
            j += 1;
        }
        let (a, b) = (list[i], list[j]);
        // A retry avoids the server that failed, if the other draw allows.
        Some(match avoid {
            Some(failed) if a == failed => b,
            Some(failed) if b == failed => a,
            _ if servers.in_flight(b) < servers.in_flight(a) => b,
            _ => a,
        })
    }

    /// HAProxy's `balance random(2)` is a round-robin kind of algorithm:
    /// with `option redispatch`, retries are re-balanced at once.
    fn retries(&self) -> RetryStyle {
        RetryStyle::Rebalance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_the_less_loaded_of_two_and_spreads_load() {
        let mut pool = ServerPool::new(4, 0);
        let mut lb = build(&BuildContext {
            users: 1,
            servers: 4,
            seed: 1,
        });
        // Keep server 0 busy: it must win a pick far less often than 1/4.
        for u in 0..50 {
            pool.admit(ServerId(0), UserId(u));
        }
        let mut counts = [0u32; 4];
        for u in 0..4000 {
            counts[lb
                .pick(UserId(u), &pool, SimTime::ZERO, None)
                .unwrap()
                .index()] += 1;
        }
        // Server 0 is chosen only when both draws hit it, which the distinct
        // second draw rules out: never.
        assert_eq!(counts[0], 0, "{counts:?}");
        for c in &counts[1..] {
            assert!((1100..=1550).contains(c), "{counts:?}");
        }
    }
}
