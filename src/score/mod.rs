//! The `score` stage: fill every sample's `score` with a verifier's probability of being
//! correct.
//!
//! The seam is text-level: a [`Scorer`] takes (question, solution) pairs and returns
//! probabilities, so an in-process ONNX model and a verifier served over HTTP plug in the same
//! way. [`open_scorer`] is the one place that chooses the backend. The driver streams the samples
//! file in chunks, hands each chunk to the scorer, checks that every score is a probability, and
//! writes the samples back in input order.

pub mod args;
mod onnx;
mod session;
mod spec;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use onnx::{plan_batches, OnnxScorer};
pub use session::{find_library, Device, Inputs, OnnxModel};
pub use spec::{InputTemplate, OutputKind, Side, TooLong, VerifierSpec};

use crate::error::{Error, Result};
use crate::io::OutputFile;
use crate::records::{map_samples, Problem, ReadOptions, Sample};

/// One input to a verifier.
#[derive(Debug, Clone, Copy)]
pub struct Pair<'a> {
    pub question: &'a str,
    pub solution: &'a str,
}

/// A pair's probability of being correct, or why this pair cannot be scored (too long, ...).
pub type PairScore = std::result::Result<f32, String>;

/// A verifier: (question, solution) pairs in, probabilities out.
pub trait Scorer {
    /// What identifies the verifier (a directory, a served model).
    fn id(&self) -> &str;
    /// One result per pair, in order. `Err` fails the whole call (the model or server failed).
    fn score(&mut self, pairs: &[Pair<'_>], stats: &mut ScoreStats) -> Result<Vec<PairScore>>;
}

/// Which verifier to run, and where.
#[derive(Debug, Clone)]
pub struct ScorerSettings {
    /// Verifier directory: model.onnx, tokenizer.json, verifier.json.
    pub verifier: PathBuf,
    pub options: ScoreOptions,
}

/// Builds the chosen scorer (the one place that knows the backends and their cargo features).
pub fn open_scorer(settings: &ScorerSettings) -> Result<Box<dyn Scorer>> {
    let scorer = OnnxScorer::load(&settings.verifier, &settings.options)
        .map_err(|e| e.loading(&format!("the verifier {}", settings.verifier.display())))?;
    Ok(Box::new(scorer))
}

/// Where and how to run a verifier.
#[derive(Debug, Clone)]
pub struct ScoreOptions {
    /// ONNX Runtime library; found by [`find_library`] when `None`.
    pub ort_library: Option<PathBuf>,
    /// Intra-op threads of the ONNX Runtime session.
    pub threads: usize,
    pub device: Device,
    /// Most tokens (rows × padded length) in one batch.
    pub token_budget: usize,
    /// Most rows in one batch.
    pub max_batch: usize,
    /// Overrides verifier.json's `too_long`.
    pub too_long: Option<TooLong>,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions {
            ort_library: None,
            threads: crate::default_threads(),
            device: Device::Cpu,
            token_budget: 8192,
            max_batch: 128,
            too_long: None,
        }
    }
}

/// Throughput figures of a scoring run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ScoreStats {
    pub samples: usize,
    pub batches: usize,
    /// Real tokens, and padded tokens actually fed to the model.
    pub tokens: usize,
    pub padded_tokens: usize,
    /// Samples whose input was truncated to max_length.
    pub truncated: usize,
    pub skipped: usize,
    #[serde(skip)]
    pub model_time: Duration,
    #[serde(skip)]
    pub total_time: Duration,
}

impl ScoreStats {
    /// Share of the model's input that was padding.
    pub fn padding_share(&self) -> f64 {
        if self.padded_tokens == 0 {
            0.0
        } else {
            1.0 - self.tokens as f64 / self.padded_tokens as f64
        }
    }
}

impl std::fmt::Display for ScoreStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seconds = self.total_time.as_secs_f64().max(1e-9);
        write!(
            f,
            "scored {} samples in {} batches: {:.0} samples/s, {:.0} tokens/s, padding {:.1}%, {} truncated, model {:.1} s of {:.1} s",
            self.samples,
            self.batches,
            self.samples as f64 / seconds,
            self.tokens as f64 / seconds,
            100.0 * self.padding_share(),
            self.truncated,
            self.model_time.as_secs_f64(),
            seconds
        )?;
        if self.skipped > 0 {
            write!(f, "\nskipped {} invalid lines", self.skipped)?;
        }
        Ok(())
    }
}

/// Lines scored together: enough to sort into well-filled batches, few enough to stream.
const CHUNK_LINES: usize = 2048;

/// Scores a samples file into `out`, streaming. Every field of every sample is kept; `score`
/// is set. `progress` is told how many samples were written after each chunk.
pub fn score_file(
    scorer: &mut dyn Scorer,
    problems: &[Problem],
    samples_path: &Path,
    out: &Path,
    skip_invalid: bool,
    mut progress: impl FnMut(usize),
) -> Result<ScoreStats> {
    let _span = tracing::info_span!("score", path = %samples_path.display()).entered();
    let started = Instant::now();
    let questions: HashMap<&str, &str> = problems
        .iter()
        .map(|p| (p.id.as_str(), p.question.as_str()))
        .collect();
    let mut output = OutputFile::create(out)?;
    let mut stats = ScoreStats::default();
    let read = map_samples(
        samples_path,
        ReadOptions {
            skip_invalid,
            chunk_lines: CHUNK_LINES,
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
            let pairs: Vec<Pair> = chunk
                .iter()
                .map(|(_, question, sample)| Pair {
                    question,
                    solution: &sample.text,
                })
                .collect();
            let scores = scorer.score(&pairs, &mut stats)?;
            for ((line, _, mut sample), score) in chunk.into_iter().zip(scores) {
                let score = match score {
                    Ok(score) => checked_probability(score, samples_path, line, &sample)?,
                    Err(_) if skip_invalid => {
                        stats.skipped += 1;
                        continue;
                    }
                    Err(why) => return Err(Error::input(samples_path, line, Some("text"), why)),
                };
                sample.score = Some(score);
                output.write_json_line(&sample)?;
                stats.samples += 1;
            }
            progress(stats.samples);
            Ok(())
        },
    )?;
    if stats.samples == 0 {
        return Err(Error::Inconsistent(format!(
            "{}: no sample could be scored ({} skipped)",
            samples_path.display(),
            stats.skipped
        )));
    }
    output.commit()?;
    stats.skipped += read.skipped;
    stats.total_time = started.elapsed();
    Ok(stats)
}

/// A verifier's output must be a probability: NaN or a value outside [0, 1] means a broken model
/// or a wrong `output.type` in verifier.json, never a score to rank by.
fn checked_probability(score: f32, path: &Path, line: usize, sample: &Sample) -> Result<f32> {
    if (0.0..=1.0).contains(&score) {
        return Ok(score);
    }
    Err(Error::ModelRun(format!(
        "{}:{line}: the verifier gave {score} for sample {} of problem {:?}, which is not a \
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
            extra: Default::default(),
        };
        let path = Path::new("s.jsonl");
        assert_eq!(checked_probability(0.25, path, 1, &sample).unwrap(), 0.25);
        for bad in [f32::NAN, -0.1, 1.5, f32::INFINITY] {
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
