//! `solve`: generate → label → score → rank (→ eval when the problems have gold answers), the
//! whole pipeline behind one command.
//!
//! Each stage streams over the previous stage's file; the files sit beside the answers file, so a
//! run can be inspected stage by stage, and an interrupted run resumes where generation stopped
//! (later stages are cheap and run again).
//!
//! With adaptive sampling and a score threshold, generation and scoring run as a pipeline: each
//! round's samples are scored as they come (`verifier_stop`), and a problem whose best sample
//! reaches the threshold gets no more.

mod verifier_stop;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::eval::{evaluate, write_report, EvalOptions, Metrics};
use crate::generate::{generate_judged, Backend, GenerateOptions, GenerateSummary, RoundJudge};
use crate::io::{write_jsonl, OutputDir};
use crate::label::{label_file, LabelOptions, LabelSummary};
use crate::pool::build_pools;
use crate::rank::{check_pools, rank, Strategy};
use crate::records::{read_verdicts, Answer, Problem};
use crate::score::{score_file, ScoreStats, Scorer};
use verifier_stop::VerifierStop;

/// The files of one solve run, all derived from the answers file `NAME.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolvePaths {
    pub answers: PathBuf,
    /// NAME.samples.jsonl: the generated samples (append-only, resumable).
    pub samples: PathBuf,
    /// NAME.labeled.jsonl: answers extracted, and graded where the problems have gold answers.
    pub labeled: PathBuf,
    /// NAME.scored.jsonl.
    pub scored: PathBuf,
    /// NAME.report/, when every problem has a gold answer.
    pub report: PathBuf,
}

impl SolvePaths {
    pub fn beside(answers: &Path) -> Self {
        let stem = answers
            .file_stem()
            .map_or_else(|| "answers".into(), |s| s.to_string_lossy().into_owned());
        let sibling = |suffix: &str| answers.with_file_name(format!("{stem}{suffix}"));
        SolvePaths {
            answers: answers.to_owned(),
            samples: sibling(".samples.jsonl"),
            labeled: sibling(".labeled.jsonl"),
            scored: sibling(".scored.jsonl"),
            report: sibling(".report"),
        }
    }
}

/// The stages of a solve run, for progress reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Generate,
    Label,
    Score,
    Rank,
    Eval,
}

/// Progress of a stage: its total work, then units done so far, then the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageProgress {
    Start(Option<u64>),
    Done(u64),
    Finish,
}

#[derive(Debug)]
pub struct SolveSummary {
    pub generated: GenerateSummary,
    pub labeled: LabelSummary,
    pub scored: ScoreStats,
    /// Answers of every strategy, in strategy order.
    pub answers: Vec<(Strategy, Vec<Answer>)>,
    pub metrics: Option<Metrics>,
}

/// The settings of the stages after generation.
#[derive(Debug, Clone)]
pub struct SolveOptions {
    pub strategies: Vec<Strategy>,
    pub label: LabelOptions,
    pub eval: EvalOptions,
    /// With adaptive sampling: a problem is settled once a sample scores at least this.
    pub stop_score: Option<f32>,
}

