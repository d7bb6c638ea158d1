//! `lbsim demo`: one strategy of a scenario on the real stack, with no
//! generated load, for a class to click. It starts what `run --stack`
//! starts for that strategy (HAProxy in front of the scenario's app
//! servers, and redis-server for a Redis store: `stack::start_stack`), in
//! real time, and serves a control page for the teacher whose buttons
//! carry out the same operations as the stack's faults
//! (`stack::operations`), each explained in one sentence
//! (`explain`). Ctrl-C stops every process it started.
//!
//! Files: `actions` (what each button does, and the log), `control` (the
//! control page's HTTP server), `page` (its HTML), `explain` (the
//! sentences).

mod actions;
mod control;
pub mod explain;
mod page;

use std::net::TcpListener;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use crate::error::Error;
use crate::live::redis_process;
use crate::scenario;
use crate::sim::config::{Scenario, Strategy};
use crate::sim::store::StoreConfig;
use crate::stack::{self, Plan, StackError};

/// Server slots HAProxy's configuration declares beyond the scenario's
/// servers, so that "scale out" can be pressed this many times.
pub const SPARE_SLOTS: u32 = 3;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Scenario file, or the name of a bundled scenario.
    pub file: String,
    /// The strategy to run (its name in the scenario) [default: the first
    /// one the stack can run].
    #[arg(long)]
    pub strategy: Option<String>,
    /// The application listens on this loopback port, HAProxy's stats page
    /// on the next and the control page on the one after; 0 picks free
    /// ports.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// How long a server is drained before it is stopped, by "scale in"
    /// and "rolling deploy" (e.g. 3s).
    #[arg(long, default_value = "3s", value_parser = parse_drain)]
    pub drain: Duration,
    /// haproxy binary [default: the first on PATH, or /usr/sbin].
    #[arg(long)]
    pub haproxy: Option<PathBuf>,
    /// redis-server binary [default: the first on PATH].
    #[arg(long)]
    pub redis_server: Option<PathBuf>,
}

fn parse_drain(text: &str) -> Result<Duration, String> {
    let d = scenario::parse_duration(text)?;
    if d.as_nanos() > 600_000_000_000 {
        return Err("is too long for a demo: at most 10m".into());
    }
    Ok(Duration::from_nanos(d.as_nanos()))
}

/// The three addresses the demo prints.
#[derive(Clone, Debug)]
pub struct Urls {
    pub app: String,
    pub stats: String,
    pub control: String,
}

/// Runs the demo until Ctrl-C (or SIGTERM).
pub fn run(args: DemoArgs) -> Result<(), Error> {
    let loaded = scenario::load_named(&args.file)?;
    let scenario = loaded.scenario;
    let index = choose_strategy(&scenario, args.strategy.as_deref())?;
    let strategy = &scenario.strategies[index];
    let haproxy = stack::program_binary(stack::front::Program::Haproxy, args.haproxy.as_deref())?;
    let redis = match strategy.store {
        StoreConfig::Redis(_) => Some(stack::redis_binary(args.redis_server.as_deref())?),
        _ => None,
    };
    let ports = choose_ports(args.port)?;
    let plan = Plan {
        scenario: &scenario,
        chosen: vec![index],
        // Real time: a student's clicks are not compressed.
        time_scale: 1.0,
        haproxy: Some(haproxy),
        nginx: None,
        redis,
        quiet: true,
        listen: Some((ports.0, ports.1)),
        spares: SPARE_SLOTS,
    };
    // The control page's tasks hold the processes: they are stopped when
    // `on_one_thread` returns.
    stack::on_one_thread(serve(plan, ports.2, args.drain))??;
    crate::say!("lbsim demo: stopped every process it started");
    Ok(())
}

/// Starts the stack and serves the control page until Ctrl-C.
async fn serve(plan: Plan<'_>, control: TcpListener, drain: Duration) -> Result<(), StackError> {
    // Listening starts before anything is started.
    let stop = crate::live::child::stop_requested()
        .map_err(|e| StackError::Failed(format!("cannot listen for signals: {e}")))?;
    let mut stop = Box::pin(stop);
    let start = async {
        let stack = stack::start_stack(&plan, plan.chosen[0]).await?;
        let demo = actions::Demo::new(&plan, stack, &control, drain)?;
        Ok::<_, StackError>(Rc::new(demo))
    };
    let demo = tokio::select! {
        demo = start => demo?,
        () = &mut stop => return Ok(()),
    };
    print_banner(&plan, &demo);
    tokio::select! {
        outcome = control::serve(demo.clone(), control) => outcome,
        () = &mut stop => Ok(()),
    }
}

