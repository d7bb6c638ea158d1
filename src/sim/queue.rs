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
//! per tick over the same 69 s would scatter them over half a million.
//! Only the tick being drained is kept ordered: the queue sorts its slot by
//! time into `current` (whose buffer then goes back to the slot, so the
//! slots stop allocating once warm), and an event pushed for that very tick
//! goes to `late`, a small heap; a pop takes the earlier of the two heads.
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

/// An event in a fine slot: its time as an offset into the slot's tick
/// (a tick is 2^17 ns), which sorts as the time does. Its order among
/// equal times is its place in the slot, which a stable sort keeps.
#[derive(Clone, Copy)]
struct Keyed<E> {
    offset: u64,
    event: E,
}

impl<E> Keyed<E> {
    fn new(at: SimTime, event: E) -> Self {
        Keyed {
            offset: at.as_nanos() % TICK_NS,
            event,
        }
    }

    /// The event's time, given the start of its tick.
    fn at(&self, tick_start: u64) -> SimTime {
        SimTime::from_nanos(tick_start + self.offset)
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

/// Sorts a tick's events by time, stably (equal times keep their place).
/// A tick holds a few dozen, for which an insertion sort beats std's sorts
/// (measured: std's sort spent 5% of a million-user run choosing and
/// partitioning). A tick sorted ahead (`EventQueue::advance`) is usually
/// still sorted when it comes due.
fn sort_tick<E: Copy>(items: &mut [Keyed<E>]) {
    if items.is_sorted_by_key(|keyed| keyed.offset) {
        return;
    }
    if items.len() > 24 {
        items.sort_by_key(|keyed| keyed.offset);
        return;
    }
    for i in 1..items.len() {
        let item = items[i];
        let mut j = i;
        while j > 0 && items[j - 1].offset > item.offset {
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
            self.push_fine(entry.at, entry.event);
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

    /// Appends an event of the span being drained to its tick's slot.
    fn push_fine(&mut self, at: SimTime, event: E) {
        let index = (tick_of(at) % FINE) as usize;
        self.fine.push(index, Keyed::new(at, event));
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
                // Stable: equal times stay in push order (module docs).
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
            self.push_fine(timed.at, timed.event);
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
mod tests;
