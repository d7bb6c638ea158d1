//! Checking `[[fault]]`: each kind with exactly the keys it takes.

use toml::Spanned;

use super::*;
use super::{Result, Validator};

impl Validator<'_> {
    pub(super) fn faults(&self, raw: &[Spanned<RawFault>], servers: u32) -> Result<Vec<Fault>> {
        let mut faults = Vec::with_capacity(raw.len());
        for (i, spanned) in raw.iter().enumerate() {
            let f = spanned.get_ref();
            let field = |key: &str| format!("fault[{i}].{key}");
            let kind = f.kind.get_ref().as_str();
            // The keys each kind takes; any other key given is a mistake.
            let allowed: &[&str] = match kind {
                "server_crash" => &["server", "recover_after"],
                "redis_restart" => &["mode", "downtime", "shard"],
                "scale_out" => &["add"],
                "scale_in" => &["remove", "drain"],
                "redis_partition" => &["duration"],
                "rolling_deploy" => &["pause", "drain"],
                "blue_green" => &["grace"],
                "random_crashes" => &["mtbf", "mttr", "until"],
                other => {
                    return Err(self.err(
                        &f.kind,
                        &field("kind"),
                        &format!(
                            "unknown fault kind `{other}`; use server_crash, redis_restart, \
                         redis_partition, scale_out, scale_in, rolling_deploy, blue_green \
                         or random_crashes"
                        ),
                    ));
                }
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
                match kind {
                    "server_crash" => {
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
                        FaultKind::ServerCrash {
                            server,
                            recover_after,
                        }
                    }
                    "redis_restart" => {
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
                    "scale_out" => FaultKind::ScaleOut {
                        add: required_count(&f.add, "add")?,
                    },
                    "redis_partition" => FaultKind::RedisPartition {
                        duration: required(&f.duration, "duration")?,
                    },
                    "rolling_deploy" => FaultKind::RollingDeploy {
                        pause: required(&f.pause, "pause")?,
                        drain: match &f.drain {
                            Some(d) => Some(self.duration(d, &field("drain"))?),
                            None => None,
                        },
                    },
                    "blue_green" => FaultKind::BlueGreen {
                        grace: required(&f.grace, "grace")?,
                    },
                    "random_crashes" => {
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
                    _ => {
                        debug_assert_eq!(kind, "scale_in", "kinds are checked above");
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
        Ok(faults)
    }
}
