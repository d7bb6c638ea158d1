//! Fuzzing the scenario parser and validator with proptest: every input,
//! however broken, must give a valid `Scenario` or one error that names the
//! file, a line and the field, quickly, without a panic and without trying
//! to allocate what the file asks for.
//!
//! Two generators: (a) valid files (the bundled scenarios and `GOOD`)
//! broken by a few mutations each: lines deleted, duplicated, swapped or
//! inserted from other files, numbers and durations replaced by extremes
//! (0, -1, 1e300, NaN, huge integers), values of another type, words of the
//! vocabulary swapped, random bytes, truncation; (b) random TOML documents
//! built from the scenario's own keys and random ones, and random text.
//!
//! The number of cases of each generator comes from `LBSIM_FUZZ_CASES`
//! (default 5000: under a second in release, about 15 s in debug). Every
//! nasty input the fuzzing found is kept at the end as a named regression
//! test.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};

use lbsim::scenario::{self, ScenarioError, bundled::BUNDLED};

/// The file name errors must name.
const FILE: &str = "fuzz.toml";

/// How long one parse may take: validation reads the file and checks it;
/// it never simulates and never allocates per user, so even a debug build
/// takes milliseconds. Generous, for a loaded machine.
const TIME_LIMIT: Duration = Duration::from_secs(2);

/// Cases per generator, from `LBSIM_FUZZ_CASES`.
fn cases() -> u32 {
    std::env::var("LBSIM_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        // No `proptest-regressions/` files: the cases worth keeping are
        // the named tests below.
        failure_persistence: None,
        ..Config::default()
    })
}

/// What one generator's inputs came to, printed at its end (with
/// `--nocapture`) for the README's figures.
#[derive(Default)]
struct Tally {
    accepted: AtomicUsize,
    rejected: AtomicUsize,
    slowest: AtomicU64,
}

impl Tally {
    fn report(&self, what: &str, start: Instant) {
        let (ok, bad) = (
            self.accepted.load(Ordering::Relaxed),
            self.rejected.load(Ordering::Relaxed),
        );
        eprintln!(
            "fuzz {what}: {} inputs ({ok} valid, {bad} rejected) in {:.1?}, slowest parse {} µs",
            ok + bad,
            start.elapsed(),
            self.slowest.load(Ordering::Relaxed)
        );
    }
}

/// Parses `text` and checks the contract, counting the outcome.
fn check(text: &str, tally: &Tally) -> Result<(), TestCaseError> {
    let start = Instant::now();
    let result = scenario::parse(text, Path::new(FILE));
    let took = start.elapsed();
    tally
        .slowest
        .fetch_max(took.as_micros() as u64, Ordering::Relaxed);
    prop_assert!(took < TIME_LIMIT, "parsing took {took:?}");
    let counter = if result.is_ok() {
        &tally.accepted
    } else {
        &tally.rejected
    };
    counter.fetch_add(1, Ordering::Relaxed);
    match result {
        Ok(s) => {
            // What validation promises the core (and memory).
            prop_assert!(s.workload.users >= 1 && s.workload.users <= scenario::MAX_USERS);
            prop_assert!(
                s.servers.count >= 1 && i64::from(s.servers.count) <= scenario::MAX_SERVERS
            );
            prop_assert!(
                !s.strategies.is_empty() && s.strategies.len() <= scenario::MAX_STRATEGIES
            );
            prop_assert!(s.faults.len() <= scenario::MAX_FAULTS);
            prop_assert!(!s.duration.is_zero() && s.duration <= scenario::MAX_DURATION);
            prop_assert!(scenario::check_rows(s.duration, s.report_interval).is_ok());
            for fault in &s.faults {
                prop_assert!(fault.at < lbsim::sim::time::SimTime::ZERO + s.duration);
            }
        }
        Err(err) => names_the_place(text, &err)?,
    }
    Ok(())
}

