//! Checking `[[fault]]`: each kind with exactly the keys it takes.

use toml::Spanned;

use super::*;
use super::{Result, Validator};
use crate::sim::fault::kind::FaultName;

impl Validator<'_> {
    pub(super) fn faults(
        &self,
        raw: &[Spanned<RawFault>],
        servers: u32,
        duration: SimDuration,
    ) -> Result<Vec<Fault>> {
        if raw.len() > MAX_FAULTS {
            return Err(self.err(
                &raw[MAX_FAULTS],
                &format!("fault[{MAX_FAULTS}]"),
                &format!(
                    "the scenario has {} faults; at most {MAX_FAULTS} are allowed",
                    raw.len()
                ),
            ));
        }
        let mut faults = Vec::with_capacity(raw.len());
        for (i, spanned) in raw.iter().enumerate() {
            let f = spanned.get_ref();
            let field = |key: &str| format!("fault[{i}].{key}");
            let kind_text = f.kind.get_ref().as_str();
            let Some(name) = FaultName::parse(kind_text) else {
                let known: Vec<&str> = FaultName::ALL.iter().map(|n| n.as_str()).collect();
                return Err(self.err(
                    &f.kind,
                    &field("kind"),
                    &format!("unknown fault kind `{kind_text}`; use {}", or_list(&known)),
                ));
            };
            let kind = name.as_str();
            // The keys each kind takes; any other key given is a mistake.
            let allowed: &[&str] = match name {
                FaultName::ServerCrash => &["server", "recover_after", "mode"],
                FaultName::RedisRestart => &["mode", "downtime", "shard"],
                FaultName::ScaleOut => &["add"],
                FaultName::ScaleIn => &["remove", "drain"],
                FaultName::RedisPartition => &["duration"],
                FaultName::RedisSlow => &["duration", "latency"],
                FaultName::RollingDeploy => &["pause", "drain"],
                FaultName::BlueGreen => &["grace"],
                FaultName::RandomCrashes => &["mtbf", "mttr", "until"],
            };
            let given = [
                ("server", f.server.as_ref().map(Spanned::span)),
                ("recover_after", f.recover_after.as_ref().map(Spanned::span)),
                ("mode", f.mode.as_ref().map(Spanned::span)),
                ("downtime", f.downtime.as_ref().map(Spanned::span)),
                ("add", f.add.as_ref().map(Spanned::span)),
                ("remove", f.remove.as_ref().map(Spanned::span)),
                ("drain", f.drain.as_ref().map(Spanned::span)),
                ("duration", f.duration.as_ref().map(Spanned::span)),
                ("pause", f.pause.as_ref().map(Spanned::span)),
                ("grace", f.grace.as_ref().map(Spanned::span)),
                ("mtbf", f.mtbf.as_ref().map(Spanned::span)),
                ("mttr", f.mttr.as_ref().map(Spanned::span)),
                ("until", f.until.as_ref().map(Spanned::span)),
                ("shard", f.shard.as_ref().map(Spanned::span)),
                ("latency", f.latency.as_ref().map(Spanned::span)),
            ];
            for (key, span) in given {
                if let Some(span) = span
                    && !allowed.contains(&key)
                {
                    return Err(self.src.error(
                        Some(span),
                        &field(key),
                        &format!(
                            "`{key}` does not apply to a {kind} fault (it takes {})",
                            allowed.join(", ")
                        ),
                    ));
                }
            }
            let at = SimTime::ZERO + self.duration(&f.at, &field("at"))?;
            if at >= SimTime::ZERO + duration {
                return Err(self.err(
                    &f.at,
                    &field("at"),
                    &format!(
                        "is {}, at or after the end of the run ({duration}): the fault would \
                         never happen",
                        f.at.get_ref()
                    ),
                ));
            }
            let required = |value: &Option<Spanned<String>>, key: &str| -> Result<SimDuration> {
                match value {
                    Some(v) => self.duration(v, &field(key)),
                    None => Err(self.err(
                        spanned,
                        &field(key),
                        &format!("a {kind} fault needs `{key}`"),
                    )),
                }
            };
            // For faults whose whole effect lasts `key`: zero would be a
            // fault that does nothing, so it is surely a slip.
            let required_positive =
                |value: &Option<Spanned<String>>, key: &str| -> Result<SimDuration> {
                    let d = required(value, key)?;
                    if d.is_zero() {
                        return Err(self.err(
                            value.as_ref().expect("given"),
                            &field(key),
                            &format!(
                                "must be longer than zero (a {kind} fault of zero {key} does \
                                 nothing)"
                            ),
                        ));
                    }
                    Ok(d)
                };
            let required_count = |value: &Option<Spanned<i64>>, key: &str| -> Result<u32> {
                match value {
                    Some(n) => self.count(n, &field(key), 1, MAX_SERVERS),
                    None => Err(self.err(
                        spanned,
                        &field(key),
                        &format!("a {kind} fault needs `{key}`"),
                    )),
                }
            };
            let kind =
                match name {
                    FaultName::ServerCrash => {
                        let server = match &f.server {
                            None => ServerChoice::Random,
                            Some(v) => match v.get_ref() {
                                toml::Value::String(s) if s == "random" => ServerChoice::Random,
                                toml::Value::Integer(n) if (0..i64::from(servers)).contains(n) => {
                                    ServerChoice::Index(*n as u32)
                                }
                                toml::Value::Integer(n) => {
                                    return Err(self.err(v, &field("server"), &format!(
                                    "server {n} does not exist; servers are numbered 0 to {}",
                                    servers - 1
                                )));
                                }
                                _ => {
                                    return Err(self.err(
                                        v,
                                        &field("server"),
                                        "must be a server number (from 0) or \"random\"",
                                    ));
                                }
                            },
                        };
                        let recover_after = required(&f.recover_after, "recover_after")?;
                        let host = match &f.mode {
                            None => false,
                            Some(m) => match m.get_ref().as_str() {
                                "process" => false,
                                "host" => true,
                                other => {
                                    return Err(self.err(
                                        m,
                                        &field("mode"),
                                        &format!(
                                            "unknown mode `{other}`; use process (the app \
                                             server's process dies: connections are refused) or \
                                             host (its machine dies: connections time out)"
                                        ),
                                    ));
                                }
                            },
                        };
                        FaultKind::ServerCrash {
                            server,
                            recover_after,
                            host,
                        }
                    }
                    FaultName::RedisRestart => {
                        let mode =
                            match &f.mode {
                                None => RestartMode::Crash,
                                Some(m) => match m.get_ref().as_str() {
                                    "crash" => RestartMode::Crash,
                                    "host_crash" => RestartMode::HostCrash,
                                    "graceful" => RestartMode::Graceful,
                                    other => {
                                        return Err(self.err(m, &field("mode"), &format!(
                                    "unknown mode `{other}`; use crash (process killed), \
                                     host_crash (power loss) or graceful (SHUTDOWN)"
                                )));
                                    }
                                },
                            };
                        let downtime = required(&f.downtime, "downtime")?;
                        let shard = match &f.shard {
                            Some(n) => self.count(n, &field("shard"), 0, 63)?,
                            None => 0,
                        };
                        FaultKind::RedisRestart {
                            mode,
                            downtime,
                            shard,
                        }
                    }
                    FaultName::ScaleOut => FaultKind::ScaleOut {
                        add: required_count(&f.add, "add")?,
                    },
                    FaultName::RedisPartition => FaultKind::RedisPartition {
                        duration: required_positive(&f.duration, "duration")?,
                    },
                    FaultName::RedisSlow => FaultKind::RedisSlow {
                        duration: required_positive(&f.duration, "duration")?,
                        latency: required_positive(&f.latency, "latency")?,
                    },
                    FaultName::RollingDeploy => FaultKind::RollingDeploy {
                        pause: required(&f.pause, "pause")?,
                        drain: match &f.drain {
                            Some(d) => Some(self.duration(d, &field("drain"))?),
                            None => None,
                        },
                    },
                    FaultName::BlueGreen => FaultKind::BlueGreen {
                        grace: required(&f.grace, "grace")?,
                    },
                    FaultName::RandomCrashes => {
                        let mtbf = required(&f.mtbf, "mtbf")?;
                        let mttr = required(&f.mttr, "mttr")?;
                        for (value, key) in [(mtbf, "mtbf"), (mttr, "mttr")] {
                            if value.is_zero() {
                                let span = if key == "mtbf" { &f.mtbf } else { &f.mttr };
                                return Err(self.err(
                                    span.as_ref().expect("given"),
                                    &field(key),
                                    "must be longer than zero",
                                ));
                            }
                        }
                        let until = SimTime::ZERO + required(&f.until, "until")?;
                        if until <= at {
                            return Err(self.err(
                                f.until.as_ref().expect("given"),
                                &field("until"),
                                "must be after `at`",
                            ));
                        }
                        FaultKind::RandomCrashes { mtbf, mttr, until }
                    }
                    FaultName::ScaleIn => {
                        let remove = required_count(&f.remove, "remove")?;
                        let drain = match &f.drain {
                            Some(d) => Some(self.duration(d, &field("drain"))?),
                            None => None,
                        };
                        FaultKind::ScaleIn { remove, drain }
                    }
                };
            faults.push(Fault { at, kind });
        }
        self.overlapping_crashes(raw, &faults)?;
        self.farm_limits(raw, &faults, servers, duration)?;
        Ok(faults)
    }

    /// Refuses two `server_crash` faults that name the same server with
    /// down intervals that overlap (or touch).
    ///
    /// The engine has a rule for it (a crash of a server that is already
    /// down changes nothing and schedules no recovery, so the server comes
    /// back at the *first* crash's recovery), and that rule is needed for
    /// what validation cannot see: a `"random"` server, `random_crashes`,
    /// a server retired by a deploy. But a file that names the same server
    /// twice says it is down until the second crash's `recover_after`, and
    /// the run would silently do otherwise; better to say so. Touching
    /// intervals count too: the second crash is planned before the run
    /// starts, so at an equal time it comes before the first one's recovery
    /// and finds the server still down.
    fn overlapping_crashes(&self, raw: &[Spanned<RawFault>], faults: &[Fault]) -> Result<()> {
        let crashes: Vec<(usize, u32, SimTime, SimTime)> = faults
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f.kind {
                FaultKind::ServerCrash {
                    server: ServerChoice::Index(server),
                    recover_after,
                    ..
                } => Some((i, server, f.at, f.at + recover_after)),
                _ => None,
            })
            .collect();
        for (n, &(i, server, at, back)) in crashes.iter().enumerate() {
            for &(j, other, other_at, other_back) in &crashes[n + 1..] {
                if server != other {
                    continue;
                }
                // `first` is the one that strikes first (file order on a tie).
                let ((first, first_at, first_back), (second, second_at)) = if other_at < at {
                    ((j, other_at, other_back), (i, at))
                } else {
                    ((i, at, back), (j, other_at))
                };
                if second_at <= first_back {
                    return Err(self.err(
                        &raw[second].get_ref().at,
                        &format!("fault[{second}].at"),
                        &format!(
                            "fault[{second}] crashes server {server} at {second_at}, while \
                             fault[{first}] keeps it down ({first_at} to {first_back}); a \
                             crash of a server that is down would change nothing and its \
                             recover_after would be ignored. Move one of them, or crash \
                             another server"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `a, b or c`.
fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}
