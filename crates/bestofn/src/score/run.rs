//! The scoring driver: streams a samples file through a [`Scorer`] in chunks, takes what the
//! scoring log of an interrupted run holds, checks that every score is a probability, logs the
//! new ones (so a killed run resumes) and writes the samples back in input order.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use super::log::{fingerprint, log_path, ScoreLog};
use super::scorer::{Pair, PairScore, ScoreStats, Scored, Scorer};
use crate::error::{Error, Result};
use crate::io::OutputFile;
use crate::records::{map_samples, Problem, ReadOptions, Sample, SCORE_KIND, SCORE_TOKENS};

/// Scores a samples file into `out`, streaming. Every field of every sample is kept; `score`
/// is set. Where `out` is a file, each score is also logged beside it as it comes (see
/// [`ScoreLog`]), and a run of the same command after a crash scores only what is missing.
/// `progress` is told how many samples were written after each chunk.
pub fn score_file(
    scorer: &mut dyn Scorer,
    problems: &[Problem],
    samples_path: &Path,
    out: &Path,
    skip_invalid: bool,
    progress: impl FnMut(usize),
) -> Result<ScoreStats> {
    let _span = tracing::info_span!("score", path = %samples_path.display()).entered();
    let started = Instant::now();
    let mut log = match crate::io::replaced_file(out)? {
        Some(destination) => Some(ScoreLog::open(&log_path(&destination), scorer.id())?),
        None => None,
    };
    if let Some(log) = log.as_ref().filter(|log| !log.is_empty()) {
        tracing::info!(
            "resuming: {} scores of this verifier in {}",
            log.len(),
            log.path().display()
        );
    }
    let mut output = OutputFile::create(out)?;
    let mut stats = ScoreStats::default();
    let scored = score_chunks(
        scorer,
        problems,
        samples_path,
        skip_invalid,
        log.as_mut(),
        &mut output,
        &mut stats,
        progress,
    );
    if let Err(error) = scored {
        return Err(stopped(log, error));
    }
    if stats.samples == 0 {
        let error = Error::Inconsistent(format!(
            "{}: no sample could be scored ({} skipped)",
            samples_path.display(),
            stats.skipped
        ));
        return Err(stopped(log, error));
    }
    output.commit()?;
    if let Some(log) = log {
        log.remove()?;
    }
    stats.total_time = started.elapsed();
    Ok(stats)
}

/// The error of a run that stopped: with the scores its log keeps, or without the log when it
/// holds none.
fn stopped(log: Option<ScoreLog>, error: Error) -> Error {
    match log {
        Some(log) if !log.is_empty() => Error::Stopped {
            kept: log.len(),
            what: "scores",
            path: log.path().to_owned(),
            resumable: error.rerun_may_help(),
            source: Box::new(error),
        },
        Some(log) => match log.remove() {
            Ok(()) => error,
            Err(removing) => {
                tracing::warn!("{removing}");
                error
            }
        },
        None => error,
    }
}

/// Reads the samples in the scorer's chunks, scores what the log does not hold, logs the new
/// scores and writes every sample with its score, in input order.
#[allow(clippy::too_many_arguments)]
fn score_chunks(
    scorer: &mut dyn Scorer,
    problems: &[Problem],
    samples_path: &Path,
    skip_invalid: bool,
    mut log: Option<&mut ScoreLog>,
    output: &mut OutputFile,
    stats: &mut ScoreStats,
    mut progress: impl FnMut(usize),
) -> Result<()> {
    let questions: HashMap<&str, &str> = problems
        .iter()
        .map(|p| (p.id.as_str(), p.question.as_str()))
        .collect();
    let read = map_samples(
        samples_path,
        ReadOptions {
            chunk_lines: scorer.chunk_size(),
            keep_stopped: true,
            ..ReadOptions::new(skip_invalid)
        },
        |sample: Sample, line| match questions.get(sample.problem_id.as_str()) {
            Some(&question) => Ok((line, question, sample)),
            None => Err(Error::input(
                samples_path,
                line,
                Some("problem_id"),
                format!(
                    "problem {:?} is not in the problems file; the verifier needs its question",
                    sample.problem_id
                ),
            )),
        },
        |chunk| {
            let keyed: Vec<KeyedPair> = chunk
                .iter()
                .filter(|(_, _, sample)| !sample.stopped_early())
                .map(|(_, question, sample)| {
                    KeyedPair::new(
                        &sample.problem_id,
                        sample.sample_idx,
                        question,
                        &sample.text,
                    )
                    .with_tokens(sample.extra.get("tokens"))
                })
                .collect();
            let through = score_through_log(scorer, log.as_deref_mut(), &keyed, stats)?;
            stats.resumed += through.from_log;
            let mut scores = through.scores.into_iter();
            let kind = scorer.score_kind().map(str::to_owned);
            for (line, _, mut sample) in chunk {
                // A trace stopped mid-generation is no solution to score: written as it came.
                if sample.stopped_early() {
                    output.write_json_line(&sample)?;
                    stats.stopped += 1;
                    continue;
                }
                let score = scores.next().expect("a score per finished trace");
                let scored = match score {
                    Ok(scored) if kind.is_some() => checked_finite(scored, samples_path, line)?,
                    Ok(scored) => checked_probability(scored, samples_path, line, &sample)?,
                    Err(_) if skip_invalid => {
                        stats.skipped += 1;
                        continue;
                    }
                    Err(why) => {
                        return Err(Error::input(samples_path, line, Some(scorer.reads()), why))
                    }
                };
                sample.score = Some(scored.score);
                sample.step_scores = scored.steps;
                sample.uncalibrated_score = scored.uncalibrated;
                match scored.tokens {
                    Some(tokens) => sample.extra.insert(SCORE_TOKENS.into(), tokens.into()),
                    None => sample.extra.shift_remove(SCORE_TOKENS),
                };
                match &kind {
                    Some(kind) => sample.extra.insert(SCORE_KIND.into(), kind.clone().into()),
                    None => sample.extra.shift_remove(SCORE_KIND),
                };
                output.write_json_line(&sample)?;
                stats.samples += 1;
            }
            progress(stats.samples);
            Ok(())
        },
    )?;
    stats.skipped += read.skipped;
    Ok(())
}

