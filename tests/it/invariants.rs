//! Invariants of the engine on random small scenarios (proptest): whatever
//! the users, servers, think time, faults, balancers, stores and
//! persistence, the counts obey the identities that lbsim's definitions
//! imply, the time series adds up to the totals, a store that loses
//! nothing logs nobody out, and one seed gives the same bytes on 1 and 2
//! threads.
//!
//! Each case is a scenario written as TOML and read by the real parser, so
//! every case is a scenario a user could write. `LBSIM_INVARIANT_CASES`
//! sets the number of cases (default 1,024 in an optimised build, about
//! 9 s on the 2-core development machine, and 64 in a debug build, about
//! 8 s).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use lbsim::report::csv;
use lbsim::sim::UserId;
use lbsim::sim::config::Scenario;
use lbsim::sim::engine::Simulation;
use lbsim::sim::metrics::{Counts, StrategyResult};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// One strategy of a generated scenario.
#[derive(Clone, Debug)]
struct StrategySpec {
    balancer: &'static str,
    store: &'static str,
    /// `redis = { … }` overrides (with store = "redis").
    redis: Option<String>,
    on_store_error: &'static str,
    /// Whether nothing this strategy's store holds can be lost to the
    /// scenario's faults (decided once the faults are known).
    lossless_store: bool,
}

/// A generated scenario: its TOML and what the test needs to know of it.
#[derive(Clone, Debug)]
struct Case {
    toml: String,
    strategies: Vec<StrategySpec>,
}

const BALANCERS: [&str; 7] = [
    "round_robin",
    "sticky",
    "least_connections",
    "ip_hash",
    "source",
    "consistent_hash",
    "power_of_two",
];

/// Redis persistence settings, and whether a restart of this kind
/// (`crash`, `host_crash`, `graceful`) can lose an acknowledged session.
/// `appendfsync always` fsyncs every write before it is acknowledged, so
/// it loses nothing in any restart; the others lose a window (`everysec`,
/// `no` and RDB on a host crash, no persistence always).
const PERSISTENCE: [(&str, [bool; 3]); 6] = [
    ("persistence = \"none\"", [true, true, true]),
    (
        "persistence = \"aof\", appendfsync = \"always\"",
        [false, false, false],
    ),
    (
        "persistence = \"aof\", appendfsync = \"everysec\"",
        [false, true, false],
    ),
    (
        "persistence = \"aof\", appendfsync = \"no\"",
        [false, true, false],
    ),
    // RDB loses everything since the last snapshot in any crash.
    ("persistence = \"rdb\"", [true, true, false]),
    (
        "persistence = \"rdb\", save = [ { after = \"10s\", changes = 1 } ]",
        [true, true, false],
    ),
];

const RESTART_MODES: [&str; 3] = ["crash", "host_crash", "graceful"];

#[derive(Clone, Debug)]
enum FaultSpec {
    ServerCrash {
        at: u32,
        server: u32,
        recover: u32,
        host: bool,
    },
    RedisRestart {
        at: u32,
        mode: usize,
        downtime: u32,
    },
    RedisPartition {
        at: u32,
        duration: u32,
    },
    RedisSlow {
        at: u32,
        duration: u32,
        latency_ms: u32,
    },
    ScaleOut {
        at: u32,
        add: u32,
    },
    /// Removes one server (only generated with 2 or more, so one stays).
    ScaleIn {
        at: u32,
        drain: u32,
    },
    RollingDeploy {
        at: u32,
        pause: u32,
    },
    BlueGreen {
        at: u32,
        grace: u32,
    },
    RandomCrashes {
        at: u32,
        mtbf: u32,
        mttr: u32,
    },
}

fn fault_spec(duration_s: u32, servers: u32) -> impl Strategy<Value = FaultSpec> {
    let at = 1..duration_s;
    prop_oneof![
        (at.clone(), 0..servers, 1..120u32, any::<bool>()).prop_map(
            |(at, server, recover, host)| {
                FaultSpec::ServerCrash {
                    at,
                    server,
                    recover,
                    host,
                }
            }
        ),
        (at.clone(), 0..3usize, 1..60u32)
            .prop_map(|(at, mode, downtime)| FaultSpec::RedisRestart { at, mode, downtime }),
        (at.clone(), 1..60u32)
            .prop_map(|(at, duration)| FaultSpec::RedisPartition { at, duration }),
        (at.clone(), 1..60u32, 1..200u32).prop_map(|(at, duration, latency_ms)| {
            FaultSpec::RedisSlow {
                at,
                duration,
                latency_ms,
            }
        }),
        (at.clone(), 1..3u32).prop_map(|(at, add)| FaultSpec::ScaleOut { at, add }),
        (at.clone(), 0..30u32).prop_map(|(at, drain)| FaultSpec::ScaleIn { at, drain }),
        (at.clone(), 1..30u32).prop_map(|(at, pause)| FaultSpec::RollingDeploy { at, pause }),
        (at.clone(), 0..30u32).prop_map(|(at, grace)| FaultSpec::BlueGreen { at, grace }),
        (at, 30..600u32, 1..60u32).prop_map(|(at, mtbf, mttr)| FaultSpec::RandomCrashes {
            at,
            mtbf,
            mttr
        }),
    ]
}

