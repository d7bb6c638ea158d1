//! Line charts over simulated time, with every fault marked: forced logouts
//! and active sessions, and the panels of the server-load chart.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    Drawn, LABEL_SIZE, TICK_SIZE, color, fault_key, frame_with_key, line_width, number_label,
    strategy_legend, text_style,
};
use crate::sim::config::Scenario;
use crate::sim::metrics::{IntervalRow, StrategyResult};
use crate::sim::time::SimTime;

/// At most this many points per line. Longer series are thinned by
/// [`thin`], which keeps each bucket's lowest and highest point, so the
/// drawn line has the same envelope (spikes stay) while an SVG of a
/// million-row run stays small.
const MAX_POINTS: usize = 2000;

/// One line of a chart: its colour, width and points `(minutes, value)`.
/// The legend that names it is drawn by the caller.
pub(super) struct Line {
    pub color: RGBColor,
    /// Stroke width in pixels.
    pub width: u32,
    pub points: Vec<(f64, f64)>,
}

/// Sizes of the text of one chart: full-canvas charts use larger ones than
/// the panels of a multi-panel chart.
#[derive(Clone, Copy)]
pub(super) struct Sizes {
    /// Axis titles.
    pub label: u32,
    /// Tick labels and fault labels.
    pub tick: u32,
}

pub(super) const FULL: Sizes = Sizes {
    label: LABEL_SIZE,
    tick: TICK_SIZE,
};

/// Simulated time in minutes, the x unit of every time chart.
pub(super) fn minutes(t: SimTime) -> f64 {
    t.as_secs_f64() / 60.0
}

/// A line whose peak is more than this many times the highest peak of all
/// the other lines gets a panel of its own (see [`strategy_chart`]).
const OUTLIER_RATIO: f64 = 4.0;

/// Panel sizes when the chart is split for an outlier.
const SPLIT: Sizes = Sizes {
    label: 25,
    tick: 21,
};

/// One line per strategy from a per-interval value, with the legend.
///
/// One strategy often dwarfs the rest (round-robin + in-memory logs users
/// out all the time and keeps orphan sessions on every server), which
/// would flatten the spikes and cliffs the faults cause in the others. So
/// when one line's peak is more than [`OUTLIER_RATIO`] times every other
/// line's, it is drawn in a panel of its own above the others, each panel
/// on its own scale, and every strategy is still drawn.
fn strategy_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scenario: &Scenario,
    results: &[StrategyResult],
    title: &str,
    y_desc: &str,
    value: impl Fn(&IntervalRow) -> f64,
) -> Drawn<DB> {
    let lines: Vec<Line> = results
        .iter()
        .enumerate()
        .map(|(i, r)| Line {
            color: color(i),
            width: line_width(i, results.len()),
            points: thin(
                r.timeseries
                    .iter()
                    .map(|row| (minutes(row.t), value(row)))
                    .collect(),
            ),
        })
        .collect();
    let peaks: Vec<f64> = lines
        .iter()
        .map(|line| line.points.iter().map(|p| p.1).fold(0.0, f64::max))
        .collect();
    let mut legend = strategy_legend(results);
    let mut order: Vec<usize> = (0..peaks.len()).collect();
    order.sort_by(|&a, &b| peaks[b].total_cmp(&peaks[a]).then(a.cmp(&b)));
    let outlier = match order[..] {
        [highest, second, ..]
            if peaks[second] > 0.0 && peaks[highest] > OUTLIER_RATIO * peaks[second] =>
        {
            Some(highest)
        }
        _ => None,
    };
    if let Some(i) = outlier {
        legend[i].0 = format!("{} (top panel, its own scale)", legend[i].0);
    }
    let area = frame_with_key(root, title, &legend, &fault_key(scenario))?;
    let Some(outlier) = outlier else {
        return draw(&area, scenario, &lines, y_desc, FULL);
    };
    let (_, height) = area.dim_in_pixel();
    let (upper, lower) = area.split_vertically(height * 2 / 5);
    let (mut alone, mut rest) = (Vec::new(), Vec::new());
    for (i, line) in lines.into_iter().enumerate() {
        if i == outlier {
            alone.push(line);
        } else {
            rest.push(line);
        }
    }
    draw(&upper, scenario, &alone, y_desc, SPLIT)?;
    draw(&lower, scenario, &rest, y_desc, SPLIT)
}

pub(super) fn forced_logouts<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scenario: &Scenario,
    results: &[StrategyResult],
) -> Drawn<DB> {
    let title = format!("Forced logouts over time ({})", scenario.name);
    let y_desc = format!("forced logouts per {}", scenario.report_interval);
    strategy_chart(root, scenario, results, &title, &y_desc, |row| {
        row.counts.forced_logouts as f64
    })
}

pub(super) fn active_sessions<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scenario: &Scenario,
    results: &[StrategyResult],
) -> Drawn<DB> {
    let title = format!("Active sessions in the store ({})", scenario.name);
    strategy_chart(
        root,
        scenario,
        results,
        &title,
        "active sessions (unexpired)",
        |row| row.active_sessions as f64,
    )
}

