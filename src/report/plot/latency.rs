//! Latency: three percentiles as bars, and the whole distribution as a
//! cumulative curve on a logarithmic time axis, both read from each
//! strategy's HdrHistogram of completed requests.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::bars::{self, BarSeries};
use super::{
    Drawn, LABEL_SIZE, TICK_SIZE, color, frame, line_width, number_label, strategy_legend,
    text_style,
};
use crate::sim::config::Scenario;
use crate::sim::metrics::StrategyResult;

/// The percentiles of the bar chart, with their labels.
const PERCENTILES: [(f64, &str); 3] = [(50.0, "p50"), (99.0, "p99"), (99.9, "p99.9")];

pub(super) fn percentiles<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scenario: &Scenario,
    results: &[StrategyResult],
) -> Drawn<DB> {
    let title = format!("Latency percentiles ({})", scenario.name);
    let area = frame(root, &title, &strategy_legend(results))?;
    let groups: Vec<String> = PERCENTILES.iter().map(|(_, l)| l.to_string()).collect();
    let series: Vec<BarSeries> = results
        .iter()
        .enumerate()
        .map(|(i, r)| BarSeries {
            color: color(i),
            values: PERCENTILES
                .iter()
                .map(|&(p, _)| (!r.latency_us.is_empty()).then(|| r.latency_ms(p)))
                .collect(),
        })
        .collect();
    bars::draw(&area, &groups, &series, "percentile", "latency (ms)", |v| {
        format!("{v:.2}")
    })
}

/// The cumulative distribution of one histogram as a staircase of
/// `(milliseconds, percent of requests at or below)`, from `start` (0%)
/// to `end` (100%).
fn cdf_points(result: &StrategyResult, start: f64, end: f64) -> Vec<(f64, f64)> {
    let histogram = &result.latency_us;
    let total = histogram.len();
    let mut points = vec![(start, 0.0)];
    if total == 0 {
        return points;
    }
    let mut below = 0u64;
    for step in histogram.iter_recorded() {
        let ms = histogram.highest_equivalent(step.value_iterated_to()) as f64 / 1000.0;
        let before = 100.0 * below as f64 / total as f64;
        below += step.count_at_value();
        let after = 100.0 * below as f64 / total as f64;
        points.push((ms, before));
        points.push((ms, after));
    }
    points.push((end, 100.0));
    points
}

pub(super) fn cdf<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scenario: &Scenario,
    results: &[StrategyResult],
) -> Drawn<DB> {
    let title = format!("Latency distribution ({})", scenario.name);
    let area = frame(root, &title, &strategy_legend(results))?;
    // The x range spans every strategy's fastest to slowest request, with a
    // margin so that vertical steps at the edges stay visible.
    let recorded = results.iter().filter(|r| !r.latency_us.is_empty());
    let fastest = recorded
        .clone()
        .map(|r| r.latency_us.min() as f64 / 1000.0)
        .fold(f64::INFINITY, f64::min);
    let slowest = recorded
        .map(|r| r.latency_us.max() as f64 / 1000.0)
        .fold(0.0f64, f64::max);
    // Whole decades, so that the axis has labelled powers of ten to read.
    let (start, end) = if fastest.is_finite() && slowest > 0.0 {
        let decade = |ms: f64| 10f64.powf(ms.log10().floor());
        let start = decade(fastest.max(0.001));
        // At least two decades: within one, plotters puts ticks so close
        // that two of them read "10" on top of each other.
        (start, (decade(slowest) * 10.0).max(start * 100.0))
    } else {
        (0.001, 1.0)
    };
    let mut chart = ChartBuilder::on(&area)
        .margin_left(16)
        .margin_right(40)
        .margin_bottom(12)
        .x_label_area_size(LABEL_SIZE + TICK_SIZE + 28)
        .y_label_area_size(LABEL_SIZE + 4 * TICK_SIZE)
        .build_cartesian_2d((start..end).log_scale(), 0.0..100.0)?;
    let x_format = |x: &f64| number_label(*x);
    let y_format = |y: &f64| number_label(*y);
    chart
        .configure_mesh()
        .x_desc("latency (ms, log scale)")
        .y_desc("requests at or below (%)")
        .axis_desc_style(text_style(LABEL_SIZE))
        .label_style(text_style(TICK_SIZE))
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .max_light_lines(2)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()?;
    for (i, result) in results.iter().enumerate() {
        chart.draw_series(LineSeries::new(
            cdf_points(result, start, end),
            color(i).stroke_width(line_width(i, results.len())),
        ))?;
    }
    Ok(())
}