#[derive(Clone, Debug)]
struct RawStrategy {
    balancer: usize,
    store: usize,
    persistence: usize,
    replicas: bool,
    /// The client: 0 fail fast, 1 Lettuce, 2 fail fast to a 3-shard
    /// Redis Cluster (Lettuce's cluster client is not modelled).
    client: usize,
    on_store_error: usize,
}

fn raw_strategy() -> impl Strategy<Value = RawStrategy> {
    (
        0..BALANCERS.len(),
        0..3usize,
        0..PERSISTENCE.len(),
        any::<bool>(),
        0..3usize,
        0..3usize,
    )
        .prop_map(
            |(balancer, store, persistence, replicas, client, on_store_error)| RawStrategy {
                balancer,
                store,
                persistence,
                replicas,
                client,
                on_store_error,
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (60..900u32, 1..5u32)
        .prop_flat_map(|(duration_s, servers)| {
            (
                Just(duration_s),
                Just(servers),
                0..i64::MAX as u64,
                1..80u32,
                0..3u32,
                1..60u32,
                30..1200u32,
                any::<bool>(),
                prop::collection::vec(raw_strategy(), 1..5),
                prop::collection::vec(fault_spec(duration_s, servers), 0..4),
            )
        })
        .prop_map(
            |(duration_s, servers, seed, users, workers, think_s, ttl_s, checks, raws, faults)| {
                build(
                    duration_s, servers, seed, users, workers, think_s, ttl_s, checks, &raws,
                    &faults,
                )
            },
        )
}

#[allow(clippy::too_many_arguments)]
fn build(
    duration_s: u32,
    servers: u32,
    seed: u64,
    users: u32,
    workers: u32,
    think_s: u32,
    ttl_s: u32,
    health_checks: bool,
    raws: &[RawStrategy],
    faults: &[FaultSpec],
) -> Case {
    let mut toml = String::new();
    writeln!(
        toml,
        "name = \"invariant\"\nseed = {seed}\nduration = \"{duration_s}s\""
    )
    .unwrap();
    writeln!(toml, "report_interval = \"10s\"\n").unwrap();
    writeln!(
        toml,
        "[workload]\nusers = {users}\narrival = {{ ramp = \"30s\" }}"
    )
    .unwrap();
    writeln!(
        toml,
        "think_time = {{ dist = \"exponential\", mean = \"{think_s}s\" }}\n"
    )
    .unwrap();
    writeln!(toml, "[servers]\ncount = {servers}\nworkers = {workers}").unwrap();
    writeln!(
        toml,
        "service_time = {{ dist = \"exponential\", mean = \"20ms\" }}"
    )
    .unwrap();
    if health_checks {
        writeln!(
            toml,
            "health_check = {{ interval = \"2s\", fall = 3, rise = 2 }}"
        )
        .unwrap();
    }
    writeln!(toml, "\n[session]\nttl = \"{ttl_s}s\"\n").unwrap();

    // What the faults can destroy: app-server memory (crashes, a
    // scale-out re-balancing users onto empty servers) and Redis restarts
    // by mode.
    let servers_lose = faults.iter().any(|f| {
        !matches!(
            f,
            FaultSpec::RedisRestart { .. }
                | FaultSpec::RedisPartition { .. }
                | FaultSpec::RedisSlow { .. }
        )
    });
    let restarts: Vec<usize> = faults
        .iter()
        .filter_map(|f| match f {
            FaultSpec::RedisRestart { mode, .. } => Some(*mode),
            _ => None,
        })
        .collect();

    let mut strategies = Vec::new();
    for (i, raw) in raws.iter().enumerate() {
        let balancer = BALANCERS[raw.balancer];
        let store = ["local", "redis", "cookie"][raw.store];
        let on_store_error = ["fail", "logout", "fallback_auth"][raw.on_store_error];
        let (persistence, loses_in) = PERSISTENCE[raw.persistence];
        let redis = (store == "redis").then(|| {
            let mut over = persistence.to_string();
            if raw.replicas {
                over.push_str(", replicas = 1");
            }
            if raw.client == 1 {
                over.push_str(", client = \"lettuce\"");
            }
            if raw.client == 2 {
                over.push_str(", shards = 3");
            }
            over
        });
        let lossless_store = match store {
            "cookie" => true,
            // Only one server and nothing that empties or adds one: the
            // one server's memory holds every session and keeps it.
            "local" => servers == 1 && !servers_lose,
            // A replica promoted on failover lacks the writes still in the
            // replication stream; a restart loses what its persistence
            // does not keep. `logout` turns an unreachable store into
            // forced logouts by design, so it is not "losing nothing".
            _ => {
                !raw.replicas
                    && on_store_error != "logout"
                    && restarts.iter().all(|&mode| !loses_in[mode])
            }
        };
        strategies.push(StrategySpec {
            balancer,
            store,
            redis,
            on_store_error,
            lossless_store,
        });
        writeln!(toml, "[[strategy]]\nname = \"s{i} {balancer} {store}\"").unwrap();
        writeln!(toml, "balancer = \"{balancer}\"\nstore = \"{store}\"").unwrap();
        if let Some(redis) = &strategies[i].redis {
            writeln!(toml, "redis = {{ {redis} }}").unwrap();
        }
        writeln!(toml, "on_store_error = \"{on_store_error}\"\n").unwrap();
    }
    // Down times of each named server so far: validation refuses two
    // crashes of one server whose down times overlap or touch.
    let mut down: Vec<(u32, u32, u32)> = Vec::new();
    for fault in faults {
        match *fault {
            FaultSpec::ServerCrash { at, server, recover, .. }
                if down
                    .iter()
                    .any(|&(s, from, to)| s == server && at <= to && at + recover >= from) =>
            {
                Ok(())
            }
            FaultSpec::ServerCrash { at, server, recover, host } => {
                down.push((server, at, at + recover));
                let mode = if host { "host" } else { "process" };
                writeln!(
                    toml,
                    "[[fault]]\nat = \"{at}s\"\nkind = \"server_crash\"\nserver = {server}\n\
                     recover_after = \"{recover}s\"\nmode = \"{mode}\"\n"
                )
            }
            FaultSpec::RedisRestart { at, mode, downtime } => writeln!(
                toml,
                "[[fault]]\nat = \"{at}s\"\nkind = \"redis_restart\"\nmode = \"{}\"\n\
                 downtime = \"{downtime}s\"\n",
                RESTART_MODES[mode]
            ),
            FaultSpec::RedisPartition { at, duration } => writeln!(
                toml,
                "[[fault]]\nat = \"{at}s\"\nkind = \"redis_partition\"\nduration = \"{duration}s\"\n"
            ),
            FaultSpec::RedisSlow { at, duration, latency_ms } => writeln!(
                toml,
                "[[fault]]\nat = \"{at}s\"\nkind = \"redis_slow\"\nduration = \"{duration}s\"\n\
                 latency = \"{latency_ms}ms\"\n"
            ),
            FaultSpec::ScaleOut { at, add } => writeln!(
                toml,
                "[[fault]]\nat = \"{at}s\"\nkind = \"scale_out\"\nadd = {add}\n"
            ),
            // A scale-in may not leave the farm empty: only with 2 or more.
            FaultSpec::ScaleIn { .. } if servers < 2 => Ok(()),
            FaultSpec::ScaleIn { at, drain } => writeln!(
                toml,
                "[[fault]]\nat = \"{at}s\"\nkind = \"scale_in\"\nremove = 1\ndrain = \"{drain}s\"\n"
            ),
            FaultSpec::RollingDeploy { at, pause } => writeln!(
                toml,
                "[[fault]]\nat = \"{at}s\"\nkind = \"rolling_deploy\"\npause = \"{pause}s\"\n"
            ),
            FaultSpec::BlueGreen { at, grace } => writeln!(
                toml,
                "[[fault]]\nat = \"{at}s\"\nkind = \"blue_green\"\ngrace = \"{grace}s\"\n"
            ),
            FaultSpec::RandomCrashes { at, mtbf, mttr } => writeln!(
                toml,
                "[[fault]]\nat = \"{at}s\"\nkind = \"random_crashes\"\nmtbf = \"{mtbf}s\"\n\
                 mttr = \"{mttr}s\"\nuntil = \"{}s\"\n",
                at + 120
            ),
        }
        .unwrap();
    }
    Case { toml, strategies }
}

/// Runs strategy `i` as the runner does, and also counts the users who
/// hold a session when the run ends (the engine's state just before
/// `finish`, which only closes the last interval).
fn run_one(scenario: &Arc<Scenario>, i: usize) -> (StrategyResult, u64) {
    let mut sim = Simulation::new(scenario.clone(), i);
    while sim.step().is_some() {}
    let holders = (0..scenario.workload.users)
        .filter(|&u| !sim.world().user_session(UserId(u)).session.is_none())
        .count() as u64;
    (sim.finish(), holders)
}

fn sum(rows: &[lbsim::sim::metrics::IntervalRow]) -> Counts {
    rows.iter().fold(Counts::default(), |mut acc, row| {
        let c = row.counts;
        acc.requests += c.requests;
        acc.logins += c.logins;
        acc.forced_logouts += c.forced_logouts;
        acc.expired += c.expired;
        acc.errors += c.errors;
        acc.reauths += c.reauths;
        acc
    })
}

/// Every file's bytes that the runner's results decide (plots aside).
fn csv_bytes(scenario: &Scenario, results: &[StrategyResult]) -> Vec<Vec<u8>> {
    vec![
        csv::summary(results),
        csv::timeseries(results),
        csv::events(results),
        csv::faults(scenario, results),
        csv::servers(results),
        csv::imbalance(results),
    ]
}

fn on_threads(threads: usize, scenario: &Scenario) -> Vec<StrategyResult> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(|| lbsim::runner::run(scenario))
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let scenario = lbsim::scenario::parse(&case.toml, std::path::Path::new("invariant.toml"))
        .map_err(|e| TestCaseError::fail(format!("generated an invalid scenario: {e}")))?;
    let scenario = Arc::new(scenario);
    for (i, spec) in case.strategies.iter().enumerate() {
        let (result, holders) = run_one(&scenario, i);
        let t = result.totals;
        let name = &result.name;
        STRATEGIES.fetch_add(1, Relaxed);
        for (counter, n) in [
            (&WITH_LOGOUTS, t.forced_logouts),
            (&WITH_EXPIRED, t.expired),
            (&WITH_ERRORS, t.errors),
            (&WITH_REAUTHS, t.reauths),
        ] {
            if n > 0 {
                counter.fetch_add(1, Relaxed);
            }
        }

        // Every completed request is recorded once: errors in the error
        // histogram, everything else (pages found, logins, forced logouts,
        // expiries and re-authentications, each answered with a page) in
        // the latency histogram.
        prop_assert_eq!(
            t.requests,
            result.latency_us.len() + result.error_latency_us.len(),
            "{}: requests = served + errors",
            name
        );
        prop_assert_eq!(t.errors, result.error_latency_us.len(), "{}", name);
        // Forced logouts, expiries and re-authentications are page
        // requests (a login has no session to miss).
        prop_assert!(
            t.forced_logouts + t.expired + t.reauths <= t.requests - t.logins,
            "{name}: {t:?}"
        );
        // Logins: a user starts logged out; only a login that worked gives
        // it a session, and only a forced logout or an expiry takes it
        // away (an error keeps the cookie). So per user, successful logins
        // alternate with losses, and in total
        //   logins - failed logins = forced logouts + expired + holders
        // where holders are the users holding a session at the end. A
        // failed login is an error, so 0 <= failed logins <= errors.
        let lost = t.forced_logouts + t.expired;
        prop_assert!(
            lost + holders <= t.logins && t.logins <= lost + holders + t.errors,
            "{name}: logins {} vs forced {} + expired {} + holders {holders} (+ errors {})",
            t.logins,
            t.forced_logouts,
            t.expired,
            t.errors
        );
        if t.errors == 0 {
            prop_assert_eq!(t.logins, lost + holders, "{}", name);
        }
        prop_assert!(holders <= result.users_arrived, "{name}");
        prop_assert!(
            result.users_affected <= t.forced_logouts.min(result.users_arrived),
            "{name}: {} affected",
            result.users_affected
        );
        prop_assert_eq!(
            result.users_affected == 0,
            t.forced_logouts == 0,
            "{}",
            name
        );

        // The time series adds up exactly to the totals.
        prop_assert_eq!(sum(&result.timeseries), t, "{}: timeseries sum", name);
        // Each fault's toll: the logouts its destroyed sessions caused are
        // among the forced logouts.
        let tolled: u64 = result.fault_tolls.iter().map(|f| f.logged_out).sum();
        prop_assert!(tolled <= t.forced_logouts, "{name}: tolls {tolled}");

        // A store that lost nothing logs nobody out, and no fault destroyed
        // a session of it.
        if spec.lossless_store {
            LOSSLESS.fetch_add(1, Relaxed);
            let destroyed: u64 = result.fault_losses.iter().flatten().sum();
            prop_assert_eq!(destroyed, 0, "{}: sessions destroyed", name);
            prop_assert_eq!(
                t.forced_logouts,
                0,
                "{} ({} + {}, {:?}, on_store_error {}) lost nothing yet logged users out",
                name,
                spec.balancer,
                spec.store,
                spec.redis,
                spec.on_store_error
            );
        }
    }
    // One seed, the same bytes on 1 and 2 threads.
    CASES_RUN.fetch_add(1, Relaxed);
    let one = on_threads(1, &scenario);
    let two = on_threads(2, &scenario);
    prop_assert!(
        csv_bytes(&scenario, &one) == csv_bytes(&scenario, &two),
        "1 and 2 threads differ"
    );
    Ok(())
}

// How many checked strategies showed each thing, to show that the
// generator reaches them (shrinking runs cases again, so these are rough).
static CASES_RUN: AtomicU64 = AtomicU64::new(0);
static STRATEGIES: AtomicU64 = AtomicU64::new(0);
static LOSSLESS: AtomicU64 = AtomicU64::new(0);
static WITH_LOGOUTS: AtomicU64 = AtomicU64::new(0);
static WITH_EXPIRED: AtomicU64 = AtomicU64::new(0);
static WITH_ERRORS: AtomicU64 = AtomicU64::new(0);
static WITH_REAUTHS: AtomicU64 = AtomicU64::new(0);

#[test]
fn random_scenarios_keep_the_engine_invariants() {
    let cases = std::env::var("LBSIM_INVARIANT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 64 } else { 1024 });
    let config = Config {
        cases,
        // A failing case is printed (its TOML) rather than saved to a file
        // in the source tree.
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(&case(), |case| {
        check(&case)
            .map_err(|e| TestCaseError::fail(format!("{e}\n--- scenario ---\n{}", case.toml)))
    });
    if let Err(err) = outcome {
        panic!("{err}");
    }
    let seen = |c: &AtomicU64| c.load(Relaxed);
    eprintln!(
        "{} cases, {} strategies: {} with a store that loses nothing; with forced logouts {}, \
         expiries {}, errors {}, re-authentications {}",
        seen(&CASES_RUN),
        seen(&STRATEGIES),
        seen(&LOSSLESS),
        seen(&WITH_LOGOUTS),
        seen(&WITH_EXPIRED),
        seen(&WITH_ERRORS),
        seen(&WITH_REAUTHS)
    );
    // Each kind shows in several percent of strategies at least (measured
    // over 400 cases), so 64 cases, about 160 strategies, miss one only by
    // a generator that stopped reaching it.
    if cases >= 64 {
        for c in [
            &LOSSLESS,
            &WITH_LOGOUTS,
            &WITH_EXPIRED,
            &WITH_ERRORS,
            &WITH_REAUTHS,
        ] {
            assert!(seen(c) > 0, "the generator no longer reaches every outcome");
        }
    }
}

/// The first case the invariants found (issue 12): a Lettuce client holds
/// the user's page request through a 26 s partition, and the kernel's
/// retransmissions (0.2 s doubling) deliver it 51 s after it was sent, when
/// Redis has expired the session (TTL 30 s, last refreshed about 20 s
/// before). The user's own clock says the same, so it is an expiry, not a
/// forced logout; it used to be judged at the request's start, when the
/// session was still valid, and counted as a forced logout of a store that
/// lost nothing.
#[test]
fn a_command_held_past_the_ttl_finds_its_session_expired_not_lost() {
    let text = "name = \"held\"\nseed = 0\nduration = \"95s\"\n\
        [workload]\nusers = 1\narrival = { ramp = \"30s\" }\n\
        think_time = { dist = \"exponential\", mean = \"18s\" }\n\
        [servers]\ncount = 1\nworkers = 0\n\
        service_time = { dist = \"exponential\", mean = \"20ms\" }\n\
        [session]\nttl = \"30s\"\n\
        [[strategy]]\nname = \"lettuce\"\nbalancer = \"round_robin\"\nstore = \"redis\"\n\
        redis = { persistence = \"none\", client = \"lettuce\" }\n\
        [[fault]]\nat = \"1s\"\nkind = \"redis_partition\"\nduration = \"26s\"\n";
    let results = crate::support::run(text);
    let t = results[0].totals;
    assert_eq!((t.forced_logouts, t.expired, t.errors), (0, 1, 0), "{t:?}");
}
