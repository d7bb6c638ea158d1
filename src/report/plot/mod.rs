//! The plots of a run, as SVG and PNG bytes, ready to project.
//!
//! This module owns what every chart shares: the canvas size, the fonts,
//! one colour per strategy, the title and legend strip, and the labelled
//! vertical lines that mark faults on a time axis. Each chart is one
//! variant of [`Plot`] and lives in its own file; adding one is one file,
//! one variant and one match arm in [`Plot::draw`].
//!
//! Like every renderer in `report`, this one is pure: it returns bytes and
//! never touches the disk. Both formats are drawn by the same code on two
//! plotters backends, so the SVG and the PNG show the same picture. Text
//! uses the DejaVu Sans shipped in the binary (`report::font`), so the
//! PNGs come out the same on any machine, and nothing here reads a clock
//! or iterates a hash map: the same results give the same bytes.

mod bars;
mod faults;
mod latency;
mod server_load;
mod time_chart;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::font::{self, FAMILY};
use crate::sim::config::{Fault, Scenario};
use crate::sim::metrics::StrategyResult;

/// Canvas width in pixels: 16:9 at a size projectors show sharply.
pub const WIDTH: u32 = 1600;
/// Canvas height in pixels.
pub const HEIGHT: u32 = 900;

/// Font sizes, chosen to stay legible from the back of a room. They are
/// plotters sizes: the letters' em is about a fifth smaller in pixels
/// (plotters draws a size-40 font with a 32-pixel em).
pub(crate) const TITLE_SIZE: u32 = 46;
/// Axis titles and panel captions.
pub(crate) const LABEL_SIZE: u32 = 32;
/// Tick labels, the legend and fault labels.
pub(crate) const TICK_SIZE: u32 = 26;

/// What drawing returns: plotters errors are generic over the backend.
type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// One chart. Every run writes every chart, as `NAME.svg` and `NAME.png`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plot {
    ForcedLogouts,
    ActiveSessions,
    LatencyPercentiles,
    LatencyCdf,
    ServerLoad,
    SessionsDestroyed,
}

impl Plot {
    /// Every chart, in the order reports show them.
    pub const ALL: [Plot; 6] = [
        Plot::ForcedLogouts,
        Plot::ActiveSessions,
        Plot::SessionsDestroyed,
        Plot::ServerLoad,
        Plot::LatencyPercentiles,
        Plot::LatencyCdf,
    ];

    /// File name without extension.
    pub fn name(self) -> &'static str {
        match self {
            Plot::ForcedLogouts => "forced_logouts",
            Plot::ActiveSessions => "active_sessions",
            Plot::LatencyPercentiles => "latency_percentiles",
            Plot::LatencyCdf => "latency_cdf",
            Plot::ServerLoad => "server_load",
            Plot::SessionsDestroyed => "sessions_destroyed",
        }
    }

    /// One or two sentences for a report: what the chart shows and what to
    /// look for in it.
    pub fn caption(self) -> &'static str {
        match self {
            Plot::ForcedLogouts => {
                "Forced logouts per report interval over time, one line per strategy: \
                 a spike right after a fault line is that fault's cost (the faults are \
                 numbered on their lines and named in the key). A strategy that logs users \
                 out all the time, far above the others, gets a panel of its own on its \
                 own scale, so the others stay readable."
            }
            Plot::ActiveSessions => {
                "Unexpired sessions held by the store over time. A cliff at a Redis \
                 restart means the sessions were not persisted; a dent at a server crash \
                 is that server's share of sessions. Round-robin with in-memory sessions \
                 leaves orphan copies on every server; when that puts it far above the \
                 others it gets a panel of its own, on its own scale."
            }
            Plot::SessionsDestroyed => {
                "Sessions each fault destroyed while a user still held them, per strategy. \
                 Not every one logs its user out: a user back only after the session's time \
                 to live finds it expired anyway (faults.csv counts both)."
            }
            Plot::ServerLoad => {
                "Requests routed to each app server per report interval, one panel per \
                 strategy. Lines close together mean an even spread; lines that split \
                 apart (typically with sticky sessions after a crash) show imbalance. A \
                 server is drawn only while it is in the farm."
            }
            Plot::LatencyPercentiles => {
                "Median (p50), p99 and p99.9 latency of completed requests, in \
                 milliseconds, measured from the moment the user sent the request."
            }
            Plot::LatencyCdf => {
                "Share of requests answered within a given time (log scale): the further \
                 left and the steeper a line, the faster that strategy answers."
            }
        }
    }

    fn draw<DB: DrawingBackend>(
        self,
        root: &DrawingArea<DB, Shift>,
        scenario: &Scenario,
        results: &[StrategyResult],
    ) -> Drawn<DB> {
        root.fill(&WHITE)?;
        match self {
            Plot::ForcedLogouts => time_chart::forced_logouts(root, scenario, results),
            Plot::ActiveSessions => time_chart::active_sessions(root, scenario, results),
            Plot::LatencyPercentiles => latency::percentiles(root, scenario, results),
            Plot::LatencyCdf => latency::cdf(root, scenario, results),
            Plot::ServerLoad => server_load::draw(root, scenario, results),
            Plot::SessionsDestroyed => faults::sessions_destroyed(root, scenario, results),
        }?;
        root.present()
    }

    /// The chart as an SVG document.
    pub fn svg(self, scenario: &Scenario, results: &[StrategyResult]) -> String {
        font::register();
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root, scenario, results)
                .unwrap_or_else(|err| panic!("drawing {} as SVG: {err}", self.name()));
        }
        text
    }

    /// The chart as a PNG file (8-bit RGB).
    pub fn png(self, scenario: &Scenario, results: &[StrategyResult]) -> Vec<u8> {
        font::register();
        let mut pixels = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root, scenario, results)
                .unwrap_or_else(|err| panic!("drawing {} as PNG: {err}", self.name()));
        }
        let mut png = Vec::new();
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut png),
            &pixels,
            WIDTH,
            HEIGHT,
            image::ColorType::Rgb8,
        )
        .expect("encoding a PNG into memory cannot fail");
        png
    }
}

