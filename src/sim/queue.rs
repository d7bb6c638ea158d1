//! The event queue: events come out ordered by `(time, insertion
//! sequence)`.
//!
//! Two events at the same simulated time come out in the order they were
//! pushed (FIFO). That tie rule is what makes a run reproducible: nothing
//! depends on the queue's internals, hashing or threads.
//!
//! The shape is a timing wheel (Varghese and Lauck, "Hashed and
//! hierarchical timing wheels", 1987) in front of a binary heap. A single
//! binary heap of one pending event per user misses the cache on nearly
//! every sift once it holds a million entries (issue 11 measured 57% of a
//! million-user run in the heap). Here time is cut into ticks of
//! [`TICK_NS`]; an event due within the next [`SLOTS`] ticks is appended to
//! its tick's slot (a `Vec` push, no ordering work), a later one waits in
//! `far`, a heap that holds only the few percent of events that far ahead.
//! Only the tick being drained is kept ordered: when the queue reaches a
//! tick it sorts that slot's events by time into `current`, and an event
//! pushed for the tick being drained (a 2 ms response inside the tick) goes
//! to `late`, a small heap; a pop takes the earlier of the two heads.
//!
//! Why that is exactly one heap's order, with no sequence number stored in
//! the wheel:
//! - every event of an earlier tick comes out before any of a later tick;
//! - a slot's events are in push order: `far` hands its events over (in
//!   `(time, sequence)` order) as soon as their tick enters the window,
//!   before anything can be pushed straight into that slot; so a *stable*
//!   sort by time leaves equal times in push order;
//! - every event in `late` was pushed after every event in `current` (the
//!   tick began before it was pushed), so on a tie `current` goes first,
//!   and `late` orders itself by `(time, sequence)`.
//!
//! Sorting the tick, rather than heaping it, also tells what comes next:
//! [`EventQueue::ahead`] shows an event a few pops away, so the simulator
//! can fetch its user's memory before it needs it (`sim::cache`).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use super::time::SimTime;

/// Width of a tick: 16 ms of simulated time. A million users clicking
/// every 10 s put about 3,200 events in a tick, sorted in the cache; wider
/// ticks mean fewer slots, whose ends (where pushes land) then stay in the
/// cache and the TLB (4 ms ticks with 8,192 slots measured slower).
const TICK_NS: u64 = 16_000_000;
/// Ticks the wheel covers: 2,048 × 16 ms ≈ 33 s, past which an exponential
/// think time of mean 10 s falls only 4% of the time.
const SLOTS: usize = 2048;

fn tick_of(at: SimTime) -> u64 {
    at.as_nanos() / TICK_NS
}

/// An event in the wheel: its order among equal times is its place in the
/// slot, so it needs no sequence number (16 bytes fewer per event).
struct Timed<E> {
    at: SimTime,
    event: E,
}

