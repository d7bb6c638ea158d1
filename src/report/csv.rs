//! The CSV files. Numbers are formatted with a fixed number of decimals so
//! that the same run gives the same bytes on every machine.

use ::csv::Writer;

use super::SummaryRow;
use crate::sim::config::Scenario;
use crate::sim::metrics::StrategyResult;
use crate::sim::time::SimTime;

/// Column order of `summary.csv` (a stable interface).
pub const SUMMARY_COLUMNS: [&str; 22] = [
    "strategy",
    "balancer",
    "store",
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
    "mode",
    "persistence",
    "appendfsync",
    "replicas",
    "shards",
];

/// Column order of `timeseries.csv`.
pub const TIMESERIES_COLUMNS: [&str; 7] = [
    "strategy",
    "t_s",
    "requests",
    "forced_logouts",
    "errors",
    "active_sessions",
    "p99_ms",
];

/// Column order of `servers.csv`.
pub const SERVERS_COLUMNS: [&str; 4] = ["strategy", "t_s", "server", "requests"];

/// Column order of `imbalance.csv`.
pub const IMBALANCE_COLUMNS: [&str; 4] = ["strategy", "t_s", "servers_in_service", "max_over_mean"];

/// Column order of `events.csv`.
pub const EVENTS_COLUMNS: [&str; 5] = ["t_s", "strategy", "event", "detail", "sessions_destroyed"];

/// Milliseconds with microsecond resolution.
fn ms(value: f64) -> String {
    format!("{value:.3}")
}

/// Seconds since the start: whole seconds when exact, else milliseconds.
pub fn seconds(t: SimTime) -> String {
    let nanos = t.as_nanos();
    if nanos.is_multiple_of(1_000_000_000) {
        (nanos / 1_000_000_000).to_string()
    } else {
        format!("{:.3}", t.as_secs_f64())
    }
}

fn finish(writer: Writer<Vec<u8>>) -> Vec<u8> {
    // Writing to a Vec cannot fail.
    writer.into_inner().expect("in-memory CSV writer")
}

pub fn summary(results: &[StrategyResult]) -> Vec<u8> {
    let mut w = Writer::from_writer(Vec::new());
    w.write_record(SUMMARY_COLUMNS).expect("in-memory");
    for result in results {
        w.write_record(summary_record(&SummaryRow::new(result)))
            .expect("in-memory");
    }
    finish(w)
}

/// One summary row as the cells of `summary.csv`, in [`SUMMARY_COLUMNS`]
/// order; `sweep.csv` reuses it so both files format numbers alike.
pub fn summary_record(r: &SummaryRow) -> [String; 22] {
    [
        r.strategy.clone(),
        r.balancer.clone(),
        r.store.clone(),
        r.requests.to_string(),
        r.logins.to_string(),
        r.forced_logouts.to_string(),
        r.expired.to_string(),
        r.errors.to_string(),
        r.users_affected.to_string(),
        format!("{:.3}", r.logout_pct),
        ms(r.p50_ms),
        ms(r.p90_ms),
        ms(r.p99_ms),
        ms(r.p999_ms),
        ms(r.max_ms),
        ms(r.error_p99_ms),
        ms(r.error_max_ms),
        r.mode.clone(),
        r.persistence.clone(),
        r.appendfsync.clone(),
        r.replicas.to_string(),
        r.shards.to_string(),
    ]
}

/// `sweep.csv`: one column per swept key (named by the key), then the
/// summary columns. Each row is one run: the swept values of its point and
/// the summary of one strategy.
pub fn sweep(keys: &[String], rows: &[(Vec<String>, SummaryRow)]) -> Vec<u8> {
    let mut w = Writer::from_writer(Vec::new());
    let header = keys.iter().map(String::as_str).chain(SUMMARY_COLUMNS);
    w.write_record(header).expect("in-memory");
    for (values, row) in rows {
        debug_assert_eq!(values.len(), keys.len());
        let cells = values.iter().cloned().chain(summary_record(row));
        w.write_record(cells).expect("in-memory");
    }
    finish(w)
}

