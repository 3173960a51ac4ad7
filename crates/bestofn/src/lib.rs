//! bestofn: best-of-N solving with a learned verifier.
//!
//! Stages, each a module named like its subcommand: [`generate`], [`label`], [`score`],
//! [`rank`], [`eval`], [`solve`] (all of them in one run), [`import`] (adapters for grouped
//! sample sets), [`compose`], [`export`] and [`compare`] (the studies); [`serve`] answers the
//! grader and the verifier over HTTP. [`commands`] resolves each
//! command's settings from the command line; [`io`] and [`records`] are the one I/O layer every
//! stage reads and writes through.

pub mod commands;
pub mod compare;
pub mod compose;
pub mod error;
pub mod eval;
pub mod export;
pub mod generate;
pub mod import;
pub mod io;
pub mod label;
pub mod locate;
pub mod pool;
pub mod rank;
pub mod records;
pub mod score;
pub mod serve;
pub mod show;
pub mod solve;

/// The grader (its own crate, `bestofn-grade`), under the stage name the rest of the pipeline uses.
pub use bestofn_grade as grade;
pub use error::{Error, Result};

pub use bestofn_grade::hash::stable_hash;

/// Threads to use when none are asked for: every core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
