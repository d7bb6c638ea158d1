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
//!
//! Simplified: a delayed operation still reaches the store at the moment it
//! was sent (the delay is added to its round trip), so a slow link changes
//! latencies but never the order in which the store sees operations.

use super::time::{SimDuration, SimTime};

/// What the link does with one store operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered as usual.
    Pass,
    /// Lost: the app sees the store as unreachable.
    Drop,
    /// Delivered, this much later than usual.
    Delay(SimDuration),
}

/// The rules in force on the link.
#[derive(Clone, Debug, Default)]
pub struct StoreLink {
    /// When the partition in force (or the last one) began.
    cut_from: SimTime,
    /// Operations before this time are dropped (a partition).
    cut_until: SimTime,
    /// Slow windows `[from, until)` and what each adds to an operation;
    /// overlapping windows add up. Faults are few, so a list will do.
    slow: Vec<(SimTime, SimTime, SimDuration)>,
}

impl StoreLink {
    /// Drops every operation from `from` until `until`. Overlapping
    /// partitions join: the link comes back at the latest end.
    pub fn cut(&mut self, from: SimTime, until: SimTime) {
        if from >= self.cut_until {
            self.cut_from = from;
        }
        self.cut_until = self.cut_until.max(until);
    }

    /// The partition in force at `now`, `(from, until)`, if any.
    pub fn cut_at(&self, now: SimTime) -> Option<(SimTime, SimTime)> {
        (now < self.cut_until).then_some((self.cut_from, self.cut_until))
    }

    /// Delays every operation in `[from, until)` by `by`.
    pub fn slow_down(&mut self, from: SimTime, until: SimTime, by: SimDuration) {
        self.slow.push((from, until, by));
    }

    /// The verdict for an operation sent at `now`: a cut drops it, slow
    /// windows delay it, the first rule that is not a pass wins (a dropped
    /// operation is not also delayed).
    pub fn verdict(&self, now: SimTime) -> Verdict {
        if now < self.cut_until {
            return Verdict::Drop;
        }
        let delay = self
            .slow
            .iter()
            .filter(|(from, until, _)| (*from..*until).contains(&now))
            .fold(SimDuration::ZERO, |total, (_, _, by)| total + *by);
        if delay.is_zero() {
            Verdict::Pass
        } else {
            Verdict::Delay(delay)
        }
    }
}
