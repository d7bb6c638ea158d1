//! The machine's practical limit for lbsim's bench-1m workload (issue 11):
//! the same users, think times and requests in the smallest event loop we
//! know how to write, with no lbsim code and no dependencies, so
//! `scripts/bench.sh` can say how far lbsim is from what this machine can
//! do at all.
//!
//!   cargo bench --bench minimal_loop -- [USERS] [SECONDS]    (1000000 900)
//!   rustc -C opt-level=3 -C codegen-units=1 --edition 2024 benches/minimal_loop.rs
//!
//! Workload: user i of n arrives at i * 60 s / n (a 1-minute ramp) and sends
//! a request (its login); a request takes 2 ms, then the user thinks an
//! exponential time of mean 10 s and sends the next. Two events per request
//! (send, complete), as lbsim's engine has. The store is one `u64` per user,
//! its session's last access, read and written at every send; one older
//! than the 30-minute TTL counts a forced logout (never, in 15 minutes, but
//! the read keeps the work honest). A request counts when it completes
//! before the end, as in lbsim. Prints one line:
//! `requests= events= wall_s= cpu_s= requests_per_cpu_s= peak_rss_bytes= users= forced_logouts=`

use std::time::Instant;

const SERVICE_NS: u64 = 2_000_000;
const THINK_MEAN_NS: f64 = 10e9;
const RAMP_NS: u128 = 60_000_000_000;
const TTL_NS: u64 = 1_800_000_000_000;
/// The store's entry for a user with no session yet (its first request).
const NEVER: u64 = u64::MAX;
/// Marks a completion in `Ev::who`; the other bits are the user.
const DONE: u32 = 1 << 31;

/// SplitMix64 (Steele, Lea and Flood, 2014), the generator lbsim's own
/// streams use: one word of state, a few instructions a draw.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// An exponential think time by inversion, -ln(u), u in (0, 1].
    fn think_ns(&mut self) -> u64 {
        let u = ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        (-u.ln() * THINK_MEAN_NS) as u64
    }
}

/// An event: when, and whose send or completion. 16 bytes, `Copy`.
#[derive(Clone, Copy)]
struct Ev {
    at: u64,
    who: u32,
}

// Sizes, tuned on this machine at a million users (200,000 events per
// simulated second); small level 1 beat bigger ones (its slots' buffers
// stay in cache next to the 8 MB store).
/// A tick is 2^17 ns (131 µs): ~26 events, sorted when it comes due.
const TICK_SHIFT: u32 = 17;
/// Level 1: one slot per tick of the current page of 1,024 ticks (134 ms);
/// nearly every 2 ms completion is pushed straight into it.
const L1_BITS: u32 = 10;
const L1_MASK: u64 = (1 << L1_BITS) - 1;
// Level 2: one bucket per page of the run; think times wait there and are
// spread into level 1 when their page begins.

/// A two-level timing wheel with aligned pages (Varghese and Lauck, 1987),
/// under lbsim's `sim::queue` contract: events come out by `(time, push
/// order)`. Each push appends to a `Vec`, and an event reaches its level-1
/// slot either by a push during its page or by the spread when its page
/// begins, which comes before any such push: both keep push order, so a
/// *stable* sort of a slot by time gives FIFO ties without a sequence
/// number.
#[derive(Default)]
struct Wheel {
    l1: Vec<Vec<Ev>>,
    l1_full: Vec<u64>, // a bit per level-1 slot: it holds events
    l2: Vec<Vec<Ev>>,  // indexed by page, up to the page of the end
    cur: Vec<Ev>,      // the tick being drained, sorted; `pos` is the next out
    pos: usize,
    page: u64, // the page level 1 holds
    next: u64, // the first tick not yet taken into `cur`
    len: usize,
}

impl Wheel {
    fn new(end: u64) -> Wheel {
        let buckets = |n| (0..n).map(|_| Vec::new()).collect();
        Wheel {
            l1: buckets(1 << L1_BITS),
            l1_full: vec![0; (1 << L1_BITS) / 64],
            l2: buckets((end >> (TICK_SHIFT + L1_BITS)) as usize + 1),
            ..Wheel::default()
        }
    }

    fn push(&mut self, at: u64, who: u32) {
        let ev = Ev { at, who };
        let tick = ev.at >> TICK_SHIFT;
        let page = tick >> L1_BITS;
        if page >= self.l2.len() as u64 {
            return; // due after the end's page: never popped
        }
        self.len += 1;
        if tick < self.next {
            // Due in the tick being drained: after its equal times (FIFO).
            let i = self.cur[self.pos..].partition_point(|e| e.at <= ev.at);
            self.cur.insert(self.pos + i, ev);
        } else if page == self.page {
            let slot = (tick & L1_MASK) as usize;
            self.l1[slot].push(ev);
            self.l1_full[slot / 64] |= 1 << (slot % 64);
        } else {
            self.l2[page as usize].push(ev);
        }
    }

    /// The earliest event. `loaded` sees each tick's events when they come
    /// out of the wheel, before the first of them is returned.
    #[inline]
    fn pop(&mut self, mut loaded: impl FnMut(&[Ev])) -> Option<Ev> {
        while self.pos == self.cur.len() {
            if self.len == 0 {
                return None;
            }
            if self.advance() {
                loaded(&self.cur);
            }
        }
        self.pos += 1;
        self.len -= 1;
        Some(self.cur[self.pos - 1])
    }

