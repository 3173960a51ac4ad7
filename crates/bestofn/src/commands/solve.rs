//! `bestofn solve`: the stages' own flag groups, composed.

use std::path::PathBuf;

use super::{generate, progress, Outcome};
use crate::error::{Error, Result};
use crate::eval::args::EvalArgs;
use crate::generate::args::GeneratorArgs;
use crate::generate::{open_backend, GenerateOptions};
use crate::io::{ensure_distinct, Named};
use crate::label::args::LabelArgs;
use crate::rank::{resolve_strategies, summary_line, Strategy};
use crate::records::{read_problems, ProblemLayoutBesideSamples};
use crate::score::args::{ScorerArgs, SolveScorerArgs};
use crate::score::{open_scorer, ScorerBackendKind, ScorerSettings};
use crate::solve::{solve, SolveOptions, SolvePaths, Stage, StageProgress};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Problems: bestofn JSONL, GSM8K or MATH native format (default: data/easy-arithmetic.jsonl).
    #[arg(long)]
    pub problems: Option<PathBuf>,
    #[command(flatten)]
    pub layout: ProblemLayoutBesideSamples,
    /// Samples per problem.
    #[arg(long, default_value_t = 8)]
    pub n: u32,
    /// Verifier directory (in process, default: $BESTOFN_VERIFIER, else out/experiment/verifier,
    /// the one scripts/demo.sh trains; with --score-backend vllm|tei|sglang: optional, the
    /// template and calibration of the served verifier).
    #[arg(long)]
    pub verifier: Option<PathBuf>,
    /// Answers output; the samples, labeled and scored samples and the report go beside it
    /// (NAME.samples.jsonl, NAME.labeled.jsonl, NAME.scored.jsonl, NAME.report/).
    #[arg(long, default_value = "out/solve/answers.jsonl")]
    pub out: PathBuf,
    /// Ranking strategies; the answers file holds one answer per problem and strategy.
    #[arg(
        long,
        default_value = "verifier,weighted,majority,first",
        value_delimiter = ','
    )]
    pub strategy: Vec<Strategy>,
    /// For topk-vote: how many of the best-scored samples vote.
    #[arg(long, value_name = "K")]
    pub k: Option<usize>,
    #[command(flatten)]
    pub borda: crate::rank::args::BordaArgs,
    #[command(flatten)]
    pub generator: GeneratorArgs,
    #[command(flatten)]
    pub label: LabelArgs,
    #[command(flatten)]
    pub scorer: ScorerArgs,
    #[command(flatten)]
    pub served_scorer: SolveScorerArgs,
    #[command(flatten)]
    pub eval: EvalArgs,
    /// Print the plan (problems, samples to draw, generator and verifier, the first rendered
    /// prompt, where each file goes) and exit without generating or writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// With --adaptive: score each round's samples as they come and stop a problem once one of
    /// them scores at least P (the verifier's pick is settled), instead of by votes.
    #[arg(
        long,
        value_name = "P",
        requires = "adaptive",
        help_heading = "Adaptive N"
    )]
    pub adaptive_score: Option<f32>,
}

#[derive(Debug)]
pub struct Settings {
    generate: generate::Settings,
    scorer: ScorerSettings,
    options: SolveOptions,
    paths: SolvePaths,
}

