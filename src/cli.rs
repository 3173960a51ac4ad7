//! Command-line arguments, resolved into library settings before any work starts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use bestofn::grade::AnswerStyle;
use bestofn::import::Format;
use bestofn::rank::Strategy;

/// Best-of-N solving with a learned verifier.
///
/// Every stage reads and writes JSONL. Exit codes: 0 success, 2 bad arguments, 64 invalid
/// settings, 65 malformed or inconsistent input, 69 a model or library that cannot be loaded,
/// 70 a model that failed while running, 74 I/O failure, 75 generation stopped by a failing
/// server (what was generated is kept: run the same command again to resume), 1 anything else.
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
    /// Sample N solutions per problem from a model (embedded llama.cpp, an OpenAI-compatible
    /// server, or a replayed file), appending to a resumable samples file.
    Generate(GenerateArgs),
    /// generate → label (when gold answers exist) → score → rank (→ eval) in one command.
    Solve(SolveArgs),
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
    /// Compositional GSM: chain pairs of GSM8K problems (Q1's answer is X in Q2), recomputing
    /// Q2's answer by re-executing its reference solution's calculator annotations.
    Compose(ComposeArgs),
    /// Training data for the next iteration from labeled samples: SFT (correct samples) and/or
    /// DPO (correct vs incorrect pairs), in TRL's formats.
    Export(ExportArgs),
    /// Several runs side by side, with paired differences over their shared problems.
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
pub struct ComposeArgs {
    /// GSM8K problems with reference solutions (the test set's native format works as is).
    #[arg(long)]
    pub problems: PathBuf,
    /// Composed problems (the paper's prompt; gold = Q2's new answer). The Q1 set and the
    /// modified-Q2 set are written beside it: NAME.q1.jsonl, NAME.q2.jsonl.
    #[arg(long)]
    pub out: PathBuf,
    /// Most pairs to build.
    #[arg(long, default_value_t = 1200)]
    pub pairs: usize,
    /// Seed of the pairing.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Problems (the question of each record; `solution` for --original-fraction).
    #[arg(long)]
    pub problems: PathBuf,
    /// Labeled samples.
    #[arg(long)]
    pub samples: PathBuf,
    /// SFT output: correct samples, deduplicated per problem.
    #[arg(long, value_name = "FILE", required_unless_present = "dpo")]
    pub sft: Option<PathBuf>,
    /// DPO output: (correct, incorrect) pairs per problem.
    #[arg(long, value_name = "FILE")]
    pub dpo: Option<PathBuf>,
    /// messages (TRL's conversational format) or prompt-completion.
    #[arg(long, default_value = "messages")]
    pub format: bestofn::export::Format,
    /// SFT: at most this many samples per problem.
    #[arg(long, value_name = "N")]
    pub max_per_problem: Option<usize>,
    /// SFT: share of the output made of the problems' original solutions (model-collapse
    /// experiments keep e.g. 0.1 of the original data).
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    pub original_fraction: f64,
    /// DPO: at most this many pairs per problem.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub max_pairs_per_problem: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
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
    /// Also read the runs as iterations of one model (base = the first run): pass@1 vs coverage,
    /// the improvement illusion, diversity (distinct-n, equation sets) and tail retention.
    #[arg(long)]
    pub iterations: bool,
    /// With --iterations: also the mean pairwise similarity of sample embeddings, with this
    /// embedder directory (`python -m bestofn_verifier embedder --out DIR`).
    #[arg(long, value_name = "DIR", requires = "iterations")]
    pub embedder: Option<PathBuf>,
    /// With --embedder: embed the samples of at most this many problems per run.
    #[arg(long, value_name = "N", requires = "embedder")]
    pub embed_max_problems: Option<usize>,
    /// With --iterations: k of coverage and of the illusion (default: the smallest N).
    #[arg(long, requires = "iterations")]
    pub k: Option<usize>,
    /// ONNX Runtime shared library for the embedder; else ORT_DYLIB_PATH, else the project's .venv.
    #[arg(long, env = "BESTOFN_ORT_LIB")]
    pub ort_lib: Option<PathBuf>,
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
    /// Compositional GSM: the composed problems (from `bestofn compose`); --samples are the
    /// labeled samples on them. Adds the reasoning gap Δ = S_comp − S1·S2 to the report.
    #[arg(long, value_name = "COMPOSED", requires_all = ["q1_samples", "q2_samples"])]
    pub reasoning_gap: Option<PathBuf>,
    /// With --reasoning-gap: labeled samples on the Q1 set.
    #[arg(long, value_name = "FILE")]
    pub q1_samples: Option<PathBuf>,
    /// With --reasoning-gap: labeled samples on the modified-Q2 set.
    #[arg(long, value_name = "FILE")]
    pub q2_samples: Option<PathBuf>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// llama.cpp embedded in bestofn (any GGUF file).
    Llama,
    /// An OpenAI-compatible server (vLLM, SGLang, llama.cpp server, Ollama, TGI, OpenAI).
    Openai,
    /// Samples from an existing samples file (--replay-from).
    Replay,
}

