//! What happened to a strategy's system: the typed events of `events.csv`,
//! the narrated timeline and the reports.
//!
//! Owns: the closed vocabulary of events ([`EventKind`]), the name each one
//! has in `events.csv`, and its description in words ([`EventRecord::detail`]),
//! written once here for the simulator and live mode alike. Must not: decide
//! anything; the fault plan and the drivers record events, reports read them.

use super::ServerId;
use super::store::RestartMode;
use super::time::{SimDuration, SimTime};

/// Something that happened, with its typed particulars.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// An app server crashed; `orphans` sessions that no user held any
    /// more went with it.
    ServerCrashed { server: ServerId, orphans: u64 },
    /// A crash aimed at a server that was already down: nothing happened.
    ServerWasDown { server: ServerId },
    /// A crashed server runs again, with empty memory.
    ServerRecovered { server: ServerId },
    /// The balancer's health checks took a server out of rotation.
    MarkedDown { server: ServerId },
    /// The balancer's health checks put a server back in rotation.
    MarkedUp { server: ServerId },
    /// A server left the farm (scale-in, deploy), with its memory.
    ServerRetired { server: ServerId, orphans: u64 },
    /// A deploy started `new` in place of `old`.
    ServerReplaced { new: ServerId, old: ServerId },
    /// A scale-out added servers.
    ScaledOut {
        added: Vec<ServerId>,
        in_service: u32,
    },
    /// A scale-in began draining servers.
    ScaleInDraining {
        leaving: Vec<ServerId>,
        drain: SimDuration,
    },
    /// A scale-in removed servers at once.
    ScaleInNow { leaving: Vec<ServerId> },
    /// A rolling deploy began.
    DeployBegins { servers: u32 },
    /// A rolling deploy replaced its last server.
    DeployFinished,
    /// A rolling deploy drains a server before replacing it.
    DeployDrain {
        server: ServerId,
        drain: SimDuration,
    },
    /// A blue/green switch to a new fleet.
    BlueGreen { servers: u32, grace: SimDuration },
    /// Random crashes began.
    RandomCrashesBegin { servers: u32, mtbf: SimDuration },
    /// The network to the store fails for `duration`.
    StoreLinkCut { duration: SimDuration },
    /// Every store operation takes `latency` longer for `duration`.
    StoreLinkSlow {
        duration: SimDuration,
        latency: SimDuration,
    },
    /// A store fault that does not apply: this strategy keeps no sessions
    /// in a store of its own.
    NoStoreServer { fault: StoreFaultKind },
    /// A restart aimed at a store server that was already down.
    StoreWasDown { mode: RestartMode },
    /// The store's server stopped; what survived is what `persistence`
    /// kept.
    StoreStopped {
        mode: RestartMode,
        persistence: String,
        orphans: u64,
    },
    /// The primary died; a replica will be promoted at `promote_at`, by
    /// Sentinel or, in a Redis Cluster, by the cluster's own nodes.
    PrimaryLost {
        mode: RestartMode,
        down_after: SimDuration,
        promote_at: SimTime,
        cluster: bool,
    },
    /// A replica was promoted, without the writes it had not received.
    Promoted { orphans: u64 },
    /// The old primary is back; it counts as a replica of the promoted one
    /// from `replica_at`, once Sentinel (`sentinel`) or the cluster made it
    /// one and its full sync is done (`sim::store::rejoin_delay`).
    ReplicaBack { replica_at: SimTime, sentinel: bool },
    /// The store's server started again; it answers from `ready` on.
    StoreStarted { ready: SimTime },
}

/// The store faults a strategy without Redis shrugs off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreFaultKind {
    /// `redis_restart`, in this mode.
    Restart(RestartMode),
    /// `redis_partition`.
    Partition,
    /// `redis_slow`.
    Slow,
}

/// Every name the `event` column of `events.csv` can hold, in the order
/// the README lists them.
pub const EVENT_NAMES: [&str; 19] = [
    "server_crash",
    "server_recovered",
    "server_marked_down",
    "server_marked_up",
    "server_retired",
    "server_added",
    "scale_out",
    "scale_in",
    "rolling_deploy",
    "deploy_drain",
    "blue_green",
    "random_crashes",
    "redis_partition",
    "redis_slow",
    "redis_restart",
    "redis_down",
    "redis_failover",
    "redis_replica_back",
    "redis_up",
];

