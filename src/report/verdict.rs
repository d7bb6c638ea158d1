//! The verdict table: the ✅/❌ comparison people quote, with the measured
//! number behind every mark.
//!
//! Rows (each passes when its number is at most the scenario's threshold,
//! `[verdict]` in the file, defaults in `VerdictRules::default`):
//! - **Works**: forced logouts before the first fault. Round-robin with
//!   in-memory sessions fails here, with no fault at all.
//! - **Fault tolerant**: sessions destroyed to app-server crashes
//!   (`server_crash`, `random_crashes`).
//! - **Survives Redis restart**: sessions destroyed to `redis_restart` faults
//!   (strategies without Redis: not measured).
//! - **Scalable**: after each `scale_out`, the busiest server's requests
//!   over the mean of the servers then in the farm (sticky pinning leaves
//!   new servers idle), and forced logouts in that window (hashing that
//!   remaps users).
//! - **Cloud ready**: sessions destroyed to `rolling_deploy`, `blue_green` and
//!   `scale_in`.
//! - **Available during faults**: the most seconds with failed requests
//!   in any one fault's window (from the fault to the next one,
//!   `sim::toll`). A central Redis that restarts fails here even when it
//!   keeps every session.
//! - **Recommended**: passes every row that was measured.
//!
//! A row without the faults it needs is "not measured" (—), never a pass.

use std::fmt::Write as _;

use ::csv::Writer;

use super::table::{count, thousands};
use crate::sim::config::{FaultKind, Scenario, VerdictRules};
use crate::sim::metrics::StrategyResult;
use crate::sim::store::StoreConfig;
use crate::sim::time::SimTime;

/// A mark of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Pass,
    Fail,
    NotMeasured,
}

impl Mark {
    pub(super) fn symbol(self) -> &'static str {
        match self {
            Mark::Pass => "✅",
            Mark::Fail => "❌",
            Mark::NotMeasured => "—",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mark::Pass => "pass",
            Mark::Fail => "fail",
            Mark::NotMeasured => "not_measured",
        }
    }

    /// The mark in a word, beside the symbol: a terminal or a browser
    /// without an emoji font draws ✅ and ❌ as the same box.
    pub(super) fn word(self) -> &'static str {
        match self {
            Mark::Pass => "pass",
            Mark::Fail => "fail",
            Mark::NotMeasured => "not measured",
        }
    }
}

/// One cell: the mark, the number it rests on, and that number in words.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub mark: Mark,
    pub value: Option<f64>,
    pub text: String,
}

impl Cell {
    fn measured(pass: bool, value: f64, text: String) -> Self {
        Cell {
            mark: if pass { Mark::Pass } else { Mark::Fail },
            value: Some(value),
            text,
        }
    }

    fn not_measured(text: &str) -> Self {
        Cell {
            mark: Mark::NotMeasured,
            value: None,
            text: text.to_string(),
        }
    }
}

