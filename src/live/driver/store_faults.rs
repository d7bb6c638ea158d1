//! Store actions of the fault plan carried out on real redis-server
//! processes: kill or `SHUTDOWN`, restart on the same folder and port,
//! promote a replica (`REPLICAOF NO ONE`) as Sentinel would, or let a
//! Redis Cluster fail over by itself and watch it.
//!
//! A real Redis does not say which sessions a fault destroyed, so each one
//! is counted: the session hashes in Redis just before the fault, and
//! those of them still there once it answers again (by `creationTime`, so
//! that sessions users created since do not count as survivors). The count
//! goes back to the world, which records the same event the simulator
//! does, with the count.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio::time::sleep;

use super::{SharedState, Target};
use crate::live::clock::LiveClock;
use crate::live::spring_session::epoch_millis;
use crate::sim::fault::{FaultAction, Losses, Wakes};
use crate::sim::store::{FaultReply, RestartMode, StoreFault};
use crate::sim::time::{SimDuration, SimTime};

/// How long to wait for a restarted Redis (or a cluster) to serve again
/// before giving up on counting.
const SERVE_AGAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// What was in Redis just before a fault.
#[derive(Clone, Copy, Debug)]
struct Before {
    /// When the fault happened (scenario time).
    at: SimTime,
    /// Session hashes in Redis.
    sessions: u64,
    /// Wall clock then, in epoch milliseconds, as `creationTime` has it.
    stopped_ms: u64,
}

/// Carries out one strategy's store actions.
pub(super) struct StoreFaults {
    target: Target,
    shared: SharedState,
    clock: LiveClock,
    /// Per fault (index): what Redis held before it.
    before: HashMap<u32, Before>,
    /// Faults whose primary a replica replaced: the old process rejoins as
    /// a replica when it starts again.
    failed_over: HashSet<u32>,
    /// Counts waiting for Redis to serve again, so the fault plan goes on
    /// meanwhile.
    measuring: JoinSet<()>,
}

impl StoreFaults {
    pub(super) fn new(target: Target, shared: SharedState, clock: LiveClock) -> Self {
        StoreFaults {
            target,
            shared,
            clock,
            before: HashMap::new(),
            failed_over: HashSet::new(),
            measuring: JoinSet::new(),
        }
    }

