//! The scenario and its results in sentences and tables of text, shared by
//! `report.md` and `report.html` so both say the same thing.
//!
//! Everything here is generated from the typed [`Scenario`] and the
//! results, never written by hand, so the report cannot drift from what
//! was run. The functions return plain text (with `**bold**` marks only
//! where a format can render them, see [`Emphasis`]); the markdown and HTML
//! renderers only escape and lay it out.

use super::SummaryRow;
use super::csv::summary_record;
use super::table::thousands;
use crate::sim::config::{Arrival, Fault, Scenario, Strategy};
use crate::sim::dist::Dist;
use crate::sim::fault::words;
use crate::sim::metrics::StrategyResult;
use crate::sim::time::SimTime;

/// A piece of a sentence, either plain or emphasised (a number or a name
/// the reader's eye should find).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Emphasis {
    Plain(String),
    Strong(String),
}

/// A sentence made of plain and emphasised pieces.
pub type Sentence = Vec<Emphasis>;

fn plain(text: impl Into<String>) -> Emphasis {
    Emphasis::Plain(text.into())
}

fn strong(text: impl Into<String>) -> Emphasis {
    Emphasis::Strong(text.into())
}

/// A table of text: a header row and body rows of the same width.
#[derive(Clone, Debug)]
pub struct TextTable {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Columns to align right (numbers).
    pub numeric_from: usize,
}

/// A distribution of durations in words, e.g. `8s on average (exponential)`.
pub fn dist(d: &Dist) -> String {
    d.in_words()
}

/// The workload, servers, sessions and run length, one sentence each.
pub fn scenario_facts(scenario: &Scenario) -> Vec<Sentence> {
    let users = thousands(u64::from(scenario.workload.users));
    let arrival = match scenario.workload.arrival {
        Arrival::Ramp(ramp) if ramp.is_zero() => plain(" all arrive at the start."),
        Arrival::Ramp(ramp) => plain(format!(" arrive evenly spread over the first {ramp}.")),
        Arrival::Poisson { per_second } => plain(format!(
            " arrive at random moments, {per_second} per second on average (a Poisson process)."
        )),
    };
    let servers = &scenario.servers;
    let workers = if servers.workers == 0 {
        "each handles any number of requests at once".to_string()
    } else {
        format!(
            "each runs at most {} requests at once, and further requests wait in a queue",
            servers.workers
        )
    };
    vec![
        vec![strong(format!("{users} users")), arrival],
        vec![
            plain("Each user logs in, then clicks from page to page, thinking "),
            strong(dist(&scenario.workload.think_time)),
            plain(
                " between clicks. A user who is logged out (or whose session expired) \
                 logs in again at once.",
            ),
        ],
        vec![
            strong(format!("{} app servers", servers.count)),
            plain(format!(
                " behind the load balancer; {workers}. The app spends {} on a request, \
                 plus the time of the session store.",
                dist(&servers.service_time)
            )),
        ],
        vec![
            plain("A session expires "),
            strong(format!("{} after its last request", scenario.session.ttl)),
            plain(" (sliding expiry, the default of Tomcat and Spring Session)."),
        ],
        vec![plain(format!(
            "The run covers {} of simulated time with seed {}; the time series has one \
             point per {}.",
            scenario.duration, scenario.seed, scenario.report_interval
        ))],
    ]
}

/// One strategy: its name, its balancer and where it keeps sessions.
pub fn strategy_sentence(strategy: &Strategy) -> Sentence {
    vec![
        strong(strategy.name.clone()),
        plain(format!(
            ": balancer `{}` — {}; sessions are kept {}.",
            strategy.balancer.name,
            strategy.balancer.about,
            strategy.store.in_words()
        )),
    ]
}

/// One fault: when, what, and what comes back when.
pub fn fault_sentence(scenario: &Scenario, fault: &Fault) -> Sentence {
    let what = words::sentence(fault);
    let mut sentence = vec![strong(fault.at.to_string()), plain(format!(": {what}"))];
    if fault.at > SimTime::ZERO + scenario.duration {
        sentence.push(plain(
            " This is after the end of the run, so it does not happen.",
        ));
    }
    sentence
}

/// Outcomes of every row: the numbers of `summary.csv`, written as the
/// terminal table writes them (thousands separators, percentages).
pub fn outcomes_table(results: &[StrategyResult]) -> TextTable {
    // Indices into `SUMMARY_COLUMNS`.
    let columns = [
        (3, "requests"),
        (4, "logins"),
        (5, "forced logouts"),
        (9, "logout %"),
        (8, "users affected"),
        (6, "expired"),
        (7, "errors"),
    ];
    summary_table(results, &columns)
}

/// Latency percentiles of every row, in milliseconds as in `summary.csv`.
pub fn latency_table(results: &[StrategyResult]) -> TextTable {
    let columns = [
        (10, "p50 ms"),
        (11, "p90 ms"),
        (12, "p99 ms"),
        (13, "p99.9 ms"),
        (14, "max ms"),
        (15, "error p99 ms"),
        (16, "error max ms"),
    ];
    summary_table(results, &columns)
}