impl EventKind {
    /// The name in `events.csv`'s `event` column: one of [`EVENT_NAMES`].
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::ServerCrashed { .. } | EventKind::ServerWasDown { .. } => "server_crash",
            EventKind::ServerRecovered { .. } => "server_recovered",
            EventKind::MarkedDown { .. } => "server_marked_down",
            EventKind::MarkedUp { .. } => "server_marked_up",
            EventKind::ServerRetired { .. } => "server_retired",
            EventKind::ServerReplaced { .. } => "server_added",
            EventKind::ScaledOut { .. } => "scale_out",
            EventKind::ScaleInDraining { .. } | EventKind::ScaleInNow { .. } => "scale_in",
            EventKind::DeployBegins { .. } | EventKind::DeployFinished => "rolling_deploy",
            EventKind::DeployDrain { .. } => "deploy_drain",
            EventKind::BlueGreen { .. } => "blue_green",
            EventKind::RandomCrashesBegin { .. } => "random_crashes",
            EventKind::StoreLinkCut { .. }
            | EventKind::NoStoreServer {
                fault: StoreFaultKind::Partition,
            } => "redis_partition",
            EventKind::StoreLinkSlow { .. }
            | EventKind::NoStoreServer {
                fault: StoreFaultKind::Slow,
            } => "redis_slow",
            EventKind::NoStoreServer {
                fault: StoreFaultKind::Restart(_),
            }
            | EventKind::StoreWasDown { .. } => "redis_restart",
            EventKind::StoreStopped { .. } | EventKind::PrimaryLost { .. } => "redis_down",
            EventKind::Promoted { .. } => "redis_failover",
            EventKind::ReplicaBack { .. } => "redis_replica_back",
            EventKind::StoreStarted { .. } => "redis_up",
        }
    }

    /// True for the events that destroy sessions (crashes, retirements, a
    /// store stop, a promotion), whose cost the reports count.
    pub fn destroys_sessions(&self) -> bool {
        matches!(
            self,
            EventKind::ServerCrashed { .. }
                | EventKind::ServerRetired { .. }
                | EventKind::StoreStopped { .. }
                | EventKind::Promoted { .. }
        )
    }
}

/// Sessions a live or stack run counted around a fault (in Redis, or in a
/// stack app server's memory), instead of knowing them one by one as the
/// simulator does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    /// Sessions in Redis (or in the app server's memory) just before the
    /// fault.
    pub before: u64,
}

/// One event of one strategy's run.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRecord {
    pub t: SimTime,
    pub kind: EventKind,
    /// Live sessions that users still held and that this event destroyed.
    /// Not every one becomes a forced logout: a user who comes back only
    /// after the TTL finds it expired (`sim::toll`).
    pub sessions_destroyed: u64,
    /// In a live run, how the loss was measured.
    pub counted: Option<Counted>,
    /// The run's forced logouts and errors when the event was recorded, so
    /// that what followed an event can be counted exactly (`explain`).
    pub so_far: (u64, u64),
}

