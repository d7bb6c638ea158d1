//! From the raw file to a typed [`Scenario`]: every check that needs a
//! value, with an error pointing at that value's line.
//!
//! Defaults are chosen here and documented in the README's scenario
//! reference; each default says why it is what it is.

use toml::Spanned;

use super::ScenarioError;
use super::Source;
use super::duration::parse_duration;
use super::raw::*;
use crate::sim::balancer;
use crate::sim::config::*;
use crate::sim::dist::Dist;
use crate::sim::request::OnStoreError;
use crate::sim::servers::HealthCheck;
use crate::sim::store::{
    AppendFsync, Persistence, RedisConfig, Replication, SavePoint, StoreConfig,
};
use crate::sim::time::{SimDuration, SimTime};

type Result<T> = std::result::Result<T, ScenarioError>;

/// Seed used when the file has none: any fixed value keeps runs reproducible.
const DEFAULT_SEED: u64 = 1;
/// Default time-series resolution.
const DEFAULT_REPORT_INTERVAL: &str = "10s";
/// Default session TTL: Tomcat's and Spring Session's default of 30 minutes.
const DEFAULT_TTL: &str = "30m";
/// Default local-memory latency: a hash-map lookup, negligible.
const DEFAULT_LOCAL_LATENCY_US: u64 = 1;
/// Default cost of checking a signed session cookie (an HMAC), in µs.
const DEFAULT_COOKIE_LATENCY_US: u64 = 5;
/// Default extra latency of re-authenticating from a signed token, in ms
/// (verifying a JWT or a remember-me cookie, reloading the user).
const DEFAULT_REAUTH_MS: u64 = 40;
/// Default mean replication lag in ms: a replica on the same LAN.
const DEFAULT_REPLICATION_LAG_MS: u64 = 2;
/// Default Redis round trip on a LAN: median 400 µs, p99 2 ms.
const DEFAULT_REDIS_MEDIAN_US: u64 = 400;
const DEFAULT_REDIS_P99_US: u64 = 2000;
/// Default loading speed after a restart, sessions per second: an
/// order-of-magnitude figure for small hashes; live mode measures the real
/// one.
const DEFAULT_LOADING_RATE: f64 = 500_000.0;
/// Upper bound on servers, to keep per-server tables small.
const MAX_SERVERS: i64 = 10_000;
/// Upper bound on users: about 100 bytes each per strategy, so 20 million
/// users and a few strategies fit in a few GB.
pub const MAX_USERS: u32 = 20_000_000;
/// Upper bound on time-series rows per strategy.
pub const MAX_ROWS: u64 = 1_000_000;

