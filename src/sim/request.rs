//! The request lifecycle, written once for every store and driver.
//!
//! ```text
//!   user sends ──► balancer picks a server ──► server admits (or queues)
//!        ▲                                            │
//!        │                                    store operation at start:
//!        │                                    login  → create session
//!        │                                    page   → look session up
//!        │                                            │
//!        └── think / log in again ◄── classify ◄──────┘
//!               ok | logged_in | forced_logout | expired | error
//! ```
//!
//! Classification is where lbsim's central numbers come from, so it lives in
//! one pure function, [`classify`], shared by the simulator and the live
//! driver: the live driver only swaps the store that answers.

use super::SessionId;
use super::dist::Dist;
use super::store::{Lookup, is_expired};
use super::time::{SimDuration, SimTime};

/// What a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// The user has no session and logs in: the server creates one.
    Login,
    /// An ordinary page request carrying the user's session id.
    Page,
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A page request found its session.
    Ok,
    /// A login created a session.
    LoggedIn,
    /// The session was not found although, by the user's own clock, it was
    /// still valid: the user is sent to the login page for no reason of its
    /// own. This is the number lbsim exists to show.
    ForcedLogout,
    /// The session was not found because the TTL really ran out.
    Expired,
    /// The session could not be used (store unreachable, or session gone)
    /// but the app re-authenticated the user from a signed token
    /// (`on_store_error = "fallback_auth"`): no error, no logout, some
    /// extra latency.
    Reauthenticated,
    /// The request failed: no server up, the server crashed while handling
    /// it, or the store could not be reached. The user keeps its session id
    /// and tries again after its next think time.
    Error(ErrorCause),
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCause {
    /// The balancer had no server that was up (HTTP 503 from the balancer).
    NoServer,
    /// The server crashed while the request was queued or running.
    ServerCrashed,
    /// The balancer sent the request to a server that is down but that its
    /// health checks have not caught yet (connection refused).
    ServerDown,
    /// The session store did not answer (Redis down or loading).
    StoreUnavailable,
    /// Spring Session found the session, but it was gone when the request
    /// saved it ("Session was invalidated", a 500).
    SessionInvalidated,
}

/// What the app does when the session store cannot be reached. Real apps
/// differ, so it is a strategy setting.
#[derive(Clone, Debug)]
pub enum OnStoreError {
    /// Fail the request (HTTP 5xx): an error. The default.
    Fail,
    /// Treat it as "no session": the user is sent to log in, a forced
    /// logout if its session was still valid.
    Logout,
    /// Re-authenticate the user from a signed remember-me cookie or JWT:
    /// no error and no logout, at the cost of `reauth_latency`; a session
    /// is re-created in the store as soon as it answers again.
    FallbackAuth { reauth_latency: Dist },
}

impl OnStoreError {
    pub fn name(&self) -> &'static str {
        match self {
            OnStoreError::Fail => "fail",
            OnStoreError::Logout => "logout",
            OnStoreError::FallbackAuth { .. } => "fallback_auth",
        }
    }
}

/// What the app makes of a store answer, under its policy: the outcome,
/// and whether it must now create a session for the user (a fallback
/// re-authentication that found no session).
pub fn decide(
    kind: RequestKind,
    store_answer: Lookup,
    policy: &OnStoreError,
    last_access: SimTime,
    ttl: SimDuration,
    now: SimTime,
) -> (Outcome, bool) {
    let fallback = matches!(policy, OnStoreError::FallbackAuth { .. });
    let failed = store_answer.failed();
    match (kind, store_answer) {
        // A login that cannot write its session: with a fallback the user
        // still gets its signed token and carries on.
        (RequestKind::Login, _) if failed && fallback => (Outcome::LoggedIn, false),
        (RequestKind::Page, _) if failed && fallback => (Outcome::Reauthenticated, false),
        (RequestKind::Page, Lookup::Missing) if fallback => (Outcome::Reauthenticated, true),
        (RequestKind::Page, _) if failed && matches!(policy, OnStoreError::Logout) => (
            classify(kind, Lookup::Missing, last_access, ttl, now),
            false,
        ),
        _ => (classify(kind, store_answer, last_access, ttl, now), false),
    }
}

/// Classifies a request from what the store said.
///
/// `last_access` is the user's own truth: when its session last served a
/// request successfully. A missing session is a forced logout exactly when
/// that truth says the session should still exist at `now`.
pub fn classify(
    kind: RequestKind,
    store_answer: Lookup,
    last_access: SimTime,
    ttl: SimDuration,
    now: SimTime,
) -> Outcome {
    match (kind, store_answer) {
        (_, Lookup::Unavailable | Lookup::Refused) => Outcome::Error(ErrorCause::StoreUnavailable),
        // Spring's 500: the user keeps its cookie, and its next request
        // finds no session.
        (_, Lookup::Invalidated) => Outcome::Error(ErrorCause::SessionInvalidated),
        (RequestKind::Login, _) => Outcome::LoggedIn,
        (RequestKind::Page, Lookup::Found) => Outcome::Ok,
        (RequestKind::Page, Lookup::Missing) if is_expired(last_access, ttl, now) => {
            Outcome::Expired
        }
        (RequestKind::Page, Lookup::Missing) => Outcome::ForcedLogout,
    }
}

