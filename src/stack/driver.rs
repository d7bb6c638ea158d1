//! The stack's users: real HTTP clients through HAProxy, one cookie jar
//! each, open-loop, in compressed wall-clock time.
//!
//! Each user is a task that sleeps until the intended time of its next
//! request and measures latency from that intended time (no coordinated
//! omission), as live mode's users do (`live::driver::user`). What a user
//! does after an answer is the simulator's own rule
//! (`sim::request::UserSession`), and what an answer means is its
//! classifier (`sim::request::classify`): a 401 is a missing session, a
//! forced logout unless the user's own clock says the TTL ran out.
//!
//! Every request is a fresh connection from the user's own loopback
//! address (`127.b.c.d`, the low three bytes of the address the models give
//! the user, `sim::balancer::client_address`), so `balance source` sees as
//! many clients as there are users, as it would on the Internet; a fresh
//! connection per click also keeps a half-closed keep-alive connection from
//! turning into an error the balancer did not cause. For nginx's
//! `ip_hash`, which hashes the first three bytes and so would see
//! everyone's 127, the whole model address also goes in a header
//! (`stack::nginx`).

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::time::sleep_until;

use crate::app_server::{COOKIE_NAME, SERVED_BY};
use crate::live::clock::LiveClock;
use crate::sim::config::Scenario;
use crate::sim::events::EventRecord;
use crate::sim::metrics::Recorder;
use crate::sim::request::{ErrorCause, NextStep, Outcome, RequestKind, UserSession, classify};
use crate::sim::store::Lookup;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::toll::{LostTo, Tolls};
use crate::sim::workload::think_time;
use crate::sim::{ServerId, SessionId, UserId};

/// A request that takes longer than this (wall time) is an error: HAProxy's
/// `timeout server` would have ended it by then.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the driver knows of one user.
#[derive(Clone, Debug)]
pub(crate) struct UserState {
    pub session: UserSession,
    /// The session id its `SESSION` cookie names (decoded), if any.
    pub session_id: Option<String>,
    /// The server whose memory holds its session (the one that logged it
    /// in), for a `local` store.
    pub home: Option<u32>,
    /// The fault that destroyed the session it holds, if one did.
    pub lost_to: Option<LostTo>,
}

impl UserState {
    /// True while the user holds a session that, by its own clock, has
    /// not expired: one a fault can destroy.
    pub fn holds_session(&self, now: SimTime, ttl: SimDuration) -> bool {
        !self.session.session.is_none()
            && !crate::sim::store::is_expired(self.session.last_access, ttl, now)
    }
}

/// Everything a stack strategy measures, shared by its tasks on one thread.
pub(crate) struct Tally {
    pub recorder: Recorder,
    pub tolls: Tolls,
    pub events: Vec<EventRecord>,
    pub fault_losses: Vec<Option<u64>>,
    pub users: Vec<UserState>,
    pub users_arrived: u64,
    pub users_affected: u64,
    /// Worst delay between a request's intended and actual send time.
    pub max_lag: Duration,
    /// Responses by HTTP status (0: no answer), for the notes.
    pub statuses: std::collections::BTreeMap<u16, u64>,
}

impl Tally {
    pub fn new(scenario: &Scenario) -> Self {
        Tally {
            recorder: Recorder::new(scenario.servers.count),
            tolls: Tolls::new(scenario.faults.iter().map(|f| f.at)),
            events: Vec::new(),
            fault_losses: vec![None; scenario.faults.len()],
            users: vec![
                UserState {
                    session: UserSession::LOGGED_OUT,
                    session_id: None,
                    home: None,
                    lost_to: None,
                };
                scenario.workload.users as usize
            ],
            users_arrived: 0,
            users_affected: 0,
            max_lag: Duration::ZERO,
            statuses: Default::default(),
        }
    }

    /// The run's forced logouts and errors so far (`EventRecord::so_far`).
    pub fn so_far(&self) -> (u64, u64) {
        let t = &self.recorder.totals;
        (t.forced_logouts, t.errors)
    }

    /// Marks every session `lost` names as destroyed by `fault`; returns
    /// how many users still held a valid one.
    pub fn destroy(
        &mut self,
        fault: u32,
        now: SimTime,
        ttl: SimDuration,
        lost: impl Fn(&UserState) -> bool,
    ) -> u64 {
        let mut destroyed = 0;
        for user in &mut self.users {
            if user.holds_session(now, ttl) && lost(user) {
                user.lost_to = Some(LostTo {
                    fault,
                    session: user.session.session,
                });
                destroyed += 1;
            }
        }
        destroyed
    }
}

pub(crate) type SharedTally = Rc<RefCell<Tally>>;

/// One request's answer, as the user's browser sees it.
struct Answer {
    status: u16,
    served_by: Option<u32>,
    /// The `SESSION` cookie a login set (decoded), and every cookie set.
    new_session: Option<String>,
    cookies: Vec<(String, String)>,
}

/// One user of one stack strategy.
pub(crate) struct StackUser {
    pub user: UserId,
    pub arrival: SimTime,
    pub clock: LiveClock,
    pub scenario: Rc<Scenario>,
    pub frontend: u16,
    pub tally: SharedTally,
}

