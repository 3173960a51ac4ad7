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
    /// Print the plan (problems, samples to draw, the generator, the first rendered prompt,
    /// where each file goes) and exit without generating or writing anything.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug)]
pub struct Settings {
    pub problems: PathBuf,
    pub layout: ProblemLayout,
    pub out: PathBuf,
    pub backend: BackendSettings,
    pub options: GenerateOptions,
    pub dry_run: bool,
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
            dry_run: self.dry_run,
        })
    }
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let problems = read_problems(&settings.problems, &settings.layout)?;
    if settings.dry_run {
        let plan = plan(&problems, settings, &[("samples", &settings.out)])?;
        return Ok(Outcome::stdout(plan));
    }
    generate_into(&problems, settings).map(Outcome::summary)
}

/// What a run would do, for `--dry-run`: nothing is opened for writing.
pub(super) fn plan(
    problems: &[Problem],
    settings: &Settings,
    outputs: &[(&str, &std::path::Path)],
) -> Result<String> {
    use std::fmt::Write;
    let options = &settings.options;
    let n = options.n;
    let present = samples_present(&settings.out, problems, n)?;
    let planned = problems.len() as u64 * u64::from(n);
    let params = &options.params;
    let mut plan = String::new();
    let mut line = |text: String| {
        plan.push_str(&text);
        plan.push('\n');
    };
    line(format!(
        "problems    {} from {}",
        problems.len(),
        settings.problems.display()
    ));
    line(format!(
        "samples     N = {n}: {planned} planned, {present} already in {}, {} to draw{}",
        settings.out.display(),
        planned.saturating_sub(present),
        if options.adaptive.is_some() || options.online.is_some() {
            " at most (stopping early)"
        } else {
            ""
        }
    ));
    line(format!("generator   {}", settings.backend.describe()));
    line(format!(
        "sampling    temperature {}, top-p {}, top-k {}, at most {} tokens, seed {}{}",
        params.temperature,
        params.top_p,
        params.top_k,
        params.max_tokens,
        params.seed,
        if params.token_stats.is_some() {
            ", token statistics"
        } else {
            ""
        }
    ));
    line(format!(
        "template    {} (sha256 {})",
        options.template.name,
        &options.template.sha256[..12]
    ));
    for (what, path) in outputs {
        line(format!("writes      {what}: {}", path.display()));
    }
    if let Some(first) = problems.first() {
        let _ = write!(
            plan,
            "first prompt (problem {}):\n{}",
            first.id,
            options.template.render(&first.question)
        );
    }
    Ok(plan)
}

/// How many of the planned samples the output already holds (0 when it does not exist yet).
fn samples_present(out: &std::path::Path, problems: &[Problem], n: u32) -> Result<u64> {
    if crate::io::is_stdio(out) || !out.exists() {
        return Ok(0);
    }
    let known: std::collections::HashSet<&str> = problems.iter().map(|p| p.id.as_str()).collect();
    let (samples, _) = crate::records::read_all::<crate::records::Sample>(out, true)?;
    Ok(samples
        .iter()
        .filter(|s| s.sample_idx < n && known.contains(s.problem_id.as_str()))
        .count() as u64)
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
