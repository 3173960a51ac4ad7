//! `bestofn export`.

use std::path::PathBuf;

use super::Outcome;
use crate::error::{Error, Result};
use crate::export::{select_dpo, select_sft, DpoOptions, Format, SftOptions};
use crate::io::{ensure_distinct, Named, OutputSet};
use crate::records::{read_problems, read_samples, ProblemLayout};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Problems (the question of each record; `solution` for --original-fraction).
    #[arg(long)]
    pub problems: PathBuf,
    #[command(flatten)]
    pub layout: ProblemLayout,
    /// Labeled samples.
    #[arg(long)]
    pub samples: PathBuf,
    /// SFT output: correct samples, deduplicated per problem.
    #[arg(long, value_name = "FILE", required_unless_present = "dpo")]
    pub sft: Option<PathBuf>,
    /// DPO output: (correct, incorrect) pairs per problem.
    #[arg(long, value_name = "FILE")]
    pub dpo: Option<PathBuf>,
    /// messages (TRL's conversational format) or prompt-completion.
    #[arg(long, default_value = "messages")]
    pub format: Format,
    /// SFT: at most this many samples per problem.
    #[arg(long, value_name = "N")]
    pub max_per_problem: Option<usize>,
    /// SFT: share of the output made of the problems' original solutions (model-collapse
    /// experiments keep e.g. 0.1 of the original data).
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    pub original_fraction: f64,
    /// DPO: at most this many pairs per problem.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub max_pairs_per_problem: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub type Settings = Args;

impl Args {
    pub fn resolve(self) -> Result<Settings> {
        if !(0.0..1.0).contains(&self.original_fraction) {
            return Err(Error::Settings(
                "--original-fraction must be in [0, 1)".into(),
            ));
        }
        if self.max_per_problem == Some(0) || self.max_pairs_per_problem == 0 {
            return Err(Error::Settings(
                "--max-per-problem and --max-pairs-per-problem must be at least 1: 0 exports nothing"
                    .into(),
            ));
        }
        let outputs = Named::given([
            Named::optional("--sft", self.sft.as_ref()),
            Named::optional("--dpo", self.dpo.as_ref()),
        ]);
        let inputs = Named::problems_and_samples(&self.problems, &self.samples);
        ensure_distinct(&inputs, &outputs)?;
        Ok(self)
    }
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let problems = read_problems(&settings.problems, &settings.layout)?;
    let samples = read_samples(&settings.samples)?;
    if samples.iter().all(|s| s.correct.is_none()) {
        return Err(Error::Inconsistent(format!(
            "{}: no sample has a `correct` label; run `bestofn label` first",
            settings.samples.display()
        )));
    }
    let mut lines = Vec::new();
    let mut outputs = OutputSet::default();
    if let Some(path) = &settings.sft {
        let options = SftOptions {
            max_per_problem: settings.max_per_problem,
            original_fraction: settings.original_fraction,
            format: settings.format,
            seed: settings.seed,
        };
        let (records, summary) = select_sft(&problems, &samples, &options)?;
        if records.is_empty() {
            return Err(Error::Inconsistent(format!(
                "{}: no sample is correct, so the SFT set would be empty; nothing was written",
                settings.samples.display()
            )));
        }
        outputs.add_jsonl(path, &records)?;
        lines.push(format!("sft: {summary} → {}", path.display()));
    }
    if let Some(path) = &settings.dpo {
        let options = DpoOptions {
            max_pairs_per_problem: settings.max_pairs_per_problem,
            format: settings.format,
            seed: settings.seed,
        };
        let (records, summary) = select_dpo(&problems, &samples, &options)?;
        if records.is_empty() {
            return Err(Error::Inconsistent(format!(
                "{}: no problem has both a correct and an incorrect sample, so there is no DPO \
                 pair; nothing was written",
                settings.samples.display()
            )));
        }
        outputs.add_jsonl(path, &records)?;
        lines.push(format!(
            "dpo: {} pairs from {} problems → {}",
            summary.records,
            summary.problems,
            path.display()
        ));
    }
    outputs.commit()?;
    Ok(Outcome::summary(lines.join("\n")))
}
