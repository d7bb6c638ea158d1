//! `lbsim show` and `lbsim init`: a bundled scenario's text, printed or
//! copied to a new file that runs exactly like the bundled name, and never
//! written over an existing file.

use std::fs;

use crate::support::{lbsim, stderr, stdout};
use lbsim::scenario::bundled;

#[test]
fn show_prints_the_bundled_text_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    for b in bundled::BUNDLED {
        let name = b.file.trim_end_matches(".toml");
        let out = lbsim(dir.path(), &["show", name]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), b.text, "{name}");
    }
    // Nothing is written.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn init_writes_a_copy_that_runs_like_the_bundled_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(dir.path(), &["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let copy = dir.path().join("sticky-vs-redis.toml");
    assert_eq!(
        fs::read_to_string(&copy).unwrap(),
        bundled::find("sticky-vs-redis").unwrap().text
    );
    // It says what to run next, with the file it wrote.
    let said = stdout(&out);
    assert!(said.contains("wrote sticky-vs-redis.toml"), "{said}");
    assert!(said.contains("lbsim run sticky-vs-redis.toml"), "{said}");

    // Smaller than the file says, the same overrides for both runs.
    let small = ["--users", "600", "--duration", "20m", "--no-plots", "-q"];
    for (scenario, folder) in [
        ("sticky-vs-redis.toml", "copy"),
        ("sticky-vs-redis", "bundled"),
    ] {
        let mut args = vec!["run", scenario, "--out", folder];
        args.extend(small);
        let out = lbsim(dir.path(), &args);
        assert!(out.status.success(), "{scenario}: {}", stderr(&out));
    }
    let summary = |folder: &str| fs::read(dir.path().join(folder).join("summary.csv")).unwrap();
    assert_eq!(summary("copy"), summary("bundled"));
}

#[test]
fn init_with_a_name_and_out_creates_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(
        dir.path(),
        &["init", "sticky-crash", "--out", "mine/crash.toml"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let written = fs::read_to_string(dir.path().join("mine/crash.toml")).unwrap();
    assert_eq!(written, bundled::find("sticky-crash").unwrap().text);
    // The results folder is named by the `name` inside the file.
    assert!(
        stdout(&out).contains("results/sticky-crash/"),
        "{}",
        stdout(&out)
    );
    // No temporary file is left beside it.
    let names: Vec<String> = fs::read_dir(dir.path().join("mine"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["crash.toml"]);
}

#[test]
fn init_never_overwrites_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("sticky-crash.toml");
    fs::write(&mine, "my own edits\n").unwrap();
    let out = lbsim(dir.path(), &["init", "sticky-crash"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("sticky-crash.toml already exists") && err.contains("--out"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&mine).unwrap(), "my own edits\n");
    assert!(stdout(&out).is_empty());
}

#[test]
fn an_unknown_name_lists_the_bundled_ones_and_the_nearest() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["init", "show"] {
        let out = lbsim(dir.path(), &[command, "stiky-crash"]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let err = stderr(&out);
        assert!(err.contains("no bundled scenario `stiky-crash`"), "{err}");
        for b in bundled::BUNDLED {
            assert!(err.contains(b.file.trim_end_matches(".toml")), "{err}");
        }
        assert!(err.contains("did you mean `sticky-crash`?"), "{err}");
        // A name nothing like any: the list, and no guess.
        let out = lbsim(dir.path(), &[command, "banana"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(!stderr(&out).contains("did you mean"), "{}", stderr(&out));
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}
