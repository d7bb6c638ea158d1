//! The comparison table printed to the terminal.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

pub use crate::sim::fault::words::{count, thousands};

use super::{SummaryRow, fault_label, toll_cell};
use crate::sim::config::Scenario;
use crate::sim::metrics::StrategyResult;

/// Renders the comparison table, one row per strategy, followed by a legend
/// that says what the columns mean.
pub fn render(scenario: &Scenario, results: &[StrategyResult]) -> String {
    let mut table = full_width_table();
    let mut header: Vec<String> = [
        "strategy",
        "store",
        "requests",
        "forced logouts",
        "logout %",
        "users affected",
        "errors",
        "p50 ms",
        "p99 ms",
        "max ms",
    ]
    .map(String::from)
    .to_vec();
    for i in 0..scenario.faults.len() {
        header.push(fault_label(scenario, i));
    }
    table.set_header(header);
    for result in results {
        let r = SummaryRow::new(result);
        let mut row = vec![
            r.strategy.clone(),
            result.store_detail.clone(),
            thousands(r.requests),
            thousands(r.forced_logouts),
            format!("{:.2}%", r.logout_pct),
            format!(
                "{} ({:.1}%)",
                thousands(r.users_affected),
                result.users_affected_pct()
            ),
            thousands(r.errors),
            format!("{:.2}", r.p50_ms),
            format!("{:.2}", r.p99_ms),
            format!("{:.2}", r.max_ms),
        ];
        for i in 0..result.fault_losses.len() {
            row.push(toll_cell(result, i));
        }
        table.add_row(row);
    }
    right_align_from(&mut table, 2);
    let mut out = format!("{}: {}\n", scenario.name, scenario.description);
    out.push_str(&format!(
        "{} users, {} servers, {} simulated, seed {}\n",
        thousands(u64::from(scenario.workload.users)),
        scenario.servers.count,
        scenario.duration,
        scenario.seed
    ));
    out.push_str(&table.to_string());
    out.push('\n');
    out.push_str(LEGEND);
    out
}

/// A table in lbsim's style at its natural width, never wrapped: the
/// stable layout for pipes and `--wide` (`report::fit` narrows it).
pub fn full_width_table() -> Table {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    table
}

/// Right-aligns every column from `first` on: the numbers.
pub fn right_align_from(table: &mut Table, first: usize) {
    for index in first..table.column_count() {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

const LEGEND: &str = "\
forced logouts: requests whose session was gone while still valid (the user is sent to log in again)
logout %: forced logouts per page request (logins excluded); users affected: users logged out at least once
errors: failed requests (no server up, server crashed mid-request, session store unreachable)
p50/p99/max ms: latency of served requests, from when the user sent them (errors are timed apart)
per fault: sessions destroyed / forced logouts: sessions the fault destroyed while users held them, and the forced logouts
  that followed (the other users came back after the TTL, or not before the end); errors per fault: faults.csv
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_with_plurals() {
        assert_eq!(count(1, "error"), "1 error");
        assert_eq!(count(0, "error"), "0 errors");
        assert_eq!(count(1200, "forced logout"), "1,200 forced logouts");
        assert_eq!(count(3, "strategy"), "3 strategies");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_243_987), "1,243,987");
    }
}
