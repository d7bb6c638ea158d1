//! Requests per app server over time, one panel per strategy: how evenly
//! each balancer spreads the load. Round-robin keeps the lines together;
//! sticky sessions let them drift apart, most visibly after a crash, when
//! the crashed server's users are re-pinned elsewhere and stay there.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::time_chart::{self, Line, Sizes, minutes, thin};
use super::{Drawn, LABEL_SIZE, PALETTE, fault_key, frame_with_key, text_style};
use crate::sim::config::Scenario;
use crate::sim::events::EventKind;
use crate::sim::metrics::StrategyResult;
use crate::sim::time::SimTime;

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
            .map(|s| (format!("server {s}"), server_color(s, servers)))
            .collect()
    } else {
        Vec::new()
    };
    let title = format!("Requests per app server ({})", scenario.name);
    let area = frame_with_key(root, &title, &legend, &fault_key(scenario))?;

    let columns = if results.len() > 1 { 2 } else { 1 };
    let rows = results.len().div_ceil(columns).max(1);
    let panels = area.split_evenly((rows, columns));
    let y_desc = format!("requests per {}", scenario.report_interval);
    for (result, panel) in results.iter().zip(&panels) {
        let caption_style = text_style(LABEL_SIZE).pos(Pos::new(HPos::Center, VPos::Top));
        let panel = panel.titled(&result.name, caption_style)?;
        let windows = in_service(scenario, result, servers);
        let interval = scenario.report_interval;
        let lines: Vec<Line> = (0..servers)
            .map(|s| Line {
                color: server_color(s, servers),
                width: 3,
                points: thin(
                    result
                        .timeseries
                        .iter()
                        // Only the intervals the server was in the farm
                        // for: a server not yet added (or retired) is not
                        // an idle one.
                        .filter(|row| {
                            windows[s].is_some_and(|(from, until)| {
                                row.t > from && row.t < until + interval
                            })
                        })
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

/// The colour of server `s` of `count`: the strategies' palette while it
/// lasts, then evenly spaced hues, so no two servers share a colour.
fn server_color(s: usize, count: usize) -> RGBColor {
    if count <= PALETTE.len() {
        return PALETTE[s];
    }
    let hue = s as f64 / count as f64;
    // Alternate light and dark so neighbours differ in brightness too.
    let lightness = if s.is_multiple_of(2) { 0.38 } else { 0.55 };
    let (r, g, b) = HSLColor(hue, 0.75, lightness).rgb();
    RGBColor(r, g, b)
}

/// When each server was in the farm, from the run's events: the first
/// servers from the start, added ones (scale-out, a deploy's replacement,
/// a green fleet) from their event, until they were retired. `None` for a
/// server that never was.
fn in_service(
    scenario: &Scenario,
    result: &StrategyResult,
    servers: usize,
) -> Vec<Option<(SimTime, SimTime)>> {
    let end = SimTime::ZERO + scenario.duration;
    let mut windows: Vec<Option<(SimTime, SimTime)>> = vec![None; servers];
    let initial = (scenario.servers.count as usize).min(servers);
    for w in windows.iter_mut().take(initial) {
        *w = Some((SimTime::ZERO, end));
    }
    let start = |s: usize, at: SimTime, windows: &mut Vec<Option<(SimTime, SimTime)>>| {
        if s < windows.len() && windows[s].is_none() {
            windows[s] = Some((at, end));
        }
    };
    for event in &result.events {
        match &event.kind {
            EventKind::ScaledOut { added, .. } => {
                for s in added {
                    start(s.0 as usize, event.t, &mut windows);
                }
            }
            EventKind::ServerReplaced { new, .. } => start(new.0 as usize, event.t, &mut windows),
            EventKind::BlueGreen { servers: green, .. } => {
                let first = windows
                    .iter()
                    .rposition(Option::is_some)
                    .map_or(0, |i| i + 1);
                for s in first..first + *green as usize {
                    start(s, event.t, &mut windows);
                }
            }
            EventKind::ServerRetired { server, .. } => {
                if let Some(Some((_, until))) = windows.get_mut(server.0 as usize) {
                    *until = event.t;
                }
            }
            _ => {}
        }
    }
    windows
}
