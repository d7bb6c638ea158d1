//! Background tasks of a live run: the fault plan carried out in wall-clock
//! time, health checks and time-series rows.

use std::rc::Rc;
use std::sync::Arc;

use tokio::time::sleep_until;

use super::store_faults::StoreFaults;
use super::{SharedState, Target};
use crate::live::clock::LiveClock;
use crate::live::spring_session::SpringSessionStore;
use crate::sim::config::Scenario;
use crate::sim::fault::{self, NoServerMemory, Wake};
use crate::sim::queue::EventQueue;
use crate::sim::time::{SimDuration, SimTime};

/// Runs the balancer's health checks every `interval`, as the simulator does.
pub(super) async fn health_check_loop(
    interval: SimDuration,
    clock: LiveClock,
    shared: SharedState,
    end: SimTime,
) {
    let mut t = SimTime::ZERO + interval;
    while t < end {
        sleep_until(clock.wall(t).into()).await;
        shared.borrow_mut().world.health_checks(t);
        t += interval;
    }
}

/// Closes a row of the time series every `report_interval`.
pub(super) async fn report_loop(
    scenario: Arc<Scenario>,
    clock: LiveClock,
    store: Rc<SpringSessionStore>,
    owned: bool,
    shared: SharedState,
) {
    let end = SimTime::ZERO + scenario.duration;
    let mut t = SimTime::ZERO + scenario.report_interval;
    while t < end {
        sleep_until(clock.wall(t).into()).await;
        let active = store.count(owned).await.unwrap_or(0);
        shared.borrow_mut().world.close_interval(t, active);
        t += scenario.report_interval;
    }
}

/// Keeps the app's connections on the primary the Sentinels name, as a
/// Sentinel-aware client does: it asks `SENTINEL get-master-addr-by-name`
/// (every 20 ms here; Lettuce asks on every reconnection) and reconnects
/// when the answer changes.
pub(super) async fn follow_primary(store: Rc<SpringSessionStore>, sentinels: Vec<String>) {
    let mut current = None;
    loop {
        if let Some(port) = crate::live::sentinel::master_port_async(&sentinels).await
            && current != Some(port)
        {
            let url = format!("redis://127.0.0.1:{port}/");
            if current.is_none() || store.switch_to(&url).await.is_ok() {
                current = Some(port);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Carries out the strategy's fault plan, the same one the simulator
/// follows: each action at its scenario time. The farm's part is the
/// world's (live app servers hold no sessions in memory); store actions are
/// done on the real redis-server processes.
pub(super) async fn fault_loop(clock: LiveClock, target: Target, shared: SharedState) {
    let (plan, end) = {
        let state = shared.borrow();
        let world = &state.world;
        (
            fault::plan(&world.scenario().faults, world.strategy()),
            world.end(),
        )
    };
    let mut queue = EventQueue::with_capacity(plan.len() + 8);
    for (at, action) in plan {
        queue.push(at, action);
    }
    let mut store_faults = StoreFaults::new(target, shared.clone(), clock);
    let mut wakes = Vec::new();
    while let Some((at, action)) = queue.pop() {
        if at >= end {
            break;
        }
        sleep_until(clock.wall(at).into()).await;
        let store_fault =
            shared
                .borrow_mut()
                .world
                .fault(at, action, &mut NoServerMemory, &mut wakes);
        if let Some(store_fault) = store_fault {
            store_faults
                .carry_out(at, action, store_fault, &mut wakes)
                .await;
        }
        for (t, wake) in wakes.drain(..) {
            match wake {
                Wake::Fault(next) => queue.push(t, next),
                // Live servers never queue a request, so a crash has no
                // waiting request to fail.
                Wake::Complete(_) => unreachable!("live servers never queue"),
            }
        }
    }
    // Measurements still running (Redis loading) finish before the end.
    store_faults.finish().await;
}
