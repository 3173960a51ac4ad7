//! The flags of the generation stage, shared by `generate` and `solve`: the sampling settings
//! every backend shares, then one group per backend, each resolving its own options. Everything
//! is checked here, before any work starts.

use std::path::PathBuf;

use clap::Args;

use super::{
    AdaptiveStop, BackendSettings, GenerateOptions, LlamaOptions, OpenAiOptions, SamplingParams,
    Template,
};
use crate::error::Error;
use crate::io::args::HttpArgs;

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
    /// llama and the verifier: CPU threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Add samples to an output file made with other generator settings instead of refusing.
    #[arg(long)]
    pub allow_settings_change: bool,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub adaptive: AdaptiveArgs,
    #[command(flatten)]
    pub llama: LlamaArgs,
    #[command(flatten)]
    pub openai: OpenAiArgs,
    #[command(flatten)]
    pub replay: ReplayArgs,
}

/// Adaptive N: --n becomes the most samples a problem gets.
#[derive(Debug, Args)]
#[command(next_help_heading = "Adaptive N")]
pub struct AdaptiveArgs {
    /// Sample each problem in rounds and stop once its answer is settled: the leading answer
    /// beats the runner-up with probability --adaptive-confidence (Adaptive-Consistency's Beta rule).
    /// The samples drawn are the same as without it, only fewer.
    #[arg(long)]
    pub adaptive: bool,
    /// Samples per problem and round.
    #[arg(long, default_value_t = 4, requires = "adaptive")]
    pub adaptive_round: u32,
    /// How sure the vote must be before a problem stops, in (0.5, 1).
    #[arg(long, default_value_t = 0.95, requires = "adaptive")]
    pub adaptive_confidence: f64,
    /// Votes from this sample field where a replayed sample has it (an answer another tool
    /// extracted, e.g. a program's output) instead of from the text, as `label --answer-field`.
    #[arg(long, value_name = "FIELD", requires = "adaptive")]
    pub vote_field: Option<String>,
}

impl AdaptiveArgs {
    fn resolve(&self) -> Result<Option<AdaptiveStop>, Error> {
        if !self.adaptive {
            return Ok(None);
        }
        at_least_one(self.adaptive_round as usize, "--adaptive-round")?;
        if !(self.adaptive_confidence > 0.5 && self.adaptive_confidence < 1.0) {
            return Err(Error::Settings(format!(
                "--adaptive-confidence {} must be in (0.5, 1): 0.5 stops at the first vote, 1 never stops",
                self.adaptive_confidence
            )));
        }
        Ok(Some(AdaptiveStop {
            round: self.adaptive_round,
            confidence: self.adaptive_confidence,
            answer_field: self.vote_field.clone(),
        }))
    }
}

/// What every backend is asked for.
#[derive(Debug, Args)]
#[command(next_help_heading = "Sampling")]
pub struct SamplingArgs {
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
}

/// `--backend llama`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Embedded llama.cpp (--backend llama)")]
pub struct LlamaArgs {
    /// Sequences decoded together: a finished one's slot takes the next sample at once (of the
    /// same problem, sharing its prompt's cache, or of the next one).
    #[arg(long, default_value_t = 16)]
    pub parallel: usize,
}

/// `--backend openai`.
#[derive(Debug, Args)]
#[command(next_help_heading = "OpenAI-compatible server (--backend openai)")]
pub struct OpenAiArgs {
    /// The server's base URL, up to /v1 (e.g. http://127.0.0.1:8000/v1). Repeat for replicas of
    /// one model: each problem's requests go to one replica (its prefix cache keeps the prompt),
    /// new problems to the least loaded one, and a failing replica's problems move to another.
    #[arg(long, env = "OPENAI_BASE_URL")]
    pub base_url: Vec<String>,
    /// Samples asked for per request (`n`); servers that return fewer are topped up.
    #[arg(long, default_value_t = 8)]
    pub n_per_request: usize,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `--backend replay`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Replay (--backend replay)")]
pub struct ReplayArgs {
    /// The samples file to take samples from.
    #[arg(long, value_name = "SAMPLES")]
    pub replay_from: Option<PathBuf>,
}

/// llama.cpp's most sequences in one context (`LLAMA_MAX_SEQ`).
const MAX_PARALLEL: usize = 256;

fn at_least_one(value: usize, flag: &str) -> Result<(), Error> {
    if value == 0 {
        return Err(Error::Settings(format!("{flag} must be at least 1")));
    }
    Ok(())
}

impl GeneratorArgs {
    /// The backend to build and the generation options, checked before any work starts.
    pub fn resolve(&self, n: u32) -> Result<(BackendSettings, GenerateOptions), Error> {
        at_least_one(n as usize, "--n")?;
        if let Some(threads) = self.threads {
            at_least_one(threads, "--threads")?;
        }
        let threads = self.threads.unwrap_or_else(crate::default_threads);
        let backend = match self.backend {
            BackendKind::Llama => self.llama.resolve(self.model.as_deref(), threads)?,
            BackendKind::Openai => self.openai.resolve(self.model.as_deref())?,
            BackendKind::Replay => self.replay.resolve()?,
        };
        let (params, template) = self.sampling.resolve()?;
        let options = GenerateOptions {
            n,
            params,
            template,
            allow_settings_change: self.allow_settings_change,
            adaptive: self.adaptive.resolve()?,
        };
        Ok((backend, options))
    }
}

impl SamplingArgs {
    fn resolve(&self) -> Result<(SamplingParams, Template), Error> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(Error::Settings(
                "--temperature must be a number >= 0".into(),
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::Settings("--top-p must be in (0, 1]".into()));
        }
        at_least_one(self.max_tokens as usize, "--max-tokens")?;
        let template = Template::load(&self.template)?;
        let mut stop = template.stop.clone();
        stop.extend(self.stop.iter().cloned());
        let params = SamplingParams {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            max_tokens: self.max_tokens,
            stop,
            seed: self.seed,
        };
        Ok((params, template))
    }
}

