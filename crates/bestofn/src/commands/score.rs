//! `bestofn score`.

use std::path::PathBuf;

use super::{progress, Outcome};
use crate::error::Result;
use crate::io::args::InputArgs;
use crate::io::{ensure_distinct, Named};
use crate::records::{read_problems, ProblemLayout};
use crate::score::args::{RemoteScorerArgs, ScorerArgs};
use crate::score::{open_scorer, score_file, ScorerBackendKind, ScorerSettings};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What scores: a verifier in process (onnx) or served (vllm, tei, sglang), an LLM judge, or
    /// the generator's own confidence (confidence).
    #[arg(long, value_enum, default_value = "onnx")]
    pub backend: ScorerBackendKind,
    /// Verifier directory: model.onnx, tokenizer.json, verifier.json (for a served verifier:
    /// optional, its verifier.json's template is used).
    #[arg(long)]
    pub verifier: Option<PathBuf>,
    /// Problems the samples answer (the verifier reads each sample's question).
    #[arg(long)]
    pub problems: PathBuf,
    #[command(flatten)]
    pub layout: ProblemLayout,
    /// Samples to score (JSONL; gzip is decompressed; - reads standard input).
    #[arg(long)]
    pub samples: PathBuf,
    /// Scored samples output (- writes standard output).
    #[arg(long)]
    pub out: PathBuf,
    /// ONNX Runtime threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub scorer: ScorerArgs,
    #[command(flatten)]
    pub remote: RemoteScorerArgs,
}

#[derive(Debug)]
pub struct Settings {
    problems: PathBuf,
    layout: ProblemLayout,
    samples: PathBuf,
    out: PathBuf,
    scorer: ScorerSettings,
    skip_invalid: bool,
}

impl Args {
    pub fn resolve(self) -> Result<Settings> {
        let mut inputs = Named::problems_and_samples(&self.problems, &self.samples).to_vec();
        inputs.extend(
            self.verifier
                .as_deref()
                .map(|dir| Named::dir("--verifier", dir)),
        );
        ensure_distinct(&inputs, &[Named::file("--out", &self.out)])?;
        let scorer = self
            .remote
            .choice(self.backend, self.verifier.clone())
            .resolve(&self.scorer, self.threads)?;
        Ok(Settings {
            scorer,
            problems: self.problems,
            layout: self.layout,
            samples: self.samples,
            out: self.out,
            skip_invalid: self.input.skip_invalid,
        })
    }
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let problems = read_problems(&settings.problems, &settings.layout)?;
    let mut scorer = open_scorer(&settings.scorer)?;
    let bar = progress::bar(progress::count_lines(&settings.samples), "scoring");
    let stats = score_file(
        scorer.as_mut(),
        &problems,
        &settings.samples,
        &settings.out,
        settings.skip_invalid,
        |done| bar.set_position(done as u64),
    );
    bar.finish_and_clear();
    stats.map(Outcome::summary)
}
