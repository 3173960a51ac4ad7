//! The in-process scorer: a verifier directory (`model.onnx`, `tokenizer.json`,
//! `verifier.json`) run by ONNX Runtime. It owns its tokenizer, its batching and its session:
//! pairs are tokenized in parallel, sorted by length and cut into batches under a token budget
//! (so padding stays small), and the scores come back in input order.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::remote::{Judged, Served};
use super::scorer::{Pair, PairScore, ScoreStats, Scorer};
use super::session::{find_library, Device, Inputs, OnnxModel};
use super::spec::{InputTemplate, OutputKind, Per, PlattScaling, Side, TooLong, VerifierSpec};
use crate::error::{Error, Result};

/// Where and how the in-process verifier runs.
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

/// The spec and the tokenizer configured from it: turns pairs into model inputs.
pub struct Encoder {
    pub spec: VerifierSpec,
    /// A step-level verifier's step tag, as one token.
    step_tag: Option<u32>,
    pub(super) tokenizer: Tokenizer,
    /// For a pair whose question alone exceeds max_length, where cutting only the solution
    /// cannot fit it: truncates the longer of the two first.
    fallback: Tokenizer,
    /// Without truncation: how long an input at the limit really is (tokenizers 0.23 stops
    /// tokenizing a text at the limit, so the overflow it reports undercounts, or is empty).
    pub(super) untruncated: Tokenizer,
    /// Bytes of a question or solution past which it is cut before tokenizing, on the side
    /// truncation drops: `max_length` tokens of the longest token in the vocabulary, twice over,
    /// so what the model reads is unchanged while a 50 MB text costs no more than this.
    max_text_bytes: usize,
}

/// The least [`Encoder::max_text_bytes`].
const MIN_TEXT_BYTES: usize = 64 << 10;

/// One tokenized (question, solution) pair.
#[derive(Debug, Clone)]
pub struct Encoded {
    ids: Vec<u32>,
    type_ids: Vec<u32>,
    /// Tokens cut by truncation.
    truncated: usize,
}

impl Encoder {
    pub fn load(directory: &Path, spec: VerifierSpec) -> Result<Self> {
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
        let mut untruncated = fallback.clone();
        untruncated
            .with_truncation(None)
            .map_err(|e| Error::ModelLoad(format!("{}: {e}", path.display())))?;
        let step_tag = match (&spec.output.per, &spec.steps) {
            (Per::Step, Some(steps)) => {
                Some(single_token(&tokenizer, &steps.tag).map_err(|why| {
                    Error::ModelLoad(format!("{}: steps.tag {why}", path.display()))
                })?)
            }
            _ => None,
        };
        let longest_token = tokenizer
            .get_vocab(true)
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(1);
        Ok(Encoder {
            max_text_bytes: (spec.max_length * longest_token.max(16) * 2).max(MIN_TEXT_BYTES),
            spec,
            step_tag,
            tokenizer,
            fallback,
            untruncated,
        })
    }

    /// `text` cut to [`Encoder::max_text_bytes`] on the side truncation drops (at a character
    /// boundary), and whether it was cut.
    fn cut<'a>(&self, text: &'a str) -> (&'a str, bool) {
        if text.len() <= self.max_text_bytes {
            return (text, false);
        }
        let kept = match self.spec.truncation_side {
            Side::Right => {
                let mut end = self.max_text_bytes;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                &text[..end]
            }
            Side::Left => {
                let mut start = text.len() - self.max_text_bytes;
                while !text.is_char_boundary(start) {
                    start += 1;
                }
                &text[start..]
            }
        };
        (kept, true)
    }

    /// Tokenizes one pair as the model sees it (a huge text cut first: see `cut`).
    pub fn encode(&self, question: &str, solution: &str) -> Result<Encoded> {
        let ((question, cut_question), (solution, cut_solution)) =
            (self.cut(question), self.cut(solution));
        let encoding = self
            .tokenizer
            .encode_fast(self.spec.input(question, solution), true)
            .or_else(|_| {
                self.fallback
                    .encode_fast(self.spec.input(question, solution), true)
            })
            .map_err(|e| Error::ModelRun(format!("tokenizing: {e}")))?;
        // Only an input at the limit can have been cut; its overflow as reported undercounts.
        let truncated = if encoding.len() >= self.spec.max_length {
            let full = self
                .untruncated
                .encode_fast(self.spec.input(question, solution), true)
                .map_err(|e| Error::ModelRun(format!("tokenizing: {e}")))?;
            // A text cut before tokenizing lost more tokens than this counts: at least one.
            full.len()
                .saturating_sub(encoding.len())
                .max(usize::from(cut_question || cut_solution))
        } else {
            0
        };
        Ok(Encoded {
            ids: encoding.get_ids().to_vec(),
            type_ids: encoding.get_type_ids().to_vec(),
            truncated,
        })
    }
}

