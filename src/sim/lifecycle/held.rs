//! Operations the app's store client holds (`sim::client`): a Lettuce
//! client buffers commands while it has no connection, and the kernel
//! keeps unacknowledged ones in the send buffer while the network is cut.
//! The lifecycle hands such an operation to the driver as
//! [`Step::Wait`](super::Step::Wait); the driver keeps it (its worker stays
//! busy) and gives it back here when it can go or when it times out.

use super::{Step, StoreOp};
use crate::sim::store::Reply;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::world::World;

/// A store operation the client holds.
#[derive(Clone, Debug)]
pub struct Held {
    pub op: StoreOp,
    /// The command timeout: at this time the driver calls
    /// [`World::timed_out`], unless the operation went before.
    pub deadline: SimTime,
    /// When a cut link delivers it (the first TCP retransmission after the
    /// cut heals): the driver calls [`World::retry`] then, if that is
    /// before the deadline. `None`: it goes when the client reconnects
    /// ([`World::reconnect_due`], [`World::reconnect_attempted`]).
    pub until: Option<SimTime>,
}

impl World {
    /// The client holds `op` from `now`: its command times out
    /// `timeout` after it was first held.
    pub(super) fn hold(
        now: SimTime,
        mut op: StoreOp,
        until: Option<SimTime>,
        timeout: SimDuration,
    ) -> Step {
        let deadline = *op.deadline.get_or_insert(now + timeout);
        Step::Wait(Box::new(Held {
            op,
            deadline,
            until,
        }))
    }

    /// A held operation goes out at `now` (the link delivers it, or the
    /// client reconnected): the driver answers it as before.
    pub fn retry(&mut self, now: SimTime, op: StoreOp) -> Step {
        self.through_link(now, op)
    }

    /// A held operation's command timed out at `now`: the app sees a
    /// store error (Lettuce's `RedisCommandTimeoutException`).
    pub fn timed_out(&mut self, now: SimTime, mut op: StoreOp) -> Step {
        op.timed_out = true;
        self.answered(now, op, Reply::UNAVAILABLE)
    }

    /// When the client's next reconnect attempt is due, if it is
    /// reconnecting: the driver tries to connect then and reports with
    /// [`World::reconnect_attempted`].
    pub fn reconnect_due(&self) -> Option<SimTime> {
        self.client.due()
    }

    /// The reconnect attempt due at `now` connected (`accepted`) or was
    /// refused. Once connected, the driver retries every operation held
    /// for the reconnection, in the order they were held.
    pub fn reconnect_attempted(&mut self, now: SimTime, accepted: bool) {
        self.client.attempted(now, accepted);
    }
}