/// How samples are made: shared by `generate` and `solve`.
#[derive(Debug, Args)]
pub struct GeneratorArgs {
    #[arg(long, value_enum, default_value = "llama")]
    pub backend: BackendKind,
    /// llama: GGUF file (default: the bundled SmolLM2-135M-Instruct, found in .venv-llama or
    /// $BESTOFN_GGUF); openai: the model name the server knows.
    #[arg(long)]
    pub model: Option<String>,
    /// Prompt template: gsm8k (few-shot, `#### N`), math (few-shot, \boxed{}), chat, or a file.
    #[arg(long, default_value = "chat")]
    pub template: String,
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f64,
    /// Sample only among the k most likely tokens (0: no cut). 40 is llama.cpp's own default;
    /// OpenAI's API has no top_k: use 0 there.
    #[arg(long, default_value_t = 40)]
    pub top_k: u32,
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f64,
    /// Most tokens per sample.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: u32,
    /// A stop string besides the template's own. Repeat for several.
    #[arg(long = "stop", value_name = "TEXT")]
    pub stop: Vec<String>,
    /// Base seed; each sample's seed is derived from it, its problem id and its index.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// llama: sequences decoded together, sharing the prompt.
    #[arg(long, default_value_t = 16)]
    pub parallel: usize,
    /// llama and the verifier: CPU threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// openai: the server's base URL, up to /v1 (e.g. http://127.0.0.1:8000/v1).
    #[arg(long, env = "OPENAI_BASE_URL")]
    pub base_url: Option<String>,
    /// openai: the environment variable that holds the API key (never logged).
    #[arg(long, default_value = "OPENAI_API_KEY", value_name = "VAR")]
    pub api_key_env: String,
    /// openai: samples asked for per request (`n`); servers that return fewer are topped up.
    #[arg(long, default_value_t = 8)]
    pub n_per_request: usize,
    /// openai: requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub max_in_flight: usize,
    /// openai: retries of a request that failed with 429, 5xx, a timeout or a dropped connection.
    #[arg(long, default_value_t = 6)]
    pub max_retries: u32,
    /// openai: first retry delay in milliseconds, doubled on each retry (Retry-After wins).
    #[arg(long, default_value_t = 500)]
    pub retry_base_ms: u64,
    /// openai: seconds before a request counts as timed out.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
    /// replay: the samples file to take samples from.
    #[arg(long, value_name = "SAMPLES")]
    pub replay_from: Option<PathBuf>,
    /// Add samples to an output file made with other generator settings instead of refusing.
    #[arg(long)]
    pub allow_settings_change: bool,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Problems: bestofn JSONL, GSM8K or MATH native format.
    #[arg(long)]
    pub problems: PathBuf,
    /// Samples per problem.
    #[arg(long)]
    pub n: u32,
    /// Samples output, appended to: re-running the same command generates only what is missing.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub generator: GeneratorArgs,
}

