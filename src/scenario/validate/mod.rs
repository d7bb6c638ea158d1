//! From the raw file to a typed [`Scenario`]: every check that needs a
//! value, with an error pointing at that value's line.
//!
//! Defaults are chosen here and documented in the README's scenario
//! reference; each default says why it is what it is.

mod dist;
mod faults;
mod limits;
mod redis;
mod strategies;

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

pub(super) type Result<T> = std::result::Result<T, ScenarioError>;

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
/// Upper bound on servers in service at once (at the start, or after
/// every `scale_out`), to keep per-server tables small.
pub const MAX_SERVERS: i64 = 10_000;
/// Upper bound on the servers a run ever creates: the first ones, every
/// `scale_out`, and the replacements of every `rolling_deploy` and
/// `blue_green`. Each has its own slot in the per-server tables (a few
/// hundred bytes, plus its memory of sessions) for the whole run.
pub const MAX_SERVER_IDS: u64 = 100_000;
/// Upper bound on the crashes a `random_crashes` fault is expected to cause
/// (servers times its span over `mtbf + mttr`): each is two events kept
/// for the report, and each event costs time to simulate.
pub const MAX_RANDOM_CRASHES: f64 = 1_000_000.0;
/// Upper bound on users: about 100 bytes each per strategy, so 20 million
/// users and a few strategies fit in a few GB.
pub const MAX_USERS: u32 = 20_000_000;
/// Upper bound on time-series rows per strategy.
pub const MAX_ROWS: u64 = 1_000_000;
/// Upper bound on every duration in a file: 100 years, about a sixth of
/// what `u64` nanoseconds hold (584 years), so that a fault's time plus its
/// durations (a crash at the end of the run plus its recovery, a deploy's
/// steps) stays far from the limit. Arithmetic on `SimTime` saturates
/// anyway, but a saturated time is a wrong time.
pub const MAX_DURATION: SimDuration = SimDuration::from_secs(100 * 365 * 86_400);
/// How `MAX_DURATION` is written in messages.
const MAX_DURATION_TEXT: &str = "36500d (100 years)";
/// Upper bound on strategies: each is a full simulation with its own
/// per-user tables and up to `MAX_ROWS` time-series rows kept until the
/// report is written; 64 is many more than a readable table has rows.
pub const MAX_STRATEGIES: usize = 64;
/// Upper bound on `[[fault]]` entries: validation compares crashes pairwise
/// and every fault is a column of work in the reports; a thousand is far
/// more than any story a scenario tells.
pub const MAX_FAULTS: usize = 1000;
/// Live mode's `time_scale` range: below 1/1000 a one-hour scenario takes
/// six weeks of wall time; above a million, an hour passes in 3.6 ms, under
/// one Redis round trip, and wall-clock conversions lose all meaning.
pub const TIME_SCALE_RANGE: (f64, f64) = (0.001, 1_000_000.0);

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
            // A longer `--duration` may still reach a whole interval. (The
            // default interval is not checked: a run shorter than 10 s has
            // one row, which is what a file without the key asks for.)
            let run = src.longer_run.map_or(duration, |l| l.max(duration));
            if d > run {
                return Err(v.err(
                    interval,
                    "report_interval",
                    &format!(
                        "is {}, longer than the run ({run}): the time series would have \
                         no full row; use at most the run's duration",
                        interval.get_ref()
                    ),
                ));
            }
            if let Err(message) = check_rows(duration, d) {
                return Err(v.err(interval, "report_interval", &message));
            }
            d
        }
        None => {
            let d = parse_duration(DEFAULT_REPORT_INTERVAL).expect("valid default");
            // The same check `run` makes, so that both accept the same files.
            if let Err(message) = check_rows(duration, d) {
                return Err(v.err(
                    &raw.duration,
                    "duration",
                    &format!("with the default report_interval ({d}), {message}"),
                ));
            }
            d
        }
    };
    let time_scale = match &raw.time_scale {
        None => 1.0,
        Some(scale) => match check_time_scale(*scale.get_ref()) {
            Ok(scale) => scale,
            Err(message) => return Err(v.err(scale, "time_scale", &message)),
        },
    };
    let workload = v.workload(&raw.workload)?;
    let servers = v.servers(&raw.servers)?;
    let ttl = match &raw.session {
        Some(session) => v.positive_duration(&session.ttl, "session.ttl")?,
        None => parse_duration(DEFAULT_TTL).expect("valid default"),
    };
    let strategies = v.strategies(&raw)?;
    // Faults must come before the end of the run: the file's, or a longer
    // `--duration` (a shorter one leaves later faults "not reached").
    let end = src.longer_run.map_or(duration, |d| d.max(duration));
    let faults = v.faults(&raw.fault, servers.count, end)?;
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
            count(
                &rv.max_error_seconds_per_fault,
                "max_error_seconds_per_fault",
                &mut rules.max_error_seconds_per_fault,
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

/// Checks live mode's `time_scale` (the file's or `--time-scale`).
pub fn check_time_scale(scale: f64) -> std::result::Result<f64, String> {
    let (min, max) = TIME_SCALE_RANGE;
    if scale.is_finite() && (min..=max).contains(&scale) {
        Ok(scale)
    } else {
        Err(format!(
            "is {scale}; it must be a number from {min} to {max} (scenario seconds per wall \
             second: 60 = an hour per minute)"
        ))
    }
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

pub(super) struct Validator<'a> {
    pub(super) src: &'a Source<'a>,
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

    /// A duration of at most `MAX_DURATION`; zero is allowed (see
    /// `positive_duration`).
    fn duration(&self, text: &Spanned<String>, field: &str) -> Result<SimDuration> {
        let d =
            parse_duration(text.get_ref()).map_err(|message| self.err(text, field, &message))?;
        if d > MAX_DURATION {
            return Err(self.err(
                text,
                field,
                &format!(
                    "`{}` is too long: durations are at most {MAX_DURATION_TEXT}",
                    text.get_ref()
                ),
            ));
        }
        Ok(d)
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
                    Some(i) => {
                        // HAProxy's timers count milliseconds; a finer
                        // interval would also fill the event queue with
                        // checks (one per server per interval).
                        let d = self.duration(i, "servers.health_check.interval")?;
                        if d < SimDuration::from_millis(1) {
                            return Err(self.err(
                                i,
                                "servers.health_check.interval",
                                "must be at least 1ms",
                            ));
                        }
                        d
                    }
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
        let defaults = RetryPolicy::default();
        let retry = RetryPolicy {
            retries: match &raw.retries {
                Some(n) => self.count(n, "servers.retries", 0, 100)?,
                None => defaults.retries,
            },
            redispatch: raw
                .redispatch
                .as_ref()
                .map_or(defaults.redispatch, |b| *b.get_ref()),
            timeout_connect: match &raw.timeout_connect {
                Some(d) => self.positive_duration(d, "servers.timeout_connect")?,
                None => defaults.timeout_connect,
            },
        };
        Ok(ServersConfig {
            count,
            workers,
            service_time,
            health_check,
            retry,
        })
    }
}
