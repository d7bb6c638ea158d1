//! Connections to a dead app server: what the balancer does when a
//! connection fails, as HAProxy and nginx do it ([`RetryStyle`]).

use super::Sent;
use crate::sim::ServerId;
use crate::sim::UserId;
use crate::sim::balancer::RetryStyle;
use crate::sim::request::{ErrorCause, Outcome};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::world::{NO_SERVER, Retry, World};

impl World {
    /// A connection to `server` failed: it refuses at once when only its
    /// process died, and is not answered for `timeout connect` when its
    /// machine did. What follows is the balancer's retry rule
    /// ([`RetryStyle`]).
    pub(super) fn connection_failed(
        &mut self,
        now: SimTime,
        user: UserId,
        server: ServerId,
    ) -> Sent {
        self.balancer.connection_failed(server, now);
        let policy = self.per_request.retry;
        let host = self.servers.host_down(server);
        let attempt = if host {
            policy.timeout_connect
        } else {
            SimDuration::ZERO
        };
        // A round-robin kind of balancer re-balances a retry at once only
        // with `option redispatch`: `stream_choose_redispatch`
        // (include/haproxy/stream.h, HAProxy 2.6) clears the assigned
        // server only under `s->be->options & PR_O_REDISP`; without it,
        // every retry goes to the same server after the turn-around timer
        // (`back_handle_st_cer`), as with a deterministic algorithm. The
        // real stack measured it: round-robin without redispatch fails
        // the requests sent to a crashed server until its checks mark it
        // down.
        let style = match self.balancer.retries() {
            RetryStyle::Rebalance if !policy.redispatch => RetryStyle::SameServer,
            style => style,
        };
        let max_retries = match style {
            // nginx tries every server of the upstream once.
            RetryStyle::NextUpstream => (self.servers.in_service().len() as u32).saturating_sub(1),
            RetryStyle::Rebalance | RetryStyle::SameServer => policy.retries,
        };
        let request = &mut self.users[user.index()].request;
        request.failed_attempts = request.failed_attempts.saturating_add(1);
        let failed = u32::from(request.failed_attempts);
        request.server = NO_SERVER;
        request.outcome = Outcome::Error(ErrorCause::ServerDown);
        if failed > max_retries {
            // A 503 when the last attempt has failed.
            request.retry = Retry::GiveUp;
            return if attempt.is_zero() {
                request.retry = Retry::None;
                Sent::Failed
            } else {
                Sent::Later(now + attempt)
            };
        }
        let (retry, wait) = match style {
            RetryStyle::Rebalance | RetryStyle::NextUpstream => (Retry::Elsewhere(server), attempt),
            RetryStyle::SameServer => {
                // The turn-around timer follows a refused connection only
                // (`back_handle_st_cer`: `must_tar` on a connection error).
                let turnaround = if host {
                    SimDuration::ZERO
                } else {
                    policy.timeout_connect.min(SimDuration::from_secs(1))
                };
                // `option redispatch` (its default interval -1): the last
                // retry goes to another server.
                let retry = if policy.redispatch && failed == max_retries {
                    Retry::Elsewhere(server)
                } else {
                    Retry::Same(server)
                };
                (retry, attempt + turnaround)
            }
        };
        request.retry = retry;
        if let Retry::Same(server) = retry {
            self.servers.retry_begins(server);
        }
        Sent::Later(now + wait)
    }

    /// A retry (or the failure after the last attempt) is due at `now`.
    pub fn resume(&mut self, now: SimTime, user: UserId) -> Sent {
        match self.users[user.index()].request.retry {
            Retry::None | Retry::GiveUp => {
                self.users[user.index()].request.retry = Retry::None;
                Sent::Failed
            }
            Retry::Elsewhere(failed) => self.route(now, user, Some(failed)),
            Retry::Same(server) => {
                self.servers.retry_ends(server);
                self.retry_same(now, user, server)
            }
        }
    }

    /// A retry on the server the request is assigned to.
    fn retry_same(&mut self, now: SimTime, user: UserId, server: ServerId) -> Sent {
        // HAProxy redispatches at once when checks have marked the server
        // down meanwhile (`stream_choose_redispatch`: the server's state is
        // below running).
        if self.per_request.retry.redispatch && !self.servers.is_up(server) {
            self.route(now, user, Some(server))
        } else {
            self.connect(now, user, server)
        }
    }
}
