//! lbsim's integration tests: one binary, one module per area.

mod bad_input;
mod browser;
mod cli;
mod client;
mod compare;
mod determinism;
mod explain;
mod formats;
mod fuzz;
mod help;
mod init;
mod invariants;
mod live;
mod plots;
mod purity;
mod replication;
mod result_files;
mod retries;
mod scaling;
mod scenarios;
mod stack;
mod store_errors;
mod support;
mod sweep;
mod tolls;
mod verdict;
