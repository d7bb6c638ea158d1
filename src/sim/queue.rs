//! The event queue: events come out ordered by `(time, insertion
//! sequence)`.
//!
//! Two events at the same simulated time come out in the order they were
//! pushed (FIFO). That tie rule is what makes a run reproducible: nothing
//! depends on the queue's internals, hashing or threads.
//!
//! The shape is a two-level timing wheel (Varghese and Lauck, "Hashed and
//! hierarchical timing wheels", 1987) in front of a binary heap. A single
//! binary heap of one pending event per user misses the cache on nearly
//! every sift once it holds a million entries (issue 11 measured 57% of a
//! million-user run in the heap). Here time is cut into ticks of
//! [`TICK_NS`], and ticks into spans of [`FINE`] ticks:
//!
//! - an event in the span being drained goes to its tick's slot in `fine`
//!   (a `Vec` push, no ordering work);
//! - an event in one of the next [`COARSE`] spans goes to its span's
//!   bucket in `coarse`; when the queue enters that span it deals the
//!   bucket out to the fine slots;
//! - a later one waits in `far`, a heap that holds only the few percent of
//!   events that far ahead, and moves to its bucket when its span comes
//!   within reach.
//!
//! Pushes land at the ends of 64 fine slots and a few hundred buckets, few
//! enough to stay in the cache and the TLB, where one slot per tick over
//! the same 33 s would scatter them over thousands of pages. Only the tick
//! being drained is kept ordered: the queue sorts its slot by time into
//! `current`, and an event pushed for that very tick goes to `late`, a
//! small heap; a pop takes the earlier of the two heads.
//!
//! Why that is exactly one heap's order, with no sequence number stored in
//! the wheel:
//! - every event of an earlier tick comes out before any of a later tick;
//! - a slot's events are in push order: `far` hands its events over (in
//!   `(time, sequence)` order) as soon as their span comes within reach,
//!   before anything can be pushed straight into that span's bucket, and
//!   a bucket is dealt out (in order) before anything can be pushed
//!   straight into its fine slots; so a *stable* sort by time leaves equal
//!   times in push order;
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

/// Width of a tick: 2 ms of simulated time. A million users clicking every
/// 10 s put about 400 events in a tick: `current` stays small, and a 2 ms
/// response lands in a later tick rather than in `late`.
const TICK_NS: u64 = 2_000_000;
/// Ticks in a span (128 ms): the fine slots.
const FINE: u64 = 64;
/// Spans the buckets cover: 256 × 128 ms ≈ 33 s, past which an
/// exponential think time of mean 10 s falls only 4% of the time.
const COARSE: u64 = 256;

fn tick_of(at: SimTime) -> u64 {
    at.as_nanos() / TICK_NS
}

fn span_of(at: SimTime) -> u64 {
    tick_of(at) / FINE
}

/// An event in the wheel: its order among equal times is its place in the
/// slot, so it needs no sequence number.
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

/// Slots with a bitmap of which are occupied.
struct Slots<E> {
    slots: Vec<Vec<Timed<E>>>,
    occupied: Vec<u64>,
}

impl<E> Slots<E> {
    fn new(count: u64) -> Self {
        Slots {
            slots: (0..count).map(|_| Vec::new()).collect(),
            occupied: vec![0; count.div_ceil(64) as usize],
        }
    }

    fn push(&mut self, index: usize, timed: Timed<E>) {
        self.slots[index].push(timed);
        self.occupied[index / 64] |= 1 << (index % 64);
    }

    /// Empties slot `index`, returning what it held.
    fn take(&mut self, index: usize) -> Vec<Timed<E>> {
        self.occupied[index / 64] &= !(1 << (index % 64));
        std::mem::take(&mut self.slots[index])
    }

