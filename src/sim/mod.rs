//! The pure simulation core.
//!
//! Owns: simulated time, random streams, distributions, the event queue, the
//! app servers, balancers, session stores, faults and the metrics of one run.
//!
//! The shape: [`world::World`] holds one strategy's state and the rules
//! that change it, the request lifecycle (`lifecycle`) and the effects of
//! faults (`fault`), written once; [`engine::Simulation`] drives a world in
//! simulated time and answers its store operations from the model stores
//! (`store`); live mode drives the same world in wall-clock time with a real
//! Redis answering.
//! Must not: read a clock, touch files, sockets or processes, print, or use
//! thread-local or OS randomness. A test (`tests/it/purity.rs`) greps this
//! folder for the forbidden names. Everything here is a function of the
//! scenario and the seed, which is what makes runs reproducible and lets the
//! live driver reuse the request lifecycle with a real Redis behind it.

pub mod balancer;
pub mod cache;
pub mod client;
pub mod config;
pub mod dist;
pub mod engine;
pub mod events;
pub mod fault;
pub mod lifecycle;
pub mod link;
pub mod metrics;
pub mod queue;
pub mod request;
pub mod rng;
pub mod servers;
pub mod store;
pub mod time;
pub mod toll;
pub mod workload;
pub mod world;

/// A virtual user, numbered from 0 in arrival order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub u32);

/// An app server behind the balancer, numbered from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerId(pub u32);

/// A session id. Ids are handed out in order within one strategy's run and
/// never reused; `SessionId::NONE` (0) means "not logged in". An integer, not
/// a string like a real `JSESSIONID`, so the session maps hash 8 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl SessionId {
    pub const NONE: SessionId = SessionId(0);

    pub fn is_none(self) -> bool {
        self == SessionId::NONE
    }
}

impl UserId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl ServerId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