impl StackUser {
    pub async fn run(self) {
        let end = SimTime::ZERO + self.scenario.duration;
        let ttl = self.scenario.session.ttl;
        self.tally.borrow_mut().users_arrived += 1;
        // The browser's cookie jar: SESSION, and HAProxy's SERVERID.
        let mut jar: Vec<(String, String)> = Vec::new();
        let mut draws = 0u32;
        let mut sessions_made = 0u64;
        let mut intended = self.arrival;
        let index = self.user.0 as usize;
        while intended < end {
            let intended_wall = self.clock.wall(intended);
            sleep_until(intended_wall.into()).await;
            let lag = Instant::now().saturating_duration_since(intended_wall);
            let kind = self.tally.borrow().users[index].session.next_kind();
            if kind == RequestKind::Login {
                jar.retain(|(name, _)| name != COOKIE_NAME);
            }
            let answer = tokio::time::timeout(REQUEST_TIMEOUT, self.send(kind, &jar)).await;
            let answer = answer.ok().and_then(Result::ok);
            let now = self.clock.now();
            // An answer after the end is not counted (the simulator never
            // completes such a request either).
            if now >= end {
                break;
            }
            let latency = SimDuration::from(intended_wall.elapsed());
            let mut tally = self.tally.borrow_mut();
            tally.max_lag = tally.max_lag.max(lag);
            *tally
                .statuses
                .entry(answer.as_ref().map_or(0, |a| a.status))
                .or_default() += 1;
            let state = tally.users[index].clone();
            let outcome = match (&answer, kind) {
                (None, _) => Outcome::Error(ErrorCause::ServerCrashed),
                (Some(a), RequestKind::Login) if a.status == 303 && a.new_session.is_some() => {
                    Outcome::LoggedIn
                }
                (Some(a), RequestKind::Page) if a.status == 200 => Outcome::Ok,
                (Some(a), RequestKind::Page) if a.status == 401 => {
                    classify(kind, Lookup::Missing, state.session.last_access, ttl, now)
                }
                (Some(a), _) if a.status == 500 => Outcome::Error(ErrorCause::StoreUnavailable),
                // HAProxy's own 503: no server in rotation.
                (Some(a), _) if a.status == 503 => Outcome::Error(ErrorCause::NoServer),
                // 502/504: the server died mid-request, or never answered.
                (Some(_), _) => Outcome::Error(ErrorCause::ServerCrashed),
            };
            if let Some(a) = &answer {
                for (name, value) in &a.cookies {
                    jar.retain(|(n, _)| n != name);
                    jar.push((name.clone(), value.clone()));
                }
                if let Some(server) = a.served_by {
                    tally.recorder.routed(ServerId(server));
                }
            }
            tally.recorder.record(kind, outcome, latency);
            if let Outcome::Error(_) = outcome {
                tally.tolls.error_at(now);
            }
            let mut new_session = SessionId::NONE;
            let user = &mut tally.users[index];
            match outcome {
                Outcome::LoggedIn => {
                    sessions_made += 1;
                    new_session = SessionId(sessions_made);
                    user.session_id = answer.as_ref().and_then(|a| a.new_session.clone());
                    user.home = answer.as_ref().and_then(|a| a.served_by);
                    user.lost_to = None;
                }
                Outcome::ForcedLogout | Outcome::Expired => {
                    jar.retain(|(name, _)| name != COOKIE_NAME);
                    user.session_id = None;
                }
                _ => {}
            }
            let mark = match outcome {
                Outcome::ForcedLogout | Outcome::Expired => user.lost_to.take(),
                _ => None,
            };
            let (next, first) = user.session.apply(outcome, now, new_session);
            if let Some(mark) = mark {
                tally.tolls.found_gone(mark, outcome == Outcome::Expired);
            }
            if first {
                tally.users_affected += 1;
            }
            drop(tally);
            intended = match next {
                NextStep::Think => {
                    let think = think_time(
                        &self.scenario.workload,
                        self.scenario.seed,
                        self.user,
                        draws,
                    );
                    draws += 1;
                    now + think
                }
                NextStep::LogInNow => now,
            };
        }
    }

    /// Sends one request through HAProxy from the user's own address.
    async fn send(
        &self,
        kind: RequestKind,
        jar: &[(String, String)],
    ) -> Result<Answer, Box<dyn std::error::Error>> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        let address = crate::sim::balancer::client_address(self.user);
        let [_, b, c, d] = address;
        // 127.255.255.255 is the loopback net's broadcast address.
        let d = if (b, c, d) == (255, 255, 255) { 254 } else { d };
        let _ = socket.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, b, c, d)), 0));
        let stream = socket
            .connect(SocketAddr::from(([127, 0, 0, 1], self.frontend)))
            .await?;
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::task::spawn_local(async move {
            let _ = connection.await;
        });
        let (method, path, body) = match kind {
            RequestKind::Login => (Method::POST, "/login", format!("user=user-{}", self.user.0)),
            RequestKind::Page => (Method::GET, "/", String::new()),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, "127.0.0.1")
            // The whole address, for nginx's `ip_hash`, which hashes its
            // first byte too (`stack::nginx`); HAProxy reads none of it.
            .header(
                super::nginx::CLIENT_ADDRESS_HEADER,
                std::net::Ipv4Addr::from(address).to_string(),
            );
        if kind == RequestKind::Login {
            request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        if !jar.is_empty() {
            let cookies: Vec<String> = jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
            request = request.header(COOKIE, cookies.join("; "));
        }
        let response = sender
            .send_request(request.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = response.status().as_u16();
        let served_by = response
            .headers()
            .get(SERVED_BY)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("app-"))
            .and_then(|n| n.parse().ok());
        let cookies: Vec<(String, String)> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .filter_map(|pair| pair.split_once('='))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let new_session = cookies
            .iter()
            .find(|(n, _)| n == COOKIE_NAME)
            .and_then(|(_, v)| crate::app_server::id_in_cookie(v));
        // Read the page, as a browser does, before the next click.
        let _ = response.into_body().collect().await;
        Ok(Answer {
            status,
            served_by,
            new_session,
            cookies,
        })
    }
}
