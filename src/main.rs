//! Thin entry point: parse the command line, run, print the error chain,
//! exit with the code the error asks for (2 for bad input).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = lbsim::cli::Cli::parse();
    match lbsim::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            lbsim::say!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
