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

use crate::report::font::{self, FAMILY};

/// Width and height of both images, in pixels.
pub const SIZE: (u32, u32) = (1600, 900);

/// Strong, distinct colours that stay readable on a projector (the
/// "tab10" palette of matplotlib and Vega); used in turn.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

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
    /// Index into [`PALETTE`].
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

/// A whole number with thousands separators: `1,200,000`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 { format!("-{out}") } else { out }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &SweepPlot,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (x_range, ticks) = x_ticks(&plot.x_axis);
    let y_top = plot
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    // Room above the highest point for the legend, whose height grows with
    // the number of lines (about 34 px each of a plotting area about 650 px
    // high); at least 1 so an all-zero metric (no forced logouts anywhere)
    // still has an axis.
    let legend_share = ((plot.series.len() as f64 * 34.0 + 40.0) / 650.0).min(0.6);
    let y_top = (y_top / (1.0 - legend_share)).max(1.0);

    let mut chart = ChartBuilder::on(root)
        .caption(&plot.title, (FAMILY, 44))
        .margin(30)
        .x_label_area_size(120)
        .y_label_area_size(170)
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
        if plot.y_is_count {
            if y.fract() == 0.0 {
                thousands(*y)
            } else {
                String::new()
            }
        } else {
            format!("{y:.2}")
        }
    };
    chart
        .configure_mesh()
        .x_desc(&plot.x_title)
        .y_desc(&plot.y_title)
        .axis_desc_style((FAMILY, 36))
        .label_style((FAMILY, 28))
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .y_labels(8)
        .light_line_style(WHITE)
        .bold_line_style(BLACK.mix(0.15))
        .draw()?;

    for series in &plot.series {
        let color = PALETTE[series.color % PALETTE.len()];
        let line = color.stroke_width(4);
        let drawn = if series.dashed {
            chart.draw_series(DashedLineSeries::new(
                series.points.iter().copied(),
                18,
                10,
                line,
            ))?
        } else {
            chart.draw_series(LineSeries::new(series.points.iter().copied(), line))?
        };
        // The legend sample is three pieces, touching for a solid line and
        // apart for a dashed one.
        let (length, gap) = if series.dashed { (10, 5) } else { (14, 0) };
        drawn.label(&series.label).legend(move |(x, y)| {
            let piece = |i: i32| {
                let start = x + i * (length + gap);
                PathElement::new(vec![(start, y), (start + length, y)], line)
            };
            EmptyElement::at((0, 0)) + piece(0) + piece(1) + piece(2)
        });
        chart.draw_series(
            series
                .points
                .iter()
                .map(|&point| Circle::new(point, 7, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .label_font((FAMILY, 28))
        .legend_area_size(60)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
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
    fn thousands_are_separated() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1200000.0), "1,200,000");
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
