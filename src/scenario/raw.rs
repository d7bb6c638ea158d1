//! The scenario file as written: a serde mirror of the TOML with every
//! value's byte span, so validation can point at the line of a bad value.
//!
//! Every table denies unknown keys, which turns a typo such as `sevrers`
//! into an error naming the key and its line instead of a silently ignored
//! setting. Types here are deliberately loose (strings for durations and
//! names, `i64` for counts) so that validation, not serde, writes the
//! messages users see for wrong values.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub seed: Option<Spanned<i64>>,
    pub duration: Spanned<String>,
    pub report_interval: Option<Spanned<String>>,
    pub time_scale: Option<Spanned<f64>>,
    pub workload: Spanned<RawWorkload>,
    pub servers: Spanned<RawServers>,
    pub session: Option<RawSession>,
    #[serde(default)]
    pub store: RawStores,
    #[serde(default)]
    pub strategy: Vec<Spanned<RawStrategy>>,
    #[serde(default)]
    pub fault: Vec<Spanned<RawFault>>,
    pub verdict: Option<RawVerdict>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVerdict {
    pub max_logouts_without_faults: Option<Spanned<i64>>,
    pub max_lost_per_server_crash: Option<Spanned<i64>>,
    pub max_lost_per_redis_restart: Option<Spanned<i64>>,
    pub max_imbalance: Option<Spanned<f64>>,
    pub max_lost_per_deploy: Option<Spanned<i64>>,
    pub max_error_seconds_per_fault: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub users: Spanned<i64>,
    pub arrival: Spanned<RawArrival>,
    pub think_time: Spanned<RawDist>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArrival {
    pub ramp: Option<Spanned<String>>,
    pub poisson_rate: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServers {
    pub count: Spanned<i64>,
    pub workers: Option<Spanned<i64>>,
    pub service_time: Spanned<RawDist>,
    pub health_check: Option<Spanned<RawHealthCheck>>,
    pub retries: Option<Spanned<i64>>,
    pub redispatch: Option<Spanned<bool>>,
    pub timeout_connect: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealthCheck {
    pub interval: Option<Spanned<String>>,
    pub fall: Option<Spanned<i64>>,
    pub rise: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    pub ttl: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStores {
    pub local: Option<RawLocal>,
    pub redis: Option<RawRedis>,
    pub cookie: Option<RawLocal>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLocal {
    pub latency: Option<Spanned<RawDist>>,
}

/// Redis settings; the same keys serve `[store.redis]` and a strategy's
/// `redis = { … }` override, which replaces only the keys it gives.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedis {
    pub latency: Option<Spanned<RawDist>>,
    pub persistence: Option<Spanned<String>>,
    pub appendfsync: Option<Spanned<String>>,
    pub save: Option<Spanned<Vec<Spanned<RawSavePoint>>>>,
    pub loading_rate: Option<Spanned<f64>>,
    pub disk: Option<Spanned<String>>,
    pub fsync_latency: Option<Spanned<RawDist>>,
    pub replicas: Option<Spanned<i64>>,
    pub replication_lag: Option<Spanned<RawDist>>,
    pub down_after: Option<Spanned<String>>,
    pub failover_delay: Option<Spanned<String>>,
    pub shards: Option<Spanned<i64>>,
    pub node_timeout: Option<Spanned<String>>,
    pub min_replicas_to_write: Option<Spanned<i64>>,
    pub min_replicas_max_lag: Option<Spanned<String>>,
    pub wait_for_replicas: Option<Spanned<i64>>,
    pub wait_timeout: Option<Spanned<String>>,
    pub pipeline: Option<Spanned<bool>>,
    pub client: Option<Spanned<String>>,
    pub command_timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSavePoint {
    pub after: Spanned<String>,
    pub changes: Spanned<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStrategy {
    pub name: Spanned<String>,
    pub balancer: Spanned<String>,
    pub store: Spanned<String>,
    pub redis: Option<Spanned<RawRedis>>,
    pub on_store_error: Option<Spanned<String>>,
    pub reauth_latency: Option<Spanned<RawDist>>,
}

/// A fault with the keys of every kind; validation checks which apply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub at: Spanned<String>,
    pub kind: Spanned<String>,
    pub server: Option<Spanned<toml::Value>>,
    pub recover_after: Option<Spanned<String>>,
    pub mode: Option<Spanned<String>>,
    pub downtime: Option<Spanned<String>>,
    pub add: Option<Spanned<i64>>,
    pub remove: Option<Spanned<i64>>,
    pub drain: Option<Spanned<String>>,
    pub duration: Option<Spanned<String>>,
    pub pause: Option<Spanned<String>>,
    pub grace: Option<Spanned<String>>,
    pub mtbf: Option<Spanned<String>>,
    pub mttr: Option<Spanned<String>>,
    pub until: Option<Spanned<String>>,
    pub shard: Option<Spanned<i64>>,
    pub latency: Option<Spanned<String>>,
}

/// A distribution with the keys of every kind; validation checks which
/// apply. `weight` is only for parts of a mixture.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDist {
    pub dist: Spanned<String>,
    pub value: Option<Spanned<String>>,
    pub mean: Option<Spanned<String>>,
    pub min: Option<Spanned<String>>,
    pub max: Option<Spanned<String>>,
    pub median: Option<Spanned<String>>,
    pub p99: Option<Spanned<String>>,
    pub weight: Option<Spanned<f64>>,
    pub parts: Option<Vec<Spanned<RawDist>>>,
}
