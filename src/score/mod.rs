//! The `score` stage: fill every sample's `score` with the verifier's probability of being correct.
//!
//! Samples stream through in chunks: lines are parsed and tokenized in parallel, sorted by token
//! length and cut into batches under a token budget (so padding stays small), run through the
//! backend, and written back in input order.

mod onnx;
mod spec;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

pub(crate) use onnx::open_session;
pub use onnx::{find_library, Device, OnnxBackend};
pub use spec::{InputTemplate, OutputKind, Side, TooLong, VerifierSpec};

use crate::error::{Error, Result};
use crate::io::{for_each_chunk, AtomicFile};
use crate::records::{duplicate_error, parse_sample_line, Problem, Sample};

/// One padded batch of token ids, row-major `[rows, columns]`.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub rows: usize,
    pub columns: usize,
    pub input_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    pub token_type_ids: Vec<i64>,
}

/// Something that turns token batches into one logit (or probability) per row.
pub trait Backend {
    fn logits(&mut self, batch: Batch) -> Result<Vec<f32>>;
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

/// The spec and the tokenizer configured from it: turns pairs into model inputs (shareable
/// across threads, unlike a backend).
pub struct Encoder {
    pub spec: VerifierSpec,
    tokenizer: Tokenizer,
    /// For a pair whose question alone exceeds max_length, where cutting only the solution
    /// cannot fit it: truncates the longer of the two first.
    fallback: Tokenizer,
}

impl Encoder {
    /// Tokenizes one pair as the model sees it.
    pub fn encode(&self, question: &str, solution: &str) -> Result<Encoded> {
        let encoding = self
            .tokenizer
            .encode_fast(self.spec.input(question, solution), true)
            .or_else(|_| {
                self.fallback
                    .encode_fast(self.spec.input(question, solution), true)
            })
            .map_err(|e| Error::ModelRun(format!("tokenizing: {e}")))?;
        let truncated = encoding.get_overflowing().iter().map(|o| o.len()).sum();
        Ok(Encoded {
            ids: encoding.get_ids().to_vec(),
            type_ids: encoding.get_type_ids().to_vec(),
            truncated,
        })
    }
}

/// A loaded verifier: an [`Encoder`] and a backend.
pub struct Verifier {
    pub encoder: Encoder,
    backend: Box<dyn Backend>,
    too_long: TooLong,
    token_budget: usize,
    max_batch: usize,
}

/// One tokenized (question, solution) pair.
#[derive(Debug, Clone)]
pub struct Encoded {
    ids: Vec<u32>,
    type_ids: Vec<u32>,
    /// Tokens cut by truncation.
    truncated: usize,
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

impl Verifier {
    /// Loads a verifier directory with the in-process ONNX Runtime backend.
    pub fn load(directory: &Path, options: &ScoreOptions) -> Result<Self> {
        let _span = tracing::info_span!("load_verifier", dir = %directory.display()).entered();
        let spec = VerifierSpec::load(directory)?;
        let library = find_library(options.ort_library.as_deref())?;
        let backend =
            OnnxBackend::load(directory, &spec, &library, options.threads, options.device)?;
        Self::with_backend(directory, spec, Box::new(backend), options)
    }

    /// A verifier whose model runs in `backend` (tokenization and batching stay here).
    pub fn with_backend(
        directory: &Path,
        spec: VerifierSpec,
        backend: Box<dyn Backend>,
        options: &ScoreOptions,
    ) -> Result<Self> {
        let path = directory.join("tokenizer.json");
        let configured = |strategy| -> Result<Tokenizer> {
            let mut tokenizer = Tokenizer::from_file(&path)
                .map_err(|e| Error::ModelLoad(format!("{}: {e}", path.display())))?;
            // A tokenizer.json may carry its own truncation and padding: set both explicitly.
            tokenizer
                .with_truncation(Some(TruncationParams {
                    max_length: spec.max_length,
                    strategy,
                    direction: match spec.truncation_side {
                        Side::Left => TruncationDirection::Left,
                        Side::Right => TruncationDirection::Right,
                    },
                    stride: 0,
                }))
                .map_err(|e| Error::ModelLoad(format!("{}: {e}", path.display())))?;
            tokenizer.with_padding(None);
            Ok(tokenizer)
        };
        let tokenizer = configured(match spec.input {
            InputTemplate::Pair => TruncationStrategy::OnlySecond,
            InputTemplate::Template { .. } => TruncationStrategy::LongestFirst,
        })?;
        let fallback = configured(TruncationStrategy::LongestFirst)?;
        if options.token_budget < spec.max_length || options.max_batch == 0 {
            return Err(Error::Settings(format!(
                "the token budget ({}) must hold at least one input of max_length {}, and a batch at least one row",
                options.token_budget, spec.max_length
            )));
        }
        Ok(Verifier {
            too_long: options.too_long.unwrap_or(spec.too_long),
            encoder: Encoder {
                spec,
                tokenizer,
                fallback,
            },
            backend,
            token_budget: options.token_budget,
            max_batch: options.max_batch,
        })
    }

