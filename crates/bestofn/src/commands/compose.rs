//! `bestofn compose`.

use std::path::PathBuf;

use super::Outcome;
use crate::compose::{compose, set_paths, write_sets};
use crate::error::Result;
use crate::io::{ensure_distinct, Named};
use crate::records::{read_problems, ProblemLayout};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// GSM8K problems with reference solutions (the test set's native format works as is).
    #[arg(long)]
    pub problems: PathBuf,
    #[command(flatten)]
    pub layout: ProblemLayout,
    /// Composed problems (the paper's prompt; gold = Q2's new answer). The Q1 set, the
    /// modified-Q2 set and a summary are written beside it: NAME.q1.jsonl, NAME.q2.jsonl,
    /// NAME.summary.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Most pairs to build.
    #[arg(long, default_value_t = 1200)]
    pub pairs: usize,
    /// Seed of the pairing.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub type Settings = Args;

impl Args {
    pub fn resolve(self) -> Result<Settings> {
        crate::io::ensure_file_family_base(&self.out, "compose")?;
        let paths = set_paths(&self.out);
        ensure_distinct(
            &[Named::file("--problems", &self.problems)],
            &[
                Named::file("--out", &paths.composed),
                Named::file("--out (its .q1.jsonl)", &paths.q1),
                Named::file("--out (its .q2.jsonl)", &paths.q2),
                Named::file("--out (its .summary.json)", &paths.summary),
            ],
        )?;
        Ok(self)
    }
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let problems = read_problems(&settings.problems, &settings.layout)?;
    let (composed, summary) = compose(&problems, settings.pairs, settings.seed);
    if composed.is_empty() {
        return Err(crate::Error::Inconsistent(format!(
            "{}: no pair could be composed ({summary}); nothing was written",
            settings.problems.display()
        )));
    }
    let paths = write_sets(&settings.out, &problems, &composed, &summary)?;
    Ok(Outcome::summary(format!(
        "{summary}\nwrote {} (composed), {} (Q1 set), {} (modified-Q2 set)",
        paths.composed.display(),
        paths.q1.display(),
        paths.q2.display()
    )))
}