impl Args {
    pub fn resolve(self) -> Result<Settings> {
        let (backend, generate_options) = self.generator.resolve(self.n)?;
        let problems = match self.problems {
            Some(path) => path,
            None => crate::locate::in_project("data/easy-arithmetic.jsonl").ok_or_else(|| {
                Error::Settings(
                    "no --problems given and data/easy-arithmetic.jsonl not found".into(),
                )
            })?,
        };
        // A served verifier is whatever the server serves: no default directory's template or
        // calibration is put on it unasked.
        let verifier = match (self.verifier, self.served_scorer.score_backend) {
            (Some(dir), _) => Some(dir),
            (None, ScorerBackendKind::Onnx) => Some(default_verifier()?),
            (None, _) => None,
        };
        crate::io::ensure_file_family_base(&self.out, "solve")?;
        if let Some(p) = self.adaptive_score.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
            return Err(Error::Settings(format!(
                "--adaptive-score {p} must be in (0, 1]: a probability the best sample must reach"
            )));
        }
        if self.served_scorer.score_backend == ScorerBackendKind::Confidence {
            confidence_needs(&generate_options, self.adaptive_score)?;
        }
        if generate_options.online.is_some() && self.adaptive_score.is_some() {
            return Err(Error::Settings(
                "--adaptive-score and --online-confidence each decide when a problem stops: \
                 choose one"
                    .into(),
            ));
        }
        let strategies = resolve_strategies(&self.strategy, self.k)?;
        // --keep-top is η of the online rule and of confidence-vote alike.
        let votes_by_confidence = strategies
            .iter()
            .any(|s| matches!(s.name(), "confidence-vote" | "online-vote"));
        let vote = crate::rank::args::VoteArgs {
            keep_top: (self.generator.online.keep_top.clone())
                .filter(|_| votes_by_confidence || generate_options.online.is_none()),
            borda: self.borda.clone(),
        };
        let paths = SolvePaths::beside(&self.out);
        let mut inputs = vec![Named::file("--problems", &problems)];
        inputs.extend(backend.reads().map(|(flag, path)| Named::file(flag, path)));
        inputs.extend(verifier.as_deref().map(|dir| Named::dir("--verifier", dir)));
        ensure_distinct(
            &inputs,
            &[
                Named::file("--out", &paths.answers),
                Named::file("--out (its .samples.jsonl)", &paths.samples),
                Named::file("--out (its .labeled.jsonl)", &paths.labeled),
                Named::file("--out (its .scored.jsonl)", &paths.scored),
                Named::dir("--out (its .report)", &paths.report),
            ],
        )?;
        Ok(Settings {
            scorer: self
                .served_scorer
                .choice(verifier, &self.generator.openai.http)
                .resolve(&self.scorer, self.generator.threads)?,
            options: SolveOptions {
                strategies: with_warmup(vote.apply(strategies)?, &generate_options),
                label: self.label.resolve(),
                eval: vote.apply_to_eval(self.eval.resolve(self.generator.sampling.seed)?)?,
                stop_score: self.adaptive_score,
            },
            generate: generate::Settings {
                problems,
                layout: self.layout.0,
                out: paths.samples.clone(),
                dry_run: self.dry_run,
                backend,
                options: generate_options,
            },
            paths,
        })
    }
}

/// online-vote reads the threshold off the run's own warm-up when the run is online.
fn with_warmup(strategies: Vec<Strategy>, generate: &GenerateOptions) -> Vec<Strategy> {
    let Some(online) = &generate.online else {
        return strategies;
    };
    strategies
        .into_iter()
        .map(|strategy| match strategy {
            Strategy::OnlineVote { keep_top, .. } => Strategy::OnlineVote {
                keep_top,
                warmup: online.warmup,
            },
            other => other,
        })
        .collect()
}

/// Scoring by confidence reads what generation records with --token-stats, and its scores are
/// no probabilities for --adaptive-score to compare with.
fn confidence_needs(generate: &GenerateOptions, adaptive_score: Option<f32>) -> Result<()> {
    if generate.params.token_stats.is_none() {
        return Err(Error::Settings(
            "--score-backend confidence reads each sample's token statistics: add --token-stats"
                .into(),
        ));
    }
    if adaptive_score.is_some() {
        return Err(Error::Settings(
            "--adaptive-score is a probability; confidence scores are not: leave it out (or use \
             --adaptive alone)"
                .into(),
        ));
    }
    Ok(())
}

