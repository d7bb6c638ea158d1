//! What each fault cost: the sessions it destroyed that users still held,
//! per strategy (the first number of the table's fault columns, as bars).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::bars::{self, BarSeries};
use super::{
    Drawn, LABEL_SIZE, color, fault_short_label, frame_with_key, strategy_legend, text_style,
};
use crate::sim::config::Scenario;
use crate::sim::metrics::StrategyResult;

pub(super) fn sessions_destroyed<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scenario: &Scenario,
    results: &[StrategyResult],
) -> Drawn<DB> {
    let title = format!("Sessions destroyed by each fault ({})", scenario.name);
    // Groups are numbered as in faults.csv, named in a key under the
    // legend: full names under each group would run into each other.
    let key: Vec<String> = scenario
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{} {} {}", i + 1, fault_short_label(f), f.at))
        .collect();
    let area = frame_with_key(root, &title, &strategy_legend(results), &key)?;
    if scenario.faults.is_empty() {
        // Still write the file, so a run's folder always has the same set
        // of files, but say plainly why it is empty.
        let (width, height) = area.dim_in_pixel();
        let style = text_style(LABEL_SIZE).pos(Pos::new(HPos::Center, VPos::Center));
        area.draw(&Text::new(
            "This scenario has no faults.",
            (width as i32 / 2, height as i32 / 2),
            style,
        ))?;
        return Ok(());
    }
    let groups: Vec<String> = (1..=scenario.faults.len()).map(|i| i.to_string()).collect();
    let series: Vec<BarSeries> = results
        .iter()
        .enumerate()
        .map(|(i, r)| BarSeries {
            color: color(i),
            values: r.fault_losses.iter().map(|l| l.map(|n| n as f64)).collect(),
        })
        .collect();
    bars::draw(
        &area,
        &groups,
        &series,
        "fault (numbered as in the key)",
        "sessions destroyed",
        super::number_label,
    )
}
