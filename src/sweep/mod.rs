//! `lbsim sweep`: one scenario run over a grid of values, e.g. every
//! combination of `servers.count=2,4,8,16` and `workload.users=1000,10000`.
//!
//! Owns: turning `--set` flags into one valid scenario per combination
//! ("point"), running every point × strategy, writing `sweep.csv` and a
//! plot of one metric, and printing a table of the runs on stdout. Must not: check scenario values itself. Each point
//! is made by editing the file's TOML and handing the text to
//! `scenario::parse`, so a swept value obeys exactly the rules of a value
//! in a file, and every point is checked before anything runs.
//!
//! Determinism: points and strategies run as one flat parallel list (rayon)
//! and come back in list order, and each run depends only on its scenario
//! (see `sim::rng`), so the files are the same bytes whatever the number of
//! threads.

mod plot;
mod set;
mod shard;
mod table;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use toml::{Table, Value};

use crate::error::Error;
use crate::report::{self, SummaryRow};
use crate::scenario::{self, ScenarioError};
use crate::sim::config::Scenario;
use crate::sim::engine;
use plot::{Series, SweepPlot, XAxis};
use set::Setting;
use shard::{Partial, Shard};

/// The command line of `lbsim sweep`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub merge: Option<MergeCommand>,
    /// Scenario file, or the name of a bundled scenario (see `lbsim list`).
    #[arg(required = true)]
    pub file: Option<String>,
    /// A scenario key and the values to try, e.g. `servers.count=2,4,8` or
    /// `strategy[0].redis.persistence=none,aof`. Repeat for every
    /// combination (the first --set varies slowest). Values are TOML
    /// values; bare words such as `aof` or `2m` are strings.
    #[arg(long = "set", value_name = "KEY=V1,V2,...", required = true)]
    pub sets: Vec<String>,
    /// Summary column to plot against the first swept key (forced_logouts,
    /// logout_pct, p99_ms, …).
    #[arg(long, default_value = "forced_logouts")]
    pub metric: String,
    /// Folder for sweep.csv, sweep.svg and sweep.png
    /// [default: results/<scenario name>-sweep].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Run only the K-th of N deterministic slices of the runs and write
    /// `sweep-part-K-of-N.json` to the folder; `lbsim sweep merge` combines
    /// the N parts into the files an unsharded sweep writes.
    #[arg(long, value_name = "K/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
}

