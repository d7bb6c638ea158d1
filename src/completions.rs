//! `lbsim completions SHELL`: a completion script generated from the clap
//! definitions, so it knows every command and flag without being kept up
//! to date by hand.

/// The completion script for `shell`, for a command line described by
/// `command` (the caller passes `Cli::command()`, so this module needs no
/// knowledge of the commands).
pub fn script(shell: clap_complete::Shell, mut command: clap::Command) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "lbsim", &mut script);
    script
}
