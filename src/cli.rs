//! Command-line arguments, resolved into library settings before any work starts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use bestofn::grade::AnswerStyle;
use bestofn::import::Format;
use bestofn::rank::Strategy;

/// Best-of-N solving with a learned verifier.
///
/// Every stage reads and writes JSONL. Exit codes: 0 success, 2 bad arguments, 64 invalid
/// settings, 65 malformed or inconsistent input, 74 I/O failure, 1 anything else.
#[derive(Debug, Parser)]
#[command(name = "bestofn", version, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert a grouped sample set (one problem per line with its candidates) to problems and
    /// flat samples.
    Import(ImportArgs),
    /// Grade samples against gold answers: fill `extracted` and `correct`.
    Label(LabelArgs),
    /// Fill every sample's `score` with the verifier's probability that it is correct.
    Score(ScoreArgs),
    /// Pick one answer per problem.
    Rank(RankArgs),
    /// Accuracy vs number of samples per strategy, calibration, and a report directory.
    Eval(EvalArgs),
    /// Several runs side by side, with paired differences over their shared problems.
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// A run as NAME=SAMPLES (labeled samples; a pool per problem or one chosen solution). Repeat.
    #[arg(long = "run", required = true, value_name = "NAME=SAMPLES")]
    pub runs: Vec<String>,
    /// Report directory: compare.json, compare.md.
    #[arg(long)]
    pub out: PathBuf,
    /// Random k-subsets per problem for majority@k.
    #[arg(long, default_value_t = 100)]
    pub trials: usize,
    /// Bootstrap resamples of the problems (0 = none).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl CompareArgs {
    /// (name, path) of each run; a run without `NAME=` is named after its file.
    pub fn resolved_runs(&self) -> Vec<(String, PathBuf)> {
        self.runs
            .iter()
            .map(|run| match run.split_once('=') {
                Some((name, path)) if !name.is_empty() => (name.to_owned(), PathBuf::from(path)),
                _ => {
                    let path = PathBuf::from(run);
                    let name = path
                        .file_stem()
                        .map_or_else(|| run.clone(), |s| s.to_string_lossy().into_owned());
                    (name, path)
                }
            })
            .collect()
    }
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Source format: faithful-cot-pool, qwen-math-rm, or gsm8k-example-solutions:RUN (RUN: 6b_finetuning, 6b_verification, 175b_finetuning, 175b_verification).
    #[arg(long)]
    pub format: Format,
    /// Grouped input file (`.gz` is decompressed).
    #[arg(long)]
    pub input: PathBuf,
    /// Flat samples output (JSONL).
    #[arg(long)]
    pub out: PathBuf,
    /// Problems output (JSONL), with gold answers.
    #[arg(long)]
    pub problems_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LabelArgs {
    /// Problems with gold answers: bestofn JSONL, GSM8K or MATH native format.
    #[arg(long)]
    pub problems: PathBuf,
    /// Samples to grade (JSONL, `.gz` accepted).
    #[arg(long)]
    pub samples: PathBuf,
    /// Labeled samples output.
    #[arg(long)]
    pub out: PathBuf,
    /// Answer style for every problem (gsm8k or math) instead of each problem's own.
    #[arg(long)]
    pub style: Option<AnswerStyle>,
    /// Grade this sample field (an answer another tool extracted) instead of the text, where set.
    #[arg(long, value_name = "FIELD")]
    pub answer_field: Option<String>,
    /// Count and skip malformed sample lines instead of failing.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Also write the summary as JSON.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Write verifier training examples (question, solution, label, problem id) to this JSONL file.
    #[arg(long, value_name = "FILE")]
    pub export_verifier_data: Option<PathBuf>,
    /// With --export-verifier-data: as many correct as incorrect examples per problem.
    #[arg(long, requires = "export_verifier_data")]
    pub balance: bool,
    /// With --export-verifier-data: at most N examples per problem.
    #[arg(long, value_name = "N", requires = "export_verifier_data")]
    pub max_per_problem: Option<usize>,
    /// With --export-verifier-data: drop repeated solution texts within a problem.
    #[arg(long, requires = "export_verifier_data")]
    pub dedup: bool,
    /// Seed of the per-problem example selection.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Verifier directory: model.onnx, tokenizer.json, verifier.json.
    #[arg(long)]
    pub verifier: PathBuf,
    /// Problems the samples answer (the verifier reads each sample's question).
    #[arg(long)]
    pub problems: PathBuf,
    /// Samples to score (JSONL, `.gz` accepted).
    #[arg(long)]
    pub samples: PathBuf,
    /// Scored samples output.
    #[arg(long)]
    pub out: PathBuf,
    /// ONNX Runtime threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Most tokens (rows × padded length) per batch.
    #[arg(long, default_value_t = 8192)]
    pub token_budget: usize,
    /// Most samples per batch.
    #[arg(long, default_value_t = 128)]
    pub max_batch: usize,
    /// Inputs longer than the verifier's max_length: truncate or error (default: verifier.json).
    #[arg(long, value_parser = ["truncate", "error"])]
    pub too_long: Option<String>,
    /// ONNX Runtime shared library (libonnxruntime.so); else ORT_DYLIB_PATH, else the project's .venv.
    #[arg(long, env = "BESTOFN_ORT_LIB")]
    pub ort_lib: Option<PathBuf>,
    /// Run on the GPU with ONNX Runtime's CUDA execution provider (build with --features cuda).
    #[arg(long)]
    pub cuda: bool,
    /// Count and skip malformed sample lines instead of failing.
    #[arg(long)]
    pub skip_invalid: bool,
}

