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
        Plot::SessionsDestroyed => &["fault (time since start)", "sessions destroyed"],
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
        // `| sticky + in-memory | 45210 | 1090 | 52 | ...`.
        let rows: Vec<&str> = markdown
            .lines()
            .filter(|line| line.starts_with(&format!("| {name} |")))
            .collect();
        assert!(!rows.is_empty(), "no row for {name}:\n{markdown}");
        // The forced logouts right after the requests and logins.
        let outcome = format!(
            "| {name} | {} | {} | {} |",
            &record[3], &record[4], &record[5]
        );
        assert!(markdown.contains(&outcome), "{outcome}\n{markdown}");
        // Every number of the CSV row is a cell of one of its rows.
        for value in record.iter().skip(3) {
            let cell = format!("| {value} |");
            assert!(
                rows.iter().any(|row| row.contains(&cell)),
                "{name}: {value} missing from {rows:?}"
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
