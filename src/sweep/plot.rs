//! The sweep plot: one metric against the first swept key, one line per
//! strategy, rendered as SVG and PNG bytes.
//!
//! Owns: drawing. Must not: write files (the caller hands the bytes to
//! `report::write_atomically`) or decide what is plotted. It lives next to
//! the sweep rather than in `report/` because nothing else draws this
//! chart; it follows the report renderers' rule of returning bytes.
//!
//! Made for a projector: 1600×900, large text, a legend and axis titles,
//! ticks exactly at the swept values.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;

use crate::report::font;
use crate::report::plot as style;

/// Width and height of both images, in pixels.
pub const SIZE: (u32, u32) = (1600, 900);

/// Where the swept values sit on the x axis.
pub enum XAxis {
    /// Every value is a number: positions are the values themselves.
    Numeric(Vec<f64>),
    /// Some value is not a number (a balancer, a persistence mode): the
    /// values are evenly spaced categories at 0, 1, 2, … in the order given.
    Categorical(Vec<String>),
}

/// One line of the plot.
pub struct Series {
    /// Legend text: the strategy, plus the other swept values if any.
    pub label: String,
    /// The strategy's colour index, as in the run plots.
    pub color: usize,
    /// Drawn dashed (to tell apart two lines of one strategy and colour).
    pub dashed: bool,
    /// (x position, metric value), in x order.
    pub points: Vec<(f64, f64)>,
}

/// Everything the plot shows.
pub struct SweepPlot {
    pub title: String,
    /// The first swept key, e.g. `servers.count`.
    pub x_title: String,
    /// The metric with its unit, e.g. `p99 latency (ms)`.
    pub y_title: String,
    pub x_axis: XAxis,
    /// Whether the metric counts things (ticks only at whole numbers).
    pub y_is_count: bool,
    /// Whether the metric is a percentage (the axis stops at 100).
    pub y_is_percent: bool,
    pub series: Vec<Series>,
}

/// Renders the plot as SVG and PNG.
pub fn render(plot: &SweepPlot) -> (Vec<u8>, Vec<u8>) {
    font::register();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        // Drawing into memory with the bundled font has no way to fail
        // short of a bug, which a test would show.
        draw(&root, plot).expect("drawing the sweep plot as SVG");
    }
    let (width, height) = SIZE;
    let mut pixels = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        draw(&root, plot).expect("drawing the sweep plot as PNG");
    }
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        &pixels,
        width,
        height,
        image::ColorType::Rgb8,
    )
    .expect("encoding a PNG into memory");
    (svg.into_bytes(), png)
}

