//! `meta.json`: what produced a results folder, so that a CSV found months
//! later can be traced to its scenario, seed, lbsim version and, for live
//! rows, the redis-server that answered.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::sim::config::Scenario;

/// How one row of the results was produced.
#[derive(Clone, Debug, Serialize)]
pub struct RowOrigin {
    /// The row's name in `summary.csv`.
    pub name: String,
    /// The scenario strategy it belongs to.
    pub strategy: String,
    /// `sim`, `live` or `stack`.
    pub mode: &'static str,
    /// For live and stack rows: `redis-server --version`.
    pub redis_server_version: Option<String>,
    /// For stack rows: `haproxy -v`'s version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub haproxy_version: Option<String>,
    /// For stack rows on nginx (`ip_hash`): `nginx -v`'s version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nginx_version: Option<String>,
    /// For stack rows: the file in the results folder holding the
    /// balancer's configuration that ran (HAProxy's or nginx's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balancer_config: Option<String>,
    /// For live rows: scenario seconds per wall second.
    pub time_scale: Option<f64>,
}

impl RowOrigin {
    /// The origins of rows that are all simulated.
    pub fn simulated(results: &[crate::sim::metrics::StrategyResult]) -> Vec<RowOrigin> {
        results
            .iter()
            .map(|r| RowOrigin {
                name: r.name.clone(),
                strategy: r.name.clone(),
                mode: "sim",
                redis_server_version: None,
                haproxy_version: None,
                nginx_version: None,
                balancer_config: None,
                time_scale: None,
            })
            .collect()
    }
}

#[derive(Serialize)]
struct Meta<'a> {
    lbsim_version: &'static str,
    scenario: &'a str,
    scenario_file: &'a str,
    scenario_sha256: String,
    seed: u64,
    users: u32,
    duration_s: f64,
    rows: &'a [RowOrigin],
    notes: &'a [String],
}

/// Hex SHA-256 of the scenario text.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn render(
    scenario: &Scenario,
    file: &str,
    text: &str,
    rows: &[RowOrigin],
    notes: &[String],
) -> Vec<u8> {
    let meta = Meta {
        lbsim_version: env!("CARGO_PKG_VERSION"),
        scenario: &scenario.name,
        scenario_file: file,
        scenario_sha256: sha256_hex(text),
        seed: scenario.seed,
        users: scenario.workload.users,
        duration_s: scenario.duration.as_secs_f64(),
        rows,
        notes,
    };
    let mut bytes = serde_json::to_vec_pretty(&meta).expect("plain data serializes");
    bytes.push(b'\n');
    bytes
}
