//! `bestofn import`.

use std::path::PathBuf;

use super::Outcome;
use crate::error::Result;
use crate::import::{import, Format};
use crate::io::{ensure_distinct, Named, OutputSet};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Source format: faithful-cot-pool, qwen-math-rm, or gsm8k-example-solutions:RUN (RUN: 6b_finetuning, 6b_verification, 175b_finetuning, 175b_verification).
    #[arg(long)]
    pub format: Format,
    /// Grouped input file (gzip is decompressed).
    #[arg(long)]
    pub input: PathBuf,
    /// Flat samples output (JSONL).
    #[arg(long)]
    pub out: PathBuf,
    /// Problems output (JSONL), with gold answers.
    #[arg(long)]
    pub problems_out: Option<PathBuf>,
}

pub type Settings = Args;

impl Args {
    pub fn resolve(self) -> Result<Settings> {
        let outputs = Named::given([
            Some(Named::file("--out", &self.out)),
            Named::optional("--problems-out", self.problems_out.as_ref()),
        ]);
        ensure_distinct(&[Named::file("--input", &self.input)], &outputs)?;
        Ok(self)
    }
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let imported = import(&settings.input, &settings.format)?;
    let mut outputs = OutputSet::default();
    outputs.add_jsonl(&settings.out, &imported.samples)?;
    if let Some(path) = &settings.problems_out {
        outputs.add_jsonl(path, &imported.problems)?;
    }
    outputs.commit()?;
    Ok(Outcome::summary(format!(
        "imported {} problems, {} samples from {}",
        imported.problems.len(),
        imported.samples.len(),
        settings.input.display()
    )))
}
