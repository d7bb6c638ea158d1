//! lbsim: what happens to logged-in users when traffic is spread over
//! several app servers.
//!
//! # Map of the crate
//! - [`sim`]: the pure, deterministic discrete-event core. No I/O, no clock.
//! - [`scenario`]: reads a scenario TOML file into typed, valid values, or
//!   an error naming file, line and field.
//! - [`runner`]: runs every strategy of a scenario (in parallel, results in
//!   file order).
//! - [`report`]: renders tables, CSV, JSON, plots, reports and the
//!   narrated timeline as bytes, and writes result files atomically.
//! - [`sweep`]: one scenario over a grid of values (`--set KEY=V1,V2`),
//!   every point in parallel, into `sweep.csv` and a plot.
//! - [`compare`]: what differs between two results folders.
//! - [`live`]: the Redis strategies against real redis-server processes;
//!   [`stack`]: whole strategies on real HAProxy, app-server
//!   ([`app_server`]) and redis-server processes.
//! - [`init`]: a bundled scenario's text, shown or copied to a new file.
//! - [`cli`]: command-line parsing and the commands; [`help`]: the
//!   examples of `--help`; [`completions`] and [`man`]: shell completions
//!   and the manual page, generated from the clap definitions; [`error`]:
//!   error types and exit codes.
//!
//! # The request lifecycle
//! ```text
//!   user ──► balancer ──► server (workers, FIFO queue) ──► session store
//!    ▲                                                         │
//!    └──── think time / log in again ◄── classify outcome ◄────┘
//! ```
//! See `sim::request` for the outcomes and `sim::fault` for faults.

/// Writes a line to stderr, ignoring failure: a closed stderr (a pipe
/// whose reader went away) must never turn into a panic, because lbsim may
/// be in the middle of stopping the redis-servers it started.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod app_server;
pub mod cli;
pub mod compare;
pub mod completions;
pub mod demo;
pub mod error;
pub mod help;
pub mod init;
pub mod live;
pub mod man;
pub mod progress;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod sim;
pub mod stack;
pub mod sweep;
