//! The event queue pops exactly as one binary heap of `(time, sequence)`
//! would.

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
