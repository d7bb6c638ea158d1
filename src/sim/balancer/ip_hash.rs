//! `ip_hash`: nginx's `ip_hash`, as `ngx_http_upstream_ip_hash_module.c`
//! does it.
//!
//! The first three bytes of the client's IPv4 address (a /24) are hashed
//! (`hash = 89`, then `hash = (hash * 113 + byte) % 6271` for each byte)
//! and the server is `hash % total_weight` over **every configured server**,
//! up or down (`ngx_http_upstream_get_ip_hash_peer`). If that server is
//! down, or failed recently, the hash is mixed again with the same bytes
//! and the next server tried; after 20 tries nginx falls back to round
//! robin. So a crash moves only the crashed server's users (each to the
//! server its own rehash sequence reaches), and they move back when it
//! returns; a scale-out changes `total_weight` and moves about N/(N+1) of
//! everyone.
//!
//! nginx open source has no active health checks: it learns that a server
//! is down from failed connections (`max_fails=1 fail_timeout=10s` by
//! default: after one failure the server is skipped by every request for
//! 10 s, then tried again). nginx keeps that time in whole seconds
//! (`now = ngx_time()`; skipped while `now - peer->checked <=
//! fail_timeout`, `checked` being the second of the failure), so the
//! server is tried again at the start of the 11th whole second after the
//! one it failed in: 10 to 11 s later (the stack's nginx showed it: after
//! 1.2 s with `fail_timeout=1s` some users had not gone back). That rule
//! applies here; lbsim's
//! `[servers.health_check]`, when given, is applied on top, as if an active
//! checker (nginx Plus) were there. A failed connection is retried at once
//! on the next server (`proxy_next_upstream error timeout`).

use super::{Balancer, BalancerSpec, BuildContext, RetryStyle, client_address};
use crate::sim::servers::{Membership, ServerPool};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::{ServerId, UserId};

pub const SPEC: BalancerSpec = BalancerSpec {
    name: "ip_hash",
    about: "nginx ip_hash: /24 of the client over every configured server, rehashed past a down one (only its users move)",
    build,
};

/// nginx's default `fail_timeout`: how long a server that failed is
/// skipped (with the default `max_fails=1`).
const FAIL_TIMEOUT: SimDuration = SimDuration::from_secs(10);
/// Rehashes before nginx falls back to round robin.
const MAX_TRIES: u32 = 20;

fn build(ctx: &BuildContext) -> Box<dyn Balancer> {
    Box::new(IpHash {
        failed_until: vec![SimTime::ZERO; ctx.servers as usize],
        cursor: 0,
    })
}

pub struct IpHash {
    /// Per server: skipped until then after a failed connection.
    failed_until: Vec<SimTime>,
    /// The round-robin fallback's cursor.
    cursor: u32,
}

impl IpHash {
    /// True if nginx would send a request to `server` at `now`.
    fn usable(&self, servers: &ServerPool, server: ServerId, now: SimTime) -> bool {
        // A draining server keeps the users that hash to it until it leaves.
        servers.accepts_pinned(server)
            && self
                .failed_until
                .get(server.index())
                .is_none_or(|&until| now >= until)
    }
}

impl Balancer for IpHash {
    fn pick(
        &mut self,
        user: UserId,
        servers: &ServerPool,
        now: SimTime,
        avoid: Option<ServerId>,
    ) -> Option<ServerId> {
        // The upstream block: every server not retired, in order.
        let configured: Vec<ServerId> = (0..servers.len())
            .map(ServerId)
            .filter(|&s| servers.membership(s) != Membership::Retired)
            .collect();
        let ok = |s: ServerId| Some(s) != avoid && self.usable(servers, s, now);
        if configured.len() > 1 {
            let address = client_address(user);
            let mut hash: u32 = 89;
            for _ in 0..=MAX_TRIES {
                for &byte in &address[..3] {
                    hash = (hash * 113 + u32::from(byte)) % 6271;
                }
                let peer = configured[hash as usize % configured.len()];
                if ok(peer) {
                    return Some(peer);
                }
            }
        }
        // A single server, or 20 rehashes without luck: round robin.
        let n = configured.len() as u32;
        for step in 0..n {
            let peer = configured[((self.cursor + step) % n) as usize];
            if ok(peer) {
                self.cursor = (self.cursor + step + 1) % n;
                return Some(peer);
            }
        }
        None
    }

    fn retries(&self) -> RetryStyle {
        RetryStyle::NextUpstream
    }

    fn connection_failed(&mut self, server: ServerId, now: SimTime) {
        if server.index() >= self.failed_until.len() {
            self.failed_until.resize(server.index() + 1, SimTime::ZERO);
        }
        // The whole second it failed in, plus fail_timeout, plus one.
        let second = SimDuration::from_secs(1).as_nanos();
        let checked = now.as_nanos() / second * second;
        self.failed_until[server.index()] =
            SimTime::from_nanos(checked) + FAIL_TIMEOUT + SimDuration::from_secs(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::balancer::{moved_by_a_crash, remapped_share};

    #[test]
    fn a_crash_moves_only_the_crashed_servers_users_and_they_come_back() {
        // Crash 1 of 6: nobody else moves, and on recovery everyone is
        // where they were before.
        let (others, back) = moved_by_a_crash(build, 6, 30_000);
        assert_eq!(others, 0.0);
        assert_eq!(back, 0.0);
    }

    #[test]
    fn a_scale_out_changes_the_modulo_and_moves_most_users() {
        // total_weight grows from 4 to 5: a user keeps its server only if
        // hash % 4 == hash % 5 (about 1 in 5 of the 6271 hash values).
        // 20,000 users: binomial sd 0.3 points; the hash's own unevenness
        // over 6271 values adds about a point.
        let share = remapped_share(build, 4, 20_000);
        assert!((share - 0.8).abs() < 0.03, "{share}");
    }
}
