//! The command line: clap derive types and the commands they run.
//!
//! Flags only become values here (overrides, paths, formats); the work is
//! done by `scenario`, `runner` and `report`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::error::Error;
use crate::help;
use crate::live::{self, LiveOptions};
use crate::progress::RunProgress;
use crate::report;
use crate::report::meta::RowOrigin;
use crate::report::narrate::Style;
use crate::report::run::StdoutFormat;
use crate::report::table::count;
use crate::runner::{self, Overrides};
use crate::scenario::{self, Loaded, bundled};
use crate::sim::config::Scenario;
use crate::sim::metrics::StrategyResult;
use crate::sim::time::SimDuration;

/// What happens to logged-in users when traffic is spread over several app
/// servers: round-robin, sticky sessions and Redis session stores compared
/// under crashes and restarts, in a deterministic simulation.
#[derive(Debug, Parser)]
#[command(name = "lbsim", version, about, after_help = help::TOP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: print the comparison table and write CSV files.
    #[command(after_help = help::RUN)]
    Run(RunArgs),
    /// Check a scenario file without running it.
    #[command(after_help = help::VALIDATE)]
    Validate {
        /// Scenario file, or the name of a bundled scenario.
        file: String,
    },
    /// List the bundled scenarios and what each one teaches.
    List,
    /// Print a bundled scenario's TOML, comments and all, to read or copy.
    #[command(after_help = help::SHOW)]
    Show {
        /// Name of a bundled scenario (see `lbsim list`).
        name: String,
    },
    /// Write a bundled scenario to a new file, to edit into your own.
    #[command(after_help = help::INIT)]
    Init(crate::init::InitArgs),
    /// Replay a scenario and narrate, in simulated-time order, what happens
    /// and what it costs each strategy; then print the summary table.
    #[command(after_help = help::EXPLAIN)]
    Explain(ExplainArgs),
    /// Run a scenario for every combination of values of some keys; print a
    /// table of the runs and write sweep.csv and a plot of one metric.
    #[command(after_help = help::SWEEP)]
    Sweep(crate::sweep::SweepArgs),
    /// Compare two results folders: every number of summary.csv (and
    /// faults.csv) that differs, per strategy, with B − A and the change.
    #[command(after_help = help::COMPARE)]
    Compare(crate::compare::CompareArgs),
    /// Print a shell completion script, generated from the commands.
    #[command(after_help = help::COMPLETIONS)]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// One strategy on the real stack (HAProxy, app servers, Redis) with
    /// no load, for a class to click: prints the application's address,
    /// HAProxy's statistics page and a control page for the teacher.
    #[command(after_help = help::DEMO)]
    Demo(crate::demo::DemoArgs),
    /// One app server of the real stack (started by `run --stack` and
    /// `demo`; not for direct use).
    #[command(hide = true)]
    AppServer(crate::app_server::AppServerArgs),
    /// Print the manual page (roff), or write one page per command.
    #[command(after_help = help::MAN)]
    Man {
        /// Write lbsim.1 and one page per command (lbsim-run.1, ...) into
        /// this folder instead of printing lbsim.1.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// Scenario file, or the name of a bundled scenario.
    pub file: String,
    /// Seed for every random stream, instead of the file's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of users, instead of the file's.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(scenario::MAX_USERS)))]
    pub users: Option<u32>,
    /// Simulated duration, instead of the file's.
    #[arg(long, value_parser = parse_positive_duration)]
    pub duration: Option<SimDuration>,
    /// No progress bars on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file, or the name of a bundled scenario (see `lbsim list`).
    pub file: String,
    /// Folder for the result files [default: results/<scenario name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed for every random stream, instead of the file's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of users, instead of the file's.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(scenario::MAX_USERS)))]
    pub users: Option<u32>,
    /// Simulated duration, instead of the file's (e.g. 10m, 2h).
    #[arg(long, value_parser = parse_positive_duration)]
    pub duration: Option<SimDuration>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also run the Redis strategies against real redis-server processes
    /// (started, killed and restarted by lbsim), side by side with the
    /// simulation.
    #[arg(long)]
    pub live: bool,
    /// Also run every strategy that real software can express on a real
    /// stack: HAProxy (nginx for ip_hash) in front of real app-server
    /// processes, sessions in their memory or in a real redis-server, users
    /// as HTTP clients.
    #[arg(long)]
    pub stack: bool,
    /// haproxy binary for --stack [default: the first on PATH, or /usr/sbin].
    #[arg(long, requires = "stack")]
    pub haproxy: Option<PathBuf>,
    /// nginx binary for --stack's ip_hash strategies [default: the first on
    /// PATH, or /usr/sbin].
    #[arg(long, requires = "stack")]
    pub nginx: Option<PathBuf>,
    /// redis-server binary for --live and --stack [default: the first on PATH].
    #[arg(long)]
    pub redis_server: Option<PathBuf>,
    /// Use this existing Redis for --live instead of starting one; lbsim
    /// writes only under its own key prefix and deletes only its own keys.
    #[arg(long, requires = "live", conflicts_with = "redis_server")]
    pub redis_url: Option<String>,
    /// Scenario seconds per wall second for --live and --stack, instead of
    /// the file's `time_scale` (60 = one simulated hour per minute).
    #[arg(long, value_parser = parse_time_scale)]
    pub time_scale: Option<f64>,
    /// No progress bars on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not draw the plots (SVG and PNG); the reports then have no images.
    #[arg(long)]
    pub no_plots: bool,
    /// The full table with every column, however wide the terminal.
    #[arg(long)]
    pub wide: bool,
}