impl LlamaArgs {
    fn resolve(&self, model: Option<&str>, threads: usize) -> Result<BackendSettings, Error> {
        at_least_one(self.parallel, "--parallel")?;
        if self.parallel > MAX_PARALLEL {
            return Err(Error::Settings(format!(
                "--parallel {} is more than llama.cpp decodes together ({MAX_PARALLEL})",
                self.parallel
            )));
        }
        Ok(BackendSettings::Llama(LlamaOptions {
            model: match model {
                Some(path) => PathBuf::from(path),
                None => super::default_gguf()?,
            },
            parallel: self.parallel,
            threads,
            q4_1_kernel: q4_1_kernel_setting(),
        }))
    }
}

/// Set to `0` (or `off`, `false`, `no`) to leave every product to ggml's own kernels (to compare
/// the two).
const Q4_1_KERNEL_ENV: &str = "BESTOFN_LLAMA_Q4_1_GEMM";

/// Whether to offer the batched Q4_1 kernel to llama.cpp: `Err` says who turned it off.
fn q4_1_kernel_setting() -> Result<(), String> {
    match std::env::var(Q4_1_KERNEL_ENV) {
        Ok(value)
            if ["0", "off", "false", "no"]
                .contains(&value.trim().to_ascii_lowercase().as_str()) =>
        {
            Err(format!("disabled by {Q4_1_KERNEL_ENV}={value}"))
        }
        _ => Ok(()),
    }
}

impl OpenAiArgs {
    fn resolve(&self, model: Option<&str>) -> Result<BackendSettings, Error> {
        at_least_one(self.n_per_request, "--n-per-request")?;
        let http = self.http.resolve()?;
        if self.base_url.is_empty() {
            return Err(Error::Settings(
                "--backend openai needs --base-url (or OPENAI_BASE_URL)".into(),
            ));
        }
        let model = model.map(str::to_owned).ok_or_else(|| {
            Error::Settings("--backend openai needs --model (the name the server serves)".into())
        })?;
        Ok(BackendSettings::OpenAi(OpenAiOptions {
            base_urls: self.base_url.clone(),
            model,
            n_per_request: self.n_per_request,
            max_in_flight: self.http.max_in_flight,
            http,
        }))
    }
}

impl ReplayArgs {
    fn resolve(&self) -> Result<BackendSettings, Error> {
        let samples = self.replay_from.clone().ok_or_else(|| {
            Error::Settings("--backend replay needs --replay-from SAMPLES".into())
        })?;
        Ok(BackendSettings::Replay { samples })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        generator: GeneratorArgs,
    }

    fn resolve(args: &[&str]) -> Result<(BackendSettings, GenerateOptions), Error> {
        let cli = Cli::try_parse_from(std::iter::once("bestofn").chain(args.iter().copied()))
            .expect("flags parse");
        cli.generator.resolve(2)
    }

    #[test]
    fn each_backend_resolves_its_own_flags() {
        let (backend, options) = resolve(&[
            "--backend",
            "openai",
            "--base-url",
            "http://h/v1",
            "--model",
            "m",
            "--seed",
            "9",
        ])
        .unwrap();
        assert!(
            matches!(backend, BackendSettings::OpenAi(o) if o.model == "m" && o.n_per_request == 8)
        );
        assert_eq!(options.params.seed, 9);
        let (backend, _) = resolve(&["--backend", "replay", "--replay-from", "s.jsonl"]).unwrap();
        assert!(
            matches!(backend, BackendSettings::Replay { samples } if samples.as_path() == std::path::Path::new("s.jsonl"))
        );
    }

    #[test]
    fn settings_that_cannot_work_are_refused_before_any_work() {
        for (args, message) in [
            (
                vec!["--backend", "openai", "--model", "m"],
                "needs --base-url",
            ),
            (
                vec!["--backend", "openai", "--base-url", "http://h/v1"],
                "needs --model",
            ),
            (
                vec![
                    "--backend",
                    "openai",
                    "--base-url",
                    "u",
                    "--model",
                    "m",
                    "--timeout-secs",
                    "0",
                ],
                "--timeout-secs must be",
            ),
            (vec!["--backend", "replay"], "needs --replay-from"),
            (
                vec![
                    "--backend",
                    "replay",
                    "--replay-from",
                    "s",
                    "--temperature=-1",
                ],
                "--temperature",
            ),
            (
                vec!["--backend", "replay", "--replay-from", "s", "--top-p", "0"],
                "--top-p",
            ),
            (
                vec![
                    "--backend",
                    "replay",
                    "--replay-from",
                    "s",
                    "--threads",
                    "0",
                ],
                "--threads",
            ),
        ] {
            let error = resolve(&args).unwrap_err();
            assert_eq!(error.exit_code(), 64);
            assert!(error.to_string().contains(message), "{args:?}: {error}");
        }
    }
}
