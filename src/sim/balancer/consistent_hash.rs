//! `consistent_hash`: users and servers hashed onto a ring; a user goes to
//! the first server clockwise from its own point.
//!
//! Each server has 160 points (virtual nodes) on the ring, which evens out
//! the share each gets (the same count as ketama). When a server joins, it
//! takes over only the arcs just before its points, about 1/(N+1) of users;
//! when one leaves, only its own users move. That is why it is the hashing
//! of choice for caches and session affinity in elastic farms (Envoy's
//! ring hash, HAProxy `hash-type consistent`).

use super::{Balancer, BalancerSpec, BuildContext};
use crate::sim::rng::hash64;
use crate::sim::servers::ServerPool;
use crate::sim::{ServerId, UserId};

pub const SPEC: BalancerSpec = BalancerSpec {
    name: "consistent_hash",
    about: "hash ring with virtual nodes (about 1/(N+1) of users move when a server joins)",
    build,
};

/// Points per server on the ring.
const VIRTUAL_NODES: u64 = 160;

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
    fn pick(&mut self, user: UserId, servers: &ServerPool) -> Option<ServerId> {
        if self.version != servers.version() {
            self.rebuild(servers);
        }
        if self.ring.is_empty() {
            return None;
        }
        let h = hash64(&[u64::from(user.0)]);
        let at = self.ring.partition_point(|&(point, _)| point < h);
        Some(self.ring[at % self.ring.len()].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::balancer::remapped_share;

    #[test]
    fn a_scale_out_remaps_about_1_over_n_plus_1_of_users() {
        // From 4 to 5 servers the new server takes about 1/5 of the ring;
        // with 160 points per server its share varies by a few percent.
        let share = remapped_share(build, 4, 20_000);
        assert!((share - 0.2).abs() < 0.04, "{share}");
    }
}
