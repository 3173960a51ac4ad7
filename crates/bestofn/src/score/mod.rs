//! The `score` stage: fill every sample's `score` with a verifier's probability of being
//! correct.
//!
//! The seam is text-level: a [`Scorer`] takes (question, solution) pairs and returns
//! probabilities, so an in-process ONNX model and a verifier served over HTTP (vLLM, TEI,
//! SGLang) plug in the same way. [`open_scorer`] is the one place that chooses the backend. The
//! driver streams the samples file in chunks, hands each chunk to the scorer, checks that every
//! score is a probability, logs it (so a killed run resumes) and writes the samples back in
//! input order.

pub mod args;
mod log;
mod onnx;
mod remote;
mod session;
mod sglang;
mod spec;
mod tei;
mod vllm;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use log::{fingerprint, log_path, ScoreLog};
pub use onnx::{plan_batches, OnnxScorer};
pub use remote::{Protocol, RemoteOptions, RemoteScorer, Served};
pub use session::{find_library, Device, Inputs, OnnxModel};
pub use sglang::Sglang;
pub use spec::{
    InputTemplate, OutputKind, Per, PlattScaling, Side, StepFormat, TooLong, VerifierSpec,
};
pub use tei::{Tei, TeiApi};
pub use vllm::{Truncation, Vllm, VllmApi};

use crate::error::{Error, Result};
use crate::io::OutputFile;
use crate::records::{map_samples, Problem, ReadOptions, Sample};

/// One input to a verifier.
#[derive(Debug, Clone, Copy)]
pub struct Pair<'a> {
    pub question: &'a str,
    pub solution: &'a str,
}

/// What a verifier says of one solution.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scored {
    /// P(correct); for a process reward model, its last step's.
    pub score: f32,
    /// A process reward model's P(step is right) for each step, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<f32>>,
    /// `score` before calibration, when the verifier was calibrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncalibrated: Option<f32>,
}

impl Scored {
    pub fn solution(score: f32) -> Self {
        Scored {
            score,
            steps: None,
            uncalibrated: None,
        }
    }

    /// Step scores (at least one); the solution's score is the last step's.
    pub fn steps(steps: Vec<f32>) -> Self {
        Scored {
            score: steps.last().copied().unwrap_or(f32::NAN),
            steps: Some(steps),
            uncalibrated: None,
        }
    }

    /// Every value a probability (NaN or a value outside [0, 1] is a broken model).
    pub(crate) fn is_probability(&self) -> bool {
        let ok = |v: &f32| (0.0..=1.0).contains(v);
        ok(&self.score) && self.steps.iter().flatten().all(ok) && self.uncalibrated.iter().all(ok)
    }
}

/// A pair's scores, or why this pair cannot be scored (too long, ...).
pub type PairScore = std::result::Result<Scored, String>;

