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

/// `GOOD` with its think time replaced by `dist`.
fn with_think_time(dist: &str) -> String {
    GOOD.replace("{ dist = \"exponential\", mean = \"5s\" }", dist)
}

/// `GOOD` with these `[[fault]]` tables (or other text) appended.
fn with(extra: &str) -> String {
    format!("{GOOD}\n{extra}")
}

/// Checks that `text` is a valid scenario (`lbsim validate` exits 0).
fn accepted(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("ok.toml"), text).unwrap();
    let out = lbsim(dir.path(), &["validate", "ok.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{text}", stderr(&out));
}

fn crash(at: &str, server: u32, recover_after: &str) -> String {
    format!(
        "[[fault]]\nat = \"{at}\"\nkind = \"server_crash\"\nserver = {server}\nrecover_after = \"{recover_after}\"\n"
    )
}

#[test]
fn mixture_weights_must_sum_to_one_and_the_message_gives_the_sum() {
    // 0.5 and 0.01 used to be normalised silently into 98% and 2%.
    let text = with_think_time(
        "{ dist = \"mixture\", parts = [ { weight = 0.5, dist = \"constant\", value = \"1s\" }, \
         { weight = 0.01, dist = \"constant\", value = \"9s\" } ] }",
    );
    rejected(
        &text,
        &[
            "bad.toml:7:14",
            "`workload.think_time.parts`",
            "the weights sum to 0.51",
            "must sum to 1",
        ],
    );
    // Inside a mixture, a part that is itself a mixture is checked too.
    let text = with_think_time(
        "{ dist = \"mixture\", parts = [ { weight = 1.0, dist = \"mixture\", parts = [ \
         { weight = 2.0, dist = \"constant\", value = \"1s\" } ] } ] }",
    );
    rejected(
        &text,
        &["`workload.think_time.parts[0].parts`", "sum to 2;"],
    );
    // Decimal shares that are not exact in binary are fine: 0.1 + 0.2 + 0.7
    // is 0.9999999999999999 in f64.
    accepted(&with_think_time(
        "{ dist = \"mixture\", parts = [ { weight = 0.1, dist = \"constant\", value = \"1s\" }, \
         { weight = 0.2, dist = \"constant\", value = \"2s\" }, \
         { weight = 0.7, dist = \"constant\", value = \"3s\" } ] }",
    ));
}

#[test]
fn durations_that_must_not_be_zero() {
    rejected(
        &GOOD.replace("duration = \"10m\"", "duration = \"0s\""),
        &["bad.toml:2:", "`duration`", "longer than zero"],
    );
    rejected(
        &with("[[fault]]\nat = \"1m\"\nkind = \"redis_partition\"\nduration = \"0s\"\n"),
        &["bad.toml:21:12", "`fault[0].duration`", "longer than zero"],
    );
    rejected(
        &with(
            "[[fault]]\nat = \"1m\"\nkind = \"redis_slow\"\nduration = \"1m\"\nlatency = \"0\"\n",
        ),
        &["bad.toml:22:", "`fault[0].latency`", "longer than zero"],
    );
    rejected(
        &GOOD.replace(
            "count = 3",
            "count = 3\nhealth_check = { interval = \"500us\" }",
        ),
        &["`servers.health_check.interval`", "at least 1ms"],
    );
}

#[test]
fn durations_that_may_be_zero() {
    // Everyone at once, an instant restart (memory still lost), a fault at
    // the very start, a deploy without pauses, a free service time.
    let text = GOOD
        .replace("ramp = \"10s\"", "ramp = \"0s\"")
        .replace("value = \"2ms\"", "value = \"0\"");
    accepted(&format!(
        "{text}\n{}\n[[fault]]\nat = \"2m\"\nkind = \"rolling_deploy\"\npause = \"0s\"\n\
         [[fault]]\nat = \"5m\"\nkind = \"redis_restart\"\ndowntime = \"0s\"\n",
        crash("0s", 0, "0s")
    ));
}

#[test]
fn durations_too_long_for_the_clock() {
    // Past u64 nanoseconds (584 years): the parser refuses it.
    rejected(
        &GOOD.replace("duration = \"10m\"", "duration = \"999999d\""),
        &[
            "bad.toml:2:",
            "`duration`",
            "too long (at most about 584 years)",
        ],
    );
    // Below that but past 100 years: a time plus a duration could saturate.
    rejected(
        &GOOD.replace("mean = \"5s\"", "mean = \"36501d\""),
        &[
            "bad.toml:7:",
            "`workload.think_time.mean`",
            "at most 36500d",
        ],
    );
    rejected(
        &with(&crash("1m", 0, "40000d")),
        &["`fault[0].recover_after`", "at most 36500d"],
    );
}

