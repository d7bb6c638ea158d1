//! Fault actions on the store's own server: what to ask of the store, and
//! what follows from its answer. The driver carries the action out (the
//! simulator on its model, live mode on real redis-server processes) and
//! reports back here, so the follow-ups and the events are the same in
//! both.

use super::{FaultAction, Wake, Wakes};
use crate::sim::config::FaultKind;
use crate::sim::events::{Counted, EventKind, EventRecord, StoreFaultKind};
use crate::sim::store::{FaultReply, RestartMode, StoreFault};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::world::World;
use crate::sim::{SessionId, UserId};

/// What a store fault destroyed, as the driver knows it.
#[derive(Clone, Copy, Debug)]
pub enum Losses<'a> {
    /// Every live session it destroyed, with its owner (the simulator's
    /// model knows them one by one).
    Known(&'a [(UserId, SessionId)]),
    /// Not known yet: a real Redis tells only once it is back (live mode
    /// reports the count later with [`World::losses_counted`]).
    Later,
}

impl World {
    /// The restart fault behind a store action: its mode, downtime and shard.
    fn restart_of(&self, fault: u32) -> (crate::sim::store::RestartMode, SimDuration, u32) {
        match self.scenario.faults[fault as usize].kind {
            FaultKind::RedisRestart {
                mode,
                downtime,
                shard,
            } => (mode, downtime, shard),
            _ => unreachable!("store actions come from redis_restart faults only"),
        }
    }

    /// What the store must do for a store action.
    pub(super) fn store_fault_of(&self, action: FaultAction) -> StoreFault {
        match action {
            FaultAction::StopStore { fault } => {
                let (mode, _, shard) = self.restart_of(fault);
                StoreFault::Stop { shard, mode }
            }
            FaultAction::LosePrimary { fault } => {
                let (mode, downtime, shard) = self.restart_of(fault);
                StoreFault::LosePrimary {
                    shard,
                    mode,
                    downtime,
                }
            }
            FaultAction::Promote { fault } => StoreFault::Promote {
                shard: self.restart_of(fault).2,
            },
            FaultAction::StartStore { fault, rejoin } => StoreFault::Start {
                shard: self.restart_of(fault).2,
                rejoin,
            },
            _ => unreachable!("only store actions are handed to the store"),
        }
    }