pub(super) fn validate(raw: RawScenario, src: &Source<'_>) -> Result<Scenario> {
    let v = Validator { src };
    let name = v.name(&raw.name)?;
    let seed = match &raw.seed {
        None => DEFAULT_SEED,
        Some(seed) if *seed.get_ref() < 0 => {
            return Err(v.err(seed, "seed", "must be zero or a positive integer"));
        }
        Some(seed) => *seed.get_ref() as u64,
    };
    let duration = v.positive_duration(&raw.duration, "duration")?;
    let report_interval = match &raw.report_interval {
        Some(interval) => {
            let d = v.positive_duration(interval, "report_interval")?;
            if let Err(message) = check_rows(duration, d) {
                return Err(v.err(interval, "report_interval", &message));
            }
            d
        }
        None => parse_duration(DEFAULT_REPORT_INTERVAL).expect("valid default"),
    };
    let time_scale = match &raw.time_scale {
        None => 1.0,
        Some(scale) if scale.get_ref().is_finite() && *scale.get_ref() > 0.0 => *scale.get_ref(),
        Some(scale) => {
            return Err(v.err(
                scale,
                "time_scale",
                "must be a positive number (60 = an hour per minute)",
            ));
        }
    };
    let workload = v.workload(&raw.workload)?;
    let servers = v.servers(&raw.servers)?;
    let ttl = match &raw.session {
        Some(session) => v.positive_duration(&session.ttl, "session.ttl")?,
        None => parse_duration(DEFAULT_TTL).expect("valid default"),
    };
    let strategies = v.strategies(&raw)?;
    let faults = v.faults(&raw.fault, servers.count)?;
    let verdict = match &raw.verdict {
        None => None,
        Some(rv) => {
            let mut rules = VerdictRules::default();
            let count = |value: &Option<Spanned<i64>>, key: &str, into: &mut u64| -> Result<()> {
                if let Some(n) = value {
                    *into =
                        u64::from(v.count(n, &format!("verdict.{key}"), 0, i64::from(u32::MAX))?);
                }
                Ok(())
            };
            count(
                &rv.max_logouts_without_faults,
                "max_logouts_without_faults",
                &mut rules.max_logouts_without_faults,
            )?;
            count(
                &rv.max_lost_per_server_crash,
                "max_lost_per_server_crash",
                &mut rules.max_lost_per_server_crash,
            )?;
            count(
                &rv.max_lost_per_redis_restart,
                "max_lost_per_redis_restart",
                &mut rules.max_lost_per_redis_restart,
            )?;
            count(
                &rv.max_lost_per_deploy,
                "max_lost_per_deploy",
                &mut rules.max_lost_per_deploy,
            )?;
            if let Some(ratio) = &rv.max_imbalance {
                if !(ratio.get_ref().is_finite() && *ratio.get_ref() >= 1.0) {
                    return Err(v.err(
                        ratio,
                        "verdict.max_imbalance",
                        "must be a number of at least 1 (busiest server / mean)",
                    ));
                }
                rules.max_imbalance = *ratio.get_ref();
            }
            Some(rules)
        }
    };
    Ok(Scenario {
        name,
        description: raw.description.unwrap_or_default(),
        seed,
        duration,
        report_interval,
        time_scale,
        workload,
        servers,
        session: SessionConfig { ttl },
        strategies,
        faults,
        verdict,
    })
}

/// Checks that a run's time series stays a sensible size (at least 1 ms
/// per row, at most `MAX_ROWS` rows).
pub fn check_rows(
    duration: SimDuration,
    report_interval: SimDuration,
) -> std::result::Result<(), String> {
    if report_interval < SimDuration::from_millis(1) {
        return Err("must be at least 1ms".into());
    }
    let rows = duration.as_nanos().div_ceil(report_interval.as_nanos());
    if rows > MAX_ROWS {
        return Err(format!(
            "gives {rows} time-series rows per strategy over {duration}; at most {MAX_ROWS} are allowed, \
             use a longer report_interval"
        ));
    }
    Ok(())
}

struct Validator<'a> {
    src: &'a Source<'a>,
}