fn summary_table(results: &[StrategyResult], columns: &[(usize, &str)]) -> TextTable {
    let mut header = vec!["strategy".to_string()];
    header.extend(columns.iter().map(|(_, name)| name.to_string()));
    let rows = results
        .iter()
        .map(|result| {
            let record = summary_record(&SummaryRow::new(result));
            let mut row = vec![result.name.clone()];
            row.extend(columns.iter().map(|(i, _)| as_terminal(*i, &record[*i])));
            row
        })
        .collect();
    TextTable {
        header,
        rows,
        numeric_from: 1,
    }
}

/// A cell of `summary.csv` (column `index`) as the terminal table shows
/// it: counts with thousands separators, the logout share as a
/// percentage with two decimals, milliseconds with two.
fn as_terminal(index: usize, cell: &str) -> String {
    match index {
        3..=8 => cell.parse().map_or_else(|_| cell.to_string(), thousands),
        9 => cell
            .parse::<f64>()
            .map_or_else(|_| cell.to_string(), |pct| format!("{pct:.2}%")),
        10.. => cell
            .parse::<f64>()
            .map_or_else(|_| cell.to_string(), |ms| format!("{ms:.2}")),
        _ => cell.to_string(),
    }
}

/// Sessions each fault destroyed and users it logged out, per strategy
/// (the table's fault columns), or `None` when the scenario has no faults.
pub fn losses_table(scenario: &Scenario, results: &[StrategyResult]) -> Option<TextTable> {
    if scenario.faults.is_empty() {
        return None;
    }
    let mut header = vec!["strategy".to_string()];
    header.extend((0..scenario.faults.len()).map(|i| words::label(&scenario.faults[i])));
    let rows = results
        .iter()
        .map(|result| {
            let mut row = vec![result.name.clone()];
            row.extend((0..result.fault_losses.len()).map(|i| super::toll_cell(result, i)));
            row
        })
        .collect();
    Some(TextTable {
        header,
        rows,
        numeric_from: 1,
    })
}

/// Everything that happened at one moment, across strategies.
#[derive(Clone, Debug)]
pub struct Moment {
    pub t: SimTime,
    /// `(strategy, event, detail, sessions destroyed)` in result order.
    pub entries: Vec<(String, &'static str, String, u64)>,
}

/// Every recorded event, grouped by time, in time order (strategies in
/// result order within a moment): the same events as `events.csv`.
pub fn timeline(results: &[StrategyResult]) -> Vec<Moment> {
    let mut all: Vec<(SimTime, usize, &StrategyResult, usize)> = results
        .iter()
        .enumerate()
        .flat_map(|(i, r)| (0..r.events.len()).map(move |e| (r.events[e].t, i, r, e)))
        .collect();
    all.sort_by_key(|(t, i, _, e)| (*t, *i, *e));
    let mut moments: Vec<Moment> = Vec::new();
    for (t, _, result, e) in all {
        let event = &result.events[e];
        let entry = (
            result.name.clone(),
            event.name(),
            event.detail(),
            event.sessions_destroyed,
        );
        match moments.last_mut() {
            Some(moment) if moment.t == t => moment.entries.push(entry),
            _ => moments.push(Moment {
                t,
                entries: vec![entry],
            }),
        }
    }
    moments
}

/// What the columns of the tables mean.
pub const DEFINITIONS: [(&str, &str); 7] = [
    (
        "forced logouts",
        "page requests whose session was gone although it should still have been valid; \
         the user is sent to the login page",
    ),
    (
        "logout %",
        "forced logouts per page request (logins excluded): the chance that a click throws \
         the user out",
    ),
    ("users affected", "distinct users logged out at least once"),
    (
        "expired",
        "the session was gone because its time to live really ran out",
    ),
    (
        "errors",
        "failed requests: no server up, a server crashed mid-request, or the session store \
         did not answer",
    ),
    (
        "latency",
        "from the moment the user sent the request to the answer, queueing included, \
         for served requests; errors are timed apart (error p99, error max)",
    ),
    (
        "sessions destroyed / forced logouts",
        "per fault, the live sessions it destroyed while users still held them, and the forced \
         logouts that followed; the other users came back only after the session's time to \
         live (expired instead) or not before the end of the run",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::time::SimDuration;

    #[test]
    fn distributions_in_words() {
        let eight = SimDuration::from_secs(8);
        assert_eq!(dist(&Dist::constant(eight)), "exactly 8s");
        let mixture = Dist::mixture(vec![
            (0.98, Dist::exponential(eight)),
            (0.02, Dist::exponential(SimDuration::from_secs(45 * 60))),
        ]);
        assert_eq!(
            dist(&mixture),
            "98% of the time 8s on average (exponential); \
             2% of the time 45m on average (exponential)"
        );
    }
}