/// `faults.csv`'s columns: one row per strategy and fault, in file order.
pub const FAULTS_COLUMNS: [&str; 10] = [
    "strategy",
    "fault",
    "kind",
    "t_s",
    "happened",
    "sessions_destroyed",
    "forced_logouts",
    "expired_instead",
    "errors",
    "error_seconds",
];

/// `faults.csv`: what each fault cost each strategy (`sim::toll` defines
/// the columns). A fault after the end of the run has `happened` false and
/// zeros.
pub fn faults(scenario: &Scenario, results: &[StrategyResult]) -> Vec<u8> {
    let mut w = Writer::from_writer(Vec::new());
    w.write_record(FAULTS_COLUMNS).expect("in-memory");
    for result in results {
        for (i, fault) in scenario.faults.iter().enumerate() {
            let toll = result.fault_tolls[i];
            let destroyed = result.fault_losses[i];
            w.write_record([
                result.name.clone(),
                (i + 1).to_string(),
                fault.kind.name().to_string(),
                seconds(fault.at),
                destroyed.is_some().to_string(),
                destroyed.unwrap_or(0).to_string(),
                toll.logged_out.to_string(),
                toll.expired_instead.to_string(),
                toll.errors.to_string(),
                toll.error_seconds.to_string(),
            ])
            .expect("in-memory");
        }
    }
    finish(w)
}

pub fn timeseries(results: &[StrategyResult]) -> Vec<u8> {
    let mut w = Writer::from_writer(Vec::new());
    w.write_record(TIMESERIES_COLUMNS).expect("in-memory");
    for result in results {
        for row in &result.timeseries {
            w.write_record([
                result.name.clone(),
                seconds(row.t),
                row.counts.requests.to_string(),
                row.counts.forced_logouts.to_string(),
                row.counts.errors.to_string(),
                row.active_sessions.to_string(),
                ms(row.p99.as_millis_f64()),
            ])
            .expect("in-memory");
        }
    }
    finish(w)
}

/// Requests routed to each server per interval: the load each balancer
/// puts on each server (sticky imbalance shows here).
pub fn servers(results: &[StrategyResult]) -> Vec<u8> {
    let mut w = Writer::from_writer(Vec::new());
    w.write_record(SERVERS_COLUMNS).expect("in-memory");
    for result in results {
        for row in &result.timeseries {
            for (server, requests) in row.server_requests.iter().enumerate() {
                w.write_record([
                    result.name.clone(),
                    seconds(row.t),
                    server.to_string(),
                    requests.to_string(),
                ])
                .expect("in-memory");
            }
        }
    }
    finish(w)
}

/// The busiest server's load over the mean, per interval: 1.0 is even;
/// sticky pinning after a scale-out keeps it high. Empty where an interval
/// had no request.
pub fn imbalance(results: &[StrategyResult]) -> Vec<u8> {
    let mut w = Writer::from_writer(Vec::new());
    w.write_record(IMBALANCE_COLUMNS).expect("in-memory");
    for result in results {
        for row in &result.timeseries {
            w.write_record([
                result.name.clone(),
                seconds(row.t),
                row.servers_in_service.to_string(),
                row.imbalance()
                    .map(|r| format!("{r:.3}"))
                    .unwrap_or_default(),
            ])
            .expect("in-memory");
        }
    }
    finish(w)
}

/// Events of all strategies, in time order (file order of strategies for
/// events at the same time).
pub fn events(results: &[StrategyResult]) -> Vec<u8> {
    let mut all: Vec<(SimTime, usize, &str, &crate::sim::events::EventRecord)> = results
        .iter()
        .enumerate()
        .flat_map(|(i, r)| r.events.iter().map(move |e| (e.t, i, r.name.as_str(), e)))
        .collect();
    all.sort_by_key(|(t, i, _, _)| (*t, *i));
    let mut w = Writer::from_writer(Vec::new());
    w.write_record(EVENTS_COLUMNS).expect("in-memory");
    for (t, _, strategy, e) in all {
        w.write_record([
            seconds(t),
            strategy.to_string(),
            e.name().to_string(),
            e.detail(),
            e.sessions_destroyed.to_string(),
        ])
        .expect("in-memory");
    }
    finish(w)
}