/// The id of `tag`, which the tokenizer must read as exactly that one token.
fn single_token(tokenizer: &Tokenizer, tag: &str) -> std::result::Result<u32, String> {
    let encoding = tokenizer
        .encode_fast(tag, false)
        .map_err(|e| format!("{tag:?} does not tokenize: {e}"))?;
    match encoding.get_ids() {
        [id] => Ok(*id),
        ids => Err(format!(
            "{tag:?} is {} tokens for this tokenizer; a step tag must be one token (a special \
             token such as [MASK], or one the model was trained with)",
            ids.len()
        )),
    }
}

/// A verifier directory loaded into ONNX Runtime.
pub struct OnnxScorer {
    id: String,
    encoder: Encoder,
    model: OnnxModel,
    too_long: TooLong,
    token_budget: usize,
    max_batch: usize,
    calibration: Option<PlattScaling>,
}

impl OnnxScorer {
    pub fn load(directory: &Path, options: &ScoreOptions) -> Result<Self> {
        let _span = tracing::info_span!("load_verifier", dir = %directory.display()).entered();
        let spec = VerifierSpec::load(directory)?;
        if options.token_budget < spec.max_length || options.max_batch == 0 {
            return Err(Error::Settings(format!(
                "the token budget ({}) must hold at least one input of max_length {}, and a batch at least one row",
                options.token_budget, spec.max_length
            )));
        }
        let library = find_library(options.ort_library.as_deref())?;
        let model = OnnxModel::load(
            &directory.join("model.onnx"),
            &library,
            options.threads,
            options.device,
            &spec.onnx_inputs,
            &spec.output.name,
        )?;
        let calibration = spec.calibration.filter(|_| options.calibrate);
        // The directory with what is in it: a verifier exported again there is another one.
        let contents = std::fs::read_to_string(directory.join("verifier.json")).unwrap_or_default();
        let uncalibrated = if spec.calibration.is_some() && !options.calibrate {
            " uncalibrated"
        } else {
            ""
        };
        Ok(OnnxScorer {
            id: format!(
                "{} {}{uncalibrated}",
                directory.display(),
                super::fingerprint(&contents, "")
            ),
            calibration,
            too_long: options.too_long.unwrap_or(spec.too_long),
            encoder: Encoder::load(directory, spec)?,
            model,
            token_budget: options.token_budget,
            max_batch: options.max_batch,
        })
    }

    /// Runs the model over the encoded pairs; what it says of each, in input order.
    fn outputs(&mut self, encoded: &[Encoded], stats: &mut ScoreStats) -> Result<Vec<PairOutput>> {
        let lengths: Vec<usize> = encoded.iter().map(|e| e.ids.len()).collect();
        let mut judged = vec![PairOutput::Err(String::new()); encoded.len()];
        for rows in plan_batches(&lengths, self.token_budget, self.max_batch) {
            let rows = &rows[..];
            let inputs = self.pad(rows.iter().map(|&i| &encoded[i]));
            let columns = inputs.columns;
            stats.batches += 1;
            stats.tokens += rows.iter().map(|&i| encoded[i].ids.len()).sum::<usize>();
            stats.padded_tokens += inputs.rows * inputs.columns;
            let started = Instant::now();
            let (shape, output) = self.model.run_raw(inputs)?;
            stats.model_time += started.elapsed();
            let kind = self.encoder.spec.output.kind;
            match self.encoder.step_tag {
                None => {
                    let width = output.len() / rows.len();
                    if shape.len() != 2 || width != 1 {
                        return Err(Error::ModelRun(format!(
                            "the verifier's output has shape {shape:?} for {} inputs; a \
                             solution-level verifier gives one value per input",
                            rows.len()
                        )));
                    }
                    for (&i, &value) in rows.iter().zip(&output) {
                        judged[i] = PairOutput::Ok(Judged::Solution(served(kind, &[value])?));
                    }
                }
                Some(tag) => {
                    let labels = token_labels(&shape, rows.len(), columns)?;
                    for (r, &i) in rows.iter().enumerate() {
                        let row = &output[r * columns * labels..(r + 1) * columns * labels];
                        judged[i] = steps_of(&encoded[i].ids, tag, row, labels, kind)?;
                    }
                }
            }
        }
        Ok(judged)
    }

