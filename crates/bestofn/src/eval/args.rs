//! The flags of the evaluation stage, shared by `eval`, `compare` and `solve`.

use clap::Args;

use super::bootstrap::{MAX_RESAMPLES, MIN_RESAMPLES};
use super::EvalOptions;
use crate::error::Error;

/// Most Monte-Carlo trials a flag may ask for: estimates stop changing long before, and memory
/// and time grow with it.
pub const MAX_TRIALS: usize = 100_000;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Evaluation")]
pub struct EvalArgs {
    /// Sample budgets, comma-separated; default: 1, 2, 4, ... up to N, and N.
    #[arg(long, value_delimiter = ',')]
    pub ks: Option<Vec<usize>>,
    /// Random k-subsets per problem for majority@k and weighted@k.
    #[arg(long, default_value_t = 100)]
    pub trials: usize,
    /// Bootstrap resamples of the problems for confidence intervals (0 = none, else at least 100).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
}

impl EvalArgs {
    /// The options, checked; `seed` comes from the command (solve shares it with generation).
    pub fn resolve(&self, seed: u64) -> Result<EvalOptions, Error> {
        if !(0.0 < self.confidence && self.confidence < 1.0) {
            return Err(Error::Settings("--confidence must be in (0, 1)".into()));
        }
        if !(1..=MAX_TRIALS).contains(&self.trials) {
            return Err(Error::Settings(format!(
                "--trials must be between 1 and {MAX_TRIALS}"
            )));
        }
        if self.bootstrap != 0 && !(MIN_RESAMPLES..=MAX_RESAMPLES).contains(&self.bootstrap) {
            return Err(Error::Settings(format!(
                "--bootstrap must be 0 (no intervals) or between {MIN_RESAMPLES} and {MAX_RESAMPLES}: \
                 fewer resamples give intervals that mean nothing"
            )));
        }
        if let Some(ks) = &self.ks {
            if ks.contains(&0) {
                return Err(Error::Settings("--ks: every k must be at least 1".into()));
            }
        }
        Ok(EvalOptions {
            ks: self.ks.clone(),
            trials: self.trials,
            bootstrap: self.bootstrap,
            confidence: self.confidence,
            seed,
            ..EvalOptions::default()
        })
    }
}
