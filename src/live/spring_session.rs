//! Sessions in real Redis, written the way Spring Session writes them.
//!
//! The layout follows Spring Session Data Redis's `RedisSessionRepository`
//! (the repository Spring Boot 3 configures by default;
//! `spring-session-data-redis/src/main/java/org/springframework/session/data/redis/RedisSessionRepository.java`
//! and `RedisSessionMapper.java` in spring-projects/spring-session):
//! - one hash per session at `spring:session:sessions:<id>`, with fields
//!   `creationTime` and `lastAccessedTime` (epoch milliseconds),
//!   `maxInactiveInterval` (seconds) and `sessionAttr:<name>` per attribute;
//! - `findById` is `HGETALL`; an empty hash is "no session"; a session whose
//!   `lastAccessedTime + maxInactiveInterval` has passed is deleted and
//!   treated as missing;
//! - `save` of a new session writes its fields in one `HMSET` and sets the
//!   expiry with `PEXPIREAT`; `save` of an existing session checks `hasKey`
//!   (`EXISTS`; gone: Spring throws "Session was invalidated", a 500),
//!   writes the changed fields (`HMSET`, here `lastAccessedTime`) and sets
//!   the key to expire at `lastAccessedTime + maxInactiveInterval`
//!   (`PEXPIREAT`), so the key's TTL slides with every request. Each is its
//!   own round trip, as `RedisTemplate` sends them (`sim::store::spring`),
//!   unless the scenario pipelines the save.
//!
//! Differences, on purpose: attribute values are plain strings rather than
//! JDK-serialized objects, so `redis-cli HGETALL` is readable in class;
//! with time compression, `maxInactiveInterval` holds the compressed TTL
//! rounded up to whole seconds while the expiry itself is set with
//! millisecond precision (`PEXPIREAT`), since a compressed TTL may be a
//! fraction of a second.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, ServerErrorKind};

use crate::sim::store::Lookup;
use crate::sim::{ServerId, SessionId, UserId};

mod connection;
mod inspect;

use connection::Held;
pub use connection::{Connection, Hold};

/// Spring Session's default key namespace.
pub const SPRING_NAMESPACE: &str = "spring:session:";

/// Why Redis did not answer a session operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreFailure {
    /// `-LOADING`: Redis is up but still loading its data set.
    Loading,
    /// The connection failed: Redis is down or restarting.
    Down,
    /// The session was found but gone by the save: Spring's "Session was
    /// invalidated".
    Invalidated,
    /// Any other error (a timeout, an unexpected reply).
    Other(String),
}

impl StoreFailure {
    fn from_redis(err: &RedisError) -> Self {
        if err.kind() == ErrorKind::Server(ServerErrorKind::BusyLoading) {
            StoreFailure::Loading
        } else if err.is_io_error() || err.is_connection_dropped() || err.is_connection_refusal() {
            StoreFailure::Down
        } else {
            StoreFailure::Other(err.to_string())
        }
    }
}

/// A session store in a real Redis, one connection per virtual app server
/// (each is multiplexed, so concurrent requests of a server pipeline
/// naturally on its connection).
pub struct SpringSessionStore {
    /// One connection per virtual app server; replaced when a failover
    /// points the app at a promoted replica.
    connections: std::cell::RefCell<Vec<Connection>>,
    /// The server they are connected to (a single Redis).
    url: std::cell::RefCell<String>,
    /// For a cluster, every node's URL: counting keys asks each primary.
    cluster_nodes: Vec<String>,
    /// Key prefix up to `sessions:`; `spring:session:` for a server lbsim
    /// owns, `lbsim:<run id>:spring:session:` on a user's server.
    namespace: String,
    /// Session TTL in wall-clock time (the scenario TTL / time scale).
    ttl_wall: Duration,
    /// Mixed into session ids so that two runs never share an id.
    run_tag: u64,
    /// Replicas every write must reach before it counts (`WAIT`); 0 =
    /// asynchronous replication.
    wait_replicas: std::cell::Cell<u32>,
    /// `WAIT`'s timeout.
    wait_timeout: std::cell::Cell<Duration>,
    /// Send the save's commands in one pipeline instead of one by one.
    pipeline: std::cell::Cell<bool>,
}

