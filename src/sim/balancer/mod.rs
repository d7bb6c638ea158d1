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
mod source;
mod sticky;

use std::fmt;

use super::servers::ServerPool;
use super::time::SimTime;
use super::{ServerId, UserId};

/// Chooses a server for each request.
pub trait Balancer: Send {
    /// Returns the server for `user`'s request at `now`, or `None` when no
    /// server is up (the balancer answers 503 itself). `avoid` is a server
    /// whose connection just failed, for a retry that should go elsewhere
    /// (HAProxy passes the previous server to the algorithm, which skips it
    /// if it can; some ignore it). Called once per attempt, in simulated-time
    /// order, so a balancer may keep state such as a cursor or a pin.
    fn pick(
        &mut self,
        user: UserId,
        servers: &ServerPool,
        now: SimTime,
        avoid: Option<ServerId>,
    ) -> Option<ServerId>;

    /// How the real balancer retries a connection to a server that is dead
    /// but not yet marked down.
    fn retries(&self) -> RetryStyle;

    /// A connection to `server` failed at `now` (for balancers that learn
    /// from failures, as nginx's passive checks do).
    fn connection_failed(&mut self, _server: ServerId, _now: SimTime) {}

    /// A hint: `user` is about to send a request, so start fetching what
    /// [`Balancer::pick`] will read for it (`sim::cache`). Changes nothing.
    fn prefetch(&self, _user: UserId) {}
}

/// How a balancer retries a failed connection: HAProxy's and nginx's
/// rules, as each balancer's file says which applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryStyle {
    /// HAProxy with a round-robin kind of algorithm (`roundrobin`,
    /// `random`) and no persistence: with `option redispatch`, every retry
    /// is re-balanced at once to another server, without the turn-around
    /// delay (`stream_choose_redispatch`, `back_handle_st_cer` in HAProxy
    /// 2.6); without it, retries stay on the same server as with
    /// [`RetryStyle::SameServer`] (the lifecycle applies that rule,
    /// `sim::lifecycle::retry`).
    Rebalance,
    /// HAProxy with persistence or a deterministic algorithm (cookie,
    /// `source`, `hash-type consistent`, `leastconn`): `retries` retries on
    /// the same server, each after a turn-around of min(`timeout connect`,
    /// 1 s) when the connection was refused; with `option redispatch` the
    /// last retry goes to another server; when all fail, a 503.
    SameServer,
    /// nginx `proxy_next_upstream error timeout` (the default): the next
    /// server at once, up to every server; a server that failed is skipped
    /// by everyone for `fail_timeout` (`max_fails=1 fail_timeout=10s`).
    NextUpstream,
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
    source::SPEC,
    consistent_hash::SPEC,
    power_of_two::SPEC,
];

/// The stand-in for a user's client address: a fixed pseudo-random IPv4
/// address per user, the same in every strategy (so address-hashing
/// balancers place users alike). Real users behind one NAT share an
/// address, and then one server; lbsim gives each user its own.
pub fn client_address(user: UserId) -> [u8; 4] {
    let h = super::rng::hash64(&[0x6164_6472, u64::from(user.0)]);
    (h as u32).to_be_bytes()
}

/// Looks a balancer up by its scenario-file name.
pub fn find(name: &str) -> Option<BalancerSpec> {
    REGISTRY.iter().copied().find(|spec| spec.name == name)
}

/// Round-robin over the servers that are up, starting at `*cursor`, which
/// then moves past the chosen server; `avoid` is skipped unless it is the
/// only one. Shared by balancers that fall back to plain rotation.
/// O(servers) in the worst case, O(1) when all are up.
pub(crate) fn next_up(
    cursor: &mut u32,
    servers: &ServerPool,
    avoid: Option<ServerId>,
) -> Option<ServerId> {
    let n = servers.len();
    let mut fallback = None;
    for step in 0..n {
        let candidate = ServerId((*cursor + step) % n);
        if servers.is_up(candidate) {
            if Some(candidate) == avoid {
                fallback = Some(candidate);
                continue;
            }
            *cursor = (candidate.0 + 1) % n;
            return Some(candidate);
        }
    }
    fallback
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
        .map(|u| lb.pick(UserId(u), &pool, SimTime::ZERO, None).unwrap())
        .collect();
    pool.add_server();
    let moved = (0..users)
        .filter(|&u| lb.pick(UserId(u), &pool, SimTime::ZERO, None).unwrap() != before[u as usize])
        .count();
    moved as f64 / f64::from(users)
}

/// For a farm of `servers` where server 0 crashes: the share of the
/// *other* servers' users whose server changes, and the share of all users
/// whose server differs, once it has recovered, from before the crash.
#[cfg(test)]
pub(crate) fn moved_by_a_crash(
    build: fn(&BuildContext) -> Box<dyn Balancer>,
    servers: u32,
    users: u32,
) -> (f64, f64) {
    let now = SimTime::ZERO;
    let mut pool = ServerPool::new(servers, 0);
    let mut lb = build(&BuildContext {
        users,
        servers,
        seed: 1,
    });
    let before: Vec<ServerId> = (0..users)
        .map(|u| lb.pick(UserId(u), &pool, now, None).unwrap())
        .collect();
    pool.crash(ServerId(0));
    let others: Vec<u32> = (0..users)
        .filter(|&u| before[u as usize] != ServerId(0))
        .collect();
    let moved = others
        .iter()
        .filter(|&&u| lb.pick(UserId(u), &pool, now, None).unwrap() != before[u as usize])
        .count();
    pool.recover(ServerId(0));
    let back = (0..users)
        .filter(|&u| lb.pick(UserId(u), &pool, now, None).unwrap() != before[u as usize])
        .count();
    (
        moved as f64 / others.len() as f64,
        back as f64 / f64::from(users),
    )
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
            .map(|_| next_up(&mut cursor, &pool, None).unwrap().0)
            .collect();
        assert_eq!(picks, [0, 2, 0, 2]);
        pool.crash(ServerId(0));
        pool.crash(ServerId(2));
        assert_eq!(next_up(&mut cursor, &pool, None), None);
    }
}
