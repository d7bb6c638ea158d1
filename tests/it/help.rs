//! What the command line says about itself: examples in `--help` that are
//! real command lines, shell completions and the man page, all generated
//! from the same clap definitions.

use clap::{CommandFactory, Parser};
use lbsim::cli::Cli;

use crate::support::{lbsim, stderr, stdout};

/// Every command a user can type, from the clap definitions themselves
/// (`help` is clap's own; hidden ones, such as the stack's `app-server`,
/// are lbsim's own children, not for users).
fn commands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .collect()
}

#[test]
fn the_commands_are_the_ones_the_readme_documents() {
    let readme = std::fs::read_to_string(crate::support::repo().join("README.md")).unwrap();
    for command in commands() {
        assert!(
            readme.contains(&format!("| `lbsim {command}")),
            "{command} is not in the README's table of commands"
        );
    }
    assert_eq!(
        commands(),
        [
            "run",
            "validate",
            "list",
            "show",
            "init",
            "explain",
            "sweep",
            "compare",
            "completions",
            "demo",
            "man"
        ]
    );
}

#[test]
fn every_example_in_help_is_a_real_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut pages = vec![vec!["--help"]];
    let names = commands();
    pages.extend(names.iter().map(|c| vec![c.as_str(), "--help"]));
    let mut examples = 0;
    for page in pages {
        let out = lbsim(dir.path(), &page);
        assert!(out.status.success(), "{page:?}: {}", stderr(&out));
        let text = stdout(&out);
        // Every command but `list` has examples.
        if page[0] != "list" {
            assert!(text.contains("\nExamples:\n"), "{page:?}: {text}");
        }
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("lbsim "))
            // A usage line (`lbsim sweep <COMMAND>`) is not an example.
            .filter(|l| !l.contains(" <"))
        {
            // Up to a redirection or a pipe, the words a shell would pass
            // (quotes and all).
            let split = shlex::split(line).unwrap_or_else(|| panic!("`{line}` is not shell"));
            let words: Vec<&str> = split
                .iter()
                .map(String::as_str)
                .take_while(|w| *w != ">" && *w != "|")
                .collect();
            if let Err(err) = Cli::try_parse_from(&words) {
                panic!("{page:?}: the example `{line}` does not parse:\n{err}");
            }
            examples += 1;
        }
    }
    assert!(examples >= 25, "only {examples} examples");
}

#[test]
fn the_bash_completion_names_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(dir.path(), &["completions", "bash"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let script = stdout(&out);
    assert!(script.contains("complete -F _lbsim"), "{script}");
    for command in commands() {
        assert!(
            script.contains(&format!("lbsim,{command})")),
            "{command} missing"
        );
    }
    // Flags too, and the shells the command accepts.
    assert!(script.contains("--metric") && script.contains("--format"));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = lbsim(dir.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        assert!(stdout(&out).contains("sweep"), "{shell}");
    }
    let out = lbsim(dir.path(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_man_page_is_roff_and_names_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(dir.path(), &["man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    // The roff crate opens with two lines defining the apostrophe string
    // (`.ie`/`.el`); the page itself begins with its .TH title line.
    let first = page
        .lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .unwrap();
    assert!(first.starts_with(".TH lbsim 1 "), "{first}");
    assert!(
        first.contains(concat!("lbsim ", env!("CARGO_PKG_VERSION"))),
        "{first}"
    );
    for command in commands() {
        assert!(
            page.contains(&format!("lbsim\\-{command}(1)")),
            "{command} missing"
        );
    }
    // The examples of --help are in the page too.
    assert!(page.contains("lbsim compare results/before results/after"));
    // Nothing was written.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn man_out_writes_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(dir.path(), &["man", "--out", "man1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut written: Vec<String> = std::fs::read_dir(dir.path().join("man1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    let mut expected: Vec<String> = commands()
        .iter()
        .map(|c| format!("lbsim-{c}.1"))
        .chain(["lbsim.1".to_string(), "lbsim-sweep-merge.1".to_string()])
        .collect();
    expected.sort();
    assert_eq!(written, expected);
    let run = std::fs::read_to_string(dir.path().join("man1/lbsim-run.1")).unwrap();
    assert!(run.contains("\n.TH lbsim-run 1 "), "{run}");
    assert!(run.contains("\\-\\-seed"), "{run}");
}