#[derive(Debug, Args)]
pub struct SolveArgs {
    /// Problems: bestofn JSONL, GSM8K or MATH native format (default: data/easy-arithmetic.jsonl).
    #[arg(long)]
    pub problems: Option<PathBuf>,
    /// Samples per problem.
    #[arg(long, default_value_t = 8)]
    pub n: u32,
    /// Verifier directory (default: $BESTOFN_VERIFIER, else out/experiment/verifier, the one
    /// scripts/demo.sh trains).
    #[arg(long)]
    pub verifier: Option<PathBuf>,
    /// Answers output; the samples, scored samples and report go beside it
    /// (NAME.samples.jsonl, NAME.scored.jsonl, NAME.report/).
    #[arg(long, default_value = "out/solve/answers.jsonl")]
    pub out: PathBuf,
    /// Ranking strategies; the answers file holds one answer per problem and strategy.
    #[arg(
        long,
        default_value = "verifier,weighted,majority,first",
        value_delimiter = ','
    )]
    pub strategy: Vec<Strategy>,
    /// ONNX Runtime shared library (libonnxruntime.so); else ORT_DYLIB_PATH, else the project's .venv.
    #[arg(long, env = "BESTOFN_ORT_LIB")]
    pub ort_lib: Option<PathBuf>,
    #[command(flatten)]
    pub generator: GeneratorArgs,
}

impl GeneratorArgs {
    /// The backend to build and the generation options, checked before any work starts.
    pub fn resolve(
        &self,
        n: u32,
    ) -> Result<
        (
            bestofn::generate::BackendSettings,
            bestofn::generate::GenerateOptions,
        ),
        bestofn::Error,
    > {
        use bestofn::generate::{
            BackendSettings, GenerateOptions, LlamaOptions, OpenAiOptions, SamplingParams, Template,
        };
        use bestofn::Error;
        if n == 0 {
            return Err(Error::Settings("--n must be at least 1".into()));
        }
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(Error::Settings(
                "--temperature must be a number >= 0".into(),
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::Settings("--top-p must be in (0, 1]".into()));
        }
        if self.max_tokens == 0 {
            return Err(Error::Settings("--max-tokens must be at least 1".into()));
        }
        let template = Template::load(&self.template)?;
        let mut stop = template.stop.clone();
        stop.extend(self.stop.iter().cloned());
        let threads = self.threads.unwrap_or_else(bestofn::default_threads);
        let backend = match self.backend {
            BackendKind::Llama => BackendSettings::Llama(LlamaOptions {
                model: match &self.model {
                    Some(path) => PathBuf::from(path),
                    None => bestofn::generate::default_gguf()?,
                },
                parallel: self.parallel,
                threads,
            }),
            BackendKind::Openai => {
                let base_url = self.base_url.clone().ok_or_else(|| {
                    Error::Settings("--backend openai needs --base-url (or OPENAI_BASE_URL)".into())
                })?;
                let model = self.model.clone().ok_or_else(|| {
                    Error::Settings(
                        "--backend openai needs --model (the name the server serves)".into(),
                    )
                })?;
                BackendSettings::OpenAi(OpenAiOptions {
                    base_url,
                    model,
                    api_key: std::env::var(&self.api_key_env)
                        .ok()
                        .filter(|k| !k.is_empty()),
                    n_per_request: self.n_per_request,
                    max_in_flight: self.max_in_flight,
                    max_retries: self.max_retries,
                    timeout: std::time::Duration::from_secs(self.timeout_secs.max(1)),
                    retry_base: std::time::Duration::from_millis(self.retry_base_ms),
                })
            }
            BackendKind::Replay => BackendSettings::Replay {
                samples: self.replay_from.clone().ok_or_else(|| {
                    Error::Settings("--backend replay needs --replay-from SAMPLES".into())
                })?,
            },
        };
        let options = GenerateOptions {
            n,
            params: SamplingParams {
                temperature: self.temperature,
                top_k: self.top_k,
                top_p: self.top_p,
                max_tokens: self.max_tokens,
                stop,
                seed: self.seed,
            },
            template,
            allow_settings_change: self.allow_settings_change,
        };
        Ok((backend, options))
    }
}
