//! Shared pieces of the render benchmark: deterministic input generators, timing, writing the
//! inputs to disk for the Python reference and the CLI, and running the reference.

pub mod emit;
pub mod nova;
pub mod phases;
pub mod python;
pub mod rabbit;
pub mod timing;

use std::collections::BTreeMap;

use kollacfg_render::{Fragment, Target};

/// One benchmark case: a target, its fragments and its base files, built in memory.
pub struct Case {
    /// Short name used in tables and file names (`rabbitmq`, `nova`).
    pub name: &'static str,
    /// The KollaConfig.
    pub target: Target,
    /// The fragments aimed at it.
    pub fragments: Vec<Fragment>,
    /// Base files, name → bytes.
    pub base: BTreeMap<String, Vec<u8>>,
    /// The file the fragments write (the one the floors and the reference look at).
    pub file: &'static str,
}

/// A small deterministic generator (SplitMix64): the same seed gives the same inputs on every
/// machine, with no dependency.
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// Standard base64 of `bytes` (for RabbitMQ password hashes).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
