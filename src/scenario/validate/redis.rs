//! Checking Redis settings: `[store.redis]` merged with a strategy's
//! `redis = { … }`, persistence, replication and cluster.

use toml::Spanned;

use super::*;
use super::{Result, Validator};
use crate::sim::client::ClientPolicy;
use crate::sim::store::DiskPreset;

impl Validator<'_> {
    /// `[store.redis]`, with a strategy's `redis = { … }` keys taking
    /// precedence one by one.
    pub(super) fn redis(
        &self,
        base: Option<&RawRedis>,
        overrides: Option<&Spanned<RawRedis>>,
        strategy: usize,
    ) -> Result<RedisConfig> {
        let over = overrides.map(Spanned::get_ref);
        // Field paths name where the value came from.
        macro_rules! pick {
            ($key:ident) => {
                match over.and_then(|o| o.$key.as_ref()) {
                    Some(v) => Some((
                        v,
                        format!("strategy[{strategy}].redis.{}", stringify!($key)),
                    )),
                    None => base
                        .and_then(|b| b.$key.as_ref())
                        .map(|v| (v, format!("store.redis.{}", stringify!($key)))),
                }
            };
        }
        let latency = match pick!(latency) {
            Some((d, field)) => self.dist(d, &field, false)?,
            None => Dist::lognormal(
                SimDuration::from_micros(DEFAULT_REDIS_MEDIAN_US),
                SimDuration::from_micros(DEFAULT_REDIS_P99_US),
            ),
        };
        let appendfsync = pick!(appendfsync);
        let save = pick!(save);
        // Without a `persistence` key, Redis's own default applies: RDB with
        // the default save points (a redis-server started with no config).
        let persistence = match pick!(persistence) {
            None => Persistence::Rdb(SavePoint::redis_defaults()),
            Some((p, field)) => match p.get_ref().as_str() {
                "none" => Persistence::None,
                "aof" => Persistence::Aof(AppendFsync::EverySec),
                "rdb" => Persistence::Rdb(SavePoint::redis_defaults()),
                other => {
                    return Err(self.err(
                        p,
                        &field,
                        &format!("unknown persistence `{other}`; use none, aof or rdb"),
                    ));
                }
            },
        };
        let persistence = match persistence {
            Persistence::Aof(default_fsync) => {
                self.reject(&save, "`save` needs persistence = \"rdb\"")?;
                let fsync = match appendfsync {
                    None => default_fsync, // everysec, Redis's default
                    Some((v, field)) => match v.get_ref().as_str() {
                        "always" => AppendFsync::Always,
                        "everysec" => AppendFsync::EverySec,
                        "no" => AppendFsync::No,
                        other => {
                            return Err(self.err(
                                v,
                                &field,
                                &format!(
                                    "unknown appendfsync `{other}`; use always, everysec or no"
                                ),
                            ));
                        }
                    },
                };
                Persistence::Aof(fsync)
            }
            Persistence::Rdb(defaults) => {
                self.reject(&appendfsync, "`appendfsync` needs persistence = \"aof\"")?;
                match save {
                    None => Persistence::Rdb(defaults),
                    Some((list, field)) => Persistence::Rdb(self.save_points(list, &field)?),
                }
            }
            Persistence::None => {
                self.reject(&appendfsync, "`appendfsync` needs persistence = \"aof\"")?;
                self.reject(&save, "`save` needs persistence = \"rdb\"")?;
                Persistence::None
            }
        };
        let loading_rate = match pick!(loading_rate) {
            None => None,
            Some((rate, field)) => {
                if !(rate.get_ref().is_finite() && *rate.get_ref() > 0.0) {
                    return Err(self.err(
                        rate,
                        &field,
                        "must be a positive number of sessions per second",
                    ));
                }
                Some(*rate.get_ref())
            }
        };
        // The disk under the AOF: a preset by name, or a distribution of
        // fsync times.
        let fsync_latency = match (pick!(disk), pick!(fsync_latency)) {
            (Some((name, field)), None) => {
                let preset = DiskPreset::ALL
                    .into_iter()
                    .find(|p| p.name() == name.get_ref().as_str());
                match preset {
                    Some(preset) => preset.fsync(),
                    None => {
                        let known: Vec<&str> = DiskPreset::ALL.iter().map(|p| p.name()).collect();
                        return Err(self.err(
                            name,
                            &field,
                            &format!(
                                "unknown disk `{}`; known: {} (or give fsync_latency)",
                                name.get_ref(),
                                known.join(", ")
                            ),
                        ));
                    }
                }
            }
            (None, Some((d, field))) => self.dist(d, &field, false)?,
            (Some((name, field)), Some(_)) => {
                return Err(self.err(
                    name,
                    &field,
                    "give either a disk preset or fsync_latency, not both",
                ));
            }
            (None, None) => DiskPreset::LocalSsd.fsync(),
        };
        let replication = match pick!(replicas) {
            None => None,
            Some((n, field)) => {
                let replicas = self.count(n, &field, 0, 16)?;
                let lag = match pick!(replication_lag) {
                    Some((d, field)) => self.dist(d, &field, false)?,
                    None => Dist::exponential(SimDuration::from_millis(DEFAULT_REPLICATION_LAG_MS)),
                };
                let down_after = match pick!(down_after) {
                    Some((d, field)) => self.positive_duration(d, &field)?,
                    None => SimDuration::from_secs(30),
                };
                // What real Sentinels take after down-after to agree, elect a
                // leader and promote a replica, and a Sentinel-aware client to
                // follow: measured with three redis-sentinel 7.0.15 (quorum
                // 2) on this kind of machine, 1.28 s after a 5 s down-after
                // (three runs within 20 ms) and 0.99 s after 30 s
                // (`lbsim run … --live` at time_scale 1).
                let failover_delay = match pick!(failover_delay) {
                    Some((d, field)) => self.duration(d, &field)?,
                    None => SimDuration::from_millis(1200),
                };
                let min_replicas_to_write = match pick!(min_replicas_to_write) {
                    Some((n, field)) => self.count(n, &field, 0, replicas.into())?,
                    None => 0,
                };
                let min_replicas_max_lag = match pick!(min_replicas_max_lag) {
                    Some((d, field)) => self.positive_duration(d, &field)?,
                    None => SimDuration::from_secs(10), // redis.conf's default
                };
                let wait_for_replicas = match pick!(wait_for_replicas) {
                    Some((n, field)) => self.count(n, &field, 0, replicas.into())?,
                    None => 0,
                };
                let wait_timeout = match pick!(wait_timeout) {
                    Some((d, field)) => self.positive_duration(d, &field)?,
                    None => SimDuration::from_secs(1),
                };
                (replicas > 0).then_some(Replication {
                    replicas,
                    lag,
                    down_after,
                    failover_delay,
                    min_replicas_to_write,
                    min_replicas_max_lag,
                    wait_for_replicas,
                    wait_timeout,
                })
            }
        };
        if replication.is_none() {
            for (given, key) in [
                (
                    pick!(replication_lag).map(|(v, f)| (v.span(), f)),
                    "replication_lag",
                ),
                (pick!(down_after).map(|(v, f)| (v.span(), f)), "down_after"),
                (
                    pick!(failover_delay).map(|(v, f)| (v.span(), f)),
                    "failover_delay",
                ),
                (
                    pick!(min_replicas_to_write).map(|(v, f)| (v.span(), f)),
                    "min_replicas_to_write",
                ),
                (
                    pick!(min_replicas_max_lag).map(|(v, f)| (v.span(), f)),
                    "min_replicas_max_lag",
                ),
                (
                    pick!(wait_for_replicas).map(|(v, f)| (v.span(), f)),
                    "wait_for_replicas",
                ),
                (
                    pick!(wait_timeout).map(|(v, f)| (v.span(), f)),
                    "wait_timeout",
                ),
            ] {
                if let Some((span, field)) = given {
                    return Err(self.src.error(
                        Some(span),
                        &field,
                        &format!("`{key}` needs `replicas` of 1 or more"),
                    ));
                }
            }
        }
        let shards = match pick!(shards) {
            Some((n, field)) => self.count(n, &field, 1, 64)?,
            None => 1,
        };
        let node_timeout = match pick!(node_timeout) {
            Some((d, field)) => self.positive_duration(d, &field)?,
            None => SimDuration::from_secs(15), // Redis's cluster-node-timeout default
        };
        let pipeline = pick!(pipeline).is_some_and(|(b, _)| *b.get_ref());
        let client = match pick!(client) {
            None => ClientPolicy::FailFast,
            Some((name, field)) => match name.get_ref().as_str() {
                "fail_fast" => ClientPolicy::FailFast,
                "lettuce" if shards > 1 => {
                    return Err(self.err(
                        name,
                        &field,
                        "`lettuce` is modelled for one primary (with or without Sentinel), \
                         not for Lettuce's cluster client: use \"fail_fast\" with shards",
                    ));
                }
                "lettuce" => ClientPolicy::Lettuce {
                    command_timeout: match pick!(command_timeout) {
                        Some((d, field)) => self.positive_duration(d, &field)?,
                        None => ClientPolicy::LETTUCE_COMMAND_TIMEOUT,
                    },
                },
                other => {
                    return Err(self.err(
                        name,
                        &field,
                        &format!("unknown client `{other}`: use \"fail_fast\" or \"lettuce\""),
                    ));
                }
            },
        };
        if !matches!(client, ClientPolicy::Lettuce { .. })
            && let Some((d, field)) = pick!(command_timeout)
        {
            return Err(self.err(d, &field, "`command_timeout` needs client = \"lettuce\""));
        }
        Ok(RedisConfig {
            client,
            latency,
            pipeline,
            persistence,
            loading_rate,
            fsync_latency,
            replication,
            shards,
            node_timeout,
        })
    }

    /// An error if a key was given that the chosen persistence ignores.
    pub(super) fn reject<T>(&self, given: &Option<(&Spanned<T>, String)>, why: &str) -> Result<()> {
        match given {
            Some((value, field)) => Err(self.err(value, field, why)),
            None => Ok(()),
        }
    }

    pub(super) fn save_points(
        &self,
        list: &Spanned<Vec<Spanned<RawSavePoint>>>,
        field: &str,
    ) -> Result<Vec<SavePoint>> {
        let mut points = Vec::new();
        for (j, p) in list.get_ref().iter().enumerate() {
            let p = p.get_ref();
            let after = self.positive_duration(&p.after, &format!("{field}[{j}].after"))?;
            let changes = self.count(
                &p.changes,
                &format!("{field}[{j}].changes"),
                1,
                i64::from(u32::MAX),
            )?;
            points.push(SavePoint {
                after,
                changes: u64::from(changes),
            });
        }
        if points.is_empty() {
            return Err(self.err(
                list,
                field,
                "give at least one save point, or use persistence = \"none\"",
            ));
        }
        Ok(points)
    }
}