/// `lbsim sweep merge`.
#[derive(Debug, clap::Subcommand)]
pub enum MergeCommand {
    /// Combine the parts of a sharded sweep (`--shard K/N`) into sweep.csv,
    /// the plot and the table, the same bytes an unsharded sweep writes.
    Merge {
        /// Folders holding `sweep-part-K-of-N.json` files (or the files).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Folder for sweep.csv, sweep.svg and sweep.png
        /// [default: results/<scenario name>-sweep].
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// One combination of swept values and the valid scenario it gives.
struct Point {
    /// For each setting, the index of its value in this point.
    indexes: Vec<usize>,
    /// For each setting, its value as shown in `sweep.csv`.
    labels: Vec<String>,
    scenario: Arc<Scenario>,
}

/// Runs `lbsim sweep`.
pub fn run(args: SweepArgs) -> Result<(), Error> {
    if let Some(MergeCommand::Merge { dirs, out }) = args.merge {
        return merge(&dirs, out);
    }
    let file = args
        .file
        .expect("clap requires the file without a subcommand");
    let scenario::Loaded {
        scenario: base,
        shown,
        text,
    } = scenario::load_named(&file)?;
    let settings = settings_of(&args.sets, &args.metric)?;
    let points = points(&text, Path::new(&shown), &settings)?;
    let out = args
        .out
        .unwrap_or_else(|| Path::new("results").join(format!("{}-sweep", base.name)));
    let runs = runs_of(&points);
    if let Some(shard) = args.shard {
        let mine: Vec<usize> = (0..runs.len()).filter(|&i| shard.takes(i)).collect();
        let my_runs: Vec<(usize, usize)> = mine.iter().map(|&i| runs[i]).collect();
        let rows = run_points(&points, &my_runs, args.quiet);
        let partial = Partial {
            lbsim: env!("CARGO_PKG_VERSION").into(),
            file: shown,
            text,
            sets: args.sets,
            metric: args.metric,
            shard: shard.index,
            shards: shard.of,
            runs: runs.len(),
            rows: mine
                .into_iter()
                .zip(rows.into_iter().map(|(_, row)| row))
                .collect(),
        };
        let name = shard.file_name();
        // Several shards may share one folder of parts: each writes its file.
        report::write_each_atomically(&out, &[(name.as_str(), partial.to_bytes())])?;
        crate::say!(
            "wrote {name} to {} ({} of {} runs); `lbsim sweep merge` the {} parts",
            out.display(),
            partial.rows.len(),
            runs.len(),
            shard.of
        );
        return Ok(());
    }
    let rows = run_points(&points, &runs, args.quiet);
    write_sweep(&base.name, &settings, &points, &rows, &args.metric, &out)
}

/// `lbsim sweep merge DIR…`: the parts' rows, written as the whole sweep.
fn merge(dirs: &[PathBuf], out: Option<PathBuf>) -> Result<(), Error> {
    let (first, rows) = shard::gather(dirs)?;
    let file = Path::new(&first.file);
    let base = scenario::parse(&first.text, file)?;
    let settings = settings_of(&first.sets, &first.metric)?;
    let points = points(&first.text, file, &settings)?;
    // A run's number says its point, as in the sweep that made the parts.
    let rows: Vec<(usize, SummaryRow)> = runs_of(&points)
        .into_iter()
        .zip(rows)
        .map(|((point, _), row)| (point, row))
        .collect();
    let out = out.unwrap_or_else(|| Path::new("results").join(format!("{}-sweep", base.name)));
    write_sweep(&base.name, &settings, &points, &rows, &first.metric, &out)
}

/// The `--set` flags as settings, checked with the metric.
fn settings_of(sets: &[String], metric: &str) -> Result<Vec<Setting>, Error> {
    let settings = sets
        .iter()
        .map(|flag| Setting::parse(flag))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::Usage)?;
    for (i, setting) in settings.iter().enumerate() {
        if settings[..i].iter().any(|s| s.key == setting.key) {
            return Err(Error::Usage(format!(
                "--set {} is given twice; list all its values in one --set",
                setting.key
            )));
        }
    }
    if SummaryRow::NUMERIC_COLUMNS.iter().all(|c| *c != metric) {
        return Err(Error::Usage(format!(
            "--metric {}: not a numeric summary column; choose one of {}",
            metric,
            SummaryRow::NUMERIC_COLUMNS.join(", ")
        )));
    }
    Ok(settings)
}

/// Every run of the sweep, point × strategy, in order.
fn runs_of(points: &[Point]) -> Vec<(usize, usize)> {
    points
        .iter()
        .enumerate()
        .flat_map(|(p, point)| (0..point.scenario.strategies.len()).map(move |s| (p, s)))
        .collect()
}

/// Writes sweep.csv and the plot to `out` and prints the table.
fn write_sweep(
    name: &str,
    settings: &[Setting],
    points: &[Point],
    rows: &[(usize, SummaryRow)],
    metric: &str,
    out: &Path,
) -> Result<(), Error> {
    let keys: Vec<String> = settings.iter().map(|s| s.key.clone()).collect();
    let csv_rows: Vec<(Vec<String>, SummaryRow)> = rows
        .iter()
        .map(|(p, row)| (points[*p].labels.clone(), row.clone()))
        .collect();
    let (svg, png) = plot::render(&plot_of(name, settings, points, rows, metric));
    let files = [
        ("sweep.csv", report::csv::sweep(&keys, &csv_rows)),
        ("sweep.svg", svg),
        ("sweep.png", png),
    ];
    let table = table::render(name, &keys, &csv_rows, metric, points.len());
    report::write_atomically(out, &files)?;
    // A closed pipe (e.g. `| head`) is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(table.as_bytes());
    crate::say!(
        "wrote sweep.csv, sweep.svg, sweep.png to {} ({} runs: {} points)",
        out.display(),
        rows.len(),
        points.len()
    );
    Ok(())
}

/// Every combination of the settings' values, last setting fastest, each
/// checked by the scenario parser. The first invalid one is an error
/// naming the `--set` value to blame (or the whole combination).
fn points(text: &str, file: &Path, settings: &[Setting]) -> Result<Vec<Point>, Error> {
    // The text was just parsed as a valid scenario, so it is valid TOML.
    let base: Table = text.parse().expect("a valid scenario is valid TOML");
    let total: usize = settings.iter().map(|s| s.values.len()).product();
    let mut points = Vec::with_capacity(total);
    for n in 0..total {
        // Mixed-radix digits of n, the last setting as the lowest digit.
        let mut indexes = vec![0; settings.len()];
        let mut rest = n;
        for (k, setting) in settings.iter().enumerate().rev() {
            indexes[k] = rest % setting.values.len();
            rest /= setting.values.len();
        }
        let mut table = base.clone();
        for (setting, &i) in settings.iter().zip(&indexes) {
            setting
                .apply(&mut table, &setting.values[i])
                .map_err(Error::Usage)?;
        }
        let scenario = parse_table(&table, file)
            .map_err(|err| blame(&base, file, settings, &indexes, &err))?;
        let labels = settings
            .iter()
            .zip(&indexes)
            .map(|(s, &i)| set::label(&s.values[i]))
            .collect();
        points.push(Point {
            indexes,
            labels,
            scenario: Arc::new(scenario),
        });
    }
    Ok(points)
}

fn parse_table(table: &Table, file: &Path) -> Result<Scenario, ScenarioError> {
    let text = toml::to_string(table).expect("a TOML table serializes");
    scenario::parse(&text, file)
}

/// The error for an invalid point: the first of its values that is invalid
/// on its own, else the combination. The parser's line numbers refer to the
/// edited text, not the user's file, so only the field and message are
/// kept.
fn blame(
    base: &Table,
    file: &Path,
    settings: &[Setting],
    indexes: &[usize],
    err: &ScenarioError,
) -> Error {
    let describe = |err: &ScenarioError| {
        if err.field.is_empty() {
            err.message.clone()
        } else {
            format!("field `{}`: {}", err.field, err.message)
        }
    };
    for (setting, &i) in settings.iter().zip(indexes) {
        let value = &setting.values[i];
        let mut alone = base.clone();
        let checked = setting
            .apply(&mut alone, value)
            .map_err(|m| m.to_string())
            .and_then(|()| parse_table(&alone, file).map_err(|e| describe(&e)));
        if let Err(message) = checked {
            return Error::Usage(format!(
                "--set {}={}: {message}",
                setting.key,
                set::label(value)
            ));
        }
    }
    let combination: Vec<String> = settings
        .iter()
        .zip(indexes)
        .map(|(s, &i)| format!("--set {}={}", s.key, set::label(&s.values[i])))
        .collect();
    Error::Usage(format!(
        "{}: this combination is invalid: {}",
        combination.join(" "),
        describe(err)
    ))
}

/// Runs every point × strategy as one flat parallel list, so two cores stay
/// busy even when a point has a single strategy, and no rayon pool is
/// nested inside another. Returns (point index, summary) in list order.
fn run_points(points: &[Point], runs: &[(usize, usize)], quiet: bool) -> Vec<(usize, SummaryRow)> {
    let progress = progress_bar(runs.len() as u64, quiet);
    let rows = runs
        .par_iter()
        .map(|&(p, s)| {
            // Keep only the summary: a sweep can have many runs, and their
            // time series are not written.
            let row = SummaryRow::new(&engine::run(&points[p].scenario, s));
            progress.inc(1);
            (p, row)
        })
        .collect();
    progress.finish_and_clear();
    rows
}

/// Runs done out of the total and the time left, on stderr; hidden with
/// `--quiet` or when stderr is not a terminal (a log file should not fill
/// with redraws).
fn progress_bar(total: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("[{bar:40}] {pos}/{len} runs, {eta} left")
        .expect("a valid progress template")
        .progress_chars("=> ");
    ProgressBar::new(total).with_style(style)
}

/// The metric with its unit, for the y axis.
fn metric_title(metric: &str) -> String {
    match metric {
        "logout_pct" => "forced logouts (% of page requests)".to_string(),
        "max_ms" => "max latency (ms)".to_string(),
        m => match m.strip_suffix("_ms") {
            Some(p) => format!("{} latency (ms)", p.replace("p999", "p99.9")),
            None => m.replace('_', " "),
        },
    }
}

/// The plot of `metric` against the first swept key: one line per strategy
/// and combination of the other swept values.
fn plot_of(
    name: &str,
    settings: &[Setting],
    points: &[Point],
    rows: &[(usize, SummaryRow)],
    metric: &str,
) -> SweepPlot {
    let first = &settings[0];
    let numbers: Option<Vec<f64>> = first
        .values
        .iter()
        .map(|v| match v {
            Value::Integer(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        })
        .collect();
    let x_of = |index: usize| match &numbers {
        Some(numbers) => numbers[index],
        None => index as f64,
    };
    // Points are numbered with the first key slowest, so a point's number
    // modulo the count of combinations of the other keys says which
    // combination it has.
    let combinations = points.len() / first.values.len();
    // Colour tells strategies apart, and a dashed line the second
    // combination of the other keys; with more combinations than that,
    // every line gets its own colour.
    let by_strategy = combinations <= 2;
    let mut strategies: Vec<&str> = Vec::new();
    let mut series: Vec<Series> = Vec::new();
    // Which (strategy, combination) each series draws, in the order rows
    // first show them.
    let mut keys: Vec<(usize, usize)> = Vec::new();
    for (p, row) in rows {
        let point = &points[*p];
        let combination = p % combinations;
        let strategy = match strategies.iter().position(|s| *s == row.strategy) {
            Some(s) => s,
            None => {
                strategies.push(&row.strategy);
                strategies.len() - 1
            }
        };
        let y = row.numeric(metric).expect("the metric was checked");
        let xy = (x_of(point.indexes[0]), y);
        if let Some(i) = keys.iter().position(|k| *k == (strategy, combination)) {
            series[i].points.push(xy);
            continue;
        }
        let mut label = row.strategy.clone();
        // Keys swept over a single value are the same on every line.
        for (setting, value) in settings.iter().zip(&point.labels).skip(1) {
            if setting.values.len() > 1 {
                label.push_str(&format!(", {}={value}", setting.key));
            }
        }
        series.push(Series {
            label,
            color: if by_strategy { strategy } else { series.len() },
            dashed: by_strategy && combination == 1,
            points: vec![xy],
        });
        keys.push((strategy, combination));
    }
    let y_title = metric_title(metric);
    SweepPlot {
        title: format!("{name}: {y_title} by {}", first.key),
        x_title: first.key.clone(),
        y_is_count: !metric.ends_with("_ms") && metric != "logout_pct",
        y_is_percent: metric == "logout_pct",
        y_title,
        x_axis: match numbers {
            Some(numbers) => XAxis::Numeric(numbers),
            None => XAxis::Categorical(first.values.iter().map(set::label).collect()),
        },
        series,
    }
}
