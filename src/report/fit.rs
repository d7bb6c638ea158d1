//! The terminal output of `lbsim run` at a given width.
//!
//! The full table has a column per measure and one per fault: 140 to 370
//! characters wide for the bundled scenarios. When it does not fit the
//! terminal (its width, or `COLUMNS`), the same numbers are laid out
//! narrower: a table of what users saw (forced logouts, users affected,
//! errors, latency), a table of the sessions each fault destroyed with the
//! faults numbered and named in a key, the verdict with strategies as rows
//! and marks only, and every line of text wrapped. Comfy-table's dynamic
//! arrangement wraps a cell rather than letting a row overflow. Piped
//! output (no width) and `--wide` keep the full layout, which is stable.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use super::table::{self, right_align_from, thousands};
use super::verdict::{self, Verdict};
use super::{SummaryRow, fault_label, toll_cell};
use crate::sim::config::Scenario;
use crate::sim::metrics::StrategyResult;

/// The table, the verdict (if the scenario asks for it) and the notes, to
/// fit `width` columns; `None`: the full layout.
pub fn render(
    scenario: &Scenario,
    results: &[StrategyResult],
    verdict: Option<&Verdict>,
    notes: &[String],
    width: Option<usize>,
) -> String {
    let mut full = table::render(scenario, results);
    if let Some(verdict) = verdict {
        full.push('\n');
        full.push_str(&verdict::render_table(verdict));
    }
    let notes_text: String = notes.iter().map(|n| format!("note: {n}\n")).collect();
    let Some(width) = width else {
        return full + &notes_text;
    };
    if widest(&full) <= width {
        return full + &wrap(&notes_text, width);
    }
    let mut out = wrap(
        &format!("{}: {}\n", scenario.name, scenario.description),
        width,
    );
    out.push_str(&wrap(
        &format!(
            "{} users, {} servers, {} simulated, seed {}\n",
            thousands(u64::from(scenario.workload.users)),
            scenario.servers.count,
            scenario.duration,
            scenario.seed
        ),
        width,
    ));
    out.push_str(&outcomes(results, width));
    out.push_str(&wrap(LEGEND, width));
    if !scenario.faults.is_empty() {
        out.push('\n');
        out.push_str(&losses(scenario, results, width));
    }
    if let Some(verdict) = verdict {
        out.push('\n');
        out.push_str(&verdict_by_strategy(verdict, width));
    }
    out.push_str(&wrap(&notes_text, width));
    out
}

const LEGEND: &str = "\
forced logouts: requests whose session was gone while still valid; users affected: users logged out at least once; \
errors: failed requests; p99/max ms: latency of served requests (--wide: every column, with the stores)
";

fn new_table(width: usize) -> Table {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(width).unwrap_or(u16::MAX));
    table
}

/// What users saw, per strategy, fitting `width` columns (`explain`
/// prints it at 80).
pub fn outcomes(results: &[StrategyResult], width: usize) -> String {
    let mut table = new_table(width);
    table.set_header([
        "strategy",
        "forced logouts",
        "users affected",
        "errors",
        "p99 ms",
        "max ms",
    ]);
    for result in results {
        let r = SummaryRow::new(result);
        table.add_row([
            r.strategy.clone(),
            thousands(r.forced_logouts),
            format!(
                "{} ({:.1}%)",
                thousands(r.users_affected),
                result.users_affected_pct()
            ),
            thousands(r.errors),
            format!("{:.2}", r.p99_ms),
            format!("{:.2}", r.max_ms),
        ]);
    }
    right_align_from(&mut table, 1);
    format!("{table}\n")
}

/// Sessions each fault destroyed, faults numbered, with their key.
fn losses(scenario: &Scenario, results: &[StrategyResult], width: usize) -> String {
    let mut table = new_table(width);
    let mut header = vec!["destroyed / forced logouts".to_string()];
    header.extend((1..=scenario.faults.len()).map(|i| format!("#{i}")));
    table.set_header(header);
    for result in results {
        let mut row = vec![result.name.clone()];
        for i in 0..result.fault_losses.len() {
            row.push(toll_cell(result, i));
        }
        table.add_row(row);
    }
    right_align_from(&mut table, 1);
    let mut out = format!("{table}\n");
    for i in 0..scenario.faults.len() {
        out.push_str(&wrap(
            &format!("#{}: {}\n", i + 1, fault_label(scenario, i)),
            width,
        ));
    }
    out.push_str(&wrap(
        "destroyed / forced logouts: sessions the fault destroyed while users held them / the \
         forced logouts that followed (the other users came back after the TTL, or not before \
         the end); errors per fault: faults.csv\n",
        width,
    ));
    out
}

/// The verdict with strategies as rows and a mark per criterion, the
/// criteria numbered and named in a key.
fn verdict_by_strategy(verdict: &Verdict, width: usize) -> String {
    let mut table = new_table(width);
    let mut header = vec!["verdict".to_string()];
    header.extend((1..=verdict.rows.len()).map(|i| i.to_string()));
    table.set_header(header);
    for (i, strategy) in verdict.strategies.iter().enumerate() {
        let mut row = vec![strategy.clone()];
        row.extend(
            verdict
                .rows
                .iter()
                .map(|(_, cells)| format!("{} {}", cells[i].mark.symbol(), cells[i].mark.word())),
        );
        table.add_row(row);
    }
    let key: Vec<String> = verdict
        .rows
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("{} {name}", i + 1))
        .collect();
    let mut out = format!("{table}\n");
    out.push_str(&wrap(
        &format!(
            "{}; the numbers behind each mark: verdict.md, or --wide\n",
            key.join(", ")
        ),
        width,
    ));
    out
}

/// The widest line, in terminal columns.
pub fn widest(text: &str) -> usize {
    text.lines().map(display_width).max().unwrap_or(0)
}

fn display_width(line: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(line)
}

/// Wraps every line of `text` at `width` columns on spaces; continuation
/// lines are indented by two.
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut column = 0;
        let mut first = true;
        for word in line.split(' ') {
            let len = display_width(word);
            if !first && column + 1 + len > width {
                out.push_str("\n  ");
                column = 2;
            } else if !first {
                out.push(' ');
                column += 1;
            }
            out.push_str(word);
            column += len;
            first = false;
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_on_spaces_and_counts_marks_as_two_columns() {
        let text = wrap("one two three four five six\n", 9);
        assert_eq!(text, "one two\n  three\n  four\n  five\n  six\n");
        assert_eq!(widest("\u{2705} ok"), 5);
    }
}
