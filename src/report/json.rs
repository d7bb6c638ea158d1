//! `--format json`: the scenario's faults, then per strategy the summary
//! row and what each fault cost it, for scripts. The schema is in the
//! README ("Output files"); field names are `summary.csv`'s and
//! `faults.csv`'s, durations and times are in seconds.

use serde::Serialize;

use super::{SummaryRow, fault_label};
use crate::sim::config::Scenario;
use crate::sim::fault::kind::{FaultKind, ServerChoice};
use crate::sim::metrics::StrategyResult;
use crate::sim::time::SimDuration;
use crate::sim::toll::FaultToll;

#[derive(Serialize)]
struct JsonReport<'a> {
    scenario: &'a str,
    seed: u64,
    faults: Vec<JsonFaultSpec>,
    strategies: Vec<JsonStrategy>,
}

/// A fault of the scenario: what the file says, in seconds.
#[derive(Serialize)]
struct JsonFaultSpec {
    /// 1-based, in file order (as `faults.csv`'s `fault`).
    fault: usize,
    kind: &'static str,
    at_s: f64,
    label: String,
    parameters: serde_json::Map<String, serde_json::Value>,
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
    /// 1-based, as in the top-level `faults`.
    fault: usize,
    label: String,
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
                    fault: i + 1,
                    label: fault_label(scenario, i),
                    sessions_destroyed: *lost,
                    toll: r.fault_tolls[i],
                })
                .collect(),
        })
        .collect();
    let faults = scenario
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| JsonFaultSpec {
            fault: i + 1,
            kind: f.kind.name(),
            at_s: f.at.as_secs_f64(),
            label: fault_label(scenario, i),
            parameters: parameters(&f.kind),
        })
        .collect();
    let report = JsonReport {
        scenario: &scenario.name,
        seed: scenario.seed,
        faults,
        strategies,
    };
    let mut text = serde_json::to_string_pretty(&report).expect("plain data serializes");
    text.push('\n');
    text
}

/// A fault's parameters by their scenario-file names; durations in
/// seconds, a randomly chosen server as `"random"`.
fn parameters(kind: &FaultKind) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::{Value, json};
    let secs = |d: SimDuration| json!(d.as_secs_f64());
    let optional = |d: Option<SimDuration>| d.map_or(Value::Null, secs);
    let pairs: Vec<(&str, Value)> = match *kind {
        FaultKind::ServerCrash {
            server,
            recover_after,
            host,
        } => vec![
            (
                "server",
                match server {
                    ServerChoice::Index(i) => json!(i),
                    ServerChoice::Random => json!("random"),
                },
            ),
            ("recover_after", secs(recover_after)),
            ("mode", json!(if host { "host" } else { "process" })),
        ],
        FaultKind::RedisRestart {
            mode,
            downtime,
            shard,
        } => vec![
            ("mode", json!(mode.name())),
            ("downtime", secs(downtime)),
            ("shard", json!(shard)),
        ],
        FaultKind::RedisPartition { duration } => vec![("duration", secs(duration))],
        FaultKind::RedisSlow { duration, latency } => {
            vec![("duration", secs(duration)), ("latency", secs(latency))]
        }
        FaultKind::RollingDeploy { pause, drain } => {
            vec![("pause", secs(pause)), ("drain", optional(drain))]
        }
        FaultKind::BlueGreen { grace } => vec![("grace", secs(grace))],
        FaultKind::RandomCrashes { mtbf, mttr, until } => vec![
            ("mtbf", secs(mtbf)),
            ("mttr", secs(mttr)),
            ("until", json!(until.as_secs_f64())),
        ],
        FaultKind::ScaleOut { add } => vec![("add", json!(add))],
        FaultKind::ScaleIn { remove, drain } => {
            vec![("remove", json!(remove)), ("drain", optional(drain))]
        }
    };
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}
