//! Helping the CPU's caches with a million users' state.
//!
//! A million users' records do not fit in the cache, and each event first
//! touches its user's record and its store entry at random: a cache miss
//! each, about 100-300 ns on this machine (issue 11's profile), while the
//! rest of an event's work is a few hundred instructions. Two remedies,
//! neither of which changes a value (results stay byte-identical):
//!
//! - [`prefetch`]: the event queue can show an event a few pops ahead
//!   ([`super::queue::EventQueue::ahead`]); touching its memory now lets
//!   the misses overlap with the work in between.
//! - [`per_user`]: the per-user vectors are asked to live on 2 MiB pages
//!   (Linux transparent huge pages, `madvise(MADV_HUGEPAGE)`), so a random
//!   user's record costs one TLB entry per 2 MiB instead of one per 4 KiB:
//!   with 4 KiB pages a 100 MB vector needs 25,000 entries, far more than
//!   the CPU's TLB holds, and every miss adds a page-table walk.

/// Starts fetching `items[index]` into the cache, if there is one (a
/// per-user vector may be shorter than the users, or empty until used).
#[inline(always)]
pub fn prefetch_at<T>(items: &[T], index: usize) {
    if let Some(item) = items.get(index) {
        prefetch(item);
    }
}

/// Starts fetching every cache line of `*value` into the cache.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = value as *const T as *const i8;
        let size = std::mem::size_of::<T>().max(1);
        // Every 64-byte line the record touches, however it is aligned.
        let mut offset = 0;
        // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has (it
        // is in the target's baseline); a prefetch reads no value and
        // cannot fault, and the addresses lie inside `*value`.
        unsafe {
            while offset < size {
                _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset));
                offset += 64;
            }
            _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(size - 1));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// A vector of `len` copies of `value`, on huge pages where the kernel
/// allows (`/sys/kernel/mm/transparent_hugepage/enabled` is `always` or
/// `madvise`; elsewhere this is `vec![value; len]`).
pub fn per_user<T: Clone>(value: T, len: usize) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    advise_huge_pages(&v);
    // Filled after the advice, so the pages are first touched as huge ones.
    v.resize(len, value);
    v
}

/// Asks the kernel to back `v`'s allocation with huge pages. Only the
/// whole 2 MiB pages inside it are named; a small vector is left alone.
fn advise_huge_pages<T>(v: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_ptr() as usize;
        let end = start + v.capacity() * std::mem::size_of::<T>();
        let first = start.next_multiple_of(HUGE);
        if first + HUGE <= end {
            let len = (end - first) / HUGE * HUGE;
            // SAFETY: the range lies inside `v`'s allocation, which stays
            // alive across the call; `madvise` changes how the kernel backs
            // the pages, never their contents. A refusal (no THP) is fine.
            unsafe {
                libc::madvise(first as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}
