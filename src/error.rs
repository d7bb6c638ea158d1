//! Errors that reach the user, and the exit code of each.
//!
//! - 2: bad input (scenario file, command-line value). Nothing was run or
//!   written.
//! - 1: the run itself failed (results could not be written).

use std::path::PathBuf;

use crate::scenario::ScenarioError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario file is missing or wrong. Exit code 2.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// A command-line value is wrong in a way clap cannot check. Exit code 2.
    #[error("{0}")]
    Usage(String),
    /// Writing results failed. Exit code 1. Files are written atomically,
    /// so none is left half-written.
    #[error("cannot write results to {}: {source}", path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Scenario(_) | Error::Usage(_) => 2,
            Error::Output { .. } => 1,
        }
    }
}