/// How the app's client connects to `url`: with `TCP_NODELAY`, as Lettuce
/// (Spring Boot's default client) does since 6.1 (`SocketOptions.
/// DEFAULT_SO_NO_DELAY = true` in redis/lettuce). Without it (redis-rs's
/// default) Nagle's algorithm holds a command back while an earlier one
/// on the shared connection is unacknowledged: invisible on loopback,
/// but on a slow link (`redis_slow` on the stack's relay) it added up to
/// 120 ms to a 210 ms page at 10 to 30 requests in flight (measured with
/// `stack::redis_link` at 40 ms).
fn app_connection_info(url: &str) -> Result<redis::ConnectionInfo, RedisError> {
    use redis::IntoConnectionInfo;
    let info = url.into_connection_info()?;
    let tcp = info.tcp_settings().clone().set_nodelay(true);
    Ok(info.set_tcp_settings(tcp))
}

/// How long the app's client waits for a reply: the simulator's fail-fast
/// client's (`sim::client`), so that commands queued behind `WAIT`s on
/// the shared connection fail when the model says. (A scenario's
/// `client = "lettuce"` keeps this too, not its command timeout.)
fn response_timeout() -> Duration {
    let timeout = crate::sim::client::ClientPolicy::FAIL_FAST_RESPONSE_TIMEOUT;
    Duration::from_secs_f64(timeout.as_secs_f64())
}

