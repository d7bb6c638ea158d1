//! Load balancers: which app server gets a request.
//!
//! A balancer sees what a real one sees: which servers are up and how many
//! requests each is handling ([`ServerPool`]), plus the user the request
//! belongs to (a stand-in for the client address or an LB cookie). It never
//! sees sessions.
//!
//! # Adding a balancer
//! Write one file with a type that implements [`Balancer`] and a
//! `fn build(ctx: &BuildContext) -> Box<dyn Balancer>`, then add one line to
//! [`REGISTRY`]. Scenario files can then name it, `lbsim validate` lists it
//! in its error for unknown names, and every report shows it.

mod consistent_hash;
mod ip_hash;
mod least_connections;
mod power_of_two;
mod round_robin;
mod sticky;

use std::fmt;

use super::servers::ServerPool;
use super::{ServerId, UserId};

/// Chooses a server for each request.
pub trait Balancer: Send {
    /// Returns the server for `user`'s request, or `None` when no server is
    /// up (the balancer answers 503 itself). Called once per request, in
    /// simulated-time order, so a balancer may keep state such as a cursor or
    /// a per-user pin.
    fn pick(&mut self, user: UserId, servers: &ServerPool) -> Option<ServerId>;
}

/// What a balancer may size itself from when it is built.
pub struct BuildContext {
    /// Users in the scenario, for per-user state such as sticky pins.
    pub users: u32,
    /// Servers at the start.
    pub servers: u32,
    /// The scenario seed, for balancers that make random choices.
    pub seed: u64,
}

/// A named balancer that scenario files can choose.
#[derive(Clone, Copy)]
pub struct BalancerSpec {
    /// The name scenario files use, e.g. `round_robin`.
    pub name: &'static str,
    /// One line for `lbsim list` and error messages.
    pub about: &'static str,
    /// Makes a fresh balancer for one run.
    pub build: fn(&BuildContext) -> Box<dyn Balancer>,
}

impl fmt::Debug for BalancerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Every balancer a scenario can name.
pub const REGISTRY: &[BalancerSpec] = &[
    round_robin::SPEC,
    sticky::SPEC,
    least_connections::SPEC,
    ip_hash::SPEC,
    consistent_hash::SPEC,
    power_of_two::SPEC,
];

/// Looks a balancer up by its scenario-file name.
pub fn find(name: &str) -> Option<BalancerSpec> {
    REGISTRY.iter().copied().find(|spec| spec.name == name)
}

/// Round-robin over the servers that are up, starting at `*cursor`, which
/// then moves past the chosen server. Shared by balancers that fall back to
/// plain rotation. O(servers) in the worst case, O(1) when all are up.
pub(crate) fn next_up(cursor: &mut u32, servers: &ServerPool) -> Option<ServerId> {
    let n = servers.len();
    for step in 0..n {
        let candidate = ServerId((*cursor + step) % n);
        if servers.is_up(candidate) {
            *cursor = (candidate.0 + 1) % n;
            return Some(candidate);
        }
    }
    None
}

/// Share of `users` whose server changes when a farm of `servers` grows by
/// one, for the remapping tests of hashing balancers.
#[cfg(test)]
pub(crate) fn remapped_share(
    build: fn(&BuildContext) -> Box<dyn Balancer>,
    servers: u32,
    users: u32,
) -> f64 {
    let mut pool = ServerPool::new(servers, 0);
    let mut lb = build(&BuildContext {
        users,
        servers,
        seed: 1,
    });
    let before: Vec<ServerId> = (0..users)
        .map(|u| lb.pick(UserId(u), &pool).unwrap())
        .collect();
    pool.add_server();
    let moved = (0..users)
        .filter(|&u| lb.pick(UserId(u), &pool).unwrap() != before[u as usize])
        .count();
    moved as f64 / f64::from(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_findable() {
        for spec in REGISTRY {
            assert_eq!(find(spec.name).map(|s| s.name), Some(spec.name));
            assert_eq!(REGISTRY.iter().filter(|s| s.name == spec.name).count(), 1);
        }
        assert!(find("random").is_none());
    }

    #[test]
    fn next_up_skips_down_servers_and_wraps() {
        let mut pool = ServerPool::new(3, 0);
        pool.crash(ServerId(1));
        let mut cursor = 0;
        let picks: Vec<u32> = (0..4)
            .map(|_| next_up(&mut cursor, &pool).unwrap().0)
            .collect();
        assert_eq!(picks, [0, 2, 0, 2]);
        pool.crash(ServerId(0));
        pool.crash(ServerId(2));
        assert_eq!(next_up(&mut cursor, &pool), None);
    }
}