/// Every plot as `NAME.svg` then `NAME.png`, in [`Plot::ALL`] order.
///
/// Drawing into memory cannot fail for a reason the user could fix (the
/// font is compiled in and tested), so a failure here is a bug and panics.
pub fn render(scenario: &Scenario, results: &[StrategyResult]) -> Vec<(String, Vec<u8>)> {
    font::register();
    let mut files = Vec::with_capacity(Plot::ALL.len() * 2);
    for plot in Plot::ALL {
        files.push((
            format!("{}.svg", plot.name()),
            plot.svg(scenario, results).into_bytes(),
        ));
        files.push((format!("{}.png", plot.name()), plot.png(scenario, results)));
    }
    files
}

/// Colour-blind-safe colours (Okabe and Ito), then three more, so that
/// neighbouring lines differ in hue and brightness alike.
pub(super) const PALETTE: [RGBColor; 10] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
    RGBColor(148, 103, 189), // purple
    RGBColor(140, 86, 75),   // brown
    RGBColor(127, 127, 127), // grey
];

/// The colour of the `index`-th strategy (or server), the same in every chart.
pub(crate) fn color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// The width of strategy `index`'s line out of `count`: earlier lines are
/// wider, so that when two strategies give the same numbers (sticky and
/// round-robin with in-memory sessions have the same latency, two Redis
/// strategies lose nothing) the later line runs inside the earlier one and
/// both colours stay visible.
pub(crate) fn line_width(index: usize, count: usize) -> u32 {
    3 + 2 * (count.saturating_sub(index + 1)).min(4) as u32
}

/// Text in the bundled font at `size` pixels.
pub(crate) fn text_style(size: u32) -> TextStyle<'static> {
    TextStyle::from((FAMILY, f64::from(size)).into_font()).color(&BLACK)
}

/// Fills the canvas frame: a centred title, then a legend strip naming
/// each entry with its colour, wrapped onto as many rows as needed. Returns
/// the area left for the chart. The legend sits outside the plotting area
/// so it never hides data.
pub(crate) fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    legend: &[(String, RGBColor)],
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    frame_with_key(root, title, legend, &[])
}

/// The key of the numbered fault markers of a time chart: `1 server_crash
/// (server 1) 00:10:00`, one entry per fault within the run.
fn fault_key(scenario: &Scenario) -> Vec<String> {
    let end = crate::sim::time::SimTime::ZERO + scenario.duration;
    scenario
        .faults
        .iter()
        .enumerate()
        .filter(|(_, f)| f.at <= end)
        .map(|(i, f)| format!("{} {} {}", i + 1, fault_short_label(f), f.at))
        .collect()
}

