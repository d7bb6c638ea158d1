//! The fault kinds a scenario can name, with their parameters.
//!
//! What each kind does is documented once, in `sim::fault` (the module
//! docs), carried out by `sim::fault::farm` and `sim::fault::store`, and
//! put in words by `sim::fault::words`.

use crate::sim::store::RestartMode;
use crate::sim::time::{SimDuration, SimTime};

/// What a fault does. The exact effect of each is documented where it is
/// applied, in `sim::fault`.
#[derive(Clone, Copy, Debug)]
pub enum FaultKind {
    /// An app server dies, losing its memory, and comes back empty.
    ServerCrash {
        server: ServerChoice,
        recover_after: SimDuration,
        /// A process crash refuses new connections at once; a host crash
        /// leaves them unanswered until `timeout connect`.
        host: bool,
    },
    /// The Redis server stops and starts again after `downtime`.
    RedisRestart {
        mode: RestartMode,
        downtime: SimDuration,
        /// In a Redis Cluster, the shard whose primary goes down.
        shard: u32,
    },
    /// The app servers cannot reach Redis for `duration` (a network
    /// partition); Redis itself keeps running and loses nothing.
    RedisPartition { duration: SimDuration },
    /// For `duration`, every store operation takes `latency` longer (a
    /// fork for a snapshot of a large dataset, a noisy neighbour, a
    /// saturated link); nothing is lost.
    RedisSlow {
        duration: SimDuration,
        latency: SimDuration,
    },
    /// Every server in service is replaced by a new, empty one, one at a
    /// time: (drained for `drain` if given, then) stopped and replaced,
    /// then `pause` before the next.
    RollingDeploy {
        pause: SimDuration,
        drain: Option<SimDuration>,
    },
    /// A full new fleet comes up and the balancer switches every request
    /// to it at once; the old fleet is stopped after `grace`.
    BlueGreen { grace: SimDuration },
    /// Each server crashes at random (exponential times, mean `mtbf`) and
    /// recovers after an exponential `mttr`, until `until`.
    RandomCrashes {
        mtbf: SimDuration,
        mttr: SimDuration,
        until: SimTime,
    },
    /// `add` new, empty servers join the farm.
    ScaleOut { add: u32 },
    /// The `remove` newest servers in service leave the farm, at once or
    /// after `drain` (during which only users already pinned to them are
    /// still sent there). Their memory goes with them.
    ScaleIn {
        remove: u32,
        drain: Option<SimDuration>,
    },
}

impl FaultKind {
    /// The kind without its parameters.
    pub fn fault_name(&self) -> FaultName {
        match self {
            FaultKind::ServerCrash { .. } => FaultName::ServerCrash,
            FaultKind::RedisRestart { .. } => FaultName::RedisRestart,
            FaultKind::RedisPartition { .. } => FaultName::RedisPartition,
            FaultKind::RedisSlow { .. } => FaultName::RedisSlow,
            FaultKind::RollingDeploy { .. } => FaultName::RollingDeploy,
            FaultKind::BlueGreen { .. } => FaultName::BlueGreen,
            FaultKind::RandomCrashes { .. } => FaultName::RandomCrashes,
            FaultKind::ScaleOut { .. } => FaultName::ScaleOut,
            FaultKind::ScaleIn { .. } => FaultName::ScaleIn,
        }
    }

    /// The name used in scenario files and in `summary.csv`'s fault labels.
    pub fn name(&self) -> &'static str {
        self.fault_name().as_str()
    }
}

/// What a scenario's `kind = "…"` names: a fault kind without its
/// parameters. Validation matches on it exhaustively, so a new kind cannot
/// be forgotten there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultName {
    ServerCrash,
    RedisRestart,
    RedisPartition,
    RedisSlow,
    RollingDeploy,
    BlueGreen,
    RandomCrashes,
    ScaleOut,
    ScaleIn,
}

impl FaultName {
    /// Every kind, in the order error messages list them.
    pub const ALL: [FaultName; 9] = [
        FaultName::ServerCrash,
        FaultName::RedisRestart,
        FaultName::RedisPartition,
        FaultName::RedisSlow,
        FaultName::ScaleOut,
        FaultName::ScaleIn,
        FaultName::RollingDeploy,
        FaultName::BlueGreen,
        FaultName::RandomCrashes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultName::ServerCrash => "server_crash",
            FaultName::RedisRestart => "redis_restart",
            FaultName::RedisPartition => "redis_partition",
            FaultName::RedisSlow => "redis_slow",
            FaultName::RollingDeploy => "rolling_deploy",
            FaultName::BlueGreen => "blue_green",
            FaultName::RandomCrashes => "random_crashes",
            FaultName::ScaleOut => "scale_out",
            FaultName::ScaleIn => "scale_in",
        }
    }

    /// The kind a scenario file names, if any.
    pub fn parse(name: &str) -> Option<FaultName> {
        FaultName::ALL.into_iter().find(|n| n.as_str() == name)
    }
}

/// Which server a crash hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerChoice {
    /// This one (0-based).
    Index(u32),
    /// One drawn from the fault's own random stream, the same for every
    /// strategy.
    Random,
}