    /// The driver carried out store action `action` at `now` and the store
    /// replied `reply`, destroying `losses`: records what happened and
    /// schedules what follows.
    pub fn store_fault_done(
        &mut self,
        now: SimTime,
        action: FaultAction,
        reply: FaultReply,
        losses: Losses<'_>,
        wakes: &mut Wakes,
    ) {
        match action {
            FaultAction::StopStore { fault } => {
                let (mode, downtime, _) = self.restart_of(fault);
                let index = fault as usize;
                match reply {
                    FaultReply::NotApplicable => {
                        self.record(
                            now,
                            EventKind::NoStoreServer {
                                fault: StoreFaultKind::Restart(mode),
                            },
                            0,
                        );
                        self.fault_losses[index] = Some(0);
                    }
                    // Overlapping restarts: the first one's restart time
                    // stands; this one changes nothing.
                    FaultReply::AlreadyDown => {
                        self.record(now, EventKind::StoreWasDown { mode }, 0);
                        self.fault_losses[index] = Some(0);
                    }
                    FaultReply::Done
                    | FaultReply::Orphans(_)
                    | FaultReply::Ready(_)
                    | FaultReply::Rejoined => {
                        self.client_lost_store(now, mode);
                        if let Losses::Known(lost) = losses {
                            let (held, orphans) = self.take_lost(fault, lost);
                            let persistence = self.strategy().store.persistence_name();
                            let stopped = EventKind::StoreStopped {
                                mode,
                                persistence,
                                orphans,
                            };
                            self.record(now, stopped, held);
                            self.fault_losses[index] = Some(held);
                        }
                        let start = FaultAction::StartStore {
                            fault,
                            rejoin: false,
                        };
                        wakes.push((now + downtime, Wake::Fault(start)));
                    }
                }
            }
            FaultAction::LosePrimary { fault } => {
                let (mode, downtime, _) = self.restart_of(fault);
                self.fault_losses[fault as usize] = Some(0);
                if reply != FaultReply::Done {
                    self.record(now, EventKind::StoreWasDown { mode }, 0);
                    return;
                }
                let (down_after, failover_delay) = self
                    .strategy()
                    .store
                    .failover_timing()
                    .expect("the plan loses a primary only where a replica can take over");
                self.client_lost_store(now, mode);
                let promote_at = now + down_after + failover_delay;
                let lost = EventKind::PrimaryLost {
                    mode,
                    down_after,
                    promote_at,
                    cluster: self.strategy().store.is_cluster(),
                };
                self.record(now, lost, 0);
                wakes.push((promote_at, Wake::Fault(FaultAction::Promote { fault })));
                // The old primary restarts after its downtime and, the
                // failover done, comes back as a replica.
                let back = crate::sim::store::old_primary_back(now, downtime, promote_at);
                let rejoin = FaultAction::StartStore {
                    fault,
                    rejoin: true,
                };
                wakes.push((back, Wake::Fault(rejoin)));
            }
            FaultAction::Promote { fault } => {
                if reply != FaultReply::Done {
                    return;
                }
                if let Losses::Known(lost) = losses {
                    let (held, orphans) = self.take_lost(fault, lost);
                    self.fault_losses[fault as usize] = Some(held);
                    self.record(now, EventKind::Promoted { orphans }, held);
                }
            }
            FaultAction::StartStore { .. } => {
                // Its host answers again: a silent connection is reset.
                self.client.peer_back(now);
                match reply {
                    FaultReply::Rejoined => {
                        let sentinel = !self.strategy().store.is_cluster();
                        let replica_at = now + crate::sim::store::rejoin_delay(!sentinel);
                        let back = EventKind::ReplicaBack {
                            replica_at,
                            sentinel,
                        };
                        self.record(now, back, 0)
                    }
                    FaultReply::Ready(ready) => {
                        self.record(now, EventKind::StoreStarted { ready }, 0)
                    }
                    FaultReply::NotApplicable
                    | FaultReply::AlreadyDown
                    | FaultReply::Done
                    | FaultReply::Orphans(_) => {}
                }
            }
            _ => unreachable!("only store actions are reported back"),
        }
    }

    /// The store's process (or host) went down at `now` the way `mode`
    /// says: the app's client sees its connection close, or (the host
    /// died) sees nothing.
    fn client_lost_store(&mut self, now: SimTime, mode: RestartMode) {
        match mode {
            RestartMode::Crash | RestartMode::Graceful => self.client.closed(now),
            RestartMode::HostCrash => self.client.went_silent(now),
        }
    }

    /// Live mode counted, once Redis was back, the sessions that store
    /// action `action` (at `at`) destroyed: of the sessions users `held`
    /// before it, those `found` false (all of them if Redis never answered).
    /// Records the event the simulator records at once.
    pub fn losses_counted(
        &mut self,
        at: SimTime,
        action: FaultAction,
        held: &[(UserId, SessionId)],
        found: Option<&[bool]>,
    ) {
        let before = held.len() as u64;
        let survivors: Vec<(UserId, SessionId)> = match found {
            Some(found) => held
                .iter()
                .zip(found)
                .filter(|(_, found)| **found)
                .map(|(pair, _)| *pair)
                .collect(),
            None => Vec::new(),
        };
        let lost = before - survivors.len() as u64;
        let (fault, kind) = match action {
            FaultAction::StopStore { fault } => {
                let (mode, _, _) = self.restart_of(fault);
                let persistence = self.strategy().store.persistence_name();
                let stopped = EventKind::StoreStopped {
                    mode,
                    persistence,
                    orphans: 0,
                };
                (fault, stopped)
            }
            FaultAction::Promote { fault } => (fault, EventKind::Promoted { orphans: 0 }),
            _ => unreachable!("only stops and promotions destroy sessions"),
        };
        self.fault_losses[fault as usize] = Some(lost);
        self.survived(fault, &survivors);
        let so_far = self.so_far();
        self.record_counted(EventRecord {
            so_far,
            t: at,
            kind,
            sessions_destroyed: lost,
            counted: Some(Counted { before }),
        });
    }
}
