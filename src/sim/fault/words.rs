//! Every fault kind in words, in one place: the labels of tables, CSV
//! columns and charts, the headline of `lbsim explain` and the sentence of
//! the reports. Adding a fault kind means adding its arm to each function
//! here (the compiler lists the ones missing).

use super::kind::{FaultKind, ServerChoice};
use crate::sim::config::Fault;
use crate::sim::store::RestartMode;

/// `server_crash @ 00:15:00`, or `redis_restart (host_crash) @ 00:30:00`:
/// the `lost:` column headers of the table and `summary.csv`'s fault names.
pub fn label(fault: &Fault) -> String {
    match fault.kind {
        FaultKind::RedisRestart { mode, .. } => {
            format!("{} ({}) @ {}", fault.kind.name(), mode.name(), fault.at)
        }
        _ => format!("{} @ {}", fault.kind.name(), fault.at),
    }
}

/// A fault as a chart label says it, e.g. `server_crash (server 2)`.
pub fn short_label(fault: &Fault) -> String {
    match fault.kind {
        FaultKind::ServerCrash { server, .. } => match server {
            ServerChoice::Index(i) => format!("server_crash (server {i})"),
            ServerChoice::Random => "server_crash (random server)".to_string(),
        },
        FaultKind::RedisRestart { mode, .. } => match mode {
            RestartMode::Crash => "redis_restart (crash)".to_string(),
            RestartMode::HostCrash => "redis_restart (host crash)".to_string(),
            RestartMode::Graceful => "redis_restart (graceful)".to_string(),
        },
        FaultKind::RedisPartition { .. } => "redis_partition".to_string(),
        FaultKind::RedisSlow { latency, .. } => format!("redis_slow (+{latency})"),
        FaultKind::RollingDeploy { .. } => "rolling_deploy".to_string(),
        FaultKind::BlueGreen { .. } => "blue_green".to_string(),
        FaultKind::RandomCrashes { .. } => "random_crashes".to_string(),
        FaultKind::ScaleOut { add } => format!("scale_out (+{add})"),
        FaultKind::ScaleIn { remove, .. } => format!("scale_in (-{remove})"),
    }
}

/// What happens, as `lbsim explain` announces it at the fault's time.
pub fn headline(fault: &Fault) -> String {
    match fault.kind {
        FaultKind::ServerCrash {
            server,
            recover_after,
            host,
        } => {
            let which = match server {
                ServerChoice::Index(i) => format!("server {i}"),
                ServerChoice::Random => "a random server".to_string(),
            };
            let how = if host { "'s machine dies" } else { " crashes" };
            format!("{which}{how} (back, empty, after {recover_after})")
        }
        FaultKind::RedisRestart { mode, downtime, .. } => {
            let how = match mode {
                RestartMode::Crash => "the redis-server process is killed",
                RestartMode::HostCrash => "the Redis host loses power",
                RestartMode::Graceful => "Redis is shut down cleanly (SHUTDOWN)",
            };
            format!("{how} (back after {downtime})")
        }
        FaultKind::RollingDeploy { pause, drain } => match drain {
            Some(d) if !d.is_zero() => format!(
                "a rolling deploy replaces every server, draining each for {d}, {pause} apart"
            ),
            _ => format!(
                "a rolling deploy replaces every server, one every {pause}, without draining"
            ),
        },
        FaultKind::BlueGreen { grace } => {
            format!(
                "blue/green deploy: a new fleet comes up and takes all traffic (old one stops after {grace})"
            )
        }
        FaultKind::RandomCrashes { mtbf, mttr, until } => {
            format!(
                "random crashes begin: each server fails every {mtbf} on average, down {mttr}, until {until}"
            )
        }
        FaultKind::RedisPartition { duration } => {
            format!("the network between app servers and Redis fails for {duration}")
        }
        FaultKind::RedisSlow { duration, latency } => {
            format!("Redis slows down: every operation takes {latency} longer for {duration}")
        }
        FaultKind::ScaleOut { add } => format!(
            "{} join the farm, empty",
            count(u64::from(add), "new server")
        ),
        FaultKind::ScaleIn { remove, drain } => match drain {
            Some(drain) if !drain.is_zero() => format!(
                "{} leave the farm after draining for {drain}",
                count(u64::from(remove), "server")
            ),
            _ => format!(
                "{} leave the farm at once",
                count(u64::from(remove), "server")
            ),
        },
    }
}

