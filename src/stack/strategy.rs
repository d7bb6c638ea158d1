//! One strategy's run on its stack: its users, its fault loop and its
//! time series, until the end of the scenario, and the result they make.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::sleep_until;

use super::driver::{SharedTally, StackUser, Tally};
use super::farm_faults::{Control, Farm};
use super::front::Front;
use super::redis_link::RedisLink;
use super::redis_servers::RedisServers;
use super::{Stack, faults, runtime_api};
use crate::live::clock::LiveClock;
use crate::live::spring_session::SpringSessionStore;
use crate::sim::config::{Scenario, Strategy};
use crate::sim::metrics::StrategyResult;
use crate::sim::store::StoreConfig;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::workload::arrivals_before;

/// What one strategy's tasks share of its stack.
#[derive(Clone)]
pub(super) struct StackHandles {
    index: usize,
    frontend: u16,
    farm: Rc<Farm>,
    redis: Option<Rc<RedisServers>>,
    store: Option<Rc<SpringSessionStore>>,
    link: Option<Rc<RedisLink>>,
    /// Sessions live in the users' signed cookies: no server holds one.
    in_cookies: bool,
}

impl StackHandles {
    /// `slots`: the server slots of its HAProxy configuration.
    pub(super) fn of(stack: &Stack, strategy: &Strategy, slots: u32) -> Self {
        let farm = Farm {
            apps: Rc::new(RefCell::new(stack.apps.clone())),
            removed: RefCell::default(),
            control: match &stack.front {
                Front::Haproxy(h) => Control::RuntimeApi(h.admin_socket()),
                Front::Nginx(nginx) => Control::Reload {
                    nginx: nginx.clone(),
                    members: RefCell::new(
                        stack
                            .apps
                            .iter()
                            .map(|a| (a.borrow().index, a.borrow().port()))
                            .collect(),
                    ),
                },
            },
            spec: stack.spec.clone(),
            slots,
            local: matches!(strategy.store, StoreConfig::Local { .. }),
        };
        StackHandles {
            index: stack.index,
            frontend: stack.front.frontend(),
            farm: Rc::new(farm),
            redis: stack.redis.clone(),
            store: stack.store.clone(),
            link: stack.link.clone(),
            in_cookies: matches!(strategy.store, StoreConfig::Cookie { .. }),
        }
    }
}

pub(super) async fn run_one(
    scenario: Rc<Scenario>,
    clock: LiveClock,
    stack: StackHandles,
) -> (usize, StrategyResult, Duration) {
    let strategy = scenario.strategies[stack.index].clone();
    let end = SimTime::ZERO + scenario.duration;
    let tally: SharedTally = Rc::new(RefCell::new(Tally::new(&scenario)));
    let mut users = JoinSet::new();
    for (user, arrival) in arrivals_before(&scenario.workload, scenario.seed, end) {
        let user = StackUser {
            user,
            arrival,
            clock,
            scenario: scenario.clone(),
            frontend: stack.frontend,
            tally: tally.clone(),
        };
        users.spawn_local(user.run());
    }
    let local = matches!(strategy.store, StoreConfig::Local { .. });
    let targets = faults::FaultTargets {
        farm: stack.farm.clone(),
        redis: stack.redis.clone(),
        store: stack.store.clone(),
        link: stack.link.clone(),
        local,
        persistence: strategy.store.describe(),
    };
    let mut background = JoinSet::new();
    background.spawn_local(faults::fault_loop(
        scenario.clone(),
        clock,
        targets,
        tally.clone(),
    ));
    background.spawn_local(report_loop(
        scenario.clone(),
        clock,
        stack.clone(),
        tally.clone(),
    ));
    while users.join_next().await.is_some() {}
    sleep_until(clock.wall(end).into()).await;
    background.abort_all();
    while background.join_next().await.is_some() {}
    let active = active_sessions(&stack, &tally, end, scenario.session.ttl).await;
    let in_service = in_service(&stack).await;
    let mut t = tally.borrow_mut();
    t.recorder.close_interval(end, active, in_service);
    let spare = Tally::new(&scenario);
    let t = std::mem::replace(&mut *t, spare);
    let (totals, latency_us, error_latency_us, timeseries) = t.recorder.into_parts();
    let mut events = t.events;
    events.sort_by_key(|e| e.t);
    let result = StrategyResult {
        name: format!("{} [stack]", strategy.name),
        balancer: strategy.balancer.name,
        store: strategy.store.name(),
        store_detail: format!("{}, stack", strategy.store.describe()),
        store_settings: strategy.store.settings(),
        mode: "stack",
        totals,
        users_affected: t.users_affected,
        users_arrived: t.users_arrived,
        latency_us,
        error_latency_us,
        timeseries,
        events,
        fault_losses: t.fault_losses,
        fault_tolls: t.tolls.tolls,
        events_processed: 0,
    };
    (stack.index, result, t.max_lag)
}

/// Sessions the strategy's store holds now: every app server's memory,
/// Redis's keys, or the unexpired cookies the users' browsers hold.
async fn active_sessions(
    stack: &StackHandles,
    tally: &SharedTally,
    now: SimTime,
    ttl: SimDuration,
) -> u64 {
    if stack.in_cookies {
        // No server can be asked; the users' own clocks say, as
        // `sim::store::cookie` counts them.
        let t = tally.borrow();
        return t.users.iter().filter(|u| u.holds_session(now, ttl)).count() as u64;
    }
    if let Some(store) = &stack.store {
        return store.count(true).await.unwrap_or(0);
    }
    let mut total = 0;
    let apps = stack.farm.apps.borrow().clone();
    for app in &apps {
        let (running, port) = {
            let app = app.borrow();
            (app.is_running(), app.port())
        };
        if running {
            total += super::processes::sessions_held(port).await.unwrap_or(0);
        }
    }
    total
}

/// Servers HAProxy has in rotation now; on nginx, the servers running.
async fn in_service(stack: &StackHandles) -> u32 {
    let answer = match stack.farm.control.admin_socket() {
        Some(socket) => runtime_api::servers_up(socket).await,
        // nginx tells nobody which servers it skips.
        None => None,
    };
    match answer {
        Some(servers) => servers.iter().filter(|(_, up)| *up).count() as u32,
        None => stack
            .farm
            .apps
            .borrow()
            .iter()
            .filter(|a| a.borrow().is_running())
            .count() as u32,
    }
}

/// Closes a row of the time series every `report_interval`.
async fn report_loop(
    scenario: Rc<Scenario>,
    clock: LiveClock,
    stack: StackHandles,
    tally: SharedTally,
) {
    let end = SimTime::ZERO + scenario.duration;
    let mut t = SimTime::ZERO + scenario.report_interval;
    while t < end {
        sleep_until(clock.wall(t).into()).await;
        let active = active_sessions(&stack, &tally, t, scenario.session.ttl).await;
        let up = in_service(&stack).await;
        tally.borrow_mut().recorder.close_interval(t, active, up);
        t += scenario.report_interval;
    }
}
