//! `--format json`: the summary rows plus the per-fault losses, for scripts.

use serde::Serialize;

use super::{SummaryRow, fault_label};
use crate::sim::config::Scenario;
use crate::sim::metrics::StrategyResult;
use crate::sim::toll::FaultToll;

#[derive(Serialize)]
struct JsonReport<'a> {
    scenario: &'a str,
    seed: u64,
    strategies: Vec<JsonStrategy>,
}

#[derive(Serialize)]
struct JsonStrategy {
    #[serde(flatten)]
    summary: SummaryRow,
    users_affected_pct: f64,
    /// Requests served by re-authentication (`on_store_error = "fallback_auth"`).
    reauths: u64,
    faults: Vec<JsonFault>,
}

#[derive(Serialize)]
struct JsonFault {
    fault: String,
    /// `null` if the fault was after the end of the run.
    sessions_destroyed: Option<u64>,
    /// The rest of its toll, as in `faults.csv` (`sim::toll`).
    #[serde(flatten)]
    toll: FaultToll,
}

pub fn render(scenario: &Scenario, results: &[StrategyResult]) -> String {
    let strategies = results
        .iter()
        .map(|r| JsonStrategy {
            summary: SummaryRow::new(r),
            users_affected_pct: r.users_affected_pct(),
            reauths: r.totals.reauths,
            faults: r
                .fault_losses
                .iter()
                .enumerate()
                .map(|(i, lost)| JsonFault {
                    fault: fault_label(scenario, i),
                    sessions_destroyed: *lost,
                    toll: r.fault_tolls[i],
                })
                .collect(),
        })
        .collect();
    let report = JsonReport {
        scenario: &scenario.name,
        seed: scenario.seed,
        strategies,
    };
    let mut text = serde_json::to_string_pretty(&report).expect("plain data serializes");
    text.push('\n');
    text
}
