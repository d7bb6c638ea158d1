//! lbsim's integration tests: one binary, one module per area.

mod bad_input;
mod cli;
mod determinism;
mod live;
mod plots;
mod purity;
mod scenarios;
mod support;
