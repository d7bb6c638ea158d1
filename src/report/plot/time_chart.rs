//! Line charts over simulated time, with every fault marked: forced logouts
//! and active sessions, and the panels of the server-load chart.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    Drawn, LABEL_SIZE, TICK_SIZE, color, fault_short_label, frame, line_width, number_label,
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
/// the other lines is drawn off the scale (see [`strategy_chart`]).
const OUTLIER_RATIO: f64 = 4.0;

/// One line per strategy from a per-interval value, with the legend.
///
/// One strategy often dwarfs the rest (round-robin + in-memory logs users
/// out all the time and keeps orphan sessions on every server), which
/// would flatten the spikes and cliffs the faults cause in the others. So
/// when one line's peak is more than [`OUTLIER_RATIO`] times every other
/// line's, the axis is scaled to the others and that line is not drawn at
/// all (a line clamped at the top would read as a real value); its legend
/// entry says so and gives its mean and peak. The exact numbers are in the
/// tables and CSV files.
fn strategy_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scenario: &Scenario,
    results: &[StrategyResult],
    title: &str,
    y_desc: &str,
    value: impl Fn(&IntervalRow) -> f64,
) -> Drawn<DB> {
    let mut lines: Vec<Line> = results
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
    if let [highest, second, ..] = order[..]
        && peaks[second] > 0.0
        && peaks[highest] > OUTLIER_RATIO * peaks[second]
    {
        let points = &lines[highest].points;
        let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len().max(1) as f64;
        legend[highest].0 = format!(
            "{} (not drawn, far off the scale: mean {}, peak {})",
            legend[highest].0,
            number_label(mean.round()),
            number_label(peaks[highest])
        );
        lines[highest].points.clear();
    }
    let area = frame(root, title, &legend)?;
    draw(&area, scenario, &lines, y_desc, FULL)
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
/// with a labelled vertical line at each fault.
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
    // Headroom above the highest point for the fault labels.
    let rows_of_labels = scenario.faults.len().min(3) as f64;
    let top = if highest > 0.0 {
        highest * (1.08 + 0.07 * rows_of_labels)
    } else {
        1.0
    };
    let mut chart = ChartBuilder::on(area)
        .margin_left(16)
        .margin_right(40)
        .margin_bottom(12)
        .x_label_area_size(sizes.label + sizes.tick + 28)
        .y_label_area_size(sizes.label + 4 * sizes.tick)
        .build_cartesian_2d(0.0..end, 0.0..top)?;
    let x_format = |x: &f64| number_label(*x);
    let y_format = |y: &f64| number_label(*y);
    chart
        .configure_mesh()
        .x_desc("time (minutes)")
        .y_desc(y_desc)
        .axis_desc_style(text_style(sizes.label))
        .label_style(text_style(sizes.tick))
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .max_light_lines(2)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()?;

    // Faults first, so the data lines are drawn over them.
    let fault_style = ShapeStyle::from(&RGBColor(90, 90, 90)).stroke_width(3);
    for (index, fault) in scenario.faults.iter().enumerate() {
        let x = minutes(fault.at);
        if x > end {
            continue;
        }
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, 0.0), (x, top)],
            fault_style,
        )))?;
        // Stagger the labels of nearby faults over three rows; put a label
        // left of its line when it would run off the right edge.
        let row = (index % 3) as i32;
        let label = format!("{} {}", fault_short_label(fault), fault.at);
        let right_side = x < end * 0.7;
        let (anchor, dx) = if right_side {
            (HPos::Left, 8)
        } else {
            (HPos::Right, -8)
        };
        let style = text_style(sizes.tick).pos(Pos::new(anchor, VPos::Top));
        chart.draw_series(std::iter::once(
            EmptyElement::at((x, top))
                + Text::new(label, (dx, 6 + row * (sizes.tick as i32 + 8)), style),
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
}