impl EventRecord {
    /// The name in `events.csv`.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The event in words, as `events.csv`'s `detail` column has it.
    pub fn detail(&self) -> String {
        let held = crate::sim::fault::words::thousands(self.sessions_destroyed);
        let mut text = match &self.kind {
            EventKind::ServerCrashed { server, orphans } => format!(
                "server {} crashed; {held} sessions destroyed{}",
                server.0,
                orphan_note(*orphans)
            ),
            EventKind::ServerWasDown { server } => {
                format!("server {} was already down", server.0)
            }
            EventKind::ServerRecovered { server } => format!("server {} back, empty", server.0),
            EventKind::MarkedDown { server } => format!(
                "health checks fail: server {} taken out of rotation",
                server.0
            ),
            EventKind::MarkedUp { server } => format!(
                "health checks pass again: server {} back in rotation",
                server.0
            ),
            EventKind::ServerRetired { server, orphans } => format!(
                "server {} left the farm; {held} sessions destroyed{}",
                server.0,
                orphan_note(*orphans)
            ),
            EventKind::ServerReplaced { new, old } => {
                format!("server {} replaces server {}, empty", new.0, old.0)
            }
            EventKind::ScaledOut { added, in_service } => format!(
                "servers {} added, empty ({in_service} in service)",
                list(added)
            ),
            EventKind::ScaleInDraining { leaving, drain } => format!(
                "servers {} draining for {drain}: pinned users still go there, new ones do not",
                list(leaving)
            ),
            EventKind::ScaleInNow { leaving } => {
                format!("servers {} removed at once", list(leaving))
            }
            EventKind::DeployBegins { servers } => {
                format!("rolling deploy of {servers} servers begins, one at a time")
            }
            EventKind::DeployFinished => "rolling deploy finished: every server replaced".into(),
            EventKind::DeployDrain { server, drain } => format!(
                "server {} draining for {drain} before its replacement",
                server.0
            ),
            EventKind::BlueGreen { servers, grace } => format!(
                "green fleet of {servers} servers up; the balancer switches to it; blue stops \
                 after {grace}"
            ),
            EventKind::RandomCrashesBegin { servers, mtbf } => format!(
                "random crashes begin on {servers} servers (mean time between failures {mtbf})"
            ),
            EventKind::StoreLinkCut { duration } => format!(
                "app servers cut off from Redis for {duration}; Redis itself keeps everything"
            ),
            EventKind::StoreLinkSlow { duration, latency } => format!(
                "every Redis operation takes {latency} longer for {duration}; nothing is lost"
            ),
            EventKind::NoStoreServer { fault } => {
                let what = match fault {
                    StoreFaultKind::Restart(mode) => format!("{} restart", mode.name()),
                    StoreFaultKind::Partition => "partition".into(),
                    StoreFaultKind::Slow => "slowdown".into(),
                };
                format!("redis {what}: no effect, sessions are not in Redis")
            }
            EventKind::StoreWasDown { mode } => {
                format!("redis {} restart: redis was already down", mode.name())
            }
            EventKind::StoreStopped {
                mode,
                persistence,
                orphans,
            } => format!(
                "redis stopped ({}), persistence {persistence}; {held} sessions destroyed{}",
                mode.name(),
                orphan_note(*orphans)
            ),
            EventKind::PrimaryLost {
                mode,
                down_after,
                promote_at,
                cluster: false,
            } => format!(
                "redis primary lost ({}); Sentinel notices after {down_after} and promotes a \
                 replica at {promote_at}",
                mode.name()
            ),
            EventKind::PrimaryLost {
                mode,
                down_after,
                promote_at,
                cluster: true,
            } => format!(
                "redis cluster shard primary lost ({}); the other nodes flag it FAIL after \
                 node_timeout {down_after} and its replica takes over at {promote_at}",
                mode.name()
            ),
            EventKind::Promoted { orphans } => format!(
                "replica promoted; {held} sessions destroyed (writes not yet replicated){}",
                orphan_note(*orphans)
            ),
            EventKind::ReplicaBack {
                replica_at,
                sentinel: true,
            } => format!(
                "the old primary is back; Sentinel makes it a replica of the new one \
                 (+convert-to-slave), in sync at {replica_at}"
            ),
            EventKind::ReplicaBack {
                replica_at,
                sentinel: false,
            } => format!(
                "the old primary is back, as a replica of the new one, in sync at {replica_at}"
            ),
            EventKind::StoreStarted { ready } => {
                if ready.since(self.t) >= SimDuration::from_millis(1) {
                    format!("redis started; answers LOADING until {ready}")
                } else {
                    "redis started".into()
                }
            }
        };
        match (self.counted, &self.kind) {
            // The stack's app servers: counted in the process's memory
            // (its /stats) just before it went.
            (Some(counted), EventKind::ServerCrashed { .. } | EventKind::ServerRetired { .. }) => {
                text.push_str(&format!(
                    " (counted in its memory: {} sessions, {held} of them held by users)",
                    counted.before
                ))
            }
            (Some(counted), _) => text.push_str(&format!(
                " (counted in Redis: {held} of the {} sessions there before the fault did not \
                 come back)",
                counted.before
            )),
            (None, _) => {}
        }
        text
    }
}

fn list(servers: &[ServerId]) -> String {
    let names: Vec<String> = servers.iter().map(|s| s.0.to_string()).collect();
    names.join(", ")
}

fn orphan_note(orphans: u64) -> String {
    if orphans == 0 {
        String::new()
    } else {
        format!(
            " (+{} orphaned sessions no user holds)",
            crate::sim::fault::words::thousands(orphans)
        )
    }
}
