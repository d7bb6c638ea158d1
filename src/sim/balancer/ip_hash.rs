//! `ip_hash`: the client address, hashed, picks the server: modulo over the
//! list of servers currently in service.
//!
//! Like nginx `ip_hash` or HAProxy `balance source` with map-based hashing:
//! a user keeps its server as long as the list does not change, which makes
//! it sticky without a cookie. But `hash mod N` moves almost everyone when N
//! changes: adding one server to N remaps about N/(N+1) of users, and each
//! remapped user with an in-memory session is logged out. (The user id
//! stands in for the client address.)

use super::{Balancer, BalancerSpec, BuildContext};
use crate::sim::rng::hash64;
use crate::sim::servers::ServerPool;
use crate::sim::{ServerId, UserId};

pub const SPEC: BalancerSpec = BalancerSpec {
    name: "ip_hash",
    about: "hash of the client address modulo the servers in service (most users move when the farm changes)",
    build,
};

fn build(_ctx: &BuildContext) -> Box<dyn Balancer> {
    Box::new(IpHash)
}

pub struct IpHash;

impl Balancer for IpHash {
    fn pick(&mut self, user: UserId, servers: &ServerPool) -> Option<ServerId> {
        let list = servers.in_service();
        if list.is_empty() {
            return None;
        }
        let h = hash64(&[u64::from(user.0)]);
        Some(list[(h % list.len() as u64) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::balancer::remapped_share;

    #[test]
    fn a_scale_out_remaps_about_n_over_n_plus_1_of_users() {
        // From 4 to 5 servers, hash mod N keeps a user only if h mod 4 ==
        // h mod 5, which holds for 4 residues of every 20: 1/5 stay, 4/5 move.
        let share = remapped_share(build, 4, 20_000);
        assert!((share - 0.8).abs() < 0.02, "{share}");
    }
}