/// A pair with the key the scoring log knows it by.
pub(crate) struct KeyedPair<'a> {
    pub problem_id: &'a str,
    pub sample_idx: u32,
    pub pair: Pair<'a>,
}

impl<'a> KeyedPair<'a> {
    /// Sample `sample_idx` of `problem_id`: `solution` as the answer to `question`.
    pub fn new(problem_id: &'a str, sample_idx: u32, question: &'a str, solution: &'a str) -> Self {
        KeyedPair {
            problem_id,
            sample_idx,
            pair: Pair {
                question,
                solution,
                tokens: None,
            },
        }
    }

    /// The same pair with the sample's recorded token statistics.
    pub fn with_tokens(mut self, tokens: Option<&'a serde_json::Value>) -> Self {
        self.pair.tokens = tokens;
        self
    }
}

/// What [`score_through_log`] found: one result per pair, in order.
pub(crate) struct ThroughLog {
    pub scores: Vec<PairScore>,
    /// Results taken from the log.
    pub from_log: usize,
    /// New probabilities added to the log.
    pub logged: usize,
}

/// Scores `pairs`: from the log where it holds this verifier's score of the same input, else
/// from the scorer; new probabilities are logged and the log synced.
pub(crate) fn score_through_log(
    scorer: &mut dyn Scorer,
    mut log: Option<&mut ScoreLog>,
    pairs: &[KeyedPair<'_>],
    stats: &mut ScoreStats,
) -> Result<ThroughLog> {
    let inputs: Vec<String> = pairs
        .iter()
        .map(|p| fingerprint(p.pair.question, p.pair.solution))
        .collect();
    let mut scores: Vec<Option<PairScore>> = pairs
        .iter()
        .zip(&inputs)
        .map(|(p, input)| {
            let logged = log.as_ref()?.score(p.problem_id, p.sample_idx, input);
            logged.map(Ok)
        })
        .collect();
    let missing: Vec<usize> = (0..pairs.len()).filter(|&i| scores[i].is_none()).collect();
    let mut logged = 0;
    if !missing.is_empty() {
        let asked: Vec<Pair> = missing.iter().map(|&i| pairs[i].pair).collect();
        for (&i, score) in missing.iter().zip(scorer.score(&asked, stats)?) {
            if let (Some(log), Ok(scored)) = (log.as_deref_mut(), &score) {
                if scored.is_probability() {
                    let p = &pairs[i];
                    log.add(
                        p.problem_id,
                        p.sample_idx,
                        inputs[i].clone(),
                        scored.clone(),
                    );
                    logged += 1;
                }
            }
            scores[i] = Some(score);
        }
    }
    if let Some(log) = log {
        log.sync()?;
    }
    Ok(ThroughLog {
        from_log: pairs.len() - missing.len(),
        scores: scores
            .into_iter()
            .map(|score| score.expect("every pair has a result"))
            .collect(),
        logged,
    })
}

/// A score that is not a probability must still be a number.
fn checked_finite(scored: Scored, path: &Path, line: usize) -> Result<Scored> {
    if scored.score.is_finite() {
        return Ok(scored);
    }
    Err(Error::ModelRun(format!(
        "{}:{line}: the scorer gave {}, not a number",
        path.display(),
        scored.score
    )))
}

/// A verifier's output must be a probability: NaN or a value outside [0, 1] means a broken model
/// or a wrong `output.type` in verifier.json, never a score to rank by.
fn checked_probability(
    scored: Scored,
    path: &Path,
    line: usize,
    sample: &Sample,
) -> Result<Scored> {
    if scored.is_probability() {
        return Ok(scored);
    }
    let given = match &scored.steps {
        Some(steps) => format!("step scores {steps:?}"),
        None => scored.score.to_string(),
    };
    Err(Error::ModelRun(format!(
        "{}:{line}: the verifier gave {given} for sample {} of problem {:?}, which is not a \
         probability (a broken model, or `output.type: probability` on a model that gives logits)",
        path.display(),
        sample.sample_idx,
        sample.problem_id
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_probabilities_pass() {
        let sample = Sample {
            problem_id: "p".into(),
            sample_idx: 3,
            text: String::new(),
            extracted: None,
            correct: None,
            score: None,
            step_scores: None,
            uncalibrated_score: None,
            extra: Default::default(),
        };
        let path = Path::new("s.jsonl");
        let fine = Scored::solution(0.25);
        assert_eq!(
            checked_probability(fine.clone(), path, 1, &sample).unwrap(),
            fine
        );
        let steps = Scored::steps(vec![0.5, 0.75]);
        assert_eq!(steps.score, 0.75);
        assert!(checked_probability(steps, path, 1, &sample).is_ok());
        let bad_scores = [f32::NAN, -0.1, 1.5, f32::INFINITY].map(Scored::solution);
        let bad_step = Scored::steps(vec![f32::NAN, 0.5]);
        for bad in bad_scores.into_iter().chain([bad_step]) {
            let error = checked_probability(bad, path, 7, &sample).unwrap_err();
            assert_eq!(error.exit_code(), 70);
            assert!(
                error
                    .to_string()
                    .starts_with("s.jsonl:7: the verifier gave"),
                "{error}"
            );
        }
    }
}
