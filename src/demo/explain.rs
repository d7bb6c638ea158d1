//! One sentence per event of the demo: what just happened to the
//! sessions, in the words a class needs, from what was measured (sessions
//! held before, found after) and what the strategy is. The same causes as
//! the simulator's models, which cite the real systems: `sim::balancer`
//! (what each balancer does when a server leaves or joins),
//! `sim::store::redis` (what each persistence setting keeps), and HAProxy's
//! health checks (`stack::haproxy`).

use std::time::Duration;

use crate::sim::store::{AppendFsync, Persistence, RestartMode};

/// What the sentences depend on: the strategy and the health checks.
#[derive(Clone, Debug)]
pub struct Setting {
    /// The balancer model's name (`round_robin`, `sticky`, …).
    pub balancer: &'static str,
    /// Redis's persistence, or `None` when sessions live in the app
    /// servers' memory or in signed cookies.
    pub redis: Option<Persistence>,
    /// Sessions live in the users' signed cookies (`store = "cookie"`).
    pub in_cookies: bool,
    /// HAProxy's check interval, `fall` and `rise`.
    pub check: (Duration, u32, u32),
}

/// Something the teacher did, with what was measured.
#[derive(Clone, Debug)]
pub enum Happened {
    /// SIGKILL of an app server that held `held` sessions in its memory.
    Crashed { server: u32, held: u64 },
    /// A new, empty process in its place.
    Recovered { server: u32 },
    /// Redis stopped and started again: `before` sessions before, `after`
    /// found after.
    RedisRestarted {
        mode: RestartMode,
        before: u64,
        after: u64,
    },
    /// A new server joined; `servers` are in the farm now.
    ScaledOut { server: u32, servers: u32 },
    /// A server was drained for `drain`, then stopped with `held`
    /// sessions in its memory.
    ScaledIn {
        server: u32,
        held: u64,
        drain: Duration,
    },
    /// One step of a rolling deploy: a server replaced by a new process.
    Replaced { server: u32, held: u64 },
    /// The rolling deploy is over.
    DeployFinished { servers: u32, lost: u64 },
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{s:.1} s")
    }
}

fn sessions(n: u64) -> String {
    if n == 1 {
        "1 session".into()
    } else {
        format!("{n} sessions")
    }
}

fn users(n: u64) -> String {
    if n == 1 {
        "its user".into()
    } else {
        format!("their {n} users")
    }
}