    fn pad<'a>(&self, rows: impl ExactSizeIterator<Item = &'a Encoded> + Clone) -> Inputs {
        let count = rows.len();
        let columns = rows.clone().map(|e| e.ids.len()).max().unwrap_or(0);
        let mut input_ids = vec![self.encoder.spec.pad_token_id; count * columns];
        let mut attention_mask = vec![0; count * columns];
        let mut token_type_ids = vec![0; count * columns];
        for (r, e) in rows.enumerate() {
            let base = r * columns;
            for (c, (&id, &ty)) in e.ids.iter().zip(&e.type_ids).enumerate() {
                input_ids[base + c] = i64::from(id);
                attention_mask[base + c] = 1;
                token_type_ids[base + c] = i64::from(ty);
            }
        }
        Inputs {
            rows: count,
            columns,
            tensors: vec![
                ("input_ids", input_ids),
                ("attention_mask", attention_mask),
                ("token_type_ids", token_type_ids),
            ],
        }
    }
}

/// What the model said of one pair, or why it could not say it.
type PairOutput = std::result::Result<Judged, String>;

fn served(kind: OutputKind, values: &[f32]) -> Result<Served> {
    let values: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
    Served::from_labels(kind, &values).map_err(Error::ModelRun)
}

/// Labels per token of a step-level output (`[rows, columns]` or `[rows, columns, labels]`).
fn token_labels(shape: &[usize], rows: usize, columns: usize) -> Result<usize> {
    match shape {
        [r, c] if *r == rows && *c == columns => Ok(1),
        [r, c, labels] if *r == rows && *c == columns && *labels > 0 => Ok(*labels),
        _ => Err(Error::ModelRun(format!(
            "the verifier's output has shape {shape:?} for a batch of {rows} × {columns} tokens; \
             a step-level verifier gives [batch, tokens, labels]"
        ))),
    }
}

/// The step scores of one row: the model's output at every step tag the input kept.
fn steps_of(
    ids: &[u32],
    tag: u32,
    row: &[f32],
    labels: usize,
    kind: OutputKind,
) -> Result<PairOutput> {
    let steps = ids
        .iter()
        .enumerate()
        .filter(|&(_, &id)| id == tag)
        .map(|(position, _)| served(kind, &row[position * labels..(position + 1) * labels]))
        .collect::<Result<Vec<Served>>>()?;
    Ok(if steps.is_empty() {
        Err("truncation cut every step tag: the verifier has no step to score (raise max_length, or \
             keep the solution's end with truncation_side \"left\")"
            .into())
    } else {
        Ok(Judged::Steps(steps))
    })
}

/// Batches of input positions: sorted by length (so padding stays small), each holding at most
/// `max_batch` rows and `token_budget` padded tokens (a single longer input is a batch alone).
pub fn plan_batches(lengths: &[usize], token_budget: usize, max_batch: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    let mut batches = Vec::new();
    let mut start = 0;
    while start < order.len() {
        // Sorted by length, the last row of a batch is its longest.
        let mut end = start + 1;
        while end < order.len()
            && end - start < max_batch
            && (end - start + 1) * lengths[order[end]] <= token_budget
        {
            end += 1;
        }
        batches.push(order[start..end].to_vec());
        start = end;
    }
    batches
}

impl Scorer for OnnxScorer {
    fn id(&self) -> &str {
        &self.id
    }