/// Milliseconds since the Unix epoch, as Spring stores times.
pub fn epoch_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl SpringSessionStore {
    /// Connects `servers` connections to `url`.
    pub async fn connect(
        url: &str,
        servers: u32,
        namespace: String,
        ttl_wall: Duration,
        run_tag: u64,
    ) -> Result<Self, RedisError> {
        let connections = Self::open(url, servers).await?;
        Ok(SpringSessionStore {
            connections: std::cell::RefCell::new(connections),
            url: std::cell::RefCell::new(url.to_string()),
            cluster_nodes: Vec::new(),
            namespace,
            ttl_wall,
            run_tag,
            wait_replicas: std::cell::Cell::new(0),
            wait_timeout: std::cell::Cell::new(Duration::from_secs(1)),
            pipeline: std::cell::Cell::new(false),
        })
    }

    /// Makes every write wait until `replicas` replicas have it (`WAIT
    /// replicas timeout`, as an application that wants synchronous
    /// acknowledgement calls it); a write that does not get there in time
    /// is an error.
    pub fn wait_for_replicas(&self, replicas: u32, timeout: Duration) {
        self.wait_replicas.set(replicas);
        self.wait_timeout.set(timeout);
    }

    /// `WAIT` after a write, when asked for: an error unless enough
    /// replicas acknowledged it in time.
    async fn wait_if_asked(&self, connection: &mut Held) -> Result<(), StoreFailure> {
        let replicas = self.wait_replicas.get();
        if replicas == 0 {
            return Ok(());
        }
        let acked: u32 = redis::cmd("WAIT")
            .arg(replicas)
            .arg(self.wait_timeout.get().as_millis().max(1) as u64)
            .query_async(connection)
            .await
            .map_err(|e| StoreFailure::from_redis(&e))?;
        if acked < replicas {
            return Err(StoreFailure::Other(format!(
                "only {acked} of {replicas} replicas acknowledged"
            )));
        }
        Ok(())
    }

    /// Connects to a Redis Cluster through its nodes' URLs. Like the single
    /// connections, it does not retry: a request for a slot whose primary
    /// is down fails until the cluster has promoted its replica.
    pub async fn connect_cluster(
        urls: Vec<String>,
        namespace: String,
        ttl_wall: Duration,
        run_tag: u64,
    ) -> Result<Self, RedisError> {
        let nodes = urls
            .iter()
            .map(|url| app_connection_info(url))
            .collect::<Result<Vec<_>, _>>()?;
        let client = redis::cluster::ClusterClient::builder(nodes)
            .retries(0)
            .connection_timeout(Duration::from_millis(500))
            .response_timeout(response_timeout())
            .build()?;
        let connection = client.get_async_connection().await?;
        Ok(SpringSessionStore {
            connections: std::cell::RefCell::new(vec![Connection::Cluster(connection)]),
            url: std::cell::RefCell::new(urls.first().cloned().unwrap_or_default()),
            cluster_nodes: urls,
            namespace,
            ttl_wall,
            run_tag,
            wait_replicas: std::cell::Cell::new(0),
            wait_timeout: std::cell::Cell::new(Duration::from_secs(1)),
            pipeline: std::cell::Cell::new(false),
        })
    }

    /// Sends each save in one pipeline (a scenario's `pipeline = true`).
    pub fn pipeline_saves(&self, pipeline: bool) {
        self.pipeline.set(pipeline);
    }

    /// Runs `pipe`, all its commands in one round trip or, as Spring does,
    /// one by one.
    async fn send<T: redis::FromRedisValue>(
        &self,
        connection: &mut Held,
        pipe: &redis::Pipeline,
    ) -> Result<T, StoreFailure> {
        if self.pipeline.get() {
            return pipe
                .query_async(connection)
                .await
                .map_err(|e| StoreFailure::from_redis(&e));
        }
        let mut replies = Vec::new();
        for command in pipe.cmd_iter() {
            let reply: redis::Value = command
                .query_async(connection)
                .await
                .map_err(|e| StoreFailure::from_redis(&e))?;
            replies.push(reply);
        }
        redis::FromRedisValue::from_redis_value(redis::Value::Array(replies))
            .map_err(|e| StoreFailure::Other(e.to_string()))
    }

    /// Points every connection at another server (after a failover, the
    /// promoted replica), the way Sentinel-aware clients reconnect.
    pub async fn switch_to(&self, url: &str) -> Result<(), RedisError> {
        let servers = self.connections.borrow().len() as u32;
        let fresh = Self::open(url, servers).await?;
        *self.connections.borrow_mut() = fresh;
        *self.url.borrow_mut() = url.to_string();
        Ok(())
    }

    /// The server the app's connections go to now.
    pub fn url(&self) -> String {
        self.url.borrow().clone()
    }

    async fn open(url: &str, servers: u32) -> Result<Vec<Connection>, RedisError> {
        let client = redis::Client::open(app_connection_info(url)?)?;
        // Fail fast while Redis is down: one reconnection attempt per failed
        // command, so every request in the outage is an error at about the
        // time it was sent. A scenario's `client = "lettuce"` holds the
        // commands instead, above this connection: the world's client says
        // when to reconnect (`live::driver::client`), as Lettuce's
        // watchdog would.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(response_timeout()))
            .set_min_delay(Duration::from_millis(1))
            .set_max_delay(Duration::from_millis(5))
            .set_number_of_retries(0);
        let mut connections = Vec::with_capacity(servers as usize);
        for _ in 0..servers {
            let manager =
                ConnectionManager::new_with_config(client.clone(), config.clone()).await?;
            connections.push(Connection::Single(manager));
        }
        Ok(connections)
    }

    /// A UUID-shaped session id, as Spring's `UuidSessionIdGenerator` makes
    /// (version-4 layout), derived from the run and the numeric id.
    pub fn session_id(&self, session: SessionId) -> String {
        let id = crate::sim::store::spring::session_uuid(self.run_tag, session);
        String::from_utf8_lossy(&id).into_owned()
    }

    /// The hash key of a session.
    pub fn key(&self, session: SessionId) -> String {
        self.key_of(&self.session_id(session))
    }

    /// The hash key of the session whose id (the cookie's value) is `id`.
    pub(crate) fn key_of(&self, id: &str) -> String {
        format!("{}sessions:{id}", self.namespace)
    }

    fn connection(&self, server: ServerId) -> Connection {
        let connections = self.connections.borrow();
        connections[server.index() % connections.len()].clone()
    }

    /// Creates a session at login, like `createSession` + `save`.
    pub async fn create(
        &self,
        server: ServerId,
        session: SessionId,
        user: UserId,
        hold: Hold,
    ) -> Result<(), StoreFailure> {
        let id = self.session_id(session);
        self.create_named(server, &id, &format!("user-{}", user.0), hold)
            .await
    }

    /// [`Self::create`] for a session id and user name an app server chose
    /// (`lbsim app-server`).
    pub async fn create_named(
        &self,
        server: ServerId,
        id: &str,
        user: &str,
        hold: Hold,
    ) -> Result<(), StoreFailure> {
        let now = epoch_millis();
        let key = self.key_of(id);
        let max_inactive = self.ttl_wall.as_secs_f64().ceil().max(1.0) as u64;
        let mut pipe = redis::pipe();
        let fields = [
            ("creationTime", now.to_string()),
            ("lastAccessedTime", now.to_string()),
            ("maxInactiveInterval", max_inactive.to_string()),
            ("sessionAttr:userId", user.to_string()),
            ("sessionAttr:roles", "ROLE_USER".to_string()),
            ("sessionAttr:loginTime", now.to_string()),
            ("sessionAttr:authenticated", "true".to_string()),
        ];
        pipe.cmd("HMSET")
            .arg(&key)
            .arg(&fields[..])
            .cmd("PEXPIREAT")
            .arg(&key)
            .arg(now + self.ttl_wall.as_millis() as u64);
        let mut connection = Held {
            connection: self.connection(server),
            hold,
        };
        let _: (String, i64) = self.send(&mut connection, &pipe).await?;
        self.wait_if_asked(&mut connection).await
    }

    /// Looks a session up and, if it is there, refreshes it, like
    /// `findById` followed by `save`.
    pub async fn access(
        &self,
        server: ServerId,
        session: SessionId,
        hold: Hold,
    ) -> Result<Lookup, StoreFailure> {
        let id = self.session_id(session);
        self.access_named(server, &id, hold)
            .await
            .map(|(lookup, _)| lookup)
    }

    /// [`Self::access`] by session id; a session found comes with its
    /// fields (`creationTime`, `sessionAttr:userId`, ...).
    pub async fn access_named(
        &self,
        server: ServerId,
        id: &str,
        hold: Hold,
    ) -> Result<(Lookup, Vec<(String, String)>), StoreFailure> {
        let key = self.key_of(id);
        let mut connection = Held {
            connection: self.connection(server),
            hold,
        };
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .map_err(|e| StoreFailure::from_redis(&e))?;
        if fields.is_empty() {
            return Ok((Lookup::Missing, fields));
        }
        let now = epoch_millis();
        let last_accessed = fields
            .iter()
            .find(|(name, _)| name == "lastAccessedTime")
            .and_then(|(_, value)| value.parse::<u64>().ok())
            .unwrap_or(0);
        if last_accessed + self.ttl_wall.as_millis() as u64 <= now {
            // Spring deletes an expired session it finds and reports none.
            let _: Result<(), _> = redis::cmd("DEL")
                .arg(&key)
                .query_async(&mut connection)
                .await;
            return Ok((Lookup::Missing, Vec::new()));
        }
        // Spring's save: EXISTS, then the changed field and the expiry. One
        // by one, Spring stops at a missing key; in a pipeline the write
        // goes out anyway and leaves a stray one-field hash with a TTL,
        // which expires alone.
        if !self.pipeline.get() {
            let exists: bool = redis::cmd("EXISTS")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .map_err(|e| StoreFailure::from_redis(&e))?;
            if !exists {
                return Err(StoreFailure::Invalidated);
            }
        }
        let mut pipe = redis::pipe();
        if self.pipeline.get() {
            pipe.exists(&key);
        }
        pipe.cmd("HMSET")
            .arg(&key)
            .arg("lastAccessedTime")
            .arg(now.to_string())
            .cmd("PEXPIREAT")
            .arg(&key)
            .arg(now + self.ttl_wall.as_millis() as u64);
        let exists = if self.pipeline.get() {
            let (exists, _, _): (bool, String, i64) = self.send(&mut connection, &pipe).await?;
            exists
        } else {
            let _: (String, i64) = self.send(&mut connection, &pipe).await?;
            true
        };
        self.wait_if_asked(&mut connection).await?;
        if !exists {
            return Err(StoreFailure::Invalidated);
        }
        Ok((Lookup::Found, fields))
    }
}