pub fn solve(
    backend: &dyn Backend,
    scorer: &mut dyn Scorer,
    problems: &[Problem],
    paths: &SolvePaths,
    generate_options: &GenerateOptions,
    options: &SolveOptions,
    progress: &mut dyn FnMut(Stage, StageProgress),
) -> Result<SolveSummary> {
    let _span = tracing::info_span!("solve", problems = problems.len()).entered();
    if problems.is_empty() {
        return Err(Error::Inconsistent("no problems to solve".into()));
    }
    let (generated, early, scored_early) = generate_stage(
        backend,
        scorer,
        problems,
        paths,
        generate_options,
        options.stop_score,
        progress,
    )?;
    progress(Stage::Generate, StageProgress::Finish);
    // What the file holds below --n (with --adaptive, fewer than problems × n).
    let total_samples = (generated.already_present + generated.generated) as u64;

    // Labeling extracts every sample's answer (what the rankers vote on), and grades it where
    // the problem has a gold answer.
    progress(Stage::Label, StageProgress::Start(None));
    let labeled = label_file(
        problems,
        &paths.samples,
        &paths.labeled,
        &options.label,
        false,
        |_, _| Ok(()),
    )?;
    progress(Stage::Label, StageProgress::Finish);
    let to_score = &paths.labeled;

    progress(Stage::Score, StageProgress::Start(Some(total_samples)));
    let mut scored = score_file(scorer, problems, to_score, &paths.scored, false, |n| {
        progress(Stage::Score, StageProgress::Done(n as u64))
    })?;
    // Scores made while generating came from the log, but not from an earlier run.
    scored.resumed = scored.resumed.saturating_sub(scored_early);
    scored.add_work(&early);
    progress(Stage::Score, StageProgress::Finish);

    progress(Stage::Rank, StageProgress::Start(None));
    let set = read_verdicts(&paths.scored, false)?;
    let pools = build_pools(&set.verdicts);
    let mut answers = Vec::new();
    check_pools(&pools, None)?;
    for &strategy in &options.strategies {
        answers.push((strategy, rank(&pools, strategy)?));
    }
    let all: Vec<&Answer> = answers.iter().flat_map(|(_, a)| a).collect();
    write_jsonl(&paths.answers, &all)?;
    progress(Stage::Rank, StageProgress::Finish);

    let metrics = if problems.iter().all(|p| p.answer.is_some()) {
        progress(Stage::Eval, StageProgress::Start(None));
        let mut metrics = evaluate(&pools, &options.eval)?;
        if let Some(compute) = metrics.compute.as_mut() {
            compute.add_stopped(&set.stopped, metrics.problems);
        }
        let report = OutputDir::create(&paths.report)?;
        write_report(&metrics, &paths.scored, &report)?;
        crate::eval::write_problems(&pools, &options.eval, &report)?;
        report.commit()?;
        progress(Stage::Eval, StageProgress::Finish);
        Some(metrics)
    } else {
        None
    };
    Ok(SolveSummary {
        generated,
        labeled,
        scored,
        answers,
        metrics,
    })
}

/// Generation, with the verifier judging each round when adaptive sampling stops by score: what
/// it made, and the scores made while generating (the model's work, how many).
fn generate_stage(
    backend: &dyn Backend,
    scorer: &mut dyn Scorer,
    problems: &[Problem],
    paths: &SolvePaths,
    generate_options: &GenerateOptions,
    stop_score: Option<f32>,
    progress: &mut dyn FnMut(Stage, StageProgress),
) -> Result<(GenerateSummary, ScoreStats, usize)> {
    let mut done = 0;
    let mut on_sample = |event| match event {
        crate::generate::Progress::Planned(total) => {
            progress(Stage::Generate, StageProgress::Start(Some(total as u64)))
        }
        crate::generate::Progress::Sample => {
            done += 1;
            progress(Stage::Generate, StageProgress::Done(done))
        }
    };
    let mut stop = match stop_score {
        Some(threshold) if generate_options.adaptive.is_some() => Some(VerifierStop::open(
            scorer,
            problems,
            &paths.scored,
            threshold,
        )?),
        _ => None,
    };
    let generated = generate_judged(
        backend,
        problems,
        &paths.samples,
        generate_options,
        stop.as_mut().map(|stop| stop as &mut dyn RoundJudge),
        &mut on_sample,
    );
    // The log's lock released for the score stage (an error of generation goes first).
    let finished = stop.map(VerifierStop::finish).transpose();
    let generated = generated?;
    let (early, scored_early) = finished?.unwrap_or_default();
    Ok((generated, early, scored_early))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_files_sit_beside_the_answers() {
        let paths = SolvePaths::beside(Path::new("out/solve/answers.jsonl"));
        assert_eq!(paths.samples, Path::new("out/solve/answers.samples.jsonl"));
        assert_eq!(paths.scored, Path::new("out/solve/answers.scored.jsonl"));
        assert_eq!(paths.report, Path::new("out/solve/answers.report"));
    }
}
