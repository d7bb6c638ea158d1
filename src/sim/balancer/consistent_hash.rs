//! `consistent_hash`: HAProxy's `balance source` with `hash-type
//! consistent`: users and servers hashed onto a ring; a user goes to the
//! first server clockwise from its own point.
//!
//! Each server has 16 points on the ring, as HAProxy gives a server of
//! weight 1 (`lb_nodes_tot = uweight * BE_WEIGHT_SCALE`, 16, in
//! `lb_chash.c`): fewer than ketama's 160, so shares are less even. When a
//! server joins, it takes over only the arcs just before its points, about
//! 1/(N+1) of users; when one goes down, only its own users move, and back
//! when it returns ("only its associations are moved", the `hash-type`
//! documentation). A retry skips the failed server (`chash_get_server_hash`
//! honours the server to avoid).

use super::{Balancer, BalancerSpec, BuildContext, RetryStyle, client_address};
use crate::sim::rng::hash64;
use crate::sim::servers::ServerPool;
use crate::sim::time::SimTime;
use crate::sim::{ServerId, UserId};

pub const SPEC: BalancerSpec = BalancerSpec {
    name: "consistent_hash",
    about: "HAProxy balance source, hash-type consistent: a hash ring (1/(N+1) of users move when a server joins)",
    build,
};

/// Points per server on the ring: HAProxy's `BE_WEIGHT_SCALE` for weight 1.
const VIRTUAL_NODES: u64 = 16;

fn build(_ctx: &BuildContext) -> Box<dyn Balancer> {
    Box::new(ConsistentHash {
        ring: Vec::new(),
        version: u64::MAX,
    })
}

pub struct ConsistentHash {
    /// Ring points in increasing order, each owned by a server.
    ring: Vec<(u64, ServerId)>,
    /// The server-pool version the ring was built for; rebuilt when the
    /// servers in service change (rare: scale events, crashes).
    version: u64,
}

impl ConsistentHash {
    fn rebuild(&mut self, servers: &ServerPool) {
        self.ring.clear();
        for &server in servers.in_service() {
            for point in 0..VIRTUAL_NODES {
                self.ring
                    .push((hash64(&[0x7269_6e67, u64::from(server.0), point]), server));
            }
        }
        self.ring.sort_unstable();
        self.version = servers.version();
    }
}

impl Balancer for ConsistentHash {
    fn pick(
        &mut self,
        user: UserId,
        servers: &ServerPool,
        _now: SimTime,
        avoid: Option<ServerId>,
    ) -> Option<ServerId> {
        if self.version != servers.version() {
            self.rebuild(servers);
        }
        if self.ring.is_empty() {
            return None;
        }
        // HAProxy applies `full_hash` (avalanche) to the address for a
        // consistent ring; our hash64 plays that part.
        let address = u32::from_be_bytes(client_address(user));
        let h = hash64(&[u64::from(address)]);
        let at = self.ring.partition_point(|&(point, _)| point < h);
        let len = self.ring.len();
        // The next point clockwise that is not the server to avoid.
        (0..len)
            .map(|k| self.ring[(at + k) % len].1)
            .find(|&s| Some(s) != avoid)
            .or(Some(self.ring[at % len].1))
    }

    fn retries(&self) -> RetryStyle {
        RetryStyle::SameServer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::balancer::remapped_share;

    #[test]
    fn a_scale_out_remaps_about_1_over_n_plus_1_of_users() {
        // From 4 to 5 servers the new server takes about 1/5 of the ring.
        // With 16 points per server its share is the sum of 16 arcs out of
        // 80, whose relative sd is about 1/sqrt(16) = 25%: 0.2 +- 0.05 at
        // one sd, so this seed's share is checked against 0.2 +- 0.1 (two
        // sd), and against what map-based hashing moves (0.8).
        let share = remapped_share(build, 4, 20_000);
        assert!((share - 0.2).abs() < 0.1, "{share}");
    }
}