/// A verifier: (question, solution) pairs in, probabilities out.
pub trait Scorer {
    /// What identifies the verifier (a directory, a served model).
    fn id(&self) -> &str;
    /// One result per pair, in order. `Err` fails the whole call (the model or server failed).
    fn score(&mut self, pairs: &[Pair<'_>], stats: &mut ScoreStats) -> Result<Vec<PairScore>>;
    /// Pairs per call: what it takes to batch well (the scores of a call are logged together).
    fn chunk_size(&self) -> usize {
        CHUNK_LINES
    }
}

/// Which verifier to run, and where.
#[derive(Debug, Clone)]
pub enum ScorerSettings {
    /// In process: a verifier directory (model.onnx, tokenizer.json, verifier.json).
    Onnx {
        verifier: PathBuf,
        options: ScoreOptions,
    },
    /// Served by an engine over HTTP.
    Remote {
        engine: Engine,
        options: RemoteOptions,
    },
}

/// A serving engine's endpoint.
#[derive(Debug, Clone)]
pub enum Engine {
    Vllm(Vllm),
    Tei(Tei),
    Sglang(Sglang),
}

impl ScorerSettings {
    /// The verifier in words, for logs.
    pub fn describe(&self) -> String {
        match self {
            ScorerSettings::Onnx { verifier, .. } => verifier.display().to_string(),
            ScorerSettings::Remote { engine, options } => {
                format!("{} at {}", engine.id(), options.base_urls.join(", "))
            }
        }
    }
}

impl Engine {
    /// What identifies the served verifier in the scoring log: engine, endpoint, model and
    /// what shapes the input (not the URL: the same model on another replica gives the same
    /// scores).
    fn id(&self) -> String {
        match self {
            Engine::Vllm(vllm) => match &vllm.api {
                VllmApi::Score => format!("vllm /score {}", vllm.model),
                VllmApi::Classify { template } => format!(
                    "vllm /classify {} template {}",
                    vllm.model,
                    fingerprint(template, "")
                ),
                VllmApi::Pooling { template, steps } => format!(
                    "vllm /pooling {} template {} steps {}",
                    vllm.model,
                    fingerprint(template, ""),
                    steps.id()
                ),
            },
            Engine::Tei(tei) => match &tei.api {
                TeiApi::Predict { label } => format!("tei /predict label {label:?}"),
                TeiApi::Rerank => "tei /rerank".to_owned(),
            },
            Engine::Sglang(sglang) => format!(
                "sglang /classify {} template {}",
                sglang.model,
                fingerprint(&sglang.template, "")
            ),
        }
    }
}

/// Builds the chosen scorer (the one place that knows the backends and their cargo features).
pub fn open_scorer(settings: &ScorerSettings) -> Result<Box<dyn Scorer>> {
    match settings {
        ScorerSettings::Onnx { verifier, options } => {
            let scorer = OnnxScorer::load(verifier, options)
                .map_err(|e| e.loading(&format!("the verifier {}", verifier.display())))?;
            Ok(Box::new(scorer))
        }
        ScorerSettings::Remote { engine, options } => {
            let protocol: Box<dyn Protocol> = match engine.clone() {
                Engine::Vllm(vllm) => Box::new(vllm),
                Engine::Tei(tei) => Box::new(tei),
                Engine::Sglang(sglang) => Box::new(sglang),
            };
            let calibrated = options.calibration.map_or_else(String::new, |c| {
                format!(" calibrated {} {}", c.scale, c.shift)
            });
            Ok(Box::new(RemoteScorer::new(
                format!("{}{calibrated}", engine.id()),
                protocol,
                options.clone(),
            )))
        }
    }
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
    /// Apply verifier.json's calibration (when it has one).
    pub calibrate: bool,
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
            calibrate: true,
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
    /// Scores taken from the log of an interrupted run.
    pub resumed: usize,
    #[serde(skip)]
    pub model_time: Duration,
    #[serde(skip)]
    pub total_time: Duration,
}

impl ScoreStats {
    /// Adds the model's work of `other` (batches, tokens, time), not its samples.
    pub fn add_work(&mut self, other: &ScoreStats) {
        self.batches += other.batches;
        self.tokens += other.tokens;
        self.padded_tokens += other.padded_tokens;
        self.truncated += other.truncated;
        self.model_time += other.model_time;
        self.total_time += other.total_time;
    }

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
        if self.resumed > 0 {
            write!(
                f,
                "\n{} scores came from the log of an earlier run",
                self.resumed
            )?;
        }
        if self.skipped > 0 {
            write!(f, "\nskipped {} invalid lines", self.skipped)?;
        }
        Ok(())
    }
}

/// Lines scored together: enough to sort into well-filled batches, few enough to stream.
const CHUNK_LINES: usize = 2048;

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
            resumable: !matches!(error, Error::Rejected(_) | Error::Input { .. }),
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
            skip_invalid,
            chunk_lines: scorer.chunk_size(),
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
                .map(|(_, question, sample)| KeyedPair {
                    problem_id: &sample.problem_id,
                    sample_idx: sample.sample_idx,
                    pair: Pair {
                        question,
                        solution: &sample.text,
                    },
                })
                .collect();
            let through = score_through_log(scorer, log.as_deref_mut(), &keyed, stats)?;
            stats.resumed += through.from_log;
            let scores = through.scores;
            for ((line, _, mut sample), score) in chunk.into_iter().zip(scores) {
                let scored = match score {
                    Ok(scored) => checked_probability(scored, samples_path, line, &sample)?,
                    Err(_) if skip_invalid => {
                        stats.skipped += 1;
                        continue;
                    }
                    Err(why) => return Err(Error::input(samples_path, line, Some("text"), why)),
                };
                sample.score = Some(scored.score);
                sample.step_scores = scored.steps;
                sample.uncalibrated_score = scored.uncalibrated;
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