/// What happens, in a sentence of the reports (after the time).
pub fn sentence(fault: &Fault) -> String {
    match fault.kind {
        FaultKind::ServerCrash {
            server,
            recover_after,
            host,
        } => {
            let how = if host {
                " (its whole machine: connections to it time out instead of being refused)"
            } else {
                ""
            };
            let which = match server {
                ServerChoice::Index(i) => format!("app server {i}{how}"),
                ServerChoice::Random => {
                    format!("an app server drawn at random (the same for every strategy){how}")
                }
            };
            format!(
                "{which} crashes (`server_crash`), losing the sessions in its memory; it \
             comes back empty after {recover_after}."
            )
        }
        FaultKind::RedisRestart { mode, downtime, .. } => {
            let how = match mode {
                RestartMode::Crash => "the Redis process is killed while its machine keeps running",
                RestartMode::HostCrash => {
                    "the machine running Redis loses power, so only what was fsynced survives"
                }
                RestartMode::Graceful => {
                    "Redis is shut down cleanly (SHUTDOWN), saving first if persistence is on"
                }
            };
            format!(
                "{how} (`redis_restart`, mode {}); it starts again after {downtime} and \
             reloads what it persisted. Strategies without Redis are not affected.",
                mode.name()
            )
        }
        FaultKind::RedisPartition { duration } => format!(
            "the network between the app servers and Redis fails for {duration} \
         (`redis_partition`); Redis keeps running and loses nothing."
        ),
        FaultKind::RedisSlow { duration, latency } => format!(
            "Redis slows down (`redis_slow`): for {duration}, every operation takes {latency} \
             longer, as during the fork of a snapshot on a large dataset; nothing is lost."
        ),
        FaultKind::RollingDeploy { pause, drain } => match drain {
            Some(d) if !d.is_zero() => format!(
                "a rolling deploy (`rolling_deploy`) replaces every app server with a new, empty \
             one, one at a time: each is drained for {d} (only its pinned users still go \
             there), then stopped, {pause} apart."
            ),
            _ => format!(
                "a rolling deploy (`rolling_deploy`) replaces every app server with a new, empty \
             one, one every {pause}, without draining."
            ),
        },
        FaultKind::BlueGreen { grace } => format!(
            "a blue/green deploy (`blue_green`): a new fleet as big as the old one comes up and \
         the balancer sends everything to it at once; the old fleet stops after {grace}."
        ),
        FaultKind::RandomCrashes { mtbf, mttr, until } => format!(
            "app servers crash at random (`random_crashes`): each one every {mtbf} on average \
         (exponential), back after {mttr} on average, until {until}."
        ),
        FaultKind::ScaleOut { add } => {
            format!("{add} new, empty app server(s) join the farm (`scale_out`).")
        }
        FaultKind::ScaleIn { remove, drain } => match drain {
            Some(drain) if !drain.is_zero() => format!(
                "the {remove} newest app server(s) leave the farm (`scale_in`) after draining \
             for {drain}: meanwhile only users already pinned to them are sent there."
            ),
            _ => format!(
                "the {remove} newest app server(s) leave the farm at once (`scale_in`), with \
             the sessions in their memory."
            ),
        },
    }
}

/// Thousands separators, so 1243987 reads as 1,243,987.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` and the word, in the plural when `n` is not 1: "1 error",
/// "2 errors", "3 strategies"; `n` with thousands separators.
pub fn count(n: u64, word: &str) -> String {
    match (n, word.strip_suffix('y')) {
        (1, _) => format!("1 {word}"),
        (_, Some(stem)) => format!("{} {stem}ies", thousands(n)),
        _ => format!("{} {word}s", thousands(n)),
    }
}
