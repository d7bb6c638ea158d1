//! report.html in a real browser: Debian's Chromium, headless, takes a
//! screenshot of the page (scripts/test.sh installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{lbsim, stderr};

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(name).output()
            && out.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!("no chromium on PATH: install it (apt-get install chromium; scripts/test.sh does)");
}

/// A screenshot of `page`, `width` × `height` CSS pixels at scale 1.
fn screenshot(page: &Path, width: u32, height: u32) -> image::RgbImage {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("page.png");
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            // Containers often give /dev/shm only 64 MB, which Chromium
            // outgrows; /tmp serves instead.
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(png.exists(), "no screenshot: {}", stderr(&out));
    image::open(&png).unwrap().to_rgb8()
}

/// Pixels within 40 (per channel) of `color`.
fn count(img: &image::RgbImage, color: [u8; 3]) -> usize {
    img.pixels()
        .filter(|p| p.0.iter().zip(color).all(|(a, b)| a.abs_diff(b) <= 40))
        .count()
}

#[test]
fn the_report_renders_in_chromium_with_pass_and_fail_in_their_own_colours() {
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(
        dir.path(),
        &[
            "run",
            "comparison-table",
            "--users",
            "600",
            "--duration",
            "45m",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let page = dir.path().join("results/comparison-table/report.html");
    let img = screenshot(&page, 1400, 9000);
    assert_eq!(img.dimensions(), (1400, 9000));
    // Something was drawn: not a blank page. Text is near-black (#222),
    // the plots' lines are the strategies' colours (blue 0,114,178 first).
    let dark = count(&img, [34, 34, 34]);
    assert!(dark > 20_000, "{dark} dark pixels");
    assert!(count(&img, [0, 114, 178]) > 2_000, "no plot drawn");
    // The verdict's marks differ by colour, not only by an emoji a machine
    // without an emoji font draws as the same box: pass is green (#1a7f37),
    // fail red (#cf222e), and the words are there in either colour.
    let green = count(&img, [26, 127, 55]);
    let red = count(&img, [207, 34, 46]);
    assert!(green > 300 && red > 300, "green {green}, red {red}");
}
