//! `lbsim app-server`: one real app server of the stack (`crate::stack`), a
//! small HTTP/1.1 server on a loopback port.
//!
//! It behaves like a Spring Boot app with Spring Session, the app lbsim's
//! models describe:
//! - `POST /login` with a form field `user` creates a session and sets a
//!   `SESSION` cookie (base64 of the session id, `Path=/; HttpOnly;
//!   SameSite=Lax`, as Spring Session's `DefaultCookieSerializer` writes
//!   it; the signed session itself with `--store cookie`), then redirects
//!   to `/` (303);
//! - `GET /` reads the session: the home page (200, with the cookie
//!   re-signed with `--store cookie`: a sliding TTL), or the login page
//!   with 401 when the session is gone (the user is logged out); 500 when
//!   the store cannot be reached, as Spring does on a `RedisConnectionFailureException`;
//! - `GET /health` answers 200 for HAProxy's `option httpchk`;
//! - `GET /stats` answers `{"server":…,"sessions":…,"store":…}`.
//!
//! Every response carries `X-Served-By: app-N`, so whoever asked knows which
//! server answered. Sessions live in this process's memory (`local`), lost
//! when it is killed, in Redis (`redis`, URL from the environment
//! variable `LBSIM_APP_REDIS_URL`, or the Sentinels' or a cluster's
//! nodes, `redis_client`), or in a cookie signed with the farm's
//! key (`cookie`, key from `LBSIM_APP_COOKIE_KEY`, `signed_cookie`). Each
//! request waits `--service-us` before it answers, the scenario's service
//! time.
//!
//! Single-threaded (a current-thread Tokio runtime): sessions need no lock.

mod pages;
mod redis_client;
mod sessions;
mod signed_cookie;
mod view;

use std::convert::Infallible;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, COOKIE, HeaderValue, LOCATION, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

pub use sessions::id_in_cookie;
use sessions::{Found, Sessions};
pub use signed_cookie::{COOKIE_KEY_ENV, SignedCookies};

pub use redis_client::{REDIS_URL_ENV, RedisAddress};

/// Spring Session's cookie name.
pub const COOKIE_NAME: &str = "SESSION";

/// The header naming the server that answered.
pub const SERVED_BY: &str = "x-served-by";

/// Where sessions live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    Local,
    Redis,
    /// A signed cookie: no server-side state.
    Cookie,
}

#[derive(Debug, clap::Args)]
pub struct AppServerArgs {
    /// Loopback port to listen on.
    #[arg(long)]
    pub port: u16,
    /// This server's number: it answers as `app-<index>`.
    #[arg(long)]
    pub index: u32,
    /// Where sessions live.
    #[arg(long, value_enum)]
    pub store: StoreKind,
    /// Sliding session TTL, in milliseconds of wall time.
    #[arg(long)]
    pub ttl_ms: u64,
    /// Time each request takes before it answers, in microseconds.
    #[arg(long, default_value_t = 0)]
    pub service_us: u64,
    /// Mixed into Redis session ids' namespace (a run's own keys).
    #[arg(long, default_value = "spring:session:")]
    pub namespace: String,
    /// Redis: send each save's commands in one pipeline (a scenario's
    /// `pipeline = true`; Spring sends them one by one).
    #[arg(long)]
    pub pipeline: bool,
    /// Redis: `WAIT` for this many replicas after each write (a
    /// scenario's `wait_for_replicas`); 0 = no `WAIT`.
    #[arg(long, default_value_t = 0)]
    pub wait_replicas: u32,
    /// `WAIT`'s timeout, in milliseconds (`wait_timeout`).
    #[arg(long, default_value_t = 1000)]
    pub wait_timeout_ms: u64,
}

struct App {
    name: String,
    sessions: Sessions,
    service: Duration,
    /// For Redis, the sessions in the store as last counted (`DBSIZE`,
    /// every [`COUNT_EVERY`]), for the home page: counting on every page
    /// would add a round trip Spring's page does not make, and the model
    /// counts four (`sim::store::spring`).
    counted: std::cell::Cell<u64>,
}

/// How often an app server on Redis counts the store's sessions for its
/// home page.
const COUNT_EVERY: Duration = Duration::from_millis(250);

