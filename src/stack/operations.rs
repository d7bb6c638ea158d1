//! What can be done to a running stack, written once for the faults of
//! `run --stack` and the buttons of `lbsim demo`: crash an app server and
//! bring it back, scale out into a spare slot, drain and retire a server,
//! replace one as a deploy does, restart Redis.
//!
//! Changes to the farm go through HAProxy's runtime API (Management Guide
//! 9.3): `set server <backend>/<server> state ready|drain|maint` and
//! `set server … addr <ip> port <port>`. `drain` keeps sending a server
//! the users whose cookie names it (persistence) but no new ones;
//! `maint` sends it nothing.

use std::cell::RefCell;
use std::path::Path;
use std::time::{Duration, Instant};

use super::processes::{AppProcess, AppSpec, sessions_held};
pub(crate) use super::redis_servers::RedisNode;
use super::runtime_api;
use crate::sim::store::RestartMode;

/// HAProxy's state for a server, as `set server … state` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminState {
    Ready,
    Drain,
    Maint,
}

impl AdminState {
    fn word(self) -> &'static str {
        match self {
            AdminState::Ready => "ready",
            AdminState::Drain => "drain",
            AdminState::Maint => "maint",
        }
    }
}

/// The name HAProxy knows app server `index` by.
pub fn server_name(index: u32) -> String {
    format!("app-{index}")
}

/// Sends a runtime API command that answers nothing on success.
async fn quiet_command(socket: &Path, line: &str) -> Result<(), String> {
    let answer = runtime_api::command(socket, line)
        .await
        .map_err(|e| format!("HAProxy's runtime API: {e}"))?;
    let answer = answer.trim();
    if answer.is_empty() {
        Ok(())
    } else {
        Err(format!("HAProxy refused `{line}`: {answer}"))
    }
}

/// `set server app/app-N state …`.
pub async fn set_state(socket: &Path, index: u32, state: AdminState) -> Result<(), String> {
    let line = format!(
        "set server app/{} state {}",
        server_name(index),
        state.word()
    );
    quiet_command(socket, &line).await
}

/// Waits until HAProxy has app server `index` in rotation (`up`) or out of
/// it; `false` if that took longer than `limit`.
pub async fn wait_for(socket: &Path, index: u32, up: bool, limit: Duration) -> bool {
    let name = server_name(index);
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(servers) = runtime_api::servers_up(socket).await
            && servers.iter().any(|(n, u)| *n == name && *u == up)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A crash: SIGKILL. Returns the sessions the process held in its memory
/// just before (read from its `/stats`), which die with it.
pub async fn crash(app: &RefCell<AppProcess>) -> u64 {
    let held = held_before_crash(app).await;
    app.borrow_mut().kill();
    held
}

/// A crash of the server's machine: SIGKILL, then its port goes silent
/// (`stack::dead_host`) until [`recover`]. Returns the sessions its memory
/// held, as [`crash`].
pub async fn crash_host(app: &RefCell<AppProcess>) -> u64 {
    let held = held_before_crash(app).await;
    let silenced = app.borrow_mut().kill_host();
    if let Err(e) = silenced {
        // The process is dead; only its port answers as a dead process's.
        crate::say!(
            "stack: cannot silence app-{}'s port ({e}): its connections are refused, not \
             left unanswered",
            app.borrow().index
        );
    }
    held
}

async fn held_before_crash(app: &RefCell<AppProcess>) -> u64 {
    let port = app.borrow().port();
    if app.borrow().is_running() {
        sessions_held(port).await.unwrap_or(0)
    } else {
        0
    }
}

/// A crashed server (or its machine) comes back: a new, empty process on
/// the same port.
/// HAProxy's health checks put it back in rotation.
pub fn recover(app: &RefCell<AppProcess>) -> Result<(), String> {
    app.borrow_mut()
        .restart()
        .map_err(|e| format!("cannot restart app-{}: {e}", app.borrow().index))
}

/// Scale out: a new, empty app server `index` in a spare slot of
/// HAProxy's configuration (`haproxy::Ports::spares`), which is pointed at
/// its port and made `ready`; HAProxy's checks then bring it up.
pub async fn scale_out(socket: &Path, index: u32, spec: &AppSpec) -> Result<AppProcess, String> {
    let app = AppProcess::start(index, spec.clone())
        .map_err(|e| format!("cannot start app-{index}: {e}"))?;
    let line = format!(
        "set server app/{} addr 127.0.0.1 port {}",
        server_name(index),
        app.port()
    );
    // `set server … addr` answers with what changed, not silence.
    let answer = runtime_api::command(socket, &line)
        .await
        .map_err(|e| format!("HAProxy's runtime API: {e}"))?;
    if !answer.contains("changed") {
        return Err(format!("HAProxy refused `{line}`: {}", answer.trim()));
    }
    set_state(socket, index, AdminState::Ready).await?;
    Ok(app)
}

/// Takes app server `index` out of rotation the way an operator does:
/// `drain` for `drain` (users pinned to it still reach it), then `maint`,
/// then the process stops. Returns the sessions that were in its memory.
pub async fn drain_and_stop(
    socket: &Path,
    app: &RefCell<AppProcess>,
    drain: Duration,
) -> Result<u64, String> {
    let index = app.borrow().index;
    if !drain.is_zero() {
        set_state(socket, index, AdminState::Drain).await?;
        tokio::time::sleep(drain).await;
    }
    set_state(socket, index, AdminState::Maint).await?;
    Ok(crash(app).await)
}

/// One step of a rolling deploy: app server `index` is drained, stopped
/// and replaced by a new process (the new version) on the same port,
/// then put back in rotation; returns once HAProxy's checks see it up
/// (or after `check_limit`), with the sessions the old process held.
pub async fn replace(
    socket: &Path,
    app: &RefCell<AppProcess>,
    drain: Duration,
    check_limit: Duration,
) -> Result<u64, String> {
    let held = drain_and_stop(socket, app, drain).await?;
    recover(app)?;
    let index = app.borrow().index;
    set_state(socket, index, AdminState::Ready).await?;
    wait_for(socket, index, true, check_limit).await;
    Ok(held)
}

/// Stops Redis (the process `node`) as `mode` says: `SHUTDOWN` (it saves
/// or fsyncs as configured, then exits) or SIGKILL (a host crash cannot be
/// done from inside the host, so it is a SIGKILL too, as live mode does).
pub(crate) async fn stop_redis(node: &RedisNode, mode: RestartMode) {
    match mode {
        RestartMode::Graceful => shutdown(node).await,
        RestartMode::Crash | RestartMode::HostCrash => node.with(|p| p.kill()),
    }
}

/// Starts Redis again on its folder and waits, without blocking other
/// tasks, until it answers having loaded its data, or `deadline` passes.
pub(crate) async fn start_redis(node: &RedisNode, deadline: Instant) {
    let _ = node.with(|p| p.respawn());
    while !node.with(|p| p.answers(true)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `SHUTDOWN`, then waits for the process to exit (SIGKILL after 30 s).
async fn shutdown(node: &RedisNode) {
    let url = node.with(|p| p.url());
    if let Ok(client) = redis::Client::open(url.as_str())
        && let Ok(mut connection) = client.get_multiplexed_async_connection().await
    {
        let command = redis::cmd("SHUTDOWN");
        let sent = command.query_async::<()>(&mut connection);
        let _ = tokio::time::timeout(Duration::from_secs(30), sent).await;
    }
    for _ in 0..6000 {
        if node.with(|p| p.reap_if_exited()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    node.with(|p| p.kill());
}
