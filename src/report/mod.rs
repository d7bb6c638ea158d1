//! Output: everything a run produces, rendered as bytes, and the functions
//! that write them atomically (`folder/`).
//!
//! Renderers are pure (`&results -> Vec<u8>` or `String`), so tests check
//! them without touching the disk and the same bytes go to a file or to
//! stdout. Column names of the CSV files are a public interface: scripts
//! and teaching material depend on them, so change them only by adding.

pub mod csv;
pub mod fit;
pub mod folder;
pub mod font;
pub mod html;
pub mod json;
pub mod markdown;
pub mod meta;
pub mod narrate;
pub mod plot;
pub mod prose;
pub mod run;
pub mod table;
pub mod verdict;

use std::path::Path;

use crate::error::Error;
use crate::sim::config::Scenario;
use crate::sim::fault::words::thousands;
use crate::sim::metrics::StrategyResult;

/// One strategy's line of `summary.csv`, the JSON output and the table.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SummaryRow {
    pub strategy: String,
    pub balancer: String,
    pub store: String,
    pub requests: u64,
    pub logins: u64,
    pub forced_logouts: u64,
    pub expired: u64,
    pub errors: u64,
    pub users_affected: u64,
    pub logout_pct: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Time until an error reached the user (errors are not in the
    /// percentiles above).
    pub error_p99_ms: f64,
    pub error_max_ms: f64,
    /// `sim` or `live`.
    pub mode: String,
    /// The store's settings, one column each (`StoreSettings`).
    pub persistence: String,
    pub appendfsync: String,
    pub replicas: u32,
    pub shards: u32,
}

impl SummaryRow {
    pub fn new(result: &StrategyResult) -> Self {
        let t = &result.totals;
        SummaryRow {
            strategy: result.name.clone(),
            balancer: result.balancer.to_string(),
            store: result.store.to_string(),
            requests: t.requests,
            logins: t.logins,
            forced_logouts: t.forced_logouts,
            expired: t.expired,
            errors: t.errors,
            users_affected: result.users_affected,
            logout_pct: t.logout_pct(),
            p50_ms: result.latency_ms(50.0),
            p90_ms: result.latency_ms(90.0),
            p99_ms: result.latency_ms(99.0),
            p999_ms: result.latency_ms(99.9),
            max_ms: result.max_latency_ms(),
            error_p99_ms: result.error_latency_ms(99.0),
            error_max_ms: result.error_latency_ms(100.0),
            mode: result.mode.to_string(),
            persistence: result.store_settings.persistence.to_string(),
            appendfsync: result.store_settings.appendfsync.to_string(),
            replicas: result.store_settings.replicas,
            shards: result.store_settings.shards,
        }
    }

    /// The summary columns that hold numbers (every one after `store`), in
    /// `summary.csv` order: what a sweep can plot.
    pub const NUMERIC_COLUMNS: [&'static str; 14] = [
        "requests",
        "logins",
        "forced_logouts",
        "expired",
        "errors",
        "users_affected",
        "logout_pct",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "p999_ms",
        "max_ms",
        "error_p99_ms",
        "error_max_ms",
    ];

    /// The value of a numeric column by its `summary.csv` name, or `None`
    /// for a name not in [`Self::NUMERIC_COLUMNS`].
    pub fn numeric(&self, column: &str) -> Option<f64> {
        // Counts stay far below 2^53, so the conversion to f64 is exact.
        Some(match column {
            "requests" => self.requests as f64,
            "logins" => self.logins as f64,
            "forced_logouts" => self.forced_logouts as f64,
            "expired" => self.expired as f64,
            "errors" => self.errors as f64,
            "users_affected" => self.users_affected as f64,
            "logout_pct" => self.logout_pct,
            "p50_ms" => self.p50_ms,
            "p90_ms" => self.p90_ms,
            "p99_ms" => self.p99_ms,
            "p999_ms" => self.p999_ms,
            "max_ms" => self.max_ms,
            "error_p99_ms" => self.error_p99_ms,
            "error_max_ms" => self.error_max_ms,
            _ => return None,
        })
    }
}

/// A short label for a fault, e.g. `server_crash @ 00:15:00` or
/// `redis_restart (host_crash) @ 00:30:00`.
pub fn fault_label(scenario: &Scenario, index: usize) -> String {
    crate::sim::fault::words::label(&scenario.faults[index])
}

/// Fault `index`'s toll in `result` as every table shows it: sessions
/// destroyed / users logged out, e.g. `833 / 412`; `not reached` for a
/// fault after the end of the run.
pub fn toll_cell(result: &StrategyResult, index: usize) -> String {
    match result.fault_losses.get(index).copied().flatten() {
        None => "not reached".to_string(),
        Some(destroyed) => format!(
            "{} / {}",
            thousands(destroyed),
            thousands(result.fault_tolls[index].logged_out)
        ),
    }
}

/// Writes a results folder atomically: `files` become the whole content
/// of `dir`, and a run killed at any moment leaves either the previous
/// complete folder or the new one ([`folder`] says how, and what happens
/// to files lbsim did not write: it refuses with exit code 2).
pub fn write_atomically<N: AsRef<str>>(dir: &Path, files: &[(N, Vec<u8>)]) -> Result<(), Error> {
    folder::write_folder(dir, files)
}

/// Writes each file into `dir`, each atomically on its own, keeping the
/// folder's other files: for folders lbsim shares (man pages, sweep parts).
pub fn write_each_atomically<N: AsRef<str>>(
    dir: &Path,
    files: &[(N, Vec<u8>)],
) -> Result<(), Error> {
    folder::write_each(dir, files)
}
