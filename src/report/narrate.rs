//! The narrated timeline of `lbsim explain`: what happens, in simulated-time
//! order, and what it costs each strategy.
//!
//! Made for a live classroom: lines fit an 80-column terminal (longer ones
//! wrap with an indent), and colour is optional ([`Style`]): the caller
//! decides, from whether stdout is a terminal and `NO_COLOR`.

use crate::sim::config::{FaultKind, Scenario};
use crate::sim::events::{EventKind, EventRecord, StoreFaultKind};
use crate::sim::fault::words;
use crate::sim::metrics::StrategyResult;
use crate::sim::time::SimTime;
use crate::sim::toll::FaultToll;

use super::table::{count, thousands};

/// Terminal width the narration is written for.
const WIDTH: usize = 80;
/// Indent of the lines under an event.
const INDENT: &str = "          ";

/// Whether to emit ANSI colour codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    Color,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        match self {
            Style::Plain => text.to_string(),
            // SGR codes: 1 bold, 31 red, 32 green, 33 yellow, 2 dim.
            Style::Color => format!("\x1b[{code}m{text}\x1b[0m"),
        }
    }
}

/// Renders the timeline. The summary table is printed after it by the
/// caller.
pub fn render(scenario: &Scenario, results: &[StrategyResult], style: Style) -> String {
    let mut out = String::new();
    let title = format!("{}: {}", scenario.name, scenario.description);
    push_wrapped(&mut out, &style.paint("1", &title), "");
    let setup = format!(
        "{} users on {} servers for {}; sessions expire after {} without a request.",
        thousands(u64::from(scenario.workload.users)),
        scenario.servers.count,
        scenario.duration,
        scenario.session.ttl
    );
    push_wrapped(&mut out, &setup, "");
    out.push('\n');
    let start = format!(
        "{}  {} users start arriving and log in",
        SimTime::ZERO,
        thousands(u64::from(scenario.workload.users))
    );
    push_wrapped(&mut out, &style.paint("1", &start), INDENT);
    for r in results {
        let baseline = first_minute(r);
        let line = format!("{}: {}", r.name, baseline);
        push_wrapped(&mut out, &format!("{INDENT}{line}"), INDENT);
    }

    // Every event time of every strategy, in order; faults of the scenario
    // give the headline, each strategy's records the detail.
    let mut times: Vec<SimTime> = results
        .iter()
        .flat_map(|r| r.events.iter().map(|e| e.t))
        .collect();
    times.sort();
    times.dedup();
    for t in times {
        out.push('\n');
        let headline = headline(scenario, results, t);
        push_wrapped(
            &mut out,
            &style.paint("1", &format!("{t}  {headline}")),
            INDENT,
        );
        // The scenario fault that strikes now, if one does: its toll is
        // the whole story of the sessions it destroys.
        // A crash destroys all it destroys at once; a deploy's first step is
        // not the whole deploy, so its toll is left to the table.
        let fault = scenario.faults.iter().position(|f| {
            f.at == t
                && matches!(
                    f.kind,
                    FaultKind::ServerCrash { .. } | FaultKind::RedisRestart { .. }
                )
        });
        for r in results {
            for e in r.events.iter().filter(|e| e.t == t) {
                let toll = fault.map(|i| r.fault_tolls[i]);
                let line = format!(
                    "{}: {}",
                    r.name,
                    consequence(e, r, toll, next_fault_after(scenario, t), style)
                );
                push_wrapped(&mut out, &format!("{INDENT}{line}"), INDENT);
            }
        }
    }
    out.push('\n');
    push_wrapped(
        &mut out,
        &style.paint(
            "1",
            &format!("{}  end of the run", SimTime::ZERO + scenario.duration),
        ),
        INDENT,
    );
    out.push('\n');
    out
}

/// What happened at `t`, in words, from the scenario's fault or the events.
fn headline(scenario: &Scenario, results: &[StrategyResult], t: SimTime) -> String {
    if let Some(fault) = scenario.faults.iter().find(|f| f.at == t) {
        return words::headline(fault);
    }
    let kinds: Vec<&EventKind> = results
        .iter()
        .flat_map(|r| r.events.iter())
        .filter(|e| e.t == t)
        .map(|e| &e.kind)
        .collect();
    let any = |wanted: fn(&EventKind) -> bool| kinds.iter().any(|k| wanted(k));
    if any(|k| matches!(k, EventKind::ServerRetired { .. })) {
        "the replaced servers leave the farm, with their memory".into()
    } else if any(|k| matches!(k, EventKind::ServerRecovered { .. })) {
        "the crashed server is back, with empty memory".into()
    } else if any(|k| matches!(k, EventKind::Promoted { .. })) {
        "a Redis replica is promoted (by Sentinel, or by the cluster itself)".into()
    } else if any(|k| matches!(k, EventKind::StoreStarted { .. })) {
        "Redis starts again and loads what it kept".into()
    } else {
        kinds
            .first()
            .map_or("event", |k| k.name())
            .replace('_', " ")
    }
}

