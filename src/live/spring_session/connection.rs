//! The app servers' connections to Redis, and the slow link
//! (`redis_slow`) emulated on them.

use std::time::Duration;

use redis::aio::ConnectionManager;

/// A connection to a lone Redis or to a Redis Cluster (which routes each
/// command to the node owning its key's slot).
#[derive(Clone)]
pub enum Connection {
    Single(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl redis::aio::ConnectionLike for Connection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Connection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}

/// How long a slow store link (`redis_slow`) holds each command back,
/// emulated on the client side: the command waits before it goes out, never
/// past `until` (the end of the run).
#[derive(Clone, Copy, Debug)]
pub struct Hold {
    pub delay: Duration,
    pub until: Option<tokio::time::Instant>,
}

impl Hold {
    /// No slowdown.
    pub const NONE: Hold = Hold {
        delay: Duration::ZERO,
        until: None,
    };
}

/// A connection whose every round trip is held back first.
pub(super) struct Held {
    pub(super) connection: Connection,
    pub(super) hold: Hold,
}

impl Held {
    async fn wait(hold: Hold) {
        if hold.delay.is_zero() {
            return;
        }
        let at = tokio::time::Instant::now() + hold.delay;
        tokio::time::sleep_until(hold.until.map_or(at, |end| at.min(end))).await;
    }
}

impl redis::aio::ConnectionLike for Held {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            Held::wait(self.hold).await;
            self.connection.req_packed_command(cmd).await
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        Box::pin(async move {
            Held::wait(self.hold).await;
            self.connection
                .req_packed_commands(pipeline, offset, count)
                .await
        })
    }

    fn get_db(&self) -> i64 {
        self.connection.get_db()
    }
}
