//! The network between the stack's app servers and Redis, as a TCP relay
//! lbsim controls: the real counterpart of the model's store link
//! (`sim::link`), for the faults `redis_partition` and `redis_slow`.
//!
//! The app servers reach Redis through this relay on a loopback port of
//! its own; lbsim's own connection (which counts sessions) goes straight
//! to Redis, as a monitoring host on another network would. Redis itself
//! notices nothing of either fault, as in the model.
//!
//! - **Cut** (`redis_partition`): every relayed connection is closed and
//!   new ones are closed as soon as they are accepted, until the link is
//!   repaired. The app's client sees its connection fail at once, which is
//!   what the model's fail-fast client sees of a partition (`Verdict::Drop`
//!   answered as unavailable). Simplified, and said in the README: a real
//!   partition is usually a black hole (packets vanish, nothing is
//!   refused), which a fail-fast client notices only at its timeout; a
//!   client that waits (`client = "lettuce"`) is not on the stack.
//! - **Slow** (`redis_slow`): every chunk the app sends to Redis is held
//!   back by the delay in force when it was sent, in order, so each round
//!   trip takes that much longer, as the model adds the delay once per
//!   round trip. Answers from Redis pass at once. Overlapping slow windows
//!   add up, as in the model. A latency, not a duration of the scenario:
//!   not compressed by the time scale (as live mode's emulation).
//!
//! The relay runs on a thread of its own, with its own runtime: the
//! stack's thread blocks while it starts an app server (until `/health`
//! answers), and an app server connects to Redis before it answers, so a
//! relay on that thread would keep it waiting. Its state is shared
//! through a mutex.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::{Instant, sleep_until};

/// What the link does now.
#[derive(Default)]
struct LinkState {
    /// Partitions in force (they may overlap): the link is cut while
    /// this is above 0.
    cuts: u32,
    /// The sum of the slow windows in force.
    delay: Duration,
    /// The tasks of the connections relayed now, to end them at a cut.
    connections: Vec<AbortHandle>,
}

type Shared = Arc<Mutex<LinkState>>;

fn lock(state: &Shared) -> MutexGuard<'_, LinkState> {
    // A relay task that panicked holding the lock leaves consistent state
    // (each change is one assignment): keep going.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A relay from a loopback port to Redis; stops when dropped.
pub struct RedisLink {
    port: u16,
    state: Shared,
    /// Dropping it ends the relay's thread, and with it every connection.
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RedisLink {
    /// Starts relaying a free loopback port to `redis_port`.
    pub fn start(redis_port: u16) -> io::Result<RedisLink> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let state = Shared::default();
        let shared = state.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("redis-link".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        () = accept_loop(listener, redis_port, shared.clone()) => {}
                        _ = stopped => {}
                    }
                    for connection in lock(&shared).connections.drain(..) {
                        connection.abort();
                    }
                });
                // Dropping the runtime drops the aborted tasks' sockets.
            })?;
        Ok(RedisLink {
            port,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The port the app servers connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A partition begins: every relayed connection closes, and new ones
    /// are refused until as many [`RedisLink::repair`]s.
    pub fn cut(&self) {
        let mut state = lock(&self.state);
        state.cuts += 1;
        for connection in state.connections.drain(..) {
            connection.abort();
        }
    }

    /// A partition ends.
    pub fn repair(&self) {
        let mut state = lock(&self.state);
        state.cuts = state.cuts.saturating_sub(1);
    }

    /// A slow window begins: `by` more on every round trip.
    pub fn slow_down(&self, by: Duration) {
        lock(&self.state).delay += by;
    }

    /// A slow window of `by` ends.
    pub fn speed_up(&self, by: Duration) {
        let mut state = lock(&self.state);
        state.delay = state.delay.saturating_sub(by);
    }
}

impl Drop for RedisLink {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts the app servers' connections and relays each, or closes it at
/// once while the link is cut.
async fn accept_loop(listener: TcpListener, redis_port: u16, state: Shared) {
    loop {
        let Ok((app, _)) = listener.accept().await else {
            continue;
        };
        // Under the lock, so that a cut cannot come between the check and
        // the registration.
        let mut link = lock(&state);
        if link.cuts > 0 {
            // Closed at once: the partition refuses it.
            drop(app);
            continue;
        }
        let task = tokio::spawn(relay(app, redis_port, state.clone()));
        link.connections.retain(|c| !c.is_finished());
        link.connections.push(task.abort_handle());
    }
}

/// Relays one app connection to Redis until either side closes (or the
/// task is aborted by a cut, which closes both sockets).
async fn relay(app: TcpStream, redis_port: u16, state: Shared) {
    let Ok(redis) = TcpStream::connect(("127.0.0.1", redis_port)).await else {
        return;
    };
    let _ = app.set_nodelay(true);
    let _ = redis.set_nodelay(true);
    let (mut app_read, mut app_write) = app.into_split();
    let (mut redis_read, mut redis_write) = redis.into_split();
    // App to Redis: each chunk stamped with when it may go, sent in order.
    let (chunks, mut due) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let upstream = async move {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            match app_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let at = Instant::now() + lock(&state).delay;
                    if chunks.send((at, buffer[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    };
    let forward = async move {
        while let Some((at, chunk)) = due.recv().await {
            sleep_until(at).await;
            if redis_write.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = redis_write.shutdown().await;
    };
    let downstream = async move {
        let _ = tokio::io::copy(&mut redis_read, &mut app_write).await;
        let _ = app_write.shutdown().await;
    };
    // Either direction ending ends the connection.
    tokio::select! {
        () = async { tokio::join!(upstream, forward); } => {}
        () = downstream => {}
    }
}
