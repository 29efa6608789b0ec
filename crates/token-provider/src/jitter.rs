//! A small seedable source of jitter (SplitMix64).
//!
//! Jitter only spreads refreshes and retries of many instances apart; it needs no
//! cryptographic quality, but it must be seedable so tests are repeatable.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Debug)]
pub(crate) struct Jitter(AtomicU64);

impl Jitter {
    pub(crate) fn seeded(seed: u64) -> Self {
        Self(AtomicU64::new(seed))
    }

    /// Seeded from the process's random hash keys, so every instance differs.
    pub(crate) fn from_entropy() -> Self {
        Self::seeded(RandomState::new().hash_one(0x0074_6f6b_656e_u64))
    }

    /// A number in `[0, 1)`.
    pub(crate) fn next_f64(&self) -> f64 {
        // SplitMix64 is a counter passed through a mixer, so a lock-free fetch_add works.
        let mut z = self
            .0
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1_u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeatable_and_in_range() {
        let a = Jitter::seeded(7);
        let b = Jitter::seeded(7);
        let mut sum = 0.0;
        for _ in 0..1000 {
            let x = a.next_f64();
            assert_eq!(x, b.next_f64());
            assert!((0.0..1.0).contains(&x));
            sum += x;
        }
        assert!((400.0..600.0).contains(&sum), "mean far from 0.5: {sum}");
    }
}
