//! Plots and reports: the files a run writes for people rather than
//! scripts.

use std::fs;
use std::path::Path;

use crate::support::{lbsim, repo, stderr};
use lbsim::report::plot::{HEIGHT, Plot, WIDTH};

/// The axis titles each plot must show (report_interval is 10s in
/// `sticky-vs-redis`).
fn axis_titles(plot: Plot) -> &'static [&'static str] {
    match plot {
        Plot::ForcedLogouts => &["time (minutes)", "forced logouts per 10s"],
        Plot::ActiveSessions => &["time (minutes)", "active sessions (unexpired)"],
        Plot::LatencyPercentiles => &["percentile", "latency (ms)"],
        Plot::LatencyCdf => &["latency (ms, log scale)", "requests at or below (%)"],
        Plot::ServerLoad => &["time (minutes)", "requests per 10s"],
        Plot::SessionsDestroyed => &["fault (numbered as in the key)", "sessions destroyed"],
    }
}

/// Runs `sticky-vs-redis`, small, in a fresh folder; returns the folder
/// (kept alive) and the results folder.
fn run(extra: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/sticky-vs-redis.toml");
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--users",
        "300",
        "--duration",
        "20m",
    ];
    args.extend_from_slice(extra);
    let out = lbsim(dir.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let results = dir.path().join("results/sticky-vs-redis");
    (dir, results)
}

/// `summary.csv` as records (header excluded).
fn summary(results: &Path) -> Vec<csv::StringRecord> {
    let text = fs::read_to_string(results.join("summary.csv")).unwrap();
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap())
        .collect()
}

#[test]
fn every_plot_is_written_as_svg_and_png_with_names_and_axis_titles() {
    let (_dir, results) = run(&[]);
    let strategies: Vec<String> = summary(&results).iter().map(|r| r[0].to_string()).collect();
    assert_eq!(strategies.len(), 4);
    for plot in Plot::ALL {
        let png = fs::read(results.join(format!("{}.png", plot.name()))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{}", plot.name());
        // The first chunk is IHDR: length 13, then width and height.
        assert_eq!(&png[8..16], b"\0\0\0\x0dIHDR", "{}", plot.name());
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((width, height), (WIDTH, HEIGHT), "{}", plot.name());
        assert_eq!((WIDTH, HEIGHT), (1600, 900));

        let svg = fs::read_to_string(results.join(format!("{}.svg", plot.name()))).unwrap();
        assert!(svg.starts_with("<svg"), "{}", plot.name());
        for name in &strategies {
            assert!(svg.contains(name.as_str()), "{}: no {name}", plot.name());
        }
        for title in axis_titles(plot) {
            assert!(
                svg.contains(title),
                "{}: no axis title {title}",
                plot.name()
            );
        }
    }
    // Faults are marked on the time charts.
    let svg = fs::read_to_string(results.join("forced_logouts.svg")).unwrap();
    assert!(svg.contains("server_crash (server 2) 00:15:00"), "{svg}");
}

#[test]
fn the_report_has_the_summary_numbers_the_plots_and_no_external_links() {
    let (_dir, results) = run(&[]);
    let markdown = fs::read_to_string(results.join("report.md")).unwrap();
    for record in summary(&results) {
        let name = &record[0];
        // Every table row of this strategy, e.g.
        // `| sticky + in-memory | 45,210 | 1,090 | 52 | ...`.
        let rows: Vec<&str> = markdown
            .lines()
            .filter(|line| line.starts_with(&format!("| {name} |")))
            .collect();
        assert!(!rows.is_empty(), "no row for {name}:\n{markdown}");
        // The CSV's numbers as the terminal writes them: counts with
        // thousands separators, the logout share as a percentage, ms with
        // two decimals.
        let shown = |i: usize| -> String {
            let value = &record[i];
            match i {
                3..=8 => lbsim::report::table::thousands(value.parse().unwrap()),
                9 => format!("{:.2}%", value.parse::<f64>().unwrap()),
                _ => format!("{:.2}", value.parse::<f64>().unwrap()),
            }
        };
        // The forced logouts right after the requests and logins.
        let outcome = format!("| {name} | {} | {} | {} |", shown(3), shown(4), shown(5));
        assert!(markdown.contains(&outcome), "{outcome}\n{markdown}");
        // Every number of the CSV row is a cell of one of its rows.
        // (The numeric columns: the store's settings after them are words.)
        for i in 3..17 {
            let cell = format!("| {} |", shown(i));
            assert!(
                rows.iter().any(|row| row.contains(&cell)),
                "{name}: {cell} missing from {rows:?}"
            );
        }
    }
    for plot in Plot::ALL {
        assert!(markdown.contains(&format!("]({}.png)", plot.name())));
    }
    assert!(markdown.contains("server_crash"), "{markdown}");

    let html = fs::read_to_string(results.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), Plot::ALL.len());
    assert!(html.contains("<style>"));
    for external in ["href=", "src=", "<link", "@import"] {
        assert!(!html.contains(external), "report.html has {external}");
    }
}

#[test]
fn no_plots_writes_no_images_and_a_report_without_them() {
    let (_dir, results) = run(&["--no-plots"]);
    for entry in fs::read_dir(&results).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            !name.ends_with(".svg") && !name.ends_with(".png"),
            "--no-plots wrote {name}"
        );
    }
    let markdown = fs::read_to_string(results.join("report.md")).unwrap();
    assert!(!markdown.contains("!["), "{markdown}");
    let html = fs::read_to_string(results.join("report.html")).unwrap();
    assert!(!html.contains("<svg"));
}

