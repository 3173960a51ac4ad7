//! bestofn: best-of-N solving with a learned verifier.
//!
//! Stages, each a module named like its subcommand: [`import`] (adapters for grouped sample
//! sets), [`label`] (grade samples against gold answers), [`rank`] (pick one answer per problem),
//! [`eval`] (pass@k, strategy curves, calibration, reports).

pub mod error;
pub mod grade;
pub mod io;
pub mod records;

pub use error::{Error, Result};
