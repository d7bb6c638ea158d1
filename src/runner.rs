//! Runs a scenario: every strategy on its own fresh simulation.
//!
//! Strategies run in parallel (rayon) because they share nothing but the
//! read-only scenario; results come back in file order, so the output does
//! not depend on the number of threads or on which finished first.

use std::sync::Arc;

use rayon::prelude::*;

use crate::sim::config::Scenario;
use crate::sim::engine;
use crate::sim::metrics::StrategyResult;
use crate::sim::time::{SimDuration, SimTime};

/// Command-line values that replace the file's.
#[derive(Clone, Copy, Debug, Default)]
pub struct Overrides {
    pub seed: Option<u64>,
    pub users: Option<u32>,
    pub duration: Option<SimDuration>,
}

impl Overrides {
    /// Applies the overrides to a validated scenario. Each replaced value is
    /// valid by construction (clap checks users > 0 and duration > 0).
    pub fn apply(&self, scenario: &mut Scenario) {
        if let Some(seed) = self.seed {
            scenario.seed = seed;
        }
        if let Some(users) = self.users {
            scenario.workload.users = users;
        }
        if let Some(duration) = self.duration {
            scenario.duration = duration;
        }
    }
}

/// Runs every strategy and returns their results in file order.
pub fn run(scenario: &Scenario) -> Vec<StrategyResult> {
    run_with_progress(scenario, &|_, _| {})
}

/// Like [`run`], reporting `(strategy index, simulated time reached)` as
/// strategies progress (from several threads at once).
pub fn run_with_progress(
    scenario: &Scenario,
    progress: &(dyn Fn(usize, SimTime) + Sync),
) -> Vec<StrategyResult> {
    let shared = Arc::new(scenario.clone());
    (0..scenario.strategies.len())
        .into_par_iter()
        .map(|i| engine::run_with_progress(&shared, i, &|t| progress(i, t)))
        .collect()
}
