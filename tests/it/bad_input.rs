//! Bad scenario files: each gives one clear error naming the file, line and
//! field, exit code 2, no panic, and no result files.

use std::fs;

use crate::support::{lbsim, repo, stderr};

/// A valid scenario to break one line at a time.
const GOOD: &str = r#"name = "bad"
duration = "10m"

[workload]
users = 100
arrival = { ramp = "10s" }
think_time = { dist = "exponential", mean = "5s" }

[servers]
count = 3
service_time = { dist = "constant", value = "2ms" }

[[strategy]]
name = "rr"
balancer = "round_robin"
store = "local"
"#;

/// Writes `text` to a scenario file in a fresh folder, runs `lbsim run` on
/// it there, and checks the error: exit code 2, the message contains every
/// one of `expect`, and no results folder was created.
fn rejected(text: &str, expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    fs::write(&file, text).unwrap();
    let out = lbsim(dir.path(), &["run", "bad.toml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for part in expect {
        assert!(err.contains(part), "expected `{part}` in: {err}");
    }
    assert!(
        !dir.path().join("results").exists(),
        "results were written: {err}"
    );
    // `validate` says the same and exits the same way.
    let out = lbsim(dir.path(), &["validate", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), err);
}

#[test]
fn the_good_file_is_good() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("good.toml"), GOOD).unwrap();
    let out = lbsim(dir.path(), &["validate", "good.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn malformed_toml() {
    let text = GOOD.replace("[servers]", "[servers");
    rejected(&text, &["bad.toml:9:", "invalid TOML"]);
}

#[test]
fn unknown_key_names_the_key_and_its_line() {
    let text = GOOD.replace("count = 3", "count = 3\nsevrers = 4");
    rejected(
        &text,
        &[
            "bad.toml:11:1",
            "`servers.sevrers`",
            "unknown field `sevrers`",
        ],
    );
}

#[test]
fn unknown_top_level_table() {
    let text = format!("{GOOD}\n[sesion]\nttl = \"5m\"\n");
    rejected(&text, &["bad.toml:", "unknown field `sesion`"]);
}

#[test]
fn negative_duration() {
    let text = GOOD.replace("duration = \"10m\"", "duration = \"-10m\"");
    rejected(&text, &["bad.toml:2:12", "field `duration`", "negative"]);
}

#[test]
fn unparsable_duration() {
    let text = GOOD.replace("mean = \"5s\"", "mean = \"five seconds\"");
    rejected(
        &text,
        &[
            "bad.toml:7:",
            "`workload.think_time.mean`",
            "not a duration",
        ],
    );
}

#[test]
fn zero_servers() {
    let text = GOOD.replace("count = 3", "count = 0");
    rejected(&text, &["bad.toml:10:9", "`servers.count`", "at least 1"]);
}

#[test]
fn unknown_store() {
    let text = GOOD.replace("store = \"local\"", "store = \"memcached\"");
    rejected(
        &text,
        &[
            "bad.toml:16:9",
            "`strategy[0].store`",
            "unknown store `memcached`",
            "local, redis",
        ],
    );
}

#[test]
fn unknown_balancer_lists_the_known_ones() {
    let text = GOOD.replace("balancer = \"round_robin\"", "balancer = \"random\"");
    rejected(
        &text,
        &[
            "bad.toml:15:",
            "`strategy[0].balancer`",
            "round_robin, sticky, least_connections, ip_hash",
        ],
    );
}

#[test]
fn a_crash_of_a_server_that_does_not_exist() {
    let text = format!(
        "{GOOD}\n[[fault]]\nat = \"1m\"\nkind = \"server_crash\"\nserver = 3\nrecover_after = \"1m\"\n"
    );
    rejected(
        &text,
        &["bad.toml:21:10", "`fault[0].server`", "numbered 0 to 2"],
    );
}

#[test]
fn a_key_that_belongs_to_another_fault_kind() {
    let text = format!(
        "{GOOD}\n[[fault]]\nat = \"1m\"\nkind = \"server_crash\"\nrecover_after = \"1m\"\ndowntime = \"5s\"\n"
    );
    rejected(
        &text,
        &[
            "bad.toml:22:12",
            "`fault[0].downtime`",
            "does not apply to a server_crash",
        ],
    );
}

#[test]
fn lognormal_p99_below_median() {
    let text = GOOD.replace(
        "{ dist = \"constant\", value = \"2ms\" }",
        "{ dist = \"lognormal\", median = \"2ms\", p99 = \"1ms\" }",
    );
    rejected(
        &text,
        &[
            "bad.toml:11:",
            "`servers.service_time.p99`",
            "greater than `median`",
        ],
    );
}

#[test]
fn appendfsync_without_aof() {
    let text = GOOD.replace(
        "store = \"local\"",
        "store = \"redis\"\nredis = { persistence = \"none\", appendfsync = \"always\" }",
    );
    rejected(
        &text,
        &[
            "bad.toml:17:",
            "`strategy[0].redis.appendfsync`",
            "needs persistence = \"aof\"",
        ],
    );
}

#[test]
fn missing_file_is_exit_2_and_lists_bundled_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(dir.path(), &["run", "nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("nope.toml") && err.contains("cannot read"),
        "{err}"
    );
    assert!(err.contains("sticky-vs-redis"), "{err}");
}

#[test]
fn bad_command_line_values_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/in-memory-problem.toml");
    let scenario = scenario.to_str().unwrap();
    for args in [
        vec!["run", scenario, "--users", "0"],
        vec!["run", scenario, "--duration", "soon"],
        vec!["run", scenario, "--duration", "0s"],
        vec!["run", scenario, "--format", "xml"],
    ] {
        let out = lbsim(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!dir.path().join("results").exists());
    }
}