    /// Waits for the counts still running.
    pub(super) async fn finish(&mut self) {
        while self.measuring.join_next().await.is_some() {}
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
            StoreFault::LosePrimary { shard } => {
                self.stop(at, fault, shard, RestartMode::Crash).await
            }
            StoreFault::Promote { shard } => {
                self.failed_over.insert(fault);
                self.promote(at, fault, shard).await;
                FaultReply::Done
            }
            StoreFault::Start { shard } => self.start(at, fault, shard),
            StoreFault::ServerMemoryLost(_) | StoreFault::ServerAdded(_) => {
                FaultReply::NotApplicable
            }
        };
        self.shared
            .borrow_mut()
            .world
            .store_fault_done(at, action, reply, Losses::Later, wakes);
    }

    /// The node a fault aimed at `shard` hits: the primary of that shard in
    /// a cluster (shards wrap around, as in the simulator).
    fn cluster_node(&self, shard: u32) -> Option<usize> {
        let cluster = self.target.cluster.as_ref()?;
        Some(shard as usize % cluster.borrow().shards)
    }

    /// Restarts cluster node `node` on its folder and port (with its
    /// `nodes.conf`, it rejoins the cluster).
    fn restart_node(&self, node: usize) -> std::io::Result<()> {
        let cluster = self.target.cluster.as_ref().expect("a cluster");
        cluster.borrow_mut().nodes[node].restart()
    }

    /// Counts what Redis holds, then stops the primary (of `shard`) the way
    /// `mode` says.
    async fn stop(&mut self, at: SimTime, fault: u32, shard: u32, mode: RestartMode) -> FaultReply {
        let running = match (self.cluster_node(shard), &self.target.process) {
            (Some(node), _) => self
                .target
                .cluster
                .as_ref()
                .expect("a cluster")
                .borrow()
                .nodes[node]
                .pid()
                .is_some(),
            (None, Some(process)) => process.borrow().pid().is_some(),
            (None, None) => false,
        };
        if !running {
            return FaultReply::AlreadyDown;
        }
        let sessions = self.target.store.count(true).await.unwrap_or(0);
        self.before.insert(
            fault,
            Before {
                at,
                sessions,
                stopped_ms: epoch_millis(),
            },
        );
        if let Some(node) = self.cluster_node(shard) {
            let cluster = self.target.cluster.as_ref().expect("a cluster");
            cluster.borrow_mut().nodes[node].kill();
            return FaultReply::Done;
        }
        let process = self.target.process.as_ref().expect("a process");
        match mode {
            // A live run cannot cut the host's power: the kernel keeps
            // unsynced AOF data, so a host crash behaves as a process
            // crash here (a note on the run says so).
            RestartMode::Crash | RestartMode::HostCrash => process.borrow_mut().kill(),
            RestartMode::Graceful => {
                let url = process.borrow().url();
                // SHUTDOWN saves (RDB) or fsyncs (AOF) as configured, then
                // closes the connection instead of replying.
                if let Ok(client) = redis::Client::open(url.as_str())
                    && let Ok(mut connection) = client.get_connection()
                {
                    let _: Result<(), _> = redis::cmd("SHUTDOWN").query(&mut connection);
                }
                process.borrow_mut().wait_for_exit(Duration::from_secs(30));
            }
        }
        FaultReply::Done
    }

    /// A replica takes over: lbsim promotes it as Sentinel would and points
    /// the app at it; a cluster promotes its own, and lbsim watches until
    /// every slot is served again.
    async fn promote(&mut self, at: SimTime, fault: u32, shard: u32) {
        let Some(before) = self.before.get(&fault).copied() else {
            return;
        };
        let action = FaultAction::Promote { fault };
        if let Some(node) = self.cluster_node(shard) {
            let cluster = self.target.cluster.clone().expect("a cluster");
            let (store, shared, clock) =
                (self.target.store.clone(), self.shared.clone(), self.clock);
            self.measuring.spawn_local(async move {
                let id = cluster.borrow().node_id(node).unwrap_or_default();
                let deadline = Instant::now() + SERVE_AGAIN_TIMEOUT;
                // First the cluster must notice (flag the node `fail` after
                // cluster-node-timeout); only then does "every slot served"
                // mean the failover is over.
                let mut noticed = false;
                while Instant::now() < deadline {
                    noticed = noticed || cluster.borrow().marked_failed(&id);
                    if noticed && cluster.borrow().is_ok() {
                        break;
                    }
                    sleep(Duration::from_millis(20)).await;
                }
                let ok_at = clock.now();
                let after = store.count_created_before(before.stopped_ms).await;
                let lost = before.sessions.saturating_sub(after.unwrap_or(0));
                let mut state = shared.borrow_mut();
                state
                    .world
                    .losses_counted(ok_at, action, lost, before.sessions);
            });
            return;
        }
        let (Some(replica), store) = (&self.target.replica, &self.target.store) else {
            return;
        };
        let promoted = replica.borrow().promote();
        let url = replica.borrow().url();
        let switched = match promoted {
            Ok(()) => store.switch_to(&url).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let after = match switched {
            Ok(()) => store.count_created_before(before.stopped_ms).await,
            Err(err) => {
                crate::say!("live: the failover failed: {err}");
                None
            }
        };
        let lost = before.sessions.saturating_sub(after.unwrap_or(0));
        self.shared
            .borrow_mut()
            .world
            .losses_counted(at, action, lost, before.sessions);
    }

    /// The stopped process starts again on its folder and port: after a
    /// failover it rejoins as a replica of the promoted one; otherwise it
    /// loads what it kept, and a count of the survivors follows once it
    /// serves again.
    fn start(&mut self, at: SimTime, fault: u32, shard: u32) -> FaultReply {
        let node = self.cluster_node(shard);
        if self.failed_over.contains(&fault) {
            let rejoined = match (node, &self.target.process, &self.target.replica) {
                // With its nodes.conf the old primary rejoins the cluster as
                // a replica by itself.
                (Some(node), _, _) => self.restart_node(node),
                (None, Some(primary), Some(replica)) => {
                    let port = replica.borrow().port();
                    let restarted = primary.borrow_mut().restart();
                    restarted.and_then(|()| primary.borrow().replicate(port))
                }
                _ => return FaultReply::NotApplicable,
            };
            if let Err(err) = rejoined {
                crate::say!("live: the old primary could not rejoin: {err}");
            }
            return FaultReply::Rejoined;
        }
        let Some(before) = self.before.get(&fault).copied() else {
            return FaultReply::NotApplicable;
        };
        let restarted = match node {
            Some(node) => self.restart_node(node),
            None => match &self.target.process {
                Some(process) => process.borrow_mut().respawn(),
                None => return FaultReply::NotApplicable,
            },
        };
        if let Err(err) = restarted {
            crate::say!("live: redis-server failed to restart: {err}");
            return FaultReply::Done;
        }
        let (store, shared, clock) = (self.target.store.clone(), self.shared.clone(), self.clock);
        let cluster = self.target.cluster.clone();
        let started = Instant::now();
        self.measuring.spawn_local(async move {
            // Poll until Redis has loaded its data (it answers instead of
            // -LOADING or a refused connection) or, for a cluster, until
            // every slot is served again.
            while started.elapsed() < SERVE_AGAIN_TIMEOUT {
                let serving = match &cluster {
                    Some(cluster) => cluster.borrow().is_ok(),
                    None => store.count(true).await.is_some(),
                };
                if serving {
                    break;
                }
                sleep(Duration::from_millis(2)).await;
            }
            let loading = SimDuration::from(started.elapsed());
            let ready = at + SimDuration::from_nanos_f64(loading.as_nanos() as f64 * clock.scale());
            let after = store.count_created_before(before.stopped_ms).await;
            let lost = before.sessions.saturating_sub(after.unwrap_or(0));
            let mut state = shared.borrow_mut();
            let mut no_wakes = Vec::new();
            let start = FaultAction::StartStore { fault };
            let reply = FaultReply::Ready(ready);
            state
                .world
                .store_fault_done(at, start, reply, Losses::Later, &mut no_wakes);
            let stop = FaultAction::StopStore { fault };
            state
                .world
                .losses_counted(before.at, stop, lost, before.sessions);
        });
        // Reported once it serves again, by the count above.
        FaultReply::NotApplicable
    }
}

/// The scenario fault an action belongs to.
fn fault_index(action: FaultAction) -> u32 {
    match action {
        FaultAction::StopStore { fault }
        | FaultAction::LosePrimary { fault }
        | FaultAction::Promote { fault }
        | FaultAction::StartStore { fault } => fault,
        _ => unreachable!("only store actions reach the store"),
    }
}
