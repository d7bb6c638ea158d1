//! The table `lbsim sweep` prints on stdout: one row per combination ×
//! strategy, as in `sweep.csv`, with the swept values, the `--metric` and
//! the few columns people look at first. Pure; the same style as the run's
//! table (`report::table`).

use crate::report::SummaryRow;
use crate::report::table::{count, full_width_table, right_align_from, thousands};

/// Always shown after the strategy (and the metric, when it is another).
const KEY_COLUMNS: [&str; 3] = ["forced_logouts", "errors", "p99_ms"];

/// Renders the table of a sweep of `name` over `keys`: one row per
/// (swept values, summary), in `sweep.csv`'s order.
pub fn render(
    name: &str,
    keys: &[String],
    rows: &[(Vec<String>, SummaryRow)],
    metric: &str,
    points: usize,
) -> String {
    let mut columns: Vec<&str> = Vec::new();
    if !KEY_COLUMNS.contains(&metric) {
        columns.push(metric);
    }
    columns.extend(KEY_COLUMNS);

    let mut table = full_width_table();
    let header = keys
        .iter()
        .cloned()
        .chain(["strategy".to_string()])
        .chain(columns.iter().map(|c| title(c)));
    table.set_header(header);
    for (values, row) in rows {
        let cells = values
            .iter()
            .cloned()
            .chain([row.strategy.clone()])
            .chain(columns.iter().map(|c| cell(row, c)));
        table.add_row(cells);
    }
    // Swept values and strategies may be words; the metrics are numbers.
    right_align_from(&mut table, keys.len() + 1);
    let mut strategies: Vec<&str> = rows.iter().map(|(_, r)| r.strategy.as_str()).collect();
    strategies.sort_unstable();
    strategies.dedup();
    format!(
        "{name}: {} × {} (--metric {metric})\n{table}\n",
        count(points as u64, "combination"),
        count(strategies.len() as u64, "strategy"),
    )
}

/// A summary column's name as a table heading: `forced logouts`,
/// `logout %`, `p99.9 ms`.
fn title(column: &str) -> String {
    match column {
        "logout_pct" => "logout %".to_string(),
        c => c.replace("p999", "p99.9").replace('_', " "),
    }
}

/// A summary value as the run's table shows it: counts with thousands
/// separators, percentages and milliseconds with two decimals.
fn cell(row: &SummaryRow, column: &str) -> String {
    let value = row.numeric(column).expect("the metric was checked");
    if column == "logout_pct" {
        format!("{value:.2}%")
    } else if column.ends_with("_ms") {
        format!("{value:.2}")
    } else {
        // Counts are whole numbers far below 2^53.
        thousands(value as u64)
    }
}
