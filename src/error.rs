//! Errors that reach the user, and the exit code of each.
//!
//! - 2: bad input (scenario file, command-line value). Nothing was run or
//!   written. Also an `--out` folder lbsim will not replace (it holds files
//!   lbsim did not write); that is found when the results are about to be
//!   written, so the run happened, but nothing was written.
//! - 1: the run itself failed (results could not be written, a live
//!   redis-server misbehaved).
//! - 130: a live run was interrupted with Ctrl-C.

use std::path::PathBuf;

use crate::live::LiveError;
use crate::scenario::ScenarioError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario file is missing or wrong. Exit code 2.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// A command-line value is wrong in a way clap cannot check. Exit code 2.
    #[error("{0}")]
    Usage(String),
    /// A live run failed; its exit code depends on why.
    #[error("{0}")]
    Live(#[from] LiveError),
    /// A stack run failed; its exit code depends on why.
    #[error("{0}")]
    Stack(#[from] crate::stack::StackError),
    /// `--out` names a folder lbsim will not replace whole: it holds files
    /// lbsim did not write, or is not a folder. Exit code 2; nothing was
    /// written.
    #[error("will not write results to {}: {why}", path.display())]
    NotReplaceable { path: PathBuf, why: String },
    /// Writing results failed. Exit code 1. Results are written
    /// atomically (`report::folder`), so the folder keeps its previous
    /// complete content.
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
            Error::Scenario(_) | Error::Usage(_) | Error::NotReplaceable { .. } => 2,
            Error::Output { .. } => 1,
            Error::Live(err) => err.exit_code(),
            Error::Stack(err) => err.exit_code(),
        }
    }
}