/// A piece of text of an SVG and the box it covers, in pixels.
#[derive(Debug)]
struct TextBox {
    text: String,
    x: (f64, f64),
    y: (f64, f64),
}

/// The boxes of every `<text>` of a plotters SVG, measured with the font
/// the plots use (DejaVu Sans, the file compiled into lbsim): the advance
/// widths of the glyphs, one em tall (ascender 0.76 em above the baseline,
/// descender 0.24 em below, DejaVu's proportions), placed by the anchor
/// (`text-anchor`), the vertical offset plotters writes (`dy`: 0.76em for
/// text hung from its top, ±0.5ex for centred or bottom text, an ex being
/// DejaVu's x-height of 0.545 em) and the rotation of vertical axis titles.
fn text_boxes(svg: &str) -> Vec<TextBox> {
    use ab_glyph::{Font, FontRef};
    let bytes = std::fs::read(repo().join("src/report/font/DejaVuSans.ttf")).unwrap();
    let font = FontRef::try_from_slice(&bytes).unwrap();
    let em = font.units_per_em().unwrap();
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(tag[start..].split('"').next()?.to_string())
    };
    let mut boxes = Vec::new();
    for piece in svg.split("<text").skip(1) {
        let (tag, rest) = piece.split_once('>').unwrap();
        let text = rest.split("</text>").next().unwrap().trim().to_string();
        let num = |name: &str| attr(tag, name).unwrap().parse::<f64>().unwrap();
        let (x, y, size) = (num("x"), num("y"), num("font-size"));
        let width: f64 = text
            .chars()
            .map(|c| f64::from(font.h_advance_unscaled(font.glyph_id(c))) / f64::from(em))
            .sum::<f64>()
            * size;
        let baseline = match attr(tag, "dy").as_deref() {
            Some("0.76em") => y + 0.76 * size,
            Some("0.5ex") => y + 0.5 * 0.545 * size,
            Some("-0.5ex") => y - 0.5 * 0.545 * size,
            None => y,
            Some(other) => panic!("unexpected dy {other}"),
        };
        let left = match attr(tag, "text-anchor").as_deref() {
            Some("middle") => x - width / 2.0,
            Some("end") => x - width,
            _ => x,
        };
        let (dx, dy) = (
            (left - x, left - x + width),
            (baseline - 0.76 * size - y, baseline + 0.24 * size - y),
        );
        // rotate(270, x, y) turns (x + a, y + b) into (x + b, y - a).
        let (xs, ys) = if attr(tag, "transform").is_some_and(|t| t.starts_with("rotate(270")) {
            ((x + dy.0, x + dy.1), (y - dx.1, y - dx.0))
        } else {
            ((x + dx.0, x + dx.1), (y + dy.0, y + dy.1))
        };
        boxes.push(TextBox { text, x: xs, y: ys });
    }
    boxes
}

/// Pairs of boxes that overlap by more than a pixel each way.
fn overlaps(boxes: &[TextBox]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let wide = a.x.1.min(b.x.1) - a.x.0.max(b.x.0);
            let tall = a.y.1.min(b.y.1) - a.y.0.max(b.y.0);
            if wide > 1.0 && tall > 1.0 {
                found.push(format!("{:?} / {:?}", a.text, b.text));
            }
        }
    }
    found
}

#[test]
fn the_text_box_measure_finds_an_overlap_and_none_where_there_is_none() {
    let svg = r#"<svg><text x="100" y="100" dy="0.76em" font-size="20">server_crash 00:10:00</text>
<text x="150" y="105" dy="0.76em" font-size="20">redis_restart</text>
<text x="100" y="140" dy="0.76em" font-size="20">below</text>
<text x="16" y="400" dy="0.76em" text-anchor="middle" font-size="25" transform="rotate(270, 16, 400)">a vertical axis title</text></svg>"#;
    let boxes = text_boxes(svg);
    // 21 characters of DejaVu at 20 px are about 220 px wide.
    assert!(
        (180.0..260.0).contains(&(boxes[0].x.1 - boxes[0].x.0)),
        "{boxes:?}"
    );
    // The rotated title is tall, not wide.
    assert!(boxes[3].y.1 - boxes[3].y.0 > 150.0 && boxes[3].x.1 - boxes[3].x.0 < 30.0);
    assert_eq!(
        overlaps(&boxes),
        ["\"server_crash 00:10:00\" / \"redis_restart\""]
    );
}

#[test]
fn no_text_overlaps_in_any_plot_of_any_bundled_scenario() {
    use lbsim::report::plot::Plot;
    for bundled in lbsim::scenario::bundled::BUNDLED {
        let mut scenario =
            lbsim::scenario::parse(bundled.text, std::path::Path::new(bundled.file)).unwrap();
        // Fewer users: the layout depends on the faults and strategies,
        // not on how many users there are.
        lbsim::runner::Overrides {
            seed: None,
            users: Some(scenario.workload.users.min(500)),
            duration: None,
        }
        .apply(&mut scenario);
        let results = lbsim::runner::run(&scenario);
        for plot in Plot::ALL {
            let svg = plot.svg(&scenario, &results);
            let boxes = text_boxes(&svg);
            assert!(boxes.len() >= 2, "{} {}", bundled.file, plot.name());
            let found = overlaps(&boxes);
            assert!(
                found.is_empty(),
                "{} {}: {found:?}",
                bundled.file,
                plot.name()
            );
        }
    }
}
