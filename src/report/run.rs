//! Everything one `lbsim run` produces, decided in one place: which files
//! the results folder gets and what goes to stdout. Like hyperfine's
//! exporters, every renderer is pure and returns bytes; the caller writes
//! the files with [`super::write_atomically`] and prints the text.

use super::meta::RowOrigin;
use super::{csv, fit, html, json, markdown, meta, plot, verdict};
use crate::sim::config::Scenario;
use crate::sim::metrics::StrategyResult;

/// What to print on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StdoutFormat {
    /// The comparison table with a legend (and the verdict and notes).
    Table,
    /// The contents of `summary.csv`.
    Csv,
    /// Summary rows and per-fault losses as JSON.
    Json,
}

/// A finished run, as the reports see it.
pub struct Run<'a> {
    pub scenario: &'a Scenario,
    /// The scenario file as the user named it.
    pub shown: &'a str,
    /// The scenario's text, for `meta.json`'s hash.
    pub text: &'a str,
    /// Every row, simulated and live, in table order.
    pub results: &'a [StrategyResult],
    /// How each row was produced.
    pub origins: &'a [RowOrigin],
    /// Notes on what the run could not do exactly (live mode).
    pub notes: &'a [String],
    /// Whether to draw the plots (the reports then show them).
    pub plots: bool,
}

/// The files of the results folder, in the order they are written.
pub fn files(run: &Run<'_>) -> Vec<(String, Vec<u8>)> {
    let (scenario, results) = (run.scenario, run.results);
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("summary.csv".into(), csv::summary(results)),
        ("timeseries.csv".into(), csv::timeseries(results)),
        ("events.csv".into(), csv::events(results)),
        ("faults.csv".into(), csv::faults(scenario, results)),
        ("servers.csv".into(), csv::servers(results)),
        ("imbalance.csv".into(), csv::imbalance(results)),
        (
            "meta.json".into(),
            meta::render(scenario, run.shown, run.text, run.origins, run.notes),
        ),
    ];
    // The verdict table is always written; it is printed (and put in the
    // reports) when the scenario asks for it with a `[verdict]` section.
    let verdict = verdict::compute(scenario, results);
    files.push(("verdict.csv".into(), verdict::render_csv(&verdict)));
    files.push((
        "verdict.md".into(),
        markdown::verdict_page(scenario, &verdict).into_bytes(),
    ));
    let shown_verdict = scenario.verdict.is_some().then_some(&verdict);
    let plots = if run.plots {
        plot::render(scenario, results)
    } else {
        Vec::new()
    };
    files.push((
        "report.md".into(),
        markdown::render(scenario, results, &plots, run.notes, shown_verdict),
    ));
    files.push((
        "report.html".into(),
        html::render(scenario, results, &plots, run.notes, shown_verdict),
    ));
    files.extend(plots);
    files
}

/// What `lbsim run` prints on stdout; the table fits `width` columns if
/// given (`None`: the full layout, for pipes and `--wide`).
pub fn stdout(run: &Run<'_>, format: StdoutFormat, width: Option<usize>) -> String {
    let (scenario, results) = (run.scenario, run.results);
    match format {
        StdoutFormat::Table => {
            let verdict = scenario
                .verdict
                .is_some()
                .then(|| verdict::compute(scenario, results));
            fit::render(scenario, results, verdict.as_ref(), run.notes, width)
        }
        StdoutFormat::Csv => String::from_utf8(csv::summary(results)).expect("CSV is UTF-8"),
        StdoutFormat::Json => json::render(scenario, results),
    }
}