/// The cost of one event for one strategy, with what followed until the next
/// fault.
fn consequence(
    e: &EventRecord,
    r: &StrategyResult,
    toll: Option<FaultToll>,
    until: SimTime,
    style: Style,
) -> String {
    match &e.kind {
        EventKind::ServerCrashed { .. }
        | EventKind::ServerWasDown { .. }
        | EventKind::StoreStopped { .. }
        | EventKind::PrimaryLost { .. }
        | EventKind::ServerRetired { .. }
        | EventKind::Promoted { .. } => {
            let after = counts_between(r, e, until);
            let lost = if e.sessions_destroyed == 0 {
                style.paint("32", "no session destroyed")
            } else {
                style.paint(
                    "31",
                    &match toll {
                        // What became of them (faults.csv has the same).
                        Some(toll) => format!(
                            "{} destroyed, then {} of their users ({} expired instead)",
                            count(e.sessions_destroyed, "session"),
                            count(toll.logged_out, "forced logout"),
                            thousands(toll.expired_instead)
                        ),
                        None => format!("{} destroyed", count(e.sessions_destroyed, "session")),
                    },
                )
            };
            format!(
                "{lost}; everyone until {until}: {}, {}",
                count(after.0, "forced logout"),
                count(after.1, "error")
            )
        }
        EventKind::NoStoreServer {
            fault: StoreFaultKind::Restart(_),
        } => style.paint("2", "not affected (sessions are not in Redis)"),
        EventKind::StoreWasDown { .. } => style.paint("2", "redis was already down"),
        EventKind::StoreLinkCut { .. }
        | EventKind::NoStoreServer {
            fault: StoreFaultKind::Partition,
        } => {
            let after = counts_between(r, e, until);
            format!(
                "{}; until {until}: {}, {}",
                e.detail(),
                count(after.0, "forced logout"),
                count(after.1, "error")
            )
        }
        EventKind::ServerRecovered { .. } => "server back in rotation".into(),
        EventKind::StoreStarted { ready } if ready.since(e.t).as_nanos() >= 1_000_000 => {
            format!("answers LOADING until {ready}")
        }
        EventKind::StoreStarted { .. } => "answering again".into(),
        _ => e.detail(),
    }
}

/// Forced logouts and errors from event `from` until `to` (the next
/// fault, or the end), exactly: the run's counts as they stood when `from`
/// was recorded and at the first event at or after `to` (or the totals at
/// the end), whatever the report interval.
fn counts_between(r: &StrategyResult, from: &EventRecord, to: SimTime) -> (u64, u64) {
    let at_end = (r.totals.forced_logouts, r.totals.errors);
    let then = r
        .events
        .iter()
        .find(|e| e.t >= to && e.t > from.t)
        .map_or(at_end, |e| e.so_far);
    (
        then.0.saturating_sub(from.so_far.0),
        then.1.saturating_sub(from.so_far.1),
    )
}

/// The next fault after `t`, or the end of the run.
fn next_fault_after(scenario: &Scenario, t: SimTime) -> SimTime {
    let end = SimTime::ZERO + scenario.duration;
    scenario
        .faults
        .iter()
        .map(|f| f.at)
        .filter(|&at| at > t && at < end)
        .min()
        .unwrap_or(end)
}

/// What a strategy does to users before any fault: the forced logouts of
/// the first minute, which for round-robin with local sessions are the
/// problem itself.
fn first_minute(r: &StrategyResult) -> String {
    let minute = SimTime::ZERO + crate::sim::time::SimDuration::from_secs(60);
    // From the time series: the rows that end within the first minute.
    let forced: u64 = r
        .timeseries
        .iter()
        .filter(|row| row.t <= minute)
        .map(|row| row.counts.forced_logouts)
        .sum();
    let requests: u64 = r
        .timeseries
        .iter()
        .filter(|row| row.t <= minute)
        .map(|row| row.counts.requests)
        .sum();
    if forced == 0 {
        format!(
            "{} requests in the first minute, nobody logged out",
            thousands(requests)
        )
    } else {
        format!(
            "{} requests in the first minute and already {} forced logouts",
            thousands(requests),
            thousands(forced)
        )
    }
}

/// Appends `text` wrapped at [`WIDTH`] columns (escape codes do not count),
/// continuation lines starting with `indent`.
fn push_wrapped(out: &mut String, text: &str, indent: &str) {
    let mut column = 0;
    let mut first = true;
    for word in text.split(' ') {
        let visible = visible_len(word);
        if !first && column + 1 + visible > WIDTH {
            out.push('\n');
            out.push_str(indent);
            column = indent.len();
        } else if !first {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += visible;
        first = false;
    }
    out.push('\n');
}

/// Characters a terminal shows, without ANSI escape sequences.
fn visible_len(text: &str) -> usize {
    let mut len = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => len += 1,
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_80_columns_ignoring_colour_codes() {
        let mut out = String::new();
        let long = "word ".repeat(30);
        push_wrapped(&mut out, &Style::Color.paint("31", long.trim()), "  ");
        for line in out.lines() {
            assert!(visible_len(line) <= WIDTH, "{line:?}");
        }
        assert!(out.lines().count() >= 2);
    }
}
