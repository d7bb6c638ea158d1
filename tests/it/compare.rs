//! `lbsim compare`: the numbers that differ between two results folders,
//! matched by strategy, and clear errors for folders it cannot read.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::support::{lbsim, stderr, stdout};

/// Runs `sticky-crash` for 12 minutes into `dir/folder` with `users` users.
fn run(dir: &Path, folder: &str, users: &str) {
    let out = lbsim(
        dir,
        &[
            "run",
            "sticky-crash",
            "--duration",
            "12m",
            "--users",
            users,
            "--no-plots",
            "-q",
            "--out",
            folder,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The numbers of a folder's `summary.csv` as (strategy, column) -> text.
fn summary(folder: &Path) -> BTreeMap<(String, String), String> {
    let mut reader = csv::Reader::from_path(folder.join("summary.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let mut cells = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        // The measured numbers (the store's settings after them are not).
        let numeric = lbsim::report::SummaryRow::NUMERIC_COLUMNS;
        for (column, value) in header
            .iter()
            .zip(record.iter())
            .filter(|(c, _)| numeric.contains(c))
        {
            cells.insert(
                (record[0].to_string(), column.to_string()),
                value.to_string(),
            );
        }
    }
    cells
}

#[test]
fn two_user_counts_differ_exactly_where_the_summaries_do() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), "a", "500");
    run(dir.path(), "b", "800");
    let (a, b) = (
        summary(&dir.path().join("a")),
        summary(&dir.path().join("b")),
    );

    let out = lbsim(dir.path(), &["compare", "a", "b", "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "file",
            "strategy",
            "fault",
            "kind",
            "metric",
            "a",
            "b",
            "difference",
            "change_pct"
        ]
    );
    let mut listed = Vec::new();
    for record in reader.records() {
        let r = record.unwrap();
        if &r[0] != "summary.csv" {
            continue;
        }
        let key = (r[1].to_string(), r[4].to_string());
        assert_eq!(&r[5], a[&key].as_str(), "{key:?}");
        assert_eq!(&r[6], b[&key].as_str(), "{key:?}");
        let (va, vb): (f64, f64) = (r[5].parse().unwrap(), r[6].parse().unwrap());
        let difference: f64 = r[7].parse().unwrap();
        assert!((difference - (vb - va)).abs() < 1e-9, "{key:?}: {}", &r[7]);
        if va != 0.0 {
            let change: f64 = r[8].parse().unwrap();
            assert!((change - 100.0 * (vb - va) / va).abs() < 0.001, "{key:?}");
        }
        listed.push(key);
    }
    // Every number that differs is listed, and nothing else.
    let differing: Vec<(String, String)> = a
        .iter()
        .filter(|(key, value)| b[*key].parse::<f64>().unwrap() != value.parse::<f64>().unwrap())
        .map(|(key, _)| key.clone())
        .collect();
    listed.sort();
    assert_eq!(listed, differing);
    // 500 against 800 users: at least the requests differ for every strategy.
    assert!(listed.iter().filter(|(_, m)| m == "requests").count() == 3);

    // The table shows the same, counts with thousands separators.
    let out = lbsim(dir.path(), &["compare", "a", "b"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.starts_with("A: a\nB: b\n"), "{table}");
    let key = ("sticky + in-memory".to_string(), "requests".to_string());
    let (ra, rb): (u64, u64) = (a[&key].parse().unwrap(), b[&key].parse().unwrap());
    let row = table
        .lines()
        .find(|l| l.contains("sticky + in-memory") && l.contains(" requests "))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split(['│', '┆']).map(str::trim).collect();
    let thousands = lbsim::report::table::thousands;
    assert_eq!(cells[3], thousands(ra), "{row}");
    assert_eq!(cells[4], thousands(rb), "{row}");
    assert_eq!(cells[5], format!("+{}", thousands(rb - ra)), "{row}");
    assert!(table.contains(&format!("summary.csv: {} numbers differ", differing.len())));
    assert!(!table.contains("no differences: A and B"), "{table}");
}

#[test]
fn a_folder_against_itself_has_no_differences_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), "a", "300");
    let out = lbsim(dir.path(), &["compare", "a", "a"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("summary.csv: no differences (3 strategies in both)"),
        "{text}"
    );
    assert!(text.contains("faults.csv: no differences"), "{text}");
    assert!(
        text.ends_with("no differences: A and B have the same numbers\n"),
        "{text}"
    );
    let csv = lbsim(dir.path(), &["compare", "a", "a", "--format", "csv"]);
    assert_eq!(stdout(&csv).lines().count(), 1, "only the header");
}

#[test]
fn a_strategy_in_one_folder_only_is_listed_as_such() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), "a", "300");
    // B: the same results without the second strategy.
    fs::create_dir(dir.path().join("b")).unwrap();
    for file in ["summary.csv", "faults.csv"] {
        let text = fs::read_to_string(dir.path().join("a").join(file)).unwrap();
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with("sticky + redis,"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(kept.len() < text.len(), "{file} has the strategy");
        fs::write(dir.path().join("b").join(file), kept).unwrap();
    }
    let out = lbsim(dir.path(), &["compare", "a", "b"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("summary.csv: no differences (2 strategies in both)"),
        "{text}"
    );
    assert!(text.contains("only in A: sticky + redis\n"), "{text}");
    // Said once: its faults are not listed again.
    assert_eq!(text.matches("only in A").count(), 1, "{text}");
    assert!(!text.contains("no differences: A and B"), "{text}");
}

#[test]
fn unreadable_folders_and_files_are_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), "a", "300");
    let failed = |args: &[&str], expected: &str| {
        let out = lbsim(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "{args:?}");
    };
    failed(&["compare", "a", "missing"], "missing: no such folder");

    fs::create_dir(dir.path().join("empty")).unwrap();
    failed(&["compare", "empty", "a"], "empty/summary.csv: cannot read");

    let good = fs::read_to_string(dir.path().join("a/summary.csv")).unwrap();
    let bad = |name: &str, text: String| {
        fs::create_dir_all(dir.path().join(name)).unwrap();
        fs::write(dir.path().join(name).join("summary.csv"), text).unwrap();
    };
    // A number that is not one, on the third line.
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    let mut cells: Vec<String> = lines[2].split(',').map(str::to_string).collect();
    cells[3] = "lots".to_string();
    lines[2] = cells.join(",");
    bad("word", lines.join("\n"));
    failed(
        &["compare", "a", "word"],
        "word/summary.csv: line 3: requests is `lots`, not a number",
    );
    // A line cut short.
    bad(
        "short",
        format!("{}\nsticky + in-memory,sticky\n", good.trim_end()),
    );
    failed(&["compare", "short", "a"], "short/summary.csv: line");
    // Not a summary at all.
    bad("other", "t_s,requests\n1,2\n".to_string());
    failed(
        &["compare", "a", "other"],
        "other/summary.csv: no `strategy` column",
    );
}
