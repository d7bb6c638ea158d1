//! Background tasks of a live run: the fault plan carried out in wall-clock
//! time, health checks and time-series rows.

use std::rc::Rc;
use std::sync::Arc;

use tokio::time::sleep_until;

use super::store_faults::StoreFaults;
use super::user::Dequeued;
use super::{SharedState, Target};
use crate::live::clock::LiveClock;
use crate::live::spring_session::SpringSessionStore;
use crate::sim::config::Scenario;
use crate::sim::fault::{self, FaultAction, NoServerMemory, Wake};
use crate::sim::queue::EventQueue;
use crate::sim::time::SimTime;
use crate::sim::{ServerId, UserId};

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

/// A timer of the farm loop.
#[derive(Clone, Copy, Debug)]
enum Timer {
    Fault(FaultAction),
    HealthCheck(ServerId),
    /// A queued request failed (its server crashed): its user completes it.
    Complete(UserId),
}

/// Carries out the strategy's fault plan, the same one the simulator
/// follows, each action at its scenario time, and the balancer's health
/// checks, each server on its own timer as in the simulator. The farm's
/// part is the world's (live app servers hold no sessions in memory); store
/// actions are done on the real redis-server processes.
pub(super) async fn fault_loop(clock: LiveClock, target: Target, shared: SharedState) {
    let (plan, checks, end) = {
        let state = shared.borrow();
        let world = &state.world;
        (
            fault::plan(&world.scenario().faults, world.strategy()),
            world.first_checks(),
            world.end(),
        )
    };
    let mut queue = EventQueue::with_capacity(plan.len() + checks.len() + 8);
    for (at, action) in plan {
        queue.push(at, Timer::Fault(action));
    }
    for (at, server) in checks {
        queue.push(at, Timer::HealthCheck(server));
    }
    let mut store_faults = StoreFaults::new(target, shared.clone(), clock);
    let mut wakes = Vec::new();
    while let Some((at, timer)) = queue.pop() {
        if at >= end {
            break;
        }
        sleep_until(clock.wall(at).into()).await;
        let action = match timer {
            Timer::Fault(action) => action,
            Timer::HealthCheck(server) => {
                if let Some(next) = shared.borrow_mut().world.health_check(at, server) {
                    queue.push(next, Timer::HealthCheck(server));
                }
                continue;
            }
            Timer::Complete(user) => {
                if let Some(waiting) = shared.borrow_mut().queued.remove(&user) {
                    let _ = waiting.send(Dequeued::Failed);
                }
                continue;
            }
        };
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
                Wake::Fault(next) => queue.push(t, Timer::Fault(next)),
                Wake::HealthCheck(server) => queue.push(t, Timer::HealthCheck(server)),
                Wake::Complete(user) => queue.push(t, Timer::Complete(user)),
            }
        }
    }
    // Measurements still running (Redis loading) finish before the end.
    store_faults.finish().await;
}