/// The x axis: a linear range whose ticks are exactly the swept values.
/// (plotters' `with_key_points` does the same but then cannot take a label
/// formatter for `f64`, hence this small coordinate of our own.)
struct SweptAxis {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for SweptAxis {
    type ValueType = f64;
    // Labels always come from our formatter; the default is never used.
    type FormatOption = DefaultFormatting;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let share = (value - self.range.start) / (self.range.end - self.range.start);
        limit.0 + (share * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Bold points carry labels; no light grid lines in between.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// The x range with a margin, and the tick positions.
fn x_ticks(axis: &XAxis) -> (Range<f64>, Vec<f64>) {
    let ticks: Vec<f64> = match axis {
        XAxis::Numeric(values) => values.clone(),
        XAxis::Categorical(labels) => (0..labels.len()).map(|i| i as f64).collect(),
    };
    let min = ticks.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ticks.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // A margin of a tenth of the span (or 1 for a single value) keeps the
    // end points and their labels clear of the frame.
    let pad = if max > min { (max - min) * 0.1 } else { 1.0 };
    let pad = match axis {
        XAxis::Categorical(_) => 0.5,
        XAxis::Numeric(_) => pad,
    };
    (min - pad..max + pad, ticks)
}

/// A swept number as written: `8`, `0.5`.
fn number_label(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// Drawn as the run plots are (`report::plot`): the title and a legend
/// strip above the chart, the same colours, fonts and tick labels, earlier
/// lines wider so that two strategies with the same numbers both show, and
/// such twins named in the legend.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &SweepPlot,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let legend: Vec<(String, RGBColor)> = plot
        .series
        .iter()
        .enumerate()
        .map(|(i, series)| {
            let twin = plot.series[..i]
                .iter()
                .find(|other| other.points == series.points);
            let label = match twin {
                Some(other) => format!("{} (same numbers as {})", series.label, other.label),
                None => series.label.clone(),
            };
            (label, style::color(series.color))
        })
        .collect();
    let area = style::frame(root, &plot.title, &legend)?;
    let (x_range, ticks) = x_ticks(&plot.x_axis);
    let highest = plot
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    // 10% above the highest point; a share never above 100%; at least 1 so
    // an all-zero metric (no forced logouts anywhere) still has an axis.
    let mut y_top = (highest * 1.1).max(1.0);
    if plot.y_is_percent {
        y_top = y_top.min(100.0);
    }
    let mut chart = ChartBuilder::on(&area)
        .margin_left(16)
        .margin_right(60)
        .margin_top(16)
        .margin_bottom(12)
        .x_label_area_size(style::LABEL_SIZE + style::TICK_SIZE + 28)
        .y_label_area_size(style::LABEL_SIZE + 4 * style::TICK_SIZE)
        .build_cartesian_2d(
            SweptAxis {
                range: x_range,
                ticks,
            },
            0.0..y_top,
        )?;

    let x_label = |x: &f64| match &plot.x_axis {
        XAxis::Numeric(_) => number_label(*x),
        XAxis::Categorical(labels) => labels
            .get(x.round().max(0.0) as usize)
            .cloned()
            .unwrap_or_default(),
    };
    let y_label = |y: &f64| {
        if plot.y_is_count && y.fract() != 0.0 {
            String::new()
        } else {
            style::number_label(*y)
        }
    };
    chart
        .configure_mesh()
        .x_desc(&plot.x_title)
        .y_desc(&plot.y_title)
        .axis_desc_style(style::text_style(style::LABEL_SIZE))
        .label_style(style::text_style(style::TICK_SIZE))
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .y_labels(8)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()?;

    let count = plot.series.len();
    for (i, series) in plot.series.iter().enumerate() {
        let color = style::color(series.color);
        let width = style::line_width(i, count);
        let line = color.stroke_width(width);
        if series.dashed {
            chart.draw_series(DashedLineSeries::new(
                series.points.iter().copied(),
                18,
                10,
                line,
            ))?;
        } else {
            chart.draw_series(LineSeries::new(series.points.iter().copied(), line))?;
        }
        chart.draw_series(
            series
                .points
                .iter()
                .map(|&point| Circle::new(point, 4 + width as i32, color.filled())),
        )?;
    }
    root.present()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plot(x_axis: XAxis) -> SweepPlot {
        SweepPlot {
            title: "t: forced logouts by servers.count".into(),
            x_title: "servers.count".into(),
            y_title: "forced logouts".into(),
            x_axis,
            y_is_count: true,
            y_is_percent: false,
            series: vec![Series {
                label: "sticky + in-memory".into(),
                color: 0,
                dashed: false,
                points: vec![(2.0, 10.0), (4.0, 30.0)],
            }],
        }
    }

    #[test]
    fn svg_has_the_titles_and_legend_and_png_has_the_size() {
        let (svg, png) = render(&plot(XAxis::Numeric(vec![2.0, 4.0])));
        let svg = String::from_utf8(svg).unwrap();
        for text in [
            "servers.count",
            "forced logouts",
            "sticky + in-memory",
            "\n4\n</text>",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        // PNG signature, then the IHDR chunk with width and height.
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[16..24], [0, 0, 6, 64, 0, 0, 3, 132]);
    }

    #[test]
    fn twins_are_both_drawn_and_named_and_a_share_stops_at_100() {
        let mut p = plot(XAxis::Numeric(vec![2.0, 4.0]));
        p.y_is_percent = true;
        p.y_is_count = false;
        p.series[0].points = vec![(2.0, 50.0), (4.0, 96.0)];
        let twin = Series {
            label: "least-connections + in-memory".into(),
            color: 1,
            dashed: false,
            points: p.series[0].points.clone(),
        };
        p.series.push(twin);
        let svg = String::from_utf8(render(&p).0).unwrap();
        assert!(svg.contains("least-connections + in-memory (same numbers as sticky + in-memory)"));
        // The earlier line is wider, so the later one runs inside it.
        assert!(svg.contains("stroke-width=\"5\"") && svg.contains("stroke-width=\"3\""));
        // 96 × 1.1 would pass 100: the axis stops at 100, no tick above.
        assert!(svg.contains("\n100\n</text>") && !svg.contains("\n120\n</text>"));
    }

    #[test]
    fn categories_label_their_positions() {
        let labels = vec!["round_robin".to_string(), "sticky".to_string()];
        let mut p = plot(XAxis::Categorical(labels));
        p.series[0].points = vec![(0.0, 10.0), (1.0, 3.0)];
        let svg = String::from_utf8(render(&p).0).unwrap();
        assert!(svg.contains("\nround_robin\n") && svg.contains("\nsticky\n"));
    }
}