/// Output format for stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The comparison table with a legend.
    Table,
    /// The contents of summary.csv.
    Csv,
    /// Summary rows and per-fault losses as JSON.
    Json,
}

fn parse_positive_duration(text: &str) -> Result<SimDuration, String> {
    let d = scenario::parse_duration(text)?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    if d > scenario::MAX_DURATION {
        return Err("is too long: durations are at most 36500d (100 years)".into());
    }
    Ok(d)
}

fn parse_time_scale(text: &str) -> Result<f64, String> {
    let scale: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    scenario::check_time_scale(scale)
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run(args) => run_scenario(args),
        Command::Explain(args) => explain(args),
        Command::Sweep(args) => crate::sweep::run(args),
        Command::Compare(args) => crate::compare::run(args),
        Command::Demo(args) => crate::demo::run(args),
        Command::AppServer(args) => crate::app_server::run(args).map_err(Error::Usage),
        Command::Show { name } => crate::init::show(&name),
        Command::Init(args) => crate::init::init(args),
        Command::Completions { shell } => {
            let script = crate::completions::script(shell, Cli::command());
            let _ = std::io::stdout().lock().write_all(&script);
            Ok(())
        }
        Command::Man { out: None } => {
            let page = crate::man::page(Cli::command());
            let _ = std::io::stdout().lock().write_all(&page);
            Ok(())
        }
        Command::Man { out: Some(dir) } => {
            let pages = crate::man::pages(Cli::command());
            report::write_each_atomically(&dir, &pages)?;
            let names: Vec<&str> = pages.iter().map(|(name, _)| name.as_str()).collect();
            crate::say!("wrote {} to {}", names.join(", "), dir.display());
            Ok(())
        }
        Command::Validate { file } => {
            let Loaded {
                scenario, shown, ..
            } = scenario::load_named(&file)?;
            println!(
                "ok: {shown}: `{}`, {}, {}, {}, {}, {}",
                scenario.name,
                count(u64::from(scenario.workload.users), "user"),
                count(u64::from(scenario.servers.count), "server"),
                count(scenario.strategies.len() as u64, "strategy"),
                count(scenario.faults.len() as u64, "fault"),
                scenario.duration
            );
            Ok(())
        }
        Command::List => {
            for b in bundled::BUNDLED {
                let description = scenario::parse(b.text, Path::new(b.file))
                    .map(|s| s.description)
                    .unwrap_or_else(|err| format!("(invalid: {err})"));
                println!("{:<24} {description}", b.file.trim_end_matches(".toml"));
            }
            println!("\nrun one with: lbsim run scenarios/<name>.toml (or just the name)");
            Ok(())
        }
    }
}

