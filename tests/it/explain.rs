//! `lbsim explain`: a golden narration for a small scenario, no escape codes
//! when piped, and lines that fit 80 columns even in colour.

use std::fs;

use lbsim::report::narrate::{Style, render};

use crate::support::{lbsim, run, scenario, stderr, stdout};

const SMALL: &str = r#"
name = "small"
description = "Sticky in-memory against Redis: a server crash, then a Redis crash"
seed = 4
duration = "6m"
[workload]
users = 30
arrival = { ramp = "30s" }
think_time = { dist = "exponential", mean = "10s" }
[servers]
count = 3
service_time = { dist = "constant", value = "2ms" }
[store.redis]
latency = { dist = "constant", value = "500us" }
persistence = "none"
[[strategy]]
name = "sticky + in-memory"
balancer = "sticky"
store = "local"
[[strategy]]
name = "redis, no persistence"
balancer = "round_robin"
store = "redis"
[[fault]]
at = "2m"
kind = "server_crash"
server = 1
recover_after = "1m"
[[fault]]
at = "4m"
kind = "redis_restart"
mode = "crash"
downtime = "10s"
"#;

#[test]
fn golden_narration_of_a_small_scenario_without_escape_codes_when_piped() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("small.toml"), SMALL).unwrap();
    let out = lbsim(dir.path(), &["explain", "small.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains('\x1b'), "escape codes in piped output");
    insta::assert_snapshot!("explain_small", text);
    assert!(
        !dir.path().join("results").exists(),
        "explain writes no files"
    );
}

#[test]
fn colour_narration_fits_80_columns() {
    let results = run(SMALL);
    let text = render(&scenario(SMALL), &results, Style::Color);
    assert!(text.contains("\x1b[31m"), "losses are not red");
    for line in text.lines() {
        let visible: String = strip_ansi(line);
        assert!(visible.chars().count() <= 80, "too wide: {visible:?}");
    }
    assert_eq!(
        strip_ansi(&text),
        render(&scenario(SMALL), &results, Style::Plain)
    );
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}

#[test]
fn what_follows_an_event_is_counted_exactly_whatever_the_report_interval() {
    // The same run with rows every 10 s and every 1 s: the narration's
    // counts after each event come from the exact moment of the event, so
    // the two tell the same story, number for number. (Counted from the
    // rows, a promotion at 20:06.2 credited its errors to the 10 s row
    // around it, or not, depending on the interval.)
    let text =
        fs::read_to_string(crate::support::repo().join("scenarios/comparison-table.toml")).unwrap();
    let fine = text.replace("report_interval = \"10s\"", "report_interval = \"1s\"");
    assert_ne!(text, fine);
    let coarse = render(&scenario(&text), &run(&text), Style::Plain);
    let fine = render(&scenario(&fine), &run(&fine), Style::Plain);
    assert_eq!(coarse, fine);
    assert!(coarse.contains("promoted"), "{coarse}");
}
