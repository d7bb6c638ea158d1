//! One virtual user of a live run: an IO loop around the shared request
//! lifecycle (`sim::lifecycle`), with a real Redis answering the store
//! operations.

use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};
use tokio::time::sleep_until;

use super::SharedState;
use crate::live::clock::LiveClock;
use crate::live::spring_session::{Hold, SpringSessionStore, StoreFailure};
use crate::sim::UserId;
use crate::sim::lifecycle::{Held, OpKind, Sent, Step, StoreOp};
use crate::sim::store::{Lookup, Reply};
use crate::sim::time::{SimDuration, SimTime};

/// What ends a request's wait in its server's queue.
pub(super) enum Dequeued {
    /// A worker took it; its first step.
    Started(Step),
    /// Its server crashed: it failed.
    Failed,
}

/// One virtual user.
pub(super) struct UserTask {
    pub(super) user: UserId,
    pub(super) arrival: SimTime,
    pub(super) clock: LiveClock,
    pub(super) store: Rc<SpringSessionStore>,
    pub(super) shared: SharedState,
    /// Changes each time the app's client reconnects.
    pub(super) reconnected: watch::Receiver<u64>,
}

impl UserTask {
    pub(super) async fn run(self) {
        let end = {
            let mut state = self.shared.borrow_mut();
            state.world.arrive(self.user);
            state.world.end()
        };
        let mut intended = self.arrival;
        while intended < end {
            let intended_wall = self.clock.wall(intended);
            sleep_until(intended_wall.into()).await;
            let lag = Instant::now().saturating_duration_since(intended_wall);
            let started = self.clock.now().max(intended);
            let mut sent = {
                let mut state = self.shared.borrow_mut();
                state.max_lag = state.max_lag.max(lag);
                state.world.send(started, self.user)
            };
            // Retries of a connection to a dead server, as the balancer
            // makes them: wait, then try again.
            while let Sent::Later(at) = sent {
                sleep_until(self.clock.wall(at).into()).await;
                sent = self.shared.borrow_mut().world.resume(at, self.user);
            }
            let (not_measured, held) = match sent {
                Sent::Failed => (SimDuration::ZERO, Duration::ZERO),
                Sent::Started(step) => self.run_request(step).await,
                Sent::Queued => {
                    // Every worker of its server is busy: wait for one to
                    // take it (or for the server's crash to fail it).
                    let from = Instant::now();
                    let Some(dequeued) = self.wait_for_worker(end).await else {
                        break;
                    };
                    match dequeued {
                        Dequeued::Started(step) => {
                            let (not_measured, held) = self.run_request(step).await;
                            (not_measured, held + from.elapsed())
                        }
                        Dequeued::Failed => (SimDuration::ZERO, from.elapsed()),
                    }
                }
                Sent::Later(_) => unreachable!("retries are waited for above"),
            };
            // Latency from the intended send time: the real wait and round
            // trips, plus what the virtual app server would have spent. The
            // time spent in a server's queue or held by the client runs on
            // the scenario's clock (other requests' service times, a
            // restart, a reconnection), so it counts at the time scale.
            let elapsed = intended_wall.elapsed().saturating_sub(held);
            let held = SimDuration::from_nanos_f64(held.as_nanos() as f64 * self.clock.scale());
            let latency = SimDuration::from(elapsed) + held + not_measured;
            // The response reaches the user when the virtual app server is
            // done, as in the simulator; one that would arrive after the end
            // is not counted (the simulator never completes it either).
            let done = self.clock.now() + not_measured;
            if done >= end {
                break;
            }
            // The virtual server's worker is busy until then.
            sleep_until(self.clock.wall(done).into()).await;
            let completion = {
                let mut state = self.shared.borrow_mut();
                let completion = state.world.complete(done, self.user, latency);
                // The freed worker takes the next queued request at once,
                // as in the simulator.
                if let Some(next) = completion.next_worker {
                    let step = state.world.start(done, next);
                    if let Some(waiting) = state.queued.remove(&next) {
                        let _ = waiting.send(Dequeued::Started(step));
                    }
                }
                completion
            };
            intended = match completion.next_send {
                Some(at) => at,
                None => break,
            };
        }
    }

    /// Waits in the server's queue until a worker takes the request;
    /// `None` if the run ends first.
    async fn wait_for_worker(&self, end: SimTime) -> Option<Dequeued> {
        let (tell, told) = oneshot::channel();
        self.shared.borrow_mut().queued.insert(self.user, tell);
        tokio::select! {
            dequeued = told => dequeued.ok(),
            () = sleep_until(self.clock.wall(end).into()) => None,
        }
    }

    /// Answers the request's store operations with real Redis; returns the
    /// part of its response time that is not measured (service time,
    /// re-authentication) and the wall time the client held an operation.
    async fn run_request(&self, mut step: Step) -> (SimDuration, Duration) {
        let mut held = Duration::ZERO;
        loop {
            match step {
                Step::Store(op) => {
                    let reply = self.answer(&op).await;
                    let now = self.clock.now();
                    step = self.shared.borrow_mut().world.answered(now, op, reply);
                }
                Step::Wait(hold) => {
                    let from = Instant::now();
                    step = self.wait(*hold).await;
                    held += from.elapsed();
                }
                Step::Respond(response) => return (response.not_measured(), held),
            }
        }
    }

    /// The client holds an operation: until the cut link delivers it, or
    /// the client reconnects, or its command times out.
    async fn wait(&self, hold: Held) -> Step {
        // Marked seen before the first await: only a reconnection from now
        // on wakes this operation (the driver is single-threaded, so none
        // can happen in between).
        let mut reconnected = self.reconnected.clone();
        reconnected.borrow_and_update();
        let deadline = sleep_until(self.clock.wall(hold.deadline).into());
        let goes = match hold.until {
            Some(until) if until < hold.deadline => {
                sleep_until(self.clock.wall(until).into()).await;
                true
            }
            Some(_) => {
                deadline.await;
                false
            }
            None => tokio::select! {
                changed = reconnected.changed() => changed.is_ok(),
                () = deadline => false,
            },
        };
        let now = self.clock.now();
        let world = &mut self.shared.borrow_mut().world;
        if goes {
            world.retry(now, hold.op)
        } else {
            world.timed_out(now, hold.op)
        }
    }

    /// One store operation against Redis, in Spring Session's layout.
    async fn answer(&self, op: &StoreOp) -> Reply {
        // A slow store link (`redis_slow`), emulated on the client side as
        // a partition is: each command waits before it goes out. A latency,
        // so it is not compressed by the time scale; never past the end of
        // the run.
        let hold = Hold {
            delay: std::time::Duration::from_nanos(op.delay.as_nanos()),
            until: Some(self.clock.wall(self.shared.borrow().world.end()).into()),
        };
        let answer = match op.kind {
            OpKind::Create => self
                .store
                .create(op.server, op.session, op.user, hold)
                .await
                .map(|()| Reply::FOUND),
            OpKind::Access => self
                .store
                .access(op.server, op.session, hold)
                .await
                .map(|lookup| Reply {
                    lookup,
                    waited: SimDuration::ZERO,
                }),
        };
        answer.unwrap_or_else(|failure| match failure {
            StoreFailure::Down => Reply::UNAVAILABLE,
            StoreFailure::Loading => {
                self.shared.borrow_mut().loading_errors += 1;
                Reply::REFUSED
            }
            StoreFailure::Invalidated => Reply {
                lookup: Lookup::Invalidated,
                waited: SimDuration::ZERO,
            },
            StoreFailure::Other(_) => Reply::REFUSED,
        })
    }
}
