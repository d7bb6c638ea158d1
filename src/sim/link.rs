//! The network between the app servers and a remote session store, as
//! fault rules.
//!
//! In the manner of turmoil's link rules (`turmoil/src/rule.rs`): each
//! store operation asks the link for a [`Verdict`] before it goes out, and
//! the request lifecycle acts on the verdict, so a network fault is written
//! once for the simulator and live mode (which emulates it on the client
//! side, as a real partition looks to the app: Redis itself notices
//! nothing). Adding a link fault means adding a rule here and a fault
//! action that sets it.

use super::time::SimTime;

/// What the link does with one store operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered as usual.
    Pass,
    /// Lost: the app sees the store as unreachable.
    Drop,
}

/// The rules in force on the link.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreLink {
    /// Operations before this time are dropped (a partition).
    cut_until: SimTime,
}

impl StoreLink {
    /// Drops every operation until `until`. Overlapping partitions join:
    /// the link comes back at the latest end.
    pub fn cut(&mut self, until: SimTime) {
        self.cut_until = self.cut_until.max(until);
    }

    /// The verdict for an operation sent at `now`.
    pub fn verdict(&self, now: SimTime) -> Verdict {
        if now < self.cut_until {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    }
}
