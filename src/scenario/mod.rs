//! Reading scenario files.
//!
//! Owns: turning TOML text into a valid [`Scenario`] or a [`ScenarioError`]
//! that names the file, line, column and field. Must not: run anything or
//! write files. Parsing is two steps: `raw` mirrors the file with spans,
//! `validate` checks values and builds the typed scenario the core runs.

pub mod bundled;
mod duration;
pub(crate) mod hints;
mod raw;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

pub use duration::parse_duration;
pub use validate::{
    MAX_DURATION, MAX_FAULTS, MAX_SERVER_IDS, MAX_SERVERS, MAX_STRATEGIES, MAX_USERS, check_rows,
    check_time_scale,
};

use crate::sim::config::Scenario;

/// A mistake in a scenario file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: PathBuf,
    /// 1-based line, 0 if unknown.
    pub line: usize,
    /// 1-based column (in characters), 0 if unknown.
    pub column: usize,
    /// Dotted path of the offending key, e.g. `strategy[2].store`; empty for
    /// syntax errors.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if self.field.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": field `{}`: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ScenarioError {}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    parse(&read(path)?, path)
}

/// The text of a scenario file, or an error naming it.
fn read(path: &Path) -> Result<String, ScenarioError> {
    std::fs::read_to_string(path).map_err(|err| ScenarioError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        field: String::new(),
        message: format!("cannot read the scenario file: {err}"),
    })
}

/// A scenario read from a file or from the bundled copies.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub scenario: Scenario,
    /// The file as messages name it (`x.toml`, or `x.toml (bundled)`).
    pub shown: String,
    /// The text it was read from.
    pub text: String,
}

/// Loads a scenario from a path, or from the bundled copy when `file` is not
/// a path that exists but names a bundled scenario (with or without
/// `.toml`).
pub fn load_named(file: &str) -> Result<Loaded, ScenarioError> {
    load_named_for(file, None)
}

/// [`load_named`] for a run of `duration` (`--duration`), if given.
pub fn load_named_for(
    file: &str,
    duration: Option<crate::sim::time::SimDuration>,
) -> Result<Loaded, ScenarioError> {
    let path = Path::new(file);
    if path.exists() {
        let text = read(path)?;
        return Ok(Loaded {
            scenario: parse_for(&text, path, duration)?,
            shown: file.to_string(),
            text,
        });
    }
    if let Some(b) = bundled::find(file) {
        let shown = format!("{} (bundled)", b.file);
        return Ok(Loaded {
            scenario: parse_for(b.text, Path::new(&shown), duration)?,
            shown,
            text: b.text.to_string(),
        });
    }
    // Not found either way: the usual "cannot read" error, with the bundled
    // names as a hint.
    match load(path) {
        Err(mut err) => {
            err.message.push_str(&format!("; {}", bundled::hint(file)));
            Err(err)
        }
        // The file appeared meanwhile.
        Ok(scenario) => Ok(Loaded {
            scenario,
            shown: file.to_string(),
            text: std::fs::read_to_string(path).unwrap_or_default(),
        }),
    }
}

/// Parses and validates scenario text; `file` is only used in errors.
pub fn parse(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
    parse_for(text, file, None)
}

/// [`parse`] for a run of `duration` instead of the file's (`--duration`):
/// a fault the longer run reaches is not an error.
fn parse_for(
    text: &str,
    file: &Path,
    duration: Option<crate::sim::time::SimDuration>,
) -> Result<Scenario, ScenarioError> {
    let source = Source {
        text,
        file,
        longer_run: duration,
    };
    let deserializer = toml::Deserializer::parse(text)
        .map_err(|err| source.error(err.span(), "", &format!("invalid TOML: {}", err.message())))?;
    let raw: raw::RawScenario = serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let mut field = clean_path(&err.path().to_string());
        let span = err.inner().span();
        let mut message = hints::rewrite(&field, err.inner().message());
        // serde names a missing key in its message, on the table that lacks
        // it; the field is the key itself, as for every other error.
        if let Some(key) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            field = if field.is_empty() {
                key.to_string()
            } else {
                format!("{field}.{key}")
            };
            message = "is missing; this table needs it".to_string();
        }
        // A key spelt `"" = …` has an empty name; show it as written.
        if field.is_empty() && message.starts_with("unknown field ``") {
            field = "\"\"".to_string();
        }
        source.error(span, &field, &message)
    })?;
    validate::validate(raw, &source)
}

/// The text being read, for turning byte spans into lines and columns.
pub(crate) struct Source<'a> {
    text: &'a str,
    file: &'a Path,
    /// A `--duration` longer than the file's: faults up to it are in the
    /// run, not after its end.
    pub(crate) longer_run: Option<crate::sim::time::SimDuration>,
}

impl Source<'_> {
    pub(crate) fn error(
        &self,
        span: Option<std::ops::Range<usize>>,
        field: &str,
        message: &str,
    ) -> ScenarioError {
        let (line, column) = match span {
            Some(span) => line_and_column(self.text, span.start),
            None => (0, 0),
        };
        ScenarioError {
            file: self.file.to_path_buf(),
            line,
            column,
            field: field.to_string(),
            message: message.trim().to_string(),
        }
    }
}

/// 1-based line and column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

/// `serde_path_to_error` shows the private field that `toml::Spanned` uses;
/// users should see only their own keys.
fn clean_path(path: &str) -> String {
    let cleaned = path.replace(".$__serde_spanned_private_value", "");
    if cleaned == "." {
        String::new()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 6), (2, 1));
        assert_eq!(line_and_column(text, 11), (2, 6));
    }
}
