//! `bestofn rank`.

use std::path::PathBuf;

use super::Outcome;
use crate::error::Result;
use crate::io::args::InputArgs;
use crate::io::{ensure_distinct, write_jsonl, Named};
use crate::pool::build_pools;
use crate::rank::{
    aggregate_steps, check_pools, rank, resolve_strategies, summary_line, Aggregate, Strategy,
};
use crate::records::read_verdicts;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Labeled and/or scored samples (- reads standard input).
    #[arg(long)]
    pub samples: PathBuf,
    /// first, majority, verifier, weighted, topk-vote, confidence-vote, borda or online-vote (`online-vote@η/N`: DeepConf online's vote); several comma-separated write one answer
    /// per problem and strategy into the same file.
    #[arg(long, default_value = "majority", value_delimiter = ',')]
    pub strategy: Vec<Strategy>,
    /// For topk-vote: how many of the best-scored samples vote.
    #[arg(long, value_name = "K")]
    pub k: Option<usize>,
    #[command(flatten)]
    pub vote: crate::rank::args::VoteArgs,
    /// Rank by this aggregation of each sample's `step_scores` (a process reward model's) instead
    /// of its `score` (min: the weakest step; prod: every step right).
    #[arg(long, value_enum)]
    pub aggregate: Option<Aggregate>,
    /// Answers output (JSONL, one per problem and strategy; - writes standard output).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(Debug)]
pub struct Settings {
    samples: PathBuf,
    strategies: Vec<Strategy>,
    k: Option<usize>,
    aggregate: Option<Aggregate>,
    out: PathBuf,
    skip_invalid: bool,
}

impl Args {
    pub fn resolve(self) -> Result<Settings> {
        ensure_distinct(
            &[Named::file("--samples", &self.samples)],
            &[Named::file("--out", &self.out)],
        )?;
        Ok(Settings {
            strategies: self
                .vote
                .apply(resolve_strategies(&self.strategy, self.k)?)?,
            k: self.k,
            aggregate: self.aggregate,
            samples: self.samples,
            out: self.out,
            skip_invalid: self.input.skip_invalid,
        })
    }
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let mut set = read_verdicts(&settings.samples, settings.skip_invalid)?;
    if let Some(aggregate) = settings.aggregate {
        aggregate_steps(&mut set.verdicts, aggregate)?;
    }
    let pools = build_pools(&set.verdicts);
    check_pools(&pools, settings.k)?;
    let mut lines = Vec::new();
    if set.skipped > 0 {
        lines.push(format!("skipped {} invalid lines", set.skipped));
    }
    if !set.stopped.is_empty() {
        lines.push(format!(
            "left out {} traces stopped mid-generation (no votes)",
            set.stopped.len()
        ));
    }
    let mut all_answers = Vec::with_capacity(pools.len() * settings.strategies.len());
    for &strategy in &settings.strategies {
        let answers = rank(&pools, strategy)?;
        lines.push(summary_line(strategy, &answers));
        all_answers.extend(answers);
    }
    write_jsonl(&settings.out, &all_answers)?;
    Ok(Outcome::summary(lines.join("\n")))
}
