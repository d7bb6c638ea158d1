//! Store actions of the fault plan carried out on real processes: kill or
//! `SHUTDOWN` the primary, restart it on its folder and port, and, with
//! replicas, let real Sentinels (or the Redis Cluster itself) elect and
//! promote a replica, watching until the app is served again.
//!
//! A real Redis does not say which sessions a fault destroyed, so they are
//! counted as the simulator defines them: the sessions users held just
//! before the fault, looked up once Redis answers again (by key, so that
//! sessions users created since do not count as survivors). The count goes
//! back to the world, which records the same event the simulator does.
//!
//! Nothing here blocks the driver's single thread for long: waits (a
//! `SHUTDOWN` that waits for its replicas, a restart that loads, a
//! failover) are polled with async sleeps, and the counts that follow a
//! restart or a failover run as tasks of their own while the plan goes on.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio::time::sleep;

use super::{SharedState, Target};
use crate::live::clock::LiveClock;
use crate::live::redis_process::RedisProcess;
use crate::live::sentinel;
use crate::sim::fault::{FaultAction, Losses, Wakes};
use crate::sim::store::{FaultReply, RestartMode, StoreFault};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::{SessionId, UserId};

/// How long to wait for a restarted Redis, a cluster or a failover to
/// serve again before giving up.
const SERVE_AGAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a `SHUTDOWN` may take (Redis 7 waits up to `shutdown-timeout`,
/// 10 s by default, for lagging replicas).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// A process of the strategy's Redis.
#[derive(Clone)]
enum Node {
    /// A lone primary, or one of a replicated set.
    Process(Rc<RefCell<RedisProcess>>),
    /// Node `index` of the cluster, with its cluster node id.
    Cluster(usize, String),
}

/// What Redis held before a fault.
#[derive(Clone)]
struct Before {
    /// When the fault happened (scenario time).
    at: SimTime,
    /// The sessions users held then, with their users.
    held: Rc<Vec<(UserId, SessionId)>>,
    /// The process the fault stopped.
    node: Node,
}

/// Carries out one strategy's store actions.
pub(super) struct StoreFaults {
    target: Target,
    shared: SharedState,
    clock: LiveClock,
    /// Per fault (index): what Redis held before it; removed once counted.
    before: HashMap<u32, Before>,
    /// In a cluster, which node is each shard's primary now, and its
    /// replica (they swap at a failover).
    primary_of: Vec<usize>,
    replica_of: Vec<usize>,
    /// Counts waiting for Redis to serve again, so the plan goes on
    /// meanwhile.
    measuring: JoinSet<u32>,
}

impl StoreFaults {
    pub(super) fn new(target: Target, shared: SharedState, clock: LiveClock) -> Self {
        let shards = target.cluster.as_ref().map_or(0, |c| c.borrow().shards);
        StoreFaults {
            primary_of: (0..shards).collect(),
            replica_of: (shards..2 * shards).collect(),
            target,
            shared,
            clock,
            before: HashMap::new(),
            measuring: JoinSet::new(),
        }
    }

    /// Carries out `store_fault` for `action` (at scenario time `at`) and
    /// reports to the world.
    pub(super) async fn carry_out(
        &mut self,
        at: SimTime,
        action: FaultAction,
        store_fault: StoreFault,
        wakes: &mut Wakes,
    ) {
        let fault = fault_index(action);
        let reply = match store_fault {
            StoreFault::Stop { shard, mode } => self.stop(at, fault, shard, mode).await,
            StoreFault::LosePrimary { shard, mode, .. } => self.stop(at, fault, shard, mode).await,
            StoreFault::Promote { shard } => self.promote(fault, shard),
            StoreFault::Start { shard, rejoin } => self.start(at, fault, shard, rejoin),
            StoreFault::ServerMemoryLost(_) | StoreFault::ServerAdded(_) => {
                FaultReply::NotApplicable
            }
        };
        self.shared
            .borrow_mut()
            .world
            .store_fault_done(at, action, reply, Losses::Later, wakes);
    }

    /// Waits for the counts still running, then counts what faults that
    /// never got their restart (it was due after the end of the run) left:
    /// their Redis is started once more to see what it kept.
    pub(super) async fn finish(&mut self) {
        while let Some(done) = self.measuring.join_next().await {
            if let Ok(fault) = done {
                self.before.remove(&fault);
            }
        }
        let pending: Vec<(u32, Before)> = self.before.drain().collect();
        for (fault, before) in pending {
            let restarted = respawn(&self.target, &before.node);
            let found = match restarted {
                Ok(()) => {
                    wait_serving(&self.target, &before.node).await;
                    existing(&self.target, &before).await
                }
                Err(_) => None,
            };
            let stop = FaultAction::StopStore { fault };
            self.shared.borrow_mut().world.losses_counted(
                before.at,
                stop,
                &before.held,
                found.as_deref(),
            );
        }
    }

    /// The process that is the primary of `shard` now: in a cluster the
    /// shard's current primary node; with Sentinels the one they name;
    /// otherwise the one lbsim started.
    async fn primary(&self, shard: u32) -> Option<Node> {
        if let Some(cluster) = &self.target.cluster {
            let shards = cluster.borrow().shards;
            let node = self.primary_of[shard as usize % shards];
            let id = cluster.borrow().node_id(node).unwrap_or_default();
            return Some(Node::Cluster(node, id));
        }
        if let Some(sentinels) = &self.target.sentinels {
            let port = sentinel::master_port_async(&sentinels.urls()).await?;
            let mut nodes = self.target.process.iter().chain(&self.target.replicas);
            return nodes
                .find(|p| p.borrow().port() == port)
                .map(|p| Node::Process(p.clone()));
        }
        self.target.process.clone().map(Node::Process)
    }

    /// Notes what Redis holds, then stops the primary of `shard` the way
    /// `mode` says.
    async fn stop(&mut self, at: SimTime, fault: u32, shard: u32, mode: RestartMode) -> FaultReply {
        let Some(node) = self.primary(shard).await else {
            return FaultReply::AlreadyDown;
        };
        if !running(&self.target, &node) {
            return FaultReply::AlreadyDown;
        }
        let held = {
            let mut state = self.shared.borrow_mut();
            let held = state.world.held_sessions(at);
            // Until Redis is back and counted, each of them may be gone.
            state.world.at_risk(fault, &held);
            held
        };
        let before = Before {
            at,
            held: Rc::new(held),
            node: node.clone(),
        };
        self.before.insert(fault, before);
        match mode {
            // A live run cannot cut the host's power: the kernel keeps
            // unsynced AOF data, so a host crash behaves as a process
            // crash here (a note on the run says so).
            RestartMode::Crash | RestartMode::HostCrash => kill(&self.target, &node),
            RestartMode::Graceful => shutdown(&self.target, &node).await,
        }
        FaultReply::Done
    }

    /// A replica takes over: Sentinel (or the cluster) promotes it by
    /// itself; lbsim watches until the app is served by it, then counts.
    fn promote(&mut self, fault: u32, shard: u32) -> FaultReply {
        let Some(before) = self.before.get(&fault).cloned() else {
            return FaultReply::NotApplicable;
        };
        let action = FaultAction::Promote { fault };
        let (target, shared, clock) = (self.target.clone(), self.shared.clone(), self.clock);
        if let Some(cluster) = &self.target.cluster {
            let s = shard as usize % cluster.borrow().shards;
            std::mem::swap(&mut self.primary_of[s], &mut self.replica_of[s]);
        }
        self.measuring.spawn_local(async move {
            let deadline = Instant::now() + SERVE_AGAIN_TIMEOUT;
            match (&target.cluster, &target.sentinels, &before.node) {
                (Some(cluster), _, Node::Cluster(_, id)) => {
                    // First the cluster must flag the node `fail` (after
                    // cluster-node-timeout); only then does "every slot
                    // served" mean the failover is over.
                    let mut noticed = false;
                    while Instant::now() < deadline {
                        noticed = noticed || cluster.borrow().marked_failed(id);
                        if noticed && cluster.borrow().is_ok() {
                            break;
                        }
                        sleep(Duration::from_millis(20)).await;
                    }
                }
                (_, Some(sentinels), Node::Process(old)) => {
                    let old_port = old.borrow().port();
                    let urls = sentinels.urls();
                    while Instant::now() < deadline {
                        if let Some(port) = sentinel::master_port_async(&urls).await
                            && port != old_port
                        {
                            let url = crate::live::auth::local_url(port);
                            if target.store.switch_to(&url).await.is_ok() {
                                break;
                            }
                        }
                        sleep(Duration::from_millis(20)).await;
                    }
                }
                _ => {}
            }
            let served_at = clock.now();
            let found = existing(&target, &before).await;
            shared.borrow_mut().world.losses_counted(
                served_at,
                action,
                &before.held,
                found.as_deref(),
            );
            fault
        });
        FaultReply::Done
    }

    /// The stopped process starts again on its folder and port. After a
    /// failover (`rejoin`) it comes back as a replica: Sentinel reconfigures
    /// it (`+convert-to-slave`), a cluster node rejoins as a replica with
    /// its `nodes.conf`. Otherwise it loads what it kept, and a count of
    /// the survivors follows once it serves again.
    fn start(&mut self, at: SimTime, fault: u32, _shard: u32, rejoin: bool) -> FaultReply {
        let Some(before) = self.before.get(&fault).cloned() else {
            return FaultReply::NotApplicable;
        };
        if rejoin {
            if let Err(err) = respawn(&self.target, &before.node) {
                crate::say!("live: the old primary could not restart: {err}");
            }
            return FaultReply::Rejoined;
        }
        let (target, shared, clock) = (self.target.clone(), self.shared.clone(), self.clock);
        let restarted = respawn(&self.target, &before.node);
        self.measuring.spawn_local(async move {
            let started = Instant::now();
            let found = match restarted {
                Ok(()) => {
                    wait_serving(&target, &before.node).await;
                    existing(&target, &before).await
                }
                Err(err) => {
                    crate::say!("live: redis-server failed to restart: {err}");
                    None
                }
            };
            let loading = SimDuration::from(started.elapsed());
            let ready = at + SimDuration::from_nanos_f64(loading.as_nanos() as f64 * clock.scale());
            let mut state = shared.borrow_mut();
            let start = FaultAction::StartStore {
                fault,
                rejoin: false,
            };
            let mut no_wakes = Vec::new();
            let reply = FaultReply::Ready(ready);
            state
                .world
                .store_fault_done(at, start, reply, Losses::Later, &mut no_wakes);
            let stop = FaultAction::StopStore { fault };
            state
                .world
                .losses_counted(before.at, stop, &before.held, found.as_deref());
            fault
        });
        // Reported once it serves again, by the count above.
        FaultReply::NotApplicable
    }
}

/// Which sessions of `before` are in Redis now (`None`: it never answered).
async fn existing(target: &Target, before: &Before) -> Option<Vec<bool>> {
    let sessions: Vec<SessionId> = before.held.iter().map(|&(_, s)| s).collect();
    target.store.existing(&sessions).await
}

fn running(target: &Target, node: &Node) -> bool {
    with_process(target, node, |p| p.is_running()).unwrap_or(false)
}

fn kill(target: &Target, node: &Node) {
    with_process(target, node, |p| p.kill());
}

fn respawn(target: &Target, node: &Node) -> std::io::Result<()> {
    with_process(target, node, |p| p.respawn()).unwrap_or(Ok(()))
}

/// Polls until the restarted node serves again: it answers `PING` (no
/// longer `-LOADING`), or, in a cluster, every slot is served.
async fn wait_serving(target: &Target, node: &Node) {
    let deadline = Instant::now() + SERVE_AGAIN_TIMEOUT;
    while Instant::now() < deadline {
        let serving = match (node, &target.cluster) {
            (Node::Cluster(..), Some(cluster)) => cluster.borrow().is_ok(),
            (Node::Process(process), _) => process.borrow().answers(true),
            _ => true,
        };
        if serving {
            return;
        }
        sleep(Duration::from_millis(2)).await;
    }
}

/// Runs `f` on the process of `node`.
fn with_process<T>(
    target: &Target,
    node: &Node,
    f: impl FnOnce(&mut RedisProcess) -> T,
) -> Option<T> {
    match node {
        Node::Process(process) => Some(f(&mut process.borrow_mut())),
        Node::Cluster(index, _) => target
            .cluster
            .as_ref()
            .map(|c| f(&mut c.borrow_mut().nodes[*index])),
    }
}

/// `SHUTDOWN`: Redis saves (RDB) or fsyncs (AOF) as configured and, with
/// replicas, first waits for them to catch up (`shutdown-timeout`, 10 s:
/// `prepareForShutdown` in `server.c`), then closes the connection instead
/// of replying.
async fn shutdown(target: &Target, node: &Node) {
    let Some(url) = with_process(target, node, |p| p.url()) else {
        return;
    };
    if let Ok(client) = redis::Client::open(url.as_str())
        && let Ok(mut connection) = client.get_multiplexed_async_connection().await
    {
        let command = redis::cmd("SHUTDOWN");
        let sent = command.query_async::<()>(&mut connection);
        let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, sent).await;
    }
    let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
    while !with_process(target, node, |p| p.reap_if_exited()).unwrap_or(true) {
        if Instant::now() > deadline {
            with_process(target, node, |p| p.kill());
            return;
        }
        sleep(Duration::from_millis(5)).await;
    }
}

/// The scenario fault an action belongs to.
fn fault_index(action: FaultAction) -> u32 {
    match action {
        FaultAction::StopStore { fault }
        | FaultAction::LosePrimary { fault }
        | FaultAction::Promote { fault }
        | FaultAction::StartStore { fault, .. } => fault,
        _ => unreachable!("only store actions reach the store"),
    }
}