/// An error names the file, a line of it and (except for TOML syntax
/// errors, which are about characters, not keys) the field.
fn names_the_place(text: &str, err: &ScenarioError) -> Result<(), TestCaseError> {
    let shown = err.to_string();
    prop_assert_eq!(err.file.as_path(), Path::new(FILE), "{}", shown);
    let lines = text.split('\n').count();
    prop_assert!(
        err.line >= 1 && err.line <= lines,
        "line {} of {}: {}",
        err.line,
        lines,
        shown
    );
    prop_assert!(err.column >= 1, "{}", shown);
    prop_assert!(
        shown.starts_with(&format!("{FILE}:{}:{}: ", err.line, err.column)),
        "{}",
        shown
    );
    if !err.message.starts_with("invalid TOML") {
        prop_assert!(!err.field.is_empty(), "no field: {}", shown);
        prop_assert!(
            shown.contains(&format!("field `{}`", err.field)),
            "{}",
            shown
        );
    }
    prop_assert!(!err.message.is_empty());
    // serde's private names and Rust's types never leak.
    for internal in ["Raw", "serde", "i128", "i64", "u64", "f64", "u32"] {
        prop_assert!(!shown.contains(internal), "{} in: {}", internal, shown);
    }
    Ok(())
}

/// `bad_input.rs`'s small valid file, with a fault and a Redis strategy so
/// that mutations reach those checks too.
const GOOD: &str = r#"name = "fuzz"
duration = "10m"
report_interval = "10s"

[workload]
users = 100
arrival = { ramp = "10s" }
think_time = { dist = "mixture", parts = [
  { weight = 0.9, dist = "exponential", mean = "5s" },
  { weight = 0.1, dist = "uniform", min = "1s", max = "9s" },
] }

[servers]
count = 3
workers = 2
health_check = { interval = "2s", fall = 3, rise = 2 }
service_time = { dist = "lognormal", median = "2ms", p99 = "9ms" }

[store.redis]
persistence = "aof"
replicas = 1
min_replicas_to_write = 1

[[strategy]]
name = "rr"
balancer = "round_robin"
store = "redis"
redis = { appendfsync = "always", client = "lettuce" }

[[fault]]
at = "1m"
kind = "server_crash"
server = 1
recover_after = "1m"

[[fault]]
at = "3m"
kind = "random_crashes"
mtbf = "1m"
mttr = "10s"
until = "5m"
"#;

/// The valid files mutations start from.
fn seeds() -> Vec<&'static str> {
    let mut seeds: Vec<&str> = BUNDLED.iter().map(|b| b.text).collect();
    seeds.push(GOOD);
    seeds
}

/// Numbers worth trying where a number was: zero, negatives, extremes of
/// i64 and f64, NaN and infinities, just past u32, and a TOML integer too
/// big for i64.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "1e300",
    "-1e300",
    "1e-300",
    "nan",
    "-nan",
    "inf",
    "-inf",
    "0.0",
    "-0.0",
    "0.5",
    "1.0000000001",
    "4294967295",
    "4294967296",
    "1000000000000000",
    "1000000000000",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "0x7fffffffffffffff",
    "1_000",
];

/// Durations worth trying: zero in its forms, the smallest, past 100 years,
/// past u64 nanoseconds, malformed.
const DURATIONS: &[&str] = &[
    "0",
    "0s",
    "0ns",
    "1ns",
    "1us",
    "1ms",
    "36500d",
    "36501d",
    "213503d",
    "213504d",
    "999999999999d",
    "18446744073709551615ns",
    "18446744073709551616ns",
    "-1s",
    "1.5s",
    "",
    " ",
    "1h 1h",
    "1h1",
    "s",
    "30M",
    "1y",
    "µs",
    "1µs",
];

/// Values of every type, for a key that expects another.
const VALUES: &[&str] = &[
    "\"x\"",
    "\"random\"",
    "true",
    "[]",
    "{}",
    "[1, \"a\"]",
    "[{}]",
    "{ dist = \"constant\", value = \"1s\" }",
    "{ dist = \"mixture\", parts = [] }",
    "{ dist = \"mixture\", parts = [{ weight = 1.0, dist = \"mixture\", parts = [] }] }",
    "{ dist = \"exponential\", mean = \"0s\" }",
    "{ ramp = \"1s\", poisson_rate = 1.0 }",
    "1979-05-27T07:32:00Z",
    "'''multi\nline'''",
];

/// Words of the scenario vocabulary, to swap for a quoted string so that
/// mutations reach kind-specific checks (a server_crash's keys on a
/// redis_slow fault, a Redis setting on a local strategy).
const WORDS: &[&str] = &[
    "server_crash",
    "redis_restart",
    "redis_partition",
    "redis_slow",
    "rolling_deploy",
    "blue_green",
    "random_crashes",
    "scale_out",
    "scale_in",
    "round_robin",
    "sticky",
    "least_connections",
    "ip_hash",
    "consistent_hash",
    "power_of_two",
    "local",
    "redis",
    "cookie",
    "none",
    "aof",
    "rdb",
    "always",
    "everysec",
    "no",
    "crash",
    "host_crash",
    "graceful",
    "process",
    "host",
    "lettuce",
    "fail_fast",
    "fail",
    "logout",
    "fallback_auth",
    "constant",
    "exponential",
    "uniform",
    "lognormal",
    "mixture",
    "random",
    "local_ssd",
    "hdd",
];

