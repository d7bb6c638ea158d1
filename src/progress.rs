//! Progress bars on stderr while strategies run: simulated time done per
//! strategy, and for live rows what is happening now ("redis down 3/8 s").

//!
//! Shown only when a run lasts more than about a second (short runs should
//! not flicker), only when stderr is a terminal, and never with `--quiet`.
//! The bars observe the runs; they never change them.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::sim::config::Scenario;
use crate::sim::time::{SimDuration, SimTime};

/// How long a run goes before its bars appear.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// One bar per strategy, in simulated seconds.
pub struct RunProgress {
    multi: MultiProgress,
    bars: Vec<ProgressBar>,
    started: Instant,
    /// Whether bars may be drawn at all (a terminal, not `--quiet`).
    allowed: bool,
    /// Set once the bars have been made visible.
    shown: OnceLock<()>,
}

impl RunProgress {
    pub fn new(scenario: &Scenario, quiet: bool) -> Self {
        let names = scenario.strategies.iter().map(|s| s.name.clone()).collect();
        Self::named(names, scenario.duration, quiet)
    }

    /// One bar per name, each to `duration` of simulated time.
    pub fn named(names: Vec<String>, duration: SimDuration, quiet: bool) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template("{prefix:<28!} {wide_bar} {msg}")
            .expect("valid template")
            .progress_chars("=> ");
        let total = duration.as_nanos() / 1_000_000_000;
        let bars = names
            .into_iter()
            .map(|name| {
                let bar = multi.add(ProgressBar::new(total.max(1)));
                bar.set_style(style.clone());
                bar.set_prefix(name);
                bar
            })
            .collect();
        RunProgress {
            multi,
            bars,
            started: Instant::now(),
            allowed: !quiet && std::io::stderr().is_terminal(),
            shown: OnceLock::new(),
        }
    }

    /// Strategy `index` has reached simulated time `t`.
    pub fn update(&self, index: usize, t: SimTime) {
        self.update_with(index, t, String::new());
    }

    /// Strategy `index` has reached `t`, and `phase` says what is going on.
    pub fn update_with(&self, index: usize, t: SimTime, phase: String) {
        if self.allowed && self.started.elapsed() >= SHOW_AFTER {
            self.shown
                .get_or_init(|| self.multi.set_draw_target(ProgressDrawTarget::stderr()));
        }
        if let Some(bar) = self.bars.get(index) {
            bar.set_position(t.as_nanos() / 1_000_000_000);
            if phase.is_empty() {
                bar.set_message(format!("{t}"));
            } else {
                bar.set_message(format!("{t}  {phase}"));
            }
        }
    }

    /// Removes the bars from the terminal.
    pub fn finish(&self) {
        for bar in &self.bars {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}
