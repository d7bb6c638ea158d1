//! Where an app server keeps its sessions: in its own memory (`local`, as
//! Tomcat's `StandardManager` or an Express `MemoryStore` do), in Redis
//! in Spring Session's layout (`live::spring_session`, the same code live
//! mode uses), or nowhere: in a signed cookie the browser carries
//! (`signed_cookie`).
//!
//! The `SESSION` cookie's value is each store's business: base64 of the
//! session id for `local` and `redis` (as Spring Session's
//! `DefaultCookieSerializer` writes it), the signed session itself for
//! `cookie`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::signed_cookie::{self, Opened, SignedCookies};
pub use super::view::SessionView;
use crate::live::spring_session::{Hold, SpringSessionStore, StoreFailure, epoch_millis};
use crate::sim::ServerId;
use crate::sim::store::Lookup;

/// What a page request learned about its session.
pub enum Found {
    /// The session, refreshed (its sliding TTL starts again): its id, and
    /// for a signed cookie the renewed cookie to send back.
    Session {
        id: String,
        view: SessionView,
        renewed: Option<String>,
    },
    /// No such session: never created here, destroyed, or expired.
    Missing,
    /// The store did not answer: the request fails (HTTP 500).
    StoreDown(String),
}

/// One session in a server's memory.
pub struct LocalSession {
    view: SessionView,
    last_access: Instant,
}

pub enum Sessions {
    /// In this process's memory: gone when it dies.
    Local {
        map: RefCell<HashMap<String, LocalSession>>,
        ttl: Duration,
    },
    /// In Redis, shared by every app server.
    Redis(std::rc::Rc<SpringSessionStore>),
    /// In the browser, signed with the farm's key: nothing to hold here.
    Cookie(SignedCookies),
}

/// This app server, as Spring Session's store sees it: one connection.
const ME: ServerId = ServerId(0);

impl Sessions {
    pub fn local(ttl: Duration) -> Self {
        Sessions::Local {
            map: RefCell::new(HashMap::new()),
            ttl,
        }
    }

    /// Creates a session for `user` under `id` and returns the value of
    /// its `SESSION` cookie; an error if the store cannot write it.
    pub async fn create(&self, id: &str, user: &str) -> Result<String, String> {
        let view = SessionView {
            user: user.to_string(),
            created_ms: epoch_millis(),
        };
        Ok(match self {
            Sessions::Local { map, .. } => {
                let session = LocalSession {
                    view: view.clone(),
                    last_access: Instant::now(),
                };
                map.borrow_mut().insert(id.to_string(), session);
                id_cookie(id)
            }
            Sessions::Redis(store) => {
                store
                    .create_named(ME, id, user, Hold::NONE)
                    .await
                    .map_err(describe)?;
                id_cookie(id)
            }
            Sessions::Cookie(cookies) => cookies.seal(id, &view, view.created_ms),
        })
    }

    /// Looks up the session a `SESSION` cookie names and refreshes it.
    pub async fn find(&self, cookie: &str) -> Found {
        match self {
            Sessions::Local { map, ttl } => {
                let Some(id) = id_in_cookie(cookie) else {
                    return Found::Missing;
                };
                let mut map = map.borrow_mut();
                let now = Instant::now();
                match map.get_mut(&id) {
                    // A sliding TTL, judged when the request asks, as
                    // Tomcat's `isValid` does.
                    Some(s) if now.duration_since(s.last_access) < *ttl => {
                        s.last_access = now;
                        let view = s.view.clone();
                        Found::Session {
                            id,
                            view,
                            renewed: None,
                        }
                    }
                    Some(_) => {
                        map.remove(&id);
                        Found::Missing
                    }
                    None => Found::Missing,
                }
            }
            Sessions::Redis(store) => {
                let Some(id) = id_in_cookie(cookie) else {
                    return Found::Missing;
                };
                match store.access_named(ME, &id, Hold::NONE).await {
                    Ok((Lookup::Found, fields)) => {
                        let field = |name: &str| {
                            fields
                                .iter()
                                .find(|(n, _)| n == name)
                                .map(|(_, v)| v.clone())
                                .unwrap_or_default()
                        };
                        let view = SessionView {
                            user: field("sessionAttr:userId"),
                            created_ms: field("creationTime").parse().unwrap_or(0),
                        };
                        Found::Session {
                            id,
                            view,
                            renewed: None,
                        }
                    }
                    Ok(_) => Found::Missing,
                    Err(StoreFailure::Invalidated) => Found::Missing,
                    Err(failure) => Found::StoreDown(describe(failure)),
                }
            }
            // Checked, then sent back re-signed with a new last access:
            // the sliding TTL of a session no server holds.
            Sessions::Cookie(cookies) => {
                let now = epoch_millis();
                match cookies.open(cookie, now) {
                    Opened::Valid { id, view, .. } => Found::Session {
                        renewed: Some(cookies.seal(&id, &view, now)),
                        id,
                        view,
                    },
                    Opened::Expired | Opened::Forged => Found::Missing,
                }
            }
        }
    }

    /// Sessions this server holds now (unexpired); for Redis, every
    /// session in the store. Expired local sessions are dropped here, as
    /// Tomcat's background expiry does.
    pub async fn count(&self) -> u64 {
        match self {
            Sessions::Local { map, ttl } => {
                let now = Instant::now();
                let mut map = map.borrow_mut();
                map.retain(|_, s| now.duration_since(s.last_access) < *ttl);
                map.len() as u64
            }
            Sessions::Redis(store) => store.count(true).await.unwrap_or(0),
            // The sessions are in the browsers.
            Sessions::Cookie(_) => 0,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Sessions::Local { .. } => "local",
            Sessions::Redis(_) => "redis",
            Sessions::Cookie(_) => "cookie",
        }
    }
}

/// The `SESSION` cookie of a session kept on the server side: base64 of
/// its id, as Spring Session's `DefaultCookieSerializer` writes it.
fn id_cookie(id: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(id)
}

/// The session id a `SESSION` cookie names, whichever store wrote it
/// (base64 of the id, or a signed session), or `None` if it names none.
pub fn id_in_cookie(value: &str) -> Option<String> {
    match base64::engine::general_purpose::STANDARD.decode(value) {
        Ok(bytes) => String::from_utf8(bytes).ok(),
        // `.` is not in base64's alphabet: a signed cookie.
        Err(_) => signed_cookie::id_in(value),
    }
    .filter(|id| id.len() <= 64)
}

fn describe(failure: StoreFailure) -> String {
    match failure {
        StoreFailure::Loading => "Redis is loading its data".into(),
        StoreFailure::Down => "Redis cannot be reached".into(),
        StoreFailure::Invalidated => "Session was invalidated".into(),
        StoreFailure::Other(e) => e,
    }
}