/// `$BESTOFN_VERIFIER`, else the verifier `scripts/demo.sh` trains (out/experiment/verifier).
fn default_verifier() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("BESTOFN_VERIFIER").filter(|d| !d.is_empty()) {
        return Ok(dir.into());
    }
    crate::locate::in_project("out/experiment/verifier/verifier.json")
        .and_then(|file| file.parent().map(std::path::Path::to_owned))
        .ok_or_else(|| {
            Error::ModelLoad(
                "no default verifier yet: run scripts/demo.sh (it trains one into out/experiment/verifier), \
                 set BESTOFN_VERIFIER, or pass --verifier DIR"
                    .into(),
            )
        })
}

/// The plan of a solve run: generation's, the verifier, and every file it writes.
fn dry_run(problems: &[crate::records::Problem], settings: &Settings) -> Result<Outcome> {
    let paths = &settings.paths;
    let outputs = [
        ("samples", paths.samples.as_path()),
        ("labeled samples", paths.labeled.as_path()),
        ("scored samples", paths.scored.as_path()),
        ("answers", paths.answers.as_path()),
        (
            "report (problems with gold answers)",
            paths.report.as_path(),
        ),
    ];
    let plan = generate::plan(problems, &settings.generate, &outputs)?;
    let names: Vec<&str> = settings
        .options
        .strategies
        .iter()
        .map(|s| s.name())
        .collect();
    Ok(Outcome::stdout(format!(
        "verifier    {}\nstrategies  {}\n{plan}",
        settings.scorer.describe(),
        names.join(", ")
    )))
}

pub fn run(settings: &Settings) -> Result<Outcome> {
    let problems = read_problems(&settings.generate.problems, &settings.generate.layout)?;
    if settings.generate.dry_run {
        return dry_run(&problems, settings);
    }
    // Everything that can fail to load does so before generation starts.
    let mut scorer = open_scorer(&settings.scorer)?;
    let backend = open_backend(&settings.generate.backend)?;
    let mut lines = vec![format!(
        "solving {} problems from {} with {} samples each ({} {}), verifier {}",
        problems.len(),
        settings.generate.problems.display(),
        settings.generate.options.n,
        backend.kind(),
        backend.model(),
        settings.scorer.describe()
    )];
    let mut bar: Option<indicatif::ProgressBar> = None;
    let summary = solve(
        backend.as_ref(),
        scorer.as_mut(),
        &problems,
        &settings.paths,
        &settings.generate.options,
        &settings.options,
        &mut |stage, event| match event {
            StageProgress::Start(total) => bar = Some(progress::bar(total, stage_name(stage))),
            StageProgress::Done(done) => {
                if let Some(bar) = &bar {
                    bar.set_position(done);
                }
            }
            StageProgress::Finish => {
                if let Some(bar) = bar.take() {
                    bar.finish_and_clear();
                }
            }
        },
    )?;
    lines.push(summary.generated.to_string());
    lines.push(summary.labeled.to_string());
    lines.push(summary.scored.to_string());
    for (strategy, answers) in &summary.answers {
        lines.push(summary_line(*strategy, answers));
    }
    if let Some(metrics) = &summary.metrics {
        let n = metrics.ks.last().copied().unwrap_or(1);
        if let Some(coverage) = metrics.at(crate::eval::Method::Coverage, n) {
            lines.push(format!(
                "coverage@{n}: {:.1}% of problems have a correct sample",
                100.0 * coverage.mean
            ));
        }
        lines.push(format!(
            "report written to {}",
            settings.paths.report.display()
        ));
    }
    lines.push(format!(
        "answers written to {} (samples: {})",
        settings.paths.answers.display(),
        settings.paths.samples.display()
    ));
    Ok(Outcome::summary(lines.join("\n")))
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Generate => "generating",
        Stage::Label => "labeling",
        Stage::Score => "scoring",
        Stage::Rank => "ranking",
        Stage::Eval => "evaluating",
    }
}