    fn score(&mut self, pairs: &[Pair<'_>], stats: &mut ScoreStats) -> Result<Vec<PairScore>> {
        let encoder = &self.encoder;
        let encoded: Vec<Encoded> = pairs
            .par_iter()
            .map(|pair| encoder.encode(pair.question, pair.solution))
            .collect::<Result<_>>()?;
        let max_length = encoder.spec.max_length;
        // Too long under `too_long = "error"`: refused, with the reason; the rest run.
        let refusals: Vec<Option<String>> = encoded
            .iter()
            .map(|e| {
                (e.truncated > 0 && self.too_long == TooLong::Error).then(|| format!(
                    "question and solution are {} tokens, over the verifier's max_length {max_length} (too_long = \"error\"; use --too-long truncate to cut)",
                    e.ids.len() + e.truncated
                ))
            })
            .collect();
        let runs: Vec<Encoded> = encoded
            .into_iter()
            .zip(&refusals)
            .filter(|(_, refusal)| refusal.is_none())
            .map(|(e, _)| e)
            .collect();
        stats.truncated += runs.iter().filter(|e| e.truncated > 0).count();
        let mut lengths = runs.iter().map(|e| e.ids.len() as u64);
        let mut outputs = self.outputs(&runs, stats)?.into_iter();
        let calibration = self.calibration.as_ref();
        Ok(refusals
            .into_iter()
            .map(|refusal| match refusal {
                Some(why) => Err(why),
                None => outputs
                    .next()
                    .expect("one output per pair run")
                    .map(|judged| judged.scored(calibration).with_tokens(lengths.next())),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_the_token_budget_and_the_row_limit() {
        let lengths = [5, 40, 6, 7, 41, 100, 5];
        let batches = plan_batches(&lengths, 90, 3);
        // Every input once, shortest first.
        let mut all: Vec<usize> = batches.iter().flatten().copied().collect();
        assert_eq!(all.first(), Some(&0));
        all.sort_unstable();
        assert_eq!(all, (0..lengths.len()).collect::<Vec<_>>());
        for batch in &batches {
            let longest = batch.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(batch.len() <= 3);
            assert!(batch.len() == 1 || batch.len() * longest <= 90, "{batch:?}");
        }
        assert_eq!(batches, vec![vec![0, 6, 2], vec![3, 1], vec![4], vec![5]]);
    }

    /// The fixture verifier's tokenizer with its spec given another input (no ONNX Runtime needed).
    fn fixture_encoder(input: InputTemplate) -> Encoder {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/verifier-tiny");
        let mut spec = VerifierSpec::load(&dir).unwrap();
        spec.input = input;
        Encoder::load(&dir, spec).unwrap()
    }

    #[test]
    fn a_huge_text_is_cut_before_tokenizing_without_changing_what_the_model_reads() {
        for side in [Side::Left, Side::Right] {
            for input in [
                InputTemplate::Pair,
                InputTemplate::Template {
                    template: "Q: {question} A: {solution}".into(),
                },
            ] {
                let mut encoder = fixture_encoder(input.clone());
                encoder.spec.truncation_side = side;
                let encoder = Encoder::load(
                    &Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("../../tests/fixtures/verifier-tiny"),
                    encoder.spec.clone(),
                )
                .unwrap();
                let huge: String = (0..encoder.max_text_bytes / 3)
                    .map(|i| format!("{} é ", i % 97))
                    .collect();
                assert!(huge.len() > encoder.max_text_bytes);
                let cut = encoder.encode("what is 7 + 8?", &huge).unwrap();
                let whole = encoder
                    .tokenizer
                    .encode_fast(encoder.spec.input("what is 7 + 8?", &huge), true)
                    .unwrap();
                assert_eq!(cut.ids, whole.get_ids(), "{side:?} {input:?}");
                assert!(cut.truncated > 0);
            }
        }
    }

    #[test]
    fn truncation_is_seen_for_pairs_and_single_texts() {
        let long = "seven plus eight is fifteen. ".repeat(40);
        for input in [
            InputTemplate::Pair,
            InputTemplate::Template {
                template: "Q: {question} A: {solution}".into(),
            },
        ] {
            let encoder = fixture_encoder(input.clone());
            let cut = encoder.encode("what is 7 + 8?", &long).unwrap();
            assert_eq!(cut.ids.len(), 64, "{input:?}");
            assert!(cut.truncated > 100, "{input:?}: {} cut", cut.truncated);
            let short = encoder.encode("what is 7 + 8?", "15").unwrap();
            assert_eq!(short.truncated, 0, "{input:?}");
        }
    }
}
