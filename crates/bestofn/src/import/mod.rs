//! The `import` stage: explicit adapters to problems and flat samples, from grouped sample sets
//! (one problem per line with a list of candidates) and from saved responses tied to a problems
//! file (`responses.rs`). Formats are named, never guessed.
//!
//! Imported samples carry the source's own verdicts in the standard fields (`extracted`,
//! `correct`, and `score` where the source has one), and verbatim in `source_answer` and
//! `source_correct`, so `eval` on an import reports the source's figures and `label` reports how
//! often our grader agrees with them.

mod faithful_cot;
mod gsm8k_solutions;
mod lighteval;
mod lm_eval;
mod qwen_math;
mod responses;
mod search_and_learn;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::grade::normalize;
use crate::io::{read_table, JsonLine, TableFormat};
use crate::records::{scalar_text, Problem, Sample};
pub use responses::ResponseLink;

/// The runs of the GSM8K paper's `example_model_solutions.jsonl`.
pub const GSM8K_PAPER_RUNS: [&str; 4] = [
    "6b_finetuning",
    "6b_verification",
    "175b_finetuning",
    "175b_verification",
];

/// A grouped sample format bestofn can import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// `{id, question, gold, candidates: [{config, lm, prompt, answer, completion, is_correct}]}`.
    FaithfulCotPool,
    /// Qwen2.5-Math `math_cot_100.jsonl`: `{idx, question, gt, response[], pred[], score[], pred_score[[x]]}`.
    QwenMathRm,
    /// The GSM8K paper's `example_model_solutions.jsonl`: `{question, ground_truth, RUN: {solution,
    /// is_correct}, ...}`; the run named by `run` becomes one sample per problem (id = line index).
    Gsm8kExampleSolutions { run: String },
    /// Saved OpenAI-compatible chat responses (`choices[].message.content`), or Batch API lines.
    OpenAiChat,
    /// Saved OpenAI-compatible completions responses (`choices[].text`), or Batch API lines.
    OpenAiCompletions,
    /// vLLM `RequestOutput`s dumped as JSON (`outputs[].text`).
    VllmOutputs,
    /// A table of samples: one text per record.
    Samples,
    /// lm-evaluation-harness `--log_samples` files; `filter` names the filter whose answers and
    /// verdicts are kept (needed when the log holds several).
    LmEval { filter: Option<String> },
    /// lighteval details files (Parquet): `doc`, `model_response`, `metric`.
    Lighteval,
    /// search-and-learn output datasets: `problem`, `answer`, `completions`, `scores`, `pred`.
    SearchAndLearn,
}

/// The names of the formats, for help and errors.
const FORMAT_NAMES: &str = "faithful-cot-pool, qwen-math-rm, gsm8k-example-solutions:RUN, \
     lm-eval, lighteval, search-and-learn, openai-chat, openai-completions, vllm-outputs or samples";

impl Format {
    /// Whether records are responses tied to a problems file (`--problems`), not grouped
    /// problems with their candidates.
    pub fn reads_responses(&self) -> bool {
        matches!(
            self,
            Format::OpenAiChat | Format::OpenAiCompletions | Format::VllmOutputs | Format::Samples
        )
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "faithful-cot-pool" => Ok(Format::FaithfulCotPool),
            "qwen-math-rm" => Ok(Format::QwenMathRm),
            "openai-chat" => Ok(Format::OpenAiChat),
            "openai-completions" => Ok(Format::OpenAiCompletions),
            "vllm-outputs" => Ok(Format::VllmOutputs),
            "samples" => Ok(Format::Samples),
            "lm-eval" => Ok(Format::LmEval { filter: None }),
            "lighteval" => Ok(Format::Lighteval),
            "search-and-learn" => Ok(Format::SearchAndLearn),
            other => match other.strip_prefix("gsm8k-example-solutions:") {
                Some(run) if GSM8K_PAPER_RUNS.contains(&run) => Ok(Format::Gsm8kExampleSolutions {
                    run: run.to_owned(),
                }),
                Some(run) => Err(format!(
                    "unknown run {run:?} of gsm8k-example-solutions (expected one of {})",
                    GSM8K_PAPER_RUNS.join(", ")
                )),
                _ => Err(format!(
                    "unknown import format {other:?} (expected {FORMAT_NAMES})"
                )),
            },
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::FaithfulCotPool => "faithful-cot-pool",
            Format::QwenMathRm => "qwen-math-rm",
            Format::OpenAiChat => "openai-chat",
            Format::OpenAiCompletions => "openai-completions",
            Format::VllmOutputs => "vllm-outputs",
            Format::Samples => "samples",
            Format::LmEval { .. } => "lm-eval",
            Format::Lighteval => "lighteval",
            Format::SearchAndLearn => "search-and-learn",
            Format::Gsm8kExampleSolutions { run } => {
                return write!(f, "gsm8k-example-solutions:{run}")
            }
        })
    }
}