/// Lines to insert: keys of every table and fault kind, some with extreme
/// values.
const LINES: &[&str] = &[
    "[[fault]]",
    "[[strategy]]",
    "[servers]",
    "[workload]",
    "[session]",
    "[store.redis]",
    "[store.local]",
    "[verdict]",
    "at = \"0s\"",
    "kind = \"scale_out\"",
    "add = 9999",
    "remove = 10000",
    "server = 99",
    "server = -1",
    "recover_after = \"0s\"",
    "downtime = \"36500d\"",
    "duration = \"0s\"",
    "latency = \"1ns\"",
    "mtbf = \"1ns\"",
    "mttr = \"1ns\"",
    "until = \"36500d\"",
    "shard = 63",
    "replicas = 16",
    "shards = 64",
    "wait_for_replicas = 17",
    "loading_rate = 0.0",
    "time_scale = 1e-300",
    "report_interval = \"1ms\"",
    "report_interval = \"36500d\"",
    "users = 20000000",
    "count = 10000",
    "workers = 1000001",
    "max_imbalance = 0.99",
    "max_logouts_without_faults = -1",
    "seed = -1",
    "ttl = \"0s\"",
    "save = []",
    "save = [ { after = \"0s\", changes = 0 } ]",
    "health_check = { interval = \"1ns\", fall = 0 }",
    "timeout_connect = \"0s\"",
    "retries = 101",
    "poisson_rate = nan",
    "ramp = \"36500d\"",
    "a.b.c = 1",
    "\"quoted key\" = 1",
    "=",
    "[",
    "[[",
    "\u{0}",
];