/// The sentence for `happened`.
pub fn sentence(setting: &Setting, happened: &Happened) -> String {
    let (inter, fall, rise) = setting.check;
    let local = setting.redis.is_none() && !setting.in_cookies;
    // Where sessions live when not in the app servers' memory.
    let kept = if setting.in_cookies {
        "in the users' signed cookies"
    } else {
        "in Redis"
    };
    match happened {
        Happened::Crashed { server, held } => {
            let detect = format!(
                "HAProxy takes it out of rotation after {fall} failed health check{} {} apart \
                 (within {}), and until then requests sent to it fail",
                if fall == 1 { "" } else { "s" },
                seconds(inter),
                seconds(inter * fall)
            );
            if local {
                let how = if setting.balancer == "sticky" {
                    ": HAProxy ignores the cookie that pinned them to a server that is down and \
                     sends them to one that never saw their session"
                } else {
                    " on whichever server they reach next, since no other server has their session"
                };
                if *held == 0 {
                    return format!(
                        "app-{server} was killed (SIGKILL) holding no session, so nobody is \
                         logged out this time; {detect}."
                    );
                }
                format!(
                    "app-{server} was killed (SIGKILL) and the {} in its memory died with it, so \
                     {} must log in again{how}; {detect}.",
                    sessions(*held),
                    users(*held)
                )
            } else {
                format!(
                    "app-{server} was killed (SIGKILL), but no session lived in its memory: they \
                     are all {kept}, so its users stay logged in on the other servers; {detect}."
                )
            }
        }
        Happened::Recovered { server } => {
            let after = if local && setting.balancer == "sticky" {
                "; it starts empty, and users pinned elsewhere meanwhile stay where their cookie \
                 now points, so it fills only with new logins"
            } else if local {
                "; it starts empty and knows nobody's session"
            } else if setting.in_cookies {
                "; it checks signed cookies with the farm's key like the others, so whoever lands \
                 there is still logged in"
            } else {
                "; it reads sessions from Redis like the others, so whoever lands there is still \
                 logged in"
            };
            format!(
                "app-{server} is back as a new process, in rotation again after {rise} passing \
                 health check{} (within {}){after}.",
                if rise == 1 { "" } else { "s" },
                seconds(inter * rise)
            )
        }
        Happened::RedisRestarted {
            mode,
            before,
            after,
        } => {
            let lost = before.saturating_sub(*after);
            let how = match mode {
                RestartMode::Graceful => "shut down (SHUTDOWN)",
                RestartMode::Crash | RestartMode::HostCrash => "killed (SIGKILL)",
            };
            let why = match (setting.redis.as_ref(), mode) {
                (Some(Persistence::None), RestartMode::Graceful) => {
                    "because without persistence even SHUTDOWN writes nothing to disk"
                }
                (Some(Persistence::None), _) => {
                    "because without persistence Redis keeps sessions only in memory"
                }
                (_, RestartMode::Graceful) => "because SHUTDOWN saves everything before it exits",
                (Some(Persistence::Aof(AppendFsync::Always)), _) => {
                    "because the append-only file is fsynced after every write"
                }
                (Some(Persistence::Aof(_)), _) => {
                    "because the append-only file has every write (the kernel holds the last \
                     second's, which only a crash of the whole host loses)"
                }
                (Some(Persistence::Rdb(_)), _) => {
                    "because it reloads its last RDB snapshot, which lacks every session changed \
                     since"
                }
                (None, _) => "",
            };
            let then = if lost > 0 {
                format!("{} lost: {} must log in again", sessions(lost), users(lost))
            } else {
                "nobody is logged out; pages failed only while it was down".to_string()
            };
            format!(
                "Redis was {how} and started again: it held {} and came back with {after}, {why}; \
                 {then}.",
                sessions(*before)
            )
        }
        Happened::ScaledOut { server, servers } => {
            let balance = match setting.balancer {
                "sticky" => "only users who log in from now on are placed on it, since everyone \
                     already pinned stays where their cookie points: the new server fills slowly"
                    .to_string(),
                "source" => format!(
                    "map-based source hashing now divides clients by {servers}, which moves about \
                     {} of every {servers} clients to another server{}",
                    servers - 1,
                    if local {
                        ", and each one that moves must log in again".to_string()
                    } else {
                        format!(", which costs nothing, their sessions being {kept}")
                    }
                ),
                "consistent_hash" => format!(
                    "consistent hashing moves only about 1 in {servers} clients, those whose \
                     hashes now fall to it{}",
                    if local {
                        ", and each of them must log in again".to_string()
                    } else {
                        format!(", at no cost, their sessions being {kept}")
                    }
                ),
                "least_connections" | "power_of_two" => {
                    "HAProxy sends it new requests first, until its connection count catches up"
                        .to_string()
                }
                _ => format!("round-robin gives it one request in {servers} at once"),
            };
            format!(
                "app-{server} joined the farm as a new, empty process (in rotation once its \
                 health checks pass): {balance}."
            )
        }
        Happened::ScaledIn {
            server,
            held,
            drain,
        } => {
            let lost = if local && *held > 0 {
                format!(
                    "the {} in its memory went with it, so {} must log in again",
                    sessions(*held),
                    users(*held)
                )
            } else if local {
                "it held no session, so nobody was logged out".to_string()
            } else {
                format!("nobody was logged out, because the sessions are {kept}")
            };
            format!(
                "app-{server} left the farm: drained for {} (only users pinned to it still went \
                 there), then stopped; {lost}.",
                seconds(*drain)
            )
        }
        Happened::Replaced { server, held } => {
            let lost = if local && *held > 0 {
                format!(
                    "the {} in its memory were lost, so {} must log in again",
                    sessions(*held),
                    users(*held)
                )
            } else if local {
                "it held no session, so nobody was logged out".to_string()
            } else {
                format!("no session was lost: they are {kept}")
            };
            format!(
                "app-{server} was replaced by the new version (drained, stopped, started again \
                 empty, back in rotation): {lost}."
            )
        }
        Happened::DeployFinished { servers, lost } => {
            if local && *lost > 0 {
                format!(
                    "The rolling deploy is over: all {servers} servers run the new version, and \
                     it cost the {} kept in their memory: {} had to log in again.",
                    sessions(*lost),
                    users(*lost)
                )
            } else if local {
                format!(
                    "The rolling deploy is over: all {servers} servers run the new version; they \
                     held no session, so nobody was logged out (with users logged in, each \
                     replaced server logs its users out)."
                )
            } else {
                format!(
                    "The rolling deploy is over: all {servers} servers run the new version and \
                     nobody was logged out, because every session is {kept}."
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(balancer: &'static str, redis: Option<Persistence>) -> Setting {
        Setting {
            balancer,
            redis,
            in_cookies: false,
            check: (Duration::from_secs(2), 2, 3),
        }
    }

    #[test]
    fn a_crash_says_whether_sessions_died_and_when_haproxy_notices() {
        let crash = Happened::Crashed { server: 2, held: 7 };
        let local = sentence(&setting("sticky", None), &crash);
        assert!(local.contains("7 sessions in its memory died"), "{local}");
        assert!(local.contains("ignores the cookie"), "{local}");
        assert!(local.contains("after 2 failed health checks 2.0 s apart (within 4.0 s)"));
        let redis = sentence(&setting("round_robin", Some(Persistence::None)), &crash);
        assert!(redis.contains("stay logged in"), "{redis}");
        assert!(!redis.contains("died"), "{redis}");
        let cookies = Setting {
            in_cookies: true,
            ..setting("round_robin", None)
        };
        let signed = sentence(&cookies, &crash);
        assert!(
            signed.contains("all in the users' signed cookies"),
            "{signed}"
        );
        assert!(
            !signed.contains("died") && !signed.contains("Redis"),
            "{signed}"
        );
        let back = sentence(&cookies, &Happened::Recovered { server: 2 });
        assert!(back.contains("still logged in"), "{back}");
    }

    #[test]
    fn a_redis_restart_counts_the_lost_sessions_and_names_the_cause() {
        let restart = Happened::RedisRestarted {
            mode: RestartMode::Crash,
            before: 12,
            after: 0,
        };
        let none = sentence(&setting("round_robin", Some(Persistence::None)), &restart);
        assert!(
            none.contains("held 12 sessions and came back with 0"),
            "{none}"
        );
        assert!(none.contains("12 sessions lost"), "{none}");
        assert!(none.contains("only in memory"), "{none}");
        let kept = Happened::RedisRestarted {
            mode: RestartMode::Crash,
            before: 12,
            after: 12,
        };
        let aof = Some(Persistence::Aof(AppendFsync::EverySec));
        let aof = sentence(&setting("round_robin", aof), &kept);
        assert!(aof.contains("nobody is logged out"), "{aof}");
        assert!(aof.contains("append-only file"), "{aof}");
    }

    #[test]
    fn scaling_out_is_explained_by_the_balancer() {
        let out = Happened::ScaledOut {
            server: 3,
            servers: 4,
        };
        let source = sentence(&setting("source", None), &out);
        assert!(source.contains("about 3 of every 4 clients"), "{source}");
        assert!(source.contains("must log in again"), "{source}");
        let sticky = sentence(&setting("sticky", None), &out);
        assert!(sticky.contains("fills slowly"), "{sticky}");
        let rr = sentence(&setting("round_robin", None), &out);
        assert!(rr.contains("one request in 4"), "{rr}");
    }
}