/// Problems and their flat samples.
#[derive(Debug, Default)]
pub struct Imported {
    pub problems: Vec<Problem>,
    pub samples: Vec<Sample>,
}

/// Reads `path` in `format` (its shape: `input_format`): a grouped file, or responses tied to
/// `link`'s problems.
pub fn import(
    path: &Path,
    format: &Format,
    input_format: TableFormat,
    link: Option<ResponseLink>,
) -> Result<Imported> {
    let _span = tracing::info_span!("import", %format, path = %path.display()).entered();
    if format.reads_responses() {
        let link = link.ok_or_else(|| {
            Error::Settings(format!(
                "--format {format} needs --problems: the responses' problems"
            ))
        })?;
        return responses::import_responses(path, format, input_format, link);
    }
    let mut lines = read_table(path, input_format, "--input-format")?;
    if let Format::LmEval { filter } = format {
        lines = lm_eval::lines_of_filter(path, lines, filter.as_deref())?;
    }
    let mut imported = Imported::default();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (index, JsonLine { line, object }) in lines.into_iter().enumerate() {
        let problems_before = imported.problems.len();
        let fields = Fields { path, line, object };
        match &format {
            Format::FaithfulCotPool => faithful_cot::import_line(fields, &mut imported)?,
            Format::QwenMathRm => qwen_math::import_line(fields, &mut imported)?,
            Format::Gsm8kExampleSolutions { run } => {
                gsm8k_solutions::import_line(fields, run, index, &mut imported)?
            }
            Format::LmEval { .. } => lm_eval::import_line(fields, &mut imported)?,
            Format::Lighteval => lighteval::import_line(fields, index, &mut imported)?,
            Format::SearchAndLearn => search_and_learn::import_line(fields, index, &mut imported)?,
            responses => unreachable!("{responses} is read by import_responses"),
        }
        for problem in &imported.problems[problems_before..] {
            if let Some(first) = first_line.insert(problem.id.clone(), line) {
                return Err(Error::input(
                    path,
                    line,
                    None,
                    format!(
                        "problem id {:?} again (first on line {first}); ids must be unique",
                        problem.id
                    ),
                ));
            }
        }
    }
    if imported.samples.is_empty() {
        return Err(Error::Inconsistent(format!(
            "{}: no line has any candidate: there is nothing to import (is this the {format} \
             format?)",
            path.display()
        )));
    }
    Ok(imported)
}

/// One grouped record, with typed access that reports file, line and field.
struct Fields<'a> {
    path: &'a Path,
    line: usize,
    object: Map<String, Value>,
}

impl Fields<'_> {
    fn error(&self, field: &str, message: impl Into<String>) -> Error {
        Error::input(self.path, self.line, Some(field), message)
    }

    fn take(&mut self, field: &str) -> Result<Value> {
        self.object
            .shift_remove(field)
            .ok_or_else(|| self.error(field, "missing"))
    }

    fn string(&mut self, field: &str) -> Result<String> {
        match self.take(field)? {
            Value::String(s) => Ok(s),
            _ => Err(self.error(field, "expected a string")),
        }
    }

    /// A string or an integer, as text.
    fn id(&mut self, field: &str) -> Result<String> {
        match self.take(field)? {
            Value::String(s) => Ok(s),
            Value::Number(n) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
            _ => Err(self.error(field, "expected a string or integer")),
        }
    }

    fn array(&mut self, field: &str) -> Result<Vec<Value>> {
        match self.take(field)? {
            Value::Array(a) => Ok(a),
            _ => Err(self.error(field, "expected an array")),
        }
    }
}

/// A flat sample carrying the source's own verdict.
fn sample_with_source_verdict(
    problem_id: &str,
    sample_idx: usize,
    text: String,
    generator: Value,
    source_answer: Option<String>,
    source_correct: Option<bool>,
    score: Option<f32>,
) -> Sample {
    let mut extra = Map::new();
    extra.insert("generator".into(), generator);
    extra.insert(
        "source_answer".into(),
        source_answer.clone().map_or(Value::Null, Value::String),
    );
    extra.insert(
        "source_correct".into(),
        source_correct.map_or(Value::Null, Value::Bool),
    );
    Sample {
        problem_id: problem_id.to_owned(),
        sample_idx: sample_idx as u32,
        text,
        extracted: source_answer
            .map(|a| normalize(&a))
            .filter(|a| !a.is_empty()),
        correct: source_correct,
        score,
        step_scores: None,
        uncalibrated_score: None,
        extra,
    }
}
