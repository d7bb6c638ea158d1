//! `lbsim compare DIR_A DIR_B`: what changed between two results folders,
//! e.g. two seeds, two user counts, or a scenario before and after an edit.
//!
//! Owns: reading each folder's `summary.csv` (and `faults.csv` when both
//! have one) back, matching rows by strategy, and printing every number
//! that differs with B − A and the change relative to A. Must not: run a
//! simulation or write a file. The folders are only read, so comparing is
//! safe on results that took an hour to produce.
//!
//! The CSV files, not `meta.json`, are the input: their columns are the
//! stable interface (see `report`), and they are what a reader of the
//! results folder sees. Finding differences is not an error: exit 0 either
//! way, 2 for a folder or file that cannot be read.

mod diff;
mod read;
mod render;

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use crate::error::Error;
use diff::FileComparison;
use read::{FAULTS, ResultsFile, SUMMARY, Schema};

/// The command line of `lbsim compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The first results folder (A), as written by `lbsim run`.
    #[arg(value_name = "DIR_A")]
    pub a: PathBuf,
    /// The second results folder (B); differences are B − A.
    #[arg(value_name = "DIR_B")]
    pub b: PathBuf,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
}

/// Output format of `lbsim compare`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    /// A table per file, for people.
    Table,
    /// One line per differing number (file, strategy, fault, kind, metric,
    /// a, b, difference, change_pct), for scripts.
    Csv,
}

/// One file read from both folders, and what differs.
pub struct Compared {
    pub schema: &'static Schema,
    pub a: ResultsFile,
    pub b: ResultsFile,
    pub comparison: FileComparison,
}

/// One file's part of the comparison.
pub enum FilePart {
    /// The file is in both folders (boxed: it holds both files' rows, the
    /// other variant two words).
    Compared(Box<Compared>),
    /// The file is in one folder only (`faults.csv` of an older lbsim), so
    /// there is nothing to compare it with.
    OnlyIn {
        file: &'static str,
        /// The folder that has it: "A" or "B".
        side: &'static str,
    },
}

/// Runs `lbsim compare`.
pub fn run(args: CompareArgs) -> Result<(), Error> {
    for folder in [&args.a, &args.b] {
        if !folder.is_dir() {
            return Err(Error::Usage(format!(
                "{}: no such folder; give two results folders written by \
                 `lbsim run`, e.g. results/sticky-vs-redis",
                folder.display()
            )));
        }
    }
    let parts = parts(&args.a, &args.b).map_err(Error::Usage)?;
    let text = match args.format {
        CompareFormat::Table => render::table(&args.a, &args.b, &parts),
        CompareFormat::Csv => render::csv(&parts),
    };
    // A closed pipe (e.g. `| head`) is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}

/// Reads and compares every file of the two folders: `summary.csv`, which
/// both must have, then `faults.csv` if either has it.
fn parts(a: &Path, b: &Path) -> Result<Vec<FilePart>, String> {
    let summary = compared(a, b, &SUMMARY)?;
    let faults = match (a.join(FAULTS.file).exists(), b.join(FAULTS.file).exists()) {
        (true, true) => {
            let mut faults = compared(a, b, &FAULTS)?;
            // A strategy in one folder only is said once, for summary.csv;
            // listing its faults too would only repeat it.
            let said = |listed: &[Vec<String>], key: &[String]| {
                listed.iter().any(|strategy| strategy[0] == key[0])
            };
            let strategies = &summary.comparison;
            let faults_only = &mut faults.comparison;
            faults_only
                .only_in_a
                .retain(|key| !said(&strategies.only_in_a, key));
            faults_only
                .only_in_b
                .retain(|key| !said(&strategies.only_in_b, key));
            Some(FilePart::Compared(Box::new(faults)))
        }
        (true, false) => Some(FilePart::OnlyIn {
            file: FAULTS.file,
            side: "A",
        }),
        (false, true) => Some(FilePart::OnlyIn {
            file: FAULTS.file,
            side: "B",
        }),
        (false, false) => None,
    };
    Ok(std::iter::once(FilePart::Compared(Box::new(summary)))
        .chain(faults)
        .collect())
}

fn compared(a: &Path, b: &Path, schema: &'static Schema) -> Result<Compared, String> {
    let a = read::read(a, schema)?;
    let b = read::read(b, schema)?;
    let comparison = diff::compare(&a, &b);
    Ok(Compared {
        schema,
        a,
        b,
        comparison,
    })
}
