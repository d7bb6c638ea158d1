//! `report.html`: the same report as `report.md` in one self-contained
//! file (inline CSS, the plots inlined as SVG, no external links), so it
//! can be mailed, opened offline or projected from a browser.

use std::fmt::Write as _;

use super::plot::Plot;
use super::prose::{self, Emphasis, Sentence, TextTable};
use crate::sim::config::Scenario;
use crate::sim::metrics::StrategyResult;

/// Plain, large, printable: readable on a projector and on paper.
const STYLE: &str = "\
body { font-family: 'DejaVu Sans', Verdana, sans-serif; max-width: 72rem; margin: 2rem auto; \
padding: 0 1rem; line-height: 1.5; color: #222; }
h1 { font-size: 2rem; margin-bottom: 0.2rem; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; margin-top: 2.5rem; }
.description { font-size: 1.2rem; color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.7rem; }
th { background: #f3f3f3; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
td.pass { color: #1a7f37; }
td.fail { color: #cf222e; font-weight: bold; }
td.not-measured { color: #6e7781; }
code { background: #f3f3f3; padding: 0 0.2rem; }
figure { margin: 2rem 0; width: min(1600px, calc(100vw - 2rem)); position: relative; left: 50%; \
transform: translateX(-50%); }
figure svg { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; }
.lost { font-weight: bold; color: #a31515; }
";

/// Renders the report. `plots` are the rendered plot files: their SVGs are
/// inlined (none with `--no-plots`); `notes` are the remarks printed under
/// the table.
pub fn render(
    scenario: &Scenario,
    results: &[StrategyResult],
    plots: &[(String, Vec<u8>)],
    notes: &[String],
    verdict: Option<&super::verdict::Verdict>,
) -> Vec<u8> {
    let mut out = String::new();
    // `write!` to a String cannot fail; the results are ignored below.
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{name}: lbsim report</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <h1>{name}</h1>\n<p class=\"description\">{description}</p>\n",
        name = escape(&scenario.name),
        description = escape(&scenario.description)
    );

    out.push_str("<h2>The scenario</h2>\n<ul>\n");
    for fact in prose::scenario_facts(scenario) {
        let _ = writeln!(out, "<li>{}</li>", sentence(&fact));
    }
    out.push_str(
        "</ul>\n<h3>Strategies compared</h3>\n<p>Every strategy sees exactly the same users, \
         clicks and faults, so the differences between rows come from the strategy \
         alone.</p>\n<ul>\n",
    );
    for strategy in &scenario.strategies {
        let _ = writeln!(
            out,
            "<li>{}</li>",
            sentence(&prose::strategy_sentence(strategy))
        );
    }
    out.push_str("</ul>\n<h3>Faults</h3>\n");
    if scenario.faults.is_empty() {
        out.push_str("<p>None: this scenario shows the strategies on a quiet day.</p>\n");
    } else {
        out.push_str("<ul>\n");
        for fault in &scenario.faults {
            let _ = writeln!(
                out,
                "<li>{}</li>",
                sentence(&prose::fault_sentence(scenario, fault))
            );
        }
        out.push_str("</ul>\n");
    }

    out.push_str("<h2>Results</h2>\n<h3>What users saw</h3>\n");
    table(&mut out, &prose::outcomes_table(results));
    out.push_str("<h3>Latency</h3>\n");
    table(&mut out, &prose::latency_table(results));
    if let Some(losses) = prose::losses_table(scenario, results) {
        out.push_str("<h3>What each fault cost (sessions destroyed / forced logouts)</h3>\n");
        table(&mut out, &losses);
    }
    if let Some(verdict) = verdict {
        out.push_str("<h3>Verdict</h3>\n");
        table(&mut out, &super::verdict::as_text_table(verdict));
        let _ = writeln!(
            out,
            "<p>{}</p>",
            escape(&super::verdict::rules_text(scenario))
        );
    }
    out.push_str("<p>What the columns mean:</p>\n<ul>\n");
    for (term, meaning) in prose::DEFINITIONS {
        let _ = writeln!(out, "<li><strong>{term}</strong>: {meaning}.</li>");
    }
    out.push_str(
        "</ul>\n<p>The same numbers are in <code>summary.csv</code> beside this report.</p>\n",
    );

    out.push_str("<h2>Timeline</h2>\n");
    let moments = prose::timeline(results);
    if moments.is_empty() {
        out.push_str("<p>Nothing happened to the servers or the store during the run.</p>\n");
    }
    for moment in moments {
        let _ = writeln!(out, "<h3>{}</h3>\n<ul>", moment.t);
        for (strategy, event, detail, lost) in &moment.entries {
            // The detail says what was destroyed; a loss is marked, not repeated.
            let detail = if *lost > 0 {
                format!("<span class=\"lost\">{}</span>", escape(detail))
            } else {
                escape(detail)
            };
            let _ = writeln!(
                out,
                "<li><strong>{}</strong> (<code>{event}</code>): {detail}.</li>",
                escape(strategy)
            );
        }
        out.push_str("</ul>\n");
    }

    out.push_str("<h2>Plots</h2>\n");
    let mut any = false;
    for plot in Plot::ALL {
        let file = format!("{}.svg", plot.name());
        let Some((_, svg)) = plots.iter().find(|(name, _)| *name == file) else {
            continue;
        };
        any = true;
        let _ = write!(
            out,
            "<figure id=\"{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
            plot.name(),
            inline_svg(&String::from_utf8_lossy(svg)),
            escape(plot.caption())
        );
    }
    if !any {
        out.push_str("<p>No plots were written for this run (<code>--no-plots</code>).</p>\n");
    }

    if !notes.is_empty() {
        out.push_str("<h2>Notes</h2>\n<ul>\n");
        for note in notes {
            let _ = writeln!(out, "<li>{}</li>", escape(note));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body>\n</html>\n");
    out.into_bytes()
}

/// An SVG document as an element of the page: without its XML
/// declaration, and with a `viewBox` so that CSS can scale it to the page
/// width.
fn inline_svg(svg: &str) -> String {
    let svg = match svg.find("<svg") {
        Some(start) => &svg[start..],
        None => svg,
    };
    if svg.contains("viewBox") {
        svg.to_string()
    } else {
        svg.replacen(
            "<svg",
            &format!(
                "<svg viewBox=\"0 0 {} {}\"",
                super::plot::WIDTH,
                super::plot::HEIGHT
            ),
            1,
        )
    }
}

/// Escapes text for HTML content and double-quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escaped text with `` `name` `` spans turned into `<code>`.
fn with_code(text: &str) -> String {
    escape(text)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

fn sentence(pieces: &Sentence) -> String {
    pieces
        .iter()
        .map(|piece| match piece {
            Emphasis::Plain(text) => with_code(text),
            Emphasis::Strong(text) => format!("<strong>{}</strong>", with_code(text)),
        })
        .collect()
}

fn table(out: &mut String, table: &TextTable) {
    out.push_str("<table>\n<thead><tr>");
    for cell in &table.header {
        let _ = write!(out, "<th>{}</th>", escape(cell));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            // Verdict cells carry their mark as a class too, so that pass
            // and fail differ in colour whatever fonts the browser has.
            let mark = [("✅", "pass"), ("❌", "fail"), ("—", "not-measured")]
                .iter()
                .find(|(symbol, _)| cell.starts_with(symbol));
            if let Some((_, class)) = mark {
                let _ = write!(out, "<td class=\"{class}\">{}</td>", escape(cell));
            } else if i >= table.numeric_from {
                let _ = write!(out, "<td class=\"number\">{}</td>", escape(cell));
            } else {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_and_escaping() {
        assert_eq!(
            with_code("a `server_crash` <b>"),
            "a <code>server_crash</code> &lt;b&gt;"
        );
        assert_eq!(
            inline_svg("<?xml version=\"1.0\"?>\n<svg width=\"1600\">"),
            "<svg viewBox=\"0 0 1600 900\" width=\"1600\">"
        );
    }
}
