//! Reading a results folder's CSV files back, for `lbsim compare`.
//!
//! Owns: checking that a file has the columns lbsim writes, and turning
//! each row into a key (what identifies it in the other folder) and its
//! numbers. Must not: compare anything. A file lbsim did not write, or one
//! edited by hand into something else, is an error naming the file and the
//! line, never a panic and never a silently skipped row.

use std::path::{Path, PathBuf};

use crate::report::SummaryRow;

/// What `lbsim compare` reads from one kind of CSV file.
pub struct Schema {
    /// The file name inside a results folder.
    pub file: &'static str,
    /// Columns whose text identifies a row: the same values in both folders
    /// mean the same strategy (and, for `faults.csv`, the same fault).
    pub key_columns: &'static [&'static str],
    /// Columns of numbers worth comparing, in file order. A folder written
    /// by an older lbsim may lack some; only those both files have are
    /// compared.
    pub metrics: &'static [&'static str],
    /// What one row is, singular and plural, for sentences such as
    /// "3 strategies in both".
    pub row_noun: (&'static str, &'static str),
}

/// `summary.csv`: one row per strategy.
pub const SUMMARY: Schema = Schema {
    file: "summary.csv",
    key_columns: &["strategy"],
    metrics: &SummaryRow::NUMERIC_COLUMNS,
    row_noun: ("strategy", "strategies"),
};

/// `faults.csv`: one row per strategy and fault. The fault's kind is part
/// of the key, so fault #2 of two different scenarios is not compared as if
/// it were the same fault.
pub const FAULTS: Schema = Schema {
    file: "faults.csv",
    key_columns: &["strategy", "fault", "kind"],
    metrics: &[
        "t_s",
        "sessions_destroyed",
        "forced_logouts",
        "expired_instead",
        "errors",
        "error_seconds",
    ],
    row_noun: ("fault row", "fault rows"),
};

/// A number as the file wrote it: the text keeps its decimals (so a
/// difference is shown to the same precision), the value is for arithmetic.
#[derive(Clone, Debug, PartialEq)]
pub struct Number {
    pub text: String,
    pub value: f64,
}

/// One row of a file, read back.
#[derive(Debug)]
pub struct Row {
    /// The key columns' values, in [`Schema::key_columns`] order.
    pub key: Vec<String>,
    /// One number per metric of [`ResultsFile::metrics`], in that order.
    pub numbers: Vec<Number>,
}

/// One CSV file of a results folder, read back.
#[derive(Debug)]
pub struct ResultsFile {
    /// The file, as errors and the output name it.
    pub path: PathBuf,
    /// The schema's metrics this file has, in the schema's order.
    pub metrics: Vec<&'static str>,
    pub rows: Vec<Row>,
}

impl ResultsFile {
    /// The row with this key, if the file has one.
    pub fn row(&self, key: &[String]) -> Option<&Row> {
        self.rows.iter().find(|r| r.key == key)
    }

    /// The number of `metric` in `row`, if this file has that column.
    pub fn number<'a>(&self, row: &'a Row, metric: &str) -> Option<&'a Number> {
        let index = self.metrics.iter().position(|m| *m == metric)?;
        Some(&row.numbers[index])
    }
}

/// Reads `folder/<schema.file>`, or says what is wrong with it.
pub fn read(folder: &Path, schema: &Schema) -> Result<ResultsFile, String> {
    let path = folder.join(schema.file);
    let shown = path.display();
    let text = std::fs::read_to_string(&path).map_err(|err| {
        format!("{shown}: cannot read: {err} (a results folder of `lbsim run` has one)")
    })?;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|err| format!("{shown}: not a CSV file: {err}"))?
        .clone();
    let column = |name: &str| header.iter().position(|h| h == name);
    let mut key_indexes = Vec::new();
    for name in schema.key_columns {
        let index = column(name).ok_or_else(|| {
            format!(
                "{shown}: no `{name}` column in its first line; is it a {} written by lbsim?",
                schema.file
            )
        })?;
        key_indexes.push(index);
    }
    let (metrics, metric_indexes): (Vec<&'static str>, Vec<usize>) = schema
        .metrics
        .iter()
        .filter_map(|m| column(m).map(|i| (*m, i)))
        .unzip();
    let mut rows: Vec<Row> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|err| match err.position() {
            Some(p) => format!("{shown}: line {}: {err}", p.line()),
            None => format!("{shown}: {err}"),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let key: Vec<String> = key_indexes.iter().map(|&i| record[i].to_string()).collect();
        if rows.iter().any(|r| r.key == key) {
            return Err(format!(
                "{shown}: line {line}: a second row for {}",
                key.join(" ")
            ));
        }
        let mut numbers = Vec::with_capacity(metrics.len());
        for (&metric, &i) in metrics.iter().zip(&metric_indexes) {
            let text = record[i].trim();
            let value = text.parse::<f64>().ok().filter(|v| v.is_finite());
            let Some(value) = value else {
                return Err(format!(
                    "{shown}: line {line}: {metric} is `{text}`, not a number"
                ));
            };
            numbers.push(Number {
                text: text.to_string(),
                value,
            });
        }
        rows.push(Row { key, numbers });
    }
    Ok(ResultsFile {
        path,
        metrics,
        rows,
    })
}