#[test]
fn no_strategy_points_at_the_file() {
    let text = GOOD.split("[[strategy]]").next().unwrap().to_string();
    rejected(&text, &["bad.toml:1:1", "`strategy`", "no [[strategy]]"]);
}

#[test]
fn store_redis_is_checked_even_when_unused() {
    let text = GOOD.replace(
        "[[strategy]]",
        "[store.redis]\npersistence = \"aol\"\n\n[[strategy]]",
    );
    rejected(
        &text,
        &[
            "bad.toml:14:",
            "`store.redis.persistence`",
            "unknown persistence `aol`",
        ],
    );
}

#[test]
fn think_time_that_averages_zero() {
    let text = GOOD.replace(
        "{ dist = \"exponential\", mean = \"5s\" }",
        "{ dist = \"constant\", value = \"0s\" }",
    );
    rejected(
        &text,
        &["bad.toml:7:", "`workload.think_time`", "averages zero"],
    );
}

#[test]
fn too_many_users() {
    let text = GOOD.replace("users = 100", "users = 4294967294");
    rejected(
        &text,
        &["bad.toml:5:", "`workload.users`", "at most 20000000"],
    );
}

#[test]
fn a_report_interval_too_small_for_the_duration() {
    let text = GOOD.replace(
        "duration = \"10m\"",
        "duration = \"10m\"\nreport_interval = \"1ns\"",
    );
    rejected(&text, &["bad.toml:3:", "`report_interval`", "at least 1ms"]);
    let text = GOOD.replace(
        "duration = \"10m\"",
        "duration = \"10000h\"\nreport_interval = \"10ms\"",
    );
    rejected(
        &text,
        &["bad.toml:3:", "`report_interval`", "time-series rows"],
    );
}

#[test]
fn a_duration_in_months_or_years_is_an_unknown_unit() {
    // `humantime` would read 30M as 30 months; scenarios have no use for
    // months, and M for minutes is a common slip.
    let text = GOOD.replace("[servers]", "[session]\nttl = \"30M\"\n\n[servers]");
    rejected(
        &text,
        &[
            "bad.toml:10",
            "session.ttl",
            "unknown unit `M`",
            "m is minutes",
        ],
    );
    let text = GOOD.replace("duration = \"10m\"", "duration = \"2y\"");
    rejected(&text, &["bad.toml:2", "duration", "unknown unit `y`"]);
}

#[test]
fn a_fault_after_the_end_of_the_run_is_refused_before_it_runs() {
    let text = format!(
        "{GOOD}\n[[fault]]\nat = \"12m\"\nkind = \"server_crash\"\nserver = 0\nrecover_after = \"1m\"\n"
    );
    rejected(&text, &["fault[0].at", "after the end of the run (10m)"]);
}

#[test]
fn a_longer_duration_on_the_command_line_reaches_a_later_fault() {
    // The same file: its fault at 12m is past its own 10m, but inside a
    // 15m run, which reaches it. (A valid file's fault past a shorter
    // --duration is "not reached", as in the plots tests.)
    let text = format!(
        "{GOOD}\n[[fault]]\nat = \"12m\"\nkind = \"server_crash\"\nserver = 0\nrecover_after = \"1m\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("bad.toml"), &text).unwrap();
    let out = lbsim(
        dir.path(),
        &["run", "bad.toml", "--duration", "15m", "--no-plots"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let faults = fs::read_to_string(dir.path().join("results/bad/faults.csv")).unwrap();
    assert!(faults.contains("rr,1,server_crash,720,true,"), "{faults}");
    let out = lbsim(
        dir.path(),
        &["run", "bad.toml", "--duration", "5m", "--no-plots"],
    );
    // Shorter than the file's own 10m, the file's own check stands.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("after the end of the run (10m)"));
}

#[test]
fn a_run_too_long_for_the_default_report_interval_is_refused_by_validate_too() {
    // 1,000 days at the default 10 s interval would be 8.6 million rows;
    // `validate` must refuse what `run` refuses, naming the file's field.
    let text = GOOD.replace("duration = \"10m\"", "duration = \"1000d\"");
    rejected(&text, &["bad.toml:2", "duration", "time-series rows"]);
}

#[test]
fn messages_speak_the_files_language_and_suggest_the_near_miss() {
    // Single brackets for a list of tables.
    let text = GOOD.replace("[[strategy]]", "[strategy]");
    rejected(&text, &["field `strategy`", "write `[[strategy]]`"]);
    // serde's internal names never show.
    let text = GOOD.replace(
        "think_time = { dist = \"exponential\", mean = \"5s\" }",
        "think_time = \"5s\"",
    );
    rejected(
        &text,
        &["workload.think_time", "expected a distribution such as"],
    );
    let text = GOOD.replace("count = 3", "count = \"3\"");
    rejected(&text, &["servers.count", "expected a whole number"]);
    // A misspelt key gets the nearest one.
    let text = GOOD.replace("users = 100", "usres = 100");
    rejected(&text, &["workload.usres", "did you mean `users`?"]);
    // "an exponential", not "a exponential".
    let text = GOOD.replace("mean = \"5s\"", "value = \"5s\"");
    rejected(&text, &["does not apply to an exponential distribution"]);
}

#[test]
fn a_misspelt_bundled_name_gets_the_nearest_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(dir.path(), &["run", "sticky-vs-rediss"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("did you mean `sticky-vs-redis`?"), "{err}");
}