    /// Takes the next tick holding events into `cur`, sorted (true), or
    /// moves on to the next page (false).
    fn advance(&mut self) -> bool {
        // The first occupied slot not taken yet, word by word of the bitmap.
        let mut slot = (self.next - (self.page << L1_BITS)) as usize;
        while slot < 1 << L1_BITS {
            let word = self.l1_full[slot / 64] & (!0u64 << (slot % 64));
            if word != 0 {
                slot = slot / 64 * 64 + word.trailing_zeros() as usize;
                break;
            }
            slot = (slot / 64 + 1) * 64;
        }
        if slot >= 1 << L1_BITS {
            // Page over: the next page's bucket spreads into level 1 (and
            // its buffer is freed: kept, the buckets would hold GBs).
            self.page += 1;
            self.next = self.page << L1_BITS;
            let bucket = std::mem::take(&mut self.l2[self.page as usize]);
            self.len -= bucket.len();
            bucket.into_iter().for_each(|ev| self.push(ev.at, ev.who));
            return false;
        }
        self.l1_full[slot / 64] &= !(1 << (slot % 64));
        self.next = (self.page << L1_BITS) + slot as u64 + 1;
        // The drained `cur` becomes the slot's empty buffer: no allocation
        // once warm.
        self.cur.clear();
        std::mem::swap(&mut self.cur, &mut self.l1[slot]);
        self.pos = 0;
        // A stable sort (std's: insertion sort for short runs, a scratch
        // buffer on the stack for a tick's couple of dozen; measured as fast
        // as a hand-written insertion sort).
        self.cur.sort_by_key(|e| e.at);
        true
    }
}

/// CPU seconds of this (one-thread) process: the scheduler's nanoseconds in
/// `/proc/self/schedstat`, else utime + stime of `/proc/self/stat` in the
/// kernel's fixed 100 Hz ticks.
fn cpu_s() -> f64 {
    let read = |p| std::fs::read_to_string(p).unwrap_or_default();
    let sched = read("/proc/self/schedstat");
    if let Some(Ok(ns)) = sched.split_whitespace().next().map(str::parse::<u64>) {
        return ns as f64 * 1e-9;
    }
    // utime and stime: the 12th and 13th fields after `(comm)`.
    let stat = read("/proc/self/stat");
    let mut f = stat.rsplit(')').next().unwrap_or("").split_whitespace();
    let ticks: u64 = f.nth(11).and_then(|u| u.parse().ok()).unwrap_or(0);
    (ticks + f.next().and_then(|s| s.parse().ok()).unwrap_or(0)) as f64 / 100.0
}

/// Peak resident set in bytes (`VmHWM` of `/proc/self/status`, in kB).
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmHWM:"));
    kb.and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    // `cargo bench` adds `--bench`: only the numbers are ours.
    let nums: Vec<u64> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let users = nums.first().copied().unwrap_or(1_000_000);
    let end = nums.get(1).copied().unwrap_or(900) * 1_000_000_000;
    assert!(users > 0 && users < u64::from(DONE), "users: 1 to 2^31 - 1");
    let (wall, cpu) = (Instant::now(), cpu_s());

    let mut rng = Rng(11);
    let mut last_access = vec![NEVER; users as usize]; // the session store
    let mut wheel = Wheel::new(end);
    // The arrivals are sends pushed up front, in user order, with lbsim's
    // exact integer spacing of a ramp (`sim::workload::arrival_of`).
    for i in 0..users {
        let at = (RAMP_NS * u128::from(i) / u128::from(users)) as u64;
        wheel.push(at, i as u32);
    }
    // A random read in the 8 MB store misses the cache: as each tick's
    // events come out of the wheel, ask for all their users' entries at
    // once, so the misses overlap instead of stalling one by one (a hint
    // only: it can never fault).
    let store = last_access.as_ptr();
    let prefetch = |batch: &[Ev]| {
        #[cfg(target_arch = "x86_64")]
        for e in batch.iter().filter(|e| e.who & DONE == 0) {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            unsafe { _mm_prefetch(store.wrapping_add(e.who as usize) as *const i8, _MM_HINT_T0) };
        }
    };
    let (mut requests, mut events, mut forced) = (0u64, 0u64, 0u64);
    while let Some(ev) = wheel.pop(prefetch) {
        if ev.at >= end {
            break; // as in lbsim, nothing at or after the end happens
        }
        events += 1;
        if ev.who & DONE == 0 {
            // Send: the store is read and written when the request starts.
            let last = &mut last_access[ev.who as usize];
            if *last != NEVER && ev.at - *last >= TTL_NS {
                forced += 1; // would log the user out; never within the TTL
            }
            *last = ev.at;
            wheel.push(ev.at + SERVICE_NS, ev.who | DONE);
        } else {
            // Complete: count it, think, send again if before the end.
            requests += 1;
            let at = ev.at + rng.think_ns();
            if at < end {
                wheel.push(at, ev.who & !DONE);
            }
        }
    }

    let (wall_s, cpu_s) = (wall.elapsed().as_secs_f64(), cpu_s() - cpu);
    println!(
        "requests={requests} events={events} wall_s={wall_s:.3} cpu_s={cpu_s:.3} \
         requests_per_cpu_s={:.0} peak_rss_bytes={} users={users} forced_logouts={forced}",
        requests as f64 / cpu_s,
        peak_rss_bytes()
    );
}
