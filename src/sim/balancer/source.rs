//! `source`: HAProxy's `balance source` with the default `hash-type
//! map-based`: the client address, modulo the servers that are usable now.
//!
//! HAProxy (`backend.c` `get_server_sh`, `lb_map.c`) takes the IPv4
//! address as a 32-bit number and picks `map[hash % tot_weight]`, where
//! the map lists the usable servers (up and not draining) by weight, in
//! declaration order; with equal weights, the servers in service. The map
//! is rebuilt whenever a server goes down or up, so "most mappings are
//! changed when the server count changes" (the `hash-type` documentation):
//! a crash of one of N servers moves about (N-1)/N of every user, not only
//! the crashed server's, and its recovery moves them again; adding one
//! server moves about N/(N+1). Each move of a user with an in-memory
//! session is a forced logout. A retry lands on the same server while it is
//! in the map (`map_get_server_hash` ignores the server to avoid).

use super::{Balancer, BalancerSpec, BuildContext, RetryStyle, client_address};
use crate::sim::servers::ServerPool;
use crate::sim::time::SimTime;
use crate::sim::{ServerId, UserId};

pub const SPEC: BalancerSpec = BalancerSpec {
    name: "source",
    about: "HAProxy balance source (map-based): client address modulo the usable servers; most users move when one goes down",
    build,
};

fn build(_ctx: &BuildContext) -> Box<dyn Balancer> {
    Box::new(Source)
}

pub struct Source;

impl Balancer for Source {
    fn pick(
        &mut self,
        user: UserId,
        servers: &ServerPool,
        _now: SimTime,
        _avoid: Option<ServerId>,
    ) -> Option<ServerId> {
        let map = servers.in_service();
        if map.is_empty() {
            return None;
        }
        let hash = u32::from_be_bytes(client_address(user));
        Some(map[(hash as usize) % map.len()])
    }

    fn retries(&self) -> RetryStyle {
        RetryStyle::SameServer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::balancer::{moved_by_a_crash, remapped_share};

    #[test]
    fn a_scale_out_remaps_about_n_over_n_plus_1_of_users() {
        // From 4 to 5 servers, hash mod N keeps a user only if h mod 4 ==
        // h mod 5, which holds for 4 residues of every 20: 1/5 stay, 4/5
        // move. 20,000 users: binomial sd 0.3 points.
        let share = remapped_share(build, 4, 20_000);
        assert!((share - 0.8).abs() < 0.015, "{share}");
    }

    #[test]
    fn a_crash_of_one_of_six_moves_most_users_not_only_its_own() {
        // Down from 6 to 5 servers in the map (0 leaves, the others shift
        // down one place): a user of server k stays only if h mod 5 is
        // k - 1 given h mod 6 = k, one residue in five of h mod 30 (the
        // Chinese remainder theorem), so 4/5 of the other servers' users
        // move, on top of the crashed server's own (binomial sd over 25,000
        // users: 0.25 points).
        let (others, back) = moved_by_a_crash(build, 6, 30_000);
        assert!((others - 0.8).abs() < 0.015, "{others}");
        // When it recovers the map is the one from before: they all move
        // back, a second move (and a second logout) for each of them.
        assert_eq!(back, 0.0);
    }
}
