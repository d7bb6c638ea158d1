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
//! Pushes land at the ends of a thousand fine slots and a few hundred
//! buckets, few enough to stay in the cache and the TLB, where one slot
//! per tick over the same 69 s would scatter them over half a million. Only the tick
//! being drained is kept ordered: the queue sorts its slot by time into
//! `current` (whose buffer then goes back to the slot, so the slots stop
//! allocating once warm), and an event pushed for that very tick goes to `late`, a
//! small heap; a pop takes the earlier of the two heads.
//!
//! Why that is exactly one heap's order, with no sequence number stored in
//! the wheel:
//! - every event of an earlier tick comes out before any of a later tick;
//! - a slot's events are in push order: `far` hands its events over (in
//!   `(time, sequence)` order) as soon as their span comes within reach,
//!   before anything can be pushed straight into that span's bucket, and
//!   a bucket is dealt out (in order) before anything can be pushed
//!   straight into its fine slots; so sorting a slot by time and place in
//!   the slot (one distinct key per event, [`Keyed`]) leaves equal times in
//!   push order;
//! - every event in `late` was pushed after every event in `current` (the
//!   tick began before it was pushed), so on a tie `current` goes first,
//!   and `late` orders itself by `(time, sequence)`.
//!
//! Sorting the tick, rather than heaping it, also tells what comes next:
//! [`EventQueue::ahead`] shows an event a few pops away, so the simulator
//! can fetch its user's memory before it needs it (`sim::cache`).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::time::SimTime;

/// Width of a tick: 2^17 ns (131 µs) of simulated time. A million users
/// clicking every 10 s put about 26 events in a tick, so the sort of a
/// tick is an insertion sort of a few cache lines (issue 11 measured a
/// 2 ms tick of 400 events spending 8-10% of a run in the sort).
const TICK_NS: u64 = 1 << 17;
/// Ticks in a span (134 ms): the fine slots. Nearly every response (2 ms
/// and on) is pushed straight into one.
const FINE: u64 = 1024;
/// Spans the buckets cover: 512 × 134 ms ≈ 69 s, past which an
/// exponential think time of mean 10 s falls 0.1% of the time (with 256,
/// 3%: `far`'s sifts then cost 5% of a run).
const COARSE: u64 = 512;

fn tick_of(at: SimTime) -> u64 {
    at.as_nanos() / TICK_NS
}

fn span_of(at: SimTime) -> u64 {
    tick_of(at) / FINE
}

/// An event in a bucket: its order among equal times is its place in the
/// bucket, so it needs no sequence number.
struct Timed<E> {
    at: SimTime,
    event: E,
}

/// An event in a fine slot, under a key that sorts exactly as `(time, push
/// order)` within the slot's tick: the time's offset into the tick in the
/// high 32 bits (a tick is 2^17 ns) and its place in the slot
/// in the low 32. Keys are distinct, so a fast unstable sort by key gives
/// the stable order.
#[derive(Clone, Copy)]
struct Keyed<E> {
    key: u64,
    event: E,
}

impl<E> Keyed<E> {
    fn new(at: SimTime, place: usize, event: E) -> Self {
        let offset = at.as_nanos() % TICK_NS;
        debug_assert!(place < 1 << 32, "a tick of over 2^32 events");
        Keyed {
            key: offset << 32 | place as u64,
            event,
        }
    }

    /// The event's time, given the start of its tick.
    fn at(&self, tick_start: u64) -> SimTime {
        SimTime::from_nanos(tick_start + (self.key >> 32))
    }
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

/// Sorts a tick's events by key. A tick holds a few dozen, for which an
/// insertion sort beats std's sorts (measured: std's unstable sort spent
/// 5% of a million-user run choosing and partitioning). A tick sorted
/// ahead (`EventQueue::advance`) is usually still sorted when it comes due.
fn sort_tick<E: Copy>(items: &mut [Keyed<E>]) {
    if items.is_sorted_by_key(|keyed| keyed.key) {
        return;
    }
    if items.len() > 24 {
        items.sort_unstable_by_key(|keyed| keyed.key);
        return;
    }
    for i in 1..items.len() {
        let item = items[i];
        let mut j = i;
        while j > 0 && items[j - 1].key > item.key {
            items[j] = items[j - 1];
            j -= 1;
        }
        items[j] = item;
    }
}

/// Slots with a bitmap of which are occupied.
struct Slots<T> {
    slots: Vec<Vec<T>>,
    occupied: Vec<u64>,
}

impl<T> Slots<T> {
    fn new(count: u64) -> Self {
        Slots {
            slots: (0..count).map(|_| Vec::new()).collect(),
            occupied: vec![0; count.div_ceil(64) as usize],
        }
    }

    fn push(&mut self, index: usize, item: T) {
        self.slots[index].push(item);
        self.occupied[index / 64] |= 1 << (index % 64);
    }

