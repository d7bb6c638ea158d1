//! `report.md`: the run explained for someone who did not write the
//! scenario, with the plots as images beside it (the PNG files of the same
//! folder), ready to paste into a design document or a wiki.

use std::fmt::Write as _;

use super::plot::Plot;
use super::prose::{self, Emphasis, Sentence, TextTable};
use crate::sim::config::Scenario;
use crate::sim::metrics::StrategyResult;

/// Renders the report. `plots` are the plot files written beside it (empty
/// with `--no-plots`, and the report then has no images); `notes` are the
/// remarks printed under the table (e.g. about live mode).
pub fn render(
    scenario: &Scenario,
    results: &[StrategyResult],
    plots: &[(String, Vec<u8>)],
    notes: &[String],
    verdict: Option<&super::verdict::Verdict>,
) -> Vec<u8> {
    let mut out = String::new();
    // `write!` to a String cannot fail; the results are ignored below.
    let _ = writeln!(out, "# {}\n", escape(&scenario.name));
    let _ = writeln!(out, "{}\n", escape(&scenario.description));

    out.push_str("## The scenario\n\n");
    for fact in prose::scenario_facts(scenario) {
        let _ = writeln!(out, "- {}", sentence(&fact));
    }
    out.push_str("\n### Strategies compared\n\n");
    out.push_str(
        "Every strategy sees exactly the same users, clicks and faults, so the \
         differences between rows come from the strategy alone.\n\n",
    );
    for strategy in &scenario.strategies {
        let _ = writeln!(out, "- {}", sentence(&prose::strategy_sentence(strategy)));
    }
    out.push_str("\n### Faults\n\n");
    if scenario.faults.is_empty() {
        out.push_str("None: this scenario shows the strategies on a quiet day.\n");
    }
    for fault in &scenario.faults {
        let _ = writeln!(
            out,
            "- {}",
            sentence(&prose::fault_sentence(scenario, fault))
        );
    }

    out.push_str("\n## Results\n\n### What users saw\n\n");
    table(&mut out, &prose::outcomes_table(results));
    out.push_str("\n### Latency\n\n");
    table(&mut out, &prose::latency_table(results));
    if let Some(losses) = prose::losses_table(scenario, results) {
        out.push_str("\n### What each fault cost (sessions destroyed / forced logouts)\n\n");
        table(&mut out, &losses);
    }
    if let Some(verdict) = verdict {
        out.push_str("\n### Verdict\n\n");
        table(&mut out, &super::verdict::as_text_table(verdict));
        let _ = writeln!(out, "\n{}", super::verdict::rules_text(scenario));
    }
    out.push_str("\nWhat the columns mean:\n\n");
    for (term, meaning) in prose::DEFINITIONS {
        let _ = writeln!(out, "- **{term}**: {meaning}.");
    }
    out.push_str("\nThe same numbers are in `summary.csv` beside this report.\n");

    out.push_str("\n## Timeline\n\n");
    let moments = prose::timeline(results);
    if moments.is_empty() {
        out.push_str("Nothing happened to the servers or the store during the run.\n");
    }
    for moment in moments {
        let _ = writeln!(out, "### {}\n", moment.t);
        for (strategy, event, detail, lost) in &moment.entries {
            // The detail says what was destroyed; a loss is marked, not repeated.
            let detail = if *lost > 0 {
                format!("**{}**", escape(detail))
            } else {
                escape(detail)
            };
            let _ = writeln!(out, "- {} (`{event}`): {detail}.", escape(strategy));
        }
        out.push('\n');
    }

    out.push_str("## Plots\n\n");
    let mut any = false;
    for plot in Plot::ALL {
        let file = format!("{}.png", plot.name());
        if plots.iter().any(|(name, _)| *name == file) {
            any = true;
            let _ = writeln!(out, "![{}]({file})\n\n{}\n", plot.name(), plot.caption());
        }
    }
    if !any {
        out.push_str("No plots were written for this run (`--no-plots`).\n\n");
    }

    if !notes.is_empty() {
        out.push_str("## Notes\n\n");
        for note in notes {
            let _ = writeln!(out, "- {}", escape(note));
        }
        out.push('\n');
    }
    out.into_bytes()
}

/// `verdict.md`: the verdict table in Markdown, with the rules under it.
pub fn verdict_page(scenario: &Scenario, verdict: &super::verdict::Verdict) -> String {
    let mut out = String::new();
    table(&mut out, &super::verdict::as_text_table(verdict));
    let _ = writeln!(out, "\n{}", super::verdict::rules_text(scenario));
    out
}

/// Escapes the characters that would turn plain text into markdown
/// (emphasis, tables, links, HTML). Text between backticks is a code span,
/// used by the prose for names from scenario files, and is left as it is
/// (a backslash there would show).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    for c in text.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code && matches!(c, '\\' | '*' | '_' | '|' | '[' | ']' | '<' | '>' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn sentence(pieces: &Sentence) -> String {
    pieces
        .iter()
        .map(|piece| match piece {
            Emphasis::Plain(text) => escape(text),
            Emphasis::Strong(text) => format!("**{}**", escape(text)),
        })
        .collect()
}

/// Appends `table` as a Markdown table (also used for `verdict.md`).
pub(super) fn table(out: &mut String, table: &TextTable) {
    let cells = |row: &[String]| -> String {
        let escaped: Vec<String> = row.iter().map(|cell| escape(cell)).collect();
        format!("| {} |\n", escaped.join(" | "))
    };
    out.push_str(&cells(&table.header));
    let rule: Vec<&str> = (0..table.header.len())
        .map(|i| {
            if i >= table.numeric_from {
                "---:"
            } else {
                "---"
            }
        })
        .collect();
    let _ = writeln!(out, "| {} |", rule.join(" | "));
    for row in &table.rows {
        out.push_str(&cells(row));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_spares_code_spans() {
        assert_eq!(
            escape("a_b `server_crash` | *x*"),
            "a\\_b `server_crash` \\| \\*x\\*"
        );
    }
}