    /// The first occupied slot at `from` or after, up to `to` (exclusive,
    /// `to <= count`), if any.
    fn first_from(&self, from: usize, to: usize) -> Option<usize> {
        let mut word_index = from / 64;
        let mut word = self.occupied.get(word_index)? & (!0u64 << (from % 64));
        loop {
            if word != 0 {
                let slot = word_index * 64 + word.trailing_zeros() as usize;
                return (slot < to).then_some(slot);
            }
            word_index += 1;
            if word_index * 64 >= to {
                return None;
            }
            word = self.occupied[word_index];
        }
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
    /// The span being drained (`tick / FINE`, once a tick of it is).
    span: u64,
    /// Slot `t % FINE` holds the events of tick `t` of span `span`, for
    /// `t > tick`, in push order.
    fine: Slots<E>,
    /// Bucket `s % COARSE` holds the events of span `s`, for
    /// `span < s < span + COARSE`, in push order.
    coarse: Slots<E>,
    /// Events in `fine` and `coarse`.
    in_wheel: usize,
    /// Events of span `span + COARSE` or later, ordered.
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
            span: 0,
            fine: Slots::new(FINE),
            coarse: Slots::new(COARSE),
            in_wheel: 0,
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
        let span = tick / FINE;
        if tick <= self.tick {
            self.late.push(entry);
            return;
        }
        let (slots, index) = if span == self.span {
            (&mut self.fine, tick % FINE)
        } else if span < self.span + COARSE {
            (&mut self.coarse, span % COARSE)
        } else {
            self.far.push(entry);
            return;
        };
        slots.push(
            index as usize,
            Timed {
                at: entry.at,
                event: entry.event,
            },
        );
        self.in_wheel += 1;
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
        loop {
            // The rest of this span: the fine slots after `tick`.
            let from = if self.tick / FINE == self.span {
                (self.tick % FINE + 1) as usize
            } else {
                0
            };
            if let Some(slot) = self.fine.first_from(from, FINE as usize) {
                self.tick = self.span * FINE + slot as u64;
                let mut entries = self.fine.take(slot);
                self.in_wheel -= entries.len();
                // Stable: equal times stay in push order (module docs).
                entries.sort_by_key(|timed| timed.at);
                self.current = VecDeque::from(entries);
                return;
            }
            // This span is done: on to the next that holds anything.
            let Some(next) = self.next_span() else {
                return;
            };
            self.enter_span(next);
        }
    }

    /// The next span after `span` holding events, in the buckets or else
    /// in `far`.
    fn next_span(&self) -> Option<u64> {
        let start = ((self.span + 1) % COARSE) as usize;
        let found = self
            .coarse
            .first_from(start, COARSE as usize)
            .or_else(|| self.coarse.first_from(0, start));
        match found {
            Some(bucket) => {
                let distance = (bucket as u64 + COARSE - start as u64) % COARSE + 1;
                Some(self.span + distance)
            }
            None => self.far.peek().map(|entry| span_of(entry.at)),
        }
    }

    /// Makes `next` the span being drained: deals its bucket out to the
    /// fine slots, then brings what `far` holds for the buckets' new reach.
    fn enter_span(&mut self, next: u64) {
        self.span = next;
        // No tick of the new span has been drained yet (`next` is past
        // span 0, so this is the last tick of an earlier span).
        self.tick = next * FINE - 1;
        let bucket = self.coarse.take((next % COARSE) as usize);
        for timed in bucket {
            // Every tick of the bucket is in this span, after `tick`.
            self.fine.push((tick_of(timed.at) % FINE) as usize, timed);
        }
        // `far` only ever holds spans beyond the buckets' reach, so none of
        // this is for the span just entered unless the buckets were empty.
        while let Some(entry) = self.far.peek()
            && span_of(entry.at) < self.span + COARSE
        {
            let entry = self.far.pop().expect("peeked");
            self.place(entry);
        }
    }

    pub fn len(&self) -> usize {
        self.current.len() + self.late.len() + self.in_wheel + self.far.len()
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

    #[test]
    fn sparse_events_far_apart_come_out_in_order() {
        // Nothing in the wheel between them: each pop jumps from `far`
        // straight into a span, and pushes made then land beside it.
        let mut q = EventQueue::with_capacity(8);
        let second = 1_000_000_000u64;
        for (i, at) in [500, 100, 300, 100, 900, 200].into_iter().enumerate() {
            q.push(SimTime::from_nanos(at * second), i);
        }
        let mut order = Vec::new();
        while let Some((at, i)) = q.pop() {
            order.push((at.as_nanos() / second, i));
            if i == 2 {
                // At 300 s: one event at once, one in the same tick, one
                // a span later, one past the buckets' reach.
                q.push(at, 10);
                q.push(SimTime::from_nanos(at.as_nanos() + 1), 11);
                q.push(SimTime::from_nanos(at.as_nanos() + TICK_NS * FINE), 12);
                q.push(SimTime::from_nanos(at.as_nanos() + 40 * second), 13);
            }
        }
        assert_eq!(
            order,
            [
                (100, 1),
                (100, 3),
                (200, 5),
                (300, 2),
                (300, 10),
                (300, 11),
                (300, 12),
                (340, 13),
                (500, 0),
                (900, 4)
            ]
        );
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
                        2 => rng.random_range(0..TICK_NS * FINE * 2),
                        3 => rng.random_range(0..TICK_NS * FINE * COARSE),
                        _ => rng.random_range(0..TICK_NS * FINE * COARSE * 4),
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
