//! Named, seeded random streams: the source of common random numbers.
//!
//! Every random draw in a run comes from a stream keyed by
//! `(seed, purpose, subject, index)`: for example "the 17th think time of user
//! 4031". The key never contains the strategy, so every strategy of a scenario
//! sees exactly the same arrivals, think times, service times and fault
//! choices; the differences between rows of the comparison table then come
//! from the strategy alone (the "common random numbers" technique of
//! simulation studies, which removes most of the noise from comparisons).
//!
//! Each draw gets its own small generator seeded from the hashed key, so a
//! user holds no generator state, only a counter, and a strategy that makes a
//! user send one extra login request does not shift the think times of any
//! other user. The generator is SplitMix64 from `rand_xoshiro`, whose output
//! for a given seed is fixed by its published algorithm (unlike `SmallRng`,
//! which may change between `rand` versions).

use rand::SeedableRng;
use rand_xoshiro::SplitMix64;

/// What a stream is for. The discriminant is part of every key, so two
/// purposes never share numbers; do not renumber existing variants, or every
/// seeded result changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// Gaps between user arrivals (Poisson arrivals).
    Arrival = 1,
    /// A user's think time before its next request.
    Think = 2,
    /// Service time and store latency of one request.
    Request = 3,
    /// Choices made by faults, such as which server a random crash hits.
    Fault = 4,
    /// Random choices of balancers (power of two choices).
    Balancer = 5,
    /// Replication lag of each write to a Redis replica.
    Replication = 6,
    /// Duration of each fsync of Redis's AOF.
    Disk = 7,
}

/// A well-mixed 64-bit hash of a few words: the stand-in for hashing a
/// client address or a server name. Fixed by this code, so the same on
/// every machine and version.
pub fn hash64(parts: &[u64]) -> u64 {
    parts.iter().fold(0x6c62_7369_6d68_6173, |h, &x| mix(h ^ x))
}

/// Returns the generator for one draw. Cheap: hashing four words and a
/// 16-byte generator on the stack, no allocation.
pub fn stream(seed: u64, purpose: Purpose, subject: u64, index: u64) -> SplitMix64 {
    let mut h = mix(seed ^ 0x6c62_7369_6d00_0000); // "lbsim" tag, so seed 0 is not special
    h = mix(h ^ purpose as u64);
    h = mix(h ^ subject);
    h = mix(h ^ index);
    SplitMix64::seed_from_u64(h)
}

/// The SplitMix64 finaliser (Steele, Lea and Flood, 2014): a bijection on
/// `u64` with full avalanche, so neighbouring keys give unrelated seeds.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_key_same_numbers() {
        let a: u64 = stream(7, Purpose::Think, 3, 9).random();
        let b: u64 = stream(7, Purpose::Think, 3, 9).random();
        assert_eq!(a, b);
    }

    #[test]
    fn every_key_part_matters() {
        let base: u64 = stream(7, Purpose::Think, 3, 9).random();
        for other in [
            stream(8, Purpose::Think, 3, 9),
            stream(7, Purpose::Request, 3, 9),
            stream(7, Purpose::Think, 4, 9),
            stream(7, Purpose::Think, 3, 10),
            // Swapping subject and index must not collide either.
            stream(7, Purpose::Think, 9, 3),
        ] {
            let mut other = other;
            assert_ne!(base, other.random::<u64>());
        }
    }

    #[test]
    fn uniform_draws_look_uniform() {
        // 100k draws of U(0,1) over consecutive users: the mean of a uniform is
        // 0.5 with standard error 0.289/sqrt(100k) = 0.0009, so 0.005 is more
        // than five standard errors.
        let n = 100_000;
        let sum: f64 = (0..n)
            .map(|u| stream(1, Purpose::Think, u, 0).random::<f64>())
            .sum();
        assert!((sum / n as f64 - 0.5).abs() < 0.005);
    }
}