/// Runs the server until it is killed.
pub fn run(args: AppServerArgs) -> Result<(), String> {
    let fail = |what: String| format!("app-server: {what}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let ttl = Duration::from_millis(args.ttl_ms.max(1));
        let sessions = match args.store {
            StoreKind::Local => Sessions::local(ttl),
            StoreKind::Redis => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let address = RedisAddress::from_env().ok_or_else(|| {
                    fail(format!(
                        "--store redis needs {REDIS_URL_ENV}, {} or {}",
                        redis_client::REDIS_SENTINELS_ENV,
                        redis_client::REDIS_CLUSTER_ENV
                    ))
                })?;
                let store = redis_client::connect(&address, args.namespace.clone(), ttl)
                    .await
                    .map_err(|e| {
                        let urls = address.urls();
                        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
                        fail(crate::live::auth::scrub(
                            &format!("cannot connect to Redis: {e}"),
                            &urls,
                        ))
                    })?;
                store.pipeline_saves(args.pipeline);
                if args.wait_replicas > 0 {
                    store.wait_for_replicas(
                        args.wait_replicas,
                        Duration::from_millis(args.wait_timeout_ms),
                    );
                }
                Sessions::Redis(store)
            }
            StoreKind::Cookie => {
                let key = std::env::var(COOKIE_KEY_ENV)
                    .map_err(|_| fail(format!("--store cookie needs {COOKIE_KEY_ENV}")))?;
                let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
                Sessions::Cookie(SignedCookies::new(&key, ttl_ms).map_err(fail)?)
            }
        };
        let app = Rc::new(App {
            name: format!("app-{}", args.index),
            sessions,
            service: Duration::from_micros(args.service_us),
            counted: std::cell::Cell::new(0),
        });
        if matches!(app.sessions, Sessions::Redis(_)) {
            let app = app.clone();
            tokio::task::spawn_local(async move {
                loop {
                    app.counted.set(app.sessions.count().await);
                    tokio::time::sleep(COUNT_EVERY).await;
                }
            });
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .map_err(|e| fail(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let app = app.clone();
            tokio::task::spawn_local(async move {
                let service = hyper::service::service_fn(move |request| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(app.handle(request).await) }
                });
                // A client that goes away mid-request is its own business.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

impl App {
    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let mut response = match (request.method(), request.uri().path()) {
            (&Method::GET, "/health") => text(StatusCode::OK, "text/plain", "ok\n".into()),
            (&Method::GET, "/stats") => {
                let body = format!(
                    "{{\"server\":\"{}\",\"sessions\":{},\"store\":\"{}\"}}\n",
                    self.name,
                    self.sessions.count().await,
                    self.sessions.kind()
                );
                text(StatusCode::OK, "application/json", body)
            }
            (&Method::GET, "/login") => text(
                StatusCode::OK,
                "text/html; charset=utf-8",
                pages::login(&self.name, "Log in to see which server answers you."),
            ),
            (&Method::POST, "/login") => {
                self.work().await;
                self.login(request).await
            }
            (&Method::GET, "/") => {
                self.work().await;
                self.home(&request).await
            }
            _ => text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
        };
        if let Ok(value) = HeaderValue::from_str(&self.name) {
            response.headers_mut().insert(SERVED_BY, value);
        }
        response
    }

    async fn work(&self) {
        if !self.service.is_zero() {
            tokio::time::sleep(self.service).await;
        }
    }

    async fn login(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        // A login form is a few bytes; refuse to buffer more.
        let body = match Limited::new(request.into_body(), 4096).collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => return text(StatusCode::BAD_REQUEST, "text/plain", "bad form\n".into()),
        };
        let user = form_urlencoded::parse(&body)
            .find(|(name, _)| name == "user")
            .map(|(_, value)| value.trim().to_string())
            .filter(|u| !u.is_empty() && u.len() <= 64);
        let Some(user) = user else {
            return text(
                StatusCode::BAD_REQUEST,
                "text/html; charset=utf-8",
                pages::login(&self.name, "Type a user name (at most 64 characters)."),
            );
        };
        let id = session_id();
        match self.sessions.create(&id, &user).await {
            Ok(cookie) => {
                let mut response = text(StatusCode::SEE_OTHER, "text/plain", String::new());
                response
                    .headers_mut()
                    .insert(LOCATION, HeaderValue::from_static("/"));
                set_session_cookie(&mut response, &cookie);
                response
            }
            Err(why) => store_error(&why),
        }
    }

    async fn home(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let Some(cookie) = cookie_value(request) else {
            return text(
                StatusCode::UNAUTHORIZED,
                "text/html; charset=utf-8",
                pages::login(&self.name, "You are not logged in."),
            );
        };
        match self.sessions.find(&cookie).await {
            Found::Session { id, view, renewed } => {
                let held = match self.sessions {
                    Sessions::Redis(_) => self.counted.get(),
                    _ => self.sessions.count().await,
                };
                let page = pages::home(&self.name, &id, &view, held, self.sessions.kind());
                let mut response = text(StatusCode::OK, "text/html; charset=utf-8", page);
                if let Some(cookie) = renewed {
                    set_session_cookie(&mut response, &cookie);
                }
                response
            }
            Found::Missing => text(
                StatusCode::UNAUTHORIZED,
                "text/html; charset=utf-8",
                pages::login(
                    &self.name,
                    &format!(
                        "Your session is gone: {} does not know it. Log in again.",
                        self.name
                    ),
                ),
            ),
            Found::StoreDown(why) => store_error(&why),
        }
    }
}

fn store_error(why: &str) -> Response<Full<Bytes>> {
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "text/plain",
        format!("the session store failed: {why}\n"),
    )
}

fn text(status: StatusCode, kind: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    response
}

/// A UUID-shaped random id (version 4), as Spring's
/// `UuidSessionIdGenerator` makes: unguessable, from the OS-seeded
/// generator.
fn session_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The value of the request's `SESSION` cookie, as the browser sent it.
fn cookie_value(request: &Request<Incoming>) -> Option<String> {
    request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
        // A session id, or a signed session of a few short fields.
        .filter(|value| value.len() <= 512)
}

/// Sets the `SESSION` cookie as Spring Session's `DefaultCookieSerializer`
/// writes it: a session cookie (no `Max-Age`), `HttpOnly`, `SameSite=Lax`.
fn set_session_cookie(response: &mut Response<Full<Bytes>>, value: &str) {
    let cookie = format!("{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
}
