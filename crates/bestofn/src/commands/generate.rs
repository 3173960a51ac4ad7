//! `bestofn generate`.

use std::path::PathBuf;

use super::{progress, Outcome};
use crate::error::{Error, Result};
use crate::generate::args::GeneratorArgs;
use crate::generate::{generate, open_backend, BackendSettings, GenerateOptions, Progress};
use crate::io::{ensure_distinct, Named};
use crate::records::{read_problems, Problem, ProblemLayout};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Problems: bestofn JSONL, GSM8K or MATH native format.
    #[arg(long)]
    pub problems: PathBuf,
    #[command(flatten)]
    pub layout: ProblemLayout,
    /// Samples per problem.
    #[arg(long)]
    pub n: u32,
    /// Samples output, appended to: re-running the same command generates only what is missing.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub generator: GeneratorArgs,
}

#[derive(Debug)]
pub struct Settings {
    pub problems: PathBuf,
    pub layout: ProblemLayout,
    pub out: PathBuf,
    pub backend: BackendSettings,
    pub options: GenerateOptions,
}

impl Args {
    pub fn resolve(self) -> Result<Settings> {
        if self.generator.online.keep_top.is_some() && !self.generator.online.online_confidence {
            return Err(Error::Settings(
                "--keep-top applies to --online-confidence here (to rank by it: rank --strategy \
                 confidence-vote --keep-top)"
                    .into(),
            ));
        }
        let (backend, options) = self.generator.resolve(self.n)?;
        let mut inputs = vec![Named::file("--problems", &self.problems)];
        if let Some((flag, path)) = backend.reads() {
            inputs.push(Named::file(flag, path));
        }
        ensure_distinct(&inputs, &[Named::file("--out", &self.out)])?;
        Ok(Settings {
            problems: self.problems,
            layout: self.layout,
            out: self.out,
            backend,
            options,
        })
    }
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let problems = read_problems(&settings.problems, &settings.layout)?;
    generate_into(&problems, settings).map(Outcome::summary)
}

/// Generation with a progress bar.
fn generate_into(
    problems: &[Problem],
    settings: &Settings,
) -> Result<crate::generate::GenerateSummary> {
    let backend = open_backend(&settings.backend)?;
    let bar = progress::bar(None, "generating");
    let summary = generate(
        backend.as_ref(),
        problems,
        &settings.out,
        &settings.options,
        |event| match event {
            Progress::Planned(total) => progress::set_total(&bar, total as u64),
            Progress::Sample => bar.inc(1),
        },
    );
    bar.finish_and_clear();
    summary
}