#[test]
fn a_report_interval_longer_than_the_run() {
    let text = GOOD.replace(
        "duration = \"10m\"",
        "duration = \"10m\"\nreport_interval = \"11m\"",
    );
    rejected(
        &text,
        &[
            "bad.toml:3:19",
            "`report_interval`",
            "longer than the run (10m)",
        ],
    );
    // As long as the run is one row.
    accepted(&GOOD.replace(
        "duration = \"10m\"",
        "duration = \"10m\"\nreport_interval = \"10m\"",
    ));
}

#[test]
fn a_time_scale_out_of_range() {
    for bad in ["0.0", "-1.0", "1e-300", "1e300", "nan", "inf"] {
        let text = GOOD.replace(
            "duration = \"10m\"",
            &format!("duration = \"10m\"\ntime_scale = {bad}"),
        );
        rejected(
            &text,
            &["bad.toml:3:14", "`time_scale`", "from 0.001 to 1000000"],
        );
    }
}

#[test]
fn two_crashes_of_one_server_whose_down_times_overlap() {
    rejected(
        &with(&format!("{}{}", crash("1m", 1, "2m"), crash("2m", 1, "1m"))),
        &[
            "bad.toml:24:6",
            "`fault[1].at`",
            "fault[1] crashes server 1 at 00:02:00, while fault[0] keeps it down \
             (00:01:00 to 00:03:00)",
            "recover_after would be ignored",
        ],
    );
    // In either file order, and touching counts: at 3m the second crash
    // comes before the first one's recovery.
    rejected(
        &with(&format!("{}{}", crash("3m", 1, "1m"), crash("1m", 1, "2m"))),
        &[
            "`fault[0].at`",
            "fault[0] crashes server 1 at 00:03:00, while fault[1]",
        ],
    );
    // Other servers, or after the recovery: fine.
    accepted(&with(&format!(
        "{}{}{}",
        crash("1m", 1, "2m"),
        crash("2m", 2, "2m"),
        crash("3m1s", 1, "1m")
    )));
}

#[test]
fn sizes_that_would_exhaust_memory_are_refused_with_the_limit() {
    rejected(
        &GOOD.replace("users = 100", "users = 1000000000000000"),
        &["bad.toml:5:9", "`workload.users`", "at most 20000000"],
    );
    rejected(
        &GOOD.replace("count = 3", "count = 1000000000000"),
        &["bad.toml:10:9", "`servers.count`", "at most 10000"],
    );
    let scale_out =
        |add: u32| format!("[[fault]]\nat = \"1m\"\nkind = \"scale_out\"\nadd = {add}\n");
    rejected(
        &with(&format!("{}{}", scale_out(9000), scale_out(1000))),
        &["`fault[1].add`", "could reach 10003 servers; at most 10000"],
    );
    let deploy = "[[fault]]\nat = \"2m\"\nkind = \"blue_green\"\ngrace = \"1s\"\n";
    rejected(
        &with(&format!("{}{}", scale_out(9997), deploy.repeat(10))),
        &[
            "`fault[10].kind`",
            "create 110000 servers, and at most 100000",
        ],
    );
    rejected(
        &with(
            "[[fault]]\nat = \"1m\"\nkind = \"random_crashes\"\nmtbf = \"1us\"\nmttr = \"1us\"\nuntil = \"9m\"\n",
        ),
        &[
            "`fault[0].mtbf`",
            "about 720000000 crashes; at most 1000000",
        ],
    );
    let strategy = |i: usize| {
        format!("[[strategy]]\nname = \"s{i}\"\nbalancer = \"sticky\"\nstore = \"local\"\n")
    };
    let many: String = (0..64).map(strategy).collect();
    rejected(
        &with(&many),
        &["`strategy[64]`", "65 strategies; at most 64"],
    );
    let faults: String = (0..1001)
        .map(|i| format!("[[fault]]\nat = \"{i}ms\"\nkind = \"redis_slow\"\nduration = \"1ms\"\nlatency = \"1ms\"\n"))
        .collect();
    rejected(
        &with(&faults),
        &["`fault[1000]`", "1001 faults; at most 1000"],
    );
}
