//! bestofn: best-of-N solving with a learned verifier.
//!
//! Stages, each a module named like its subcommand: [`generate`], [`label`], [`score`],
//! [`rank`], [`eval`], [`solve`] (all of them in one run), [`import`] (adapters for grouped
//! sample sets), [`compose`], [`export`] and [`compare`] (the studies). [`commands`] resolves each
//! command's settings from the command line; [`io`] and [`records`] are the one I/O layer every
//! stage reads and writes through.

pub mod commands;
pub mod compare;
pub mod compose;
pub mod error;
pub mod eval;
pub mod export;
pub mod generate;
pub mod grade;
pub mod import;
pub mod io;
pub mod label;
pub mod locate;
pub mod pool;
pub mod rank;
pub mod records;
pub mod score;
pub mod solve;

pub use error::{Error, Result};

/// A hash that is the same on every platform and release (FNV-1a), for seeding per-item RNGs.
pub fn stable_hash(text: &str) -> u64 {
    fnv1a(FNV_OFFSET, text.as_bytes())
}

/// FNV-1a's starting state.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a: `hash` carried on over `bytes`.
pub(crate) fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Threads to use when none are asked for: every core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