fn run_scenario(args: RunArgs) -> Result<(), Error> {
    let overrides = Overrides {
        seed: args.seed,
        users: args.users,
        duration: args.duration,
    };
    let loaded = load_with(&args.file, overrides)?;
    let scenario = &loaded.scenario;
    let out = args
        .out
        .unwrap_or_else(|| Path::new("results").join(&scenario.name));

    let simulated = simulate(scenario, args.quiet);
    let (results, origins, notes) = if args.live {
        let options = LiveOptions {
            redis_server: args.redis_server.clone(),
            redis_url: args.redis_url,
            time_scale: args.time_scale,
            quiet: args.quiet,
        };
        let live = live::run(scenario, &options)?;
        live.merge(scenario, simulated)
    } else {
        let origins = RowOrigin::simulated(&simulated);
        (simulated, origins, Vec::new())
    };
    let mut extra_files = Vec::new();
    let (results, origins, notes) = if args.stack {
        let options = crate::stack::StackOptions {
            haproxy: args.haproxy,
            nginx: args.nginx,
            redis_server: args.redis_server,
            time_scale: args.time_scale,
            quiet: args.quiet,
        };
        let mut stack = crate::stack::run(scenario, &options)?;
        extra_files = std::mem::take(&mut stack.files);
        stack.merge(scenario, results, origins, notes)
    } else {
        (results, origins, notes)
    };
    let run = report::run::Run {
        scenario,
        shown: &loaded.shown,
        text: &loaded.text,
        results: &results,
        origins: &origins,
        notes: &notes,
        plots: !args.no_plots,
    };
    // Render everything before writing anything, then write atomically.
    let mut files = report::run::files(&run);
    files.extend(extra_files);
    let format = match args.format {
        Format::Table => StdoutFormat::Table,
        Format::Csv => StdoutFormat::Csv,
        Format::Json => StdoutFormat::Json,
    };
    let width = if args.wide { None } else { terminal_width() };
    let stdout_text = report::run::stdout(&run, format, width);
    report::write_atomically(&out, &files)?;
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (e.g. `| head`) is not an error worth reporting.
    let _ = stdout.write_all(stdout_text.as_bytes());
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    crate::say!("wrote {} to {}", names.join(", "), out.display());
    Ok(())
}

/// Runs every strategy simulated, with progress bars for long runs.
fn simulate(scenario: &Scenario, quiet: bool) -> Vec<StrategyResult> {
    let progress = RunProgress::new(scenario, quiet);
    let results = runner::run_with_progress(scenario, &|i, t| progress.update(i, t));
    progress.finish();
    results
}

fn explain(args: ExplainArgs) -> Result<(), Error> {
    let overrides = Overrides {
        seed: args.seed,
        users: args.users,
        duration: args.duration,
    };
    let scenario = load_with(&args.file, overrides)?.scenario;
    let results = simulate(&scenario, args.quiet);
    let style = if colour_wanted() {
        Style::Color
    } else {
        Style::Plain
    };
    let mut text = report::narrate::render(&scenario, &results, style);
    text.push('\n');
    text.push_str(&report::fit::outcomes(&results, 80));
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}

/// Colour only for a terminal, and never when `NO_COLOR` is set
/// (<https://no-color.org>) or the terminal is `dumb`.
fn colour_wanted() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    std::io::stdout().is_terminal() && !no_color && !dumb
}

/// The width the table must fit: `COLUMNS` if set, else the terminal's
/// when stdout is one; `None` (the full, stable layout) when piped.
fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if let Some(columns) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c >= 20)
    {
        return Some(columns);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    comfy_table::Table::new().width().map(usize::from)
}

/// Loads a scenario and applies the command line's overrides, checking
/// that a longer `--duration` still gives a sensible time series.
fn load_with(file: &str, overrides: Overrides) -> Result<Loaded, Error> {
    let mut loaded = scenario::load_named_for(file, overrides.duration)?;
    overrides.apply(&mut loaded.scenario);
    let scenario = &loaded.scenario;
    scenario::check_rows(scenario.duration, scenario.report_interval).map_err(|message| {
        Error::Usage(format!(
            "--duration {}: report_interval {message}",
            scenario.duration
        ))
    })?;
    Ok(loaded)
}
