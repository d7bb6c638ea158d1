//! The comparison as text: tables for people, CSV for scripts. Pure.
//!
//! Numbers are shown as the files wrote them (counts with thousands
//! separators in the tables), and B − A with as many decimals as the more
//! precise of the two, so a difference of latencies written to the
//! microsecond reads `+0.012`, not `+0.01200000000000001`.

use std::path::Path;

use crate::report::table::{full_width_table, right_align_from};

use super::diff::Difference;
use super::read::{FAULTS, Number, ResultsFile};
use super::{Compared, FilePart};
use crate::report::table::{count, thousands};

/// A table per file, each with a line saying what was compared.
pub fn table(a: &Path, b: &Path, parts: &[FilePart]) -> String {
    let mut out = format!("A: {}\nB: {}\n", a.display(), b.display());
    let mut any_difference = false;
    for part in parts {
        out.push('\n');
        match part {
            FilePart::OnlyIn { file, side } => {
                any_difference = true;
                out.push_str(&format!("{file}: only in {side}, not compared\n"));
            }
            FilePart::Compared(compared) => {
                let c = &compared.comparison;
                any_difference |=
                    !c.differences.is_empty() || !c.only_in_a.is_empty() || !c.only_in_b.is_empty();
                out.push_str(&file_section(compared));
            }
        }
    }
    if !any_difference {
        out.push_str("\nno differences: A and B have the same numbers\n");
    }
    out
}

/// One file's heading line, its table of differences, and the rows only
/// one folder has.
fn file_section(compared: &Compared) -> String {
    let Compared {
        schema, comparison, ..
    } = compared;
    let c = comparison;
    let (one, many) = schema.row_noun;
    let shared = match c.shared.len() {
        1 => format!("1 {one} in both"),
        n => format!("{} {many} in both", thousands(n as u64)),
    };
    let mut out = match c.differences.len() {
        0 => format!("{}: no differences ({shared})\n", schema.file),
        1 => format!("{}: 1 number differs ({shared})\n", schema.file),
        n => format!(
            "{}: {} differ ({shared})\n",
            schema.file,
            count(n as u64, "number")
        ),
    };
    if !c.differences.is_empty() {
        out.push_str(&differences_table(schema.key_columns, &c.differences));
        out.push('\n');
    }
    for (side, keys) in [("A", &c.only_in_a), ("B", &c.only_in_b)] {
        if !keys.is_empty() {
            let described: Vec<String> = keys
                .iter()
                .map(|k| describe(schema.key_columns, k))
                .collect();
            out.push_str(&format!("only in {side}: {}\n", described.join("; ")));
        }
    }
    out
}

fn differences_table(key_columns: &[&str], differences: &[Difference]) -> String {
    let mut table = full_width_table();
    let header = key_columns
        .iter()
        .copied()
        .chain(["metric", "A", "B", "B − A", "change"]);
    table.set_header(header);
    for d in differences {
        let mut row = d.key.clone();
        row.extend([
            d.metric.to_string(),
            shown(&d.a),
            shown(&d.b),
            delta(d, true),
            d.change_pct()
                .map_or_else(|| "— (A is 0)".to_string(), |p| format!("{p:+.2}%")),
        ]);
        table.add_row(row);
    }
    // The key columns and the metric's name are text; the rest numbers.
    right_align_from(&mut table, key_columns.len() + 1);
    table.to_string()
}

/// A row's key in words: `sticky + in-memory`, or for `faults.csv`
/// `sticky + in-memory, fault 1, kind server_crash`.
fn describe(key_columns: &[&str], key: &[String]) -> String {
    let mut text = key[0].clone();
    for (name, value) in key_columns.iter().zip(key).skip(1) {
        text.push_str(&format!(", {name} {value}"));
    }
    text
}

/// The number as the file wrote it, a whole number with thousands
/// separators.
fn shown(number: &Number) -> String {
    match number.text.parse::<i64>() {
        Ok(whole) => signed_thousands(whole, false),
        Err(_) => number.text.clone(),
    }
}

/// B − A with the sign always shown, to the precision of the more precise
/// of the two texts; `separators` adds thousands separators to whole
/// numbers (tables, not CSV).
fn delta(d: &Difference, separators: bool) -> String {
    let decimals = decimals(&d.a.text).max(decimals(&d.b.text));
    if decimals == 0 && separators {
        signed_thousands(d.delta().round() as i64, true)
    } else {
        format!("{:+.*}", decimals, d.delta())
    }
}

/// Digits after the decimal point.
fn decimals(text: &str) -> usize {
    text.split_once('.')
        .map_or(0, |(_, fraction)| fraction.len())
}

fn signed_thousands(n: i64, plus: bool) -> String {
    let sign = match (n < 0, plus) {
        (true, _) => "-",
        (false, true) => "+",
        (false, false) => "",
    };
    format!("{sign}{}", thousands(n.unsigned_abs()))
}

/// One CSV line per number that differs, and per number of a row only one
/// folder has (the other side empty). The columns are those of
/// `faults.csv`'s key, so a `summary.csv` line leaves `fault` and `kind`
/// empty.
pub fn csv(parts: &[FilePart]) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let key_columns = FAULTS.key_columns;
    let header = ["file"]
        .into_iter()
        .chain(key_columns.iter().copied())
        .chain(["metric", "a", "b", "difference", "change_pct"]);
    w.write_record(header).expect("in-memory");
    for part in parts {
        let FilePart::Compared(compared) = part else {
            continue;
        };
        let schema = compared.schema;
        // The key's cells under the CSV's key columns, by name.
        let key_cells = |key: &[String]| -> Vec<String> {
            key_columns
                .iter()
                .map(|column| {
                    schema
                        .key_columns
                        .iter()
                        .position(|c| c == column)
                        .map_or_else(String::new, |i| key[i].clone())
                })
                .collect()
        };
        for d in &compared.comparison.differences {
            let mut record = vec![schema.file.to_string()];
            record.extend(key_cells(&d.key));
            record.extend([
                d.metric.to_string(),
                d.a.text.clone(),
                d.b.text.clone(),
                delta(d, false),
                d.change_pct()
                    .map_or_else(String::new, |p| format!("{p:.3}")),
            ]);
            w.write_record(record).expect("in-memory");
        }
        let sides: [(&[Vec<String>], &ResultsFile, bool); 2] = [
            (&compared.comparison.only_in_a, &compared.a, true),
            (&compared.comparison.only_in_b, &compared.b, false),
        ];
        for (keys, file, is_a) in sides {
            for key in keys {
                let row = file.row(key).expect("a key read from this file");
                for (metric, number) in file.metrics.iter().zip(&row.numbers) {
                    let (a, b) = if is_a {
                        (number.text.clone(), String::new())
                    } else {
                        (String::new(), number.text.clone())
                    };
                    let mut record = vec![schema.file.to_string()];
                    record.extend(key_cells(key));
                    record.extend([metric.to_string(), a, b, String::new(), String::new()]);
                    w.write_record(record).expect("in-memory");
                }
            }
        }
    }
    String::from_utf8(w.into_inner().expect("in-memory CSV writer")).expect("UTF-8 cells")
}
