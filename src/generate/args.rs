//! The flags of the generation stage, shared by `generate` and `solve`, resolved into
//! [`BackendSettings`] and [`GenerateOptions`] before any work starts.

use std::path::PathBuf;

use clap::Args;

use super::{BackendSettings, GenerateOptions};
use crate::error::Error;

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

impl GeneratorArgs {
    /// The backend to build and the generation options, checked before any work starts.
    pub fn resolve(&self, n: u32) -> Result<(BackendSettings, GenerateOptions), Error> {
        use super::{LlamaOptions, OpenAiOptions, SamplingParams, Template};
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
        if self.threads == Some(0)
            || self.parallel == 0
            || self.n_per_request == 0
            || self.max_in_flight == 0
        {
            return Err(Error::Settings(
                "--threads, --parallel, --n-per-request and --max-in-flight must be at least 1"
                    .into(),
            ));
        }
        if self.timeout_secs == 0 {
            return Err(Error::Settings("--timeout-secs must be at least 1".into()));
        }
        let threads = self.threads.unwrap_or_else(crate::default_threads);
        let backend = match self.backend {
            BackendKind::Llama => BackendSettings::Llama(LlamaOptions {
                model: match &self.model {
                    Some(path) => PathBuf::from(path),
                    None => super::default_gguf()?,
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
                    timeout: std::time::Duration::from_secs(self.timeout_secs),
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
