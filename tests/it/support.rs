//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lbsim::sim::config::Scenario;
use lbsim::sim::metrics::StrategyResult;

/// Parses a scenario from TOML text, panicking with the error if invalid.
pub fn scenario(text: &str) -> Scenario {
    lbsim::scenario::parse(text, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs every strategy of a scenario given as TOML text.
pub fn run(text: &str) -> Vec<StrategyResult> {
    lbsim::runner::run(&scenario(text))
}

/// The result of the strategy with this name.
pub fn strategy<'a>(results: &'a [StrategyResult], name: &str) -> &'a StrategyResult {
    results
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no strategy {name}"))
}

/// The repository root (where `scenarios/` is).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the lbsim binary with `args` in `dir`.
pub fn lbsim(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lbsim"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        // The full, stable layout whatever the shell exports.
        .env_remove("COLUMNS")
        .output()
        .expect("lbsim runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