impl ScoreArgs {
    pub fn options(&self) -> Result<bestofn::score::ScoreOptions, bestofn::Error> {
        let defaults = bestofn::score::ScoreOptions::default();
        if self.threads == Some(0) {
            return Err(bestofn::Error::Settings(
                "--threads must be at least 1".into(),
            ));
        }
        Ok(bestofn::score::ScoreOptions {
            ort_library: self.ort_lib.clone(),
            threads: self.threads.unwrap_or(defaults.threads),
            device: if self.cuda {
                bestofn::score::Device::Cuda
            } else {
                bestofn::score::Device::Cpu
            },
            token_budget: self.token_budget,
            max_batch: self.max_batch,
            too_long: self.too_long.as_deref().map(|t| match t {
                "error" => bestofn::score::TooLong::Error,
                _ => bestofn::score::TooLong::Truncate,
            }),
        })
    }
}

#[derive(Debug, Args)]
pub struct RankArgs {
    /// Labeled and/or scored samples.
    #[arg(long)]
    pub samples: PathBuf,
    /// first, majority, verifier, weighted or topk-vote; several comma-separated write one answer
    /// per problem and strategy into the same file.
    #[arg(long, default_value = "majority", value_delimiter = ',')]
    pub strategy: Vec<Strategy>,
    /// For topk-vote: how many of the best-scored samples vote.
    #[arg(long, value_name = "K")]
    pub k: Option<usize>,
    /// Answers output (JSONL, one per problem).
    #[arg(long)]
    pub out: PathBuf,
    /// Count and skip malformed sample lines instead of failing.
    #[arg(long)]
    pub skip_invalid: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Labeled samples (scores optional: verifier and weighted need them).
    #[arg(long)]
    pub samples: PathBuf,
    /// Sample budgets, comma-separated; default: 1, 2, 4, ... up to N, and N.
    #[arg(long, value_delimiter = ',')]
    pub ks: Option<Vec<usize>>,
    /// Random k-subsets per problem for majority@k and weighted@k.
    #[arg(long, default_value_t = 100)]
    pub trials: usize,
    /// Bootstrap resamples of the problems for confidence intervals (0 = none).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Report directory: metrics.json, report.md, SVG plots.
    #[arg(long)]
    pub out: PathBuf,
    /// Count and skip malformed sample lines instead of failing.
    #[arg(long)]
    pub skip_invalid: bool,
}

impl RankArgs {
    /// The strategies with `--k` applied to topk-vote.
    pub fn resolved_strategies(&self) -> Result<Vec<Strategy>, bestofn::Error> {
        let has_topk = self
            .strategy
            .iter()
            .any(|s| matches!(s, Strategy::TopkVote { .. }));
        match self.k {
            Some(0) => Err(bestofn::Error::Settings("--k must be at least 1".into())),
            Some(_) if !has_topk => Err(bestofn::Error::Settings(
                "--k only applies to topk-vote".into(),
            )),
            k => Ok(self
                .strategy
                .iter()
                .map(|&s| match (s, k) {
                    (Strategy::TopkVote { .. }, Some(k)) => Strategy::TopkVote { k },
                    (s, _) => s,
                })
                .collect()),
        }
    }
}

impl EvalArgs {
    pub fn options(&self) -> Result<bestofn::eval::EvalOptions, bestofn::Error> {
        if !(0.0 < self.confidence && self.confidence < 1.0) {
            return Err(bestofn::Error::Settings(
                "--confidence must be in (0, 1)".into(),
            ));
        }
        if self.trials == 0 {
            return Err(bestofn::Error::Settings(
                "--trials must be at least 1".into(),
            ));
        }
        Ok(bestofn::eval::EvalOptions {
            ks: self.ks.clone(),
            trials: self.trials,
            bootstrap: self.bootstrap,
            confidence: self.confidence,
            seed: self.seed,
        })
    }
}