/// An event in a heap (`late`, `far`), with its insertion sequence.
struct Entry<E> {
    at: SimTime,
    /// Insertion counter, the tie-breaker for equal times.
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed, because `BinaryHeap` is a max-heap and we want the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A deterministic priority queue of events.
pub struct EventQueue<E> {
    /// The events of tick `tick` that were in its slot, earliest first.
    current: VecDeque<Timed<E>>,
    /// Events pushed for tick `tick` (or earlier) once it was being drained,
    /// ordered.
    late: BinaryHeap<Entry<E>>,
    /// The tick being drained.
    tick: u64,
    /// Slot `t % SLOTS` holds the events of tick `t`, for
    /// `tick < t < tick + SLOTS`, in push order.
    slots: Vec<Vec<Timed<E>>>,
    /// One bit per slot: whether it holds anything.
    occupied: Vec<u64>,
    /// Entries in `slots`.
    in_slots: usize,
    /// Events at `tick + SLOTS` or later, ordered.
    far: BinaryHeap<Entry<E>>,
    /// Next insertion sequence number.
    next_seq: u64,
}

impl<E> EventQueue<E> {
    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            current: VecDeque::new(),
            late: BinaryHeap::new(),
            tick: 0,
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            occupied: vec![0; SLOTS / 64],
            in_slots: 0,
            far: BinaryHeap::with_capacity(capacity / 16),
            next_seq: 0,
        }
    }

    /// Schedules `event` at `at`. O(1) within the wheel, O(log n) beyond.
    pub fn push(&mut self, at: SimTime, event: E) {
        let entry = Entry {
            at,
            seq: self.next_seq,
            event,
        };
        self.next_seq += 1;
        self.place(entry);
    }

    fn place(&mut self, entry: Entry<E>) {
        let tick = tick_of(entry.at);
        if tick <= self.tick {
            self.late.push(entry);
        } else if tick < self.tick + SLOTS as u64 {
            let slot = (tick % SLOTS as u64) as usize;
            self.slots[slot].push(Timed {
                at: entry.at,
                event: entry.event,
            });
            self.occupied[slot / 64] |= 1 << (slot % 64);
            self.in_slots += 1;
        } else {
            self.far.push(entry);
        }
    }

    /// True if the next pop comes from `late` rather than `current`.
    fn late_first(&self) -> bool {
        match (self.current.front(), self.late.peek()) {
            // On a tie `current` goes first: it was pushed earlier.
            (Some(c), Some(l)) => l.at < c.at,
            (None, Some(_)) => true,
            (_, None) => false,
        }
    }

    /// Removes the earliest event (the first pushed among equal times).
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if self.tick_drained() {
            self.advance();
        }
        if self.late_first() {
            self.late.pop().map(|entry| (entry.at, entry.event))
        } else {
            self.current
                .pop_front()
                .map(|timed| (timed.at, timed.event))
        }
    }

    /// The time of the earliest event, without removing it.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        if self.tick_drained() {
            self.advance();
        }
        if self.late_first() {
            self.late.peek().map(|entry| entry.at)
        } else {
            self.current.front().map(|timed| timed.at)
        }
    }

    /// An event due about `n` pops from now, if the tick being drained
    /// holds one: a hint for fetching memory early, not a promise (events
    /// pushed meanwhile may come first).
    #[inline]
    pub fn ahead(&self, n: usize) -> Option<&E> {
        self.current.get(n).map(|timed| &timed.event)
    }

    fn tick_drained(&self) -> bool {
        self.current.is_empty() && self.late.is_empty()
    }

    /// With the tick drained: moves on to the next tick that holds events
    /// and sorts its slot into `current`.
    fn advance(&mut self) {
        let next = match self.next_occupied_slot() {
            Some(distance) => self.tick + distance,
            None => match self.far.peek() {
                Some(entry) => tick_of(entry.at),
                None => return,
            },
        };
        self.tick = next;
        let slot = (next % SLOTS as u64) as usize;
        if self.occupied[slot / 64] & (1 << (slot % 64)) != 0 {
            self.occupied[slot / 64] &= !(1 << (slot % 64));
            // The slot's buffer becomes `current`; the slot starts afresh,
            // so memory follows the events pending, not the busiest moment.
            let mut entries = std::mem::take(&mut self.slots[slot]);
            self.in_slots -= entries.len();
            // Stable: equal times stay in push order (see the module docs).
            entries.sort_by_key(|timed| timed.at);
            self.current = VecDeque::from(entries);
        }
        // The window now reaches `next + SLOTS - 1`: bring what `far` holds
        // for it into the wheel (or into `late`, for this very tick, which
        // then has an empty slot: `far` only ever holds ticks beyond the
        // window).
        while let Some(entry) = self.far.peek()
            && tick_of(entry.at) < self.tick + SLOTS as u64
        {
            let entry = self.far.pop().expect("peeked");
            self.place(entry);
        }
    }

    /// How many ticks after `tick` the first occupied slot is (1 to
    /// `SLOTS - 1`), if any.
    fn next_occupied_slot(&self) -> Option<u64> {
        if self.in_slots == 0 {
            return None;
        }
        let start = ((self.tick + 1) % SLOTS as u64) as usize;
        // Scan the bitmap from `start`, wrapping once.
        for step in 0..=SLOTS / 64 {
            let word_index = (start / 64 + step) % (SLOTS / 64);
            let mut word = self.occupied[word_index];
            if step == 0 {
                word &= !0u64 << (start % 64);
            }
            if word != 0 {
                let slot = word_index * 64 + word.trailing_zeros() as usize;
                let distance = (slot + SLOTS - start) % SLOTS + 1;
                return Some(distance as u64);
            }
        }
        None
    }

    pub fn len(&self) -> usize {
        self.current.len() + self.late.len() + self.in_slots + self.far.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_fifo_on_ties() {
        let mut q = EventQueue::with_capacity(8);
        let t = SimTime::from_nanos;
        q.push(t(5), 'a');
        q.push(t(1), 'b');
        q.push(t(5), 'c');
        q.push(t(1), 'd');
        q.push(t(3), 'e');
        assert_eq!(q.peek_time(), Some(t(1)));
        let order: String = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, "bdeac");
        assert!(q.is_empty());
    }

    /// The reference: one binary heap of `(time, sequence)`.
    struct Reference(BinaryHeap<std::cmp::Reverse<(u64, u64)>>);

    #[test]
    fn pops_exactly_as_one_heap_would_on_random_schedules() {
        use rand::{Rng, SeedableRng};
        // Delays from nothing (ties) to far past the wheel, as a
        // simulation pushes them: never before the last pop.
        for seed in 0..20 {
            let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
            let mut q = EventQueue::with_capacity(16);
            let mut reference = Reference(BinaryHeap::new());
            let mut now = 0u64;
            let mut seq = 0u64;
            for _ in 0..20_000 {
                if rng.random_bool(0.55) || reference.0.is_empty() {
                    let delay = match rng.random_range(0..5) {
                        0 => 0,
                        1 => rng.random_range(0..TICK_NS),
                        2 => rng.random_range(0..TICK_NS * 64),
                        3 => rng.random_range(0..TICK_NS * SLOTS as u64),
                        _ => rng.random_range(0..TICK_NS * SLOTS as u64 * 4),
                    };
                    q.push(SimTime::from_nanos(now + delay), seq);
                    reference.0.push(std::cmp::Reverse((now + delay, seq)));
                    seq += 1;
                } else {
                    let std::cmp::Reverse((at, s)) = reference.0.pop().unwrap();
                    assert_eq!(q.peek_time(), Some(SimTime::from_nanos(at)));
                    assert_eq!(q.pop(), Some((SimTime::from_nanos(at), s)), "seed {seed}");
                    now = at;
                }
                assert_eq!(q.len(), reference.0.len());
            }
            while let Some(std::cmp::Reverse((at, s))) = reference.0.pop() {
                assert_eq!(q.pop(), Some((SimTime::from_nanos(at), s)));
            }
            assert!(q.pop().is_none() && q.is_empty());
        }
    }
}
