//! Sharded sweeps: `lbsim sweep … --shard K/N` runs one deterministic slice
//! of a sweep's runs and writes a partial result; `lbsim sweep merge DIR…`
//! combines the N partials into exactly the files and table an unsharded
//! sweep writes.
//!
//! Owns: which runs a shard takes and the partial-result format. A batch
//! scheduler (a Slurm array job, a Kubernetes Indexed Job) does the rest;
//! lbsim builds no cluster of its own.
//!
//! The runs are the sweep's flat list of point × strategy, in order; shard
//! K of N takes every run whose index is K − 1 modulo N, which spreads the
//! costly points (large values are often neighbours) over the shards. A
//! partial carries the scenario's text and the `--set` flags, so merging
//! needs no file but the partials, and refuses partials of different
//! sweeps. Each summary row goes through JSON with exact round-trips of
//! its floats (serde_json's `float_roundtrip`), so the plot drawn from
//! merged rows is the same bytes.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::report::SummaryRow;

/// Which slice of the runs: the K-th of N, K from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub of: usize,
}

impl Shard {
    /// Parses `K/N` with 1 ≤ K ≤ N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {text}: expected K/N with 1 <= K <= N, e.g. 3/8");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let of: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || of == 0 || index > of {
            return Err(bad());
        }
        Ok(Shard { index, of })
    }

    /// True if run number `run` (from 0) is this shard's.
    pub fn takes(self, run: usize) -> bool {
        run % self.of == self.index - 1
    }

    /// The partial result's file name.
    pub fn file_name(self) -> String {
        format!("sweep-part-{}-of-{}.json", self.index, self.of)
    }
}

/// What one shard writes.
#[derive(Debug, Serialize, Deserialize)]
pub struct Partial {
    /// lbsim's version: partials of different versions are not merged.
    pub lbsim: String,
    /// The scenario file as the sweep named it, and its text.
    pub file: String,
    pub text: String,
    pub sets: Vec<String>,
    pub metric: String,
    pub shard: usize,
    pub shards: usize,
    /// Runs in the whole sweep.
    pub runs: usize,
    /// This shard's runs: (run number, summary row).
    pub rows: Vec<(usize, SummaryRow)>,
}

impl Partial {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a partial serialises");
        bytes.push(b'\n');
        bytes
    }
}

/// The sweep the partials in `dirs` make up: the first partial (for the
/// scenario, flags and metric) and every run's row in run order.
pub fn gather(dirs: &[PathBuf]) -> Result<(Partial, Vec<SummaryRow>), Error> {
    let mut parts: Vec<(PathBuf, Partial)> = Vec::new();
    for dir in dirs {
        for path in part_files(dir)? {
            let text = fs::read_to_string(&path).map_err(|e| bad(&path, &e.to_string()))?;
            let part: Partial =
                serde_json::from_str(&text).map_err(|e| bad(&path, &e.to_string()))?;
            parts.push((path, part));
        }
    }
    let Some((first_path, first)) = parts.first() else {
        return Err(Error::Usage(format!(
            "sweep merge: no sweep-part-K-of-N.json file in {}",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let mut seen: Vec<Option<&Path>> = vec![None; first.shards];
    for (path, part) in &parts {
        let same = part.lbsim == first.lbsim
            && part.text == first.text
            && part.sets == first.sets
            && part.metric == first.metric
            && part.shards == first.shards
            && part.runs == first.runs;
        if !same {
            return Err(bad(
                path,
                &format!(
                    "not a part of the same sweep as {} (scenario, --set, --metric, shard count or lbsim version differ)",
                    first_path.display()
                ),
            ));
        }
        let slot = seen
            .get_mut(part.shard.wrapping_sub(1))
            .ok_or_else(|| bad(path, "shard number out of range"))?;
        if let Some(other) = slot {
            return Err(bad(
                path,
                &format!("shard {} again (also in {})", part.shard, other.display()),
            ));
        }
        *slot = Some(path);
    }
    let missing: Vec<String> = (1..=first.shards)
        .filter(|k| seen[k - 1].is_none())
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "sweep merge: shard(s) {} of {} missing",
            missing.join(", "),
            first.shards
        )));
    }
    let mut rows: Vec<Option<SummaryRow>> = vec![None; first.runs];
    for (path, part) in &parts {
        let shard = Shard {
            index: part.shard,
            of: part.shards,
        };
        for (run, row) in &part.rows {
            match rows.get_mut(*run) {
                Some(slot @ None) if shard.takes(*run) => *slot = Some(row.clone()),
                _ => return Err(bad(path, &format!("run {run} is not this shard's"))),
            }
        }
    }
    let rows = rows
        .into_iter()
        .enumerate()
        .map(|(run, row)| {
            row.ok_or_else(|| Error::Usage(format!("sweep merge: run {run} missing")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (_, first) = parts.swap_remove(0);
    Ok((first, rows))
}

/// The partial files in `dir` (or `dir` itself, if it is one), sorted.
fn part_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    if dir.is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let entries = fs::read_dir(dir).map_err(|e| bad(dir, &e.to_string()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("sweep-part-") && n.ends_with(".json"))
        })
        .collect();
    files.sort();
    Ok(files)
}

fn bad(path: &Path, why: &str) -> Error {
    Error::Usage(format!("sweep merge: {}: {why}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_the_runs_without_overlap() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, of: 3 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { index: k, of: 3 }).collect();
        for run in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.takes(run)).count(), 1);
        }
    }
}