/// What a user knows about its own session: the cookie it carries and when
/// that session last worked. Both drivers keep one per user and feed it
/// every outcome, so the user's behaviour is written once.
#[derive(Clone, Copy, Debug)]
pub struct UserSession {
    /// The session id the user's cookie carries; `NONE` when logged out.
    pub session: SessionId,
    /// When the current session last served a request: the user's truth
    /// about whether the session should still exist.
    pub last_access: SimTime,
    /// Whether the user has had a forced logout yet.
    pub affected: bool,
}

/// What a user does after a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// Read the page, think, then send the next request.
    Think,
    /// Sent to the login page: log in again at once.
    LogInNow,
}

impl UserSession {
    pub const LOGGED_OUT: UserSession = UserSession {
        session: SessionId::NONE,
        last_access: SimTime::ZERO,
        affected: false,
    };

    /// The next request is a login when the user has no session.
    pub fn next_kind(&self) -> RequestKind {
        if self.session.is_none() {
            RequestKind::Login
        } else {
            RequestKind::Page
        }
    }

    /// Applies a request's outcome. `answered_at` is when the store
    /// answered (and refreshed the session's TTL) and `new_session` the session a login created. Returns what the
    /// user does next, and true if this was its first forced logout.
    pub fn apply(
        &mut self,
        outcome: Outcome,
        answered_at: SimTime,
        new_session: SessionId,
    ) -> (NextStep, bool) {
        match outcome {
            Outcome::Ok => {
                self.last_access = answered_at;
                (NextStep::Think, false)
            }
            Outcome::LoggedIn => {
                self.session = new_session;
                self.last_access = answered_at;
                (NextStep::Think, false)
            }
            Outcome::Reauthenticated => {
                // A fresh session if one was created, else the old id.
                if !new_session.is_none() {
                    self.session = new_session;
                }
                self.last_access = answered_at;
                (NextStep::Think, false)
            }
            Outcome::ForcedLogout | Outcome::Expired => {
                let first = outcome == Outcome::ForcedLogout && !self.affected;
                self.affected |= first;
                // Back to the login page at once; a new session will follow.
                self.session = SessionId::NONE;
                (NextStep::LogInNow, first)
            }
            // Keep the session id and try again after thinking.
            Outcome::Error(_) => (NextStep::Think, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_is_forced_logout_only_within_the_ttl() {
        let ttl = SimDuration::from_secs(1800);
        let last = SimTime::ZERO + SimDuration::from_secs(100);
        let before = last + SimDuration::from_secs(1799);
        let after = last + SimDuration::from_secs(1800);
        let page = RequestKind::Page;
        assert_eq!(
            classify(page, Lookup::Missing, last, ttl, before),
            Outcome::ForcedLogout
        );
        assert_eq!(
            classify(page, Lookup::Missing, last, ttl, after),
            Outcome::Expired
        );
        assert_eq!(
            classify(page, Lookup::Found, last, ttl, before),
            Outcome::Ok
        );
        assert_eq!(
            classify(page, Lookup::Unavailable, last, ttl, before),
            Outcome::Error(ErrorCause::StoreUnavailable)
        );
        assert_eq!(
            classify(RequestKind::Login, Lookup::Found, last, ttl, after),
            Outcome::LoggedIn
        );
    }

    #[test]
    fn a_user_logs_in_keeps_its_session_on_errors_and_counts_once_as_affected() {
        let t = |s| SimTime::ZERO + SimDuration::from_secs(s);
        let mut user = UserSession::LOGGED_OUT;
        assert_eq!(user.next_kind(), RequestKind::Login);
        assert_eq!(
            user.apply(Outcome::LoggedIn, t(1), SessionId(9)),
            (NextStep::Think, false)
        );
        assert_eq!((user.session, user.last_access), (SessionId(9), t(1)));
        let error = Outcome::Error(ErrorCause::StoreUnavailable);
        assert_eq!(
            user.apply(error, t(5), SessionId::NONE),
            (NextStep::Think, false)
        );
        assert_eq!((user.session, user.last_access), (SessionId(9), t(1)));
        let logout = user.apply(Outcome::ForcedLogout, t(6), SessionId::NONE);
        assert_eq!(logout, (NextStep::LogInNow, true));
        assert_eq!(user.next_kind(), RequestKind::Login);
        user.apply(Outcome::LoggedIn, t(7), SessionId(10));
        // A second forced logout does not count the user again.
        let again = user.apply(Outcome::ForcedLogout, t(8), SessionId::NONE);
        assert_eq!(again, (NextStep::LogInNow, false));
        let expired = user.apply(Outcome::Expired, t(9), SessionId::NONE);
        assert_eq!(expired, (NextStep::LogInNow, false));
    }
}