/// [`frame`], then under the legend the entries of `key` (text without a
/// swatch), wrapped the same way: the fault markers' key.
fn frame_with_key<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    legend: &[(String, RGBColor)],
    key: &[String],
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    let (width, _) = root.dim_in_pixel();
    let title_style = text_style(TITLE_SIZE).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new(
        title.to_string(),
        (width as i32 / 2, 14),
        title_style,
    ))?;
    let mut y = 14 + TITLE_SIZE as i32 + 16;

    // Lay the entries out in rows, then centre each row.
    const SWATCH: i32 = 44;
    const GAP: i32 = 12;
    const SPACING: i32 = 40;
    let style = text_style(TICK_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
    // Legend entries have a colour swatch; key entries are text alone.
    let entries = legend
        .iter()
        .map(|(label, color)| (label.as_str(), Some(*color)))
        .chain(key.iter().map(|label| (label.as_str(), None)));
    let mut rows: Vec<Vec<(&str, Option<RGBColor>, i32)>> = vec![Vec::new()];
    let mut row_width = 0;
    let mut in_key = false;
    for (label, color) in entries {
        let (text_width, _) = root.estimate_text_size(label, &style)?;
        let entry = if color.is_some() { SWATCH + GAP } else { 0 } + text_width as i32;
        let current = rows.last_mut().expect("at least one row");
        // The key starts on a row of its own.
        let key_starts = color.is_none() && !in_key;
        in_key |= color.is_none();
        if !current.is_empty() && (key_starts || row_width + SPACING + entry > width as i32 - 80) {
            rows.push(Vec::new());
            row_width = 0;
        }
        let current = rows.last_mut().expect("at least one row");
        if !current.is_empty() {
            row_width += SPACING;
        }
        current.push((label, color, entry));
        row_width += entry;
    }
    for row in rows.iter().filter(|row| !row.is_empty()) {
        let total: i32 =
            row.iter().map(|(_, _, w)| w).sum::<i32>() + SPACING * (row.len() as i32 - 1);
        let mut x = (width as i32 - total) / 2;
        let middle = y + TICK_SIZE as i32 / 2 + 4;
        for (label, color, entry) in row {
            let mut text_x = x;
            if let Some(color) = color {
                root.draw(&PathElement::new(
                    vec![(x, middle), (x + SWATCH, middle)],
                    color.stroke_width(6),
                ))?;
                text_x += SWATCH + GAP;
            }
            root.draw(&Text::new(
                label.to_string(),
                (text_x, middle),
                style.clone(),
            ))?;
            x += entry + SPACING;
        }
        y += TICK_SIZE as i32 + 16;
    }
    Ok(root.split_vertically(y + 8).1)
}

/// The legend entries for the strategies, in result order.
fn strategy_legend(results: &[StrategyResult]) -> Vec<(String, RGBColor)> {
    results
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.clone(), color(i)))
        .collect()
}

/// A fault as a chart label says it, e.g. `server_crash (server 2)`.
fn fault_short_label(fault: &Fault) -> String {
    crate::sim::fault::words::short_label(fault)
}

/// A tick label for a number: integers with thousands separators, other
/// values with up to three decimals and no trailing zeros.
pub(crate) fn number_label(value: f64) -> String {
    if value.abs() >= 1.0 && (value - value.round()).abs() < 1e-9 {
        let sign = if value < 0.0 { "-" } else { "" };
        return format!(
            "{sign}{}",
            super::table::thousands(value.abs().round() as u64)
        );
    }
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::runner::{self, Overrides};
    use crate::scenario::{self, bundled};
    use crate::sim::time::SimDuration;

    #[test]
    fn the_same_run_gives_the_same_bytes() {
        let b = bundled::find("sticky-vs-redis").expect("bundled");
        let mut scenario = scenario::parse(b.text, Path::new(b.file)).expect("valid");
        Overrides {
            seed: None,
            users: Some(200),
            duration: Some(SimDuration::from_secs(20 * 60)),
        }
        .apply(&mut scenario);
        // Two separate runs, so that this also covers the results' own
        // determinism as the plots see it (histograms, time series).
        let first = render(&scenario, &runner::run(&scenario));
        let second = render(&scenario, &runner::run(&scenario));
        assert_eq!(first.len(), 2 * Plot::ALL.len());
        for ((name, bytes), (other_name, other)) in first.iter().zip(&second) {
            assert_eq!(name, other_name);
            assert!(bytes == other, "{name} differs between two renderings");
        }
    }

    #[test]
    fn number_labels_read_naturally() {
        assert_eq!(number_label(0.0), "0");
        assert_eq!(number_label(2500.0), "2,500");
        assert_eq!(number_label(0.25), "0.25");
        assert_eq!(number_label(7.5), "7.5");
        assert_eq!(number_label(0.001), "0.001");
    }
}