    /// Probability of being correct for each encoded pair, in input order.
    pub fn probabilities(
        &mut self,
        encoded: &[Encoded],
        stats: &mut ScoreStats,
    ) -> Result<Vec<f32>> {
        let mut order: Vec<usize> = (0..encoded.len()).collect();
        order.sort_by_key(|&i| encoded[i].ids.len());
        let mut scores = vec![0f32; encoded.len()];
        let mut start = 0;
        while start < order.len() {
            // Sorted by length, the last row of a batch is its longest.
            let mut end = start + 1;
            while end < order.len()
                && end - start < self.max_batch
                && (end - start + 1) * encoded[order[end]].ids.len() <= self.token_budget
            {
                end += 1;
            }
            let rows = &order[start..end];
            let batch = self.pad(rows.iter().map(|&i| &encoded[i]));
            stats.batches += 1;
            stats.tokens += rows.iter().map(|&i| encoded[i].ids.len()).sum::<usize>();
            stats.padded_tokens += batch.rows * batch.columns;
            let started = Instant::now();
            let logits = self.backend.logits(batch)?;
            stats.model_time += started.elapsed();
            for (&i, logit) in rows.iter().zip(logits) {
                scores[i] = match self.encoder.spec.output.kind {
                    OutputKind::Logit => 1.0 / (1.0 + (-logit).exp()),
                    OutputKind::Probability => logit,
                };
            }
            start = end;
        }
        Ok(scores)
    }

    fn pad<'a>(&self, rows: impl ExactSizeIterator<Item = &'a Encoded> + Clone) -> Batch {
        let count = rows.len();
        let columns = rows.clone().map(|e| e.ids.len()).max().unwrap_or(0);
        let mut batch = Batch {
            rows: count,
            columns,
            input_ids: vec![self.encoder.spec.pad_token_id; count * columns],
            attention_mask: vec![0; count * columns],
            token_type_ids: vec![0; count * columns],
        };
        for (r, e) in rows.enumerate() {
            let base = r * columns;
            for (c, (&id, &ty)) in e.ids.iter().zip(&e.type_ids).enumerate() {
                batch.input_ids[base + c] = i64::from(id);
                batch.attention_mask[base + c] = 1;
                batch.token_type_ids[base + c] = i64::from(ty);
            }
        }
        batch
    }
}

/// Lines scored together: enough to sort into well-filled batches, few enough to stream.
const CHUNK_LINES: usize = 2048;

/// Scores a samples file into `out`, streaming. Every field of every sample is kept; `score`
/// is set. `progress` is told how many samples were written after each chunk.
pub fn score_file(
    verifier: &mut Verifier,
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
    let mut output = AtomicFile::create(out)?;
    let mut stats = ScoreStats::default();
    let mut seen: HashMap<(String, u32), usize> = HashMap::new();
    let too_long = verifier.too_long;
    let max_length = verifier.encoder.spec.max_length;
    for_each_chunk(samples_path, CHUNK_LINES, |chunk| {
        let encoder = &verifier.encoder;
        let parsed: Vec<Result<(Sample, Encoded)>> = chunk
            .par_iter()
            .map(|(line, text)| {
                let sample = parse_sample_line(samples_path, *line, text)?;
                let question = questions.get(sample.problem_id.as_str()).ok_or_else(|| {
                    Error::input(
                        samples_path,
                        *line,
                        Some("problem_id"),
                        format!(
                            "problem {:?} is not in the problems file; the verifier needs its question",
                            sample.problem_id
                        ),
                    )
                })?;
                let encoded = encoder.encode(question, &sample.text)?;
                if encoded.truncated > 0 && too_long == TooLong::Error {
                    return Err(Error::input(
                        samples_path,
                        *line,
                        Some("text"),
                        format!(
                            "question and solution are {} tokens, over the verifier's max_length {max_length} (too_long = \"error\"; use --too-long truncate to cut)",
                            encoded.ids.len() + encoded.truncated
                        ),
                    ));
                }
                Ok((sample, encoded))
            })
            .collect();
        let mut samples = Vec::with_capacity(parsed.len());
        let mut encoded = Vec::with_capacity(parsed.len());
        for ((line, _), result) in chunk.iter().zip(parsed) {
            match result {
                Ok((sample, e)) => {
                    let key = (sample.problem_id.clone(), sample.sample_idx);
                    if let Some(&first) = seen.get(&key) {
                        if skip_invalid {
                            stats.skipped += 1;
                            continue;
                        }
                        return Err(duplicate_error(samples_path, *line, &key.0, key.1, first));
                    }
                    seen.insert(key, *line);
                    stats.truncated += usize::from(e.truncated > 0);
                    samples.push(sample);
                    encoded.push(e);
                }
                Err(_) if skip_invalid => stats.skipped += 1,
                Err(e) => return Err(e),
            }
        }
        let scores = verifier.probabilities(&encoded, &mut stats)?;
        for (mut sample, score) in samples.into_iter().zip(scores) {
            sample.score = Some(score);
            output.write_json_line(&sample)?;
            stats.samples += 1;
        }
        progress(stats.samples);
        Ok(())
    })?;
    output.commit()?;
    stats.total_time = started.elapsed();
    Ok(stats)
}