    /// Swaps slot `index`'s contents with `with` (which must be empty):
    /// the slot keeps `with`'s allocation, so a slot refilled tick after
    /// tick does not grow a new buffer each time.
    fn swap_out(&mut self, index: usize, with: &mut Vec<T>) {
        debug_assert!(with.is_empty());
        self.occupied[index / 64] &= !(1 << (index % 64));
        std::mem::swap(&mut self.slots[index], with);
    }

    /// Empties slot `index`, returning what it held.
    fn take(&mut self, index: usize) -> Vec<T> {
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
    /// The events of tick `tick` that were in its slot, earliest first;
    /// those before `next` have been popped.
    current: Vec<Keyed<E>>,
    /// The next event of `current` to pop.
    next: usize,
    /// Where tick `tick` starts, in nanoseconds.
    tick_start: u64,
    /// The fine slot of the next tick holding events when `tick` began
    /// (`FINE` if none in this span): where [`EventQueue::ahead`] looks
    /// past the end of `current`.
    following: usize,
    /// Events pushed for tick `tick` (or earlier) once it was being drained,
    /// ordered.
    late: BinaryHeap<Entry<E>>,
    /// The tick being drained.
    tick: u64,
    /// The span being drained (`tick / FINE`, once a tick of it is).
    span: u64,
    /// Slot `t % FINE` holds the events of tick `t` of span `span`, for
    /// `t > tick`, in push order.
    fine: Slots<Keyed<E>>,
    /// Bucket `s % COARSE` holds the events of span `s`, for
    /// `span < s < span + COARSE`, in push order.
    coarse: Slots<Timed<E>>,
    /// Events in `fine` and `coarse`.
    in_wheel: usize,
    /// Events of span `span + COARSE` or later, ordered.
    far: BinaryHeap<Entry<E>>,
    /// Next insertion sequence number.
    next_seq: u64,
}

impl<E: Copy> EventQueue<E> {
    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            current: Vec::new(),
            next: 0,
            tick_start: 0,
            following: FINE as usize,
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
        if span == self.span {
            let index = (tick % FINE) as usize;
            let place = self.fine.slots[index].len();
            self.fine
                .push(index, Keyed::new(entry.at, place, entry.event));
        } else if span < self.span + COARSE {
            let timed = Timed {
                at: entry.at,
                event: entry.event,
            };
            self.coarse.push((span % COARSE) as usize, timed);
        } else {
            self.far.push(entry);
            return;
        }
        self.in_wheel += 1;
    }

    /// The event of `current` to pop next, if any.
    fn current_front(&self) -> Option<&Keyed<E>> {
        self.current.get(self.next)
    }

    /// True if the next pop comes from `late` rather than `current`.
    fn late_first(&self) -> bool {
        match (self.current_front(), self.late.peek()) {
            // On a tie `current` goes first: it was pushed earlier.
            (Some(c), Some(l)) => l.at < c.at(self.tick_start),
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
            let keyed = self.current.get(self.next)?;
            self.next += 1;
            Some((keyed.at(self.tick_start), keyed.event))
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
            self.current_front().map(|keyed| keyed.at(self.tick_start))
        }
    }

    /// An event due about `n` pops from now, if the tick being drained or
    /// the next one holds one: a hint for fetching memory early, not a
    /// promise (events pushed meanwhile may come first).
    #[inline]
    pub fn ahead(&self, n: usize) -> Option<&E> {
        let i = self.next + n;
        match self.current.get(i) {
            Some(keyed) => Some(&keyed.event),
            None => self
                .fine
                .slots
                .get(self.following)?
                .get(i - self.current.len())
                .map(|keyed| &keyed.event),
        }
    }

    fn tick_drained(&self) -> bool {
        self.next == self.current.len() && self.late.is_empty()
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
                self.tick_start = self.tick * TICK_NS;
                // The drained tick's buffer goes back to the slot.
                self.current.clear();
                self.next = 0;
                self.fine.swap_out(slot, &mut self.current);
                self.in_wheel -= self.current.len();
                // Keys are (time, push order): equal times stay in push
                // order (module docs).
                sort_tick(&mut self.current);
                self.following = self
                    .fine
                    .first_from(slot + 1, FINE as usize)
                    .unwrap_or(FINE as usize);
                // The next tick is sorted now too, so that `ahead` sees its
                // first events in order. Events pushed into it meanwhile
                // land after its sorted part; the sort when it becomes the
                // current tick puts them in place (an insertion sort of an
                // almost sorted slot costs about one pass).
                if let Some(following) = self.fine.slots.get_mut(self.following) {
                    sort_tick(following);
                }
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
            let index = (tick_of(timed.at) % FINE) as usize;
            let place = self.fine.slots[index].len();
            self.fine
                .push(index, Keyed::new(timed.at, place, timed.event));
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
        (self.current.len() - self.next) + self.late.len() + self.in_wheel + self.far.len()
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
