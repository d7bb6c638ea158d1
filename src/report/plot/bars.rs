//! Grouped bar charts: one group per category (a percentile, a fault), one
//! bar per strategy in its colour, with the value written above each bar:
//! across it when it fits the bar's width, else upright along it.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Drawn, LABEL_SIZE, TICK_SIZE, number_label, text_style};

/// One bar per group for one strategy.
pub(super) struct BarSeries {
    pub color: RGBColor,
    /// One value per group; `None` draws no bar (e.g. a fault after the end
    /// of the run).
    pub values: Vec<Option<f64>>,
}

/// Share of a group's width taken by its bars; the rest separates groups.
const GROUP_FILL: f64 = 0.8;

/// Draws the groups on `area` (below the caller's title and legend).
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    groups: &[String],
    series: &[BarSeries],
    x_desc: &str,
    y_desc: &str,
    value_label: impl Fn(f64) -> String,
) -> Drawn<DB> {
    let highest = series
        .iter()
        .flat_map(|s| s.values.iter().flatten().copied())
        .fold(0.0f64, f64::max);
    // Headroom for the value labels, which may stand upright (about a
    // third of the plot's height for the widest).
    let top = if highest > 0.0 { highest * 1.4 } else { 1.0 };
    let count = groups.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .margin_left(16)
        .margin_right(40)
        .margin_bottom(12)
        .x_label_area_size(LABEL_SIZE + TICK_SIZE + 36)
        .y_label_area_size(LABEL_SIZE + 4 * TICK_SIZE)
        .build_cartesian_2d(0.0..count as f64, 0.0..top)?;
    let y_format = |y: &f64| number_label(*y);
    chart
        .configure_mesh()
        .disable_x_mesh()
        // The group names are written under each group below, not at the
        // round numbers plotters would pick.
        .x_labels(0)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style(text_style(LABEL_SIZE))
        .label_style(text_style(TICK_SIZE))
        .y_label_formatter(&y_format)
        .max_light_lines(2)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()?;

    let group_style = text_style(TICK_SIZE).pos(Pos::new(HPos::Center, VPos::Top));
    for (index, group) in groups.iter().enumerate() {
        chart.draw_series(std::iter::once(
            EmptyElement::at((index as f64 + 0.5, 0.0))
                + Text::new(group.clone(), (0, 10), group_style.clone()),
        ))?;
    }

    let bar_width = GROUP_FILL / series.len().max(1) as f64;
    let plot_width = chart.plotting_area().dim_in_pixel().0 as f64;
    let bar_pixels = plot_width * bar_width / count as f64;
    let value_style = text_style(TICK_SIZE - 4).pos(Pos::new(HPos::Center, VPos::Bottom));
    // Rotated a quarter turn, the text runs up from its anchor.
    let upright_style = text_style(TICK_SIZE - 4)
        .transform(FontTransform::Rotate270)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (j, s) in series.iter().enumerate() {
        for (group, value) in s.values.iter().enumerate() {
            let Some(value) = *value else { continue };
            let x0 = group as f64 + (1.0 - GROUP_FILL) / 2.0 + j as f64 * bar_width;
            let x1 = x0 + bar_width * 0.92;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x1, value)],
                s.color.filled(),
            )))?;
            let label = value_label(value);
            let (text_width, _) = area.estimate_text_size(&label, &value_style)?;
            let text = if f64::from(text_width) <= bar_pixels {
                Text::new(label, (0, -4), value_style.clone())
            } else {
                Text::new(label, (0, -6), upright_style.clone())
            };
            chart.draw_series(std::iter::once(
                EmptyElement::at(((x0 + x1) / 2.0, value)) + text,
            ))?;
        }
    }
    Ok(())
}
