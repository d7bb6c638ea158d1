//! Output: everything a run produces, rendered as bytes, and one function
//! that writes files atomically.
//!
//! Renderers are pure (`&results -> Vec<u8>` or `String`), so tests check
//! them without touching the disk and the same bytes go to a file or to
//! stdout. Column names of the CSV files are a public interface: scripts
//! and teaching material depend on them, so change them only by adding.

pub mod csv;
pub mod fit;
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

use std::fs;
use std::io::Write;
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
            mode: if result.live { "live" } else { "sim" }.to_string(),
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

/// Writes each file to `dir` atomically: every file first goes to a hidden
/// temporary file in the same folder, flushed to disk; only when all are
/// written are they renamed over the final names. A failure leaves either
/// the old files or the new ones, never half of one, and a failure while
/// writing (the likely kind: disk full, permissions) leaves all the old
/// files untouched.
pub fn write_atomically<N: AsRef<str>>(dir: &Path, files: &[(N, Vec<u8>)]) -> Result<(), Error> {
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Output { path, source }
    };
    fs::create_dir_all(dir).map_err(fail(dir))?;
    let temp_of = |name: &str| dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let remove_temps = || {
        for (name, _) in files {
            let _ = fs::remove_file(temp_of(name.as_ref()));
        }
    };
    for (name, bytes) in files {
        let name = name.as_ref();
        let temp = temp_of(name);
        let written = fs::File::create(&temp).and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
        if let Err(source) = written {
            remove_temps();
            return Err(fail(&dir.join(name))(source));
        }
    }
    for (name, _) in files {
        let name = name.as_ref();
        if let Err(source) = fs::rename(temp_of(name), dir.join(name)) {
            remove_temps();
            return Err(fail(&dir.join(name))(source));
        }
    }
    Ok(())
}