impl Validator<'_> {
    fn err<T>(&self, at: &Spanned<T>, field: &str, message: &str) -> ScenarioError {
        self.src.error(Some(at.span()), field, message)
    }

    fn name(&self, name: &Spanned<String>) -> Result<String> {
        let text = name.get_ref();
        let ok = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !text.starts_with('.');
        if !ok {
            return Err(self.err(
                name,
                "name",
                "must be letters, digits, `-`, `_` or `.` (it names the results folder)",
            ));
        }
        Ok(text.clone())
    }

    fn duration(&self, text: &Spanned<String>, field: &str) -> Result<SimDuration> {
        parse_duration(text.get_ref()).map_err(|message| self.err(text, field, &message))
    }

    fn positive_duration(&self, text: &Spanned<String>, field: &str) -> Result<SimDuration> {
        let d = self.duration(text, field)?;
        if d.is_zero() {
            return Err(self.err(text, field, "must be longer than zero"));
        }
        Ok(d)
    }

    fn count(&self, n: &Spanned<i64>, field: &str, min: i64, max: i64) -> Result<u32> {
        let value = *n.get_ref();
        if value < min || value > max {
            let message = if value < min {
                format!("is {value}; it must be at least {min}")
            } else {
                format!("is {value}; it must be at most {max}")
            };
            return Err(self.err(n, field, &message));
        }
        Ok(value as u32)
    }

    fn workload(&self, raw: &Spanned<RawWorkload>) -> Result<Workload> {
        let raw = raw.get_ref();
        let users = self.count(&raw.users, "workload.users", 1, i64::from(MAX_USERS))?;
        let arrival = match (
            &raw.arrival.get_ref().ramp,
            &raw.arrival.get_ref().poisson_rate,
        ) {
            (Some(ramp), None) => Arrival::Ramp(self.duration(ramp, "workload.arrival.ramp")?),
            (None, Some(rate)) => {
                let per_second = *rate.get_ref();
                if !(per_second.is_finite() && per_second > 0.0) {
                    return Err(self.err(
                        rate,
                        "workload.arrival.poisson_rate",
                        "must be a positive number of users per second",
                    ));
                }
                Arrival::Poisson { per_second }
            }
            _ => {
                return Err(self.err(
                    &raw.arrival,
                    "workload.arrival",
                    "give exactly one of `ramp = \"2m\"` (evenly spaced over that time) \
                     or `poisson_rate = 50.0` (users per second)",
                ));
            }
        };
        let think_time = self.dist(&raw.think_time, "workload.think_time", false)?;
        if think_time.mean().is_zero() {
            return Err(self.err(
                &raw.think_time,
                "workload.think_time",
                "averages zero: users who never think would send requests forever without \
                 time moving on",
            ));
        }
        Ok(Workload {
            users,
            arrival,
            think_time,
        })
    }

    fn servers(&self, raw: &Spanned<RawServers>) -> Result<ServersConfig> {
        let raw = raw.get_ref();
        let count = self.count(&raw.count, "servers.count", 1, MAX_SERVERS)?;
        let workers = match &raw.workers {
            Some(w) => self.count(w, "servers.workers", 0, 1_000_000)?,
            None => 0,
        };
        let service_time = self.dist(&raw.service_time, "servers.service_time", false)?;
        // HAProxy's defaults: `inter 2s`, `fall 3`, `rise 2`.
        let health_check = match &raw.health_check {
            None => None,
            Some(hc) => {
                let hc = hc.get_ref();
                let interval = match &hc.interval {
                    Some(i) => self.positive_duration(i, "servers.health_check.interval")?,
                    None => SimDuration::from_secs(2),
                };
                let fall = match &hc.fall {
                    Some(n) => self.count(n, "servers.health_check.fall", 1, 1000)?,
                    None => 3,
                };
                let rise = match &hc.rise {
                    Some(n) => self.count(n, "servers.health_check.rise", 1, 1000)?,
                    None => 2,
                };
                Some(HealthCheck {
                    interval,
                    fall,
                    rise,
                })
            }
        };
        Ok(ServersConfig {
            count,
            workers,
            service_time,
            health_check,
        })
    }

    /// Checks a distribution; `in_mixture` allows the `weight` key.
    fn dist(&self, raw: &Spanned<RawDist>, field: &str, in_mixture: bool) -> Result<Dist> {
        let d = raw.get_ref();
        let kind = d.dist.get_ref().as_str();
        let allowed: &[&str] = match kind {
            "constant" => &["value"],
            "exponential" => &["mean"],
            "uniform" => &["min", "max"],
            "lognormal" => &["median", "p99"],
            "mixture" => &["parts"],
            other => {
                return Err(self.err(
                    &d.dist,
                    &format!("{field}.dist"),
                    &format!(
                        "unknown distribution `{other}`; use constant, exponential, \
                         uniform, lognormal or mixture"
                    ),
                ));
            }
        };
        // Keys that belong to another kind of distribution are mistakes.
        let given: [(&str, Option<std::ops::Range<usize>>); 8] = [
            ("value", d.value.as_ref().map(Spanned::span)),
            ("mean", d.mean.as_ref().map(Spanned::span)),
            ("min", d.min.as_ref().map(Spanned::span)),
            ("max", d.max.as_ref().map(Spanned::span)),
            ("median", d.median.as_ref().map(Spanned::span)),
            ("p99", d.p99.as_ref().map(Spanned::span)),
            ("parts", d.parts.as_ref().map(|_| raw.span())),
            ("weight", d.weight.as_ref().map(Spanned::span)),
        ];
        for (key, span) in given {
            let Some(span) = span else { continue };
            if key == "weight" && in_mixture || allowed.contains(&key) {
                continue;
            }
            let message = if key == "weight" {
                "`weight` is only for the parts of a mixture".to_string()
            } else {
                format!(
                    "`{key}` does not apply to a {kind} distribution (it takes {})",
                    allowed.join(", ")
                )
            };
            return Err(self
                .src
                .error(Some(span), &format!("{field}.{key}"), &message));
        }
        let need = |value: &Option<Spanned<String>>, key: &str| -> Result<SimDuration> {
            match value {
                Some(text) => self.duration(text, &format!("{field}.{key}")),
                None => Err(self.err(raw, field, &format!("a {kind} distribution needs `{key}`"))),
            }
        };
        Ok(match kind {
            "constant" => Dist::constant(need(&d.value, "value")?),
            "exponential" => {
                let mean = need(&d.mean, "mean")?;
                if mean.is_zero() {
                    return Err(self.err(
                        d.mean.as_ref().unwrap(),
                        &format!("{field}.mean"),
                        "must be longer than zero",
                    ));
                }
                Dist::exponential(mean)
            }
            "uniform" => {
                let (min, max) = (need(&d.min, "min")?, need(&d.max, "max")?);
                if min >= max {
                    return Err(self.err(
                        d.max.as_ref().unwrap(),
                        &format!("{field}.max"),
                        "must be greater than `min`",
                    ));
                }
                Dist::uniform(min, max)
            }
            "lognormal" => {
                let (median, p99) = (need(&d.median, "median")?, need(&d.p99, "p99")?);
                if median.is_zero() {
                    return Err(self.err(
                        d.median.as_ref().unwrap(),
                        &format!("{field}.median"),
                        "must be longer than zero",
                    ));
                }
                if p99 <= median {
                    return Err(self.err(
                        d.p99.as_ref().unwrap(),
                        &format!("{field}.p99"),
                        "must be greater than `median`",
                    ));
                }
                Dist::lognormal(median, p99)
            }
            _ => {
                let parts = d.parts.as_ref().filter(|p| !p.is_empty()).ok_or_else(|| {
                    self.err(raw, field, "a mixture needs a non-empty `parts` list")
                })?;
                let mut weighted = Vec::with_capacity(parts.len());
                for (i, part) in parts.iter().enumerate() {
                    let part_field = format!("{field}.parts[{i}]");
                    let weight = match &part.get_ref().weight {
                        Some(w) if w.get_ref().is_finite() && *w.get_ref() > 0.0 => *w.get_ref(),
                        Some(w) => {
                            return Err(self.err(
                                w,
                                &format!("{part_field}.weight"),
                                "must be a positive number",
                            ));
                        }
                        None => {
                            return Err(self.err(part, &part_field, "each part needs a `weight`"));
                        }
                    };
                    weighted.push((weight, self.dist(part, &part_field, true)?));
                }
                Dist::mixture(weighted)
            }
        })
    }

    fn strategies(&self, raw: &RawScenario) -> Result<Vec<Strategy>> {
        if raw.strategy.is_empty() {
            return Err(self.src.error(
                Some(0..0),
                "strategy",
                "the scenario has no [[strategy]]; add at least one to compare",
            ));
        }
        // `[store.redis]` is checked on its own too, so a mistake there is
        // reported even when no strategy uses it, or every strategy
        // overrides the wrong key.
        if let Some(base) = &raw.store.redis {
            self.redis(Some(base), None, 0)?;
        }
        let local_latency = match raw.store.local.as_ref().and_then(|l| l.latency.as_ref()) {
            Some(latency) => self.dist(latency, "store.local.latency", false)?,
            None => Dist::constant(SimDuration::from_micros(DEFAULT_LOCAL_LATENCY_US)),
        };
        let cookie_latency = match raw.store.cookie.as_ref().and_then(|c| c.latency.as_ref()) {
            Some(latency) => self.dist(latency, "store.cookie.latency", false)?,
            None => Dist::constant(SimDuration::from_micros(DEFAULT_COOKIE_LATENCY_US)),
        };
        let mut strategies: Vec<Strategy> = Vec::with_capacity(raw.strategy.len());
        for (i, spanned) in raw.strategy.iter().enumerate() {
            let s = spanned.get_ref();
            let field = |key: &str| format!("strategy[{i}].{key}");
            let name = s.name.get_ref().trim().to_string();
            if name.is_empty() {
                return Err(self.err(&s.name, &field("name"), "must not be empty"));
            }
            if strategies.iter().any(|other| other.name == name) {
                return Err(self.err(
                    &s.name,
                    &field("name"),
                    &format!("`{name}` is used by another strategy; names must be unique"),
                ));
            }
            let balancer = balancer::find(s.balancer.get_ref()).ok_or_else(|| {
                let known: Vec<&str> = balancer::REGISTRY.iter().map(|b| b.name).collect();
                self.err(
                    &s.balancer,
                    &field("balancer"),
                    &format!(
                        "unknown balancer `{}`; known: {}",
                        s.balancer.get_ref(),
                        known.join(", ")
                    ),
                )
            })?;
            let store = match s.store.get_ref().as_str() {
                "local" => {
                    if let Some(redis) = &s.redis {
                        return Err(self.err(
                            redis,
                            &field("redis"),
                            "Redis settings do not apply to store = \"local\"",
                        ));
                    }
                    StoreConfig::Local {
                        latency: local_latency.clone(),
                    }
                }
                "redis" => {
                    StoreConfig::Redis(self.redis(raw.store.redis.as_ref(), s.redis.as_ref(), i)?)
                }
                "cookie" => {
                    if let Some(redis) = &s.redis {
                        return Err(self.err(
                            redis,
                            &field("redis"),
                            "Redis settings do not apply to store = \"cookie\"",
                        ));
                    }
                    StoreConfig::Cookie {
                        latency: cookie_latency.clone(),
                    }
                }
                other => {
                    return Err(self.err(
                        &s.store,
                        &field("store"),
                        &format!("unknown store `{other}`; known: local, redis, cookie"),
                    ));
                }
            };
            let on_store_error = match s.on_store_error.as_ref().map(|p| (p, p.get_ref().as_str()))
            {
                None | Some((_, "fail")) => OnStoreError::Fail,
                Some((_, "logout")) => OnStoreError::Logout,
                Some((_, "fallback_auth")) => {
                    let reauth_latency = match &s.reauth_latency {
                        Some(d) => self.dist(d, &field("reauth_latency"), false)?,
                        None => Dist::constant(SimDuration::from_millis(DEFAULT_REAUTH_MS)),
                    };
                    OnStoreError::FallbackAuth { reauth_latency }
                }
                Some((p, other)) => {
                    return Err(self.err(
                        p,
                        &field("on_store_error"),
                        &format!("unknown policy `{other}`; use fail, logout or fallback_auth"),
                    ));
                }
            };
            if !matches!(on_store_error, OnStoreError::FallbackAuth { .. })
                && let Some(d) = &s.reauth_latency
            {
                return Err(self.err(
                    d,
                    &field("reauth_latency"),
                    "needs on_store_error = \"fallback_auth\"",
                ));
            }
            strategies.push(Strategy {
                name,
                balancer,
                store,
                on_store_error,
            });
        }
        Ok(strategies)
    }

    /// `[store.redis]`, with a strategy's `redis = { … }` keys taking
    /// precedence one by one.
    fn redis(
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
            None => DEFAULT_LOADING_RATE,
            Some((rate, field)) => {
                if !(rate.get_ref().is_finite() && *rate.get_ref() > 0.0) {
                    return Err(self.err(
                        rate,
                        &field,
                        "must be a positive number of sessions per second",
                    ));
                }
                *rate.get_ref()
            }
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
                let failover_delay = match pick!(failover_delay) {
                    Some((d, field)) => self.duration(d, &field)?,
                    None => SimDuration::from_secs(5),
                };
                let min_replicas_to_write = match pick!(min_replicas_to_write) {
                    Some((n, field)) => self.count(n, &field, 0, replicas.into())?,
                    None => 0,
                };
                (replicas > 0).then_some(Replication {
                    replicas,
                    lag,
                    down_after,
                    failover_delay,
                    min_replicas_to_write,
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
        Ok(RedisConfig {
            latency,
            persistence,
            loading_rate,
            replication,
            shards,
            node_timeout,
        })
    }

    /// An error if a key was given that the chosen persistence ignores.
    fn reject<T>(&self, given: &Option<(&Spanned<T>, String)>, why: &str) -> Result<()> {
        match given {
            Some((value, field)) => Err(self.err(value, field, why)),
            None => Ok(()),
        }
    }

    fn save_points(
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

    fn faults(&self, raw: &[Spanned<RawFault>], servers: u32) -> Result<Vec<Fault>> {
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