/// One way to break a file.
#[derive(Clone, Debug)]
enum Mutation {
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    InsertLine(Index, Index),
    /// The n-th number (a run of digits) becomes one of `NUMBERS`.
    Number(Index, Index),
    /// The n-th quoted string becomes one of `DURATIONS`.
    Duration(Index, Index),
    /// The n-th quoted string becomes one of `WORDS`.
    Word(Index, Index),
    /// The value after the n-th `=` becomes one of `VALUES`.
    Value(Index, Index),
    Bytes(Index, Vec<u8>),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<Index>().prop_map(Mutation::DeleteLine),
        1 => any::<Index>().prop_map(Mutation::DuplicateLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::InsertLine(a, b)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Number(a, b)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Duration(a, b)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Word(a, b)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Value(a, b)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(a, b)| Mutation::Bytes(a, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

/// Byte ranges of the matches of `find` in `text`, in order.
fn spans(text: &str, find: impl Fn(&str, usize) -> Option<(usize, usize)>) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some((start, end)) = find(text, from) {
        out.push((start, end));
        from = end.max(start + 1);
        if from >= text.len() {
            break;
        }
    }
    out
}

/// A run of ASCII digits starting at or after `from`.
fn number_at(text: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let start = (from..bytes.len()).find(|&i| bytes[i].is_ascii_digit())?;
    let end = (start..bytes.len())
        .find(|&i| !bytes[i].is_ascii_digit())
        .unwrap_or(bytes.len());
    Some((start, end))
}

/// The inside of a `"…"` string starting at or after `from`.
fn quoted_at(text: &str, from: usize) -> Option<(usize, usize)> {
    let open = from + text.get(from..)?.find('"')?;
    let close = open + 1 + text[open + 1..].find('"')?;
    Some((open + 1, close))
}

/// The value after an `= ` up to the end of its line, at or after `from`.
fn value_at(text: &str, from: usize) -> Option<(usize, usize)> {
    let eq = from + text.get(from..)?.find(" = ")?;
    let start = eq + 3;
    let end = text[start..].find('\n').map_or(text.len(), |e| start + e);
    Some((start, end))
}

/// Replaces the `which`-th span found by `find` with one of `choices`.
fn replace_nth(
    text: &str,
    find: impl Fn(&str, usize) -> Option<(usize, usize)>,
    which: &Index,
    choices: &[&str],
    choice: &Index,
) -> String {
    let found = spans(text, find);
    if found.is_empty() {
        return text.to_string();
    }
    let (start, end) = found[which.index(found.len())];
    format!("{}{}{}", &text[..start], choice.get(choices), &text[end..])
}

/// The largest char boundary at or below `at`.
fn boundary(text: &str, at: usize) -> usize {
    (0..=at.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let n = lines.len();
    match mutation {
        Mutation::DeleteLine(i) => {
            lines.remove(i.index(n));
        }
        Mutation::DuplicateLine(i) => {
            let line = lines[i.index(n)].clone();
            lines.insert(i.index(n), line);
        }
        Mutation::SwapLines(a, b) => lines.swap(a.index(n), b.index(n)),
        Mutation::InsertLine(at, which) => {
            lines.insert(at.index(n + 1), which.get(LINES).to_string())
        }
        Mutation::Number(which, choice) => {
            return replace_nth(text, number_at, which, NUMBERS, choice);
        }
        Mutation::Duration(which, choice) => {
            return replace_nth(text, quoted_at, which, DURATIONS, choice);
        }
        Mutation::Word(which, choice) => return replace_nth(text, quoted_at, which, WORDS, choice),
        Mutation::Value(which, choice) => {
            return replace_nth(text, value_at, which, VALUES, choice);
        }
        Mutation::Bytes(at, bytes) => {
            let at = boundary(text, at.index(text.len() + 1));
            let noise = String::from_utf8_lossy(bytes);
            return format!("{}{noise}{}", &text[..at], &text[at..]);
        }
        Mutation::Truncate(at) => {
            return text[..boundary(text, at.index(text.len() + 1))].to_string();
        }
    }
    lines.join("\n")
}

#[test]
fn mutated_scenario_files_are_valid_or_rejected_with_file_line_and_field() {
    let seeds = seeds();
    let strategy = (any::<Index>(), prop::collection::vec(mutation(), 1..5));
    let (tally, start) = (Tally::default(), Instant::now());
    runner()
        .run(&strategy, |(seed, mutations)| {
            let mut text = seed.get(&seeds).to_string();
            for m in &mutations {
                text = apply(&text, m);
            }
            check(&text, &tally)
        })
        .unwrap();
    tally.report("mutated files", start);
}

/// Keys the generator picks from: the scenario's own (so that some
/// documents get past "unknown field") and a few of its own.
const KEYS: &[&str] = &[
    "name",
    "duration",
    "report_interval",
    "seed",
    "time_scale",
    "description",
    "workload",
    "users",
    "arrival",
    "ramp",
    "poisson_rate",
    "think_time",
    "servers",
    "count",
    "workers",
    "service_time",
    "health_check",
    "interval",
    "fall",
    "rise",
    "session",
    "ttl",
    "store",
    "redis",
    "local",
    "latency",
    "persistence",
    "save",
    "after",
    "changes",
    "replicas",
    "shards",
    "strategy",
    "balancer",
    "fault",
    "at",
    "kind",
    "server",
    "recover_after",
    "downtime",
    "add",
    "remove",
    "mtbf",
    "mttr",
    "until",
    "dist",
    "value",
    "mean",
    "min",
    "max",
    "median",
    "p99",
    "weight",
    "parts",
    "verdict",
    "max_imbalance",
    "x",
    "",
];

/// A random TOML value, nested up to a few levels.
fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(1),
            Just(i64::MAX),
            Just(i64::MIN)
        ]
        .prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(1e300), Just(0.5)]
            .prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
        any::<Index>().prop_map(|i| toml::Value::String(i.get(DURATIONS).to_string())),
        any::<Index>().prop_map(|i| toml::Value::String(i.get(WORDS).to_string())),
        ".{0,12}".prop_map(toml::Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::vec((any::<Index>(), inner), 0..6).prop_map(|entries| {
                toml::Value::Table(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.get(KEYS).to_string(), v))
                        .collect(),
                )
            }),
        ]
    })
}

#[test]
fn random_toml_documents_are_rejected_with_file_line_and_field() {
    let document =
        prop::collection::vec((any::<Index>(), toml_value()), 0..10).prop_map(|entries| {
            let table: toml::Table = entries
                .into_iter()
                .map(|(k, v)| (k.get(KEYS).to_string(), v))
                .collect();
            toml::to_string(&table).unwrap_or_default()
        });
    let (tally, start) = (Tally::default(), Instant::now());
    runner()
        .run(&document, |text| check(&text, &tally))
        .unwrap();
    tally.report("random TOML", start);
}