/// The table: one row per quality, one cell per strategy (result row).
#[derive(Clone, Debug)]
pub struct Verdict {
    pub strategies: Vec<String>,
    pub rows: Vec<(&'static str, Vec<Cell>)>,
}

/// Measures every row for every result.
pub fn compute(scenario: &Scenario, results: &[StrategyResult]) -> Verdict {
    let rules = scenario.verdict.unwrap_or_default();
    let mut rows: Vec<(&'static str, Vec<Cell>)> = vec![
        (
            "Works",
            results.iter().map(|r| works(scenario, r, &rules)).collect(),
        ),
        (
            "Fault tolerant",
            results
                .iter()
                .map(|r| fault_tolerant(scenario, r, &rules))
                .collect(),
        ),
        (
            "Survives Redis restart",
            results
                .iter()
                .map(|r| survives_redis(scenario, r, &rules))
                .collect(),
        ),
        (
            "Scalable",
            results
                .iter()
                .map(|r| scalable(scenario, r, &rules))
                .collect(),
        ),
        (
            "Cloud ready",
            results
                .iter()
                .map(|r| cloud_ready(scenario, r, &rules))
                .collect(),
        ),
        (
            "Available during faults",
            results
                .iter()
                .map(|r| available(scenario, r, &rules))
                .collect(),
        ),
    ];
    let recommended = (0..results.len())
        .map(|i| {
            let failed: Vec<&str> = rows
                .iter()
                .filter(|(_, cells)| cells[i].mark == Mark::Fail)
                .map(|(name, _)| *name)
                .collect();
            let measured = rows
                .iter()
                .filter(|(_, cells)| cells[i].mark != Mark::NotMeasured)
                .count();
            if measured == 0 {
                Cell::not_measured("nothing measured")
            } else if failed.is_empty() {
                Cell::measured(true, 0.0, "every measured row passes".into())
            } else {
                Cell::measured(
                    false,
                    failed.len() as f64,
                    format!("{} failed", failed.join(", ")),
                )
            }
        })
        .collect();
    rows.push(("Recommended", recommended));
    Verdict {
        strategies: results.iter().map(|r| r.name.clone()).collect(),
        rows,
    }
}

/// Sessions destroyed by the faults `select` picks, the users they
/// logged out, and how many such faults happened.
fn lost_to(
    scenario: &Scenario,
    r: &StrategyResult,
    select: impl Fn(&FaultKind) -> bool,
) -> (u64, u64, usize) {
    let mut sum = (0, 0, 0);
    for (i, fault) in scenario.faults.iter().enumerate() {
        let Some(destroyed) = r.fault_losses[i] else {
            continue;
        };
        if select(&fault.kind) {
            sum.0 += destroyed;
            sum.1 += r.fault_tolls[i].logged_out;
            sum.2 += 1;
        }
    }
    sum
}

fn works(scenario: &Scenario, r: &StrategyResult, rules: &VerdictRules) -> Cell {
    let first_fault = scenario
        .faults
        .iter()
        .map(|f| f.at)
        .min()
        .unwrap_or(SimTime::ZERO + scenario.duration);
    let forced: u64 = r
        .timeseries
        .iter()
        .filter(|row| row.t <= first_fault)
        .map(|row| row.counts.forced_logouts)
        .sum();
    let text = if forced == 0 {
        "no forced logout before any fault".to_string()
    } else {
        format!("{} before any fault", count(forced, "forced logout"))
    };
    Cell::measured(
        forced <= rules.max_logouts_without_faults,
        forced as f64,
        text,
    )
}

/// A row measured as sessions destroyed by the faults `select` picks,
/// passing at no more than `max_per_fault` for each such fault that
/// happened.
fn losses_row(
    scenario: &Scenario,
    r: &StrategyResult,
    select: impl Fn(&FaultKind) -> bool,
    max_per_fault: u64,
    (none, fault_word): (&str, &str),
) -> Cell {
    let (destroyed, logged_out, n) = lost_to(scenario, r, select);
    if n == 0 {
        return Cell::not_measured(none);
    }
    let text = format!(
        "{} destroyed by {} ({} followed)",
        count(destroyed, "session"),
        count(n as u64, fault_word),
        count(logged_out, "forced logout")
    );
    Cell::measured(
        destroyed <= max_per_fault * n as u64,
        destroyed as f64,
        text,
    )
}

fn fault_tolerant(scenario: &Scenario, r: &StrategyResult, rules: &VerdictRules) -> Cell {
    let crashes = |k: &FaultKind| {
        matches!(
            k,
            FaultKind::ServerCrash { .. } | FaultKind::RandomCrashes { .. }
        )
    };
    let words = ("no server crash", "server crash fault");
    losses_row(scenario, r, crashes, rules.max_lost_per_server_crash, words)
}

fn survives_redis(scenario: &Scenario, r: &StrategyResult, rules: &VerdictRules) -> Cell {
    let uses_redis = scenario.strategies.iter().any(|s| {
        (s.name == r.name || format!("{} [live]", s.name) == r.name)
            && matches!(s.store, StoreConfig::Redis(_))
    });
    if !uses_redis {
        return Cell::not_measured("no Redis");
    }
    let restarts = |k: &FaultKind| matches!(k, FaultKind::RedisRestart { .. });
    let words = ("no Redis restart", "restart");
    losses_row(
        scenario,
        r,
        restarts,
        rules.max_lost_per_redis_restart,
        words,
    )
}

fn scalable(scenario: &Scenario, r: &StrategyResult, rules: &VerdictRules) -> Cell {
    let end = SimTime::ZERO + scenario.duration;
    let mut servers = scenario.servers.count as usize;
    let mut worst: Option<(f64, u64)> = None;
    for (i, fault) in scenario.faults.iter().enumerate() {
        let FaultKind::ScaleOut { add } = fault.kind else {
            continue;
        };
        if fault.at >= end {
            continue;
        }
        servers += add as usize;
        let until = scenario
            .faults
            .iter()
            .map(|f| f.at)
            .filter(|&t| t > fault.at)
            .min()
            .unwrap_or(end);
        // Skip the interval the scale-out happened in: it mixes before and after.
        let window: Vec<_> = r
            .timeseries
            .iter()
            .filter(|row| row.t > fault.at + scenario.report_interval && row.t <= until)
            .collect();
        let mut load = vec![0u64; servers];
        for row in &window {
            for (s, n) in row.server_requests.iter().enumerate().take(servers) {
                load[s] += n;
            }
        }
        let total: u64 = load.iter().sum();
        if total == 0 {
            continue;
        }
        let imbalance = *load.iter().max().unwrap_or(&0) as f64 / (total as f64 / servers as f64);
        let forced: u64 = window
            .iter()
            .map(|row| row.counts.forced_logouts)
            .sum::<u64>()
            + r.fault_losses.get(i).copied().flatten().unwrap_or(0);
        if worst.is_none_or(|(w, _)| imbalance > w) {
            worst = Some((imbalance, forced));
        }
    }
    match worst {
        None => Cell::not_measured("no scale-out"),
        Some((imbalance, forced)) => {
            let mut text = format!("busiest server {imbalance:.2}x the mean after scale-out");
            if forced > 0 {
                let _ = write!(text, "; {} after it", count(forced, "forced logout"));
            }
            let pass = imbalance <= rules.max_imbalance && forced <= rules.max_lost_per_deploy;
            Cell::measured(pass, imbalance, text)
        }
    }
}

fn cloud_ready(scenario: &Scenario, r: &StrategyResult, rules: &VerdictRules) -> Cell {
    let deploys = |k: &FaultKind| {
        matches!(
            k,
            FaultKind::RollingDeploy { .. }
                | FaultKind::BlueGreen { .. }
                | FaultKind::ScaleIn { .. }
        )
    };
    // Sessions, not users: a user re-pinned to a server that is replaced
    // later loses a session twice.
    let words = ("no deploy or scale-in", "deploy or scale-in");
    losses_row(scenario, r, deploys, rules.max_lost_per_deploy, words)
}

/// The worst fault's seconds with errors (from the fault until the next
/// one), passing at no more than the threshold.
fn available(scenario: &Scenario, r: &StrategyResult, rules: &VerdictRules) -> Cell {
    let worst = (0..scenario.faults.len())
        .filter(|&i| r.fault_losses[i].is_some())
        .map(|i| (r.fault_tolls[i].error_seconds, r.fault_tolls[i].errors, i))
        .max_by_key(|&(seconds, errors, i)| (seconds, errors, std::cmp::Reverse(i)));
    let Some((seconds, errors, i)) = worst else {
        return Cell::not_measured("no fault");
    };
    let text = if errors == 0 {
        "no error after any fault".to_string()
    } else {
        format!(
            "worst: {} with errors ({}) after {}",
            count(seconds, "second"),
            count(errors, "error"),
            super::fault_label(scenario, i)
        )
    };
    Cell::measured(
        seconds <= rules.max_error_seconds_per_fault,
        seconds as f64,
        text,
    )
}

/// The table as rows of text, for the reports.
pub fn as_text_table(verdict: &Verdict) -> super::prose::TextTable {
    let mut header = vec!["verdict".to_string()];
    header.extend(verdict.strategies.iter().cloned());
    let rows = verdict
        .rows
        .iter()
        .map(|(name, cells)| {
            let mut row = vec![name.to_string()];
            row.extend(
                cells
                    .iter()
                    .map(|c| format!("{} {}: {}", c.mark.symbol(), c.mark.word(), c.text)),
            );
            row
        })
        .collect();
    super::prose::TextTable {
        header,
        rows,
        numeric_from: usize::MAX,
    }
}

/// The rule of each row in one paragraph, for the reports.
pub fn rules_text(scenario: &Scenario) -> String {
    let rules = scenario.verdict.unwrap_or_default();
    format!(
        "A row passes when its number is at most its threshold: forced logouts before any fault \
         ≤ {}; sessions destroyed per server crash ≤ {}, per Redis restart ≤ {}, per deploy or \
         scale-in ≤ {}; after a scale-out, the busiest server ≤ {:.2}x the mean and forced \
         logouts ≤ {}; seconds with errors after any one fault ≤ {}. Recommended: passes every \
         measured row. — means the scenario has no \
         fault to measure that row.",
        thousands(rules.max_logouts_without_faults),
        thousands(rules.max_lost_per_server_crash),
        thousands(rules.max_lost_per_redis_restart),
        thousands(rules.max_lost_per_deploy),
        rules.max_imbalance,
        thousands(rules.max_lost_per_deploy),
        thousands(rules.max_error_seconds_per_fault),
    )
}

/// The table for the terminal.
pub fn render_table(verdict: &Verdict) -> String {
    let text = as_text_table(verdict);
    let mut table = super::table::full_width_table();
    table.set_header(text.header).add_rows(text.rows);
    format!("{table}\n")
}

/// `verdict.csv`: `row,strategy,mark,value,detail`.
pub fn render_csv(verdict: &Verdict) -> Vec<u8> {
    let mut w = Writer::from_writer(Vec::new());
    w.write_record(["row", "strategy", "mark", "value", "detail"])
        .expect("in-memory");
    for (name, cells) in &verdict.rows {
        for (strategy, cell) in verdict.strategies.iter().zip(cells) {
            let value = cell.value.map(|v| format!("{v:.3}")).unwrap_or_default();
            w.write_record([*name, strategy, cell.mark.name(), &value, &cell.text])
                .expect("in-memory");
        }
    }
    w.into_inner().expect("in-memory CSV writer")
}