fn print_banner(plan: &Plan<'_>, demo: &actions::Demo) {
    let strategy = &plan.scenario.strategies[plan.chosen[0]];
    let urls = &demo.urls;
    println!(
        "lbsim demo: `{}` of scenario `{}`: {} app servers behind HAProxy; sessions {}\n\n  \
         application    {}   (students log in here)\n  \
         HAProxy stats  {}\n  \
         control page   {}   (for the teacher; its key keeps other accounts out)\n\n\
         Ctrl-C stops every process lbsim started.",
        strategy.name,
        plan.scenario.name,
        plan.scenario.servers.count,
        strategy.store.in_words(),
        urls.app,
        urls.stats,
        urls.control
    );
}

/// The strategy named, or the first the stack can run.
fn choose_strategy(scenario: &Scenario, name: Option<&str>) -> Result<usize, Error> {
    let names = || {
        scenario
            .strategies
            .iter()
            .map(|s| format!("`{}`", s.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let index = match name {
        Some(name) => scenario
            .strategies
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--strategy: scenario `{}` has no strategy `{name}`; it has {}",
                    scenario.name,
                    names()
                ))
            })?,
        None => scenario
            .strategies
            .iter()
            .position(|s| why_not(s).is_none())
            .ok_or_else(|| {
                let reasons: Vec<String> = scenario
                    .strategies
                    .iter()
                    .filter_map(|s| Some(format!("`{}`: {}", s.name, why_not(s)?)))
                    .collect();
                Error::Usage(format!(
                    "no strategy of scenario `{}` can run in the demo ({})",
                    scenario.name,
                    reasons.join("; ")
                ))
            })?,
    };
    let strategy: &Strategy = &scenario.strategies[index];
    if let Some(why) = why_not(strategy) {
        return Err(Error::Usage(format!(
            "--strategy `{}` cannot run on the stack: {why}",
            strategy.name
        )));
    }
    Ok(index)
}

/// Why the demo cannot run `strategy`, or `None` if it can.
fn why_not(strategy: &Strategy) -> Option<String> {
    // The demo starts no load and no scenario fault: the link faults
    // are not its business.
    if let Some(why) = stack::cannot_express(strategy, false) {
        return Some(why);
    }
    // Its buttons restart one redis-server, and its sentences explain
    // that; a failover is for `run --stack`.
    if let StoreConfig::Redis(r) = &strategy.store
        && (r.shards > 1 || r.replication.is_some())
    {
        return Some(
            "the demo runs a lone redis-server; `lbsim run --stack` runs replicas with \
             Sentinels and clusters"
                .into(),
        );
    }
    // The page reads HAProxy's runtime API and links its stats page;
    // nginx open source has neither (`run --stack` runs ip_hash on nginx).
    (stack::front::Program::for_balancer(strategy.balancer.name) != stack::front::Program::Haproxy)
        .then(|| {
            format!(
                "balancer `{}` runs on nginx, and the demo runs on HAProxy (its page shows \
                 HAProxy's view of each server); `lbsim run --stack` runs it on nginx",
                strategy.balancer.name
            )
        })
}

/// The application's and the stats page's ports, and the control page's
/// listener: `base`, `base + 1` and `base + 2`, or free ones for 0.
fn choose_ports(base: u16) -> Result<(u16, u16, TcpListener), Error> {
    if base == 0 {
        let free = || redis_process::free_port().map_err(|e| Error::Usage(e.to_string()));
        let control = TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| Error::Usage(format!("cannot listen on loopback: {e}")))?;
        return Ok((free()?, free()?, control));
    }
    if base > u16::MAX - 2 {
        return Err(Error::Usage(format!(
            "--port {base}: the demo needs it and the two ports after it"
        )));
    }
    let taken = |port: u16| {
        Error::Usage(format!(
            "--port {base}: port {port} is in use; the demo needs {base}, {} and {}: pick \
             others with --port N, or --port 0 for any free ones",
            base + 1,
            base + 2
        ))
    };
    for port in [base, base + 1] {
        TcpListener::bind(("127.0.0.1", port)).map_err(|_| taken(port))?;
    }
    let control = TcpListener::bind(("127.0.0.1", base + 2)).map_err(|_| taken(base + 2))?;
    Ok((base, base + 1, control))
}
