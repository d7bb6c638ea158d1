//! Where an app server keeps its sessions: in its own memory (`local`, as
//! Tomcat's `StandardManager` or an Express `MemoryStore` do), or in Redis
//! in Spring Session's layout (`live::spring_session`, the same code live
//! mode uses).

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::live::spring_session::{Hold, SpringSessionStore, StoreFailure, epoch_millis};
use crate::sim::ServerId;
use crate::sim::store::Lookup;

/// What a page request learned about its session.
pub enum Found {
    /// The session, refreshed (its sliding TTL starts again).
    Session(SessionView),
    /// No such session: never created here, destroyed, or expired.
    Missing,
    /// The store did not answer: the request fails (HTTP 500).
    StoreDown(String),
}

/// What the page shows of a session.
#[derive(Clone, Debug)]
pub struct SessionView {
    pub user: String,
    /// Epoch milliseconds.
    pub created_ms: u64,
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
    Redis(SpringSessionStore),
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

    /// Creates a session for `user` under `id`; an error if the store
    /// cannot write it.
    pub async fn create(&self, id: &str, user: &str) -> Result<SessionView, String> {
        let view = SessionView {
            user: user.to_string(),
            created_ms: epoch_millis(),
        };
        match self {
            Sessions::Local { map, .. } => {
                let session = LocalSession {
                    view: view.clone(),
                    last_access: Instant::now(),
                };
                map.borrow_mut().insert(id.to_string(), session);
                Ok(view)
            }
            Sessions::Redis(store) => store
                .create_named(ME, id, user, Hold::NONE)
                .await
                .map(|()| view)
                .map_err(describe),
        }
    }

    /// Looks `id` up and refreshes it.
    pub async fn find(&self, id: &str) -> Found {
        match self {
            Sessions::Local { map, ttl } => {
                let mut map = map.borrow_mut();
                let now = Instant::now();
                match map.get_mut(id) {
                    // A sliding TTL, judged when the request asks, as
                    // Tomcat's `isValid` does.
                    Some(s) if now.duration_since(s.last_access) < *ttl => {
                        s.last_access = now;
                        Found::Session(s.view.clone())
                    }
                    Some(_) => {
                        map.remove(id);
                        Found::Missing
                    }
                    None => Found::Missing,
                }
            }
            Sessions::Redis(store) => match store.access_named(ME, id, Hold::NONE).await {
                Ok((Lookup::Found, fields)) => {
                    let field = |name: &str| {
                        fields
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    };
                    Found::Session(SessionView {
                        user: field("sessionAttr:userId"),
                        created_ms: field("creationTime").parse().unwrap_or(0),
                    })
                }
                Ok(_) => Found::Missing,
                Err(StoreFailure::Invalidated) => Found::Missing,
                Err(failure) => Found::StoreDown(describe(failure)),
            },
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
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Sessions::Local { .. } => "local",
            Sessions::Redis(_) => "redis",
        }
    }
}

fn describe(failure: StoreFailure) -> String {
    match failure {
        StoreFailure::Loading => "Redis is loading its data".into(),
        StoreFailure::Down => "Redis cannot be reached".into(),
        StoreFailure::Invalidated => "Session was invalidated".into(),
        StoreFailure::Other(e) => e,
    }
}