#[test]
fn random_text_is_rejected_with_file_line_and_field() {
    // Any characters, and TOML's own punctuation more often.
    let text = prop_oneof![".{0,200}", "[\\[\\]{}=\"'., \\n#a-z0-9_-]{0,200}",];
    let (tally, start) = (Tally::default(), Instant::now());
    runner().run(&text, |text| check(&text, &tally)).unwrap();
    tally.report("random text", start);
}

// Regressions: inputs the fuzzing (or reading the code while writing it)
// found that broke the contract, each kept as its own test.

/// Parses `text`, expecting an error whose text contains every one of
/// `expect` (and which passes the contract above).
fn refused(text: &str, expect: &[&str]) {
    let err = scenario::parse(text, Path::new(FILE)).expect_err("should be refused");
    names_the_place(text, &err).unwrap();
    let shown = err.to_string();
    for part in expect {
        assert!(shown.contains(part), "expected `{part}` in: {shown}");
    }
}

#[test]
fn regression_a_health_check_interval_of_days_on_thousands_of_servers() {
    // Server i is first checked at i * interval / count, which overflowed
    // u64 (a panic in debug builds, a wrong time in release) once interval
    // * i passed 584 years of nanoseconds: 30 days times server 8000.
    let text = GOOD
        .replace("count = 3", "count = 8000")
        .replace("interval = \"2s\"", "interval = \"30d\"")
        .replace("users = 100", "users = 1");
    let s = crate::support::scenario(&text);
    let results = lbsim::runner::run(&s);
    assert_eq!(results.len(), 1);
}

#[test]
fn regression_a_missing_key_is_the_field() {
    // serde's "missing field `name`" came with no field at all (the path is
    // the table that lacks it, here the top level).
    let text = GOOD.replacen("name = \"fuzz\"\n", "", 1);
    refused(&text, &["fuzz.toml:1:1", "field `name`", "is missing"]);
    let text = GOOD.replace("count = 3\n", "");
    refused(&text, &["field `servers.count`", "is missing"]);
}

#[test]
fn regression_an_empty_key() {
    refused(
        &format!("\"\" = 0\n{GOOD}"),
        &["fuzz.toml:1:1", "field `\"\"`", "unknown field"],
    );
}

#[test]
fn regression_nesting_deeper_than_the_parser_recurses() {
    // The TOML parser stops at its recursion limit instead of overflowing
    // the stack (which would abort the process, not panic).
    let deep = format!("{GOOD}x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    refused(&deep, &["invalid TOML", "recursion"]);
    let mixtures = format!(
        "{}\n",
        GOOD.replace(
            "think_time = {",
            &format!(
                "think_time = {}{{",
                "{ dist = \"mixture\", parts = [ { weight = 1.0, ".repeat(5000)
            )
        )
    );
    refused(&mixtures, &["invalid TOML"]);
}

#[test]
fn regression_integers_past_i64_and_sizes_past_the_limits() {
    refused(
        &GOOD.replace("users = 100", "users = 99999999999999999999"),
        &[
            "fuzz.toml:6:9",
            "field `workload.users`",
            "too big for a whole number",
        ],
    );
    refused(
        &GOOD.replace("users = 100", "users = 9223372036854775807"),
        &["field `workload.users`", "at most 20000000"],
    );
    refused(
        &GOOD.replace("count = 3", "count = -9223372036854775808"),
        &["field `servers.count`", "at least 1"],
    );
    // A fault's `server` takes any TOML value (a number or "random"), and
    // its message came from serde as "… as i128, expected any valid TOML
    // value".
    refused(
        &GOOD.replace("server = 1", "server = 99999999999999999999"),
        &["field `fault[0].server`", "too big for a whole number"],
    );
}

#[test]
fn regression_nan_and_infinite_numbers() {
    refused(
        &GOOD.replace("weight = 0.9", "weight = nan"),
        &[
            "field `workload.think_time.parts[0].weight`",
            "positive number",
        ],
    );
    refused(
        &GOOD.replace("weight = 0.9", "weight = inf"),
        &[
            "field `workload.think_time.parts[0].weight`",
            "positive number",
        ],
    );
    refused(
        &GOOD.replace("ramp = \"10s\"", "poisson_rate = -inf"),
        &["field `workload.arrival.poisson_rate`", "positive number"],
    );
}
