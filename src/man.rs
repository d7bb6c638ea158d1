//! `lbsim man`: the manual page in roff, generated from the clap
//! definitions (the same text as `--help`, examples included).
//!
//! Owns: rendering the pages as bytes. Must not: write files itself; the
//! caller hands the pages of `--out DIR` to
//! `report::write_each_atomically` (a man directory holds other pages too).

use clap_mangen::Man;

/// The page of the whole command line, `lbsim.1`: every option and a
/// list of the commands, each pointing to its own page.
pub fn page(command: clap::Command) -> Vec<u8> {
    render(&man(prepared(command)))
}

/// One page per command, depth first from `lbsim.1` (`lbsim-run.1`,
/// `lbsim-sweep.1`, ...), as (file name, roff bytes).
pub fn pages(command: clap::Command) -> Vec<(String, Vec<u8>)> {
    let mut pages = Vec::new();
    collect(prepared(command), &mut pages);
    pages
}

/// The command as the pages describe it. Without the `help` subcommand,
/// which would otherwise be listed as a page `lbsim-help.1` that does not
/// exist (`--help` is kept); built, so that every subcommand knows its full
/// name (`lbsim-run`), which names its page.
fn prepared(command: clap::Command) -> clap::Command {
    let mut command = command.disable_help_subcommand(true);
    command.build();
    command
}

fn collect(command: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) {
    let subcommands: Vec<clap::Command> = command
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    let man = man(command);
    pages.push((man.get_filename(), render(&man)));
    for subcommand in subcommands {
        collect(subcommand, pages);
    }
}

/// The page of one command. Its footer names lbsim and its version on every
/// page: clap_mangen takes the command's own name and version, and a
/// subcommand has no version of its own.
fn man(command: clap::Command) -> Man {
    Man::new(command).source(format!("lbsim {}", env!("CARGO_PKG_VERSION")))
}

fn render(man: &Man) -> Vec<u8> {
    let mut roff = Vec::new();
    man.render(&mut roff)
        .expect("rendering into memory cannot fail");
    roff
}