/// Draws `lines` against time in minutes over the whole run on `area`,
/// with a vertical line at each fault and the fault's number on it (the
/// frame's key names them). Numbers of faults close together are stacked
/// in rows, in headroom above the highest point, so that no marker
/// overlaps another and no data line crosses one.
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scenario: &Scenario,
    lines: &[Line],
    y_desc: &str,
    sizes: Sizes,
) -> Drawn<DB> {
    let end = minutes(SimTime::ZERO + scenario.duration);
    let highest = lines
        .iter()
        .flat_map(|line| line.points.iter().map(|&(_, y)| y))
        .fold(0.0f64, f64::max);
    let build = |top: f64| {
        ChartBuilder::on(area)
            .margin_left(16)
            .margin_right(40)
            .margin_bottom(12)
            .margin_top(8)
            .x_label_area_size(sizes.label + sizes.tick + 28)
            .y_label_area_size(sizes.label + 4 * sizes.tick)
            .build_cartesian_2d(0.0..end, 0.0..top)
    };
    // Where each marker goes: its pixel column does not depend on the y
    // range, so a first chart gives the columns, then the rows, then the
    // headroom the rows need.
    let style = text_style(sizes.tick).pos(Pos::new(HPos::Left, VPos::Top));
    let mut markers: Vec<(f64, String, i32, i32)> = Vec::new(); // x, text, px, width
    let probe = build(1.0)?;
    for (index, fault) in scenario.faults.iter().enumerate() {
        let x = minutes(fault.at);
        if x > end {
            continue;
        }
        let text = (index + 1).to_string();
        let (width, _) = area.estimate_text_size(&text, &style)?;
        let (px, _) = probe.backend_coord(&(x, 1.0));
        markers.push((x, text, px, width as i32));
    }
    // The plotting area's height in pixels, the same whatever the y range.
    let height = (probe.backend_coord(&(0.0, 0.0)).1 - probe.backend_coord(&(0.0, 1.0)).1).max(1);
    drop(probe);
    let rows = marker_rows(&markers.iter().map(|m| (m.2, m.3)).collect::<Vec<_>>());
    let row_height = sizes.tick as i32 + 6;
    let needed = rows.iter().map(|&r| r + 1).max().unwrap_or(0) * row_height + 12;
    let top = if highest > 0.0 {
        // `highest` sits `needed` pixels below the top, with 5% to spare.
        let share = (f64::from(needed) / f64::from(height)).min(0.6);
        highest * 1.05 / (1.0 - share)
    } else {
        1.0
    };
    let mut chart = build(top)?;
    let x_format = |x: &f64| number_label(*x);
    let y_format = |y: &f64| number_label(*y);
    // Five y labels at most: a short panel keeps them apart.
    let y_labels = ((area.dim_in_pixel().1 as usize) / (3 * sizes.tick as usize)).clamp(2, 8);
    chart
        .configure_mesh()
        .x_desc("time (minutes)")
        .y_desc(y_desc)
        .axis_desc_style(text_style(sizes.label))
        .label_style(text_style(sizes.tick))
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .y_labels(y_labels)
        .max_light_lines(2)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()?;

    // Faults first, so the data lines are drawn over them.
    let fault_style = ShapeStyle::from(&RGBColor(90, 90, 90)).stroke_width(3);
    for ((x, text, _, _), row) in markers.into_iter().zip(rows) {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, 0.0), (x, top)],
            fault_style,
        )))?;
        chart.draw_series(std::iter::once(
            EmptyElement::at((x, top)) + Text::new(text, (6, 4 + row * row_height), style.clone()),
        ))?;
    }

    for line in lines {
        chart.draw_series(LineSeries::new(
            line.points.iter().copied(),
            line.color.stroke_width(line.width),
        ))?;
    }
    Ok(())
}

/// Rows for markers at pixel columns `(x, width)` (drawn from `x + 6`):
/// each goes in the first row where it clears the markers already there
/// by 8 pixels.
fn marker_rows(markers: &[(i32, i32)]) -> Vec<i32> {
    let mut row_ends: Vec<i32> = Vec::new();
    let mut order: Vec<usize> = (0..markers.len()).collect();
    order.sort_by_key(|&i| (markers[i].0, i));
    let mut rows = vec![0; markers.len()];
    for i in order {
        let (x, width) = markers[i];
        let (start, end) = (x + 6, x + 6 + width);
        let row = match row_ends.iter().position(|&e| e + 8 <= start) {
            Some(r) => r,
            None => {
                row_ends.push(i32::MIN);
                row_ends.len() - 1
            }
        };
        row_ends[row] = end;
        rows[i] = row as i32;
    }
    rows
}

/// Reduces a series to at most about [`MAX_POINTS`] points by keeping, for
/// each run of consecutive points, the lowest and the highest (in time
/// order). Short series are returned unchanged.
pub(super) fn thin(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let bucket = points.len().div_ceil(MAX_POINTS / 2);
    let mut out = Vec::with_capacity(MAX_POINTS + 2);
    for chunk in points.chunks(bucket) {
        let (mut low, mut high) = (0, 0);
        for (i, p) in chunk.iter().enumerate() {
            if p.1 < chunk[low].1 {
                low = i;
            }
            if p.1 > chunk[high].1 {
                high = i;
            }
        }
        let (first, second) = if low <= high {
            (low, high)
        } else {
            (high, low)
        };
        out.push(chunk[first]);
        if second != first {
            out.push(chunk[second]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_spikes_and_short_series() {
        let short: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 1.0)).collect();
        assert_eq!(thin(short.clone()), short);
        let mut long: Vec<(f64, f64)> = (0..100_000).map(|i| (i as f64, 1.0)).collect();
        long[54_321].1 = 500.0;
        let thinned = thin(long);
        assert!(thinned.len() <= MAX_POINTS + 2, "{}", thinned.len());
        assert!(thinned.contains(&(54_321.0, 500.0)));
        assert!(thinned.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn markers_close_together_stack_and_far_apart_share_a_row() {
        // Two at the same column, one just clear of the first, one far.
        let rows = marker_rows(&[(100, 14), (100, 14), (128, 14), (400, 28)]);
        assert_eq!(rows, [0, 1, 0, 0]);
        // A marker that starts within 8 pixels of another's end stacks.
        assert_eq!(marker_rows(&[(100, 14), (120, 14)]), [0, 1]);
    }
}
