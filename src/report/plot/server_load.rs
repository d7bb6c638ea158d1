//! Requests per app server over time, one panel per strategy: how evenly
//! each balancer spreads the load. Round-robin keeps the lines together;
//! sticky sessions let them drift apart, most visibly after a crash, when
//! the crashed server's users are re-pinned elsewhere and stay there.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::time_chart::{self, Line, Sizes, minutes, thin};
use super::{Drawn, LABEL_SIZE, color, frame, text_style};
use crate::sim::config::Scenario;
use crate::sim::metrics::StrategyResult;

/// Above this many servers the legend would not fit; the lines still get
/// their colours and the title says what they are.
const MAX_LEGEND_SERVERS: usize = 16;

/// Text and line sizes inside a panel: smaller than a full chart, still
/// readable on a projector with up to about six panels.
const PANEL: Sizes = Sizes {
    label: 25,
    tick: 21,
};

pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scenario: &Scenario,
    results: &[StrategyResult],
) -> Drawn<DB> {
    let servers = results
        .iter()
        .flat_map(|r| r.timeseries.iter().map(|row| row.server_requests.len()))
        .max()
        .unwrap_or(0);
    let legend: Vec<(String, RGBColor)> = if servers <= MAX_LEGEND_SERVERS {
        (0..servers)
            .map(|s| (format!("server {s}"), color(s)))
            .collect()
    } else {
        Vec::new()
    };
    let title = format!("Requests per app server ({})", scenario.name);
    let area = frame(root, &title, &legend)?;

    let columns = if results.len() > 1 { 2 } else { 1 };
    let rows = results.len().div_ceil(columns).max(1);
    let panels = area.split_evenly((rows, columns));
    let y_desc = format!("requests per {}", scenario.report_interval);
    for (result, panel) in results.iter().zip(&panels) {
        let caption_style = text_style(LABEL_SIZE).pos(Pos::new(HPos::Center, VPos::Top));
        let panel = panel.titled(&result.name, caption_style)?;
        let lines: Vec<Line> = (0..servers)
            .map(|s| Line {
                color: color(s),
                width: 3,
                points: thin(
                    result
                        .timeseries
                        .iter()
                        .map(|row| {
                            let requests = row.server_requests.get(s).copied().unwrap_or(0);
                            (minutes(row.t), requests as f64)
                        })
                        .collect(),
                ),
            })
            .collect();
        time_chart::draw(&panel, scenario, &lines, &y_desc, PANEL)?;
    }
    Ok(())
}
